/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filters of bgw-muxd's roles (muxd/sandbox.h), enforced by
 * the kernel: each case forks, the child enters a role's filter and makes
 * one system call; the parent sees whether the child lived (exit 0) or
 * was killed by the filter (SIGSYS). A peer may not reach other
 * processes or make sockets; the front may neither fork, wait nor signal
 * (the monitor forks the peers, under uids of their own: a peer's drop
 * is probed here too, as root).
 *
 * Under AddressSanitizer the filters also allow what its reports need
 * (prctl, openat, ...): the cases probing those run in other builds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <termios.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

enum probe {
	P_NOTHING,
	P_SOCKET,
	P_SEND_PAIR,		/* send() on a socketpair: sendto without address */
	P_SENDTO_ADDR,		/* sendto with an address */
	P_SENDMSG,
	P_KILL_PARENT,
	P_TGKILL_PARENT,
	P_TGKILL_SELF,		/* signal 0 to itself: abort()'s path */
	P_PTRACE,
	P_VM_READV,
	P_FORK,
	P_EXECVE,
	P_OPEN,
	P_PRCTL_NAME,
	P_PRCTL_GET_DUMPABLE,
	P_FORK_PEER_SOCKET,	/* front, then a child stacking the peer's */
	/* argument rules (issue: a peer crippled the core with prlimit64) */
	P_SOCKET_UNIX,
	P_SOCKET_NETLINK,
	P_SOCKET_PACKET,
	P_PRLIMIT_SELF,		/* pid 0: its own limits */
	P_PRLIMIT_PARENT,	/* another process's (read only: harmless) */
	P_FCNTL_GETFL,
	P_FCNTL_SETFL_NONBLOCK,
	P_FCNTL_SETFL_ASYNC,	/* O_ASYNC: SIGIO to the owner */
	P_FCNTL_SETOWN,		/* the owner signalled: any pid of the uid */
	P_FCNTL_SETOWN_EX,
	P_FCNTL_SETSIG,		/* which signal: SIGKILL would do */
	P_FCNTL_DUPFD,
	P_SOCKETPAIR_DGRAM,	/* a relayed peer's pair, as the front makes it */
	P_SOCKETPAIR_STREAM,
	P_IOCTL_TCGETS,		/* isatty() */
	P_IOCTL_TIOCSTI,	/* types into a terminal */
	P_MMAP_ANON_EXEC,
	P_MMAP_FILE_EXEC,	/* read-only file mapping, executable */
	P_MMAP_FILE_WX,		/* writable and executable */
	P_MPROTECT_EXEC,
	P_OPEN_WRITE,
	P_CLONE_NEWUSER,
	P_CLONE_NEWNET,
	P_KILL_CHILD,		/* fork, then SIGKILL its child */
	P_KILL_GROUP,		/* SIGKILL to a process group */
	P_SETSOCKOPT_REUSEADDR,
	P_SETSOCKOPT_NODELAY,
	P_SETSOCKOPT_ATTACH,	/* SO_ATTACH_FILTER */
	P_WAIT4,		/* reaping a child */
	P_RECVMMSG,		/* several datagrams, no timeout */
	P_RECVMMSG_TIMEOUT,
};

static int sv[2];
/*
 * The process that forked the probe, taken before any filter: getppid is
 * outside every filter, so calling it would be what the filter kills.
 */
static pid_t parent;
static int exec_fd = -1;	/* /bin/true, opened before any filter */
static pid_t victim = -1;	/* a process group of its own */

/* In the child, after the filter: 0 if the call came back at all. */
static int run_probe(enum probe p)
{
	char buf[8] = "x";
	struct sockaddr_in sin;
	struct iovec lv = { buf, 1 }, rv = { buf, 1 };
	struct msghdr mh;
	struct rlimit rl;
	struct f_owner_ex ox = { F_OWNER_PID, 0 };
	void *m;
	long r;
	pid_t pid;
	int st;

	switch (p) {
	case P_NOTHING:
		return 0;
	case P_SOCKET_UNIX:
		r = socket(AF_UNIX, SOCK_DGRAM, 0);
		return r >= 0 ? 0 : 1;
	case P_SOCKET_NETLINK:
		socket(AF_NETLINK, SOCK_RAW, 0);
		return 0;
	case P_SOCKET_PACKET:
		socket(AF_PACKET, SOCK_RAW, 0);
		return 0;
	case P_PRLIMIT_SELF:
		return prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0 ? 0 : 1;
	case P_PRLIMIT_PARENT:
		prlimit(parent, RLIMIT_NOFILE, NULL, &rl);
		return 0;
	case P_FCNTL_GETFL:
		return fcntl(sv[0], F_GETFL) >= 0 ? 0 : 1;
	case P_FCNTL_SETFL_NONBLOCK:
		return fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0 ? 0 : 1;
	case P_FCNTL_SETFL_ASYNC:
		fcntl(sv[0], F_SETFL, O_NONBLOCK | O_ASYNC);
		return 0;
	case P_FCNTL_SETOWN:
		fcntl(sv[0], F_SETOWN, getpid());
		return 0;
	case P_FCNTL_SETOWN_EX:
		ox.pid = getpid();
		fcntl(sv[0], F_SETOWN_EX, &ox);
		return 0;
	case P_FCNTL_SETSIG:
		fcntl(sv[0], F_SETSIG, 0);
		return 0;
	case P_FCNTL_DUPFD:
		fcntl(sv[0], F_DUPFD, 10);
		return 0;
	case P_SOCKETPAIR_DGRAM: {
		int pr[2];

		return socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pr) == 0 ?
		       0 : 1;
	}
	case P_SOCKETPAIR_STREAM: {
		int pr[2];

		socketpair(AF_UNIX, SOCK_STREAM, 0, pr);
		return 0;
	}
	case P_IOCTL_TCGETS: {
		struct termios t;

		ioctl(sv[0], TCGETS, &t);	/* ENOTTY: a socket */
		return 0;
	}
	case P_IOCTL_TIOCSTI:
		ioctl(sv[0], TIOCSTI, "x");
		return 0;
	case P_MMAP_ANON_EXEC:
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return 0;
	case P_MMAP_FILE_EXEC:
		m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, exec_fd, 0);
		return m != MAP_FAILED ? 0 : 1;
	case P_MMAP_FILE_WX:
		mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE, exec_fd, 0);
		return 0;
	case P_MPROTECT_EXEC:
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 1;
		mprotect(m, 4096, PROT_READ | PROT_EXEC);
		return 0;
	case P_OPEN_WRITE:
		open("/dev/null", O_WRONLY);
		return 0;
	case P_CLONE_NEWUSER:
	case P_CLONE_NEWNET:
		r = syscall(SYS_clone, (p == P_CLONE_NEWUSER ? CLONE_NEWUSER : CLONE_NEWNET) | SIGCHLD,
			    NULL, NULL, NULL, NULL);
		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid((pid_t)r, &st, 0);
		return 0;
	case P_KILL_CHILD:
		pid = fork();
		if (pid == 0) {
			/* blocks: nobody writes (the result does not matter) */
			if (read(sv[1], buf, 1) < 0)
				_exit(0);
			_exit(0);
		}
		if (pid < 0 || kill(pid, SIGKILL) < 0 || waitpid(pid, &st, 0) != pid)
			return 1;
		return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 1;
	case P_KILL_GROUP:
		kill(-victim, SIGKILL);
		return 0;
	case P_SETSOCKOPT_REUSEADDR:
		st = 1;
		return setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &st, sizeof(st)) == 0 ? 0 : 1;
	case P_SETSOCKOPT_NODELAY:
		st = 1;
		setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &st, sizeof(st));
		return 0;	/* EOPNOTSUPP on a unix socket, but allowed */
	case P_WAIT4:
		waitpid(-1, &st, WNOHANG);
		return 0;
	case P_RECVMMSG:
	case P_RECVMMSG_TIMEOUT: {
		struct timespec ts = { 0, 0 };
		struct mmsghdr mm = { .msg_hdr = { .msg_iov = &lv, .msg_iovlen = 1 } };

		/* Nothing waits: EAGAIN, but allowed (or killed first). */
		recvmmsg(sv[0], &mm, 1, MSG_DONTWAIT, p == P_RECVMMSG_TIMEOUT ? &ts : NULL);
		return 0;
	}
	case P_SETSOCKOPT_ATTACH: {
		struct sock_fprog none = { 0, NULL };

		setsockopt(sv[0], SOL_SOCKET, SO_ATTACH_FILTER, &none, sizeof(none));
		return 0;
	}
	case P_SOCKET:
		return socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 0 : 0;
	case P_SEND_PAIR:
		return send(sv[0], buf, 1, MSG_NOSIGNAL) == 1 ? 0 : 1;
	case P_SENDTO_ADDR:
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(9);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sendto(sv[0], buf, 1, 0, (struct sockaddr *)&sin, sizeof(sin));
		return 0;
	case P_SENDMSG:
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &lv;
		mh.msg_iovlen = 1;
		sendmsg(sv[0], &mh, MSG_NOSIGNAL);
		return 0;
	case P_KILL_PARENT:
		kill(parent, 0);
		return 0;
	case P_TGKILL_PARENT:
		syscall(SYS_tgkill, parent, parent, 0);
		return 0;
	case P_TGKILL_SELF:
		return syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), 0) == 0 ? 0 : 1;
	case P_PTRACE:
		ptrace(PTRACE_ATTACH, parent, NULL, NULL);
		return 0;
	case P_VM_READV:
		syscall(SYS_process_vm_readv, parent, &lv, 1, &rv, 1, 0);
		return 0;
	case P_FORK:
		pid = fork();
		if (pid == 0)
			_exit(0);
		return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? 0 : 1;
	case P_EXECVE:
		execl("/bin/true", "true", (char *)NULL);
		return 0;
	case P_OPEN:
		open("/etc/hostname", O_RDONLY);
		return 0;
	case P_PRCTL_NAME:
		return prctl(PR_SET_NAME, "probe", 0, 0, 0) == 0 ? 0 : 1;
	case P_PRCTL_GET_DUMPABLE:
		prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		return 0;
	case P_FORK_PEER_SOCKET:
		pid = fork();
		if (pid == 0) {
			if (sandbox_enter(SANDBOX_PEER) < 0)
				_exit(3);
			socket(AF_INET, SOCK_DGRAM, 0);
			_exit(0);
		}
		/* The front itself still may: its filter is its own. */
		if (socket(AF_INET, SOCK_DGRAM, 0) < 0)
			return 4;
		if (waitpid(pid, &st, 0) != pid)
			return 5;
		return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS ? 0 : 6;
	}
	return 9;
}

/* "lived" (exit 0), "killed" (SIGSYS), or anything else as a failure. */
static const char *probe(enum sandbox_role role, enum probe p)
{
	static char other[64];
	pid_t pid;
	int st;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	parent = getpid();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (sandbox_enter(role) < 0)
			_exit(2);
		_exit(run_probe(p));
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(sv[0]);
	close(sv[1]);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return "lived";
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		return "killed";
	snprintf(other, sizeof(other), "%s %d", WIFEXITED(st) ? "exit" : "signal",
		 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return other;
}

START_TEST(peer_reaches_nothing_but_its_descriptors)
{
	ck_assert_str_eq(probe(SANDBOX_PEER, P_NOTHING), "lived");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SEND_PAIR), "lived");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_TGKILL_SELF), "lived");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SOCKET), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SENDTO_ADDR), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SENDMSG), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_KILL_PARENT), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_TGKILL_PARENT), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_PTRACE), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_VM_READV), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_FORK), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_EXECVE), "killed");
#ifndef UNDER_ASAN
	ck_assert_str_eq(probe(SANDBOX_PEER, P_OPEN), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_PRCTL_NAME), "killed");
#endif
}
END_TEST

/*
 * The front hands its peers to the monitor (doc/security.md: they run as other
 * uids): no fork, no wait4, no kill, no signal of another process.
 */
START_TEST(front_neither_forks_nor_signals)
{
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_SOCKET), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_TGKILL_SELF), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_FORK), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_FORK_PEER_SOCKET), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_KILL_CHILD), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_KILL_PARENT), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_TGKILL_PARENT), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_WAIT4), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_SETSOCKOPT_NODELAY), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_SETSOCKOPT_REUSEADDR), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_IOCTL_TCGETS), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_SOCKETPAIR_DGRAM), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_SOCKETPAIR_STREAM), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SOCKETPAIR_DGRAM), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_CLONE_NEWNET), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_EXECVE), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_PTRACE), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_VM_READV), "killed");
#ifndef UNDER_ASAN
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_OPEN), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_PRCTL_NAME), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_PRCTL_GET_DUMPABLE), "killed");
#endif
}
END_TEST

START_TEST(core_has_sockets_but_no_processes)
{
	ck_assert_str_eq(probe(SANDBOX_CORE, P_SOCKET_UNIX), "lived");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_SOCKET), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_IOCTL_TCGETS), "lived");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_TGKILL_SELF), "lived");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_TGKILL_PARENT), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_KILL_PARENT), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_OPEN), "lived");
#ifndef UNDER_ASAN
	ck_assert_str_eq(probe(SANDBOX_CORE, P_OPEN_WRITE), "killed");
#endif
	ck_assert_str_eq(probe(SANDBOX_CORE, P_FORK), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_EXECVE), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_PTRACE), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_VM_READV), "killed");
}
END_TEST

/* What every role may do with fcntl, prlimit64, mmap and mprotect. */
START_TEST(every_role_argument_rules)
{
	static const enum sandbox_role roles[] = { SANDBOX_CORE, SANDBOX_FRONT, SANDBOX_PEER };
	unsigned i;

	for (i = 0; i < 3; i++) {
		enum sandbox_role r = roles[i];

		ck_assert_str_eq(probe(r, P_PRLIMIT_SELF), "lived");
		ck_assert_str_eq(probe(r, P_PRLIMIT_PARENT), "killed");
		ck_assert_str_eq(probe(r, P_FCNTL_GETFL), "lived");
		ck_assert_str_eq(probe(r, P_FCNTL_SETFL_NONBLOCK), "lived");
		ck_assert_str_eq(probe(r, P_FCNTL_SETFL_ASYNC), "killed");
		ck_assert_str_eq(probe(r, P_FCNTL_SETOWN), "killed");
		ck_assert_str_eq(probe(r, P_FCNTL_SETOWN_EX), "killed");
		ck_assert_str_eq(probe(r, P_FCNTL_SETSIG), "killed");
		ck_assert_str_eq(probe(r, P_FCNTL_DUPFD), "killed");
		ck_assert_str_eq(probe(r, P_IOCTL_TIOCSTI), "killed");
		ck_assert_str_eq(probe(r, P_MMAP_ANON_EXEC), "killed");
		ck_assert_str_eq(probe(r, P_MMAP_FILE_WX), "killed");
		ck_assert_str_eq(probe(r, P_MPROTECT_EXEC), "killed");
		ck_assert_str_eq(probe(r, P_SOCKET_NETLINK), "killed");
		ck_assert_str_eq(probe(r, P_SOCKET_PACKET), "killed");
		ck_assert_str_eq(probe(r, P_CLONE_NEWUSER), "killed");
		ck_assert_str_eq(probe(r, P_KILL_GROUP), "killed");
		ck_assert_str_eq(probe(r, P_SETSOCKOPT_ATTACH), "killed");
	}
	/* The core alone maps (read-only) files executable: NSS modules. */
	ck_assert_str_eq(probe(SANDBOX_CORE, P_MMAP_FILE_EXEC), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_MMAP_FILE_EXEC), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_MMAP_FILE_EXEC), "killed");
}
END_TEST

/* What a peer may still do on its own descriptors, and nothing beyond. */
START_TEST(peer_argument_rules)
{
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SETSOCKOPT_NODELAY), "lived");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_SETSOCKOPT_REUSEADDR), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_WAIT4), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_RECVMMSG), "lived");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_RECVMMSG_TIMEOUT), "killed");
	ck_assert_str_eq(probe(SANDBOX_PEER, P_KILL_CHILD), "killed");
}
END_TEST

/* A free id for a peer: no account's, no group's (high, as the default range). */
static uid_t free_id(void)
{
	uid_t id;

	for (id = 1879048192u + 4000; id < 1879048192u + 5000; id++)
		if (!getpwuid(id) && !getgrgid(id))
			return id;
	return 0;
}

/*
 * A peer's drop, as the monitor's child makes it (root only): its own uid
 * and gid, no way back, RLIMIT_NPROC 1 (no second process of its uid),
 * and the process that forked it out of its reach (a signal, without any
 * filter or Landlock: the uid alone).
 */
START_TEST(peer_drops_to_its_own_uid)
{
	uid_t id = free_id();
	pid_t pid;
	int st;

	if (geteuid() != 0 || id == 0) {
		fprintf(stderr, "# not root (or no free id): the peer's drop not probed\n");
		return;
	}
	parent = getpid();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uid_t r, e, su;
		pid_t c;

		if (sandbox_drop_peer(id, id) < 0)
			_exit(2);
		if (getresuid(&r, &e, &su) < 0 || r != id || e != id || su != id ||
		    getgid() != id || setuid(0) == 0)
			_exit(3);
		c = fork();
		if (c == 0)
			_exit(0);
		if (c > 0 || errno != EAGAIN)
			_exit(4);
		/* Not its parent's uid: EPERM, whatever Landlock says. */
		if (kill(parent, 0) == 0 || errno != EPERM)
			_exit(5);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* The start-up check of the peers' range (bgw-muxd refuses an overlap). */
START_TEST(peer_range_must_be_no_ones)
{
	char err[300] = "";
	struct passwd *pw = getpwuid(0);

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(sandbox_peer_range_check(0, 1, err, sizeof(err)), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, pw->pw_name));
	ck_assert_int_eq(sandbox_peer_range_check(1879048192u + 4000, 16, err, sizeof(err)), 0);
}
END_TEST

/* A subordinate-id file of these bytes; its path in path. */
static void subid_file(char path[64], const char *text, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/bgw-subid-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/*
 * /etc/subuid and /etc/subgid lines: ranges found, a line over the cap
 * refused with its number (a fixed 512-byte fgets read its tail as a
 * line of its own: here a range that is not there), no wrap on huge
 * numbers, a NUL-bearing line skipped.
 */
START_TEST(subid_lines)
{
	char path[64], err[300] = "", text[2048];
	size_t n;

	subid_file(path, "alice:100000:65536\nbob:5000:10\n", 31);
	ck_assert_int_eq(sandbox_subid_check(path, 5009, 4, err, sizeof(err)), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "\"bob\" the ids 5000..5009"));
	ck_assert_int_eq(sandbox_subid_check(path, 5010, 4, err, sizeof(err)), 0);
	ck_assert_int_eq(sandbox_subid_check(path, 4990, 10, err, sizeof(err)), 0);
	ck_assert_int_eq(sandbox_subid_check(path, 4990, 11, err, sizeof(err)), -EEXIST);
	unlink(path);

	/* A malformed line of 600 bytes whose tail looks like a range for 7000. */
	n = (size_t)snprintf(text, sizeof(text), "alice:100000:65536\nbad:12x");
	memset(text + n, 'x', 600);
	n += 600;
	n += (size_t)snprintf(text + n, sizeof(text) - n, ":7000:10\n");
	subid_file(path, text, n);
	ck_assert_int_eq(sandbox_subid_check(path, 7000, 4, err, sizeof(err)), 0);
	unlink(path);
	/* Over the cap (1024): refused, the line said. */
	n = (size_t)snprintf(text, sizeof(text), "alice:100000:65536\n");
	memset(text + n, 'y', 1100);
	n += 1100;
	n += (size_t)snprintf(text + n, sizeof(text) - n, ":7000:10\nbob:5000:10\n");
	subid_file(path, text, n);
	ck_assert_int_eq(sandbox_subid_check(path, 7000, 4, err, sizeof(err)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err, "line 2 is longer than 1024 bytes"));
	ck_assert_int_eq(sandbox_subid_check(path, 5000, 4, err, sizeof(err)), -E2BIG);
	unlink(path);

	/* A NUL ends a line's text, as for shadow: the range before it counts. */
	subid_file(path, "alice:100000:65536\0junk\n", 24);
	ck_assert_int_eq(sandbox_subid_check(path, 100010, 4, err, sizeof(err)), -EEXIST);
	unlink(path);

	/* Numbers near the top: no wrap into the low ids; a line cut at a NUL. */
	subid_file(path, "big:18446744073709551615:10\nn\0l:0:100\nlast:300:1", 48);
	ck_assert_int_eq(sandbox_subid_check(path, 0, 10, err, sizeof(err)), 0);
	/* The last line has no newline: read all the same. */
	ck_assert_int_eq(sandbox_subid_check(path, 300, 1, err, sizeof(err)), -EEXIST);
	unlink(path);
	/* No file: no subordinate ids. */
	ck_assert_int_eq(sandbox_subid_check("/nonexistent/subuid", 0, 10, err, sizeof(err)), 0);
}
END_TEST

/*
 * Without any seccomp filter: a peer's Landlock domain (Linux 6.12) keeps
 * it from signalling the process that forked it, though of its uid.
 */
START_TEST(peer_signals_nobody_outside_its_domain)
{
	pid_t pid;
	int st;

	if (!sandbox_landlock_scoped()) {
		fprintf(stderr, "# no Landlock signal scope in this kernel: not probed\n");
		return;
	}
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (sandbox_drop_privileges(SANDBOX_PEER) < 0)
			_exit(2);
		if (kill(getppid(), 0) == 0 || errno != EPERM)
			_exit(3);
		/* Its own children, in a domain nested in its own: still. */
		_exit(run_probe(P_KILL_CHILD));
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(sv[0]);
	close(sv[1]);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

static void setup(void)
{
	exec_fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(exec_fd, 0);
	victim = fork();
	ck_assert_int_ge(victim, 0);
	if (victim == 0) {
		/* Not holding the test's output open if the test dies. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		dup2(exec_fd, 1);
		dup2(exec_fd, 2);
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(victim, victim);
}

static void teardown(void)
{
	int st;

	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
	close(exec_fd);
}

Suite *test_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("roles");

	log_open("check_muxd_sandbox", LOG_TARGET_STDERR);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, peer_reaches_nothing_but_its_descriptors);
	tcase_add_test(tc, front_neither_forks_nor_signals);
	tcase_add_test(tc, core_has_sockets_but_no_processes);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_role_argument_rules);
	tcase_add_test(tc, peer_argument_rules);
	tcase_add_test(tc, peer_drops_to_its_own_uid);
	tcase_add_test(tc, peer_range_must_be_no_ones);
	tcase_add_test(tc, subid_lines);
	tcase_add_test(tc, peer_signals_nobody_outside_its_domain);
	suite_add_tcase(s, tc);
	return s;
}
