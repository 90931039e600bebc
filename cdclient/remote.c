/* SPDX-License-Identifier: MIT */
/*
 * Stream upstream: plain H4 over a unix or TCP stream socket, with
 * reconnection. The byte stream from the controller is framed by
 * h4_reader with a cap of CD_PKT_MAX; a framing error or a packet type a
 * controller never sends (a command, Core Vol 4 Part E 5.4) means the
 * stream is out of sync or the peer is not a controller, so the connection
 * is dropped and re-established rather than guessed at.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "endpoint.h"
#include "log.h"
#include "pktq.h"
#include "remote_int.h"

#define REMOTE_READ_CHUNK	16384

enum remote_state {
	REMOTE_IDLE,		/* not started */
	REMOTE_CONNECTING,
	REMOTE_UP,
	REMOTE_BACKOFF,		/* waiting before the next attempt */
};

struct stream_remote {
	struct cd_remote base;	/* first: the generic part */
	struct loop *loop;
	struct cd_remote_cbs cbs;
	void *user;
	char *desc;
	struct cd_endpoint ep;

	enum remote_state state;
	int fd;
	unsigned int attempt;		/* rotates over resolved addresses */
	uint64_t backoff_us;
	struct loop_timer *timer;	/* connect timeout, or backoff */

	/* The first connection failed: failed() comes from the timer. */
	int first_err;

	struct h4_reader *rd;
	struct pktq q;
	size_t head_off;		/* bytes of the head packet written */
	bool want_drain;
	bool out_armed;

	struct cd_remote_stats st;
};



static void remote_close_fd(struct stream_remote *r)
{
	if (r->fd >= 0) {
		loop_del_fd(r->loop, r->fd);
		close(r->fd);
		r->fd = -1;
	}
	r->out_armed = false;
	h4_reader_reset(r->rd);
	pktq_clear(&r->q);
	r->head_off = 0;
}

/* Drop the connection (if any) and schedule the next attempt. */
static void remote_fail(struct stream_remote *r, int err)
{
	bool was_up = r->state == REMOTE_UP;

	remote_close_fd(r);
	r->state = REMOTE_BACKOFF;
	r->st.up_since_us = 0;
	/*
	 * Never connected yet: the user is waiting to hear whether it works
	 * (bgw-cdclient stays in the foreground until then), so the first
	 * failure is final, unless the caller can wait (cbs.waiting: seamless
	 * mode, whose local side works meanwhile). failed() from the loop: we
	 * may be inside start(); waiting() only reports.
	 */
	if (!r->st.connects && r->cbs.failed && !r->cbs.waiting) {
		r->first_err = err ? err : -EIO;
		loop_timer_arm(r->timer, 0);
		return;
	}
	loop_timer_arm(r->timer, r->backoff_us);
	if (!r->st.connects && r->cbs.waiting) {
		char what[300];

		/* Patient (remote.h): the caller tells the user, we retry. */
		snprintf(what, sizeof(what), "cannot connect to %s: %s", r->desc,
			 strerror(-err));
		r->cbs.waiting(-EHOSTUNREACH, what, "check that the controller's "
			       "server (bgw-muxd's listen, bgw-sim) runs and "
			       "listens there", r->user);
	} else if (was_up)
		log_warn("upstream %s: connection lost: %s; reconnecting in %llu ms",
			 r->desc, strerror(-err),
			 (unsigned long long)(r->backoff_us / 1000));
	else
		log_info("upstream %s: cannot connect: %s; retrying in %llu ms",
			 r->desc, strerror(-err),
			 (unsigned long long)(r->backoff_us / 1000));
	r->backoff_us *= 2;
	if (r->backoff_us > CD_REMOTE_BACKOFF_MAX_US)
		r->backoff_us = CD_REMOTE_BACKOFF_MAX_US;
	if (was_up && r->cbs.down)
		r->cbs.down(err, r->user);
}

static void remote_set_out(struct stream_remote *r, bool on)
{
	if (r->out_armed == on || r->fd < 0)
		return;
	if (loop_mod_fd(r->loop, r->fd, EPOLLIN | (on ? EPOLLOUT : 0)) == 0)
		r->out_armed = on;
}

/* Write what the socket takes; 0 or a negative errno (connection broken). */
static int remote_flush(struct stream_remote *r)
{
	int err = pktq_write(&r->q, r->fd, &r->head_off, 0, PKTQ_W_SEND);

	if (err)
		return err;
	remote_set_out(r, !pktq_is_empty(&r->q));
	if (r->want_drain && r->q.count < CD_REMOTE_QUEUE_PKTS / 2 &&
	    r->q.bytes < CD_REMOTE_QUEUE_BYTES / 2) {
		r->want_drain = false;
		if (r->cbs.drained)
			r->cbs.drained(r->user);
	}
	return 0;
}

static int remote_on_pkt(const struct h4_pkt *pkt, void *user)
{
	struct stream_remote *r = user;

	if (pkt->type == H4_CMD) {
		log_warn("upstream %s: sent a command packet, which only a host "
			 "sends: not a controller", r->desc);
		return -EPROTO;
	}
	r->st.pkts_in++;
	r->st.bytes_in += pkt->raw_len;
	if (r->cbs.packet)
		r->cbs.packet(pkt, r->user);
	/* The callback may have failed the connection (it cannot free us). */
	return r->state == REMOTE_UP ? 0 : -ECANCELED;
}

static void remote_read(struct stream_remote *r)
{
	uint8_t buf[REMOTE_READ_CHUNK];
	ssize_t n;
	int err;

	n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		remote_fail(r, -errno);
		return;
	}
	if (n == 0) {
		remote_fail(r, -ECONNRESET);
		return;
	}
	err = h4_reader_feed(r->rd, buf, (size_t)n, remote_on_pkt, r);
	if (err == -ECANCELED)
		return;
	if (err < 0) {
		if (err != -EPROTO)
			log_warn("upstream %s: bad H4 stream: %s", r->desc,
				 h4_strerror(err));
		remote_fail(r, -EPROTO);
	}
}

static void remote_up(struct stream_remote *r)
{
	loop_timer_disarm(r->timer);
	r->state = REMOTE_UP;
	r->backoff_us = CD_REMOTE_BACKOFF_MIN_US;
	r->st.connects++;
	r->st.up_since_us = cd_remote_realtime_us();
	log_notice("upstream %s: connected", r->desc);
	remote_set_out(r, false);
	if (r->cbs.up)
		r->cbs.up(r->user);
}

static void remote_on_fd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct stream_remote *r = user;
	int err = 0;
	socklen_t len = sizeof(err);

	if (r->state == REMOTE_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			remote_fail(r, -err);
			return;
		}
		remote_up(r);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		remote_read(r);
		if (r->state != REMOTE_UP)
			return;
	}
	if (events & EPOLLOUT) {
		err = remote_flush(r);
		if (err)
			remote_fail(r, err);
	}
}

static void remote_connect(struct stream_remote *r)
{
	bool in_progress;
	int fd, err;

	fd = cd_endpoint_connect(&r->ep, r->attempt++, &in_progress);
	if (fd < 0) {
		remote_fail(r, fd);
		return;
	}
	r->fd = fd;
	r->state = REMOTE_CONNECTING;
	err = loop_add_fd(r->loop, fd, in_progress ? EPOLLOUT : EPOLLIN,
			  remote_on_fd, r);
	if (err) {
		remote_fail(r, err);
		return;
	}
	if (!in_progress) {
		remote_up(r);
		return;
	}
	r->out_armed = true;
	loop_timer_arm(r->timer, CD_REMOTE_CONNECT_TIMEOUT_US);
}

static void remote_on_timer(struct loop_timer *t, void *user)
{
	struct stream_remote *r = user;
	char why[300];

	if (r->first_err) {
		snprintf(why, sizeof(why), "cannot connect to %s: %s; check that "
			 "the controller's server (bgw-muxd's listen, bgw-sim) "
			 "runs and listens there", r->desc, strerror(-r->first_err));
		r->cbs.failed(-EHOSTUNREACH, why, r->user);
		return;
	}
	if (r->state == REMOTE_CONNECTING)
		remote_fail(r, -ETIMEDOUT);
	else if (r->state == REMOTE_BACKOFF)
		remote_connect(r);
}

static int stream_start(struct cd_remote *base)
{
	struct stream_remote *r = (struct stream_remote *)base;

	if (r->state != REMOTE_IDLE)
		return -EALREADY;
	remote_connect(r);
	return 0;
}

static int stream_send(struct cd_remote *base, const uint8_t *h4, size_t len)
{
	struct stream_remote *r = (struct stream_remote *)base;
	int err;

	if (r->state != REMOTE_UP)
		return -ENOTCONN;
	err = pktq_push(&r->q, h4, len);
	if (err == -ENOBUFS)
		r->want_drain = true;
	if (err)
		return err;
	r->st.pkts_out++;
	r->st.bytes_out += len;
	/*
	 * Write at once when nothing is waiting; otherwise EPOLLOUT is armed
	 * and the queue drains in order. A broken socket shows up as EPOLLERR
	 * on the next round, so the caller does not see it here.
	 */
	if (!r->out_armed) {
		err = remote_flush(r);
		if (err)
			remote_set_out(r, true);
	}
	return 0;
}

static bool stream_is_up(const struct cd_remote *base)
{
	return ((const struct stream_remote *)base)->state == REMOTE_UP;
}

static const char *stream_describe(const struct cd_remote *base)
{
	return ((const struct stream_remote *)base)->desc;
}

static const char *stream_user(const struct cd_remote *base)
{
	return NULL;	/* a plain H4 stream carries no login */
}

static void stream_stats(const struct cd_remote *base, struct cd_remote_stats *st)
{
	*st = ((const struct stream_remote *)base)->st;
}

static void stream_free(struct cd_remote *base)
{
	struct stream_remote *r = (struct stream_remote *)base;

	if (r->loop)
		remote_close_fd(r);
	loop_timer_free(r->timer);
	h4_reader_free(r->rd);
	pktq_clear(&r->q);
	free(r->desc);
	free(r);
}

static const struct cd_remote_ops stream_ops = {
	.start = stream_start,
	.send = stream_send,
	.is_up = stream_is_up,
	.describe = stream_describe,
	.user = stream_user,
	.stats = stream_stats,
	.free = stream_free,
};

bool cd_remote_is_stream_spec(const char *spec)
{
	return cd_endpoint_is_spec(spec);
}

int cd_remote_new_stream(struct cd_remote **out, struct loop *l,
			 const char *spec, const struct cd_remote_cbs *cbs,
			 void *user)
{
	struct stream_remote *r;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base.ops = &stream_ops;
	r->fd = -1;
	err = cd_endpoint_parse(spec, &r->ep);
	if (err)
		goto fail;
	err = -ENOMEM;
	r->desc = strdup(spec);
	r->rd = h4_reader_new(CD_PKT_MAX);
	r->timer = loop_timer_new(l, remote_on_timer, r);
	if (!r->desc || !r->rd || !r->timer)
		goto fail;
	r->loop = l;
	r->cbs = *cbs;
	r->user = user;
	r->backoff_us = CD_REMOTE_BACKOFF_MIN_US;
	pktq_init(&r->q, CD_REMOTE_QUEUE_PKTS, CD_REMOTE_QUEUE_BYTES);
	*out = &r->base;
	return 0;

fail:
	stream_free(&r->base);
	return err;
}

/* The generic entry points: dispatch to the upstream's kind. */

uint64_t cd_remote_realtime_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

int cd_remote_start(struct cd_remote *r)
{
	return r->ops->start(r);
}

int cd_remote_send(struct cd_remote *r, const uint8_t *h4, size_t len)
{
	if (!len || len > CD_PKT_MAX)
		return -EMSGSIZE;
	return r->ops->send(r, h4, len);
}

bool cd_remote_is_up(const struct cd_remote *r)
{
	return r && r->ops->is_up(r);
}

const char *cd_remote_describe(const struct cd_remote *r)
{
	return r->ops->describe(r);
}

const char *cd_remote_user(const struct cd_remote *r)
{
	return r->ops->user(r);
}

void cd_remote_get_stats(const struct cd_remote *r, struct cd_remote_stats *st)
{
	memset(st, 0, sizeof(*st));
	r->ops->stats(r, st);
}

void cd_remote_free(struct cd_remote *r)
{
	if (r)
		r->ops->free(r);
}
