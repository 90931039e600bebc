/* SPDX-License-Identifier: MIT */
/* The hash-chained audit log: append, verify, every kind of tampering. */
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

#include "audit.h"
#include "check_main.h"

static char dir[64], path[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/audit-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
}

static void teardown(void)
{
	unlink(path);
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

static unsigned long verify_bad(void)
{
	unsigned long n, bad;
	char why[128];

	ck_assert_int_eq(audit_verify(path, &n, &bad, why, sizeof(why), NULL),
			 -EBADMSG);
	ck_assert_str_ne(why, "");
	return bad;
}

START_TEST(test_append_verify)
{
	struct audit_log *log;
	struct audit_fields f = { .user = "eve\nuser=root x", .src = "10.0.0.1",
				  .uid = 0, .detail = "100%", .time = 1700000000 };
	unsigned long n, bad;
	char head[65], *text;
	size_t len;

	fill(5);
	ck_assert_int_eq(audit_open(path, &log), 0);
	/* A hostile value cannot forge a field or a line. */
	ck_assert_int_eq(audit_append(log, AUDIT_ACL_DENY, &f), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_SESSION_END, NULL), 0);
	audit_close(log);
	ck_assert_int_eq(audit_verify(path, &n, &bad, NULL, 0, head), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_uint_eq(strlen(head), 64);
	text = slurp(&len);
	ck_assert_ptr_nonnull(strstr(text, "6 2023-11-14T22:13:20Z acl-deny "
				      "user=eve%0Auser%3Droot%20x src=10.0.0.1 uid=0 "
				      "detail=100%25 prev="));
	ck_assert_ptr_nonnull(strstr(text, "1 2023-11-14T22:13:20Z login-fail user=bob "
				      "src=192.0.2.7:5684 prev=000000000000"));
}
END_TEST

START_TEST(test_empty_and_missing)
{
	unsigned long n, bad;

	ck_assert_int_eq(audit_verify(path, &n, &bad, NULL, 0, NULL), -ENOENT);
	spit("", 0);
	ck_assert_int_eq(audit_verify(path, &n, &bad, NULL, 0, NULL), 0);
	ck_assert_uint_eq(n, 0);
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
	ck_assert_int_eq(audit_open(other, &log), 0);
	ck_assert_int_eq(audit_append(log, AUDIT_LOGIN_OK, &f), 0);
	audit_close(log);
	fd = open(other, O_RDONLY);
	a = malloc(4096);
	alen = (size_t)read(fd, a, 4096);
	close(fd);
	unlink(other);
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
	ck_assert_int_eq(audit_verify(path, NULL, NULL, NULL, 0, NULL), 0);
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
	ck_assert_int_eq(audit_verify(path, NULL, NULL, NULL, 0, NULL), 0);
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
	ck_assert_int_eq(audit_verify(path, NULL, NULL, NULL, 0, NULL), 0);
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
