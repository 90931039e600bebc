/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "prioq.h"

enum prioq_class prioq_class(const uint8_t *h4, size_t len)
{
	if (len < 3 || h4[0] != H4_EVT)
		return PRIOQ_ORD;
	if (h4_is_discovery_report(h4, len))
		return PRIOQ_REP;
	switch (h4[1]) {
	case HCI_EV_CMD_COMPLETE:
		/*
		 * Reset's completion stays in order: events emitted before it
		 * describe state the host throws away on reading it (Vol 4
		 * Part E 7.3.2), so none may arrive after it.
		 */
		if (len >= 6 && get_le16(h4 + 4) == HCI_OP_RESET)
			return PRIOQ_ORD;
		return PRIOQ_CTL;
	case HCI_EV_CMD_STATUS:
		if (len >= 7 && get_le16(h4 + 5) == HCI_OP_RESET)
			return PRIOQ_ORD;
		return PRIOQ_CTL;
	case HCI_EV_NUM_COMP_PKTS:
		/*
		 * Credits for packets the host sent: overtaking received data or
		 * other events changes nothing the host infers (4.3); an
		 * event that names a link (Connection Complete, Encryption
		 * Change, Disconnection Complete) stays in order with its data.
		 */
		return PRIOQ_CTL;
	default:
		return PRIOQ_ORD;
	}
}

void prioq_init(struct prioq *q, size_t max_count, size_t max_bytes, size_t rep_max)
{
	unsigned i;

	memset(q, 0, sizeof(*q));
	for (i = 0; i < PRIOQ_N; i++)
		pktq_init(&q->q[i], 0, 0);
	q->max_count = max_count;
	q->max_bytes = max_bytes;
	q->rep_max = rep_max ? rep_max : 1;
}

size_t prioq_count(const struct prioq *q)
{
	return q->q[PRIOQ_CTL].count + q->q[PRIOQ_ORD].count + q->q[PRIOQ_REP].count;
}

static bool rep_take(struct prioq *q, size_t len)
{
	size_t c = q->rep_max;
	size_t b = prioq_count(q);

	if (q->max_bytes && (q->q[PRIOQ_REP].bytes >= q->max_bytes / 2 ||
			     len > q->max_bytes / 2 - q->q[PRIOQ_REP].bytes))
		return false;
	if (b >= c)
		return false;
	/* Taken (c - b) times in c: an accumulator rather than a die. */
	q->rep_acc += (unsigned)(c - b);
	if (q->rep_acc < c)
		return false;
	q->rep_acc -= (unsigned)c;
	return true;
}

int prioq_push(struct prioq *q, const uint8_t *h4, size_t len)
{
	enum prioq_class cls = prioq_class(h4, len);
	size_t n, bytes;

	if (cls == PRIOQ_REP) {
		if (!rep_take(q, len)) {
			q->rep_dropped++;
			return -ENOBUFS;
		}
		return pktq_push(&q->q[PRIOQ_REP], h4, len);
	}
	n = q->q[PRIOQ_CTL].count + q->q[PRIOQ_ORD].count;
	bytes = q->q[PRIOQ_CTL].bytes + q->q[PRIOQ_ORD].bytes;
	if ((q->max_count && n >= q->max_count) ||
	    (q->max_bytes && (bytes >= q->max_bytes || len > q->max_bytes - bytes)))
		return -ENOBUFS;
	return pktq_push(&q->q[cls], h4, len);
}

bool prioq_is_clear_for(const struct prioq *q, enum prioq_class cls)
{
	unsigned i;

	for (i = 0; i <= (unsigned)cls && i < PRIOQ_N; i++)
		if (!pktq_is_empty(&q->q[i]))
			return false;
	return true;
}

struct pkt *prioq_pop(struct prioq *q, enum prioq_class *cls)
{
	unsigned i;

	for (i = 0; i < PRIOQ_N; i++) {
		if (!pktq_is_empty(&q->q[i])) {
			*cls = (enum prioq_class)i;
			return pktq_pop(&q->q[i]);
		}
	}
	return NULL;
}

void prioq_requeue(struct prioq *q, struct pkt *p, enum prioq_class cls)
{
	pktq_requeue(&q->q[cls], p);
}

bool prioq_has_urgent(const struct prioq *q)
{
	return !pktq_is_empty(&q->q[PRIOQ_CTL]) || !pktq_is_empty(&q->q[PRIOQ_ORD]);
}

bool prioq_is_empty(const struct prioq *q)
{
	return prioq_count(q) == 0;
}

void prioq_clear(struct prioq *q)
{
	unsigned i;

	for (i = 0; i < PRIOQ_N; i++)
		pktq_clear(&q->q[i]);
	q->rep_acc = 0;
}
