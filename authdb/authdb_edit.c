/* SPDX-License-Identifier: MIT */
/*
 * The authdb editor: each change renders its line and parses it with the
 * real parser (authdb_parse.c) against the table being edited.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "authdb_int.h"
#include "b64.h"
#include "hex.h"

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
	ret = authdb_parse_rec(&p, text, strlen(text), out);
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
	authdb_rec_free(old);
	return 0;
}

static int edit_insert(struct authdb *db, size_t pos, const char *text)
{
	struct rec *r;
	int ret;

	ret = edit_rec(db, text, &r);
	if (ret)
		return ret;
	ret = authdb_insert(db, pos, r);
	if (ret)
		authdb_rec_free(r);
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
	if (authdb_find(db, REC_USER, user, NULL))
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
	r = authdb_find(db, REC_USER, user, &pos);
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
		if (authdb_find_addr(db, REC_ALLOW, NULL, &s->addr[i], s->type[i],
				     NULL) ||
		    !authdb_find_addr(db, REC_DEVICE, NULL, &s->addr[i], s->type[i],
				      &pos))
			continue;
		authdb_remove(db, pos);
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
	if (!authdb_find(db, REC_USER, user, NULL))
		return -ENOENT;
	if (rd_set_init(&rds, db))
		return -ENOMEM;
	/* The group lines first: the only step that can fail (a re-rendered
	 * line is parsed again), so nothing is removed if one does (the
	 * caller then drops the table). */
	for (i = db->n; !ret && i-- > 0;) {
		struct rec *r = db->recs[i];

		if (r->kind != REC_GROUP || !authdb_group_has_member(r, user))
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
		authdb_remove(db, i);
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
	if (!authdb_find(db, REC_USER, user, &pos))
		return -ENOENT;
	if (b64_encode(v->salt, v->salt_len, salt, sizeof(salt)) < 0 ||
	    b64_encode(v->stored_key, SCRAM_KEY_LEN, sk, sizeof(sk)) < 0 ||
	    b64_encode(v->server_key, SCRAM_KEY_LEN, vk, sizeof(vk)) < 0)
		return -EINVAL;
	snprintf(line, sizeof(line), "password %s scram-sha-256 %u %s %s %s",
		 user, (unsigned)v->iterations, salt, sk, vk);
	if (authdb_find(db, REC_PASSWORD, user, &pos))
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
	if (authdb_find(db, REC_GROUP, group, NULL))
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
	if (!authdb_find(db, REC_GROUP, group, NULL))
		return -ENOENT;
	if (rd_set_init(&rds, db))
		return -ENOMEM;
	snprintf(at, sizeof(at), "@%s", group);
	for (i = db->n; i-- > 0;) {
		struct rec *r = db->recs[i];

		if (r->kind == REC_ALLOW && !strcmp(r->name, at)) {
			out->grants++;
			rd_set_add(&rds, r);
			authdb_remove(db, i);
		} else if (r->kind == REC_GROUP && !strcmp(r->name, group)) {
			authdb_remove(db, i);
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
	g = authdb_find(db, REC_GROUP, group, &pos);
	if (!g || !authdb_find(db, REC_USER, user, NULL))
		return -ENOENT;
	if (add == authdb_group_has_member(g, user))
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
		if (!authdb_label_is_valid(label))
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
		 authdb_addr_type_str(type), irk ? " irk " : "", irk ? k : "",
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
	if (!authdb_find(db, principal[0] == '@' ? REC_GROUP : REC_USER, name, NULL))
		return -ENOENT;
	if (label && !authdb_label_is_valid(label))
		return -EINVAL;
	/* The device line first: it fails alone if the label is bad. */
	if (label || irk) {
		d = authdb_find_addr(db, REC_DEVICE, NULL, addr, type, &pos);
		ret = render_device(line, sizeof(line), addr, type,
				    label ? label : (d && d->label[0] ? d->label : NULL),
				    irk ? irk : (d && d->has_irk ? d->irk : NULL));
		if (!ret)
			ret = d ? edit_replace(db, pos, line) :
				  edit_insert(db, db->n, line);
		if (ret)
			return ret;
	}
	if (authdb_find_addr(db, REC_ALLOW, principal, addr, type, NULL))
		return label || irk ? 0 : -EEXIST;
	snprintf(line, sizeof(line), "allow %s %s %s", principal,
		 bdaddr_fmt(addr, a), authdb_addr_type_str(type));
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
	if (!authdb_find_addr(db, REC_ALLOW, principal, addr, type, &pos))
		return -ENOENT;
	if (rd_set_init(&rds, db))
		return -ENOMEM;
	rd_set_add(&rds, db->recs[pos]);
	authdb_remove(db, pos);
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
	if (!authdb_find(db, REC_USER, user, NULL))
		return -ENOENT;
	authdb_serial_normalise(serial_hex, norm);
	if (authdb_find_serial(db, REC_CERT, norm))
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
	authdb_serial_normalise(serial_hex, norm);
	if (authdb_find_serial(db, REC_REVOKE, norm))
		return -EEXIST;
	snprintf(line, sizeof(line), "revoke %s", norm);
	return edit_insert(db, db->n, line);
}
