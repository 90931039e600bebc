/* SPDX-License-Identifier: MIT */
/*
 * Connections and the procedures keyed by BD_ADDR: the connection table,
 * connection requests and completions, the controller's buffer credits
 * (Number Of Completed Packets), ACL/SCO data both ways, and a session's
 * teardown (its links and procedures ended on the controller).
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
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
#include "rpa.h"
#include "secmem.h"

static void drain_acl(struct mux *m);
static void conn_release(struct mux *m, struct mux_conn *c);
static void conn_drop_queued(struct mux *m, struct mux_conn *c);

/*
 * SMP key distribution from the peer (Vol 3 Part H 3.6.1, 3.6.4-3.6.5) on
 * an LE link, seen in clear at HCI: Identity Information (IRK) then
 * Identity Address Information. The binding is kept for the link owner's
 * user only if the user may access that identity and the link is to it:
 * its address is the identity, or an RPA the IRK resolves. What a host
 * says (LE Add Device To Resolving List) is never used. Fragmented SMP
 * PDUs are ignored: the key distribution's fit the LE minimum of 27
 * octets (only the SC Public Key, 69 with its header, may need more).
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
	/* A verdict on an advertiser's RPA may change with it. */
	access_forget(m);
	k->used = true;
	k->id = id;
	k->id_type = idt;
	memcpy(k->irk, c->irk, 16);
	snprintf(k->user, sizeof(k->user), "%s", c->owner->user);
	log_info("session %u: IRK of its peer bound to its identity address", c->owner->id);
}

/* ------------------------------------------------------------------ */
/* Connections and pending procedures */

struct mux_conn *conn_by_handle(struct mux *m, uint16_t h)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].handle == h)
			return &m->conns[i];
	return NULL;
}

/* The session's link that it knows as vh (its own handle space). */
struct mux_conn *conn_by_vhandle(struct mux *m, const struct mux_session *s,
				 uint16_t vh)
{
	unsigned i;

	if (!s)
		return NULL;
	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].owner == s &&
		    m->conns[i].vhandle == vh)
			return &m->conns[i];
	return NULL;
}

/*
 * Each session numbers its links from the bottom, as a controller with
 * only its links would (handles 0x0001 up, Vol 4 Part E 5.4.2): the
 * lowest handle none of its links holds. Nothing in it depends on the
 * links of other sessions.
 */
_Static_assert(MUX_MAX_CONNS < HMAP_HANDLE_MAX, "a session's handles always fit");

static uint16_t vhandle_alloc(const struct mux *m, const struct mux_session *s)
{
	uint16_t used[MUX_MAX_CONNS];
	size_t n = 0;
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].owner == s)
			used[n++] = m->conns[i].vhandle;
	return hmap_lowest_free(used, n);
}

struct mux_conn *conn_by_addr(struct mux *m, const struct bdaddr *a, uint8_t link)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].link == link &&
		    bdaddr_eq(&m->conns[i].addr, a))
			return &m->conns[i];
	return NULL;
}

struct mux_conn *conn_add(struct mux *m, uint16_t h, uint8_t link,
			  const struct bdaddr *a, uint8_t type,
			  struct mux_session *owner)
{
	struct mux_conn *c = conn_by_handle(m, h);
	unsigned i;

	if (c) {
		/* A handle reused before its Disconnection Complete: controller bug. */
		log_warn("controller reused handle 0x%04x", h);
		conn_release(m, c);
		conn_drop_queued(m, c);
		memset(c, 0, sizeof(*c));
	}
	for (i = 0; !c && i < MUX_MAX_CONNS; i++)
		if (!m->conns[i].used)
			c = &m->conns[i];
	if (!c)
		return NULL;
	c->vhandle = owner ? vhandle_alloc(m, owner) : 0;
	c->used = true;
	c->handle = h;
	c->link = link;
	c->addr = *a;
	c->addr_type = type;
	c->id = *a;
	c->id_type = type;
	c->owner = owner;
	c->inflight = 0;
	c->le_central = false;
	secmem_wipe(&c->pk, sizeof(c->pk));
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

/* Of those, the packets at the controller. */
static uint16_t *sess_ctrl(struct mux *m, struct mux_session *s, const struct mux_conn *c)
{
	return conn_pool(m, c) == &m->le ? &s->le_ctrl : &s->acl_ctrl;
}

static void dec16(uint16_t *v, uint16_t n)
{
	*v -= n < *v ? n : *v;
}

/* Give back what a connection held at the controller (Vol 4 Part E 4.3). */
static void conn_release(struct mux *m, struct mux_conn *c)
{
	struct mux_pool *pool = conn_pool(m, c);

	/* Of them, the core's own (ctrl_acl_internal) are not the owner's. */
	uint16_t own = (uint16_t)(c->inflight - ctrl_acl_completed(c, c->inflight));

	dec16(&pool->inflight, c->inflight);
	if (c->owner) {
		dec16(sess_used(m, c->owner, c), own);
		dec16(sess_ctrl(m, c->owner, c), own);
	}
	c->inflight = 0;
	c->int_partial = false;
	c->tx_left = 0;
	c->tx_unknown = false;
	c->h_drop = false;
}

static int acl_of_handle(const struct pkt *pk, void *ctx)
{
	return pk->len >= 3 && (get_le16(pk->data + 1) & 0x0fff) == *(const uint16_t *)ctx;
}

/*
 * The link is gone (Disconnection Complete, 4.3): its packets still waiting
 * in the owner's queue are dropped with it and come off the owner's count,
 * before the handle can name another link.
 */
static void conn_drop_queued(struct mux *m, struct mux_conn *c)
{
	size_t n;

	if (c->link == LINK_SCO)
		return;
	ctrl_acl_drop(m, c->handle);
	if (!c->owner)
		return;
	n = pktq_drop_if(&c->owner->aclq, acl_of_handle, &c->handle);
	dec16(sess_used(m, c->owner, c), (uint16_t)(n > 0xffff ? 0xffff : n));
}

struct mux_pend *pend_find(struct mux *m, uint8_t kind, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].used && m->pend[i].kind == kind &&
		    (!a || bdaddr_eq(&m->pend[i].addr, a)))
			return &m->pend[i];
	return NULL;
}

struct mux_pend *pend_find_sess(struct mux *m, uint8_t kind,
				const struct bdaddr *a, struct mux_session *s)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].used && m->pend[i].kind == kind &&
		    m->pend[i].s == s && (!a || bdaddr_eq(&m->pend[i].addr, a)))
			return &m->pend[i];
	return NULL;
}

bool pend_has_room(const struct mux *m)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_PEND; i++)
		if (!m->pend[i].used)
			return true;
	return false;
}

void pend_add(struct mux *m, uint8_t kind, const struct bdaddr *a,
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
struct mux_session *addr_owner(struct mux *m, const struct bdaddr *a)
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

void on_conn_request(struct mux *m, const uint8_t *p, uint8_t plen)
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
void on_conn_complete(struct mux *m, uint8_t code, const uint8_t *p, uint8_t plen)
{
	struct mux_session *s = NULL;
	struct mux_conn *acl, *c;
	uint8_t ev[HCI_MAX_PARAM];
	struct bdaddr a;
	uint16_t h;
	bool sync;

	if ((code == HCI_EV_CONN_COMPLETE && plen != 11) ||
	    (code == HCI_EV_SYNC_CONN_COMPLETE && plen != 17)) {
		log_warn("controller: malformed connection complete event");
		return;
	}
	h = hmap_get(p + HCI_EV_CONN_COMPLETE_HANDLE_OFF);
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
	memcpy(ev, p, plen);
	/* A failed connection's handle is not valid (7.7.3): 0, as mux refusals. */
	hmap_put(ev + HCI_EV_CONN_COMPLETE_HANDLE_OFF, 0);
	if (p[0] == 0) {
		c = conn_add(m, h, sync ? LINK_SCO : LINK_ACL, &a, BDADDR_PUBLIC, s);
		if (!c) {
			log_err("connection table full, disconnecting 0x%04x", h);
			internal_disconnect(m, h, HCI_ST_REMOTE_LOW_RESOURCES);
			return;
		}
		if (!s) {
			/* Nobody asked for it any more (its session reset or ended). */
			internal_disconnect(m, h, HCI_ST_REMOTE_USER_TERM);
			c->owner = NULL;
			return;
		}
		hmap_put(ev + HCI_EV_CONN_COMPLETE_HANDLE_OFF, c->vhandle);
	}
	if (s)
		sess_event(s, code, ev, plen);
}

void on_disconn_complete(struct mux *m, const uint8_t *p, uint8_t plen)
{
	struct mux_conn *c;
	struct mux_session *s;
	uint8_t ev[HCI_EV_DISCONN_COMPLETE_LEN];

	if (plen != HCI_EV_DISCONN_COMPLETE_LEN) {
		log_warn("controller: malformed Disconnection Complete");
		return;
	}
	if (p[0] == 0)
		internal_drop_handle(m, hmap_get(p + HCI_EV_DISCONN_COMPLETE_HANDLE_OFF));
	c = conn_by_handle(m, hmap_get(p + HCI_EV_DISCONN_COMPLETE_HANDLE_OFF));
	if (!c)
		return;
	s = c->owner;
	memcpy(ev, p, plen);
	hmap_put(ev + HCI_EV_DISCONN_COMPLETE_HANDLE_OFF, c->vhandle);
	if (p[0] == 0) {
		conn_release(m, c);
		conn_drop_queued(m, c);
		memset(c, 0, sizeof(*c));
	}
	if (s)
		sess_event(s, HCI_EV_DISCONN_COMPLETE, ev, plen);
}

/*
 * Number Of Completed Packets (7.7.19), split per owner: one event per
 * session listing only its own handles.  The owners are noted per entry
 * (at most 63) rather than building every session's event at once, so the
 * stack cost does not grow with MUX_MAX_SESSIONS.
 */
void on_nocp(struct mux *m, const uint8_t *p, uint8_t plen)
{
	struct mux_session *own[63];
	uint16_t cnts[63], vhs[63];
	unsigned n, i, j;

	if (plen < 1 || plen != 1u + 4u * p[0] || p[0] > 63) {
		log_warn("controller: malformed Number Of Completed Packets");
		return;
	}
	n = p[0];
	for (i = 0; i < n; i++) {
		uint16_t h = hmap_get(p + HCI_EV_NUM_COMP_PKTS_HANDLE_OFF(i));
		uint16_t cnt = get_le16(p + HCI_EV_NUM_COMP_PKTS_HANDLE_OFF(i) + 2);
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
		/* The core's own packets (mux_ctrl.c): not the owner's credit. */
		cnt -= ctrl_acl_completed(c, cnt);
		if (!c->owner || cnt == 0)
			continue;
		used = sess_used(m, c->owner, c);
		*used -= cnt < *used ? cnt : *used;
		dec16(sess_ctrl(m, c->owner, c), cnt);
		own[i] = c->owner;
		cnts[i] = cnt;
		vhs[i] = c->vhandle;
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
			/* Its own handles only, as it numbers them. */
			put_le16(&out[1 + 4 * out[0]], vhs[i]);
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

/* ------------------------------------------------------------------ */
/* Data */

/*
 * A session's share of a pool's controller buffers (doc: "Buffers"): the
 * buffers over the sessions that hold links using that pool, at least one.
 * Credits follow links: a session without links takes none, a linked
 * session alone takes them all, and with k linked sessions each always
 * has pkts / k of its own, so a session whose packets the controller holds
 * long (a device out of range) cannot block another's data.
 */
static uint16_t pool_share(struct mux *m, const struct mux_pool *pool)
{
	unsigned i, linked = 0, share;

	m->mark++;
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (!c->used || !c->owner || c->link == LINK_SCO ||
		    conn_pool(m, c) != pool || c->owner->mark == m->mark)
			continue;
		c->owner->mark = m->mark;
		linked++;
	}
	share = linked ? pool->pkts / linked : pool->pkts;
	return (uint16_t)(share ? share : 1);
}

/*
 * The octets of the owner's L2CAP PDU still to come after packet pk on
 * link c (Vol 3 Part A 3.1: the first fragment carries the PDU's length),
 * so the core's own PDUs go between the owner's, never inside one.
 */
static void acl_track_pdu(struct mux_conn *c, const struct pkt *pk)
{
	uint16_t dlen, l2len;

	if (pk->len < 5)
		return;
	dlen = get_le16(pk->data + 3);
	if (((get_le16(pk->data + 1) >> 12) & 0x3) == HCI_PB_CONT) {
		if (!c->tx_unknown)
			dec16(&c->tx_left, dlen);
		return;
	}
	c->tx_left = 0;
	c->tx_unknown = false;
	if (dlen < 2 || pk->len < 7) {
		/* Its length is in its continuation: the PDU's end is unknown
		 * until the host's next first fragment. */
		c->tx_left = 0xffff;
		c->tx_unknown = true;
		return;
	}
	l2len = get_le16(pk->data + 5);
	if ((uint32_t)l2len + 4 > dlen)
		c->tx_left = (uint16_t)((uint32_t)l2len + 4 - dlen > 0xffff ?
					0xffff : (uint32_t)l2len + 4 - dlen);
}

/*
 * Send queued ACL while the controller has buffers: round-robin over the
 * sessions, one packet per session per turn, each up to its share; the
 * turn goes on after the last session served, so a freed buffer goes to
 * the next session waiting, not to whichever comes first in the table.
 */
static void drain_acl(struct mux *m)
{
	unsigned rounds, i;
	uint16_t share_acl, share_le;
	bool progress = true;

	/* The core's own first (few, small: the bond broker's SMP). */
	ctrl_acl_drain(m);
	if (!m->nsess)
		return;
	share_acl = pool_share(m, &m->acl);
	share_le = m->le_shared ? share_acl : pool_share(m, &m->le);
	for (rounds = 0; progress && rounds < 64 * MUX_MAX_SESSIONS; rounds++) {
		unsigned start = m->acl_rr;

		progress = false;
		for (i = 0; i < m->nsess && m->up; i++) {
			unsigned k = (start + i) % m->nsess;
			struct mux_session *s = m->sess[k];
			struct pkt *pk = pktq_peek(&s->aclq);
			struct mux_conn *c;
			struct mux_pool *pool;
			uint16_t *ctl;
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
			ctl = sess_ctrl(m, s, c);
			if (pool->inflight >= pool->pkts || c->int_partial ||
			    *ctl >= (pool == &m->le ? share_le : share_acl))
				continue;
			pk = pktq_pop(&s->aclq);
			acl_track_pdu(c, pk);
			pool->inflight++;
			c->inflight++;
			(*ctl)++;
			m->acl_rr = (k + 1) % m->nsess;
			r = m->ops.ctrl_send(pk->data, pk->len, m->ops.user);
			pkt_free(pk);
			if (r < 0)
				ctrl_fail(m, r);
			progress = true;
		}
	}
	/* A PDU of the core's that waited for the end of an owner's PDU. */
	ctrl_acl_drain(m);
}

int sess_acl(struct mux *m, struct mux_session *s, const struct h4_pkt *pkt)
{
	struct mux_conn *c = conn_by_vhandle(m, s, pkt->acl.handle);
	struct mux_pool *pool;
	uint16_t *used;
	bool keyed;
	int r;

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
	/* SMP answered for a device with a household LE bond (mux_bond_le.c),
	 * never carried past it in fragments. */
	if (bond_le_host_frag(m, s, c, pkt) || bond_le_host_smp(m, s, c, pkt))
		return 0;
	/* Queued with the controller's handle (drain_acl looks it up). */
	memcpy(m->xlat, pkt->raw, pkt->raw_len);
	hmap_put(m->xlat + 1, c->handle);
	/* The device as central gets the household's key (mux_bond_central.c). */
	keyed = bond_central_host_smp(m, s, c, pkt, m->xlat);
	r = pktq_push(&s->aclq, m->xlat, pkt->raw_len);
	if (keyed)
		secmem_wipe(m->xlat, pkt->raw_len);	/* the queue's copy is wiped when freed */
	if (r < 0) {
		sess_event(s, HCI_EV_DATA_BUFFER_OVERFLOW, "\x01", 1);
		return 0;
	}
	(*used)++;
	c->bytes_out += pkt->acl.dlen;
	drain_acl(m);
	return 0;
}

int sess_sco(struct mux *m, struct mux_session *s, const struct h4_pkt *pkt)
{
	struct mux_conn *c = conn_by_vhandle(m, s, pkt->sco.handle);
	int r;

	if (!c || c->owner != s || c->link != LINK_SCO) {
		sess_refuse(s, LOG_INFO, "SCO on foreign handle 0x%04x dropped",
			    pkt->sco.handle);
		return 0;
	}
	if (!m->up)
		return 0;
	c->bytes_out += pkt->sco.dlen;
	memcpy(m->xlat, pkt->raw, pkt->raw_len);
	hmap_put(m->xlat + 1, c->handle);
	r = m->ops.ctrl_send(m->xlat, pkt->raw_len, m->ops.user);
	if (r < 0)
		ctrl_fail(m, r);
	return 0;
}

void ctrl_data(struct mux *m, const struct h4_pkt *pkt)
{
	uint16_t h = pkt->type == H4_ACL ? pkt->acl.handle : pkt->sco.handle;
	struct mux_conn *c = conn_by_handle(m, h);

	/* To the link's owner only; an orphaned link's data goes nowhere. */
	if (c && c->owner) {
		c->bytes_in += pkt->type == H4_ACL ? pkt->acl.dlen : pkt->sco.dlen;
		if (pkt->type == H4_ACL) {
			smp_snoop(m, c, pkt);
			bond_central_dev_smp(c, pkt);
			if (bond_le_dev_smp(m, c, pkt))
				return;
		}
		/* ACL and SCO headers alike: handle and flags, first 2 octets. */
		memcpy(m->xlat, pkt->raw, pkt->raw_len);
		hmap_put(m->xlat + 1, c->vhandle);
		sess_emit(c->owner, m->xlat, pkt->raw_len, EM_DATA);
	}
}

/* ------------------------------------------------------------------ */
/* Teardown */

/*
 * Stop everything the session has on the physical controller: its links are
 * disconnected (orphaned first, so nothing more reaches it), its pending
 * procedures cancelled, its queued commands and data dropped. Used by
 * HCI Reset, session end and policy revocation.
 */
void teardown(struct mux_session *s, uint8_t reason)
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
	s->acl_ctrl = s->le_ctrl = 0;
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
	if (m->eadv_owner == s) {
		/*
		 * Its sets leave the air with it: disable all (7.8.56 with
		 * Num_Sets 0), then remove them (7.8.60, refused while one
		 * is enabled).
		 */
		static const uint8_t all_off[2] = { 0, 0 };

		m->eadv_owner = NULL;
		internal_cmd(m, HCI_OP_LE_SET_EXT_ADV_ENABLE, all_off, 2);
		internal_cmd(m, HCI_OP_LE_CLEAR_ADV_SETS, NULL, 0);
	}
	recon_request(m);
}
