/* SPDX-License-Identifier: MIT */
/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) with channel binding, for password
 * logins over the tunnel.
 *
 * Why SCRAM and not the paper's CHAP (section 3.2.1 (2)): CHAP needs the
 * plaintext on the server. With SCRAM the server stores only a salted
 * verifier (StoredKey, ServerKey); a stolen authdb does not let anyone log
 * in, the password never crosses the wire, the server proves it holds the
 * verifier, and channel binding ties the login to the DTLS session, so a
 * login relayed through a man in the middle fails.
 *
 * Channel binding: the tunnel passes the RFC 9266 "tls-exporter" value
 * (RFC 5705 exporter, label "EXPORTER-Channel-Binding", empty context,
 * 32 bytes). When the server is given binding data it requires the client
 * to use it ("p=tls-exporter"); "n" and "y" are refused. Without binding
 * data (tests, RFC 7677 vector) "n" and "y" are accepted and "p" refused.
 *
 * The four messages, each at most SCRAM_MSG_MAX bytes:
 *
 *	client				server
 *	scram_client_first()	-->	scram_server_recv_first()
 *					  caller: lookup verifier of
 *					  scram_server_user() (a fabricated
 *					  one if unknown: authdb_scram_lookup)
 *				<--	scram_server_first()
 *	scram_client_final()	-->	scram_server_final()
 *	scram_client_verify()	<--	  "v=..." or "e=invalid-proof"
 *
 * Unknown user, disabled user and wrong password give the same server
 * messages and do the same work (RFC 5802 section 9: the fabricated
 * verifier is deterministic per user name, so probing twice reveals
 * nothing either).
 *
 * Passwords are used as the exact UTF-8 bytes given (no SASLprep
 * normalisation; identical for printable ASCII). All state holding key
 * material is wiped on free.
 */
#ifndef BGW_AUTH_SCRAM_H
#define BGW_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN		32	/* SHA-256 */
#define SCRAM_SALT_LEN		16	/* generated salts */
#define SCRAM_SALT_MAX		64	/* accepted salts */
/*
 * Iterations: RFC 7677 asks for at least 4096. We default to 16384 --
 * about 10 ms on a small ARM gateway's client, negligible on a laptop --
 * and a client refuses counts outside [MIN, MAX] so a fake server can
 * neither downgrade the work factor nor make the client spin.
 */
#define SCRAM_ITER_DEFAULT	16384
#define SCRAM_ITER_MIN		4096
#define SCRAM_ITER_MAX		1000000
#define SCRAM_MSG_MAX		1024
/* AuthMessage: client-first-bare "," server-first "," client-final-w/o-proof */
#define SCRAM_AM_MAX		(3 * SCRAM_MSG_MAX + 2)
#define SCRAM_NONCE_MAX		128
#define SCRAM_USER_MAX		64
#define SCRAM_PASSWORD_MAX	1024
#define SCRAM_CB_MAX		64
#define SCRAM_CB_NAME		"tls-exporter"
#define SCRAM_MECH		"SCRAM-SHA-256-PLUS"

struct scram_verifier {
	uint32_t iterations;
	size_t salt_len;
	uint8_t salt[SCRAM_SALT_MAX];
	uint8_t stored_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

/* A verifier from a password: random salt, iterations (0: default). */
int scram_verifier_make(const char *password, size_t pwlen, uint32_t iterations,
			struct scram_verifier *v);
/* The same with a given salt (tests, known-answer vectors). */
int scram_verifier_derive(const char *password, size_t pwlen,
			  const uint8_t *salt, size_t salt_len,
			  uint32_t iterations, struct scram_verifier *v);
/*
 * The verifier the server uses for a user it does not know (or a disabled
 * one): salt and keys are HMACs of the user name under a server secret,
 * so answers are stable across attempts and indistinguishable from a real
 * user with the default iteration count.
 */
int scram_verifier_fake(const uint8_t *secret, size_t secret_len,
			const char *user, struct scram_verifier *v);
void scram_verifier_wipe(struct scram_verifier *v);

struct scram_client;
struct scram_server;

/*
 * cb/cb_len: channel binding data (NULL, 0: none, gs2 flag "n").
 * nonce: NULL for a fresh random nonce; tests pass the RFC vector's.
 * Returns 0 or a negative errno (-EINVAL for an unusable user name).
 */
int scram_client_new(struct scram_client **out, const char *user,
		     const char *password, size_t pwlen,
		     const uint8_t *cb, size_t cb_len, const char *nonce);
void scram_client_free(struct scram_client *c);
/* Each writes a NUL-terminated message into out and its length to *len. */
int scram_client_first(struct scram_client *c, char *out, size_t cap, size_t *len);
/*
 * Consumes server-first, produces client-final. -EACCES if the server
 * refused at once ("e=..."), -EBADMSG if malformed.
 */
int scram_client_final(struct scram_client *c, const char *srv, size_t srv_len,
		       char *out, size_t cap, size_t *len);
/*
 * Consumes server-final: 0 when the server proved it holds our verifier,
 * -EACCES when it said no ("e=...") or its signature is wrong, -EBADMSG
 * if malformed.
 */
int scram_client_verify(struct scram_client *c, const char *srv, size_t srv_len);

int scram_server_new(struct scram_server **out, const uint8_t *cb, size_t cb_len,
		     const char *nonce);
void scram_server_free(struct scram_server *s);
/* Consumes client-first. -EBADMSG if malformed, -EPROTO on a binding mismatch. */
int scram_server_recv_first(struct scram_server *s, const char *msg, size_t len);
/* The user name the client asked for (valid after recv_first). */
const char *scram_server_user(const struct scram_server *s);
/*
 * Produces server-first with the verifier to check against; real is false
 * for a fabricated one, which then fails at the end whatever the proof.
 */
int scram_server_first(struct scram_server *s, const struct scram_verifier *v,
		       bool real, char *out, size_t cap, size_t *len);
/*
 * Consumes client-final, produces server-final. Returns 0 (authenticated,
 * out is "v=..."), -EACCES (out is "e=invalid-proof" for a wrong proof and
 * equally for an unknown or disabled user, with the same work; or
 * "e=channel-bindings-dont-match", which is checked before and
 * independently of the user) or -EBADMSG (malformed; "e=other-error").
 */
int scram_server_final(struct scram_server *s, const char *msg, size_t len,
		       char *out, size_t cap, size_t *olen);
bool scram_server_is_authenticated(const struct scram_server *s);
/*
 * The proof check alone, for a server whose verifiers live in another
 * process (bgw-muxd's monitor): with AuthMessage am and the client's
 * ClientProof, ClientSignature = HMAC(StoredKey, am), ClientKey = proof
 * XOR ClientSignature, H(ClientKey) compared with StoredKey in constant
 * time. 0 with ssig = HMAC(ServerKey, am) when it matches and real;
 * -EACCES otherwise (ssig zeroed), after the same work.
 */
int scram_proof_check(const struct scram_verifier *v, bool real, const char *am,
		      size_t am_len, const uint8_t proof[SCRAM_KEY_LEN],
		      uint8_t ssig[SCRAM_KEY_LEN]);
/*
 * scram_server_final with the proof checked by verify (0 and ssig: ok;
 * -EACCES: wrong proof; another negative errno is returned as is, with
 * "e=other-error"). verify is not called when the channel binding does
 * not match. scram_server_first may then be given a verifier holding only
 * the salt and the iteration count.
 */
typedef int (*scram_verify_fn)(void *ctx, const char *am, size_t am_len,
			       const uint8_t proof[SCRAM_KEY_LEN],
			       uint8_t ssig[SCRAM_KEY_LEN]);
int scram_server_final_ext(struct scram_server *s, const char *msg, size_t len,
			   scram_verify_fn verify, void *ctx,
			   char *out, size_t cap, size_t *olen);

#endif
