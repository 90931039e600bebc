/* SPDX-License-Identifier: MIT */
/*
 * The monitor's rules for one peer process's login requests
 * (doc/security.md "Process model"). A peer parses network bytes and may
 * be subverted, so what it asks is checked against what the monitor
 * itself knows about the peer (the front's word at SPAWN) and about the
 * order a sane peer asks in:
 *
 *  - SIGN: exactly one, and before any login request. An honest (D)TLS
 *    server signs once, in its first flight, right after the ClientHello
 *    and before it reads anything else from its client; so a peer
 *    subverted by anything it parses after the hello gets no signature.
 *    When the request carries the signed data (EdDSA keys: GnuTLS passes
 *    an external key the data only for those), it must have the shape of
 *    that signature (TLS 1.2 ServerKeyExchange: client_random ||
 *    server_random || ECDH parameters, RFC 5246 7.4.3 / RFC 8422 5.4; or
 *    over TLS only, TLS 1.3's CertificateVerify content, RFC 8446
 *    4.4.3), and over DTLS its client_random must be the random of the
 *    ClientHello the front verified for this peer. For ECDSA and RSA keys
 *    GnuTLS passes only the digest, which shows nothing: there the order
 *    is the binding (doc/security.md says what remains).
 *  - CERT_CHALLENGE / CERT_LOGIN: the monitor makes the challenge and
 *    checks the client's certificate (its CA, purpose, validity), its
 *    signature over that challenge and the channel's exporter
 *    (tunnel/certlogin.h), and then the authdb (fingerprint to user,
 *    revocation, disabled). The peer's word is used for nothing but the
 *    bytes it relays.
 */
#ifndef BGW_MUX_PEERAUTH_H
#define BGW_MUX_PEERAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authdb.h"
#include "rpc.h"

struct tun_certca;

struct peerauth {
	bool dgram;			/* DTLS: the front saw the ClientHello */
	uint8_t hello_random[32];	/* ... and this is its random */
	bool signed_once;
	bool login_started;		/* a request other than SIGN or LOG came */
	bool chal_set;
	uint8_t chal[RPC_CHAL_LEN];
};

/* A new peer; hello_random NULL for a TCP peer (the front read no hello). */
void peerauth_init(struct peerauth *pa, const uint8_t *hello_random);
/* Wipe it (the challenge). */
void peerauth_clear(struct peerauth *pa);

/*
 * Before answering a request of this type: 0, or -EPROTO if a sane peer
 * would never ask it now (a second SIGN, a SIGN after a login request).
 */
int peerauth_order(struct peerauth *pa, uint32_t type);

/*
 * The SIGN request's input: 0 for a digest (its length is keysign's to
 * check) or for data of the shape above (over DTLS with this peer's
 * client_random), else -EINVAL.
 */
int peerauth_sign_check(const struct peerauth *pa, bool is_hash,
			const uint8_t *in, size_t len);

/* A fresh challenge, kept (replacing any earlier one): 0 or -EIO. */
int peerauth_challenge(struct peerauth *pa, uint8_t out[RPC_CHAL_LEN]);

/*
 * A CERT_LOGIN blob (already length-checked by rpc_req_decode): verify it
 * against the outstanding challenge (spent by this call, whatever the
 * outcome) and ca, then map it with db. 0 with user and fpr, or the
 * errors listed at RPC_CERT_LOGIN in muxd/rpc.h, with user then the
 * certificate's CN as claimed (for the log and the limiter) or "".
 */
int peerauth_cert_login(struct peerauth *pa, const struct tun_certca *ca,
			const struct authdb *db, const uint8_t *blob, size_t len,
			char user[AUTHDB_NAME_MAX + 1], uint8_t fpr[AUTHDB_FPR_LEN]);

#endif /* BGW_MUX_PEERAUTH_H */
