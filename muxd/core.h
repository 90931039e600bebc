/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[mux], the core (doc/security.md, "Process model"): the
 * controller, the mux core and every session's virtual controller. Its
 * authdb is the policy the monitor pushes, without verifiers; it holds no
 * key and no secret. core.c runs it, core_local.c has the local
 * listener's sessions, core_tun.c the tunnel's, ctl_core.c its answers to
 * bgw-muxd status and kick.
 */
#ifndef BGW_MUXD_CORE_H
#define BGW_MUXD_CORE_H

#include "authdb.h"
#include "mux.h"
#include "pair.h"
#include "muxd.h"
#include "pktq.h"
#include "prioq.h"
#include "tunnel.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
#define CLIENT_QUEUE_PKTS 4096

struct mux_transport;

#define CORE_HIRK_MAX	256	/* BONDS_MAX */

struct muxd_core {
	struct muxd d;
	struct authdb *db;		/* the policy: no verifiers */
	int push_fd;			/* from the monitor: policy, links, asks */
	struct mux *mux;
	struct mux_transport *tr;
	struct loop_timer *restart;
	unsigned backoff_ms;
	int lfd[MUXD_LISTEN_MAX];
	struct client *clients;
	unsigned nclients;
	struct loop_timer *reap;
	/* The tunnel, when configured. */
	struct tun_server *tun;
	struct rsess *rsessions;
	struct loop_timer *rreap;
	/* bgw-muxd pair (core_pair.c): the one pairing at the gateway. */
	struct mux_pair *pair;
	bool pairing;
	uint32_t pair_seq;
	struct mux_pair_dev pair_dev;
	/*
	 * The household LE bonds' IRKs with their identities (RPC_BOND_IRKS):
	 * a device on a private address is recognised by them as by the
	 * authdb's IRKs. Tracking keys, no LTK; wiped at the end.
	 */
	struct core_hirk {
		struct bdaddr id;
		uint8_t type;
		uint8_t irk[16];
	} hirk[CORE_HIRK_MAX];
	unsigned nhirk;
};

/* The first member of every session owner: session_dead dispatches on it. */
enum sess_kind {
	SESS_LOCAL,
	SESS_TUNNEL,
};

/* A local session: H4 over the Unix listener. */
struct client {
	enum sess_kind kind;
	struct muxd_core *c;
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
	struct muxd_core *c;
	struct rsess *next, **pprev;
	struct tun_session *ts;
	struct mux_session *s;
	struct prioq outq;	/* what tun_session_send could not take yet */
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

/* core.c */
int core_run(struct muxd_core *c);
void core_cleanup(struct muxd_core *c);

/* core_local.c */
bool core_is_user(const struct muxd_core *c, const char *user);
/* max-sessions-per-user reached for this user (local and tunnel sessions). */
bool core_user_at_cap(const struct muxd_core *c, const char *name);
/* Into a session's outbound queue; reports give way first (mux.h, backpressure). */
int core_queue_push(struct pktq *q, const uint8_t *h4, size_t len);
/* The local listeners into the loop. 0 or -errno. */
int core_local_start(struct muxd_core *c);
void client_close_later(struct client *cl);
void core_local_cleanup(struct muxd_core *c);

/* core_tun.c */
int core_tun_start(struct muxd_core *c);
void core_tun_stop(struct muxd_core *c);
void rsess_dead(struct rsess *r);
/* After a reload: sessions whose user or certificate went end now. */
void core_tun_policy_changed(struct muxd_core *c);

/* ctl_core.c: the monitor asks for the sessions, or to end some */
int ctl_core_answer(struct muxd_core *c, const uint8_t *p, size_t len);

/* core_pair.c: bgw-muxd pair */
struct ctl_ask;
int core_pair_ask(struct muxd_core *c, const struct ctl_ask *a);
/*
 * The pairing's reserved user (MUX_PAIR_USER) while a pairing runs: it
 * exists (a NULL a), and may reach the device being paired, nothing else.
 */
bool core_pair_allows(const struct muxd_core *c, const char *user, const struct bdaddr *a,
		      uint8_t type);
void core_pair_stop(struct muxd_core *c);

/* The household LE bonds' IRKs (core.c). */
void core_hirk_refresh(struct muxd_core *c);
int core_hirk_resolve(const struct muxd_core *c, const struct bdaddr *rpa,
		      struct bdaddr *id, uint8_t *id_type);

#endif /* BGW_MUXD_CORE_H */
