/* SPDX-License-Identifier: MIT */
/*
 * The physical controller: sending commands within its credits, the
 * initialisation the mux runs once per controller open (its completions
 * come through mux_evt.c), the cache of its identity and the registers'
 * defaults it gives, timeouts and the controller going down.
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
#include "hci_names.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"
#include "secmem.h"

const struct mux_cache_ent *cache_get(const struct mux *m,
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
/* Sending to the controller */

struct mux_outst *outst_find(struct mux *m, uint16_t opcode)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_OUTST; i++)
		if (m->outst[i].used && m->outst[i].opcode == opcode)
			return &m->outst[i];
	return NULL;
}

/* Is an LE Create Connection of either kind at the controller? */
bool le_create_outst(struct mux *m)
{
	return outst_find(m, HCI_OP_LE_CREATE_CONN) || outst_find(m, HCI_OP_LE_EXT_CREATE_CONN);
}

unsigned outst_count(const struct mux *m)
{
	unsigned i, n = 0;

	for (i = 0; i < MUX_MAX_OUTST; i++)
		n += m->outst[i].used;
	return n;
}

bool can_send(const struct mux *m, uint16_t opcode)
{
	return m->up && m->ncmd > 0 && outst_count(m) < MUX_MAX_OUTST &&
	       !outst_find((struct mux *)m, opcode);
}

void ctrl_fail(struct mux *m, int err)
{
	if (!m->fail_err)
		m->fail_err = err ? err : -EIO;
}

/*
 * Where a command's key starts in its parameters, or 0: Link Key Request
 * Reply (Vol 4 Part E 7.1.10, after the BD_ADDR), LE Long Term Key
 * Request Reply and LE Enable Encryption (7.8.25, 7.8.24, after the
 * handle). The outstanding command keeps only what comes before: its
 * completion needs the address or handle, never the key.
 */
static uint8_t key_offset(uint16_t opcode)
{
	switch (opcode) {
	case HCI_OP_LINK_KEY_REPLY:
		return 6;
	case HCI_OP_LE_LTK_REPLY:
	case HCI_OP_LE_START_ENCRYPTION:
		return 2;
	default:
		return 0;
	}
}

/* h4 is a complete, validated command packet. */
int ctrl_send_cmd(struct mux *m, const uint8_t *h4, size_t len,
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
	if (key_offset(opcode) && o->plen > key_offset(opcode))
		o->plen = key_offset(opcode);
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

int ctrl_cmd(struct mux *m, uint16_t opcode, const void *p, size_t plen,
	     uint8_t origin)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n = h4_build_cmd(buf, sizeof(buf), opcode, p, plen);

	if (n < 0)
		return n;
	return ctrl_send_cmd(m, buf, (size_t)n, NULL, origin);
}

/* Queue a one-off command of the mux's own (teardown, negative replies). */
void internal_cmd(struct mux *m, uint16_t opcode, const void *p, size_t plen)
{
	uint8_t buf[H4_MAX_CTL_PKT];
	int n = h4_build_cmd(buf, sizeof(buf), opcode, p, plen);

	if (n >= 0 && m->up && pktq_push(&m->intq, buf, (size_t)n) < 0)
		log_err("internal command queue full, dropping 0x%04x", opcode);
	/* it may be the Link Key Request Reply with a household key */
	secmem_wipe(buf, sizeof(buf));
}

/* A queued command of the mux's own whose first parameter is handle. */
static int intq_of_handle(const struct pkt *pk, void *ctx)
{
	uint16_t op;

	if (pk->len < 6)
		return 0;
	op = get_le16(pk->data + 1);
	return (op == HCI_OP_DISCONNECT || op == HCI_OP_LE_START_ENCRYPTION ||
		op == HCI_OP_LE_LTK_REPLY || op == HCI_OP_LE_LTK_NEG_REPLY) &&
	       (get_le16(pk->data + 4) & 0x0fff) == *(const uint16_t *)ctx;
}

/*
 * The link with handle h is gone (Disconnection Complete): the mux's own
 * commands for it still queued go too. The controller may give the
 * handle to the next link at once, and a waiting LE Enable Encryption or
 * LTK reply would put this device's key on another device's link (a
 * Disconnect would end that link).
 */
void internal_drop_handle(struct mux *m, uint16_t h)
{
	pktq_drop_if(&m->intq, intq_of_handle, &h);
}

void internal_disconnect(struct mux *m, uint16_t handle, uint8_t reason)
{
	uint8_t p[3];

	put_le16(p, handle);
	p[2] = reason;
	internal_cmd(m, HCI_OP_DISCONNECT, p, sizeof(p));
}

void internal_addr_cmd(struct mux *m, uint16_t opcode,
		       const struct bdaddr *a, int reason)
{
	uint8_t p[7];

	memcpy(p, a->b, 6);
	p[6] = (uint8_t)reason;
	internal_cmd(m, opcode, p, reason < 0 ? 6 : 7);
}

/* ------------------------------------------------------------------ */
/* The core's own ACL on a session's link (the LE bond broker's SMP) */

static struct mux_pool *link_pool(struct mux *m, const struct mux_conn *c)
{
	return (c->link == LINK_LE && !m->le_shared) ? &m->le : &m->acl;
}

static struct mux_conn *link_by_handle(struct mux *m, uint16_t h)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (m->conns[i].used && m->conns[i].handle == h)
			return &m->conns[i];
	return NULL;
}

/*
 * One L2CAP PDU of the core's (pdu[n] on channel cid) on link c: framed,
 * cut into fragments of the controller's data length for the link's
 * buffers (Vol 4 Part E 7.4.5, 7.8.2; an LE controller takes at least 27
 * octets) and queued ahead of the sessions' ACL. Sent as the controller's
 * buffers allow (Vol 4 Part E 4.1.1), counted at the controller like any
 * packet (the pool's and the link's), never against the link owner's
 * share: their Number Of Completed Packets are taken here
 * (ctrl_acl_completed), so the owner's host is credited only for its own.
 * The PDU is queued whole or not at all: -ENOBUFS, -EMSGSIZE.
 */
int ctrl_acl_internal(struct mux *m, struct mux_conn *c, uint16_t cid,
		      const uint8_t *pdu, size_t n)
{
	uint8_t l2[4 + 96], h4[5 + sizeof(l2)];
	struct pkt *last;
	size_t off, k, mtu = link_pool(m, c)->mtu, frags;
	int len, r = 0;

	if (n > sizeof(l2) - 4)
		return -EMSGSIZE;
	if (!m->up)
		return -ENOTCONN;
	if (mtu < 27 || mtu > sizeof(l2))
		mtu = mtu < 27 ? 27 : sizeof(l2);
	frags = (n + 4 + mtu - 1) / mtu;
	if (m->iaclq.count + frags > m->iaclq.max_count)
		return -ENOBUFS;
	put_le16(l2, (uint16_t)n);
	put_le16(l2 + 2, cid);
	memcpy(l2 + 4, pdu, n);
	last = m->iaclq.tail;
	for (off = 0; off < n + 4 && r == 0; off += k) {
		k = n + 4 - off > mtu ? mtu : n + 4 - off;
		len = h4_build_acl(h4, sizeof(h4), c->handle,
				   off ? HCI_PB_CONT : HCI_PB_FIRST_NOFLUSH, 0, l2 + off, k);
		r = len > 0 ? pktq_push(&m->iaclq, h4, (size_t)len) : -EMSGSIZE;
	}
	/* Whole or not at all: a part would be a PDU the device never completes. */
	while (r < 0 && m->iaclq.tail != last)
		pkt_free(pktq_unlink(&m->iaclq, last));
	secmem_wipe(l2, sizeof(l2));
	secmem_wipe(h4, sizeof(h4));
	if (r == 0)
		ctrl_acl_drain(m);
	return r;
}

/*
 * Send the core's queued fragments while the controller has buffers. A
 * PDU starts only between the owner's PDUs (tx_left), and while one is
 * part sent the owner's packets on the link wait (int_partial): the
 * controller reassembles one L2CAP PDU per link at a time. At most 64
 * packets of a link at the controller when one of ours goes (int_bits).
 *
 * The queue is shared by every link, but a link that cannot take its
 * next fragment holds back only its own: its later fragments are passed
 * over (each link's stay in order) and other links' go. Otherwise a host
 * that leaves its link mid-PDU (a first fragment announcing a long L2CAP
 * PDU, the rest never sent) would stall the core's SMP on every link and
 * fill the queue.
 */
void ctrl_acl_drain(struct mux *m)
{
	bool blocked[MUX_MAX_CONNS] = { false };
	struct pkt *pk, *prev = NULL, *next;
	struct mux_conn *c;
	struct mux_pool *pool;
	uint16_t hf;
	int r;

	while (m->up && (pk = prev ? prev->next : pktq_peek(&m->iaclq))) {
		hf = get_le16(pk->data + 1);
		c = link_by_handle(m, hf & 0x0fff);
		if (!c) {
			pkt_free(pktq_unlink(&m->iaclq, prev));
			continue;
		}
		pool = link_pool(m, c);
		if (blocked[c - m->conns] || pool->inflight >= pool->pkts || c->inflight >= 64 ||
		    (((hf >> 12) & 0x3) != HCI_PB_CONT && c->tx_left)) {
			blocked[c - m->conns] = true;
			prev = pk;
			continue;
		}
		pk = pktq_unlink(&m->iaclq, prev);
		pool->inflight++;
		c->inflight++;
		c->int_bits |= 1ull << (c->inflight - 1);
		/* A PDU's fragments are queued together (ctrl_acl_internal). */
		next = prev ? prev->next : pktq_peek(&m->iaclq);
		c->int_partial = next && get_le16(next->data + 1) == ((hf & 0x0fff) | HCI_PB_CONT << 12);
		r = m->ops.ctrl_send(pk->data, pk->len, m->ops.user);
		pkt_free(pk);
		if (r < 0)
			ctrl_fail(m, r);
	}
}

/*
 * cnt packets of link c completed (7.7.19; in order: a link's packets
 * leave in the order they came): how many of them were the core's.
 */
uint16_t ctrl_acl_completed(struct mux_conn *c, uint16_t cnt)
{
	uint16_t i, mine = 0;

	for (i = 0; i < cnt && c->int_bits; i++) {
		mine += (uint16_t)(c->int_bits & 1);
		c->int_bits >>= 1;
	}
	return mine;
}

static int iacl_of_handle(const struct pkt *pk, void *ctx)
{
	return pk->len >= 3 && (get_le16(pk->data + 1) & 0x0fff) == *(const uint16_t *)ctx;
}

/* The link is gone: the core's fragments still queued for it go too. */
void ctrl_acl_drop(struct mux *m, uint16_t handle)
{
	pktq_drop_if(&m->iaclq, iacl_of_handle, &handle);
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
	{ HCI_OP_LE_READ_MAX_ADV_DATA_LEN, IS_READ, 0, { 0 } },
	{ HCI_OP_LE_READ_NUM_ADV_SETS, IS_READ, 0, { 0 } },
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
	case HCI_OP_LE_READ_MAX_ADV_DATA_LEN:
	case HCI_OP_LE_READ_NUM_ADV_SETS:
		return ext_adv_capable(m);
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

/*
 * What each session is told it has of a pool of pkts buffers (doc:
 * "Buffers"): its share of max-sessions, but never less than the
 * controller's count up to MUX_VIRT_BUFS. The host reads this once, so it
 * stays constant; the real buffers follow the sessions that send
 * (drain_acl), and the packets beyond them wait in the session's queue
 * with their Number Of Completed Packets, which keeps the host paced.
 */
uint16_t quota(uint16_t pkts, unsigned nmax)
{
	unsigned q = pkts / nmax;
	unsigned v = pkts < MUX_VIRT_BUFS ? pkts : MUX_VIRT_BUFS;

	if (q < v)
		q = v;
	return (uint16_t)(q ? q : 1);
}

/* A session's virtual register r at its default (HCI Reset, 7.3.2). */
void reg_set_default(struct mux *m, struct mux_session *s, unsigned r)
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

void init_next(struct mux *m)
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

/* The completion of an initialisation step (on_cmd_done(), mux_evt.c). */
void init_done(struct mux *m, uint16_t op, uint8_t status,
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
		/* Known at once: later optional steps depend on it. */
		if (op == HCI_OP_LE_READ_LOCAL_FEATURES && rlen >= 9)
			memcpy(m->le_features, ret + 1, 8);
		if (op == HCI_OP_LE_READ_ACCEPT_LIST_SIZE && rlen >= 2)
			m->p_al_max = ret[1] < MUX_P_AL_MAX ? ret[1] : MUX_P_AL_MAX;
	}
	m->init_step++;
}

/* ------------------------------------------------------------------ */
/* The controller failing or going away */

/* The command timer ran out (mux.c): the controller has failed. */
void cmd_timeout(struct mux *m)
{
	unsigned i;

	for (i = 0; i < MUX_MAX_OUTST; i++) {
		if (m->outst[i].used) {
			log_err("controller did not answer command 0x%04x in %u ms",
				m->outst[i].opcode, m->cfg.cmd_timeout_ms);
			break;
		}
	}
	ctrl_fail(m, -ETIMEDOUT);
}

/* Forget every chain being reassembled (the controller went away). */
void frags_clear(struct mux *m)
{
	memset(m->frags, 0, sizeof(m->frags));
	memset(m->frag_evicted, 0, sizeof(m->frag_evicted));
}

void ctrl_down(struct mux *m)
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
	pktq_clear(&m->iaclq);
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];
		uint8_t p[4];

		if (!c->used)
			continue;
		if (c->owner) {
			/* The link is gone with the controller (Vol 4 Part E 7.7.5). */
			p[0] = 0;
			put_le16(p + HCI_EV_DISCONN_COMPLETE_HANDLE_OFF, c->vhandle);
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
	m->p_le_scan_ext = false;
	m->p_escan_valid = false;
	m->ext_scan_broken = false;	/* a reset controller may take them */
	frags_clear(m);
	m->p_rand_valid = false;
	m->p_adv = false;
	m->adv_owner = NULL;
	m->eadv_owner = NULL;	/* a reset controller has no sets */
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
		s->acl_ctrl = s->le_ctrl = 0;
		s->inquiring = false;
		/* Every host re-initialises on this event (Vol 4 Part E 7.7.16). */
		sess_event(s, HCI_EV_HARDWARE_ERROR, &code, 1);
	}
}
