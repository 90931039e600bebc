/* SPDX-License-Identifier: MIT */
/*
 * The secure tunnel: HCI (H4 packets) between bgw-cdclient (client) and
 * bgw-muxd (server), over DTLS 1.2 / UDP with the reliability layer
 * (tunnel/rel.h), or over TLS / TCP where UDP is blocked. The protocol is
 * written down in doc/protocol.md; this is the API both programs use.
 *
 * Everything runs in the caller's struct loop (lib/loop.h): no threads, no
 * blocking calls after setup. Callbacks are (fn, user); a callback may call
 * any function here, including those that end the session it was called
 * for (the memory is released later, from the loop).
 *
 * Server (bgw-muxd: core mode, tun_server_add_link; listener mode, with
 * cfg.udp_port or cfg.tcp_port, is test support only: see
 * tun_server_cfg):
 *	tun_server_new(&srv, loop, &cfg, &ops, &auth, user);
 *	  ops.on_session(user, s, name)      an authenticated session
 *	  ops.on_packet(user, s, h4, len)    one whole H4 packet, in order
 *	  ops.on_session_end(user, s, why)   s is gone after this returns
 *	tun_session_send(s, h4, len)         -ENOBUFS: queue full, wait for
 *	                                     ops.on_writable
 * Client:
 *	tun_client_new(&c, loop, &cfg, &ops, user);
 *	  ops.on_ready / on_packet / on_down(reason, text)
 *	tun_client_send(c, h4, len)
 *
 * A session survives its channel: when a client's address changes or its
 * link drops, it reconnects and resumes within cfg.resume_s seconds, and
 * neither side's owner notices (packets in flight are resent, none is lost
 * or doubled). on_session_end / on_down come only when that fails.
 */
#ifndef BGW_TUNNEL_H
#define BGW_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "loop.h"
#include "rel.h"

/* Reasons: codes 1..99 travel in CLOSE / ERROR (doc/protocol.md). */
enum tun_reason {
	TUN_R_NONE = 0,
	TUN_R_PROTOCOL = 1,		/* malformed or unexpected message */
	TUN_R_VERSION = 2,		/* no common protocol version */
	TUN_R_AUTH_FAILED = 3,		/* wrong user or password */
	TUN_R_CERT_REQUIRED = 4,	/* certificate mode without one */
	TUN_R_CERT_REVOKED = 5,
	TUN_R_CERT_EXPIRED = 6,		/* expired or not yet valid */
	TUN_R_CERT_INVALID = 7,		/* not from the CA, wrong purpose */
	TUN_R_CERT_UNKNOWN = 8,		/* valid, but no user has it */
	TUN_R_MODE_UNSUPPORTED = 9,	/* login mode not available */
	TUN_R_RESUME_FAILED = 10,	/* session unknown, expired or proof bad */
	TUN_R_BUSY = 11,		/* server at its session cap */
	TUN_R_TIMEOUT = 12,		/* a state's time ran out */
	TUN_R_SHUTDOWN = 13,		/* orderly close by the peer's owner */
	TUN_R_REFUSED = 14,		/* the owner refused the session */
	TUN_R_INTERNAL = 15,
	TUN_R_RATE_LIMITED = 16,	/* too many failed logins */
	TUN_R_KICKED = 17,		/* the gateway's admin ended it */
	/* Local only, never sent. */
	TUN_R_SERVER_CERT = 100,	/* server certificate failed verification */
	TUN_R_HANDSHAKE = 101,		/* (D)TLS handshake failed */
	TUN_R_UNREACHABLE = 102,	/* no answer within the resume time */
	TUN_R_LOCAL_CLOSE = 103,
	TUN_R_RESUME_EXPIRED = 104,	/* server: detached for resume_s */
	TUN_R_PEER_DEAD = 105,		/* dead-peer timeout (no resumption) */
};

/* A short English description, for the client's message and the log. */
const char *tun_reason_str(int reason);

/* "[addr]:port" of a struct sockaddr (numeric), "?" if it has none. */
const char *tun_addr_str(const void *addr, size_t alen, char *buf, size_t cap);

enum tun_transport {
	TUN_TRANSPORT_DTLS = 0,		/* default */
	TUN_TRANSPORT_TLS = 1,		/* TCP fallback */
	/*
	 * Client only: DTLS, and TLS as well when DTLS has not completed
	 * its handshake after tun_client_cfg.fallback_ms; the first channel
	 * up is used, the other dropped (doc/protocol.md 1.2).
	 */
	TUN_TRANSPORT_AUTO = 2,
};

/* A verified client certificate, for mapping to a user. */
struct tun_cert_info {
	char cn[TUN_USER_MAX + 1];	/* subject CN ("" if absent or unusable) */
	char serial[2 * 20 + 1];	/* hex, lower case */
	uint8_t sha256[32];		/* SHA-256 of the DER certificate */
	time_t not_after;
};

struct scram_verifier;

/*
 * Server-side authentication, supplied by the owner (bgw-muxd with the
 * authdb). All optional; a NULL hook refuses its mode with a clear error.
 */
struct tun_auth_ops {
	/*
	 * Certificate login (version 2: CHALLENGE, CERT_PROOF; see
	 * tunnel/certlogin.h). Either the owner does all of it
	 * (cert_challenge and cert_verify; bgw-muxd's monitor), or the
	 * server checks the proof against cfg.ca_file and asks cert_user
	 * only which user a certificate belongs to.
	 *
	 * cert_user: a client certificate chained to the CA with the TLS
	 * client purpose, within its validity, whose key signed this
	 * channel's challenge. Write the user name (NUL-terminated, at
	 * most TUN_USER_MAX bytes) to name and return 0, or return
	 * -EKEYREVOKED (revoked: TUN_R_CERT_REVOKED), -ENOENT (no such user:
	 * TUN_R_CERT_UNKNOWN), -EACCES (disabled: TUN_R_AUTH_FAILED).
	 */
	int (*cert_user)(void *user, const struct tun_cert_info *ci,
			 char *name, size_t cap);
	/*
	 * cert_challenge: a fresh random challenge for this channel, which
	 * the owner keeps to check the proof against; 0 or -errno.
	 * cert_verify: the client's certificate (DER) and signature, and
	 * the exporter (TUN_LABEL_CERT_LOGIN) of the channel they came on.
	 * The owner checks them against the challenge it issued
	 * (tun_certlogin_verify), maps the certificate to its user, writes
	 * the name and returns 0; or the errors of tun_certlogin_verify,
	 * -ENOENT (no such user), -EPERM (disabled), -EAGAIN (rate
	 * limited).
	 */
	int (*cert_challenge)(void *user, uint8_t chal[TUN_CHAL_LEN]);
	int (*cert_verify)(void *user, const uint8_t *cert, size_t cert_len,
			   const uint8_t *sig, size_t sig_len,
			   const uint8_t exporter[32], char *name, size_t cap);
	/*
	 * Password mode: the SCRAM verifier for name. For an unknown or
	 * disabled user return 0 with a fabricated verifier and *real =
	 * false (authdb_scram_lookup does), so both walk the same path.
	 */
	int (*scram_lookup)(void *user, const char *name,
			    struct scram_verifier *v, bool *real);
	/*
	 * Optional: the proof check done by the owner, who then keeps the
	 * keys. With it, scram_lookup need fill only the salt and the
	 * iteration count (real is ignored), and this is asked whether
	 * proof matches name's StoredKey over the AuthMessage am (at most
	 * SCRAM_AM_MAX bytes): 0 with the ServerSignature in ssig; -EACCES
	 * (wrong proof, unknown or disabled user: counted by the owner);
	 * -EAGAIN (rate limited). Without it, the verifier from
	 * scram_lookup is checked here (auth/scram.h).
	 */
	int (*scram_verify)(void *user, const char *name, const void *addr,
			    size_t addrlen, const char *am, size_t am_len,
			    const uint8_t proof[32], uint8_t ssig[32]);
	/* May this peer try a login now? -EAGAIN: rate limited. Optional. */
	int (*login_allowed)(void *user, const char *name, const void *addr,
			     size_t addrlen);
	/* A login failed (for the rate limiter and the audit log). Optional. */
	void (*login_failed)(void *user, const char *name, const void *addr,
			     size_t addrlen, int reason);
};

struct tun_server;
struct tun_session;

/*
 * Listener mode (udp_port or tcp_port set) is test support only: one
 * process holds the key, runs every login and parses every network byte,
 * without the front's per-network caps and reserve (front.h). Tests and
 * the benchmark use it to run a real server in process; bgw-muxd faces
 * the network with tun_front, tun_peer and a core-mode server
 * (doc/protocol.md, appendix).
 */
struct tun_server_cfg {
	const char *host;		/* bind address; NULL: "::" */
	const char *udp_port;		/* NULL: no DTLS listener (tests only) */
	const char *tcp_port;		/* NULL: no TLS listener (tests only) */
	const char *ca_file;		/* the CA client certificates chain to */
	const char *cert_file;		/* the server's certificate and key */
	const char *key_file;
	unsigned resume_s;		/* detached session lifetime; 0: 30 */
	unsigned max_sessions;		/* 0: 16 */
	unsigned max_pending;		/* channels not yet in a session; 0: 32 */
	unsigned handshake_ms;		/* handshake + login; 0: 10000 */
	const struct tun_rel_cfg *rel;	/* NULL: tun_rel_cfg_default() */
	/*
	 * Optional: the server's private key kept by the owner and never
	 * read here (bgw-muxd keeps it in its monitor); key_file is then
	 * ignored. Each (D)TLS handshake's signature is asked of key_sign
	 * (user: tun_server_new's): sign in -- a digest when is_hash, else
	 * the data itself -- with sign_algo (a gnutls_sign_algorithm_t
	 * that the certificate's key supports), write the signature to sig
	 * (at most cap bytes) and its length to *sig_len; 0 or a negative
	 * errno (the handshake then fails).
	 */
	int (*key_sign)(void *user, int sign_algo, bool is_hash,
			const uint8_t *in, size_t in_len,
			uint8_t *sig, size_t cap, size_t *sig_len);
};

/* The longest signature key_sign may be asked for (RSA 4096, DER ECDSA). */
#define TUN_SIG_MAX	768

struct tun_server_ops {
	/* A session is up for user name. Return < 0 to refuse it. */
	int (*on_session)(void *user, struct tun_session *s, const char *name);
	/* One whole H4 packet. 0, or -ENOBUFS: not now (tun_session_rx_kick). */
	int (*on_packet)(void *user, struct tun_session *s,
			 const uint8_t *h4, size_t len);
	/* The session ended (reason: enum tun_reason); s is freed after. */
	void (*on_session_end)(void *user, struct tun_session *s, int reason);
	/* tun_session_send() has room again after -ENOBUFS. Optional. */
	void (*on_writable)(void *user, struct tun_session *s);
	/*
	 * Nothing came from the client for the reliability layer's quiet_us
	 * (4 s by default; it sends a KEEPALIVE each idle second), attached
	 * or not. The session stays and may resume; the owner may let go of
	 * what the client holds. Once per silence. Optional.
	 */
	void (*on_quiet)(void *user, struct tun_session *s);
};

int tun_server_new(struct tun_server **out, struct loop *l,
		   const struct tun_server_cfg *cfg,
		   const struct tun_server_ops *ops,
		   const struct tun_auth_ops *auth, void *user);
/* Closes every session (CLOSE sent, best effort) without callbacks. */
void tun_server_free(struct tun_server *srv);
/*
 * Closed channels and ended sessions are released from the loop: run it
 * once more (loop_iterate(l, 0)) after the last free before loop_free().
 * Not to be called from inside one of this server's callbacks.
 */
/* Bound ports (useful with port "0" in tests); 0 if not listening. */
uint16_t tun_server_udp_port(const struct tun_server *srv);
uint16_t tun_server_tcp_port(const struct tun_server *srv);
unsigned tun_server_session_count(const struct tun_server *srv);
/* Channels in handshake or login: what a spoofed ClientHello would add. */
unsigned tun_server_pending_count(const struct tun_server *srv);

/* ---- bgw-muxd's per-peer processes (doc/protocol.md, appendix) ---- */

struct tun_creds;
/*
 * The server's credentials (CA, certificate chain, and the key file or
 * cfg->key_sign with user), loaded once before peer processes exist: they
 * inherit them. 0 or -errno.
 */
int tun_server_creds_new(struct tun_creds **out, const struct tun_server_cfg *cfg,
			 void *user);
void tun_server_creds_free(struct tun_creds *cr);

/* What the owner vouches for about one link (bgw-muxd: its monitor). */
struct tun_link_label {
	char user[TUN_USER_MAX + 1];	/* the login proven; "": may only resume */
	char peer[64];			/* the peer's address as the front saw it */
	bool cert;			/* that login used a certificate */
	uint8_t cert_sha256[32];	/* ... this one */
};

/*
 * Core mode: a tun_server made with neither udp_port nor tcp_port takes
 * links from peer processes. fd: a SOCK_SEQPACKET socket to one peer
 * process, owned by the server from here on (closed on failure too).
 * A labelled link may ATTACH a new session for label->user (never another
 * user, whatever the peer says); any link may RESUME a session with the
 * proof of its resume key. label NULL: unlabelled. 0 or -errno (-EINVAL:
 * not a core-mode server, or fd not a SOCK_SEQPACKET socket).
 */
int tun_server_add_link(struct tun_server *srv, int fd,
			const struct tun_link_label *label);
/*
 * The label of the link that logged the session in (listener mode: one
 * made from its channel and login).
 */
const struct tun_link_label *tun_session_label(const struct tun_session *s);

/*
 * Peer mode: one peer's channel (from tun_front), its (D)TLS handshake and
 * login (the tun_auth_ops hooks as for tun_server_new: cert_user,
 * scram_lookup, scram_verify, login_allowed, login_failed), then a relay
 * of tunnel messages between the channel and the core's link.
 */
struct tun_front_peer;
struct tun_peer;
struct tun_peer_ops {
	/*
	 * The link to the core, a SOCK_SEQPACKET fd (owned by the peer from
	 * then on), or -errno (the client gets TUN_R_INTERNAL): after a login
	 * name is the user proven; for a RESUME, name is NULL.
	 */
	int (*get_link)(void *user, const char *name);
	/* Over (reason: enum tun_reason); channel and link are closed. */
	void (*on_done)(void *user, int reason);
};
/*
 * p->fd passes to the peer (closed on failure too). Of cfg only
 * handshake_ms (the login deadline, from now) is used: cr holds the
 * keys, the core the session settings. on_done comes from the loop,
 * never from inside this call; the owner may free the peer in it (and
 * runs the loop once more after the last free, as for tun_server_free).
 */
int tun_peer_new(struct tun_peer **out, struct loop *l, struct tun_creds *cr,
		 const struct tun_server_cfg *cfg, struct tun_front_peer *p,
		 const struct tun_peer_ops *ops, const struct tun_auth_ops *auth,
		 void *user);
/* Drops the channel (no close_notify) and the link; no callback. */
void tun_peer_free(struct tun_peer *p);

/*
 * Queue one H4 packet (validated with h4_parse) for the client.
 * -EBADMSG (not one valid H4 packet), -EMSGSIZE, -ENOBUFS (queue full,
 * wait for on_writable), -ENOTCONN (the session is ending).
 * While the client is away (resumable) packets still queue.
 */
int tun_session_send(struct tun_session *s, const uint8_t *h4, size_t len);
/*
 * The same for a packet that may be dropped (a discovery report):
 * -ENOBUFS already once max_queued segments are unacknowledged or wait
 * for the client's window, then on_writable when half of that is left.
 */
int tun_session_send_soft(struct tun_session *s, const uint8_t *h4, size_t len,
			  unsigned max_queued);
/* Offer again a packet on_packet refused with -ENOBUFS. */
void tun_session_rx_kick(struct tun_session *s);
/* End the session: CLOSE(reason) to the client, then on_session_end. */
void tun_session_close(struct tun_session *s, int reason);
const char *tun_session_user(const struct tun_session *s);
/* "[addr]:port" of the current channel, "-" while detached (for logs). */
const char *tun_session_peer(const struct tun_session *s, char *buf, size_t cap);
bool tun_session_is_attached(const struct tun_session *s);
/* Silent since ops.on_quiet: nothing from the client since. */
bool tun_session_is_quiet(const struct tun_session *s);
void tun_session_set_data(struct tun_session *s, void *data);
void *tun_session_get_data(const struct tun_session *s);
void tun_session_get_stats(const struct tun_session *s, struct tun_rel_stats *st);

struct tun_client;

/* Relays a client tries (the enrolment bundle's, auth/bundle.h). */
#define TUN_RELAYS_MAX		4
#define TUN_HOME_ID_LEN		16

struct tun_client_cfg {
	const char *host;		/* NULL: relays only */
	const char *port;
	enum tun_transport transport;
	const char *ca_file;		/* the pinned BGW CA */
	/* Certificate mode: both set. Otherwise password mode: */
	const char *cert_file;
	const char *key_file;
	const char *user;
	const char *password;		/* copied, wiped after the login */
	size_t password_len;
	unsigned handshake_ms;		/* per attempt; 0: 10000 */
	unsigned fallback_ms;		/* TUN_TRANSPORT_AUTO; 0: 1000 */
	const struct tun_rel_cfg *rel;	/* NULL: tun_rel_cfg_default() */
	/* Versions offered in HELLO; 0: TUN_VERSION_MIN / MAX (tests). */
	uint8_t version_min;
	uint8_t version_max;
	/*
	 * Relays ("HOST:PORT") raced beside the direct path, each through
	 * the relay and punched directly (doc/relay.md, "The client"), to
	 * the home of home_id (the pinned CA's).
	 */
	const char *const *relays;
	unsigned nrelay;
	const uint8_t *home_id;
};

struct tun_client_ops {
	/* Logged in (resumed false), or back after a resumption (true). */
	void (*on_ready)(void *user, struct tun_client *c, const char *name,
			 bool resumed);
	int (*on_packet)(void *user, struct tun_client *c,
			 const uint8_t *h4, size_t len);
	/*
	 * The session is over for good: reason (enum tun_reason) and a
	 * message fit for the user (the server's text if it sent one). Free
	 * the client after this (from the callback is fine).
	 */
	void (*on_down)(void *user, struct tun_client *c, int reason,
			const char *text);
	void (*on_writable)(void *user, struct tun_client *c);
	/*
	 * Optional: one line of progress for the user while connecting
	 * ("DTLS 1.2 handshake with ... done", "trying TLS over TCP as
	 * well"); without it the lines go to the log at info.
	 */
	void (*on_progress)(void *user, struct tun_client *c, const char *text);
};

/* Starts connecting; errors later arrive through on_down. */
int tun_client_new(struct tun_client **out, struct loop *l,
		   const struct tun_client_cfg *cfg,
		   const struct tun_client_ops *ops, void *user);
/* Sends CLOSE (best effort) and frees; no callback. NULL is fine. */
void tun_client_free(struct tun_client *c);
/* Same errors as tun_session_send; -ENOTCONN before the first on_ready. */
int tun_client_send(struct tun_client *c, const uint8_t *h4, size_t len);
void tun_client_rx_kick(struct tun_client *c);
bool tun_client_is_ready(const struct tun_client *c);
/* The transport of the current (or last) channel: DTLS or TLS. */
enum tun_transport tun_client_transport(const struct tun_client *c);
/*
 * Drop the current channel and resume over a new one, as when the link
 * changes (a roaming owner calls it on a network change; tests use it).
 */
void tun_client_reconnect(struct tun_client *c);
void tun_client_get_stats(const struct tun_client *c, struct tun_rel_stats *st);

#endif /* BGW_TUNNEL_H */
