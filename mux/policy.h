/* SPDX-License-Identifier: MIT */
/*
 * Who may do what through the multiplexer. The daemon fills this from the
 * authdb (authdb/); tests fill it from small in-memory tables. The core only
 * asks; it never caches an answer across mux_policy_changed(), but may keep
 * one until then (may_access per advertiser and user, for advertising
 * reports): whoever changes what these answer calls mux_policy_changed().
 *
 * Every callback may be NULL: a NULL is_user means every named user exists,
 * a NULL is_admin means nobody is an admin, a NULL may_access means
 * nobody may see or reach any remote device (default deny), and a NULL
 * resolve_rpa means no IRK but those SMP distributes.
 *
 * addr_type is BDADDR_PUBLIC for BR/EDR and LE public addresses and
 * BDADDR_RANDOM for LE random ones (lib/bdaddr.h); LE identity address
 * types 0x02/0x03 reported by the controller are mapped to 0x00/0x01.
 */
#ifndef BGW_MUX_POLICY_H
#define BGW_MUX_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "bdaddr.h"

/* An LE bond's keys (Vol 3 Part H 3.6.2, 3.6.3): secret, wipe after use. */
/*
 * The key a device holds for the gateway as its peripheral: an LTK,
 * EDIV and Rand (Vol 3 Part H 3.6.2-3.6.3) the mux distributed in a
 * host's place, the LTK already shortened to the pairing's key size.
 */
struct mux_le_pkey {
	uint8_t ltk[16];
	uint16_t ediv;
	uint8_t rand[8];
};

struct mux_le_bond {
	uint8_t ltk[16];
	uint16_t ediv;
	uint8_t rand[8];
	uint8_t key_size;	/* 7-16 */
	bool authenticated;	/* MITM-protected pairing */
	/*
	 * The IRK the device distributed with its identity (Identity
	 * Information, 3.6.4; bond_new_le's address is then that identity,
	 * 3.6.5), kept so its private addresses find the bond (resolve_rpa);
	 * bond_ltk gives it back so that the hosts the mux answers learn it.
	 */
	bool has_irk;
	uint8_t irk[16];
};

struct mux_policy {
	/* The user still exists (a reload that removed it ends its sessions). */
	bool (*is_user)(const char *user, void *ctx);
	/* May make the gateway discoverable, advertise, send vendor/test commands. */
	bool (*is_admin)(const char *user, void *ctx);
	/* May see (inquiry, advertising, names) and connect to this remote device. */
	bool (*may_access)(const char *user, const struct bdaddr *addr,
			   uint8_t addr_type, void *ctx);
	/*
	 * A command (opcode) to a device the user may not access was refused
	 * (for the audit log). Called for a session's first 16 refusals,
	 * then one in 1024, so a hostile host cannot flood the log. May be
	 * NULL.
	 */
	void (*denied)(const char *user, const struct bdaddr *addr,
		       uint8_t addr_type, uint16_t opcode, void *ctx);
	/*
	 * The identity (address and type) of the device whose admin-given
	 * IRK resolves the resolvable private address rpa (the authdb's
	 * device irk, bgw-authdb(5)), or the IRK kept with the device's
	 * household LE bond (bond_new_le): 0, or -ENOENT when none does. The
	 * core then applies may_access to that identity, for every user, as
	 * it does with the IRKs it sees a device distribute over SMP (those
	 * are bound to the one user whose link carried them), and looks the
	 * household LE bond up by it. May be NULL.
	 */
	int (*resolve_rpa)(const struct bdaddr *rpa, struct bdaddr *id,
			   uint8_t *id_type, void *ctx);
	/*
	 * Household bonds (doc/virtual-controller.md, "Household bonds"):
	 * the BR/EDR link key kept for device a: 0 with the key and its
	 * Key_Type (key may be NULL: only whether there is one), -ENOENT
	 * when there is none. The core wipes the key as soon as it has
	 * answered the controller with it. NULL: no household bonds.
	 */
	int (*bond_key)(const struct bdaddr *a, uint8_t key[16], uint8_t *key_type,
			void *ctx);
	/*
	 * A pairing of user's host with device a made this link key (Link
	 * Key Notification): keep it as the household's bond, replacing
	 * any. 0, or a negative errno when it could not be kept (then the
	 * host gets the real key, as without bonds). NULL: not kept.
	 */
	int (*bond_new)(const char *user, const struct bdaddr *a,
			const uint8_t key[16], uint8_t key_type, void *ctx);
	void *ctx;
	/*
	 * (After ctx, so the positional initialisers of the fields above
	 * stay what they were.) LE household bonds (doc/virtual-controller.md, "Household bonds",
	 * LE): the LTK, EDIV and Rand kept for device (a, addr_type): 0 with
	 * them (b may be NULL: only whether there is one), -ENOENT when
	 * there is none. The core wipes b after its one use. NULL: none.
	 */
	int (*bond_ltk)(const struct bdaddr *a, uint8_t addr_type,
			struct mux_le_bond *b, void *ctx);
	/*
	 * A pairing of user's host with device (a, addr_type) made the
	 * device distribute this LTK (legacy pairing): keep it as the
	 * household's LE bond, replacing any. 0, or a negative errno (then
	 * the host gets the real key, as without bonds). NULL: not kept.
	 */
	int (*bond_new_le)(const char *user, const struct bdaddr *a,
			   uint8_t addr_type, const struct mux_le_bond *b,
			   void *ctx);
	/*
	 * The core refused user's pairing with device (a, addr_type) for
	 * the household (an LE Secure Connections device that needs a
	 * passkey or a compared number, doc/virtual-controller.md): why,
	 * one short line for the audit log, no secret in it. May be NULL.
	 */
	void (*pair_refused)(const char *user, const struct bdaddr *a,
			     uint8_t addr_type, const char *why, void *ctx);
	/*
	 * The device as central (doc/virtual-controller.md, "The device as
	 * central"): the LTK, EDIV and Rand the mux gave device (a,
	 * addr_type) in place of a host's own key distribution, which it
	 * encrypts with when it connects to the gateway: 0 with them, or
	 * -ENOENT. The core wipes k after its one use. NULL: none.
	 */
	int (*bond_pltk)(const struct bdaddr *a, uint8_t addr_type,
			 struct mux_le_pkey *k, void *ctx);
	/*
	 * ... and keep a new one, made at random by the mux in a pairing of
	 * user's host with the device, replacing any (the device replaces
	 * its bond too). 0, or a negative errno (then the host's own key
	 * goes to the device, as without bonds). NULL: not kept.
	 */
	int (*bond_new_pltk)(const char *user, const struct bdaddr *a,
			     uint8_t addr_type, const struct mux_le_pkey *k,
			     void *ctx);
};

#endif /* BGW_MUX_POLICY_H */
