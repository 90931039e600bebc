/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filters of bgw-muxd's roles (mux/sandbox.h), enforced by
 * the kernel: each case forks, the child enters a role's filter and makes
 * one system call; the parent sees whether the child lived (exit 0) or
 * was killed by the filter (SIGSYS). A peer may not reach other
 * processes or make sockets, the front may fork but not exec, and a peer
 * forked from the front stacks its own filter on the front's.
 *
 * Under AddressSanitizer the filters also allow what its reports need
 * (prctl, openat, ...): the cases probing those run in other builds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
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
};

static int sv[2];

/* In the child, after the filter: 0 if the call came back at all. */
static int run_probe(enum probe p)
{
	char buf[8] = "x";
	struct sockaddr_in sin;
	struct iovec lv = { buf, 1 }, rv = { buf, 1 };
	struct msghdr mh;
	pid_t pid;
	int st;

	switch (p) {
	case P_NOTHING:
		return 0;
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
		kill(getppid(), 0);
		return 0;
	case P_TGKILL_PARENT:
		syscall(SYS_tgkill, getppid(), getppid(), 0);
		return 0;
	case P_TGKILL_SELF:
		return syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), 0) == 0 ? 0 : 1;
	case P_PTRACE:
		ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
		return 0;
	case P_VM_READV:
		syscall(SYS_process_vm_readv, getppid(), &lv, 1, &rv, 1, 0);
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

START_TEST(front_forks_but_never_execs)
{
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_SOCKET), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_FORK), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_PRCTL_NAME), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_FORK_PEER_SOCKET), "lived");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_EXECVE), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_PTRACE), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_VM_READV), "killed");
#ifndef UNDER_ASAN
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_OPEN), "killed");
	ck_assert_str_eq(probe(SANDBOX_FRONT, P_PRCTL_GET_DUMPABLE), "killed");
#endif
}
END_TEST

START_TEST(core_has_sockets_but_no_processes)
{
	ck_assert_str_eq(probe(SANDBOX_CORE, P_SOCKET), "lived");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_OPEN), "lived");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_FORK), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_EXECVE), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_PTRACE), "killed");
	ck_assert_str_eq(probe(SANDBOX_CORE, P_VM_READV), "killed");
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("roles");

	log_open("check_muxd_sandbox", LOG_TARGET_STDERR);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, peer_reaches_nothing_but_its_descriptors);
	tcase_add_test(tc, front_forks_but_never_execs);
	tcase_add_test(tc, core_has_sockets_but_no_processes);
	suite_add_tcase(s, tc);
	return s;
}
