/* SPDX-License-Identifier: MIT */
/*
 * LE advertising, scanning and the accept list of the simulated controller
 * (Vol 4 Part E 7.8): legacy and extended advertising sets, the reports
 * a scanner gets from RDs and from other controllers of the air.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static void job_scan_tick(struct sim_ctrl *c, struct sim_job *j);
static void job_scan_timeout(struct sim_ctrl *c, struct sim_job *j);

bool ctrl_al_has(const struct sim_ctrl *c, uint8_t type, const struct bdaddr *a)
{
	size_t i;

	for (i = 0; i < c->nal; i++)
		if ((c->al[i].type == 0xff) ||
		    (c->al[i].type == type && bdaddr_eq(&c->al[i].addr, a)))
			return true;
	return false;
}

static void adv_report(struct sim_ctrl *c, uint8_t atype, const struct bdaddr *a,
		       bool connectable, uint8_t legacy_type,
		       const uint8_t *data, size_t len, int8_t rssi)
{
	uint8_t b[HCI_LE_EV_EXT_ADV_REPORT_LEN(SIM_ADV_MAX)];
	struct wbuf w;
	uint16_t et;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 1);
	if (!c->scan_ext) {
		/* LE Advertising Report (7.7.65.2). */
		wbuf_u8(&w, legacy_type);
		wbuf_u8(&w, atype);
		wbuf_bytes(&w, a->b, 6);
		wbuf_u8(&w, (uint8_t)len);
		wbuf_bytes(&w, data, len);
		wbuf_u8(&w, (uint8_t)rssi);
		if (wbuf_is_ok(&w))
			ctrl_le_evt(c, HCI_LE_EV_ADV_REPORT, b, w.len);
		return;
	}
	/* LE Extended Advertising Report for legacy PDUs (7.7.65.13). */
	switch (legacy_type) {
	case 0x00: et = 0x13; break;	/* ADV_IND */
	case 0x02: et = 0x12; break;	/* ADV_SCAN_IND */
	case 0x03: et = 0x10; break;	/* ADV_NONCONN_IND */
	default: et = connectable ? 0x1b : 0x1a; break; /* SCAN_RSP */
	}
	wbuf_le16(&w, et);
	wbuf_u8(&w, atype);
	wbuf_bytes(&w, a->b, 6);
	wbuf_u8(&w, 0x01);	/* primary PHY LE 1M */
	wbuf_u8(&w, 0x00);	/* no secondary PHY */
	wbuf_u8(&w, 0xff);	/* no SID */
	wbuf_u8(&w, 0x7f);	/* TX power not available */
	wbuf_u8(&w, (uint8_t)rssi);
	wbuf_le16(&w, 0);	/* no periodic advertising */
	wbuf_u8(&w, 0);
	wbuf_zero(&w, 6);
	wbuf_u8(&w, (uint8_t)len);
	wbuf_bytes(&w, data, len);
	if (wbuf_is_ok(&w))
		ctrl_le_evt(c, HCI_LE_EV_EXT_ADV_REPORT, b, w.len);
}

/*
 * An RD's extended advertising (extended PDUs only, Vol 6 Part B 2.3.1) as
 * LE Extended Advertising Reports (7.7.65.13): data longer than one event
 * carries goes in several reports of one chain, each but the last with
 * Data_Status 01 "incomplete, more to come".
 */
static void ext_adv_chain(struct sim_ctrl *c, const struct sim_rd *rd, int8_t rssi)
{
	/* 255 - subevent - Num_Reports - 24 fixed octets. */
	enum { CHUNK = 229 };
	uint8_t b[HCI_LE_EV_EXT_ADV_REPORT_LEN(CHUNK)];
	uint8_t phy = rd->cfg->adv_pdu == SIM_PDU_CODED ? 0x03 : 0x01;
	size_t off = 0;
	struct wbuf w;

	do {
		size_t n = rd->ext_len - off > CHUNK ? CHUNK : rd->ext_len - off;
		uint16_t et = rd->cfg->connectable ? 0x01 : 0x00;

		if (off + n < rd->ext_len)
			et |= 0x20;
		wbuf_init(&w, b, sizeof(b));
		wbuf_u8(&w, 1);
		wbuf_le16(&w, et);
		wbuf_u8(&w, rd->cfg->addr_type);
		wbuf_bytes(&w, rd->cfg->addr.b, 6);
		wbuf_u8(&w, phy);	/* primary PHY */
		wbuf_u8(&w, phy);	/* secondary PHY: the AUX PDUs' */
		wbuf_u8(&w, 0x01);	/* SID */
		wbuf_u8(&w, 0x7f);	/* TX power not available */
		wbuf_u8(&w, (uint8_t)rssi);
		wbuf_le16(&w, 0);	/* no periodic advertising */
		wbuf_u8(&w, 0);
		wbuf_zero(&w, 6);
		wbuf_u8(&w, (uint8_t)n);
		wbuf_bytes(&w, rd->ext + off, n);
		if (wbuf_is_ok(&w))
			ctrl_le_evt(c, HCI_LE_EV_EXT_ADV_REPORT, b, w.len);
		off += n;
	} while (off < rd->ext_len);
}

static void adv_addr(const struct sim_ctrl *o, uint8_t own,
		     const struct bdaddr *set_rand, struct ctrl_adv *v)
{
	if (own & 0x01) {
		v->atype = BDADDR_RANDOM;
		v->addr = set_rand && !bdaddr_is_zero(set_rand) ? *set_rand : o->random_addr;
	} else {
		v->atype = BDADDR_PUBLIC;
		v->addr = o->addr;
	}
}

bool ctrl_adv_of(const struct sim_ctrl *o, int idx, struct ctrl_adv *v)
{
	const struct ctrl_adv_set *s;

	if (idx < 0) {
		/* Directed advertising (types 1 and 4) is not simulated. */
		if (!o->adv_enabled || o->adv_type == 0x01 || o->adv_type > 3)
			return false;
		v->type = o->adv_type;
		adv_addr(o, o->adv_own, NULL, v);
		v->data = o->adv;
		v->len = o->adv_len;
		v->rsp = o->rsp;
		v->rsp_len = o->rsp_len;
		return true;
	}
	s = &o->sets[idx];
	if (!s->used || !s->enabled || !(s->props & 0x10) || (s->props & 0x04))
		return false;
	v->type = (s->props & 0x01) ? 0x00 : (s->props & 0x02) ? 0x02 : 0x03;
	adv_addr(o, s->own, &s->rand, v);
	v->data = s->data;
	v->len = s->data_len;
	v->rsp = s->rsp;
	v->rsp_len = s->rsp_len;
	return true;
}

static uint8_t *seen_ctrl(struct sim_ctrl *c, const struct bdaddr *a)
{
	size_t i;

	for (i = 0; i < c->nseen_ctrl; i++)
		if (bdaddr_eq(&c->seen_ctrl[i], a))
			return &c->seen_ctrl_f[i];
	if (c->nseen_ctrl >= SIM_MAX_CONNS)
		return NULL;	/* table full: report, do not filter */
	c->seen_ctrl[c->nseen_ctrl] = *a;
	c->seen_ctrl_f[c->nseen_ctrl] = 0;
	return &c->seen_ctrl_f[c->nseen_ctrl++];
}

static void scan_ctrls(struct sim_ctrl *c)
{
	struct sim_ctrl *o;
	struct ctrl_adv v;
	int idx;

	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o)) {
		if (o == c)
			continue;
		for (idx = -1; idx < SIM_ADV_SETS; idx++) {
			uint8_t *seen, none = 0;

			if (!ctrl_adv_of(o, idx, &v))
				continue;
			if ((c->scan_filter & 0x01) && !ctrl_al_has(c, v.atype, &v.addr))
				continue;
			seen = seen_ctrl(c, &v.addr);
			if (!seen)
				seen = &none;
			if (!(c->scan_dup && (*seen & 1))) {
				adv_report(c, v.atype, &v.addr, v.type == 0x00, v.type,
					   v.data, v.len, ctrl_jitter(c, -40));
				*seen |= 1;
			}
			if (c->scan_type == 0x01 && v.type != 0x03 &&
			    !(c->scan_dup && (*seen & 2))) {
				adv_report(c, v.atype, &v.addr, v.type == 0x00, 0x04,
					   v.rsp, v.rsp_len, ctrl_jitter(c, -40));
				*seen |= 2;
			}
		}
	}
}

static void job_scan_tick(struct sim_ctrl *c, struct sim_job *j)
{
	size_t i, n = sim_air_rd_count(c->air);
	struct sim_job *nj;

	(void)j;
	if (!c->scanning)
		return;
	for (i = 0; i < n && i < SIM_MAX_RDS; i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);
		uint8_t type;
		int8_t rssi;

		/* A device connected to us stops advertising, as a
		 * single-connection peripheral does. */
		if (!ctrl_rd_advertising(rd) || ctrl_conn_by_addr(c, &rd->cfg->addr, true, -1))
			continue;
		if ((c->scan_filter & 0x01) &&
		    !ctrl_al_has(c, rd->cfg->addr_type, &rd->cfg->addr))
			continue;
		type = rd->cfg->connectable ? 0x00 : 0x02;
		rssi = ctrl_jitter(c, rd->cfg->rssi);
		if (rd->cfg->adv_pdu != SIM_PDU_LEGACY) {
			/*
			 * Extended PDUs only: a legacy scan never sees them, an
			 * extended one only on the primary PHY it scans.
			 */
			if (!c->scan_ext ||
			    !((c->scan_phys ? c->scan_phys : 0x01) &
			      (rd->cfg->adv_pdu == SIM_PDU_CODED ? 0x04 : 0x01)))
				continue;
			if (!(c->scan_dup && (c->seen[i] & 1))) {
				ext_adv_chain(c, rd, rssi);
				c->seen[i] |= 1;
			}
			continue;
		}
		if (!(c->scan_dup && (c->seen[i] & 1))) {
			adv_report(c, rd->cfg->addr_type, &rd->cfg->addr,
				   rd->cfg->connectable, type, rd->adv, rd->adv_len, rssi);
			c->seen[i] |= 1;
		}
		/* Active scanning: a SCAN_REQ gets the scan response. */
		if (c->scan_type == 0x01 && !(c->scan_dup && (c->seen[i] & 2))) {
			adv_report(c, rd->cfg->addr_type, &rd->cfg->addr,
				   rd->cfg->connectable, 0x04, rd->rsp, rd->rsp_len, rssi);
			c->seen[i] |= 2;
		}
	}
	scan_ctrls(c);
	nj = ctrl_job_new(c, job_scan_tick, T_SCAN_TICK, 0xffff);
	(void)nj;
}

static void scan_start(struct sim_ctrl *c, bool dup, uint16_t duration)
{
	struct sim_job *j;

	ctrl_jobs_cancel(c, job_scan_tick, 0xffff);
	ctrl_jobs_cancel(c, job_scan_timeout, 0xffff);
	c->scanning = true;
	c->scan_dup = dup;
	memset(c->seen, 0, sizeof(c->seen));
	c->nseen_ctrl = 0;
	j = ctrl_job_new(c, job_scan_tick, T_SCAN_TICK / 4, 0xffff);
	(void)j;
	if (duration)
		ctrl_job_new(c, job_scan_timeout, (uint64_t)duration * 10000, 0xffff);
}

static void scan_stop(struct sim_ctrl *c)
{
	c->scanning = false;
	ctrl_jobs_cancel(c, job_scan_tick, 0xffff);
	ctrl_jobs_cancel(c, job_scan_timeout, 0xffff);
}

static void job_scan_timeout(struct sim_ctrl *c, struct sim_job *j)
{
	(void)j;
	scan_stop(c);
	ctrl_le_evt(c, HCI_LE_EV_SCAN_TIMEOUT, NULL, 0);
}

static void c_le_set_random_addr(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;

	/* Not while legacy advertising or scanning (Vol 4 Part E 7.8.4). */
	if (c->adv_enabled || c->scanning) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	cur_init(&r, x->p, x->plen);
	cur_copy(&r, c->random_addr.b, 6);
	c->random_set = true;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_adv_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	uint16_t mn, mx;
	uint8_t type, own, peer_type, map, filter;

	/* LE Set Advertising Parameters (7.8.5). */
	cur_init(&r, x->p, x->plen);
	mn = cur_le16(&r);
	mx = cur_le16(&r);
	type = cur_u8(&r);
	own = cur_u8(&r);
	peer_type = cur_u8(&r);
	cur_skip(&r, 6);	/* Peer_Address: directed advertising only */
	map = cur_u8(&r);
	filter = cur_u8(&r);
	if (c->adv_enabled) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (type > 4 || own > 3 || peer_type > 1 || (map & ~0x07) || !map ||
	    filter > 3 ||
	    (type != 0x01 && (mn < 0x0020 || mx > 0x4000 || mn > mx))) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->adv_type = type;
	c->adv_own = own;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_adv_tx_power(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2] = { 0, 0 };	/* Status, TX_Power_Level 0 dBm */

	ctrl_reply_cc(c, x->op, b, sizeof(b));
}

static void c_le_adv_data(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	bool rsp = x->op == HCI_OP_LE_SET_SCAN_RSP_DATA;
	struct cur r;
	uint8_t n;

	/* Length, then 31 octets of which the first Length count (7.8.7). */
	cur_init(&r, x->p, x->plen);
	n = cur_u8(&r);
	if (n > SIM_ADV_MAX) {
		ctrl_bad_params(c, x, false);
		return;
	}
	cur_copy(&r, rsp ? c->rsp : c->adv, n);
	*(rsp ? &c->rsp_len : &c->adv_len) = n;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_adv_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	uint8_t on;

	cur_init(&r, x->p, x->plen);
	on = cur_u8(&r);
	if (on > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->adv_enabled = on;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_scan_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	uint16_t iv, win;
	uint8_t type, own, filter;

	/* LE Set Scan Parameters (7.8.10). */
	cur_init(&r, x->p, x->plen);
	type = cur_u8(&r);
	iv = cur_le16(&r);
	win = cur_le16(&r);
	own = cur_u8(&r);
	filter = cur_u8(&r);
	if (c->scanning) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	/* Ranges of 7.8.10. */
	if (type > 1 || iv < 4 || iv > 0x4000 || win < 4 || win > iv ||
	    own > 3 || filter > 3) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->scan_type = type;
	c->scan_int = iv;
	c->scan_win = win;
	c->scan_own = own;
	c->scan_filter = filter;
	ctrl_reply_status(c, x->op, 0);
}

bool ctrl_own_addr_ok(const struct sim_ctrl *c, uint8_t own)
{
	/* A random own address must have been set (7.8.5, 7.8.10). */
	return own <= 3 && (!(own & 0x01) || c->random_set);
}

static void c_le_scan_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	uint8_t on, dup;

	cur_init(&r, x->p, x->plen);
	on = cur_u8(&r);
	dup = cur_u8(&r);
	if (on > 1 || dup > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (on && !c->scanning && !ctrl_own_addr_ok(c, c->scan_own)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	ctrl_reply_status(c, x->op, 0);
	c->scan_ext = false;
	if (on)
		scan_start(c, dup, 0);
	else
		scan_stop(c);
}

static void c_le_ext_scan_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	uint8_t own, filter, phys, type[2] = { 0 };
	uint16_t iv[2] = { 0 }, win[2] = { 0 };
	unsigned i, n;

	/* LE Set Extended Scan Parameters (7.8.64): 3 octets, then 5 per
	 * scanning PHY (LE 1M first, then LE Coded). */
	cur_init(&r, x->p, x->plen);
	own = cur_u8(&r);
	filter = cur_u8(&r);
	phys = cur_u8(&r);
	if (!cur_is_ok(&r)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (c->scanning) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (phys & ~0x05) {
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	n = (unsigned)__builtin_popcount(phys);
	if (!phys || cur_left(&r) != 5 * n || own > 3 || filter > 3) {
		ctrl_bad_params(c, x, false);
		return;
	}
	for (i = 0; i < n; i++) {
		type[i] = cur_u8(&r);
		iv[i] = cur_le16(&r);
		win[i] = cur_le16(&r);
		if (type[i] > 1 || iv[i] < 4 || win[i] < 4 || win[i] > iv[i]) {
			ctrl_bad_params(c, x, false);
			return;
		}
	}
	/* Active if any PHY scans actively (a scan request on either). */
	c->scan_type = type[0] | (n > 1 ? type[1] : 0);
	c->scan_int = iv[0];
	c->scan_win = win[0];
	c->scan_own = own;
	c->scan_filter = filter;
	c->scan_phys = phys;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_ext_scan_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	uint16_t duration, period;
	uint8_t on, dup;

	/* LE Set Extended Scan Enable (7.8.65). */
	cur_init(&r, x->p, x->plen);
	on = cur_u8(&r);
	dup = cur_u8(&r);
	duration = cur_le16(&r);
	period = cur_le16(&r);
	if (on > 1 || dup > 2) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (on && period) {
		/* Periodic scanning (period != 0) is not simulated. */
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (on && !c->scanning && !ctrl_own_addr_ok(c, c->scan_own)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	ctrl_reply_status(c, x->op, 0);
	c->scan_ext = true;
	if (on)
		scan_start(c, dup != 0, duration);
	else
		scan_stop(c);
}

static bool al_busy(const struct sim_ctrl *c)
{
	/* The list may not change while in use (Vol 4 Part E 7.8.16). */
	return (c->scanning && (c->scan_filter & 0x01)) ||
	       (c->le_connecting && c->le_conn_filter);
}

static void c_le_al_size(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2] = { 0, SIM_ACCEPT_LIST };	/* Status, List_Size */

	ctrl_reply_cc(c, x->op, b, sizeof(b));
}

/* The accept-list entry for (type, addr), or -1. */
static int al_find(const struct sim_ctrl *c, uint8_t type, const struct bdaddr *a)
{
	size_t i;

	for (i = 0; i < c->nal; i++)
		if (c->al[i].type == type && bdaddr_eq(&c->al[i].addr, a))
			return (int)i;
	return -1;
}

static void c_le_al_clear(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	if (al_busy(c)) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	c->nal = 0;
	ctrl_reply_status(c, x->op, 0);
}

/*
 * The entry of LE Add Device To / Remove Device From Accept List (7.8.16,
 * 7.8.17): 0 or -EINVAL, answered, if the list may not change or the type
 * is not public, random or anonymous (0xff).
 */
static int al_entry(struct sim_ctrl *c, const struct ctrl_cmd *x,
		    uint8_t *type, struct bdaddr *a)
{
	struct cur r;

	cur_init(&r, x->p, x->plen);
	*type = cur_u8(&r);
	cur_copy(&r, a->b, 6);
	if (al_busy(c)) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return -EINVAL;
	}
	if (*type > 1 && *type != 0xff) {
		ctrl_bad_params(c, x, false);
		return -EINVAL;
	}
	return 0;
}

static void c_le_al_add(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	uint8_t type;

	if (al_entry(c, x, &type, &a) < 0)
		return;
	if (al_find(c, type, &a) >= 0) {
		ctrl_reply_status(c, x->op, 0);
		return;
	}
	if (c->nal >= SIM_ACCEPT_LIST) {
		ctrl_reply_status(c, x->op, HCI_ST_MEMORY_EXCEEDED);
		return;
	}
	c->al[c->nal].type = type;
	c->al[c->nal].addr = a;
	c->nal++;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_al_del(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	uint8_t type;
	int i;

	if (al_entry(c, x, &type, &a) < 0)
		return;
	i = al_find(c, type, &a);
	if (i >= 0)
		c->al[i] = c->al[--c->nal];
	ctrl_reply_status(c, x->op, 0);
}

/* Extended advertising (7.8.53 ff.): sets are kept, nobody scans us. */
static struct ctrl_adv_set *adv_set(struct sim_ctrl *c, uint8_t h)
{
	return h < SIM_ADV_SETS ? &c->sets[h] : NULL;
}

static void c_le_set_rand_addr(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct ctrl_adv_set *s;
	struct cur r;

	cur_init(&r, x->p, x->plen);
	s = adv_set(c, cur_u8(&r));
	if (!s || !s->used) {
		ctrl_reply_status(c, x->op, s ? HCI_ST_UNKNOWN_ADV_ID : HCI_ST_INVALID_PARAMETERS);
		return;
	}
	cur_copy(&r, s->rand.b, 6);
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_ext_adv_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct ctrl_adv_set *s;
	struct cur r;
	uint8_t b[2] = { 0, 0 };	/* Status, Selected_TX_Power 0 dBm */
	uint16_t props;
	uint8_t map, own, filter, phy;

	/* LE Set Extended Advertising Parameters (7.8.53). */
	cur_init(&r, x->p, x->plen);
	s = adv_set(c, cur_u8(&r));
	props = cur_le16(&r);
	cur_skip(&r, 6);	/* Primary_Advertising_Interval_Min/Max */
	map = cur_u8(&r);
	own = cur_u8(&r);
	cur_skip(&r, 7);	/* Peer_Address_Type, Peer_Address */
	filter = cur_u8(&r);
	cur_skip(&r, 1);	/* Advertising_TX_Power */
	phy = cur_u8(&r);	/* then secondary PHY, SID, notification */
	if (!s || (map & ~0x07) || !map || own > 3 || filter > 3 ||
	    (phy != 1 && phy != 3)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (s->enabled) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	s->used = true;
	s->props = props;
	s->own = own;
	ctrl_reply_cc(c, x->op, b, sizeof(b));
}

static void c_le_ext_adv_data(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct ctrl_adv_set *s;
	bool rsp = x->op == HCI_OP_LE_SET_EXT_SCAN_RSP_DATA;
	struct cur r;
	uint8_t h, op, n;

	/* LE Set Extended Advertising / Scan Response Data (7.8.54, 7.8.55):
	 * handle, operation, fragment preference, length, data. */
	cur_init(&r, x->p, x->plen);
	h = cur_u8(&r);
	op = cur_u8(&r);
	cur_skip(&r, 1);
	n = cur_u8(&r);
	if (!cur_is_ok(&r) || cur_left(&r) != n) {
		ctrl_bad_params(c, x, false);
		return;
	}
	s = adv_set(c, h);
	if (!s || !s->used) {
		ctrl_reply_status(c, x->op, s ? HCI_ST_UNKNOWN_ADV_ID : HCI_ST_INVALID_PARAMETERS);
		return;
	}
	/* Only complete data (operation 0x03) of at most 31 bytes, the
	 * maximum we report in 7.8.57. */
	if (op != 0x03 || n > SIM_ADV_MAX) {
		ctrl_bad_params(c, x, false);
		return;
	}
	cur_copy(&r, rsp ? s->rsp : s->data, n);
	*(rsp ? &s->rsp_len : &s->data_len) = n;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_ext_adv_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r, sets;
	uint8_t on, n, i;

	/* LE Set Extended Advertising Enable (7.8.56): enable, count, then
	 * 4 octets per set (handle, duration, max events). */
	cur_init(&r, x->p, x->plen);
	on = cur_u8(&r);
	n = cur_u8(&r);
	if (!cur_is_ok(&r) || on > 1 || cur_left(&r) != 4u * n || (on && !n)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	/* Every set must exist before any changes: check, then apply. */
	sets = r;
	for (i = 0; i < n; i++) {
		struct ctrl_adv_set *s = adv_set(c, cur_u8(&r));

		cur_skip(&r, 3);
		if (!s || !s->used) {
			ctrl_reply_status(c, x->op, HCI_ST_UNKNOWN_ADV_ID);
			return;
		}
	}
	if (!on && !n)
		for (i = 0; i < SIM_ADV_SETS; i++)
			c->sets[i].enabled = false;
	for (i = 0; i < n; i++) {
		adv_set(c, cur_u8(&sets))->enabled = on;
		cur_skip(&sets, 3);
	}
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_max_adv_len(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[3] = { 0, SIM_ADV_MAX, 0 };

	ctrl_reply_cc(c, x->op, b, 3);
}

static void c_le_num_adv_sets(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2] = { 0, SIM_ADV_SETS };

	ctrl_reply_cc(c, x->op, b, 2);
}

static void c_le_remove_adv_set(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	struct ctrl_adv_set *s = adv_set(c, cur_u8(&r));

	if (!s || !s->used) {
		ctrl_reply_status(c, x->op, HCI_ST_UNKNOWN_ADV_ID);
		return;
	}
	if (s->enabled) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	memset(s, 0, sizeof(*s));
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_clear_adv_sets(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	size_t i;

	for (i = 0; i < SIM_ADV_SETS; i++) {
		if (c->sets[i].enabled) {
			ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
			return;
		}
	}
	memset(c->sets, 0, sizeof(c->sets));
	ctrl_reply_status(c, x->op, 0);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_LE_SET_RANDOM_ADDR, 25, 4, 6, CC, c_le_set_random_addr },
	{ HCI_OP_LE_SET_ADV_PARAM, 25, 5, 15, CC, c_le_adv_params },
	{ HCI_OP_LE_READ_ADV_TX_POWER, 25, 6, 0, CC, c_le_adv_tx_power },
	{ HCI_OP_LE_SET_ADV_DATA, 25, 7, 32, CC, c_le_adv_data },
	{ HCI_OP_LE_SET_SCAN_RSP_DATA, 26, 0, 32, CC, c_le_adv_data },
	{ HCI_OP_LE_SET_ADV_ENABLE, 26, 1, 1, CC, c_le_adv_enable },
	{ HCI_OP_LE_SET_SCAN_PARAM, 26, 2, 7, CC, c_le_scan_params },
	{ HCI_OP_LE_SET_SCAN_ENABLE, 26, 3, 2, CC, c_le_scan_enable },
	{ HCI_OP_LE_READ_ACCEPT_LIST_SIZE, 26, 6, 0, CC, c_le_al_size },
	{ HCI_OP_LE_CLEAR_ACCEPT_LIST, 26, 7, 0, CC, c_le_al_clear },
	{ HCI_OP_LE_ADD_TO_ACCEPT_LIST, 27, 0, 7, CC, c_le_al_add },
	{ HCI_OP_LE_DEL_FROM_ACCEPT_LIST, 27, 1, 7, CC, c_le_al_del },
	{ HCI_OP_LE_SET_ADV_SET_RAND_ADDR, 36, 1, 7, CC, c_le_set_rand_addr },
	{ HCI_OP_LE_SET_EXT_ADV_PARAMS, 36, 2, 25, CC, c_le_ext_adv_params },
	{ HCI_OP_LE_SET_EXT_ADV_DATA, 36, 3, -1, CC, c_le_ext_adv_data },
	{ HCI_OP_LE_SET_EXT_SCAN_RSP_DATA, 36, 4, -1, CC, c_le_ext_adv_data },
	{ HCI_OP_LE_SET_EXT_ADV_ENABLE, 36, 5, -1, CC, c_le_ext_adv_enable },
	{ HCI_OP_LE_READ_MAX_ADV_DATA_LEN, 36, 6, 0, CC, c_le_max_adv_len },
	{ HCI_OP_LE_READ_NUM_ADV_SETS, 36, 7, 0, CC, c_le_num_adv_sets },
	{ HCI_OP_LE_REMOVE_ADV_SET, 37, 0, 1, CC, c_le_remove_adv_set },
	{ HCI_OP_LE_CLEAR_ADV_SETS, 37, 1, 0, CC, c_le_clear_adv_sets },
	{ HCI_OP_LE_SET_EXT_SCAN_PARAMS, 37, 5, -1, CC, c_le_ext_scan_params },
	{ HCI_OP_LE_SET_EXT_SCAN_ENABLE, 37, 6, 6, CC, c_le_ext_scan_enable },
};

CTRL_CMD_TABLE(ctrl_cmds_le_adv, cmds);
