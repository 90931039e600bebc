/* SPDX-License-Identifier: MIT */
/*
 * A bounded FIFO of packets. Every peer of a bgw process gets one in each
 * direction, with a cap on the packets and bytes it may hold, so a slow or
 * hostile peer cannot make the process buffer without limit: pushing past a
 * cap fails with -ENOBUFS and the caller decides (refuse, drop the peer).
 */
#ifndef BGW_PKTQ_H
#define BGW_PKTQ_H

#include <stddef.h>
#include <stdint.h>

struct pkt {
	struct pkt *next;
	size_t len;
	uint8_t data[];
};

struct pktq {
	struct pkt *head;
	struct pkt *tail;
	size_t count;
	size_t bytes;
	size_t max_count;
	size_t max_bytes;
};

/* 0 for a cap means no cap on that measure. */
void pktq_init(struct pktq *q, size_t max_count, size_t max_bytes);
/* Copies data; -ENOBUFS if a cap would be exceeded, -ENOMEM. */
int pktq_push(struct pktq *q, const void *data, size_t len);
/*
 * Like pktq_push but refuses once the queue holds half of either cap: for
 * packets that may be dropped (advertising reports, inquiry results), so
 * that they never take the room of those that may not (command completions,
 * data).
 */
int pktq_push_soft(struct pktq *q, const void *data, size_t len);
/* Like pktq_push but ignores the caps (for control replies that must go). */
int pktq_push_force(struct pktq *q, const void *data, size_t len);
/* Put a packet back at the front (after a partial or failed send). */
void pktq_requeue(struct pktq *q, struct pkt *p);
struct pkt *pktq_pop(struct pktq *q);
void pktq_clear(struct pktq *q);

static inline struct pkt *pktq_peek(const struct pktq *q)
{
	return q->head;
}

static inline int pktq_is_empty(const struct pktq *q)
{
	return q->head == NULL;
}

void pkt_free(struct pkt *p);

#endif /* BGW_PKTQ_H */
