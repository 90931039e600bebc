/* SPDX-License-Identifier: MIT */
/* lib/rpa: ah() against the Core specification's sample data. */
#include "config.h"

#include <string.h>

#include "bdaddr.h"
#include "check_main.h"
#include "rpa.h"

/*
 * Core Vol 3 Part H Appendix D.7 (ah): IRK ec0234a357c8ad05341010a60a397d9b,
 * prand 708194, ah 0dfbaa -- written most significant octet first there,
 * least significant first (HCI/SMP order) here.
 */
static const uint8_t d7_irk[16] = {
	0x9b, 0x7d, 0x39, 0x0a, 0xa6, 0x10, 0x10, 0x34,
	0x05, 0xad, 0xc8, 0x57, 0xa3, 0x34, 0x02, 0xec,
};
static const uint8_t d7_prand[3] = { 0x94, 0x81, 0x70 };
static const uint8_t d7_hash[3] = { 0xaa, 0xfb, 0x0d };

START_TEST(ah_spec_vector)
{
	uint8_t hash[3] = { 0 };

	ck_assert_int_eq(rpa_ah(d7_irk, d7_prand, hash), 0);
	ck_assert_mem_eq(hash, d7_hash, 3);
}
END_TEST

START_TEST(ah_byte_order_matters)
{
	uint8_t msb[16], hash[3] = { 0 };
	unsigned i;

	/* The IRK as the specification prints it is not what ah() takes. */
	for (i = 0; i < 16; i++)
		msb[i] = d7_irk[15 - i];
	ck_assert_int_eq(rpa_ah(msb, d7_prand, hash), 0);
	ck_assert(memcmp(hash, d7_hash, 3) != 0);
}
END_TEST

START_TEST(matches_the_spec_rpa_only)
{
	struct bdaddr a;

	ck_assert_int_eq(bdaddr_parse("70:81:94:0D:FB:AA", &a), 0);
	ck_assert(rpa_is_resolvable(&a));
	ck_assert(rpa_matches(d7_irk, &a));
	a.b[0] ^= 1;				/* another hash */
	ck_assert(!rpa_matches(d7_irk, &a));
	a.b[0] ^= 1;
	a.b[5] ^= 0x80;				/* top bits 11: static, not an RPA */
	ck_assert(!rpa_is_resolvable(&a));
	ck_assert(!rpa_matches(d7_irk, &a));
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("rpa");
	TCase *tc = tcase_create("rpa");

	tcase_add_test(tc, ah_spec_vector);
	tcase_add_test(tc, ah_byte_order_matters);
	tcase_add_test(tc, matches_the_spec_rpa_only);
	suite_add_tcase(s, tc);
	return s;
}
