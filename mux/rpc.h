/* SPDX-License-Identifier: MIT */
/*
 * The privilege-separation RPC between bgw-muxd's monitor (privileged,
 * never parses network data) and its worker (unprivileged, sandboxed: the
 * mux core, the tunnel, the local sessions). doc/security.md has the
 * picture.
 *
 * Two socketpairs (SOCK_STREAM) join them:
 *   request channel  worker -> monitor requests, monitor -> worker replies;
 *                    the worker waits for each reply (rpc_call), so
 *                    replies never interleave with anything else;
 *   push channel     monitor -> worker, unsolicited: the policy (the
 *                    authdb without its verifiers) at start and on reload.
 * A message is an 8-byte header (le32 type, le32 payload length) and its
 * payload. The monitor treats every request as hostile: a type it does not
 * know, a payload longer than RPC_REQ_MAX, a string with a control byte, a
 * trailing byte or an out-of-range argument is a protocol violation, and
 * the monitor ends the worker (a sane worker never sends one).
 *
 * Every request has one layout: u8 arg, then four strings (name, src, rd,
 * detail), each a u8 length and that many bytes, then, only for the types
 * that carry one (SCRAM_VERIFY, SIGN), a binary blob: le16 length and
 * that many bytes; rpc_req_decode checks the per-type rules (which
 * strings may be present, arg's range, the blob's length and content).
 */
#ifndef BGW_MUX_RPC_H
#define BGW_MUX_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_HDR_LEN	8
#define RPC_REQ_MAX	4096		/* a request's payload */
#define RPC_BLOB_MAX	3200		/* a request's blob: proof + AuthMessage */
#define RPC_REPLY_MAX	1024		/* a reply's payload */
#define RPC_RBLOB_MAX	768		/* a reply's blob: a signature (TUN_SIG_MAX) */
#define RPC_SIGN_IN_MAX	2048		/* what a handshake signs: a digest or its data */
#define RPC_PUSH_MAX	(9u << 20)	/* a push: the authdb text (AUTHDB_FILE_MAX) */
#define RPC_STR_MAX	255
#define RPC_ERR_MAX	200		/* the text in a reply */
#define RPC_TIMEOUT_MS	10000		/* the worker's wait for a reply */

enum rpc_type {
	/* worker -> monitor */
	RPC_CTRL_OPEN = 1,	/* -> reply(status, err) + the controller fd */
	/*
	 * 2 was SCRAM_LOOKUP, which returned a whole verifier: retired
	 * (doc/security.md), refused like an unknown type.
	 */
	RPC_RETIRED_SCRAM_LOOKUP,
	RPC_LOGIN_ALLOWED,	/* name, src -> reply(status: 0 or -EAGAIN) */
	RPC_LOGIN_FAILED,	/* name, src, arg = reason; no reply */
	RPC_LOGIN_OK,		/* name, src, arg = 1 if certificate; no reply */
	RPC_AUDIT,		/* arg = event, name, src, rd, detail; no reply */
	/* name -> reply(status) + blob: le32 iterations, u8 n, salt[n] */
	RPC_SCRAM_SALT,
	/*
	 * name, src, blob: ClientProof[32] AuthMessage -> reply(status: 0,
	 * -EACCES or -EAGAIN) + blob: ServerSignature[32] when 0. The
	 * monitor applies its rate limits and counts a failure itself.
	 */
	RPC_SCRAM_VERIFY,
	/*
	 * arg = 1 if the blob's input is a digest (else the data itself);
	 * blob: le16 gnutls_sign_algorithm_t, the input -> reply(status) +
	 * blob: the signature with the server's key, which only the monitor
	 * holds. The monitor signs only with algorithms its key supports,
	 * a digest only of that algorithm's hash length, at a bounded rate.
	 */
	RPC_SIGN,
	RPC_REQ_LAST = RPC_SIGN,
	/* monitor -> worker */
	RPC_REPLY = 64,
	RPC_POLICY = 65,	/* the authdb text without password lines */
};

struct rpc_req {
	uint32_t type;
	uint8_t arg;
	char name[RPC_STR_MAX + 1];
	char src[RPC_STR_MAX + 1];
	char rd[RPC_STR_MAX + 1];
	char detail[RPC_STR_MAX + 1];
	uint8_t blob[RPC_BLOB_MAX];
	size_t blob_len;
};

/* Does request type expect a reply? */
bool rpc_req_has_reply(uint32_t type);

/* Encode a request (header included) into buf; its length or -EINVAL. */
int rpc_req_encode(const struct rpc_req *r, uint8_t *buf, size_t cap);
/*
 * Decode and validate one request payload of the given type: 0, or
 * -EPROTO with a short reason in *why.
 */
int rpc_req_decode(uint32_t type, const uint8_t *p, size_t len,
		   struct rpc_req *out, const char **why);

/*
 * The monitor's incremental reader of the request channel: bytes in,
 * whole requests out, nothing larger than RPC_REQ_MAX ever buffered.
 */
struct rpc_reader {
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX];
	size_t have;
};

void rpc_reader_init(struct rpc_reader *rd);
/*
 * Consume up to len bytes (*used says how many). Returns 1 with *out
 * filled when a whole valid request is complete, 0 when more bytes are
 * needed, -EPROTO (with *why) on a violation.
 */
int rpc_reader_feed(struct rpc_reader *rd, const uint8_t *p, size_t len,
		    size_t *used, struct rpc_req *out, const char **why);

/* A reply: status (0 or -errno), a flag, a text, an opaque blob. */
struct rpc_reply {
	int32_t status;
	uint8_t flag;
	char err[RPC_ERR_MAX + 1];
	uint8_t blob[RPC_RBLOB_MAX];
	size_t blob_len;
};

/* Whole-message I/O on a blocking stream socket, with an fd or not. */
int rpc_send(int sock, uint32_t type, const void *payload, size_t len, int fd);
int rpc_send_reply(int sock, const struct rpc_reply *r, int fd);
/*
 * Read one message of at most max payload bytes into a malloc'd buffer;
 * *fd gets a passed descriptor or -1. Waits at most timeout_ms (< 0:
 * forever). -EPIPE on EOF, -ETIMEDOUT, -EPROTO.
 */
int rpc_recv(int sock, uint32_t *type, uint8_t **payload, size_t *len,
	     size_t max, int *fd, int timeout_ms);
int rpc_reply_decode(const uint8_t *p, size_t len, struct rpc_reply *out);

/*
 * The worker's synchronous call: send r, wait for the reply (types with
 * one). fd receives a passed descriptor or -1 (NULL: none expected).
 */
int rpc_call(int sock, const struct rpc_req *r, struct rpc_reply *rep, int *fd);

#endif /* BGW_MUX_RPC_H */
