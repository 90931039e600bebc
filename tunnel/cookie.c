/* SPDX-License-Identifier: MIT */
/*
 * Stateless DTLS cookies (RFC 6347 4.2.1), shared by the DTLS listener
 * (dtls.c), bgw-muxd's front (front.c) and a peer process's channel
 * (chan.c): a ClientHello from an unknown address gets no state unless it
 * carries a cookie made from our key and its address; otherwise it is
 * answered with a HelloVerifyRequest, smaller than the hello.
 *
 * Below chan.c: it depends on GnuTLS and lib/ only, so chan.c, dtls.c and
 * front.c all call down into it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>
#include <gnutls/dtls.h>

#include "cookie.h"
#include "log.h"
#include "secmem.h"

/*
 * The cookie key changes every 5 minutes (RFC 6347 4.2.1: the secret
 * SHOULD be changed frequently); cookies made with the previous key stay
 * valid, so a hello crossing a change still succeeds.
 */
#define TUN_COOKIE_ROTATE_US	(300ull * 1000000)

static void key_free(gnutls_datum_t *k)
{
	if (k->data) {
		secmem_wipe(k->data, k->size);
		gnutls_free(k->data);
	}
	k->data = NULL;
	k->size = 0;
}

static void cookie_rotate_cb(struct loop_timer *t, void *user)
{
	struct tun_cookie *c = user;
	gnutls_datum_t next;

	if (gnutls_key_generate(&next, GNUTLS_COOKIE_KEY_SIZE) == 0) {
		key_free(&c->prev);
		c->prev = c->key;
		c->key = next;
	}
	loop_timer_arm(t, TUN_COOKIE_ROTATE_US);
}

int tun_cookie_init(struct tun_cookie *c, struct loop *l)
{
	memset(c, 0, sizeof(*c));
	if (gnutls_key_generate(&c->key, GNUTLS_COOKIE_KEY_SIZE) < 0) {
		c->key.data = NULL;
		return -EIO;
	}
	if (l) {
		c->rotate = loop_timer_new(l, cookie_rotate_cb, c);
		if (!c->rotate) {
			key_free(&c->key);
			return -ENOMEM;
		}
		loop_timer_arm(c->rotate, TUN_COOKIE_ROTATE_US);
	}
	return 0;
}

void tun_cookie_wipe(struct tun_cookie *c)
{
	key_free(&c->key);
	key_free(&c->prev);
}

void tun_cookie_free(struct tun_cookie *c)
{
	tun_cookie_wipe(c);
	loop_timer_free(c->rotate);
	c->rotate = NULL;
}

bool tun_cookie_valid(const struct tun_cookie *c, const struct sockaddr_storage *addr,
		      socklen_t alen, const uint8_t *b, size_t n,
		      gnutls_dtls_prestate_st *pre)
{
	unsigned hsk_seq;
	bool ok;

	memset(pre, 0, sizeof(*pre));
	if (!c->key.data || !tun_dtls_is_client_hello(b, n))
		return false;
	/* GnuTLS takes non-const pointers but only reads them. */
	ok = gnutls_dtls_cookie_verify((gnutls_datum_t *)&c->key, (void *)addr, alen,
				       (void *)b, n, pre) == 0 ||
	     (c->prev.data &&
	      gnutls_dtls_cookie_verify((gnutls_datum_t *)&c->prev, (void *)addr,
					alen, (void *)b, n, pre) == 0);
	/*
	 * Our answer carries the hello's record sequence number (RFC 6347
	 * 4.2.1) and its message_seq: a client that already had a
	 * HelloVerifyRequest (from a key since retired, or from the old
	 * peer process of a restarted client) expects the next server
	 * message under the message_seq of its latest hello, and drops a
	 * HelloVerifyRequest or ServerHello numbered 0 or 1 as old.
	 * GnuTLS fills pre only on success, and then as if message_seq were
	 * 1; the ServerHello goes out as hsk_write_seq + 1.
	 */
	hsk_seq = (unsigned)b[13 + 4] << 8 | b[13 + 5];
	pre->record_seq = b[10];	/* GnuTLS writes back this byte only */
	pre->hsk_read_seq = hsk_seq;
	if (!ok)
		pre->hsk_write_seq = hsk_seq;
	else
		pre->hsk_write_seq = hsk_seq ? hsk_seq - 1 : 0;
	return ok;
}

struct cookie_dst {
	int fd;
	const struct sockaddr_storage *addr;
	socklen_t alen;
	const void *ctl;
	size_t ctl_len;
};

static ssize_t cookie_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	const struct cookie_dst *d = p;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = {
		.msg_name = d->alen ? (void *)d->addr : NULL,
		.msg_namelen = d->alen,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = d->ctl_len ? (void *)d->ctl : NULL,
		.msg_controllen = d->ctl_len,
	};

	if (sendmsg(d->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("tunnel: sendmsg: %s", strerror(errno));
	return (ssize_t)len;
}

void tun_cookie_send(const struct tun_cookie *c, int fd,
		     const struct sockaddr_storage *addr, socklen_t alen,
		     socklen_t send_alen, const void *ctl, size_t ctl_len,
		     gnutls_dtls_prestate_st *pre)
{
	struct cookie_dst dst = { fd, addr, send_alen, ctl, ctl_len };

	if (c->key.data)
		gnutls_dtls_cookie_send((gnutls_datum_t *)&c->key, (void *)addr, alen,
					pre, &dst, cookie_push);
}

struct cookie_buf {
	uint8_t *out;
	size_t cap;
	size_t len;
};

static ssize_t cookie_push_buf(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct cookie_buf *b = p;

	/* One HelloVerifyRequest record (about 60 bytes); never cut. */
	if (b->len == 0 && len <= b->cap) {
		memcpy(b->out, data, len);
		b->len = len;
	}
	return (ssize_t)len;
}

size_t tun_cookie_make(const struct tun_cookie *c, const struct sockaddr_storage *addr,
		       socklen_t alen, gnutls_dtls_prestate_st *pre, uint8_t *out, size_t cap)
{
	struct cookie_buf b = { out, cap, 0 };

	if (c->key.data)
		gnutls_dtls_cookie_send((gnutls_datum_t *)&c->key, (void *)addr, alen,
					pre, &b, cookie_push_buf);
	return b.len;
}

/* A DTLS record header (RFC 6347 4.1): type, version, epoch, sequence, length. */
#define TUN_DTLS_HDR_LEN	13

/*
 * RFC 6347 4.1.1: a record never spans datagrams; several may share one.
 * So the headers' lengths cut a sound datagram exactly; any other was
 * damaged on the way (or forged). It goes whole: a length is checked
 * only by its record's MAC, after the datagram was cut by it, so no
 * record after a wrong one starts where the lengths say.
 */
bool tun_dtls_records_whole(const uint8_t *b, size_t n)
{
	size_t off = 0;

	if (n == 0)
		return false;
	while (off < n) {
		if (n - off < TUN_DTLS_HDR_LEN)
			return false;
		off += TUN_DTLS_HDR_LEN + ((size_t)b[off + 11] << 8 | b[off + 12]);
	}
	return off == n;
}

/*
 * A DTLS record (RFC 6347 4.1: type, version, epoch, sequence, length)
 * holding a ClientHello (handshake type 1) in epoch 0.
 */
bool tun_dtls_is_client_hello(const uint8_t *b, size_t n)
{
	return n >= 13 + 12 && b[0] == 22 && b[1] == 0xfe &&
	       b[3] == 0 && b[4] == 0 && b[13] == 1;
}

/*
 * The ClientHello's random (RFC 6347 4.2.2 and RFC 5246 7.4.1.2: after
 * the record header, the handshake header and client_version), when this
 * record holds the start of the hello. A retransmitted hello repeats it;
 * a restarted client has a new one.
 */
const uint8_t *tun_dtls_hello_random(const uint8_t *b, size_t n)
{
	if (!tun_dtls_is_client_hello(b, n) || n < 13 + 12 + 2 + 32)
		return NULL;
	/* fragment_offset (handshake header bytes 6..8) must be 0 */
	if (b[13 + 6] || b[13 + 7] || b[13 + 8])
		return NULL;
	return b + 13 + 12 + 2;
}
