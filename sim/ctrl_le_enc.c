/* SPDX-License-Identifier: MIT */
/*
 * LE encryption of the simulated controller (Vol 6 Part B 5.1.3) and its
 * crypto commands (LE Rand, LE Encrypt).
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"

static void c_le_start_enc(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	uint8_t b[4];
	bool ok;

	if (!cn)
		return;
	if (cn->role != 0) {
		/* Only the central starts encryption (Vol 6 Part B 5.1.3). */
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	if (cn->peer) {
		/* The peripheral's host is asked for the key (7.7.65.5). */
		uint8_t q[12];

		cn->enc_pending = true;
		memcpy(cn->enc_ltk, x->p + 12, 16);
		put_le16(q, cn->peer->handle);
		memcpy(q + 2, x->p + 2, 10);
		ctrl_le_evt(cn->peer->c, HCI_LE_EV_LTK_REQUEST, q, 12);
		return;
	}
	ok = cn->link && sim_link_ltk_ok(cn->link, x->p + 2, get_le16(x->p + 10),
					 x->p + 12);
	put_le16(b + 1, cn->handle);
	if (!ok) {
		/* The RD's host has no such key: LL_REJECT_IND with PIN or
		 * Key Missing (Vol 6 Part B 5.1.3.1). */
		b[0] = HCI_ST_PIN_OR_KEY_MISSING;
		b[3] = 0x00;
		ctrl_later_evt(c, T_RESPONSE, cn->handle, HCI_EV_ENCRYPT_CHANGE, b, 4);
		return;
	}
	b[0] = 0;
	/* The event goes out now, before anything the RD sends over the
	 * encrypted link (SMP key distribution must follow the host's
	 * Encryption Change, Vol 3 Part H 3.6.1). */
	if (cn->encrypted) {
		ctrl_evt(c, HCI_EV_KEY_REFRESH_COMPLETE, b, 3);
	} else {
		b[3] = 0x01;
		ctrl_evt(c, HCI_EV_ENCRYPT_CHANGE, b, 4);
	}
	cn->encrypted = true;
	sim_link_encrypted(cn->link);
}

static void enc_done(struct sim_conn *cn, uint8_t status)
{
	uint8_t b[4];

	b[0] = status;
	put_le16(b + 1, cn->handle);
	if (!status && cn->encrypted) {
		ctrl_evt(cn->c, HCI_EV_KEY_REFRESH_COMPLETE, b, 3);
		return;
	}
	b[3] = status ? 0x00 : 0x01;
	ctrl_evt(cn->c, HCI_EV_ENCRYPT_CHANGE, b, 4);
	if (!status)
		cn->encrypted = true;
}

static void c_le_ltk_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint16_t h = get_le16(x->p);
	struct sim_conn *cn = ctrl_conn_by_handle(c, h), *central;
	uint8_t b[4];

	if (!cn || !cn->le) {
		ctrl_cc_status_handle(c, x->op, HCI_ST_UNKNOWN_CONN_ID, h);
		return;
	}
	central = cn->peer;
	if (cn->role != 1 || !central || !central->enc_pending) {
		ctrl_cc_status_handle(c, x->op, HCI_ST_COMMAND_DISALLOWED, h);
		return;
	}
	ctrl_cc_status_handle(c, x->op, 0, h);
	central->enc_pending = false;
	if (x->op == HCI_OP_LE_LTK_NEG_REPLY) {
		/* LL_REJECT_IND: the central learns the key is missing. */
		enc_done(central, HCI_ST_PIN_OR_KEY_MISSING);
		return;
	}
	if (memcmp(central->enc_ltk, x->p + 2, 16)) {
		/* Different keys: the first packet fails its MIC and the
		 * link drops on both ends (Vol 6 Part B 5.1.3.1). */
		b[0] = 0;
		b[3] = HCI_ST_MIC_FAILURE;
		put_le16(b + 1, central->handle);
		ctrl_evt(central->c, HCI_EV_DISCONN_COMPLETE, b, 4);
		put_le16(b + 1, cn->handle);
		ctrl_evt(c, HCI_EV_DISCONN_COMPLETE, b, 4);
		ctrl_conn_free(central);
		ctrl_conn_free(cn);
		return;
	}
	enc_done(central, 0);
	enc_done(cn, 0);
}

static void c_le_rand(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[9];

	b[0] = 0;
	sim_air_rand_bytes(c->air, b + 1, 8);
	ctrl_reply_cc(c, x->op, b, 9);
}

static void c_le_encrypt(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[17];

	b[0] = sim_smp_e(x->p, x->p + 16, b + 1) ? HCI_ST_UNSPECIFIED : 0;
	ctrl_reply_cc(c, x->op, b, b[0] ? 1 : 17);
}

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct ctrl_cmd_def cmds[] = {
	{ HCI_OP_LE_ENCRYPT, 27, 6, 32, CC, c_le_encrypt },
	{ HCI_OP_LE_RAND, 27, 7, 0, CC, c_le_rand },
	{ HCI_OP_LE_START_ENCRYPTION, 28, 0, 28, CS, c_le_start_enc },
	{ HCI_OP_LE_LTK_REPLY, 28, 1, 18, CC, c_le_ltk_reply },
	{ HCI_OP_LE_LTK_NEG_REPLY, 28, 2, 2, CC, c_le_ltk_reply },
};

CTRL_CMD_TABLE(ctrl_cmds_le_enc, cmds);
