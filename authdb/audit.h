/* SPDX-License-Identifier: MIT */
/*
 * The audit log: append-only, one text line per security event, each line
 * carrying the SHA-256 of its predecessor (a hash chain) and its own hash
 * (the inner record that must match the outer one, after seeds/001):
 *
 *   SEQ TIME EVENT key=value... prev=HEX64 hash=HEX64
 *
 * hash = SHA-256 of the line's bytes before " hash="; prev = the previous
 * record's hash (64 zeros for the first). Editing, inserting, reordering
 * or deleting a record in the middle breaks the chain at the next record;
 * audit_verify() names the first bad line. Truncating the tail cannot be
 * seen from the file alone: keep the last hash elsewhere (audit show
 * prints it) to anchor the chain.
 *
 * Values are percent-encoded (%XX for bytes outside '!'..'~', '%' and
 * '='), so a user name sent by a peer can neither break a line nor forge
 * a field; each value is capped at AUDIT_VALUE_MAX bytes (longer is
 * refused, not truncated).
 *
 * Durability: each record is one write() under an exclusive flock (the
 * daemon and bgw-authdb may append at once), followed by fdatasync():
 * security events are rare and evidence must survive a power cut. A
 * failed or short write (full disk) is rolled back with ftruncate and
 * returned as a negative errno for the caller to log; it never aborts.
 * The log remembers how many records it failed to write and since when;
 * the next append that succeeds is preceded by an `audit-lost` record
 * saying so, so the chain shows the hole instead of hiding it.
 */
#ifndef BGW_AUTHDB_AUDIT_H
#define BGW_AUTHDB_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AUDIT_VALUE_MAX		256
#define AUDIT_RECORD_MAX	4096
#define AUDIT_DEFAULT_PATH	"/var/log/bgw/audit.log"

enum audit_event {
	AUDIT_LOGIN_OK,		/* user, src, detail: "password"/"cert" */
	AUDIT_LOGIN_FAIL,	/* user as claimed, src, detail: reason */
	AUDIT_LOGIN_LIMITED,	/* refused by the rate limiter */
	AUDIT_SESSION_END,	/* user, src, detail */
	AUDIT_ACL_DENY,		/* user, src, rd: the RD address refused */
	AUDIT_AUTHDB_CHANGE,	/* uid: the admin; detail: the command */
	AUDIT_AUTHDB_RELOAD,	/* detail: "ok" or the parse error */
	AUDIT_LOST,		/* detail: how many records could not be written */
};

/* Every field optional: NULL (or uid < 0, time 0) leaves it out. */
struct audit_fields {
	const char *user;
	const char *src;
	const char *rd;
	const char *detail;
	long uid;
	time_t time;		/* 0: now */
};

struct audit_log;

/* Open (create 0600) for appending. */
int audit_open(const char *path, struct audit_log **out);
void audit_close(struct audit_log *log);
int audit_append(struct audit_log *log, enum audit_event ev,
		 const struct audit_fields *f);
const char *audit_event_name(enum audit_event ev);

/*
 * Check the whole chain. 0 if intact (*nrecords set); -EBADMSG if not,
 * with *bad_line (1-based) and why; another negative errno on I/O error.
 * last_hash (may be NULL, 65 bytes) receives the head of the chain.
 */
int audit_verify(const char *path, unsigned long *nrecords,
		 unsigned long *bad_line, char *why, size_t whylen,
		 char *last_hash);

#endif
