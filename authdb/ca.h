/* SPDX-License-Identifier: MIT */
/*
 * The BGW's own certificate authority (paper 3.2.1 (1): the BGW is the CA
 * of its certificate mode), with GnuTLS's x509 API and ECDSA P-256 keys.
 *
 * Files in the CA directory (default /etc/bgw, created 0700), each 0600:
 *   ca.key ca.crt          the CA (self-signed, CA:TRUE, pathlen 0)
 *   server.key server.crt  the gateway's DTLS server certificate
 *                          (TLS server purpose; DNS and IP SANs)
 * Client certificates: CN = user name, TLS client purpose, 128-bit random
 * serial; their serial and SHA-256 fingerprint go into the authdb ("cert"
 * line) so the daemon maps a certificate to its user and can revoke it.
 *
 * The enrolment bundle it writes is auth/bundle.h's.
 */
#ifndef BGW_AUTHDB_CA_H
#define BGW_AUTHDB_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "authdb.h"
#include "bundle.h"

#define CA_DEFAULT_DIR		"/etc/bgw"
#define CA_NAMES_MAX		16
#define CA_DAYS_DEFAULT_CA	3650
#define CA_DAYS_DEFAULT_CERT	825
#define CA_PEM_MAX		(64u << 10)

struct ca_server_names {
	const char *cn;			/* server certificate CN */
	const char *dns[CA_NAMES_MAX];	/* DNS SANs */
	size_t ndns;
	const char *ip[CA_NAMES_MAX];	/* IPv4/IPv6 SANs, textual */
	size_t nip;
};

/*
 * Create dir (0700) if needed and the four files (O_EXCL: -EEXIST if any
 * is there; nothing half-made is left behind on failure).
 */
int ca_init(const char *dir, const char *ca_cn, const struct ca_server_names *srv,
	    unsigned days);

struct ca_issued {
	char *cert_pem;		/* NUL-terminated */
	char *key_pem;		/* NUL-terminated; wiped by ca_issued_wipe */
	char *ca_pem;
	char serial[AUTHDB_SERIAL_MAX + 1];
	uint8_t fpr[AUTHDB_FPR_LEN];
	uint8_t ca_fpr[AUTHDB_FPR_LEN];
};

/*
 * A client key and certificate for user, valid [not_before, not_after],
 * signed with dir's ca.key and ca.crt: -ENOENT if one is missing,
 * -EBADMSG if one does not parse.
 */
int ca_issue_client(const char *dir, const char *user, time_t not_before,
		    time_t not_after, struct ca_issued *out);
void ca_issued_wipe(struct ca_issued *c);

#define CA_DAYS_DEFAULT_RELAY	90
#define CA_DAYS_MAX_RELAY	397

/*
 * A relay registration key (doc/relay.md, "Registration key") and its
 * certificate, signed with dir's ca.key and ca.crt: a new ECDSA P-256
 * key, CN "bgw relay registration", not a CA, digitalSignature only, the
 * extended key usage HOMEID_REGKEY_OID alone and marked critical, valid
 * from 5 minutes ago for days (1 to CA_DAYS_MAX_RELAY). out->key_pem,
 * out->cert_pem, out->serial and out->fpr are set (ca_issued_wipe).
 * -ENOENT if a CA file is missing, -EBADMSG if one does not parse.
 */
int ca_issue_relay_key(const char *dir, unsigned days, struct ca_issued *out);

/*
 * What the tunnel does with a client certificate: verify it against the
 * CA now (signature, validity period, CA flag), then map it through the
 * authdb (revoked serial, known fingerprint, enabled user).
 * Returns 0 and user; -EKEYEXPIRED (expired or not yet valid),
 * -EKEYREJECTED (bad chain), -EKEYREVOKED, -ENOENT (unknown certificate or
 * user gone/disabled), or another negative errno.
 */
int ca_verify_client(const char *ca_pem, size_t ca_len, const char *cert_pem,
		     size_t cert_len, const struct authdb *db,
		     char user[AUTHDB_NAME_MAX + 1]);

/* Where a bundle sends the client: a server, relays, or both. */
struct ca_bundle_dest {
	const char *server;			/* HOST[:PORT] or NULL */
	const char *relay[BUNDLE_RELAYS_MAX];	/* HOST:PORT */
	size_t nrelay;
};

/*
 * bundle_write() with an issued certificate (-EEXIST if path exists);
 * -EINVAL if there is neither a server nor a relay, or one is malformed.
 */
int ca_bundle_write(const char *path, const char *user,
		    const struct ca_bundle_dest *dest, const struct ca_issued *c);

#endif
