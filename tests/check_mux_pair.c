/* SPDX-License-Identifier: MIT */
/*
 * Pairing at the gateway (mux/pair.h) against the simulated controller:
 * the admin's internal session pairs a device of the simulated house
 * (which answers Secure Simple Pairing with its own IO capability and
 * keeps one bond per central), the key becomes the household bond, and
 * then users whose hosts never paired authenticate with it. LE devices
 * too: legacy pairing as central, Just Works or a passkey the device shows
 * and the admin types; the LTK the device keeps is the household bond,
 * and users' LE Enable Encryption gets it. Each way it can fail ends with
 * its own result. Waits are bounded; nothing asserts on time.
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
#include "hostauth.h"
#include "hostdrv.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "pair.h"
#include "rpa.h"
#include "sim.h"
#include "sim_int.h"

/* 10:B6:00:00:00:xx: the speaker (no I/O) and devices of every kind. */
#define SPEAKER	0x04
#define HEADSET	0x06	/* DisplayYesNo: numeric comparison */
#define KEYPAD	0x07	/* KeyboardOnly: passkey typed on it */
#define OLDIE	0x08	/* no SSP: PIN code */
#define GRUMPY	0x09	/* refuses to pair */
#define NOBODY	0x0a	/* not in the house */
#define SCREEN	0x0d	/* DisplayOnly: shows a passkey the admin types */
/* LE: 10:B6:00:00:00:0b public, C0:B6:00:00:00:xx random. */
#define PANEL	0x0b	/* LE DisplayOnly, public: passkey typed by the admin */
#define LOCK	0x01	/* LE no I/O, random: Just Works */
#define SHY	0x03	/* LE, random: refuses to pair */
#define GONE	0x0f	/* LE, random: not in the house */
#define SCJW	0x04	/* LE Secure Connections, no I/O: Just Works */
#define SCNC	0x05	/* LE SC only, yes/no: numeric comparison, its user says yes */
#define SCNO	0x06	/* LE SC, yes/no, its user says no */
#define SCPK	0x07	/* LE SC, display: a passkey the admin types */
#define SCPK_PASSKEY	246810
#define PANEL_PASSKEY	123456
#define SCREEN_PASSKEY	424242

static const char house_text[] =
	"device speaker\n address 10:B6:00:00:00:04 public\n type bredr\n name Speaker\n"
	"device headset\n address 10:B6:00:00:00:06 public\n type bredr\n name Headset\n"
	" io-capability yesno\n"
	"device keypad\n address 10:B6:00:00:00:07 public\n type bredr\n name Keypad\n"
	" io-capability keyboard\n"
	"device oldie\n address 10:B6:00:00:00:08 public\n type bredr\n name Old Car Kit\n"
	" pairing legacy\n"
	"device grumpy\n address 10:B6:00:00:00:09 public\n type bredr\n name Grumpy\n"
	" pairing refuse\n"
	"device screen\n address 10:B6:00:00:00:0D public\n type bredr\n name Screen\n"
	" io-capability display\n passkey 424242\n"
	"device panel\n address 10:B6:00:00:00:0B public\n type le\n name Panel\n"
	" io-capability display\n passkey 123456\n"
	"device lock\n address C0:B6:00:00:00:01 random\n type le\n name Lock\n"
	"device shy\n address C0:B6:00:00:00:03 random\n type le\n name Shy\n"
	" pairing refuse\n"
	"device scjw\n address C0:B6:00:00:00:04 random\n type le\n name SC Tag\n"
	" pairing sc\n"
	"device scnc\n address C0:B6:00:00:00:05 random\n type le\n name SC Lock\n"
	" pairing sc-only\n io-capability yesno\n"
	"device scno\n address C0:B6:00:00:00:06 random\n type le\n name SC Grump\n"
	" pairing sc\n io-capability yesno\n confirm no\n"
	"device scpk\n address C0:B6:00:00:00:07 random\n type le\n name SC Panel\n"
	" pairing sc\n io-capability display\n passkey 246810\n"
	/* With privacy: on private addresses, identities outside C0:B6. */
	"device pscid\n address D0:5E:00:00:00:0C random\n type le\n name SC Badge\n"
	" pairing sc\n irk 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
	"device plock\n address D0:5E:00:00:00:0D random\n type le\n name Private Lock\n"
	" irk 00112233445566778899aabbccddeeff\n";

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

static void le_addr(struct bdaddr *a, uint8_t last)
{
	rd_addr(a, last);
	a->b[5] = 0xc0;
}

/* The private address the admin named (bgw-muxd allows the pairing that one). */
static struct bdaddr gw_rpa;
static bool gw_rpa_set;

/* The identities of the devices with privacy (D0:5E:...: static random). */
static void id_addr(struct bdaddr *a, uint8_t last)
{
	rd_addr(a, last);
	a->b[4] = 0x5e;
	a->b[5] = 0xd0;
}

/*
 * The pairing reaches every device of 10/C0:B6 and the private address
 * named, never an identity D0:5E; bob and carol the speaker, the lock and
 * the identities; dave nothing.
 */
static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	struct bdaddr sp, lk, sc;

	rd_addr(&sp, SPEAKER);
	le_addr(&lk, LOCK);
	le_addr(&sc, SCJW);
	if (strcmp(user, MUX_PAIR_USER) == 0)
		return ((a->b[5] == 0x10 || a->b[5] == 0xc0) && a->b[4] == 0xb6) ||
		       (gw_rpa_set && type == BDADDR_RANDOM && bdaddr_eq(a, &gw_rpa));
	if (strcmp(user, "bob") == 0 || strcmp(user, "carol") == 0)
		return (type == BDADDR_PUBLIC && bdaddr_eq(a, &sp)) ||
		       (type == BDADDR_RANDOM && (bdaddr_eq(a, &lk) || bdaddr_eq(a, &sc) ||
						  (a->b[5] == 0xd0 && a->b[4] == 0x5e)));
	return false;
}

/* The household bond store, as bgw-muxd's monitor keeps it (one device). */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t key[16];
	uint8_t type;
	unsigned news;
	char by[64];
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
	snprintf(sbond.by, sizeof(sbond.by), "%s", user);
	return 0;
}

/* The LE household bond, one device. */
static struct {
	bool has;
	struct bdaddr a;
	uint8_t type;
	struct mux_le_bond b;
	unsigned news;
	char by[64];
} lbond;

static int pol_bond_ltk(const struct bdaddr *a, uint8_t type, struct mux_le_bond *b, void *ctx)
{
	if (!lbond.has || !bdaddr_eq(a, &lbond.a) || type != lbond.type)
		return -ENOENT;
	if (b)
		*b = lbond.b;
	return 0;
}

static int pol_bond_new_le(const char *user, const struct bdaddr *a, uint8_t type,
			   const struct mux_le_bond *b, void *ctx)
{
	lbond.has = true;
	lbond.a = *a;
	lbond.type = type;
	lbond.b = *b;
	lbond.news++;
	snprintf(lbond.by, sizeof(lbond.by), "%s", user);
	return 0;
}

/* The household bond's IRK resolves the device's private addresses (core.c). */
static int pol_resolve_rpa(const struct bdaddr *rpa, struct bdaddr *id, uint8_t *id_type,
			   void *ctx)
{
	if (!lbond.has || !lbond.b.has_irk || !rpa_matches(lbond.b.irk, rpa))
		return -ENOENT;
	*id = lbond.a;
	*id_type = lbond.type;
	return 0;
}

static const struct mux_policy pol = {
	NULL, NULL, pol_may_access, NULL, pol_resolve_rpa, pol_bond_key, pol_bond_new, NULL,
	pol_bond_ltk, pol_bond_new_le,
};

static bool corrupt_pk;	/* the device's public key, off the curve on its way */
static bool corrupt_irk;	/* the device's Identity Information, changed */
static unsigned corrupted;
/* An SMP PDU of 17 octets (inject) sent by the device before its PDU code before_code. */
static uint8_t inject, before_code;

static void ctrl_emit(const uint8_t *h4, size_t len, void *user)
{
	uint8_t b[512];

	if (inject && len >= 10 && h4[0] == H4_ACL && get_le16(h4 + 7) == 0x0006 &&
	    h4[9] == before_code) {
		memcpy(b, h4, 5);
		put_le16(b + 3, 4 + 17);
		put_le16(b + 5, 17);
		put_le16(b + 7, 0x0006);
		b[9] = inject;
		memset(b + 10, 0x42, 16);
		inject = 0;
		corrupted++;
		mux_ctrl_input(mx, b, 5 + 4 + 17);
	}
	if (corrupt_irk && len == 5 + 4 + 17 && h4[0] == H4_ACL && get_le16(h4 + 7) == 0x0006 &&
	    h4[9] == 0x08) {
		memcpy(b, h4, len);
		b[10] ^= 0x01;	/* another IRK: it resolves no address of the device's */
		corrupted++;
		mux_ctrl_input(mx, b, len);
		return;
	}

	/* An LE ACL packet with a whole Pairing Public Key (0x0c) on CID 6. */
	if (corrupt_pk && len == 5 + 4 + 65 && h4[0] == H4_ACL && get_le16(h4 + 7) == 0x0006 &&
	    h4[9] == 0x0c) {
		memcpy(b, h4, len);
		b[len - 1] ^= 0x01;	/* Y changed: no longer a point of P-256 */
		corrupted++;
		mux_ctrl_input(mx, b, len);
		return;
	}
	mux_ctrl_input(mx, h4, len);
}

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	return ctrl ? sim_ctrl_input(ctrl, h4, len) : -EPIPE;
}

static unsigned forgot_logged;	/* the admin told a device forgot its bond */
static long rd_shown = -1;	/* the number a simulated device showed (SC NC) */

static void quiet(int prio, const char *line, void *user)
{
	const char *n = strstr(line, " shows ");

	if (strstr(line, "sim: RD ") && n && strstr(line, ": its user says"))
		rd_shown = strtol(n + 7, NULL, 10);
	if (strstr(line, "refused the household key") &&
	    strstr(line, "bgw-authdb bond forget 10:B6:00:00:00:04"))
		forgot_logged++;
	if (getenv("MUX_TEST_LOG"))
		fprintf(stderr, "log: %s\n", line);
}

static void env_up(void)
{
	struct sim_opts o = { .time_scale = 0.01, .seed = 7 };
	struct mux_ops ops = { ctrl_send, NULL, NULL, NULL };
	struct mux_config cfg = { 4, 0, 0.01 };
	struct sim_house *h = NULL;
	char err[256];
	unsigned i;

	log_set_handler(quiet, NULL);
	ck_assert_int_eq(sim_house_parse_buf("pair", house_text, strlen(house_text), &h,
					     err, sizeof(err)), 0);
	lp = loop_new();
	ck_assert_ptr_nonnull(lp);
	air = sim_air_new(lp, h, &o);
	ck_assert_ptr_nonnull(air);
	ctrl = sim_ctrl_new(air, NULL, ctrl_emit, NULL);
	ck_assert_ptr_nonnull(ctrl);
	memset(&sbond, 0, sizeof(sbond));
	memset(&lbond, 0, sizeof(lbond));
	gw_rpa_set = false;
	inject = 0;
	corrupt_irk = false;
	mx = mux_new(lp, &cfg, &pol, &ops);
	ck_assert_ptr_nonnull(mx);
	mux_ctrl_up(mx);
	for (i = 0; i < 5000 && !mux_is_ready(mx); i++)
		loop_iterate(lp, 10);
	ck_assert(mux_is_ready(mx));
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

/* What the admin saw and answered, and the outcome. */
struct admin {
	int answer;		/* -1: never answers; 0 no; 1 yes (ENTER: passkey) */
	int32_t passkey;	/* what the admin types for MUX_PAIR_ENTER */
	unsigned prompts;
	enum mux_pair_prompt kind;
	uint32_t value;
	bool done;
	enum mux_pair_result res;
	uint8_t st;
};

static void on_prompt(struct mux_pair *p, enum mux_pair_prompt kind, uint32_t value,
		      void *user)
{
	struct admin *ad = user;

	ad->prompts++;
	ad->kind = kind;
	ad->value = value;
	if (kind == MUX_PAIR_CONFIRM && ad->answer >= 0)
		ck_assert_int_eq(mux_pair_answer(p, ad->answer == 1), 0);
	if (kind == MUX_PAIR_ENTER && ad->answer >= 0) {
		ck_assert_int_eq(mux_pair_answer(p, true), -EALREADY);
		ck_assert_int_eq(mux_pair_passkey(p, 1000000), -EINVAL);
		ck_assert_int_eq(mux_pair_passkey(p, ad->answer == 1 ? ad->passkey : -1), 0);
		ck_assert_int_eq(mux_pair_passkey(p, ad->passkey), -EALREADY);
	}
}

static void on_done(struct mux_pair *p, enum mux_pair_result res, uint8_t st, void *user)
{
	struct admin *ad = user;

	ad->done = true;
	ad->res = res;
	ad->st = st;
}

static const struct mux_pair_ops admin_ops = { on_prompt, on_done };

/* Pair device d as the admin would; returns once done (bounded). */
static void admin_pair_dev(const struct mux_pair_dev *d, struct admin *ad, uint64_t timeout_us)
{
	struct mux_stats st;
	struct mux_pair *p;
	unsigned i, before;

	mux_get_stats(mx, &st);
	before = st.sessions;
	p = mux_pair_start(mx, lp, d, &admin_ops, ad);
	ck_assert_ptr_nonnull(p);
	if (timeout_us)
		mux_pair_set_timeout(p, timeout_us);
	for (i = 0; i < 20000 && !ad->done; i++)
		loop_iterate(lp, 10);
	ck_assert(ad->done);
	mux_pair_free(p);
	/* Its session and its link are gone with it. */
	for (i = 0; i < 200; i++)
		loop_iterate(lp, 5);
	mux_get_stats(mx, &st);
	ck_assert_uint_eq(st.sessions, before);
	ck_assert_uint_eq(st.conns, 0);
}

static void admin_pair(uint8_t last, struct admin *ad)
{
	struct mux_pair_dev d = { .type = BDADDR_PUBLIC };

	rd_addr(&d.a, last);
	admin_pair_dev(&d, ad, 0);
}

/* An LE device: a random address (C0:...), else public (10:...). */
static void admin_pair_le(uint8_t last, bool random, struct admin *ad, uint64_t timeout_us)
{
	struct mux_pair_dev d = { .le = true };

	if (random) {
		le_addr(&d.a, last);
		d.type = BDADDR_RANDOM;
	} else {
		rd_addr(&d.a, last);
	}
	admin_pair_dev(&d, ad, timeout_us);
}

static int to_mux(const uint8_t *h4, size_t len, void *user)
{
	int r = mux_session_input(user, h4, len);

	return r == -EPIPE ? r : 0;
}

static int to_host(const uint8_t *h4, size_t len, void *user)
{
	hostdrv_sink(h4, len, user);
	return 0;
}

static void host_up(struct shost *h, const char *user)
{
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };

	h->d = hostdrv_new(lp);
	ck_assert_ptr_nonnull(h->d);
	h->s = mux_session_new(mx, user, to_host, h->d);
	ck_assert_ptr_nonnull(h->s);
	hostdrv_set_sender(h->d, to_mux, h->s);
	hostdrv_set_timeout(h->d, 10000);
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_RESET, NULL, 0, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_SET_EVENT_MASK, mask, 8, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_WRITE_SIMPLE_PAIRING_MODE, "\x01", 1,
					  NULL, 0, NULL), 0);
}

static void host_down(struct shost *h)
{
	mux_session_free(h->s);
	hostdrv_free(h->d);
}

/*
 * One connection of h to the speaker, authenticated and encrypted:
 * the Authentication Complete status, or 0x100 + the Connection
 * Complete's.
 */
static int host_auth_once(struct shost *h, struct hostauth_bond *bd)
{
	uint8_t p[13] = { 0 }, b[64];
	struct bdaddr sp;
	uint16_t handle;
	size_t n;
	int st;

	rd_addr(&sp, SPEAKER);
	memcpy(p, sp.b, 6);
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_CREATE_CONN, p, 13, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	if (b[0])
		return 0x100 + b[0];
	handle = get_le16(b + 1);
	st = hostauth_run(h->d, handle, sp.b, bd);
	put_le16(p, handle);
	p[2] = 0x13;
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_DISCONNECT, p, 3, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	return st;
}

/*
 * The admin pairs the speaker (no I/O: Just Works, nothing to answer)
 * with no user session at all; its key is the household bond, made by
 * the gateway. Then bob and carol, whose hosts never paired, connect
 * and authenticate in turn, ten times each, never asked for a key, and
 * dave, without a grant, gets no link.
 */
START_TEST(pair_speaker_then_users_in_turn)
{
	struct admin ad = { .answer = -1 };
	struct hostauth_bond bb = { 0 }, bc = { 0 }, bd = { 0 };
	struct shost b, c, d;
	unsigned i;

	static const uint8_t evs[] = {
		HCI_EV_CONN_COMPLETE, HCI_EV_AUTH_COMPLETE, HCI_EV_LINK_KEY_REQ,
		HCI_EV_LINK_KEY_NOTIFY, HCI_EV_IO_CAPA_REQUEST, HCI_EV_IO_CAPA_RESPONSE,
		HCI_EV_USER_CONFIRM_REQUEST, HCI_EV_SIMPLE_PAIR_COMPLETE,
		HCI_EV_DISCONN_COMPLETE,
	};

	env_up();
	/* bob's host is up, and granted the speaker, while the admin pairs. */
	host_up(&b, "bob");
	admin_pair(SPEAKER, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert_uint_eq(ad.prompts, 1);
	ck_assert_int_eq(ad.kind, MUX_PAIR_JUST_WORKS);
	ck_assert(sbond.has);
	ck_assert_uint_eq(sbond.news, 1);
	ck_assert_str_eq(sbond.by, MUX_PAIR_USER);
	ck_assert_uint_eq(sbond.type, 0x04);	/* unauthenticated: Just Works */
	/* Nothing of the admin's session reached his. */
	for (i = 0; i < sizeof(evs); i++)
		ck_assert_msg(!hostdrv_has_event(b.d, evs[i], 0), "event 0x%02x leaked", evs[i]);
	host_up(&c, "carol");
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(host_auth_once(&b, &bb), 0);
		ck_assert_int_eq(host_auth_once(&c, &bc), 0);
	}
	ck_assert_uint_eq(bb.lkr + bc.lkr, 0);
	ck_assert(!bb.has && !bc.has);
	ck_assert_uint_eq(sbond.news, 1);
	host_up(&d, "dave");
	ck_assert_int_eq(host_auth_once(&d, &bd), 0x100 + HCI_ST_REJ_BAD_ADDR);
	host_down(&b);
	host_down(&c);
	host_down(&d);
	env_down();
}
END_TEST

/*
 * Re-pairing by a user while a household bond exists: the host's
 * authentication gets the household key, never a pairing. If the device
 * forgot the gateway (reset), the host sees PIN or Key Missing (0x06),
 * as from any controller, and the admin is told in the log to forget
 * the bond and pair again; the bond stays until the admin does.
 */
START_TEST(pair_device_forgot_bond_admin_told)
{
	struct admin ad = { .answer = -1 };
	struct hostauth_bond bb = { 0 };
	struct sim_bond *sb;
	struct bdaddr sp;
	struct shost b;
	unsigned i;

	env_up();
	forgot_logged = 0;
	admin_pair(SPEAKER, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	host_up(&b, "bob");
	ck_assert_int_eq(host_auth_once(&b, &bb), 0);
	ck_assert_uint_eq(forgot_logged, 0);
	/* The speaker is reset: it forgets every bond. */
	rd_addr(&sp, SPEAKER);
	for (i = 0; i < sim_air_rd_count(air); i++) {
		struct sim_rd *rd = sim_air_rd(air, i);

		if (!bdaddr_eq(&rd->cfg->addr, &sp))
			continue;
		sb = sim_rd_bond(rd, sim_ctrl_addr(ctrl), false);
		ck_assert_ptr_nonnull(sb);
		memset(sb, 0, sizeof(*sb));
	}
	ck_assert_int_eq(host_auth_once(&b, &bb), HCI_ST_PIN_OR_KEY_MISSING);
	ck_assert_uint_eq(bb.lkr, 0);		/* bob's host was never asked to pair */
	ck_assert_uint_eq(forgot_logged, 1);
	ck_assert(sbond.has);
	ck_assert_uint_eq(sbond.news, 1);
	host_down(&b);
	env_down();
}
END_TEST

/* A device with a display and yes/no: the admin compares, says yes. */
START_TEST(pair_numeric_comparison_yes)
{
	struct admin ad = { .answer = 1 };

	env_up();
	admin_pair(HEADSET, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	ck_assert_uint_le(ad.value, 999999);
	ck_assert(sbond.has);
	ck_assert_uint_eq(sbond.type, 0x05);	/* authenticated */
	env_down();
}
END_TEST

/* ... says no: nothing kept. */
START_TEST(pair_numeric_comparison_no)
{
	struct admin ad = { .answer = 0 };

	env_up();
	admin_pair(HEADSET, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_ADMIN_NO);
	ck_assert_int_eq(ad.st, HCI_ST_AUTH_FAILURE);
	ck_assert(!sbond.has);
	env_down();
}
END_TEST

/* A device with a keyboard: the admin is shown the passkey to type on it. */
START_TEST(pair_passkey_shown_to_admin)
{
	struct admin ad = { .answer = -1 };

	env_up();
	admin_pair(KEYPAD, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert_int_eq(ad.kind, MUX_PAIR_PASSKEY);
	ck_assert_uint_eq(sbond.type, 0x05);
	env_down();
}
END_TEST

/* The failures: each its own result, nothing kept. */
START_TEST(pair_failures)
{
	struct admin ad;

	env_up();
	memset(&ad, 0, sizeof(ad));
	admin_pair(NOBODY, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_UNREACHABLE);
	ck_assert_int_eq(ad.st, HCI_ST_PAGE_TIMEOUT);
	memset(&ad, 0, sizeof(ad));
	admin_pair(GRUMPY, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_REJECTED);
	ck_assert_int_eq(ad.st, HCI_ST_PAIRING_NOT_ALLOWED);
	memset(&ad, 0, sizeof(ad));
	admin_pair(OLDIE, &ad);
	ck_assert_int_eq(ad.res, MUX_PAIR_PIN);
	ck_assert(!sbond.has);
	ck_assert_str_eq(mux_pair_result_str(MUX_PAIR_PIN),
			 "the device asks for a PIN code (legacy pairing), which the gateway does not enter");
	env_down();
}
END_TEST

/* An answer counts only while one is awaited, and only once. */
START_TEST(pair_answer_only_when_asked)
{
	struct admin ad = { .answer = -1 };
	struct mux_pair *p;
	struct bdaddr a;
	unsigned i;

	env_up();
	rd_addr(&a, HEADSET);
	p = mux_pair_start(mx, lp, &(struct mux_pair_dev){ .a = a }, &admin_ops, &ad);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(mux_pair_answer(p, true), -EALREADY);
	for (i = 0; i < 5000 && !ad.prompts; i++)
		loop_iterate(lp, 10);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	/* An answer that is not awaited is refused; the awaited one is not given. */
	ck_assert_int_eq(mux_pair_answer(p, true), 0);
	ck_assert_int_eq(mux_pair_answer(p, true), -EALREADY);
	for (i = 0; i < 20000 && !ad.done; i++)
		loop_iterate(lp, 10);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	mux_pair_free(p);
	env_down();
}
END_TEST

/* The session the pairing opened ends (controller lost): its result says so. */
START_TEST(pair_controller_lost)
{
	struct admin ad = { .answer = -1 };
	struct mux_pair *p;
	struct bdaddr a;
	unsigned i;

	env_up();
	rd_addr(&a, HEADSET);
	p = mux_pair_start(mx, lp, &(struct mux_pair_dev){ .a = a }, &admin_ops, &ad);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 5000 && !ad.prompts; i++)
		loop_iterate(lp, 10);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	mux_ctrl_down(mx);
	for (i = 0; i < 2000 && !ad.done; i++)
		loop_iterate(lp, 10);
	ck_assert(ad.done);
	ck_assert(ad.res == MUX_PAIR_ENDED || ad.res == MUX_PAIR_FAILED);
	ck_assert(!sbond.has);
	mux_pair_free(p);
	env_down();
}
END_TEST

/* The RD's own LE bond for the gateway: what the device holds. */
static struct sim_bond *rd_le_bond(const struct bdaddr *a)
{
	unsigned i;

	for (i = 0; i < sim_air_rd_count(air); i++) {
		struct sim_rd *rd = sim_air_rd(air, i);

		if (bdaddr_eq(&rd->cfg->addr, a))
			return sim_rd_bond(rd, sim_ctrl_addr(ctrl), false);
	}
	return NULL;
}

/*
 * A user's host on the lock, never paired: LE Create Connection, then
 * LE Enable Encryption with a key of its own (any: it is replaced). The
 * Encryption Change status, or 0x100 + the connection's.
 */
static int host_le_encrypt_addr(struct shost *h, const struct bdaddr *a);

static int host_le_encrypt_to(struct shost *h, uint8_t last)
{
	struct bdaddr lk;

	le_addr(&lk, last);
	return host_le_encrypt_addr(h, &lk);
}

static int host_le_encrypt_addr(struct shost *h, const struct bdaddr *a)
{
	uint8_t p[28] = { 0 }, b[64];
	struct bdaddr lk = *a;
	uint16_t handle;
	size_t n;
	int st;

	put_le16(p, 0x60);
	put_le16(p + 2, 0x60);
	p[5] = BDADDR_RANDOM;
	memcpy(p + 6, lk.b, 6);
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_LE_CREATE_CONN, p, 25, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	if (b[0])
		return 0x100 + b[0];
	handle = get_le16(b + 1);
	memset(p, 0x5a, sizeof(p));
	put_le16(p, handle);
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_LE_START_ENCRYPTION, p, 28, NULL, 0, NULL),
			 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_ENCRYPT_CHANGE, 0, b, sizeof(b), &n), 0);
	st = b[0];
	put_le16(p, handle);
	p[2] = 0x13;
	ck_assert_int_eq(hostdrv_cmd_sync(h->d, HCI_OP_DISCONNECT, p, 3, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(h->d, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	return st;
}

static int host_le_encrypt_once(struct shost *h)
{
	return host_le_encrypt_to(h, LOCK);
}

/*
 * LE, Just Works: the admin pairs the lock (no I/O) as central; the LTK
 * the lock distributed, the one it keeps for the gateway, is the
 * household LE bond, made by the gateway, unauthenticated, full size.
 * Then bob and carol, whose hosts never paired, encrypt in turn with
 * keys of their own, each replaced by the household's; dave gets no link.
 */
START_TEST(pair_le_just_works_then_users)
{
	struct admin ad = { .answer = -1 };
	struct sim_bond *sb;
	struct bdaddr lk;
	struct shost b, c, d;
	unsigned i;

	env_up();
	host_up(&b, "bob");
	admin_pair_le(LOCK, true, &ad, 0);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert_uint_eq(ad.prompts, 1);
	ck_assert_int_eq(ad.kind, MUX_PAIR_JUST_WORKS);
	le_addr(&lk, LOCK);
	ck_assert(lbond.has);
	ck_assert_uint_eq(lbond.news, 1);
	ck_assert_str_eq(lbond.by, MUX_PAIR_USER);
	ck_assert(bdaddr_eq(&lbond.a, &lk));
	ck_assert_uint_eq(lbond.type, BDADDR_RANDOM);
	ck_assert_uint_eq(lbond.b.key_size, 16);
	ck_assert(!lbond.b.authenticated);
	sb = rd_le_bond(&lk);
	ck_assert_ptr_nonnull(sb);
	ck_assert(sb->has_ltk);
	ck_assert_mem_eq(sb->ltk, lbond.b.ltk, 16);
	ck_assert_uint_eq(sb->ediv, lbond.b.ediv);
	ck_assert_mem_eq(sb->rand, lbond.b.rand, 8);
	/* Nothing of the admin's session reached bob's. */
	ck_assert(!hostdrv_has_event(b.d, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE));
	ck_assert(!hostdrv_has_event(b.d, HCI_EV_ENCRYPT_CHANGE, 0));
	ck_assert_uint_eq(hostdrv_pending(b.d), 0);
	host_up(&c, "carol");
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(host_le_encrypt_once(&b), 0);
		ck_assert_int_eq(host_le_encrypt_once(&c), 0);
	}
	ck_assert_uint_eq(lbond.news, 1);
	host_up(&d, "dave");
	ck_assert_int_eq(host_le_encrypt_once(&d), 0x100 + HCI_ST_REJ_BAD_ADDR);
	host_down(&b);
	host_down(&c);
	host_down(&d);
	env_down();
}
END_TEST

/*
 * LE passkey entry (legacy): the panel (LE, public address, display
 * only) shows a passkey, the admin types it: an authenticated bond. A
 * wrong passkey fails the confirm check (refused, nothing kept); the
 * admin typing none refuses it (Passkey Entry Failed).
 */
START_TEST(pair_le_passkey_typed_by_admin)
{
	struct admin ad = { .answer = 1, .passkey = 111111 };
	struct bdaddr pn;

	env_up();
	admin_pair_le(PANEL, false, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_ENTER);
	ck_assert_int_eq(ad.res, MUX_PAIR_REJECTED);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 0;
	admin_pair_le(PANEL, false, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_ENTER);
	ck_assert_int_eq(ad.res, MUX_PAIR_ADMIN_NO);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 1;
	ad.passkey = PANEL_PASSKEY;
	admin_pair_le(PANEL, false, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_ENTER);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	rd_addr(&pn, PANEL);
	ck_assert(lbond.has);
	ck_assert(bdaddr_eq(&lbond.a, &pn));
	ck_assert_uint_eq(lbond.type, BDADDR_PUBLIC);
	ck_assert(lbond.b.authenticated);
	ck_assert_str_eq(lbond.by, MUX_PAIR_USER);
	ck_assert_mem_eq(rd_le_bond(&pn)->ltk, lbond.b.ltk, 16);
	env_down();
}
END_TEST

/* LE failures: a device that refuses, one that is not there (the bound). */
START_TEST(pair_le_refused_and_timeout)
{
	struct admin ad = { .answer = -1 };
	struct mux_pair_dev d = { .le = false, .type = BDADDR_RANDOM };

	env_up();
	admin_pair_le(SHY, true, &ad, 0);
	ck_assert_int_eq(ad.res, MUX_PAIR_REJECTED);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	/* 0.3 s instead of 60: LE Create Connection waits for ever. */
	admin_pair_le(GONE, true, &ad, 300000);
	ck_assert_int_eq(ad.res, MUX_PAIR_TIMEOUT);
	ck_assert(!lbond.has);
	/* A random address is never BR/EDR's. */
	le_addr(&d.a, LOCK);
	ck_assert_ptr_null(mux_pair_start(mx, lp, &d, &admin_ops, &ad));
	env_down();
}
END_TEST

/*
 * BR/EDR, a device that only displays (Vol 4 Part E 7.7.43): with the
 * admin typing (KeyboardOnly), it shows its passkey and the admin types
 * it: an authenticated key. A wrong one fails (Authentication Failure),
 * none is the admin's no. Without --keyboard the same device is numeric
 * comparison confirmed on the device alone: unauthenticated (type 4).
 */
START_TEST(pair_passkey_typed_by_admin)
{
	struct admin ad = { .answer = 1, .passkey = 1 };
	struct mux_pair_dev d = { .type = BDADDR_PUBLIC, .keyboard = true };

	env_up();
	rd_addr(&d.a, SCREEN);
	admin_pair_dev(&d, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_ENTER);
	ck_assert_int_eq(ad.res, MUX_PAIR_REJECTED);
	ck_assert_int_eq(ad.st, HCI_ST_AUTH_FAILURE);
	ck_assert(!sbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 0;
	admin_pair_dev(&d, &ad, 0);
	ck_assert_int_eq(ad.res, MUX_PAIR_ADMIN_NO);
	ck_assert(!sbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 1;
	ad.passkey = SCREEN_PASSKEY;
	admin_pair_dev(&d, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_ENTER);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert(sbond.has);
	ck_assert_uint_eq(sbond.type, 0x05);
	env_down();
	env_up();
	memset(&ad, 0, sizeof(ad));
	ad.answer = 1;
	admin_pair(SCREEN, &ad);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert_uint_eq(sbond.type, 0x04);
	env_down();
}
END_TEST

/*
 * LE Secure Connections, Just Works: the LTK was made on both ends (f5)
 * and crossed no HCI; the internal host hands it to the mux, which keeps
 * it with EDIV and Rand 0, unauthenticated: the key the device keeps.
 * Then bob, who never paired, encrypts with a key of his own: the mux
 * replaces it with the household LTK, EDIV and Rand 0, and the device
 * takes it.
 */
START_TEST(pair_le_sc_just_works_then_user)
{
	static const uint8_t zero[8];
	struct admin ad = { .answer = -1 };
	struct sim_bond *sb;
	struct bdaddr a;
	struct shost b;
	unsigned i;

	env_up();
	admin_pair_le(SCJW, true, &ad, 0);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	ck_assert_int_eq(ad.kind, MUX_PAIR_JUST_WORKS);
	le_addr(&a, SCJW);
	ck_assert(lbond.has);
	ck_assert(bdaddr_eq(&lbond.a, &a));
	ck_assert_str_eq(lbond.by, MUX_PAIR_USER);
	ck_assert_uint_eq(lbond.b.ediv, 0);
	ck_assert_mem_eq(lbond.b.rand, zero, 8);
	ck_assert_uint_eq(lbond.b.key_size, 16);
	ck_assert(!lbond.b.authenticated);
	sb = rd_le_bond(&a);
	ck_assert_ptr_nonnull(sb);
	ck_assert(sb->has_ltk);
	ck_assert_mem_eq(sb->ltk, lbond.b.ltk, 16);
	host_up(&b, "bob");
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(host_le_encrypt_to(&b, SCJW), 0);
	ck_assert_uint_eq(lbond.news, 1);
	host_down(&b);
	env_down();
}
END_TEST

/*
 * Numeric comparison (SC only device, yes/no): the admin is shown the
 * number the device shows (g2 on both ends) and says yes: an
 * authenticated bond. The admin's no, or the device's user's, fails.
 */
START_TEST(pair_le_sc_numeric_comparison)
{
	struct admin ad = { .answer = 0 };

	env_up();
	rd_shown = -1;
	admin_pair_le(SCNC, true, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	ck_assert_int_eq(ad.res, MUX_PAIR_ADMIN_NO);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 1;
	admin_pair_le(SCNO, true, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	ck_assert_int_eq(ad.res, MUX_PAIR_REJECTED);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 1;
	rd_shown = -1;
	admin_pair_le(SCNC, true, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_CONFIRM);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	/* The same six digits on both ends. */
	ck_assert_int_eq(rd_shown, (long)ad.value);
	ck_assert(lbond.has);
	ck_assert(lbond.b.authenticated);
	ck_assert_uint_eq(lbond.b.ediv, 0);
	env_down();
}
END_TEST

/*
 * The device's public key off the curve (an invalid-curve attack, or a
 * garbled PDU): DHKey Check Failed, nothing kept; never a DHKey from it.
 */
START_TEST(pair_le_sc_invalid_public_key)
{
	struct admin ad = { .answer = 1 };

	env_up();
	corrupt_pk = true;
	corrupted = 0;
	admin_pair_le(SCNC, true, &ad, 0);
	corrupt_pk = false;
	ck_assert_uint_eq(corrupted, 1);
	ck_assert_int_eq(ad.res, MUX_PAIR_FAILED);
	ck_assert_uint_eq(ad.prompts, 0);
	ck_assert(!lbond.has);
	env_down();
}
END_TEST

/* SC passkey entry, the device displays: a wrong passkey fails, the right one bonds. */
START_TEST(pair_le_sc_passkey_typed_by_admin)
{
	struct admin ad = { .answer = 1, .passkey = SCPK_PASSKEY ^ 1 };
	struct bdaddr a;

	env_up();
	admin_pair_le(SCPK, true, &ad, 0);
	ck_assert_int_eq(ad.kind, MUX_PAIR_ENTER);
	ck_assert_int_eq(ad.res, MUX_PAIR_REJECTED);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = 1;
	ad.passkey = SCPK_PASSKEY;
	admin_pair_le(SCPK, true, &ad, 0);
	ck_assert_int_eq(ad.res, MUX_PAIR_OK);
	le_addr(&a, SCPK);
	ck_assert(lbond.has);
	ck_assert(lbond.b.authenticated);
	ck_assert_mem_eq(rd_le_bond(&a)->ltk, lbond.b.ltk, 16);
	env_down();
}
END_TEST

/* The simulated device id: its configuration (its current address). */
static struct sim_rd_cfg *rd_cfg(const char *id)
{
	unsigned i;

	for (i = 0; i < sim_air_rd_count(air); i++)
		if (!strcmp(sim_air_rd(air, i)->cfg->id, id))
			return sim_air_rd(air, i)->cfg;
	ck_abort_msg("no device %s", id);
	return NULL;
}

/* The admin pairs device id at the private address it uses now. */
static void admin_pair_rpa(struct sim_rd_cfg *c, struct admin *ad)
{
	struct mux_pair_dev d = { .le = true, .type = BDADDR_RANDOM };

	ck_assert(rpa_is_resolvable(&c->addr));
	d.a = c->addr;
	gw_rpa = c->addr;
	gw_rpa_set = true;
	admin_pair_dev(&d, ad, 0);
	gw_rpa_set = false;
}

/*
 * A device with privacy, paired at the gateway at the private address
 * it uses now (the admin's policy: that address only): the bond is kept
 * under the identity it distributed in that pairing, with its IRK, which
 * resolves the address paired. LE Secure Connections (its LTK derived,
 * handed to the mux with the identity) and legacy (the mux keeps it as
 * it passes). Then bob, granted the identity, finds the device on new
 * private addresses through the IRK and encrypts with the household LTK.
 */
START_TEST(pair_le_private_address_bond_under_identity)
{
	static const char *const ids[] = { "pscid", "plock" };
	static const uint8_t lasts[] = { 0x0c, 0x0d };
	struct admin ad;
	struct sim_rd_cfg *c;
	struct bdaddr id, rpa;
	struct shost b;
	unsigned k, i;

	for (k = 0; k < 2; k++) {
		env_up();
		memset(&ad, 0, sizeof(ad));
		ad.answer = -1;
		c = rd_cfg(ids[k]);
		rpa = c->addr;
		admin_pair_rpa(c, &ad);
		ck_assert_int_eq(ad.res, MUX_PAIR_OK);
		id_addr(&id, lasts[k]);
		ck_assert(lbond.has);
		ck_assert_uint_eq(lbond.news, 1);
		ck_assert_str_eq(lbond.by, MUX_PAIR_USER);
		ck_assert(bdaddr_eq(&lbond.a, &id));
		ck_assert_uint_eq(lbond.type, BDADDR_RANDOM);
		ck_assert(lbond.b.has_irk);
		ck_assert_mem_eq(lbond.b.irk, c->irk, 16);
		ck_assert(rpa_matches(lbond.b.irk, &rpa));
		/* The device keeps the same key for the gateway. */
		ck_assert_mem_eq(rd_le_bond(&rpa)->ltk, lbond.b.ltk, 16);
		host_up(&b, "bob");
		for (i = 0; i < 3; i++) {
			ck_assert_int_eq(sim_rd_new_rpa(c, 0x2345 + i * 0x10101), 0);
			ck_assert(!bdaddr_eq(&c->addr, &rpa));
			ck_assert_int_eq(host_le_encrypt_addr(&b, &c->addr), 0);
		}
		ck_assert_uint_eq(lbond.news, 1);
		host_down(&b);
		env_down();
	}
}
END_TEST

/*
 * Named by a private address, a device whose IRK does not resolve it
 * (its Identity Information changed on the way: another device's claim)
 * is bonded under no identity and not under the address: no bond.
 */
START_TEST(pair_le_private_address_identity_not_resolving)
{
	struct admin ad = { .answer = -1 };

	env_up();
	corrupt_irk = true;
	corrupted = 0;
	admin_pair_rpa(rd_cfg("pscid"), &ad);
	ck_assert_uint_eq(corrupted, 1);
	ck_assert_int_eq(ad.res, MUX_PAIR_NO_IDENTITY);
	ck_assert(!lbond.has);
	env_down();
}
END_TEST

/*
 * A key the Pairing Response did not promise (Vol 3 Part H 3.6.1) ends
 * the pairing with Pairing Failed: a Signing Information before the
 * lock's Central Identification (legacy: it promised EncKey only), an
 * Encryption Information from an SC device (never EncKey in SC) before
 * its Identity Information. Nothing is kept.
 */
START_TEST(pair_le_unpromised_key_fails)
{
	struct admin ad = { .answer = -1 };

	env_up();
	inject = 0x0a;
	before_code = 0x07;
	corrupted = 0;
	admin_pair_le(LOCK, true, &ad, 0);
	ck_assert_uint_eq(corrupted, 1);
	ck_assert_int_eq(ad.res, MUX_PAIR_FAILED);
	ck_assert(!lbond.has);
	memset(&ad, 0, sizeof(ad));
	ad.answer = -1;
	inject = 0x06;
	before_code = 0x08;
	corrupted = 0;
	admin_pair_rpa(rd_cfg("pscid"), &ad);
	ck_assert_uint_eq(corrupted, 1);
	ck_assert_int_eq(ad.res, MUX_PAIR_FAILED);
	ck_assert(!lbond.has);
	env_down();
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("mux_pair");
	TCase *tc = tcase_create("pair");

	tcase_add_test(tc, pair_speaker_then_users_in_turn);
	tcase_add_test(tc, pair_device_forgot_bond_admin_told);
	tcase_add_test(tc, pair_numeric_comparison_yes);
	tcase_add_test(tc, pair_numeric_comparison_no);
	tcase_add_test(tc, pair_passkey_shown_to_admin);
	tcase_add_test(tc, pair_failures);
	tcase_add_test(tc, pair_answer_only_when_asked);
	tcase_add_test(tc, pair_controller_lost);
	tcase_add_test(tc, pair_le_just_works_then_users);
	tcase_add_test(tc, pair_le_passkey_typed_by_admin);
	tcase_add_test(tc, pair_le_refused_and_timeout);
	tcase_add_test(tc, pair_passkey_typed_by_admin);
	tcase_add_test(tc, pair_le_sc_just_works_then_user);
	tcase_add_test(tc, pair_le_sc_numeric_comparison);
	tcase_add_test(tc, pair_le_sc_passkey_typed_by_admin);
	tcase_add_test(tc, pair_le_sc_invalid_public_key);
	tcase_add_test(tc, pair_le_private_address_bond_under_identity);
	tcase_add_test(tc, pair_le_private_address_identity_not_resolving);
	tcase_add_test(tc, pair_le_unpromised_key_fails);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
