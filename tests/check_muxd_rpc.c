/* SPDX-License-Identifier: MIT */
/*
 * The privilege-separation RPC codec (muxd/rpc.h): what the privileged
 * monitor accepts from the unprivileged processes. Every rule of the table is probed
 * with a request that breaks it; the framing is fed byte by byte; fd
 * passing and replies go over a real socketpair.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "audit.h"
#include "ca.h"
#include "check_main.h"
#include "certlogin.h"
#include "ctlmsg.h"
#include "cursor.h"
#include "keysign.h"
#include "peerauth.h"
#include "policy.h"
#include "rpc.h"
#include "scram.h"

/* Build a raw request: header + arg + four (len, bytes) strings. */
static size_t raw(uint8_t *buf, uint32_t type, uint8_t arg, const char *const s[4],
		  const uint8_t *extra, size_t nextra)
{
	size_t n = RPC_HDR_LEN, i;

	buf[n++] = arg;
	for (i = 0; i < 4; i++) {
		size_t l = s[i] ? strlen(s[i]) : 0;

		buf[n++] = (uint8_t)l;
		memcpy(buf + n, s[i] ? s[i] : "", l);
		n += l;
	}
	if (nextra)
		memcpy(buf + n, extra, nextra);
	n += nextra;
	put_le32(buf, type);
	put_le32(buf + 4, (uint32_t)(n - RPC_HDR_LEN));
	return n;
}

/* The same with a blob (le16 length, bytes) after the strings. */
static size_t raw_blob(uint8_t *buf, uint32_t type, const char *const s[4],
		       const uint8_t *blob, size_t blen)
{
	size_t n = raw(buf, type, 0, s, NULL, 0);

	buf[n++] = (uint8_t)(blen & 0xff);
	buf[n++] = (uint8_t)(blen >> 8);
	if (blen)
		memcpy(buf + n, blob, blen);
	n += blen;
	put_le32(buf + 4, (uint32_t)(n - RPC_HDR_LEN));
	return n;
}

static int decode(const uint8_t *buf, size_t n, struct rpc_req *q, const char **why)
{
	return rpc_req_decode(get_le32(buf), buf + RPC_HDR_LEN, n - RPC_HDR_LEN, q, why);
}

START_TEST(good_requests_round_trip)
{
	struct rpc_req q, out;
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX];
	const char *why;
	int n;

	memset(&q, 0, sizeof(q));
	q.type = RPC_AUDIT;
	q.arg = AUDIT_ACL_DENY;
	strcpy(q.name, "alice");
	strcpy(q.rd, "10:B6:00:00:00:04 public");
	strcpy(q.detail, "Create Connection");
	n = rpc_req_encode(&q, buf, sizeof(buf));
	ck_assert_int_gt(n, RPC_HDR_LEN);
	ck_assert_int_eq(decode(buf, (size_t)n, &out, &why), 0);
	ck_assert_str_eq(out.name, "alice");
	ck_assert_str_eq(out.rd, "10:B6:00:00:00:04 public");
	ck_assert_str_eq(out.detail, "Create Connection");
	ck_assert_int_eq(out.arg, AUDIT_ACL_DENY);
	ck_assert(rpc_req_has_reply(RPC_SCRAM_SALT));
	ck_assert(rpc_req_has_reply(RPC_SCRAM_VERIFY));
	ck_assert(!rpc_req_has_reply(RPC_RETIRED_SCRAM_LOOKUP));
	ck_assert(!rpc_req_has_reply(RPC_AUDIT));
	ck_assert(!rpc_req_has_reply(RPC_REPLY));
}
END_TEST

START_TEST(malformed_requests_refused)
{
	const char *none[4] = { NULL, NULL, NULL, NULL };
	const char *name[4] = { "bob", NULL, NULL, NULL };
	const char *ns[4] = { "bob", "192.0.2.1", NULL, NULL };
	const char *ctl[4] = { "b\x01ob", NULL, NULL, NULL };
	const char *srcin[4] = { "bob", "192.0.2.1", "AA", NULL };
	char longname[80];
	const char *lng[4] = { longname, NULL, NULL, NULL };
	uint8_t buf[1024], extra = 0;
	struct rpc_req q;
	const char *why;
	size_t n;

	memset(longname, 'a', 65);
	longname[65] = '\0';
	/* unknown types, both sides of the range */
	n = raw(buf, 0, 0, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_REPLY, 0, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/*
	 * The retired verifier lookup (it handed StoredKey and ServerKey to
	 * the worker) is refused like any unknown type, even well formed.
	 */
	n = raw(buf, RPC_RETIRED_SCRAM_LOOKUP, 0, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "unknown request type");
	/* a salt lookup needs a name, at most 64 bytes, no control byte */
	n = raw(buf, RPC_SCRAM_SALT, 0, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_SCRAM_SALT, 0, lng, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_SCRAM_SALT, 0, ctl, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "control byte in a string");
	n = raw(buf, RPC_SCRAM_SALT, 0, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	/* a string where the type has none */
	n = raw(buf, RPC_LOGIN_ALLOWED, 0, srcin, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* trailing byte */
	n = raw(buf, RPC_SCRAM_SALT, 0, name, &extra, 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "trailing bytes");
	/* truncated: every shorter length of a good request */
	n = raw(buf, RPC_LOGIN_ALLOWED, 0, ns, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	for (size_t k = RPC_HDR_LEN; k < n; k++)
		ck_assert_int_eq(rpc_req_decode(RPC_LOGIN_ALLOWED, buf + RPC_HDR_LEN,
						k - RPC_HDR_LEN, &q, &why), -EPROTO);
	/* argument ranges: the worker may not write a login or reload record */
	n = raw(buf, RPC_AUDIT, AUDIT_LOGIN_OK, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_AUDIT, AUDIT_AUTHDB_RELOAD, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* ... nor a bond's (the monitor's), but a pairing it refused, yes */
	n = raw(buf, RPC_AUDIT, AUDIT_BOND_NEW, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_AUDIT, AUDIT_PAIR_REFUSED, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	n = raw(buf, RPC_LOGIN_FAILED, 0, ns, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* A login is the monitor's to record: the old report is refused. */
	n = raw(buf, RPC_RETIRED_LOGIN_OK, 0, ns, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "unknown request type");
	n = raw(buf, RPC_CTRL_OPEN, 1, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
}
END_TEST

START_TEST(reader_frames_byte_by_byte)
{
	const char *ns[4] = { "carol", "2001:db8::/64", NULL, NULL };
	uint8_t buf[512 * 2];
	struct rpc_reader rd;
	struct rpc_req q;
	const char *why;
	size_t n, used, i;
	int got = 0, r;

	n = raw(buf, RPC_LOGIN_ALLOWED, 0, ns, NULL, 0);
	memcpy(buf + n, buf, n);
	rpc_reader_init(&rd);
	for (i = 0; i < 2 * n; i++) {
		r = rpc_reader_feed(&rd, buf + i, 1, &used, &q, &why);
		ck_assert_int_ge(r, 0);
		ck_assert_uint_eq(used, 1);
		if (r == 1) {
			got++;
			ck_assert_str_eq(q.name, "carol");
			ck_assert_str_eq(q.src, "2001:db8::/64");
		}
	}
	ck_assert_int_eq(got, 2);
	/* Both at once: the first comes out, the rest waits for the next call. */
	r = rpc_reader_feed(&rd, buf, 2 * n, &used, &q, &why);
	ck_assert_int_eq(r, 1);
	ck_assert_uint_eq(used, n);
}
END_TEST

START_TEST(reader_refuses_header_before_payload)
{
	uint8_t hdr[RPC_HDR_LEN];
	struct rpc_reader rd;
	struct rpc_req q;
	const char *why;
	size_t used;

	/* A huge length is refused at the header, nothing buffered. */
	put_le32(hdr, RPC_AUDIT);
	put_le32(hdr + 4, RPC_REQ_MAX + 1);
	rpc_reader_init(&rd);
	ck_assert_int_eq(rpc_reader_feed(&rd, hdr, sizeof(hdr), &used, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "request too long");
	put_le32(hdr, 77);
	put_le32(hdr + 4, 1);
	rpc_reader_init(&rd);
	ck_assert_int_eq(rpc_reader_feed(&rd, hdr, sizeof(hdr), &used, &q, &why), -EPROTO);
	/* An empty payload: short of the arg byte. */
	put_le32(hdr, RPC_CTRL_OPEN);
	put_le32(hdr + 4, 0);
	rpc_reader_init(&rd);
	ck_assert_int_eq(rpc_reader_feed(&rd, hdr, sizeof(hdr), &used, &q, &why), -EPROTO);
}
END_TEST

START_TEST(reply_with_fd_over_socketpair)
{
	struct rpc_reply rep, got;
	struct rpc_req q;
	int sp[2], fd = -1, dn, r;
	uint8_t *p;
	uint32_t type;
	size_t len;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	dn = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(dn, 0);
	memset(&rep, 0, sizeof(rep));
	rep.status = -ENOENT;
	rep.flag = 1;
	strcpy(rep.err, "no such controller");
	rep.blob_len = 3;
	memcpy(rep.blob, "abc", 3);
	ck_assert_int_eq(rpc_send_reply(sp[0], &rep, dn), 0);
	ck_assert_int_eq(rpc_recv(sp[1], &type, &p, &len, 512, &fd, 1000), 0);
	ck_assert_uint_eq(type, RPC_REPLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rpc_reply_decode(p, len, &got), 0);
	ck_assert_int_eq(got.status, -ENOENT);
	ck_assert_str_eq(got.err, "no such controller");
	ck_assert_uint_eq(got.blob_len, 3);
	/* A reply cut short or with a positive status is refused. */
	ck_assert_int_eq(rpc_reply_decode(p, len - 1, &got), -EPROTO);
	put_le32(p, 5);
	ck_assert_int_eq(rpc_reply_decode(p, len, &got), -EPROTO);
	free(p);
	close(fd);
	/* rpc_call without a monitor answering: a timeout, never a hang. */
	memset(&q, 0, sizeof(q));
	q.type = RPC_CTRL_OPEN;
	close(sp[0]);
	r = rpc_call(sp[1], &q, &got, &fd);
	ck_assert_int_lt(r, 0);
	/* A message longer than the reader's max is refused. */
	close(sp[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(rpc_send(sp[0], RPC_POLICY, "0123456789", 10, -1), 0);
	ck_assert_int_eq(rpc_recv(sp[1], &type, &p, &len, 9, NULL, 1000), -EPROTO);
	close(sp[0]);
	close(sp[1]);
	close(dn);
}
END_TEST

/* SCRAM_VERIFY: name, src, ClientProof and a printable AuthMessage. */
START_TEST(scram_verify_bounds)
{
	const char *ns[4] = { "bob", "192.0.2.1", NULL, NULL };
	const char *nosrc[4] = { "bob", NULL, NULL, NULL };
	static uint8_t blob[SCRAM_KEY_LEN + SCRAM_AM_MAX + 2];
	static uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX + 64];
	static const char am[] = "n=bob,r=abc,r=abcdef,s=c2FsdA==,i=16384,c=cD10bHMt,r=abcdef";
	struct rpc_req q, out;
	uint8_t enc[RPC_HDR_LEN + RPC_REQ_MAX];
	const char *why;
	size_t n, k;
	int e;

	for (k = 0; k < SCRAM_KEY_LEN; k++)
		blob[k] = (uint8_t)(k * 7);	/* binary, NULs included */
	memcpy(blob + SCRAM_KEY_LEN, am, strlen(am));
	/* the encoder and the decoder agree */
	memset(&q, 0, sizeof(q));
	q.type = RPC_SCRAM_VERIFY;
	strcpy(q.name, "bob");
	strcpy(q.src, "192.0.2.1");
	memcpy(q.blob, blob, SCRAM_KEY_LEN + strlen(am));
	q.blob_len = SCRAM_KEY_LEN + strlen(am);
	e = rpc_req_encode(&q, enc, sizeof(enc));
	ck_assert_int_gt(e, RPC_HDR_LEN);
	ck_assert_int_eq(decode(enc, (size_t)e, &out, &why), 0);
	ck_assert_uint_eq(out.blob_len, q.blob_len);
	ck_assert_mem_eq(out.blob, q.blob, q.blob_len);
	ck_assert_str_eq(out.src, "192.0.2.1");
	/* a blob on a type without one cannot even be encoded */
	q.type = RPC_SCRAM_SALT;
	q.src[0] = '\0';
	ck_assert_int_eq(rpc_req_encode(&q, enc, sizeof(enc)), -EINVAL);
	/* the same by hand, and every truncation of it */
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN + strlen(am));
	ck_assert_int_eq(decode(buf, n, &out, &why), 0);
	for (k = RPC_HDR_LEN; k < n; k++)
		ck_assert_int_eq(rpc_req_decode(RPC_SCRAM_VERIFY, buf + RPC_HDR_LEN,
						k - RPC_HDR_LEN, &out, &why), -EPROTO);
	/* a trailing byte after the blob */
	buf[n] = 'x';
	ck_assert_int_eq(rpc_req_decode(RPC_SCRAM_VERIFY, buf + RPC_HDR_LEN,
					n + 1 - RPC_HDR_LEN, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "trailing bytes");
	/* the source is required: the monitor counts failures by it */
	n = raw_blob(buf, RPC_SCRAM_VERIFY, nosrc, blob, SCRAM_KEY_LEN + strlen(am));
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	/* a proof without an AuthMessage, a short proof */
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN);
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "blob length out of range");
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, 5);
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	/* the longest AuthMessage passes, one byte more does not */
	memset(blob + SCRAM_KEY_LEN, 'a', SCRAM_AM_MAX + 1);
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN + SCRAM_AM_MAX);
	ck_assert_uint_le(n - RPC_HDR_LEN, RPC_REQ_MAX);
	ck_assert_int_eq(decode(buf, n, &out, &why), 0);
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN + SCRAM_AM_MAX + 1);
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	/* an embedded NUL or a control byte in the AuthMessage */
	memcpy(blob + SCRAM_KEY_LEN, am, strlen(am));
	blob[SCRAM_KEY_LEN + 3] = '\0';
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN + strlen(am));
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "AuthMessage not printable");
	blob[SCRAM_KEY_LEN + 3] = '\n';
	n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN + strlen(am));
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	/* the reader takes the longest request whole, byte by byte */
	{
		struct rpc_reader rd;
		size_t used;
		int r = 0;

		memset(blob + SCRAM_KEY_LEN, 'a', SCRAM_AM_MAX);
		n = raw_blob(buf, RPC_SCRAM_VERIFY, ns, blob, SCRAM_KEY_LEN + SCRAM_AM_MAX);
		rpc_reader_init(&rd);
		for (k = 0; k < n; k++) {
			r = rpc_reader_feed(&rd, buf + k, 1, &used, &out, &why);
			ck_assert_int_ge(r, 0);
			ck_assert_int_eq(r == 1, k == n - 1);
		}
		ck_assert_uint_eq(out.blob_len, SCRAM_KEY_LEN + SCRAM_AM_MAX);
	}
}
END_TEST

/* A reply blob up to RPC_RBLOB_MAX (a signature), one more refused. */
START_TEST(reply_blob_bounds)
{
	static struct rpc_reply rep, got;
	int sp[2];
	uint8_t *p;
	uint32_t type;
	size_t len, k;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	memset(&rep, 0, sizeof(rep));
	for (k = 0; k < RPC_RBLOB_MAX; k++)
		rep.blob[k] = (uint8_t)k;
	rep.blob_len = RPC_RBLOB_MAX;
	ck_assert_int_eq(rpc_send_reply(sp[0], &rep, -1), 0);
	ck_assert_int_eq(rpc_recv(sp[1], &type, &p, &len, RPC_REPLY_MAX, NULL, 1000), 0);
	ck_assert_int_eq(rpc_reply_decode(p, len, &got), 0);
	ck_assert_uint_eq(got.blob_len, RPC_RBLOB_MAX);
	ck_assert_mem_eq(got.blob, rep.blob, RPC_RBLOB_MAX);
	/* a declared blob length beyond the buffer */
	put_le16(p + 6 + strlen(got.err), RPC_RBLOB_MAX + 1);
	ck_assert_int_eq(rpc_reply_decode(p, len, &got), -EPROTO);
	free(p);
	rep.blob_len = RPC_RBLOB_MAX + 1;
	ck_assert_int_eq(rpc_send_reply(sp[0], &rep, -1), -EINVAL);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

/* SIGN: arg 0 (data) or 1 (digest), le16 algorithm, the input. */
START_TEST(sign_bounds)
{
	const char *none[4] = { NULL, NULL, NULL, NULL };
	const char *name[4] = { "bob", NULL, NULL, NULL };
	static uint8_t blob[2 + RPC_SIGN_IN_MAX + 2];
	static uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX + 64];
	struct rpc_req q, out;
	uint8_t enc[RPC_HDR_LEN + RPC_REQ_MAX];
	const char *why;
	size_t n, k;
	int e;

	ck_assert(rpc_req_has_reply(RPC_SIGN));
	for (k = 0; k < sizeof(blob); k++)
		blob[k] = (uint8_t)(k * 13);	/* binary, any byte */
	put_le16(blob, 3);
	/* a SHA-256 digest: round trip through the encoder */
	memset(&q, 0, sizeof(q));
	q.type = RPC_SIGN;
	q.arg = 1;
	memcpy(q.blob, blob, 2 + 32);
	q.blob_len = 2 + 32;
	e = rpc_req_encode(&q, enc, sizeof(enc));
	ck_assert_int_gt(e, RPC_HDR_LEN);
	ck_assert_int_eq(decode(enc, (size_t)e, &out, &why), 0);
	ck_assert_uint_eq(out.arg, 1);
	ck_assert_uint_eq(get_le16(out.blob), 3);
	ck_assert_mem_eq(out.blob, q.blob, q.blob_len);
	/* every truncation of it */
	for (k = RPC_HDR_LEN; k < (size_t)e; k++)
		ck_assert_int_eq(rpc_req_decode(RPC_SIGN, enc + RPC_HDR_LEN,
						k - RPC_HDR_LEN, &out, &why), -EPROTO);
	/* a digest longer than SHA-512's, or shorter than SHA-1's */
	q.blob_len = 2 + 65;
	e = rpc_req_encode(&q, enc, sizeof(enc));
	ck_assert_int_eq(decode(enc, (size_t)e, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "digest too long");
	q.blob_len = 2 + 19;
	e = rpc_req_encode(&q, enc, sizeof(enc));
	ck_assert_int_eq(decode(enc, (size_t)e, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "blob length out of range");
	/* data to sign: up to RPC_SIGN_IN_MAX, one byte more refused */
	q.arg = 0;
	memcpy(q.blob, blob, 2 + RPC_SIGN_IN_MAX);
	q.blob_len = 2 + RPC_SIGN_IN_MAX;
	e = rpc_req_encode(&q, enc, sizeof(enc));
	ck_assert_int_eq(decode(enc, (size_t)e, &out, &why), 0);
	n = raw_blob(buf, RPC_SIGN, none, blob, 2 + RPC_SIGN_IN_MAX + 1);
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	/* arg 2, a name where there is none, a trailing byte */
	q.arg = 2;
	q.blob_len = 2 + 32;
	e = rpc_req_encode(&q, enc, sizeof(enc));
	ck_assert_int_eq(decode(enc, (size_t)e, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "argument out of range");
	n = raw_blob(buf, RPC_SIGN, name, blob, 2 + 32);
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	n = raw_blob(buf, RPC_SIGN, none, blob, 2 + 32);
	ck_assert_int_eq(decode(buf, n, &out, &why), 0);
	buf[n] = 0;
	ck_assert_int_eq(rpc_req_decode(RPC_SIGN, buf + RPC_HDR_LEN, n + 1 - RPC_HDR_LEN,
					&out, &why), -EPROTO);
	ck_assert_str_eq(why, "trailing bytes");
	/* a declared blob length past the end */
	n = raw_blob(buf, RPC_SIGN, none, blob, 2 + 32);
	put_le16(buf + n - 34 - 2, 2 + 33);
	ck_assert_int_eq(decode(buf, n, &out, &why), -EPROTO);
	ck_assert_str_eq(why, "truncated");
}
END_TEST

/* A real gateway PKI (authdb/ca.c: ECDSA P-256) in a fresh directory. */
static void make_pki(char *dir, size_t cap)
{
	struct ca_server_names srv = { .cn = "gw", .ip = { "127.0.0.1" }, .nip = 1 };

	snprintf(dir, cap, "/tmp/bgw-keysign-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(rmdir(dir), 0);	/* ca_init makes it, 0700 */
	ck_assert_int_eq(ca_init(dir, "test CA", &srv, 30), 0);
}

static void rm_pki(const char *dir)
{
	static const char *const f[] = { "ca.key", "ca.crt", "server.key", "server.crt" };
	char p[512];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, f[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void verify_sig(const char *cert, int algo, bool is_hash, const uint8_t *in,
		       size_t len, const uint8_t *sig, size_t slen)
{
	gnutls_pcert_st pc;
	unsigned n = 1;
	gnutls_datum_t d = { (unsigned char *)in, (unsigned)len };
	gnutls_datum_t s = { (unsigned char *)sig, (unsigned)slen };

	ck_assert_int_eq(gnutls_pcert_list_import_x509_file(&pc, &n, cert,
							    GNUTLS_X509_FMT_PEM,
							    NULL, NULL, 0), 0);
	if (is_hash)
		ck_assert_int_ge(gnutls_pubkey_verify_hash2(pc.pubkey, algo, 0, &d, &s), 0);
	else
		ck_assert_int_ge(gnutls_pubkey_verify_data2(pc.pubkey, algo, 0, &d, &s), 0);
	gnutls_pcert_deinit(&pc);
}

/*
 * The monitor's signer (muxd/keysign.h) with a real key: it signs what the
 * certificate's key verifies, refuses algorithms and digest lengths the
 * key does not make, and keeps to its rate (time given, not measured).
 */
/* RELAY_SIGN: the relay's address and a relay challenge, nothing else. */
/*
 * The core's bond requests: a device address of exactly 17 characters;
 * a new bond names its user and carries exactly a key and its type.
 */
START_TEST(bond_requests_bounds)
{
	const char *dev[4] = { NULL, NULL, "10:B6:00:00:00:04", NULL };
	const char *shortdev[4] = { NULL, NULL, "10:B6:00:00:00:0", NULL };
	const char *named[4] = { "alice", NULL, "10:B6:00:00:00:04", NULL };
	const char *nouser[4] = { NULL, NULL, "10:B6:00:00:00:04", NULL };
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX], key[RPC_BOND_BLOB_LEN + 1];
	struct rpc_req q;
	const char *why;
	size_t n;

	memset(key, 0xee, sizeof(key));
	n = raw(buf, RPC_BOND_KEY, 0, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_KEY));
	ck_assert_str_eq(q.rd, "10:B6:00:00:00:04");
	n = raw(buf, RPC_BOND_KEY, 0, shortdev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_BOND_KEY, 0, named, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* no name */
	n = raw(buf, RPC_BOND_KEY, 1, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* arg 0 only */
	n = raw_blob(buf, RPC_BOND_NEW, named, key, RPC_BOND_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_NEW));
	ck_assert_str_eq(q.name, "alice");
	ck_assert_uint_eq(q.blob_len, RPC_BOND_BLOB_LEN);
	n = raw_blob(buf, RPC_BOND_NEW, nouser, key, RPC_BOND_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW, named, key, RPC_BOND_BLOB_LEN - 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW, named, key, RPC_BOND_BLOB_LEN + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
}
END_TEST

/*
 * The LE ones: the address type in arg (0 or 1, nothing else); a new LE
 * bond names its user and carries exactly an LTK, EDIV, Rand, size, flag.
 */
START_TEST(bond_le_requests_bounds)
{
	const char *dev[4] = { NULL, NULL, "C0:B6:00:00:00:01", NULL };
	const char *named[4] = { "alice", NULL, "C0:B6:00:00:00:01", NULL };
	const char *nouser[4] = { NULL, NULL, "C0:B6:00:00:00:01", NULL };
	const char *none[4] = { NULL, NULL, NULL, NULL };
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX], key[RPC_BOND_LE_IRK_BLOB_LEN + 1];
	struct rpc_req q;
	const char *why;
	size_t n;

	memset(key, 0xee, sizeof(key));
	n = raw(buf, RPC_BOND_LTK, 1, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_LTK));
	ck_assert_uint_eq(q.arg, 1);
	n = raw(buf, RPC_BOND_LTK, 2, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_BOND_LTK, 0, named, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* no name */
	n = raw_blob(buf, RPC_BOND_NEW_LE, named, key, RPC_BOND_LE_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_NEW_LE));
	ck_assert_uint_eq(q.blob_len, RPC_BOND_LE_BLOB_LEN);
	n = raw_blob(buf, RPC_BOND_NEW_LE, nouser, key, RPC_BOND_LE_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW_LE, named, key, RPC_BOND_LE_BLOB_LEN - 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW_LE, named, key, RPC_BOND_LE_BLOB_LEN + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* With the device's IRK: exactly 16 more octets, nothing else. */
	n = raw_blob(buf, RPC_BOND_NEW_LE, named, key, RPC_BOND_LE_IRK_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert_uint_eq(q.blob_len, RPC_BOND_LE_IRK_BLOB_LEN);
	n = raw_blob(buf, RPC_BOND_NEW_LE, named, key, RPC_BOND_LE_IRK_BLOB_LEN - 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW_LE, named, key, RPC_BOND_LE_IRK_BLOB_LEN + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* The household IRKs: a page's first entry in arg, no string. */
	n = raw(buf, RPC_BOND_IRKS, 255, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_IRKS));
	ck_assert_uint_eq(q.arg, 255);
	n = raw(buf, RPC_BOND_IRKS, 0, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
}
END_TEST

/*
 * The one codec of the LE keys (rpc_le_bond_encode/decode), which the
 * core and the monitor both use: each field where rpc.h says, a round
 * trip with and without the IRK, and every other length refused with
 * nothing written.
 */
START_TEST(le_bond_codec)
{
	struct mux_le_bond b, d, untouched;
	uint8_t blob[RPC_BOND_LE_IRK_BLOB_LEN + 2];
	size_t n, len;
	unsigned i;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < 16; i++) {
		b.ltk[i] = (uint8_t)(0x10 + i);
		b.irk[i] = (uint8_t)(0x80 + i);
	}
	for (i = 0; i < 8; i++)
		b.rand[i] = (uint8_t)(0x40 + i);
	b.ediv = 0xbeef;
	b.key_size = 12;
	b.authenticated = true;
	b.has_irk = false;
	memset(blob, 0xaa, sizeof(blob));
	n = rpc_le_bond_encode(&b, blob);
	ck_assert_uint_eq(n, RPC_BOND_LE_BLOB_LEN);
	ck_assert_mem_eq(blob, b.ltk, 16);
	ck_assert_uint_eq(blob[16], 0xef);	/* EDIV little-endian */
	ck_assert_uint_eq(blob[17], 0xbe);
	ck_assert_mem_eq(blob + 18, b.rand, 8);
	ck_assert_uint_eq(blob[26], 12);
	ck_assert_uint_eq(blob[27], 1);
	ck_assert_uint_eq(blob[28], 0xaa);	/* nothing past it */
	memset(&d, 0x55, sizeof(d));
	ck_assert_int_eq(rpc_le_bond_decode(blob, n, &d), 0);
	ck_assert_mem_eq(d.ltk, b.ltk, 16);
	ck_assert_uint_eq(d.ediv, 0xbeef);
	ck_assert_mem_eq(d.rand, b.rand, 8);
	ck_assert_uint_eq(d.key_size, 12);
	ck_assert(d.authenticated);
	ck_assert(!d.has_irk);

	b.has_irk = true;
	b.authenticated = false;
	n = rpc_le_bond_encode(&b, blob);
	ck_assert_uint_eq(n, RPC_BOND_LE_IRK_BLOB_LEN);
	ck_assert_mem_eq(blob + RPC_BOND_LE_BLOB_LEN, b.irk, 16);
	ck_assert_uint_eq(blob[27], 0);
	memset(&d, 0x55, sizeof(d));
	ck_assert_int_eq(rpc_le_bond_decode(blob, n, &d), 0);
	ck_assert_mem_eq(d.ltk, b.ltk, 16);
	ck_assert_uint_eq(d.ediv, 0xbeef);
	ck_assert_mem_eq(d.rand, b.rand, 8);
	ck_assert(!d.authenticated);
	ck_assert(d.has_irk);
	ck_assert_mem_eq(d.irk, b.irk, 16);

	/* Any non-zero flag octet is authenticated, as before. */
	blob[27] = 0x7f;
	ck_assert_int_eq(rpc_le_bond_decode(blob, n, &d), 0);
	ck_assert(d.authenticated);

	/* Every other length, from none to one past the longest. */
	for (len = 0; len <= RPC_BOND_LE_IRK_BLOB_LEN + 1; len++) {
		if (len == RPC_BOND_LE_BLOB_LEN || len == RPC_BOND_LE_IRK_BLOB_LEN)
			continue;
		memset(&d, 0x55, sizeof(d));
		memcpy(&untouched, &d, sizeof(d));
		ck_assert_int_eq(rpc_le_bond_decode(blob, len, &d), -EPROTO);
		ck_assert_mem_eq(&d, &untouched, sizeof(d));
	}
}
END_TEST

/*
 * The device as central's key: asked by address and type, kept with its
 * user; exactly an LTK, EDIV and Rand (the one codec, every other length
 * refused by the reader and by the decoder).
 */
START_TEST(bond_pltk_requests_and_codec)
{
	const char *dev[4] = { NULL, NULL, "C0:B6:00:00:00:01", NULL };
	const char *named[4] = { "alice", NULL, "C0:B6:00:00:00:01", NULL };
	const char *nouser[4] = { NULL, NULL, "C0:B6:00:00:00:01", NULL };
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX], blob[RPC_BOND_PLTK_BLOB_LEN + 2];
	struct mux_le_pkey k, d, untouched;
	struct rpc_req q;
	const char *why;
	size_t n, len;
	unsigned i;

	n = raw(buf, RPC_BOND_PLTK, 1, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_PLTK));
	n = raw(buf, RPC_BOND_PLTK, 2, dev, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_BOND_PLTK, 0, named, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);

	for (i = 0; i < 16; i++)
		k.ltk[i] = (uint8_t)(0x20 + i);
	for (i = 0; i < 8; i++)
		k.rand[i] = (uint8_t)(0x60 + i);
	k.ediv = 0x1234;
	memset(blob, 0xaa, sizeof(blob));
	rpc_le_pkey_encode(&k, blob);
	ck_assert_mem_eq(blob, k.ltk, 16);
	ck_assert_uint_eq(blob[16], 0x34);
	ck_assert_uint_eq(blob[17], 0x12);
	ck_assert_mem_eq(blob + 18, k.rand, 8);
	ck_assert_uint_eq(blob[RPC_BOND_PLTK_BLOB_LEN], 0xaa);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(rpc_le_pkey_decode(blob, RPC_BOND_PLTK_BLOB_LEN, &d), 0);
	ck_assert_mem_eq(&d, &k, sizeof(k));
	for (len = 0; len <= RPC_BOND_PLTK_BLOB_LEN + 1; len++) {
		if (len == RPC_BOND_PLTK_BLOB_LEN)
			continue;
		memset(&d, 0x55, sizeof(d));
		memcpy(&untouched, &d, sizeof(d));
		ck_assert_int_eq(rpc_le_pkey_decode(blob, len, &d), -EPROTO);
		ck_assert_mem_eq(&d, &untouched, sizeof(d));
	}

	n = raw_blob(buf, RPC_BOND_NEW_PLTK, named, blob, RPC_BOND_PLTK_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_BOND_NEW_PLTK));
	ck_assert_uint_eq(q.blob_len, RPC_BOND_PLTK_BLOB_LEN);
	n = raw_blob(buf, RPC_BOND_NEW_PLTK, nouser, blob, RPC_BOND_PLTK_BLOB_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW_PLTK, named, blob, RPC_BOND_PLTK_BLOB_LEN - 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_BOND_NEW_PLTK, named, blob, RPC_BOND_PLTK_BLOB_LEN + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
}
END_TEST

START_TEST(relay_sign_bounds)
{
	const char *none[4] = { NULL, NULL, NULL, NULL };
	const char *relay[4] = { NULL, NULL, NULL, "relay.example.net:3478" };
	const char *named[4] = { "bob", NULL, NULL, "relay.example.net:3478" };
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX], ch[RPC_RELAY_CHAL_LEN + 1];
	struct rpc_req q;
	const char *why;
	size_t n;

	memset(ch, 0x41, sizeof(ch));
	ch[0] = 1;	/* version */
	ch[1] = 2;	/* REG_CHALLENGE */
	ch[2] = 0;
	ch[3] = 36;	/* body length */
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_RELAY_SIGN));
	ck_assert_str_eq(q.detail, "relay.example.net:3478");
	ck_assert_mem_eq(q.blob, ch, RPC_RELAY_CHAL_LEN);
	n = raw_blob(buf, RPC_RELAY_SIGN, none, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* no relay named */
	n = raw_blob(buf, RPC_RELAY_SIGN, named, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* a name: none */
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN - 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_RELAY_SIGN, 0, relay, NULL, 0);	/* no blob field */
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* Anything but a challenge's header: other version, type, length. */
	ch[0] = 2;
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "not a relay challenge");
	ch[0] = 1;
	ch[1] = 9;	/* CONN_CHALLENGE: same size, not the gateway's to sign */
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ch[1] = 2;
	ch[3] = 35;
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ch[2] = 1;
	ch[3] = 36;
	n = raw_blob(buf, RPC_RELAY_SIGN, relay, ch, RPC_RELAY_CHAL_LEN);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
}
END_TEST

/* The peer-process requests: SPAWN, CERT_CHALLENGE, CERT_LOGIN, LINK, LOG. */
START_TEST(peer_requests_bounds)
{
	const char *none[4] = { NULL, NULL, NULL, NULL };
	const char *spawn[4] = { NULL, "192.0.2.1", NULL, "[192.0.2.1]:4433" };
	const char *spawn_name[4] = { "bob", "192.0.2.1", NULL, "[192.0.2.1]:4433" };
	const char *spawn_nosrc[4] = { NULL, NULL, NULL, "[192.0.2.1]:4433" };
	const char *name[4] = { "bob", NULL, NULL, NULL };
	const char *line[4] = { NULL, NULL, NULL, "tunnel: handshake failed" };
	char longpeer[80];
	const char *lpeer[4] = { NULL, "192.0.2.1", NULL, longpeer };
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX + 16], fpr[33], rnd[33];
	uint8_t cl[RPC_EXPORTER_LEN + 2 + RPC_CERT_DER_MAX + RPC_CERT_SIG_MAX + 2];
	static uint8_t blob[RPC_BLOB_MAX + 1];
	static struct rpc_spawn sp, sp2;
	struct sockaddr_in sin;
	struct rpc_req q;
	const char *why;
	unsigned i;
	size_t n;
	int ns;

	memset(longpeer, 'x', 64);
	longpeer[64] = '\0';
	memset(fpr, 0xab, sizeof(fpr));
	memset(rnd, 0x5c, sizeof(rnd));
	/*
	 * SPAWN: the hand-over (rpc_spawn_decode). Over TCP no hello and no
	 * random; over DTLS the hello, its random where there is one; an
	 * IPv4 or IPv6 address of exactly its size; nothing left over.
	 */
	memset(&sp, 0, sizeof(sp));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(4433);
	sin.sin_addr.s_addr = htonl(0xc0000201);
	memcpy(sp.addr, &sin, sizeof(sin));
	sp.alen = sizeof(sin);
	sp.first_ms = 2000;
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	ck_assert_int_gt(ns, 0);
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert_str_eq(q.detail, "[192.0.2.1]:4433");
	ck_assert(rpc_req_has_reply(RPC_SPAWN));
	ck_assert_int_eq(rpc_spawn_decode(q.blob, q.blob_len, &sp2), 0);
	ck_assert(!sp2.dgram && !sp2.has_rnd && sp2.first_len == 0 && sp2.first_ms == 2000);
	ck_assert_mem_eq(sp2.addr, &sin, sizeof(sin));
	/* one byte short, one too many */
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns - 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	blob[ns] = 0;
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* DTLS: the whole ClientHello travels, opaque, with its random */
	sp.dgram = true;
	sp.has_rnd = true;
	memset(sp.rnd, 0x5c, sizeof(sp.rnd));
	memset(sp.first, 0x16, RPC_SPAWN_FIRST_MAX);
	sp.first_len = RPC_SPAWN_FIRST_MAX;
	sp.pre[0] = 1;
	sp.pre[1] = 1;
	sp.pre[2] = 1;
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	ck_assert_int_gt(ns, 0);
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_uint_le(n - RPC_HDR_LEN, RPC_REQ_MAX);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert_int_eq(rpc_spawn_decode(q.blob, q.blob_len, &sp2), 0);
	ck_assert(sp2.dgram && sp2.has_rnd && sp2.first_len == RPC_SPAWN_FIRST_MAX);
	ck_assert_mem_eq(sp2.rnd, sp.rnd, sizeof(sp.rnd));
	/* more than a datagram the front reads: not even encoded */
	sp.first_len = RPC_SPAWN_FIRST_MAX + 1;
	ck_assert_int_eq(rpc_spawn_encode(&sp, blob, sizeof(blob)), -EINVAL);
	/* DTLS without its hello; TCP with one */
	sp.first_len = 0;
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	sp.dgram = false;
	sp.has_rnd = false;
	sp.first_len = 10;
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* an IPv4 address said to be IPv6's size, an unknown family */
	sp.first_len = 0;
	sp.alen = sizeof(struct sockaddr_in6);
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	sp.alen = sizeof(sin);
	sp.addr[0] = AF_UNIX;
	sp.addr[1] = 0;
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* an unknown flag; no blob at all */
	memcpy(sp.addr, &sin, sizeof(sin));
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	blob[0] |= 0x80;
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	blob[0] &= 0x7f;
	n = raw_blob(buf, RPC_SPAWN, spawn, blob, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* PEER_STOP: a pid, le32, one way */
	put_le32(blob + 500, 1234);
	n = raw_blob(buf, RPC_PEER_STOP, none, blob + 500, 4);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(!rpc_req_has_reply(RPC_PEER_STOP));
	n = raw_blob(buf, RPC_PEER_STOP, none, blob + 500, 3);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	put_le32(blob + 500, 0);
	n = raw_blob(buf, RPC_PEER_STOP, none, blob + 500, 4);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	put_le32(blob + 500, 0xffffffffu);
	n = raw_blob(buf, RPC_PEER_STOP, none, blob + 500, 4);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* PEERS_LOGGED_IN: 1..64 pids, le32, each a pid; a reply */
	for (i = 0; i < RPC_LOGGED_IN_MAX + 1; i++)
		put_le32(blob + 500 + 4 * i, 100 + (uint32_t)i);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 4);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_PEERS_LOGGED_IN));
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 4 * RPC_LOGGED_IN_MAX);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert_uint_eq(q.blob_len, 4 * RPC_LOGGED_IN_MAX);
	ck_assert_uint_eq(get_le32(q.blob + 4), 101);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 4 * RPC_LOGGED_IN_MAX + 4);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 7);	/* a partial pid */
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "not a list of pids");
	put_le32(blob + 504, 0);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 8);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	put_le32(blob + 504, 0x80000000u);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, none, blob + 500, 8);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	put_le32(blob + 504, 101);
	n = raw_blob(buf, RPC_PEERS_LOGGED_IN, name, blob + 500, 8);	/* a string */
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_PEERS_LOGGED_IN, 0, none, NULL, 0);	/* no blob field */
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ns = rpc_spawn_encode(&sp, blob, sizeof(blob));
	n = raw(buf, RPC_SPAWN, 0, spawn, NULL, 0);	/* no blob field at all */
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_SPAWN, spawn_name, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_SPAWN, spawn_nosrc, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_SPAWN, lpeer, blob, (size_t)ns);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/*
	 * 11, CERT_USER, took a fingerprint (public) as a login: retired,
	 * refused like an unknown type whatever it carries.
	 */
	n = raw_blob(buf, RPC_RETIRED_CERT_USER, none, fpr, 32);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "unknown request type");
	/* CERT_CHALLENGE: nothing at all */
	n = raw(buf, RPC_CERT_CHALLENGE, 0, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(rpc_req_has_reply(RPC_CERT_CHALLENGE));
	n = raw(buf, RPC_CERT_CHALLENGE, 0, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_CERT_CHALLENGE, 1, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw_blob(buf, RPC_CERT_CHALLENGE, none, rnd, 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* CERT_LOGIN: exporter, le16 n, n certificate bytes, a signature */
	memset(cl, 0x30, sizeof(cl));
	put_le16(cl + RPC_EXPORTER_LEN, 500);
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 2 + 500 + 72);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert_uint_eq(q.blob_len, RPC_EXPORTER_LEN + 2 + 500 + 72);
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 2 + 500);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* no signature */
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 2 + 499);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* short certificate */
	n = raw_blob(buf, RPC_CERT_LOGIN, name, cl, RPC_EXPORTER_LEN + 2 + 500 + 72);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* a name: none */
	put_le16(cl + RPC_EXPORTER_LEN, 0);
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 2 + 72);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* empty certificate */
	put_le16(cl + RPC_EXPORTER_LEN, RPC_CERT_DER_MAX + 1);
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl,
		     RPC_EXPORTER_LEN + 2 + RPC_CERT_DER_MAX + 1 + 10);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* certificate cap */
	put_le16(cl + RPC_EXPORTER_LEN, 100);
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl,
		     RPC_EXPORTER_LEN + 2 + 100 + RPC_CERT_SIG_MAX + 1);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* signature cap */
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 2 + 100 + RPC_CERT_SIG_MAX);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	put_le16(cl + RPC_EXPORTER_LEN, 0xffff);
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 2 + 100);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* claims past the blob */
	n = raw_blob(buf, RPC_CERT_LOGIN, none, cl, RPC_EXPORTER_LEN + 3);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);	/* under the minimum */
	/* a link after a login names its user, one to resume none */
	n = raw(buf, RPC_LINK, 0, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	n = raw(buf, RPC_LINK, 1, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	n = raw(buf, RPC_LINK, 0, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	ck_assert_str_eq(why, "link name does not match its kind");
	n = raw(buf, RPC_LINK, 1, name, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_LINK, 2, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	/* a log line: a syslog priority and a non-empty line, no reply */
	n = raw(buf, RPC_LOG, LOG_NOTICE, line, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), 0);
	ck_assert(!rpc_req_has_reply(RPC_LOG));
	n = raw(buf, RPC_LOG, 8, line, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
	n = raw(buf, RPC_LOG, LOG_NOTICE, none, NULL, 0);
	ck_assert_int_eq(decode(buf, n, &q, &why), -EPROTO);
}
END_TEST

/* ---- the monitor's rules for a peer's login (muxd/peerauth.h) ---- */

/* A request as the monitor gets it: encoded, then through its reader. */
static void via_reader(struct rpc_req *q)
{
	static uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX];
	static struct rpc_reader rd;
	struct rpc_req out;
	const char *why = NULL;
	size_t used = 0;
	int n = rpc_req_encode(q, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	rpc_reader_init(&rd);
	ck_assert_int_eq(rpc_reader_feed(&rd, buf, (size_t)n, &used, &out, &why), 1);
	ck_assert_uint_eq(used, (size_t)n);
	*q = out;
}

/* The PKI of one test: a gateway CA, users' certificates and keys on disk. */
struct cpki {
	char dir[64], rogue[64];
	char files[16][300];
	int nfiles;
	struct tun_certca *ca;
	struct authdb *db;
};

static void issue(struct cpki *k, const char *dir, const char *user, time_t nb, time_t na,
		  struct tun_certkey **ck, struct ca_issued *out)
{
	char crt[300], key[300], err[300];
	FILE *f;

	ck_assert_int_eq(ca_issue_client(dir, user, nb, na, out), 0);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, user);
	snprintf(key, sizeof(key), "%s/%s.key", dir, user);
	f = fopen(crt, "w");
	ck_assert_ptr_nonnull(f);
	fputs(out->cert_pem, f);
	fclose(f);
	f = fopen(key, "w");
	ck_assert_ptr_nonnull(f);
	fputs(out->key_pem, f);
	fclose(f);
	snprintf(k->files[k->nfiles++], sizeof(k->files[0]), "%s", crt);
	snprintf(k->files[k->nfiles++], sizeof(k->files[0]), "%s", key);
	ck_assert_int_eq(tun_certkey_load(ck, crt, key, err, sizeof(err)), 0);
}

static void cert_line(char *db, size_t cap, const char *user, const struct ca_issued *c)
{
	size_t n = strlen(db);
	int i;

	n += (size_t)snprintf(db + n, cap - n, "cert %s %s sha256:", user, c->serial);
	for (i = 0; i < AUTHDB_FPR_LEN; i++)
		n += (size_t)snprintf(db + n, cap - n, "%02x", c->fpr[i]);
	snprintf(db + n, cap - n, "\n");
}

/*
 * One certificate login as a peer process asks for it: CERT_CHALLENGE,
 * the client's signature (key over chal_signed or the challenge, and
 * ex_signed), then CERT_LOGIN with the certificate and ex_reported.
 */
static int cert_login(struct peerauth *pa, const struct cpki *k,
		      const struct tun_certkey *cert, const struct tun_certkey *key,
		      const uint8_t *chal_signed, const uint8_t *ex_signed,
		      const uint8_t *ex_reported, char user[AUTHDB_NAME_MAX + 1])
{
	uint8_t chal[RPC_CHAL_LEN], sig[RPC_CERT_SIG_MAX], fpr[AUTHDB_FPR_LEN];
	const uint8_t *der;
	size_t der_len = 0, sig_len = 0;
	struct rpc_req q;

	memset(&q, 0, sizeof(q));
	q.type = RPC_CERT_CHALLENGE;
	via_reader(&q);
	ck_assert_int_eq(peerauth_order(pa, q.type), 0);
	ck_assert_int_eq(peerauth_challenge(pa, chal), 0);
	ck_assert_int_eq(tun_certkey_sign(key, chal_signed ? chal_signed : chal, ex_signed,
					  sig, sizeof(sig), &sig_len), 0);
	der = tun_certkey_der(cert, &der_len);
	memset(&q, 0, sizeof(q));
	q.type = RPC_CERT_LOGIN;
	memcpy(q.blob, ex_reported, RPC_EXPORTER_LEN);
	put_le16(q.blob + RPC_EXPORTER_LEN, (uint16_t)der_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2, der, der_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2 + der_len, sig, sig_len);
	q.blob_len = RPC_EXPORTER_LEN + 2 + der_len + sig_len;
	via_reader(&q);
	ck_assert_int_eq(peerauth_order(pa, q.type), 0);
	return peerauth_cert_login(pa, k->ca, k->db, q.blob, q.blob_len, user, fpr);
}

/*
 * A subverted peer process claims a certificate user. Certificates and
 * fingerprints are public (DTLS 1.2 sent them in clear; any family
 * member's device holds the CA), so the peer has alice's (an admin's)
 * certificate, but not her key. The monitor refuses: a signature by
 * another valid key of the same CA, random bytes, alice's own signature
 * made for another challenge (another peer's) or with another channel's
 * exporter than the one reported. A proof the monitor never asked for
 * (no challenge, or one already spent) is refused before any check.
 * Certificates the CA did not issue, expired, revoked, not registered,
 * or of a disabled user fail with their own reasons; alice with her key,
 * over the channel's exporter, logs in. Until this change the monitor
 * mapped a fingerprint the peer reported (CERT_USER, now refused above)
 * to alice without any of this.
 */
START_TEST(subverted_peer_cannot_claim_a_cert_user)
{
	struct tun_certkey *alice = NULL, *bob = NULL, *carol = NULL, *dave = NULL;
	struct tun_certkey *erin = NULL, *rogue = NULL;
	struct ca_issued ia, ib, ic, id, ie, ir;
	struct ca_server_names srv = { .cn = "gw", .ip = { "127.0.0.1" }, .nip = 1 };
	uint8_t ex[RPC_EXPORTER_LEN], ex2[RPC_EXPORTER_LEN], other[RPC_CHAL_LEN];
	uint8_t sig[RPC_CERT_SIG_MAX], fpr[AUTHDB_FPR_LEN];
	char user[AUTHDB_NAME_MAX + 1], dbtext[4096], err[200], path[300];
	struct cpki k;
	struct peerauth pa, pa2;
	struct rpc_req q;
	time_t now = time(NULL);
	const uint8_t *der;
	size_t der_len;
	int i;

	memset(&k, 0, sizeof(k));
	make_pki(k.dir, sizeof(k.dir));
	snprintf(k.rogue, sizeof(k.rogue), "/tmp/bgw-rogue-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(k.rogue));
	ck_assert_int_eq(rmdir(k.rogue), 0);
	ck_assert_int_eq(ca_init(k.rogue, "rogue CA", &srv, 30), 0);
	issue(&k, k.dir, "alice", now - 60, now + 86400, &alice, &ia);
	issue(&k, k.dir, "bob", now - 60, now + 86400, &bob, &ib);
	issue(&k, k.dir, "carol", now - 60, now + 86400, &carol, &ic);
	issue(&k, k.dir, "dave", now - 10 * 86400, now - 86400, &dave, &id);
	issue(&k, k.dir, "erin", now - 60, now + 86400, &erin, &ie);
	issue(&k, k.rogue, "alice", now - 60, now + 86400, &rogue, &ir);
	/* bob has a certificate of this CA but is no user here. */
	snprintf(dbtext, sizeof(dbtext),
		 "user alice admin\nuser carol\nuser dave\nuser erin disabled\n");
	cert_line(dbtext, sizeof(dbtext), "alice", &ia);
	cert_line(dbtext, sizeof(dbtext), "carol", &ic);
	cert_line(dbtext, sizeof(dbtext), "dave", &id);
	cert_line(dbtext, sizeof(dbtext), "erin", &ie);
	snprintf(dbtext + strlen(dbtext), sizeof(dbtext) - strlen(dbtext), "revoke %s\n",
		 ic.serial);
	ck_assert_int_eq(authdb_parse_buffer("test", dbtext, strlen(dbtext), &k.db, err,
					     sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/ca.crt", k.dir);
	ck_assert_int_eq(tun_certca_new(&k.ca, path), 0);
	memset(ex, 0x11, sizeof(ex));
	memset(ex2, 0x22, sizeof(ex2));

	peerauth_init(&pa, NULL);
	/* No challenge asked: nothing is checked. */
	memset(&q, 0, sizeof(q));
	der = tun_certkey_der(alice, &der_len);
	memcpy(q.blob, ex, RPC_EXPORTER_LEN);
	put_le16(q.blob + RPC_EXPORTER_LEN, (uint16_t)der_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2, der, der_len);
	memset(q.blob + RPC_EXPORTER_LEN + 2 + der_len, 0x30, 72);
	ck_assert_int_eq(peerauth_cert_login(&pa, k.ca, k.db, q.blob,
					     RPC_EXPORTER_LEN + 2 + der_len + 72, user, fpr),
			 -EPROTO);
	/* alice's public certificate, bob's key: refused, named as claimed. */
	ck_assert_int_eq(cert_login(&pa, &k, alice, bob, NULL, ex, ex, user), -EACCES);
	ck_assert_str_eq(user, "alice");
	/* alice's certificate and random bytes for a signature. */
	{
		uint8_t chal[RPC_CHAL_LEN];

		ck_assert_int_eq(peerauth_challenge(&pa, chal), 0);
		memset(q.blob + RPC_EXPORTER_LEN + 2 + der_len, 0, 72);
		for (i = 0; i < 72; i++)
			q.blob[RPC_EXPORTER_LEN + 2 + der_len + i] = (uint8_t)(i * 37 + 1);
		ck_assert_int_eq(peerauth_cert_login(&pa, k.ca, k.db, q.blob,
						     RPC_EXPORTER_LEN + 2 + der_len + 72,
						     user, fpr), -EACCES);
	}
	/*
	 * alice's real signature, but over another peer's challenge (a
	 * relay of her login elsewhere), or made with another channel's
	 * exporter than the one this peer reports.
	 */
	peerauth_init(&pa2, NULL);
	ck_assert_int_eq(peerauth_challenge(&pa2, other), 0);
	ck_assert_int_eq(cert_login(&pa, &k, alice, alice, other, ex, ex, user), -EACCES);
	ck_assert_int_eq(cert_login(&pa, &k, alice, alice, NULL, ex2, ex, user), -EACCES);
	/* Certificates with their own reasons. */
	ck_assert_int_eq(cert_login(&pa, &k, rogue, rogue, NULL, ex, ex, user), -EKEYREJECTED);
	ck_assert_int_eq(cert_login(&pa, &k, dave, dave, NULL, ex, ex, user), -EKEYEXPIRED);
	ck_assert_int_eq(cert_login(&pa, &k, carol, carol, NULL, ex, ex, user), -EKEYREVOKED);
	ck_assert_int_eq(cert_login(&pa, &k, bob, bob, NULL, ex, ex, user), -ENOENT);
	ck_assert_int_eq(cert_login(&pa, &k, erin, erin, NULL, ex, ex, user), -EPERM);
	ck_assert_str_eq(user, "erin");
	/* alice, with her key, over this channel: in. */
	ck_assert_int_eq(cert_login(&pa, &k, alice, alice, NULL, ex, ex, user), 0);
	ck_assert_str_eq(user, "alice");
	/* The same proof again: the challenge is spent. */
	{
		uint8_t chal[RPC_CHAL_LEN];
		size_t sig_len = 0;

		ck_assert_int_eq(peerauth_challenge(&pa, chal), 0);
		ck_assert_int_eq(tun_certkey_sign(alice, chal, ex, sig, sizeof(sig), &sig_len), 0);
		memcpy(q.blob + RPC_EXPORTER_LEN + 2 + der_len, sig, sig_len);
		ck_assert_int_eq(peerauth_cert_login(&pa, k.ca, k.db, q.blob,
						     RPC_EXPORTER_LEN + 2 + der_len + sig_len,
						     user, fpr), 0);
		ck_assert_int_eq(peerauth_cert_login(&pa, k.ca, k.db, q.blob,
						     RPC_EXPORTER_LEN + 2 + der_len + sig_len,
						     user, fpr), -EPROTO);
	}
	/* Trailing bytes after the certificate's DER are not one certificate. */
	{
		uint8_t chal[RPC_CHAL_LEN];
		size_t sig_len = 0;

		ck_assert_int_eq(peerauth_challenge(&pa, chal), 0);
		ck_assert_int_eq(tun_certkey_sign(alice, chal, ex, sig, sizeof(sig), &sig_len), 0);
		put_le16(q.blob + RPC_EXPORTER_LEN, (uint16_t)(der_len + 1));
		q.blob[RPC_EXPORTER_LEN + 2 + der_len] = 0;
		memcpy(q.blob + RPC_EXPORTER_LEN + 2 + der_len + 1, sig, sig_len);
		ck_assert_int_eq(peerauth_cert_login(&pa, k.ca, k.db, q.blob,
						     RPC_EXPORTER_LEN + 2 + der_len + 1 + sig_len,
						     user, fpr), -EBADMSG);
	}
	peerauth_clear(&pa);
	peerauth_clear(&pa2);
	tun_certkey_free(alice);
	tun_certkey_free(bob);
	tun_certkey_free(carol);
	tun_certkey_free(dave);
	tun_certkey_free(erin);
	tun_certkey_free(rogue);
	ca_issued_wipe(&ia);
	ca_issued_wipe(&ib);
	ca_issued_wipe(&ic);
	ca_issued_wipe(&id);
	ca_issued_wipe(&ie);
	ca_issued_wipe(&ir);
	tun_certca_free(k.ca);
	authdb_free(k.db);
	for (i = 0; i < k.nfiles; i++)
		unlink(k.files[i]);
	rm_pki(k.dir);
	rm_pki(k.rogue);
}
END_TEST

/* TLS 1.2's ServerKeyExchange signature input for an x25519 share. */
static size_t ske(uint8_t *b, uint8_t cr_byte)
{
	memset(b, cr_byte, 32);			/* client_random */
	memset(b + 32, 0x77, 32);		/* server_random */
	b[64] = 3;				/* named_curve */
	b[65] = 0;
	b[66] = 29;				/* x25519 */
	b[67] = 32;
	memset(b + 68, 0x99, 32);
	return 100;
}

/*
 * The signing oracle: a peer gets exactly one signature, and only before
 * its login begins (after the ClientHello, the one moment its own
 * handshake signs); the signed data, where the request shows it, must be
 * its own handshake's: TLS 1.2 ServerKeyExchange input whose
 * client_random is the hello the front verified (DTLS), or TLS 1.3
 * CertificateVerify content over TCP only. Until this change a peer could
 * ask two signatures of anything at any time.
 */
START_TEST(signing_oracle_bound_to_own_handshake)
{
	static const char cv_ctx[] = "TLS 1.3, server CertificateVerify";
	uint8_t rnd[32], b[300], digest[32];
	struct peerauth pa;
	size_t n;

	memset(rnd, 0xc1, sizeof(rnd));
	memset(digest, 0xd1, sizeof(digest));
	/* Order: LOG is fine, one SIGN, never a second. */
	peerauth_init(&pa, rnd);
	ck_assert_int_eq(peerauth_order(&pa, RPC_LOG), 0);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SIGN), 0);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SIGN), -EPROTO);
	ck_assert_int_eq(peerauth_order(&pa, RPC_CERT_CHALLENGE), 0);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SIGN), -EPROTO);
	/* Not after a login request either, even as the first signature. */
	peerauth_init(&pa, rnd);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SCRAM_SALT), 0);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SIGN), -EPROTO);
	peerauth_init(&pa, rnd);
	ck_assert_int_eq(peerauth_order(&pa, RPC_LOGIN_ALLOWED), 0);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SIGN), -EPROTO);
	peerauth_init(&pa, NULL);
	ck_assert_int_eq(peerauth_order(&pa, RPC_LINK), 0);
	ck_assert_int_eq(peerauth_order(&pa, RPC_SIGN), -EPROTO);

	/* Shape, over DTLS: this peer's client_random, nothing else. */
	peerauth_init(&pa, rnd);
	n = ske(b, 0xc1);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), 0);
	n = ske(b, 0xc2);			/* another connection's */
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), -EINVAL);
	n = ske(b, 0xc1);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n - 1), -EINVAL);
	b[n] = 0;
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n + 1), -EINVAL);
	b[67] = 33;				/* a point of the wrong size */
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n + 1), -EINVAL);
	n = ske(b, 0xc1);
	b[64] = 1;				/* explicit_prime curve */
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), -EINVAL);
	n = ske(b, 0xc1);
	b[66] = 22;				/* secp256k1: not ours */
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), -EINVAL);
	n = ske(b, 0xc1);
	b[66] = 23;				/* secp256r1: 65 bytes */
	b[67] = 65;
	memset(b + 68, 4, 65);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, 68 + 65), 0);
	/* Anything else: a message, a TLS 1.3 content (no DTLS 1.3 here). */
	memset(b, 'A', 100);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, 100), -EINVAL);
	memset(b, 0x20, 64);
	memcpy(b + 64, cv_ctx, sizeof(cv_ctx));
	memset(b + 64 + sizeof(cv_ctx), 0x44, 32);
	n = 64 + sizeof(cv_ctx) + 32;
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), -EINVAL);
	/* Over TCP the front read no hello: TLS 1.2's shape, or TLS 1.3's. */
	peerauth_init(&pa, NULL);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), 0);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n - 1), -EINVAL);
	b[0] = 0x21;
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), -EINVAL);
	b[0] = 0x20;
	b[64] = 'X';			/* the client's context, not the server's */
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), -EINVAL);
	n = ske(b, 0xc2);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, b, n), 0);
	/*
	 * A digest (what GnuTLS hands an ECDSA or RSA external key) shows
	 * nothing: the order above is its binding; keysign checks its length.
	 */
	ck_assert_int_eq(peerauth_sign_check(&pa, true, digest, sizeof(digest)), 0);
	ck_assert_int_eq(peerauth_sign_check(&pa, false, NULL, 0), -EINVAL);
}
END_TEST

/* The label the monitor pushes with a peer's link to the core. */
START_TEST(link_label_codec)
{
	struct rpc_label lb, out;
	uint8_t buf[RPC_LABEL_MAX + 8], bad[RPC_LABEL_MAX + 8];
	int n, k;

	memset(&lb, 0, sizeof(lb));
	strcpy(lb.user, "alice");
	strcpy(lb.peer, "[2001:db8::1]:50000");
	lb.cert = true;
	memset(lb.sha256, 0x5a, sizeof(lb.sha256));
	n = rpc_label_encode(&lb, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, RPC_LABEL_MAX);
	ck_assert_int_eq(rpc_label_decode(buf, (size_t)n, &out), 0);
	ck_assert_str_eq(out.user, "alice");
	ck_assert_str_eq(out.peer, "[2001:db8::1]:50000");
	ck_assert(out.cert);
	ck_assert_mem_eq(out.sha256, lb.sha256, sizeof(lb.sha256));
	/* every truncation, and a trailing byte */
	for (k = 0; k < n; k++)
		ck_assert_int_eq(rpc_label_decode(buf, (size_t)k, &out), -EPROTO);
	ck_assert_int_eq(rpc_label_decode(buf, (size_t)n + 1, &out), -EPROTO);
	/* a cert flag that is not a flag */
	memcpy(bad, buf, (size_t)n);
	bad[n - 33] = 2;
	ck_assert_int_eq(rpc_label_decode(bad, (size_t)n, &out), -EPROTO);
	/* a control byte, an embedded NUL in the user */
	memcpy(bad, buf, (size_t)n);
	bad[2] = '\n';
	ck_assert_int_eq(rpc_label_decode(bad, (size_t)n, &out), -EPROTO);
	bad[2] = '\0';
	ck_assert_int_eq(rpc_label_decode(bad, (size_t)n, &out), -EPROTO);
	/* a user longer than any name */
	memcpy(bad, buf, (size_t)n);
	bad[0] = 65;
	ck_assert_int_eq(rpc_label_decode(bad, (size_t)n, &out), -EPROTO);
	/* resume-only: no user */
	lb.user[0] = '\0';
	lb.cert = false;
	n = rpc_label_encode(&lb, buf, sizeof(buf));
	ck_assert_int_eq(rpc_label_decode(buf, (size_t)n, &out), 0);
	ck_assert_str_eq(out.user, "");
	/* the encoder refuses what the decoder would */
	strcpy(lb.user, "a\tb");
	ck_assert_int_eq(rpc_label_encode(&lb, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(keysign_checks_requests)
{
	char dir[64], dir2[64], key[128], cert[128], key2[128], err[300];
	uint8_t h32[32], h48[48], data[300], sig[RPC_RBLOB_MAX];
	struct keysign *ks;
	size_t slen = 0;
	uint64_t t = 1000000;
	unsigned i;

	make_pki(dir, sizeof(dir));
	make_pki(dir2, sizeof(dir2));
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(cert, sizeof(cert), "%s/server.crt", dir);
	snprintf(key2, sizeof(key2), "%s/server.key", dir2);
	/* another gateway's key with this certificate: refused */
	ck_assert_int_eq(keysign_load(&ks, key2, cert, t, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(ks);
	ck_assert_ptr_nonnull(strstr(err, "do not match"));
	ck_assert_int_eq(keysign_load(&ks, key, cert, t, err, sizeof(err)), 0);

	memset(h32, 0xa5, sizeof(h32));
	memset(h48, 0x5a, sizeof(h48));
	memset(data, 'd', sizeof(data));
	/* a SHA-256 digest and data, both verified with the certificate */
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA256, true, h32, 32, sig,
				      sizeof(sig), &slen, t), 0);
	verify_sig(cert, GNUTLS_SIGN_ECDSA_SHA256, true, h32, 32, sig, slen);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, false, data,
				      sizeof(data), sig, sizeof(sig), &slen, t), 0);
	verify_sig(cert, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, false, data, sizeof(data),
		   sig, slen);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA384, true, h48, 48, sig,
				      sizeof(sig), &slen, t), 0);
	/* a digest whose length is not the algorithm's */
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA256, true, h48, 48, sig,
				      sizeof(sig), &slen, t), -EINVAL);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA384, true, h32, 32, sig,
				      sizeof(sig), &slen, t), -EINVAL);
	/* algorithms of other key types, TLS 1.0's raw RSA, nonsense */
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_RSA_SHA256, true, h32, 32, sig,
				      sizeof(sig), &slen, t), -EINVAL);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_RSA_PSS_SHA256, false, data, 10, sig,
				      sizeof(sig), &slen, t), -EINVAL);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_EDDSA_ED25519, false, data, 10, sig,
				      sizeof(sig), &slen, t), -EINVAL);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_RSA_RAW, true, h32, 32, sig,
				      sizeof(sig), &slen, t), -EINVAL);
	ck_assert_int_eq(keysign_sign(ks, 0, true, h32, 32, sig, sizeof(sig), &slen, t),
			 -EINVAL);
	ck_assert_int_eq(keysign_sign(ks, 0xfff0, true, h32, 32, sig, sizeof(sig), &slen, t),
			 -EINVAL);
	/* a signature that does not fit is not truncated */
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA256, true, h32, 32, sig,
				      8, &slen, t), -EOVERFLOW);
	/* the bucket: refused requests spend it too; then one per 1/PER_S s */
	for (i = 0; i < KEYSIGN_BURST; i++)
		keysign_sign(ks, 0, true, h32, 32, sig, sizeof(sig), &slen, t);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA256, true, h32, 32, sig,
				      sizeof(sig), &slen, t), -EAGAIN);
	t += 1000 / KEYSIGN_PER_S;
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA256, true, h32, 32, sig,
				      sizeof(sig), &slen, t), 0);
	ck_assert_int_eq(keysign_sign(ks, GNUTLS_SIGN_ECDSA_SHA256, true, h32, 32, sig,
				      sizeof(sig), &slen, t), -EAGAIN);
	keysign_free(ks);
	keysign_free(NULL);
	rm_pki(dir);
	rm_pki(dir2);
}
END_TEST

/* bgw-muxd status: a snapshot of two sessions and three links. */
static void snap_sample(struct ctl_snap *s)
{
	static const uint8_t a1[6] = { 4, 0, 0, 0, 0xb6, 0x10 };
	static const uint8_t a2[6] = { 0x55, 0x44, 0x33, 0x22, 0x11, 0xc0 };

	memset(s, 0, sizeof(*s));
	s->seq = 7;
	strcpy(s->ctrl, "sim");
	s->up = s->ready = true;
	s->addr.b[0] = 1;
	s->sessions = 2;
	s->nsess = 2;
	s->sess[0] = (struct ctl_session){ .id = 1, .method = CTL_M_CERT,
		.path = CTL_P_DIRECT, .attached = true, .user = "alice",
		.src = "[127.0.0.1]:40000", .since = 1700000000, .rtt_us = 12345,
		.nlinks = 2, .first_link = 0 };
	s->sess[1] = (struct ctl_session){ .id = 3, .method = CTL_M_LOCAL,
		.path = CTL_P_LOCAL, .attached = true, .user = "bob", .src = "uid 1000",
		.since = 1700000100, .nlinks = 1, .first_link = 2 };
	s->nlinks = 3;
	memcpy(s->link[0].addr.b, a1, 6);
	s->link[0].kind = MUX_LINK_BREDR;
	s->link[0].handle = 1;
	strcpy(s->link[0].label, "K\xc3\xbc" "che \"lock\" \\");	/* UTF-8, quotes */
	s->link[0].since = 1700000050;
	s->link[0].bytes_in = 1ull << 40;
	s->link[0].bytes_out = 880;
	memcpy(s->link[1].addr.b, a2, 6);
	s->link[1].addr_type = BDADDR_RANDOM;
	s->link[1].kind = MUX_LINK_LE;
	s->link[1].handle = 0x0eff;
	memcpy(s->link[2].addr.b, a1, 6);
	s->link[2].kind = MUX_LINK_SCO;
	s->link[2].handle = 2;
}

START_TEST(status_snapshot_codec)
{
	static struct ctl_snap s, d;
	uint8_t buf[CTL_SNAP_MAX + 1], m[CTL_SNAP_MAX + 1];
	const char *why;
	uint8_t *at;
	int n;
	size_t k;

	snap_sample(&s);
	n = ctlmsg_snap_encode(&s, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ctlmsg_snap_decode(buf, (size_t)n, &d, &why), 0);
	ck_assert_uint_eq(d.seq, 7);
	ck_assert_str_eq(d.ctrl, "sim");
	ck_assert(d.up && d.ready);
	ck_assert_uint_eq(d.nsess, 2);
	ck_assert_uint_eq(d.nlinks, 3);
	ck_assert_str_eq(d.sess[0].user, "alice");
	ck_assert_uint_eq(d.sess[0].method, CTL_M_CERT);
	ck_assert_uint_eq(d.sess[0].rtt_us, 12345);
	ck_assert_uint_eq(d.sess[1].first_link, 2);
	ck_assert_str_eq(d.link[0].label, s.link[0].label);
	ck_assert(d.link[0].bytes_in == 1ull << 40);
	ck_assert_uint_eq(d.link[1].handle, 0x0eff);
	ck_assert_int_eq(d.link[2].kind, MUX_LINK_SCO);

	/* Every truncation, and one byte more, is refused. */
	for (k = 0; k < (size_t)n; k++)
		ck_assert_int_eq(ctlmsg_snap_decode(buf, k, &d, &why), -EPROTO);
	memcpy(m, buf, (size_t)n);
	m[n] = 0;
	ck_assert_int_eq(ctlmsg_snap_decode(m, (size_t)n + 1, &d, &why), -EPROTO);
	ck_assert_str_eq(why, "trailing bytes");

	/* More sessions than the cap (the count after "sim", flags, address, total). */
	memcpy(m, buf, (size_t)n);
	ck_assert_uint_eq(m[4 + 2 + 3 + 1 + 6 + 1], 2);
	m[4 + 2 + 3 + 1 + 6 + 1] = CTL_SESS_MAX + 1;
	ck_assert_int_eq(ctlmsg_snap_decode(m, (size_t)n, &d, &why), -EPROTO);
	ck_assert_str_eq(why, "too many sessions");

	/* A control byte in a user name; an invalid UTF-8 label. */
	memcpy(m, buf, (size_t)n);
	at = memmem(m, (size_t)n, "alice", 5);
	ck_assert_ptr_nonnull(at);
	at[2] = '\n';
	ck_assert_int_eq(ctlmsg_snap_decode(m, (size_t)n, &d, &why), -EPROTO);
	memcpy(m, buf, (size_t)n);
	at = memmem(m, (size_t)n, "K\xc3\xbc", 3);
	ck_assert_ptr_nonnull(at);
	at[2] = 0x20;		/* a lead byte without its continuation */
	ck_assert_int_eq(ctlmsg_snap_decode(m, (size_t)n, &d, &why), -EPROTO);
	ck_assert_str_eq(why, "link label");
	memcpy(m, buf, (size_t)n);
	at = memmem(m, (size_t)n, "K\xc3\xbc", 3);
	at[1] = 0xc0;		/* an overlong form */
	ck_assert_int_eq(ctlmsg_snap_decode(m, (size_t)n, &d, &why), -EPROTO);

	/* Out-of-range fields. */
	s.sess[0].method = 3;
	n = ctlmsg_snap_encode(&s, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ctlmsg_snap_decode(buf, (size_t)n, &d, &why), -EPROTO);
	snap_sample(&s);
	s.link[2].handle = 0x0f00;
	n = ctlmsg_snap_encode(&s, buf, sizeof(buf));
	ck_assert_int_eq(ctlmsg_snap_decode(buf, (size_t)n, &d, &why), -EPROTO);
	ck_assert_str_eq(why, "link field out of range");

	/* The encoder refuses what the decoder would. */
	snap_sample(&s);
	strcpy(s.sess[1].user, "b\x01");
	ck_assert_int_eq(ctlmsg_snap_encode(&s, buf, sizeof(buf)), -EINVAL);
	snap_sample(&s);
	s.nlinks = 4;
	ck_assert_int_eq(ctlmsg_snap_encode(&s, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ctlmsg_snap_encode(&s, buf, 10), -EINVAL);
	snap_sample(&s);
	ck_assert_int_eq(ctlmsg_snap_encode(&s, buf, 40), -EMSGSIZE);
}
END_TEST

/* Links beyond the cap in all, however they are spread over sessions. */
START_TEST(status_snapshot_link_cap)
{
	static struct ctl_snap s, d;
	static uint8_t buf[CTL_SNAP_MAX];
	const char *why;
	unsigned i;
	int n;

	memset(&s, 0, sizeof(s));
	strcpy(s.ctrl, "hci:0");
	s.nsess = 2;
	for (i = 0; i < 2; i++) {
		s.sess[i].id = i + 1;
		strcpy(s.sess[i].user, "u");
		s.sess[i].nlinks = CTL_LINK_MAX / 2;
		s.sess[i].first_link = i * (CTL_LINK_MAX / 2);
	}
	s.nlinks = CTL_LINK_MAX;
	for (i = 0; i < CTL_LINK_MAX; i++)
		s.link[i].kind = MUX_LINK_LE;
	n = ctlmsg_snap_encode(&s, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ctlmsg_snap_decode(buf, (size_t)n, &d, &why), 0);
	ck_assert_uint_eq(d.nlinks, CTL_LINK_MAX);
	/* The second session claims one more: refused before it is read. */
	s.sess[1].nlinks++;
	s.nlinks++;
	ck_assert_int_eq(ctlmsg_snap_encode(&s, buf, sizeof(buf)), -EINVAL);
	s.sess[1].nlinks--;
	s.nlinks--;
	n = ctlmsg_snap_encode(&s, buf, sizeof(buf));
	/* Its count is the byte after its rtt: patch it in the encoding. */
	{
		size_t off = (size_t)n - (size_t)(CTL_LINK_MAX / 2) * (6 + 1 + 1 + 2 + 1 + 24) - 1;

		ck_assert_uint_eq(buf[off], CTL_LINK_MAX / 2);
		buf[off]++;
		ck_assert_int_eq(ctlmsg_snap_decode(buf, (size_t)n, &d, &why), -EPROTO);
		ck_assert_str_eq(why, "too many links");
	}
}
END_TEST

/*
 * The monitor's rule for the admin's pairing's bond: the device asked,
 * or, asked a private address, an identity whose IRK resolves it; never
 * another address, an IRK that resolves another, a private or
 * non-static identity, or BR/EDR.
 */
START_TEST(pair_bond_rule)
{
	/* 4C:00:00:12:FA:9B is ah(IRK, 4C0000) (t-bonds-gateway.sh). */
	static const uint8_t irk[16] = {
		0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
		0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
	};
	struct mux_pair_dev d = { .le = true, .type = BDADDR_RANDOM };
	struct bdaddr id, other, rpa2;
	uint8_t bad[16];

	ck_assert_int_eq(bdaddr_parse("4C:00:00:12:FA:9B", &d.a), 0);
	ck_assert_int_eq(bdaddr_parse("D0:5E:00:00:00:0C", &id), 0);
	ck_assert_int_eq(bdaddr_parse("10:B6:00:00:00:04", &other), 0);
	ck_assert_int_eq(bdaddr_parse("4C:00:00:12:FA:9C", &rpa2), 0);
	memcpy(bad, irk, 16);
	bad[0] ^= 1;
	ck_assert(ctlmsg_pair_bond_ok(&d, &d.a, BDADDR_RANDOM, true, NULL));
	ck_assert(ctlmsg_pair_bond_ok(&d, &id, BDADDR_RANDOM, true, irk));
	ck_assert(ctlmsg_pair_bond_ok(&d, &other, BDADDR_PUBLIC, true, irk));
	ck_assert(!ctlmsg_pair_bond_ok(&d, &id, BDADDR_RANDOM, true, NULL));
	ck_assert(!ctlmsg_pair_bond_ok(&d, &id, BDADDR_RANDOM, true, bad));
	ck_assert(!ctlmsg_pair_bond_ok(&d, &id, BDADDR_RANDOM, false, irk));
	ck_assert(!ctlmsg_pair_bond_ok(&d, &rpa2, BDADDR_RANDOM, true, irk));
	/* Non-resolvable random: not an identity. */
	id.b[5] = 0x10;
	ck_assert(!ctlmsg_pair_bond_ok(&d, &id, BDADDR_RANDOM, true, irk));
	/* Asked an identity (or a public address): that address only. */
	ck_assert_int_eq(bdaddr_parse("D0:5E:00:00:00:0C", &d.a), 0);
	ck_assert_int_eq(bdaddr_parse("D0:5E:00:00:00:0D", &id), 0);
	ck_assert(!ctlmsg_pair_bond_ok(&d, &id, BDADDR_RANDOM, true, irk));
	d.a = other;
	d.type = BDADDR_PUBLIC;
	d.le = false;
	ck_assert(ctlmsg_pair_bond_ok(&d, &other, BDADDR_PUBLIC, false, NULL));
	ck_assert(!ctlmsg_pair_bond_ok(&d, &other, BDADDR_PUBLIC, true, NULL));
	ck_assert(!ctlmsg_pair_bond_ok(&d, &id, BDADDR_PUBLIC, false, irk));
}
END_TEST

/* bgw-muxd pair: its asks and the core's reports, strictly. */
START_TEST(pair_codec)
{
	struct ctl_pair_msg m = { 7, CTL_PAIR_CONFIRM, 123456, 0, 0 }, d;
	struct ctl_ask a, ad;
	uint8_t buf[CTL_ASK_MAX + 8];
	int n;

	n = ctlmsg_pair_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(n, CTL_PAIR_LEN);
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n, &d), 0);
	ck_assert_uint_eq(d.seq, 7);
	ck_assert_uint_eq(d.value, 123456);
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n - 1, &d), -EPROTO);
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n + 1, &d), -EPROTO);
	buf[4] = 0;	/* what */
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n, &d), -EPROTO);
	buf[4] = CTL_PAIR_ENTER + 1;
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n, &d), -EPROTO);
	buf[4] = CTL_PAIR_ENTER;
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n, &d), 0);
	buf[4] = CTL_PAIR_DONE;
	put_le32(buf + 5, 1000000);	/* a number of seven digits */
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n, &d), -EPROTO);
	put_le32(buf + 5, 0);
	buf[9] = CTL_PAIR_R_MAX + 1;
	ck_assert_int_eq(ctlmsg_pair_decode(buf, (size_t)n, &d), -EPROTO);
	m.value = 1000000;
	ck_assert_int_eq(ctlmsg_pair_encode(&m, buf, sizeof(buf)), -EINVAL);
	/* The asks: an address; yes or no; a cancel names nothing. */
	memset(&a, 0, sizeof(a));
	a.kind = CTL_ASK_PAIR;
	strcpy(a.target, "10:B6:00:00:00:04");
	n = ctlmsg_ask_encode(&a, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &ad), 0);
	a.kind = CTL_ASK_PAIR_ANSWER;
	ck_assert_int_eq(ctlmsg_ask_encode(&a, buf, sizeof(buf)), -EINVAL);
	strcpy(a.target, "yes");
	n = ctlmsg_ask_encode(&a, buf, sizeof(buf));
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &ad), 0);
	buf[6] = 'Y';
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &ad), -EPROTO);
	/* A passkey: one to six digits, nothing else. */
	strcpy(a.target, "012345");
	ck_assert_int_gt(ctlmsg_ask_encode(&a, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ctlmsg_pair_passkey(a.target), 12345);
	ck_assert_int_eq(ctlmsg_pair_passkey("7"), 7);
	ck_assert_int_eq(ctlmsg_pair_passkey("1234567"), -1);
	ck_assert_int_eq(ctlmsg_pair_passkey(""), -1);
	ck_assert_int_eq(ctlmsg_pair_passkey("12a4"), -1);
	ck_assert_int_eq(ctlmsg_pair_passkey("-1"), -1);
	strcpy(a.target, "1234567");
	ck_assert_int_eq(ctlmsg_ask_encode(&a, buf, sizeof(buf)), -EINVAL);
	a.kind = CTL_ASK_PAIR_CANCEL;
	ck_assert_int_eq(ctlmsg_ask_encode(&a, buf, sizeof(buf)), -EINVAL);
	a.target[0] = '\0';
	n = ctlmsg_ask_encode(&a, buf, sizeof(buf));
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &ad), 0);
}
END_TEST

/* bgw-muxd pair's device: BR/EDR, BR/EDR typing, LE of either type; nothing else. */
START_TEST(pair_target_codec)
{
	static const char *const good[] = {
		"10:B6:00:00:00:04", "10:B6:00:00:00:04 keyboard",
		"10:B6:00:00:00:04 le public", "C0:B6:00:00:00:01 le random",
	};
	static const char *const bad[] = {
		"", "10:B6:00:00:00", "10:B6:00:00:00:04 ", "10:B6:00:00:00:04 le",
		"10:B6:00:00:00:04 random", "10:B6:00:00:00:04 le random x",
		"10:B6:00:00:00:04 keyboard le public", "10:B6:00:00:00:04XX le public",
	};
	struct mux_pair_dev d;
	char out[CTL_TARGET_MAX + 1];
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(ctlmsg_pair_target(good[i], &d) == 0, "%s", good[i]);
		ctlmsg_pair_target_fmt(&d, out);
		ck_assert_str_eq(out, good[i]);
	}
	ck_assert_int_eq(ctlmsg_pair_target("C0:B6:00:00:00:01 le random", &d), 0);
	ck_assert(d.le && d.type == BDADDR_RANDOM && !d.keyboard);
	ck_assert_int_eq(ctlmsg_pair_target("10:B6:00:00:00:04 keyboard", &d), 0);
	ck_assert(!d.le && d.type == BDADDR_PUBLIC && d.keyboard);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctlmsg_pair_target(bad[i], &d) == -EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(status_ask_codec)
{
	struct ctl_ask a, d;
	uint8_t buf[CTL_ASK_MAX + 8];
	int n;

	memset(&a, 0, sizeof(a));
	a.seq = 9;
	a.kind = CTL_ASK_KICK;
	strcpy(a.target, "alice");
	n = ctlmsg_ask_encode(&a, buf, sizeof(buf));
	ck_assert_int_eq(n, 4 + 1 + 1 + 5);
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &d), 0);
	ck_assert_uint_eq(d.seq, 9);
	ck_assert_str_eq(d.target, "alice");
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n - 1, &d), -EPROTO);
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n + 1, &d), -EPROTO);
	/* A kick names something; a status nothing; no other kind. */
	buf[4] = CTL_ASK_STATUS;
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &d), -EPROTO);
	buf[4] = 9;
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &d), -EPROTO);
	/* A pairing names an address; "alice" is none. */
	buf[4] = CTL_ASK_PAIR;
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &d), -EPROTO);
	a.target[0] = '\0';
	ck_assert_int_eq(ctlmsg_ask_encode(&a, buf, sizeof(buf)), -EINVAL);
	a.kind = CTL_ASK_STATUS;
	n = ctlmsg_ask_encode(&a, buf, sizeof(buf));
	ck_assert_int_eq(n, 6);
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &d), 0);
	buf[4] = CTL_ASK_KICK;
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n, &d), -EPROTO);
	/* A target with a control byte; one too long. */
	a.kind = CTL_ASK_KICK;
	strcpy(a.target, "a\tb");
	ck_assert_int_eq(ctlmsg_ask_encode(&a, buf, sizeof(buf)), -EINVAL);
	memset(a.target, 'x', CTL_TARGET_MAX);
	a.target[CTL_TARGET_MAX] = '\0';
	n = ctlmsg_ask_encode(&a, buf, sizeof(buf));
	ck_assert_int_eq(n, CTL_ASK_MAX);
	buf[5] = CTL_TARGET_MAX + 1;
	buf[n] = 'x';
	ck_assert_int_eq(ctlmsg_ask_decode(buf, (size_t)n + 1, &d), -EPROTO);
}
END_TEST

/* The JSON rendering escapes what a label may hold. */
START_TEST(status_json_escapes)
{
	static struct ctl_snap s;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	snap_sample(&s);
	f = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(f);
	ctlmsg_print_json(f, &s);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "\"label\":\"K\xc3\xbc" "che \\\"lock\\\" \\\\\""));
	ck_assert_ptr_nonnull(strstr(out, "\"method\":\"certificate\""));
	ck_assert_ptr_nonnull(strstr(out, "\"rtt_ms\":12.345"));
	ck_assert_ptr_nonnull(strstr(out, "\"bytes_in\":1099511627776"));
	free(out);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("muxd_rpc");
	TCase *tc = tcase_create("rpc");

	tcase_add_test(tc, good_requests_round_trip);
	tcase_add_test(tc, malformed_requests_refused);
	tcase_add_test(tc, reader_frames_byte_by_byte);
	tcase_add_test(tc, reader_refuses_header_before_payload);
	tcase_add_test(tc, reply_with_fd_over_socketpair);
	tcase_add_test(tc, scram_verify_bounds);
	tcase_add_test(tc, reply_blob_bounds);
	tcase_add_test(tc, sign_bounds);
	tcase_add_test(tc, keysign_checks_requests);
	tcase_add_test(tc, peer_requests_bounds);
	tcase_add_test(tc, relay_sign_bounds);
	tcase_add_test(tc, bond_requests_bounds);
	tcase_add_test(tc, bond_le_requests_bounds);
	tcase_add_test(tc, le_bond_codec);
	tcase_add_test(tc, bond_pltk_requests_and_codec);
	tcase_add_test(tc, link_label_codec);
	tcase_add_test(tc, status_snapshot_codec);
	tcase_add_test(tc, status_snapshot_link_cap);
	tcase_add_test(tc, status_ask_codec);
	tcase_add_test(tc, pair_codec);
	tcase_add_test(tc, pair_bond_rule);
	tcase_add_test(tc, pair_target_codec);
	tcase_add_test(tc, status_json_escapes);
	tcase_add_test(tc, subverted_peer_cannot_claim_a_cert_user);
	tcase_add_test(tc, signing_oracle_bound_to_own_handshake);
	suite_add_tcase(s, tc);
	return s;
}
