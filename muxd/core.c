/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[mux], the core (muxd/muxd.h): the controller transport with
 * reopen and backoff, the mux core, the authdb as policy (pushed by the
 * monitor, without its verifiers), the local listener (H4 over a Unix
 * socket, one session per connection, the peer's uid mapped to an authdb
 * user) and the tunnel sessions, whose channels and logins run in peer
 * processes (muxd_net.c): each session then drives the core exactly as a
 * local client does.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hci.h"
#include "hci_defs.h"
#include "hci_names.h"
#include "keysign.h"
#include "log.h"
#include "muxd.h"
#include "ratelimit.h"
#include "sandbox.h"
#include "secmem.h"
#include "transport.h"

static bool pol_is_user(const char *user, void *ctx)
{
	struct muxd *d = ctx;

	return d->db && authdb_user_is_enabled(d->db, user);
}

static bool pol_is_admin(const char *user, void *ctx)
{
	struct muxd *d = ctx;

	return d->db && authdb_user_is_admin(d->db, user);
}

static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	struct muxd *d = ctx;

	return d->db && authdb_user_may_access(d->db, user, a, type);
}

/* The authdb's device irk lines: an RPA by its device's identity. */
static int pol_resolve_rpa(const struct bdaddr *rpa, struct bdaddr *id, uint8_t *id_type,
			   void *ctx)
{
	struct muxd *d = ctx;
	struct authdb_rd rd;
	int r;

	if (!d->db)
		return -ENOENT;
	r = authdb_rpa_resolve(d->db, rpa, &rd);
	if (r == 0) {
		*id = rd.addr;
		*id_type = rd.type;
	}
	secmem_wipe(rd.irk, sizeof(rd.irk));
	return r;
}

/*
 * Household bonds: the monitor keeps the store (doc/security.md); the
 * core asks for a device's key when the controller does, and hands it a
 * new one, holding neither longer than the call.
 */
static int pol_bond_key(const struct bdaddr *a, uint8_t key[16], uint8_t *key_type, void *ctx)
{
	struct muxd *d = ctx;
	struct rpc_reply rep;
	char as[BDADDR_STRLEN];
	int r;

	memset(&rep, 0, sizeof(rep));
	r = muxd_call(d, RPC_BOND_KEY, 0, NULL, NULL, bdaddr_fmt(a, as), NULL, &rep, NULL);
	if (r == 0)
		r = rep.status;
	if (r == 0 && rep.blob_len != RPC_BOND_BLOB_LEN)
		r = -EPROTO;
	if (r == 0 && key) {
		memcpy(key, rep.blob, 16);
		*key_type = rep.blob[16];
	}
	secmem_wipe(&rep, sizeof(rep));
	return r < 0 ? r : 0;
}

static int pol_bond_new(const char *user, const struct bdaddr *a, const uint8_t key[16],
			uint8_t key_type, void *ctx)
{
	struct muxd *d = ctx;
	struct rpc_reply rep;
	struct rpc_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.type = RPC_BOND_NEW;
	rpc_str(q.name, 65, user);
	bdaddr_fmt(a, q.rd);
	memcpy(q.blob, key, 16);
	q.blob[16] = key_type;
	q.blob_len = RPC_BOND_BLOB_LEN;
	r = rpc_call(d->req_fd, &q, &rep, NULL);
	secmem_wipe(&q, sizeof(q));
	if (r < 0) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(d->l, EXIT_ERROR);
		return r;
	}
	return rep.status;
}

static void tr_rx(const uint8_t *h4, size_t len, void *user)
{
	struct muxd *d = user;

	mux_ctrl_input(d->mux, h4, len);
	if (mux_is_ready(d->mux))
		d->backoff_ms = BACKOFF_MIN_MS;
}

static void schedule_restart(struct muxd *d, unsigned delay_ms)
{
	if (!loop_timer_is_armed(d->restart))
		loop_timer_arm(d->restart, (uint64_t)delay_ms * 1000);
}

static void tr_error(int err, void *user)
{
	struct muxd *d = user;

	log_err("controller %s lost: %s", d->conf.controller, strerror(-err));
	schedule_restart(d, 0);
}

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	struct muxd *d = user;

	return d->tr ? mux_transport_send(d->tr, h4, len) : -EPIPE;
}

static void ctrl_failed(struct mux *m, int err, void *user)
{
	struct muxd *d = user;

	schedule_restart(d, 0);
}

static int core_open_fd(const char *uri, char *err, size_t errlen, void *user);

/* Close what is left of the transport, then reopen it with backoff. */
static void restart_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct mux_transport_ops ops = {
		tr_rx, tr_error, d, d->conf.sim_time_scale,
		core_open_fd,
	};
	char err[512];
	int r;

	if (d->tr) {
		mux_transport_close(d->tr);
		d->tr = NULL;
		mux_ctrl_down(d->mux);
		loop_timer_arm(d->restart, (uint64_t)d->backoff_ms * 1000);
		return;
	}
	r = mux_transport_open(d->l, d->conf.controller, &ops, &d->tr, err, sizeof(err));
	if (r < 0) {
		log_err("controller: %s (retrying in %u ms)", err, d->backoff_ms);
		loop_timer_arm(d->restart, (uint64_t)d->backoff_ms * 1000);
		d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
		return;
	}
	log_notice("controller %s open", d->conf.controller);
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	mux_ctrl_up(d->mux);
}

static void client_free(struct client *c)
{
	struct muxd *d = c->d;
	struct client **pp;

	for (pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			d->nclients--;
			break;
		}
	}
	mux_session_free(c->s);
	if (c->fd >= 0) {
		loop_del_fd(d->l, c->fd);
		close(c->fd);
	}
	h4_reader_free(c->rd);
	pktq_clear(&c->outq);
	free(c);
}

static void reap_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct client *c, *next;

	for (c = d->clients; c; c = next) {
		next = c->next;
		if (c->closing)
			client_free(c);
	}
}

void client_close_later(struct client *c)
{
	c->closing = true;
	loop_timer_arm(c->d->reap, 0);
}

static void client_flush(struct client *c)
{
	if (pktq_write(&c->outq, c->fd, &c->out_off, CLIENT_QUEUE_PKTS, PKTQ_W_SEND)) {
		client_close_later(c);
		return;
	}
	loop_mod_fd(c->d->l, c->fd, pktq_is_empty(&c->outq) ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

/* mux emit: queue for the client; -ENOBUFS when its queue is full. */
/* Into a session's outbound queue; reports give way first (mux.h, backpressure). */
static int session_queue_push(struct pktq *q, const uint8_t *h4, size_t len)
{
	return h4_is_discovery_report(h4, len) ? pktq_push_soft(q, h4, len) :
						 pktq_push(q, h4, len);
}

static int client_emit(const uint8_t *h4, size_t len, void *user)
{
	struct client *c = user;
	int r;

	if (c->closing)
		return -EPIPE;
	r = session_queue_push(&c->outq, h4, len);
	if (r < 0)
		return r;
	if (c->outq.count == 1)
		loop_mod_fd(c->d->l, c->fd, EPOLLIN | EPOLLOUT);
	return 0;
}

static int client_pkt(const struct h4_pkt *pkt, void *user)
{
	struct client *c = user;
	int r = mux_session_input(c->s, pkt->raw, pkt->raw_len);

	return r == -EPIPE ? r : 0;
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct client *c = user;
	uint8_t buf[16384];
	ssize_t n;
	int r;

	if (c->closing)
		return;
	if (events & EPOLLOUT)
		client_flush(c);
	if (c->closing || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close_later(c);
		return;
	}
	r = h4_reader_feed(c->rd, buf, (size_t)n, client_pkt, c);
	if (r < 0) {
		if (r != -EPIPE)
			log_warn("session %u (%s): H4 framing error (%s), closing",
				 mux_session_id(c->s), mux_session_user(c->s), h4_strerror(r));
		client_close_later(c);
	}
}

/* The local user: an explicit uid-map line, else the account name. */
static int uid_user(const struct muxd *d, uid_t uid, char *out, size_t cap)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	unsigned i;

	for (i = 0; i < d->conf.nuidmap; i++) {
		if (d->conf.uidmap[i].uid == uid) {
			snprintf(out, cap, "%s", d->conf.uidmap[i].user);
			return 0;
		}
	}
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res ||
	    strlen(res->pw_name) >= cap)
		return -ENOENT;
	snprintf(out, cap, "%s", res->pw_name);
	return 0;
}

static struct rsess *rsess_first(struct muxd *d);

/*
 * max-sessions-per-user: one family member's devices cannot take every
 * virtual controller (max-sessions) from the others.
 */
static bool user_at_cap(struct muxd *d, const char *name)
{
	unsigned n = 0;
	struct client *c;
	struct rsess *r;

	if (!d->conf.max_sessions_user)
		return false;
	for (c = d->clients; c; c = c->next)
		if (!c->closing && c->s && strcmp(mux_session_user(c->s), name) == 0)
			n++;
	for (r = rsess_first(d); r; r = r->next)
		if (r->s && strcmp(mux_session_user(r->s), name) == 0)
			n++;
	return n >= d->conf.max_sessions_user;
}

static void accept_cb(struct loop *l, int lfd, uint32_t events, void *user)
{
	struct muxd *d = user;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char name[MUX_USER_MAX + 1];
	struct client *c;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		close(fd);
		return;
	}
	/* Unknown uid and refused user take the same path and the same words. */
	if (uid_user(d, cred.uid, name, sizeof(name)) < 0 ||
	    !pol_is_user(name, d)) {
		log_notice("local connection from uid %u refused: not an enabled authdb user",
			   (unsigned)cred.uid);
		close(fd);
		return;
	}
	if (user_at_cap(d, name)) {
		log_notice("local connection from uid %u (%s) refused: max-sessions-per-user %u reached",
			   (unsigned)cred.uid, name, d->conf.max_sessions_user);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->kind = SESS_LOCAL;
	c->d = d;
	c->fd = fd;
	c->uid = cred.uid;
	pktq_init(&c->outq, CLIENT_QUEUE_PKTS, (size_t)d->conf.queue_kib * 1024);
	c->rd = h4_reader_new(H4_MAX_PKT);
	c->s = c->rd ? mux_session_new(d->mux, name, client_emit, c) : NULL;
	if (!c->s || loop_add_fd(l, fd, EPOLLIN, client_cb, c) < 0) {
		log_warn("local connection from uid %u (%s) refused: no session available",
			 (unsigned)cred.uid, name);
		mux_session_free(c->s);
		h4_reader_free(c->rd);
		close(fd);
		free(c);
		return;
	}
	c->next = d->clients;
	d->clients = c;
	d->nclients++;
	log_info("local session %u for uid %u (%s)", mux_session_id(c->s),
		 (unsigned)cred.uid, name);
}

static void rsess_dead(struct rsess *r);

static void session_dead(struct mux_session *s, void *sess_user, void *user)
{
	enum sess_kind *kind = sess_user;

	if (*kind == SESS_TUNNEL)
		rsess_dead(sess_user);
	else
		client_close_later(sess_user);
}

/* An ACL refusal by the core: one audit record (the core rate-limits). */
static void pol_denied(const char *user, const struct bdaddr *a, uint8_t type,
		       uint16_t opcode, void *ctx)
{
	struct muxd *d = ctx;
	char rd[BDADDR_STRLEN + 8], detail[64];
	const char *name = hcistr_opcode(opcode);

	bdaddr_fmt(a, rd);
	strcat(rd, type == BDADDR_RANDOM ? " random" : " public");
	snprintf(detail, sizeof(detail), "%s", name ? name : "command");
	muxd_call(d, RPC_AUDIT, AUDIT_ACL_DENY, user, NULL, rd, detail, NULL, NULL);
}

static struct rsess *rsess_first(struct muxd *d)
{
	return d->rsessions;
}

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
	pktq_clear(&r->outq);
	free(r);
}

/* The core ended the session (stalled, user removed): never close from inside it. */
static void rsess_dead(struct rsess *r)
{
	r->dead = true;
	loop_timer_arm(r->d->rreap, 0);
}

static void tun_on_writable(void *user, struct tun_session *ts);

static void rreap_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct rsess *r, *next;

	for (r = d->rsessions; r; r = next) {
		next = r->next;
		if (r->dead) {
			r->dead = false;
			tun_session_close(r->ts, TUN_R_REFUSED);
		} else if (r->writable_later) {
			r->writable_later = false;
			tun_on_writable(d, r->ts);
		}
	}
}

/* mux emit: straight into the tunnel, else the bounded queue. */
static int rsess_emit(const uint8_t *h4, size_t len, void *user)
{
	struct rsess *r = user;
	int ret = -ENOBUFS;

	if (!r->ts)
		return -EPIPE;
	if (pktq_is_empty(&r->outq)) {
		r->in_emit = true;
		ret = tun_session_send(r->ts, h4, len);
		r->in_emit = false;
	}
	if (ret == -ENOBUFS)	/* full: -ENOBUFS to the core */
		ret = session_queue_push(&r->outq, h4, len);
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
	struct muxd *d = user;
	const struct tun_link_label *lb = tun_session_label(ts);
	char peer[96];
	struct rsess *r;

	if (!lb || strcmp(lb->user, name) != 0)
		return -EACCES;
	if (user_at_cap(d, name)) {
		log_notice("tunnel session for %s refused: max-sessions-per-user %u reached",
			   name, d->conf.max_sessions_user);
		return -EBUSY;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = SESS_TUNNEL;
	r->d = d;
	r->ts = ts;
	r->cert = lb->cert;
	if (r->cert)
		memcpy(r->fpr, lb->cert_sha256, AUTHDB_FPR_LEN);
	snprintf(peer, sizeof(peer), "%s", lb->peer);
	src_key_peer(peer, r->src, sizeof(r->src));
	pktq_init(&r->outq, CLIENT_QUEUE_PKTS, (size_t)d->conf.queue_kib * 1024);
	/* The table may have changed since the login began. */
	r->s = pol_is_user(name, d) ? mux_session_new(d->mux, name, rsess_emit, r) : NULL;
	if (!r->s) {
		log_warn("tunnel session for %s from %s refused: no session available "
			 "(max-sessions %u reached, or the user is no longer enabled)",
			 name, peer, d->conf.max_sessions);
		muxd_audit(d, AUDIT_SESSION_END, name, r->src, "refused: no session available");
		free(r);
		return -EBUSY;
	}
	r->next = d->rsessions;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = &d->rsessions;
	d->rsessions = r;
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
	 * Take no more from a host that is not taking its answers: what it
	 * sends waits in the tunnel until the queue drains (on_writable).
	 */
	if (!pktq_is_empty(&r->outq)) {
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
		loop_timer_arm(r->d->rreap, 0);
		return;
	}
	if (r->draining)
		return;
	r->draining = true;
	while ((p = pktq_pop(&r->outq))) {
		if (tun_session_send(ts, p->data, p->len) == -ENOBUFS) {
			pktq_requeue(&r->outq, p);
			r->draining = false;
			return;
		}
		pkt_free(p);
	}
	r->draining = false;
	if (r->rx_held) {
		r->rx_held = false;
		tun_session_rx_kick(ts);
	}
}

static void tun_on_session_end(void *user, struct tun_session *ts, int reason)
{
	struct muxd *d = user;
	struct rsess *r = tun_session_get_data(ts);

	if (!r)
		return;
	log_notice("tunnel session %u (%s) ended: %s", mux_session_id(r->s),
		   tun_session_user(ts), tun_reason_str(reason));
	muxd_audit(d, AUDIT_SESSION_END, tun_session_user(ts), r->src, tun_reason_str(reason));
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
		r->quiet_timer = loop_timer_new(r->d->l, rsess_quiet_fn, r);
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
static void tunnel_policy_changed(struct muxd *d)
{
	char u[AUTHDB_NAME_MAX + 1];
	struct rsess *r;

	for (r = d->rsessions; r; r = r->next) {
		const char *name = tun_session_user(r->ts);
		int reason = TUN_R_NONE;

		if (r->cert) {
			int ret = authdb_cert_user(d->db, r->fpr, u);

			if (ret == -EKEYREVOKED || (ret == 0 && strcmp(u, name) != 0))
				reason = TUN_R_CERT_REVOKED;
			else if (ret < 0)
				reason = TUN_R_CERT_UNKNOWN;
		}
		if (!reason && !authdb_user_is_enabled(d->db, name))
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
static int tunnel_start(struct muxd *d)
{
	struct tun_server_cfg cfg;
	int r;

	d->rreap = loop_timer_new(d->l, rreap_fn, d);
	if (!d->rreap)
		return -ENOMEM;
	memset(&cfg, 0, sizeof(cfg));
	cfg.resume_s = d->conf.resume_s;
	cfg.handshake_ms = d->conf.login_s * 1000;
	cfg.max_sessions = d->conf.max_sessions;
	cfg.max_pending = d->conf.max_pending;
	r = tun_server_new(&d->tun, d->l, &cfg, &tun_ops, NULL, d);
	if (r < 0)
		log_err("tunnel: %s", strerror(-r));
	return r;
}

/* Everything the tunnel holds; the loop is run once more by the caller. */
static void tunnel_stop(struct muxd *d)
{
	tun_server_free(d->tun);	/* no callbacks: the sessions go here */
	d->tun = NULL;
	while (d->rsessions)
		rsess_free(d->rsessions);
	loop_timer_free(d->rreap);
	d->rreap = NULL;
}

/* What only the monitor may hold, wiped in the others after the fork. */
void muxd_forget_secrets(struct muxd *d)
{
	authdb_free(d->db);
	d->db = NULL;
	ratelimit_free(d->rl_src);
	d->rl_src = NULL;
	ratelimit_free(d->rl_user);
	d->rl_user = NULL;
	ratelimit_free(d->known_src);
	d->known_src = NULL;
	ratelimit_free(d->known_host);
	d->known_host = NULL;
	audit_close(d->audit);
	d->audit = NULL;
	explicit_bzero(d->secret, sizeof(d->secret));
	keysign_free(d->key);
	d->key = NULL;
}

/* The policy: the authdb without its password lines, parsed whole. */
static int policy_take(struct muxd *d, const uint8_t *p, size_t len)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	int r;

	r = authdb_parse_buffer("policy from the monitor", (const char *)p, len, &db,
				err, sizeof(err));
	if (r < 0) {
		log_err("policy from the monitor refused: %s", err);
		return r;
	}
	authdb_free(d->db);
	d->db = db;
	return 0;
}

/* A peer process's link and what the monitor vouches for about it. */
static int link_take(struct muxd *d, const uint8_t *p, size_t len, int fd)
{
	struct rpc_label lb;
	struct tun_link_label tl;

	if (fd < 0 || rpc_label_decode(p, len, &lb) < 0) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	memset(&tl, 0, sizeof(tl));
	snprintf(tl.user, sizeof(tl.user), "%s", lb.user);
	snprintf(tl.peer, sizeof(tl.peer), "%s", lb.peer);
	tl.cert = lb.cert;
	memcpy(tl.cert_sha256, lb.sha256, sizeof(tl.cert_sha256));
	if (!d->tun) {
		close(fd);
		return 0;
	}
	/* A refused link is that peer's failure, not the core's. */
	if (tun_server_add_link(d->tun, fd, &tl) < 0)
		log_warn("tunnel: link from %s refused", tl.peer);
	return 0;
}

/* One push from the monitor (trusted, but still parsed whole). */
static int push_receive(struct muxd *d, int timeout_ms, uint32_t *type)
{
	uint8_t *p;
	size_t len;
	int r, fd = -1;

	r = rpc_recv(d->push_fd, type, &p, &len, RPC_PUSH_MAX, &fd, timeout_ms);
	if (r < 0)
		return r;
	if (*type == RPC_POLICY && fd < 0)
		r = policy_take(d, p, len);
	else if (*type == RPC_LINK_PUSH)
		r = link_take(d, p, len, fd);
	else if (*type == RPC_CTL_ASK && fd < 0)
		r = ctl_core_answer(d, p, len);
	else
		r = -EPROTO;
	if (r == -EPROTO && fd >= 0 && *type != RPC_LINK_PUSH)
		close(fd);
	explicit_bzero(p, len);
	free(p);
	return r;
}

static void on_push(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd *d = user;
	uint32_t type = 0;
	int r = push_receive(d, RPC_TIMEOUT_MS, &type);

	if (r < 0) {
		if (r != -EPIPE)
			log_err("push channel: %s: stopping", strerror(-r));
		loop_quit(l, r == -EPIPE ? 0 : EXIT_ERROR);
		return;
	}
	if (type == RPC_POLICY) {
		tunnel_policy_changed(d);
		mux_policy_changed(d->mux);
	}
}

static void on_term(struct loop *l, int signo, void *user)
{
	log_notice("signal %d: stopping", signo);
	loop_quit(l, 0);
}

/* The monitor opens the configured controller and passes it. */
static int core_open_fd(const char *uri, char *err, size_t errlen, void *user)
{
	struct muxd *d = user;
	struct rpc_reply rep;
	int fd = -1, r;

	r = muxd_call(d, RPC_CTRL_OPEN, 0, NULL, NULL, NULL, NULL, &rep, &fd);
	if (r < 0) {
		snprintf(err, errlen, "%s: asking the monitor: %s", uri, strerror(-r));
		return r;
	}
	if (rep.status < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s", rep.err[0] ? rep.err : strerror(-rep.status));
		return rep.status < 0 ? rep.status : -EIO;
	}
	return fd;
}

int core_run(struct muxd *d)
{
	static struct mux_policy pol = {
		pol_is_user, pol_is_admin, pol_may_access, pol_denied, pol_resolve_rpa,
		pol_bond_key, pol_bond_new, NULL
	};
	static struct mux_ops ops = { ctrl_send, ctrl_failed, session_dead, NULL };
	struct mux_config mcfg;
	int keep[4 + MUXD_LISTEN_MAX];
	uint32_t type = 0;
	unsigned i, nkeep = 0;
	int r;

	sandbox_set_name("bgw-muxd[mux]");
	muxd_forget_secrets(d);
	/*
	 * Only the channels to the monitor, the local listeners and, until
	 * it is up (muxd_ready), the start-up pipe and /dev/null.
	 */
	keep[nkeep++] = d->req_fd;
	keep[nkeep++] = d->push_fd;
	keep[nkeep++] = d->ready_fd;
	keep[nkeep++] = d->null_fd;
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		if (d->lfd[i] >= 0)
			keep[nkeep++] = d->lfd[i];
	r = sandbox_close_all_but(keep, nkeep);
	log_reopen();
	if (r < 0) {
		log_err("core: closing inherited descriptors: %s", strerror(-r));
		return EXIT_ERROR;
	}
	r = push_receive(d, RPC_TIMEOUT_MS, &type);
	if (r < 0 || type != RPC_POLICY) {
		log_err("core: no policy from the monitor: %s", strerror(r < 0 ? -r : EPROTO));
		return EXIT_ERROR;
	}
	d->l = loop_new();
	if (!d->l)
		return EXIT_ERROR;
	pol.ctx = d;
	ops.user = d;
	memset(&mcfg, 0, sizeof(mcfg));
	mcfg.max_sessions = d->conf.max_sessions;
	/* A simulated controller's clock: hosts' inquiry lengths run in it. */
	if (strcmp(d->conf.controller, "sim") == 0 || strncmp(d->conf.controller, "sim:", 4) == 0)
		mcfg.time_scale = d->conf.sim_time_scale;
	d->mux = mux_new(d->l, &mcfg, &pol, &ops);
	d->restart = loop_timer_new(d->l, restart_fn, d);
	d->reap = loop_timer_new(d->l, reap_fn, d);
	if (!d->mux || !d->restart || !d->reap)
		return EXIT_ERROR;
	for (i = 0; i < d->conf.nlisten; i++)
		if (loop_add_fd(d->l, d->lfd[i], EPOLLIN, accept_cb, d) < 0)
			return EXIT_ERROR;
	if (muxd_conf_has_tunnel(&d->conf) && tunnel_start(d) < 0)
		return EXIT_ERROR;
	if (loop_add_fd(d->l, d->push_fd, EPOLLIN, on_push, d) < 0 ||
	    loop_add_signal(d->l, SIGTERM, on_term, d) < 0 ||
	    loop_add_signal(d->l, SIGINT, on_term, d) < 0)
		return EXIT_ERROR;
	/* The monitor reloads; a SIGHUP sent to the whole group is its. */
	signal(SIGHUP, SIG_IGN);
	d->backoff_ms = BACKOFF_MIN_MS;
	restart_fn(d->restart, d);
	/* Everything is open: from here on, no privilege is needed. */
	if (sandbox_drop_privileges(SANDBOX_CORE) < 0)
		return EXIT_ERROR;
	if (d->conf.sandbox) {
		if (sandbox_enter(SANDBOX_CORE) < 0)
			return EXIT_ERROR;
	} else {
		log_warn("sandbox off (configuration): the core runs without its seccomp filter");
	}
	log_notice("started: controller %s, %u listener%s", d->conf.controller,
		   d->conf.nlisten, d->conf.nlisten == 1 ? "" : "s");
	muxd_ready(d);
	/* loop_quit's code: an error must end the daemon non-zero. */
	r = loop_run(d->l);
	/*
	 * Stopping: a second SIGTERM (systemd signals the whole group, the
	 * monitor once more) must not kill us once the loop's signalfd is
	 * gone, or a normal stop reads as "killed by signal 15".
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	return r < 0 ? EXIT_ERROR : r;
}

/* Everything the core holds (called in every role: NULLs are fine). */
void core_cleanup(struct muxd *d)
{
	tunnel_stop(d);
	while (d->clients)
		client_free(d->clients);
	if (d->l)
		loop_iterate(d->l, 0);	/* the tunnel's closed links */
	mux_free(d->mux);
	d->mux = NULL;
	mux_transport_close(d->tr);
	d->tr = NULL;
	loop_timer_free(d->restart);
	d->restart = NULL;
	loop_timer_free(d->reap);
	d->reap = NULL;
}
