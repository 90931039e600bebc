/* SPDX-License-Identifier: MIT */
/*
 * The authdb parser: one line at a time into records (authdb_parser_line),
 * then the checks across lines (authdb_parser_finish). No I/O: the file
 * is read by authdb_file.c, and the editor parses each line it renders
 * with authdb_parse_rec, so an edit can only produce what a reader
 * accepts.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "authdb_int.h"
#include "b64.h"
#include "hex.h"
#include "log.h"

static const char *const kind_name[REC_NKINDS] = {
	[REC_OTHER] = "line", [REC_USER] = "user",
	[REC_PASSWORD] = "password", [REC_GROUP] = "group",
	[REC_DEVICE] = "device", [REC_ALLOW] = "allow",
	[REC_CERT] = "cert", [REC_REVOKE] = "revoke",
};

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
	if (authdb_addr_type_parse(t->v[i + 1], &r->type))
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
			if (!authdb_label_is_valid(t->v[i + 1]))
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
	authdb_serial_normalise(v, r->serial);
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
int authdb_parse_rec(struct authdb_parser *p, const char *line, size_t len,
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
	authdb_rec_free(r);
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
	ret = authdb_parse_rec(p, line ? line : "", len, &r);
	if (ret) {
		if (!p->failed)
			perr(p, p->lineno, strerror(-ret), NULL);
		return ret;
	}
	ret = authdb_insert(p->db, p->db->n, r);
	if (ret) {
		perr(p, p->lineno, ret == -ENOSPC ? "too many entries of this kind" :
		     strerror(-ret), kind_name[r->kind]);
		authdb_rec_free(r);
		return ret;
	}
	return 0;
}

static bool db_user_exists(const struct authdb *db, const char *name)
{
	return authdb_find(db, REC_USER, name, NULL) != NULL;
}

static void dup_value(const struct rec *r, enum idx_kind k, char *out, size_t cap)
{
	char a[BDADDR_STRLEN];

	switch (k) {
	case IDX_DEVICE:
		snprintf(out, cap, "%s %s", bdaddr_fmt(&r->addr, a), authdb_addr_type_str(r->type));
		break;
	case IDX_ALLOW:
		snprintf(out, cap, "%s %s %s", r->name, bdaddr_fmt(&r->addr, a),
			 authdb_addr_type_str(r->type));
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
	ret = authdb_reindex(db, &dup, &dk);
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
			    !authdb_find(db, REC_GROUP, r->name + 1, NULL) :
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
