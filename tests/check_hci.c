/* SPDX-License-Identifier: MIT */
/*
 * The HCI codec: every packet type round-trips, and every malformed packet
 * is refused with its own error. Packets are parsed from exact-size heap
 * copies so that ASan catches any read past the end.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "hci.h"
#include "hci_names.h"

static int parse_exact(struct h4_pkt *p, const void *buf, size_t len,
		       size_t max)
{
	static uint8_t *copy;	/* freed on the next call: the view points in */

	free(copy);
	copy = len ? malloc(len) : NULL;
	if (len)
		memcpy(copy, buf, len);
	return h4_parse(p, copy, len, max);
}

START_TEST(cmd_round_trip)
{
	uint8_t b[H4_MAX_CTL_PKT], param[HCI_MAX_PARAM];
	struct h4_pkt p;
	int n;

	memset(param, 0x5a, sizeof(param));
	n = h4_build_cmd(b, sizeof(b), HCI_OP_WRITE_LOCAL_NAME, param, 248);
	ck_assert_int_eq(n, 4 + 248);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.type, H4_CMD);
	ck_assert_uint_eq(p.cmd.opcode, 0x0c13);
	ck_assert_uint_eq(p.cmd.plen, 248);
	ck_assert_mem_eq(p.cmd.param, param, 248);
	ck_assert_uint_eq(HCI_OGF(p.cmd.opcode), HCI_OGF_HOST_CTL);
	ck_assert_uint_eq(HCI_OCF(p.cmd.opcode), 0x13);
	/* The largest possible command. */
	n = h4_build_cmd(b, sizeof(b), 0xfc00, param, HCI_MAX_PARAM);
	ck_assert_int_eq(n, H4_MAX_CTL_PKT);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
}
END_TEST

START_TEST(zero_length_parameters)
{
	uint8_t b[16];
	struct h4_pkt p;
	int n;

	n = h4_build_cmd(b, sizeof(b), HCI_OP_RESET, NULL, 0);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(parse_exact(&p, b, 4, 0), 0);
	ck_assert_uint_eq(p.cmd.plen, 0);
	n = h4_build_evt(b, sizeof(b), HCI_EV_HARDWARE_ERROR, NULL, 0);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.evt.plen, 0);
	n = h4_build_acl(b, sizeof(b), 1, HCI_PB_FIRST_FLUSH, 0, NULL, 0);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.acl.dlen, 0);
	n = h4_build_sco(b, sizeof(b), 2, 0, NULL, 0);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	n = h4_build_iso(b, sizeof(b), 3, 2, 1, NULL, 0);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.iso.ts, 1);
}
END_TEST

START_TEST(evt_round_trip)
{
	static const uint8_t ret[] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
	uint8_t b[64];
	struct h4_pkt p;
	struct h4_cc cc;
	struct h4_cs cs;
	int n;

	n = h4_build_cc(b, sizeof(b), 1, HCI_OP_READ_BD_ADDR, ret, sizeof(ret));
	ck_assert_int_eq(n, 3 + 3 + 7);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.evt.code, HCI_EV_CMD_COMPLETE);
	ck_assert_int_eq(h4_parse_cc(&p, &cc), 0);
	ck_assert_uint_eq(cc.ncmd, 1);
	ck_assert_uint_eq(cc.opcode, HCI_OP_READ_BD_ADDR);
	ck_assert_uint_eq(cc.rlen, 7);
	ck_assert_mem_eq(cc.ret, ret, 7);
	ck_assert_int_eq(h4_parse_cs(&p, &cs), -EINVAL);

	n = h4_build_cs(b, sizeof(b), HCI_ST_SUCCESS, 1, HCI_OP_INQUIRY);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_int_eq(h4_parse_cs(&p, &cs), 0);
	ck_assert_uint_eq(cs.opcode, HCI_OP_INQUIRY);
	ck_assert_uint_eq(cs.status, 0);
	ck_assert_int_eq(h4_parse_cc(&p, &cc), -EINVAL);

	n = h4_build_le_evt(b, sizeof(b), HCI_LE_EV_ADV_REPORT, ret, 3);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.evt.code, HCI_EV_LE_META);
	ck_assert_uint_eq(p.evt.plen, 4);
	ck_assert_uint_eq(p.evt.param[0], HCI_LE_EV_ADV_REPORT);
}
END_TEST

START_TEST(short_cc_and_cs_rejected)
{
	static const uint8_t cc2[] = { H4_EVT, HCI_EV_CMD_COMPLETE, 2, 1, 0x03 };
	static const uint8_t cs3[] = { H4_EVT, HCI_EV_CMD_STATUS, 3, 0, 1, 0x01 };
	struct h4_pkt p;
	struct h4_cc cc;
	struct h4_cs cs;

	ck_assert_int_eq(parse_exact(&p, cc2, sizeof(cc2), 0), 0);
	ck_assert_int_eq(h4_parse_cc(&p, &cc), -EBADMSG);
	ck_assert_int_eq(parse_exact(&p, cs3, sizeof(cs3), 0), 0);
	ck_assert_int_eq(h4_parse_cs(&p, &cs), -EBADMSG);
}
END_TEST

START_TEST(acl_round_trip)
{
	static uint8_t b[H4_MAX_PKT], data[HCI_MAX_ACL];
	struct h4_pkt p;
	size_t i;
	int n;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	n = h4_build_acl(b, sizeof(b), 0x0eff, HCI_PB_CONT, 0x1, data, 27);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.acl.handle, 0x0eff);
	ck_assert_uint_eq(p.acl.pb, HCI_PB_CONT);
	ck_assert_uint_eq(p.acl.bc, 1);
	ck_assert_uint_eq(p.acl.dlen, 27);
	ck_assert_mem_eq(p.acl.data, data, 27);
	/* The largest ACL packet the format allows. */
	n = h4_build_acl(b, sizeof(b), 1, 0, 0, data, HCI_MAX_ACL);
	ck_assert_int_eq(n, H4_MAX_PKT);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_mem_eq(p.acl.data, data, HCI_MAX_ACL);
}
END_TEST

START_TEST(sco_iso_round_trip)
{
	uint8_t b[512], data[255];
	struct h4_pkt p;
	int n;

	memset(data, 0xc3, sizeof(data));
	n = h4_build_sco(b, sizeof(b), 0x0123, 2, data, 255);
	ck_assert_int_eq(n, 1 + 3 + 255);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.sco.handle, 0x0123);
	ck_assert_uint_eq(p.sco.status, 2);
	ck_assert_uint_eq(p.sco.dlen, 255);
	n = h4_build_iso(b, sizeof(b), 0x0456, 3, 0, data, 100);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 0), 0);
	ck_assert_uint_eq(p.type, H4_ISO);
	ck_assert_uint_eq(p.iso.handle, 0x0456);
	ck_assert_uint_eq(p.iso.pb, 3);
	ck_assert_uint_eq(p.iso.dlen, 100);
}
END_TEST

START_TEST(empty_rejected)
{
	struct h4_pkt p;

	ck_assert_int_eq(h4_parse(&p, NULL, 0, 0), -ENODATA);
	ck_assert_int_eq(parse_exact(&p, "", 0, 0), -ENODATA);
}
END_TEST

START_TEST(unknown_type_rejected)
{
	static const uint8_t types[] = { 0x00, 0x06, 0x7f, 0xff };
	uint8_t b[8] = { 0, 0x03, 0x0c, 0x00 };
	struct h4_pkt p;
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		b[0] = types[i];
		ck_assert_int_eq(parse_exact(&p, b, 4, 0), -EPROTONOSUPPORT);
	}
}
END_TEST

START_TEST(truncated_header_rejected)
{
	static const uint8_t hdr[][5] = {
		{ H4_CMD, 0x03, 0x0c, 0x00 },
		{ H4_ACL, 0x01, 0x20, 0x00, 0x00 },
		{ H4_SCO, 0x01, 0x00, 0x00 },
		{ H4_EVT, 0x0e, 0x00 },
		{ H4_ISO, 0x01, 0x20, 0x00, 0x00 },
	};
	struct h4_pkt p;
	size_t i, n;

	for (i = 0; i < 5; i++) {
		size_t full = h4_hdr_size(hdr[i][0]);

		for (n = 1; n < full; n++)
			ck_assert_int_eq(parse_exact(&p, hdr[i], n, 0), -EBADMSG);
		ck_assert_int_eq(parse_exact(&p, hdr[i], full, 0), 0);
	}
}
END_TEST

START_TEST(declared_longer_rejected)
{
	/* Reset with plen 1 but no parameter byte. */
	static const uint8_t cmd[] = { H4_CMD, 0x03, 0x0c, 0x01 };
	/* ACL declaring 10 bytes, carrying 9. */
	static const uint8_t acl[] = { H4_ACL, 0x01, 0x20, 0x0a, 0x00,
				       1, 2, 3, 4, 5, 6, 7, 8, 9 };
	/* An event declaring 255 parameter bytes, carrying 1. */
	static const uint8_t evt[] = { H4_EVT, 0x0e, 0xff, 0x01 };
	struct h4_pkt p;

	ck_assert_int_eq(parse_exact(&p, cmd, sizeof(cmd), 0), -EPROTO);
	ck_assert_int_eq(parse_exact(&p, acl, sizeof(acl), 0), -EPROTO);
	ck_assert_int_eq(parse_exact(&p, evt, sizeof(evt), 0), -EPROTO);
}
END_TEST

START_TEST(declared_shorter_rejected)
{
	static const uint8_t cmd[] = { H4_CMD, 0x03, 0x0c, 0x00, 0xee };
	static const uint8_t sco[] = { H4_SCO, 0x01, 0x00, 0x01, 0xaa, 0xbb };
	struct h4_pkt p;

	ck_assert_int_eq(parse_exact(&p, cmd, sizeof(cmd), 0), -E2BIG);
	ck_assert_int_eq(parse_exact(&p, sco, sizeof(sco), 0), -E2BIG);
}
END_TEST

START_TEST(oversized_rejected)
{
	static uint8_t b[H4_MAX_PKT], data[1021];
	struct h4_pkt p;
	int n;

	n = h4_build_acl(b, sizeof(b), 1, 0, 0, data, sizeof(data));
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 1 + 4 + 1021), 0);
	ck_assert_int_eq(parse_exact(&p, b, (size_t)n, 1 + 4 + 1020), -EMSGSIZE);
	/* Oversized is decided from the header alone, before the body. */
	ck_assert_int_eq(parse_exact(&p, b, 5, 100), -EMSGSIZE);
}
END_TEST

START_TEST(builders_refuse_what_does_not_fit)
{
	static uint8_t big[70000];
	uint8_t b[8];

	ck_assert_int_eq(h4_build_cmd(big, sizeof(big), 1, big, 256), -EMSGSIZE);
	ck_assert_int_eq(h4_build_evt(big, sizeof(big), 1, big, 256), -EMSGSIZE);
	ck_assert_int_eq(h4_build_cc(big, sizeof(big), 1, 1, big, 253), -EMSGSIZE);
	ck_assert_int_eq(h4_build_le_evt(big, sizeof(big), 1, big, 255), -EMSGSIZE);
	ck_assert_int_eq(h4_build_acl(big, sizeof(big), 1, 0, 0, big, 65536), -EMSGSIZE);
	ck_assert_int_eq(h4_build_sco(big, sizeof(big), 1, 0, big, 256), -EMSGSIZE);
	ck_assert_int_eq(h4_build_iso(big, sizeof(big), 1, 0, 0, big, 16384), -EMSGSIZE);
	ck_assert_int_eq(h4_build_cmd(b, sizeof(b), 1, big, 5), -ENOSPC);
	ck_assert_int_eq(h4_build_cs(b, 6, 0, 1, 1), -ENOSPC);
	ck_assert_int_eq(h4_build_acl(b, sizeof(b), 1, 0, 0, big, 4), -ENOSPC);
}
END_TEST

START_TEST(error_strings_are_specific)
{
	static const int errs[] = { -ENODATA, -EPROTONOSUPPORT, -EBADMSG,
				    -EPROTO, -E2BIG, -EMSGSIZE };
	size_t i, j;

	for (i = 0; i < 6; i++)
		for (j = i + 1; j < 6; j++)
			ck_assert_str_ne(h4_strerror(errs[i]), h4_strerror(errs[j]));
}
END_TEST

/* ---- stream framing ---- */

struct collected {
	int n;
	size_t bytes;
	uint8_t last_type;
	uint8_t buf[4096];
	int stop_after;
};

static int collect(const struct h4_pkt *p, void *user)
{
	struct collected *c = user;

	if (c->bytes + p->raw_len <= sizeof(c->buf))
		memcpy(c->buf + c->bytes, p->raw, p->raw_len);
	c->bytes += p->raw_len;
	c->last_type = p->type;
	c->n++;
	if (c->stop_after && c->n == c->stop_after)
		return -ECANCELED;
	return 0;
}

static size_t make_stream(uint8_t *s)
{
	uint8_t d[300];
	size_t n = 0;

	memset(d, 0x42, sizeof(d));
	n += (size_t)h4_build_cmd(s + n, 512, HCI_OP_RESET, NULL, 0);
	n += (size_t)h4_build_evt(s + n, 512, HCI_EV_INQUIRY_COMPLETE, d, 1);
	n += (size_t)h4_build_acl(s + n, 512, 7, 2, 0, d, 300);
	n += (size_t)h4_build_sco(s + n, 512, 8, 0, d, 60);
	n += (size_t)h4_build_iso(s + n, 512, 9, 2, 0, d, 20);
	n += (size_t)h4_build_cc(s + n, 512, 1, HCI_OP_RESET, d, 1);
	return n;
}

START_TEST(reader_whole_and_byte_by_byte)
{
	static uint8_t s[4096];
	struct collected c = { 0 };
	struct h4_reader *r = h4_reader_new(0);
	size_t n = make_stream(s), i, chunk;

	ck_assert_int_eq(h4_reader_feed(r, s, n, collect, &c), 0);
	ck_assert_int_eq(c.n, 6);
	ck_assert_uint_eq(c.bytes, n);
	ck_assert_mem_eq(c.buf, s, n);
	/* Every chunk size gives the same packets. */
	for (chunk = 1; chunk < 40; chunk++) {
		memset(&c, 0, sizeof(c));
		for (i = 0; i < n; i += chunk)
			ck_assert_int_eq(h4_reader_feed(r, s + i,
					 n - i < chunk ? n - i : chunk,
					 collect, &c), 0);
		ck_assert_int_eq(c.n, 6);
		ck_assert_mem_eq(c.buf, s, n);
		ck_assert_uint_eq(h4_reader_pending(r), 0);
	}
	h4_reader_free(r);
}
END_TEST

START_TEST(reader_unknown_type_mid_stream)
{
	static const uint8_t s[] = { H4_CMD, 0x03, 0x0c, 0x00, 0x09, 0x00 };
	struct collected c = { 0 };
	struct h4_reader *r = h4_reader_new(0);

	ck_assert_int_eq(h4_reader_feed(r, s, sizeof(s), collect, &c),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(c.n, 1);
	h4_reader_free(r);
}
END_TEST

START_TEST(reader_oversized_refused_from_header)
{
	/* An ACL header declaring 60000 bytes against a 1100-byte cap. */
	static const uint8_t s[] = { H4_ACL, 0x01, 0x20, 0x60, 0xea };
	struct collected c = { 0 };
	struct h4_reader *r = h4_reader_new(1100);

	ck_assert_int_eq(h4_reader_feed(r, s, 3, collect, &c), 0);
	ck_assert_int_eq(h4_reader_feed(r, s + 3, 2, collect, &c), -EMSGSIZE);
	ck_assert_int_eq(c.n, 0);
	h4_reader_free(r);
}
END_TEST

START_TEST(reader_callback_stops)
{
	static uint8_t s[4096];
	struct collected c = { .stop_after = 2 };
	struct h4_reader *r = h4_reader_new(0);
	size_t n = make_stream(s);

	ck_assert_int_eq(h4_reader_feed(r, s, n, collect, &c), -ECANCELED);
	ck_assert_int_eq(c.n, 2);
	h4_reader_free(r);
	h4_reader_free(NULL);
}
END_TEST

/* ---- names ---- */

START_TEST(names)
{
	char line[128];
	uint8_t b[16];
	int n;

	ck_assert_str_eq(hcistr_opcode(0x0c03), "Reset");
	ck_assert_str_eq(hcistr_opcode(HCI_OP_LE_SET_EXT_SCAN_ENABLE),
			 "LE Set Extended Scan Enable");
	ck_assert_ptr_null(hcistr_opcode(0xfc01));
	ck_assert_str_eq(hcistr_event(0x0e), "Command Complete");
	ck_assert_str_eq(hcistr_le_event(0x0d), "LE Extended Advertising Report");
	ck_assert_str_eq(hcistr_status(0x0c), "Command Disallowed");
	ck_assert_ptr_null(hcistr_status(0x99));

	n = h4_build_cs(b, sizeof(b), 0x01, 1, 0xfc01);
	hcistr_summary(line, sizeof(line), b, (size_t)n);
	ck_assert_str_eq(line, "EVT Command Status Unknown (0xfc01) ncmd 1 "
			 "status Unknown HCI Command");
	hcistr_summary(line, sizeof(line), b, (size_t)n - 1);
	ck_assert_str_eq(line, "malformed (declared length longer than the "
			 "packet, 6 bytes)");
	hcistr_summary(line, 8, b, (size_t)n);
	ck_assert_uint_eq(strlen(line), 7);
}
END_TEST

START_TEST(discovery_reports_recognised)
{
	static const uint8_t inq[] = { H4_EVT, 0x02, 1, 0 };
	static const uint8_t inq_rssi[] = { H4_EVT, 0x22, 1, 0 };
	static const uint8_t eir[] = { H4_EVT, 0x2f, 1, 0 };
	static const uint8_t adv[] = { H4_EVT, 0x3e, 2, 0x02, 0 };
	static const uint8_t dadv[] = { H4_EVT, 0x3e, 2, 0x0b, 0 };
	static const uint8_t eadv[] = { H4_EVT, 0x3e, 2, 0x0d, 0 };
	static const uint8_t conn[] = { H4_EVT, 0x3e, 2, 0x01, 0 };
	static const uint8_t cc[] = { H4_EVT, 0x0e, 1, 1 };
	static const uint8_t cmd[] = { H4_CMD, 0x02, 0x04, 0 };
	static const uint8_t acl[] = { H4_ACL, 0x3e, 0x00, 0x02, 0 };

	ck_assert(h4_is_discovery_report(inq, sizeof(inq)));
	ck_assert(h4_is_discovery_report(inq_rssi, sizeof(inq_rssi)));
	ck_assert(h4_is_discovery_report(eir, sizeof(eir)));
	ck_assert(h4_is_discovery_report(adv, sizeof(adv)));
	ck_assert(h4_is_discovery_report(dadv, sizeof(dadv)));
	ck_assert(h4_is_discovery_report(eadv, sizeof(eadv)));
	ck_assert(!h4_is_discovery_report(conn, sizeof(conn)));
	ck_assert(!h4_is_discovery_report(cc, sizeof(cc)));
	ck_assert(!h4_is_discovery_report(cmd, sizeof(cmd)));
	ck_assert(!h4_is_discovery_report(acl, sizeof(acl)));
	ck_assert(!h4_is_discovery_report(adv, 3));	/* no subevent byte */
	ck_assert(!h4_is_discovery_report(inq, 2));
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("hci");
	TCase *tc = tcase_create("codec");
	TCase *tr = tcase_create("reader");

	tcase_add_test(tc, cmd_round_trip);
	tcase_add_test(tc, zero_length_parameters);
	tcase_add_test(tc, evt_round_trip);
	tcase_add_test(tc, short_cc_and_cs_rejected);
	tcase_add_test(tc, acl_round_trip);
	tcase_add_test(tc, sco_iso_round_trip);
	tcase_add_test(tc, empty_rejected);
	tcase_add_test(tc, unknown_type_rejected);
	tcase_add_test(tc, truncated_header_rejected);
	tcase_add_test(tc, declared_longer_rejected);
	tcase_add_test(tc, declared_shorter_rejected);
	tcase_add_test(tc, oversized_rejected);
	tcase_add_test(tc, builders_refuse_what_does_not_fit);
	tcase_add_test(tc, error_strings_are_specific);
	tcase_add_test(tc, names);
	tcase_add_test(tc, discovery_reports_recognised);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, reader_whole_and_byte_by_byte);
	tcase_add_test(tr, reader_unknown_type_mid_stream);
	tcase_add_test(tr, reader_oversized_refused_from_header);
	tcase_add_test(tr, reader_callback_stops);
	suite_add_tcase(s, tr);
	return s;
}
