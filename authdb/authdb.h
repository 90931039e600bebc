/* SPDX-License-Identifier: MIT */
/*
 * The authdb: who may use the gateway, how they prove it, and which remote
 * devices (RDs) each may see. The format is specified in bgw-authdb(5).
 *
 * Reading: one parser with an init/line/finish API (unit-tested and fuzzed
 * on exactly the code the daemon runs). authdb_load() checks the file's
 * owner and mode, feeds each line and returns a new table only if the
 * whole file parsed: the daemon keeps serving its current table and swaps
 * pointers on success (hostapd's reload rule).
 *
 *	struct authdb *db = NULL;
 *	if (authdb_load(path, daemon_uid, &db) == 0) {
 *		authdb_free(current);
 *		current = db;
 *	}			// else: logged with file:line; keep current
 *
 * Errors read "FILE:LINE: what: 'value'". The line API logs them through
 * log.h and keeps the last (authdb_parser_error()); authdb_parse_buffer()
 * and authdb_load() hand the first to the caller's err buffer instead, or
 * log it when err is NULL.
 *
 * Writing: only bgw-authdb writes. It takes the lock, loads, edits (every
 * edit keeps the other lines, comments and order exactly as they were) and
 * saves: temp file in the same directory, write, fsync, chmod 0600,
 * rename, fsync of the directory. A crash at any point leaves either the
 * old or the new file.
 *
 * Queries on a loaded table go through sorted indexes (O(log n); a grant
 * check walks only the grants of that one RD); on a table being edited
 * they scan. Default deny: an address not granted to the user or one of
 * the user's groups is not visible.
 */
#ifndef BGW_AUTHDB_H
#define BGW_AUTHDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bdaddr.h"
#include "name.h"
#include "scram.h"

/* Caps: exceeding any of them rejects the file, never truncates it. */
#define AUTHDB_LINE_MAX		4096	/* bytes, without the newline */
#define AUTHDB_LINES_MAX	65536
#define AUTHDB_FILE_MAX		(8u << 20)
#define AUTHDB_NAME_MAX		AUTH_NAME_MAX	/* user and group names */
#define AUTHDB_LABEL_MAX	64	/* bytes of UTF-8 */
#define AUTHDB_USERS_MAX	1024
#define AUTHDB_GROUPS_MAX	256
#define AUTHDB_MEMBERS_MAX	64	/* per group */
#define AUTHDB_DEVICES_MAX	4096
#define AUTHDB_ALLOWS_MAX	16384
#define AUTHDB_CERTS_MAX	4096
#define AUTHDB_REVOKED_MAX	16384
#define AUTHDB_SERIAL_MAX	40	/* hex digits: 20 octets (RFC 5280 4.1.2.2) */
#define AUTHDB_FPR_LEN		32	/* SHA-256 of the DER certificate */
#define AUTHDB_IRK_LEN		16
#define AUTHDB_ERR_MAX		512

#define AUTHDB_DEFAULT_PATH	"/etc/bgw/authdb"

/* User flags. */
#define AUTHDB_USER_ADMIN	0x1u
#define AUTHDB_USER_DISABLED	0x2u

struct authdb;
struct authdb_parser;

/* ---- parsing ---------------------------------------------------------- */

/* source: the name used in error messages (a path, "<stdin>"). */
struct authdb_parser *authdb_parser_new(const char *source);
void authdb_parser_free(struct authdb_parser *p);
/*
 * One line without its terminating newline (a trailing '\r' is an error
 * like any other control character). len counts every byte, so an embedded
 * NUL is seen and rejected. Returns 0 or -EINVAL (the error is logged and
 * kept; later lines are refused).
 */
int authdb_parser_line(struct authdb_parser *p, const char *line, size_t len);
/*
 * Cross-checks (references to undefined users and groups) and returns the
 * table. Fails if any line failed. The parser is spent either way.
 */
int authdb_parser_finish(struct authdb_parser *p, struct authdb **out);
/* The last error, "" if none. */
const char *authdb_parser_error(const struct authdb_parser *p);

/*
 * Parse a whole buffer (newline-separated; the last line may lack one).
 * err (may be NULL) receives the first error.
 */
int authdb_parse_buffer(const char *source, const char *buf, size_t len,
			struct authdb **out, char *err, size_t errlen);
/*
 * Load path: a regular file owned by root or by owner (pass 0 for root
 * only), not group- or world-writable, not a symlink, at most
 * AUTHDB_FILE_MAX bytes. -EPERM for an unsafe file, -ENOENT if missing,
 * -EINVAL if it does not parse; err as above.
 */
int authdb_load(const char *path, uid_t owner, struct authdb **out,
		char *err, size_t errlen);
/* An empty table (the CLI creates a new file with it). */
struct authdb *authdb_new(void);
/*
 * Tables are reference-counted (single-threaded): a session or a login in
 * progress holds a reference while the daemon swaps in a reloaded table.
 * authdb_free drops one reference and frees the table with the last.
 */
struct authdb *authdb_ref(struct authdb *db);
void authdb_free(struct authdb *db);

/* ---- queries (for bgw-muxd and the tunnel) ---------------------------- */

/* 0 and *flags if the user exists, -ENOENT otherwise. */
int authdb_user_flags(const struct authdb *db, const char *user, unsigned *flags);
/* Exists and is not disabled. */
bool authdb_user_is_enabled(const struct authdb *db, const char *user);
bool authdb_user_is_admin(const struct authdb *db, const char *user);
/*
 * May this user see and connect to this RD? True only for an enabled user
 * granted (directly or through a group) the exact address and type.
 */
bool authdb_user_may_access(const struct authdb *db, const char *user,
			    const struct bdaddr *addr, uint8_t type);

struct authdb_rd {
	struct bdaddr addr;
	uint8_t type;			/* BDADDR_PUBLIC or BDADDR_RANDOM */
	bool has_irk;
	uint8_t irk[AUTHDB_IRK_LEN];
	char label[AUTHDB_LABEL_MAX + 1];	/* "" if none */
};
/*
 * The RDs a user may access, each once, in file order. Calls fn for each;
 * a non-zero return stops the walk and is returned. Disabled user: none.
 */
int authdb_user_rds(const struct authdb *db, const char *user,
		    int (*fn)(const struct authdb_rd *rd, void *user_data),
		    void *user_data);
/* Declared RD (device line) by address; -ENOENT if none. */
int authdb_rd_lookup(const struct authdb *db, const struct bdaddr *addr,
		     uint8_t type, struct authdb_rd *out);

/*
 * Resolvable private addresses (Core v5.4 Vol 6 Part B 1.3.2.2): does rpa
 * resolve with this IRK (most significant byte first, as the file and the
 * Core specification's sample data write it)? ah() is Vol 3 Part H 2.2.2.
 */
bool authdb_rpa_is_resolvable(const struct bdaddr *rpa,
			      const uint8_t irk[AUTHDB_IRK_LEN]);
/*
 * The declared device whose IRK resolves rpa (its identity address and
 * type in out, for authdb_user_may_access()); -ENOENT if none does, or if
 * rpa is not a resolvable private address (top bits 01).
 */
int authdb_rpa_resolve(const struct authdb *db, const struct bdaddr *rpa,
		       struct authdb_rd *out);

/*
 * The server secret behind fabricated SCRAM verifiers (authdb_scram_lookup).
 * It must persist: a per-start secret would change an unknown user's fake
 * salt at every restart and give the user away. Reads path (exactly len
 * bytes, a regular file owned by root or the caller, mode 0600 or
 * stricter); creates it with random bytes if missing, and its directory
 * (0700) if that is missing. The default is under the service's
 * StateDirectory=, writable at its first start: /etc/bgw is read-only
 * there (ProtectSystem=strict).
 */
#define AUTHDB_SECRET_LEN	32
#define AUTHDB_SECRET_PATH	"/var/lib/bgw/scram.secret"
int authdb_secret_load(const char *path, uint8_t *secret, size_t len);

/* serial: hex digits (case and leading zeros as in the certificate). */
bool authdb_serial_is_revoked(const struct authdb *db, const char *serial_hex);
/*
 * The user a certificate (by SHA-256 fingerprint of its DER) was issued to.
 * -ENOENT if unknown, -EKEYREVOKED if its serial is revoked.
 */
int authdb_cert_user(const struct authdb *db, const uint8_t fpr[AUTHDB_FPR_LEN],
		     char user[AUTHDB_NAME_MAX + 1]);
/*
 * The verifier to run SCRAM against. Always fills *v: the user's real one
 * (*real = true) if the user exists, is enabled and has a password; a
 * fabricated one from secret otherwise (scram_verifier_fake). The work
 * done is the same either way. Returns 0 or a negative errno (bad args).
 */
int authdb_scram_lookup(const struct authdb *db, const char *user,
			const uint8_t *secret, size_t secret_len,
			struct scram_verifier *v, bool *real);

/* ---- iteration (for listing tools) ------------------------------------ */

struct authdb_user_info {
	const char *name;
	unsigned flags;
	bool has_password;
	unsigned ncerts;
};
int authdb_each_user(const struct authdb *db,
		     int (*fn)(const struct authdb_user_info *u, void *ud), void *ud);
struct authdb_group_info {
	const char *name;
	size_t nmembers;
	const char *const *members;
};
int authdb_each_group(const struct authdb *db,
		      int (*fn)(const struct authdb_group_info *g, void *ud), void *ud);
struct authdb_allow_info {
	const char *principal;		/* "alice" or "@family" */
	struct bdaddr addr;
	uint8_t type;
};
int authdb_each_allow(const struct authdb *db,
		      int (*fn)(const struct authdb_allow_info *a, void *ud), void *ud);
struct authdb_cert_info {
	const char *user;
	const char *serial;
	const uint8_t *fpr;
	bool revoked;
};
int authdb_each_cert(const struct authdb *db,
		     int (*fn)(const struct authdb_cert_info *c, void *ud), void *ud);

/* ---- edits (bgw-authdb) ----------------------------------------------- */
/*
 * Each edit changes, inserts or removes whole lines and keeps all others
 * verbatim. Returns 0, -EEXIST, -ENOENT, -EINVAL (bad name/value) or
 * -ENOSPC (a cap would be exceeded).
 */
int authdb_user_add(struct authdb *db, const char *user, unsigned flags);
/*
 * What an edit removed besides the line named, for the admin to read.
 * A device line is removed with the last grant to its device: its label
 * and IRK serve only grants, and an IRK kept for nobody is a tracking key
 * kept for nothing (bgw-authdb(5)). Device lines no edit orphaned are
 * left alone.
 */
struct authdb_removed {
	bool password;
	unsigned certs;
	unsigned grants;
	unsigned groups;	/* memberships */
	unsigned devices;	/* device lines left without a grant */
};
/*
 * Removes the user, its password, certificates, grants and memberships,
 * and the device lines left without a grant; out (may be NULL) counts them.
 */
int authdb_user_del(struct authdb *db, const char *user,
		    struct authdb_removed *out);
int authdb_user_set_flags(struct authdb *db, const char *user,
			  unsigned set, unsigned clear);
int authdb_password_set(struct authdb *db, const char *user,
			const struct scram_verifier *v);
int authdb_group_add(struct authdb *db, const char *group);
/* Removes the group, its grants and the device lines left without one. */
int authdb_group_del(struct authdb *db, const char *group,
		     struct authdb_removed *out);
int authdb_group_member(struct authdb *db, const char *group, const char *user,
			bool add);
/*
 * Grant principal ("user" or "@group") the RD. label (may be NULL) and
 * irk (may be NULL) set the RD's device line, creating it if needed.
 */
int authdb_allow(struct authdb *db, const char *principal,
		 const struct bdaddr *addr, uint8_t type, const char *label,
		 const uint8_t *irk);
/* Removes the grant, and the device line if no grant to it is left. */
int authdb_deny(struct authdb *db, const char *principal,
		const struct bdaddr *addr, uint8_t type,
		struct authdb_removed *out);
int authdb_cert_add(struct authdb *db, const char *user, const char *serial_hex,
		    const uint8_t fpr[AUTHDB_FPR_LEN]);
int authdb_revoke(struct authdb *db, const char *serial_hex);

/* Serialise (exactly the lines, each with '\n'); caller frees *buf. */
int authdb_serialize(const struct authdb *db, char **buf, size_t *len);

/*
 * Exclusive lock for a read-modify-write cycle: flock on "PATH.lock"
 * (created 0600). Returns an fd >= 0 or a negative errno.
 */
int authdb_lock(const char *path);
void authdb_unlock(int fd);
/*
 * Atomic publish of db at path (see top). The serialised text is parsed
 * again first, so the writer never produces a file the reader refuses.
 */
int authdb_save(const struct authdb *db, const char *path);

/*
 * Fault injection for the crash test: when set, called before each write
 * step with the step number (1, 2...); the test's hook _exit()s at step N.
 */
void authdb_set_fault_hook(void (*hook)(int step));

/* Name rules shared with the CLI: [a-z_][a-z0-9_.-]*, at most NAME_MAX. */
bool authdb_name_is_valid(const char *name);
/* Serial: 1..AUTHDB_SERIAL_MAX hex digits. */
bool authdb_serial_is_valid(const char *serial);

#endif
