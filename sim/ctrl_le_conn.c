/* SPDX-License-Identifier: MIT */
/*
 * LE connections of the simulated controller (Vol 4 Part E 7.8.12 ff.):
 * initiating to an RD or to another controller's advertising, connection
 * update and remote features.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static bool le_enhanced(const struct sim_ctrl *c)
{
	return c->le_evmask[1] & 0x02;
}

static void le_conn_complete(struct sim_ctrl *c, uint8_t status,
			     const struct sim_conn *cn, uint8_t peer_type,
			     const struct bdaddr *peer)
{
	uint8_t b[HCI_LE_EV_ENH_CONN_COMPLETE_LEN];
	struct wbuf w;
	bool enh = le_enhanced(c);

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, status);
	wbuf_le16(&w, cn ? cn->handle : 0);
	wbuf_u8(&w, cn ? cn->role : 0x00);
	wbuf_u8(&w, peer_type);
	wbuf_bytes(&w, peer->b, 6);
	if (enh) {
		wbuf_zero(&w, 6);	/* local RPA: none */
		wbuf_zero(&w, 6);	/* peer RPA: none */
	}
	wbuf_le16(&w, cn ? cn->interval : 0);
	wbuf_le16(&w, cn ? cn->latency : 0);
	wbuf_le16(&w, cn ? cn->timeout : 0);
	wbuf_u8(&w, 0x00);	/* central clock accuracy */
	ctrl_le_evt(c, enh ? HCI_LE_EV_ENH_CONN_COMPLETE : HCI_LE_EV_CONN_COMPLETE,
		    b, w.len);
}

static struct sim_rd *le_target(struct sim_ctrl *c)
{
	size_t i;

	for (i = 0; i < sim_air_rd_count(c->air); i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);

		if (!(rd->cfg->tech & SIM_TECH_LE) || !rd->cfg->connectable)
			continue;
		if (c->le_conn_filter) {
			if (!ctrl_al_has(c, rd->cfg->addr_type, &rd->cfg->addr))
				continue;
		} else if (!bdaddr_eq(&rd->cfg->addr, &c->le_peer) ||
			   rd->cfg->addr_type != (c->le_peer_type & 0x01)) {
			continue;
		}
		if (ctrl_conn_by_addr(c, &rd->cfg->addr, true, -1))
			continue;
		return rd;
	}
	return NULL;
}

/* LE Advertising Set Terminated (7.7.65.18): a connection was made. */
static void set_terminated(struct sim_ctrl *c, uint8_t set, uint16_t handle)
{
	uint8_t b[HCI_LE_EV_ADV_SET_TERMINATED_LEN];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_u8(&w, set);
	wbuf_le16(&w, handle);
	wbuf_u8(&w, 0);		/* Num_Completed_Extended_Advertising_Events */
	ctrl_le_evt(c, HCI_LE_EV_ADV_SET_TERMINATED, b, w.len);
}

/*
 * LE Create Connection aimed at another controller's connectable
 * advertising: both ends complete, the advertiser as peripheral; its
 * advertising stops (7.8.9), an extended set with Advertising Set
 * Terminated (7.7.65.18).
 */
static bool le_connect_ctrl(struct sim_ctrl *c)
{
	struct sim_ctrl *o;
	struct sim_conn *cn, *pn;
	struct ctrl_adv v;
	int idx;

	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o)) {
		if (o == c)
			continue;
		for (idx = -1; idx < SIM_ADV_SETS; idx++) {
			if (!ctrl_adv_of(o, idx, &v) || v.type != 0x00)
				continue;
			if (c->le_conn_filter ? !ctrl_al_has(c, v.atype, &v.addr) :
			    (!bdaddr_eq(&v.addr, &c->le_peer) ||
			     v.atype != (c->le_peer_type & 0x01)))
				continue;
			if (ctrl_conn_by_addr(c, &v.addr, true, -1))
				continue;
			cn = ctrl_conn_alloc_addr(c, &v.addr, true);
			pn = cn ? ctrl_conn_alloc_addr(o, &c->le_ia, true) : NULL;
			if (!pn) {
				if (cn)
					ctrl_conn_free(cn);
				return false;
			}
			c->le_connecting = false;
			cn->peer = pn;
			pn->peer = cn;
			cn->role = 0;
			pn->role = 1;
			cn->addr_type = v.atype;
			pn->addr_type = c->le_iat;
			cn->interval = pn->interval = c->le_int;
			cn->latency = pn->latency = c->le_lat;
			cn->timeout = pn->timeout = c->le_to;
			ctrl_conn_open(cn, &c->le_ia, c->le_iat);
			ctrl_conn_open(pn, &c->le_ia, c->le_iat);
			if (idx < 0)
				o->adv_enabled = false;
			else
				o->sets[idx].enabled = false;
			le_conn_complete(c, 0, cn, v.atype, &v.addr);
			le_conn_complete(o, 0, pn, c->le_iat, &c->le_ia);
			if (idx >= 0) {
				set_terminated(o, (uint8_t)idx, pn->handle);
			}
			return true;
		}
	}
	return false;
}

static void job_le_conn(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd;
	struct sim_conn *cn;

	(void)j;
	if (!c->le_connecting)
		return;
	if (le_connect_ctrl(c))
		return;
	rd = le_target(c);
	if (!rd) {
		/* Keep initiating until cancelled: look again later, for
		 * a controller may start advertising. */
		ctrl_job_new(c, job_le_conn, T_SCAN_TICK, 0xffff);
		return;
	}
	cn = ctrl_conn_alloc(c, rd, true);
	if (!cn)
		return;
	c->le_connecting = false;
	cn->interval = c->le_int;
	cn->latency = c->le_lat;
	cn->timeout = c->le_to;
	ctrl_conn_open(cn, &c->le_ia, c->le_iat);
	le_conn_complete(c, 0, cn, rd->cfg->addr_type, &rd->cfg->addr);
}

/* Connection parameters of 7.8.12 / 7.8.18 / 7.8.66, in their order. */
struct le_conn_params {
	uint16_t min, max, latency, timeout;
};

static void read_conn_params(struct cur *r, struct le_conn_params *p)
{
	p->min = cur_le16(r);
	p->max = cur_le16(r);
	p->latency = cur_le16(r);
	p->timeout = cur_le16(r);
}

/* Checked the same way for every command that carries them. */
static bool conn_params_ok(const struct le_conn_params *p)
{
	if (p->min < 0x0006 || p->max > 0x0c80 || p->min > p->max ||
	    p->latency > 0x01f3 || p->timeout < 0x000a || p->timeout > 0x0c80)
		return false;
	/* Supervision timeout (10 ms) > (1 + latency) * interval * 2 (1.25 ms). */
	return (uint32_t)p->timeout * 4 > (1u + p->latency) * p->max;
}

static void le_connect_start(struct sim_ctrl *c, const struct ctrl_cmd *x,
			     uint8_t filter, uint8_t ptype,
			     const struct bdaddr *peer, uint8_t own,
			     const struct le_conn_params *q)
{
	c->le_connecting = true;
	c->le_conn_filter = filter;
	c->le_peer_type = ptype;
	c->le_peer = *peer;
	if (own & 0x01) {
		c->le_ia = c->random_addr;
		c->le_iat = BDADDR_RANDOM;
	} else {
		c->le_ia = c->addr;
		c->le_iat = BDADDR_PUBLIC;
	}
	c->le_int = q->min;
	c->le_lat = q->latency;
	c->le_to = q->timeout;
	ctrl_reply_cs(c, x->op, 0);
	ctrl_job_new(c, job_le_conn, T_PAGE / 2, 0xffff);
}

static void c_le_create_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct le_conn_params q;
	struct bdaddr a;
	struct cur r;
	uint16_t si, sw;
	uint8_t filter, ptype, own;

	/* LE Create Connection (7.8.12); the length is checked already. */
	cur_init(&r, x->p, x->plen);
	si = cur_le16(&r);
	sw = cur_le16(&r);
	filter = cur_u8(&r);
	ptype = cur_u8(&r);
	cur_copy(&r, a.b, 6);
	own = cur_u8(&r);
	read_conn_params(&r, &q);	/* then Min/Max_CE_Length: unused */
	if (c->le_connecting) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (si < 4 || si > 0x4000 || sw < 4 || sw > si || filter > 1 ||
	    ptype > 3 || !ctrl_own_addr_ok(c, own) || !conn_params_ok(&q)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	if (!filter && ctrl_conn_by_addr(c, &a, true, -1)) {
		ctrl_reply_cs(c, x->op, HCI_ST_CONN_ALREADY_EXISTS);
		return;
	}
	c->le_conn_ext = false;
	le_connect_start(c, x, filter, ptype, &a, own, &q);
}

static void c_le_ext_create_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct le_conn_params q, first;
	struct bdaddr a;
	struct cur r;
	uint8_t filter, own, ptype, phys;
	uint16_t si, sw;
	unsigned i, n;

	/* LE Extended Create Connection (7.8.66): 10 octets, then 16 per
	 * initiating PHY. */
	cur_init(&r, x->p, x->plen);
	filter = cur_u8(&r);
	own = cur_u8(&r);
	ptype = cur_u8(&r);
	cur_copy(&r, a.b, 6);
	phys = cur_u8(&r);
	if (!cur_is_ok(&r)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	n = (unsigned)__builtin_popcount(phys & 0x07);
	if (c->le_connecting) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (phys & ~0x07 || !phys || cur_left(&r) != 16 * n) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	if (phys & 0x06) {
		/* Only LE 1M is simulated (LE features have no 2M/Coded). */
		ctrl_reply_cs(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	memset(&first, 0, sizeof(first));
	for (i = 0; i < n; i++) {
		si = cur_le16(&r);
		sw = cur_le16(&r);
		read_conn_params(&r, &q);
		cur_skip(&r, 4);	/* Min/Max_CE_Length: unused */
		if (i == 0)
			first = q;
		if (si < 4 || sw < 4 || sw > si || !conn_params_ok(&q)) {
			ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
			return;
		}
	}
	if (filter > 1 || ptype > 3 || !ctrl_own_addr_ok(c, own)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	c->le_conn_ext = true;
	le_connect_start(c, x, filter, ptype, &a, own, &first);
}

static void c_le_create_conn_cancel(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	if (!c->le_connecting) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	c->le_connecting = false;
	ctrl_jobs_cancel(c, job_le_conn, 0xffff);
	ctrl_reply_status(c, x->op, 0);
	/* The initiator stops with Unknown Connection Identifier (7.8.13). */
	le_conn_complete(c, HCI_ST_UNKNOWN_CONN_ID, NULL, c->le_peer_type & 0x01,
			 &c->le_peer);
}

/* LE Connection Update Complete (7.7.65.3) to the host of cn's end. */
static void update_complete(const struct sim_conn *cn, uint8_t *b, size_t cap)
{
	struct wbuf w;

	wbuf_init(&w, b, cap);
	wbuf_u8(&w, 0);
	wbuf_le16(&w, cn->handle);
	wbuf_le16(&w, cn->interval);
	wbuf_le16(&w, cn->latency);
	wbuf_le16(&w, cn->timeout);
	ctrl_later_le_evt(cn->c, T_RESPONSE * 6, cn->handle,
			  HCI_LE_EV_CONN_UPDATE_COMPLETE, b, w.len);
}

static void c_le_conn_update(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	uint8_t b[HCI_LE_EV_CONN_UPDATE_COMPLETE_LEN];
	struct le_conn_params q;
	struct cur r;

	if (!cn)
		return;
	cur_init(&r, x->p, x->plen);
	cur_skip(&r, 2);		/* the handle, read by ctrl_cs_conn */
	read_conn_params(&r, &q);	/* then Min/Max_CE_Length: unused */
	if (!conn_params_ok(&q)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	cn->interval = q.max;
	cn->latency = q.latency;
	cn->timeout = q.timeout;
	update_complete(cn, b, sizeof(b));
	if (cn->peer) {
		cn->peer->interval = cn->interval;
		cn->peer->latency = cn->latency;
		cn->peer->timeout = cn->timeout;
		update_complete(cn->peer, b, sizeof(b));
	}
}

static void c_le_remote_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	uint8_t b[HCI_LE_EV_REMOTE_FEATURES_LEN];
	struct wbuf w;

	if (!cn)
		return;
	ctrl_reply_cs(c, x->op, 0);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, cn->handle);
	wbuf_u8(&w, 0x01);	/* the RD: LE encryption */
	wbuf_zero(&w, 7);
	ctrl_later_le_evt(c, T_RESPONSE, cn->handle, HCI_LE_EV_REMOTE_FEATURES, b, w.len);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_LE_CREATE_CONN, 26, 4, 25, CS, c_le_create_conn },
	{ HCI_OP_LE_CREATE_CONN_CANCEL, 26, 5, 0, CC, c_le_create_conn_cancel },
	{ HCI_OP_LE_CONN_UPDATE, 27, 2, 14, CS, c_le_conn_update },
	{ HCI_OP_LE_READ_REMOTE_FEATURES, 27, 5, 2, CS, c_le_remote_features },
	{ HCI_OP_LE_EXT_CREATE_CONN, 37, 7, -1, CS, c_le_ext_create_conn },
};

CTRL_CMD_TABLE(ctrl_cmds_le_conn, cmds);
