/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS	64
#define LOOP_MAX_SIGNAL	65

struct fd_entry {
	int fd;
	bool dead;
	uint32_t events;	/* as epoll has them */
	loop_fd_fn fn;
	void *user;
	struct fd_entry *next_dead;
};

struct loop_timer {
	struct loop *loop;
	loop_timer_fn fn;
	void *user;
	uint64_t deadline;
	uint64_t seq;		/* equal deadlines fire in arming order */
	size_t idx;		/* position in the heap, NOT_ARMED if none */
};

#define NOT_ARMED ((size_t)-1)

struct loop {
	int epfd;
	bool quit;
	int code;

	struct fd_entry **fds;	/* indexed by fd */
	size_t nfds;
	struct fd_entry *dead;

	struct loop_timer **heap;
	size_t nheap;
	size_t heap_cap;
	uint64_t seq;

	int sigfd;
	sigset_t sigmask;
	struct {
		loop_signal_fn fn;
		void *user;
	} sig[LOOP_MAX_SIGNAL];
};

uint64_t loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	return l;
}

static void free_dead(struct loop *l)
{
	struct fd_entry *e;

	while ((e = l->dead)) {
		l->dead = e->next_dead;
		free(e);
	}
}

void loop_free(struct loop *l)
{
	size_t i;

	if (!l)
		return;
	if (l->sigfd >= 0) {
		loop_del_fd(l, l->sigfd);
		close(l->sigfd);
		sigprocmask(SIG_UNBLOCK, &l->sigmask, NULL);
	}
	for (i = 0; i < l->nfds; i++)
		free(l->fds[i]);
	free_dead(l);
	free(l->fds);
	for (i = 0; i < l->nheap; i++)
		l->heap[i]->idx = NOT_ARMED;
	free(l->heap);
	close(l->epfd);
	free(l);
}

void loop_quit(struct loop *l, int code)
{
	l->quit = true;
	l->code = code;
}

/* ---- file descriptors ---- */

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *user)
{
	struct epoll_event ev = { .events = events };
	struct fd_entry *e;

	if (fd < 0 || !fn)
		return -EINVAL;
	if ((size_t)fd >= l->nfds) {
		size_t n = (size_t)fd + 16;
		struct fd_entry **t = realloc(l->fds, n * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memset(t + l->nfds, 0, (n - l->nfds) * sizeof(*t));
		l->fds = t;
		l->nfds = n;
	}
	if (l->fds[fd])
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->fn = fn;
	e->user = user;
	e->events = events;
	ev.data.ptr = e;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(e);
		return err;
	}
	l->fds[fd] = e;
	return 0;
}

static struct fd_entry *fd_lookup(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfds)
		return NULL;
	return l->fds[fd];
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct fd_entry *e = fd_lookup(l, fd);
	struct epoll_event ev = { .events = events };

	if (!e)
		return -ENOENT;
	/*
	 * Write interest is set and cleared per queue flush, many times a
	 * second per peer: no system call when nothing changes (every fd
	 * here is level-triggered, so an unchanged MOD re-arms nothing).
	 */
	if (e->events == events)
		return 0;
	ev.data.ptr = e;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	e->events = events;
	return 0;
}

int loop_del_fd(struct loop *l, int fd)
{
	struct fd_entry *e = fd_lookup(l, fd);

	if (!e)
		return -ENOENT;
	/* The fd may already be closed: epoll then forgot it by itself. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd] = NULL;
	e->dead = true;
	e->next_dead = l->dead;
	l->dead = e;
	return 0;
}

/* ---- timers: a binary min-heap on (deadline, seq) ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;
	struct loop_timer *last;

	t->idx = NOT_ARMED;
	last = l->heap[--l->nheap];
	if (i == l->nheap)
		return;
	heap_set(l, i, last);
	heap_down(l, i);
	heap_up(l, last->idx);
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *user)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = l;
	t->fn = fn;
	t->user = user;
	t->idx = NOT_ARMED;
	return t;
}

void loop_timer_disarm(struct loop_timer *t)
{
	if (t && t->idx != NOT_ARMED)
		heap_remove(t->loop, t);
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_timer_disarm(t);
	free(t);
}

bool loop_timer_is_armed(const struct loop_timer *t)
{
	return t && t->idx != NOT_ARMED;
}

void loop_timer_arm(struct loop_timer *t, uint64_t delay_us)
{
	struct loop *l = t->loop;

	loop_timer_disarm(t);
	if (l->nheap == l->heap_cap) {
		size_t n = l->heap_cap ? 2 * l->heap_cap : 16;
		struct loop_timer **h = realloc(l->heap, n * sizeof(*h));

		if (!h)
			abort();	/* cannot keep a promise to fire */
		l->heap = h;
		l->heap_cap = n;
	}
	t->deadline = loop_now_us() + delay_us;
	t->seq = l->seq++;
	heap_set(l, l->nheap++, t);
	heap_up(l, t->idx);
}

/* Fire what has expired; a bound stops a timer re-armed at 0 from spinning. */
static int run_timers(struct loop *l)
{
	uint64_t now = loop_now_us();
	size_t budget = l->nheap;
	int n = 0;

	while (l->nheap && budget-- && l->heap[0]->deadline <= now) {
		struct loop_timer *t = l->heap[0];

		heap_remove(l, t);
		t->fn(t, t->user);
		n++;
	}
	return n;
}

static int next_timeout_ms(struct loop *l, int limit_ms)
{
	uint64_t now, d;
	int ms;

	if (!l->nheap)
		return limit_ms;
	now = loop_now_us();
	d = l->heap[0]->deadline;
	/* Round up so a timer never fires early. */
	ms = d <= now ? 0 : (int)((d - now + 999) / 1000 > 3600000 ?
				  3600000 : (d - now + 999) / 1000);
	if (limit_ms >= 0 && limit_ms < ms)
		return limit_ms;
	return ms;
}

/* ---- signals ---- */

static void on_signalfd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct signalfd_siginfo si;
	int i;

	for (i = 0; i < 16; i++) {
		ssize_t n = read(fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo < LOOP_MAX_SIGNAL && l->sig[si.ssi_signo].fn)
			l->sig[si.ssi_signo].fn(l, (int)si.ssi_signo,
						l->sig[si.ssi_signo].user);
	}
}

int loop_add_signal(struct loop *l, int signo, loop_signal_fn fn, void *user)
{
	int fd, err;

	if (signo <= 0 || signo >= LOOP_MAX_SIGNAL || !fn)
		return -EINVAL;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		err = loop_add_fd(l, fd, EPOLLIN, on_signalfd, NULL);
		if (err) {
			close(fd);
			return err;
		}
		l->sigfd = fd;
	}
	l->sig[signo].fn = fn;
	l->sig[signo].user = user;
	return 0;
}

/* ---- running ---- */

int loop_iterate(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	int n, i, ran;

	ran = run_timers(l);
	if (l->quit)
		return ran;
	n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS,
		       ran ? 0 : next_timeout_ms(l, timeout_ms));
	if (n < 0)
		return errno == EINTR ? ran : -errno;
	for (i = 0; i < n; i++) {
		struct fd_entry *e = ev[i].data.ptr;

		if (e->dead)
			continue;
		e->fn(l, e->fd, ev[i].events, e->user);
		ran++;
	}
	free_dead(l);
	ran += run_timers(l);
	return ran;
}

int loop_run(struct loop *l)
{
	int err;

	l->quit = false;
	while (!l->quit) {
		err = loop_iterate(l, -1);
		if (err < 0)
			return err;
	}
	return l->code;
}
