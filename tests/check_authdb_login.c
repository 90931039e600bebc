/* SPDX-License-Identifier: MIT */
/* Password login as the tunnel runs it: SCRAM + authdb + limits + audit. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"
#include "login.h"

static const uint8_t secret[32] = "a server secret of 32 bytes....";
static const uint8_t cb[32] = { 0xcb, 1, 2, 3 };
static struct authdb *db;
static char dir[64], logpath[96];
static struct audit_log *alog;
static struct ratelimit *by_src, *by_user;

static void quiet(int prio, const char *line, void *user)
{
}

static void setup(void)
{
	struct scram_verifier v;

	log_set_handler(quiet, NULL);
	db = authdb_new();
	ck_assert_int_eq(authdb_user_add(db, "alice", 0), 0);
	ck_assert_int_eq(authdb_user_add(db, "bob", AUTHDB_USER_DISABLED), 0);
	ck_assert_int_eq(authdb_user_add(db, "carol", 0), 0);
	ck_assert_int_eq(scram_verifier_make("alice-pw", 8, 0, &v), 0);
	ck_assert_int_eq(authdb_password_set(db, "alice", &v), 0);
	ck_assert_int_eq(authdb_password_set(db, "bob", &v), 0);
	snprintf(dir, sizeof(dir), "/tmp/login-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	ck_assert_int_eq(audit_open(logpath, &alog), 0);
	{
		const struct ratelimit_policy ps = RATELIMIT_POLICY_SOURCE;
		const struct ratelimit_policy pu = RATELIMIT_POLICY_USER;

		by_src = ratelimit_new(64, &ps);
		by_user = ratelimit_new(64, &pu);
	}
}

static void teardown(void)
{
	authdb_free(db);
	audit_close(alog);
	ratelimit_free(by_src);
	ratelimit_free(by_user);
	unlink(logpath);
	{
		char k[112], a[112];

		if (audit_side_paths(logpath, k, sizeof(k), a, sizeof(a)) == 0) {
			unlink(k);
			unlink(a);
		}
	}
	rmdir(dir);
}

struct result {
	int ret;
	char server_first[SCRAM_MSG_MAX + 1];
	char server_final[SCRAM_MSG_MAX + 1];
	bool client_ok;
	char user[SCRAM_USER_MAX + 1];
};

static struct result login(const char *user, const char *pw, const char *src,
			   uint64_t now, bool drop_table)
{
	struct login_params p = {
		.db = db, .secret = secret, .secret_len = sizeof(secret),
		.by_src = by_src, .by_user = by_user, .audit = alog, .src = src,
		.cb = cb, .cb_len = sizeof(cb), .now_ms = now,
	};
	struct result r = { 0 };
	struct login_server *l;
	struct scram_client *c;
	char m[SCRAM_MSG_MAX + 1];
	size_t len, olen;

	ck_assert_int_eq(login_server_new(&l, &p), 0);
	if (drop_table) {
		/* A reload swaps tables mid-login: ours stays valid. */
		authdb_free(db);
		db = authdb_new();
	}
	ck_assert_int_eq(scram_client_new(&c, user, pw, strlen(pw), cb, sizeof(cb),
					  NULL), 0);
	ck_assert_int_eq(scram_client_first(c, m, sizeof(m), &len), 0);
	r.ret = login_server_step(l, m, len, m, sizeof(m), &olen);
	if (r.ret == 1) {
		memcpy(r.server_first, m, olen + 1);
		ck_assert_int_eq(scram_client_final(c, m, olen, m, sizeof(m), &len), 0);
		r.ret = login_server_step(l, m, len, m, sizeof(m), &olen);
		memcpy(r.server_final, m, olen + 1);
		r.client_ok = scram_client_verify(c, m, olen) == 0;
	} else {
		memcpy(r.server_final, m, olen + 1);
	}
	if (login_server_user(l))
		snprintf(r.user, sizeof(r.user), "%s", login_server_user(l));
	scram_client_free(c);
	login_server_free(l);
	return r;
}

/* "r=NONCE,s=SALT,i=N" with the nonce taken out: what an observer compares. */
static void shape(const char *sf, char *out, size_t cap)
{
	const char *s = strstr(sf, ",s=");

	ck_assert_ptr_nonnull(s);
	snprintf(out, cap, "%zu:%zu:%s", (size_t)(s - sf), strlen(s),
		 strstr(s, ",i="));
}

START_TEST(test_success)
{
	struct result r = login("alice", "alice-pw", "192.0.2.1", 0, false);
	struct audit_report rep;

	ck_assert_int_eq(r.ret, 0);
	ck_assert(r.client_ok);		/* the server proved its verifier */
	ck_assert_str_eq(r.user, "alice");
	ck_assert_int_eq(audit_verify(logpath, NULL, &rep), 0);
	ck_assert_uint_eq(rep.nrecords, 1);
}
END_TEST

START_TEST(test_failures_look_alike)
{
	const char *const users[] = { "alice", "bob", "carol", "mallory" };
	char first[4][64];
	size_t i;

	/* Wrong password, disabled, no password, unknown: same answers. */
	for (i = 0; i < 4; i++) {
		struct result r = login(users[i], i ? "alice-pw" : "wrong",
					"192.0.2.1", 0, false);

		ck_assert_int_eq(r.ret, -EACCES);
		ck_assert_str_eq(r.server_final, "e=invalid-proof");
		ck_assert(!r.client_ok);
		ck_assert_ptr_null(login_server_user(NULL));
		shape(r.server_first, first[i], sizeof(first[i]));
		if (i)
			ck_assert_str_eq(first[i], first[0]);
		/* Different sources, so no limit interferes. */
		ratelimit_success(by_src, "192.0.2.1", 9);
	}
}
END_TEST

START_TEST(test_rate_limited)
{
	struct result r;
	uint64_t t = 1000;
	int i;

	for (i = 0; i < 3; i++) {
		r = login("alice", "guess", "203.0.113.9", t, false);
		ck_assert_int_eq(r.ret, -EACCES);
	}
	r = login("alice", "guess", "203.0.113.9", t, false);
	ck_assert_int_eq(r.ret, -EACCES);		/* 4th: now blocked */
	r = login("alice", "alice-pw", "203.0.113.9", t, false);
	ck_assert_int_eq(r.ret, -EAGAIN);		/* even the right one */
	ck_assert_str_eq(r.server_final, "e=other-error");
	/* The real user from home is not locked out by the source limit. */
	r = login("alice", "alice-pw", "198.51.100.2", t, false);
	ck_assert_int_eq(r.ret, 0);
	/* Later the attacker's address may try again. */
	r = login("alice", "alice-pw", "203.0.113.9", t + 1000, false);
	ck_assert_int_eq(r.ret, 0);
	{
		struct audit_report rep;

		ck_assert_int_eq(audit_verify(logpath, NULL, &rep), 0);
	}
}
END_TEST

START_TEST(test_table_swapped_mid_login)
{
	struct result r = login("alice", "alice-pw", "192.0.2.1", 0, true);

	ck_assert_int_eq(r.ret, 0);
}
END_TEST

START_TEST(test_binding_required)
{
	struct login_params p = {
		.db = db, .secret = secret, .secret_len = sizeof(secret),
		.audit = alog, .src = "192.0.2.1", .cb = cb, .cb_len = sizeof(cb),
	};
	struct login_server *l;
	struct scram_client *c;
	char m[SCRAM_MSG_MAX + 1];
	size_t len, olen;

	/* A client that does not bind (a relay would strip it): refused. */
	ck_assert_int_eq(login_server_new(&l, &p), 0);
	ck_assert_int_eq(scram_client_new(&c, "alice", "alice-pw", 8, NULL, 0, NULL), 0);
	ck_assert_int_eq(scram_client_first(c, m, sizeof(m), &len), 0);
	ck_assert_int_eq(login_server_step(l, m, len, m, sizeof(m), &olen), -EACCES);
	ck_assert_str_eq(m, "e=server-does-support-channel-binding");
	ck_assert_int_eq(login_server_step(l, m, len, m, sizeof(m), &olen), -EINVAL);
	scram_client_free(c);
	login_server_free(l);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("login");
	TCase *tc = tcase_create("login");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_success);
	tcase_add_test(tc, test_failures_look_alike);
	tcase_add_test(tc, test_rate_limited);
	tcase_add_test(tc, test_table_swapped_mid_login);
	tcase_add_test(tc, test_binding_required);
	suite_add_tcase(s, tc);
	return s;
}
