/* SPDX-License-Identifier: MIT */
/*
 * The home id: a name for a home that nobody else can claim (doc/relay.md,
 * "Home id"). It is the first 128 bits of SHA-256 over the DER
 * SubjectPublicKeyInfo of the gateway CA's key, written in base32
 * (RFC 4648 section 6, lower case, no padding): 26 characters, short
 * enough to read out or type.
 *
 * Self-certifying: whoever registers an id at a relay must show the public
 * key that hashes to it and sign a fresh relay challenge with that key.
 * Finding another key with the same 128-bit prefix is a second-preimage
 * search (2^128 work), so the id needs no registry and no trust in a relay.
 */
#ifndef BGW_LIB_HOMEID_H
#define BGW_LIB_HOMEID_H

#include <stddef.h>
#include <stdint.h>

#define HOMEID_LEN		16	/* bytes on the wire */
#define HOMEID_TEXT_LEN		26	/* base32 characters, without the NUL */

/*
 * The extended key usage a registration key's certificate must carry
 * (RFC 5280 4.2.1.12): an OID of bgw's own, so no certificate made for
 * any other purpose -- a TLS server or client certificate from the same
 * CA included -- passes as one. bgw has no enterprise number; this is the
 * random UUID c52f039b-7a42-4d82-b4fb-35ec7a141fb5 under the arc
 * 1.2.840.113556.1.8000.2554 that exists for OIDs made from UUIDs (split
 * in 16- and 24-bit parts). Not 2.25.<uuid> (X.667): GnuTLS's ASN.1
 * library reads a 128-bit arc as LONG_MAX, so every such OID would look
 * alike.
 */
#define HOMEID_REGKEY_OID \
	"1.2.840.113556.1.8000.2554.50479.923.31298.19842.46331.3533946.1318837"

/* 0, or -EINVAL (empty key) / -EIO (hashing failed). */
int homeid_from_spki(const uint8_t *spki, size_t len, uint8_t id[HOMEID_LEN]);
/* The id of a certificate's key (PEM): 0, -EBADMSG, -EIO. */
int homeid_from_cert_pem(const char *pem, size_t len, uint8_t id[HOMEID_LEN]);
/* text gets HOMEID_TEXT_LEN characters and a NUL. */
void homeid_to_text(const uint8_t id[HOMEID_LEN], char text[HOMEID_TEXT_LEN + 1]);
/*
 * Parse exactly HOMEID_TEXT_LEN base32 characters (either case); the
 * unused low bits of the last character must be zero, so each id has one
 * spelling. 0 or -EINVAL.
 */
int homeid_parse(const char *text, uint8_t id[HOMEID_LEN]);

#endif /* BGW_LIB_HOMEID_H */
