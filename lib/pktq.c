/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pktq.h"
#include "secmem.h"

void pktq_init(struct pktq *q, size_t max_count, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->max_count = max_count;
	q->max_bytes = max_bytes;
}

static void pktq_append(struct pktq *q, struct pkt *p)
{
	p->next = NULL;
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->count++;
	q->bytes += p->len;
}

static int pktq_add(struct pktq *q, const void *data, size_t len, int force)
{
	struct pkt *p;

	/* Forced pushes may have taken a queue past its caps already. */
	if (!force && ((q->max_count && q->count >= q->max_count) ||
		       (q->max_bytes && (q->bytes >= q->max_bytes ||
					 len > q->max_bytes - q->bytes))))
		return -ENOBUFS;
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	p->len = len;
	if (len)
		memcpy(p->data, data, len);
	pktq_append(q, p);
	return 0;
}

int pktq_push(struct pktq *q, const void *data, size_t len)
{
	return pktq_add(q, data, len, 0);
}

int pktq_push_soft(struct pktq *q, const void *data, size_t len)
{
	if ((q->max_count && q->count >= q->max_count / 2) ||
	    (q->max_bytes && (q->bytes >= q->max_bytes / 2 ||
			      len > q->max_bytes / 2 - q->bytes)))
		return -ENOBUFS;
	return pktq_add(q, data, len, 0);
}

int pktq_push_force(struct pktq *q, const void *data, size_t len)
{
	return pktq_add(q, data, len, 1);
}

void pktq_requeue(struct pktq *q, struct pkt *p)
{
	p->next = q->head;
	q->head = p;
	if (!q->tail)
		q->tail = p;
	q->count++;
	q->bytes += p->len;
}

struct pkt *pktq_pop(struct pktq *q)
{
	struct pkt *p = q->head;

	if (!p)
		return NULL;
	q->head = p->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	q->bytes -= p->len;
	p->next = NULL;
	return p;
}

struct pkt *pktq_unlink(struct pktq *q, struct pkt *prev)
{
	struct pkt *p;

	if (!prev)
		return pktq_pop(q);
	p = prev->next;
	if (!p)
		return NULL;
	prev->next = p->next;
	if (q->tail == p)
		q->tail = prev;
	q->count--;
	q->bytes -= p->len;
	p->next = NULL;
	return p;
}

void pktq_clear(struct pktq *q)
{
	struct pkt *p;

	while ((p = pktq_pop(q)))
		pkt_free(p);
}

size_t pktq_drop_if(struct pktq *q, int (*match)(const struct pkt *p, void *ctx),
		    void *ctx)
{
	struct pkt **pp = &q->head, *p;
	size_t n = 0;

	q->tail = NULL;
	while ((p = *pp)) {
		if (!match(p, ctx)) {
			q->tail = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		q->count--;
		q->bytes -= p->len;
		pkt_free(p);
		n++;
	}
	return n;
}

/*
 * Wiped before it is freed: a queue may carry a link key (the mux's Link
 * Key Request Reply, a host's LTK reply) and the allocator hands the
 * memory on as it is (doc/security.md, "Household bonds").
 */
void pkt_free(struct pkt *p)
{
	if (p)
		secmem_free(p, sizeof(*p) + p->len);
}

int pktq_write(struct pktq *q, int fd, size_t *off, unsigned max, unsigned flags)
{
	struct pkt *p;
	size_t left;
	ssize_t n;
	unsigned done = 0;

	if (!max)
		max = q->count > UINT_MAX ? UINT_MAX : (unsigned)q->count;
	while (done < max && (p = pktq_peek(q))) {
		if (*off > p->len)
			return -EINVAL;	/* an offset from another queue */
		left = p->len - *off;
		if (flags & PKTQ_W_SEND)
			n = send(fd, p->data + *off, left, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = write(fd, p->data + *off, left);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ?
			       0 : -errno;
		if (n == 0 && left)
			return 0;	/* took nothing: wait for the next wake-up */
		if ((flags & PKTQ_W_WHOLE) && (size_t)n != left)
			return -EIO;
		*off += (size_t)n;
		if (*off < p->len)
			continue;
		*off = 0;
		pkt_free(pktq_pop(q));
		done++;
	}
	return 0;
}
