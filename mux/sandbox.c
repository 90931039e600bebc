/* SPDX-License-Identifier: MIT */
/*
 * The sandboxes of bgw-muxd's unprivileged processes (mux/sandbox.h).
 *
 * Privileges: the core runs as the "bgw" account, the network front and
 * its peers as "bgw-net" (systemd/bgw.sysusers; 65534 when an account is
 * missing), so that neither can signal, ptrace or prlimit the other even
 * without a filter: the kernel allows those only between processes of the
 * same uid. The bounding set is emptied and every capability set cleared,
 * PR_SET_NO_NEW_PRIVS is set, and where the kernel offers Landlock's
 * scopes (ABI 6, Linux 6.12) each process gets a Landlock domain that may
 * signal (kill, tgkill, F_SETOWN/SIGIO) and reach abstract unix sockets
 * only inside itself and the domains nested in it: a peer's domain is
 * nested in the front's, so the front may end its peers, but a peer
 * reaches neither the front nor a sibling, though they share a uid.
 *
 * The seccomp filter is a plain classic-BPF program (no library): check
 * the architecture the filter was written for, load the system call
 * number, compare it with each allowed one, allow on a match -- for the
 * calls whose arguments decide what they do, only when an argument rule
 * below holds -- and kill the process otherwise.
 *
 * Every role gets what a loop needs: I/O on descriptors it already has,
 * epoll, timerfd and signalfd, memory, time and randomness for GnuTLS.
 * Argument rules in every role:
 *   fcntl      F_GETFD, F_SETFD, F_GETFL, and F_SETFL without O_ASYNC:
 *              no F_SETOWN/F_SETOWN_EX/F_SETSIG (with O_ASYNC on a socket
 *              they make the kernel signal any process of the uid), no
 *              leases or dnotify (which signal too), no F_DUPFD;
 *   prlimit64  pid 0 only (its own limits: another's RLIMIT_NOFILE set
 *              to 5 stopped the whole daemon);
 *   mmap, mprotect  never PROT_EXEC (no injected code runs), except the
 *              core's read-only file mappings (below);
 *   tgkill     its own process only (abort()); the front's, of a
 *              positive pid (a peer's abort() under the front's filter).
 * On top of that:
 *   core   socket(AF_UNIX) and connect (syslog's /dev/log, the NSS userdb
 *          socket), accept4 (local clients), sendmsg (descriptors to the
 *          monitor), ioctl(TCGETS) only (isatty; never TIOCSTI, which
 *          types into the terminal of a foreground daemon), openat
 *          read-only for the passwd lookups of local peers (SO_PEERCRED
 *          uid -> name) and the simulated controller's scenario, and
 *          mmap PROT_EXEC only of such a file, never writable, never
 *          anonymous (the NSS modules glibc loads); no kill, no bind;
 *   front  socket(AF_UNIX, AF_INET, AF_INET6), bind and connect (a
 *          connected UDP socket per DTLS peer), setsockopt(SO_REUSEADDR)
 *          and its peers' TCP_NODELAY only, fork (clone with exactly
 *          fork's flags: no thread, no namespace), wait4, kill of a positive pid with SIGKILL or
 *          SIGTERM (its peers; its uid is theirs alone), and for the new
 *          peer process, under this filter until it stacks its own:
 *          close_range, epoll_create1, Landlock and the prctl options it
 *          sets (name, parent-death signal, dumpable, no new privileges,
 *          seccomp);
 *   peer   nothing more: it talks over the descriptors it was born with;
 *          sendto only without an address (its UDP socket is connected),
 *          no sendmsg at all (its msg_name cannot be checked),
 *          setsockopt(IPPROTO_TCP, TCP_NODELAY) only.
 * Absent everywhere, among others: execve, ptrace, process_vm_*, mount,
 * setuid and friends, kexec, bpf, module loading, keyctl, unshare. Each
 * process is also made non-dumpable, so a sibling of the same uid cannot
 * read its memory through /proc.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
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

/* Landlock (linux/landlock.h of Linux 6.12; Debian 12's is older). */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self 446
#endif
#define SB_LANDLOCK_VERSION		(1U << 0)
#define SB_LANDLOCK_SCOPE_ABSTRACT_UNIX	(1ULL << 0)
#define SB_LANDLOCK_SCOPE_SIGNAL	(1ULL << 1)
#define SB_LANDLOCK_ABI_SCOPES		6

struct sb_landlock_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* glibc's fork(): clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD). */
#define SB_FORK_FLAGS	(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD)

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
	SYS_dup, SYS_dup3, SYS_fstat, SYS_newfstatat,
#ifdef SYS_statx
	SYS_statx,
#endif
	SYS_brk, SYS_munmap, SYS_mremap, SYS_madvise,
	SYS_futex, SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep,
	SYS_gettimeofday, SYS_getrandom, SYS_getpid, SYS_gettid, SYS_getuid,
	SYS_geteuid, SYS_getgid, SYS_getegid, SYS_sched_yield,
	SYS_restart_syscall, SYS_uname, SYS_sysinfo,
	SYS_exit, SYS_exit_group,
#ifdef SYS_rseq
	SYS_rseq,
#endif
#ifdef SB_ASAN
	/* AddressSanitizer's reports (symbolizing reads /proc/self/maps). */
	SYS_prctl, SYS_sigaltstack, SYS_getppid, SYS_openat, SYS_readlinkat,
#endif
};

/* The core and the front: their sockets and their clients'. */
static const int allowed_net[] = {
	SYS_sendto, SYS_sendmsg,
#ifdef SYS_recvmmsg
	SYS_recvmmsg,
#endif
#ifdef SYS_sendmmsg
	SYS_sendmmsg,
#endif
	SYS_connect, SYS_accept4, SYS_shutdown,
};

/*
 * The core: files, for passwd lookups (NSS modules such as systemd's
 * userdb walk paths with readlinkat and list directories), the scenario,
 * /proc/self by glibc. openat itself has an argument rule.
 */
static const int allowed_core[] = {
	SYS_readlinkat, SYS_getdents64,
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
 * The front: a process per peer, which closes what is not its own,
 * makes its own loop and enters its own Landlock domain before it stacks
 * its own filter.
 */
static const int allowed_front[] = {
	SYS_bind, SYS_wait4, SYS_set_robust_list, SYS_seccomp,
	SYS_epoll_create1, SYS_landlock_create_ruleset, SYS_landlock_restrict_self,
#ifdef SYS_close_range
	SYS_close_range,
#endif
};

struct sb_prog {
	struct sock_filter f[512];
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

/*
 * Argument rules. A condition looks at one argument of the call:
 *   SB_IN     the whole 64-bit argument is one of v[] (a command, a
 *             domain, a level, a pid);
 *   SB_CLEAR  none of the bits of mask is set in its low 32 bits (flags:
 *             the kernel reads these arguments as int or unsigned int);
 *   SB_POS    a positive pid (1 .. INT_MAX): no process group, no -1.
 * An alternative holds when all its conditions do; a call with rules is
 * allowed when one of its alternatives holds and kills otherwise.
 * seccomp_data.args is little-endian on every architecture above.
 */
enum sb_op { SB_IN = 1, SB_CLEAR, SB_POS };

struct sb_cond {
	uint8_t op;
	uint8_t arg;
	uint8_t n;
	uint32_t mask;
	uint64_t v[6];
};

struct sb_alt {
	struct sb_cond c[3];
};

#define SB_NARGS(...)	(sizeof((uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))
#define IN(a, ...)	{ .op = SB_IN, .arg = (a), .n = (uint8_t)SB_NARGS(__VA_ARGS__), \
			  .v = { __VA_ARGS__ } }
#define CLEAR(a, m)	{ .op = SB_CLEAR, .arg = (a), .mask = (uint32_t)(m) }
#define POS(a)		{ .op = SB_POS, .arg = (a) }

#define ARG_LO(i)	(offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i)	(ARG_LO(i) + 4)
#define LD(off)		((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))
#define JMP(op, k, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), (t), (f)))
#define RET(v)		((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)))

/* One alternative, with its failing jumps marked for patching. */
struct sb_alt_code {
	struct sock_filter f[64];
	bool fail_t[64], fail_f[64];
	unsigned n;
};

static void alt_emit(struct sb_alt_code *a, struct sock_filter ins, bool ft, bool ff)
{
	if (a->n >= sizeof(a->f) / sizeof(a->f[0])) {
		a->n++;		/* noticed by the caller */
		return;
	}
	a->f[a->n] = ins;
	a->fail_t[a->n] = ft;
	a->fail_f[a->n] = ff;
	a->n++;
}

static void alt_cond(struct sb_alt_code *a, const struct sb_cond *c)
{
	unsigned k;

	switch (c->op) {
	case SB_IN:
		for (k = 0; k < c->n; k++) {
			bool last = k + 1 == c->n;
			/* on a match of both halves: past the remaining values */
			uint8_t past = (uint8_t)(4 * (c->n - 1 - k));

			alt_emit(a, LD(ARG_LO(c->arg)), false, false);
			alt_emit(a, JMP(BPF_JEQ, (uint32_t)c->v[k], 0, last ? 0 : 2), false, last);
			alt_emit(a, LD(ARG_HI(c->arg)), false, false);
			alt_emit(a, JMP(BPF_JEQ, (uint32_t)(c->v[k] >> 32), past, 0), false, last);
		}
		break;
	case SB_CLEAR:
		alt_emit(a, LD(ARG_LO(c->arg)), false, false);
		alt_emit(a, JMP(BPF_JSET, c->mask, 0, 0), true, false);
		break;
	case SB_POS:
		alt_emit(a, LD(ARG_HI(c->arg)), false, false);
		alt_emit(a, JMP(BPF_JEQ, 0, 0, 0), false, true);
		alt_emit(a, LD(ARG_LO(c->arg)), false, false);
		alt_emit(a, JMP(BPF_JEQ, 0, 0, 0), true, false);
		alt_emit(a, JMP(BPF_JSET, 0x80000000u, 0, 0), true, false);
		break;
	}
}

/* System call nr, allowed when one of alts holds, else the process dies. */
static void allow_if(struct sb_prog *p, int nr, const struct sb_alt *alts, unsigned nalt)
{
	struct sb_prog body = { .n = 0 };
	struct sb_alt_code a;
	unsigned i, j;

	for (i = 0; i < nalt; i++) {
		memset(&a, 0, sizeof(a));
		for (j = 0; j < 3 && alts[i].c[j].op; j++)
			alt_cond(&a, &alts[i].c[j]);
		alt_emit(&a, RET(SECCOMP_RET_ALLOW), false, false);
		if (a.n > sizeof(a.f) / sizeof(a.f[0])) {
			p->overflow = true;
			return;
		}
		/* A failing condition goes to the next alternative (or the kill). */
		for (j = 0; j < a.n; j++) {
			if (a.fail_t[j])
				a.f[j].jt = (uint8_t)(a.n - j - 1);
			if (a.fail_f[j])
				a.f[j].jf = (uint8_t)(a.n - j - 1);
			emit(&body, a.f[j]);
		}
	}
	emit(&body, RET(SECCOMP_RET_KILL_PROCESS));
	if (body.overflow || body.n > 255) {
		p->overflow = true;
		return;
	}
	/* Not this call: skip its rules (the accumulator still holds nr). */
	emit(p, JMP(BPF_JEQ, (unsigned)nr, 0, (uint8_t)body.n));
	for (j = 0; j < body.n; j++)
		emit(p, body.f[j]);
}

#define ALTS(...)	(const struct sb_alt[]){ __VA_ARGS__ },			\
			(unsigned)(sizeof((const struct sb_alt[]){ __VA_ARGS__ }) /	\
				   sizeof(struct sb_alt))

/* The argument rules every role has (the comment at the top). */
static void rules_base(struct sb_prog *p, enum sandbox_role role)
{
	const uint64_t self = (uint64_t)getpid();

	allow_if(p, SYS_fcntl, ALTS(
		{ { IN(1, F_GETFD, F_SETFD, F_GETFL) } },
		{ { IN(1, F_SETFL), CLEAR(2, O_ASYNC) } }));
	allow_if(p, SYS_prlimit64, ALTS({ { IN(0, 0) } }));
	allow_if(p, SYS_mprotect, ALTS({ { CLEAR(2, PROT_EXEC) } }));
	if (role == SANDBOX_CORE)
		allow_if(p, SYS_mmap, ALTS(
			{ { CLEAR(2, PROT_EXEC) } },
			{ { CLEAR(2, PROT_WRITE), CLEAR(3, MAP_ANONYMOUS) } }));
	else
		allow_if(p, SYS_mmap, ALTS({ { CLEAR(2, PROT_EXEC) } }));
	/*
	 * A peer's abort() while it still runs under the front's filter
	 * alone, or under both, passes the front's rule: a positive pid.
	 */
	if (role == SANDBOX_FRONT)
		allow_if(p, SYS_tgkill, ALTS({ { POS(0) } }));
	else
		allow_if(p, SYS_tgkill, ALTS({ { IN(0, self) } }));
}

int sandbox_enter(enum sandbox_role role)
{
#ifdef SB_ARCH
	struct sb_prog p = { .n = 0 };
	struct sock_fprog prog;

#define N(a) (sizeof(a) / sizeof((a)[0]))
	emit(&p, LD(offsetof(struct seccomp_data, arch)));
	emit(&p, JMP(BPF_JEQ, SB_ARCH, 1, 0));
	emit(&p, RET(SECCOMP_RET_KILL_PROCESS));
	emit(&p, LD(offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
	/* x32 numbers (bit 30) share the x86_64 arch value: refuse them. */
	emit(&p, JMP(BPF_JGE, 0x40000000u, 0, 1));
	emit(&p, RET(SECCOMP_RET_KILL_PROCESS));
#endif
	allow_list(&p, allowed_base, N(allowed_base));
	switch (role) {
	case SANDBOX_CORE:
		allow_list(&p, allowed_net, N(allowed_net));
		allow_list(&p, allowed_core, N(allowed_core));
		rules_base(&p, role);
		allow_if(&p, SYS_socket, ALTS({ { IN(0, AF_UNIX) } }));
		allow_if(&p, SYS_ioctl, ALTS({ { IN(1, TCGETS) } }));
		/* Read-only: no file written, created or truncated. */
		allow_if(&p, SYS_openat, ALTS({ { CLEAR(2, O_ACCMODE | O_CREAT | O_TRUNC) } }));
		break;
	case SANDBOX_FRONT:
		allow_list(&p, allowed_net, N(allowed_net));
		allow_list(&p, allowed_front, N(allowed_front));
		rules_base(&p, role);
		allow_if(&p, SYS_socket, ALTS({ { IN(0, AF_UNIX, AF_INET, AF_INET6) } }));
		allow_if(&p, SYS_ioctl, ALTS({ { IN(1, TCGETS) } }));
		/* Its peers' sockets; a peer's TCP_NODELAY passes this filter too. */
		allow_if(&p, SYS_setsockopt, ALTS(
			{ { IN(1, SOL_SOCKET), IN(2, SO_REUSEADDR) } },
			{ { IN(1, IPPROTO_TCP), IN(2, TCP_NODELAY) } }));
		allow_if(&p, SYS_clone, ALTS({ { IN(0, SB_FORK_FLAGS) } }));
		/* Its peers (tun_front's caps); the uid is theirs alone. */
		allow_if(&p, SYS_kill, ALTS({ { POS(0), IN(1, SIGKILL, SIGTERM) } }));
		/* The new peer names itself and stacks its own filter. */
		allow_if(&p, SYS_prctl, ALTS({ { IN(0, PR_SET_NAME, PR_SET_DUMPABLE,
						     PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP,
						     PR_SET_PDEATHSIG) } }));
		break;
	case SANDBOX_PEER:
		rules_base(&p, role);
		/* send() is sendto() without an address: nothing else. */
		allow_if(&p, SYS_sendto, ALTS({ { IN(4, 0) } }));
		/* TCP_NODELAY on a TLS peer's connection: nothing else. */
		allow_if(&p, SYS_setsockopt, ALTS({ { IN(1, IPPROTO_TCP), IN(2, TCP_NODELAY) } }));
		break;
	}
#undef N
	emit(&p, RET(SECCOMP_RET_KILL_PROCESS));
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

/*
 * The role's account: "bgw" for the core, "bgw-net" for the front and its
 * peers (systemd/bgw.sysusers); 65534 when the account does not exist or
 * is root's.
 */
static void role_ids(enum sandbox_role role, uid_t *uid, gid_t *gid)
{
	const char *name = role == SANDBOX_CORE ? SANDBOX_USER : SANDBOX_NET_USER;
	struct passwd *pw = getpwnam(name);

	*uid = SANDBOX_FALLBACK_ID;
	*gid = SANDBOX_FALLBACK_ID;
	if (pw && pw->pw_uid != 0 && pw->pw_gid != 0) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else {
		log_notice("no account \"%s\" (systemd-sysusers creates it from bgw.conf): the %s runs as uid %u",
			   name, role == SANDBOX_CORE ? "core" : "network front", *uid);
	}
}

/*
 * Empty the bounding set (CAP_SETPCAP needed: root has it; a non-root
 * start without it keeps its set, which no_new_privs and the empty
 * permitted set make harmless).
 */
static int drop_bounding_set(void)
{
	unsigned long cap;
	bool kept = false;

	for (cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (r < 0)
			break;	/* EINVAL: past the kernel's last capability */
		if (r == 0 || prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno != EPERM) {
			log_err("dropping capability %lu from the bounding set: %s", cap,
				strerror(errno));
			return -errno;
		}
		kept = true;
	}
	if (kept && geteuid() == 0)
		log_notice("capability bounding set kept: no CAP_SETPCAP (the unit's CapabilityBoundingSet= needs it)");
	return 0;
}

/* No capability left in any set (after setresuid: CAP_SETUID is gone). */
static int clear_capabilities(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];

	int e;

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(c, 0, sizeof(c));
	if (syscall(SYS_capset, &h, c) == 0)
		return 0;
	/*
	 * A service manager's filter may refuse capset itself; what counts
	 * is that nothing is left (setresuid away from 0 cleared it all).
	 */
	e = errno;
	if (syscall(SYS_capget, &h, c) == 0 && !c[0].effective && !c[0].permitted &&
	    !c[0].inheritable && !c[1].effective && !c[1].permitted && !c[1].inheritable)
		return 0;
	log_err("clearing capabilities: %s", strerror(e));
	return -e;
}

/*
 * Landlock's scopes (ABI 6): no signal and no abstract unix socket
 * outside this process's new domain and the domains nested in it. 1 when
 * in force, 0 when the kernel does not offer them, or a negative errno.
 */
static int landlock_scope(void)
{
	struct sb_landlock_attr attr = {
		.scoped = SB_LANDLOCK_SCOPE_SIGNAL | SB_LANDLOCK_SCOPE_ABSTRACT_UNIX,
	};
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, SB_LANDLOCK_VERSION);
	int fd, r = 1;

	if (abi < SB_LANDLOCK_ABI_SCOPES)
		return 0;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0) {
		log_err("landlock: creating the scopes: %s", strerror(errno));
		return -errno;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) < 0) {
		log_err("landlock: entering the scopes: %s", strerror(errno));
		r = -errno;
	}
	close(fd);
	return r;
}

int sandbox_drop_privileges(enum sandbox_role role)
{
	uid_t uid, ru, eu, su;
	gid_t gid, rg, eg, sg;
	int r;

	if (role != SANDBOX_PEER && geteuid() == 0) {
		role_ids(role, &uid, &gid);
		if (drop_bounding_set() < 0)
			return -EPERM;
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			log_err("dropping privileges to uid %u: %s", (unsigned)uid,
				strerror(errno));
			return -EPERM;
		}
		/* Trust, but verify: no id may still be 0. */
		if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
		    ru == 0 || eu == 0 || su == 0 || rg == 0 || eg == 0 || sg == 0 ||
		    setuid(0) == 0) {
			log_err("dropping privileges: still privileged");
			return -EPERM;
		}
		if (clear_capabilities() < 0)
			return -EPERM;
		log_info("running as uid %u gid %u", (unsigned)uid, (unsigned)gid);
	} else if (role != SANDBOX_PEER) {
		log_info("not started as root: keeping uid %u (nothing to drop)",
			 (unsigned)geteuid());
		if (drop_bounding_set() < 0 || clear_capabilities() < 0)
			return -EPERM;
	}
	/* A peer inherits the front's: no capability, no way back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	r = landlock_scope();
	if (r < 0)
		return r;
	if (r == 0 && role != SANDBOX_PEER)
		log_info("landlock: no signal scope in this kernel (Linux 6.12 has it): the front's peers are kept apart by their seccomp filters alone");
	return 0;
}

bool sandbox_landlock_scoped(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, SB_LANDLOCK_VERSION);

	return abi >= SB_LANDLOCK_ABI_SCOPES;
}

/*
 * Close every descriptor but the standard ones and those in keep: what
 * whoever started the daemon left open, or the monitor held at the fork,
 * is none of this process's business.
 */
int sandbox_close_all_but(const int *keep, unsigned n)
{
	unsigned lo = 3, i, next;

	for (;;) {
		next = ~0U;
		for (i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next > lo && syscall(SYS_close_range, lo, next == ~0U ? ~0U : next - 1, 0) < 0)
			return -errno;
		if (next == ~0U)
			return 0;
		lo = next + 1;
	}
}

void sandbox_set_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}
