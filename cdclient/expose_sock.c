/* SPDX-License-Identifier: MIT */
/*
 * H4 over a stream socket (unix:PATH, tcp:127.0.0.1:PORT): the format BlueZ
 * btproxy, Bumble and rootcanal speak. One host at a time: a controller has
 * one host, and a second connection would interleave two hosts' commands,
 * so it is accepted and closed at once, with a log line.
 *
 * The host's byte stream is framed by h4_reader with a cap of CD_PKT_MAX; a
 * framing error means the stream is out of sync, so the host is
 * disconnected (one log line) and may connect again.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "endpoint.h"
#include "expose.h"
#include "hci.h"
#include "log.h"
#include "pktq.h"

#define SOCKX_READ_CHUNK	4096

struct cd_sockx {
	struct loop *loop;
	struct cd_port *port;
	struct cd_endpoint ep;
	char *desc;
	int lfd;
	int cfd;
	bool reading;		/* EPOLLIN armed on cfd */
	bool writing;		/* EPOLLOUT armed on cfd */
	struct h4_reader *rd;
	struct pktq down;	/* to the host */
	size_t head_off;
	/*
	 * Host packets the upstream had no room for. Reading stops while any
	 * wait, so this holds at most one read's worth.
	 */
	struct pktq held;
	uint64_t dropped_no_host;
	uint64_t reports_dropped;	/* discovery reports a slow host lost */
};

static void sockx_drop_host(struct cd_sockx *x, const char *why)
{
	if (x->cfd < 0)
		return;
	log_notice("%s: host disconnected%s%s", x->desc, why ? ": " : "",
		   why ? why : "");
	loop_del_fd(x->loop, x->cfd);
	close(x->cfd);
	x->cfd = -1;
	h4_reader_reset(x->rd);
	pktq_clear(&x->down);
	pktq_clear(&x->held);
	x->head_off = 0;
	/* Disconnected or dead: the links it opened must not outlive it. */
	if (x->port)
		cd_port_host_gone(x->port);
}

static void sockx_arm(struct cd_sockx *x)
{
	bool rd = pktq_is_empty(&x->held);
	bool wr = !pktq_is_empty(&x->down);

	if (x->cfd < 0 || (rd == x->reading && wr == x->writing))
		return;
	if (loop_mod_fd(x->loop, x->cfd, (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0)))
		return;
	x->reading = rd;
	x->writing = wr;
}

static int sockx_flush(struct cd_sockx *x)
{
	int err = pktq_write(&x->down, x->cfd, &x->head_off, 0, PKTQ_W_SEND);

	if (err)
		return err;
	sockx_arm(x);
	return 0;
}

static int sockx_deliver(const uint8_t *h4, size_t len, void *user)
{
	struct cd_sockx *x = user;
	int err;

	if (x->cfd < 0) {
		x->dropped_no_host++;
		return 0;
	}
	/* Discovery reports are lossy by nature: a slow host loses some. */
	if (h4_is_discovery_report(h4, len)) {
		if (pktq_push_soft(&x->down, h4, len) < 0) {
			if (x->reports_dropped++ == 0)
				log_info("%s: the host reads slowly: discovery reports dropped",
					 x->desc);
			return 0;
		}
		err = sockx_flush(x);
		if (err)
			sockx_drop_host(x, strerror(-err));
		return 0;
	}
	err = pktq_push(&x->down, h4, len);
	if (err) {
		/* Losing a packet would desynchronise the host: drop it whole. */
		sockx_drop_host(x, "it does not read what the controller sends");
		return err;
	}
	err = sockx_flush(x);
	if (err)
		sockx_drop_host(x, strerror(-err));
	return 0;
}

/* Hand a host packet to the hub; 1 if it has to wait for upstream room. */
static int sockx_up(struct cd_sockx *x, const uint8_t *p, size_t len)
{
	int err = cd_port_send(x->port, p, len);

	if (err == -ENOBUFS)
		return 1;
	if (err == -ENOTCONN)
		log_debug("%s: upstream down, data packet discarded", x->desc);
	/* -EPERM, -EINVAL: refused and logged by the hub; the stream goes on. */
	return 0;
}

static int sockx_on_pkt(const struct h4_pkt *pkt, void *user)
{
	struct cd_sockx *x = user;

	if (!pktq_is_empty(&x->held) || sockx_up(x, pkt->raw, pkt->raw_len))
		return pktq_push_force(&x->held, pkt->raw, pkt->raw_len);
	/* A local reply may have found the host gone: stop feeding then. */
	return x->cfd < 0 ? -ECANCELED : 0;
}

static void sockx_resume(void *user)
{
	struct cd_sockx *x = user;
	struct pkt *p;

	while ((p = pktq_pop(&x->held))) {
		if (sockx_up(x, p->data, p->len)) {
			pktq_requeue(&x->held, p);
			break;
		}
		pkt_free(p);
	}
	sockx_arm(x);
}

static void sockx_on_host(struct loop *l, int fd, uint32_t events, void *user)
{
	struct cd_sockx *x = user;
	uint8_t buf[SOCKX_READ_CHUNK];
	ssize_t n;
	int err;

	if (events & EPOLLOUT) {
		err = sockx_flush(x);
		if (err) {
			sockx_drop_host(x, strerror(-err));
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || !x->reading)
		return;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			sockx_drop_host(x, strerror(errno));
		return;
	}
	if (n == 0) {
		sockx_drop_host(x, NULL);
		return;
	}
	err = h4_reader_feed(x->rd, buf, (size_t)n, sockx_on_pkt, x);
	if (err == -ECANCELED)
		return;
	if (err == -ENOMEM) {
		sockx_drop_host(x, "out of memory");
		return;
	}
	if (err < 0) {
		log_warn("%s: malformed H4 stream from the host: %s", x->desc,
			 h4_strerror(err));
		sockx_drop_host(x, "stream out of sync");
		return;
	}
	sockx_arm(x);
}

static void sockx_on_listen(struct loop *l, int fd, uint32_t events, void *user)
{
	struct cd_sockx *x = user;
	int c;

	c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("%s: accept: %s", x->desc, strerror(errno));
		return;
	}
	if (x->cfd >= 0) {
		log_warn("%s: refused a second host: one host at a time", x->desc);
		close(c);
		return;
	}
	if (loop_add_fd(l, c, EPOLLIN, sockx_on_host, x)) {
		close(c);
		return;
	}
	x->cfd = c;
	x->reading = true;
	x->writing = false;
	log_notice("%s: host connected", x->desc);
}

static const struct cd_port_ops sockx_ops = {
	.deliver = sockx_deliver,
	.resume = sockx_resume,
};

int cd_sockx_open(struct cd_sockx **out, struct loop *l, struct cd_hub *h,
		  const char *spec)
{
	struct cd_sockx *x;
	int err;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->lfd = -1;
	x->cfd = -1;
	x->loop = l;
	pktq_init(&x->down, CD_EXPOSE_QUEUE_PKTS, CD_EXPOSE_QUEUE_BYTES);
	pktq_init(&x->held, 0, 0);
	err = cd_endpoint_parse(spec, &x->ep);
	if (err)
		goto fail;
	err = -ENOMEM;
	x->desc = strdup(spec);
	x->rd = h4_reader_new(CD_PKT_MAX);
	if (!x->desc || !x->rd)
		goto fail;
	err = cd_endpoint_listen(&x->ep);
	if (err < 0)
		goto fail;
	x->lfd = err;
	err = loop_add_fd(l, x->lfd, EPOLLIN, sockx_on_listen, x);
	if (err)
		goto fail;
	x->port = cd_hub_attach(h, spec, &sockx_ops, x);
	if (!x->port) {
		err = -ENOMEM;
		goto fail;
	}
	log_notice("%s: waiting for a host", spec);
	*out = x;
	return 0;

fail:
	cd_sockx_close(x);
	return err;
}

void cd_sockx_close(struct cd_sockx *x)
{
	if (!x)
		return;
	cd_port_detach(x->port);
	x->port = NULL;
	sockx_drop_host(x, "shutting down");
	if (x->lfd >= 0) {
		loop_del_fd(x->loop, x->lfd);
		close(x->lfd);
		if (x->ep.is_unix)
			unlink(x->ep.path);
	}
	h4_reader_free(x->rd);
	pktq_clear(&x->down);
	pktq_clear(&x->held);
	free(x->desc);
	free(x);
}
