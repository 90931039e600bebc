/* SPDX-License-Identifier: MIT */
/* The authdb parser, queries, edits and atomic writer. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authdb.h"
#include "check_main.h"
#include "log.h"

static const char example[] =
	"# bgw authdb\n"
	"\n"
	"user alice admin\n"
	"password alice scram-sha-256 4096 W22ZaJ0SNY7soEsUEjb6gQ== "
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY= "
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n"
	"user bob\n"
	"user carol disabled\n"
	"   # indented comment\n"
	"group family bob carol\n"
	"device 00:1A:7D:DA:71:13 public label \"Kitchen lock\"\n"
	"device C0:11:22:33:44:55 random irk 00112233445566778899aabbccddeeff "
	"label \"Lamp \\\"big\\\"\"\n"
	"allow alice 00:1A:7D:DA:71:13 public\n"
	"allow @family C0:11:22:33:44:55 random\n"
	"allow carol 00:1A:7D:DA:71:13 public\n"
	"cert bob 0A1b sha256:"
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	"cert alice 7f sha256:"
	"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"
	"revoke 00a1b\n";

static char last_log[600];

static void capture(int prio, const char *line, void *user)
{
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static void setup(void)
{
	log_set_handler(capture, NULL);
	last_log[0] = '\0';
}

static struct authdb *parse_ok(const char *text)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];

	ck_assert_msg(authdb_parse_buffer("t", text, strlen(text), &db, err,
					  sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(db);
	return db;
}

static int collect_rd(const struct authdb_rd *rd, void *ud)
{
	char *out = ud, a[BDADDR_STRLEN];

	snprintf(out + strlen(out), 256 - strlen(out), "%s/%u/%s;",
		 bdaddr_fmt(&rd->addr, a), rd->type, rd->label);
	return 0;
}

START_TEST(test_example_queries)
{
	struct authdb *db = parse_ok(example);
	struct bdaddr lock, lamp;
	uint8_t fpr[32];
	char user[AUTHDB_NAME_MAX + 1], list[256] = "";
	unsigned f;

	ck_assert_int_eq(bdaddr_parse("00:1A:7D:DA:71:13", &lock), 0);
	ck_assert_int_eq(bdaddr_parse("C0:11:22:33:44:55", &lamp), 0);
	ck_assert_int_eq(authdb_user_flags(db, "alice", &f), 0);
	ck_assert_uint_eq(f, AUTHDB_USER_ADMIN);
	ck_assert(authdb_user_is_admin(db, "alice"));
	ck_assert(!authdb_user_is_admin(db, "bob"));
	ck_assert(authdb_user_is_enabled(db, "bob"));
	ck_assert(!authdb_user_is_enabled(db, "carol"));
	ck_assert(!authdb_user_is_enabled(db, "nobody"));
	ck_assert_int_eq(authdb_user_flags(db, "nobody", &f), -ENOENT);

	/* Direct, through a group, default deny, type must match. */
	ck_assert(authdb_user_may_access(db, "alice", &lock, BDADDR_PUBLIC));
	ck_assert(!authdb_user_may_access(db, "alice", &lock, BDADDR_RANDOM));
	ck_assert(!authdb_user_may_access(db, "alice", &lamp, BDADDR_RANDOM));
	ck_assert(authdb_user_may_access(db, "bob", &lamp, BDADDR_RANDOM));
	ck_assert(!authdb_user_may_access(db, "bob", &lock, BDADDR_PUBLIC));
	/* Disabled users see nothing, whatever their grants. */
	ck_assert(!authdb_user_may_access(db, "carol", &lock, BDADDR_PUBLIC));
	ck_assert(!authdb_user_may_access(db, "nobody", &lock, BDADDR_PUBLIC));

	ck_assert_int_eq(authdb_user_rds(db, "bob", collect_rd, list), 0);
	ck_assert_str_eq(list, "C0:11:22:33:44:55/1/Lamp \"big\";");
	list[0] = '\0';
	ck_assert_int_eq(authdb_user_rds(db, "alice", collect_rd, list), 0);
	ck_assert_str_eq(list, "00:1A:7D:DA:71:13/0/Kitchen lock;");

	/* Serials: case and leading zeros do not matter. */
	ck_assert(authdb_serial_is_revoked(db, "A1B"));
	ck_assert(authdb_serial_is_revoked(db, "0a1b"));
	ck_assert(!authdb_serial_is_revoked(db, "7f"));
	memset(fpr, 0, sizeof(fpr));
	ck_assert_int_eq(authdb_cert_user(db, fpr, user), -ENOENT);
	memcpy(fpr, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
		    "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 32);
	ck_assert_int_eq(authdb_cert_user(db, fpr, user), -EKEYREVOKED);
	memcpy(fpr, "\xff\xee\xdd\xcc\xbb\xaa\x99\x88\x77\x66\x55\x44\x33\x22\x11\x00"
		    "\xff\xee\xdd\xcc\xbb\xaa\x99\x88\x77\x66\x55\x44\x33\x22\x11\x00", 32);
	ck_assert_int_eq(authdb_cert_user(db, fpr, user), 0);
	ck_assert_str_eq(user, "alice");
	authdb_free(db);
}
END_TEST

START_TEST(test_scram_lookup)
{
	struct authdb *db = parse_ok(example);
	static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
	struct scram_verifier v, fake;
	bool real;

	ck_assert_int_eq(authdb_scram_lookup(db, "alice", secret, 32, &v, &real), 0);
	ck_assert(real);
	ck_assert_uint_eq(v.iterations, 4096);
	ck_assert_uint_eq(v.salt_len, 16);
	/* No password, disabled, unknown: fabricated, indistinguishable shape. */
	ck_assert_int_eq(authdb_scram_lookup(db, "bob", secret, 32, &v, &real), 0);
	ck_assert(!real);
	ck_assert_int_eq(authdb_scram_lookup(db, "zed", secret, 32, &fake, &real), 0);
	ck_assert(!real);
	ck_assert_uint_eq(fake.salt_len, SCRAM_SALT_LEN);
	authdb_free(db);
}
END_TEST

START_TEST(test_parser_api_lines)
{
	/* The init/line/finish API on its own; order of definition is free. */
	struct authdb_parser *p = authdb_parser_new("api");
	struct authdb *db = NULL;
	static const char *const lines[] = {
		"allow @g 11:22:33:44:55:66 public",
		"group g u",
		"user u",
	};
	size_t i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(authdb_parser_line(p, lines[i], strlen(lines[i])), 0);
	ck_assert_int_eq(authdb_parser_finish(p, &db), 0);
	ck_assert_ptr_nonnull(db);
	authdb_free(db);
	authdb_parser_free(NULL);
	authdb_free(NULL);
}
END_TEST

static const struct {
	const char *text;
	const char *want;	/* substring of the error */
} bad[] = {
	{ "frobnicate alice\n", "t:1: unknown keyword: 'frobnicate'" },
	{ "user alice\nuser alice\n", "t:2: duplicate user: 'alice'" },
	{ "user Alice\n", "bad user name: 'Alice'" },
	{ "user abcdefghijabcdefghijabcdefghijabc\n", "bad user name" },
	{ "user alice root\n", "unknown option: 'root'" },
	{ "user alice admin admin\n", "repeated option" },
	{ "user alice\n", NULL },	/* control: valid */
	/* No user at all: refused, never "0 users" that ends every session. */
	{ "", "t:1: empty file (0 bytes)" },
	{ "# only a comment\n\n", "t:2: no user entry in the file" },
	{ "revoke 1f\n", "t:1: no user entry in the file" },
	{ "user alice", "truncated file" },
	{ "user alice\nuser bo", "t:2: truncated file" },
	{ "user al\0ice\n", "embedded NUL" },
	{ "user alice\r\n", "unexpected character" },
	{ "user alice\ndevice 00:1A:7D:DA:71 public\n", "t:2: bad address: '00:1A:7D:DA:71'" },
	{ "device 00:1A:7D:DA:71:1G public\n", "bad address" },
	{ "device 00:1A:7D:DA:71:13 le\n", "bad address type" },
	{ "device 00:1A:7D:DA:71:13 public irk 0011\n", "bad IRK" },
	{ "device 00:1A:7D:DA:71:13 public label\n", "option without value" },
	{ "device 00:1A:7D:DA:71:13 public label \"x\n", "unterminated" },
	{ "device 00:1A:7D:DA:71:13 public label \"a\\nb\"\n", "bad escape" },
	{ "device 00:1A:7D:DA:71:13 public label \"\xc0\xaf\"\n", "bad label" },
	{ "device 00:1A:7D:DA:71:13 public label "
	  "\"0123456789012345678901234567890123456789012345678901234567890123456789\"\n",
	  "bad label" },
	{ "device 00:1A:7D:DA:71:13 public color red\n", "unknown or repeated option" },
	{ "device 00:1A:7D:DA:71:13 public\ndevice 00:1a:7d:da:71:13 public\n",
	  "t:2: duplicate device" },
	{ "allow alice 00:1A:7D:DA:71:13 public\n", "t:1: no such user: 'alice'" },
	{ "allow @fam 00:1A:7D:DA:71:13 public\n", "no such group: '@fam'" },
	{ "user a\nallow a 00:1A:7D:DA:71:13\n", "allow: missing fields" },
	{ "user a\nallow a 00:1A:7D:DA:71:13 public x\n", "allow: too many fields" },
	{ "user a\nallow a 00:1A:7D:DA:71:13 public\nallow a 00:1A:7D:DA:71:13 public\n",
	  "t:3: duplicate allow" },
	{ "group g nobody\n", "no such user: 'nobody'" },
	{ "user a\ngroup g a a\n", "duplicate member: 'a'" },
	{ "user a\npassword a scram-sha-256 4096 W22ZaJ0SNY7soEsUEjb6gQ==\n",
	  "password: missing fields" },
	{ "user a\npassword a md5 4096 a b c\n", "unknown password scheme: 'md5'" },
	{ "user a\npassword a scram-sha-256 10 W22ZaJ0SNY7soEsUEjb6gQ== "
	  "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY= "
	  "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n", "bad iteration count: '10'" },
	{ "user a\npassword a scram-sha-256 4096 W22ZaJ0SNY7soEsUEjb6gQ "
	  "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY= "
	  "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n", "bad salt" },
	{ "user a\npassword a scram-sha-256 4096 W22ZaJ0SNY7soEsUEjb6gQ== "
	  "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpc= "
	  "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n", "bad StoredKey" },
	{ "password a scram-sha-256 4096 W22ZaJ0SNY7soEsUEjb6gQ== "
	  "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY= "
	  "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n", "no such user: 'a'" },
	{ "user a\ncert a 12 sha256:00\n", "bad fingerprint" },
	{ "user a\ncert a xyz sha256:"
	  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	  "bad serial" },
	{ "revoke 12345678901234567890123456789012345678901\n", "bad serial" },
	{ "revoke 1\nrevoke 01\n", "t:2: duplicate revoke" },
	{ "revoke\n", "revoke: missing serial" },
};

START_TEST(test_malformed)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	size_t len = strlen(bad[_i].text);
	int ret;

	/* The NUL case: measure up to the real end. */
	if (strstr(bad[_i].text, "user al") == bad[_i].text && len == 7)
		len = 12;
	ret = authdb_parse_buffer("t", bad[_i].text, len, &db, err, sizeof(err));
	if (!bad[_i].want) {
		ck_assert_int_eq(ret, 0);
		authdb_free(db);
		return;
	}
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, bad[_i].want), "got '%s', want '%s'", err,
		      bad[_i].want);
	/* Handed to the caller, not logged; logged when no buffer is given. */
	ck_assert_str_eq(last_log, "");
	ck_assert_int_eq(authdb_parse_buffer("t", bad[_i].text, len, &db, NULL, 0),
			 -EINVAL);
	ck_assert_str_eq(last_log, err);
}
END_TEST

START_TEST(test_oversized_line)
{
	char *buf = malloc(AUTHDB_LINE_MAX + 32);
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];

	/* "user a" first: a file needs a user. */
	memset(buf, ' ', AUTHDB_LINE_MAX + 32);
	memcpy(buf, "user a\n# ", 9);
	buf[7 + AUTHDB_LINE_MAX] = '\n';	/* exactly the cap: fine */
	ck_assert_int_eq(authdb_parse_buffer("t", buf, 7 + AUTHDB_LINE_MAX + 1, &db,
					     err, sizeof(err)), 0);
	authdb_free(db);
	buf[7 + AUTHDB_LINE_MAX] = ' ';
	buf[7 + AUTHDB_LINE_MAX + 1] = '\n';	/* one more: refused, not split */
	ck_assert_int_eq(authdb_parse_buffer("t", buf, 7 + AUTHDB_LINE_MAX + 2, &db,
					     err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(strstr(err, "t:2: line too long"));
	free(buf);
}
END_TEST

START_TEST(test_too_many_entries)
{
	struct authdb_parser *p = authdb_parser_new("t");
	struct authdb *db = NULL;
	char line[64];
	int i, ret = 0;

	for (i = 0; i <= AUTHDB_GROUPS_MAX && !ret; i++) {
		snprintf(line, sizeof(line), "group g%d", i);
		ret = authdb_parser_line(p, line, strlen(line));
	}
	ck_assert_int_eq(ret, -ENOSPC);
	ck_assert_int_eq(i, AUTHDB_GROUPS_MAX + 1);
	ck_assert_ptr_nonnull(strstr(authdb_parser_error(p), "too many entries"));
	ck_assert_int_eq(authdb_parser_finish(p, &db), -EINVAL);
	ck_assert_ptr_null(db);
}
END_TEST

START_TEST(test_edits_preserve_lines)
{
	struct authdb *db = parse_ok(example);
	struct scram_verifier v;
	struct bdaddr a;
	char *out;
	size_t len;

	ck_assert_int_eq(authdb_user_add(db, "dave", 0), 0);
	ck_assert_int_eq(authdb_user_add(db, "dave", 0), -EEXIST);
	ck_assert_int_eq(authdb_user_add(db, "Dave", 0), -EINVAL);
	ck_assert_int_eq(authdb_user_set_flags(db, "bob", AUTHDB_USER_ADMIN, 0), 0);
	ck_assert_int_eq(authdb_user_set_flags(db, "carol", 0,
					       AUTHDB_USER_DISABLED), 0);
	ck_assert_int_eq(scram_verifier_make("x", 1, 4096, &v), 0);
	ck_assert_int_eq(authdb_password_set(db, "dave", &v), 0);
	ck_assert_int_eq(authdb_group_member(db, "family", "dave", true), 0);
	ck_assert_int_eq(authdb_group_member(db, "family", "dave", true), -EEXIST);
	ck_assert_int_eq(bdaddr_parse("AA:BB:CC:DD:EE:FF", &a), 0);
	ck_assert_int_eq(authdb_allow(db, "dave", &a, BDADDR_RANDOM, "Front door",
				      NULL), 0);
	ck_assert_int_eq(authdb_allow(db, "@nope", &a, BDADDR_RANDOM, NULL, NULL),
			 -ENOENT);
	ck_assert_int_eq(authdb_deny(db, "alice", &a, BDADDR_RANDOM, NULL), -ENOENT);
	ck_assert_int_eq(authdb_revoke(db, "7F"), 0);
	ck_assert_int_eq(authdb_revoke(db, "7f"), -EEXIST);
	ck_assert(authdb_user_may_access(db, "dave", &a, BDADDR_RANDOM));
	/* Deleting carol edits the group line and drops her grant. */
	ck_assert_int_eq(authdb_user_del(db, "carol", NULL), 0);
	ck_assert_int_eq(authdb_user_del(db, "carol", NULL), -ENOENT);

	ck_assert_int_eq(authdb_serialize(db, &out, &len), 0);
	/* Comments, blank line, untouched lines verbatim and in order. */
	ck_assert_ptr_nonnull(strstr(out, "# bgw authdb\n\nuser alice admin\npassword alice"));
	ck_assert_ptr_nonnull(strstr(out, "user bob admin\n   # indented comment\n"
					  "group family bob dave\n"));
	ck_assert_ptr_nonnull(strstr(out, "label \"Lamp \\\"big\\\"\"\n"));
	ck_assert_ptr_null(strstr(out, "carol"));
	ck_assert_ptr_nonnull(strstr(out, "user dave\npassword dave scram-sha-256 4096 "));
	ck_assert_ptr_nonnull(strstr(out, "device AA:BB:CC:DD:EE:FF random label "
					  "\"Front door\"\nallow dave AA:BB:CC:DD:EE:FF random\n"));
	ck_assert_ptr_nonnull(strstr(out, "revoke 7f\n"));
	authdb_free(db);
	/* And it parses back to the same text. */
	db = parse_ok(out);
	{
		char *again;
		size_t len2;

		ck_assert_int_eq(authdb_serialize(db, &again, &len2), 0);
		ck_assert_uint_eq(len, len2);
		ck_assert_str_eq(out, again);
		free(again);
	}
	ck_assert_int_eq(authdb_deny(db, "dave", &a, BDADDR_RANDOM, NULL), 0);
	ck_assert(!authdb_user_may_access(db, "dave", &a, BDADDR_RANDOM));
	ck_assert_int_eq(authdb_group_del(db, "family", NULL), 0);
	ck_assert_int_eq(authdb_group_del(db, "family", NULL), -ENOENT);
	free(out);
	authdb_free(db);
}
END_TEST

START_TEST(test_edits_report_removed)
{
	static const char text[] =
		"device 11:22:33:44:55:66 public label \"Spare, never granted\"\n";
	struct authdb_removed r;
	struct authdb *db;
	struct bdaddr a;
	char *buf, *out;
	size_t len;

	/* The example plus a device line no grant ever named. */
	buf = malloc(sizeof(example) + sizeof(text));
	ck_assert_ptr_nonnull(buf);
	snprintf(buf, sizeof(example) + sizeof(text), "%s%s", example, text);
	db = parse_ok(buf);
	free(buf);
	/* carol: a membership and a grant; the lock is still alice's. */
	ck_assert_int_eq(authdb_user_del(db, "carol", &r), 0);
	ck_assert(!r.password);
	ck_assert_uint_eq(r.groups, 1);
	ck_assert_uint_eq(r.grants, 1);
	ck_assert_uint_eq(r.certs, 0);
	ck_assert_uint_eq(r.devices, 0);
	/* The lock's last grant: its device line goes with it. */
	ck_assert_int_eq(bdaddr_parse("00:1A:7D:DA:71:13", &a), 0);
	ck_assert_int_eq(authdb_deny(db, "alice", &a, BDADDR_PUBLIC, &r), 0);
	ck_assert_uint_eq(r.grants, 1);
	ck_assert_uint_eq(r.devices, 1);
	ck_assert_int_eq(authdb_deny(db, "alice", &a, BDADDR_PUBLIC, &r), -ENOENT);
	ck_assert_uint_eq(r.grants, 0);
	/* The group's grant was the lamp's last: line and IRK go. */
	ck_assert_int_eq(authdb_group_del(db, "family", &r), 0);
	ck_assert_uint_eq(r.grants, 1);
	ck_assert_uint_eq(r.devices, 1);
	ck_assert_int_eq(authdb_user_del(db, "alice", &r), 0);
	ck_assert(r.password);
	ck_assert_uint_eq(r.certs, 1);
	ck_assert_uint_eq(r.grants, 0);
	ck_assert_int_eq(authdb_user_del(db, "bob", &r), 0);
	ck_assert_uint_eq(r.certs, 1);

	ck_assert_int_eq(authdb_serialize(db, &out, &len), 0);
	ck_assert_ptr_null(strstr(out, "Kitchen lock"));
	ck_assert_ptr_null(strstr(out, "0011223344556677"));
	ck_assert_ptr_null(strstr(out, "allow "));
	ck_assert_ptr_null(strstr(out, "cert "));
	/* What no edit orphaned stays, and so do revocations. */
	ck_assert_ptr_nonnull(strstr(out, "device 11:22:33:44:55:66 public"));
	ck_assert_ptr_nonnull(strstr(out, "revoke 00a1b\n"));
	free(out);
	authdb_free(db);
}
END_TEST

START_TEST(test_irk_resolve)
{
	/* Core v5.4 Vol 3 Part H Appendix D.7: ah(IRK, 0x708194) = 0x0dfbaa. */
	static const char text[] =
		"user u\n"
		"device C0:11:22:33:44:55 random irk ec0234a357c8ad05341010a60a397d9b "
		"label \"Lamp\"\n"
		"allow u C0:11:22:33:44:55 random\n";
	struct authdb *db = parse_ok(text);
	struct authdb_rd rd;
	struct bdaddr rpa, other;
	uint8_t irk[16];
	char a[BDADDR_STRLEN];

	memcpy(irk, "\xec\x02\x34\xa3\x57\xc8\xad\x05\x34\x10\x10\xa6\x0a\x39"
		    "\x7d\x9b", 16);
	ck_assert_int_eq(bdaddr_parse("70:81:94:0D:FB:AA", &rpa), 0);
	ck_assert(authdb_rpa_is_resolvable(&rpa, irk));
	ck_assert_int_eq(authdb_rpa_resolve(db, &rpa, &rd), 0);
	ck_assert_str_eq(bdaddr_fmt(&rd.addr, a), "C0:11:22:33:44:55");
	ck_assert_uint_eq(rd.type, BDADDR_RANDOM);
	ck_assert_str_eq(rd.label, "Lamp");
	ck_assert(authdb_user_may_access(db, "u", &rd.addr, rd.type));
	/* One bit off in the hash, or not an RPA (top bits 11): no. */
	other = rpa;
	other.b[0] ^= 1;
	ck_assert(!authdb_rpa_is_resolvable(&other, irk));
	ck_assert_int_eq(authdb_rpa_resolve(db, &other, &rd), -ENOENT);
	other = rpa;
	other.b[5] |= 0xc0;
	ck_assert(!authdb_rpa_is_resolvable(&other, irk));
	authdb_free(db);
}
END_TEST

START_TEST(test_big_file)
{
	/* Near the caps: 1000 users, 200 groups of 50, 16000 grants. */
	size_t cap = 4u << 20, o = 0;
	char *buf = malloc(cap);
	struct authdb *db = NULL, *db2 = NULL;
	char err[AUTHDB_ERR_MAX];
	struct bdaddr a;
	int i, j;

	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(buf + o, cap - o, "user u%d\n", i);
	for (i = 0; i < 200; i++) {
		o += (size_t)snprintf(buf + o, cap - o, "group g%d", i);
		for (j = 0; j < 50; j++)
			o += (size_t)snprintf(buf + o, cap - o, " u%d", (i * 7 + j) % 1000);
		buf[o++] = '\n';
	}
	for (i = 0; i < 16000; i++)
		o += (size_t)snprintf(buf + o, cap - o,
				      "allow %s%d 00:00:00:00:%02X:%02X public\n",
				      i % 2 ? "@g" : "u", i % 2 ? i % 200 : i % 1000,
				      (i >> 8) & 0xff, i & 0xff);
	ck_assert_uint_lt(o, cap);
	ck_assert_int_eq(authdb_parse_buffer("big", buf, o, &db, err, sizeof(err)), 0);
	/* u0 is granted 00:..:00:00 directly (i = 0); g0 (i = 200k+...) too. */
	ck_assert_int_eq(bdaddr_parse("00:00:00:00:00:00", &a), 0);
	ck_assert(authdb_user_may_access(db, "u0", &a, BDADDR_PUBLIC));
	ck_assert(!authdb_user_may_access(db, "u1", &a, BDADDR_PUBLIC));
	ck_assert_int_eq(bdaddr_parse("00:00:00:00:00:01", &a), 0);	/* i=1: @g1 */
	ck_assert(authdb_user_may_access(db, "u7", &a, BDADDR_PUBLIC));	/* in g1 */
	ck_assert(!authdb_user_may_access(db, "u0", &a, BDADDR_PUBLIC));
	/* The same grant twice, far apart: found, at the later line. */
	o += (size_t)snprintf(buf + o, cap - o, "allow u0 00:00:00:00:00:00 public\n");
	ck_assert_int_eq(authdb_parse_buffer("big", buf, o, &db2, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "big:17201: duplicate allow: "
				     "'u0 00:00:00:00:00:00 public'"));
	authdb_free(db);
	free(buf);
}
END_TEST

static char tmpdir[64];

static void mktmp(void)
{
	setup();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/authdb-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rmtmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

START_TEST(test_load_checks_file)
{
	char path[128], link[140], err[AUTHDB_ERR_MAX];
	struct authdb *db = NULL;

	snprintf(path, sizeof(path), "%s/authdb", tmpdir);
	ck_assert_int_eq(authdb_load(path, 0, &db, err, sizeof(err)), -ENOENT);
	write_file(path, example, 0600);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), 0);
	authdb_free(db);
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "group- or world-writable"));
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_int_eq(chmod(path, 0602), 0);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), -EPERM);
	/* Verifiers allow offline guessing: group/other-readable is refused. */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "readable by group or others (mode 640)"));
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), -EPERM);
	ck_assert_int_eq(chmod(path, 0600), 0);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_lt(authdb_load(link, getuid(), &db, err, sizeof(err)), 0);
	ck_assert_int_eq(authdb_load(tmpdir, getuid(), &db, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	if (getuid() == 0) {
		ck_assert_int_eq(chown(path, 4242, 0), 0);
		ck_assert_int_eq(authdb_load(path, 0, &db, err, sizeof(err)), -EPERM);
		ck_assert_ptr_nonnull(strstr(err, "owned by uid 4242"));
		ck_assert_int_eq(authdb_load(path, 4242, &db, err, sizeof(err)), 0);
		authdb_free(db);
	}
	/* A zero-length file (a truncation) is refused like a corrupt one. */
	unlink(path);
	write_file(path, "", 0600);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(strstr(err, "authdb:1: empty file (0 bytes)"));
	unlink(path);
	write_file(path, "user alice\nbogus\n", 0600);
	ck_assert_int_eq(authdb_load(path, getuid(), &db, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":2: unknown keyword: 'bogus'"));
}
END_TEST

START_TEST(test_save_and_lock)
{
	char path[128], err[AUTHDB_ERR_MAX];
	struct authdb *db = parse_ok(example), *back = NULL;
	struct stat st;
	int lk;

	snprintf(path, sizeof(path), "%s/authdb", tmpdir);
	lk = authdb_lock(path);
	ck_assert_int_ge(lk, 0);
	ck_assert_int_eq(authdb_save(db, path), 0);
	authdb_unlock(lk);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(authdb_load(path, getuid(), &back, err, sizeof(err)), 0);
	authdb_free(back);
	authdb_free(db);
}
END_TEST

START_TEST(test_secret_persists)
{
	uint8_t s1[AUTHDB_SECRET_LEN], s2[AUTHDB_SECRET_LEN];
	char path[128];

	snprintf(path, sizeof(path), "%s/scram.secret", tmpdir);
	ck_assert_int_eq(authdb_secret_load(path, s1, sizeof(s1)), 0);
	ck_assert_int_eq(authdb_secret_load(path, s2, sizeof(s2)), 0);
	ck_assert_mem_eq(s1, s2, sizeof(s1));
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(authdb_secret_load(path, s2, sizeof(s2)), -EPERM);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(truncate(path, 31), 0);
	ck_assert_int_eq(authdb_secret_load(path, s2, sizeof(s2)), -EINVAL);
	/* A fresh state directory is made (the service's first start). */
	snprintf(path, sizeof(path), "%s/state/scram.secret", tmpdir);
	ck_assert_int_eq(authdb_secret_load(path, s1, sizeof(s1)), 0);
	ck_assert_int_eq(authdb_secret_load(path, s2, sizeof(s2)), 0);
	ck_assert_mem_eq(s1, s2, sizeof(s1));
}
END_TEST

static int fault_at;

static void fault_hook(int step)
{
	if (step == fault_at)
		_exit(77);	/* as abrupt as kill -9: no cleanup, no flush */
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

START_TEST(test_crash_at_every_step)
{
	char path[128], *oldtext, *newtext, *now;
	struct authdb *db = parse_ok(example);
	size_t len;
	int step, status, i;
	pid_t pid;
	bool saw_new = false;

	snprintf(path, sizeof(path), "%s/authdb", tmpdir);
	ck_assert_int_eq(authdb_save(db, path), 0);
	ck_assert_int_eq(authdb_serialize(db, &oldtext, &len), 0);
	/* A big edit, so the write takes several steps. */
	for (i = 0; i < 40; i++) {
		char name[16];

		snprintf(name, sizeof(name), "user%02d", i);
		ck_assert_int_eq(authdb_user_add(db, name, 0), 0);
	}
	ck_assert_int_eq(authdb_serialize(db, &newtext, &len), 0);
	ck_assert_uint_gt(len, 1024);
	for (step = 1; step < 64 && !saw_new; step++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			fault_at = step;
			authdb_set_fault_hook(fault_hook);
			_exit(authdb_save(db, path) == 0 ? 0 : 1);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		now = slurp(path);
		/* Old or new, never anything else. */
		if (WEXITSTATUS(status) == 77)
			ck_assert_msg(!strcmp(now, oldtext) || !strcmp(now, newtext),
				      "step %d left a broken file", step);
		else {
			ck_assert_int_eq(WEXITSTATUS(status), 0);
			ck_assert_str_eq(now, newtext);
			saw_new = true;
		}
		if (!saw_new && strcmp(now, oldtext)) {
			/* Crashed after the rename: new already; restore old. */
			ck_assert_str_eq(now, newtext);
			write_file(path, oldtext, 0600);
		}
	}
	ck_assert(saw_new);
	ck_assert_int_gt(step, 5);
	free(oldtext);
	free(newtext);
	authdb_free(db);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("authdb");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("file");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_example_queries);
	tcase_add_test(tc, test_scram_lookup);
	tcase_add_test(tc, test_parser_api_lines);
	tcase_add_loop_test(tc, test_malformed, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_oversized_line);
	tcase_add_test(tc, test_too_many_entries);
	tcase_add_test(tc, test_edits_preserve_lines);
	tcase_add_test(tc, test_edits_report_removed);
	tcase_add_test(tc, test_irk_resolve);
	tcase_add_test(tc, test_big_file);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, mktmp, rmtmp);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_load_checks_file);
	tcase_add_test(tf, test_save_and_lock);
	tcase_add_test(tf, test_crash_at_every_step);
	tcase_add_test(tf, test_secret_persists);
	suite_add_tcase(s, tf);
	return s;
}
