/* SPDX-License-Identifier: MIT */
/*
 * The client side of a tunnel session (bgw-cdclient): connect, HELLO,
 * log in with a certificate or SCRAM, then carry HCI; when the channel is
 * lost, reconnect and RESUME until the server's resume time runs out.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "certlogin.h"
#include "chan.h"
#include "hci.h"
#include "log.h"
#include "rpath.h"
#include "scram.h"
#include "secmem.h"
#include "tunnel.h"

#define TUN_LABEL_RESUME_KEY	"EXPORTER-bgw-resume-key"
#define TUN_LABEL_RESUME_BIND	"EXPORTER-bgw-resume-binding"
#define TUN_LABEL_CB		"EXPORTER-Channel-Binding"
#define TUN_KEY_LEN		32
/* Reconnection backoff: 100 ms doubling to 2 s, within the resume time. */
#define TUN_RETRY_MIN_US	100000
#define TUN_RETRY_MAX_US	2000000
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

static void cli_msg_init(struct tun_msg *m, uint8_t version, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->type = type;
}

static void cli_wipe_password(struct tun_client *c)
{
	if (c->password) {
		secmem_wipe(c->password, c->pwlen);
		free(c->password);
		c->password = NULL;
		c->pwlen = 0;
	}
}

static void cli_drop_racer(struct tun_chan **ch)
{
	if (*ch) {
		(*ch)->ops = NULL;
		tun_chan_drop(*ch);
		*ch = NULL;
	}
}

/* The relay racers and paths still in the race (not c->ch's). */
static void cli_drop_relays(struct tun_client *c)
{
	unsigned i;

	for (i = 0; i < c->nrelay; i++) {
		cli_drop_racer(&c->rr[i].rch);
		cli_drop_racer(&c->rr[i].dch);
		if (c->rr[i].rfd_wait >= 0)
			close(c->rr[i].rfd_wait);
		c->rr[i].rfd_wait = -1;
		loop_timer_disarm(c->rr[i].relayed_timer);
		tun_rpath_free(c->rr[i].rp);
		c->rr[i].rp = NULL;
	}
}

/* Anything of this attempt still racing? */
static bool cli_racing(const struct tun_client *c)
{
	unsigned i;

	if (c->ch || c->alt)
		return true;
	for (i = 0; i < c->nrelay; i++)
		if (c->rr[i].rp || c->rr[i].rch || c->rr[i].dch)
			return true;
	return false;
}

/* The relay racer ch is, or NULL; *relayed says which of the two. */
static struct cli_relay *cli_relay_of(struct tun_client *c, const struct tun_chan *ch,
				      bool *relayed)
{
	unsigned i;

	for (i = 0; i < c->nrelay; i++) {
		if (ch && c->rr[i].rch == ch) {
			*relayed = true;
			return &c->rr[i];
		}
		if (ch && c->rr[i].dch == ch) {
			*relayed = false;
			return &c->rr[i];
		}
	}
	return NULL;
}

/* notify: close_notify, the session is over; else abandon silently. */
static void cli_drop_chan(struct tun_client *c, bool notify)
{
	if (c->ch) {
		c->ch->ops = NULL;
		if (notify)
			tun_chan_close(c->ch);
		else
			tun_chan_drop(c->ch);
		c->ch = NULL;
	}
	/* A racer that never came up has no session to end. */
	if (c->alt) {
		c->alt->ops = NULL;
		tun_chan_drop(c->alt);
		c->alt = NULL;
	}
	cli_drop_relays(c);
	cli_drop_racer(&c->probe);
	/* After the channel: its last datagrams go out through the path. */
	tun_rpath_free(c->live_rp);
	c->live_rp = NULL;
	loop_timer_disarm(c->fallback_timer);
}

static const char *cli_tname(enum tun_transport t)
{
	return t == TUN_TRANSPORT_TLS ? "TLS over TCP" : "DTLS over UDP";
}

/* One line for the user while connecting (the owner shows it). */
__attribute__((format(printf, 2, 3)))
static void cli_progress(struct tun_client *c, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->ops.on_progress)
		c->ops.on_progress(c->user, c, text);
	else
		log_info("tunnel: %s", text);
}

/* For good: report from the loop. */
static void cli_final(struct tun_client *c, int reason, const char *text)
{
	if (c->state == C_DOWN)
		return;
	c->state = C_DOWN;
	c->down_reason = reason;
	snprintf(c->down_text, sizeof(c->down_text), "%s",
		 text && text[0] ? text : tun_reason_str(reason));
	cli_drop_chan(c, true);
	scram_client_free(c->scram);
	c->scram = NULL;
	cli_wipe_password(c);
	loop_timer_disarm(c->rel_timer);
	loop_timer_disarm(c->flush_timer);
	loop_timer_disarm(c->retry_timer);
	loop_timer_disarm(c->login_timer);
	loop_timer_arm(c->down_timer, 0);
}

static void cli_down_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	/* The owner reports it to its user: here only for the debug log. */
	log_info("tunnel: session down: %s", c->down_text);
	/* Last: the owner may free c in there. */
	if (c->ops.on_down)
		c->ops.on_down(c->user, c, c->down_reason, c->down_text);
}

static void cli_send(struct tun_client *c, const struct tun_msg *m)
{
	if (c->ch)
		tun_chan_send(c->ch, m);
}

static void cli_arm_login(struct tun_client *c)
{
	uint64_t now = loop_now_us(), d;

	d = c->login_deadline > now ? c->login_deadline - now : 0;
	/* TCP does not lose it: only the deadline applies. */
	if (c->transport != TUN_TRANSPORT_TLS && c->req_rto < d)
		d = c->req_rto;
	loop_timer_arm(c->login_timer, d);
}

/* Send a login request and keep it for repeating. */
static void cli_req(struct tun_client *c, const struct tun_msg *m)
{
	int n = tun_msg_encode(m, c->req, sizeof(c->req));

	if (n < 0 || !c->ch)
		return;
	c->req_len = (size_t)n;
	c->req_rto = TUN_REQ_RTO_US;
	tun_chan_send_raw(c->ch, c->req, c->req_len);
	cli_arm_login(c);
}

static void cli_arm(struct tun_client *c)
{
	uint64_t now = loop_now_us(), d;

	if (c->state != C_READY) {
		loop_timer_disarm(c->rel_timer);
		return;
	}
	d = tun_rel_deadline(c->rel);
	loop_timer_arm(c->rel_timer, d > now ? d - now : 0);
}

static void cli_connect(struct tun_client *c);

/* The channel is gone after a login: retry until resume_s runs out. */
static void cli_lost(struct tun_client *c, const char *why)
{
	uint64_t now = loop_now_us(), d;

	if (c->state == C_DOWN)
		return;
	cli_drop_chan(c, false);
	if (!c->ever_ready) {
		cli_final(c, TUN_R_UNREACHABLE, why);
		return;
	}
	if (!c->lost_at) {
		c->lost_at = now;
		log_info("tunnel: link lost (%s); resuming", why);
	}
	c->state = C_CONNECTING;
	loop_timer_disarm(c->rel_timer);
	loop_timer_disarm(c->login_timer);
	if (now - c->lost_at >= (uint64_t)c->resume_s * 1000000) {
		char text[128];

		snprintf(text, sizeof(text), "no answer from the server for %u s",
			 c->resume_s);
		cli_final(c, TUN_R_UNREACHABLE, text);
		return;
	}
	/* The first retry at once (the link may be back already), then
	 * 100 ms doubling up to 2 s. */
	c->attempts++;
	d = c->attempts == 1 ? 0 :
	    TUN_RETRY_MIN_US << (c->attempts - 2 < 5 ? c->attempts - 2 : 5);
	if (d > TUN_RETRY_MAX_US)
		d = TUN_RETRY_MAX_US;
	loop_timer_arm(c->retry_timer, d);
}

static void cli_retry_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state == C_CONNECTING && !c->ch)
		cli_connect(c);
}

static void cli_login_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;
	char text[160];

	if (c->state == C_READY || c->state == C_DOWN || c->state == C_CONNECTING)
		return;
	if (loop_now_us() >= c->login_deadline) {
		if (c->ever_ready) {
			cli_lost(c, "no answer to the resumption");
			return;
		}
		snprintf(text, sizeof(text), "no answer to the login from %s port %s",
			 c->host, c->port);
		cli_final(c, TUN_R_TIMEOUT, text);
		return;
	}
	if (c->ch && c->req_len)
		tun_chan_send_raw(c->ch, c->req, c->req_len);
	c->req_rto *= 2;
	cli_arm_login(c);
}

static void cli_rel_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state != C_READY)
		return;
	if (tun_rel_tick(c->rel, loop_now_us()) == -ETIMEDOUT) {
		cli_lost(c, "server stopped answering");
		return;
	}
	cli_arm(c);
}

static void cli_flush_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state == C_READY)
		tun_rel_flush(c->rel, loop_now_us());
	cli_arm(c);
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

static void cli_on_up(void *user, struct tun_chan *ch)
{
	struct tun_client *c = user;
	struct tun_msg m;

	struct cli_relay *r;
	char gw[NI_MAXHOST + NI_MAXSERV + 4];
	bool relayed = false;

	/* The first channel up wins the race; the others are dropped. */
	loop_timer_disarm(c->fallback_timer);
	r = cli_relay_of(c, ch, &relayed);
	if (ch == c->probe) {
		/*
		 * Relayed, and a direct path opened: the session moves to it
		 * with a resumption (doc/protocol.md section 5), which the
		 * gateway lets replace the relayed link; the relay's channel
		 * is closed.
		 */
		c->probe = NULL;
		if (c->ch) {
			c->ch->ops = NULL;
			tun_chan_drop(c->ch);
		}
		c->ch = ch;
		c->live_relayed = false;
		tun_rpath_keep(c->live_rp, false);
		snprintf(c->path, sizeof(c->path), "direct (punched) to %s",
			 tun_rpath_gateway(c->live_rp, gw, sizeof(gw)));
		/* Said also after the first session (progress then is info). */
		log_notice("tunnel: a direct path opened; moving the session %s", c->path);
	} else if (ch == c->alt) {
		if (c->ch) {
			c->ch->ops = NULL;
			tun_chan_drop(c->ch);
		}
		c->ch = ch;
		c->alt = NULL;
		c->transport = TUN_TRANSPORT_TLS;
		snprintf(c->path, sizeof(c->path), "with %s port %s", c->host, c->port);
		cli_progress(c, "using TLS over TCP: DTLS over UDP got no answer");
	} else if (r) {
		/* Through a relay, or punched: its path carries the session. */
		if (c->ch) {
			c->ch->ops = NULL;
			tun_chan_drop(c->ch);
		}
		if (relayed)
			r->rch = NULL;
		else
			r->dch = NULL;
		c->ch = ch;
		c->transport = TUN_TRANSPORT_DTLS;
		tun_rpath_free(c->live_rp);
		c->live_rp = r->rp;
		r->rp = NULL;
		c->live_relayed = relayed;
		tun_rpath_keep(c->live_rp, relayed);
		if (relayed)
			snprintf(c->path, sizeof(c->path), "via relay %s",
				 tun_rpath_relay(c->live_rp));
		else
			snprintf(c->path, sizeof(c->path), "direct (punched) to %s",
				 tun_rpath_gateway(c->live_rp, gw, sizeof(gw)));
	} else if (c->host) {
		snprintf(c->path, sizeof(c->path), "with %s port %s", c->host, c->port);
	}
	if (c->alt) {
		c->alt->ops = NULL;
		tun_chan_drop(c->alt);
		c->alt = NULL;
	}
	cli_drop_relays(c);
	if (ch != c->ch)
		return;		/* cannot happen: every racer is known */
	c->attempt_why[0] = '\0';
	c->attempt_reason = 0;
	if (!c->ever_ready)
		cli_progress(c, "%s handshake %s done; the server's "
			     "certificate chains to the pinned CA",
			     gnutls_protocol_get_name(gnutls_protocol_get_version(ch->gs)),
			     c->path);
	else if (c->nrelay)
		cli_progress(c, "resuming %s", c->path);
	c->state = C_HELLO;
	c->mode = c->ever_ready ? TUN_MODE_RESUME :
		  c->cert_file ? TUN_MODE_CERT : TUN_MODE_PASSWORD;
	cli_msg_init(&m, TUN_HELLO_VERSION, TUN_MSG_HELLO);
	m.hello.vmin = c->vmin;
	m.hello.vmax = c->vmax;
	m.hello.mode = c->mode;
	c->login_deadline = loop_now_us() + (uint64_t)c->hs_ms * 1000;
	cli_req(c, &m);
}

static void cli_send_auth(struct tun_client *c, uint8_t step, const char *d, size_t n)
{
	struct tun_msg m;

	cli_msg_init(&m, c->version, TUN_MSG_AUTH);
	m.auth.step = step;
	m.auth.data = (const uint8_t *)d;
	m.auth.len = (uint16_t)n;
	cli_req(c, &m);
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
		cli_final(c, TUN_R_VERSION, "the server chose a version or mode we did not offer");
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
			cli_final(c, TUN_R_AUTH_FAILED, "cannot start the login (user name unusable?)");
			return;
		}
		cli_send_auth(c, TUN_AUTH_CLIENT_FIRST, out, olen);
		c->state = C_SCRAM_FIRST;
		return;
	case TUN_MODE_RESUME:
		cli_msg_init(&r, c->version, TUN_MSG_RESUME);
		memcpy(r.resume.sid, c->sid, TUN_SID_LEN);
		ret = tun_chan_export(c->ch, TUN_LABEL_RESUME_BIND, c->sid, TUN_SID_LEN,
				      bind, sizeof(bind));
		if (ret == 0)
			ret = gnutls_hmac_fast(GNUTLS_MAC_SHA256, c->resume_key,
					       TUN_KEY_LEN, bind, sizeof(bind),
					       r.resume.proof);
		if (ret < 0) {
			cli_lost(c, "cannot compute the resumption proof");
			return;
		}
		cli_req(c, &r);
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
			cli_final(c, TUN_R_PROTOCOL, "malformed SCRAM message from the server");
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
		cli_wipe_password(c);
		if (ret < 0) {
			cli_final(c, TUN_R_AUTH_FAILED, ret == -EACCES ?
				  "login failed: wrong user name or password" :
				  "malformed SCRAM message from the server");
			return;
		}
		c->state = C_WAIT_READY;
		return;
	}
	cli_final(c, TUN_R_PROTOCOL, "unexpected login message from the server");
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
		cli_final(c, TUN_R_INTERNAL, ret < 0 ?
			  "cannot sign the login with the certificate's key" :
			  "the certificate is too large for the login message");
		return;
	}
	cli_msg_init(&r, c->version, TUN_MSG_CERT_PROOF);
	r.proof.cert = der;
	r.proof.cert_len = (uint16_t)der_len;
	r.proof.sig = sig;
	r.proof.sig_len = (uint16_t)sig_len;
	cli_req(c, &r);
	c->state = C_WAIT_READY;
}

static void cli_listen_cfg(struct tun_client *c, struct tun_listen_cfg *lc);

/*
 * Relayed: keep trying the gateway's reflexive address directly for
 * TUN_PROBE_MS (doc/relay.md, "The client"); cli_on_up moves the session
 * if it answers.
 */
static void cli_start_probe(struct tun_client *c)
{
	struct tun_listen_cfg lc;
	struct sockaddr_storage none;
	int fd = tun_rpath_direct(c->live_rp);

	if (fd < 0)
		return;
	cli_listen_cfg(c, &lc);
	lc.handshake_ms = TUN_PROBE_MS;
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	if (tun_dtls_connect_fd(&c->probe, &lc, fd, &none, sizeof(sa_family_t)) < 0)
		c->probe = NULL;
	else
		log_info("tunnel: relayed; probing a direct path for %d s", TUN_PROBE_MS / 1000);
}

static void cli_on_ready(struct tun_client *c, const struct tun_msg *m)
{
	bool resumed = m->flags & TUN_F_RESUMED;
	struct tun_rel_cfg rc = c->rel_cfg;

	if (resumed != (c->state == C_RESUMING) ||
	    (resumed && !secmem_is_equal(c->sid, m->ready.sid, TUN_SID_LEN))) {
		cli_final(c, TUN_R_PROTOCOL, "the server answered for another session");
		return;
	}
	if (!resumed) {
		memcpy(c->sid, m->ready.sid, TUN_SID_LEN);
		c->resume_s = m->ready.resume_s;
		snprintf(c->name, sizeof(c->name), "%s", m->ready.user);
		rc.stream = c->transport == TUN_TRANSPORT_TLS;
		if (tun_rel_new(&c->rel, &rc, &cli_rel_ops, c, loop_now_us()) < 0) {
			cli_final(c, TUN_R_INTERNAL, NULL);
			return;
		}
	}
	if (tun_chan_export(c->ch, TUN_LABEL_RESUME_KEY, c->sid, TUN_SID_LEN,
			    c->resume_key, TUN_KEY_LEN) < 0) {
		cli_final(c, TUN_R_INTERNAL, NULL);
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
	cli_arm(c);
	if (c->live_rp && c->live_relayed && !c->probe)
		cli_start_probe(c);
	if (c->ops.on_ready)
		c->ops.on_ready(c->user, c, c->name, resumed);
}

static void cli_on_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
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
		cli_final(c, code, text);
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
		if (c->state != C_HELLO && m->version != c->version) {
			cli_final(c, TUN_R_PROTOCOL, "server used a version not agreed");
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
			cli_final(c, TUN_R_PROTOCOL, "unexpected message from the server");
			return;
		}
	}
	if (m->version != c->version) {
		cli_final(c, TUN_R_PROTOCOL, "server used a version not agreed");
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

			cli_msg_init(&e, c->version, TUN_MSG_ERROR);
			e.close.code = TUN_R_PROTOCOL;
			cli_send(c, &e);
			cli_final(c, TUN_R_PROTOCOL, "the server broke the protocol");
			return;
		}
		if (!loop_timer_is_armed(c->flush_timer))
			loop_timer_arm(c->flush_timer, 0);
		return;
	default:
		cli_final(c, TUN_R_PROTOCOL, "unexpected message from the server");
		return;
	}
}

/*
 * What went wrong with a channel that never came up, for the user:
 * "no answer" is the common case (nothing listens, or a firewall drops
 * it), a refused TCP connection or a failed handshake say more.
 */
static void cli_attempt_why(struct tun_client *c, struct tun_chan *ch,
			    int reason, const char *what)
{
	char one[sizeof(ch->why) + 200];
	size_t n = strlen(c->attempt_why);

	snprintf(one, sizeof(one), "%.160s: %s", what,
		 reason == TUN_R_TIMEOUT || (!ch->why[0] && reason != TUN_R_SERVER_CERT) ?
		 "no answer" : ch->why[0] ? ch->why : tun_reason_str(reason));
	snprintf(c->attempt_why + n, sizeof(c->attempt_why) - n, "%s%s",
		 n ? "; " : "", one);
	/* The most telling reason wins: a certificate, then a handshake. */
	if (reason == TUN_R_SERVER_CERT ||
	    (reason == TUN_R_HANDSHAKE && c->attempt_reason != TUN_R_SERVER_CERT)) {
		c->attempt_reason = reason;
		snprintf(c->attempt_detail, sizeof(c->attempt_detail), "%s",
			 ch->why[0] ? ch->why : tun_reason_str(reason));
	} else if (!c->attempt_reason)
		c->attempt_reason = TUN_R_UNREACHABLE;
}

static int cli_start_alt(struct tun_client *c);

/* Every channel of this attempt failed before it came up. */
static void cli_attempt_failed(struct tun_client *c)
{
	char name[280];
	char text[sizeof(c->attempt_why) + sizeof(c->attempt_detail) + sizeof(name)];
	int reason = c->attempt_reason ? c->attempt_reason : TUN_R_UNREACHABLE;

	if (c->host)
		snprintf(name, sizeof(name), "%.255s port %.16s", c->host, c->port);
	else
		snprintf(name, sizeof(name), "the home through its relay%s",
			 c->nrelay > 1 ? "s" : "");
	if (reason == TUN_R_UNREACHABLE)
		snprintf(text, sizeof(text), "cannot reach %s (%s)", name, c->attempt_why);
	else
		snprintf(text, sizeof(text), "%s: %s", name, c->attempt_detail);
	c->attempt_why[0] = '\0';
	c->attempt_reason = 0;
	/* A server certificate that does not verify is no link problem. */
	if (!c->ever_ready || reason == TUN_R_SERVER_CERT)
		cli_final(c, reason, text);
	else
		cli_lost(c, text);
}

static void cli_start_relayed(struct tun_client *c, struct cli_relay *r);

static void cli_on_down(void *user, struct tun_chan *ch, int reason)
{
	struct tun_client *c = user;
	enum tun_transport t = c->transport;
	char why[sizeof(ch->why)], what[400];
	struct cli_relay *r;
	bool relayed = false;

	if (ch == c->probe) {
		/* No direct path within TUN_PROBE_MS: the session stays relayed. */
		c->probe = NULL;
		log_info("tunnel: no direct path opened (%s); staying relayed",
			 ch->why[0] ? ch->why : tun_reason_str(reason));
		return;
	}
	r = cli_relay_of(c, ch, &relayed);
	if (r) {
		char gw[NI_MAXHOST + NI_MAXSERV + 4];

		if (relayed)
			snprintf(what, sizeof(what), "DTLS via relay %.300s", tun_rpath_relay(r->rp));
		else
			snprintf(what, sizeof(what), "DTLS direct to %.300s (punched)",
				 tun_rpath_gateway(r->rp, gw, sizeof(gw)));
		if (relayed)
			r->rch = NULL;
		else
			r->dch = NULL;
		/* The direct racer gave up: no need to wait for the relayed one. */
		if (!relayed && r->rfd_wait >= 0 && !ch->up)
			cli_start_relayed(c, r);
		/* This relay's path has nothing left to carry. */
		if (!r->rch && !r->dch && r->rfd_wait < 0) {
			tun_rpath_free(r->rp);
			r->rp = NULL;
		}
	} else if (ch == c->alt) {
		c->alt = NULL;
		t = TUN_TRANSPORT_TLS;
		snprintf(what, sizeof(what), "%s", cli_tname(t));
	} else {
		c->ch = NULL;
		snprintf(what, sizeof(what), "%s", cli_tname(t));
	}
	if (!ch->up) {
		cli_attempt_why(c, ch, reason, what);
		if (reason != TUN_R_SERVER_CERT) {
			/* Another racer may still make it. */
			if (cli_racing(c)) {
				cli_progress(c, "%s failed (%s); waiting for the others", what,
					     ch->why[0] ? ch->why : tun_reason_str(reason));
				return;
			}
			/* DTLS failed before the fallback started: start it now. */
			if (c->want == TUN_TRANSPORT_AUTO && !c->alt_tried && c->host) {
				loop_timer_disarm(c->fallback_timer);
				cli_progress(c, "%s failed; trying TLS over TCP",
					     cli_tname(t));
				if (cli_start_alt(c) == 0)
					return;
			}
		}
		cli_drop_chan(c, false);
		cli_attempt_failed(c);
		return;
	}
	snprintf(why, sizeof(why), "%s", ch->why[0] ? ch->why : tun_reason_str(reason));
	/* A bad server certificate or message, or the server's close_notify:
	 * no second try. */
	if (reason == TUN_R_SERVER_CERT || reason == TUN_R_PROTOCOL ||
	    reason == TUN_R_SHUTDOWN || !c->ever_ready) {
		cli_final(c, reason, why);
		return;
	}
	cli_lost(c, why);
}

static const struct tun_chan_ops cli_chan_ops = {
	.up = cli_on_up,
	.msg = cli_on_msg,
	.down = cli_on_down,
};

static void cli_listen_cfg(struct tun_client *c, struct tun_listen_cfg *lc)
{
	memset(lc, 0, sizeof(*lc));
	lc->l = c->l;
	lc->creds = c->creds;
	lc->host = c->addr;
	lc->port = c->port;
	lc->handshake_ms = c->hs_ms;
	/* A resumption attempt never outlives the server's resume time. */
	if (c->lost_at) {
		uint64_t end = c->lost_at + (uint64_t)c->resume_s * 1000000;
		uint64_t now = loop_now_us();
		uint64_t left_ms = end > now ? (end - now) / 1000 : 0;

		if (left_ms < 100)
			left_ms = 100;
		if (left_ms < lc->handshake_ms)
			lc->handshake_ms = (unsigned)left_ms;
	}
	lc->ops = &cli_chan_ops;
	lc->user = c;
}

/* The TLS racer; 0, or the failure recorded (the caller decides). */
static int cli_start_alt(struct tun_client *c)
{
	struct tun_listen_cfg lc;
	int ret;

	c->alt_tried = true;
	cli_listen_cfg(c, &lc);
	ret = tun_tls_connect(&c->alt, &lc);
	if (ret < 0) {
		size_t n = strlen(c->attempt_why);

		c->alt = NULL;
		snprintf(c->attempt_why + n, sizeof(c->attempt_why) - n,
			 "%s%s: %s", n ? "; " : "",
			 cli_tname(TUN_TRANSPORT_TLS), strerror(-ret));
		if (!c->attempt_reason)
			c->attempt_reason = TUN_R_UNREACHABLE;
	}
	return ret;
}

static void cli_fallback_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state != C_CONNECTING || !c->ch || c->ch->up || c->alt_tried)
		return;
	cli_progress(c, "no answer over DTLS (UDP) after %u ms; trying TLS "
		     "over TCP as well", c->fallback_ms);
	if (cli_start_alt(c) < 0)
		cli_progress(c, "TLS over TCP: %s; still waiting for DTLS",
			     c->attempt_why);
}

/*
 * The server's name, resolved once per attempt (both racers use the same
 * address). 0, or -errno with why filled.
 */
static int cli_resolve(struct tun_client *c, char *why, size_t cap)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int ret;

	ret = getaddrinfo(c->host, c->port, &hints, &res);
	if (ret == 0 && res)
		ret = getnameinfo(res->ai_addr, res->ai_addrlen, c->addr,
				  sizeof(c->addr), NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (ret != 0) {
		snprintf(why, cap, "cannot resolve '%s': %s", c->host,
			 ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	return 0;
}

static struct cli_relay *cli_relay_of_path(struct tun_client *c, const struct tun_rpath *rp)
{
	unsigned i;

	for (i = 0; i < c->nrelay; i++)
		if (c->rr[i].rp == rp)
			return &c->rr[i];
	return NULL;
}

/*
 * CONNECTED: the relayed and the direct DTLS racers start, named after
 * the relay and the gateway's reflexive address. A racer whose handshake
 * completes at once (tun_dtls_connect_fd's note) may decide the race
 * inside its start: then the rest is not started.
 */
/* A relay path with nothing left racing on it: gone; maybe the attempt too. */
static void cli_relay_spent(struct tun_client *c, struct cli_relay *r)
{
	if (r->rch || r->dch || r->rfd_wait >= 0 || (c->ch && c->ch->up))
		return;
	tun_rpath_free(r->rp);
	r->rp = NULL;
	if (!cli_racing(c)) {
		cli_drop_chan(c, false);
		cli_attempt_failed(c);
	}
}

/* The relayed racer, after the direct one's head start (or its failure). */
static void cli_start_relayed(struct tun_client *c, struct cli_relay *r)
{
	struct tun_listen_cfg lc;
	struct sockaddr_storage none;
	int fd = r->rfd_wait;

	loop_timer_disarm(r->relayed_timer);
	if (fd < 0)
		return;
	r->rfd_wait = -1;
	cli_listen_cfg(c, &lc);
	/* Named for messages by the relay (tun_rpath_relay), not by fd. */
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	if (tun_dtls_connect_fd(&r->rch, &lc, fd, &none, sizeof(sa_family_t)) < 0)
		r->rch = NULL;
}

static void cli_relayed_cb(struct loop_timer *t, void *user)
{
	struct cli_relay *r = user;

	if (r->rfd_wait >= 0 && r->c->state == C_CONNECTING) {
		cli_progress(r->c, "no direct answer yet; trying through relay %s as well",
			     tun_rpath_relay(r->rp));
		cli_start_relayed(r->c, r);
		cli_relay_spent(r->c, r);
	}
}

/*
 * CONNECTED: the punched direct racer starts, and the relayed one after
 * TUN_RELAYED_AFTER_MS (at once if there is no direct one). A racer whose
 * handshake completes inside its start (tun_dtls_connect_fd's note)
 * decides the race there.
 */
static void cli_rp_connected(void *user, struct tun_rpath *rp, int relayed_fd, int direct_fd)
{
	struct tun_client *c = user;
	struct cli_relay *r = cli_relay_of_path(c, rp);
	struct tun_listen_cfg lc;
	struct sockaddr_storage none;
	char gw[NI_MAXHOST + NI_MAXSERV + 4];

	if (!r || r->rfd_wait >= 0) {
		close(relayed_fd);
		if (direct_fd >= 0)
			close(direct_fd);
		return;
	}
	r->rfd_wait = relayed_fd;
	if (direct_fd < 0) {
		cli_progress(c, "relay %s: connected; trying through the relay",
			     tun_rpath_relay(rp));
		cli_start_relayed(c, r);
		cli_relay_spent(c, r);
		return;
	}
	cli_progress(c, "relay %s: connected; the gateway is at %s, trying it directly "
		     "(and through the relay after %u ms)", tun_rpath_relay(rp),
		     tun_rpath_gateway(rp, gw, sizeof(gw)), TUN_RELAYED_AFTER_MS);
	cli_listen_cfg(c, &lc);
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	if (tun_dtls_connect_fd(&r->dch, &lc, direct_fd, &none, sizeof(sa_family_t)) < 0)
		r->dch = NULL;
	if (c->ch && c->ch->up)
		return;		/* decided inside the start */
	if (!r->dch) {
		cli_start_relayed(c, r);
		cli_relay_spent(c, r);
		return;
	}
	loop_timer_arm(r->relayed_timer, TUN_RELAYED_AFTER_MS * 1000ull);
}

static void cli_rp_failed(void *user, struct tun_rpath *rp, const char *why)
{
	struct tun_client *c = user;
	struct cli_relay *r = cli_relay_of_path(c, rp);
	size_t n = strlen(c->attempt_why);

	if (!r)
		return;
	tun_rpath_free(r->rp);
	r->rp = NULL;
	snprintf(c->attempt_why + n, sizeof(c->attempt_why) - n, "%s%s", n ? "; " : "", why);
	if (!c->attempt_reason)
		c->attempt_reason = TUN_R_UNREACHABLE;
	if (cli_racing(c)) {
		cli_progress(c, "%s; waiting for the others", why);
		return;
	}
	cli_drop_chan(c, false);
	cli_attempt_failed(c);
}

static const struct tun_rpath_ops cli_rp_ops = {
	.connected = cli_rp_connected,
	.failed = cli_rp_failed,
};

/* A path through each relay of the bundle, beside the direct race. */
static void cli_start_relays(struct tun_client *c)
{
	struct tun_listen_cfg lc;
	unsigned i;
	size_t n;
	int ret;

	cli_listen_cfg(c, &lc);
	for (i = 0; i < c->nrelay; i++) {
		ret = tun_rpath_new(&c->rr[i].rp, c->l, c->relay[i], c->home_id,
				    lc.handshake_ms, &cli_rp_ops, c);
		if (ret < 0) {
			c->rr[i].rp = NULL;
			n = strlen(c->attempt_why);
			snprintf(c->attempt_why + n, sizeof(c->attempt_why) - n, "%srelay %s: %s",
				 n ? "; " : "", c->relay[i],
				 ret == -EHOSTUNREACH ? "cannot resolve it" : strerror(-ret));
			if (!c->attempt_reason)
				c->attempt_reason = TUN_R_UNREACHABLE;
		}
	}
}

static void cli_connect(struct tun_client *c)
{
	struct tun_listen_cfg lc;
	char why[TUN_TEXT_MAX];
	int ret;

	c->state = C_CONNECTING;
	c->alt_tried = false;
	c->attempt_why[0] = '\0';
	c->attempt_reason = 0;
	c->path[0] = '\0';
	if (c->nrelay)
		cli_start_relays(c);
	if (!c->host) {
		/* Relays only: the race is theirs. */
		if (!cli_racing(c))
			cli_attempt_failed(c);
		return;
	}
	ret = cli_resolve(c, why, sizeof(why));
	if (ret < 0) {
		if (cli_racing(c)) {
			cli_progress(c, "%s; trying the relays", why);
			return;
		}
		/* A first login with a name that does not resolve is a typo
		 * or no network: say so now. Later, the network may be back. */
		if (!c->ever_ready)
			cli_final(c, TUN_R_UNREACHABLE, why);
		else
			cli_lost(c, why);
		return;
	}
	cli_listen_cfg(c, &lc);
	c->transport = c->want == TUN_TRANSPORT_TLS ? TUN_TRANSPORT_TLS :
		       TUN_TRANSPORT_DTLS;
	if (c->want == TUN_TRANSPORT_AUTO)
		loop_timer_arm(c->fallback_timer, (uint64_t)c->fallback_ms * 1000);
	if (c->transport == TUN_TRANSPORT_TLS)
		ret = tun_tls_connect(&c->ch, &lc);
	else
		ret = tun_dtls_connect(&c->ch, &lc);
	if (ret < 0) {
		c->ch = NULL;
		loop_timer_disarm(c->fallback_timer);
		snprintf(why, sizeof(why), "%s: %s", cli_tname(c->transport),
			 strerror(-ret));
		if (c->want == TUN_TRANSPORT_AUTO) {
			size_t n = strlen(c->attempt_why);

			snprintf(c->attempt_why + n, sizeof(c->attempt_why) - n, "%s%s",
				 n ? "; " : "", why);
			c->attempt_reason = TUN_R_UNREACHABLE;
			if (cli_start_alt(c) == 0 || cli_racing(c))
				return;
			cli_attempt_failed(c);
			return;
		}
		if (cli_racing(c)) {
			cli_progress(c, "%s; trying the relays", why);
			return;
		}
		if (!c->ever_ready)
			cli_final(c, TUN_R_UNREACHABLE, why);
		else
			cli_lost(c, why);
	}
}

static char *dup_opt(const char *s, bool *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = true;
	return d;
}

int tun_client_new(struct tun_client **out, struct loop *l,
		   const struct tun_client_cfg *cfg,
		   const struct tun_client_ops *ops, void *user)
{
	struct tun_client *c;
	bool bad = false;
	unsigned i;
	int ret = -EINVAL;

	*out = NULL;
	if (cfg->nrelay > TUN_RELAYS_MAX || (cfg->nrelay && (!cfg->relays || !cfg->home_id)))
		return -EINVAL;
	if ((!cfg->host && !cfg->nrelay) || (cfg->host && !cfg->port) || !cfg->ca_file ||
	    (!cfg->cert_file) != (!cfg->key_file) ||
	    (!cfg->cert_file && (!cfg->user || !cfg->password)) ||
	    cfg->password_len > SCRAM_PASSWORD_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->l = l;
	c->ops = *ops;
	c->user = user;
	c->want = cfg->transport;
	c->transport = cfg->transport == TUN_TRANSPORT_TLS ? TUN_TRANSPORT_TLS :
		       TUN_TRANSPORT_DTLS;
	c->fallback_ms = cfg->fallback_ms ? cfg->fallback_ms : TUN_FALLBACK_MS;
	c->vmin = cfg->version_min ? cfg->version_min : TUN_VERSION_MIN;
	c->vmax = cfg->version_max ? cfg->version_max : TUN_VERSION_MAX;
	if (c->vmin > c->vmax) {
		free(c);
		return -EINVAL;
	}
	c->hs_ms = cfg->handshake_ms ? cfg->handshake_ms : 10000;
	if (cfg->rel) {
		c->rel_cfg = *cfg->rel;
	} else {
		tun_rel_cfg_default(&c->rel_cfg);
		/* The server drives the keepalives (TUN_REL_KEEPALIVE_SRV_US). */
		c->rel_cfg.keepalive_us = TUN_REL_KEEPALIVE_CLI_US;
		c->rel_cfg.quiet_us = 0;
	}
	c->host = dup_opt(cfg->host, &bad);
	c->port = dup_opt(cfg->port, &bad);
	c->nrelay = cfg->nrelay;
	for (i = 0; i < cfg->nrelay; i++) {
		c->relay[i] = dup_opt(cfg->relays[i], &bad);
		c->rr[i].c = c;
		c->rr[i].rfd_wait = -1;
		c->rr[i].relayed_timer = loop_timer_new(l, cli_relayed_cb, &c->rr[i]);
		if (!c->relay[i] || !c->rr[i].relayed_timer)
			bad = true;
	}
	if (cfg->nrelay)
		memcpy(c->home_id, cfg->home_id, TUN_HOME_ID_LEN);
	c->ca_file = dup_opt(cfg->ca_file, &bad);
	c->cert_file = dup_opt(cfg->cert_file, &bad);
	c->key_file = dup_opt(cfg->key_file, &bad);
	c->login = dup_opt(cfg->user, &bad);
	if (cfg->password && !cfg->cert_file) {
		c->password = malloc(cfg->password_len + 1);
		if (!c->password) {
			bad = true;
		} else {
			memcpy(c->password, cfg->password, cfg->password_len);
			c->password[cfg->password_len] = '\0';
			c->pwlen = cfg->password_len;
		}
	}
	c->rel_timer = loop_timer_new(l, cli_rel_timer_cb, c);
	c->flush_timer = loop_timer_new(l, cli_flush_cb, c);
	c->retry_timer = loop_timer_new(l, cli_retry_cb, c);
	c->down_timer = loop_timer_new(l, cli_down_cb, c);
	c->login_timer = loop_timer_new(l, cli_login_timer_cb, c);
	c->fallback_timer = loop_timer_new(l, cli_fallback_cb, c);
	if (bad || !c->rel_timer || !c->flush_timer || !c->retry_timer ||
	    !c->down_timer || !c->login_timer || !c->fallback_timer) {
		ret = -ENOMEM;
		goto fail;
	}
	/*
	 * The certificate stays out of the handshake (the server asks for
	 * none): it is sent, and its key signs, inside the channel.
	 */
	ret = tun_creds_new(&c->creds, false, c->ca_file, NULL, NULL);
	if (ret < 0)
		goto fail;
	if (c->cert_file) {
		char err[300];

		ret = tun_certkey_load(&c->ck, c->cert_file, c->key_file, err, sizeof(err));
		if (ret < 0) {
			log_err("tunnel: client certificate %s", err);
			goto fail;
		}
	}
	*out = c;
	cli_connect(c);
	return 0;
fail:
	tun_client_free(c);
	return ret;
}

void tun_client_free(struct tun_client *c)
{
	unsigned i;

	if (!c)
		return;
	if (c->ch) {
		if (c->state == C_READY) {
			struct tun_msg m;

			cli_msg_init(&m, c->version, TUN_MSG_CLOSE);
			m.close.code = TUN_R_SHUTDOWN;
			tun_chan_send(c->ch, &m);
		}
		c->ch->ops = NULL;
		tun_chan_destroy(c->ch);
	}
	if (c->alt) {
		c->alt->ops = NULL;
		tun_chan_destroy(c->alt);
	}
	for (i = 0; i < c->nrelay; i++) {
		if (c->rr[i].rch) {
			c->rr[i].rch->ops = NULL;
			tun_chan_destroy(c->rr[i].rch);
		}
		if (c->rr[i].dch) {
			c->rr[i].dch->ops = NULL;
			tun_chan_destroy(c->rr[i].dch);
		}
		tun_rpath_free(c->rr[i].rp);
		if (c->rr[i].rfd_wait >= 0)
			close(c->rr[i].rfd_wait);
		loop_timer_free(c->rr[i].relayed_timer);
		free(c->relay[i]);
	}
	if (c->probe) {
		c->probe->ops = NULL;
		tun_chan_destroy(c->probe);
	}
	/* After the channel: its CLOSE goes out through the path. */
	tun_rpath_free(c->live_rp);
	scram_client_free(c->scram);
	cli_wipe_password(c);
	tun_rel_free(c->rel);
	loop_timer_free(c->rel_timer);
	loop_timer_free(c->flush_timer);
	loop_timer_free(c->retry_timer);
	loop_timer_free(c->down_timer);
	loop_timer_free(c->login_timer);
	loop_timer_free(c->fallback_timer);
	tun_creds_free(c->creds);
	tun_certkey_free(c->ck);
	secmem_wipe(c->req, sizeof(c->req));
	secmem_wipe(c->resume_key, sizeof(c->resume_key));
	free(c->host);
	free(c->port);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->login);
	free(c);
}

int tun_client_send(struct tun_client *c, const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;
	int ret;

	if (c->state == C_DOWN || !c->rel)
		return -ENOTCONN;
	if (len > TUN_REL_PKT_MAX)
		return -EMSGSIZE;
	if (h4_parse(&pkt, h4, len, 0) < 0)
		return -EBADMSG;
	ret = tun_rel_send(c->rel, h4, len, loop_now_us());
	if (ret == 0)
		cli_arm(c);
	return ret;
}

void tun_client_rx_kick(struct tun_client *c)
{
	if (c->state != C_READY)
		return;
	if (tun_rel_rx_kick(c->rel, loop_now_us()) < 0)
		cli_final(c, TUN_R_PROTOCOL, "the server broke the protocol");
	else
		cli_arm(c);
}

bool tun_client_is_ready(const struct tun_client *c)
{
	return c->state == C_READY;
}

enum tun_transport tun_client_transport(const struct tun_client *c)
{
	return c->transport;
}

void tun_client_reconnect(struct tun_client *c)
{
	if (c->state == C_DOWN || !c->ever_ready)
		return;
	cli_lost(c, "reconnect requested");
}

void tun_client_get_stats(const struct tun_client *c, struct tun_rel_stats *st)
{
	if (c->rel)
		tun_rel_get_stats(c->rel, st);
	else
		memset(st, 0, sizeof(*st));
}
