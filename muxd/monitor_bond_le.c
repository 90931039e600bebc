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

/* RPC_BOND_LTK: the household LTK of an LE device, for the core. */
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
		memcpy(rep->blob, x->ltk, BONDS_KEY_LEN);
		put_le16(rep->blob + 16, x->ediv);
		memcpy(rep->blob + 18, x->rand, 8);
		rep->blob[26] = x->key_size;
		rep->blob[27] = x->authenticated;
		rep->blob_len = RPC_BOND_LE_BLOB_LEN;
	} else {
		r = -ENOENT;
	}
	bonds_free(b);
	return r;
}

/*
 * RPC_BOND_NEW_LE: a user's legacy LE pairing made the device's LTK; it
 * replaces the device's LE keys (its link key and IRK, if any, are kept)
 * and is audited.
 */
int mon_bond_new_le(struct muxd_monitor *m, const struct rpc_req *q)
{
	struct bonds *b = NULL;
	const struct bond *old;
	struct bond nb;
	struct audit_fields f = { .user = q->name, .rd = q->rd, .uid = -1 };
	uint8_t type = q->arg ? BDADDR_RANDOM : BDADDR_PUBLIC;
	char detail[40];
	int r, lock;

	memset(&nb, 0, sizeof(nb));
	if (bdaddr_parse(q->rd, &nb.addr) < 0)
		return -EINVAL;
	if (!m->db || !authdb_user_may_access(m->db, q->name, &nb.addr, type))
		return -EACCES;
	lock = authdb_lock(m->d.conf.bonds);
	if (lock < 0) {
		log_err("bond store %s: cannot lock %s.lock: %s", m->d.conf.bonds,
			m->d.conf.bonds, strerror(-lock));
		return -EIO;
	}
	r = mon_bonds_load(m, &b);
	if (r < 0)
		goto out;
	old = bonds_find(b, &nb.addr, type);
	if (old)
		nb = *old;
	if (strlen(q->name) >= sizeof(nb.by)) {
		r = -EINVAL;
		goto out;
	}
	memcpy(nb.by, q->name, strlen(q->name) + 1);
	nb.type = type;
	nb.at = (int64_t)time(NULL);
	nb.has_ltk = true;
	memcpy(nb.ltk, q->blob, BONDS_KEY_LEN);
	nb.ediv = get_le16(q->blob + 16);
	memcpy(nb.rand, q->blob + 18, 8);
	nb.key_size = q->blob[26];
	nb.authenticated = q->blob[27] != 0;
	r = bonds_set(b, &nb);
	if (r == 0) {
		r = bonds_save(b, m->d.conf.bonds);
		if (r < 0)
			log_err("bond store %s not written: %s", m->d.conf.bonds, strerror(-r));
	}
	if (r == 0) {
		snprintf(detail, sizeof(detail), "ltk key-size %u", nb.key_size);
		f.detail = detail;
		mon_audit_fields(m, AUDIT_BOND_NEW, &f);
	} else if (r != -EINVAL) {
		r = -EIO;
	}
out:
	explicit_bzero(&nb, sizeof(nb));
	bonds_free(b);
	authdb_unlock(lock);
	return r;
}
