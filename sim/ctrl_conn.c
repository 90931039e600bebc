/* SPDX-License-Identifier: MIT */
/*
 * BR/EDR connections of the simulated controller (Vol 4 Part E 7.1): paging
 * RDs and other controllers of the air, incoming connections, the LMP
 * queries on an open link.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static void job_accept_timeout(struct sim_ctrl *c, struct sim_job *j);

static void job_page(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_conn *cn = ctrl_conn_by_addr(c, &j->addr, false, CONN_PAGING);

	if (!cn)
		cn = ctrl_conn_by_addr(c, &j->addr, false, CONN_ACCEPTED);
	if (!cn)
		return;
	if (j->idx) {
		/* Page Timeout (Vol 4 Part E 7.7.3 with status 0x04). */
		ctrl_conn_complete(c, HCI_ST_PAGE_TIMEOUT, 0x0000, &j->addr);
		ctrl_conn_free(cn);
		return;
	}
	ctrl_conn_open(cn, &c->addr, BDADDR_PUBLIC);
	ctrl_conn_complete(c, 0, cn->handle, &j->addr);
	if (cn->peer && cn->peer->state == CONN_PAGING) {
		/* The paging controller's end completes at the same time. */
		struct sim_conn *p = cn->peer;

		ctrl_conn_open(p, &p->c->addr, BDADDR_PUBLIC);
		ctrl_conn_complete(p->c, 0, p->handle, &p->addr);
	}
}

/* Connection Request (7.7.4) for an ACL link from a. */
static void conn_request(struct sim_ctrl *c, const struct bdaddr *a, uint32_t cod)
{
	uint8_t b[HCI_EV_CONN_REQUEST_LEN];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_bytes(&w, a->b, 6);
	wbuf_le24(&w, cod);
	wbuf_u8(&w, 0x01);	/* Link_Type ACL */
	ctrl_evt(c, HCI_EV_CONN_REQUEST, b, w.len);
}

static void job_conn_req(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd = sim_air_rd(c->air, j->idx);
	struct sim_conn *cn;
	struct sim_job *t;

	if (!rd || !(c->scan_enable & 0x02) ||
	    ctrl_conn_by_addr(c, &rd->cfg->addr, false, -1))
		return;
	cn = ctrl_conn_alloc(c, rd, false);
	if (!cn)
		return;
	cn->state = CONN_INCOMING;
	conn_request(c, &rd->cfg->addr, rd->cfg->cod);
	t = ctrl_job_new(c, job_accept_timeout, (uint64_t)c->accept_timeout * SLOT_US,
			 cn->handle);
	if (t)
		t->addr = rd->cfg->addr;
}

static void job_accept_timeout(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_conn *cn = ctrl_conn_by_addr(c, &j->addr, false, CONN_INCOMING);
	struct sim_conn *p;

	if (!cn)
		return;
	p = cn->peer;
	ctrl_conn_complete(c, HCI_ST_CONN_ACCEPT_TIMEOUT, 0x0000, &j->addr);
	ctrl_conn_free(cn);
	if (p) {
		ctrl_conn_complete(p->c, HCI_ST_CONN_ACCEPT_TIMEOUT, 0x0000, &p->addr);
		ctrl_conn_free(p);
	}
}

static struct sim_ctrl *ctrl_by_addr(struct sim_ctrl *c, const struct bdaddr *a)
{
	struct sim_ctrl *o;

	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o))
		if (o != c && bdaddr_eq(&o->addr, a))
			return o;
	return NULL;
}

/*
 * Page another controller of the air: it reports a Connection Request to
 * its host, whose Accept or Reject decides for both ends (like btvirt).
 */
static bool page_ctrl(struct sim_ctrl *c, uint16_t op, const struct bdaddr *a)
{
	struct sim_ctrl *o = ctrl_by_addr(c, a);
	struct sim_conn *cn, *pn;
	struct sim_job *t;

	if (!o || !(o->scan_enable & 0x02))
		return false;
	cn = ctrl_conn_alloc_addr(c, a, false);
	if (!cn) {
		ctrl_reply_cs(c, op, HCI_ST_CONN_LIMIT_EXCEEDED);
		return true;
	}
	cn->state = CONN_PAGING;
	pn = ctrl_conn_alloc_addr(o, &c->addr, false);
	if (!pn) {
		ctrl_conn_free(cn);
		ctrl_reply_cs(c, op, HCI_ST_CONN_LIMIT_EXCEEDED);
		return true;
	}
	pn->state = CONN_INCOMING;
	cn->peer = pn;
	pn->peer = cn;
	ctrl_reply_cs(c, op, 0);
	conn_request(o, &c->addr, c->cod);
	t = ctrl_job_new(o, job_accept_timeout, (uint64_t)o->accept_timeout * SLOT_US,
			 pn->handle);
	if (t)
		t->addr = c->addr;
	return true;
}

/* Schedule incoming connections of RDs that page us (scenario connect-in). */
void ctrl_connect_in_arm(struct sim_ctrl *c)
{
	size_t i;

	for (i = 0; i < sim_air_rd_count(c->air) && i < SIM_MAX_RDS; i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);
		struct sim_job *j;

		if (rd->cfg->connect_in_ms < 0 || c->connect_in_done[i] ||
		    !ctrl_rd_pageable(rd))
			continue;
		c->connect_in_done[i] = true;
		j = ctrl_job_new(c, job_conn_req, (uint64_t)rd->cfg->connect_in_ms * 1000, 0xffff);
		if (j)
			j->idx = i;
	}
}

static void c_create_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct sim_rd *rd;
	struct sim_conn *cn;
	struct sim_job *j;
	uint8_t b[HCI_EV_CONN_COMPLETE_LEN];
	struct wbuf w;
	struct cur r;
	uint16_t pkt_type;
	bool reach;

	cur_init(&r, x->p, x->plen);
	cur_copy(&r, a.b, 6);
	pkt_type = cur_le16(&r);	/* the rest: paging details */
	if (ctrl_conn_by_addr(c, &a, false, -1)) {
		ctrl_reply_cs(c, x->op, HCI_ST_CONN_ALREADY_EXISTS);
		return;
	}
	rd = sim_air_find_rd(c->air, &a);
	reach = ctrl_rd_pageable(rd);
	if (!rd) {
		if (page_ctrl(c, x->op, &a))
			return;
		/* Nobody there: the page times out. */
		ctrl_reply_cs(c, x->op, 0);
		wbuf_init(&w, b, sizeof(b));
		wbuf_u8(&w, HCI_ST_PAGE_TIMEOUT);
		wbuf_le16(&w, 0x0000);
		wbuf_bytes(&w, a.b, 6);
		wbuf_u8(&w, 0x01);	/* Link_Type ACL */
		wbuf_u8(&w, 0x00);
		ctrl_later_evt(c, (uint64_t)c->page_timeout * SLOT_US, 0xffff,
			       HCI_EV_CONN_COMPLETE, b, w.len);
		return;
	}
	cn = ctrl_conn_alloc(c, rd, false);
	if (!cn) {
		ctrl_reply_cs(c, x->op, HCI_ST_CONN_LIMIT_EXCEEDED);
		return;
	}
	cn->state = CONN_PAGING;
	cn->pkt_type = pkt_type;
	ctrl_reply_cs(c, x->op, 0);
	j = ctrl_job_new(c, job_page, reach ? T_PAGE : (uint64_t)c->page_timeout * SLOT_US,
			 0xffff);
	if (j) {
		j->addr = a;
		j->idx = reach ? 0 : 1;
	}
}

static void c_create_conn_cancel(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct sim_conn *cn;
	struct sim_job *j;
	struct cur r = ctrl_params(x);

	cur_copy(&r, a.b, 6);
	cn = ctrl_conn_by_addr(c, &a, false, CONN_PAGING);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, ctrl_conn_by_addr(c, &a, false, CONN_OPEN) ?
				    HCI_ST_CONN_ALREADY_EXISTS : HCI_ST_UNKNOWN_CONN_ID, a.b);
		return;
	}
	while ((j = ctrl_job_find(c, job_page, &a)))
		ctrl_job_unlink(j);
	if (cn->peer) {
		/* The paged controller's pending request ends too. */
		ctrl_conn_complete(cn->peer->c, HCI_ST_UNKNOWN_CONN_ID, 0, &cn->peer->addr);
		ctrl_conn_free(cn->peer);
	}
	ctrl_conn_free(cn);
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	ctrl_conn_complete(c, HCI_ST_UNKNOWN_CONN_ID, 0, &a);
}

static void c_accept_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct sim_conn *cn;
	struct sim_job *j;
	struct cur r = ctrl_params(x);
	uint8_t role;

	cur_copy(&r, a.b, 6);
	role = cur_u8(&r);
	cn = ctrl_conn_by_addr(c, &a, false, CONN_INCOMING);
	if (!cn || role > 1) {
		ctrl_reply_cs(c, x->op, cn ? HCI_ST_INVALID_PARAMETERS : HCI_ST_UNKNOWN_CONN_ID);
		return;
	}
	while ((j = ctrl_job_find(c, job_accept_timeout, &a)))
		ctrl_job_unlink(j);
	cn->state = CONN_ACCEPTED;
	ctrl_reply_cs(c, x->op, 0);
	j = ctrl_job_new(c, job_page, T_RESPONSE, 0xffff);
	if (j)
		j->addr = a;
}

static void c_reject_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct sim_conn *cn, *p;
	struct sim_job *j;
	struct cur r = ctrl_params(x);
	uint8_t reason;

	cur_copy(&r, a.b, 6);
	reason = cur_u8(&r);
	cn = ctrl_conn_by_addr(c, &a, false, CONN_INCOMING);
	if (!cn) {
		ctrl_reply_cs(c, x->op, HCI_ST_UNKNOWN_CONN_ID);
		return;
	}
	if (reason < 0x0d || reason > 0x0f) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	while ((j = ctrl_job_find(c, job_accept_timeout, &a)))
		ctrl_job_unlink(j);
	p = cn->peer;
	ctrl_conn_free(cn);
	ctrl_reply_cs(c, x->op, 0);
	ctrl_conn_complete(c, reason, 0, &a);
	if (p) {
		ctrl_conn_complete(p->c, reason, 0, &p->addr);
		ctrl_conn_free(p);
	}
}

static void c_remote_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);
	uint8_t b[HCI_EV_REMOTE_FEATURES_LEN], f[8];
	struct wbuf w;

	if (!cn)
		return;
	ctrl_reply_cs(c, x->op, 0);
	ctrl_conn_features(cn, 0, f);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, cn->handle);
	wbuf_bytes(&w, f, 8);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_REMOTE_FEATURES, b, w.len);
}

static void c_remote_ext_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);
	uint8_t b[HCI_EV_REMOTE_EXT_FEATURES_LEN], f[8];
	struct wbuf w;
	struct cur r;
	uint8_t page;

	if (!cn)
		return;
	cur_init(&r, x->p, x->plen);
	cur_skip(&r, 2);		/* the handle, read by ctrl_cs_conn */
	page = cur_u8(&r);
	ctrl_reply_cs(c, x->op, 0);
	ctrl_conn_features(cn, page, f);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, page > 1 ? HCI_ST_INVALID_PARAMETERS : 0);
	wbuf_le16(&w, cn->handle);
	wbuf_u8(&w, page);
	wbuf_u8(&w, 1);			/* Max_Page_Number */
	wbuf_bytes(&w, f, 8);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_REMOTE_EXT_FEATURES, b, w.len);
}

static void c_clock_offset(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);
	uint8_t b[HCI_EV_CLOCK_OFFSET_LEN];
	struct wbuf w;

	if (!cn)
		return;
	ctrl_reply_cs(c, x->op, 0);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, cn->handle);
	wbuf_le16(&w, 0x0000);		/* Clock_Offset */
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_CLOCK_OFFSET, b, w.len);
}

static void c_change_ptype(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);
	uint8_t b[HCI_EV_PKT_TYPE_CHANGE_LEN];
	struct wbuf w;
	struct cur r;

	if (!cn)
		return;
	ctrl_reply_cs(c, x->op, 0);
	cur_init(&r, x->p, x->plen);
	cur_skip(&r, 2);		/* the handle, read by ctrl_cs_conn */
	cn->pkt_type = cur_le16(&r);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, cn->handle);
	wbuf_le16(&w, cn->pkt_type);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_PKT_TYPE_CHANGE, b, w.len);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_CREATE_CONN, 0, 4, 13, CS, c_create_conn },
	{ HCI_OP_CREATE_CONN_CANCEL, 0, 7, 6, CC, c_create_conn_cancel },
	{ HCI_OP_ACCEPT_CONN_REQ, 1, 0, 7, CS, c_accept_conn },
	{ HCI_OP_REJECT_CONN_REQ, 1, 1, 7, CS, c_reject_conn },
	{ HCI_OP_CHANGE_CONN_PTYPE, 1, 6, 4, CS, c_change_ptype },
	{ HCI_OP_READ_REMOTE_FEATURES, 2, 5, 2, CS, c_remote_features },
	{ HCI_OP_READ_REMOTE_EXT_FEATURES, 2, 6, 3, CS, c_remote_ext_features },
	{ HCI_OP_READ_CLOCK_OFFSET, 3, 0, 2, CS, c_clock_offset },
};

CTRL_CMD_TABLE(ctrl_cmds_conn, cmds);
