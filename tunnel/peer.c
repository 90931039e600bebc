/* SPDX-License-Identifier: MIT */
/*
 * Peer mode: one peer's channel, its handshake and login, then a
 * relay of tunnel messages between the channel and the core's link
 * (doc/protocol.md, appendix "the peer link").
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "certlogin.h"
#include "front.h"
#include "log.h"
#include "scram.h"
#include "secmem.h"
#include "tunnel_int.h"

static void peer_fd_cb(struct loop *l, int fd, uint32_t events, void *user);
static void peer_chan_down(struct tun_peer *p, int reason);
static void peer_up_flush(struct tun_peer *p);
static int peer_up_send(struct tun_peer *p);

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
	/*
	 * The core's messages of one read of the link, to the client in as
	 * few records as fit (a record holds one or more whole messages,
	 * doc/protocol.md section 3): one encryption, one send(2) and one
	 * wake-up of the client for several events, ACKs or reports.
	 */
	uint8_t down[4 * TUN_MSG_MAX];
	size_t down_len;
	/*
	 * The client's messages of one loop turn, to the core in one MSGS
	 * frame (one send(2), one wake-up of the core) when there are
	 * several; force: one of them may not be dropped (TLS, CLOSE, ERROR).
	 */
	uint8_t up[TUN_LINK_DGRAM_MAX];
	size_t up_len;
	unsigned up_count;
	bool up_force;
	struct loop_timer *up_t;
};

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
	peer_up_flush(p);
	if (p->done)
		return;		/* the flush failed and finished it */
	p->done = true;
	if (p->io.fd >= 0)
		tun_lkio_flush(&p->io);
	tun_lkio_close(&p->io);
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
	if (!tun_lkio_fd_ok(fd)) {
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
	int n;

	/*
	 * The client's messages of this turn go first, in order. A failure
	 * is the frame's: its caller acts on it (it may be taking the link
	 * down already, so nothing here closes it).
	 */
	n = peer_up_send(p);
	if (n < 0)
		return n;
	n = tun_link_encode(f, b, sizeof(b));

	if (n > 0)
		n = tun_lkio_send(&p->io, b, (size_t)n, true);
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
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	f.attach.version = k->version;
	f.attach.stream = k->ch->kind == TUN_CHAN_STREAM;
	/* The same session id and resume key a listener-mode server makes. */
	ret = gnutls_rnd(GNUTLS_RND_RANDOM, f.attach.sid, TUN_SID_LEN) < 0 ? -EIO :
	      tun_export_key(k->ch, f.attach.sid, TUN_LABEL_RESUME_KEY, f.attach.key);
	if (ret == 0)
		ret = peer_send_frame(p, &f);
	memcpy(p->sid, f.attach.sid, TUN_SID_LEN);
	p->stream = f.attach.stream;
	secmem_wipe(&f, sizeof(f));
	if (ret < 0) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
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
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
		return;
	}
	f.resume.version = k->version;
	f.resume.stream = k->ch->kind == TUN_CHAN_STREAM;
	memcpy(f.resume.sid, m->resume.sid, TUN_SID_LEN);
	memcpy(f.resume.proof, m->resume.proof, TUN_PROOF_LEN);
	ret = tun_chan_export(k->ch, TUN_LABEL_RESUME_BIND, f.resume.sid, TUN_SID_LEN,
			      f.resume.bind, TUN_KEY_LEN);
	if (ret == 0)
		ret = tun_export_key(k->ch, f.resume.sid, TUN_LABEL_RESUME_KEY, f.resume.new_key);
	if (ret == 0)
		ret = peer_send_frame(p, &f);
	memcpy(p->sid, f.resume.sid, TUN_SID_LEN);
	p->stream = f.resume.stream;
	secmem_wipe(&f, sizeof(f));
	if (ret < 0) {
		tun_link_refuse(k, TUN_R_INTERNAL, NULL);
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

	tun_link_unpend(k);
	loop_timer_disarm(k->timer);
	scram_server_free(k->scram);
	k->scram = NULL;
	k->state = L_ATTACHED;
	snprintf(k->name, sizeof(k->name), "%s", f->ok.user);
	log_notice("tunnel: %s: user %s %s (%s)", tun_chan_peer_str(k->ch, peer, sizeof(peer)),
		   k->name, p->resuming ? "resumed its session" : "logged in",
		   p->stream ? "TLS" : "DTLS");
	tun_msg_init(&m, k->version, TUN_MSG_READY);
	m.flags = p->resuming ? TUN_F_RESUMED : 0;
	memcpy(m.ready.sid, p->sid, TUN_SID_LEN);
	m.ready.resume_s = f->ok.resume_s;
	memcpy(m.ready.user, k->name, sizeof(k->name));
	tun_link_send(k, &m);
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
		tun_link_close(k, false);
		return;
	}
	tun_link_refuse(k, TUN_R_INTERNAL, NULL);
}

/* What waits for the client, in one record. */
static void peer_down_flush(struct tun_peer *p)
{
	size_t n = p->down_len;

	p->down_len = 0;
	if (n && p->k && p->k->ch)
		tun_chan_send_raw(p->k->ch, p->down, n);
}

/*
 * One message for the client: behind those waiting if the record has
 * room for it, else they go first. A message always fits one record
 * (chan.c checks the MTU at the handshake); one that would not is sent
 * alone, as before.
 */
static void peer_down(struct tun_peer *p, struct tun_link *k, const uint8_t *b, size_t n)
{
	size_t cap = tun_chan_record_cap(k->ch);

	if (cap > sizeof(p->down))
		cap = sizeof(p->down);
	if (p->down_len && p->down_len + n > cap)
		peer_down_flush(p);
	if (n > cap) {
		tun_chan_send_raw(k->ch, b, n);
		return;
	}
	memcpy(p->down + p->down_len, b, n);
	p->down_len += n;
}

/* One message of the core's for the client; CLOSE or ERROR say why it ends. */
static void peer_down_msg(struct tun_peer *p, struct tun_link *k, const uint8_t *b, size_t n)
{
	struct tun_msg m;
	size_t used;

	if (n > 1 && (b[1] == TUN_MSG_CLOSE || b[1] == TUN_MSG_ERROR) &&
	    tun_msg_decode(&m, b, n, &used) == 0)
		p->reason = m.type == TUN_MSG_CLOSE ? TUN_R_SHUTDOWN : m.close.code;
	peer_down(p, k, b, n);
}

static void peer_on_frame(struct tun_peer *p, const struct tun_link_frame *f)
{
	struct tun_link *k = p->k;

	if (!k)
		return;
	/* Anything but messages: what waits goes first, in order. */
	if (f->type != TUN_LF_MSG_DOWN && f->type != TUN_LF_MSGS_DOWN)
		peer_down_flush(p);
	if (k->state == L_WAIT_CORE) {
		if (f->type == TUN_LF_OK && f->ok.resumed == p->resuming) {
			peer_ready(p, k, f);
			return;
		}
		if (f->type == TUN_LF_FAIL) {
			/* A failed resumption counts like a wrong password. */
			if (p->resuming)
				tun_link_failed_login(k, f->reason.reason, NULL);
			else
				tun_link_refuse(k, f->reason.reason, NULL);
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
		peer_down_msg(p, k, f->msg.data, f->msg.len);
		return;
	case TUN_LF_MSGS_DOWN: {
		const uint8_t *d;
		size_t at = 0, len;

		/* All checked by the decoder; in order, while the link lasts. */
		while (p->k == k && tun_link_msgs_next(f, &at, &d, &len))
			peer_down_msg(p, k, d, len);
		return;
	}
	case TUN_LF_END:
		if (p->reason < 0)
			p->reason = TUN_R_SHUTDOWN;
		tun_link_close(k, true);
		return;
	case TUN_LF_DROP:
		/* Resumed through another peer process: leave without a word. */
		p->reason = TUN_R_NONE;
		tun_link_close(k, false);
		return;
	default:
		peer_core_lost(p, "unexpected frame");
		return;
	}
}

/*
 * Up to max frames that wait on the link, read several per system call
 * (tun_lkio_recv_some); a short read ends it: nothing more waited.
 */
static void peer_read(struct tun_peer *p, int max)
{
	struct lk_rx rx;
	struct tun_link_frame f;
	ssize_t n;
	int i = 0, j, got;

	while (i < max && !p->done && p->io.fd >= 0) {
		got = tun_lkio_recv_some(&p->io, &rx);
		if (got == 0)
			break;
		if (got < 0) {
			peer_down_flush(p);
			peer_core_lost(p, got == -EPIPE ? "closed" : strerror(-got));
			return;
		}
		for (j = 0; j < got && !p->done && p->io.fd >= 0; j++, i++) {
			n = rx.len[j];
			if (n < 0) {
				peer_down_flush(p);
				peer_core_lost(p, n == -EPIPE ? "closed" : "oversized frame");
				return;
			}
			if (tun_link_decode(&f, rx.b[j], (size_t)n, TUN_LINK_TO_PEER) < 0) {
				peer_down_flush(p);
				peer_core_lost(p, "malformed frame");
				return;
			}
			peer_on_frame(p, &f);
		}
		if (got < TUN_LKIO_RX_BATCH)
			break;
	}
	/* The end of what the core wrote so far: to the client. */
	peer_down_flush(p);
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
	if ((events & EPOLLOUT) && tun_lkio_flush(&p->io) < 0) {
		peer_drain_then_lost(p, "send failed");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		peer_read(p, TUN_BATCH_MAX);
}

/*
 * What this turn's messages from the client came to (peer_up_flush): one
 * MSG frame, or a MSGS frame for several (doc/protocol.md, appendix A.1).
 */
/*
 * Sends them; 0, or the link's error for the caller to act on (the
 * link is not touched here: a caller may be taking it down).
 */
static int peer_up_send(struct tun_peer *p)
{
	bool force = p->up_force;
	size_t len = p->up_len;
	uint8_t *b = p->up;
	int n;

	p->up_len = 0;
	p->up_force = false;
	if (p->up_t)
		loop_timer_disarm(p->up_t);
	if (!len || !p->k || p->done || p->io.fd < 0)
		return 0;
	if (p->up_count == 1) {
		/* One message: a MSG frame, its type byte over the length. */
		b = p->up + 2;
		b[0] = TUN_LF_MSG_UP;
		len -= 2;
	}
	n = tun_lkio_send(&p->io, b, len, force);
	if (n == -ENOBUFS && !force)
		return 0;	/* DTLS: a loss, the client's layer resends */
	return n < 0 ? n : 0;
}

static void peer_up_flush(struct tun_peer *p)
{
	struct tun_link *k = p->k;
	int n = peer_up_send(p);

	if (n == -ENOBUFS) {
		/*
		 * TLS: the core has not read a whole queue; reading on
		 * would mean dropping what TCP promised to deliver. Let
		 * the client resume instead.
		 */
		log_notice("tunnel: session %s: the core does not keep up", k->name);
		p->reason = TUN_R_INTERNAL;
		tun_link_close(k, false);
		return;
	}
	if (n < 0)
		peer_drain_then_lost(p, "send failed");
}

static void peer_up_cb(struct loop_timer *t, void *user)
{
	peer_up_flush(user);
}

/*
 * A message from the client on an attached channel: to the core, with
 * the others of this loop turn, when the turn ends.
 */
static void peer_relay_up(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m)
{
	uint8_t b[TUN_MSG_MAX];
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
		peer_up_flush(p);
		if (p->k != k)
			return;		/* the flush lost the link */
		tun_send_reason(k->ch, k->version, TUN_MSG_ERROR, TUN_R_PROTOCOL, NULL);
		peer_chan_down(p, TUN_R_PROTOCOL);
		tun_link_close(k, true);
		return;
	}
	n = tun_msg_encode(m, b, sizeof(b));
	if (n < 0)
		return;
	if (tun_link_msgs_add(p->up, sizeof(p->up), &p->up_len, &p->up_count, b,
			      (size_t)n) == -ENOSPC) {
		peer_up_flush(p);
		if (p->k != k || p->done ||
		    tun_link_msgs_add(p->up, sizeof(p->up), &p->up_len, &p->up_count, b,
				      (size_t)n) < 0)
			return;
	}
	p->up_force |= !droppable;
	if (!loop_timer_is_armed(p->up_t))
		loop_timer_arm(p->up_t, 0);
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

/* What the login code on this process's channel asks of the peer side. */
static const struct tun_peer_side peer_side = {
	.link_gone = peer_link_gone,
	.login_ok = peer_login_ok,
	.resume = peer_resume,
	.relay_up = peer_relay_up,
	.chan_down = peer_chan_down,
};

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
	tun_srv_cfg_init(srv, cfg);
	if (auth)
		srv->auth = *auth;
	srv->user = user;
	srv->peer = p;
	srv->peer_side = &peer_side;
	ret = tun_srv_ca_init(srv);
	if (ret < 0)
		goto fail;
	ret = -ENOMEM;
	p->l = l;
	p->srv = srv;
	p->ops = *ops;
	p->user = user;
	p->reason = -1;
	tun_lkio_init(&p->io, l);
	p->reap = loop_timer_new(l, peer_reap_cb, p);
	p->up_t = loop_timer_new(l, peer_up_cb, p);
	if (!p->reap || !p->up_t)
		goto fail;
	k = tun_link_new_pending(srv);
	if (!k)
		goto fail;
	p->k = k;
	/* k->ch is set before the handshake starts (its callbacks use it). */
	ret = tun_chan_new_peer(&k->ch, l, cr, fp, srv->cfg.handshake_ms,
				&tun_link_chan_ops, k);
	if (ret < 0) {
		p->freeing = true;
		tun_link_free(k);
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
		loop_timer_free(p->up_t);
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
		tun_link_close(p->k, false);
	tun_lkio_close(&p->io);
	loop_timer_free(p->reap);
	loop_timer_free(p->up_t);
	tun_server_free(p->srv);
	free(p);
}

void tun_peer_rx_counts(const struct tun_peer *p, uint64_t *chan_calls, uint64_t *link_calls,
			uint64_t *link_frames)
{
	*chan_calls = p->k && p->k->ch ? p->k->ch->rx_calls : 0;
	*link_calls = p->io.rx_calls;
	*link_frames = p->io.rx_frames;
}
