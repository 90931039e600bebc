/* SPDX-License-Identifier: MIT */
/*
 * The merge core's tables: links (the host's one handle space over every
 * controller's), the side each device is on, the connection and name
 * attempts in flight, and a link's packets counted back out of the pools
 * when it ends. Below the event, command and data files; calls only
 * mctrl.c.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "merge_int.h"

/* ------------------------------------------------------------------ */
/* Links: the host's handle space */

struct mlink *merge_link_by_vh(struct merge *m, uint16_t vh)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_LINKS; i++)
		if (m->links[i].used && !m->links[i].hidden && m->links[i].vh == vh)
			return &m->links[i];
	return NULL;
}

struct mlink *merge_link_by_real(struct merge *m, unsigned ctrl, uint16_t h)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_LINKS; i++)
		if (m->links[i].used && m->links[i].ctrl == ctrl && m->links[i].real == h)
			return &m->links[i];
	return NULL;
}

static bool vh_in_use(struct merge *m, uint16_t vh)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_LINKS; i++)
		if (m->links[i].used && m->links[i].vh == vh)
			return true;
	return false;
}

/*
 * Every controller numbers its handles from the same small range, so the
 * host gets handles of the merge's own, from MERGE_VHANDLE_FIRST up to
 * HCI_HANDLE_MAX (Vol 4 Part E 5.4.2), never reused while in use.
 */
struct mlink *merge_link_new(struct merge *m, unsigned ctrl, uint16_t real,
			     uint8_t kind, const struct bdaddr *a)
{
	struct mlink *l = NULL;
	unsigned i, tries;

	if (merge_link_by_real(m, ctrl, real)) {
		log_warn("merge: controller %u reused live handle 0x%03x: refused", ctrl, real);
		return NULL;
	}
	for (i = 0; i < MERGE_MAX_LINKS && !l; i++)
		if (!m->links[i].used)
			l = &m->links[i];
	if (!l)
		return NULL;
	for (tries = 0; tries <= HCI_HANDLE_MAX && vh_in_use(m, m->next_vh); tries++)
		m->next_vh = m->next_vh >= HCI_HANDLE_MAX ? MERGE_VHANDLE_FIRST : m->next_vh + 1;
	memset(l, 0, sizeof(*l));
	l->used = true;
	l->ctrl = (uint8_t)ctrl;
	l->real = real;
	l->kind = kind;
	l->vh = m->next_vh;
	if (a)
		l->addr = *a;
	m->next_vh = m->next_vh >= HCI_HANDLE_MAX ? MERGE_VHANDLE_FIRST : m->next_vh + 1;
	return l;
}

void merge_link_free(struct merge *m, struct mlink *l)
{
	merge_link_drop_data(m, l);
	memset(l, 0, sizeof(*l));
}

void merge_ctrl_gone_links(struct merge *m, struct mctrl *c, bool tell_host)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_LINKS; i++) {
		struct mlink *l = &m->links[i];
		uint8_t b[4];

		if (!l->used || l->ctrl != c->idx)
			continue;
		if (tell_host && !l->hidden) {
			/* 7.7.5, reason Connection Timeout (Vol 1 Part F 1.3). */
			b[0] = 0;
			put_le16(b + 1, l->vh);
			b[3] = HCI_ST_CONN_TIMEOUT;
			merge_emit_evt(m, HCI_EV_DISCONN_COMPLETE, b, 4);
		}
		merge_link_free(m, l);
	}
}

/* ------------------------------------------------------------------ */
/* Devices: which side a BD_ADDR is on */

static struct mdev *dev_find(struct merge *m, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_DEVS; i++)
		if (m->devs[i].used && bdaddr_eq(&m->devs[i].addr, a))
			return &m->devs[i];
	return NULL;
}

int merge_dev_side(struct merge *m, const struct bdaddr *a)
{
	struct mdev *d = dev_find(m, a);

	return d ? d->ctrl : -1;
}

void merge_dev_set(struct merge *m, const struct bdaddr *a, unsigned ctrl)
{
	struct mdev *d = dev_find(m, a), *old = NULL;
	unsigned i;

	if (!d) {
		/* Full: the device not heard of for longest is forgotten. */
		for (i = 0; i < MERGE_MAX_DEVS && !d; i++) {
			if (!m->devs[i].used)
				d = &m->devs[i];
			else if (!old || m->devs[i].stamp < old->stamp)
				old = &m->devs[i];
		}
		if (!d)
			d = old;
		d->used = true;
		d->addr = *a;
	}
	d->ctrl = (uint8_t)ctrl;
	d->stamp = ++m->dev_clock;
}

void merge_dev_forget_ctrl(struct merge *m, unsigned ctrl)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_DEVS; i++)
		if (m->devs[i].used && m->devs[i].ctrl == ctrl)
			memset(&m->devs[i], 0, sizeof(m->devs[i]));
}

/* ------------------------------------------------------------------ */
/* Connection and name attempts in flight */

struct mpend *merge_pend_add(struct merge *m, uint8_t kind, unsigned ctrl,
			     const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_PEND; i++)
		if (!m->pend[i].kind) {
			m->pend[i].kind = kind;
			m->pend[i].ctrl = (uint8_t)ctrl;
			m->pend[i].addr = *a;
			return &m->pend[i];
		}
	return NULL;	/* not tracked: only a lost gateway would need it */
}

/* The controllers still paging a device on every side (not yet lost). */
uint32_t merge_pend_race_ctrls(struct merge *m, const struct bdaddr *a)
{
	uint32_t r = 0;
	unsigned i;

	for (i = 0; i < MERGE_MAX_PEND; i++)
		if (m->pend[i].kind == MP_CONN && m->pend[i].race && !m->pend[i].lost &&
		    bdaddr_eq(&m->pend[i].addr, a))
			r |= 1u << m->pend[i].ctrl;
	return r;
}

/* Is pd the last side of its race still paging (so its failure is the host's)? */
bool merge_pend_race_last(struct merge *m, const struct mpend *pd)
{
	return !pd->lost && merge_pend_race_ctrls(m, &pd->addr) == (1u << pd->ctrl);
}

/* ------------------------------------------------------------------ */
/* A link's packets in the pools */

/*
 * A link ended: the controller frees its buffers for it and the host
 * counts its unacknowledged packets back itself (Linux: hci_conn_del adds
 * conn->sent back), so both counts forget the link's packets.
 */
void merge_link_drop_data(struct merge *m, struct mlink *l)
{
	struct mctrl *c = &m->ctrl[l->ctrl];
	unsigned *inflight = merge_ctrl_le_pool(c, l) ? &c->le_inflight : &c->acl_inflight;
	unsigned *h = merge_host_le_pool(m, l) ? &m->h_le_inflight : &m->h_acl_inflight;
	struct pktq *q = merge_txq_of(c, l);
	struct pktq keep;
	struct pkt *p;

	*inflight -= l->sent < *inflight ? l->sent : *inflight;
	if (!l->hidden)
		*h -= l->fn < *h ? l->fn : *h;
	l->sent = 0;
	l->fn = 0;
	if (!l->queued)
		return;
	pktq_init(&keep, q->max_count, q->max_bytes);
	while ((p = pktq_pop(q))) {
		if ((get_le16(p->data + 1) & 0x0fff) == l->real) {
			pkt_free(p);
			continue;
		}
		pktq_requeue(&keep, p);	/* reversed; fixed below */
	}
	while ((p = pktq_pop(&keep)))
		pktq_requeue(q, p);
	l->queued = 0;
}
