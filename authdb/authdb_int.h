/* SPDX-License-Identifier: MIT */
/*
 * Internal to libauthdb: the records and the index that the authdb's
 * files share (authdb.c: records, value syntax, index and lookups;
 * authdb_parse.c; authdb_query.c; authdb_edit.c; authdb_file.c). Not for
 * users of libauthdb, who see only authdb.h.
 */
#ifndef BGW_AUTHDB_INT_H
#define BGW_AUTHDB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authdb.h"

enum rec_kind {
	REC_OTHER,		/* blank line or comment */
	REC_USER,
	REC_PASSWORD,
	REC_GROUP,
	REC_DEVICE,
	REC_ALLOW,
	REC_CERT,
	REC_REVOKE,
	REC_NKINDS,
};

struct rec {
	enum rec_kind kind;
	unsigned lineno;	/* in the file it was read from; 0 if added */
	char *text;
	/* user, password, group, cert: the name; allow: the principal */
	char name[AUTHDB_NAME_MAX + 2];
	unsigned flags;				/* user */
	struct scram_verifier v;		/* password */
	struct bdaddr addr;			/* device, allow */
	uint8_t type;
	bool has_irk;
	uint8_t irk[AUTHDB_IRK_LEN];
	char label[AUTHDB_LABEL_MAX + 1];
	char serial[AUTHDB_SERIAL_MAX + 1];	/* cert, revoke: normalised */
	uint8_t fpr[AUTHDB_FPR_LEN];
	size_t nmembers;			/* group */
	char **members;
};

/*
 * Sorted views of the records for lookups in O(log n): built when a file
 * has been parsed and after each edit. They also find duplicates (equal
 * neighbours), so parsing a file at the caps stays O(n log n).
 */
enum idx_kind {
	IDX_USER,		/* by name */
	IDX_PASSWORD,		/* by name */
	IDX_GROUP,		/* by name */
	IDX_DEVICE,		/* by address, type */
	IDX_ALLOW,		/* by address, type, principal */
	IDX_CERT,		/* by serial */
	IDX_CERT_FPR,		/* by fingerprint */
	IDX_REVOKE,		/* by serial */
	IDX_NKINDS,
};

struct idx {
	struct rec **v;
	size_t n;
};

struct authdb {
	unsigned refs;
	struct rec **recs;
	size_t n;
	size_t cap;
	size_t count[REC_NKINDS];
	bool indexed;		/* idx matches recs */
	struct idx idx[IDX_NKINDS];
};

struct authdb_parser {
	struct authdb *db;
	char *source;
	unsigned lineno;
	bool failed;
	bool checked;		/* db_crosscheck done */
	bool quiet;		/* the caller reports the error itself */
	char err[AUTHDB_ERR_MAX];
};

/* ---- records and value syntax (authdb.c) ---- */

void authdb_rec_free(struct rec *r);
/* Insert r at pos; -ENOSPC past the file's or the kind's cap. */
int authdb_insert(struct authdb *db, size_t pos, struct rec *r);
void authdb_remove(struct authdb *db, size_t pos);
void authdb_serial_normalise(const char *in, char out[AUTHDB_SERIAL_MAX + 1]);
int authdb_addr_type_parse(const char *s, uint8_t *type);
const char *authdb_addr_type_str(uint8_t type);
bool authdb_label_is_valid(const char *s);

/* ---- the index (authdb.c) ---- */

int authdb_cmp_addr(const struct rec *a, const struct rec *b);
int authdb_reindex(struct authdb *db, const struct rec **dup,
		   enum idx_kind *dup_kind);
struct rec *authdb_idx_lower(const struct authdb *db, enum idx_kind k,
			     const struct rec *key, size_t *at);
struct rec *authdb_find(const struct authdb *db, enum rec_kind kind,
			const char *name, size_t *pos);
struct rec *authdb_find_addr(const struct authdb *db, enum rec_kind kind,
			     const char *principal, const struct bdaddr *a,
			     uint8_t type, size_t *pos);
struct rec *authdb_find_serial(const struct authdb *db, enum rec_kind kind,
			       const char *serial);
struct rec *authdb_find_fpr(const struct authdb *db, const uint8_t *fpr);

/* ---- the parser (authdb_parse.c) ---- */

/* Parse one line into a new record, checked against p->db. */
int authdb_parse_rec(struct authdb_parser *p, const char *line, size_t len,
		     struct rec **out);

/* ---- queries (authdb_query.c) ---- */

bool authdb_group_has_member(const struct rec *g, const char *user);

#endif
