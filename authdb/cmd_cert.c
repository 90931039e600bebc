/* SPDX-License-Identifier: MIT */
/* bgw-authdb ca init, cert issue|revoke|list. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "cli.h"

static int parse_days(const char *s, unsigned *days)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v == 0 || v > 36500)
		return -EINVAL;
	*days = (unsigned)v;
	return 0;
}

/* ---- ca --------------------------------------------------------------- */

static int ca_init_cmd(struct cli *c, int argc, char **argv);

static const struct cli_cmd ca_cmds[] = {
	{ "init", ca_init_cmd,
	  "[--dir dir] [--name ca-name] [--dns name] ... [--ip address] ... "
	  "[--days n]", "create the CA and the server certificate" },
};

static int ca_init_cmd(struct cli *c, int argc, char **argv)
{
	struct ca_server_names srv = { NULL };
	const char *dir = CA_DEFAULT_DIR, *name = "bgw CA";
	unsigned days = CA_DAYS_DEFAULT_CA;
	char detail[PATH_MAX + 16];
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return cli_usage(c, "ca", &ca_cmds[0]);
		if (!strcmp(argv[i], "--dir")) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--name")) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--dns") && srv.ndns < CA_NAMES_MAX) {
			srv.dns[srv.ndns++] = argv[++i];
		} else if (!strcmp(argv[i], "--ip") && srv.nip < CA_NAMES_MAX) {
			srv.ip[srv.nip++] = argv[++i];
		} else if (!strcmp(argv[i], "--days")) {
			if (parse_days(argv[++i], &days))
				return cli_fail(c, 0, "--days: 1 to 36500");
		} else {
			return cli_usage(c, "ca", &ca_cmds[0]);
		}
	}
	srv.cn = srv.ndns ? srv.dns[0] : "bgw";
	ret = ca_init(dir, name, &srv, days);
	if (ret == -EEXIST)
		return cli_fail(c, ret, "%s already holds a CA or server key; "
				"refusing to overwrite", dir);
	if (ret)
		return cli_fail(c, ret, "ca init in %s", dir);
	printf("CA and server certificate created in %s\n", dir);
	snprintf(detail, sizeof(detail), "ca init %s", dir);
	return cli_audit_change(c, detail);
}

int cmd_ca(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "ca", ca_cmds, 1, argc - 1, argv + 1);
}

/* ---- cert ------------------------------------------------------------- */

static int cert_issue(struct cli *c, int argc, char **argv);
static int cert_revoke(struct cli *c, int argc, char **argv);
static int cert_list(struct cli *c, int argc, char **argv);

static const struct cli_cmd cert_cmds[] = {
	{ "issue", cert_issue,
	  "user --server host[:port] [--dir dir] [--days n] [--out file]",
	  "issue a client certificate and write its enrolment bundle" },
	{ "revoke", cert_revoke, "serial | --user user",
	  "revoke a certificate (or all of a user's)" },
	{ "list", cert_list, "", "list issued certificates" },
};

struct issue_arg {
	const char *user;
	const char *server;
	const char *dir;
	const char *out;
	unsigned days;
	bool wrote;
	char serial[AUTHDB_SERIAL_MAX + 1];
};

static int do_issue(struct authdb *db, void *a)
{
	struct issue_arg *x = a;
	struct ca_issued ci;
	time_t now = time(NULL);
	int ret;

	if (!authdb_user_is_enabled(db, x->user))
		return -ENOENT;
	ret = ca_issue_client(x->dir, x->user, now - 300,
			      now + (time_t)x->days * 86400, &ci);
	if (ret)
		return ret;
	ret = authdb_cert_add(db, x->user, ci.serial, ci.fpr);
	if (!ret)
		ret = ca_bundle_write(x->out, x->user, x->server, &ci);
	if (!ret) {
		x->wrote = true;
		snprintf(x->serial, sizeof(x->serial), "%s", ci.serial);
	}
	ca_issued_wipe(&ci);
	return ret;
}

static int cert_issue(struct cli *c, int argc, char **argv)
{
	struct issue_arg x = { .dir = CA_DEFAULT_DIR, .days = CA_DAYS_DEFAULT_CERT };
	char detail[128], out[PATH_MAX];
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' && !x.user) {
			x.user = argv[i];
			continue;
		}
		if (i + 1 >= argc)
			return cli_usage(c, "cert", &cert_cmds[0]);
		if (!strcmp(argv[i], "--server"))
			x.server = argv[++i];
		else if (!strcmp(argv[i], "--dir"))
			x.dir = argv[++i];
		else if (!strcmp(argv[i], "--out"))
			x.out = argv[++i];
		else if (!strcmp(argv[i], "--days")) {
			if (parse_days(argv[++i], &x.days))
				return cli_fail(c, 0, "--days: 1 to 36500");
		} else
			return cli_usage(c, "cert", &cert_cmds[0]);
	}
	if (!x.user || !x.server || !cli_is_name(x.user))
		return cli_usage(c, "cert", &cert_cmds[0]);
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
	const char *serial;
	const char *user;
	unsigned n;
	struct authdb *db;
};

static int revoke_user_cert(const struct authdb_cert_info *ci, void *ud)
{
	struct revoke_arg *r = ud;
	int ret;

	if (strcmp(ci->user, r->user) || ci->revoked)
		return 0;
	ret = authdb_revoke(r->db, ci->serial);
	if (!ret)
		r->n++;
	return ret;
}

static int do_revoke(struct authdb *db, void *a)
{
	struct revoke_arg *r = a;

	if (r->serial)
		return authdb_revoke(db, r->serial);
	if (authdb_user_flags(db, r->user, NULL))
		return -ENOENT;
	r->db = db;
	return authdb_each_cert(db, revoke_user_cert, r);
}

static int cert_revoke(struct cli *c, int argc, char **argv)
{
	struct revoke_arg r = { NULL };
	char detail[128];

	if (argc == 2 && authdb_serial_is_valid(argv[1]))
		r.serial = argv[1];
	else if (argc == 3 && !strcmp(argv[1], "--user") && cli_is_name(argv[2]))
		r.user = argv[2];
	else
		return cli_usage(c, "cert", &cert_cmds[1]);
	snprintf(detail, sizeof(detail), "cert revoke %s%s",
		 r.serial ? "" : "--user ", r.serial ? r.serial : r.user);
	return cli_edit(c, do_revoke, &r, detail);
}

static int print_cert(const struct authdb_cert_info *ci, void *ud)
{
	int i;

	printf("%s %s sha256:", ci->user, ci->serial);
	for (i = 0; i < AUTHDB_FPR_LEN; i++)
		printf("%02x", ci->fpr[i]);
	printf("%s\n", ci->revoked ? " revoked" : "");
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
