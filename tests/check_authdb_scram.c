/* SPDX-License-Identifier: MIT */
/* SCRAM-SHA-256: RFC 7677 section 3 vector, channel binding, malformed input. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "b64.h"
#include "check_main.h"
#include "scram.h"

#define C1 "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define S1 "r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define C2 "c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE \
	",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define S2 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const uint8_t secret[32] = "server secret for fake verifier";

static struct scram_verifier vector_verifier(void)
{
	struct scram_verifier v;
	uint8_t salt[16];

	ck_assert_int_eq(b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt,
				    sizeof(salt)), 16);
	ck_assert_int_eq(scram_verifier_derive("pencil", 6, salt, 16, 4096, &v), 0);
	return v;
}

START_TEST(test_rfc7677_client)
{
	struct scram_client *c;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;

	ck_assert_int_eq(scram_client_new(&c, "user", "pencil", 6, NULL, 0,
					  "rOprNGfwEbeRWgbNEkqO"), 0);
	ck_assert_int_eq(scram_client_first(c, out, sizeof(out), &len), 0);
	ck_assert_str_eq(out, C1);
	ck_assert_uint_eq(len, strlen(C1));
	ck_assert_int_eq(scram_client_final(c, S1, strlen(S1), out, sizeof(out),
					    &len), 0);
	ck_assert_str_eq(out, C2);
	ck_assert_int_eq(scram_client_verify(c, S2, strlen(S2)), 0);
	scram_client_free(c);
}
END_TEST

START_TEST(test_rfc7677_server)
{
	struct scram_verifier v = vector_verifier();
	struct scram_server *s;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;

	ck_assert_int_eq(scram_server_new(&s, NULL, 0, SNONCE), 0);
	ck_assert_int_eq(scram_server_recv_first(s, C1, strlen(C1)), 0);
	ck_assert_str_eq(scram_server_user(s), "user");
	ck_assert_int_eq(scram_server_first(s, &v, true, out, sizeof(out), &len), 0);
	ck_assert_str_eq(out, S1);
	ck_assert_int_eq(scram_server_final(s, C2, strlen(C2), out, sizeof(out),
					    &len), 0);
	ck_assert_str_eq(out, S2);
	ck_assert(scram_server_is_authenticated(s));
	scram_server_free(s);
}
END_TEST

/* Run a whole exchange; returns the server's final result. */
static int exchange(const char *user, const char *pw, const uint8_t *ccb,
		    size_t ccb_len, const uint8_t *scb, size_t scb_len,
		    const struct scram_verifier *stored, bool *client_ok)
{
	struct scram_client *c;
	struct scram_server *s;
	struct scram_verifier v;
	char m[SCRAM_MSG_MAX + 1];
	size_t len;
	bool real = stored != NULL;
	int ret;

	ck_assert_int_eq(scram_client_new(&c, user, pw, strlen(pw), ccb, ccb_len,
					  NULL), 0);
	ck_assert_int_eq(scram_server_new(&s, scb, scb_len, NULL), 0);
	ck_assert_int_eq(scram_client_first(c, m, sizeof(m), &len), 0);
	ret = scram_server_recv_first(s, m, len);
	if (ret)
		goto out;
	if (stored)
		v = *stored;
	else
		ck_assert_int_eq(scram_verifier_fake(secret, sizeof(secret),
						     scram_server_user(s), &v), 0);
	ck_assert_int_eq(scram_server_first(s, &v, real, m, sizeof(m), &len), 0);
	ck_assert_int_eq(scram_client_final(c, m, len, m, sizeof(m), &len), 0);
	ret = scram_server_final(s, m, len, m, sizeof(m), &len);
	*client_ok = scram_client_verify(c, m, len) == 0;
out:
	scram_client_free(c);
	scram_server_free(s);
	return ret;
}

START_TEST(test_channel_binding)
{
	struct scram_verifier v;
	uint8_t cb1[32], cb2[32];
	bool ok = false;

	memset(cb1, 0x11, sizeof(cb1));
	memset(cb2, 0x22, sizeof(cb2));
	ck_assert_int_eq(scram_verifier_make("correct horse", 13, 4096, &v), 0);
	ck_assert_int_eq(exchange("alice", "correct horse", cb1, 32, cb1, 32, &v,
				  &ok), 0);
	ck_assert(ok);
	/* A relayed login: the client's TLS session is not the server's. */
	ok = true;
	ck_assert_int_eq(exchange("alice", "correct horse", cb1, 32, cb2, 32, &v,
				  &ok), -EACCES);
	ck_assert(!ok);
	/* Client without binding while the server has it: refused. */
	ck_assert_int_eq(exchange("alice", "correct horse", NULL, 0, cb1, 32, &v,
				  &ok), -EPROTO);
	/* Client binds but the server cannot: refused. */
	ck_assert_int_eq(exchange("alice", "correct horse", cb1, 32, NULL, 0, &v,
				  &ok), -EPROTO);
}
END_TEST

START_TEST(test_wrong_password_and_unknown_user)
{
	struct scram_verifier v, f1, f2;
	uint8_t cb[32] = { 1 };
	bool ok = true;

	ck_assert_int_eq(scram_verifier_make("correct horse", 13, 4096, &v), 0);
	ck_assert_int_eq(exchange("alice", "wrong", cb, 32, cb, 32, &v, &ok),
			 -EACCES);
	ck_assert(!ok);
	ok = true;
	/* Unknown user: the same path, the same answer. */
	ck_assert_int_eq(exchange("mallory", "x", cb, 32, cb, 32, NULL, &ok),
			 -EACCES);
	ck_assert(!ok);
	/* The fake verifier is stable per name and differs between names. */
	ck_assert_int_eq(scram_verifier_fake(secret, 32, "mallory", &f1), 0);
	ck_assert_int_eq(scram_verifier_fake(secret, 32, "mallory", &f2), 0);
	ck_assert_mem_eq(&f1, &f2, sizeof(f1));
	ck_assert_uint_eq(f1.iterations, SCRAM_ITER_DEFAULT);
	ck_assert_uint_eq(f1.salt_len, SCRAM_SALT_LEN);
	ck_assert_int_eq(scram_verifier_fake(secret, 32, "trudy", &f2), 0);
	ck_assert(memcmp(f1.salt, f2.salt, SCRAM_SALT_LEN) != 0);
}
END_TEST

START_TEST(test_fake_never_succeeds)
{
	/* Even the right proof for a fabricated verifier is refused. */
	struct scram_verifier v = vector_verifier();
	struct scram_server *s;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;

	ck_assert_int_eq(scram_server_new(&s, NULL, 0, SNONCE), 0);
	ck_assert_int_eq(scram_server_recv_first(s, C1, strlen(C1)), 0);
	ck_assert_int_eq(scram_server_first(s, &v, false, out, sizeof(out), &len), 0);
	ck_assert_int_eq(scram_server_final(s, C2, strlen(C2), out, sizeof(out),
					    &len), -EACCES);
	ck_assert_str_eq(out, "e=invalid-proof");
	ck_assert(!scram_server_is_authenticated(s));
	scram_server_free(s);
}
END_TEST

static const char *const bad_first[] = {
	"",
	"n",
	"n,",
	"n,,",
	"x,,n=user,r=abc",
	"n,a=admin,n=user,r=abc",		/* authzid */
	"p=tls-unique,,n=user,r=abc",		/* other binding */
	"n,,m=ext,n=user,r=abc",		/* mandatory extension */
	"n,,r=abc,n=user",			/* order */
	"n,,n=,r=abc",				/* empty user */
	"n,,n=us=er,r=abc",			/* bad escape */
	"n,,n=user,r=",				/* empty nonce */
	"n,,n=user,r=a,b",			/* comma in nonce */
	"n,,n=user,r=abc,x=1",			/* trailing attribute */
	"n,,n=user",				/* truncated */
	"n,,n=user,r=a\tb",			/* control char */
};

START_TEST(test_malformed_client_first)
{
	struct scram_server *s;
	const char *m = bad_first[_i];

	ck_assert_int_eq(scram_server_new(&s, NULL, 0, NULL), 0);
	ck_assert_int_lt(scram_server_recv_first(s, m, strlen(m)), 0);
	/* Spent: no further step is accepted. */
	ck_assert_ptr_null(scram_server_user(s));
	scram_server_free(s);
}
END_TEST

START_TEST(test_malformed_sizes)
{
	struct scram_server *s;
	char big[SCRAM_MSG_MAX + 2];
	static const char nul[] = "n,,n=us\0er,r=abc";

	memset(big, 'a', sizeof(big));
	memcpy(big, "n,,n=user,r=", 12);
	ck_assert_int_eq(scram_server_new(&s, NULL, 0, NULL), 0);
	ck_assert_int_eq(scram_server_recv_first(s, big, sizeof(big)), -EBADMSG);
	scram_server_free(s);
	ck_assert_int_eq(scram_server_new(&s, NULL, 0, NULL), 0);
	ck_assert_int_eq(scram_server_recv_first(s, nul, sizeof(nul) - 1), -EBADMSG);
	scram_server_free(s);
}
END_TEST

static const char *const bad_final[] = {
	"",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE,		/* no proof */
	"c=biws,r=rOprNGfwEbeRWgbNEkqOxx,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=dHzbZapWIk4jUhN",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=!!!!",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",m=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
};

START_TEST(test_malformed_client_final)
{
	struct scram_verifier v = vector_verifier();
	struct scram_server *s;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;
	const char *m = bad_final[_i];

	ck_assert_int_eq(scram_server_new(&s, NULL, 0, SNONCE), 0);
	ck_assert_int_eq(scram_server_recv_first(s, C1, strlen(C1)), 0);
	ck_assert_int_eq(scram_server_first(s, &v, true, out, sizeof(out), &len), 0);
	ck_assert_int_eq(scram_server_final(s, m, strlen(m), out, sizeof(out), &len),
			 -EBADMSG);
	ck_assert_str_eq(out, "e=other-error");
	ck_assert(!scram_server_is_authenticated(s));
	scram_server_free(s);
}
END_TEST

START_TEST(test_server_refuses_early)
{
	struct scram_client *c;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;

	ck_assert_int_eq(scram_client_new(&c, "user", "pencil", 6, NULL, 0, NULL), 0);
	ck_assert_int_eq(scram_client_first(c, out, sizeof(out), &len), 0);
	ck_assert_int_eq(scram_client_final(c, "e=other-error", 13, out, sizeof(out),
					    &len), -EACCES);
	scram_client_free(c);
}
END_TEST

START_TEST(test_final_bad_binding_field)
{
	/* c= that is not base64(gs2-header || cb), in every way: refused as
	 * a binding mismatch whatever the proof. */
	static const char *const cs[] = { "c=", "c=!!!!", "c=bix=", "c=eSws",
					  "c=cD10bHMtZXhwb3J0ZXIsLA==" };
	struct scram_verifier v = vector_verifier();
	struct scram_server *s;
	char out[SCRAM_MSG_MAX + 1], msg[256];
	size_t i, len;

	for (i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		ck_assert_int_eq(scram_server_new(&s, NULL, 0, SNONCE), 0);
		ck_assert_int_eq(scram_server_recv_first(s, C1, strlen(C1)), 0);
		ck_assert_int_eq(scram_server_first(s, &v, true, out, sizeof(out),
						    &len), 0);
		strcpy(msg, cs[i]);	/* SNONCE has a '%': no printf */
		strcat(msg, ",r=rOprNGfwEbeRWgbNEkqO" SNONCE
		       ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
		ck_assert_int_eq(scram_server_final(s, msg, strlen(msg), out,
						    sizeof(out), &len), -EACCES);
		ck_assert_str_eq(out, "e=channel-bindings-dont-match");
		scram_server_free(s);
	}
}
END_TEST

static const char *const bad_server_first[] = {
	"",
	"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",	/* no server part */
	"r=XXprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=,i=4096",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==",
	"m=x,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=y",
};

START_TEST(test_malformed_server_first)
{
	struct scram_client *c;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;
	const char *m = bad_server_first[_i];

	ck_assert_int_eq(scram_client_new(&c, "user", "pencil", 6, NULL, 0,
					  "rOprNGfwEbeRWgbNEkqO"), 0);
	ck_assert_int_eq(scram_client_first(c, out, sizeof(out), &len), 0);
	ck_assert_int_eq(scram_client_final(c, m, strlen(m), out, sizeof(out), &len),
			 -EBADMSG);
	scram_client_free(c);
}
END_TEST

START_TEST(test_server_final_checked)
{
	struct scram_client *c;
	char out[SCRAM_MSG_MAX + 1];
	size_t len;
	static const char *const finals[] = {
		"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",	/* wrong */
		"e=invalid-proof",
		"v=6rriTRBi23WpRR",
		"x=1",
	};
	static const int want[] = { -EACCES, -EACCES, -EBADMSG, -EBADMSG };
	size_t i;

	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(scram_client_new(&c, "user", "pencil", 6, NULL, 0,
						  "rOprNGfwEbeRWgbNEkqO"), 0);
		ck_assert_int_eq(scram_client_first(c, out, sizeof(out), &len), 0);
		ck_assert_int_eq(scram_client_final(c, S1, strlen(S1), out,
						    sizeof(out), &len), 0);
		ck_assert_int_eq(scram_client_verify(c, finals[i], strlen(finals[i])),
				 want[i]);
		scram_client_free(c);
	}
}
END_TEST

/*
 * The split server (bgw-muxd): the exchange with only the salt and the
 * iteration count, the proof checked elsewhere by scram_proof_check.
 */
struct remote {
	struct scram_verifier v;
	bool real;
	int force;		/* returned instead of checking, if set */
	unsigned calls;
	char am[SCRAM_AM_MAX + 1];
};

static int remote_verify(void *ctx, const char *am, size_t am_len,
			 const uint8_t proof[SCRAM_KEY_LEN], uint8_t ssig[SCRAM_KEY_LEN])
{
	struct remote *r = ctx;

	r->calls++;
	ck_assert_uint_le(am_len, SCRAM_AM_MAX);
	memcpy(r->am, am, am_len);
	r->am[am_len] = '\0';
	if (r->force)
		return r->force;
	return scram_proof_check(&r->v, r->real, am, am_len, proof, ssig);
}

static int split_final(struct remote *r, const char *c2, char *out, size_t cap)
{
	struct scram_verifier salt_only = vector_verifier();
	struct scram_server *s;
	size_t len;
	int ret;

	memset(salt_only.stored_key, 0, SCRAM_KEY_LEN);
	memset(salt_only.server_key, 0, SCRAM_KEY_LEN);
	ck_assert_int_eq(scram_server_new(&s, NULL, 0, SNONCE), 0);
	ck_assert_int_eq(scram_server_recv_first(s, C1, strlen(C1)), 0);
	ck_assert_int_eq(scram_server_first(s, &salt_only, false, out, cap, &len), 0);
	ck_assert_str_eq(out, S1);
	ret = scram_server_final_ext(s, c2, strlen(c2), remote_verify, r, out, cap, &len);
	ck_assert(scram_server_is_authenticated(s) == (ret == 0));
	scram_server_free(s);
	return ret;
}

START_TEST(test_split_verify)
{
	static struct remote r;
	char out[SCRAM_MSG_MAX + 1], c2[sizeof(C2)];
	uint8_t proof[SCRAM_KEY_LEN], ssig[SCRAM_KEY_LEN];

	memset(&r, 0, sizeof(r));
	r.v = vector_verifier();
	r.real = true;
	ck_assert_int_eq(split_final(&r, C2, out, sizeof(out)), 0);
	ck_assert_str_eq(out, S2);
	ck_assert_uint_eq(r.calls, 1);
	/* RFC 5802 section 3: bare "," server-first "," final-without-proof */
	ck_assert_str_eq(r.am, "n=user,r=rOprNGfwEbeRWgbNEkqO," S1
			 ",c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE);
	/* A fabricated verifier fails even with the right proof. */
	r.real = false;
	ck_assert_int_eq(split_final(&r, C2, out, sizeof(out)), -EACCES);
	ck_assert_str_eq(out, "e=invalid-proof");
	/* The proof changed: refused, ServerSignature zeroed. */
	r.real = true;
	memcpy(c2, C2, sizeof(C2));
	strstr(c2, ",p=")[3] = 'e';	/* "dHzb..." -> "eHzb...": the first bits */
	ck_assert_int_eq(split_final(&r, c2, out, sizeof(out)), -EACCES);
	ck_assert_str_eq(out, "e=invalid-proof");
	memset(proof, 0x5a, sizeof(proof));
	memset(ssig, 0xee, sizeof(ssig));
	ck_assert_int_eq(scram_proof_check(&r.v, true, r.am, strlen(r.am), proof, ssig),
			 -EACCES);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		ck_assert_uint_eq(ssig[i], 0);
	/* The checker's own refusal (rate limited) comes back as is. */
	r.force = -EAGAIN;
	ck_assert_int_eq(split_final(&r, C2, out, sizeof(out)), -EAGAIN);
	ck_assert_str_eq(out, "e=other-error");
	/* A binding mismatch is refused before the checker is asked. */
	r.force = 0;
	r.calls = 0;
	ck_assert_int_eq(split_final(&r, "c=eSws,r=rOprNGfwEbeRWgbNEkqO" SNONCE
				     ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
				     out, sizeof(out)), -EACCES);
	ck_assert_str_eq(out, "e=channel-bindings-dont-match");
	ck_assert_uint_eq(r.calls, 0);
}
END_TEST

START_TEST(test_b64_strict)
{
	uint8_t out[8];
	char enc[16];

	ck_assert_int_eq(b64_decode("biws", 4, out, sizeof(out)), 3);
	ck_assert_mem_eq(out, "n,,", 3);
	ck_assert_int_eq(b64_decode("biw", 3, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(b64_decode("bix=", 4, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(b64_decode("b w=", 4, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(b64_decode("YWJjZGVmZ2hp", 12, out, 8), -ENOSPC);
	ck_assert_int_eq(b64_encode("ab", 2, enc, sizeof(enc)), 4);
	ck_assert_str_eq(enc, "YWI=");
	ck_assert_int_eq(b64_encode("ab", 2, enc, 4), -ENOSPC);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("scram");
	TCase *tc = tcase_create("scram");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rfc7677_client);
	tcase_add_test(tc, test_rfc7677_server);
	tcase_add_test(tc, test_channel_binding);
	tcase_add_test(tc, test_wrong_password_and_unknown_user);
	tcase_add_test(tc, test_fake_never_succeeds);
	tcase_add_loop_test(tc, test_malformed_client_first, 0,
			    sizeof(bad_first) / sizeof(bad_first[0]));
	tcase_add_test(tc, test_malformed_sizes);
	tcase_add_loop_test(tc, test_malformed_client_final, 0,
			    sizeof(bad_final) / sizeof(bad_final[0]));
	tcase_add_loop_test(tc, test_malformed_server_first, 0,
			    sizeof(bad_server_first) / sizeof(bad_server_first[0]));
	tcase_add_test(tc, test_server_final_checked);
	tcase_add_test(tc, test_server_refuses_early);
	tcase_add_test(tc, test_final_bad_binding_field);
	tcase_add_test(tc, test_b64_strict);
	tcase_add_test(tc, test_split_verify);
	suite_add_tcase(s, tc);
	return s;
}
