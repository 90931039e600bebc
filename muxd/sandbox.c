/* SPDX-License-Identifier: MIT */
/*
 * The sandboxes of bgw-muxd's unprivileged processes (muxd/sandbox.h).
 *
 * Privileges: the core runs as the "bgw" account, the network front as
 * "bgw-net" (systemd/bgw.sysusers; 65534 when an account is missing), and
 * each peer, forked by the monitor, as a uid and gid of its own from the
 * configured range (peer-uid-base, peer-uid-count) that no account uses,
 * so that no two of them can signal, ptrace, process_vm_readv or prlimit
 * each other even without a filter: the kernel allows those only between
 * processes of the same uid. A peer also gets RLIMIT_NPROC 1 before its
 * drop, so its uid never has a second process (a fork without the filter
 * fails) and is free again once the monitor reaped it. The bounding set
 * is emptied and every capability set cleared, PR_SET_NO_NEW_PRIVS is
 * set, and where the kernel offers Landlock's scopes (ABI 6, Linux 6.12)
 * each process gets a Landlock domain that may signal (kill, tgkill,
 * F_SETOWN/SIGIO) and reach abstract unix sockets only inside itself: a
 * second wall between processes of one uid.
 *
 * The seccomp filter is built by libseccomp from the tables and rules
 * below: the native architecture only, each allowed system call -- for
 * the calls whose arguments decide what they do, only when an argument
 * rule below holds -- and the process killed otherwise.
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
 *   tgkill     its own process only (abort()).
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
 *          only, sendmsg (a peer's socket to
 *          the monitor, which forks the peer); no clone, no wait4, no
 *          kill: its peers are the monitor's children, of other uids,
 *          and it asks the monitor to end one (RPC_PEER_STOP);
 *   peer   nothing more: it talks over the descriptors it was given;
 *          sendto only without an address (its UDP socket is connected),
 *          no sendmsg at all (its msg_name cannot be checked),
 *          recvmmsg without a timeout,
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
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

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

/* The front: its listeners and the connected UDP socket of each peer. */
static const int allowed_front[] = {
	SYS_bind,
};

/*
 * The filter is built with libseccomp: a rule allows one system call,
 * unconditionally or when all its argument comparisons hold (at most one
 * per argument); several rules for one call are alternatives. A call no
 * rule allows kills the process.
 */
struct sb_filter {
	scmp_filter_ctx ctx;
	int err;		/* the first failure, or 0 */
	int err_nr;		/* the call whose rule failed */
};

static void allow_if(struct sb_filter *f, int nr, unsigned n, const struct scmp_arg_cmp *c)
{
	int r;

	if (f->err)
		return;
	r = seccomp_rule_add_array(f->ctx, SCMP_ACT_ALLOW, nr, n, c);
	if (r < 0) {
		f->err = r;
		f->err_nr = nr;
	}
}

static void allow_list(struct sb_filter *f, const int *nr, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		allow_if(f, nr[i], 0, NULL);
}

/* Allowed when every comparison holds: ALLOW(f, nr, SCMP_A1(...), ...). */
#define ALLOW(f, nr, ...)						\
	allow_if((f), (nr),						\
		 (unsigned)(sizeof((const struct scmp_arg_cmp[]){ __VA_ARGS__ }) / \
			    sizeof(struct scmp_arg_cmp)),			\
		 (const struct scmp_arg_cmp[]){ __VA_ARGS__ })

/* Argument a is v (all 64 bits). */
#define EQ(a, v)	SCMP_CMP((a), SCMP_CMP_EQ, (scmp_datum_t)(v))
/*
 * None of the bits of m is set (flags: the kernel reads these arguments
 * as int or unsigned int, so m stays within the low 32 bits).
 */
#define CLEAR(a, m)	SCMP_CMP((a), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(uint32_t)(m), 0)

/* The argument rules every role has (the comment at the top). */
static void rules_base(struct sb_filter *f, enum sandbox_role role)
{
	const uint64_t self = (uint64_t)getpid();

	ALLOW(f, SYS_fcntl, EQ(1, F_GETFD));
	ALLOW(f, SYS_fcntl, EQ(1, F_SETFD));
	ALLOW(f, SYS_fcntl, EQ(1, F_GETFL));
	ALLOW(f, SYS_fcntl, EQ(1, F_SETFL), CLEAR(2, O_ASYNC));
	ALLOW(f, SYS_prlimit64, EQ(0, 0));
	ALLOW(f, SYS_mprotect, CLEAR(2, PROT_EXEC));
	ALLOW(f, SYS_mmap, CLEAR(2, PROT_EXEC));
	if (role == SANDBOX_CORE)
		ALLOW(f, SYS_mmap, CLEAR(2, PROT_WRITE), CLEAR(3, MAP_ANONYMOUS));
	ALLOW(f, SYS_tgkill, EQ(0, self));
}

/* The core: see the comment at the top. */
static void rules_core(struct sb_filter *f)
{
	ALLOW(f, SYS_socket, EQ(0, AF_UNIX));
	ALLOW(f, SYS_ioctl, EQ(1, TCGETS));
	/* Read-only: no file written, created or truncated. */
	ALLOW(f, SYS_openat, CLEAR(2, O_ACCMODE | O_CREAT | O_TRUNC));
}

static void rules_front(struct sb_filter *f)
{
	ALLOW(f, SYS_socket, EQ(0, AF_UNIX));
	ALLOW(f, SYS_socket, EQ(0, AF_INET));
	ALLOW(f, SYS_socket, EQ(0, AF_INET6));
	/*
	 * A relayed peer's datagram pair (muxd/relayfront.h): AF_UNIX
	 * datagrams only, non-blocking and close-on-exec as made.
	 */
	ALLOW(f, SYS_socketpair, EQ(0, AF_UNIX), EQ(1, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC));
	ALLOW(f, SYS_ioctl, EQ(1, TCGETS));
	/* Its peers' UDP sockets share the listener's port. */
	ALLOW(f, SYS_setsockopt, EQ(1, SOL_SOCKET), EQ(2, SO_REUSEADDR));
}

static void rules_peer(struct sb_filter *f)
{
	/* send() is sendto() without an address: nothing else. */
	ALLOW(f, SYS_sendto, EQ(4, 0));
	/*
	 * Several datagrams per wake-up (its client's, the core's), never
	 * blocking with a timeout: recvmsg(2) several times over, which
	 * every role has.
	 */
#ifdef SYS_recvmmsg
	ALLOW(f, SYS_recvmmsg, EQ(4, 0));
#endif
	/* TCP_NODELAY on a TLS peer's connection: nothing else. */
	ALLOW(f, SYS_setsockopt, EQ(1, IPPROTO_TCP), EQ(2, TCP_NODELAY));
}

int sandbox_enter(enum sandbox_role role)
{
	struct sb_filter f = { .ctx = NULL };
	int r;

#define N(a) (sizeof(a) / sizeof((a)[0]))
	/*
	 * The native architecture only: another one's numbers (i386's on
	 * x86_64) kill, and so do x32's, which share x86_64's arch value
	 * (libseccomp checks bit 30 unless x32 is added).
	 */
	f.ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!f.ctx) {
		log_err("seccomp: cannot make a filter (out of memory?)");
		return -ENOMEM;
	}
	r = seccomp_attr_set(f.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* The kernel's errno from seccomp_load, not -ECANCELED. */
	if (r == 0)
		r = seccomp_attr_set(f.ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r < 0) {
		f.err = r;
		f.err_nr = -1;
	}
	allow_list(&f, allowed_base, N(allowed_base));
	switch (role) {
	case SANDBOX_CORE:
		allow_list(&f, allowed_net, N(allowed_net));
		allow_list(&f, allowed_core, N(allowed_core));
		rules_base(&f, role);
		rules_core(&f);
		break;
	case SANDBOX_FRONT:
		allow_list(&f, allowed_net, N(allowed_net));
		allow_list(&f, allowed_front, N(allowed_front));
		rules_base(&f, role);
		rules_front(&f);
		break;
	case SANDBOX_PEER:
		rules_base(&f, role);
		rules_peer(&f);
		break;
	}
#undef N
	r = f.err;
	if (r < 0) {
		log_err("seccomp filter: rule for system call %d: %s", f.err_nr, strerror(-r));
		goto out;
	}
	/* Not even a sibling of the same uid may read this memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		r = -errno;
		log_err("PR_SET_DUMPABLE: %s", strerror(errno));
		goto out;
	}
	/* Set here, checked: seccomp_load would set it too (SCMP_FLTATR_CTL_NNP). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_err("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto out;
	}
	r = seccomp_load(f.ctx);
	if (r < 0)
		log_err("seccomp filter: %s", strerror(-r));
out:
	seccomp_release(f.ctx);
	return r;
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

/*
 * As root: to uid and gid for good (bounding set emptied, no groups, all
 * three ids of each, checked, no capability left); a peer also gets
 * RLIMIT_NPROC 1 first, so that its uid never runs a second process.
 * Not root: the uid stays, the capability sets are cleared.
 */
static int drop_to(const char *what, uid_t uid, gid_t gid, bool peer)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0) {
		if (!peer)
			log_info("not started as root: keeping uid %u (nothing to drop)",
				 (unsigned)geteuid());
		return drop_bounding_set() < 0 || clear_capabilities() < 0 ? -EPERM : 0;
	}
	if (drop_bounding_set() < 0)
		return -EPERM;
	if (peer) {
		struct rlimit one = { 1, 1 };

		if (setrlimit(RLIMIT_NPROC, &one) < 0) {
			log_err("%s: RLIMIT_NPROC: %s", what, strerror(errno));
			return -EPERM;
		}
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		log_err("%s: dropping privileges to uid %u: %s", what, (unsigned)uid,
			strerror(errno));
		return -EPERM;
	}
	/* Trust, but verify: no id may still be 0, nor differ from the one asked. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid ||
	    ru == 0 || rg == 0 || setuid(0) == 0) {
		log_err("%s: dropping privileges: still privileged", what);
		return -EPERM;
	}
	if (clear_capabilities() < 0)
		return -EPERM;
	if (!peer)
		log_info("running as uid %u gid %u", (unsigned)uid, (unsigned)gid);
	return 0;
}

/* No new privileges, and Landlock's scopes where the kernel has them. */
static int confine(bool peer)
{
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	r = landlock_scope();
	if (r < 0)
		return r;
	if (r == 0 && !peer)
		log_info("landlock: no signal scope in this kernel (Linux 6.12 has it): the roles are kept apart by their uids and seccomp filters");
	return 0;
}

int sandbox_drop_privileges(enum sandbox_role role)
{
	uid_t uid;
	gid_t gid;
	int r;

	if (role != SANDBOX_PEER) {
		if (geteuid() == 0)
			role_ids(role, &uid, &gid);
		else
			uid = geteuid(), gid = getegid();
		r = drop_to(role == SANDBOX_CORE ? "core" : "network front", uid, gid, false);
		if (r < 0)
			return r;
	}
	return confine(role == SANDBOX_PEER);
}

int sandbox_drop_peer(uid_t uid, gid_t gid)
{
	int r = drop_to("peer", uid, gid, true);

	return r < 0 ? r : confine(true);
}

/*
 * The peers' ids must be no one's: not an account's uid or gid, not a
 * group's, not within a subordinate range of /etc/subuid or /etc/subgid
 * (whose owner could map them in a user namespace and signal the peers).
 */
static bool in_range(unsigned long v, uid_t base, unsigned count)
{
	return v >= base && v - base < count;
}

/*
 * A subordinate-id line is "name:start:count" (subuid(5)): a name of at
 * most 256 bytes (LOGIN_NAME_MAX) and two numbers fit this with room.
 * A longer line is refused with its number, not cut (a fixed fgets
 * buffer read its tail as a line of its own, which could give or hide a
 * range), and so is a file longer than anyone's.
 */
#define SUBID_LINE_MAX	1024
#define SUBID_LINES_MAX	100000

/*
 * One line of f into buf (without its newline, NUL-terminated): 1, 0 at
 * the end of the file, -E2BIG past SUBID_LINE_MAX bytes. A NUL byte
 * inside ends the line's text there, as it does for shadow's readers
 * (C strings): a range before it counts, as it does for them.
 */
static int subid_line(FILE *f, char buf[SUBID_LINE_MAX + 1])
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (n == SUBID_LINE_MAX)
			return -E2BIG;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (c == EOF && n == 0)
		return 0;
	return 1;
}

int sandbox_subid_check(const char *path, uid_t base, unsigned count, char *err, size_t cap)
{
	char line[SUBID_LINE_MAX + 1];
	FILE *f = fopen(path, "re");
	unsigned n = 0;
	int r = 0, got;

	if (!f)
		return 0;	/* no subordinate ids on this system */
	while (r == 0 && (got = subid_line(f, line)) != 0) {
		char *c1, *c2, *end;
		unsigned long first, num;

		if (++n > SUBID_LINES_MAX) {
			snprintf(err, cap, "%s has more than %u lines, more than bgw-muxd reads "
				 "to check them against the peers' ids", path, SUBID_LINES_MAX);
			r = -E2BIG;
			break;
		}
		if (got == -E2BIG) {
			snprintf(err, cap, "%s line %u is longer than %u bytes, so bgw-muxd cannot "
				 "check it against the peers' ids; shorten or remove that line",
				 path, n, SUBID_LINE_MAX);
			r = -E2BIG;
			break;
		}
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		errno = 0;
		first = strtoul(c1 + 1, &end, 10);
		if (errno || end != c2)
			continue;
		num = strtoul(c2 + 1, &end, 10);
		if (errno || num == 0)
			continue;
		/* Two ranges overlap when each starts before the other ends (no sum: no wrap). */
		if (first <= base ? base - first < num : first - base < count) {
			*c1 = '\0';
			snprintf(err, cap, "%s gives \"%s\" the ids %lu..%lu, which overlap the peers' %u..%u",
				 path, line, first, first + (num - 1), (unsigned)base,
				 (unsigned)base + count - 1);
			r = -EEXIST;
		}
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, cap, "%s cannot be read to check it against the peers' ids", path);
		r = -EIO;
	}
	fclose(f);
	return r;
}

int sandbox_peer_range_check(uid_t base, unsigned count, char *err, size_t cap)
{
	struct passwd *pw;
	struct group *gr;
	int r = 0;

	setpwent();
	while (r == 0 && (pw = getpwent())) {
		if (in_range(pw->pw_uid, base, count) || in_range(pw->pw_gid, base, count)) {
			snprintf(err, cap, "the account \"%s\" (uid %u, gid %u) is within the peers' ids %u..%u",
				 pw->pw_name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid,
				 (unsigned)base, (unsigned)base + count - 1);
			r = -EEXIST;
		}
	}
	endpwent();
	setgrent();
	while (r == 0 && (gr = getgrent())) {
		if (in_range(gr->gr_gid, base, count)) {
			snprintf(err, cap, "the group \"%s\" (gid %u) is within the peers' ids %u..%u",
				 gr->gr_name, (unsigned)gr->gr_gid, (unsigned)base,
				 (unsigned)base + count - 1);
			r = -EEXIST;
		}
	}
	endgrent();
	if (r == 0)
		r = sandbox_subid_check("/etc/subuid", base, count, err, cap);
	if (r == 0)
		r = sandbox_subid_check("/etc/subgid", base, count, err, cap);
	return r;
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

int sandbox_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	/* Orphaned before the prctl: adopted by init or a subreaper. */
	return getppid() == parent ? 0 : -ESRCH;
}

void sandbox_set_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}
