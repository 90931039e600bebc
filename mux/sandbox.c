/* SPDX-License-Identifier: MIT */
/*
 * The worker's sandbox (mux/sandbox.h). The seccomp filter is a plain
 * classic-BPF program (no library): check the architecture the filter was
 * written for, load the system call number, compare it with each allowed
 * one, allow on a match and kill the process otherwise.
 *
 * The list is what the worker's loop really uses: epoll, timerfd and
 * signalfd, sockets (the tunnel accepts TLS connections; a unix: or tcp:
 * controller reconnects; DTLS peers get their own connected sockets),
 * memory, time and randomness for GnuTLS, and openat for the passwd
 * lookups of local peers (SO_PEERCRED uid -> name) and the simulated
 * controller's scenario. Absent, among others: execve, ptrace, mount, setuid
 * and friends, kexec, bpf, module loading, process_vm_*, keyctl, clone
 * and fork (the worker never starts a process).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#if defined(__x86_64__)
#define SB_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define SB_ARCH AUDIT_ARCH_I386
#elif defined(__arm__)
#define SB_ARCH AUDIT_ARCH_ARM
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif
#endif

static const int allowed[] = {
	/* I/O and the loop */
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_lseek,
	SYS_recvfrom, SYS_sendto, SYS_recvmsg, SYS_sendmsg,
#ifdef SYS_recvmmsg
	SYS_recvmmsg,
#endif
#ifdef SYS_sendmmsg
	SYS_sendmmsg,
#endif
	SYS_epoll_ctl, SYS_epoll_pwait,
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
#ifdef SYS_epoll_pwait2
	SYS_epoll_pwait2,
#endif
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_ppoll,
	SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime,
	SYS_signalfd4, SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_rt_sigreturn,
	SYS_fcntl, SYS_ioctl, SYS_dup, SYS_dup3,
	/* sockets */
	SYS_socket, SYS_connect, SYS_bind, SYS_accept4, SYS_shutdown,
	SYS_setsockopt, SYS_getsockopt, SYS_getsockname, SYS_getpeername,
	SYS_socketpair,
	/*
	 * files: passwd lookups (NSS modules such as systemd's userdb walk
	 * paths with readlinkat and list directories), the scenario,
	 * /proc/self by glibc
	 */
	SYS_openat, SYS_fstat, SYS_newfstatat, SYS_readlinkat, SYS_getdents64,
	SYS_pread64, SYS_fstatfs, SYS_statfs, SYS_faccessat,
#ifdef SYS_faccessat2
	SYS_faccessat2,
#endif
#ifdef SYS_access
	SYS_access,
#endif
#ifdef SYS_readlink
	SYS_readlink,
#endif
#ifdef SYS_statx
	SYS_statx,
#endif
#ifdef SYS_stat
	SYS_stat,
#endif
	/* memory, time, randomness, identity */
	SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise,
	SYS_futex, SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep,
	SYS_gettimeofday, SYS_getrandom, SYS_getpid, SYS_gettid, SYS_getuid,
	SYS_geteuid, SYS_getgid, SYS_getegid, SYS_sched_yield,
	SYS_restart_syscall, SYS_prlimit64, SYS_uname, SYS_sysinfo,
	/* ending: exit, and abort()'s self-signal */
	SYS_exit, SYS_exit_group, SYS_tgkill, SYS_kill,
#ifdef SYS_rseq
	SYS_rseq,
#endif
#ifdef SB_ASAN
	/* AddressSanitizer's reports (symbolizing reads /proc/self/maps). */
	SYS_prctl, SYS_sigaltstack, SYS_getppid,
#endif
};

#define NALLOWED (sizeof(allowed) / sizeof(allowed[0]))

int sandbox_drop_privileges(void)
{
	struct passwd *pw;
	uid_t uid = SANDBOX_FALLBACK_ID, ru, eu, su;
	gid_t gid = SANDBOX_FALLBACK_ID, rg, eg, sg;

	if (geteuid() != 0) {
		log_info("not started as root: the worker keeps uid %u (nothing to drop)",
			 (unsigned)geteuid());
		return 0;
	}
	pw = getpwnam(SANDBOX_USER);
	if (pw && pw->pw_uid != 0) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		log_err("dropping privileges to uid %u: %s", (unsigned)uid, strerror(errno));
		return -EPERM;
	}
	/* Trust, but verify: no id may still be 0. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru == 0 || eu == 0 || su == 0 || rg == 0 || eg == 0 || sg == 0 ||
	    setuid(0) == 0) {
		log_err("dropping privileges: still privileged");
		return -EPERM;
	}
	log_info("worker runs as uid %u gid %u", (unsigned)uid, (unsigned)gid);
	return 0;
}

int sandbox_enter(void)
{
#ifdef SB_ARCH
	struct sock_filter f[8 + 2 * NALLOWED];
	struct sock_fprog prog;
	unsigned n = 0, i;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	/* x32 numbers (bit 30) share the x86_64 arch value: refuse them. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (i = 0; i < NALLOWED; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)allowed[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		log_err("seccomp filter: %s", strerror(errno));
		return -errno;
	}
	return 0;
#else
	log_err("seccomp: no filter for this architecture; set sandbox off to run unsandboxed");
	return -ENOSYS;
#endif
}

void sandbox_set_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}
