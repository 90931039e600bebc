/* SPDX-License-Identifier: MIT */
/*
 * The monitor of bgw-muxd (doc/security.md, "Process model"): the one
 * privileged process, and the only one whose type holds a secret: the
 * authdb with its verifiers, the SCRAM secret, the server's and the
 * relay's keys, the CA for certificate logins, the rate limiters and the
 * audit log. It answers the other processes' requests (monitor.c, one
 * table of what each role may ask) and never parses network data.
 */
#ifndef BGW_MUXD_MONITOR_H
#define BGW_MUXD_MONITOR_H

#include "authdb.h"
#include "muxd.h"
#include "relaysign.h"

#define RATELIMIT_SLOTS	4096

struct keysign;
struct mon_chan;
struct mon_peer;
struct tun_creds;
struct muxd_ctl;
struct ratelimit;
struct tun_certca;

struct muxd_monitor {
	struct muxd d;
	struct authdb *db;		/* with its verifiers */
	uint8_t secret[AUTHDB_SECRET_LEN];
	struct audit_log *audit;
	struct ratelimit *rl_src;
	struct ratelimit *rl_user;
	struct ratelimit *known_src;	/* (user, source) pairs that logged in */
	struct ratelimit *known_host;	/* sources a login came from: the front's reserve */
	/*
	 * The tunnel server's private key, loaded after the forks so that
	 * no other process's memory ever held it; the peers' handshakes ask
	 * for signatures (RPC_SIGN, muxd/keysign.h).
	 */
	struct keysign *key;
	/* The CA that client certificates chain to (RPC_CERT_LOGIN). */
	struct tun_certca *certca;
	/*
	 * The key that registers the home id with relays (the CA's,
	 * relay-key), loaded after the forks like the server key; the front
	 * asks for each registration's signature (RPC_RELAY_SIGN).
	 */
	struct relaysign relaysign;
	/* Once a day: is the registration certificate near its end? */
	struct loop_timer *relay_cert_timer;
	/* The local listeners, opened here and handed to the core at its fork. */
	int lfd[MUXD_LISTEN_MAX];
	int push_fd;			/* to the core: policy, links, control */
	pid_t core_pid;
	pid_t front_pid;
	struct loop_timer *kill_timer;
	struct mon_chan *chans;		/* every process's request channel */
	unsigned npeer_chans;
	/*
	 * The peer processes, forked here (RPC_SPAWN), one per uid of the
	 * range: slot i runs as peer_uid_base + i, and is free again only
	 * once its process was reaped. Taken round-robin, so that a uid
	 * comes back as late as it can.
	 */
	struct mon_peer *peers;		/* [conf.peer_uid_count] */
	unsigned peer_next;
	bool no_pidfd;			/* peers watched through SIGCHLD */
	/* The certificate chain the peers' handshakes show (no key: SIGN). */
	struct tun_creds *peer_creds;
	bool sent_term;			/* it sent its children SIGTERM */
	/* The authdb's directory watched: bgw-authdb renames a new file in. */
	int ifd;
	struct loop_timer *ireload;
	/* The single-instance lock (the pid file), held for the daemon's life. */
	int lock_fd;
	/* The control socket (ctl.c). */
	int ctl_fd;
	struct muxd_ctl *ctl;
};

/* monitor_db.c: the monitor's own state */
void monitor_init(struct muxd_monitor *m);
int load_authdb(struct muxd_monitor *m);
/* Append a record and log its count and head (the anchor). */
/* The bond store, read whole (bgw-bonds(5)); -EIO when it is refused. */
struct bonds;
int mon_bonds_load(struct muxd_monitor *m, struct bonds **b);
/* A new bond's read-modify-write of the store (monitor_bond_le.c). */
struct bond;
struct bdaddr;
int mon_bond_update(struct muxd_monitor *m, const struct bdaddr *a, uint8_t type,
		    const char *by, int (*fill)(struct bond *nb, const void *arg),
		    const void *arg, struct bond *kept);
/* RPC_BOND_LTK, RPC_BOND_NEW_LE and RPC_BOND_IRKS (monitor_bond_le.c). */
struct rpc_req;
struct rpc_reply;
int mon_bond_ltk(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep);
int mon_bond_new_le(struct muxd_monitor *m, const struct rpc_req *q);
int mon_bond_irks(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep);
/* RPC_BOND_PLTK and RPC_BOND_NEW_PLTK (monitor_bond_le.c). */
int mon_bond_pltk(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep);
int mon_bond_new_pltk(struct muxd_monitor *m, const struct rpc_req *q);

/* monitor_relay.c: the relay registration key and its signatures. */
int mon_relay_key_load(struct muxd_monitor *m);
int mon_relay_sign(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep);
void mon_audit_fields(struct muxd_monitor *m, enum audit_event ev,
		      const struct audit_fields *f);
void mon_audit(struct muxd_monitor *m, enum audit_event ev, const char *user,
	       const char *src, const char *detail);
/* The secret, the audit log, the limiters (before the forks). */
int tunnel_prepare(struct muxd_monitor *m);
/*
 * In a child just forked: everything of the monitor's wiped and freed,
 * its descriptors closed (the lock, the control socket, the push
 * channel's end); the child keeps only what it took into its own struct.
 */
void monitor_forget(struct muxd_monitor *m);
/* The monitor's own end (ctl_stop first). */
void monitor_cleanup(struct muxd_monitor *m);

/* monitor.c */
int monitor_run(struct muxd_monitor *m, int core_req, int front_req);

/* ctl.c: bgw-muxd status and kick, the monitor's side and the command */
int ctl_listen(struct muxd_monitor *m);		/* before the forks */
int ctl_start(struct muxd_monitor *m);		/* in its loop */
void ctl_stop(struct muxd_monitor *m);
int ctl_main(const struct muxd_conf *c, int argc, char **argv);	/* the command */
/*
 * bgw-muxd pair: is the admin (uid) pairing device a (of this address
 * type, over LE or BR/EDR) at the gateway right now? Then a key for it
 * from MUX_PAIR_USER is theirs to keep, and ctl_pair_kept says it was.
 * An LE device the admin named by a resolvable private address is kept
 * under its identity instead: a is then that identity (public or static
 * random) and irk (the device's, as SMP carries it; NULL: none) must
 * resolve the address asked.
 */
bool ctl_pair_expects(struct muxd_monitor *m, const struct bdaddr *a, uint8_t type, bool le,
		      const uint8_t *irk, uid_t *uid, bool *by_identity);
void ctl_pair_kept(struct muxd_monitor *m);

#endif /* BGW_MUXD_MONITOR_H */
