/* SPDX-License-Identifier: MIT */
/*
 * The merge core, data: ACL and SCO both ways with handles translated,
 * and the buffer pools (Vol 4 Part E 4.1). The host sees one ACL pool and
 * one LE pool, those of the local radio (Read Buffer Size, LE Read Buffer
 * Size); behind it each controller's own credits are counted. A host
 * packet is cut into pieces of the controller's size when that is
 * smaller (4.1.1; continuing fragments, Packet_Boundary_Flag 01) and
 * gives its credit back to the host, in a merged Number Of Completed
 * Packets (7.7.19), once every piece was completed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "merge_int.h"

void merge_pool_set(struct merge *m)
{
	const struct mctrl *c = &m->ctrl[0];

	m->h_acl_mtu = c->acl_mtu;
	m->h_acl_pkts = c->acl_pkts;
	m->h_le_mtu = c->le_mtu;
	m->h_le_pkts = c->le_pkts;
}

static void drain_q(struct merge *m, struct mctrl *c, struct pktq *q, bool le)
{
	unsigned guard;

	for (guard = 0; guard < 4096 && mc_is_ready(c); guard++) {
		struct pkt *p = pktq_peek(q);
		unsigned *inflight = le ? &c->le_inflight : &c->acl_inflight;
		unsigned cap = le ? c->le_pkts : c->acl_pkts;
		struct mlink *l;
		int r;

		if (!p || *inflight >= cap)
			return;
		p = pktq_pop(q);
		l = merge_link_by_real(m, c->idx, get_le16(p->data + 1) & 0x0fff);
		if (!l) {	/* its link ended while it waited */
			pkt_free(p);
			continue;
		}
		l->queued--;
		l->sent++;
		(*inflight)++;
		r = c->send(p->data, p->len, c->user);
		pkt_free(p);
		if (r < 0) {
			mc_failed(c, r, "refused ACL data");
			return;
		}
	}
}

void merge_data_drain(struct merge *m, struct mctrl *c)
{
	drain_q(m, c, &c->txq, false);
	drain_q(m, c, &c->txq_le, true);
}

static int host_acl(struct merge *m, const struct h4_pkt *p)
{
	struct mlink *l = merge_link_by_vh(m, p->acl.handle);
	struct mctrl *c;
	unsigned *h_inflight, h_cap, mtu, pieces, i;
	size_t off = 0;
	struct pktq *q;

	if (!l || l->kind == ML_SCO) {
		log_info("merge: the host sent ACL data for handle 0x%03x, which no "
			 "controller has: dropped", p->acl.handle);
		m->st.bad_host++;
		return 0;
	}
	c = &m->ctrl[l->ctrl];
	h_inflight = merge_host_le_pool(m, l) ? &m->h_le_inflight : &m->h_acl_inflight;
	h_cap = merge_host_le_pool(m, l) ? m->h_le_pkts : m->h_acl_pkts;
	if (*h_inflight >= h_cap || l->fn == MERGE_LINK_FIFO) {
		/* 4.1.1: the host may not send beyond its credits. */
		log_warn("merge: the host sent ACL data beyond its %u buffers: dropped", h_cap);
		m->st.bad_host++;
		return 0;
	}
	mtu = merge_ctrl_le_pool(c, l) ? c->le_mtu : c->acl_mtu;
	if (!mtu)
		mtu = 1;
	pieces = p->acl.dlen ? (p->acl.dlen + mtu - 1) / mtu : 1;
	if (pieces > 255) {
		log_warn("merge: a %u-byte ACL packet is too large for controller %u's %u-byte "
			 "buffers: dropped", p->acl.dlen, c->idx, mtu);
		m->st.bad_host++;
		return 0;
	}
	q = merge_txq_of(c, l);
	for (i = 0; i < pieces; i++) {
		size_t n = p->acl.dlen - off < mtu ? p->acl.dlen - off : mtu;
		uint8_t pb = i ? HCI_PB_CONT : p->acl.pb;
		uint8_t *b = malloc(1 + HCI_ACL_HDR + n);
		int len;

		if (!b)
			return -ENOMEM;
		len = h4_build_acl(b, 1 + HCI_ACL_HDR + n, l->real, pb, p->acl.bc,
				   p->acl.data + off, n);
		if (len < 0 || pktq_push(q, b, (size_t)len) < 0) {
			free(b);
			/* Pieces already queued go out; the packet's credit stays used. */
			log_warn("merge: controller %u's data queue is full: ACL dropped", c->idx);
			break;
		}
		free(b);
		off += n;
		l->queued++;
	}
	if (i == 0)
		return 0;	/* nothing of it queued: as if never sent */
	l->fifo[(l->fh + l->fn) % MERGE_LINK_FIFO] = (uint8_t)i;
	l->fn++;
	(*h_inflight)++;
	merge_data_drain(m, c);
	return 0;
}

int merge_host_data(struct merge *m, const struct h4_pkt *p)
{
	struct mlink *l;
	uint8_t *b;
	int n;

	if (p->type == H4_ACL)
		return host_acl(m, p);
	/* SCO: no flow control (Linux leaves SCO flow control off, 7.3.36). */
	l = merge_link_by_vh(m, p->sco.handle);
	if (!l || l->kind != ML_SCO) {
		log_info("merge: the host sent SCO data for handle 0x%03x, which no "
			 "controller has: dropped", p->sco.handle);
		m->st.bad_host++;
		return 0;
	}
	b = malloc(p->raw_len);
	if (!b)
		return -ENOMEM;
	n = h4_build_sco(b, p->raw_len, l->real, p->sco.status, p->sco.data, p->sco.dlen);
	if (n > 0 && m->ctrl[l->ctrl].send(b, (size_t)n, m->ctrl[l->ctrl].user) < 0)
		log_warn("merge: controller %u refused SCO data", l->ctrl);
	free(b);
	return 0;
}

void merge_ctrl_data(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint16_t h = p->type == H4_ACL ? p->acl.handle : p->sco.handle;
	struct mlink *l = merge_link_by_real(m, c->idx, h);
	uint8_t *b;

	if (!l || (p->type == H4_SCO) != (l->kind == ML_SCO)) {
		log_warn("merge: controller %u sent data for handle 0x%03x, which it never "
			 "connected: dropped", c->idx, h);
		m->st.bad_ctrl++;
		return;
	}
	if (l->hidden)
		return;
	b = malloc(p->raw_len);
	if (!b)
		return;
	memcpy(b, p->raw, p->raw_len);
	/* The handle is the low 12 bits; the flags above it are kept (5.4.2, 5.4.3). */
	put_le16(b + 1, (uint16_t)((get_le16(b + 1) & 0xf000) | l->vh));
	merge_emit(m, b, p->raw_len);
	free(b);
}

/*
 * Number Of Completed Packets (7.7.19) from a controller: its credits
 * come back, and the host's for every host packet whose pieces are all
 * done, in one event with the host's handles.
 */
void merge_ctrl_nocp(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t out[HCI_MAX_PARAM];
	struct cur r;
	unsigned n, i, nout = 0;

	cur_init(&r, p->evt.param, p->evt.plen);
	n = cur_u8(&r);
	if (p->evt.plen != 1 + 4 * n) {
		log_warn("merge: controller %u sent a malformed Number Of Completed Packets: "
			 "dropped", c->idx);
		m->st.bad_ctrl++;
		return;
	}
	for (i = 0; i < n; i++) {
		uint16_t h = cur_le16(&r) & 0x0fff;
		unsigned cnt = cur_le16(&r), k, back = 0;
		struct mlink *l = merge_link_by_real(m, c->idx, h);
		unsigned *inflight;

		if (!l) {
			log_warn("merge: controller %u completed packets on handle 0x%03x, "
				 "which it never connected: ignored", c->idx, h);
			m->st.bad_ctrl++;
			continue;
		}
		if (cnt > l->sent) {
			log_warn("merge: controller %u completed %u packets on 0x%03x but had %u",
				 c->idx, cnt, h, l->sent);
			m->st.bad_ctrl++;
			cnt = l->sent;
		}
		inflight = merge_ctrl_le_pool(c, l) ? &c->le_inflight : &c->acl_inflight;
		*inflight -= cnt < *inflight ? cnt : *inflight;
		l->sent -= cnt;
		for (k = 0; k < cnt && l->fn; k++) {
			if (l->fifo[l->fh] > 1) {
				l->fifo[l->fh]--;
				continue;
			}
			l->fh = (l->fh + 1) % MERGE_LINK_FIFO;
			l->fn--;
			back++;
		}
		if (!back || l->hidden)
			continue;
		if (merge_host_le_pool(m, l))
			m->h_le_inflight -= back < m->h_le_inflight ? back : m->h_le_inflight;
		else
			m->h_acl_inflight -= back < m->h_acl_inflight ? back : m->h_acl_inflight;
		put_le16(out + 1 + 4 * nout, l->vh);
		put_le16(out + 3 + 4 * nout, (uint16_t)back);
		nout++;
	}
	if (nout) {
		out[0] = (uint8_t)nout;
		merge_emit_evt(m, HCI_EV_NUM_COMP_PKTS, out, 1 + 4 * nout);
	}
	merge_data_drain(m, c);
}
