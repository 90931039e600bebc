/* SPDX-License-Identifier: MIT */
/*
 * BR/EDR baseband settings (Vol 4 Part E 7.3), inquiry and remote name
 * request (7.1) of the simulated controller.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static void job_inq_result(struct sim_ctrl *c, struct sim_job *j);
static void job_inq_done(struct sim_ctrl *c, struct sim_job *j);

static void send_inq_result(struct sim_ctrl *c, const struct bdaddr *a,
			    uint32_t cod, int8_t rssi, const uint8_t *eir,
			    size_t eir_len)
{
	uint8_t b[HCI_EV_EXT_INQUIRY_RESULT_LEN];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 1);
	wbuf_bytes(&w, a->b, 6);
	wbuf_u8(&w, 0x01);		/* Page_Scan_Repetition_Mode R1 */
	if (c->inq_mode == 0)
		wbuf_le16(&w, 0);	/* reserved (2 octets in 7.7.2) */
	else
		wbuf_u8(&w, 0);
	wbuf_le24(&w, cod);
	wbuf_le16(&w, 0x0000);		/* Clock_Offset */
	if (c->inq_mode == 0) {
		ctrl_evt(c, HCI_EV_INQUIRY_RESULT, b, w.len);
		return;
	}
	wbuf_u8(&w, (uint8_t)rssi);
	if (c->inq_mode == 2 && eir_len) {
		wbuf_bytes(&w, eir, eir_len);
		wbuf_zero(&w, SIM_EIR_MAX - eir_len);
		ctrl_evt(c, HCI_EV_EXT_INQUIRY_RESULT, b, w.len);
	} else {
		ctrl_evt(c, HCI_EV_INQUIRY_RESULT_RSSI, b, w.len);
	}
}

static void inquiry_done(struct sim_ctrl *c)
{
	uint8_t st[HCI_EV_INQUIRY_COMPLETE_LEN] = { 0 };

	c->inquiry = false;
	ctrl_jobs_cancel(c, job_inq_result, 0xffff);
	ctrl_jobs_cancel(c, job_inq_done, 0xffff);
	ctrl_evt(c, HCI_EV_INQUIRY_COMPLETE, st, sizeof(st));
}

static void job_inq_done(struct sim_ctrl *c, struct sim_job *j)
{
	(void)j;
	if (c->inquiry)
		inquiry_done(c);
}

static void job_inq_result(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd;
	struct sim_ctrl *o;

	if (!c->inquiry)
		return;
	if (j->idx < sim_air_rd_count(c->air)) {
		rd = sim_air_rd(c->air, j->idx);
		send_inq_result(c, &rd->cfg->addr, rd->cfg->cod,
				ctrl_jitter(c, rd->cfg->rssi), rd->eir, rd->eir_len);
	} else {
		/* Another controller of the air in inquiry scan (like btvirt). */
		o = NULL;
		for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o))
			if (bdaddr_eq(&o->addr, &j->addr))
				break;
		if (!o || !ctrl_is_inquiry_scan(o))
			return;
		send_inq_result(c, &o->addr, o->cod, ctrl_jitter(c, -40),
				o->eir, o->eir[0] ? SIM_EIR_MAX : 0);
	}
	c->inq_count++;
	/* Num_Responses reached: the inquiry halts (7.1.1). */
	if (c->inq_max && c->inq_count >= c->inq_max)
		inquiry_done(c);
}

static void name_complete(struct sim_ctrl *c, uint8_t status,
			  const struct bdaddr *a, const char *name)
{
	uint8_t b[HCI_EV_REMOTE_NAME_LEN];
	size_t n = name ? strnlen(name, SIM_NAME_MAX) : 0;
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, status);
	wbuf_bytes(&w, a->b, 6);
	wbuf_bytes(&w, name, n);	/* NUL-padded to 248 octets */
	wbuf_zero(&w, SIM_NAME_MAX - n);
	ctrl_evt(c, HCI_EV_REMOTE_NAME, b, w.len);
}

static void job_name(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd = sim_air_find_rd(c->air, &j->addr);
	struct sim_ctrl *o;
	uint8_t b[HCI_EV_REMOTE_HOST_FEATURES_LEN], f[8];
	struct wbuf w;

	if (rd && ctrl_rd_pageable(rd)) {
		/* Remote host features arrive before the name (7.7.50). */
		ctrl_rd_features(rd, 1, f);
		wbuf_init(&w, b, sizeof(b));
		wbuf_bytes(&w, j->addr.b, 6);
		wbuf_bytes(&w, f, 8);
		ctrl_evt(c, HCI_EV_REMOTE_HOST_FEATURES, b, w.len);
		name_complete(c, 0, &j->addr, rd->cfg->name);
		return;
	}
	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o)) {
		if (o != c && bdaddr_eq(&o->addr, &j->addr) && (o->scan_enable & 0x02)) {
			name_complete(c, 0, &j->addr, o->name);
			return;
		}
	}
	name_complete(c, HCI_ST_PAGE_TIMEOUT, &j->addr, NULL);
}

/* Read/write pairs of a 16-bit setting with a valid range. */
static uint16_t *u16_setting(struct sim_ctrl *c, uint16_t op, uint16_t *lo,
			     uint16_t *hi)
{
	*lo = 0;
	*hi = 0xffff;
	switch (op) {
	case HCI_OP_READ_CONN_ACCEPT_TIMEOUT:
	case HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT:
		*lo = 0x0001;
		*hi = 0xb540;
		return &c->accept_timeout;
	case HCI_OP_READ_PAGE_TIMEOUT:
	case HCI_OP_WRITE_PAGE_TIMEOUT:
		*lo = 0x0001;
		return &c->page_timeout;
	case HCI_OP_READ_VOICE_SETTING:
	case HCI_OP_WRITE_VOICE_SETTING:
		*hi = 0x03ff;
		return &c->voice;
	case HCI_OP_READ_DEF_LINK_POLICY:
	case HCI_OP_WRITE_DEF_LINK_POLICY:
		/* Only policies for features we have: none (7.2.12). */
		*hi = 0x0000;
		return &c->def_policy;
	default:
		return NULL;
	}
}

static void c_read_u16(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint16_t lo, hi, *v = u16_setting(c, x->op, &lo, &hi);
	uint8_t b[3];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, *v);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_write_u16(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint16_t lo, hi, *v = u16_setting(c, x->op, &lo, &hi);
	struct cur r = ctrl_params(x);
	uint16_t n = cur_le16(&r);

	if (x->op == HCI_OP_WRITE_DEF_LINK_POLICY && n) {
		/* Role switch, hold, sniff and park are not among our LMP
		 * features, so no policy may enable them (7.2.12). */
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (x->op != HCI_OP_WRITE_DEF_LINK_POLICY && (n < lo || n > hi)) {
		ctrl_bad_params(c, x, false);
		return;
	}
	*v = n;
	ctrl_reply_status(c, x->op, 0);
}

/* Read/write pairs of an 8-bit setting. */
static uint8_t *u8_setting(struct sim_ctrl *c, uint16_t op, uint8_t *hi)
{
	switch (op) {
	case HCI_OP_READ_SCAN_ENABLE:
	case HCI_OP_WRITE_SCAN_ENABLE:
		*hi = 3;
		return &c->scan_enable;
	case HCI_OP_READ_AUTH_ENABLE:
	case HCI_OP_WRITE_AUTH_ENABLE:
		*hi = 1;
		return &c->auth_enable;
	case HCI_OP_READ_INQUIRY_MODE:
	case HCI_OP_WRITE_INQUIRY_MODE:
		*hi = 2;
		return &c->inq_mode;
	case HCI_OP_READ_PAGE_SCAN_TYPE:
	case HCI_OP_WRITE_PAGE_SCAN_TYPE:
		*hi = 1;
		return &c->ps_type;
	case HCI_OP_READ_INQUIRY_SCAN_TYPE:
	case HCI_OP_WRITE_INQUIRY_SCAN_TYPE:
		*hi = 1;
		return &c->is_type;
	case HCI_OP_READ_SIMPLE_PAIRING_MODE:
	case HCI_OP_WRITE_SIMPLE_PAIRING_MODE:
		*hi = 1;
		return &c->ssp_mode;
	default:
		return NULL;
	}
}

static void c_read_u8(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t hi = 0, *v = u8_setting(c, x->op, &hi);
	uint8_t b[2] = { 0, *v };

	ctrl_reply_cc(c, x->op, b, 2);
}

static void c_write_u8(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t hi = 0, *v = u8_setting(c, x->op, &hi);
	struct cur r = ctrl_params(x);
	uint8_t n = cur_u8(&r);

	if (n > hi) {
		ctrl_bad_params(c, x, false);
		return;
	}
	*v = n;
	ctrl_reply_status(c, x->op, 0);
	if (x->op == HCI_OP_WRITE_SCAN_ENABLE && (c->scan_enable & 0x02))
		ctrl_connect_in_arm(c);
}

static void c_read_activity(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	bool page = x->op == HCI_OP_READ_PAGE_SCAN_ACTIVITY;
	uint8_t b[5];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, page ? c->ps_int : c->is_int);
	wbuf_le16(&w, page ? c->ps_win : c->is_win);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_write_activity(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint16_t iv = cur_le16(&r), win = cur_le16(&r);

	/* Ranges of 7.3.20 / 7.3.22. */
	if (iv < 0x0012 || iv > 0x1000 || win < 0x0011 || win > iv) {
		ctrl_bad_params(c, x, false);
		return;
	}
	if (x->op == HCI_OP_WRITE_PAGE_SCAN_ACTIVITY) {
		c->ps_int = iv;
		c->ps_win = win;
	} else {
		c->is_int = iv;
		c->is_win = win;
	}
	ctrl_reply_status(c, x->op, 0);
}

static void c_read_cod(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[4];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le24(&w, c->cod);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_write_cod(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);

	c->cod = cur_le24(&r);
	ctrl_reply_status(c, x->op, 0);
}

static void c_read_num_iac(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2] = { 0, 2 };

	ctrl_reply_cc(c, x->op, b, 2);
}

static void c_read_iac_lap(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[5];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_u8(&w, 1);			/* Num_Current_IAC */
	wbuf_le24(&w, c->iac_lap);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static bool lap_ok(uint32_t lap)
{
	return lap >= 0x9e8b00 && lap <= 0x9e8b3f;	/* 7.3.45 */
}

static void c_write_iac_lap(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint32_t lap, first = 0;
	uint8_t n, i;

	/* Num_Current_IAC (1 or 2, our Num_Supported_IAC), 3 octets each. */
	n = cur_u8(&r);
	if (!cur_is_ok(&r) || n < 1 || n > 2 || cur_left(&r) != 3u * n) {
		ctrl_bad_params(c, x, false);
		return;
	}
	for (i = 0; i < n; i++) {
		lap = cur_le24(&r);
		if (!lap_ok(lap)) {
			ctrl_bad_params(c, x, false);
			return;
		}
		if (i == 0)
			first = lap;
	}
	c->iac_lap = first;
	ctrl_reply_status(c, x->op, 0);
}

static void c_write_eir(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint8_t fec = cur_u8(&r);

	if (fec > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->eir_fec = fec;
	cur_copy(&r, c->eir, SIM_EIR_MAX);
	ctrl_reply_status(c, x->op, 0);
}

static void c_read_eir(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2 + SIM_EIR_MAX];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_u8(&w, c->eir_fec);
	wbuf_bytes(&w, c->eir, SIM_EIR_MAX);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_read_inq_tx(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[2] = { 0, 0x00 };	/* 0 dBm */

	ctrl_reply_cc(c, x->op, b, 2);
}

static void c_inquiry(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint32_t lap = cur_le24(&r);
	uint8_t len = cur_u8(&r);
	uint8_t max = cur_u8(&r);
	size_t i, k = 0, n = sim_air_rd_count(c->air);
	uint64_t total;
	struct sim_ctrl *o;
	struct sim_job *j;

	if (c->inquiry) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (!lap_ok(lap) || len < 0x01 || len > 0x30) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	c->inquiry = true;
	c->inq_max = max;
	c->inq_count = 0;
	total = (uint64_t)len * INQ_UNIT;
	/* Responses spread over the inquiry; the limited inquiry access
	 * code (LIAC) reaches nobody here: no RD is limited discoverable. */
	for (i = 0; i < n && lap == 0x9e8b33; i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);
		uint64_t at = T_INQ_FIRST + k * T_INQ_STEP;

		if (!(rd->cfg->tech & SIM_TECH_BREDR) || !rd->cfg->discoverable)
			continue;
		if (at >= total)
			at = total - 1;
		j = ctrl_job_new(c, job_inq_result, at, 0xffff);
		if (j)
			j->idx = i;
		k++;
	}
	for (o = ctrl_next(c, NULL); o && lap == 0x9e8b33;
	     o = ctrl_next(c, o)) {
		uint64_t at = T_INQ_FIRST + k * T_INQ_STEP;

		if (o == c || !ctrl_is_inquiry_scan(o))
			continue;
		if (at >= total)
			at = total - 1;
		j = ctrl_job_new(c, job_inq_result, at, 0xffff);
		if (j) {
			j->idx = SIZE_MAX;
			j->addr = o->addr;
		}
		k++;
	}
	ctrl_job_new(c, job_inq_done, total, 0xffff);
}

static void c_inquiry_cancel(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	if (!c->inquiry) {
		ctrl_reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	/* No Inquiry Complete after a cancel (7.1.2). */
	c->inquiry = false;
	ctrl_jobs_cancel(c, job_inq_result, 0xffff);
	ctrl_jobs_cancel(c, job_inq_done, 0xffff);
	ctrl_reply_status(c, x->op, 0);
}

static void c_remote_name(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct sim_rd *rd;
	struct sim_job *j;
	bool reach;
	struct sim_ctrl *o;
	struct cur r = ctrl_params(x);

	cur_copy(&r, a.b, 6);	/* then paging details, unused */
	if (ctrl_job_find(c, job_name, &a)) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	rd = sim_air_find_rd(c->air, &a);
	reach = ctrl_rd_pageable(rd);
	for (o = ctrl_next(c, NULL); o && !reach; o = ctrl_next(c, o))
		reach = o != c && bdaddr_eq(&o->addr, &a) && (o->scan_enable & 0x02);
	/* A device that does not answer pages costs the page timeout. */
	j = ctrl_job_new(c, job_name, reach ? T_PAGE :
			 (uint64_t)c->page_timeout * SLOT_US, 0xffff);
	if (j)
		j->addr = a;
}

static void c_remote_name_cancel(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct sim_job *j;
	struct cur r = ctrl_params(x);

	cur_copy(&r, a.b, 6);
	j = ctrl_job_find(c, job_name, &a);
	if (!j) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, a.b);
		return;
	}
	ctrl_job_unlink(j);
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	name_complete(c, HCI_ST_UNKNOWN_CONN_ID, &a, NULL);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_INQUIRY, 0, 0, 5, CS, c_inquiry },
	{ HCI_OP_INQUIRY_CANCEL, 0, 1, 0, CC, c_inquiry_cancel },
	{ HCI_OP_REMOTE_NAME_REQ, 2, 3, 10, CS, c_remote_name },
	{ HCI_OP_REMOTE_NAME_REQ_CANCEL, 2, 4, 6, CC, c_remote_name_cancel },
	{ HCI_OP_READ_DEF_LINK_POLICY, 5, 3, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_DEF_LINK_POLICY, 5, 4, 2, CC, c_write_u16 },
	{ HCI_OP_READ_CONN_ACCEPT_TIMEOUT, 7, 2, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT, 7, 3, 2, CC, c_write_u16 },
	{ HCI_OP_READ_PAGE_TIMEOUT, 7, 4, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_PAGE_TIMEOUT, 7, 5, 2, CC, c_write_u16 },
	{ HCI_OP_READ_SCAN_ENABLE, 7, 6, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_SCAN_ENABLE, 7, 7, 1, CC, c_write_u8 },
	{ HCI_OP_READ_PAGE_SCAN_ACTIVITY, 8, 0, 0, CC, c_read_activity },
	{ HCI_OP_WRITE_PAGE_SCAN_ACTIVITY, 8, 1, 4, CC, c_write_activity },
	{ HCI_OP_READ_INQUIRY_SCAN_ACTIVITY, 8, 2, 0, CC, c_read_activity },
	{ HCI_OP_WRITE_INQUIRY_SCAN_ACTIVITY, 8, 3, 4, CC, c_write_activity },
	{ HCI_OP_READ_AUTH_ENABLE, 8, 4, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_AUTH_ENABLE, 8, 5, 1, CC, c_write_u8 },
	{ HCI_OP_READ_CLASS_OF_DEV, 9, 0, 0, CC, c_read_cod },
	{ HCI_OP_WRITE_CLASS_OF_DEV, 9, 1, 3, CC, c_write_cod },
	{ HCI_OP_READ_VOICE_SETTING, 9, 2, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_VOICE_SETTING, 9, 3, 2, CC, c_write_u16 },
	{ HCI_OP_READ_NUM_SUPPORTED_IAC, 11, 2, 0, CC, c_read_num_iac },
	{ HCI_OP_READ_CURRENT_IAC_LAP, 11, 3, 0, CC, c_read_iac_lap },
	{ HCI_OP_WRITE_CURRENT_IAC_LAP, 11, 4, -1, CC, c_write_iac_lap },
	{ HCI_OP_READ_INQUIRY_SCAN_TYPE, 12, 4, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_INQUIRY_SCAN_TYPE, 12, 5, 1, CC, c_write_u8 },
	{ HCI_OP_READ_INQUIRY_MODE, 12, 6, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_INQUIRY_MODE, 12, 7, 1, CC, c_write_u8 },
	{ HCI_OP_READ_PAGE_SCAN_TYPE, 13, 0, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_PAGE_SCAN_TYPE, 13, 1, 1, CC, c_write_u8 },
	{ HCI_OP_READ_EXT_INQUIRY_RESPONSE, 17, 0, 0, CC, c_read_eir },
	{ HCI_OP_WRITE_EXT_INQUIRY_RESPONSE, 17, 1, 241, CC, c_write_eir },
	{ HCI_OP_READ_SIMPLE_PAIRING_MODE, 17, 5, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_SIMPLE_PAIRING_MODE, 17, 6, 1, CC, c_write_u8 },
	{ HCI_OP_READ_INQ_RSP_TX_POWER, 18, 0, 0, CC, c_read_inq_tx },
};

CTRL_CMD_TABLE(ctrl_cmds_bredr, cmds);
