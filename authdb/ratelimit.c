/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

struct rl_entry {
	bool used;
	uint8_t len;
	uint8_t key[RATELIMIT_KEY_MAX];
	unsigned failures;
	uint64_t last_fail;	/* decay is measured from here */
	uint64_t blocked_until;
	uint64_t last_seen;	/* for eviction */
};

struct ratelimit {
	struct ratelimit_policy p;
	size_t slots;
	size_t used;
	struct rl_entry e[];
};

struct ratelimit *ratelimit_new(size_t slots, const struct ratelimit_policy *p)
{
	struct ratelimit *rl;

	if (!p || !slots || slots > RATELIMIT_SLOTS_MAX || !p->decay_ms ||
	    p->base_ms > p->max_ms)
		return NULL;
	rl = calloc(1, sizeof(*rl) + slots * sizeof(struct rl_entry));
	if (!rl)
		return NULL;
	rl->p = *p;
	rl->slots = slots;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	free(rl);
}

size_t ratelimit_count(const struct ratelimit *rl)
{
	return rl ? rl->used : 0;
}

static struct rl_entry *find(const struct ratelimit *rl, const void *key, size_t len)
{
	size_t i;

	for (i = 0; i < rl->slots; i++)
		if (rl->e[i].used && rl->e[i].len == len &&
		    !memcmp(rl->e[i].key, key, len))
			return (struct rl_entry *)&rl->e[i];
	return NULL;
}

/* Apply decay: one failure forgiven per decay_ms since the last failure. */
static void decay(const struct ratelimit *rl, struct rl_entry *e, uint64_t now)
{
	uint64_t periods;

	if (now <= e->last_fail || !e->failures)
		return;
	periods = (now - e->last_fail) / rl->p.decay_ms;
	if (periods >= e->failures) {
		e->failures = 0;
	} else if (periods) {
		e->failures -= (unsigned)periods;
		e->last_fail += periods * rl->p.decay_ms;
	}
}

int ratelimit_check(struct ratelimit *rl, const void *key, size_t len,
		    uint64_t now_ms, uint64_t *wait_ms)
{
	struct rl_entry *e;

	if (wait_ms)
		*wait_ms = 0;
	if (!rl || !key || !len || len > RATELIMIT_KEY_MAX)
		return -EINVAL;
	e = find(rl, key, len);
	if (!e || now_ms >= e->blocked_until)
		return 0;
	if (wait_ms)
		*wait_ms = e->blocked_until - now_ms;
	return -EAGAIN;
}

/* A slot for a new key: free, else LRU among unblocked, else LRU. */
static struct rl_entry *take_slot(struct ratelimit *rl, uint64_t now)
{
	struct rl_entry *best = NULL, *best_blocked = NULL;
	size_t i;

	for (i = 0; i < rl->slots; i++) {
		struct rl_entry *e = &rl->e[i];

		if (!e->used) {
			rl->used++;
			return e;
		}
		if (now >= e->blocked_until) {
			if (!best || e->last_seen < best->last_seen)
				best = e;
		} else if (!best_blocked || e->last_seen < best_blocked->last_seen) {
			best_blocked = e;
		}
	}
	return best ? best : best_blocked;
}

/*
 * The entry for key, made in a free (or the least useful) slot if it has
 * none; NULL only if there is no slot at all.
 */
static struct rl_entry *entry_get(struct ratelimit *rl, const void *key, size_t len,
				  uint64_t now_ms)
{
	struct rl_entry *e = find(rl, key, len);

	if (e)
		return e;
	e = take_slot(rl, now_ms);
	/* Never NULL (slots >= 1), but say so for the compiler too. */
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->len = (uint8_t)len;
	memcpy(e->key, key, len);
	return e;
}

int ratelimit_failure(struct ratelimit *rl, const void *key, size_t len,
		      uint64_t now_ms)
{
	struct rl_entry *e;
	uint64_t delay;
	unsigned over;

	if (!rl || !key || !len || len > RATELIMIT_KEY_MAX)
		return -EINVAL;
	e = entry_get(rl, key, len, now_ms);
	if (!e)
		return -ENOSPC;
	decay(rl, e, now_ms);
	if (e->failures < 64)
		e->failures++;
	e->last_fail = now_ms;
	e->last_seen = now_ms;
	if (e->failures > rl->p.free_failures) {
		over = e->failures - rl->p.free_failures - 1;
		delay = rl->p.base_ms;
		/* Doubling, bounded so the shift never overflows. */
		while (over-- && delay < rl->p.max_ms)
			delay *= 2;
		if (delay > rl->p.max_ms)
			delay = rl->p.max_ms;
		e->blocked_until = now_ms + delay;
	}
	return 0;
}

int ratelimit_success(struct ratelimit *rl, const void *key, size_t len)
{
	struct rl_entry *e;

	if (!rl || !key || !len || len > RATELIMIT_KEY_MAX)
		return -EINVAL;
	e = find(rl, key, len);
	if (e) {
		memset(e, 0, sizeof(*e));
		rl->used--;
	}
	return 0;
}

int ratelimit_remember(struct ratelimit *rl, const void *key, size_t len,
		       uint64_t now_ms)
{
	struct rl_entry *e;

	if (!rl || !key || !len || len > RATELIMIT_KEY_MAX)
		return -EINVAL;
	e = entry_get(rl, key, len, now_ms);
	if (!e)
		return -ENOSPC;
	e->last_seen = now_ms;
	return 0;
}

bool ratelimit_known(const struct ratelimit *rl, const void *key, size_t len)
{
	if (!rl || !key || !len || len > RATELIMIT_KEY_MAX)
		return false;
	return find(rl, key, len) != NULL;
}
