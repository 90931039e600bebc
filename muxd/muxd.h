/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd's processes (doc/security.md, "Process model"): what they share.
 *
 *   muxd.c          main: configuration, the forks, what every role uses
 *   muxd_monitor.c  the monitor: privileged, holds the secrets, answers
 *                   requests, never parses network data
 *   muxd_core.c     bgw-muxd[mux]: the controller, the mux core, local and
 *                   tunnel sessions
 *   muxd_net.c      bgw-muxd[net], the network front, and bgw-muxd[peer],
 *                   one process per tunnel peer (DTLS/TLS and login)
 */
#ifndef BGW_MUXD_H
#define BGW_MUXD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "authdb.h"
#include "conf.h"
#include "loop.h"
#include "mux.h"
#include "pktq.h"
#include "relayfront.h"
#include "relayreg.h"
#include "relaysign.h"
#include "rpc.h"
#include "tunnel.h"

#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_AUTHDB	3

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
#define CLIENT_QUEUE_PKTS 4096
#define RATELIMIT_SLOTS	4096
#define SRC_KEY_MAX	(INET6_ADDRSTRLEN + 4)	/* "2001:db8::/64" */

enum muxd_role {
	MUXD_MONITOR,		/* bgw-muxd: privileged, no network bytes */
	MUXD_CORE,		/* bgw-muxd[mux]: the mux core, the sessions */
	MUXD_FRONT,		/* bgw-muxd[net]: listeners, cookies, forks */
	MUXD_PEER,		/* bgw-muxd[peer]: one tunnel peer */
};

struct muxd;
struct mon_chan;

/* The first member of every session owner: session_dead dispatches on it. */
enum sess_kind {
	SESS_LOCAL,
	SESS_TUNNEL,
};

struct client {
	enum sess_kind kind;
	struct muxd *d;
	struct client *next;
	int fd;
	uid_t uid;
	bool closing;
	struct mux_session *s;
	struct h4_reader *rd;
	struct pktq outq;
	size_t out_off;
};

/* A tunnel session (tunnel/tunnel.h) and its virtual controller. */
struct rsess {
	enum sess_kind kind;
	struct muxd *d;
	struct rsess *next, **pprev;
	struct tun_session *ts;
	struct mux_session *s;
	struct pktq outq;	/* what tun_session_send could not take yet */
	bool rx_held;		/* on_packet said -ENOBUFS: kick when drained */
	bool in_emit;		/* inside the core's emit: no calls back into it */
	bool writable_later;	/* on_writable came during emit: run from the loop */
	bool draining;		/* in tun_on_writable (a nested call returns) */
	bool dead;		/* the core ended it: close from the loop */
	bool cert;		/* logged in with a certificate (fpr valid) */
	uint8_t fpr[AUTHDB_FPR_LEN];
	char src[SRC_KEY_MAX];
	/* While its client is silent: links that come up again go again. */
	struct loop_timer *quiet_timer;
};

struct muxd {
	struct loop *l;
	struct muxd_conf conf;
	struct authdb *db;
	struct mux *mux;
	struct mux_transport *tr;
	struct loop_timer *restart;
	unsigned backoff_ms;
	int lfd[MUXD_LISTEN_MAX];
	struct client *clients;
	unsigned nclients;
	struct loop_timer *reap;
	/* The authdb's directory watched: bgw-authdb renames a new file in. */
	int ifd;
	struct loop_timer *ireload;
	/* The tunnel, when configured. */
	struct tun_server *tun;
	struct rsess *rsessions;
	struct loop_timer *rreap;
	struct ratelimit *rl_src;
	struct ratelimit *rl_user;
	struct ratelimit *known_src;	/* (user, source) pairs that logged in */
	struct ratelimit *known_host;	/* sources a login came from: the front's reserve */
	struct audit_log *audit;
	uint8_t secret[AUTHDB_SECRET_LEN];
	/*
	 * Peer: the monitor refused a SCRAM proof and counted the failure
	 * itself; the login_failed that follows in the same call chain
	 * (tunnel.c on_scram_final) must not count it again.
	 */
	bool verify_counted;
	/*
	 * Monitor: the tunnel server's private key, loaded after the forks so
	 * that no other process's memory ever held it; the peers' handshakes
	 * ask for signatures (RPC_SIGN, muxd/keysign.h).
	 */
	struct keysign *key;
	/*
	 * Monitor: the CA that client certificates chain to, for the
	 * certificate logins it checks itself (RPC_CERT_LOGIN).
	 */
	struct tun_certca *certca;
	/*
	 * Monitor: the key that registers the home id with relays (the CA's,
	 * relay-key), loaded after the forks like the server key; the front
	 * asks for each registration's signature (RPC_RELAY_SIGN).
	 */
	struct relaysign relaysign;
	/*
	 * Privilege separation (doc/security.md). The monitor keeps the
	 * authdb with its verifiers, the SCRAM secret, the rate limiters and
	 * the audit log. The core gets a policy copy without verifiers; every
	 * unprivileged process asks the monitor for the rest over its own
	 * request channel (req_fd).
	 */
	enum muxd_role role;
	int req_fd;		/* core, front, peer: requests out */
	int push_fd;		/* core: policy and links in; monitor: out */
	bool stopping;
	/* Monitor: its children and every process's request channel. */
	pid_t core_pid;
	pid_t front_pid;
	struct loop_timer *kill_timer;
	struct mon_chan *chans;
	unsigned npeer_chans;
	/* Front: the listeners and the credentials the peers inherit. */
	struct tun_front *front;
	struct tun_creds *creds;
	struct loop_timer *stop_timer;
	/*
	 * Front: the relays of the configuration, resolved at start, and
	 * the registrations with them (muxd/relayreg.h).
	 */
	struct sockaddr_storage relay_addr[MUXD_RELAY_MAX];
	socklen_t relay_alen[MUXD_RELAY_MAX];
	unsigned relay_conf_idx[MUXD_RELAY_MAX];	/* its relay line */
	unsigned nrelay_up;			/* resolved, registering */
	struct relayreg relayreg;
	struct loop_timer *relay_timer;
	struct relayfront relayfront;	/* CDs through the relays */
	/* Peer: its channel and login, then the relay to the core. */
	struct tun_peer *peer;
	struct loop *front_loop;	/* the front's, kept (not used) */
	int exit_status;
	/*
	 * Start-up (muxd.c): the single-instance lock (the pid file, held by
	 * the monitor); the pipe on which each process says it is up, read
	 * by the parent that stays in the foreground until then; /dev/null
	 * for their standard streams afterwards.
	 */
	int lock_fd;
	int ready_fd;
	int null_fd;
	/* Monitor: the control socket (muxd_ctl.c). */
	int ctl_fd;
	struct muxd_ctl *ctl;
	/* Front: /dev/null for its peers' standard streams (peer_run). */
	int peer_null_fd;
	bool sent_term;		/* monitor: it sent its children SIGTERM */
};

/* muxd.c */
int load_authdb(struct muxd *d);
uint64_t now_ms(void);
void rpc_str(char *dst, size_t cap, const char *s);
void src_key_sa(const void *addr, size_t alen, char *out, size_t cap);
void src_key_peer(const char *peer, char *out, size_t cap);
/*
 * An unprivileged process asks the monitor (muxd/rpc.h). A broken request
 * channel means the monitor is gone: the process stops.
 */
int muxd_call(struct muxd *d, uint32_t type, uint8_t arg, const char *name,
	      const char *src, const char *rd, const char *detail,
	      struct rpc_reply *rep, int *fd);
void muxd_audit(struct muxd *d, enum audit_event ev, const char *user,
		const char *src, const char *detail);
/* Monitor: append a record and log its count and head (the anchor). */
void muxd_audit_fields(struct muxd *d, enum audit_event ev,
		       const struct audit_fields *f);

int tunnel_check_files(const struct muxd_conf *c);
/*
 * This process is up (listening, sandboxed): it tells the waiting parent
 * and stops writing to the terminal. Once per process; no-op with -f.
 */
void muxd_ready(struct muxd *d);

/* muxd_monitor.c */
int tunnel_prepare(struct muxd *d);
int monitor_run(struct muxd *d, int core_req, int front_req);

/* muxd_core.c */
int core_run(struct muxd *d);
void client_close_later(struct client *c);
/* What only the monitor may hold, wiped in the others after the fork. */
void muxd_forget_secrets(struct muxd *d);
void core_cleanup(struct muxd *d);

/* muxd_ctl.c: bgw-muxd status and kick */
int ctl_listen(struct muxd *d);			/* monitor, before the forks */
int ctl_start(struct muxd *d);			/* monitor, in its loop */
void ctl_stop(struct muxd *d);
int ctl_core_answer(struct muxd *d, const uint8_t *p, size_t len);	/* core */
int ctl_main(const struct muxd_conf *c, int argc, char **argv);	/* the command */

/* muxd_net.c */
int front_run(struct muxd *d);

#endif /* BGW_MUXD_H */
