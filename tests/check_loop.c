/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "loop.h"

struct fdctx {
	struct loop *l;
	int calls;
	int other_fd;		/* removed by this callback, if >= 0 */
	bool remove_self;
	uint32_t events;
};

static void on_fd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct fdctx *c = user;
	char buf[16];

	c->calls++;
	c->events = events;
	if (events & EPOLLIN)
		(void)!read(fd, buf, sizeof(buf));
	if (c->remove_self)
		ck_assert_int_eq(loop_del_fd(l, fd), 0);
	if (c->other_fd >= 0) {
		ck_assert_int_eq(loop_del_fd(l, c->other_fd), 0);
		c->other_fd = -1;
	}
}

START_TEST(fd_readiness)
{
	struct loop *l = loop_new();
	struct fdctx c = { .other_fd = -1 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], EPOLLIN, on_fd, &c), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], EPOLLIN, on_fd, &c), -EEXIST);
	ck_assert_int_eq(loop_iterate(l, 0), 0);
	ck_assert_int_eq(c.calls, 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_iterate(l, 1000), 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert(c.events & EPOLLIN);
	/* Interest can be switched off and on. */
	ck_assert_int_eq(loop_mod_fd(l, p[0], 0), 0);
	ck_assert_int_eq(write(p[1], "y", 1), 1);
	ck_assert_int_eq(loop_iterate(l, 0), 0);
	ck_assert_int_eq(loop_mod_fd(l, p[0], EPOLLIN), 0);
	ck_assert_int_eq(loop_iterate(l, 1000), 1);
	ck_assert_int_eq(c.calls, 2);
	/* A hang-up is reported without asking. */
	close(p[1]);
	ck_assert_int_eq(loop_iterate(l, 1000), 1);
	ck_assert(c.events & EPOLLHUP);
	ck_assert_int_eq(loop_del_fd(l, p[0]), 0);
	ck_assert_int_eq(loop_del_fd(l, p[0]), -ENOENT);
	ck_assert_int_eq(loop_mod_fd(l, p[0], EPOLLIN), -ENOENT);
	close(p[0]);
	loop_free(l);
}
END_TEST

START_TEST(fd_removes_itself)
{
	struct loop *l = loop_new();
	struct fdctx c = { .other_fd = -1, .remove_self = true };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], EPOLLIN, on_fd, &c), 0);
	ck_assert_int_eq(write(p[1], "xx", 2), 2);
	ck_assert_int_eq(loop_iterate(l, 1000), 1);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_iterate(l, 0), 0);
	ck_assert_int_eq(c.calls, 1);
	/* The same fd number can be registered again at once. */
	c.remove_self = false;
	ck_assert_int_eq(loop_add_fd(l, p[0], EPOLLIN, on_fd, &c), 0);
	ck_assert_int_eq(loop_iterate(l, 1000), 1);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}
END_TEST

START_TEST(fd_removes_other_in_same_batch)
{
	struct loop *l = loop_new();
	struct fdctx a = { .other_fd = -1 }, b = { .other_fd = -1 };
	int p[2], q[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	a.other_fd = q[0];
	b.other_fd = p[0];
	ck_assert_int_eq(loop_add_fd(l, p[0], EPOLLIN, on_fd, &a), 0);
	ck_assert_int_eq(loop_add_fd(l, q[0], EPOLLIN, on_fd, &b), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(write(q[1], "x", 1), 1);
	/* Both are ready; whichever runs first removes the other. */
	ck_assert_int_eq(loop_iterate(l, 1000), 1);
	ck_assert_int_eq(a.calls + b.calls, 1);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	loop_free(l);
}
END_TEST

struct tctx {
	int order[8];
	int n;
	int id;
	struct tctx *log;
	struct loop_timer *victim;
	struct loop *l;
};

static void on_timer(struct loop_timer *t, void *user)
{
	struct tctx *c = user;

	c->log->order[c->log->n++] = c->id;
	if (c->victim)
		loop_timer_disarm(c->victim);
	ck_assert(!loop_timer_is_armed(t));
}

START_TEST(timers_fire_in_order)
{
	struct loop *l = loop_new();
	struct tctx logc = { 0 }, c[4];
	struct loop_timer *t[4];
	static const unsigned delays_ms[4] = { 30, 10, 20, 10 };
	int i, guard;

	for (i = 0; i < 4; i++) {
		c[i] = (struct tctx){ .id = i, .log = &logc };
		t[i] = loop_timer_new(l, on_timer, &c[i]);
		loop_timer_arm(t[i], delays_ms[i] * 1000u);
	}
	for (guard = 0; logc.n < 4 && guard < 100; guard++)
		ck_assert_int_ge(loop_iterate(l, 100), 0);
	ck_assert_int_eq(logc.n, 4);
	/* Equal deadlines keep arming order: 1 before 3. */
	ck_assert_int_eq(logc.order[0], 1);
	ck_assert_int_eq(logc.order[1], 3);
	ck_assert_int_eq(logc.order[2], 2);
	ck_assert_int_eq(logc.order[3], 0);
	for (i = 0; i < 4; i++)
		loop_timer_free(t[i]);
	loop_free(l);
}
END_TEST

START_TEST(timer_cancelled_inside_callback)
{
	struct loop *l = loop_new();
	struct tctx logc = { 0 }, a = { .id = 1, .log = &logc },
		    b = { .id = 2, .log = &logc };
	struct loop_timer *ta = loop_timer_new(l, on_timer, &a);
	struct loop_timer *tb = loop_timer_new(l, on_timer, &b);
	uint64_t start = loop_now_us();
	int guard;

	a.victim = tb;
	loop_timer_arm(ta, 5000);
	loop_timer_arm(tb, 5000);	/* same deadline, after a */
	for (guard = 0; loop_now_us() - start < 60000 && guard < 100; guard++)
		loop_iterate(l, 10);
	ck_assert_int_eq(logc.n, 1);
	ck_assert_int_eq(logc.order[0], 1);
	ck_assert(!loop_timer_is_armed(tb));
	loop_timer_free(ta);
	loop_timer_free(tb);
	loop_free(l);
}
END_TEST

static void rearm_self(struct loop_timer *t, void *user)
{
	int *n = user;

	if (++*n < 5)
		loop_timer_arm(t, 0);
}

START_TEST(timer_rearms_itself_bounded)
{
	struct loop *l = loop_new();
	int n = 0, guard;
	struct loop_timer *t = loop_timer_new(l, rearm_self, &n);

	loop_timer_arm(t, 0);
	/* A timer re-armed at 0 does not spin one iteration forever. */
	ck_assert_int_le(loop_iterate(l, 0), 2);
	for (guard = 0; n < 5 && guard < 20; guard++)
		loop_iterate(l, 0);
	ck_assert_int_eq(n, 5);
	loop_timer_free(t);
	loop_timer_free(NULL);
	loop_free(l);
}
END_TEST

static void free_self(struct loop_timer *t, void *user)
{
	int *n = user;

	(*n)++;
	loop_timer_free(t);
}

START_TEST(timer_frees_itself)
{
	struct loop *l = loop_new();
	int n = 0;
	struct loop_timer *t = loop_timer_new(l, free_self, &n);

	loop_timer_arm(t, 1000);
	while (!n)
		loop_iterate(l, 50);
	ck_assert_int_eq(n, 1);
	loop_free(l);
}
END_TEST

START_TEST(timer_not_early)
{
	struct loop *l = loop_new();
	struct tctx logc = { 0 }, a = { .id = 1, .log = &logc };
	struct loop_timer *t = loop_timer_new(l, on_timer, &a);
	uint64_t start = loop_now_us();

	loop_timer_arm(t, 20000);
	while (!logc.n)
		loop_iterate(l, -1);
	ck_assert_uint_ge(loop_now_us() - start, 20000);
	loop_timer_free(t);
	loop_free(l);
}
END_TEST

static void on_sig(struct loop *l, int signo, void *user)
{
	*(int *)user = signo;
	loop_quit(l, 42);
}

START_TEST(signal_delivered_and_quit)
{
	struct loop *l = loop_new();
	int got = 0;

	ck_assert_int_eq(loop_add_signal(l, SIGUSR1, on_sig, &got), 0);
	ck_assert_int_eq(loop_add_signal(l, 0, on_sig, &got), -EINVAL);
	kill(getpid(), SIGUSR1);
	ck_assert_int_eq(loop_run(l), 42);
	ck_assert_int_eq(got, SIGUSR1);
	loop_free(l);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tf = tcase_create("fd");
	TCase *tt = tcase_create("timer");

	tcase_add_test(tf, fd_readiness);
	tcase_add_test(tf, fd_removes_itself);
	tcase_add_test(tf, fd_removes_other_in_same_batch);
	tcase_add_test(tf, signal_delivered_and_quit);
	suite_add_tcase(s, tf);
	tcase_add_test(tt, timers_fire_in_order);
	tcase_add_test(tt, timer_cancelled_inside_callback);
	tcase_add_test(tt, timer_rearms_itself_bounded);
	tcase_add_test(tt, timer_frees_itself);
	tcase_add_test(tt, timer_not_early);
	suite_add_tcase(s, tt);
	return s;
}
