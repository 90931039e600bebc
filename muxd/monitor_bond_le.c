/* SPDX-License-Identifier: MIT */
/*
 * The bond store's reader for the monitor, and its LE household bond
 * requests (RPC_BOND_LTK, RPC_BOND_NEW_LE;
 * doc/virtual-controller.md, "Household bonds", LE): the store is read at
 * each request and written under its lock, as for the link keys in
 * monitor.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "authdb.h"
#include "bonds.h"
#include "cursor.h"
#include "log.h"
#include "monitor.h"
#include "policy.h"
#include "rpc.h"

/*
 * The household bond store (doc/security.md, "Household bonds"): read at
 * each request, so what bgw-authdb changed applies at once and no key
 * stays in the monitor's memory between requests.
 */
int mon_bonds_load(struct muxd_monitor *m, struct bonds **b)
{
	char err[BONDS_ERR_MAX];
	int r;

	r = bonds_load(m->d.conf.bonds, b, err, sizeof(err));
	if (r < 0) {
		log_err("bond store refused: %s; household bonds are off until it is fixed (bgw-bonds(5))",
			err);
		return -EIO;
	}
	return 0;
}

/*
 * The read-modify-write both kinds of new bond share: under the store's
 * lock (bgw-authdb bond forget takes it too), the device's entry of this
 * address type, or a fresh one, made by `by` now; fill() puts in the new
 * keys, which replace only their own kind (a link key keeps the LE keys
 * and the other way round). 0, -EINVAL for a name the store cannot hold,
 * fill()'s error (nothing written), -EIO when the store cannot be read or
 * written. *kept is the entry as written (the caller audits it and wipes
 * it).
 */
int mon_bond_update(struct muxd_monitor *m, const struct bdaddr *a, uint8_t type,
		    const char *by, int (*fill)(struct bond *nb, const void *arg),
		    const void *arg, struct bond *kept)
{
	struct bonds *b = NULL;
	const struct bond *old;
	int r, lock;

	memset(kept, 0, sizeof(*kept));
	if (strlen(by) >= sizeof(kept->by))
		return -EINVAL;
	lock = authdb_lock(m->d.conf.bonds);
	if (lock < 0) {
		log_err("bond store %s: cannot lock %s.lock: %s", m->d.conf.bonds,
			m->d.conf.bonds, strerror(-lock));
		return -EIO;
	}
	r = mon_bonds_load(m, &b);
	if (r < 0)
		goto out;
	old = bonds_find(b, a, type);
	if (old)
		*kept = *old;
	kept->addr = *a;
	kept->type = type;
	memcpy(kept->by, by, strlen(by) + 1);
	kept->at = (int64_t)time(NULL);
	r = fill(kept, arg);
	if (r == 0)
		r = bonds_set(b, kept);
	if (r == 0) {
		r = bonds_save(b, m->d.conf.bonds);
		if (r < 0)
			log_err("bond store %s not written: %s", m->d.conf.bonds, strerror(-r));
	}
	if (r < 0 && r != -EINVAL && r != -EEXIST)
		r = -EIO;
out:
	bonds_free(b);
	authdb_unlock(lock);
	return r;
}

/* A stored bond's LE keys as the RPC carries them (rpc_le_bond_encode). */
static void bond_to_le(const struct bond *x, struct mux_le_bond *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->ltk, x->ltk, BONDS_KEY_LEN);
	k->ediv = x->ediv;
	memcpy(k->rand, x->rand, 8);
	k->key_size = x->key_size;
	k->authenticated = x->authenticated;
	k->has_irk = x->has_irk;
	if (x->has_irk)
		memcpy(k->irk, x->irk, BONDS_KEY_LEN);
}

/* RPC_BOND_LTK: the household LTK of an LE device (and its IRK), for the core. */
int mon_bond_ltk(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep)
{
	struct bonds *b = NULL;
	const struct bond *x;
	struct bdaddr a;
	int r;

	if (bdaddr_parse(q->rd, &a) < 0)
		return -EINVAL;
	r = mon_bonds_load(m, &b);
	if (r < 0)
		return r;
	x = bonds_find(b, &a, q->arg ? BDADDR_RANDOM : BDADDR_PUBLIC);
	if (x && x->has_ltk) {
		struct mux_le_bond k;

		bond_to_le(x, &k);
		rep->blob_len = rpc_le_bond_encode(&k, rep->blob);
		explicit_bzero(&k, sizeof(k));
	} else {
		r = -ENOENT;
	}
	bonds_free(b);
	return r;
}

/* RPC_BOND_NEW_LE's blob (rpc.h) and its length: with the IRK or not. */
struct le_blob {
	const uint8_t *b;
	size_t len;
	bool fresh_only;	/* an identity the device named: a new entry only */
};

/*
 * The LE keys of RPC_BOND_NEW_LE's blob. A pairing that distributed no
 * IRK keeps none: an IRK kept from before belongs to a pairing the
 * device has forgotten with its LTK. An LE bond already there stays:
 * only the admin replaces it (bgw-authdb bond forget), never a pairing,
 * which might be another device claiming this identity.
 */
static int fill_le(struct bond *nb, const void *arg)
{
	const struct le_blob *lb = arg;
	struct mux_le_bond k;
	int r;

	/*
	 * An identity a device named itself (the admin paired its private
	 * address): its IRK resolving that address proves only whose the
	 * keys are, not that the identity is theirs, so it never joins an
	 * entry another device's pairing or the admin made.
	 */
	if (nb->has_ltk || (lb->fresh_only && (nb->has_lk || nb->has_irk || nb->has_pltk)))
		return -EEXIST;
	r = rpc_le_bond_decode(lb->b, lb->len, &k);
	if (r < 0)
		return -EINVAL;
	nb->has_irk = k.has_irk;
	memcpy(nb->irk, k.irk, BONDS_KEY_LEN);
	nb->has_ltk = true;
	memcpy(nb->ltk, k.ltk, BONDS_KEY_LEN);
	nb->ediv = k.ediv;
	memcpy(nb->rand, k.rand, 8);
	nb->key_size = k.key_size;
	nb->authenticated = k.authenticated;
	explicit_bzero(&k, sizeof(k));
	return 0;
}

/*
 * RPC_BOND_NEW_LE: a user's legacy LE pairing, or the admin's at the
 * gateway (bgw-muxd pair, user BONDS_BY_GATEWAY, only for the one device
 * it asked to pair now), made the device's LTK (and its IRK, when it
 * gave one); they replace the device's LE keys (its link key, if any, is
 * kept) under its identity, and are audited.
 */
int mon_bond_new_le(struct muxd_monitor *m, const struct rpc_req *q)
{
	struct bond nb;
	struct bdaddr a;
	struct audit_fields f = { .user = q->name, .rd = q->rd, .uid = -1 };
	uint8_t type = q->arg ? BDADDR_RANDOM : BDADDR_PUBLIC;
	struct le_blob lb = { .fresh_only = false };
	bool gateway = false;
	char detail[80];
	int r;

	if (bdaddr_parse(q->rd, &a) < 0)
		return -EINVAL;
	if (!strcmp(q->name, BONDS_BY_GATEWAY)) {
		uid_t uid;

		if (!ctl_pair_expects(m, &a, type, true,
				      q->blob_len == RPC_BOND_LE_IRK_BLOB_LEN ?
				      q->blob + RPC_BOND_LE_BLOB_LEN : NULL, &uid, &lb.fresh_only))
			return -EACCES;
		f.uid = (long)uid;
		gateway = true;
	} else if (!m->db || !authdb_user_may_access(m->db, q->name, &a, type)) {
		return -EACCES;
	}
	lb.b = q->blob;
	lb.len = q->blob_len;
	r = mon_bond_update(m, &a, type, q->name, fill_le, &lb, &nb);
	if (r == -EEXIST && lb.fresh_only)
		log_warn("bond: the device paired at its private address names itself %s, "
			 "which the bond store already holds: its keys do not join that entry "
			 "(any device can name any identity; if it is that device, "
			 "bgw-authdb bond forget %s, then pair again)", q->rd, q->rd);
	else if (r == -EEXIST)
		log_warn("bond: %s already has a household LE bond: a new pairing by %s "
			 "does not replace it (to start over: bgw-authdb bond forget %s)",
			 q->rd, q->name, q->rd);
	if (r == 0) {
		snprintf(detail, sizeof(detail), "ltk key-size %u%s%s", nb.key_size,
			 nb.has_irk ? " irk" : "",
			 gateway ? ", paired at the gateway by the admin" : "");
		f.detail = detail;
		mon_audit_fields(m, AUDIT_BOND_NEW, &f);
		if (gateway)
			ctl_pair_kept(m);
	}
	explicit_bzero(&nb, sizeof(nb));
	return r;
}

/*
 * RPC_BOND_IRKS: the IRKs of the household LE bonds with their
 * identities, a page from entry q->arg on, so the core recognises a
 * bonded device on its private addresses (doc/virtual-controller.md,
 * "Private addresses") without asking at each advertising report. No
 * LTK or link key leaves the monitor this way.
 */
int mon_bond_irks(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep)
{
	struct bonds *b = NULL;
	unsigned i, k = 0, put = 0;
	uint8_t *e;
	int r;

	_Static_assert(2 + RPC_BOND_IRKS_PAGE * RPC_BOND_IRK_ENT_LEN <= RPC_RBLOB_MAX,
		       "a page fits a reply");
	r = mon_bonds_load(m, &b);
	if (r < 0)
		return r;
	for (i = 0; i < bonds_count(b); i++) {
		const struct bond *x = bonds_at(b, i);

		if (!x->has_irk)
			continue;
		if (k >= q->arg && put < RPC_BOND_IRKS_PAGE) {
			e = rep->blob + 2 + put * RPC_BOND_IRK_ENT_LEN;
			memcpy(e, x->addr.b, 6);
			e[6] = x->type == BDADDR_RANDOM;
			memcpy(e + 7, x->irk, BONDS_KEY_LEN);
			put++;
		}
		k++;
	}
	put_le16(rep->blob, (uint16_t)k);
	rep->blob_len = 2 + put * RPC_BOND_IRK_ENT_LEN;
	bonds_free(b);
	return 0;
}

/*
 * RPC_BOND_PLTK: the key a device holds for the gateway as its
 * peripheral (doc/virtual-controller.md, "The device as central"), for
 * the core to answer the device's LE Long Term Key Request with.
 */
int mon_bond_pltk(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep)
{
	struct bonds *b = NULL;
	const struct bond *x;
	struct mux_le_pkey k;
	struct bdaddr a;
	int r;

	if (bdaddr_parse(q->rd, &a) < 0)
		return -EINVAL;
	r = mon_bonds_load(m, &b);
	if (r < 0)
		return r;
	x = bonds_find(b, &a, q->arg ? BDADDR_RANDOM : BDADDR_PUBLIC);
	if (x && x->has_pltk) {
		memcpy(k.ltk, x->pltk, BONDS_KEY_LEN);
		k.ediv = x->pediv;
		memcpy(k.rand, x->prand, 8);
		rpc_le_pkey_encode(&k, rep->blob);
		rep->blob_len = RPC_BOND_PLTK_BLOB_LEN;
		explicit_bzero(&k, sizeof(k));
	} else {
		r = -ENOENT;
	}
	bonds_free(b);
	return r;
}

/*
 * The key the mux gave the device: it replaces the last one, as the
 * device replaced its bond for the gateway's address in that pairing;
 * the device's other keys stay.
 */
static int fill_pltk(struct bond *nb, const void *arg)
{
	const struct rpc_req *q = arg;
	struct mux_le_pkey k;

	if (rpc_le_pkey_decode(q->blob, q->blob_len, &k) < 0)
		return -EINVAL;
	/* EDIV and Rand zero would answer a pairing's STK request (2.4.4). */
	if (k.ediv == 0 && !memcmp(k.rand, "\0\0\0\0\0\0\0\0", 8)) {
		explicit_bzero(&k, sizeof(k));
		return -EINVAL;
	}
	nb->has_pltk = true;
	memcpy(nb->pltk, k.ltk, BONDS_KEY_LEN);
	nb->pediv = k.ediv;
	memcpy(nb->prand, k.rand, 8);
	explicit_bzero(&k, sizeof(k));
	return 0;
}

/*
 * RPC_BOND_NEW_PLTK: a user's host distributed its own LE key to the
 * device and the mux gave the device one of its own instead; only for
 * a user who may access the device now. The gateway's own pairing
 * (bgw-muxd pair) distributes nothing of ours, so @gateway is refused.
 */
int mon_bond_new_pltk(struct muxd_monitor *m, const struct rpc_req *q)
{
	struct bond nb;
	struct bdaddr a;
	struct audit_fields f = { .user = q->name, .rd = q->rd, .uid = -1,
				  .detail = "pltk, the device as central" };
	uint8_t type = q->arg ? BDADDR_RANDOM : BDADDR_PUBLIC;
	int r;

	if (bdaddr_parse(q->rd, &a) < 0)
		return -EINVAL;
	if (!strcmp(q->name, BONDS_BY_GATEWAY) || !m->db ||
	    !authdb_user_may_access(m->db, q->name, &a, type))
		return -EACCES;
	r = mon_bond_update(m, &a, type, q->name, fill_pltk, q, &nb);
	if (r == 0)
		mon_audit_fields(m, AUDIT_BOND_NEW, &f);
	explicit_bzero(&nb, sizeof(nb));
	return r;
}
