/* SPDX-License-Identifier: MIT */
/*
 * bgw-relay messages (doc/relay.md, "Messages"): one message per UDP
 * datagram, a 4-byte header
 *
 *	u8 version(1)  u8 type  be16 body length
 *
 * and exactly that many body bytes. Every type but REGISTER, REGISTER2
 * and DATA has a fixed body length; those carry capped variable parts. All
 * integers are big-endian (network order, as in STUN and DTLS).
 *
 * rmsg_decode() is the only way a datagram is read: through lib/cursor.h,
 * the declared length checked against the bytes present and against the
 * type's layout, every field capped, reserved and padding bytes required to
 * be zero, and nothing left over. A malformed datagram is an error, never a
 * partial result.
 *
 * The requests an unverified source may send (REG_HELLO, CONN_HELLO,
 * KEEPALIVE) are at least as long as the relay's answer to them, so the
 * relay never amplifies towards a forged source address (the padding of the
 * HELLOs is there for that, as QUIC pads its Initial packets, RFC 9000
 * section 8.1).
 */
#ifndef BGW_RELAY_RMSG_H
#define BGW_RELAY_RMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMSG_VERSION		1
#define RMSG_HDR_LEN		4
#define RMSG_ID_LEN		16	/* home id: 128 bits (lib/homeid.h) */
#define RMSG_COOKIE_LEN		16
#define RMSG_TOKEN_LEN		8
#define RMSG_ADDR_LEN		20	/* u8 family, u8 0, be16 port, 16 bytes */
/* A CA's SubjectPublicKeyInfo: ECDSA P-256 is 91 bytes, Ed25519 44. */
#define RMSG_SPKI_MAX		160
/* A signature: ECDSA P-256 DER is at most 72 bytes, Ed25519 64. */
#define RMSG_SIG_MAX		80
/*
 * REGISTER2's certificate for the registration key (DER): the one
 * `bgw-authdb ca relay-key` issues is about 400 bytes (P-256 key and
 * signature, two short names, four extensions); 640 leaves room for a
 * longer CA name while a whole REGISTER2 (at most RMSG_REGISTER2_MAX)
 * stays under RMSG_MAX and the IPv6 minimum MTU.
 */
#define RMSG_CERT_MAX		640
/*
 * DATA payload cap: the tunnel's whole DTLS datagram (doc/protocol.md,
 * "DTLS MTU" 1200), so a relayed datagram plus this header still fits the
 * IPv6 minimum MTU of 1280 (1280 - 40 - 8 = 1232 >= 8 + 1200).
 */
#define RMSG_DATA_MAX		1200
#define RMSG_MAX		(RMSG_HDR_LEN + 4 + RMSG_DATA_MAX)
/* The largest REGISTER2: every variable part at its cap (926 bytes). */
#define RMSG_REGISTER2_MAX	(RMSG_HDR_LEN + RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN + \
				 2 + RMSG_SPKI_MAX + 2 + RMSG_CERT_MAX + 2 + RMSG_SIG_MAX)

enum rmsg_type {
	RMSG_REG_HELLO = 1,	/* gw: id, zero padding */
	RMSG_REG_CHALLENGE = 2,	/* relay: id, ts, cookie */
	RMSG_REGISTER = 3,	/* gw: id, ts, cookie, spki, sig */
	RMSG_REGISTERED = 4,	/* relay: id, token, keepalive, expiry, addr */
	RMSG_KEEPALIVE = 5,	/* gw: id, token */
	RMSG_KEEPALIVE_ACK = 6,	/* relay: id */
	RMSG_REREGISTER = 7,	/* relay: id (unknown registration) */
	RMSG_CONN_HELLO = 8,	/* cd: id, zero padding */
	RMSG_CONN_CHALLENGE = 9, /* relay: id, ts, cookie */
	RMSG_CONNECT = 10,	/* cd: id, ts, cookie */
	RMSG_CONNECTED = 11,	/* relay to cd: channel, gw's reflexive addr */
	RMSG_PEER = 12,		/* relay to gw: id, channel, cd's reflexive addr */
	RMSG_REFUSED = 13,	/* relay: id, code */
	RMSG_DATA = 14,		/* both: channel, payload (relayed unchanged) */
	RMSG_CLOSE = 15,	/* both: channel */
	/* gw: id, ts, cookie, CA's spki, registration key's cert, its sig */
	RMSG_REGISTER2 = 16,
	RMSG_TYPE_MAX = 16,
};

/* REFUSED codes. */
enum rmsg_refuse {
	RMSG_REFUSE_UNAVAILABLE = 1,	/* unknown, unregistered or full: one answer */
	RMSG_REFUSE_BAD_PROOF = 2,	/* REGISTER(2): key, certificate or signature wrong */
	RMSG_REFUSE_LIMIT = 3,		/* a rate or count limit was hit */
	RMSG_REFUSE_MAX = 3,
};

struct rmsg_addr {
	uint8_t family;		/* 4 or 6 */
	/*
	 * Not on the wire: which of the relay's sockets the address talks
	 * to (a NAT only lets in what comes from the address it sent to).
	 * Decoding sets it to 0; equality of addresses ignores it.
	 */
	uint8_t via;
	uint16_t port;		/* host order */
	uint8_t a[16];		/* IPv4: first 4 bytes, the rest zero */
};

/*
 * A decoded message. Pointers (spki, sig, data) point into the decoded
 * buffer: valid only as long as it is.
 */
struct rmsg {
	uint8_t type;
	uint8_t id[RMSG_ID_LEN];
	uint32_t ts;
	uint8_t cookie[RMSG_COOKIE_LEN];
	uint8_t token[RMSG_TOKEN_LEN];
	uint16_t keepalive_s;
	uint16_t expiry_s;
	uint32_t chan;
	uint8_t code;
	struct rmsg_addr addr;
	const uint8_t *spki;
	uint16_t spki_len;
	const uint8_t *cert;		/* REGISTER2 only */
	uint16_t cert_len;
	const uint8_t *sig;
	uint16_t sig_len;
	const uint8_t *data;
	uint16_t data_len;
};

/* 0, or -EBADMSG (malformed), -EPROTONOSUPPORT (other version). */
int rmsg_decode(struct rmsg *m, const void *buf, size_t len);
/* Bytes written, or -EINVAL (a field over its cap) / -EMSGSIZE (no room). */
int rmsg_encode(const struct rmsg *m, void *buf, size_t cap);
/* The fixed body length of a type, or -1 for the variable ones. */
int rmsg_body_len(uint8_t type);
const char *rmsg_type_name(uint8_t type);

/*
 * The bytes a gateway signs to register (doc/relay.md, "Registration"):
 * a context string, then id, ts and cookie. The cookie binds the relay's
 * challenge to the gateway's source address, so a signature cannot be
 * replayed from elsewhere or after the cookie expires. type is
 * RMSG_REGISTER (the CA key signs; context "bgw-relay register v1") or
 * RMSG_REGISTER2 (a registration key signs; "... v2"): a signature made
 * for one is never valid for the other.
 */
#define RMSG_TBS_LEN		(24 + RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN)
void rmsg_register_tbs(uint8_t out[RMSG_TBS_LEN], uint8_t type,
		       const uint8_t id[RMSG_ID_LEN], uint32_t ts,
		       const uint8_t cookie[RMSG_COOKIE_LEN]);

#endif /* BGW_RELAY_RMSG_H */
