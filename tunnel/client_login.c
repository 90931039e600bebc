/* SPDX-License-Identifier: MIT */
/*
 * The tunnel client's login on the channel that won the race (client_int.h):
 * HELLO, then SCRAM (AUTH) or a certificate (CHALLENGE), or RESUME, until
 * READY; then the session's messages into the reliability layer.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "certlogin.h"
#include "client_int.h"
#include "hci.h"
#include "scram.h"
#include "secmem.h"


void tun_cli_login_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;
	char text[160];

	if (c->state == C_READY || c->state == C_DOWN || c->state == C_CONNECTING)
		return;
	if (loop_now_us() >= c->login_deadline) {
		if (c->ever_ready) {
			tun_cli_lost(c, "no answer to the resumption");
			return;
		}
		snprintf(text, sizeof(text), "no answer to the login from %s port %s",
			 c->host, c->port);
		tun_cli_final(c, TUN_R_TIMEOUT, text);
		return;
	}
	if (c->ch && c->req_len)
		tun_chan_send_raw(c->ch, c->req, c->req_len);
	c->req_rto *= 2;
	tun_cli_arm_login(c);
}

void tun_cli_rel_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state != C_READY)
		return;
	if (tun_rel_tick(c->rel, loop_now_us()) == -ETIMEDOUT) {
		tun_cli_lost(c, "server stopped answering");
		return;
	}
	tun_cli_arm(c);
}

void tun_cli_flush_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state == C_READY)
		tun_rel_flush(c->rel, loop_now_us());
	tun_cli_arm(c);
}

static void cli_rel_output(void *user, const struct tun_msg *m)
{
	struct tun_client *c = user;
	struct tun_msg x;

	if (c->state != C_READY || !c->ch)
		return;		/* resent after the resumption */
	x = *m;
	x.version = c->version;
	tun_chan_send(c->ch, &x);
}

static int cli_rel_deliver(void *user, const uint8_t *p, size_t len)
{
	struct tun_client *c = user;
	struct h4_pkt pkt;
	int ret;

	if (h4_parse(&pkt, p, len, 0) < 0)
		return -EPROTO;
	if (c->state == C_DOWN)
		return 0;
	ret = c->ops.on_packet ? c->ops.on_packet(c->user, c, p, len) : 0;
	return ret == -ENOBUFS ? -ENOBUFS : 0;
}

static void cli_rel_writable(void *user)
{
	struct tun_client *c = user;

	if (c->state != C_DOWN && c->ops.on_writable)
		c->ops.on_writable(c->user, c);
}

static const struct tun_rel_ops cli_rel_ops = {
	.output = cli_rel_output,
	.deliver = cli_rel_deliver,
	.writable = cli_rel_writable,
};
/* The channel is up: HELLO, the login's first request. */
void tun_cli_hello(struct tun_client *c)
{
	struct tun_msg m;

	c->state = C_HELLO;
	c->mode = c->ever_ready ? TUN_MODE_RESUME :
		  c->cert_file ? TUN_MODE_CERT : TUN_MODE_PASSWORD;
	tun_cli_msg_init(&m, TUN_HELLO_VERSION, TUN_MSG_HELLO);
	m.hello.vmin = c->vmin;
	m.hello.vmax = c->vmax;
	m.hello.mode = c->mode;
	c->login_deadline = loop_now_us() + (uint64_t)c->hs_ms * 1000;
	tun_cli_req(c, &m);
}


static void cli_send_auth(struct tun_client *c, uint8_t step, const char *d, size_t n)
{
	struct tun_msg m;

	tun_cli_msg_init(&m, c->version, TUN_MSG_AUTH);
	m.auth.step = step;
	m.auth.data = (const uint8_t *)d;
	m.auth.len = (uint16_t)n;
	tun_cli_req(c, &m);
}

static void cli_on_hello(struct tun_client *c, const struct tun_msg *m)
{
	uint8_t cb[TUN_KEY_LEN], bind[TUN_KEY_LEN];
	char out[SCRAM_MSG_MAX];
	size_t olen = 0;
	struct tun_msg r;
	int ret;

	if (m->hello.vmin != m->hello.vmax || m->hello.vmin < c->vmin ||
	    m->hello.vmin > c->vmax || m->hello.vmin > TUN_VERSION_MAX ||
	    m->hello.mode != c->mode) {
		tun_cli_final(c, TUN_R_VERSION, "the server chose a version or mode we did not offer");
		return;
	}
	c->version = m->hello.vmin;
	switch (c->mode) {
	case TUN_MODE_CERT:
		c->state = C_CERT_CHAL;
		return;
	case TUN_MODE_PASSWORD:
		ret = tun_chan_export(c->ch, TUN_LABEL_CB, NULL, 0, cb, sizeof(cb));
		if (ret == 0)
			ret = scram_client_new(&c->scram, c->login, c->password,
					       c->pwlen, cb, sizeof(cb), NULL);
		secmem_wipe(cb, sizeof(cb));
		if (ret == 0)
			ret = scram_client_first(c->scram, out, sizeof(out), &olen);
		if (ret < 0 || olen == 0 || olen > TUN_AUTH_MAX) {
			tun_cli_final(c, TUN_R_AUTH_FAILED, "cannot start the login (user name unusable?)");
			return;
		}
		cli_send_auth(c, TUN_AUTH_CLIENT_FIRST, out, olen);
		c->state = C_SCRAM_FIRST;
		return;
	case TUN_MODE_RESUME:
		tun_cli_msg_init(&r, c->version, TUN_MSG_RESUME);
		memcpy(r.resume.sid, c->sid, TUN_SID_LEN);
		ret = tun_chan_export(c->ch, TUN_LABEL_RESUME_BIND, c->sid, TUN_SID_LEN,
				      bind, sizeof(bind));
		if (ret == 0)
			ret = gnutls_hmac_fast(GNUTLS_MAC_SHA256, c->resume_key,
					       TUN_KEY_LEN, bind, sizeof(bind),
					       r.resume.proof);
		if (ret < 0) {
			tun_cli_lost(c, "cannot compute the resumption proof");
			return;
		}
		tun_cli_req(c, &r);
		secmem_wipe(r.resume.proof, sizeof(r.resume.proof));
		c->state = C_RESUMING;
		return;
	}
}

static void cli_on_auth(struct tun_client *c, const struct tun_msg *m)
{
	char out[SCRAM_MSG_MAX];
	size_t olen = 0;
	int ret;

	if (c->state == C_SCRAM_FIRST && m->auth.step == TUN_AUTH_SERVER_FIRST) {
		ret = scram_client_final(c->scram, (const char *)m->auth.data,
					 m->auth.len, out, sizeof(out), &olen);
		if (ret < 0 || olen == 0 || olen > TUN_AUTH_MAX) {
			tun_cli_final(c, TUN_R_PROTOCOL, "malformed SCRAM message from the server");
			return;
		}
		cli_send_auth(c, TUN_AUTH_CLIENT_FINAL, out, olen);
		secmem_wipe(out, sizeof(out));
		c->state = C_SCRAM_FINAL;
		return;
	}
	if (c->state == C_SCRAM_FINAL && m->auth.step == TUN_AUTH_SERVER_FINAL) {
		ret = scram_client_verify(c->scram, (const char *)m->auth.data, m->auth.len);
		scram_client_free(c->scram);
		c->scram = NULL;
		tun_cli_wipe_password(c);
		if (ret < 0) {
			tun_cli_final(c, TUN_R_AUTH_FAILED, ret == -EACCES ?
				  "login failed: wrong user name or password" :
				  "malformed SCRAM message from the server");
			return;
		}
		c->state = C_WAIT_READY;
		return;
	}
	tun_cli_final(c, TUN_R_PROTOCOL, "unexpected login message from the server");
}

/*
 * CHALLENGE: sign it with this channel's exporter (tunnel/certlogin.h),
 * so the signature is worth nothing on any other channel, and send the
 * certificate with it, inside the channel.
 */
static void cli_on_challenge(struct tun_client *c, const struct tun_msg *m)
{
	uint8_t ex[TUN_EXPORTER_LEN], sig[TUN_CERT_SIG_MAX];
	size_t sig_len = 0, der_len = 0;
	const uint8_t *der = tun_certkey_der(c->ck, &der_len);
	struct tun_msg r;
	int ret;

	ret = tun_chan_export(c->ch, TUN_LABEL_CERT_LOGIN, NULL, 0, ex, sizeof(ex));
	if (ret == 0)
		ret = tun_certkey_sign(c->ck, m->challenge.chal, ex, sig, sizeof(sig),
				       &sig_len);
	secmem_wipe(ex, sizeof(ex));
	if (ret < 0 || 4 + der_len + sig_len > TUN_BODY_MAX) {
		tun_cli_final(c, TUN_R_INTERNAL, ret < 0 ?
			  "cannot sign the login with the certificate's key" :
			  "the certificate is too large for the login message");
		return;
	}
	tun_cli_msg_init(&r, c->version, TUN_MSG_CERT_PROOF);
	r.proof.cert = der;
	r.proof.cert_len = (uint16_t)der_len;
	r.proof.sig = sig;
	r.proof.sig_len = (uint16_t)sig_len;
	tun_cli_req(c, &r);
	c->state = C_WAIT_READY;
}


static void cli_on_ready(struct tun_client *c, const struct tun_msg *m)
{
	bool resumed = m->flags & TUN_F_RESUMED;
	struct tun_rel_cfg rc = c->rel_cfg;

	if (resumed != (c->state == C_RESUMING) ||
	    (resumed && !secmem_is_equal(c->sid, m->ready.sid, TUN_SID_LEN))) {
		tun_cli_final(c, TUN_R_PROTOCOL, "the server answered for another session");
		return;
	}
	if (!resumed) {
		memcpy(c->sid, m->ready.sid, TUN_SID_LEN);
		c->resume_s = m->ready.resume_s;
		snprintf(c->name, sizeof(c->name), "%s", m->ready.user);
		rc.stream = c->transport == TUN_TRANSPORT_TLS;
		if (tun_rel_new(&c->rel, &rc, &cli_rel_ops, c, loop_now_us()) < 0) {
			tun_cli_final(c, TUN_R_INTERNAL, NULL);
			return;
		}
	}
	if (tun_chan_export(c->ch, TUN_LABEL_RESUME_KEY, c->sid, TUN_SID_LEN,
			    c->resume_key, TUN_KEY_LEN) < 0) {
		tun_cli_final(c, TUN_R_INTERNAL, NULL);
		return;
	}
	c->state = C_READY;
	c->lost_at = 0;
	c->attempts = 0;
	loop_timer_disarm(c->login_timer);
	secmem_wipe(c->req, sizeof(c->req));
	c->req_len = 0;
	if (resumed) {
		tun_rel_set_stream(c->rel, c->transport == TUN_TRANSPORT_TLS);
		tun_rel_path_reset(c->rel, loop_now_us());
	}
	c->ever_ready = true;
	tun_cli_arm(c);
	if (c->live_rp && c->live_relayed && !c->probe)
		c->start_probe(c);
	if (c->ops.on_ready)
		c->ops.on_ready(c->user, c, c->name, resumed);
}

void tun_cli_on_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct tun_client *c = user;
	int ret;

	if (c->state == C_DOWN)
		return;
	if (m->type == TUN_MSG_ERROR || m->type == TUN_MSG_CLOSE) {
		int code = m->type == TUN_MSG_CLOSE && m->close.code == 0 ?
			   TUN_R_SHUTDOWN : m->close.code;
		char text[TUN_TEXT_MAX + 64];

		/* The server's text, when it says more than the code. */
		if (!m->close.text[0] ||
		    !strcmp(m->close.text, tun_reason_str(code)))
			snprintf(text, sizeof(text), "%s", tun_reason_str(code));
		else
			snprintf(text, sizeof(text), "%s: %s", tun_reason_str(code),
				 m->close.text);
		tun_cli_final(c, code, text);
		return;
	}
	/*
	 * During the login, what is not the answer to the current step is
	 * dropped: a reply repeated after our repeated request, a READY
	 * whose HELLO or server-final was lost (it must not be taken before
	 * the server proved itself), data sent right after a READY we did
	 * not get. The server replays its replies in order when our
	 * request comes again, and the reliability layer resends data.
	 */
	if (c->state != C_READY) {
		if (m->type == TUN_MSG_HELLO && c->state == C_HELLO &&
		    m->version == TUN_HELLO_VERSION) {
			cli_on_hello(c, m);
			return;
		}
		/* HELLO goes in TUN_HELLO_VERSION: a repeated one is dropped
		 * below, not taken for a change of version. */
		if (c->state != C_HELLO && m->version != c->version &&
		    !(m->type == TUN_MSG_HELLO && m->version == TUN_HELLO_VERSION)) {
			tun_cli_final(c, TUN_R_PROTOCOL, "server used a version not agreed");
			return;
		}
		if (m->type == TUN_MSG_AUTH &&
		    ((c->state == C_SCRAM_FIRST && m->auth.step == TUN_AUTH_SERVER_FIRST) ||
		     (c->state == C_SCRAM_FINAL && m->auth.step == TUN_AUTH_SERVER_FINAL))) {
			cli_on_auth(c, m);
			return;
		}
		if (m->type == TUN_MSG_CHALLENGE && c->state == C_CERT_CHAL) {
			cli_on_challenge(c, m);
			return;
		}
		if (m->type == TUN_MSG_READY &&
		    (c->state == C_WAIT_READY || c->state == C_RESUMING)) {
			cli_on_ready(c, m);
			return;
		}
		switch (m->type) {
		case TUN_MSG_HELLO:
		case TUN_MSG_AUTH:
		case TUN_MSG_CHALLENGE:
		case TUN_MSG_READY:
		case TUN_MSG_HCI:
		case TUN_MSG_ACK:
		case TUN_MSG_KEEPALIVE:
			return;
		default:
			tun_cli_final(c, TUN_R_PROTOCOL, "unexpected message from the server");
			return;
		}
	}
	/* A HELLO repeated after our repeated HELLO, reordered past READY. */
	if (m->type == TUN_MSG_HELLO && m->version == TUN_HELLO_VERSION)
		return;
	if (m->version != c->version) {
		tun_cli_final(c, TUN_R_PROTOCOL, "server used a version not agreed");
		return;
	}
	switch (m->type) {
	case TUN_MSG_HELLO:
	case TUN_MSG_AUTH:
	case TUN_MSG_CHALLENGE:
	case TUN_MSG_READY:
		return;		/* replies repeated after READY */
	case TUN_MSG_HCI:
	case TUN_MSG_ACK:
	case TUN_MSG_KEEPALIVE:
		ret = tun_rel_input(c->rel, m, loop_now_us());
		if (ret < 0) {
			struct tun_msg e;

			tun_cli_msg_init(&e, c->version, TUN_MSG_ERROR);
			e.close.code = TUN_R_PROTOCOL;
			tun_cli_send(c, &e);
			tun_cli_final(c, TUN_R_PROTOCOL, "the server broke the protocol");
			return;
		}
		if (!loop_timer_is_armed(c->flush_timer))
			loop_timer_arm(c->flush_timer, 0);
		return;
	default:
		tun_cli_final(c, TUN_R_PROTOCOL, "unexpected message from the server");
		return;
	}
}
