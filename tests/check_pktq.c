/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>

#include "check_main.h"
#include "pktq.h"

START_TEST(fifo_order_and_caps)
{
	struct pktq q;
	struct pkt *p;

	pktq_init(&q, 3, 10);
	ck_assert(pktq_is_empty(&q));
	ck_assert_int_eq(pktq_push(&q, "abc", 3), 0);
	ck_assert_int_eq(pktq_push(&q, "defg", 4), 0);
	ck_assert_int_eq(pktq_push(&q, "hijk", 4), -ENOBUFS);	/* 11 bytes */
	ck_assert_int_eq(pktq_push(&q, "hij", 3), 0);
	ck_assert_int_eq(pktq_push(&q, "", 0), -ENOBUFS);	/* 4 packets */
	ck_assert_uint_eq(q.count, 3);
	ck_assert_uint_eq(q.bytes, 10);
	p = pktq_pop(&q);
	ck_assert_mem_eq(p->data, "abc", 3);
	pktq_requeue(&q, p);
	ck_assert_ptr_eq(pktq_peek(&q), p);
	ck_assert_uint_eq(q.bytes, 10);
	pktq_clear(&q);
	ck_assert(pktq_is_empty(&q));
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_ptr_null(pktq_pop(&q));
}
END_TEST

START_TEST(forced_push_past_cap_then_refuse)
{
	struct pktq q;

	pktq_init(&q, 0, 4);
	ck_assert_int_eq(pktq_push_force(&q, "abcdef", 6), 0);
	/* Over its byte cap: ordinary pushes must not wrap around. */
	ck_assert_int_eq(pktq_push(&q, "x", 1), -ENOBUFS);
	pktq_clear(&q);
	ck_assert_int_eq(pktq_push(&q, "abcd", 4), 0);
	pktq_clear(&q);
}
END_TEST

START_TEST(soft_push_keeps_half_free)
{
	struct pktq q;

	/* Half of 4 packets: the third soft push is refused, a hard one not. */
	pktq_init(&q, 4, 0);
	ck_assert_int_eq(pktq_push_soft(&q, "a", 1), 0);
	ck_assert_int_eq(pktq_push_soft(&q, "b", 1), 0);
	ck_assert_int_eq(pktq_push_soft(&q, "c", 1), -ENOBUFS);
	ck_assert_int_eq(pktq_push(&q, "c", 1), 0);
	ck_assert_int_eq(pktq_push(&q, "d", 1), 0);
	ck_assert_uint_eq(q.count, 4);
	pktq_clear(&q);
	/* Half of 10 bytes: 4 + 1 fit, 4 + 2 do not. */
	pktq_init(&q, 0, 10);
	ck_assert_int_eq(pktq_push_soft(&q, "abcd", 4), 0);
	ck_assert_int_eq(pktq_push_soft(&q, "ef", 2), -ENOBUFS);
	ck_assert_int_eq(pktq_push_soft(&q, "e", 1), 0);
	ck_assert_int_eq(pktq_push_soft(&q, "", 0), -ENOBUFS);
	ck_assert_int_eq(pktq_push(&q, "fghij", 5), 0);
	pktq_clear(&q);
	/* Past the half by forced pushes: no wrap-around either. */
	pktq_init(&q, 0, 4);
	ck_assert_int_eq(pktq_push_force(&q, "abcdef", 6), 0);
	ck_assert_int_eq(pktq_push_soft(&q, "x", 1), -ENOBUFS);
	pktq_clear(&q);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("pktq");
	TCase *tc = tcase_create("pktq");

	tcase_add_test(tc, fifo_order_and_caps);
	tcase_add_test(tc, forced_push_past_cap_then_refuse);
	tcase_add_test(tc, soft_push_keeps_half_free);
	suite_add_tcase(s, tc);
	return s;
}
