/* SPDX-License-Identifier: MIT */
/*
 * Emission to sessions: the per-session event filter, the queue each
 * session's host reads, command replies, the duplicate filters of discovery.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "bdaddr.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"

/* ------------------------------------------------------------------ */
/* Emitting to sessions */

/*
 * A hostile host must not flood the log: a session's first 16 refusals are
 * logged, then one in 1024, each with its running count.
 */
bool refusal_logged(struct mux_session *s)
{
	s->refusals++;
	return s->refusals <= 16 || s->refusals % 1024 == 0;
}

/* Returns whether the packet was handed to the session's queue. */
bool sess_emit(struct mux_session *s, const uint8_t *h4, size_t len, int cls)
{
	int r;

	if (s->dead)
		return false;
	r = s->emit(h4, len, s->emit_user);
	if (r == 0) {
		if (s->stalled)
			log_info("session %u (%s): no longer stalled", s->id, s->user);
		s->stalled = false;
		if (s->reports_dropped) {
			log_info("session %u (%s): %u discovery reports dropped while its host lagged",
				 s->id, s->user, s->reports_dropped);
			s->reports_dropped = 0;
		}
		return true;
	}
	/*
	 * Reports repeat for as long as discovery runs: losing some costs the
	 * host nothing it will not see again, so they neither stall nor end
	 * the session (the queue refuses them first, before it is full).
	 */
	if (cls == EM_EVENT && r == -ENOBUFS && h4_is_discovery_report(h4, len)) {
		s->reports_dropped++;
		return false;
	}
	if (!s->stalled)
		log_warn("session %u (%s): stalled (%s)",
			 s->id, s->user, strerror(-r));
	s->stalled = true;
	/*
	 * Data the host's queue cannot take would be lost without a trace
	 * and break its L2CAP streams: end the session instead, so its links
	 * are disconnected and its host sees them go. A few events may be
	 * missed before that (NOCP withheld is the point of the stall).
	 */
	if (cls == EM_DATA) {
		log_err("session %u (%s): cannot take its data, ending the session",
			s->id, s->user);
		s->dead = true;
		s->m->reap = true;
	} else if (cls == EM_EVENT && ++s->dropped >= MUX_MAX_DROPPED_EVENTS) {
		log_err("session %u (%s): %u events undeliverable, ending the session",
			s->id, s->user, s->dropped);
		s->dead = true;
		s->m->reap = true;
	}
	return false;
}

/* Does the session's own event mask enable this event (Vol 4 Part E 7.3.1, 7.3.69, 7.8.1)? */
bool sess_wants(const struct mux_session *s, uint8_t code, uint8_t sub)
{
	switch (code) {
	case HCI_EV_CMD_COMPLETE:
	case HCI_EV_CMD_STATUS:
	case HCI_EV_NUM_COMP_PKTS:	/* bit 18 is reserved: always on */
		return true;
	case HCI_EV_LE_META:
		return bit_is_set(s->evmask, 61) && sub >= 1 && sub <= 64 &&
		       bit_is_set(s->lemask, sub - 1u);
	case HCI_EV_VENDOR:
		return s->admin;
	default:
		if (code >= 1 && code <= 0x40)
			return bit_is_set(s->evmask, code - 1u);
		if (code > 0x40 && code < 0x80)
			return bit_is_set(s->evmask2, code - 0x40u);
		return false;
	}
}

/* Returns false only when the event was built and its emit refused. */
bool sess_event(struct mux_session *s, uint8_t code, const void *param, size_t plen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n;

	if (!sess_wants(s, code, 0))
		return true;
	n = h4_build_evt(buf, sizeof(buf), code, param, plen);
	return n <= 0 || sess_emit(s, buf, (size_t)n, EM_EVENT);
}

bool sess_le_event(struct mux_session *s, uint8_t sub, const void *param, size_t plen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n;

	if (!sess_wants(s, HCI_EV_LE_META, sub))
		return true;
	n = h4_build_le_evt(buf, sizeof(buf), sub, param, plen);
	return n <= 0 || sess_emit(s, buf, (size_t)n, EM_EVENT);
}

/* Every virtual controller reports one command credit (Vol 4 Part E 4.4). */
void reply_cc(struct mux_session *s, uint16_t opcode, const void *ret, size_t rlen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n = h4_build_cc(buf, sizeof(buf), 1, opcode, ret, rlen);

	if (n > 0)
		sess_emit(s, buf, (size_t)n, EM_EVENT);
}

void reply_status_only(struct mux_session *s, uint16_t opcode, uint8_t st)
{
	reply_cc(s, opcode, &st, 1);
}

void reply_cs(struct mux_session *s, uint16_t opcode, uint8_t st)
{
	uint8_t buf[16];
	int n = h4_build_cs(buf, sizeof(buf), st, 1, opcode);

	if (n > 0)
		sess_emit(s, buf, (size_t)n, EM_EVENT);
}

/*
 * Refuse a command the way the controller would: commands answered by
 * Command Status get a Command Status with the error; commands answered by
 * Command Complete get one whose return parameters echo the handle or
 * BD_ADDR the host's handler looks up (Linux hci_event.c cc handlers).
 */
void reply_err(struct mux_session *s, const struct mux_cmd_def *d,
	       uint16_t opcode, const uint8_t *p, uint8_t plen, uint8_t st)
{
	uint8_t ret[8];
	size_t n = 1;

	if (!d || (d->flags & MT_CS)) {
		reply_cs(s, opcode, st);
		return;
	}
	ret[0] = st;
	if (d->kind == MK_HANDLE && plen >= 2) {
		memcpy(ret + 1, p, 2);
		n = 3;
	} else if (d->kind == MK_ADDR && plen >= 6) {
		memcpy(ret + 1, p, 6);
		n = 7;
	}
	reply_cc(s, opcode, ret, n);
}

/*
 * An LE connection attempt of s ended without a link: LE (Enhanced)
 * Connection Complete with status st, in the format its LE event mask
 * asks for (Vol 4 Part E 7.7.65.1 / 7.7.65.10 v1 and v2; no advertising
 * set or periodic sync made it: 0xFF, 0xFFFF).
 */
void sess_le_conn_failed(struct mux_session *s, uint8_t st, uint8_t ptype,
			 const uint8_t *peer)
{
	uint8_t ev[HCI_LE_EV_ENH_CONN_COMPLETE_V2_LEN];

	memset(ev, 0, sizeof(ev));
	ev[0] = st;
	ev[4] = ptype;
	memcpy(ev + 5, peer, 6);
	memset(ev + HCI_LE_EV_ENH_CONN_COMPLETE_LEN, 0xff, 3);
	if (sess_wants(s, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE_V2))
		sess_le_event(s, HCI_LE_EV_ENH_CONN_COMPLETE_V2, ev, sizeof(ev));
	else if (sess_wants(s, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE))
		sess_le_event(s, HCI_LE_EV_ENH_CONN_COMPLETE, ev,
			      HCI_LE_EV_ENH_CONN_COMPLETE_LEN);
	else
		sess_le_event(s, HCI_LE_EV_CONN_COMPLETE, ev, HCI_LE_EV_CONN_COMPLETE_LEN);
}

/*
 * Its accept-list initiation ends without a link: as a controller reports
 * the end of one, with the peer it was given (7.8.12, 7.8.66 layouts).
 */
void al_init_failed(struct mux_session *s, uint8_t st)
{
	const uint8_t *p = s->al_params;

	s->al_init = false;
	if (s->al_ext)
		sess_le_conn_failed(s, st, p[2] & 0x01, p + 3);
	else
		sess_le_conn_failed(s, st, p[5] & 0x01, p + 6);
}

/* Duplicate filter; a full table lets reports through rather than hide them. */
bool seen_check_add(struct mux_seen *tab, unsigned *n,
		    const struct bdaddr *a, uint8_t type, uint8_t ev)
{
	unsigned i;

	for (i = 0; i < *n; i++)
		if (tab[i].type == type && tab[i].ev == ev && bdaddr_eq(&tab[i].a, a))
			return true;
	if (*n < MUX_SEEN_MAX) {
		tab[*n].a = *a;
		tab[*n].type = type;
		tab[*n].ev = ev;
		(*n)++;
	}
	return false;
}

/* Undo seen_check_add for a report its session never received. */
void seen_forget(struct mux_seen *tab, unsigned *n,
		 const struct bdaddr *a, uint8_t type, uint8_t ev)
{
	unsigned i;

	for (i = 0; i < *n; i++)
		if (tab[i].type == type && tab[i].ev == ev && bdaddr_eq(&tab[i].a, a)) {
			tab[i] = tab[--(*n)];
			return;
		}
}
