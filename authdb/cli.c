/* SPDX-License-Identifier: MIT */
/*
 * What bgw-authdb's subcommand files share (cli.h): dispatch through a
 * command table, errors and exit status, and the locked read-modify-write
 * cycle with its audit record. Below the subcommands and main(): it calls
 * neither, and finds the top-level table through struct cli.
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

#include "audit.h"
#include "cli.h"

const struct cli_cmd *cli_command(const struct cli *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ncmds; i++)
		if (!strcmp(c->cmds[i].name, name))
			return &c->cmds[i];
	return NULL;
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
		if (group && cli_command(c, group))
			printf("%s %s: %s\n", c->prog, group,
			       cli_command(c, group)->help);
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

static int find_group(const struct authdb_group_info *g, void *ud)
{
	return !strcmp(g->name, ud);
}

bool cli_group_exists(const struct authdb *db, const char *group)
{
	return authdb_each_group(db, find_group, (void *)group) == 1;
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
