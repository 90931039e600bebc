/* SPDX-License-Identifier: MIT */
/*
 * mux/handlemap.c: where the Connection_Handle sits in each packet the mux
 * translates (doc/virtual-controller.md, "Handles"), and the lowest-free
 * allocation of a session's own handles.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "cmdtab.h"
#include "cursor.h"
#include "handlemap.h"
#include "hci.h"
#include "hci_defs.h"

/* Events with a handle, at the offsets of Vol 4 Part E 7.7 (independent of the table). */
static const struct {
	uint8_t code, sub;
	int off;	/* in the parameters, LE subevent code included */
} spec_evts[] = {
	{ HCI_EV_CONN_COMPLETE, 0, 1 },
	{ HCI_EV_DISCONN_COMPLETE, 0, 1 },
	{ HCI_EV_AUTH_COMPLETE, 0, 1 },
	{ HCI_EV_ENCRYPT_CHANGE, 0, 1 },
	{ HCI_EV_REMOTE_FEATURES, 0, 1 },
	{ HCI_EV_REMOTE_VERSION, 0, 1 },
	{ HCI_EV_FLUSH_OCCURRED, 0, 0 },
	{ HCI_EV_MODE_CHANGE, 0, 1 },
	{ HCI_EV_MAX_SLOTS_CHANGE, 0, 0 },
	{ HCI_EV_REMOTE_EXT_FEATURES, 0, 1 },
	{ HCI_EV_SYNC_CONN_COMPLETE, 0, 1 },
	{ HCI_EV_KEY_REFRESH_COMPLETE, 0, 1 },
	{ HCI_EV_AUTH_PAYLOAD_TIMEOUT, 0, 0 },
	{ HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, 2 },
	{ HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, 2 },
	{ HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE_V2, 2 },
	{ HCI_EV_LE_META, HCI_LE_EV_CONN_UPDATE_COMPLETE, 2 },
	{ HCI_EV_LE_META, HCI_LE_EV_REMOTE_FEATURES, 2 },
	{ HCI_EV_LE_META, HCI_LE_EV_LTK_REQUEST, 1 },
	{ HCI_EV_LE_META, HCI_LE_EV_CONN_PARAM_REQUEST, 1 },
	{ HCI_EV_LE_META, HCI_LE_EV_DATA_LEN_CHANGE, 1 },
	{ HCI_EV_LE_META, HCI_LE_EV_PHY_UPDATE_COMPLETE, 2 },
	{ HCI_EV_LE_META, HCI_LE_EV_CHANNEL_SELECTION_ALGORITHM, 1 },
};

START_TEST(event_offsets_as_the_spec)
{
	size_t i;

	for (i = 0; i < sizeof(spec_evts) / sizeof(spec_evts[0]); i++)
		ck_assert_msg(hmap_evt_off(spec_evts[i].code, spec_evts[i].sub) == spec_evts[i].off,
			      "event 0x%02x/0x%02x", spec_evts[i].code, spec_evts[i].sub);
	/* No handle at a fixed place: BD_ADDR events, reports, NOCP, CC/CS. */
	ck_assert_int_eq(hmap_evt_off(HCI_EV_CONN_REQUEST, 0), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_LINK_KEY_REQ, 0), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_NUM_COMP_PKTS, 0), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_CMD_COMPLETE, 0), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_CMD_STATUS, 0), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_LE_META, 0), -1);
	ck_assert_int_eq(hmap_evt_off(HCI_EV_LE_META, 0xff), -1);
	ck_assert_int_eq(HCI_EV_NUM_COMP_PKTS_HANDLE_OFF(0), 1);
	ck_assert_int_eq(HCI_EV_NUM_COMP_PKTS_HANDLE_OFF(2), 9);
}
END_TEST

/* Every command naming a link: handle first; its Command Complete after Status. */
START_TEST(command_offsets_from_the_table)
{
	const struct mux_cmd_def *t;
	unsigned n, i, with = 0, cc = 0;

	t = mux_cmd_table(&n);
	for (i = 0; i < n; i++) {
		if (t[i].kind != MK_HANDLE) {
			ck_assert_int_eq(hmap_cmd_off(&t[i]), -1);
			ck_assert_int_eq(hmap_cc_off(&t[i]), -1);
			continue;
		}
		with++;
		ck_assert_int_eq(hmap_cmd_off(&t[i]), 0);
		ck_assert_uint_ge(t[i].plen, 2);
		if (t[i].flags & MT_CS) {
			ck_assert_int_eq(hmap_cc_off(&t[i]), -1);
		} else {
			ck_assert_int_eq(hmap_cc_off(&t[i]), 1);
			cc++;
		}
	}
	ck_assert_uint_ge(with, 30);
	ck_assert_uint_ge(cc, 20);
	ck_assert_int_eq(hmap_cc_off(mux_cmd_find(HCI_OP_READ_RSSI)), 1);
	ck_assert_int_eq(hmap_cc_off(mux_cmd_find(HCI_OP_READ_LINK_QUALITY)), 1);
	ck_assert_int_eq(hmap_cc_off(mux_cmd_find(HCI_OP_LE_READ_PHY)), 1);
	ck_assert_int_eq(hmap_cc_off(mux_cmd_find(HCI_OP_LE_LTK_REPLY)), 1);
	ck_assert_int_eq(hmap_cc_off(mux_cmd_find(HCI_OP_DISCONNECT)), -1);
	ck_assert_int_eq(hmap_cmd_off(mux_cmd_find(HCI_OP_SETUP_SYNC_CONN)), 0);
	ck_assert_int_eq(hmap_cmd_off(NULL), -1);
	ck_assert_int_eq(hmap_cc_off(NULL), -1);
}
END_TEST

/*
 * mux_cmd_find's index (cmdtab.c) answers every one of the 65536 opcodes
 * as a walk through the table does: the entry, the first of an opcode
 * listed twice, or NULL; vendor and out-of-range opcodes included.
 */
START_TEST(command_index_matches_the_table)
{
	const struct mux_cmd_def *t, *want;
	unsigned n, i, op, found = 0;

	t = mux_cmd_table(&n);
	ck_assert_uint_gt(n, 100);
	for (op = 0; op <= 0xffff; op++) {
		want = NULL;
		for (i = 0; i < n && !want; i++)
			if (t[i].opcode == op)
				want = &t[i];
		ck_assert_msg(mux_cmd_find((uint16_t)op) == want, "opcode 0x%04x", op);
		found += want != NULL;
	}
	/* Every entry is found by its own opcode: no opcode is listed twice. */
	ck_assert_uint_eq(found, n);
	ck_assert_ptr_null(mux_cmd_find(0x0000));
	ck_assert_ptr_null(mux_cmd_find(0xfc00));
	ck_assert_ptr_null(mux_cmd_find(0xffff));
	ck_assert_uint_eq(mux_cmd_find(HCI_OP_LE_RAND)->opcode, HCI_OP_LE_RAND);
	ck_assert_uint_eq(mux_cmd_find(HCI_OP_INQUIRY)->opcode, HCI_OP_INQUIRY);
}
END_TEST

/* ACL/SCO flags (PB, BC; Packet_Status) live above the 12 bits. */
START_TEST(put_keeps_flags)
{
	uint8_t b[2];

	put_le16(b, 0x2040);	/* PB first automatically flushable */
	ck_assert_uint_eq(hmap_get(b), 0x040);
	hmap_put(b, 0x001);
	ck_assert_uint_eq(get_le16(b), 0x2001);
	hmap_put(b, 0xf123);	/* only 12 bits are written */
	ck_assert_uint_eq(get_le16(b), 0x2123);
}
END_TEST

START_TEST(lowest_free_from_one)
{
	static const uint16_t some[] = { 1, 2, 4 };
	static uint16_t all[HMAP_HANDLE_MAX];
	size_t i;

	ck_assert_uint_eq(hmap_lowest_free(NULL, 0), 1);
	ck_assert_uint_eq(hmap_lowest_free(some, 2), 3);
	ck_assert_uint_eq(hmap_lowest_free(some, 3), 3);
	ck_assert_uint_eq(hmap_lowest_free(some + 2, 1), 1);
	for (i = 0; i < HMAP_HANDLE_MAX; i++)
		all[i] = (uint16_t)(HMAP_HANDLE_MAX - i);
	ck_assert_uint_eq(hmap_lowest_free(all, HMAP_HANDLE_MAX - 1), 1);
	/* All of 0x0001-0x0EFF taken: none (0x0F00 up are reserved, 5.4.2). */
	ck_assert_uint_eq(hmap_lowest_free(all, HMAP_HANDLE_MAX), 0);
}
END_TEST

START_TEST(event_rewrite_checked)
{
	uint8_t ev[8] = { H4_EVT, HCI_EV_ENCRYPT_CHANGE, 4, 0, 0x43, 0x00, 1 };
	uint8_t le[13] = { H4_EVT, HCI_EV_LE_META, 10, HCI_LE_EV_DATA_LEN_CHANGE, 0x41, 0x00 };
	uint8_t cc[7] = { H4_EVT, HCI_EV_CMD_COMPLETE, 4, 1, 0x05, 0x14, 0 };
	uint8_t acl[6] = { H4_ACL, 0x40, 0x20, 1, 0, 0 };

	ck_assert_int_eq(hmap_evt_rewrite(ev, 7, 2), 0);
	ck_assert_uint_eq(get_le16(ev + 4), 2);
	ck_assert_uint_eq(ev[3], 0);
	ck_assert_uint_eq(ev[6], 1);
	ck_assert_int_eq(hmap_evt_rewrite(le, 13, 1), 0);
	ck_assert_uint_eq(get_le16(le + 4), 1);
	ck_assert_uint_eq(le[3], HCI_LE_EV_DATA_LEN_CHANGE);
	/* Declared length other than the bytes present. */
	ck_assert_int_eq(hmap_evt_rewrite(ev, 6, 2), -EINVAL);
	ck_assert_int_eq(hmap_evt_rewrite(ev, 8, 2), -EINVAL);
	/* Too short for its handle. */
	ev[2] = 1;
	ck_assert_int_eq(hmap_evt_rewrite(ev, 4, 2), -EINVAL);
	le[2] = 2;
	ck_assert_int_eq(hmap_evt_rewrite(le, 5, 2), -EINVAL);
	le[2] = 0;
	ck_assert_int_eq(hmap_evt_rewrite(le, 3, 2), -EINVAL);
	/* No handle at a known place, or not an event. */
	ck_assert_int_eq(hmap_evt_rewrite(cc, 7, 2), -EINVAL);
	ck_assert_int_eq(hmap_evt_rewrite(acl, 6, 2), -EINVAL);
	ck_assert_int_eq(hmap_evt_rewrite(ev, 2, 2), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("mux_handles");
	TCase *tc = tcase_create("handlemap");

	tcase_add_test(tc, event_offsets_as_the_spec);
	tcase_add_test(tc, command_offsets_from_the_table);
	tcase_add_test(tc, command_index_matches_the_table);
	tcase_add_test(tc, put_keeps_flags);
	tcase_add_test(tc, lowest_free_from_one);
	tcase_add_test(tc, event_rewrite_checked);
	suite_add_tcase(s, tc);
	return s;
}
