/* SPDX-License-Identifier: MIT */
/*
 * Link I/O: struct tun_link's operations over a local channel
 * (tun_chan_link_ops; core.c has the peer-process kind), the calls generic
 * code makes through them, and the framed SOCK_SEQPACKET I/O both ends
 * of a peer link use (doc/protocol.md, appendix "the peer link").
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "scram.h"
#include "tunnel_int.h"

void tun_link_unpend(struct tun_link *k)
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
}

void tun_link_free(struct tun_link *k)
{
	if (!k)
		return;
	tun_link_unpend(k);
	scram_server_free(k->scram);
	k->scram = NULL;
	if (k->srv->peer)
		k->srv->peer_side->link_gone(k->srv->peer, k);
	loop_timer_free(k->timer);
	free(k);
}

/* ---- links over a local channel (listener and peer mode) ---- */

static const char *chan_link_peer_str(const struct tun_link *k, char *buf, size_t cap)
{
	if (!k->ch) {
		snprintf(buf, cap, "-");
		return buf;
	}
	return tun_chan_peer_str(k->ch, buf, cap);
}

static bool chan_link_is_stream(const struct tun_link *k)
{
	return k->ch && k->ch->kind == TUN_CHAN_STREAM;
}

static int chan_link_send_msg(struct tun_link *k, const struct tun_msg *m, bool droppable)
{
	(void)droppable;
	return tun_chan_send(k->ch, m);
}

static void chan_link_send_reason(struct tun_link *k, uint8_t version, uint8_t type,
				  int reason, const char *text)
{
	tun_send_reason(k->ch, version, type, reason, text);
}

static void chan_link_close(struct tun_link *k, bool notify)
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
	tun_link_free(k);
}

static void chan_link_shutdown(struct tun_link *k)
{
	chan_link_close(k, true);
}

const struct tun_link_ops tun_chan_link_ops = {
	.send_msg = chan_link_send_msg,
	.tun_send_reason = chan_link_send_reason,
	.close = chan_link_close,
	.shutdown = chan_link_shutdown,
	.peer_str = chan_link_peer_str,
	.is_stream = chan_link_is_stream,
};

/* ---- either kind, through its ops ---- */

const char *tun_link_peer_str(const struct tun_link *k, char *buf, size_t cap)
{
	return k->ops->peer_str(k, buf, cap);
}

bool tun_link_is_stream(const struct tun_link *k)
{
	return k->ops->is_stream(k);
}

int tun_link_send_msg(struct tun_link *k, const struct tun_msg *m, bool droppable)
{
	return k->ops->send_msg(k, m, droppable);
}

void tun_link_send_reason(struct tun_link *k, uint8_t version, uint8_t type,
			  int reason, const char *text)
{
	k->ops->tun_send_reason(k, version, type, reason, text);
}

void tun_link_close(struct tun_link *k, bool notify)
{
	k->ops->close(k, notify);
}

void tun_link_drop(struct tun_link *k)
{
	tun_link_close(k, true);
}

/* Send a login reply and keep it for a repeated request. */
void tun_link_send(struct tun_link *k, const struct tun_msg *m)
{
	int n;

	if (k->nreplay < TUN_REPLAY_MSGS) {
		n = tun_msg_encode(m, k->replay[k->nreplay], TUN_MSG_MAX);
		if (n > 0)
			k->replay_len[k->nreplay++] = (uint16_t)n;
	}
	tun_chan_send(k->ch, m);
}

/* ================= peer links (both ends) ================= */

void tun_lkio_init(struct lk_io *io, struct loop *l)
{
	io->l = l;
	io->fd = -1;
	io->batch = false;
	io->flush_t = NULL;
	io->rx_frames = 0;
	io->rx_calls = 0;
	pktq_init(&io->q, TUN_LINK_Q_FRAMES, TUN_LINK_Q_BYTES);
}

/* Datagrams per sendmmsg(2). */
#define LKIO_BATCH	32
/* A MSGS_DOWN's pieces: its type byte, then a length and a message each. */
#define LKIO_IOV	(1 + 2 * TUN_LINK_MSGS_MAX)

static bool lkio_is_msg_down(const struct pkt *p)
{
	return p && p->len > 1 && p->data[0] == TUN_LF_MSG_DOWN;
}

/*
 * One datagram of the batch from the frames at p: consecutive MSG_DOWN
 * frames become one MSGS_DOWN (doc/protocol.md A.1: the peer then reads
 * them with one recv(2)), gathered from the queue by iovecs, no copy;
 * any other frame goes alone. The number of frames it takes.
 */
static unsigned lkio_gather(struct pkt *p, struct iovec *iov, uint8_t (*lens)[2],
			    size_t *niov)
{
	static const uint8_t msgs_type = TUN_LF_MSGS_DOWN;
	size_t bytes = 1;
	unsigned k = 0;

	if (!lkio_is_msg_down(p) || !lkio_is_msg_down(p->next)) {
		iov[0].iov_base = p->data;
		iov[0].iov_len = p->len;
		*niov = 1;
		return 1;
	}
	iov[0].iov_base = (void *)&msgs_type;
	iov[0].iov_len = 1;
	for (; lkio_is_msg_down(p) && k < TUN_LINK_MSGS_MAX &&
	       bytes + 2 + (p->len - 1) <= TUN_LINK_DGRAM_MAX; p = p->next, k++) {
		lens[k][0] = (uint8_t)((p->len - 1) >> 8);
		lens[k][1] = (uint8_t)(p->len - 1);
		iov[1 + 2 * k].iov_base = lens[k];
		iov[1 + 2 * k].iov_len = 2;
		iov[2 + 2 * k].iov_base = p->data + 1;
		iov[2 + 2 * k].iov_len = p->len - 1;
		bytes += 2 + (p->len - 1);
	}
	*niov = 1 + 2 * (size_t)k;
	return k;
}

/* Write what the socket takes now. 0, or -errno: the socket failed. */
int tun_lkio_flush(struct lk_io *io)
{
	struct mmsghdr mh[LKIO_BATCH];
	struct iovec iov[LKIO_BATCH][LKIO_IOV];
	uint8_t lens[LKIO_BATCH][TUN_LINK_MSGS_MAX][2];
	unsigned frames[LKIO_BATCH];
	struct pkt *p;
	size_t niov;
	int n, i, j;

	if (io->fd < 0)
		return -ENOTCONN;
	if (io->flush_t)
		loop_timer_disarm(io->flush_t);
	while (!io->batch && (p = pktq_peek(&io->q))) {
		if (send(io->fd, p->data, p->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return -errno;
		}
		pkt_free(pktq_pop(&io->q));
	}
	while (io->batch && !pktq_is_empty(&io->q)) {
		for (n = 0, p = pktq_peek(&io->q); p && n < LKIO_BATCH; n++) {
			frames[n] = lkio_gather(p, iov[n], lens[n], &niov);
			for (j = 0; j < (int)frames[n]; j++)
				p = p->next;
			mh[n] = (struct mmsghdr){
				.msg_hdr = { .msg_iov = iov[n], .msg_iovlen = niov },
			};
		}
		i = sendmmsg(io->fd, mh, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (i < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return -errno;
		}
		for (j = 0; j < i; j++)
			while (frames[j]--)
				pkt_free(pktq_pop(&io->q));
		if (i < n)
			break;	/* the socket took only part: full */
	}
	/* Write interest only while something waits (no system call if unchanged). */
	loop_mod_fd(io->l, io->fd, EPOLLIN | (pktq_is_empty(&io->q) ? 0 : EPOLLOUT));
	return 0;
}

/*
 * The end of the loop turn: what it queued, in one sendmmsg. A failed
 * socket is left to the owner's fd callback (write interest), which
 * flushes again, sees the error and handles it as for any send.
 */
static void lkio_flush_cb(struct loop_timer *t, void *user)
{
	struct lk_io *io = user;

	if (io->fd >= 0 && tun_lkio_flush(io) < 0)
		loop_mod_fd(io->l, io->fd, EPOLLIN | EPOLLOUT);
}

/*
 * Send one frame, or queue it behind the others. force: a control frame,
 * queued past the caps (there are a handful per link), sent now behind
 * what waits. With io->batch a data frame waits for the end of the loop
 * turn, so what one turn produces for a link (several hosts' packets,
 * acknowledgements) costs one system call and one wake-up of the
 * process at the other end. 0; -ENOBUFS: the queue is full, the frame is
 * not taken; another -errno: the socket failed.
 */
int tun_lkio_send(struct lk_io *io, const uint8_t *b, size_t len, bool force)
{
	int ret;

	if (io->fd < 0)
		return -ENOTCONN;
	if (io->batch && !force && !io->flush_t)
		io->flush_t = loop_timer_new(io->l, lkio_flush_cb, io);
	if (io->batch && !force && io->flush_t) {
		ret = pktq_push(&io->q, b, len);
		if (ret == -ENOBUFS) {
			/* A full turn's worth: out now, then queue. */
			ret = tun_lkio_flush(io);
			if (ret < 0)
				return ret;
			ret = pktq_push(&io->q, b, len);
		}
		if (ret < 0)
			return ret;
		if (!loop_timer_is_armed(io->flush_t))
			loop_timer_arm(io->flush_t, 0);
		return 0;
	}
	/* A control frame after the turn's data frames, which go first. */
	if (io->batch && !pktq_is_empty(&io->q)) {
		ret = tun_lkio_flush(io);
		if (ret < 0)
			return ret;
	}
	if (pktq_is_empty(&io->q)) {
		if (send(io->fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
	}
	ret = force ? pktq_push_force(&io->q, b, len) : pktq_push(&io->q, b, len);
	if (ret < 0)
		return ret;
	loop_mod_fd(io->l, io->fd, EPOLLIN | EPOLLOUT);
	return 0;
}

/* Frames need their boundaries kept: a stream socket would merge them. */
bool tun_lkio_fd_ok(int fd)
{
	int type = 0;
	socklen_t tl = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
	       type == SOCK_SEQPACKET;
}

void tun_lkio_close(struct lk_io *io)
{
	loop_timer_free(io->flush_t);
	io->flush_t = NULL;
	if (io->fd >= 0) {
		loop_del_fd(io->l, io->fd);
		close(io->fd);
		io->fd = -1;
	}
	pktq_clear(&io->q);
}

/*
 * Up to TUN_LKIO_RX_BATCH frames in one recvmmsg(2): how many (each
 * one's length or error in rx->len), 0 when nothing waits, or -errno.
 * Fewer than the batch means the socket held no more when read, so the
 * caller stops there instead of asking again only to hear EAGAIN: one
 * system call per wake-up for the usual lone frame, not two (a frame
 * that arrives meanwhile leaves the socket readable: the loop comes
 * back).
 */
int tun_lkio_recv_some(struct lk_io *io, struct lk_rx *rx)
{
	struct mmsghdr mh[TUN_LKIO_RX_BATCH];
	struct iovec iov[TUN_LKIO_RX_BATCH];
	int i, n;

	for (i = 0; i < TUN_LKIO_RX_BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = rx->b[i], .iov_len = sizeof(rx->b[i]) };
		mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	/* MSG_TRUNC: msg_len is a longer datagram's real length. */
	n = recvmmsg(io->fd, mh, TUN_LKIO_RX_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
	io->rx_calls++;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		if (mh[i].msg_len == 0) {
			/* A zero-length datagram is no frame: the end, as for recv. */
			rx->len[i] = -EPIPE;
			return i + 1;
		}
		if (mh[i].msg_len >= sizeof(rx->b[i]) || (mh[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			rx->len[i] = -EMSGSIZE;
			return i + 1;
		}
		rx->len[i] = (ssize_t)mh[i].msg_len;
		io->rx_frames++;
	}
	return n;
}
