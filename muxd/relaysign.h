/* SPDX-License-Identifier: MIT */
/*
 * The monitor's side of a relay registration (doc/relay.md,
 * "Integration"): the network front hands it a relay's REG_CHALLENGE
 * (RPC_RELAY_SIGN) and gets back the REGISTER datagram, signed with the
 * gateway CA's key, which never leaves the monitor.
 *
 * What the monitor signs is bounded so that a subverted front gains no
 * signing oracle: only a well-formed REG_CHALLENGE (rmsg_decode), only for
 * this CA's own home id, each challenge (ts, cookie) once, at most
 * RELAYSIGN_BURST signatures and then one per RELAYSIGN_PERIOD_MS. The
 * bytes signed always begin with the relay context string
 * (rmsg_register_tbs), which no certificate the CA signs can begin with.
 */
#ifndef BGW_MUX_RELAYSIGN_H
#define BGW_MUX_RELAYSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/abstract.h>

#include "rmsg.h"

#define RELAYSIGN_BURST		8
#define RELAYSIGN_PERIOD_MS	5000
/*
 * Challenges remembered: more than can be signed while a relay's cookie
 * is valid (20 s: RELAYSIGN_BURST + 20 s / 5 s = 12), so a replayed
 * challenge is always recognised before the relay would take it anyway.
 */
#define RELAYSIGN_SEEN		32

struct relaysign {
	gnutls_privkey_t key;		/* owned */
	uint8_t id[RMSG_ID_LEN];	/* the key's home id */
	struct {
		uint32_t ts;
		uint8_t cookie[RMSG_COOKIE_LEN];
	} seen[RELAYSIGN_SEEN];
	unsigned nseen, next;
	uint64_t tokens_ms;		/* RELAYSIGN_PERIOD_MS per signature */
	uint64_t last_ms;
	bool started;
};

/*
 * Take key (ownership passes, also on failure) and compute its id:
 * 0, or -EINVAL (not ECDSA P-256 or Ed25519), -EMSGSIZE, -EIO.
 */
int relaysign_init(struct relaysign *rs, gnutls_privkey_t key);
/* Load a PEM private key file (the CA's ca.key) and init: 0 or -errno. */
int relaysign_load(struct relaysign *rs, const char *path);
void relaysign_free(struct relaysign *rs);

/*
 * Answer the challenge datagram ch (exactly as the relay sent it) at time
 * now_ms: the REGISTER datagram's length in out, or -EPROTO (not a
 * well-formed REG_CHALLENGE), -EACCES (another id), -EALREADY (signed
 * before), -EAGAIN (over the rate), -EMSGSIZE, -EIO.
 */
int relaysign_answer(struct relaysign *rs, const uint8_t *ch, size_t len, uint64_t now_ms,
		     uint8_t *out, size_t cap);

#endif /* BGW_MUX_RELAYSIGN_H */
