/* SPDX-License-Identifier: MIT */
/*
 * The server side of a password login, for the tunnel: SCRAM-SHA-256 with
 * channel binding against the authdb, with the rate limits and the audit
 * record done in the one right order, so that every caller gets these
 * right:
 *
 *  - both limiters (source address, claimed user) are consulted before
 *    any work; a limited attempt is refused and audited (login-limited);
 *  - an unknown, disabled or password-less user runs the same exchange
 *    against a fabricated verifier and fails with the same message as a
 *    wrong password (authdb_scram_lookup);
 *  - a failure counts against both limiters and is audited (login-fail);
 *    a success clears both and is audited (login-ok).
 *
 *	login_server_new(&l, &params);
 *	while ((ret = login_server_step(l, in, in_len, out, cap, &out_len)) == 1)
 *		send(out), receive(in);
 *	send(out) if out_len;	// "v=..." on success, "e=..." on failure
 *	ret == 0: authenticated as login_server_user(l)
 *
 * The table is referenced (authdb_ref) for the login's lifetime, so a
 * reload may swap the daemon's table meanwhile.
 */
#ifndef BGW_AUTHDB_LOGIN_H
#define BGW_AUTHDB_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "authdb.h"
#include "ratelimit.h"

struct login_params {
	struct authdb *db;		/* referenced */
	const uint8_t *secret;		/* authdb_secret_load() */
	size_t secret_len;
	struct ratelimit *by_src;	/* may be NULL (tests) */
	struct ratelimit *by_user;	/* may be NULL */
	struct audit_log *audit;	/* may be NULL */
	/*
	 * The peer's address as text, for the source limit and the audit:
	 * without the port (a new port per connection would make a new key)
	 * and, for IPv6, reduced to its /64 (one host owns a whole /64).
	 */
	const char *src;
	const uint8_t *cb;		/* tls-exporter channel binding */
	size_t cb_len;
	uint64_t now_ms;		/* monotonic, for the limiters */
};

struct login_server;

int login_server_new(struct login_server **out, const struct login_params *p);
void login_server_free(struct login_server *l);
/*
 * Feed the client's next message; writes the reply (possibly empty).
 * Returns 1: send out and call again with the client's next message;
 * 0: authenticated (send out, the server's proof); -EACCES: refused
 * (send out); -EAGAIN: rate limited (send out); -EBADMSG: malformed
 * (send out, then drop the session); other negative errno: local error.
 */
int login_server_step(struct login_server *l, const char *in, size_t in_len,
		      char *out, size_t cap, size_t *out_len);
/* The authenticated user (NULL before success). */
const char *login_server_user(const struct login_server *l);

#endif
