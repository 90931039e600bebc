/* SPDX-License-Identifier: MIT */
/*
 * Internal to tunnel/: the stateless DTLS cookie exchange (RFC 6347
 * 4.2.1), the ClientHello fields it reads, and the record framing check
 * every datagram passes before GnuTLS sees it. Used by chan.c, dtls.c and
 * front.c; depends on nothing else in tunnel/.
 */
#ifndef BGW_TUN_COOKIE_H
#define BGW_TUN_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#include "loop.h"

/*
 * Stateless cookies for DTLS ClientHellos (RFC 6347 4.2.1): an HMAC key
 * that changes every 5 minutes when made with a loop (the previous one
 * stays valid so a hello crossing a change succeeds), fixed otherwise.
 */
struct tun_cookie {
	gnutls_datum_t key;
	gnutls_datum_t prev;
	struct loop_timer *rotate;
};

int tun_cookie_init(struct tun_cookie *c, struct loop *l);
/* Wipe the keys (no loop call: usable in a just-forked child). */
void tun_cookie_wipe(struct tun_cookie *c);
void tun_cookie_free(struct tun_cookie *c);
/*
 * Is b a ClientHello carrying a valid cookie for addr? pre is filled
 * either way: the prestate to give the session, or the hello's sequence
 * numbers for the HelloVerifyRequest.
 */
bool tun_cookie_valid(const struct tun_cookie *c, const struct sockaddr_storage *addr,
		      socklen_t alen, const uint8_t *b, size_t n,
		      gnutls_dtls_prestate_st *pre);
/*
 * Answer with a HelloVerifyRequest (smaller than the hello: no
 * amplification). The cookie binds addr/alen; the datagram goes to
 * addr, or on the connected fd when send_alen is 0, with the ancillary
 * data ctl (IP_PKTINFO: the source address) if ctl_len.
 */
void tun_cookie_send(const struct tun_cookie *c, int fd,
		     const struct sockaddr_storage *addr, socklen_t alen,
		     socklen_t send_alen, const void *ctl, size_t ctl_len,
		     gnutls_dtls_prestate_st *pre);
/*
 * The same HelloVerifyRequest written to out (a relayed peer's, which
 * the front wraps for the relay): its length, 0 if it did not fit.
 */
size_t tun_cookie_make(const struct tun_cookie *c, const struct sockaddr_storage *addr,
		       socklen_t alen, gnutls_dtls_prestate_st *pre, uint8_t *out, size_t cap);

/*
 * Does the datagram b hold whole DTLS records end to end, each header's
 * length ending inside it and the last one at its end? Only such a
 * datagram may reach GnuTLS (chan.c says why).
 */
bool tun_dtls_records_whole(const uint8_t *b, size_t n);
/* A DTLS record holding a ClientHello in epoch 0 (only the header is read). */
bool tun_dtls_is_client_hello(const uint8_t *b, size_t n);
/* Its 32-byte random, or NULL when this record does not hold it. */
const uint8_t *tun_dtls_hello_random(const uint8_t *b, size_t n);
#endif /* BGW_TUN_COOKIE_H */
