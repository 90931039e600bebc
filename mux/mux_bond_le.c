/* SPDX-License-Identifier: MIT */
/*
 * The LE half of the bond broker (doc/virtual-controller.md, "Household
 * bonds", LE). A device keeps one LE bond for the gateway's address, and
 * each host's own SMP with it would replace it, so:
 *
 *  - first pairing (no household LE bond): the user's host pairs end to
 *    end; when the pairing is legacy, the device's LTK, EDIV and Rand
 *    cross HCI in clear (Encryption Information and Central
 *    Identification, Vol 3 Part H 3.6.1; the controller encrypts the air,
 *    not HCI) and are kept as the household bond; the host receives a
 *    random LTK in their place. The bond is the device's identity's: a
 *    device that distributes its identity and IRK (3.6.4-3.6.5, after
 *    the LTK) has its bond kept under that identity with the IRK, which
 *    finds it on its later private addresses (resolved once per link,
 *    mux_evt.c);
 *  - first pairing with LE Secure Connections, whose LTK is derived on both
 *    ends (f5) and never crosses HCI: a Just Works pairing is taken over,
 *    the mux pairing with the device itself as the initiator of the
 *    host's Pairing Request (its own P-256 key, its own LE Enable
 *    Encryption, its own SMP PDUs on the link: ctrl_acl_internal), the
 *    LTK kept as the household bond, and the waiting host then answered
 *    by the stand-in below; numeric comparison, passkey entry and OOB
 *    cannot be carried across two key exchanges and are refused, the
 *    admin told to pair the device at the gateway;
 *  - later, every permitted user: the host's SMP on the link (CID 0x0006)
 *    is answered here, on the device's behalf (legacy Just Works, the
 *    device's real key never involved), so the host stores a virtual bond
 *    of its own; and the host's LE Enable Encryption, with whatever key,
 *    leaves for the controller with the household LTK, EDIV and Rand.
 *
 * Every SMP PDU from a host or a device is untrusted: length-checked in
 * full, unknown or out-of-order PDUs end the pairing (Pairing Failed).
 * Keys are wiped after use and never logged.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"
#include "pair.h"
#include "rpa.h"
#include "secmem.h"
#include "smp_crypto.h"
#include "smp_defs.h"

enum { LS_IDLE, LS_CONFIRM, LS_RANDOM, LS_ENC };

/*
 * The mux pairs with the device itself, as the initiator of the host's
 * Pairing Request (the device has it and its own Response): SC_PK our
 * public key sent, SC_CONFIRM the device's Cb awaited, SC_RANDOM our Na
 * sent, SC_CHECK our Ea sent, SC_ENC our LE Enable Encryption sent,
 * SC_KEYS the device's key distribution awaited; SC_OVER failed: what
 * the device had sent before it learnt so is dropped (the host, told,
 * is not pairing), until the host's next Pairing Request.
 */
enum { SC_NONE, SC_PK, SC_CONFIRM, SC_RANDOM, SC_CHECK, SC_ENC, SC_KEYS, SC_OVER };

/*
 * The household LE bond of the link's device, if its user may use it
 * now. By the device's identity (c->id: its address, or the identity an
 * IRK gave its private address at the connection complete), so a device
 * on a new RPA is the same device.
 */
static bool le_bond(struct mux *m, struct mux_session *s, const struct mux_conn *c,
		    struct mux_le_bond *b)
{
	if (!m->pol.bond_ltk || !s || s->dead || c->link != LINK_LE ||
	    !pol_access(m, s->user, &c->id, c->id_type))
		return false;
	return m->pol.bond_ltk(&c->id, c->id_type, b, m->pol.ctx) == 0;
}

/* An SMP PDU to the host, as the controller would deliver the device's. */
static void to_host(struct mux_session *s, const struct mux_conn *c,
		    const uint8_t *pdu, size_t n)
{
	uint8_t l2[4 + 17], h4[5 + sizeof(l2)];
	int len;

	if (n > 17)
		return;
	put_le16(l2, (uint16_t)n);
	put_le16(l2 + 2, CID_SMP);
	memcpy(l2 + 4, pdu, n);
	len = h4_build_acl(h4, sizeof(h4), c->vhandle, HCI_PB_FIRST_FLUSH, 0, l2, n + 4);
	if (len > 0)
		sess_emit(s, h4, (size_t)len, EM_DATA);
	secmem_wipe(l2, sizeof(l2));
	secmem_wipe(h4, sizeof(h4));
}

/* The host's packet was taken here: its buffer credit comes back (7.7.19). */
static void host_credit(struct mux_session *s, const struct mux_conn *c)
{
	uint8_t ev[5], h4[3 + sizeof(ev)];
	int len;

	ev[0] = 1;
	put_le16(ev + 1, c->vhandle);
	put_le16(ev + 3, 1);
	len = h4_build_evt(h4, sizeof(h4), HCI_EV_NUM_COMP_PKTS, ev, sizeof(ev));
	if (len > 0)
		sess_emit(s, h4, (size_t)len, EM_NOCP);
}

static void pair_fail(struct mux_session *s, struct mux_conn *c, uint8_t reason)
{
	uint8_t p[2] = { SMP_FAILED, reason };

	to_host(s, c, p, sizeof(p));
	secmem_wipe(&c->le, sizeof(c->le));
}

/*
 * The addresses of c1 (2.2.3) as the host computes them: its own, the
 * one the link was made from (recorded at its LE Connection Complete,
 * mux_evt.c: the gateway's public BD_ADDR every virtual controller
 * reports, or the random address the session had set then, not the one
 * it may have set since), and the device's from the connection complete.
 */
static int confirm(const struct mux_conn *c, const uint8_t r[16], uint8_t out[16])
{
	static const uint8_t tk[16];	/* Just Works: TK 0 (2.3.5.2) */

	return smp_c1(tk, r, c->le.preq, c->le.pres, c->init_type, c->init_addr,
		      c->addr_type, c->addr.b, out);
}

/*
 * The host's SMP on a link to a device with a household LE bond: answered
 * here as the device would, with legacy Just Works (the key it makes is
 * replaced at encryption anyway). Our Pairing Response: NoInputNoOutput,
 * no OOB, bonding as asked, no MITM, no Secure Connections (so a host
 * offering SC falls back to legacy, 2.3.5.1), key size the household
 * key's, the responder's EncKey only if asked, nothing from the host.
 */
static void stand_in(struct mux_session *s, struct mux_conn *c,
		     const uint8_t *p, size_t n, const struct mux_le_bond *b)
{
	struct mux_le_smp *l = &c->le;
	uint8_t out[17], chk[16];

	switch (p[0]) {
	case SMP_PAIRING_REQ:
		if (n != 7 || p[1] > 0x04 || p[2] > 0x01) {
			pair_fail(s, c, SMP_R_INVALID_PARAMS);
			return;
		}
		if (p[4] < 7 || p[4] > 16) {
			pair_fail(s, c, SMP_R_ENC_KEY_SIZE);
			return;
		}
		secmem_wipe(l, sizeof(*l));
		memcpy(l->preq, p, 7);
		l->pres[0] = SMP_PAIRING_RSP;
		l->pres[1] = 0x03;			/* NoInputNoOutput */
		l->pres[2] = 0x00;
		l->pres[3] = p[3] & AUTH_BONDING;
		l->pres[4] = b->key_size >= 7 && b->key_size <= 16 ? b->key_size : 16;
		l->pres[5] = 0x00;
		/*
		 * The device's identity too, when the household bond has it:
		 * promised now, so kept now (its IRK and identity), and sent
		 * after the encryption whatever the store says by then.
		 */
		l->pres[6] = p[6] & (KD_ENC | (b->has_irk ? KD_ID : 0));
		if (l->pres[6] & KD_ID) {
			l->promise_id = true;
			memcpy(l->ii, b->irk, 16);
			l->ida[0] = c->id_type;
			memcpy(l->ida + 1, c->id.b, 6);
		}
		l->st = LS_CONFIRM;
		to_host(s, c, l->pres, 7);
		log_info("session %u (%s): pairing answered for the device (household LE bond)",
			 s->id, s->user);
		return;
	case SMP_CONFIRM:
		if (n != 17 || l->st != LS_CONFIRM)
			break;
		memcpy(l->mconf, p + 1, 16);
		if (getrandom(l->srand, 16, 0) != 16 || confirm(c, l->srand, out + 1)) {
			pair_fail(s, c, SMP_R_UNSPECIFIED);
			return;
		}
		out[0] = SMP_CONFIRM;
		l->st = LS_RANDOM;
		to_host(s, c, out, 17);
		secmem_wipe(out, sizeof(out));
		return;
	case SMP_RANDOM:
		if (n != 17 || l->st != LS_RANDOM)
			break;
		if (confirm(c, p + 1, chk) || !secmem_is_equal(chk, l->mconf, 16)) {
			secmem_wipe(chk, sizeof(chk));
			pair_fail(s, c, SMP_R_CONFIRM_FAILED);
			return;
		}
		secmem_wipe(chk, sizeof(chk));
		out[0] = SMP_RANDOM;
		memcpy(out + 1, l->srand, 16);
		l->st = LS_ENC;
		to_host(s, c, out, 17);
		secmem_wipe(out, sizeof(out));
		return;
	case SMP_FAILED:
		secmem_wipe(l, sizeof(*l));
		return;
	case SMP_ENC_INFO: case SMP_CENTRAL_IDENT: case 0x08: case 0x09: case 0x0a:
		/* The host's own keys: we asked for none; never to the device. */
		return;
	case SMP_PAIRING_RSP: case SMP_SECURITY_REQ:
		/* A peripheral's PDUs from the central's host: not understood. */
		pair_fail(s, c, SMP_R_CMD_NOT_SUPP);
		return;
	default:
		/* Secure Connections PDUs we never agreed to, or unknown. */
		pair_fail(s, c, SMP_R_CMD_NOT_SUPP);
		return;
	}
	pair_fail(s, c, SMP_R_UNSPECIFIED);
}

/* Is the host's SMP on link c taken here (the mux pairs, or the stand-in answers)? */
static bool host_smp_taken(struct mux *m, struct mux_session *s, struct mux_conn *c)
{
	if (!c->le_central)
		return false;
	if (c->le.sc)
		return true;
	if (c->hbond == HB_UNKNOWN)
		c->hbond = m->pol.bond_ltk &&
			   m->pol.bond_ltk(&c->id, c->id_type, NULL, m->pol.ctx) == 0 ?
			   HB_YES : HB_NONE;
	return c->hbond == HB_YES && !s->dead && pol_access(m, s->user, &c->id, c->id_type);
}

/*
 * ACL from a session's host on LE link c, before anything else looks at
 * it: true when it is dropped (its buffer credit returned, as for a
 * packet taken here). The SMP the mux takes (bond_le_host_smp) is read
 * one whole PDU per packet, so nothing SMP may reach the device past it
 * in fragments: a host that fragmented its Pairing Request during a
 * takeover, or to a device with a household bond, would pair end to end
 * and replace the household's bond for everyone.
 *
 * Every SMP PDU but the Public Key is at most 17 octets, 21 with the
 * L2CAP header (Vol 3 Part H 3.3), and an LE controller takes at least
 * 27 per packet (Vol 4 Part E 7.8.2): a host never needs to fragment
 * one. The Public Key (69 octets) is fragmented below a 69-octet buffer
 * (BlueZ sends it whole when the buffer allows); it goes on, in
 * fragments, only where the host pairs end to end (no takeover, no
 * stand-in). So dropped, with all its continuations up to the host's
 * next first fragment:
 *  - an SMP PDU not whole in its first packet, but such a Public Key;
 *  - a first fragment too short to name its channel (under the 4
 *    octets of the basic L2CAP header, Vol 3 Part A 3.1): no host sends
 *    one with 27 octets to fill, and whether it is SMP is known only
 *    after it would have gone.
 */
bool bond_le_host_frag(struct mux *m, struct mux_session *s, struct mux_conn *c,
		       const struct h4_pkt *pkt)
{
	const uint8_t *d = pkt->acl.data;
	size_t dl = pkt->acl.dlen;

	if (c->link != LINK_LE)
		return false;
	if (pkt->acl.pb != HCI_PB_CONT) {
		c->h_drop = dl < 4 ||
			    (get_le16(d + 2) == CID_SMP && get_le16(d) + 4u != dl &&
			     !(dl >= 5 && dl < 4 + 65 && d[4] == SMP_PUBLIC_KEY &&
			       get_le16(d) == 65 && !host_smp_taken(m, s, c)));
		if (c->h_drop)
			sess_refuse(s, LOG_INFO, "LE ACL of %zu octets on handle 0x%04x: %s, dropped with its continuations",
				    dl, pkt->acl.handle, dl < 4 ? "no whole L2CAP header" :
				    "an SMP PDU not whole in one packet");
	}
	if (!c->h_drop)
		return false;
	host_credit(s, c);
	return true;
}

/*
 * ACL from a session's host on LE link c. With a household LE bond its
 * SMP is consumed and answered here (true: not for the device); without,
 * its Pairing Request is noted for the first pairing (forwarded). While
 * the mux pairs with the device for it (Secure Connections, below) the
 * host's SMP is consumed too: it waits for its Pairing Response.
 *
 * Whether there is a bond is looked up whole at each Pairing Request
 * (the key size, the IRK the stand-in promises) and kept with the link
 * for the host's later PDUs (c->hbond), not fetched again for each.
 */
bool bond_le_host_smp(struct mux *m, struct mux_session *s, struct mux_conn *c,
		      const struct h4_pkt *pkt)
{
	struct mux_le_bond b;
	const uint8_t *p;
	size_t n;
	bool mine;

	/*
	 * Only where the gateway is central: the stand-in answers as the
	 * device would as responder. On a link the device connected to the
	 * device is the initiator and the host the responder (2.4.2): its
	 * SMP goes to the device, as without bonds.
	 */
	if (c->link != LINK_LE || !c->le_central || !(p = smp_whole_pdu(pkt, &n)))
		return false;
	/* A new pairing after the mux's with the device failed: as ever. */
	if (c->le.sc == SC_OVER && p[0] == SMP_PAIRING_REQ)
		c->le.sc = SC_NONE;
	if (c->le.sc) {
		if (p[0] == SMP_FAILED)
			c->le.host_failed = true;
		host_credit(s, c);
		return true;
	}
	/*
	 * The host's own key distribution (3.6.1) in the first pairing, seen
	 * end to end, which made the household bond: the device agreed to it
	 * (its Pairing Response's Initiator Key Distribution), so it goes on
	 * (mux_bond_central.c gives the device the household's EncKey).
	 */
	if (p[0] >= SMP_ENC_INFO && p[0] <= SMP_SIGN_INFO && c->le.seen_preq && c->le.seen_pres &&
	    c->le.pres[5])
		return false;
	memset(&b, 0, sizeof(b));
	if (p[0] == SMP_PAIRING_REQ || c->hbond == HB_UNKNOWN) {
		c->hbond = m->pol.bond_ltk &&
			   m->pol.bond_ltk(&c->id, c->id_type,
					   p[0] == SMP_PAIRING_REQ ? &b : NULL,
					   m->pol.ctx) == 0 ? HB_YES : HB_NONE;
	}
	mine = c->hbond == HB_YES && !s->dead && pol_access(m, s->user, &c->id, c->id_type);
	if (mine) {
		stand_in(s, c, p, n, &b);
		host_credit(s, c);
	} else if (p[0] == SMP_PAIRING_REQ && n == 7) {
		memcpy(c->le.preq, p, 7);
		c->le.seen_preq = true;
		c->le.seen_pres = false;
	}
	secmem_wipe(&b, sizeof(b));
	return mine;
}

/*
 * Was the legacy pairing just made authenticated (MITM, 2.3.5.1)? Only
 * with a passkey: both must not be NoInputNoOutput, one asked for MITM,
 * and one has a keyboard (KeyboardOnly or KeyboardDisplay). OOB is not
 * counted: a bond is never said to be stronger than it is.
 */
static bool legacy_mitm(const uint8_t preq[7], const uint8_t pres[7])
{
	uint8_t i = preq[1], r = pres[1];

	if (!((preq[3] | pres[3]) & AUTH_MITM) || i == 0x03 || r == 0x03)
		return false;
	return i == 0x02 || r == 0x02 || i == 0x04 || r == 0x04;
}

/* The held Encryption Information to the host, with key ltk. */
static void emit_enc_info(struct mux_conn *c, const uint8_t ltk[16])
{
	uint8_t p[17];

	p[0] = SMP_ENC_INFO;
	memcpy(p + 1, ltk, 16);
	to_host(c->owner, c, p, sizeof(p));
	secmem_wipe(p, sizeof(p));
}

/*
 * The device's held key distribution to the host, in the order it came
 * (3.6.1): the Encryption Information with key ltk, then the Central
 * Identification and Identity Information if held. Wipes what was held.
 */
static void release_held(struct mux_conn *c, const uint8_t ltk[16])
{
	struct mux_le_smp *l = &c->le;
	uint8_t p[17];

	if (l->held)
		emit_enc_info(c, ltk);
	if (l->held_ci) {
		p[0] = SMP_CENTRAL_IDENT;
		memcpy(p + 1, l->ci, 10);
		to_host(c->owner, c, p, 11);
	}
	if (l->held_ii) {
		p[0] = SMP_ID_INFO;
		memcpy(p + 1, l->ii, 16);
		to_host(c->owner, c, p, 17);
	}
	secmem_wipe(p, sizeof(p));
	secmem_wipe(l->ei, sizeof(l->ei));
	secmem_wipe(l->ci, sizeof(l->ci));
	secmem_wipe(l->ii, sizeof(l->ii));
	l->held = l->held_ci = l->held_ii = false;
}

/*
 * The admin's pairing at the gateway (MUX_PAIR_USER) names the address a
 * device uses now; for a device with privacy that is a resolvable private
 * address, the one its policy allows (bgw-muxd: that one address while
 * the pairing runs), and the identity the device gives is one it does
 * not. That identity is the device's all the same when the IRK it gave
 * in the same pairing resolves the RPA of the link it gave it on (Vol 3
 * Part H 2.2.2): only for MUX_PAIR_USER, whose pairing the admin named
 * and confirmed; a user's identity needs its grant. The monitor checks
 * the same against the address it was asked to pair.
 */
static bool gateway_identity(const struct mux *m, const struct mux_session *s,
			     const struct mux_conn *c, const uint8_t irk[16])
{
	return strcmp(s->user, MUX_PAIR_USER) == 0 && c->link == LINK_LE &&
	       c->addr_type == BDADDR_RANDOM && rpa_is_resolvable(&c->addr) &&
	       rpa_matches(irk, &c->addr) && pol_access(m, s->user, &c->addr, c->addr_type);
}

/*
 * The identity the device gave (Identity Address Information, 3.6.5,
 * p its 7 octets after the code) with the held IRK, if it may be the
 * bond's: a public or static random address (Vol 6 Part B 1.3), that
 * the link's user may access, and that the link is to: its address,
 * or an RPA the IRK resolves (as for the user's own bindings, mux_conn.c)
 * and, when the link's RPA was already known as an identity, that one.
 * Then *b gets the IRK (none if all zero: the device has none).
 */
static bool given_identity(struct mux *m, struct mux_conn *c, const uint8_t *p,
			   struct bdaddr *id, uint8_t *idt, struct mux_le_bond *b)
{
	static const uint8_t zero[16];
	bool has_irk = memcmp(c->le.ii, zero, 16) != 0;

	*idt = p[0];
	*id = addr_at(p + 1);
	if (*idt > 1 || (*idt == BDADDR_RANDOM && (id->b[5] & 0xc0) != 0xc0) ||
	    (!pol_access(m, c->owner->user, id, *idt) &&
	     !(has_irk && gateway_identity(m, c->owner, c, c->le.ii))))
		return false;
	if (!(bdaddr_eq(id, &c->addr) && *idt == c->addr_type)) {
		if (!has_irk || c->addr_type != BDADDR_RANDOM || !rpa_matches(c->le.ii, &c->addr))
			return false;
		if (!(bdaddr_eq(&c->id, &c->addr) && c->id_type == c->addr_type) &&
		    !(bdaddr_eq(&c->id, id) && c->id_type == *idt))
			return false;
	}
	b->has_irk = has_irk;
	if (has_irk)
		memcpy(b->irk, c->le.ii, 16);
	return true;
}

/*
 * The device's key distribution is complete (its Central Identification,
 * or with IdKey its Identity Address Information, ida): the LTK, EDIV
 * and Rand of a legacy pairing become the household bond, under the
 * device's identity with its IRK when it gave them, and the host is
 * given a random LTK of its own in their place (it never needs one:
 * every later encryption gets the household's).
 */
static void first_bond(struct mux *m, struct mux_conn *c, const uint8_t *ida)
{
	struct mux_le_bond b;
	struct bdaddr id = c->id;
	uint8_t idt = c->id_type;
	char as[BDADDR_STRLEN];
	uint8_t mine[16];
	int r;

	memset(&b, 0, sizeof(b));
	memcpy(b.ltk, c->le.ei, 16);
	b.ediv = get_le16(c->le.ci);
	memcpy(b.rand, c->le.ci + 2, 8);
	b.key_size = 16;
	if (c->le.seen_preq && c->le.seen_pres) {
		b.key_size = c->le.preq[4] < c->le.pres[4] ? c->le.preq[4] : c->le.pres[4];
		b.authenticated = legacy_mitm(c->le.preq, c->le.pres);
	}
	if (b.key_size < 7 || b.key_size > 16)
		b.key_size = 16;
	if (ida && !given_identity(m, c, ida, &id, &idt, &b)) {
		log_notice("session %u (%s): %s gave an identity that is not its own or not the user's: the bond is kept under the address of the link",
			   c->owner->id, c->owner->user, bdaddr_fmt(&c->addr, as));
		id = c->id;
		idt = c->id_type;
	}
	r = m->pol.bond_new_le(c->owner->user, &id, idt, &b, m->pol.ctx);
	if (r < 0) {
		log_err("session %u (%s): the LE key of %s could not be kept as the household bond (%s): only this user's host has it",
			c->owner->id, c->owner->user, bdaddr_fmt(&id, as), strerror(-r));
		release_held(c, c->le.ei);
	} else {
		/* No randomness: the host gets no usable key rather than the real one. */
		if (getrandom(mine, sizeof(mine), 0) != sizeof(mine))
			memset(mine, 0, sizeof(mine));
		release_held(c, mine);
		/* This link's device is that identity from now on (the IRK's
		 * binding for this user, made by smp_snoop on the same checks,
		 * already made the advertisers' verdicts stale). */
		c->id = id;
		c->id_type = idt;
		c->hbond = HB_YES;
		log_notice("session %u (%s): %s paired over LE: its key is now the household bond%s",
			   c->owner->id, c->owner->user, bdaddr_fmt(&id, as),
			   b.has_irk ? ", with its IRK" : "");
	}
	secmem_wipe(mine, sizeof(mine));
	secmem_wipe(&b, sizeof(b));
}

/* The PDU the held key distribution waits for next (0: none held). */
static uint8_t held_next(const struct mux_le_smp *l)
{
	if (l->held_ii)
		return SMP_ID_ADDR_INFO;
	if (l->held_ci)
		return SMP_ID_INFO;
	return l->held ? SMP_CENTRAL_IDENT : 0;
}

/* ---- LE Secure Connections, a user's first pairing (2.3.5.6) ---- */

/* Association models (Vol 3 Part H 2.3.5.1, Table 2.8, LE Secure Connections). */
enum { AM_JW, AM_NC, AM_PK, AM_OOB };

static uint8_t sc_model(const uint8_t preq[7], const uint8_t pres[7])
{
	/* [initiator][responder]: DisplayOnly, DisplayYesNo, KeyboardOnly,
	 * NoInputNoOutput, KeyboardDisplay. */
	static const uint8_t t[5][5] = {
		{ AM_JW, AM_JW, AM_PK, AM_JW, AM_PK },
		{ AM_JW, AM_NC, AM_PK, AM_JW, AM_NC },
		{ AM_PK, AM_PK, AM_PK, AM_JW, AM_PK },
		{ AM_JW, AM_JW, AM_JW, AM_JW, AM_JW },
		{ AM_PK, AM_NC, AM_PK, AM_JW, AM_NC },
	};

	/* With SC, OOB when either side has the other's OOB data (Table 2.6). */
	if (preq[2] || pres[2])
		return AM_OOB;
	/* Neither asks for MITM protection: Just Works whatever the IO. */
	if (!((preq[3] | pres[3]) & AUTH_MITM))
		return AM_JW;
	return t[preq[1]][pres[1]];
}

/* An SMP PDU of the mux's own to the device (CID 0x0006, in fragments). */
static int dev_send(struct mux *m, struct mux_conn *c, const uint8_t *pdu, size_t n)
{
	return ctrl_acl_internal(m, c, CID_SMP, pdu, n);
}

/*
 * The pairing with the device ends without a bond: the host, which
 * waits for its Pairing Response, gets Pairing Failed with reason
 * (the device's own when it failed it), nothing is kept, every pairing
 * value is wiped (the whole per-link state: key pair, DHKey, LTK).
 */
static void sc_end(struct mux_conn *c, uint8_t reason)
{
	uint8_t f[2] = { SMP_FAILED, reason };
	char as[BDADDR_STRLEN];

	if (c->owner && !c->le.host_failed)
		to_host(c->owner, c, f, sizeof(f));
	if (c->owner)
		log_notice("session %u (%s): %s: LE Secure Connections pairing with the device failed (SMP reason 0x%02x): nothing kept, the host was told",
			   c->owner->id, c->owner->user, bdaddr_fmt(&c->addr, as), reason);
	secmem_wipe(&c->le, sizeof(c->le));
	c->le.sc = SC_OVER;
}

/* We fail the pairing (3.5.5): Pairing Failed to the device, then to the host. */
static void sc_fail(struct mux *m, struct mux_conn *c, uint8_t reason)
{
	uint8_t f[2] = { SMP_FAILED, reason };

	dev_send(m, c, f, sizeof(f));
	sc_end(c, reason);
}

/* Is the mux pairing with the device on link c (not failed, not idle)? */
static bool sc_running(const struct mux_conn *c)
{
	return c->used && c->link == LINK_LE && c->le.sc && c->le.sc != SC_OVER;
}

/* The SMP timer at the first deadline of the takeovers running, or off. */
static void sc_timer_update(struct mux *m)
{
	uint64_t first = 0, now = loop_now_us();
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++)
		if (sc_running(&m->conns[i]) &&
		    (!first || m->conns[i].le.sc_deadline < first))
			first = m->conns[i].le.sc_deadline;
	loop_timer_disarm(m->smp_timer);
	if (first)
		loop_timer_arm(m->smp_timer, first > now ? first - now : 0);
}

/*
 * The SMP timeout (Vol 3 Part H 3.4): a takeover not complete 30 s after
 * it began (a device that stopped answering) fails, so the link's
 * host may pair again; otherwise every later SMP PDU of the host, a new
 * Pairing Request too, would be taken by a pairing that never ends.
 */
void bond_le_timeout(struct mux *m)
{
	uint64_t now = loop_now_us();
	unsigned i;

	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (sc_running(c) && c->le.sc_deadline <= now) {
			if (c->owner)
				log_notice("session %u (%s): the device did not complete its LE Secure Connections pairing in 30 s (SMP timeout)",
					   c->owner->id, c->owner->user);
			sc_fail(m, c, SMP_R_UNSPECIFIED);
		}
	}
	sc_timer_update(m);
}

/* The addresses of f5/f6 (2.2.7): the BD_ADDR, then its type. A the
 * initiator's (the address the link was made from), B the device's. */
static void sc_addrs(const struct mux_conn *c, uint8_t a[7], uint8_t b[7])
{
	memcpy(a, c->init_addr, 6);
	a[6] = c->init_type;
	memcpy(b, c->addr.b, 6);
	b[6] = c->addr_type;
}

/*
 * The device's Pairing Response with SC agreed on a user's first pairing
 * (no household bond): taken (true) when the mux pairs with the device or
 * refuses; false to let the pairing run end to end as before (not
 * bonding both ways: nothing to share; a response a host would refuse).
 */
static bool sc_first(struct mux *m, struct mux_conn *c)
{
	struct mux_le_smp *l = &c->le;
	struct mux_session *s = c->owner;
	char as[BDADDR_STRLEN];
	uint8_t pk[65], f[2];

	if (c->hbond != HB_NONE || !pol_access(m, s->user, &c->id, c->id_type) ||
	    !(l->preq[3] & l->pres[3] & AUTH_BONDING) || l->preq[1] > 0x04 ||
	    l->pres[1] > 0x04 || l->preq[2] > 0x01 || l->pres[2] > 0x01 ||
	    l->pres[4] < 7 || l->pres[4] > 16 || l->preq[4] < 7 || l->preq[4] > 16)
		return false;
	bdaddr_fmt(&c->addr, as);
	if (sc_model(l->preq, l->pres) != AM_JW) {
		/*
		 * Numeric comparison, passkey entry and OOB bind the two
		 * public keys to a value the user checks (f4 commitments,
		 * g2); with the mux in the middle there are two key
		 * exchanges, whose values differ, and a mux that could make
		 * them agree would defeat the MITM protection. Authentication
		 * Requirements (0x03): the IO capabilities between them
		 * cannot meet what the pairing asks for (3.5.5), true of the
		 * path, not of the device, which does pair (Pairing Not
		 * Supported would tell the host it never can).
		 */
		f[0] = SMP_FAILED;
		f[1] = SMP_R_AUTH_REQUIREMENTS;
		dev_send(m, c, f, 2);
		to_host(s, c, f, 2);
		/*
		 * The address to name is the link's: a device with privacy
		 * is paired at the gateway by the private address it uses
		 * now (bgw-muxd(8)), never by its identity. Rate-limited per
		 * session as ACL denials are (sess_denied): a host pairing in
		 * a loop must not flood the log and the audit.
		 */
		s->pair_refusals++;
		if (s->pair_refusals <= 16 || s->pair_refusals % 1024 == 0) {
			log_notice("session %u (%s): %s needs a passkey or number comparison with LE Secure Connections, which the gateway cannot share from one user's host: pair it once at the gateway with `bgw-muxd pair %s%s%s`%s, then every permitted user can use it",
				   s->id, s->user, as, c->addr_type == BDADDR_RANDOM ? "" : "--le ", as,
				   c->addr_type == BDADDR_RANDOM ? " random" : "",
				   c->addr_type == BDADDR_RANDOM && rpa_is_resolvable(&c->addr) ?
				   " soon (that private address changes within minutes)" : "");
			if (m->pol.pair_refused)
				m->pol.pair_refused(s->user, &c->addr, c->addr_type,
						    "LE Secure Connections with a passkey or number comparison: pair it at the gateway (bgw-muxd pair)",
						    m->pol.ctx);
		}
		secmem_wipe(l, sizeof(*l));
		return true;
	}
	if (smp_p256_generate(&l->kp) < 0) {
		sc_fail(m, c, SMP_R_UNSPECIFIED);
		return true;
	}
	l->sc = SC_PK;
	l->sc_deadline = loop_now_us() + (uint64_t)(30e6 * m->cfg.time_scale);
	sc_timer_update(m);
	pk[0] = SMP_PUBLIC_KEY;
	memcpy(pk + 1, l->kp.pub, 64);
	if (dev_send(m, c, pk, sizeof(pk)) < 0) {
		sc_fail(m, c, SMP_R_UNSPECIFIED);
		return true;
	}
	log_info("session %u (%s): %s pairs with LE Secure Connections, Just Works: the gateway pairs it for the household, the host waits",
		 s->id, s->user, as);
	return true;
}

/*
 * The device's public key: on the curve (an invalid point is the
 * invalid-curve attack, CVE-2018-5383: the DHKey computation refuses it)
 * and not ours reflected (2.3.5.6.1); the DHKey from it. In Just Works
 * the device commits first (Cb, 2.3.5.6.2).
 */
static void sc_on_pubkey(struct mux *m, struct mux_conn *c, const uint8_t *k)
{
	struct mux_le_smp *l = &c->le;

	memcpy(l->pkb, k, 64);
	if (secmem_is_equal(l->pkb, l->kp.pub, 32) ||
	    smp_p256_dhkey(&l->kp, l->pkb, l->dhkey) < 0) {
		sc_fail(m, c, SMP_R_DHKEY_CHECK);
		return;
	}
	l->sc = SC_CONFIRM;
}

/* The device's Cb; our Na answers it. */
static void sc_on_confirm(struct mux *m, struct mux_conn *c, const uint8_t *cb)
{
	struct mux_le_smp *l = &c->le;
	uint8_t r[17];

	memcpy(l->cb, cb, 16);
	if (getrandom(l->na, 16, 0) != 16) {
		sc_fail(m, c, SMP_R_UNSPECIFIED);
		return;
	}
	r[0] = SMP_RANDOM;
	memcpy(r + 1, l->na, 16);
	l->sc = SC_RANDOM;
	if (dev_send(m, c, r, sizeof(r)) < 0)
		sc_fail(m, c, SMP_R_UNSPECIFIED);
	secmem_wipe(r, sizeof(r));
}

/*
 * The device's Nb: its commitment Cb = f4(PKbx, PKax, Nb, 0) checked in
 * constant time; then MacKey and LTK = f5(DHKey, Na, Nb, A, B) and our
 * DHKey check Ea = f6(MacKey, Na, Nb, 0, IOcapA, A, B) (2.3.5.6.5),
 * IOcapA the host's Pairing Request's AuthReq, OOB flag, IO capability.
 */
static void sc_on_random(struct mux *m, struct mux_conn *c, const uint8_t *nb)
{
	struct mux_le_smp *l = &c->le;
	uint8_t chk[16], a[7], b[7], e[17], iocap[3];
	static const uint8_t r0[16];
	bool ok;

	memcpy(l->nb, nb, 16);
	ok = smp_f4(l->pkb, l->kp.pub, l->nb, 0, chk) == 0 && secmem_is_equal(chk, l->cb, 16);
	secmem_wipe(chk, sizeof(chk));
	if (!ok) {
		sc_fail(m, c, SMP_R_CONFIRM_FAILED);
		return;
	}
	sc_addrs(c, a, b);
	/* IOcapA = AuthReq || OOB flag || IO capability (2.2.8), AuthReq
	 * the most significant octet: least significant first, IO
	 * capability, OOB flag, AuthReq, the Pairing Request's order. */
	memcpy(iocap, l->preq + 1, 3);
	e[0] = SMP_DHKEY_CHECK;
	if (smp_f5(l->dhkey, l->na, l->nb, a, b, l->mackey, l->ltk) < 0 ||
	    smp_f6(l->mackey, l->na, l->nb, r0, iocap, a, b, e + 1) < 0) {
		sc_fail(m, c, SMP_R_UNSPECIFIED);
		return;
	}
	l->sc = SC_CHECK;
	if (dev_send(m, c, e, sizeof(e)) < 0)
		sc_fail(m, c, SMP_R_UNSPECIFIED);
	secmem_wipe(e, sizeof(e));
}

/*
 * The device's Eb = f6(MacKey, Nb, Na, 0, IOcapB, B, A), checked in
 * constant time; then the mux encrypts the link with the LTK shortened
 * to the negotiated size (2.3.4), EDIV and Rand 0 (2.4.4.2, Vol 4 Part
 * E 7.8.24): an internal command, its Command Status and Encryption
 * Change taken here (bond_le_enc_event), never the host's.
 */
static void sc_on_check(struct mux *m, struct mux_conn *c, const uint8_t *eb)
{
	struct mux_le_smp *l = &c->le;
	uint8_t a[7], b[7], e[16], iocap[3], enc[28];
	static const uint8_t r0[16];
	unsigned ks = l->preq[4] < l->pres[4] ? l->preq[4] : l->pres[4], i;
	bool ok;

	sc_addrs(c, a, b);
	/* IOcapB likewise, in the Pairing Response's order (above). */
	memcpy(iocap, l->pres + 1, 3);
	ok = smp_f6(l->mackey, l->nb, l->na, r0, iocap, b, a, e) == 0 &&
	     secmem_is_equal(e, eb, 16);
	secmem_wipe(e, sizeof(e));
	if (!ok) {
		sc_fail(m, c, SMP_R_DHKEY_CHECK);
		return;
	}
	for (i = ks; i < 16; i++)
		l->ltk[i] = 0;
	memset(enc, 0, sizeof(enc));
	put_le16(enc, c->handle);
	memcpy(enc + 12, l->ltk, 16);
	l->sc = SC_ENC;
	/* The keys the device will distribute; EncKey means none in SC (3.6.1). */
	l->want_kd = l->pres[6] & (KD_ID | KD_SIGN);
	c->enc_mine = true;
	internal_cmd(m, HCI_OP_LE_START_ENCRYPTION, enc, sizeof(enc));
	secmem_wipe(enc, sizeof(enc));
}

/*
 * Every key the device announced has come (3.6.1: the responder first):
 * the initiator's keys the Pairing Response asks for are the gateway's,
 * not the host's (which never paired with the device): its identity, the
 * public BD_ADDR, with an all-zero IRK (the gateway resolves no private
 * address of its own with it: none), and a random CSRK kept nowhere (the
 * gateway never signs). Before them the LTK is kept as the household
 * bond under the device's identity as a legacy first pairing's
 * (given_identity); then the waiting host's Pairing Request is answered
 * by the stand-in.
 */
static void sc_done(struct mux *m, struct mux_conn *c)
{
	struct mux_le_smp *l = &c->le;
	struct mux_session *s = c->owner;
	struct mux_le_bond b;
	struct bdaddr id = c->id;
	uint8_t idt = c->id_type, preq[7], p[17];
	char as[BDADDR_STRLEN];
	bool host_failed = l->host_failed;
	int r = 0;

	memset(&b, 0, sizeof(b));
	memcpy(b.ltk, l->ltk, 16);
	b.key_size = l->preq[4] < l->pres[4] ? l->preq[4] : l->pres[4];
	b.authenticated = false;	/* Just Works */
	if ((l->got_kd & KD_ID) && !given_identity(m, c, l->ida, &id, &idt, &b)) {
		log_notice("session %u (%s): %s gave an identity that is not its own or not the user's: the bond is kept under the address of the link",
			   s->id, s->user, bdaddr_fmt(&c->addr, as));
		id = c->id;
		idt = c->id_type;
	}
	/*
	 * Kept before the gateway's keys go: the device completes its
	 * pairing with our last key (3.6.1), so a bond the household could
	 * not keep is failed first (Pairing Failed), never left on the
	 * device alone.
	 */
	r = m->pol.bond_new_le(s->user, &id, idt, &b, m->pol.ctx);
	if (r < 0) {
		log_err("session %u (%s): the LE Secure Connections key of %s could not be kept as the household bond (%s): the pairing was failed, nothing is kept; pair again once the bond store works",
			s->id, s->user, bdaddr_fmt(&id, as), strerror(-r));
		sc_fail(m, c, SMP_R_UNSPECIFIED);
		secmem_wipe(&b, sizeof(b));
		return;
	}
	memset(p, 0, sizeof(p));
	if (l->pres[5] & KD_ID) {
		p[0] = SMP_ID_INFO;
		r = dev_send(m, c, p, 17);
		p[0] = SMP_ID_ADDR_INFO;
		p[1] = BDADDR_PUBLIC;
		memcpy(p + 2, m->bdaddr.b, 6);
		if (r == 0)
			r = dev_send(m, c, p, 8);
	}
	if (r == 0 && (l->pres[5] & KD_SIGN)) {
		p[0] = SMP_SIGN_INFO;
		r = getrandom(p + 1, 16, 0) == 16 ? dev_send(m, c, p, 17) : -EIO;
	}
	secmem_wipe(p, sizeof(p));
	if (r < 0) {
		log_err("session %u (%s): the gateway's keys could not be sent to %s (%s): the pairing was failed; bgw-authdb bond forget %s, make the device forget the gateway, then pair again",
			s->id, s->user, bdaddr_fmt(&id, as), strerror(-r), as);
		sc_fail(m, c, SMP_R_UNSPECIFIED);
		secmem_wipe(&b, sizeof(b));
		return;
	}
	c->id = id;
	c->id_type = idt;
	c->hbond = HB_YES;
	log_notice("session %u (%s): %s paired with LE Secure Connections by the gateway: its key is now the household bond%s",
		   s->id, s->user, bdaddr_fmt(&id, as), b.has_irk ? ", with its IRK" : "");
	memcpy(preq, l->preq, 7);
	secmem_wipe(l, sizeof(*l));
	/* The host's Pairing Request, held since, answered as for any user. */
	if (!host_failed && !s->dead)
		stand_in(s, c, preq, 7, &b);
	secmem_wipe(&b, sizeof(b));
}

/* The device's key distribution after the encryption (3.6.1, 3.6.4-3.6.6). */
static bool sc_on_key(struct mux *m, struct mux_conn *c, const uint8_t *p, size_t n)
{
	struct mux_le_smp *l = &c->le;

	switch (p[0]) {
	case SMP_ID_INFO:
		if (n != 17 || !(l->want_kd & KD_ID) || (l->got_kd & KD_ID) || l->held_ii)
			return false;
		memcpy(l->ii, p + 1, 16);
		l->held_ii = true;
		return true;
	case SMP_ID_ADDR_INFO:
		if (n != 8 || !l->held_ii || (l->got_kd & KD_ID))
			return false;
		memcpy(l->ida, p + 1, 7);
		l->got_kd |= KD_ID;
		break;
	case SMP_SIGN_INFO:
		/* Its CSRK: for signed writes of the host's, which none makes
		 * with the household's bond; not kept. */
		if (n != 17 || !(l->want_kd & KD_SIGN) || (l->got_kd & KD_SIGN))
			return false;
		l->got_kd |= KD_SIGN;
		break;
	default:
		/* In SC there is no Encryption Information (3.6.1): anything
		 * else ends the pairing. */
		return false;
	}
	/* Before the Encryption Change, the keys wait for it (below). */
	if (l->sc == SC_KEYS && (l->got_kd & l->want_kd) == l->want_kd)
		sc_done(m, c);
	return true;
}

/* One whole SMP PDU from the device while the mux pairs with it. */
static void sc_on_dev(struct mux *m, struct mux_conn *c, const uint8_t *p, size_t n)
{
	struct mux_le_smp *l = &c->le;

	switch (p[0]) {
	case SMP_FAILED:
		if (n == 2) {
			sc_end(c, p[1]);
			return;
		}
		break;
	case SMP_PUBLIC_KEY:
		if (n == 65 && l->sc == SC_PK) {
			sc_on_pubkey(m, c, p + 1);
			return;
		}
		break;
	case SMP_CONFIRM:
		if (n == 17 && l->sc == SC_CONFIRM) {
			sc_on_confirm(m, c, p + 1);
			return;
		}
		break;
	case SMP_RANDOM:
		if (n == 17 && l->sc == SC_RANDOM) {
			sc_on_random(m, c, p + 1);
			return;
		}
		break;
	case SMP_DHKEY_CHECK:
		if (n == 17 && l->sc == SC_CHECK) {
			sc_on_check(m, c, p + 1);
			return;
		}
		break;
	case SMP_KEYPRESS: case SMP_SECURITY_REQ:
		/* Its user typing (3.5.8); asking for the pairing it has. */
		if (n == 2)
			return;
		break;
	default:
		/*
		 * Its keys come over the encrypted link, and may be read
		 * before the Encryption Change event (ACL and events are
		 * separate paths on some transports, USB): taken from our
		 * LE Enable Encryption on, used only once it succeeded.
		 */
		if ((l->sc == SC_ENC || l->sc == SC_KEYS) && sc_on_key(m, c, p, n))
			return;
		if (p[0] > SMP_KEYPRESS) {
			sc_fail(m, c, SMP_R_CMD_NOT_SUPP);
			return;
		}
		break;
	}
	/* Out of order or the wrong length: the pairing ends (3.5.5). */
	sc_fail(m, c, n >= 1 && p[0] <= SMP_KEYPRESS ? SMP_R_UNSPECIFIED : SMP_R_INVALID_PARAMS);
}

/* The device's held first fragment (rx, too short to name its channel) to the host. */
static void release_hdr(struct mux_conn *c)
{
	struct mux_le_smp *l = &c->le;
	uint8_t h4[5 + 4];
	int len = h4_build_acl(h4, sizeof(h4), c->vhandle, l->rx_pb, 0, l->rx, l->rx_len);

	if (len > 0)
		sess_emit(c->owner, h4, (size_t)len, EM_DATA);
	l->rx_hdr = false;
	secmem_wipe(l->rx, sizeof(l->rx));
}

/*
 * ACL from the device while the mux pairs with it: its SMP PDUs are
 * reassembled (the public key, 69 octets with its header, may come in
 * fragments of 27), bounded by the largest SMP PDU, and taken; anything
 * else on the link (ATT) goes to the host as always. A first fragment
 * too short to name its channel (under the 4 octets of the basic L2CAP
 * header) is held until its continuation does: SMP is then taken, and
 * anything else goes to the host as it came.
 */
static bool sc_dev_acl(struct mux *m, struct mux_conn *c, const struct h4_pkt *pkt)
{
	struct mux_le_smp *l = &c->le;
	const uint8_t *d = pkt->acl.data;
	size_t dl = pkt->acl.dlen, want, k;

	if (pkt->acl.pb != HCI_PB_CONT) {
		if (l->rx_hdr)
			release_hdr(c);	/* never continued: the host's to judge */
		l->rx_on = false;
		if (dl < 4) {
			memcpy(l->rx, d, dl);
			l->rx_len = (uint8_t)dl;
			l->rx_pb = pkt->acl.pb;
			l->rx_hdr = true;
			return true;
		}
		if (get_le16(d + 2) != CID_SMP)
			return false;
		if (get_le16(d) < 1 || get_le16(d) > 65 || dl > get_le16(d) + 4u) {
			if (l->sc != SC_OVER)
				sc_fail(m, c, SMP_R_INVALID_PARAMS);
			return true;
		}
		memcpy(l->rx, d, dl);
		l->rx_len = (uint8_t)dl;
		l->rx_on = true;
	} else if (l->rx_hdr) {
		/* The header's missing octets, from this continuation. */
		k = 4u - l->rx_len < dl ? 4u - l->rx_len : dl;
		memcpy(l->rx + l->rx_len, d, k);
		if (l->rx_len + k < 4) {
			l->rx_len = (uint8_t)(l->rx_len + k);
			return true;
		}
		if (get_le16(l->rx + 2) != CID_SMP) {
			release_hdr(c);
			return false;
		}
		l->rx_hdr = false;
		if (get_le16(l->rx) < 1 || get_le16(l->rx) > 65 ||
		    l->rx_len + dl > get_le16(l->rx) + 4u) {
			secmem_wipe(l->rx, sizeof(l->rx));
			if (l->sc != SC_OVER)
				sc_fail(m, c, SMP_R_INVALID_PARAMS);
			return true;
		}
		memcpy(l->rx + l->rx_len, d, dl);
		l->rx_len = (uint8_t)(l->rx_len + dl);
		l->rx_on = true;
	} else {
		if (!l->rx_on)
			return false;
		if (l->rx_len + dl > get_le16(l->rx) + 4u) {
			l->rx_on = false;
			if (l->sc != SC_OVER)
				sc_fail(m, c, SMP_R_INVALID_PARAMS);
			return true;
		}
		memcpy(l->rx + l->rx_len, d, dl);
		l->rx_len = (uint8_t)(l->rx_len + dl);
	}
	want = get_le16(l->rx) + 4u;
	if (l->rx_len < want)
		return true;
	l->rx_on = false;
	if (l->sc != SC_OVER)
		sc_on_dev(m, c, l->rx + 4, want - 4);
	/* sc_end may have wiped the state with it; the rest is spent. */
	secmem_wipe(l->rx, sizeof(l->rx));
	return true;
}

/*
 * Encryption Change or Key Refresh Complete (Vol 4 Part E 7.7.8, 7.7.39;
 * p its parameters) on LE link c, before it goes to the owner: true when
 * taken here. The mux's own encryption (its SC pairing) is the mux's:
 * the device's key distribution follows, or the pairing fails. A link the
 * mux encrypted so, which the host then encrypts itself (with the
 * stand-in's STK, replaced by the household key), completes with a Key
 * Refresh Complete: the host, which never saw the link encrypted, is
 * given the Encryption Change it waits for.
 */
bool bond_le_enc_event(struct mux *m, struct mux_conn *c, uint8_t code,
		       const uint8_t *p, uint8_t plen)
{
	struct mux_le_smp *l = &c->le;
	uint8_t ev[4];

	if (c->link != LINK_LE || !c->owner || plen < 3)
		return false;
	if (c->enc_mine && l->sc != SC_ENC && (code == HCI_EV_ENCRYPT_CHANGE ||
					       code == HCI_EV_KEY_REFRESH_COMPLETE)) {
		/*
		 * Ours, but the pairing ended between the command and its
		 * event (the device failed it): never the host's, which did
		 * not ask. A link it encrypted is one the host never saw
		 * encrypted (enc_hidden, below).
		 */
		c->enc_mine = false;
		c->enc_hidden = p[0] == 0 && (code != HCI_EV_ENCRYPT_CHANGE || (plen >= 4 && p[3]));
		return true;
	}
	if (l->sc == SC_ENC) {
		c->enc_mine = false;
		if (p[0] != 0 || (code == HCI_EV_ENCRYPT_CHANGE && (plen < 4 || !p[3]))) {
			/* The device did not take the LTK it made with us. */
			sc_fail(m, c, SMP_R_UNSPECIFIED);
			return true;
		}
		c->enc_hidden = true;
		l->sc = SC_KEYS;
		if ((l->got_kd & l->want_kd) == l->want_kd)
			sc_done(m, c);
		return true;
	}
	if (code == HCI_EV_KEY_REFRESH_COMPLETE && c->enc_hidden) {
		c->enc_hidden = false;
		ev[0] = p[0];
		put_le16(ev + 1, c->vhandle);
		ev[3] = p[0] == 0 ? 0x01 : 0x00;
		sess_event(c->owner, HCI_EV_ENCRYPT_CHANGE, ev, sizeof(ev));
		bond_le_encrypted(m, c, p[0]);
		return true;
	}
	if (code == HCI_EV_ENCRYPT_CHANGE)
		c->enc_hidden = false;
	return false;
}

/*
 * ACL from the device on LE link c (its owner alive), before it goes to
 * the owner. Watches a first pairing (no household LE bond): returns
 * true when the packet was taken (the Encryption Information, held until
 * the Central Identification that completes the key; with IdKey agreed,
 * that and the Identity Information too, until the Identity Address
 * Information names the identity to keep the bond under).
 */
bool bond_le_dev_smp(struct mux *m, struct mux_conn *c, const struct h4_pkt *pkt)
{
	struct mux_le_smp *l = &c->le;
	struct mux_session *s = c->owner;
	char as[BDADDR_STRLEN];
	const uint8_t *p;
	size_t n;

	/* The mux pairs with the device (Secure Connections): its SMP is ours. */
	if (c->link == LINK_LE && s && l->sc)
		return sc_dev_acl(m, c, pkt);
	if (c->link != LINK_LE || !s || !m->pol.bond_new_le || !(p = smp_whole_pdu(pkt, &n))) {
		if (held_next(l) && pkt->acl.pb != HCI_PB_CONT) {
			/* Something else came between: the host gets the keys as they were. */
			release_held(c, l->ei);
		}
		return false;
	}
	if (held_next(l) && p[0] != held_next(l))
		release_held(c, l->ei);
	switch (p[0]) {
	case SMP_PAIRING_RSP:
		if (n != 7 || !l->seen_preq)
			break;
		memcpy(l->pres, p, 7);
		l->seen_pres = true;
		/*
		 * Secure Connections: the LTK will not cross HCI, so the mux
		 * pairs with the device itself (Just Works) or refuses. The
		 * gateway's own pairing keeps an SC key itself (mux_pair.c).
		 */
		if ((l->preq[3] & p[3] & AUTH_SC) && strcmp(s->user, MUX_PAIR_USER) != 0) {
			if (sc_first(m, c))
				return true;
			log_notice("session %u (%s): %s pairs with LE Secure Connections without bonding both ways: nothing is shared",
				   s->id, s->user, bdaddr_fmt(&c->addr, as));
		}
		break;
	case SMP_ENC_INFO:
		/*
		 * Kept only as the key distribution of a legacy pairing seen
		 * here whose Pairing Response promised it (3.6.1): not an
		 * unasked PDU, nor one after Secure Connections (whose LTK
		 * is derived, 2.3.5.6.5).
		 */
		if (n != 17 || !l->seen_pres || (l->preq[3] & l->pres[3] & AUTH_SC) ||
		    !(l->pres[6] & KD_ENC) || !pol_access(m, s->user, &c->id, c->id_type) ||
		    c->hbond != HB_NONE)
			break;
		memcpy(l->ei, p + 1, 16);
		l->held = true;
		return true;
	case SMP_CENTRAL_IDENT:
		if (n != 11 || !l->held)
			break;
		memcpy(l->ci, p + 1, 10);
		l->held_ci = true;
		/* The identity follows (3.6.1): wait for it. */
		if (l->seen_pres && (l->pres[6] & KD_ID))
			return true;
		first_bond(m, c, NULL);
		return true;
	case SMP_ID_INFO:
		if (n != 17 || !l->held_ci)
			break;
		memcpy(l->ii, p + 1, 16);
		l->held_ii = true;
		return true;
	case SMP_ID_ADDR_INFO:
		if (n != 8 || !l->held_ii)
			break;
		first_bond(m, c, p + 1);
		break;
	default:
		break;
	}
	return false;
}

/*
 * The host's LE Enable Encryption (7.8.24; p its parameters, the
 * controller's handle in place) on a link to a device with a household
 * LE bond: whatever key it carries (the STK of its pairing with the mux,
 * or the virtual LTK it stored), the controller gets the household's.
 */
void bond_le_start_enc(struct mux *m, struct mux_session *s, struct mux_conn *c,
		       uint8_t p[28])
{
	struct mux_le_bond b;
	char as[BDADDR_STRLEN];

	memset(&b, 0, sizeof(b));
	if (le_bond(m, s, c, &b)) {
		memcpy(p + 2, b.rand, 8);
		put_le16(p + 10, b.ediv);
		memcpy(p + 12, b.ltk, 16);
		/* Shortened to the pairing's key size, as hosts do (Vol 3
		 * Part H 2.3.4): the octets beyond it are zero. */
		if (b.key_size >= 7 && b.key_size < 16)
			memset(p + 12 + b.key_size, 0, 16 - (size_t)b.key_size);
		log_info("session %u (%s): %s encrypted with the household LE bond",
			 s->id, s->user, bdaddr_fmt(&c->addr, as));
	}
	secmem_wipe(&b, sizeof(b));
}

/*
 * Encryption Change or Key Refresh Complete on LE link c: a pairing the
 * mux answered now distributes the device's keys (3.6.1), a virtual LTK
 * with EDIV and Rand of the host's own, random; and, when agreed, the
 * device's identity and IRK from the household bond (3.6.4-3.6.5), so
 * the host recognises the device on its later private addresses as the
 * device it bonded with, as the first pairing's host does.
 */
void bond_le_encrypted(struct mux *m, struct mux_conn *c, uint8_t status)
{
	struct mux_le_smp *l = &c->le;
	uint8_t p[17];

	(void)m;
	if (c->link != LINK_LE || !c->owner || l->st != LS_ENC)
		return;
	if (status == 0 && (l->pres[6] & KD_ENC) && (l->pres[3] & AUTH_BONDING)) {
		p[0] = SMP_ENC_INFO;
		if (getrandom(p + 1, 16, 0) == 16) {
			to_host(c->owner, c, p, 17);
			p[0] = SMP_CENTRAL_IDENT;
			if (getrandom(p + 1, 10, 0) == 10)
				to_host(c->owner, c, p, 11);
		}
	}
	/* What the Pairing Response promised, kept since (stand_in). */
	if (status == 0 && l->promise_id && (l->pres[3] & AUTH_BONDING)) {
		p[0] = SMP_ID_INFO;
		memcpy(p + 1, l->ii, 16);
		to_host(c->owner, c, p, 17);
		p[0] = SMP_ID_ADDR_INFO;
		memcpy(p + 1, l->ida, 7);
		to_host(c->owner, c, p, 8);
	}
	secmem_wipe(p, sizeof(p));
	secmem_wipe(l, sizeof(*l));
}

int mux_session_bond_le(struct mux_session *s, const struct bdaddr *a, uint8_t type,
			const struct mux_le_bond *b)
{
	struct mux *m = s->m;
	const struct mux_conn *c;
	bool ok;
	unsigned i;

	if (!m->pol.bond_new_le)
		return -EOPNOTSUPP;
	ok = !s->dead && pol_access(m, s->user, a, type);
	/* An identity its IRK proves on the session's own link (above). */
	for (i = 0; !ok && !s->dead && b->has_irk && i < MUX_MAX_CONNS; i++) {
		c = &m->conns[i];
		ok = c->used && c->owner == s && gateway_identity(m, s, c, b->irk);
	}
	if (!ok)
		return -EACCES;
	return m->pol.bond_new_le(s->user, a, type, b, m->pol.ctx);
}
