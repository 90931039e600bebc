/* SPDX-License-Identifier: MIT */
/*
 * Common commands of the simulated controller: information (Vol 4 Part E
 * 7.4), reset and event masks (7.3), LE controller information (7.8) and
 * the commands valid on a connection of either transport.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static void c_read_version(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[9];
	struct wbuf w;

	/* HCI/LMP 5.0 (0x09), manufacturer 0x05f1 (The Linux Foundation),
	 * identical on every read: the host captures it once (notes §1.1). */
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_u8(&w, 0x09);		/* HCI_Version */
	wbuf_le16(&w, 0x0100);		/* HCI_Subversion */
	wbuf_u8(&w, 0x09);		/* LMP_Version */
	wbuf_le16(&w, 0x05f1);		/* Company_Identifier */
	wbuf_le16(&w, 0x0000);		/* LMP_Subversion */
	ctrl_reply_cc(c, x->op, b, w.len);
}

/* Status, then 8 octets: a features page or the LE states. */
static void reply_features(struct sim_ctrl *c, uint16_t op, const uint8_t f[8])
{
	uint8_t b[9];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_bytes(&w, f, 8);
	ctrl_reply_cc(c, op, b, w.len);
}

static void c_read_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	reply_features(c, x->op, ctrl_local_features);
}

static void c_read_ext_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint8_t page = cur_u8(&r), f[8] = { 0 }, b[11];
	struct wbuf w;

	if (page == 0)
		memcpy(f, ctrl_local_features, 8);
	else if (page == 1)
		ctrl_host_features(c, f);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, page > 1 ? HCI_ST_INVALID_PARAMETERS : 0);
	wbuf_u8(&w, page);
	wbuf_u8(&w, 1);			/* Max_Page_Number */
	wbuf_bytes(&w, f, 8);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_read_buffer_size(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	const struct sim_opts *o = sim_air_opts(c->air);
	uint8_t b[8];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, o->acl_mtu);
	wbuf_u8(&w, 0);			/* no SCO */
	wbuf_le16(&w, o->acl_pkts);
	wbuf_le16(&w, 0);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_read_bd_addr(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	ctrl_cc_status_addr(c, x->op, 0, c->addr.b);
}

static void c_reset(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	ctrl_defaults(c);
	ctrl_reply_status(c, x->op, 0);
}

static void c_set_event_mask(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);

	cur_copy(&r, x->op == HCI_OP_SET_EVENT_MASK ? c->evmask :
		 x->op == HCI_OP_SET_EVENT_MASK_PAGE_2 ? c->evmask2 : c->le_evmask,
		 8);
	ctrl_reply_status(c, x->op, 0);
}

static void c_set_event_filter(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint8_t type = cur_u8(&r);

	/* Only Clear All Filters (type 0x00, 7.3.3) is simulated. */
	if (!cur_is_ok(&r))
		ctrl_bad_params(c, x, false);
	else if (type != 0x00)
		ctrl_reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
	else if (!cur_is_done(&r))
		ctrl_bad_params(c, x, false);
	else
		ctrl_reply_status(c, x->op, 0);
}

/* Read/Delete Stored Link Key (7.3.8, 7.3.10): BD_ADDR, then a flag. */
static void stored_link_key(struct sim_ctrl *c, const struct ctrl_cmd *x,
			    size_t rlen)
{
	struct cur r = ctrl_params(x);
	uint8_t b[5] = { 0 };	/* no key storage in the controller */

	cur_skip(&r, 6);
	if (cur_u8(&r) > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	ctrl_reply_cc(c, x->op, b, rlen);
}

static void c_read_stored_link_key(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	stored_link_key(c, x, 5);	/* Status, Max_Num_Keys, Num_Keys_Read */
}

static void c_delete_stored_link_key(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	stored_link_key(c, x, 3);	/* Status, Num_Keys_Deleted */
}

static void c_write_local_name(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);

	cur_copy(&r, c->name, SIM_NAME_MAX);
	ctrl_reply_status(c, x->op, 0);
}

static void c_read_local_name(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[1 + SIM_NAME_MAX];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_bytes(&w, c->name, SIM_NAME_MAX);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_write_le_host(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint8_t le = cur_u8(&r), simul = cur_u8(&r);

	if (le > 1 || simul > 1) {
		ctrl_bad_params(c, x, false);
		return;
	}
	c->le_host = le;
	c->simul = simul;
	ctrl_reply_status(c, x->op, 0);
}

static void c_read_le_host(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[3] = { 0, c->le_host, c->simul };

	ctrl_reply_cc(c, x->op, b, sizeof(b));
}

/* Read RSSI (7.5.4) and Read Encryption Key Size (7.5.7): Status,
 * Handle, one octet. */
static void reply_handle_u8(struct sim_ctrl *c, uint16_t op, uint8_t st,
			    uint16_t h, uint8_t v)
{
	uint8_t b[4];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, st);
	wbuf_le16(&w, h);
	wbuf_u8(&w, v);
	ctrl_reply_cc(c, op, b, w.len);
}

static void c_read_rssi(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint16_t h = cur_le16(&r);
	struct sim_conn *cn = ctrl_conn_by_handle(c, h);

	reply_handle_u8(c, x->op, cn ? 0 : HCI_ST_UNKNOWN_CONN_ID, h,
			cn ? (uint8_t)ctrl_jitter(c, cn->rd ? cn->rd->cfg->rssi : -40) : 0);
}

static void c_read_enc_key_size(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r = ctrl_params(x);
	uint16_t h = cur_le16(&r);
	struct sim_conn *cn = ctrl_conn_by_handle(c, h);

	reply_handle_u8(c, x->op, !cn ? HCI_ST_UNKNOWN_CONN_ID :
			!cn->encrypted ? HCI_ST_INSUFFICIENT_SECURITY : 0, h, 16);
}

static bool disc_reason_ok(uint8_t r)
{
	/* Vol 4 Part E 7.1.6 */
	return r == 0x05 || r == 0x13 || r == 0x14 || r == 0x15 ||
	       r == 0x1a || r == 0x29 || r == 0x3b;
}

static void c_disconnect(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct cur r;
	struct sim_conn *cn;
	uint16_t h;
	uint8_t reason;

	cur_init(&r, x->p, x->plen);
	h = cur_le16(&r);
	reason = cur_u8(&r);
	cn = ctrl_conn_by_handle(c, h);
	if (!cn) {
		ctrl_reply_cs(c, x->op, HCI_ST_UNKNOWN_CONN_ID);
		return;
	}
	if (!disc_reason_ok(reason)) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	if (cn->peer) {
		/* The other controller's host learns the reason (7.7.5). */
		struct sim_conn *p = cn->peer;

		ctrl_disconn_complete(p->c, T_RESPONSE, p->handle, reason);
		ctrl_conn_free(p);
	}
	ctrl_conn_free(cn);
	ctrl_disconn_complete(c, T_RESPONSE, h, HCI_ST_LOCAL_HOST_TERM);
}

static void c_remote_version(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, -1);
	uint8_t b[HCI_EV_REMOTE_VERSION_LEN];
	struct wbuf w;

	if (!cn)
		return;
	ctrl_reply_cs(c, x->op, 0);
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, cn->handle);
	wbuf_u8(&w, 0x09);		/* Version: 5.0 */
	wbuf_le16(&w, 0x05f1);		/* Company_Identifier */
	wbuf_le16(&w, 0x0000);		/* Subversion */
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_REMOTE_VERSION, b, w.len);
}

static void c_le_read_buffer_size(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	const struct sim_opts *o = sim_air_opts(c->air);
	uint8_t b[4];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, o->le_mtu);
	wbuf_u8(&w, o->le_pkts);
	ctrl_reply_cc(c, x->op, b, w.len);
}

static void c_le_read_features(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	reply_features(c, x->op, ctrl_le_features);
}

static void c_le_read_states(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	/* Status, then LE_States (7.8.27). */
	static const uint8_t states[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x03, 0, 0 };

	reply_features(c, x->op, states);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_DISCONNECT, 0, 5, 3, CS, c_disconnect },
	{ HCI_OP_READ_REMOTE_VERSION, 2, 7, 2, CS, c_remote_version },
	{ HCI_OP_SET_EVENT_MASK, 5, 6, 8, CC, c_set_event_mask },
	{ HCI_OP_RESET, 5, 7, 0, CC, c_reset },
	{ HCI_OP_SET_EVENT_FILTER, 6, 0, -1, CC, c_set_event_filter },
	{ HCI_OP_READ_STORED_LINK_KEY, 6, 5, 7, CC, c_read_stored_link_key },
	{ HCI_OP_DELETE_STORED_LINK_KEY, 6, 7, 7, CC, c_delete_stored_link_key },
	{ HCI_OP_WRITE_LOCAL_NAME, 7, 0, 248, CC, c_write_local_name },
	{ HCI_OP_READ_LOCAL_NAME, 7, 1, 0, CC, c_read_local_name },
	{ HCI_OP_READ_LOCAL_VERSION, 14, 3, 0, CC, c_read_version },
	{ HCI_OP_READ_LOCAL_FEATURES, 14, 5, 0, CC, c_read_features },
	{ HCI_OP_READ_LOCAL_EXT_FEATURES, 14, 6, 1, CC, c_read_ext_features },
	{ HCI_OP_READ_BUFFER_SIZE, 14, 7, 0, CC, c_read_buffer_size },
	{ HCI_OP_READ_BD_ADDR, 15, 1, 0, CC, c_read_bd_addr },
	{ HCI_OP_READ_RSSI, 15, 5, 2, CC, c_read_rssi },
	{ HCI_OP_READ_ENC_KEY_SIZE, 20, 4, 2, CC, c_read_enc_key_size },
	{ HCI_OP_READ_LE_HOST_SUPPORTED, 24, 5, 0, CC, c_read_le_host },
	{ HCI_OP_WRITE_LE_HOST_SUPPORTED, 24, 6, 2, CC, c_write_le_host },
	{ HCI_OP_LE_SET_EVENT_MASK, 25, 0, 8, CC, c_set_event_mask },
	{ HCI_OP_LE_READ_BUFFER_SIZE, 25, 1, 0, CC, c_le_read_buffer_size },
	{ HCI_OP_LE_READ_LOCAL_FEATURES, 25, 2, 0, CC, c_le_read_features },
	{ HCI_OP_LE_READ_SUPPORTED_STATES, 28, 3, 0, CC, c_le_read_states },
};

CTRL_CMD_TABLE(ctrl_cmds_info, cmds);
