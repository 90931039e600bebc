/* SPDX-License-Identifier: MIT */
/* The authdb's queries: users, grants, devices, certificates, verifiers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "authdb_int.h"
#include "rpa.h"
#include "secmem.h"

/* ---- queries ---------------------------------------------------------- */

int authdb_user_flags(const struct authdb *db, const char *user, unsigned *flags)
{
	const struct rec *r;

	if (!db || !user)
		return -EINVAL;
	r = authdb_find(db, REC_USER, user, NULL);
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

bool authdb_group_has_member(const struct rec *g, const char *user)
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
	g = authdb_find(db, REC_GROUP, a->name + 1, NULL);
	return g && authdb_group_has_member(g, user);
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
		authdb_idx_lower(db, IDX_ALLOW, &key, &i);
		for (; i < x->n && !authdb_cmp_addr(x->v[i], &key); i++)
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
	const struct rec *d = authdb_find_addr(db, REC_DEVICE, NULL, addr, type, NULL);

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
	if (!authdb_find_addr(db, REC_DEVICE, NULL, addr, type, NULL))
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
			authdb_idx_lower(db, IDX_ALLOW, &key, &k);
			for (; k < x->n && !seen && !authdb_cmp_addr(x->v[k], &key); k++)
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

bool authdb_serial_is_revoked(const struct authdb *db, const char *serial_hex)
{
	char norm[AUTHDB_SERIAL_MAX + 1];

	if (!db || !authdb_serial_is_valid(serial_hex))
		return false;
	authdb_serial_normalise(serial_hex, norm);
	return authdb_find_serial(db, REC_REVOKE, norm) != NULL;
}

int authdb_cert_user(const struct authdb *db, const uint8_t fpr[AUTHDB_FPR_LEN],
		     char user[AUTHDB_NAME_MAX + 1])
{
	const struct rec *r;

	if (!db || !fpr || !user)
		return -EINVAL;
	r = authdb_find_fpr(db, fpr);
	if (!r)
		return -ENOENT;
	if (authdb_find_serial(db, REC_REVOKE, r->serial))
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
	r = authdb_find(db, REC_PASSWORD, user, NULL);
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
		u.has_password = authdb_find(db, REC_PASSWORD, r->name, NULL) != NULL;
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
		c.revoked = authdb_find_serial(db, REC_REVOKE, r->serial) != NULL;
		ret = fn(&c, ud);
		if (ret)
			return ret;
	}
	return 0;
}
