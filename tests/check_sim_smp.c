/* SPDX-License-Identifier: MIT */
/*
 * The simulated devices' LE Secure Connections responder (sim/rd_smp.c,
 * Core Vol 3 Part H 2.3.5.6): the test plays the central's host, an SMP
 * initiator on lib/smp_crypto, over the simulated controller: Just Works,
 * numeric comparison and passkey entry to an LTK that LE Enable
 * Encryption accepts, and the refusals (a wrong DHKey check, a public key
 * off the curve, a legacy initiator against sc-only).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "check_main.h"
#include "cursor.h"
#include "hci.h"
#include "hostdrv.h"
#include "log.h"
#include "rpa.h"
#include "secmem.h"
#include "sim.h"
#include "sim_int.h"
#include "smp_crypto.h"

static const char house[] =
	"device tag\n address 10:B6:00:00:00:21\n name SC Tag\n pairing sc\n"
	"device watch\n address C0:B6:00:00:00:22 random\n name SC Watch\n"
	" pairing sc\n io-capability yesno\n"
	"device grumpy\n address 10:B6:00:00:00:23\n pairing sc\n io-capability yesno\n"
	" confirm no\n"
	"device strict\n address 10:B6:00:00:00:24\n pairing sc-only\n"
	"device keypad\n address 10:B6:00:00:00:25\n pairing sc\n io-capability keyboard\n"
	" passkey 012345\n"
	"device mute-keypad\n address 10:B6:00:00:00:26\n pairing sc\n"
	" io-capability keyboard\n"
	"device screen\n address 10:B6:00:00:00:27\n pairing sc\n io-capability display\n"
	" passkey 654321\n"
	"device oldtag\n address 10:B6:00:00:00:28\n"
	"device ptag\n address D0:5E:00:00:00:29 random\n pairing sc\n"
	" irk 00112233445566778899aabbccddeeff\n";

#define RD(last)	{ { (last), 0, 0, 0, 0xb6, 0x10 } }
static const struct bdaddr TAG = RD(0x21);
static const struct bdaddr WATCH = { { 0x22, 0, 0, 0, 0xb6, 0xc0 } };
static const struct bdaddr GRUMPY = RD(0x23);
static const struct bdaddr STRICT = RD(0x24);
static const struct bdaddr KEYPAD = RD(0x25);
static const struct bdaddr MUTE = RD(0x26);
static const struct bdaddr SCREEN = RD(0x27);
static const struct bdaddr OLDTAG = RD(0x28);

static struct loop *L;
static struct sim_air *A;
static struct sim_ctrl *C;
static struct hostdrv *D;
static uint8_t R[300];
static size_t RL;
/* What the simulated devices logged that a user would see. */
static int shown = -1;

static void log_grab(int prio, const char *line, void *user)
{
	const char *p;
	unsigned v;

	(void)prio;
	(void)user;
	if ((p = strstr(line, " shows ")) && sscanf(p + 7, "%u", &v) == 1)
		shown = (int)v;
	else if ((p = strstr(line, " displays passkey ")) && sscanf(p + 18, "%u", &v) == 1)
		shown = (int)v;
}

static int send_to_ctrl(const uint8_t *h4, size_t len, void *user)
{
	return sim_ctrl_input(user, h4, len);
}

static void setup(void)
{
	struct sim_opts o = { .time_scale = 0.01, .seed = 7 };
	struct sim_house *h = NULL;
	char err[256];

	L = loop_new();
	ck_assert_ptr_nonnull(L);
	ck_assert_int_eq(sim_house_parse_buf("test", house, strlen(house), &h, err,
					     sizeof(err)), 0);
	A = sim_air_new(L, h, &o);
	ck_assert_ptr_nonnull(A);
	D = hostdrv_new(L);
	C = sim_ctrl_new(A, NULL, hostdrv_sink, D);
	ck_assert_ptr_nonnull(C);
	hostdrv_set_sender(D, send_to_ctrl, C);
	hostdrv_set_timeout(D, 3000);
	hostdrv_set_trace(D, getenv("HOSTDRV_TRACE") != NULL);
	ck_assert_int_eq(hostdrv_cmd_sync(D, HCI_OP_SET_EVENT_MASK,
					  "\xff\xff\xfb\xff\x07\xf8\xbf\x3d", 8,
					  NULL, 0, NULL), 0);
	log_set_level(LOG_INFO);
	log_set_handler(log_grab, NULL);
	shown = -1;
}

static void teardown(void)
{
	log_set_handler(NULL, NULL);
	sim_ctrl_free(C);
	sim_air_free(A);
	hostdrv_free(D);
	loop_free(L);
}

static void cs_ok(uint16_t op, const void *p, size_t n, int st)
{
	bool cs = false;
	int r = hostdrv_cmd_sync2(D, op, p, n, R, sizeof(R), &RL, &cs);

	ck_assert_msg(r == st, "opcode 0x%04x: status %d, want %d", op, r, st);
	ck_assert(cs);
}

static void wait_ev(uint8_t code, uint8_t sub)
{
	ck_assert_int_eq(hostdrv_wait_event(D, code, sub, R, sizeof(R), &RL), 0);
}

static uint16_t le_connect(const struct bdaddr *a, uint8_t type)
{
	uint8_t p[25] = {
		0x60, 0x00, 0x60, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00,
		0x18, 0x00, 0x28, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	p[5] = type;
	memcpy(p + 6, a->b, 6);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	return get_le16(R + 1);
}

static void disconnect(uint16_t h)
{
	uint8_t p[3] = { (uint8_t)h, (uint8_t)(h >> 8), 0x13 };

	cs_ok(HCI_OP_DISCONNECT, p, 3, 0);
	wait_ev(HCI_EV_DISCONN_COMPLETE, 0);
}

/* LE Enable Encryption (7.8.24) with EDIV = Rand = 0; the status. */
static uint8_t encrypt(uint16_t h, const uint8_t ltk[16])
{
	uint8_t enc[28] = { 0 };

	put_le16(enc, h);
	memcpy(enc + 12, ltk, 16);
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	return R[0];
}

static void smp_send(uint16_t h, const uint8_t *p, size_t n)
{
	uint8_t pdu[80];

	ck_assert_uint_le(n + 4, sizeof(pdu));
	put_le16(pdu, (uint16_t)n);
	put_le16(pdu + 2, 0x0006);
	memcpy(pdu + 4, p, n);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x00, pdu, n + 4), 0);
}

/*
 * The device's next SMP PDU: its code is want (copied to p) or Pairing
 * Failed, whose reason is returned (0 otherwise).
 */
static int smp_recv(uint16_t h, uint8_t want, uint8_t *p, size_t n)
{
	uint8_t pdu[80];
	size_t len;

	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, pdu, sizeof(pdu), &len), 0);
	ck_assert_uint_eq(get_le16(pdu + 2), 0x0006);
	if (len == 6 && pdu[4] == 0x05)
		return pdu[5];
	ck_assert_msg(pdu[4] == want, "SMP code 0x%02x, want 0x%02x", pdu[4], want);
	ck_assert_uint_eq(len - 4, n);
	memcpy(p, pdu + 4, n);
	return 0;
}

/* The test's initiator: what it is and does, and what it gets. */
struct sc_run {
	uint8_t io;		/* its IO capability */
	uint8_t auth;		/* its AuthReq */
	uint8_t ksize;		/* its maximum key size (0: 16) */
	bool passkey_entry;	/* the method the IO capabilities give */
	uint32_t passkey;	/* what its user has for passkey entry */
	bool bad_key;		/* a public key off the curve */
	bool bad_check;		/* a wrong DHKey check value */
	uint8_t pres[7];	/* out: the Pairing Response */
	uint32_t va;		/* out: the numeric comparison value */
	uint8_t ltk[16];	/* out */
};

static void addr7(uint8_t out[7], const uint8_t b[6], uint8_t t)
{
	memcpy(out, b, 6);
	out[6] = t;
}

/*
 * SC pairing as the central (2.3.5.6) on handle h with the device rd
 * (address type t): 0, or the reason of the device's Pairing Failed.
 */
static int sc_pair_kd(uint16_t h, const struct bdaddr *rd, uint8_t t, struct sc_run *r,
		      uint8_t rkd)
{
	uint8_t preq[7] = { 0x01, r->io, 0x00, r->auth, r->ksize ? r->ksize : 16,
			    0x00, rkd };
	uint8_t b[65], pkb[64], dhkey[32], na[16], nb[16], cb[16], chk[16];
	uint8_t mackey[16], rr[16] = { 0 }, ia[7], ra[7], io[3];
	struct smp_p256 kp;
	unsigned i, rounds = r->passkey_entry ? 20 : 1;
	int ret;

	ck_assert_int_eq(hostdrv_cmd_sync(D, HCI_OP_READ_BD_ADDR, NULL, 0, R,
					  sizeof(R), &RL), 0);
	addr7(ia, R + 1, 0);
	addr7(ra, rd->b, t);
	smp_send(h, preq, 7);
	ret = smp_recv(h, 0x02, r->pres, 7);
	if (ret)
		return ret;
	ck_assert_int_eq(smp_p256_generate(&kp), 0);
	b[0] = 0x0c;
	memcpy(b + 1, kp.pub, 64);
	if (r->bad_key)
		b[33] ^= 0x01;		/* Y changed: not on the curve */
	smp_send(h, b, 65);
	ret = smp_recv(h, 0x0c, b, 65);
	if (ret)
		goto out;
	memcpy(pkb, b + 1, 64);
	ck_assert_int_eq(smp_p256_dhkey(&kp, pkb, dhkey), 0);
	for (i = 0; i < rounds; i++) {
		uint8_t z = r->passkey_entry ?
			    (uint8_t)(0x80 | ((r->passkey >> i) & 1)) : 0;

		for (size_t j = 0; j < 16; j++)
			na[j] = (uint8_t)rand();
		if (r->passkey_entry) {
			/* Cai first, then Cbi (2.3.5.6.3). */
			b[0] = 0x03;
			ck_assert_int_eq(smp_f4(kp.pub, pkb, na, z, b + 1), 0);
			smp_send(h, b, 17);
		}
		ret = smp_recv(h, 0x03, b, 17);
		if (ret)
			goto out;
		memcpy(cb, b + 1, 16);
		b[0] = 0x04;
		memcpy(b + 1, na, 16);
		smp_send(h, b, 17);
		ret = smp_recv(h, 0x04, b, 17);
		if (ret)
			goto out;
		memcpy(nb, b + 1, 16);
		/* The device committed to Nb before it saw Na. */
		ck_assert_int_eq(smp_f4(pkb, kp.pub, nb, z, chk), 0);
		ck_assert_mem_eq(chk, cb, 16);
	}
	ck_assert_int_eq(smp_g2(kp.pub, pkb, na, nb, &r->va), 0);
	ck_assert_int_eq(smp_f5(dhkey, na, nb, ia, ra, mackey, r->ltk), 0);
	if (r->passkey_entry)
		put_le32(rr, r->passkey);
	memcpy(io, preq + 1, 3);
	b[0] = 0x0d;
	ck_assert_int_eq(smp_f6(mackey, na, nb, rr, io, ia, ra, b + 1), 0);
	if (r->bad_check)
		b[1] ^= 0x01;
	smp_send(h, b, 17);
	ret = smp_recv(h, 0x0d, b, 17);
	if (ret)
		goto out;
	/* Eb proves the device derived the same MacKey. */
	memcpy(io, r->pres + 1, 3);
	ck_assert_int_eq(smp_f6(mackey, nb, na, rr, io, ra, ia, chk), 0);
	ck_assert_mem_eq(chk, b + 1, 16);
out:
	smp_p256_wipe(&kp);
	return ret;
}

/* The same, asking the device's EncKey and IdKey. */
static int sc_pair(uint16_t h, const struct bdaddr *rd, uint8_t t, struct sc_run *r)
{
	return sc_pair_kd(h, rd, t, r, 0x03);
}

/* Nothing more from the device (no key distribution in SC, 3.6.1). */
static void quiet(void)
{
	uint8_t buf[80];
	uint16_t h;
	uint8_t pb;
	size_t n;

	hostdrv_set_timeout(D, 100);
	ck_assert_int_eq(hostdrv_wait_acl(D, &h, &pb, buf, sizeof(buf), &n), -ETIMEDOUT);
	hostdrv_set_timeout(D, 3000);
}

START_TEST(sc_just_works_then_encrypt)
{
	struct sc_run r = { .io = 0x03, .auth = 0x09 };	/* NoIO; bonding, SC */
	uint8_t bad[16];
	uint16_t h = le_connect(&TAG, 0);

	ck_assert_int_eq(sc_pair(h, &TAG, 0, &r), 0);
	ck_assert_uint_eq(r.pres[1], 0x03);		/* NoInputNoOutput */
	ck_assert_uint_eq(r.pres[3], 0x09);		/* bonding, SC, no MITM */
	ck_assert_uint_eq(r.pres[6], 0x00);		/* no EncKey with SC */
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
	ck_assert_uint_eq(R[3], 0x01);
	quiet();
	disconnect(h);
	/* The bond: the same LTK, EDIV and Rand 0, on a new link. */
	h = le_connect(&TAG, 0);
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
	disconnect(h);
	memcpy(bad, r.ltk, 16);
	bad[15] ^= 0x80;
	h = le_connect(&TAG, 0);
	ck_assert_int_eq(encrypt(h, bad), HCI_ST_PIN_OR_KEY_MISSING);
}
END_TEST

START_TEST(sc_numeric_comparison)
{
	/* DisplayYesNo both; MITM: numeric comparison (Table 2.8). */
	struct sc_run r = { .io = 0x01, .auth = 0x0d };
	uint16_t h = le_connect(&WATCH, 1);

	ck_assert_int_eq(sc_pair(h, &WATCH, 1, &r), 0);
	ck_assert_uint_eq(r.pres[1], 0x01);
	ck_assert_uint_eq(r.pres[3], 0x0d);		/* bonding, MITM, SC */
	/* The watch showed the number our user sees. */
	ck_assert_int_eq(shown, (int)r.va);
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
	quiet();
	disconnect(h);
	h = le_connect(&WATCH, 1);
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
}
END_TEST

START_TEST(sc_numeric_comparison_refused_by_user)
{
	struct sc_run r = { .io = 0x04, .auth = 0x0d };	/* KeyboardDisplay */
	uint16_t h = le_connect(&GRUMPY, 0);

	ck_assert_int_eq(sc_pair(h, &GRUMPY, 0, &r), 0x0c);	/* Numeric Comparison Failed */
	ck_assert_int_ge(shown, 0);
	/* No key came of it. */
	ck_assert_int_eq(encrypt(h, r.ltk), HCI_ST_PIN_OR_KEY_MISSING);
}
END_TEST

START_TEST(sc_wrong_dhkey_check_fails)
{
	struct sc_run r = { .io = 0x03, .auth = 0x09, .bad_check = true };
	uint16_t h = le_connect(&TAG, 0);

	ck_assert_int_eq(sc_pair(h, &TAG, 0, &r), 0x0b);	/* DHKey Check Failed */
	/* The LTK both would have had is not the device's. */
	ck_assert_int_eq(encrypt(h, r.ltk), HCI_ST_PIN_OR_KEY_MISSING);
}
END_TEST

START_TEST(sc_invalid_public_key_refused)
{
	struct sc_run r = { .io = 0x03, .auth = 0x09, .bad_key = true };
	struct sc_run q = { .io = 0x03, .auth = 0x09 };
	uint16_t h = le_connect(&TAG, 0);

	/* Off the curve (CVE-2018-5383): DHKey Check Failed, and the device
	 * never sent its own key. */
	ck_assert_int_eq(sc_pair(h, &TAG, 0, &r), 0x0b);
	/* The link is fine: a good key pairs. */
	ck_assert_int_eq(sc_pair(h, &TAG, 0, &q), 0);
}
END_TEST

START_TEST(sc_only_refuses_legacy)
{
	struct sc_run r = { .io = 0x03, .auth = 0x01 };	/* no SC bit */
	struct sc_run s = { .io = 0x03, .auth = 0x09, .ksize = 15 };
	struct sc_run t = { .io = 0x03, .auth = 0x09 };
	uint16_t h = le_connect(&STRICT, 0);

	ck_assert_int_eq(sc_pair(h, &STRICT, 0, &r), 0x03);	/* Authentication Requirements */
	ck_assert_int_eq(sc_pair(h, &STRICT, 0, &s), 0x06);	/* Encryption Key Size */
	ck_assert_int_eq(sc_pair(h, &STRICT, 0, &t), 0);
	ck_assert_int_eq(encrypt(h, t.ltk), 0);
}
END_TEST

/* "pairing sc" answers a legacy initiator with legacy pairing. */
START_TEST(sc_device_pairs_legacy_initiator_legacy)
{
	static const uint8_t tk[16];
	uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01 };
	uint8_t pres[7], mrand[16], b[17], srand[16], stk[16], ia[6];
	uint16_t h = le_connect(&TAG, 0);

	ck_assert_int_eq(hostdrv_cmd_sync(D, HCI_OP_READ_BD_ADDR, NULL, 0, R,
					  sizeof(R), &RL), 0);
	memcpy(ia, R + 1, 6);
	smp_send(h, preq, 7);
	ck_assert_int_eq(smp_recv(h, 0x02, pres, 7), 0);
	ck_assert_uint_eq(pres[3] & 0x08, 0);		/* not SC */
	ck_assert_uint_eq(pres[6], 0x01);		/* the legacy LTK to come */
	memset(mrand, 0x5a, 16);
	b[0] = 0x03;
	ck_assert_int_eq(smp_c1(tk, mrand, preq, pres, 0, ia, 0, TAG.b, b + 1), 0);
	smp_send(h, b, 17);
	ck_assert_int_eq(smp_recv(h, 0x03, b, 17), 0);
	b[0] = 0x04;
	memcpy(b + 1, mrand, 16);
	smp_send(h, b, 17);
	ck_assert_int_eq(smp_recv(h, 0x04, b, 17), 0);
	memcpy(srand, b + 1, 16);
	ck_assert_int_eq(smp_s1(tk, srand, mrand, stk), 0);
	ck_assert_int_eq(encrypt(h, stk), 0);
	ck_assert_int_eq(smp_recv(h, 0x06, b, 17), 0);
}
END_TEST

START_TEST(sc_passkey_typed_on_device)
{
	/* The initiator displays 012345, the keypad's user types it. */
	struct sc_run r = { .io = 0x00, .auth = 0x0d, .passkey_entry = true,
			    .passkey = 12345 };
	struct sc_run w = { .io = 0x00, .auth = 0x0d, .passkey_entry = true,
			    .passkey = 12344 };
	uint16_t h = le_connect(&KEYPAD, 0);

	ck_assert_int_eq(sc_pair(h, &KEYPAD, 0, &r), 0);
	ck_assert_uint_eq(r.pres[1], 0x02);
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
	disconnect(h);
	/* Another number shown than the one typed: Confirm Value Failed
	 * in the first round whose bit differs (bit 0 here). */
	h = le_connect(&KEYPAD, 0);
	ck_assert_int_eq(sc_pair(h, &KEYPAD, 0, &w), 0x04);
	disconnect(h);
	/* A keypad whose user was given no passkey: Passkey Entry Failed. */
	h = le_connect(&MUTE, 0);
	ck_assert_int_eq(sc_pair(h, &MUTE, 0, &r), 0x01);
}
END_TEST

START_TEST(sc_passkey_shown_by_device)
{
	/* A KeyboardOnly initiator types what the screen displays. */
	struct sc_run r = { .io = 0x02, .auth = 0x0d, .passkey_entry = true,
			    .passkey = 654321 };
	uint16_t h = le_connect(&SCREEN, 0);

	ck_assert_int_eq(sc_pair(h, &SCREEN, 0, &r), 0);
	ck_assert_int_eq(shown, 654321);
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
}
END_TEST

/* One bond per central: pairing again replaces the LTK. */
START_TEST(sc_bond_replaced_by_new_pairing)
{
	struct sc_run r1 = { .io = 0x03, .auth = 0x09 }, r2 = r1;
	uint16_t h = le_connect(&TAG, 0);

	ck_assert_int_eq(sc_pair(h, &TAG, 0, &r1), 0);
	ck_assert_int_eq(encrypt(h, r1.ltk), 0);
	disconnect(h);
	h = le_connect(&TAG, 0);
	ck_assert_int_eq(sc_pair(h, &TAG, 0, &r2), 0);
	ck_assert(!secmem_is_equal(r1.ltk, r2.ltk, 16));
	ck_assert_int_eq(encrypt(h, r2.ltk), 0);
	disconnect(h);
	h = le_connect(&TAG, 0);
	ck_assert_int_eq(encrypt(h, r1.ltk), HCI_ST_PIN_OR_KEY_MISSING);
	disconnect(h);
	h = le_connect(&TAG, 0);
	ck_assert_int_eq(encrypt(h, r2.ltk), 0);
}
END_TEST

/*
 * A device with privacy (irk) pairing with SC distributes its IRK and
 * identity (3.6.4-3.6.5) when asked IdKey, on its private address: the
 * IRK the house gave, resolving that address, and the identity the house
 * named; no EncKey (its LTK is derived). Not asked, it sends nothing.
 */
START_TEST(sc_device_with_privacy_distributes_identity)
{
	static const uint8_t irk[16] = {
		0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
		0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00,
	};
	struct sc_run r = { .io = 0x03, .auth = 0x09 };
	const struct sim_rd_cfg *c = NULL;
	uint8_t b[17];
	unsigned i;
	uint16_t h;

	for (i = 0; i < sim_air_rd_count(A); i++)
		if (!strcmp(sim_air_rd(A, i)->cfg->id, "ptag"))
			c = sim_air_rd(A, i)->cfg;
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->addr_type, 1);
	ck_assert(rpa_is_resolvable(&c->addr));
	ck_assert(rpa_matches(irk, &c->addr));
	h = le_connect(&c->addr, 1);
	ck_assert_int_eq(sc_pair(h, &c->addr, 1, &r), 0);
	ck_assert_uint_eq(r.pres[6], 0x02);		/* IdKey only */
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
	ck_assert_int_eq(smp_recv(h, 0x08, b, 17), 0);
	ck_assert_mem_eq(b + 1, irk, 16);
	ck_assert_int_eq(smp_recv(h, 0x09, b, 8), 0);
	ck_assert_uint_eq(b[1], 1);
	ck_assert_mem_eq(b + 2, "\x29\x00\x00\x00\x5e\xd0", 6);
	quiet();
	disconnect(h);
	/* IdKey not asked: nothing distributed. */
	h = le_connect(&c->addr, 1);
	r.ksize = 0;
	ck_assert_int_eq(sc_pair_kd(h, &c->addr, 1, &r, 0x01), 0);
	ck_assert_uint_eq(r.pres[6], 0x00);
	ck_assert_int_eq(encrypt(h, r.ltk), 0);
	quiet();
}
END_TEST

/* A device without "pairing sc" answers an SC initiator with legacy. */
START_TEST(default_device_stays_legacy)
{
	uint8_t preq[7] = { 0x01, 0x01, 0x00, 0x0d, 0x10, 0x00, 0x01 }, pres[7];
	uint16_t h = le_connect(&OLDTAG, 0);

	smp_send(h, preq, 7);
	ck_assert_int_eq(smp_recv(h, 0x02, pres, 7), 0);
	ck_assert_uint_eq(pres[1], 0x03);
	ck_assert_uint_eq(pres[3], 0x01);		/* bonding, no MITM, no SC */
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("sim_smp");
	TCase *tc = tcase_create("sc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, sc_just_works_then_encrypt);
	tcase_add_test(tc, sc_numeric_comparison);
	tcase_add_test(tc, sc_numeric_comparison_refused_by_user);
	tcase_add_test(tc, sc_wrong_dhkey_check_fails);
	tcase_add_test(tc, sc_invalid_public_key_refused);
	tcase_add_test(tc, sc_only_refuses_legacy);
	tcase_add_test(tc, sc_device_pairs_legacy_initiator_legacy);
	tcase_add_test(tc, sc_passkey_typed_on_device);
	tcase_add_test(tc, sc_passkey_shown_by_device);
	tcase_add_test(tc, sc_bond_replaced_by_new_pairing);
	tcase_add_test(tc, default_device_stays_legacy);
	tcase_add_test(tc, sc_device_with_privacy_distributes_identity);
	suite_add_tcase(s, tc);
	return s;
}
