/* SPDX-License-Identifier: MIT */
/* cdclient/status.c: the devices and connections seen in the event flow. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "hci.h"
#include "status.h"

#define NOW 1795000000000000ull	/* 2026-11-18T... in microseconds */

static struct cd_status *st;
static uint8_t pbuf[300];
static struct h4_pkt pkt;

static void setup(void)
{
	st = cd_status_new();
	ck_assert_ptr_nonnull(st);
}

static void teardown(void)
{
	cd_status_free(st);
	st = NULL;
}

/* Feed one event (code, params) and return what the status module said. */
static int feed(uint8_t code, const void *param, size_t plen)
{
	int n = h4_build_evt(pbuf, sizeof(pbuf), code, param, plen);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(h4_parse(&pkt, pbuf, (size_t)n, 0), 0);
	return cd_status_controller_pkt(st, &pkt, NOW);
}

static char *devices(void)
{
	char *out;
	size_t len;

	ck_assert_int_eq(cd_status_render_devices(st, &out, &len), 0);
	ck_assert_uint_eq(strlen(out), len);
	return out;
}

static char *conns(void)
{
	char *out;
	size_t len;

	ck_assert_int_eq(cd_status_render_connections(st, &out, &len), 0);
	return out;
}

static void expect_in(char *text, const char *needle)
{
	ck_assert_msg(strstr(text, needle), "'%s' not in:\n%s", needle, text);
}

static void expect_not_in(char *text, const char *needle)
{
	ck_assert_msg(!strstr(text, needle), "'%s' unexpectedly in:\n%s",
		      needle, text);
}

/* 11:22:33:44:55:66 little-endian, plus a last byte to vary it. */
#define ADDR(last) (last), 0x55, 0x44, 0x33, 0x22, 0x11

START_TEST(inquiry_result)
{
	const uint8_t p[] = { 1, ADDR(0x66), 1, 0, 0, 0x14, 0x04, 0x24, 0, 0 };
	char *t;

	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT, p, sizeof(p)), 0);
	ck_assert_uint_eq(cd_status_device_count(st), 1);
	t = devices();
	expect_in(t, "11:22:33:44:55:66 bredr - 2026-");
	free(t);
}
END_TEST

START_TEST(inquiry_result_rssi_both_forms)
{
	const uint8_t p14[] = { 1, ADDR(0x01), 1, 0, 0x14, 0x04, 0x24, 0, 0, 0xd8 };
	const uint8_t p15[] = { 1, ADDR(0x02), 1, 0, 0, 0x14, 0x04, 0x24, 0, 0, 0xce };
	char *t;

	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT_RSSI, p14, sizeof(p14)), 0);
	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT_RSSI, p15, sizeof(p15)), 0);
	t = devices();
	expect_in(t, "11:22:33:44:55:01 bredr -40 ");
	expect_in(t, "11:22:33:44:55:02 bredr -50 ");
	free(t);
}
END_TEST

START_TEST(inquiry_result_wrong_lengths)
{
	uint8_t p[1 + 2 * 15 + 1] = { 2 };

	/* Two responses announced, one present; then one byte too many. */
	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT, p, 1 + 14), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT, p, 1 + 28 + 1), -EBADMSG);
	p[0] = 0;
	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT, p, 1), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT, p, 0), -EBADMSG);
	p[0] = 1;
	ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT_RSSI, p, 1 + 16), -EBADMSG);
	ck_assert_uint_eq(cd_status_device_count(st), 0);
}
END_TEST

static size_t eir_event(uint8_t *p, uint8_t last, int8_t rssi,
			const uint8_t *eir, size_t eir_len)
{
	const uint8_t head[] = { 1, ADDR(last), 1, 0, 0x14, 0x04, 0x24, 0, 0 };

	memset(p, 0, 255);
	memcpy(p, head, sizeof(head));
	p[sizeof(head)] = (uint8_t)rssi;
	memcpy(p + sizeof(head) + 1, eir, eir_len);
	return 255;
}

START_TEST(ext_inquiry_names)
{
	const uint8_t complete[] = { 8, 0x09, 'S', 'p', 'e', 'a', 'k', 'e', 'r' };
	const uint8_t shortn[] = { 4, 0x08, 'S', 'p', 'k', 3, 0x03, 0x0b, 0x11 };
	uint8_t p[255];
	char *t;

	ck_assert_int_eq(feed(HCI_EV_EXT_INQUIRY_RESULT, p,
			      eir_event(p, 0x77, -58, complete, sizeof(complete))), 0);
	/* A shortened name does not replace the complete one. */
	ck_assert_int_eq(feed(HCI_EV_EXT_INQUIRY_RESULT, p,
			      eir_event(p, 0x77, -60, shortn, sizeof(shortn))), 0);
	t = devices();
	expect_in(t, "11:22:33:44:55:77 bredr -60 ");
	expect_in(t, "\"Speaker\"\n");
	free(t);
	ck_assert_uint_eq(cd_status_device_count(st), 1);
}
END_TEST

START_TEST(ext_inquiry_bad)
{
	const uint8_t overrun[] = { 3, 0x09, 'A', 'B', 60, 0x09, 'x' };
	uint8_t p[255];
	char *t;

	/* One byte short of the fixed 255. */
	eir_event(p, 0x78, -58, overrun, 0);
	ck_assert_int_eq(feed(HCI_EV_EXT_INQUIRY_RESULT, p, 254), -EBADMSG);
	ck_assert_uint_eq(cd_status_device_count(st), 0);
	/*
	 * An AD structure running past the EIR's end: the device is seen,
	 * but nothing is taken from the broken block, not even the good name
	 * before it.
	 */
	eir_event(p, 0x78, -58, overrun, sizeof(overrun));
	memset(p + 255 - 200, 0xff, 200);	/* no terminating zero length */
	ck_assert_int_eq(feed(HCI_EV_EXT_INQUIRY_RESULT, p, 255), 0);
	t = devices();
	expect_in(t, "11:22:33:44:55:78 bredr -58 ");
	expect_not_in(t, "\"AB\"");
	free(t);
}
END_TEST

static size_t name_event(uint8_t *p, uint8_t status, uint8_t last,
			 const char *name, size_t n)
{
	const uint8_t a[] = { ADDR(last) };

	memset(p, 0, 255);
	p[0] = status;
	memcpy(p + 1, a, 6);
	memcpy(p + 7, name, n);
	return 255;
}

START_TEST(remote_name)
{
	uint8_t p[255];
	char *t;

	ck_assert_int_eq(feed(HCI_EV_REMOTE_NAME, p,
			      name_event(p, 0, 0x10, "Kitchen Speaker", 15)), 0);
	/* A failed request records nothing. */
	ck_assert_int_eq(feed(HCI_EV_REMOTE_NAME, p,
			      name_event(p, 0x04, 0x11, "Ghost", 5)), 0);
	/* Wrong length: refused. */
	ck_assert_int_eq(feed(HCI_EV_REMOTE_NAME, p, 254), -EBADMSG);
	t = devices();
	expect_in(t, "11:22:33:44:55:10 bredr - ");
	expect_in(t, "\"Kitchen Speaker\"\n");
	expect_not_in(t, "Ghost");
	free(t);
}
END_TEST

START_TEST(name_escaping)
{
	/* Embedded NUL ends a remote name; the rest is never shown. */
	static const char evil[] = "Lamp\"\\\n# 00:00 fake\x01\xc3\xa9";
	uint8_t p[255];
	char *t;

	ck_assert_int_eq(feed(HCI_EV_REMOTE_NAME, p,
			      name_event(p, 0, 0x20, "Bulb\0secret", 11)), 0);
	ck_assert_int_eq(feed(HCI_EV_REMOTE_NAME, p,
			      name_event(p, 0, 0x21, evil, sizeof(evil) - 1)), 0);
	t = devices();
	expect_in(t, "\"Bulb\"\n");
	expect_not_in(t, "secret");
	expect_in(t, "\"Lamp\\x22\\x5c\\x0a# 00:00 fake\\x01\\xc3\\xa9\"\n");
	free(t);
}
END_TEST

START_TEST(le_adv_reports)
{
	/* Two reports: a named random-address one, one without RSSI. */
	const uint8_t p[] = {
		HCI_LE_EV_ADV_REPORT, 2,
		0x00, 0x01, ADDR(0xc0), 7, 5, 0x09, 'L', 'o', 'c', 'k', 0, 0xc4,
		0x03, 0x00, ADDR(0xc1), 0, 127,
	};
	char *t;

	ck_assert_int_eq(feed(HCI_EV_LE_META, p, sizeof(p)), 0);
	t = devices();
	expect_in(t, "11:22:33:44:55:C0 le-random -60 ");
	expect_in(t, "\"Lock\"\n");
	expect_in(t, "11:22:33:44:55:C1 le-public - ");
	free(t);
}
END_TEST

START_TEST(le_adv_truncated)
{
	/* The second report's data runs past the event: nothing is recorded. */
	const uint8_t p[] = {
		HCI_LE_EV_ADV_REPORT, 2,
		0x00, 0x01, ADDR(0xc0), 0, 0xc4,
		0x00, 0x01, ADDR(0xc1), 9, 1, 2,
	};

	ck_assert_int_eq(feed(HCI_EV_LE_META, p, sizeof(p)), -EBADMSG);
	ck_assert_uint_eq(cd_status_device_count(st), 0);
	/* Trailing bytes after the last report are as bad. */
	{
		const uint8_t q[] = { HCI_LE_EV_ADV_REPORT, 1,
				      0x00, 0x01, ADDR(0xc0), 0, 0xc4, 0x00 };

		ck_assert_int_eq(feed(HCI_EV_LE_META, q, sizeof(q)), -EBADMSG);
	}
	ck_assert_uint_eq(cd_status_device_count(st), 0);
}
END_TEST

START_TEST(le_ext_and_direct_adv)
{
	const uint8_t ext[] = {
		HCI_LE_EV_EXT_ADV_REPORT, 2,
		0x13, 0x00, 0x00, ADDR(0xe0), 1, 0, 0xff, 0x7f, 0xc9,
		0x00, 0x00, 0, 0, 0, 0, 0, 0, 0,
		5, 4, 0x09, 'C', 'u', 'f',
		/* anonymous: no address to record */
		0x13, 0x00, 0xff, ADDR(0xe1), 1, 0, 0xff, 0x7f, 0xc9,
		0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	const uint8_t dir[] = {
		HCI_LE_EV_DIRECT_ADV_REPORT, 1,
		0x01, 0x03, ADDR(0xd0), 0x00, 1, 2, 3, 4, 5, 6, 0xb0,
	};
	char *t;

	ck_assert_int_eq(feed(HCI_EV_LE_META, ext, sizeof(ext)), 0);
	ck_assert_int_eq(feed(HCI_EV_LE_META, dir, sizeof(dir)), 0);
	ck_assert_int_eq(feed(HCI_EV_LE_META, dir, sizeof(dir) - 1), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_LE_META, ext, sizeof(ext) - 1), -EBADMSG);
	t = devices();
	expect_in(t, "11:22:33:44:55:E0 le-public -55 ");
	expect_in(t, "\"Cuf\"\n");
	expect_not_in(t, "55:E1");
	expect_in(t, "11:22:33:44:55:D0 le-random -80 ");
	free(t);
	ck_assert_uint_eq(cd_status_device_count(st), 2);
}
END_TEST

START_TEST(connections)
{
	const uint8_t cc[] = { 0, 0x01, 0x00, ADDR(0x04), 0x01, 0x00 };
	const uint8_t cc_fail[] = { 0x04, 0x02, 0x00, ADDR(0x05), 0x01, 0x00 };
	const uint8_t le[] = { HCI_LE_EV_CONN_COMPLETE, 0, 0x40, 0x00, 0x00, 0x01,
			       ADDR(0xc0), 0x18, 0, 0, 0, 0x48, 0, 0 };
	const uint8_t enh[] = { HCI_LE_EV_ENH_CONN_COMPLETE, 0, 0x41, 0x00, 0x01,
				0x00, ADDR(0x02), 0, 0, 0, 0, 0, 0,
				0, 0, 0, 0, 0, 0, 0x18, 0, 0, 0, 0x48, 0, 0 };
	const uint8_t sync[] = { 0, 0x03, 0x01, ADDR(0x04), 0x02, 0, 0, 0, 0,
				 0, 0, 0 };
	const uint8_t disc[] = { 0, 0x40, 0x00, 0x13 };
	char *t;

	ck_assert_int_eq(feed(HCI_EV_CONN_COMPLETE, cc, sizeof(cc)), 0);
	ck_assert_int_eq(feed(HCI_EV_CONN_COMPLETE, cc_fail, sizeof(cc_fail)), 0);
	ck_assert_int_eq(feed(HCI_EV_LE_META, le, sizeof(le)), 0);
	ck_assert_int_eq(feed(HCI_EV_LE_META, enh, sizeof(enh)), 0);
	ck_assert_int_eq(feed(HCI_EV_SYNC_CONN_COMPLETE, sync, sizeof(sync)), 0);
	ck_assert_uint_eq(cd_status_conn_count(st), 4);
	t = conns();
	expect_in(t, "0x0001 acl 11:22:33:44:55:04 bredr - ");
	expect_in(t, "0x0040 le 11:22:33:44:55:C0 le-random central ");
	expect_in(t, "0x0041 le 11:22:33:44:55:02 le-public peripheral ");
	expect_in(t, "0x0103 esco 11:22:33:44:55:04 bredr - ");
	expect_not_in(t, "55:05");
	free(t);

	ck_assert_int_eq(feed(HCI_EV_DISCONN_COMPLETE, disc, sizeof(disc)), 0);
	ck_assert_int_eq(feed(HCI_EV_DISCONN_COMPLETE, disc, 3), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_CONN_COMPLETE, cc, sizeof(cc) - 1), -EBADMSG);
	/* Each of the two BR/EDR completions keeps its own length. */
	ck_assert_int_eq(feed(HCI_EV_SYNC_CONN_COMPLETE, cc, sizeof(cc)), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_CONN_COMPLETE, sync, sizeof(sync)), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_LE_META, enh, sizeof(enh) - 1), -EBADMSG);
	ck_assert_uint_eq(cd_status_conn_count(st), 3);
	t = conns();
	expect_not_in(t, "0x0040");
	free(t);
}
END_TEST

START_TEST(reset_clears_connections)
{
	const uint8_t cc[] = { 0, 0x01, 0x00, ADDR(0x04), 0x01, 0x00 };
	const uint8_t reset_fail[] = { 1, 0x03, 0x0c, 0x01 };
	const uint8_t reset_ok[] = { 1, 0x03, 0x0c, 0x00 };

	ck_assert_int_eq(feed(HCI_EV_CONN_COMPLETE, cc, sizeof(cc)), 0);
	ck_assert_int_eq(feed(HCI_EV_CMD_COMPLETE, reset_fail, sizeof(reset_fail)), 0);
	ck_assert_uint_eq(cd_status_conn_count(st), 1);
	ck_assert_int_eq(feed(HCI_EV_CMD_COMPLETE, reset_ok, sizeof(reset_ok)), 0);
	ck_assert_uint_eq(cd_status_conn_count(st), 0);
}
END_TEST

START_TEST(caps)
{
	uint8_t p[] = { 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x14, 0x04, 0x24, 0, 0 };
	uint8_t cc[] = { 0, 0, 0, ADDR(0x04), 0x01, 0x00 };
	char *t;
	int i;

	for (i = 0; i < CD_STATUS_MAX_DEVICES + 3; i++) {
		p[1] = (uint8_t)i;
		p[2] = (uint8_t)(i >> 8);
		ck_assert_int_eq(feed(HCI_EV_INQUIRY_RESULT, p, sizeof(p)), 0);
	}
	ck_assert_uint_eq(cd_status_device_count(st), CD_STATUS_MAX_DEVICES);
	t = devices();
	expect_in(t, "table full (256), 3 sightings");
	free(t);

	for (i = 0; i < CD_STATUS_MAX_CONNS + 2; i++) {
		cc[1] = (uint8_t)i;
		ck_assert_int_eq(feed(HCI_EV_CONN_COMPLETE, cc, sizeof(cc)), 0);
	}
	ck_assert_uint_eq(cd_status_conn_count(st), CD_STATUS_MAX_CONNS);
	t = conns();
	expect_in(t, "table full (64), 2 not recorded");
	free(t);
}
END_TEST

START_TEST(non_events_ignored)
{
	uint8_t acl[16];
	int n = h4_build_acl(acl, sizeof(acl), 1, 2, 0, "\x03\x00\x01\x00", 4);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(h4_parse(&pkt, acl, (size_t)n, 0), 0);
	ck_assert_int_eq(cd_status_controller_pkt(st, &pkt, NOW), 0);
	ck_assert_int_eq(feed(HCI_EV_LE_META, "", 0), -EBADMSG);
	ck_assert_int_eq(feed(HCI_EV_LE_META, "\x14", 1), 0);
	ck_assert_uint_eq(cd_status_device_count(st), 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("cd_status");
	TCase *tc = tcase_create("status");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inquiry_result);
	tcase_add_test(tc, inquiry_result_rssi_both_forms);
	tcase_add_test(tc, inquiry_result_wrong_lengths);
	tcase_add_test(tc, ext_inquiry_names);
	tcase_add_test(tc, ext_inquiry_bad);
	tcase_add_test(tc, remote_name);
	tcase_add_test(tc, name_escaping);
	tcase_add_test(tc, le_adv_reports);
	tcase_add_test(tc, le_adv_truncated);
	tcase_add_test(tc, le_ext_and_direct_adv);
	tcase_add_test(tc, connections);
	tcase_add_test(tc, reset_clears_connections);
	tcase_add_test(tc, caps);
	tcase_add_test(tc, non_events_ignored);
	suite_add_tcase(s, tc);
	return s;
}
