/* SPDX-License-Identifier: MIT */
/*
 * The bond broker (doc/virtual-controller.md, "Household bonds"): a
 * remote device keeps one bond for the gateway's one address, so the mux,
 * not each session's host, holds the BR/EDR link key and answers the
 * controller's Link Key Requests with it for whichever permitted user's
 * link asks. The keys come from and go to the policy (bond_key,
 * bond_new: bgw-muxd's monitor keeps them, doc/security.md); here they
 * live on the stack for one event and are wiped.
 * Part of the multiplexer core (see mux.c for its threat model).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci_defs.h"
#include "log.h"
#include "mux_int.h"
#include "secmem.h"

#define LK_DEBUG 0x03	/* Debug Combination Key (7.7.24): public, never kept */

bool bond_exists(const struct mux *m, const struct bdaddr *a)
{
	return m->pol.bond_key && m->pol.bond_key(a, NULL, NULL, m->pol.ctx) == 0;
}

/*
 * Link Key Request (Vol 4 Part E 7.7.23) for a device with a household
 * bond, on a link (or a connection being made) of a session whose user
 * may access the device now: the mux answers with the household key
 * (Link Key Request Reply, 7.1.10) and the host is not asked, so the
 * authentication the host started completes with the key the device
 * holds, for every permitted user. Returns true if answered.
 */
bool bond_on_link_key_req(struct mux *m, struct mux_session *s,
			  const struct bdaddr *a)
{
	uint8_t p[22], type = 0;
	char as[BDADDR_STRLEN];
	bool done = false;

	if (!m->pol.bond_key || !s || s->dead || !pol_access(m, s->user, a, BDADDR_PUBLIC))
		return false;
	memcpy(p, a->b, 6);
	if (m->pol.bond_key(a, p + 6, &type, m->pol.ctx) == 0) {
		struct mux_conn *c = conn_by_addr(m, a, LINK_ACL);

		internal_cmd(m, HCI_OP_LINK_KEY_REPLY, p, sizeof(p));
		if (c)
			c->bond_key_sent = true;
		log_info("session %u (%s): %s authenticated with the household bond",
			 s->id, s->user, bdaddr_fmt(a, as));
		done = true;
	}
	secmem_wipe(p, sizeof(p));
	return done;
}

/*
 * A device with a household bond asks to pair (IO Capability Request,
 * 7.7.40, or PIN Code Request, 7.7.22): pairing again would give the
 * device a new key and lock every other user out, so it is refused
 * (Pairing Not Allowed, 0x18; a PIN request gets the negative reply) and
 * no host is asked. The admin starts a device over with
 * `bgw-authdb bond forget`. Returns true if refused.
 */
bool bond_refuse_pairing(struct mux *m, uint8_t code, const struct bdaddr *a)
{
	char as[BDADDR_STRLEN];

	if (!bond_exists(m, a))
		return false;
	if (code == HCI_EV_IO_CAPA_REQUEST)
		internal_addr_cmd(m, HCI_OP_IO_CAPABILITY_NEG_REPLY, a,
				  HCI_ST_PAIRING_NOT_ALLOWED);
	else
		internal_addr_cmd(m, HCI_OP_PIN_CODE_NEG_REPLY, a, -1);
	log_notice("%s asked to pair again but has a household bond: refused; bgw-authdb bond forget %s starts it over",
		   bdaddr_fmt(a, as), as);
	return true;
}

/*
 * Link Key Notification (7.7.24) on a session's link: the device now
 * holds this key. It becomes the household bond (the policy keeps it)
 * and the host is sent the same event with a key of its own, random,
 * which it stores as its bond and never needs: the mux answers every
 * later Link Key Request for the device itself. The host so sees a
 * normal pairing (Simple Pairing Complete, Link Key Notification of the
 * real Key_Type, Authentication Complete) and never the household key.
 * A debug key, or a key the policy could not keep, goes to the host
 * unchanged, as without bonds. Returns the event to emit in ev.
 */
void bond_on_link_key_notify(struct mux *m, struct mux_session *s,
			     const uint8_t *p, uint8_t ev[HCI_EV_LINK_KEY_NOTIFY_LEN])
{
	struct bdaddr a = addr_at(p);
	char as[BDADDR_STRLEN];
	uint8_t type = p[22];
	int r;

	memcpy(ev, p, HCI_EV_LINK_KEY_NOTIFY_LEN);
	if (!m->pol.bond_new || type == LK_DEBUG)
		return;
	r = m->pol.bond_new(s->user, &a, p + 6, type, m->pol.ctx);
	if (r < 0) {
		log_err("session %u (%s): the link key of %s could not be kept as the household bond (%s): only this user's host has it",
			s->id, s->user, bdaddr_fmt(&a, as), strerror(-r));
		return;
	}
	if (getrandom(ev + 6, 16, 0) != 16) {
		/* No randomness: the host gets no usable key rather than the real one. */
		memset(ev + 6, 0, 16);
	}
	log_notice("session %u (%s): %s paired: its key is now the household bond",
		   s->id, s->user, bdaddr_fmt(&a, as));
}

/*
 * Authentication Complete (7.7.6) on a link whose Link Key Request the
 * mux answered with the household key: Authentication Failure (0x05) or
 * PIN or Key Missing (0x06) means the device no longer holds that bond
 * (it was reset, or paired with something else). The host sees the
 * status as from any controller; the admin is told what to do, since no
 * user can pair the device again while the household bond stands.
 */
void bond_on_auth_complete(struct mux *m, const uint8_t *p, uint8_t plen)
{
	struct mux_conn *c;
	char as[BDADDR_STRLEN];

	if (plen < 3)
		return;
	c = conn_by_handle(m, get_le16(p + 1));
	if (!c || !c->bond_key_sent)
		return;
	c->bond_key_sent = false;
	if (p[0] != HCI_ST_AUTH_FAILURE && p[0] != HCI_ST_PIN_OR_KEY_MISSING)
		return;
	bdaddr_fmt(&c->addr, as);
	log_warn("%s refused the household key (status 0x%02x, session %u, %s): it no longer holds the gateway's bond; bgw-authdb bond forget %s, then pair it again (bgw-muxd pair %s, or a user's host)",
		 as, p[0], c->owner ? c->owner->id : 0, c->owner ? c->owner->user : "no session",
		 as, as);
}
