/* SPDX-License-Identifier: MIT */
/*
 * tests/no-pidfd PROGRAM [ARG...]: runs PROGRAM where pidfd_open (Linux
 * 5.3) fails with ENOSYS, as on an older kernel or under valgrind 3.19:
 * a seccomp filter (inherited by every child and across exec) answers
 * that one system call, and nothing else changes. bgw-muxd's monitor
 * then watches its peer processes through SIGCHLD (t-muxd-nopidfd.sh).
 * With NO_PIDFD_ERRNO=EPERM the call fails with EPERM instead, as under a
 * container's seccomp profile that refuses what it does not list.
 */
#include "config.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *e = getenv("NO_PIDFD_ERRNO");
	int err = e && !strcmp(e, "EPERM") ? EPERM : ENOSYS;
	scmp_filter_ctx ctx;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: no-pidfd PROGRAM [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		fprintf(stderr, "no-pidfd: seccomp_init failed\n");
		return 1;
	}
	/* No new privileges: a filter without CAP_SYS_ADMIN needs it. */
	r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(pidfd_open), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "no-pidfd: cannot install the filter: %s\n", strerror(-r));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-pidfd: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
