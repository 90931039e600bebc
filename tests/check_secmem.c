/* SPDX-License-Identifier: MIT */
/* lib/secmem: the wipe and the constant-time comparison. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "secmem.h"

START_TEST(wipe_zeroes_exactly_n_bytes)
{
	unsigned char b[8];
	int i;

	memset(b, 0xa5, sizeof(b));
	secmem_wipe(b + 1, 6);
	ck_assert_uint_eq(b[0], 0xa5);
	ck_assert_uint_eq(b[7], 0xa5);
	for (i = 1; i < 7; i++)
		ck_assert_uint_eq(b[i], 0);
	secmem_wipe(NULL, 16);		/* free functions accept NULL */
	secmem_wipe(b, 0);
	ck_assert_uint_eq(b[0], 0xa5);
}
END_TEST

START_TEST(free_accepts_null_and_heap)
{
	char *p = malloc(32);

	ck_assert_ptr_nonnull(p);
	memset(p, 'k', 32);
	secmem_free(p, 32);	/* ASan checks the size stays in bounds */
	secmem_free(NULL, 32);
}
END_TEST

START_TEST(equal_and_each_position_differs)
{
	uint8_t a[32], b[32];
	size_t i;

	for (i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 7 + 1);
	ck_assert(secmem_is_equal(a, b, sizeof(a)));
	ck_assert(secmem_is_equal(a, b, 0));
	/* A difference anywhere, in any single bit, is seen. */
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		ck_assert(!secmem_is_equal(a, b, sizeof(a)));
		b[i] ^= 0x81;
		ck_assert(!secmem_is_equal(a, b, sizeof(a)));
		b[i] ^= 0x01;
	}
	ck_assert(secmem_is_equal(a, b, sizeof(a)));
	/* Only n bytes are compared. */
	b[31] = (uint8_t)~a[31];
	ck_assert(secmem_is_equal(a, b, 31));
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("secmem");
	TCase *tc = tcase_create("secmem");

	tcase_add_test(tc, wipe_zeroes_exactly_n_bytes);
	tcase_add_test(tc, free_accepts_null_and_heap);
	tcase_add_test(tc, equal_and_each_position_differs);
	suite_add_tcase(s, tc);
	return s;
}
