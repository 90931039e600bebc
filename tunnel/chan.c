/* SPDX-License-Identifier: MIT */
/*
 * Secure channels: GnuTLS sessions driven by lib/loop.h without blocking,
 * over our own push/pull functions (a per-peer datagram queue for the DTLS
 * listener, the socket otherwise), and the checks every handshake must pass
 * before a single tunnel message is read or written.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/x509.h>

#include "chan.h"
#include "cookie.h"
#include "front.h"
#include "hex.h"
#include "log.h"

/*
 * AEAD ciphers with ECDHE only (no RSA key transport, no CBC, no SHA-1
 * signatures): forward secrecy and no padding oracles. DTLS 1.2 over UDP;
 * TLS 1.3 or 1.2 over TCP. The extended master secret (RFC 7627) is
 * checked after the handshake: GnuTLS 3.7 negotiates it by default but
 * has no priority keyword that refuses a peer without it.
 */
#define TUN_PRIO_COMMON \
	":-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305" \
	":-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA" \
	":-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1"
#define TUN_PRIO_DGRAM	"NORMAL:-VERS-ALL:+VERS-DTLS1.2" TUN_PRIO_COMMON
#define TUN_PRIO_STREAM	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" TUN_PRIO_COMMON

/* Largest DTLS record plaintext we accept to read (RFC 6347 4.1). */
#define TUN_RECORD_MAX	16384
#define TUN_STREAM_INBUF	(2 * TUN_MSG_MAX)

int tun_creds_new(struct tun_creds **out, bool server, const char *ca_file,
		  const char *cert_file, const char *key_file)
{
	struct tun_creds *cr;
	const char *where = NULL;
	int ret;

	*out = NULL;
	/* A server without either: its owner sets the key (creds.c). */
	if (!ca_file || (!cert_file) != (!key_file))
		return -EINVAL;
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	cr->server = server;
	cr->refs = 1;
	ret = gnutls_certificate_allocate_credentials(&cr->cred);
	if (ret < 0) {
		cr->cred = NULL;
		goto fail;
	}
	/* The pinned CA: the only trust anchor, never the system store. */
	ret = gnutls_certificate_set_x509_trust_file(cr->cred, ca_file,
						     GNUTLS_X509_FMT_PEM);
	if (ret <= 0) {
		where = ca_file;
		ret = ret == 0 ? GNUTLS_E_NO_CERTIFICATE_FOUND : ret;
		goto fail;
	}
	if (cert_file) {
		ret = gnutls_certificate_set_x509_key_file(cr->cred, cert_file,
							   key_file,
							   GNUTLS_X509_FMT_PEM);
		if (ret < 0) {
			where = cert_file;
			goto fail;
		}
	}
	ret = gnutls_priority_init(&cr->prio_dgram, TUN_PRIO_DGRAM, NULL);
	if (ret < 0) {
		cr->prio_dgram = NULL;
		goto fail;
	}
	ret = gnutls_priority_init(&cr->prio_stream, TUN_PRIO_STREAM, NULL);
	if (ret < 0) {
		cr->prio_stream = NULL;
		goto fail;
	}
	*out = cr;
	return 0;
fail:
	log_err("tunnel: credentials%s%s: %s", where ? " " : "",
		where ? where : "", gnutls_strerror(ret));
	tun_creds_free(cr);
	return -EINVAL;
}

void tun_creds_free(struct tun_creds *cr)
{
	if (!cr || --cr->refs > 0)
		return;
	if (cr->prio_dgram)
		gnutls_priority_deinit(cr->prio_dgram);
	if (cr->prio_stream)
		gnutls_priority_deinit(cr->prio_stream);
	if (cr->cred)
		gnutls_certificate_free_credentials(cr->cred);
	free(cr);
}

const char *tun_addr_str(const void *addr, size_t alen, char *buf, size_t cap)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (!alen || getnameinfo(addr, (socklen_t)alen, host, sizeof(host), serv,
				 sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, cap, "?");
	else
		snprintf(buf, cap, "[%s]:%s", host, serv);
	return buf;
}

const char *tun_chan_peer_str(const struct tun_chan *ch, char *buf, size_t cap)
{
	if (ch->via[0] && cap) {
		/* Cut to the caller's buffer (a log's name, like the address). */
		size_t n = strnlen(ch->via, sizeof(ch->via));

		if (n >= cap)
			n = cap - 1;
		memcpy(buf, ch->via, n);
		buf[n] = '\0';
		return buf;
	}
	return tun_addr_str(&ch->addr, ch->alen, buf, cap);
}

/* ---- transport functions ---- */

/*
 * UDP sends never fail a GnuTLS call: a datagram the kernel will not take
 * now is a lost datagram, which DTLS handshakes and the reliability layer
 * recover from like any other loss.
 */
static ssize_t dgram_srv_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct tun_chan *ch = p;

	if (sendto(ch->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&ch->addr, ch->alen) < 0)
		log_debug("tunnel: sendto: %s", strerror(errno));
	return (ssize_t)len;
}

/*
 * GnuTLS reads only datagrams of whole records (cookie.h,
 * tun_dtls_records_whole); any other is dropped here, as if lost.
 * GnuTLS 3.7 cuts a DTLS record by its header's length before the
 * record's MAC can tell that the length was damaged. A length running
 * past the datagram's end makes it wait for "the rest" and take the next
 * datagrams, sound ones, as that rest until the length is reached (a
 * flipped bit 13: 8 KiB, a hundred small datagrams), then drop them all
 * with the damaged record; a length cut short leaves the datagram's tail
 * to be read as the next header, to the same effect. Retransmissions
 * vanish the same way, so a quiet session (a few datagrams a second)
 * went deaf one way for 20 s and more while datagrams kept arriving: the
 * echo stall through a relay that flips bits (doc/relay.md).
 */
static struct pkt *dgram_pop_whole(struct tun_chan *ch)
{
	struct pkt *d;

	while ((d = pktq_pop(&ch->inq)) && !tun_dtls_records_whole(d->data, d->len))
		pkt_free(d);
	return d;
}

static ssize_t dgram_srv_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tun_chan *ch = p;
	struct pkt *d = dgram_pop_whole(ch);
	size_t n;

	if (!d) {
		gnutls_transport_set_errno(ch->gs, EAGAIN);
		return -1;
	}
	/* Never more than the caller's buffer (a longer one is cut and
	 * then fails its record MAC, as an oversized datagram should). */
	n = d->len < len ? d->len : len;
	memcpy(data, d->data, n);
	pkt_free(d);
	return (ssize_t)n;
}

static int dgram_srv_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tun_chan *ch = p;

	return pktq_is_empty(&ch->inq) ? 0 : 1;
}

static ssize_t dgram_cli_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct tun_chan *ch = p;

	if (send(ch->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("tunnel: send: %s", strerror(errno));
	return (ssize_t)len;
}

/* Datagrams a peer process's channel reads with one system call. */
#define CHAN_RX_BATCH	8

struct tun_chan_rx {
	uint8_t b[CHAN_RX_BATCH][TUN_DGRAM_MAX + 1];
	size_t len[CHAN_RX_BATCH];
	unsigned n, next;
	bool drained;		/* the last batch was short: the socket had no more */
};

static bool chan_rx_held(const struct tun_chan *ch)
{
	return ch->rx && ch->rx->next < ch->rx->n;
}

/*
 * One datagram, as recv(2) gives it. A peer process's channel, once up,
 * reads up to CHAN_RX_BATCH with one recvmmsg(2) and hands them out one
 * at a time; after a short batch it says EAGAIN without asking the
 * kernel again until the next chan_read (which clears `drained`): one
 * system call per wake-up for a lone datagram, not two (one that arrives
 * meanwhile leaves the socket readable, and the loop comes back).
 * Longer datagrams than TUN_DGRAM_MAX come truncated, and fail their
 * record's check, as datagrams over our MTU would anyway.
 */
static ssize_t chan_recv(struct tun_chan *ch, void *data, size_t len)
{
	struct mmsghdr mh[CHAN_RX_BATCH];
	struct iovec iov[CHAN_RX_BATCH];
	struct tun_chan_rx *rx = ch->rx;
	size_t n;
	int i, got;

	if (ch->kind == TUN_CHAN_DGRAM_PEER && ch->up && !rx)
		rx = ch->rx = calloc(1, sizeof(*rx));
	if (!rx) {
		ch->rx_calls++;
		return recv(ch->fd, data, len, MSG_DONTWAIT);
	}
	if (rx->next == rx->n) {
		if (rx->drained) {
			errno = EAGAIN;
			return -1;
		}
		for (i = 0; i < CHAN_RX_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = rx->b[i], .iov_len = sizeof(rx->b[i]) };
			mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		got = recvmmsg(ch->fd, mh, CHAN_RX_BATCH, MSG_DONTWAIT, NULL);
		ch->rx_calls++;
		if (got < 0)
			return -1;
		/* A datagram longer than a slot (MSG_TRUNC) is never a whole
		 * one: length 0, which sock_pull drops as it drops a cut one. */
		for (i = 0; i < got; i++)
			rx->len[i] = mh[i].msg_hdr.msg_flags & MSG_TRUNC ? 0 : mh[i].msg_len;
		rx->n = (unsigned)got;
		rx->next = 0;
		rx->drained = got < CHAN_RX_BATCH;
		if (got == 0) {
			errno = EAGAIN;
			return -1;
		}
	}
	n = rx->len[rx->next] < len ? rx->len[rx->next] : len;
	memcpy(data, rx->b[rx->next], n);
	rx->next++;
	return (ssize_t)n;
}

static ssize_t sock_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tun_chan *ch = p;
	ssize_t r;
	int k;

	/* A datagram socket: only whole records (see dgram_pop_whole). */
	for (k = 0; k < TUN_BATCH_MAX; k++) {
		r = chan_recv(ch, data, len);
		if (r < 0 || ch->kind == TUN_CHAN_STREAM ||
		    tun_dtls_records_whole(data, (size_t)r))
			break;
	}
	if (k == TUN_BATCH_MAX) {
		/* The socket stays readable: the loop calls again. */
		gnutls_transport_set_errno(ch->gs, EAGAIN);
		return -1;
	}
	if (r > 0)
		ch->await_first = false;
	if (r < 0) {
		int e = errno;

		/* ICMP port unreachable on a connected UDP socket: the
		 * server is not there yet; the handshake timer retries. */
		if (ch->kind != TUN_CHAN_STREAM && e == ECONNREFUSED)
			e = EAGAIN;
		gnutls_transport_set_errno(ch->gs, e);
		return -1;
	}
	return r;
}

static int sock_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tun_chan *ch = p;
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };

	if (chan_rx_held(ch))
		return 1;
	return poll(&pfd, 1, 0);
}

static void chan_fail(struct tun_chan *ch, int reason);

/*
 * DGRAM_PEER, once up: is this datagram a ClientHello, which GnuTLS
 * would take for a renegotiation? A repeat of the hello that began the
 * session (late in the network) is dropped; a new one is a restarted
 * client, believed only once it returns our cookie (RFC 6347 4.2.1: the
 * socket is connected, but a source address is easily spoofed, and one
 * forged datagram must not end a session).
 */
static bool peer_hello(struct tun_chan *ch, const uint8_t *b, size_t n)
{
	gnutls_dtls_prestate_st pre;
	const uint8_t *rnd;
	char peer[80];

	if (!ch->up || !tun_dtls_is_client_hello(b, n))
		return false;
	rnd = tun_dtls_hello_random(b, n);
	if (rnd && ch->has_random && memcmp(rnd, ch->hello_random, 32) == 0)
		return true;
	if (!ch->cookie) {
		ch->cookie = calloc(1, sizeof(*ch->cookie));
		if (!ch->cookie)
			return true;
		if (tun_cookie_init(ch->cookie, NULL) < 0) {
			free(ch->cookie);
			ch->cookie = NULL;
			return true;
		}
	}
	if (!tun_cookie_valid(ch->cookie, &ch->addr, ch->alen, b, n, &pre)) {
		tun_cookie_send(ch->cookie, ch->fd, &ch->addr, ch->alen, 0, NULL, 0, &pre);
		return true;
	}
	log_info("tunnel: %s: client restarted, session over",
		 tun_chan_peer_str(ch, peer, sizeof(peer)));
	snprintf(ch->why, sizeof(ch->why), "the client restarted");
	chan_fail(ch, TUN_R_PEER_DEAD);
	return true;
}

/* The hand-over's ClientHello first, then the socket. */
static ssize_t dgram_peer_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tun_chan *ch = p;
	ssize_t r;
	int k;

	if (!pktq_is_empty(&ch->inq))
		return dgram_srv_pull(p, data, len);
	for (k = 0; k < TUN_BATCH_MAX && !ch->dead; k++) {
		r = sock_pull(p, data, len);
		if (r < 0 || !peer_hello(ch, data, (size_t)r))
			return r;
	}
	gnutls_transport_set_errno(ch->gs, EAGAIN);
	return -1;
}

static int dgram_peer_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tun_chan *ch = p;

	return pktq_is_empty(&ch->inq) ? sock_pull_timeout(p, ms) : 1;
}

static void stream_flush(struct tun_chan *ch);

/*
 * TCP: GnuTLS's output goes to a bounded queue drained as the socket takes
 * it. A peer that stops reading while we must send would make it grow;
 * past TUN_STREAM_OUT_MAX the channel fails instead.
 */
static ssize_t stream_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct tun_chan *ch = p;

	if (pktq_push(&ch->outq, data, len) < 0) {
		gnutls_transport_set_errno(ch->gs, ENOBUFS);
		return -1;
	}
	stream_flush(ch);
	return (ssize_t)len;
}

/* ---- lifecycle ---- */

static void chan_timer_cb(struct loop_timer *t, void *user);
static void chan_reap_cb(struct loop_timer *t, void *user);
static void chan_fd_cb(struct loop *l, int fd, uint32_t events, void *user);

int tun_chan_new(struct tun_chan **out, struct loop *l, struct tun_creds *cr,
		 enum tun_chan_kind kind, int fd, unsigned handshake_ms,
		 const struct tun_chan_ops *ops, void *user)
{
	struct tun_chan *ch;
	unsigned flags;
	int ret = -ENOMEM;

	*out = NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->l = l;
	ch->creds = cr;
	ch->kind = kind;
	ch->server = cr->server;
	ch->fd = fd;
	ch->ops = ops;
	ch->user = user;
	pktq_init(&ch->inq, TUN_DGRAM_INQ_MAX, 0);
	pktq_init(&ch->outq, 0, TUN_STREAM_OUT_MAX);
	ch->hs_deadline = loop_now_us() + (uint64_t)handshake_ms * 1000;
	ch->timer = loop_timer_new(l, chan_timer_cb, ch);
	ch->reap = loop_timer_new(l, chan_reap_cb, ch);
	if (!ch->timer || !ch->reap)
		goto fail;
	if (kind == TUN_CHAN_STREAM) {
		int one = 1;

		ch->inbuf = malloc(TUN_STREAM_INBUF);
		if (!ch->inbuf)
			goto fail;
		/*
		 * HCI is small request/response records: Nagle's algorithm
		 * would hold one back until the previous is acknowledged,
		 * and delayed ACKs make that tens of milliseconds (the
		 * TLS/TCP rows of doc/performance.md showed ~88 ms).
		 */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	flags = (ch->server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
		GNUTLS_NO_TICKETS;
	if (kind != TUN_CHAN_STREAM)
		flags |= GNUTLS_DATAGRAM;
	ret = gnutls_init(&ch->gs, flags);
	if (ret < 0) {
		ch->gs = NULL;
		ret = -ENOMEM;
		goto fail;
	}
	ret = gnutls_priority_set(ch->gs, kind == TUN_CHAN_STREAM ?
				  cr->prio_stream : cr->prio_dgram);
	if (ret >= 0)
		ret = gnutls_credentials_set(ch->gs, GNUTLS_CRD_CERTIFICATE, cr->cred);
	if (ret < 0) {
		ret = -EINVAL;
		goto fail;
	}
	/*
	 * The handshake authenticates the server only: no client
	 * certificate is requested (GNUTLS_CERT_IGNORE, the default), so a
	 * client's certificate, whose CN is its user's name, never crosses
	 * the network in clear (DTLS 1.2 and TLS 1.2 send it unencrypted).
	 * A certificate login happens inside the channel (CHALLENGE,
	 * CERT_PROOF: tunnel/certlogin.h).
	 */
	if (ch->server)
		gnutls_certificate_server_set_request(ch->gs, GNUTLS_CERT_IGNORE);
	gnutls_transport_set_ptr(ch->gs, ch);
	switch (kind) {
	case TUN_CHAN_DGRAM_SRV:
		gnutls_transport_set_push_function(ch->gs, dgram_srv_push);
		gnutls_transport_set_pull_function(ch->gs, dgram_srv_pull);
		gnutls_transport_set_pull_timeout_function(ch->gs, dgram_srv_pull_timeout);
		break;
	case TUN_CHAN_DGRAM_CLI:
		gnutls_transport_set_push_function(ch->gs, dgram_cli_push);
		gnutls_transport_set_pull_function(ch->gs, sock_pull);
		gnutls_transport_set_pull_timeout_function(ch->gs, sock_pull_timeout);
		break;
	case TUN_CHAN_DGRAM_PEER:
		gnutls_transport_set_push_function(ch->gs, dgram_cli_push);
		gnutls_transport_set_pull_function(ch->gs, dgram_peer_pull);
		gnutls_transport_set_pull_timeout_function(ch->gs, dgram_peer_pull_timeout);
		break;
	case TUN_CHAN_STREAM:
		gnutls_transport_set_push_function(ch->gs, stream_push);
		gnutls_transport_set_pull_function(ch->gs, sock_pull);
		gnutls_transport_set_pull_timeout_function(ch->gs, sock_pull_timeout);
		break;
	}
	if (kind != TUN_CHAN_STREAM) {
		gnutls_dtls_set_mtu(ch->gs, TUN_DTLS_MTU);
		/* First retransmission after 400 ms (RFC 6347 4.2.4.1 says
		 * 1 s; a LAN or even a mobile RTT is far below), the whole
		 * handshake bounded by handshake_ms. */
		gnutls_dtls_set_timeouts(ch->gs, 400, handshake_ms);
	}
	cr->refs++;
	*out = ch;
	return 0;
fail:
	if (ch->gs)
		gnutls_deinit(ch->gs);
	loop_timer_free(ch->timer);
	loop_timer_free(ch->reap);
	free(ch->inbuf);
	free(ch->rx);
	free(ch);
	return ret;
}

static void chan_release(struct tun_chan *ch)
{
	if (ch->gs)
		gnutls_deinit(ch->gs);
	tun_creds_free(ch->creds);
	if (ch->kind != TUN_CHAN_DGRAM_SRV && ch->fd >= 0) {
		loop_del_fd(ch->l, ch->fd);
		close(ch->fd);
	}
	pktq_clear(&ch->inq);
	pktq_clear(&ch->outq);
	if (ch->cookie) {
		tun_cookie_free(ch->cookie);
		free(ch->cookie);
	}
	loop_timer_free(ch->timer);
	loop_timer_free(ch->reap);
	free(ch->inbuf);
	free(ch->rx);
	free(ch);
}

static void chan_reap_cb(struct loop_timer *t, void *user)
{
	struct tun_chan *ch = user;
	if (ch->ops && ch->ops->down)
		ch->ops->down(ch->user, ch, ch->fail_reason);
	chan_release(ch);
}

/* Stop everything now; free (and report, if ops is set) from the loop. */
static void chan_kill(struct tun_chan *ch, bool notify, int reason)
{
	if (ch->dead)
		return;
	ch->dead = true;
	if (ch->unlink)
		ch->unlink(ch);
	ch->unlink = NULL;
	loop_timer_disarm(ch->timer);
	if (ch->kind != TUN_CHAN_DGRAM_SRV && ch->fd >= 0)
		loop_del_fd(ch->l, ch->fd);
	if (!notify)
		ch->ops = NULL;
	ch->fail_reason = reason;
	loop_timer_arm(ch->reap, 0);
}

static void chan_fail(struct tun_chan *ch, int reason)
{
	chan_kill(ch, true, reason);
}

void tun_chan_destroy(struct tun_chan *ch)
{
	if (!ch)
		return;
	tun_chan_close(ch);
	chan_release(ch);
}

void tun_chan_abort(struct tun_chan *ch, int reason)
{
	if (ch)
		chan_fail(ch, reason);
}

void tun_chan_drop(struct tun_chan *ch)
{
	if (ch)
		chan_kill(ch, false, 0);
}

void tun_chan_close(struct tun_chan *ch)
{
	if (!ch || ch->dead)
		return;
	if (ch->up) {
		/* close_notify, once, without waiting for the peer's. */
		gnutls_bye(ch->gs, GNUTLS_SHUT_WR);
		if (ch->kind == TUN_CHAN_STREAM)
			stream_flush(ch);
	}
	chan_kill(ch, false, 0);
}

static void stream_flush(struct tun_chan *ch)
{
	int err;

	if (ch->dead)
		return;
	err = pktq_write(&ch->outq, ch->fd, &ch->out_off, TUN_BATCH_MAX, PKTQ_W_SEND);
	/* ENOTCONN: the TCP connect is still under way; write when it is done. */
	if (err && err != -ENOTCONN) {
		log_debug("tunnel: send: %s", strerror(-err));
		if (!ch->up)
			snprintf(ch->why, sizeof(ch->why), "%s", strerror(-err));
		chan_fail(ch, ch->up ? TUN_R_PEER_DEAD : TUN_R_UNREACHABLE);
		return;
	}
	/* Write interest only while something waits. */
	loop_mod_fd(ch->l, ch->fd, EPOLLIN | (pktq_is_empty(&ch->outq) ? 0 : EPOLLOUT));
}

/* ---- certificates ---- */

/*
 * Returns 0 when the peer may proceed: the client always needs a server
 * certificate chained to the pinned CA with the TLS server purpose (a
 * family member's client certificate from the same CA cannot pose as the
 * BGW); the server asked for no certificate and takes none.
 */
static int chan_check(struct tun_chan *ch, char *why, size_t cap)
{
	gnutls_typed_vdata_st vd = { .type = GNUTLS_DT_KEY_PURPOSE_OID };
	const gnutls_datum_t *peers;
	unsigned int npeers = 0, status = 0;
	gnutls_protocol_t ver = gnutls_protocol_get_version(ch->gs);

	/* The largest message must fit one record under our MTU. */
	if (ch->kind != TUN_CHAN_STREAM &&
	    gnutls_dtls_get_data_mtu(ch->gs) < TUN_MSG_MAX) {
		snprintf(why, cap, "DTLS record payload %u < %u bytes with this cipher",
			 gnutls_dtls_get_data_mtu(ch->gs), (unsigned)TUN_MSG_MAX);
		return TUN_R_HANDSHAKE;
	}
	if ((ver == GNUTLS_DTLS1_2 || ver == GNUTLS_TLS1_2) &&
	    !gnutls_session_ext_master_secret_status(ch->gs)) {
		snprintf(why, cap, "peer did not negotiate the extended master secret (RFC 7627)");
		return TUN_R_HANDSHAKE;
	}
	if (ch->server)
		return 0;
	vd.data = (void *)GNUTLS_KP_TLS_WWW_SERVER;
	peers = gnutls_certificate_get_peers(ch->gs, &npeers);
	if (!peers || npeers == 0) {
		snprintf(why, cap, "server sent no certificate");
		return TUN_R_SERVER_CERT;
	}
	if (gnutls_certificate_verify_peers(ch->gs, &vd, 1, &status) < 0)
		status = GNUTLS_CERT_INVALID;
	if (status) {
		gnutls_datum_t txt = { NULL, 0 };

		gnutls_certificate_verification_status_print(status,
			GNUTLS_CRT_X509, &txt, 0);
		/* GnuTLS's own text repeats ours: in the log only. */
		log_info("tunnel: server certificate: %s",
			 txt.data ? (const char *)txt.data : "rejected");
		gnutls_free(txt.data);
		snprintf(why, cap, "server certificate %s",
			 status & GNUTLS_CERT_EXPIRED ? "expired" :
			 status & GNUTLS_CERT_NOT_ACTIVATED ? "not yet valid" :
			 status & GNUTLS_CERT_REVOKED ? "revoked" :
			 status & GNUTLS_CERT_PURPOSE_MISMATCH ? "is not a server certificate" :
			 status & GNUTLS_CERT_SIGNER_NOT_FOUND ? "not issued by the pinned CA" :
			 "rejected");
		return TUN_R_SERVER_CERT;
	}
	return 0;
}

/* ---- driving ---- */

static void chan_read(struct tun_chan *ch);

/* The handshake's deadline, or the first byte's while none came. */
static uint64_t chan_hs_deadline(const struct tun_chan *ch)
{
	if (ch->await_first && ch->first_deadline < ch->hs_deadline)
		return ch->first_deadline;
	return ch->hs_deadline;
}

static void chan_arm_hs_timer(struct tun_chan *ch)
{
	uint64_t now = loop_now_us(), d, end = chan_hs_deadline(ch);

	if (now >= end) {
		d = 0;
	} else {
		d = end - now;
		if (ch->kind != TUN_CHAN_STREAM) {
			uint64_t r = (uint64_t)gnutls_dtls_get_timeout(ch->gs) * 1000;

			if (r < d)
				d = r;
		}
	}
	loop_timer_arm(ch->timer, d);
}

/*
 * Before ChangeCipherSpec, DTLS handshake records carry no MAC (RFC 6347
 * section 4.2): a bit flipped on the way surfaces as one of these, or
 * as the peer's alert saying it saw one (RFC 5246 section 7.2.2). The
 * Finished exchange covers the whole transcript (section 7.4.9), so a
 * handshake that completes was not damaged and what chan_check finds
 * then is the server's real answer.
 */
static bool chan_hs_transient(gnutls_session_t gs, int err)
{
	switch (err) {
	case GNUTLS_E_DECRYPTION_FAILED:
	case GNUTLS_E_ERROR_IN_FINISHED_PACKET:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNEXPECTED_PACKET:
	case GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET:
	case GNUTLS_E_RECORD_OVERFLOW:
	case GNUTLS_E_PK_SIG_VERIFY_FAILED:
	case GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER:
	case GNUTLS_E_ILLEGAL_PARAMETER:
	case GNUTLS_E_ASN1_DER_ERROR:
	case GNUTLS_E_ASN1_TAG_ERROR:
	case GNUTLS_E_ASN1_DER_OVERFLOW:
	case GNUTLS_E_CERTIFICATE_ERROR:
	case GNUTLS_E_PREMATURE_TERMINATION:
	/*
	 * The client's: the ServerHello names a suite it did not offer.
	 * A server never does (RFC 5246 7.4.1.3; with nothing in common
	 * it refuses with a handshake_failure alert, still a verdict);
	 * a bit flipped on the way does.
	 */
	case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
	/*
	 * The ServerHello's version is not DTLS 1.2, which every bgw
	 * gateway speaks: a flipped bit (fe fd to fe ff is DTLS 1.0). A
	 * server that really speaks another version answers every try
	 * the same, and the last one says so.
	 */
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		return true;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		switch (gnutls_alert_get(gs)) {
		case GNUTLS_A_BAD_RECORD_MAC:
		case GNUTLS_A_DECRYPT_ERROR:
		case GNUTLS_A_DECODE_ERROR:
		case GNUTLS_A_ILLEGAL_PARAMETER:
		case GNUTLS_A_UNEXPECTED_MESSAGE:
		case GNUTLS_A_RECORD_OVERFLOW:
			return true;
		default:
			return false;
		}
	default:
		return false;
	}
}

static void chan_handshake(struct tun_chan *ch)
{
	char why[256], peer[80];
	int ret, k, r;

	for (k = 0; k < 8; k++) {
		ret = gnutls_handshake(ch->gs);
		if (ret == 0 || ret == GNUTLS_E_AGAIN || gnutls_error_is_fatal(ret))
			break;
	}
	if (ch->dead)
		return;
	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED ||
	    (ret < 0 && !gnutls_error_is_fatal(ret))) {
		chan_arm_hs_timer(ch);
		return;
	}
	if (ret < 0) {
		log_info("tunnel: %s: handshake failed: %s",
			 tun_chan_peer_str(ch, peer, sizeof(peer)), gnutls_strerror(ret));
		snprintf(ch->why, sizeof(ch->why), "TLS handshake failed: %s",
			 gnutls_strerror(ret));
		ch->transient = chan_hs_transient(ch->gs, ret);
		chan_fail(ch, TUN_R_HANDSHAKE);
		return;
	}
	why[0] = '\0';
	r = chan_check(ch, why, sizeof(why));
	if (r) {
		/* A client's owner tells its user; a server logs its peers. */
		log_msg(ch->server ? LOG_NOTICE : LOG_INFO, "tunnel: %s: %s",
			tun_chan_peer_str(ch, peer, sizeof(peer)), why);
		snprintf(ch->why, sizeof(ch->why), "%s", why);
		chan_fail(ch, r);
		return;
	}
	ch->up = true;
	loop_timer_disarm(ch->timer);
	ch->ops->up(ch->user, ch);
	if (!ch->dead)
		chan_read(ch);
}

/* Every message of one DTLS record, or of the TLS stream so far. */
static int chan_parse(struct tun_chan *ch, const uint8_t *b, size_t n, size_t *used)
{
	size_t off = 0, u;
	struct tun_msg m;
	int ret;

	while (off < n && !ch->dead) {
		if (ch->kind == TUN_CHAN_STREAM) {
			long need = tun_msg_need(b + off, n - off);

			if (need < 0)
				return (int)need;
			if (need > 0)
				break;
		}
		ret = tun_msg_decode(&m, b + off, n - off, &u);
		if (ret < 0)
			return ret;
		off += u;
		ch->ops->msg(ch->user, ch, &m);
	}
	*used = off;
	return 0;
}

static void chan_read(struct tun_chan *ch)
{
	uint8_t rec[TUN_RECORD_MAX + 1];
	char peer[80];
	size_t used;
	ssize_t n;
	int k, ret;

	/* What the socket holds is asked for again (chan_recv). */
	if (ch->rx)
		ch->rx->drained = false;
	for (k = 0; k < TUN_BATCH_MAX && !ch->dead; k++) {
		if (ch->kind == TUN_CHAN_STREAM)
			n = gnutls_record_recv(ch->gs, ch->inbuf + ch->inlen,
					       TUN_STREAM_INBUF - ch->inlen);
		else
			n = gnutls_record_recv(ch->gs, rec, sizeof(rec));
		if (ch->dead)
			return;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			break;	/* datagrams read ahead may remain: see below */
		if (n == 0) {
			/*
			 * close_notify: the peer ended the session on
			 * purpose (it is sent only then, never when a
			 * channel is merely replaced; tun_chan_drop()).
			 */
			snprintf(ch->why, sizeof(ch->why), "the peer closed the session");
			chan_fail(ch, TUN_R_SHUTDOWN);
			return;
		}
		if (n == GNUTLS_E_REHANDSHAKE) {
			/* Renegotiation is never used by this protocol. */
			log_info("tunnel: %s: renegotiation refused",
				 tun_chan_peer_str(ch, peer, sizeof(peer)));
			chan_fail(ch, TUN_R_PROTOCOL);
			return;
		}
		if (n < 0) {
			if (!gnutls_error_is_fatal((int)n))
				continue;
			log_info("tunnel: %s: %s", tun_chan_peer_str(ch, peer, sizeof(peer)),
				 gnutls_strerror((int)n));
			chan_fail(ch, TUN_R_PEER_DEAD);
			return;
		}
		ch->rx_records++;
		if (ch->kind == TUN_CHAN_STREAM) {
			ch->inlen += (size_t)n;
			ret = chan_parse(ch, ch->inbuf, ch->inlen, &used);
			if (ret == 0 && !ch->dead) {
				memmove(ch->inbuf, ch->inbuf + used, ch->inlen - used);
				ch->inlen -= used;
			}
		} else {
			ret = chan_parse(ch, rec, (size_t)n, &used);
		}
		if (ret < 0 && !ch->dead) {
			struct tun_msg e;

			log_notice("tunnel: %s: malformed message (%s)",
				   tun_chan_peer_str(ch, peer, sizeof(peer)), strerror(-ret));
			/*
			 * The channel is sound, its content is not: say why
			 * before closing (version 1 framing: the peer's
			 * version may be unknown here; ERROR's layout is
			 * the same in every version).
			 */
			memset(&e, 0, sizeof(e));
			e.version = TUN_HELLO_VERSION;
			e.type = TUN_MSG_ERROR;
			e.close.code = TUN_R_PROTOCOL;
			snprintf(e.close.text, sizeof(e.close.text), "malformed message");
			tun_chan_send(ch, &e);
			snprintf(ch->why, sizeof(ch->why), "malformed message from the peer");
			chan_fail(ch, TUN_R_PROTOCOL);
			return;
		}
	}
	/*
	 * Records GnuTLS already holds, and datagrams read ahead
	 * (chan_recv), raise no event: come back soon.
	 */
	if (!ch->dead && (k == TUN_BATCH_MAX || gnutls_record_check_pending(ch->gs) ||
			  chan_rx_held(ch)))
		loop_timer_arm(ch->timer, 0);
}

void tun_chan_input(struct tun_chan *ch)
{
	if (ch->dead)
		return;
	if (!ch->up)
		chan_handshake(ch);
	else
		chan_read(ch);
}

static void chan_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_chan *ch = user;
	char peer[80];

	if (ch->dead)
		return;
	if (ch->up) {
		chan_read(ch);
		return;
	}
	if (loop_now_us() >= chan_hs_deadline(ch)) {
		log_info("tunnel: %s: handshake timed out%s",
			 tun_chan_peer_str(ch, peer, sizeof(peer)),
			 ch->await_first ? " (nothing received)" : "");
		chan_fail(ch, TUN_R_TIMEOUT);
		return;
	}
	chan_handshake(ch);
}

static void chan_fd_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_chan *ch = user;

	if (ch->dead)
		return;
	if (events & EPOLLOUT)
		stream_flush(ch);
	if (!ch->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		tun_chan_input(ch);
	/* An error with nothing to read: the socket is gone. */
	if (!ch->dead && (events & EPOLLERR) && ch->kind == TUN_CHAN_STREAM) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err) {
			/* Before the handshake: the connection itself failed
			 * ("Connection refused"), which the client's user is told. */
			if (!ch->up)
				snprintf(ch->why, sizeof(ch->why), "%s", strerror(err));
			chan_fail(ch, ch->up ? TUN_R_PEER_DEAD : TUN_R_UNREACHABLE);
		}
	}
}

int tun_chan_start(struct tun_chan *ch)
{
	int ret;

	if (ch->kind != TUN_CHAN_DGRAM_SRV) {
		ret = loop_add_fd(ch->l, ch->fd, EPOLLIN, chan_fd_cb, ch);
		if (ret < 0)
			return ret;
	}
	if (ch->kind == TUN_CHAN_STREAM && !ch->server)
		loop_mod_fd(ch->l, ch->fd, EPOLLIN | EPOLLOUT);	/* connecting */
	chan_handshake(ch);
	if (!ch->dead && !ch->up && !loop_timer_is_armed(ch->timer))
		chan_arm_hs_timer(ch);
	return 0;
}

int tun_chan_new_peer(struct tun_chan **out, struct loop *l, struct tun_creds *cr,
		      struct tun_front_peer *p, unsigned handshake_ms,
		      const struct tun_chan_ops *ops, void *user)
{
	struct tun_chan *ch;
	const uint8_t *rnd;
	int fd = p->fd, ret;

	*out = NULL;
	p->fd = -1;
	if (fd < 0)
		return -EBADF;
	if (!cr->server || p->alen == 0 || p->alen > sizeof(p->addr) ||
	    (p->dgram && (p->first_len == 0 || p->first_len > sizeof(p->first)))) {
		close(fd);
		return -EINVAL;
	}
	ret = tun_chan_new(&ch, l, cr, p->dgram ? TUN_CHAN_DGRAM_PEER : TUN_CHAN_STREAM,
			   fd, handshake_ms, ops, user);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	memcpy(&ch->addr, &p->addr, p->alen);
	ch->alen = p->alen;
	if (p->dgram) {
		rnd = tun_dtls_hello_random(p->first, p->first_len);
		if (rnd) {
			memcpy(ch->hello_random, rnd, sizeof(ch->hello_random));
			ch->has_random = true;
		}
		/* The cookie exchange's sequence numbers (RFC 6347 4.2.1). */
		gnutls_dtls_prestate_set(ch->gs, &p->pre);
		if (pktq_push(&ch->inq, p->first, p->first_len) < 0) {
			ch->ops = NULL;
			tun_chan_close(ch);
			return -ENOMEM;
		}
	} else if (p->first_ms) {
		ch->await_first = true;
		ch->first_deadline = loop_now_us() + (uint64_t)p->first_ms * 1000;
	}
	/* As for a client: the owner may see ops->up inside the start. */
	*out = ch;
	ret = tun_chan_start(ch);
	if (ret < 0) {
		*out = NULL;
		ch->ops = NULL;
		tun_chan_close(ch);
		return ret;
	}
	return 0;
}

int tun_chan_send_raw(struct tun_chan *ch, const uint8_t *buf, size_t len)
{
	ssize_t r;

	if (!ch || ch->dead || !ch->up)
		return -ENOTCONN;
	r = gnutls_record_send(ch->gs, buf, len);
	if (r < 0 && gnutls_error_is_fatal((int)r)) {
		chan_fail(ch, TUN_R_PEER_DEAD);
		return -EPIPE;
	}
	if (r > 0)
		ch->tx_records++;
	return 0;
}

size_t tun_chan_record_cap(const struct tun_chan *ch)
{
	if (!ch || ch->dead || !ch->up)
		return 0;
	if (ch->kind == TUN_CHAN_STREAM)
		return 4 * TUN_MSG_MAX;
	return gnutls_dtls_get_data_mtu(ch->gs);
}

int tun_chan_send(struct tun_chan *ch, const struct tun_msg *m)
{
	uint8_t buf[TUN_MSG_MAX];
	int n;

	if (!ch || ch->dead || !ch->up)
		return -ENOTCONN;
	n = tun_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	return tun_chan_send_raw(ch, buf, (size_t)n);
}

int tun_chan_export(struct tun_chan *ch, const char *label,
		    const void *ctx, size_t ctx_len, uint8_t *out, size_t len)
{
	if (!ch->up)
		return -ENOTCONN;
	if (gnutls_prf_rfc5705(ch->gs, strlen(label), label, ctx_len, ctx,
			       len, (char *)out) < 0)
		return -EIO;
	return 0;
}
