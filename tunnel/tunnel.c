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
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "chan.h"
#include "hci.h"
#include "log.h"
#include "scram.h"
#include "tunnel.h"

#define TUN_RESUME_S_DEFAULT	30
#define TUN_MAX_SESSIONS_DEFAULT 16
#define TUN_MAX_PENDING_DEFAULT	32
#define TUN_HANDSHAKE_MS_DEFAULT 10000
#define TUN_KEY_LEN		32
#define TUN_PENDING_PER_HOST	4
/* A login reply is at most two messages (HELLO + READY, AUTH + READY). */
#define TUN_REPLAY_MSGS		2
#define TUN_REPLAYS_MAX		8

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
	L_RESUME,
	L_ATTACHED,
	L_CLOSING,
};

struct tun_link {
	struct tun_server *srv;
	struct tun_chan *ch;
	struct tun_session *s;		/* L_ATTACHED */
	struct tun_link *next;		/* pending list */
	enum link_state state;
	uint8_t version;
	struct scram_server *scram;
	char name[TUN_USER_MAX + 1];
	struct loop_timer *timer;	/* login deadline */
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
	struct tun_dlisten *dl;
	struct tun_tlisten *tl;
	struct tun_link *pending;
	unsigned npending;
	struct tun_session *sessions;
	unsigned nsessions;
	struct tun_rel_cfg rel_cfg;
	bool freeing;
};

static void link_free(struct tun_link *k)
{
	struct tun_link **pp;

	if (!k)
		return;
	for (pp = &k->srv->pending; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			k->srv->npending--;
			break;
		}
	}
	scram_server_free(k->scram);
	loop_timer_free(k->timer);
	free(k);
}

/* Drop a link (pending or attached); its channel closes now. */
static void link_close(struct tun_link *k, bool notify)
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

	log_notice("tunnel: %s%s%s: %s%s%s", tun_chan_peer_str(k->ch, peer, sizeof(peer)),
		   k->name[0] ? " user " : "", k->name, tun_reason_str(reason),
		   text ? ": " : "", text ? text : "");
	send_reason(k->ch, k->version ? k->version : TUN_VERSION_MIN,
		    TUN_MSG_ERROR, reason, text);
	/* No state is kept to answer a repeat: over UDP say it twice, so
	 * one lost datagram does not turn the reason into a timeout. */
	if (k->ch && k->ch->kind != TUN_CHAN_STREAM)
		send_reason(k->ch, k->version ? k->version : TUN_VERSION_MIN,
			    TUN_MSG_ERROR, reason, text);
	link_drop(k);
}

static void sess_arm(struct tun_session *s)
{
	uint64_t now = loop_now_us(), d;

	if (!s->link || s->ending) {
		loop_timer_disarm(s->rel_timer);
		return;
	}
	d = tun_rel_deadline(s->rel);
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
	loop_timer_disarm(s->rel_timer);
	loop_timer_arm(s->expire_timer, (uint64_t)s->srv->cfg.resume_s * 1000000);
}

static void sess_reap_cb(struct loop_timer *t, void *user);

/* End a session; the owner hears of it from the loop. */
static void sess_end(struct tun_session *s, int reason, bool tell_peer)
{
	if (s->ending)
		return;
	s->ending = true;
	s->end_reason = reason;
	if (s->link) {
		if (tell_peer)
			send_reason(s->link->ch, s->version,
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
	tun_wipe(s->resume_key, sizeof(s->resume_key));
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
	tun_chan_send(s->link->ch, &c);
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

static const struct tun_rel_ops sess_rel_ops = {
	.output = sess_rel_output,
	.deliver = sess_rel_deliver,
	.writable = sess_rel_writable,
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
	struct tun_link **pp;

	for (pp = &k->srv->pending; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			k->srv->npending--;
			break;
		}
	}
	k->next = NULL;
	loop_timer_disarm(k->timer);
	scram_server_free(k->scram);
	k->scram = NULL;
	k->state = L_ATTACHED;
	k->s = s;
	s->link = k;
	tun_rel_set_stream(s->rel, k->ch->kind == TUN_CHAN_STREAM);
}

static void login_ok(struct tun_link *k, const char *name)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s = NULL;
	struct tun_rel_cfg rc = srv->rel_cfg;
	char peer[80];
	int ret;

	if (srv->nsessions >= srv->cfg.max_sessions) {
		link_refuse(k, TUN_R_BUSY, NULL);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->srv = srv;
	s->version = k->version;
	snprintf(s->user, sizeof(s->user), "%s", name);
	rc.stream = k->ch->kind == TUN_CHAN_STREAM;
	s->rel_timer = loop_timer_new(srv->l, sess_rel_timer_cb, s);
	s->flush_timer = loop_timer_new(srv->l, sess_flush_cb, s);
	s->expire_timer = loop_timer_new(srv->l, sess_expire_cb, s);
	s->reap = loop_timer_new(srv->l, sess_reap_cb, s);
	if (!s->rel_timer || !s->flush_timer || !s->expire_timer || !s->reap)
		goto fail;
	if (tun_rel_new(&s->rel, &rc, &sess_rel_ops, s, loop_now_us()) < 0)
		goto fail;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, s->sid, sizeof(s->sid)) < 0 ||
	    export_key(k->ch, s->sid, TUN_LABEL_RESUME_KEY, s->resume_key) < 0)
		goto fail;
	s->next = srv->sessions;
	srv->sessions = s;
	srv->nsessions++;
	link_attach(k, s);
	log_notice("tunnel: %s: user %s logged in (%s)",
		   tun_chan_peer_str(k->ch, peer, sizeof(peer)), s->user,
		   k->ch->kind == TUN_CHAN_STREAM ? "TLS" : "DTLS");
	send_ready(s, false);
	ret = srv->ops.on_session ? srv->ops.on_session(srv->user, s, s->user) : 0;
	if (ret < 0) {
		sess_end(s, TUN_R_REFUSED, true);
		return;
	}
	s->announced = true;
	sess_arm(s);
	return;
fail:
	if (s) {
		if (s->rel) {
			sess_release(s);	/* not linked yet: just frees */
		} else {
			loop_timer_free(s->rel_timer);
			loop_timer_free(s->flush_timer);
			loop_timer_free(s->expire_timer);
			loop_timer_free(s->reap);
			free(s);
		}
	}
	link_refuse(k, TUN_R_INTERNAL, NULL);
}

static void link_failed_login(struct tun_link *k, int reason, const char *text)
{
	struct tun_server *srv = k->srv;

	if (srv->auth.login_failed)
		srv->auth.login_failed(srv->user, k->name, &k->ch->addr, k->ch->alen, reason);
	link_refuse(k, reason, text);
}

static void on_hello(struct tun_link *k, const struct tun_msg *m)
{
	struct tun_server *srv = k->srv;
	struct tun_msg r;
	char text[TUN_TEXT_MAX + 1];
	uint8_t v;
	int ret;

	if (m->hello.vmax < TUN_VERSION_MIN || m->hello.vmin > TUN_VERSION_MAX) {
		snprintf(text, sizeof(text),
			 "client speaks versions %u..%u, server %u..%u",
			 m->hello.vmin, m->hello.vmax, TUN_VERSION_MIN, TUN_VERSION_MAX);
		link_refuse(k, TUN_R_VERSION, text);
		return;
	}
	v = m->hello.vmax < TUN_VERSION_MAX ? m->hello.vmax : TUN_VERSION_MAX;
	k->version = v;
	msg_init(&r, TUN_VERSION_MIN, TUN_MSG_HELLO);	/* HELLO: always 1 */
	r.hello.vmin = v;
	r.hello.vmax = v;
	r.hello.mode = m->hello.mode;
	link_send(k, &r);

	switch (m->hello.mode) {
	case TUN_MODE_CERT:
		if (!k->ch->has_cert) {
			link_failed_login(k, TUN_R_CERT_REQUIRED, NULL);
			return;
		}
		if (k->ch->cert_reason) {
			link_failed_login(k, k->ch->cert_reason, NULL);
			return;
		}
		if (!srv->auth.cert_user) {
			link_refuse(k, TUN_R_MODE_UNSUPPORTED,
				    "certificate login is not configured");
			return;
		}
		if (srv->auth.login_allowed &&
		    srv->auth.login_allowed(srv->user, k->ch->cert.cn, &k->ch->addr,
					    k->ch->alen) < 0) {
			link_refuse(k, TUN_R_RATE_LIMITED, NULL);
			return;
		}
		snprintf(k->name, sizeof(k->name), "%s", k->ch->cert.cn);
		ret = srv->auth.cert_user(srv->user, &k->ch->cert, k->name, sizeof(k->name));
		if (ret < 0 || !k->name[0]) {
			link_failed_login(k, ret == -EKEYREVOKED ? TUN_R_CERT_REVOKED :
					  ret == -ENOENT ? TUN_R_CERT_UNKNOWN :
					  TUN_R_AUTH_FAILED, NULL);
			return;
		}
		login_ok(k, k->name);
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
	tun_wipe(cb, sizeof(cb));
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

	/* Every session compared, in constant time each: no early exit. */
	for (s = srv->sessions; s; s = s->next)
		if (tun_mem_eq_ct(s->sid, m->resume.sid, TUN_SID_LEN) && !s->ending)
			found = s;
	/* Name the session's user in the log: a failure may be an attack on it. */
	if (found)
		snprintf(k->name, sizeof(k->name), "%s", found->user);
	if (found && k->ch->has_cert && k->ch->cert_reason) {
		link_failed_login(k, k->ch->cert_reason, NULL);
		return;
	}
	if (found && tun_chan_export(k->ch, TUN_LABEL_RESUME_BIND, found->sid,
				     TUN_SID_LEN, bind, sizeof(bind)) == 0 &&
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, found->resume_key, TUN_KEY_LEN,
			     bind, sizeof(bind), proof) == 0)
		ok = tun_mem_eq_ct(proof, m->resume.proof, TUN_PROOF_LEN);
	tun_wipe(proof, sizeof(proof));
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
		sess_on_msg(k->s, m);
		return;
	}
	/* HELLO's layout is frozen: version 1 in its header, always. */
	if (k->state == L_HELLO) {
		if (m->type != TUN_MSG_HELLO || m->version != TUN_VERSION_MIN) {
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
	if (k->state == L_ATTACHED && k->s) {
		struct tun_session *s = k->s;

		s->link = NULL;
		link_free(k);
		k = NULL;
		/*
		 * A protocol violation or the client's close_notify ends
		 * the session; a lost path does not.
		 */
		if (reason == TUN_R_PROTOCOL || reason == TUN_R_SHUTDOWN) {
			sess_end(s, reason, false);
			return;
		}
		log_info("tunnel: session %s detached (%s); resumable for %u s",
			 s->user, tun_reason_str(reason), s->srv->cfg.resume_s);
		loop_timer_disarm(s->rel_timer);
		loop_timer_arm(s->expire_timer, (uint64_t)s->srv->cfg.resume_s * 1000000);
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

/* Every new channel becomes a pending link before its handshake starts. */
static int srv_adopt(void *user, struct tun_chan *ch)
{
	struct tun_server *srv = user;
	struct tun_link *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->srv = srv;
	k->ch = ch;
	k->state = L_HANDSHAKE;
	k->timer = loop_timer_new(srv->l, link_timer_cb, k);
	if (!k->timer) {
		free(k);
		return -ENOMEM;
	}
	/* Handshake and login share one deadline. */
	loop_timer_arm(k->timer, (uint64_t)srv->cfg.handshake_ms * 1000);
	k->next = srv->pending;
	srv->pending = k;
	srv->npending++;
	ch->user = k;
	ch->ops = &link_chan_ops;
	return 0;
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

static int ext_creds_new(struct tun_server *srv)
{
	gnutls_pcert_st pc[EXT_CHAIN_MAX];
	unsigned npc = EXT_CHAIN_MAX, i;
	gnutls_privkey_t key = NULL;
	struct ext_key *ek = NULL;
	int ret, err;

	if (!srv->cfg.cert_file)
		return -EINVAL;
	ret = tun_creds_new(&srv->creds, true, srv->cfg.ca_file, NULL, NULL);
	if (ret < 0)
		return ret;
	err = gnutls_pcert_list_import_x509_file(pc, &npc, srv->cfg.cert_file,
						 GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
	if (err < 0) {
		log_err("tunnel: credentials %s: %s", srv->cfg.cert_file, gnutls_strerror(err));
		return -EINVAL;
	}
	ek = calloc(1, sizeof(*ek));
	if (!ek) {
		err = GNUTLS_E_MEMORY_ERROR;
		goto fail;
	}
	ek->sign = srv->cfg.key_sign;
	ek->user = srv->user;
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
	/* The chain and the key pass to the credentials. */
	err = gnutls_certificate_set_key(srv->creds->cred, NULL, 0, pc, (int)npc, key);
	if (err < 0)
		goto fail;
	return 0;
fail:
	log_err("tunnel: credentials %s with the owner's key: %s", srv->cfg.cert_file,
		gnutls_strerror(err));
	if (key)
		gnutls_privkey_deinit(key);
	free(ek);
	for (i = 0; i < npc; i++)
		gnutls_pcert_deinit(&pc[i]);
	return -EINVAL;
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
	if (!cfg || !ops || !ops->on_packet || (!cfg->udp_port && !cfg->tcp_port))
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->l = l;
	srv->cfg = *cfg;
	srv->ops = *ops;
	if (auth)
		srv->auth = *auth;
	srv->user = user;
	if (!srv->cfg.resume_s)
		srv->cfg.resume_s = TUN_RESUME_S_DEFAULT;
	if (srv->cfg.resume_s > 3600)
		srv->cfg.resume_s = 3600;
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
	if (cfg->key_sign)
		ret = ext_creds_new(srv);
	else
		ret = tun_creds_new(&srv->creds, true, cfg->ca_file, cfg->cert_file,
				    cfg->key_file);
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
			send_reason(s->link->ch, s->version, TUN_MSG_CLOSE,
				    TUN_R_SHUTDOWN, "server shutting down");
		sess_release(s);
	}
	while (srv->pending)
		link_drop(srv->pending);
	tun_dlisten_free(srv->dl);
	tun_tlisten_free(srv->tl);
	tun_creds_free(srv->creds);
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
	if (!s->link || !s->link->ch) {
		snprintf(buf, cap, "-");
		return buf;
	}
	return tun_chan_peer_str(s->link->ch, buf, cap);
}

bool tun_session_is_attached(const struct tun_session *s)
{
	return s->link != NULL;
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
