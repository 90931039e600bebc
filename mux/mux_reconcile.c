/* SPDX-License-Identifier: MIT */
/*
 * Reconciling the physical controller with the union of the sessions'
 * wishes (event masks, scans, inquiry) and connecting through the accept
 * list on behalf of the member sessions.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"

/* Events the mux itself needs whatever the sessions ask (Vol 4 Part E 7.3.1). */
static const uint8_t required_evmask[8] = {
	0xdf,	/* Inquiry Complete/Result, Conn Complete/Request, Disconn, Remote
		 * Name, Encryption Change (bit 7: the mux's own LE Enable
		 * Encryption of an SC takeover, mux_bond_le.c) */
	0x80,	/* Hardware Error (bit 15) */
	0x00, 0x00,
	0x02,	/* Inquiry Result with RSSI (bit 33): the mux converts formats */
	0xc0,	/* Extended Inquiry Result (bit 46); Encryption Key Refresh
		 * Complete (bit 47): the host's encryption on a link the mux
		 * encrypted (SC takeover), shown to it as Encryption Change;
		 * a host leaves it masked without Pause Encryption (Linux) */
	0x00,
	0x20,	/* LE Meta (bit 61) */
};
static const uint8_t required_lemask[8] = { 0x03 };	/* LE Conn Complete, Adv Report */

/* ------------------------------------------------------------------ */
/* Reconciling the physical controller with the union of sessions */

static void desired_scan_params(struct mux *m, uint8_t out[7], bool *any)
{
	uint16_t ival = 0xffff, win = 0;
	unsigned i;

	*any = false;
	out[0] = 0;
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (!s->scan_en || s->dead)
			continue;
		*any = true;
		if (s->scan_params[0])
			out[0] = 1;	/* active beats passive */
		if (get_le16(s->scan_params + 1) < ival)
			ival = get_le16(s->scan_params + 1);
		if (get_le16(s->scan_params + 3) > win)
			win = get_le16(s->scan_params + 3);
	}
	if (!*any)
		ival = win = 0x10;
	if (win > ival)
		win = ival;
	put_le16(out + 1, ival);
	put_le16(out + 3, win);
	out[5] = 0x00;	/* own address: public (doc/virtual-controller.md) */
	out[6] = 0x00;	/* every report; each session's filter is applied by the mux */
}

/* Does any session scan with the extended commands (and may it be served so)? */
static bool want_ext_scan(const struct mux *m)
{
	unsigned i;

	if (!ext_scan_capable(m) || m->ext_scan_broken)
		return false;
	for (i = 0; i < m->nsess; i++)
		if (m->sess[i]->scan_en && !m->sess[i]->dead &&
		    m->sess[i]->scan_kind == SK_EXT)
			return true;
	return false;
}

/*
 * The merged extended scan (7.8.64): the union of the sessions' PHYs (a
 * legacy scanner scans LE 1M), per PHY active if any session scanning on
 * it is, the shortest interval and the longest window not above it; own
 * address public and filter policy 0, as for the legacy scan. Returns
 * the parameter length.
 */
static uint8_t desired_ext_scan_params(struct mux *m, uint8_t *out)
{
	uint8_t type[MUX_SCAN_PHYS] = { 0, 0 }, phys = 0;
	uint16_t ival[MUX_SCAN_PHYS] = { 0xffff, 0xffff }, win[MUX_SCAN_PHYS] = { 0, 0 };
	unsigned i, k, n = 3;

	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (!s->scan_en || s->dead)
			continue;
		for (k = 0; k < MUX_SCAN_PHYS; k++) {
			uint8_t t;
			uint16_t iv, w;

			if (s->scan_kind == SK_EXT) {
				if (!(s->escan_phys & (k ? 0x04 : 0x01)))
					continue;
				t = s->escan_type[k];
				iv = s->escan_ival[k];
				w = s->escan_win[k];
			} else {
				if (k)
					continue;
				t = s->scan_params[0];
				iv = get_le16(s->scan_params + 1);
				w = get_le16(s->scan_params + 3);
			}
			phys |= k ? 0x04 : 0x01;
			type[k] |= t;
			if (iv < ival[k])
				ival[k] = iv;
			if (w > win[k])
				win[k] = w;
		}
	}
	out[0] = 0x00;	/* own address: public (doc/virtual-controller.md) */
	out[1] = 0x00;	/* every report; each session's filter is applied by the mux */
	out[2] = phys;
	for (k = 0; k < MUX_SCAN_PHYS; k++) {
		if (!(phys & (k ? 0x04 : 0x01)))
			continue;
		if (win[k] > ival[k])
			win[k] = ival[k];
		out[n] = type[k];
		put_le16(out + n + 1, ival[k]);
		put_le16(out + n + 3, win[k]);
		n += 5;
	}
	return (uint8_t)n;
}

/* ------------------------------------------------------------------ */
/* Connecting through the accept list (LE Create Connection, policy 1) */

/* A session's queue starts with a direct LE (Extended) Create Connection. */
static bool direct_le_waiting(const struct mux *m)
{
	unsigned i;

	for (i = 0; i < m->nsess; i++) {
		struct pkt *pk = pktq_peek(&m->sess[i]->cmdq);

		if (!pk || pk->len < 5)
			continue;
		/* Initiator_Filter_Policy 0 (7.8.12, 7.8.66). */
		if (pk->len >= 9 && get_le16(pk->data + 1) == HCI_OP_LE_CREATE_CONN &&
		    pk->data[4 + 4] == 0)
			return true;
		if (get_le16(pk->data + 1) == HCI_OP_LE_EXT_CREATE_CONN && pk->data[4] == 0)
			return true;
	}
	return false;
}

/* Own_Address_Type of the session's waiting initiation (7.8.12, 7.8.66). */
static uint8_t al_own(const struct mux_session *s)
{
	return s->al_ext ? s->al_params[1] : s->al_params[12];
}

/*
 * Sessions sharing one physical initiation must connect from the same own
 * address: a link made from one session's random address is not given to
 * another that asked for a different one.
 */
static bool al_same_own(const struct mux_session *a, const struct mux_session *b)
{
	if (al_own(a) != al_own(b))
		return false;
	return !(al_own(a) & 0x01) ||
	       memcmp(a->reg[REG_LE_RAND_ADDR], b->reg[REG_LE_RAND_ADDR], 6) == 0;
}

static bool al_in_group(const struct mux_session *head, const struct mux_session *s)
{
	return s->al_init && !s->dead && al_same_own(head, s);
}

/*
 * The physical initiation's command for head's group: LE Create
 * Connection with the head's parameters while every member used that;
 * LE Extended Create Connection (7.8.66) as soon as one used the extended
 * one, so a device advertising only with extended PDUs (or on LE Coded)
 * can be reached. Its PHYs are the union of the members' (a legacy
 * member's parameters are an LE 1M block: scan interval and window, then
 * the connection parameters, the same 16 octets), each PHY's block from
 * the first member that gave one, the head first. Returns the length.
 */
static uint8_t al_command(struct mux *m, struct mux_session *head, uint8_t *cp,
			  uint16_t *op)
{
	uint8_t blk[3][MUX_EXT_CONN_PHY], have = 0, n = MUX_EXT_CONN_HDR;
	bool ext = false;
	unsigned i, j, k;

	for (i = 0; i < m->nsess; i++)
		ext |= al_in_group(head, m->sess[i]) && m->sess[i]->al_ext;
	if (!ext) {
		memcpy(cp, head->al_params, 25);
		cp[4] = 0x01;
		*op = HCI_OP_LE_CREATE_CONN;
		return 25;
	}
	for (j = 0; j <= m->nsess; j++) {
		const struct mux_session *s = j ? m->sess[j - 1] : head;
		const uint8_t *p = s->al_params;

		if (!al_in_group(head, s))
			continue;
		if (!s->al_ext) {
			if (!(have & 0x01)) {
				memcpy(blk[0], p, 4);
				memcpy(blk[0] + 4, p + 13, 12);
				have |= 0x01;
			}
			continue;
		}
		for (i = 0, k = 0; i < 3; i++) {
			if (!(p[9] & (1u << i)))
				continue;
			if (!(have & (1u << i)))
				memcpy(blk[i], p + MUX_EXT_CONN_HDR + MUX_EXT_CONN_PHY * k,
				       MUX_EXT_CONN_PHY);
			have |= (uint8_t)(1u << i);
			k++;
		}
	}
	memset(cp, 0, MUX_EXT_CONN_HDR);
	cp[0] = 0x01;		/* over the accept list */
	cp[1] = al_own(head);
	cp[9] = have;
	for (i = 0; i < 3; i++) {
		if (!(have & (1u << i)))
			continue;
		memcpy(cp + n, blk[i], MUX_EXT_CONN_PHY);
		n += MUX_EXT_CONN_PHY;
	}
	*op = HCI_OP_LE_EXT_CREATE_CONN;
	return n;
}

static bool al_ent_in(const struct mux_al_ent *tab, unsigned n, const struct mux_al_ent *e)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (tab[i].type == e->type && bdaddr_eq(&tab[i].a, &e->a))
			return true;
	return false;
}

/*
 * What the physical initiation should cover: the head is the first waiting
 * session with an entry its user may access; the group is every waiting
 * session with the same own address; the list is the union of the group's
 * accessible entries, as many as the physical list holds. Anonymous
 * entries (0xff) are never programmed: they name no device to check.
 */
static struct mux_session *al_want(struct mux *m, struct mux_al_ent *want, unsigned *n)
{
	struct mux_session *head = NULL;
	unsigned i, j, pass;

	*n = 0;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->nsess; i++) {
			struct mux_session *s = m->sess[i];

			if (!s->al_init || s->dead || (head && !al_same_own(head, s)))
				continue;
			for (j = 0; j < s->al_n; j++) {
				const struct mux_al_ent *e = &s->al[j];

				if (e->type > 1 || !may_access(m, s, &e->a, e->type))
					continue;
				if (!head) {
					head = s;
					break;
				}
				if (pass == 1 && *n < m->p_al_max && !al_ent_in(want, *n, e))
					want[(*n)++] = *e;
			}
		}
		if (!head)
			return NULL;
	}
	return head;
}

/*
 * Does the running physical initiation hear what s's own would? An
 * extended one (it answers extended PDUs) on each of s's primary PHYs;
 * a legacy session's is LE 1M.
 */
static bool al_phys_serves(const struct mux *m, const struct mux_session *s)
{
	uint8_t want = s->al_ext ? (uint8_t)(s->al_params[9] & 0x05) : 0x01;

	if (s->al_ext && !m->al_phys_ext)
		return false;
	return (m->al_phys_phys & want) == want;
}

static bool al_covers(struct mux *m, const struct mux_session *s, uint8_t type,
		      const struct bdaddr *a)
{
	return al_has(s, type, a) && may_access(m, s, a, type);
}

/*
 * One step of the accept-list initiation towards what the sessions want;
 * false when a command was sent (the caller stops there). Called from
 * reconcile() with recon_busy clear.
 */
static bool al_reconcile(struct mux *m)
{
	struct mux_al_ent want[MUX_P_AL_MAX];
	struct mux_session *head;
	unsigned n, i;
	uint8_t cp[MUX_EXT_CONN_MAX], cplen;
	uint16_t op;
	bool same;

	head = al_want(m, want, &n);
	same = n == m->p_al_n;
	for (i = 0; same && i < n; i++)
		same = al_ent_in(m->p_al, m->p_al_n, &want[i]);
	if (m->al_phys) {
		if (m->al_cancel_sent || le_create_outst(m))
			return true;
		for (i = 0; head && same && i < m->nsess; i++)
			same = !al_in_group(head, m->sess[i]) || al_phys_serves(m, m->sess[i]);
		if (head && same && head->al_member && !direct_le_waiting(m)) {
			/* Joiners whose entries and PHYs it already covers are in. */
			for (i = 0; i < m->nsess; i++) {
				struct mux_session *s = m->sess[i];

				if (al_in_group(head, s))
					s->al_member = true;
			}
			return true;
		}
		if (!can_send(m, HCI_OP_LE_CREATE_CONN_CANCEL))
			return false;
		m->al_cancel_sent = true;
		m->recon_busy = true;
		ctrl_cmd(m, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, O_RECON);
		return false;
	}
	if (!head || direct_le_waiting(m) || pend_find(m, P_LE_OUT, NULL) || m->le_stale_cancel ||
	    le_create_outst(m) || outst_find(m, HCI_OP_LE_CREATE_CONN_CANCEL))
		return true;
	for (i = 0; i < m->p_al_n; i++) {
		if (al_ent_in(want, n, &m->p_al[i]))
			continue;
		if (!can_send(m, HCI_OP_LE_CLEAR_ACCEPT_LIST))
			return false;
		m->recon_busy = true;
		ctrl_cmd(m, HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0, O_RECON);
		return false;
	}
	for (i = 0; i < n; i++) {
		uint8_t ap[7];

		if (al_ent_in(m->p_al, m->p_al_n, &want[i]))
			continue;
		if (!can_send(m, HCI_OP_LE_ADD_TO_ACCEPT_LIST))
			return false;
		ap[0] = want[i].type;
		memcpy(ap + 1, want[i].a.b, 6);
		m->recon_busy = true;
		ctrl_cmd(m, HCI_OP_LE_ADD_TO_ACCEPT_LIST, ap, 7, O_RECON);
		return false;
	}
	if ((al_own(head) & 0x01) &&
	    (!m->p_rand_valid || memcmp(m->p_rand, head->reg[REG_LE_RAND_ADDR], 6))) {
		if (!can_send(m, HCI_OP_LE_SET_RANDOM_ADDR))
			return false;
		m->recon_busy = true;
		ctrl_cmd(m, HCI_OP_LE_SET_RANDOM_ADDR, head->reg[REG_LE_RAND_ADDR], 6, O_RECON);
		return false;
	}
	cplen = al_command(m, head, cp, &op);
	if (!can_send(m, op))
		return false;
	for (i = 0; i < m->nsess; i++)
		m->sess[i]->al_member = al_in_group(head, m->sess[i]);
	m->al_phys = true;
	m->al_phys_ext = op == HCI_OP_LE_EXT_CREATE_CONN;
	m->al_phys_phys = m->al_phys_ext ? cp[9] : 0x01;
	m->recon_busy = true;
	ctrl_cmd(m, op, cp, cplen, O_RECON);
	return false;
}

/* The physical accept-list initiation ended (LE Connection Complete). */
struct mux_session *al_phys_ended(struct mux *m, uint8_t st, uint8_t type,
				  const struct bdaddr *a)
{
	struct mux_session *got = NULL;
	unsigned i, k;

	m->al_phys = false;
	if (st == HCI_ST_UNKNOWN_CONN_ID && m->al_cancel_sent) {
		/* Our own cancel: the sessions wait on, re-issued by reconcile. */
		m->al_cancel_sent = false;
		for (i = 0; i < m->nsess; i++)
			m->sess[i]->al_member = false;
		return NULL;
	}
	/* Ended otherwise: a cancel still outstanding will be refused. */
	m->al_cancel_sent = false;
	for (k = 0; k < m->nsess; k++) {
		struct mux_session *s = m->sess[(m->conn_rr + k) % m->nsess];

		if (!s->al_member || !s->al_init || s->dead)
			continue;
		if (st) {
			/* The controller gave up: every member is told, as one would be. */
			al_init_failed(s, st);
		} else if (!got && al_covers(m, s, type, a)) {
			got = s;
		}
	}
	if (got) {
		got->al_init = false;
		m->conn_rr++;
	}
	for (i = 0; i < m->nsess; i++)
		m->sess[i]->al_member = false;
	return got;
}

/*
 * Move the physical controller one step towards what the sessions need:
 * event masks = union, scan enable = OR (inquiry scan for admins only), one
 * LE scan with merged parameters, inquiry stopped when nobody wants it,
 * advertising stopped when its admin is gone. One command at a time.
 */
void reconcile(struct mux *m)
{
	uint8_t ev[8], ev2[8], le[8], sp[7], esp[3 + 5 * MUX_SCAN_PHYS], esp_len;
	uint8_t scan = 0;
	bool any_scan, any_inq = false, ext;
	unsigned i, j;

	if (!m->ready || m->recon_busy)
		return;
	memcpy(ev, required_evmask, 8);
	memset(ev2, 0, 8);
	memcpy(le, required_lemask, 8);
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (s->dead)
			continue;
		for (j = 0; j < 8; j++) {
			ev[j] |= s->evmask[j];
			ev2[j] |= s->evmask2[j];
			le[j] |= s->lemask[j];
		}
		scan |= s->reg[REG_SCAN_ENABLE][0] & 0x02;
		if (s->admin)
			scan |= s->reg[REG_SCAN_ENABLE][0] & 0x01;
		any_inq |= s->inquiring;
	}
	desired_scan_params(m, sp, &any_scan);
	ext = want_ext_scan(m);
	esp_len = desired_ext_scan_params(m, esp);
	/* The mux reads Extended Advertising Reports while it scans extended. */
	if (ext || m->p_le_scan_ext)
		le[1] |= 0x10;

#define RECON(op, p, n) do {						\
		if (!can_send(m, op))					\
			return;						\
		m->recon_busy = true;					\
		ctrl_cmd(m, op, p, n, O_RECON);				\
		return;							\
	} while (0)

	if (!(m->p_masks_valid & 1) || memcmp(ev, m->p_evmask, 8))
		RECON(HCI_OP_SET_EVENT_MASK, ev, 8);
	if (phys_supports(m, mux_cmd_find(HCI_OP_SET_EVENT_MASK_PAGE_2)) &&
	    (!(m->p_masks_valid & 2) || memcmp(ev2, m->p_evmask2, 8)))
		RECON(HCI_OP_SET_EVENT_MASK_PAGE_2, ev2, 8);
	if (le_capable(m) && (!(m->p_masks_valid & 4) || memcmp(le, m->p_lemask, 8)))
		RECON(HCI_OP_LE_SET_EVENT_MASK, le, 8);
	if (bredr_capable(m) && scan != m->p_scan)
		RECON(HCI_OP_WRITE_SCAN_ENABLE, &scan, 1);
	if (m->inq_active && !any_inq && !m->inq_cancelling &&
	    !outst_find(m, HCI_OP_INQUIRY)) {
		m->inq_cancelling = true;
		RECON(HCI_OP_INQUIRY_CANCEL, NULL, 0);
	}
	/* Sessions owed more time than the last physical inquiry ran. */
	if (!m->inq_active && any_inq && !m->inq_cancelling &&
	    !outst_find(m, HCI_OP_INQUIRY)) {
		uint8_t iq[5];

		memcpy(iq, m->inq_lap, 3);
		iq[3] = inq_units_owed(m);
		iq[4] = 0;
		RECON(HCI_OP_INQUIRY, iq, 5);
	}
	if (le_capable(m)) {
		bool same = m->p_scan_params_valid && !memcmp(sp, m->p_scan_params, 7);
		bool esame = m->p_escan_valid && esp_len == m->p_escan_len &&
			     !memcmp(esp, m->p_escan, esp_len);
		uint8_t en[6] = { 0, 0, 0, 0, 0, 0 };

		/*
		 * One physical scan, legacy or extended (the two are not
		 * mixed while one runs, Vol 4 Part E 3.1.1): it is stopped
		 * with the command that started it before the other kind or
		 * other parameters are programmed.
		 */
		if (m->p_le_scan && m->p_le_scan_ext && (!any_scan || !ext || !esame))
			RECON(HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6);
		if (m->p_le_scan && !m->p_le_scan_ext && (!any_scan || ext || !same))
			RECON(HCI_OP_LE_SET_SCAN_ENABLE, en, 2);
		if (!m->p_le_scan && any_scan && ext && !esame)
			RECON(HCI_OP_LE_SET_EXT_SCAN_PARAMS, esp, esp_len);
		if (!m->p_le_scan && any_scan && !ext && !same)
			RECON(HCI_OP_LE_SET_SCAN_PARAM, sp, 7);
		if (!m->p_le_scan && any_scan) {
			en[0] = 1;
			if (ext)
				RECON(HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6);
			RECON(HCI_OP_LE_SET_SCAN_ENABLE, en, 2);
		}
	}
	if (m->p_adv && (!m->adv_owner || m->adv_owner->dead || !m->adv_owner->admin)) {
		uint8_t off = 0;

		RECON(HCI_OP_LE_SET_ADV_ENABLE, &off, 1);
	}
	if (le_capable(m))
		(void)al_reconcile(m);
#undef RECON
}

void inquiry_stopped(struct mux *m, struct mux_session *except, uint8_t st)
{
	unsigned i;

	m->inq_active = false;
	m->inq_cancelling = false;
	loop_timer_disarm(m->inq_timer);
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (!s->inquiring || s == except)
			continue;
		inq_session_done(s, st);
	}
}

/* ------------------------------------------------------------------ */
/*
 * Each session's own inquiry (doc: "Discovery"): Inquiry_Length x 1.28 s
 * from its Inquiry (7.1.1), whatever the physical inquiry it shares. The
 * physical one is started with the first session's length; a session that
 * joins and is owed more is given it by a new physical inquiry when that
 * one ends (the controller's own Inquiry Complete is the clock: a scripted
 * or slow controller never makes a session end early), one that is owed
 * less ends by the timer, and one that has its Num_Responses ends then.
 * Times are the controller's, scaled to the wall clock (time_scale).
 */

static uint64_t inq_unit(const struct mux *m)
{
	uint64_t u = (uint64_t)(1280000.0 * m->cfg.time_scale);

	return u ? u : 1;
}

/* Half a unit: a session this close to its end ends with the physical run. */
static uint64_t inq_slack(const struct mux *m)
{
	return inq_unit(m) / 2;
}

static void inq_timer_update(struct mux *m);

void inq_session_start(struct mux *m, struct mux_session *s, uint8_t len, uint8_t max)
{
	s->inquiring = true;
	s->inq_seen_n = 0;
	s->inq_n = 0;
	s->inq_max = max;
	s->inq_left = (uint64_t)len * inq_unit(m);
	s->inq_mark = loop_now_us();
	inq_timer_update(m);
}

void inq_session_done(struct mux_session *s, uint8_t st)
{
	s->inquiring = false;
	s->inq_left = 0;
	sess_event(s, HCI_EV_INQUIRY_COMPLETE, &st, 1);
}

/*
 * The length, in 1.28 s units (0x01-0x30), the longest-owed session needs,
 * to the nearest unit (it ends within half a unit of its own end).
 */
uint8_t inq_units_owed(const struct mux *m)
{
	uint64_t most = 0, u = inq_unit(m), n;
	unsigned i;

	for (i = 0; i < m->nsess; i++)
		if (m->sess[i]->inquiring && m->sess[i]->inq_left > most)
			most = m->sess[i]->inq_left;
	n = (most + u / 2) / u;
	return (uint8_t)(n < 1 ? 1 : n > 0x30 ? 0x30 : n);
}

/*
 * Arm the timer for the first session whose time runs out clearly before
 * the physical inquiry ends (the others end with it).
 */
static void inq_timer_update(struct mux *m)
{
	uint64_t run_end = m->inq_run_start + m->inq_run_len, first = 0, now, end;
	unsigned i;

	loop_timer_disarm(m->inq_timer);
	if (!m->inq_active)
		return;
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (!s->inquiring || s->dead)
			continue;
		end = s->inq_mark + s->inq_left;
		if (end + inq_slack(m) < run_end && (!first || end < first))
			first = end;
	}
	if (!first)
		return;
	now = loop_now_us();
	loop_timer_arm(m->inq_timer, first > now ? first - now : 0);
}

void inq_run_started(struct mux *m, uint8_t len)
{
	unsigned i;

	m->inq_active = true;
	m->inq_run_start = loop_now_us();
	m->inq_run_len = (uint64_t)len * inq_unit(m);
	for (i = 0; i < m->nsess; i++)
		if (m->sess[i]->inquiring)
			m->sess[i]->inq_mark = m->inq_run_start;
	inq_timer_update(m);
}

/*
 * The physical inquiry ran its length (Inquiry Complete, success): each
 * session is credited with the part it was in; those with (nearly) none
 * left get their Inquiry Complete, reconcile() starts another for the rest.
 */
void inq_run_ended(struct mux *m)
{
	unsigned i;

	m->inq_active = false;
	loop_timer_disarm(m->inq_timer);
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];
		uint64_t late, credit;

		if (!s->inquiring)
			continue;
		late = s->inq_mark > m->inq_run_start ? s->inq_mark - m->inq_run_start : 0;
		credit = late < m->inq_run_len ? m->inq_run_len - late : 0;
		s->inq_left = s->inq_left > credit ? s->inq_left - credit : 0;
		s->inq_mark = loop_now_us();
		if (s->inq_left <= inq_slack(m) || s->dead)
			inq_session_done(s, 0);
	}
	recon_request(m);
}

/*
 * A session's own length ran out while the physical inquiry goes on (the
 * inquiry timer, mux.c).
 */
void inq_timeout(struct mux *m)
{
	uint64_t now = loop_now_us();
	unsigned i;

	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (s->inquiring && s->inq_mark + s->inq_left <= now)
			inq_session_done(s, 0);
	}
	inq_timer_update(m);
	/* Nobody left: the physical inquiry is cancelled. */
	recon_request(m);
}

void recon_done(struct mux *m, const struct mux_outst *o, uint8_t status)
{
	m->recon_busy = false;
	if (status)
		log_warn("controller refused 0x%04x (status 0x%02x); not retrying",
			 o->opcode, status);
	/* Record the value even on failure so a refusing controller is not hammered. */
	switch (o->opcode) {
	case HCI_OP_SET_EVENT_MASK:
		memcpy(m->p_evmask, o->param, 8);
		m->p_masks_valid |= 1;
		break;
	case HCI_OP_SET_EVENT_MASK_PAGE_2:
		memcpy(m->p_evmask2, o->param, 8);
		m->p_masks_valid |= 2;
		break;
	case HCI_OP_LE_SET_EVENT_MASK:
		memcpy(m->p_lemask, o->param, 8);
		m->p_masks_valid |= 4;
		break;
	case HCI_OP_WRITE_SCAN_ENABLE:
		m->p_scan = o->param[0];
		break;
	case HCI_OP_INQUIRY_CANCEL:
		inquiry_stopped(m, NULL, 0);
		break;
	case HCI_OP_INQUIRY:
		/* A new physical inquiry for the sessions still owed time. */
		if (!status)
			inq_run_started(m, o->param[3]);
		else
			inquiry_stopped(m, NULL, status);
		break;
	case HCI_OP_LE_SET_SCAN_PARAM:
		memcpy(m->p_scan_params, o->param, 7);
		m->p_scan_params_valid = true;
		break;
	case HCI_OP_LE_SET_SCAN_ENABLE:
		if (!status || o->param[0] == 0) {
			m->p_le_scan = o->param[0];
			m->p_le_scan_ext = false;
		} else {
			m->p_scan_params_valid = false;
		}
		break;
	case HCI_OP_LE_SET_EXT_SCAN_PARAMS:
		memcpy(m->p_escan, o->param, o->plen);
		m->p_escan_len = o->plen;
		m->p_escan_valid = true;
		if (status) {
			/*
			 * A controller that refuses the extended scan (some
			 * take one kind only after power-on, 3.1.1): scan
			 * legacy for everyone; extended scanners get the
			 * legacy reports in the extended format.
			 */
			log_warn("controller refused extended scanning: scanning with the legacy commands");
			m->ext_scan_broken = true;
		}
		break;
	case HCI_OP_LE_SET_EXT_SCAN_ENABLE:
		/* A stopped scan ends every chain: none continues in the next one. */
		if (o->param[0] == 0)
			frags_clear(m);
		if (!status || o->param[0] == 0) {
			m->p_le_scan = o->param[0];
			m->p_le_scan_ext = o->param[0];
		} else {
			m->p_escan_valid = false;
			log_warn("controller refused extended scanning: scanning with the legacy commands");
			m->ext_scan_broken = true;
		}
		break;
	case HCI_OP_LE_SET_ADV_ENABLE:
		m->p_adv = false;
		m->adv_owner = NULL;
		break;
	case HCI_OP_LE_CLEAR_ACCEPT_LIST:
		if (!status)
			m->p_al_n = 0;
		else
			m->p_al_max = 0;	/* unusable: stop programming it */
		break;
	case HCI_OP_LE_ADD_TO_ACCEPT_LIST:
		if (!status && m->p_al_n < MUX_P_AL_MAX) {
			m->p_al[m->p_al_n].type = o->param[0];
			m->p_al[m->p_al_n].a = addr_at(o->param + 1);
			m->p_al_n++;
		} else {
			/* Full (or refused): use no more than it took. */
			m->p_al_max = m->p_al_n;
		}
		break;
	case HCI_OP_LE_SET_RANDOM_ADDR:
		memcpy(m->p_rand, o->param, 6);
		m->p_rand_valid = true;
		break;
	case HCI_OP_LE_CREATE_CONN:
	case HCI_OP_LE_EXT_CREATE_CONN:
		if (status) {
			/* Refused: the members get the status, not a retry loop. */
			unsigned i;

			m->al_phys = false;
			for (i = 0; i < m->nsess; i++) {
				struct mux_session *s = m->sess[i];

				if (!s->al_member || !s->al_init)
					continue;
				al_init_failed(s, status);
			}
			for (i = 0; i < m->nsess; i++)
				m->sess[i]->al_member = false;
		}
		break;
	case HCI_OP_LE_CREATE_CONN_CANCEL:
		/* Refused: the initiation already ended (its event came first). */
		if (status)
			m->al_cancel_sent = false;
		break;
	}
}
