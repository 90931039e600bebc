/* SPDX-License-Identifier: MIT */
/*
 * relay/: the codec (every message, truncated, oversized, wrong length,
 * trailing bytes), the home id, and the engine's rules driven directly
 * with a fake clock and a capture of what it sends.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "check_main.h"
#include "log.h"
#include "homeid.h"
#include "relay.h"
#include "rmsg.h"
#include "rsign.h"

/* A fixed P-256 key: its home id below was computed with openssl/python. */
static const char fixed_key_pem[] =
"-----BEGIN PRIVATE KEY-----\n"
"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdPvek2imSyOdPbLX\n"
"cG9Me0kARVv2UVsR8W34OQ6F5xuhRANCAARhMRGSJgFfS1fO8ub2yxMDnAmXjqlV\n"
"iApv7AmJ1g0AXI6TQ7OsE12L2bfvgD6SX92GnhuQ9c7ojUZkMGkz+62z\n"
"-----END PRIVATE KEY-----\n";
static const char fixed_id_text[] = "pvtiwdven7uyitxknngn3zbl34";

/* ---- helpers ---- */

static gnutls_privkey_t key_fixed(void)
{
	gnutls_privkey_t k;
	gnutls_datum_t d = { (unsigned char *)fixed_key_pem, sizeof(fixed_key_pem) - 1 };

	ck_assert_int_eq(gnutls_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_privkey_import_x509_raw(k, &d, GNUTLS_X509_FMT_PEM,
							NULL, 0), 0);
	return k;
}

static gnutls_privkey_t key_new(gnutls_pk_algorithm_t pk, unsigned bits)
{
	gnutls_privkey_t k;

	ck_assert_int_eq(gnutls_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_privkey_generate(k, pk, bits, 0), 0);
	return k;
}

#define CAP_MAX 64

struct sent {
	struct rmsg_addr to;
	uint8_t buf[RMSG_MAX];
	size_t len;
};

struct cap {
	struct sent s[CAP_MAX];
	size_t n;
};

static struct cap cap;
static uint64_t now_us = 1000000000ull;

static void cap_send(void *user, const struct rmsg_addr *to, const void *buf, size_t len)
{
	(void)user;
	ck_assert_uint_lt(cap.n, CAP_MAX);
	ck_assert_uint_le(len, RMSG_MAX);
	cap.s[cap.n].to = *to;
	memcpy(cap.s[cap.n].buf, buf, len);
	cap.s[cap.n].len = len;
	cap.n++;
}

/* The relay's Unix clock for certificate dates: fixed, moved by tests. */
static int64_t wall_now = 1800000000;

static int64_t fake_wall(void *user)
{
	(void)user;
	return wall_now;
}

static const struct relay_ops ops = { .send = cap_send, .wall_s = fake_wall };

static struct rmsg_addr addr4(uint8_t last, uint16_t port)
{
	struct rmsg_addr a = { .family = 4, .port = port };

	a.a[0] = 198;
	a.a[1] = 51;
	a.a[2] = 100;
	a.a[3] = last;
	return a;
}

static struct relay *relay_test_new(struct relay_conf *c)
{
	struct relay_conf d;
	struct relay *r;

	if (!c) {
		relay_conf_default(&d);
		c = &d;
	}
	cap.n = 0;
	r = relay_new(c, &ops, NULL, now_us);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Feed one message; return the number of datagrams the relay sent. */
static size_t feed(struct relay *r, const struct rmsg_addr *from, const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	cap.n = 0;
	relay_input(r, from, buf, (size_t)n, now_us);
	return cap.n;
}

static void got(size_t i, uint8_t type, struct rmsg *out)
{
	ck_assert_uint_lt(i, cap.n);
	ck_assert_int_eq(rmsg_decode(out, cap.s[i].buf, cap.s[i].len), 0);
	ck_assert_int_eq(out->type, type);
}

static bool addr_eq(const struct rmsg_addr *a, const struct rmsg_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->a, b->a, 16) == 0;
}

static void challenge(struct relay *r, const struct rmsg_addr *from, uint8_t hello,
		      const uint8_t id[RMSG_ID_LEN], struct rmsg *ch)
{
	struct rmsg m = { .type = hello };

	memcpy(m.id, id, RMSG_ID_LEN);
	ck_assert_uint_eq(feed(r, from, &m), 1);
	got(0, hello == RMSG_REG_HELLO ? RMSG_REG_CHALLENGE : RMSG_CONN_CHALLENGE, ch);
	/* No amplification: the answer is no longer than the request. */
	ck_assert_uint_le(cap.s[0].len, (size_t)(RMSG_HDR_LEN + rmsg_body_len(hello)));
	ck_assert_mem_eq(ch->id, id, RMSG_ID_LEN);
}

/* Register key's id from `from`; returns what the relay answered. */
static uint8_t do_register(struct relay *r, gnutls_privkey_t key,
			   const struct rmsg_addr *from, struct rmsg *reply)
{
	struct rsign rs;
	struct rmsg ch, m;
	uint8_t id[RMSG_ID_LEN];

	ck_assert_int_eq(rsign_key(key, &rs, id), 0);
	challenge(r, from, RMSG_REG_HELLO, id, &ch);
	ck_assert_int_eq(rsign_register(key, &ch, &rs, &m), 0);
	ck_assert_uint_eq(feed(r, from, &m), 1);
	ck_assert_int_eq(rmsg_decode(reply, cap.s[0].buf, cap.s[0].len), 0);
	ck_assert(addr_eq(&cap.s[0].to, from));
	return reply->type;
}

/* ---- codec ---- */

static const uint8_t blob[RMSG_DATA_MAX] = { 1, 2, 3 };

static void sample(uint8_t type, struct rmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	memset(m->id, 0xa5, sizeof(m->id));
	m->ts = 0x01020304;
	memset(m->cookie, 0x5a, sizeof(m->cookie));
	memset(m->token, 0x33, sizeof(m->token));
	m->keepalive_s = 15;
	m->expiry_s = 50;
	m->chan = 0xdeadbeef;
	m->code = RMSG_REFUSE_UNAVAILABLE;
	m->addr = addr4(7, 40000);
	m->spki = blob;
	m->spki_len = 91;
	m->sig = blob;
	m->sig_len = 72;
	m->cert = blob;
	m->cert_len = 400;
	m->data = blob;
	m->data_len = 100;
}

START_TEST(codec_round_trip_and_prefixes)
{
	uint8_t a[RMSG_MAX + 8], b[RMSG_MAX + 8];
	struct rmsg m, d;
	uint8_t t;
	size_t i;
	int n;

	for (t = 1; t <= RMSG_TYPE_MAX; t++) {
		sample(t, &m);
		n = rmsg_encode(&m, a, sizeof(a));
		ck_assert_int_gt(n, RMSG_HDR_LEN);
		if (rmsg_body_len(t) >= 0)
			ck_assert_int_eq(n, RMSG_HDR_LEN + rmsg_body_len(t));
		ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), 0);
		ck_assert_int_eq(d.type, t);
		ck_assert_int_eq(rmsg_encode(&d, b, sizeof(b)), n);
		ck_assert_mem_eq(a, b, (size_t)n);
		/* Truncated: every prefix fails. */
		for (i = 0; i < (size_t)n; i++)
			ck_assert_int_eq(rmsg_decode(&d, a, i), -EBADMSG);
		/*
		 * Trailing bytes: refused; and with the length adjusted too,
		 * except for DATA, whose payload is the rest.
		 */
		a[n] = 0;
		ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n + 1), -EBADMSG);
		a[2] = (uint8_t)((n + 1 - RMSG_HDR_LEN) >> 8);
		a[3] = (uint8_t)(n + 1 - RMSG_HDR_LEN);
		ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n + 1),
				 t == RMSG_DATA ? 0 : -EBADMSG);
		/* Encoding into too small a buffer fails whole. */
		ck_assert_int_eq(rmsg_encode(&m, b, (size_t)n - 1), -EMSGSIZE);
	}
}
END_TEST

START_TEST(codec_header_rules)
{
	uint8_t a[RMSG_MAX + 8];
	struct rmsg m, d;
	int n;

	sample(RMSG_KEEPALIVE, &m);
	n = rmsg_encode(&m, a, sizeof(a));
	a[0] = 2;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EPROTONOSUPPORT);
	a[0] = RMSG_VERSION;
	a[1] = 0;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[1] = RMSG_TYPE_MAX + 1;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	/* Declared length larger / smaller than what is there. */
	a[1] = RMSG_KEEPALIVE;
	a[3]++;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[3] -= 2;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	/* A fixed type with a consistent but wrong length. */
	a[3]++;
	a[1] = RMSG_KEEPALIVE_ACK;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	ck_assert_int_eq(rmsg_decode(&d, NULL, 0), -EBADMSG);
}
END_TEST

START_TEST(codec_field_caps)
{
	uint8_t a[RMSG_MAX + 8];
	struct rmsg m, d;
	int n;

	/* REGISTER: key and signature capped, both ways. */
	sample(RMSG_REGISTER, &m);
	m.spki_len = RMSG_SPKI_MAX + 1;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
	m.spki_len = 0;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
	m.spki_len = 91;
	m.sig_len = RMSG_SIG_MAX + 1;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
	m.sig_len = 72;
	n = rmsg_encode(&m, a, sizeof(a));
	ck_assert_int_gt(n, 0);
	/* An inner length pointing past the end, or short of it. */
	a[RMSG_HDR_LEN + 36] = 0;
	a[RMSG_HDR_LEN + 37] = 92;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[RMSG_HDR_LEN + 37] = 90;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[RMSG_HDR_LEN + 37] = 91;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), 0);
	/*
	 * REGISTER2: each part non-empty and capped, both ways; each inner
	 * length checked against what follows; at its largest it still fits
	 * one datagram under the IPv6 minimum MTU.
	 */
	{
		static const struct { size_t off_len; uint16_t good; } part[] = {
			{ RMSG_HDR_LEN + 36, 91 },		/* spki */
			{ RMSG_HDR_LEN + 36 + 2 + 91, 400 },	/* cert */
			{ RMSG_HDR_LEN + 36 + 2 + 91 + 2 + 400, 72 }, /* sig */
		};
		size_t k;

		sample(RMSG_REGISTER2, &m);
		m.cert_len = 0;
		ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
		m.cert_len = RMSG_CERT_MAX + 1;
		ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
		m.cert = NULL;
		m.cert_len = 400;
		ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
		m.cert = blob;
		m.spki_len = RMSG_SPKI_MAX + 1;
		ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
		m.spki_len = 91;
		m.sig_len = 0;
		ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
		m.sig_len = RMSG_SIG_MAX + 1;
		ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
		m.sig_len = 72;
		n = rmsg_encode(&m, a, sizeof(a));
		ck_assert_int_eq(n, RMSG_HDR_LEN + 36 + 2 + 91 + 2 + 400 + 2 + 72);
		ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), 0);
		ck_assert_uint_eq(d.cert_len, 400);
		ck_assert_ptr_eq(d.cert, a + part[1].off_len + 2);
		ck_assert_mem_eq(d.cert, blob, 400);
		ck_assert_uint_eq(d.spki_len, 91);
		ck_assert_uint_eq(d.sig_len, 72);
		for (k = 0; k < 3; k++) {
			uint8_t *l = a + part[k].off_len;
			uint16_t v;

			/* One more, one less, zero: the rest no longer adds up. */
			for (v = 0; v < 3; v++) {
				uint16_t bad = v == 0 ? part[k].good + 1 :
					       v == 1 ? part[k].good - 1 : 0;

				l[0] = (uint8_t)(bad >> 8);
				l[1] = (uint8_t)bad;
				ck_assert_msg(rmsg_decode(&d, a, (size_t)n) == -EBADMSG,
					      "part %zu length %u taken", k, bad);
			}
			l[0] = (uint8_t)(part[k].good >> 8);
			l[1] = (uint8_t)part[k].good;
			ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), 0);
		}
		/* Every part at its cap: RMSG_REGISTER2_MAX, decoded back. */
		m.spki_len = RMSG_SPKI_MAX;
		m.cert_len = RMSG_CERT_MAX;
		m.sig_len = RMSG_SIG_MAX;
		n = rmsg_encode(&m, a, sizeof(a));
		ck_assert_int_eq(n, RMSG_REGISTER2_MAX);
		ck_assert_int_le(n, RMSG_MAX);
		ck_assert_int_le(n + 8 + 40, 1280);	/* UDP, IPv6 headers */
		ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), 0);
		/*
		 * A certificate one byte over the cap, in a datagram whose
		 * lengths all add up: refused for the cap alone.
		 */
		{
			size_t body = 36 + 2 + 91 + 2 + RMSG_CERT_MAX + 1 + 2 + 72, o = 0;

			memset(a, 0, sizeof(a));
			a[o++] = RMSG_VERSION;
			a[o++] = RMSG_REGISTER2;
			a[o++] = (uint8_t)(body >> 8);
			a[o++] = (uint8_t)body;
			o += 36;
			a[o++] = 0;
			a[o++] = 91;
			o += 91;
			a[o++] = (uint8_t)((RMSG_CERT_MAX + 1) >> 8);
			a[o++] = (uint8_t)(RMSG_CERT_MAX + 1);
			o += RMSG_CERT_MAX + 1;
			a[o++] = 0;
			a[o++] = 72;
			o += 72;
			ck_assert_uint_eq(o, RMSG_HDR_LEN + body);
			ck_assert_int_eq(rmsg_decode(&d, a, o), -EBADMSG);
			/* The same with the cap exactly: taken. */
			body--;
			a[2] = (uint8_t)(body >> 8);
			a[3] = (uint8_t)body;
			a[RMSG_HDR_LEN + 36 + 2 + 91 + 1] = (uint8_t)RMSG_CERT_MAX;
			a[RMSG_HDR_LEN + 36 + 2 + 91] = (uint8_t)(RMSG_CERT_MAX >> 8);
			memmove(a + RMSG_HDR_LEN + 36 + 2 + 91 + 2 + RMSG_CERT_MAX,
				a + RMSG_HDR_LEN + 36 + 2 + 91 + 2 + RMSG_CERT_MAX + 1, 74);
			ck_assert_int_eq(rmsg_decode(&d, a, o - 1), 0);
		}
	}
	/* DATA: at most RMSG_DATA_MAX, not empty. */
	sample(RMSG_DATA, &m);
	m.data_len = RMSG_DATA_MAX;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), RMSG_MAX);
	m.data_len = RMSG_DATA_MAX + 1;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
	m.data_len = 0;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
	a[0] = RMSG_VERSION;
	a[1] = RMSG_DATA;
	a[2] = (RMSG_DATA_MAX + 5) >> 8;
	a[3] = (uint8_t)(RMSG_DATA_MAX + 5);
	ck_assert_int_eq(rmsg_decode(&d, a, RMSG_MAX + 1), -EBADMSG);
	/* Channel 0 is never valid. */
	sample(RMSG_CLOSE, &m);
	m.chan = 0;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
}
END_TEST

START_TEST(codec_padding_and_addresses)
{
	uint8_t a[RMSG_MAX];
	struct rmsg m, d;
	int n;

	/* HELLO padding must be zero (one encoding, nothing smuggled). */
	sample(RMSG_CONN_HELLO, &m);
	n = rmsg_encode(&m, a, sizeof(a));
	a[n - 1] = 1;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	/* REFUSED: known codes only, zero padding. */
	sample(RMSG_REFUSED, &m);
	m.code = RMSG_REFUSE_MAX + 1;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
	m.code = RMSG_REFUSE_LIMIT;
	n = rmsg_encode(&m, a, sizeof(a));
	a[n - 1] = 1;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	/* Addresses: family, zero byte, port, IPv4 tail. */
	sample(RMSG_PEER, &m);
	n = rmsg_encode(&m, a, sizeof(a));
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), 0);
	a[RMSG_HDR_LEN + 20] = 5;		/* family */
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[RMSG_HDR_LEN + 20] = 4;
	a[RMSG_HDR_LEN + 21] = 1;		/* reserved */
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[RMSG_HDR_LEN + 21] = 0;
	a[RMSG_HDR_LEN + 30] = 1;		/* IPv4 tail */
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	a[RMSG_HDR_LEN + 30] = 0;
	a[RMSG_HDR_LEN + 22] = 0;		/* port 0 */
	a[RMSG_HDR_LEN + 23] = 0;
	ck_assert_int_eq(rmsg_decode(&d, a, (size_t)n), -EBADMSG);
	/* REGISTERED: the expiry must exceed the keepalive. */
	sample(RMSG_REGISTERED, &m);
	m.expiry_s = m.keepalive_s;
	ck_assert_int_eq(rmsg_encode(&m, a, sizeof(a)), -EINVAL);
}
END_TEST

/* ---- home id ---- */

START_TEST(homeid_vector_and_text)
{
	gnutls_privkey_t k = key_fixed();
	struct rsign rs;
	uint8_t id[HOMEID_LEN], back[HOMEID_LEN];
	char text[HOMEID_TEXT_LEN + 1];
	char upper[HOMEID_TEXT_LEN + 1];
	size_t i;

	ck_assert_int_eq(rsign_key(k, &rs, id), 0);
	ck_assert_uint_eq(rs.spki_len, 91);
	homeid_to_text(id, text);
	ck_assert_str_eq(text, fixed_id_text);
	ck_assert_int_eq(homeid_parse(text, back), 0);
	ck_assert_mem_eq(id, back, HOMEID_LEN);
	for (i = 0; i < HOMEID_TEXT_LEN; i++)
		upper[i] = (char)(text[i] >= 'a' ? text[i] - 32 : text[i]);
	upper[HOMEID_TEXT_LEN] = '\0';
	ck_assert_int_eq(homeid_parse(upper, back), 0);
	ck_assert_mem_eq(id, back, HOMEID_LEN);
	/* Wrong length, bad character, non-zero unused bits. */
	ck_assert_int_eq(homeid_parse("pvtiwdven7uyitxknngn3zbl3", back), -EINVAL);
	ck_assert_int_eq(homeid_parse("pvtiwdven7uyitxknngn3zbl344", back), -EINVAL);
	ck_assert_int_eq(homeid_parse("pvtiwdven7uyitxknngn3zbl31", back), -EINVAL);
	ck_assert_int_eq(homeid_parse("pvtiwdven7uyitxknngn3zbl35", back), -EINVAL);
	ck_assert_int_eq(homeid_parse("", back), -EINVAL);
	gnutls_privkey_deinit(k);
}
END_TEST

/* A CA-like certificate for the fixed key: its id is the key's id. */
START_TEST(homeid_from_certificate)
{
	gnutls_x509_privkey_t xk;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)fixed_key_pem, sizeof(fixed_key_pem) - 1 };
	gnutls_datum_t pem = { NULL, 0 };
	uint8_t id[HOMEID_LEN], serial[1] = { 1 };
	char text[HOMEID_TEXT_LEN + 1];
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

	ck_assert_int_eq(gnutls_x509_privkey_init(&xk), 0);
	ck_assert_int_eq(gnutls_x509_privkey_import(xk, &d, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, 1700000000), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, 2000000000), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn(crt, "CN=bgw test CA", NULL), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_key(crt, xk), 0);
	ck_assert_int_eq(gnutls_x509_crt_sign2(crt, crt, xk, GNUTLS_DIG_SHA256, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), 0);
	ck_assert_int_eq(homeid_from_cert_pem((const char *)pem.data, pem.size, id), 0);
	homeid_to_text(id, text);
	ck_assert_str_eq(text, fixed_id_text);
	ck_assert_int_eq(homeid_from_cert_pem(junk, sizeof(junk) - 1, id), -EBADMSG);
	ck_assert_int_eq(homeid_from_cert_pem(junk, 0, id), -EBADMSG);
	ck_assert_int_eq(homeid_from_spki(NULL, 0, id), -EINVAL);
	gnutls_free(pem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(xk);
}
END_TEST

/* ---- engine ---- */

START_TEST(register_good_and_keepalive)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t k = key_fixed();
	struct rmsg_addr gw = addr4(10, 5000);
	struct rmsg reg, m = { .type = RMSG_KEEPALIVE };
	struct relay_stats st;

	ck_assert_int_eq(do_register(r, k, &gw, &reg), RMSG_REGISTERED);
	ck_assert(addr_eq(&reg.addr, &gw));	/* its reflexive address */
	ck_assert_uint_eq(reg.keepalive_s, 15);
	memcpy(m.id, reg.id, RMSG_ID_LEN);
	memcpy(m.token, reg.token, RMSG_TOKEN_LEN);
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_KEEPALIVE_ACK, &m);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 1);
	ck_assert_uint_eq(st.registered, 1);
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

START_TEST(register_ed25519)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t k = key_new(GNUTLS_PK_EDDSA_ED25519, 256);
	struct rmsg_addr gw = addr4(10, 5000);
	struct rmsg reg;

	ck_assert_int_eq(do_register(r, k, &gw, &reg), RMSG_REGISTERED);
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

START_TEST(register_bad_signature)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t k = key_fixed();
	struct rmsg_addr gw = addr4(10, 5000);
	struct rsign rs;
	struct rmsg ch, m, out;
	struct relay_stats st;
	uint8_t id[RMSG_ID_LEN], sig[RMSG_SIG_MAX];

	ck_assert_int_eq(rsign_key(k, &rs, id), 0);
	challenge(r, &gw, RMSG_REG_HELLO, id, &ch);
	ck_assert_int_eq(rsign_register(k, &ch, &rs, &m), 0);
	memcpy(sig, m.sig, m.sig_len);
	sig[m.sig_len - 1] ^= 1;
	m.sig = sig;
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_REFUSED, &out);
	ck_assert_int_eq(out.code, RMSG_REFUSE_BAD_PROOF);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 0);
	ck_assert_uint_eq(st.bad_proofs, 1);
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

/*
 * An attacker with its own key claims the family's id: the challenge is
 * for the family's id, the attacker signs it with its key and sends its
 * SPKI. The key does not hash to the id: refused, and the family's
 * registration stays where it was.
 */
START_TEST(register_foreign_id_refused)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t fam = key_fixed();
	gnutls_privkey_t evil = key_new(GNUTLS_PK_ECDSA, 256);
	struct rmsg_addr gw = addr4(10, 5000), att = addr4(66, 6666);
	struct rsign rs;
	struct rmsg ch, m, out, reg, conn, con;
	uint8_t fam_id[RMSG_ID_LEN], evil_id[RMSG_ID_LEN];

	ck_assert_int_eq(do_register(r, fam, &gw, &reg), RMSG_REGISTERED);
	ck_assert_int_eq(rsign_key(fam, &rs, fam_id), 0);
	ck_assert_int_eq(rsign_key(evil, &rs, evil_id), 0);
	challenge(r, &att, RMSG_REG_HELLO, fam_id, &ch);
	ck_assert_int_eq(rsign_register(evil, &ch, &rs, &m), 0);
	ck_assert_mem_eq(m.id, fam_id, RMSG_ID_LEN);
	ck_assert_uint_eq(feed(r, &att, &m), 1);
	got(0, RMSG_REFUSED, &out);
	ck_assert_int_eq(out.code, RMSG_REFUSE_BAD_PROOF);
	/* The family's own SPKI with the attacker's signature: refused too. */
	ck_assert_int_eq(rsign_register(evil, &ch, &rs, &m), 0);
	{
		struct rsign fr;
		uint8_t tmp[RMSG_ID_LEN];

		ck_assert_int_eq(rsign_key(fam, &fr, tmp), 0);
		m.spki = fr.spki;
		m.spki_len = fr.spki_len;
		ck_assert_uint_eq(feed(r, &att, &m), 1);
		got(0, RMSG_REFUSED, &out);
		ck_assert_int_eq(out.code, RMSG_REFUSE_BAD_PROOF);
	}
	/* A CD still reaches the family's gateway, not the attacker. */
	challenge(r, &(struct rmsg_addr){ .family = 4, .port = 7000,
		  .a = { 203, 0, 113, 5 } }, RMSG_CONN_HELLO, fam_id, &ch);
	conn = ch;
	conn.type = RMSG_CONNECT;
	ck_assert_uint_eq(feed(r, &(struct rmsg_addr){ .family = 4, .port = 7000,
				.a = { 203, 0, 113, 5 } }, &conn), 2);
	got(0, RMSG_PEER, &con);
	ck_assert(addr_eq(&cap.s[0].to, &gw));
	relay_free(r);
	gnutls_privkey_deinit(fam);
	gnutls_privkey_deinit(evil);
}
END_TEST

START_TEST(register_cookie_first)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t k = key_fixed();
	struct rmsg_addr gw = addr4(10, 5000), other = addr4(11, 5000);
	struct rsign rs;
	struct rmsg ch, m;
	struct relay_stats st;
	uint8_t id[RMSG_ID_LEN];

	ck_assert_int_eq(rsign_key(k, &rs, id), 0);
	challenge(r, &gw, RMSG_REG_HELLO, id, &ch);
	ck_assert_int_eq(rsign_register(k, &ch, &rs, &m), 0);
	/* From another address: the cookie does not match, no answer. */
	ck_assert_uint_eq(feed(r, &other, &m), 0);
	/* From another port of the same host: no answer either. */
	other = gw;
	other.port++;
	ck_assert_uint_eq(feed(r, &other, &m), 0);
	/* A forged cookie: nothing. */
	m.cookie[0] ^= 1;
	ck_assert_uint_eq(feed(r, &gw, &m), 0);
	m.cookie[0] ^= 1;
	/* Too old: nothing. */
	now_us += 21 * 1000000ull;
	ck_assert_uint_eq(feed(r, &gw, &m), 0);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 0);
	ck_assert_uint_eq(st.bad_proofs, 0);	/* never got to the signature */
	/* From a new relay process (new secret): nothing. */
	relay_free(r);
	r = relay_test_new(NULL);
	now_us -= 21 * 1000000ull;
	ck_assert_uint_eq(feed(r, &gw, &m), 0);
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

/* A REGISTER's proof checked on its own: the same function as REGISTER2's. */
START_TEST(register_verify_each_check)
{
	gnutls_privkey_t k = key_fixed(), evil = key_new(GNUTLS_PK_ECDSA, 256);
	struct rmsg ch = { .type = RMSG_REG_CHALLENGE, .ts = 77 }, m, e;
	struct rsign rs, ers;
	uint8_t id[RMSG_ID_LEN], sig[RMSG_SIG_MAX];
	int64_t end = 0;

	ck_assert_int_eq(rsign_key(k, &rs, id), 0);
	memcpy(ch.id, id, RMSG_ID_LEN);
	memset(ch.cookie, 0xc0, RMSG_COOKIE_LEN);
	ck_assert_int_eq(rsign_register(k, &ch, &rs, &m), 0);
	/* Good, at any time: the CA key's proof has no end. */
	ck_assert_int_eq(rsign_verify(&m, wall_now, &end), 0);
	ck_assert(end == RSIGN_NO_END);
	ck_assert_int_eq(rsign_verify(&m, INT64_MAX, NULL), 0);
	/* Another id than the SPKI's hash. */
	m.id[0] ^= 1;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -ENXIO);
	m.id[0] ^= 1;
	/* The challenge's fields are signed. */
	m.ts++;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	m.ts--;
	memcpy(sig, m.sig, m.sig_len);
	sig[m.sig_len - 1] ^= 1;
	m.sig = sig;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	/* Another key's signature with the family's SPKI. */
	ck_assert_int_eq(rsign_register(evil, &ch, &ers, &e), 0);
	e.spki = rs.spki;
	e.spki_len = rs.spki_len;
	ck_assert_int_eq(rsign_verify(&e, wall_now, NULL), -EACCES);
	/* A v1 proof sent as REGISTER2 (with a certificate) is not one. */
	ck_assert_int_eq(rsign_register(k, &ch, &rs, &m), 0);
	m.type = RMSG_REGISTER2;
	m.cert = rs.sig;
	m.cert_len = rs.sig_len;
	ck_assert_int_ne(rsign_verify(&m, wall_now, NULL), 0);
	/* Not a registration at all. */
	ck_assert_int_eq(rsign_verify(&ch, wall_now, NULL), -EINVAL);
	gnutls_privkey_deinit(k);
	gnutls_privkey_deinit(evil);
}
END_TEST

/* ---- REGISTER2: a registration key the CA certified ---- */

/* A self-signed CA certificate for key ca (the issuer of the tests' certificates). */
static gnutls_x509_crt_t ca_crt_new(gnutls_privkey_t ca)
{
	static const uint8_t serial[] = { 1 };
	gnutls_x509_crt_t c;
	gnutls_pubkey_t pub;

	ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_privkey(pub, ca, 0, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_pubkey(c, pub), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(c, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(c, serial, sizeof(serial)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "test CA", 7), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(c, (time_t)(wall_now - 86400)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(c, (time_t)(wall_now + 86400 * 3650)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_basic_constraints(c, 1, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_privkey_sign(c, c, ca, GNUTLS_DIG_SHA256, 0), 0);
	gnutls_pubkey_deinit(pub);
	return c;
}

/*
 * A certificate for sub's key issued by (issuer, ik), with purpose as its
 * one extended key usage (NULL: none), valid [nb, na]; its DER in der.
 */
static uint16_t reg_cert(gnutls_x509_crt_t issuer, gnutls_privkey_t ik, gnutls_privkey_t sub,
			 const char *purpose, int64_t nb, int64_t na, uint8_t der[RMSG_CERT_MAX])
{
	static const uint8_t serial[] = { 0x42, 7 };
	gnutls_x509_crt_t c;
	gnutls_pubkey_t pub;
	size_t len = RMSG_CERT_MAX;

	ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_privkey(pub, sub, 0, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_pubkey(c, pub), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(c, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(c, serial, sizeof(serial)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "reg", 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(c, (time_t)nb), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(c, (time_t)na), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_basic_constraints(c, 0, -1), 0);
	if (purpose)
		ck_assert_int_eq(gnutls_x509_crt_set_key_purpose_oid(c, purpose, 1), 0);
	ck_assert_int_eq(gnutls_x509_crt_privkey_sign(c, issuer, ik, GNUTLS_DIG_SHA256, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_export(c, GNUTLS_X509_FMT_DER, der, &len), 0);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(c);
	return (uint16_t)len;
}

/* A credential as the gateway sends it: ca's SPKI and id, a certificate. */
static void cred_of(gnutls_privkey_t ca, const uint8_t *der, uint16_t len,
		    struct rsign_cred *cr)
{
	struct rsign rs;

	memset(cr, 0, sizeof(*cr));
	ck_assert_int_eq(rsign_key(ca, &rs, cr->id), 0);
	memcpy(cr->spki, rs.spki, rs.spki_len);
	cr->spki_len = rs.spki_len;
	memcpy(cr->cert, der, len);
	cr->cert_len = len;
}

/* A REGISTER2 for a made-up challenge to cr's id, signed by key. */
static void reg2_msg(gnutls_privkey_t key, const struct rsign_cred *cr, struct rsign *out,
		     struct rmsg *m)
{
	struct rmsg ch = { .type = RMSG_REG_CHALLENGE, .ts = 77 };

	memcpy(ch.id, cr->id, RMSG_ID_LEN);
	memset(ch.cookie, 0xc0, RMSG_COOKIE_LEN);
	ck_assert_int_eq(rsign_register2(key, cr, &ch, out, m), 0);
}

struct pki {
	gnutls_privkey_t ca, reg, evil;
	gnutls_x509_crt_t ca_crt, evil_crt;
};

static void pki_new(struct pki *p)
{
	p->ca = key_fixed();
	p->reg = key_new(GNUTLS_PK_ECDSA, 256);
	p->evil = key_new(GNUTLS_PK_ECDSA, 256);
	p->ca_crt = ca_crt_new(p->ca);
	p->evil_crt = ca_crt_new(p->evil);
}

static void pki_free(struct pki *p)
{
	gnutls_x509_crt_deinit(p->ca_crt);
	gnutls_x509_crt_deinit(p->evil_crt);
	gnutls_privkey_deinit(p->ca);
	gnutls_privkey_deinit(p->reg);
	gnutls_privkey_deinit(p->evil);
}

/* The proof checked on its own, for every way it can be wrong. */
START_TEST(register2_verify_each_check)
{
	struct pki p;
	struct rsign_cred cr, ecr;
	struct rsign rs;
	struct rmsg m;
	uint8_t der[RMSG_CERT_MAX], edir[RMSG_CERT_MAX], sig[RMSG_SIG_MAX];
	const int64_t nb = wall_now - 300, na = wall_now + 90 * 86400;
	uint16_t n;

	pki_new(&p);
	/* Good: the CA certified reg for this purpose, reg signed. */
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, nb, na, der);
	ck_assert_uint_le(n, 480);
	cred_of(p.ca, der, n, &cr);
	reg2_msg(p.reg, &cr, &rs, &m);
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), 0);
	/* Only inside the dates: the last second taken, one more not. */
	ck_assert_int_eq(rsign_verify(&m, na, NULL), 0);
	ck_assert_int_eq(rsign_verify(&m, na + 1, NULL), -EKEYEXPIRED);
	ck_assert_int_eq(rsign_verify(&m, nb - 1, NULL), -EKEYEXPIRED);
	ck_assert_int_eq(rsign_verify(&m, nb, NULL), 0);

	/* Wrong id: the message names another id than the SPKI's hash. */
	m.id[0] ^= 1;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -ENXIO);
	m.id[0] ^= 1;
	/* An SPKI that is not the id's preimage (the attacker's own CA). */
	cred_of(p.evil, der, n, &ecr);
	m.spki = ecr.spki;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -ENXIO);
	m.spki = cr.spki;

	/* Not signed by the id's SPKI: the attacker's CA certified reg. */
	n = reg_cert(p.evil_crt, p.evil, p.reg, HOMEID_REGKEY_OID, nb, na, edir);
	m.cert = edir;
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -ENOKEY);
	/* The family's certificate with its signature damaged. */
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, nb, na, edir);
	m.cert_len = n;
	edir[n - 1] ^= 1;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -ENOKEY);
	/* A byte after the certificate: not one DER certificate. */
	edir[n - 1] ^= 1;
	edir[n] = 0;
	m.cert_len = (uint16_t)(n + 1);
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EBADMSG);
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), 0);

	/* Wrong purpose: a TLS client certificate from the same CA. */
	n = reg_cert(p.ca_crt, p.ca, p.reg, GNUTLS_KP_TLS_WWW_CLIENT, nb, na, edir);
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EPERM);
	n = reg_cert(p.ca_crt, p.ca, p.reg, GNUTLS_KP_TLS_WWW_SERVER, nb, na, edir);
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EPERM);
	/* No purpose at all. */
	n = reg_cert(p.ca_crt, p.ca, p.reg, NULL, nb, na, edir);
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EPERM);

	/* Expired, and not yet valid. */
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, nb - 100 * 86400,
		     wall_now - 1, edir);
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EKEYEXPIRED);
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, wall_now + 60, na, edir);
	m.cert_len = n;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EKEYEXPIRED);

	/* Signature by the wrong key: the CA's, the attacker's, a v1 one. */
	m.cert = cr.cert;
	m.cert_len = cr.cert_len;
	reg2_msg(p.ca, &cr, &rs, &m);
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	reg2_msg(p.evil, &cr, &rs, &m);
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	{
		struct rmsg ch = { .type = RMSG_REG_CHALLENGE, .ts = 77 }, v1;
		struct rsign r1;

		memcpy(ch.id, cr.id, RMSG_ID_LEN);
		memset(ch.cookie, 0xc0, RMSG_COOKIE_LEN);
		/* reg's signature over the v1 bytes (rsign_register signs those). */
		ck_assert_int_eq(rsign_register(p.reg, &ch, &r1, &v1), 0);
		reg2_msg(p.reg, &cr, &rs, &m);
		memcpy(sig, r1.sig, r1.sig_len);
		m.sig = sig;
		m.sig_len = r1.sig_len;
		ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	}
	/* The challenge's fields are signed: another ts or cookie fails. */
	reg2_msg(p.reg, &cr, &rs, &m);
	m.ts++;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	m.ts--;
	m.cookie[3] ^= 1;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), -EACCES);
	m.cookie[3] ^= 1;
	ck_assert_int_eq(rsign_verify(&m, wall_now, NULL), 0);
	pki_free(&p);
}
END_TEST

/* The gateway's own check when it loads the files: the relay's, and the key's. */
START_TEST(register2_cred_init)
{
	struct pki p;
	struct rsign_cred cr;
	gnutls_datum_t ca_pem = { NULL, 0 }, evil_pem = { NULL, 0 };
	gnutls_x509_crt_t c;
	gnutls_datum_t d, pem = { NULL, 0 };
	uint8_t der[RMSG_CERT_MAX], id[RMSG_ID_LEN];
	const int64_t nb = wall_now - 300, na = wall_now + 90 * 86400;
	struct rsign rs;
	struct {
		gnutls_privkey_t *issuer_key;
		int evil_issuer;
		gnutls_privkey_t *sub;
		const char *purpose;
		int want;
	} cases[] = {
		{ &p.ca, 0, &p.reg, HOMEID_REGKEY_OID, 0 },
		{ &p.ca, 0, &p.evil, HOMEID_REGKEY_OID, -EKEYREJECTED },
		{ &p.evil, 1, &p.reg, HOMEID_REGKEY_OID, -ENOKEY },
		{ &p.ca, 0, &p.reg, GNUTLS_KP_TLS_WWW_SERVER, -EPERM },
	};
	size_t i;
	uint16_t n;

	pki_new(&p);
	ck_assert_int_eq(gnutls_x509_crt_export2(p.ca_crt, GNUTLS_X509_FMT_PEM, &ca_pem), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(p.evil_crt, GNUTLS_X509_FMT_PEM, &evil_pem), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = reg_cert(cases[i].evil_issuer ? p.evil_crt : p.ca_crt,
			     *cases[i].issuer_key, *cases[i].sub, cases[i].purpose, nb, na, der);
		d.data = der;
		d.size = n;
		ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
		ck_assert_int_eq(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_DER), 0);
		ck_assert_int_eq(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &pem), 0);
		ck_assert_msg(rsign_cred_init(&cr, p.reg, (const char *)ca_pem.data, ca_pem.size,
					      (const char *)pem.data, pem.size) == cases[i].want,
			      "case %zu", i);
		gnutls_free(pem.data);
		gnutls_x509_crt_deinit(c);
	}
	/* The good one: the CA's id and SPKI, the certificate's end. */
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, nb, na, der);
	d.data = der;
	d.size = n;
	ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
	ck_assert_int_eq(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_DER), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &pem), 0);
	ck_assert_int_eq(rsign_cred_init(&cr, p.reg, (const char *)ca_pem.data, ca_pem.size,
					 (const char *)pem.data, pem.size), 0);
	ck_assert_int_eq(rsign_key(p.ca, &rs, id), 0);
	ck_assert_mem_eq(cr.id, id, RMSG_ID_LEN);
	ck_assert_uint_eq(cr.spki_len, rs.spki_len);
	ck_assert_mem_eq(cr.spki, rs.spki, rs.spki_len);
	ck_assert_int_eq(cr.not_after, na);
	ck_assert_uint_eq(cr.cert_len, n);
	/* Under another CA certificate than its issuer: not signed by it. */
	ck_assert_int_eq(rsign_cred_init(&cr, p.reg, (const char *)evil_pem.data, evil_pem.size,
					 (const char *)pem.data, pem.size), -ENOKEY);
	/* Not PEM. */
	ck_assert_int_eq(rsign_cred_init(&cr, p.reg, (const char *)ca_pem.data, ca_pem.size,
					 "junk", 4), -EBADMSG);
	gnutls_free(pem.data);
	gnutls_x509_crt_deinit(c);
	gnutls_free(ca_pem.data);
	gnutls_free(evil_pem.data);
	pki_free(&p);
}
END_TEST

/*
 * Each of rsign_verify's and rsign_cred_init's errors has its own phrase:
 * the relay's "not the id's key" and the gateway's "certifies another key"
 * were one code, and the gateway's log read the relay's phrase.
 */
START_TEST(rsign_errors_distinct)
{
	static const int codes[] = { -ENXIO, -EKEYREJECTED, -EBADMSG, -EMSGSIZE, -EPERM,
				     -EKEYEXPIRED, -ENOKEY, -EACCES };
	size_t i, j, n = sizeof(codes) / sizeof(codes[0]);

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			ck_assert_msg(codes[i] != codes[j] &&
				      strcmp(rsign_why(codes[i]), rsign_why(codes[j])),
				      "%d and %d", codes[i], codes[j]);
	ck_assert_ptr_nonnull(strstr(rsign_why(-ENXIO), "does not hash to the id"));
	ck_assert_ptr_nonnull(strstr(rsign_why(-EKEYREJECTED), "for another key"));
}
END_TEST

/* Through the engine: cookie first, REGISTERED, REFUSED for a bad one; no amplification. */
START_TEST(register2_engine)
{
	struct relay *r = relay_test_new(NULL);
	struct pki p;
	struct rsign_cred cr, bad;
	struct rsign rs;
	struct rmsg ch, m, out, ka = { .type = RMSG_KEEPALIVE };
	struct rmsg_addr gw = addr4(10, 5000), att = addr4(66, 6666);
	struct relay_stats st;
	uint8_t der[RMSG_CERT_MAX], buf[RMSG_MAX];
	uint16_t n;
	int len;

	pki_new(&p);
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, wall_now - 300,
		     wall_now + 90 * 86400, der);
	cred_of(p.ca, der, n, &cr);
	challenge(r, &gw, RMSG_REG_HELLO, cr.id, &ch);
	ck_assert_int_eq(rsign_register2(p.reg, &cr, &ch, &rs, &m), 0);
	len = rmsg_encode(&m, buf, sizeof(buf));
	ck_assert_int_gt(len, 0);
	/* From elsewhere (the cookie is the gateway's): nothing checked, no answer. */
	ck_assert_uint_eq(feed(r, &att, &m), 0);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.bad_proofs, 0);
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	ck_assert_uint_lt(cap.s[0].len, (size_t)len);
	got(0, RMSG_REGISTERED, &out);
	ck_assert_mem_eq(out.id, cr.id, RMSG_ID_LEN);
	memcpy(ka.id, out.id, RMSG_ID_LEN);
	memcpy(ka.token, out.token, RMSG_TOKEN_LEN);
	ck_assert_uint_eq(feed(r, &gw, &ka), 1);
	got(0, RMSG_KEEPALIVE_ACK, &ka);

	/* An attacker's REGISTER2 for the family's id, its own CA's cert: refused. */
	n = reg_cert(p.evil_crt, p.evil, p.evil, HOMEID_REGKEY_OID, wall_now - 300,
		     wall_now + 90 * 86400, der);
	cred_of(p.ca, der, n, &bad);
	challenge(r, &att, RMSG_REG_HELLO, cr.id, &ch);
	ck_assert_int_eq(rsign_register2(p.evil, &bad, &ch, &rs, &m), 0);
	len = rmsg_encode(&m, buf, sizeof(buf));
	ck_assert_uint_eq(feed(r, &att, &m), 1);
	ck_assert_uint_lt(cap.s[0].len, (size_t)len);
	got(0, RMSG_REFUSED, &out);
	ck_assert_int_eq(out.code, RMSG_REFUSE_BAD_PROOF);
	/* Once the certificate has expired, the family is refused too. */
	wall_now += 91 * 86400;
	challenge(r, &gw, RMSG_REG_HELLO, cr.id, &ch);
	ck_assert_int_eq(rsign_register2(p.reg, &cr, &ch, &rs, &m), 0);
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_REFUSED, &out);
	ck_assert_int_eq(out.code, RMSG_REFUSE_BAD_PROOF);
	wall_now -= 91 * 86400;
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.registered, 1);
	ck_assert_uint_eq(st.bad_proofs, 2);
	/* The family's first registration still holds its address. */
	ck_assert_uint_eq(st.homes, 1);
	relay_free(r);
	pki_free(&p);
}
END_TEST

/* Register cr's id with a REGISTER2 signed by key, from `from`. */
static uint8_t do_register2(struct relay *r, gnutls_privkey_t key, const struct rsign_cred *cr,
			    const struct rmsg_addr *from, struct rmsg *reply)
{
	struct rsign rs;
	struct rmsg ch, m;

	challenge(r, from, RMSG_REG_HELLO, cr->id, &ch);
	ck_assert_int_eq(rsign_register2(key, cr, &ch, &rs, &m), 0);
	ck_assert_uint_eq(feed(r, from, &m), 1);
	ck_assert_int_eq(rmsg_decode(reply, cap.s[0].buf, cap.s[0].len), 0);
	return reply->type;
}

/* Keep the home alive across one keepalive interval and one sweep. */
static void keep_alive(struct relay *r, const struct rmsg_addr *gw, const struct rmsg *reg,
		       uint8_t want)
{
	struct rmsg m = { .type = RMSG_KEEPALIVE }, out;

	memcpy(m.id, reg->id, RMSG_ID_LEN);
	memcpy(m.token, reg->token, RMSG_TOKEN_LEN);
	now_us += 15 * 1000000ull;
	ck_assert_uint_eq(feed(r, gw, &m), 1);
	got(0, want, &out);
	relay_tick(r, now_us);
}

/*
 * A REGISTER2 home is dropped by the sweep once the relay's wall clock
 * passes its certificate's end, keepalives or not; a REGISTER (v1) home
 * has no end; a re-registration carries its own proof's end.
 */
START_TEST(register2_dropped_at_cert_end)
{
	struct relay *r = relay_test_new(NULL);
	struct pki p;
	struct rsign_cred cr, cr2;
	struct rmsg reg;
	struct rmsg_addr gw = addr4(10, 5000), gw1 = addr4(11, 5001);
	struct relay_stats st;
	uint8_t der[RMSG_CERT_MAX];
	const int64_t w0 = wall_now, na = wall_now + 90 * 86400;
	gnutls_privkey_t v1 = key_new(GNUTLS_PK_EDDSA_ED25519, 256);
	struct rmsg reg1;
	uint16_t n;

	pki_new(&p);
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, wall_now - 300, na, der);
	cred_of(p.ca, der, n, &cr);
	ck_assert_int_eq(do_register2(r, p.reg, &cr, &gw, &reg), RMSG_REGISTERED);
	ck_assert_int_eq(do_register(r, v1, &gw1, &reg1), RMSG_REGISTERED);
	/* Up to the certificate's last second (the wall clock jumps): kept. */
	wall_now = na;
	keep_alive(r, &gw, &reg, RMSG_KEEPALIVE_ACK);
	keep_alive(r, &gw1, &reg1, RMSG_KEEPALIVE_ACK);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 2);
	/* One second past it: the REGISTER2 home goes, kept alive or not. */
	wall_now = na + 1;
	relay_tick(r, now_us);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 1);
	keep_alive(r, &gw, &reg, RMSG_REREGISTER);
	/* The v1 home has no end. */
	wall_now = na + 400 * 86400;
	keep_alive(r, &gw1, &reg1, RMSG_KEEPALIVE_ACK);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 1);

	/* Registered again with a renewed certificate: its end counts. */
	wall_now = w0;
	ck_assert_int_eq(do_register2(r, p.reg, &cr, &gw, &reg), RMSG_REGISTERED);
	n = reg_cert(p.ca_crt, p.ca, p.reg, HOMEID_REGKEY_OID, wall_now - 300,
		     na + 90 * 86400, der);
	cred_of(p.ca, der, n, &cr2);
	ck_assert_int_eq(do_register2(r, p.reg, &cr2, &gw, &reg), RMSG_REGISTERED);
	wall_now = na + 1;
	keep_alive(r, &gw, &reg, RMSG_KEEPALIVE_ACK);
	wall_now = na + 90 * 86400 + 1;
	relay_tick(r, now_us);
	keep_alive(r, &gw, &reg, RMSG_REREGISTER);
	/* Registered again with the CA key (v1): the end is gone. */
	wall_now = w0;
	ck_assert_int_eq(do_register2(r, p.reg, &cr, &gw, &reg), RMSG_REGISTERED);
	ck_assert_int_eq(do_register(r, p.ca, &gw, &reg), RMSG_REGISTERED);
	wall_now = na + 400 * 86400;
	keep_alive(r, &gw, &reg, RMSG_KEEPALIVE_ACK);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 2);
	wall_now = w0;
	relay_free(r);
	gnutls_privkey_deinit(v1);
	pki_free(&p);
}
END_TEST

START_TEST(keepalive_unknown_reregister)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t k = key_fixed();
	struct rmsg_addr gw = addr4(10, 5000);
	struct rmsg reg, m = { .type = RMSG_KEEPALIVE }, out;

	ck_assert_int_eq(do_register(r, k, &gw, &reg), RMSG_REGISTERED);
	memcpy(m.id, reg.id, RMSG_ID_LEN);
	memcpy(m.token, reg.token, RMSG_TOKEN_LEN);
	/* The relay restarts: the same keepalive gets REREGISTER, small. */
	relay_free(r);
	r = relay_test_new(NULL);
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_REREGISTER, &out);
	ck_assert_mem_eq(out.id, reg.id, RMSG_ID_LEN);
	ck_assert_uint_le(cap.s[0].len, RMSG_HDR_LEN + (size_t)rmsg_body_len(RMSG_KEEPALIVE));
	/* ... and registering again takes one round trip more. */
	ck_assert_int_eq(do_register(r, k, &gw, &reg), RMSG_REGISTERED);
	memcpy(m.token, reg.token, RMSG_TOKEN_LEN);
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_KEEPALIVE_ACK, &out);
	/* A wrong token, or the right one from elsewhere: REREGISTER. */
	m.token[0] ^= 1;
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_REREGISTER, &out);
	m.token[0] ^= 1;
	ck_assert_uint_eq(feed(r, &(struct rmsg_addr){ .family = 4, .port = 1,
				.a = { 192, 0, 2, 1 } }, &m), 1);
	got(0, RMSG_REREGISTER, &out);
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

START_TEST(registration_expires)
{
	struct relay_conf c;
	struct relay *r;
	gnutls_privkey_t k = key_fixed();
	struct rmsg_addr gw = addr4(10, 5000);
	struct rmsg reg, m = { .type = RMSG_KEEPALIVE }, out;
	struct relay_stats st;
	int i;

	relay_conf_default(&c);
	r = relay_test_new(&c);
	ck_assert_int_eq(do_register(r, k, &gw, &reg), RMSG_REGISTERED);
	memcpy(m.id, reg.id, RMSG_ID_LEN);
	memcpy(m.token, reg.token, RMSG_TOKEN_LEN);
	/* Kept alive every keepalive interval: stays. */
	for (i = 0; i < 10; i++) {
		now_us += c.keepalive_s * 1000000ull;
		ck_assert_uint_eq(feed(r, &gw, &m), 1);
		got(0, RMSG_KEEPALIVE_ACK, &out);
		relay_tick(r, now_us);
	}
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 1);
	/* Silent past the expiry: gone, and the keepalive hears REREGISTER. */
	now_us += (c.expiry_s + 1) * 1000000ull;
	relay_tick(r, now_us);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, 0);
	ck_assert_uint_eq(feed(r, &gw, &m), 1);
	got(0, RMSG_REREGISTER, &out);
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

/* Register the fixed home, connect a CD; returns the channel. */
static uint32_t setup_channel(struct relay *r, const struct rmsg_addr *gw,
			      const struct rmsg_addr *cd)
{
	gnutls_privkey_t k = key_fixed();
	struct rmsg reg, ch, conn, peer, con;

	ck_assert_int_eq(do_register(r, k, gw, &reg), RMSG_REGISTERED);
	challenge(r, cd, RMSG_CONN_HELLO, reg.id, &ch);
	conn = ch;
	conn.type = RMSG_CONNECT;
	ck_assert_uint_eq(feed(r, cd, &conn), 2);
	/* The gateway hears of the CD's reflexive address, and the CD of the gateway's. */
	got(0, RMSG_PEER, &peer);
	ck_assert(addr_eq(&cap.s[0].to, gw));
	ck_assert(addr_eq(&peer.addr, cd));
	got(1, RMSG_CONNECTED, &con);
	ck_assert(addr_eq(&cap.s[1].to, cd));
	ck_assert(addr_eq(&con.addr, gw));
	ck_assert_uint_eq(peer.chan, con.chan);
	gnutls_privkey_deinit(k);
	return con.chan;
}

START_TEST(channel_relays_both_ways)
{
	struct relay *r = relay_test_new(NULL);
	struct rmsg_addr gw = addr4(10, 5000), cd = addr4(20, 6000);
	struct rmsg d = { .type = RMSG_DATA }, out;
	uint8_t payload[RMSG_DATA_MAX], buf[RMSG_MAX];
	struct relay_stats st;
	size_t i;
	int n;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	d.chan = setup_channel(r, &gw, &cd);
	d.data = payload;
	d.data_len = sizeof(payload);
	n = rmsg_encode(&d, buf, sizeof(buf));
	/* CD -> gateway: the very same bytes, to the registered address. */
	ck_assert_uint_eq(feed(r, &cd, &d), 1);
	ck_assert(addr_eq(&cap.s[0].to, &gw));
	ck_assert_uint_eq(cap.s[0].len, (size_t)n);
	ck_assert_mem_eq(cap.s[0].buf, buf, (size_t)n);
	/* gateway -> CD. */
	d.data_len = 33;
	ck_assert_uint_eq(feed(r, &gw, &d), 1);
	ck_assert(addr_eq(&cap.s[0].to, &cd));
	got(0, RMSG_DATA, &out);
	ck_assert_mem_eq(out.data, payload, 33);
	/* A third party using the channel id: dropped, no answer. */
	ck_assert_uint_eq(feed(r, &(struct rmsg_addr){ .family = 4, .port = 1,
				.a = { 192, 0, 2, 9 } }, &d), 0);
	/* An unknown channel: dropped. */
	d.chan ^= 0x80000000u;
	ck_assert_uint_eq(feed(r, &cd, &d), 0);
	d.chan ^= 0x80000000u;
	/* CLOSE from the CD reaches the gateway and ends the channel. */
	{
		struct rmsg c = { .type = RMSG_CLOSE, .chan = d.chan };

		ck_assert_uint_eq(feed(r, &cd, &c), 1);
		ck_assert(addr_eq(&cap.s[0].to, &gw));
		got(0, RMSG_CLOSE, &out);
	}
	ck_assert_uint_eq(feed(r, &cd, &d), 0);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.chans, 0);
	ck_assert_uint_eq(st.relayed_pkts, 2);
	relay_free(r);
}
END_TEST

/*
 * The PEER sent at CONNECT is lost: the CD's DATA brings it again, ahead
 * of the DATA, 500 ms apart at the most often, 4 times at most, and only
 * until the home has sent on the channel. A repeated CONNECT (a replay)
 * gets the same channel and PEER, no second channel.
 */
START_TEST(channel_peer_sent_again)
{
	struct relay *r = relay_test_new(NULL);
	struct rmsg_addr gw = addr4(10, 5000), cd = addr4(20, 6000), cd2 = addr4(21, 6001);
	struct rmsg d = { .type = RMSG_DATA, .data = blob, .data_len = 20 }, out, peer, ch, conn;
	struct relay_stats st;
	unsigned i, peers = 0;

	d.chan = setup_channel(r, &gw, &cd);
	/* Right after the CONNECT's PEER: not again yet. */
	ck_assert_uint_eq(feed(r, &cd, &d), 1);
	got(0, RMSG_DATA, &out);
	now_us += 500000;
	ck_assert_uint_eq(feed(r, &cd, &d), 2);
	got(0, RMSG_PEER, &peer);
	ck_assert(addr_eq(&cap.s[0].to, &gw));
	ck_assert_uint_eq(peer.chan, d.chan);
	ck_assert(addr_eq(&peer.addr, &cd));
	got(1, RMSG_DATA, &out);
	ck_assert(addr_eq(&cap.s[1].to, &gw));
	/* Rate-limited: not within 500 ms of the last one. */
	now_us += 400000;
	ck_assert_uint_eq(feed(r, &cd, &d), 1);
	/* Bounded: 4 in all, however long the home stays silent. */
	for (i = 0; i < 20; i++) {
		now_us += 1000000;
		peers += feed(r, &cd, &d) - 1;
	}
	ck_assert_uint_eq(peers, 3);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.peers_again, 4);
	ck_assert_uint_eq(st.chans, 1);

	/* A second CD: once the home has answered on it, no PEER again. */
	challenge(r, &cd2, RMSG_CONN_HELLO, peer.id, &ch);
	conn = ch;
	conn.type = RMSG_CONNECT;
	ck_assert_uint_eq(feed(r, &cd2, &conn), 2);
	got(0, RMSG_PEER, &out);
	d.chan = out.chan;
	/* The CONNECT again (a retransmission or a replay): the same channel. */
	ck_assert_uint_eq(feed(r, &cd2, &conn), 2);
	got(0, RMSG_PEER, &out);
	ck_assert_uint_eq(out.chan, d.chan);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.chans, 2);
	ck_assert_uint_eq(feed(r, &gw, &d), 1);
	ck_assert(addr_eq(&cap.s[0].to, &cd2));
	for (i = 0; i < 5; i++) {
		now_us += 1000000;
		ck_assert_uint_eq(feed(r, &cd2, &d), 1);
		got(0, RMSG_DATA, &out);
	}
	relay_free(r);
}
END_TEST

START_TEST(channel_follows_reregistration)
{
	struct relay *r = relay_test_new(NULL);
	gnutls_privkey_t k = key_fixed();
	struct rmsg_addr gw = addr4(10, 5000), gw2 = addr4(10, 5001), cd = addr4(20, 6000);
	struct rmsg d = { .type = RMSG_DATA, .data = blob, .data_len = 10 }, reg;

	d.chan = setup_channel(r, &gw, &cd);
	/* The home's NAT gives a new port: it registers again from there. */
	ck_assert_int_eq(do_register(r, k, &gw2, &reg), RMSG_REGISTERED);
	ck_assert_uint_eq(feed(r, &cd, &d), 1);
	ck_assert(addr_eq(&cap.s[0].to, &gw2));
	ck_assert_uint_eq(feed(r, &gw, &d), 0);	/* the old address: no more */
	relay_free(r);
	gnutls_privkey_deinit(k);
}
END_TEST

START_TEST(connect_unknown_uniform)
{
	struct relay *r = relay_test_new(NULL);
	struct rmsg_addr cd = addr4(20, 6000);
	struct rmsg ch, conn, out1, out2;
	uint8_t id[RMSG_ID_LEN];
	uint8_t a1[RMSG_MAX];
	size_t l1;

	/* The challenge comes whatever the id: it tells nothing. */
	memset(id, 0x11, sizeof(id));
	challenge(r, &cd, RMSG_CONN_HELLO, id, &ch);
	conn = ch;
	conn.type = RMSG_CONNECT;
	ck_assert_uint_eq(feed(r, &cd, &conn), 1);
	got(0, RMSG_REFUSED, &out1);
	ck_assert_int_eq(out1.code, RMSG_REFUSE_UNAVAILABLE);
	memcpy(a1, cap.s[0].buf, cap.s[0].len);
	l1 = cap.s[0].len;
	memset(id, 0x22, sizeof(id));
	challenge(r, &cd, RMSG_CONN_HELLO, id, &ch);
	conn = ch;
	conn.type = RMSG_CONNECT;
	ck_assert_uint_eq(feed(r, &cd, &conn), 1);
	got(0, RMSG_REFUSED, &out2);
	/* Same size, same code; only the echoed id differs. */
	ck_assert_uint_eq(cap.s[0].len, l1);
	ck_assert_mem_eq(cap.s[0].buf, a1, 4);
	ck_assert_mem_eq(cap.s[0].buf + 4 + RMSG_ID_LEN, a1 + 4 + RMSG_ID_LEN,
			 l1 - 4 - RMSG_ID_LEN);
	/* CONNECT without a valid cookie: no answer at all. */
	conn.cookie[3] ^= 1;
	ck_assert_uint_eq(feed(r, &cd, &conn), 0);
	relay_free(r);
}
END_TEST

START_TEST(limits_source_rate)
{
	struct relay_conf c;
	struct relay *r;
	struct rmsg_addr src = addr4(30, 1000), v6 = { .family = 6, .port = 1 };
	struct rmsg m = { .type = RMSG_CONN_HELLO };
	unsigned i, answered = 0;

	relay_conf_default(&c);
	r = relay_test_new(&c);
	/* A burst, then nothing until time passes; other ports count too. */
	for (i = 0; i < c.src_burst * 3; i++) {
		src.port = (uint16_t)(1000 + i);
		answered += (unsigned)feed(r, &src, &m);
	}
	ck_assert_uint_eq(answered, c.src_burst);
	now_us += 1000000;
	answered = 0;
	for (i = 0; i < c.src_burst; i++)
		answered += (unsigned)feed(r, &src, &m);
	ck_assert_uint_eq(answered, c.src_rate);
	/* IPv6: the /64 is one source. */
	v6.a[0] = 0x20;
	v6.a[1] = 0x01;
	answered = 0;
	for (i = 0; i < c.src_burst * 2; i++) {
		v6.a[15] = (uint8_t)i;
		answered += (unsigned)feed(r, &v6, &m);
	}
	ck_assert_uint_eq(answered, c.src_burst);
	relay_free(r);
}
END_TEST

START_TEST(limits_channels_and_connects)
{
	struct relay_conf c;
	struct relay *r;
	struct rmsg_addr gw = addr4(10, 5000), cd;
	struct rmsg ch, conn, out;
	unsigned i, ok = 0, lim = 0;
	uint8_t id[RMSG_ID_LEN];

	relay_conf_default(&c);
	c.chans_per_home = 3;
	r = relay_test_new(&c);
	cd = addr4(20, 6000);
	setup_channel(r, &gw, &cd);
	memcpy(id, cap.s[1].buf + RMSG_HDR_LEN, RMSG_ID_LEN);
	/* More CDs (each its own host): 2 more fit, the rest are refused. */
	for (i = 0; i < 5; i++) {
		cd = addr4((uint8_t)(100 + i), 6000);
		challenge(r, &cd, RMSG_CONN_HELLO, id, &ch);
		conn = ch;
		conn.type = RMSG_CONNECT;
		feed(r, &cd, &conn);
		if (cap.n == 2)
			ok++;
		else {
			got(0, RMSG_REFUSED, &out);
			ck_assert_int_eq(out.code, RMSG_REFUSE_LIMIT);
			lim++;
		}
	}
	ck_assert_uint_eq(ok, 2);
	ck_assert_uint_eq(lim, 3);
	relay_free(r);
}
END_TEST

START_TEST(limits_bandwidth_per_home)
{
	struct relay_conf c;
	struct relay *r;
	struct rmsg_addr gw = addr4(10, 5000), cd = addr4(20, 6000);
	struct rmsg d = { .type = RMSG_DATA, .data = blob, .data_len = RMSG_DATA_MAX };
	unsigned i, passed = 0;

	relay_conf_default(&c);
	c.home_bps = 100000;
	c.home_burst = 10 * RMSG_MAX;
	r = relay_test_new(&c);
	d.chan = setup_channel(r, &gw, &cd);
	for (i = 0; i < 50; i++)
		passed += (unsigned)feed(r, &cd, &d);
	ck_assert_uint_eq(passed, 10);
	/* One second later: rate / datagram size more. */
	now_us += 1000000;
	passed = 0;
	for (i = 0; i < 200; i++)
		passed += (unsigned)feed(r, &gw, &d);
	ck_assert_uint_eq(passed, 10);	/* capped by the burst */
	relay_free(r);
}
END_TEST

START_TEST(limits_max_homes)
{
	struct relay_conf c;
	struct relay *r;
	gnutls_privkey_t a = key_fixed(), b = key_new(GNUTLS_PK_ECDSA, 256);
	struct rmsg_addr gw = addr4(10, 5000), gw2 = addr4(12, 5000);
	struct rmsg reg;

	relay_conf_default(&c);
	c.max_homes = 1;
	r = relay_test_new(&c);
	ck_assert_int_eq(do_register(r, a, &gw, &reg), RMSG_REGISTERED);
	ck_assert_int_eq(do_register(r, b, &gw2, &reg), RMSG_REFUSED);
	ck_assert_int_eq(reg.code, RMSG_REFUSE_LIMIT);
	/* Re-registering a known home is not a new one. */
	ck_assert_int_eq(do_register(r, a, &gw2, &reg), RMSG_REGISTERED);
	relay_free(r);
	gnutls_privkey_deinit(a);
	gnutls_privkey_deinit(b);
}
END_TEST

START_TEST(relay_messages_from_outside_dropped)
{
	struct relay *r = relay_test_new(NULL);
	struct rmsg_addr src = addr4(30, 1000);
	struct relay_stats st;
	struct rmsg m;
	uint8_t t;

	for (t = 1; t <= RMSG_TYPE_MAX; t++) {
		if (t == RMSG_REG_CHALLENGE || t == RMSG_REGISTERED ||
		    t == RMSG_KEEPALIVE_ACK || t == RMSG_REREGISTER ||
		    t == RMSG_CONN_CHALLENGE || t == RMSG_CONNECTED ||
		    t == RMSG_PEER || t == RMSG_REFUSED) {
			sample(t, &m);
			ck_assert_uint_eq(feed(r, &src, &m), 0);
		}
	}
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.dropped, 8);
	relay_free(r);
}
END_TEST

#if defined(__SANITIZE_ADDRESS__)
/* From libasan (its header is not installed here): ASan's own heap count. */
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_bytes(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_bytes(void)
{
	return mallinfo2().uordblks;
}
#endif

/*
 * Memory per registered home, measured on the heap over 2000 real
 * registrations (Ed25519 keys, fast to make, made before measuring): the
 * engine's bound for 100 000 homes must stay under 100 MiB,
 * i.e. < 1048 bytes each.
 */
START_TEST(memory_per_home)
{
	struct relay_conf c;
	struct relay *r;
	struct rmsg reg;
	struct relay_stats st;
	size_t before, after;
	enum { N = 2000 };
	static gnutls_privkey_t k[N];
	struct rmsg_addr gw = addr4(10, 1);
	const unsigned n = N;
	double per;
	unsigned i;

	relay_conf_default(&c);
	c.src_burst = 1000000;		/* one test source registers them all */
	r = relay_test_new(&c);
	for (i = 0; i < n; i++)
		k[i] = key_new(GNUTLS_PK_EDDSA_ED25519, 256);
	/* A first registration warms GnuTLS's lazy allocations up. */
	ck_assert_int_eq(do_register(r, k[0], &gw, &reg), RMSG_REGISTERED);
	before = heap_bytes();
	for (i = 1; i < n; i++) {
		gw.port = (uint16_t)(1 + i);
		ck_assert_int_eq(do_register(r, k[i], &gw, &reg), RMSG_REGISTERED);
	}
	after = heap_bytes();
	for (i = 0; i < n; i++)
		gnutls_privkey_deinit(k[i]);
	relay_get_stats(r, &st);
	ck_assert_uint_eq(st.homes, n);
	per = ((double)after - (double)before) / (n - 1);
	printf("# relay: %.0f bytes malloc'd per registered home (heap), "
	       "%zu bytes in the engine's accounting for %u homes\n",
	       per, (size_t)st.mem_bytes, n);
	ck_assert(per > 0 && per < 1048);
	/* The table for 100 000 homes is allocated up front: counted too. */
	ck_assert_uint_lt(st.mem_bytes + (uint64_t)(per * 100000), 100ull << 20);
	relay_free(r);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("codec");

	log_set_level(LOG_NOTICE);

	tcase_add_test(tc, codec_round_trip_and_prefixes);
	tcase_add_test(tc, codec_header_rules);
	tcase_add_test(tc, codec_field_caps);
	tcase_add_test(tc, codec_padding_and_addresses);
	tcase_add_test(tc, homeid_vector_and_text);
	tcase_add_test(tc, homeid_from_certificate);
	suite_add_tcase(s, tc);
	tc = tcase_create("engine");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, register_good_and_keepalive);
	tcase_add_test(tc, register_ed25519);
	tcase_add_test(tc, register_bad_signature);
	tcase_add_test(tc, register_foreign_id_refused);
	tcase_add_test(tc, register_cookie_first);
	tcase_add_test(tc, register_verify_each_check);
	tcase_add_test(tc, register2_verify_each_check);
	tcase_add_test(tc, register2_cred_init);
	tcase_add_test(tc, rsign_errors_distinct);
	tcase_add_test(tc, register2_engine);
	tcase_add_test(tc, register2_dropped_at_cert_end);
	tcase_add_test(tc, keepalive_unknown_reregister);
	tcase_add_test(tc, registration_expires);
	tcase_add_test(tc, channel_relays_both_ways);
	tcase_add_test(tc, channel_peer_sent_again);
	tcase_add_test(tc, channel_follows_reregistration);
	tcase_add_test(tc, connect_unknown_uniform);
	tcase_add_test(tc, limits_source_rate);
	tcase_add_test(tc, limits_channels_and_connects);
	tcase_add_test(tc, limits_bandwidth_per_home);
	tcase_add_test(tc, limits_max_homes);
	tcase_add_test(tc, relay_messages_from_outside_dropped);
	tcase_add_test(tc, memory_per_home);
	suite_add_tcase(s, tc);
	return s;
}
