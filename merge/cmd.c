/* SPDX-License-Identifier: MIT */
/*
 * The merge core, the host's commands: a table says where each command
 * goes (doc/seamless.md, "Commands"), the answers of the controllers it
 * went to are combined into the one answer the host gets, with the
 * handle rewritten. A command not in the table is answered Unknown HCI
 * Command (0x01), and its Supported_Commands bit is cleared, so the host
 * never relies on something the merge would get wrong.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "merge_int.h"

#define L(op, fl, pl, oc, bi)	{ HCI_OP_##op, RT_LOCAL, fl, pl, oc, bi }
#define A(op, fl, pl, oc, bi)	{ HCI_OP_##op, RT_ALL, fl, pl, oc, bi }
#define H(op, fl, pl, oc, bi)	{ HCI_OP_##op, RT_HANDLE, fl, pl, oc, bi }
#define D(op, fl, pl, oc, bi)	{ HCI_OP_##op, RT_ADDR, fl, pl, oc, bi }
#define S(op, fl, pl, oc, bi)	{ HCI_OP_##op, RT_SPECIAL, fl, pl, oc, bi }

/* Octet and bit: Supported_Commands, Core Vol 4 Part E 6.27. */
static const struct mcmd_def cmds[] = {
	/* Link Control (7.1) */
	S(INQUIRY, MF_CS, 5, 0, 0),
	S(INQUIRY_CANCEL, 0, 0, 0, 1),
	S(PERIODIC_INQUIRY, 0, 9, 0, 2),
	S(EXIT_PERIODIC_INQUIRY, 0, 0, 0, 3),
	S(CREATE_CONN, MF_CS, 13, 0, 4),
	H(DISCONNECT, MF_CS, 3, 0, 5),
	S(CREATE_CONN_CANCEL, 0, 6, 0, 7),
	D(ACCEPT_CONN_REQ, MF_CS, 7, 1, 0),
	D(REJECT_CONN_REQ, MF_CS, 7, 1, 1),
	D(LINK_KEY_REPLY, 0, 22, 1, 2),
	D(LINK_KEY_NEG_REPLY, 0, 6, 1, 3),
	D(PIN_CODE_REPLY, 0, 23, 1, 4),
	D(PIN_CODE_NEG_REPLY, 0, 6, 1, 5),
	H(CHANGE_CONN_PTYPE, MF_CS, 4, 1, 6),
	H(AUTH_REQUESTED, MF_CS, 2, 1, 7),
	H(SET_CONN_ENCRYPT, MF_CS, 3, 2, 0),
	H(CHANGE_CONN_LINK_KEY, MF_CS, 2, 2, 1),
	S(REMOTE_NAME_REQ, MF_CS, 10, 2, 3),
	D(REMOTE_NAME_REQ_CANCEL, 0, 6, 2, 4),
	H(READ_REMOTE_FEATURES, MF_CS, 2, 2, 5),
	H(READ_REMOTE_EXT_FEATURES, MF_CS, 3, 2, 6),
	H(READ_REMOTE_VERSION, MF_CS, 2, 2, 7),
	H(READ_CLOCK_OFFSET, MF_CS, 2, 3, 0),
	H(SETUP_SYNC_CONN, MF_CS, 17, 16, 3),
	D(ACCEPT_SYNC_CONN_REQ, MF_CS, 21, 16, 4),
	D(REJECT_SYNC_CONN_REQ, MF_CS, 7, 16, 5),
	D(IO_CAPABILITY_REPLY, 0, 9, 18, 7),
	D(USER_CONFIRM_REPLY, 0, 6, 19, 0),
	D(USER_CONFIRM_NEG_REPLY, 0, 6, 19, 1),
	D(USER_PASSKEY_REPLY, 0, 10, 19, 2),
	D(USER_PASSKEY_NEG_REPLY, 0, 6, 19, 3),
	D(REMOTE_OOB_DATA_REPLY, 0, 38, 19, 4),
	D(REMOTE_OOB_DATA_NEG_REPLY, 0, 6, 19, 7),
	D(IO_CAPABILITY_NEG_REPLY, 0, 7, 20, 3),
	/* Link Policy (7.2) */
	H(SNIFF_MODE, MF_CS, 10, 4, 2),
	H(EXIT_SNIFF_MODE, MF_CS, 2, 4, 3),
	H(ROLE_DISCOVERY, 0, 2, 4, 7),
	D(SWITCH_ROLE, MF_CS, 7, 5, 0),
	H(READ_LINK_POLICY, 0, 2, 5, 1),
	H(WRITE_LINK_POLICY, 0, 4, 5, 2),
	L(READ_DEF_LINK_POLICY, 0, 0, 5, 3),
	A(WRITE_DEF_LINK_POLICY, MF_STICKY, 2, 5, 4),
	H(SNIFF_SUBRATING, 0, 8, 17, 4),
	/* Controller & Baseband (7.3) */
	A(SET_EVENT_MASK, MF_STICKY, 8, 5, 6),
	S(RESET, 0, 0, 5, 7),
	L(SET_EVENT_FILTER, MF_MIN, 1, 6, 0),
	H(FLUSH, 0, 2, 6, 1),
	L(READ_PIN_TYPE, 0, 0, 6, 2),
	A(WRITE_PIN_TYPE, MF_STICKY, 1, 6, 3),
	L(READ_STORED_LINK_KEY, 0, 7, 6, 5),
	L(DELETE_STORED_LINK_KEY, 0, 7, 6, 7),
	L(WRITE_LOCAL_NAME, 0, 248, 7, 0),
	L(READ_LOCAL_NAME, 0, 0, 7, 1),
	L(READ_CONN_ACCEPT_TIMEOUT, 0, 0, 7, 2),
	A(WRITE_CONN_ACCEPT_TIMEOUT, MF_STICKY, 2, 7, 3),
	L(READ_PAGE_TIMEOUT, 0, 0, 7, 4),
	A(WRITE_PAGE_TIMEOUT, MF_STICKY, 2, 7, 5),
	L(READ_SCAN_ENABLE, 0, 0, 7, 6),
	L(WRITE_SCAN_ENABLE, 0, 1, 7, 7),
	L(READ_PAGE_SCAN_ACTIVITY, 0, 0, 8, 0),
	L(WRITE_PAGE_SCAN_ACTIVITY, 0, 4, 8, 1),
	L(READ_INQUIRY_SCAN_ACTIVITY, 0, 0, 8, 2),
	L(WRITE_INQUIRY_SCAN_ACTIVITY, 0, 4, 8, 3),
	L(READ_AUTH_ENABLE, 0, 0, 8, 4),
	A(WRITE_AUTH_ENABLE, MF_STICKY, 1, 8, 5),
	L(READ_CLASS_OF_DEV, 0, 0, 9, 0),
	L(WRITE_CLASS_OF_DEV, 0, 3, 9, 1),
	L(READ_VOICE_SETTING, 0, 0, 9, 2),
	A(WRITE_VOICE_SETTING, MF_STICKY, 2, 9, 3),
	H(READ_AUTO_FLUSH_TIMEOUT, 0, 2, 9, 4),
	H(WRITE_AUTO_FLUSH_TIMEOUT, 0, 4, 9, 5),
	H(READ_TX_POWER, 0, 3, 10, 2),
	H(READ_LINK_SUPV_TIMEOUT, 0, 2, 11, 0),
	H(WRITE_LINK_SUPV_TIMEOUT, 0, 4, 11, 1),
	L(READ_NUM_SUPPORTED_IAC, 0, 0, 11, 2),
	L(READ_CURRENT_IAC_LAP, 0, 0, 11, 3),
	L(WRITE_CURRENT_IAC_LAP, MF_MIN, 4, 11, 4),
	L(READ_INQUIRY_SCAN_TYPE, 0, 0, 12, 4),
	L(WRITE_INQUIRY_SCAN_TYPE, 0, 1, 12, 5),
	L(READ_INQUIRY_MODE, 0, 0, 12, 6),
	A(WRITE_INQUIRY_MODE, MF_STICKY, 1, 12, 7),
	L(READ_PAGE_SCAN_TYPE, 0, 0, 13, 0),
	L(WRITE_PAGE_SCAN_TYPE, 0, 1, 13, 1),
	L(READ_EXT_INQUIRY_RESPONSE, 0, 0, 17, 0),
	L(WRITE_EXT_INQUIRY_RESPONSE, 0, 241, 17, 1),
	L(READ_SIMPLE_PAIRING_MODE, 0, 0, 17, 5),
	A(WRITE_SIMPLE_PAIRING_MODE, MF_STICKY, 1, 17, 6),
	L(READ_LOCAL_OOB_DATA, 0, 0, 17, 7),
	L(READ_INQ_RSP_TX_POWER, 0, 0, 18, 0),
	L(READ_DEF_ERR_DATA_REPORTING, 0, 0, 18, 2),
	L(WRITE_DEF_ERR_DATA_REPORTING, 0, 1, 18, 3),
	A(SET_EVENT_MASK_PAGE_2, MF_STICKY, 8, 22, 2),
	L(READ_LE_HOST_SUPPORTED, 0, 0, 24, 5),
	A(WRITE_LE_HOST_SUPPORTED, MF_STICKY, 2, 24, 6),
	L(READ_SC_SUPPORT, 0, 0, 32, 6),
	A(WRITE_SC_SUPPORT, MF_STICKY, 1, 32, 7),
	H(READ_AUTH_PAYLOAD_TIMEOUT, 0, 2, 33, 0),
	H(WRITE_AUTH_PAYLOAD_TIMEOUT, 0, 4, 33, 1),
	L(READ_LOCAL_OOB_EXT_DATA, 0, 0, 33, 2),
	/* Informational (7.4): the local radio's identity */
	L(READ_LOCAL_VERSION, 0, 0, 14, 3),
	L(READ_LOCAL_COMMANDS, 0, 0, 0xff, 0),
	L(READ_LOCAL_FEATURES, 0, 0, 14, 5),
	L(READ_LOCAL_EXT_FEATURES, 0, 1, 14, 6),
	L(READ_BUFFER_SIZE, 0, 0, 14, 7),
	L(READ_BD_ADDR, 0, 0, 15, 1),
	L(READ_LOCAL_CODECS, 0, 0, 29, 5),
	L(READ_LOCAL_PAIRING_OPTS, 0, 0, 41, 3),
	/* Status (7.5) */
	H(READ_FAILED_CONTACT_COUNTER, 0, 2, 15, 2),
	H(RESET_FAILED_CONTACT_COUNTER, 0, 2, 15, 3),
	H(READ_LINK_QUALITY, 0, 2, 15, 4),
	H(READ_RSSI, 0, 2, 15, 5),
	H(READ_AFH_CHANNEL_MAP, 0, 2, 15, 6),
	S(READ_CLOCK, 0, 3, 15, 7),
	H(READ_ENC_KEY_SIZE, 0, 2, 20, 4),
	/* LE Controller (7.8) */
	A(LE_SET_EVENT_MASK, MF_STICKY, 8, 25, 0),
	L(LE_READ_BUFFER_SIZE, 0, 0, 25, 1),
	L(LE_READ_LOCAL_FEATURES, 0, 0, 25, 2),
	A(LE_SET_RANDOM_ADDR, 0, 6, 25, 4),
	L(LE_SET_ADV_PARAM, 0, 15, 25, 5),
	L(LE_READ_ADV_TX_POWER, 0, 0, 25, 6),
	L(LE_SET_ADV_DATA, 0, 32, 25, 7),
	L(LE_SET_SCAN_RSP_DATA, 0, 32, 26, 0),
	L(LE_SET_ADV_ENABLE, 0, 1, 26, 1),
	A(LE_SET_SCAN_PARAM, MF_STICKY, 7, 26, 2),
	A(LE_SET_SCAN_ENABLE, MF_STICKY, 2, 26, 3),
	S(LE_CREATE_CONN, MF_CS, 25, 26, 4),
	S(LE_CREATE_CONN_CANCEL, 0, 0, 26, 5),
	L(LE_READ_ACCEPT_LIST_SIZE, 0, 0, 26, 6),
	A(LE_CLEAR_ACCEPT_LIST, 0, 0, 26, 7),
	A(LE_ADD_TO_ACCEPT_LIST, 0, 7, 27, 0),
	A(LE_DEL_FROM_ACCEPT_LIST, 0, 7, 27, 1),
	H(LE_CONN_UPDATE, MF_CS, 14, 27, 2),
	H(LE_READ_CHANNEL_MAP, 0, 2, 27, 4),
	H(LE_READ_REMOTE_FEATURES, MF_CS, 2, 27, 5),
	L(LE_ENCRYPT, 0, 32, 27, 6),
	L(LE_RAND, 0, 0, 27, 7),
	H(LE_START_ENCRYPTION, MF_CS, 28, 28, 0),
	H(LE_LTK_REPLY, 0, 18, 28, 1),
	H(LE_LTK_NEG_REPLY, 0, 2, 28, 2),
	L(LE_READ_SUPPORTED_STATES, 0, 0, 28, 3),
	H(LE_CONN_PARAM_REQ_REPLY, 0, 14, 33, 4),
	H(LE_CONN_PARAM_REQ_NEG_REPLY, 0, 3, 33, 5),
	H(LE_SET_DATA_LEN, 0, 6, 33, 6),
	L(LE_READ_DEF_DATA_LEN, 0, 0, 33, 7),
	A(LE_WRITE_DEF_DATA_LEN, MF_STICKY, 4, 34, 0),
	L(LE_READ_MAX_DATA_LEN, 0, 0, 35, 3),
	H(LE_READ_PHY, 0, 2, 35, 4),
	A(LE_SET_DEFAULT_PHY, MF_STICKY, 3, 35, 5),
	H(LE_SET_PHY, MF_CS, 7, 35, 6),
	L(LE_READ_TX_POWER, 0, 0, 38, 7),
};

/*
 * Events the merge needs from every controller whatever the host asked
 * (7.3.1): discovery results and their end, connections, disconnections,
 * Hardware Error, LE Meta. What the host did not ask for is filtered
 * before it reaches it (evt.c).
 */
static const uint8_t required_evmask[8] = { 0x5f, 0x80, 0, 0, 0x02, 0x40, 0, 0x20 };
static const uint8_t required_lemask[8] = { 0x03 };	/* LE Conn Complete, Adv Report */
/* After Reset (7.3.1, 7.8.1). */
static const uint8_t default_evmask[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0 };
static const uint8_t default_lemask[8] = { 0x1f };

const struct mcmd_def *merge_cmd_find(uint16_t op)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].op == op)
			return &cmds[i];
	return NULL;
}

void merge_cmd_supported(uint8_t out[64], const uint8_t phys[64])
{
	size_t i;

	memset(out, 0, 64);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].octet < 64)
			out[cmds[i].octet] |= (uint8_t)(1u << cmds[i].bit);
	for (i = 0; i < 64; i++)
		out[i] &= phys[i];
	/*
	 * Periodic Inquiry Mode and its exit are the merge's own, run with
	 * plain Inquiry and Inquiry Cancel on every side (merge_pinq_*):
	 * offered whenever the local radio can inquire and cancel, whether
	 * or not it has the command itself.
	 */
	if ((out[0] & 0x03) == 0x03)
		out[0] |= 0x0c;
}

/* ------------------------------------------------------------------ */
/* Sticky settings: the host's writes a joining controller is given too. */

static struct msticky *sticky_find(struct merge *m, uint16_t op, bool make)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_STICKY; i++)
		if (m->sticky[i].op == op)
			return &m->sticky[i];
	if (!make)
		return NULL;
	for (i = 0; i < MERGE_MAX_STICKY; i++)
		if (!m->sticky[i].op) {
			m->sticky[i].op = op;
			return &m->sticky[i];
		}
	log_warn("merge: no room to remember the host's 0x%04x for a returning gateway", op);
	return NULL;
}

/* The parameters a controller gets for the host's command. */
static void param_for_ctrl(uint16_t op, const uint8_t *in, uint8_t *out, size_t plen)
{
	size_t i;

	memcpy(out, in, plen);
	if (op == HCI_OP_SET_EVENT_MASK && plen == 8)
		for (i = 0; i < 8; i++)
			out[i] |= required_evmask[i];
	if (op == HCI_OP_LE_SET_EVENT_MASK && plen == 8)
		for (i = 0; i < 8; i++)
			out[i] |= required_lemask[i];
}

static int send_host_param(struct mctrl *c, uint8_t tag, uint16_t op,
			   const uint8_t *param, size_t plen)
{
	uint8_t p[HCI_MAX_PARAM];

	param_for_ctrl(op, param, p, plen);
	return mc_queue(c, tag, op, p, plen);
}

/*
 * The host's LE accept list as every side has it (the accept list
 * commands go to every side): what the local radio accepted is kept, so a
 * gateway that comes back (reset by its initialisation, which empties its
 * list) is given it again, and passive scanning and auto-connection with
 * Initiator_Filter_Policy 1 find the home's devices without waiting for
 * the host to rewrite the list.
 */
static void accept_note(struct merge *m, uint16_t op, const uint8_t *p)
{
	unsigned i;

	if (op == HCI_OP_LE_CLEAR_ACCEPT_LIST) {
		m->naccept = 0;
		return;
	}
	for (i = 0; i < m->naccept; i++)
		if (memcmp(m->accept[i], p, 7) == 0)
			break;
	if (op == HCI_OP_LE_DEL_FROM_ACCEPT_LIST) {
		if (i < m->naccept) {
			m->naccept--;
			memmove(m->accept[i], m->accept[i + 1], (m->naccept - i) * 7);
		}
		return;
	}
	if (i < m->naccept)
		return;	/* already there (7.8.16 leaves the list as it is) */
	if (m->naccept == MERGE_MAX_ACCEPT) {
		log_warn("merge: the host's LE accept list has more than %u entries: a "
			 "returning gateway gets the first %u only", MERGE_MAX_ACCEPT,
			 MERGE_MAX_ACCEPT);
		return;
	}
	memcpy(m->accept[m->naccept++], p, 7);
}

static void accept_replay(struct merge *m, struct mctrl *c)
{
	unsigned i;

	if (!m->naccept)
		return;
	/* Before the scan joins: 7.8.15-17 refuse while a scan uses the list. */
	mc_queue(c, TAG_QUIET, HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0);
	for (i = 0; i < m->naccept; i++)
		mc_queue(c, TAG_QUIET, HCI_OP_LE_ADD_TO_ACCEPT_LIST, m->accept[i], 7);
}

void merge_sticky_replay(struct merge *m, struct mctrl *c)
{
	struct msticky *s;
	unsigned i;

	s = sticky_find(m, HCI_OP_SET_EVENT_MASK, false);
	send_host_param(c, TAG_QUIET, HCI_OP_SET_EVENT_MASK,
			s ? s->param : default_evmask, 8);
	if (c->features[4] & 0x40) {
		s = sticky_find(m, HCI_OP_LE_SET_EVENT_MASK, false);
		send_host_param(c, TAG_QUIET, HCI_OP_LE_SET_EVENT_MASK,
				s ? s->param : default_lemask, 8);
		accept_replay(m, c);
	}
	for (i = 0; i < MERGE_MAX_STICKY; i++) {
		s = &m->sticky[i];
		if (!s->op || s->op == HCI_OP_SET_EVENT_MASK ||
		    s->op == HCI_OP_LE_SET_EVENT_MASK)
			continue;
		/* A scan joins only while the host's runs (7.8.11). */
		if (s->op == HCI_OP_LE_SET_SCAN_ENABLE && s->param[0] != 1)
			continue;
		send_host_param(c, TAG_QUIET, s->op, s->param, s->plen);
	}
}

void merge_host_reset_state(struct merge *m)
{
	memset(m->sticky, 0, sizeof(m->sticky));
	m->naccept = 0;
	memcpy(m->host_evmask, default_evmask, 8);
	memcpy(m->host_lemask, default_lemask, 8);
	m->inq_active = false;
	m->pinq_mode = false;
	m->pinq_due = false;
	if (m->pinq_timer)
		loop_timer_disarm(m->pinq_timer);
	m->le_create_active = false;
	m->le_winner = -1;
	m->le_host_cancel = false;
	memset(m->pend, 0, sizeof(m->pend));
}

/* ------------------------------------------------------------------ */
/* Answers */

static void answer(struct merge *m, uint16_t op, bool cs, const uint8_t *ret, size_t rlen)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int n;

	/* Num_HCI_Command_Packets is always 1: Linux sends one at a time (§5 of the notes). */
	if (cs)
		n = h4_build_cs(b, sizeof(b), rlen ? ret[0] : HCI_ST_UNSPECIFIED, 1, op);
	else
		n = h4_build_cc(b, sizeof(b), 1, op, ret, rlen);
	if (n > 0)
		merge_emit(m, b, (size_t)n);
}

/*
 * A command the merge refuses itself: the status a controller would give,
 * in the event it would give it in, with the handle or BD_ADDR a Command
 * Complete of that command returns (e.g. 7.5.4 Read RSSI: status, handle).
 */
static void answer_err(struct merge *m, const struct mcmd_def *d, uint16_t op,
		       const uint8_t *param, size_t plen, uint8_t status)
{
	uint8_t ret[8] = { status };
	size_t rlen = 1;

	if (!d || (d->flags & MF_CS)) {
		answer(m, op, true, ret, 1);
		return;
	}
	if (d->route == RT_HANDLE && plen >= 2) {
		put_le16(ret + 1, get_le16(param) & 0x0fff);
		rlen = 3;
	} else if (d->route == RT_ADDR && plen >= 6) {
		memcpy(ret + 1, param, 6);
		rlen = 7;
	}
	answer(m, op, false, ret, rlen);
}

static void op_end(struct merge *m)
{
	m->op.active = false;
	m->op.reset_wait = false;
}

/* Rewrite a local answer into what the merged controller says. */
static void rewrite(struct merge *m, uint16_t op, uint8_t *ret, size_t rlen)
{
	uint8_t mask[64];

	if (rlen < 1 || ret[0] != 0)
		return;
	switch (op) {
	case HCI_OP_READ_LOCAL_COMMANDS:	/* 7.4.2, masked to the table */
		if (rlen >= 65) {
			merge_cmd_supported(mask, ret + 1);
			memcpy(ret + 1, mask, 64);
		}
		break;
	case HCI_OP_READ_BUFFER_SIZE:	/* 7.4.5: the host's one pool */
		if (rlen >= 8) {
			put_le16(ret + 1, m->h_acl_mtu);
			put_le16(ret + 4, m->h_acl_pkts);
		}
		break;
	case HCI_OP_LE_READ_BUFFER_SIZE:	/* 7.8.2 */
		if (rlen >= 4) {
			put_le16(ret + 1, m->h_le_mtu);
			ret[3] = (uint8_t)m->h_le_pkts;
		}
		break;
	case HCI_OP_LE_READ_LOCAL_FEATURES:
		/*
		 * 7.8.3, features Vol 6 Part B 4.6: the merge speaks the
		 * legacy LE commands only, so no LL Privacy (bit 6),
		 * Extended (12) or Periodic (13) Advertising, and none of
		 * the isochronous or CTE features (16 and up).
		 */
		if (rlen >= 9) {
			ret[1] &= (uint8_t)~0x40;
			ret[2] &= (uint8_t)~0x30;
			memset(ret + 3, 0, 6);
		}
		break;
	default:
		break;
	}
}

static void op_finish(struct merge *m)
{
	struct mhostop *o = &m->op;
	const struct mcmd_def *d = o->def;
	uint8_t st;

	if (!o->have_reply) {
		/* The side that should answer went away (merge_op_ctrl_gone). */
		if (o->ok)
			st = 0;
		else if (o->first_other >= 0)
			st = o->other_status;
		else
			st = d->route == RT_HANDLE ? HCI_ST_UNKNOWN_CONN_ID
						   : HCI_ST_HARDWARE_FAILURE;
		answer_err(m, d, o->op, o->param, o->plen, st);
		goto out;
	}
	/* Any side that succeeded makes the merged command succeed. */
	if (d->route == RT_SPECIAL && o->ok && o->reply_len && o->reply[0] != 0 &&
	    o->op != HCI_OP_READ_CLOCK)
		o->reply[0] = 0;
	if (o->reply_cs) {
		answer(m, o->op, true, o->reply, 1);
		goto out;
	}
	if (d->route == RT_HANDLE && o->reply_len >= 3)
		put_le16(o->reply + 1, o->vh);
	rewrite(m, o->op, o->reply, o->reply_len);
	answer(m, o->op, false, o->reply, o->reply_len);
out:
	if ((d->flags & MF_STICKY) && (o->ok & 1)) {
		struct msticky *s = sticky_find(m, o->op, true);

		if (s) {
			s->plen = o->plen;
			memcpy(s->param, o->param, o->plen);
		}
		if (o->op == HCI_OP_SET_EVENT_MASK)
			memcpy(m->host_evmask, o->param, 8);
		if (o->op == HCI_OP_LE_SET_EVENT_MASK)
			memcpy(m->host_lemask, o->param, 8);
	}
	if ((o->op == HCI_OP_LE_CLEAR_ACCEPT_LIST || o->op == HCI_OP_LE_ADD_TO_ACCEPT_LIST ||
	     o->op == HCI_OP_LE_DEL_FROM_ACCEPT_LIST) && (o->ok & 1))
		accept_note(m, o->op, o->param);
	if (o->op == HCI_OP_INQUIRY) {
		if (!o->ok)
			m->inq_active = false;
		else
			merge_inq_ctrl_ended(m, NULL);	/* all may have ended already */
	}
	if (o->op == HCI_OP_LE_CREATE_CONN && !o->ok)
		m->le_create_active = false;
	op_end(m);
}

/* Per-controller consequences of an answer, before the merged one. */
static void side_effect(struct merge *m, struct mctrl *c, bool ok)
{
	struct mhostop *o = &m->op;
	struct bdaddr a;
	unsigned i;

	switch (o->op) {
	case HCI_OP_INQUIRY:
		c->inq_running = ok;
		break;
	case HCI_OP_LE_CREATE_CONN:
		c->le_create = ok;
		break;
	case HCI_OP_CREATE_CONN:
	case HCI_OP_REMOTE_NAME_REQ:
		if (ok)
			break;
		memcpy(a.b, o->param, 6);
		for (i = 0; i < MERGE_MAX_PEND; i++)
			if (m->pend[i].kind && m->pend[i].ctrl == c->idx &&
			    bdaddr_eq(&m->pend[i].addr, &a))
				m->pend[i].kind = 0;
		break;
	default:
		break;
	}
}

void merge_op_reply(struct merge *m, struct mctrl *c, bool cs, const uint8_t *ret,
		    size_t rlen)
{
	struct mhostop *o = &m->op;
	uint32_t bit = 1u << c->idx;
	bool ok = rlen >= 1 && ret[0] == 0;

	if (!o->active || !(o->waiting & bit)) {
		log_warn("merge: controller %u answered a host command nobody waits for",
			 c->idx);
		m->st.bad_ctrl++;
		return;
	}
	o->waiting &= ~bit;
	if (ok)
		o->ok |= bit;
	side_effect(m, c, ok);
	if ((int)c->idx == o->primary) {
		o->have_reply = true;
		o->reply_cs = cs;
		o->reply_len = (uint8_t)(rlen > HCI_MAX_PARAM ? HCI_MAX_PARAM : rlen);
		memcpy(o->reply, ret, o->reply_len);
	} else {
		if (o->first_other < 0) {
			o->first_other = (int)c->idx;
			o->other_status = rlen ? ret[0] : HCI_ST_UNSPECIFIED;
		}
		if (!ok)
			log_info("merge: gateway %u refused the host's 0x%04x (status 0x%02x); "
				 "the local answer stands", c->idx, o->op, rlen ? ret[0] : 0xff);
	}
	if (!o->waiting && !o->reset_wait)
		op_finish(m);
}

void merge_op_ctrl_gone(struct merge *m, struct mctrl *c)
{
	struct mhostop *o = &m->op;
	uint32_t bit = 1u << c->idx;

	if (!o->active || !(o->waiting & bit))
		return;
	o->waiting &= ~bit;
	if (o->reset_wait) {
		merge_op_reset_progress(m);
		return;
	}
	if (!o->waiting)
		op_finish(m);
}

void merge_op_reset_progress(struct merge *m)
{
	struct mhostop *o = &m->op;
	uint8_t st;
	unsigned i;

	if (!o->active || !o->reset_wait)
		return;
	for (i = 0; i < m->nctrl; i++)
		if (m->ctrl[i].state != MC_INIT)
			o->waiting &= ~(1u << i);
	if (o->waiting)
		return;
	st = mc_is_ready(&m->ctrl[0]) ? 0 : HCI_ST_HARDWARE_FAILURE;
	answer(m, HCI_OP_RESET, false, &st, 1);
	op_end(m);
}

/* ------------------------------------------------------------------ */
/*
 * Periodic Inquiry Mode (7.1.3, 7.1.4): the host's commands; the periods
 * themselves are run by evt.c (merge_pinq_period), beside the inquiry's end.
 */

/* 7.1.3: Max > Min > Inquiry_Length, LAP in 0x9E8B00..0x9E8B3F (7.1.1). */
static bool pinq_param_ok(const uint8_t *p)
{
	uint16_t max = get_le16(p), min = get_le16(p + 2);
	uint32_t lap = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16;
	uint8_t len = p[7];

	return len >= 0x01 && len <= 0x30 && min >= 0x0002 && max >= 0x0003 &&
	       max > min && min > len && lap >= 0x9e8b00 && lap <= 0x9e8b3f;
}

static void pinq_start(struct merge *m)
{
	struct mhostop *o = &m->op;
	uint8_t st = 0;

	if (!pinq_param_ok(o->param)) {
		log_info("merge: the host's Periodic Inquiry Mode has periods %u..%u and "
			 "length %u (7.1.3 wants Max > Min > Length): refused",
			 get_le16(o->param + 2), get_le16(o->param), o->param[7]);
		st = HCI_ST_INVALID_PARAMETERS;
	} else if (m->pinq_mode || m->inq_active) {
		st = HCI_ST_COMMAND_DISALLOWED;	/* an inquiry runs already */
	}
	answer(m, o->op, false, &st, 1);
	op_end(m);
	if (st)
		return;
	m->pinq_mode = true;
	m->pinq_max = get_le16(o->param);
	m->pinq_min = get_le16(o->param + 2);
	memcpy(m->pinq_inq, o->param + 4, 5);
	merge_pinq_period(m);
}

static void pinq_exit(struct merge *m)
{
	uint8_t st = 0;
	unsigned i;

	if (!m->pinq_mode) {
		st = HCI_ST_COMMAND_DISALLOWED;	/* 7.1.4: not in the mode */
	} else {
		/* 7.1.4: an inquiry of the period running ends, without Inquiry Complete. */
		m->pinq_mode = false;
		m->pinq_due = false;
		loop_timer_disarm(m->pinq_timer);
		for (i = 0; i < m->nctrl; i++) {
			struct mctrl *c = &m->ctrl[i];

			if (c->inq_running && mc_is_ready(c))
				mc_queue(c, TAG_QUIET, HCI_OP_INQUIRY_CANCEL, NULL, 0);
			/* One still asked is cancelled when it answers. */
			c->inq_running = false;
			c->pinq_wait = false;
		}
		m->inq_active = false;
	}
	answer(m, m->op.op, false, &st, 1);
	op_end(m);
}

/* ------------------------------------------------------------------ */
/* Dispatch */

static void send_to(struct merge *m, uint32_t targets, int primary)
{
	struct mhostop *o = &m->op;
	unsigned i;

	o->primary = primary;
	o->waiting = 0;
	for (i = 0; i < m->nctrl; i++) {
		if (!(targets & (1u << i)))
			continue;
		o->waiting |= 1u << i;
		if (send_host_param(&m->ctrl[i], TAG_HOST, o->op, o->param, o->plen) < 0)
			o->waiting &= ~(1u << i);
	}
	/* A queue full or a controller gone while sending: answered now. */
	for (i = 0; i < m->nctrl; i++)
		if ((o->waiting & (1u << i)) && !mc_is_ready(&m->ctrl[i]))
			o->waiting &= ~(1u << i);
	if (o->active && !o->waiting)
		op_finish(m);
}

static void host_reset(struct merge *m)
{
	struct mhostop *o = &m->op;
	unsigned i;

	/*
	 * Reset (7.3.2): every controller is reset and initialised again
	 * by the merge; their links end without events, as the host
	 * expects of a Reset. The merge's memory of which side a device is
	 * on is not controller state and stays.
	 */
	for (i = 0; i < MERGE_MAX_LINKS; i++)
		if (m->links[i].used)
			merge_link_free(m, &m->links[i]);
	merge_host_reset_state(m);
	m->h_acl_inflight = 0;
	m->h_le_inflight = 0;
	o->reset_wait = true;
	o->waiting = 0;
	for (i = 0; i < m->nctrl; i++) {
		if (m->ctrl[i].state != MC_READY && m->ctrl[i].state != MC_INIT)
			continue;
		o->waiting |= 1u << i;
		m->ctrl_up(m, i);
	}
	merge_op_reset_progress(m);
}

static int side_of(struct merge *m, const uint8_t *addr)
{
	struct bdaddr a;
	int s;

	memcpy(a.b, addr, 6);
	s = merge_dev_side(m, &a);
	if (s < 0 || !mc_is_ready(&m->ctrl[s]))
		s = 0;	/* never seen: the local radio */
	return s;
}

static void special(struct merge *m)
{
	struct mhostop *o = &m->op;
	uint32_t ready = merge_ready_mask(m), t = 0;
	struct bdaddr a;
	unsigned i;
	int s;

	switch (o->op) {
	case HCI_OP_RESET:
		host_reset(m);
		return;
	case HCI_OP_PERIODIC_INQUIRY:
		pinq_start(m);
		return;
	case HCI_OP_EXIT_PERIODIC_INQUIRY:
		pinq_exit(m);
		return;
	case HCI_OP_INQUIRY:
	case HCI_OP_INQUIRY_CANCEL:
		if (m->pinq_mode) {
			/* 7.1.3: periodic inquiry runs; the host leaves it with 7.1.4. */
			answer_err(m, o->def, o->op, o->param, o->plen,
				   HCI_ST_COMMAND_DISALLOWED);
			op_end(m);
			return;
		}
		break;
	default:
		break;
	}
	switch (o->op) {
	case HCI_OP_INQUIRY:
		/* Both sides inquire; Inquiry Complete once all ended (7.1.1, 7.7.1). */
		m->inq_active = true;
		send_to(m, ready, 0);
		return;
	case HCI_OP_INQUIRY_CANCEL:
		/* 7.1.2: no Inquiry Complete follows a cancel. */
		for (i = 0; i < m->nctrl; i++)
			if (m->ctrl[i].inq_running && mc_is_ready(&m->ctrl[i])) {
				t |= 1u << i;
				m->ctrl[i].inq_running = false;
			}
		m->inq_active = false;
		if (!t) {
			send_to(m, 1, 0);	/* the local's own answer (Disallowed) */
			return;
		}
		send_to(m, t, (t & 1) ? 0 : __builtin_ctz(t));
		return;
	case HCI_OP_CREATE_CONN:
		memcpy(a.b, o->param, 6);
		s = merge_dev_side(m, &a);
		if (s < 0 || !mc_is_ready(&m->ctrl[s])) {
			/*
			 * A device no side reported (a bonded one bluetoothd
			 * reconnects to): paged on every side, the first to
			 * connect wins and the others are cancelled (evt.c).
			 */
			for (i = 0; i < m->nctrl; i++) {
				struct mpend *pd;

				if (!(ready & (1u << i)))
					continue;
				pd = merge_pend_add(m, MP_CONN, i, &a);
				if (!pd) {
					ready &= ~(1u << i);
					continue;
				}
				pd->race = true;
			}
			send_to(m, ready ? ready : 1, 0);
			return;
		}
		merge_pend_add(m, MP_CONN, (unsigned)s, &a);
		send_to(m, 1u << s, s);
		return;
	case HCI_OP_CREATE_CONN_CANCEL:
		/* 7.1.7: every side still paging the device. */
		memcpy(a.b, o->param, 6);
		t = merge_pend_race_ctrls(m, &a);
		if (!t) {
			s = side_of(m, o->param);
			send_to(m, 1u << s, s);
			return;
		}
		send_to(m, t, (t & 1) ? 0 : __builtin_ctz(t));
		return;
	case HCI_OP_REMOTE_NAME_REQ:
		s = side_of(m, o->param);
		memcpy(a.b, o->param, 6);
		merge_pend_add(m, MP_NAME, (unsigned)s, &a);
		send_to(m, 1u << s, s);
		return;
	case HCI_OP_LE_CREATE_CONN:
		/*
		 * 7.8.12: with the accept list (Initiator_Filter_Policy 1),
		 * or for a device no side reported yet, every side tries
		 * and the first to connect wins (evt.c); else the device's
		 * side.
		 */
		s = -1;
		if (o->param[4] == 0) {
			memcpy(a.b, o->param + 6, 6);
			s = merge_dev_side(m, &a);
			if (s >= 0 && !mc_is_ready(&m->ctrl[s]))
				s = -1;
		}
		m->le_create_active = true;
		m->le_winner = -1;
		m->le_host_cancel = false;
		for (i = 0; i < m->nctrl; i++)
			m->ctrl[i].le_cancel_sent = false;
		send_to(m, s >= 0 ? 1u << s : ready, s >= 0 ? s : 0);
		return;
	case HCI_OP_LE_CREATE_CONN_CANCEL:
		for (i = 0; i < m->nctrl; i++)
			if (m->ctrl[i].le_create && !m->ctrl[i].le_cancel_sent &&
			    mc_is_ready(&m->ctrl[i])) {
				t |= 1u << i;
				m->ctrl[i].le_cancel_sent = true;
			}
		if (!t || m->le_winner >= 0) {
			/* Nothing to cancel any more: the local's own answer (Disallowed). */
			send_to(m, 1, 0);
			return;
		}
		m->le_host_cancel = true;
		send_to(m, t, (t & 1) ? 0 : __builtin_ctz(t));
		return;
	case HCI_OP_READ_CLOCK:
		/* 7.5.6: Which_Clock 0 is the local clock, the handle ignored. */
		if (o->param[2] == 0) {
			send_to(m, 1, 0);
			return;
		}
		{
			struct mlink *l = merge_link_by_vh(m, get_le16(o->param) & 0x0fff);

			if (!l) {
				answer_err(m, o->def, o->op, o->param, o->plen,
					   HCI_ST_UNKNOWN_CONN_ID);
				op_end(m);
				return;
			}
			o->vh = l->vh;
			put_le16(o->param, l->real);
			send_to(m, 1u << l->ctrl, l->ctrl);
		}
		return;
	default:
		answer_err(m, o->def, o->op, o->param, o->plen, HCI_ST_UNKNOWN_COMMAND);
		op_end(m);
		return;
	}
}

void merge_host_cmd(struct merge *m, const uint8_t *h4, size_t len)
{
	struct mhostop *o = &m->op;
	const struct mcmd_def *d;
	struct h4_pkt p;
	struct mlink *l;

	if (h4_parse(&p, h4, len, 0) < 0 || p.type != H4_CMD)
		return;	/* checked by merge_host_input */
	d = merge_cmd_find(p.cmd.opcode);
	if (!d) {
		log_debug("merge: the host's 0x%04x is not supported: Unknown HCI Command",
			  p.cmd.opcode);
		answer_err(m, NULL, p.cmd.opcode, NULL, 0, HCI_ST_UNKNOWN_COMMAND);
		return;
	}
	if ((d->flags & MF_MIN) ? p.cmd.plen < d->plen : p.cmd.plen != d->plen) {
		log_info("merge: the host's 0x%04x has %u parameter bytes, not %u: refused",
			 p.cmd.opcode, p.cmd.plen, d->plen);
		m->st.bad_host++;
		answer_err(m, d, p.cmd.opcode, p.cmd.param, p.cmd.plen,
			   HCI_ST_INVALID_PARAMETERS);
		return;
	}
	memset(o, 0, sizeof(*o));
	o->active = true;
	o->def = d;
	o->op = p.cmd.opcode;
	o->plen = p.cmd.plen;
	memcpy(o->param, p.cmd.param, p.cmd.plen);
	o->first_other = -1;
	o->primary = -1;
	if (d->op != HCI_OP_RESET && !mc_is_ready(&m->ctrl[0])) {
		/* The host's own radio is down: it was told (Hardware Error). */
		answer_err(m, d, o->op, o->param, o->plen, HCI_ST_HARDWARE_FAILURE);
		op_end(m);
		return;
	}
	switch (d->route) {
	case RT_LOCAL:
		send_to(m, 1, 0);
		break;
	case RT_ALL:
	case RT_ANY:
		send_to(m, merge_ready_mask(m), 0);
		break;
	case RT_ADDR:
		send_to(m, 1u << side_of(m, o->param), side_of(m, o->param));
		break;
	case RT_HANDLE:
		l = merge_link_by_vh(m, get_le16(o->param) & 0x0fff);
		if (!l) {
			/* A handle of no side: as a controller would say (7.1.6 etc.). */
			log_info("merge: the host's 0x%04x names handle 0x%03x, which no "
				 "controller has: Unknown Connection Identifier", o->op,
				 get_le16(o->param) & 0x0fff);
			m->st.bad_host++;
			answer_err(m, d, o->op, o->param, o->plen, HCI_ST_UNKNOWN_CONN_ID);
			op_end(m);
			break;
		}
		o->vh = l->vh;
		put_le16(o->param, (uint16_t)((get_le16(o->param) & 0xf000) | l->real));
		send_to(m, 1u << l->ctrl, l->ctrl);
		break;
	default:
		special(m);
		break;
	}
}
