/* SPDX-License-Identifier: MIT */
/*
 * What a subverted bgw-muxd[peer] would try against the other processes
 * of the daemon (tests/t-muxd-isolation.sh). It becomes a peer as the
 * front makes one -- the peers' uid, no capabilities, no new privileges,
 * a Landlock domain of its own, the front's filter with the peer's
 * stacked on it (muxd/sandbox.c, the same code) -- then makes one call
 * against TARGET:
 *   prlimit  RLIMIT_NOFILE of TARGET set to 5 (stopped the whole daemon)
 *   setown   F_SETOWN TARGET + F_SETSIG SIGKILL + O_ASYNC on a socket of
 *            its own, then I/O on it: the kernel's SIGIO as a SIGKILL
 *   kill     SIGKILL
 *   ptrace   PTRACE_ATTACH
 * --no-filter skips the seccomp filters: what the uids, Landlock and the
 * dumpable flag refuse by themselves. `peer-attack --scoped` exits 0 when
 * the kernel has Landlock's signal scope.
 *
 * Exit status: 0 the call was refused with an error, 1 it went through
 * (or setown's signal could have been sent), 2 usage or setup; killed by
 * SIGSYS when the filter refused it.
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
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

static int attack(const char *what, pid_t target)
{
	struct rlimit five = { 5, 5 };
	int sv[2];

	if (strcmp(what, "prlimit") == 0)
		return prlimit(target, RLIMIT_NOFILE, &five, NULL) == 0;
	if (strcmp(what, "kill") == 0)
		return kill(target, SIGKILL) == 0;
	if (strcmp(what, "ptrace") == 0)
		return ptrace(PTRACE_ATTACH, target, NULL, NULL) == 0;
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
	bool filter = true;
	uid_t uid;
	pid_t target;
	int a = 1;

	if (argc == 2 && strcmp(argv[1], "--scoped") == 0)
		return sandbox_landlock_scoped() ? 0 : 1;
	if (argc > 1 && strcmp(argv[1], "--no-filter") == 0) {
		filter = false;
		a++;
	}
	if (argc != a + 3) {
		fprintf(stderr, "usage: peer-attack [--no-filter] UID prlimit|setown|kill|ptrace PID\n");
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
	if (sandbox_drop_privileges(SANDBOX_PEER) < 0)
		return 2;
	if (filter && (sandbox_enter(SANDBOX_FRONT) < 0 || sandbox_enter(SANDBOX_PEER) < 0))
		return 2;
	return attack(argv[a + 1], target);
}
