/* SPDX-License-Identifier: MIT */
/*
 * BR/EDR security of the simulated controller: authentication with a
 * stored link key, Secure Simple Pairing Just Works (Vol 2 Part F 4.2),
 * legacy PIN pairing, and encryption on an authenticated link.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static struct sim_conn *auth_conn(struct sim_ctrl *c, const uint8_t *a,
				  enum ctrl_auth_state st)
{
	struct bdaddr ba;
	struct sim_conn *cn;

	memcpy(ba.b, a, 6);
	cn = ctrl_conn_by_addr(c, &ba, false, CONN_OPEN);
	return cn && cn->auth == st ? cn : NULL;
}

static void auth_complete(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	uint8_t b[3];

	cn->auth = AUTH_NONE;
	cn->authenticated = st == 0;
	b[0] = st;
	put_le16(b + 1, cn->handle);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_AUTH_COMPLETE, b, 3);
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
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_LINK_KEY_REQ,
		       cn->addr.b, 6);
}

static void c_link_key_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_KEY);
	struct sim_bond *b;

	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, x->p);
	b = sim_rd_bond(cn->rd, &c->addr, false);
	if (!b || !b->has_lk)
		auth_complete(c, cn, HCI_ST_PIN_OR_KEY_MISSING);
	else if (memcmp(b->lk, x->p + 6, 16))
		auth_complete(c, cn, HCI_ST_AUTH_FAILURE);
	else
		auth_complete(c, cn, 0);
}

static void c_link_key_neg(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_KEY);

	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, x->p);
	if (c->ssp_mode) {
		cn->auth = AUTH_WAIT_IOCAP;
		ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_IO_CAPA_REQUEST, x->p, 6);
	} else {
		cn->auth = AUTH_WAIT_PIN;
		ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_PIN_CODE_REQ, x->p, 6);
	}
}

static void pairing_done(struct sim_ctrl *c, struct sim_conn *cn, uint8_t type)
{
	struct sim_bond *b = sim_rd_bond(cn->rd, &c->addr, true);
	uint8_t ev[23];

	sim_air_rand_bytes(c->air, b->lk, 16);
	b->has_lk = true;
	memcpy(ev, cn->addr.b, 6);
	memcpy(ev + 6, b->lk, 16);
	ev[22] = type;
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_LINK_KEY_NOTIFY, ev, 23);
	auth_complete(c, cn, 0);
}

static void c_io_cap_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_IOCAP);
	uint8_t ev[10];

	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	if (x->p[6] > 3 || x->p[7] > 1 || x->p[8] > 5) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, x->p);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, x->p);
	/* The RD: NoInputNoOutput, no OOB, general bonding without MITM. */
	memcpy(ev, x->p, 6);
	ev[6] = 0x03;
	ev[7] = 0x00;
	ev[8] = 0x04;
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_IO_CAPA_RESPONSE, ev, 9);
	memcpy(ev, x->p, 6);
	put_le32(ev + 6, sim_air_rand(c->air) % 1000000);
	cn->auth = AUTH_WAIT_CONFIRM;
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_USER_CONFIRM_REQUEST, ev, 10);
}

static void ssp_fail(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	uint8_t ev[7];

	ev[0] = st;
	memcpy(ev + 1, cn->addr.b, 6);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_SIMPLE_PAIR_COMPLETE, ev, 7);
	auth_complete(c, cn, st);
}

static void c_io_cap_neg(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_IOCAP);

	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, x->p);
	ssp_fail(c, cn, x->p[6] ? x->p[6] : HCI_ST_PAIRING_NOT_ALLOWED);
}

static void c_user_confirm(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_CONFIRM);
	uint8_t ev[7];

	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, x->p);
	if (x->op == HCI_OP_USER_CONFIRM_NEG_REPLY) {
		ssp_fail(c, cn, HCI_ST_AUTH_FAILURE);
		return;
	}
	ev[0] = 0;
	memcpy(ev + 1, x->p, 6);
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_SIMPLE_PAIR_COMPLETE, ev, 7);
	pairing_done(c, cn, 0x04);	/* unauthenticated combination, P-192 */
}

static void c_pin_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_PIN);

	if (!cn) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	if (x->op == HCI_OP_PIN_CODE_REPLY && (x->p[6] < 1 || x->p[6] > 16)) {
		ctrl_cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, x->p);
		return;
	}
	ctrl_cc_status_addr(c, x->op, 0, x->p);
	if (x->op == HCI_OP_PIN_CODE_NEG_REPLY)
		auth_complete(c, cn, HCI_ST_PIN_OR_KEY_MISSING);
	else
		pairing_done(c, cn, 0x00);	/* combination key */
}

static void c_set_conn_encrypt(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 0);
	uint8_t b[4];

	if (!cn)
		return;
	if (x->p[2] > 1) {
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	/* Encryption needs a link key: authenticate first (7.1.16). */
	if (!cn->authenticated) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	cn->encrypted = x->p[2];
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	b[3] = x->p[2];
	ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_ENCRYPT_CHANGE, b, 4);
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
	{ HCI_OP_IO_CAPABILITY_NEG_REPLY, 20, 3, 7, CC, c_io_cap_neg },
};

CTRL_CMD_TABLE(ctrl_cmds_pair, cmds);
