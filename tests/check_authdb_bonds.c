/* SPDX-License-Identifier: MIT */
/* The household bond store: parser, edits, atomic writer (authdb/bonds.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bonds.h"
#include "check_main.h"

#define LK "00112233445566778899aabbccddeeff"
#define LTK "ffeeddccbbaa99887766554433221100"

static const char example[] =
	"# household bonds\n"
	"\n"
	"bond 00:1A:7D:DA:71:13 public by alice at 1796648400 linkkey " LK
	" linkkey-type 7\n"
	"  bond C0:11:22:33:44:55 random by mum at 0 ltk " LTK " ediv 4660"
	" rand 0102030405060708 key-size 16 authenticated yes irk " LK "\n";

static struct bonds *parse_ok(const char *text)
{
	struct bonds *b = NULL;
	char err[BONDS_ERR_MAX];

	ck_assert_msg(bonds_parse_buffer("t", text, strlen(text), &b, err,
					 sizeof(err)) == 0, "%s", err);
	return b;
}

static void parse_bad(const char *text, size_t len, const char *want)
{
	struct bonds *b = (struct bonds *)1;
	char err[BONDS_ERR_MAX];

	if (!len)
		len = strlen(text);
	ck_assert_int_eq(bonds_parse_buffer("t", text, len, &b, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(b);
	ck_assert_msg(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);
}

START_TEST(parse_example)
{
	struct bonds *b = parse_ok(example);
	struct bdaddr a;
	const struct bond *x;

	ck_assert_uint_eq(bonds_count(b), 2);
	bdaddr_parse("00:1A:7D:DA:71:13", &a);
	x = bonds_find(b, &a, BDADDR_PUBLIC);
	ck_assert_ptr_nonnull(x);
	ck_assert(x->has_lk && !x->has_ltk && !x->has_irk);
	ck_assert_uint_eq(x->lk[0], 0x00);
	ck_assert_uint_eq(x->lk[15], 0xff);
	ck_assert_uint_eq(x->lk_type, 7);
	ck_assert_str_eq(x->by, "alice");
	ck_assert_int_eq(x->at, 1796648400);
	ck_assert_ptr_null(bonds_find(b, &a, BDADDR_RANDOM));
	bdaddr_parse("C0:11:22:33:44:55", &a);
	x = bonds_find(b, &a, BDADDR_RANDOM);
	ck_assert_ptr_nonnull(x);
	ck_assert(!x->has_lk && x->has_ltk && x->has_irk && x->authenticated);
	ck_assert_uint_eq(x->ediv, 4660);
	ck_assert_uint_eq(x->rand[7], 8);
	ck_assert_uint_eq(x->key_size, 16);
	bonds_free(b);
}
END_TEST

/* Each refusal names its line and what is wrong. */
START_TEST(parse_errors_line_numbered)
{
	parse_bad("\nfoo\n", 0, "t:2: unknown keyword");
	parse_bad("bond 00:1A:7D:DA:71:13\n", 0, "t:1: bond wants an address and its type");
	parse_bad("bond 00:1A:7D:DA:71 public by a at 1 irk " LK "\n", 0,
		  "t:1: \"00:1A:7D:DA:71\" is not an address");
	parse_bad("bond 00:1A:7D:DA:71:13 le by a at 1 irk " LK, 0,
		  "address type");
	parse_bad("bond 11:22:33:44:55:66 random by a at 1 irk " LK, 0,
		  "static address");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1", 0,
		  "wants a linkkey, an ltk, an irk or a pltk");
	parse_bad("bond 00:1A:7D:DA:71:13 public at 1 irk " LK, 0,
		  "wants by USER and at SECONDS");
	parse_bad("bond 00:1A:7D:DA:71:13 public by Bad! at 1 irk " LK, 0,
		  "not a user name");
	/* The gateway's own pairing is @gateway; no other group-like name. */
	parse_bad("bond 00:1A:7D:DA:71:13 public by @family at 1 irk " LK, 0,
		  "not a user name (or @gateway)");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at -1 irk " LK, 0,
		  "at wants seconds");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 linkkey " LK, 0,
		  "linkkey and linkkey-type go together");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 linkkey " LK " linkkey-type 3", 0, "debug keys");
	/* Found by the fuzzer: a single digit above the maximum. */
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 linkkey " LK " linkkey-type 9",
		  0, "linkkey-type wants 0-8");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 ltk " LTK
		  " ediv 1 rand 0102030405060708 key-size 17 authenticated no", 0,
		  "key-size wants 7-16");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 linkkey 0011 linkkey-type 4", 0, "linkkey wants 32 hex digits");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 ltk " LTK " ediv 1", 0,
		  "go together");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 ltk " LTK
		  " ediv 65536 rand 0102030405060708 key-size 16 authenticated no", 0,
		  "ediv wants 0-65535");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 ltk " LTK
		  " ediv 1 rand 0102030405060708 key-size 6 authenticated no", 0,
		  "key-size wants 7-16");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 irk " LK " irk " LK, 0,
		  "irk given twice");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 irk " LK " colour red", 0,
		  "unknown field \"colour\"");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 irk " LK " by", 0,
		  "by given twice");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 irk " LK "\n"
		  "bond 00:1a:7d:da:71:13 public by b at 2 irk " LK "\n", 0,
		  "t:2: 00:1a:7d:da:71:13 public bonded twice");
}
END_TEST

/*
 * The device as central's key (pltk, pediv, prand): alone or with every
 * other field (the longest line there is), the three together only, each
 * checked; a store of before (without them) loads as it did, and the
 * fields survive a save and a load.
 */
START_TEST(parse_peripheral_role_key)
{
	static const char full[] =
		"bond C0:11:22:33:44:55 random by abcdefghijabcdefghijabcdefghijab"
		" at 9223372036854775807 linkkey " LK " linkkey-type 8 ltk " LTK
		" ediv 65535 rand 0102030405060708 key-size 16 authenticated yes irk " LK
		" pltk " LTK " pediv 65535 prand 1112131415161718\n";
	struct bonds *b;
	const struct bond *x;
	struct bdaddr a;
	char *t1, *t2, err[BONDS_ERR_MAX];
	size_t l1, l2;

	b = parse_ok("bond 00:1A:7D:DA:71:13 public by alice at 1 pltk " LTK
		     " pediv 4660 prand 0102030405060708\n");
	bdaddr_parse("00:1A:7D:DA:71:13", &a);
	x = bonds_find(b, &a, BDADDR_PUBLIC);
	ck_assert_ptr_nonnull(x);
	ck_assert(x->has_pltk && !x->has_ltk && !x->has_lk && !x->has_irk);
	ck_assert_uint_eq(x->pediv, 4660);
	ck_assert_uint_eq(x->prand[0], 0x01);
	ck_assert_uint_eq(x->prand[7], 0x08);
	ck_assert_uint_eq(x->pltk[0], 0xff);
	bonds_free(b);

	/* The old file: no pltk. */
	b = parse_ok(example);
	bdaddr_parse("C0:11:22:33:44:55", &a);
	x = bonds_find(b, &a, BDADDR_RANDOM);
	ck_assert(x && x->has_ltk && !x->has_pltk);
	bonds_free(b);

	b = parse_ok(full);
	ck_assert_int_eq(bonds_serialize(b, &t1, &l1), 0);
	ck_assert_ptr_nonnull(memmem(t1, l1, " pltk " LTK " pediv 65535 prand 1112131415161718\n",
				     strlen(" pltk " LTK " pediv 65535 prand 1112131415161718\n")));
	bonds_free(b);
	ck_assert_int_eq(bonds_parse_buffer("t", t1, l1, &b, err, sizeof(err)), 0);
	x = bonds_find(b, &a, BDADDR_RANDOM);
	ck_assert(x && x->has_pltk && x->has_ltk && x->has_irk && x->has_lk);
	ck_assert_uint_eq(x->prand[7], 0x18);
	ck_assert_int_eq(bonds_serialize(b, &t2, &l2), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert(memcmp(t1, t2, l1) == 0);
	free(t1);
	free(t2);
	bonds_free(b);

	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pltk " LTK, 0,
		  "pltk, pediv and prand go together");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pediv 1 prand 0102030405060708", 0,
		  "pltk, pediv and prand go together");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pltk 0011 pediv 1 prand 0102030405060708",
		  0, "pltk wants 32 hex digits");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pltk " LTK
		  " pediv 65536 prand 0102030405060708", 0, "pediv wants 0-65535");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pltk " LTK
		  " pediv 1 prand 01020304050607", 0, "prand wants 16 hex digits");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pltk " LTK
		  " pediv 1 prand 0102030405060708 pediv 2", 0, "pediv given twice");
	parse_bad("bond 00:1A:7D:DA:71:13 public by a at 1 pltk " LTK
		  " pediv 0 prand 0000000000000000", 0, "pediv and prand both 0");
}
END_TEST

/* Truncated, oversized and embedded-NUL input. */
START_TEST(parse_truncated_oversized_nul)
{
	static const char full[] = "bond 00:1A:7D:DA:71:13 public by alice at 1 linkkey "
		LK " linkkey-type 4\n";
	static const char nul[] = "bond 00:1A:7D:DA:71:13 public by a\0b at 1 irk " LK "\n";
	char big[BONDS_LINE_MAX + 8], *huge;
	struct bonds *b = NULL;
	char err[BONDS_ERR_MAX];
	size_t i;

	/* Every prefix of a good line either parses or is refused cleanly. */
	for (i = 0; i < sizeof(full) - 1; i++) {
		int r = bonds_parse_buffer("t", full, i, &b, err, sizeof(err));

		ck_assert(r == 0 || r == -EINVAL);
		bonds_free(b);
		b = NULL;
	}
	memset(big, 'x', sizeof(big));
	memcpy(big, "# ", 2);
	parse_bad(big, sizeof(big), "t:1: line longer than");
	parse_bad(nul, sizeof(nul) - 1, "NUL byte");
	huge = calloc(1, BONDS_FILE_MAX + 1);
	ck_assert_ptr_nonnull(huge);
	ck_assert_int_eq(bonds_parse_buffer("t", huge, BONDS_FILE_MAX + 1, &b, err,
					    sizeof(err)), -EFBIG);
	free(huge);
}
END_TEST

START_TEST(serialize_roundtrip_set_forget)
{
	struct bonds *b = parse_ok(example), *again;
	struct bond nb = { 0 };
	char *t1, *t2, err[BONDS_ERR_MAX];
	size_t l1, l2;

	ck_assert_int_eq(bonds_serialize(b, &t1, &l1), 0);
	ck_assert_int_eq(bonds_parse_buffer("t", t1, l1, &again, err, sizeof(err)), 0);
	ck_assert_int_eq(bonds_serialize(again, &t2, &l2), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert(memcmp(t1, t2, l1) == 0);
	free(t1);
	free(t2);
	bonds_free(again);

	bdaddr_parse("00:1A:7D:DA:71:13", &nb.addr);
	strcpy(nb.by, "bob");
	nb.at = 5;
	ck_assert_int_eq(bonds_set(b, &nb), -EINVAL);	/* no key */
	nb.has_lk = true;
	nb.lk_type = 3;
	ck_assert_int_eq(bonds_set(b, &nb), -EINVAL);	/* debug key */
	nb.lk_type = 5;
	nb.lk[0] = 0x42;
	ck_assert_int_eq(bonds_set(b, &nb), 0);		/* replaces alice's */
	ck_assert_uint_eq(bonds_count(b), 2);
	ck_assert_str_eq(bonds_find(b, &nb.addr, 0)->by, "bob");
	ck_assert_uint_eq(bonds_find(b, &nb.addr, 0)->lk[0], 0x42);
	ck_assert_int_eq(bonds_forget(b, &nb.addr, 0), 0);
	ck_assert_int_eq(bonds_forget(b, &nb.addr, 0), -ENOENT);
	ck_assert_uint_eq(bonds_count(b), 1);
	bonds_free(b);
}
END_TEST

START_TEST(store_full)
{
	struct bonds *b = bonds_new();
	struct bond nb = { 0 };
	unsigned i;

	strcpy(nb.by, "alice");
	nb.has_irk = true;
	for (i = 0; i < BONDS_MAX; i++) {
		nb.addr.b[0] = (uint8_t)i;
		nb.addr.b[1] = (uint8_t)(i >> 8);
		ck_assert_int_eq(bonds_set(b, &nb), 0);
	}
	nb.addr.b[2] = 1;
	ck_assert_int_eq(bonds_set(b, &nb), -ENOSPC);
	bonds_free(b);
}
END_TEST

/* Saved with mode 0600, atomically; a group-readable store is refused. */
START_TEST(save_load_mode)
{
	char dir[] = "/tmp/bgw-bonds-XXXXXX", path[64], err[BONDS_ERR_MAX];
	struct bonds *b = parse_ok(example), *l = NULL;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bonds", dir);
	ck_assert_int_eq(bonds_load(path, &l, err, sizeof(err)), 0);	/* none yet */
	ck_assert_uint_eq(bonds_count(l), 0);
	bonds_free(l);
	umask(022);
	ck_assert_int_eq(bonds_save(b, path), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(bonds_load(path, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(bonds_count(l), 2);
	bonds_free(l);
	chmod(path, 0640);
	ck_assert_int_eq(bonds_load(path, &l, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	unlink(path);
	rmdir(dir);
	bonds_free(b);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("authdb_bonds");
	TCase *tc = tcase_create("bonds");

	tcase_add_test(tc, parse_example);
	tcase_add_test(tc, parse_errors_line_numbered);
	tcase_add_test(tc, parse_peripheral_role_key);
	tcase_add_test(tc, parse_truncated_oversized_nul);
	tcase_add_test(tc, serialize_roundtrip_set_forget);
	tcase_add_test(tc, store_full);
	tcase_add_test(tc, save_load_mode);
	suite_add_tcase(s, tc);
	return s;
}
