/* SPDX-License-Identifier: MIT */
/*
 * The simulated controller against the host-side driver: init sequences of
 * Linux 6.1, discovery, connections, pairing, LE, ACL flow control and the
 * RDs' L2CAP/ATT/SMP, with time scaled by 0.01.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "cursor.h"
#include "hci.h"
#include "hostdrv.h"
#include "sim.h"
#include "sim_int.h"
#include "smp_crypto.h"

static const char test_house[] =
	"device speaker\n"
	" address 10:B6:00:00:00:04 public\n type bredr\n name Kitchen Speaker\n"
	" class 0x240414\n uuid16 110b\n"
	"device bulb\n"
	" address 10:B6:00:00:00:03\n type dual\n name Living Room Bulb\n"
	" service 1815\n characteristic 2a56 read,write 01\n"
	"device ghost\n"
	" address 10:B6:00:00:00:09\n type bredr\n connectable no\n discoverable no\n"
	"device thermo\n"
	" address 10:B6:00:00:00:02\n type le\n name Thermometer\n uuid16 181a\n"
	" service 181a\n characteristic 2a6e read,notify 6608\n"
	" characteristic 2a1d read 02\n"
	"device lock\n"
	" address C0:B6:00:00:00:01 random\n type le\n name Front Door Lock\n"
	" service 180f\n characteristic 2a19 read,notify 5a\n"
	" service 1815\n characteristic 2a56 read,write,encrypt 01\n"
	"device caller\n"
	" address 10:B6:00:00:00:0A\n type bredr\n discoverable no\n connect-in 100\n"
	"device longrange\n"
	" address 10:B6:00:00:00:0B\n type le\n name Long Range Sensor\n advertising coded\n"
	"device tag\n"
	" address 10:B6:00:00:00:0C\n type le\n name Ext Tag\n advertising extended\n"
	" ext-adv-len 300\n";

static const struct bdaddr SPEAKER = { { 0x04, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr BULB = { { 0x03, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr GHOST = { { 0x09, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr THERMO = { { 0x02, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr LOCK = { { 0x01, 0, 0, 0, 0xb6, 0xc0 } };
static const struct bdaddr CALLER = { { 0x0a, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr LONGRANGE = { { 0x0b, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr TAG = { { 0x0c, 0, 0, 0, 0xb6, 0x10 } };
static const struct bdaddr NOBODY = { { 0x77, 0x77, 0, 0, 0xb6, 0x10 } };

static struct loop *L;
static struct sim_air *A;
static struct sim_ctrl *C;
static struct hostdrv *D;
static uint8_t R[300];
static size_t RL;

static int send_to_ctrl(const uint8_t *h4, size_t len, void *user)
{
	return sim_ctrl_input(user, h4, len);
}

static void setup_opts(const struct sim_opts *o)
{
	struct sim_house *h = NULL;
	char err[256];

	L = loop_new();
	ck_assert_ptr_nonnull(L);
	ck_assert_int_eq(sim_house_parse_buf("test", test_house, strlen(test_house),
					     &h, err, sizeof(err)), 0);
	A = sim_air_new(L, h, o);
	ck_assert_ptr_nonnull(A);
	D = hostdrv_new(L);
	C = sim_ctrl_new(A, NULL, hostdrv_sink, D);
	ck_assert_ptr_nonnull(C);
	hostdrv_set_sender(D, send_to_ctrl, C);
	hostdrv_set_timeout(D, 3000);
	hostdrv_set_trace(D, getenv("HOSTDRV_TRACE") != NULL);
	/* Linux's masks: the LE Meta and EIR events are off by default. */
	ck_assert_int_eq(hostdrv_cmd_sync(D, HCI_OP_SET_EVENT_MASK,
					  "\xff\xff\xfb\xff\x07\xf8\xbf\x3d", 8,
					  NULL, 0, NULL), 0);
}

static void setup(void)
{
	struct sim_opts o = { .time_scale = 0.01, .seed = 42 };

	setup_opts(&o);
}

static void teardown(void)
{
	sim_ctrl_free(C);
	sim_air_free(A);
	hostdrv_free(D);
	loop_free(L);
	C = NULL;
	A = NULL;
	D = NULL;
	L = NULL;
}

/* Send, expect a Command Complete with status st. */
static void cc_ok(uint16_t op, const void *p, size_t n, int st)
{
	bool cs = true;
	int r = hostdrv_cmd_sync2(D, op, p, n, R, sizeof(R), &RL, &cs);

	ck_assert_msg(r == st, "opcode 0x%04x: status %d, want %d", op, r, st);
	ck_assert_msg(!cs, "opcode 0x%04x answered by Command Status", op);
}

/* Send, expect a Command Status st. */
static void cs_ok(uint16_t op, const void *p, size_t n, int st)
{
	bool cs = false;
	int r = hostdrv_cmd_sync2(D, op, p, n, R, sizeof(R), &RL, &cs);

	ck_assert_msg(r == st, "opcode 0x%04x: status %d, want %d", op, r, st);
	ck_assert_msg(cs, "opcode 0x%04x answered by Command Complete", op);
}

static void wait_ev(uint8_t code, uint8_t sub)
{
	int r = hostdrv_wait_event(D, code, sub, R, sizeof(R), &RL);

	ck_assert_msg(r == 0, "event 0x%02x/0x%02x: %d", code, sub, r);
}

/* ---------------------------------------------------------------- init */

struct step {
	uint16_t op;
	uint8_t plen;
	uint8_t p[32];
	size_t min_rlen;
};

/*
 * The Linux 6.1 hci_init_sync sequence for this controller's bits, from
 * /work/shared/notes/linux-host-hci-sequences.md 1.2 (6.1-rc7 order).
 */
static const struct step init_rc7[] = {
	{ 0x0c03, 0, {0}, 1 },		/* Reset */
	{ 0x1003, 0, {0}, 9 },		/* Read Local Features */
	{ 0x1001, 0, {0}, 9 },		/* Read Local Version */
	{ 0x1009, 0, {0}, 7 },		/* Read BD_ADDR */
	{ 0x1002, 0, {0}, 65 },		/* Read Local Commands */
	{ 0x0c52, 241, {0}, 1 },	/* Write EIR (first init) */
	{ 0x0c45, 1, {2}, 1 },		/* Write Inquiry Mode 2 */
	{ 0x0c58, 0, {0}, 2 },		/* Read Inquiry Response TX Power */
	{ 0x1004, 1, {1}, 11 },		/* Read Local Ext Features p1 */
	{ 0x1005, 0, {0}, 8 },		/* Read Buffer Size */
	{ 0x0c23, 0, {0}, 4 },		/* Read Class of Device */
	{ 0x0c14, 0, {0}, 249 },	/* Read Local Name */
	{ 0x0c25, 0, {0}, 3 },		/* Read Voice Setting */
	{ 0x0c38, 0, {0}, 2 },		/* Read Number of Supported IAC */
	{ 0x0c39, 0, {0}, 5 },		/* Read Current IAC LAP */
	{ 0x0c16, 2, {0x00, 0x7d}, 1 },	/* Write Connection Accept Timeout */
	{ 0x2002, 0, {0}, 4 },		/* LE Read Buffer Size */
	{ 0x2003, 0, {0}, 9 },		/* LE Read Local Features */
	{ 0x201c, 0, {0}, 9 },		/* LE Read Supported States */
	{ 0x0c01, 8, {0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d}, 1 },
	{ 0x0c0d, 7, {0, 0, 0, 0, 0, 0, 1}, 5 },	/* Read Stored Link Key */
	{ 0x080f, 2, {0, 0}, 1 },	/* Write Default Link Policy */
	{ 0x0c1b, 0, {0}, 5 },		/* Read Page Scan Activity */
	{ 0x0c46, 0, {0}, 2 },		/* Read Page Scan Type */
	{ 0x2001, 8, {0x1f, 0x1a, 0x02, 0, 0, 0, 0, 0}, 1 },	/* LE Set Event Mask */
	{ 0x200f, 0, {0}, 2 },		/* LE Read Accept List Size */
	{ 0x2010, 0, {0}, 1 },		/* LE Clear Accept List */
	{ 0x203b, 0, {0}, 2 },		/* LE Read Num Adv Sets */
	{ 0x0c6d, 2, {1, 0}, 1 },	/* Write LE Host Supported */
	{ 0x0c12, 7, {0, 0, 0, 0, 0, 0, 1}, 3 },	/* Delete Stored Link Key */
};

/* The power-on update that follows (notes 1.4), ext-adv variant. */
static const struct step power_on[] = {
	{ 0x0c56, 1, {1}, 1 },		/* Write Simple Pairing Mode */
	{ 0x2036, 25, {0x00, 0x13, 0x00, 0x00, 0x08, 0x00, 0x00, 0x08, 0x00,
		       0x07, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x7f, 0x01,
		       0x00, 0x01, 0x00, 0x00}, 2 },	/* LE Set Ext Adv Params */
	{ 0x2038, 4, {0x00, 0x03, 0x01, 0x00}, 1 },	/* LE Set Ext Scan Rsp Data */
	{ 0x0c1a, 1, {0x02}, 1 },	/* Write Scan Enable */
	{ 0x0c24, 3, {0x0c, 0x01, 0x1c}, 1 },	/* Write Class of Device */
	{ 0x0c13, 248, {'b', 'g', 'w'}, 1 },	/* Write Local Name */
	{ 0x0c52, 241, {0}, 1 },	/* Write EIR */
};

static void run_steps(const struct step *s, size_t n)
{
	uint8_t p[255];
	size_t i;

	for (i = 0; i < n; i++) {
		memset(p, 0, sizeof(p));
		memcpy(p, s[i].p, s[i].plen < 32 ? s[i].plen : 32);
		cc_ok(s[i].op, p, s[i].plen, 0);
		ck_assert_msg(RL >= s[i].min_rlen, "opcode 0x%04x: %zu return bytes",
			      s[i].op, RL);
		if (s[i].op == 0x1009) {
			struct bdaddr a;

			memcpy(a.b, R + 1, 6);
			ck_assert(!bdaddr_is_zero(&a));
		} else if (s[i].op == 0x1005) {
			ck_assert_int_ne(get_le16(R + 1), 0);	/* acl mtu */
			ck_assert_int_ne(get_le16(R + 4), 0);	/* acl pkts */
		} else if (s[i].op == 0x2002) {
			ck_assert_int_ge(get_le16(R + 1), 27);	/* le mtu */
		}
	}
}

START_TEST(init_linux_61rc7)
{
	run_steps(init_rc7, sizeof(init_rc7) / sizeof(init_rc7[0]));
	run_steps(power_on, sizeof(power_on) / sizeof(power_on[0]));
	/* A second power-on repeats the init identically (notes 1.1). */
	run_steps(init_rc7, sizeof(init_rc7) / sizeof(init_rc7[0]));
	/*
	 * Page scan is on from power_on's Write Scan Enable until this
	 * Reset, and the house's caller pages us 100 ms (1 ms scaled) after
	 * it goes on: whether its Connection Request came before the Reset
	 * cancelled the page depends only on how fast this host ran the three
	 * commands in between, and both are what a controller does. The
	 * request, if any, is queued before the Reset's Command Complete, so
	 * it is here now; anything else the init left behind is a bug.
	 */
	if (hostdrv_has_event(D, HCI_EV_CONN_REQUEST, 0)) {
		wait_ev(HCI_EV_CONN_REQUEST, 0);
		ck_assert(!memcmp(R, CALLER.b, 6));
	}
	ck_assert_uint_eq(hostdrv_pending(D), 0);
}
END_TEST

START_TEST(init_linux_6115)
{
	struct step s[sizeof(init_rc7) / sizeof(init_rc7[0])];
	size_t n = sizeof(s) / sizeof(s[0]), i;

	/* 6.1.15: LE Read Local Features before LE Read Buffer Size. */
	memcpy(s, init_rc7, sizeof(s));
	for (i = 0; i < n; i++)
		if (s[i].op == 0x2002) {
			struct step t = s[i];

			s[i] = s[i + 1];
			s[i + 1] = t;
			break;
		}
	ck_assert_uint_eq(s[i].op, 0x2003);
	run_steps(s, n);
	run_steps(power_on, sizeof(power_on) / sizeof(power_on[0]));
}
END_TEST

#define X_OP(code, id, name) code,
static const uint16_t all_ops[] = { HCI_OPCODE_LIST(X_OP) };

START_TEST(supported_commands_consistent)
{
	uint8_t cmds[64];
	size_t i;

	cc_ok(0x1002, NULL, 0, 0);
	memcpy(cmds, R + 1, 64);
	/* Everything not implemented: Unknown HCI Command; everything
	 * implemented: anything else (here mostly 0x12 for no parameters). */
	for (i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
		int r = hostdrv_cmd_sync(D, all_ops[i], NULL, 0, R, sizeof(R), &RL);

		ck_assert_int_ge(r, 0);
		if (sim_ctrl_cmd_supported(all_ops[i]))
			ck_assert_msg(r != HCI_ST_UNKNOWN_COMMAND, "0x%04x", all_ops[i]);
		else
			ck_assert_msg(r == HCI_ST_UNKNOWN_COMMAND, "0x%04x: %d", all_ops[i], r);
	}
	cs_ok(0xfc01, NULL, 0, HCI_ST_UNKNOWN_COMMAND);
	/* Bits the kernel gates on (notes 1.3) match what is implemented. */
	ck_assert(cmds[26] & 0x08 && cmds[26] & 0x10);	/* scan enable, create conn */
	ck_assert(cmds[37] & 0x20 && cmds[37] & 0x40 && cmds[37] & 0x80);
	ck_assert(!(cmds[18] & 0x04));			/* no err data reporting */
	ck_assert(!(cmds[41] & 0x20));			/* no LE buffer size v2 */
	ck_assert(!(cmds[34] & 0x40));			/* no resolving list */
	ck_assert(cmds[20] & 0x10);			/* read enc key size */
}
END_TEST

START_TEST(command_flow_and_async)
{
	uint8_t b[16];
	struct h4_pkt p;
	uint8_t raw[8];
	int n = h4_build_cmd(raw, sizeof(raw), HCI_OP_RESET, NULL, 0);

	/* sim_ctrl_input never emits synchronously. */
	ck_assert_int_eq(sim_ctrl_input(C, raw, (size_t)n), 0);
	ck_assert_uint_eq(hostdrv_pending(D), 0);
	hostdrv_run(D, 20);
	ck_assert_uint_eq(hostdrv_pending(D), 1);
	hostdrv_clear(D);
	/* Num_HCI_Command_Packets is 1 in every CC and CS. */
	hostdrv_set_trace(D, false);
	ck_assert_int_eq(hostdrv_cmd(D, HCI_OP_READ_BD_ADDR, NULL, 0), 0);
	ck_assert_int_eq(hostdrv_wait_event(D, HCI_EV_CMD_COMPLETE, 0, b, sizeof(b), &RL), 0);
	ck_assert_uint_eq(b[0], 1);
	ck_assert_int_eq(hostdrv_cmd(D, HCI_OP_DISCONNECT, "\x01\x00\x13", 3), 0);
	ck_assert_int_eq(hostdrv_wait_event(D, HCI_EV_CMD_STATUS, 0, b, sizeof(b), &RL), 0);
	ck_assert_uint_eq(b[1], 1);
	/* Framing errors are refused, not answered. */
	ck_assert_int_eq(sim_ctrl_input(C, raw, 3), -EBADMSG);
	raw[0] = H4_EVT;
	ck_assert_int_eq(sim_ctrl_input(C, raw, 3), -EBADMSG);
	ck_assert_int_eq(h4_parse(&p, (const uint8_t *)"\x01\x03\x0c\x00", 4, 0), 0);
}
END_TEST

START_TEST(invalid_parameters_0x12)
{
	uint8_t inq[5] = { 0x33, 0x8b, 0x9e, 0x00, 0x00 };

	cc_ok(HCI_OP_RESET, "\x00", 1, HCI_ST_INVALID_PARAMETERS);
	cs_ok(HCI_OP_INQUIRY, inq, 4, HCI_ST_INVALID_PARAMETERS);
	cs_ok(HCI_OP_INQUIRY, inq, 5, HCI_ST_INVALID_PARAMETERS);	/* length 0 */
	inq[3] = 4;
	inq[0] = 0x00;
	inq[1] = 0x00;
	cs_ok(HCI_OP_INQUIRY, inq, 5, HCI_ST_INVALID_PARAMETERS);	/* bad LAP */
	cc_ok(HCI_OP_WRITE_SCAN_ENABLE, "\x04", 1, HCI_ST_INVALID_PARAMETERS);
	cc_ok(HCI_OP_WRITE_INQUIRY_MODE, "\x03", 1, HCI_ST_INVALID_PARAMETERS);
	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x02\x10\x00\x10\x00\x00\x00", 7,
	      HCI_ST_INVALID_PARAMETERS);
	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x01\x10\x00\x20\x00\x00\x00", 7,
	      HCI_ST_INVALID_PARAMETERS);	/* window > interval */
	cs_ok(HCI_OP_DISCONNECT, "\x01\x00", 2, HCI_ST_INVALID_PARAMETERS);
}
END_TEST

/* ---------------------------------------------------------------- BR/EDR */

static void inquiry(uint8_t len, uint8_t num)
{
	uint8_t p[5] = { 0x33, 0x8b, 0x9e, len, num };

	cs_ok(HCI_OP_INQUIRY, p, 5, 0);
}

START_TEST(inquiry_rssi_mode)
{
	cc_ok(HCI_OP_WRITE_INQUIRY_MODE, "\x01", 1, 0);
	inquiry(2, 0);
	wait_ev(HCI_EV_INQUIRY_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	/* speaker and bulb; the ghost and the caller are not discoverable;
	 * LE-only devices do not answer inquiries. */
	wait_ev(HCI_EV_INQUIRY_RESULT_RSSI, 0);
	ck_assert_uint_eq(RL, 15);
	ck_assert(!memcmp(R + 1, SPEAKER.b, 6));
	ck_assert_uint_eq(R[9] | R[10] << 8 | R[11] << 16, 0x240414);
	wait_ev(HCI_EV_INQUIRY_RESULT_RSSI, 0);
	ck_assert(!memcmp(R + 1, BULB.b, 6));
	ck_assert(!hostdrv_has_event(D, HCI_EV_INQUIRY_RESULT_RSSI, 0));
	ck_assert(!hostdrv_has_event(D, HCI_EV_EXT_INQUIRY_RESULT, 0));
}
END_TEST

START_TEST(inquiry_eir_mode)
{
	cc_ok(HCI_OP_WRITE_INQUIRY_MODE, "\x02", 1, 0);
	inquiry(2, 0);
	wait_ev(HCI_EV_EXT_INQUIRY_RESULT, 0);
	ck_assert_uint_eq(RL, 255);
	ck_assert(!memcmp(R + 1, SPEAKER.b, 6));
	/* EIR: UUID list 0x110b, then the complete name. */
	ck_assert(!memcmp(R + 15, "\x03\x03\x0b\x11\x10\x09Kitchen Speaker", 21));
	wait_ev(HCI_EV_INQUIRY_COMPLETE, 0);
}
END_TEST

START_TEST(inquiry_standard_mode)
{
	inquiry(1, 0);
	wait_ev(HCI_EV_INQUIRY_RESULT, 0);
	ck_assert_uint_eq(RL, 15);
	wait_ev(HCI_EV_INQUIRY_COMPLETE, 0);
}
END_TEST

START_TEST(inquiry_disallowed_0x0c)
{
	inquiry(4, 0);
	cs_ok(HCI_OP_INQUIRY, "\x33\x8b\x9e\x04\x00", 5, HCI_ST_COMMAND_DISALLOWED);
	cc_ok(HCI_OP_INQUIRY_CANCEL, NULL, 0, 0);
	cc_ok(HCI_OP_INQUIRY_CANCEL, NULL, 0, HCI_ST_COMMAND_DISALLOWED);
	/* No Inquiry Complete after a cancel. */
	hostdrv_run(D, 80);
	ck_assert(!hostdrv_has_event(D, HCI_EV_INQUIRY_COMPLETE, 0));
}
END_TEST

START_TEST(inquiry_num_responses)
{
	cc_ok(HCI_OP_WRITE_INQUIRY_MODE, "\x01", 1, 0);
	inquiry(0x30, 1);	/* 61 s unless halted by Num_Responses */
	wait_ev(HCI_EV_INQUIRY_RESULT_RSSI, 0);
	wait_ev(HCI_EV_INQUIRY_COMPLETE, 0);
	ck_assert(!hostdrv_has_event(D, HCI_EV_INQUIRY_RESULT_RSSI, 0));
}
END_TEST

START_TEST(remote_name_and_page_timeout_0x04)
{
	uint8_t p[10] = { 0 };

	memcpy(p, SPEAKER.b, 6);
	p[6] = 0x01;
	cs_ok(HCI_OP_REMOTE_NAME_REQ, p, 10, 0);
	wait_ev(HCI_EV_REMOTE_NAME, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert(!memcmp(R + 1, SPEAKER.b, 6));
	ck_assert_str_eq((char *)R + 7, "Kitchen Speaker");
	memcpy(p, GHOST.b, 6);
	cs_ok(HCI_OP_REMOTE_NAME_REQ, p, 10, 0);
	wait_ev(HCI_EV_REMOTE_NAME, 0);
	ck_assert_uint_eq(R[0], HCI_ST_PAGE_TIMEOUT);
	memcpy(p, NOBODY.b, 6);
	cs_ok(HCI_OP_REMOTE_NAME_REQ, p, 10, 0);
	cc_ok(HCI_OP_REMOTE_NAME_REQ_CANCEL, p, 6, 0);
	wait_ev(HCI_EV_REMOTE_NAME, 0);
	ck_assert_uint_eq(R[0], HCI_ST_UNKNOWN_CONN_ID);
}
END_TEST

static uint16_t bredr_connect(const struct bdaddr *a)
{
	uint8_t p[13] = { 0 };

	memcpy(p, a->b, 6);
	put_le16(p + 6, 0xcc18);
	p[8] = 0x02;
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert(!memcmp(R + 3, a->b, 6));
	ck_assert_uint_eq(R[9], 0x01);
	return get_le16(R + 1);
}

static void disconnect(uint16_t h)
{
	uint8_t p[3] = { (uint8_t)h, (uint8_t)(h >> 8), 0x13 };

	cs_ok(HCI_OP_DISCONNECT, p, 3, 0);
	wait_ev(HCI_EV_DISCONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(get_le16(R + 1), h);
	ck_assert_uint_eq(R[3], HCI_ST_LOCAL_HOST_TERM);
}

START_TEST(bredr_connect_features_disconnect)
{
	uint16_t h = bredr_connect(&SPEAKER);
	uint8_t p[3] = { (uint8_t)h, (uint8_t)(h >> 8), 1 };

	ck_assert_uint_le(h, HCI_HANDLE_MAX);
	cs_ok(HCI_OP_READ_REMOTE_FEATURES, p, 2, 0);
	wait_ev(HCI_EV_REMOTE_FEATURES, 0);
	ck_assert_uint_eq(get_le16(R + 1), h);
	ck_assert(R[3 + 7] & 0x80);	/* extended features */
	ck_assert(R[3 + 6] & 0x08);	/* SSP */
	cs_ok(HCI_OP_READ_REMOTE_EXT_FEATURES, p, 3, 0);
	wait_ev(HCI_EV_REMOTE_EXT_FEATURES, 0);
	ck_assert_uint_eq(R[3], 1);
	ck_assert(R[5] & 0x01);		/* host SSP */
	cs_ok(HCI_OP_READ_REMOTE_VERSION, p, 2, 0);
	wait_ev(HCI_EV_REMOTE_VERSION, 0);
	cs_ok(HCI_OP_READ_CLOCK_OFFSET, p, 2, 0);
	wait_ev(HCI_EV_CLOCK_OFFSET, 0);
	cc_ok(HCI_OP_READ_RSSI, p, 2, 0);
	/* A second connection to the same device already exists. */
	memset(R, 0, 13);
	{
		uint8_t q[13] = { 0 };

		memcpy(q, SPEAKER.b, 6);
		cs_ok(HCI_OP_CREATE_CONN, q, 13, HCI_ST_CONN_ALREADY_EXISTS);
	}
	disconnect(h);
	cs_ok(HCI_OP_DISCONNECT, "\x01\x00\x13", 3, HCI_ST_UNKNOWN_CONN_ID);
}
END_TEST

START_TEST(page_timeout_0x04)
{
	uint8_t p[13] = { 0 };

	memcpy(p, GHOST.b, 6);
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_PAGE_TIMEOUT);
	ck_assert(!memcmp(R + 3, GHOST.b, 6));
	memcpy(p, NOBODY.b, 6);
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_PAGE_TIMEOUT);
	/* An LE-only device cannot be paged either. */
	memcpy(p, THERMO.b, 6);
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_PAGE_TIMEOUT);
}
END_TEST

START_TEST(unknown_handle_0x02)
{
	cs_ok(HCI_OP_DISCONNECT, "\xbc\x0a\x13", 3, HCI_ST_UNKNOWN_CONN_ID);
	cs_ok(HCI_OP_READ_REMOTE_FEATURES, "\xbc\x0a", 2, HCI_ST_UNKNOWN_CONN_ID);
	cs_ok(HCI_OP_AUTH_REQUESTED, "\xbc\x0a", 2, HCI_ST_UNKNOWN_CONN_ID);
	cs_ok(HCI_OP_LE_READ_REMOTE_FEATURES, "\xbc\x0a", 2, HCI_ST_UNKNOWN_CONN_ID);
	cc_ok(HCI_OP_READ_RSSI, "\xbc\x0a", 2, HCI_ST_UNKNOWN_CONN_ID);
	cc_ok(HCI_OP_READ_ENC_KEY_SIZE, "\xbc\x0a", 2, HCI_ST_UNKNOWN_CONN_ID);
	/* ACL for an unknown handle is dropped: no NOCP. */
	ck_assert_int_eq(hostdrv_acl(D, 0x0abc, 0x02, "\x00\x00\x01\x00", 4), 0);
	hostdrv_run(D, 30);
	ck_assert_uint_eq(hostdrv_pending(D), 0);
}
END_TEST

START_TEST(create_conn_cancel)
{
	uint8_t p[13] = { 0 };

	memcpy(p, GHOST.b, 6);
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	cc_ok(HCI_OP_CREATE_CONN_CANCEL, p, 6, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_UNKNOWN_CONN_ID);
	cc_ok(HCI_OP_CREATE_CONN_CANCEL, p, 6, HCI_ST_UNKNOWN_CONN_ID);
}
END_TEST

static void ssp_pair(const struct bdaddr *a, uint16_t h, uint8_t key[16])
{
	uint8_t p[9];

	cs_ok(HCI_OP_AUTH_REQUESTED, (uint8_t[2]){ (uint8_t)h, (uint8_t)(h >> 8) }, 2, 0);
	wait_ev(HCI_EV_LINK_KEY_REQ, 0);
	ck_assert(!memcmp(R, a->b, 6));
	cc_ok(HCI_OP_LINK_KEY_NEG_REPLY, a->b, 6, 0);
	ck_assert(!memcmp(R + 1, a->b, 6));
	wait_ev(HCI_EV_IO_CAPA_REQUEST, 0);
	memcpy(p, a->b, 6);
	p[6] = 0x01;	/* DisplayYesNo */
	p[7] = 0x00;
	p[8] = 0x03;	/* dedicated bonding, MITM */
	cc_ok(HCI_OP_IO_CAPABILITY_REPLY, p, 9, 0);
	wait_ev(HCI_EV_IO_CAPA_RESPONSE, 0);
	ck_assert_uint_eq(R[6], 0x03);	/* the RD: NoInputNoOutput */
	wait_ev(HCI_EV_USER_CONFIRM_REQUEST, 0);
	cc_ok(HCI_OP_USER_CONFIRM_REPLY, a->b, 6, 0);
	wait_ev(HCI_EV_SIMPLE_PAIR_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	wait_ev(HCI_EV_LINK_KEY_NOTIFY, 0);
	ck_assert(!memcmp(R, a->b, 6));
	memcpy(key, R + 6, 16);
	ck_assert_uint_eq(R[22], 0x04);
	wait_ev(HCI_EV_AUTH_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(get_le16(R + 1), h);
}

START_TEST(ssp_just_works_and_reconnect)
{
	uint8_t key[16], p[22], hp[3];
	uint16_t h;

	cc_ok(HCI_OP_WRITE_SIMPLE_PAIRING_MODE, "\x01", 1, 0);
	h = bredr_connect(&SPEAKER);
	hp[0] = (uint8_t)h;
	hp[1] = (uint8_t)(h >> 8);
	hp[2] = 1;
	/* Encryption needs authentication first. */
	cs_ok(HCI_OP_SET_CONN_ENCRYPT, hp, 3, HCI_ST_COMMAND_DISALLOWED);
	ssp_pair(&SPEAKER, h, key);
	cs_ok(HCI_OP_SET_CONN_ENCRYPT, hp, 3, 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(R[3], 1);
	cc_ok(HCI_OP_READ_ENC_KEY_SIZE, hp, 2, 0);
	ck_assert_uint_eq(R[3], 16);
	disconnect(h);

	/* Reconnect: Link Key Request answered with the stored key. */
	h = bredr_connect(&SPEAKER);
	cs_ok(HCI_OP_AUTH_REQUESTED, (uint8_t[2]){ (uint8_t)h, (uint8_t)(h >> 8) }, 2, 0);
	wait_ev(HCI_EV_LINK_KEY_REQ, 0);
	memcpy(p, SPEAKER.b, 6);
	memcpy(p + 6, key, 16);
	cc_ok(HCI_OP_LINK_KEY_REPLY, p, 22, 0);
	wait_ev(HCI_EV_AUTH_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	/* A wrong key fails authentication. */
	cs_ok(HCI_OP_AUTH_REQUESTED, (uint8_t[2]){ (uint8_t)h, (uint8_t)(h >> 8) }, 2, 0);
	wait_ev(HCI_EV_LINK_KEY_REQ, 0);
	p[6] ^= 0xff;
	cc_ok(HCI_OP_LINK_KEY_REPLY, p, 22, 0);
	wait_ev(HCI_EV_AUTH_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_AUTH_FAILURE);
	/* A reply nobody asked for is disallowed. */
	cc_ok(HCI_OP_USER_CONFIRM_REPLY, SPEAKER.b, 6, HCI_ST_COMMAND_DISALLOWED);
}
END_TEST

START_TEST(incoming_connection)
{
	uint8_t p[7];

	/* The caller pages us 100 ms (scaled) after page scan is on. */
	cc_ok(HCI_OP_WRITE_SCAN_ENABLE, "\x02", 1, 0);
	wait_ev(HCI_EV_CONN_REQUEST, 0);
	ck_assert(!memcmp(R, CALLER.b, 6));
	ck_assert_uint_eq(R[9], 0x01);
	memcpy(p, CALLER.b, 6);
	p[6] = 0x01;
	cs_ok(HCI_OP_ACCEPT_CONN_REQ, p, 7, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert(!memcmp(R + 3, CALLER.b, 6));
	cs_ok(HCI_OP_ACCEPT_CONN_REQ, p, 7, HCI_ST_UNKNOWN_CONN_ID);
	disconnect(get_le16(R + 1));
}
END_TEST

START_TEST(incoming_connection_rejected)
{
	uint8_t p[7];

	cc_ok(HCI_OP_WRITE_SCAN_ENABLE, "\x03", 1, 0);
	wait_ev(HCI_EV_CONN_REQUEST, 0);
	memcpy(p, CALLER.b, 6);
	p[6] = 0x01;	/* not a rejection reason */
	cs_ok(HCI_OP_REJECT_CONN_REQ, p, 7, HCI_ST_INVALID_PARAMETERS);
	p[6] = HCI_ST_REJ_BAD_ADDR;
	cs_ok(HCI_OP_REJECT_CONN_REQ, p, 7, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_REJ_BAD_ADDR);
}
END_TEST

/* ---------------------------------------------------------------- LE */

static unsigned count_reports(uint8_t sub, const struct bdaddr *a, uint8_t type)
{
	unsigned n = 0;

	/* Bounded by the queue: every wait takes one event. */
	while (hostdrv_has_event(D, HCI_EV_LE_META, sub)) {
		ck_assert_int_eq(hostdrv_wait_event(D, HCI_EV_LE_META, sub, R,
						    sizeof(R), &RL), 0);
		if (sub == HCI_LE_EV_ADV_REPORT && !memcmp(R + 3, a->b, 6) &&
		    R[1] == type)
			n++;
		if (sub == HCI_LE_EV_EXT_ADV_REPORT && !memcmp(R + 4, a->b, 6) &&
		    get_le16(R + 1) == type)
			n++;
	}
	return n;
}

START_TEST(le_scan_duplicates)
{
	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x01\x12\x00\x12\x00\x00\x00", 7, 0);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x01", 2, 0);
	/* Parameters cannot change while scanning. */
	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x01\x12\x00\x12\x00\x00\x00", 7,
	      HCI_ST_COMMAND_DISALLOWED);
	hostdrv_run(D, 60);	/* several scan ticks */
	/* Duplicate filter: one ADV_IND and one SCAN_RSP per device. */
	ck_assert_uint_eq(count_reports(HCI_LE_EV_ADV_REPORT, &THERMO, 0x00) +
			  0, 1);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2, 0);
	hostdrv_clear(D);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2, 0);
	hostdrv_run(D, 60);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2, 0);
	ck_assert_uint_gt(count_reports(HCI_LE_EV_ADV_REPORT, &LOCK, 0x00), 1);
}
END_TEST

START_TEST(le_scan_data_and_rsp)
{
	bool name = false, rsp = false;

	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x01\x12\x00\x12\x00\x00\x00", 7, 0);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x01", 2, 0);
	hostdrv_run(D, 30);
	while (hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT)) {
		wait_ev(HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT);
		if (memcmp(R + 3, THERMO.b, 6))
			continue;
		ck_assert_uint_eq(R[2], 0x00);	/* public */
		if (R[1] == 0x00) {
			/* flags: LE General Discoverable, BR/EDR not supported */
			ck_assert(!memcmp(R + 10, "\x02\x01\x06", 3));
			name = memmem(R + 10, R[9], "Thermometer", 11) != NULL;
		} else if (R[1] == 0x04) {
			rsp = memmem(R + 10, R[9], "Thermometer", 11) != NULL;
		}
	}
	ck_assert(name && rsp);
}
END_TEST

START_TEST(le_ext_scan_and_timeout)
{
	cc_ok(HCI_OP_LE_SET_EVENT_MASK, "\xff\xff\xff\xff\x00\x00\x00\x00", 8, 0);
	/* own public, no filter, 1M: active 0x12/0x12 */
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_PARAMS, "\x00\x00\x01\x01\x12\x00\x12\x00", 8, 0);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_PARAMS, "\x00\x00\x02\x01\x12\x00\x12\x00", 8,
	      HCI_ST_UNSUPPORTED_FEATURE);	/* LE 2M: no scanning PHY */
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_PARAMS, "\x00\x00\x01\x01\x12\x00", 6,
	      HCI_ST_INVALID_PARAMETERS);
	/* duration 0x0032 = 500 ms (5 ms scaled) then LE Scan Timeout */
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x01\x01\x64\x00\x00\x00", 6, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_SCAN_TIMEOUT);
	ck_assert_uint_eq(count_reports(HCI_LE_EV_EXT_ADV_REPORT, &LOCK, 0x13), 1);
}
END_TEST

/*
 * Reports of one advertiser from the queue: how many, how many with
 * Data_Status 01, their data octets in total, the primary PHY of the last.
 */
static unsigned ext_chain(const struct bdaddr *a, unsigned *more, size_t *bytes,
			  uint8_t *phy)
{
	unsigned n = 0;

	*more = 0;
	*bytes = 0;
	while (hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT)) {
		wait_ev(HCI_EV_LE_META, HCI_LE_EV_EXT_ADV_REPORT);
		if (RL < 25 || memcmp(R + 4, a->b, 6))
			continue;
		n++;
		*more += ((get_le16(R + 1) >> 5) & 0x03) == 0x01;
		*bytes += R[24];
		*phy = R[10];
		ck_assert_uint_eq(RL, 25u + R[24]);
	}
	return n;
}

START_TEST(le_ext_only_coded_and_fragmented_devices)
{
	unsigned more;
	size_t bytes;
	uint8_t phy = 0;

	cc_ok(HCI_OP_LE_SET_EVENT_MASK, "\xff\xff\xff\xff\x00\x00\x00\x00", 8, 0);
	/* A legacy scan never sees extended-only advertisers. */
	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x00\x12\x00\x12\x00\x00\x00", 7, 0);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2, 0);
	hostdrv_run(D, 60);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2, 0);
	ck_assert_uint_eq(count_reports(HCI_LE_EV_ADV_REPORT, &TAG, 0x00), 0);
	ck_assert_uint_eq(count_reports(HCI_LE_EV_ADV_REPORT, &LONGRANGE, 0x00), 0);
	hostdrv_clear(D);
	/* Extended on LE 1M: the tag's 300 octets in two reports, not the coded one. */
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_PARAMS, "\x00\x00\x01\x00\x12\x00\x12\x00", 8, 0);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x01\x01\x00\x00\x00\x00", 6, 0);
	hostdrv_run(D, 60);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x00\x00\x00\x00\x00\x00", 6, 0);
	ck_assert_uint_eq(ext_chain(&TAG, &more, &bytes, &phy), 2);
	ck_assert_uint_eq(more, 1);
	ck_assert_uint_ge(bytes, 297);
	ck_assert_uint_le(bytes, 300);
	ck_assert_uint_eq(phy, 0x01);
	hostdrv_clear(D);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x01\x01\x00\x00\x00\x00", 6, 0);
	hostdrv_run(D, 60);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x00\x00\x00\x00\x00\x00", 6, 0);
	ck_assert_uint_eq(ext_chain(&LONGRANGE, &more, &bytes, &phy), 0);
	hostdrv_clear(D);
	/* LE 1M and LE Coded: the long-range sensor, on Coded (0x03). */
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_PARAMS,
	      "\x00\x00\x05\x00\x12\x00\x12\x00\x00\x36\x00\x24\x00", 13, 0);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x01\x01\x00\x00\x00\x00", 6, 0);
	hostdrv_run(D, 60);
	cc_ok(HCI_OP_LE_SET_EXT_SCAN_ENABLE, "\x00\x00\x00\x00\x00\x00", 6, 0);
	ck_assert_uint_eq(ext_chain(&LONGRANGE, &more, &bytes, &phy), 1);
	ck_assert_uint_eq(more, 0);
	ck_assert_uint_eq(phy, 0x03);
	/* Flags and the name once: the legacy data, as it fits 31 octets. */
	ck_assert_uint_eq(bytes, 3 + 2 + 17);
}
END_TEST

static uint8_t le_conn_params[25] = {
	0x60, 0x00, 0x60, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00,
	0x18, 0x00, 0x28, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static uint16_t le_connect(const struct bdaddr *a, uint8_t type)
{
	uint8_t p[25];

	memcpy(p, le_conn_params, 25);
	p[5] = type;
	memcpy(p + 6, a->b, 6);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(R[3], 0x00);	/* central */
	ck_assert_uint_eq(R[4], type);
	ck_assert(!memcmp(R + 5, a->b, 6));
	return get_le16(R + 1);
}

START_TEST(le_phy_and_data_length)
{
	uint8_t p[7] = { 0 }, d[6] = { 0 };
	uint16_t h = le_connect(&THERMO, 0x00);

	/* + Data Length Change (bit 6), PHY Update Complete (bit 11). */
	cc_ok(HCI_OP_LE_SET_EVENT_MASK, "\x7f\x08\x00\x00\x00\x00\x00\x00", 8, 0);
	put_le16(p, h);
	cc_ok(HCI_OP_LE_READ_PHY, p, 2, 0);
	ck_assert_uint_eq(R[3], 0x01);		/* a new link: LE 1M both ways */
	ck_assert_uint_eq(R[4], 0x01);
	p[2] = 0x00;				/* preferences for both */
	p[3] = 0x02;
	p[4] = 0x02;
	cs_ok(HCI_OP_LE_SET_PHY, p, 7, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_PHY_UPDATE_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(get_le16(R + 1), h);
	ck_assert_uint_eq(R[3], 0x02);
	ck_assert_uint_eq(R[4], 0x02);
	cc_ok(HCI_OP_LE_READ_PHY, p, 2, 0);
	ck_assert_uint_eq(R[3], 0x02);
	p[3] = 0;				/* no TX preference, bit not set */
	cs_ok(HCI_OP_LE_SET_PHY, p, 7, HCI_ST_INVALID_PARAMETERS);
	put_le16(d, h);
	put_le16(d + 2, 251);
	put_le16(d + 4, 2120);
	cc_ok(HCI_OP_LE_SET_DATA_LEN, d, 6, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_DATA_LEN_CHANGE);
	ck_assert_uint_eq(get_le16(R), h);
	ck_assert_uint_eq(get_le16(R + 2), 251);
	ck_assert_uint_eq(get_le16(R + 6), 251);
	/* The same again changes nothing: no event (7.7.65.7). */
	cc_ok(HCI_OP_LE_SET_DATA_LEN, d, 6, 0);
	hostdrv_run(D, 20);
	ck_assert(!hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_DATA_LEN_CHANGE));
	put_le16(d + 2, 0x1a);
	cc_ok(HCI_OP_LE_SET_DATA_LEN, d, 6, HCI_ST_INVALID_PARAMETERS);
	put_le16(d, 0x0eff);
	put_le16(d + 2, 251);
	cc_ok(HCI_OP_LE_SET_DATA_LEN, d, 6, HCI_ST_UNKNOWN_CONN_ID);
	ck_assert_uint_eq(get_le16(R + 1), 0x0eff);
	/* Suggested default data length, maximum, default PHY. */
	cc_ok(HCI_OP_LE_READ_DEF_DATA_LEN, NULL, 0, 0);
	ck_assert_uint_eq(get_le16(R + 1), 27);
	cc_ok(HCI_OP_LE_WRITE_DEF_DATA_LEN, "\xfb\x00\x48\x08", 4, 0);
	cc_ok(HCI_OP_LE_READ_DEF_DATA_LEN, NULL, 0, 0);
	ck_assert_uint_eq(get_le16(R + 1), 251);
	cc_ok(HCI_OP_LE_READ_MAX_DATA_LEN, NULL, 0, 0);
	ck_assert_uint_eq(get_le16(R + 1), 251);
	cc_ok(HCI_OP_LE_SET_DEFAULT_PHY, "\x00\x05\x05", 3, 0);
	cc_ok(HCI_OP_LE_SET_DEFAULT_PHY, "\x00\x00\x05", 3, HCI_ST_INVALID_PARAMETERS);
	disconnect(h);
}
END_TEST

START_TEST(le_connect_legacy_and_enhanced)
{
	uint8_t p[25], e[42] = { 0 };
	uint16_t h = le_connect(&LOCK, 0x01);

	disconnect(h);
	/* With the enhanced event unmasked, 3E/0A replaces 3E/01. */
	cc_ok(HCI_OP_LE_SET_EVENT_MASK, "\x1f\x02\x00\x00\x00\x00\x00\x00", 8, 0);
	memcpy(p, le_conn_params, 25);
	memcpy(p + 6, THERMO.b, 6);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, HCI_ST_COMMAND_DISALLOWED);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(RL, 30);
	ck_assert(!memcmp(R + 5, THERMO.b, 6));
	ck_assert(!hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE));
	disconnect(get_le16(R + 1));
	/* Extended Create Connection, 1M only. */
	e[0] = 0x00;
	e[1] = 0x00;
	e[2] = 0x00;
	memcpy(e + 3, THERMO.b, 6);
	e[9] = 0x01;
	memcpy(e + 10, "\x60\x00\x60\x00\x18\x00\x28\x00\x00\x00\x2a\x00\x00\x00\x00\x00", 16);
	cs_ok(HCI_OP_LE_EXT_CREATE_CONN, e, 26, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	disconnect(get_le16(R + 1));
	/* + 2M: its block's scan parameters are ignored (zero here). */
	e[9] = 0x03;
	memcpy(e + 26, "\x00\x00\x00\x00\x18\x00\x28\x00\x00\x00\x2a\x00\x00\x00\x00\x00", 16);
	cs_ok(HCI_OP_LE_EXT_CREATE_CONN, e, 26, HCI_ST_INVALID_PARAMETERS);
	cs_ok(HCI_OP_LE_EXT_CREATE_CONN, e, 42, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	disconnect(get_le16(R + 1));
	e[9] = 0x09;	/* a reserved bit */
	cs_ok(HCI_OP_LE_EXT_CREATE_CONN, e, 26, HCI_ST_UNSUPPORTED_FEATURE);
	e[9] = 0x02;	/* LE 2M alone: nothing advertises on it */
	cs_ok(HCI_OP_LE_EXT_CREATE_CONN, e, 26, HCI_ST_INVALID_PARAMETERS);
}
END_TEST

/* LE Extended Create Connection to a over phys, the same block for each. */
static void ext_create(const struct bdaddr *a, uint8_t phys, int st)
{
	uint8_t e[58] = { 0 };
	unsigned i, n = 10;

	memcpy(e + 3, a->b, 6);
	e[9] = phys;
	for (i = 0; i < 3; i++) {
		if (!(phys & (1u << i)))
			continue;
		memcpy(e + n, "\x60\x00\x60\x00\x18\x00\x28\x00\x00\x00\x2a\x00\x00\x00\x00\x00",
		       16);
		n += 16;
	}
	cs_ok(HCI_OP_LE_EXT_CREATE_CONN, e, n, st);
}

/*
 * Devices connectable only with extended PDUs: a legacy initiator never
 * reaches them (it waits until cancelled), an extended one does on the
 * primary PHY they advertise on, the coded sensor only with LE Coded in
 * Initiating_PHYs, its link then on LE Coded (LE Read PHY 0x03).
 */
START_TEST(le_ext_connect_extended_only_and_coded)
{
	uint8_t p[25], hp[2];
	uint16_t h;

	cc_ok(HCI_OP_LE_SET_EVENT_MASK, "\x1f\x02\x00\x00\x00\x00\x00\x00", 8, 0);
	memcpy(p, le_conn_params, 25);
	memcpy(p + 6, TAG.b, 6);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	hostdrv_run(D, 30);
	ck_assert(!hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE));
	cc_ok(HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], HCI_ST_UNKNOWN_CONN_ID);
	/* The tag on LE 1M. */
	ext_create(&TAG, 0x01, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert(!memcmp(R + 5, TAG.b, 6));
	disconnect(get_le16(R + 1));
	/* The coded sensor: not on LE 1M... */
	ext_create(&LONGRANGE, 0x01, 0);
	hostdrv_run(D, 30);
	ck_assert(!hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE));
	cc_ok(HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], HCI_ST_UNKNOWN_CONN_ID);
	/* ...on LE 1M and LE Coded it is, and the link is on Coded. */
	ext_create(&LONGRANGE, 0x05, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert(!memcmp(R + 5, LONGRANGE.b, 6));
	h = get_le16(R + 1);
	put_le16(hp, h);
	cc_ok(HCI_OP_LE_READ_PHY, hp, 2, 0);
	ck_assert_uint_eq(R[3], 0x03);
	ck_assert_uint_eq(R[4], 0x03);
	disconnect(h);
}
END_TEST

START_TEST(le_create_conn_cancel)
{
	uint8_t p[25];

	cc_ok(HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, HCI_ST_COMMAND_DISALLOWED);
	memcpy(p, le_conn_params, 25);
	memcpy(p + 6, NOBODY.b, 6);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	hostdrv_run(D, 20);
	ck_assert(!hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE));
	cc_ok(HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], HCI_ST_UNKNOWN_CONN_ID);
	/* Bad connection parameters: latency too large for the timeout. */
	memcpy(p + 6, THERMO.b, 6);
	p[17] = 0xf3;
	p[18] = 0x01;
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, HCI_ST_INVALID_PARAMETERS);
	/* Own random address without one set. */
	memcpy(p, le_conn_params, 25);
	p[12] = 0x01;
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, HCI_ST_INVALID_PARAMETERS);
}
END_TEST

START_TEST(le_accept_list_connect)
{
	uint8_t p[25], al[7] = { 0x00 };

	/*
	 * The list is in use while initiating (7.8.15-17): with only a
	 * device that never advertises on it, initiating lasts until
	 * cancelled. (With the thermometer on it, the connection completed
	 * a fraction of a millisecond later at this time scale, and on a
	 * loaded machine the Clear arrived after it and succeeded.)
	 */
	memcpy(al + 1, NOBODY.b, 6);
	cc_ok(HCI_OP_LE_ADD_TO_ACCEPT_LIST, al, 7, 0);
	memcpy(p, le_conn_params, 25);
	p[4] = 0x01;	/* use the accept list */
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	cc_ok(HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0, HCI_ST_COMMAND_DISALLOWED);
	memcpy(al + 1, THERMO.b, 6);
	cc_ok(HCI_OP_LE_ADD_TO_ACCEPT_LIST, al, 7, HCI_ST_COMMAND_DISALLOWED);
	cc_ok(HCI_OP_LE_CREATE_CONN_CANCEL, NULL, 0, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], HCI_ST_UNKNOWN_CONN_ID);
	/* Free again: the thermometer alone on it, and the list connects it. */
	cc_ok(HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0, 0);
	cc_ok(HCI_OP_LE_ADD_TO_ACCEPT_LIST, al, 7, 0);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert(!memcmp(R + 5, THERMO.b, 6));
	cc_ok(HCI_OP_LE_CLEAR_ACCEPT_LIST, NULL, 0, 0);
}
END_TEST

START_TEST(le_update_and_remote_features)
{
	uint16_t h = le_connect(&THERMO, 0);
	uint8_t p[14];

	put_le16(p, h);
	cs_ok(HCI_OP_LE_READ_REMOTE_FEATURES, p, 2, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_REMOTE_FEATURES);
	ck_assert_uint_eq(get_le16(R + 1), h);
	ck_assert(R[3] & 0x01);
	memcpy(p + 2, "\x30\x00\x30\x00\x00\x00\x64\x00\x00\x00\x00\x00", 12);
	cs_ok(HCI_OP_LE_CONN_UPDATE, p, 14, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_UPDATE_COMPLETE);
	ck_assert_uint_eq(get_le16(R + 3), 0x30);
	ck_assert_uint_eq(get_le16(R + 7), 0x64);
	/* BR/EDR-only commands on an LE handle are disallowed. */
	cs_ok(HCI_OP_AUTH_REQUESTED, p, 2, HCI_ST_COMMAND_DISALLOWED);
}
END_TEST

/* ---------------------------------------------------------------- ACL */

static unsigned nocp_total(uint16_t h)
{
	unsigned n = 0;

	while (hostdrv_has_event(D, HCI_EV_NUM_COMP_PKTS, 0)) {
		wait_ev(HCI_EV_NUM_COMP_PKTS, 0);
		ck_assert_uint_eq(R[0], 1);
		ck_assert_uint_eq(get_le16(R + 1), h);
		n += get_le16(R + 3);
	}
	return n;
}

START_TEST(acl_flow_control)
{
	uint8_t pdu[12] = { 8, 0, 0x40, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint16_t h = le_connect(&THERMO, 0);
	unsigned i;

	cc_ok(HCI_OP_LE_READ_BUFFER_SIZE, NULL, 0, 0);
	ck_assert_uint_eq(R[3], 8);
	/* Nine packets into eight buffers: the ninth overflows (7.7.26). */
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(hostdrv_acl(D, h, 0x00, pdu, sizeof(pdu)), 0);
	wait_ev(HCI_EV_DATA_BUFFER_OVERFLOW, 0);
	ck_assert_uint_eq(R[0], 0x01);
	hostdrv_run(D, 20);
	ck_assert_uint_eq(nocp_total(h), 8);
	/* Credits are back: eight more go through. */
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(hostdrv_acl(D, h, 0x00, pdu, sizeof(pdu)), 0);
	hostdrv_run(D, 20);
	ck_assert_uint_eq(nocp_total(h), 8);
	ck_assert(!hostdrv_has_event(D, HCI_EV_DATA_BUFFER_OVERFLOW, 0));
}
END_TEST

START_TEST(l2cap_echo_fragmented)
{
	uint8_t pdu[4 + 4 + 60], rsp[200];
	size_t i, n;
	uint16_t h;

	teardown();
	{
		struct sim_opts o = { .time_scale = 0.01, .acl_mtu = 27 };

		setup_opts(&o);
	}
	h = bredr_connect(&SPEAKER);
	/* Echo Request (Vol 3 Part A 4.8), 60 data bytes, on CID 1. */
	put_le16(pdu, 64);
	put_le16(pdu + 2, 0x0001);
	pdu[4] = 0x08;
	pdu[5] = 0x42;
	put_le16(pdu + 6, 60);
	for (i = 0; i < 60; i++)
		pdu[8 + i] = (uint8_t)i;
	/* Host fragments to the 27-byte MTU: first + continuations. */
	ck_assert_int_eq(hostdrv_acl(D, h, 0x02, pdu, 27), 0);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x01, pdu + 27, 27), 0);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x01, pdu + 54, sizeof(pdu) - 54), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, rsp, sizeof(rsp), &n), 0);
	ck_assert_uint_eq(n, sizeof(pdu));
	ck_assert_uint_eq(rsp[4], 0x09);	/* Echo Response */
	ck_assert_uint_eq(rsp[5], 0x42);
	ck_assert(!memcmp(rsp + 8, pdu + 8, 60));
	/* An over-MTU packet is dropped without a credit. */
	hostdrv_run(D, 10);
	hostdrv_clear(D);
	{
		uint8_t big[40] = { 0 };

		ck_assert_int_eq(hostdrv_acl(D, h, 0x02, big, sizeof(big)), 0);
		hostdrv_run(D, 20);
		ck_assert(!hostdrv_has_event(D, HCI_EV_NUM_COMP_PKTS, 0));
	}
	/* Information Request: extended features. */
	memcpy(pdu, "\x06\x00\x01\x00\x0a\x07\x02\x00\x02\x00", 10);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x02, pdu, 10), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, rsp, sizeof(rsp), &n), 0);
	ck_assert_uint_eq(rsp[4], 0x0b);
	ck_assert_uint_eq(get_le16(rsp + 10), 0);	/* success */
	/* Connection Request for a PSM: refused, PSM not supported. */
	memcpy(pdu, "\x08\x00\x01\x00\x02\x08\x04\x00\x01\x00\x40\x00", 12);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x02, pdu, 12), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, rsp, sizeof(rsp), &n), 0);
	ck_assert_uint_eq(rsp[4], 0x03);
	ck_assert_uint_eq(get_le16(rsp + 12), 0x0002);
}
END_TEST

START_TEST(l2cap_echo_large)
{
	uint8_t pdu[8 + 600], rsp[700];
	uint16_t h = bredr_connect(&SPEAKER);
	size_t i, n;

	/* One 608-byte ACL packet, within the 1021-byte default MTU. */
	put_le16(pdu, 604);
	put_le16(pdu + 2, 0x0001);
	pdu[4] = 0x08;
	pdu[5] = 0x07;
	put_le16(pdu + 6, 600);
	for (i = 0; i < 600; i++)
		pdu[8 + i] = (uint8_t)(i * 7);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x02, pdu, sizeof(pdu)), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, rsp, sizeof(rsp), &n), 0);
	ck_assert_uint_eq(n, sizeof(pdu));
	ck_assert_uint_eq(rsp[4], 0x09);
	ck_assert(!memcmp(rsp + 8, pdu + 8, 600));
}
END_TEST

/* ---------------------------------------------------------------- ATT/SMP */

static void att(uint16_t h, const uint8_t *req, size_t n, uint8_t *rsp, size_t *rn)
{
	uint8_t pdu[64];

	put_le16(pdu, (uint16_t)n);
	put_le16(pdu + 2, 0x0004);
	memcpy(pdu + 4, req, n);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x00, pdu, n + 4), 0);
	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, rsp, 300, rn), 0);
	ck_assert_uint_eq(get_le16(rsp + 2), 0x0004);
}

START_TEST(gatt_read_temperature)
{
	uint16_t h = le_connect(&THERMO, 0), svc_start = 0, svc_end = 0, vh = 0;
	uint8_t rsp[300];
	size_t n, i;

	/* Discover primary services (Read By Group Type 0x2800). */
	att(h, (const uint8_t *)"\x10\x01\x00\xff\xff\x00\x28", 7, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x11);
	ck_assert_uint_eq(rsp[5], 6);
	for (i = 6; i + 6 <= n; i += 6)
		if (get_le16(rsp + i + 4) == 0x181a) {
			svc_start = get_le16(rsp + i);
			svc_end = get_le16(rsp + i + 2);
		}
	ck_assert_uint_ne(svc_start, 0);
	/* Read By Type: the Temperature characteristic's value. */
	{
		uint8_t req[7] = { 0x08 };

		put_le16(req + 1, svc_start);
		put_le16(req + 3, svc_end);
		put_le16(req + 5, 0x2a6e);
		att(h, req, 7, rsp, &n);
		ck_assert_uint_eq(rsp[4], 0x09);
		ck_assert_uint_eq(rsp[5], 4);
		vh = get_le16(rsp + 6);
		ck_assert(!memcmp(rsp + 8, "\x66\x08", 2));
	}
	/* Read Request by handle. */
	{
		uint8_t req[3] = { 0x0a };

		put_le16(req + 1, vh);
		att(h, req, 3, rsp, &n);
		ck_assert_uint_eq(rsp[4], 0x0b);
		ck_assert_uint_eq(n, 7);
		ck_assert(!memcmp(rsp + 5, "\x66\x08", 2));
		/* Not writable: Write Not Permitted. */
		req[0] = 0x12;
		att(h, (uint8_t[5]){ 0x12, (uint8_t)vh, (uint8_t)(vh >> 8), 1, 2 }, 5, rsp, &n);
		ck_assert_uint_eq(rsp[4], 0x01);
		ck_assert_uint_eq(rsp[8], 0x03);
	}
	/* Errors: bad handle, unsupported request, Exchange MTU. */
	att(h, (const uint8_t *)"\x0a\x00\x10", 3, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x01);
	ck_assert_uint_eq(rsp[8], 0x01);
	att(h, (const uint8_t *)"\x20\x00", 2, rsp, &n);
	ck_assert_uint_eq(rsp[8], 0x06);
	att(h, (const uint8_t *)"\x02\x00\x02", 3, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x03);
	/* GAP device name by type. */
	att(h, (const uint8_t *)"\x08\x01\x00\xff\xff\x00\x2a", 7, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x09);
	ck_assert(!memcmp(rsp + 8, "Thermometer", 11));
}
END_TEST

START_TEST(gatt_write_bulb)
{
	uint16_t h = le_connect(&BULB, 0), vh;
	uint8_t rsp[300];
	size_t n;

	att(h, (const uint8_t *)"\x08\x01\x00\xff\xff\x56\x2a", 7, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x09);
	vh = get_le16(rsp + 6);
	ck_assert_uint_eq(rsp[8], 0x01);
	att(h, (uint8_t[4]){ 0x12, (uint8_t)vh, (uint8_t)(vh >> 8), 0x00 }, 4, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x13);
	att(h, (uint8_t[3]){ 0x0a, (uint8_t)vh, (uint8_t)(vh >> 8) }, 3, rsp, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(rsp[5], 0x00);
}
END_TEST

static void smp_send(uint16_t h, const uint8_t *p, size_t n)
{
	uint8_t pdu[32];

	put_le16(pdu, (uint16_t)n);
	put_le16(pdu + 2, 0x0006);
	memcpy(pdu + 4, p, n);
	ck_assert_int_eq(hostdrv_acl(D, h, 0x00, pdu, n + 4), 0);
}

static void smp_recv(uint16_t h, uint8_t *p, size_t want)
{
	uint8_t pdu[64];
	size_t n;

	ck_assert_int_eq(hostdrv_wait_l2cap(D, h, pdu, sizeof(pdu), &n), 0);
	ck_assert_uint_eq(get_le16(pdu + 2), 0x0006);
	ck_assert_uint_eq(n - 4, want);
	memcpy(p, pdu + 4, want);
}

START_TEST(smp_legacy_just_works)
{
	static const uint8_t tk[16];
	uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01 };
	uint8_t pres[7], mrand[16], b[17], conf[16], srand[16], stk[16], enc[28];
	uint8_t ltk[17], ident[11], ia[6];
	uint16_t h = le_connect(&THERMO, 0);

	cc_ok(HCI_OP_READ_BD_ADDR, NULL, 0, 0);
	memcpy(ia, R + 1, 6);
	smp_send(h, preq, 7);
	smp_recv(h, pres, 7);
	ck_assert_uint_eq(pres[0], 0x02);
	ck_assert_uint_eq(pres[1], 0x03);	/* NoInputNoOutput */
	ck_assert_uint_eq(pres[6], 0x01);	/* distributes its LTK */
	memset(mrand, 0x5a, 16);
	b[0] = 0x03;
	ck_assert_int_eq(smp_c1(tk, mrand, preq, pres, 0, ia, 0, THERMO.b, b + 1), 0);
	smp_send(h, b, 17);
	smp_recv(h, b, 17);
	ck_assert_uint_eq(b[0], 0x03);
	memcpy(conf, b + 1, 16);
	b[0] = 0x04;
	memcpy(b + 1, mrand, 16);
	smp_send(h, b, 17);
	smp_recv(h, b, 17);
	ck_assert_uint_eq(b[0], 0x04);
	memcpy(srand, b + 1, 16);
	/* The RD's confirm matches its random: it ran c1 like we do. */
	ck_assert_int_eq(smp_c1(tk, srand, preq, pres, 0, ia, 0, THERMO.b, b), 0);
	ck_assert(!memcmp(b, conf, 16));
	ck_assert_int_eq(smp_s1(tk, srand, mrand, stk), 0);
	/* LE Start Encryption with the STK (rand 0, ediv 0). */
	put_le16(enc, h);
	memset(enc + 2, 0, 10);
	memcpy(enc + 12, stk, 16);
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(R[3], 1);
	smp_recv(h, ltk, 17);
	ck_assert_uint_eq(ltk[0], 0x06);
	smp_recv(h, ident, 11);
	ck_assert_uint_eq(ident[0], 0x07);
	disconnect(h);
	/* Reconnect: encrypt with the distributed LTK, EDIV and Rand. */
	h = le_connect(&THERMO, 0);
	put_le16(enc, h);
	memcpy(enc + 2, ident + 3, 8);
	memcpy(enc + 10, ident + 1, 2);
	memcpy(enc + 12, ltk + 1, 16);
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	ck_assert_uint_eq(R[0], 0);
	/* Again: a refresh (7.7.39). */
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	wait_ev(HCI_EV_KEY_REFRESH_COMPLETE, 0);
	disconnect(h);
	/* A wrong key: PIN or Key Missing. */
	h = le_connect(&THERMO, 0);
	put_le16(enc, h);
	enc[20] ^= 1;
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_PIN_OR_KEY_MISSING);
}
END_TEST

/* LE legacy Just Works on handle h to rd (addr type t); returns the STK. */
static void smp_pair(uint16_t h, const struct bdaddr *rd, uint8_t t, uint8_t stk[16])
{
	static const uint8_t tk[16];
	uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01 };
	uint8_t pres[7], mrand[16], b[17], srand[16], ia[6];

	cc_ok(HCI_OP_READ_BD_ADDR, NULL, 0, 0);
	memcpy(ia, R + 1, 6);
	smp_send(h, preq, 7);
	smp_recv(h, pres, 7);
	memset(mrand, 0x5a, 16);
	b[0] = 0x03;
	ck_assert_int_eq(smp_c1(tk, mrand, preq, pres, 0, ia, t, rd->b, b + 1), 0);
	smp_send(h, b, 17);
	smp_recv(h, b, 17);
	b[0] = 0x04;
	memcpy(b + 1, mrand, 16);
	smp_send(h, b, 17);
	smp_recv(h, b, 17);
	memcpy(srand, b + 1, 16);
	ck_assert_int_eq(smp_s1(tk, srand, mrand, stk), 0);
}

/*
 * The lock's bolt (0x2a56, service 0x1815) is served only over an
 * encrypted link: Insufficient Encryption (0x0f) before, the value after
 * pairing and encryption; the battery level stays open.
 */
START_TEST(gatt_lock_bolt_needs_encryption)
{
	uint16_t h = le_connect(&LOCK, 1), vh;
	uint8_t rsp[300], stk[16], enc[28], kd[17];
	size_t n;

	att(h, (const uint8_t *)"\x08\x01\x00\xff\xff\x56\x2a", 7, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x01);	/* Error Response */
	ck_assert_uint_eq(rsp[8], 0x0f);	/* Insufficient Encryption */
	vh = get_le16(rsp + 6);
	att(h, (uint8_t[3]){ 0x0a, (uint8_t)vh, (uint8_t)(vh >> 8) }, 3, rsp, &n);
	ck_assert_uint_eq(rsp[8], 0x0f);
	att(h, (uint8_t[4]){ 0x12, (uint8_t)vh, (uint8_t)(vh >> 8), 0x00 }, 4, rsp, &n);
	ck_assert_uint_eq(rsp[8], 0x0f);
	att(h, (const uint8_t *)"\x08\x01\x00\xff\xff\x19\x2a", 7, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x09);	/* the battery level: open */
	smp_pair(h, &LOCK, 1, stk);
	put_le16(enc, h);
	memset(enc + 2, 0, 10);
	memcpy(enc + 12, stk, 16);
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	ck_assert_uint_eq(R[0], 0);
	/* The lock bonds: its LTK and EDIV/Rand (Vol 3 Part H 3.6). */
	smp_recv(h, kd, 17);
	ck_assert_uint_eq(kd[0], 0x06);
	smp_recv(h, kd, 11);
	ck_assert_uint_eq(kd[0], 0x07);
	att(h, (uint8_t[3]){ 0x0a, (uint8_t)vh, (uint8_t)(vh >> 8) }, 3, rsp, &n);
	ck_assert_uint_eq(rsp[4], 0x0b);
	ck_assert_uint_eq(rsp[5], 0x01);
}
END_TEST

/* ---------------------------------------------------------------- misc */

START_TEST(reset_clears_state)
{
	uint16_t h = bredr_connect(&SPEAKER);

	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2, 0);
	inquiry(4, 0);
	cc_ok(HCI_OP_RESET, NULL, 0, 0);
	hostdrv_clear(D);
	hostdrv_run(D, 30);
	ck_assert_uint_eq(hostdrv_pending(D), 0);	/* scan and inquiry gone */
	cs_ok(HCI_OP_DISCONNECT, (uint8_t[3]){ (uint8_t)h, (uint8_t)(h >> 8), 0x13 }, 3,
	      HCI_ST_UNKNOWN_CONN_ID);
}
END_TEST

START_TEST(event_mask_default_excludes_le)
{
	/* After Reset the default mask (7.3.1) has no LE Meta event. */
	cc_ok(HCI_OP_RESET, NULL, 0, 0);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2, 0);
	hostdrv_run(D, 30);
	ck_assert_uint_eq(hostdrv_pending(D), 0);
}
END_TEST

START_TEST(event_mask_honoured)
{
	/* Everything masked but the mandatory CC/CS. */
	cc_ok(HCI_OP_SET_EVENT_MASK, "\x00\x00\x00\x00\x00\x00\x00\x00", 8, 0);
	inquiry(1, 0);
	hostdrv_run(D, 40);
	ck_assert_uint_eq(hostdrv_pending(D), 0);
}
END_TEST

START_TEST(two_controllers_inquiry)
{
	struct hostdrv *d2 = hostdrv_new(L);
	struct sim_ctrl *c2 = sim_ctrl_new(A, NULL, hostdrv_sink, d2);
	uint8_t a2[7];
	bool seen = false;

	hostdrv_set_sender(d2, send_to_ctrl, c2);
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_READ_BD_ADDR, NULL, 0, a2, 7, NULL), 0);
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_WRITE_SCAN_ENABLE, "\x01", 1,
					  NULL, 0, NULL), 0);
	cc_ok(HCI_OP_READ_BD_ADDR, NULL, 0, 0);
	ck_assert(memcmp(R + 1, a2 + 1, 6));	/* distinct addresses */
	cc_ok(HCI_OP_WRITE_INQUIRY_MODE, "\x01", 1, 0);
	inquiry(2, 0);
	wait_ev(HCI_EV_INQUIRY_COMPLETE, 0);
	while (hostdrv_has_event(D, HCI_EV_INQUIRY_RESULT_RSSI, 0)) {
		wait_ev(HCI_EV_INQUIRY_RESULT_RSSI, 0);
		seen |= !memcmp(R + 1, a2 + 1, 6);
	}
	ck_assert(seen);
	sim_ctrl_free(c2);
	hostdrv_free(d2);
}
END_TEST

START_TEST(two_controllers_connect)
{
	struct hostdrv *d2 = hostdrv_new(L);
	struct sim_ctrl *c2 = sim_ctrl_new(A, NULL, hostdrv_sink, d2);
	uint8_t a2[7], a1[7], p[13] = { 0 }, b[300];
	uint16_t h1, h2, hh;
	size_t n;
	uint8_t pb;

	hostdrv_set_trace(d2, getenv("HOSTDRV_TRACE") != NULL);
	hostdrv_set_sender(d2, send_to_ctrl, c2);
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_READ_BD_ADDR, NULL, 0, a2, 7, NULL), 0);
	cc_ok(HCI_OP_READ_BD_ADDR, NULL, 0, 0);
	memcpy(a1, R, 7);
	/* Not page-scanning: the page times out. */
	memcpy(p, a2 + 1, 6);
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], HCI_ST_PAGE_TIMEOUT);
	/* Page scan on: a Connection Request at the other host. */
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_WRITE_SCAN_ENABLE, "\x02", 1,
					  NULL, 0, NULL), 0);
	/* The scenario's caller pages every page-scanning controller:
	 * turn it away first. */
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_REQUEST, 0, b, sizeof(b), &n), 0);
	ck_assert(!memcmp(b, CALLER.b, 6));
	b[6] = 0x0d;
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_REJECT_CONN_REQ, b, 7, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0x0d);
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_REQUEST, 0, b, sizeof(b), &n), 0);
	ck_assert(!memcmp(b, a1 + 1, 6));
	/* Rejected: both ends see the reason. */
	memcpy(b + 6, "\x0f", 1);
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_REJECT_CONN_REQ, b, 7, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0x0f);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0x0f);
	/* Accepted: both ends complete. */
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_REQUEST, 0, b, sizeof(b), &n), 0);
	b[6] = 0x01;
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_ACCEPT_CONN_REQ, b, 7, NULL, 0, NULL), 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert(!memcmp(b + 3, a1 + 1, 6));
	h2 = get_le16(b + 1);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	h1 = get_le16(R + 1);
	/* ACL crosses: a credit back here, the data there. */
	ck_assert_int_eq(hostdrv_acl(D, h1, 0x00, "\x04\x00\x40\x00ping", 8), 0);
	ck_assert_int_eq(hostdrv_wait_acl(d2, &hh, &pb, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(hh, h2);
	ck_assert_uint_eq(pb, HCI_PB_FIRST_FLUSH);
	ck_assert_uint_eq(n, 8);
	ck_assert(!memcmp(b + 4, "ping", 4));
	wait_ev(HCI_EV_NUM_COMP_PKTS, 0);
	ck_assert_uint_eq(get_le16(R + 1), h1);
	/* Remote features of a controller; no pairing between them. */
	cs_ok(HCI_OP_READ_REMOTE_FEATURES, (uint8_t[2]){ (uint8_t)h1, (uint8_t)(h1 >> 8) }, 2, 0);
	wait_ev(HCI_EV_REMOTE_FEATURES, 0);
	ck_assert(R[3 + 4] & 0x40);
	cs_ok(HCI_OP_AUTH_REQUESTED, (uint8_t[2]){ (uint8_t)h1, (uint8_t)(h1 >> 8) }, 2,
	      HCI_ST_UNSUPPORTED_REMOTE_FEATURE);
	/* The other side hangs up: this side learns the reason. */
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_DISCONNECT,
					  (uint8_t[3]){ (uint8_t)h2, (uint8_t)(h2 >> 8), 0x13 },
					  3, NULL, 0, NULL), 0);
	wait_ev(HCI_EV_DISCONN_COMPLETE, 0);
	ck_assert_uint_eq(get_le16(R + 1), h1);
	ck_assert_uint_eq(R[3], 0x13);
	/* Connect again, then free the other controller: link lost (0x08). */
	cs_ok(HCI_OP_CREATE_CONN, p, 13, 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_CONN_REQUEST, 0, b, sizeof(b), &n), 0);
	b[6] = 0x01;
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_ACCEPT_CONN_REQ, b, 7, NULL, 0, NULL), 0);
	wait_ev(HCI_EV_CONN_COMPLETE, 0);
	ck_assert_uint_eq(R[0], 0);
	sim_ctrl_free(c2);
	hostdrv_free(d2);
	wait_ev(HCI_EV_DISCONN_COMPLETE, 0);
	ck_assert_uint_eq(R[3], HCI_ST_CONN_TIMEOUT);
}
END_TEST

static int cmd2(struct hostdrv *d, uint16_t op, const void *p, size_t n)
{
	return hostdrv_cmd_sync(d, op, p, n, NULL, 0, NULL);
}

START_TEST(two_controllers_le)
{
	struct hostdrv *d2 = hostdrv_new(L);
	struct sim_ctrl *c2 = sim_ctrl_new(A, NULL, hostdrv_sink, d2);
	uint8_t a2[7], a1[7], p[25], b[300], enc[28], ltk[18];
	uint16_t h1, h2, hh;
	bool adv = false, rsp = false;
	size_t n;

	hostdrv_set_sender(d2, send_to_ctrl, c2);
	ck_assert_int_eq(hostdrv_cmd_sync(d2, HCI_OP_READ_BD_ADDR, NULL, 0, a2, 7, NULL), 0);
	ck_assert_int_eq(cmd2(d2, HCI_OP_SET_EVENT_MASK, "\xff\xff\xfb\xff\x07\xf8\xbf\x3d", 8), 0);
	cc_ok(HCI_OP_READ_BD_ADDR, NULL, 0, 0);
	memcpy(a1, R, 7);
	/* The second controller advertises, connectable, with data. */
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_SET_ADV_PARAM,
			      "\x00\x08\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00",
			      15), 0);
	memset(b, 0, 32);
	memcpy(b, "\x06\x05\x09peer", 7);
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_SET_ADV_DATA, b, 32), 0);
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_SET_ADV_ENABLE, "\x01", 1), 0);
	cc_ok(HCI_OP_LE_SET_SCAN_PARAM, "\x01\x12\x00\x12\x00\x00\x00", 7, 0);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x01", 2, 0);
	hostdrv_run(D, 30);
	cc_ok(HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2, 0);
	while (hostdrv_has_event(D, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT)) {
		wait_ev(HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT);
		if (memcmp(R + 3, a2 + 1, 6))
			continue;
		adv |= R[1] == 0x00 && R[9] == 6 && !memcmp(R + 12, "peer", 4);
		rsp |= R[1] == 0x04;
	}
	ck_assert(adv && rsp);
	/* Connect: central here, peripheral there. */
	memcpy(p, le_conn_params, 25);
	memcpy(p + 6, a2 + 1, 6);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(R[3], 0);
	h1 = get_le16(R + 1);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[3], 1);
	ck_assert(!memcmp(b + 5, a1 + 1, 6));
	h2 = get_le16(b + 1);
	/* Data the other way this time. */
	ck_assert_int_eq(hostdrv_acl(d2, h2, 0x00, "\x04\x00\x04\x00\x0a\x01\x00\x02", 8), 0);
	ck_assert_int_eq(hostdrv_wait_acl(D, &hh, NULL, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(hh, h1);
	ck_assert_uint_eq(n, 8);
	/* Encryption: the peripheral's host supplies the key. */
	put_le16(enc, h1);
	memset(enc + 2, 0x11, 10);
	memset(enc + 12, 0x22, 16);
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(get_le16(b), h2);
	put_le16(ltk, h2);
	memset(ltk + 2, 0x22, 16);
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_LTK_REPLY, ltk, 18), 0);
	wait_ev(HCI_EV_ENCRYPT_CHANGE, 0);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_uint_eq(R[3], 1);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_ENCRYPT_CHANGE, 0, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[3], 1);
	/* A peripheral may not start encryption; a stray reply is refused. */
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_LTK_REPLY, ltk, 18), HCI_ST_COMMAND_DISALLOWED);
	/* Different keys: MIC failure, both ends drop. */
	cs_ok(HCI_OP_LE_START_ENCRYPTION, enc, 28, 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST,
					    b, sizeof(b), &n), 0);
	ltk[5] ^= 1;
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_LTK_REPLY, ltk, 18), 0);
	wait_ev(HCI_EV_DISCONN_COMPLETE, 0);
	ck_assert_uint_eq(R[3], HCI_ST_MIC_FAILURE);
	/* Advertising stopped at the connection; an extended set now. */
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_SET_EXT_ADV_PARAMS,
			      "\x00\x13\x00\x00\x08\x00\x00\x08\x00\x07\x00\x00"
			      "\x00\x00\x00\x00\x00\x00\x00\x7f\x01\x00\x01\x00\x00", 25), 0);
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_SET_EXT_ADV_ENABLE, "\x01\x01\x00\x00\x00\x00", 6), 0);
	cc_ok(HCI_OP_LE_SET_EVENT_MASK, "\x1f\x02\x00\x00\x00\x00\x00\x00", 8, 0);
	ck_assert_int_eq(cmd2(d2, HCI_OP_LE_SET_EVENT_MASK, "\xff\xff\xff\x00\x00\x00\x00\x00", 8), 0);
	cs_ok(HCI_OP_LE_CREATE_CONN, p, 25, 0);
	wait_ev(HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE);
	ck_assert_uint_eq(R[0], 0);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[3], 1);
	h2 = get_le16(b + 1);
	ck_assert_int_eq(hostdrv_wait_event(d2, HCI_EV_LE_META, HCI_LE_EV_ADV_SET_TERMINATED,
					    b, sizeof(b), &n), 0);
	ck_assert_uint_eq(b[1], 0);
	ck_assert_uint_eq(get_le16(b + 2), h2);
	sim_ctrl_free(c2);
	hostdrv_free(d2);
	wait_ev(HCI_EV_DISCONN_COMPLETE, 0);
	ck_assert_uint_eq(R[3], HCI_ST_CONN_TIMEOUT);
}
END_TEST

START_TEST(random_input_robust)
{
	uint8_t pkt[1 + 4 + 300];
	uint32_t x = 12345;
	unsigned i, k;
	uint16_t h;

	/* A connection or two to aim at, then noise: well-framed commands
	 * with any known opcode and random parameters, ACL on live and dead
	 * handles. The sanitizers watch; the controller must keep answering. */
	h = bredr_connect(&SPEAKER);
	le_connect(&THERMO, 0);
	for (i = 0; i < 3000; i++) {
		size_t plen;

		x = x * 1103515245u + 12345u;
		plen = (x >> 8) % 40;
		if (i % 5 == 0) {
			for (k = 0; k < plen; k++)
				pkt[5 + k] = (uint8_t)((x >> (k % 24)) ^ k);
			hostdrv_acl(D, (x & 1) ? h : (uint16_t)((x >> 4) & 0x0fff),
				    (uint8_t)((x >> 12) & 3), pkt + 5, plen);
			continue;
		}
		for (k = 0; k < plen; k++) {
			x = x * 1103515245u + 12345u;
			pkt[k] = (uint8_t)(x >> 16);
		}
		/* Keep the ones that would end the connections out. */
		if (all_ops[i % (sizeof(all_ops) / sizeof(all_ops[0]))] == HCI_OP_RESET)
			continue;
		hostdrv_cmd(D, all_ops[i % (sizeof(all_ops) / sizeof(all_ops[0]))], pkt, plen);
		if (i % 50 == 0) {
			hostdrv_run(D, 2);
			hostdrv_clear(D);
		}
	}
	hostdrv_run(D, 50);
	hostdrv_clear(D);
	cc_ok(HCI_OP_READ_BD_ADDR, NULL, 0, 0);
}
END_TEST

START_TEST(air_freed_before_controller)
{
	uint8_t raw[4] = { 0x01, 0x03, 0x0c, 0x00 };

	bredr_connect(&SPEAKER);
	inquiry(4, 0);
	sim_air_free(A);
	A = NULL;
	/* The controller is orphaned: refused input, freed by its owner. */
	ck_assert_int_eq(sim_ctrl_input(C, raw, 4), -ENODEV);
	hostdrv_run(D, 20);
}
END_TEST

START_TEST(free_null)
{
	sim_ctrl_free(NULL);
	sim_air_free(NULL);
	sim_house_free(NULL);
	ck_assert_ptr_null(sim_air_new(L, NULL, NULL));
	ck_assert_ptr_null(sim_ctrl_new(NULL, NULL, NULL, NULL));
	ck_assert_int_eq(sim_ctrl_input(NULL, NULL, 0), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("sim_ctrl");
	TCase *tc;

#define ADD(name)							\
	do {								\
		tc = tcase_create(#name);				\
		tcase_add_checked_fixture(tc, setup, teardown);		\
		tcase_set_timeout(tc, 30);				\
		tcase_add_test(tc, name);				\
		suite_add_tcase(s, tc);					\
	} while (0)
	ADD(init_linux_61rc7);
	ADD(init_linux_6115);
	ADD(supported_commands_consistent);
	ADD(command_flow_and_async);
	ADD(invalid_parameters_0x12);
	ADD(inquiry_rssi_mode);
	ADD(inquiry_eir_mode);
	ADD(inquiry_standard_mode);
	ADD(inquiry_disallowed_0x0c);
	ADD(inquiry_num_responses);
	ADD(remote_name_and_page_timeout_0x04);
	ADD(bredr_connect_features_disconnect);
	ADD(page_timeout_0x04);
	ADD(unknown_handle_0x02);
	ADD(create_conn_cancel);
	ADD(ssp_just_works_and_reconnect);
	ADD(incoming_connection);
	ADD(incoming_connection_rejected);
	ADD(le_scan_duplicates);
	ADD(le_scan_data_and_rsp);
	ADD(le_ext_scan_and_timeout);
	ADD(le_ext_only_coded_and_fragmented_devices);
	ADD(le_phy_and_data_length);
	ADD(le_connect_legacy_and_enhanced);
	ADD(le_ext_connect_extended_only_and_coded);
	ADD(le_create_conn_cancel);
	ADD(le_accept_list_connect);
	ADD(le_update_and_remote_features);
	ADD(acl_flow_control);
	ADD(l2cap_echo_fragmented);
	ADD(l2cap_echo_large);
	ADD(gatt_read_temperature);
	ADD(gatt_write_bulb);
	ADD(smp_legacy_just_works);
	ADD(gatt_lock_bolt_needs_encryption);
	ADD(reset_clears_state);
	ADD(event_mask_honoured);
	ADD(event_mask_default_excludes_le);
	ADD(two_controllers_inquiry);
	ADD(two_controllers_connect);
	ADD(two_controllers_le);
	ADD(random_input_robust);
	ADD(air_freed_before_controller);
	ADD(free_null);
	return s;
}
