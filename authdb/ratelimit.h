/* SPDX-License-Identifier: MIT */
/*
 * Failed-login rate limiting with exponential backoff, in a fixed-size
 * table. Pure: the caller passes the time (monotonic milliseconds), so the
 * tests drive it without sleeping.
 *
 * The daemon keeps two limiters: one keyed by the source address (stops
 * an attacker's address quickly, backoff up to an hour) and one keyed by
 * the user name as claimed (slows guessing one account from many
 * addresses, but capped at a few minutes and decaying, so the real user
 * is never locked out for long). An attempt is allowed if both allow it.
 *
 *	if (ratelimit_check(by_src, ...) || ratelimit_check(by_user, ...))
 *		refuse (audit AUDIT_LOGIN_LIMITED), same answer as a failure;
 *	on failure: ratelimit_failure() on both;
 *	on success: ratelimit_success() on both.
 *
 * Backoff: after `free_failures` failures, each further failure doubles
 * the wait, from base_ms up to max_ms. A failure count decays by one per
 * decay_ms without failures. The table holds `slots` keys; when full the
 * least recently used entry is evicted (one whose block has run out if
 * there is one), so memory is bounded whatever an attacker sends.
 */
#ifndef BGW_AUTHDB_RATELIMIT_H
#define BGW_AUTHDB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX	64
#define RATELIMIT_SLOTS_MAX	65536

struct ratelimit_policy {
	unsigned free_failures;
	uint64_t base_ms;
	uint64_t max_ms;
	uint64_t decay_ms;
};

/* 3 free, then 1 s, 2 s, 4 s ... up to 1 h; decays one per 10 min. */
#define RATELIMIT_POLICY_SOURCE { 3, 1000, 3600000, 600000 }
/* 5 free, then 1 s ... up to 5 min; decays one per 5 min. */
#define RATELIMIT_POLICY_USER { 5, 1000, 300000, 300000 }

struct ratelimit;

struct ratelimit *ratelimit_new(size_t slots, const struct ratelimit_policy *p);
void ratelimit_free(struct ratelimit *rl);
/*
 * 0 if an attempt for key may proceed at now_ms; -EAGAIN if not, with
 * *wait_ms (may be NULL) the time until it may. -EINVAL for a key longer
 * than RATELIMIT_KEY_MAX.
 */
int ratelimit_check(struct ratelimit *rl, const void *key, size_t len,
		    uint64_t now_ms, uint64_t *wait_ms);
int ratelimit_failure(struct ratelimit *rl, const void *key, size_t len,
		      uint64_t now_ms);
int ratelimit_success(struct ratelimit *rl, const void *key, size_t len);
/*
 * The same table as a set of known-good keys (a separate instance, its
 * policy unused beyond validation): ratelimit_remember() adds or refreshes
 * a key, ratelimit_known() asks. Bounded like the limiters: when full the
 * least recently remembered key is forgotten. The daemon remembers each
 * (user, source) that logged in, and the per-user limit does not apply to
 * a source the user logged in from before (the per-source limit still
 * does): guesses spread over many addresses cannot lock the real user out
 * of the places they use.
 */
int ratelimit_remember(struct ratelimit *rl, const void *key, size_t len,
		       uint64_t now_ms);
bool ratelimit_known(const struct ratelimit *rl, const void *key, size_t len);
/* Keys tracked (for tests and status). */
size_t ratelimit_count(const struct ratelimit *rl);

#endif
