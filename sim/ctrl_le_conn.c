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
	uint8_t b[30];
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
	uint8_t b[5];

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
				b[0] = 0;
				b[1] = (uint8_t)idx;
				put_le16(b + 2, pn->handle);
				b[4] = 0;
				ctrl_le_evt(o, HCI_LE_EV_ADV_SET_TERMINATED, b, 5);
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

/* Connection parameters of 7.8.12 / 7.8.66, checked the same way. */
static bool conn_params_ok(const uint8_t *q)
{
	uint16_t mn = get_le16(q), mx = get_le16(q + 2);
	uint16_t lat = get_le16(q + 4), to = get_le16(q + 6);

	if (mn < 0x0006 || mx > 0x0c80 || mn > mx || lat > 0x01f3 ||
	    to < 0x000a || to > 0x0c80)
		return false;
	/* Supervision timeout (10 ms) > (1 + latency) * interval * 2 (1.25 ms). */
	return (uint32_t)to * 4 > (1u + lat) * mx;
}

static void le_connect_start(struct sim_ctrl *c, const struct ctrl_cmd *x,
			     uint8_t filter, uint8_t ptype, const uint8_t *peer,
			     uint8_t own, const uint8_t *q)
{
	c->le_connecting = true;
	c->le_conn_filter = filter;
	c->le_peer_type = ptype;
	memcpy(c->le_peer.b, peer, 6);
	if (own & 0x01) {
		c->le_ia = c->random_addr;
		c->le_iat = BDADDR_RANDOM;
	} else {
		c->le_ia = c->addr;
		c->le_iat = BDADDR_PUBLIC;
	}
	c->le_int = get_le16(q);
	c->le_lat = get_le16(q + 4);
	c->le_to = get_le16(q + 6);
	ctrl_reply_cs(c, x->op, 0);
	ctrl_job_new(c, job_le_conn, T_PAGE / 2, 0xffff);
}

static void c_le_create_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	const uint8_t *p = x->p;
	uint16_t si = get_le16(p), sw = get_le16(p + 2);

	if (c->le_connecting) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (si < 4 || si > 0x4000 || sw < 4 || sw > si || p[4] > 1 ||
	    p[5] > 3 || !ctrl_own_addr_ok(c, p[12]) || !conn_params_ok(p + 13)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	if (!p[4]) {
		struct bdaddr a;

		memcpy(a.b, p + 6, 6);
		if (ctrl_conn_by_addr(c, &a, true, -1)) {
			ctrl_reply_cs(c, x->op, HCI_ST_CONN_ALREADY_EXISTS);
			return;
		}
	}
	c->le_conn_ext = false;
	le_connect_start(c, x, p[4], p[5], p + 6, p[12], p + 13);
}

static void c_le_ext_create_conn(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	const uint8_t *p = x->p, *q;
	uint8_t phys;
	unsigned i, n;

	if (x->plen < 10) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	phys = p[9];
	n = (unsigned)__builtin_popcount(phys & 0x07);
	if (c->le_connecting) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (phys & ~0x07 || !phys || x->plen != 10 + 16 * n) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	if (phys & 0x06) {
		/* Only LE 1M is simulated (LE features have no 2M/Coded). */
		ctrl_reply_cs(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	for (i = 0; i < n; i++) {
		q = p + 10 + 16 * i;
		if (get_le16(q) < 4 || get_le16(q + 2) < 4 ||
		    get_le16(q + 2) > get_le16(q) || !conn_params_ok(q + 4)) {
			ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
			return;
		}
	}
	if (p[0] > 1 || p[2] > 3 || !ctrl_own_addr_ok(c, p[1])) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	c->le_conn_ext = true;
	le_connect_start(c, x, p[0], p[2], p + 3, p[1], p + 14);
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

static void c_le_conn_update(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	uint8_t b[9];

	if (!cn)
		return;
	if (!conn_params_ok(x->p + 2)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	cn->interval = get_le16(x->p + 4);
	cn->latency = get_le16(x->p + 6);
	cn->timeout = get_le16(x->p + 8);
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	put_le16(b + 3, cn->interval);
	put_le16(b + 5, cn->latency);
	put_le16(b + 7, cn->timeout);
	ctrl_later_le_evt(c, T_RESPONSE * 6, cn->handle, HCI_LE_EV_CONN_UPDATE_COMPLETE, b, 9);
	if (cn->peer) {
		cn->peer->interval = cn->interval;
		cn->peer->latency = cn->latency;
		cn->peer->timeout = cn->timeout;
		put_le16(b + 1, cn->peer->handle);
		ctrl_later_le_evt(cn->peer->c, T_RESPONSE * 6, cn->peer->handle,
				  HCI_LE_EV_CONN_UPDATE_COMPLETE, b, 9);
	}
}

static void c_le_remote_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	uint8_t b[11] = { 0 };

	if (!cn)
		return;
	ctrl_reply_cs(c, x->op, 0);
	put_le16(b + 1, cn->handle);
	b[3] = 0x01;	/* the RD: LE encryption */
	ctrl_later_le_evt(c, T_RESPONSE, cn->handle, HCI_LE_EV_REMOTE_FEATURES, b, 11);
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
