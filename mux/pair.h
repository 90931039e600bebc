/* SPDX-License-Identifier: MIT */
/*
 * Pairing at the gateway (doc/virtual-controller.md, "Pairing at the
 * gateway"): the admin pairs a device once, before granting it to anyone,
 * and its key becomes the household bond: a BR/EDR device's link key, or
 * an LE device's LTK (LE legacy pairing, run here as central).
 *
 * A mux_pair is a host that lives in the core: it opens a session of its
 * own (user MUX_PAIR_USER) with the public API of mux.h and drives it as a
 * host would: Set Event Mask, Create Connection, Authentication
 * Requested, the Link Key Request's negative reply, IO Capability Request
 * Reply (DisplayYesNo, MITM protection, Dedicated Bonding: Vol 4 Part E
 * 7.1.29), the confirmation, then it ends its session, which disconnects
 * the link. Being a session, it has its own handle space and no other
 * session sees any of its events; the Link Key Notification becomes the
 * household bond through the mux's rules (mux_bond.c, the policy's
 * bond_new with user MUX_PAIR_USER) and reaches this host only as a
 * random key, which it never keeps.
 *
 * An LE device: Read BD_ADDR, LE Create Connection, then SMP as the
 * initiator over the link's fixed channel (Vol 3 Part H): Pairing Request
 * with KeyboardDisplay, bonding, MITM, no OOB, Secure Connections. LE
 * legacy pairing (a device without SC): Just Works or passkey entry by the
 * association model (2.3.5.1), c1 and s1 of lib/smp_crypto.c, LE Enable
 * Encryption with the STK, then the device's key distribution, whose LTK
 * becomes the household bond through the mux's LE rules (mux_bond_le.c,
 * bond_new_le with user MUX_PAIR_USER) and reaches this host only as a
 * random LTK. LE Secure Connections: P-256, Just Works, numeric
 * comparison or passkey entry, f4/f5/f6/g2, LE Enable Encryption with the
 * LTK, which crossed no HCI and is handed to the mux to keep
 * (mux_session_bond_le), EDIV and Rand 0, under the identity the device
 * gave with its IRK. A device named by a resolvable private address is
 * bonded under the identity it gives in the pairing only when its IRK
 * resolves that address (MUX_PAIR_NO_IDENTITY otherwise); only keys the
 * Pairing Response promised are taken (Vol 3 Part H 3.6.1).
 *
 * The policy decides whether MUX_PAIR_USER may reach the device (bgw-muxd
 * allows it that one device while the admin's pairing runs). The admin is
 * asked through ops->prompt and answers with mux_pair_answer().
 *
 * Re-entrancy: no callback is made from inside a mux call; every event is
 * handled from the pairing's own zero-delay timer, so ops->done may free
 * the pairing (it is the last thing that touches it).
 */
#ifndef BGW_MUX_PAIR_H
#define BGW_MUX_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "bdaddr.h"
#include "loop.h"
#include "mux.h"

/* Not a name the authdb accepts ('@' starts a group). */
#define MUX_PAIR_USER		"@gateway"
/* The whole pairing, the admin's answer included (Vol 3 Part C: 30 s LMP). */
#define MUX_PAIR_TIMEOUT_US	60000000ULL

enum mux_pair_prompt {
	/* Numeric comparison: answer yes if the device shows the same number. */
	MUX_PAIR_CONFIRM = 1,
	/* The device has a keyboard: type this passkey on it (no answer). */
	MUX_PAIR_PASSKEY,
	/* The device has no display and no input: Just Works (no answer). */
	MUX_PAIR_JUST_WORKS,
	/*
	 * The device shows a passkey: the admin types it (answer with
	 * mux_pair_passkey; value is 0). BR/EDR User Passkey Request
	 * (Vol 4 Part E 7.7.43), LE passkey entry with the device displaying.
	 */
	MUX_PAIR_ENTER,
};

enum mux_pair_result {
	MUX_PAIR_OK = 0,	/* a new link key: the store has it */
	MUX_PAIR_UNREACHABLE,	/* no connection (out of range, off: hci_status) */
	MUX_PAIR_REJECTED,	/* the device refused, or did not confirm */
	MUX_PAIR_ADMIN_NO,	/* the admin answered no */
	MUX_PAIR_PIN,		/* the device wants a PIN code (no SSP) */
	MUX_PAIR_BONDED,	/* authenticated with a key the gateway holds */
	MUX_PAIR_FAILED,	/* anything else (hci_status) */
	MUX_PAIR_TIMEOUT,	/* not done within MUX_PAIR_TIMEOUT_US */
	MUX_PAIR_ENDED,		/* the session was ended (controller lost, policy) */
	MUX_PAIR_NO_KEY,	/* the LE device paired but distributes no LTK: no bond */
	/*
	 * Named by a resolvable private address, the LE device gives no
	 * identity, or one its IRK does not resolve that address to: no bond
	 * (one under the private address would be lost at the next).
	 */
	MUX_PAIR_NO_IDENTITY,
};

/* The device to pair, and how. */
struct mux_pair_dev {
	struct bdaddr a;
	uint8_t type;		/* BDADDR_PUBLIC; BDADDR_RANDOM for LE only */
	bool le;		/* an LE device: SMP as central */
	/*
	 * BR/EDR: the admin types passkeys (IO capability KeyboardOnly
	 * instead of DisplayYesNo), for a device with a display and no
	 * buttons, which then shows the passkey: an authenticated key where
	 * DisplayYesNo gives an unauthenticated one (Vol 3 Part C 5.2.2.6).
	 */
	bool keyboard;
};

struct mux_pair;

struct mux_pair_ops {
	/* The admin's part: kind, and the number to show (000000-999999). */
	void (*prompt)(struct mux_pair *p, enum mux_pair_prompt kind,
		       uint32_t value, void *user);
	/*
	 * The outcome; hci_status is the controller's status that ended
	 * it (0 if none). Called once; the pairing may be freed here.
	 */
	void (*done)(struct mux_pair *p, enum mux_pair_result res,
		     uint8_t hci_status, void *user);
};

/*
 * Start pairing with device d. NULL if no session could be opened (too
 * many sessions, no memory) or d is not one the gateway pairs (a random
 * BR/EDR address). d and ops are copied.
 */
struct mux_pair *mux_pair_start(struct mux *m, struct loop *l, const struct mux_pair_dev *d,
				const struct mux_pair_ops *ops, void *user);
/* The whole pairing's bound instead of MUX_PAIR_TIMEOUT_US (tests). */
void mux_pair_set_timeout(struct mux_pair *p, uint64_t us);
/*
 * The admin's answer to MUX_PAIR_CONFIRM: 0, or -EALREADY when no
 * answer is awaited (answered before, or the pairing has moved on).
 */
int mux_pair_answer(struct mux_pair *p, bool yes);
/*
 * The admin's answer to MUX_PAIR_ENTER: the passkey typed (0-999999), or
 * a negative value when the admin gave none (the pairing is refused).
 * 0, -EINVAL for a passkey above 999999, -EALREADY as above.
 */
int mux_pair_passkey(struct mux_pair *p, int32_t passkey);
/*
 * For the mux's session_dead callback (struct mux_ops): true if s is the
 * pairing's own session, which then ends with MUX_PAIR_ENDED (from the
 * loop). Its emit user is the pairing, not the caller's session type.
 */
bool mux_pair_session_dead(struct mux_pair *p, const struct mux_session *s);
/* Ends the session (and so the link) if still open. NULL is fine. */
void mux_pair_free(struct mux_pair *p);

/* For people: what the result means, one short phrase. */
const char *mux_pair_result_str(enum mux_pair_result r);

#endif /* BGW_MUX_PAIR_H */
