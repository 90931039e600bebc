/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "check_main.h"
#include "cursor.h"
#include "bdaddr.h"

START_TEST(read_le_and_be)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				     0x08, 0x09, 0x0a, 0x0b };
	struct cur c;

	cur_init(&c, b, sizeof(b));
	ck_assert_uint_eq(cur_u8(&c), 0x01);
	ck_assert_uint_eq(cur_le16(&c), 0x0302);
	ck_assert_uint_eq(cur_be16(&c), 0x0405);
	ck_assert_uint_eq(cur_le24(&c), 0x080706);
	ck_assert_uint_eq(cur_le24(&c), 0x0b0a09);
	ck_assert(cur_is_done(&c));
}
END_TEST

START_TEST(short_read_is_sticky)
{
	static const uint8_t b[] = { 0xaa, 0xbb, 0xcc };
	uint8_t out[4] = { 1, 2, 3, 4 };
	struct cur c;

	cur_init(&c, b, sizeof(b));
	ck_assert_uint_eq(cur_le16(&c), 0xbbaa);
	ck_assert_uint_eq(cur_le16(&c), 0);	/* one byte left: error */
	ck_assert(!cur_is_ok(&c));
	/* Later reads, even ones that would fit, return nothing. */
	ck_assert_uint_eq(cur_u8(&c), 0);
	ck_assert_ptr_null(cur_bytes(&c, 0));
	cur_copy(&c, out, sizeof(out));
	ck_assert_uint_eq(out[0] | out[1] | out[2] | out[3], 0);
	ck_assert_uint_eq(cur_left(&c), 0);
	ck_assert(!cur_is_done(&c));
}
END_TEST

START_TEST(trailing_bytes_not_done)
{
	static const uint8_t b[] = { 1, 2, 3 };
	struct cur c;

	cur_init(&c, b, sizeof(b));
	cur_le16(&c);
	ck_assert(cur_is_ok(&c));
	ck_assert(!cur_is_done(&c));
	ck_assert_uint_eq(cur_left(&c), 1);
}
END_TEST

START_TEST(huge_length_does_not_wrap)
{
	static const uint8_t b[] = { 1, 2, 3 };
	struct cur c;

	cur_init(&c, b, sizeof(b));
	cur_u8(&c);
	ck_assert_ptr_null(cur_bytes(&c, (size_t)-1));
	ck_assert(!cur_is_ok(&c));
}
END_TEST

START_TEST(sub_cursor_bounds)
{
	static const uint8_t b[] = { 2, 0xaa, 0xbb, 0xcc };
	struct cur c, s;

	cur_init(&c, b, sizeof(b));
	s = cur_sub(&c, cur_u8(&c));
	ck_assert_uint_eq(cur_le16(&s), 0xbbaa);
	ck_assert(cur_is_done(&s));
	cur_u8(&s);
	ck_assert(!cur_is_ok(&s));
	ck_assert(cur_is_ok(&c));	/* the parent is unaffected */
	ck_assert_uint_eq(cur_u8(&c), 0xcc);
	s = cur_sub(&c, 1);
	ck_assert(!cur_is_ok(&s));
	ck_assert(!cur_is_ok(&c));
}
END_TEST

START_TEST(null_buffer_is_empty)
{
	struct cur c;

	cur_init(&c, NULL, 10);
	ck_assert_uint_eq(cur_left(&c), 0);
	cur_u8(&c);
	ck_assert(!cur_is_ok(&c));
}
END_TEST

START_TEST(writer_overflow_is_sticky)
{
	uint8_t b[5];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_le16(&w, 0x1234);
	wbuf_be16(&w, 0x5678);
	ck_assert(wbuf_is_ok(&w));
	wbuf_le16(&w, 0x9abc);	/* one byte of room: refused whole */
	ck_assert(!wbuf_is_ok(&w));
	ck_assert_uint_eq(w.len, 4);
	wbuf_u8(&w, 1);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_mem_eq(b, "\x34\x12\x56\x78", 4);
}
END_TEST

START_TEST(writer_all_widths)
{
	uint8_t b[32];
	struct wbuf w;
	struct cur c;

	wbuf_init(&w, b, sizeof(b));
	wbuf_le24(&w, 0xabcdef);
	wbuf_le32(&w, 0x01020304);
	wbuf_be32(&w, 0x05060708);
	wbuf_le64(&w, 0x1122334455667788ULL);
	wbuf_be64(&w, 0x99aabbccddeeff00ULL);
	wbuf_zero(&w, 2);
	wbuf_bytes(&w, "xy", 2);
	ck_assert(wbuf_is_ok(&w));
	cur_init(&c, b, w.len);
	ck_assert_uint_eq(cur_le24(&c), 0xabcdef);
	ck_assert_uint_eq(cur_le32(&c), 0x01020304);
	ck_assert_uint_eq(cur_be32(&c), 0x05060708);
	ck_assert(cur_le64(&c) == 0x1122334455667788ULL);
	ck_assert(cur_be64(&c) == 0x99aabbccddeeff00ULL);
	ck_assert_uint_eq(cur_le16(&c), 0);
	ck_assert_mem_eq(cur_bytes(&c, 2), "xy", 2);
	ck_assert(cur_is_done(&c));
}
END_TEST

START_TEST(bdaddr_round_trip)
{
	struct bdaddr a;
	char s[BDADDR_STRLEN];

	ck_assert_int_eq(bdaddr_parse("00:1a:7D:da:71:13", &a), 0);
	ck_assert_uint_eq(a.b[0], 0x13);
	ck_assert_uint_eq(a.b[5], 0x00);
	ck_assert_str_eq(bdaddr_fmt(&a, s), "00:1A:7D:DA:71:13");
}
END_TEST

START_TEST(bdaddr_rejects_malformed)
{
	static const char *bad[] = {
		"", "00:11:22:33:44", "00:11:22:33:44:55:", "00:11:22:33:44:5",
		"00-11-22-33-44-55", "0:11:22:33:44:55", "00:11:22:33:44:GG",
		"00:11:22:33:44:55 ", " 00:11:22:33:44:55", "001122334455",
	};
	struct bdaddr a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(bdaddr_parse(bad[i], &a) < 0, "accepted '%s'", bad[i]);
	ck_assert_int_lt(bdaddr_parse(NULL, &a), 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("cursor");
	TCase *tc = tcase_create("cursor");

	tcase_add_test(tc, read_le_and_be);
	tcase_add_test(tc, short_read_is_sticky);
	tcase_add_test(tc, trailing_bytes_not_done);
	tcase_add_test(tc, huge_length_does_not_wrap);
	tcase_add_test(tc, sub_cursor_bounds);
	tcase_add_test(tc, null_buffer_is_empty);
	tcase_add_test(tc, writer_overflow_is_sticky);
	tcase_add_test(tc, writer_all_widths);
	tcase_add_test(tc, bdaddr_round_trip);
	tcase_add_test(tc, bdaddr_rejects_malformed);
	suite_add_tcase(s, tc);
	return s;
}
