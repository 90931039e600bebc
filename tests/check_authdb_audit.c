/* SPDX-License-Identifier: MIT */
/* The MAC-chained audit log: append, verify, every kind of tampering. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "audit.h"
#include "check_main.h"

static char dir[64], path[96], keyp[112], anchorp[112];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/audit-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	ck_assert_int_eq(audit_side_paths(path, keyp, sizeof(keyp), anchorp,
					  sizeof(anchorp)), 0);
}

static void teardown(void)
{
	unlink(path);
	unlink(keyp);
	unlink(anchorp);
	rmdir(dir);
}

static void fill(int n)
{
	struct audit_log *log;
	struct audit_fields f = { .uid = -1, .time = 1700000000 };
	int i;

	ck_assert_int_eq(audit_open(path, &log), 0);
	for (i = 0; i < n; i++) {
		f.user = i % 2 ? "alice" : "bob";
		f.src = "192.0.2.7:5684";
		ck_assert_int_eq(audit_append(log, i % 3 ? AUDIT_LOGIN_OK :
					      AUDIT_LOGIN_FAIL, &f), 0);
	}
	audit_close(log);
}

static char *slurp(size_t *len)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	ck_assert_int_ge(n, 0);
	close(fd);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void spit(const char *s, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);

	ck_assert_int_eq(write(fd, s, len), (ssize_t)len);
	close(fd);
}

static struct audit_report rep;

static unsigned long verify_bad(void)
{
	ck_assert_int_eq(audit_verify(path, NULL, &rep), -EBADMSG);
	ck_assert_str_ne(rep.why, "");
	return rep.bad_line;
}

static void verify_ok(unsigned long n)
{
	ck_assert_msg(audit_verify(path, NULL, &rep) == 0, "verify: %s:%lu: %s",
		      path, rep.bad_line, rep.why);
	ck_assert_uint_eq(rep.nrecords, n);
}

/* Line n (1-based) of text, and its length without the newline. */
static char *line_at(char *t, int n, size_t *len)
{
	char *p = t, *nl;

	while (--n > 0)
		p = strchr(p, '\n') + 1;
	nl = strchr(p, '\n');
	*len = (size_t)(nl - p);
	return p;
}

static void sha_hex(const char *p, size_t n, char out[65])
{
	unsigned char d[32];
	int i;

	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, d), 0);
	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/*
 * What a rewriter without the key can do: recompute the whole chain the
 * old way (SHA-256, " hash="), starting at line `from`. Returns the
 * new text's length (in t).
 */
static size_t rechain_unkeyed(char *t, size_t len, int from)
{
	static char out[1 << 16];
	char prev[65] = "", *p = t;
	size_t o = 0;
	int n = 0;

	while (p < t + len) {
		char *nl = strchr(p, '\n');
		size_t l = (size_t)(nl - p), body = l - 2 * (64 + 6);

		n++;
		if (n < from) {
			memcpy(prev, nl - 64, 64);
			prev[64] = 0;
			memcpy(out + o, p, l + 1);
			o += l + 1;
		} else {
			memcpy(out + o, p, body);
			o += body;
			if (!prev[0])
				memset(prev, '0', 64);
			o += (size_t)sprintf(out + o, " prev=%s", prev);
			sha_hex(out + o - (body + 70), body + 70, prev);
			prev[64] = 0;
			o += (size_t)sprintf(out + o, " hash=%s\n", prev);
		}
		p = nl + 1;
	}
	memcpy(t, out, o);
	return o;
}

START_TEST(test_append_verify)
{
	struct audit_log *log;
	struct audit_fields f = { .user = "eve\nuser=root x", .src = "10.0.0.1",
				  .uid = 0, .detail = "100%", .time = 1700000000 };
	char head[65], *text;
	unsigned long seq;
	struct stat st;
	size_t len;

	fill(5);
	ck_assert_int_eq(audit_open(path, &log), 0);
	/* A hostile value cannot forge a field or a line. */
	ck_assert_int_eq(audit_append(log, AUDIT_ACL_DENY, &f), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_SESSION_END, NULL), 0);
	audit_head(log, &seq, head);
	audit_close(log);
	verify_ok(7);
	ck_assert_uint_eq(seq, 7);
	ck_assert_str_eq(rep.head, head);
	ck_assert_uint_eq(rep.anchor_seq, 7);
	ck_assert_uint_eq(rep.legacy, 0);
	text = slurp(&len);
	ck_assert_ptr_nonnull(strstr(text, "6 2023-11-14T22:13:20Z acl-deny "
				      "user=eve%0Auser%3Droot%20x src=10.0.0.1 uid=0 "
				      "detail=100%25 prev="));
	ck_assert_ptr_nonnull(strstr(text, "1 2023-11-14T22:13:20Z login-fail user=bob "
				      "src=192.0.2.7:5684 prev=000000000000"));
	ck_assert_ptr_nonnull(strstr(text, " hmac="));
	ck_assert_ptr_null(strstr(text, " hash="));
	/* The key and the anchor are the writer's alone. */
	ck_assert_int_eq(stat(keyp, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, AUDIT_KEY_LEN);
	ck_assert_int_eq(stat(anchorp, &st), 0);
	ck_assert_uint_eq(st.st_mode & 077, 0);
}
END_TEST

START_TEST(test_empty_and_missing)
{
	ck_assert_int_eq(audit_verify(path, NULL, &rep), -ENOENT);
	spit("", 0);
	verify_ok(0);
}
END_TEST

START_TEST(test_side_paths)
{
	char k[128], a[128];

	ck_assert_int_eq(audit_side_paths(AUDIT_DEFAULT_PATH, k, sizeof(k), a,
					  sizeof(a)), 0);
	ck_assert_str_eq(k, "/var/lib/bgw/audit.key");
	ck_assert_str_eq(a, "/var/lib/bgw/audit.head");
	ck_assert_int_eq(audit_side_paths("/srv/a.log", k, sizeof(k), a, sizeof(a)), 0);
	ck_assert_str_eq(k, "/srv/a.log.key");
	ck_assert_str_eq(a, "/srv/a.log.head");
}
END_TEST

/* Deleting the last records leaves a valid chain: the anchor sees it. */
START_TEST(test_tamper_tail_deleted)
{
	size_t len, l;
	char *t, *l5;

	fill(6);
	t = slurp(&len);
	l5 = line_at(t, 5, &l);
	spit(t, (size_t)(l5 - t));		/* records 5 and 6 gone */
	ck_assert_uint_eq(verify_bad(), 5);
	ck_assert_ptr_nonnull(strstr(rep.why, "records 5 to 6 were removed"));
	ck_assert_uint_eq(rep.nrecords, 4);
}
END_TEST

START_TEST(test_tamper_truncated_to_nothing)
{
	fill(3);
	spit("", 0);
	ck_assert_uint_eq(verify_bad(), 1);
	ck_assert_ptr_nonnull(strstr(rep.why, "truncated"));
}
END_TEST

/* The evidence outlives the anchor: the next writer records the gap. */
START_TEST(test_tamper_then_append_keeps_evidence)
{
	struct audit_log *log;
	size_t len, l;
	char *t, *l3;

	fill(4);
	t = slurp(&len);
	l3 = line_at(t, 3, &l);
	spit(t, (size_t)(l3 - t));
	ck_assert_int_eq(audit_open(path, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, NULL), 0);
	audit_close(log);
	ck_assert_uint_eq(verify_bad(), 3);
	t = slurp(&len);
	ck_assert_ptr_nonnull(strstr(t, "\n3 "));
	ck_assert_ptr_nonnull(strstr(t, " audit-anchor-mismatch detail=log%20ended%20at"
				     "%20record%202,%20its%20anchor%20counted%204"));
}
END_TEST

/* Rewriting every record after an edit, without the key. */
START_TEST(test_tamper_edit_and_rechain)
{
	size_t len;
	char *t, *p;

	fill(6);
	t = slurp(&len);
	p = strstr(t, "user=alice");		/* record 2 */
	memcpy(p, "user=mallo", 10);
	len = rechain_unkeyed(t, len, 2);
	spit(t, len);
	ck_assert_uint_eq(verify_bad(), 2);
	ck_assert_ptr_nonnull(strstr(rep.why, "unkeyed record where the log is keyed"));
	/* ... and the anchor too: the whole log unkeyed, anchor deleted. */
	fill(0);
	unlink(anchorp);
	t = slurp(&len);
	len = rechain_unkeyed(t, len, 1);
	spit(t, len);
	/* The key exists, so an anchor must: its absence is reported. */
	ck_assert_uint_eq(verify_bad(), 0);
	ck_assert_ptr_nonnull(strstr(rep.why, "is missing"));
}
END_TEST

/* An unkeyed log from before the key stays verifiable; new records chain on. */
START_TEST(test_legacy_log_migrates)
{
	struct audit_log *log;
	size_t len;
	char *t;

	fill(3);
	unlink(anchorp);
	t = slurp(&len);
	len = rechain_unkeyed(t, len, 1);
	spit(t, len);
	unlink(keyp);
	verify_ok(3);
	ck_assert_uint_eq(rep.legacy, 3);
	ck_assert_uint_eq(rep.anchor_seq, 0);
	ck_assert_int_eq(audit_open(path, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, NULL), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, NULL), 0);
	audit_close(log);
	verify_ok(5);
	ck_assert_uint_eq(rep.legacy, 3);
	ck_assert_uint_eq(rep.anchor_seq, 5);
	/* Record 4, keyed, rewritten unkeyed: caught. */
	t = slurp(&len);
	len = rechain_unkeyed(t, len, 4);
	spit(t, len);
	ck_assert_uint_eq(verify_bad(), 4);
}
END_TEST

/* Without the key nothing keyed can be checked; a forged anchor is caught. */
START_TEST(test_key_and_anchor_missing_or_forged)
{
	char buf[512];
	int fd;
	ssize_t n;

	fill(2);
	ck_assert_int_eq(rename(keyp, "/tmp/audit-test-key-away"), 0);
	ck_assert_uint_eq(verify_bad(), 0);	/* the anchor cannot be checked */
	ck_assert_ptr_nonnull(strstr(rep.why, "key"));
	ck_assert_int_eq(rename("/tmp/audit-test-key-away", keyp), 0);
	fd = open(anchorp, O_RDWR);
	n = read(fd, buf, sizeof(buf));
	ck_assert_int_gt(n, 40);
	buf[19] = buf[19] == '2' ? '9' : '2';	/* the count */
	ck_assert_int_eq(pwrite(fd, buf, (size_t)n, 0), n);
	close(fd);
	ck_assert_uint_eq(verify_bad(), 0);
	ck_assert_ptr_nonnull(strstr(rep.why, "HMAC does not match"));
	unlink(anchorp);
	ck_assert_uint_eq(verify_bad(), 0);
	ck_assert_ptr_nonnull(strstr(rep.why, "missing"));
}
END_TEST

/* A head from the journal catches what the anchor alone cannot. */
START_TEST(test_expected_head)
{
	struct audit_log *log;
	struct audit_expect e;
	size_t len, l;
	char *t, *l3;

	fill(4);
	ck_assert_int_eq(audit_open(path, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, NULL), 0);
	audit_head(log, &e.seq, e.head);
	audit_close(log);
	ck_assert_int_eq(audit_verify(path, &e, &rep), 0);
	/* A rewriter with the key truncates and re-anchors: the journal's
	 * head still names record 5. */
	t = slurp(&len);
	l3 = line_at(t, 3, &l);
	spit(t, (size_t)(l3 - t));
	unlink(anchorp);
	ck_assert_int_eq(audit_verify(path, &e, &rep), -EBADMSG);
	ck_assert_uint_eq(rep.bad_line, 3);
	ck_assert_ptr_nonnull(strstr(rep.why, "truncated"));
	ck_assert_int_eq(audit_open(path, &log), 0);
	audit_close(log);
	e.head[0] = e.head[0] == 'a' ? 'b' : 'a';
	fill(3);		/* records 3..5 again, different ones */
	ck_assert_int_eq(audit_verify(path, &e, &rep), -EBADMSG);
	ck_assert_uint_eq(rep.bad_line, 3);	/* the mismatch record */
}
END_TEST

START_TEST(test_tamper_edit)
{
	size_t len;
	char *t, *p;

	fill(6);
	t = slurp(&len);
	p = strstr(t, "user=alice");		/* record 2, line 2 */
	memcpy(p, "user=mallo", 10);
	spit(t, len);
	ck_assert_uint_eq(verify_bad(), 2);
}
END_TEST

START_TEST(test_tamper_delete)
{
	size_t len;
	char *t, *l3, *l4;

	fill(6);
	t = slurp(&len);
	l3 = strchr(strchr(t, '\n') + 1, '\n') + 1;
	l4 = strchr(l3, '\n') + 1;
	memmove(l3, l4, len - (size_t)(l4 - t));
	spit(t, len - (size_t)(l4 - l3));
	ck_assert_uint_eq(verify_bad(), 3);
}
END_TEST

START_TEST(test_tamper_rehash_one)
{
	/* Rewriting a record with a correct inner hash still breaks the
	 * chain at the next record. */
	struct audit_log *log;
	struct audit_fields f = { .user = "x", .uid = -1, .time = 1 };
	char other[96], *t, *a, *b;
	size_t len, alen;
	int fd;

	fill(4);
	/* A record with the same seq 1 from another, fresh log. */
	snprintf(other, sizeof(other), "%s/other.log", dir);
	{
		/* Same key: a record that is valid on its own. */
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s.key'", keyp, other);
		ck_assert_int_eq(system(cmd), 0);
	}
	ck_assert_int_eq(audit_open(other, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, &f), 0);
	audit_close(log);
	fd = open(other, O_RDONLY);
	a = malloc(4096);
	alen = (size_t)read(fd, a, 4096);
	close(fd);
	unlink(other);
	{
		char k[112];

		snprintf(k, sizeof(k), "%s.key", other);
		unlink(k);
		snprintf(k, sizeof(k), "%s.head", other);
		unlink(k);
	}
	t = slurp(&len);
	b = strchr(t, '\n') + 1;
	{
		char *n = malloc(len + alen);

		memcpy(n, a, alen);
		memcpy(n + alen, b, len - (size_t)(b - t));
		spit(n, alen + len - (size_t)(b - t));
		free(n);
	}
	free(a);
	ck_assert_uint_eq(verify_bad(), 2);
}
END_TEST

START_TEST(test_torn_tail)
{
	struct audit_log *log;
	size_t len;
	char *t;

	fill(3);
	t = slurp(&len);
	spit(t, len - 10);		/* a crash mid-write */
	ck_assert_uint_eq(verify_bad(), 3);
	/* Appending still works and does not glue onto the torn line. */
	ck_assert_int_eq(audit_open(path, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, NULL), 0);
	audit_close(log);
	ck_assert_uint_eq(verify_bad(), 3);
	t = slurp(&len);
	ck_assert_ptr_nonnull(strstr(t, "\n4 "));
}
END_TEST

START_TEST(test_value_caps)
{
	struct audit_log *log;
	struct audit_fields f = { .uid = -1 };
	char big[AUDIT_VALUE_MAX + 2];

	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	f.detail = big;
	ck_assert_int_eq(audit_open(path, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_AUTHDB_CHANGE, &f), -EINVAL);
	big[AUDIT_VALUE_MAX] = '\0';
	ck_assert_int_eq(audit_append(log, AUDIT_AUTHDB_CHANGE, &f), 0);
	ck_assert_int_eq(audit_append(log, (enum audit_event)99, &f), -EINVAL);
	audit_close(log);
	audit_close(NULL);
	ck_assert_int_eq(audit_verify(path, NULL, &rep), 0);
}
END_TEST

START_TEST(test_full_disk)
{
	/* A write that fails part-way (here: the file size limit, as a full
	 * disk would) is an error for the caller, rolled back, not a crash. */
	struct audit_log *log;
	struct rlimit rl;
	struct stat st;
	pid_t pid;
	int status;

	fill(3);
	ck_assert_int_eq(stat(path, &st), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int ret;

		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = (rlim_t)st.st_size + 40;
		if (setrlimit(RLIMIT_FSIZE, &rl) || audit_open(path, &log))
			_exit(2);
		ret = audit_append(log, AUDIT_LOGIN_OK, NULL);
		audit_close(log);
		_exit(ret == -EFBIG || ret == -ENOSPC ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(audit_verify(path, NULL, &rep), 0);
	{
		struct stat st2;

		ck_assert_int_eq(stat(path, &st2), 0);
		ck_assert_int_eq(st2.st_size, st.st_size);
	}
}
END_TEST

/*
 * Records that could not be written leave a trace: the next append that
 * succeeds is preceded by an audit-lost record naming how many, and the
 * chain stays intact.
 */
START_TEST(test_lost_records_leave_a_gap_record)
{
	struct rlimit rl;
	struct stat st;
	pid_t pid;
	int status;

	fill(2);
	ck_assert_int_eq(stat(path, &st), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct audit_log *log;
		struct audit_fields f = { .uid = -1, .user = "bob" };
		int i, bad = 0;

		signal(SIGXFSZ, SIG_IGN);
		if (getrlimit(RLIMIT_FSIZE, &rl))
			_exit(2);
		rl.rlim_cur = (rlim_t)st.st_size + 40;
		if (setrlimit(RLIMIT_FSIZE, &rl) || audit_open(path, &log))
			_exit(2);
		for (i = 0; i < 3; i++)
			bad += audit_append(log, AUDIT_LOGIN_FAIL, &f) < 0;
		rl.rlim_cur = rl.rlim_max;
		if (bad != 3 || setrlimit(RLIMIT_FSIZE, &rl))
			_exit(3);
		if (audit_append(log, AUDIT_LOGIN_OK, &f))
			_exit(4);
		/* The gap was reported once: the next record comes alone. */
		if (audit_append(log, AUDIT_SESSION_END, &f))
			_exit(5);
		audit_close(log);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(audit_verify(path, NULL, &rep), 0);
	{
		char buf[4096];
		FILE *fp = fopen(path, "r");
		unsigned n = 0;

		ck_assert_ptr_nonnull(fp);
		while (fgets(buf, sizeof(buf), fp)) {
			n++;
			if (n == 3) {
				ck_assert_ptr_nonnull(strstr(buf, " audit-lost "));
				ck_assert_ptr_nonnull(strstr(buf, "detail=3%20records%20not%20written"));
			}
			if (n == 4)
				ck_assert_ptr_nonnull(strstr(buf, " login-ok "));
			if (n == 5)
				ck_assert_ptr_nonnull(strstr(buf, " session-end "));
		}
		fclose(fp);
		ck_assert_uint_eq(n, 5);
	}
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_append_verify);
	tcase_add_test(tc, test_empty_and_missing);
	tcase_add_test(tc, test_side_paths);
	tcase_add_test(tc, test_tamper_tail_deleted);
	tcase_add_test(tc, test_tamper_truncated_to_nothing);
	tcase_add_test(tc, test_tamper_then_append_keeps_evidence);
	tcase_add_test(tc, test_tamper_edit_and_rechain);
	tcase_add_test(tc, test_legacy_log_migrates);
	tcase_add_test(tc, test_key_and_anchor_missing_or_forged);
	tcase_add_test(tc, test_expected_head);
	tcase_add_test(tc, test_tamper_edit);
	tcase_add_test(tc, test_tamper_delete);
	tcase_add_test(tc, test_tamper_rehash_one);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_value_caps);
	tcase_add_test(tc, test_full_disk);
	tcase_add_test(tc, test_lost_records_leave_a_gap_record);
	suite_add_tcase(s, tc);
	return s;
}
