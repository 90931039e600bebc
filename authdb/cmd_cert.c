/* SPDX-License-Identifier: MIT */
/* bgw-authdb ca init, cert issue|revoke|list. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "cli.h"
#include "file.h"
#include "hex.h"
#include "homeid.h"

static int parse_days(const char *s, unsigned *days)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v == 0 || v > 36500)
		return -EINVAL;
	*days = (unsigned)v;
	return 0;
}

/* "DIR/name" into buf; false if it does not fit. */
static bool ca_path(const struct cli *c, const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", c->dir, name);

	return n > 0 && (size_t)n < cap;
}

/* ---- ca --------------------------------------------------------------- */

static int ca_init_cmd(struct cli *c, int argc, char **argv);
static int ca_id_cmd(struct cli *c, int argc, char **argv);
static int ca_relay_key_cmd(struct cli *c, int argc, char **argv);

static const struct cli_cmd ca_cmds[] = {
	{ "init", ca_init_cmd,
	  "[--name ca-name] [--dns name] ... [--ip address] ... [--days n]",
	  "create the CA and the server certificate in the directory (--dir)" },
	{ "id", ca_id_cmd, "",
	  "print the home id of the CA in the directory (--dir): the name "
	  "relays know the gateway by" },
	{ "relay-key", ca_relay_key_cmd, "[--days n] [--out dir]",
	  "make a relay registration key and its certificate (relay.key, "
	  "relay.crt), so the CA key can stay off the gateway" },
};

static bool is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, buf) == 1;
}

static int ca_init_cmd(struct cli *c, int argc, char **argv)
{
	struct ca_server_names srv = { NULL };
	const char *name = "bgw CA";
	unsigned days = CA_DAYS_DEFAULT_CA;
	char detail[PATH_MAX + 16];
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return cli_usage(c, "ca", &ca_cmds[0]);
		if (!strcmp(argv[i], "--dir")) {
			/* Before it was an option of every command. */
			c->dir = argv[++i];
		} else if (!strcmp(argv[i], "--name")) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--dns")) {
			if (srv.ndns >= CA_NAMES_MAX)
				return cli_fail(c, 0, "--dns: at most %d names",
						CA_NAMES_MAX);
			srv.dns[srv.ndns++] = argv[++i];
		} else if (!strcmp(argv[i], "--ip")) {
			if (srv.nip >= CA_NAMES_MAX)
				return cli_fail(c, 0, "--ip: at most %d addresses",
						CA_NAMES_MAX);
			if (!is_ip(argv[i + 1]))
				return cli_fail(c, 0, "--ip: '%s' is not an IPv4 or "
						"IPv6 address (names go with --dns)",
						argv[i + 1]);
			srv.ip[srv.nip++] = argv[++i];
		} else if (!strcmp(argv[i], "--days")) {
			if (parse_days(argv[++i], &days))
				return cli_fail(c, 0, "--days: 1 to 36500");
		} else {
			return cli_usage(c, "ca", &ca_cmds[0]);
		}
	}
	srv.cn = srv.ndns ? srv.dns[0] : "bgw";
	ret = cli_audit_ready(c);
	if (ret)
		return ret;
	ret = ca_init(c->dir, name, &srv, days);
	if (ret == -EEXIST) {
		fprintf(stderr, "%s: %s already holds a CA or server key (ca.key, "
			"ca.crt, server.key, server.crt); nothing was overwritten. "
			"To start over, move them away: the certificates the old CA "
			"issued stop working\n", c->prog, c->dir);
		return CLI_EXISTS;
	}
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: cannot create %s: its parent directory does not "
			"exist (create it, or choose another --dir)\n", c->prog, c->dir);
		return CLI_NOTFOUND;
	}
	if (ret)
		return cli_fail(c, ret, "cannot create the CA in %s", c->dir);
	printf("CA and server certificate created in %s (ca.key, ca.crt, server.key, "
	       "server.crt)\n", c->dir);
	snprintf(detail, sizeof(detail), "ca init %s", c->dir);
	return cli_audit_change(c, detail);
}

/* The id is public: derived from ca.crt, which every bundle carries. */
static int ca_id_cmd(struct cli *c, int argc, char **argv)
{
	char path[PATH_MAX], *pem = NULL, text[HOMEID_TEXT_LEN + 1];
	uint8_t id[HOMEID_LEN];
	size_t len = 0;
	FILE *f;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--dir"))
			c->dir = argv[++i];
		else
			return cli_usage(c, "ca", &ca_cmds[1]);
	}
	if (!ca_path(c, "ca.crt", path, sizeof(path)))
		return cli_fail(c, -ENAMETOOLONG, "%s: --dir too long", c->dir);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		if (ret == -ENOENT) {
			fprintf(stderr, "%s: %s: no such file; run bgw-authdb ca "
				"init first, or give --dir of the directory it "
				"wrote to\n", c->prog, path);
			return CLI_NOTFOUND;
		}
		return cli_fail(c, ret, "%s", path);
	}
	pem = calloc(1, CA_PEM_MAX + 1);
	if (pem)
		len = fread(pem, 1, CA_PEM_MAX + 1, f);
	fclose(f);
	ret = !pem ? -ENOMEM : len > CA_PEM_MAX ? -EFBIG :
	      homeid_from_cert_pem(pem, len, id);
	free(pem);
	if (ret) {
		fprintf(stderr, "%s: %s: not a readable CA certificate (%s); restore "
			"the file bgw-authdb ca init wrote from a backup\n", c->prog,
			path, strerror(-ret));
		return CLI_ERROR;
	}
	homeid_to_text(id, text);
	printf("%s\n", text);
	return 0;
}

/*
 * A registration key for bgw-muxd's relay-key/relay-cert (doc/relay.md,
 * "Registration key"): made where the CA key is, copied to the gateway.
 * Replaces relay.key and relay.crt (renewal is the usual case); each is
 * published atomically, the key first, so a crash leaves the old pair or
 * a new key with the old certificate, which bgw-muxd refuses at start.
 */
static int ca_relay_key_cmd(struct cli *c, int argc, char **argv)
{
	struct ca_issued x;
	const char *out = NULL;
	char kpath[PATH_MAX], cpath[PATH_MAX], detail[PATH_MAX + 32], when[32];
	unsigned days = CA_DAYS_DEFAULT_RELAY;
	time_t na;
	struct tm tm;
	int i, n, ret;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return cli_usage(c, "ca", &ca_cmds[2]);
		if (!strcmp(argv[i], "--dir")) {
			c->dir = argv[++i];
		} else if (!strcmp(argv[i], "--out")) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--days")) {
			if (parse_days(argv[++i], &days) || days > CA_DAYS_MAX_RELAY)
				return cli_fail(c, 0, "--days: 1 to %d (a registration "
						"key is renewed, not kept)",
						CA_DAYS_MAX_RELAY);
		} else {
			return cli_usage(c, "ca", &ca_cmds[2]);
		}
	}
	if (!out)
		out = c->dir;
	n = snprintf(kpath, sizeof(kpath), "%s/relay.key", out);
	if (n < 0 || (size_t)n >= sizeof(kpath) ||
	    snprintf(cpath, sizeof(cpath), "%s/relay.crt", out) >= (int)sizeof(cpath))
		return cli_fail(c, -ENAMETOOLONG, "%s: --out too long", out);
	ret = cli_audit_ready(c);
	if (ret)
		return ret;
	ret = ca_issue_relay_key(c->dir, days, &x);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: %s has no ca.key or ca.crt: run this where the CA "
			"key is (give its --dir), or bgw-authdb ca init first\n",
			c->prog, c->dir);
		return CLI_NOTFOUND;
	}
	if (ret == -EBADMSG) {
		fprintf(stderr, "%s: ca.key or ca.crt in %s does not parse; restore the "
			"files bgw-authdb ca init wrote from a backup\n", c->prog, c->dir);
		return CLI_ERROR;
	}
	if (ret)
		return cli_fail(c, ret, "cannot issue a registration key with the CA in %s",
				c->dir);
	ret = file_replace(kpath, x.key_pem, strlen(x.key_pem));
	if (ret) {
		ca_issued_wipe(&x);
		return cli_fail(c, ret, "cannot write %s", kpath);
	}
	ret = file_replace(cpath, x.cert_pem, strlen(x.cert_pem));
	if (ret) {
		ca_issued_wipe(&x);
		return cli_fail(c, ret, "cannot write %s (%s is new: write both again)",
				cpath, kpath);
	}
	na = time(NULL) + (time_t)days * 86400;
	if (gmtime_r(&na, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	else
		snprintf(when, sizeof(when), "in %u days", days);
	printf("registration key %s and certificate %s (serial %s), valid until %s.\n"
	       "Copy both to the gateway (mode 0600) and give them in bgw-muxd.conf:\n"
	       "  relay-key /etc/bgw/relay.key\n  relay-cert /etc/bgw/relay.crt\n"
	       "then restart bgw-muxd; renew before %s the same way.\n",
	       kpath, cpath, x.serial, when, when);
	snprintf(detail, sizeof(detail), "ca relay-key %.*s", PATH_MAX, cpath);
	ca_issued_wipe(&x);
	return cli_audit_change(c, detail);
}

int cmd_ca(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "ca", ca_cmds, sizeof(ca_cmds) / sizeof(ca_cmds[0]),
			    argc - 1, argv + 1);
}

/* ---- cert ------------------------------------------------------------- */

static int cert_issue(struct cli *c, int argc, char **argv);
static int cert_revoke(struct cli *c, int argc, char **argv);
static int cert_list(struct cli *c, int argc, char **argv);

static const struct cli_cmd cert_cmds[] = {
	{ "issue", cert_issue,
	  "user [--server host[:port]] [--relay host:port] ... [--days n] "
	  "[--out file]",
	  "issue a client certificate with the CA in the directory (--dir) "
	  "and write its enrolment bundle (a server, relays, or both)" },
	{ "revoke", cert_revoke, "serial | --user user",
	  "revoke a certificate (or all of a user's)" },
	{ "list", cert_list, "", "list issued certificates" },
};

struct issue_arg {
	const char *user;
	struct ca_bundle_dest dest;
	const char *out;
	unsigned days;
	bool wrote;
	char serial[AUTHDB_SERIAL_MAX + 1];
};

/* Why the CA could not be used: the file that is missing or unreadable. */
static int ca_unusable(struct cli *c, int err)
{
	static const char *const files[] = { "ca.key", "ca.crt" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!ca_path(c, files[i], path, sizeof(path)))
			return cli_say(c, -ENAMETOOLONG, "%s: --dir too long", c->dir);
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return cli_say(c, -ENOENT, "%s: no such file; run bgw-authdb "
				       "ca init first, or give --dir of the directory "
				       "it wrote to", path);
		if (access(path, R_OK) < 0)
			return cli_say(c, -errno, "%s: %s (run bgw-authdb as root)",
				       path, strerror(errno));
	}
	if (err == -EBADMSG)
		return cli_say(c, err, "cannot sign with the CA in %s: ca.key or "
			       "ca.crt is damaged; restore the files bgw-authdb "
			       "ca init wrote from a backup", c->dir);
	return cli_say(c, err, "cannot sign with the CA in %s: %s", c->dir,
		       strerror(-err));
}

static int do_issue(struct cli *c, struct authdb *db, void *a)
{
	struct issue_arg *x = a;
	struct ca_issued ci;
	time_t now = time(NULL);
	int ret;

	if (!authdb_user_is_enabled(db, x->user))
		return authdb_user_flags(db, x->user, NULL) ? cli_no_user(c, x->user) :
		       cli_say(c, -EPERM, "user '%s' is disabled (bgw-authdb user "
			       "enable %s first)", x->user, x->user);
	ret = ca_issue_client(c->dir, x->user, now - 300,
			      now + (time_t)x->days * 86400, &ci);
	if (ret)
		return ca_unusable(c, ret);
	ret = authdb_cert_add(db, x->user, ci.serial, ci.fpr);
	if (!ret) {
		ret = ca_bundle_write(x->out, x->user, &x->dest, &ci);
		if (ret == -EEXIST)
			cli_say(c, ret, "%s exists; it is not overwritten (remove it, "
				"or choose another --out)", x->out);
		else if (ret == -EINVAL)
			cli_say(c, ret, "--server '%s': a host name or address, "
				"optionally with :port", x->dest.server);
		else if (ret == -ENOENT)
			cli_say(c, ret, "cannot write the bundle %s: its directory does "
				"not exist (create it, or choose another --out)", x->out);
		else if (ret)
			cli_say(c, ret, "cannot write the bundle %s: %s", x->out,
				strerror(-ret));
	}
	if (!ret) {
		x->wrote = true;
		snprintf(x->serial, sizeof(x->serial), "%s", ci.serial);
	}
	ca_issued_wipe(&ci);
	return ret;
}

static int cert_issue(struct cli *c, int argc, char **argv)
{
	struct issue_arg x = { .days = CA_DAYS_DEFAULT_CERT };
	char detail[128], out[PATH_MAX];
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' && !x.user) {
			x.user = argv[i];
			continue;
		}
		if (i + 1 >= argc)
			return cli_usage(c, "cert", &cert_cmds[0]);
		if (!strcmp(argv[i], "--server")) {
			x.dest.server = argv[++i];
		} else if (!strcmp(argv[i], "--relay")) {
			if (x.dest.nrelay >= BUNDLE_RELAYS_MAX)
				return cli_fail(c, 0, "--relay: at most %d relays",
						BUNDLE_RELAYS_MAX);
			if (!bundle_relay_is_valid(argv[i + 1]))
				return cli_fail(c, 0, "--relay '%s': a host name or "
						"address and a port, as host:port or "
						"[IPv6]:port", argv[i + 1]);
			x.dest.relay[x.dest.nrelay++] = argv[++i];
		} else if (!strcmp(argv[i], "--dir")) {
			c->dir = argv[++i];	/* as ca init --dir */
		} else if (!strcmp(argv[i], "--out")) {
			x.out = argv[++i];
		} else if (!strcmp(argv[i], "--days")) {
			if (parse_days(argv[++i], &x.days))
				return cli_fail(c, 0, "--days: 1 to 36500");
		} else
			return cli_usage(c, "cert", &cert_cmds[0]);
	}
	if (!x.user)
		return cli_usage(c, "cert", &cert_cmds[0]);
	if (!cli_is_name(x.user))
		return cli_bad_name(c, "user", x.user);
	if (!x.dest.server && !x.dest.nrelay)
		return cli_fail(c, 0, "cert issue: --server host[:port] or --relay "
				"host:port is required: where bgw-cdclient will "
				"reach the gateway");
	if (!x.out) {
		snprintf(out, sizeof(out), "%s.bundle", x.user);
		x.out = out;
	}
	snprintf(detail, sizeof(detail), "cert issue %s", x.user);
	ret = cli_edit(c, do_issue, &x, detail);
	if (ret && x.wrote)
		unlink(x.out);	/* not recorded: the bundle would not work */
	if (!ret)
		printf("issued certificate %s to %s; bundle: %s\n", x.serial, x.user,
		       x.out);
	return ret;
}

struct revoke_arg {
	const char *serial;	/* normalised */
	const char *user;
	char owner[AUTHDB_NAME_MAX + 1];	/* of serial */
	bool revoked;		/* serial: already */
	unsigned n;
	char done[512];		/* the serials revoked, for the message */
	struct authdb *db;
};

/* Lower case, no leading zeros: as the authdb stores serials. */
static void serial_norm(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	while (in[0] == '0' && in[1])
		in++;
	for (; *in && o + 1 < cap; in++)
		out[o++] = (char)tolower((unsigned char)*in);
	out[o] = '\0';
}

static int find_serial(const struct authdb_cert_info *ci, void *ud)
{
	struct revoke_arg *r = ud;

	if (strcmp(ci->serial, r->serial))
		return 0;
	snprintf(r->owner, sizeof(r->owner), "%s", ci->user);
	r->revoked = ci->revoked;
	return 1;
}

static int revoke_user_cert(const struct authdb_cert_info *ci, void *ud)
{
	struct revoke_arg *r = ud;
	size_t o = strlen(r->done);
	int ret;

	if (strcmp(ci->user, r->user) || ci->revoked)
		return 0;
	ret = authdb_revoke(r->db, ci->serial);
	if (!ret) {
		r->n++;
		snprintf(r->done + o, sizeof(r->done) - o, "%s%s", o ? ", " : "",
			 ci->serial);
	}
	return ret;
}

static int do_revoke(struct cli *c, struct authdb *db, void *a)
{
	struct revoke_arg *r = a;
	int ret;

	if (r->serial) {
		/* A certificate the authdb does not list is refused anyway:
		 * revoking it would do nothing, so it is an error. */
		if (authdb_each_cert(db, find_serial, r) != 1)
			return cli_say(c, -ENOENT, "no certificate with serial %s in "
				       "%s (bgw-authdb cert list shows them)",
				       r->serial, c->db_path);
		if (r->revoked)
			return cli_say(c, -EEXIST, "certificate %s of %s is already "
				       "revoked", r->serial, r->owner);
		snprintf(r->done, sizeof(r->done), "%s", r->serial);
		r->n = 1;
		return authdb_revoke(db, r->serial);
	}
	if (authdb_user_flags(db, r->user, NULL))
		return cli_no_user(c, r->user);
	r->db = db;
	ret = authdb_each_cert(db, revoke_user_cert, r);
	if (!ret && !r->n)
		return cli_say(c, -ENOENT, "%s has no certificate left to revoke "
			       "(bgw-authdb user show %s)", r->user, r->user);
	return ret;
}

static int cert_revoke(struct cli *c, int argc, char **argv)
{
	struct revoke_arg r = { NULL };
	char detail[128], norm[AUTHDB_SERIAL_MAX + 1];
	int ret;

	if (argc == 2 && argv[1][0] != '-') {
		if (!authdb_serial_is_valid(argv[1]))
			return cli_fail(c, 0, "bad serial '%s': 1 to %d hex digits, as "
					"bgw-authdb cert list prints them", argv[1],
					AUTHDB_SERIAL_MAX);
		serial_norm(argv[1], norm, sizeof(norm));
		r.serial = norm;
	} else if (argc == 3 && !strcmp(argv[1], "--user")) {
		if (!cli_is_name(argv[2]))
			return cli_bad_name(c, "user", argv[2]);
		r.user = argv[2];
	} else {
		return cli_usage(c, "cert", &cert_cmds[1]);
	}
	snprintf(detail, sizeof(detail), "cert revoke %s%s",
		 r.serial ? "" : "--user ", r.serial ? r.serial : r.user);
	ret = cli_edit(c, do_revoke, &r, detail);
	if (!ret)
		printf("revoked %u certificate%s of %s: %s; sessions using %s end "
		       "at reload\n", r.n, r.n == 1 ? "" : "s", r.user ? r.user : r.owner, r.done,
		       r.n == 1 ? "it" : "them");
	return ret;
}

static int print_cert(const struct authdb_cert_info *ci, void *ud)
{
	char fpr[2 * AUTHDB_FPR_LEN + 1];

	hex_encode(ci->fpr, AUTHDB_FPR_LEN, fpr);
	printf("%s %s sha256:%s%s\n", ci->user, ci->serial, fpr, ci->revoked ? " revoked" : "");
	return 0;
}

static int cert_list(struct cli *c, int argc, char **argv)
{
	struct authdb *db;
	int ret;

	if (argc != 1)
		return cli_usage(c, "cert", &cert_cmds[2]);
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	authdb_each_cert(db, print_cert, NULL);
	authdb_free(db);
	return CLI_OK;
}

int cmd_cert(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "cert", cert_cmds,
			    sizeof(cert_cmds) / sizeof(cert_cmds[0]), argc - 1,
			    argv + 1);
}
