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
/*
 * Take out the packet after prev (the head if prev is NULL), keeping the
 * others in order: for a queue whose packets go out of order between
 * their owners (each owner's in order). NULL if there is none.
 */
struct pkt *pktq_unlink(struct pktq *q, struct pkt *prev);
void pktq_clear(struct pktq *q);
/*
 * Free every packet match() selects, keeping the others in order; returns
 * how many were freed.
 */
size_t pktq_drop_if(struct pktq *q, int (*match)(const struct pkt *p, void *ctx),
		    void *ctx);

static inline struct pkt *pktq_peek(const struct pktq *q)
{
	return q->head;
}

static inline int pktq_is_empty(const struct pktq *q)
{
	return q->head == NULL;
}

void pkt_free(struct pkt *p);

/* pktq_write flags. */
#define PKTQ_W_SEND	0x1	/* a socket: send(2), MSG_NOSIGNAL | MSG_DONTWAIT */
#define PKTQ_W_WHOLE	0x2	/* fd takes a packet whole (packet socket, /dev/vhci) */

/*
 * Flush the queue to a non-blocking stream fd: the head packet from *off
 * bytes in, then the next ones, until the queue is empty, fd would block
 * (EAGAIN, or EINTR: the caller keeps write interest while the queue is
 * non-empty and comes back), or max packets went out (0: those queued at
 * entry), so one busy peer cannot hold the loop. A packet written out is
 * freed and *off reset; a partial write leaves *off inside the head.
 * 0, or the negative errno of the write (-EIO for a short write with
 * PKTQ_W_WHOLE; -EINVAL if *off is past the head): the fd is broken, the
 * queue is left as it is.
 */
int pktq_write(struct pktq *q, int fd, size_t *off, unsigned max, unsigned flags);

#endif /* BGW_PKTQ_H */
