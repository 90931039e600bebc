/* SPDX-License-Identifier: MIT */
/*
 * The multiplexer against the simulated controller (sim/, default house),
 * with hosts played by tests/hostdrv: what check_mux_core proves against a
 * scripted controller, here end to end with a radio, L2CAP and timing the
 * mux does not control. Waits are bounded by hostdrv's timeout; nothing
 * asserts on time.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "check_main.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "hostauth.h"
#include "hostdrv.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "rpa.h"
#include "sim.h"
#include "sim_int.h"
#include "smp_crypto.h"

#define SPEAKER 0x04	/* 10:B6:00:00:00:04, BR/EDR */
#define BULB	0x03	/* 10:B6:00:00:00:03, BR/EDR and LE */
#define THERMO	0x02	/* 10:B6:00:00:00:02, LE */
#define LONGRANGE 0x0b	/* ext_house: extended PDUs on LE Coded only */
#define TAG	0x0c	/* ext_house: extended PDUs, 300 octets of data */
#define LOCK	0x01	/* C0:B6:00:00:00:01 random (static), LE, bonds */

/* A house with extended-only advertisers besides a legacy one. */
static const char ext_house[] =
	"device thermometer\n"
	" address 10:B6:00:00:00:02\n type le\n name Thermometer\n uuid16 181a\n"
	"device longrange\n"
	" address 10:B6:00:00:00:0B\n type le\n name Long Range Sensor\n advertising coded\n"
	"device tag\n"
	" address 10:B6:00:00:00:0C\n type le\n name Ext Tag\n advertising extended\n"
	" ext-adv-len 300\n";

static struct loop *lp;
static struct sim_air *air;
static struct sim_ctrl *ctrl;
static struct mux *mx;

struct shost {
	struct hostdrv *d;
	struct mux_session *s;
};

static void rd_addr(struct bdaddr *a, uint8_t last)
{
	static const uint8_t b[6] = { 0x00, 0x00, 0x00, 0x00, 0xb6, 0x10 };

	memcpy(a->b, b, 6);
	a->b[0] = last;
}

static bool kid_revoked;	/* the kid's grant for the lock, withdrawn */
#define PLOCK	0x05	/* plock_house: C0:B6:00:00:00:05, on private addresses */

static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	struct bdaddr sp, bu;

	rd_addr(&sp, SPEAKER);
	rd_addr(&bu, BULB);
	if (strcmp(user, "alice") == 0)
		return bdaddr_eq(a, &bu);
	if (strcmp(user, "bob") == 0)
		return bdaddr_eq(a, &sp);
	if (strcmp(user, "carol") == 0)
		return bdaddr_eq(a, &sp) || bdaddr_eq(a, &bu);
	if (strcmp(user, "erin") == 0)
		return a->b[5] == 0x10 && a->b[4] == 0xb6 && !a->b[1] &&
		       (a->b[0] == LONGRANGE || a->b[0] == TAG);
	if (strcmp(user, "mum") == 0 || (strcmp(user, "kid") == 0 && !kid_revoked))
		return type == BDADDR_RANDOM && a->b[5] == 0xc0 && a->b[4] == 0xb6 &&
		       !a->b[1] && (a->b[0] == LOCK || a->b[0] == PLOCK);
	if (strcmp(user, "dave") == 0) {
		struct bdaddr th;

		rd_addr(&th, THERMO);
		return bdaddr_eq(a, &th);
	}
	return false;
}

static const struct mux_policy pol = { NULL, NULL, pol_may_access, NULL };

/* The household bond store, as bgw-muxd's monitor keeps it (one device). */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t key[16];
	uint8_t type;
	unsigned news;
} sbond;

static int pol_bond_key(const struct bdaddr *a, uint8_t key[16], uint8_t *type, void *ctx)
{
	if (!sbond.has || !bdaddr_eq(a, &sbond.a))
		return -ENOENT;
	if (key) {
		memcpy(key, sbond.key, 16);
		*type = sbond.type;
	}
	return 0;
}

static int pol_bond_new(const char *user, const struct bdaddr *a, const uint8_t key[16],
			uint8_t type, void *ctx)
{
	sbond.has = true;
	sbond.a = *a;
	memcpy(sbond.key, key, 16);
	sbond.type = type;
	sbond.news++;
	return 0;
}

static const struct mux_policy pol_bonds = {
	NULL, NULL, pol_may_access, NULL, NULL, pol_bond_key, pol_bond_new, NULL
};

/* The household LE bond store (one device), and what hosts were sent. */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t type;
	struct mux_le_bond b;
	char by[16];
	unsigned news;
	unsigned leaks;		/* host packets that held the household LTK */
	unsigned lookups;	/* bond_ltk calls, and those only asking whether */
	unsigned null_lookups;
} sle;

/*
 * The host connects from a random address it set (Own_Address_Type 1),
 * h_own_ra, rather than the public one; h_after_pres runs when its
 * pairing has its Pairing Response.
 */
static bool h_own_random;
static uint8_t h_own_ra[6];
static void (*h_after_pres)(void);

/* ACL packets hosts sent, and credits (Number Of Completed Packets) they got. */
static unsigned host_acl_sent, host_credits;

static int pol_bond_ltk(const struct bdaddr *a, uint8_t type, struct mux_le_bond *b, void *ctx)
{
	sle.lookups++;
	sle.null_lookups += !b;
	if (!sle.has || !bdaddr_eq(a, &sle.a) || type != sle.type)
		return -ENOENT;
	if (b)
		*b = sle.b;
	return 0;
}

/* Set by a test: the bond store refuses the next household LE bond. */
static bool sle_fail;

static int pol_bond_new_le(const char *user, const struct bdaddr *a, uint8_t type,
			   const struct mux_le_bond *b, void *ctx)
{
	if (sle_fail) {
		sle_fail = false;
		return -EIO;
	}
	sle.has = true;
	sle.a = *a;
	sle.type = type;
	sle.b = *b;
	snprintf(sle.by, sizeof(sle.by), "%s", user);
	sle.news++;
	return 0;
}

/* Pairings the core refused for the household (the audit record's call). */
static struct {
	unsigned n;
	char user[16];
	struct bdaddr a;
	uint8_t type;
	char why[200];
} refused;

static void pol_pair_refused(const char *user, const struct bdaddr *a, uint8_t type,
			     const char *why, void *ctx)
{
	refused.n++;
	snprintf(refused.user, sizeof(refused.user), "%s", user);
	refused.a = *a;
	refused.type = type;
	snprintf(refused.why, sizeof(refused.why), "%s", why);
}

static const struct mux_policy pol_bonds_le = {
	NULL, NULL, pol_may_access, NULL, NULL, pol_bond_key, pol_bond_new, NULL,
	pol_bond_ltk, pol_bond_new_le, pol_pair_refused
};
/*
 * A lock with privacy: the IRK below (most significant octet first, as
 * in the house file and the authdb), its identity C0:B6:00:00:00:05.
 */
static const char plock_house[] =
	"device plock\n"
	" address C0:B6:00:00:00:05 random\n type le\n name Private Lock\n"
	" irk 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
	" service 1815\n characteristic 2a56 read,write,encrypt 01\n";

static bool admin_irk;	/* the admin gave the plock's IRK (authdb device irk) */

/* The lock's address on the air: its static one, or a private one. */
static struct bdaddr lock_ra;

static void lock_ra_static(void)
{
	rd_addr(&lock_ra, LOCK);
	lock_ra.b[5] = 0xc0;
}


/*
 * resolve_rpa as bgw-muxd's core answers it: the admin's IRK, then the
 * IRK kept with the household LE bond.
 */
static int pol_resolve_rpa(const struct bdaddr *rpa, struct bdaddr *id, uint8_t *id_type,
			   void *ctx)
{
	uint8_t irk[16];
	unsigned i;

	/* 0f1e...e1f0 in SMP order: f0 e1 d2 c3 ... 1e 0f. */
	for (i = 0; i < 16; i++)
		irk[i] = (uint8_t)(0xf0 - 0x0f * i);
	if (admin_irk && rpa_matches(irk, rpa)) {
		rd_addr(id, PLOCK);
		id->b[5] = 0xc0;
		*id_type = BDADDR_RANDOM;
		return 0;
	}
	if (sle.has && sle.b.has_irk && rpa_matches(sle.b.irk, rpa)) {
		*id = sle.a;
		*id_type = sle.type;
		return 0;
	}
	return -ENOENT;
}

static const struct mux_policy pol_bonds_le_rpa = {
	NULL, NULL, pol_may_access, NULL, pol_resolve_rpa, pol_bond_key, pol_bond_new, NULL,
	pol_bond_ltk, pol_bond_new_le
};
static const struct mux_policy *env_pol = &pol;

/*
 * A device that misbehaves in its SMP: the first SMP PDU with code
 * corrupt_code from the controller has the first octet of its value
 * changed on the way to the mux (a public key's X: a point off the
 * curve; a DHKey check: a wrong one).
 */
static uint8_t corrupt_code;

/*
 * Transports that carry events and ACL apart (USB) may deliver a
 * device's first encrypted PDUs before the Encryption Change: with
 * hold_enc, an Encryption Change is held until the next Identity Address
 * Information from the controller has gone to the mux.
 */
static bool hold_enc;
static uint8_t held_enc[16];
static size_t held_enc_len;
/*
 * With hold_enc: the held Encryption Change goes to the mux at once, but
 * after a Pairing Failed from the device (the pairing ends between the
 * mux's LE Enable Encryption and its event).
 */
static bool fail_at_enc;

static void ctrl_emit(const uint8_t *h4, size_t len, void *user)
{
	uint8_t b[1100];

	if (hold_enc && !held_enc_len && len >= 2 && len <= sizeof(held_enc) &&
	    h4[0] == H4_EVT && h4[1] == HCI_EV_ENCRYPT_CHANGE) {
		memcpy(held_enc, h4, len);
		held_enc_len = len;
		if (fail_at_enc && len >= 6) {
			uint8_t f[11] = { H4_ACL, h4[4], (uint8_t)((h4[5] & 0x0f) | 0x20), 6, 0,
					  2, 0, 0x06, 0, 0x05, 0x08 };

			mux_ctrl_input(mx, f, sizeof(f));
			mux_ctrl_input(mx, held_enc, held_enc_len);
			held_enc_len = 0;
			hold_enc = fail_at_enc = false;
		}
		return;
	}
	if (held_enc_len && len >= 10 && h4[0] == H4_ACL && get_le16(h4 + 7) == 0x0006 &&
	    h4[9] == 0x09) {
		mux_ctrl_input(mx, h4, len);
		mux_ctrl_input(mx, held_enc, held_enc_len);
		held_enc_len = 0;
		hold_enc = false;
		return;
	}

	if (corrupt_code && len >= 11 && len <= sizeof(b) && h4[0] == H4_ACL &&
	    ((get_le16(h4 + 1) >> 12) & 0x3) != 0x1 && get_le16(h4 + 7) == 0x0006 &&
	    h4[9] == corrupt_code) {
		memcpy(b, h4, len);
		b[10] ^= 0x01;
		corrupt_code = 0;
		mux_ctrl_input(mx, b, len);
		return;
	}
	mux_ctrl_input(mx, h4, len);
}

static unsigned inquiries_sent;	/* physical Inquiry commands */
/* The mux's own Pairing Failed PDUs to devices: how many, the last reason. */
static unsigned dev_smp_failed;
static uint8_t dev_smp_reason;

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	if (len >= 4 && h4[0] == H4_CMD && get_le16(h4 + 1) == HCI_OP_INQUIRY)
		inquiries_sent++;
	if (len == 11 && h4[0] == H4_ACL && get_le16(h4 + 7) == 0x0006 && h4[9] == 0x05) {
		dev_smp_failed++;
		dev_smp_reason = h4[10];
	}

	return ctrl ? sim_ctrl_input(ctrl, h4, len) : -EPIPE;
}

/* The last log line that told the admin to pair at the gateway. */
static char admin_told[512];

static void quiet(int prio, const char *line, void *user)
{
	if (strstr(line, "bgw-muxd pair"))
		snprintf(admin_told, sizeof(admin_told), "%s", line);
	if (getenv("MUX_TEST_LOG"))
		fprintf(stderr, "log: %s\n", line);
}

static void wait_ready(void)
{
	unsigned i;

	for (i = 0; i < 5000 && !mux_is_ready(mx); i++)
		loop_iterate(lp, 10);
	ck_assert(mux_is_ready(mx));
}

/* The controller's LE buffers for the next env_up (0: the default). */
static uint16_t env_le_mtu;
static uint8_t env_le_pkts;

static void env_up_house(struct sim_house *h)
{
	struct sim_opts o = { .time_scale = 0.01, .seed = 7, .le_mtu = env_le_mtu,
			      .le_pkts = env_le_pkts };
	struct mux_ops ops = { ctrl_send, NULL, NULL, NULL };
	/* The mux measures inquiry lengths in the simulated controller's time. */
	struct mux_config cfg = { 4, 0, 0.01 };

	log_set_handler(quiet, NULL);
	lp = loop_new();
	ck_assert_ptr_nonnull(lp);
	air = sim_air_new(lp, h, &o);
	ck_assert_ptr_nonnull(air);
	ctrl = sim_ctrl_new(air, NULL, ctrl_emit, NULL);
	ck_assert_ptr_nonnull(ctrl);
	mx = mux_new(lp, &cfg, env_pol, &ops);
	env_pol = &pol;
	env_le_mtu = 0;
	env_le_pkts = 0;
	memset(&sbond, 0, sizeof(sbond));
	memset(&sle, 0, sizeof(sle));
	kid_revoked = false;
	admin_irk = false;
	corrupt_code = 0;
	memset(&refused, 0, sizeof(refused));
	hold_enc = false;
	held_enc_len = 0;
	fail_at_enc = false;
	h_own_random = false;
	h_after_pres = NULL;
	dev_smp_failed = 0;
	sle_fail = false;
	admin_told[0] = 0;
	host_acl_sent = host_credits = 0;
	lock_ra_static();
	ck_assert_ptr_nonnull(mx);
	mux_ctrl_up(mx);
	wait_ready();
}

static void env_up(void)
{
	env_up_house(sim_house_default());
}

static int to_mux(const uint8_t *h4, size_t len, void *user)
{
	int r;

	if (len >= 1 && h4[0] == H4_ACL)
		host_acl_sent++;
	r = mux_session_input(user, h4, len);

	return r == -EPIPE ? r : 0;
}

static int to_host(const uint8_t *h4, size_t len, void *user)
{
	unsigned i;

	if (sle.has && memmem(h4, len, sle.b.ltk, 16))
		sle.leaks++;
	if (len >= 4 && h4[0] == H4_EVT && h4[1] == HCI_EV_NUM_COMP_PKTS &&
	    len == 4u + 4u * h4[3])
		for (i = 0; i < h4[3]; i++)
			host_credits += get_le16(h4 + 4 + 2 + 4 * i);
	hostdrv_sink(h4, len, user);
	return 0;
}

static void host_up(struct shost *h, const char *user)
{
	h->d = hostdrv_new(lp);
	ck_assert_ptr_nonnull(h->d);
	h->s = mux_session_new(mx, user, to_host, h->d);
	ck_assert_ptr_nonnull(h->s);
	hostdrv_set_sender(h->d, to_mux, h->s);
	hostdrv_set_timeout(h->d, 10000);
}

static void host_down(struct shost *h)
{
	mux_session_free(h->s);
	h->s = NULL;
	hostdrv_free(h->d);
	h->d = NULL;
}

static void env_down(void)
{
	mux_free(mx);
	sim_ctrl_free(ctrl);
	ctrl = NULL;
	sim_air_free(air);
	loop_free(lp);
	log_set_handler(NULL, NULL);
}

static int cmd(struct shost *h, uint16_t op, const void *p, size_t plen, uint8_t *ret)
{
	uint8_t b[300];
	size_t n;
	int r = hostdrv_cmd_sync(h->d, op, p, plen, b, sizeof(b), &n);

	if (ret && r >= 0)
		memcpy(ret, b, n);
	return r;
}

static void host_init(struct shost *h, uint8_t bdaddr_out[6])
{
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	uint8_t ret[300];

	ck_assert_int_eq(cmd(h, HCI_OP_RESET, NULL, 0, NULL), 0);
	ck_assert_int_eq(cmd(h, HCI_OP_READ_LOCAL_FEATURES, NULL, 0, NULL), 0);
	ck_assert_int_eq(cmd(h, HCI_OP_READ_LOCAL_VERSION, NULL, 0, NULL), 0);
	ck_assert_int_eq(cmd(h, HCI_OP_READ_BD_ADDR, NULL, 0, ret), 0);
	if (bdaddr_out)
		memcpy(bdaddr_out, ret + 1, 6);
	ck_assert_int_eq(cmd(h, HCI_OP_READ_LOCAL_COMMANDS, NULL, 0, NULL), 0);
	ck_assert_int_eq(cmd(h, HCI_OP_READ_BUFFER_SIZE, NULL, 0, ret), 0);
	ck_assert_uint_ge(get_le16(ret + 4), 1);
	ck_assert_int_eq(cmd(h, HCI_OP_SET_EVENT_MASK, mask, 8, NULL), 0);
	ck_assert_int_eq(cmd(h, HCI_OP_WRITE_INQUIRY_MODE, "\x01", 1, NULL), 0);
}

/* Inquire; return a bitmask of which of the two BR/EDR devices were seen. */
static unsigned host_inquire_collect(struct shost *h)
{
	uint8_t b[300];
	size_t n;
	unsigned seen = 0, i;

	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_INQUIRY_COMPLETE, 0, b,
					    sizeof(b), &n), 0);
	for (i = 0; i < 64 && hostdrv_has_event(h->d, HCI_EV_INQUIRY_RESULT_RSSI, 0); i++) {
		hostdrv_wait_event(h->d, HCI_EV_INQUIRY_RESULT_RSSI, 0, b, sizeof(b), &n);
		if (b[6] == 0x10 && b[5] == 0xb6)
			seen |= 1u << b[1];
		else
			seen |= 0x80000000u;	/* anything else at all */
	}
	return seen;
}

static uint16_t host_connect(struct shost *h, uint8_t last)
{
	uint8_t p[13] = { 0 }, b[64];
	struct bdaddr a;
	size_t n;

	rd_addr(&a, last);
	memcpy(p, a.b, 6);
	ck_assert_int_eq(cmd(h, HCI_OP_CREATE_CONN, p, 13, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	return get_le16(b + 1);
}

static void host_echo(struct shost *h, uint16_t handle)
{
	uint8_t pdu[12], b[300];
	size_t n;

	memcpy(pdu, "\x08\x00\x01\x00\x08\x01\x04\x00ping", 12);
	ck_assert_int_eq(hostdrv_acl(h->d, handle, 0x02, pdu, 12), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(h->d, handle, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq(b[4], 0x09);	/* Echo Response */
}

START_TEST(sim_init_two_hosts_same_identity)
{
	struct shost a, b;
	uint8_t aa[6], ba[6];

	env_up();
	host_up(&a, "alice");
	host_up(&b, "bob");
	host_init(&a, aa);
	host_init(&b, ba);
	ck_assert_mem_eq(aa, ba, 6);
	host_down(&a);
	host_down(&b);
	env_down();
}
END_TEST

START_TEST(sim_two_inquiries_each_sees_its_devices)
{
	struct shost a, b;
	unsigned sa, sb;

	env_up();
	host_up(&a, "alice");
	host_up(&b, "bob");
	host_init(&a, NULL);
	host_init(&b, NULL);
	ck_assert_int_eq(cmd(&a, HCI_OP_INQUIRY, "\x33\x8b\x9e\x02\x00", 5, NULL), 0);
	ck_assert_int_eq(cmd(&b, HCI_OP_INQUIRY, "\x33\x8b\x9e\x02\x00", 5, NULL), 0);
	sa = host_inquire_collect(&a);
	sb = host_inquire_collect(&b);
	ck_assert_uint_eq(sa, 1u << BULB);
	ck_assert_uint_eq(sb, 1u << SPEAKER);
	host_down(&a);
	host_down(&b);
	env_down();
}
END_TEST

/*
 * Discovery joins (doc "Discovery"): bob joins alice's inquiry asking for
 * three times her length; she ends at hers, he at his, on the simulated
 * controller's clock (0.01: one 1.28 s unit is 12.8 ms), by a second
 * physical inquiry. Lower bounds only: a session never ends early.
 */
START_TEST(sim_inquiry_joiner_gets_its_length)
{
	static const uint64_t unit = 12800;
	struct shost a, b;
	uint8_t ev[300];
	uint64_t t0, tb0, ta, tb;
	size_t n;

	env_up();
	host_up(&a, "alice");
	host_up(&b, "bob");
	host_init(&a, NULL);
	host_init(&b, NULL);
	inquiries_sent = 0;
	t0 = loop_now_us();
	ck_assert_int_eq(cmd(&a, HCI_OP_INQUIRY, "\x33\x8b\x9e\x02\x00", 5, NULL), 0);
	tb0 = loop_now_us();
	ck_assert_int_eq(cmd(&b, HCI_OP_INQUIRY, "\x33\x8b\x9e\x06\x00", 5, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(a.d, HCI_EV_INQUIRY_COMPLETE, 0, ev, sizeof(ev), &n), 0);
	ta = loop_now_us();
	ck_assert(!hostdrv_has_event(b.d, HCI_EV_INQUIRY_COMPLETE, 0));
	ck_assert_int_eq(hostdrv_wait_event(b.d, HCI_EV_INQUIRY_COMPLETE, 0, ev, sizeof(ev), &n), 0);
	tb = loop_now_us();
	ck_assert_uint_eq(ev[0], 0);
	/* Each its own length, to within half a unit. */
	ck_assert_uint_ge(ta - t0, 2 * unit - unit / 2);
	ck_assert_uint_ge(tb - tb0, 6 * unit - unit / 2);
	ck_assert_uint_gt(tb, ta);
	ck_assert_uint_eq(inquiries_sent, 2);
	ck_assert(!hostdrv_has_event(a.d, HCI_EV_INQUIRY_COMPLETE, 0));
	host_down(&a);
	host_down(&b);
	env_down();
}
END_TEST

START_TEST(sim_reset_leaves_other_connection_up)
{
	struct shost a, b;
	uint16_t ha, hb;
	uint8_t p[2], ret[16];

	env_up();
	host_up(&a, "alice");
	host_up(&b, "bob");
	host_init(&a, NULL);
	host_init(&b, NULL);
	ha = host_connect(&a, BULB);
	hb = host_connect(&b, SPEAKER);
	host_echo(&a, ha);
	host_echo(&b, hb);
	/* alice resets: her link goes, bob's stays and still carries data. */
	ck_assert_int_eq(cmd(&a, HCI_OP_RESET, NULL, 0, NULL), 0);
	host_echo(&b, hb);
	put_le16(p, hb);
	ck_assert_int_eq(cmd(&b, HCI_OP_READ_RSSI, p, 2, ret), 0);
	put_le16(p, ha);
	ck_assert_int_eq(cmd(&a, HCI_OP_READ_RSSI, p, 2, ret), HCI_ST_UNKNOWN_CONN_ID);
	/*
	 * Each numbered its own link 0x0001 (doc "Handles"); bob has no
	 * other handle to touch.
	 */
	ck_assert_uint_eq(ha, 1);
	ck_assert_uint_eq(hb, 1);
	put_le16(p, hb + 1);
	ck_assert_int_eq(cmd(&b, HCI_OP_READ_RSSI, p, 2, ret), HCI_ST_UNKNOWN_CONN_ID);
	ck_assert(!hostdrv_has_event(b.d, HCI_EV_DISCONN_COMPLETE, 0));
	host_down(&a);
	host_down(&b);
	env_down();
}
END_TEST

START_TEST(sim_forbidden_device_refused)
{
	struct shost a;
	uint8_t p[13] = { 0 };
	struct bdaddr sp;
	bool cs;
	size_t n;
	uint8_t b[16];

	env_up();
	host_up(&a, "alice");
	host_init(&a, NULL);
	rd_addr(&sp, SPEAKER);
	memcpy(p, sp.b, 6);
	/* As a failed page: Command Status success, Connection Complete 0x0F. */
	ck_assert_int_eq(hostdrv_cmd_sync2(a.d, HCI_OP_CREATE_CONN, p, 13, b, sizeof(b), &n, &cs),
			 0);
	ck_assert(cs);
	ck_assert_int_eq(hostdrv_wait_event(a.d, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 11);
	ck_assert_uint_eq(b[0], HCI_ST_REJ_BAD_ADDR);
	ck_assert_uint_eq(get_le16(b + 1), 0);
	ck_assert_mem_eq(b + 3, sp.b, 6);
	host_down(&a);
	env_down();
}
END_TEST

START_TEST(sim_session_end_disconnects_its_links)
{
	struct shost c, b;
	struct mux_stats st;
	uint16_t hb;
	unsigned i;

	env_up();
	host_up(&c, "carol");
	host_up(&b, "bob");
	host_init(&c, NULL);
	host_init(&b, NULL);
	host_connect(&c, BULB);
	hb = host_connect(&b, SPEAKER);
	mux_get_stats(mx, &st);
	ck_assert_uint_eq(st.conns, 2);
	host_down(&c);
	for (i = 0; i < 2000; i++) {
		mux_get_stats(mx, &st);
		if (st.conns == 1)
			break;
		loop_iterate(lp, 5);
	}
	ck_assert_uint_eq(st.conns, 1);
	host_echo(&b, hb);
	host_down(&b);
	env_down();
}
END_TEST

START_TEST(sim_transport_loss_and_recovery)
{
	struct shost a;
	uint8_t b[16];
	size_t n;

	env_up();
	host_up(&a, "alice");
	host_init(&a, NULL);
	host_connect(&a, BULB);
	/* The controller goes away (USB unplug, socket closed). */
	sim_ctrl_free(ctrl);
	ctrl = NULL;
	mux_ctrl_down(mx);
	ck_assert_int_eq(hostdrv_wait_event(a.d, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_int_eq(hostdrv_wait_event(a.d, HCI_EV_HARDWARE_ERROR, 0, b, sizeof(b), &n), 0);
	/* It comes back; the host re-initialises as Linux does after 0x10. */
	ctrl = sim_ctrl_new(air, NULL, ctrl_emit, NULL);
	ck_assert_ptr_nonnull(ctrl);
	mux_ctrl_up(mx);
	wait_ready();
	host_init(&a, NULL);
	host_echo(&a, host_connect(&a, BULB));
	host_down(&a);
	env_down();
}
END_TEST

static void sim_al_add(struct shost *h, uint8_t last)
{
	uint8_t p[7] = { 0 };
	struct bdaddr a;

	rd_addr(&a, last);
	memcpy(p + 1, a.b, 6);
	ck_assert_int_eq(cmd(h, HCI_OP_LE_ADD_TO_ACCEPT_LIST, p, 7, NULL), 0);
}

static void sim_le_connect_al(struct shost *h)
{
	uint8_t p[25] = { 0 };

	put_le16(p, 0x60);
	put_le16(p + 2, 0x30);
	p[4] = 0x01;	/* Initiator_Filter_Policy: the accept list */
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(cmd(h, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
}

/* Wait for LE Connection Complete: the status; *peer_last. */
static int sim_le_conn_wait(struct shost *h, uint8_t *peer_last)
{
	uint8_t b[64];
	size_t n;

	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 18);
	if (peer_last)
		*peer_last = b[5];
	return b[0];
}

/*
 * bluetoothd's auto-reconnect: LE Create Connection over the accept list,
 * with the sim's real initiator. Alice lists the bulb and the thermometer
 * (not hers); dave lists the thermometer. Each gets only its own device;
 * carol, waiting for a device that never advertises, cancels her part.
 */
START_TEST(sim_le_accept_list_connect_each_its_own)
{
	struct shost a, d, c;
	uint8_t last;

	env_up();
	host_up(&a, "alice");
	host_up(&d, "dave");
	host_up(&c, "carol");
	host_init(&a, NULL);
	host_init(&d, NULL);
	host_init(&c, NULL);
	sim_al_add(&a, BULB);
	sim_al_add(&a, THERMO);
	sim_al_add(&d, THERMO);
	sim_al_add(&c, SPEAKER);	/* BR/EDR only: no LE connection ever */
	sim_le_connect_al(&c);
	sim_le_connect_al(&a);
	sim_le_connect_al(&d);
	ck_assert_int_eq(sim_le_conn_wait(&a, &last), 0);
	ck_assert_uint_eq(last, BULB);
	ck_assert_int_eq(sim_le_conn_wait(&d, &last), 0);
	ck_assert_uint_eq(last, THERMO);
	/* Nothing else reached them; carol still waits. */
	hostdrv_run(a.d, 50);
	ck_assert(!hostdrv_has_event(a.d, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE));
	ck_assert(!hostdrv_has_event(c.d, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE));
	ck_assert_int_eq(cmd(&c, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL), 0);
	ck_assert_int_eq(sim_le_conn_wait(&c, NULL), HCI_ST_UNKNOWN_CONN_ID);
	/* And the sim is idle again: a new direct initiation is accepted. */
	ck_assert_int_eq(cmd(&c, HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, NULL),
			 HCI_ST_COMMAND_DISALLOWED);
	host_down(&a);
	host_down(&d);
	host_down(&c);
	env_down();
}
END_TEST

static void host_disconnect(struct shost *h, uint16_t handle)
{
	uint8_t p[3], b[64];
	size_t n;

	put_le16(p, handle);
	p[2] = 0x13;
	ck_assert_int_eq(cmd(h, HCI_OP_DISCONNECT, p, 3, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n), 0);
}

/* One connection of h to the speaker, authenticated and encrypted. */
static int host_auth_once(struct shost *h, struct hostauth_bond *bd)
{
	struct bdaddr sp;
	uint16_t handle;
	int st;

	rd_addr(&sp, SPEAKER);
	handle = host_connect(h, SPEAKER);
	st = hostauth_run(h->d, handle, sp.b, bd);
	host_disconnect(h, handle);
	return st;
}

/*
 * Today's failure, reproduced with the simulated speaker (one bond per
 * central address, as real devices keep): without the broker, carol
 * pairs, bob pairs, and carol's next authentication fails with
 * Authentication Failure (0x05), her host dropping its bond.
 */
START_TEST(sim_without_bonds_last_pairing_wins)
{
	struct hostauth_bond bc = { 0 }, bb = { 0 };
	struct shost c, b;

	env_up();
	host_up(&c, "carol");
	host_up(&b, "bob");
	host_init(&c, NULL);
	host_init(&b, NULL);
	ck_assert_int_eq(host_auth_once(&c, &bc), 0);
	ck_assert(bc.has);
	ck_assert_int_eq(host_auth_once(&b, &bb), 0);
	ck_assert_int_eq(host_auth_once(&c, &bc), HCI_ST_AUTH_FAILURE);
	ck_assert(!bc.has);
	host_down(&c);
	host_down(&b);
	env_down();
}
END_TEST

/*
 * With the broker: carol pairs the speaker once; then carol and bob
 * connect in turn, ten times each, and every authentication and
 * encryption succeeds; neither host is asked for a key again, and the
 * key carol's host stored is not the speaker's.
 */
START_TEST(sim_household_bond_every_user_in_turn)
{
	struct hostauth_bond bc = { 0 }, bb = { 0 };
	struct shost c, b;
	unsigned i;

	env_pol = &pol_bonds;
	env_up();
	host_up(&c, "carol");
	host_up(&b, "bob");
	host_init(&c, NULL);
	host_init(&b, NULL);
	ck_assert_int_eq(host_auth_once(&c, &bc), 0);
	ck_assert(bc.has && sbond.has);
	ck_assert_uint_eq(sbond.news, 1);
	ck_assert(memcmp(bc.key, sbond.key, 16) != 0);
	ck_assert_uint_eq(bc.type, sbond.type);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(host_auth_once(&b, &bb), 0);
		ck_assert_int_eq(host_auth_once(&c, &bc), 0);
	}
	ck_assert_uint_eq(bc.lkr, 1);	/* only before the first pairing */
	ck_assert_uint_eq(bb.lkr, 0);
	ck_assert(!bb.has);		/* bob's host never got a key */
	ck_assert_uint_eq(sbond.news, 1);
	host_down(&c);
	host_down(&b);
	env_down();
}
END_TEST

/* ---------------------------------------------------------------- LE bonds */

/* What a host keeps of an LE bond, as BlueZ does (its ltks, irks). */
struct le_hbond {
	bool has;
	uint8_t ltk[16];
	uint16_t ediv;
	uint8_t rand[8];
	bool has_id;		/* the device's Identity (Address) Information */
	uint8_t irk[16];
	uint8_t id[7];		/* type, address */
};

static uint16_t host_le_connect_lock(struct shost *h)
{
	uint8_t p[25] = { 0 }, b[64];
	size_t n;

	put_le16(p, 0x60);
	put_le16(p + 2, 0x60);
	p[5] = 0x01;			/* a random address: static or private */
	memcpy(p + 6, lock_ra.b, 6);
	p[12] = h_own_random ? 0x01 : 0x00;
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(cmd(h, HCI_OP_LE_CREATE_CONN, p, 25, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	return get_le16(b + 1);
}

static void h_smp_send(struct shost *h, uint16_t hd, const uint8_t *p, size_t n)
{
	uint8_t pdu[32];

	put_le16(pdu, (uint16_t)n);
	put_le16(pdu + 2, 0x0006);
	memcpy(pdu + 4, p, n);
	ck_assert_int_eq(hostdrv_acl(h->d, hd, 0x00, pdu, n + 4), 0);
}

/* The next SMP PDU to h: its length (0: none within the wait). */
static size_t h_smp_recv(struct shost *h, uint16_t hd, uint8_t *p)
{
	uint8_t pdu[64];
	size_t n;

	if (hostdrv_wait_l2cap(h->d, hd, pdu, sizeof(pdu), &n) != 0)
		return 0;
	ck_assert_uint_eq(get_le16(pdu + 2), 0x0006);
	ck_assert_uint_le(n - 4, 17);
	memcpy(p, pdu + 4, n - 4);
	return n - 4;
}

/* LE Enable Encryption (7.8.24): the Encryption Change status. */
static int h_encrypt(struct shost *h, uint16_t hd, const uint8_t rand[8], uint16_t ediv,
		     const uint8_t ltk[16])
{
	uint8_t p[28], b[64];
	size_t n;

	put_le16(p, hd);
	memcpy(p + 2, rand, 8);
	put_le16(p + 10, ediv);
	memcpy(p + 12, ltk, 16);
	ck_assert_int_eq(cmd(h, HCI_OP_LE_START_ENCRYPTION, p, 28, NULL), 0);
	if (hostdrv_wait_event(h->d, HCI_EV_ENCRYPT_CHANGE, 0, b, sizeof(b), &n) != 0)
		return -1;
	return b[0];
}

/*
 * Linux's LE legacy pairing as central (smp.c): Pairing Request
 * (NoInputNoOutput... here KeyboardDisplay as BlueZ's agent says,
 * bonding, SC offered, EncKey and IdKey both ways), confirm and random
 * with c1, encryption with the STK, then the device's keys. Returns the
 * Encryption Change status (or 0x100 + SMP reason).
 */
static int h_pair(struct shost *h, uint16_t hd, struct le_hbond *bd)
{
	static const uint8_t tk[16];
	uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x03, 0x03 };
	uint8_t pres[7], mrand[16], b[17], conf[16], chk[16], stk[16], ia[6], ra[6];
	static const uint8_t zero[8];
	size_t n;
	int st;

	ck_assert_int_eq(cmd(h, HCI_OP_READ_BD_ADDR, NULL, 0, b), 0);
	memcpy(ia, h_own_random ? h_own_ra : b + 1, 6);
	memcpy(ra, lock_ra.b, 6);
	h_smp_send(h, hd, preq, 7);
	n = h_smp_recv(h, hd, b);
	if (n == 2)
		return 0x100 + b[1];
	ck_assert_uint_eq(n, 7);
	memcpy(pres, b, 7);
	if (h_after_pres)
		h_after_pres();
	ck_assert_uint_eq(n, 7);
	ck_assert_uint_eq(pres[0], 0x02);
	ck_assert_uint_eq(pres[3] & 0x08, 0);	/* legacy: SC not agreed */
	ck_assert_int_eq(getrandom(mrand, 16, 0), 16);
	b[0] = 0x03;
	ck_assert_int_eq(smp_c1(tk, mrand, preq, pres, h_own_random, ia, 1, ra, b + 1), 0);
	h_smp_send(h, hd, b, 17);
	ck_assert_uint_eq(h_smp_recv(h, hd, b), 17);
	ck_assert_uint_eq(b[0], 0x03);
	memcpy(conf, b + 1, 16);
	b[0] = 0x04;
	memcpy(b + 1, mrand, 16);
	h_smp_send(h, hd, b, 17);
	n = h_smp_recv(h, hd, b);
	if (n == 2)
		return 0x100 + b[1];
	ck_assert_uint_eq(b[0], 0x04);
	/* The responder's confirm matches its random (2.3.5.5). */
	ck_assert_int_eq(smp_c1(tk, b + 1, preq, pres, h_own_random, ia, 1, ra, chk), 0);
	ck_assert_mem_eq(chk, conf, 16);
	ck_assert_int_eq(smp_s1(tk, b + 1, mrand, stk), 0);
	memset(stk + pres[4], 0, 16 - pres[4]);
	st = h_encrypt(h, hd, zero, 0, stk);
	if (st)
		return st;
	ck_assert_uint_eq(h_smp_recv(h, hd, b), 17);
	ck_assert_uint_eq(b[0], 0x06);
	memcpy(bd->ltk, b + 1, 16);
	ck_assert_uint_eq(h_smp_recv(h, hd, b), 11);
	ck_assert_uint_eq(b[0], 0x07);
	bd->ediv = get_le16(b + 1);
	memcpy(bd->rand, b + 3, 8);
	bd->has = true;
	if (pres[6] & 0x02) {
		/* Its identity follows (3.6.4-3.6.5), as from the device. */
		ck_assert_uint_eq(h_smp_recv(h, hd, b), 17);
		ck_assert_uint_eq(b[0], 0x08);
		memcpy(bd->irk, b + 1, 16);
		ck_assert_uint_eq(h_smp_recv(h, hd, b), 8);
		ck_assert_uint_eq(b[0], 0x09);
		memcpy(bd->id, b + 1, 7);
		bd->has_id = true;
	}
	return 0;
}

/* The bolt (0x2a56) read: the ATT opcode of the answer (0x09 read, 0x01 error). */
static uint8_t h_read_bolt(struct shost *h, uint16_t hd)
{
	uint8_t pdu[12], b[64];
	size_t n;

	memcpy(pdu, "\x07\x00\x04\x00\x08\x01\x00\xff\xff\x56\x2a", 11);
	ck_assert_int_eq(hostdrv_acl(h->d, hd, 0x00, pdu, 11), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(h->d, hd, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(get_le16(b + 2), 0x0004);
	return b[4];
}

/* One use of the lock: connect, encrypt with the bond or pair, read the bolt. */
static int lock_use(struct shost *h, struct le_hbond *bd)
{
	uint16_t hd = host_le_connect_lock(h);
	int st;

	if (bd->has) {
		st = h_encrypt(h, hd, bd->rand, bd->ediv, bd->ltk);
		if (st == HCI_ST_PIN_OR_KEY_MISSING)
			bd->has = false;	/* BlueZ drops the key, pairs next time */
	} else {
		st = h_pair(h, hd, bd);
	}
	if (st == 0)
		ck_assert_uint_eq(h_read_bolt(h, hd), 0x09);
	host_disconnect(h, hd);
	return st;
}

/*
 * Today's LE failure with the simulated lock (one bond per central, as
 * real devices keep): without the broker, mum pairs, the kid pairs, and
 * mum's next encryption fails with PIN or Key Missing (0x06).
 */
START_TEST(sim_le_without_bonds_last_pairing_wins)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct shost m, k;

	env_up();
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_int_eq(lock_use(&k, &bk), 0);
	ck_assert_int_eq(lock_use(&m, &bm), HCI_ST_PIN_OR_KEY_MISSING);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * With the LE broker: mum pairs the lock once (the device's LTK kept,
 * her host given one of its own); then the kid pairs (answered by the
 * mux, never reaching the lock) and both take turns, ten rounds, each
 * encrypting with the key its host stored and reading the bolt. The
 * household LTK reaches no host.
 */
START_TEST(sim_le_household_bond_every_user_in_turn)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct shost m, k;
	unsigned i;

	env_pol = &pol_bonds_le;
	env_up();
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(bm.has && sle.has);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_str_eq(sle.by, "mum");
	ck_assert_uint_eq(sle.type, 1);
	ck_assert_uint_eq(sle.b.key_size, 16);
	ck_assert(!sle.b.authenticated);
	ck_assert(memcmp(bm.ltk, sle.b.ltk, 16) != 0);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(lock_use(&k, &bk), 0);
		ck_assert(bk.has);
		ck_assert_int_eq(lock_use(&m, &bm), 0);
	}
	ck_assert(memcmp(bk.ltk, sle.b.ltk, 16) != 0);
	ck_assert(memcmp(bk.ltk, bm.ltk, 16) != 0);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_uint_eq(sle.leaks, 0);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * The grant is checked at each use: with the kid's grant withdrawn (and
 * the policy not yet told, so his link stays), his encryption is not
 * given the household key, and the lock refuses his own.
 */
START_TEST(sim_le_household_bond_not_for_a_revoked_user)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct shost m, k;
	uint16_t hd;

	env_pol = &pol_bonds_le;
	env_up();
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_int_eq(lock_use(&k, &bk), 0);
	hd = host_le_connect_lock(&k);
	kid_revoked = true;
	ck_assert_int_eq(h_encrypt(&k, hd, bk.rand, bk.ediv, bk.ltk), HCI_ST_PIN_OR_KEY_MISSING);
	kid_revoked = false;
	host_disconnect(&k, hd);
	/* Mum is unaffected. */
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_uint_eq(sle.leaks, 0);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * The pairing the mux answers for the lock is checked as a device would:
 * its Pairing Response (NoInputNoOutput, no SC, the household key's
 * size, the lock's EncKey only, nothing asked of the host), a random
 * that does not match the host's confirm fails with Confirm Value
 * Failed (0x04), a Secure Connections PDU with Command Not Supported
 * (0x07); and each host packet it takes comes back as a credit
 * (Number Of Completed Packets), none of them reaching the lock.
 */
START_TEST(sim_le_pairing_answered_checks_confirm)
{
	struct le_hbond bm = { 0 };
	static const uint8_t tk[16];
	uint8_t preq[7] = { 0x01, 0x04, 0x00, 0x0d, 0x10, 0x0f, 0x0f };
	uint8_t b[65], ia[6], ra[6], mrand[16];
	struct shost m, k;
	unsigned credits = 0, i;
	size_t n;
	uint16_t hd;

	env_pol = &pol_bonds_le;
	env_up();
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, ia);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	rd_addr((struct bdaddr *)ra, LOCK);
	ra[5] = 0xc0;
	hd = host_le_connect_lock(&k);
	hostdrv_run(k.d, 20);
	while (hostdrv_has_event(k.d, HCI_EV_NUM_COMP_PKTS, 0))
		hostdrv_wait_event(k.d, HCI_EV_NUM_COMP_PKTS, 0, b, sizeof(b), &n);
	h_smp_send(&k, hd, preq, 7);
	ck_assert_uint_eq(h_smp_recv(&k, hd, b), 7);
	ck_assert_mem_eq(b, "\x02\x03\x00\x01\x10\x00\x01", 7);
	memset(mrand, 0x33, 16);
	b[0] = 0x03;
	ck_assert_int_eq(smp_c1(tk, mrand, preq, (const uint8_t *)"\x02\x03\x00\x01\x10\x00\x01",
				0, ia, 1, ra, b + 1), 0);
	h_smp_send(&k, hd, b, 17);
	ck_assert_uint_eq(h_smp_recv(&k, hd, b), 17);
	ck_assert_uint_eq(b[0], 0x03);
	mrand[0] ^= 1;				/* not the random of its confirm */
	b[0] = 0x04;
	memcpy(b + 1, mrand, 16);
	h_smp_send(&k, hd, b, 17);
	ck_assert_uint_eq(h_smp_recv(&k, hd, b), 2);
	ck_assert_mem_eq(b, "\x05\x04", 2);
	/* A Pairing Public Key (3.5.6) from a host that was refused SC. */
	memset(b, 0, sizeof(b));
	b[0] = 0x0c;
	h_smp_send(&k, hd, b, 17);
	ck_assert_uint_eq(h_smp_recv(&k, hd, b), 2);
	ck_assert_mem_eq(b, "\x05\x07", 2);
	/* Four packets taken, four credits back. */
	for (i = 0; i < 10 && credits < 4; i++) {
		if (hostdrv_wait_event(k.d, HCI_EV_NUM_COMP_PKTS, 0, b, sizeof(b), &n) != 0)
			break;
		ck_assert_uint_eq(get_le16(b + 1), hd);
		credits += get_le16(b + 3);
	}
	ck_assert_uint_eq(credits, 4);
	host_disconnect(&k, hd);
	/* The lock still holds mum's bond. */
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_uint_eq(sle.news, 1);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * Locks that pair with LE Secure Connections only (bgw-sim(5) pairing
 * sc-only): one without IO (Just Works), one whose user types a passkey.
 */
static const char sclock_house[] =
	"device lock\n"
	" address C0:B6:00:00:00:01 random\n type le\n name SC Lock\n"
	" pairing sc-only\n io-capability none\n"
	" service 1815\n characteristic 2a56 read,write,encrypt 01\n";
static const char pklock_house[] =
	"device lock\n"
	" address C0:B6:00:00:00:01 random\n type le\n name Keypad Lock\n"
	" pairing sc-only\n io-capability keyboard\n passkey 012345\n"
	" service 1815\n characteristic 2a56 read,write,encrypt 01\n";

static void env_up_text(const char *name, const char *text)
{
	struct sim_house *house = NULL;
	char err[128];

	ck_assert_int_eq(sim_house_parse_buf(name, text, strlen(text), &house,
					     err, sizeof(err)), 0);
	env_up_house(house);
}

/*
 * An LE Secure Connections lock first paired from a user's host: the
 * mux pairs with it itself (Just Works), keeps the LTK it derived as the
 * household bond (the one the lock keeps for the gateway, EDIV and Rand
 * 0), and answers mum's waiting host with the stand-in; then the kid,
 * whose host never paired the lock, pairs (answered by the mux) and both
 * take turns, ten rounds, reading the bolt over links encrypted with the
 * household key. No host ever receives it, and no host is credited for
 * a packet it did not send (the mux's own SMP to the lock).
 */
START_TEST(sim_le_sc_household_bond_every_user_in_turn)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct shost m, k;
	unsigned i;

	env_pol = &pol_bonds_le;
	env_up_text("sclock", sclock_house);
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(bm.has && sle.has);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_str_eq(sle.by, "mum");
	ck_assert_uint_eq(sle.type, 1);
	ck_assert_uint_eq(sle.b.key_size, 16);
	ck_assert(!sle.b.authenticated);
	ck_assert_uint_eq(sle.b.ediv, 0);
	ck_assert(memcmp(bm.ltk, sle.b.ltk, 16) != 0);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(lock_use(&k, &bk), 0);
		ck_assert(bk.has);
		ck_assert_int_eq(lock_use(&m, &bm), 0);
	}
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_uint_eq(sle.leaks, 0);
	ck_assert_uint_eq(dev_smp_failed, 0);
	ck_assert_uint_le(host_credits, host_acl_sent);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * The same first pairing from a host that leaves Encryption Key Refresh
 * Complete masked, as Linux does on a BR/EDR controller without Pause
 * Encryption (its mask byte 5 without bit 47): the host's encryption on
 * the link the mux already encrypted still ends in the Encryption Change
 * it waits for, so the mux unmasks the event at the controller itself.
 */
START_TEST(sim_le_sc_takeover_host_masks_key_refresh)
{
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0x78, 0xbf, 0x3d };
	struct le_hbond bm = { 0 };
	struct shost m;

	env_pol = &pol_bonds_le;
	env_up_text("sclock", sclock_house);
	host_up(&m, "mum");
	host_init(&m, NULL);
	ck_assert_int_eq(cmd(&m, HCI_OP_SET_EVENT_MASK, mask, 8, NULL), 0);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(bm.has && sle.has);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_uint_eq(sle.leaks, 0);
	host_down(&m);
	env_down();
}
END_TEST

/*
 * An LE Secure Connections lock that needs a passkey: numeric comparison
 * and passkey entry cannot be carried across the mux, so mum's pairing
 * is refused on both sides (Authentication Requirements, 0x03), nothing
 * is kept, and the log tells the admin to pair it at the gateway; the
 * audit record (and log line) of a host that asks again and again is
 * rate-limited as ACL denials are.
 */
START_TEST(sim_le_sc_passkey_device_refused)
{
	uint8_t preq[7] = { 0x01, 0x04, 0x00, 0x0d, 0x10, 0x00, 0x03 }, b[17];
	struct shost m;
	unsigned i;
	uint16_t hd;

	env_pol = &pol_bonds_le;
	env_up_text("pklock", pklock_house);
	host_up(&m, "mum");
	host_init(&m, NULL);
	hd = host_le_connect_lock(&m);
	h_smp_send(&m, hd, preq, 7);
	ck_assert_uint_eq(h_smp_recv(&m, hd, b), 2);
	ck_assert_mem_eq(b, "\x05\x03", 2);
	ck_assert_uint_eq(dev_smp_failed, 1);
	ck_assert_uint_eq(dev_smp_reason, 0x03);
	ck_assert(!sle.has);
	ck_assert_ptr_nonnull(strstr(admin_told, "bgw-muxd pair C0:B6:00:00:00:01 random"));
	ck_assert_ptr_nonnull(strstr(admin_told, "session"));
	ck_assert_ptr_nonnull(strstr(admin_told, "(mum)"));
	/* ... and an audit record, by mum, for the lock, saying what to do. */
	ck_assert_uint_eq(refused.n, 1);
	ck_assert_str_eq(refused.user, "mum");
	ck_assert(bdaddr_eq(&refused.a, &lock_ra));
	ck_assert_uint_eq(refused.type, BDADDR_RANDOM);
	ck_assert_ptr_nonnull(strstr(refused.why, "bgw-muxd pair"));
	/* A host asking again and again: refused each time, audited 16. */
	for (i = 0; i < 20; i++) {
		h_smp_send(&m, hd, preq, 7);
		ck_assert_uint_eq(h_smp_recv(&m, hd, b), 2);
		ck_assert_mem_eq(b, "\x05\x03", 2);
	}
	ck_assert_uint_eq(dev_smp_failed, 21);
	ck_assert_uint_eq(refused.n, 16);
	host_disconnect(&m, hd);
	host_down(&m);
	env_down();
}
END_TEST

/*
 * The lock misbehaves in the mux's pairing with it: a public key off
 * the curve (the invalid-curve attack, CVE-2018-5383), then a wrong
 * DHKey check. Each time both sides get Pairing Failed (DHKey Check
 * Failed, 0x0b) and nothing is kept; then an honest pairing succeeds.
 */
START_TEST(sim_le_sc_device_failure_nothing_kept)
{
	struct le_hbond bm = { 0 };
	static const uint8_t codes[2] = { 0x0c, 0x0d };
	struct shost m;
	unsigned i;

	env_pol = &pol_bonds_le;
	env_up_text("sclock", sclock_house);
	host_up(&m, "mum");
	host_init(&m, NULL);
	for (i = 0; i < 2; i++) {
		corrupt_code = codes[i];
		ck_assert_int_eq(lock_use(&m, &bm), 0x100 + 0x0b);
		ck_assert_uint_eq(corrupt_code, 0);	/* it was corrupted */
		ck_assert_uint_eq(dev_smp_failed, i + 1);
		ck_assert_uint_eq(dev_smp_reason, 0x0b);
		ck_assert(!sle.has && !bm.has);
	}
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(sle.has && bm.has);
	ck_assert_uint_eq(sle.leaks, 0);
	host_down(&m);
	env_down();
}
END_TEST

/*
 * The mux's own SMP with the lock through a controller with the least LE
 * buffers a controller may have (27 octets, Vol 4 Part E 7.8.2) and two
 * of them: its public key goes in three fragments as credits come back,
 * never mixed with the host's packets, and the credits for them never
 * reach the host.
 */
START_TEST(sim_le_sc_small_le_buffers)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct shost m, k;

	env_pol = &pol_bonds_le;
	env_le_mtu = 27;
	env_le_pkts = 2;
	env_up_text("sclock", sclock_house);
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(sle.has);
	ck_assert_int_eq(lock_use(&k, &bk), 0);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_uint_eq(sle.leaks, 0);
	ck_assert_uint_le(host_credits, host_acl_sent);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * The lock fails the pairing (Pairing Failed, Unspecified Reason) after
 * the mux's LE Enable Encryption went and before its Encryption Change
 * came: mum's host is told Pairing Failed, nothing is kept, and the
 * Encryption Change of the mux's command never reaches her host, which
 * asked for no encryption.
 */
START_TEST(sim_le_sc_failed_before_the_mux_encryption_change)
{
	struct le_hbond bm = { 0 };
	uint8_t b[16];
	struct shost m;
	uint16_t hd;

	env_pol = &pol_bonds_le;
	env_up_text("sclock", sclock_house);
	host_up(&m, "mum");
	host_init(&m, NULL);
	hold_enc = fail_at_enc = true;
	hd = host_le_connect_lock(&m);
	ck_assert_int_eq(h_pair(&m, hd, &bm), 0x100 + 0x08);
	ck_assert(!fail_at_enc);		/* it happened */
	ck_assert(!sle.has);
	/* A round trip: whatever the mux had for her host has come. */
	ck_assert_int_eq(cmd(&m, HCI_OP_READ_BD_ADDR, NULL, 0, b), 0);
	ck_assert(!hostdrv_has_event(m.d, HCI_EV_ENCRYPT_CHANGE, 0));
	host_disconnect(&m, hd);
	host_down(&m);
	env_down();
}
END_TEST

/*
 * The bond store refuses the LE Secure Connections key: the lock is told
 * Pairing Failed, before any key of the gateway's would complete its
 * pairing (it keeps no bond the household lacks), and so is mum's host;
 * the next pairing, the store working, keeps the bond.
 */
START_TEST(sim_le_sc_bond_kept_before_the_gateways_keys)
{
	struct le_hbond bm = { 0 };
	struct shost m;

	env_pol = &pol_bonds_le;
	env_up_text("sclock", sclock_house);
	host_up(&m, "mum");
	host_init(&m, NULL);
	sle_fail = true;
	ck_assert_int_eq(lock_use(&m, &bm), 0x100 + 0x08);
	ck_assert(!sle_fail && !sle.has);
	ck_assert_uint_eq(dev_smp_failed, 1);
	ck_assert_uint_eq(dev_smp_reason, 0x08);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(sle.has && bm.has);
	ck_assert_uint_eq(dev_smp_failed, 1);
	host_down(&m);
	env_down();
}
END_TEST

/* The private lock of plock_house, pairing with Secure Connections only. */
static const char scplock_house[] =
	"device plock\n"
	" address C0:B6:00:00:00:05 random\n type le\n name Private SC Lock\n"
	" irk 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n pairing sc-only\n io-capability none\n"
	" service 1815\n characteristic 2a56 read,write,encrypt 01\n";

/*
 * An LE Secure Connections lock on private addresses: the mux's pairing
 * with it keeps the bond under the identity the lock distributes, with
 * its IRK, as a legacy first pairing does; those keys come before the
 * Encryption Change event here (as they may over USB) and are used once
 * it has come. Mum's host, answered by the stand-in, learns the lock's
 * identity and IRK; the kid then reaches the lock by the bond's IRK.
 */
START_TEST(sim_le_sc_private_lock_identity_before_encryption_change)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct sim_house *house = NULL;
	struct sim_rd_cfg *d;
	struct shost m, k;
	struct bdaddr id;
	char err[128];

	ck_assert_int_eq(sim_house_parse_buf("scplock", scplock_house, strlen(scplock_house),
					     &house, err, sizeof(err)), 0);
	d = &house->rd[0];
	env_pol = &pol_bonds_le_rpa;
	env_up_house(house);
	admin_irk = true;
	lock_ra = d->addr;
	rd_addr(&id, PLOCK);
	id.b[5] = 0xc0;
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	hold_enc = true;
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(!hold_enc);			/* the event was held */
	ck_assert(sle.has && sle.b.has_irk);
	ck_assert(bdaddr_eq(&sle.a, &id));
	ck_assert_uint_eq(sle.type, BDADDR_RANDOM);
	ck_assert_uint_eq(sle.b.irk[0], 0xf0);
	ck_assert(bm.has && bm.has_id);
	ck_assert_mem_eq(bm.id + 1, id.b, 6);
	ck_assert_mem_eq(bm.irk, sle.b.irk, 16);
	admin_irk = false;
	ck_assert_int_eq(sim_rd_new_rpa(d, 0x2468), 0);
	lock_ra = d->addr;
	ck_assert_int_eq(lock_use(&k, &bk), 0);
	ck_assert(bk.has_id);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_uint_eq(sle.leaks, 0);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * The stand-in's c1 takes the address the link was made from: the kid's
 * host connects from a random address it set, then sets another (as
 * BlueZ does when its private address rotates) before pairing; its
 * Pairing Confirm, made with the first, is accepted. And the household
 * bond is looked up whole once per pairing (at the Pairing Request),
 * once per encryption, never once per host SMP PDU.
 */
START_TEST(sim_le_stand_in_uses_the_links_address_and_looks_up_once)
{
	static const uint8_t r1[6] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0xc6 };
	static const uint8_t r2[6] = { 0x66, 0x77, 0x88, 0x99, 0xaa, 0xc7 };
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct shost m, k;
	uint16_t hd;

	env_pol = &pol_bonds_le;
	env_up();
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert_int_eq(cmd(&k, HCI_OP_LE_SET_RANDOM_ADDR, r1, 6, NULL), 0);
	h_own_random = true;
	memcpy(h_own_ra, r1, 6);
	hd = host_le_connect_lock(&k);
	ck_assert_int_eq(cmd(&k, HCI_OP_LE_SET_RANDOM_ADDR, r2, 6, NULL), 0);
	sle.lookups = sle.null_lookups = 0;
	/*
	 * Its confirm and random were accepted (not Confirm Value Failed,
	 * 0x104); the lock then refuses the household key because it keeps
	 * its bond for the central address it paired with, the gateway's
	 * public one, and this link is from a random address
	 * (doc/virtual-controller.md, "Not yet built (LE)").
	 */
	ck_assert_int_eq(h_pair(&k, hd, &bk), HCI_ST_PIN_OR_KEY_MISSING);
	/* The Pairing Request, the encryption: nothing more. */
	ck_assert_uint_eq(sle.null_lookups, 0);
	ck_assert_uint_le(sle.lookups, 2);
	host_disconnect(&k, hd);
	ck_assert_uint_eq(sle.leaks, 0);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

static void bond_loses_irk(void)
{
	sle.b.has_irk = false;
	memset(sle.b.irk, 0, sizeof(sle.b.irk));
}

/*
 * The stand-in keeps its promise: its Pairing Response promised the
 * kid's host the lock's identity (IdKey, the household bond having the
 * IRK); the store changes before the encryption, and the identity and
 * IRK promised are sent all the same (the host would otherwise wait for
 * them until its SMP timeout).
 */
START_TEST(sim_le_stand_in_keeps_the_identity_promised)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct sim_house *house = NULL;
	struct shost m, k;
	struct bdaddr id;
	uint8_t irk[16];
	char err[128];

	ck_assert_int_eq(sim_house_parse_buf("plock", plock_house, strlen(plock_house),
					     &house, err, sizeof(err)), 0);
	lock_ra = house->rd[0].addr;
	env_pol = &pol_bonds_le_rpa;
	env_up_house(house);
	admin_irk = true;
	lock_ra = house->rd[0].addr;
	rd_addr(&id, PLOCK);
	id.b[5] = 0xc0;
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(sle.has && sle.b.has_irk);
	memcpy(irk, sle.b.irk, 16);
	h_after_pres = bond_loses_irk;
	ck_assert_int_eq(lock_use(&k, &bk), 0);
	ck_assert(bk.has && bk.has_id);
	ck_assert_uint_eq(bk.id[0], 0x01);
	ck_assert_mem_eq(bk.id + 1, id.b, 6);
	ck_assert_mem_eq(bk.irk, irk, 16);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * A lock on resolvable private addresses (doc/virtual-controller.md,
 * "Private addresses"; bgw-sim(5) irk). Mum reaches it the first time
 * through the admin's IRK and pairs: the lock distributes its IRK and
 * identity after its LTK, and the household bond is kept under the
 * identity with the IRK, not under the private address it paired from;
 * her host still gets the lock's identity, and a random LTK. Then the
 * admin's IRK is gone, and the lock takes a new private address before
 * every connection: the bond's IRK alone lets the kid reach it, his
 * pairing is answered by the mux (which gives his host the lock's
 * identity and IRK, as the lock gave mum's), and both encrypt with the
 * household key, five rounds each. A withdrawn grant gets nothing.
 */
START_TEST(sim_le_household_bond_rpa_device)
{
	struct le_hbond bm = { 0 }, bk = { 0 };
	struct sim_house *house = NULL;
	struct sim_rd_cfg *d;
	struct shost m, k;
	struct bdaddr id;
	uint8_t irk[16];
	char err[128];
	unsigned i;
	uint16_t hd;

	ck_assert_int_eq(sim_house_parse_buf("plock", plock_house, strlen(plock_house),
					     &house, err, sizeof(err)), 0);
	d = &house->rd[0];
	ck_assert(d->has_irk);
	ck_assert(rpa_is_resolvable(&d->addr));
	for (i = 0; i < 16; i++)
		irk[i] = d->irk[i];
	ck_assert_uint_eq(irk[0], 0xf0);	/* SMP order: the text reversed */
	rd_addr(&id, PLOCK);
	id.b[5] = 0xc0;
	env_pol = &pol_bonds_le_rpa;
	env_up_house(house);
	admin_irk = true;
	lock_ra = d->addr;
	host_up(&m, "mum");
	host_up(&k, "kid");
	host_init(&m, NULL);
	host_init(&k, NULL);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	ck_assert(bm.has && bm.has_id && sle.has);
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_str_eq(sle.by, "mum");
	ck_assert(bdaddr_eq(&sle.a, &id));
	ck_assert_uint_eq(sle.type, BDADDR_RANDOM);
	ck_assert(sle.b.has_irk);
	ck_assert_mem_eq(sle.b.irk, irk, 16);
	/* Her host was told the lock's identity, as BlueZ stores it. */
	ck_assert_uint_eq(bm.id[0], 0x01);
	ck_assert_mem_eq(bm.id + 1, id.b, 6);
	ck_assert_mem_eq(bm.irk, irk, 16);
	ck_assert(memcmp(bm.ltk, sle.b.ltk, 16) != 0);
	admin_irk = false;
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(sim_rd_new_rpa(d, 0x1234 + i * 0x10101), 0);
		ck_assert(!bdaddr_eq(&d->addr, &lock_ra));
		lock_ra = d->addr;
		ck_assert_int_eq(lock_use(&k, &bk), 0);
		/* The kid's host learns the identity and IRK from the mux. */
		ck_assert(bk.has && bk.has_id);
		ck_assert_uint_eq(bk.id[0], 0x01);
		ck_assert_mem_eq(bk.id + 1, id.b, 6);
		ck_assert_mem_eq(bk.irk, irk, 16);
		ck_assert_int_eq(sim_rd_new_rpa(d, 0x4321 + i * 0x10101), 0);
		lock_ra = d->addr;
		ck_assert_int_eq(lock_use(&m, &bm), 0);
	}
	ck_assert_uint_eq(sle.news, 1);
	ck_assert_uint_eq(sle.leaks, 0);
	/* The grant is checked at each use, on a private address too. */
	hd = host_le_connect_lock(&k);
	kid_revoked = true;
	ck_assert_int_eq(h_encrypt(&k, hd, bk.rand, bk.ediv, bk.ltk), HCI_ST_PIN_OR_KEY_MISSING);
	kid_revoked = false;
	host_disconnect(&k, hd);
	ck_assert_int_eq(lock_use(&m, &bm), 0);
	host_down(&m);
	host_down(&k);
	env_down();
}
END_TEST

/*
 * The extended reports h got, per advertiser (last address byte): how
 * many, and how many said "incomplete, more to come".
 */
static void ext_collect(struct shost *h, unsigned n[16], unsigned more[16])
{
	uint8_t b[300];
	size_t len;
	unsigned i;

	memset(n, 0, 16 * sizeof(n[0]));
	memset(more, 0, 16 * sizeof(more[0]));
	for (i = 0; i < 4096 && hostdrv_has_event(h->d, HCI_EV_LE_META,
						      HCI_LE_EV_EXT_ADV_REPORT); i++) {
		hostdrv_wait_event(h->d, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT, b,
				   sizeof(b), &len);
		ck_assert_uint_ge(len, 25);
		ck_assert_uint_eq(len, 25u + b[24]);
		if (b[9] != 0x10 || b[8] != 0xb6 || b[4] > 15) {
			n[0]++;		/* anything else at all */
			continue;
		}
		n[b[4]]++;
		more[b[4]] += ((get_le16(b + 1) >> 5) & 0x03) == 0x01;
	}
}

static void ext_scan(struct shost *h, bool on)
{
	static const uint8_t lemask[8] = { 0x1f, 0x10 };
	static const uint8_t prm[13] = { 0x00, 0x00, 0x05, 0x00, 0x12, 0x00, 0x12, 0x00,
					 0x00, 0x36, 0x00, 0x24, 0x00 };
	uint8_t en[6] = { on, 0, 0, 0, 0, 0 };

	if (on) {
		ck_assert_int_eq(cmd(h, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
		ck_assert_int_eq(cmd(h, HCI_OP_LE_SET_EXT_SCAN_PARAMS, prm, 13, NULL), 0);
	}
	ck_assert_int_eq(cmd(h, HCI_OP_LE_SET_EXT_SCAN_ENABLE, en, 6, NULL), 0);
}

START_TEST(sim_ext_scan_extended_only_devices_per_user)
{
	struct sim_house *house = NULL;
	struct shost e, d, l;
	unsigned n[16], more[16];
	char err[256];

	ck_assert_int_eq(sim_house_parse_buf("ext", ext_house, strlen(ext_house), &house,
					     err, sizeof(err)), 0);
	env_up_house(house);
	host_up(&e, "erin");
	host_up(&d, "dave");
	host_up(&l, "erin");
	host_init(&e, NULL);
	host_init(&d, NULL);
	host_init(&l, NULL);
	ext_scan(&e, true);
	ext_scan(&d, true);
	/* A legacy scanner of the same user: the extended-only ones never. */
	ck_assert_int_eq(cmd(&l, HCI_OP_LE_SET_SCAN_PARAM, "\x00\x12\x00\x12\x00\x00\x00",
			     7, NULL), 0);
	ck_assert_int_eq(cmd(&l, HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2, NULL), 0);
	hostdrv_run(e.d, 200);
	ext_scan(&e, false);
	ext_scan(&d, false);
	ck_assert_int_eq(cmd(&l, HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2, NULL), 0);
	/* erin: the coded sensor and the tag, whose chains arrive whole. */
	ext_collect(&e, n, more);
	ck_assert_uint_gt(n[LONGRANGE], 0);
	ck_assert_uint_eq(more[LONGRANGE], 0);
	ck_assert_uint_gt(n[TAG], 0);
	ck_assert_uint_eq(n[TAG], 2 * more[TAG]);
	ck_assert_uint_eq(n[THERMO], 0);
	ck_assert_uint_eq(n[0], 0);
	/* dave: the thermometer's legacy PDUs, in the extended format only. */
	ext_collect(&d, n, more);
	ck_assert_uint_gt(n[THERMO], 0);
	ck_assert_uint_eq(n[TAG] + n[LONGRANGE] + n[0], 0);
	ck_assert(!hostdrv_has_event(d.d, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT));
	ck_assert(!hostdrv_has_event(l.d, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT));
	ck_assert(!hostdrv_has_event(l.d, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT));
	host_down(&e);
	host_down(&d);
	host_down(&l);
	env_down();	/* the air owned the house */
}
END_TEST

/* LE Extended Create Connection over phys to device last; the Command Status. */
static int ext_create(struct shost *h, uint8_t last, uint8_t phys)
{
	uint8_t e[58] = { 0 };
	struct bdaddr a;
	unsigned i, n = 10;

	rd_addr(&a, last);
	memcpy(e + 3, a.b, 6);
	e[9] = phys;
	for (i = 0; i < 3; i++) {
		if (!(phys & (1u << i)))
			continue;
		memcpy(e + n, "\x60\x00\x30\x00\x18\x00\x28\x00\x00\x00\x2a\x00\x00\x00\x00\x00",
		       16);
		n += 16;
	}
	return cmd(h, HCI_OP_LE_EXT_CREATE_CONN, e, n, NULL);
}

/*
 * Through the mux to the simulated radio: a user who may see the LE Coded
 * sensor connects to it with LE Extended Create Connection over LE 1M and
 * LE Coded (LE Enhanced Connection Complete, her own handle 1, the link
 * on LE Coded); a user who may not is refused (0x0F) and nothing starts.
 */
START_TEST(sim_ext_create_conn_coded_device_per_user)
{
	static const uint8_t lemask[8] = { 0x1f, 0x12 };
	struct sim_house *house = NULL;
	struct shost e, d;
	uint8_t b[64], hp[2];
	char err[256];
	size_t n;

	ck_assert_int_eq(sim_house_parse_buf("ext", ext_house, strlen(ext_house), &house,
					     err, sizeof(err)), 0);
	env_up_house(house);
	host_up(&e, "erin");
	host_up(&d, "dave");
	host_init(&e, NULL);
	host_init(&d, NULL);
	ck_assert_int_eq(cmd(&e, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	ck_assert_int_eq(cmd(&d, HCI_OP_LE_SET_EVENT_MASK, lemask, 8, NULL), 0);
	ck_assert_int_eq(ext_create(&d, LONGRANGE, 0x05), 0);
	ck_assert_int_eq(hostdrv_wait_event(d.d, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], HCI_ST_REJ_BAD_ADDR);
	ck_assert_int_eq(ext_create(&e, LONGRANGE, 0x05), 0);
	ck_assert_int_eq(hostdrv_wait_event(e.d, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 30);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(get_le16(b + 1), 1);
	ck_assert_uint_eq(b[5], LONGRANGE);
	put_le16(hp, 1);
	ck_assert_int_eq(cmd(&e, HCI_OP_LE_READ_PHY, hp, 2, b), 0);
	ck_assert_uint_eq(get_le16(b + 1), 1);
	ck_assert_uint_eq(b[3], 0x03);
	ck_assert(!hostdrv_has_event(d.d, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE));
	host_down(&e);
	host_down(&d);
	env_down();	/* the air owned the house */
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("mux_sim");
	TCase *tc = tcase_create("sim");

	tcase_add_test(tc, sim_init_two_hosts_same_identity);
	tcase_add_test(tc, sim_two_inquiries_each_sees_its_devices);
	tcase_add_test(tc, sim_inquiry_joiner_gets_its_length);
	tcase_add_test(tc, sim_reset_leaves_other_connection_up);
	tcase_add_test(tc, sim_forbidden_device_refused);
	tcase_add_test(tc, sim_session_end_disconnects_its_links);
	tcase_add_test(tc, sim_transport_loss_and_recovery);
	tcase_add_test(tc, sim_le_accept_list_connect_each_its_own);
	tcase_add_test(tc, sim_without_bonds_last_pairing_wins);
	tcase_add_test(tc, sim_household_bond_every_user_in_turn);
	tcase_add_test(tc, sim_le_without_bonds_last_pairing_wins);
	tcase_add_test(tc, sim_le_household_bond_every_user_in_turn);
	tcase_add_test(tc, sim_le_household_bond_not_for_a_revoked_user);
	tcase_add_test(tc, sim_le_household_bond_rpa_device);
	tcase_add_test(tc, sim_le_pairing_answered_checks_confirm);
	tcase_add_test(tc, sim_le_sc_household_bond_every_user_in_turn);
	tcase_add_test(tc, sim_le_sc_takeover_host_masks_key_refresh);
	tcase_add_test(tc, sim_le_sc_passkey_device_refused);
	tcase_add_test(tc, sim_le_sc_device_failure_nothing_kept);
	tcase_add_test(tc, sim_le_sc_small_le_buffers);
	tcase_add_test(tc, sim_le_sc_failed_before_the_mux_encryption_change);
	tcase_add_test(tc, sim_le_sc_bond_kept_before_the_gateways_keys);
	tcase_add_test(tc, sim_le_sc_private_lock_identity_before_encryption_change);
	tcase_add_test(tc, sim_le_stand_in_uses_the_links_address_and_looks_up_once);
	tcase_add_test(tc, sim_le_stand_in_keeps_the_identity_promised);
	tcase_add_test(tc, sim_ext_scan_extended_only_devices_per_user);
	tcase_add_test(tc, sim_ext_create_conn_coded_device_per_user);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
