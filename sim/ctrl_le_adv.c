/* SPDX-License-Identifier: MIT */
/*
 * LE advertising, scanning and the accept list of the simulated controller
 * (Vol 4 Part E 7.8): legacy and extended advertising sets, the reports
 * a scanner gets from RDs and from other controllers of the air.
 */
#include "config.h"

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
	/* Not while legacy advertising or scanning (Vol 4 Part E 7.8.4). */
	if (c->adv_enabled || c->scanning) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	memcpy(c->random_addr.b, x->p, 6);
	c->random_set = true;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_adv_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint16_t mn = get_le16(x->p), mx = get_le16(x->p + 2);
	uint8_t type = x->p[4];

	if (c->adv_enabled) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (type > 4 || x->p[5] > 3 || x->p[6] > 1 || (x->p[13] & ~0x07) ||
	    !x->p[13] || x->p[14] > 3 ||
	    (type != 0x01 && (mn < 0x0020 || mx > 0x4000 || mn > mx))) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->adv_type = type;
	c->adv_own = x->p[5];
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_adv_tx_power(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2] = { 0, 0 };

	ctrl_reply_cc(c, x->op, b, 2);
}

static void c_le_adv_data(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	bool rsp = x->op == HCI_OP_LE_SET_SCAN_RSP_DATA;

	if (x->p[0] > SIM_ADV_MAX) {
		ctrl_bad_params(c, x, false);
		return;
	}
	memcpy(rsp ? c->rsp : c->adv, x->p + 1, x->p[0]);
	*(rsp ? &c->rsp_len : &c->adv_len) = x->p[0];
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_adv_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	if (x->p[0] > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->adv_enabled = x->p[0];
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_scan_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint16_t iv = get_le16(x->p + 1), win = get_le16(x->p + 3);

	if (c->scanning) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	/* Ranges of 7.8.10. */
	if (x->p[0] > 1 || iv < 4 || iv > 0x4000 || win < 4 || win > iv ||
	    x->p[5] > 3 || x->p[6] > 3) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->scan_type = x->p[0];
	c->scan_int = iv;
	c->scan_win = win;
	c->scan_own = x->p[5];
	c->scan_filter = x->p[6];
	ctrl_reply_status(c, x->op, 0);
}

bool ctrl_own_addr_ok(const struct sim_ctrl *c, uint8_t own)
{
	/* A random own address must have been set (7.8.5, 7.8.10). */
	return own <= 3 && (!(own & 0x01) || c->random_set);
}

static void c_le_scan_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	if (x->p[0] > 1 || x->p[1] > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (x->p[0] && !c->scanning && !ctrl_own_addr_ok(c, c->scan_own)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	ctrl_reply_status(c, x->op, 0);
	c->scan_ext = false;
	if (x->p[0])
		scan_start(c, x->p[1], 0);
	else
		scan_stop(c);
}

static void c_le_ext_scan_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t phys, i;

	if (x->plen < 3) {
		ctrl_bad_params(c, x, false);
		return;
	}
	phys = x->p[2];
	if (c->scanning) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (phys & ~0x05) {
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (phys & 0x04) {
		/* LE Coded is not in our LE features (7.8.64). */
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (!phys || x->plen != 3 + 5 || x->p[0] > 3 || x->p[1] > 3) {
		ctrl_bad_params(c, x, false);
		return;
	}
	for (i = 0; i < 1; i++) {
		const uint8_t *q = x->p + 3 + 5 * i;
		uint16_t iv = get_le16(q + 1), win = get_le16(q + 3);

		if (q[0] > 1 || iv < 4 || win < 4 || win > iv) {
			ctrl_bad_params(c, x, false);
			return;
		}
		c->scan_type = q[0];
		c->scan_int = iv;
		c->scan_win = win;
	}
	c->scan_own = x->p[0];
	c->scan_filter = x->p[1];
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_ext_scan_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint16_t duration = get_le16(x->p + 2), period = get_le16(x->p + 4);

	if (x->p[0] > 1 || x->p[1] > 2) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (x->p[0] && period) {
		/* Periodic scanning (period != 0) is not simulated. */
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (x->p[0] && !c->scanning && !ctrl_own_addr_ok(c, c->scan_own)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	ctrl_reply_status(c, x->op, 0);
	c->scan_ext = true;
	if (x->p[0])
		scan_start(c, x->p[1] != 0, duration);
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
	uint8_t b[2] = { 0, SIM_ACCEPT_LIST };

	ctrl_reply_cc(c, x->op, b, 2);
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

static void c_le_al_add(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;

	if (al_busy(c)) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (x->p[0] > 1 && x->p[0] != 0xff) {
		ctrl_bad_params(c, x, false);
		return;
	}
	memcpy(a.b, x->p + 1, 6);
	if (al_find(c, x->p[0], &a) >= 0) {
		ctrl_reply_status(c, x->op, 0);
		return;
	}
	if (c->nal >= SIM_ACCEPT_LIST) {
		ctrl_reply_status(c, x->op, HCI_ST_MEMORY_EXCEEDED);
		return;
	}
	c->al[c->nal].type = x->p[0];
	c->al[c->nal].addr = a;
	c->nal++;
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_al_del(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	int i;

	if (al_busy(c)) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (x->p[0] > 1 && x->p[0] != 0xff) {
		ctrl_bad_params(c, x, false);
		return;
	}
	memcpy(a.b, x->p + 1, 6);
	i = al_find(c, x->p[0], &a);
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
	struct ctrl_adv_set *s = adv_set(c, x->p[0]);

	if (!s || !s->used) {
		ctrl_reply_status(c, x->op, s ? HCI_ST_UNKNOWN_ADV_ID : HCI_ST_INVALID_PARAMETERS);
		return;
	}
	memcpy(s->rand.b, x->p + 1, 6);
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_ext_adv_params(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct ctrl_adv_set *s = adv_set(c, x->p[0]);
	uint8_t b[2] = { 0, 0 };

	if (!s || (x->p[9] & ~0x07) || !x->p[9] || x->p[10] > 3 ||
	    x->p[18] > 3 || (x->p[20] != 1 && x->p[20] != 3)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (s->enabled) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	s->used = true;
	s->props = get_le16(x->p + 1);
	s->own = x->p[10];
	ctrl_reply_cc(c, x->op, b, 2);
}

static void c_le_ext_adv_data(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct ctrl_adv_set *s;
	bool rsp = x->op == HCI_OP_LE_SET_EXT_SCAN_RSP_DATA;

	if (x->plen < 4 || x->plen != 4 + x->p[3]) {
		ctrl_bad_params(c, x, false);
		return;
	}
	s = adv_set(c, x->p[0]);
	if (!s || !s->used) {
		ctrl_reply_status(c, x->op, s ? HCI_ST_UNKNOWN_ADV_ID : HCI_ST_INVALID_PARAMETERS);
		return;
	}
	/* Only complete data (operation 0x03) of at most 31 bytes, the
	 * maximum we report in 7.8.57. */
	if (x->p[1] != 0x03 || x->p[3] > SIM_ADV_MAX) {
		ctrl_bad_params(c, x, false);
		return;
	}
	memcpy(rsp ? s->rsp : s->data, x->p + 4, x->p[3]);
	*(rsp ? &s->rsp_len : &s->data_len) = x->p[3];
	ctrl_reply_status(c, x->op, 0);
}

static void c_le_ext_adv_enable(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t n, i;

	if (x->plen < 2 || x->p[0] > 1 || x->plen != 2 + 4 * x->p[1] ||
	    (x->p[0] && !x->p[1])) {
		ctrl_bad_params(c, x, false);
		return;
	}
	n = x->p[1];
	for (i = 0; i < n; i++) {
		struct ctrl_adv_set *s = adv_set(c, x->p[2 + 4 * i]);

		if (!s || !s->used) {
			ctrl_reply_status(c, x->op, HCI_ST_UNKNOWN_ADV_ID);
			return;
		}
	}
	if (!x->p[0] && !n)
		for (i = 0; i < SIM_ADV_SETS; i++)
			c->sets[i].enabled = false;
	for (i = 0; i < n; i++)
		adv_set(c, x->p[2 + 4 * i])->enabled = x->p[0];
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
	struct ctrl_adv_set *s = adv_set(c, x->p[0]);

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
