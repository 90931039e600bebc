/* SPDX-License-Identifier: MIT */
/*
 * bgw-authdb: the admin's tool for users, passwords, certificates, ACLs
 * and the audit log (bgw-authdb(8)). One file per subcommand group,
 * dispatched from the table below; every change goes through cli_edit().
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "audit.h"
#include "cli.h"
#include "log.h"

static const struct cli_cmd commands[] = {
	{ "user", cmd_user, "add|del|list|show|enable|disable|admin ...",
	  "manage users" },
	{ "passwd", cmd_passwd, "[--stdin] [--iterations n] user",
	  "set a user's password (read from the terminal or stdin)" },
	{ "group", cmd_group, "add|del|member|list ...",
	  "manage groups and their members" },
	{ "allow", cmd_allow, "user|@group address [public|random] [label]",
	  "let a user or group see and connect to a remote device" },
	{ "deny", cmd_deny, "user|@group address [public|random]",
	  "withdraw such a grant" },
	{ "ca", cmd_ca, "init [options]",
	  "create the gateway's CA and server certificate" },
	{ "cert", cmd_cert, "issue|revoke|list ...",
	  "issue, revoke and list client certificates" },
	{ "check", cmd_check, "[file]",
	  "validate an authdb file without changing it" },
	{ "audit", cmd_audit, "verify|show",
	  "check the audit log's hash chain, or print it" },
};

#define USAGE "usage: %s [--db path] [--audit path] command [args ...]\n"

static void usage(FILE *f, const char *prog)
{
	size_t i;

	fprintf(f, USAGE, prog);
	fprintf(f, "\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nDefaults: --db %s, --audit %s\n", AUTHDB_DEFAULT_PATH,
		AUDIT_DEFAULT_PATH);
}

int cli_usage(const struct cli *c, const char *group, const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: %s %s%s%s%s%s\n", c->prog, group ? group : "",
		group ? " " : "", cmd->name, cmd->args[0] ? " " : "", cmd->args);
	return CLI_USAGE;
}

int cli_dispatch(struct cli *c, const char *group, const struct cli_cmd *cmds,
		 size_t n, int argc, char **argv)
{
	size_t i;

	if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "help"))) {
		for (i = 0; i < n; i++)
			printf("%s %s%s%-8s %s\n", c->prog, group ? group : "",
			       group ? " " : "", cmds[i].name, cmds[i].help);
		return CLI_OK;
	}
	for (i = 0; argc > 0 && i < n; i++)
		if (!strcmp(argv[0], cmds[i].name))
			return cmds[i].fn(c, argc, argv);
	if (argc > 0)
		fprintf(stderr, "%s: unknown command '%s%s%s'\n", c->prog,
			group ? group : "", group ? " " : "", argv[0]);
	for (i = 0; i < n; i++)
		cli_usage(c, group, &cmds[i]);
	return CLI_USAGE;
}

/* The library's errnos in the words of the authdb, not of files. */
static const char *err_text(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such user, group, grant or certificate";
	case -EEXIST:
		return "already exists";
	case -EINVAL:
		return "invalid value";
	case -ENOSPC:
		return "a limit of the authdb format would be exceeded";
	default:
		return strerror(-err);
	}
}

int cli_fail(const struct cli *c, int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", err_text(err));
	fputc('\n', stderr);
	switch (err) {
	case 0:			/* a bad argument, already described */
		return CLI_USAGE;
	case -ENOENT:
		return CLI_NOTFOUND;
	case -EEXIST:
		return CLI_EXISTS;
	case -EINVAL:
		return CLI_USAGE;
	default:
		return CLI_ERROR;
	}
}

bool cli_is_name(const char *s)
{
	return authdb_name_is_valid(s);
}

/*
 * One line from fd into buf (at most cap - 1 bytes, NUL-terminated, the
 * newline dropped). A longer line is refused, not cut: -EMSGSIZE.
 * Byte by byte so nothing past the line is consumed.
 */
int cli_read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	char ch;

	for (;;) {
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= cap) {
			/* Drain the rest of the line, then refuse. */
			while ((r = read(fd, &ch, 1)) > 0 && ch != '\n')
				;
			return -EMSGSIZE;
		}
		buf[n++] = ch;
	}
	if (r == 0 && n == 0)
		return -ENODATA;
	buf[n] = '\0';
	*len = n;
	return 0;
}

int cli_load(const struct cli *c, struct authdb **db, bool missing_ok)
{
	char err[AUTHDB_ERR_MAX];
	int ret;

	ret = authdb_load(c->db_path, geteuid(), db, err, sizeof(err));
	if (ret == -ENOENT && missing_ok) {
		*db = authdb_new();
		return *db ? CLI_OK : CLI_ERROR;
	}
	if (ret) {
		fprintf(stderr, "%s: %s\n", c->prog, err[0] ? err : strerror(-ret));
		return ret == -EINVAL || ret == -EPERM || ret == -EFBIG ?
		       CLI_INVALID : ret == -ENOENT ? CLI_NOTFOUND : CLI_ERROR;
	}
	return CLI_OK;
}

static int mkparent(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	if (mkdir(dirname(buf), 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cli_audit_change(const struct cli *c, const char *detail)
{
	struct audit_log *log = NULL;
	struct audit_fields f = { .uid = (long)getuid(), .detail = detail };
	int ret;

	ret = mkparent(c->audit_path);
	if (!ret)
		ret = audit_open(c->audit_path, &log);
	if (!ret)
		ret = audit_append(log, AUDIT_AUTHDB_CHANGE, &f);
	audit_close(log);
	if (ret) {
		fprintf(stderr, "%s: warning: change made but not recorded in %s: %s\n",
			c->prog, c->audit_path, strerror(-ret));
		return CLI_ERROR;
	}
	return CLI_OK;
}

int cli_edit(struct cli *c, int (*fn)(struct authdb *db, void *arg), void *arg,
	     const char *detail)
{
	struct authdb *db = NULL;
	int lock, ret;

	ret = mkparent(c->db_path);
	if (ret)
		return cli_fail(c, ret, "%s", c->db_path);
	lock = authdb_lock(c->db_path);
	if (lock < 0)
		return cli_fail(c, lock, "cannot lock %s.lock", c->db_path);
	ret = cli_load(c, &db, true);
	if (ret)
		goto out;
	ret = fn(db, arg);
	if (ret) {
		ret = cli_fail(c, ret, "%s", detail);
		goto out;
	}
	ret = authdb_save(db, c->db_path);
	if (ret) {
		ret = cli_fail(c, ret, "cannot write %s", c->db_path);
		goto out;
	}
	ret = cli_audit_change(c, detail);
out:
	authdb_free(db);
	authdb_unlock(lock);
	return ret;
}

int main(int argc, char **argv)
{
	struct cli c = {
		.prog = "bgw-authdb",
		.db_path = AUTHDB_DEFAULT_PATH,
		.audit_path = AUDIT_DEFAULT_PATH,
	};
	int i, ret;

	log_open(c.prog, LOG_TARGET_STDERR);
	umask(077);
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, c.prog);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("%s %s\n", c.prog, PACKAGE_VERSION);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			c.db_path = argv[++i];
		} else if (!strcmp(argv[i], "--audit") && i + 1 < argc) {
			c.audit_path = argv[++i];
		} else {
			fprintf(stderr, "%s: unknown or incomplete option '%s'\n",
				c.prog, argv[i]);
			usage(stderr, c.prog);
			return CLI_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr, c.prog);
		return CLI_USAGE;
	}
	if (gnutls_global_init() < 0) {
		fprintf(stderr, "%s: cannot initialise GnuTLS\n", c.prog);
		return CLI_ERROR;
	}
	ret = cli_dispatch(&c, NULL, commands, sizeof(commands) / sizeof(commands[0]),
			   argc - i, argv + i);
	gnutls_global_deinit();
	return ret;
}
