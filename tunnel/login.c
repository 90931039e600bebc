/* SPDX-License-Identifier: MIT */
/*
 * The login on a channel link: HELLO, then a certificate, SCRAM or
 * RESUME (doc/protocol.md sections 4 and 5), answers to repeated
 * requests, and the channel callbacks of a pending link.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "certlogin.h"
#include "log.h"
#include "scram.h"
#include "secmem.h"
#include "tunnel_int.h"

/* A new login request: its reply replaces the one kept for repeats. */
static void link_new_req(struct tun_link *k, const struct tun_msg *m)
{
	k->last_req = tun_login_key(m);
	k->nreplay = 0;
	k->replays = 0;
}

/* Refuse a login: ERROR to the client, one log line, close. */
void tun_link_refuse(struct tun_link *k, int reason, const char *text)
{
	char peer[80];

	k->end_reason = reason;

	log_notice("tunnel: %s%s%s: %s%s%s", tun_chan_peer_str(k->ch, peer, sizeof(peer)),
		   k->name[0] ? " user " : "", k->name, tun_reason_str(reason),
		   text ? ": " : "", text ? text : "");
	tun_send_reason(k->ch, k->version ? k->version : TUN_HELLO_VERSION,
			TUN_MSG_ERROR, reason, text);
	/* No state is kept to answer a repeat: over UDP say it twice, so
	 * one lost datagram does not turn the reason into a timeout. */
	if (k->ch && k->ch->kind != TUN_CHAN_STREAM)
		tun_send_reason(k->ch, k->version ? k->version : TUN_HELLO_VERSION,
				TUN_MSG_ERROR, reason, text);
	tun_link_drop(k);
}

static void login_ok(struct tun_link *k, const char *name)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s;
	char peer[80];

	if (srv->peer) {
		srv->peer_side->login_ok(srv->peer, k, name);
		return;
	}
	if (srv->nsessions >= srv->cfg.max_sessions) {
		tun_link_refuse(k, TUN_R_BUSY, NULL);
		return;
	}
	s = tun_sess_new(srv, k->version, name, k->ch->kind == TUN_CHAN_STREAM);
	if (!s)
		goto fail;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, s->sid, sizeof(s->sid)) < 0 ||
	    tun_export_key(k->ch, s->sid, TUN_LABEL_RESUME_KEY, s->resume_key) < 0) {
		tun_sess_release(s);
		goto fail;
	}
	/* The label a peer process's owner would have given (tun_session_label). */
	snprintf(s->label.user, sizeof(s->label.user), "%s", s->user);
	tun_chan_peer_str(k->ch, s->label.peer, sizeof(s->label.peer));
	s->label.cert = k->cert_login;
	if (k->cert_login)
		memcpy(s->label.cert_sha256, k->cert_sha256, sizeof(s->label.cert_sha256));
	tun_sess_link_in(s);
	tun_link_attach(k, s);
	log_notice("tunnel: %s: user %s logged in (%s)",
		   tun_chan_peer_str(k->ch, peer, sizeof(peer)), s->user,
		   k->ch->kind == TUN_CHAN_STREAM ? "TLS" : "DTLS");
	tun_send_ready(s, false);
	tun_sess_announce(s);
	return;
fail:
	tun_link_refuse(k, TUN_R_INTERNAL, NULL);
}

void tun_link_failed_login(struct tun_link *k, int reason, const char *text)
{
	struct tun_server *srv = k->srv;

	if (srv->auth.login_failed)
		srv->auth.login_failed(srv->user, k->name, &k->ch->addr, k->ch->alen, reason);
	tun_link_refuse(k, reason, text);
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
		tun_link_refuse(k, TUN_R_MODE_UNSUPPORTED, "certificate login is not configured");
		return;
	}
	/* The user is not known yet: the source's limit only. */
	if (srv->auth.login_allowed &&
	    srv->auth.login_allowed(srv->user, "", &k->ch->addr, k->ch->alen) < 0) {
		tun_link_refuse(k, TUN_R_RATE_LIMITED, NULL);
		return;
	}
	if (srv->auth.cert_verify)
		ret = srv->auth.cert_challenge(srv->user, k->chal);
	else
		ret = gnutls_rnd(GNUTLS_RND_NONCE, k->chal, sizeof(k->chal)) < 0 ? -EIO : 0;
	if (ret < 0) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	k->chal_set = true;
	tun_msg_init(&r, k->version, TUN_MSG_CHALLENGE);
	memcpy(r.challenge.chal, k->chal, TUN_CHAL_LEN);
	tun_link_send(k, &r);
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
		tun_link_refuse(k, TUN_R_PROTOCOL, "no challenge outstanding");
		return;
	}
	/* Spent now: k may be gone after the refusal or the login below. */
	k->chal_set = false;
	memcpy(chal, k->chal, sizeof(chal));
	secmem_wipe(k->chal, sizeof(k->chal));
	ret = tun_chan_export(k->ch, TUN_LABEL_CERT_LOGIN, NULL, 0, ex, sizeof(ex));
	if (ret < 0) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
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
			tun_link_refuse(k, reason, NULL);
		else
			tun_link_failed_login(k, reason, ret == -EACCES ?
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
		tun_link_refuse(k, TUN_R_VERSION, text);
		return;
	}
	v = m->hello.vmax < TUN_VERSION_MAX ? m->hello.vmax : TUN_VERSION_MAX;
	k->version = v;
	tun_msg_init(&r, TUN_HELLO_VERSION, TUN_MSG_HELLO);	/* HELLO: always 1 */
	r.hello.vmin = v;
	r.hello.vmax = v;
	r.hello.mode = m->hello.mode;
	tun_link_send(k, &r);

	switch (m->hello.mode) {
	case TUN_MODE_CERT:
		on_cert_hello(k);
		return;
	case TUN_MODE_PASSWORD:
		if (!srv->auth.scram_lookup) {
			tun_link_refuse(k, TUN_R_MODE_UNSUPPORTED,
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

	tun_msg_init(&m, k->version, TUN_MSG_AUTH);
	m.auth.step = step;
	m.auth.data = (const uint8_t *)data;
	m.auth.len = (uint16_t)len;
	tun_link_send(k, &m);
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
		tun_link_refuse(k, TUN_R_PROTOCOL, "expected SCRAM client-first");
		return;
	}
	ret = tun_chan_export(k->ch, TUN_LABEL_CB, NULL, 0, cb, sizeof(cb));
	if (ret == 0)
		ret = scram_server_new(&k->scram, cb, sizeof(cb), NULL);
	secmem_wipe(cb, sizeof(cb));
	if (ret < 0) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	ret = scram_server_recv_first(k->scram, (const char *)m->auth.data, m->auth.len);
	if (ret < 0) {
		tun_link_refuse(k, ret == -EPROTO ? TUN_R_AUTH_FAILED : TUN_R_PROTOCOL,
				ret == -EPROTO ? "channel binding required" : "malformed SCRAM message");
		return;
	}
	snprintf(k->name, sizeof(k->name), "%s", scram_server_user(k->scram));
	if (srv->auth.login_allowed &&
	    srv->auth.login_allowed(srv->user, k->name, &k->ch->addr, k->ch->alen) < 0) {
		tun_link_refuse(k, TUN_R_RATE_LIMITED, NULL);
		return;
	}
	memset(&v, 0, sizeof(v));
	ret = srv->auth.scram_lookup(srv->user, k->name, &v, &real);
	if (ret == 0)
		ret = scram_server_first(k->scram, &v, real, out, sizeof(out), &olen);
	scram_verifier_wipe(&v);
	if (ret < 0 || olen == 0 || olen > TUN_AUTH_MAX) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
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
		tun_link_refuse(k, TUN_R_PROTOCOL, "expected SCRAM client-final");
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
		tun_link_refuse(k, TUN_R_RATE_LIMITED, NULL);
		return;
	}
	if (ret < 0 || !scram_server_is_authenticated(k->scram)) {
		/* Unknown user and wrong password: the same words. */
		tun_link_failed_login(k, ret == -EBADMSG ? TUN_R_PROTOCOL : TUN_R_AUTH_FAILED,
				      ret == -EBADMSG ? "malformed SCRAM message" : NULL);
		return;
	}
	login_ok(k, k->name);
}

void tun_on_resume(struct tun_link *k, const struct tun_msg *m)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s, *found = NULL;
	uint8_t bind[TUN_KEY_LEN], key[TUN_KEY_LEN];
	char peer[80];
	int which = -EACCES;

	if (srv->peer) {
		srv->peer_side->resume(srv->peer, k, m);
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
				     TUN_SID_LEN, bind, sizeof(bind)) == 0)
		which = tun_sess_check_proof(found, bind, m->resume.proof);
	if (which < 0) {
		tun_link_failed_login(k, TUN_R_RESUME_FAILED, NULL);
		return;
	}
	s = found;
	snprintf(k->name, sizeof(k->name), "%s", s->user);
	if (s->link)
		tun_sess_detach(s, "replaced by a resumption");
	loop_timer_disarm(s->expire_timer);
	/* A fresh key for the next resumption, from this channel. */
	if (tun_export_key(k->ch, s->sid, TUN_LABEL_RESUME_KEY, key) < 0) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
		tun_sess_end(s, TUN_R_INTERNAL, false);
		return;
	}
	tun_sess_rekey(s, which, key);
	secmem_wipe(key, sizeof(key));
	tun_link_attach(k, s);
	log_notice("tunnel: %s: user %s resumed its session (%s)",
		   tun_chan_peer_str(k->ch, peer, sizeof(peer)), s->user,
		   k->ch->kind == TUN_CHAN_STREAM ? "TLS" : "DTLS");
	tun_send_ready(s, true);
	tun_rel_path_reset(s->rel, loop_now_us());
	tun_sess_arm(s);
}

static void link_on_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct tun_link *k = user;
	uint16_t key = tun_login_key(m);
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
			k->srv->peer_side->relay_up(k->srv->peer, k, m);
		else
			tun_sess_on_msg(k->s, m);
		return;
	}
	/* HELLO's layout is frozen: version 1 in its header, always. */
	if (k->state == L_HELLO) {
		if (m->type != TUN_MSG_HELLO || m->version != TUN_HELLO_VERSION) {
			tun_link_refuse(k, TUN_R_PROTOCOL, "expected HELLO");
			return;
		}
		link_new_req(k, m);
		on_hello(k, m);
		return;
	}
	if (m->version != k->version) {
		tun_link_refuse(k, TUN_R_PROTOCOL, "wrong version in header");
		return;
	}
	if (m->type == TUN_MSG_CLOSE || m->type == TUN_MSG_ERROR) {
		tun_link_drop(k);
		return;
	}
	if (key)
		link_new_req(k, m);
	switch (k->state) {
	case L_SCRAM_FIRST:
		if (m->type == TUN_MSG_AUTH)
			on_scram_first(k, m);
		else
			tun_link_refuse(k, TUN_R_PROTOCOL, "expected AUTH");
		return;
	case L_SCRAM_FINAL:
		if (m->type == TUN_MSG_AUTH)
			on_scram_final(k, m);
		else
			tun_link_refuse(k, TUN_R_PROTOCOL, "expected AUTH");
		return;
	case L_CERT_PROOF:
		if (m->type == TUN_MSG_CERT_PROOF)
			on_cert_proof(k, m);
		else
			tun_link_refuse(k, TUN_R_PROTOCOL, "expected CERT_PROOF");
		return;
	case L_RESUME:
		if (m->type == TUN_MSG_RESUME)
			tun_on_resume(k, m);
		else
			tun_link_refuse(k, TUN_R_PROTOCOL, "expected RESUME");
		return;
	default:
		tun_link_refuse(k, TUN_R_PROTOCOL, NULL);
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
		k->srv->peer_side->chan_down(k->srv->peer, reason);
		tun_link_free(k);
		return;
	}
	if (k->state == L_ATTACHED && k->s) {
		struct tun_session *s = k->s;

		tun_link_free(k);
		tun_sess_link_lost(s, reason);
		return;
	}
	tun_link_free(k);
}

static void link_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_link *k = user;

	if (k->state == L_HANDSHAKE) {
		tun_link_drop(k);	/* the channel logs its own timeout */
		return;
	}
	tun_link_refuse(k, TUN_R_TIMEOUT, "login took too long");
}

const struct tun_chan_ops tun_link_chan_ops = {
	.up = link_on_up,
	.msg = link_on_msg,
	.down = link_on_down,
};

/* A pending channel link, before its channel's handshake starts. */
struct tun_link *tun_link_new_pending(struct tun_server *srv)
{
	struct tun_link *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->srv = srv;
	k->ops = &tun_chan_link_ops;
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
int tun_srv_adopt(void *user, struct tun_chan *ch)
{
	struct tun_server *srv = user;
	struct tun_link *k = tun_link_new_pending(srv);

	if (!k)
		return -ENOMEM;
	k->ch = ch;
	ch->user = k;
	ch->ops = &tun_link_chan_ops;
	return 0;
}
