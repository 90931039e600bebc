/* SPDX-License-Identifier: MIT */
/* lib/hex: encode, and the strict decoders (truncated, oversized, odd, NUL). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "hex.h"

START_TEST(encode_lowercase_and_terminated)
{
	static const uint8_t b[] = { 0x00, 0x9f, 0xa0, 0xff };
	char out[2 * sizeof(b) + 2];

	memset(out, 'x', sizeof(out));
	hex_encode(b, sizeof(b), out);
	ck_assert_str_eq(out, "009fa0ff");
	ck_assert_int_eq(out[9], 'x');		/* nothing past the NUL */
	hex_encode(b, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(digits)
{
	ck_assert_int_eq(hex_digit('0'), 0);
	ck_assert_int_eq(hex_digit('9'), 9);
	ck_assert_int_eq(hex_digit('a'), 10);
	ck_assert_int_eq(hex_digit('F'), 15);
	ck_assert_int_eq(hex_digit('g'), -1);
	ck_assert_int_eq(hex_digit('/'), -1);
	ck_assert_int_eq(hex_digit(':'), -1);
	ck_assert_int_eq(hex_digit('\0'), -1);
}
END_TEST

START_TEST(decode_round_trip_either_case)
{
	uint8_t out[4];
	size_t n = 0;

	ck_assert_int_eq(hex_decode("009FA0ff", 8, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(out[0], 0x00);
	ck_assert_uint_eq(out[1], 0x9f);
	ck_assert_uint_eq(out[2], 0xa0);
	ck_assert_uint_eq(out[3], 0xff);
	ck_assert_int_eq(hex_decode("0a", 2, out, 1, NULL), 0);
	ck_assert_uint_eq(out[0], 0x0a);
}
END_TEST

START_TEST(decode_rejects_without_writing)
{
	uint8_t out[2] = { 0x55, 0x55 };
	size_t n = 7;

	ck_assert_int_eq(hex_decode("", 0, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(hex_decode("abc", 3, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(hex_decode("0x12", 4, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(hex_decode(" 1", 2, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(hex_decode("+1", 2, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(hex_decode("12g4", 4, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(hex_decode("12\0" "4", 4, out, sizeof(out), &n), -EINVAL);
	/* Oversized: refused, never cut to the room there is. */
	ck_assert_int_eq(hex_decode("010203", 6, out, sizeof(out), &n), -E2BIG);
	ck_assert_int_eq(hex_decode(NULL, 2, out, sizeof(out), &n), -EINVAL);
	ck_assert_uint_eq(out[0], 0x55);
	ck_assert_uint_eq(out[1], 0x55);
	ck_assert_uint_eq(n, 7);
}
END_TEST

START_TEST(decode_exact_length)
{
	uint8_t out[3];

	ck_assert_int_eq(hex_decode_exact("a1b2c3", out, 3), 0);
	ck_assert_uint_eq(out[2], 0xc3);
	ck_assert_int_eq(hex_decode_exact("a1b2", out, 3), -EINVAL);	/* truncated */
	ck_assert_int_eq(hex_decode_exact("a1b2c3d4", out, 3), -EINVAL);	/* too long */
	ck_assert_int_eq(hex_decode_exact("a1b2c", out, 3), -EINVAL);
	ck_assert_int_eq(hex_decode_exact("a1b2cz", out, 3), -EINVAL);
	ck_assert_int_eq(hex_decode_exact("", out, 0), -EINVAL);
	ck_assert_int_eq(hex_decode_exact(NULL, out, 3), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("hex");
	TCase *tc = tcase_create("hex");

	tcase_add_test(tc, encode_lowercase_and_terminated);
	tcase_add_test(tc, digits);
	tcase_add_test(tc, decode_round_trip_either_case);
	tcase_add_test(tc, decode_rejects_without_writing);
	tcase_add_test(tc, decode_exact_length);
	suite_add_tcase(s, tc);
	return s;
}
