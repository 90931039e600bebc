/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btsnoop.h"
#include "check_main.h"
#include "hci.h"

static char path[64];

static void setup(void)
{
	int fd;

	strcpy(path, "/tmp/bgw-snoop-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

static void write_raw(const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

START_TEST(write_read_back_exact)
{
	static uint8_t pk[5][300], acl[300];
	int len[5], i, n;
	struct snoop *s;
	struct snoop_reader *r;
	struct snoop_rec rec;
	uint8_t buf[SNOOP_MAX_RECORD];

	memset(acl, 0xa5, sizeof(acl));
	len[0] = h4_build_cmd(pk[0], 300, HCI_OP_RESET, NULL, 0);
	len[1] = h4_build_cc(pk[1], 300, 1, HCI_OP_RESET, "\0", 1);
	len[2] = h4_build_acl(pk[2], 300, 1, 2, 0, acl, 200);
	len[3] = h4_build_sco(pk[3], 300, 2, 0, acl, 30);
	len[4] = h4_build_iso(pk[4], 300, 3, 2, 0, acl, 40);

	ck_assert_int_eq(snoop_open(&s, path), 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(snoop_write(s, pk[i], (size_t)len[i], i % 2,
					     1700000000000000ULL + (uint64_t)i), 0);
	ck_assert_int_eq(snoop_close(s), 0);

	ck_assert_int_eq(snoop_reader_open(&r, path), 0);
	for (i = 0; i < 5; i++) {
		n = snoop_read(r, buf, sizeof(buf), &rec);
		ck_assert_int_eq(n, len[i]);
		ck_assert_mem_eq(buf, pk[i], (size_t)n);
		ck_assert_int_eq(rec.from_controller, i % 2);
		ck_assert_int_eq(rec.is_ctl, i < 2);
		ck_assert(rec.ts_unix_us == 1700000000000000ULL + (uint64_t)i);
	}
	ck_assert_int_eq(snoop_read(r, buf, sizeof(buf), &rec), 0);
	snoop_reader_close(r);
}
END_TEST

START_TEST(reader_refuses_bad_files)
{
	static const uint8_t bad_magic[16] = "btsnooq\0\0\0\0\1\0\0\3\xea";
	static const uint8_t other_link[16] = "btsnoop\0\0\0\0\1\0\0\x07\xd1";
	struct snoop_reader *r;

	write_raw(bad_magic, 16);
	ck_assert_int_eq(snoop_reader_open(&r, path), -EPROTO);
	write_raw(other_link, 16);
	ck_assert_int_eq(snoop_reader_open(&r, path), -EPROTONOSUPPORT);
	write_raw(other_link, 10);
	ck_assert_int_eq(snoop_reader_open(&r, path), -EPROTO);
	ck_assert_int_eq(snoop_reader_open(&r, "/nonexistent/x"), -ENOENT);
}
END_TEST

START_TEST(reader_refuses_bad_records)
{
	uint8_t f[16 + 24 + 4], buf[8];
	struct snoop_reader *r;
	struct snoop *s;

	/* A valid header and one valid 4-byte record, then damage it. */
	ck_assert_int_eq(snoop_open(&s, path), 0);
	ck_assert_int_eq(snoop_write(s, (const uint8_t *)"\x01\x03\x0c\x00", 4,
				     false, 1), 0);
	ck_assert_int_eq(snoop_close(s), 0);
	{
		FILE *fp = fopen(path, "rb");

		ck_assert_uint_eq(fread(f, 1, sizeof(f), fp), sizeof(f));
		fclose(fp);
	}

	/* Truncated data. */
	write_raw(f, sizeof(f) - 1);
	ck_assert_int_eq(snoop_reader_open(&r, path), 0);
	ck_assert_int_eq(snoop_read(r, buf, sizeof(buf), NULL), -EPROTO);
	snoop_reader_close(r);
	/* Truncated record header. */
	write_raw(f, 16 + 10);
	ck_assert_int_eq(snoop_reader_open(&r, path), 0);
	ck_assert_int_eq(snoop_read(r, buf, sizeof(buf), NULL), -EPROTO);
	snoop_reader_close(r);
	/* Included length larger than original. */
	f[16 + 7] = 5;
	write_raw(f, sizeof(f));
	ck_assert_int_eq(snoop_reader_open(&r, path), 0);
	ck_assert_int_eq(snoop_read(r, buf, sizeof(buf), NULL), -EPROTO);
	snoop_reader_close(r);
	/* A huge declared length is refused, not allocated or read. */
	f[16 + 0] = 0x7f;
	f[16 + 4] = 0x7f;
	write_raw(f, sizeof(f));
	ck_assert_int_eq(snoop_reader_open(&r, path), 0);
	ck_assert_int_eq(snoop_read(r, buf, sizeof(buf), NULL), -EPROTO);
	snoop_reader_close(r);
	/* Fits the format but not the caller's buffer. */
	f[16 + 0] = 0;
	f[16 + 4] = 0;
	f[16 + 3] = 4;
	f[16 + 7] = 4;
	write_raw(f, sizeof(f));
	ck_assert_int_eq(snoop_reader_open(&r, path), 0);
	ck_assert_int_eq(snoop_read(r, buf, 3, NULL), -EMSGSIZE);
	snoop_reader_close(r);
}
END_TEST

START_TEST(writer_refuses_bad_packets)
{
	struct snoop *s;

	ck_assert_int_eq(snoop_open(&s, path), 0);
	ck_assert_int_eq(snoop_write(s, (const uint8_t *)"", 0, false, 0), -EMSGSIZE);
	ck_assert_int_eq(snoop_write(NULL, (const uint8_t *)"x", 1, false, 0), -EINVAL);
	ck_assert_int_eq(snoop_close(s), 0);
	ck_assert_int_eq(snoop_close(NULL), 0);
	ck_assert_int_lt(snoop_open(&s, "/nonexistent/dir/x"), 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("btsnoop");
	TCase *tc = tcase_create("btsnoop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_read_back_exact);
	tcase_add_test(tc, reader_refuses_bad_files);
	tcase_add_test(tc, reader_refuses_bad_records);
	tcase_add_test(tc, writer_refuses_bad_packets);
	suite_add_tcase(s, tc);
	return s;
}
