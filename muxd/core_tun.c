/* SPDX-License-Identifier: MIT */
/*
 * The core's tunnel sessions (muxd/core.h): their channels and logins run
 * in peer processes (peer.c), whose links the monitor pushes; here each
 * session drives the mux core exactly as a local client does, with the
 * reliability layer and resumption of tunnel/tunnel.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "hci_defs.h"
#include "log.h"


static void rsess_unlink(struct rsess *r)
{
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		r->pprev = NULL;
	}
}

static void rsess_free(struct rsess *r)
{
	if (!r)
		return;
	rsess_unlink(r);
	loop_timer_free(r->quiet_timer);
	mux_session_free(r->s);
	prioq_clear(&r->outq);
	free(r);
}

/* The core ended the session (stalled, user removed): never close from inside it. */
void rsess_dead(struct rsess *r)
{
	r->dead = true;
	loop_timer_arm(r->c->rreap, 0);
}

static void tun_on_writable(void *user, struct tun_session *ts);

static void rreap_fn(struct loop_timer *t, void *user)
{
	struct muxd_core *c = user;
	struct rsess *r, *next;

	for (r = c->rsessions; r; r = next) {
		next = r->next;
		if (r->dead) {
			r->dead = false;
			tun_session_close(r->ts, TUN_R_REFUSED);
		} else if (r->writable_later) {
			r->writable_later = false;
			tun_on_writable(c, r->ts);
		}
	}
}

/*
 * Reports enter a session's tunnel only while fewer segments than this are
 * unacknowledged or waiting for its window, so an answer to a command or a
 * data packet emitted later never waits behind more than these
 * (doc/virtual-controller.md, "Priorities"); the rest wait in the
 * session's report class, which sheds them in proportion to its backlog.
 */
#define RSESS_REPORT_QUEUED	8
/* Reports waiting beyond that: all shed from this backlog (lib/prioq.h). */
#define RSESS_REPORT_MAX	64

static int rsess_send(struct rsess *r, const uint8_t *h4, size_t len,
		      enum prioq_class cls)
{
	return cls == PRIOQ_REP ?
	       tun_session_send_soft(r->ts, h4, len, RSESS_REPORT_QUEUED) :
	       tun_session_send(r->ts, h4, len);
}

/*
 * mux emit: straight into the tunnel when nothing of its class or above
 * waits, else the session's queue: commands' answers and NOCP ahead of data
 * and events, those ahead of reports.
 */
static int rsess_emit(const uint8_t *h4, size_t len, void *user)
{
	struct rsess *r = user;
	enum prioq_class cls = prioq_class(h4, len);
	int ret = -ENOBUFS;

	if (!r->ts)
		return -EPIPE;
	if (prioq_is_clear_for(&r->outq, cls)) {
		r->in_emit = true;
		ret = rsess_send(r, h4, len, cls);
		r->in_emit = false;
	}
	if (ret == -ENOBUFS)	/* full: -ENOBUFS to the core */
		ret = prioq_push(&r->outq, h4, len);
	if (ret < 0 && ret != -ENOBUFS)
		return -EPIPE;
	return ret;
}

/*
 * A session logged in through a peer process. The user, the certificate
 * and the source are the monitor's word (the link's label), never the
 * peer's; the monitor has written the login's audit record already.
 */
static int tun_on_session(void *user, struct tun_session *ts, const char *name)
{
	struct muxd_core *c = user;
	const struct tun_link_label *lb = tun_session_label(ts);
	char peer[96];
	struct rsess *r;

	if (!lb || strcmp(lb->user, name) != 0)
		return -EACCES;
	if (core_user_at_cap(c, name)) {
		log_notice("tunnel session for %s refused: max-sessions-per-user %u reached",
			   name, c->d.conf.max_sessions_user);
		return -EBUSY;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = SESS_TUNNEL;
	r->c = c;
	r->ts = ts;
	r->cert = lb->cert;
	if (r->cert)
		memcpy(r->fpr, lb->cert_sha256, AUTHDB_FPR_LEN);
	snprintf(peer, sizeof(peer), "%s", lb->peer);
	src_key_peer(peer, r->src, sizeof(r->src));
	prioq_init(&r->outq, CLIENT_QUEUE_PKTS, (size_t)c->d.conf.queue_kib * 1024,
		   RSESS_REPORT_MAX);
	/* The table may have changed since the login began. */
	r->s = core_is_user(c, name) ? mux_session_new(c->mux, name, rsess_emit, r) : NULL;
	if (!r->s) {
		log_warn("tunnel session for %s from %s refused: no session available "
			 "(max-sessions %u reached, or the user is no longer enabled)",
			 name, peer, c->d.conf.max_sessions);
		muxd_audit(&c->d, AUDIT_SESSION_END, name, r->src, "refused: no session available");
		free(r);
		return -EBUSY;
	}
	r->next = c->rsessions;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = &c->rsessions;
	c->rsessions = r;
	tun_session_set_data(ts, r);
	log_info("tunnel session %u for %s from %s (%s)", mux_session_id(r->s),
		 name, peer, r->cert ? "certificate" : "password");
	return 0;
}

static int tun_on_packet(void *user, struct tun_session *ts, const uint8_t *h4,
			 size_t len)
{
	struct rsess *r = tun_session_get_data(ts);
	int ret;

	if (!r || r->dead)
		return 0;
	/*
	 * Take no more from a host that is not taking its answers or data:
	 * what it sends waits in the tunnel until the queue drains
	 * (on_writable). Reports waiting do not count: they are shed instead.
	 */
	if (prioq_has_urgent(&r->outq)) {
		r->rx_held = true;
		return -ENOBUFS;
	}
	ret = mux_session_input(r->s, h4, len);
	/* Malformed or forbidden: logged and refused by the core, this session only. */
	if (ret == -EPIPE)
		rsess_dead(r);
	return 0;
}

static void tun_on_writable(void *user, struct tun_session *ts)
{
	struct rsess *r = tun_session_get_data(ts);
	enum prioq_class cls;
	struct pkt *p;

	if (!r)
		return;
	/*
	 * The tunnel may report room from inside tun_session_send(), that is
	 * from inside the core's emit: kicking the receive side now would
	 * feed the core re-entrantly (mux.h), so it waits for the loop.
	 */
	if (r->in_emit) {
		r->writable_later = true;
		loop_timer_arm(r->c->rreap, 0);
		return;
	}
	if (r->draining)
		return;
	r->draining = true;
	while ((p = prioq_pop(&r->outq, &cls))) {
		if (rsess_send(r, p->data, p->len, cls) == -ENOBUFS) {
			prioq_requeue(&r->outq, p, cls);
			break;
		}
		pkt_free(p);
	}
	r->draining = false;
	if (r->rx_held && !prioq_has_urgent(&r->outq)) {
		r->rx_held = false;
		tun_session_rx_kick(ts);
	}
}

static void tun_on_session_end(void *user, struct tun_session *ts, int reason)
{
	struct muxd_core *c = user;
	struct rsess *r = tun_session_get_data(ts);

	if (!r)
		return;
	log_notice("tunnel session %u (%s) ended: %s", mux_session_id(r->s),
		   tun_session_user(ts), tun_reason_str(reason));
	muxd_audit(&c->d, AUDIT_SESSION_END, tun_session_user(ts), r->src, tun_reason_str(reason));
	tun_session_set_data(ts, NULL);
	r->ts = NULL;
	rsess_free(r);	/* called from the loop, never from inside the core */
}

/* Links of a silent session: every second while the silence lasts. */
#define QUIET_RECHECK_US	1000000

/*
 * While its client stays silent, a link that came up for the session
 * (its host's pending connection or LE auto-connection, left running)
 * goes again within a second; the timer stops when the client speaks.
 */
static void rsess_quiet_fn(struct loop_timer *t, void *user)
{
	struct rsess *r = user;

	if (r->dead || !r->s || !r->ts || !tun_session_is_quiet(r->ts))
		return;
	mux_session_release_links(r->s, HCI_ST_CONN_TIMEOUT);
	loop_timer_arm(t, QUIET_RECHECK_US);
}

/*
 * The client fell silent (a closed laptop, a dead link): its session
 * stays for resume-time, but the devices it was connected to must not
 * wait that long for the family. Its links go now; its host finds
 * Disconnection Complete (Connection Timeout) for each when it is back.
 * Called from the loop (the tunnel's timer), never from inside the core.
 */
static void tun_on_quiet(void *user, struct tun_session *ts)
{
	struct rsess *r = tun_session_get_data(ts);

	if (!r || r->dead || !r->s)
		return;
	mux_session_release_links(r->s, HCI_ST_CONN_TIMEOUT);
	if (!r->quiet_timer)
		r->quiet_timer = loop_timer_new(r->c->d.l, rsess_quiet_fn, r);
	if (r->quiet_timer)
		loop_timer_arm(r->quiet_timer, QUIET_RECHECK_US);
}

static const struct tun_server_ops tun_ops = {
	.on_session = tun_on_session,
	.on_packet = tun_on_packet,
	.on_session_end = tun_on_session_end,
	.on_writable = tun_on_writable,
	.on_quiet = tun_on_quiet,
};

/*
 * After a reload: a session whose user is gone or disabled, or whose
 * certificate is revoked or no longer in the table, ends now. (The core
 * would end removed users' sessions too; closing here gives the client
 * the reason.)
 */
void core_tun_policy_changed(struct muxd_core *c)
{
	char u[AUTHDB_NAME_MAX + 1];
	struct rsess *r;

	for (r = c->rsessions; r; r = r->next) {
		const char *name = tun_session_user(r->ts);
		int reason = TUN_R_NONE;

		if (r->cert) {
			int ret = authdb_cert_user(c->db, r->fpr, u);

			if (ret == -EKEYREVOKED || (ret == 0 && strcmp(u, name) != 0))
				reason = TUN_R_CERT_REVOKED;
			else if (ret < 0)
				reason = TUN_R_CERT_UNKNOWN;
		}
		if (!reason && !authdb_user_is_enabled(c->db, name))
			reason = TUN_R_AUTH_FAILED;
		if (!reason)
			continue;
		log_notice("tunnel session %u (%s): %s after the authdb reload, closing",
			   mux_session_id(r->s), name, tun_reason_str(reason));
		tun_session_close(r->ts, reason);
	}
}

/*
 * The core's part of the tunnel: the sessions, their reliability layer
 * and resumption; the channels and logins are the peer processes', whose
 * links the monitor pushes (on_push).
 */
int core_tun_start(struct muxd_core *c)
{
	struct tun_server_cfg cfg;
	int r;

	c->rreap = loop_timer_new(c->d.l, rreap_fn, c);
	if (!c->rreap)
		return -ENOMEM;
	memset(&cfg, 0, sizeof(cfg));
	cfg.resume_s = c->d.conf.resume_s;
	cfg.handshake_ms = c->d.conf.login_s * 1000;
	cfg.max_sessions = c->d.conf.max_sessions;
	cfg.max_pending = c->d.conf.max_pending;
	r = tun_server_new(&c->tun, c->d.l, &cfg, &tun_ops, NULL, c);
	if (r < 0)
		log_err("tunnel: %s", strerror(-r));
	return r;
}

/* Everything the tunnel holds; the loop is run once more by the caller. */
void core_tun_stop(struct muxd_core *c)
{
	tun_server_free(c->tun);	/* no callbacks: the sessions go here */
	c->tun = NULL;
	while (c->rsessions)
		rsess_free(c->rsessions);
	loop_timer_free(c->rreap);
	c->rreap = NULL;
}