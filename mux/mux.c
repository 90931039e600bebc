/* SPDX-License-Identifier: MIT */
/*
 * The multiplexer core. One physical controller, one virtual controller per
 * session; see mux.h for the interface and doc/virtual-controller.md for the
 * rule each command and event follows.
 *
 * Threat model: a session's host is untrusted. Everything it sends is parsed
 * with lib/hci (header, then declared length == bytes present) and then
 * checked against the command table (exact parameter length, ownership of
 * every handle and BD_ADDR it names, the user's policy) before a byte of it
 * reaches the controller. The controller is trusted to be a controller but
 * not to be well-formed: its events are length-checked before routing, and
 * an event that cannot be attributed to a session goes to nobody.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "hci_names.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"
#include "rpa.h"

/* Events the mux itself needs whatever the sessions ask (Vol 4 Part E 7.3.1). */
static const uint8_t required_evmask[8] = {
	0x5f,	/* Inquiry Complete/Result, Conn Complete/Request, Disconn, Remote Name */
	0x80,	/* Hardware Error (bit 15) */
	0x00, 0x00,
	0x02,	/* Inquiry Result with RSSI (bit 33): the mux converts formats */
	0x40,	/* Extended Inquiry Result (bit 46) */
	0x00,
	0x20,	/* LE Meta (bit 61) */
};
static const uint8_t required_lemask[8] = { 0x03 };	/* LE Conn Complete, Adv Report */
static const uint8_t default_evmask[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0 };
static const uint8_t default_lemask[8] = { 0x1f };
static const uint8_t default_scan_params[7] = { 0x00, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00 };

static void dispatch(struct mux *m);
static void reconcile(struct mux *m);
static void teardown(struct mux_session *s, uint8_t reason);
static void drain_acl(struct mux *m);
static void inq_replay(struct mux *m, struct mux_session *s);
static void ctrl_down(struct mux *m);

/* ------------------------------------------------------------------ */
/* Small helpers */

static bool bit_is_set(const uint8_t *mask, unsigned bit)
{
	return mask[bit / 8] & (1u << (bit % 8));
}

static bool phys_supports(const struct mux *m, const struct mux_cmd_def *d)
{
	if (!d || d->octet == 0xff)
		return true;
	return m->phys_cmds[d->octet] & (1u << d->bit);
}

static bool le_capable(const struct mux *m)
{
	return m->features[4] & 0x40;
}

static bool bredr_capable(const struct mux *m)
{
	return !(m->features[4] & 0x20);
}

/*
 * A command the virtual controller answers alone (MT_OWN) is offered even
 * when the physical bitmap lacks its bit, where that is truthful: LE Host
 * Supported (7.3.79) only means something on a controller that does both
 * BR/EDR and LE (Vol 2 Part C 3.3, feature page 1), as hosts use it.
 */
static bool own_supported(const struct mux *m, const struct mux_cmd_def *d)
{
	if (!(d->flags & MT_OWN))
		return false;
	switch (d->opcode) {
	case HCI_OP_READ_LE_HOST_SUPPORTED:
	case HCI_OP_WRITE_LE_HOST_SUPPORTED:
		return le_capable(m) && bredr_capable(m);
	default:
		return false;
	}
}

/* What the virtual controller offers a session (principle 1 of the doc). */
static bool virt_supports(const struct mux *m, const struct mux_cmd_def *d)
{
	return phys_supports(m, d) || own_supported(m, d);
}

static struct bdaddr addr_at(const uint8_t *p)
{
	struct bdaddr a;

	memcpy(a.b, p, 6);
	return a;
}

/* LE identity address types 0x02/0x03 (Vol 4 Part E 7.7.65.10) map to 0/1. */
static uint8_t map_addr_type(uint8_t t)
{
	return (t == 0x01 || t == 0x03) ? BDADDR_RANDOM : BDADDR_PUBLIC;
}

static bool pol_access(const struct mux *m, const char *user, const struct bdaddr *a,
		       uint8_t type)
{
	return m->pol.may_access && m->pol.may_access(user, a, type, m->pol.ctx);
}

/*
 * The policy names identity addresses. A resolvable private address is
 * allowed when one of this user's own IRK bindings resolves it, or an IRK
 * the admin gave the device (policy resolve_rpa), and the policy allows
 * that identity now (revocation applies).
 */
static bool may_access(const struct mux *m, const struct mux_session *s,
		       const struct bdaddr *a, uint8_t type)
{
	struct bdaddr id;
	uint8_t id_type;
	unsigned i;

	if (!s)
		return false;
	if (pol_access(m, s->user, a, type))
		return true;
	if (type != BDADDR_RANDOM || !rpa_is_resolvable(a))
		return false;
	for (i = 0; i < MUX_IRK_MAX; i++) {
		const struct mux_irk *k = &m->irks[i];

		if (k->used && strcmp(k->user, s->user) == 0 && rpa_matches(k->irk, a))
			return pol_access(m, s->user, &k->id, k->id_type);
	}
	return m->pol.resolve_rpa && m->pol.resolve_rpa(a, &id, &id_type, m->pol.ctx) == 0 &&
	       pol_access(m, s->user, &id, id_type);
}

/*
 * SMP key distribution from the peer (Vol 3 Part H 3.6.1, 3.6.4-3.6.5) on
 * an LE link, seen in clear at HCI: Identity Information (IRK) then
 * Identity Address Information. The binding is kept for the link owner's
 * user only if the user may access that identity and the link is to it:
 * its address is the identity, or an RPA the IRK resolves. What a host
 * says (LE Add Device To Resolving List) is never used. Fragmented SMP
 * PDUs (never needed: they fit the LE minimum of 27 octets) are ignored.
 */
static void smp_snoop(struct mux *m, struct mux_conn *c, const struct h4_pkt *pkt)
{
	const uint8_t *d = pkt->acl.data;
	struct mux_irk *k = NULL;
	struct bdaddr id;
	uint8_t idt;
	unsigned i;
	static const uint8_t zero[16];

	if (c->link != LINK_LE || !c->owner || pkt->acl.pb == HCI_PB_CONT ||
	    pkt->acl.dlen < 5 || get_le16(d + 2) != 0x0006 ||
	    get_le16(d) != pkt->acl.dlen - 4u)
		return;
	if (d[4] == 0x08 && pkt->acl.dlen == 4 + 17) {
		memcpy(c->irk, d + 5, 16);
		c->irk_seen = memcmp(c->irk, zero, 16) != 0;
		return;
	}
	if (d[4] != 0x09 || pkt->acl.dlen != 4 + 8 || !c->irk_seen)
		return;
	c->irk_seen = false;
	idt = d[5];
	id = addr_at(d + 6);
	if (idt > 1 || !pol_access(m, c->owner->user, &id, idt))
		return;
	if (!(bdaddr_eq(&id, &c->addr) && idt == c->addr_type) &&
	    !(c->addr_type == BDADDR_RANDOM && rpa_matches(c->irk, &c->addr)))
		return;
	for (i = 0; i < MUX_IRK_MAX && !k; i++)
		if (m->irks[i].used && strcmp(m->irks[i].user, c->owner->user) == 0 &&
		    m->irks[i].id_type == idt && bdaddr_eq(&m->irks[i].id, &id))
			k = &m->irks[i];
	for (i = 0; i < MUX_IRK_MAX && !k; i++)
		if (!m->irks[i].used)
			k = &m->irks[i];
	if (!k)
		k = &m->irks[m->irk_next++ % MUX_IRK_MAX];
	k->used = true;
	k->id = id;
	k->id_type = idt;
	memcpy(k->irk, c->irk, 16);
	snprintf(k->user, sizeof(k->user), "%s", c->owner->user);
	log_info("session %u: IRK of its peer bound to its identity address", c->owner->id);
}

/* Tell the owner (audit) of an ACL refusal, rate-limited per session. */
static void sess_denied(struct mux *m, struct mux_session *s,
			const struct bdaddr *a, uint8_t type, uint16_t op)
{
	s->denials++;
	if (m->pol.denied && (s->denials <= 16 || s->denials % 1024 == 0))
		m->pol.denied(s->user, a, type, op, m->pol.ctx);
}

static bool user_is_admin(const struct mux *m, const char *user)
{
	return m->pol.is_admin && m->pol.is_admin(user, m->pol.ctx);
}

static const struct mux_cache_ent *cache_get(const struct mux *m,
					     uint16_t opcode, uint8_t page)
{
	unsigned i;

	for (i = 0; i < m->ncache; i++)
		if (m->cache[i].opcode == opcode && m->cache[i].page == page)
			return &m->cache[i];
	return NULL;
}

static void cache_put(struct mux *m, uint16_t opcode, uint8_t page,
		      const uint8_t *ret, uint8_t rlen)
{
	struct mux_cache_ent *e = (struct mux_cache_ent *)cache_get(m, opcode, page);

	if (!e) {
		if (m->ncache >= MUX_CACHE_MAX)
			return;
		e = &m->cache[m->ncache++];
	}
	e->opcode = opcode;
	e->page = page;
	e->rlen = rlen;
	memcpy(e->ret, ret, rlen);
}

/* ------------------------------------------------------------------ */
/* Emitting to sessions */

/*
 * A hostile host must not flood the log: a session's first 16 refusals are
 * logged, then one in 1024, each with its running count.
 */
static bool refusal_logged(struct mux_session *s)
{
	s->refusals++;
	return s->refusals <= 16 || s->refusals % 1024 == 0;
}

#define sess_refuse(s, prio, fmt, ...)					\
	do {								\
		if (refusal_logged(s))					\
			log_msg(prio, "session %u (%s): " fmt " [%u]",	\
				(s)->id, (s)->user, ##__VA_ARGS__,	\
				(s)->refusals);				\
	} while (0)

/* Returns whether the packet was handed to the session's queue. */
static bool sess_emit(struct mux_session *s, const uint8_t *h4, size_t len, int cls)
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
static bool sess_wants(const struct mux_session *s, uint8_t code, uint8_t sub)
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
static bool sess_event(struct mux_session *s, uint8_t code, const void *param, size_t plen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n;

	if (!sess_wants(s, code, 0))
		return true;
	n = h4_build_evt(buf, sizeof(buf), code, param, plen);
	return n <= 0 || sess_emit(s, buf, (size_t)n, EM_EVENT);
}

static bool sess_le_event(struct mux_session *s, uint8_t sub, const void *param, size_t plen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n;

	if (!sess_wants(s, HCI_EV_LE_META, sub))
		return true;
	n = h4_build_le_evt(buf, sizeof(buf), sub, param, plen);
	return n <= 0 || sess_emit(s, buf, (size_t)n, EM_EVENT);
}

/* Every virtual controller reports one command credit (Vol 4 Part E 4.4). */
static void reply_cc(struct mux_session *s, uint16_t opcode, const void *ret, size_t rlen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n = h4_build_cc(buf, sizeof(buf), 1, opcode, ret, rlen);

	if (n > 0)
		sess_emit(s, buf, (size_t)n, EM_EVENT);
}

static void reply_status_only(struct mux_session *s, uint16_t opcode, uint8_t st)
{
	reply_cc(s, opcode, &st, 1);
}

static void reply_cs(struct mux_session *s, uint16_t opcode, uint8_t st)
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
static void reply_err(struct mux_session *s, const struct mux_cmd_def *d,
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

/* ------------------------------------------------------------------ */
/* Connections and pending procedures */

static struct mux_conn *conn_by_handle(struct mux *m, uint16_t h)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].handle == h)
			return &m->conns[i];
	return NULL;
}

static struct mux_conn *conn_by_addr(struct mux *m, const struct bdaddr *a, uint8_t link)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].link == link &&
		    bdaddr_eq(&m->conns[i].addr, a))
			return &m->conns[i];
	return NULL;
}

static struct mux_conn *conn_add(struct mux *m, uint16_t h, uint8_t link,
				 const struct bdaddr *a, uint8_t type,
				 struct mux_session *owner)
{
	struct mux_conn *c = conn_by_handle(m, h);
	unsigned i;

	if (c) {
		/* A handle reused before its Disconnection Complete: controller bug. */
		log_warn("controller reused handle 0x%04x", h);
		memset(c, 0, sizeof(*c));
	}
	for (i = 0; !c && i < MUX_MAX_CONNS; i++)
		if (!m->conns[i].used)
			c = &m->conns[i];
	if (!c)
		return NULL;
	c->used = true;
	c->handle = h;
	c->link = link;
	c->addr = *a;
	c->addr_type = type;
	c->owner = owner;
	c->inflight = 0;
	c->since = (int64_t)time(NULL);
	c->bytes_in = 0;
	c->bytes_out = 0;
	return c;
}

static struct mux_pool *conn_pool(struct mux *m, const struct mux_conn *c)
{
	return (c->link == LINK_LE && !m->le_shared) ? &m->le : &m->acl;
}

static uint16_t *sess_used(struct mux *m, struct mux_session *s, const struct mux_conn *c)
{
	return conn_pool(m, c) == &m->le ? &s->le_used : &s->acl_used;
}

/* Give back what a connection held at the controller (Vol 4 Part E 4.3). */
static void conn_release(struct mux *m, struct mux_conn *c)
{
	struct mux_pool *pool = conn_pool(m, c);
	uint16_t *used;

	pool->inflight -= c->inflight < pool->inflight ? c->inflight : pool->inflight;
	if (c->owner) {
		used = sess_used(m, c->owner, c);
		*used -= c->inflight < *used ? c->inflight : *used;
	}
	c->inflight = 0;
}

static struct mux_pend *pend_find(struct mux *m, uint8_t kind, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].used && m->pend[i].kind == kind &&
		    (!a || bdaddr_eq(&m->pend[i].addr, a)))
			return &m->pend[i];
	return NULL;
}

static struct mux_pend *pend_find_sess(struct mux *m, uint8_t kind,
				       const struct bdaddr *a, struct mux_session *s)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].used && m->pend[i].kind == kind &&
		    m->pend[i].s == s && (!a || bdaddr_eq(&m->pend[i].addr, a)))
			return &m->pend[i];
	return NULL;
}

static bool pend_has_room(const struct mux *m)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++)
		if (!m->pend[i].used)
			return true;
	return false;
}

static void pend_add(struct mux *m, uint8_t kind, const struct bdaddr *a,
		     struct mux_session *s)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++) {
		if (m->pend[i].used)
			continue;
		m->pend[i].used = true;
		m->pend[i].kind = kind;
		m->pend[i].addr = *a;
		m->pend[i].s = s;
		return;
	}
}

/*
 * The session a BD_ADDR-only event or command belongs to: the owner of the
 * BR/EDR link to that address, else the session with a procedure pending
 * for it (Vol 4 Part E 7.7: these events carry no handle).
 */
static struct mux_session *addr_owner(struct mux *m, const struct bdaddr *a)
{
	struct mux_conn *c = conn_by_addr(m, a, LINK_ACL);
	unsigned i;

	if (c)
		return c->owner;
	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].used && m->pend[i].kind != P_LE_OUT &&
		    bdaddr_eq(&m->pend[i].addr, a))
			return m->pend[i].s;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Sending to the controller */

static struct mux_outst *outst_find(struct mux *m, uint16_t opcode)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_OUTST; i++)
		if (m->outst[i].used && m->outst[i].opcode == opcode)
			return &m->outst[i];
	return NULL;
}

static unsigned outst_count(const struct mux *m)
{
	unsigned i, n = 0;

	for (i = 0; i < MUX_MAX_OUTST; i++)
		n += m->outst[i].used;
	return n;
}

static bool can_send(const struct mux *m, uint16_t opcode)
{
	return m->up && m->ncmd > 0 && outst_count(m) < MUX_MAX_OUTST &&
	       !outst_find((struct mux *)m, opcode);
}

static void ctrl_fail(struct mux *m, int err)
{
	if (!m->fail_err)
		m->fail_err = err ? err : -EIO;
}

/* h4 is a complete, validated command packet. */
static int ctrl_send_cmd(struct mux *m, const uint8_t *h4, size_t len,
			 struct mux_session *s, uint8_t origin)
{
	struct mux_outst *o = NULL;
	uint16_t opcode = get_le16(h4 + 1);
	uint8_t plen = h4[3];
	unsigned i;
	int r;

	for (i = 0; i < MUX_MAX_OUTST && !o; i++)
		if (!m->outst[i].used)
			o = &m->outst[i];
	if (!o)
		return -EBUSY;
	memset(o, 0, sizeof(*o));
	o->used = true;
	o->opcode = opcode;
	o->origin = origin;
	o->s = s;
	o->plen = plen < sizeof(o->param) ? plen : sizeof(o->param);
	memcpy(o->param, h4 + 4, o->plen);
	m->ncmd--;
	if (!loop_timer_is_armed(m->cmd_timer))
		loop_timer_arm(m->cmd_timer, (uint64_t)m->cfg.cmd_timeout_ms * 1000);
	if (log_is_enabled(LOG_DEBUG)) {
		char sum[128];

		hcistr_summary(sum, sizeof(sum), h4, len);
		log_debug("-> ctrl %s (session %u)", sum, s ? s->id : 0);
	}
	r = m->ops.ctrl_send(h4, len, m->ops.user);
	if (r < 0) {
		log_err("controller send failed: %s", strerror(-r));
		ctrl_fail(m, r);
	}
	return 0;
}

static int ctrl_cmd(struct mux *m, uint16_t opcode, const void *p, size_t plen,
		    uint8_t origin)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n = h4_build_cmd(buf, sizeof(buf), opcode, p, plen);

	if (n < 0)
		return n;
	return ctrl_send_cmd(m, buf, (size_t)n, NULL, origin);
}

/* Queue a one-off command of the mux's own (teardown, negative replies). */
static void internal_cmd(struct mux *m, uint16_t opcode, const void *p, size_t plen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n = h4_build_cmd(buf, sizeof(buf), opcode, p, plen);

	if (n < 0 || !m->up)
		return;
	if (pktq_push(&m->intq, buf, (size_t)n) < 0)
		log_err("internal command queue full, dropping 0x%04x", opcode);
}

static void internal_disconnect(struct mux *m, uint16_t handle, uint8_t reason)
{
	uint8_t p[3];

	put_le16(p, handle);
	p[2] = reason;
	internal_cmd(m, HCI_OP_DISCONNECT, p, sizeof(p));
}

static void internal_addr_cmd(struct mux *m, uint16_t opcode,
			      const struct bdaddr *a, int reason)
{
	uint8_t p[7];

	memcpy(p, a->b, 6);
	p[6] = (uint8_t)reason;
	internal_cmd(m, opcode, p, reason < 0 ? 6 : 7);
}

/* ------------------------------------------------------------------ */
/* Session virtual state */

static void reg_set_default(struct mux *m, struct mux_session *s, unsigned r)
{
	const struct mux_reg_def *d = mux_reg_def(r);
	const struct mux_cache_ent *e = NULL;

	memset(s->reg[r], 0, MUX_REG_MAX);
	s->reg_len[r] = d->var ? d->dlen : d->len;
	if (d->def)
		memcpy(s->reg[r], d->def, d->dlen);
	/* Name and class start as the physical controller's (read at init). */
	if (r == REG_LOCAL_NAME)
		e = cache_get(m, HCI_OP_READ_LOCAL_NAME, 0);
	else if (r == REG_CLASS)
		e = cache_get(m, HCI_OP_READ_CLASS_OF_DEV, 0);
	if (e && e->rlen >= 1u + d->len)
		memcpy(s->reg[r], e->ret + 1, d->len);
}

static void sess_defaults(struct mux_session *s)
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
	s->al_n = 0;
	s->al_init = false;
	s->al_member = false;
	s->inquiring = false;
	s->inq_seen_n = 0;
	s->le_seen_n = 0;
}

/* Duplicate filter; a full table lets reports through rather than hide them. */
static bool seen_check_add(struct mux_seen *tab, unsigned *n,
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
static void seen_forget(struct mux_seen *tab, unsigned *n,
			const struct bdaddr *a, uint8_t type, uint8_t ev)
{
	unsigned i;

	for (i = 0; i < *n; i++)
		if (tab[i].type == type && tab[i].ev == ev && bdaddr_eq(&tab[i].a, a)) {
			tab[i] = tab[--(*n)];
			return;
		}
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

static bool al_has(const struct mux_session *s, uint8_t type, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < s->al_n; i++)
		if (s->al[i].type == type && bdaddr_eq(&s->al[i].a, a))
			return true;
	return false;
}

/*
 * An LE connection attempt of s ended without a link: LE (Enhanced)
 * Connection Complete with status st, in the format its LE event mask
 * asks for (Vol 4 Part E 7.7.65.1 / 7.7.65.10).
 */
static void sess_le_conn_failed(struct mux_session *s, uint8_t st, uint8_t ptype,
				const uint8_t *peer)
{
	uint8_t ev[30];

	memset(ev, 0, sizeof(ev));
	ev[0] = st;
	ev[4] = ptype;
	memcpy(ev + 5, peer, 6);
	if (sess_wants(s, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE))
		sess_le_event(s, HCI_LE_EV_ENH_CONN_COMPLETE, ev, 30);
	else
		sess_le_event(s, HCI_LE_EV_CONN_COMPLETE, ev, 18);
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

/* Scan and connection parameters of LE Create Connection (7.8.12). */
static bool le_conn_params_ok(const uint8_t *p)
{
	uint16_t si = get_le16(p), sw = get_le16(p + 2);
	uint16_t mn = get_le16(p + 13), mx = get_le16(p + 15);
	uint16_t lat = get_le16(p + 17), to = get_le16(p + 19);

	if (si < 4 || si > 0x4000 || sw < 4 || sw > si)
		return false;
	if (mn < 6 || mx > 0x0c80 || mn > mx || lat > 0x01f3 || to < 0x0a || to > 0x0c80)
		return false;
	/* Supervision timeout (10 ms) > (1 + latency) * interval * 2 (1.25 ms). */
	return (uint32_t)to * 4 > (1u + lat) * mx;
}

/*
 * LE Create Connection with Initiator_Filter_Policy 1: the session waits
 * for a connection to any entry of its own virtual accept list. Nothing is
 * sent here; reconcile() runs one physical initiation over the union of
 * the waiting sessions' allowed entries.
 */
static void al_connect_start(struct mux *m, struct mux_session *s, const uint8_t *p)
{
	if (!m->p_al_max) {
		/* No physical accept list to initiate over. */
		reply_cs(s, HCI_OP_LE_CREATE_CONN, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (p[12] > 1 || !le_conn_params_ok(p)) {
		/* Own types 2/3 need LL privacy, which is not offered. */
		reply_cs(s, HCI_OP_LE_CREATE_CONN, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	memcpy(s->al_params, p, 25);
	s->al_init = true;
	s->al_member = false;
	reply_cs(s, HCI_OP_LE_CREATE_CONN, 0);
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
		/* Each session is told its share of the buffers (Vol 4 Part E 7.4.5). */
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
		 * (byte 0 bits 6-7), extended/periodic advertising and all
		 * isochronous features: the virtual controller offers the
		 * legacy procedures, which it can share.
		 */
		memcpy(ret + 1, m->le_features, 8);
		ret[1] &= 0x3f;
		ret[2] &= 0x4f;
		memset(ret + 3, 0, 6);
		reply_cc(s, op, ret, 9);
		return R_DONE;
	case HCI_OP_LE_SET_SCAN_PARAM:
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
		break;
	case HCI_OP_LE_SET_SCAN_ENABLE:
		if (p[0] > 1 || p[1] > 1) {
			reply_status_only(s, op, HCI_ST_INVALID_PARAMETERS);
			return R_DONE;
		}
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
			s->al_init = false;
			s->al_member = false;
			reply_status_only(s, op, 0);
			sess_le_conn_failed(s, HCI_ST_UNKNOWN_CONN_ID, s->al_params[5] & 0x01,
					    s->al_params + 6);
			reconcile(m);
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
	reconcile(m);
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
	reconcile(m);
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
/* Processing one session command */

static const struct mux_cmd_def vendor_def = {
	0, MK_PRIV, MT_VARLEN, 0, 0xff, 0, 0
};

/*
 * Decide what to do with the command at the head of a session's queue.
 * Called when it reaches the head (may_send false) and again from the
 * dispatcher (may_send true); until it answers or sends, it changes nothing.
 */
static int cmd_process(struct mux *m, struct mux_session *s, const uint8_t *h4,
		       size_t len, bool may_send)
{
	uint16_t op = get_le16(h4 + 1);
	uint8_t plen = h4[3];
	const uint8_t *p = h4 + 4;
	const struct mux_cmd_def *d;
	struct mux_conn *c;
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
	case MK_RESET:
		/* Vol 4 Part E 7.3.2, for this virtual controller only. */
		log_info("session %u (%s): virtual reset", s->id, s->user);
		sess_reset(s);
		reply_status_only(s, op, 0);
		reconcile(m);
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
		c = conn_by_handle(m, get_le16(p) & 0x0fff);
		if (!c || c->owner != s) {
			sess_refuse(s, LOG_INFO, "command 0x%04x on foreign handle 0x%04x refused",
				    op, get_le16(p) & 0x0fff);
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
	case MK_LE_CONNECT:
		a = addr_at(p + 6);
		/* One initiation per virtual controller (Vol 6 Part B 4.5). */
		if (s->al_init || pend_find_sess(m, P_LE_OUT, NULL, s)) {
			reply_cs(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		if (p[4] > 1) {
			reply_cs(s, op, HCI_ST_INVALID_PARAMETERS);
			return R_DONE;
		}
		if (p[4] == 1) {
			if (!m->up) {
				reply_cs(s, op, HCI_ST_HARDWARE_FAILURE);
				return R_DONE;
			}
			if (!m->ready)
				return R_WAIT;
			al_connect_start(m, s, p);
			reconcile(m);
			return R_DONE;
		}
		if (!may_access(m, s, &a, map_addr_type(p[5]))) {
			sess_refuse(s, LOG_INFO, "LE connection to a device it may not access refused");
			sess_denied(m, s, &a, map_addr_type(p[5]), op);
			/*
			 * As a failed initiation: Command Status success, then
			 * LE (Enhanced) Connection Complete with the error, as
			 * for refuse_page(). Command Disallowed and Invalid
			 * Parameters (state and parameter checks a controller
			 * makes before starting) stay Command Status.
			 */
			reply_cs(s, op, 0);
			sess_le_conn_failed(s, HCI_ST_REJ_BAD_ADDR, p[5] & 0x01, p + 6);
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
		 */
		if (m->al_phys || outst_find(m, HCI_OP_LE_CREATE_CONN)) {
			reconcile(m);
			return R_WAIT;
		}
		break;
	case MK_INQ:
		if (s->inquiring) {
			reply_cs(s, op, HCI_ST_COMMAND_DISALLOWED);
			return R_DONE;
		}
		if (m->inq_cancelling)
			return R_WAIT;
		if (m->inq_active && m->ready) {
			/* Join the running inquiry (doc: discovery is shared). */
			s->inquiring = true;
			s->inq_seen_n = 0;
			reply_cs(s, op, 0);
			inq_replay(m, s);
			return R_DONE;
		}
		break;
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
	if (!m->up) {
		reply_err(s, d, op, p, plen, HCI_ST_HARDWARE_FAILURE);
		return R_DONE;
	}
	if (!m->ready || !may_send || !can_send(m, op))
		return R_WAIT;

	/* LE Create Connection from a random address: program it first. */
	if (d->kind == MK_LE_CONNECT && (p[12] == 0x01 || p[12] == 0x03) &&
	    (!m->p_rand_valid || memcmp(m->p_rand, s->reg[REG_LE_RAND_ADDR], 6))) {
		if (outst_find(m, HCI_OP_LE_SET_RANDOM_ADDR))
			return R_WAIT;
		memcpy(m->p_rand, s->reg[REG_LE_RAND_ADDR], 6);
		ctrl_cmd(m, HCI_OP_LE_SET_RANDOM_ADDR, m->p_rand, 6, O_INTERNAL);
		return R_WAIT;
	}

	if (d->kind == MK_ADV)
		memcpy(s->reg[d->reg], p, plen);
	ctrl_send_cmd(m, h4, len, s, O_SESSION);
	switch (op) {
	case HCI_OP_CREATE_CONN:
		pend_add(m, P_CONN_OUT, &a, s);
		break;
	case HCI_OP_REMOTE_NAME_REQ:
		pend_add(m, P_NAME, &a, s);
		break;
	case HCI_OP_LE_CREATE_CONN:
		pend_add(m, P_LE_OUT, &a, s);
		break;
	case HCI_OP_INQUIRY_CANCEL:
		m->inq_cancelling = true;
		break;
	}
	return R_SENT;
}

/* Answer what can be answered at the head of the session's queue. */
static void sess_run(struct mux *m, struct mux_session *s)
{
	struct pkt *pk;
	unsigned i;

	for (i = 0; i < MUX_SESSION_CMDQ + 1; i++) {
		pk = pktq_peek(&s->cmdq);
		if (!pk || s->dead)
			return;
		if (cmd_process(m, s, pk->data, pk->len, false) != R_DONE)
			return;
		pkt_free(pktq_pop(&s->cmdq));
	}
}

/* ------------------------------------------------------------------ */
/* Controller initialisation (what the mux sends once per controller open) */

#define IS_REQ	0x01	/* failure fails the init */
#define IS_READ	0x02	/* cache the return parameters */

struct init_step {
	uint16_t opcode;
	uint8_t flags;
	uint8_t plen;
	uint8_t p[2];
};

static const struct init_step init_steps[] = {
	{ HCI_OP_RESET, IS_REQ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_VERSION, IS_REQ | IS_READ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_FEATURES, IS_REQ | IS_READ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_COMMANDS, IS_REQ | IS_READ, 0, { 0 } },
	{ HCI_OP_READ_BD_ADDR, IS_REQ | IS_READ, 0, { 0 } },
	{ HCI_OP_READ_BUFFER_SIZE, IS_REQ | IS_READ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_EXT_FEATURES, IS_READ, 1, { 1 } },
	{ HCI_OP_READ_LOCAL_EXT_FEATURES, IS_READ, 1, { 2 } },
	{ HCI_OP_LE_READ_BUFFER_SIZE, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_LOCAL_FEATURES, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_SUPPORTED_STATES, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_ACCEPT_LIST_SIZE, IS_READ, 0, { 0 } },
	{ HCI_OP_READ_NUM_SUPPORTED_IAC, IS_READ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_NAME, IS_READ, 0, { 0 } },
	{ HCI_OP_READ_CLASS_OF_DEV, IS_READ, 0, { 0 } },
	{ HCI_OP_READ_INQ_RSP_TX_POWER, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_ADV_TX_POWER, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_MAX_DATA_LEN, IS_READ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_CODECS, IS_READ, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_PAIRING_OPTS, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_TX_POWER, IS_READ, 0, { 0 } },
	{ HCI_OP_WRITE_SIMPLE_PAIRING_MODE, 0, 1, { 1 } },
	{ HCI_OP_WRITE_LE_HOST_SUPPORTED, 0, 2, { 1, 0 } },
	{ HCI_OP_WRITE_SC_SUPPORT, 0, 1, { 1 } },
	{ HCI_OP_WRITE_INQUIRY_MODE, 0, 1, { 0 } },
	{ HCI_OP_WRITE_SCAN_ENABLE, 0, 1, { 0 } },
};
#define N_INIT_STEPS (sizeof(init_steps) / sizeof(init_steps[0]))

static bool init_step_wanted(const struct mux *m, const struct init_step *st)
{
	const struct mux_cache_ent *e;

	if (st->flags & IS_REQ)
		return true;
	/*
	 * Sessions may write LE Host Supported whatever the bitmap says (see
	 * own_supported()), so the mux tries it physically too: a controller
	 * with a wrong bitmap (BlueZ 5.66's btvirt) takes it, one that really
	 * lacks it answers Unknown HCI Command, which an optional step
	 * tolerates, and LE works without it (the host bit is only shown to
	 * peers in LMP features page 1).
	 */
	if (st->opcode == HCI_OP_WRITE_LE_HOST_SUPPORTED)
		return le_capable(m) && bredr_capable(m);
	if (!phys_supports(m, mux_cmd_find(st->opcode)))
		return false;
	switch (st->opcode) {
	case HCI_OP_READ_LOCAL_EXT_FEATURES:
		if (!(m->features[7] & 0x80))
			return false;
		return st->p[0] == 1 || m->max_page >= st->p[0];
	case HCI_OP_LE_READ_BUFFER_SIZE:
	case HCI_OP_LE_READ_LOCAL_FEATURES:
	case HCI_OP_LE_READ_SUPPORTED_STATES:
	case HCI_OP_LE_READ_ACCEPT_LIST_SIZE:
	case HCI_OP_LE_READ_ADV_TX_POWER:
	case HCI_OP_LE_READ_MAX_DATA_LEN:
	case HCI_OP_LE_READ_TX_POWER:
		return le_capable(m);
	case HCI_OP_WRITE_SIMPLE_PAIRING_MODE:
		return m->features[6] & 0x08;
	case HCI_OP_WRITE_LE_HOST_SUPPORTED:
		return le_capable(m) && bredr_capable(m);
	case HCI_OP_WRITE_SC_SUPPORT:
		e = cache_get(m, HCI_OP_READ_LOCAL_EXT_FEATURES, 2);
		return (m->features[6] & 0x08) && e && e->rlen >= 11 && (e->ret[4] & 0x01);
	case HCI_OP_WRITE_INQUIRY_MODE:
		return m->features[6] & 0x01 || m->features[3] & 0x40;
	case HCI_OP_WRITE_SCAN_ENABLE:
		return bredr_capable(m);
	default:
		return true;
	}
}

static void compute_virt_cmds(struct mux *m)
{
	const struct mux_cmd_def *t;
	unsigned i, n;

	memset(m->virt_cmds, 0, sizeof(m->virt_cmds));
	memset(m->user_cmds, 0, sizeof(m->user_cmds));
	t = mux_cmd_table(&n);
	for (i = 0; i < n; i++) {
		if (t[i].octet == 0xff || !virt_supports(m, &t[i]))
			continue;
		if (t[i].kind == MK_CACHE && !cache_get(m, t[i].opcode, 0))
			continue;
		m->virt_cmds[t[i].octet] |= (uint8_t)(1u << t[i].bit);
		if (t[i].kind != MK_PRIV)
			m->user_cmds[t[i].octet] |= (uint8_t)(1u << t[i].bit);
	}
}

static uint16_t quota(uint16_t pkts, unsigned nmax)
{
	unsigned q = pkts / nmax;

	return (uint16_t)(q ? q : 1);
}

static void init_finish(struct mux *m)
{
	const struct mux_cache_ent *e;
	struct bdaddr old = m->bdaddr;
	char ab[BDADDR_STRLEN];
	const struct mux_cache_ent *f, *c, *b;
	unsigned i;

	/* init_done() checked each required read's length. */
	f = cache_get(m, HCI_OP_READ_LOCAL_FEATURES, 0);
	c = cache_get(m, HCI_OP_READ_LOCAL_COMMANDS, 0);
	b = cache_get(m, HCI_OP_READ_BD_ADDR, 0);
	e = cache_get(m, HCI_OP_READ_BUFFER_SIZE, 0);
	if (!f || !c || !b || !e) {
		ctrl_fail(m, -EIO);
		return;
	}
	memcpy(m->features, f->ret + 1, 8);
	memcpy(m->phys_cmds, c->ret + 1, 64);
	m->bdaddr = addr_at(b->ret + 1);
	if (m->have_cache && !bdaddr_eq(&old, &m->bdaddr))
		log_warn("controller BD_ADDR changed across re-initialisation");
	if (bdaddr_is_zero(&m->bdaddr))
		log_warn("controller reports BD_ADDR 00:00:00:00:00:00");
	m->acl.mtu = get_le16(e->ret + 1);
	m->sco_mtu = e->ret[3];
	m->acl.pkts = get_le16(e->ret + 4);
	m->sco_pkts = get_le16(e->ret + 6);
	m->le_shared = true;
	e = cache_get(m, HCI_OP_LE_READ_BUFFER_SIZE, 0);
	if (e && e->rlen >= 4 && e->ret[3] && get_le16(e->ret + 1)) {
		m->le.mtu = get_le16(e->ret + 1);
		m->le.pkts = e->ret[3];
		m->le_shared = false;
	}
	e = cache_get(m, HCI_OP_LE_READ_LOCAL_FEATURES, 0);
	if (e && e->rlen >= 9)
		memcpy(m->le_features, e->ret + 1, 8);
	m->acl.quota = quota(m->acl.pkts, m->cfg.max_sessions);
	m->le.quota = quota(m->le.pkts, m->cfg.max_sessions);
	m->acl.inflight = m->le.inflight = 0;
	compute_virt_cmds(m);
	m->have_cache = true;
	m->ready = true;
	m->inits++;
	/* Sessions made before the first init take the physical name and class now. */
	for (i = 0; i < m->nsess; i++) {
		if (m->inits == 1) {
			reg_set_default(m, m->sess[i], REG_LOCAL_NAME);
			reg_set_default(m, m->sess[i], REG_CLASS);
		}
	}
	log_notice("controller %s ready: ACL %u x %u (%u per session), LE %s %u x %u",
		   bdaddr_fmt(&m->bdaddr, ab), m->acl.pkts, m->acl.mtu,
		   m->acl.quota, m->le_shared ? "shared" : "own", m->le.pkts,
		   m->le.mtu);
}

static void init_next(struct mux *m)
{
	const struct init_step *st;
	uint8_t p[2];

	while (m->init_step < N_INIT_STEPS &&
	       !init_step_wanted(m, &init_steps[m->init_step]))
		m->init_step++;
	if (m->init_step >= N_INIT_STEPS) {
		init_finish(m);
		return;
	}
	if (!can_send(m, init_steps[m->init_step].opcode))
		return;
	st = &init_steps[m->init_step];
	memcpy(p, st->p, 2);
	if (st->opcode == HCI_OP_WRITE_INQUIRY_MODE)
		p[0] = (m->features[6] & 0x01) ? 2 : 1;	/* EIR, else RSSI */
	ctrl_cmd(m, st->opcode, p, st->plen, O_INIT);
}

static void init_done(struct mux *m, uint16_t op, uint8_t status,
		      const uint8_t *ret, uint8_t rlen, bool is_cs)
{
	const struct init_step *st;
	size_t need = 1;

	if (m->init_step >= N_INIT_STEPS)
		return;
	st = &init_steps[m->init_step];
	if (st->opcode != op) {
		log_warn("init: completion for 0x%04x while waiting for 0x%04x", op, st->opcode);
		return;
	}
	switch (op) {
	case HCI_OP_READ_LOCAL_FEATURES:
		need = 9;
		break;
	case HCI_OP_READ_LOCAL_COMMANDS:
		need = 65;
		break;
	case HCI_OP_READ_BD_ADDR:
		need = 7;
		break;
	case HCI_OP_READ_BUFFER_SIZE:
		need = 8;
		break;
	case HCI_OP_READ_LOCAL_EXT_FEATURES:
		need = 11;
		break;
	}
	if (is_cs || status || rlen < need) {
		if (st->flags & IS_REQ) {
			log_err("controller init: %s (0x%04x) failed: status 0x%02x",
				hcistr_opcode(op) ? hcistr_opcode(op) : "?", op,
				is_cs ? status : (rlen ? ret[0] : 0xff));
			ctrl_fail(m, -EIO);
			return;
		}
		log_info("controller init: optional 0x%04x not available", op);
	} else if (st->flags & IS_READ) {
		cache_put(m, op, st->plen ? st->p[0] : 0, ret, rlen);
		if (op == HCI_OP_READ_LOCAL_FEATURES)
			memcpy(m->features, ret + 1, 8);
		if (op == HCI_OP_READ_LOCAL_COMMANDS)
			memcpy(m->phys_cmds, ret + 1, 64);
		if (op == HCI_OP_READ_LOCAL_EXT_FEATURES && st->p[0] == 1)
			m->max_page = ret[2];
		if (op == HCI_OP_LE_READ_ACCEPT_LIST_SIZE && rlen >= 2)
			m->p_al_max = ret[1] < MUX_P_AL_MAX ? ret[1] : MUX_P_AL_MAX;
	}
	m->init_step++;
}

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

/* ------------------------------------------------------------------ */
/* Connecting through the accept list (LE Create Connection, policy 1) */

/* A session's queue starts with a direct LE Create Connection. */
static bool direct_le_waiting(const struct mux *m)
{
	unsigned i;

	for (i = 0; i < m->nsess; i++) {
		struct pkt *pk = pktq_peek(&m->sess[i]->cmdq);

		if (pk && pk->len >= 9 && get_le16(pk->data + 1) == HCI_OP_LE_CREATE_CONN &&
		    pk->data[4 + 4] == 0)
			return true;
	}
	return false;
}

/*
 * Sessions sharing one physical initiation must connect from the same own
 * address: a link made from one session's random address is not given to
 * another that asked for a different one.
 */
static bool al_same_own(const struct mux_session *a, const struct mux_session *b)
{
	if (a->al_params[12] != b->al_params[12])
		return false;
	return !(a->al_params[12] & 0x01) ||
	       memcmp(a->reg[REG_LE_RAND_ADDR], b->reg[REG_LE_RAND_ADDR], 6) == 0;
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
	uint8_t cp[25];
	bool same;

	head = al_want(m, want, &n);
	same = n == m->p_al_n;
	for (i = 0; same && i < n; i++)
		same = al_ent_in(m->p_al, m->p_al_n, &want[i]);
	if (m->al_phys) {
		if (m->al_cancel_sent || outst_find(m, HCI_OP_LE_CREATE_CONN))
			return true;
		if (head && same && head->al_member && !direct_le_waiting(m)) {
			/* Joiners whose entries it already covers are in. */
			for (i = 0; i < m->nsess; i++) {
				struct mux_session *s = m->sess[i];

				if (s->al_init && !s->dead && al_same_own(head, s))
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
	    outst_find(m, HCI_OP_LE_CREATE_CONN) || outst_find(m, HCI_OP_LE_CREATE_CONN_CANCEL))
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
	if ((head->al_params[12] & 0x01) &&
	    (!m->p_rand_valid || memcmp(m->p_rand, head->reg[REG_LE_RAND_ADDR], 6))) {
		if (!can_send(m, HCI_OP_LE_SET_RANDOM_ADDR))
			return false;
		m->recon_busy = true;
		ctrl_cmd(m, HCI_OP_LE_SET_RANDOM_ADDR, head->reg[REG_LE_RAND_ADDR], 6, O_RECON);
		return false;
	}
	if (!can_send(m, HCI_OP_LE_CREATE_CONN))
		return false;
	memcpy(cp, head->al_params, 25);
	cp[4] = 0x01;
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		s->al_member = s->al_init && !s->dead && al_same_own(head, s);
	}
	m->al_phys = true;
	m->recon_busy = true;
	ctrl_cmd(m, HCI_OP_LE_CREATE_CONN, cp, 25, O_RECON);
	return false;
}

/* The physical accept-list initiation ended (LE Connection Complete). */
static struct mux_session *al_phys_ended(struct mux *m, uint8_t st, uint8_t type,
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
			s->al_init = false;
			sess_le_conn_failed(s, st, s->al_params[5] & 0x01, s->al_params + 6);
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
static void reconcile(struct mux *m)
{
	uint8_t ev[8], ev2[8], le[8], sp[7];
	uint8_t scan = 0;
	bool any_scan, any_inq = false;
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
	if (le_capable(m)) {
		bool same = m->p_scan_params_valid && !memcmp(sp, m->p_scan_params, 7);
		uint8_t en[2] = { 0, 0 };

		if (m->p_le_scan && (!any_scan || !same))
			RECON(HCI_OP_LE_SET_SCAN_ENABLE, en, 2);
		if (!m->p_le_scan && any_scan && !same)
			RECON(HCI_OP_LE_SET_SCAN_PARAM, sp, 7);
		if (!m->p_le_scan && any_scan) {
			en[0] = 1;
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

static void inquiry_stopped(struct mux *m, struct mux_session *except, uint8_t st)
{
	unsigned i;

	m->inq_active = false;
	m->inq_cancelling = false;
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (!s->inquiring || s == except)
			continue;
		s->inquiring = false;
		sess_event(s, HCI_EV_INQUIRY_COMPLETE, &st, 1);
	}
}

static void recon_done(struct mux *m, const struct mux_outst *o, uint8_t status)
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
	case HCI_OP_LE_SET_SCAN_PARAM:
		memcpy(m->p_scan_params, o->param, 7);
		m->p_scan_params_valid = true;
		break;
	case HCI_OP_LE_SET_SCAN_ENABLE:
		if (!status || o->param[0] == 0)
			m->p_le_scan = o->param[0];
		else
			m->p_scan_params_valid = false;
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
		if (status) {
			/* Refused: the members get the status, not a retry loop. */
			unsigned i;

			m->al_phys = false;
			for (i = 0; i < m->nsess; i++) {
				struct mux_session *s = m->sess[i];

				if (!s->al_member || !s->al_init)
					continue;
				s->al_init = false;
				sess_le_conn_failed(s, status, s->al_params[5] & 0x01,
						    s->al_params + 6);
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
			m->inq_active = true;
			m->inq_cache_n = 0;
			if (s) {
				s->inquiring = true;
				s->inq_seen_n = 0;
			}
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
		if (!status || o->plen < 6)
			break;
		a = addr_at(o->opcode == HCI_OP_LE_CREATE_CONN ? o->param + 6 : o->param);
		pd = pend_find_sess(m, o->opcode == HCI_OP_CREATE_CONN ? P_CONN_OUT :
				    o->opcode == HCI_OP_LE_CREATE_CONN ? P_LE_OUT : P_NAME,
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
	}
	(void)ret;
	(void)rlen;
}

static void on_cmd_done(struct mux *m, const struct h4_pkt *pkt, uint16_t op,
			uint8_t ncmd, bool is_cs, uint8_t status,
			const uint8_t *ret, uint8_t rlen)
{
	struct mux_outst o, *po;
	uint8_t buf[H4_MAX_CTL_PKT];

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
	sess_emit(o.s, buf, pkt->raw_len, EM_EVENT);
}

/* ------------------------------------------------------------------ */
/* Events from the controller */

static int evt_handle_off(uint8_t code)
{
	switch (code) {
	case HCI_EV_FLUSH_OCCURRED:
	case HCI_EV_MAX_SLOTS_CHANGE:
	case HCI_EV_QOS_VIOLATION:
	case HCI_EV_LINK_SUPV_TIMEOUT_CHANGE:
	case HCI_EV_ENHANCED_FLUSH_COMPLETE:
	case HCI_EV_AUTH_PAYLOAD_TIMEOUT:
		return 0;
	case HCI_EV_AUTH_COMPLETE:
	case HCI_EV_ENCRYPT_CHANGE:
	case HCI_EV_CHANGE_LINK_KEY_COMPLETE:
	case HCI_EV_REMOTE_FEATURES:
	case HCI_EV_REMOTE_VERSION:
	case HCI_EV_QOS_SETUP_COMPLETE:
	case HCI_EV_MODE_CHANGE:
	case HCI_EV_CLOCK_OFFSET:
	case HCI_EV_PKT_TYPE_CHANGE:
	case HCI_EV_FLOW_SPEC_COMPLETE:
	case HCI_EV_REMOTE_EXT_FEATURES:
	case HCI_EV_SYNC_CONN_CHANGED:
	case HCI_EV_SNIFF_SUBRATING:
	case HCI_EV_KEY_REFRESH_COMPLETE:
		return 1;
	default:
		return -1;
	}
}

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

static void on_conn_request(struct mux *m, const uint8_t *p, uint8_t plen)
{
	struct bdaddr a;
	struct mux_session *s = NULL;
	struct mux_conn *acl;
	unsigned i;

	if (plen != 10)
		goto bad;
	a = addr_at(p);
	if (p[9] == 0x01) {
		/* ACL: offered to one connectable session allowed this device. */
		for (i = 0; i < m->nsess && !s; i++) {
			struct mux_session *c = m->sess[(m->conn_rr + i) % m->nsess];

			if (!c->dead && (c->reg[REG_SCAN_ENABLE][0] & 0x02) &&
			    sess_wants(c, HCI_EV_CONN_REQUEST, 0) &&
			    may_access(m, c, &a, BDADDR_PUBLIC))
				s = c;
		}
		m->conn_rr++;
		if (!s || !pend_has_room(m)) {
			internal_addr_cmd(m, HCI_OP_REJECT_CONN_REQ, &a, HCI_ST_REJ_BAD_ADDR);
			return;
		}
		pend_add(m, P_CONN_IN, &a, s);
	} else {
		/* SCO/eSCO: belongs to whoever owns the ACL link. */
		acl = conn_by_addr(m, &a, LINK_ACL);
		s = acl ? acl->owner : NULL;
		if (!s || !pend_has_room(m)) {
			internal_addr_cmd(m, HCI_OP_REJECT_SYNC_CONN_REQ, &a,
					  HCI_ST_REJ_BAD_ADDR);
			return;
		}
		pend_add(m, P_SYNC_IN, &a, s);
	}
	sess_event(s, HCI_EV_CONN_REQUEST, p, plen);
	return;
bad:
	log_warn("controller: malformed Connection Request");
}

static void pend_clear_addr(struct mux *m, const struct bdaddr *a,
			    uint8_t k1, uint8_t k2, struct mux_session **owner)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++) {
		struct mux_pend *pd = &m->pend[i];

		if (!pd->used || !bdaddr_eq(&pd->addr, a) ||
		    (pd->kind != k1 && pd->kind != k2))
			continue;
		if (!*owner)
			*owner = pd->s;
		pd->used = false;
	}
}

/* Connection Complete 7.7.3 and Synchronous Connection Complete 7.7.35. */
static void on_conn_complete(struct mux *m, uint8_t code, const uint8_t *p, uint8_t plen)
{
	struct mux_session *s = NULL;
	struct mux_conn *acl;
	struct bdaddr a;
	uint16_t h;
	bool sync;

	if ((code == HCI_EV_CONN_COMPLETE && plen != 11) ||
	    (code == HCI_EV_SYNC_CONN_COMPLETE && plen != 17)) {
		log_warn("controller: malformed connection complete event");
		return;
	}
	h = get_le16(p + 1) & 0x0fff;
	a = addr_at(p + 3);
	sync = code == HCI_EV_SYNC_CONN_COMPLETE || p[9] != 0x01;
	if (!sync) {
		pend_clear_addr(m, &a, P_CONN_OUT, P_CONN_IN, &s);
	} else {
		pend_clear_addr(m, &a, P_SYNC_IN, P_SYNC_IN, &s);
		acl = conn_by_addr(m, &a, LINK_ACL);
		if (!s && acl)
			s = acl->owner;
	}
	if (s && s->dead)
		s = NULL;
	if (p[0] == 0) {
		if (!conn_add(m, h, sync ? LINK_SCO : LINK_ACL, &a, BDADDR_PUBLIC, s)) {
			log_err("connection table full, disconnecting 0x%04x", h);
			internal_disconnect(m, h, HCI_ST_REMOTE_LOW_RESOURCES);
			return;
		}
		if (!s) {
			/* Nobody asked for it any more (its session reset or ended). */
			internal_disconnect(m, h, HCI_ST_REMOTE_USER_TERM);
			conn_by_handle(m, h)->owner = NULL;
			return;
		}
	}
	if (s)
		sess_event(s, code, p, plen);
}

static void on_disconn_complete(struct mux *m, const uint8_t *p, uint8_t plen)
{
	struct mux_conn *c;
	struct mux_session *s;

	if (plen != 4) {
		log_warn("controller: malformed Disconnection Complete");
		return;
	}
	c = conn_by_handle(m, get_le16(p + 1) & 0x0fff);
	if (!c)
		return;
	s = c->owner;
	if (p[0] == 0) {
		conn_release(m, c);
		memset(c, 0, sizeof(*c));
	}
	if (s)
		sess_event(s, HCI_EV_DISCONN_COMPLETE, p, plen);
}

/*
 * Number Of Completed Packets (7.7.19), split per owner: one event per
 * session listing only its own handles.  The owners are noted per entry
 * (at most 63) rather than building every session's event at once, so the
 * stack cost does not grow with MUX_MAX_SESSIONS.
 */
static void on_nocp(struct mux *m, const uint8_t *p, uint8_t plen)
{
	struct mux_session *own[63];
	uint16_t cnts[63];
	unsigned n, i, j;

	if (plen < 1 || plen != 1u + 4u * p[0] || p[0] > 63) {
		log_warn("controller: malformed Number Of Completed Packets");
		return;
	}
	n = p[0];
	for (i = 0; i < n; i++) {
		uint16_t h = get_le16(p + 1 + 4 * i) & 0x0fff;
		uint16_t cnt = get_le16(p + 3 + 4 * i);
		struct mux_conn *c = conn_by_handle(m, h);
		struct mux_pool *pool;
		uint16_t *used;

		own[i] = NULL;
		cnts[i] = 0;
		if (!c)
			continue;
		if (cnt > c->inflight)
			cnt = c->inflight;
		pool = conn_pool(m, c);
		c->inflight -= cnt;
		pool->inflight -= cnt < pool->inflight ? cnt : pool->inflight;
		if (!c->owner || cnt == 0)
			continue;
		used = sess_used(m, c->owner, c);
		*used -= cnt < *used ? cnt : *used;
		own[i] = c->owner;
		cnts[i] = cnt;
	}
	for (j = 0; j < m->nsess; j++) {
		struct mux_session *s = m->sess[j];
		uint8_t out[1 + 4 * 63];
		uint8_t buf[H4_MAX_CTL_PKT];
		int len;

		out[0] = 0;
		for (i = 0; i < n; i++) {
			if (own[i] != s)
				continue;
			put_le16(&out[1 + 4 * out[0]], get_le16(p + 1 + 4 * i) & 0x0fff);
			put_le16(&out[3 + 4 * out[0]], cnts[i]);
			out[0]++;
		}
		if (!out[0] || s->dead)
			continue;
		len = h4_build_evt(buf, sizeof(buf), HCI_EV_NUM_COMP_PKTS,
				   out, 1u + 4u * out[0]);
		if (len > 0)
			sess_emit(s, buf, (size_t)len, EM_NOCP);
	}
	drain_acl(m);
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
		if (!sess_event(s, oc, out, n))
			seen_forget(s->inq_seen, &s->inq_seen_n, &a, 0, 0);
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
static void inq_replay(struct mux *m, struct mux_session *s)
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

/* Deliver one LE advertising report to every scanning session allowed it. */
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

		if (!s->scan_en || s->dead)
			continue;
		/* Anonymous advertisers (0xff) have no address to allow. */
		if (atype == 0xff || !may_access(m, s, &a, map_addr_type(atype)))
			continue;
		/* The session's scanning filter policy over its own accept list. */
		if ((s->scan_params[6] & 0x01) && !al_has(s, map_addr_type(atype), &a))
			continue;
		if (s->scan_dup &&
		    seen_check_add(s->le_seen, &s->le_seen_n, &a, atype, ev))
			continue;
		if (!sess_le_event(s, sub, out, rlen + 1) && s->scan_dup)
			seen_forget(s->le_seen, &s->le_seen_n, &a, atype, ev);
	}
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
		if (deliver)
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

/* LE Connection Complete 7.7.65.1 and Enhanced 7.7.65.10, in the session's variant. */
static void on_le_conn_complete(struct mux *m, uint8_t sub, const uint8_t *q, size_t qlen)
{
	struct mux_session *s = NULL;
	struct mux_pend *pd;
	uint8_t legacy[18], enh[30];
	struct bdaddr a;
	uint16_t h;
	bool al = false;

	if ((sub == HCI_LE_EV_CONN_COMPLETE && qlen != 18) ||
	    (sub == HCI_LE_EV_ENH_CONN_COMPLETE && qlen != 30)) {
		log_warn("controller: malformed LE connection complete");
		return;
	}
	if (sub == HCI_LE_EV_CONN_COMPLETE) {
		memcpy(legacy, q, 18);
		memcpy(enh, q, 11);
		memset(enh + 11, 0, 12);
		memcpy(enh + 23, q + 11, 7);
	} else {
		memcpy(enh, q, 30);
		memcpy(legacy, q, 11);
		memcpy(legacy + 11, q + 23, 7);
		legacy[4] = map_addr_type(q[4]);
	}
	h = get_le16(q + 1) & 0x0fff;
	a = addr_at(q + 5);
	if (q[0] == HCI_ST_UNKNOWN_CONN_ID && m->le_stale_cancel) {
		/* The end of an initiation the mux cancelled for a departed session. */
		m->le_stale_cancel = false;
		reconcile(m);
		return;
	}
	if (q[3] == 0x00) {
		pd = pend_find(m, P_LE_OUT, &a);
		if (!pd)
			pd = pend_find(m, P_LE_OUT, NULL);
		if (pd) {
			s = pd->s;
			pd->used = false;
		} else if (m->al_phys) {
			/* To a member whose accept list has the peer (and may). */
			s = al_phys_ended(m, q[0], map_addr_type(q[4]), &a);
			al = true;
			if (q[0] != 0) {
				reconcile(m);
				return;
			}
		}
	} else if (m->adv_owner && !m->adv_owner->dead &&
		   may_access(m, m->adv_owner, &a, map_addr_type(q[4]))) {
		/* Incoming LE: only an admin advertises physically. */
		s = m->adv_owner;
	}
	if (s && s->dead)
		s = NULL;
	if (q[0] == 0) {
		if (!conn_add(m, h, LINK_LE, &a, map_addr_type(q[4]), s)) {
			internal_disconnect(m, h, HCI_ST_REMOTE_LOW_RESOURCES);
			return;
		}
		if (!s) {
			internal_disconnect(m, h, HCI_ST_REMOTE_USER_TERM);
			return;
		}
	}
	if (s) {
		if (sess_wants(s, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE))
			sess_le_event(s, HCI_LE_EV_ENH_CONN_COMPLETE, enh, 30);
		else
			sess_le_event(s, HCI_LE_EV_CONN_COMPLETE, legacy, 18);
	}
	/* The sessions still waiting get a new initiation. */
	if (al)
		reconcile(m);
}

static void route_by_handle(struct mux *m, const struct h4_pkt *pkt, uint8_t sub,
			    const uint8_t *q, size_t qlen, size_t off)
{
	struct mux_conn *c;

	if (qlen < off + 2) {
		log_warn("controller: event 0x%02x/0x%02x too short", pkt->evt.code, sub);
		return;
	}
	c = conn_by_handle(m, get_le16(q + off) & 0x0fff);
	if (!c || !c->owner)
		return;
	if (sess_wants(c->owner, pkt->evt.code, sub))
		sess_emit(c->owner, pkt->raw, pkt->raw_len, EM_EVENT);
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
		on_le_conn_complete(m, sub, q, qlen);
		break;
	case HCI_LE_EV_ADV_REPORT:
	case HCI_LE_EV_EXT_ADV_REPORT:
	case HCI_LE_EV_DIRECT_ADV_REPORT:
		on_adv_report(m, sub, q, qlen);
		break;
	case HCI_LE_EV_CONN_UPDATE_COMPLETE:
	case HCI_LE_EV_REMOTE_FEATURES:
	case HCI_LE_EV_PHY_UPDATE_COMPLETE:
		route_by_handle(m, pkt, sub, q, qlen, 1);
		break;
	case HCI_LE_EV_LTK_REQUEST:
	case HCI_LE_EV_CONN_PARAM_REQUEST:
	case HCI_LE_EV_DATA_LEN_CHANGE:
	case HCI_LE_EV_CHANNEL_SELECTION_ALGORITHM:
		route_by_handle(m, pkt, sub, q, qlen, 0);
		break;
	case HCI_LE_EV_ADV_SET_TERMINATED:
		route_by_handle(m, pkt, sub, q, qlen, 2);
		break;
	default:
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
	mux_ctrl_down(m);
	mux_ctrl_up(m);
}

static void ctrl_event(struct mux *m, const struct h4_pkt *pkt)
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
		if (m->inq_active || m->inq_cancelling)
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
	off = evt_handle_off(code);
	if (off >= 0) {
		route_by_handle(m, pkt, 0, p, plen, (size_t)off);
		return;
	}
	off = evt_addr_off(code);
	if (off >= 0) {
		if (plen < off + 6)
			goto bad;
		a = addr_at(p + off);
		s = addr_owner(m, &a);
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

/* ------------------------------------------------------------------ */
/* Data */

/* Send queued ACL while the controller has buffers, round-robin over sessions. */
static void drain_acl(struct mux *m)
{
	unsigned rounds, i;
	bool progress = true;

	for (rounds = 0; progress && rounds < 64 * MUX_MAX_SESSIONS; rounds++) {
		progress = false;
		for (i = 0; i < m->nsess && m->up; i++) {
			struct mux_session *s = m->sess[(m->acl_rr + i) % m->nsess];
			struct pkt *pk = pktq_peek(&s->aclq);
			struct mux_conn *c;
			struct mux_pool *pool;
			int r;

			if (!pk)
				continue;
			c = conn_by_handle(m, get_le16(pk->data + 1) & 0x0fff);
			if (!c || c->owner != s) {
				/* Its link went away while it waited. */
				pkt_free(pktq_pop(&s->aclq));
				progress = true;
				continue;
			}
			pool = conn_pool(m, c);
			if (pool->inflight >= pool->pkts)
				continue;
			pk = pktq_pop(&s->aclq);
			pool->inflight++;
			c->inflight++;
			r = m->ops.ctrl_send(pk->data, pk->len, m->ops.user);
			pkt_free(pk);
			if (r < 0)
				ctrl_fail(m, r);
			progress = true;
		}
		m->acl_rr++;
	}
}

static int sess_acl(struct mux *m, struct mux_session *s, const struct h4_pkt *pkt)
{
	struct mux_conn *c = conn_by_handle(m, pkt->acl.handle);
	struct mux_pool *pool;
	uint16_t *used;

	if (!c || c->owner != s || c->link == LINK_SCO) {
		sess_refuse(s, LOG_INFO, "ACL on foreign handle 0x%04x dropped",
			    pkt->acl.handle);
		return 0;
	}
	pool = conn_pool(m, c);
	used = sess_used(m, s, c);
	if (pkt->acl.dlen > pool->mtu) {
		sess_refuse(s, LOG_WARNING, "ACL of %u bytes exceeds the MTU %u, dropped",
			    pkt->acl.dlen, pool->mtu);
		return 0;
	}
	/* Its share of the controller's buffers (Vol 4 Part E 4.1.1). */
	if (*used >= pool->quota) {
		sess_refuse(s, LOG_WARNING, "ACL beyond its %u buffers dropped",
			    pool->quota);
		/* As a controller does: Data Buffer Overflow, ACL (7.7.26). */
		sess_event(s, HCI_EV_DATA_BUFFER_OVERFLOW, "\x01", 1);
		return 0;
	}
	if (!m->up)
		return 0;	/* its links are gone; Disconnection Complete sent */
	if (pktq_push(&s->aclq, pkt->raw, pkt->raw_len) < 0) {
		sess_event(s, HCI_EV_DATA_BUFFER_OVERFLOW, "\x01", 1);
		return 0;
	}
	(*used)++;
	c->bytes_out += pkt->acl.dlen;
	drain_acl(m);
	return 0;
}

static int sess_sco(struct mux *m, struct mux_session *s, const struct h4_pkt *pkt)
{
	struct mux_conn *c = conn_by_handle(m, pkt->sco.handle);
	int r;

	if (!c || c->owner != s || c->link != LINK_SCO) {
		sess_refuse(s, LOG_INFO, "SCO on foreign handle 0x%04x dropped",
			    pkt->sco.handle);
		return 0;
	}
	if (!m->up)
		return 0;
	c->bytes_out += pkt->sco.dlen;
	r = m->ops.ctrl_send(pkt->raw, pkt->raw_len, m->ops.user);
	if (r < 0)
		ctrl_fail(m, r);
	return 0;
}

static void ctrl_data(struct mux *m, const struct h4_pkt *pkt)
{
	uint16_t h = pkt->type == H4_ACL ? pkt->acl.handle : pkt->sco.handle;
	struct mux_conn *c = conn_by_handle(m, h);

	/* To the link's owner only; an orphaned link's data goes nowhere. */
	if (c && c->owner) {
		c->bytes_in += pkt->type == H4_ACL ? pkt->acl.dlen : pkt->sco.dlen;
		if (pkt->type == H4_ACL)
			smp_snoop(m, c, pkt);
		sess_emit(c->owner, pkt->raw, pkt->raw_len, EM_DATA);
	}
}

/* ------------------------------------------------------------------ */
/* Dispatcher */

static void dispatch_once(struct mux *m)
{
	unsigned iter, i;
	struct pkt *pk;

	for (i = 0; i < m->nsess; i++)
		sess_run(m, m->sess[i]);
	for (iter = 0; iter < 4 * MUX_MAX_OUTST + MUX_INTQ_MAX; iter++) {
		bool sent = false;

		if (!m->up || m->fail_err || m->ncmd == 0)
			return;
		if (!m->ready) {
			unsigned before = m->init_step;

			init_next(m);
			if (m->ready) {
				reconcile(m);
				for (i = 0; i < m->nsess; i++)
					sess_run(m, m->sess[i]);
				continue;
			}
			if (m->init_step == before && outst_count(m))
				return;
			continue;
		}
		/* The mux's own commands first: teardown must finish within 2 s. */
		pk = pktq_peek(&m->intq);
		if (pk && can_send(m, get_le16(pk->data + 1))) {
			pk = pktq_pop(&m->intq);
			ctrl_send_cmd(m, pk->data, pk->len, NULL, O_INTERNAL);
			pkt_free(pk);
			continue;
		}
		if (!m->recon_busy) {
			reconcile(m);
			if (m->recon_busy)
				continue;
		}
		/* Then one command per session in turn: nobody starves anyone. */
		for (i = 0; i < m->nsess && !sent; i++) {
			unsigned idx = (m->rr + i) % m->nsess;
			struct mux_session *s = m->sess[idx];
			int r;

			pk = pktq_peek(&s->cmdq);
			if (!pk || s->dead)
				continue;
			r = cmd_process(m, s, pk->data, pk->len, true);
			if (r == R_WAIT)
				continue;
			pkt_free(pktq_pop(&s->cmdq));
			sess_run(m, s);
			if (r == R_SENT) {
				m->rr = idx + 1;
				sent = true;
			}
		}
		if (!sent)
			return;
	}
}

static void dispatch(struct mux *m)
{
	unsigned n;

	if (m->in_dispatch) {
		m->dispatch_again = true;
		return;
	}
	m->in_dispatch = true;
	for (n = 0; n < 8; n++) {
		m->dispatch_again = false;
		dispatch_once(m);
		if (!m->dispatch_again)
			break;
	}
	m->in_dispatch = false;
}

/*
 * Work deferred to the end of every entry point, when no iteration over
 * sessions or connections is in progress: a controller failure, sessions
 * the core ended, then the dispatcher.
 */
static void finish(struct mux *m)
{
	unsigned i, rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		if (m->fail_err) {
			int err = m->fail_err;

			m->fail_err = 0;
			ctrl_down(m);
			if (m->ops.ctrl_failed)
				m->ops.ctrl_failed(m, err, m->ops.user);
		}
		if (m->reap) {
			m->reap = false;
			for (i = 0; i < m->nsess; i++) {
				struct mux_session *s = m->sess[i];

				if (!s->dead || s->dead_notified)
					continue;
				s->dead_notified = true;
				teardown(s, HCI_ST_REMOTE_USER_TERM);
				if (m->ops.session_dead) {
					m->ops.session_dead(s, s->emit_user, m->ops.user);
					i = (unsigned)-1;	/* the list may have changed */
				}
			}
		}
		dispatch(m);
		if (!m->fail_err && !m->reap)
			break;
	}
}

static void cmd_timeout(struct loop_timer *t, void *user)
{
	struct mux *m = user;
	unsigned i;

	for (i = 0; i < MUX_MAX_OUTST; i++) {
		if (m->outst[i].used) {
			log_err("controller did not answer command 0x%04x in %u ms",
				m->outst[i].opcode, m->cfg.cmd_timeout_ms);
			break;
		}
	}
	ctrl_fail(m, -ETIMEDOUT);
	finish(m);
}

/* ------------------------------------------------------------------ */
/* Teardown */

/*
 * Stop everything the session has on the physical controller: its links are
 * disconnected (orphaned first, so nothing more reaches it), its pending
 * procedures cancelled, its queued commands and data dropped. Used by
 * HCI Reset, session end and policy revocation.
 */
static void teardown(struct mux_session *s, uint8_t reason)
{
	struct mux *m = s->m;
	unsigned i;
	bool others;

	for (i = 0; i < MUX_MAX_OUTST; i++) {
		if (m->outst[i].used && m->outst[i].s == s) {
			m->outst[i].s = NULL;
			if (m->outst[i].origin == O_SESSION)
				m->outst[i].origin = O_ORPHAN;
		}
	}
	pktq_clear(&s->cmdq);
	pktq_clear(&s->aclq);
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (!c->used || c->owner != s)
			continue;
		c->owner = NULL;
		internal_disconnect(m, c->handle, reason);
	}
	s->acl_used = s->le_used = 0;
	for (i = 0; i < MUX_MAX_PEND; i++) {
		struct mux_pend *pd = &m->pend[i];

		if (!pd->used || pd->s != s)
			continue;
		pd->used = false;
		switch (pd->kind) {
		case P_CONN_OUT:
			internal_addr_cmd(m, HCI_OP_CREATE_CONN_CANCEL, &pd->addr, -1);
			break;
		case P_LE_OUT:
			internal_cmd(m, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0);
			break;
		case P_CONN_IN:
			internal_addr_cmd(m, HCI_OP_REJECT_CONN_REQ, &pd->addr,
					  HCI_ST_REJ_LIMITED_RESOURCES);
			break;
		case P_SYNC_IN:
			internal_addr_cmd(m, HCI_OP_REJECT_SYNC_CONN_REQ, &pd->addr,
					  HCI_ST_REJ_LIMITED_RESOURCES);
			break;
		case P_NAME:
			others = addr_owner(m, &pd->addr) != NULL;
			if (!others && pend_find(m, P_NAME, &pd->addr) == NULL)
				internal_addr_cmd(m, HCI_OP_REMOTE_NAME_REQ_CANCEL,
						  &pd->addr, -1);
			break;
		}
	}
	s->inquiring = false;
	s->scan_en = false;
	if (m->adv_owner == s)
		m->adv_owner = NULL;
	reconcile(m);
}

/* ------------------------------------------------------------------ */
/* Public API */

struct mux *mux_new(struct loop *l, const struct mux_config *cfg,
		    const struct mux_policy *policy, const struct mux_ops *ops)
{
	struct mux *m;

	if (!l || !ops || !ops->ctrl_send)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = l;
	if (cfg)
		m->cfg = *cfg;
	if (!m->cfg.max_sessions)
		m->cfg.max_sessions = 4;
	if (m->cfg.max_sessions > MUX_MAX_SESSIONS)
		m->cfg.max_sessions = MUX_MAX_SESSIONS;
	if (!m->cfg.cmd_timeout_ms)
		m->cfg.cmd_timeout_ms = 5000;
	if (policy)
		m->pol = *policy;
	m->ops = *ops;
	m->next_id = 1;
	pktq_init(&m->intq, MUX_INTQ_MAX, 0);
	m->cmd_timer = loop_timer_new(l, cmd_timeout, m);
	if (!m->cmd_timer) {
		free(m);
		return NULL;
	}
	return m;
}

void mux_free(struct mux *m)
{
	if (!m)
		return;
	while (m->nsess)
		mux_session_free(m->sess[m->nsess - 1]);
	pktq_clear(&m->intq);
	loop_timer_free(m->cmd_timer);
	free(m);
}

void mux_ctrl_up(struct mux *m)
{
	if (!m)
		return;
	m->up = true;
	m->ready = false;
	m->init_step = 0;
	m->ncmd = 1;
	m->fail_err = 0;
	finish(m);
}

void mux_ctrl_down(struct mux *m)
{
	if (!m)
		return;
	ctrl_down(m);
	/* Queued commands that need the radio are answered now. */
	dispatch(m);
}

static void ctrl_down(struct mux *m)
{
	uint8_t code = 0;
	unsigned i, n;

	if (!m || (!m->up && !m->ready))
		return;
	for (i = 0, n = 0; i < MUX_MAX_CONNS; i++)
		n += m->conns[i].used;
	log_warn("controller lost: %u links dropped, sessions told Hardware Error", n);
	m->up = false;
	m->ready = false;
	loop_timer_disarm(m->cmd_timer);
	for (i = 0; i < MUX_MAX_OUTST; i++) {
		struct mux_outst *o = &m->outst[i];

		if (o->used && o->origin == O_SESSION && o->s)
			reply_cs(o->s, o->opcode, HCI_ST_HARDWARE_FAILURE);
		o->used = false;
	}
	pktq_clear(&m->intq);
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];
		uint8_t p[4];

		if (!c->used)
			continue;
		if (c->owner) {
			/* The link is gone with the controller (Vol 4 Part E 7.7.5). */
			p[0] = 0;
			put_le16(p + 1, c->handle);
			p[3] = HCI_ST_CONN_TIMEOUT;
			sess_event(c->owner, HCI_EV_DISCONN_COMPLETE, p, 4);
		}
		memset(c, 0, sizeof(*c));
	}
	memset(m->pend, 0, sizeof(m->pend));
	m->acl.inflight = m->le.inflight = 0;
	m->recon_busy = false;
	m->p_masks_valid = 0;
	m->p_scan = 0;
	m->p_le_scan = false;
	m->p_scan_params_valid = false;
	m->p_rand_valid = false;
	m->p_adv = false;
	m->adv_owner = NULL;
	m->inq_active = false;
	m->inq_cancelling = false;
	m->p_al_n = 0;
	m->p_al_max = 0;	/* read again by the init */
	m->al_phys = false;
	m->al_cancel_sent = false;
	m->le_stale_cancel = false;
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		/* The host re-initialises (below); its initiation is gone. */
		s->al_init = false;
		s->al_member = false;
		pktq_clear(&s->aclq);
		s->acl_used = s->le_used = 0;
		s->inquiring = false;
		/* Every host re-initialises on this event (Vol 4 Part E 7.7.16). */
		sess_event(s, HCI_EV_HARDWARE_ERROR, &code, 1);
	}
}

int mux_ctrl_input(struct mux *m, const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;
	int r;

	r = h4_parse(&pkt, h4, len, 0);
	if (r < 0) {
		log_warn("controller: malformed packet: %s", h4_strerror(r));
		return -EBADMSG;
	}
	if (!m->up)
		return 0;
	if (log_is_enabled(LOG_DEBUG) && pkt.type == H4_EVT) {
		char sum[128];

		hcistr_summary(sum, sizeof(sum), h4, len);
		log_debug("<- ctrl %s", sum);
	}
	switch (pkt.type) {
	case H4_EVT:
		ctrl_event(m, &pkt);
		break;
	case H4_ACL:
	case H4_SCO:
		ctrl_data(m, &pkt);
		break;
	default:
		log_debug("controller: packet type 0x%02x ignored", pkt.type);
		break;
	}
	finish(m);
	return 0;
}

bool mux_is_ready(const struct mux *m)
{
	return m && m->ready;
}

void mux_policy_changed(struct mux *m)
{
	unsigned i;

	if (!m)
		return;
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (s->dead)
			continue;
		if (m->pol.is_user && !m->pol.is_user(s->user, m->pol.ctx)) {
			log_notice("session %u (%s): user removed, ending the session",
				   s->id, s->user);
			s->dead = true;
			m->reap = true;
			continue;
		}
		s->admin = user_is_admin(m, s->user);
	}
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (!c->used || !c->owner || c->owner->dead)
			continue;
		if (may_access(m, c->owner, &c->addr, c->addr_type))
			continue;
		log_notice("session %u (%s): access to a connected device revoked, disconnecting",
			   c->owner->id, c->owner->user);
		internal_disconnect(m, c->handle, HCI_ST_REMOTE_USER_TERM);
	}
	reconcile(m);
	finish(m);
}

struct mux_session *mux_session_new(struct mux *m, const char *user_name,
				    mux_emit_fn emit, void *user)
{
	struct mux_session *s;
	size_t n;

	if (!m || !user_name || !emit)
		return NULL;
	n = strlen(user_name);
	if (n == 0 || n > MUX_USER_MAX)
		return NULL;
	if (m->nsess >= m->cfg.max_sessions) {
		log_warn("session for %s refused: %u sessions already", user_name, m->nsess);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->m = m;
	s->id = m->next_id++;
	s->since = (int64_t)time(NULL);
	memcpy(s->user, user_name, n + 1);
	s->admin = user_is_admin(m, s->user);
	s->emit = emit;
	s->emit_user = user;
	pktq_init(&s->cmdq, MUX_SESSION_CMDQ, 0);
	pktq_init(&s->aclq, 64, 0);
	sess_defaults(s);
	m->sess[m->nsess++] = s;
	log_info("session %u (%s%s) started", s->id, s->user, s->admin ? ", admin" : "");
	/* Its default event masks join the union. */
	reconcile(m);
	finish(m);
	return s;
}

int mux_session_input(struct mux_session *s, const uint8_t *h4, size_t len)
{
	struct mux *m;
	struct h4_pkt pkt;
	int r;

	if (!s)
		return -EINVAL;
	if (s->dead)
		return -EPIPE;
	m = s->m;
	r = h4_parse(&pkt, h4, len, 0);
	if (r < 0) {
		sess_refuse(s, LOG_WARNING, "malformed packet refused: %s",
			    h4_strerror(r));
		return -EBADMSG;
	}
	switch (pkt.type) {
	case H4_CMD:
		if (pktq_push(&s->cmdq, h4, len) < 0) {
			/* The host ignored Num_HCI_Command_Packets (Vol 4 Part E 4.4). */
			sess_refuse(s, LOG_WARNING, "too many commands queued, 0x%04x refused",
				    pkt.cmd.opcode);
			reply_cs(s, pkt.cmd.opcode, HCI_ST_MEMORY_EXCEEDED);
			break;
		}
		sess_run(m, s);
		break;
	case H4_ACL:
		sess_acl(m, s, &pkt);
		break;
	case H4_SCO:
		sess_sco(m, s, &pkt);
		break;
	default:
		sess_refuse(s, LOG_WARNING, "%s packet from a host refused",
			    h4_type_name(pkt.type));
		finish(m);
		return -EPROTO;
	}
	finish(m);
	return 0;
}

void mux_session_free(struct mux_session *s)
{
	struct mux *m;
	unsigned i;

	if (!s)
		return;
	m = s->m;
	log_info("session %u (%s) ended", s->id, s->user);
	if (!s->dead_notified)
		teardown(s, HCI_ST_REMOTE_USER_TERM);
	s->dead = true;
	for (i = 0; i < m->nsess; i++) {
		if (m->sess[i] == s) {
			m->sess[i] = m->sess[--m->nsess];
			m->sess[m->nsess] = NULL;
			break;
		}
	}
	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].s == s)
			m->pend[i].used = false;
	for (i = 0; i < MUX_MAX_OUTST; i++)
		if (m->outst[i].s == s)
			m->outst[i].s = NULL;
	if (m->adv_owner == s)
		m->adv_owner = NULL;
	pktq_clear(&s->cmdq);
	pktq_clear(&s->aclq);
	free(s);
	if (!m->in_dispatch)
		finish(m);
}

bool mux_session_is_dead(const struct mux_session *s)
{
	return !s || s->dead;
}

bool mux_session_is_stalled(const struct mux_session *s)
{
	return s && s->stalled;
}

const char *mux_session_user(const struct mux_session *s)
{
	return s ? s->user : NULL;
}

unsigned mux_session_id(const struct mux_session *s)
{
	return s ? s->id : 0;
}

void mux_get_stats(const struct mux *m, struct mux_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	st->sessions = m->nsess;
	for (i = 0; i < MUX_MAX_CONNS; i++)
		st->conns += m->conns[i].used;
	st->cmds_outstanding = outst_count(m);
	st->acl_inflight = m->acl.inflight;
	st->le_inflight = m->le.inflight;
	st->inquiry = m->inq_active;
	st->le_scan = m->p_le_scan;
	st->scan_enable = m->p_scan;
	st->inits = m->inits;
}

/* ------------------------------------------------------------------ */
/* Read-only queries (bgw-muxd status) */

int64_t mux_session_since(const struct mux_session *s)
{
	return s ? s->since : 0;
}

unsigned mux_session_links(const struct mux_session *s, struct mux_link_info *out,
			   unsigned max)
{
	const struct mux *m;
	unsigned i, n = 0;

	if (!s)
		return 0;
	m = s->m;
	for (i = 0; i < MUX_MAX_CONNS && n < max; i++) {
		const struct mux_conn *c = &m->conns[i];

		if (!c->used || c->owner != s)
			continue;
		out[n].addr = c->addr;
		out[n].addr_type = c->addr_type;
		out[n].kind = c->link == LINK_LE ? MUX_LINK_LE :
			      c->link == LINK_SCO ? MUX_LINK_SCO : MUX_LINK_BREDR;
		out[n].handle = c->handle;
		out[n].since = c->since;
		out[n].bytes_in = c->bytes_in;
		out[n].bytes_out = c->bytes_out;
		n++;
	}
	return n;
}

void mux_get_ctrl_info(const struct mux *m, struct mux_ctrl_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->up = m->up;
	ci->ready = m->ready;
	ci->addr = m->bdaddr;
	ci->sessions = m->nsess;
}

/*
 * The session's host stopped answering (bgw-muxd: its tunnel went
 * silent) but may come back: let its devices go to the others and keep
 * everything else of its virtual controller. Each of its links (ACL, LE,
 * SCO) is disconnected on the controller as its host would have done it
 * (Remote User Terminated Connection), orphaned first so that nothing
 * more of it reaches the session; the controller's own Disconnection
 * Complete then goes nowhere. The session is told Disconnection Complete
 * with reason for each, now, so that a host that comes back reads it
 * before anything later (Vol 4 Part E 7.7.5; 0x08 Connection Timeout is
 * what a controller reports for a link whose peer fell silent). The
 * data it queued for them is dropped and its buffer counts cleared, as
 * a host assumes on that event (Vol 4 Part E 4.3). Pending connection
 * attempts, scans and every setting stay.
 */
unsigned mux_session_release_links(struct mux_session *s, uint8_t reason)
{
	struct mux *m;
	unsigned i, n = 0;
	uint8_t p[4];

	if (!s || s->dead)
		return 0;
	m = s->m;
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (!c->used || c->owner != s)
			continue;
		c->owner = NULL;
		internal_disconnect(m, c->handle, HCI_ST_REMOTE_USER_TERM);
		p[0] = 0;
		put_le16(p + 1, c->handle);
		p[3] = reason;
		sess_event(s, HCI_EV_DISCONN_COMPLETE, p, sizeof(p));
		n++;
	}
	if (!n)
		return 0;
	pktq_clear(&s->aclq);
	s->acl_used = s->le_used = 0;
	log_notice("session %u (%s): %u link%s released (host silent), reason 0x%02x",
		   s->id, s->user, n, n == 1 ? "" : "s", reason);
	if (!m->in_dispatch)
		finish(m);
	return n;
}
