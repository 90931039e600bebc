/* SPDX-License-Identifier: MIT */
/*
 * Tunnel sessions over channels (doc/protocol.md "State machine"): the
 * login (HELLO, then a certificate, SCRAM or RESUME), READY, then HCI in
 * both directions through the reliability layer. A session outlives its
 * channel for resume_s seconds so a roaming client picks it up again.
 *
 * Objects are freed from the loop, never inside their own callbacks: a
 * channel or session that ends is marked, and a zero-delay timer reports
 * it and releases it.
 *
 * bgw-muxd splits this across processes (doc/protocol.md, appendix "the
 * peer link"): in core mode a server has no listeners and a session's
 * current link is a peer process's SOCK_SEQPACKET socket instead of a
 * channel (struct tun_link is either); in peer mode the same login code
 * runs on one channel, and where a listener-mode server would make or
 * resume the session it asks the core over the link and then relays.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "certlogin.h"
#include "chan.h"
#include "front.h"
#include "hci.h"
#include "link.h"
#include "log.h"
#include "scram.h"
#include "secmem.h"
#include "tunnel.h"

#define TUN_RESUME_S_DEFAULT	30
#define TUN_MAX_SESSIONS_DEFAULT 16
#define TUN_MAX_PENDING_DEFAULT	32
#define TUN_HANDSHAKE_MS_DEFAULT 10000
#define TUN_PENDING_PER_HOST	4
/* A login reply is at most two messages (HELLO + READY, AUTH + READY). */
#define TUN_REPLAY_MSGS		2
#define TUN_REPLAYS_MAX		8
/*
 * Frames queued on one peer link (either direction) while the socket is
 * full. More than a whole window of the largest segments (the reliability
 * layer keeps at most TUN_REL_WND_MAX in flight each way): a queue this
 * long means the other process is stuck.
 */
#define TUN_LINK_Q_FRAMES	(4 * TUN_REL_WND_MAX)
#define TUN_LINK_Q_BYTES	(TUN_LINK_Q_FRAMES * TUN_LINK_FRAME_MAX)

/*
 * Exporter labels (RFC 5705). The resume key is exported from the channel
 * a session was established (or last resumed) on; a RESUME proves
 * knowledge of it by an HMAC over a value exported from the new channel,
 * so the proof is bound to that channel: someone who sees the session id,
 * or even a proof, cannot use it on a channel of their own.
 */
#define TUN_LABEL_RESUME_KEY	"EXPORTER-bgw-resume-key"
#define TUN_LABEL_RESUME_BIND	"EXPORTER-bgw-resume-binding"
/* RFC 9266: tls-exporter channel binding for SCRAM (RFC 5802 section 6). */
#define TUN_LABEL_CB		"EXPORTER-Channel-Binding"

const char *tun_reason_str(int reason)
{
	switch (reason) {
	case TUN_R_NONE: return "no error";
	case TUN_R_PROTOCOL: return "protocol error";
	case TUN_R_VERSION: return "incompatible protocol version";
	case TUN_R_AUTH_FAILED: return "login failed";
	case TUN_R_CERT_REQUIRED: return "a client certificate is required";
	case TUN_R_CERT_REVOKED: return "client certificate revoked";
	case TUN_R_CERT_EXPIRED: return "client certificate expired or not yet valid";
	case TUN_R_CERT_INVALID: return "client certificate not accepted";
	case TUN_R_CERT_UNKNOWN: return "client certificate not registered to any user";
	case TUN_R_MODE_UNSUPPORTED: return "login mode not supported by the server";
	case TUN_R_RESUME_FAILED: return "session could not be resumed";
	case TUN_R_BUSY: return "server busy";
	case TUN_R_TIMEOUT: return "timed out";
	case TUN_R_SHUTDOWN: return "closed by the peer";
	case TUN_R_REFUSED: return "session refused by the server";
	case TUN_R_INTERNAL: return "internal error";
	case TUN_R_RATE_LIMITED: return "too many failed logins, try later";
	case TUN_R_KICKED: return "ended by the gateway's admin";
	case TUN_R_SERVER_CERT: return "server certificate verification failed";
	case TUN_R_HANDSHAKE: return "secure handshake failed";
	case TUN_R_UNREACHABLE: return "server unreachable";
	case TUN_R_LOCAL_CLOSE: return "closed locally";
	case TUN_R_RESUME_EXPIRED: return "client did not come back in time";
	case TUN_R_PEER_DEAD: return "peer stopped answering";
	default: return "unknown reason";
	}
}

static bool reason_on_wire(int reason)
{
	return reason > 0 && reason < 100;
}

static void msg_init(struct tun_msg *m, uint8_t version, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->type = type;
}

static uint16_t login_key(const struct tun_msg *m)
{
	switch (m->type) {
	case TUN_MSG_HELLO:
	case TUN_MSG_RESUME:
	case TUN_MSG_CERT_PROOF:
		return (uint16_t)(m->type << 8);
	case TUN_MSG_AUTH:
		return (uint16_t)(m->type << 8 | m->auth.step);
	default:
		return 0;
	}
}

/* ERROR or CLOSE with a reason code and text (best effort). */
static void send_reason(struct tun_chan *ch, uint8_t version, uint8_t type,
			int reason, const char *text)
{
	struct tun_msg m;

	if (!reason_on_wire(reason))
		reason = TUN_R_INTERNAL;
	msg_init(&m, version, type);
	m.close.code = (uint16_t)reason;
	snprintf(m.close.text, sizeof(m.close.text), "%s", text ? text : tun_reason_str(reason));
	tun_chan_send(ch, &m);
}

/* ================= server ================= */

enum link_state {
	L_HANDSHAKE,
	L_HELLO,		/* waiting for the client's HELLO */
	L_SCRAM_FIRST,
	L_SCRAM_FINAL,
	L_CERT_PROOF,		/* CHALLENGE sent, waiting for CERT_PROOF */
	L_RESUME,
	L_WAIT_CORE,		/* peer mode: ATTACH or RESUME sent, no answer yet */
	L_LINK,			/* core mode: waiting for ATTACH or RESUME */
	L_ATTACHED,
	L_CLOSING,
};

/*
 * One end of a peer link: a SOCK_SEQPACKET socket (one frame per
 * datagram, never split or merged) and the frames the socket would not
 * take yet, bounded.
 */
struct lk_io {
	struct loop *l;
	int fd;
	struct pktq q;
};

struct tun_link;

/*
 * What generic code (sessions, login) does with a link without knowing
 * which kind it is: chan_link_ops (a local channel) or remote_link_ops (a
 * peer process's socket, core mode).
 */
struct tun_link_ops {
	/*
	 * One tunnel message to the client. droppable: a reliability-layer
	 * message (HCI, ACK, KEEPALIVE), which a full link may lose like a
	 * datagram.
	 */
	int (*send_msg)(struct tun_link *k, const struct tun_msg *m, bool droppable);
	/* ERROR or CLOSE (best effort). */
	void (*send_reason)(struct tun_link *k, uint8_t version, uint8_t type,
			    int reason, const char *text);
	/*
	 * Drop the link (pending or attached): notify, the session is over
	 * (close_notify; END to a peer process), else it lives on elsewhere
	 * (silence; DROP).
	 */
	void (*close)(struct tun_link *k, bool notify);
	/* A pending link refused because the server is shutting down. */
	void (*shutdown)(struct tun_link *k);
	/* "[addr]:port" of the client, for logs. */
	const char *(*peer_str)(const struct tun_link *k, char *buf, size_t cap);
	/* The client's channel is TLS (the reliability layer's stream mode). */
	bool (*is_stream)(const struct tun_link *k);
};

/*
 * A session's path to its client: a local channel (listener and peer
 * mode), or in core mode a peer process's link (remote), which carries
 * the same tunnel messages in MSG frames.
 */
struct tun_link {
	const struct tun_link_ops *ops;
	struct tun_server *srv;
	struct tun_chan *ch;		/* local */
	struct tun_session *s;		/* L_ATTACHED */
	struct tun_link *next;		/* pending list */
	enum link_state state;
	uint8_t version;
	bool cert_login;
	uint8_t cert_sha256[32];	/* of that login's certificate */
	bool chal_set;			/* chal issued here, not yet used */
	uint8_t chal[TUN_CHAL_LEN];
	int end_reason;			/* why the login ended (peer mode) */
	struct scram_server *scram;
	char name[TUN_USER_MAX + 1];
	/* Login deadline; for a remote link also its deferred release. */
	struct loop_timer *timer;

	/* Remote (core mode). */
	bool dead;			/* closed, released from the loop */
	bool broken;			/* a send failed: lost, from the loop */
	bool stream;			/* the peer's channel is TLS */
	struct lk_io io;
	unsigned dropped;		/* MSG frames dropped on a full queue (DTLS) */
	struct tun_link_label label;

	/*
	 * Login messages travel outside the reliability layer, and a DTLS
	 * record can be lost: the client repeats its latest request until
	 * answered, and the server answers a repeat by sending again what
	 * it sent for it (never redoing the work: no second SCRAM step, no
	 * second key rotation).
	 */
	uint16_t last_req;		/* type << 8 | step; 0: none yet */
	uint8_t nreplay;
	uint8_t replays;		/* repeats answered, capped */
	uint16_t replay_len[TUN_REPLAY_MSGS];
	uint8_t replay[TUN_REPLAY_MSGS][TUN_MSG_MAX];
};

struct tun_session {
	struct tun_server *srv;
	struct tun_session *next;
	struct tun_link *link;		/* NULL while detached */
	struct tun_rel *rel;
	uint8_t version;
	char user[TUN_USER_MAX + 1];
	uint8_t sid[TUN_SID_LEN];
	uint8_t resume_key[TUN_KEY_LEN];
	struct tun_link_label label;	/* of the login */
	struct loop_timer *rel_timer;
	struct loop_timer *flush_timer;
	struct loop_timer *expire_timer;
	struct loop_timer *reap;
	bool ending;
	bool announced;			/* on_session said yes */
	int end_reason;
	void *data;
};

struct tun_server {
	struct loop *l;
	struct tun_server_cfg cfg;
	struct tun_server_ops ops;
	struct tun_auth_ops auth;
	void *user;
	struct tun_creds *creds;
	/* Certificate logins checked here (no cert_verify hook): the CA. */
	struct tun_certca *ca;
	struct tun_dlisten *dl;
	struct tun_tlisten *tl;
	struct tun_link *pending;
	unsigned npending;
	struct tun_link *dead;		/* closed peer links, released from the loop */
	struct tun_session *sessions;
	unsigned nsessions;
	struct tun_rel_cfg rel_cfg;
	bool freeing;
	bool core;			/* core mode: links from peer processes */
	struct tun_peer *peer;		/* peer mode: the one peer this runs */
};

static void peer_link_gone(struct tun_peer *p, struct tun_link *k);
static void peer_login_ok(struct tun_peer *p, struct tun_link *k, const char *name);
static void peer_resume(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m);
static void peer_relay_up(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m);
static void peer_chan_down(struct tun_peer *p, int reason);
static void srv_cfg_init(struct tun_server *srv, const struct tun_server_cfg *cfg);
static int srv_ca_init(struct tun_server *srv);

static void link_unpend(struct tun_link *k)
{
	struct tun_link **pp;

	for (pp = &k->srv->pending; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			k->srv->npending--;
			break;
		}
	}
	k->next = NULL;
}

static void link_free(struct tun_link *k)
{
	if (!k)
		return;
	link_unpend(k);
	scram_server_free(k->scram);
	k->scram = NULL;
	if (k->srv->peer)
		peer_link_gone(k->srv->peer, k);
	loop_timer_free(k->timer);
	free(k);
}

/* ---- links over a local channel (listener and peer mode) ---- */

static const char *chan_link_peer_str(const struct tun_link *k, char *buf, size_t cap)
{
	if (!k->ch) {
		snprintf(buf, cap, "-");
		return buf;
	}
	return tun_chan_peer_str(k->ch, buf, cap);
}

static bool chan_link_is_stream(const struct tun_link *k)
{
	return k->ch && k->ch->kind == TUN_CHAN_STREAM;
}

static int chan_link_send_msg(struct tun_link *k, const struct tun_msg *m, bool droppable)
{
	(void)droppable;
	return tun_chan_send(k->ch, m);
}

static void chan_link_send_reason(struct tun_link *k, uint8_t version, uint8_t type,
				  int reason, const char *text)
{
	send_reason(k->ch, version, type, reason, text);
}

static void chan_link_close(struct tun_link *k, bool notify)
{
	if (k->ch) {
		k->ch->ops = NULL;	/* no down callback for a chosen close */
		if (k->srv->freeing)
			tun_chan_destroy(k->ch);
		else if (notify)
			tun_chan_close(k->ch);
		else
			tun_chan_drop(k->ch);
		k->ch = NULL;
	}
	link_free(k);
}

static void chan_link_shutdown(struct tun_link *k)
{
	chan_link_close(k, true);
}

static const struct tun_link_ops chan_link_ops = {
	.send_msg = chan_link_send_msg,
	.send_reason = chan_link_send_reason,
	.close = chan_link_close,
	.shutdown = chan_link_shutdown,
	.peer_str = chan_link_peer_str,
	.is_stream = chan_link_is_stream,
};

/* ---- either kind, through its ops ---- */

static const char *link_peer_str(const struct tun_link *k, char *buf, size_t cap)
{
	return k->ops->peer_str(k, buf, cap);
}

static bool link_is_stream(const struct tun_link *k)
{
	return k->ops->is_stream(k);
}

static int link_send_msg(struct tun_link *k, const struct tun_msg *m, bool droppable)
{
	return k->ops->send_msg(k, m, droppable);
}

static void link_send_reason(struct tun_link *k, uint8_t version, uint8_t type,
			     int reason, const char *text)
{
	k->ops->send_reason(k, version, type, reason, text);
}

static void link_close(struct tun_link *k, bool notify)
{
	k->ops->close(k, notify);
}

static void link_drop(struct tun_link *k)
{
	link_close(k, true);
}

/* A new login request: its reply replaces the one kept for repeats. */
static void link_new_req(struct tun_link *k, const struct tun_msg *m)
{
	k->last_req = login_key(m);
	k->nreplay = 0;
	k->replays = 0;
}

/* Send a login reply and keep it for a repeated request. */
static void link_send(struct tun_link *k, const struct tun_msg *m)
{
	int n;

	if (k->nreplay < TUN_REPLAY_MSGS) {
		n = tun_msg_encode(m, k->replay[k->nreplay], TUN_MSG_MAX);
		if (n > 0)
			k->replay_len[k->nreplay++] = (uint16_t)n;
	}
	tun_chan_send(k->ch, m);
}

/* Refuse a login: ERROR to the client, one log line, close. */
static void link_refuse(struct tun_link *k, int reason, const char *text)
{
	char peer[80];

	k->end_reason = reason;

	log_notice("tunnel: %s%s%s: %s%s%s", tun_chan_peer_str(k->ch, peer, sizeof(peer)),
		   k->name[0] ? " user " : "", k->name, tun_reason_str(reason),
		   text ? ": " : "", text ? text : "");
	send_reason(k->ch, k->version ? k->version : TUN_HELLO_VERSION,
		    TUN_MSG_ERROR, reason, text);
	/* No state is kept to answer a repeat: over UDP say it twice, so
	 * one lost datagram does not turn the reason into a timeout. */
	if (k->ch && k->ch->kind != TUN_CHAN_STREAM)
		send_reason(k->ch, k->version ? k->version : TUN_HELLO_VERSION,
			    TUN_MSG_ERROR, reason, text);
	link_drop(k);
}

/*
 * The reliability layer's next deadline; while detached only its
 * silence is watched (a client that vanished is silent as well: its
 * owner hears of it, ops.on_quiet, at the same time as if it had stayed).
 */
static void sess_arm(struct tun_session *s)
{
	uint64_t now = loop_now_us(), d;

	if (s->ending) {
		loop_timer_disarm(s->rel_timer);
		return;
	}
	d = s->link ? tun_rel_deadline(s->rel) : tun_rel_quiet_deadline(s->rel);
	if (d == UINT64_MAX)
		loop_timer_disarm(s->rel_timer);
	else
		loop_timer_arm(s->rel_timer, d > now ? d - now : 0);
}

static void sess_detach(struct tun_session *s, const char *why)
{
	if (!s->link)
		return;
	log_info("tunnel: session %s detached (%s); resumable for %u s",
		 s->user, why, s->srv->cfg.resume_s);
	/* No close_notify: the client may still be there and resume. */
	link_close(s->link, false);
	s->link = NULL;
	sess_arm(s);
	loop_timer_arm(s->expire_timer, (uint64_t)s->srv->cfg.resume_s * 1000000);
}

static void sess_reap_cb(struct loop_timer *t, void *user);
static void sess_end(struct tun_session *s, int reason, bool tell_peer);

/*
 * The session's link is gone (closed already). A protocol violation or
 * the client's close_notify ends the session; a lost path does not.
 */
static void sess_link_lost(struct tun_session *s, int reason)
{
	s->link = NULL;
	if (reason == TUN_R_PROTOCOL || reason == TUN_R_SHUTDOWN) {
		sess_end(s, reason, false);
		return;
	}
	log_info("tunnel: session %s detached (%s); resumable for %u s",
		 s->user, tun_reason_str(reason), s->srv->cfg.resume_s);
	sess_arm(s);
	loop_timer_arm(s->expire_timer, (uint64_t)s->srv->cfg.resume_s * 1000000);
}

/* End a session; the owner hears of it from the loop. */
static void sess_end(struct tun_session *s, int reason, bool tell_peer)
{
	if (s->ending)
		return;
	s->ending = true;
	s->end_reason = reason;
	if (s->link) {
		if (tell_peer)
			link_send_reason(s->link, s->version,
				    reason == TUN_R_SHUTDOWN || reason == TUN_R_LOCAL_CLOSE ?
				    TUN_MSG_CLOSE : TUN_MSG_ERROR,
				    reason == TUN_R_LOCAL_CLOSE ? TUN_R_SHUTDOWN : reason, NULL);
		link_drop(s->link);
		s->link = NULL;
	}
	loop_timer_disarm(s->rel_timer);
	loop_timer_disarm(s->flush_timer);
	loop_timer_disarm(s->expire_timer);
	loop_timer_arm(s->reap, 0);
}

static void sess_release(struct tun_session *s)
{
	struct tun_session **pp;

	for (pp = &s->srv->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			s->srv->nsessions--;
			break;
		}
	}
	if (s->link)
		link_drop(s->link);
	tun_rel_free(s->rel);
	loop_timer_free(s->rel_timer);
	loop_timer_free(s->flush_timer);
	loop_timer_free(s->expire_timer);
	loop_timer_free(s->reap);
	secmem_wipe(s->resume_key, sizeof(s->resume_key));
	free(s);
}

static void sess_reap_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;
	struct tun_server *srv = s->srv;

	log_info("tunnel: session %s ended: %s", s->user, tun_reason_str(s->end_reason));
	if (s->announced && srv->ops.on_session_end)
		srv->ops.on_session_end(srv->user, s, s->end_reason);
	sess_release(s);
}

static void sess_rel_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;

	if (!s->link) {
		tun_rel_quiet_tick(s->rel, loop_now_us());
		sess_arm(s);
		return;
	}
	if (tun_rel_tick(s->rel, loop_now_us()) == -ETIMEDOUT) {
		sess_detach(s, "no answer");
		return;
	}
	sess_arm(s);
}

static void sess_flush_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;

	if (s->link)
		tun_rel_flush(s->rel, loop_now_us());
	sess_arm(s);
}

static void sess_expire_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;

	sess_end(s, TUN_R_RESUME_EXPIRED, false);
}

static void sess_rel_output(void *user, const struct tun_msg *m)
{
	struct tun_session *s = user;
	struct tun_msg c;

	if (!s->link || s->ending)
		return;		/* detached: the resumption resends it */
	c = *m;
	c.version = s->version;
	link_send_msg(s->link, &c, true);
}

static int sess_rel_deliver(void *user, const uint8_t *p, size_t len)
{
	struct tun_session *s = user;
	struct h4_pkt pkt;
	int ret;

	/* The mux trusts nothing it did not parse: one whole H4 packet. */
	ret = h4_parse(&pkt, p, len, 0);
	if (ret < 0) {
		log_notice("tunnel: session %s: bad H4 packet: %s", s->user,
			   h4_strerror(ret));
		return -EPROTO;
	}
	if (s->ending)
		return 0;
	ret = s->srv->ops.on_packet(s->srv->user, s, p, len);
	return ret == -ENOBUFS ? -ENOBUFS : 0;
}

static void sess_rel_writable(void *user)
{
	struct tun_session *s = user;

	if (!s->ending && s->srv->ops.on_writable)
		s->srv->ops.on_writable(s->srv->user, s);
}

static void sess_rel_quiet(void *user)
{
	struct tun_session *s = user;

	if (s->ending || !s->announced)
		return;
	log_info("tunnel: session %s: nothing from the client for %llu ms (%s)",
		 s->user, (unsigned long long)(s->srv->rel_cfg.quiet_us / 1000),
		 s->link ? "still attached" : "detached");
	if (s->srv->ops.on_quiet)
		s->srv->ops.on_quiet(s->srv->user, s);
}

static const struct tun_rel_ops sess_rel_ops = {
	.output = sess_rel_output,
	.deliver = sess_rel_deliver,
	.writable = sess_rel_writable,
	.quiet = sess_rel_quiet,
};

static int export_key(struct tun_chan *ch, const uint8_t *sid, const char *label,
		      uint8_t *out)
{
	return tun_chan_export(ch, label, sid, TUN_SID_LEN, out, TUN_KEY_LEN);
}

static void send_ready(struct tun_session *s, bool resumed)
{
	struct tun_msg m;

	msg_init(&m, s->version, TUN_MSG_READY);
	m.flags = resumed ? TUN_F_RESUMED : 0;
	memcpy(m.ready.sid, s->sid, TUN_SID_LEN);
	m.ready.resume_s = (uint16_t)s->srv->cfg.resume_s;
	memcpy(m.ready.user, s->user, sizeof(s->user));
	link_send(s->link, &m);
}

/* Move a pending link into a session. */
static void link_attach(struct tun_link *k, struct tun_session *s)
{
	link_unpend(k);
	loop_timer_disarm(k->timer);
	scram_server_free(k->scram);
	k->scram = NULL;
	k->state = L_ATTACHED;
	k->s = s;
	s->link = k;
	tun_rel_set_stream(s->rel, link_is_stream(k));
}

/* A session not yet in the list: its timers and reliability layer. */
static struct tun_session *sess_new(struct tun_server *srv, uint8_t version,
				    const char *name, bool stream)
{
	struct tun_session *s;
	struct tun_rel_cfg rc = srv->rel_cfg;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->srv = srv;
	s->version = version;
	snprintf(s->user, sizeof(s->user), "%s", name);
	rc.stream = stream;
	s->rel_timer = loop_timer_new(srv->l, sess_rel_timer_cb, s);
	s->flush_timer = loop_timer_new(srv->l, sess_flush_cb, s);
	s->expire_timer = loop_timer_new(srv->l, sess_expire_cb, s);
	s->reap = loop_timer_new(srv->l, sess_reap_cb, s);
	if (!s->rel_timer || !s->flush_timer || !s->expire_timer || !s->reap ||
	    tun_rel_new(&s->rel, &rc, &sess_rel_ops, s, loop_now_us()) < 0) {
		sess_release(s);	/* not linked yet: just frees */
		return NULL;
	}
	return s;
}

static void sess_link_in(struct tun_session *s)
{
	s->next = s->srv->sessions;
	s->srv->sessions = s;
	s->srv->nsessions++;
}

/* The owner hears of a new session (READY or OK already queued). */
static void sess_announce(struct tun_session *s)
{
	struct tun_server *srv = s->srv;
	int ret;

	ret = srv->ops.on_session ? srv->ops.on_session(srv->user, s, s->user) : 0;
	if (ret < 0) {
		sess_end(s, TUN_R_REFUSED, true);
		return;
	}
	s->announced = true;
	sess_arm(s);
}

static void login_ok(struct tun_link *k, const char *name)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s;
	char peer[80];

	if (srv->peer) {
		peer_login_ok(srv->peer, k, name);
		return;
	}
	if (srv->nsessions >= srv->cfg.max_sessions) {
		link_refuse(k, TUN_R_BUSY, NULL);
		return;
	}
	s = sess_new(srv, k->version, name, k->ch->kind == TUN_CHAN_STREAM);
	if (!s)
		goto fail;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, s->sid, sizeof(s->sid)) < 0 ||
	    export_key(k->ch, s->sid, TUN_LABEL_RESUME_KEY, s->resume_key) < 0) {
		sess_release(s);
		goto fail;
	}
	/* The label a peer process's owner would have given (tun_session_label). */
	snprintf(s->label.user, sizeof(s->label.user), "%s", s->user);
	tun_chan_peer_str(k->ch, s->label.peer, sizeof(s->label.peer));
	s->label.cert = k->cert_login;
	if (k->cert_login)
		memcpy(s->label.cert_sha256, k->cert_sha256, sizeof(s->label.cert_sha256));
	sess_link_in(s);
	link_attach(k, s);
	log_notice("tunnel: %s: user %s logged in (%s)",
		   tun_chan_peer_str(k->ch, peer, sizeof(peer)), s->user,
		   k->ch->kind == TUN_CHAN_STREAM ? "TLS" : "DTLS");
	send_ready(s, false);
	sess_announce(s);
	return;
fail:
	link_refuse(k, TUN_R_INTERNAL, NULL);
}

static void link_failed_login(struct tun_link *k, int reason, const char *text)
{
	struct tun_server *srv = k->srv;

	if (srv->auth.login_failed)
		srv->auth.login_failed(srv->user, k->name, &k->ch->addr, k->ch->alen, reason);
	link_refuse(k, reason, text);
}

static bool cert_login_configured(const struct tun_server *srv)
{
	return (srv->auth.cert_challenge && srv->auth.cert_verify) ||
	       (srv->auth.cert_user && srv->ca);
}

/*
 * Certificate mode (doc/protocol.md 4.6): a fresh challenge, from the
 * owner when it checks the proof (bgw-muxd's monitor: a peer process
 * never chooses it), and sent after the HELLO reply; both are kept for
 * a repeated HELLO.
 */
static void on_cert_hello(struct tun_link *k)
{
	struct tun_server *srv = k->srv;
	struct tun_msg r;
	int ret;

	if (!cert_login_configured(srv)) {
		link_refuse(k, TUN_R_MODE_UNSUPPORTED, "certificate login is not configured");
		return;
	}
	/* The user is not known yet: the source's limit only. */
	if (srv->auth.login_allowed &&
	    srv->auth.login_allowed(srv->user, "", &k->ch->addr, k->ch->alen) < 0) {
		link_refuse(k, TUN_R_RATE_LIMITED, NULL);
		return;
	}
	if (srv->auth.cert_verify)
		ret = srv->auth.cert_challenge(srv->user, k->chal);
	else
		ret = gnutls_rnd(GNUTLS_RND_NONCE, k->chal, sizeof(k->chal)) < 0 ? -EIO : 0;
	if (ret < 0) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	k->chal_set = true;
	msg_init(&r, k->version, TUN_MSG_CHALLENGE);
	memcpy(r.challenge.chal, k->chal, TUN_CHAL_LEN);
	link_send(k, &r);
	k->state = L_CERT_PROOF;
}

static int cert_err_reason(int err)
{
	switch (err) {
	case -ENOENT:
		return TUN_R_CERT_UNKNOWN;
	case -EAGAIN:
		return TUN_R_RATE_LIMITED;
	case -EPERM:
		return TUN_R_AUTH_FAILED;
	default:
		return tun_certlogin_reason(err);
	}
}

/*
 * CERT_PROOF: the certificate and its key's signature over the
 * challenge and this channel's exporter. Checked once: the challenge is
 * spent whatever the outcome (a repeat gets the kept answer).
 */
static void on_cert_proof(struct tun_link *k, const struct tun_msg *m)
{
	struct tun_server *srv = k->srv;
	struct tun_cert_info ci;
	uint8_t ex[TUN_EXPORTER_LEN], chal[TUN_CHAL_LEN];
	int ret, reason;

	if (!k->chal_set) {
		link_refuse(k, TUN_R_PROTOCOL, "no challenge outstanding");
		return;
	}
	/* Spent now: k may be gone after the refusal or the login below. */
	k->chal_set = false;
	memcpy(chal, k->chal, sizeof(chal));
	secmem_wipe(k->chal, sizeof(k->chal));
	ret = tun_chan_export(k->ch, TUN_LABEL_CERT_LOGIN, NULL, 0, ex, sizeof(ex));
	if (ret < 0) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		goto out;
	}
	if (srv->auth.cert_verify) {
		k->name[0] = '\0';
		ret = srv->auth.cert_verify(srv->user, m->proof.cert, m->proof.cert_len,
					    m->proof.sig, m->proof.sig_len, ex,
					    k->name, sizeof(k->name));
		if (ret == 0 && (!k->name[0] || !memchr(k->name, 0, sizeof(k->name))))
			ret = -EIO;
	} else {
		ret = tun_certlogin_verify(srv->ca, m->proof.cert, m->proof.cert_len,
					   m->proof.sig, m->proof.sig_len, chal, ex, &ci);
		/* The name as claimed, for the log and the limiter; it proves nothing. */
		snprintf(k->name, sizeof(k->name), "%s", ci.cn);
		if (ret == 0) {
			memcpy(k->cert_sha256, ci.sha256, sizeof(k->cert_sha256));
			ret = srv->auth.cert_user(srv->user, &ci, k->name, sizeof(k->name));
			if (ret == 0 && !k->name[0])
				ret = -ENOENT;
			if (ret < 0 && ret != -EKEYREVOKED && ret != -ENOENT)
				ret = -EPERM;	/* disabled */
		}
	}
	if (ret < 0) {
		reason = cert_err_reason(ret);
		if (reason == TUN_R_RATE_LIMITED || reason == TUN_R_INTERNAL)
			link_refuse(k, reason, NULL);
		else
			link_failed_login(k, reason, ret == -EACCES ?
					  "the certificate's key did not sign this login" : NULL);
		goto out;
	}
	k->cert_login = true;
	login_ok(k, k->name);
out:
	secmem_wipe(ex, sizeof(ex));
	secmem_wipe(chal, sizeof(chal));
}

static void on_hello(struct tun_link *k, const struct tun_msg *m)
{
	struct tun_server *srv = k->srv;
	struct tun_msg r;
	char text[TUN_TEXT_MAX + 1];
	uint8_t v;

	if (m->hello.vmax < TUN_VERSION_MIN || m->hello.vmin > TUN_VERSION_MAX) {
		snprintf(text, sizeof(text),
			 "client speaks versions %u..%u, server %u..%u: %s",
			 m->hello.vmin, m->hello.vmax, TUN_VERSION_MIN, TUN_VERSION_MAX,
			 m->hello.vmax < TUN_VERSION_MIN ? "update bgw-cdclient" :
			 "this gateway's bgw-muxd is older than the client");
		link_refuse(k, TUN_R_VERSION, text);
		return;
	}
	v = m->hello.vmax < TUN_VERSION_MAX ? m->hello.vmax : TUN_VERSION_MAX;
	k->version = v;
	msg_init(&r, TUN_HELLO_VERSION, TUN_MSG_HELLO);	/* HELLO: always 1 */
	r.hello.vmin = v;
	r.hello.vmax = v;
	r.hello.mode = m->hello.mode;
	link_send(k, &r);

	switch (m->hello.mode) {
	case TUN_MODE_CERT:
		on_cert_hello(k);
		return;
	case TUN_MODE_PASSWORD:
		if (!srv->auth.scram_lookup) {
			link_refuse(k, TUN_R_MODE_UNSUPPORTED,
				    "password login is not configured on this server");
			return;
		}
		k->state = L_SCRAM_FIRST;
		return;
	case TUN_MODE_RESUME:
		k->state = L_RESUME;
		return;
	}
}

static void send_auth(struct tun_link *k, uint8_t step, const char *data, size_t len)
{
	struct tun_msg m;

	msg_init(&m, k->version, TUN_MSG_AUTH);
	m.auth.step = step;
	m.auth.data = (const uint8_t *)data;
	m.auth.len = (uint16_t)len;
	link_send(k, &m);
}

static void on_scram_first(struct tun_link *k, const struct tun_msg *m)
{
	struct tun_server *srv = k->srv;
	struct scram_verifier v;
	uint8_t cb[TUN_KEY_LEN];
	char out[SCRAM_MSG_MAX];
	size_t olen = 0;
	bool real = false;
	int ret;

	if (m->auth.step != TUN_AUTH_CLIENT_FIRST) {
		link_refuse(k, TUN_R_PROTOCOL, "expected SCRAM client-first");
		return;
	}
	ret = tun_chan_export(k->ch, TUN_LABEL_CB, NULL, 0, cb, sizeof(cb));
	if (ret == 0)
		ret = scram_server_new(&k->scram, cb, sizeof(cb), NULL);
	secmem_wipe(cb, sizeof(cb));
	if (ret < 0) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	ret = scram_server_recv_first(k->scram, (const char *)m->auth.data, m->auth.len);
	if (ret < 0) {
		link_refuse(k, ret == -EPROTO ? TUN_R_AUTH_FAILED : TUN_R_PROTOCOL,
			    ret == -EPROTO ? "channel binding required" : "malformed SCRAM message");
		return;
	}
	snprintf(k->name, sizeof(k->name), "%s", scram_server_user(k->scram));
	if (srv->auth.login_allowed &&
	    srv->auth.login_allowed(srv->user, k->name, &k->ch->addr, k->ch->alen) < 0) {
		link_refuse(k, TUN_R_RATE_LIMITED, NULL);
		return;
	}
	memset(&v, 0, sizeof(v));
	ret = srv->auth.scram_lookup(srv->user, k->name, &v, &real);
	if (ret == 0)
		ret = scram_server_first(k->scram, &v, real, out, sizeof(out), &olen);
	scram_verifier_wipe(&v);
	if (ret < 0 || olen == 0 || olen > TUN_AUTH_MAX) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	send_auth(k, TUN_AUTH_SERVER_FIRST, out, olen);
	k->state = L_SCRAM_FINAL;
}

/* The proof checked by the owner (bgw-muxd: its monitor keeps the keys). */
static int owner_verify(void *ctx, const char *am, size_t am_len,
			const uint8_t proof[SCRAM_KEY_LEN], uint8_t ssig[SCRAM_KEY_LEN])
{
	struct tun_link *k = ctx;
	struct tun_server *srv = k->srv;
	int ret;

	if (am_len > SCRAM_AM_MAX)
		return -EIO;
	ret = srv->auth.scram_verify(srv->user, k->name, &k->ch->addr, k->ch->alen,
				     am, am_len, proof, ssig);
	return ret == 0 || ret == -EACCES || ret == -EAGAIN ? ret : -EIO;
}

static void on_scram_final(struct tun_link *k, const struct tun_msg *m)
{
	char out[SCRAM_MSG_MAX];
	size_t olen = 0;
	int ret;

	if (m->auth.step != TUN_AUTH_CLIENT_FINAL) {
		link_refuse(k, TUN_R_PROTOCOL, "expected SCRAM client-final");
		return;
	}
	if (k->srv->auth.scram_verify)
		ret = scram_server_final_ext(k->scram, (const char *)m->auth.data,
					     m->auth.len, owner_verify, k, out,
					     sizeof(out), &olen);
	else
		ret = scram_server_final(k->scram, (const char *)m->auth.data,
					 m->auth.len, out, sizeof(out), &olen);
	if (olen > 0 && olen <= TUN_AUTH_MAX)
		send_auth(k, TUN_AUTH_SERVER_FINAL, out, olen);
	if (ret == -EAGAIN) {
		/* The owner refused to check (and audited): no failure to count. */
		link_refuse(k, TUN_R_RATE_LIMITED, NULL);
		return;
	}
	if (ret < 0 || !scram_server_is_authenticated(k->scram)) {
		/* Unknown user and wrong password: the same words. */
		link_failed_login(k, ret == -EBADMSG ? TUN_R_PROTOCOL : TUN_R_AUTH_FAILED,
				  ret == -EBADMSG ? "malformed SCRAM message" : NULL);
		return;
	}
	login_ok(k, k->name);
}

static void on_resume(struct tun_link *k, const struct tun_msg *m)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s, *found = NULL;
	uint8_t bind[TUN_KEY_LEN], proof[TUN_PROOF_LEN];
	char peer[80];
	bool ok = false;

	if (srv->peer) {
		peer_resume(srv->peer, k, m);
		return;
	}
	/* Every session compared, in constant time each: no early exit. */
	for (s = srv->sessions; s; s = s->next)
		if (secmem_is_equal(s->sid, m->resume.sid, TUN_SID_LEN) && !s->ending)
			found = s;
	/* Name the session's user in the log: a failure may be an attack on it. */
	if (found)
		snprintf(k->name, sizeof(k->name), "%s", found->user);
	if (found && tun_chan_export(k->ch, TUN_LABEL_RESUME_BIND, found->sid,
				     TUN_SID_LEN, bind, sizeof(bind)) == 0 &&
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, found->resume_key, TUN_KEY_LEN,
			     bind, sizeof(bind), proof) == 0)
		ok = secmem_is_equal(proof, m->resume.proof, TUN_PROOF_LEN);
	secmem_wipe(proof, sizeof(proof));
	if (!ok) {
		link_failed_login(k, TUN_R_RESUME_FAILED, NULL);
		return;
	}
	s = found;
	snprintf(k->name, sizeof(k->name), "%s", s->user);
	if (s->link)
		sess_detach(s, "replaced by a resumption");
	loop_timer_disarm(s->expire_timer);
	/* A fresh key for the next resumption, from this channel. */
	if (export_key(k->ch, s->sid, TUN_LABEL_RESUME_KEY, s->resume_key) < 0) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		sess_end(s, TUN_R_INTERNAL, false);
		return;
	}
	link_attach(k, s);
	log_notice("tunnel: %s: user %s resumed its session (%s)",
		   tun_chan_peer_str(k->ch, peer, sizeof(peer)), s->user,
		   k->ch->kind == TUN_CHAN_STREAM ? "TLS" : "DTLS");
	send_ready(s, true);
	tun_rel_path_reset(s->rel, loop_now_us());
	sess_arm(s);
}

static void sess_on_msg(struct tun_session *s, const struct tun_msg *m)
{
	int ret;

	if (m->version != s->version) {
		sess_end(s, TUN_R_PROTOCOL, true);
		return;
	}
	switch (m->type) {
	case TUN_MSG_HCI:
	case TUN_MSG_ACK:
	case TUN_MSG_KEEPALIVE:
		ret = tun_rel_input(s->rel, m, loop_now_us());
		if (ret < 0) {
			log_notice("tunnel: session %s: %s: %s", s->user,
				   tun_msg_type_name(m->type), strerror(-ret));
			sess_end(s, ret == -ENOMEM ? TUN_R_INTERNAL : TUN_R_PROTOCOL, true);
			return;
		}
		if (!loop_timer_is_armed(s->flush_timer))
			loop_timer_arm(s->flush_timer, 0);
		return;
	case TUN_MSG_CLOSE:
	case TUN_MSG_ERROR:
		log_info("tunnel: session %s: client sent %s %u (%s)", s->user,
			 tun_msg_type_name(m->type), m->close.code, m->close.text);
		sess_end(s, m->type == TUN_MSG_CLOSE ? TUN_R_SHUTDOWN : m->close.code, false);
		return;
	default:
		log_notice("tunnel: session %s: unexpected %s", s->user,
			   tun_msg_type_name(m->type));
		sess_end(s, TUN_R_PROTOCOL, true);
		return;
	}
}

static void link_on_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct tun_link *k = user;
	uint16_t key = login_key(m);
	int i;

	/*
	 * A repeat of the latest login request: its reply was lost (or is
	 * still on its way); send it again. An older request showing up
	 * late is ignored. Neither changes any state.
	 */
	if (key && k->last_req && (k->state != L_HELLO)) {
		if (key == k->last_req && k->replays < TUN_REPLAYS_MAX) {
			k->replays++;
			for (i = 0; i < k->nreplay; i++)
				tun_chan_send_raw(k->ch, k->replay[i], k->replay_len[i]);
			return;
		}
		if (key == k->last_req || m->type == TUN_MSG_HELLO ||
		    k->state == L_ATTACHED)
			return;
	}
	if (k->state == L_ATTACHED) {
		if (k->srv->peer)
			peer_relay_up(k->srv->peer, k, m);
		else
			sess_on_msg(k->s, m);
		return;
	}
	/* HELLO's layout is frozen: version 1 in its header, always. */
	if (k->state == L_HELLO) {
		if (m->type != TUN_MSG_HELLO || m->version != TUN_HELLO_VERSION) {
			link_refuse(k, TUN_R_PROTOCOL, "expected HELLO");
			return;
		}
		link_new_req(k, m);
		on_hello(k, m);
		return;
	}
	if (m->version != k->version) {
		link_refuse(k, TUN_R_PROTOCOL, "wrong version in header");
		return;
	}
	if (m->type == TUN_MSG_CLOSE || m->type == TUN_MSG_ERROR) {
		link_drop(k);
		return;
	}
	if (key)
		link_new_req(k, m);
	switch (k->state) {
	case L_SCRAM_FIRST:
		if (m->type == TUN_MSG_AUTH)
			on_scram_first(k, m);
		else
			link_refuse(k, TUN_R_PROTOCOL, "expected AUTH");
		return;
	case L_SCRAM_FINAL:
		if (m->type == TUN_MSG_AUTH)
			on_scram_final(k, m);
		else
			link_refuse(k, TUN_R_PROTOCOL, "expected AUTH");
		return;
	case L_CERT_PROOF:
		if (m->type == TUN_MSG_CERT_PROOF)
			on_cert_proof(k, m);
		else
			link_refuse(k, TUN_R_PROTOCOL, "expected CERT_PROOF");
		return;
	case L_RESUME:
		if (m->type == TUN_MSG_RESUME)
			on_resume(k, m);
		else
			link_refuse(k, TUN_R_PROTOCOL, "expected RESUME");
		return;
	default:
		link_refuse(k, TUN_R_PROTOCOL, NULL);
		return;
	}
}

static void link_on_up(void *user, struct tun_chan *ch)
{
	struct tun_link *k = user;

	k->state = L_HELLO;
}

static void link_on_down(void *user, struct tun_chan *ch, int reason)
{
	struct tun_link *k = user;

	k->ch = NULL;		/* freed by the channel layer right after */
	k->end_reason = reason;
	if (k->srv->peer) {
		/* The core decides what a lost channel means for the session. */
		peer_chan_down(k->srv->peer, reason);
		link_free(k);
		return;
	}
	if (k->state == L_ATTACHED && k->s) {
		struct tun_session *s = k->s;

		link_free(k);
		sess_link_lost(s, reason);
		return;
	}
	link_free(k);
}

static void link_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_link *k = user;

	if (k->state == L_HANDSHAKE) {
		link_drop(k);	/* the channel logs its own timeout */
		return;
	}
	link_refuse(k, TUN_R_TIMEOUT, "login took too long");
}

static const struct tun_chan_ops link_chan_ops = {
	.up = link_on_up,
	.msg = link_on_msg,
	.down = link_on_down,
};

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

/*
 * Before any state for a new peer: the global cap on channels in
 * handshake or login, and a smaller one per source address, so one host
 * cannot hold every slot (each lasts up to handshake_ms).
 */
static bool srv_may_accept(void *user, const struct sockaddr_storage *addr,
			   socklen_t alen)
{
	struct tun_server *srv = user;
	struct tun_link *k;
	unsigned n = 0;

	if (srv->npending >= srv->cfg.max_pending)
		return false;
	for (k = srv->pending; k; k = k->next)
		if (k->ch && same_host(&k->ch->addr, addr))
			n++;
	return n < TUN_PENDING_PER_HOST;
}

/* A pending channel link, before its channel's handshake starts. */
static struct tun_link *link_new_pending(struct tun_server *srv)
{
	struct tun_link *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->srv = srv;
	k->ops = &chan_link_ops;
	k->state = L_HANDSHAKE;
	k->timer = loop_timer_new(srv->l, link_timer_cb, k);
	if (!k->timer) {
		free(k);
		return NULL;
	}
	/* Handshake and login share one deadline. */
	loop_timer_arm(k->timer, (uint64_t)srv->cfg.handshake_ms * 1000);
	k->next = srv->pending;
	srv->pending = k;
	srv->npending++;
	return k;
}

/* Every new channel becomes a pending link before its handshake starts. */
static int srv_adopt(void *user, struct tun_chan *ch)
{
	struct tun_server *srv = user;
	struct tun_link *k = link_new_pending(srv);

	if (!k)
		return -ENOMEM;
	k->ch = ch;
	ch->user = k;
	ch->ops = &link_chan_ops;
	return 0;
}

/* ================= peer links (both ends) ================= */

static void lkio_init(struct lk_io *io, struct loop *l)
{
	io->l = l;
	io->fd = -1;
	pktq_init(&io->q, TUN_LINK_Q_FRAMES, TUN_LINK_Q_BYTES);
}

/* Write what the socket takes now. 0, or -errno: the socket failed. */
static int lkio_flush(struct lk_io *io)
{
	struct pkt *p;

	if (io->fd < 0)
		return -ENOTCONN;
	while ((p = pktq_peek(&io->q))) {
		if (send(io->fd, p->data, p->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return -errno;
		}
		pkt_free(pktq_pop(&io->q));
	}
	/* Write interest only while something waits. */
	loop_mod_fd(io->l, io->fd, EPOLLIN | (pktq_is_empty(&io->q) ? 0 : EPOLLOUT));
	return 0;
}

/*
 * Send one frame, or queue it behind the others. force: a control frame,
 * queued past the caps (there are a handful per link). 0; -ENOBUFS: the
 * queue is full, the frame is not taken; another -errno: the socket failed.
 */
static int lkio_send(struct lk_io *io, const uint8_t *b, size_t len, bool force)
{
	int ret;

	if (io->fd < 0)
		return -ENOTCONN;
	if (pktq_is_empty(&io->q)) {
		if (send(io->fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
	}
	ret = force ? pktq_push_force(&io->q, b, len) : pktq_push(&io->q, b, len);
	if (ret < 0)
		return ret;
	loop_mod_fd(io->l, io->fd, EPOLLIN | EPOLLOUT);
	return 0;
}

/* Frames need their boundaries kept: a stream socket would merge them. */
static bool lkio_fd_ok(int fd)
{
	int type = 0;
	socklen_t tl = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
	       type == SOCK_SEQPACKET;
}

static void lkio_close(struct lk_io *io)
{
	if (io->fd >= 0) {
		loop_del_fd(io->l, io->fd);
		close(io->fd);
		io->fd = -1;
	}
	pktq_clear(&io->q);
}

/*
 * Receive one frame into b[TUN_LINK_FRAME_MAX + 1]: its length, 0 when
 * nothing waits, -EPIPE at EOF, -EMSGSIZE for a datagram longer than any
 * frame (MSG_TRUNC reports its real length), another -errno.
 */
static ssize_t lkio_recv(struct lk_io *io, uint8_t *b)
{
	ssize_t n = recv(io->fd, b, TUN_LINK_FRAME_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	/* A zero-length datagram is no frame either: treated as the end. */
	if (n == 0)
		return -EPIPE;
	if ((size_t)n > TUN_LINK_FRAME_MAX)
		return -EMSGSIZE;
	return n;
}

/* ================= core mode: links from peer processes ================= */

static void remote_release(struct tun_link *k)
{
	struct tun_link **pp;

	for (pp = &k->srv->dead; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	lkio_close(&k->io);
	loop_timer_free(k->timer);
	free(k);
}

/*
 * Close a peer link, with a last frame (END, DROP, FAIL) first if given,
 * best effort. The struct is released from the loop: this may run inside
 * the link's own callbacks.
 */
static void remote_close_with(struct tun_link *k, const uint8_t *b, size_t len)
{
	struct tun_server *srv = k->srv;

	if (k->dead)
		return;
	if (len && k->io.fd >= 0 && lkio_send(&k->io, b, len, true) == 0)
		lkio_flush(&k->io);
	k->dead = true;
	link_unpend(k);
	if (k->s && k->s->link == k)
		k->s->link = NULL;
	k->s = NULL;
	lkio_close(&k->io);
	k->next = srv->dead;
	srv->dead = k;
	if (srv->freeing)
		remote_release(k);
	else
		loop_timer_arm(k->timer, 0);
}

static void remote_close(struct tun_link *k, uint8_t frame)
{
	remote_close_with(k, &frame, frame ? 1 : 0);
}

/* FAIL(reason) and close: the peer refuses its client's login with it. */
static void remote_fail(struct tun_link *k, int reason)
{
	struct tun_link_frame f = { .type = TUN_LF_FAIL };
	uint8_t b[8];
	int n;

	f.reason.reason = (uint8_t)(reason_on_wire(reason) ? reason : TUN_R_INTERNAL);
	n = tun_link_encode(&f, b, sizeof(b));
	remote_close_with(k, b, n > 0 ? (size_t)n : 0);
}

/*
 * The link ended without the session ending: a peer that died, went
 * silent or broke the link protocol. The session detaches as on a lost
 * path (its client can resume through another peer process).
 */
static void remote_lost(struct tun_link *k, int prio, const char *why)
{
	struct tun_session *s = k->s;
	char peer[80];

	if (k->dead)
		return;
	log_msg(prio, "tunnel: peer link %s%s%s: %s", link_peer_str(k, peer, sizeof(peer)),
		  s ? " user " : "", s ? s->user : "", why);
	remote_close(k, 0);
	if (s)
		sess_link_lost(s, TUN_R_PEER_DEAD);
}

static int remote_send(struct tun_link *k, const uint8_t *b, size_t len, bool droppable)
{
	int ret;

	if (k->dead || k->broken)
		return -ENOTCONN;
	ret = lkio_send(&k->io, b, len, !droppable);
	if (ret == -ENOBUFS && !k->stream) {
		/* DTLS: a loss like any other, the reliability layer resends. */
		k->dropped++;
		return ret;
	}
	if (ret < 0) {
		/*
		 * The socket failed, or over TLS (no retransmissions) the
		 * peer has not read a whole queue: stuck. Lost, from the
		 * loop: this runs inside the session's own calls.
		 */
		k->broken = true;
		loop_timer_arm(k->timer, 0);
	}
	return ret;
}

static const char *remote_peer_str(const struct tun_link *k, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", k->label.peer[0] ? k->label.peer : "?");
	return buf;
}

static bool remote_is_stream(const struct tun_link *k)
{
	return k->stream;
}

/* A tunnel message in a MSG_DOWN frame, for the peer to send on. */
static int remote_send_msg(struct tun_link *k, const struct tun_msg *m, bool droppable)
{
	uint8_t b[TUN_LINK_FRAME_MAX];
	int n;

	n = tun_msg_encode(m, b + 1, sizeof(b) - 1);
	if (n < 0)
		return n;
	b[0] = TUN_LF_MSG_DOWN;
	return remote_send(k, b, (size_t)n + 1, droppable);
}

static void remote_send_reason(struct tun_link *k, uint8_t version, uint8_t type,
			       int reason, const char *text)
{
	struct tun_msg m;

	if (!reason_on_wire(reason))
		reason = TUN_R_INTERNAL;
	msg_init(&m, version, type);
	m.close.code = (uint16_t)reason;
	snprintf(m.close.text, sizeof(m.close.text), "%s", text ? text : tun_reason_str(reason));
	remote_send_msg(k, &m, false);
}

static void remote_link_close(struct tun_link *k, bool notify)
{
	remote_close(k, notify ? TUN_LF_END : TUN_LF_DROP);
}

static void remote_shutdown(struct tun_link *k)
{
	remote_fail(k, TUN_R_SHUTDOWN);
}

static const struct tun_link_ops remote_link_ops = {
	.send_msg = remote_send_msg,
	.send_reason = remote_send_reason,
	.close = remote_link_close,
	.shutdown = remote_shutdown,
	.peer_str = remote_peer_str,
	.is_stream = remote_is_stream,
};

static void remote_send_ok(struct tun_link *k, const struct tun_session *s, bool resumed)
{
	struct tun_link_frame f = { .type = TUN_LF_OK };
	uint8_t b[TUN_LINK_FRAME_MAX];
	int n;

	f.ok.resumed = resumed;
	f.ok.resume_s = (uint16_t)s->srv->cfg.resume_s;
	snprintf(f.ok.user, sizeof(f.ok.user), "%s", s->user);
	n = tun_link_encode(&f, b, sizeof(b));
	if (n > 0)
		remote_send(k, b, (size_t)n, false);
}

/* ATTACH: a new session, for the label's user whatever the peer says. */
static void remote_attach(struct tun_link *k, const struct tun_link_frame *f)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s;
	char peer[80];
	bool dup = false;

	if (!k->label.user[0]) {
		log_notice("tunnel: peer link %s: ATTACH without a proven login",
			   link_peer_str(k, peer, sizeof(peer)));
		remote_fail(k, TUN_R_PROTOCOL);
		return;
	}
	for (s = srv->sessions; s; s = s->next)
		dup |= secmem_is_equal(s->sid, f->attach.sid, TUN_SID_LEN);
	if (dup) {
		log_notice("tunnel: peer link %s: ATTACH with a session id in use",
			   link_peer_str(k, peer, sizeof(peer)));
		remote_fail(k, TUN_R_INTERNAL);
		return;
	}
	if (srv->nsessions >= srv->cfg.max_sessions) {
		log_notice("tunnel: %s user %s: %s", link_peer_str(k, peer, sizeof(peer)),
			   k->label.user, tun_reason_str(TUN_R_BUSY));
		remote_fail(k, TUN_R_BUSY);
		return;
	}
	s = sess_new(srv, f->attach.version, k->label.user, f->attach.stream);
	if (!s) {
		remote_fail(k, TUN_R_INTERNAL);
		return;
	}
	memcpy(s->sid, f->attach.sid, TUN_SID_LEN);
	memcpy(s->resume_key, f->attach.key, TUN_KEY_LEN);
	s->label = k->label;
	k->stream = f->attach.stream;
	k->version = f->attach.version;
	sess_link_in(s);
	link_attach(k, s);
	log_notice("tunnel: %s: user %s logged in (%s, peer process)",
		   link_peer_str(k, peer, sizeof(peer)), s->user, k->stream ? "TLS" : "DTLS");
	remote_send_ok(k, s, false);
	sess_announce(s);
}

/*
 * RESUME: the peer exported bind and new_key from its channel; the proof
 * is the client's, and only the holder of the session's resume key can
 * have made it over this bind (on_resume, the listener-mode check).
 */
static void remote_resume(struct tun_link *k, const struct tun_link_frame *f)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s, *found = NULL;
	uint8_t proof[TUN_PROOF_LEN];
	char peer[80];
	bool ok = false;

	/* Every session compared, in constant time each: no early exit. */
	for (s = srv->sessions; s; s = s->next)
		if (secmem_is_equal(s->sid, f->resume.sid, TUN_SID_LEN) && !s->ending)
			found = s;
	if (found && found->version == f->resume.version &&
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, found->resume_key, TUN_KEY_LEN,
			     f->resume.bind, TUN_KEY_LEN, proof) == 0)
		ok = secmem_is_equal(proof, f->resume.proof, TUN_PROOF_LEN);
	secmem_wipe(proof, sizeof(proof));
	if (!ok) {
		/* Name the session's user: a failure may be an attack on it. */
		log_notice("tunnel: %s%s%s: %s", link_peer_str(k, peer, sizeof(peer)),
			   found ? " user " : "", found ? found->user : "",
			   tun_reason_str(TUN_R_RESUME_FAILED));
		remote_fail(k, TUN_R_RESUME_FAILED);
		return;
	}
	s = found;
	if (s->link)
		sess_detach(s, "replaced by a resumption");
	loop_timer_disarm(s->expire_timer);
	memcpy(s->resume_key, f->resume.new_key, TUN_KEY_LEN);
	k->stream = f->resume.stream;
	k->version = f->resume.version;
	link_attach(k, s);
	log_notice("tunnel: %s: user %s resumed its session (%s, peer process)",
		   link_peer_str(k, peer, sizeof(peer)), s->user, k->stream ? "TLS" : "DTLS");
	remote_send_ok(k, s, true);
	tun_rel_path_reset(s->rel, loop_now_us());
	sess_arm(s);
}

static void remote_on_frame(struct tun_link *k, const struct tun_link_frame *f)
{
	struct tun_session *s = k->s;
	struct tun_msg m;
	size_t used;
	char peer[80];

	if (k->state == L_LINK) {
		switch (f->type) {
		case TUN_LF_ATTACH:
			remote_attach(k, f);
			return;
		case TUN_LF_RESUME:
			remote_resume(k, f);
			return;
		case TUN_LF_DOWN:
			/* Its channel failed before the login was done. */
			remote_close(k, 0);
			return;
		default:
			remote_lost(k, LOG_NOTICE, "MSG before ATTACH or RESUME");
			return;
		}
	}
	switch (f->type) {
	case TUN_LF_MSG_UP:
		/* Checked by the decoder already; the struct form for the session. */
		if (tun_msg_decode(&m, f->msg.data, f->msg.len, &used) < 0 || used != f->msg.len) {
			remote_lost(k, LOG_NOTICE, "malformed MSG");
			return;
		}
		sess_on_msg(s, &m);
		return;
	case TUN_LF_DOWN:
		log_info("tunnel: peer link %s user %s: channel down (%s)",
			 link_peer_str(k, peer, sizeof(peer)), s->user,
			 tun_reason_str(f->reason.reason));
		remote_close(k, 0);
		sess_link_lost(s, f->reason.reason);
		return;
	default:
		remote_lost(k, LOG_NOTICE, "ATTACH or RESUME on an attached link");
		return;
	}
}

/* Up to max frames that wait on the link. */
static void remote_read(struct tun_link *k, int max)
{
	uint8_t b[TUN_LINK_FRAME_MAX + 1];
	struct tun_link_frame f;
	ssize_t n;
	int i, ret;

	for (i = 0; i < max && !k->dead; i++) {
		n = lkio_recv(&k->io, b);
		if (n == 0)
			return;
		if (n == -EPIPE) {
			remote_lost(k, LOG_INFO, "peer process gone");
			return;
		}
		if (n < 0) {
			remote_lost(k, n == -EMSGSIZE ? LOG_NOTICE : LOG_INFO,
				    n == -EMSGSIZE ? "oversized frame" : strerror((int)-n));
			return;
		}
		ret = tun_link_decode(&f, b, (size_t)n, TUN_LINK_TO_CORE);
		if (ret < 0) {
			char why[80];

			snprintf(why, sizeof(why), "malformed frame (type 0x%02x: %s)",
				 b[0], strerror(-ret));
			remote_lost(k, LOG_NOTICE, why);
			return;
		}
		remote_on_frame(k, &f);
		/* Resume keys and proofs pass through here. */
		secmem_wipe(&f, sizeof(f));
		secmem_wipe(b, (size_t)n);
	}
}

/*
 * A send failed: the peer may have closed its end after a last DOWN
 * still waiting here, which decides between ending and detaching.
 */
static void remote_drain_then_lost(struct tun_link *k, const char *why)
{
	remote_read(k, TUN_LINK_Q_FRAMES);
	if (!k->dead)
		remote_lost(k, LOG_INFO, why);
}

static void remote_fd_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_link *k = user;

	if (k->dead)
		return;
	if ((events & EPOLLOUT) && lkio_flush(&k->io) < 0) {
		remote_drain_then_lost(k, "send failed");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		remote_read(k, TUN_BATCH_MAX);
}

static void remote_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_link *k = user;
	char peer[80];

	if (k->dead) {
		remote_release(k);
		return;
	}
	if (k->broken) {
		remote_drain_then_lost(k, "peer process not reading, or gone");
		return;
	}
	if (k->state == L_LINK) {
		log_notice("tunnel: peer link %s: no ATTACH or RESUME in time",
			   link_peer_str(k, peer, sizeof(peer)));
		remote_fail(k, TUN_R_TIMEOUT);
	}
}

int tun_server_add_link(struct tun_server *srv, int fd,
			const struct tun_link_label *label)
{
	struct tun_link *k;
	int ret;

	if (!srv || !srv->core || fd < 0 || !lkio_fd_ok(fd)) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return -ENOMEM;
	}
	k->srv = srv;
	k->ops = &remote_link_ops;
	k->state = L_LINK;
	lkio_init(&k->io, srv->l);
	if (label) {
		k->label = *label;
		k->label.user[sizeof(k->label.user) - 1] = '\0';
		k->label.peer[sizeof(k->label.peer) - 1] = '\0';
	}
	k->timer = loop_timer_new(srv->l, remote_timer_cb, k);
	if (!k->timer) {
		close(fd);
		free(k);
		return -ENOMEM;
	}
	ret = loop_add_fd(srv->l, fd, EPOLLIN, remote_fd_cb, k);
	if (ret < 0) {
		close(fd);
		loop_timer_free(k->timer);
		free(k);
		return ret;
	}
	k->io.fd = fd;
	/* The peer logged its client in already: ATTACH or RESUME comes at once. */
	loop_timer_arm(k->timer, (uint64_t)srv->cfg.handshake_ms * 1000);
	k->next = srv->pending;
	srv->pending = k;
	srv->npending++;
	return 0;
}

const struct tun_link_label *tun_session_label(const struct tun_session *s)
{
	return &s->label;
}

/* ================= peer mode: one channel, relayed to the core ================= */

struct tun_peer {
	struct loop *l;
	struct tun_server *srv;		/* login state and hooks; no listeners */
	struct tun_link *k;		/* the channel's link; NULL once gone */
	struct tun_peer_ops ops;
	void *user;
	struct lk_io io;		/* to the core; fd -1 before get_link */
	bool stream;
	bool resuming;
	bool done;
	bool freeing;
	bool down_sent;
	int reason;			/* for on_done; -1: not known yet */
	uint8_t sid[TUN_SID_LEN];
	struct loop_timer *reap;
};

static void peer_fd_cb(struct loop *l, int fd, uint32_t events, void *user);

static void peer_reap_cb(struct loop_timer *t, void *user)
{
	struct tun_peer *p = user;

	/* Last: the owner may free p in it. */
	p->ops.on_done(p->user, p->reason < 0 ? TUN_R_NONE : p->reason);
}

/* The channel is gone: close the link (what is queued goes first). */
static void peer_finish(struct tun_peer *p)
{
	if (p->done)
		return;
	p->done = true;
	if (p->io.fd >= 0)
		lkio_flush(&p->io);
	lkio_close(&p->io);
	loop_timer_arm(p->reap, 0);
}

static void peer_link_gone(struct tun_peer *p, struct tun_link *k)
{
	if (p->k != k)
		return;
	p->k = NULL;
	if (p->reason < 0)
		p->reason = k->end_reason;
	/*
	 * Refused or timed out while the core was making the session: the
	 * client was told no, so the session must not wait for it.
	 */
	if (k->state == L_WAIT_CORE)
		peer_chan_down(p, TUN_R_SHUTDOWN);
	if (!p->freeing)
		peer_finish(p);
}

static int peer_get_link(struct tun_peer *p, const char *name)
{
	int fd, ret;

	if (p->io.fd >= 0)
		return -EALREADY;
	fd = p->ops.get_link(p->user, name);
	if (fd < 0)
		return fd;
	if (!lkio_fd_ok(fd)) {
		close(fd);
		return -EINVAL;
	}
	ret = loop_add_fd(p->l, fd, EPOLLIN, peer_fd_cb, p);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	p->io.fd = fd;
	return 0;
}

static int peer_send_frame(struct tun_peer *p, const struct tun_link_frame *f)
{
	uint8_t b[TUN_LINK_FRAME_MAX];
	int n = tun_link_encode(f, b, sizeof(b));

	if (n > 0)
		n = lkio_send(&p->io, b, (size_t)n, true);
	secmem_wipe(b, sizeof(b));
	return n < 0 ? n : 0;
}

/* The login is proven: ask the core for a new session. */
static void peer_login_ok(struct tun_peer *p, struct tun_link *k, const char *name)
{
	struct tun_link_frame f = { .type = TUN_LF_ATTACH };
	int ret;

	ret = peer_get_link(p, name);
	if (ret < 0) {
		log_notice("tunnel: user %s: no link to the core: %s", name, strerror(-ret));
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	f.attach.version = k->version;
	f.attach.stream = k->ch->kind == TUN_CHAN_STREAM;
	/* The same session id and resume key a listener-mode server makes. */
	ret = gnutls_rnd(GNUTLS_RND_RANDOM, f.attach.sid, TUN_SID_LEN) < 0 ? -EIO :
	      export_key(k->ch, f.attach.sid, TUN_LABEL_RESUME_KEY, f.attach.key);
	if (ret == 0)
		ret = peer_send_frame(p, &f);
	memcpy(p->sid, f.attach.sid, TUN_SID_LEN);
	p->stream = f.attach.stream;
	secmem_wipe(&f, sizeof(f));
	if (ret < 0) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	/* The login deadline still runs until the core answers. */
	k->state = L_WAIT_CORE;
}

/*
 * RESUME: the core holds the session's resume key, this process the
 * channel: bind and the next key are exported here, the proof checked
 * there.
 */
static void peer_resume(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m)
{
	struct tun_link_frame f = { .type = TUN_LF_RESUME };
	int ret;

	ret = peer_get_link(p, NULL);
	if (ret < 0) {
		log_notice("tunnel: resume: no link to the core: %s", strerror(-ret));
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	f.resume.version = k->version;
	f.resume.stream = k->ch->kind == TUN_CHAN_STREAM;
	memcpy(f.resume.sid, m->resume.sid, TUN_SID_LEN);
	memcpy(f.resume.proof, m->resume.proof, TUN_PROOF_LEN);
	ret = tun_chan_export(k->ch, TUN_LABEL_RESUME_BIND, f.resume.sid, TUN_SID_LEN,
			      f.resume.bind, TUN_KEY_LEN);
	if (ret == 0)
		ret = export_key(k->ch, f.resume.sid, TUN_LABEL_RESUME_KEY, f.resume.new_key);
	if (ret == 0)
		ret = peer_send_frame(p, &f);
	memcpy(p->sid, f.resume.sid, TUN_SID_LEN);
	p->stream = f.resume.stream;
	secmem_wipe(&f, sizeof(f));
	if (ret < 0) {
		link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	p->resuming = true;
	k->state = L_WAIT_CORE;
}

/* The core said yes: READY, built here and kept for a repeated request. */
static void peer_ready(struct tun_peer *p, struct tun_link *k, const struct tun_link_frame *f)
{
	struct tun_msg m;
	char peer[80];

	link_unpend(k);
	loop_timer_disarm(k->timer);
	scram_server_free(k->scram);
	k->scram = NULL;
	k->state = L_ATTACHED;
	snprintf(k->name, sizeof(k->name), "%s", f->ok.user);
	log_notice("tunnel: %s: user %s %s (%s)", tun_chan_peer_str(k->ch, peer, sizeof(peer)),
		   k->name, p->resuming ? "resumed its session" : "logged in",
		   p->stream ? "TLS" : "DTLS");
	msg_init(&m, k->version, TUN_MSG_READY);
	m.flags = p->resuming ? TUN_F_RESUMED : 0;
	memcpy(m.ready.sid, p->sid, TUN_SID_LEN);
	m.ready.resume_s = f->ok.resume_s;
	memcpy(m.ready.user, k->name, sizeof(k->name));
	link_send(k, &m);
}

/* The core broke the link protocol or went away. */
static void peer_core_lost(struct tun_peer *p, const char *why)
{
	struct tun_link *k = p->k;

	log_notice("tunnel: link to the core: %s", why);
	if (!k) {
		peer_finish(p);
		return;
	}
	if (k->state == L_ATTACHED) {
		/* Silently: the client resumes, maybe with a core that works. */
		p->reason = TUN_R_INTERNAL;
		link_close(k, false);
		return;
	}
	link_refuse(k, TUN_R_INTERNAL, NULL);
}

static void peer_on_frame(struct tun_peer *p, const struct tun_link_frame *f)
{
	struct tun_link *k = p->k;
	struct tun_msg m;
	size_t used;

	if (!k)
		return;
	if (k->state == L_WAIT_CORE) {
		if (f->type == TUN_LF_OK && f->ok.resumed == p->resuming) {
			peer_ready(p, k, f);
			return;
		}
		if (f->type == TUN_LF_FAIL) {
			/* A failed resumption counts like a wrong password. */
			if (p->resuming)
				link_failed_login(k, f->reason.reason, NULL);
			else
				link_refuse(k, f->reason.reason, NULL);
			return;
		}
		peer_core_lost(p, "unexpected frame while logging in");
		return;
	}
	if (k->state != L_ATTACHED) {
		peer_core_lost(p, "frame before ATTACH or RESUME");
		return;
	}
	switch (f->type) {
	case TUN_LF_MSG_DOWN:
		if ((f->msg.msg_type == TUN_MSG_CLOSE || f->msg.msg_type == TUN_MSG_ERROR) &&
		    tun_msg_decode(&m, f->msg.data, f->msg.len, &used) == 0)
			p->reason = m.type == TUN_MSG_CLOSE ? TUN_R_SHUTDOWN : m.close.code;
		tun_chan_send_raw(k->ch, f->msg.data, f->msg.len);
		return;
	case TUN_LF_END:
		if (p->reason < 0)
			p->reason = TUN_R_SHUTDOWN;
		link_close(k, true);
		return;
	case TUN_LF_DROP:
		/* Resumed through another peer process: leave without a word. */
		p->reason = TUN_R_NONE;
		link_close(k, false);
		return;
	default:
		peer_core_lost(p, "unexpected frame");
		return;
	}
}

/* Up to max frames that wait on the link. */
static void peer_read(struct tun_peer *p, int max)
{
	uint8_t b[TUN_LINK_FRAME_MAX + 1];
	struct tun_link_frame f;
	ssize_t n;
	int i;

	for (i = 0; i < max && !p->done && p->io.fd >= 0; i++) {
		n = lkio_recv(&p->io, b);
		if (n == 0)
			return;
		if (n < 0) {
			peer_core_lost(p, n == -EPIPE ? "closed" : n == -EMSGSIZE ?
				       "oversized frame" : strerror((int)-n));
			return;
		}
		if (tun_link_decode(&f, b, (size_t)n, TUN_LINK_TO_PEER) < 0) {
			peer_core_lost(p, "malformed frame");
			return;
		}
		peer_on_frame(p, &f);
	}
}

/*
 * A send failed: the core may have closed the link after a last END or
 * DROP still waiting here, which says what to tell the client.
 */
static void peer_drain_then_lost(struct tun_peer *p, const char *why)
{
	peer_read(p, TUN_LINK_Q_FRAMES);
	if (!p->done)
		peer_core_lost(p, why);
}

static void peer_fd_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_peer *p = user;

	if (p->done)
		return;
	if ((events & EPOLLOUT) && lkio_flush(&p->io) < 0) {
		peer_drain_then_lost(p, "send failed");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		peer_read(p, TUN_BATCH_MAX);
}

/* A message from the client on an attached channel: to the core. */
static void peer_relay_up(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m)
{
	uint8_t b[TUN_LINK_FRAME_MAX];
	bool droppable;
	int n;

	switch (m->type) {
	case TUN_MSG_HCI:
	case TUN_MSG_ACK:
	case TUN_MSG_KEEPALIVE:
		droppable = !p->stream;
		break;
	case TUN_MSG_CLOSE:
	case TUN_MSG_ERROR:
		droppable = false;
		break;
	default:
		/* As a listener-mode session would: the session ends. */
		log_notice("tunnel: session %s: unexpected %s", k->name,
			   tun_msg_type_name(m->type));
		send_reason(k->ch, k->version, TUN_MSG_ERROR, TUN_R_PROTOCOL, NULL);
		peer_chan_down(p, TUN_R_PROTOCOL);
		link_close(k, true);
		return;
	}
	n = tun_msg_encode(m, b + 1, sizeof(b) - 1);
	if (n < 0)
		return;
	b[0] = TUN_LF_MSG_UP;
	n = lkio_send(&p->io, b, (size_t)n + 1, !droppable);
	if (n == -ENOBUFS && droppable)
		return;		/* DTLS: a loss, the client's layer resends */
	if (n == -ENOBUFS) {
		/*
		 * TLS: the core has not read a whole queue; reading on
		 * would mean dropping what TCP promised to deliver. Let
		 * the client resume instead.
		 */
		log_notice("tunnel: session %s: the core does not keep up", k->name);
		p->reason = TUN_R_INTERNAL;
		link_close(k, false);
		return;
	}
	if (n < 0)
		peer_drain_then_lost(p, "send failed");
}

/* The channel failed: tell the core why (it decides end or detach). */
static void peer_chan_down(struct tun_peer *p, int reason)
{
	struct tun_link_frame f = { .type = TUN_LF_DOWN };

	if (p->reason < 0)
		p->reason = reason;
	if (p->io.fd < 0 || p->done || p->down_sent)
		return;
	p->down_sent = true;
	f.reason.reason = (uint8_t)(reason > 0 && reason < 256 ? reason : TUN_R_PEER_DEAD);
	peer_send_frame(p, &f);
}

int tun_peer_new(struct tun_peer **out, struct loop *l, struct tun_creds *cr,
		 const struct tun_server_cfg *cfg, struct tun_front_peer *fp,
		 const struct tun_peer_ops *ops, const struct tun_auth_ops *auth,
		 void *user)
{
	struct tun_peer *p = NULL;
	struct tun_server *srv = NULL;
	struct tun_link *k;
	int ret = -ENOMEM;

	*out = NULL;
	if (!l || !cr || !cfg || !fp || !ops || !ops->get_link || !ops->on_done) {
		ret = -EINVAL;
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	srv = calloc(1, sizeof(*srv));
	if (!p || !srv)
		goto fail;
	srv->l = l;
	srv_cfg_init(srv, cfg);
	if (auth)
		srv->auth = *auth;
	srv->user = user;
	srv->peer = p;
	ret = srv_ca_init(srv);
	if (ret < 0)
		goto fail;
	ret = -ENOMEM;
	p->l = l;
	p->srv = srv;
	p->ops = *ops;
	p->user = user;
	p->reason = -1;
	lkio_init(&p->io, l);
	p->reap = loop_timer_new(l, peer_reap_cb, p);
	if (!p->reap)
		goto fail;
	k = link_new_pending(srv);
	if (!k)
		goto fail;
	p->k = k;
	/* k->ch is set before the handshake starts (its callbacks use it). */
	ret = tun_chan_new_peer(&k->ch, l, cr, fp, srv->cfg.handshake_ms,
				&link_chan_ops, k);
	if (ret < 0) {
		p->freeing = true;
		link_free(k);
		p->k = NULL;
		goto fail_fd_gone;
	}
	*out = p;
	return 0;
fail:
	if (fp && fp->fd >= 0) {
		close(fp->fd);
		fp->fd = -1;
	}
fail_fd_gone:
	if (p) {
		loop_timer_free(p->reap);
		free(p);
	}
	if (srv)
		tun_certca_free(srv->ca);
	free(srv);
	return ret;
}

void tun_peer_free(struct tun_peer *p)
{
	if (!p)
		return;
	p->freeing = true;
	if (p->k)
		link_close(p->k, false);
	lkio_close(&p->io);
	loop_timer_free(p->reap);
	tun_server_free(p->srv);
	free(p);
}

/*
 * A server key held by the owner (cfg.key_sign): GnuTLS sees an external
 * private key (gnutls_privkey_import_ext4) whose public half is the
 * certificate's and whose every signature is the owner's.
 */
struct ext_key {
	int (*sign)(void *user, int sign_algo, bool is_hash, const uint8_t *in,
		    size_t in_len, uint8_t *sig, size_t cap, size_t *sig_len);
	void *user;
	gnutls_pk_algorithm_t pk;
	unsigned bits;
};

static int ext_sign(struct ext_key *ek, gnutls_sign_algorithm_t algo, unsigned flags,
		    bool is_hash, const gnutls_datum_t *in, gnutls_datum_t *sig)
{
	uint8_t buf[TUN_SIG_MAX];
	size_t n = 0;

	/* TLS 1.0/1.1's raw RSA signature: not in our priorities, never signed. */
	if ((flags & GNUTLS_PRIVKEY_SIGN_FLAG_TLS1_RSA) || algo == GNUTLS_SIGN_RSA_RAW)
		return GNUTLS_E_INVALID_REQUEST;
	if (ek->sign(ek->user, (int)algo, is_hash, in->data, in->size, buf,
		     sizeof(buf), &n) < 0 || n == 0 || n > sizeof(buf))
		return GNUTLS_E_PK_SIGN_FAILED;
	sig->data = gnutls_malloc(n);
	if (!sig->data)
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(sig->data, buf, n);
	sig->size = (unsigned)n;
	return 0;
}

static int ext_sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
			 void *user, unsigned int flags, const gnutls_datum_t *hash,
			 gnutls_datum_t *sig)
{
	(void)key;
	return ext_sign(user, algo, flags, true, hash, sig);
}

static int ext_sign_data(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
			 void *user, unsigned int flags, const gnutls_datum_t *data,
			 gnutls_datum_t *sig)
{
	(void)key;
	return ext_sign(user, algo, flags, false, data, sig);
}

static int ext_info(gnutls_privkey_t key, unsigned int flags, void *user)
{
	struct ext_key *ek = user;

	(void)key;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO)
		return gnutls_sign_supports_pk_algorithm(GNUTLS_FLAGS_TO_SIGN_ALGO(flags),
							 ek->pk) ? 1 : 0;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return (int)ek->pk;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)ek->bits;
	if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO)
		return 0;	/* no preference */
	return GNUTLS_E_UNKNOWN_ALGORITHM;
}

static void ext_deinit(gnutls_privkey_t key, void *user)
{
	(void)key;
	free(user);
}

#define EXT_CHAIN_MAX	8

static int ext_creds_new(struct tun_creds **out, const struct tun_server_cfg *cfg,
			 void *user)
{
	gnutls_pcert_st pc[EXT_CHAIN_MAX];
	unsigned npc = EXT_CHAIN_MAX, i;
	gnutls_privkey_t key = NULL;
	struct ext_key *ek = NULL;
	struct tun_creds *cr;
	int ret, err;

	*out = NULL;
	if (!cfg->cert_file)
		return -EINVAL;
	ret = tun_creds_new(&cr, true, cfg->ca_file, NULL, NULL);
	if (ret < 0)
		return ret;
	err = gnutls_pcert_list_import_x509_file(pc, &npc, cfg->cert_file,
						 GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
	if (err < 0) {
		log_err("tunnel: credentials %s: %s", cfg->cert_file, gnutls_strerror(err));
		tun_creds_free(cr);
		return -EINVAL;
	}
	ek = calloc(1, sizeof(*ek));
	if (!ek) {
		err = GNUTLS_E_MEMORY_ERROR;
		goto fail;
	}
	ek->sign = cfg->key_sign;
	ek->user = user;
	err = gnutls_pubkey_get_pk_algorithm(pc[0].pubkey, &ek->bits);
	if (err < 0)
		goto fail;
	ek->pk = (gnutls_pk_algorithm_t)err;
	err = gnutls_privkey_init(&key);
	if (err < 0)
		goto fail;
	err = gnutls_privkey_import_ext4(key, ek, ext_sign_data, ext_sign_hash, NULL,
					 ext_deinit, ext_info,
					 GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (err < 0)
		goto fail;
	ek = NULL;	/* the key's now */
	/*
	 * GnuTLS would test the pair by having the key sign: a request to
	 * the owner, who holds the key and has checked that it matches the
	 * certificate itself (bgw-muxd: keysign_load, before any handshake),
	 * and who may not take signature requests from whoever loads these
	 * credentials (bgw-muxd's network front).
	 */
	gnutls_certificate_set_flags(cr->cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
	/* The chain and the key pass to the credentials. */
	err = gnutls_certificate_set_key(cr->cred, NULL, 0, pc, (int)npc, key);
	if (err < 0)
		goto fail;
	*out = cr;
	return 0;
fail:
	log_err("tunnel: credentials %s with the owner's key: %s", cfg->cert_file,
		gnutls_strerror(err));
	if (key)
		gnutls_privkey_deinit(key);
	free(ek);
	for (i = 0; i < npc; i++)
		gnutls_pcert_deinit(&pc[i]);
	tun_creds_free(cr);
	return -EINVAL;
}

int tun_server_creds_new(struct tun_creds **out, const struct tun_server_cfg *cfg,
			 void *user)
{
	if (!out || !cfg)
		return -EINVAL;
	if (cfg->key_sign)
		return ext_creds_new(out, cfg, user);
	return tun_creds_new(out, true, cfg->ca_file, cfg->cert_file, cfg->key_file);
}

void tun_server_creds_free(struct tun_creds *cr)
{
	tun_creds_free(cr);
}

/* The configuration with its defaults and caps filled in. */
static void srv_cfg_init(struct tun_server *srv, const struct tun_server_cfg *cfg)
{
	srv->cfg = *cfg;
	if (!srv->cfg.resume_s)
		srv->cfg.resume_s = TUN_RESUME_S_DEFAULT;
	if (srv->cfg.resume_s > TUN_LINK_RESUME_S_MAX)
		srv->cfg.resume_s = TUN_LINK_RESUME_S_MAX;
	if (!srv->cfg.max_sessions)
		srv->cfg.max_sessions = TUN_MAX_SESSIONS_DEFAULT;
	if (!srv->cfg.max_pending)
		srv->cfg.max_pending = TUN_MAX_PENDING_DEFAULT;
	if (!srv->cfg.handshake_ms)
		srv->cfg.handshake_ms = TUN_HANDSHAKE_MS_DEFAULT;
	if (cfg->rel)
		srv->rel_cfg = *cfg->rel;
	else
		tun_rel_cfg_default(&srv->rel_cfg);
	srv->cfg.rel = NULL;
}

/*
 * The CA for certificate logins checked here; an owner that checks them
 * itself (cert_verify) needs none (bgw-muxd's sandboxed peers could not
 * open it).
 */
static int srv_ca_init(struct tun_server *srv)
{
	int ret;

	if (srv->auth.cert_verify || !srv->auth.cert_user || !srv->cfg.ca_file)
		return 0;
	ret = tun_certca_new(&srv->ca, srv->cfg.ca_file);
	if (ret < 0)
		log_err("tunnel: CA %s: cannot load it for certificate logins",
			srv->cfg.ca_file);
	return ret;
}

int tun_server_new(struct tun_server **out, struct loop *l,
		   const struct tun_server_cfg *cfg,
		   const struct tun_server_ops *ops,
		   const struct tun_auth_ops *auth, void *user)
{
	struct tun_server *srv;
	struct tun_listen_cfg lc;
	int ret;

	*out = NULL;
	if (!cfg || !ops || !ops->on_packet)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->l = l;
	srv_cfg_init(srv, cfg);
	srv->ops = *ops;
	if (auth)
		srv->auth = *auth;
	srv->user = user;
	/* Core mode: no listener, no channel, so no credentials either. */
	if (!cfg->udp_port && !cfg->tcp_port) {
		srv->core = true;
		*out = srv;
		return 0;
	}
	ret = tun_server_creds_new(&srv->creds, cfg, user);
	if (ret < 0)
		goto fail;
	ret = srv_ca_init(srv);
	if (ret < 0)
		goto fail;
	memset(&lc, 0, sizeof(lc));
	lc.l = l;
	lc.creds = srv->creds;
	lc.host = cfg->host ? cfg->host : "::";
	lc.handshake_ms = srv->cfg.handshake_ms;
	lc.ops = &link_chan_ops;
	lc.user = srv;
	lc.may_accept = srv_may_accept;
	lc.adopt = srv_adopt;
	if (cfg->udp_port) {
		lc.port = cfg->udp_port;
		ret = tun_dlisten_new(&srv->dl, &lc);
		if (ret < 0)
			goto fail;
	}
	if (cfg->tcp_port) {
		lc.port = cfg->tcp_port;
		ret = tun_tlisten_new(&srv->tl, &lc);
		if (ret < 0)
			goto fail;
	}
	*out = srv;
	return 0;
fail:
	tun_server_free(srv);
	return ret;
}

void tun_server_free(struct tun_server *srv)
{
	if (!srv)
		return;
	srv->freeing = true;
	while (srv->sessions) {
		struct tun_session *s = srv->sessions;

		if (s->link && !s->ending)
			link_send_reason(s->link, s->version, TUN_MSG_CLOSE,
					 TUN_R_SHUTDOWN, "server shutting down");
		sess_release(s);
	}
	while (srv->pending)
		srv->pending->ops->shutdown(srv->pending);
	while (srv->dead)
		remote_release(srv->dead);
	tun_dlisten_free(srv->dl);
	tun_tlisten_free(srv->tl);
	tun_creds_free(srv->creds);
	tun_certca_free(srv->ca);
	free(srv);
}

uint16_t tun_server_udp_port(const struct tun_server *srv)
{
	return tun_dlisten_port(srv->dl);
}

uint16_t tun_server_tcp_port(const struct tun_server *srv)
{
	return tun_tlisten_port(srv->tl);
}

unsigned tun_server_session_count(const struct tun_server *srv)
{
	return srv->nsessions;
}

unsigned tun_server_pending_count(const struct tun_server *srv)
{
	return srv->npending;
}

static int check_h4(const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;

	if (len > TUN_REL_PKT_MAX)
		return -EMSGSIZE;
	return h4_parse(&pkt, h4, len, 0) < 0 ? -EBADMSG : 0;
}

int tun_session_send(struct tun_session *s, const uint8_t *h4, size_t len)
{
	int ret;

	if (s->ending)
		return -ENOTCONN;
	ret = check_h4(h4, len);
	if (ret < 0)
		return ret;
	ret = tun_rel_send(s->rel, h4, len, loop_now_us());
	if (ret == 0)
		sess_arm(s);
	return ret;
}

void tun_session_rx_kick(struct tun_session *s)
{
	if (s->ending)
		return;
	if (tun_rel_rx_kick(s->rel, loop_now_us()) < 0)
		sess_end(s, TUN_R_PROTOCOL, true);
	else
		sess_arm(s);
}

void tun_session_close(struct tun_session *s, int reason)
{
	sess_end(s, reason ? reason : TUN_R_LOCAL_CLOSE, true);
}

const char *tun_session_user(const struct tun_session *s)
{
	return s->user;
}

const char *tun_session_peer(const struct tun_session *s, char *buf, size_t cap)
{
	if (!s->link) {
		snprintf(buf, cap, "-");
		return buf;
	}
	return link_peer_str(s->link, buf, cap);
}

bool tun_session_is_attached(const struct tun_session *s)
{
	return s->link != NULL;
}

bool tun_session_is_quiet(const struct tun_session *s)
{
	return s && s->rel && tun_rel_is_quiet(s->rel);
}

void tun_session_set_data(struct tun_session *s, void *data)
{
	s->data = data;
}

void *tun_session_get_data(const struct tun_session *s)
{
	return s->data;
}

void tun_session_get_stats(const struct tun_session *s, struct tun_rel_stats *st)
{
	tun_rel_get_stats(s->rel, st);
}
