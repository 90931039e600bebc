/* SPDX-License-Identifier: MIT */
/*
 * A host's BR/EDR authentication and encryption as Linux runs them
 * (doc notes, "Security and pairing (BR/EDR)"): Authentication Requested;
 * a Link Key Request answered with the key the host stored for the
 * device, or the negative reply; Secure Simple Pairing Just Works (IO
 * Capability Reply DisplayYesNo, general bonding, the confirmation
 * accepted); a Link Key Notification stored as the host's bond; then,
 * on success, Set Connection Encryption and its Encryption Change. Like
 * BlueZ, a host whose stored key was refused (Authentication Failure
 * or PIN or Key Missing) forgets it.
 */
#ifndef BGW_TESTS_HOSTAUTH_H
#define BGW_TESTS_HOSTAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "hostdrv.h"

/* What one host keeps for one device (BlueZ's bond). */
struct hostauth_bond {
	bool has;
	uint8_t key[16];
	uint8_t type;
	unsigned lkr;		/* Link Key Requests this host was asked */
};

/*
 * Authenticate (and, on success, encrypt) the link handle to addr.
 * Returns the Authentication Complete status (0..255; 0 also needs
 * Encryption Change with encryption on), or a negative errno.
 */
int hostauth_run(struct hostdrv *d, uint16_t handle, const uint8_t addr[6],
		 struct hostauth_bond *b);

#endif
