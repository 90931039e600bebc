/* SPDX-License-Identifier: MIT */
/*
 * Pairing at the gateway (mux/pair.h) against the simulated controller:
 * the admin's internal session pairs a device of the simulated house
 * (which answers Secure Simple Pairing with its own IO capability and
 * keeps one bond per central), the key becomes the household bond, and
 * then users whose hosts never paired authenticate with it. Each way it
 * can fail ends with its own result. Waits are bounded; nothing asserts
 * on time.
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
#include "sim.h"
#include "sim_int.h"

/* 10:B6:00:00:00:xx: the speaker (no I/O) and devices of every kind. */
#define SPEAKER	0x04
#define HEADSET	0x06	/* DisplayYesNo: numeric comparison */
#define KEYPAD	0x07	/* KeyboardOnly: passkey typed on it */
#define OLDIE	0x08	/* no SSP: PIN code */
#define GRUMPY	0x09	/* refuses to pair */
#define NOBODY	0x0a	/* not in the house */

static const char house_text[] =
	"device speaker\n address 10:B6:00:00:00:04 public\n type bredr\n name Speaker\n"
	"device headset\n address 10:B6:00:00:00:06 public\n type bredr\n name Headset\n"
	" io-capability yesno\n"
	"device keypad\n address 10:B6:00:00:00:07 public\n type bredr\n name Keypad\n"
	" io-capability keyboard\n"
	"device oldie\n address 10:B6:00:00:00:08 public\n type bredr\n name Old Car Kit\n"
	" pairing legacy\n"
	"device grumpy\n address 10:B6:00:00:00:09 public\n type bredr\n name Grumpy\n"
	" pairing refuse\n";

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

/* The pairing reaches every device; bob and carol the speaker; dave nothing. */
static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	struct bdaddr sp;

	rd_addr(&sp, SPEAKER);
	if (strcmp(user, MUX_PAIR_USER) == 0)
		return a->b[5] == 0x10 && a->b[4] == 0xb6;
	if (strcmp(user, "bob") == 0 || strcmp(user, "carol") == 0)
		return bdaddr_eq(a, &sp);
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

static const struct mux_policy pol = {
	NULL, NULL, pol_may_access, NULL, NULL, pol_bond_key, pol_bond_new, NULL
};

static void ctrl_emit(const uint8_t *h4, size_t len, void *user)
{
	mux_ctrl_input(mx, h4, len);
}

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	return ctrl ? sim_ctrl_input(ctrl, h4, len) : -EPIPE;
}

static unsigned forgot_logged;	/* the admin told a device forgot its bond */

static void quiet(int prio, const char *line, void *user)
{
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
	int answer;		/* -1: never answers; 0 no; 1 yes */
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
}

static void on_done(struct mux_pair *p, enum mux_pair_result res, uint8_t st, void *user)
{
	struct admin *ad = user;

	ad->done = true;
	ad->res = res;
	ad->st = st;
}

static const struct mux_pair_ops admin_ops = { on_prompt, on_done };

/* Pair device last as the admin would; returns once done (bounded). */
static void admin_pair(uint8_t last, struct admin *ad)
{
	struct mux_stats st;
	struct mux_pair *p;
	struct bdaddr a;
	unsigned i, before;

	rd_addr(&a, last);
	mux_get_stats(mx, &st);
	before = st.sessions;
	p = mux_pair_start(mx, lp, &a, &admin_ops, ad);
	ck_assert_ptr_nonnull(p);
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
	p = mux_pair_start(mx, lp, &a, &admin_ops, &ad);
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
	p = mux_pair_start(mx, lp, &a, &admin_ops, &ad);
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
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
