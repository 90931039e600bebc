/* SPDX-License-Identifier: MIT */
/*
 * BR/EDR security of the simulated controller: authentication with a
 * stored link key, Secure Simple Pairing (Vol 2 Part F 4.2: numeric
 * comparison, Just Works, passkey entry), legacy PIN pairing, and
 * encryption on an authenticated link.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static struct sim_conn *auth_conn(struct sim_ctrl *c, const struct bdaddr *a,
				  enum ctrl_auth_state st)
{
	struct sim_conn *cn = ctrl_conn_by_addr(c, a, false, CONN_OPEN);

	return cn && cn->auth == st ? cn : NULL;
}

/* The BD_ADDR that starts the parameters of every pairing reply (7.1). */
static void read_addr(struct cur *r, const struct ctrl_cmd *x, struct bdaddr *a)
{
	cur_init(r, x->p, x->plen);
	cur_copy(r, a->b, 6);
}

/* An event whose parameters are a BD_ADDR (7.7.22, 7.7.23, 7.7.40). */
static void addr_evt(struct sim_ctrl *c, struct sim_conn *cn, uint8_t code)
{
	ctrl_later_evt(c, T_RESPONSE, cn->handle, code, cn->addr.b,
		       sizeof(cn->addr.b));
}

static void auth_complete(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	uint8_t b[HCI_EV_AUTH_COMPLETE_LEN];
	struct wbuf w;

	cn->auth = AUTH_NONE;
	cn->authenticated = st == 0;
	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, st);
	wbuf_le16(&w, cn->handle);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_AUTH_COMPLETE, b, w.len);
}

static void c_auth_requested(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);

	if (!cn)
		return;
	if (!cn->rd) {
		/* Pairing between two simulated controllers is not
		 * simulated: refused, never faked. */
		ctrl_reply_cs(c, x->op, HCI_ST_UNSUPPORTED_REMOTE_FEATURE);
		return;
	}
	if (cn->auth != AUTH_NONE) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	cn->auth = AUTH_WAIT_KEY;
	addr_evt(c, cn, HCI_EV_LINK_KEY_REQ);
}

static void c_link_key_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;
	struct sim_bond *b;
	const uint8_t *key;

	read_addr(&r, x, &a);
	key = cur_bytes(&r, 16);
	cn = auth_conn(c, &a, AUTH_WAIT_KEY);
	if (!cn || !key) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	b = sim_rd_bond(cn->rd, &c->addr, false);
	if (!b || !b->has_lk)
		auth_complete(c, cn, HCI_ST_PIN_OR_KEY_MISSING);
	else if (memcmp(b->lk, key, 16))
		auth_complete(c, cn, HCI_ST_AUTH_FAILURE);
	else
		auth_complete(c, cn, 0);
}

static void c_link_key_neg(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;

	read_addr(&r, x, &a);
	cn = auth_conn(c, &a, AUTH_WAIT_KEY);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	if (c->ssp_mode && cn->rd->cfg->pairing != SIM_PAIR_LEGACY) {
		cn->auth = AUTH_WAIT_IOCAP;
		addr_evt(c, cn, HCI_EV_IO_CAPA_REQUEST);
	} else if (cn->rd->cfg->pairing == SIM_PAIR_REFUSE) {
		/* No PIN either: it pairs with nobody (SSP refuses at the
		 * IO capabilities, c_io_cap_reply). */
		auth_complete(c, cn, HCI_ST_PAIRING_NOT_ALLOWED);
	} else {
		cn->auth = AUTH_WAIT_PIN;
		addr_evt(c, cn, HCI_EV_PIN_CODE_REQ);
	}
}

static void pairing_done(struct sim_ctrl *c, struct sim_conn *cn, uint8_t type)
{
	struct sim_bond *b = sim_rd_bond(cn->rd, &c->addr, true);
	uint8_t ev[HCI_EV_LINK_KEY_NOTIFY_LEN];
	struct wbuf w;

	sim_air_rand_bytes(c->air, b->lk, 16);
	b->has_lk = true;
	wbuf_init(&w, ev, sizeof(ev));
	wbuf_bytes(&w, cn->addr.b, 6);
	wbuf_bytes(&w, b->lk, 16);
	wbuf_u8(&w, type);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_LINK_KEY_NOTIFY, ev, w.len);
	auth_complete(c, cn, 0);
}

static void ssp_complete(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st);
static void ssp_fail(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st);

static void c_io_cap_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;
	const struct sim_rd_cfg *d;
	uint8_t ev[HCI_EV_USER_CONFIRM_REQUEST_LEN];
	struct wbuf w;
	uint8_t io, oob, auth, rd_auth;
	bool mitm;

	read_addr(&r, x, &a);
	io = cur_u8(&r);
	oob = cur_u8(&r);
	auth = cur_u8(&r);
	cn = auth_conn(c, &a, AUTH_WAIT_IOCAP);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	if (io > 3 || oob > 1 || auth > 5) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	d = cn->rd->cfg;
	if (d->pairing == SIM_PAIR_REFUSE) {
		/* The device's host answers IO Capability Request Negative Reply. */
		ssp_fail(c, cn, HCI_ST_PAIRING_NOT_ALLOWED);
		return;
	}
	/* The RD: its IO capability, no OOB, general bonding, MITM if it can. */
	rd_auth = d->io_cap == 0x03 ? 0x04 : 0x05;
	wbuf_init(&w, ev, HCI_EV_IO_CAPA_RESPONSE_LEN);
	wbuf_bytes(&w, a.b, 6);
	wbuf_u8(&w, d->io_cap);
	wbuf_u8(&w, 0x00);
	wbuf_u8(&w, rd_auth);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_IO_CAPA_RESPONSE, ev, w.len);
	/*
	 * The association model (Vol 3 Part C 5.2.2.6): Just Works unless
	 * one side wants MITM protection and neither is NoInputNoOutput;
	 * then passkey entry if the device has only a keyboard (the host
	 * displays, the device's user types), numeric comparison otherwise
	 * (authenticated only if both can confirm). A KeyboardOnly host
	 * types: the passkey the device shows (or, a keyboard device, the
	 * one its user types too), the device's `passkey`.
	 */
	mitm = ((auth | rd_auth) & 1) && io != 0x03 && d->io_cap != 0x03;
	if (mitm && io == 0x02) {
		cn->passkey = d->has_passkey ? d->passkey : sim_air_rand(c->air) % 1000000;
		cn->pair_type = 0x05;
		cn->auth = AUTH_WAIT_PASSKEY;
		addr_evt(c, cn, HCI_EV_USER_PASSKEY_REQUEST);
		return;
	}
	cn->pair_type = mitm && ((io == 0x01 && d->io_cap == 0x01) || d->io_cap == 0x02) ?
		0x05 : 0x04;
	if (mitm && d->io_cap == 0x02) {
		wbuf_init(&w, ev, sizeof(ev));
		wbuf_bytes(&w, a.b, 6);
		wbuf_le32(&w, sim_air_rand(c->air) % 1000000);	/* Passkey */
		ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_USER_PASSKEY_NOTIFY, ev, w.len);
		/* The device's user types it: pairing completes. */
		ssp_complete(c, cn, 0);
		pairing_done(c, cn, cn->pair_type);
		return;
	}
	wbuf_init(&w, ev, sizeof(ev));
	wbuf_bytes(&w, a.b, 6);
	wbuf_le32(&w, sim_air_rand(c->air) % 1000000);	/* Numeric_Value */
	cn->auth = AUTH_WAIT_CONFIRM;
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_USER_CONFIRM_REQUEST, ev, w.len);
}

/* Simple Pairing Complete (7.7.45) with status st. */
static void ssp_complete(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	uint8_t ev[HCI_EV_SIMPLE_PAIR_COMPLETE_LEN];
	struct wbuf w;

	wbuf_init(&w, ev, sizeof(ev));
	wbuf_u8(&w, st);
	wbuf_bytes(&w, cn->addr.b, 6);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_SIMPLE_PAIR_COMPLETE, ev, w.len);
}

static void ssp_fail(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	ssp_complete(c, cn, st);
	auth_complete(c, cn, st);
}

static void c_io_cap_neg(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;
	uint8_t reason;

	read_addr(&r, x, &a);
	reason = cur_u8(&r);
	cn = auth_conn(c, &a, AUTH_WAIT_IOCAP);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	ssp_fail(c, cn, reason ? reason : HCI_ST_PAIRING_NOT_ALLOWED);
}

static void c_user_confirm(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;

	read_addr(&r, x, &a);
	cn = auth_conn(c, &a, AUTH_WAIT_CONFIRM);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	if (x->op == HCI_OP_USER_CONFIRM_NEG_REPLY) {
		ssp_fail(c, cn, HCI_ST_AUTH_FAILURE);
		return;
	}
	ssp_complete(c, cn, 0);
	/* 4: unauthenticated combination, 5: authenticated (P-192) */
	pairing_done(c, cn, cn->pair_type);
}

/* User Passkey Request (Negative) Reply (7.1.32, 7.1.33): the host's user typed. */
static void c_user_passkey(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;
	uint32_t v;

	read_addr(&r, x, &a);
	v = x->op == HCI_OP_USER_PASSKEY_REPLY ? cur_le32(&r) : 0;
	cn = auth_conn(c, &a, AUTH_WAIT_PASSKEY);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	if (x->op == HCI_OP_USER_PASSKEY_REPLY && v > 999999) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	/* A wrong passkey fails the commitment check (Vol 2 Part H 7.2.3). */
	if (x->op == HCI_OP_USER_PASSKEY_NEG_REPLY || v != cn->passkey) {
		ssp_fail(c, cn, HCI_ST_AUTH_FAILURE);
		return;
	}
	ssp_complete(c, cn, 0);
	pairing_done(c, cn, cn->pair_type);
}

static void c_pin_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct bdaddr a;
	struct cur r;
	struct sim_conn *cn;
	uint8_t pin_len;

	read_addr(&r, x, &a);
	pin_len = cur_u8(&r);	/* Reply only: the Negative Reply ends here */
	cn = auth_conn(c, &a, AUTH_WAIT_PIN);
	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, a.b);
		return;
	}
	if (x->op == HCI_OP_PIN_CODE_REPLY && (pin_len < 1 || pin_len > 16)) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, a.b);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, a.b);
	if (x->op == HCI_OP_PIN_CODE_NEG_REPLY)
		auth_complete(c, cn, HCI_ST_PIN_OR_KEY_MISSING);
	else
		pairing_done(c, cn, 0x00);	/* combination key */
}

static void c_set_conn_encrypt(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);
	struct cur r;
	uint8_t on;

	if (!cn)
		return;
	cur_init(&r, x->p, x->plen);
	cur_skip(&r, 2);		/* the handle, read by ctrl_cs_conn */
	on = cur_u8(&r);
	if (on > 1) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	/* Encryption needs a link key: authenticate first (7.1.16). */
	if (!cn->authenticated) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	cn->encrypted = on;
	ctrl_enc_change(c, T_RESPONSE, cn->handle, 0, on, false);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_LINK_KEY_REPLY, 1, 2, 22, CC, c_link_key_reply },
	{ HCI_OP_LINK_KEY_NEG_REPLY, 1, 3, 6, CC, c_link_key_neg },
	{ HCI_OP_PIN_CODE_REPLY, 1, 4, 23, CC, c_pin_reply },
	{ HCI_OP_PIN_CODE_NEG_REPLY, 1, 5, 6, CC, c_pin_reply },
	{ HCI_OP_AUTH_REQUESTED, 1, 7, 2, CS, c_auth_requested },
	{ HCI_OP_SET_CONN_ENCRYPT, 2, 0, 3, CS, c_set_conn_encrypt },
	{ HCI_OP_IO_CAPABILITY_REPLY, 18, 7, 9, CC, c_io_cap_reply },
	{ HCI_OP_USER_CONFIRM_REPLY, 19, 0, 6, CC, c_user_confirm },
	{ HCI_OP_USER_CONFIRM_NEG_REPLY, 19, 1, 6, CC, c_user_confirm },
	{ HCI_OP_USER_PASSKEY_REPLY, 19, 2, 10, CC, c_user_passkey },
	{ HCI_OP_USER_PASSKEY_NEG_REPLY, 19, 3, 6, CC, c_user_passkey },
	{ HCI_OP_IO_CAPABILITY_NEG_REPLY, 20, 3, 7, CC, c_io_cap_neg },
};

CTRL_CMD_TABLE(ctrl_cmds_pair, cmds);
