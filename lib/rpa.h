/* SPDX-License-Identifier: MIT */
/*
 * Resolvable private addresses (Core Vol 6 Part B 1.3.2.2): an RPA is
 * prand (24 bits, top two 0b01) || hash, hash = ah(IRK, prand) (Core Vol 3
 * Part H 2.2.2). Addresses and IRKs are in HCI/SMP order, least
 * significant octet first; the authdb, which writes IRKs most significant
 * octet first as the specification's sample data does, reverses its own
 * before calling. The one ah() of the tree: the mux resolves with the IRKs
 * SMP distributes and the authdb with the admin's.
 */
#ifndef BGW_LIB_RPA_H
#define BGW_LIB_RPA_H

#include <stdbool.h>
#include <stdint.h>

#include "bdaddr.h"

/* A random address whose two top bits are 0b01. */
bool rpa_is_resolvable(const struct bdaddr *a);
/* ah(k, r): 0, or -EIO if the cipher failed. */
int rpa_ah(const uint8_t irk[16], const uint8_t prand[3], uint8_t hash[3]);
/* a is an RPA generated from irk. */
bool rpa_matches(const uint8_t irk[16], const struct bdaddr *a);

#endif /* BGW_LIB_RPA_H */
