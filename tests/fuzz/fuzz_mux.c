/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the virtual-controller command path: the real mux
 * core (mux/) on the simulated controller (sim/, default house plus two
 * extended-only advertisers, time scaled down 10 000 times) with three
 * sessions of three users whose grants differ (alice: the bulb and the
 * tag, whose data takes two reports; bob: the speaker and the LE Coded
 * sensor; carol: the bulb and the speaker). The input is a
 * list of records, each fed to one session's mux_session_input() as one
 * H4 packet (well formed or not):
 *
 *	u8 sel   bits 0-1: session 0..2, or 3: let the loop run (time passes)
 *	         bit 6: a 16-bit length follows, else an 8-bit one
 *	         bit 7: end the session first and start a new one (same user)
 *	u8/le16 length, then that many bytes (cut at the input's end)
 *
 * Besides the sanitizers, every packet the mux emits to a session is
 * checked against what that session's user may see (abort on a breach):
 * ACL data, Connection / Disconnection Complete and Number Of Completed
 * Packets only for the session's own handles (doc "Handles": 0x0001 up),
 * each standing, in the core's own mapping, for a physical handle (as the
 * controller reported it) whose device the user is granted; inquiry
 * results and LE advertising reports (legacy, directed, extended) only for
 * granted devices; a chain of extended reports ("more to come") only
 * whole, its fragments one after another, ended before the session ends.
 * (A session may mask its events, so what it was shown before is no guide;
 * the controller's view is.)
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "sim.h"
#include "sim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSESS	3
#define SPEAKER	0x04
#define BULB	0x03
#define LONGRANGE 0x0b
#define TAG	0x0c

static const char ext_devices[] =
	"\ndevice longrange\n"
	" address 10:B6:00:00:00:0B\n type le\n name Long Range Sensor\n advertising coded\n"
	"device tag\n"
	" address 10:B6:00:00:00:0C\n type le\n name Ext Tag\n advertising extended\n"
	" ext-adv-len 300\n";

static struct loop *lp;
static struct sim_ctrl *ctrl;
static struct mux *mx;

struct fsess {
	const char *user;
	struct mux_session *s;
	/*
	 * The core's mapping of this session's handles to physical ones, as
	 * last seen (kept after a link ends, for its Disconnection Complete).
	 */
	uint16_t vmap[4096];
	/* An extended report chain being received: its advertiser and SID. */
	bool chain;
	uint8_t chain_addr[6];
	uint8_t chain_sid;
};

static struct fsess fs[NSESS];

/*
 * The physical connections, as the controller reported them: handle ->
 * remote address (kept after a disconnection, for late packets).
 */
static uint8_t phys_addr[4096][6];
static bool phys_known[4096];

static bool granted(const char *user, const uint8_t *a)
{
	static const uint8_t base[5] = { 0x00, 0x00, 0x00, 0xb6, 0x10 };
	bool house = memcmp(a + 1, base, 5) == 0;

	if (!house)
		return false;
	if (strcmp(user, "alice") == 0)
		return a[0] == BULB || a[0] == TAG;
	if (strcmp(user, "bob") == 0)
		return a[0] == SPEAKER || a[0] == LONGRANGE;
	return a[0] == BULB || a[0] == SPEAKER;
}

static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	return granted(user, a->b);
}

/*
 * One household LE bond, made by the first legacy pairing an input
 * drives through (mux_bond_le.c), so the broker's watch of the device's
 * SMP and its answers to the hosts' SMP are both reached.
 */
static bool le_bonded;
static struct mux_le_bond le_bond;

static int pol_bond_ltk(const struct bdaddr *a, uint8_t type, struct mux_le_bond *b, void *ctx)
{
	if (!le_bonded)
		return -ENOENT;
	if (b)
		*b = le_bond;
	return 0;
}

static int pol_bond_new_le(const char *user, const struct bdaddr *a, uint8_t type,
			   const struct mux_le_bond *b, void *ctx)
{
	if (b->key_size < 7 || b->key_size > 16)
		abort();	/* the core must never hand the store a bad size */
	le_bond = *b;
	le_bonded = true;
	return 0;
}

/*
 * The key a device is given in a host's place (mux_bond_central.c), so
 * its LE Long Term Key Requests as central are answered from it.
 */
static bool pk_kept;
static struct mux_le_pkey pk;

static int pol_bond_pltk(const struct bdaddr *a, uint8_t type, struct mux_le_pkey *k,
			 void *ctx)
{
	if (!pk_kept)
		return -ENOENT;
	*k = pk;
	return 0;
}

static int pol_bond_new_pltk(const char *user, const struct bdaddr *a, uint8_t type,
			     const struct mux_le_pkey *k, void *ctx)
{
	pk = *k;
	pk_kept = true;
	return 0;
}

static const struct mux_policy pol = {
	NULL, NULL, pol_may_access, NULL, NULL, NULL, NULL, NULL,
	pol_bond_ltk, pol_bond_new_le, .bond_pltk = pol_bond_pltk, .bond_new_pltk = pol_bond_new_pltk
};

static void note_conn(const uint8_t *h4, size_t len)
{
	unsigned h;

	if (len >= 14 && h4[0] == 0x04 && h4[1] == HCI_EV_CONN_COMPLETE && h4[3] == 0) {
		h = get_le16(h4 + 4) & 0x0fff;
		memcpy(phys_addr[h], h4 + 6, 6);
		phys_known[h] = true;
	}
	/* LE (Enhanced, v1 or v2) Connection Complete: sub, status, handle, role, type, addr. */
	if (len >= 15 && h4[0] == 0x04 && h4[1] == HCI_EV_LE_META &&
	    (h4[3] == 0x01 || h4[3] == 0x0a || h4[3] == 0x29) && h4[4] == 0) {
		h = get_le16(h4 + 5) & 0x0fff;
		memcpy(phys_addr[h], h4 + 9, 6);
		phys_known[h] = true;
	}
}

static void ctrl_emit(const uint8_t *h4, size_t len, void *user)
{
	note_conn(h4, len);
	mux_ctrl_input(mx, h4, len);
}

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	return ctrl ? sim_ctrl_input(ctrl, h4, len) : -EPIPE;
}

static void quiet(int prio, const char *line, void *user)
{
}

/*
 * A packet about handle vh may reach a session only if vh is its own
 * (never a physical handle passed through), standing for a physical link
 * whose device the user is granted.
 */
static void check_handle(struct fsess *f, unsigned vh)
{
	struct mux_link_info li[64];
	unsigned i, n, h;

	n = mux_session_links(f->s, li, 64);
	for (i = 0; i < n; i++) {
		if (li[i].vhandle < 1 || li[i].vhandle > 0x0eff)
			abort();
		f->vmap[li[i].vhandle] = li[i].handle;
	}
	h = f->vmap[vh];
	if (vh < 1 || vh > 0x0eff || !h || !phys_known[h] || !granted(f->user, phys_addr[h]))
		abort();
}

/*
 * An Extended Advertising Report: granted advertiser; after one saying
 * "more to come" (Data_Status 01) the next is of the same chain.
 */
static void check_ext_report(struct fsess *f, const uint8_t *h4, size_t len)
{
	const uint8_t *r = h4 + 5;	/* after type, code, length, sub, num */
	unsigned status;

	if (len < 5 + 24 || h4[4] != 1)
		abort();
	if (!granted(f->user, r + 3))
		abort();
	if (f->chain && (memcmp(f->chain_addr, r + 3, 6) || f->chain_sid != r[11]))
		abort();
	status = (get_le16(r) >> 5) & 0x03;
	f->chain = status == 0x01;
	memcpy(f->chain_addr, r + 3, 6);
	f->chain_sid = r[11];
}

/* What a session is shown: the isolation invariants (see the header). */
static int sess_emit(const uint8_t *h4, size_t len, void *user)
{
	struct fsess *f = user;
	unsigned i, n;

	if (len >= 5 && h4[0] == 0x02) {
		check_handle(f, get_le16(h4 + 1) & 0x0fff);
		return 0;
	}
	if (len < 3 || h4[0] != 0x04)
		return 0;
	switch (h4[1]) {
	case HCI_EV_CONN_COMPLETE:
		if (len >= 14 && h4[3] == 0)
			check_handle(f, get_le16(h4 + 4) & 0x0fff);
		break;
	case HCI_EV_DISCONN_COMPLETE:
		if (len >= 7 && h4[3] == 0)
			check_handle(f, get_le16(h4 + 4) & 0x0fff);
		break;
	case HCI_EV_NUM_COMP_PKTS:
		n = len >= 4 ? h4[3] : 0;
		for (i = 0; i < n && 4 + 4 * i + 2 <= len; i++)
			check_handle(f, get_le16(h4 + 4 + 4 * i) & 0x0fff);
		break;
	case HCI_EV_INQUIRY_RESULT:
	case HCI_EV_INQUIRY_RESULT_RSSI:
	case HCI_EV_EXT_INQUIRY_RESULT:
		if (len >= 10 && h4[3] >= 1 && !granted(f->user, h4 + 4))
			abort();
		break;
	case HCI_EV_LE_META:
		if (len >= 15 && (h4[3] == 0x01 || h4[3] == 0x0a || h4[3] == 0x29) && h4[4] == 0)
			check_handle(f, get_le16(h4 + 5) & 0x0fff);
		if (len >= 13 && h4[3] == 0x02 && h4[4] >= 1 && !granted(f->user, h4 + 7))
			abort();
		if (len >= 13 && h4[3] == 0x0b && h4[4] >= 1 && !granted(f->user, h4 + 7))
			abort();
		if (h4[3] == 0x0d)
			check_ext_report(f, h4, len);
		break;
	}
	return 0;
}

static void sess_start(unsigned i)
{
	static const char *const users[NSESS] = { "alice", "bob", "carol" };

	fs[i].user = users[i];
	fs[i].chain = false;
	fs[i].s = mux_session_new(mx, users[i], sess_emit, &fs[i]);
	if (!fs[i].s)
		abort();
}

/* Let time pass: due timers run (at 1/10000 of real time most are due). */
static void run(unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		loop_iterate(lp, 0);
}

/* The default house and the extended-only advertisers. */
static struct sim_house *house(void)
{
	static char text[8192];
	struct sim_house *h = NULL;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "%s%s", sim_house_default_text(),
			     ext_devices);
	if (n >= sizeof(text) || sim_house_parse_buf("fuzz", text, n, &h, NULL, 0) < 0)
		abort();
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_opts o = { .time_scale = 0.0001, .seed = 7 };
	struct mux_ops ops = { ctrl_send, NULL, NULL, NULL };
	struct mux_config cfg = { 4, 0, 0.0001 };	/* the simulated clock */
	struct sim_air *air;
	size_t off = 0, n;
	unsigned i;
	uint8_t sel;

	log_set_handler(quiet, NULL);
	memset(phys_known, 0, sizeof(phys_known));
	le_bonded = false;
	pk_kept = false;
	lp = loop_new();
	air = sim_air_new(lp, house(), &o);
	ctrl = sim_ctrl_new(air, NULL, ctrl_emit, NULL);
	mx = mux_new(lp, &cfg, &pol, &ops);
	if (!lp || !air || !ctrl || !mx)
		abort();
	mux_ctrl_up(mx);
	for (i = 0; i < 200000 && !mux_is_ready(mx); i++)
		loop_iterate(lp, 0);
	if (!mux_is_ready(mx))
		abort();
	for (i = 0; i < NSESS; i++) {
		memset(fs[i].vmap, 0, sizeof(fs[i].vmap));
		sess_start(i);
	}

	while (off < size) {
		sel = data[off++];
		if ((sel & 3) == 3) {
			run(1 + (sel >> 2) % 16);
			continue;
		}
		if (sel & 0x80) {
			if (fs[sel & 3].chain)
				abort();	/* half a chain, never ended */
			mux_session_free(fs[sel & 3].s);
			memset(fs[sel & 3].vmap, 0, sizeof(fs[sel & 3].vmap));
			sess_start(sel & 3);
		}
		if (sel & 0x40) {
			if (size - off < 2)
				break;
			n = get_le16(data + off);
			off += 2;
		} else {
			if (size - off < 1)
				break;
			n = data[off++];
		}
		if (n > size - off)
			n = size - off;
		if (!mux_session_is_dead(fs[sel & 3].s))
			mux_session_input(fs[sel & 3].s, data + off, n);
		off += n;
	}
	run(5);

	for (i = 0; i < NSESS; i++) {
		if (fs[i].chain)
			abort();	/* half a chain, never ended */
		mux_session_free(fs[i].s);
	}
	mux_free(mx);
	sim_ctrl_free(ctrl);
	ctrl = NULL;
	sim_air_free(air);
	loop_free(lp);
	return 0;
}
