/* SPDX-License-Identifier: MIT */
/*
 * The multiplexer core against a scripted controller (tests/mux_tctl.c):
 * every routing rule of doc/virtual-controller.md has a named case here.
 * No timing: the controller answers only when a test pumps it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "check_main.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "mux_tctl.h"
#include "cmdtab.h"

/* Every opcode the controller receives is in the table (or the mux's own). */
static bool mux_cmd_find_for_test(uint16_t op)
{
	return mux_cmd_find(op) != NULL || op == HCI_OP_LE_SET_RANDOM_ADDR;
}

#define RX_MAX 4096

struct rxp {
	size_t len;
	uint8_t d[];
};

struct host {
	struct mux_session *s;
	const char *user;
	struct rxp *rx[RX_MAX];
	unsigned nrx;
	bool stall;
	unsigned refuse_in;	/* refuse the refuse_in-th emit from now (1: next) */
	uint16_t handles[2048];
	unsigned nh;
	/* The links this host has now, by its own handles (soak checks). */
	uint16_t live[MUX_MAX_CONNS];
	unsigned nlive;
};

/* Policy tables: which device (last address byte) each user may access. */
struct acl_ent {
	const char *user;
	uint8_t last;
};

static const struct acl_ent acl_tab[] = {
	{ "alice", 0x01 }, { "alice", 0x02 },
	{ "bob", 0x02 }, { "bob", 0x03 },
	{ "carol", 0x01 }, { "carol", 0x02 }, { "carol", 0x03 }, { "carol", 0x04 },
	{ "admin", 0x01 }, { "admin", 0x02 }, { "admin", 0x03 }, { "admin", 0x04 },
	/* A household of 16 devices for the buffer-sharing cases. */
	{ "dave", 0x10 }, { "dave", 0x11 }, { "dave", 0x12 }, { "dave", 0x13 },
	{ "dave", 0x14 }, { "dave", 0x15 }, { "dave", 0x16 }, { "dave", 0x17 },
	{ "dave", 0x18 }, { "dave", 0x19 }, { "dave", 0x1a }, { "dave", 0x1b },
	{ "dave", 0x1c }, { "dave", 0x1d }, { "dave", 0x1e }, { "dave", 0x1f },
};
static bool revoke_alice;
static bool remove_bob;
/* pol_may_access() calls, by user (alice, bob, carol), for the verdict cache. */
static unsigned access_calls[3];

static bool pol_is_user(const char *user, void *ctx)
{
	return !(remove_bob && strcmp(user, "bob") == 0);
}

static bool pol_is_admin(const char *user, void *ctx)
{
	return strcmp(user, "admin") == 0;
}

static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type,
			   void *ctx)
{
	struct bdaddr b;
	size_t i;

	access_calls[0] += !strcmp(user, "alice");
	access_calls[1] += !strcmp(user, "bob");
	access_calls[2] += !strcmp(user, "carol");
	if (revoke_alice && strcmp(user, "alice") == 0)
		return false;
	for (i = 0; i < sizeof(acl_tab) / sizeof(acl_tab[0]); i++) {
		tbdaddr(&b, acl_tab[i].last);
		if (strcmp(acl_tab[i].user, user) == 0 && bdaddr_eq(&b, a))
			return true;
	}
	return false;
}

/* What the core reported for the audit log. */
static unsigned denied_calls;
static uint16_t denied_last_op;
static struct bdaddr denied_last_addr;
static uint8_t denied_last_type;

static void pol_denied(const char *user, const struct bdaddr *a, uint8_t type,
		       uint16_t opcode, void *ctx)
{
	denied_calls++;
	denied_last_op = opcode;
	denied_last_addr = *a;
	denied_last_type = type;
}

/* The authdb whose device irk lines resolve RPAs, as bgw-muxd's core does. */
static struct authdb *irk_db;

static int pol_resolve_rpa(const struct bdaddr *rpa, struct bdaddr *id, uint8_t *id_type,
			   void *ctx)
{
	struct authdb_rd rd;

	if (!irk_db || authdb_rpa_resolve(irk_db, rpa, &rd))
		return -ENOENT;
	*id = rd.addr;
	*id_type = rd.type;
	return 0;
}

/* The household bond store, as bgw-muxd's monitor keeps it (one device). */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t key[16];
	uint8_t type;
	char by[16];
	unsigned news;
	int fail;		/* bond_new fails with this */
} tbond;

static int pol_bond_key(const struct bdaddr *a, uint8_t key[16], uint8_t *type, void *ctx)
{
	if (!tbond.has || !bdaddr_eq(a, &tbond.a))
		return -ENOENT;
	if (key) {
		memcpy(key, tbond.key, 16);
		*type = tbond.type;
	}
	return 0;
}

static int pol_bond_new(const char *user, const struct bdaddr *a, const uint8_t key[16],
			uint8_t type, void *ctx)
{
	tbond.news++;
	if (tbond.fail)
		return tbond.fail;
	tbond.has = true;
	tbond.a = *a;
	memcpy(tbond.key, key, 16);
	tbond.type = type;
	snprintf(tbond.by, sizeof(tbond.by), "%s", user);
	return 0;
}

static const struct mux_policy test_policy = {
	pol_is_user, pol_is_admin, pol_may_access, pol_denied, pol_resolve_rpa,
	pol_bond_key, pol_bond_new, NULL
};

/* The household LE bond store (one device), as the monitor keeps it. */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t type;
	struct mux_le_bond b;
	unsigned news;
} tle;

static int tpol_bond_ltk(const struct bdaddr *a, uint8_t type, struct mux_le_bond *b, void *ctx)
{
	if (!tle.has || !bdaddr_eq(a, &tle.a) || type != tle.type)
		return -ENOENT;
	if (b)
		*b = tle.b;
	return 0;
}

static int tpol_bond_new_le(const char *user, const struct bdaddr *a, uint8_t type,
			    const struct mux_le_bond *b, void *ctx)
{
	tle.has = true;
	tle.a = *a;
	tle.type = type;
	tle.b = *b;
	tle.news++;
	return 0;
}

static const struct mux_policy le_bond_policy = {
	pol_is_user, pol_is_admin, pol_may_access, pol_denied, pol_resolve_rpa,
	pol_bond_key, pol_bond_new, NULL, tpol_bond_ltk, tpol_bond_new_le
};
/* Set by a test: the next env_up()'s policy (NULL: test_policy). */
static const struct mux_policy *env_policy;

static struct loop *lp;
static struct tctl *tc;
static struct mux *mx;
static unsigned dead_calls;

static void on_dead(struct mux_session *s, void *sess_user, void *user)
{
	dead_calls++;
}

static void quiet_log(int prio, const char *line, void *user)
{
	if (getenv("MUX_TEST_LOG"))
		fprintf(stderr, "log: %s\n", line);
}

/* Set by a test to shape the next env_up()'s controller before init. */
static void (*tctl_prep)(struct tctl *t);
/* Set by a test: the next env_up()'s mux_config.time_scale (0: real time). */
static double env_time_scale;

static void env_up(uint16_t acl_pkts, uint16_t le_pkts, unsigned max_sessions)
{
	struct mux_config cfg = { max_sessions, 0, env_time_scale };
	struct mux_ops ops = { tctl_send, NULL, on_dead, NULL };

	env_time_scale = 0;
	log_set_handler(quiet_log, NULL);
	revoke_alice = remove_bob = false;
	dead_calls = 0;
	memset(&tbond, 0, sizeof(tbond));
	lp = loop_new();
	ck_assert_ptr_nonnull(lp);
	tc = tctl_new(acl_pkts, le_pkts);
	ops.user = tc;
	mx = mux_new(lp, &cfg, env_policy ? env_policy : &test_policy, &ops);
	env_policy = NULL;
	memset(&tle, 0, sizeof(tle));
	ck_assert_ptr_nonnull(mx);
	tc->mux = mx;
	if (tctl_prep)
		tctl_prep(tc);
	tctl_prep = NULL;
	mux_ctrl_up(mx);
	tctl_pump(tc);
	ck_assert(mux_is_ready(mx));
}

static void host_reset_rx(struct host *h)
{
	unsigned i;

	for (i = 0; i < h->nrx; i++)
		free(h->rx[i]);
	h->nrx = 0;
}

static void env_down(struct host **hs, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (hs[i]->s)
			mux_session_free(hs[i]->s);
		hs[i]->s = NULL;
		tctl_pump(tc);
		host_reset_rx(hs[i]);
	}
	ck_assert_uint_eq(tc->violations, 0);
	mux_free(mx);
	tctl_free(tc);
	loop_free(lp);
	log_set_handler(NULL, NULL);
}

static int host_emit(const uint8_t *h4, size_t len, void *user)
{
	struct host *h = user;
	struct rxp *r;

	if (h->stall)
		return -ENOBUFS;
	if (h->refuse_in && --h->refuse_in == 0)
		return -ENOBUFS;
	ck_assert_uint_lt(h->nrx, RX_MAX);
	r = malloc(sizeof(*r) + len);
	ck_assert_ptr_nonnull(r);
	r->len = len;
	memcpy(r->d, h4, len);
	h->rx[h->nrx++] = r;
	return 0;
}

static void host_start(struct host *h, const char *user)
{
	memset(h, 0, sizeof(*h));
	h->user = user;
	h->s = mux_session_new(mx, user, host_emit, h);
	ck_assert_ptr_nonnull(h->s);
	tctl_pump(tc);
}

static void host_drop(struct host *h, unsigned i)
{
	free(h->rx[i]);
	memmove(&h->rx[i], &h->rx[i + 1], (h->nrx - i - 1) * sizeof(h->rx[0]));
	h->nrx--;
}

static bool is_evt(const struct rxp *r, uint8_t code, int sub)
{
	return r->len >= 3 && r->d[0] == H4_EVT && r->d[1] == code &&
	       (sub < 0 || (r->len >= 4 && r->d[3] == sub));
}

static unsigned host_count(const struct host *h, uint8_t code, int sub)
{
	unsigned i, n = 0;

	for (i = 0; i < h->nrx; i++)
		n += is_evt(h->rx[i], code, sub);
	return n;
}

/* Remove the first matching event; copy its parameters. -1 if none. */
static int host_take(struct host *h, uint8_t code, int sub, uint8_t *param)
{
	unsigned i;
	int plen;

	for (i = 0; i < h->nrx; i++) {
		if (!is_evt(h->rx[i], code, sub))
			continue;
		plen = h->rx[i]->d[2];
		if (param)
			memcpy(param, h->rx[i]->d + 3, (size_t)plen);
		host_drop(h, i);
		return plen;
	}
	return -1;
}

static void host_send(struct host *h, uint16_t op, const void *p, size_t plen)
{
	uint8_t b[300];
	int n = h4_build_cmd(b, sizeof(b), op, p, plen);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(mux_session_input(h->s, b, (size_t)n), 0);
}

/*
 * Take the completion of op: it must be the first Command Complete/Status
 * this host has, for this opcode (a completion for a command it did not
 * send would be a routing leak). Returns the status; ret gets the CC's
 * return parameters.
 */
static int host_done(struct host *h, uint16_t op, uint8_t *ret, bool *is_cs)
{
	unsigned i;

	for (i = 0; i < h->nrx; i++) {
		struct rxp *r = h->rx[i];
		int st;

		if (is_evt(r, HCI_EV_CMD_COMPLETE, -1)) {
			ck_assert_uint_eq(r->d[3], 1);
			ck_assert_uint_eq(get_le16(r->d + 4), op);
			st = r->d[2] > 3 ? r->d[6] : 0;
			if (ret)
				memcpy(ret, r->d + 6, r->d[2] - 3u);
			if (is_cs)
				*is_cs = false;
		} else if (is_evt(r, HCI_EV_CMD_STATUS, -1)) {
			ck_assert_uint_eq(r->d[4], 1);
			ck_assert_uint_eq(get_le16(r->d + 5), op);
			st = r->d[3];
			if (is_cs)
				*is_cs = true;
		} else {
			continue;
		}
		host_drop(h, i);
		return st;
	}
	return -1;
}

static int host_cmd(struct host *h, uint16_t op, const void *p, size_t plen, uint8_t *ret)
{
	host_send(h, op, p, plen);
	tctl_pump(tc);
	return host_done(h, op, ret, NULL);
}

/*
 * The controller's handle for the link host h knows as vh (its own handle
 * space, doc "Handles"), from the core's status query; 0 if none.
 */
static uint16_t phys(const struct host *h, uint16_t vh)
{
	struct mux_link_info li[MUX_MAX_CONNS];
	unsigned i, n = mux_session_links(h->s, li, MUX_MAX_CONNS);

	for (i = 0; i < n; i++)
		if (li[i].vhandle == vh)
			return li[i].handle;
	return 0;
}

static void host_own(struct host *h, uint16_t handle)
{
	ck_assert_uint_lt(h->nh, 2048);
	h->handles[h->nh++] = handle;
}

/* What Linux 6.1 sends at power-on (notes, section 1.2), all must succeed. */
static void host_init(struct host *h)
{
	static const uint8_t evmask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	static const uint8_t lemask[8] = { 0x1f, 0x00 };
	static const uint8_t zero[8];
	static const uint8_t one = 1;
	static const uint8_t two = 2;
	static const uint8_t page1 = 1;
	static const uint8_t page2 = 2;
	static const uint8_t rsl[7] = { 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t le_host[2] = { 1, 0 };
	static const uint8_t cat[2] = { 0x00, 0x7d };
	uint8_t ret[256];

	ck_assert_int_eq(host_cmd(h, HCI_OP_RESET, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_FEATURES, NULL, 0, ret), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_VERSION, NULL, 0, ret), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_BD_ADDR, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[1], 0x55);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret), 0);
	/* Vendor/test/ISO are not offered; Reset and Disconnect are. */
	ck_assert(ret[1 + 5] & 0x80);
	ck_assert(ret[1 + 0] & 0x20);
	ck_assert(!(ret[1 + 16] & 0x07));
	ck_assert(!(ret[1 + 41] & 0x20));
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_EXT_INQUIRY_RESPONSE, ret, 241, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_INQUIRY_MODE, &two, 1, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_INQ_RSP_TX_POWER, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_EXT_FEATURES, &page1, 1, ret), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_uint_ge(get_le16(ret + 4), 1);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_CLASS_OF_DEV, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_NAME, NULL, 0, ret), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_VOICE_SETTING, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_NUM_SUPPORTED_IAC, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_CURRENT_IAC_LAP, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT, cat, 2, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_READ_LOCAL_FEATURES, NULL, 0, ret), 0);
	ck_assert(!(ret[1] & 0x40));	/* LL privacy hidden */
	ck_assert(!(ret[2] & 0x20));	/* periodic advertising hidden */
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_READ_SUPPORTED_STATES, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_SET_EVENT_MASK, evmask, 8, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_STORED_LINK_KEY, rsl, 7, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_DEF_LINK_POLICY, zero, 2, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_PAGE_SCAN_ACTIVITY, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_PAGE_SCAN_TYPE, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_EXT_FEATURES, &page2, 1, ret), 0);
	ck_assert_uint_eq(ret[2], 2);		/* max page */
	ck_assert_uint_eq(ret[3] & 0x0f, 0);	/* no CPB, no sync train */
	ck_assert_uint_eq(ret[4] & 0x01, 1);	/* SC kept */
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_READ_ADV_TX_POWER, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_READ_ACCEPT_LIST_SIZE, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_LE_HOST_SUPPORTED, le_host, 2, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_DELETE_STORED_LINK_KEY, rsl, 7, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_SET_EVENT_MASK_PAGE_2, zero, 8, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_CODECS, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_SIMPLE_PAIRING_MODE, &one, 1, NULL), 0);
	/* Host features page 1 now shows this host's own SSP and LE bits. */
	ck_assert_int_eq(host_cmd(h, HCI_OP_READ_LOCAL_EXT_FEATURES, &page1, 1, ret), 0);
	ck_assert_uint_eq(ret[3] & 0x03, 0x03);
}

static void host_connectable(struct host *h)
{
	static const uint8_t pscan = 0x02;

	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_SCAN_ENABLE, &pscan, 1, NULL), 0);
}

/* Create Connection to device `last`; returns the handle it got. */
static uint16_t host_connect(struct host *h, uint8_t last)
{
	uint8_t p[13] = { 0 }, ev[32];
	struct bdaddr a;
	uint16_t handle;

	tbdaddr(&a, last);
	memcpy(p, a.b, 6);
	ck_assert_int_eq(host_cmd(h, HCI_OP_CREATE_CONN, p, 13, NULL), 0);
	ck_assert_int_eq(host_take(h, HCI_EV_CONN_COMPLETE, -1, ev), 11);
	ck_assert_uint_eq(ev[0], 0);
	ck_assert_mem_eq(ev + 3, a.b, 6);
	handle = get_le16(ev + 1);
	host_own(h, handle);
	return handle;
}

static void host_inquiry(struct host *h)
{
	static const uint8_t p[5] = { 0x33, 0x8b, 0x9e, 0x04, 0x00 };

	ck_assert_int_eq(host_cmd(h, HCI_OP_INQUIRY, p, 5, NULL), 0);
}

static bool host_saw_addr(const struct host *h, uint8_t code, int sub, uint8_t last)
{
	struct bdaddr a;
	unsigned i;
	size_t j;

	tbdaddr(&a, last);
	for (i = 0; i < h->nrx; i++) {
		if (!is_evt(h->rx[i], code, sub))
			continue;
		for (j = 3; j + 6 <= h->rx[i]->len; j++)
			if (memcmp(h->rx[i]->d + j, a.b, 6) == 0)
				return true;
	}
	return false;
}

static void host_le_scan(struct host *h, bool on, uint8_t dup);

/* ------------------------------------------------------------------ */

START_TEST(init_sequence_each_session)
{
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	unsigned base;

	env_up(8, 8, 4);
	base = tc->ncmds;
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&b);
	host_init(&c);
	/* Three hosts initialised; the physical controller was never reset by them. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_RESET, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DELETE_STORED_LINK_KEY, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_STORED_LINK_KEY, base), 0);
	/* Identity and read-only commands come from the cache, never forwarded. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_LOCAL_VERSION, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_LOCAL_FEATURES, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_LOCAL_COMMANDS, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_BD_ADDR, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_BUFFER_SIZE, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_READ_LOCAL_EXT_FEATURES, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_READ_BUFFER_SIZE, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_READ_LOCAL_FEATURES, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_READ_SUPPORTED_STATES, base), 0);
	/* Physical event mask is the union: includes what they asked for. */
	ck_assert_uint_eq(tc->evmask[7] & 0x3d, 0x3d);
	env_down(hs, 3);
}
END_TEST

START_TEST(init_waits_for_controller)
{
	struct host a;
	struct host *hs[] = { &a };
	struct mux_config cfg = { 4, 0 };
	struct mux_ops ops = { tctl_send, NULL, on_dead, NULL };

	log_set_handler(quiet_log, NULL);
	lp = loop_new();
	tc = tctl_new(8, 8);
	ops.user = tc;
	mx = mux_new(lp, &cfg, env_policy ? env_policy : &test_policy, &ops);
	env_policy = NULL;
	memset(&tle, 0, sizeof(tle));
	tc->mux = mx;
	host_start(&a, "alice");
	host_send(&a, HCI_OP_READ_BD_ADDR, NULL, 0);
	/* Nothing is known before the controller is initialised: no answer yet. */
	ck_assert_uint_eq(a.nrx, 0);
	mux_ctrl_up(mx);
	tctl_pump(tc);
	ck_assert_int_eq(host_done(&a, HCI_OP_READ_BD_ADDR, NULL, NULL), 0);
	/*
	 * With only default masks, the physical mask still enables the
	 * inquiry result formats the mux converts (RSSI bit 33, EIR bit 46).
	 */
	ck_assert(tc->evmask[4] & 0x02);
	ck_assert(tc->evmask[5] & 0x40);
	env_down(hs, 1);
}
END_TEST

START_TEST(same_opcode_never_twice_and_completion_to_sender)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint8_t ra[16], rb[16];
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	base = tc->ncmds;
	host_send(&a, HCI_OP_LE_RAND, NULL, 0);
	host_send(&b, HCI_OP_LE_RAND, NULL, 0);
	tctl_pump(tc);
	/* tctl counts a violation if both were outstanding at once. */
	ck_assert_uint_eq(tc->violations, 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_RAND, base), 2);
	ck_assert_int_eq(host_done(&a, HCI_OP_LE_RAND, ra, NULL), 0);
	ck_assert_int_eq(host_done(&b, HCI_OP_LE_RAND, rb, NULL), 0);
	/* Exactly one completion each. */
	ck_assert_int_eq(host_done(&a, HCI_OP_LE_RAND, NULL, NULL), -1);
	ck_assert_int_eq(host_done(&b, HCI_OP_LE_RAND, NULL, NULL), -1);
	env_down(hs, 2);
}
END_TEST

START_TEST(fair_round_robin)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	unsigned base, i, pos_b = 0, seen = 0, nsess = 0;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	tc->hold_cc = true;
	base = tc->ncmds;
	/* alice floods its queue; bob sends one command after her. */
	for (i = 0; i < MUX_SESSION_CMDQ; i++)
		host_send(&a, HCI_OP_LE_RAND, NULL, 0);
	host_send(&b, HCI_OP_READ_LOCAL_OOB_DATA, NULL, 0);
	/* Release one answer at a time: bob's must go out second. */
	for (i = 0; seen < 64 && nsess < MUX_SESSION_CMDQ + 1; i++) {
		uint8_t r[9] = { 0 }, cbuf[32];
		uint16_t op;
		int n;

		ck_assert_uint_eq(tc->ncmds, base + i + 1);
		op = tc->cmds[base + i];
		if (op == HCI_OP_READ_LOCAL_OOB_DATA)
			pos_b = nsess;
		if (op == HCI_OP_READ_LOCAL_OOB_DATA || op == HCI_OP_LE_RAND)
			nsess++;
		seen++;
		tc->outstanding = 0;
		n = h4_build_cc(cbuf, sizeof(cbuf), 1, op, r, op == HCI_OP_LE_RAND ? 9 : 1);
		mux_ctrl_input(mx, cbuf, (size_t)n);
	}
	ck_assert_uint_eq(nsess, MUX_SESSION_CMDQ + 1);
	ck_assert_uint_le(pos_b, 1);
	tc->hold_cc = false;
	env_down(hs, 2);
}
END_TEST

START_TEST(shared_inquiry_acl_filtered)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;
	unsigned base, i;
	uint8_t st;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	base = tc->ncmds;
	host_inquiry(&a);
	host_inquiry(&b);
	/* One physical inquiry for both. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY, base), 1);
	for (i = 1; i <= 4; i++) {
		tbdaddr(&rd, (uint8_t)i);
		tctl_inquiry_result(tc, &rd);
		tctl_inquiry_result(tc, &rd);	/* repeated response */
	}
	tctl_inquiry_complete(tc);
	tctl_pump(tc);
	/* alice may see 1 and 2, bob 2 and 3; nobody sees 4; once each. */
	ck_assert(host_saw_addr(&a, HCI_EV_EXT_INQUIRY_RESULT, -1, 1));
	ck_assert(host_saw_addr(&a, HCI_EV_EXT_INQUIRY_RESULT, -1, 2));
	ck_assert(!host_saw_addr(&a, HCI_EV_EXT_INQUIRY_RESULT, -1, 3));
	ck_assert(!host_saw_addr(&a, HCI_EV_EXT_INQUIRY_RESULT, -1, 4));
	ck_assert(!host_saw_addr(&b, HCI_EV_EXT_INQUIRY_RESULT, -1, 1));
	ck_assert(host_saw_addr(&b, HCI_EV_EXT_INQUIRY_RESULT, -1, 2));
	ck_assert(host_saw_addr(&b, HCI_EV_EXT_INQUIRY_RESULT, -1, 3));
	ck_assert(!host_saw_addr(&b, HCI_EV_EXT_INQUIRY_RESULT, -1, 4));
	ck_assert_uint_eq(host_count(&a, HCI_EV_EXT_INQUIRY_RESULT, -1), 2);
	ck_assert_uint_eq(host_count(&b, HCI_EV_EXT_INQUIRY_RESULT, -1), 2);
	/* Each gets its own Inquiry Complete. */
	ck_assert_int_eq(host_take(&a, HCI_EV_INQUIRY_COMPLETE, -1, &st), 1);
	ck_assert_int_eq(host_take(&b, HCI_EV_INQUIRY_COMPLETE, -1, &st), 1);
	env_down(hs, 2);
}
END_TEST

START_TEST(inquiry_join_replays_results)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_inquiry(&a);
	tbdaddr(&rd, 2);
	tctl_inquiry_result(tc, &rd);
	tbdaddr(&rd, 1);
	tctl_inquiry_result(tc, &rd);
	tctl_pump(tc);
	/* bob joins late: he still gets the device found before (2, not 1). */
	host_inquiry(&b);
	ck_assert(host_saw_addr(&b, HCI_EV_EXT_INQUIRY_RESULT, -1, 2));
	ck_assert_uint_eq(host_count(&b, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_EXT_INQUIRY_RESULT, -1), 2);
	env_down(hs, 2);
}
END_TEST

START_TEST(acl_filters_all_result_formats)
{
	struct host a;
	struct host *hs[] = { &a };
	static const uint8_t lemask[8] = { 0x1f, 0x14 };	/* + directed, extended */
	struct bdaddr ok_rd, no_rd;
	uint8_t p[64];
	unsigned k;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	host_inquiry(&a);
	host_le_scan(&a, true, 0);
	tbdaddr(&ok_rd, 1);
	tbdaddr(&no_rd, 3);
	for (k = 0; k < 2; k++) {
		const struct bdaddr *rd = k ? &ok_rd : &no_rd;

		/* Inquiry Result (0x02) and with RSSI (0x22), 14 bytes each. */
		memset(p, 0, sizeof(p));
		p[0] = 1;
		memcpy(p + 1, rd->b, 6);
		tctl_event(tc, HCI_EV_INQUIRY_RESULT, p, 15);
		tctl_event(tc, HCI_EV_INQUIRY_RESULT_RSSI, p, 15);
		/* LE Extended Advertising Report: 24 fixed bytes, 3 of data. */
		memset(p, 0, sizeof(p));
		p[0] = HCI_LE_EV_EXT_ADV_REPORT;
		p[1] = 1;
		p[2] = 0x13;
		memcpy(p + 5, rd->b, 6);
		p[25] = 3;
		tctl_event(tc, HCI_EV_LE_META, p, 29);
		/* LE Directed Advertising Report: 16 bytes. */
		memset(p, 0, sizeof(p));
		p[0] = HCI_LE_EV_DIRECT_ADV_REPORT;
		p[1] = 1;
		p[2] = 0x01;
		memcpy(p + 4, rd->b, 6);
		tctl_event(tc, HCI_EV_LE_META, p, 18);
		tctl_pump(tc);
		if (k == 0) {
			/* The forbidden device: nothing at all. */
			ck_assert_msg(a.nrx == 0, "got event 0x%02x 0x%02x", a.nrx ? a.rx[0]->d[1] : 0,
				      a.nrx ? a.rx[0]->d[3] : 0);
		}
	}
	/* The allowed one in every format (standard once: one per inquiry). */
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_RESULT, -1) +
			  host_count(&a, HCI_EV_INQUIRY_RESULT_RSSI, -1), 1);
	/* A legacy scanner gets the extended report's legacy PDU as a legacy report. */
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT), 0);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_DIRECT_ADV_REPORT), 1);
	/* A malformed report is dropped, not half-delivered. */
	host_reset_rx(&a);
	memset(p, 0, sizeof(p));
	p[0] = HCI_LE_EV_ADV_REPORT;
	p[1] = 2;	/* says two, carries one */
	memcpy(p + 4, ok_rd.b, 6);
	tctl_event(tc, HCI_EV_LE_META, p, 13);
	tctl_pump(tc);
	ck_assert_uint_eq(a.nrx, 0);
	env_down(hs, 1);
}
END_TEST

START_TEST(inquiry_result_format_per_session)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	static const uint8_t mode1 = 1;
	struct bdaddr rd;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "carol");
	host_init(&a);
	host_init(&b);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_WRITE_INQUIRY_MODE, &mode1, 1, NULL), 0);
	host_inquiry(&a);
	host_inquiry(&b);
	tbdaddr(&rd, 2);
	tctl_inquiry_result(tc, &rd);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_INQUIRY_RESULT_RSSI, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_EXT_INQUIRY_RESULT, -1), 0);
	env_down(hs, 2);
}
END_TEST

/*
 * A session joining a running inquiry gets the length it asked for: the
 * physical inquiry is started again for it when the first one ends (the
 * controller's Inquiry Complete is the clock), with Num_Responses never
 * forwarded; each session gets its own Inquiry Complete at its own end, or
 * when it has its own Num_Responses (7.1.1).
 */
START_TEST(inquiry_join_gets_its_own_length)
{
	static const uint8_t len1[5] = { 0x33, 0x8b, 0x9e, 0x01, 0x05 };
	static const uint8_t len4[5] = { 0x33, 0x8b, 0x9e, 0x04, 0x00 };
	static const uint8_t len4_one[5] = { 0x33, 0x8b, 0x9e, 0x04, 0x01 };
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	struct bdaddr rd;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&b);
	host_init(&c);
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_INQUIRY, len1, 5, NULL), 0);
	ck_assert_uint_eq(tc->inq_params[3], 1);
	ck_assert_uint_eq(tc->inq_params[4], 0);	/* counted per session */
	ck_assert_int_eq(host_cmd(&c, HCI_OP_INQUIRY, len4, 5, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY, base), 1);
	tbdaddr(&rd, 2);
	tctl_inquiry_result(tc, &rd);
	/* alice's length is over; carol is owed 3 more units: a new inquiry. */
	tctl_inquiry_complete(tc);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY, base), 2);
	ck_assert_uint_eq(tc->inq_params[3], 3);
	ck_assert_uint_eq(tc->inq_params[4], 0);
	ck_assert(tc->inquiry);
	/* Only carol is still inquiring; what she saw is not repeated. */
	tbdaddr(&rd, 1);
	tctl_inquiry_result(tc, &rd);
	tbdaddr(&rd, 2);
	tctl_inquiry_result(tc, &rd);
	tctl_pump(tc);
	ck_assert(!host_saw_addr(&a, HCI_EV_EXT_INQUIRY_RESULT, -1, 1));
	ck_assert(host_saw_addr(&c, HCI_EV_EXT_INQUIRY_RESULT, -1, 1));
	ck_assert_uint_eq(host_count(&c, HCI_EV_EXT_INQUIRY_RESULT, -1), 2);
	tctl_inquiry_complete(tc);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY, base), 2);
	ck_assert(!tc->inquiry);
	host_reset_rx(&a);
	host_reset_rx(&c);

	/*
	 * Num_Responses 1 for carol: her first device (one alice may not
	 * see, so not alice's to count) ends her inquiry only.
	 */
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_INQUIRY, len4, 5, NULL), 0);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_INQUIRY, len4_one, 5, NULL), 0);
	tbdaddr(&rd, 4);
	tctl_inquiry_result(tc, &rd);
	tbdaddr(&rd, 1);
	tctl_inquiry_result(tc, &rd);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&c, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert(host_saw_addr(&c, HCI_EV_EXT_INQUIRY_RESULT, -1, 4));
	ck_assert_uint_eq(host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 0);
	ck_assert(tc->inquiry);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 0);
	/* alice leaves; the last one, Num_Responses 1: the inquiry is cancelled. */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_INQUIRY, len4_one, 5, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_INQUIRY_CANCEL, NULL, 0, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 0);
	tbdaddr(&rd, 3);
	tctl_inquiry_result(tc, &rd);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&b, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 1);
	ck_assert(!tc->inquiry);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 0);
	env_down(hs, 3);
}
END_TEST

/*
 * A session that joins with a shorter length than the physical inquiry has
 * left ends on its own (the controller's time, scaled), the others and the
 * physical inquiry go on.
 */
START_TEST(inquiry_joiner_shorter_ends_on_its_own)
{
	static const uint8_t len48[5] = { 0x33, 0x8b, 0x9e, 0x30, 0x00 };
	static const uint8_t len1[5] = { 0x33, 0x8b, 0x9e, 0x01, 0x00 };
	struct host a, c;
	struct host *hs[] = { &a, &c };
	unsigned base, i;

	env_time_scale = 0.001;	/* 1.28 ms per unit */
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&c);
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_INQUIRY, len48, 5, NULL), 0);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_INQUIRY, len1, 5, NULL), 0);
	ck_assert_uint_eq(host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1), 0);
	for (i = 0; i < 500 && !host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1); i++) {
		loop_iterate(lp, 2);
		tctl_pump(tc);
	}
	ck_assert_uint_eq(host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 0);
	ck_assert(tc->inquiry);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY, base), 1);
	/* alice's own end is the controller's. */
	tctl_inquiry_complete(tc);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(host_count(&c, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY, base), 1);
	env_down(hs, 2);
}
END_TEST

START_TEST(inquiry_cancel_only_when_nobody_needs_it)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	unsigned base;
	struct bdaddr rd;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_inquiry(&a);
	host_inquiry(&b);
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_INQUIRY_CANCEL, NULL, 0, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 0);
	ck_assert(tc->inquiry);
	/* alice stopped: she gets no more results; bob still does. */
	tbdaddr(&rd, 2);
	tctl_inquiry_result(tc, &rd);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_EXT_INQUIRY_RESULT, -1), 0);
	ck_assert_uint_eq(host_count(&b, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_INQUIRY_CANCEL, NULL, 0, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 1);
	ck_assert(!tc->inquiry);
	/* A cancel without an inquiry is Command Disallowed, as a controller says. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_INQUIRY_CANCEL, NULL, 0, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_uint_eq(host_count(&a, HCI_EV_INQUIRY_COMPLETE, -1), 0);
	env_down(hs, 2);
}
END_TEST

START_TEST(forbidden_connect_refused_not_forwarded)
{
	/* Linux 6.1's mask (host_init) without Connection Complete (bit 2). */
	static const uint8_t evmask_no_cc[8] = { 0xfb, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	struct host a;
	struct host *hs[] = { &a };
	uint8_t p[25] = { 0 }, ev[256], mask[8];
	struct bdaddr rd;
	unsigned base;
	bool is_cs;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	base = tc->ncmds;
	denied_calls = 0;
	tbdaddr(&rd, 3);	/* bob's, not alice's */
	memcpy(p, rd.b, 6);
	/*
	 * Refused as a failed page: Command Status success, then Connection
	 * Complete 0x0F, handle 0, the address, Link_Type ACL (Linux 6.1
	 * dies on the failed Command Status path).
	 */
	host_send(&a, HCI_OP_CREATE_CONN, p, 13);
	tctl_pump(tc);
	ck_assert_int_eq(a.nrx, 2);
	ck_assert(is_evt(a.rx[0], HCI_EV_CMD_STATUS, -1));
	ck_assert_int_eq(host_done(&a, HCI_OP_CREATE_CONN, NULL, &is_cs), 0);
	ck_assert(is_cs);
	ck_assert_int_eq(host_take(&a, HCI_EV_CONN_COMPLETE, -1, ev), 11);
	ck_assert_uint_eq(ev[0], HCI_ST_REJ_BAD_ADDR);
	ck_assert_uint_eq(get_le16(ev + 1), 0);
	ck_assert_mem_eq(ev + 3, rd.b, 6);
	ck_assert_uint_eq(ev[9], 0x01);
	/* Remote Name Request likewise, through Remote Name Request Complete. */
	host_send(&a, HCI_OP_REMOTE_NAME_REQ, p, 10);
	tctl_pump(tc);
	ck_assert_int_eq(a.nrx, 2);
	ck_assert(is_evt(a.rx[0], HCI_EV_CMD_STATUS, -1));
	ck_assert_int_eq(host_done(&a, HCI_OP_REMOTE_NAME_REQ, NULL, NULL), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_REMOTE_NAME, -1, ev), 255);
	ck_assert_uint_eq(ev[0], HCI_ST_REJ_BAD_ADDR);
	ck_assert_mem_eq(ev + 1, rd.b, 6);
	ck_assert_uint_eq(ev[7], 0);
	/* A session that masked Connection Complete gets the Command Status only. */
	memcpy(mask, evmask_no_cc, 8);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_SET_EVENT_MASK, mask, 8, NULL), 0);
	host_send(&a, HCI_OP_CREATE_CONN, p, 13);
	tctl_pump(tc);
	ck_assert_int_eq(host_done(&a, HCI_OP_CREATE_CONN, NULL, NULL), 0);
	ck_assert_int_eq(a.nrx, 0);
	mask[0] |= 0x04;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_SET_EVENT_MASK, mask, 8, NULL), 0);
	memset(p, 0, sizeof(p));
	put_le16(p, 0x60);
	put_le16(p + 2, 0x60);
	memcpy(p + 6, rd.b, 6);
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	/* LE: Command Status success, then LE Connection Complete 0x0F. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, ev), 19);
	ck_assert_uint_eq(ev[1], HCI_ST_REJ_BAD_ADDR);
	ck_assert_uint_eq(ev[5], 0x00);
	ck_assert_mem_eq(ev + 6, rd.b, 6);
	ck_assert_int_eq(a.nrx, 0);
	/* Nothing was kept pending: the next one is refused the same way. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, ev), 19);
	ck_assert_uint_eq(ev[1], HCI_ST_REJ_BAD_ADDR);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_CREATE_CONN, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_REMOTE_NAME_REQ, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 0);
	/* Each refusal was reported for the audit log. */
	ck_assert_uint_eq(denied_calls, 5);
	ck_assert_uint_eq(denied_last_op, HCI_OP_LE_CREATE_CONN);
	ck_assert(bdaddr_eq(&denied_last_addr, &rd));
	/* An allowed one goes through, on LE too, and is not reported. */
	tbdaddr(&rd, 1);
	memcpy(p + 6, rd.b, 6);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_uint_eq(denied_calls, 5);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, NULL), 19);
	env_down(hs, 1);
}
END_TEST

START_TEST(le_random_address_programmed_for_its_connection)
{
	struct host a;
	struct host *hs[] = { &a };
	static const uint8_t rnd_a[6] = { 1, 2, 3, 4, 5, 0xc6 };
	uint8_t p[25] = { 0 };
	struct bdaddr rd;
	unsigned base, i;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_RANDOM_ADDR, rnd_a, 6, NULL), 0);
	/* Virtual only, until it matters. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_RANDOM_ADDR, base), 0);
	put_le16(p, 0x60);
	put_le16(p + 2, 0x60);
	tbdaddr(&rd, 2);
	memcpy(p + 6, rd.b, 6);
	p[12] = 0x01;	/* own address: random */
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	/* The physical random address was set to hers, right before. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_RANDOM_ADDR, base), 1);
	for (i = base; i < tc->ncmds && tc->cmds[i] != HCI_OP_LE_SET_RANDOM_ADDR; i++)
		;
	ck_assert_uint_eq(tc->cmds[i + 1], HCI_OP_LE_CREATE_CONN);
	env_down(hs, 1);
}
END_TEST

/* Accept-list helpers: entries are test devices (last byte), public. */
static void host_al_add(struct host *h, uint8_t last)
{
	uint8_t p[7] = { 0 };
	struct bdaddr a;

	tbdaddr(&a, last);
	memcpy(p + 1, a.b, 6);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_ADD_TO_ACCEPT_LIST, p, 7, NULL), 0);
}

static void le_create_params(uint8_t p[25], uint8_t policy, uint8_t peer_last, uint8_t own)
{
	struct bdaddr a;

	memset(p, 0, 25);
	put_le16(p, 0x60);
	put_le16(p + 2, 0x30);
	p[4] = policy;
	tbdaddr(&a, peer_last);
	memcpy(p + 6, a.b, 6);
	p[12] = own;
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
}

static int host_le_connect_al(struct host *h)
{
	uint8_t p[25];

	le_create_params(p, 1, 0, 0);
	return host_cmd(h, HCI_OP_LE_CREATE_CONN, p, 25, NULL);
}

/* Take an LE Connection Complete: its status; *peer_last, *handle. */
static int host_take_le_conn(struct host *h, uint8_t *peer_last, uint16_t *handle)
{
	uint8_t ev[40];

	if (host_take(h, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, ev) < 0)
		return -1;
	if (peer_last)
		*peer_last = ev[1 + 5];
	if (handle)
		*handle = get_le16(ev + 1 + 1);
	return ev[1];
}

static bool tal(uint8_t last)
{
	struct bdaddr a;

	tbdaddr(&a, last);
	return tctl_al_has(tc, 0, &a);
}

/*
 * Two sessions connecting through their accept lists share one physical
 * initiation over the union of what each may access; the link goes to the
 * session whose list has the peer, and the others' initiation goes on.
 */
START_TEST(le_accept_list_connect_union_and_route)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr d;
	uint8_t last;
	uint16_t h, hh;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_al_add(&a, 1);
	host_al_add(&a, 4);	/* not hers to reach: never programmed */
	host_al_add(&b, 3);
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	ck_assert_int_eq(host_le_connect_al(&b), 0);
	/* A second initiation from the same host is refused (Vol 6 Part B 4.5). */
	ck_assert_int_eq(host_le_connect_al(&a), HCI_ST_COMMAND_DISALLOWED);
	/* Its list is fixed while it initiates (7.8.16). */
	{
		uint8_t p[7] = { 0 };

		ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_ADD_TO_ACCEPT_LIST, p, 7, NULL),
				 HCI_ST_COMMAND_DISALLOWED);
	}
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert(tal(1));
	ck_assert(tal(3));
	ck_assert(!tal(4));
	ck_assert_uint_eq(tc->nal, 2);

	/* Bob's device answers: his link, nothing to alice. */
	base = tc->ncmds;
	tbdaddr(&d, 3);
	h = tctl_le_al_connect(tc, 0, &d);
	ck_assert_uint_ne(h, 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&b, &last, &hh), 0);
	ck_assert_uint_eq(last, 3);
	ck_assert_uint_eq(hh, 1);
	ck_assert_uint_eq(phys(&b, hh), h);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), -1);
	/* Re-issued for alice alone, over her entries only. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 1);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert(tal(1));
	ck_assert(!tal(3));
	tbdaddr(&d, 1);
	h = tctl_le_al_connect(tc, 0, &d);
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&a, &last, &hh), 0);
	ck_assert_uint_eq(last, 1);
	ck_assert_uint_eq(hh, 1);
	ck_assert_uint_eq(phys(&a, hh), h);
	ck_assert(!tc->le_connecting);
	host_own(&a, hh);
	env_down(hs, 2);
}
END_TEST

/*
 * LE Create Connection Cancel from one session ends only its part: it gets
 * Command Complete then LE Connection Complete 0x02 (7.8.13); the physical
 * initiation is cancelled and re-issued for the other, which sees nothing.
 */
START_TEST(le_accept_list_cancel_only_own_part)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr d;
	unsigned base, i;
	int ia = -1, ib = -1;
	uint8_t last;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_al_add(&a, 1);
	host_al_add(&b, 3);
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	ck_assert_int_eq(host_le_connect_al(&b), 0);
	host_reset_rx(&a);
	host_reset_rx(&b);
	base = tc->ncmds;
	host_send(&b, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0);
	tctl_pump(tc);
	/* Command Complete first, then the Connection Complete (0x02). */
	for (i = 0; i < b.nrx; i++) {
		if (ia < 0 && is_evt(b.rx[i], HCI_EV_CMD_COMPLETE, -1))
			ia = (int)i;
		if (ib < 0 && is_evt(b.rx[i], HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE))
			ib = (int)i;
	}
	ck_assert_int_ge(ia, 0);
	ck_assert_int_gt(ib, ia);
	ck_assert_int_eq(host_done(&b, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&b, NULL, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(a.nrx, 0);
	/* Physically: cancelled, re-issued without bob's entry. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 1);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert(tal(1));
	ck_assert(!tal(3));
	/* A second cancel: nothing of its own is pending (7.8.13). */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	tbdaddr(&d, 1);
	ck_assert_uint_ne(tctl_le_al_connect(tc, 0, &d), 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&a, &last, NULL), 0);
	ck_assert_uint_eq(last, 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, -1), 0);
	/* The last waiting session cancels: the physical one stops too. */
	host_al_add(&b, 3);	/* allowed again: not initiating */
	ck_assert_int_eq(host_le_connect_al(&b), 0);
	ck_assert(tc->le_connecting);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&b, NULL, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert(!tc->le_connecting);
	env_down(hs, 2);
}
END_TEST

/*
 * A direct LE Create Connection is not blocked by a session that waits on
 * its accept list indefinitely: the physical initiation is cancelled (the
 * waiting session sees nothing), the direct one runs, then it is re-issued.
 * A peer no waiting session covers (a race) is disconnected, not handed out.
 */
START_TEST(le_accept_list_yields_to_direct_connect)
{
	struct host a, c;
	struct host *hs[] = { &a, &c };
	uint8_t p[25], last;
	unsigned base;
	uint16_t h;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&c);
	host_al_add(&a, 1);
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	ck_assert(tc->le_al_init);
	host_reset_rx(&a);
	base = tc->ncmds;
	le_create_params(p, 0, 4, 0);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&c, &last, &h), 0);
	ck_assert_uint_eq(last, 4);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 1);
	/* The direct one, then alice's again. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 2);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert_uint_eq(a.nrx, 0);

	/* The controller's list holds 1 only; pretend a stale entry matched. */
	{
		struct bdaddr d;
		unsigned before = tctl_count(tc, HCI_OP_DISCONNECT, 0);

		tbdaddr(&d, 2);
		tc->al[tc->nal].type = 0;
		tc->al[tc->nal].a = d;
		tc->nal++;
		ck_assert_uint_ne(tctl_le_al_connect(tc, 0, &d), 0);
		tctl_pump(tc);
		ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), -1);
		ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, 0), before + 1);
		/* Alice still waits: re-issued. */
		ck_assert(tc->le_connecting && tc->le_al_init);
	}
	env_down(hs, 2);
}
END_TEST

/*
 * A session joining a running initiation whose list already covers its
 * entries is served by it without a re-issue, also after the session that
 * started it cancels.
 */
START_TEST(le_accept_list_joiner_served_without_reissue)
{
	struct host a, c;
	struct host *hs[] = { &a, &c };
	struct bdaddr d;
	unsigned base;
	uint8_t last;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&c);
	host_al_add(&a, 1);
	host_al_add(&c, 1);
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	base = tc->ncmds;
	ck_assert_int_eq(host_le_connect_al(&c), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 0);
	tbdaddr(&d, 1);
	ck_assert_uint_ne(tctl_le_al_connect(tc, 0, &d), 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&c, &last, NULL), 0);
	ck_assert_uint_eq(last, 1);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), -1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 0);
	ck_assert(!tc->le_connecting);
	env_down(hs, 2);
}
END_TEST

/*
 * A session ends while its direct LE initiation is pending: the mux
 * cancels it, and the LE Connection Complete (0x02) that follows is the
 * mux's own; another session's accept-list initiation, which waited for
 * the initiator, starts after it and is not ended by it.
 */
START_TEST(le_accept_list_waits_for_departed_direct)
{
	struct host a, c;
	struct host *hs[] = { &a };
	uint8_t p[25];
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&c);
	tc->le_hold_direct = true;
	le_create_params(p, 0, 4, 0);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert(tc->le_connecting && !tc->le_al_init);
	host_al_add(&a, 1);
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	/* The initiator is busy: nothing of alice's yet. */
	ck_assert_uint_eq(tc->nal, 0);
	base = tc->ncmds;
	mux_session_free(c.s);
	c.s = NULL;
	host_reset_rx(&c);
	tctl_pump(tc);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 1);
	/* Alice's initiation runs now, and alice heard nothing. */
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert(tal(1));
	ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), -1);
	env_down(hs, 1);
}
END_TEST

/* Core Vol 3 Part H D.7: IRK ec0234a3..0a397d9b (here LSO first), prand 708194, ah 0dfbaa. */
static const uint8_t spec_irk[16] = {
	0x9b, 0x7d, 0x39, 0x0a, 0xa6, 0x10, 0x10, 0x34,
	0x05, 0xad, 0xc8, 0x57, 0xa3, 0x34, 0x02, 0xec,
};
static const uint8_t spec_rpa[6] = { 0xaa, 0xfb, 0x0d, 0x94, 0x81, 0x70 };

static bool host_saw_rpa(const struct host *h)
{
	unsigned i;
	size_t j;

	for (i = 0; i < h->nrx; i++) {
		if (!is_evt(h->rx[i], HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT))
			continue;
		for (j = 3; j + 6 <= h->rx[i]->len; j++)
			if (memcmp(h->rx[i]->d + j, spec_rpa, 6) == 0)
				return true;
	}
	return false;
}

/* The peer's SMP key distribution on handle h: IRK, then identity (type, last). */
static void peer_sends_identity(uint16_t h, const uint8_t irk[16], uint8_t type, uint8_t last)
{
	uint8_t ii[4 + 17] = { 17, 0, 0x06, 0, 0x08 };
	uint8_t ia[4 + 8] = { 8, 0, 0x06, 0, 0x09 };
	struct bdaddr a;

	memcpy(ii + 5, irk, 16);
	tbdaddr(&a, last);
	ia[5] = type;
	memcpy(ia + 6, a.b, 6);
	tctl_acl(tc, h, ii, sizeof(ii));
	tctl_acl(tc, h, ia, sizeof(ia));
	tctl_pump(tc);
}

/* Every scanning host's view of one advertisement from the spec RPA. */
static void rpa_adv(struct host **hs, unsigned n, bool *saw)
{
	struct bdaddr r;
	unsigned i;

	for (i = 0; i < n; i++)
		host_reset_rx(hs[i]);
	memcpy(r.b, spec_rpa, 6);
	tctl_adv_report(tc, &r, 0x01, 0x00);
	tctl_pump(tc);
	for (i = 0; i < n; i++)
		saw[i] = host_saw_rpa(hs[i]);
}

/*
 * An RD's resolvable private address is matched by its identity, with an
 * IRK the mux itself saw the RD distribute (SMP on a link of that user's,
 * to that identity); a binding to an identity the user may not access, or
 * to another address than the link's, is ignored; bindings are per user;
 * the policy of the identity applies at every use.
 */
START_TEST(rpa_resolved_only_with_irk_seen_from_the_device)
{
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	uint8_t p[25], rd[39] = { 0x01 }, ev[40];
	bool saw[3];
	uint16_t h;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&b);
	host_init(&c);
	host_le_scan(&a, true, 0);
	host_le_scan(&b, true, 0);
	host_le_scan(&c, true, 0);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0] && !saw[1] && !saw[2]);

	/* Hosts cannot bind IRKs: the resolving list is not offered. */
	memcpy(rd + 7, spec_irk, 16);
	memcpy(rd + 1, spec_rpa, 6);
	host_send(&a, 0x2027, rd, 39);	/* LE Add Device To Resolving List */
	tctl_pump(tc);
	ck_assert_int_eq(host_done(&a, 0x2027, NULL, NULL), HCI_ST_UNKNOWN_COMMAND);

	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
	host_own(&a, h);

	/* Her host sending identity PDUs to the device binds nothing. */
	{
		uint8_t ii[4 + 17] = { 17, 0, 0x06, 0, 0x08 }, acl[40];
		int n;

		memcpy(ii + 5, spec_irk, 16);
		n = h4_build_acl(acl, sizeof(acl), h, HCI_PB_FIRST_FLUSH, 0, ii, sizeof(ii));
		ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)n), 0);
		tctl_pump(tc);
	}
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0]);
	/* The device claims an identity she may not access: ignored. */
	peer_sends_identity(phys(&a, h), spec_irk, 0, 4);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0]);
	/* One she may access, but not the link's peer: ignored. */
	peer_sends_identity(phys(&a, h), spec_irk, 0, 2);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0]);
	/* Its own identity: bound, for alice only (carol may see 1 too). */
	peer_sends_identity(phys(&a, h), spec_irk, 0, 1);
	rpa_adv(hs, 3, saw);
	ck_assert(saw[0]);
	ck_assert(!saw[1]);
	ck_assert(!saw[2]);
	/* Connecting to the RPA: hers; bob's refused. */
	memcpy(p + 6, spec_rpa, 6);
	p[5] = 0x01;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take(&b, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, ev), 19);
	ck_assert_uint_eq(ev[1], HCI_ST_REJ_BAD_ADDR);
	/*
	 * The identity's policy applies at each use after a change (the
	 * daemon calls mux_policy_changed() for each): revoked, not shown.
	 */
	revoke_alice = true;
	mux_policy_changed(mx);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0]);
	revoke_alice = false;
	mux_policy_changed(mx);
	rpa_adv(hs, 3, saw);
	ck_assert(saw[0]);
	env_down(hs, 3);
}
END_TEST


/* An SMP PDU on LE link vh from h's host (to the device). */
static void host_smp(struct host *h, uint16_t vh, const uint8_t *pdu, size_t n)
{
	uint8_t l2[4 + 17], acl[5 + sizeof(l2)];
	int len;

	put_le16(l2, (uint16_t)n);
	put_le16(l2 + 2, 0x0006);
	memcpy(l2 + 4, pdu, n);
	len = h4_build_acl(acl, sizeof(acl), vh, HCI_PB_FIRST_FLUSH, 0, l2, n + 4);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(mux_session_input(h->s, acl, (size_t)len), 0);
	tctl_pump(tc);
}

/* An SMP PDU from the device on physical link ph. */
static void dev_smp(uint16_t ph, const uint8_t *pdu, size_t n)
{
	uint8_t l2[4 + 17];

	put_le16(l2, (uint16_t)n);
	put_le16(l2 + 2, 0x0006);
	memcpy(l2 + 4, pdu, n);
	tctl_acl(tc, ph, l2, n + 4);
	tctl_pump(tc);
}

/*
 * The SMP codes h's host received, in order (at most max), and the
 * first Encryption Information's LTK. Returns how many.
 */
static unsigned host_smp_codes(const struct host *h, uint8_t *codes, unsigned max,
			       uint8_t ltk[16])
{
	unsigned i, n = 0;

	for (i = 0; i < h->nrx && n < max; i++) {
		const uint8_t *d = h->rx[i]->d;

		if (h->rx[i]->len < 10 || d[0] != H4_ACL || get_le16(d + 7) != 0x0006)
			continue;
		if (d[9] == 0x06 && h->rx[i]->len == 9 + 17)
			memcpy(ltk, d + 10, 16);
		codes[n++] = d[9];
	}
	return n;
}

/*
 * A first LE legacy pairing whose device distributes its identity
 * (IdKey agreed): the mux holds its LTK, Central Identification and
 * Identity Information until the Identity Address Information, then
 * keeps the bond under that identity with the IRK, and gives the host
 * the four in their order (a random LTK in place of the device's). An
 * identity the link is not to (its IRK does not resolve the link's
 * public address) keeps the bond under the link's address, without the
 * IRK; another packet between them releases them unchanged, no bond.
 */
START_TEST(le_bond_kept_under_the_identity_the_device_gives)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x03, 0x03 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x01, 0x10, 0x01, 0x03 };
	uint8_t ei[17] = { 0x06 }, ci[11] = { 0x07, 0x34, 0x12 }, ii[17] = { 0x08 };
	uint8_t ia[8] = { 0x09, 0x00 }, codes[8], got[16], p[25];
	static const uint8_t att[9] = { 5, 0, 4, 0, 0x1b, 0x03, 0x00, 0x01, 0x02 };
	struct host a;
	struct host *hs[] = { &a };
	struct bdaddr one;
	unsigned round, n;
	uint16_t h;

	tbdaddr(&one, 1);
	memset(ei + 1, 0x5a, 16);
	memset(ci + 3, 0x77, 8);
	memcpy(ii + 1, spec_irk, 16);
	for (round = 0; round < 3; round++) {
		env_policy = &le_bond_policy;
		env_up(8, 8, 4);
		host_start(&a, "alice");
		host_init(&a);
		le_create_params(p, 0, 1, 0);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
		ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
		host_own(&a, h);
		host_smp(&a, h, preq, 7);
		dev_smp(phys(&a, h), pres, 7);
		host_reset_rx(&a);
		dev_smp(phys(&a, h), ei, 17);
		dev_smp(phys(&a, h), ci, 11);
		if (round == 2)
			tctl_acl(tc, phys(&a, h), att, sizeof(att));	/* an ATT notification */
		dev_smp(phys(&a, h), ii, 17);
		ck_assert_uint_eq(host_smp_codes(&a, codes, 8, got), (round == 2 ? 3u : 0u));
		/* Round 1: alice may access 02, but the link is to 01. */
		tbdaddr((struct bdaddr *)(ia + 2), round == 1 ? 2 : 1);
		dev_smp(phys(&a, h), ia, 8);
		n = host_smp_codes(&a, codes, 8, got);
		ck_assert_uint_eq(n, 4);
		ck_assert_mem_eq(codes, "\x06\x07\x08\x09", 4);
		if (round == 2) {
			/* Released as the device sent them; nothing kept. */
			ck_assert_mem_eq(got, ei + 1, 16);
			ck_assert(!tle.has);
		} else {
			ck_assert_uint_eq(tle.news, 1);
			ck_assert(bdaddr_eq(&tle.a, &one));
			ck_assert_uint_eq(tle.type, BDADDR_PUBLIC);
			ck_assert_mem_eq(tle.b.ltk, ei + 1, 16);
			ck_assert_uint_eq(tle.b.ediv, 0x1234);
			ck_assert(memcmp(got, ei + 1, 16) != 0);
			ck_assert(tle.b.has_irk == (round == 0));
			if (round == 0)
				ck_assert_mem_eq(tle.b.irk, spec_irk, 16);
		}
		env_down(hs, 1);
	}
}
END_TEST

static void le_mtu_27(struct tctl *t)
{
	t->le_mtu = 27;
}

/*
 * The core's own SMP on a session's link (an LE Secure Connections
 * device's first pairing, which the mux makes itself): its public key
 * PDU (69 octets with the L2CAP header) goes to the controller in
 * fragments of the controller's 27-octet LE data length, within the
 * controller's two LE buffers, never inside the host's own fragmented
 * L2CAP PDU (the controller reassembles one per link), and the host's
 * next packet waits for the last of its fragments; the completions of
 * the core's packets are not the host's credits.
 */
START_TEST(internal_acl_fragments_between_the_owners_pdus)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t want[] = { 0x01, 0x12, 0xff, 0x0c, 0xff, 0xff, 0x12 };
	uint8_t l2[40], acl[64], p[25];
	struct host a;
	struct host *hs[] = { &a };
	unsigned first, i, credits = 0;
	uint16_t h, ph;
	int len;

	env_policy = &le_bond_policy;
	tctl_prep = le_mtu_27;
	env_up(8, 2, 4);
	host_start(&a, "alice");
	host_init(&a);
	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
	host_own(&a, h);
	ph = phys(&a, h);
	first = tc->acl_rx;
	host_smp(&a, h, preq, 7);
	/* An ATT Write Request of 36 octets, in two fragments: 20 + 20. */
	put_le16(l2, 36);
	put_le16(l2 + 2, 0x0004);
	memset(l2 + 4, 0x12, 36);
	len = h4_build_acl(acl, sizeof(acl), h, HCI_PB_FIRST_NOFLUSH, 0, l2, 20);
	ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)len), 0);
	tctl_pump(tc);
	/* The lock agrees on SC Just Works: the mux pairs it, its key waits. */
	dev_smp(ph, pres, 7);
	ck_assert_uint_eq(tc->acl_rx - first, 2);	/* two buffers */
	/* Both done: buffers free, but the host's PDU is not whole yet. */
	tctl_nocp(tc, ph, 2);
	tctl_pump(tc);
	ck_assert_uint_eq(tc->acl_rx - first, 2);
	len = h4_build_acl(acl, sizeof(acl), h, HCI_PB_CONT, 0, l2 + 20, 20);
	ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)len), 0);
	tctl_pump(tc);
	/* The controller completes packets, two at a time. */
	for (i = 0; i < 2; i++) {
		tctl_nocp(tc, ph, 2);
		tctl_pump(tc);
	}
	/* The host's next ATT PDU after the key. */
	len = h4_build_acl(acl, sizeof(acl), h, HCI_PB_FIRST_NOFLUSH, 0, l2, 20);
	put_le16(acl + 5, 16);
	ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)len), 0);
	tctl_pump(tc);
	ck_assert_uint_eq(tc->acl_rx - first, sizeof(want));
	for (i = 0; i < sizeof(want); i++) {
		ck_assert_uint_eq(tc->acl_rx_handle[first + i], ph);
		ck_assert_uint_eq(tc->acl_rx_tag[first + i], want[i]);
	}
	/* Its three packets credited, not the core's three. */
	for (i = 0; i < a.nrx; i++)
		if (a.rx[i]->len >= 8 && a.rx[i]->d[0] == H4_EVT &&
		    a.rx[i]->d[1] == HCI_EV_NUM_COMP_PKTS)
			credits += get_le16(a.rx[i]->d + 6);
	ck_assert_uint_eq(credits, 3);
	env_down(hs, 1);
}
END_TEST

/*
 * The SMP stand-in (mux_bond_le.c) answers as the device would as
 * responder, so only on a link the gateway is central of: a device with a
 * household LE bond that connects to the admin's advertising is the
 * initiator, and the host's SMP, as responder, reaches it unanswered by
 * the mux (the Role of LE Connection Complete, 7.7.65.1, kept on the
 * link). The same host connecting to the device as central is answered.
 */
/* An admin's host (host_init() checks a user's command bitmap): its events. */
static void host_init_admin(struct host *h)
{
	static const uint8_t evmask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	static const uint8_t lemask[8] = { 0x1f, 0x00 };
	static const uint8_t le_host[2] = { 1, 0 };

	ck_assert_int_eq(host_cmd(h, HCI_OP_RESET, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_SET_EVENT_MASK, evmask, 8, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_WRITE_LE_HOST_SUPPORTED, le_host, 2, NULL), 0);
}

START_TEST(le_stand_in_only_where_the_gateway_is_central)
{
	static const uint8_t one = 1;
	/* The device's Pairing Request, the host's Response and Confirm. */
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x01, 0x01 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x01, 0x10, 0x01, 0x01 };
	uint8_t conf[17] = { 0x03 }, codes[8], got[16], ev[18], p[25];
	struct host ad;
	struct host *hs[] = { &ad };
	struct bdaddr dev;
	unsigned base;
	uint16_t h, ph;

	tbdaddr(&dev, 1);
	memset(conf + 1, 0x42, 16);
	env_policy = &le_bond_policy;
	env_up(8, 8, 4);
	tle.has = true;
	tle.a = dev;
	tle.type = BDADDR_PUBLIC;
	memset(tle.b.ltk, 0x3c, 16);
	tle.b.key_size = 16;
	host_start(&ad, "admin");
	host_init_admin(&ad);
	ck_assert_int_eq(host_cmd(&ad, HCI_OP_LE_SET_ADV_ENABLE, &one, 1, NULL), 0);
	/* The device connects: the controller is peripheral (Role 0x01). */
	memset(ev, 0, sizeof(ev));
	ph = tc->next_handle++;	/* the controller's, as its own links' */
	put_le16(ev + 1, ph);
	ev[3] = 0x01;
	ev[4] = 0x00;
	memcpy(ev + 5, dev.b, 6);
	put_le16(ev + 11, 0x18);
	put_le16(ev + 15, 0x2a);
	tctl_le_event(tc, HCI_LE_EV_CONN_COMPLETE, ev, sizeof(ev));
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&ad, NULL, &h), 0);
	host_own(&ad, h);
	ck_assert_uint_eq(phys(&ad, h), ph);
	dev_smp(ph, preq, 7);
	host_reset_rx(&ad);
	base = tc->acl_rx;
	host_smp(&ad, h, pres, 7);
	host_smp(&ad, h, conf, 17);
	/* Both to the device, none answered by the mux. */
	ck_assert_uint_eq(tc->acl_rx - base, 2);
	ck_assert_uint_eq(host_smp_codes(&ad, codes, 8, got), 0);
	env_down(hs, 1);

	/* The same host as central to the same device: the stand-in answers. */
	env_policy = &le_bond_policy;
	env_up(8, 8, 4);
	tle.has = true;
	tle.a = dev;
	tle.type = BDADDR_PUBLIC;
	memset(tle.b.ltk, 0x3c, 16);
	tle.b.key_size = 16;
	host_start(&ad, "admin");
	host_init_admin(&ad);
	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&ad, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&ad, NULL, &h), 0);
	host_own(&ad, h);
	host_reset_rx(&ad);
	base = tc->acl_rx;
	host_smp(&ad, h, preq, 7);
	ck_assert_uint_eq(tc->acl_rx - base, 0);
	ck_assert_uint_eq(host_smp_codes(&ad, codes, 8, got), 1);
	ck_assert_uint_eq(codes[0], 0x02);	/* Pairing Response, from the mux */
	env_down(hs, 1);
}
END_TEST

/* The device-as-central keys (one device), as the monitor keeps them. */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t type;
	char by[16];
	struct mux_le_pkey k;
	unsigned news;
} tpk;

static int tpol_bond_pltk(const struct bdaddr *a, uint8_t type, struct mux_le_pkey *k,
			  void *ctx)
{
	if (!tpk.has || !bdaddr_eq(a, &tpk.a) || type != tpk.type)
		return -ENOENT;
	*k = tpk.k;
	return 0;
}

static int tpol_bond_new_pltk(const char *user, const struct bdaddr *a, uint8_t type,
			      const struct mux_le_pkey *k, void *ctx)
{
	tpk.has = true;
	tpk.a = *a;
	tpk.type = type;
	tpk.k = *k;
	snprintf(tpk.by, sizeof(tpk.by), "%s", user);
	tpk.news++;
	return 0;
}

/* A household whose grown-ups all advertise (only admins do, physically). */
static bool pol_household_admin(const char *user, void *ctx)
{
	return !strcmp(user, "alice") || !strcmp(user, "bob") || !strcmp(user, "eve");
}

static const struct mux_policy central_policy = {
	pol_is_user, pol_household_admin, pol_may_access, pol_denied, pol_resolve_rpa,
	pol_bond_key, pol_bond_new, NULL, tpol_bond_ltk, tpol_bond_new_le,
	.bond_pltk = tpol_bond_pltk, .bond_new_pltk = tpol_bond_new_pltk
};

/* Does any packet h received hold these n octets? */
static bool host_holds(const struct host *h, const uint8_t *key, size_t n)
{
	unsigned i;

	for (i = 0; i < h->nrx; i++)
		if (memmem(h->rx[i]->d, h->rx[i]->len, key, n))
			return true;
	return false;
}

/*
 * h advertises and device 02 (alice's and bob's) connects to it (the controller peripheral,
 * Role 0x01): the controller's handle, or 0 when h got no link.
 */
static uint16_t device_connects(struct host *h, uint16_t *vh)
{
	static const uint8_t one = 1;
	struct bdaddr dev;
	uint8_t ev[18];
	uint16_t ph = tc->next_handle++;

	tbdaddr(&dev, 2);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_ADV_ENABLE, &one, 1, NULL), 0);
	memset(ev, 0, sizeof(ev));
	put_le16(ev + 1, ph);
	ev[3] = 0x01;
	memcpy(ev + 5, dev.b, 6);
	put_le16(ev + 11, 0x18);
	put_le16(ev + 15, 0x2a);
	tctl_le_event(tc, HCI_LE_EV_CONN_COMPLETE, ev, sizeof(ev));
	tctl_pump(tc);
	if (host_take_le_conn(h, NULL, vh) != 0)
		return 0;
	host_own(h, *vh);
	return ph;
}

/* The device (central) encrypts: the controller asks for the key (7.7.65.5). */
static void device_ltk_request(uint16_t ph, uint16_t ediv, const uint8_t rand[8])
{
	uint8_t q[12];

	put_le16(q, ph);
	memcpy(q + 2, rand, 8);
	put_le16(q + 10, ediv);
	tctl_le_event(tc, HCI_LE_EV_LTK_REQUEST, q, sizeof(q));
	tctl_pump(tc);
}

/* The controller reports link ph encrypted (7.7.8). */
static void link_encrypts(uint16_t ph)
{
	uint8_t enc[4] = { 0 };

	put_le16(enc + 1, ph);
	enc[3] = 0x01;
	tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, enc, 4);
	tctl_pump(tc);
}

static void link_ends(struct host *h, uint16_t ph)
{
	uint8_t p[4] = { 0 };

	put_le16(p + 1, ph);
	p[3] = HCI_ST_REMOTE_USER_TERM;
	tctl_event(tc, HCI_EV_DISCONN_COMPLETE, p, 4);
	tctl_pump(tc);
	if (h)
		ck_assert_int_eq(host_take(h, HCI_EV_DISCONN_COMPLETE, -1, NULL), 4);
}

/*
 * The device as central (doc: "The device as central"). Alice's host
 * advertises, the device connects and pairs (it initiates, her host
 * responds and distributes its own LTK, EDIV and Rand): the device gets
 * a key the mux made and kept instead, her host's never reaches it. Then
 * bob and alice in turn, ten times each, advertise; the device connects
 * and encrypts with that key: the mux answers the LE Long Term Key
 * Request with it, their hosts see the Encryption Change only and never
 * the key. Another EDIV and Rand (an STK) goes to the host; eve, whose
 * household role lets her advertise but who has no grant for the
 * device, gets no link and nothing answered; nor alice once revoked.
 */
START_TEST(le_device_as_central_household_key)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01 };
	static const uint8_t zero8[8];
	uint8_t ei[17] = { 0x06 }, ci[11] = { 0x07, 0x22, 0x22 }, want[18], enc[4];
	struct host a, b, e;
	struct host *hs[] = { &a, &b, &e };
	struct bdaddr dev;
	unsigned round, replies, base;
	uint16_t ph, vh;

	tbdaddr(&dev, 2);
	memset(ei + 1, 0x11, 16);	/* alice's host's own key */
	memset(ci + 3, 0x33, 8);
	memset(&tpk, 0, sizeof(tpk));
	env_policy = &central_policy;
	env_up(8, 8, 4);

	/* The first pairing, on alice's link. */
	host_start(&a, "alice");
	host_init_admin(&a);
	ph = device_connects(&a, &vh);
	ck_assert_uint_ne(ph, 0);
	dev_smp(ph, preq, 7);
	host_smp(&a, vh, pres, 7);
	/* Before the pairing's encryption a key is not the pairing's
	 * (3.6.1): the host's goes as it is, nothing is kept. */
	base = tc->acl_rx;
	host_smp(&a, vh, ei, 17);
	ck_assert_uint_eq(tc->acl_rx - base, 1);
	ck_assert_uint_eq(tpk.news, 0);
	ck_assert_mem_eq(tc->acl_tail[base % 8] + 5, ei + 1, 16);
	link_encrypts(ph);
	ck_assert_int_eq(host_take(&a, HCI_EV_ENCRYPT_CHANGE, -1, NULL), 4);
	base = tc->acl_rx;
	host_smp(&a, vh, ei, 17);
	host_smp(&a, vh, ci, 11);
	ck_assert_uint_eq(tc->acl_rx - base, 2);
	ck_assert_uint_eq(tpk.news, 1);
	ck_assert(bdaddr_eq(&tpk.a, &dev));
	ck_assert_uint_eq(tpk.type, BDADDR_PUBLIC);
	ck_assert_str_eq(tpk.by, "alice");
	/* What the device received: the kept key, not alice's. */
	ck_assert_uint_eq(tc->acl_tail_len[base % 8], 4 + 17);
	ck_assert_uint_eq(tc->acl_tail[base % 8][4], 0x06);
	ck_assert_mem_eq(tc->acl_tail[base % 8] + 5, tpk.k.ltk, 16);
	ck_assert(memcmp(tpk.k.ltk, ei + 1, 16) != 0);
	ck_assert_uint_eq(tc->acl_tail_len[(base + 1) % 8], 4 + 11);
	ck_assert_uint_eq(get_le16(tc->acl_tail[(base + 1) % 8] + 5), tpk.k.ediv);
	ck_assert_mem_eq(tc->acl_tail[(base + 1) % 8] + 7, tpk.k.rand, 8);
	ck_assert(!(tpk.k.ediv == 0 && !memcmp(tpk.k.rand, zero8, 8)));
	ck_assert(!host_holds(&a, tpk.k.ltk, 16));
	link_ends(&a, ph);
	mux_session_free(a.s);
	a.s = NULL;
	tctl_pump(tc);
	host_reset_rx(&a);

	/* Later, bob and alice in turn: the mux answers, the host only sees it done. */
	put_le16(want + 2 - 2, 0);
	memcpy(want + 2, tpk.k.ltk, 16);
	for (round = 0; round < 20; round++) {
		struct host *h = round % 2 ? &a : &b;

		host_start(h, round % 2 ? "alice" : "bob");
		host_init_admin(h);
		ph = device_connects(h, &vh);
		ck_assert_uint_ne(ph, 0);
		replies = tc->ltk_replies;
		device_ltk_request(ph, tpk.k.ediv, tpk.k.rand);
		ck_assert_uint_eq(tc->ltk_replies, replies + 1);
		put_le16(want, ph);
		ck_assert_mem_eq(tc->ltk_reply, want, 18);
		ck_assert_uint_eq(host_count(h, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 0);
		enc[0] = 0;
		put_le16(enc + 1, ph);
		enc[3] = 0x01;
		tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, enc, 4);
		tctl_pump(tc);
		ck_assert_int_eq(host_take(h, HCI_EV_ENCRYPT_CHANGE, -1, enc), 4);
		ck_assert_uint_eq(enc[0], 0);
		ck_assert_uint_eq(get_le16(enc + 1), vh);
		ck_assert_uint_eq(enc[3], 0x01);
		/* An STK (EDIV and Rand 0) is the host's to answer. */
		if (round == 5) {
			device_ltk_request(ph, 0, zero8);
			ck_assert_uint_eq(tc->ltk_replies, replies + 1);
			ck_assert_uint_eq(host_count(h, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 1);
		}
		ck_assert(!host_holds(h, tpk.k.ltk, 16));
		link_ends(h, ph);
		mux_session_free(h->s);
		h->s = NULL;
		tctl_pump(tc);
		host_reset_rx(h);
	}
	ck_assert_uint_eq(tpk.news, 1);

	/* Eve may advertise but not reach the device: no link, no key. */
	host_start(&e, "eve");
	host_init_admin(&e);
	replies = tc->ltk_replies;
	ph = device_connects(&e, &vh);
	ck_assert_uint_eq(ph, 0);
	ph = tc->next_handle - 1;
	device_ltk_request(ph, tpk.k.ediv, tpk.k.rand);
	ck_assert_uint_eq(tc->ltk_replies, replies);
	ck_assert_uint_eq(host_count(&e, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 0);
	link_ends(NULL, ph);
	mux_session_free(e.s);
	e.s = NULL;
	tctl_pump(tc);

	/* Alice revoked while her link is up: her host is asked, not answered for. */
	host_start(&a, "alice");
	host_init_admin(&a);
	ph = device_connects(&a, &vh);
	ck_assert_uint_ne(ph, 0);
	revoke_alice = true;
	device_ltk_request(ph, tpk.k.ediv, tpk.k.rand);
	ck_assert_uint_eq(tc->ltk_replies, replies);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 1);
	ck_assert(!host_holds(&a, tpk.k.ltk, 16));
	env_down(hs, 3);
}
END_TEST

/*
 * The device as central with a household bond made with LE Secure
 * Connections (EDIV and Rand zero, key size 10): on a link no pairing
 * has run on, its LE Long Term Key Request with EDIV and Rand zero is
 * answered by the mux with that key, shortened to 10 octets, for bob and
 * alice in turn; their hosts see neither the request nor the key. Once
 * the device starts a pairing on its link, the same request is the
 * pairing's (an STK) and goes to the host; eve, without a grant, gets
 * nothing answered.
 */
START_TEST(le_device_as_central_sc_household_key)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01 };
	static const uint8_t zero8[8];
	uint8_t want[18], enc[4];
	struct host a, b, e;
	struct host *hs[] = { &a, &b, &e };
	unsigned round, replies;
	uint16_t ph, vh;

	memset(&tpk, 0, sizeof(tpk));
	env_policy = &central_policy;
	env_up(8, 8, 4);
	tle.has = true;
	tbdaddr(&tle.a, 2);
	tle.type = BDADDR_PUBLIC;
	memset(tle.b.ltk, 0x5c, 16);
	tle.b.key_size = 10;

	memset(want, 0, sizeof(want));
	memset(want + 2, 0x5c, 10);
	for (round = 0; round < 6; round++) {
		struct host *h = round % 2 ? &a : &b;

		host_start(h, round % 2 ? "alice" : "bob");
		host_init_admin(h);
		ph = device_connects(h, &vh);
		ck_assert_uint_ne(ph, 0);
		replies = tc->ltk_replies;
		device_ltk_request(ph, 0, zero8);
		ck_assert_uint_eq(tc->ltk_replies, replies + 1);
		put_le16(want, ph);
		ck_assert_mem_eq(tc->ltk_reply, want, 18);
		ck_assert_uint_eq(host_count(h, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 0);
		enc[0] = 0;
		put_le16(enc + 1, ph);
		enc[3] = 0x01;
		tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, enc, 4);
		tctl_pump(tc);
		ck_assert_int_eq(host_take(h, HCI_EV_ENCRYPT_CHANGE, -1, enc), 4);
		ck_assert_uint_eq(enc[0], 0);
		ck_assert(!host_holds(h, tle.b.ltk, 10));
		/* A pairing on the link: EDIV and Rand zero are its STK now. */
		if (round == 3) {
			dev_smp(ph, preq, 7);
			device_ltk_request(ph, 0, zero8);
			ck_assert_uint_eq(tc->ltk_replies, replies + 1);
			ck_assert_uint_eq(host_count(h, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 1);
		}
		link_ends(h, ph);
		mux_session_free(h->s);
		h->s = NULL;
		tctl_pump(tc);
		host_reset_rx(h);
	}

	/* Eve may advertise but not reach the device: nothing answered. */
	host_start(&e, "eve");
	host_init_admin(&e);
	replies = tc->ltk_replies;
	ph = device_connects(&e, &vh);
	ck_assert_uint_eq(ph, 0);
	ph = tc->next_handle - 1;
	device_ltk_request(ph, 0, zero8);
	ck_assert_uint_eq(tc->ltk_replies, replies);
	link_ends(NULL, ph);
	mux_session_free(e.s);
	e.s = NULL;
	tctl_pump(tc);
	env_down(hs, 3);
}
END_TEST

/*
 * The host's own key distribution as initiator (the gateway central, its
 * Pairing Request's Initiator Key Distribution with EncKey, agreed) is
 * replaced too, after the device's; with LE Secure Connections (which
 * the mux pairs itself, the host's PDUs never reaching the device)
 * nothing is kept, and without bonding the host's PDUs pass unchanged
 * (they carry no key the device keeps, 3.6.1).
 */
START_TEST(le_host_key_replaced_when_the_gateway_is_central)
{
	static const uint8_t preq[3][7] = {
		{ 0x01, 0x03, 0x00, 0x01, 0x10, 0x01, 0x01 },	/* legacy, bonding */
		{ 0x01, 0x03, 0x00, 0x09, 0x10, 0x01, 0x01 },	/* SC */
		{ 0x01, 0x03, 0x00, 0x00, 0x10, 0x01, 0x01 },	/* no bonding */
	};
	static const uint8_t pres[3][7] = {
		{ 0x02, 0x03, 0x00, 0x01, 0x0c, 0x01, 0x01 },
		{ 0x02, 0x03, 0x00, 0x09, 0x10, 0x01, 0x00 },
		{ 0x02, 0x03, 0x00, 0x00, 0x10, 0x01, 0x01 },
	};
	uint8_t dei[17] = { 0x06 }, dci[11] = { 0x07, 0x01, 0x00 };
	uint8_t hei[17] = { 0x06 }, hci[11] = { 0x07, 0x22, 0x22 }, p[25];
	static const uint8_t zero[4];
	struct host a;
	struct host *hs[] = { &a };
	unsigned round, base;
	uint16_t h, ph;

	memset(dei + 1, 0x5a, 16);
	memset(hei + 1, 0x11, 16);
	memset(hci + 3, 0x33, 8);
	for (round = 0; round < 3; round++) {
		memset(&tpk, 0, sizeof(tpk));
		env_policy = &central_policy;
		env_up(8, 8, 4);
		host_start(&a, "alice");
		host_init_admin(&a);
		le_create_params(p, 0, 2, 0);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
		ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
		host_own(&a, h);
		ph = phys(&a, h);
		host_smp(&a, h, preq[round], 7);
		dev_smp(ph, pres[round], 7);
		/* The responder distributes first (3.6.1). */
		if (round != 1) {
			dev_smp(ph, dei, 17);
			dev_smp(ph, dci, 11);
		}
		if (round != 1) {
			link_encrypts(ph);
			ck_assert_int_eq(host_take(&a, HCI_EV_ENCRYPT_CHANGE, -1, NULL), 4);
		}
		base = tc->acl_rx;
		host_smp(&a, h, hei, 17);
		host_smp(&a, h, hci, 11);
		if (round == 1) {
			/* The mux pairs an SC device itself (above): nothing of ours. */
			ck_assert_uint_eq(tpk.news, 0);
			env_down(hs, 1);
			continue;
		}
		ck_assert_uint_eq(tc->acl_rx - base, 2);
		if (round == 0) {
			ck_assert_uint_eq(tpk.news, 1);
			ck_assert_str_eq(tpk.by, "alice");
			ck_assert_mem_eq(tc->acl_tail[base % 8] + 5, tpk.k.ltk, 16);
			ck_assert(memcmp(tpk.k.ltk, hei + 1, 16) != 0);
			/* Shortened to the key size agreed, 12 octets. */
			ck_assert_mem_eq(tpk.k.ltk + 12, zero, 4);
			ck_assert_uint_eq(get_le16(tc->acl_tail[(base + 1) % 8] + 5), tpk.k.ediv);
			ck_assert_mem_eq(tc->acl_tail[(base + 1) % 8] + 7, tpk.k.rand, 8);
			/* The device's own key is the household bond, as before. */
			ck_assert_uint_eq(tle.news, 1);
		} else {
			ck_assert_uint_eq(tpk.news, 0);
			ck_assert_mem_eq(tc->acl_tail[base % 8] + 5, hei + 1, 16);
			ck_assert_mem_eq(tc->acl_tail[(base + 1) % 8] + 5, hci + 1, 10);
		}
		env_down(hs, 1);
	}
}
END_TEST

/* ACL of host h on its link vh: l2 (n octets) from off, flags pb. */
static void host_frag(struct host *h, uint16_t vh, uint8_t pb, const uint8_t *l2, size_t n)
{
	uint8_t acl[5 + 96];
	int len = h4_build_acl(acl, sizeof(acl), vh, pb, 0, l2, n);

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(mux_session_input(h->s, acl, (size_t)len), 0);
	tctl_pump(tc);
}

/* The buffer credits host h was given back (Number Of Completed Packets). */
static unsigned host_credits(const struct host *h)
{
	unsigned i, n = 0;

	for (i = 0; i < h->nrx; i++)
		if (h->rx[i]->len >= 8 && h->rx[i]->d[0] == H4_EVT &&
		    h->rx[i]->d[1] == HCI_EV_NUM_COMP_PKTS)
			n += get_le16(h->rx[i]->d + 6);
	return n;
}

/*
 * The host's SMP never reaches the device in fragments past the mux:
 * to a device with a household bond (round 0) a Pairing Request in two
 * fragments, or one whose first fragment is 3 octets (no whole L2CAP
 * header), is dropped with its continuations, its credits returned, and
 * the host's next whole PDU goes as ever. Without a bond (round 1), the
 * first pairing end to end, a Public Key (69 octets) in fragments goes
 * to the device; a fragmented Pairing Request still does not.
 */
START_TEST(host_smp_in_fragments_never_past_the_mux)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t att[5] = { 0x01, 0x00, 0x04, 0x00, 0x0a };
	uint8_t l2[4 + 65], p[25];
	struct host a;
	struct host *hs[] = { &a };
	unsigned round, base;
	uint16_t h;

	for (round = 0; round < 2; round++) {
		env_policy = &le_bond_policy;
		env_up(8, 8, 4);
		if (round == 0) {
			tle.has = true;
			tbdaddr(&tle.a, 1);
			tle.type = BDADDR_PUBLIC;
			memset(tle.b.ltk, 0x3c, 16);
			tle.b.key_size = 16;
		}
		host_start(&a, "alice");
		host_init(&a);
		le_create_params(p, 0, 1, 0);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
		ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
		host_own(&a, h);
		host_reset_rx(&a);
		base = tc->acl_rx;
		put_le16(l2, 7);
		put_le16(l2 + 2, 0x0006);
		memcpy(l2 + 4, preq, 7);
		host_frag(&a, h, HCI_PB_FIRST_NOFLUSH, l2, 6);
		host_frag(&a, h, HCI_PB_CONT, l2 + 6, 5);
		host_frag(&a, h, HCI_PB_FIRST_NOFLUSH, l2, 3);
		host_frag(&a, h, HCI_PB_CONT, l2 + 3, 4);
		host_frag(&a, h, HCI_PB_CONT, l2 + 7, 4);
		ck_assert_uint_eq(tc->acl_rx, base);
		ck_assert_uint_eq(host_credits(&a), 5);
		/* The next whole PDU (ATT) goes. */
		host_frag(&a, h, HCI_PB_FIRST_NOFLUSH, att, sizeof(att));
		ck_assert_uint_eq(tc->acl_rx, base + 1);
		put_le16(l2, 65);
		l2[4] = 0x0c;
		memset(l2 + 5, 0x21, 64);
		host_frag(&a, h, HCI_PB_FIRST_NOFLUSH, l2, 27);
		host_frag(&a, h, HCI_PB_CONT, l2 + 27, 27);
		host_frag(&a, h, HCI_PB_CONT, l2 + 54, 15);
		ck_assert_uint_eq(tc->acl_rx, base + (round == 0 ? 1 : 4));
		env_down(hs, 1);
		memset(&tle, 0, sizeof(tle));
	}
}
END_TEST

/*
 * The SMP timeout (Vol 3 Part H 3.4): a device that stops answering in
 * the middle of a takeover fails it after 30 s (30 ms here, time scaled):
 * the host is told Pairing Failed, the device too, and the host's next
 * Pairing Request goes to the device again rather than being taken.
 */
START_TEST(sc_takeover_ends_at_the_smp_timeout)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	uint8_t codes[8], got[16], p[25];
	struct host a;
	struct host *hs[] = { &a };
	unsigned i, base;
	uint16_t h;

	env_time_scale = 0.001;
	env_policy = &le_bond_policy;
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
	host_own(&a, h);
	host_smp(&a, h, preq, 7);
	dev_smp(phys(&a, h), pres, 7);
	host_reset_rx(&a);
	/* The device never sends its public key. */
	for (i = 0; i < 500 && host_smp_codes(&a, codes, 8, got) == 0; i++) {
		loop_iterate(lp, 2);
		tctl_pump(tc);
	}
	ck_assert_uint_eq(host_smp_codes(&a, codes, 8, got), 1);
	ck_assert_uint_eq(codes[0], 0x05);	/* Pairing Failed */
	/* The device was told too (the last SMP the controller took). */
	ck_assert_uint_eq(tc->acl_rx_tag[tc->acl_rx - 1], 0x05);
	base = tc->acl_rx;
	host_smp(&a, h, preq, 7);
	ck_assert_uint_eq(tc->acl_rx, base + 1);
	ck_assert_uint_eq(tc->acl_rx_tag[base], 0x01);
	env_down(hs, 1);
}
END_TEST

/* ACL from the device on physical link ph: l2 (n octets), flags pb. */
static void dev_frag(uint16_t ph, uint8_t pb, const uint8_t *l2, size_t n)
{
	uint8_t acl[5 + 96];
	int len = h4_build_acl(acl, sizeof(acl), ph, pb, 0, l2, n);

	ck_assert_int_gt(len, 0);
	mux_ctrl_input(mx, acl, (size_t)len);
	tctl_pump(tc);
}

/*
 * During a takeover the device's first fragment too short to name its
 * channel is held until its continuation names it: an ATT notification
 * so split reaches the host as it came (3 octets, then 6); a public key
 * so split is the mux's (off the curve here: the pairing fails, the host
 * told), never the host's.
 */
START_TEST(sc_device_header_split_across_fragments)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t att[9] = { 5, 0, 4, 0, 0x1b, 0x03, 0x00, 0x01, 0x02 };
	uint8_t codes[8], got[16], pk[4 + 65], p[25];
	struct host a;
	struct host *hs[] = { &a };
	unsigned i, nacl = 0;
	uint16_t h, ph;

	env_policy = &le_bond_policy;
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
	host_own(&a, h);
	ph = phys(&a, h);
	host_smp(&a, h, preq, 7);
	dev_smp(ph, pres, 7);
	host_reset_rx(&a);
	dev_frag(ph, HCI_PB_FIRST_FLUSH, att, 3);
	dev_frag(ph, HCI_PB_CONT, att + 3, 6);
	for (i = 0; i < a.nrx; i++) {
		if (a.rx[i]->d[0] != H4_ACL)
			continue;
		ck_assert_mem_eq(a.rx[i]->d + 5, nacl ? att + 3 : att, nacl ? 6 : 3);
		nacl++;
	}
	ck_assert_uint_eq(nacl, 2);
	host_reset_rx(&a);
	put_le16(pk, 65);
	put_le16(pk + 2, 0x0006);
	pk[4] = 0x0c;
	memset(pk + 5, 0x21, 64);
	dev_frag(ph, HCI_PB_FIRST_FLUSH, pk, 3);
	dev_frag(ph, HCI_PB_CONT, pk + 3, 66);
	ck_assert_uint_eq(host_smp_codes(&a, codes, 8, got), 1);
	ck_assert_uint_eq(codes[0], 0x05);
	for (i = 0, nacl = 0; i < a.nrx; i++)
		nacl += a.rx[i]->d[0] == H4_ACL;
	ck_assert_uint_eq(nacl, 1);
	env_down(hs, 1);
}
END_TEST

/*
 * A host that leaves its link mid-PDU (a first fragment announcing a
 * long L2CAP PDU, the rest never sent) holds back the core's SMP on that
 * link only: alice's takeover waits on link A, bob's on link B goes on.
 */
START_TEST(internal_acl_held_link_blocks_only_itself)
{
	static const uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	static const uint8_t pres[7] = { 0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x02 };
	uint8_t l2[24], acl[40], p[25];
	struct host a, b;
	struct host *hs[] = { &a, &b };
	unsigned first, i, on_a = 0, on_b = 0;
	uint16_t ha, hb, pa, pb;
	int len;

	env_policy = &le_bond_policy;
	tctl_prep = le_mtu_27;
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, &ha), 0);
	host_own(&a, ha);
	le_create_params(p, 0, 3, 0);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&b, NULL, &hb), 0);
	host_own(&b, hb);
	pa = phys(&a, ha);
	pb = phys(&b, hb);
	host_smp(&a, ha, preq, 7);
	/* Alice announces 500 octets of ATT and sends 20. */
	put_le16(l2, 500);
	put_le16(l2 + 2, 0x0004);
	memset(l2 + 4, 0x12, 20);
	len = h4_build_acl(acl, sizeof(acl), ha, HCI_PB_FIRST_NOFLUSH, 0, l2, 24);
	ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)len), 0);
	tctl_pump(tc);
	first = tc->acl_rx;
	dev_smp(pa, pres, 7);
	host_smp(&b, hb, preq, 7);
	dev_smp(pb, pres, 7);
	for (i = first; i < tc->acl_rx; i++) {
		on_a += tc->acl_rx_handle[i] == pa;
		on_b += tc->acl_rx_handle[i] == pb;
	}
	/* Alice's link waits; bob's Pairing Request went, then the core's
	 * public key (69 octets) in three. */
	ck_assert_uint_eq(on_a, 0);
	ck_assert_uint_eq(on_b, 4);
	ck_assert_uint_eq(tc->acl_rx_tag[first], 0x01);
	ck_assert_uint_eq(tc->acl_rx_tag[first + 1], 0x0c);
	env_down(hs, 2);
}
END_TEST

/*
 * The admin's IRK for a device (bgw-authdb(5) "device ... irk", most
 * significant octet first as the specification prints D.7's): every user
 * granted the device by its identity sees its RPA, with no SMP seen by the
 * mux; users not granted it do not; without the IRK nobody does.
 */
START_TEST(rpa_resolved_with_the_authdb_irk)
{
	static const char with_irk[] =
		"user bob\n"
		"device AA:BB:CC:00:00:03 public irk ec0234a357c8ad05341010a60a397d9b\n"
		"allow bob AA:BB:CC:00:00:03 public\n";
	static const char without_irk[] =
		"user bob\n"
		"device AA:BB:CC:00:00:03 public label \"Lamp\"\n"
		"allow bob AA:BB:CC:00:00:03 public\n";
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	bool saw[3];

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&b);
	host_init(&c);
	host_le_scan(&a, true, 0);
	host_le_scan(&b, true, 0);
	host_le_scan(&c, true, 0);
	/* Identity ...:03 is bob's and carol's in the test policy, not alice's. */
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0] && !saw[1] && !saw[2]);

	ck_assert_int_eq(authdb_parse_buffer("test", without_irk, strlen(without_irk),
					     &irk_db, NULL, 0), 0);
	mux_policy_changed(mx);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0] && !saw[1] && !saw[2]);
	authdb_free(irk_db);

	ck_assert_int_eq(authdb_parse_buffer("test", with_irk, strlen(with_irk),
					     &irk_db, NULL, 0), 0);
	mux_policy_changed(mx);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0]);
	ck_assert(saw[1]);
	ck_assert(saw[2]);
	/* A reload without it (mux_policy_changed): no one again. */
	authdb_free(irk_db);
	irk_db = NULL;
	mux_policy_changed(mx);
	rpa_adv(hs, 3, saw);
	ck_assert(!saw[0] && !saw[1] && !saw[2]);
	env_down(hs, 3);
}
END_TEST

START_TEST(handle_isolation_events_data_nocp)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha, hb, pa, pb;
	uint8_t p[4], data[8] = "payload", acl[32];
	unsigned base;
	int n;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 1);
	hb = host_connect(&b, 3);
	/* Each numbers its own links: both see 0x0001, for different links. */
	ck_assert_uint_eq(ha, 1);
	ck_assert_uint_eq(hb, 1);
	pa = phys(&a, ha);
	pb = phys(&b, hb);
	ck_assert_uint_ne(pa, 0);
	ck_assert_uint_ne(pb, 0);
	ck_assert_uint_ne(pa, pb);
	host_reset_rx(&a);
	host_reset_rx(&b);

	/* Handle-carrying events go to the owner only. */
	p[0] = 0;
	put_le16(p + 1, pa);
	p[3] = 1;
	tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, p, 4);
	/* Incoming data likewise. */
	tctl_acl(tc, pa, data, sizeof(data));
	tctl_acl(tc, pb, data, 4);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_ENCRYPT_CHANGE, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_ENCRYPT_CHANGE, -1), 0);
	ck_assert_uint_eq(get_le16(a.rx[0]->d + 4), ha);
	ck_assert_uint_eq(a.nrx, 2);
	ck_assert_uint_eq(b.nrx, 1);
	ck_assert_uint_eq(a.rx[1]->d[0], H4_ACL);
	ck_assert_uint_eq(get_le16(a.rx[1]->d + 1) & 0xfff, ha);
	ck_assert_uint_eq(get_le16(b.rx[0]->d + 1) & 0xfff, hb);
	host_reset_rx(&a);
	host_reset_rx(&b);

	/* Outgoing data: each on its own handle; a foreign one is dropped. */
	base = tc->acl_rx;
	n = h4_build_acl(acl, sizeof(acl), ha, HCI_PB_FIRST_FLUSH, 0, data, 8);
	ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)n), 0);
	/* Bob on a handle he does not have (alice's physical one): dropped. */
	n = h4_build_acl(acl, sizeof(acl), pa, HCI_PB_FIRST_FLUSH, 0, data, 8);
	ck_assert_int_eq(mux_session_input(b.s, acl, (size_t)n), 0);
	n = h4_build_acl(acl, sizeof(acl), hb, HCI_PB_FIRST_FLUSH, 0, data, 8);
	ck_assert_int_eq(mux_session_input(b.s, acl, (size_t)n), 0);
	ck_assert_uint_eq(tc->acl_rx - base, 2);
	ck_assert_uint_eq(tc->acl_rx_handle[base], pa);
	ck_assert_uint_eq(tc->acl_rx_handle[base + 1], pb);

	/* One NOCP with both handles: split per owner. */
	{
		uint8_t np[9] = { 2 };

		put_le16(np + 1, pa);
		put_le16(np + 3, 1);
		put_le16(np + 5, pb);
		put_le16(np + 7, 1);
		tctl_event(tc, HCI_EV_NUM_COMP_PKTS, np, 9);
		tctl_pump(tc);
		ck_assert_int_eq(host_take(&a, HCI_EV_NUM_COMP_PKTS, -1, np), 5);
		ck_assert_uint_eq(np[0], 1);
		ck_assert_uint_eq(get_le16(np + 1), ha);
		ck_assert_int_eq(host_take(&b, HCI_EV_NUM_COMP_PKTS, -1, np), 5);
		ck_assert_uint_eq(get_le16(np + 1), hb);
	}
	env_down(hs, 2);
}
END_TEST

/*
 * The hard cap is 64 sessions (the performance target): all 64 run at once,
 * the 65th is refused, and one NOCP naming handles of the first and last
 * sessions is split so each gets only its own.
 */
START_TEST(sixty_four_sessions_cap_and_nocp_split)
{
	struct host *hs[MUX_MAX_SESSIONS];
	struct host extra;
	uint8_t np[9] = { 2 }, ret[256];
	uint16_t h0, h63;
	unsigned i;

	ck_assert_uint_eq(MUX_MAX_SESSIONS, 64);
	env_up(64, 64, 1000);	/* clamped to MUX_MAX_SESSIONS */
	for (i = 0; i < MUX_MAX_SESSIONS; i++) {
		hs[i] = malloc(sizeof(*hs[i]));
		ck_assert_ptr_nonnull(hs[i]);
		host_start(hs[i], "carol");
	}
	memset(&extra, 0, sizeof(extra));
	ck_assert_ptr_null(mux_session_new(mx, "carol", host_emit, &extra));
	host_init(hs[0]);
	host_init(hs[63]);
	/* 64 controller buffers over 64 sessions: each is told MUX_VIRT_BUFS. */
	ck_assert_int_eq(host_cmd(hs[63], HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 4), MUX_VIRT_BUFS);
	h0 = host_connect(hs[0], 1);
	h63 = host_connect(hs[63], 4);
	host_reset_rx(hs[0]);
	host_reset_rx(hs[63]);
	put_le16(np + 1, phys(hs[63], h63));
	put_le16(np + 3, 1);
	put_le16(np + 5, phys(hs[0], h0));
	put_le16(np + 7, 1);
	{
		uint8_t acl[16];
		int n = h4_build_acl(acl, sizeof(acl), h0, HCI_PB_FIRST_FLUSH, 0, "x", 1);

		ck_assert_int_eq(mux_session_input(hs[0]->s, acl, (size_t)n), 0);
		n = h4_build_acl(acl, sizeof(acl), h63, HCI_PB_FIRST_FLUSH, 0, "y", 1);
		ck_assert_int_eq(mux_session_input(hs[63]->s, acl, (size_t)n), 0);
	}
	tctl_event(tc, HCI_EV_NUM_COMP_PKTS, np, 9);
	tctl_pump(tc);
	ck_assert_int_eq(host_take(hs[0], HCI_EV_NUM_COMP_PKTS, -1, np), 5);
	ck_assert_uint_eq(np[0], 1);
	ck_assert_uint_eq(get_le16(np + 1), h0);
	ck_assert_int_eq(host_take(hs[63], HCI_EV_NUM_COMP_PKTS, -1, np), 5);
	ck_assert_uint_eq(get_le16(np + 1), h63);
	for (i = 1; i < 63; i++)
		ck_assert_uint_eq(host_count(hs[i], HCI_EV_NUM_COMP_PKTS, -1), 0);
	env_down(hs, MUX_MAX_SESSIONS);
	for (i = 0; i < MUX_MAX_SESSIONS; i++)
		free(hs[i]);
}
END_TEST

START_TEST(foreign_handle_commands_rejected)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha;
	uint8_t p[3], ret[8];
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 2);
	base = tc->ncmds;
	put_le16(p, ha);
	p[2] = HCI_ST_REMOTE_USER_TERM;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_DISCONNECT, p, 3, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_RSSI, p, 2, ret), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(get_le16(ret + 1), ha);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_AUTH_REQUESTED, p, 2, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(tc->ncmds, base);
	/* BD_ADDR commands for alice's peer are alice's too. */
	{
		uint8_t lk[22] = { 0 };
		struct bdaddr rd;

		tbdaddr(&rd, 2);
		memcpy(lk, rd.b, 6);
		ck_assert_int_eq(host_cmd(&b, HCI_OP_LINK_KEY_REPLY, lk, 22, ret),
				 HCI_ST_UNKNOWN_CONN_ID);
		ck_assert_uint_eq(tc->ncmds, base);
	}
	/* The owner's own command goes through. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_RSSI, p, 2, ret), 0);
	ck_assert_uint_eq(tc->ncmds, base + 1);
	env_down(hs, 2);
}
END_TEST

START_TEST(bdaddr_events_to_owner_keys_private)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;
	uint8_t p[23] = { 0 };
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "carol");
	host_init(&a);
	host_init(&b);
	host_connect(&a, 2);
	host_reset_rx(&a);
	host_reset_rx(&b);
	tbdaddr(&rd, 2);
	memcpy(p, rd.b, 6);
	memset(p + 6, 0xee, 16);	/* the link key */
	p[22] = 0x04;
	tctl_event(tc, HCI_EV_LINK_KEY_REQ, p, 6);
	tctl_event(tc, HCI_EV_IO_CAPA_REQUEST, p, 6);
	tctl_event(tc, HCI_EV_LINK_KEY_NOTIFY, p, 23);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LINK_KEY_REQ, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_IO_CAPA_REQUEST, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LINK_KEY_NOTIFY, -1), 1);
	ck_assert_uint_eq(b.nrx, 0);
	/* A request for a device nobody owns is refused by the mux itself. */
	base = tc->ncmds;
	tbdaddr(&rd, 4);
	memcpy(p, rd.b, 6);
	tctl_event(tc, HCI_EV_LINK_KEY_REQ, p, 6);
	tctl_pump(tc);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LINK_KEY_NEG_REPLY, base), 1);
	ck_assert_uint_eq(b.nrx, 0);
	env_down(hs, 2);
}
END_TEST

/* Every log line, even debug ones, searched for key material. */
static unsigned key_log_lines, key_log_leaks;

static void key_log(int prio, const char *line, void *user)
{
	static const char *const pat[] = { "eeee", "ee ee", "ee:ee", "EEEE", "EE EE", "EE:EE",
					   "7777", "77 77", "77:77", "3131" };
	size_t i;

	key_log_lines++;
	for (i = 0; i < sizeof(pat) / sizeof(pat[0]); i++)
		if (strstr(line, pat[i]))
			key_log_leaks++;
}

/*
 * Keys stay private, also from the log: link keys, PINs and LTKs crossing
 * the mux in both directions never appear in any log line, at debug level
 * (where every packet is summarised).
 */
START_TEST(keys_never_in_logs)
{
	struct host a;
	struct host *hs[] = { &a };
	struct bdaddr rd;
	uint8_t p[25], ev[32], lk[23], pin[23], ltk[18];
	uint16_t h;
	int prev = log_get_level();

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	host_connect(&a, 2);
	le_create_params(p, 0, 1, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, &h), 0);
	log_set_level(LOG_DEBUG);
	log_set_handler(key_log, NULL);
	key_log_lines = key_log_leaks = 0;

	tbdaddr(&rd, 2);
	memcpy(lk, rd.b, 6);
	memset(lk + 6, 0xee, 16);
	lk[22] = 0x04;
	tctl_event(tc, HCI_EV_LINK_KEY_NOTIFY, lk, 23);
	tctl_event(tc, HCI_EV_LINK_KEY_REQ, lk, 6);
	tctl_pump(tc);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LINK_KEY_REPLY, lk, 22, NULL), 0);
	memcpy(pin, rd.b, 6);
	pin[6] = 4;
	memset(pin + 7, '1', 16);
	host_cmd(&a, HCI_OP_PIN_CODE_REPLY, pin, 23, NULL);
	put_le16(ltk, h);
	memset(ltk + 2, 0x77, 16);
	host_cmd(&a, HCI_OP_LE_LTK_REPLY, ltk, 18, NULL);
	memset(ev, 0x77, sizeof(ev));
	put_le16(ev, h);
	tctl_le_event(tc, HCI_LE_EV_LTK_REQUEST, ev, 12);
	tctl_pump(tc);
	log_set_level(prev);
	log_set_handler(quiet_log, NULL);
	ck_assert_uint_gt(key_log_lines, 4);	/* the summaries were logged */
	ck_assert_uint_eq(key_log_leaks, 0);
	env_down(hs, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Household bonds (doc/virtual-controller.md, "Household bonds") */

static void lk_notify(uint8_t last, uint8_t fill, uint8_t type)
{
	uint8_t p[23];
	struct bdaddr rd;

	tbdaddr(&rd, last);
	memcpy(p, rd.b, 6);
	memset(p + 6, fill, 16);
	p[22] = type;
	tctl_event(tc, HCI_EV_LINK_KEY_NOTIFY, p, 23);
	tctl_pump(tc);
}

static void addr_event(uint8_t code, uint8_t last)
{
	struct bdaddr rd;

	tbdaddr(&rd, last);
	tctl_event(tc, code, rd.b, 6);
	tctl_pump(tc);
}

/*
 * First pairing: the device's key becomes the household bond, made by
 * that user; the host gets a Link Key Notification of the same type with
 * a key of its own, never the device's.
 */
START_TEST(bond_first_pairing_kept_host_gets_its_own_key)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ev[32], zero[16] = { 0 }, key[16];
	struct bdaddr rd;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	host_connect(&a, 2);
	host_reset_rx(&a);
	lk_notify(2, 0xee, 0x04);
	memset(key, 0xee, 16);
	tbdaddr(&rd, 2);
	ck_assert(tbond.has);
	ck_assert(bdaddr_eq(&tbond.a, &rd));
	ck_assert_mem_eq(tbond.key, key, 16);
	ck_assert_uint_eq(tbond.type, 0x04);
	ck_assert_str_eq(tbond.by, "alice");
	ck_assert_int_eq(host_take(&a, HCI_EV_LINK_KEY_NOTIFY, -1, ev), 23);
	ck_assert_mem_eq(ev, rd.b, 6);
	ck_assert_uint_eq(ev[22], 0x04);
	ck_assert(memcmp(ev + 6, key, 16) != 0);
	ck_assert(memcmp(ev + 6, zero, 16) != 0);
	env_down(hs, 1);
}
END_TEST

/*
 * Later: a Link Key Request for a bonded device is answered by the mux
 * with the household key, for whichever permitted user's link asks; the
 * host is not asked and sees the controller's Authentication Complete.
 */
START_TEST(bond_link_key_request_answered_for_every_user)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint8_t ev[32], key[16], auth[3];
	uint16_t h;
	unsigned base;
	struct bdaddr rd;
	int i;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	tbdaddr(&rd, 2);
	for (i = 0; i < 4; i++) {
		struct host *x = i % 2 ? &b : &a;

		h = host_connect(x, 2);
		host_reset_rx(x);
		base = tc->ncmds;
		if (i == 0) {
			/* No bond yet: the host pairs as without bonds. */
			addr_event(HCI_EV_LINK_KEY_REQ, 2);
			ck_assert_uint_eq(host_count(x, HCI_EV_LINK_KEY_REQ, -1), 1);
			ck_assert_int_eq(host_cmd(x, HCI_OP_LINK_KEY_NEG_REPLY, rd.b, 6, NULL), 0);
			lk_notify(2, 0x5a, 0x05);
		} else {
			addr_event(HCI_EV_LINK_KEY_REQ, 2);
			ck_assert_uint_eq(host_count(x, HCI_EV_LINK_KEY_REQ, -1), 0);
			ck_assert_uint_eq(tctl_count(tc, HCI_OP_LINK_KEY_REPLY, base), 1);
			memset(key, 0x5a, 16);
			ck_assert_mem_eq(tc->lk_reply, rd.b, 6);
			ck_assert_mem_eq(tc->lk_reply + 6, key, 16);
		}
		auth[0] = 0;
		put_le16(auth + 1, phys(x, h));
		tctl_event(tc, HCI_EV_AUTH_COMPLETE, auth, 3);
		tctl_pump(tc);
		ck_assert_int_eq(host_take(x, HCI_EV_AUTH_COMPLETE, -1, ev), 3);
		ck_assert_uint_eq(ev[0], 0);
		ck_assert_uint_eq(host_count(i % 2 ? &a : &b, HCI_EV_AUTH_COMPLETE, -1), 0);
		ck_assert_int_eq(host_cmd(x, HCI_OP_DISCONNECT, (uint8_t[]){ (uint8_t)h, (uint8_t)(h >> 8), 0x13 }, 3, NULL), 0);
		tctl_pump(tc);
		host_reset_rx(x);
	}
	ck_assert_uint_eq(tbond.news, 1);
	env_down(hs, 2);
}
END_TEST

/*
 * A device with a household bond that asks to pair again (IO Capability
 * or PIN Code Request) is refused by the mux, no host asked: the admin
 * starts it over with bgw-authdb bond forget.
 */
START_TEST(bond_repairing_refused)
{
	struct host a;
	struct host *hs[] = { &a };
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	host_connect(&a, 2);
	lk_notify(2, 0x11, 0x04);
	host_reset_rx(&a);
	base = tc->ncmds;
	addr_event(HCI_EV_IO_CAPA_REQUEST, 2);
	addr_event(HCI_EV_PIN_CODE_REQ, 2);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_IO_CAPABILITY_NEG_REPLY, base), 1);
	ck_assert_uint_eq(tc->io_neg_reply[6], HCI_ST_PAIRING_NOT_ALLOWED);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_PIN_CODE_NEG_REPLY, base), 1);
	ck_assert_uint_eq(a.nrx, 0);
	/* Without a bond, the same requests go to the host as before. */
	tbond.has = false;
	addr_event(HCI_EV_IO_CAPA_REQUEST, 2);
	ck_assert_uint_eq(host_count(&a, HCI_EV_IO_CAPA_REQUEST, -1), 1);
	env_down(hs, 1);
}
END_TEST

/*
 * No grant, no key: a link whose user lost the device is never
 * authenticated with the household key, and once the policy change
 * dropped the link, a request for it is refused.
 */
START_TEST(bond_not_for_a_revoked_user)
{
	struct host a;
	struct host *hs[] = { &a };
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	host_connect(&a, 2);
	lk_notify(2, 0x22, 0x04);
	revoke_alice = true;
	base = tc->ncmds;
	addr_event(HCI_EV_LINK_KEY_REQ, 2);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LINK_KEY_REPLY, base), 0);
	mux_policy_changed(mx);
	tctl_pump(tc);
	ck_assert_uint_ge(tctl_count(tc, HCI_OP_DISCONNECT, base), 1);
	base = tc->ncmds;
	addr_event(HCI_EV_LINK_KEY_REQ, 2);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LINK_KEY_REPLY, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LINK_KEY_NEG_REPLY, base), 1);
	env_down(hs, 1);
}
END_TEST

/*
 * A debug key is public: never kept, passed to the host as without
 * bonds; so is a key the store could not keep (the host then holds the
 * device's only copy, as before).
 */
START_TEST(bond_debug_or_unkept_key_passes_through)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ev[32], key[16];

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	host_connect(&a, 2);
	host_reset_rx(&a);
	lk_notify(2, 0x33, 0x03);
	ck_assert(!tbond.has);
	ck_assert_uint_eq(tbond.news, 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LINK_KEY_NOTIFY, -1, ev), 23);
	memset(key, 0x33, 16);
	ck_assert_mem_eq(ev + 6, key, 16);
	tbond.fail = -EIO;
	lk_notify(2, 0x44, 0x04);
	ck_assert(!tbond.has);
	ck_assert_int_eq(host_take(&a, HCI_EV_LINK_KEY_NOTIFY, -1, ev), 23);
	memset(key, 0x44, 16);
	ck_assert_mem_eq(ev + 6, key, 16);
	env_down(hs, 1);
}
END_TEST

/* The household key in both directions never reaches a log line. */
START_TEST(bond_keys_never_in_logs)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	int prev = log_get_level();

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_connect(&a, 2);
	log_set_level(LOG_DEBUG);
	log_set_handler(key_log, NULL);
	key_log_lines = key_log_leaks = 0;
	lk_notify(2, 0xee, 0x04);
	addr_event(HCI_EV_LINK_KEY_REQ, 2);
	log_set_level(prev);
	log_set_handler(quiet_log, NULL);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LINK_KEY_REPLY, 0), 1);
	ck_assert_uint_gt(key_log_lines, 2);
	ck_assert_uint_eq(key_log_leaks, 0);
	env_down(hs, 2);
}
END_TEST

START_TEST(incoming_connection_filtered_and_owned)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;
	uint8_t p[7], ev[16];
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_connectable(&a);
	host_connectable(&b);
	ck_assert_uint_eq(tc->scan_enable, 0x02);
	/* Device 3 is bob's only: offered to bob, never to alice. */
	tbdaddr(&rd, 3);
	tctl_conn_request(tc, &rd);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_CONN_REQUEST, -1), 0);
	ck_assert_int_eq(host_take(&b, HCI_EV_CONN_REQUEST, -1, ev), 10);
	memcpy(p, rd.b, 6);
	p[6] = 0x01;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_ACCEPT_CONN_REQ, p, 7, NULL), 0);
	ck_assert_int_eq(host_take(&b, HCI_EV_CONN_COMPLETE, -1, ev), 11);
	ck_assert_uint_eq(host_count(&a, HCI_EV_CONN_COMPLETE, -1), 0);
	/* Device 4 is nobody's (of these two): rejected by the mux. */
	base = tc->ncmds;
	tbdaddr(&rd, 4);
	tctl_conn_request(tc, &rd);
	tctl_pump(tc);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_REJECT_CONN_REQ, base), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_CONN_REQUEST, -1), 0);
	ck_assert_uint_eq(host_count(&b, HCI_EV_CONN_REQUEST, -1), 0);
	env_down(hs, 2);
}
END_TEST

START_TEST(reset_isolation)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha, hb;
	uint8_t p[3];
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 1);
	hb = host_connect(&b, 2);
	host_inquiry(&b);
	host_reset_rx(&b);
	base = tc->ncmds;
	/* alice resets her virtual controller (and re-initialises). */
	host_init(&a);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_RESET, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 1);
	/* alice never hears about her old link again ... */
	ck_assert_uint_eq(host_count(&a, HCI_EV_DISCONN_COMPLETE, -1), 0);
	/* ... and bob noticed nothing: link, inquiry and data still his. */
	ck_assert_uint_eq(b.nrx, 0);
	ck_assert(tc->inquiry);
	put_le16(p, hb);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_RSSI, p, 2, NULL), 0);
	put_le16(p, ha);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_RSSI, p, 2, NULL), HCI_ST_UNKNOWN_CONN_ID);
	env_down(hs, 2);
}
END_TEST

START_TEST(event_masks_per_session_union)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	struct bdaddr rd;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "carol");
	host_init(&a);
	host_init(&b);
	/* carol turns off Extended Inquiry Result (bit 46). */
	mask[5] &= (uint8_t)~0x40;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_SET_EVENT_MASK, mask, 8, NULL), 0);
	ck_assert(tc->evmask[5] & 0x40);	/* alice still needs it */
	host_inquiry(&a);
	host_inquiry(&b);
	tbdaddr(&rd, 1);
	tctl_inquiry_result(tc, &rd);
	tctl_inquiry_complete(tc);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_EXT_INQUIRY_RESULT, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_EXT_INQUIRY_RESULT, -1), 0);
	ck_assert_uint_eq(host_count(&b, HCI_EV_INQUIRY_COMPLETE, -1), 1);
	env_down(hs, 2);
}
END_TEST

static void host_le_scan(struct host *h, bool on, uint8_t dup)
{
	static const uint8_t prm[7] = { 0x01, 0x12, 0x00, 0x12, 0x00, 0x01, 0x00 };
	uint8_t en[2] = { on, dup };

	if (on)
		ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_SCAN_PARAM, prm, 7, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_SCAN_ENABLE, en, 2, NULL), 0);
}

/* Every scanning host's count of reports from device last, then cleared. */
static void adv_from(struct host **hs, unsigned n, uint8_t last, unsigned *got)
{
	struct bdaddr rd;
	unsigned i;

	for (i = 0; i < n; i++)
		host_reset_rx(hs[i]);
	tbdaddr(&rd, last);
	tctl_adv_report(tc, &rd, 0, 0);
	tctl_pump(tc);
	for (i = 0; i < n; i++)
		got[i] = host_saw_addr(hs[i], HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, last);
}

/*
 * An advertiser's report goes to every scanning session, but the policy is
 * asked once per advertiser and user (doc/performance.md, figure 3), and
 * asked again after mux_policy_changed(), after an IRK is bound, and for
 * a user that takes over the slot of one whose sessions all ended.
 */
START_TEST(adv_verdict_once_per_advertiser_and_user)
{
	struct host a1, a2, a3, b, c;
	struct host *hs[] = { &a1, &a2, &a3, &b, &c };
	unsigned got[5], i;

	env_up(8, 8, 8);
	host_start(&a1, "alice");
	host_start(&a2, "alice");
	host_start(&a3, "alice");
	host_start(&b, "bob");
	for (i = 0; i < 4; i++) {
		host_init(hs[i]);
		host_le_scan(hs[i], true, 0);
	}
	memset(access_calls, 0, sizeof(access_calls));
	/* Device 1: alice's, not bob's. Asked once for alice, once for bob. */
	adv_from(hs, 4, 1, got);
	ck_assert(got[0] && got[1] && got[2] && !got[3]);
	ck_assert_uint_eq(access_calls[0], 1);
	ck_assert_uint_eq(access_calls[1], 1);
	/* Again, and device 2 (both may): only device 2 is asked about. */
	adv_from(hs, 4, 1, got);
	ck_assert(got[0] && got[1] && got[2] && !got[3]);
	adv_from(hs, 4, 2, got);
	ck_assert(got[0] && got[1] && got[2] && got[3]);
	ck_assert_uint_eq(access_calls[0], 2);
	ck_assert_uint_eq(access_calls[1], 2);

	/* A policy change without mux_policy_changed() may not show yet ... */
	revoke_alice = true;
	/* ... with it, it does: asked again, and refused. */
	mux_policy_changed(mx);
	adv_from(hs, 4, 1, got);
	ck_assert(!got[0] && !got[1] && !got[2] && !got[3]);
	ck_assert_uint_eq(access_calls[0], 3);
	revoke_alice = false;
	mux_policy_changed(mx);
	adv_from(hs, 4, 1, got);
	ck_assert(got[0] && got[1] && got[2] && !got[3]);

	/*
	 * Alice's sessions end; dave (device 1 is not his) takes her slot:
	 * he does not inherit her yes. Carol (it is hers) is asked about.
	 */
	for (i = 0; i < 3; i++) {
		mux_session_free(hs[i]->s);
		hs[i]->s = NULL;
		host_reset_rx(hs[i]);
	}
	tctl_pump(tc);
	memset(access_calls, 0, sizeof(access_calls));
	host_start(&a1, "dave");
	host_init(&a1);
	host_le_scan(&a1, true, 0);
	host_start(&c, "carol");
	host_init(&c);
	host_le_scan(&c, true, 0);
	adv_from(hs, 5, 1, got);
	ck_assert(!got[0] && !got[3] && got[4]);
	ck_assert_uint_eq(access_calls[2], 1);
	env_down(hs, 5);
}
END_TEST

START_TEST(le_scan_shared_filtered_dup_per_session)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;
	unsigned base, i;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	base = tc->ncmds;
	host_le_scan(&a, true, 1);
	host_le_scan(&b, true, 0);
	ck_assert(tc->le_scan);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_SCAN_ENABLE, base), 1);
	for (i = 1; i <= 4; i++) {
		tbdaddr(&rd, (uint8_t)i);
		tctl_adv_report(tc, &rd, 0, 0);
		tctl_adv_report(tc, &rd, 0, 0);
	}
	tctl_pump(tc);
	/* alice: 1 and 2 once each (she filters duplicates); bob: 2 and 3 twice. */
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 2);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 4);
	ck_assert(host_saw_addr(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 1));
	ck_assert(!host_saw_addr(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 3));
	ck_assert(!host_saw_addr(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 1));
	ck_assert(!host_saw_addr(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 4));
	/* alice stops; the physical scan goes on for bob. */
	host_le_scan(&a, false, 0);
	ck_assert(tc->le_scan);
	host_le_scan(&b, false, 0);
	ck_assert(!tc->le_scan);
	env_down(hs, 2);
}
END_TEST

START_TEST(buffer_fairness_stalled_session)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha, hb;
	uint8_t acl[32], ret[8], p[4];
	unsigned base, i;
	int n;

	/*
	 * 4 controller buffers, 2 sessions: each is told all 4 (virtual),
	 * and with both linked each has 2 of the real ones.
	 */
	env_up(4, 0, 2);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 4), 4);
	ha = host_connect(&a, 1);
	hb = host_connect(&b, 2);
	/* alice stops reading: her host is stalled. */
	a.stall = true;
	base = tc->acl_rx;
	n = h4_build_acl(acl, sizeof(acl), ha, HCI_PB_FIRST_FLUSH, 0, "x", 1);
	for (i = 0; i < 4; i++)	/* the third and fourth wait in the mux */
		mux_session_input(a.s, acl, (size_t)n);
	ck_assert_uint_eq(tc->acl_rx - base, 2);
	/* The controller holds her two packets; an event for her finds her
	 * queue full. */
	p[0] = 0;
	put_le16(p + 1, phys(&a, ha));
	p[3] = 1;
	tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, p, 4);
	tctl_pump(tc);
	ck_assert(mux_session_is_stalled(a.s));
	ck_assert(!mux_session_is_dead(a.s));
	/* bob is not blocked: he gets his full share, repeatedly. */
	n = h4_build_acl(acl, sizeof(acl), hb, HCI_PB_FIRST_FLUSH, 0, "y", 1);
	for (i = 0; i < 4; i++) {
		mux_session_input(b.s, acl, (size_t)n);
		mux_session_input(b.s, acl, (size_t)n);
		tctl_nocp(tc, phys(&b, hb), 2);
		tctl_pump(tc);
		ck_assert_int_eq(host_take(&b, HCI_EV_NUM_COMP_PKTS, -1, ret), 5);
		ck_assert_uint_eq(get_le16(ret + 3), 2);
	}
	ck_assert_uint_eq(tc->acl_rx - base, 2 + 8);
	ck_assert(!mux_session_is_dead(b.s));
	a.stall = false;
	env_down(hs, 2);
}
END_TEST

START_TEST(undeliverable_data_ends_session)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 1);
	a.stall = true;
	base = tc->ncmds;
	/* Data her queue cannot take is never dropped silently. */
	tctl_acl(tc, phys(&a, ha), "in", 2);
	tctl_pump(tc);
	ck_assert(mux_session_is_dead(a.s));
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 1);
	ck_assert(!mux_session_is_dead(b.s));
	a.stall = false;
	env_down(hs, 2);
}
END_TEST

/*
 * Credits follow links (doc: "Buffers"): 64 sessions on a controller with
 * 8 ACL buffers, 1, 4 or 16 of them linked. Every session is told the same
 * 8 virtual buffers whatever its links; the real ones go to the linked
 * sessions, pkts / linked each (at least one), round robin, so a linked
 * session's share of the throughput is 1/linked of the controller's, never
 * the 1/64 a partition by max-sessions gave it. Each linked session sends
 * its 8 packets; the controller then completes everything it holds, once
 * per round, and the rounds are counted.
 */
static const unsigned linked_cases[] = { 1, 4, 16 };

START_TEST(credits_follow_links)
{
	const unsigned k = linked_cases[_i];
	struct host *hs[MUX_MAX_SESSIONS];
	uint16_t h[16], held[16] = { 0 };
	unsigned got[16] = { 0 }, seen, rounds, i, j, total;
	uint8_t ret[16], acl[16];
	int n;

	env_up(8, 0, 64);
	for (i = 0; i < MUX_MAX_SESSIONS; i++) {
		hs[i] = malloc(sizeof(*hs[i]));
		ck_assert_ptr_nonnull(hs[i]);
		host_start(hs[i], "dave");
	}
	host_init(hs[63]);	/* never linked */
	ck_assert_int_eq(host_cmd(hs[63], HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 4), 8);
	for (i = 0; i < k; i++) {
		host_init(hs[i]);
		ck_assert_int_eq(host_cmd(hs[i], HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
		ck_assert_uint_eq(get_le16(ret + 4), 8);
		h[i] = host_connect(hs[i], (uint8_t)(0x10 + i));
		host_reset_rx(hs[i]);
	}
	seen = tc->acl_rx;
	for (i = 0; i < k; i++) {
		n = h4_build_acl(acl, sizeof(acl), h[i], HCI_PB_FIRST_FLUSH, 0, "x", 1);
		for (j = 0; j < 8; j++)
			ck_assert_int_eq(mux_session_input(hs[i]->s, acl, (size_t)n), 0);
		/* All 8 taken: none beyond what it was told. */
		ck_assert_uint_eq(host_count(hs[i], HCI_EV_DATA_BUFFER_OVERFLOW, -1), 0);
	}
	total = 0;
	for (rounds = 0; total < 8 * k && rounds < 64; rounds++) {
		unsigned now = 0;

		tctl_pump(tc);
		/* What reached the controller since the last round, per session. */
		for (; seen < tc->acl_rx; seen++) {
			for (i = 0; i < k; i++)
				if (tc->acl_rx_handle[seen] == phys(hs[i], h[i]))
					break;
			ck_assert_uint_lt(i, k);
			held[i]++;
			got[i]++;
			now++;
		}
		total += now;
		/* The controller's 8, all in use while packets wait... */
		ck_assert_uint_eq(now, 8);
		for (i = 0; i < k; i++) {
			/* ...each linked session within its share of them. */
			ck_assert_uint_le(held[i], k >= 8 ? 1 : 8 / k);
			if (held[i])
				tctl_nocp(tc, phys(hs[i], h[i]), held[i]);
			held[i] = 0;
		}
	}
	/* k rounds carry the 8 k packets: each session 8 / min(k, 8) rounds. */
	ck_assert_uint_eq(total, 8 * k);
	ck_assert_uint_eq(rounds, k);
	for (i = 0; i < k; i++)
		ck_assert_uint_eq(got[i], 8);
	tctl_pump(tc);
	for (i = 0; i < k; i++)
		ck_assert_uint_eq(host_count(hs[i], HCI_EV_NUM_COMP_PKTS, -1) > 0, 1);
	env_down(hs, MUX_MAX_SESSIONS);
	for (i = 0; i < MUX_MAX_SESSIONS; i++)
		free(hs[i]);
}
END_TEST

START_TEST(acl_beyond_share_gets_buffer_overflow)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha;
	uint8_t acl[32], ret[8];
	unsigned base, i;
	int n;

	/*
	 * 4 buffers, 2 sessions: alice is told 4 and, the only one linked,
	 * has all 4; a fifth packet is beyond what she was told.
	 */
	env_up(4, 0, 2);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 1);
	base = tc->acl_rx;
	n = h4_build_acl(acl, sizeof(acl), ha, HCI_PB_FIRST_FLUSH, 0, "x", 1);
	for (i = 0; i < 4; i++)
		mux_session_input(a.s, acl, (size_t)n);
	tctl_pump(tc);
	ck_assert_int_eq(host_take(&a, HCI_EV_DATA_BUFFER_OVERFLOW, -1, ret), -1);
	mux_session_input(a.s, acl, (size_t)n);
	tctl_pump(tc);
	ck_assert_uint_eq(tc->acl_rx - base, 4);
	/* Vol 4 Part E 7.7.26: Link_Type 0x01, ACL. */
	ck_assert_int_eq(host_take(&a, HCI_EV_DATA_BUFFER_OVERFLOW, -1, ret), 1);
	ck_assert_uint_eq(ret[0], 0x01);
	ck_assert_int_eq(host_take(&b, HCI_EV_DATA_BUFFER_OVERFLOW, -1, ret), -1);
	env_down(hs, 2);
}
END_TEST

/*
 * Data a session queued for a link that then goes (the controller's
 * Disconnection Complete) is dropped with the link and comes off the
 * session's buffer count (Vol 4 Part E 4.3): its next link has all its
 * buffers again, and none of the old link's packets reaches the controller.
 */
START_TEST(queued_acl_credits_back_on_disconnect)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha, hb;
	uint8_t acl[32], ret[8], p[4];
	unsigned base, i;
	int n;

	/* 4 buffers, both linked: each told 4, each holding 2 real ones. */
	env_up(4, 0, 2);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 1);
	hb = host_connect(&b, 2);
	base = tc->acl_rx;
	n = h4_build_acl(acl, sizeof(acl), ha, HCI_PB_FIRST_FLUSH, 0, "x", 1);
	for (i = 0; i < 4; i++)	/* two at the controller, two wait in the mux */
		ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)n), 0);
	tctl_pump(tc);
	ck_assert_uint_eq(tc->acl_rx - base, 2);
	/* Her link drops (supervision timeout) with two packets still queued. */
	p[0] = 0;
	put_le16(p + 1, phys(&a, ha));
	p[3] = HCI_ST_CONN_TIMEOUT;
	tctl_event(tc, HCI_EV_DISCONN_COMPLETE, p, 4);
	tctl_pump(tc);
	ck_assert_int_eq(host_take(&a, HCI_EV_DISCONN_COMPLETE, -1, ret), 4);
	/* Bob's completions let the mux drain: nothing of hers goes out. */
	tctl_nocp(tc, phys(&b, hb), 0);
	tctl_pump(tc);
	ck_assert_uint_eq(tc->acl_rx - base, 2);
	/* A new link: all 4 of her buffers are hers again. */
	host_reset_rx(&a);
	ha = host_connect(&a, 1);
	n = h4_build_acl(acl, sizeof(acl), ha, HCI_PB_FIRST_FLUSH, 0, "y", 1);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)n), 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take(&a, HCI_EV_DATA_BUFFER_OVERFLOW, -1, ret), -1);
	ck_assert_uint_eq(tc->acl_rx - base, 2 + 2);
	for (i = base + 2; i < tc->acl_rx; i++)
		ck_assert_uint_eq(tc->acl_rx_handle[i], phys(&a, ha));
	env_down(hs, 2);
}
END_TEST

/*
 * A host that cannot keep up with a busy house loses advertising reports,
 * not its session: reports dropped under backpressure neither count towards
 * the session's end nor stick in its duplicate filter, so the device still
 * reaches it once the host catches up.
 */
START_TEST(reports_dropped_under_backpressure_not_session)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;
	unsigned i;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_le_scan(&a, true, 1);	/* duplicates filtered */
	host_le_scan(&b, true, 0);
	a.stall = true;
	tbdaddr(&rd, 2);	/* both may see 2; only alice 1 */
	for (i = 0; i < 4 * MUX_MAX_DROPPED_EVENTS; i++)
		tctl_adv_report(tc, &rd, 0, 0);
	tbdaddr(&rd, 1);
	tctl_adv_report(tc, &rd, 0, 0);
	tctl_pump(tc);
	ck_assert(!mux_session_is_dead(a.s));
	ck_assert_uint_eq(dead_calls, 0);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 0);
	/* bob was served all along. */
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT),
			  4 * MUX_MAX_DROPPED_EVENTS);
	/* alice catches up: the next report of each device reaches her, once. */
	a.stall = false;
	for (i = 1; i <= 2; i++) {
		tbdaddr(&rd, (uint8_t)i);
		tctl_adv_report(tc, &rd, 0, 0);
		tctl_adv_report(tc, &rd, 0, 0);
	}
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 2);
	ck_assert(host_saw_addr(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 1));
	ck_assert(host_saw_addr(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 2));
	/* Other events still count: the rule for them is unchanged. */
	ck_assert(!mux_session_is_stalled(a.s));
	env_down(hs, 2);
}
END_TEST

START_TEST(stalled_session_ended_after_cap)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ha;
	unsigned base, i;
	uint8_t p[4];

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ha = host_connect(&a, 1);
	a.stall = true;
	base = tc->ncmds;
	p[0] = 0;
	put_le16(p + 1, phys(&a, ha));
	p[3] = 1;
	for (i = 0; i < MUX_MAX_DROPPED_EVENTS; i++)
		tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, p, 4);
	tctl_pump(tc);
	ck_assert(mux_session_is_dead(a.s));
	ck_assert_uint_eq(dead_calls, 1);
	/* Its link is disconnected; bob is untouched. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 1);
	ck_assert(!mux_session_is_dead(b.s));
	ck_assert_int_eq(mux_session_input(a.s, (const uint8_t *)"\x01\x03\x0c\x00", 4), -EPIPE);
	a.stall = false;
	env_down(hs, 2);
}
END_TEST

/*
 * A command of the mux's own for a link that goes before the command
 * does (it waits for the controller's command credit) goes with the
 * link: the controller may give the handle to the next link. The two
 * Disconnects of alice's teardown wait; both links complete their
 * disconnection on their own first: neither is sent.
 */
START_TEST(internal_command_for_a_gone_link_dropped)
{
	struct host a;
	struct host *hs[] = { &a };
	uint16_t ph[2];
	uint8_t ev[4], buf[16];
	unsigned base, i;
	int n;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	ph[0] = phys(&a, host_connect(&a, 1));
	ph[1] = phys(&a, host_connect(&a, 2));
	tc->hold_cc = true;
	base = tc->ncmds;
	mux_session_free(a.s);
	a.s = NULL;
	tctl_pump(tc);
	/* One command at the controller (its event mask), unanswered. */
	ck_assert_uint_eq(tc->ncmds, base + 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 0);
	for (i = 0; i < 2; i++) {
		ev[0] = 0;
		put_le16(ev + 1, ph[i]);
		ev[3] = 0x13;
		tctl_event(tc, HCI_EV_DISCONN_COMPLETE, ev, 4);
	}
	tctl_pump(tc);
	tc->hold_cc = false;
	tc->outstanding = 0;
	n = h4_build_cc(buf, sizeof(buf), 1, tc->cmds[base], "", 1);
	mux_ctrl_input(mx, buf, (size_t)n);
	tctl_pump(tc);
	ck_assert_uint_gt(tc->ncmds, base + 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 0);
	env_down(hs, 1);
}
END_TEST

START_TEST(session_teardown_disconnects)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct mux_stats st;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_connect(&a, 1);
	host_connect(&a, 2);
	host_connect(&b, 3);
	host_inquiry(&a);
	host_le_scan(&a, true, 1);
	host_reset_rx(&b);
	base = tc->ncmds;
	mux_session_free(a.s);
	a.s = NULL;
	tctl_pump(tc);
	/* Both of alice's links, her inquiry and her scan: gone at once. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 2);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 1);
	ck_assert(!tc->le_scan);
	mux_get_stats(mx, &st);
	ck_assert_uint_eq(st.conns, 1);
	ck_assert_uint_eq(b.nrx, 0);
	env_down(hs, 2);
}
END_TEST

/*
 * mux_session_release_links: a silent host's links go (the controller
 * disconnects them, another user connects to the device), its host is
 * told Disconnection Complete 0x08 for each before anything else, and
 * everything else of its virtual controller stays: its settings, its
 * inquiry, the session itself.
 */
START_TEST(release_links_keeps_virtual_state)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint8_t name[248] = "alice-laptop", ret[256], ev[8], acl[8] = { 4, 0, 1, 0 };
	uint16_t h1, h2;
	struct mux_stats st;
	unsigned base, dead0, acl0, i;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_LOCAL_NAME, name, 248, NULL), 0);
	h1 = host_connect(&a, 1);
	h2 = host_connect(&a, 2);
	host_inquiry(&a);
	host_reset_rx(&a);
	host_reset_rx(&b);
	base = tc->ncmds;
	dead0 = dead_calls;
	ck_assert_uint_eq(mux_session_release_links(a.s, HCI_ST_CONN_TIMEOUT), 2);
	tctl_pump(tc);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 2);
	mux_get_stats(mx, &st);
	ck_assert_uint_eq(st.conns, 0);
	/* Exactly two events, both Disconnection Complete 0x08, nothing else. */
	ck_assert_uint_eq(a.nrx, 2);
	for (i = 0; i < 2; i++) {
		ck_assert(is_evt(a.rx[0], HCI_EV_DISCONN_COMPLETE, -1));
		ck_assert_int_eq(host_take(&a, HCI_EV_DISCONN_COMPLETE, -1, ev), 4);
		ck_assert_uint_eq(ev[0], 0);
		ck_assert_uint_eq(ev[3], HCI_ST_CONN_TIMEOUT);
		ck_assert(get_le16(ev + 1) == (i ? h2 : h1) || get_le16(ev + 1) == (i ? h1 : h2));
	}
	ck_assert_uint_eq(b.nrx, 0);
	/* The session lives on: not ended, its inquiry still running. */
	ck_assert(!mux_session_is_dead(a.s));
	ck_assert_uint_eq(dead_calls, dead0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_INQUIRY_CANCEL, base), 0);
	ck_assert(tc->inquiry);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_NAME, NULL, 0, ret), 0);
	ck_assert_str_eq((char *)ret + 1, "alice-laptop");
	/* Its late data for the old handle goes nowhere. */
	acl0 = tc->acl_rx;
	{
		uint8_t pkt[1 + 4 + sizeof(acl)] = { H4_ACL };

		put_le16(pkt + 1, h2 | 0x2000);
		put_le16(pkt + 3, sizeof(acl));
		memcpy(pkt + 5, acl, sizeof(acl));
		ck_assert_int_eq(mux_session_input(a.s, pkt, sizeof(pkt)), 0);
		tctl_pump(tc);
	}
	ck_assert_uint_eq(tc->acl_rx, acl0);
	/* The device is free for bob; alice can connect again later. */
	host_connect(&b, 2);
	host_connect(&a, 1);
	/* Nothing left to release is not an error. */
	ck_assert_uint_eq(mux_session_release_links(b.s, HCI_ST_CONN_TIMEOUT), 1);
	ck_assert_uint_eq(mux_session_release_links(b.s, HCI_ST_CONN_TIMEOUT), 0);
	ck_assert_uint_eq(mux_session_release_links(NULL, HCI_ST_CONN_TIMEOUT), 0);
	tctl_pump(tc);
	env_down(hs, 2);
}
END_TEST

START_TEST(transport_loss_and_recovery)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct mux_stats st;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_connect(&a, 1);
	host_le_scan(&b, true, 0);
	host_reset_rx(&a);
	host_reset_rx(&b);
	mux_ctrl_down(mx);
	ck_assert(!mux_is_ready(mx));
	/* alice's link is gone; everyone is told Hardware Error. */
	ck_assert_uint_eq(host_count(&a, HCI_EV_DISCONN_COMPLETE, -1), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_HARDWARE_ERROR, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_HARDWARE_ERROR, -1), 1);
	/* While down, identity still answers; the radio does not. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_BD_ADDR, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_RAND, NULL, 0, NULL), HCI_ST_HARDWARE_FAILURE);
	/* Back: re-initialised, and bob's scan restored. */
	base = tc->ncmds;
	tc->le_scan = false;
	mux_ctrl_up(mx);
	tctl_pump(tc);
	ck_assert(mux_is_ready(mx));
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_RESET, base), 1);
	ck_assert(tc->le_scan);
	mux_get_stats(mx, &st);
	ck_assert_uint_eq(st.inits, 2);
	host_init(&a);
	host_connect(&a, 2);
	env_down(hs, 2);
}
END_TEST

static unsigned failed_calls;

static void on_failed(struct mux *m, int err, void *user)
{
	ck_assert_int_eq(err, -ETIMEDOUT);
	failed_calls++;
}

START_TEST(controller_silent_is_failed)
{
	struct host a;
	struct host *hs[] = { &a };
	struct mux_config cfg = { 4, 20 };
	struct mux_ops ops = { tctl_send, on_failed, on_dead, NULL };
	unsigned i;

	log_set_handler(quiet_log, NULL);
	failed_calls = 0;
	lp = loop_new();
	tc = tctl_new(8, 8);
	ops.user = tc;
	mx = mux_new(lp, &cfg, env_policy ? env_policy : &test_policy, &ops);
	env_policy = NULL;
	memset(&tle, 0, sizeof(tle));
	tc->mux = mx;
	if (tctl_prep)
		tctl_prep(tc);
	tctl_prep = NULL;
	mux_ctrl_up(mx);
	tctl_pump(tc);
	ck_assert(mux_is_ready(mx));
	host_start(&a, "alice");
	/* The controller stops answering: a command stays outstanding. */
	tc->hold_cc = true;
	host_send(&a, HCI_OP_LE_RAND, NULL, 0);
	for (i = 0; i < 1000 && !failed_calls; i++)
		loop_iterate(lp, 10);
	ck_assert_uint_eq(failed_calls, 1);
	ck_assert(!mux_is_ready(mx));
	/* alice's command was answered (Hardware Failure), then Hardware Error. */
	ck_assert_int_eq(host_done(&a, HCI_OP_LE_RAND, NULL, NULL), HCI_ST_HARDWARE_FAILURE);
	ck_assert_uint_eq(host_count(&a, HCI_EV_HARDWARE_ERROR, -1), 1);
	tc->hold_cc = false;
	tc->outstanding = 0;
	env_down(hs, 1);
}
END_TEST

START_TEST(down_answers_queued_commands)
{
	struct host a;
	struct host *hs[] = { &a };

	env_up(8, 8, 4);
	host_start(&a, "alice");
	tc->hold_cc = true;
	host_send(&a, HCI_OP_LE_RAND, NULL, 0);		/* at the controller */
	host_send(&a, HCI_OP_READ_LOCAL_OOB_DATA, NULL, 0);	/* queued: no credit */
	ck_assert_uint_eq(a.nrx, 0);
	mux_ctrl_down(mx);
	/* Both answered at once, in order; nobody waits for a dead controller. */
	ck_assert_int_eq(host_done(&a, HCI_OP_LE_RAND, NULL, NULL), HCI_ST_HARDWARE_FAILURE);
	ck_assert_int_eq(host_done(&a, HCI_OP_READ_LOCAL_OOB_DATA, NULL, NULL),
			 HCI_ST_HARDWARE_FAILURE);
	tc->hold_cc = false;
	tc->outstanding = 0;
	env_down(hs, 1);
}
END_TEST

START_TEST(controller_hardware_error_reinit)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t code = 0x01;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	base = tc->ncmds;
	tctl_event(tc, HCI_EV_HARDWARE_ERROR, &code, 1);
	tctl_pump(tc);
	ck_assert(mux_is_ready(mx));
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_RESET, base), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_HARDWARE_ERROR, -1), 1);
	env_down(hs, 1);
}
END_TEST

START_TEST(privileged_commands_admin_only)
{
	struct host a, ad;
	struct host *hs[] = { &a, &ad };
	static const uint8_t one = 1;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&ad, "admin");
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, 0xfc01, "\x00\x00", 2, NULL), HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_ENABLE_DUT_MODE, NULL, 0, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_SSP_DEBUG_MODE, &one, 1, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_uint_eq(tc->ncmds, base);
	ck_assert_int_eq(host_cmd(&ad, 0xfc01, "\x00\x00", 2, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, 0xfc01, base), 1);
	/* Discoverable: virtual for alice, physical for the admin. */
	{
		static const uint8_t both = 0x03;

		ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_SCAN_ENABLE, &both, 1, NULL), 0);
		ck_assert_uint_eq(tc->scan_enable, 0x02);
		ck_assert_int_eq(host_cmd(&ad, HCI_OP_WRITE_SCAN_ENABLE, &both, 1, NULL), 0);
		ck_assert_uint_eq(tc->scan_enable, 0x03);
	}
	/* Advertising: virtual success for alice, never on the air. */
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_ADV_ENABLE, &one, 1, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_ADV_ENABLE, base), 0);
	ck_assert_int_eq(host_cmd(&ad, HCI_OP_LE_SET_ADV_ENABLE, &one, 1, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_ADV_ENABLE, base), 1);
	env_down(hs, 2);
}
END_TEST

/*
 * Extended scanning, advertising and connection are hidden consistently
 * (doc: "Extended advertising and scanning"): no Supported_Commands bit, no
 * LE feature bit, Unknown HCI Command if sent anyway, nothing forwarded.
 * So a host cannot mix legacy and extended scan commands (Vol 4 Part E
 * 3.1.1) on the virtual controller, and the shared legacy scan serves all.
 */
START_TEST(extended_scan_sets_and_conn_offered_consistently)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ret[256], zero[64];
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "carol");
	host_init(&a);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret), 0);
	/* Octet 36 bits 1-7, 37 bits 0-1 (sets), 5-6 (scan), 7 (connection). */
	ck_assert_uint_eq(ret[1 + 36] & 0xfe, 0xfe);
	ck_assert_uint_eq(ret[1 + 37] & 0xe3, 0xe3);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_READ_LOCAL_FEATURES, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[1] & 0xc0, 0);	/* LL privacy, ext scanner filter */
	ck_assert_uint_eq(ret[2] & 0x30, 0x10);	/* extended, not periodic advertising */
	ck_assert_uint_eq(ret[2] & 0x08, 0x08);	/* LE Coded kept: it can be scanned */
	memset(zero, 0, sizeof(zero));
	base = tc->ncmds;
	/* Shorter than one PHY's parameters: Command Status 0x12. */
	host_send(&a, HCI_OP_LE_EXT_CREATE_CONN, zero, 10);
	tctl_pump(tc);
	ck_assert_int_eq(host_done(&a, HCI_OP_LE_EXT_CREATE_CONN, NULL, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 0);
	/* The legacy scan still works. */
	host_le_scan(&a, true, 0);
	ck_assert(tc->le_scan);
	host_le_scan(&a, false, 0);
	env_down(hs, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* LE Extended Create Connection (7.8.66) */

/*
 * Valid LE Extended Create Connection parameters to device last over phys
 * (bit 0 LE 1M, 1 LE 2M, 2 LE Coded); each PHY's Scan_Interval is 0x60 +
 * its bit, so the blocks can be told apart. Returns the length.
 */
static uint8_t ext_conn_params(uint8_t *p, uint8_t policy, uint8_t last, uint8_t own,
			       uint8_t phys)
{
	struct bdaddr a;
	unsigned i, n = 10;

	memset(p, 0, 58);
	p[0] = policy;
	p[1] = own;
	tbdaddr(&a, last);
	memcpy(p + 3, a.b, 6);
	p[9] = phys;
	for (i = 0; i < 3; i++) {
		if (!(phys & (1u << i)))
			continue;
		put_le16(p + n, (uint16_t)(0x60 + i));
		put_le16(p + n + 2, 0x30);
		put_le16(p + n + 4, 0x18);
		put_le16(p + n + 6, 0x28);
		put_le16(p + n + 10, 0x2a);
		n += 16;
	}
	return (uint8_t)n;
}

/* The session's LE event mask, Linux 6.1's plus LE Enhanced Connection Complete v1 / v2. */
static void host_le_mask_enh(struct host *h, bool v1, bool v2)
{
	uint8_t m[8] = { 0x1f, 0, 0, 0, 0, 0, 0, 0 };

	if (v1)
		m[1] |= 0x02;	/* bit 9 */
	if (v2)
		m[5] |= 0x01;	/* bit 40 */
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_EVENT_MASK, m, 8, NULL), 0);
}

static void prep_no_ext_conn(struct tctl *t)
{
	t->cmds_off[37] = 0x80;
}

START_TEST(ext_create_conn_hidden_without_physical_support)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ret[256], p[58], n;
	unsigned base;

	tctl_prep = prep_no_ext_conn;
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[1 + 37] & 0x80, 0);
	ck_assert_uint_eq(ret[1 + 37] & 0x60, 0x60);	/* the scan stays */
	base = tc->ncmds;
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL),
			 HCI_ST_UNKNOWN_COMMAND);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 0);
	env_down(hs, 1);
}
END_TEST

static void prep_no_coded(struct tctl *t)
{
	t->le_feat_off[1] = 0x08;	/* LE Coded PHY (bit 11) */
}

/*
 * Every field checked before anything reaches the controller, with the
 * status a controller gives (7.8.66): Invalid HCI Command Parameters for a
 * wrong length or value, Unsupported Feature or Parameter Value for a
 * reserved PHY bit or one the controller lacks.
 */
START_TEST(ext_create_conn_parameters_checked)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t p[64], n;
	unsigned base;

	tctl_prep = prep_no_coded;
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	base = tc->ncmds;
#define EXPECT(len, st) ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, len, NULL), st)
	/* Lengths: 16 octets per PHY set, no more, no less. */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	EXPECT(n - 1, HCI_ST_INVALID_PARAMETERS);
	EXPECT(n + 1, HCI_ST_INVALID_PARAMETERS);
	EXPECT(n + 16, HCI_ST_INVALID_PARAMETERS);
	n = ext_conn_params(p, 0, 1, 0, 0x03);
	EXPECT(n - 16, HCI_ST_INVALID_PARAMETERS);
	EXPECT(9, HCI_ST_INVALID_PARAMETERS);
	/* PHYs: none, or LE 2M alone (no advertising on it): invalid. */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	p[9] = 0;
	EXPECT(10 + 16, HCI_ST_INVALID_PARAMETERS);
	n = ext_conn_params(p, 0, 1, 0, 0x02);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);
	/* A reserved PHY bit, and LE Coded on a controller without it: 0x11. */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	p[9] = 0x09;
	EXPECT(n, HCI_ST_UNSUPPORTED_FEATURE);
	n = ext_conn_params(p, 0, 1, 0, 0x05);
	EXPECT(n, HCI_ST_UNSUPPORTED_FEATURE);
	/* Header fields. */
	n = ext_conn_params(p, 2, 1, 0, 0x01);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* filter policy */
	n = ext_conn_params(p, 0, 1, 2, 0x01);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* own RPA: no LL privacy */
	n = ext_conn_params(p, 0, 1, 4, 0x01);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	p[2] = 4;
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* peer address type */
	/* Each block: scan window, interval range, latency, timeout. */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	put_le16(p + 12, 0x61);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* window above interval */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	put_le16(p + 10, 3);
	put_le16(p + 12, 3);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* interval below 4 */
	n = ext_conn_params(p, 0, 1, 0, 0x03);
	put_le16(p + 26 + 4, 0x30);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* 2M block: min above max */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	put_le16(p + 18, 0x01f4);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* latency */
	n = ext_conn_params(p, 0, 1, 0, 0x01);
	put_le16(p + 20, 0x000a);
	EXPECT(n, HCI_ST_INVALID_PARAMETERS);	/* timeout not above the interval */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 0);
	/* LE 2M's scan parameters are ignored: zero is fine there. */
	n = ext_conn_params(p, 0, 1, 0, 0x03);
	put_le16(p + 26, 0);
	put_le16(p + 28, 0);
	EXPECT(n, 0);
#undef EXPECT
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 1);
	ck_assert_uint_eq(tc->le_ext_plen, n);
	ck_assert_mem_eq(tc->le_ext_params, p, n);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), 0);
	env_down(hs, 1);
}
END_TEST

/*
 * A device the user may not see: Command Status success, then LE Enhanced
 * Connection Complete with Connection Rejected due to Unacceptable BD_ADDR,
 * as for the legacy command; nothing reaches the controller.
 */
START_TEST(ext_create_conn_forbidden_device_refused)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t p[64], ev[64], n;
	struct bdaddr rd;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	host_le_mask_enh(&a, true, false);
	base = tc->ncmds;
	denied_calls = 0;
	n = ext_conn_params(p, 0, 3, 0, 0x05);	/* bob's device, as a random address */
	p[2] = 0x01;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, ev), 31);
	ck_assert_uint_eq(ev[1], HCI_ST_REJ_BAD_ADDR);
	ck_assert_uint_eq(get_le16(ev + 2), 0);
	tbdaddr(&rd, 3);
	ck_assert_mem_eq(ev + 6, rd.b, 6);
	ck_assert_uint_eq(a.nrx, 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 0);
	ck_assert_uint_eq(denied_calls, 1);
	ck_assert_uint_eq(denied_last_op, HCI_OP_LE_EXT_CREATE_CONN);
	ck_assert_uint_eq(denied_last_type, BDADDR_RANDOM);
	ck_assert_uint_eq(ev[5], 0x01);
	/* Nothing kept: her own device goes through. */
	n = ext_conn_params(p, 0, 1, 0, 0x05);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, ev), 31);
	ck_assert_uint_eq(ev[1], 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 1);
	ck_assert_uint_eq(denied_calls, 1);
	env_down(hs, 1);
}
END_TEST

/*
 * The completion of an extended initiation goes to the session that made
 * it only, in its own handle space and in the variant its mask asks for:
 * the controller sends v2 (one session enabled it), a v1 session gets v1,
 * a legacy one LE Connection Complete.
 */
START_TEST(ext_create_conn_routed_enhanced_complete_translated)
{
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	uint8_t p[64], ev[64], n, lcp[25];
	struct bdaddr d;
	uint16_t hc;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&b);
	host_init(&c);
	host_le_mask_enh(&a, true, false);
	host_le_mask_enh(&b, true, true);
	/* Carol holds a link first: the controller's handles move on. */
	le_create_params(lcp, 0, 4, 0);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_CREATE_CONN, lcp, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&c, NULL, &hc), 0);
	ck_assert_uint_eq(hc, 1);
	host_own(&c, hc);

	n = ext_conn_params(p, 0, 1, 0, 0x01);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	/* v1 for her, from the controller's v2, her handle 1 (not 2). */
	ck_assert_int_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE_V2), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, ev), 31);
	ck_assert_uint_eq(ev[1], 0);
	ck_assert_uint_eq(get_le16(ev + 2), 1);
	ck_assert_uint_ne(phys(&a, 1), phys(&c, 1));
	tbdaddr(&d, 1);
	ck_assert_mem_eq(ev + 6, d.b, 6);
	ck_assert_uint_eq(get_le16(ev + 24), 0x18);	/* interval from the tail */
	host_own(&a, 1);

	n = ext_conn_params(p, 0, 2, 0, 0x01);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert_int_eq(host_take(&b, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE_V2, ev), 34);
	ck_assert_uint_eq(ev[1], 0);
	ck_assert_uint_eq(get_le16(ev + 2), 1);
	ck_assert_uint_eq(ev[31], 0xff);		/* Advertising_Handle */
	ck_assert_uint_eq(get_le16(ev + 32), 0xffff);	/* Sync_Handle */
	ck_assert_uint_ne(phys(&b, 1), phys(&a, 1));
	host_own(&b, 1);
	/* Nobody heard of the others' links. */
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, -1), 0);
	ck_assert_uint_eq(host_count(&c, HCI_EV_LE_META, -1), 0);
	/* A legacy-masked session is given LE Connection Complete. */
	host_le_mask_enh(&c, false, false);
	host_send(&c, HCI_OP_DISCONNECT, "\x01\x00\x13", 3);
	tctl_pump(tc);
	host_reset_rx(&c);
	n = ext_conn_params(p, 0, 4, 0, 0x01);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&c, NULL, &hc), 0);
	ck_assert_uint_eq(hc, 1);
	env_down(hs, 3);
}
END_TEST

/*
 * One initiator at a time (Vol 6 Part B 4.5): a second session's direct
 * initiation while one runs is Command Disallowed, as from the legacy
 * command; LE Create Connection Cancel ends the extended one, its
 * LE Enhanced Connection Complete (Unknown Connection Identifier) to the
 * canceller only.
 */
START_TEST(ext_create_conn_one_initiator_and_cancel)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint8_t p[64], ev[64], n;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_le_mask_enh(&a, true, false);
	host_le_mask_enh(&b, true, false);
	tc->le_hold_direct = true;
	n = ext_conn_params(p, 0, 2, 0, 0x01);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert(tc->le_connecting);
	/* Her own second one, and bob's, are refused. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	/* Bob has nothing to cancel. */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 1);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, ev), 31);
	ck_assert_uint_eq(ev[1], HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, -1), 0);
	/* The initiator is free: bob's goes through now. */
	tc->le_hold_direct = false;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert_int_eq(host_take(&b, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, ev), 31);
	ck_assert_uint_eq(ev[1], 0);
	host_own(&b, get_le16(ev + 2));
	env_down(hs, 2);
}
END_TEST

/*
 * Accept-list initiations of both kinds share one physical initiation:
 * with an extended member it is LE Extended Create Connection over the
 * union of the PHYs (the legacy member's parameters as the LE 1M block,
 * LE Coded from the extended member), over the union of the entries each
 * user may reach. The link goes to the session whose list has the peer;
 * the legacy one waiting alone gets a legacy initiation again. A cancel
 * ends only the canceller's part.
 */
START_TEST(ext_create_conn_accept_list_merged_with_legacy)
{
	struct host a, c, b;
	struct host *hs[] = { &a, &c, &b };
	uint8_t p[64], ev[64], n, last;
	struct bdaddr d;
	unsigned base;
	uint16_t h;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&c, "carol");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&c);
	host_init(&b);
	host_le_mask_enh(&c, true, false);
	host_al_add(&a, 1);
	host_al_add(&c, 4);
	host_al_add(&b, 3);
	host_al_add(&b, 1);	/* not bob's to reach: never programmed */
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert_uint_eq(tc->le_ext_conns, 0);
	base = tc->ncmds;
	n = ext_conn_params(p, 1, 0, 0, 0x04);	/* LE Coded only */
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	/* The legacy initiation made way for an extended one over both. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 1);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert_uint_eq(tc->le_ext_params[0], 0x01);
	ck_assert_uint_eq(tc->le_ext_params[9], 0x05);
	ck_assert_uint_eq(tc->le_ext_plen, 10 + 32);
	/* LE 1M: alice's scan interval (0x60) and connection parameters. */
	ck_assert_uint_eq(get_le16(tc->le_ext_params + 10), 0x60);
	ck_assert_uint_eq(get_le16(tc->le_ext_params + 16), 0x28);
	ck_assert_uint_eq(get_le16(tc->le_ext_params + 20), 0x2a);
	/* LE Coded: carol's (0x62). */
	ck_assert_uint_eq(get_le16(tc->le_ext_params + 26), 0x62);
	ck_assert(tal(1));
	ck_assert(tal(4));
	ck_assert_uint_eq(tc->nal, 2);
	ck_assert_uint_eq(a.nrx, 0);
	/* Bob joins with the extended command: his 3, never alice's 1 for him. */
	n = ext_conn_params(p, 1, 0, 0, 0x01);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert(tal(3));
	ck_assert_uint_eq(tc->nal, 3);
	/* Bob cancels: his part only, then the initiation goes on without 3. */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&b, NULL, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert(!tal(3));
	ck_assert_uint_eq(a.nrx, 0);
	ck_assert_uint_eq(host_count(&c, HCI_EV_LE_META, -1), 0);
	/* Carol's coded device answers: her link, her handle, v1 as she asked. */
	base = tc->ncmds;
	tbdaddr(&d, 4);
	h = tctl_le_al_connect(tc, 0, &d);
	ck_assert_uint_ne(h, 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take(&c, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, ev), 31);
	ck_assert_uint_eq(ev[1], 0);
	ck_assert_uint_eq(get_le16(ev + 2), 1);
	ck_assert_uint_eq(phys(&c, 1), h);
	host_own(&c, 1);
	ck_assert_int_eq(host_take_le_conn(&a, NULL, NULL), -1);
	/* Alice waits alone now: a legacy initiation over her entry. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 0);
	ck_assert(tc->le_connecting && tc->le_al_init);
	ck_assert(tal(1));
	ck_assert(!tal(4));
	tbdaddr(&d, 1);
	ck_assert_uint_ne(tctl_le_al_connect(tc, 0, &d), 0);
	tctl_pump(tc);
	ck_assert_int_eq(host_take_le_conn(&a, &last, &h), 0);
	ck_assert_uint_eq(last, 1);
	ck_assert_uint_eq(h, 1);
	host_own(&a, h);
	env_down(hs, 3);
}
END_TEST

/*
 * A session that waits with the extended command is not served by a
 * running legacy initiation, even over the same entries: a legacy
 * initiator never answers extended PDUs nor listens on LE Coded. The
 * initiation is re-issued as LE Extended Create Connection; a legacy
 * joiner of an extended one on LE 1M is served as it runs.
 */
START_TEST(ext_create_conn_joiner_gets_an_extended_initiation)
{
	struct host a, c, d;
	struct host *hs[] = { &a, &c, &d };
	uint8_t p[64], n;
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&c, "carol");
	host_start(&d, "carol");	/* a second host of hers, legacy */
	host_init(&a);
	host_init(&c);
	host_init(&d);
	host_al_add(&a, 1);
	host_al_add(&c, 1);
	host_al_add(&d, 1);
	ck_assert_int_eq(host_le_connect_al(&a), 0);
	ck_assert(tc->le_connecting && tc->le_al_init);
	base = tc->ncmds;
	n = ext_conn_params(p, 1, 0, 0, 0x05);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_EXT_CREATE_CONN, p, n, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 1);
	ck_assert_uint_eq(tc->le_ext_params[9], 0x05);
	ck_assert(tc->le_connecting && tc->le_al_init);
	/* A legacy joiner over the same entry: served by it, nothing re-sent. */
	base = tc->ncmds;
	ck_assert_int_eq(host_le_connect_al(&d), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN_CANCEL, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_EXT_CREATE_CONN, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CREATE_CONN, base), 0);
	ck_assert_uint_eq(a.nrx + c.nrx + d.nrx, 0);
	env_down(hs, 3);
}
END_TEST

/* A controller lacking one set command: no set command, no feature bit. */
static void prep_no_remove_set(struct tctl *t)
{
	t->cmds_off[37] = 0x01;
}

START_TEST(ext_adv_sets_all_or_none)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ret[256], prm[25] = { 0 };

	tctl_prep = prep_no_remove_set;
	env_up(8, 8, 4);
	host_start(&a, "admin");
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[1 + 36] & 0xfe, 0);
	ck_assert_uint_eq(ret[1 + 37] & 0x03, 0);
	ck_assert_uint_eq(ret[1 + 37] & 0x60, 0x60);	/* scanning stays */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_READ_LOCAL_FEATURES, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[2] & 0x10, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_ADV_PARAMS, prm, 25, NULL),
			 HCI_ST_UNKNOWN_COMMAND);
	env_down(hs, 1);
}
END_TEST

/* LE Set Extended Advertising Parameters for set h, connectable, 100 ms. */
static int host_set_params(struct host *h, uint8_t set, uint8_t *ret)
{
	uint8_t p[25] = { 0 };

	p[0] = set;
	put_le16(p + 1, 0x0013);	/* legacy ADV_IND */
	p[3] = 0xa0;			/* 100 ms, 3 octets */
	p[6] = 0xa0;
	p[9] = 0x07;
	p[19] = 0x7f;
	p[20] = 0x01;
	p[22] = 0x01;
	return host_cmd(h, HCI_OP_LE_SET_EXT_ADV_PARAMS, p, 25, ret);
}

static int host_set_enable(struct host *h, uint8_t on, uint8_t n, const uint8_t *sets)
{
	uint8_t p[2 + 4 * 8] = { on, n };
	unsigned i;

	for (i = 0; i < n; i++)
		p[2 + 4 * i] = sets[i];
	return host_cmd(h, HCI_OP_LE_SET_EXT_ADV_ENABLE, p, 2u + 4u * n, NULL);
}

START_TEST(ext_adv_sets_per_session_admin_owns_physical)
{
	static const uint8_t one[1] = { 1 }, two[2] = { 0, 5 };
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	uint8_t ret[64], data[8] = { 0, 0x03, 0x01, 3, 2, 0x01, 0x06 }, h;
	unsigned base, i;

	static const uint8_t evmask[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0x20 };
	static const uint8_t lemask[8] = { 0x1f, 0x00, 0x02 };	/* + Adv Set Terminated */

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "admin");
	host_start(&c, "admin");
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(host_cmd(hs[i], HCI_OP_SET_EVENT_MASK, evmask, 8, NULL), 0);
		ck_assert_int_eq(host_cmd(hs[i], HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	}
	base = tc->ncmds;
	/* Per session: the controller's count and data length. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_READ_NUM_ADV_SETS, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[1], 4);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_READ_MAX_ADV_DATA_LEN, NULL, 0, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 1), 1650);
	/* alice's sets are virtual: answered as a controller, none sent. */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(host_set_params(&a, (uint8_t)i, ret), 0);
	ck_assert_int_eq(host_set_params(&a, 4, NULL), HCI_ST_MEMORY_EXCEEDED);
	ck_assert_int_eq(host_set_params(&a, 0xf0, NULL), HCI_ST_INVALID_PARAMETERS);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_ADV_DATA, data, 7, NULL), 0);
	data[0] = 9;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_ADV_DATA, data, 7, NULL),
			 HCI_ST_UNKNOWN_ADV_ID);
	data[0] = 0;
	data[3] = 4;	/* says 4 octets, carries 3 */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_ADV_DATA, data, 7, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	data[3] = 3;
	ck_assert_int_eq(host_set_enable(&a, 1, 1, one), 0);
	ck_assert_int_eq(host_set_params(&a, 1, NULL), HCI_ST_COMMAND_DISALLOWED);
	h = 1;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_REMOVE_ADV_SET, &h, 1, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CLEAR_ADV_SETS, NULL, 0, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(host_set_enable(&a, 0, 0, NULL), 0);	/* all of hers off */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_REMOVE_ADV_SET, &h, 1, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_REMOVE_ADV_SET, &h, 1, NULL),
			 HCI_ST_UNKNOWN_ADV_ID);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CLEAR_ADV_SETS, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_set_enable(&a, 1, 1, one), HCI_ST_UNKNOWN_ADV_ID);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_PARAMS, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_ENABLE, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_REMOVE_ADV_SET, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CLEAR_ADV_SETS, base), 0);
	/* The first admin's sets are the controller's: forwarded. */
	ck_assert_int_eq(host_set_params(&b, 0, ret), 0);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_SET_EXT_ADV_DATA, data, 7, NULL), 0);
	ck_assert_int_eq(host_set_enable(&b, 1, 1, two), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_PARAMS, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_DATA, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_ENABLE, base), 1);
	/* The second admin's are virtual while the first holds the controller's. */
	ck_assert_int_eq(host_set_params(&c, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(&c, HCI_OP_LE_CLEAR_ADV_SETS, NULL, 0, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_PARAMS, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CLEAR_ADV_SETS, base), 0);
	/* Advertising Set Terminated goes to the owner only. */
	{
		uint8_t ev[5] = { 0x3c, 0x00, 0, 0, 1 };

		tctl_le_event(tc, HCI_LE_EV_ADV_SET_TERMINATED, ev, 5);
		tctl_pump(tc);
	}
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_SET_TERMINATED), 1);
	ck_assert_uint_eq(host_count(&c, HCI_EV_LE_META, HCI_LE_EV_ADV_SET_TERMINATED), 0);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_SET_TERMINATED), 0);
	/* The owner resets: its sets leave the air (disabled, cleared). */
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_RESET, NULL, 0, NULL), 0);
	tctl_pump(tc);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_ENABLE, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_CLEAR_ADV_SETS, base), 1);
	/* Then the other admin (with no virtual set left) may take them. */
	ck_assert_int_eq(host_set_params(&c, 2, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_ADV_PARAMS, base), 1);
	env_down(hs, 3);
}
END_TEST

/* A controller without the extended scan commands: they are not offered. */
static void prep_no_ext_scan(struct tctl *t)
{
	t->cmds_off[37] = 0x60;
}

START_TEST(extended_scan_hidden_without_physical_support)
{
	static const uint8_t prm[8] = { 0, 0, 0x01, 0x01, 0x12, 0x00, 0x12, 0x00 };
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ret[256];
	unsigned base;

	tctl_prep = prep_no_ext_scan;
	env_up(8, 8, 4);
	host_start(&a, "carol");
	host_init(&a);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[1 + 37] & 0x60, 0);
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL),
			 HCI_ST_UNKNOWN_COMMAND);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_SCAN_PARAMS, base), 0);
	env_down(hs, 1);
}
END_TEST

/* LE Set Extended Scan Parameters/Enable from a host, as Linux 6.1 sends them. */
static void host_ext_scan(struct host *h, bool on, uint8_t dup, uint8_t phys,
			  uint8_t filter)
{
	uint8_t prm[13] = { 0x00, filter, phys };
	uint8_t en[6] = { on, dup, 0, 0, 0, 0 };
	unsigned n = 3;

	if (phys & 0x01) {
		prm[n] = 0x01;
		put_le16(prm + n + 1, 0x12);
		put_le16(prm + n + 3, 0x12);
		n += 5;
	}
	if (phys & 0x04) {
		prm[n] = 0x00;
		put_le16(prm + n + 1, 0x36);
		put_le16(prm + n + 3, 0x24);
		n += 5;
	}
	if (on)
		ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, n, NULL), 0);
	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6, NULL), 0);
}

/* Linux's LE mask with use_ext_scan: + Extended Advertising Report. */
static void host_ext_mask(struct host *h)
{
	static const uint8_t lemask[8] = { 0x1f, 0x1a };

	ck_assert_int_eq(host_cmd(h, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
}

/* How many Extended Advertising Reports h got from device last. */
static unsigned host_ext_from(const struct host *h, uint8_t last)
{
	struct bdaddr a;
	unsigned i, n = 0;

	tbdaddr(&a, last);
	for (i = 0; i < h->nrx; i++)
		if (is_evt(h->rx[i], HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT) &&
		    h->rx[i]->len >= 29 && memcmp(h->rx[i]->d + 8, a.b, 6) == 0)
			n++;
	return n;
}

START_TEST(ext_scan_shared_filtered_per_session)
{
	static const uint8_t ad[3] = { 2, 0x01, 0x06 };
	struct host a, b, c;
	struct host *hs[] = { &a, &b, &c };
	struct bdaddr rd;
	unsigned base, i, k;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_start(&c, "carol");
	host_init(&a);
	host_init(&b);
	host_init(&c);
	host_ext_mask(&a);
	host_ext_mask(&c);
	base = tc->ncmds;
	/* bob scans legacy: the physical scan is legacy. */
	host_le_scan(&b, true, 0);
	ck_assert(tc->le_scan && !tc->le_scan_ext);
	/* alice scans extended (1M, duplicates filtered): it turns extended. */
	host_ext_scan(&a, true, 1, 0x01, 0);
	ck_assert(tc->le_scan && tc->le_scan_ext);
	ck_assert_uint_eq(tc->le_escan[2], 0x01);
	/* carol adds LE Coded: stopped, reprogrammed with both PHYs, restarted. */
	host_ext_scan(&c, true, 0, 0x05, 0);
	ck_assert(tc->le_scan && tc->le_scan_ext);
	ck_assert_uint_eq(tc->le_escan_len, 13);
	ck_assert_uint_eq(tc->le_escan[2], 0x05);
	ck_assert_uint_eq(tc->le_escan[3], 0x01);	/* 1M active: alice's */
	ck_assert_uint_eq(get_le16(tc->le_escan + 4), 0x12);
	ck_assert_uint_eq(tc->le_escan[8], 0x00);	/* Coded passive: carol's */
	ck_assert_uint_eq(get_le16(tc->le_escan + 9), 0x36);
	ck_assert_uint_eq(get_le16(tc->le_escan + 11), 0x24);
	ck_assert_uint_eq(tc->violations, 0);
	for (k = 0; k < 2; k++) {
		for (i = 1; i <= 4; i++) {
			tbdaddr(&rd, (uint8_t)i);
			/* A legacy ADV_IND, an extended-only PDU, one on LE Coded. */
			tctl_ext_adv_report(tc, &rd, 0, 0x13, 0x01, 0xff, ad, 3);
			tctl_ext_adv_report(tc, &rd, 0, 0x01, 0x01, 0x02, ad, 3);
			tctl_ext_adv_report(tc, &rd, 0, 0x00, 0x03, 0x04, ad, 3);
		}
	}
	tctl_pump(tc);
	/* alice (1, 2; 1M; duplicates filtered): legacy and extended-only once each. */
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT), 4);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 0);
	ck_assert_uint_eq(host_ext_from(&a, 1), 2);
	ck_assert_uint_eq(host_ext_from(&a, 3), 0);
	/* bob (2, 3; legacy): only the legacy PDUs, as legacy reports, twice. */
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT), 0);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), 4);
	ck_assert(!host_saw_addr(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 1));
	ck_assert(!host_saw_addr(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, 4));
	/* carol (1-4, 1M and Coded, no duplicate filter): all 24. */
	ck_assert_uint_eq(host_count(&c, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT), 24);
	/* The legacy ones reached bob with their legacy type and data intact. */
	{
		uint8_t ev[64];

		ck_assert_int_eq(host_take(&b, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, ev), 15);
		ck_assert_uint_eq(ev[2], 0x00);		/* ADV_IND */
		ck_assert_uint_eq(ev[10], 3);
		ck_assert_mem_eq(ev + 11, ad, 3);
		ck_assert_uint_eq(ev[14], 0xc0);	/* RSSI */
	}
	/* A legacy physical report reaches the extended scanners converted. */
	host_reset_rx(&a);
	host_ext_scan(&c, false, 0, 0, 0);
	host_ext_scan(&a, false, 0, 0, 0);
	ck_assert(tc->le_scan && !tc->le_scan_ext);	/* bob's legacy again */
	ck_assert_uint_eq(tc->violations, 0);
	host_ext_scan(&a, true, 0, 0x01, 0);
	ck_assert(tc->le_scan && tc->le_scan_ext);
	tbdaddr(&rd, 2);
	tctl_adv_report(tc, &rd, 0, 0);
	tctl_pump(tc);
	ck_assert_uint_eq(host_ext_from(&a, 2), 1);
	host_ext_scan(&a, false, 0, 0, 0);
	host_le_scan(&b, false, 0);
	ck_assert(!tc->le_scan);
	ck_assert_uint_gt(tctl_count(tc, HCI_OP_LE_SET_EXT_SCAN_ENABLE, base), 0);
	env_down(hs, 3);
}
END_TEST

/* The Data_Status (bits 5-6) of the i-th report h holds. */
static int host_ext_status(const struct host *h, unsigned nth)
{
	unsigned i, n = 0;

	for (i = 0; i < h->nrx; i++) {
		if (!is_evt(h->rx[i], HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT))
			continue;
		if (n++ == nth)
			return (h->rx[i]->d[5] >> 5) & 0x03;
	}
	return -1;
}

START_TEST(ext_report_fragments_whole_or_dropped)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr d1, d2;
	uint8_t data[229];
	unsigned i;

	memset(data, 0x42, sizeof(data));
	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_ext_mask(&a);
	host_ext_mask(&b);
	host_ext_scan(&a, true, 0, 0x01, 0);
	host_ext_scan(&b, true, 0, 0x01, 0);
	tbdaddr(&d1, 1);
	tbdaddr(&d2, 2);
	/* Two fragments of device 1's data: nothing until the last. */
	tctl_ext_adv_report(tc, &d1, 0, 0x20, 0x01, 0x01, data, 229);
	tctl_pump(tc);
	ck_assert_uint_eq(a.nrx, 0);
	/* Another advertiser's complete report is not held back. */
	tctl_ext_adv_report(tc, &d2, 0, 0x00, 0x01, 0x01, data, 10);
	tctl_pump(tc);
	ck_assert_uint_eq(host_ext_from(&a, 2), 1);
	ck_assert_uint_eq(host_ext_from(&b, 2), 1);
	host_reset_rx(&a);
	host_reset_rx(&b);
	tctl_ext_adv_report(tc, &d1, 0, 0x00, 0x01, 0x01, data, 100);
	tctl_pump(tc);
	/* alice may see device 1: both fragments, in order; bob none. */
	ck_assert_uint_eq(host_ext_from(&a, 1), 2);
	ck_assert_int_eq(host_ext_status(&a, 0), 0x01);
	ck_assert_int_eq(host_ext_status(&a, 1), 0x00);
	ck_assert_uint_eq(b.nrx, 0);
	host_reset_rx(&a);
	/* A truncated chain is dropped whole. */
	tctl_ext_adv_report(tc, &d2, 0, 0x20, 0x01, 0x03, data, 200);
	tctl_ext_adv_report(tc, &d2, 0, 0x40, 0x01, 0x03, data, 50);
	tctl_pump(tc);
	ck_assert_uint_eq(a.nrx, 0);
	ck_assert_uint_eq(b.nrx, 0);
	/* A chain over the bound (8 fragments) is dropped whole. */
	for (i = 0; i < 9; i++)
		tctl_ext_adv_report(tc, &d2, 0, 0x20, 0x01, 0x04, data, 20);
	tctl_ext_adv_report(tc, &d2, 0, 0x00, 0x01, 0x04, data, 20);
	tctl_pump(tc);
	ck_assert_uint_eq(a.nrx, 0);
	ck_assert_uint_eq(b.nrx, 0);
	/* Nine chains at once: the oldest is evicted, its tail never passes. */
	for (i = 0; i < 9; i++)
		tctl_ext_adv_report(tc, &d2, 0, 0x20, 0x01, (uint8_t)(0x05 + i), data, 20);
	tctl_ext_adv_report(tc, &d2, 0, 0x20, 0x01, 0x05, data, 20);
	tctl_ext_adv_report(tc, &d2, 0, 0x00, 0x01, 0x05, data, 20);
	tctl_pump(tc);
	ck_assert_uint_eq(a.nrx, 0);
	ck_assert_uint_eq(b.nrx, 0);
	/* The others complete whole: two fragments each to both. */
	for (i = 1; i < 9; i++)
		tctl_ext_adv_report(tc, &d2, 0, 0x00, 0x01, (uint8_t)(0x05 + i), data, 20);
	tctl_pump(tc);
	ck_assert_uint_eq(host_ext_from(&a, 2), 16);
	ck_assert_uint_eq(host_ext_from(&b, 2), 16);
	/* The evicted chain's advertiser is served again with its next one. */
	host_reset_rx(&a);
	tctl_ext_adv_report(tc, &d2, 0, 0x00, 0x01, 0x05, data, 20);
	tctl_pump(tc);
	ck_assert_uint_eq(host_ext_from(&a, 2), 1);
	/*
	 * alice's queue refuses the second fragment: she gets the first and
	 * then the chain's end, "truncated" with no data, never a dangling
	 * "more to come"; bob gets the chain whole.
	 */
	host_reset_rx(&a);
	host_reset_rx(&b);
	a.refuse_in = 2;
	tctl_ext_adv_report(tc, &d2, 0, 0x20, 0x01, 0x0e, data, 200);
	tctl_ext_adv_report(tc, &d2, 0, 0x00, 0x01, 0x0e, data, 30);
	tctl_pump(tc);
	ck_assert_uint_eq(host_ext_from(&a, 2), 2);
	ck_assert_int_eq(host_ext_status(&a, 0), 0x01);
	ck_assert_int_eq(host_ext_status(&a, 1), 0x02);
	ck_assert_uint_eq(a.rx[a.nrx - 1]->d[3 + 1 + 1 + 23], 0);	/* no data */
	ck_assert_uint_eq(host_ext_from(&b, 2), 2);
	ck_assert_int_eq(host_ext_status(&b, 1), 0x00);
	/* A chain cut by the end of the physical scan does not continue in the next. */
	host_reset_rx(&a);
	tctl_ext_adv_report(tc, &d1, 0, 0x20, 0x01, 0x0f, data, 200);
	tctl_pump(tc);
	host_ext_scan(&a, false, 0, 0, 0);
	host_ext_scan(&b, false, 0, 0, 0);
	ck_assert(!tc->le_scan);
	host_ext_scan(&a, true, 0, 0x01, 0);
	host_ext_scan(&b, true, 0, 0x01, 0);
	tctl_ext_adv_report(tc, &d1, 0, 0x00, 0x01, 0x0f, data, 10);
	tctl_pump(tc);
	ck_assert_uint_eq(host_ext_from(&a, 1), 1);
	ck_assert_int_eq(host_ext_status(&a, 0), 0x00);
	host_ext_scan(&a, false, 0, 0, 0);
	host_ext_scan(&b, false, 0, 0, 0);
	env_down(hs, 2);
}
END_TEST

START_TEST(ext_scan_parameters_checked_kinds_not_mixed)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t prm[13] = { 0x00, 0x00, 0x01, 0x01, 0x12, 0x00, 0x12, 0x00 };
	uint8_t en[6] = { 1, 0, 0, 0, 0, 0 };
	static const uint8_t legacy_en[2] = { 0, 0 };
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_init(&a);
	base = tc->ncmds;
	/* Wrong length for the PHYs named (7.8.64): Invalid Parameters. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 13, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	/* LE 2M is no scanning PHY; no PHY at all is invalid. */
	prm[2] = 0x02;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL),
			 HCI_ST_UNSUPPORTED_FEATURE);
	prm[2] = 0x00;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 3, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	prm[2] = 0x01;
	/* Filter policies 2/3 need a feature not offered; own type 2 needs privacy. */
	prm[1] = 0x02;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL),
			 HCI_ST_UNSUPPORTED_FEATURE);
	prm[1] = 0x00;
	prm[0] = 0x02;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	prm[0] = 0x00;
	/* Window longer than the interval. */
	put_le16(prm + 6, 0x20);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	put_le16(prm + 6, 0x12);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL), 0);
	/* A scan that ends by itself is not offered: Duration, Period. */
	put_le16(en + 2, 100);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6, NULL),
			 HCI_ST_UNSUPPORTED_FEATURE);
	put_le16(en + 2, 0);
	en[1] = 3;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	en[1] = 2;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6, NULL), 0);
	ck_assert(tc->le_scan && tc->le_scan_ext);
	/* Parameters while enabled; the legacy commands after extended ones. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 8, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_SCAN_ENABLE, legacy_en, 2, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	/* Nothing of it reached the controller but the mux's own merged scan. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_EXT_SCAN_PARAMS, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_SCAN_ENABLE, base), 0);
	/* Reset forgets the kind: legacy is accepted again, the scan is gone. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_RESET, NULL, 0, NULL), 0);
	ck_assert(!tc->le_scan);
	host_le_scan(&a, true, 0);
	ck_assert(tc->le_scan && !tc->le_scan_ext);
	host_le_scan(&a, false, 0);
	ck_assert_uint_eq(tc->violations, 0);
	env_down(hs, 1);
}
END_TEST

/* LE Set PHY, Read PHY, Set Data Length and their events: the link's owner only. */
START_TEST(phy_and_data_length_owner_only)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	static const uint8_t lemask[8] = { 0x7f, 0x18 };	/* + DLE, PHY update */
	uint8_t p[25], ev[32], ret[16], sphy[7] = { 0 }, dl[6] = { 0 };
	uint16_t h, ph;
	unsigned base;
	bool is_cs;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	le_create_params(p, 0, 2, 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take(&a, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, ev), 19);
	h = get_le16(ev + 2);		/* the session's handle */
	ph = (uint16_t)(tc->next_handle - 1);	/* the controller's */
	base = tc->ncmds;
	/* bob names alice's link: Unknown Connection Identifier, nothing sent. */
	put_le16(sphy, h);
	sphy[2] = 0;
	sphy[3] = 0x02;
	sphy[4] = 0x02;
	host_send(&b, HCI_OP_LE_SET_PHY, sphy, 7);
	tctl_pump(tc);
	ck_assert_int_eq(host_done(&b, HCI_OP_LE_SET_PHY, NULL, &is_cs), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert(is_cs);
	put_le16(dl, h);
	put_le16(dl + 2, 251);
	put_le16(dl + 4, 2120);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_SET_DATA_LEN, dl, 6, ret), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(get_le16(ret + 1), h);	/* the handle echoed (7.8.33) */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_READ_PHY, dl, 2, NULL), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_PHY, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_DATA_LEN, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_READ_PHY, base), 0);
	/* alice's own are forwarded. */
	host_send(&a, HCI_OP_LE_SET_PHY, sphy, 7);
	tctl_pump(tc);
	ck_assert_int_eq(host_done(&a, HCI_OP_LE_SET_PHY, NULL, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_SET_DATA_LEN, dl, 6, NULL), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_PHY, base), 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_DATA_LEN, base), 1);
	/* PHY Update Complete (7.7.65.12) and Data Length Change (7.7.65.7). */
	memset(ev, 0, sizeof(ev));
	put_le16(ev + 1, ph);
	ev[3] = 0x02;
	ev[4] = 0x02;
	tctl_le_event(tc, HCI_LE_EV_PHY_UPDATE_COMPLETE, ev, 5);
	memset(ev, 0, sizeof(ev));
	put_le16(ev, ph);
	put_le16(ev + 2, 251);
	tctl_le_event(tc, HCI_LE_EV_DATA_LEN_CHANGE, ev, 10);
	tctl_pump(tc);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_PHY_UPDATE_COMPLETE), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_LE_META, HCI_LE_EV_DATA_LEN_CHANGE), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_PHY_UPDATE_COMPLETE), 0);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_DATA_LEN_CHANGE), 0);
	/* Default PHY and suggested data length: per session, never sent. */
	sphy[0] = 0;
	sphy[1] = 0x03;
	sphy[2] = 0x03;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_SET_DEFAULT_PHY, sphy, 3, NULL), 0);
	put_le16(dl, 0xfb);
	put_le16(dl + 2, 0x0848);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_WRITE_DEF_DATA_LEN, dl, 4, NULL), 0);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_READ_DEF_DATA_LEN, NULL, 0, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 1), 0xfb);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_READ_DEF_DATA_LEN, NULL, 0, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 1), 27);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_SET_DEFAULT_PHY, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_LE_WRITE_DEF_DATA_LEN, base), 0);
	env_down(hs, 2);
}
END_TEST

/* BlueZ 5.66's btvirt: no bit for Write LE Host Supported (octet 24 bit 6). */
static void prep_no_le_host_bit(struct tctl *t)
{
	t->cmds_off[24] = 0x60;
}

/* A controller that really lacks it: its bit clear, the command unknown. */
static void prep_no_le_host_cmd(struct tctl *t)
{
	t->cmds_off[24] = 0x60;
	t->unknown_op = HCI_OP_WRITE_LE_HOST_SUPPORTED;
}

/*
 * Linux writes LE Host Supported to every dual-mode controller and fails
 * power-on if refused: the virtual controller answers it alone, so it is
 * offered whatever the physical bitmap says; the mux still tries it
 * physically, and a controller refusing it does not fail the init.
 */
START_TEST(le_host_supported_despite_physical_bitmap)
{
	static const uint8_t le_host[2] = { 1, 0 };
	static const uint8_t page1 = 1;
	struct host a;
	struct host *hs[] = { &a };
	uint8_t ret[256];
	unsigned pass;

	for (pass = 0; pass < 2; pass++) {
		tctl_prep = pass ? prep_no_le_host_cmd : prep_no_le_host_bit;
		env_up(8, 8, 4);
		ck_assert_uint_eq(tctl_count(tc, HCI_OP_WRITE_LE_HOST_SUPPORTED, 0), 1);
		host_start(&a, "alice");
		ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret), 0);
		ck_assert(ret[1 + 24] & 0x40);	/* Write LE Host Supported */
		ck_assert(ret[1 + 24] & 0x20);	/* Read LE Host Supported */
		ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_LE_HOST_SUPPORTED, le_host, 2, NULL), 0);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LE_HOST_SUPPORTED, NULL, 0, ret), 0);
		ck_assert_uint_eq(ret[1], 1);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_EXT_FEATURES, &page1, 1, ret), 0);
		ck_assert_uint_eq(ret[3] & 0x02, 0x02);
		/* Nothing of the session's write reached the controller. */
		ck_assert_uint_eq(tctl_count(tc, HCI_OP_WRITE_LE_HOST_SUPPORTED, 0), 1);
		env_down(hs, 1);
	}
}
END_TEST

START_TEST(unknown_and_malformed_refused)
{
	struct host a;
	struct host *hs[] = { &a };
	bool is_cs;
	unsigned base;
	uint8_t bad[8] = { 0x01, 0x06, 0x04, 0x05, 0x40, 0x00 };	/* plen 5, 2 present */
	uint8_t evt[4] = { 0x04, 0x0e, 0x01, 0x00 };
	uint8_t unk[4] = { 0x09, 0x00 };

	env_up(8, 8, 4);
	host_start(&a, "alice");
	base = tc->ncmds;
	host_send(&a, 0x0c31, "\x01", 1);	/* host flow control: not supported */
	ck_assert_int_eq(host_done(&a, 0x0c31, NULL, &is_cs), HCI_ST_UNKNOWN_COMMAND);
	ck_assert(is_cs);
	host_send(&a, 0x2060, NULL, 0);	/* LE Read Buffer Size v2: not offered */
	ck_assert_int_eq(host_done(&a, 0x2060, NULL, NULL), HCI_ST_UNKNOWN_COMMAND);
	ck_assert_int_eq(mux_session_input(a.s, bad, 6), -EBADMSG);
	ck_assert_int_eq(mux_session_input(a.s, evt, 4), -EPROTO);
	ck_assert_int_eq(mux_session_input(a.s, unk, 2), -EBADMSG);
	ck_assert_int_eq(mux_session_input(a.s, unk, 0), -EBADMSG);
	/* A known command with a wrong parameter length. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_DISCONNECT, "\x40\x00", 2, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_LOCAL_NAME, "x", 1, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	ck_assert_uint_eq(tc->ncmds, base);
	ck_assert_uint_eq(a.nrx, 0);
	env_down(hs, 1);
}
END_TEST

static unsigned log_lines;

static void count_log(int prio, const char *line, void *user)
{
	if (strstr(line, "foreign handle"))
		log_lines++;
}

START_TEST(refusal_logs_rate_limited)
{
	struct host a;
	struct host *hs[] = { &a };
	uint8_t acl[16];
	unsigned i;
	int n;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	log_lines = 0;
	log_set_handler(count_log, NULL);
	n = h4_build_acl(acl, sizeof(acl), 0x0123, HCI_PB_FIRST_FLUSH, 0, "x", 1);
	for (i = 0; i < 5000; i++)
		ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)n), 0);
	/* 16 lines, then one per 1024: a flood cannot flood the log. */
	ck_assert_uint_eq(log_lines, 16 + 4);
	ck_assert_uint_eq(tc->acl_rx, 0);
	env_down(hs, 1);
}
END_TEST

START_TEST(virtual_settings_per_session)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint8_t name[248] = "alice-laptop", ret[256];
	static const uint8_t cls[3] = { 0x0c, 0x01, 0x1a };
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	base = tc->ncmds;
	ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_LOCAL_NAME, name, 248, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_CLASS_OF_DEV, cls, 3, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_NAME, NULL, 0, ret), 0);
	ck_assert_str_eq((char *)ret + 1, "alice-laptop");
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_LOCAL_NAME, NULL, 0, ret), 0);
	ck_assert_str_eq((char *)ret + 1, "bgw-phys");
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_CLASS_OF_DEV, NULL, 0, ret), 0);
	ck_assert_uint_eq(ret[2], 0x01);
	ck_assert_uint_eq(ret[1], 0x00);
	/* Write Current IAC LAP is variable: GIAC and LIAC, read back as written. */
	{
		static const uint8_t iac[7] = { 2, 0x33, 0x8b, 0x9e, 0x00, 0x8b, 0x9e };

		ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_CURRENT_IAC_LAP, iac, 7, NULL), 0);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_CURRENT_IAC_LAP, NULL, 0, ret), 0);
		ck_assert_mem_eq(ret + 1, iac, 7);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_WRITE_CURRENT_IAC_LAP, iac, 5, NULL),
				 HCI_ST_INVALID_PARAMETERS);
	}
	/* Nothing reached the radio for a non-admin. */
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_WRITE_LOCAL_NAME, base), 0);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_WRITE_CLASS_OF_DEV, base), 0);
	/* Reset restores alice's defaults only. */
	ck_assert_int_eq(host_cmd(&a, HCI_OP_RESET, NULL, 0, NULL), 0);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_READ_LOCAL_NAME, NULL, 0, ret), 0);
	ck_assert_str_eq((char *)ret + 1, "bgw-phys");
	env_down(hs, 2);
}
END_TEST

START_TEST(policy_change_disconnects_and_ends)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	unsigned base;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	host_connect(&a, 1);
	host_connect(&b, 3);
	base = tc->ncmds;
	revoke_alice = true;
	mux_policy_changed(mx);
	tctl_pump(tc);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 1);
	ck_assert_uint_eq(host_count(&a, HCI_EV_DISCONN_COMPLETE, -1), 1);
	ck_assert(!mux_session_is_dead(a.s));
	remove_bob = true;
	mux_policy_changed(mx);
	tctl_pump(tc);
	ck_assert(mux_session_is_dead(b.s));
	ck_assert_uint_eq(dead_calls, 1);
	ck_assert_uint_eq(tctl_count(tc, HCI_OP_DISCONNECT, base), 2);
	env_down(hs, 2);
}
END_TEST

START_TEST(remote_name_to_requester_only)
{
	struct host a, b;
	struct host *hs[] = { &a, &b };
	struct bdaddr rd;
	uint8_t p[10] = { 0 };

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	tbdaddr(&rd, 2);	/* both may see it; only alice asks */
	memcpy(p, rd.b, 6);
	ck_assert_int_eq(host_cmd(&a, HCI_OP_REMOTE_NAME_REQ, p, 10, NULL), 0);
	ck_assert_uint_eq(host_count(&a, HCI_EV_REMOTE_NAME, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_REMOTE_NAME, -1), 0);
	env_down(hs, 2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Soak: random operations by several hosts; nothing crosses sessions. */

static uint32_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* One of the most recently created handles, whoever owns it. */
static uint16_t soak_handle(void)
{
	uint16_t back = (uint16_t)(1 + rnd() % 8);

	return (uint16_t)(tc->next_handle > 0x40 + back ? tc->next_handle - back : 0x40);
}

static unsigned soak_pkts, soak_acl;

static const char *soak_users[] = { "alice", "bob", "carol" };

static bool user_may(const char *user, const uint8_t *addr)
{
	struct bdaddr a;

	memcpy(a.b, addr, 6);
	return pol_may_access(user, &a, 0, NULL);
}

static int live_idx(const struct host *h, uint16_t vh)
{
	unsigned i;

	for (i = 0; i < h->nlive; i++)
		if (h->live[i] == vh)
			return (int)i;
	return -1;
}

/* A new link: the lowest handle this host does not have (doc "Handles"). */
static void live_add(struct host *h, uint16_t vh)
{
	uint16_t want = 1;

	while (live_idx(h, want) >= 0)
		want++;
	ck_assert_msg(vh == want, "%s got handle 0x%04x for a new link, not 0x%04x",
		      h->user, vh, want);
	ck_assert_uint_lt(h->nlive, MUX_MAX_CONNS);
	h->live[h->nlive++] = vh;
	host_own(h, vh);
}

static void live_del(struct host *h, uint16_t vh)
{
	int i = live_idx(h, vh);

	ck_assert_int_ge(i, 0);
	h->live[i] = h->live[--h->nlive];
}

static bool live_has(const struct host *h, uint16_t vh)
{
	return live_idx(h, vh) >= 0;
}

/* Host h's handle for the controller's handle ph (0: not its link). */
static uint16_t virt_of(const struct host *h, uint16_t ph)
{
	struct mux_link_info li[MUX_MAX_CONNS];
	unsigned i, n = mux_session_links(h->s, li, MUX_MAX_CONNS);

	for (i = 0; i < n; i++)
		if (li[i].handle == ph)
			return li[i].vhandle;
	return 0;
}

/*
 * What the host has read equals what the core holds for it: the same
 * handles, each mapped to a distinct link of the controller's.
 */
static void live_matches_core(const struct host *h)
{
	struct mux_link_info li[MUX_MAX_CONNS];
	unsigned i, j, n = mux_session_links(h->s, li, MUX_MAX_CONNS);

	ck_assert_msg(n == h->nlive, "%s: %u links, host knows %u", h->user, n, h->nlive);
	for (i = 0; i < n; i++) {
		ck_assert(live_has(h, li[i].vhandle));
		ck_assert_uint_ge(li[i].vhandle, 1);
		ck_assert_uint_le(li[i].vhandle, 0x0eff);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(li[i].handle, li[j].handle);
	}
}

/*
 * Check and consume everything a host received: no foreign handle, address
 * or byte; every handle one of its live links, each new link the lowest
 * handle it has free.
 */
static void soak_check(struct host *h, uint8_t tag)
{
	unsigned i;

	for (i = 0; i < h->nrx; i++) {
		const uint8_t *d = h->rx[i]->d;
		size_t len = h->rx[i]->len;

		soak_pkts++;
		if (d[0] == H4_ACL) {
			soak_acl++;
			uint16_t hd = get_le16(d + 1) & 0xfff;

			ck_assert_msg(live_has(h, hd), "%s got ACL for 0x%04x", h->user, hd);
			if (len > 5)
				ck_assert_msg(d[5] == tag, "%s got another's data", h->user);
			continue;
		}
		ck_assert_uint_eq(d[0], H4_EVT);
		switch (d[1]) {
		case HCI_EV_CONN_COMPLETE:
			/* A failure echoes the address this host asked for, handle 0. */
			if (d[3] != 0) {
				ck_assert_uint_eq(get_le16(d + 4), 0);
				break;
			}
			live_add(h, get_le16(d + 4));
			ck_assert(user_may(h->user, d + 6));
			break;
		case HCI_EV_DISCONN_COMPLETE:
		case HCI_EV_ENCRYPT_CHANGE:
			ck_assert_msg(live_has(h, get_le16(d + 4) & 0xfff),
				      "%s got event 0x%02x for 0x%04x", h->user, d[1],
				      get_le16(d + 4));
			if (d[1] == HCI_EV_DISCONN_COMPLETE && d[3] == 0)
				live_del(h, get_le16(d + 4) & 0xfff);
			break;
		case HCI_EV_NUM_COMP_PKTS: {
			unsigned k;

			for (k = 0; k < d[3]; k++)
				ck_assert(live_has(h, get_le16(d + 4 + 4 * k) & 0xfff));
			break;
		}
		case HCI_EV_CMD_COMPLETE:
			/* Reset ends every link of its virtual controller (7.3.2). */
			if (get_le16(d + 4) == HCI_OP_RESET && d[6] == 0)
				h->nlive = 0;
			if (get_le16(d + 4) == HCI_OP_READ_RSSI && d[6] == 0)
				ck_assert(live_has(h, get_le16(d + 7)));
			break;
		case HCI_EV_EXT_INQUIRY_RESULT:
			ck_assert(user_may(h->user, d + 4));
			break;
		case HCI_EV_REMOTE_NAME:
			if (d[3] != 0)
				break;
			ck_assert(user_may(h->user, d + 4));
			break;
		case HCI_EV_LE_META:
			if (d[3] == HCI_LE_EV_ADV_REPORT)
				ck_assert(user_may(h->user, d + 7));
			if (d[3] == HCI_LE_EV_CONN_COMPLETE && d[4] == 0) {
				live_add(h, get_le16(d + 5));
				ck_assert(user_may(h->user, d + 9));
			} else if (d[3] == HCI_LE_EV_CONN_COMPLETE) {
				ck_assert_uint_eq(get_le16(d + 5), 0);
			}
			break;
		default:
			break;
		}
	}
	host_reset_rx(h);
	live_matches_core(h);
}

START_TEST(soak_no_cross_session_leak)
{
	struct host hv[3];
	struct host *hs[] = { &hv[0], &hv[1], &hv[2] };
	uint32_t seed = 0x5eed1234u;
	unsigned op, i, al_links = 0;

	if (getenv("MUX_SOAK_SEED"))
		seed = (uint32_t)strtoul(getenv("MUX_SOAK_SEED"), NULL, 0);
	printf("# soak seed 0x%08x\n", seed);
	rnd_state = seed;
	env_up(8, 8, 3);
	for (i = 0; i < 3; i++) {
		host_start(&hv[i], soak_users[i]);
		host_init(&hv[i]);
		host_connectable(&hv[i]);
	}
	for (op = 0; op < 4000; op++) {
		struct host *h = &hv[rnd() % 3];
		uint8_t tag = (uint8_t)(h - hv) + 0xa0;
		struct bdaddr rd;
		uint8_t p[32] = { 0 };
		uint8_t b[64];
		int n;

		tbdaddr(&rd, (uint8_t)(1 + rnd() % 4));
		switch (rnd() % 14) {
		case 0:
			memcpy(p, rd.b, 6);
			host_send(h, HCI_OP_CREATE_CONN, p, 13);
			break;
		case 1:
			if (h->nlive) {
				put_le16(p, h->live[rnd() % h->nlive]);
				p[2] = HCI_ST_REMOTE_USER_TERM;
				host_send(h, HCI_OP_DISCONNECT, p, 3);
			}
			break;
		case 2:	/* any handle at all: foreign ones must be refused */
			put_le16(p, rnd() % 2 ? soak_handle() : (uint16_t)(1 + rnd() % 4));
			host_send(h, HCI_OP_READ_RSSI, p, 2);
			break;
		case 3:	/* its own links, a handle it lacks, another's physical one */
			n = h4_build_acl(b, sizeof(b), rnd() % 2 ? soak_handle() :
					 (uint16_t)(1 + rnd() % 4),
					 HCI_PB_FIRST_FLUSH, 0, &tag, 1);
			mux_session_input(h->s, b, (size_t)n);
			break;
		case 4:
			host_send(h, HCI_OP_INQUIRY, "\x33\x8b\x9e\x04\x00", 5);
			break;
		case 5:
			tctl_inquiry_result(tc, &rd);
			break;
		case 6:
			tctl_adv_report(tc, &rd, 0, (uint8_t)(rnd() % 4));
			break;
		case 7: {
			/* controller data and events on a random live handle */
			uint16_t back = (uint16_t)(1 + rnd() % 8);
			uint16_t hd = (uint16_t)(tc->next_handle > 0x40 + back ?
						 tc->next_handle - back : 0x40);
			struct host *o = NULL;
			unsigned k;

			for (k = 0; k < 3; k++)
				if (virt_of(&hv[k], hd))
					o = &hv[k];
			if (o) {
				uint8_t t2 = (uint8_t)(o - hv) + 0xa0;

				tctl_acl(tc, hd, &t2, 1);
			}
			tctl_nocp(tc, hd, 1);
			p[0] = 0;
			put_le16(p + 1, hd);
			p[3] = 1;
			tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, p, 4);
			break;
		}
		case 8:
			if (rnd() % 8 == 0) {
				/* Reset, then the event mask again, as Linux does. */
				static const uint8_t evm[8] = { 0xff, 0xff, 0xfb, 0xff,
								0x07, 0xf8, 0xbf, 0x3d };

				host_send(h, HCI_OP_RESET, NULL, 0);
				host_send(h, HCI_OP_SET_EVENT_MASK, evm, 8);
			} else
				host_send(h, HCI_OP_LE_SET_SCAN_ENABLE,
					  rnd() % 2 ? "\x01\x01" : "\x00\x00", 2);
			break;
		case 9:
			memcpy(p, rd.b, 6);
			host_send(h, HCI_OP_REMOTE_NAME_REQ, p, 10);
			break;
		case 10:
			tctl_conn_request(tc, &rd);
			break;
		case 11:
			tctl_inquiry_complete(tc);
			host_send(h, HCI_OP_INQUIRY_CANCEL, NULL, 0);
			break;
		case 12:	/* LE: accept list, connect over it, cancel, direct */
			switch (rnd() % 4) {
			case 0:
				memcpy(p + 1, rd.b, 6);
				host_send(h, HCI_OP_LE_ADD_TO_ACCEPT_LIST, p, 7);
				break;
			case 1:
			case 3: {
				uint8_t cp[25];

				le_create_params(cp, rnd() % 4 == 3 ? 0 : 1,
						 (uint8_t)(1 + rnd() % 4), 0);
				host_send(h, HCI_OP_LE_CREATE_CONN, cp, 25);
				break;
			}
			case 2:
				host_send(h, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0);
				break;
			}
			break;
		case 13:	/* a device of the physical accept list advertises */
			if (tc->le_connecting && tc->le_al_init && tctl_al_has(tc, 0, &rd) &&
			    tctl_le_al_connect(tc, 0, &rd))
				al_links++;
			break;
		}
		tctl_pump(tc);
		/* Hosts answer what they are asked, as Linux would. */
		for (i = 0; i < 3; i++) {
			uint8_t ev[16];

			while (host_take(&hv[i], HCI_EV_CONN_REQUEST, -1, ev) == 10) {
				ev[6] = 0x01;
				host_send(&hv[i], HCI_OP_ACCEPT_CONN_REQ, ev, 7);
				tctl_pump(tc);
			}
		}
		for (i = 0; i < 3; i++) {
			soak_check(&hv[i], (uint8_t)(0xa0 + i));
		}
		ck_assert_uint_eq(tc->violations, 0);
	}
	printf("# soak: %u packets to hosts checked (%u ACL), %u+%u+%u links made, "
	       "%u over the accept list\n",
	       soak_pkts, soak_acl, hv[0].nh, hv[1].nh, hv[2].nh, al_links);
	ck_assert_uint_gt(soak_acl, 0);
	ck_assert_uint_gt(al_links, 0);
	env_down(hs, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Each session its own handle space (doc: "Handles") */

#define TRANSCRIPT_MAX (64 * 1024)

static void transcript_add(const struct host *h, uint8_t *out, size_t *n)
{
	unsigned i;

	for (i = 0; i < h->nrx; i++) {
		ck_assert_uint_le(*n + 2 + h->rx[i]->len, TRANSCRIPT_MAX);
		put_le16(out + *n, (uint16_t)h->rx[i]->len);
		memcpy(out + *n + 2, h->rx[i]->d, h->rx[i]->len);
		*n += 2 + h->rx[i]->len;
	}
}

/*
 * Everything bob's host receives through one session of his (commands,
 * events about his links from the controller, data both ways), while
 * alice holds alice_links links (0 to 3: BR/EDR to 1 and 2, LE to 1).
 * Returns the transcript's length.
 */
static size_t bob_transcript(unsigned alice_links, uint8_t *out)
{
	static const uint8_t lemask[8] = { 0xff, 0x08 };	/* + data length, PHY */
	struct host a, b;
	struct host *hs[] = { &a, &b };
	uint16_t ab = 0, al = 0, hb, hl, pb, pl;
	uint8_t p[32], ret[16], acl[16];
	unsigned sco_in;
	size_t n = 0;
	int k;

	env_up(8, 8, 4);
	host_start(&a, "alice");
	host_start(&b, "bob");
	host_init(&a);
	host_init(&b);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	if (alice_links >= 1)
		ab = host_connect(&a, 1);
	if (alice_links >= 2)
		host_connect(&a, 2);
	if (alice_links >= 3) {
		le_create_params(p, 0, 1, 0);
		ck_assert_int_eq(host_cmd(&a, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
		ck_assert_int_eq(host_take_le_conn(&a, NULL, &al), 0);
	}
	ck_assert_uint_eq(tc->next_handle, 0x40 + alice_links);
	transcript_add(&b, out, &n);
	host_reset_rx(&b);

	/* His first link is 0x0001 whatever alice holds. */
	hb = host_connect(&b, 3);
	ck_assert_uint_eq(hb, 1);
	pb = phys(&b, hb);
	ck_assert_uint_eq(pb, 0x40 + alice_links);
	put_le16(p, hb);
	/* Command Complete return parameters carry his handle. */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_RSSI, p, 2, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 1), hb);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_LINK_QUALITY, p, 2, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 1), hb);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	/* Command Status, then the completion event about his link. */
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_REMOTE_VERSION, p, 2, NULL), 0);
	ck_assert_int_eq(host_take(&b, HCI_EV_REMOTE_VERSION, -1, ret), 8);
	ck_assert_uint_eq(get_le16(ret + 1), hb);
	/* Events the controller sends about it. */
	p[0] = 0;
	put_le16(p + 1, pb);
	p[3] = 1;
	tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, p, 4);
	put_le16(p + 1, pb);
	tctl_event(tc, HCI_EV_AUTH_COMPLETE, p, 3);
	tctl_pump(tc);
	/* Data out on his handle reaches the controller on the link's. */
	k = h4_build_acl(acl, sizeof(acl), hb, HCI_PB_FIRST_FLUSH, 0, "out", 3);
	ck_assert_int_eq(mux_session_input(b.s, acl, (size_t)k), 0);
	ck_assert_uint_eq(tc->acl_rx_handle[tc->acl_rx - 1], pb);
	if (ab) {
		k = h4_build_acl(acl, sizeof(acl), ab, HCI_PB_FIRST_FLUSH, 0, "a", 1);
		ck_assert_int_eq(mux_session_input(a.s, acl, (size_t)k), 0);
	}
	/* One NOCP naming alice's links and his: he sees only his, as his. */
	{
		uint8_t np[1 + 4 * 4] = { 0 };

		if (ab) {
			put_le16(np + 1 + 4 * np[0], phys(&a, ab));
			put_le16(np + 3 + 4 * np[0]++, 1);
		}
		put_le16(np + 1 + 4 * np[0], pb);
		put_le16(np + 3 + 4 * np[0]++, 1);
		if (al) {
			put_le16(np + 1 + 4 * np[0], phys(&a, al));
			put_le16(np + 3 + 4 * np[0]++, 0);
		}
		tctl_event(tc, HCI_EV_NUM_COMP_PKTS, np, 1 + 4u * np[0]);
	}
	tctl_acl(tc, pb, "in", 2);
	tctl_pump(tc);

	/* An eSCO link on his ACL link (7.7.35): 0x0002, SCO headers too. */
	{
		uint8_t sc[17] = { 0 }, sco[16];
		struct bdaddr rd;
		uint16_t hs2, ps;

		tbdaddr(&rd, 3);
		ps = tc->next_handle++;
		put_le16(sc + 1, ps);
		memcpy(sc + 3, rd.b, 6);
		sc[9] = 0x02;
		tctl_event(tc, HCI_EV_SYNC_CONN_COMPLETE, sc, 17);
		tctl_sco(tc, ps, "voice", 5);
		tctl_pump(tc);
		ck_assert_int_eq(host_take(&b, HCI_EV_SYNC_CONN_COMPLETE, -1, sc), 17);
		hs2 = get_le16(sc + 1);
		ck_assert_uint_eq(hs2, 2);
		ck_assert_uint_eq(phys(&b, hs2), ps);
		k = h4_build_sco(sco, sizeof(sco), hs2, 0, "out", 3);
		ck_assert_int_eq(mux_session_input(b.s, sco, (size_t)k), 0);
		ck_assert_uint_eq(tc->sco_rx_last_handle, ps);
		sc[0] = 0;
		put_le16(sc + 1, ps);
		sc[3] = HCI_ST_REMOTE_USER_TERM;
		tctl_event(tc, HCI_EV_DISCONN_COMPLETE, sc, 4);
		tctl_pump(tc);
	}

	/* LE: his second link is 0x0002 again, in events and LE commands alike. */
	le_create_params(p, 0, 2, 0);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(host_take_le_conn(&b, NULL, &hl), 0);
	ck_assert_uint_eq(hl, 2);
	pl = phys(&b, hl);
	put_le16(p, hl);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_LE_READ_PHY, p, 2, ret), 0);
	ck_assert_uint_eq(get_le16(ret + 1), hl);
	memset(p, 0, sizeof(p));
	put_le16(p, pl);
	tctl_le_event(tc, HCI_LE_EV_DATA_LEN_CHANGE, p, 10);
	tctl_le_event(tc, HCI_LE_EV_LTK_REQUEST, p, 12);
	p[0] = 0;
	put_le16(p + 1, pl);
	tctl_le_event(tc, HCI_LE_EV_CONN_UPDATE_COMPLETE, p, 9);
	tctl_le_event(tc, HCI_LE_EV_PHY_UPDATE_COMPLETE, p, 5);
	tctl_pump(tc);
	/* His Disconnect of 0x0001, then the device ends the LE link. */
	put_le16(p, hb);
	p[2] = HCI_ST_REMOTE_USER_TERM;
	ck_assert_int_eq(host_cmd(&b, HCI_OP_DISCONNECT, p, 3, NULL), 0);
	p[0] = 0;
	put_le16(p + 1, pl);
	p[3] = HCI_ST_REMOTE_USER_TERM;
	tctl_event(tc, HCI_EV_DISCONN_COMPLETE, p, 4);
	tctl_pump(tc);
	/* A handle he does not have is unknown, as on a controller. */
	put_le16(p, 3);
	ck_assert_int_eq(host_cmd(&b, HCI_OP_READ_RSSI, p, 2, ret), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(get_le16(ret + 1), 3);
	/* Everything he was told, the answers included. */
	ck_assert_uint_eq(host_count(&b, HCI_EV_DISCONN_COMPLETE, -1), 3);
	ck_assert_uint_eq(host_count(&b, HCI_EV_SYNC_CONN_COMPLETE, -1), 0);
	for (k = 0, sco_in = 0; k < (int)b.nrx; k++) {
		if (b.rx[k]->d[0] != H4_SCO)
			continue;
		ck_assert_uint_eq(get_le16(b.rx[k]->d + 1) & 0x0fff, 2);
		sco_in++;
	}
	ck_assert_uint_eq(sco_in, 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_NUM_COMP_PKTS, -1), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_DATA_LEN_CHANGE), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST), 1);
	ck_assert_uint_eq(host_count(&b, HCI_EV_LE_META, HCI_LE_EV_PHY_UPDATE_COMPLETE), 1);
	transcript_add(&b, out, &n);
	env_down(hs, 2);
	return n;
}

/*
 * Two sessions, alice with 0 to 3 links, bob with his own: nothing bob
 * receives (events, NOCP, ACL, command completes, buffer sizes) changes
 * with the number of links alice holds; his first link is 0x0001.
 */
START_TEST(handles_own_space_blind_to_others_links)
{
	uint8_t *t0 = malloc(TRANSCRIPT_MAX), *tn = malloc(TRANSCRIPT_MAX);
	size_t n0, nn;
	unsigned links;

	ck_assert_ptr_nonnull(t0);
	ck_assert_ptr_nonnull(tn);
	n0 = bob_transcript(0, t0);
	ck_assert_uint_gt(n0, 0);
	for (links = 1; links <= 3; links++) {
		nn = bob_transcript(links, tn);
		ck_assert_uint_eq(nn, n0);
		ck_assert_msg(memcmp(t0, tn, n0) == 0,
			      "bob's view changed with alice holding %u links", links);
	}
	free(t0);
	free(tn);
}
END_TEST

/*
 * Random links up and down across 4 sessions (created by their hosts,
 * ended by their hosts, by the devices, or by a virtual Reset), with data
 * and events on them from both sides. After every step each session's
 * handles are what it was told, each new link got the lowest handle it
 * had free (so {1..n} while nothing ends), and no packet it received named
 * a handle not mapped for it (soak_check); the core's mapping agrees.
 */
START_TEST(handles_compact_random_four_sessions)
{
	static const char *users[4] = { "alice", "bob", "carol", "carol" };
	struct host hv[4];
	struct host *hs[] = { &hv[0], &hv[1], &hv[2], &hv[3] };
	uint32_t seed = 0x4a4d5031u;
	unsigned step, i, made = 0, reused = 0, maxlive = 0, downs = 0;

	if (getenv("MUX_SOAK_SEED"))
		seed = (uint32_t)strtoul(getenv("MUX_SOAK_SEED"), NULL, 0);
	printf("# handles seed 0x%08x\n", seed);
	rnd_state = seed;
	env_up(8, 8, 4);
	for (i = 0; i < 4; i++) {
		host_start(&hv[i], users[i]);
		host_init(&hv[i]);
	}
	for (step = 0; step < 3000; step++) {
		struct host *h = &hv[rnd() % 4];
		uint8_t tag = (uint8_t)(h - hv) + 0xa0;
		uint8_t p[32] = { 0 }, b[16];
		struct bdaddr rd;
		uint16_t vh = h->nlive ? h->live[rnd() % h->nlive] : 1;
		unsigned before = h->nlive;
		int n;

		tbdaddr(&rd, (uint8_t)(1 + rnd() % 4));
		switch (rnd() % 8) {
		case 0:
			memcpy(p, rd.b, 6);
			host_send(h, HCI_OP_CREATE_CONN, p, 13);
			break;
		case 1:
			le_create_params(p, 0, rd.b[0], 0);
			host_send(h, HCI_OP_LE_CREATE_CONN, p, 25);
			break;
		case 2:
			put_le16(p, vh);
			p[2] = HCI_ST_REMOTE_USER_TERM;
			host_send(h, HCI_OP_DISCONNECT, p, 3);
			break;
		case 3:	/* the device ends it */
			if (!h->nlive)
				break;
			p[0] = 0;
			put_le16(p + 1, phys(h, vh));
			p[3] = HCI_ST_REMOTE_USER_TERM;
			tctl_event(tc, HCI_EV_DISCONN_COMPLETE, p, 4);
			break;
		case 4:	/* data and events from the controller */
			if (!h->nlive)
				break;
			tctl_acl(tc, phys(h, vh), &tag, 1);
			p[0] = 0;
			put_le16(p + 1, phys(h, vh));
			p[3] = 1;
			tctl_event(tc, HCI_EV_ENCRYPT_CHANGE, p, 4);
			break;
		case 5:	/* data from the host, its NOCP */
			n = h4_build_acl(b, sizeof(b), (uint16_t)(rnd() % 2 ? vh : 1 + rnd() % 8),
					 HCI_PB_FIRST_FLUSH, 0, &tag, 1);
			mux_session_input(h->s, b, (size_t)n);
			if (h->nlive)
				tctl_nocp(tc, phys(h, vh), 1);
			break;
		case 6:
			put_le16(p, (uint16_t)(rnd() % 2 ? vh : 1 + rnd() % 8));
			host_send(h, HCI_OP_READ_RSSI, p, 2);
			break;
		case 7:
			if (rnd() % 16 == 0) {
				static const uint8_t evm[8] = { 0xff, 0xff, 0xfb, 0xff,
								0x07, 0xf8, 0xbf, 0x3d };

				host_send(h, HCI_OP_RESET, NULL, 0);
				host_send(h, HCI_OP_SET_EVENT_MASK, evm, 8);
			} else if (rnd() % 16 == 0) {
				/* The transport lost: every link ends, in each space. */
				mux_ctrl_down(mx);
				mux_ctrl_up(mx);
				downs++;
			}
			break;
		}
		tctl_pump(tc);
		for (i = 0; i < 4; i++) {
			struct host *c = &hv[i];
			unsigned k, top = 0, was = c->nlive;

			for (k = 0; k < c->nlive; k++)
				top = c->live[k] > top ? c->live[k] : top;
			soak_check(c, (uint8_t)(0xa0 + i));
			if (c->nlive > was)
				made += c->nlive - was;
			/* A new link below the highest it holds: a freed one, reused. */
			for (k = 0; k < c->nlive; k++)
				if (c == h && c->nlive > before && c->live[k] < top &&
				    c->live[k] == c->live[c->nlive - 1])
					reused++;
			maxlive = c->nlive > maxlive ? c->nlive : maxlive;
		}
		ck_assert_uint_eq(tc->violations, 0);
	}
	printf("# handles: %u links made, %u reused a freed handle, at most %u at once, "
	       "%u transport losses\n", made, reused, maxlive, downs);
	ck_assert_uint_gt(made, 100);
	ck_assert_uint_gt(downs, 0);
	ck_assert_uint_gt(reused, 0);
	ck_assert_uint_ge(maxlive, 3);
	env_down(hs, 4);
}
END_TEST

/*
 * Garbage from every side: well-framed packets with random content from
 * three hosts and from the controller (including stray completions and
 * Hardware Errors, which make the mux re-initialise). Nothing may crash
 * (the sanitizer builds run this), and nothing a non-admin may not send
 * reaches the controller.
 */
START_TEST(garbage_from_hosts_and_controller)
{
	struct host hv[3];
	struct host *hs[] = { &hv[0], &hv[1], &hv[2] };
	uint32_t seed = 0x6a7b61u;
	unsigned op, i, base;

	if (getenv("MUX_GARBAGE_SEED"))
		seed = (uint32_t)strtoul(getenv("MUX_GARBAGE_SEED"), NULL, 0);
	printf("# garbage seed 0x%08x\n", seed);
	rnd_state = seed;
	env_up(8, 8, 3);
	for (i = 0; i < 3; i++) {
		host_start(&hv[i], soak_users[i]);
		host_init(&hv[i]);
	}
	base = tc->ncmds;
	for (op = 0; op < 20000; op++) {
		uint8_t b[300], p[260];
		unsigned plen = rnd() % 256, k;
		int n = 0;

		for (k = 0; k < plen; k++)
			p[k] = (uint8_t)rnd();
		switch (rnd() % 4) {
		case 0: {
			/* A command: a known opcode half the time. */
			static const uint16_t ops[] = {
				HCI_OP_DISCONNECT, HCI_OP_CREATE_CONN, HCI_OP_INQUIRY,
				HCI_OP_LE_SET_SCAN_ENABLE, HCI_OP_LINK_KEY_REPLY,
				HCI_OP_WRITE_CURRENT_IAC_LAP, HCI_OP_SET_EVENT_FILTER,
				HCI_OP_READ_LOCAL_EXT_FEATURES, HCI_OP_LE_CREATE_CONN,
				HCI_OP_LE_ADD_TO_ACCEPT_LIST, HCI_OP_RESET, 0xfc00,
			};
			uint16_t opc = rnd() % 2 ? ops[rnd() % 12] : (uint16_t)rnd();

			if (rnd() % 2)
				plen %= 32;
			n = h4_build_cmd(b, sizeof(b), opc, p, plen);
			mux_session_input(hv[rnd() % 3].s, b, (size_t)n);
			break;
		}
		case 1:
			n = h4_build_acl(b, sizeof(b), (uint16_t)(rnd() & 0x0fff),
					 HCI_PB_FIRST_FLUSH, 0, p, plen % 64);
			mux_session_input(hv[rnd() % 3].s, b, (size_t)n);
			break;
		case 2:
			/* An event from the controller, with a valid code half the time. */
			n = h4_build_evt(b, sizeof(b), rnd() % 2 ? (uint8_t)(rnd() % 0x40) : (uint8_t)rnd(),
					 p, plen % 256);
			mux_ctrl_input(mx, b, (size_t)n);
			break;
		case 3:
			/* Raw bytes with a random type. */
			mux_session_input(hv[rnd() % 3].s, p, plen % 16);
			mux_ctrl_input(mx, p, plen % 16);
			break;
		}
		tctl_pump(tc);
		for (i = 0; i < 3; i++)
			host_reset_rx(&hv[i]);
	}
	for (i = base; i < tc->ncmds; i++) {
		ck_assert_uint_ne(HCI_OGF(tc->cmds[i]), HCI_OGF_VENDOR);
		ck_assert_uint_ne(tc->cmds[i], HCI_OP_DELETE_STORED_LINK_KEY);
		ck_assert_msg(mux_cmd_find_for_test(tc->cmds[i]), "0x%04x forwarded", tc->cmds[i]);
	}
	tc->violations = 0;
	env_down(hs, 3);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("mux_core");
	TCase *tc_core = tcase_create("rules");
	TCase *tc_soak = tcase_create("soak");

	tcase_add_test(tc_core, init_sequence_each_session);
	tcase_add_test(tc_core, init_waits_for_controller);
	tcase_add_test(tc_core, same_opcode_never_twice_and_completion_to_sender);
	tcase_add_test(tc_core, fair_round_robin);
	tcase_add_test(tc_core, shared_inquiry_acl_filtered);
	tcase_add_test(tc_core, inquiry_join_replays_results);
	tcase_add_test(tc_core, inquiry_result_format_per_session);
	tcase_add_test(tc_core, acl_filters_all_result_formats);
	tcase_add_test(tc_core, inquiry_cancel_only_when_nobody_needs_it);
	tcase_add_test(tc_core, inquiry_join_gets_its_own_length);
	tcase_add_test(tc_core, inquiry_joiner_shorter_ends_on_its_own);
	tcase_add_test(tc_core, forbidden_connect_refused_not_forwarded);
	tcase_add_test(tc_core, le_random_address_programmed_for_its_connection);
	tcase_add_test(tc_core, handle_isolation_events_data_nocp);
	tcase_add_test(tc_core, handles_own_space_blind_to_others_links);
	tcase_add_test(tc_core, le_accept_list_connect_union_and_route);
	tcase_add_test(tc_core, le_accept_list_cancel_only_own_part);
	tcase_add_test(tc_core, le_accept_list_yields_to_direct_connect);
	tcase_add_test(tc_core, le_accept_list_joiner_served_without_reissue);
	tcase_add_test(tc_core, le_accept_list_waits_for_departed_direct);
	tcase_add_test(tc_core, rpa_resolved_only_with_irk_seen_from_the_device);
	tcase_add_test(tc_core, rpa_resolved_with_the_authdb_irk);
	tcase_add_test(tc_core, le_bond_kept_under_the_identity_the_device_gives);
	tcase_add_test(tc_core, internal_acl_fragments_between_the_owners_pdus);
	tcase_add_test(tc_core, le_stand_in_only_where_the_gateway_is_central);
	tcase_add_test(tc_core, le_device_as_central_household_key);
	tcase_add_test(tc_core, le_device_as_central_sc_household_key);
	tcase_add_test(tc_core, le_host_key_replaced_when_the_gateway_is_central);
	tcase_add_test(tc_core, internal_acl_held_link_blocks_only_itself);
	tcase_add_test(tc_core, host_smp_in_fragments_never_past_the_mux);
	tcase_add_test(tc_core, sc_takeover_ends_at_the_smp_timeout);
	tcase_add_test(tc_core, sc_device_header_split_across_fragments);
	tcase_add_test(tc_core, adv_verdict_once_per_advertiser_and_user);
	tcase_add_test(tc_core, sixty_four_sessions_cap_and_nocp_split);
	tcase_add_test(tc_core, foreign_handle_commands_rejected);
	tcase_add_test(tc_core, bdaddr_events_to_owner_keys_private);
	tcase_add_test(tc_core, incoming_connection_filtered_and_owned);
	tcase_add_test(tc_core, keys_never_in_logs);
	tcase_add_test(tc_core, reset_isolation);
	tcase_add_test(tc_core, event_masks_per_session_union);
	tcase_add_test(tc_core, le_scan_shared_filtered_dup_per_session);
	tcase_add_test(tc_core, buffer_fairness_stalled_session);
	tcase_add_test(tc_core, stalled_session_ended_after_cap);
	tcase_add_test(tc_core, reports_dropped_under_backpressure_not_session);
	tcase_add_test(tc_core, undeliverable_data_ends_session);
	tcase_add_test(tc_core, acl_beyond_share_gets_buffer_overflow);
	tcase_add_test(tc_core, queued_acl_credits_back_on_disconnect);
	tcase_add_loop_test(tc_core, credits_follow_links, 0,
			    sizeof(linked_cases) / sizeof(linked_cases[0]));
	tcase_add_test(tc_core, session_teardown_disconnects);
	tcase_add_test(tc_core, internal_command_for_a_gone_link_dropped);
	tcase_add_test(tc_core, release_links_keeps_virtual_state);
	tcase_add_test(tc_core, transport_loss_and_recovery);
	tcase_add_test(tc_core, controller_hardware_error_reinit);
	tcase_add_test(tc_core, controller_silent_is_failed);
	tcase_add_test(tc_core, down_answers_queued_commands);
	tcase_add_test(tc_core, privileged_commands_admin_only);
	tcase_add_test(tc_core, unknown_and_malformed_refused);
	tcase_add_test(tc_core, le_host_supported_despite_physical_bitmap);
	tcase_add_test(tc_core, extended_scan_sets_and_conn_offered_consistently);
	tcase_add_test(tc_core, ext_create_conn_hidden_without_physical_support);
	tcase_add_test(tc_core, ext_create_conn_parameters_checked);
	tcase_add_test(tc_core, ext_create_conn_forbidden_device_refused);
	tcase_add_test(tc_core, ext_create_conn_routed_enhanced_complete_translated);
	tcase_add_test(tc_core, ext_create_conn_one_initiator_and_cancel);
	tcase_add_test(tc_core, ext_create_conn_accept_list_merged_with_legacy);
	tcase_add_test(tc_core, ext_create_conn_joiner_gets_an_extended_initiation);
	tcase_add_test(tc_core, ext_adv_sets_all_or_none);
	tcase_add_test(tc_core, ext_adv_sets_per_session_admin_owns_physical);
	tcase_add_test(tc_core, extended_scan_hidden_without_physical_support);
	tcase_add_test(tc_core, ext_scan_shared_filtered_per_session);
	tcase_add_test(tc_core, ext_report_fragments_whole_or_dropped);
	tcase_add_test(tc_core, ext_scan_parameters_checked_kinds_not_mixed);
	tcase_add_test(tc_core, phy_and_data_length_owner_only);
	tcase_add_test(tc_core, virtual_settings_per_session);
	tcase_add_test(tc_core, refusal_logs_rate_limited);
	tcase_add_test(tc_core, policy_change_disconnects_and_ends);
	tcase_add_test(tc_core, remote_name_to_requester_only);
	tcase_add_test(tc_core, bond_first_pairing_kept_host_gets_its_own_key);
	tcase_add_test(tc_core, bond_link_key_request_answered_for_every_user);
	tcase_add_test(tc_core, bond_repairing_refused);
	tcase_add_test(tc_core, bond_not_for_a_revoked_user);
	tcase_add_test(tc_core, bond_debug_or_unkept_key_passes_through);
	tcase_add_test(tc_core, bond_keys_never_in_logs);
	tcase_add_test(tc_soak, soak_no_cross_session_leak);
	tcase_add_test(tc_soak, handles_compact_random_four_sessions);
	tcase_add_test(tc_soak, garbage_from_hosts_and_controller);
	tcase_set_timeout(tc_soak, 120);
	suite_add_tcase(s, tc_core);
	suite_add_tcase(s, tc_soak);
	return s;
}
