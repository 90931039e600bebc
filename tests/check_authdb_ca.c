/* SPDX-License-Identifier: MIT */
/* The CA: init, issue, verify against the CA, revoke, expiry, bundle. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "authdb.h"
#include "ca.h"
#include "check_main.h"
#include "homeid.h"

static char dir[64];
static char *ca_pem;
static size_t ca_len;

static void rm_rf(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static char *slurp(const char *path, size_t *len)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	*len = (size_t)n;
	return strdup(buf);
}

static void setup(void)
{
	struct ca_server_names srv = { .cn = "bgw.home", .dns = { "bgw.home" },
				       .ndns = 1, .ip = { "192.0.2.1", "2001:db8::1" },
				       .nip = 2 };
	char p[128];

	snprintf(dir, sizeof(dir), "/tmp/ca-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(ca_init(dir, "bgw test CA", &srv, 30), 0);
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	ca_pem = slurp(p, &ca_len);
}

static void teardown(void)
{
	free(ca_pem);
	rm_rf();
}

static struct authdb *db_with(const char *user, const struct ca_issued *c)
{
	struct authdb *db = authdb_new();

	ck_assert_int_eq(authdb_user_add(db, user, 0), 0);
	ck_assert_int_eq(authdb_cert_add(db, user, c->serial, c->fpr), 0);
	return db;
}

START_TEST(test_init_files)
{
	static const char *const f[] = { "ca.key", "ca.crt", "server.key",
					 "server.crt" };
	struct ca_server_names srv = { .cn = "x" };
	struct stat st;
	char p[128];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, f[i]);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_uint_eq(st.st_mode & 0777, 0600);
	}
	/* Never overwrites a CA. */
	ck_assert_int_eq(ca_init(dir, "again", &srv, 30), -EEXIST);
}
END_TEST

/* A missing CA file is -ENOENT, a damaged one -EBADMSG (not an I/O error):
 * bgw-authdb says "run ca init" for one and "restore it" for the other. */
START_TEST(test_issue_without_usable_ca)
{
	struct ca_issued c;
	time_t now = time(NULL);
	char p[160], q[160];
	int fd;

	snprintf(p, sizeof(p), "%s/ca.key", dir);
	snprintf(q, sizeof(q), "%s/ca.key.saved", dir);
	ck_assert_int_eq(rename(p, q), 0);
	ck_assert_int_eq(ca_issue_client(dir, "alice", now - 60, now + 86400, &c),
			 -ENOENT);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a key\n", 10), 10);
	close(fd);
	ck_assert_int_eq(ca_issue_client(dir, "alice", now - 60, now + 86400, &c),
			 -EBADMSG);
	ck_assert_int_eq(rename(q, p), 0);
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "-----BEGIN CERTIFICATE-----\n", 28), 28);
	close(fd);
	ck_assert_int_eq(ca_issue_client(dir, "alice", now - 60, now + 86400, &c),
			 -EBADMSG);
	ck_assert_ptr_null(c.key_pem);
}
END_TEST

START_TEST(test_server_cert_chain)
{
	char p[128], *srv;
	size_t len;
	uint8_t fpr[32];
	gnutls_x509_crt_t crt, ca;
	gnutls_datum_t d;
	unsigned status = 99;

	snprintf(p, sizeof(p), "%s/server.crt", dir);
	srv = slurp(p, &len);
	ck_assert_int_eq(bundle_cert_fingerprint(srv, len, fpr), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&ca), 0);
	d.data = (unsigned char *)srv;
	d.size = (unsigned)len;
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	d.data = (unsigned char *)ca_pem;
	d.size = (unsigned)ca_len;
	ck_assert_int_eq(gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_list_verify(&crt, 1, &ca, 1, NULL, 0, 0,
						     &status), 0);
	ck_assert_uint_eq(status, 0);
	ck_assert(gnutls_x509_crt_check_hostname(crt, "bgw.home"));
	ck_assert(gnutls_x509_crt_check_ip(crt, (const unsigned char *)"\xc0\x00\x02\x01",
					   4, 0));
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	free(srv);
}
END_TEST

/*
 * A relay registration key (doc/relay.md, "Registration key"): chains to
 * the CA, is no CA, signs only, has bgw's registration purpose alone and
 * critical, lives the days asked; a client certificate does not have it,
 * and the registration certificate is not a TLS client's.
 */
START_TEST(test_relay_key)
{
	struct ca_issued c, cl;
	gnutls_x509_crt_t crt, ca;
	gnutls_datum_t d;
	char oid[128];
	size_t n = sizeof(oid);
	unsigned status = 99, critical = 0, ca_flag = 0;
	time_t now = time(NULL), na;

	ck_assert_int_eq(ca_issue_relay_key(dir, 0, &c), -EINVAL);
	ck_assert_int_eq(ca_issue_relay_key(dir, CA_DAYS_MAX_RELAY + 1, &c), -EINVAL);
	ck_assert_int_eq(ca_issue_relay_key("/nonexistent", 90, &c), -ENOENT);
	ck_assert_int_eq(ca_issue_relay_key(dir, 90, &c), 0);
	ck_assert_ptr_nonnull(strstr(c.key_pem, "PRIVATE KEY"));
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&ca), 0);
	d.data = (unsigned char *)c.cert_pem;
	d.size = (unsigned)strlen(c.cert_pem);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	d.data = (unsigned char *)ca_pem;
	d.size = (unsigned)ca_len;
	ck_assert_int_eq(gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_list_verify(&crt, 1, &ca, 1, NULL, 0, 0, &status), 0);
	ck_assert_uint_eq(status, 0);
	ck_assert_int_eq(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &n, &critical), 0);
	ck_assert_str_eq(oid, HOMEID_REGKEY_OID);
	ck_assert_uint_eq(critical, 1);
	n = sizeof(oid);
	ck_assert_int_lt(gnutls_x509_crt_get_key_purpose_oid(crt, 1, oid, &n, NULL), 0);
	ck_assert_int_eq(gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca_flag, NULL), 0);
	ck_assert_uint_eq(ca_flag, 0);
	na = gnutls_x509_crt_get_expiration_time(crt);
	ck_assert_int_ge(na, now + 90 * 86400 - 5);
	ck_assert_int_le(na, now + 90 * 86400 + 5);
	ck_assert_int_le(gnutls_x509_crt_get_activation_time(crt), now - 299);
	/* Not a TLS client certificate: its purpose is checked by TLS peers. */
	ck_assert_int_eq(gnutls_x509_crt_check_key_purpose(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0), 0);
	/* And a client certificate is not a registration key's. */
	ck_assert_int_eq(ca_issue_client(dir, "alice", now - 60, now + 86400, &cl), 0);
	gnutls_x509_crt_deinit(crt);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	d.data = (unsigned char *)cl.cert_pem;
	d.size = (unsigned)strlen(cl.cert_pem);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_check_key_purpose(crt, HOMEID_REGKEY_OID, 0), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	ca_issued_wipe(&c);
	ca_issued_wipe(&cl);
	ck_assert_ptr_null(c.key_pem);
}
END_TEST

START_TEST(test_issue_verify_revoke)
{
	struct ca_issued c;
	struct authdb *db;
	char user[AUTHDB_NAME_MAX + 1];
	time_t now = time(NULL);

	ck_assert_int_eq(ca_issue_client(dir, "alice", now - 60, now + 86400, &c), 0);
	ck_assert_ptr_nonnull(strstr(c.key_pem, "BEGIN PRIVATE KEY"));
	ck_assert_uint_eq(strlen(c.serial), 32);
	db = db_with("alice", &c);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, c.cert_pem,
					  strlen(c.cert_pem), db, user), 0);
	ck_assert_str_eq(user, "alice");
	/* Disabled user: refused. */
	ck_assert_int_eq(authdb_user_set_flags(db, "alice", AUTHDB_USER_DISABLED, 0), 0);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, c.cert_pem,
					  strlen(c.cert_pem), db, user), -ENOENT);
	ck_assert_int_eq(authdb_user_set_flags(db, "alice", 0, AUTHDB_USER_DISABLED), 0);
	/* Revoked: refused. */
	ck_assert_int_eq(authdb_revoke(db, c.serial), 0);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, c.cert_pem,
					  strlen(c.cert_pem), db, user), -EKEYREVOKED);
	ck_assert_str_eq(user, "");
	authdb_free(db);
	/* Valid chain but not in the authdb: refused. */
	db = authdb_new();
	ck_assert_int_eq(authdb_user_add(db, "alice", 0), 0);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, c.cert_pem,
					  strlen(c.cert_pem), db, user), -ENOENT);
	authdb_free(db);
	ca_issued_wipe(&c);
}
END_TEST

START_TEST(test_expired_and_foreign)
{
	struct ca_issued c, other;
	struct authdb *db;
	struct ca_server_names srv = { .cn = "evil" };
	char user[AUTHDB_NAME_MAX + 1], dir2[80], p[128], *evil_ca;
	time_t now = time(NULL);
	size_t len;

	/* Issued with a past expiry. */
	ck_assert_int_eq(ca_issue_client(dir, "bob", now - 10 * 86400,
					 now - 86400, &c), 0);
	db = db_with("bob", &c);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, c.cert_pem,
					  strlen(c.cert_pem), db, user), -EKEYEXPIRED);
	/* Not yet valid. */
	ca_issued_wipe(&c);
	ck_assert_int_eq(ca_issue_client(dir, "bob", now + 86400, now + 2 * 86400,
					 &c), 0);
	authdb_free(db);
	db = db_with("bob", &c);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, c.cert_pem,
					  strlen(c.cert_pem), db, user), -EKEYEXPIRED);
	authdb_free(db);
	ca_issued_wipe(&c);
	/* Signed by another CA, even if someone put it in the authdb. */
	snprintf(dir2, sizeof(dir2), "%s/other", dir);
	ck_assert_int_eq(ca_init(dir2, "other CA", &srv, 30), 0);
	ck_assert_int_eq(ca_issue_client(dir2, "bob", now - 60, now + 86400,
					 &other), 0);
	db = db_with("bob", &other);
	ck_assert_int_eq(ca_verify_client(ca_pem, ca_len, other.cert_pem,
					  strlen(other.cert_pem), db, user),
			 -EKEYREJECTED);
	/* And the other CA's own verification works (sanity). */
	snprintf(p, sizeof(p), "%s/ca.crt", dir2);
	evil_ca = slurp(p, &len);
	ck_assert_int_eq(ca_verify_client(evil_ca, len, other.cert_pem,
					  strlen(other.cert_pem), db, user), 0);
	free(evil_ca);
	authdb_free(db);
	ca_issued_wipe(&other);
}
END_TEST

START_TEST(test_bundle_roundtrip)
{
	struct ca_issued c;
	struct bundle b;
	char p[128], *text;
	size_t len;
	struct stat st;
	time_t now = time(NULL);
	int fd;

	ck_assert_int_eq(ca_issue_client(dir, "carol", now - 60, now + 86400, &c), 0);
	snprintf(p, sizeof(p), "%s/carol.bundle", dir);
	ck_assert_int_eq(ca_bundle_write(p, "carol",
					 &(struct ca_bundle_dest){ .server = "gw.example.net:5684" },
					 &c), 0);
	ck_assert_int_eq(ca_bundle_write(p, "carol",
					 &(struct ca_bundle_dest){ .server = "gw.example.net:5684" },
					 &c),
			 -EEXIST);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(bundle_read(p, &b), 0);
	ck_assert_str_eq(b.user, "carol");
	ck_assert_str_eq(b.server, "gw.example.net:5684");
	ck_assert_str_eq(b.cert_pem, c.cert_pem);
	ck_assert_str_eq(b.key_pem, c.key_pem);
	ck_assert_str_eq(b.ca_pem, ca_pem);
	bundle_free(&b);
	/* A bundle whose CA does not match its pin is refused. */
	text = slurp(p, &len);
	{
		char *pin = strstr(text, "ca-sha256 ") + 10;

		pin[0] = pin[0] == 'a' ? 'b' : 'a';
	}
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(bundle_read(p, &b), -EBADMSG);
	free(text);
	ca_issued_wipe(&c);
}
END_TEST

/* Each case breaks a valid bundle in one way; all are refused. */
static const struct {
	const char *from;
	const char *to;
} bundle_breaks[] = {
	{ "bgw-bundle 1\n", "" },
	{ "bgw-bundle 1\n", "bgw-bundle 2\n" },
	{ "user dave\n", "user Dave\n" },
	{ "user dave\n", "" },
	{ "server gw:5684\n", "server gw 5684\n" },
	{ "server gw:5684\n", "" },
	{ "ca-sha256 ", "ca-sha256 0" },
	{ "\n\n-----BEGIN CERTIFICATE", "\n-----BEGIN CERTIFICATE" },
	{ "-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----" },
	{ "-----END PRIVATE KEY-----\n", "" },
	{ "bgw-bundle 1\n", "bgw-bundle 1\nextra line\n" },
	{ "user dave\n", "user da\001ve\n" },
};

START_TEST(test_bundle_malformed)
{
	struct ca_issued c;
	struct bundle b;
	char p[128], *text, *at, *out;
	size_t len, n;
	time_t now = time(NULL);
	int fd;

	ck_assert_int_eq(ca_issue_client(dir, "dave", now - 60, now + 86400, &c), 0);
	snprintf(p, sizeof(p), "%s/dave.bundle", dir);
	ck_assert_int_eq(ca_bundle_write(p, "dave",
					 &(struct ca_bundle_dest){ .server = "gw:5684" },
					 &c), 0);
	ca_issued_wipe(&c);
	text = slurp(p, &len);
	at = strstr(text, bundle_breaks[_i].from);
	ck_assert_ptr_nonnull(at);
	out = malloc(len + 64);
	n = (size_t)(at - text);
	memcpy(out, text, n);
	memcpy(out + n, bundle_breaks[_i].to, strlen(bundle_breaks[_i].to));
	n += strlen(bundle_breaks[_i].to);
	strcpy(out + n, at + strlen(bundle_breaks[_i].from));
	n += strlen(at + strlen(bundle_breaks[_i].from));
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, out, n), (ssize_t)n);
	close(fd);
	ck_assert_int_lt(bundle_read(p, &b), 0);
	free(out);
	free(text);
}
END_TEST

START_TEST(test_bundle_trailing_and_nul)
{
	struct ca_issued c;
	struct bundle b;
	char p[128];
	time_t now = time(NULL);
	int fd;

	ck_assert_int_eq(ca_issue_client(dir, "erin", now - 60, now + 86400, &c), 0);
	snprintf(p, sizeof(p), "%s/erin.bundle", dir);
	ck_assert_int_eq(ca_bundle_write(p, "erin",
					 &(struct ca_bundle_dest){ .server = "gw" },
					 &c), 0);
	ca_issued_wipe(&c);
	ck_assert_int_eq(bundle_read(p, &b), 0);
	bundle_free(&b);
	fd = open(p, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(bundle_read(p, &b), -EBADMSG);
	fd = open(p, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "\0", 1, 10), 1);
	close(fd);
	ck_assert_int_eq(bundle_read(p, &b), -EBADMSG);
}
END_TEST

/* Relays and the home id (doc/relay.md): with or without a server. */
START_TEST(test_bundle_relay)
{
	struct ca_bundle_dest only = { .relay = { "relay.example.net:3478" }, .nrelay = 1 };
	struct ca_bundle_dest both = {
		.server = "gw:5684",
		.relay = { "r1.example.net:3478", "[2001:db8::1]:3478" },
		.nrelay = 2,
	};
	struct ca_bundle_dest none = { .server = NULL };
	struct ca_bundle_dest noport = { .relay = { "relay.example.net" }, .nrelay = 1 };
	struct ca_issued c;
	struct bundle b;
	char p[128], idtext[HOMEID_TEXT_LEN + 1], line[64], *text;
	uint8_t id[HOMEID_LEN];
	size_t len;
	time_t now = time(NULL);

	ck_assert_int_eq(homeid_from_cert_pem(ca_pem, strlen(ca_pem), id), 0);
	homeid_to_text(id, idtext);
	ck_assert_int_eq(ca_issue_client(dir, "frank", now - 60, now + 86400, &c), 0);
	snprintf(p, sizeof(p), "%s/frank.bundle", dir);
	ck_assert_int_eq(ca_bundle_write(p, "frank", &none, &c), -EINVAL);
	ck_assert_int_eq(ca_bundle_write(p, "frank", &noport, &c), -EINVAL);
	ck_assert_int_eq(ca_bundle_write(p, "frank", &only, &c), 0);
	text = slurp(p, &len);
	snprintf(line, sizeof(line), "\nhome-id %s\n", idtext);
	ck_assert_ptr_nonnull(strstr(text, line));
	ck_assert_ptr_null(strstr(text, "\nserver "));
	free(text);
	ck_assert_int_eq(bundle_read(p, &b), 0);
	ck_assert_str_eq(b.server, "");
	ck_assert_uint_eq(b.nrelay, 1);
	ck_assert_str_eq(b.relay[0], "relay.example.net:3478");
	ck_assert_mem_eq(b.home_id, id, HOMEID_LEN);
	bundle_free(&b);
	unlink(p);
	ck_assert_int_eq(ca_bundle_write(p, "frank", &both, &c), 0);
	ck_assert_int_eq(bundle_read(p, &b), 0);
	ck_assert_str_eq(b.server, "gw:5684");
	ck_assert_uint_eq(b.nrelay, 2);
	ck_assert_str_eq(b.relay[0], "r1.example.net:3478");
	ck_assert_str_eq(b.relay[1], "[2001:db8::1]:3478");
	ck_assert_mem_eq(b.home_id, id, HOMEID_LEN);
	bundle_free(&b);
	/* Without relays there is no home-id line: older readers still work. */
	unlink(p);
	ck_assert_int_eq(ca_bundle_write(p, "frank", &(struct ca_bundle_dest){ .server = "gw" },
					 &c), 0);
	text = slurp(p, &len);
	ck_assert_ptr_null(strstr(text, "home-id"));
	free(text);
	ca_issued_wipe(&c);
}
END_TEST

/*
 * Each case breaks a valid bundle with a server and two relays in one
 * way; all are refused. "ID" in from/to stands for the real home id.
 */
static const struct {
	const char *from;
	const char *to;
} relay_breaks[] = {
	{ "relay r1:3478\n", "relay r1\n" },			/* no port */
	{ "relay r1:3478\n", "relay r1:0\n" },
	{ "relay r1:3478\n", "relay r1:65536\n" },
	{ "relay r1:3478\n", "relay r1:\n" },
	{ "relay r1:3478\n", "relay :3478\n" },
	{ "relay r1:3478\n", "relay 2001:db8::1:3478\n" },	/* unbracketed IPv6 */
	{ "relay r1:3478\n", "relay []:3478\n" },
	{ "home-id ID\n", "" },					/* relays, no id */
	{ "home-id ID\n", "home-id ID\nhome-id ID\n" },
	{ "home-id ID\n", "home-id aaaaaaaaaaaaaaaaaaaaaaaaaa\n" },	/* another key's */
	{ "home-id ID\n", "home-id ID\nrelay r3:1\n" },	/* relay after the id */
	{ "server gw:5684\nrelay r1:3478\n", "relay r1:3478\nserver gw:5684\n" },
	{ "relay r1:3478\n", "relay r1:3478\nrelay a:1\nrelay b:1\nrelay c:1\n" },
	{ "server gw:5684\nrelay r1:3478\nrelay r2:3478\n", "server gw:5684\n" },
};

/* The id with the last character's unused bits set: a second spelling. */
static void id_respell(char *t)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyz234567";
	const char *at = strchr(a, t[HOMEID_TEXT_LEN - 1]);

	t[HOMEID_TEXT_LEN - 1] = a[(at - a) | 1];
}

START_TEST(test_bundle_relay_malformed)
{
	struct ca_bundle_dest d = {
		.server = "gw:5684", .relay = { "r1:3478", "r2:3478" }, .nrelay = 2,
	};
	struct ca_issued c;
	struct bundle b;
	char p[128], idtext[HOMEID_TEXT_LEN + 1], from[256], to[256], *text, *at, *out;
	uint8_t id[HOMEID_LEN];
	size_t len, n;
	time_t now = time(NULL);
	int fd;

	ck_assert_int_eq(homeid_from_cert_pem(ca_pem, strlen(ca_pem), id), 0);
	homeid_to_text(id, idtext);
	ck_assert_int_eq(ca_issue_client(dir, "gina", now - 60, now + 86400, &c), 0);
	snprintf(p, sizeof(p), "%s/gina.bundle", dir);
	ck_assert_int_eq(ca_bundle_write(p, "gina", &d, &c), 0);
	ca_issued_wipe(&c);
	ck_assert_int_eq(bundle_read(p, &b), 0);
	bundle_free(&b);
	text = slurp(p, &len);
	if (_i == (int)(sizeof(relay_breaks) / sizeof(relay_breaks[0]))) {
		/* One more: the same id spelled with non-zero unused bits. */
		snprintf(from, sizeof(from), "home-id %s\n", idtext);
		id_respell(idtext);
		snprintf(to, sizeof(to), "home-id %s\n", idtext);
	} else {
		snprintf(from, sizeof(from), "%s", relay_breaks[_i].from);
		snprintf(to, sizeof(to), "%s", relay_breaks[_i].to);
		for (at = strstr(from, "ID"); at; at = strstr(from, "ID")) {
			memmove(at + HOMEID_TEXT_LEN, at + 2, strlen(at + 2) + 1);
			memcpy(at, idtext, HOMEID_TEXT_LEN);
		}
		for (at = strstr(to, "ID"); at; at = strstr(to, "ID")) {
			memmove(at + HOMEID_TEXT_LEN, at + 2, strlen(at + 2) + 1);
			memcpy(at, idtext, HOMEID_TEXT_LEN);
		}
	}
	at = strstr(text, from);
	ck_assert_ptr_nonnull(at);
	out = malloc(len + 256);
	n = (size_t)(at - text);
	memcpy(out, text, n);
	memcpy(out + n, to, strlen(to));
	n += strlen(to);
	strcpy(out + n, at + strlen(from));
	n += strlen(at + strlen(from));
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, out, n), (ssize_t)n);
	close(fd);
	ck_assert_int_eq(bundle_read(p, &b), -EBADMSG);
	free(out);
	free(text);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("ca");
	TCase *tc = tcase_create("ca");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_init_files);
	tcase_add_test(tc, test_issue_without_usable_ca);
	tcase_add_test(tc, test_server_cert_chain);
	tcase_add_test(tc, test_relay_key);
	tcase_add_test(tc, test_issue_verify_revoke);
	tcase_add_test(tc, test_expired_and_foreign);
	tcase_add_test(tc, test_bundle_roundtrip);
	tcase_add_loop_test(tc, test_bundle_malformed, 0,
			    sizeof(bundle_breaks) / sizeof(bundle_breaks[0]));
	tcase_add_test(tc, test_bundle_trailing_and_nul);
	tcase_add_test(tc, test_bundle_relay);
	tcase_add_loop_test(tc, test_bundle_relay_malformed, 0,
			    sizeof(relay_breaks) / sizeof(relay_breaks[0]) + 1);
	suite_add_tcase(s, tc);
	return s;
}
