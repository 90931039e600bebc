/* SPDX-License-Identifier: MIT */
/*
 * The sandbox of bgw-muxd's unprivileged processes (doc/security.md): drop
 * to an unprivileged user, forbid regaining privileges, then a seccomp
 * allow-list of system calls per role. A call outside the list kills the
 * process (SECCOMP_RET_KILL_PROCESS): the monitor, seeing the core or the
 * front die, logs it and exits; a peer's death ends only its channel.
 */
#ifndef BGW_MUX_SANDBOX_H
#define BGW_MUX_SANDBOX_H

#include <stdbool.h>

/* The account the worker runs as when started as root; else nobody. */
#define SANDBOX_USER		"bgw"
#define SANDBOX_FALLBACK_ID	65534

/*
 * As root: setgroups(0), setresgid/setresuid to SANDBOX_USER (or 65534),
 * checked afterwards (no way back to 0). Not root: nothing to drop, one
 * log line. 0 or a negative errno.
 */
int sandbox_drop_privileges(void);
enum sandbox_role {
	SANDBOX_CORE,		/* bgw-muxd[mux]: the mux core, local clients */
	SANDBOX_FRONT,		/* bgw-muxd[net]: listeners, forks peers */
	SANDBOX_PEER,		/* bgw-muxd[peer]: one tunnel peer */
};

/*
 * Non-dumpable, PR_SET_NO_NEW_PRIVS and the role's seccomp filter (a
 * peer forked from the front stacks its own on the front's). 0 or a
 * negative errno.
 */
int sandbox_enter(enum sandbox_role role);
/* The process name shown by ps (PR_SET_NAME, 15 bytes). */
void sandbox_set_name(const char *name);

#endif /* BGW_MUX_SANDBOX_H */
