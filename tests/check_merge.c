/* SPDX-License-Identifier: MIT */
/*
 * The merge core (merge/, doc/seamless.md) over two simulated houses in
 * process: "near" (tests/cafe.house: a speaker, a heart-rate strap and a
 * lamp that has the home bulb's address) is the laptop's own radio, index
 * 0; "home" (the default house) is the gateway, index 1 (later a tunnel to
 * bgw-muxd; the merge does not care). The host is tests/hostdrv, driven
 * with the Linux 6.1 initialisation sequence. One case per rule of the
 * doc, named as it names them. Waits are bounded by hostdrv's timeout;
 * nothing asserts on time.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "hostdrv.h"
#include "log.h"
#include "loop.h"
#include "merge.h"
#include "sim.h"

#define NEAR 0
#define HOME 1

/* Near: 20:CA:FE:00:00:xx; home: 10:B6:00:00:00:xx. */
#define CAFE_SPEAKER	0x01
#define CAFE_STRAP	0x02
#define HOME_THERMO	0x02
#define HOME_BULB	0x03	/* also in the café, as the lamp */
#define HOME_SPEAKER	0x04

#define NEAR_MTU	1021
#define NEAR_PKTS	4
#define HOME_MTU	64	/* smaller than the host's: the merge cuts */
#define HOME_PKTS	6

static struct loop *lp;
static struct sim_air *air[2];
static struct sim_ctrl *sc[2];
static struct merge *mg;
static struct hostdrv *hd;

/* What each controller was sent: opcodes, and the last ACL handle. */
#define OPLOG 512
static uint16_t oplog[2][OPLOG];
static unsigned opn[2];
static uint16_t last_acl_real[2];
static unsigned acl_sent[2];

static const uint8_t near_addr[6] = { 0x01, 0xfe, 0xca, 0x7d, 0x1a, 0x00 };
static const uint8_t home_addr[6] = { 0x99, 0x00, 0x00, 0x7d, 0x1a, 0x00 };

static void addr_of(uint8_t out[6], int side, uint8_t last)
{
	static const uint8_t cafe[6] = { 0x00, 0x00, 0x00, 0xfe, 0xca, 0x20 };
	static const uint8_t home[6] = { 0x00, 0x00, 0x00, 0x00, 0xb6, 0x10 };

	memcpy(out, side == NEAR ? cafe : home, 6);
	out[0] = last;
}

static unsigned sent_count(int side, uint16_t op)
{
	unsigned i, n = 0;

	for (i = 0; i < opn[side] && i < OPLOG; i++)
		if (oplog[side][i] == op)
			n++;
	return n;
}

static void sent_clear(void)
{
	opn[0] = opn[1] = 0;
	acl_sent[0] = acl_sent[1] = 0;
}

/* While hold is set, the controllers' packets wait here (a slow link). */
#define HELD_MAX	16
static bool hold;
static struct held { int side; size_t len; uint8_t b[300]; } held[HELD_MAX];
static unsigned nheld;

static void emit_side(int side, const uint8_t *h4, size_t len)
{
	if (hold) {
		ck_assert_uint_lt(nheld, HELD_MAX);
		ck_assert_uint_le(len, sizeof(held[0].b));
		held[nheld].side = side;
		held[nheld].len = len;
		memcpy(held[nheld].b, h4, len);
		nheld++;
		return;
	}
	merge_ctrl_input(mg, (unsigned)side, h4, len);
}

static void release_held(void)
{
	unsigned i;

	hold = false;
	for (i = 0; i < nheld; i++)
		merge_ctrl_input(mg, (unsigned)held[i].side, held[i].b, held[i].len);
	nheld = 0;
}

static void emit_near(const uint8_t *h4, size_t len, void *user)
{
	emit_side(NEAR, h4, len);
}

static void emit_home(const uint8_t *h4, size_t len, void *user)
{
	emit_side(HOME, h4, len);
}

static int send_ctrl(const uint8_t *h4, size_t len, void *user)
{
	int side = (int)(intptr_t)user;

	if (!sc[side])
		return -EPIPE;
	if (len >= 4 && h4[0] == H4_CMD && opn[side] < OPLOG)
		oplog[side][opn[side]++] = get_le16(h4 + 1);
	if (len >= 5 && h4[0] == H4_ACL) {
		last_acl_real[side] = get_le16(h4 + 1) & 0x0fff;
		acl_sent[side]++;
		ck_assert_uint_le(get_le16(h4 + 3), side == NEAR ? NEAR_MTU : HOME_MTU);
	}
	return sim_ctrl_input(sc[side], h4, len);
}

static int to_host(const uint8_t *h4, size_t len, void *user)
{
	hostdrv_sink(h4, len, user);
	return 0;
}

static int to_merge(const uint8_t *h4, size_t len, void *user)
{
	merge_host_input(user, h4, len);
	return 0;
}

static void quiet(int prio, const char *line, void *user)
{
	if (getenv("MERGE_TEST_LOG"))
		fprintf(stderr, "log: %s\n", line);
}

static void wait_ready(int side)
{
	unsigned i;

	for (i = 0; i < 5000 && !merge_ctrl_is_ready(mg, (unsigned)side); i++)
		loop_iterate(lp, 10);
	ck_assert(merge_ctrl_is_ready(mg, (unsigned)side));
}

static struct sim_house *cafe(void)
{
	const char *src = getenv("BGW_SRCDIR");
	struct sim_house *h = NULL;
	char path[4096], err[256];

	snprintf(path, sizeof(path), "%s/tests/cafe.house", src ? src : MERGE_SRCDIR);
	ck_assert_msg(sim_house_load(path, &h, err, sizeof(err)) == 0, "%s", err);
	return h;
}

static void sim_up(int side)
{
	struct bdaddr a;

	memcpy(a.b, side == NEAR ? near_addr : home_addr, 6);
	sc[side] = sim_ctrl_new(air[side], &a, side == NEAR ? emit_near : emit_home, NULL);
	ck_assert_ptr_nonnull(sc[side]);
}

static void sim_down(int side)
{
	sim_ctrl_free(sc[side]);
	sc[side] = NULL;
}

static void env_up(void)
{
	struct sim_opts on = { .time_scale = 0.01, .seed = 3, .acl_mtu = NEAR_MTU,
			       .acl_pkts = NEAR_PKTS };
	struct sim_opts oh = { .time_scale = 0.01, .seed = 7, .acl_mtu = HOME_MTU,
			       .acl_pkts = HOME_PKTS };
	/* Periodic inquiry's unit (1.28 s) on the simulated controllers' time. */
	struct merge_config cfg = { .inquiry_unit_us = 12800 };

	log_set_handler(quiet, NULL);
	sent_clear();
	lp = loop_new();
	ck_assert_ptr_nonnull(lp);
	air[NEAR] = sim_air_new(lp, cafe(), &on);
	air[HOME] = sim_air_new(lp, sim_house_default(), &oh);
	ck_assert_ptr_nonnull(air[NEAR]);
	ck_assert_ptr_nonnull(air[HOME]);
	hd = hostdrv_new(lp);
	ck_assert_ptr_nonnull(hd);
	hostdrv_set_timeout(hd, 10000);
	mg = merge_new(lp, &cfg, to_host, hd);
	ck_assert_ptr_nonnull(mg);
	hostdrv_set_sender(hd, to_merge, mg);
	ck_assert_int_eq(merge_add_ctrl(mg, MERGE_LOCAL, send_ctrl, (void *)(intptr_t)NEAR), 0);
	ck_assert_int_eq(merge_add_ctrl(mg, MERGE_GATEWAY, send_ctrl, (void *)(intptr_t)HOME), 1);
	sim_up(NEAR);
	sim_up(HOME);
	merge_ctrl_up(mg, NEAR);
	merge_ctrl_up(mg, HOME);
	wait_ready(NEAR);
	wait_ready(HOME);
}

static void env_down(void)
{
	merge_free(mg);
	mg = NULL;
	hostdrv_free(hd);
	sim_down(NEAR);
	sim_down(HOME);
	sim_air_free(air[NEAR]);
	sim_air_free(air[HOME]);
	loop_free(lp);
	log_set_handler(NULL, NULL);
}

static int cmd(uint16_t op, const void *p, size_t plen, uint8_t *ret, size_t *rlen)
{
	uint8_t b[300];
	size_t n = 0;
	int r = hostdrv_cmd_sync(hd, op, p, plen, b, sizeof(b), &n);

	if (ret && r >= 0)
		memcpy(ret, b, n);
	if (rlen)
		*rlen = n;
	return r;
}

#define OK(op, p, plen) ck_assert_int_eq(cmd(op, p, plen, NULL, NULL), 0)

static bool bit(const uint8_t *mask, unsigned octet, unsigned b)
{
	return mask[octet] & (1u << b);
}

/*
 * The Linux 6.1 initialisation (shared notes, §1.2, stages 1 to 4, then
 * the power-on update), each command gated as the kernel gates it and
 * each required to succeed, as the kernel requires.
 */
static uint8_t host_cmds[64], host_feat[8], host_lefeat[8];

static void linux_init(void)
{
	static const uint8_t evmask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	static const uint8_t lemask[8] = { 0x1f, 0x00 };
	uint8_t ret[300], p[248];
	size_t n;
	unsigned page, max_page = 1;

	/* Stage 1 */
	OK(HCI_OP_RESET, NULL, 0);
	ck_assert_int_eq(cmd(HCI_OP_READ_LOCAL_FEATURES, NULL, 0, ret, &n), 0);
	memcpy(host_feat, ret + 1, 8);
	OK(HCI_OP_READ_LOCAL_VERSION, NULL, 0);
	OK(HCI_OP_READ_BD_ADDR, NULL, 0);
	/* Stage 2 */
	ck_assert_int_eq(cmd(HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, ret, &n), 0);
	ck_assert_uint_eq(n, 65);
	memcpy(host_cmds, ret + 1, 64);
	if (host_feat[6] & 0x08) {	/* SSP: Write EIR, all zero (first init) */
		memset(p, 0, sizeof(p));
		OK(HCI_OP_WRITE_EXT_INQUIRY_RESPONSE, p, 241);
	}
	if (host_feat[3] & 0x40) {
		p[0] = (host_feat[6] & 0x01) ? 0x02 : 0x01;
		OK(HCI_OP_WRITE_INQUIRY_MODE, p, 1);
	}
	if (host_feat[7] & 0x02)
		OK(HCI_OP_READ_INQ_RSP_TX_POWER, NULL, 0);
	if (host_feat[7] & 0x80) {
		p[0] = 1;
		ck_assert_int_eq(cmd(HCI_OP_READ_LOCAL_EXT_FEATURES, p, 1, ret, &n), 0);
		max_page = ret[2];
	}
	ck_assert_int_eq(cmd(HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret, &n), 0);
	ck_assert_uint_ge(get_le16(ret + 1), 1);
	ck_assert_uint_ge(get_le16(ret + 4), 1);
	OK(HCI_OP_READ_CLASS_OF_DEV, NULL, 0);
	OK(HCI_OP_READ_LOCAL_NAME, NULL, 0);
	OK(HCI_OP_READ_VOICE_SETTING, NULL, 0);
	OK(HCI_OP_READ_NUM_SUPPORTED_IAC, NULL, 0);
	OK(HCI_OP_READ_CURRENT_IAC_LAP, NULL, 0);
	put_le16(p, 0x7d00);
	OK(HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT, p, 2);
	ck_assert(host_feat[4] & 0x40);	/* both houses' controllers do LE */
	ck_assert_int_eq(cmd(HCI_OP_LE_READ_LOCAL_FEATURES, NULL, 0, ret, &n), 0);
	memcpy(host_lefeat, ret + 1, 8);
	ck_assert_int_eq(cmd(HCI_OP_LE_READ_BUFFER_SIZE, NULL, 0, ret, &n), 0);
	ck_assert(get_le16(ret + 1) == 0 || get_le16(ret + 1) >= 27);
	OK(HCI_OP_LE_READ_SUPPORTED_STATES, NULL, 0);
	/* Stage 3 */
	OK(HCI_OP_SET_EVENT_MASK, evmask, 8);
	if (bit(host_cmds, 6, 5)) {
		memset(p, 0, 7);
		p[6] = 1;
		OK(HCI_OP_READ_STORED_LINK_KEY, p, 7);
	}
	if (bit(host_cmds, 5, 4)) {
		/* hci_setup_link_policy_sync: what the LMP features allow. */
		put_le16(p, (uint16_t)(((host_feat[0] & 0x20) ? 0x01 : 0) |
				       ((host_feat[0] & 0x40) ? 0x02 : 0) |
				       ((host_feat[0] & 0x80) ? 0x04 : 0) |
				       ((host_feat[1] & 0x01) ? 0x08 : 0)));
		OK(HCI_OP_WRITE_DEF_LINK_POLICY, p, 2);
	}
	if (bit(host_cmds, 8, 0))
		OK(HCI_OP_READ_PAGE_SCAN_ACTIVITY, NULL, 0);
	if (bit(host_cmds, 13, 0))
		OK(HCI_OP_READ_PAGE_SCAN_TYPE, NULL, 0);
	for (page = 2; page <= max_page && page < 3; page++) {
		p[0] = (uint8_t)page;
		OK(HCI_OP_READ_LOCAL_EXT_FEATURES, p, 1);
	}
	OK(HCI_OP_LE_SET_EVENT_MASK, lemask, 8);
	if (bit(host_cmds, 25, 6) && !(host_lefeat[1] & 0x10))
		OK(HCI_OP_LE_READ_ADV_TX_POWER, NULL, 0);
	if (bit(host_cmds, 26, 6))
		OK(HCI_OP_LE_READ_ACCEPT_LIST_SIZE, NULL, 0);
	if (bit(host_cmds, 26, 7))
		OK(HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0);
	if (host_lefeat[0] & 0x20) {
		OK(HCI_OP_LE_READ_MAX_DATA_LEN, NULL, 0);
		OK(HCI_OP_LE_READ_DEF_DATA_LEN, NULL, 0);
	}
	p[0] = 1;
	p[1] = 0;
	OK(HCI_OP_WRITE_LE_HOST_SUPPORTED, p, 2);
	/* Stage 4 */
	if (bit(host_cmds, 6, 7)) {
		memset(p, 0, 7);
		p[6] = 1;
		OK(HCI_OP_DELETE_STORED_LINK_KEY, p, 7);
	}
	if (bit(host_cmds, 29, 5))
		cmd(HCI_OP_READ_LOCAL_CODECS, NULL, 0, NULL, NULL);	/* errors ignored */
	if (host_lefeat[0] & 0x20) {
		put_le16(p, 251);
		put_le16(p + 2, 2120);
		OK(HCI_OP_LE_WRITE_DEF_DATA_LEN, p, 4);
	}
	if (bit(host_cmds, 35, 5)) {
		p[0] = 0;
		p[1] = 1;
		p[2] = 1;
		OK(HCI_OP_LE_SET_DEFAULT_PHY, p, 3);
	}
	/* Power-on (hci_powered_update_sync): SSP, page scan, class, name. */
	p[0] = 1;
	OK(HCI_OP_WRITE_SIMPLE_PAIRING_MODE, p, 1);
	p[0] = 0x02;
	OK(HCI_OP_WRITE_SCAN_ENABLE, p, 1);
	p[0] = 0x0c;
	p[1] = 0x01;
	p[2] = 0x1c;
	OK(HCI_OP_WRITE_CLASS_OF_DEV, p, 3);
	memset(p, 0, 248);
	memcpy(p, "alice-laptop", 12);
	OK(HCI_OP_WRITE_LOCAL_NAME, p, 248);
}

/* Discovery ---------------------------------------------------------- */

struct seen {
	unsigned count[2][8];	/* [side][last byte] */
	unsigned other;
	unsigned completes;
};

static void note(struct seen *s, const uint8_t *a)
{
	uint8_t x[6];
	int side;

	for (side = 0; side < 2; side++) {
		addr_of(x, side, a[0]);
		if (memcmp(x, a, 6) == 0 && a[0] < 8) {
			s->count[side][a[0]]++;
			return;
		}
	}
	s->other++;
}

/* Collect queued inquiry results of all three formats. */
static void collect_inq(struct seen *s)
{
	static const uint8_t codes[3] = { HCI_EV_INQUIRY_RESULT, HCI_EV_INQUIRY_RESULT_RSSI,
					  HCI_EV_EXT_INQUIRY_RESULT };
	uint8_t b[300];
	size_t n;
	unsigned k, i, j;

	for (k = 0; k < 3; k++)
		for (i = 0; i < 256 && hostdrv_has_event(hd, codes[k], 0); i++) {
			hostdrv_wait_event(hd, codes[k], 0, b, sizeof(b), &n);
			if (k == 2 && n >= 7)
				note(s, b + 1);
			for (j = 0; k < 2 && j < b[0] && 1 + (j + 1) * 14 <= n; j++)
				note(s, b + 1 + j * 14);
		}
}

static void inquire(struct seen *s)
{
	uint8_t b[8];
	size_t n;

	memset(s, 0, sizeof(*s));
	OK(HCI_OP_INQUIRY, "\x33\x8b\x9e\x04\x00", 5);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_INQUIRY_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	s->completes = 1;
	collect_inq(s);
	/* Exactly one Inquiry Complete, even a while later. */
	hostdrv_run(hd, 30);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_INQUIRY_COMPLETE, 0));
}

/* Connections -------------------------------------------------------- */

static uint16_t connect_br(int side, uint8_t last)
{
	uint8_t p[13] = { 0 }, b[64];
	size_t n;

	addr_of(p, side, last);
	p[6] = 0x18;
	p[7] = 0xcc;
	ck_assert_int_eq(cmd(HCI_OP_CREATE_CONN, p, 13, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_mem_eq(b + 3, p, 6);
	return get_le16(b + 1);
}

static void disconnect(uint16_t h)
{
	uint8_t p[3], b[16];
	size_t n;

	put_le16(p, h);
	p[2] = HCI_ST_REMOTE_USER_TERM;
	ck_assert_int_eq(cmd(HCI_OP_DISCONNECT, p, 3, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(get_le16(b + 1), h);
}

/* L2CAP echo of len bytes over handle h (Vol 3 Part A 4.8). */
static void echo(uint16_t h, size_t len)
{
	uint8_t pdu[4 + 4 + 600], b[700];
	size_t n, i;

	ck_assert_uint_le(len, 600);
	put_le16(pdu, (uint16_t)(4 + len));
	put_le16(pdu + 2, 0x0001);
	pdu[4] = 0x08;
	pdu[5] = 0x2a;
	put_le16(pdu + 6, (uint16_t)len);
	for (i = 0; i < len; i++)
		pdu[8 + i] = (uint8_t)(i * 7);
	ck_assert_int_eq(hostdrv_acl(hd, h, HCI_PB_FIRST_FLUSH, pdu, 8 + len), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(hd, h, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 8 + len);
	ck_assert_uint_eq(b[4], 0x09);	/* Echo Response */
	ck_assert_mem_eq(b + 8, pdu + 8, len);
}

/* Sum the host's completed packets for handle h until want arrive. */
static void wait_nocp(uint16_t h, unsigned want)
{
	unsigned got = 0, guard;
	uint8_t b[300];
	size_t n, i;

	for (guard = 0; guard < 64 && got < want; guard++) {
		ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_NUM_COMP_PKTS, 0, b, sizeof(b), &n),
				 0);
		ck_assert_uint_eq(n, 1 + 4u * b[0]);
		for (i = 0; i < b[0]; i++) {
			/* Only host handles, never a controller's. */
			ck_assert_uint_ge(get_le16(b + 1 + 4 * i), 0x0040);
			if (get_le16(b + 1 + 4 * i) == h)
				got += get_le16(b + 3 + 4 * i);
		}
	}
	ck_assert_uint_eq(got, want);
}

static void wait_idle_data(void)
{
	struct merge_stats st;
	unsigned i;

	for (i = 0; i < 1000; i++) {
		merge_get_stats(mg, &st);
		if (!st.host_acl_inflight && !st.ctrl_acl_inflight[0] && !st.ctrl_acl_inflight[1])
			break;
		loop_iterate(lp, 5);
	}
	ck_assert_uint_eq(st.host_acl_inflight, 0);
}

/* ------------------------------------------------------------------ */
/* Rules (doc/seamless.md) */

START_TEST(identity_from_local)
{
	uint8_t ret[300], direct_ver[16];
	size_t n;

	env_up();
	linux_init();
	ck_assert_int_eq(cmd(HCI_OP_READ_BD_ADDR, NULL, 0, ret, &n), 0);
	ck_assert_mem_eq(ret + 1, near_addr, 6);
	/* The version is the local radio's (the near sim's, read direct). */
	ck_assert_int_eq(cmd(HCI_OP_READ_LOCAL_VERSION, NULL, 0, direct_ver, &n), 0);
	ck_assert_uint_eq(n, 9);
	/* The merge's own inits (at start, at the host's Reset), then the host's two. */
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_READ_LOCAL_VERSION), 2 + 2);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_READ_LOCAL_VERSION), 2);
	/* Supported commands: masked to what the merge supports. */
	ck_assert(bit(host_cmds, 0, 0));	/* Inquiry */
	/* Periodic Inquiry and its exit: the merge's own, though the sim lacks them. */
	ck_assert(bit(host_cmds, 0, 2));
	ck_assert(bit(host_cmds, 0, 3));
	ck_assert(!bit(host_cmds, 34, 6));	/* LE Read Resolving List Size */
	ck_assert(!bit(host_cmds, 37, 5));	/* LE Set Extended Scan Parameters */
	ck_assert(!(host_lefeat[1] & 0x10));	/* no Extended Advertising */
	ck_assert(!(host_lefeat[0] & 0x40));	/* no LL Privacy */
	env_down();
}
END_TEST

START_TEST(one_buffer_pool)
{
	uint8_t ret[16];
	size_t n;
	struct seen s;
	uint16_t h;
	int i;

	env_up();
	linux_init();
	inquire(&s);
	ck_assert_int_eq(cmd(HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret, &n), 0);
	ck_assert_uint_eq(get_le16(ret + 1), NEAR_MTU);
	ck_assert_uint_eq(get_le16(ret + 4), NEAR_PKTS);
	/* To home, whose buffers are 64 bytes: each host packet is cut. */
	h = connect_br(HOME, HOME_SPEAKER);
	hostdrv_clear(hd);
	sent_clear();
	for (i = 0; i < 3; i++)
		echo(h, 300);
	/* 308 bytes in 64-byte pieces: 5 each, one credit back per host packet. */
	ck_assert_uint_eq(acl_sent[HOME], 3 * 5);
	wait_nocp(h, 3);
	wait_idle_data();
	/*
	 * Three at once: a host credit comes back only when all five
	 * pieces of its packet are done, never earlier.
	 */
	hostdrv_clear(hd);
	for (i = 0; i < 3; i++) {
		uint8_t pdu[308] = { 0x30, 0x01, 0x01, 0x00, 0x08, 0x2b, 0x2c, 0x01 };

		ck_assert_int_eq(hostdrv_acl(hd, h, HCI_PB_FIRST_FLUSH, pdu, sizeof(pdu)), 0);
	}
	for (i = 0; i < 2000; i++) {
		struct merge_stats st;

		merge_get_stats(mg, &st);
		ck_assert_uint_le(st.ctrl_acl_inflight[HOME], 5 * st.host_acl_inflight);
		if (!st.host_acl_inflight)
			break;
		loop_iterate(lp, 1);
	}
	wait_nocp(h, 3);
	env_down();
}
END_TEST

START_TEST(discovery_both_sides)
{
	struct seen s;

	env_up();
	linux_init();
	inquire(&s);
	ck_assert_uint_ge(s.count[NEAR][CAFE_SPEAKER], 1);
	ck_assert_uint_ge(s.count[HOME][HOME_SPEAKER], 1);
	ck_assert_uint_eq(s.other, 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_INQUIRY), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY), 1);
	env_down();
}
END_TEST

START_TEST(discovery_cancel_both)
{
	uint8_t b[8];
	size_t n;

	env_up();
	linux_init();
	OK(HCI_OP_INQUIRY, "\x33\x8b\x9e\x08\x00", 5);
	OK(HCI_OP_INQUIRY_CANCEL, NULL, 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_INQUIRY_CANCEL), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY_CANCEL), 1);
	/* 7.1.2: no Inquiry Complete after a cancel, from either side. */
	hostdrv_run(hd, 150);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_INQUIRY_COMPLETE, 0));
	/* Nothing runs any more: a cancel now is the local's Disallowed. */
	ck_assert_int_eq(cmd(HCI_OP_INQUIRY_CANCEL, NULL, 0, b, &n), HCI_ST_COMMAND_DISALLOWED);
	env_down();
}
END_TEST

/* Max 6, Min 4 units, GIAC, Inquiry_Length 1, unlimited responses (7.1.3). */
static const uint8_t pinq_params[9] = { 0x06, 0x00, 0x04, 0x00, 0x33, 0x8b, 0x9e, 0x01, 0x00 };

static void wait_inq_complete(uint8_t want)
{
	uint8_t b[8];
	size_t n;

	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_INQUIRY_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(b[0], want);
}

START_TEST(periodic_inquiry_both_sides)
{
	struct merge_stats st;
	struct seen s;
	unsigned k, near_inq, home_inq;
	uint8_t bad[9];

	env_up();
	linux_init();
	memset(&s, 0, sizeof(s));
	OK(HCI_OP_PERIODIC_INQUIRY, pinq_params, 9);
	/* Two periods: each side inquires in each, one Inquiry Complete per period. */
	for (k = 0; k < 2; k++) {
		wait_inq_complete(0);
		collect_inq(&s);
		ck_assert_uint_ge(sent_count(NEAR, HCI_OP_INQUIRY), k + 1);
		ck_assert_uint_ge(sent_count(HOME, HCI_OP_INQUIRY), k + 1);
	}
	/* The merge times the periods itself: no controller is given the mode. */
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_PERIODIC_INQUIRY), 0);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_PERIODIC_INQUIRY), 0);
	/* Inquiry, Inquiry Cancel and the mode again while it runs: Disallowed. */
	ck_assert_int_eq(cmd(HCI_OP_INQUIRY, "\x33\x8b\x9e\x04\x00", 5, NULL, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(cmd(HCI_OP_INQUIRY_CANCEL, NULL, 0, NULL, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	ck_assert_int_eq(cmd(HCI_OP_PERIODIC_INQUIRY, pinq_params, 9, NULL, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	OK(HCI_OP_EXIT_PERIODIC_INQUIRY, NULL, 0);
	collect_inq(&s);
	/* Results of both sides; the bulb/lamp heard on both, once per period. */
	ck_assert_uint_ge(s.count[NEAR][CAFE_SPEAKER], 1);
	ck_assert_uint_ge(s.count[HOME][HOME_SPEAKER], 1);
	ck_assert_uint_ge(s.count[HOME][HOME_BULB], 1);
	near_inq = sent_count(NEAR, HCI_OP_INQUIRY);
	home_inq = sent_count(HOME, HCI_OP_INQUIRY);
	ck_assert_uint_le(s.count[HOME][HOME_BULB], near_inq > home_inq ? near_inq : home_inq);
	ck_assert_uint_eq(s.other, 0);
	merge_get_stats(mg, &st);
	ck_assert_uint_ge(st.dropped_dups, 1);
	/* After the exit no period starts and no Inquiry Complete comes. */
	hostdrv_run(hd, 150);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_INQUIRY_COMPLETE, 0));
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_INQUIRY), near_inq);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY), home_inq);
	/* Out of the mode: its exit is Disallowed (7.1.4), a plain Inquiry works. */
	ck_assert_int_eq(cmd(HCI_OP_EXIT_PERIODIC_INQUIRY, NULL, 0, NULL, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	inquire(&s);
	ck_assert_uint_ge(s.count[HOME][HOME_SPEAKER], 1);
	/* 7.1.3: Max > Min > Inquiry_Length, else Invalid Parameters. */
	memcpy(bad, pinq_params, 9);
	bad[0] = 0x04;	/* Max == Min */
	ck_assert_int_eq(cmd(HCI_OP_PERIODIC_INQUIRY, bad, 9, NULL, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	memcpy(bad, pinq_params, 9);
	bad[7] = 0x04;	/* Inquiry_Length == Min */
	ck_assert_int_eq(cmd(HCI_OP_PERIODIC_INQUIRY, bad, 9, NULL, NULL),
			 HCI_ST_INVALID_PARAMETERS);
	env_down();
}
END_TEST

START_TEST(periodic_inquiry_exit_cancels_both)
{
	/* Inquiries of 48 units (0.6 s here): the first period runs when the host leaves. */
	static const uint8_t lng[9] = { 0x40, 0x00, 0x38, 0x00, 0x33, 0x8b, 0x9e, 0x30, 0x00 };

	env_up();
	linux_init();
	sent_clear();
	/* The first period starts at once; leaving the mode ends it on both sides. */
	OK(HCI_OP_PERIODIC_INQUIRY, lng, 9);
	OK(HCI_OP_EXIT_PERIODIC_INQUIRY, NULL, 0);
	hostdrv_run(hd, 150);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_INQUIRY), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY), 1);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_INQUIRY_CANCEL), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY_CANCEL), 1);
	/* 7.1.4: no Inquiry Complete for the period that was running. */
	ck_assert(!hostdrv_has_event(hd, HCI_EV_INQUIRY_COMPLETE, 0));
	env_down();
}
END_TEST

START_TEST(periodic_inquiry_side_refuses_or_goes)
{
	/* An inquiry of the home's own, 48 units long: its radio is busy. */
	static const uint8_t busy[] = { 0x01, 0x01, 0x04, 0x05, 0x33, 0x8b, 0x9e, 0x30, 0x01 };
	struct seen s;
	unsigned home_inq;

	env_up();
	linux_init();
	ck_assert_int_eq(sim_ctrl_input(sc[HOME], busy, sizeof(busy)), 0);
	hostdrv_run(hd, 20);
	sent_clear();
	/* The home refuses the period's Inquiry (Disallowed): the café's stands. */
	memset(&s, 0, sizeof(s));
	OK(HCI_OP_PERIODIC_INQUIRY, pinq_params, 9);
	wait_inq_complete(0);
	collect_inq(&s);
	ck_assert_uint_ge(s.count[NEAR][CAFE_SPEAKER], 1);
	ck_assert_uint_ge(sent_count(HOME, HCI_OP_INQUIRY), 1);
	/* The mode goes on; the home is asked again at the next period. */
	wait_inq_complete(0);
	ck_assert_uint_ge(sent_count(HOME, HCI_OP_INQUIRY), 2);
	/* The gateway goes away: the periods go on with the café alone. */
	merge_ctrl_down(mg, HOME);
	sim_down(HOME);
	home_inq = sent_count(HOME, HCI_OP_INQUIRY);
	wait_inq_complete(0);
	wait_inq_complete(0);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY), home_inq);
	/* Back: it joins the next period, with no host command. */
	sim_up(HOME);
	merge_ctrl_up(mg, HOME);
	wait_ready(HOME);
	hostdrv_clear(hd);
	wait_inq_complete(0);
	wait_inq_complete(0);
	ck_assert_uint_gt(sent_count(HOME, HCI_OP_INQUIRY), home_inq);
	OK(HCI_OP_EXIT_PERIODIC_INQUIRY, NULL, 0);
	env_down();
}
END_TEST

START_TEST(discovery_device_on_both_sides_once)
{
	struct seen s1, s2;
	struct merge_stats st;
	uint16_t h;
	int side;

	env_up();
	linux_init();
	inquire(&s1);
	/* The bulb/lamp has one address and both radios hear it. */
	ck_assert_uint_eq(s1.count[HOME][HOME_BULB], 1);
	merge_get_stats(mg, &st);
	ck_assert_uint_ge(st.dropped_dups, 1);
	/* It was reported by one side only, and that side keeps it. */
	h = connect_br(HOME, HOME_BULB);
	side = merge_handle_ctrl(mg, h);
	ck_assert(side == NEAR || side == HOME);
	ck_assert_uint_eq(sent_count(side, HCI_OP_CREATE_CONN), 1);
	ck_assert_uint_eq(sent_count(!side, HCI_OP_CREATE_CONN), 0);
	disconnect(h);
	inquire(&s2);
	h = connect_br(HOME, HOME_BULB);
	ck_assert_int_eq(merge_handle_ctrl(mg, h), side);	/* remembered */
	env_down();
}
END_TEST

START_TEST(le_scan_both_sides)
{
	static const uint8_t params[7] = { 0x01, 0x12, 0x00, 0x12, 0x00, 0x01, 0x00 };
	uint8_t b[300];
	size_t n;
	static const uint8_t nrpa[6] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x26 };
	unsigned i, strap = 0, thermo = 0, other = 0;

	env_up();
	linux_init();
	/* As bluetoothd's discovery: a fresh NRPA, active scan, enable. */
	OK(HCI_OP_LE_SET_RANDOM_ADDR, nrpa, 6);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_SET_RANDOM_ADDR), 1);
	OK(HCI_OP_LE_SET_SCAN_PARAM, params, 7);
	OK(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x01", 2);	/* duplicates filtered */
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_LE_SET_SCAN_ENABLE), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_SET_SCAN_ENABLE), 1);
	for (i = 0; i < 200 && !(strap && thermo); i++) {
		uint8_t a[6];

		ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT,
						    b, sizeof(b), &n), 0);
		ck_assert_uint_ge(n, 11);
		addr_of(a, NEAR, CAFE_STRAP);
		if (memcmp(b + 3, a, 6) == 0) {
			strap++;
			continue;
		}
		addr_of(a, HOME, HOME_THERMO);
		if (memcmp(b + 3, a, 6) == 0)
			thermo++;
		else
			other++;
	}
	ck_assert_uint_ge(strap, 1);
	ck_assert_uint_ge(thermo, 1);
	OK(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_SET_SCAN_ENABLE), 2);
	env_down();
}
END_TEST

START_TEST(connect_routed_by_side)
{
	struct seen s;
	uint16_t hn, hh;

	env_up();
	linux_init();
	inquire(&s);
	hn = connect_br(NEAR, CAFE_SPEAKER);
	hh = connect_br(HOME, HOME_SPEAKER);
	ck_assert_int_eq(merge_handle_ctrl(mg, hn), NEAR);
	ck_assert_int_eq(merge_handle_ctrl(mg, hh), HOME);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_CREATE_CONN), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_CREATE_CONN), 1);
	echo(hn, 40);
	echo(hh, 40);
	disconnect(hn);
	disconnect(hh);
	env_down();
}
END_TEST

START_TEST(connect_unknown_pages_every_side)
{
	uint8_t p[13] = { 0 }, b[64];
	size_t n;
	uint16_t h;

	env_up();
	linux_init();
	/* No discovery first, as when bluetoothd reconnects a bonded device. */
	h = connect_br(HOME, HOME_SPEAKER);
	ck_assert_int_eq(merge_handle_ctrl(mg, h), HOME);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_CREATE_CONN), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_CREATE_CONN), 1);
	hostdrv_run(hd, 150);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_CONN_COMPLETE, 0));
	echo(h, 30);
	/* Remembered: the next connection goes home only. */
	disconnect(h);
	sent_clear();
	h = connect_br(HOME, HOME_SPEAKER);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_CREATE_CONN), 0);
	/* A device on no side: one Connection Complete, once both gave up. */
	addr_of(p, HOME, 0x09);
	p[6] = 0x18;
	p[7] = 0xcc;
	ck_assert_int_eq(cmd(HCI_OP_CREATE_CONN, p, 13, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], HCI_ST_PAGE_TIMEOUT);
	ck_assert_mem_eq(b + 3, p, 6);
	hostdrv_run(hd, 150);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_CONN_COMPLETE, 0));
	env_down();
}
END_TEST

static void al_add(int side, uint8_t last)
{
	uint8_t p[7] = { 0 };

	addr_of(p + 1, side, last);
	OK(HCI_OP_LE_ADD_TO_ACCEPT_LIST, p, 7);
}

START_TEST(le_accept_list_first_wins)
{
	uint8_t p[25] = { 0 }, b[64];
	struct merge_stats st;
	size_t n;
	int winner;

	env_up();
	linux_init();
	al_add(NEAR, CAFE_STRAP);
	al_add(HOME, HOME_THERMO);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_ADD_TO_ACCEPT_LIST), 2);
	put_le16(p, 0x60);
	put_le16(p + 2, 0x30);
	p[4] = 0x01;	/* the accept list */
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(cmd(HCI_OP_LE_CREATE_CONN, p, 25, NULL, NULL), 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_LE_CREATE_CONN), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_CREATE_CONN), 1);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	winner = merge_handle_ctrl(mg, get_le16(b + 1));
	ck_assert(winner == NEAR || winner == HOME);
	/* The other side's initiation was cancelled; the host saw one. */
	hostdrv_run(hd, 100);
	ck_assert_uint_eq(sent_count(!winner, HCI_OP_LE_CREATE_CONN_CANCEL), 1);
	/* If it connected before the cancel landed, that link is ended quietly. */
	ck_assert_uint_le(sent_count(!winner, HCI_OP_DISCONNECT), 1);
	ck_assert_uint_eq(sent_count(winner, HCI_OP_DISCONNECT), 0);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE));
	ck_assert(!hostdrv_has_event(hd, HCI_EV_DISCONN_COMPLETE, 0));
	merge_get_stats(mg, &st);
	ck_assert_uint_eq(st.links, 1);
	/* ATT over the winner's link (the LE pool): Exchange MTU (Vol 3 Part F 3.4.2.1). */
	{
		uint16_t h = get_le16(b + 1);
		uint8_t pdu[7] = { 0x03, 0x00, 0x04, 0x00, 0x02, 0xb9, 0x00 }, r[64];

		ck_assert_int_eq(hostdrv_acl(hd, h, HCI_PB_FIRST_NOFLUSH, pdu, 7), 0);
		ck_assert_int_eq(hostdrv_wait_l2cap(hd, h, r, sizeof(r), &n), 0);
		ck_assert_uint_eq(r[4], 0x03);	/* Exchange MTU Response */
		wait_nocp(h, 1);
		wait_idle_data();
	}
	env_down();
}
END_TEST

static unsigned sent_index(int side, uint16_t op)
{
	unsigned i;

	for (i = 0; i < opn[side] && i < OPLOG; i++)
		if (oplog[side][i] == op)
			return i;
	ck_abort_msg("0x%04x was not sent to side %d", op, side);
	return 0;
}

/*
 * A gateway that comes back is given the host's accept list again (its
 * initialisation's Reset emptied it), before a passive scan that uses it
 * joins, so auto-connection finds the home's device with no host command.
 */
START_TEST(accept_list_replayed_to_returning_gateway)
{
	uint8_t p[25] = { 0 }, sp[7] = { 0 }, b[64];
	size_t n;
	uint16_t h;

	env_up();
	linux_init();
	al_add(HOME, HOME_SPEAKER);
	al_add(HOME, HOME_THERMO);
	p[0] = 0;
	addr_of(p + 1, HOME, HOME_SPEAKER);
	OK(HCI_OP_LE_DEL_FROM_ACCEPT_LIST, p, 7);
	/* bluetoothd's passive scan: the accept list (Scanning_Filter_Policy 1). */
	put_le16(sp + 1, 0x60);
	put_le16(sp + 3, 0x30);
	sp[6] = 0x01;
	OK(HCI_OP_LE_SET_SCAN_PARAM, sp, 7);
	OK(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2);
	/* The tunnel is lost and resumes. */
	sim_down(HOME);
	merge_ctrl_down(mg, HOME);
	sent_clear();
	sim_up(HOME);
	merge_ctrl_up(mg, HOME);
	wait_ready(HOME);
	hostdrv_run(hd, 20);
	/* Clear, then the one entry left, then the scan that uses them. */
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_CLEAR_ACCEPT_LIST), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_ADD_TO_ACCEPT_LIST), 1);
	ck_assert_uint_lt(sent_index(HOME, HCI_OP_LE_CLEAR_ACCEPT_LIST),
			  sent_index(HOME, HCI_OP_LE_ADD_TO_ACCEPT_LIST));
	ck_assert_uint_lt(sent_index(HOME, HCI_OP_LE_ADD_TO_ACCEPT_LIST),
			  sent_index(HOME, HCI_OP_LE_SET_SCAN_ENABLE));
	/* The local radio, which did not go away, is not touched. */
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_LE_CLEAR_ACCEPT_LIST), 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_LE_ADD_TO_ACCEPT_LIST), 0);
	OK(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2);
	/* Auto-connection through the list: the thermometer, home's side. */
	put_le16(p, 0x60);
	put_le16(p + 2, 0x30);
	p[4] = 0x01;
	memset(p + 5, 0, 7);
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	p[17] = 0;
	p[18] = 0;
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(cmd(HCI_OP_LE_CREATE_CONN, p, 25, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	h = get_le16(b + 1);
	ck_assert_int_eq(merge_handle_ctrl(mg, h), HOME);
	addr_of(p, HOME, HOME_THERMO);
	ck_assert_mem_eq(b + 5, p, 6);
	env_down();
}
END_TEST

/*
 * The LE subevents that name a handle reach the host with its own: LE Read
 * Remote Features Complete (7.7.65.4: status, then the handle) on a link
 * the merge routed to the café. bgw-sim answers it like the controllers
 * Linux meets, right after LE Connection Complete.
 */
START_TEST(le_subevents_carry_host_handle)
{
	uint8_t p[25] = { 0 }, b[64];
	size_t n;
	uint16_t h;

	env_up();
	linux_init();
	al_add(NEAR, CAFE_STRAP);
	put_le16(p, 0x60);
	put_le16(p + 2, 0x30);
	p[4] = 0x01;	/* the accept list: only the café has the strap */
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(cmd(HCI_OP_LE_CREATE_CONN, p, 25, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	h = get_le16(b + 1);
	ck_assert_int_eq(merge_handle_ctrl(mg, h), NEAR);
	put_le16(p, h);
	ck_assert_int_eq(cmd(HCI_OP_LE_READ_REMOTE_FEATURES, p, 2, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_LE_META, HCI_LE_EV_REMOTE_FEATURES,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 11);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(get_le16(b + 1), h);
	env_down();
}
END_TEST

START_TEST(name_and_pairing_follow_side)
{
	struct seen s;
	uint8_t p[10] = { 0 }, b[300];
	size_t n;
	uint16_t h;

	env_up();
	linux_init();
	inquire(&s);
	/* Remote Name Request goes to the side of the device (7.1.19). */
	addr_of(p, HOME, HOME_SPEAKER);
	ck_assert_int_eq(cmd(HCI_OP_REMOTE_NAME_REQ, p, 10, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_REMOTE_NAME, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_str_eq((char *)b + 7, "Kitchen Speaker");
	addr_of(p, NEAR, CAFE_SPEAKER);
	ck_assert_int_eq(cmd(HCI_OP_REMOTE_NAME_REQ, p, 10, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_REMOTE_NAME, 0, b, sizeof(b), &n), 0);
	ck_assert_str_eq((char *)b + 7, "Cafe Speaker");
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_REMOTE_NAME_REQ), 1);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_REMOTE_NAME_REQ), 1);
	/* SSP pairing with the home speaker: every reply goes home (7.1.10 ff). */
	h = connect_br(HOME, HOME_SPEAKER);
	put_le16(p, h);
	ck_assert_int_eq(cmd(HCI_OP_AUTH_REQUESTED, p, 2, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_LINK_KEY_REQ, 0, b, sizeof(b), &n), 0);
	ck_assert_int_eq(cmd(HCI_OP_LINK_KEY_NEG_REPLY, b, 6, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_IO_CAPA_REQUEST, 0, b, sizeof(b), &n), 0);
	memcpy(p, b, 6);
	p[6] = 0x03;
	p[7] = 0x00;
	p[8] = 0x04;
	ck_assert_int_eq(cmd(HCI_OP_IO_CAPABILITY_REPLY, p, 9, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_USER_CONFIRM_REQUEST, 0, b, sizeof(b),
					    &n), 0);
	ck_assert_int_eq(cmd(HCI_OP_USER_CONFIRM_REPLY, b, 6, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_AUTH_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(get_le16(b + 1), h);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_USER_CONFIRM_REPLY), 1);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_USER_CONFIRM_REPLY), 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_IO_CAPABILITY_REPLY), 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_LINK_KEY_NEG_REPLY), 0);
	/* Encryption on the same link (7.1.16, 7.7.8). */
	put_le16(p, h);
	p[2] = 0x01;
	ck_assert_int_eq(cmd(HCI_OP_SET_CONN_ENCRYPT, p, 3, NULL, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_ENCRYPT_CHANGE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(get_le16(b + 1), h);
	ck_assert_uint_eq(b[3], 0x01);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_SET_CONN_ENCRYPT), 1);
	env_down();
}
END_TEST

START_TEST(handles_virtualised)
{
	struct seen s;
	uint8_t p[2], ret[16];
	size_t n;
	uint16_t hn, hh, rn, rh;

	env_up();
	linux_init();
	inquire(&s);
	hn = connect_br(NEAR, CAFE_SPEAKER);
	echo(hn, 10);
	rn = last_acl_real[NEAR];
	hh = connect_br(HOME, HOME_SPEAKER);
	echo(hh, 10);
	rh = last_acl_real[HOME];
	/* Both controllers number from the same range; the host sees two. */
	ck_assert_uint_eq(rn, rh);
	ck_assert_uint_ne(hn, hh);
	ck_assert_uint_ge(hn, 0x0040);
	ck_assert_uint_ne(hn, rn);
	/* Commands: the host's handle in, the host's handle back (7.5.4). */
	put_le16(p, hh);
	ck_assert_int_eq(cmd(HCI_OP_READ_RSSI, p, 2, ret, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(get_le16(ret + 1), hh);
	put_le16(p, hn);
	ck_assert_int_eq(cmd(HCI_OP_READ_RSSI, p, 2, ret, &n), 0);
	ck_assert_uint_eq(get_le16(ret + 1), hn);
	disconnect(hh);
	/* Gone from the host's space; the other side's same number lives on. */
	put_le16(p, hh);
	ck_assert_int_eq(cmd(HCI_OP_READ_RSSI, p, 2, ret, &n), HCI_ST_UNKNOWN_CONN_ID);
	echo(hn, 10);
	env_down();
}
END_TEST

START_TEST(settings_where)
{
	uint8_t p[32] = { 0 };

	env_up();
	linux_init();
	/* Page/inquiry scan, class, name: the local radio only (7.3.18 ff). */
	ck_assert_uint_ge(sent_count(NEAR, HCI_OP_WRITE_SCAN_ENABLE), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_WRITE_SCAN_ENABLE), 0);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_WRITE_CLASS_OF_DEV), 0);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_WRITE_LOCAL_NAME), 0);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_DELETE_STORED_LINK_KEY), 0);
	/* Advertising: local only. */
	OK(HCI_OP_LE_SET_ADV_DATA, p, 32);
	OK(HCI_OP_LE_SET_ADV_ENABLE, "\x01", 1);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_LE_SET_ADV_ENABLE), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_SET_ADV_ENABLE), 0);
	OK(HCI_OP_LE_SET_ADV_ENABLE, "\x00", 1);
	/* Event masks, SSP, LE host: every side (the merge needs the events). */
	ck_assert_uint_ge(sent_count(HOME, HCI_OP_SET_EVENT_MASK), 2);
	ck_assert_uint_ge(sent_count(HOME, HCI_OP_WRITE_SIMPLE_PAIRING_MODE), 1);
	ck_assert_uint_ge(sent_count(HOME, HCI_OP_WRITE_LE_HOST_SUPPORTED), 1);
	/* Reset: every side, and the host's links are gone. */
	sent_clear();
	OK(HCI_OP_RESET, NULL, 0);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_RESET), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_RESET), 1);
	env_down();
}
END_TEST

START_TEST(event_masks_to_all_filtered_to_host)
{
	/* Linux's mask without Inquiry Complete (bit 0) and EIR (bit 46). */
	static const uint8_t mask[8] = { 0xfe, 0xff, 0xfb, 0xff, 0x07, 0xb8, 0xbf, 0x3d };
	uint8_t b[8];
	size_t n;

	env_up();
	linux_init();
	sent_clear();
	OK(HCI_OP_SET_EVENT_MASK, mask, 8);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_SET_EVENT_MASK), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_SET_EVENT_MASK), 1);
	hostdrv_clear(hd);
	OK(HCI_OP_INQUIRY, "\x33\x8b\x9e\x02\x00", 5);
	hostdrv_run(hd, 150);
	/* The host gets neither; the merge still saw both sides end. */
	ck_assert(!hostdrv_has_event(hd, HCI_EV_INQUIRY_COMPLETE, 0));
	ck_assert(!hostdrv_has_event(hd, HCI_EV_EXT_INQUIRY_RESULT, 0));
	OK(HCI_OP_INQUIRY, "\x33\x8b\x9e\x02\x00", 5);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_INQUIRY), 2);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_INQUIRY), 2);
	OK(HCI_OP_INQUIRY_CANCEL, NULL, 0);
	ck_assert_int_eq(cmd(HCI_OP_INQUIRY_CANCEL, NULL, 0, b, &n), HCI_ST_COMMAND_DISALLOWED);
	env_down();
}
END_TEST

START_TEST(gateway_down_up)
{
	struct seen s;
	struct merge_stats st;
	uint8_t b[16];
	size_t n;
	uint16_t hn, hh;

	env_up();
	linux_init();
	inquire(&s);
	hn = connect_br(NEAR, CAFE_SPEAKER);
	hh = connect_br(HOME, HOME_SPEAKER);
	/* The tunnel is lost. */
	sim_down(HOME);
	merge_ctrl_down(mg, HOME);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(get_le16(b + 1), hh);
	ck_assert_uint_eq(b[3], HCI_ST_CONN_TIMEOUT);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_HARDWARE_ERROR, 0));
	/* The local side keeps working; home's devices stop appearing. */
	echo(hn, 20);
	inquire(&s);
	ck_assert_uint_ge(s.count[NEAR][CAFE_SPEAKER], 1);
	ck_assert_uint_eq(s.count[HOME][HOME_SPEAKER], 0);
	/* The host starts an LE scan meanwhile (on the local side only now). */
	OK(HCI_OP_LE_SET_SCAN_PARAM, "\x01\x12\x00\x12\x00\x00\x00", 7);
	OK(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x01", 2);
	/* The tunnel resumes: home is back, without a host reset. */
	sent_clear();
	sim_up(HOME);
	merge_ctrl_up(mg, HOME);
	wait_ready(HOME);
	hostdrv_run(hd, 20);
	/* The host's settings are replayed, the running scan joins. */
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_WRITE_SIMPLE_PAIRING_MODE), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_WRITE_INQUIRY_MODE), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_SET_SCAN_PARAM), 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_LE_SET_SCAN_ENABLE), 1);
	ck_assert_uint_eq(sent_count(NEAR, HCI_OP_RESET), 0);
	OK(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2);
	hostdrv_clear(hd);
	inquire(&s);
	ck_assert_uint_ge(s.count[HOME][HOME_SPEAKER], 1);
	hh = connect_br(HOME, HOME_SPEAKER);
	echo(hh, 100);
	echo(hn, 20);
	merge_get_stats(mg, &st);
	ck_assert_uint_eq(st.links, 2);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_HARDWARE_ERROR, 0));
	env_down();
}
END_TEST

/*
 * A host Reset while the merge is still initialising its controllers (Linux
 * powers the adapter on as soon as it appears): each controller keeps one
 * command outstanding (principle 1), the merge's Reset waits for the
 * answer in flight instead of racing it, so no answer arrives that the
 * merge did not ask for, and the host's Reset completes with both ready.
 */
START_TEST(reset_during_init_one_command_at_a_time)
{
	struct merge_stats st;
	uint8_t b[16];
	unsigned i;
	size_t n;

	env_up();
	/* The gateway initialised again (its session back); its Reset is
	 * answered, but the answer is still on the way... */
	sent_clear();
	hold = true;
	merge_ctrl_up(mg, HOME);
	for (i = 0; i < 500 && !nheld; i++)
		loop_iterate(lp, 10);
	ck_assert_uint_eq(nheld, 1);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_RESET), 1);
	/* ...when the host resets: the merge waits for that answer before it
	 * sends its own Reset (one command outstanding), and takes the answer
	 * for what it was. */
	ck_assert_int_eq(hostdrv_cmd(hd, HCI_OP_RESET, NULL, 0), 0);
	ck_assert_msg(sent_count(HOME, HCI_OP_RESET) == 1,
		      "a second Reset sent while the first was unanswered");
	release_held();
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_CMD_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(get_le16(b + 1), HCI_OP_RESET);
	ck_assert_uint_eq(b[3], 0);
	ck_assert_uint_eq(sent_count(HOME, HCI_OP_RESET), 2);
	ck_assert(merge_ctrl_is_ready(mg, NEAR));
	ck_assert(merge_ctrl_is_ready(mg, HOME));
	merge_get_stats(mg, &st);
	ck_assert_uint_eq(st.bad_ctrl, 0);
	env_down();
}
END_TEST

START_TEST(local_failure_hardware_error)
{
	uint8_t b[16];
	size_t n;
	bool cs;

	env_up();
	linux_init();
	sim_down(NEAR);
	merge_ctrl_down(mg, NEAR);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_HARDWARE_ERROR, 0, b, sizeof(b), &n), 0);
	/* While it is gone, commands fail clearly. */
	ck_assert_int_eq(hostdrv_cmd_sync2(hd, HCI_OP_READ_BD_ADDR, NULL, 0, b, sizeof(b), &n,
					   &cs), HCI_ST_HARDWARE_FAILURE);
	/* Back: one more Hardware Error, and the host initialises again. */
	sim_up(NEAR);
	merge_ctrl_up(mg, NEAR);
	ck_assert_int_eq(hostdrv_wait_event(hd, HCI_EV_HARDWARE_ERROR, 0, b, sizeof(b), &n), 0);
	linux_init();
	ck_assert(merge_ctrl_is_ready(mg, HOME));
	env_down();
}
END_TEST

START_TEST(bad_input_refused)
{
	struct merge_stats st0, st;
	uint8_t p[64], ret[16], pkt[32];
	size_t n;
	int len;

	env_up();
	linux_init();
	merge_get_stats(mg, &st0);
	/* A host command for a handle of neither side. */
	put_le16(p, 0x0123);
	ck_assert_int_eq(cmd(HCI_OP_READ_RSSI, p, 2, ret, &n), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(n, 3);
	put_le16(p + 0, 0x0123);
	p[2] = 0x13;
	ck_assert_int_eq(cmd(HCI_OP_DISCONNECT, p, 3, NULL, NULL), HCI_ST_UNKNOWN_CONN_ID);
	/* ACL for it: dropped, nothing reaches a controller. */
	ck_assert_int_eq(hostdrv_acl(hd, 0x0123, HCI_PB_FIRST_FLUSH, "abcd", 4), 0);
	/* Wrong parameter length; unsupported command. */
	ck_assert_int_eq(cmd(HCI_OP_READ_RSSI, p, 3, ret, &n), HCI_ST_INVALID_PARAMETERS);
	ck_assert_int_eq(cmd(HCI_OP_WRITE_STORED_LINK_KEY, p, 3, NULL, NULL),
			 HCI_ST_UNKNOWN_COMMAND);
	/* A controller answering out of order, or for a handle it never had. */
	len = h4_build_cc(pkt, sizeof(pkt), 1, HCI_OP_READ_BD_ADDR,
			  "\x00\x01\x02\x03\x04\x05\x06", 7);
	ck_assert_int_eq(merge_ctrl_input(mg, HOME, pkt, (size_t)len), 0);
	len = h4_build_evt(pkt, sizeof(pkt), HCI_EV_DISCONN_COMPLETE, "\x00\x01\x00\x13", 4);
	ck_assert_int_eq(merge_ctrl_input(mg, HOME, pkt, (size_t)len), 0);
	len = h4_build_evt(pkt, sizeof(pkt), HCI_EV_NUM_COMP_PKTS, "\x01\x01\x00\x01\x00", 5);
	ck_assert_int_eq(merge_ctrl_input(mg, HOME, pkt, (size_t)len), 0);
	len = h4_build_acl(pkt, sizeof(pkt), 0x0001, 2, 0, "xxxx", 4);
	ck_assert_int_eq(merge_ctrl_input(mg, NEAR, pkt, (size_t)len), 0);
	ck_assert_int_eq(merge_ctrl_input(mg, NEAR, pkt, 3), -EBADMSG);
	/* An ISO packet from the host: the merge carries none. */
	ck_assert_int_eq(merge_host_input(mg, (const uint8_t *)"\x05\x40\x00\x00\x00", 5),
			 -EPROTO);
	hostdrv_run(hd, 20);
	ck_assert(!hostdrv_has_event(hd, HCI_EV_DISCONN_COMPLETE, 0));
	ck_assert(!hostdrv_has_event(hd, HCI_EV_NUM_COMP_PKTS, 0));
	ck_assert_uint_eq(hostdrv_pending(hd), 0);
	merge_get_stats(mg, &st);
	ck_assert_uint_ge(st.bad_host, st0.bad_host + 4);
	ck_assert_uint_ge(st.bad_ctrl, st0.bad_ctrl + 5);
	/* And the merge still works. */
	ck_assert_int_eq(cmd(HCI_OP_READ_BD_ADDR, NULL, 0, ret, &n), 0);
	ck_assert_mem_eq(ret + 1, near_addr, 6);
	env_down();
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, identity_from_local);
	tcase_add_test(tc, one_buffer_pool);
	tcase_add_test(tc, discovery_both_sides);
	tcase_add_test(tc, le_subevents_carry_host_handle);
	tcase_add_test(tc, reset_during_init_one_command_at_a_time);
	tcase_add_test(tc, discovery_cancel_both);
	tcase_add_test(tc, discovery_device_on_both_sides_once);
	tcase_add_test(tc, periodic_inquiry_both_sides);
	tcase_add_test(tc, periodic_inquiry_exit_cancels_both);
	tcase_add_test(tc, periodic_inquiry_side_refuses_or_goes);
	tcase_add_test(tc, le_scan_both_sides);
	tcase_add_test(tc, connect_routed_by_side);
	tcase_add_test(tc, connect_unknown_pages_every_side);
	tcase_add_test(tc, le_accept_list_first_wins);
	tcase_add_test(tc, name_and_pairing_follow_side);
	tcase_add_test(tc, handles_virtualised);
	tcase_add_test(tc, settings_where);
	tcase_add_test(tc, event_masks_to_all_filtered_to_host);
	tcase_add_test(tc, gateway_down_up);
	tcase_add_test(tc, accept_list_replayed_to_returning_gateway);
	tcase_add_test(tc, local_failure_hardware_error);
	tcase_add_test(tc, bad_input_refused);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
