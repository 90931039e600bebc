/* SPDX-License-Identifier: MIT */
/*
 * The monitor's side of a relay registration (doc/relay.md,
 * "Integration"): the network front hands it a relay's REG_CHALLENGE
 * (RPC_RELAY_SIGN) and gets back the REGISTER datagram, signed with the
 * gateway CA's key (REGISTER), or with a registration key the CA
 * certified (REGISTER2, relay-cert: the CA key need not be on the
 * gateway); the key never leaves the monitor.
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
#include "rsign.h"

#define RELAYSIGN_BURST		8
#define RELAYSIGN_PERIOD_MS	5000
/*
 * Challenges remembered: more than can be signed while a relay's cookie
 * is valid (20 s: RELAYSIGN_BURST + 20 s / 5 s = 12), so a replayed
 * challenge is always recognised before the relay would take it anyway.
 */
#define RELAYSIGN_SEEN		32
/*
 * A registration certificate this close to its end is warned about (at
 * start and once a day): two weeks to renew one that lives 90 days.
 */
#define RELAYSIGN_WARN_DAYS	14

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
	bool v2;			/* key is a registration key: send REGISTER2 */
	struct rsign_cred cred;		/* its certificate, when v2 */
};

/*
 * Take key (ownership passes, also on failure) and compute its id:
 * 0, or -EINVAL (not ECDSA P-256 or Ed25519), -EMSGSIZE, -EIO.
 */
int relaysign_init(struct relaysign *rs, gnutls_privkey_t key);
/* Load a PEM private key file (the CA's ca.key) and init: 0 or -errno. */
int relaysign_load(struct relaysign *rs, const char *path);
/*
 * After relaysign_load of a registration key: its certificate (PEM file
 * cert_path) under the CA certificate in ca_path; the id becomes the
 * CA's and answers are REGISTER2. 0, -ENOENT (a file cannot be read), or
 * rsign_cred_init's errors (rsign_why says them).
 */
int relaysign_load_cert(struct relaysign *rs, const char *ca_path, const char *cert_path);
void relaysign_free(struct relaysign *rs);
/*
 * Whole days the registration certificate has left at Unix time now_s
 * (negative once expired), or INT32_MAX without one (REGISTER v1).
 */
int32_t relaysign_days_left(const struct relaysign *rs, int64_t now_s);

/*
 * Answer the challenge datagram ch (exactly as the relay sent it) at time
 * now_ms: the REGISTER datagram's length in out, or -EPROTO (not a
 * well-formed REG_CHALLENGE), -EACCES (another id), -EALREADY (signed
 * before), -EAGAIN (over the rate), -EMSGSIZE, -EIO.
 */
int relaysign_answer(struct relaysign *rs, const uint8_t *ch, size_t len, uint64_t now_ms,
		     uint8_t *out, size_t cap);

#endif /* BGW_MUX_RELAYSIGN_H */
