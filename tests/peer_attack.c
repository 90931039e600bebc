/* SPDX-License-Identifier: MIT */
/*
 * What a subverted bgw-muxd[peer] would try against the other processes
 * of the daemon (tests/t-muxd-isolation.sh): the injected calls of issue
 * 17. It becomes a peer as the monitor makes one -- a peer's uid (UID,
 * e.g. a live peer's own), no capabilities, no new privileges, a
 * Landlock domain of its own, the peer's filter (muxd/sandbox.c, the same
 * code) -- then makes one call against TARGET:
 *   prlimit  RLIMIT_NOFILE of TARGET set to 5 (stopped the whole daemon)
 *   setown   F_SETOWN TARGET + F_SETSIG SIGKILL + O_ASYNC on a socket of
 *            its own, then I/O on it: the kernel's SIGIO as a SIGKILL
 *   kill     SIGKILL
 *   ptrace   PTRACE_ATTACH
 *   vmread   process_vm_readv of one byte of TARGET's stack
 * --no-filter skips the seccomp filter: what the uids, Landlock and the
 * dumpable flag refuse by themselves; --uid-only skips Landlock too:
 * what the uids (and the dumpable flag) refuse alone. `peer-attack
 * --scoped` exits 0 when the kernel has Landlock's signal scope.
 *
 * Exit status: 0 the call was refused with EPERM, 3 refused with another
 * error, 1 it went through (or setown's signal could have been sent), 2
 * usage or setup; killed by SIGSYS when the filter refused it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/* Refused: 0 with EPERM, 3 with anything else. */
static int refused(long r)
{
	if (r >= 0)
		return 1;
	if (errno == EPERM)
		return 0;
	perror("peer-attack: refused, but not with EPERM");
	return 3;
}

static int attack(const char *what, pid_t target)
{
	struct rlimit five = { 5, 5 };
	char buf[1], there;
	struct iovec lv = { buf, 1 }, rv = { &there, 1 };
	int sv[2];

	if (strcmp(what, "prlimit") == 0)
		return refused(prlimit(target, RLIMIT_NOFILE, &five, NULL));
	if (strcmp(what, "kill") == 0)
		return refused(kill(target, SIGKILL));
	if (strcmp(what, "ptrace") == 0)
		return refused(ptrace(PTRACE_ATTACH, target, NULL, NULL));
	/* An address of the target's: ours on the stack, the same binary's layout or not. */
	if (strcmp(what, "vmread") == 0)
		return refused(syscall(SYS_process_vm_readv, target, &lv, 1, &rv, 1, 0));
	if (strcmp(what, "setown") == 0) {
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
			return 2;
		if (fcntl(sv[0], F_SETOWN, target) < 0 ||
		    fcntl(sv[0], F_SETSIG, SIGKILL) < 0 ||
		    fcntl(sv[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
			return 0;
		/* Data arriving on sv[0]: SIGIO (here SIGKILL) to its owner. */
		if (write(sv[1], "x", 1) != 1)
			return 2;
		return 1;
	}
	return 2;
}

int main(int argc, char **argv)
{
	bool filter = true, landlock = true;
	uid_t uid;
	pid_t target;
	int a = 1;

	if (argc == 2 && strcmp(argv[1], "--scoped") == 0)
		return sandbox_landlock_scoped() ? 0 : 1;
	if (argc > 1 && strcmp(argv[1], "--no-filter") == 0) {
		filter = false;
		a++;
	} else if (argc > 1 && strcmp(argv[1], "--uid-only") == 0) {
		filter = false;
		landlock = false;
		a++;
	}
	if (argc != a + 3) {
		fprintf(stderr, "usage: peer-attack [--no-filter | --uid-only] UID prlimit|setown|kill|ptrace|vmread PID\n");
		return 2;
	}
	uid = (uid_t)strtoul(argv[a], NULL, 10);
	target = (pid_t)strtol(argv[a + 2], NULL, 10);
	log_open("peer-attack", LOG_TARGET_STDERR);
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || uid == 0) {
		perror("peer-attack: becoming the peers' uid");
		return 2;
	}
	if (landlock && sandbox_drop_privileges(SANDBOX_PEER) < 0)
		return 2;
	if (filter && sandbox_enter(SANDBOX_PEER) < 0)
		return 2;
	return attack(argv[a + 1], target);
}
