/* SPDX-License-Identifier: MIT */
/*
 * The monitor's relay registration signer (muxd/relaysign.h): what it signs
 * is what a real relay engine accepts, and a subverted network front gets
 * nothing more from it: no other home's proof, no second signature of a
 * challenge, no signature over anything but a REG_CHALLENGE, no more than
 * the rate (time given, not measured).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "check_main.h"
#include "homeid.h"
#include "relay.h"
#include "relaysign.h"
#include "rmsg.h"
#include "rpc.h"

#define CAP_MAX 8

static struct {
	struct rmsg_addr to;
	uint8_t buf[RMSG_MAX];
	size_t len;
} sent[CAP_MAX];
static size_t nsent;

static void cap_send(void *user, const struct rmsg_addr *to, const void *buf, size_t len)
{
	(void)user;
	ck_assert_uint_lt(nsent, CAP_MAX);
	sent[nsent].to = *to;
	memcpy(sent[nsent].buf, buf, len);
	sent[nsent].len = len;
	nsent++;
}

static const struct relay_ops ops = { .send = cap_send };
static const uint64_t t0 = 1000000000ull;
static const struct rmsg_addr gw = { .family = 4, .port = 5684, .a = { 198, 51, 100, 9 } };

static gnutls_privkey_t key_new(void)
{
	gnutls_privkey_t k;

	ck_assert_int_eq(gnutls_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_privkey_generate(k, GNUTLS_PK_ECDSA, 256, 0), 0);
	return k;
}

/* A fresh REG_CHALLENGE for id from relay r, as the datagram it sends. */
static size_t challenge(struct relay *r, const uint8_t id[RMSG_ID_LEN], uint8_t *out)
{
	struct rmsg m = { .type = RMSG_REG_HELLO };
	uint8_t buf[RMSG_MAX];
	int n;

	memcpy(m.id, id, RMSG_ID_LEN);
	n = rmsg_encode(&m, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	nsent = 0;
	relay_input(r, &gw, buf, (size_t)n, t0);
	ck_assert_uint_eq(nsent, 1);
	ck_assert_uint_eq(sent[0].len, RPC_RELAY_CHAL_LEN);
	memcpy(out, sent[0].buf, sent[0].len);
	return sent[0].len;
}

START_TEST(signs_what_the_relay_accepts)
{
	struct relay_conf c;
	struct relay *r;
	struct relaysign rs;
	struct rmsg m;
	uint8_t ch[RMSG_MAX], out[RPC_RBLOB_MAX];
	size_t n;
	int len;

	relay_conf_default(&c);
	r = relay_new(&c, &ops, NULL, t0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(relaysign_init(&rs, key_new()), 0);
	n = challenge(r, rs.id, ch);
	len = relaysign_answer(&rs, ch, n, 0, out, sizeof(out));
	ck_assert_int_gt(len, 0);
	ck_assert_int_le(len, RPC_RBLOB_MAX);
	ck_assert_int_eq(rmsg_decode(&m, out, (size_t)len), 0);
	ck_assert_int_eq(m.type, RMSG_REGISTER);
	nsent = 0;
	relay_input(r, &gw, out, (size_t)len, t0);
	ck_assert_uint_eq(nsent, 1);
	ck_assert_int_eq(rmsg_decode(&m, sent[0].buf, sent[0].len), 0);
	ck_assert_int_eq(m.type, RMSG_REGISTERED);
	/* The same challenge again: once per challenge. */
	ck_assert_int_eq(relaysign_answer(&rs, ch, n, 1, out, sizeof(out)), -EALREADY);
	relaysign_free(&rs);
	relay_free(r);
}
END_TEST

START_TEST(no_oracle_for_a_front)
{
	struct relay_conf c;
	struct relay *r;
	struct relaysign rs, other;
	uint8_t ch[RMSG_MAX], bad[RMSG_MAX], out[RPC_RBLOB_MAX];
	size_t n;
	unsigned i;

	relay_conf_default(&c);
	r = relay_new(&c, &ops, NULL, t0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(relaysign_init(&rs, key_new()), 0);
	ck_assert_int_eq(relaysign_init(&other, key_new()), 0);
	/* Another home's challenge: refused, whoever's key the monitor has. */
	n = challenge(r, other.id, ch);
	ck_assert_int_eq(relaysign_answer(&rs, ch, n, 0, out, sizeof(out)), -EACCES);
	/* Not a REG_CHALLENGE: the same size as a CONN_CHALLENGE, a byte off. */
	n = challenge(r, rs.id, ch);
	memcpy(bad, ch, n);
	bad[1] = RMSG_CONN_CHALLENGE;
	ck_assert_int_eq(relaysign_answer(&rs, bad, n, 0, out, sizeof(out)), -EPROTO);
	memcpy(bad, ch, n);
	bad[0] = 2;
	ck_assert_int_eq(relaysign_answer(&rs, bad, n, 0, out, sizeof(out)), -EPROTO);
	ck_assert_int_eq(relaysign_answer(&rs, ch, n - 1, 0, out, sizeof(out)), -EPROTO);
	memset(bad, 0, sizeof(bad));
	ck_assert_int_eq(relaysign_answer(&rs, bad, n, 0, out, sizeof(out)), -EPROTO);
	/* The refusals above spent no credit: the burst is whole. */
	for (i = 0; i < RELAYSIGN_BURST; i++) {
		n = challenge(r, rs.id, ch);
		/*
		 * Within a second the relay repeats its cookie: vary it,
		 * as later challenges would.
		 */
		ch[RMSG_HDR_LEN + RMSG_ID_LEN + 4] ^= (uint8_t)(i + 1);
		ck_assert_int_gt(relaysign_answer(&rs, ch, n, 0, out, sizeof(out)), 0);
	}
	ch[RMSG_HDR_LEN + RMSG_ID_LEN + 4] ^= 0x80;
	ck_assert_int_eq(relaysign_answer(&rs, ch, n, 0, out, sizeof(out)), -EAGAIN);
	ck_assert_int_eq(relaysign_answer(&rs, ch, n, RELAYSIGN_PERIOD_MS - 1, out,
					  sizeof(out)), -EAGAIN);
	ck_assert_int_gt(relaysign_answer(&rs, ch, n, 2 * RELAYSIGN_PERIOD_MS, out,
					  sizeof(out)), 0);
	/* Without a key (no relay configured) nothing is signed. */
	relaysign_free(&other);
	ck_assert_int_eq(relaysign_answer(&other, ch, n, 0, out, sizeof(out)), -EOPNOTSUPP);
	relaysign_free(&rs);
	relay_free(r);
}
END_TEST

/*
 * ca.key as bgw-authdb writes it (PEM), the same after an EC PARAMETERS
 * block, and a file that is not a key.
 */
START_TEST(load_from_file)
{
	gnutls_privkey_t k = key_new();
	gnutls_x509_privkey_t xk;
	gnutls_datum_t pem = { NULL, 0 };
	struct relaysign rs, direct;
	char path[] = "/tmp/check-relaysign-XXXXXX";
	FILE *f;
	int fd;

	ck_assert_int_eq(gnutls_privkey_export_x509(k, &xk), 0);
	ck_assert_int_eq(gnutls_x509_privkey_export2(xk, GNUTLS_X509_FMT_PEM, &pem), 0);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(pem.data, 1, pem.size, f), pem.size);
	fclose(f);
	ck_assert_int_eq(relaysign_load(&rs, path), 0);
	ck_assert_int_eq(relaysign_init(&direct, k), 0);
	ck_assert_mem_eq(rs.id, direct.id, RMSG_ID_LEN);
	relaysign_free(&rs);
	/* As `openssl ecparam -genkey` writes it: the curve's block first. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n", f);
	ck_assert_uint_eq(fwrite(pem.data, 1, pem.size, f), pem.size);
	fclose(f);
	ck_assert_int_eq(relaysign_load(&rs, path), 0);
	ck_assert_mem_eq(rs.id, direct.id, RMSG_ID_LEN);
	relaysign_free(&rs);
	relaysign_free(&direct);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a key\n", f);
	fclose(f);
	ck_assert_int_eq(relaysign_load(&rs, path), -EBADMSG);
	unlink(path);
	ck_assert_int_eq(relaysign_load(&rs, path), -ENOENT);
	gnutls_x509_privkey_deinit(xk);
	gnutls_free(pem.data);
}
END_TEST

/* A PEM file at a new temporary path (written whole). */
static void pem_file(char *path, const gnutls_datum_t *d)
{
	FILE *f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(d->data, 1, d->size, f), d->size);
	fclose(f);
}

/* A certificate for sub by (issuer, ik) or self-signed (issuer NULL). */
static gnutls_x509_crt_t crt_new(gnutls_x509_crt_t issuer, gnutls_privkey_t ik,
				 gnutls_privkey_t sub, const char *purpose, time_t nb, time_t na)
{
	static const uint8_t serial[] = { 9 };
	gnutls_x509_crt_t c;
	gnutls_pubkey_t pub;

	ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_privkey(pub, sub, 0, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_pubkey(c, pub), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(c, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(c, serial, sizeof(serial)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "t", 1), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(c, nb), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(c, na), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_basic_constraints(c, issuer ? 0 : 1, -1), 0);
	if (purpose)
		ck_assert_int_eq(gnutls_x509_crt_set_key_purpose_oid(c, purpose, 1), 0);
	ck_assert_int_eq(gnutls_x509_crt_privkey_sign(c, issuer ? issuer : c, ik,
						      GNUTLS_DIG_SHA256, 0), 0);
	gnutls_pubkey_deinit(pub);
	return c;
}

/*
 * A registration key the CA certified (relay-key + relay-cert): the
 * answers are REGISTER2 for the CA's id, which a relay takes; the days
 * left are counted; a certificate from another CA is refused at load.
 */
START_TEST(registration_key_v2)
{
	gnutls_privkey_t ca = key_new(), reg = key_new(), other = key_new();
	gnutls_x509_privkey_t xk;
	gnutls_x509_crt_t cac, rc, oc;
	gnutls_datum_t d = { NULL, 0 };
	char kpath[] = "/tmp/check-relaysign-k-XXXXXX", capath[] = "/tmp/check-relaysign-a-XXXXXX";
	char cpath[] = "/tmp/check-relaysign-c-XXXXXX", opath[] = "/tmp/check-relaysign-o-XXXXXX";
	struct relay_conf c;
	struct relay *r;
	struct relaysign rs, caonly;
	struct rmsg m;
	uint8_t ch[RMSG_MAX], out[RPC_RBLOB_MAX];
	time_t now = time(NULL);
	size_t n;
	int len;

	cac = crt_new(NULL, ca, ca, NULL, now - 86400, now + 3650 * 86400);
	rc = crt_new(cac, ca, reg, HOMEID_REGKEY_OID, now - 300, now + 10 * 86400 + 100);
	oc = crt_new(NULL, other, other, NULL, now - 86400, now + 3650 * 86400);
	ck_assert_int_eq(gnutls_privkey_export_x509(reg, &xk), 0);
	ck_assert_int_eq(gnutls_x509_privkey_export2(xk, GNUTLS_X509_FMT_PEM, &d), 0);
	pem_file(kpath, &d);
	gnutls_free(d.data);
	ck_assert_int_eq(gnutls_x509_crt_export2(cac, GNUTLS_X509_FMT_PEM, &d), 0);
	pem_file(capath, &d);
	gnutls_free(d.data);
	ck_assert_int_eq(gnutls_x509_crt_export2(rc, GNUTLS_X509_FMT_PEM, &d), 0);
	pem_file(cpath, &d);
	gnutls_free(d.data);
	ck_assert_int_eq(gnutls_x509_crt_export2(oc, GNUTLS_X509_FMT_PEM, &d), 0);
	pem_file(opath, &d);
	gnutls_free(d.data);

	ck_assert_int_eq(relaysign_load(&rs, kpath), 0);
	ck_assert_int_eq(relaysign_days_left(&rs, now), INT32_MAX);
	ck_assert_int_eq(relaysign_load_cert(&rs, capath, cpath), 0);
	/* The id is the CA's, not the registration key's. */
	ck_assert_int_eq(relaysign_init(&caonly, ca), 0);
	ck_assert_mem_eq(rs.id, caonly.id, RMSG_ID_LEN);
	ck_assert_int_eq(relaysign_days_left(&rs, now), 10);
	ck_assert_int_eq(relaysign_days_left(&rs, now + 10 * 86400 + 100), 0);
	ck_assert_int_eq(relaysign_days_left(&rs, now + 10 * 86400 + 101), -1);

	relay_conf_default(&c);
	r = relay_new(&c, &ops, NULL, t0);
	ck_assert_ptr_nonnull(r);
	n = challenge(r, rs.id, ch);
	len = relaysign_answer(&rs, ch, n, 0, out, sizeof(out));
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(rmsg_decode(&m, out, (size_t)len), 0);
	ck_assert_int_eq(m.type, RMSG_REGISTER2);
	nsent = 0;
	relay_input(r, &gw, out, (size_t)len, t0);
	ck_assert_uint_eq(nsent, 1);
	ck_assert_int_eq(rmsg_decode(&m, sent[0].buf, sent[0].len), 0);
	ck_assert_int_eq(m.type, RMSG_REGISTERED);
	relaysign_free(&rs);
	relay_free(r);

	/* Under another CA, or with the CA's own key: refused at load. */
	ck_assert_int_eq(relaysign_load(&rs, kpath), 0);
	ck_assert_int_eq(relaysign_load_cert(&rs, opath, cpath), -ENOKEY);
	relaysign_free(&rs);
	ck_assert_int_eq(relaysign_init(&rs, ca), 0);
	caonly.key = NULL;	/* ca now rs's */
	ck_assert_int_eq(relaysign_load_cert(&rs, capath, cpath), -EKEYREJECTED);
	relaysign_free(&rs);
	ck_assert_int_eq(relaysign_load(&rs, kpath), 0);
	ck_assert_int_eq(relaysign_load_cert(&rs, capath, "/nonexistent/relay.crt"), -ENOENT);
	relaysign_free(&rs);
	relaysign_free(&caonly);

	unlink(kpath);
	unlink(capath);
	unlink(cpath);
	unlink(opath);
	gnutls_x509_privkey_deinit(xk);
	gnutls_x509_crt_deinit(cac);
	gnutls_x509_crt_deinit(rc);
	gnutls_x509_crt_deinit(oc);
	gnutls_privkey_deinit(reg);
	gnutls_privkey_deinit(other);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("relaysign");
	TCase *tc = tcase_create("relaysign");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, signs_what_the_relay_accepts);
	tcase_add_test(tc, no_oracle_for_a_front);
	tcase_add_test(tc, load_from_file);
	tcase_add_test(tc, registration_key_v2);
	suite_add_tcase(s, tc);
	return s;
}
