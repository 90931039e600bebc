/* SPDX-License-Identifier: MIT */
/*
 * Core mode: a tun_server without listeners takes links from
 * bgw-muxd's peer processes (tun_server_add_link) and runs their
 * sessions; the link kind tun_remote_link_ops (doc/protocol.md, appendix).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "log.h"
#include "secmem.h"
#include "tunnel_int.h"

/* ================= core mode: links from peer processes ================= */

void tun_remote_release(struct tun_link *k)
{
	struct tun_link **pp;

	for (pp = &k->srv->dead; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	tun_lkio_close(&k->io);
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
	if (len && k->io.fd >= 0 && tun_lkio_send(&k->io, b, len, true) == 0)
		tun_lkio_flush(&k->io);
	k->dead = true;
	tun_link_unpend(k);
	if (k->s && k->s->link == k)
		k->s->link = NULL;
	k->s = NULL;
	tun_lkio_close(&k->io);
	k->next = srv->dead;
	srv->dead = k;
	if (srv->freeing)
		tun_remote_release(k);
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

	f.reason.reason = (uint8_t)(tun_reason_on_wire(reason) ? reason : TUN_R_INTERNAL);
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
	log_msg(prio, "tunnel: peer link %s%s%s: %s", tun_link_peer_str(k, peer, sizeof(peer)),
		  s ? " user " : "", s ? s->user : "", why);
	remote_close(k, 0);
	if (s)
		tun_sess_link_lost(s, TUN_R_PEER_DEAD);
}

static int remote_send(struct tun_link *k, const uint8_t *b, size_t len, bool droppable)
{
	int ret;

	if (k->dead || k->broken)
		return -ENOTCONN;
	ret = tun_lkio_send(&k->io, b, len, !droppable);
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

	tun_msg_reason(&m, version, type, reason, text);
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

const struct tun_link_ops tun_remote_link_ops = {
	.send_msg = remote_send_msg,
	.tun_send_reason = remote_send_reason,
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
			   tun_link_peer_str(k, peer, sizeof(peer)));
		remote_fail(k, TUN_R_PROTOCOL);
		return;
	}
	for (s = srv->sessions; s; s = s->next)
		dup |= secmem_is_equal(s->sid, f->attach.sid, TUN_SID_LEN);
	if (dup) {
		log_notice("tunnel: peer link %s: ATTACH with a session id in use",
			   tun_link_peer_str(k, peer, sizeof(peer)));
		remote_fail(k, TUN_R_INTERNAL);
		return;
	}
	if (srv->nsessions >= srv->cfg.max_sessions) {
		log_notice("tunnel: %s user %s: %s", tun_link_peer_str(k, peer, sizeof(peer)),
			   k->label.user, tun_reason_str(TUN_R_BUSY));
		remote_fail(k, TUN_R_BUSY);
		return;
	}
	s = tun_sess_new(srv, f->attach.version, k->label.user, f->attach.stream);
	if (!s) {
		remote_fail(k, TUN_R_INTERNAL);
		return;
	}
	memcpy(s->sid, f->attach.sid, TUN_SID_LEN);
	memcpy(s->resume_key, f->attach.key, TUN_KEY_LEN);
	s->label = k->label;
	k->stream = f->attach.stream;
	k->version = f->attach.version;
	tun_sess_link_in(s);
	tun_link_attach(k, s);
	log_notice("tunnel: %s: user %s logged in (%s, peer process)",
		   tun_link_peer_str(k, peer, sizeof(peer)), s->user, k->stream ? "TLS" : "DTLS");
	remote_send_ok(k, s, false);
	tun_sess_announce(s);
}

/*
 * RESUME: the peer exported bind and new_key from its channel; the proof
 * is the client's, and only the holder of the session's resume key can
 * have made it over this bind (tun_on_resume, the listener-mode check).
 */
static void remote_resume(struct tun_link *k, const struct tun_link_frame *f)
{
	struct tun_server *srv = k->srv;
	struct tun_session *s, *found = NULL;
	char peer[80];
	int which = -EACCES;

	/* Every session compared, in constant time each: no early exit. */
	for (s = srv->sessions; s; s = s->next)
		if (secmem_is_equal(s->sid, f->resume.sid, TUN_SID_LEN) && !s->ending)
			found = s;
	if (found && found->version == f->resume.version)
		which = tun_sess_check_proof(found, f->resume.bind, f->resume.proof);
	if (which < 0) {
		/* Name the session's user: a failure may be an attack on it. */
		log_notice("tunnel: %s%s%s: %s", tun_link_peer_str(k, peer, sizeof(peer)),
			   found ? " user " : "", found ? found->user : "",
			   tun_reason_str(TUN_R_RESUME_FAILED));
		remote_fail(k, TUN_R_RESUME_FAILED);
		return;
	}
	s = found;
	if (s->link)
		tun_sess_detach(s, "replaced by a resumption");
	loop_timer_disarm(s->expire_timer);
	tun_sess_rekey(s, which, f->resume.new_key);
	k->stream = f->resume.stream;
	k->version = f->resume.version;
	tun_link_attach(k, s);
	log_notice("tunnel: %s: user %s resumed its session (%s, peer process)",
		   tun_link_peer_str(k, peer, sizeof(peer)), s->user, k->stream ? "TLS" : "DTLS");
	remote_send_ok(k, s, true);
	tun_rel_path_reset(s->rel, loop_now_us());
	tun_sess_arm(s);
}

/* ms: a MSG's or MSGS's messages, decoded with the frame (tun_link_decode_msgs). */
static void remote_on_frame(struct tun_link *k, const struct tun_link_frame *f,
			    const struct tun_msg *ms)
{
	struct tun_session *s = k->s;
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
		/* Checked and decoded with the frame: the struct form for the session. */
		tun_sess_on_msg(s, &ms[0]);
		return;
	case TUN_LF_MSGS_UP: {
		unsigned i;

		/* Each checked and decoded with the frame; in order, while the link lasts. */
		for (i = 0; i < f->msgs.count && !k->dead && k->s == s; i++)
			tun_sess_on_msg(s, &ms[i]);
		return;
	}
	case TUN_LF_DOWN:
		log_info("tunnel: peer link %s user %s: channel down (%s)",
			 tun_link_peer_str(k, peer, sizeof(peer)), s->user,
			 tun_reason_str(f->reason.reason));
		remote_close(k, 0);
		tun_sess_link_lost(s, f->reason.reason);
		return;
	default:
		remote_lost(k, LOG_NOTICE, "ATTACH or RESUME on an attached link");
		return;
	}
}

/*
 * Up to max frames that wait on the link, read several per system call
 * (tun_lkio_recv_some); a short read ends it: nothing more waited.
 */
static void remote_read(struct tun_link *k, int max)
{
	struct tun_msg ms[TUN_LINK_MSGS_MAX];
	struct lk_rx rx;
	struct tun_link_frame f;
	ssize_t n;
	int i = 0, j, got, ret;

	while (i < max && !k->dead) {
		got = tun_lkio_recv_some(&k->io, &rx);
		if (got == 0)
			return;
		if (got < 0) {
			remote_lost(k, LOG_INFO, strerror(-got));
			return;
		}
		for (j = 0; j < got; j++, i++) {
			n = rx.len[j];
			if (k->dead) {
				/* Unread, but resume keys and proofs are wiped. */
			} else if (n == -EPIPE) {
				remote_lost(k, LOG_INFO, "peer process gone");
			} else if (n < 0) {
				remote_lost(k, LOG_NOTICE, "oversized frame");
			} else if ((ret = tun_link_decode_msgs(&f, rx.b[j], (size_t)n,
							       TUN_LINK_TO_CORE, ms)) < 0) {
				char why[80];

				snprintf(why, sizeof(why), "malformed frame (type 0x%02x: %s)",
					 rx.b[j][0], strerror(-ret));
				remote_lost(k, LOG_NOTICE, why);
			} else {
				remote_on_frame(k, &f, ms);
				/* Resume keys and proofs pass through here. */
				secmem_wipe(&f, sizeof(f));
			}
			secmem_wipe(rx.b[j], n > 0 ? (size_t)n : sizeof(rx.b[j]));
		}
		/* A batch cut short by a bad frame may hold frames the kernel
		 * read after it, never handed out: wiped too. */
		if (k->dead) {
			secmem_wipe(&rx, sizeof(rx));
			return;
		}
		if (got < TUN_LKIO_RX_BATCH)
			return;
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
	if ((events & EPOLLOUT) && tun_lkio_flush(&k->io) < 0) {
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
		tun_remote_release(k);
		return;
	}
	if (k->broken) {
		remote_drain_then_lost(k, "peer process not reading, or gone");
		return;
	}
	if (k->state == L_LINK) {
		log_notice("tunnel: peer link %s: no ATTACH or RESUME in time",
			   tun_link_peer_str(k, peer, sizeof(peer)));
		remote_fail(k, TUN_R_TIMEOUT);
	}
}

int tun_server_add_link(struct tun_server *srv, int fd,
			const struct tun_link_label *label)
{
	struct tun_link *k;
	int ret;

	if (!srv || !srv->core || fd < 0 || !tun_lkio_fd_ok(fd)) {
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
	k->ops = &tun_remote_link_ops;
	k->state = L_LINK;
	tun_lkio_init(&k->io, srv->l);
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
	k->io.batch = true;	/* the core's seccomp filter has sendmmsg */
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
