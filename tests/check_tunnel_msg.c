/* SPDX-License-Identifier: MIT */
/* tunnel/msg.c: round trips and every malformed case. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "msg.h"

static int enc(const struct tun_msg *m, uint8_t *buf)
{
	int n = tun_msg_encode(m, buf, TUN_MSG_MAX);

	ck_assert_int_gt(n, 0);
	return n;
}

/* Encode, decode, compare the re-encoding; then every prefix must fail. */
static void round_trip(const struct tun_msg *m)
{
	uint8_t a[TUN_MSG_MAX], b[TUN_MSG_MAX];
	struct tun_msg d;
	size_t used = 0, i;
	int n = enc(m, a);

	ck_assert_int_eq(tun_msg_decode(&d, a, (size_t)n, &used), 0);
	ck_assert_uint_eq(used, (size_t)n);
	ck_assert_int_eq(d.type, m->type);
	ck_assert_int_eq(tun_msg_encode(&d, b, sizeof(b)), n);
	ck_assert_mem_eq(a, b, (size_t)n);
	ck_assert_int_eq(tun_msg_need(a, (size_t)n), 0);
	for (i = 0; i < (size_t)n; i++) {
		ck_assert_int_eq(tun_msg_decode(&d, a, i, &used), -EBADMSG);
		ck_assert_int_eq(tun_msg_need(a, i),
				 (long)(i < TUN_HDR_LEN ? TUN_HDR_LEN - i : (size_t)n - i));
	}
}

static void init(struct tun_msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->version = 1;
	m->type = type;
}

START_TEST(round_trip_every_type)
{
	static const uint8_t h4[] = { 0x01, 0x03, 0x0c, 0x00 };
	static const char scram[] = "n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL";
	uint8_t big[TUN_SEG_MAX];
	struct tun_msg m;
	int i;

	init(&m, TUN_MSG_HELLO);
	m.hello.vmin = 1;
	m.hello.vmax = 3;
	m.hello.mode = TUN_MODE_RESUME;
	round_trip(&m);

	init(&m, TUN_MSG_AUTH);
	m.auth.step = TUN_AUTH_CLIENT_FIRST;
	m.auth.data = (const uint8_t *)scram;
	m.auth.len = sizeof(scram) - 1;
	round_trip(&m);

	init(&m, TUN_MSG_READY);
	m.flags = TUN_F_RESUMED;
	memset(m.ready.sid, 0xa5, TUN_SID_LEN);
	m.ready.resume_s = 30;
	strcpy(m.ready.user, "alice");
	round_trip(&m);

	init(&m, TUN_MSG_HCI);
	m.hci.seq = 0xfffffffe;
	m.hci.data = h4;
	m.hci.len = sizeof(h4);
	round_trip(&m);
	memset(big, 0x42, sizeof(big));
	m.flags = TUN_F_MORE;
	m.hci.data = big;
	m.hci.len = TUN_SEG_MAX;
	round_trip(&m);

	init(&m, TUN_MSG_ACK);
	m.ack.cum = 0xfffffff0;
	m.ack.wnd = 128;
	m.flags = TUN_F_ECHO;
	m.ack.echo = 7;
	m.ack.nsack = TUN_SACK_MAX;
	m.ack.sack[0] = (struct tun_sack){ 0xfffffff2, 0xfffffff4 };
	m.ack.sack[1] = (struct tun_sack){ 0xfffffff8, 2 };	/* wraps */
	for (i = 2; i < TUN_SACK_MAX; i++)
		m.ack.sack[i] = (struct tun_sack){ (uint32_t)(3 * i), (uint32_t)(3 * i + 2) };
	round_trip(&m);

	init(&m, TUN_MSG_KEEPALIVE);
	round_trip(&m);

	init(&m, TUN_MSG_RESUME);
	memset(m.resume.sid, 1, TUN_SID_LEN);
	memset(m.resume.proof, 2, TUN_PROOF_LEN);
	round_trip(&m);

	init(&m, TUN_MSG_CHALLENGE);
	memset(m.challenge.chal, 0x3c, TUN_CHAL_LEN);
	round_trip(&m);

	init(&m, TUN_MSG_CERT_PROOF);
	memset(big, 0x30, sizeof(big));
	m.proof.cert = big;
	m.proof.cert_len = 500;
	m.proof.sig = big + 500;
	m.proof.sig_len = 72;
	round_trip(&m);
	m.proof.cert_len = TUN_BODY_MAX - 4 - 1;	/* the whole body */
	m.proof.sig_len = 1;
	round_trip(&m);

	init(&m, TUN_MSG_CLOSE);
	m.close.code = 11;
	round_trip(&m);		/* an empty text is allowed */
	init(&m, TUN_MSG_ERROR);
	m.close.code = 2;
	strcpy(m.close.text, "versions 2..3 offered, 1..1 spoken");
	round_trip(&m);
}
END_TEST

/* A raw message: header + body as given. */
static size_t raw(uint8_t *out, uint8_t type, uint8_t flags, const void *body,
		  size_t blen)
{
	out[0] = 1;
	out[1] = type;
	out[2] = flags;
	out[3] = 0;
	out[4] = (uint8_t)(blen >> 8);
	out[5] = (uint8_t)blen;
	memcpy(out + 6, body, blen);
	return 6 + blen;
}

static int dec(const uint8_t *b, size_t n)
{
	struct tun_msg m;
	size_t used;

	return tun_msg_decode(&m, b, n, &used);
}

START_TEST(header_errors)
{
	uint8_t b[TUN_MSG_MAX + 16];
	uint8_t body[TUN_BODY_MAX + 2];
	size_t n;

	memset(body, 0, sizeof(body));
	/* Oversized: a declared body over the cap, even if bytes follow. */
	n = raw(b, TUN_MSG_HCI, 0, body, TUN_BODY_MAX + 1);
	ck_assert_int_eq(dec(b, n), -EMSGSIZE);
	ck_assert_int_lt(tun_msg_need(b, 6), 0);
	/* Unknown types. */
	n = raw(b, 0, 0, "", 0);
	ck_assert_int_eq(dec(b, n), -EPROTONOSUPPORT);
	n = raw(b, TUN_MSG_CERT_PROOF + 1, 0, "", 0);
	ck_assert_int_eq(dec(b, n), -EPROTONOSUPPORT);
	n = raw(b, 0xff, 0, "", 0);
	ck_assert_int_eq(dec(b, n), -EPROTONOSUPPORT);
	/* Reserved byte set. */
	n = raw(b, TUN_MSG_KEEPALIVE, 0, "", 0);
	b[3] = 0x80;
	ck_assert_int_eq(dec(b, n), -EPROTO);
	/* Flags a type does not define. */
	n = raw(b, TUN_MSG_KEEPALIVE, 0x01, "", 0);
	ck_assert_int_eq(dec(b, n), -EPROTO);
	n = raw(b, TUN_MSG_HCI, 0x02, "\0\0\0\0\x04", 5);
	ck_assert_int_eq(dec(b, n), -EPROTO);
	/* Two messages back to back: the first is decoded alone. */
	n = raw(b, TUN_MSG_KEEPALIVE, 0, "", 0);
	n += raw(b + n, TUN_MSG_KEEPALIVE, 0, "", 0);
	{
		struct tun_msg m;
		size_t used;

		ck_assert_int_eq(tun_msg_decode(&m, b, n, &used), 0);
		ck_assert_uint_eq(used, 6);
	}
}
END_TEST

START_TEST(wrong_lengths)
{
	uint8_t b[TUN_MSG_MAX + 16];
	uint8_t body[TUN_BODY_MAX + 2];

	memset(body, 0, sizeof(body));
	/* Fixed-size bodies one byte short and one byte long. */
	body[0] = 1; body[1] = 1; body[2] = 1;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, body, 3)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, body, 2)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, body, 4)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_KEEPALIVE, 0, body, 1)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_RESUME, 0, body, 48)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_RESUME, 0, body, 47)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_RESUME, 0, body, 49)), -EPROTO);
	/* HCI: a sequence number and 1..TUN_SEG_MAX bytes. */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HCI, 0, body, 4)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HCI, 0, body, 3)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HCI, 0, body, 4 + TUN_SEG_MAX)), 0);
	/* AUTH: declared length must match what follows. */
	memcpy(body, "\x01\x00\x03" "abc", 6);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 6)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 5)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 7)), -EPROTO);
	memcpy(body, "\x01\x00\x00", 3);	/* empty */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 3)), -EPROTO);
	body[1] = (TUN_AUTH_MAX + 1) >> 8;	/* over the cap */
	body[2] = (uint8_t)(TUN_AUTH_MAX + 1);
	memset(body + 3, 'a', TUN_AUTH_MAX + 1);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 3 + TUN_AUTH_MAX + 1)),
			 -EPROTO);
	memcpy(body, "\x05\x00\x01" "a", 4);	/* step 5 */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 4)), -EPROTO);
	/* READY: a user name of 1..64 bytes. */
	memset(body, 0, sizeof(body));
	body[18] = 1;
	body[19] = 'a';
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 20)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 21)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 19)), -EPROTO);
	body[18] = 0;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 19)), -EPROTO);
	body[18] = TUN_USER_MAX + 1;
	memset(body + 19, 'u', TUN_USER_MAX + 1);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 19 + TUN_USER_MAX + 1)),
			 -EPROTO);
	/* CLOSE: a text over the cap. */
	body[0] = 0; body[1] = 1; body[2] = TUN_TEXT_MAX + 1;
	memset(body + 3, 't', TUN_TEXT_MAX + 1);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CLOSE, 0, body, 3 + TUN_TEXT_MAX + 1)),
			 -EPROTO);
	body[2] = 2;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CLOSE, 0, body, 5)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ERROR, 0, body, 4)), -EPROTO);
}
END_TEST

/*
 * CHALLENGE: exactly 32 bytes. CERT_PROOF: be16 n, n certificate bytes,
 * be16 m, m signature bytes, both non-empty, under their caps, exactly
 * the body: truncated, oversized, wrong-length and trailing cases.
 */
static size_t proof_body(uint8_t *body, size_t cl, size_t sl)
{
	body[0] = (uint8_t)(cl >> 8);
	body[1] = (uint8_t)cl;
	memset(body + 2, 0x30, cl);
	body[2 + cl] = (uint8_t)(sl >> 8);
	body[3 + cl] = (uint8_t)sl;
	memset(body + 4 + cl, 0x02, sl);
	return 4 + cl + sl;
}

START_TEST(cert_login_messages)
{
	uint8_t b[TUN_MSG_MAX + 16];
	uint8_t body[TUN_BODY_MAX + 16];
	uint8_t wide[2 * TUN_MSG_MAX];
	struct tun_msg m;
	size_t n, used;

	memset(body, 0, sizeof(body));
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CHALLENGE, 0, body, TUN_CHAL_LEN)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CHALLENGE, 0, body, TUN_CHAL_LEN - 1)),
			 -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CHALLENGE, 0, body, TUN_CHAL_LEN + 1)),
			 -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CHALLENGE, 1, body, TUN_CHAL_LEN)), -EPROTO);

	n = proof_body(body, 400, 72);
	ck_assert_int_eq(tun_msg_decode(&m, b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n),
					&used), 0);
	ck_assert_uint_eq(m.proof.cert_len, 400);
	ck_assert_uint_eq(m.proof.sig_len, 72);
	ck_assert_ptr_eq(m.proof.cert, b + 6 + 2);
	ck_assert_ptr_eq(m.proof.sig, b + 6 + 2 + 400 + 2);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 1, body, n)), -EPROTO);
	/* A byte short (the signature runs past the body), a byte more. */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n - 1)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n + 1)), -EPROTO);
	/* Truncated inside the certificate, inside the second length. */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, 100)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, 2 + 400 + 1)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, 1)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, 0)), -EPROTO);
	/* Empty certificate, empty signature. */
	n = proof_body(body, 0, 72);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n)), -EPROTO);
	n = proof_body(body, 400, 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n)), -EPROTO);
	/* A signature over its cap, though the body would hold it. */
	n = proof_body(body, 100, TUN_CERT_SIG_MAX + 1);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n)), -EPROTO);
	n = proof_body(body, 100, TUN_CERT_SIG_MAX);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n)), 0);
	/* A certificate length that claims more than the body. */
	n = proof_body(body, 400, 72);
	body[0] = 0x04;		/* 1024 + 400 */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n)), -EPROTO);
	body[0] = 0xff;
	body[1] = 0xff;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, n)), -EPROTO);
	/* Over the body cap: refused from the header. */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_CERT_PROOF, 0, body, TUN_BODY_MAX + 1)),
			 -EMSGSIZE);
	/* Encoding refuses what decoding would. */
	memset(&m, 0, sizeof(m));
	m.version = 2;
	m.type = TUN_MSG_CERT_PROOF;
	m.proof.cert = body;
	m.proof.sig = body;
	m.proof.cert_len = 0;
	m.proof.sig_len = 10;
	ck_assert_int_eq(tun_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.proof.cert_len = 10;
	m.proof.sig_len = TUN_CERT_SIG_MAX + 1;
	ck_assert_int_eq(tun_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.proof.cert_len = 900;
	m.proof.sig_len = 200;		/* each under its cap, together too long */
	ck_assert_int_eq(tun_msg_encode(&m, wide, sizeof(wide)), -EINVAL);
}
END_TEST

START_TEST(embedded_nul_and_controls)
{
	uint8_t b[TUN_MSG_MAX];
	uint8_t body[64];
	struct tun_msg m;

	memset(body, 0, sizeof(body));
	body[18] = 3;
	memcpy(body + 19, "a\0b", 3);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 22)), -EPROTO);
	memcpy(body + 19, "a\nb", 3);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 22)), -EPROTO);
	memcpy(body + 19, "a\x7f" "b", 3);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 22)), -EPROTO);
	memcpy(body + 19, "\xc3\xa9" "b", 3);	/* UTF-8 passes */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_READY, 0, body, 22)), 0);
	memcpy(body, "\x00\x01\x03" "x\0y", 6);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ERROR, 0, body, 6)), -EPROTO);
	memcpy(body, "\x03\x00\x03" "x\0y", 6);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 6)), -EPROTO);
	memcpy(body, "\x03\x00\x03" "x\ry", 6);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_AUTH, 0, body, 6)), -EPROTO);

	/* The encoder refuses them too rather than sending them. */
	init(&m, TUN_MSG_ERROR);
	strcpy(m.close.text, "line\nforged");
	ck_assert_int_eq(tun_msg_encode(&m, b, sizeof(b)), -EINVAL);
	init(&m, TUN_MSG_READY);
	ck_assert_int_eq(tun_msg_encode(&m, b, sizeof(b)), -EINVAL);	/* no user */
	init(&m, TUN_MSG_HCI);
	ck_assert_int_eq(tun_msg_encode(&m, b, sizeof(b)), -EINVAL);	/* empty */
	init(&m, TUN_MSG_KEEPALIVE);
	ck_assert_int_eq(tun_msg_encode(&m, b, 5), -ENOSPC);
}
END_TEST

START_TEST(field_ranges)
{
	uint8_t b[TUN_MSG_MAX];
	uint8_t body[256];

	/* HELLO: vmin 0, vmin > vmax, unknown mode. */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, "\0\1\1", 3)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, "\2\1\1", 3)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, "\1\1\4", 3)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_HELLO, 0, "\1\1\0", 3)), -EPROTO);
	/* ACK: too many ranges, empty range, range at or below cum, far. */
	memset(body, 0, sizeof(body));
	body[3] = 10;				/* cum 10 */
	body[10] = TUN_SACK_MAX + 1;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 11 + 8 * (TUN_SACK_MAX + 1))),
			 -EPROTO);
	body[10] = 1;
	body[14] = 12; body[18] = 12;		/* [12,12) */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 19)), -EPROTO);
	body[14] = 10; body[18] = 12;		/* starts at cum */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 19)), -EPROTO);
	body[14] = 11; body[18] = 12;		/* fine */
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 19)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, TUN_F_ECHO, body, 19)), 0);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0x02, body, 19)), -EPROTO);
	body[12] = 0x01;			/* start 65536 + 1 past cum */
	body[16] = 0x01;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 19)), -EPROTO);
	body[12] = 0;				/* end before start */
	body[16] = 0;
	body[18] = 10;
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 19)), -EPROTO);
	ck_assert_int_eq(dec(b, raw(b, TUN_MSG_ACK, 0, body, 18)), -EPROTO);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_msg");
	TCase *tc = tcase_create("msg");

	tcase_add_test(tc, round_trip_every_type);
	tcase_add_test(tc, header_errors);
	tcase_add_test(tc, wrong_lengths);
	tcase_add_test(tc, embedded_nul_and_controls);
	tcase_add_test(tc, field_ranges);
	tcase_add_test(tc, cert_login_messages);
	suite_add_tcase(s, tc);
	return s;
}
