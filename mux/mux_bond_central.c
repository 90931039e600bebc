/* SPDX-License-Identifier: MIT */
/*
 * The household bond broker for the device as central
 * (doc/virtual-controller.md, "Household bonds", "The device as
 * central"): a device that connects to the gateway's advertising and
 * encrypts looks up the key the *gateway side* distributed when they
 * paired (LE legacy pairing: the LTK a side distributes is the one the
 * other side encrypts with as central, Vol 3 Part H 2.4.2-2.4.3, 3.6.1),
 * which a host made and only that host holds. So:
 *
 *  - in a pairing where the host distributes its own LTK (its
 *    Encryption Information and Central Identification, host to
 *    controller, in clear at HCI: as responder on a link the device
 *    made, or as initiator with its Initiator Key Distribution's EncKey
 *    agreed), the device is given an LTK, EDIV and Rand the mux makes at
 *    random instead, kept in the household bond store (bond_new_pltk)
 *    before the device sees them; the host keeps believing the device
 *    holds its own;
 *  - the controller's LE Long Term Key Request (Vol 4 Part E 7.7.65.5) on
 *    a link the device made, owned by a session whose user may access
 *    the device now, with that EDIV and Rand, is answered here (LE Long
 *    Term Key Request Reply, 7.8.25) with that key; the host is not
 *    asked and only sees the Encryption Change;
 *  - EDIV and Rand zero are an STK or an LE Secure Connections key
 *    (2.4.4). On a link where no pairing has been seen they are the
 *    latter, and a household bond made with Secure Connections (its
 *    EDIV and Rand zero: the derived key serves both roles, 2.3.5.6.5)
 *    answers them the same way. During or after a pairing on the link
 *    they are its STK or its new key, which only the host holds: any
 *    request not answered here goes to the host as before.
 *
 * Every SMP PDU is untrusted: only whole PDUs of their exact length are
 * looked at, and nothing here ends a pairing. Keys are wiped after use
 * and never logged. Part of the multiplexer core (see mux.c).
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
#include "mux_int.h"
#include "secmem.h"
#include "smp_defs.h"

/* A Pairing Request: a new pairing, by the host (host_init) or the device. */
static void seen_request(struct mux_le_pk *k, const uint8_t *p, bool host_init)
{
	secmem_wipe(k, sizeof(*k));
	memcpy(k->preq, p, 7);
	k->seen_preq = true;
	k->host_init = host_init;
}

/* The answering side's Pairing Response to the request seen. */
static void seen_response(struct mux_le_pk *k, const uint8_t *p, bool from_host)
{
	if (!k->seen_preq || k->host_init == from_host)
		return;
	memcpy(k->pres, p, 7);
	k->seen_pres = true;
}

/*
 * Does the host distribute its EncKey in this pairing (3.6.1)? Legacy
 * pairing with bonding: the Pairing Response's key distribution fields
 * are the agreed ones, the initiator's (octet 5) or the responder's
 * (octet 6). With LE Secure Connections no LTK is distributed (the
 * EncKey bit is ignored, 3.6.1) and the derived key serves both roles.
 */
static bool host_gives_enc_key(const struct mux_le_pk *k)
{
	if (!k->seen_pres || !(k->preq[3] & k->pres[3] & AUTH_BONDING) ||
	    (k->preq[3] & k->pres[3] & AUTH_SC))
		return false;
	return (k->host_init ? k->pres[5] : k->pres[6]) & KD_ENC;
}

/*
 * A new key for the device in the host's place, shortened to the
 * pairing's key size as distributors do (2.3.4), its EDIV and Rand never
 * both zero (those are for the STK and Secure Connections, 2.4.4).
 */
static int make_key(const struct mux_le_pk *k, struct mux_le_pkey *out)
{
	static const uint8_t zero[8];
	uint8_t size = k->preq[4] < k->pres[4] ? k->preq[4] : k->pres[4];
	uint8_t ediv[2];

	if (size < 7 || size > 16)
		size = 16;
	if (getrandom(out->ltk, 16, 0) != 16 || getrandom(out->rand, 8, 0) != 8 ||
	    getrandom(ediv, 2, 0) != 2)
		return -EIO;
	memset(out->ltk + size, 0, 16u - size);
	out->ediv = get_le16(ediv);
	if (out->ediv == 0 && !memcmp(out->rand, zero, 8))
		out->rand[0] = 1;
	return 0;
}

/*
 * ACL from the owner's host on LE link c, about to leave for the
 * controller as out (the packet with the controller's handle, the same
 * length): its Encryption Information and Central Identification carry
 * the household's key for the device, kept first, instead of the host's.
 * A key the store could not keep leaves the host's unchanged (logged).
 * True when out now holds the household's key (the caller wipes it).
 */
bool bond_central_host_smp(struct mux *m, struct mux_session *s, struct mux_conn *c,
			   const struct h4_pkt *pkt, uint8_t *out)
{
	struct mux_le_pk *k = &c->pk;
	struct mux_le_pkey key;
	char as[BDADDR_STRLEN];
	const uint8_t *p;
	uint8_t *o;
	size_t n;
	int r;

	if (c->link != LINK_LE || !(p = smp_whole_pdu(pkt, &n)))
		return false;
	o = out + (p - pkt->raw);
	switch (p[0]) {
	case SMP_PAIRING_REQ:
		if (n == 7)
			seen_request(k, p, true);
		return false;
	case SMP_PAIRING_RSP:
		if (n == 7)
			seen_response(k, p, true);
		return false;
	case SMP_ENC_INFO:
		/* Keys are distributed on the pairing's encrypted link only
		 * (3.6.1): an early one is not the pairing's, and never
		 * replaces the household's. */
		if (n != 17 || !host_gives_enc_key(k) || !k->encrypted || k->sub ||
		    !m->pol.bond_new_pltk ||
		    !pol_access(m, s->user, &c->id, c->id_type))
			return false;
		if (make_key(k, &key) < 0) {
			r = -EIO;
		} else {
			r = m->pol.bond_new_pltk(s->user, &c->id, c->id_type, &key, m->pol.ctx);
		}
		if (r < 0) {
			log_err("session %u (%s): the LE key for %s as central could not be kept (%s): its host's own key goes to it",
				s->id, s->user, bdaddr_fmt(&c->id, as), strerror(-r));
		} else {
			memcpy(o + 1, key.ltk, 16);
			k->sub = true;
			k->ediv = key.ediv;
			memcpy(k->rand, key.rand, 8);
			log_notice("session %u (%s): %s was given the household's LE key for when it connects as central",
				   s->id, s->user, bdaddr_fmt(&c->id, as));
		}
		secmem_wipe(&key, sizeof(key));
		return r == 0;
	case SMP_CENTRAL_IDENT:
		if (n != 11 || !k->sub)
			return false;
		put_le16(o + 1, k->ediv);
		memcpy(o + 3, k->rand, 8);
		secmem_wipe(k, sizeof(*k));
		return false;
	default:
		return false;
	}
}

/*
 * Encryption Change (7.7.8: status, handle, enabled) or Encryption Key
 * Refresh Complete (7.7.39: status, handle) on LE link c: the pairing
 * seen may now distribute its keys.
 */
void bond_central_encrypted(struct mux_conn *c, uint8_t code, const uint8_t *param,
			    uint8_t plen)
{
	if (c->link != LINK_LE || !c->pk.seen_pres || plen < 3 || param[0] != 0)
		return;
	if (code == HCI_EV_ENCRYPT_CHANGE && (plen < 4 || param[3] == 0))
		return;
	c->pk.encrypted = true;
}

/* ACL from the device on LE link c: its half of the pairing's exchange. */
void bond_central_dev_smp(struct mux_conn *c, const struct h4_pkt *pkt)
{
	const uint8_t *p;
	size_t n;

	if (c->link != LINK_LE || !(p = smp_whole_pdu(pkt, &n)) || n != 7)
		return;
	if (p[0] == SMP_PAIRING_REQ)
		seen_request(&c->pk, p, false);
	else if (p[0] == SMP_PAIRING_RSP)
		seen_response(&c->pk, p, false);
}

/*
 * The controller's LE Long Term Key Request (7.7.65.5; q its parameters
 * after the subevent code) on link c: answered here with the key the
 * household gave the device, when the device made the link (the gateway
 * peripheral), the owner's user may access it now, and its EDIV and Rand
 * are that key's. Returns true if answered (the host is not told).
 */
/*
 * EDIV and Rand zero (q the request's parameters) on link c, where no
 * pairing has been seen: the household's LE Secure Connections key, if
 * its bond is one (EDIV and Rand zero; a key distributed in a legacy
 * pairing never has both, make_key and Vol 3 Part H 2.4.4), shortened
 * to its key size as the gateway's own encryption uses it. True with
 * ltk set; false: not this case, the host answers.
 */
static bool sc_household_key(struct mux *m, const struct mux_conn *c, const uint8_t *q,
			     uint8_t ltk[16])
{
	static const uint8_t zero[10];
	struct mux_le_bond b;
	bool ok;

	if (memcmp(q + 2, zero, 10) != 0 || c->pk.seen_preq || !m->pol.bond_ltk)
		return false;
	memset(&b, 0, sizeof(b));
	ok = m->pol.bond_ltk(&c->id, c->id_type, &b, m->pol.ctx) == 0 &&
	     b.ediv == 0 && memcmp(b.rand, zero, 8) == 0;
	if (ok) {
		memcpy(ltk, b.ltk, 16);
		if (b.key_size >= 7 && b.key_size < 16)
			memset(ltk + b.key_size, 0, 16 - (size_t)b.key_size);
	}
	secmem_wipe(&b, sizeof(b));
	return ok;
}

bool bond_central_ltk_req(struct mux *m, struct mux_conn *c, const uint8_t *q, size_t qlen)
{
	struct mux_le_pkey key;
	uint8_t want[10], have[10], p[18];
	char as[BDADDR_STRLEN];
	struct mux_session *s = c->owner;
	bool done = false;

	if (qlen != HCI_LE_EV_LTK_REQUEST_LEN || c->link != LINK_LE || c->le_central ||
	    !s || s->dead || !pol_access(m, s->user, &c->id, c->id_type))
		return false;
	if (sc_household_key(m, c, q, p + 2)) {
		put_le16(p, c->handle);
		internal_cmd(m, HCI_OP_LE_LTK_REPLY, p, sizeof(p));
		log_info("session %u (%s): %s encrypts as central with the household's LE Secure Connections key",
			 s->id, s->user, bdaddr_fmt(&c->id, as));
		secmem_wipe(p, sizeof(p));
		return true;
	}
	/* EDIV and Rand zero otherwise: an STK or the host's SC key, never a
	 * kept key (make_key; the store and the monitor refuse one). */
	if (!memcmp(q + 2, "\0\0\0\0\0\0\0\0\0\0", 10))
		return false;
	if (!m->pol.bond_pltk || m->pol.bond_pltk(&c->id, c->id_type, &key, m->pol.ctx) < 0)
		return false;
	/* Rand (8 octets), then EDIV, as the request carries them. */
	memcpy(want, q + 2, 10);
	memcpy(have, key.rand, 8);
	put_le16(have + 8, key.ediv);
	if (secmem_is_equal(want, have, sizeof(want))) {
		put_le16(p, c->handle);
		memcpy(p + 2, key.ltk, 16);
		internal_cmd(m, HCI_OP_LE_LTK_REPLY, p, sizeof(p));
		log_info("session %u (%s): %s encrypts as central with the household's LE key",
			 s->id, s->user, bdaddr_fmt(&c->id, as));
		done = true;
	}
	secmem_wipe(&key, sizeof(key));
	secmem_wipe(have, sizeof(have));
	secmem_wipe(p, sizeof(p));
	return done;
}
