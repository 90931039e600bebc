/* SPDX-License-Identifier: MIT */
/*
 * Events from the controller: length checks, then routing each to the
 * session it belongs to; command completions (to the initialisation, the
 * reconciliation or the session that sent the command); discovery results
 * fanned out under each user's policy.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "bdaddr.h"
#include "cursor.h"
#include "handlemap.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"
#include "secmem.h"

/* ------------------------------------------------------------------ */
/* Completion of commands at the controller */

static void session_cmd_done(struct mux *m, const struct mux_outst *o,
			     bool is_cs, uint8_t status, const uint8_t *ret, uint8_t rlen)
{
	struct mux_session *s = o->origin == O_SESSION ? o->s : NULL;
	struct bdaddr a;
	struct mux_pend *pd;

	switch (o->opcode) {
	case HCI_OP_INQUIRY:
		if (!status) {
			m->inq_cache_n = 0;
			/* Its own Num_Responses, not the one forwarded (0). */
			if (s && o->plen == 5)
				inq_session_start(m, s, o->param[3], s->inq_max);
			inq_run_started(m, o->param[3]);
		}
		break;
	case HCI_OP_INQUIRY_CANCEL:
		m->inq_cancelling = false;
		if (!status)
			inquiry_stopped(m, s, 0);
		if (s)
			s->inquiring = false;
		break;
	case HCI_OP_CREATE_CONN:
	case HCI_OP_REMOTE_NAME_REQ:
	case HCI_OP_LE_CREATE_CONN:
	case HCI_OP_LE_EXT_CREATE_CONN:
		if (!status || o->plen < 6)
			break;
		/* Peer_Address: 7.1.5, 7.1.19, 7.8.12, 7.8.66. */
		a = addr_at(o->opcode == HCI_OP_LE_CREATE_CONN ? o->param + 6 :
			    o->opcode == HCI_OP_LE_EXT_CREATE_CONN ? o->param + 3 : o->param);
		pd = pend_find_sess(m, o->opcode == HCI_OP_CREATE_CONN ? P_CONN_OUT :
				    o->opcode == HCI_OP_REMOTE_NAME_REQ ? P_NAME : P_LE_OUT,
				    &a, o->s);
		if (pd && o->origin == O_SESSION)
			pd->used = false;
		break;
	case HCI_OP_LE_SET_ADV_ENABLE:
		if (!status && s) {
			m->p_adv = o->param[0];
			m->adv_owner = o->param[0] ? s : NULL;
		}
		break;
	case HCI_OP_LE_SET_EXT_ADV_ENABLE:
		/* Incoming LE connections from its sets are the owner's. */
		if (!status && s && o->param[0])
			m->adv_owner = s;
		break;
	}
	(void)ret;
	(void)rlen;
}

/* ------------------------------------------------------------------ */
static void on_cmd_done(struct mux *m, const struct h4_pkt *pkt, uint16_t op,
			uint8_t ncmd, bool is_cs, uint8_t status,
			const uint8_t *ret, uint8_t rlen)
{
	struct mux_outst o, *po;
	uint8_t buf[H4_MAX_CTL_PKT];
	int off;

	m->ncmd = ncmd;
	if (op == HCI_OP_NOP) {
		if (ncmd > 0 && outst_count(m) == 0)
			loop_timer_disarm(m->cmd_timer);
		return;
	}
	po = outst_find(m, op);
	if (!po) {
		log_warn("controller: completion for 0x%04x nobody sent, ignored", op);
		return;
	}
	o = *po;
	po->used = false;
	/*
	 * Armed while commands are outstanding, and while the controller
	 * grants no credit: it owes a Command Complete for NOP (4.4).
	 */
	if (outst_count(m) == 0 && m->ncmd > 0)
		loop_timer_disarm(m->cmd_timer);
	else
		loop_timer_arm(m->cmd_timer, (uint64_t)m->cfg.cmd_timeout_ms * 1000);

	switch (o.origin) {
	case O_INIT:
		init_done(m, op, status, ret, rlen, is_cs);
		return;
	case O_RECON:
		recon_done(m, &o, status);
		return;
	case O_INTERNAL:
		if (status)
			log_debug("internal command 0x%04x: status 0x%02x", op, status);
		/* Its LE Connection Complete (0x02) follows, for nobody (7.8.13). */
		if (op == HCI_OP_LE_CREATE_CONN_CANCEL && !status)
			m->le_stale_cancel = true;
		/* The bond broker's own encryption refused (mux_bond_le.c). */
		if (op == HCI_OP_LE_START_ENCRYPTION && status && o.plen >= 2) {
			uint8_t ec[4] = { status, o.param[0], o.param[1], 0 };
			struct mux_conn *c = conn_by_handle(m, get_le16(o.param) & 0x0fff);

			if (c)
				bond_le_enc_event(m, c, HCI_EV_ENCRYPT_CHANGE, ec, sizeof(ec));
		}
		if (op == HCI_OP_LE_SET_RANDOM_ADDR) {
			/*
			 * Refused (e.g. while the shared scan runs, 7.8.4): go
			 * on with the connection rather than retry forever.
			 */
			if (status)
				log_warn("controller refused LE Set Random Address (0x%02x)",
					 status);
			m->p_rand_valid = true;
		}
		return;
	default:
		break;
	}
	session_cmd_done(m, &o, is_cs, status, ret, rlen);
	if (o.origin != O_SESSION || !o.s)
		return;
	/* To the sender only, with its own command credit (Vol 4 Part E 4.4). */
	memcpy(buf, pkt->raw, pkt->raw_len);
	buf[is_cs ? 4 : 3] = 1;
	/* And the handle it named, not the controller's (doc: "Handles"). */
	off = is_cs ? -1 : hmap_cc_off(mux_cmd_find(op));
	if (off >= 0 && rlen >= (unsigned)off + 2)
		hmap_put(buf + 6 + off, o.vhandle);
	sess_emit(o.s, buf, pkt->raw_len, EM_EVENT);
}

/* ------------------------------------------------------------------ */
/* Events from the controller */

static int evt_addr_off(uint8_t code)
{
	switch (code) {
	case HCI_EV_PIN_CODE_REQ:
	case HCI_EV_LINK_KEY_REQ:
	case HCI_EV_LINK_KEY_NOTIFY:
	case HCI_EV_PSCAN_REP_MODE:
	case HCI_EV_IO_CAPA_REQUEST:
	case HCI_EV_IO_CAPA_RESPONSE:
	case HCI_EV_USER_CONFIRM_REQUEST:
	case HCI_EV_USER_PASSKEY_REQUEST:
	case HCI_EV_REMOTE_OOB_DATA_REQUEST:
	case HCI_EV_USER_PASSKEY_NOTIFY:
	case HCI_EV_KEYPRESS_NOTIFY:
	case HCI_EV_REMOTE_HOST_FEATURES:
		return 0;
	case HCI_EV_ROLE_CHANGE:
	case HCI_EV_SIMPLE_PAIR_COMPLETE:
		return 1;
	default:
		return -1;
	}
}

/* A request nobody owns still needs an answer, or the controller waits. */
static void answer_unowned(struct mux *m, uint8_t code, const struct bdaddr *a)
{
	switch (code) {
	case HCI_EV_LINK_KEY_REQ:
		internal_addr_cmd(m, HCI_OP_LINK_KEY_NEG_REPLY, a, -1);
		break;
	case HCI_EV_PIN_CODE_REQ:
		internal_addr_cmd(m, HCI_OP_PIN_CODE_NEG_REPLY, a, -1);
		break;
	case HCI_EV_IO_CAPA_REQUEST:
		internal_addr_cmd(m, HCI_OP_IO_CAPABILITY_NEG_REPLY, a,
				  HCI_ST_PAIRING_NOT_ALLOWED);
		break;
	case HCI_EV_USER_CONFIRM_REQUEST:
		internal_addr_cmd(m, HCI_OP_USER_CONFIRM_NEG_REPLY, a, -1);
		break;
	case HCI_EV_USER_PASSKEY_REQUEST:
		internal_addr_cmd(m, HCI_OP_USER_PASSKEY_NEG_REPLY, a, -1);
		break;
	case HCI_EV_REMOTE_OOB_DATA_REQUEST:
		internal_addr_cmd(m, HCI_OP_REMOTE_OOB_DATA_NEG_REPLY, a, -1);
		break;
	}
}

/* Richness of an inquiry result format: 0x02 < 0x22 < 0x2F (Vol 4 Part E 7.3.50). */
static unsigned inq_rank(uint8_t code)
{
	return code == HCI_EV_EXT_INQUIRY_RESULT ? 2 :
	       code == HCI_EV_INQUIRY_RESULT_RSSI ? 1 : 0;
}

/*
 * One inquiry response to every inquiring session allowed to see it, in the
 * format its own Write Inquiry Mode asked for, once per inquiry.
 */
static void inq_deliver(struct mux *m, struct mux_session *s, uint8_t code,
			const uint8_t *e, size_t elen)
{
	struct bdaddr a = addr_at(e);

	{
		unsigned want = s->reg[REG_INQ_MODE][0];
		uint8_t out[255];
		uint8_t oc;
		size_t n = 0;

		if (!s->inquiring || s->dead || !may_access(m, s, &a, BDADDR_PUBLIC))
			return;
		if (seen_check_add(s->inq_seen, &s->inq_seen_n, &a, 0, 0))
			return;
		if (want > inq_rank(code))
			want = inq_rank(code);
		out[n++] = 1;
		memcpy(out + n, e, 7);	/* BD_ADDR, Page_Scan_Repetition_Mode */
		n += 7;
		if (code == HCI_EV_INQUIRY_RESULT) {
			memcpy(out + n, e + 7, 7);	/* reserved(2), class, clock offset */
			n += 7;
			oc = HCI_EV_INQUIRY_RESULT;
		} else if (want == 0) {
			out[n++] = 0;
			out[n++] = 0;
			memcpy(out + n, e + 8, 5);	/* class, clock offset */
			n += 5;
			oc = HCI_EV_INQUIRY_RESULT;
		} else if (want == 1) {
			memcpy(out + n, e + 7, 7);	/* reserved, class, clock, RSSI */
			n += 7;
			oc = HCI_EV_INQUIRY_RESULT_RSSI;
		} else {
			memcpy(out + n, e + 7, elen - 7);
			n += elen - 7;
			oc = HCI_EV_EXT_INQUIRY_RESULT;
		}
		if (!sess_event(s, oc, out, n)) {
			seen_forget(s->inq_seen, &s->inq_seen_n, &a, 0, 0);
			return;
		}
		/* Its Num_Responses reached: its inquiry halts (7.1.1). */
		if (s->inq_max && ++s->inq_n >= s->inq_max)
			inq_session_done(s, 0);
	}
}

static void inq_fanout(struct mux *m, uint8_t code, const uint8_t *e, size_t elen)
{
	struct bdaddr a = addr_at(e);
	unsigned i;

	/* Kept (latest response per device) for sessions that join later. */
	for (i = 0; i < m->inq_cache_n; i++)
		if (!memcmp(m->inq_cache[i].e, a.b, 6))
			break;
	if (i < MUX_INQ_CACHE && elen <= sizeof(m->inq_cache[0].e)) {
		m->inq_cache[i].code = code;
		m->inq_cache[i].len = (uint8_t)elen;
		memcpy(m->inq_cache[i].e, e, elen);
		if (i == m->inq_cache_n)
			m->inq_cache_n++;
	}
	for (i = 0; i < m->nsess; i++)
		inq_deliver(m, m->sess[i], code, e, elen);
}

/* A session joining the running inquiry gets what it already found. */
void inq_replay(struct mux *m, struct mux_session *s)
{
	unsigned i;

	for (i = 0; i < m->inq_cache_n; i++)
		inq_deliver(m, s, m->inq_cache[i].code, m->inq_cache[i].e,
			    m->inq_cache[i].len);
}

static void on_inquiry_result(struct mux *m, uint8_t code, const uint8_t *p, uint8_t plen)
{
	unsigned i, num;
	size_t esz = 14;

	if (plen < 1)
		goto bad;
	num = p[0];
	if (code == HCI_EV_EXT_INQUIRY_RESULT) {
		/* Always one response with 240 bytes of EIR (7.7.38). */
		if (num != 1 || plen != 255)
			goto bad;
		inq_fanout(m, code, p + 1, 254);
		return;
	}
	/*
	 * Several responses are laid out one after another, as Linux and
	 * BlueZ's emulator read them; with one response the layouts agree.
	 */
	if (num == 0 || plen != 1 + num * esz)
		goto bad;
	for (i = 0; i < num; i++)
		inq_fanout(m, code, p + 1 + i * esz, esz);
	return;
bad:
	log_warn("controller: malformed inquiry result 0x%02x", code);
}

/*
 * Does this scanning session's user, filter policy and virtual Filter
 * Accept List admit the advertiser (7.8.10, 7.8.64)? Anonymous
 * advertisers (0xff) have no address to allow and are never shown.
 */
static bool adv_admits(struct mux *m, const struct mux_session *s,
		       uint8_t atype, const struct bdaddr *a)
{
	uint8_t filter;

	if (!s->scan_en || s->dead)
		return false;
	if (atype == 0xff || !may_access_cached(m, s, a, map_addr_type(atype)))
		return false;
	filter = s->scan_kind == SK_EXT ? s->escan_filter : s->scan_params[6];
	return !((filter & 0x01) && !al_has(s, map_addr_type(atype), a));
}

/*
 * Legacy advertising report or directed report (r: one report of
 * 7.7.65.2 or 7.7.65.11) to every legacy scanner allowed it.
 */
static void adv_fanout(struct mux *m, uint8_t sub, const uint8_t *r, size_t rlen,
		       uint8_t ev, uint8_t atype, const uint8_t *addr)
{
	struct bdaddr a = addr_at(addr);
	uint8_t out[255];
	unsigned i;

	if (rlen + 1 > sizeof(out))
		return;
	out[0] = 1;
	memcpy(out + 1, r, rlen);
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (s->scan_kind == SK_EXT || !adv_admits(m, s, atype, &a))
			continue;
		if (s->scan_dup &&
		    seen_check_add(s->le_seen, &s->le_seen_n, &a, atype, ev))
			continue;
		if (!sess_le_event(s, sub, out, rlen + 1) && s->scan_dup)
			seen_forget(s->le_seen, &s->le_seen_n, &a, atype, ev);
	}
}

/*
 * The legacy PDU types (7.7.65.2) and their Event_Type in an Extended
 * Advertising Report (7.7.65.13, "legacy PDU" bit 4 set).
 */
static int ext_to_legacy(uint16_t et)
{
	if (!(et & 0x10))
		return -1;
	switch (et & 0x1f) {
	case 0x13: return 0x00;	/* ADV_IND */
	case 0x15: return 0x01;	/* ADV_DIRECT_IND */
	case 0x12: return 0x02;	/* ADV_SCAN_IND */
	case 0x10: return 0x03;	/* ADV_NONCONN_IND */
	case 0x1b:		/* SCAN_RSP to an ADV_IND */
	case 0x1a: return 0x04;	/* SCAN_RSP to an ADV_SCAN_IND */
	default: return -1;
	}
}

static const uint16_t legacy_to_ext[5] = { 0x13, 0x15, 0x12, 0x10, 0x1b };

/*
 * A chain of extended reports (one, or the fragments of one advertiser's
 * data in order) to one extended scanner. A host never gets half a chain
 * marked "more to come": if its queue refuses a later fragment, the mux
 * ends the chain as a controller ends one it cannot complete, with
 * Data_Status "incomplete, truncated" (7.7.65.13) and no data. Returns
 * whether the whole chain was handed over.
 */
static bool ext_emit_chain(struct mux_session *s, const uint8_t *const *part,
			   const uint8_t *plen, unsigned n)
{
	uint8_t out[255];
	unsigned i;

	for (i = 0; i < n; i++) {
		out[0] = 1;
		memcpy(out + 1, part[i], plen[i]);
		if (sess_le_event(s, HCI_LE_EV_EXT_ADV_REPORT, out, plen[i] + 1u))
			continue;
		if (i > 0) {
			memcpy(out + 1, part[i], MUX_EXT_REP_HDR);
			out[1] = (uint8_t)((out[1] & 0x9f) | 0x40);
			out[1 + MUX_EXT_REP_HDR - 1] = 0;
			sess_le_event(s, HCI_LE_EV_EXT_ADV_REPORT, out, MUX_EXT_REP_HDR + 1);
		}
		return false;
	}
	return true;
}

/*
 * One advertiser's complete report, in extended form (a chain of n
 * fragments) and, for a legacy PDU, in legacy form (leg, or NULL): to
 * every scanning session allowed it, in the format its own scan commands
 * chose, filtered once per session for duplicates (7.8.11, 7.8.65).
 */
static void ext_fanout(struct mux *m, const uint8_t *const *part, const uint8_t *plen,
		       unsigned n, const uint8_t *leg, size_t leglen, bool ext_only)
{
	const uint8_t *r = part[0];
	uint16_t et = get_le16(r);
	uint8_t atype = r[2];
	struct bdaddr a = addr_at(r + 3);
	uint8_t out[255];
	unsigned i;

	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];
		uint8_t ev;

		if (!adv_admits(m, s, atype, &a))
			continue;
		if (s->scan_kind != SK_EXT) {
			/* A legacy scanner sees legacy PDUs only (7.8.10). */
			if (ext_only || !leg || leglen + 1 > sizeof(out))
				continue;
			ev = leg[0];
			if (s->scan_dup &&
			    seen_check_add(s->le_seen, &s->le_seen_n, &a, atype, ev))
				continue;
			out[0] = 1;
			memcpy(out + 1, leg, leglen);
			if (!sess_le_event(s, HCI_LE_EV_ADV_REPORT, out, leglen + 1) &&
			    s->scan_dup)
				seen_forget(s->le_seen, &s->le_seen_n, &a, atype, ev);
			continue;
		}
		/* Only on a PHY the session scans (7.8.64): 0x03 is LE Coded. */
		if (!(s->escan_phys & (r[9] == 0x03 ? 0x04 : 0x01)))
			continue;
		ev = (uint8_t)(0x80 | (et & 0x1f));
		if (s->scan_dup &&
		    seen_check_add(s->le_seen, &s->le_seen_n, &a, atype, ev))
			continue;
		if (!ext_emit_chain(s, part, plen, n) && s->scan_dup)
			seen_forget(s->le_seen, &s->le_seen_n, &a, atype, ev);
	}
}

/* A legacy report from a legacy physical scan, also to extended scanners. */
static void legacy_report(struct mux *m, const uint8_t *r, size_t rlen)
{
	uint8_t x[MUX_EXT_REP_HDR + 31];
	const uint8_t *part[1] = { x };
	uint8_t plen[1];
	uint8_t dlen = r[8];

	adv_fanout(m, HCI_LE_EV_ADV_REPORT, r, rlen, r[0], r[1], r + 2);
	if (r[0] > 4)
		return;
	memset(x, 0, sizeof(x));
	put_le16(x, legacy_to_ext[r[0]]);
	x[2] = r[1];
	memcpy(x + 3, r + 2, 6);
	x[9] = 0x01;		/* primary PHY LE 1M */
	x[10] = 0x00;		/* no secondary PHY */
	x[11] = 0xff;		/* no SID */
	x[12] = 0x7f;		/* TX power not available */
	x[13] = r[9 + dlen];	/* RSSI */
	x[23] = dlen;
	memcpy(x + MUX_EXT_REP_HDR, r + 9, dlen);
	plen[0] = (uint8_t)(MUX_EXT_REP_HDR + dlen);
	ext_fanout(m, part, plen, 1, NULL, 0, true);
}

/*
 * Is this fragment the tail of an evicted chain? Such fragments are
 * dropped; the one that ends the chain (status not 01) also forgets it.
 */
static bool frag_tail_evicted(struct mux *m, uint8_t atype, uint8_t sid, uint8_t rsp,
			      const struct bdaddr *a, uint8_t status)
{
	unsigned i;

	for (i = 0; i < MUX_FRAG_SLOTS; i++) {
		if (!m->frag_evicted[i].used || m->frag_evicted[i].atype != atype ||
		    m->frag_evicted[i].sid != sid || m->frag_evicted[i].rsp != rsp ||
		    !bdaddr_eq(&m->frag_evicted[i].a, a))
			continue;
		if (status != 0x01)
			m->frag_evicted[i].used = false;
		return true;
	}
	return false;
}

/* The chain for this advertiser, or a free (or the oldest) slot for it. */
static struct mux_frag *frag_slot(struct mux *m, uint8_t atype, uint8_t sid, uint8_t rsp,
				  const struct bdaddr *a, bool create)
{
	struct mux_frag *f, *oldest = NULL, *free_slot = NULL;
	unsigned i;

	for (i = 0; i < MUX_FRAG_SLOTS; i++) {
		f = &m->frags[i];
		if (!f->used) {
			if (!free_slot)
				free_slot = f;
			continue;
		}
		if (f->atype == atype && f->sid == sid && f->rsp == rsp && bdaddr_eq(&f->a, a))
			return f;
		if (!oldest || f->age < oldest->age)
			oldest = f;
	}
	if (!create)
		return NULL;
	f = free_slot;
	if (!f) {
		/* Bounded: the oldest unfinished chain is dropped whole. */
		log_debug("controller: advertising report chain evicted");
		f = oldest;
		i = m->frag_evicted_next++ % MUX_FRAG_SLOTS;
		m->frag_evicted[i].used = true;
		m->frag_evicted[i].atype = f->atype;
		m->frag_evicted[i].sid = f->sid;
		m->frag_evicted[i].rsp = f->rsp;
		m->frag_evicted[i].a = f->a;
	}
	memset(f, 0, sizeof(*f));
	f->used = true;
	f->atype = atype;
	f->sid = sid;
	f->rsp = rsp;
	f->a = *a;
	f->age = ++m->frag_clock;
	return f;
}

/*
 * One report of an LE Extended Advertising Report event (7.7.65.13).
 * Data_Status (Event_Type bits 5-6): 00 complete, 01 incomplete with more
 * to come, 10 incomplete and truncated. Fragments of one advertiser's
 * data come in order (Vol 6 Part B 4.4.3.5 chains them per advertising
 * set, SID) and are passed on only as a whole chain, once the last one
 * says complete; a truncated chain, one over the bounds and one evicted
 * are dropped whole, so no host gets half of one from the mux.
 */
static void ext_report(struct mux *m, const uint8_t *r, size_t rlen)
{
	uint16_t et = get_le16(r);
	uint8_t status = (uint8_t)((et >> 5) & 0x03);
	uint8_t atype = r[2];
	struct bdaddr a = addr_at(r + 3);
	const uint8_t *part[MUX_FRAG_PARTS];
	uint8_t plen[MUX_FRAG_PARTS];
	uint8_t leg[10 + 31];
	struct mux_frag *f;
	unsigned i, off;
	int lt;

	/* Anonymous advertisers are never shown: nothing to keep. */
	if (atype == 0xff)
		return;
	if (frag_tail_evicted(m, atype, r[11], et & 0x08, &a, status))
		return;
	f = frag_slot(m, atype, r[11], et & 0x08, &a, status != 0);
	if (!f) {
		part[0] = r;
		plen[0] = (uint8_t)rlen;
		lt = ext_to_legacy(et);
		if (lt >= 0 && r[23] <= 31) {
			/* The same report in the legacy format (7.7.65.2). */
			leg[0] = (uint8_t)lt;
			leg[1] = atype;
			memcpy(leg + 2, r + 3, 6);
			leg[8] = r[23];
			memcpy(leg + 9, r + MUX_EXT_REP_HDR, r[23]);
			leg[9 + r[23]] = r[13];
			ext_fanout(m, part, plen, 1, leg, 10u + r[23], false);
		} else {
			ext_fanout(m, part, plen, 1, NULL, 0, false);
		}
		return;
	}
	if (!f->discard) {
		if (f->n >= MUX_FRAG_PARTS || f->bytes + rlen > MUX_FRAG_BYTES) {
			log_debug("controller: advertising report chain over its bounds, dropped");
			f->discard = true;
		} else {
			memcpy(f->raw + f->bytes, r, rlen);
			f->len[f->n++] = (uint8_t)rlen;
			f->bytes = (uint16_t)(f->bytes + rlen);
		}
	}
	if (status == 0x01)
		return;		/* more to come */
	if (status == 0x00 && !f->discard) {
		for (i = 0, off = 0; i < f->n; i++) {
			part[i] = f->raw + off;
			plen[i] = f->len[i];
			off += f->len[i];
		}
		/* A fragmented chain is never a legacy PDU (31 octets at most). */
		ext_fanout(m, part, plen, f->n, NULL, 0, false);
	}
	/* Complete, truncated (10) or reserved (11): the chain ends here. */
	memset(f, 0, sizeof(*f));
}

/*
 * Walk the reports of an LE advertising event: with fn NULL only check that
 * the whole event is well-formed (7.7.65.2, .11, .13), so that a malformed
 * event is dropped entirely rather than half delivered.
 */
static int adv_walk(struct mux *m, uint8_t sub, const uint8_t *q, size_t qlen, bool deliver)
{
	struct cur c;
	unsigned i, num;

	cur_init(&c, q, qlen);
	num = cur_u8(&c);
	if (num < 1 || num > 25)
		return -EBADMSG;
	for (i = 0; i < num; i++) {
		size_t start = c.off;
		uint8_t ev, at;
		const uint8_t *addr;
		size_t dlen;

		if (sub == HCI_LE_EV_ADV_REPORT) {
			ev = cur_u8(&c);
			at = cur_u8(&c);
			addr = cur_bytes(&c, 6);
			dlen = cur_u8(&c);
			if (dlen > 31)
				return -EBADMSG;
			cur_skip(&c, dlen + 1);
		} else if (sub == HCI_LE_EV_EXT_ADV_REPORT) {
			ev = (uint8_t)cur_le16(&c);
			at = cur_u8(&c);
			addr = cur_bytes(&c, 6);
			cur_skip(&c, 14);
			dlen = cur_u8(&c);
			cur_skip(&c, dlen);
		} else {	/* directed */
			ev = cur_u8(&c);
			at = cur_u8(&c);
			addr = cur_bytes(&c, 6);
			cur_skip(&c, 8);
		}
		if (!cur_is_ok(&c) || !addr)
			return -EBADMSG;
		if (!deliver)
			continue;
		if (sub == HCI_LE_EV_ADV_REPORT)
			legacy_report(m, q + start, c.off - start);
		else if (sub == HCI_LE_EV_EXT_ADV_REPORT)
			ext_report(m, q + start, c.off - start);
		else
			adv_fanout(m, sub, q + start, c.off - start, ev, at, addr);
	}
	return cur_is_done(&c) ? 0 : -EBADMSG;
}

static void on_adv_report(struct mux *m, uint8_t sub, const uint8_t *q, size_t qlen)
{
	if (adv_walk(m, sub, q, qlen, false) < 0) {
		log_warn("controller: malformed LE advertising report 0x%02x", sub);
		return;
	}
	adv_walk(m, sub, q, qlen, true);
}

/*
 * LE Connection Complete 7.7.65.1 and Enhanced 7.7.65.10 (v1, and v2 of
 * Core 5.4 with Advertising_Handle and Sync_Handle), in the session's
 * variant (the richest its LE event mask enables, as a controller picks),
 * with its own handle.
 */
/*
 * The initiator's address of a link the session's host made (central), as
 * the link was made, for the bond broker's SMP (c1, f5, f6; Vol 3 Part H
 * 2.2.3, 2.2.7): the local resolvable private address the controller
 * used, when the Enhanced Connection Complete gives one (Own_Address_Type
 * 0x02/0x03, 7.7.65.10); else the random address the session had set
 * (Own_Address_Type 0x01) or the gateway's public BD_ADDR. Recorded now,
 * not at the pairing: the session may set another random address since.
 */
static void le_conn_initiator(struct mux *m, struct mux_session *s, struct mux_conn *c,
			      uint8_t role, const uint8_t local_rpa[6])
{
	static const uint8_t zero[6];

	c->init_type = BDADDR_PUBLIC;
	memcpy(c->init_addr, m->bdaddr.b, 6);
	if (role != 0x00)
		return;
	if (memcmp(local_rpa, zero, 6) != 0) {
		c->init_type = BDADDR_RANDOM;
		memcpy(c->init_addr, local_rpa, 6);
	} else if (s->le_own_type & 0x01) {
		c->init_type = BDADDR_RANDOM;
		memcpy(c->init_addr, s->reg[REG_LE_RAND_ADDR], 6);
	}
}

static void on_le_conn_complete(struct mux *m, uint8_t sub, const uint8_t *q, size_t qlen)
{
	enum {
		ST = HCI_LE_EV_CONN_COMPLETE_STATUS_OFF,
		HD = HCI_LE_EV_CONN_COMPLETE_HANDLE_OFF,
		ROLE = HCI_LE_EV_CONN_COMPLETE_ROLE_OFF,
		PT = HCI_LE_EV_CONN_COMPLETE_PEER_TYPE_OFF,
		PEER = HCI_LE_EV_CONN_COMPLETE_PEER_OFF,
		HEAD = HCI_LE_EV_CONN_COMPLETE_HEAD_LEN,
		TAIL = HCI_LE_EV_CONN_COMPLETE_TAIL_OFF,
		ETAIL = HCI_LE_EV_ENH_CONN_COMPLETE_TAIL_OFF,
		TLEN = HCI_LE_EV_CONN_COMPLETE_TAIL_LEN,
		V1LEN = HCI_LE_EV_ENH_CONN_COMPLETE_LEN,
	};
	struct mux_session *s = NULL;
	struct mux_conn *c;
	struct mux_pend *pd;
	uint8_t legacy[HCI_LE_EV_CONN_COMPLETE_LEN], enh[HCI_LE_EV_ENH_CONN_COMPLETE_V2_LEN];
	struct bdaddr a;
	uint16_t h;
	bool al = false;

	if ((sub == HCI_LE_EV_CONN_COMPLETE && qlen != sizeof(legacy)) ||
	    (sub == HCI_LE_EV_ENH_CONN_COMPLETE && qlen != V1LEN) ||
	    (sub == HCI_LE_EV_ENH_CONN_COMPLETE_V2 && qlen != sizeof(enh))) {
		log_warn("controller: malformed LE connection complete");
		return;
	}
	/* Neither an advertising set nor a periodic sync (v2): 0xFF, 0xFFFF. */
	memset(enh + V1LEN, 0xff, sizeof(enh) - V1LEN);
	if (sub == HCI_LE_EV_CONN_COMPLETE) {
		memcpy(legacy, q, sizeof(legacy));
		memcpy(enh, q, HEAD);
		memset(enh + HEAD, 0, ETAIL - HEAD);	/* no RPAs */
		memcpy(enh + ETAIL, q + TAIL, TLEN);
	} else {
		memcpy(enh, q, qlen);
		memcpy(legacy, q, HEAD);
		memcpy(legacy + TAIL, q + ETAIL, TLEN);
		legacy[PT] = map_addr_type(q[PT]);
	}
	h = hmap_get(q + HD);
	a = addr_at(q + PEER);
	/* Until the session's own handle is known: 0, as for a failure. */
	hmap_put(legacy + HD, 0);
	hmap_put(enh + HD, 0);
	if (q[ST] == HCI_ST_UNKNOWN_CONN_ID && m->le_stale_cancel) {
		/* The end of an initiation the mux cancelled for a departed session. */
		m->le_stale_cancel = false;
		recon_request(m);
		return;
	}
	if (q[ROLE] == 0x00) {
		pd = pend_find(m, P_LE_OUT, &a);
		if (!pd)
			pd = pend_find(m, P_LE_OUT, NULL);
		if (pd) {
			s = pd->s;
			pd->used = false;
		} else if (m->al_phys) {
			/* To a member whose accept list has the peer (and may). */
			s = al_phys_ended(m, q[ST], map_addr_type(q[PT]), &a);
			al = true;
			if (q[ST] != 0) {
				recon_request(m);
				return;
			}
		}
	} else if (m->adv_owner && !m->adv_owner->dead &&
		   may_access(m, m->adv_owner, &a, map_addr_type(q[PT]))) {
		/* Incoming LE: only an admin advertises physically. */
		s = m->adv_owner;
	}
	if (s && s->dead)
		s = NULL;
	if (q[ST] == 0) {
		c = conn_add(m, h, LINK_LE, &a, map_addr_type(q[PT]), s);
		if (!c) {
			internal_disconnect(m, h, HCI_ST_REMOTE_LOW_RESOURCES);
			return;
		}
		if (!s) {
			internal_disconnect(m, h, HCI_ST_REMOTE_USER_TERM);
			return;
		}
		c->le_central = q[ROLE] == 0x00;
		peer_identity(m, s, &a, c->addr_type, &c->id, &c->id_type);
		le_conn_initiator(m, s, c, q[ROLE], enh + HEAD);
		hmap_put(legacy + HD, c->vhandle);
		hmap_put(enh + HD, c->vhandle);
	}
	if (s) {
		if (sess_wants(s, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE_V2))
			sess_le_event(s, HCI_LE_EV_ENH_CONN_COMPLETE_V2, enh, sizeof(enh));
		else if (sess_wants(s, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE))
			sess_le_event(s, HCI_LE_EV_ENH_CONN_COMPLETE, enh, V1LEN);
		else
			sess_le_event(s, HCI_LE_EV_CONN_COMPLETE, legacy, sizeof(legacy));
	}
	/* The sessions still waiting get a new initiation. */
	if (al)
		recon_request(m);
}

/*
 * An event about one link (its handle at off in the parameters, from
 * handlemap's table) to the link's owner only, with the owner's handle.
 */
static void route_by_handle(struct mux *m, const struct h4_pkt *pkt, uint8_t sub, int off)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	struct mux_conn *c;

	if (pkt->evt.plen < (size_t)off + 2) {
		log_warn("controller: event 0x%02x/0x%02x too short", pkt->evt.code, sub);
		return;
	}
	c = conn_by_handle(m, hmap_get(pkt->evt.param + off));
	if (!c || !c->owner)
		return;
	/* The bond broker's own encryption, or one it shows otherwise. */
	if ((pkt->evt.code == HCI_EV_ENCRYPT_CHANGE || pkt->evt.code == HCI_EV_KEY_REFRESH_COMPLETE) &&
	    bond_le_enc_event(m, c, pkt->evt.code, pkt->evt.param, (uint8_t)pkt->evt.plen))
		return;
	memcpy(buf, pkt->raw, pkt->raw_len);
	if (sess_wants(c->owner, pkt->evt.code, sub) &&
	    hmap_evt_rewrite(buf, pkt->raw_len, c->vhandle) == 0)
		sess_emit(c->owner, buf, pkt->raw_len, EM_EVENT);
	/* After the event: a pairing the mux answered distributes its keys. */
	if (pkt->evt.code == HCI_EV_ENCRYPT_CHANGE || pkt->evt.code == HCI_EV_KEY_REFRESH_COMPLETE) {
		bond_le_encrypted(m, c, pkt->evt.param[0]);
		bond_central_encrypted(c, pkt->evt.code, pkt->evt.param, (uint8_t)pkt->evt.plen);
	}
}

static void on_le_meta(struct mux *m, const struct h4_pkt *pkt)
{
	const uint8_t *q;
	size_t qlen;
	uint8_t sub;

	if (pkt->evt.plen < 1)
		return;
	sub = pkt->evt.param[0];
	q = pkt->evt.param + 1;
	qlen = pkt->evt.plen - 1u;
	switch (sub) {
	case HCI_LE_EV_CONN_COMPLETE:
	case HCI_LE_EV_ENH_CONN_COMPLETE:
	case HCI_LE_EV_ENH_CONN_COMPLETE_V2:
		on_le_conn_complete(m, sub, q, qlen);
		break;
	case HCI_LE_EV_ADV_REPORT:
	case HCI_LE_EV_EXT_ADV_REPORT:
	case HCI_LE_EV_DIRECT_ADV_REPORT:
		on_adv_report(m, sub, q, qlen);
		break;
	case HCI_LE_EV_ADV_SET_TERMINATED:
		/*
		 * The controller's sets are all its owner's (mux_cmd.c
		 * ext_adv_cmd). Ended by a connection (status 0): routed with
		 * that connection, which went to the owner as adv_owner, its
		 * handle the owner's own (7.7.65.18). Ended otherwise (timeout,
		 * limit): to the owner, the unused handle zeroed.
		 */
		if (qlen != HCI_LE_EV_ADV_SET_TERMINATED_LEN) {
			log_warn("controller: malformed LE Advertising Set Terminated");
			break;
		}
		if (q[0] == 0) {
			route_by_handle(m, pkt, sub, hmap_evt_off(HCI_EV_LE_META, sub));
		} else if (m->eadv_owner && !m->eadv_owner->dead) {
			uint8_t ev[HCI_LE_EV_ADV_SET_TERMINATED_LEN];

			memcpy(ev, q, sizeof(ev));
			hmap_put(ev + HCI_LE_EV_ADV_SET_TERMINATED_HANDLE_OFF, 0);
			sess_le_event(m->eadv_owner, sub, ev, sizeof(ev));
		}
		break;
	case HCI_LE_EV_LTK_REQUEST: {
		/* The device as central, with the household's key: answered here. */
		struct mux_conn *c = qlen >= 2 ? conn_by_handle(m, hmap_get(q)) : NULL;

		if (c && bond_central_ltk_req(m, c, q, qlen))
			break;
		route_by_handle(m, pkt, sub, hmap_evt_off(HCI_EV_LE_META, sub));
		break;
	}
	default:
		/* Those about one link: handlemap's table. */
		if (hmap_evt_off(HCI_EV_LE_META, sub) >= 0)
			route_by_handle(m, pkt, sub, hmap_evt_off(HCI_EV_LE_META, sub));
		else
			log_debug("controller: LE subevent 0x%02x not routed", sub);
		break;
	}
}

static void on_remote_name(struct mux *m, const struct h4_pkt *pkt)
{
	const uint8_t *p = pkt->evt.param;
	struct bdaddr a;
	struct mux_conn *c;
	bool any = false;
	unsigned i;

	if (pkt->evt.plen != 255) {
		log_warn("controller: malformed Remote Name Request Complete");
		return;
	}
	a = addr_at(p + 1);
	/* Every session that asked for this name, and is still allowed it. */
	for (i = 0; i < MUX_MAX_PEND; i++) {
		struct mux_pend *pd = &m->pend[i];

		if (!pd->used || pd->kind != P_NAME || !bdaddr_eq(&pd->addr, &a))
			continue;
		pd->used = false;
		any = true;
		if (pd->s && may_access(m, pd->s, &a, BDADDR_PUBLIC) &&
		    sess_wants(pd->s, HCI_EV_REMOTE_NAME, 0))
			sess_emit(pd->s, pkt->raw, pkt->raw_len, EM_EVENT);
	}
	if (any)
		return;
	c = conn_by_addr(m, &a, LINK_ACL);
	if (c && c->owner && sess_wants(c->owner, HCI_EV_REMOTE_NAME, 0))
		sess_emit(c->owner, pkt->raw, pkt->raw_len, EM_EVENT);
}

static void on_hw_error(struct mux *m, const struct h4_pkt *pkt)
{
	log_err("controller reported Hardware Error 0x%02x: re-initialising",
		pkt->evt.plen ? pkt->evt.param[0] : 0);
	/* finish() takes it down and starts it again once this input is done. */
	m->restart_pending = true;
}

/*
 * The key is kept as the household bond whether or not the host's mask
 * wants the event (the device holds it either way); the host gets its
 * own key in its place (mux_bond.c).
 */
static void on_link_key_notify(struct mux *m, struct mux_session *s, const uint8_t *p)
{
	uint8_t ev[HCI_EV_LINK_KEY_NOTIFY_LEN], h4[3 + HCI_EV_LINK_KEY_NOTIFY_LEN];
	int n;

	bond_on_link_key_notify(m, s, p, ev);
	if (sess_wants(s, HCI_EV_LINK_KEY_NOTIFY, 0)) {
		n = h4_build_evt(h4, sizeof(h4), HCI_EV_LINK_KEY_NOTIFY, ev, sizeof(ev));
		if (n > 0)
			sess_emit(s, h4, (size_t)n, EM_EVENT);
	}
	secmem_wipe(ev, sizeof(ev));
	secmem_wipe(h4, sizeof(h4));
}

void ctrl_event(struct mux *m, const struct h4_pkt *pkt)
{
	const uint8_t *p = pkt->evt.param;
	uint8_t plen = pkt->evt.plen;
	uint8_t code = pkt->evt.code;
	struct mux_session *s;
	struct h4_cc cc;
	struct h4_cs cs;
	struct bdaddr a;
	int off;
	unsigned i;

	switch (code) {
	case HCI_EV_CMD_COMPLETE:
		if (h4_parse_cc(pkt, &cc) < 0)
			goto bad;
		on_cmd_done(m, pkt, cc.opcode, cc.ncmd, false,
			    cc.rlen ? cc.ret[0] : 0, cc.ret, cc.rlen);
		return;
	case HCI_EV_CMD_STATUS:
		if (h4_parse_cs(pkt, &cs) < 0)
			goto bad;
		on_cmd_done(m, pkt, cs.opcode, cs.ncmd, true, cs.status, NULL, 0);
		return;
	case HCI_EV_INQUIRY_COMPLETE:
		if (plen != 1)
			goto bad;
		if (m->inq_active && !m->inq_cancelling && p[0] == 0)
			inq_run_ended(m);
		else if (m->inq_active || m->inq_cancelling)
			inquiry_stopped(m, NULL, p[0]);
		return;
	case HCI_EV_INQUIRY_RESULT:
	case HCI_EV_INQUIRY_RESULT_RSSI:
	case HCI_EV_EXT_INQUIRY_RESULT:
		on_inquiry_result(m, code, p, plen);
		return;
	case HCI_EV_CONN_COMPLETE:
	case HCI_EV_SYNC_CONN_COMPLETE:
		on_conn_complete(m, code, p, plen);
		return;
	case HCI_EV_CONN_REQUEST:
		on_conn_request(m, p, plen);
		return;
	case HCI_EV_DISCONN_COMPLETE:
		on_disconn_complete(m, p, plen);
		return;
	case HCI_EV_NUM_COMP_PKTS:
		on_nocp(m, p, plen);
		return;
	case HCI_EV_HARDWARE_ERROR:
		on_hw_error(m, pkt);
		return;
	case HCI_EV_LE_META:
		on_le_meta(m, pkt);
		return;
	case HCI_EV_REMOTE_NAME:
		on_remote_name(m, pkt);
		return;
	case HCI_EV_VENDOR:
		for (i = 0; i < m->nsess; i++)
			if (m->sess[i]->admin)
				sess_emit(m->sess[i], pkt->raw, pkt->raw_len, EM_EVENT);
		return;
	}
	off = hmap_evt_off(code, 0);
	if (off >= 0) {
		if (code == HCI_EV_AUTH_COMPLETE)
			bond_on_auth_complete(m, p, plen);
		route_by_handle(m, pkt, 0, off);
		return;
	}
	off = evt_addr_off(code);
	if (off >= 0) {
		if (plen < off + 6)
			goto bad;
		a = addr_at(p + off);
		s = addr_owner(m, &a);
		/* Household bonds first (mux_bond.c): the host is not asked. */
		if (code == HCI_EV_LINK_KEY_REQ && bond_on_link_key_req(m, s, &a))
			return;
		if ((code == HCI_EV_IO_CAPA_REQUEST || code == HCI_EV_PIN_CODE_REQ) &&
		    bond_refuse_pairing(m, code, &a))
			return;
		if (code == HCI_EV_LINK_KEY_NOTIFY) {
			if (plen != HCI_EV_LINK_KEY_NOTIFY_LEN)
				goto bad;
			if (s && !s->dead)
				on_link_key_notify(m, s, p);
			return;
		}
		if (s && !s->dead) {
			if (sess_wants(s, code, 0))
				sess_emit(s, pkt->raw, pkt->raw_len, EM_EVENT);
			else
				answer_unowned(m, code, &a);
		} else {
			answer_unowned(m, code, &a);
		}
		return;
	}
	/* Return Link Keys, Data Buffer Overflow, ...: for nobody. */
	log_debug("controller: event 0x%02x not routed", code);
	return;
bad:
	log_warn("controller: malformed event 0x%02x", code);
}
