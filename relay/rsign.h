/* SPDX-License-Identifier: MIT */
/*
 * Registration proofs (doc/relay.md, "Registration"), both sides.
 *
 * REGISTER (v1): the SubjectPublicKeyInfo of the gateway's CA key and the
 * CA key's signature over the relay's challenge (rmsg_register_tbs).
 *
 * REGISTER2: the CA key stays offline. The CA certifies a registration
 * key (`bgw-authdb ca relay-key`: an X.509 certificate with the extended
 * key usage HOMEID_REGKEY_OID and a short validity); the gateway sends the
 * CA's SPKI (the id's preimage), that certificate, and the registration
 * key's signature over the challenge. rsign_verify is what the relay
 * checks; rsign_cred_init checks the same things on the gateway when it
 * loads the files, so a wrong pair is said at start, not by every relay.
 *
 * Kept apart from the engine so that the gateway links only this and the
 * codec.
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

/* A registration key's credential: public, as sent in REGISTER2. */
struct rsign_cred {
	uint8_t spki[RMSG_SPKI_MAX];	/* the CA's SPKI (DER): the id's preimage */
	uint16_t spki_len;
	uint8_t cert[RMSG_CERT_MAX];	/* the registration key's certificate (DER) */
	uint16_t cert_len;
	uint8_t id[RMSG_ID_LEN];	/* the CA's home id */
	int64_t not_before, not_after;	/* the certificate's validity, Unix time */
};

/* The key's SPKI (DER) and home id: 0, -EINVAL (key type), -EMSGSIZE, -EIO. */
int rsign_key(gnutls_privkey_t key, struct rsign *out, uint8_t id[RMSG_ID_LEN]);
/*
 * Fill a REGISTER answering challenge ch (REG_CHALLENGE) with key's proof;
 * m->spki and m->sig point into out. 0 or a negative errno.
 */
int rsign_register(gnutls_privkey_t key, const struct rmsg *ch, struct rsign *out,
		   struct rmsg *m);

/*
 * Check that cert_pem certifies key for registration under the CA
 * certificate ca_pem, and fill c: 0, or -EBADMSG (a file is not a PEM
 * certificate, or a key type other than ECDSA P-256 / Ed25519),
 * -EMSGSIZE (over RMSG_CERT_MAX or RMSG_SPKI_MAX), -EPERM (no
 * HOMEID_REGKEY_OID purpose), -ENOKEY (not signed by that CA's key),
 * -EKEYREJECTED (certifies another key), -EIO. The dates are not
 * checked: the caller says how long is left.
 */
int rsign_cred_init(struct rsign_cred *c, gnutls_privkey_t key, const char *ca_pem,
		    size_t ca_len, const char *cert_pem, size_t cert_len);
/*
 * A REGISTER2 answering challenge ch, signed by key (the one c
 * certifies); m->spki, m->cert point into c, m->sig into out.
 */
int rsign_register2(gnutls_privkey_t key, const struct rsign_cred *c,
		    const struct rmsg *ch, struct rsign *out, struct rmsg *m);

/* rsign_verify's *not_after for a REGISTER: the CA key's proof has no end. */
#define RSIGN_NO_END	INT64_MAX

/*
 * The relay's check of a decoded REGISTER or REGISTER2 at Unix time
 * now_s, cheapest step first: -ENXIO (the SPKI does not hash to the
 * id), -EBADMSG (SPKI or certificate does not parse, or an algorithm
 * other than ECDSA P-256 with SHA-256 or Ed25519); for REGISTER2 then
 * -EPERM (the certificate lacks the registration purpose), -EKEYEXPIRED
 * (outside its dates), -ENOKEY (not signed by the SPKI's key); -EACCES
 * (the challenge's signature is not the CA key's, for REGISTER2 the
 * certified key's), -EINVAL (another type), -ENOMEM; 0 if all hold, and
 * then the end of the proof's authority (Unix time) in *not_after unless
 * NULL: the certificate's notAfter, RSIGN_NO_END for REGISTER. The relay
 * drops the registration then.
 */
int rsign_verify(const struct rmsg *m, int64_t now_s, int64_t *not_after);
/*
 * A phrase for a log line about rsign_verify's or rsign_cred_init's
 * result; their codes do not overlap in meaning (-ENXIO: the id is not
 * the key's, at the relay; -EKEYREJECTED: the certificate is for another
 * key than the registration key, at the gateway).
 */
const char *rsign_why(int err);

#endif /* BGW_RELAY_RSIGN_H */
