/* SPDX-License-Identifier: MIT */
/*
 * Certificate login, tunnel version 2 (doc/protocol.md 4.6). The (D)TLS
 * handshake authenticates only the server; a client with a certificate
 * proves itself inside the channel: the server sends a fresh CHALLENGE,
 * the client answers CERT_PROOF with its certificate (DER) and its key's
 * signature over
 *
 *	"bgw tunnel 2 certificate login" 0x00 || challenge[32] || exporter[32]
 *
 * where exporter = Exporter(channel, TUN_LABEL_CERT_LOGIN, no context, 32)
 * (RFC 5705), so a signature made on one channel means nothing on another.
 * Whoever issued the challenge checks the proof: the certificate chained
 * to the BGW CA with the TLS client purpose and within its validity, then
 * the signature with the certificate's key over its own challenge
 * (bgw-muxd: its monitor, never the peer process that relays the proof).
 *
 * The signature algorithm follows the certificate's key, so nothing is
 * negotiated: ECDSA with SHA-256/384/512 by curve size, Ed25519, or RSA
 * PKCS#1 v1.5 with SHA-256.
 */
#ifndef BGW_TUN_CERTLOGIN_H
#define BGW_TUN_CERTLOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct tun_cert_info;

#define TUN_LABEL_CERT_LOGIN	"EXPORTER-bgw-certificate-login"
#define TUN_CERTLOGIN_CONTEXT	"bgw tunnel 2 certificate login"
#define TUN_EXPORTER_LEN	32
/* context, its NUL, the challenge, the exporter */
#define TUN_CERTLOGIN_DATA_LEN	(sizeof(TUN_CERTLOGIN_CONTEXT) + TUN_CHAL_LEN + \
				 TUN_EXPORTER_LEN)

/* The bytes the client signs (out: TUN_CERTLOGIN_DATA_LEN bytes). */
void tun_certlogin_data(uint8_t *out, const uint8_t chal[TUN_CHAL_LEN],
			const uint8_t exporter[TUN_EXPORTER_LEN]);

/* The CA client certificates must chain to (one PEM file). */
struct tun_certca;
int tun_certca_new(struct tun_certca **out, const char *ca_file);
void tun_certca_free(struct tun_certca *ca);

/*
 * Check a CERT_PROOF against the challenge the caller issued and the
 * exporter of the channel it came on. 0 with ci filled (CN, serial,
 * SHA-256 of cert), or an error (ci then holds what a certificate that
 * parsed claims, for the log; its CN proves nothing):
 *   -EBADMSG      not one DER certificate (trailing bytes included)
 *   -EKEYEXPIRED  expired or not yet valid
 *   -EKEYREVOKED  revoked (a CRL loaded with the CA)
 *   -EKEYREJECTED not issued by the CA, or not for TLS clients
 *   -EACCES       the signature is not the certificate key's over this
 *                 challenge and exporter
 * The certificate is checked before the signature, but both are always
 * looked at only through GnuTLS with the lengths given here.
 */
int tun_certlogin_verify(const struct tun_certca *ca, const uint8_t *cert,
			 size_t cert_len, const uint8_t *sig, size_t sig_len,
			 const uint8_t chal[TUN_CHAL_LEN],
			 const uint8_t exporter[TUN_EXPORTER_LEN],
			 struct tun_cert_info *ci);
/* The wire reason (enum tun_reason) for an error of tun_certlogin_verify. */
int tun_certlogin_reason(int err);

/* The client's side: its certificate and key (PEM files). */
struct tun_certkey;
int tun_certkey_load(struct tun_certkey **out, const char *cert_file,
		     const char *key_file, char *err, size_t errlen);
void tun_certkey_free(struct tun_certkey *ck);
/* The certificate, DER. */
const uint8_t *tun_certkey_der(const struct tun_certkey *ck, size_t *len);
/* Sign a challenge with the channel's exporter: 0 or -errno. */
int tun_certkey_sign(const struct tun_certkey *ck, const uint8_t chal[TUN_CHAL_LEN],
		     const uint8_t exporter[TUN_EXPORTER_LEN], uint8_t *sig,
		     size_t cap, size_t *sig_len);

#endif /* BGW_TUN_CERTLOGIN_H */
