/* SPDX-License-Identifier: MIT */
/*
 * A single-threaded epoll event loop with file descriptors, one-shot timers
 * and signals; each bgw process runs exactly one.
 *
 * Callbacks may add or remove any fd or timer, their own included: an fd
 * removed while events for it are pending in the current batch is never
 * called again, and its record is freed only after the batch. A timer is
 * disarmed before its callback runs, so the callback may re-arm or free it.
 */
#ifndef BGW_LOOP_H
#define BGW_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_fn)(struct loop *l, int fd, uint32_t events, void *user);
typedef void (*loop_timer_fn)(struct loop_timer *t, void *user);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *user);

struct loop *loop_new(void);
/* Frees the loop; fds registered are not closed, timers must be freed first. */
void loop_free(struct loop *l);
/* Runs until loop_quit(); returns the code given to it, or a negative errno. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
/*
 * One round: expired timers, then wait at most timeout_ms (-1: until the
 * next timer or event) and dispatch. Returns the number of callbacks run
 * or a negative errno. Tests drive the loop step by step with it.
 */
int loop_iterate(struct loop *l, int timeout_ms);

/* events: EPOLLIN, EPOLLOUT... (EPOLLERR and EPOLLHUP are always reported) */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *user);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
int loop_del_fd(struct loop *l, int fd);

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *user);
void loop_timer_free(struct loop_timer *t);
/* (Re)arm to fire once, delay_us from now. */
void loop_timer_arm(struct loop_timer *t, uint64_t delay_us);
void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_is_armed(const struct loop_timer *t);

/* The signal is blocked and delivered through signalfd into the loop. */
int loop_add_signal(struct loop *l, int signo, loop_signal_fn fn, void *user);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t loop_now_us(void);

#endif /* BGW_LOOP_H */
