/* SPDX-License-Identifier: MIT */
/*
 * The merge core, controller side and top of its files: each controller's
 * initialisation, its replies routed, what happens when a controller
 * comes and goes, the host's commands taken in turn, and the API of
 * merge.h. The command queue and the timer are mctrl.c's. See
 * doc/seamless.md.
 *
 * Threat model: the host is the user's own kernel, but its bytes are
 * still parsed with lib/hci before use. A gateway is a remote bgw-muxd
 * behind a tunnel: trusted to be a controller, not to be well-formed. Every
 * event is length-checked before it is routed; one that names a handle the
 * merge does not know goes to nobody (a log line), so a confused or hostile
 * side can never make the host act on another side's link.
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

static void init_next(struct mctrl *c);
static void ctrl_down(struct mctrl *c, bool lost);

/* ------------------------------------------------------------------ */
/*
 * Initialisation: the merge's own, before the host sees the controller
 * (or sees it again). Reset, then what the merge must know (7.4: version,
 * BD_ADDR, features, commands, buffers), then the host's settings replayed
 * (merge_sticky_replay), so a gateway that returns is configured as the
 * host left it and the host need not reset.
 */
enum {
	IS_RESET,
	IS_VERSION,
	IS_BDADDR,
	IS_FEATURES,
	IS_COMMANDS,
	IS_BUFFER,
	IS_LE_BUFFER,
	IS_DONE,
};

static const uint16_t init_ops[IS_DONE] = {
	HCI_OP_RESET, HCI_OP_READ_LOCAL_VERSION, HCI_OP_READ_BD_ADDR,
	HCI_OP_READ_LOCAL_FEATURES, HCI_OP_READ_LOCAL_COMMANDS,
	HCI_OP_READ_BUFFER_SIZE, HCI_OP_LE_READ_BUFFER_SIZE,
};

static bool ctrl_le(const struct mctrl *c)
{
	return c->features[4] & 0x40;	/* LE Supported (Controller), Vol 2 Part C 3.3 */
}

static void init_start(struct mctrl *c)
{
	bool inq = c->inq_running || c->pinq_wait;

	c->state = MC_INIT;
	c->init_step = IS_RESET;
	c->acl_inflight = 0;
	c->le_inflight = 0;
	c->inq_running = false;
	c->pinq_wait = false;
	if (inq)	/* its inquiry ends with its re-initialisation */
		merge_inq_ctrl_ended(c->m, NULL);
	c->le_create = false;
	c->le_cancel_sent = false;
	pktq_clear(&c->txq);
	pktq_clear(&c->txq_le);
	init_next(c);
}

static void init_done(struct mctrl *c)
{
	struct merge *m = c->m;
	bool again = c->role == MERGE_LOCAL && c->lost;

	c->state = MC_READY;
	c->was_ready = true;
	c->lost = false;
	merge_sticky_replay(m, c);
	if (c->role == MERGE_LOCAL)
		merge_pool_set(m);
	log_info("merge: %s controller %u ready (%u ACL buffers of %u bytes)",
		 c->role == MERGE_LOCAL ? "local" : "gateway", c->idx,
		 c->acl_pkts, c->acl_mtu);
	merge_op_reset_progress(m);
	if (again) {
		/*
		 * The local radio is back after a failure: one more Hardware
		 * Error (7.7.16) makes the host initialise again, against
		 * the controller it now has (Linux: hci_error_reset).
		 */
		uint8_t code = 0;

		merge_emit_evt(m, HCI_EV_HARDWARE_ERROR, &code, 1);
	}
	merge_pump_host(m);
}

static void init_next(struct mctrl *c)
{
	if (c->init_step == IS_LE_BUFFER && !ctrl_le(c))
		c->init_step = IS_DONE;
	if (c->init_step >= IS_DONE) {
		init_done(c);
		return;
	}
	mc_queue(c, TAG_INIT, init_ops[c->init_step], NULL, 0);
}

static void init_reply(struct mctrl *c, uint16_t op, bool cs, const uint8_t *ret,
		       size_t rlen)
{
	struct cur r;

	/* A reply to an init interrupted by a host Reset: the new one goes on. */
	if (c->state != MC_INIT || c->init_step >= IS_DONE || op != init_ops[c->init_step])
		return;
	if (cs || rlen < 1 || ret[0] != 0) {
		mc_failed(c, -EIO, "refused its initialisation");
		return;
	}
	cur_init(&r, ret + 1, rlen - 1);
	switch (op) {
	case HCI_OP_READ_BD_ADDR:
		cur_copy(&r, c->addr.b, 6);
		break;
	case HCI_OP_READ_LOCAL_FEATURES:
		cur_copy(&r, c->features, 8);
		break;
	case HCI_OP_READ_LOCAL_COMMANDS:
		cur_copy(&r, c->commands, 64);
		break;
	case HCI_OP_READ_BUFFER_SIZE:	/* 7.4.5 */
		c->acl_mtu = cur_le16(&r);
		cur_u8(&r);
		c->acl_pkts = cur_le16(&r);
		break;
	case HCI_OP_LE_READ_BUFFER_SIZE:	/* 7.8.2 */
		c->le_mtu = cur_le16(&r);
		c->le_pkts = cur_u8(&r);
		break;
	default:
		break;
	}
	if (!cur_is_ok(&r)) {
		mc_failed(c, -EBADMSG, "gave a short initialisation answer");
		return;
	}
	if (op == HCI_OP_READ_BUFFER_SIZE && (c->acl_mtu == 0 || c->acl_pkts == 0)) {
		mc_failed(c, -EINVAL, "reported no ACL buffers");
		return;
	}
	if (op == HCI_OP_LE_READ_BUFFER_SIZE && (c->le_mtu == 0 || c->le_pkts == 0)) {
		c->le_mtu = 0;	/* LE shares the ACL pool (7.8.2) */
		c->le_pkts = 0;
	}
	c->init_step++;
	init_next(c);
}

/* ------------------------------------------------------------------ */
/* Command Complete / Command Status from a controller */

static void ctrl_reply(struct mctrl *c, const struct h4_pkt *p)
{
	struct merge *m = c->m;
	struct h4_cc cc;
	struct h4_cs cs;
	bool is_cs = p->evt.code == HCI_EV_CMD_STATUS;
	uint16_t op;
	const uint8_t *ret;
	size_t rlen;
	struct mcmd *q;
	uint8_t tag;

	if (is_cs) {
		if (h4_parse_cs(p, &cs) < 0)
			goto bad;
		op = cs.opcode;
		ret = &p->evt.param[0];	/* the status */
		rlen = 1;
	} else {
		if (h4_parse_cc(p, &cc) < 0)
			goto bad;
		op = cc.opcode;
		ret = cc.ret;
		rlen = cc.rlen;
	}
	if (op == HCI_OP_NOP)	/* credits only (7.7.14) */
		return;
	if (c->stale && op == c->stale_op) {
		/* Asked before the queue was cleared: the queue goes on now. */
		log_debug("merge: controller %u: the answer to 0x%04x, asked before "
			  "its re-initialisation, dropped", c->idx, op);
		c->stale = false;
		loop_timer_disarm(c->timer);
		mc_send_head(c);
		return;
	}
	if (!c->busy || c->q[c->qh].op != op) {
		log_warn("merge: controller %u answered opcode 0x%04x it was not asked "
			 "(out of order): dropped", c->idx, op);
		m->st.bad_ctrl++;
		return;
	}
	q = &c->q[c->qh];
	tag = q->tag;
	c->qh = (c->qh + 1) % MERGE_CMDQ;
	c->qn--;
	c->busy = false;
	loop_timer_disarm(c->timer);
	switch (tag) {
	case TAG_INIT:
		init_reply(c, op, is_cs, ret, rlen);
		break;
	case TAG_HOST:
		merge_op_reply(m, c, is_cs, ret, rlen);
		break;
	case TAG_PINQ:
		merge_pinq_reply(m, c, is_cs, ret, rlen);
		break;
	default:
		if (rlen >= 1 && ret[0] != 0)
			log_debug("merge: controller %u: internal 0x%04x status 0x%02x",
				  c->idx, op, ret[0]);
		break;
	}
	mc_send_head(c);
	return;
bad:
	log_warn("merge: controller %u sent a malformed command reply: dropped", c->idx);
	m->st.bad_ctrl++;
}

int merge_ctrl_input(struct merge *m, unsigned idx, const uint8_t *h4, size_t len)
{
	struct h4_pkt p;
	struct mctrl *c;
	int r;

	if (!m || idx >= m->nctrl)
		return -ENODEV;
	c = &m->ctrl[idx];
	if (c->state == MC_DOWN || c->state == MC_ABSENT)
		return -ENETDOWN;
	r = h4_parse(&p, h4, len, 0);
	if (r < 0) {
		log_warn("merge: controller %u sent a malformed packet (%s): dropped",
			 idx, h4_strerror(r));
		m->st.bad_ctrl++;
		return -EBADMSG;
	}
	switch (p.type) {
	case H4_EVT:
		if (p.evt.code == HCI_EV_CMD_COMPLETE || p.evt.code == HCI_EV_CMD_STATUS)
			ctrl_reply(c, &p);
		else if (c->state != MC_READY)
			log_debug("merge: controller %u: event 0x%02x before ready: dropped",
				  idx, p.evt.code);
		else if (p.evt.code == HCI_EV_NUM_COMP_PKTS)
			merge_ctrl_nocp(m, c, &p);
		else
			merge_ctrl_evt(m, c, &p);
		break;
	case H4_ACL:
	case H4_SCO:
		if (c->state == MC_READY)
			merge_ctrl_data(m, c, &p);
		break;
	default:
		log_warn("merge: controller %u sent a %s packet: dropped", idx,
			 h4_type_name(p.type));
		m->st.bad_ctrl++;
		return -EPROTO;
	}
	merge_pump_host(m);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Up and down */

void merge_ctrl_up(struct merge *m, unsigned idx)
{
	struct mctrl *c;
	bool stale;
	uint16_t op;

	if (!m || idx >= m->nctrl)
		return;
	c = &m->ctrl[idx];
	/*
	 * A controller that is up still answers the command in flight (a
	 * Reset does not take back an answer already on its way, 7.3.2):
	 * wait for it rather than send the new init's Reset behind it and
	 * take its answer for the Reset's. Its timeout keeps running.
	 */
	stale = (c->busy || c->stale) && c->state != MC_DOWN && c->state != MC_ABSENT;
	op = c->busy ? c->q[c->qh].op : c->stale_op;
	mc_queue_clear(c);
	if (stale) {
		c->stale = true;
		c->stale_op = op;
		loop_timer_arm(c->timer, (uint64_t)m->cfg.cmd_timeout_ms * 1000);
	}
	init_start(c);
}

/*
 * A controller is gone. Its links end for the host with Disconnection
 * Complete, reason Connection Timeout (0x08, Vol 1 Part F 1.3: the link
 * was lost without a word from the peer), its devices are forgotten so a
 * later report from another side takes them over, and whatever the host
 * was waiting for from it is answered.
 */
static void ctrl_down(struct mctrl *c, bool lost)
{
	struct merge *m = c->m;
	enum mc_state was = c->state;
	unsigned i;

	if (was == MC_DOWN || was == MC_ABSENT)
		return;
	c->state = MC_DOWN;
	c->lost = c->lost || (lost && c->role == MERGE_LOCAL && was == MC_READY);
	mc_queue_clear(c);
	merge_ctrl_gone_links(m, c, true);
	pktq_clear(&c->txq);
	pktq_clear(&c->txq_le);
	c->acl_inflight = 0;
	c->le_inflight = 0;
	c->pinq_wait = false;
	merge_inq_ctrl_ended(m, c);
	merge_le_create_ctrl_ended(m, c, HCI_ST_CONN_FAILED_TO_ESTABLISH);
	for (i = 0; i < MERGE_MAX_PEND; i++) {
		struct mpend *pd = &m->pend[i];
		uint8_t b[255];

		if (!pd->kind || pd->ctrl != c->idx)
			continue;
		if (pd->race && !merge_pend_race_last(m, pd)) {
			pd->kind = 0;	/* another side still pages it */
			continue;
		}
		memset(b, 0, sizeof(b));
		b[0] = HCI_ST_CONN_TIMEOUT;
		if (pd->kind == MP_NAME) {	/* 7.7.7 */
			memcpy(b + 1, pd->addr.b, 6);
			merge_emit_evt(m, HCI_EV_REMOTE_NAME, b, 255);
		} else if (pd->kind == MP_CONN) {	/* 7.7.3 */
			memcpy(b + 3, pd->addr.b, 6);
			b[9] = 0x01;
			merge_emit_evt(m, HCI_EV_CONN_COMPLETE, b, 11);
		}
		pd->kind = 0;
	}
	merge_dev_forget_ctrl(m, c->idx);
	merge_op_ctrl_gone(m, c);
	if (c->role == MERGE_LOCAL && was != MC_INIT) {
		/*
		 * The host's own radio failed: a Hardware Error (7.7.16),
		 * on which Linux closes and re-initialises the adapter.
		 */
		uint8_t code = 0;

		merge_emit_evt(m, HCI_EV_HARDWARE_ERROR, &code, 1);
	}
	log_notice("merge: %s controller %u down", c->role == MERGE_LOCAL ? "local" : "gateway",
		   c->idx);
	merge_pump_host(m);
}

void merge_ctrl_down(struct merge *m, unsigned idx)
{
	if (!m || idx >= m->nctrl)
		return;
	ctrl_down(&m->ctrl[idx], true);
}

bool merge_ctrl_is_ready(const struct merge *m, unsigned idx)
{
	return m && idx < m->nctrl && m->ctrl[idx].state == MC_READY;
}

/* ------------------------------------------------------------------ */
/* Host commands wait their turn: one host command is handled at a time. */

void merge_pump_host(struct merge *m)
{
	struct pkt *p;
	unsigned guard;

	if (m->in_pump)
		return;
	m->in_pump = true;
	for (guard = 0; guard < MERGE_HOSTQ + 1 && !m->op.active; guard++) {
		/* Until the local radio's first initialisation, commands wait. */
		if (m->ctrl[0].state == MC_INIT && !m->ctrl[0].was_ready)
			break;
		p = pktq_pop(&m->hostq);
		if (!p)
			break;
		merge_host_cmd(m, p->data, p->len);
		pkt_free(p);
	}
	m->in_pump = false;
}

int merge_host_input(struct merge *m, const uint8_t *h4, size_t len)
{
	struct h4_pkt p;
	int r;

	if (!m)
		return -EINVAL;
	r = h4_parse(&p, h4, len, 0);
	if (r < 0) {
		log_warn("merge: the host sent a malformed packet (%s): dropped",
			 h4_strerror(r));
		m->st.bad_host++;
		return -EBADMSG;
	}
	switch (p.type) {
	case H4_CMD:
		if (pktq_push(&m->hostq, h4, len) < 0) {
			uint8_t b[8];
			int n;

			/* The host ignored Num_HCI_Command_Packets = 1 (7.7.14). */
			log_warn("merge: the host queued too many commands; 0x%04x refused",
				 p.cmd.opcode);
			m->st.bad_host++;
			n = h4_build_cs(b, sizeof(b), HCI_ST_MEMORY_EXCEEDED, 1, p.cmd.opcode);
			if (n > 0)
				merge_emit(m, b, (size_t)n);
			return 0;
		}
		merge_pump_host(m);
		return 0;
	case H4_ACL:
	case H4_SCO:
		return merge_host_data(m, &p);
	default:
		log_warn("merge: the host sent a %s packet, which the merge does not carry",
			 h4_type_name(p.type));
		m->st.bad_host++;
		return -EPROTO;
	}
}

/* A periodic inquiry's next period (Periodic Inquiry Mode, evt.c). */
static void pinq_timer(struct loop_timer *t, void *user)
{
	struct merge *m = user;

	(void)t;
	merge_pinq_period(m);
	merge_pump_host(m);
}

/* ------------------------------------------------------------------ */

struct merge *merge_new(struct loop *l, const struct merge_config *cfg,
			merge_emit_fn emit, void *user)
{
	struct merge *m;

	if (!l || !emit)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = l;
	if (cfg)
		m->cfg = *cfg;
	if (!m->cfg.cmd_timeout_ms)
		m->cfg.cmd_timeout_ms = 5000;
	if (!m->cfg.inquiry_unit_us)
		m->cfg.inquiry_unit_us = 1280000;
	m->pinq_timer = loop_timer_new(l, pinq_timer, m);
	if (!m->pinq_timer) {
		free(m);
		return NULL;
	}
	m->pinq_rng = (uint32_t)loop_now_us() | 1;
	m->emit = emit;
	m->user = user;
	m->ctrl_down = ctrl_down;
	m->ctrl_up = merge_ctrl_up;
	m->next_vh = MERGE_VHANDLE_FIRST;
	m->le_winner = -1;
	pktq_init(&m->hostq, MERGE_HOSTQ, MERGE_HOSTQ * H4_MAX_CTL_PKT);
	merge_host_reset_state(m);
	return m;
}

int merge_add_ctrl(struct merge *m, enum merge_role role, merge_send_fn send, void *user)
{
	struct mctrl *c;

	if (!m || !send)
		return -EINVAL;
	if ((m->nctrl == 0) != (role == MERGE_LOCAL))
		return -EINVAL;
	if (m->nctrl == MERGE_MAX_CTRL)
		return -ENOSPC;
	c = &m->ctrl[m->nctrl];
	memset(c, 0, sizeof(*c));
	c->timer = loop_timer_new(m->loop, mc_on_timeout, c);
	if (!c->timer)
		return -ENOMEM;
	c->m = m;
	c->idx = m->nctrl;
	c->role = role;
	c->state = MC_DOWN;
	c->send = send;
	c->user = user;
	/* Bounded by the host's credits; the caps are a second fence. */
	pktq_init(&c->txq, 1024, 4 * 1024 * 1024);
	pktq_init(&c->txq_le, 1024, 4 * 1024 * 1024);
	return (int)m->nctrl++;
}

void merge_free(struct merge *m)
{
	unsigned i;

	if (!m)
		return;
	for (i = 0; i < m->nctrl; i++) {
		loop_timer_free(m->ctrl[i].timer);
		pktq_clear(&m->ctrl[i].txq);
		pktq_clear(&m->ctrl[i].txq_le);
	}
	pktq_clear(&m->hostq);
	loop_timer_free(m->pinq_timer);
	free(m);
}

void merge_get_stats(const struct merge *m, struct merge_stats *st)
{
	unsigned i;

	*st = m->st;
	st->links = 0;
	for (i = 0; i < MERGE_MAX_LINKS; i++)
		if (m->links[i].used && !m->links[i].hidden)
			st->links++;
	st->devices = 0;
	for (i = 0; i < MERGE_MAX_DEVS; i++)
		if (m->devs[i].used)
			st->devices++;
	st->host_acl_inflight = m->h_acl_inflight + m->h_le_inflight;
	for (i = 0; i < m->nctrl; i++)
		st->ctrl_acl_inflight[i] = m->ctrl[i].acl_inflight + m->ctrl[i].le_inflight;
}

int merge_handle_ctrl(const struct merge *m, uint16_t vh)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_LINKS; i++)
		if (m->links[i].used && !m->links[i].hidden && m->links[i].vh == vh)
			return m->links[i].ctrl;
	return -ENOENT;
}
