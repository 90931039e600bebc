/* SPDX-License-Identifier: MIT */
/*
 * The authdb parser, queries and writer; the format is bgw-authdb(5).
 *
 * Every line of the file is kept as a record holding its original text and
 * what was parsed from it, so a tool that edits one user rewrites that one
 * line and the comments, blank lines and order around it survive.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "authdb.h"
#include "b64.h"
#include "hex.h"
#include "log.h"
#include "rpa.h"
#include "secmem.h"

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

static const char *const kind_name[REC_NKINDS] = {
	[REC_OTHER] = "line", [REC_USER] = "user",
	[REC_PASSWORD] = "password", [REC_GROUP] = "group",
	[REC_DEVICE] = "device", [REC_ALLOW] = "allow",
	[REC_CERT] = "cert", [REC_REVOKE] = "revoke",
};

static void (*authdb_fault_hook)(int step);

/* ---- records ---------------------------------------------------------- */

static void rec_free(struct rec *r)
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
		rec_free(db->recs[i]);
	free(db->recs);
	free(db);
}

/* Insert r at position pos (db->n: append). */
static int db_insert(struct authdb *db, size_t pos, struct rec *r)
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

static void db_remove(struct authdb *db, size_t pos)
{
	struct rec *r = db->recs[pos];

	db->count[r->kind]--;
	db->indexed = false;
	memmove(&db->recs[pos], &db->recs[pos + 1],
		(db->n - pos - 1) * sizeof(*db->recs));
	db->n--;
	rec_free(r);
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
static void serial_normalise(const char *in, char out[AUTHDB_SERIAL_MAX + 1])
{
	size_t i = 0, o = 0;

	while (in[i] == '0' && in[i + 1])
		i++;
	for (; in[i] && o < AUTHDB_SERIAL_MAX; i++)
		out[o++] = (char)tolower((unsigned char)in[i]);
	out[o] = '\0';
}

static int addr_type_parse(const char *s, uint8_t *type)
{
	if (!strcmp(s, "public"))
		*type = BDADDR_PUBLIC;
	else if (!strcmp(s, "random"))
		*type = BDADDR_RANDOM;
	else
		return -EINVAL;
	return 0;
}

static const char *addr_type_str(uint8_t type)
{
	return type == BDADDR_RANDOM ? "random" : "public";
}

/* Well-formed UTF-8 without control characters (labels are shown to users). */
static bool label_is_valid(const char *s)
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

/* ---- tokenizer -------------------------------------------------------- */

#define TOK_MAX (AUTHDB_MEMBERS_MAX + 8)

struct toks {
	size_t n;
	char *v[TOK_MAX];
	char buf[AUTHDB_LINE_MAX + 1];
};

/*
 * Split a line into words separated by spaces or tabs. A word is a run of
 * printable ASCII other than '"', or a "quoted string" in which \" and \\
 * are the only escapes and UTF-8 is allowed. A '#' starting the first word
 * makes the line a comment. Returns 0, or -EINVAL with *why set.
 */
static int tokenize(const char *line, size_t len, struct toks *t, const char **why)
{
	size_t i = 0, o = 0;
	unsigned char c;

	t->n = 0;
	while (i < len) {
		c = (unsigned char)line[i];
		if (c == ' ' || c == '\t') {
			i++;
			continue;
		}
		if (t->n == TOK_MAX) {
			*why = "too many words";
			return -EINVAL;
		}
		t->v[t->n++] = &t->buf[o];
		if (c == '"') {
			i++;
			for (;;) {
				if (i >= len) {
					*why = "unterminated quoted string";
					return -EINVAL;
				}
				c = (unsigned char)line[i++];
				if (c == '"')
					break;
				if (c == '\\') {
					if (i >= len || (line[i] != '"' && line[i] != '\\')) {
						*why = "bad escape in quoted string";
						return -EINVAL;
					}
					c = (unsigned char)line[i++];
				} else if (c < 0x20 || c == 0x7f) {
					*why = "control character in quoted string";
					return -EINVAL;
				}
				t->buf[o++] = (char)c;
			}
			if (i < len && line[i] != ' ' && line[i] != '\t') {
				*why = "no space after quoted string";
				return -EINVAL;
			}
		} else {
			while (i < len && line[i] != ' ' && line[i] != '\t') {
				c = (unsigned char)line[i];
				if (c < 0x21 || c > 0x7e || c == '"') {
					*why = c ? "unexpected character" : "embedded NUL byte";
					return -EINVAL;
				}
				t->buf[o++] = (char)c;
				i++;
			}
		}
		t->buf[o++] = '\0';
	}
	return 0;
}

/* ---- parser ----------------------------------------------------------- */

static int perr(struct authdb_parser *p, unsigned lineno, const char *what,
		const char *value)
{
	char shown[80];
	size_t i;

	if (value) {
		snprintf(shown, sizeof(shown), "%.64s%s", value,
			 strlen(value) > 64 ? "..." : "");
		for (i = 0; shown[i]; i++)
			if ((unsigned char)shown[i] < 0x20 || shown[i] == 0x7f)
				shown[i] = '?';
		snprintf(p->err, sizeof(p->err), "%s:%u: %s: '%s'", p->source,
			 lineno, what, shown);
	} else {
		snprintf(p->err, sizeof(p->err), "%s:%u: %s", p->source, lineno, what);
	}
	if (!p->quiet)
		log_err("%s", p->err);
	p->failed = true;
	return -EINVAL;
}

struct authdb_parser *authdb_parser_new(const char *source)
{
	struct authdb_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->source = strdup(source ? source : "<authdb>");
	p->db = authdb_new();
	if (!p->source || !p->db) {
		authdb_parser_free(p);
		return NULL;
	}
	return p;
}

void authdb_parser_free(struct authdb_parser *p)
{
	if (!p)
		return;
	authdb_free(p->db);
	free(p->source);
	free(p);
}

const char *authdb_parser_error(const struct authdb_parser *p)
{
	return p ? p->err : "";
}

/* ---- index ------------------------------------------------------------ */

static int cmp_addr(const struct rec *a, const struct rec *b)
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
		return cmp_addr(a, b);
	case IDX_ALLOW:
		c = cmp_addr(a, b);
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
static int db_reindex(struct authdb *db, const struct rec **dup,
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
static struct rec *idx_lower(const struct authdb *db, enum idx_kind k,
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
static struct rec *db_find(const struct authdb *db, enum rec_kind kind,
			   const char *name, size_t *pos)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed && !pos && (kind == REC_USER || kind == REC_GROUP ||
				    kind == REC_PASSWORD)) {
		snprintf(key.name, sizeof(key.name), "%s", name);
		return idx_lower(db, kind == REC_USER ? IDX_USER :
				 kind == REC_GROUP ? IDX_GROUP : IDX_PASSWORD, &key, NULL);
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

static struct rec *db_find_addr(const struct authdb *db, enum rec_kind kind,
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
		return idx_lower(db, kind == REC_DEVICE ? IDX_DEVICE : IDX_ALLOW, &key,
				 NULL);
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

static struct rec *db_find_serial(const struct authdb *db, enum rec_kind kind,
				  const char *serial)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed) {
		snprintf(key.serial, sizeof(key.serial), "%s", serial);
		return idx_lower(db, kind == REC_CERT ? IDX_CERT : IDX_REVOKE, &key, NULL);
	}
	for (i = 0; i < db->n; i++)
		if (db->recs[i]->kind == kind && !strcmp(db->recs[i]->serial, serial))
			return db->recs[i];
	return NULL;
}

static struct rec *db_find_fpr(const struct authdb *db, const uint8_t *fpr)
{
	struct rec key;
	size_t i;

	memset(&key, 0, sizeof(key));
	if (db->indexed) {
		memcpy(key.fpr, fpr, AUTHDB_FPR_LEN);
		return idx_lower(db, IDX_CERT_FPR, &key, NULL);
	}
	for (i = 0; i < db->n; i++)
		if (db->recs[i]->kind == REC_CERT &&
		    !memcmp(db->recs[i]->fpr, fpr, AUTHDB_FPR_LEN))
			return db->recs[i];
	return NULL;
}

static int parse_name(struct authdb_parser *p, const char *what, const char *v,
		      char *out)
{
	if (!authdb_name_is_valid(v))
		return perr(p, p->lineno, what, v);
	strcpy(out, v);
	return 0;
}

static int parse_user(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	size_t i;

	if (t->n < 2)
		return perr(p, p->lineno, "user: missing name", NULL);
	if (parse_name(p, "bad user name", t->v[1], r->name))
		return -EINVAL;
	for (i = 2; i < t->n; i++) {
		unsigned f;

		if (!strcmp(t->v[i], "admin"))
			f = AUTHDB_USER_ADMIN;
		else if (!strcmp(t->v[i], "disabled"))
			f = AUTHDB_USER_DISABLED;
		else
			return perr(p, p->lineno, "user: unknown option", t->v[i]);
		if (r->flags & f)
			return perr(p, p->lineno, "user: repeated option", t->v[i]);
		r->flags |= f;
	}
	return 0;
}

static int parse_b64_key(struct authdb_parser *p, const char *what, const char *v,
			 uint8_t *out, size_t n, size_t *got)
{
	int rc = b64_decode(v, strlen(v), out, n);

	if (rc < 0 || (!got && (size_t)rc != n) || rc == 0)
		return perr(p, p->lineno, what, v);
	if (got)
		*got = (size_t)rc;
	return 0;
}

static int parse_password(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	char *end;
	unsigned long iter;

	if (t->n != 7)
		return perr(p, p->lineno, t->n < 7 ? "password: missing fields" :
			    "password: too many fields", NULL);
	if (parse_name(p, "bad user name", t->v[1], r->name))
		return -EINVAL;
	if (strcmp(t->v[2], "scram-sha-256"))
		return perr(p, p->lineno, "unknown password scheme", t->v[2]);
	errno = 0;
	iter = strtoul(t->v[3], &end, 10);
	if (!isdigit((unsigned char)t->v[3][0]) || *end || errno ||
	    iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX)
		return perr(p, p->lineno, "bad iteration count", t->v[3]);
	r->v.iterations = (uint32_t)iter;
	if (parse_b64_key(p, "bad salt", t->v[4], r->v.salt, SCRAM_SALT_MAX,
			  &r->v.salt_len) ||
	    parse_b64_key(p, "bad StoredKey", t->v[5], r->v.stored_key,
			  SCRAM_KEY_LEN, NULL) ||
	    parse_b64_key(p, "bad ServerKey", t->v[6], r->v.server_key,
			  SCRAM_KEY_LEN, NULL))
		return -EINVAL;
	return 0;
}

static int parse_group(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	size_t i, j;

	if (t->n < 2)
		return perr(p, p->lineno, "group: missing name", NULL);
	if (parse_name(p, "bad group name", t->v[1], r->name))
		return -EINVAL;
	if (t->n - 2 > AUTHDB_MEMBERS_MAX)
		return perr(p, p->lineno, "too many group members", r->name);
	r->members = calloc(t->n - 2 + 1, sizeof(char *));
	if (!r->members)
		return -ENOMEM;
	for (i = 2; i < t->n; i++) {
		if (!authdb_name_is_valid(t->v[i]))
			return perr(p, p->lineno, "bad member name", t->v[i]);
		for (j = 0; j < r->nmembers; j++)
			if (!strcmp(r->members[j], t->v[i]))
				return perr(p, p->lineno, "duplicate member", t->v[i]);
		r->members[r->nmembers] = strdup(t->v[i]);
		if (!r->members[r->nmembers])
			return -ENOMEM;
		r->nmembers++;
	}
	return 0;
}

static int parse_addr(struct authdb_parser *p, struct toks *t, size_t i,
		      struct rec *r)
{
	if (bdaddr_parse(t->v[i], &r->addr))
		return perr(p, p->lineno, "bad address", t->v[i]);
	if (addr_type_parse(t->v[i + 1], &r->type))
		return perr(p, p->lineno, "bad address type (public or random)",
			    t->v[i + 1]);
	return 0;
}

static int parse_device(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	size_t i;
	bool has_label = false;

	if (t->n < 3)
		return perr(p, p->lineno, "device: missing address or type", NULL);
	if (parse_addr(p, t, 1, r))
		return -EINVAL;
	for (i = 3; i < t->n; i += 2) {
		if (i + 1 >= t->n)
			return perr(p, p->lineno, "device: option without value",
				    t->v[i]);
		if (!strcmp(t->v[i], "irk") && !r->has_irk) {
			if (hex_decode_exact(t->v[i + 1], r->irk, AUTHDB_IRK_LEN))
				return perr(p, p->lineno, "bad IRK (32 hex digits)",
					    t->v[i + 1]);
			r->has_irk = true;
		} else if (!strcmp(t->v[i], "label") && !has_label) {
			if (!label_is_valid(t->v[i + 1]))
				return perr(p, p->lineno, "bad label", t->v[i + 1]);
			strcpy(r->label, t->v[i + 1]);
			has_label = true;
		} else {
			return perr(p, p->lineno, "device: unknown or repeated option",
				    t->v[i]);
		}
	}
	return 0;
}

static int parse_allow(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	const char *name;

	if (t->n != 4)
		return perr(p, p->lineno, t->n < 4 ? "allow: missing fields" :
			    "allow: too many fields", NULL);
	name = t->v[1][0] == '@' ? t->v[1] + 1 : t->v[1];
	if (!authdb_name_is_valid(name))
		return perr(p, p->lineno, "bad user or @group", t->v[1]);
	strcpy(r->name, t->v[1]);
	if (parse_addr(p, t, 2, r))
		return -EINVAL;
	return 0;
}

static int parse_serial(struct authdb_parser *p, const char *v, struct rec *r)
{
	if (!authdb_serial_is_valid(v))
		return perr(p, p->lineno, "bad serial (1 to 40 hex digits)", v);
	serial_normalise(v, r->serial);
	return 0;
}

static int parse_cert(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	if (t->n != 4)
		return perr(p, p->lineno, t->n < 4 ? "cert: missing fields" :
			    "cert: too many fields", NULL);
	if (parse_name(p, "bad user name", t->v[1], r->name) ||
	    parse_serial(p, t->v[2], r))
		return -EINVAL;
	if (strncmp(t->v[3], "sha256:", 7) ||
	    hex_decode_exact(t->v[3] + 7, r->fpr, AUTHDB_FPR_LEN))
		return perr(p, p->lineno, "bad fingerprint (sha256:64 hex digits)",
			    t->v[3]);
	return 0;
}

static int parse_revoke(struct authdb_parser *p, struct toks *t, struct rec *r)
{
	if (t->n != 2)
		return perr(p, p->lineno, t->n < 2 ? "revoke: missing serial" :
			    "revoke: too many fields", NULL);
	if (parse_serial(p, t->v[1], r))
		return -EINVAL;
	return 0;
}

static const struct {
	const char *keyword;
	enum rec_kind kind;
	int (*parse)(struct authdb_parser *p, struct toks *t, struct rec *r);
} keywords[] = {
	{ "user", REC_USER, parse_user },
	{ "password", REC_PASSWORD, parse_password },
	{ "group", REC_GROUP, parse_group },
	{ "device", REC_DEVICE, parse_device },
	{ "allow", REC_ALLOW, parse_allow },
	{ "cert", REC_CERT, parse_cert },
	{ "revoke", REC_REVOKE, parse_revoke },
};

/* Parse one line into a fresh record (not yet inserted). */
static int parse_rec(struct authdb_parser *p, const char *line, size_t len,
		     struct rec **out)
{
	struct toks *t = NULL;
	struct rec *r = NULL;
	const char *why = NULL;
	size_t i;
	int ret;

	*out = NULL;
	if (len > AUTHDB_LINE_MAX) {
		char n[32];

		snprintf(n, sizeof(n), "%zu bytes", len);
		return perr(p, p->lineno, "line too long (max 4096 bytes)", n);
	}
	ret = -ENOMEM;
	t = malloc(sizeof(*t));
	r = calloc(1, sizeof(*r));
	if (!t || !r)
		goto out;
	r->lineno = p->lineno;
	r->text = malloc(len + 1);
	if (!r->text)
		goto out;
	memcpy(r->text, line, len);
	r->text[len] = '\0';

	ret = tokenize(line, len, t, &why);
	if (ret) {
		ret = perr(p, p->lineno, why, r->text);
		goto out;
	}
	if (t->n == 0 || t->v[0][0] == '#') {
		r->kind = REC_OTHER;
	} else {
		for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (!strcmp(t->v[0], keywords[i].keyword))
				break;
		if (i == sizeof(keywords) / sizeof(keywords[0])) {
			ret = perr(p, p->lineno, "unknown keyword", t->v[0]);
			goto out;
		}
		r->kind = keywords[i].kind;
		ret = keywords[i].parse(p, t, r);
		if (ret)
			goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	if (t)
		explicit_bzero(t, sizeof(*t));
	free(t);
	rec_free(r);
	return ret;
}

int authdb_parser_line(struct authdb_parser *p, const char *line, size_t len)
{
	struct rec *r;
	int ret;

	if (!p || (!line && len))
		return -EINVAL;
	if (p->failed)
		return -EINVAL;
	if (p->lineno >= AUTHDB_LINES_MAX)
		return perr(p, p->lineno, "too many lines (max 65536)", NULL);
	p->lineno++;
	ret = parse_rec(p, line ? line : "", len, &r);
	if (ret) {
		if (!p->failed)
			perr(p, p->lineno, strerror(-ret), NULL);
		return ret;
	}
	ret = db_insert(p->db, p->db->n, r);
	if (ret) {
		perr(p, p->lineno, ret == -ENOSPC ? "too many entries of this kind" :
		     strerror(-ret), kind_name[r->kind]);
		rec_free(r);
		return ret;
	}
	return 0;
}

static bool db_user_exists(const struct authdb *db, const char *name)
{
	return db_find(db, REC_USER, name, NULL) != NULL;
}

static void dup_value(const struct rec *r, enum idx_kind k, char *out, size_t cap)
{
	char a[BDADDR_STRLEN];

	switch (k) {
	case IDX_DEVICE:
		snprintf(out, cap, "%s %s", bdaddr_fmt(&r->addr, a), addr_type_str(r->type));
		break;
	case IDX_ALLOW:
		snprintf(out, cap, "%s %s %s", r->name, bdaddr_fmt(&r->addr, a),
			 addr_type_str(r->type));
		break;
	case IDX_CERT:
	case IDX_REVOKE:
		snprintf(out, cap, "%s", r->serial);
		break;
	case IDX_CERT_FPR:
		memcpy(out, "sha256:", 7);
		hex_encode(r->fpr, AUTHDB_FPR_LEN, out + 7);
		break;
	default:
		snprintf(out, cap, "%s", r->name);
		break;
	}
}

/*
 * The whole-file checks, once every line is in: no entry twice (through
 * the indexes), and every reference resolves (so order in the file is
 * free). Of all errors, the one on the lowest line is reported.
 */
static int db_crosscheck(struct authdb_parser *p)
{
	static const char *const dup_what[IDX_NKINDS] = {
		[IDX_USER] = "duplicate user",
		[IDX_PASSWORD] = "duplicate password for user",
		[IDX_GROUP] = "duplicate group",
		[IDX_DEVICE] = "duplicate device",
		[IDX_ALLOW] = "duplicate allow",
		[IDX_CERT] = "duplicate certificate serial",
		[IDX_CERT_FPR] = "duplicate certificate",
		[IDX_REVOKE] = "duplicate revoke",
	};
	struct authdb *db = p->db;
	const struct rec *dup = NULL;
	enum idx_kind dk = IDX_USER;
	char val[2 * AUTHDB_FPR_LEN + 8];
	size_t i, j;
	int ret;

	p->checked = true;
	ret = db_reindex(db, &dup, &dk);
	if (ret == -ENOMEM)
		return perr(p, p->lineno, "out of memory", NULL);
	for (i = 0; i < db->n; i++) {
		const struct rec *r = db->recs[i];
		const char *what = NULL, *value = NULL;

		if (dup && r->lineno >= dup->lineno)
			break;
		switch (r->kind) {
		case REC_PASSWORD:
		case REC_CERT:
			if (!db_user_exists(db, r->name))
				what = "no such user", value = r->name;
			break;
		case REC_GROUP:
			for (j = 0; j < r->nmembers && !what; j++)
				if (!db_user_exists(db, r->members[j]))
					what = "no such user", value = r->members[j];
			break;
		case REC_ALLOW:
			if (r->name[0] == '@' ?
			    !db_find(db, REC_GROUP, r->name + 1, NULL) :
			    !db_user_exists(db, r->name))
				what = r->name[0] == '@' ? "no such group" :
				       "no such user", value = r->name;
			break;
		default:
			break;
		}
		if (what)
			return perr(p, r->lineno, what, value);
	}
	if (dup) {
		dup_value(dup, dk, val, sizeof(val));
		return perr(p, dup->lineno, dup_what[dk], val);
	}
	/*
	 * A file without a single user is never what the admin meant: a
	 * zero-length file is a truncation (a full disk, a crash of an
	 * editor that does not rename), and a table of 0 users would end
	 * every session at reload without a word. Refuse it like any other
	 * corrupt file, so the daemon keeps its last good table.
	 */
	if (p->lineno == 0)
		return perr(p, 1, "empty file (0 bytes): an authdb names at least one user; "
			    "restore it from a backup or add one with bgw-authdb user add NAME",
			    NULL);
	if (db->count[REC_USER] == 0)
		return perr(p, p->lineno, "no user entry in the file: an authdb names at least one "
			    "user (to lock everyone out, disable the users instead: "
			    "bgw-authdb user disable NAME)", NULL);
	return 0;
}

int authdb_parser_finish(struct authdb_parser *p, struct authdb **out)
{
	int ret = -EINVAL;

	if (out)
		*out = NULL;
	if (!p || !out)
		return -EINVAL;
	if (p->failed || (!p->checked && db_crosscheck(p)))
		goto out;
	*out = p->db;
	p->db = NULL;
	ret = 0;
out:
	authdb_parser_free(p);
	return ret;
}

int authdb_parse_buffer(const char *source, const char *buf, size_t len,
			struct authdb **out, char *err, size_t errlen)
{
	struct authdb_parser *p;
	const char *nl;
	size_t off = 0;
	int ret = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	p = authdb_parser_new(source);
	if (!p)
		return -ENOMEM;
	p->quiet = err && errlen;
	while (off < len && !ret) {
		nl = memchr(buf + off, '\n', len - off);
		if (!nl) {
			/* A file the writer made always ends in '\n': a missing
			 * one means a truncated file ("user alic" of "user
			 * alice" would otherwise parse). */
			ret = perr(p, p->lineno + 1,
				   "truncated file: last line has no newline", NULL);
			break;
		}
		ret = authdb_parser_line(p, buf + off, (size_t)(nl - (buf + off)));
		off = (size_t)(nl - buf) + 1;
	}
	if (!ret)
		ret = db_crosscheck(p);
	if (err && errlen)
		snprintf(err, errlen, "%s", p->err);
	if (ret) {
		authdb_parser_free(p);
		return ret;
	}
	return authdb_parser_finish(p, out);
}

int authdb_load(const char *path, uid_t owner, struct authdb **out,
		char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = -EPERM;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* The file decides who may use the gateway: refuse one that
	 * someone other than root (or the daemon's user) could have
	 * written. */
	if (!S_ISREG(st.st_mode)) {
		if (err)
			snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != owner) {
		if (err)
			snprintf(err, errlen, "%s: owned by uid %u, not root%s",
				 path, (unsigned)st.st_uid,
				 owner ? " or the daemon's user" : "");
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		if (err)
			snprintf(err, errlen,
				 "%s: group- or world-writable (mode %03o); run: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	/*
	 * The password lines are SCRAM verifiers: whoever reads them can
	 * guess passwords offline at PBKDF2's cost. Refuse a file others
	 * can read, as sshd refuses a host key others can (it may have
	 * been copied already: change the passwords too).
	 */
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		if (err)
			snprintf(err, errlen,
				 "%s: readable by group or others (mode %03o), but it holds "
				 "password verifiers; run: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	if ((uint64_t)st.st_size > AUTHDB_FILE_MAX) {
		ret = -EFBIG;
		if (err)
			snprintf(err, errlen, "%s: larger than %u bytes", path,
				 AUTHDB_FILE_MAX);
		goto out;
	}
	ret = -ENOMEM;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	for (;;) {
		/* One byte more than fstat said: a file that grew meanwhile
		 * is seen, not silently cut. */
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			if (err)
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			ret = -EAGAIN;
			if (err)
				snprintf(err, errlen, "%s: changed while being read",
					 path);
			goto out;
		}
	}
	ret = authdb_parse_buffer(path, buf, len, out, err, errlen);
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return ret;
}

/* ---- queries ---------------------------------------------------------- */

int authdb_user_flags(const struct authdb *db, const char *user, unsigned *flags)
{
	const struct rec *r;

	if (!db || !user)
		return -EINVAL;
	r = db_find(db, REC_USER, user, NULL);
	if (!r)
		return -ENOENT;
	if (flags)
		*flags = r->flags;
	return 0;
}

bool authdb_user_is_enabled(const struct authdb *db, const char *user)
{
	unsigned f;

	return authdb_user_flags(db, user, &f) == 0 && !(f & AUTHDB_USER_DISABLED);
}

bool authdb_user_is_admin(const struct authdb *db, const char *user)
{
	unsigned f;

	return authdb_user_flags(db, user, &f) == 0 &&
	       !(f & AUTHDB_USER_DISABLED) && (f & AUTHDB_USER_ADMIN);
}

static bool group_has_member(const struct rec *g, const char *user)
{
	size_t i;

	for (i = 0; i < g->nmembers; i++)
		if (!strcmp(g->members[i], user))
			return true;
	return false;
}

/* Does this allow line grant to this user? */
static bool allow_applies(const struct authdb *db, const struct rec *a,
			  const char *user)
{
	const struct rec *g;

	if (a->name[0] != '@')
		return !strcmp(a->name, user);
	g = db_find(db, REC_GROUP, a->name + 1, NULL);
	return g && group_has_member(g, user);
}

bool authdb_user_may_access(const struct authdb *db, const char *user,
			    const struct bdaddr *addr, uint8_t type)
{
	size_t i;

	if (!addr || !authdb_user_is_enabled(db, user))
		return false;
	if (db->indexed) {
		const struct idx *x = &db->idx[IDX_ALLOW];
		struct rec key;

		memset(&key, 0, sizeof(key));
		key.addr = *addr;
		key.type = type;
		/* Name "" sorts first: the range of grants of this RD. */
		idx_lower(db, IDX_ALLOW, &key, &i);
		for (; i < x->n && !cmp_addr(x->v[i], &key); i++)
			if (allow_applies(db, x->v[i], user))
				return true;
		return false;
	}
	for (i = 0; i < db->n; i++) {
		const struct rec *r = db->recs[i];

		if (r->kind == REC_ALLOW && r->type == type &&
		    bdaddr_eq(&r->addr, addr) && allow_applies(db, r, user))
			return true;
	}
	return false;
}

static void rd_fill(const struct authdb *db, const struct bdaddr *addr,
		    uint8_t type, struct authdb_rd *out)
{
	const struct rec *d = db_find_addr(db, REC_DEVICE, NULL, addr, type, NULL);

	memset(out, 0, sizeof(*out));
	out->addr = *addr;
	out->type = type;
	if (d) {
		out->has_irk = d->has_irk;
		memcpy(out->irk, d->irk, AUTHDB_IRK_LEN);
		strcpy(out->label, d->label);
	}
}

int authdb_rd_lookup(const struct authdb *db, const struct bdaddr *addr,
		     uint8_t type, struct authdb_rd *out)
{
	if (!db || !addr || !out)
		return -EINVAL;
	if (!db_find_addr(db, REC_DEVICE, NULL, addr, type, NULL))
		return -ENOENT;
	rd_fill(db, addr, type, out);
	return 0;
}

int authdb_user_rds(const struct authdb *db, const char *user,
		    int (*fn)(const struct authdb_rd *rd, void *user_data),
		    void *user_data)
{
	struct authdb_rd rd;
	size_t i, j;
	int ret;

	if (!db || !user || !fn)
		return -EINVAL;
	if (!authdb_user_is_enabled(db, user))
		return 0;
	for (i = 0; i < db->n; i++) {
		const struct rec *r = db->recs[i];
		bool seen = false;

		if (r->kind != REC_ALLOW || !allow_applies(db, r, user))
			continue;
		/* Each RD once, at its first grant. */
		if (db->indexed) {
			const struct idx *x = &db->idx[IDX_ALLOW];
			struct rec key;
			size_t k;

			memset(&key, 0, sizeof(key));
			key.addr = r->addr;
			key.type = r->type;
			idx_lower(db, IDX_ALLOW, &key, &k);
			for (; k < x->n && !seen && !cmp_addr(x->v[k], &key); k++)
				seen = x->v[k]->lineno < r->lineno &&
				       allow_applies(db, x->v[k], user);
		}
		for (j = 0; !db->indexed && j < i && !seen; j++) {
			const struct rec *q = db->recs[j];

			seen = q->kind == REC_ALLOW && q->type == r->type &&
			       bdaddr_eq(&q->addr, &r->addr) &&
			       allow_applies(db, q, user);
		}
		if (seen)
			continue;
		rd_fill(db, &r->addr, r->type, &rd);
		ret = fn(&rd, user_data);
		if (ret)
			return ret;
	}
	return 0;
}

bool authdb_rpa_is_resolvable(const struct bdaddr *rpa,
			      const uint8_t irk[AUTHDB_IRK_LEN])
{
	uint8_t k[AUTHDB_IRK_LEN];
	bool ok;
	size_t i;

	if (!irk || !rpa)
		return false;
	/* The file's IRK is most significant octet first; ah() takes SMP's. */
	for (i = 0; i < AUTHDB_IRK_LEN; i++)
		k[i] = irk[AUTHDB_IRK_LEN - 1 - i];
	ok = rpa_matches(k, rpa);
	secmem_wipe(k, sizeof(k));
	return ok;
}

int authdb_rpa_resolve(const struct authdb *db, const struct bdaddr *rpa,
		       struct authdb_rd *out)
{
	size_t i;

	if (!db || !rpa || !out)
		return -EINVAL;
	for (i = 0; i < db->n; i++) {
		const struct rec *r = db->recs[i];

		if (r->kind == REC_DEVICE && r->has_irk && authdb_rpa_is_resolvable(rpa, r->irk)) {
			rd_fill(db, &r->addr, r->type, out);
			return 0;
		}
	}
	return -ENOENT;
}

int authdb_secret_load(const char *path, uint8_t *secret, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd, ret, tries;

	if (!path || !secret || len < 16 || len > 256)
		return -EINVAL;
	/* Two rounds at most: create, or lose the creation race and read. */
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT)
			return -errno;
		if (gnutls_rnd(GNUTLS_RND_KEY, secret, len))
			return -EIO;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd < 0 && errno == ENOENT) {
			/* A fresh state directory: make it (one level). */
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%s", path);
			if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST)
				return -errno;
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				  O_CLOEXEC, 0600);
		}
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		n = write(fd, secret, len);
		ret = n == (ssize_t)len && fsync(fd) == 0 ? 0 : -EIO;
		close(fd);
		if (ret) {
			unlink(path);
			explicit_bzero(secret, len);
		}
		return ret;
	}
	if (fd < 0)
		return -ENOENT;
	ret = -EPERM;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 077)) {
		log_err("%s: must be a regular file of root's, mode 0600", path);
		goto out;
	}
	n = read(fd, secret, len);
	if (n != (ssize_t)len || st.st_size != (off_t)len) {
		log_err("%s: must hold exactly %zu bytes", path, len);
		explicit_bzero(secret, len);
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

bool authdb_serial_is_revoked(const struct authdb *db, const char *serial_hex)
{
	char norm[AUTHDB_SERIAL_MAX + 1];

	if (!db || !authdb_serial_is_valid(serial_hex))
		return false;
	serial_normalise(serial_hex, norm);
	return db_find_serial(db, REC_REVOKE, norm) != NULL;
}

int authdb_cert_user(const struct authdb *db, const uint8_t fpr[AUTHDB_FPR_LEN],
		     char user[AUTHDB_NAME_MAX + 1])
{
	const struct rec *r;

	if (!db || !fpr || !user)
		return -EINVAL;
	r = db_find_fpr(db, fpr);
	if (!r)
		return -ENOENT;
	if (db_find_serial(db, REC_REVOKE, r->serial))
		return -EKEYREVOKED;
	strcpy(user, r->name);
	return 0;
}

int authdb_scram_lookup(const struct authdb *db, const char *user,
			const uint8_t *secret, size_t secret_len,
			struct scram_verifier *v, bool *real)
{
	const struct rec *r;
	int ret;

	if (!db || !user || !secret || !v || !real)
		return -EINVAL;
	/* Compute the fake one every time, so the work does not depend on
	 * whether the user exists. */
	ret = scram_verifier_fake(secret, secret_len, user, v);
	if (ret)
		return ret;
	*real = false;
	r = db_find(db, REC_PASSWORD, user, NULL);
	if (r && authdb_user_is_enabled(db, user)) {
		*v = r->v;
		*real = true;
	}
	return 0;
}

int authdb_each_user(const struct authdb *db,
		     int (*fn)(const struct authdb_user_info *u, void *ud), void *ud)
{
	struct authdb_user_info u;
	size_t i, j;
	int ret;

	for (i = 0; db && i < db->n; i++) {
		const struct rec *r = db->recs[i];

		if (r->kind != REC_USER)
			continue;
		u.name = r->name;
		u.flags = r->flags;
		u.has_password = db_find(db, REC_PASSWORD, r->name, NULL) != NULL;
		u.ncerts = 0;
		for (j = 0; j < db->n; j++)
			if (db->recs[j]->kind == REC_CERT &&
			    !strcmp(db->recs[j]->name, r->name))
				u.ncerts++;
		ret = fn(&u, ud);
		if (ret)
			return ret;
	}
	return 0;
}

int authdb_each_group(const struct authdb *db,
		      int (*fn)(const struct authdb_group_info *g, void *ud), void *ud)
{
	struct authdb_group_info g;
	size_t i;
	int ret;

	for (i = 0; db && i < db->n; i++) {
		const struct rec *r = db->recs[i];

		if (r->kind != REC_GROUP)
			continue;
		g.name = r->name;
		g.nmembers = r->nmembers;
		g.members = (const char *const *)r->members;
		ret = fn(&g, ud);
		if (ret)
			return ret;
	}
	return 0;
}

int authdb_each_allow(const struct authdb *db,
		      int (*fn)(const struct authdb_allow_info *a, void *ud), void *ud)
{
	struct authdb_allow_info a;
	size_t i;
	int ret;

	for (i = 0; db && i < db->n; i++) {
		const struct rec *r = db->recs[i];

		if (r->kind != REC_ALLOW)
			continue;
		a.principal = r->name;
		a.addr = r->addr;
		a.type = r->type;
		ret = fn(&a, ud);
		if (ret)
			return ret;
	}
	return 0;
}

int authdb_each_cert(const struct authdb *db,
		     int (*fn)(const struct authdb_cert_info *c, void *ud), void *ud)
{
	struct authdb_cert_info c;
	size_t i;
	int ret;

	for (i = 0; db && i < db->n; i++) {
		const struct rec *r = db->recs[i];

		if (r->kind != REC_CERT)
			continue;
		c.user = r->name;
		c.serial = r->serial;
		c.fpr = r->fpr;
		c.revoked = db_find_serial(db, REC_REVOKE, r->serial) != NULL;
		ret = fn(&c, ud);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- edits ------------------------------------------------------------ */

/*
 * Every edit renders the new line's text and parses it with the real
 * parser, against the table being edited, so an edit can only produce
 * what a reader accepts (duplicates included).
 */
static int edit_rec(struct authdb *db, const char *text, struct rec **out)
{
	struct authdb_parser p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.db = db;
	p.source = (char *)"<edit>";
	p.quiet = true;		/* edits report through their return value */
	ret = parse_rec(&p, text, strlen(text), out);
	return ret;
}

/* Replace the record at pos by a re-rendered one (pos's own duplicate
 * check must not see itself, so it is taken out first). */
static int edit_replace(struct authdb *db, size_t pos, const char *text)
{
	struct rec *old = db->recs[pos], *r;
	enum rec_kind kind = old->kind;
	int ret;

	/* Take it out of the duplicate checks by changing its kind. */
	old->kind = REC_OTHER;
	ret = edit_rec(db, text, &r);
	old->kind = kind;
	if (ret)
		return ret;
	r->lineno = old->lineno;
	db->recs[pos] = r;
	db->indexed = false;	/* the index points at old */
	rec_free(old);
	return 0;
}

static int edit_insert(struct authdb *db, size_t pos, const char *text)
{
	struct rec *r;
	int ret;

	ret = edit_rec(db, text, &r);
	if (ret)
		return ret;
	ret = db_insert(db, pos, r);
	if (ret)
		rec_free(r);
	return ret;
}

static void render_user(char *buf, size_t cap, const char *name, unsigned flags)
{
	snprintf(buf, cap, "user %s%s%s", name,
		 flags & AUTHDB_USER_ADMIN ? " admin" : "",
		 flags & AUTHDB_USER_DISABLED ? " disabled" : "");
}

int authdb_user_add(struct authdb *db, const char *user, unsigned flags)
{
	char line[AUTHDB_LINE_MAX];

	if (!db || !authdb_name_is_valid(user))
		return -EINVAL;
	if (db_find(db, REC_USER, user, NULL))
		return -EEXIST;
	render_user(line, sizeof(line), user, flags);
	return edit_insert(db, db->n, line);
}

int authdb_user_set_flags(struct authdb *db, const char *user,
			  unsigned set, unsigned clear)
{
	char line[AUTHDB_LINE_MAX];
	struct rec *r;
	size_t pos;

	if (!db || !user)
		return -EINVAL;
	r = db_find(db, REC_USER, user, &pos);
	if (!r)
		return -ENOENT;
	render_user(line, sizeof(line), user, (r->flags | set) & ~clear);
	return edit_replace(db, pos, line);
}

static int render_group(char *buf, size_t cap, const char *name,
			char *const *members, size_t n, const char *skip,
			const char *add)
{
	size_t i, o;
	int k;

	k = snprintf(buf, cap, "group %s", name);
	o = (size_t)k;
	for (i = 0; i < n; i++) {
		if (skip && !strcmp(members[i], skip))
			continue;
		k = snprintf(buf + o, cap - o, " %s", members[i]);
		if (k < 0 || (size_t)k >= cap - o)
			return -ENOSPC;
		o += (size_t)k;
	}
	if (add) {
		k = snprintf(buf + o, cap - o, " %s", add);
		if (k < 0 || (size_t)k >= cap - o)
			return -ENOSPC;
	}
	return 0;
}

/* The RDs whose grants an edit removes, to drop the device lines left
 * without one once the edit is done. */
struct rd_set {
	struct bdaddr *addr;
	uint8_t *type;
	size_t n;
};

static int rd_set_init(struct rd_set *s, const struct authdb *db)
{
	size_t cap = db->count[REC_ALLOW] ? db->count[REC_ALLOW] : 1;

	s->n = 0;
	s->addr = calloc(cap, sizeof(*s->addr));
	s->type = calloc(cap, sizeof(*s->type));
	if (!s->addr || !s->type) {
		free(s->addr);
		free(s->type);
		return -ENOMEM;
	}
	return 0;
}

/* Called before the allow record r is removed (at most one per record). */
static void rd_set_add(struct rd_set *s, const struct rec *r)
{
	s->addr[s->n] = r->addr;
	s->type[s->n] = r->type;
	s->n++;
}

/* Remove the device line of each RD no grant is left for; free the set. */
static void rd_set_drop_orphans(struct authdb *db, struct rd_set *s,
				struct authdb_removed *out)
{
	size_t i, pos;

	for (i = 0; i < s->n; i++) {
		if (db_find_addr(db, REC_ALLOW, NULL, &s->addr[i], s->type[i], NULL) ||
		    !db_find_addr(db, REC_DEVICE, NULL, &s->addr[i], s->type[i], &pos))
			continue;
		db_remove(db, pos);
		if (out)
			out->devices++;
	}
	free(s->addr);
	free(s->type);
}

int authdb_user_del(struct authdb *db, const char *user,
		    struct authdb_removed *out)
{
	char line[AUTHDB_LINE_MAX];
	struct authdb_removed none;
	struct rd_set rds;
	size_t i;
	int ret = 0;

	if (!out)
		out = &none;
	memset(out, 0, sizeof(*out));
	if (!db || !user)
		return -EINVAL;
	if (!db_find(db, REC_USER, user, NULL))
		return -ENOENT;
	if (rd_set_init(&rds, db))
		return -ENOMEM;
	/* The group lines first: the only step that can fail (a re-rendered
	 * line is parsed again), so nothing is removed if one does (the
	 * caller then drops the table). */
	for (i = db->n; !ret && i-- > 0;) {
		struct rec *r = db->recs[i];

		if (r->kind != REC_GROUP || !group_has_member(r, user))
			continue;
		ret = render_group(line, sizeof(line), r->name, r->members,
				   r->nmembers, user, NULL);
		if (!ret)
			ret = edit_replace(db, i, line);
		if (!ret)
			out->groups++;
	}
	for (i = db->n; !ret && i-- > 0;) {
		struct rec *r = db->recs[i];

		if ((r->kind != REC_USER && r->kind != REC_PASSWORD &&
		     r->kind != REC_CERT && r->kind != REC_ALLOW) ||
		    strcmp(r->name, user))
			continue;
		if (r->kind == REC_PASSWORD)
			out->password = true;
		else if (r->kind == REC_CERT)
			out->certs++;
		else if (r->kind == REC_ALLOW) {
			out->grants++;
			rd_set_add(&rds, r);
		}
		db_remove(db, i);
	}
	if (ret) {
		free(rds.addr);
		free(rds.type);
		return ret;
	}
	rd_set_drop_orphans(db, &rds, out);
	return 0;
}

int authdb_password_set(struct authdb *db, const char *user,
			const struct scram_verifier *v)
{
	char line[AUTHDB_LINE_MAX];
	char salt[B64_ENCLEN(SCRAM_SALT_MAX) + 1];
	char sk[B64_ENCLEN(SCRAM_KEY_LEN) + 1], vk[B64_ENCLEN(SCRAM_KEY_LEN) + 1];
	size_t pos;
	int ret;

	if (!db || !user || !v || !v->salt_len || v->salt_len > SCRAM_SALT_MAX)
		return -EINVAL;
	if (!db_find(db, REC_USER, user, &pos))
		return -ENOENT;
	if (b64_encode(v->salt, v->salt_len, salt, sizeof(salt)) < 0 ||
	    b64_encode(v->stored_key, SCRAM_KEY_LEN, sk, sizeof(sk)) < 0 ||
	    b64_encode(v->server_key, SCRAM_KEY_LEN, vk, sizeof(vk)) < 0)
		return -EINVAL;
	snprintf(line, sizeof(line), "password %s scram-sha-256 %u %s %s %s",
		 user, (unsigned)v->iterations, salt, sk, vk);
	if (db_find(db, REC_PASSWORD, user, &pos))
		ret = edit_replace(db, pos, line);
	else
		ret = edit_insert(db, pos + 1, line);	/* after the user line */
	explicit_bzero(line, sizeof(line));
	return ret;
}

int authdb_group_add(struct authdb *db, const char *group)
{
	char line[AUTHDB_LINE_MAX];

	if (!db || !authdb_name_is_valid(group))
		return -EINVAL;
	if (db_find(db, REC_GROUP, group, NULL))
		return -EEXIST;
	snprintf(line, sizeof(line), "group %s", group);
	return edit_insert(db, db->n, line);
}

int authdb_group_del(struct authdb *db, const char *group,
		     struct authdb_removed *out)
{
	char at[AUTHDB_NAME_MAX + 2];
	struct authdb_removed none;
	struct rd_set rds;
	size_t i;

	if (!out)
		out = &none;
	memset(out, 0, sizeof(*out));
	if (!db || !authdb_name_is_valid(group))
		return -EINVAL;
	if (!db_find(db, REC_GROUP, group, NULL))
		return -ENOENT;
	if (rd_set_init(&rds, db))
		return -ENOMEM;
	snprintf(at, sizeof(at), "@%s", group);
	for (i = db->n; i-- > 0;) {
		struct rec *r = db->recs[i];

		if (r->kind == REC_ALLOW && !strcmp(r->name, at)) {
			out->grants++;
			rd_set_add(&rds, r);
			db_remove(db, i);
		} else if (r->kind == REC_GROUP && !strcmp(r->name, group)) {
			db_remove(db, i);
		}
	}
	rd_set_drop_orphans(db, &rds, out);
	return 0;
}

int authdb_group_member(struct authdb *db, const char *group, const char *user,
			bool add)
{
	char line[AUTHDB_LINE_MAX];
	struct rec *g;
	size_t pos;
	int ret;

	if (!db || !group || !user)
		return -EINVAL;
	g = db_find(db, REC_GROUP, group, &pos);
	if (!g || !db_find(db, REC_USER, user, NULL))
		return -ENOENT;
	if (add == group_has_member(g, user))
		return add ? -EEXIST : -ENOENT;
	if (add && g->nmembers >= AUTHDB_MEMBERS_MAX)
		return -ENOSPC;
	ret = render_group(line, sizeof(line), g->name, g->members, g->nmembers,
			   add ? NULL : user, add ? user : NULL);
	if (ret)
		return ret;
	return edit_replace(db, pos, line);
}

static int render_device(char *buf, size_t cap, const struct bdaddr *addr,
			 uint8_t type, const char *label, const uint8_t *irk)
{
	char a[BDADDR_STRLEN], k[2 * AUTHDB_IRK_LEN + 1], q[2 * AUTHDB_LABEL_MAX + 3];
	size_t i, o = 0;

	if (label) {
		if (!label_is_valid(label))
			return -EINVAL;
		q[o++] = '"';
		for (i = 0; label[i]; i++) {
			if (label[i] == '"' || label[i] == '\\')
				q[o++] = '\\';
			q[o++] = label[i];
		}
		q[o++] = '"';
		q[o] = '\0';
	}
	if (irk)
		hex_encode(irk, AUTHDB_IRK_LEN, k);
	snprintf(buf, cap, "device %s %s%s%s%s%s", bdaddr_fmt(addr, a),
		 addr_type_str(type), irk ? " irk " : "", irk ? k : "",
		 label ? " label " : "", label ? q : "");
	return 0;
}

int authdb_allow(struct authdb *db, const char *principal,
		 const struct bdaddr *addr, uint8_t type, const char *label,
		 const uint8_t *irk)
{
	char line[AUTHDB_LINE_MAX], a[BDADDR_STRLEN];
	const char *name;
	struct rec *d;
	size_t pos;
	int ret;

	if (!db || !principal || !addr || type > BDADDR_RANDOM)
		return -EINVAL;
	name = principal[0] == '@' ? principal + 1 : principal;
	if (!authdb_name_is_valid(name))
		return -EINVAL;
	if (!db_find(db, principal[0] == '@' ? REC_GROUP : REC_USER, name, NULL))
		return -ENOENT;
	if (label && !label_is_valid(label))
		return -EINVAL;
	/* The device line first: it fails alone if the label is bad. */
	if (label || irk) {
		d = db_find_addr(db, REC_DEVICE, NULL, addr, type, &pos);
		ret = render_device(line, sizeof(line), addr, type,
				    label ? label : (d && d->label[0] ? d->label : NULL),
				    irk ? irk : (d && d->has_irk ? d->irk : NULL));
		if (!ret)
			ret = d ? edit_replace(db, pos, line) :
				  edit_insert(db, db->n, line);
		if (ret)
			return ret;
	}
	if (db_find_addr(db, REC_ALLOW, principal, addr, type, NULL))
		return label || irk ? 0 : -EEXIST;
	snprintf(line, sizeof(line), "allow %s %s %s", principal,
		 bdaddr_fmt(addr, a), addr_type_str(type));
	return edit_insert(db, db->n, line);
}

int authdb_deny(struct authdb *db, const char *principal,
		const struct bdaddr *addr, uint8_t type,
		struct authdb_removed *out)
{
	struct authdb_removed none;
	struct rd_set rds;
	size_t pos;

	if (!out)
		out = &none;
	memset(out, 0, sizeof(*out));
	if (!db || !principal || !addr)
		return -EINVAL;
	if (!db_find_addr(db, REC_ALLOW, principal, addr, type, &pos))
		return -ENOENT;
	if (rd_set_init(&rds, db))
		return -ENOMEM;
	rd_set_add(&rds, db->recs[pos]);
	db_remove(db, pos);
	out->grants++;
	rd_set_drop_orphans(db, &rds, out);
	return 0;
}

int authdb_cert_add(struct authdb *db, const char *user, const char *serial_hex,
		    const uint8_t fpr[AUTHDB_FPR_LEN])
{
	char line[AUTHDB_LINE_MAX], f[2 * AUTHDB_FPR_LEN + 1];
	char norm[AUTHDB_SERIAL_MAX + 1];

	if (!db || !user || !fpr || !authdb_serial_is_valid(serial_hex))
		return -EINVAL;
	if (!db_find(db, REC_USER, user, NULL))
		return -ENOENT;
	serial_normalise(serial_hex, norm);
	if (db_find_serial(db, REC_CERT, norm))
		return -EEXIST;
	hex_encode(fpr, AUTHDB_FPR_LEN, f);
	snprintf(line, sizeof(line), "cert %s %s sha256:%s", user, norm, f);
	return edit_insert(db, db->n, line);
}

int authdb_revoke(struct authdb *db, const char *serial_hex)
{
	char line[AUTHDB_LINE_MAX], norm[AUTHDB_SERIAL_MAX + 1];

	if (!db || !authdb_serial_is_valid(serial_hex))
		return -EINVAL;
	serial_normalise(serial_hex, norm);
	if (db_find_serial(db, REC_REVOKE, norm))
		return -EEXIST;
	snprintf(line, sizeof(line), "revoke %s", norm);
	return edit_insert(db, db->n, line);
}

/* ---- writer ----------------------------------------------------------- */

int authdb_serialize(const struct authdb *db, char **buf, size_t *len)
{
	size_t i, total = 0, o = 0, l;
	char *b;

	if (!db || !buf || !len)
		return -EINVAL;
	for (i = 0; i < db->n; i++)
		total += strlen(db->recs[i]->text) + 1;
	if (total > AUTHDB_FILE_MAX)
		return -EFBIG;
	b = malloc(total + 1);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < db->n; i++) {
		l = strlen(db->recs[i]->text);
		memcpy(b + o, db->recs[i]->text, l);
		o += l;
		b[o++] = '\n';
	}
	b[o] = '\0';
	*buf = b;
	*len = o;
	return 0;
}

void authdb_set_fault_hook(void (*hook)(int step))
{
	authdb_fault_hook = hook;
}

static void fault_step(int *step)
{
	(*step)++;
	if (authdb_fault_hook)
		authdb_fault_hook(*step);
}

int authdb_lock(const char *path)
{
	char lp[PATH_MAX];
	int fd;

	if (snprintf(lp, sizeof(lp), "%s.lock", path) >= (int)sizeof(lp))
		return -ENAMETOOLONG;
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = -errno;

			close(fd);
			return e;
		}
	}
	return fd;
}

void authdb_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

static int write_all(int fd, const char *p, size_t n, int *step)
{
	ssize_t w;

	while (n) {
		/* Small chunks: more places for the crash test to stop. */
		fault_step(step);
		w = write(fd, p, n < 512 ? n : 512);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int authdb_save(const struct authdb *db, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], err[AUTHDB_ERR_MAX];
	struct authdb *check = NULL;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	mode_t mode = 0600;
	int fd = -1, dfd = -1, ret, step = 0;
	bool have_old;

	if (!db || !path)
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	ret = authdb_serialize(db, &buf, &len);
	if (ret)
		return ret;
	/* Never publish what the reader would refuse. */
	ret = authdb_parse_buffer(path, buf, len, &check, err, sizeof(err));
	authdb_free(check);
	if (ret) {
		log_err("refusing to write %s: %s", path, err);
		goto out;
	}
	have_old = lstat(path, &st) == 0;
	if (have_old)
		mode = st.st_mode & 0600;	/* never g/o readable or writable */

	fault_step(&step);
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, buf, len, &step);
	if (ret)
		goto out_unlink;
	fault_step(&step);
	if (fsync(fd) < 0 ||
	    (have_old && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) ||
	    fchmod(fd, mode) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	fault_step(&step);
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out_unlink;
	}
	fd = -1;
	fault_step(&step);
	if (rename(tmp, path) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	/* The rename is durable only once the directory is synced. */
	fault_step(&step);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return ret;
}
