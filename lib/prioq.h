/* SPDX-License-Identifier: MIT */
/*
 * A session's outbound HCI queue in three classes, served in order: the
 * answers to its commands and its flow control (Command Complete, Command
 * Status, Number Of Completed Packets), then everything else in the order
 * it was emitted (data and the other events), then discovery reports.
 * Reports are lossy by nature (the controller repeats them for as long as
 * discovery runs), so a lagging session loses them in proportion to its
 * backlog instead of waiting behind them (doc/virtual-controller.md,
 * "Priorities").
 */
#ifndef BGW_PRIOQ_H
#define BGW_PRIOQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktq.h"

enum prioq_class { PRIOQ_CTL, PRIOQ_ORD, PRIOQ_REP, PRIOQ_N };

struct prioq {
	struct pktq q[PRIOQ_N];
	size_t max_count;	/* over CTL and ORD together */
	size_t max_bytes;	/* the same; REP may hold half as much again */
	size_t rep_max;		/* the backlog at which every report is shed */
	unsigned rep_acc;	/* proportional drop: accepted-report credit */
	uint64_t rep_dropped;	/* reports refused, in total */
};

/* Which class an H4 packet belongs to (untrusted lengths are checked). */
enum prioq_class prioq_class(const uint8_t *h4, size_t len);

/* Caps as pktq_init (0: none); rep_max > 0. */
void prioq_init(struct prioq *q, size_t max_count, size_t max_bytes, size_t rep_max);
/*
 * Copies the packet into its class. -ENOBUFS when CTL and ORD together are
 * at a cap, or for a report refused in proportion to the backlog: with b
 * packets queued in all classes, a report is taken (rep_max - b) times in
 * rep_max (an accumulator, not a die, so the count is exact over a run),
 * never once b >= rep_max or REP holds half the byte cap. -ENOMEM.
 */
int prioq_push(struct prioq *q, const uint8_t *h4, size_t len);
/* May a packet of this class go out ahead of the queue (nothing of its class or above waits)? */
bool prioq_is_clear_for(const struct prioq *q, enum prioq_class cls);
/* The next packet to send, highest class first; its class in *cls. */
struct pkt *prioq_pop(struct prioq *q, enum prioq_class *cls);
/* Put a popped packet back at the front of its class. */
void prioq_requeue(struct prioq *q, struct pkt *p, enum prioq_class cls);
/* Packets that may not be dropped wait (CTL or ORD). */
bool prioq_has_urgent(const struct prioq *q);
bool prioq_is_empty(const struct prioq *q);
size_t prioq_count(const struct prioq *q);
void prioq_clear(struct prioq *q);

#endif /* BGW_PRIOQ_H */
