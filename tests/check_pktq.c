/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A non-blocking stream socketpair: sv[0] written by pktq_write, sv[1] read. */
static void stream_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static int first_byte_is(const struct pkt *p, void *ctx)
{
	return p->data[0] == *(const uint8_t *)ctx;
}

START_TEST(drop_if_keeps_the_rest_in_order)
{
	struct pktq q;
	struct pkt *p;
	uint8_t x = 'x', y = 'y';

	pktq_init(&q, 8, 0);
	ck_assert_int_eq(pktq_push(&q, "xa", 2), 0);
	ck_assert_int_eq(pktq_push(&q, "yb", 2), 0);
	ck_assert_int_eq(pktq_push(&q, "xc", 2), 0);
	ck_assert_int_eq(pktq_push(&q, "yd", 2), 0);
	ck_assert_int_eq(pktq_push(&q, "xe", 2), 0);
	ck_assert_uint_eq(pktq_drop_if(&q, first_byte_is, &x), 3);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.bytes, 4);
	/* The tail is right: a push lands after the last kept packet. */
	ck_assert_int_eq(pktq_push(&q, "xf", 2), 0);
	p = pktq_pop(&q);
	ck_assert_mem_eq(p->data, "yb", 2);
	pkt_free(p);
	p = pktq_pop(&q);
	ck_assert_mem_eq(p->data, "yd", 2);
	pkt_free(p);
	p = pktq_pop(&q);
	ck_assert_mem_eq(p->data, "xf", 2);
	pkt_free(p);
	ck_assert(pktq_is_empty(&q));
	/* All dropped: empty, head and tail both cleared. */
	ck_assert_int_eq(pktq_push(&q, "yg", 2), 0);
	ck_assert_uint_eq(pktq_drop_if(&q, first_byte_is, &y), 1);
	ck_assert(pktq_is_empty(&q));
	ck_assert_ptr_null(q.tail);
	ck_assert_int_eq(pktq_push(&q, "yh", 2), 0);
	ck_assert_uint_eq(q.count, 1);
	pktq_clear(&q);
}
END_TEST

/* A packet taken from the middle or the end; the rest stay in order. */
START_TEST(unlink_after_a_packet)
{
	struct pktq q;
	struct pkt *p;

	pktq_init(&q, 8, 0);
	ck_assert_ptr_null(pktq_unlink(&q, NULL));
	ck_assert_int_eq(pktq_push(&q, "a", 1), 0);
	ck_assert_int_eq(pktq_push(&q, "bb", 2), 0);
	ck_assert_int_eq(pktq_push(&q, "ccc", 3), 0);
	p = pktq_unlink(&q, q.head);
	ck_assert_mem_eq(p->data, "bb", 2);
	ck_assert_ptr_null(p->next);
	pkt_free(p);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.bytes, 4);
	/* The last one: the tail moves back, a push lands after "a". */
	p = pktq_unlink(&q, q.head);
	ck_assert_mem_eq(p->data, "ccc", 3);
	pkt_free(p);
	ck_assert_ptr_eq(q.tail, q.head);
	ck_assert_ptr_null(pktq_unlink(&q, q.head));
	ck_assert_int_eq(pktq_push(&q, "d", 1), 0);
	p = pktq_unlink(&q, NULL);
	ck_assert_mem_eq(p->data, "a", 1);
	pkt_free(p);
	p = pktq_pop(&q);
	ck_assert_mem_eq(p->data, "d", 1);
	pkt_free(p);
	ck_assert(pktq_is_empty(&q));
	ck_assert_ptr_null(q.tail);
	ck_assert_uint_eq(q.bytes, 0);
}
END_TEST

START_TEST(write_drains_in_order_and_resumes_mid_packet)
{
	struct pktq q;
	size_t off = 2;
	char buf[32];
	int sv[2];

	stream_pair(sv);
	pktq_init(&q, 0, 0);
	ck_assert_int_eq(pktq_push(&q, "..abc", 5), 0);	/* 2 bytes already out */
	ck_assert_int_eq(pktq_push(&q, "defg", 4), 0);
	ck_assert_int_eq(pktq_write(&q, sv[0], &off, 0, PKTQ_W_SEND), 0);
	ck_assert(pktq_is_empty(&q));
	ck_assert_uint_eq(off, 0);
	ck_assert_int_eq(read(sv[1], buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "abcdefg", 7);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(write_stops_when_full_and_keeps_the_offset)
{
	struct pktq q;
	static uint8_t big[64 << 10];
	size_t off = 0, got = 0;
	uint8_t last = 0;
	ssize_t n;
	int sv[2], i, sndbuf = 4096;

	stream_pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	pktq_init(&q, 0, 0);
	for (i = 0; i < 8; i++) {
		memset(big, 'a' + i, sizeof(big));
		ck_assert_int_eq(pktq_push(&q, big, sizeof(big)), 0);
	}
	/* The socket takes part of it: would block is not an error. */
	ck_assert_int_eq(pktq_write(&q, sv[0], &off, 0, 0), 0);
	ck_assert(!pktq_is_empty(&q));
	ck_assert(off > 0 || q.count < 8);
	/* Drain the reader and flush again, a bounded number of times. */
	for (i = 0; i < 100000 && !pktq_is_empty(&q); i++) {
		while ((n = read(sv[1], big, sizeof(big))) > 0) {
			got += (size_t)n;
			last = big[n - 1];
		}
		ck_assert_int_eq(pktq_write(&q, sv[0], &off, 0, 0), 0);
	}
	while ((n = read(sv[1], big, sizeof(big))) > 0) {
		got += (size_t)n;
		last = big[n - 1];
	}
	ck_assert(pktq_is_empty(&q));
	ck_assert_uint_eq(got, 8 * sizeof(big));
	ck_assert_uint_eq(last, 'h');		/* the last packet came last */
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(write_bounded_by_max)
{
	struct pktq q;
	size_t off = 0;
	int sv[2];

	stream_pair(sv);
	pktq_init(&q, 0, 0);
	ck_assert_int_eq(pktq_push(&q, "a", 1), 0);
	ck_assert_int_eq(pktq_push(&q, "b", 1), 0);
	ck_assert_int_eq(pktq_push(&q, "c", 1), 0);
	ck_assert_int_eq(pktq_write(&q, sv[0], &off, 2, PKTQ_W_SEND), 0);
	ck_assert_uint_eq(q.count, 1);
	pktq_clear(&q);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(write_errors_leave_the_queue)
{
	struct pktq q;
	size_t off = 0;
	int sv[2];

	stream_pair(sv);
	pktq_init(&q, 0, 0);
	ck_assert_int_eq(pktq_push(&q, "abc", 3), 0);
	off = 4;					/* past the head */
	ck_assert_int_eq(pktq_write(&q, sv[0], &off, 0, PKTQ_W_SEND), -EINVAL);
	off = 0;
	close(sv[1]);
	/* MSG_NOSIGNAL: a gone reader is -EPIPE, not a signal. */
	ck_assert_int_eq(pktq_write(&q, sv[0], &off, 0, PKTQ_W_SEND), -EPIPE);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_int_eq(pktq_write(&q, -1, &off, 0, 0), -EBADF);
	pktq_clear(&q);
	close(sv[0]);
}
END_TEST

START_TEST(write_whole_refuses_a_short_write)
{
	struct pktq q;
	static uint8_t big[64 << 10];
	size_t off = 0;
	int sv[2], sndbuf = 4096;

	stream_pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	pktq_init(&q, 0, 0);
	ck_assert_int_eq(pktq_push(&q, big, sizeof(big)), 0);
	/* A stream cut the packet: where packets must go whole that is -EIO. */
	ck_assert_int_eq(pktq_write(&q, sv[0], &off, 0, PKTQ_W_WHOLE), -EIO);
	pktq_clear(&q);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("pktq");
	TCase *tc = tcase_create("pktq");

	tcase_add_test(tc, fifo_order_and_caps);
	tcase_add_test(tc, forced_push_past_cap_then_refuse);
	tcase_add_test(tc, soft_push_keeps_half_free);
	tcase_add_test(tc, drop_if_keeps_the_rest_in_order);
	tcase_add_test(tc, unlink_after_a_packet);
	tcase_add_test(tc, write_drains_in_order_and_resumes_mid_packet);
	tcase_add_test(tc, write_stops_when_full_and_keeps_the_offset);
	tcase_add_test(tc, write_bounded_by_max);
	tcase_add_test(tc, write_errors_leave_the_queue);
	tcase_add_test(tc, write_whole_refuses_a_short_write);
	suite_add_tcase(s, tc);
	return s;
}
