/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "handlemap.h"
#include "mux_tctl.h"

void tbdaddr(struct bdaddr *a, uint8_t last)
{
	static const uint8_t base[6] = { 0x00, 0x00, 0x00, 0xcc, 0xbb, 0xaa };

	memcpy(a->b, base, 6);
	a->b[0] = last;
}

struct tctl *tctl_new(uint16_t acl_pkts, uint16_t le_pkts)
{
	struct tctl *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pktq_init(&t->out, 0, 0);
	t->acl_pkts = acl_pkts;
	t->le_pkts = le_pkts;
	t->next_handle = 0x0040;
	return t;
}

void tctl_free(struct tctl *t)
{
	if (!t)
		return;
	pktq_clear(&t->out);
	free(t);
}

static void q(struct tctl *t, const uint8_t *p, int n)
{
	if (n > 0)
		pktq_push(&t->out, p, (size_t)n);
}

void tctl_event(struct tctl *t, uint8_t code, const void *p, size_t plen)
{
	uint8_t b[300];

	q(t, b, h4_build_evt(b, sizeof(b), code, p, plen));
}

void tctl_le_event(struct tctl *t, uint8_t sub, const void *p, size_t plen)
{
	uint8_t b[300];

	q(t, b, h4_build_le_evt(b, sizeof(b), sub, p, plen));
}

void tctl_acl(struct tctl *t, uint16_t handle, const void *data, size_t len)
{
	uint8_t b[2048];

	q(t, b, h4_build_acl(b, sizeof(b), handle, HCI_PB_FIRST_FLUSH, 0, data, len));
}

void tctl_sco(struct tctl *t, uint16_t handle, const void *data, size_t len)
{
	uint8_t b[300];

	q(t, b, h4_build_sco(b, sizeof(b), handle, 0, data, len));
}

void tctl_nocp(struct tctl *t, uint16_t handle, uint16_t count)
{
	uint8_t p[5] = { 1 };

	put_le16(p + 1, handle);
	put_le16(p + 3, count);
	tctl_event(t, HCI_EV_NUM_COMP_PKTS, p, 5);
}

void tctl_inquiry_result(struct tctl *t, const struct bdaddr *a)
{
	uint8_t p[255];

	memset(p, 0, sizeof(p));
	p[0] = 1;
	memcpy(p + 1, a->b, 6);
	p[7] = 1;		/* R1 */
	p[9] = 0x04;		/* class */
	p[10] = 0x04;
	p[14] = 0xc4;		/* RSSI -60 */
	p[15] = 2;		/* EIR: flags */
	p[16] = 0x01;
	p[17] = 0x06;
	tctl_event(t, HCI_EV_EXT_INQUIRY_RESULT, p, 255);
}

void tctl_adv_report(struct tctl *t, const struct bdaddr *a, uint8_t atype, uint8_t ev)
{
	uint8_t p[16] = { 1, ev, atype };

	memcpy(p + 3, a->b, 6);
	p[9] = 3;
	p[10] = 2;
	p[11] = 0x01;
	p[12] = 0x06;
	p[13] = 0xc0;
	tctl_le_event(t, HCI_LE_EV_ADV_REPORT, p, 14);
}

void tctl_ext_adv_report(struct tctl *t, const struct bdaddr *a, uint8_t atype,
			 uint16_t et, uint8_t phy, uint8_t sid,
			 const uint8_t *data, uint8_t len)
{
	uint8_t p[255];

	memset(p, 0, sizeof(p));
	p[0] = 1;
	put_le16(p + 1, et);
	p[3] = atype;
	memcpy(p + 4, a->b, 6);
	p[10] = phy;
	p[11] = phy == 0x03 ? 0x03 : 0x00;
	p[12] = sid;
	p[13] = 0x7f;
	p[14] = 0xc0;
	p[24] = len;
	if (len > 255 - 25)
		len = 255 - 25;
	memcpy(p + 25, data, len);
	tctl_le_event(t, HCI_LE_EV_EXT_ADV_REPORT, p, 25u + len);
}

void tctl_inquiry_complete(struct tctl *t)
{
	uint8_t st = 0;

	t->inquiry = false;
	tctl_event(t, HCI_EV_INQUIRY_COMPLETE, &st, 1);
}

void tctl_conn_request(struct tctl *t, const struct bdaddr *a)
{
	uint8_t p[10] = { 0 };

	memcpy(p, a->b, 6);
	p[9] = 0x01;
	tctl_event(t, HCI_EV_CONN_REQUEST, p, 10);
}

static void cc(struct tctl *t, uint16_t op, const void *ret, size_t rlen)
{
	uint8_t b[300];

	q(t, b, h4_build_cc(b, sizeof(b), 1, op, ret, rlen));
}

static void cs(struct tctl *t, uint16_t op, uint8_t st)
{
	uint8_t b[16];

	q(t, b, h4_build_cs(b, sizeof(b), st, 1, op));
}

static void st_only(struct tctl *t, uint16_t op, uint8_t st)
{
	cc(t, op, &st, 1);
}

static void conn_complete(struct tctl *t, const uint8_t *addr, uint8_t st)
{
	uint8_t p[11] = { st };

	put_le16(p + 1, st ? 0 : t->next_handle++);
	memcpy(p + 3, addr, 6);
	p[9] = 0x01;
	tctl_event(t, HCI_EV_CONN_COMPLETE, p, 11);
}

/*
 * LE Connection Complete, or LE Enhanced Connection Complete v2 or v1 when
 * the mux's LE event mask enables it (7.7.65.1, 7.7.65.10), as a
 * controller picks the richest one unmasked.
 */
static void le_conn_complete(struct tctl *t, uint8_t st)
{
	uint8_t p[33];
	bool v2 = t->lemask[5] & 0x01, v1 = t->lemask[1] & 0x02;
	size_t tail = v1 || v2 ? 23 : 11;

	memset(p, 0, sizeof(p));
	p[0] = st;
	put_le16(p + 1, st ? 0 : t->next_handle++);
	p[3] = 0;
	p[4] = t->le_peer_type;
	memcpy(p + 5, t->le_peer.b, 6);
	p[tail] = 0x18;
	p[tail + 4] = 0x2a;
	if (v2) {
		memset(p + 30, 0xff, 3);
		tctl_le_event(t, HCI_LE_EV_ENH_CONN_COMPLETE_V2, p, 33);
	} else if (v1) {
		tctl_le_event(t, HCI_LE_EV_ENH_CONN_COMPLETE, p, 30);
	} else {
		tctl_le_event(t, HCI_LE_EV_CONN_COMPLETE, p, 18);
	}
}

static void answer(struct tctl *t, uint16_t op, const uint8_t *p, uint8_t plen)
{
	uint8_t r[256];

	memset(r, 0, sizeof(r));
	if (op && op == t->unknown_op) {
		st_only(t, op, HCI_ST_UNKNOWN_COMMAND);
		return;
	}
	/*
	 * A command naming a link must name one this controller made: a
	 * session's own handle reaching it untranslated is a breach.
	 */
	if (hmap_cmd_off(mux_cmd_find(op)) >= 0 && plen >= 2 &&
	    !(op == HCI_OP_READ_CLOCK && plen >= 3 && p[2] == 0x00)) {
		uint16_t h = get_le16(p) & 0x0fff;

		if (h < 0x0040 || h >= t->next_handle)
			t->violations++;
	}
	switch (op) {
	case HCI_OP_RESET:
		t->inquiry = t->le_scan = false;
		st_only(t, op, 0);
		break;
	case HCI_OP_READ_LOCAL_VERSION:
		r[1] = 0x0b;
		r[4] = 0x0b;
		put_le16(r + 5, 0x05f1);
		cc(t, op, r, 9);
		break;
	case HCI_OP_READ_LOCAL_FEATURES: {
		static const uint8_t f[8] = { 0xff, 0xff, 0x8f, 0xfe, 0xdb, 0xff, 0x5b, 0x87 };

		memcpy(r + 1, f, 8);
		cc(t, op, r, 9);
		break;
	}
	case HCI_OP_READ_LOCAL_COMMANDS: {
		unsigned i;

		for (i = 0; i < 64; i++)
			r[1 + i] = (uint8_t)~t->cmds_off[i];
		cc(t, op, r, 65);
		break;
	}
	case HCI_OP_READ_BD_ADDR: {
		static const uint8_t a[6] = { 0x55, 0x44, 0x33, 0x22, 0x11, 0x00 };

		memcpy(r + 1, a, 6);
		cc(t, op, r, 7);
		break;
	}
	case HCI_OP_READ_BUFFER_SIZE:
		put_le16(r + 1, 1021);
		r[3] = 64;
		put_le16(r + 4, t->acl_pkts);
		put_le16(r + 6, 8);
		cc(t, op, r, 8);
		break;
	case HCI_OP_READ_LOCAL_EXT_FEATURES:
		r[1] = p[0];
		r[2] = 3;	/* more pages than the mux shows */
		if (p[0] == 2) {
			r[3] = 0x0f;	/* CPB and synchronization train */
			r[4] = 0x01;	/* Secure Connections */
		}
		cc(t, op, r, 11);
		break;
	case HCI_OP_LE_READ_BUFFER_SIZE:
		put_le16(r + 1, t->le_pkts ? (t->le_mtu ? t->le_mtu : 251) : 0);
		r[3] = (uint8_t)t->le_pkts;
		cc(t, op, r, 4);
		break;
	case HCI_OP_LE_READ_LOCAL_FEATURES: {
		unsigned i;

		for (i = 0; i < 8; i++)
			r[1 + i] = (uint8_t)~t->le_feat_off[i];
		cc(t, op, r, 9);
		break;
	}
	case HCI_OP_LE_READ_SUPPORTED_STATES:
		memset(r + 1, 0xff, 8);
		cc(t, op, r, 9);
		break;
	case HCI_OP_LE_SET_EVENT_MASK:
		memcpy(t->lemask, p, 8);
		st_only(t, op, 0);
		break;
	case HCI_OP_READ_LOCAL_NAME:
		memcpy(r + 1, "bgw-phys", 8);
		cc(t, op, r, 249);
		break;
	case HCI_OP_READ_CLASS_OF_DEV:
		r[2] = 0x01;
		cc(t, op, r, 4);
		break;
	case HCI_OP_READ_NUM_SUPPORTED_IAC:
		r[1] = 1;
		cc(t, op, r, 2);
		break;
	case HCI_OP_READ_LOCAL_CODECS:
		cc(t, op, r, 3);
		break;
	case HCI_OP_LE_READ_MAX_DATA_LEN:
		cc(t, op, r, 9);
		break;
	case HCI_OP_LE_READ_TX_POWER:
	case HCI_OP_READ_LOCAL_PAIRING_OPTS:
		cc(t, op, r, 3);
		break;
	case HCI_OP_READ_INQ_RSP_TX_POWER:
	case HCI_OP_LE_READ_ADV_TX_POWER:
		cc(t, op, r, 2);
		break;
	case HCI_OP_SET_EVENT_MASK:
		memcpy(t->evmask, p, 8);
		st_only(t, op, 0);
		break;
	case HCI_OP_WRITE_SCAN_ENABLE:
		t->scan_enable = p[0];
		st_only(t, op, 0);
		break;
	case HCI_OP_INQUIRY:
		cs(t, op, t->inquiry ? HCI_ST_COMMAND_DISALLOWED : 0);
		t->inquiry = true;
		if (plen == 5)
			memcpy(t->inq_params, p, 5);
		break;
	case HCI_OP_INQUIRY_CANCEL:
		st_only(t, op, t->inquiry ? 0 : HCI_ST_COMMAND_DISALLOWED);
		t->inquiry = false;
		break;
	case HCI_OP_CREATE_CONN:
		cs(t, op, 0);
		conn_complete(t, p, 0);
		break;
	case HCI_OP_ACCEPT_CONN_REQ:
		cs(t, op, 0);
		conn_complete(t, p, 0);
		break;
	case HCI_OP_REJECT_CONN_REQ:
		cs(t, op, 0);
		conn_complete(t, p, p[6]);
		break;
	case HCI_OP_DISCONNECT:
		cs(t, op, 0);
		r[0] = 0;
		memcpy(r + 1, p, 2);
		r[3] = HCI_ST_LOCAL_HOST_TERM;
		tctl_event(t, HCI_EV_DISCONN_COMPLETE, r, 4);
		break;
	case HCI_OP_REMOTE_NAME_REQ:
		cs(t, op, 0);
		memcpy(r + 1, p, 6);
		memcpy(r + 7, "remote", 6);
		tctl_event(t, HCI_EV_REMOTE_NAME, r, 255);
		break;
	case HCI_OP_LE_SET_SCAN_PARAM:
		if (t->le_scan) {
			st_only(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		memcpy(t->le_scan_params, p, 7);
		st_only(t, op, 0);
		break;
	case HCI_OP_LE_SET_SCAN_ENABLE:
		if (t->le_scan == p[0] || (t->le_scan && t->le_scan_ext)) {
			st_only(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		t->le_scan = p[0];
		t->le_scan_ext = false;
		st_only(t, op, 0);
		break;
	case HCI_OP_LE_READ_NUM_ADV_SETS:
		r[1] = 4;
		cc(t, op, r, 2);
		break;
	case HCI_OP_LE_READ_MAX_ADV_DATA_LEN:
		put_le16(r + 1, 1650);
		cc(t, op, r, 3);
		break;
	case HCI_OP_LE_SET_EXT_ADV_PARAMS:
		cc(t, op, r, 2);	/* Status, Selected_TX_Power */
		break;
	case HCI_OP_LE_SET_EXT_SCAN_PARAMS:
		/* Not while scanning (7.8.64). */
		if (t->le_scan || plen > sizeof(t->le_escan)) {
			st_only(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		memcpy(t->le_escan, p, plen);
		t->le_escan_len = plen;
		st_only(t, op, 0);
		break;
	case HCI_OP_LE_SET_EXT_SCAN_ENABLE:
		/* The other kind is not switched while one runs (3.1.1). */
		if (t->le_scan == p[0] || (t->le_scan && !t->le_scan_ext)) {
			st_only(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		t->le_scan = p[0];
		t->le_scan_ext = p[0];
		st_only(t, op, 0);
		break;
	case HCI_OP_LE_READ_ACCEPT_LIST_SIZE:
		r[1] = 8;
		cc(t, op, r, 2);
		break;
	case HCI_OP_LE_SET_RANDOM_ADDR:
		memcpy(t->rand_addr, p, 6);
		st_only(t, op, 0);
		break;
	case HCI_OP_LE_CLEAR_ACCEPT_LIST:
	case HCI_OP_LE_ADD_TO_ACCEPT_LIST:
	case HCI_OP_LE_DEL_FROM_ACCEPT_LIST: {
		struct bdaddr a;
		unsigned i;

		/* Not while the initiation uses the list (7.8.15-17). */
		if (t->le_connecting && t->le_al_init) {
			st_only(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		if (op == HCI_OP_LE_CLEAR_ACCEPT_LIST) {
			t->nal = 0;
			st_only(t, op, 0);
			break;
		}
		memcpy(a.b, p + 1, 6);
		for (i = 0; i < t->nal; i++)
			if (t->al[i].type == p[0] && bdaddr_eq(&t->al[i].a, &a))
				break;
		if (op == HCI_OP_LE_DEL_FROM_ACCEPT_LIST) {
			if (i < t->nal)
				t->al[i] = t->al[--t->nal];
		} else if (i == t->nal) {
			if (t->nal == 8) {
				st_only(t, op, HCI_ST_MEMORY_EXCEEDED);
				break;
			}
			t->al[t->nal].type = p[0];
			t->al[t->nal].a = a;
			t->nal++;
		}
		st_only(t, op, 0);
		break;
	}
	case HCI_OP_LE_CREATE_CONN:
		if (t->le_connecting) {
			cs(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		if (p[4] == 1) {
			/* Over the accept list: waits for tctl_le_al_connect(). */
			cs(t, op, 0);
			t->le_connecting = true;
			t->le_al_init = true;
			t->le_al_own[0] = p[12];
			memcpy(t->le_al_own + 1, t->rand_addr, 6);
			t->le_peer_type = p[5];
			memcpy(t->le_peer.b, p + 6, 6);
			break;
		}
		cs(t, op, 0);
		t->le_connecting = true;
		t->le_peer_type = p[5];
		memcpy(t->le_peer.b, p + 6, 6);
		if (t->le_hold_direct)
			break;
		le_conn_complete(t, 0);
		t->le_connecting = false;
		break;
	case HCI_OP_LE_EXT_CREATE_CONN:
		/* The mux checked it (7.8.66); the controller records it. */
		if (t->le_connecting || plen < 10 || plen > sizeof(t->le_ext_params) ||
		    plen != 10 + 16 * __builtin_popcount(p[9] & 0x07)) {
			cs(t, op, HCI_ST_COMMAND_DISALLOWED);
			t->violations++;
			break;
		}
		t->le_ext_conns++;
		memcpy(t->le_ext_params, p, plen);
		t->le_ext_plen = plen;
		cs(t, op, 0);
		t->le_connecting = true;
		t->le_peer_type = p[2];
		memcpy(t->le_peer.b, p + 3, 6);
		if (p[0] == 1) {
			t->le_al_init = true;
			t->le_al_own[0] = p[1];
			memcpy(t->le_al_own + 1, t->rand_addr, 6);
			break;
		}
		if (t->le_hold_direct)
			break;
		le_conn_complete(t, 0);
		t->le_connecting = false;
		break;
	case HCI_OP_LE_CREATE_CONN_CANCEL:
		st_only(t, op, t->le_connecting ? 0 : HCI_ST_COMMAND_DISALLOWED);
		if (t->le_connecting)
			le_conn_complete(t, HCI_ST_UNKNOWN_CONN_ID);
		t->le_connecting = false;
		t->le_al_init = false;
		break;
	case HCI_OP_LE_RAND:
		memset(r + 1, 0x5a, 8);
		cc(t, op, r, 9);
		break;
	case HCI_OP_AUTH_REQUESTED:
	case HCI_OP_SET_CONN_ENCRYPT:
	case HCI_OP_READ_REMOTE_FEATURES:
		cs(t, op, 0);
		break;
	case HCI_OP_READ_REMOTE_VERSION:
		cs(t, op, 0);
		memcpy(r + 1, p, 2);	/* 7.7.12 */
		r[3] = 0x0b;
		put_le16(r + 4, 0x000f);
		put_le16(r + 6, 0x1234);
		tctl_event(t, HCI_EV_REMOTE_VERSION, r, 8);
		break;
	case HCI_OP_READ_RSSI:
		memcpy(r + 1, p, 2);
		r[3] = 0xc0;
		cc(t, op, r, 4);
		break;
	case HCI_OP_READ_LINK_QUALITY:
		memcpy(r + 1, p, 2);
		r[3] = 0xff;
		cc(t, op, r, 4);
		break;
	case HCI_OP_LE_READ_PHY:
		memcpy(r + 1, p, 2);	/* 7.8.47: TX, RX PHY */
		r[3] = 0x01;
		r[4] = 0x02;
		cc(t, op, r, 5);
		break;
	case HCI_OP_LINK_KEY_REPLY:
	case HCI_OP_LINK_KEY_NEG_REPLY:
	case HCI_OP_PIN_CODE_NEG_REPLY:
	case HCI_OP_IO_CAPABILITY_NEG_REPLY:
	case HCI_OP_USER_CONFIRM_NEG_REPLY:
	case HCI_OP_CREATE_CONN_CANCEL:
	case HCI_OP_REMOTE_NAME_REQ_CANCEL:
		memcpy(r + 1, p, 6);
		cc(t, op, r, 7);
		break;
	default:
		if (HCI_OGF(op) == HCI_OGF_VENDOR) {
			st_only(t, op, 0);
			break;
		}
		/* Writes and anything else: success with a status byte. */
		st_only(t, op, 0);
		break;
	}
}

int tctl_send(const uint8_t *h4, size_t len, void *user)
{
	struct tctl *t = user;
	struct h4_pkt pkt;
	unsigned i;

	if (t->down)
		return -EPIPE;
	if (h4_parse(&pkt, h4, len, 0) < 0) {
		t->violations++;
		return 0;
	}
	if (pkt.type == H4_ACL) {
		if (t->acl_rx < TCTL_LOG_MAX) {
			t->acl_rx_handle[t->acl_rx] = pkt.acl.handle;
			t->acl_rx_tag[t->acl_rx] = pkt.acl.pb == HCI_PB_CONT ? 0xff :
						   pkt.acl.dlen > 4 ? pkt.acl.data[4] : 0xfe;
		}
		i = t->acl_rx % 8;
		t->acl_tail_len[i] = pkt.acl.dlen < 32 ? (uint8_t)pkt.acl.dlen : 32;
		memcpy(t->acl_tail[i], pkt.acl.data, t->acl_tail_len[i]);
		t->acl_rx++;
		return 0;
	}
	if (pkt.type == H4_SCO) {
		t->sco_rx++;
		t->sco_rx_last_handle = pkt.sco.handle;
		return 0;
	}
	if (pkt.type != H4_CMD)
		return 0;
	if (t->ncmds < TCTL_LOG_MAX)
		t->cmds[t->ncmds++] = pkt.cmd.opcode;
	/* The contract: one credit (ncmd = 1), and never one opcode twice. */
	for (i = 0; i < t->outstanding; i++)
		if (t->out_ops[i] == pkt.cmd.opcode)
			t->violations++;
	if (t->outstanding >= 1)
		t->violations++;
	if (t->outstanding < 16)
		t->out_ops[t->outstanding++] = pkt.cmd.opcode;
	if (pkt.cmd.opcode == HCI_OP_LINK_KEY_REPLY && pkt.cmd.plen == sizeof(t->lk_reply))
		memcpy(t->lk_reply, pkt.cmd.param, sizeof(t->lk_reply));
	if (pkt.cmd.opcode == HCI_OP_LE_LTK_REPLY && pkt.cmd.plen == sizeof(t->ltk_reply)) {
		memcpy(t->ltk_reply, pkt.cmd.param, sizeof(t->ltk_reply));
		t->ltk_replies++;
	}
	if (pkt.cmd.opcode == HCI_OP_IO_CAPABILITY_NEG_REPLY &&
	    pkt.cmd.plen == sizeof(t->io_neg_reply))
		memcpy(t->io_neg_reply, pkt.cmd.param, sizeof(t->io_neg_reply));
	if (t->hold_cc)
		return 0;
	answer(t, pkt.cmd.opcode, pkt.cmd.param, pkt.cmd.plen);
	return 0;
}

unsigned tctl_pump(struct tctl *t)
{
	unsigned n;
	struct pkt *p;

	for (n = 0; n < 100000 && (p = pktq_pop(&t->out)); n++) {
		struct h4_pkt pkt;
		unsigned i;

		if (h4_parse(&pkt, p->data, p->len, 0) == 0 && pkt.type == H4_EVT &&
		    (pkt.evt.code == HCI_EV_CMD_COMPLETE ||
		     pkt.evt.code == HCI_EV_CMD_STATUS)) {
			uint16_t op = get_le16(pkt.evt.param +
					       (pkt.evt.code == HCI_EV_CMD_COMPLETE ? 1 : 2));

			for (i = 0; i < t->outstanding; i++) {
				if (t->out_ops[i] == op) {
					t->out_ops[i] = t->out_ops[--t->outstanding];
					break;
				}
			}
		}
		mux_ctrl_input(t->mux, p->data, p->len);
		pkt_free(p);
	}
	return n;
}

unsigned tctl_count(const struct tctl *t, uint16_t opcode, unsigned from)
{
	unsigned i, n = 0;

	for (i = from; i < t->ncmds; i++)
		n += t->cmds[i] == opcode;
	return n;
}

bool tctl_al_has(const struct tctl *t, uint8_t type, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < t->nal; i++)
		if (t->al[i].type == type && bdaddr_eq(&t->al[i].a, a))
			return true;
	return false;
}

uint16_t tctl_le_al_connect(struct tctl *t, uint8_t type, const struct bdaddr *a)
{
	uint16_t h = t->next_handle;

	if (!t->le_connecting || !t->le_al_init || !tctl_al_has(t, type, a)) {
		t->violations++;
		return 0;
	}
	t->le_peer_type = type;
	t->le_peer = *a;
	le_conn_complete(t, 0);
	t->le_connecting = false;
	t->le_al_init = false;
	return h;
}
