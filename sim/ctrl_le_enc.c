/* SPDX-License-Identifier: MIT */
/*
 * LE encryption of the simulated controller (Vol 6 Part B 5.1.3) and its
 * crypto commands (LE Rand, LE Encrypt).
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "ctrl_int.h"
#include "smp_crypto.h"

static void c_le_start_enc(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn = ctrl_cs_conn(c, x, 1);
	const uint8_t *rand, *ltk;
	struct cur r;
	uint16_t ediv;
	bool ok;

	if (!cn)
		return;
	/* LE Enable Encryption (7.8.24); the length is checked already. */
	cur_init(&r, x->p, x->plen);
	cur_skip(&r, 2);		/* the handle, read by ctrl_cs_conn */
	rand = cur_bytes(&r, 8);
	ediv = cur_le16(&r);
	ltk = cur_bytes(&r, 16);
	if (!ltk)
		return;			/* cannot happen: fixed length 28 */
	if (cn->role != 0) {
		/* Only the central starts encryption (Vol 6 Part B 5.1.3). */
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	ctrl_reply_cs(c, x->op, 0);
	if (cn->peer) {
		/* The peripheral's host is asked for the key (7.7.65.5). */
		uint8_t q[HCI_LE_EV_LTK_REQUEST_LEN];
		struct wbuf w;

		cn->enc_pending = true;
		memcpy(cn->enc_ltk, ltk, 16);
		wbuf_init(&w, q, sizeof(q));
		wbuf_le16(&w, cn->peer->handle);
		wbuf_bytes(&w, rand, 8);
		wbuf_le16(&w, ediv);
		ctrl_le_evt(cn->peer->c, HCI_LE_EV_LTK_REQUEST, q, w.len);
		return;
	}
	ok = cn->link && sim_link_ltk_ok(cn->link, rand, ediv, ltk);
	if (!ok) {
		/* The RD's host has no such key: LL_REJECT_IND with PIN or
		 * Key Missing (Vol 6 Part B 5.1.3.1). */
		ctrl_enc_change(c, T_RESPONSE, cn->handle, HCI_ST_PIN_OR_KEY_MISSING,
				0x00, false);
		return;
	}
	/* The event goes out now, before anything the RD sends over the
	 * encrypted link (SMP key distribution must follow the host's
	 * Encryption Change, Vol 3 Part H 3.6.1). */
	ctrl_enc_change(c, 0, cn->handle, 0, 0x01, cn->encrypted);
	cn->encrypted = true;
	sim_link_encrypted(cn->link);
}

static void enc_done(struct sim_conn *cn, uint8_t status)
{
	ctrl_enc_change(cn->c, 0, cn->handle, status, status ? 0x00 : 0x01,
			!status && cn->encrypted);
	if (!status)
		cn->encrypted = true;
}

static void c_le_ltk_reply(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	struct sim_conn *cn, *central;
	const uint8_t *ltk;
	struct cur r;
	uint16_t h;

	/* LE Long Term Key Request (Negative) Reply (7.8.25, 7.8.26). */
	cur_init(&r, x->p, x->plen);
	h = cur_le16(&r);
	ltk = x->op == HCI_OP_LE_LTK_REPLY ? cur_bytes(&r, 16) : NULL;
	cn = ctrl_conn_by_handle(c, h);
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
	if (!ltk) {
		/* LL_REJECT_IND: the central learns the key is missing. */
		enc_done(central, HCI_ST_PIN_OR_KEY_MISSING);
		return;
	}
	if (memcmp(central->enc_ltk, ltk, 16)) {
		/* Different keys: the first packet fails its MIC and the
		 * link drops on both ends (Vol 6 Part B 5.1.3.1). */
		ctrl_disconn_complete(central->c, 0, central->handle, HCI_ST_MIC_FAILURE);
		ctrl_disconn_complete(c, 0, cn->handle, HCI_ST_MIC_FAILURE);
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
	ctrl_reply_cc(c, x->op, b, sizeof(b));
}

static void c_le_encrypt(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	const uint8_t *key, *data;
	uint8_t b[17];
	struct cur r;

	/* LE Encrypt (7.8.22): Key, then Plaintext_Data. */
	cur_init(&r, x->p, x->plen);
	key = cur_bytes(&r, 16);
	data = cur_bytes(&r, 16);
	b[0] = !data || smp_e(key, data, b + 1) ? HCI_ST_UNSPECIFIED : 0;
	ctrl_reply_cc(c, x->op, b, b[0] ? 1 : sizeof(b));
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
