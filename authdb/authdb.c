/* SPDX-License-Identifier: MIT */
/*
 * The authdb's records and their index; the format is bgw-authdb(5).
 *
 * Every line of the file is kept as a record holding its original text and
 * what was parsed from it, so a tool that edits one user rewrites that one
 * line and the comments, blank lines and order around it survive. The
 * parser (authdb_parse.c), the queries (authdb_query.c), the editor
 * (authdb_edit.c) and the file I/O (authdb_file.c) build on this file;
 * it calls none of them.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "authdb_int.h"

static const size_t kind_max[REC_NKINDS] = {
	[REC_OTHER] = AUTHDB_LINES_MAX,
	[REC_USER] = AUTHDB_USERS_MAX,
	[REC_PASSWORD] = AUTHDB_USERS_MAX,
	[REC_GROUP] = AUTHDB_GROUPS_MAX,
	[REC_DEVICE] = AUTHDB_DEVICES_MAX,
	[REC_ALLOW] = AUTHDB_ALLOWS_MAX,
	[REC_CERT] = AUTHDB_CERTS_MAX,
	[REC_REVOKE] = AUTHDB_REVOKED_MAX,
};

/* ---- records ---------------------------------------------------------- */

void authdb_rec_free(struct rec *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nmembers; i++)
		free(r->members[i]);
	free(r->members);
	if (r->text) {
		/* A password line holds a verifier: not a secret that logs in,
		 * but no reason to leave it in freed memory either. */
		explicit_bzero(r->text, strlen(r->text));
		free(r->text);
	}
	explicit_bzero(r, sizeof(*r));
	free(r);
}

struct authdb *authdb_new(void)
{
	struct authdb *db = calloc(1, sizeof(struct authdb));

	if (db)
		db->refs = 1;
	return db;
}

struct authdb *authdb_ref(struct authdb *db)
{
	if (db)
		db->refs++;
	return db;
}

void authdb_free(struct authdb *db)
{
	size_t i;

	if (!db || --db->refs > 0)
		return;
	for (i = 0; i < IDX_NKINDS; i++)
		free(db->idx[i].v);
	for (i = 0; i < db->n; i++)
		authdb_rec_free(db->recs[i]);
	free(db->recs);
	free(db);
}

/* Insert r at position pos (db->n: append). */
int authdb_insert(struct authdb *db, size_t pos, struct rec *r)
{
	struct rec **nr;
	size_t ncap;

	if (db->n >= AUTHDB_LINES_MAX || db->count[r->kind] >= kind_max[r->kind])
		return -ENOSPC;
	if (db->n == db->cap) {
		ncap = db->cap ? db->cap * 2 : 32;
		nr = reallocarray(db->recs, ncap, sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		db->recs = nr;
		db->cap = ncap;
	}
	memmove(&db->recs[pos + 1], &db->recs[pos], (db->n - pos) * sizeof(*nr));
	db->recs[pos] = r;
	db->n++;
	db->count[r->kind]++;
	db->indexed = false;
	return 0;
}

void authdb_remove(struct authdb *db, size_t pos)
{
	struct rec *r = db->recs[pos];

	db->count[r->kind]--;
	db->indexed = false;
	memmove(&db->recs[pos], &db->recs[pos + 1],
		(db->n - pos - 1) * sizeof(*db->recs));
	db->n--;
	authdb_rec_free(r);
}

/* ---- value syntax ----------------------------------------------------- */

bool authdb_name_is_valid(const char *name)
{
	return auth_name_is_valid(name);
}

bool authdb_serial_is_valid(const char *serial)
{
	size_t i;

	if (!serial || !serial[0])
		return false;
	for (i = 0; serial[i]; i++)
		if (i >= AUTHDB_SERIAL_MAX || !isxdigit((unsigned char)serial[i]))
			return false;
	return true;
}

/* Lower case, no leading zeros (at least one digit): one spelling each. */
void authdb_serial_normalise(const char *in, char out[AUTHDB_SERIAL_MAX + 1])
{
	size_t i = 0, o = 0;

	while (in[i] == '0' && in[i + 1])
		i++;
	for (; in[i] && o < AUTHDB_SERIAL_MAX; i++)
		out[o++] = (char)tolower((unsigned char)in[i]);
	out[o] = '\0';
}

int authdb_addr_type_parse(const char *s, uint8_t *type)
{
	if (!strcmp(s, "public"))
		*type = BDADDR_PUBLIC;
	else if (!strcmp(s, "random"))
		*type = BDADDR_RANDOM;
	else
		return -EINVAL;
	return 0;
}

const char *authdb_addr_type_str(uint8_t type)
{
	return type == BDADDR_RANDOM ? "random" : "public";
}

/* Well-formed UTF-8 without control characters (labels are shown to users). */
bool authdb_label_is_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, k, n;
	uint32_t cp;

	if (len > AUTHDB_LABEL_MAX)
		return false;
	while (i < len) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[i] & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF, C1 controls. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return false;
		i += n + 1;
	}
	return true;
}

/* ---- index ------------------------------------------------------------ */

int authdb_cmp_addr(const struct rec *a, const struct rec *b)
{
	int c = memcmp(a->addr.b, b->addr.b, sizeof(a->addr.b));

	return c ? c : (int)a->type - (int)b->type;
}

/* Key comparison of two records of the index's kind (lineno excluded). */
static int idx_key_cmp(enum idx_kind k, const struct rec *a, const struct rec *b)
{
	int c;

	switch (k) {
	case IDX_USER:
	case IDX_PASSWORD:
	case IDX_GROUP:
		return strcmp(a->name, b->name);
	case IDX_DEVICE:
		return authdb_cmp_addr(a, b);
	case IDX_ALLOW:
		c = authdb_cmp_addr(a, b);
		return c ? c : strcmp(a->name, b->name);
	case IDX_CERT:
	case IDX_REVOKE:
		return strcmp(a->serial, b->serial);
	case IDX_CERT_FPR:
		return memcmp(a->fpr, b->fpr, AUTHDB_FPR_LEN);
	default:
		return 0;
	}
}

static const enum rec_kind idx_rec_kind[IDX_NKINDS] = {
	[IDX_USER] = REC_USER, [IDX_PASSWORD] = REC_PASSWORD,
	[IDX_GROUP] = REC_GROUP, [IDX_DEVICE] = REC_DEVICE,
	[IDX_ALLOW] = REC_ALLOW, [IDX_CERT] = REC_CERT,
	[IDX_CERT_FPR] = REC_CERT, [IDX_REVOKE] = REC_REVOKE,
};

static int idx_sort_cmp(const void *pa, const void *pb, void *kind)
{
	const struct rec *a = *(struct rec *const *)pa, *b = *(struct rec *const *)pb;
	int c = idx_key_cmp(*(enum idx_kind *)kind, a, b);

	/* Equal keys in file order, so a duplicate is the later line. */
	if (c)
		return c;
	return a->lineno < b->lineno ? -1 : a->lineno > b->lineno;
}

/*
 * Rebuild every index. Returns 0, -ENOMEM, or -EEXIST with *dup the first
 * (lowest-numbered) line that repeats an entry and *dup_kind its index.
 */
int authdb_reindex(struct authdb *db, const struct rec **dup,
		   enum idx_kind *dup_kind)
{
	enum idx_kind k;
	size_t i, n;

	*dup = NULL;
	for (k = 0; k < IDX_NKINDS; k++) {
		struct idx *x = &db->idx[k];
		struct rec **v;

		n = db->count[idx_rec_kind[k]];
		v = reallocarray(NULL, n ? n : 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		free(x->v);
		x->v = v;
		x->n = 0;
		for (i = 0; i < db->n; i++)
			if (db->recs[i]->kind == idx_rec_kind[k])
				x->v[x->n++] = db->recs[i];
		qsort_r(x->v, x->n, sizeof(*x->v), idx_sort_cmp, &k);
		for (i = 1; i < x->n; i++)
			if (!idx_key_cmp(k, x->v[i - 1], x->v[i]) &&
			    (!*dup || x->v[i]->lineno < (*dup)->lineno)) {
				*dup = x->v[i];
				*dup_kind = k;
			}
	}
	db->indexed = true;
	return *dup ? -EEXIST : 0;
}

/* First record of index k whose key equals key's (NULL if none). */
struct rec *authdb_idx_lower(const struct authdb *db, enum idx_kind k,
			     const struct rec *key, size_t *at)
{
	const struct idx *x = &db->idx[k];
	size_t lo = 0, hi = x->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (idx_key_cmp(k, x->v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	return lo < x->n && !idx_key_cmp(k, x->v[lo], key) ? x->v[lo] : NULL;
}

/* Lookups: through the index when it is current, else by a scan (edits). */
struct rec *authdb_find(const struct authdb *db, enum rec_kind kind,
			const char *name, size_t *pos)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed && !pos && (kind == REC_USER || kind == REC_GROUP ||
				    kind == REC_PASSWORD)) {
		snprintf(key.name, sizeof(key.name), "%s", name);
		return authdb_idx_lower(db, kind == REC_USER ? IDX_USER :
					kind == REC_GROUP ? IDX_GROUP : IDX_PASSWORD,
					&key, NULL);
	}
	for (i = 0; i < db->n; i++) {
		struct rec *r = db->recs[i];

		if (r->kind == kind && !strcmp(r->name, name)) {
			if (pos)
				*pos = i;
			return r;
		}
	}
	return NULL;
}

struct rec *authdb_find_addr(const struct authdb *db, enum rec_kind kind,
			     const char *principal, const struct bdaddr *a,
			     uint8_t type, size_t *pos)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed && !pos && (kind == REC_DEVICE || (kind == REC_ALLOW && principal))) {
		key.addr = *a;
		key.type = type;
		snprintf(key.name, sizeof(key.name), "%s", principal ? principal : "");
		return authdb_idx_lower(db, kind == REC_DEVICE ? IDX_DEVICE : IDX_ALLOW,
					&key, NULL);
	}
	for (i = 0; i < db->n; i++) {
		struct rec *r = db->recs[i];

		if (r->kind == kind && r->type == type && bdaddr_eq(&r->addr, a) &&
		    (!principal || !strcmp(r->name, principal))) {
			if (pos)
				*pos = i;
			return r;
		}
	}
	return NULL;
}

struct rec *authdb_find_serial(const struct authdb *db, enum rec_kind kind,
			       const char *serial)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed) {
		snprintf(key.serial, sizeof(key.serial), "%s", serial);
		return authdb_idx_lower(db, kind == REC_CERT ? IDX_CERT : IDX_REVOKE,
					&key, NULL);
	}
	for (i = 0; i < db->n; i++)
		if (db->recs[i]->kind == kind && !strcmp(db->recs[i]->serial, serial))
			return db->recs[i];
	return NULL;
}

struct rec *authdb_find_fpr(const struct authdb *db, const uint8_t *fpr)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed) {
		memcpy(key.fpr, fpr, AUTHDB_FPR_LEN);
		return authdb_idx_lower(db, IDX_CERT_FPR, &key, NULL);
	}
	for (i = 0; i < db->n; i++)
		if (db->recs[i]->kind == REC_CERT &&
		    !memcmp(db->recs[i]->fpr, fpr, AUTHDB_FPR_LEN))
			return db->recs[i];
	return NULL;
}
