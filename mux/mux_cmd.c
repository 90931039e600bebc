/* SPDX-License-Identifier: MIT */
/*
 * A session's commands: the virtual state they set, the commands the mux
 * answers itself, and the checks (command table, ownership, policy) every
 * command passes before a byte of it reaches the controller.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "bdaddr.h"
#include "cursor.h"
#include "handlemap.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"
#include "secmem.h"

static const uint8_t default_evmask[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0 };
static const uint8_t default_lemask[8] = { 0x1f };
static const uint8_t default_scan_params[7] = { 0x00, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00 };

/* ------------------------------------------------------------------ */
/* Session virtual state */

void sess_defaults(struct mux_session *s)
{
	unsigned r;

	memcpy(s->evmask, default_evmask, 8);
	memset(s->evmask2, 0, 8);
	memcpy(s->lemask, default_lemask, 8);
	for (r = 0; r < REG_COUNT; r++)
		reg_set_default(s->m, s, r);
	memcpy(s->scan_params, default_scan_params, 7);
	s->scan_en = false;
	s->scan_dup = false;
	s->scan_kind = SK_NONE;
	s->vsets_n = 0;
	s->escan_phys = 0x01;
	s->escan_own = 0;
	s->escan_filter = 0;
	s->escan_type[0] = s->escan_type[1] = 0;
	s->escan_ival[0] = s->escan_ival[1] = 0x10;
	s->escan_win[0] = s->escan_win[1] = 0x10;
	s->al_n = 0;
	s->al_init = false;
	s->al_member = false;
	s->inquiring = false;
	s->inq_seen_n = 0;
	s->le_seen_n = 0;
}

/* ------------------------------------------------------------------ */
/* Virtual command handlers */

static void virt_read_ext_features(struct mux *m, struct mux_session *s,
				   uint16_t op, uint8_t page)
{
	/* Pages beyond 2 were never read: the virtual controller stops at 2. */
	uint8_t max_page = m->max_page > 2 ? 2 : m->max_page;
	uint8_t ret[11];
	const struct mux_cache_ent *e;

	ret[0] = 0;
	ret[1] = page;
	ret[2] = max_page;
	if (page == 0) {
		memcpy(ret + 3, m->features, 8);
	} else if (page <= max_page && (e = cache_get(m, op, page)) &&
		   e->rlen >= 11) {
		memcpy(ret + 3, e->ret + 3, 8);
		/*
		 * Page 2: no Connectionless Peripheral Broadcast or
		 * Synchronization Train/Scan (byte 0 bits 0-3): the mux does
		 * not offer them, and Linux would read their parameters.
		 */
		if (page == 2)
			ret[3] &= 0xf0;
		if (page == 1) {
			/*
			 * Page 1 holds the Host Supported Features: each
			 * virtual controller reports its own host's writes
			 * (Vol 2 Part C 3.3; Linux re-sends them otherwise).
			 */
			ret[3] = 0;
			if (s->reg[REG_SSP_MODE][0])
				ret[3] |= 0x01;
			if (s->reg[REG_LE_HOST][0])
				ret[3] |= 0x02;
			if (s->reg[REG_LE_HOST][1])
				ret[3] |= 0x04;
			if (s->reg[REG_SC][0])
				ret[3] |= 0x08;
		}
	} else {
		reply_cs(s, op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	reply_cc(s, op, ret, sizeof(ret));
}

static void al_remove(struct mux_session *s, uint8_t type, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < s->al_n; i++) {
		if (s->al[i].type == type && bdaddr_eq(&s->al[i].a, a)) {
			s->al[i] = s->al[--s->al_n];
			return;
		}
	}
}

/*
 * Create Connection or Remote Name Request (p: its parameters) refused by
 * the mux as a controller reports a page that failed: Command Status
 * success, then the completion with the error, Connection Complete (7.7.3;
 * handle 0, which a host takes only with status success) or Remote Name
 * Request Complete (7.7.7). A failed page (page timeout, a refusing
 * remote) is reported that way by every controller, so every host handles
 * it; a failed Command Status is a rarer path. A session that masked the
 * event gets only the Command Status, as from a controller. Nothing is
 * kept pending.
 */
static void refuse_page(struct mux_session *s, uint16_t op, const uint8_t *p, uint8_t st)
{
	uint8_t ev[1 + 6 + 248];

	reply_cs(s, op, 0);
	memset(ev, 0, sizeof(ev));
	ev[0] = st;
	if (op == HCI_OP_CREATE_CONN) {
		memcpy(ev + 3, p, 6);		/* handle 0: ev[1..2] */
		ev[9] = 0x01;			/* Link_Type ACL */
		sess_event(s, HCI_EV_CONN_COMPLETE, ev, 11);
	} else {
		memcpy(ev + 1, p, 6);
		sess_event(s, HCI_EV_REMOTE_NAME, ev, sizeof(ev));
	}
}

/*
 * Connection_Interval_Min/Max, Max_Latency, Supervision_Timeout at q, as
 * LE Create Connection (7.8.12) and each PHY of LE Extended Create
 * Connection (7.8.66) carry them.
 */
static bool conn_block_ok(const uint8_t *q)
{
	uint16_t mn = get_le16(q), mx = get_le16(q + 2);
	uint16_t lat = get_le16(q + 4), to = get_le16(q + 6);

	if (mn < 6 || mx > 0x0c80 || mn > mx || lat > 0x01f3 || to < 0x0a || to > 0x0c80)
		return false;
	/* Supervision timeout (10 ms) > (1 + latency) * interval * 2 (1.25 ms). */
	return (uint32_t)to * 4 > (1u + lat) * mx;
}

/* Scan and connection parameters of LE Create Connection (7.8.12). */
static bool le_conn_params_ok(const uint8_t *p)
{
	uint16_t si = get_le16(p), sw = get_le16(p + 2);

	if (si < 4 || si > 0x4000 || sw < 4 || sw > si)
		return false;
	return conn_block_ok(p + 13);
}

/*
 * LE Extended Create Connection (7.8.66), checked byte by byte as a
 * controller checks it before it starts initiating: 0, or the status of
 * its Command Status. Initiator_Filter_Policy 0-1, Own_Address_Type 0-1
 * (2/3 need LL privacy, not offered), Peer_Address_Type 0-3 (when it is
 * used), Initiating_PHYs (bit 0 LE 1M, 1 LE 2M, 2 LE Coded): a reserved
 * bit or a PHY the controller lacks (LE features bits 8 and 11, Vol 6
 * Part B 4.6) is Unsupported Feature or Parameter Value; none that
 * carries advertising (LE 2M alone) is invalid; then exactly 16 octets
 * per PHY set, each with Scan_Interval/Window 0x0004-0xFFFF, window not
 * above interval (LE 2M's are ignored: nobody advertises on it), and the
 * connection parameters of 7.8.12.
 */
static uint8_t ext_conn_check(const struct mux *m, const uint8_t *p, uint8_t plen)
{
	uint8_t phys = p[9];
	unsigned i, k = 0;

	if (p[0] > 1 || p[1] > 3 || (p[0] == 0 && p[2] > 3))
		return HCI_ST_INVALID_PARAMETERS;
	if (p[1] > 1)
		return HCI_ST_INVALID_PARAMETERS;
	if ((phys & ~0x07u) || ((phys & 0x02) && !le_2m_capable(m)) ||
	    ((phys & 0x04) && !le_coded_capable(m)))
		return HCI_ST_UNSUPPORTED_FEATURE;
	if (!(phys & 0x05))
		return HCI_ST_INVALID_PARAMETERS;
	if (plen != MUX_EXT_CONN_HDR + MUX_EXT_CONN_PHY * (unsigned)__builtin_popcount(phys))
		return HCI_ST_INVALID_PARAMETERS;
	for (i = 0; i < 3; i++) {
		const uint8_t *q;
		uint16_t si, sw;

		if (!(phys & (1u << i)))
			continue;
		q = p + MUX_EXT_CONN_HDR + MUX_EXT_CONN_PHY * k++;
		si = get_le16(q);
		sw = get_le16(q + 2);
		if (i != 1 && (si < 4 || sw < 4 || sw > si))
			return HCI_ST_INVALID_PARAMETERS;
		if (!conn_block_ok(q + 4))
			return HCI_ST_INVALID_PARAMETERS;
	}
	return 0;
}

/*
 * LE Create Connection with Initiator_Filter_Policy 1: the session waits
 * for a connection to any entry of its own virtual accept list. Nothing is
 * sent here; reconcile() runs one physical initiation over the union of
 * the waiting sessions' allowed entries.
 */
static void al_connect_start(struct mux *m, struct mux_session *s, uint16_t op,
			     const uint8_t *p, uint8_t plen)
{
	bool ext = op == HCI_OP_LE_EXT_CREATE_CONN;

	/* For the LE bond broker's c1 (mux_bond_le.c): 7.8.12, 7.8.66. */
	s->le_own_type = ext ? p[1] : p[12];
	if (!m->p_al_max) {
		/* No physical accept list to initiate over. */
		reply_cs(s, op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	/* The extended one passed ext_conn_check() already. */
	if (!ext && (p[12] > 1 || !le_conn_params_ok(p))) {
		/* Own types 2/3 need LL privacy, which is not offered. */
		reply_cs(s, op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	memcpy(s->al_params, p, plen);
	s->al_ext = ext;
	s->al_init = true;
	s->al_member = false;
	reply_cs(s, op, 0);
}

/*
 * A host uses either the legacy or the extended scan commands: after one
 * of a kind, one of the other kind gets Command Disallowed until HCI Reset
 * (Vol 4 Part E 3.1.1), as a controller may answer. The kind decides the
 * report format the session gets (7.7.65.2 or 7.7.65.13).
 */
static bool scan_kind_ok(struct mux_session *s, uint8_t kind, uint16_t op)
{
	if (s->scan_kind != SK_NONE && s->scan_kind != kind) {
		sess_refuse(s, LOG_INFO, "0x%04x after the other kind of scan command refused",
			    op);
		reply_status_only(s, op, HCI_ST_COMMAND_DISALLOWED);
		return false;
	}
	return true;
}

/*
 * LE Set Extended Scan Parameters (7.8.64): Own_Address_Type,
 * Scanning_Filter_Policy, Scanning_PHYs, then Type, Interval, Window per
 * PHY set. Returns the status for the Command Complete.
 */
static uint8_t ext_scan_params(struct mux *m, struct mux_session *s,
			       const uint8_t *p, uint8_t plen)
{
	uint8_t type[MUX_SCAN_PHYS], phys = p[2];
	uint16_t ival[MUX_SCAN_PHYS], win[MUX_SCAN_PHYS];
	unsigned i, k = 0;

	/* Disallowed while scanning is enabled (7.8.64). */
	if (s->scan_en)
		return HCI_ST_COMMAND_DISALLOWED;
	/*
	 * PHYs: bit 0 LE 1M, bit 2 LE Coded; bit 1 is reserved (LE 2M is
	 * no primary advertising PHY). Coded only where the controller has
	 * it (LE feature bit 11, Vol 6 Part B 4.6), as a controller answers.
	 */
	if (!phys || (phys & ~0x05u))
		return phys & 0x02 ? HCI_ST_UNSUPPORTED_FEATURE : HCI_ST_INVALID_PARAMETERS;
	if ((phys & 0x04) && !le_coded_capable(m))
		return HCI_ST_UNSUPPORTED_FEATURE;
	if (plen != 3u + 5u * (unsigned)__builtin_popcount(phys))
		return HCI_ST_INVALID_PARAMETERS;
	if (p[0] > 3)
		return HCI_ST_INVALID_PARAMETERS;
	/* Own types 2/3 need LL privacy, which is not offered. */
	if (p[0] > 1)
		return HCI_ST_INVALID_PARAMETERS;
	/* Policies 2/3 need the extended scanner filter policies feature (hidden). */
	if (p[1] > 1)
		return p[1] > 3 ? HCI_ST_INVALID_PARAMETERS : HCI_ST_UNSUPPORTED_FEATURE;
	for (i = 0; i < MUX_SCAN_PHYS; i++) {
		const uint8_t *q;

		type[i] = 0;
		ival[i] = win[i] = 0x10;
		if (!(phys & (i ? 0x04 : 0x01)))
			continue;
		q = p + 3 + 5 * k++;
		type[i] = q[0];
		ival[i] = get_le16(q + 1);
		win[i] = get_le16(q + 3);
		if (type[i] > 1 || ival[i] < 4 || win[i] < 4 || win[i] > ival[i])
			return HCI_ST_INVALID_PARAMETERS;
	}
	s->escan_phys = phys;
	s->escan_own = p[0];
	s->escan_filter = p[1];
	memcpy(s->escan_type, type, sizeof(type));
	memcpy(s->escan_ival, ival, sizeof(ival));
	memcpy(s->escan_win, win, sizeof(win));
	return 0;
}

/* LE Set Extended Scan Enable (7.8.65). Returns the status. */
static uint8_t ext_scan_enable(struct mux_session *s, const uint8_t *p)
{
	uint16_t duration = get_le16(p + 2), period = get_le16(p + 4);

	if (p[0] > 1 || p[1] > 2)
		return HCI_ST_INVALID_PARAMETERS;
	if (p[0] && (duration || period)) {
		/*
		 * A scan that ends by itself (Duration, then LE Scan Timeout)
		 * or repeats (Period) is not offered yet: the physical scan is
		 * shared and has no per-session timer. Linux scans with both
		 * zero and times its discovery itself.
		 */
		return HCI_ST_UNSUPPORTED_FEATURE;
	}
	if (p[0] && !s->scan_en)
		s->le_seen_n = 0;
	s->scan_en = p[0];
	/* Filter_Duplicates 2 resets per Period; with no Period it is 1. */
	s->scan_dup = p[1] != 0;
	return 0;
}

/* Returns R_DONE, or R_WAIT/R_SENT for LE Create Connection Cancel. */
static int virt_cmd(struct mux *m, struct mux_session *s, const struct mux_cmd_def *d,
		    const uint8_t *h4, size_t len, bool may_send)
{
	uint16_t op = d->opcode;
	const uint8_t *p = h4 + 4;
	uint8_t ret[70];
	struct bdaddr a;

	memset(ret, 0, sizeof(ret));
	/* The accept list is not changed while its initiation uses it (7.8.15-17). */
	if (s->al_init && (op == HCI_OP_LE_CLEAR_ACCEPT_LIST ||
			   op == HCI_OP_LE_ADD_TO_ACCEPT_LIST ||
			   op == HCI_OP_LE_DEL_FROM_ACCEPT_LIST)) {
		reply_status_only(s, op, HCI_ST_COMMAND_DISALLOWED);
		return R_DONE;
	}
	switch (op) {
	case HCI_OP_SET_EVENT_MASK:
		memcpy(s->evmask, p, 8);
		break;
	case HCI_OP_SET_EVENT_MASK_PAGE_2:
		memcpy(s->evmask2, p, 8);
		break;
	case HCI_OP_LE_SET_EVENT_MASK:
		memcpy(s->lemask, p, 8);
		break;
	case HCI_OP_SET_EVENT_FILTER:
		/* The physical filter stays clear; hosts only ever clear it. */
		break;
	case HCI_OP_READ_STORED_LINK_KEY:
		/* Keys stored in the controller are shared by every user: none are shown. */
		reply_cc(s, op, ret, 5);
		return R_DONE;
	case HCI_OP_DELETE_STORED_LINK_KEY:
		/* Never forwarded: it would wipe every user's keys (Vol 4 Part E 7.3.10). */
		reply_cc(s, op, ret, 3);
		return R_DONE;
	case HCI_OP_READ_LOCAL_COMMANDS:
		memcpy(ret + 1, s->admin ? m->virt_cmds : m->user_cmds, 64);
		reply_cc(s, op, ret, 65);
		return R_DONE;
	case HCI_OP_READ_LOCAL_EXT_FEATURES:
		virt_read_ext_features(m, s, op, p[0]);
		return R_DONE;
	case HCI_OP_READ_BUFFER_SIZE:
		/* Each session is told its virtual buffers (Vol 4 Part E 7.4.5; quota()). */
		put_le16(ret + 1, m->acl.mtu);
		ret[3] = m->sco_mtu;
		put_le16(ret + 4, m->acl.quota);
		put_le16(ret + 6, m->sco_pkts);
		reply_cc(s, op, ret, 8);
		return R_DONE;
	case HCI_OP_LE_READ_BUFFER_SIZE:
		if (!m->le_shared) {
			put_le16(ret + 1, m->le.mtu);
			ret[3] = (uint8_t)(m->le.quota > 255 ? 255 : m->le.quota);
		}
		reply_cc(s, op, ret, 4);
		return R_DONE;
	case HCI_OP_LE_READ_LOCAL_FEATURES:
		/*
		 * Hidden: LL privacy and extended scanner filter policies
		 * (byte 0 bits 6-7), periodic advertising and all
		 * isochronous features: the mux does not share them.
		 */
		memcpy(ret + 1, m->le_features, 8);
		ret[1] &= 0x3f;
		ret[2] &= 0x4f;
		/* LE Extended Advertising (bit 12): with the set commands. */
		if (ext_adv_capable(m))
			ret[2] |= 0x10;
		memset(ret + 3, 0, 6);
		reply_cc(s, op, ret, 9);
		return R_DONE;
	case HCI_OP_LE_SET_EXT_SCAN_PARAMS:
		if (!scan_kind_ok(s, SK_EXT, op))
			return R_DONE;
		ret[0] = ext_scan_params(m, s, p, (uint8_t)(len - 4));
		if (ret[0]) {
			sess_refuse(s, LOG_INFO, "extended scan parameters refused (0x%02x)",
				    ret[0]);
			reply_cc(s, op, ret, 1);
			return R_DONE;
		}
		s->scan_kind = SK_EXT;
		break;
	case HCI_OP_LE_SET_EXT_SCAN_ENABLE:
		if (!scan_kind_ok(s, SK_EXT, op))
			return R_DONE;
		ret[0] = ext_scan_enable(s, p);
		if (ret[0]) {
			reply_cc(s, op, ret, 1);
			return R_DONE;
		}
		s->scan_kind = SK_EXT;
		break;
	case HCI_OP_LE_SET_SCAN_PARAM:
		if (!scan_kind_ok(s, SK_LEGACY, op))
			return R_DONE;
		/* Vol 4 Part E 7.8.10: disallowed while scanning is enabled. */
		if (s->scan_en) {
			reply_status_only(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		if (p[0] > 1 || get_le16(p + 1) < 4 || get_le16(p + 3) < 4 ||
		    get_le16(p + 3) > get_le16(p + 1)) {
			reply_status_only(s, op, HCI_ST_INVALID_PARAMETERS);
			return R_DONE;
		}
		memcpy(s->scan_params, p, 7);
		s->scan_kind = SK_LEGACY;
		break;
	case HCI_OP_LE_SET_SCAN_ENABLE:
		if (!scan_kind_ok(s, SK_LEGACY, op))
			return R_DONE;
		if (p[0] > 1 || p[1] > 1) {
			reply_status_only(s, op, HCI_ST_INVALID_PARAMETERS);
			return R_DONE;
		}
		s->scan_kind = SK_LEGACY;
		if (p[0] && !s->scan_en)
			s->le_seen_n = 0;
		s->scan_en = p[0];
		s->scan_dup = p[1];
		break;
	case HCI_OP_LE_CREATE_CONN_CANCEL:
		if (s->al_init) {
			/*
			 * Only this session's part ends: Command Complete, then
			 * the LE Connection Complete with Unknown Connection
			 * Identifier a controller sends (7.8.13). The physical
			 * initiation is re-issued without its entries.
			 */
			s->al_member = false;
			reply_status_only(s, op, 0);
			al_init_failed(s, HCI_ST_UNKNOWN_CONN_ID);
			recon_request(m);
			return R_DONE;
		}
		if (!pend_find_sess(m, P_LE_OUT, NULL, s)) {
			reply_status_only(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		if (!m->up) {
			reply_status_only(s, op, HCI_ST_HARDWARE_FAILURE);
			return R_DONE;
		}
		if (!may_send || !can_send(m, op))
			return R_WAIT;
		ctrl_send_cmd(m, h4, len, s, O_SESSION);
		return R_SENT;
	case HCI_OP_LE_READ_ACCEPT_LIST_SIZE:
		ret[1] = MUX_AL_MAX;
		reply_cc(s, op, ret, 2);
		return R_DONE;
	case HCI_OP_LE_CLEAR_ACCEPT_LIST:
		s->al_n = 0;
		break;
	case HCI_OP_LE_ADD_TO_ACCEPT_LIST:
		a = addr_at(p + 1);
		if (p[0] > 1 && p[0] != 0xff) {
			ret[0] = HCI_ST_INVALID_PARAMETERS;
		} else if (!al_has(s, p[0], &a)) {
			if (s->al_n >= MUX_AL_MAX) {
				ret[0] = HCI_ST_MEMORY_EXCEEDED;
			} else {
				s->al[s->al_n].type = p[0];
				s->al[s->al_n].a = a;
				s->al_n++;
			}
		}
		reply_cc(s, op, ret, 1);
		return R_DONE;
	case HCI_OP_LE_DEL_FROM_ACCEPT_LIST:
		a = addr_at(p + 1);
		al_remove(s, p[0], &a);
		break;
	case HCI_OP_LE_CLEAR_RESOLV_LIST:
		break;
	default:
		reply_cs(s, op, HCI_ST_UNKNOWN_COMMAND);
		return R_DONE;
	}
	reply_cc(s, op, ret, 1);
	recon_request(m);
	return R_DONE;
}

static void reg_write(struct mux *m, struct mux_session *s, const struct mux_cmd_def *d,
		      const uint8_t *p, uint8_t plen)
{
	const struct mux_reg_def *rd = mux_reg_def(d->reg);
	uint8_t st = 0;

	if (rd->var) {
		/* Write Current IAC LAP: Num_Current_IAC then 3 bytes each (7.3.45). */
		if (p[0] < 1 || p[0] > 4 || plen != 1u + 3u * p[0])
			st = HCI_ST_INVALID_PARAMETERS;
	} else if (plen != rd->len) {
		st = HCI_ST_INVALID_PARAMETERS;
	}
	if (!st && d->reg == REG_SCAN_ENABLE && p[0] > 3)
		st = HCI_ST_INVALID_PARAMETERS;
	if (!st && d->reg == REG_INQ_MODE && p[0] > 2)
		st = HCI_ST_INVALID_PARAMETERS;
	if (!st && (d->reg == REG_SSP_MODE || d->reg == REG_SC) && p[0] > 1)
		st = HCI_ST_INVALID_PARAMETERS;
	if (st) {
		sess_refuse(s, LOG_INFO, "invalid parameters for 0x%04x",
			    d->opcode);
		reply_status_only(s, d->opcode, st);
		return;
	}
	memcpy(s->reg[d->reg], p, plen);
	s->reg_len[d->reg] = plen;
	/*
	 * An admin's name and class are what the gateway shows the world;
	 * nobody else's reach the radio (doc/virtual-controller.md).
	 */
	if (s->admin && (d->reg == REG_LOCAL_NAME || d->reg == REG_CLASS))
		internal_cmd(m, d->opcode, p, plen);
	reply_status_only(s, d->opcode, 0);
	recon_request(m);
}

static void reg_read(struct mux_session *s, const struct mux_cmd_def *d)
{
	uint8_t ret[1 + MUX_REG_MAX];

	ret[0] = 0;
	memcpy(ret + 1, s->reg[d->reg], s->reg_len[d->reg]);
	reply_cc(s, d->opcode, ret, 1u + s->reg_len[d->reg]);
}

static void cache_reply(struct mux *m, struct mux_session *s, uint16_t op)
{
	const struct mux_cache_ent *e = cache_get(m, op, 0);

	if (!e) {
		reply_cs(s, op, HCI_ST_UNKNOWN_COMMAND);
		return;
	}
	reply_cc(s, op, e->ret, e->rlen);
}

static void sess_reset(struct mux_session *s)
{
	teardown(s, HCI_ST_REMOTE_POWER_OFF);
	sess_defaults(s);
	s->stalled = false;
	s->dropped = 0;
}

/* ------------------------------------------------------------------ */
/* Extended advertising sets (Vol 4 Part E 7.8.52-7.8.61) */

/* The sets a session may hold: the controller's count (7.8.58), capped. */
static unsigned vsets_max(const struct mux *m)
{
	const struct mux_cache_ent *e = cache_get(m, HCI_OP_LE_READ_NUM_ADV_SETS, 0);
	unsigned n = e && e->rlen >= 2 ? e->ret[1] : 0;

	return n > MUX_VSETS_MAX ? MUX_VSETS_MAX : n;
}

static int vset_find(const struct mux_session *s, uint8_t h)
{
	unsigned i;

	for (i = 0; i < s->vsets_n; i++)
		if (s->vset[i] == h)
			return (int)i;
	return -1;
}

/*
 * Parameter lengths the table cannot say (MT_VARLEN): Set Extended
 * Advertising/Scan Response Data, 4 octets then Advertising_Data_Length
 * octets, at most 251 in one command (7.8.54); Enable, 2 octets then 4 per
 * set (7.8.56).
 */
static bool ext_adv_len_ok(uint16_t op, const uint8_t *p, uint8_t plen)
{
	switch (op) {
	case HCI_OP_LE_SET_EXT_ADV_DATA:
	case HCI_OP_LE_SET_EXT_SCAN_RSP_DATA:
		return p[3] <= 251 && plen == 4u + p[3];
	case HCI_OP_LE_SET_EXT_ADV_ENABLE:
		return plen == 2u + 4u * p[1] && p[1] <= 63;
	default:
		return true;
	}
}

/*
 * A virtual set command: the state a controller keeps and the status it
 * answers (7.8.52-7.8.61), nothing on the air, as an ordinary user's
 * legacy advertising (doc: Global settings).
 */
static void ext_adv_virtual(struct mux *m, struct mux_session *s, uint16_t op,
			    const uint8_t *p)
{
	uint8_t ret[2] = { 0, 0 };
	unsigned i;
	int k;

	switch (op) {
	case HCI_OP_LE_SET_EXT_ADV_PARAMS:
		k = vset_find(s, p[0]);
		if (p[0] > 0xef) {
			ret[0] = HCI_ST_INVALID_PARAMETERS;
		} else if (k >= 0 && s->vset_en[k]) {
			ret[0] = HCI_ST_COMMAND_DISALLOWED;	/* while enabled */
		} else if (k < 0 && s->vsets_n >= vsets_max(m)) {
			/* No set left for it: Memory Capacity Exceeded (7.8.53). */
			ret[0] = HCI_ST_MEMORY_EXCEEDED;
		} else if (k < 0) {
			s->vset[s->vsets_n] = p[0];
			s->vset_en[s->vsets_n] = false;
			s->vsets_n++;
		}
		/* Status, Selected_TX_Power: 0 dBm (none is sent). */
		reply_cc(s, op, ret, ret[0] ? 1 : 2);
		return;
	case HCI_OP_LE_SET_EXT_ADV_ENABLE:
		/* Every named set must exist (7.8.56), checked before any changes. */
		for (i = 0; i < p[1]; i++)
			if (vset_find(s, p[2 + 4 * i]) < 0)
				ret[0] = HCI_ST_UNKNOWN_ADV_ID;
		if (!ret[0] && p[0] > 1)
			ret[0] = HCI_ST_INVALID_PARAMETERS;
		if (!ret[0] && p[1] == 0 && p[0])
			ret[0] = HCI_ST_INVALID_PARAMETERS;	/* enabling "all" */
		if (!ret[0] && p[1] == 0)
			memset(s->vset_en, 0, sizeof(s->vset_en));
		for (i = 0; !ret[0] && i < p[1]; i++)
			s->vset_en[vset_find(s, p[2 + 4 * i])] = p[0];
		break;
	case HCI_OP_LE_REMOVE_ADV_SET:
		k = vset_find(s, p[0]);
		if (k < 0) {
			ret[0] = HCI_ST_UNKNOWN_ADV_ID;
		} else if (s->vset_en[k]) {
			ret[0] = HCI_ST_COMMAND_DISALLOWED;
		} else {
			s->vsets_n--;
			s->vset[k] = s->vset[s->vsets_n];
			s->vset_en[k] = s->vset_en[s->vsets_n];
		}
		break;
	case HCI_OP_LE_CLEAR_ADV_SETS:
		/* Only this session's own sets; refused while one is enabled (7.8.61). */
		for (i = 0; i < s->vsets_n; i++)
			if (s->vset_en[i])
				ret[0] = HCI_ST_COMMAND_DISALLOWED;
		if (!ret[0])
			s->vsets_n = 0;
		break;
	default:	/* Random address, data, scan response: the set must exist. */
		if (vset_find(s, p[0]) < 0)
			ret[0] = HCI_ST_UNKNOWN_ADV_ID;
		break;
	}
	reply_cc(s, op, ret, 1);
}

/*
 * One admin's sets are the controller's (forwarded as they are, so all
 * the controller's sets are its own: its Remove and Clear touch nothing
 * of anyone else's); every other session's sets are virtual. The owner is
 * the first admin to create a set while no admin owns any, until its
 * session resets or ends (then its sets are disabled and cleared). An
 * admin that is not the owner gets virtual sets, as Linux fails power-on
 * if its default set is refused (notes 1.4).
 */
static int ext_adv_cmd(struct mux *m, struct mux_session *s, const struct mux_cmd_def *d,
		       const uint8_t *h4, size_t len, bool may_send)
{
	uint16_t op = d->opcode;
	const uint8_t *p = h4 + 4;
	uint8_t plen = h4[3];

	if (!ext_adv_len_ok(op, p, plen)) {
		sess_refuse(s, LOG_WARNING, "command 0x%04x with bad length %u refused", op, plen);
		reply_status_only(s, op, HCI_ST_INVALID_PARAMETERS);
		return R_DONE;
	}
	if (!s->admin || (m->eadv_owner && m->eadv_owner != s) ||
	    (!m->eadv_owner && (op != HCI_OP_LE_SET_EXT_ADV_PARAMS || s->vsets_n))) {
		ext_adv_virtual(m, s, op, p);
		return R_DONE;
	}
	if (!m->up) {
		reply_status_only(s, op, HCI_ST_HARDWARE_FAILURE);
		return R_DONE;
	}
	if (!m->ready || !may_send || !can_send(m, op))
		return R_WAIT;
	m->eadv_owner = s;
	ctrl_send_cmd(m, h4, len, s, O_SESSION);
	return R_SENT;
}

/* ------------------------------------------------------------------ */
/* Processing one session command */

static const struct mux_cmd_def vendor_def = {
	0, MK_PRIV, MT_VARLEN, 0, 0xff, 0, 0
};

/*
 * Decide what to do with the command at the head of a session's queue.
 * Called when it reaches the head (may_send false) and again from the
 * dispatcher (may_send true); until it answers or sends, it changes nothing.
 */
int cmd_process(struct mux *m, struct mux_session *s, const uint8_t *h4,
		size_t len, bool may_send)
{
	uint16_t op = get_le16(h4 + 1);
	uint8_t plen = h4[3];
	const uint8_t *p = h4 + 4;
	const struct mux_cmd_def *d;
	struct mux_conn *c = NULL;
	struct mux_outst *o;
	uint8_t xbuf[H4_MAX_CTL_PKT];
	uint8_t own = 0;
	struct bdaddr a;

	/* Nothing is known of the controller before the first init. */
	if (!m->have_cache)
		return R_WAIT;

	d = HCI_OGF(op) == HCI_OGF_VENDOR ? &vendor_def : mux_cmd_find(op);
	if (!d || !virt_supports(m, d) ||
	    (d->kind == MK_CACHE && !cache_get(m, op, 0))) {
		log_debug("session %u: unknown command 0x%04x", s->id, op);
		reply_cs(s, op, HCI_ST_UNKNOWN_COMMAND);
		return R_DONE;
	}
	if ((d->flags & MT_VARLEN) ? plen < d->plen : plen != d->plen) {
		sess_refuse(s, LOG_WARNING, "command 0x%04x with bad length %u refused",
			    op, plen);
		reply_err(s, d, op, p, plen, HCI_ST_INVALID_PARAMETERS);
		return R_DONE;
	}

	switch (d->kind) {
	case MK_CACHE:
		cache_reply(m, s, op);
		return R_DONE;
	case MK_REG_W:
		reg_write(m, s, d, p, plen);
		return R_DONE;
	case MK_REG_R:
		reg_read(s, d);
		return R_DONE;
	case MK_VIRT:
		return virt_cmd(m, s, d, h4, len, may_send);
	case MK_EXTADV:
		return ext_adv_cmd(m, s, d, h4, len, may_send);
	case MK_RESET:
		/* Vol 4 Part E 7.3.2, for this virtual controller only. */
		log_info("session %u (%s): virtual reset", s->id, s->user);
		sess_reset(s);
		reply_status_only(s, op, 0);
		recon_request(m);
		return R_DONE;
	case MK_PRIV:
		/* As hci_sock's security filter: not for ordinary users. */
		if (!s->admin) {
			sess_refuse(s, LOG_NOTICE, "privileged command 0x%04x refused",
				    op);
			reply_err(s, d, op, p, plen, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		break;
	case MK_ADV:
		if (!s->admin) {
			/* Accepted on the virtual controller, never on the air. */
			if (plen <= MUX_REG_MAX) {
				memcpy(s->reg[d->reg], p, plen);
				s->reg_len[d->reg] = plen;
			}
			reply_status_only(s, op, 0);
			return R_DONE;
		}
		break;
	case MK_HANDLE:
		/* Read Clock of the local clock ignores the handle (7.5.6). */
		if (op == HCI_OP_READ_CLOCK && p[2] == 0x00)
			break;
		/* In the session's own handle space (doc: "Handles"). */
		c = conn_by_vhandle(m, s, hmap_get(p + hmap_cmd_off(d)));
		if (!c) {
			sess_refuse(s, LOG_INFO, "command 0x%04x on foreign handle 0x%04x refused",
				    op, hmap_get(p + hmap_cmd_off(d)));
			reply_err(s, d, op, p, plen, HCI_ST_UNKNOWN_CONN_ID);
			return R_DONE;
		}
		break;
	case MK_ADDR:
		a = addr_at(p);
		if (addr_owner(m, &a) != s) {
			sess_refuse(s, LOG_INFO, "command 0x%04x for a BD_ADDR it does not own refused",
				    op);
			reply_err(s, d, op, p, plen, HCI_ST_UNKNOWN_CONN_ID);
			return R_DONE;
		}
		break;
	case MK_CONNECT:
		a = addr_at(p);
		if (!may_access(m, s, &a, BDADDR_PUBLIC)) {
			sess_refuse(s, LOG_INFO, "0x%04x to a device it may not access refused",
				    op);
			sess_denied(m, s, &a, BDADDR_PUBLIC, op);
			refuse_page(s, op, p, HCI_ST_REJ_BAD_ADDR);
			return R_DONE;
		}
		if (op == HCI_OP_CREATE_CONN &&
		    (conn_by_addr(m, &a, LINK_ACL) || pend_find(m, P_CONN_OUT, &a))) {
			refuse_page(s, op, p, HCI_ST_CONN_ALREADY_EXISTS);
			return R_DONE;
		}
		if (!pend_has_room(m)) {
			refuse_page(s, op, p, HCI_ST_REJ_LIMITED_RESOURCES);
			return R_DONE;
		}
		break;
	case MK_LE_CONNECT: {
		/* LE Create Connection (7.8.12) or LE Extended Create Connection (7.8.66). */
		bool ext = op == HCI_OP_LE_EXT_CREATE_CONN;
		uint8_t filter = ext ? p[0] : p[4], ptype = ext ? p[2] : p[5];
		uint8_t st;

		a = addr_at(p + (ext ? 3 : 6));
		/* One initiation per virtual controller (Vol 6 Part B 4.5). */
		if (s->al_init || pend_find_sess(m, P_LE_OUT, NULL, s)) {
			reply_cs(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		st = ext ? ext_conn_check(m, p, plen) :
		     filter > 1 ? HCI_ST_INVALID_PARAMETERS : 0;
		if (st) {
			sess_refuse(s, LOG_INFO, "0x%04x refused (0x%02x)", op, st);
			reply_cs(s, op, st);
			return R_DONE;
		}
		if (filter == 1) {
			if (!m->up) {
				reply_cs(s, op, HCI_ST_HARDWARE_FAILURE);
				return R_DONE;
			}
			if (!m->ready)
				return R_WAIT;
			al_connect_start(m, s, op, p, plen);
			recon_request(m);
			return R_DONE;
		}
		if (!may_access(m, s, &a, map_addr_type(ptype))) {
			sess_refuse(s, LOG_INFO, "LE connection to a device it may not access refused");
			sess_denied(m, s, &a, map_addr_type(ptype), op);
			/*
			 * As a failed initiation: Command Status success, then
			 * LE (Enhanced) Connection Complete with the error, as
			 * for refuse_page(). Command Disallowed and Invalid
			 * Parameters (state and parameter checks a controller
			 * makes before starting) stay Command Status.
			 */
			reply_cs(s, op, 0);
			sess_le_conn_failed(s, HCI_ST_REJ_BAD_ADDR, ptype & 0x01, a.b);
			return R_DONE;
		}
		/* One initiator at a time (Vol 6 Part B 4.5): as the controller would. */
		if (pend_find(m, P_LE_OUT, NULL) || !pend_has_room(m)) {
			reply_cs(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		/*
		 * A direct connection goes before the accept-list initiation,
		 * which waits indefinitely: reconcile() cancels it (the
		 * waiting sessions see nothing) and re-issues it afterwards.
		 * The pump runs the request as soon as this returns, before
		 * another session's command (recon_flush(), mux.c), so the
		 * cancel goes first, as when this called reconcile() itself.
		 */
		if (m->al_phys || le_create_outst(m)) {
			recon_request(m);
			return R_WAIT;
		}
		break;
	}
	case MK_INQ: {
		unsigned i;
		bool others = false;

		if (s->inquiring) {
			reply_cs(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		/* 7.1.1: Inquiry_Length 0x01-0x30. */
		if (p[3] < 0x01 || p[3] > 0x30) {
			reply_cs(s, op, HCI_ST_INVALID_PARAMETERS);
			return R_DONE;
		}
		if (m->inq_cancelling)
			return R_WAIT;
		for (i = 0; i < m->nsess; i++)
			others |= m->sess[i]->inquiring;
		if ((m->inq_active || others) && m->ready) {
			/*
			 * Join the running inquiry (doc: discovery is shared),
			 * for its own length and Num_Responses.
			 */
			reply_cs(s, op, 0);
			inq_session_start(m, s, p[3], p[4]);
			inq_replay(m, s);
			recon_request(m);
			return R_DONE;
		}
		break;
	}
	case MK_INQ_CANCEL: {
		unsigned i;
		bool others = false;

		if (!s->inquiring) {
			reply_status_only(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		for (i = 0; i < m->nsess; i++)
			if (m->sess[i] != s && m->sess[i]->inquiring)
				others = true;
		if (others) {
			s->inquiring = false;
			reply_status_only(s, op, 0);
			return R_DONE;
		}
		break;
	}
	case MK_FWD:
		break;
	default:
		reply_cs(s, op, HCI_ST_UNKNOWN_COMMAND);
		return R_DONE;
	}

	/* Forwarded to the controller. */
	if (d->kind == MK_LE_CONNECT)
		own = op == HCI_OP_LE_EXT_CREATE_CONN ? p[1] : p[12];
	if (!m->up) {
		reply_err(s, d, op, p, plen, HCI_ST_HARDWARE_FAILURE);
		return R_DONE;
	}
	if (!m->ready || !may_send || !can_send(m, op))
		return R_WAIT;

	/* LE (Extended) Create Connection from a random address: program it first. */
	if (d->kind == MK_LE_CONNECT && (own == 0x01 || own == 0x03) &&
	    (!m->p_rand_valid || memcmp(m->p_rand, s->reg[REG_LE_RAND_ADDR], 6))) {
		if (outst_find(m, HCI_OP_LE_SET_RANDOM_ADDR))
			return R_WAIT;
		memcpy(m->p_rand, s->reg[REG_LE_RAND_ADDR], 6);
		ctrl_cmd(m, HCI_OP_LE_SET_RANDOM_ADDR, m->p_rand, 6, O_INTERNAL);
		return R_WAIT;
	}

	if (d->kind == MK_ADV)
		memcpy(s->reg[d->reg], p, plen);
	if (c) {
		/* To the controller with its own handle for the link. */
		memcpy(xbuf, h4, len);
		hmap_put(xbuf + 4 + hmap_cmd_off(d), c->handle);
		h4 = xbuf;
		/* The household LE bond's key in place of the host's (mux_bond_le.c). */
		if (op == HCI_OP_LE_START_ENCRYPTION && plen == 28)
			bond_le_start_enc(m, s, c, xbuf + 4);
	}
	if (d->kind == MK_INQ) {
		/*
		 * Num_Responses unlimited: the controller would count devices
		 * this user may not see; the mux counts each session's own.
		 */
		memcpy(xbuf, h4, len);
		xbuf[4 + 4] = 0;
		memcpy(m->inq_lap, p, 3);
		s->inq_max = p[4];	/* its own, applied when the inquiry starts */
		h4 = xbuf;
	}
	ctrl_send_cmd(m, h4, len, s, O_SESSION);
	if (op == HCI_OP_LE_START_ENCRYPTION)
		secmem_wipe(xbuf, sizeof(xbuf));
	if (op == HCI_OP_LE_CREATE_CONN && plen >= 13)
		s->le_own_type = p[12];
	else if (op == HCI_OP_LE_EXT_CREATE_CONN && plen >= 2)
		s->le_own_type = p[1];
	o = outst_find(m, op);
	if (o && hmap_cmd_off(d) >= 0)
		o->vhandle = hmap_get(p + hmap_cmd_off(d));
	switch (op) {
	case HCI_OP_CREATE_CONN:
		pend_add(m, P_CONN_OUT, &a, s);
		break;
	case HCI_OP_REMOTE_NAME_REQ:
		pend_add(m, P_NAME, &a, s);
		break;
	case HCI_OP_LE_CREATE_CONN:
	case HCI_OP_LE_EXT_CREATE_CONN:
		pend_add(m, P_LE_OUT, &a, s);
		break;
	case HCI_OP_INQUIRY_CANCEL:
		m->inq_cancelling = true;
		break;
	}
	return R_SENT;
}
