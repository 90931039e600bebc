/* SPDX-License-Identifier: MIT */
/*
 * The gateway's side of a registration (doc/relay.md, "Registration"):
 * the SubjectPublicKeyInfo of its CA key and a signature over the relay's
 * challenge (rmsg_register_tbs). Kept apart from the engine so that the
 * gateway links only this and the codec.
 */
#ifndef BGW_RELAY_RSIGN_H
#define BGW_RELAY_RSIGN_H

#include <stdint.h>

#include <gnutls/abstract.h>

#include "rmsg.h"

struct rsign {
	uint8_t spki[RMSG_SPKI_MAX];
	uint16_t spki_len;
	uint8_t sig[RMSG_SIG_MAX];
	uint16_t sig_len;
};

/* The key's SPKI (DER) and home id: 0, -EINVAL (key type), -EMSGSIZE, -EIO. */
int rsign_key(gnutls_privkey_t key, struct rsign *out, uint8_t id[RMSG_ID_LEN]);
/*
 * Fill a REGISTER answering challenge ch (REG_CHALLENGE) with key's proof;
 * m->spki and m->sig point into out. 0 or a negative errno.
 */
int rsign_register(gnutls_privkey_t key, const struct rmsg *ch, struct rsign *out,
		   struct rmsg *m);

#endif /* BGW_RELAY_RSIGN_H */
