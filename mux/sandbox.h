/* SPDX-License-Identifier: MIT */
/*
 * The worker's sandbox (doc/security.md): drop to an unprivileged user,
 * forbid regaining privileges, then a seccomp allow-list of system calls.
 * A call outside the list kills the whole worker (SECCOMP_RET_KILL_PROCESS)
 * and the monitor, seeing it die, logs it and exits.
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
/* PR_SET_NO_NEW_PRIVS and the seccomp filter. 0 or a negative errno. */
int sandbox_enter(void);
/* The process name shown by ps (PR_SET_NAME, 15 bytes). */
void sandbox_set_name(const char *name);

#endif /* BGW_MUX_SANDBOX_H */
