/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd's processes (doc/security.md, "Process model"): what every
 * role has, and the helpers every role uses (common.c). Each role's own
 * state is a struct of its own over struct muxd, so what a process may
 * hold shows in its type:
 *
 *   monitor.h   struct muxd_monitor: privileged, the secrets (authdb with
 *               verifiers, SCRAM secret, keys, audit log); monitor.c
 *               answers requests from one table, never parses network data
 *   core.h      struct muxd_core, bgw-muxd[mux]: the controller, the mux
 *               core, local (core_local.c) and tunnel (core_tun.c) sessions
 *   front.c     bgw-muxd[net], the network front: listeners, cookies, relays
 *   peer.c      bgw-muxd[peer], one process per tunnel peer (DTLS/TLS, login),
 *               forked by the monitor under a uid of its own
 *   muxd.c      main: configuration, start-up, the forks
 */
#ifndef BGW_MUXD_H
#define BGW_MUXD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "conf.h"
#include "loop.h"
#include "rpc.h"

#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_AUTHDB	3

#define SRC_KEY_MAX	(INET6_ADDRSTRLEN + 4)	/* "2001:db8::/64" */

enum muxd_role {
	MUXD_MONITOR,		/* bgw-muxd: privileged, no network bytes */
	MUXD_CORE,		/* bgw-muxd[mux]: the mux core, the sessions */
	MUXD_FRONT,		/* bgw-muxd[net]: listeners, cookies */
	MUXD_PEER,		/* bgw-muxd[peer]: one tunnel peer */
};

/* What every process has: no secret, nothing of another role's. */
struct muxd {
	struct loop *l;
	struct muxd_conf conf;
	enum muxd_role role;
	int req_fd;		/* core, front, peer: requests to the monitor */
	/*
	 * Start-up (muxd.c): the pipe on which each process says it is up,
	 * read by the parent that stays in the foreground until then;
	 * /dev/null for the standard streams afterwards.
	 */
	int ready_fd;
	int null_fd;
	int exit_status;
	bool stopping;
	pid_t self;		/* this process */
	/*
	 * The process that forked this one (the monitor, for every role):
	 * its death is this one's (sandbox_die_with_parent).
	 */
	pid_t parent;
};

/* common.c */
uint64_t muxd_now_ms(void);
void rpc_str(char *dst, size_t cap, const char *s);
void src_key_sa(const void *addr, size_t alen, char *out, size_t cap);
void src_key_peer(const char *peer, char *out, size_t cap);
/*
 * An unprivileged process asks the monitor (muxd/rpc.h). A broken request
 * channel means the monitor is gone: the process stops. muxd_rpc sends a
 * request the caller built; muxd_call builds one from its strings.
 */
int muxd_rpc(struct muxd *d, const struct rpc_req *q, struct rpc_reply *rep, int *fd);
int muxd_call(struct muxd *d, uint32_t type, uint8_t arg, const char *name,
	      const char *src, const char *rd, const char *detail,
	      struct rpc_reply *rep, int *fd);
/* An unprivileged process's audit record, written by the monitor (RPC_AUDIT). */
void muxd_audit(struct muxd *d, enum audit_event ev, const char *user,
		const char *src, const char *detail);
int tunnel_check_files(const struct muxd_conf *c);
/*
 * This process is up (listening, sandboxed): it tells the waiting parent
 * and stops writing to the terminal. Once per process; no-op with -f.
 */
void muxd_ready(struct muxd *d);
/*
 * The signals that stop or reload the daemon (SIGTERM, SIGINT, SIGHUP),
 * blocked by the monitor before it forks the roles: systemd and a
 * terminal send them to the whole group at any moment, also while a
 * process is still setting up, and one arriving before its loop takes
 * it (signalfd, loop_add_signal) would kill it with the default action --
 * a normal stop read as "killed by signal 15", exit status 143. Blocked,
 * it waits pending until the loop reads it. Each role unblocks what its
 * loop does not take (muxd_unblock_signal) once its handlers are set.
 * 0 or -errno.
 */
int muxd_block_stop_signals(void);
void muxd_unblock_signal(int signo);
/*
 * A child just forked from the monitor takes the common part: the
 * configuration, the start-up pipe and /dev/null; the role is its own.
 */
void muxd_child_init(struct muxd *child, const struct muxd *parent, enum muxd_role role);
/* A child's end: its channel, the start-up pipe, /dev/null, its loop. */
void muxd_child_end(struct muxd *d);
/*
 * And its exit. A sandboxed process leaves without atexit handlers:
 * LeakSanitizer's exit check traces a clone of the process, which the
 * filter (rightly) kills, and the check would then wait forever. Their
 * leaks are checked with `sandbox no` (tests/t-muxd-privsep.sh).
 */
void muxd_child_exit(const struct muxd *d, int status) __attribute__((noreturn));

#endif /* BGW_MUXD_H */
