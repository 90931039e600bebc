/* SPDX-License-Identifier: MIT */
/*
 * The tunnel client's connection race (client_int.h): DTLS, TLS over TCP
 * beside it (TUN_TRANSPORT_AUTO), and per relay a relayed and a punched
 * direct path (rpath.c); the first channel up wins and logs in
 * (client_login.c). Also the relayed session's direct probe.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_int.h"
#include "log.h"

static const char *cli_tname(enum tun_transport t)
{
	return t == TUN_TRANSPORT_TLS ? "TLS over TCP" : "DTLS over UDP";
}

/* One line for the user while connecting (the owner shows it). */
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


void tun_cli_retry_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state == C_CONNECTING && !c->ch)
		tun_cli_connect(c);
}

static void cli_on_up(void *user, struct tun_chan *ch)
{
	struct tun_client *c = user;
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
		tun_cli_progress(c, "using TLS over TCP: DTLS over UDP got no answer");
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
	tun_cli_drop_relays(c);
	if (ch != c->ch)
		return;		/* cannot happen: every racer is known */
	c->attempt_why[0] = '\0';
	c->attempt_reason = 0;
	if (!c->ever_ready)
		tun_cli_progress(c, "%s handshake %s done; the server's "
			     "certificate chains to the pinned CA",
			     gnutls_protocol_get_name(gnutls_protocol_get_version(ch->gs)),
			     c->path);
	else if (c->nrelay)
		tun_cli_progress(c, "resuming %s", c->path);
	tun_cli_hello(c);
}

static void cli_listen_cfg(struct tun_client *c, struct tun_listen_cfg *lc);

/* A punched channel's name: the gateway's address the relay saw, and the relay. */
static const char *cli_punched_via(const struct tun_rpath *rp, char *buf, size_t cap)
{
	char gw[NI_MAXHOST + NI_MAXSERV + 4];

	snprintf(buf, cap, "%s punched via relay %s", tun_rpath_gateway(rp, gw, sizeof(gw)),
		 tun_rpath_relay(rp));
	return buf;
}

/*
 * Relayed: keep trying the gateway's reflexive address directly for
 * TUN_PROBE_MS (doc/relay.md, "The client"); cli_on_up moves the session
 * if it answers.
 */
void tun_cli_start_probe(struct tun_client *c)
{
	struct tun_listen_cfg lc;
	char via[TUN_CHAN_VIA_MAX];
	int fd = tun_rpath_direct(c->live_rp);

	if (fd < 0)
		return;
	cli_listen_cfg(c, &lc);
	lc.handshake_ms = TUN_PROBE_MS;
	if (tun_dtls_connect_fd(&c->probe, &lc, fd, cli_punched_via(c->live_rp, via, sizeof(via))) < 0)
		c->probe = NULL;
	else
		log_info("tunnel: relayed; probing a direct path for %d s", TUN_PROBE_MS / 1000);
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
	if (reason == TUN_R_SERVER_CERT || (reason == TUN_R_HANDSHAKE && !ch->transient))
		c->attempt_verdict = true;
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
	/*
	 * A first connection whose handshakes were only damaged on the way
	 * (a flipped bit before ChangeCipherSpec fails the whole handshake)
	 * tries again, 200 ms doubling, within TUN_FIRST_TRIES and
	 * TUN_FIRST_TIME_US; a verdict (certificate, parameters, an alert
	 * that refuses) ends it at once. No answer is tried again too once
	 * damage was seen, or when a relay connected us to the gateway and
	 * the handshake through it then died (a damaged flight can leave
	 * the gateway's side of it dead); a first try with no answer at
	 * all still ends it (a wrong address or a home that is off).
	 */
	if (!c->ever_ready && !c->attempt_verdict &&
	    (reason == TUN_R_HANDSHAKE ||
	     (reason == TUN_R_UNREACHABLE && (c->first_tries > 1 || c->attempt_relayed))) &&
	    c->first_tries < TUN_FIRST_TRIES &&
	    loop_now_us() - c->first_at < TUN_FIRST_TIME_US) {
		tun_cli_progress(c, "%s; trying again (%u of %u)", text,
				 c->first_tries + 1, TUN_FIRST_TRIES);
		c->attempt_why[0] = '\0';
		c->attempt_reason = 0;
		c->attempt_verdict = false;
		c->attempt_relayed = false;
		c->state = C_CONNECTING;
		loop_timer_arm(c->retry_timer, (uint64_t)TUN_RETRY_MIN_US << c->first_tries);
		return;
	}
	c->attempt_why[0] = '\0';
	c->attempt_reason = 0;
	c->attempt_verdict = false;
	c->attempt_relayed = false;
	/* A server certificate that does not verify is no link problem. */
	if (!c->ever_ready || reason == TUN_R_SERVER_CERT)
		tun_cli_final(c, reason, text);
	else
		tun_cli_lost(c, text);
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
		if (r && relayed)
			c->attempt_relayed = true;
		cli_attempt_why(c, ch, reason, what);
		if (reason != TUN_R_SERVER_CERT) {
			/* Another racer may still make it. */
			if (cli_racing(c)) {
				tun_cli_progress(c, "%s failed (%s); waiting for the others", what,
					     ch->why[0] ? ch->why : tun_reason_str(reason));
				return;
			}
			/* DTLS failed before the fallback started: start it now. */
			if (c->want == TUN_TRANSPORT_AUTO && !c->alt_tried && c->host) {
				loop_timer_disarm(c->fallback_timer);
				tun_cli_progress(c, "%s failed; trying TLS over TCP",
					     cli_tname(t));
				if (cli_start_alt(c) == 0)
					return;
			}
		}
		tun_cli_drop_chan(c, false);
		cli_attempt_failed(c);
		return;
	}
	snprintf(why, sizeof(why), "%s", ch->why[0] ? ch->why : tun_reason_str(reason));
	/* A bad server certificate or message, or the server's close_notify:
	 * no second try. */
	if (reason == TUN_R_SERVER_CERT || reason == TUN_R_PROTOCOL ||
	    reason == TUN_R_SHUTDOWN || !c->ever_ready) {
		tun_cli_final(c, reason, why);
		return;
	}
	tun_cli_lost(c, why);
}

static const struct tun_chan_ops cli_chan_ops = {
	.up = cli_on_up,
	.msg = tun_cli_on_msg,
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

void tun_cli_fallback_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	if (c->state != C_CONNECTING || !c->ch || c->ch->up || c->alt_tried)
		return;
	tun_cli_progress(c, "no answer over DTLS (UDP) after %u ms; trying TLS "
		     "over TCP as well", c->fallback_ms);
	if (cli_start_alt(c) < 0)
		tun_cli_progress(c, "TLS over TCP: %s; still waiting for DTLS",
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
		tun_cli_drop_chan(c, false);
		cli_attempt_failed(c);
	}
}

/* The relayed racer, after the direct one's head start (or its failure). */
static void cli_start_relayed(struct tun_client *c, struct cli_relay *r)
{
	struct tun_listen_cfg lc;
	char via[TUN_CHAN_VIA_MAX];
	int fd = r->rfd_wait;

	loop_timer_disarm(r->relayed_timer);
	if (fd < 0)
		return;
	r->rfd_wait = -1;
	cli_listen_cfg(c, &lc);
	/* Named for messages by the relay (tun_rpath_relay), not by fd. */
	snprintf(via, sizeof(via), "relay %s", tun_rpath_relay(r->rp));
	if (tun_dtls_connect_fd(&r->rch, &lc, fd, via) < 0)
		r->rch = NULL;
}

void tun_cli_relayed_cb(struct loop_timer *t, void *user)
{
	struct cli_relay *r = user;

	if (r->rfd_wait >= 0 && r->c->state == C_CONNECTING) {
		tun_cli_progress(r->c, "no direct answer yet; trying through relay %s as well",
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
	char gw[NI_MAXHOST + NI_MAXSERV + 4], via[TUN_CHAN_VIA_MAX];

	if (!r || r->rfd_wait >= 0) {
		close(relayed_fd);
		if (direct_fd >= 0)
			close(direct_fd);
		return;
	}
	r->rfd_wait = relayed_fd;
	if (direct_fd < 0) {
		tun_cli_progress(c, "relay %s: connected; trying through the relay",
			     tun_rpath_relay(rp));
		cli_start_relayed(c, r);
		cli_relay_spent(c, r);
		return;
	}
	tun_cli_progress(c, "relay %s: connected; the gateway is at %s, trying it directly "
		     "(and through the relay after %u ms)", tun_rpath_relay(rp),
		     tun_rpath_gateway(rp, gw, sizeof(gw)), TUN_RELAYED_AFTER_MS);
	cli_listen_cfg(c, &lc);
	if (tun_dtls_connect_fd(&r->dch, &lc, direct_fd, cli_punched_via(rp, via, sizeof(via))) < 0)
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
		tun_cli_progress(c, "%s; waiting for the others", why);
		return;
	}
	tun_cli_drop_chan(c, false);
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

void tun_cli_connect(struct tun_client *c)
{
	struct tun_listen_cfg lc;
	char why[TUN_TEXT_MAX];
	int ret;

	c->state = C_CONNECTING;
	c->alt_tried = false;
	c->attempt_why[0] = '\0';
	c->attempt_reason = 0;
	c->attempt_verdict = false;
	c->attempt_relayed = false;
	if (!c->ever_ready && !c->first_tries++)
		c->first_at = loop_now_us();
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
			tun_cli_progress(c, "%s; trying the relays", why);
			return;
		}
		/* A first login with a name that does not resolve is a typo
		 * or no network: say so now. Later, the network may be back. */
		if (!c->ever_ready)
			tun_cli_final(c, TUN_R_UNREACHABLE, why);
		else
			tun_cli_lost(c, why);
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
			tun_cli_progress(c, "%s; trying the relays", why);
			return;
		}
		if (!c->ever_ready)
			tun_cli_final(c, TUN_R_UNREACHABLE, why);
		else
			tun_cli_lost(c, why);
	}
}
