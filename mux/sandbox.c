/* SPDX-License-Identifier: MIT */
/*
 * The sandboxes of bgw-muxd's unprivileged processes (mux/sandbox.h). The
 * seccomp filter is a plain classic-BPF program (no library): check the
 * architecture the filter was written for, load the system call number,
 * compare it with each allowed one, allow on a match (for a few, after
 * checking an argument) and kill the process otherwise.
 *
 * Every role gets what a loop needs: I/O on descriptors it already has,
 * epoll, timerfd and signalfd, memory, time and randomness for GnuTLS.
 * On top of that:
 *   core   sockets (a unix: or tcp: controller reconnects, local clients
 *          are accepted) and openat for the passwd lookups of local peers
 *          (SO_PEERCRED uid -> name) and the simulated controller's
 *          scenario;
 *   front  sockets (accept, a connected UDP socket per DTLS peer), fork
 *          (one process per peer), wait4, kill (of its own children),
 *          and for the new peer process, under this filter until it
 *          stacks its own: close_range, epoll_create1 and the prctl
 *          options it sets (name, parent-death signal, dumpable, no new
 *          privileges, seccomp);
 *   peer   nothing more: it talks over the descriptors it was born with;
 *          sendto only without an address (its UDP socket is connected),
 *          no sendmsg at all (its msg_name cannot be checked), tgkill only
 *          of itself (abort()), setsockopt only at the TCP level.
 * Absent everywhere, among others: execve, ptrace, process_vm_*, mount,
 * setuid and friends, kexec, bpf, module loading, keyctl. Each process is
 * also made non-dumpable, so a sibling of the same uid cannot read its
 * memory through /proc.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
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

/* Every role: the loop, memory, time, randomness, ending. */
static const int allowed_base[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_lseek,
	SYS_recvfrom, SYS_recvmsg,
	/* reading a descriptor's state (SO_ERROR, SO_TYPE, addresses) */
	SYS_getsockopt, SYS_getsockname, SYS_getpeername,
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
	SYS_fcntl, SYS_dup, SYS_dup3, SYS_fstat, SYS_newfstatat,
#ifdef SYS_statx
	SYS_statx,
#endif
	SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise,
	SYS_futex, SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep,
	SYS_gettimeofday, SYS_getrandom, SYS_getpid, SYS_gettid, SYS_getuid,
	SYS_geteuid, SYS_getgid, SYS_getegid, SYS_sched_yield,
	SYS_restart_syscall, SYS_prlimit64, SYS_uname, SYS_sysinfo,
	SYS_exit, SYS_exit_group,
#ifdef SYS_rseq
	SYS_rseq,
#endif
#ifdef SB_ASAN
	/* AddressSanitizer's reports (symbolizing reads /proc/self/maps). */
	SYS_prctl, SYS_sigaltstack, SYS_getppid, SYS_openat, SYS_readlinkat,
#endif
};

/* The core and the front: sockets, and any signal (abort, children). */
static const int allowed_net[] = {
	SYS_sendto, SYS_sendmsg,
#ifdef SYS_recvmmsg
	SYS_recvmmsg,
#endif
#ifdef SYS_sendmmsg
	SYS_sendmmsg,
#endif
	SYS_ioctl, SYS_socket, SYS_connect, SYS_bind, SYS_accept4, SYS_shutdown,
	SYS_setsockopt, SYS_socketpair, SYS_tgkill, SYS_kill,
};

/*
 * The core: files, for passwd lookups (NSS modules such as systemd's
 * userdb walk paths with readlinkat and list directories), the scenario,
 * /proc/self by glibc.
 */
static const int allowed_core[] = {
	SYS_openat, SYS_readlinkat, SYS_getdents64,
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
#ifdef SYS_stat
	SYS_stat,
#endif
};

/*
 * The front: a process per peer, which closes what is not its own and
 * makes its own loop before it stacks its own filter.
 */
static const int allowed_front[] = {
	SYS_clone, SYS_wait4, SYS_set_robust_list, SYS_seccomp,
	SYS_epoll_create1,
#ifdef SYS_close_range
	SYS_close_range,
#endif
};

struct sb_prog {
	struct sock_filter f[256];
	unsigned n;
	bool overflow;
};

static void emit(struct sb_prog *p, struct sock_filter ins)
{
	if (p->n < sizeof(p->f) / sizeof(p->f[0]))
		p->f[p->n++] = ins;
	else
		p->overflow = true;
}

static void allow_list(struct sb_prog *p, const int *nr, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						     (unsigned)nr[i], 0, 1));
		emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	}
}

#define ARG_LO(i)	(offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i)	(ARG_LO(i) + 4)

/*
 * Allow system call nr only if its argument arg is one of vals (both
 * 32-bit halves; seccomp_data.args is little-endian on every architecture
 * above), else kill. Jumps are relative: each value takes 4 instructions.
 */
static void allow_if_arg(struct sb_prog *p, int nr, unsigned arg,
			 const uint64_t *vals, unsigned nvals)
{
	unsigned i;

	/* Not this call: skip the value checks and the kill. */
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0,
					     (uint8_t)(4 * nvals + 2)));
	for (i = 0; i < nvals; i++) {
		emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(arg)));
		emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						     (uint32_t)vals[i], 0, 2));
		emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(arg)));
		emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						     (uint32_t)(vals[i] >> 32),
						     (uint8_t)(4 * (nvals - 1 - i) + 1), 0));
	}
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	/* The accumulator holds an argument now: load the number again. */
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					     offsetof(struct seccomp_data, nr)));
}

int sandbox_drop_privileges(void)
{
	struct passwd *pw;
	uid_t uid = SANDBOX_FALLBACK_ID, ru, eu, su;
	gid_t gid = SANDBOX_FALLBACK_ID, rg, eg, sg;

	if (geteuid() != 0) {
		log_info("not started as root: keeping uid %u (nothing to drop)",
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
	log_info("running as uid %u gid %u", (unsigned)uid, (unsigned)gid);
	return 0;
}

int sandbox_enter(enum sandbox_role role)
{
#ifdef SB_ARCH
	static const uint64_t front_prctl[] = {
		PR_SET_NAME, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP,
		PR_SET_PDEATHSIG,
	};
	static const uint64_t zero[] = { 0 };
	static const uint64_t tcp[] = { IPPROTO_TCP };
	const uint64_t self[] = { (uint64_t)getpid() };
	struct sb_prog p = { .n = 0 };
	struct sock_fprog prog;

#define N(a) (sizeof(a) / sizeof((a)[0]))
	emit(&p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch)));
	emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_ARCH, 1, 0));
	emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	emit(&p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
	/* x32 numbers (bit 30) share the x86_64 arch value: refuse them. */
	emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
	emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
	allow_list(&p, allowed_base, N(allowed_base));
	switch (role) {
	case SANDBOX_CORE:
		allow_list(&p, allowed_net, N(allowed_net));
		allow_list(&p, allowed_core, N(allowed_core));
		break;
	case SANDBOX_FRONT:
		allow_list(&p, allowed_net, N(allowed_net));
		allow_list(&p, allowed_front, N(allowed_front));
		/* The new peer names itself and stacks its own filter. */
		allow_if_arg(&p, SYS_prctl, 0, front_prctl, N(front_prctl));
		break;
	case SANDBOX_PEER:
		/* send() is sendto() without an address: nothing else. */
		allow_if_arg(&p, SYS_sendto, 4, zero, 1);
		/* abort() signals itself; no other process. */
		allow_if_arg(&p, SYS_tgkill, 0, self, 1);
		/* TCP_NODELAY on a TLS peer's connection: TCP options only. */
		allow_if_arg(&p, SYS_setsockopt, 1, tcp, 1);
		break;
	}
#undef N
	emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	if (p.overflow) {
		log_err("seccomp filter: too long");
		return -E2BIG;
	}
	prog.len = (unsigned short)p.n;
	prog.filter = p.f;
	/* Not even a sibling of the same uid may read this memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		log_err("PR_SET_DUMPABLE: %s", strerror(errno));
		return -errno;
	}
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
	(void)role;
	log_err("seccomp: no filter for this architecture; set sandbox off to run unsandboxed");
	return -ENOSYS;
#endif
}

void sandbox_set_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}
