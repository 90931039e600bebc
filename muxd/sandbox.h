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
#include <sys/types.h>

/*
 * The accounts the roles run as when started as root (systemd/bgw.sysusers
 * creates them); 65534 for a missing one.
 */
#define SANDBOX_USER		"bgw"		/* the core */
#define SANDBOX_NET_USER	"bgw-net"	/* the front */
#define SANDBOX_FALLBACK_ID	65534

enum sandbox_role {
	SANDBOX_CORE,		/* bgw-muxd[mux]: the mux core, local clients */
	SANDBOX_FRONT,		/* bgw-muxd[net]: listeners, cookies */
	SANDBOX_PEER,		/* bgw-muxd[peer]: one tunnel peer */
};

/*
 * The core and the front, as root: the bounding set emptied,
 * setgroups(0), setresgid/setresuid to the role's account, checked
 * afterwards (no way back to 0), every capability set cleared; not root:
 * the capability sets cleared, one log line. Every role, a peer too:
 * PR_SET_NO_NEW_PRIVS and, where the kernel has them (Landlock ABI 6), a
 * Landlock domain of its own scoped for signals and abstract unix
 * sockets (a peer: only these; sandbox_drop_peer drops its ids). Applies
 * with `sandbox no` too. 0 or a negative errno.
 */
int sandbox_drop_privileges(enum sandbox_role role);
/*
 * A peer forked by the monitor, as root: RLIMIT_NPROC 1, then uid and gid
 * (one of the peers' range, its alone), the rest as above; not root: the
 * daemon's uid stays. 0 or a negative errno.
 */
int sandbox_drop_peer(uid_t uid, gid_t gid);
/*
 * The peers' ids base .. base + count - 1 are no account's, no group's
 * and in no subordinate range (/etc/subuid, /etc/subgid): 0, or -EEXIST
 * with the first one found in err, or -E2BIG (a subordinate-id file with
 * a line or a line count over what is read: said in err, with the line)
 * or -EIO (a read error: said in err).
 */
int sandbox_peer_range_check(uid_t base, unsigned count, char *err, size_t cap);
/* The subordinate-id part of it, for the file path (subuid(5) format). */
int sandbox_subid_check(const char *path, uid_t base, unsigned count, char *err, size_t cap);
/* Whether the kernel offers Landlock's signal scope (Linux 6.12). */
bool sandbox_landlock_scoped(void);

/*
 * Non-dumpable, PR_SET_NO_NEW_PRIVS and the role's seccomp filter. 0 or
 * a negative errno.
 */
int sandbox_enter(enum sandbox_role role);
/*
 * Close every descriptor but 0, 1, 2 and the n in keep (close_range).
 * 0 or a negative errno.
 */
int sandbox_close_all_but(const int *keep, unsigned n);
/*
 * Die with the parent: PR_SET_PDEATHSIG(SIGKILL), then a check that the
 * parent is still the process that forked this one (pid parent): it may
 * have died between the fork and the prctl, and then no signal comes.
 * The kernel clears the setting when the credentials change, so a role
 * calls it right after its fork and again after sandbox_drop_privileges.
 * 0, or a negative errno (-ESRCH: the parent is gone): the caller exits.
 */
int sandbox_die_with_parent(pid_t parent);
/* The process name shown by ps (PR_SET_NAME, 15 bytes). */
void sandbox_set_name(const char *name);

#endif /* BGW_MUX_SANDBOX_H */
