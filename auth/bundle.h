/* SPDX-License-Identifier: MIT */
/*
 * The enrolment bundle: what bgw-authdb cert issue writes on the gateway
 * and bgw-cdclient --bundle reads on the family member's laptop, so both
 * sides share this module and the client needs no user database. A text
 * file, 0600, documented in bgw-authdb(8):
 *
 *   # comment lines
 *   bgw-bundle 1
 *   user NAME
 *   server HOST[:PORT]         optional if there is a relay line
 *   relay HOST:PORT            0 to BUNDLE_RELAYS_MAX lines (doc/relay.md)
 *   home-id ID                 exactly when there are relay lines: the
 *                              CA key's home id (lib/homeid.h)
 *   ca-sha256 HEX64            pin: SHA-256 of the CA certificate (DER)
 *   <blank line>
 *   the client certificate (PEM), the client key (PKCS#8 PEM), the CA
 *   certificate (PEM), in this order.
 */
#ifndef BGW_AUTH_BUNDLE_H
#define BGW_AUTH_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homeid.h"
#include "name.h"

#define BUNDLE_FPR_LEN		32		/* SHA-256 */
#define BUNDLE_SERVER_MAX	256
#define BUNDLE_PEM_MAX		(64u << 10)	/* the whole file */
#define BUNDLE_RELAYS_MAX	4

struct bundle {
	char user[AUTH_NAME_MAX + 1];
	char server[BUNDLE_SERVER_MAX + 1];	/* "": none, relays only */
	char relay[BUNDLE_RELAYS_MAX][BUNDLE_SERVER_MAX + 1];
	size_t nrelay;
	uint8_t home_id[HOMEID_LEN];	/* with relays; read: checked against ca_pem */
	uint8_t ca_fpr[BUNDLE_FPR_LEN];
	char *cert_pem;		/* NUL-terminated */
	char *key_pem;		/* NUL-terminated; wiped by bundle_free */
	char *ca_pem;
};

/* SHA-256 of a PEM certificate's DER: 0, -EBADMSG if it does not parse. */
int bundle_cert_fingerprint(const char *pem, size_t len, uint8_t fpr[BUNDLE_FPR_LEN]);
/*
 * Write b (user, server and/or relays, ca_fpr and the three PEM blocks)
 * to path atomically with mode 0600; with relays, the home id of
 * b->ca_pem's key goes with them (b->home_id is not read). -EEXIST if
 * path exists, -EINVAL for a bad user, server or relay, neither a server
 * nor a relay, or a missing block.
 */
int bundle_write(const char *path, const struct bundle *b);
/* HOST:PORT with a port 1-65535 (a relay has no default port). */
bool bundle_relay_is_valid(const char *s);
/*
 * Read a bundle (the client's side): checks the header, the three PEM
 * blocks, that the CA certificate matches the pin and that the home id
 * (if any) is its key's. -EBADMSG if not.
 */
int bundle_read(const char *path, struct bundle *out);
/* Wipes the key and frees the blocks; NULL is fine. */
void bundle_free(struct bundle *b);

#endif /* BGW_AUTH_BUNDLE_H */
