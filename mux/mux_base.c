/* SPDX-License-Identifier: MIT */
/*
 * What every file of the multiplexer core uses, at the bottom of its
 * layers: what the physical controller can do and what the virtual
 * controller offers, addresses, the user's policy (with private
 * addresses resolved), a session's virtual Filter Accept List.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <string.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci_defs.h"
#include "mux_int.h"
#include "rpa.h"
#include "smp_defs.h"

/* ------------------------------------------------------------------ */
/* Capabilities */

bool bit_is_set(const uint8_t *mask, unsigned bit)
{
	return mask[bit / 8] & (1u << (bit % 8));
}

bool phys_supports(const struct mux *m, const struct mux_cmd_def *d)
{
	if (!d || d->octet == 0xff)
		return true;
	return m->phys_cmds[d->octet] & (1u << d->bit);
}

bool le_capable(const struct mux *m)
{
	return m->features[4] & 0x40;
}

bool bredr_capable(const struct mux *m)
{
	return !(m->features[4] & 0x20);
}

/*
 * A command the virtual controller answers alone (MT_OWN) is offered even
 * when the physical bitmap lacks its bit, where that is truthful: LE Host
 * Supported (7.3.79) only means something on a controller that does both
 * BR/EDR and LE (Vol 2 Part C 3.3, feature page 1), as hosts use it.
 */
bool own_supported(const struct mux *m, const struct mux_cmd_def *d)
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

/* An extended advertising set command (7.8.52-7.8.61)? */
static bool is_ext_adv_op(uint16_t op)
{
	return op >= HCI_OP_LE_SET_ADV_SET_RAND_ADDR && op <= HCI_OP_LE_CLEAR_ADV_SETS;
}

/*
 * What the virtual controller offers a session (principle 1 of the doc).
 * The advertising set commands go together, with the LE Extended
 * Advertising feature: all or none (ext_adv_capable()).
 */
bool virt_supports(const struct mux *m, const struct mux_cmd_def *d)
{
	if (d && is_ext_adv_op(d->opcode) && !ext_adv_capable(m))
		return false;
	return phys_supports(m, d) || own_supported(m, d);
}

/* Does the physical controller have both extended scan commands (6.27 octet 37)? */
bool ext_scan_capable(const struct mux *m)
{
	return (m->phys_cmds[37] & 0x60) == 0x60;
}

/*
 * Every extended advertising set command (6.27 octet 36 bits 1-7, octet
 * 37 bits 0-1) and the LE Extended Advertising feature (Vol 6 Part B 4.6,
 * bit 12): only then are the sets, and the feature, offered.
 */
bool ext_adv_capable(const struct mux *m)
{
	return (m->phys_cmds[36] & 0xfe) == 0xfe && (m->phys_cmds[37] & 0x03) == 0x03 &&
	       (m->le_features[1] & 0x10);
}

/* LE Coded PHY (LE feature bit 11, Vol 6 Part B 4.6). */
bool le_coded_capable(const struct mux *m)
{
	return m->le_features[1] & 0x08;
}

/* LE 2M PHY (LE feature bit 8). */
bool le_2m_capable(const struct mux *m)
{
	return m->le_features[1] & 0x01;
}

/* LE Extended Create Connection (6.27 octet 37 bit 7). */
bool ext_conn_capable(const struct mux *m)
{
	return m->phys_cmds[37] & 0x80;
}

/* ------------------------------------------------------------------ */
/* Addresses and the policy */

struct bdaddr addr_at(const uint8_t *p)
{
	struct bdaddr a;

	memcpy(a.b, p, 6);
	return a;
}

/* LE identity address types 0x02/0x03 (Vol 4 Part E 7.7.65.10) map to 0/1. */
uint8_t map_addr_type(uint8_t t)
{
	return (t == 0x01 || t == 0x03) ? BDADDR_RANDOM : BDADDR_PUBLIC;
}

bool pol_access(const struct mux *m, const char *user, const struct bdaddr *a,
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
bool may_access(const struct mux *m, const struct mux_session *s,
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
 * The identity behind a peer address, for the household LE bond: the
 * address itself unless it is an RPA; then the identity one of the
 * user's bindings gives it, else the policy's (the admin's IRK or one
 * kept with a household bond); else the RPA itself (no bond has it).
 */
void peer_identity(const struct mux *m, const struct mux_session *s,
		   const struct bdaddr *a, uint8_t type, struct bdaddr *id, uint8_t *id_type)
{
	unsigned i;

	*id = *a;
	*id_type = type;
	if (type != BDADDR_RANDOM || !rpa_is_resolvable(a))
		return;
	for (i = 0; s && i < MUX_IRK_MAX; i++) {
		const struct mux_irk *k = &m->irks[i];

		if (k->used && strcmp(k->user, s->user) == 0 && rpa_matches(k->irk, a)) {
			*id = k->id;
			*id_type = k->id_type;
			return;
		}
	}
	if (!m->pol.resolve_rpa || m->pol.resolve_rpa(a, id, id_type, m->pol.ctx) != 0) {
		*id = *a;
		*id_type = type;
	}
}

_Static_assert(MUX_MAX_SESSIONS <= 64, "a user slot is a bit of a uint64_t");
_Static_assert((MUX_ACC_SLOTS & (MUX_ACC_SLOTS - 1)) == 0, "a power of two");

/* Every verdict kept is stale from now on (struct mux_acc). */
void access_forget(struct mux *m)
{
	if (++m->acc_gen == 0) {
		memset(m->acc, 0, sizeof(m->acc));
		m->acc_gen = 1;
	}
}

/* The advertiser's entry, a free or stale one for it, or the one it evicts. */
static struct mux_acc *acc_slot(struct mux *m, const struct bdaddr *a, uint8_t type)
{
	uint32_t h = 2166136261u;	/* FNV-1a over the address and its type */
	struct mux_acc *free_e = NULL, *e;
	unsigned i;

	for (i = 0; i < 6; i++)
		h = (h ^ a->b[i]) * 16777619u;
	h = (h ^ type) * 16777619u;
	for (i = 0; i < 4; i++) {
		e = &m->acc[(h + i) & (MUX_ACC_SLOTS - 1)];
		if (e->gen != m->acc_gen) {
			if (!free_e)
				free_e = e;
			continue;
		}
		if (e->type == type && bdaddr_eq(&e->a, a))
			return e;
	}
	e = free_e ? free_e : &m->acc[h & (MUX_ACC_SLOTS - 1)];
	e->gen = m->acc_gen;
	e->type = type;
	e->a = *a;
	e->known = e->allowed = 0;
	return e;
}

/*
 * may_access() for an advertiser, answered from what the same user was
 * told about it before when nothing it depends on changed since (struct
 * mux_acc): one policy lookup per advertiser and user instead of one per
 * report and session.
 */
bool may_access_cached(struct mux *m, const struct mux_session *s,
		       const struct bdaddr *a, uint8_t type)
{
	struct mux_acc *e;
	uint64_t bit;

	if (!s)
		return false;
	bit = UINT64_C(1) << s->uslot;
	e = acc_slot(m, a, type);
	if (!(e->known & bit)) {
		e->known |= bit;
		if (may_access(m, s, a, type))
			e->allowed |= bit;
	}
	return (e->allowed & bit) != 0;
}

/* Tell the owner (audit) of an ACL refusal, rate-limited per session. */
void sess_denied(struct mux *m, struct mux_session *s,
		 const struct bdaddr *a, uint8_t type, uint16_t op)
{
	s->denials++;
	if (m->pol.denied && (s->denials <= 16 || s->denials % 1024 == 0))
		m->pol.denied(s->user, a, type, op, m->pol.ctx);
}

/* ------------------------------------------------------------------ */
/* A session's virtual Filter Accept List */

bool al_has(const struct mux_session *s, uint8_t type, const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < s->al_n; i++)
		if (s->al[i].type == type && bdaddr_eq(&s->al[i].a, a))
			return true;
	return false;
}

/*
 * A complete SMP PDU in one ACL packet (a first fragment whose L2CAP
 * header names CID 0x0006 and the packet's whole length, Vol 3 Part A
 * 3.1): its code and length in *n, else NULL.
 */
const uint8_t *smp_whole_pdu(const struct h4_pkt *pkt, size_t *n)
{
	const uint8_t *d = pkt->acl.data;

	if (pkt->acl.pb == HCI_PB_CONT || pkt->acl.dlen < 5 ||
	    get_le16(d + 2) != CID_SMP || get_le16(d) != pkt->acl.dlen - 4u)
		return NULL;
	*n = pkt->acl.dlen - 4u;
	return d + 4;
}
