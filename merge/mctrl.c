/* SPDX-License-Identifier: MIT */
/*
 * The merge core's lowest layer: the way to the host (merge_emit) and
 * each controller's command queue (one command outstanding, as Linux does
 * with any controller: Vol 4 Part E 4.4) with its timer. A controller
 * that refuses a command or does not answer in time is failed here and
 * handed up through m->ctrl_down, which merge.c, the top, sets: this file
 * calls no other file of the merge.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "merge_int.h"

bool mc_is_ready(const struct mctrl *c)
{
	return c->state == MC_READY;
}

uint32_t merge_ready_mask(const struct merge *m)
{
	uint32_t r = 0;
	unsigned i;

	for (i = 0; i < m->nctrl; i++)
		if (m->ctrl[i].state == MC_READY)
			r |= 1u << i;
	return r;
}

void merge_emit(struct merge *m, const uint8_t *h4, size_t len)
{
	if (m->emit(h4, len, m->user) < 0)
		log_warn("merge: the host did not take a %zu-byte packet", len);
}

void merge_emit_evt(struct merge *m, uint8_t code, const void *param, size_t plen)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int n = h4_build_evt(b, sizeof(b), code, param, plen);

	if (n > 0)
		merge_emit(m, b, (size_t)n);
}

void mc_send_head(struct mctrl *c)
{
	struct mcmd *q;
	int r;

	if (c->busy || c->stale || c->qn == 0 || c->state == MC_DOWN ||
	    c->state == MC_ABSENT)
		return;
	q = &c->q[c->qh];
	c->busy = true;
	loop_timer_arm(c->timer, (uint64_t)c->m->cfg.cmd_timeout_ms * 1000);
	r = c->send(q->pkt, q->len, c->user);
	if (r < 0)
		mc_failed(c, r, "refused a command");
}

int mc_queue(struct mctrl *c, uint8_t tag, uint16_t op, const void *param, size_t plen)
{
	struct mcmd *q;
	int n;

	if (c->state == MC_DOWN || c->state == MC_ABSENT)
		return -ENETDOWN;
	if (c->qn == MERGE_CMDQ) {
		log_warn("merge: controller %u: command queue full, 0x%04x not sent",
			 c->idx, op);
		return -ENOBUFS;
	}
	q = &c->q[(c->qh + c->qn) % MERGE_CMDQ];
	n = h4_build_cmd(q->pkt, sizeof(q->pkt), op, param, plen);
	if (n < 0)
		return n;
	q->len = (uint16_t)n;
	q->op = op;
	q->tag = tag;
	c->qn++;
	mc_send_head(c);
	return 0;
}

void mc_queue_clear(struct mctrl *c)
{
	c->qh = 0;
	c->qn = 0;
	c->busy = false;
	c->stale = false;
	loop_timer_disarm(c->timer);
}

void mc_on_timeout(struct loop_timer *t, void *user)
{
	struct mctrl *c = user;

	(void)t;
	mc_failed(c, -ETIMEDOUT, "did not answer a command in time");
}

void mc_failed(struct mctrl *c, int err, const char *why)
{
	struct merge *m = c->m;
	uint16_t op = c->busy ? c->q[c->qh].op : 0;

	log_err("merge: %s controller %u %s (opcode 0x%04x, %s): treating it as down "
		"until its transport is reopened",
		c->role == MERGE_LOCAL ? "local" : "gateway", c->idx, why, op, strerror(-err));
	m->ctrl_down(c, true);
	if (m->cfg.ctrl_failed)
		m->cfg.ctrl_failed(m, c->idx, err, m->user);
}
