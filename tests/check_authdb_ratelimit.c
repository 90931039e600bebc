/* SPDX-License-Identifier: MIT */
/* Login rate limiting: backoff, cap, decay, eviction; time passed in. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "ratelimit.h"

static const struct ratelimit_policy src_policy = RATELIMIT_POLICY_SOURCE;
static const struct ratelimit_policy user_policy = RATELIMIT_POLICY_USER;

START_TEST(test_backoff_doubles)
{
	struct ratelimit *rl = ratelimit_new(16, &src_policy);
	uint64_t t = 1000000, wait;
	int i;

	/* Three free failures. */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), 0);
		ck_assert_int_eq(ratelimit_failure(rl, "1.2.3.4", 7, t), 0);
	}
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), 0);
	ck_assert_int_eq(ratelimit_failure(rl, "1.2.3.4", 7, t), 0);
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), -EAGAIN);
	ck_assert_uint_eq(wait, 1000);
	/* Another address is not affected. */
	ck_assert_int_eq(ratelimit_check(rl, "5.6.7.8", 7, t, &wait), 0);
	t += 1000;
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), 0);
	ck_assert_int_eq(ratelimit_failure(rl, "1.2.3.4", 7, t), 0);
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), -EAGAIN);
	ck_assert_uint_eq(wait, 2000);
	t += 2000;
	ck_assert_int_eq(ratelimit_failure(rl, "1.2.3.4", 7, t), 0);
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), -EAGAIN);
	ck_assert_uint_eq(wait, 4000);
	/* Capped at max. */
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(ratelimit_failure(rl, "1.2.3.4", 7, t), 0);
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), -EAGAIN);
	ck_assert_uint_eq(wait, src_policy.max_ms);
	/* Success forgets. */
	ck_assert_int_eq(ratelimit_success(rl, "1.2.3.4", 7), 0);
	ck_assert_int_eq(ratelimit_check(rl, "1.2.3.4", 7, t, &wait), 0);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_user_never_locked_forever)
{
	struct ratelimit *rl = ratelimit_new(16, &user_policy);
	uint64_t t = 0, wait;
	int i;

	/* An attacker hammers alice's account. */
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(ratelimit_failure(rl, "alice", 5, t), 0);
	ck_assert_int_eq(ratelimit_check(rl, "alice", 5, t, &wait), -EAGAIN);
	ck_assert_uint_le(wait, user_policy.max_ms);
	/* Bounded wait; then alice can try again. */
	t += user_policy.max_ms;
	ck_assert_int_eq(ratelimit_check(rl, "alice", 5, t, &wait), 0);
	/* And after a quiet spell the count has decayed back to free tries. */
	t += 64 * user_policy.decay_ms;
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(ratelimit_failure(rl, "alice", 5, t), 0);
	ck_assert_int_eq(ratelimit_check(rl, "alice", 5, t, &wait), 0);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_decay_partial)
{
	struct ratelimit *rl = ratelimit_new(4, &src_policy);
	uint64_t t = 0, wait;
	int i;

	for (i = 0; i < 5; i++)
		ratelimit_failure(rl, "k", 1, t);	/* 5 failures: 2 s */
	ck_assert_int_eq(ratelimit_check(rl, "k", 1, t, &wait), -EAGAIN);
	ck_assert_uint_eq(wait, 2000);
	/* Two decay periods: 3 left, the next failure makes 4: 1 s. */
	t += 2 * src_policy.decay_ms;
	ratelimit_failure(rl, "k", 1, t);
	ck_assert_int_eq(ratelimit_check(rl, "k", 1, t, &wait), -EAGAIN);
	ck_assert_uint_eq(wait, 1000);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_bounded_table)
{
	struct ratelimit *rl = ratelimit_new(8, &src_policy);
	char key[16];
	uint64_t t = 0, wait;
	int i, j;

	/* One blocked attacker, then a flood of other keys. */
	for (j = 0; j < 6; j++)
		ratelimit_failure(rl, "attacker", 8, t);
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(ratelimit_failure(rl, key, strlen(key), t + 1), 0);
		ck_assert_uint_le(ratelimit_count(rl), 8);
	}
	/* Entries still blocked are evicted last... but all flood keys got
	 * their first (free) failure only, so they are not blocked: the
	 * attacker's entry survived. */
	ck_assert_int_eq(ratelimit_check(rl, "attacker", 8, t + 1, &wait), -EAGAIN);
	ck_assert_int_eq(ratelimit_check(rl, "x", RATELIMIT_KEY_MAX + 1, t, &wait),
			 -EINVAL);
	ck_assert_ptr_null(ratelimit_new(0, &src_policy));
	ratelimit_free(NULL);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_known_set_bounded_lru)
{
	struct ratelimit *known = ratelimit_new(4, &user_policy);
	char key[16];
	int i;

	ck_assert(!ratelimit_known(known, "bob\n127.0.0.1", 13));
	ck_assert_int_eq(ratelimit_remember(known, "bob\n127.0.0.1", 13, 1), 0);
	ck_assert(ratelimit_known(known, "bob\n127.0.0.1", 13));
	ck_assert(!ratelimit_known(known, "bob\n127.0.0.2", 13));
	/* Refreshed by each login, so it outlives keys remembered once. */
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(ratelimit_remember(known, key, strlen(key), 10 + 2 * (uint64_t)i), 0);
		ck_assert_int_eq(ratelimit_remember(known, "bob\n127.0.0.1", 13, 11 + 2 * (uint64_t)i), 0);
		ck_assert_uint_le(ratelimit_count(known), 4);
	}
	ck_assert(ratelimit_known(known, "bob\n127.0.0.1", 13));
	ck_assert(!ratelimit_known(known, "k0", 2));
	ck_assert(ratelimit_known(known, "k19", 3));
	ck_assert_int_eq(ratelimit_remember(known, "x", RATELIMIT_KEY_MAX + 1, 0), -EINVAL);
	ck_assert(!ratelimit_known(known, "x", 0));
	ck_assert(!ratelimit_known(NULL, "x", 1));
	ratelimit_free(known);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, test_backoff_doubles);
	tcase_add_test(tc, test_user_never_locked_forever);
	tcase_add_test(tc, test_decay_partial);
	tcase_add_test(tc, test_bounded_table);
	tcase_add_test(tc, test_known_set_bounded_lru);
	suite_add_tcase(s, tc);
	return s;
}
