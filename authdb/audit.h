/* SPDX-License-Identifier: MIT */
/*
 * The audit log: append-only, one text line per security event, each line
 * keyed to its predecessor (a MAC chain):
 *
 *   SEQ TIME EVENT key=value... prev=HEX64 hmac=HEX64
 *
 * hmac = HMAC-SHA-256 (RFC 2104), with a 32-byte key only the monitor and
 * bgw-authdb can read, of the line's bytes before " hmac="; prev = the
 * previous record's hmac (64 zeros for the first). Without the key nobody
 * can edit, insert, reorder or rewrite a record and recompute the chain:
 * audit_verify() names the first line whose MAC or chain does not fit.
 *
 * Truncation (deleting the tail, or the whole file) leaves a valid chain,
 * so the head is anchored outside the file: after every record the writer
 * replaces the anchor file (temp + fsync + rename) with the record count
 * and the head's MAC, itself MACed; and the daemon logs count and head
 * with every record to syslog/the journal (muxd_audit), so a copy exists
 * that whoever rewrites both files cannot reach. A log behind its anchor is
 * reported as truncated; a writer that finds the log not matching its
 * anchor first appends an `audit-anchor-mismatch` record saying so, so the
 * evidence stays in the chain after the anchor moves on.
 *
 * The key and the anchor of the default log are AUDIT_DEFAULT_KEY and
 * AUDIT_DEFAULT_ANCHOR (the state directory, away from the logs, which
 * log readers and backups see); of any other log, PATH.key and PATH.head.
 * The key is created (random, 0600) by the first writer.
 *
 * Legacy logs: records written before the key existed end in
 * " hash=HEX64" (SHA-256 of the line before it) and stay verifiable, with
 * a warning that they are unkeyed: anyone who could write the file could
 * have rewritten them. New records are keyed and chain on from the last
 * legacy one; an unkeyed record after a keyed one, or from where the
 * anchor says keying began, is reported as a rewrite.
 *
 * Values are percent-encoded (%XX for bytes outside '!'..'~', '%' and
 * '='), so a user name sent by a peer can neither break a line nor forge
 * a field; each value is capped at AUDIT_VALUE_MAX bytes (longer is
 * refused, not truncated).
 *
 * Durability: each record is one write() under an exclusive flock (the
 * daemon and bgw-authdb may append at once), followed by fdatasync(), then
 * the anchor, under the same lock: security events are rare and evidence
 * must survive a power cut. A failed or short write (full disk) is rolled
 * back with ftruncate and returned as a negative errno for the caller to
 * log; it never aborts. The log remembers how many records it failed to
 * write and since when; the next append that succeeds is preceded by an
 * `audit-lost` record saying so, so the chain shows the hole instead of
 * hiding it.
 */
#ifndef BGW_AUTHDB_AUDIT_H
#define BGW_AUTHDB_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AUDIT_VALUE_MAX		256
#define AUDIT_RECORD_MAX	4096
#define AUDIT_DEFAULT_PATH	"/var/log/bgw/audit.log"
#define AUDIT_DEFAULT_KEY	"/var/lib/bgw/audit.key"
#define AUDIT_DEFAULT_ANCHOR	"/var/lib/bgw/audit.head"
#define AUDIT_KEY_LEN		32
#define AUDIT_HEX		64

enum audit_event {
	AUDIT_LOGIN_OK,		/* user, src, detail: "password"/"cert" */
	AUDIT_LOGIN_FAIL,	/* user as claimed, src, detail: reason */
	AUDIT_LOGIN_LIMITED,	/* refused by the rate limiter */
	AUDIT_SESSION_END,	/* user, src, detail */
	AUDIT_ACL_DENY,		/* user, src, rd: the RD address refused */
	AUDIT_PAIR_REFUSED,	/* user, rd; detail: why, what the admin can do */
	AUDIT_AUTHDB_CHANGE,	/* uid: the admin; detail: the command */
	AUDIT_AUTHDB_RELOAD,	/* detail: "ok" or the parse error */
	AUDIT_LOST,		/* detail: how many records could not be written */
	AUDIT_ANCHOR_MISMATCH,	/* detail: the log did not match its anchor */
	AUDIT_RELAY_REGISTER,	/* src: the relay; detail: signed or why not */
	AUDIT_BOND_NEW,		/* user: whose pairing; rd; detail: key kinds, never a key */
	AUDIT_BOND_FORGET,	/* uid: the admin; rd */
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

/* The key's and the anchor's paths for the log at path (see above). */
int audit_side_paths(const char *path, char *key, size_t keycap, char *anchor,
		     size_t anchorcap);

/*
 * Open (create 0600) for appending; the key is read, or created with its
 * directory (0700) if missing. Fails if either cannot be.
 */
int audit_open(const char *path, struct audit_log **out);
void audit_close(struct audit_log *log);
int audit_append(struct audit_log *log, enum audit_event ev,
		 const struct audit_fields *f);
/* After a successful append: the record count and the head (65 bytes). */
void audit_head(const struct audit_log *log, unsigned long *seq, char *head);
const char *audit_event_name(enum audit_event ev);

/* A head known from elsewhere (the journal): record seq had MAC head. */
struct audit_expect {
	unsigned long seq;
	char head[AUDIT_HEX + 1];
};

struct audit_report {
	unsigned long nrecords;
	unsigned long legacy;		/* unkeyed records at the start */
	unsigned long bad_line;		/* 1-based; 0: not a line's fault */
	unsigned long anchor_seq;	/* the anchor's count; 0: no anchor */
	unsigned long after_anchor;	/* records past it (a crash between) */
	char head[AUDIT_HEX + 1];
	char why[320];
};

/*
 * Check the whole log against its key, its anchor and, if given, expect.
 * 0 if intact; -EBADMSG if not, with bad_line (the first bad record, or
 * where removed records began) and why; another negative errno on I/O
 * error (-ENOENT: no log). An intact log may have rep->legacy > 0.
 */
int audit_verify(const char *path, const struct audit_expect *expect,
		 struct audit_report *rep);

#endif
