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
#include "bonds.h"
#include "cli.h"
#include "log.h"

static const struct cli_cmd commands[] = {
	{ "user", cmd_user, "add|del|list|show|enable|disable|admin ...",
	  "manage users", true },
	{ "passwd", cmd_passwd, "[--stdin] [--iterations n] user",
	  "set a user's password (asked on the terminal, or read from stdin)" },
	{ "group", cmd_group, "add|del|member|list ...",
	  "manage groups and their members", true },
	{ "allow", cmd_allow,
	  "user|@group address public|random [label] [--irk-stdin]",
	  "let a user or group see and connect to a remote device" },
	{ "deny", cmd_deny, "user|@group address public|random",
	  "withdraw such a grant" },
	{ "ca", cmd_ca, "init|id ...",
	  "create the gateway's CA and server certificate, show its home id", true },
	{ "cert", cmd_cert, "issue|revoke|list ...",
	  "issue, revoke and list client certificates", true },
	{ "check", cmd_check, "[file]",
	  "validate an authdb file without changing it" },
	{ "audit", cmd_audit, "verify|show ...",
	  "check the audit log's MAC chain and anchors, or print it", true },
	{ "bond", cmd_bond, "list|forget ...",
	  "list the household bonds, or forget a device's", true },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct cli_cmd *cli_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

#define USAGE "usage: %s [--dir dir] [--db path] [--audit path] [--bonds path] command [args ...]\n" \
	      "       %s command --help\n"

static void usage(FILE *f, const char *prog)
{
	size_t i;

	fprintf(f, USAGE, prog, prog);
	fprintf(f, "\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nDefaults: --dir %s (or the directory of --db), --db DIR/authdb,\n"
		"--audit %s (DIR/audit.log for another DIR),\n"
		"--bonds %s (DIR/bonds for another DIR)\n",
		CLI_DEFAULT_DIR, AUDIT_DEFAULT_PATH, BONDS_DEFAULT_PATH);
}

int cli_usage(const struct cli *c, const char *group, const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: %s %s%s%s%s%s\n", c->prog, group ? group : "",
		group ? " " : "", cmd->name, cmd->args[0] ? " " : "", cmd->args);
	return CLI_USAGE;
}

/* "bgw-authdb [group] cmd --help": what it does and its usage, on stdout. */
static int cmd_help(const struct cli *c, const char *group, const struct cli_cmd *cmd)
{
	printf("%s %s%s%s: %s\n", c->prog, group ? group : "", group ? " " : "",
	       cmd->name, cmd->help);
	printf("usage: %s %s%s%s%s%s\n", c->prog, group ? group : "",
	       group ? " " : "", cmd->name, cmd->args[0] ? " " : "", cmd->args);
	return CLI_OK;
}

static bool is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h") || !strcmp(s, "help");
}

int cli_dispatch(struct cli *c, const char *group, const struct cli_cmd *cmds,
		 size_t n, int argc, char **argv)
{
	FILE *f = stderr;
	size_t i;

	if (argc > 0 && is_help(argv[0])) {
		f = stdout;
		if (group && cli_command(group))
			printf("%s %s: %s\n", c->prog, group, cli_command(group)->help);
	} else {
		for (i = 0; argc > 0 && i < n; i++) {
			if (strcmp(argv[0], cmds[i].name))
				continue;
			/* A group answers --help itself, with its list. */
			if (argc > 1 && is_help(argv[1]) && !cmds[i].group)
				return cmd_help(c, group, &cmds[i]);
			return cmds[i].fn(c, argc, argv);
		}
		if (argc > 0)
			fprintf(stderr, "%s: unknown command '%s%s%s'; the commands are:\n",
				c->prog, group ? group : "", group ? " " : "", argv[0]);
		else
			fprintf(stderr, "%s: %s needs a command:\n", c->prog,
				group ? group : "it");
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%s %s%s%s%s%s\n    %s\n", c->prog, group ? group : "",
			group ? " " : "", cmds[i].name, cmds[i].args[0] ? " " : "",
			cmds[i].args, cmds[i].help);
	return f == stdout ? CLI_OK : CLI_USAGE;
}

/* The library's errnos where the caller gave no better words. */
static const char *err_text(int err)
{
	switch (err) {
	case -EEXIST:
		return "already exists";
	case -EINVAL:
		return "invalid value";
	case -ENOSPC:
		return "a limit of the authdb format would be exceeded "
		       "(LIMITS in bgw-authdb(5))";
	case -EACCES:
	case -EPERM:
		return "permission denied (run bgw-authdb as root, or as the "
		       "owner of the files)";
	default:
		return strerror(-err);
	}
}

static int exit_status(int err)
{
	switch (err) {
	case 0:			/* a bad argument, already described */
	case -EINVAL:
		return CLI_USAGE;
	case -ENOENT:
		return CLI_NOTFOUND;
	case -EEXIST:
		return CLI_EXISTS;
	default:
		return CLI_ERROR;
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
	return exit_status(err);
}

int cli_say(struct cli *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return err;
}

int cli_report(struct cli *c, int err)
{
	fprintf(stderr, "%s: %s\n", c->prog, c->why);
	return exit_status(err);
}

int cli_no_user(struct cli *c, const char *user)
{
	return cli_say(c, -ENOENT, "no user '%s' in %s (bgw-authdb user list "
		       "shows the users)", user, c->db_path);
}

int cli_no_group(struct cli *c, const char *group)
{
	return cli_say(c, -ENOENT, "no group '%s' in %s (bgw-authdb group list "
		       "shows the groups)", group, c->db_path);
}

int cli_bad_name(struct cli *c, const char *what, const char *name)
{
	return cli_fail(c, 0, "bad %s name '%s': 1 to %d of lower case letters, "
			"digits, '_', '.' and '-', starting with a letter or '_'",
			what, name, AUTHDB_NAME_MAX);
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
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: %s: no such file; the first change creates it "
			"(bgw-authdb user add NAME), or give --dir or --db of an "
			"existing one\n", c->prog, c->db_path);
		return CLI_NOTFOUND;
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

int cli_audit_ready(const struct cli *c)
{
	struct audit_log *log = NULL;
	int ret;

	/*
	 * Before any change: a change the log cannot record would be made
	 * and then reported unrecorded. Opening it (created if absent)
	 * proves the directory exists and the file is writable.
	 */
	ret = mkparent(c->audit_path);
	if (!ret)
		ret = audit_open(c->audit_path, &log);
	audit_close(log);
	if (ret) {
		fprintf(stderr, "%s: cannot record changes in the audit log %s: %s; "
			"nothing was changed (create its directory or give another "
			"file with --audit)\n", c->prog, c->audit_path, strerror(-ret));
		return CLI_ERROR;
	}
	return CLI_OK;
}

int cli_audit_change(const struct cli *c, const char *detail)
{
	return cli_audit_event(c, AUDIT_AUTHDB_CHANGE, NULL, detail);
}

int cli_audit_event(const struct cli *c, enum audit_event ev, const char *rd,
		    const char *detail)
{
	struct audit_log *log = NULL;
	struct audit_fields f = { .uid = (long)getuid(), .rd = rd, .detail = detail };
	int ret;

	ret = mkparent(c->audit_path);
	if (!ret)
		ret = audit_open(c->audit_path, &log);
	if (!ret)
		ret = audit_append(log, ev, &f);
	audit_close(log);
	if (ret) {
		fprintf(stderr, "%s: warning: change made but not recorded in %s: %s\n",
			c->prog, c->audit_path, strerror(-ret));
		return CLI_ERROR;
	}
	return CLI_OK;
}

int cli_edit(struct cli *c, int (*fn)(struct cli *c, struct authdb *db, void *arg),
	     void *arg, const char *detail)
{
	struct authdb *db = NULL;
	int lock, ret;

	ret = cli_audit_ready(c);
	if (ret)
		return ret;
	ret = mkparent(c->db_path);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: cannot create the directory of %s: its parent "
			"does not exist (create it, or give another --dir)\n",
			c->prog, c->db_path);
		return CLI_NOTFOUND;
	}
	if (ret)
		return cli_fail(c, ret, "cannot create the directory of %s", c->db_path);
	lock = authdb_lock(c->db_path);
	if (lock < 0)
		return cli_fail(c, lock, "cannot lock %s.lock", c->db_path);
	ret = cli_load(c, &db, true);
	if (ret)
		goto out;
	c->why[0] = '\0';
	ret = fn(c, db, arg);
	if (ret && c->why[0]) {
		fprintf(stderr, "%s: %s\n", c->prog, c->why);
		ret = exit_status(ret);
		goto out;
	}
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

/* "a/b/" -> "a/b", "/" stays. */
static void strip_slashes(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

/*
 * One directory locates everything (bgw-authdb(8) FILES): --dir, or the
 * directory of --db, or /etc/bgw. The authdb is DIR/authdb and the CA
 * and server files are in DIR; the audit log is /var/log/bgw/audit.log
 * for /etc/bgw (where bgw-muxd writes it by default) and DIR/audit.log
 * for any other directory, so a second gateway or a test never writes
 * into the system's log.
 */
static int resolve_paths(struct cli *c, const char *dir, const char *db,
			 const char *audit, const char *bonds)
{
	char tmp[PATH_MAX];
	int n;

	if (dir) {
		n = snprintf(c->dir_buf, sizeof(c->dir_buf), "%s", dir);
	} else if (db) {
		if (snprintf(tmp, sizeof(tmp), "%s", db) >= (int)sizeof(tmp))
			return -ENAMETOOLONG;
		n = snprintf(c->dir_buf, sizeof(c->dir_buf), "%s", dirname(tmp));
	} else {
		n = snprintf(c->dir_buf, sizeof(c->dir_buf), "%s", CLI_DEFAULT_DIR);
	}
	if (n < 0 || n >= (int)sizeof(c->dir_buf) || !c->dir_buf[0])
		return -ENAMETOOLONG;
	strip_slashes(c->dir_buf);
	c->dir = c->dir_buf;
	if (db) {
		c->db_path = db;
	} else {
		n = snprintf(c->db_buf, sizeof(c->db_buf), "%s/authdb", c->dir);
		if (n < 0 || n >= (int)sizeof(c->db_buf))
			return -ENAMETOOLONG;
		c->db_path = c->db_buf;
	}
	if (audit) {
		c->audit_path = audit;
	} else if (!strcmp(c->dir, CLI_DEFAULT_DIR)) {
		c->audit_path = AUDIT_DEFAULT_PATH;
	} else {
		n = snprintf(c->audit_buf, sizeof(c->audit_buf), "%s/audit.log", c->dir);
		if (n < 0 || n >= (int)sizeof(c->audit_buf))
			return -ENAMETOOLONG;
		c->audit_path = c->audit_buf;
	}
	if (bonds) {
		c->bonds_path = bonds;
	} else if (!strcmp(c->dir, CLI_DEFAULT_DIR)) {
		c->bonds_path = BONDS_DEFAULT_PATH;
	} else {
		n = snprintf(c->bonds_buf, sizeof(c->bonds_buf), "%s/bonds", c->dir);
		if (n < 0 || n >= (int)sizeof(c->bonds_buf))
			return -ENAMETOOLONG;
		c->bonds_path = c->bonds_buf;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { .prog = "bgw-authdb" };
	const char *dir = NULL, *db = NULL, *audit = NULL, *bonds = NULL;
	int i, ret;

	log_open(c.prog, LOG_TARGET_STDERR);
	umask(077);
	for (i = 1; i < argc && !strncmp(argv[i], "-", 1); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, c.prog);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("%s (%s) %s\n", c.prog, PACKAGE_NAME, PACKAGE_VERSION);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			db = argv[++i];
		} else if (!strcmp(argv[i], "--audit") && i + 1 < argc) {
			audit = argv[++i];
		} else if (!strcmp(argv[i], "--bonds") && i + 1 < argc) {
			bonds = argv[++i];
		} else {
			fprintf(stderr, "%s: unknown option, or one without its value: "
				"'%s'\n", c.prog, argv[i]);
			usage(stderr, c.prog);
			return CLI_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "%s: no command given\n", c.prog);
		usage(stderr, c.prog);
		return CLI_USAGE;
	}
	if (resolve_paths(&c, dir, db, audit, bonds))
		return cli_fail(&c, 0, "--dir, --db, --audit or --bonds: path too long "
				"(at most %d bytes)", PATH_MAX - 16);
	if (gnutls_global_init() < 0) {
		fprintf(stderr, "%s: cannot initialise GnuTLS\n", c.prog);
		return CLI_ERROR;
	}
	ret = cli_dispatch(&c, NULL, commands, NCOMMANDS, argc - i, argv + i);
	gnutls_global_deinit();
	return ret;
}
