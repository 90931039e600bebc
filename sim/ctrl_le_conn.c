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

/*
 * Can this initiation hear the RD's connectable advertising? A legacy
 * initiator (LE Create Connection) answers legacy PDUs only, on LE 1M; an
 * extended one (LE Extended Create Connection) answers legacy and
 * extended PDUs on the primary PHYs it initiates on: LE 1M, LE Coded
 * (Vol 6 Part B 4.4.2, 4.5; LE 2M carries no primary advertising).
 */
static bool le_hears(const struct sim_ctrl *c, const struct sim_rd *rd)
{
	switch (rd->cfg->adv_pdu) {
	case SIM_PDU_CODED:
		return c->le_conn_ext && (c->le_init_phys & 0x04);
	case SIM_PDU_EXT:
		return c->le_conn_ext && (c->le_init_phys & 0x01);
	default:
		return !c->le_conn_ext || (c->le_init_phys & 0x01);
	}
}

static struct sim_rd *le_target(struct sim_ctrl *c)
{
	size_t i;

	for (i = 0; i < sim_air_rd_count(c->air); i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);

		if (!(rd->cfg->tech & SIM_TECH_LE) || !rd->cfg->connectable || !le_hears(c, rd))
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
	/* Found on LE Coded: the link starts there (Vol 6 Part B 4.5.10). */
	if (rd->cfg->adv_pdu == SIM_PDU_CODED)
		cn->tx_phy = cn->rx_phy = 0x03;
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
	unsigned i, k, n;

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
	/*
	 * LE 1M, 2M and Coded are all simulated (ctrl_le_features bits 8,
	 * 11); a reserved bit is Unsupported Feature or Parameter Value, no
	 * primary advertising PHY (none, or LE 2M alone) invalid (7.8.66).
	 */
	if (phys & ~0x07) {
		ctrl_reply_cs(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (!(phys & 0x05) || cur_left(&r) != 16 * n) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	memset(&first, 0, sizeof(first));
	for (i = 0, k = 0; i < n; i++, k++) {
		while (!(phys & (1u << k)))
			k++;
		si = cur_le16(&r);
		sw = cur_le16(&r);
		read_conn_params(&r, &q);
		cur_skip(&r, 4);	/* Min/Max_CE_Length: unused */
		if (i == 0)
			first = q;
		/* LE 2M's scan parameters are ignored: nothing advertises on it. */
		if ((k != 1 && (si < 4 || sw < 4 || sw > si)) || !conn_params_ok(&q)) {
			ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
			return;
		}
	}
	if (filter > 1 || ptype > 3 || !ctrl_own_addr_ok(c, own)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	c->le_conn_ext = true;
	c->le_init_phys = phys;
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

/*
 * PHYs and data length. The RDs support LE 1M, 2M and Coded and data
 * lengths up to 251 octets / 2120 us (Vol 6 Part B 4.5.10): a procedure
 * the host starts always succeeds with what it prefers, as between two
 * capable devices, and its event follows after the radio's delay.
 */
#define SIM_DL_MAX_OCTETS	251
#define SIM_DL_MAX_TIME		2120	/* 251 octets on LE 1M, us */

static uint8_t conn_phy(uint8_t phy)
{
	return phy ? phy : 0x01;	/* a new link starts on LE 1M */
}

/* The PHY picked from a preference mask (bit 0 1M, 1 2M, 2 Coded), 7.8.49. */
static uint8_t pick_phy(uint8_t mask, uint8_t cur)
{
	if (mask & 0x02)
		return 0x02;
	if (mask & 0x01)
		return 0x01;
	if (mask & 0x04)
		return 0x03;
	return cur;
}

static void c_le_read_phy(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint16_t h = cur_le16(&r);
	struct sim_conn *cn = ctrl_conn_by_handle(c, h);
	uint8_t b[5] = { 0 };

	/* Status, Connection_Handle, TX_PHY, RX_PHY (7.8.47). */
	put_le16(b + 1, h);
	if (!cn || !cn->le) {
		b[0] = HCI_ST_UNKNOWN_CONN_ID;
		ctrl_reply_cc(c, x->op, b, 3);
		return;
	}
	b[3] = conn_phy(cn->tx_phy);
	b[4] = conn_phy(cn->rx_phy);
	ctrl_reply_cc(c, x->op, b, 5);
}

static void c_le_set_default_phy(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint8_t all = cur_u8(&r), tx = cur_u8(&r), rx = cur_u8(&r);

	/* 7.8.48: a mask must name a PHY unless its "no preference" bit is set. */
	if ((all & ~0x03) || (tx & ~0x07) || (rx & ~0x07) ||
	    (!(all & 0x01) && !tx) || (!(all & 0x02) && !rx)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->def_all_phys = all;
	c->def_tx_phys = tx;
	c->def_rx_phys = rx;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_set_phy(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	struct cur r = ctrl_params(x);
	uint8_t all, tx, rx, b[5];
	uint16_t opts;

	if (!cn)
		return;
	cur_skip(&r, 2);
	all = cur_u8(&r);
	tx = cur_u8(&r);
	rx = cur_u8(&r);
	opts = cur_le16(&r);
	if ((all & ~0x03) || (tx & ~0x07) || (rx & ~0x07) || opts > 2 ||
	    (!(all & 0x01) && !tx) || (!(all & 0x02) && !rx)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	/* LE PHY Update Complete (7.7.65.12), also when nothing changed. */
	cn->tx_phy = (all & 0x01) ? conn_phy(cn->tx_phy) : pick_phy(tx, conn_phy(cn->tx_phy));
	cn->rx_phy = (all & 0x02) ? conn_phy(cn->rx_phy) : pick_phy(rx, conn_phy(cn->rx_phy));
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	b[3] = cn->tx_phy;
	b[4] = cn->rx_phy;
	ctrl_later_le_evt(c, T_RESPONSE, cn->handle, HCI_LE_EV_PHY_UPDATE_COMPLETE, b, 5);
}

static void c_le_set_data_len(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint16_t h = cur_le16(&r), octets = cur_le16(&r), time = cur_le16(&r);
	struct sim_conn *cn = ctrl_conn_by_handle(c, h);
	uint8_t b[10];

	/* Status and the handle (7.8.33). */
	b[0] = 0;
	put_le16(b + 1, h);
	if (!cn || !cn->le) {
		b[0] = HCI_ST_UNKNOWN_CONN_ID;
		ctrl_reply_cc(c, x->op, b, 3);
		return;
	}
	if (octets < 0x1b || octets > 0xfb || time < 0x148 || time > 0x4290) {
		b[0] = HCI_ST_INVALID_PARAMETERS;
		ctrl_reply_cc(c, x->op, b, 3);
		return;
	}
	ctrl_reply_cc(c, x->op, b, 3);
	if (octets > SIM_DL_MAX_OCTETS)
		octets = SIM_DL_MAX_OCTETS;
	if (time > SIM_DL_MAX_TIME)
		time = SIM_DL_MAX_TIME;
	if (cn->dl_octets == octets && cn->dl_time == time)
		return;		/* nothing changed: no event (7.7.65.7) */
	cn->dl_octets = octets;
	cn->dl_time = time;
	/* LE Data Length Change: both directions, the RD mirrors the request. */
	put_le16(b, cn->handle);
	put_le16(b + 2, octets);
	put_le16(b + 4, time);
	put_le16(b + 6, octets);
	put_le16(b + 8, time);
	ctrl_later_le_evt(c, T_RESPONSE, cn->handle, HCI_LE_EV_DATA_LEN_CHANGE, b, 10);
}

static void c_le_read_def_data_len(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[5] = { 0 };

	put_le16(b + 1, c->sugg_octets);
	put_le16(b + 3, c->sugg_time);
	ctrl_reply_cc(c, x->op, b, 5);
}

static void c_le_write_def_data_len(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint16_t octets = cur_le16(&r), time = cur_le16(&r);

	if (octets < 0x1b || octets > 0xfb || time < 0x148 || time > 0x4290) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->sugg_octets = octets;
	c->sugg_time = time;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_read_max_data_len(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[9] = { 0 };

	put_le16(b + 1, SIM_DL_MAX_OCTETS);
	put_le16(b + 3, SIM_DL_MAX_TIME);
	put_le16(b + 5, SIM_DL_MAX_OCTETS);
	put_le16(b + 7, SIM_DL_MAX_TIME);
	ctrl_reply_cc(c, x->op, b, 9);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_LE_SET_DATA_LEN, 33, 6, 6, CC, c_le_set_data_len },
	{ HCI_OP_LE_READ_DEF_DATA_LEN, 33, 7, 0, CC, c_le_read_def_data_len },
	{ HCI_OP_LE_WRITE_DEF_DATA_LEN, 34, 0, 4, CC, c_le_write_def_data_len },
	{ HCI_OP_LE_READ_MAX_DATA_LEN, 35, 3, 0, CC, c_le_read_max_data_len },
	{ HCI_OP_LE_READ_PHY, 35, 4, 2, CC, c_le_read_phy },
	{ HCI_OP_LE_SET_DEFAULT_PHY, 35, 5, 3, CC, c_le_set_default_phy },
	{ HCI_OP_LE_SET_PHY, 35, 6, 7, CS, c_le_set_phy },
	{ HCI_OP_LE_CREATE_CONN, 26, 4, 25, CS, c_le_create_conn },
	{ HCI_OP_LE_CREATE_CONN_CANCEL, 26, 5, 0, CC, c_le_create_conn_cancel },
	{ HCI_OP_LE_CONN_UPDATE, 27, 2, 14, CS, c_le_conn_update },
	{ HCI_OP_LE_READ_REMOTE_FEATURES, 27, 5, 2, CS, c_le_remote_features },
	{ HCI_OP_LE_EXT_CREATE_CONN, 37, 7, -1, CS, c_le_ext_create_conn },
};

CTRL_CMD_TABLE(ctrl_cmds_le_conn, cmds);
