/* SPDX-License-Identifier: MIT */
/* The monitor's rules for a peer's login requests (muxd/peerauth.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "certlogin.h"
#include "cursor.h"
#include "peerauth.h"
#include "tunnel.h"

_Static_assert(RPC_CHAL_LEN == TUN_CHAL_LEN, "challenge length");
_Static_assert(RPC_EXPORTER_LEN == TUN_EXPORTER_LEN, "exporter length");
_Static_assert(RPC_CERT_DER_MAX == TUN_CERT_DER_MAX, "certificate cap");
_Static_assert(RPC_CERT_SIG_MAX == TUN_CERT_SIG_MAX, "signature cap");

#define TLS_RANDOM_LEN	32
/* RFC 8446 4.4.3: 64 spaces, the context string, a zero byte, the hash. */
#define TLS13_PAD	64
#define TLS13_SERVER_CTX "TLS 1.3, server CertificateVerify"

void peerauth_init(struct peerauth *pa, const uint8_t *hello_random)
{
	memset(pa, 0, sizeof(*pa));
	if (hello_random) {
		pa->dgram = true;
		memcpy(pa->hello_random, hello_random, TLS_RANDOM_LEN);
	}
}

void peerauth_clear(struct peerauth *pa)
{
	explicit_bzero(pa, sizeof(*pa));
}

int peerauth_order(struct peerauth *pa, uint32_t type)
{
	switch (type) {
	case RPC_LOG:
		return 0;
	case RPC_SIGN:
		/*
		 * A handshake signs once, in the server's first flight,
		 * before the login: a second signature, or one after a
		 * login request, is for a handshake that is not this peer's.
		 */
		if (pa->signed_once || pa->login_started)
			return -EPROTO;
		pa->signed_once = true;
		return 0;
	default:
		pa->login_started = true;
		return 0;
	}
}

/* The ECDHE groups of our priorities and their point sizes (RFC 8422 5.4.1, RFC 7748). */
static bool group_point_ok(uint16_t group, size_t plen)
{
	switch (group) {
	case 23: return plen == 65;	/* secp256r1, uncompressed */
	case 24: return plen == 97;	/* secp384r1 */
	case 25: return plen == 133;	/* secp521r1 */
	case 29: return plen == 32;	/* x25519 */
	case 30: return plen == 56;	/* x448 */
	default: return false;
	}
}

/*
 * TLS 1.2's ServerKeyExchange signature input (RFC 5246 7.4.3, RFC 8422
 * 5.4): client_random, server_random, then ServerECDHParams exactly:
 * curve_type named_curve (3), the group, u8 length and the point.
 */
static bool is_tls12_ske(const uint8_t *in, size_t len, const uint8_t **cr)
{
	struct cur c;
	uint8_t type, plen;
	uint16_t group;

	cur_init(&c, in, len);
	*cr = cur_bytes(&c, TLS_RANDOM_LEN);
	cur_bytes(&c, TLS_RANDOM_LEN);
	type = cur_u8(&c);
	group = cur_be16(&c);
	plen = cur_u8(&c);
	if (!cur_is_ok(&c) || type != 3 || !group_point_ok(group, plen))
		return false;
	cur_bytes(&c, plen);
	return cur_is_ok(&c) && cur_is_done(&c);
}

/* TLS 1.3's CertificateVerify content of a server (RFC 8446 4.4.3). */
static bool is_tls13_cv(const uint8_t *in, size_t len)
{
	size_t head = TLS13_PAD + sizeof(TLS13_SERVER_CTX);	/* NUL included */
	size_t i;

	if (len != head + 32 && len != head + 48)	/* SHA-256 or SHA-384 */
		return false;
	for (i = 0; i < TLS13_PAD; i++)
		if (in[i] != 0x20)
			return false;
	return memcmp(in + TLS13_PAD, TLS13_SERVER_CTX, sizeof(TLS13_SERVER_CTX)) == 0;
}

int peerauth_sign_check(const struct peerauth *pa, bool is_hash,
			const uint8_t *in, size_t len)
{
	const uint8_t *cr = NULL;

	if (!in || !len)
		return -EINVAL;
	/*
	 * A digest shows nothing of what was hashed. GnuTLS (3.7,
	 * privkey_sign_raw_data) gives an external key only the digest for
	 * every key type but EdDSA, so with the usual ECDSA server key this
	 * is what a handshake asks: its length is checked (keysign_sign), and
	 * the order rule (peerauth_order) is what ties it to this peer.
	 */
	if (is_hash)
		return 0;
	if (is_tls12_ske(in, len, &cr)) {
		/*
		 * DTLS: the front read this peer's ClientHello; a handshake
		 * with another client_random is someone else's.
		 */
		if (pa->dgram && memcmp(cr, pa->hello_random, TLS_RANDOM_LEN) != 0)
			return -EINVAL;
		return 0;
	}
	/* DTLS is 1.2 only (doc/protocol.md 1.1): no TLS 1.3 signature there. */
	if (!pa->dgram && is_tls13_cv(in, len))
		return 0;
	return -EINVAL;
}

int peerauth_challenge(struct peerauth *pa, uint8_t out[RPC_CHAL_LEN])
{
	if (gnutls_rnd(GNUTLS_RND_NONCE, pa->chal, sizeof(pa->chal)) < 0)
		return -EIO;
	pa->chal_set = true;
	memcpy(out, pa->chal, sizeof(pa->chal));
	return 0;
}

int peerauth_cert_login(struct peerauth *pa, const struct tun_certca *ca,
			const struct authdb *db, const uint8_t *blob, size_t len,
			char user[AUTHDB_NAME_MAX + 1], uint8_t fpr[AUTHDB_FPR_LEN])
{
	uint8_t chal[RPC_CHAL_LEN];
	struct tun_cert_info ci;
	size_t cl;
	int r;

	user[0] = '\0';
	memset(&ci, 0, sizeof(ci));
	if (!pa->chal_set)
		return -EPROTO;
	/* Spent: one proof per challenge, right or wrong. */
	memcpy(chal, pa->chal, sizeof(chal));
	explicit_bzero(pa->chal, sizeof(pa->chal));
	pa->chal_set = false;
	if (!ca || !db) {
		r = -EIO;
		goto out;
	}
	/* rpc_req_decode checked these bounds; checked again, cheaply. */
	if (len < RPC_EXPORTER_LEN + 2 + 2) {
		r = -EBADMSG;
		goto out;
	}
	cl = get_le16(blob + RPC_EXPORTER_LEN);
	if (cl == 0 || cl >= len - RPC_EXPORTER_LEN - 2) {
		r = -EBADMSG;
		goto out;
	}
	r = tun_certlogin_verify(ca, blob + RPC_EXPORTER_LEN + 2, cl,
				 blob + RPC_EXPORTER_LEN + 2 + cl,
				 len - RPC_EXPORTER_LEN - 2 - cl, chal, blob, &ci);
	if (r == 0) {
		r = authdb_cert_user(db, ci.sha256, user);
		if (r < 0)
			r = r == -EKEYREVOKED ? -EKEYREVOKED : -ENOENT;
		else if (!authdb_user_is_enabled(db, user))
			r = -EPERM;
	}
	if (r == 0)
		memcpy(fpr, ci.sha256, AUTHDB_FPR_LEN);
	else if (strlen(ci.cn) <= AUTHDB_NAME_MAX)	/* as claimed, for the log */
		memcpy(user, ci.cn, strlen(ci.cn) + 1);
	else
		user[0] = '\0';
out:
	explicit_bzero(chal, sizeof(chal));
	return r;
}
