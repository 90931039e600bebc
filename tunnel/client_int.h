/* SPDX-License-Identifier: MIT */
/*
 * Internal to the tunnel client (bgw-cdclient's side of a session), its
 * files top to bottom, each calling only the files below it:
 *  client.c        the API: tun_client_new, _free, _send, ...
 *  client_race.c   the connection race: DTLS, TLS over TCP, the relays'
 *                  relayed and punched paths (rpath.c); the winner
 *  client_login.c  the login on the winning channel (HELLO, AUTH,
 *                  CHALLENGE, RESUME, READY), then the session's messages
 *  client_base.c   sending, progress and final reports, losing the link
 * client_login.c starts the relayed session's direct probe through
 * struct tun_client's start_probe, which client.c sets.
 */
#ifndef BGW_TUNNEL_CLIENT_INT_H
#define BGW_TUNNEL_CLIENT_INT_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "loop.h"
#include "rel.h"
#include "rpath.h"
#include "tunnel.h"

struct scram_client;
struct tun_certkey;

#define TUN_LABEL_RESUME_KEY	"EXPORTER-bgw-resume-key"
#define TUN_LABEL_RESUME_BIND	"EXPORTER-bgw-resume-binding"
#define TUN_LABEL_CB		"EXPORTER-Channel-Binding"
#define TUN_KEY_LEN		32
/* Reconnection backoff: 100 ms doubling to 2 s, within the resume time. */
#define TUN_RETRY_MIN_US	100000
#define TUN_RETRY_MAX_US	2000000
/*
 * A first connection whose handshakes all failed the way damaged
 * datagrams make them fail (tun_chan.transient) tries again, at most
 * this many times in all and not after this long since the first try;
 * a resumption has its own bound (resume_s).
 */
#define TUN_FIRST_TRIES		5
#define TUN_FIRST_TIME_US	30000000
/* First repeat of an unanswered login request; doubles each time. */
#define TUN_REQ_RTO_US		300000
/*
 * TUN_TRANSPORT_AUTO: how long DTLS has alone before TLS over TCP starts
 * beside it. Happy Eyeballs (RFC 8305 5) waits 250 ms between address
 * families; a DTLS handshake needs two round trips before it can be
 * called unanswered, and its first retransmission comes at 400 ms.
 */
#define TUN_FALLBACK_MS		1000
/*
 * Relays: how long the punched direct racer has alone before the relayed
 * one starts beside it (Happy Eyeballs again, RFC 8305: prefer the path
 * that costs nobody a relay). A first direct ClientHello that reaches the
 * home's NAT before the gateway's punch has opened it is dropped, and
 * DTLS resends it after 400 ms: the head start covers that resend.
 */
#define TUN_RELAYED_AFTER_MS	1000
/*
 * Relayed: how long a direct probe keeps trying (its DTLS resends, 0.4 s
 * doubling) before the session stays relayed. The gateway's punches keep
 * the home NAT's filter open about as long (Linux conntrack: 30 s for an
 * unanswered UDP flow).
 */
#define TUN_PROBE_MS		30000

enum cstate {
	C_CONNECTING,
	C_HELLO,
	C_SCRAM_FIRST,		/* sent client-first */
	C_SCRAM_FINAL,		/* sent client-final */
	C_CERT_CHAL,		/* certificate mode: waiting for CHALLENGE */
	C_WAIT_READY,
	C_RESUMING,
	C_READY,
	C_DOWN,
};

struct tun_client {
	struct loop *l;
	struct tun_client_ops ops;
	void *user;
	char *host, *port, *ca_file, *cert_file, *key_file, *login;
	char *password;
	size_t pwlen;
	enum tun_transport want;	/* as configured: DTLS, TLS or AUTO */
	enum tun_transport transport;	/* of the channel in ch */
	unsigned hs_ms;
	unsigned fallback_ms;
	/* The server's address, resolved once per connection attempt. */
	char addr[NI_MAXHOST];
	/*
	 * AUTO: the TLS channel racing the DTLS one in ch; the first up is
	 * kept (in ch). A failure waits for the other racer: attempt_why
	 * and attempt_reason keep it for the message if both fail.
	 */
	struct tun_chan *alt;
	bool alt_tried;
	struct loop_timer *fallback_timer;
	char attempt_why[512];
	char attempt_detail[TUN_TEXT_MAX + 64];	/* the telling one */
	int attempt_reason;
	bool attempt_verdict;	/* a handshake failed for a reason of its own */
	bool attempt_relayed;	/* a relay connected us, the handshake died */
	unsigned first_tries;	/* first connection: attempts so far */
	uint64_t first_at;	/* and when the first began */
	/*
	 * Relays (doc/relay.md, "The client"): per relay, a path and, once
	 * it is CONNECTED, two more racers: DTLS through the relay (rch)
	 * and DTLS sent directly to the gateway's reflexive address (dch).
	 * live_rp carries c->ch when the winner was one of those.
	 */
	unsigned nrelay;
	char *relay[TUN_RELAYS_MAX];
	uint8_t home_id[TUN_HOME_ID_LEN];
	struct cli_relay {
		struct tun_client *c;
		struct tun_rpath *rp;
		struct tun_chan *rch, *dch;
		int rfd_wait;		/* the relayed racer's, not started yet */
		struct loop_timer *relayed_timer;
	} rr[TUN_RELAYS_MAX];
	struct tun_rpath *live_rp;
	bool live_relayed;		/* live_rp carries c->ch through the relay */
	struct tun_chan *probe;		/* relayed: a direct handshake trying */
	char path[160];			/* how c->ch reaches the gateway */
	struct tun_rel_cfg rel_cfg;
	/*
	 * client_race.c's, for client_login.c below it: after READY over a
	 * relay, try a direct path (set by tun_client_new).
	 */
	void (*start_probe)(struct tun_client *c);
	struct tun_creds *creds;
	struct tun_certkey *ck;		/* certificate mode: ours */
	struct tun_chan *ch;
	enum cstate state;
	uint8_t version;
	uint8_t vmin, vmax;	/* offered */
	uint8_t mode;
	bool ever_ready;
	uint8_t sid[TUN_SID_LEN];
	uint8_t resume_key[TUN_KEY_LEN];
	unsigned resume_s;
	char name[TUN_USER_MAX + 1];
	struct tun_rel *rel;
	struct scram_client *scram;
	uint64_t lost_at;
	unsigned attempts;
	struct loop_timer *rel_timer, *flush_timer, *retry_timer, *down_timer;
	/*
	 * Login requests (HELLO, AUTH, RESUME) travel outside the reliability
	 * layer: over DTLS the latest one is repeated until answered (the
	 * server answers a repeat with its kept reply), within a deadline.
	 */
	struct loop_timer *login_timer;
	uint64_t login_deadline;
	uint64_t req_rto;
	uint8_t req[TUN_MSG_MAX];
	size_t req_len;
	int down_reason;
	char down_text[640];
};

/* client_base.c */
void tun_cli_msg_init(struct tun_msg *m, uint8_t version, uint8_t type);
void tun_cli_wipe_password(struct tun_client *c);
void tun_cli_drop_relays(struct tun_client *c);
void tun_cli_drop_chan(struct tun_client *c, bool notify);
__attribute__((format(printf, 2, 3)))
void tun_cli_progress(struct tun_client *c, const char *fmt, ...);
void tun_cli_final(struct tun_client *c, int reason, const char *text);
void tun_cli_down_cb(struct loop_timer *t, void *user);
void tun_cli_send(struct tun_client *c, const struct tun_msg *m);
void tun_cli_arm_login(struct tun_client *c);
void tun_cli_req(struct tun_client *c, const struct tun_msg *m);
void tun_cli_arm(struct tun_client *c);
void tun_cli_lost(struct tun_client *c, const char *why);

/* client_login.c */
void tun_cli_login_timer_cb(struct loop_timer *t, void *user);
void tun_cli_rel_timer_cb(struct loop_timer *t, void *user);
void tun_cli_flush_cb(struct loop_timer *t, void *user);
void tun_cli_hello(struct tun_client *c);
void tun_cli_on_msg(void *user, struct tun_chan *ch, const struct tun_msg *m);

/* client_race.c */
void tun_cli_retry_cb(struct loop_timer *t, void *user);
void tun_cli_fallback_cb(struct loop_timer *t, void *user);
void tun_cli_relayed_cb(struct loop_timer *t, void *user);
void tun_cli_start_probe(struct tun_client *c);
void tun_cli_connect(struct tun_client *c);

#endif
