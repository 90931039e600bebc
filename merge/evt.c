/* SPDX-License-Identifier: MIT */
/*
 * The merge core, controllers' events: handles translated into the host's
 * one handle space, discovery results de-duplicated across sides, each
 * device remembered on the side that reported it, LE connection races
 * settled. An event the merge does not know how to attribute is dropped:
 * passing it on could put another side's handle in front of the host.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "merge_int.h"

/* ------------------------------------------------------------------ */
/* Discovery reports and attempts answered (the tables are link.c's) */

/*
 * A discovery report of addr from controller c: pass it or not. The
 * first side to report a device owns it, and keeps it across discoveries
 * (connections are routed there); the same device reported by another
 * side is dropped while its owner is up. If the owner is gone, the new
 * side takes it over.
 */
static bool report_keep(struct merge *m, struct mctrl *c, const uint8_t *addr)
{
	struct bdaddr a;
	int s;

	memcpy(a.b, addr, 6);
	s = merge_dev_side(m, &a);
	if (s >= 0 && (unsigned)s != c->idx && mc_is_ready(&m->ctrl[s])) {
		m->st.dropped_dups++;
		return false;
	}
	merge_dev_set(m, &a, c->idx);
	return true;
}

static struct mpend *pend_find(struct merge *m, uint8_t kind, unsigned ctrl,
			       const uint8_t *addr)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_PEND; i++)
		if (m->pend[i].kind == kind && m->pend[i].ctrl == ctrl &&
		    memcmp(m->pend[i].addr.b, addr, 6) == 0)
			return &m->pend[i];
	return NULL;
}

static void pend_done(struct merge *m, uint8_t kind, unsigned ctrl, const uint8_t *addr)
{
	struct mpend *pd = pend_find(m, kind, ctrl, addr);

	if (pd)
		memset(pd, 0, sizeof(*pd));
}

/* ------------------------------------------------------------------ */
/* To the host, through its event masks (7.3.1, 7.8.1) */

static bool host_wants(struct merge *m, uint8_t code, uint8_t sub)
{
	unsigned bit;

	switch (code) {
	case HCI_EV_CMD_COMPLETE:
	case HCI_EV_CMD_STATUS:
	case HCI_EV_NUM_COMP_PKTS:
		return true;
	default:
		break;
	}
	if (code >= 0x40)	/* page 2 events: the host's page 2 went to all */
		return true;
	bit = code - 1u;
	if (!(m->host_evmask[bit / 8] & (1u << (bit % 8))))
		return false;
	if (code == HCI_EV_LE_META && sub >= 1 && sub <= 64) {
		bit = sub - 1u;
		return m->host_lemask[bit / 8] & (1u << (bit % 8));
	}
	return true;
}

static void to_host(struct merge *m, const uint8_t *param, size_t plen, uint8_t code)
{
	if (host_wants(m, code, code == HCI_EV_LE_META && plen ? param[0] : 0))
		merge_emit_evt(m, code, param, plen);
}

/* ------------------------------------------------------------------ */
/* Discovery */

void merge_inq_ctrl_ended(struct merge *m, struct mctrl *c)
{
	unsigned i;
	uint8_t st = 0;

	if (c)
		c->inq_running = false;
	if (!m->inq_active)
		return;
	if (m->op.active && m->op.op == HCI_OP_INQUIRY)
		return;	/* not all sides have answered the Inquiry yet */
	for (i = 0; i < m->nctrl; i++)
		if ((m->ctrl[i].inq_running || m->ctrl[i].pinq_wait) &&
		    mc_is_ready(&m->ctrl[i]))
			return;
	/*
	 * 7.7.1: one Inquiry Complete once every side's inquiry ended; in
	 * Periodic Inquiry Mode one per period, failed only if every side
	 * refused the period's Inquiry.
	 */
	if (m->pinq_mode && !m->pinq_ok)
		st = m->pinq_status;
	m->inq_active = false;
	to_host(m, &st, 1, HCI_EV_INQUIRY_COMPLETE);
	if (m->pinq_mode && m->pinq_due)
		merge_pinq_period(m);
}

/*
 * Inquiry Result (7.7.2) and with RSSI (7.7.33): Num_Responses, then
 * 14-byte entries starting with the BD_ADDR, as Linux reads them
 * (hci_event.c: struct inquiry_info, inquiry_info_rssi). Rebuilt with the
 * kept entries only.
 */
static void inq_result(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t out[HCI_MAX_PARAM];
	unsigned n, i, kept = 0;
	const size_t es = 14;

	if (p->evt.plen < 1)
		goto bad;
	n = p->evt.param[0];
	if ((size_t)p->evt.plen != 1 + n * es)
		goto bad;
	for (i = 0; i < n; i++) {
		const uint8_t *e = p->evt.param + 1 + i * es;

		if (report_keep(m, c, e))
			memcpy(out + 1 + kept++ * es, e, es);
	}
	if (!kept)
		return;
	out[0] = (uint8_t)kept;
	to_host(m, out, 1 + kept * es, p->evt.code);
	return;
bad:
	log_warn("merge: controller %u sent a malformed inquiry result: dropped", c->idx);
	m->st.bad_ctrl++;
}

/* LE Advertising Report (7.7.65.2): per report type, addr type, addr, len, data, rssi. */
static void le_adv_report(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t out[HCI_MAX_PARAM];
	struct wbuf w;
	struct cur r;
	unsigned n, i, kept = 0;

	cur_init(&r, p->evt.param + 1, p->evt.plen - 1u);
	n = cur_u8(&r);
	wbuf_init(&w, out, sizeof(out));
	wbuf_u8(&w, HCI_LE_EV_ADV_REPORT);
	wbuf_u8(&w, 0);	/* count, filled in below */
	for (i = 0; i < n && cur_is_ok(&r); i++) {
		const uint8_t *hdr = cur_bytes(&r, 8);
		uint8_t dl = cur_u8(&r);
		const uint8_t *data = cur_bytes(&r, dl);
		uint8_t rssi = cur_u8(&r);

		if (!cur_is_ok(&r))
			break;
		if (!report_keep(m, c, hdr + 2))
			continue;
		wbuf_bytes(&w, hdr, 8);
		wbuf_u8(&w, dl);
		wbuf_bytes(&w, data, dl);
		wbuf_u8(&w, rssi);
		kept++;
	}
	if (!cur_is_done(&r) || !wbuf_is_ok(&w)) {
		log_warn("merge: controller %u sent a malformed advertising report: dropped",
			 c->idx);
		m->st.bad_ctrl++;
		return;
	}
	if (!kept)
		return;
	out[1] = (uint8_t)kept;
	to_host(m, out, w.len, HCI_EV_LE_META);
}

/* LE Extended Advertising Report (7.7.65.13): 24 fixed bytes then data. */
static void le_ext_adv_report(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t out[HCI_MAX_PARAM];
	struct wbuf w;
	struct cur r;
	unsigned n, i, kept = 0;

	cur_init(&r, p->evt.param + 1, p->evt.plen - 1u);
	n = cur_u8(&r);
	wbuf_init(&w, out, sizeof(out));
	wbuf_u8(&w, HCI_LE_EV_EXT_ADV_REPORT);
	wbuf_u8(&w, 0);
	for (i = 0; i < n && cur_is_ok(&r); i++) {
		const uint8_t *hdr = cur_bytes(&r, 23);
		uint8_t dl = cur_u8(&r);
		const uint8_t *data = cur_bytes(&r, dl);

		if (!cur_is_ok(&r))
			break;
		if (!report_keep(m, c, hdr + 3))
			continue;
		wbuf_bytes(&w, hdr, 23);
		wbuf_u8(&w, dl);
		wbuf_bytes(&w, data, dl);
		kept++;
	}
	if (!cur_is_done(&r) || !wbuf_is_ok(&w)) {
		log_warn("merge: controller %u sent a malformed extended advertising report: "
			 "dropped", c->idx);
		m->st.bad_ctrl++;
		return;
	}
	if (!kept)
		return;
	out[1] = (uint8_t)kept;
	to_host(m, out, w.len, HCI_EV_LE_META);
}

/* ------------------------------------------------------------------ */
/* LE connection races (7.8.12, 7.8.13) */

static void quiet_disconnect(struct merge *m, struct mctrl *c, struct mlink *l)
{
	uint8_t p[3];

	put_le16(p, l->real);
	p[2] = HCI_ST_REMOTE_USER_TERM;
	l->hidden = true;
	if (mc_queue(c, TAG_QUIET, HCI_OP_DISCONNECT, p, 3) < 0)
		merge_link_free(m, l);
	(void)m;
}

static void le_cancel_others(struct merge *m, unsigned winner)
{
	unsigned i;

	for (i = 0; i < m->nctrl; i++) {
		struct mctrl *o = &m->ctrl[i];

		if (i == winner || !o->le_create || o->le_cancel_sent || !mc_is_ready(o))
			continue;
		o->le_cancel_sent = true;
		mc_queue(o, TAG_QUIET, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0);
	}
}

static bool le_any_pending(struct merge *m)
{
	unsigned i;

	for (i = 0; i < m->nctrl; i++)
		if (m->ctrl[i].le_create && mc_is_ready(&m->ctrl[i]))
			return true;
	return false;
}

/* A side's LE initiation ended without a connection (failure, cancel, gone). */
void merge_le_create_ctrl_ended(struct merge *m, struct mctrl *c, uint8_t status)
{
	uint8_t b[19];

	if (!c->le_create)
		return;
	c->le_create = false;
	if (m->le_winner >= 0 && !le_any_pending(m))
		m->le_create_active = false;	/* the race is over */
	if (!m->le_create_active || m->le_winner >= 0 || le_any_pending(m))
		return;
	if (m->op.active && m->op.op == HCI_OP_LE_CREATE_CONN)
		return;	/* the command itself fails instead */
	/* The last side gave up: one LE Connection Complete with its status. */
	m->le_create_active = false;
	memset(b, 0, sizeof(b));
	b[0] = HCI_LE_EV_CONN_COMPLETE;
	b[1] = m->le_host_cancel ? HCI_ST_UNKNOWN_CONN_ID : status;
	to_host(m, b, sizeof(b), HCI_EV_LE_META);
}

static void le_conn_complete(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t b[HCI_MAX_PARAM];
	uint8_t plen = p->evt.plen;
	struct bdaddr a;
	struct mlink *l;
	bool ours = c->le_create;

	/* 7.7.65.1 is 19 bytes, 7.7.65.10 is 31: sub, status, handle, role, type, addr. */
	if (plen < 12) {
		log_warn("merge: controller %u sent a short LE Connection Complete", c->idx);
		m->st.bad_ctrl++;
		return;
	}
	memcpy(b, p->evt.param, plen);
	memcpy(a.b, b + 6, 6);
	if (ours)
		c->le_create = false;
	if (b[1] != 0) {
		if (!ours) {
			to_host(m, b, plen, HCI_EV_LE_META);
			return;
		}
		c->le_create = true;	/* merge_le_create_ctrl_ended clears it */
		merge_le_create_ctrl_ended(m, c, b[1]);
		return;
	}
	l = merge_link_new(m, c->idx, get_le16(b + 2) & 0x0fff, ML_LE, &a);
	if (!l) {
		struct mlink tmp = { .real = get_le16(b + 2) & 0x0fff };
		uint8_t d[3];

		log_warn("merge: no room for controller %u's LE link: disconnected", c->idx);
		put_le16(d, tmp.real);
		d[2] = HCI_ST_REJ_LIMITED_RESOURCES;
		mc_queue(c, TAG_QUIET, HCI_OP_DISCONNECT, d, 3);
		return;
	}
	if (ours && m->le_create_active && m->le_winner >= 0) {
		/* Lost the race after all: the other side connected first. */
		quiet_disconnect(m, c, l);
		return;
	}
	if (ours && m->le_create_active) {
		m->le_winner = (int)c->idx;
		le_cancel_others(m, c->idx);
		if (!le_any_pending(m))
			m->le_create_active = false;
	}
	merge_dev_set(m, &a, c->idx);
	put_le16(b + 2, l->vh);
	to_host(m, b, plen, HCI_EV_LE_META);
}

/* ------------------------------------------------------------------ */
/* Handles in events */

/* Events whose parameters carry a Connection_Handle, and where (7.7). */
static int evt_handle_off(uint8_t code)
{
	switch (code) {
	case HCI_EV_DISCONN_COMPLETE:		/* 7.7.5 */
	case HCI_EV_AUTH_COMPLETE:		/* 7.7.6 */
	case HCI_EV_ENCRYPT_CHANGE:		/* 7.7.8 */
	case HCI_EV_CHANGE_LINK_KEY_COMPLETE:	/* 7.7.9 */
	case HCI_EV_REMOTE_FEATURES:		/* 7.7.11 */
	case HCI_EV_REMOTE_VERSION:		/* 7.7.12 */
	case HCI_EV_QOS_SETUP_COMPLETE:		/* 7.7.13 */
	case HCI_EV_MODE_CHANGE:		/* 7.7.20 */
	case 0x1c:	/* Read Clock Offset Complete, 7.7.28 */
	case 0x1d:	/* Connection Packet Type Changed, 7.7.29 */
	case 0x21:	/* Flow Specification Complete, 7.7.32 */
	case 0x23:	/* Read Remote Extended Features Complete, 7.7.34 */
	case 0x2d:	/* Synchronous Connection Changed, 7.7.36 */
	case 0x2e:	/* Sniff Subrating, 7.7.37 */
	case 0x30:	/* Encryption Key Refresh Complete, 7.7.39 */
		return 1;
	case HCI_EV_FLUSH_OCCURRED:		/* 7.7.17 */
	case 0x1b:	/* Max Slots Change, 7.7.27 */
	case 0x1e:	/* QoS Violation, 7.7.30 */
	case 0x38:	/* Link Supervision Timeout Changed, 7.7.46 */
	case 0x39:	/* Enhanced Flush Complete, 7.7.47 */
	case 0x57:	/* Authenticated Payload Timeout Expired, 7.7.75 */
		return 0;
	default:
		return -1;
	}
}

/* Events naming a device by BD_ADDR, and where; the pairing ones mark its side. */
static int evt_addr_off(uint8_t code, bool *pairing)
{
	*pairing = true;
	switch (code) {
	case HCI_EV_PIN_CODE_REQ:	/* 7.7.22 */
	case HCI_EV_LINK_KEY_REQ:	/* 7.7.23 */
	case HCI_EV_LINK_KEY_NOTIFY:	/* 7.7.24 */
	case 0x31:	/* IO Capability Request, 7.7.40 */
	case 0x32:	/* IO Capability Response, 7.7.41 */
	case 0x33:	/* User Confirmation Request, 7.7.42 */
	case 0x34:	/* User Passkey Request, 7.7.43 */
	case 0x35:	/* Remote OOB Data Request, 7.7.44 */
	case 0x3b:	/* User Passkey Notification, 7.7.48 */
	case 0x3c:	/* Keypress Notification, 7.7.49 */
	case 0x3d:	/* Remote Host Supported Features, 7.7.50 */
		return 0;
	case 0x36:	/* Simple Pairing Complete, 7.7.45: status first */
		return 1;
	case HCI_EV_CONN_REQUEST:	/* 7.7.4 */
		*pairing = true;	/* the request came from there: answer there */
		return 0;
	case HCI_EV_REMOTE_NAME:	/* 7.7.7 */
	case HCI_EV_ROLE_CHANGE:	/* 7.7.18 */
		*pairing = false;
		return 1;
	case 0x20:	/* Page Scan Repetition Mode Change, 7.7.31 */
		*pairing = false;
		return 0;
	default:
		return -1;
	}
}

/*
 * LE subevents carrying a handle, and its offset in the LE Meta parameters,
 * the subevent byte at 0: after a status byte (offset 2) or straight after
 * the subevent (offset 1), Core Vol 4 Part E 7.7.65.
 */
static int le_handle_off(uint8_t sub)
{
	switch (sub) {
	case HCI_LE_EV_CONN_UPDATE_COMPLETE:	/* 7.7.65.3 */
	case HCI_LE_EV_REMOTE_FEATURES:		/* 7.7.65.4 */
	case 0x0c:	/* PHY Update Complete, 7.7.65.12 */
		return 2;
	case HCI_LE_EV_LTK_REQUEST:		/* 7.7.65.5 */
	case 0x06:	/* Remote Connection Parameter Request, 7.7.65.6 */
	case 0x07:	/* Data Length Change, 7.7.65.7 */
	case 0x14:	/* Channel Selection Algorithm, 7.7.65.20 */
		return 1;
	case 0x12:	/* Advertising Set Terminated, 7.7.65.18 */
		return 3;
	default:
		return -1;
	}
}

/* Rewrite the handle at off; false (logged) if the merge does not know it. */
static bool xlate(struct merge *m, struct mctrl *c, uint8_t *b, size_t plen, size_t off,
		  uint8_t code, struct mlink **out)
{
	struct mlink *l;
	uint16_t h;

	if (plen < off + 2) {
		log_warn("merge: controller %u sent a short event 0x%02x: dropped", c->idx, code);
		m->st.bad_ctrl++;
		return false;
	}
	h = get_le16(b + off) & 0x0fff;
	l = merge_link_by_real(m, c->idx, h);
	if (!l) {
		log_warn("merge: controller %u sent event 0x%02x for handle 0x%03x, which it "
			 "never connected: dropped", c->idx, code, h);
		m->st.bad_ctrl++;
		return false;
	}
	if (out)
		*out = l;
	if (l->hidden)
		return false;
	put_le16(b + off, l->vh);
	return true;
}

static void le_meta(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t b[HCI_MAX_PARAM];
	uint8_t sub;
	int off;

	if (p->evt.plen < 1)
		return;
	sub = p->evt.param[0];
	switch (sub) {
	case HCI_LE_EV_CONN_COMPLETE:
	case HCI_LE_EV_ENH_CONN_COMPLETE:
		le_conn_complete(m, c, p);
		return;
	case HCI_LE_EV_ADV_REPORT:
		le_adv_report(m, c, p);
		return;
	case HCI_LE_EV_EXT_ADV_REPORT:
		le_ext_adv_report(m, c, p);
		return;
	default:
		break;
	}
	memcpy(b, p->evt.param, p->evt.plen);
	off = le_handle_off(sub);
	if (off < 0) {
		if (sub == 0x0b || sub == 0x08 || sub == 0x09 || sub == 0x11 || sub == 0x13) {
			/* Directed report, P-256/DHKey, scan timeout, scan request: no handle. */
			to_host(m, b, p->evt.plen, HCI_EV_LE_META);
			return;
		}
		log_debug("merge: controller %u: LE subevent 0x%02x not carried", c->idx, sub);
		return;
	}
	/* Advertising Set Terminated without a connection names none. */
	if (sub == 0x12 && p->evt.plen >= 2 && b[1] != 0) {
		to_host(m, b, p->evt.plen, HCI_EV_LE_META);
		return;
	}
	if (xlate(m, c, b, p->evt.plen, (size_t)off, HCI_EV_LE_META, NULL))
		to_host(m, b, p->evt.plen, HCI_EV_LE_META);
}

static void page_cancel_others(struct merge *m, const struct bdaddr *a, unsigned winner)
{
	unsigned i;

	for (i = 0; i < MERGE_MAX_PEND; i++) {
		struct mpend *pd = &m->pend[i];

		if (pd->kind != MP_CONN || !pd->race || pd->lost || pd->ctrl == winner ||
		    !bdaddr_eq(&pd->addr, a))
			continue;
		/* 7.1.7: its Connection Complete (0x02) follows, absorbed. */
		pd->lost = true;
		mc_queue(&m->ctrl[pd->ctrl], TAG_QUIET, HCI_OP_CREATE_CONN_CANCEL, a->b, 6);
	}
}

static void conn_complete(struct merge *m, struct mctrl *c, const struct h4_pkt *p, bool sync)
{
	uint8_t b[HCI_MAX_PARAM];
	struct mpend *pd;
	bool race = false, lost = false, last = false;
	struct bdaddr a;
	struct mlink *l;

	/* 7.7.3: status, handle, addr, link type, enc (11); 7.7.35 Sync: 17. */
	if (p->evt.plen < (sync ? 17 : 11)) {
		log_warn("merge: controller %u sent a short connection complete", c->idx);
		m->st.bad_ctrl++;
		return;
	}
	memcpy(b, p->evt.param, p->evt.plen);
	memcpy(a.b, b + 3, 6);
	pd = sync ? NULL : pend_find(m, MP_CONN, c->idx, b + 3);
	if (pd) {
		race = pd->race;
		lost = pd->lost;
		last = merge_pend_race_last(m, pd);
		memset(pd, 0, sizeof(*pd));
	}
	if (b[0] != 0) {
		/* A side of a race that failed: only the last one speaks. */
		if (race && !last)
			return;
		put_le16(b + 1, 0);
		to_host(m, b, p->evt.plen, p->evt.code);
		return;
	}
	l = merge_link_new(m, c->idx, get_le16(b + 1) & 0x0fff,
			   sync || b[9] == 0x00 ? ML_SCO : ML_ACL, &a);
	if (!l) {
		uint8_t d[3];

		log_warn("merge: no room for controller %u's link: disconnected", c->idx);
		put_le16(d, get_le16(b + 1) & 0x0fff);
		d[2] = HCI_ST_REJ_LIMITED_RESOURCES;
		mc_queue(c, TAG_QUIET, HCI_OP_DISCONNECT, d, 3);
		if (lost)
			return;	/* the host has the winner's */
		if (race)
			page_cancel_others(m, &a, c->idx);
		b[0] = HCI_ST_REJ_LIMITED_RESOURCES;
		put_le16(b + 1, 0);
		to_host(m, b, p->evt.plen, p->evt.code);
		return;
	}
	if (lost) {
		/* Another side connected first: this one ends quietly. */
		quiet_disconnect(m, c, l);
		return;
	}
	if (race)
		page_cancel_others(m, &a, c->idx);
	if (!sync)
		merge_dev_set(m, &a, c->idx);
	put_le16(b + 1, l->vh);
	to_host(m, b, p->evt.plen, p->evt.code);
}

void merge_ctrl_evt(struct merge *m, struct mctrl *c, const struct h4_pkt *p)
{
	uint8_t b[HCI_MAX_PARAM];
	uint8_t code = p->evt.code;
	struct mlink *l = NULL;
	bool pairing;
	int off;

	switch (code) {
	case HCI_EV_INQUIRY_RESULT:
	case HCI_EV_INQUIRY_RESULT_RSSI:
		inq_result(m, c, p);
		return;
	case HCI_EV_EXT_INQUIRY_RESULT:	/* 7.7.38: one response, BD_ADDR first */
		if (p->evt.plen < 7 || p->evt.param[0] != 1) {
			m->st.bad_ctrl++;
			return;
		}
		if (report_keep(m, c, p->evt.param + 1))
			to_host(m, p->evt.param, p->evt.plen, code);
		return;
	case HCI_EV_INQUIRY_COMPLETE:
		if (c->inq_running)
			merge_inq_ctrl_ended(m, c);
		return;
	case HCI_EV_CONN_COMPLETE:
		conn_complete(m, c, p, false);
		return;
	case 0x2c:	/* Synchronous Connection Complete, 7.7.35 */
		conn_complete(m, c, p, true);
		return;
	case HCI_EV_LE_META:
		le_meta(m, c, p);
		return;
	case HCI_EV_HARDWARE_ERROR:
		/* 7.7.16: the controller needs a reset; the merge does its own. */
		log_err("merge: controller %u reported a hardware error: re-initialising it",
			c->idx);
		m->ctrl_down(c, true);
		m->ctrl_up(m, c->idx);
		return;
	default:
		break;
	}
	memcpy(b, p->evt.param, p->evt.plen);
	off = evt_handle_off(code);
	if (off >= 0) {
		if (!xlate(m, c, b, p->evt.plen, (size_t)off, code, &l)) {
			if (l && l->hidden && code == HCI_EV_DISCONN_COMPLETE)
				merge_link_free(m, l);	/* the race's loser is gone */
			return;
		}
		to_host(m, b, p->evt.plen, code);
		if (code == HCI_EV_DISCONN_COMPLETE && b[0] == 0)
			merge_link_free(m, l);
		return;
	}
	off = evt_addr_off(code, &pairing);
	if (off >= 0) {
		struct bdaddr a;

		if (p->evt.plen < (size_t)off + 6) {
			m->st.bad_ctrl++;
			return;
		}
		memcpy(a.b, b + off, 6);
		/* Pairing and incoming connections are answered on their side. */
		if (pairing)
			merge_dev_set(m, &a, c->idx);
		if (code == HCI_EV_REMOTE_NAME)
			pend_done(m, MP_NAME, c->idx, b + 1);
		to_host(m, b, p->evt.plen, code);
		return;
	}
	switch (code) {
	case HCI_EV_RETURN_LINK_KEYS:	/* 7.7.21: keys stored in the controller */
	case 0x1a:	/* Data Buffer Overflow, 7.7.26 */
		if (c->role == MERGE_LOCAL)
			to_host(m, b, p->evt.plen, code);
		return;
	default:
		log_debug("merge: controller %u: event 0x%02x not carried", c->idx, code);
		return;
	}
}

/* ------------------------------------------------------------------ */
/*
 * Periodic Inquiry Mode (7.1.3, 7.1.4), run by the merge on every side.
 * bgw-muxd does not offer it to a gateway session (one user's periodic
 * inquiry would hold the home's radio for everyone), and two controllers
 * timing their own periods would drift apart, so no Inquiry Complete could
 * stand for "both ended their period". The merge keeps the one timer: at
 * each period's start it sends a plain Inquiry (7.1.1) with the host's
 * LAP, Inquiry_Length and Num_Responses to every ready side, and gives the
 * host one Inquiry Complete once all of them ended, as for the host's own
 * Inquiry. The next period starts a random Min..Max units after this one
 * started (7.1.3); one that comes while this period still runs (a slow
 * gateway) starts as soon as it ends.
 */

static uint32_t pinq_rand(struct merge *m)
{
	/* xorshift32: the period's jitter only, nothing secret. */
	m->pinq_rng ^= m->pinq_rng << 13;
	m->pinq_rng ^= m->pinq_rng >> 17;
	m->pinq_rng ^= m->pinq_rng << 5;
	return m->pinq_rng;
}

void merge_pinq_period(struct merge *m)
{
	uint32_t units;
	unsigned i;

	m->pinq_due = false;
	if (!m->pinq_mode)
		return;
	if (m->inq_active) {
		m->pinq_due = true;	/* merge_inq_ctrl_ended starts it */
		return;
	}
	units = m->pinq_min + pinq_rand(m) % ((uint32_t)(m->pinq_max - m->pinq_min) + 1);
	loop_timer_arm(m->pinq_timer, (uint64_t)units * m->cfg.inquiry_unit_us);
	m->inq_active = true;
	m->pinq_ok = false;
	m->pinq_status = HCI_ST_HARDWARE_FAILURE;	/* no side to ask */
	for (i = 0; i < m->nctrl; i++) {
		struct mctrl *c = &m->ctrl[i];

		if (mc_is_ready(c) && !c->inq_running && !c->pinq_wait &&
		    mc_queue(c, TAG_PINQ, HCI_OP_INQUIRY, m->pinq_inq, 5) == 0)
			c->pinq_wait = true;
	}
	merge_inq_ctrl_ended(m, NULL);	/* no side could be asked: ends now */
}

void merge_pinq_reply(struct merge *m, struct mctrl *c, bool cs, const uint8_t *ret,
		      size_t rlen)
{
	uint8_t st = rlen >= 1 ? ret[0] : HCI_ST_UNSPECIFIED;

	(void)cs;
	if (!c->pinq_wait) {
		/* The mode was left, or the host reset, while it was asked. */
		if (st == 0)
			mc_queue(c, TAG_QUIET, HCI_OP_INQUIRY_CANCEL, NULL, 0);
		return;
	}
	c->pinq_wait = false;
	if (st == 0) {
		c->inq_running = true;
		m->pinq_ok = true;
		return;
	}
	/* A side that refuses sits this period out; the others' results stand. */
	log_info("merge: %s controller %u refused a periodic inquiry's Inquiry "
		 "(status 0x%02x): it sits this period out",
		 c->role == MERGE_LOCAL ? "local" : "gateway", c->idx, st);
	if (!m->pinq_ok && m->pinq_status == HCI_ST_HARDWARE_FAILURE)
		m->pinq_status = st;
	merge_inq_ctrl_ended(m, NULL);
}
