/* SPDX-License-Identifier: MIT */
/*
 * Tunnel messages: the framing both transports carry (doc/protocol.md,
 * section "Messages"). Every message is a 6-byte header
 *
 *	u8 version  u8 type  u8 flags  u8 reserved(0)  be16 body length
 *
 * followed by exactly that many body bytes. A DTLS record holds one or more
 * whole messages; over TLS they follow each other in the byte stream.
 *
 * tun_msg_decode() is the only way a message is read: through lib/cursor.h,
 * with a cap on every length, the declared body length checked against the
 * bytes present and against the fixed layout of the type, and every string
 * refused if it holds a NUL or a control character. A malformed message is
 * an error, never a partial result.
 */
#ifndef BGW_TUN_MSG_H
#define BGW_TUN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Protocol versions this implementation speaks. Version 2 moved the
 * certificate login out of the (D)TLS handshake into CHALLENGE /
 * CERT_PROOF (doc/protocol.md 4.6); version 1 clients are refused with
 * ERROR 2. HELLO itself always carries TUN_HELLO_VERSION in its header:
 * its layout is frozen so that any two versions can read each other's.
 */
#define TUN_HELLO_VERSION	1
#define TUN_VERSION_MIN		2
#define TUN_VERSION_MAX		2

#define TUN_HDR_LEN		6
/* The largest piece of an H4 packet one HCI message carries. */
#define TUN_SEG_MAX		1024
/* Body cap: an HCI message (seq + segment) is the largest type. */
#define TUN_BODY_MAX		(4 + TUN_SEG_MAX)
#define TUN_MSG_MAX		(TUN_HDR_LEN + TUN_BODY_MAX)
#define TUN_SID_LEN		16
#define TUN_PROOF_LEN		32
#define TUN_USER_MAX		64	/* bytes, without the NUL */
#define TUN_TEXT_MAX		200	/* CLOSE / ERROR reason text */
#define TUN_AUTH_MAX		512	/* one SCRAM message */
#define TUN_SACK_MAX		16	/* selective-ack ranges per ACK */
#define TUN_CHAL_LEN		32	/* CHALLENGE: the server's fresh random */
/*
 * CERT_PROOF: the client's certificate (DER) and its signature, in one
 * message: be16 + certificate + be16 + signature fill at most a body.
 * TUN_CERT_SIG_MAX holds an RSA-4096 signature; the BGW CA issues
 * ECDSA P-256 certificates (about 500 bytes, 72-byte signatures).
 */
#define TUN_CERT_SIG_MAX	512
#define TUN_CERT_DER_MAX	(TUN_BODY_MAX - 4 - 1)

enum tun_msg_type {
	TUN_MSG_HELLO = 1,
	TUN_MSG_AUTH = 2,
	TUN_MSG_READY = 3,
	TUN_MSG_HCI = 4,
	TUN_MSG_ACK = 5,
	TUN_MSG_KEEPALIVE = 6,
	TUN_MSG_RESUME = 7,
	TUN_MSG_CLOSE = 8,
	TUN_MSG_ERROR = 9,
	TUN_MSG_CHALLENGE = 10,		/* version 2 */
	TUN_MSG_CERT_PROOF = 11,	/* version 2 */
};

/* Header flags; each type accepts only its own, the rest must be zero. */
#define TUN_F_MORE	0x01	/* HCI: more segments of this packet follow */
#define TUN_F_RESUMED	0x01	/* READY: an existing session was resumed */
#define TUN_F_ECHO	0x01	/* ACK: echo names the segment that caused it */

/* HELLO modes: what the client will do after the version is agreed. */
enum tun_mode {
	TUN_MODE_CERT = 1,	/* CHALLENGE, then CERT_PROOF names the user */
	TUN_MODE_PASSWORD = 2,	/* SCRAM-SHA-256-PLUS in AUTH messages */
	TUN_MODE_RESUME = 3,	/* a RESUME message follows */
};

/* AUTH steps: the four SCRAM messages (RFC 5802 section 5). */
enum tun_auth_step {
	TUN_AUTH_CLIENT_FIRST = 1,
	TUN_AUTH_SERVER_FIRST = 2,
	TUN_AUTH_CLIENT_FINAL = 3,
	TUN_AUTH_SERVER_FINAL = 4,
};

struct tun_sack {
	uint32_t start;		/* first sequence number received */
	uint32_t end;		/* one past the last */
};

struct tun_msg {
	uint8_t version;
	uint8_t type;
	uint8_t flags;
	union {
		struct {
			uint8_t vmin;
			uint8_t vmax;
			uint8_t mode;
		} hello;
		struct {
			uint8_t step;
			uint16_t len;
			const uint8_t *data;	/* into the decoded buffer */
		} auth;
		struct {
			uint8_t sid[TUN_SID_LEN];
			uint16_t resume_s;	/* seconds a detached session lives */
			char user[TUN_USER_MAX + 1];
		} ready;
		struct {
			uint32_t seq;
			uint16_t len;
			const uint8_t *data;	/* into the decoded buffer */
		} hci;
		struct {
			uint32_t cum;		/* next sequence number expected */
			uint16_t wnd;		/* packets accepted from cum on */
			uint32_t echo;		/* newest HCI seq received (RTT) */
			uint8_t nsack;
			struct tun_sack sack[TUN_SACK_MAX];
		} ack;
		struct {
			uint8_t sid[TUN_SID_LEN];
			uint8_t proof[TUN_PROOF_LEN];
		} resume;
		struct {
			uint8_t chal[TUN_CHAL_LEN];
		} challenge;
		struct {
			uint16_t cert_len;
			const uint8_t *cert;	/* DER, into the decoded buffer */
			uint16_t sig_len;
			const uint8_t *sig;	/* into the decoded buffer */
		} proof;			/* CERT_PROOF */
		struct {
			uint16_t code;		/* enum tun_reason */
			char text[TUN_TEXT_MAX + 1];
		} close;			/* CLOSE and ERROR */
	};
};

/*
 * Decode the message at the start of buf[len]. On success returns 0, sets
 * *used to its size (header + body) and fills m; pointers in m point into
 * buf. Errors:
 *   -EBADMSG          fewer bytes than the header or the declared body
 *   -EMSGSIZE         declared body longer than TUN_BODY_MAX
 *   -EPROTONOSUPPORT  unknown type
 *   -EPROTO           body length wrong for the type, a field out of range,
 *                     flags or reserved bits set, a bad string
 */
int tun_msg_decode(struct tun_msg *m, const uint8_t *buf, size_t len, size_t *used);
/* tun_msg_decode calls so far in this process (tests count them). */
extern uint64_t tun_msg_decodes;

/*
 * Encode m into out[cap]; returns the length or -EINVAL (a field out of
 * range: too long a string, a bad step) or -ENOSPC.
 */
int tun_msg_encode(const struct tun_msg *m, uint8_t *out, size_t cap);

/*
 * Bytes needed to complete the message whose first bytes are buf[len]:
 * 0 if buf holds a whole message, the count still missing otherwise, or a
 * negative errno if the header is already invalid (stream framing, TLS).
 */
long tun_msg_need(const uint8_t *buf, size_t len);

const char *tun_msg_type_name(uint8_t type);

#endif /* BGW_TUN_MSG_H */
