/* SPDX-License-Identifier: MIT */
/* bgw-authdb user ..., passwd, group ... */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "pwcheck.h"
#include "scram.h"

/* ---- user ------------------------------------------------------------- */

struct user_arg {
	const char *name;
	unsigned set;
	unsigned clear;
};

static int do_user_add(struct authdb *db, void *a)
{
	struct user_arg *u = a;

	return authdb_user_add(db, u->name, u->set);
}

static int do_user_del(struct authdb *db, void *a)
{
	return authdb_user_del(db, ((struct user_arg *)a)->name, NULL);
}

static int do_user_flags(struct authdb *db, void *a)
{
	struct user_arg *u = a;

	return authdb_user_set_flags(db, u->name, u->set, u->clear);
}

static int user_add(struct cli *c, int argc, char **argv);
static int user_del(struct cli *c, int argc, char **argv);
static int user_list(struct cli *c, int argc, char **argv);
static int user_show(struct cli *c, int argc, char **argv);
static int user_enable(struct cli *c, int argc, char **argv);
static int user_admin(struct cli *c, int argc, char **argv);

static const struct cli_cmd user_cmds[] = {
	{ "add", user_add, "name [--admin] [--disabled]", "add a user" },
	{ "del", user_del, "name", "delete a user, its password, certificates and grants" },
	{ "list", user_list, "", "list users" },
	{ "show", user_show, "name", "show a user and the devices it may use" },
	{ "enable", user_enable, "name", "enable a user" },
	{ "disable", user_enable, "name", "disable a user (sessions end at reload)" },
	{ "admin", user_admin, "name yes|no", "grant or withdraw the admin role" },
};

static int user_add(struct cli *c, int argc, char **argv)
{
	struct user_arg u = { NULL, 0, 0 };
	char detail[96];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--admin"))
			u.set |= AUTHDB_USER_ADMIN;
		else if (!strcmp(argv[i], "--disabled"))
			u.set |= AUTHDB_USER_DISABLED;
		else if (!u.name && argv[i][0] != '-')
			u.name = argv[i];
		else
			return cli_usage(c, "user", &user_cmds[0]);
	}
	if (!u.name)
		return cli_usage(c, "user", &user_cmds[0]);
	if (!cli_is_name(u.name))
		return cli_fail(c, 0, "bad user name '%s' (lower case letters, digits, "
				"'_', '.', '-'; at most %d)", u.name, AUTHDB_NAME_MAX);
	snprintf(detail, sizeof(detail), "user add %s", u.name);
	return cli_edit(c, do_user_add, &u, detail);
}

static int user_del(struct cli *c, int argc, char **argv)
{
	struct user_arg u = { NULL, 0, 0 };
	char detail[96];

	if (argc != 2 || !cli_is_name(argv[1]))
		return cli_usage(c, "user", &user_cmds[1]);
	u.name = argv[1];
	snprintf(detail, sizeof(detail), "user del %s", u.name);
	return cli_edit(c, do_user_del, &u, detail);
}

static int print_user(const struct authdb_user_info *u, void *ud)
{
	printf("%s%s%s%s%s\n", u->name, u->flags & AUTHDB_USER_ADMIN ? " admin" : "",
	       u->flags & AUTHDB_USER_DISABLED ? " disabled" : "",
	       u->has_password ? " password" : "", u->ncerts ? " cert" : "");
	return 0;
}

static int user_list(struct cli *c, int argc, char **argv)
{
	struct authdb *db;
	int ret;

	if (argc != 1)
		return cli_usage(c, "user", &user_cmds[2]);
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	authdb_each_user(db, print_user, NULL);
	authdb_free(db);
	return CLI_OK;
}

static int print_rd(const struct authdb_rd *rd, void *ud)
{
	char a[BDADDR_STRLEN];

	printf("  device %s %s%s%s%s\n", bdaddr_fmt(&rd->addr, a),
	       rd->type == BDADDR_RANDOM ? "random" : "public",
	       rd->label[0] ? " \"" : "", rd->label, rd->label[0] ? "\"" : "");
	return 0;
}

struct show_ctx {
	const char *user;
};

static int print_group_of(const struct authdb_group_info *g, void *ud)
{
	struct show_ctx *s = ud;
	size_t i;

	for (i = 0; i < g->nmembers; i++)
		if (!strcmp(g->members[i], s->user))
			printf("  group %s\n", g->name);
	return 0;
}

static int print_cert_of(const struct authdb_cert_info *ci, void *ud)
{
	struct show_ctx *s = ud;

	if (!strcmp(ci->user, s->user))
		printf("  cert %s%s\n", ci->serial, ci->revoked ? " revoked" : "");
	return 0;
}

static int user_show(struct cli *c, int argc, char **argv)
{
	struct show_ctx s;
	struct authdb *db;
	unsigned flags;
	int ret;

	if (argc != 2 || !cli_is_name(argv[1]))
		return cli_usage(c, "user", &user_cmds[3]);
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	s.user = argv[1];
	if (authdb_user_flags(db, s.user, &flags)) {
		authdb_free(db);
		return cli_fail(c, -ENOENT, "user '%s'", s.user);
	}
	printf("user %s%s%s\n", s.user, flags & AUTHDB_USER_ADMIN ? " admin" : "",
	       flags & AUTHDB_USER_DISABLED ? " disabled" : "");
	authdb_each_group(db, print_group_of, &s);
	authdb_each_cert(db, print_cert_of, &s);
	authdb_user_rds(db, s.user, print_rd, NULL);
	authdb_free(db);
	return CLI_OK;
}

static int user_enable(struct cli *c, int argc, char **argv)
{
	bool enable = !strcmp(argv[0], "enable");
	struct user_arg u = { NULL, 0, 0 };
	char detail[96];

	if (argc != 2 || !cli_is_name(argv[1]))
		return cli_usage(c, "user", &user_cmds[enable ? 4 : 5]);
	u.name = argv[1];
	if (enable)
		u.clear = AUTHDB_USER_DISABLED;
	else
		u.set = AUTHDB_USER_DISABLED;
	snprintf(detail, sizeof(detail), "user %s %s", argv[0], u.name);
	return cli_edit(c, do_user_flags, &u, detail);
}

static int user_admin(struct cli *c, int argc, char **argv)
{
	struct user_arg u = { NULL, 0, 0 };
	char detail[96];

	if (argc != 3 || !cli_is_name(argv[1]) ||
	    (strcmp(argv[2], "yes") && strcmp(argv[2], "no")))
		return cli_usage(c, "user", &user_cmds[6]);
	u.name = argv[1];
	if (!strcmp(argv[2], "yes"))
		u.set = AUTHDB_USER_ADMIN;
	else
		u.clear = AUTHDB_USER_ADMIN;
	snprintf(detail, sizeof(detail), "user admin %s %s", u.name, argv[2]);
	return cli_edit(c, do_user_flags, &u, detail);
}

int cmd_user(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "user", user_cmds,
			    sizeof(user_cmds) / sizeof(user_cmds[0]), argc - 1, argv + 1);
}

/* ---- passwd ----------------------------------------------------------- */

/* Prompt on the terminal and read without echo. */
static int read_tty(int tty, const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct termios old, noecho;
	int ret;

	if (tcgetattr(tty, &old) < 0)
		return -errno;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;
	/* Echo off before the prompt: whatever is typed after the prompt
	 * appears is never echoed (typeahead before it is discarded). */
	if (tcsetattr(tty, TCSAFLUSH, &noecho) < 0)
		return -errno;
	if (write(tty, prompt, strlen(prompt)) < 0) {
		ret = -errno;
		tcsetattr(tty, TCSAFLUSH, &old);
		return ret;
	}
	ret = cli_read_line(tty, buf, cap, len);
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		ret = ret ? ret : -errno;
	return ret;
}

struct passwd_arg {
	const char *user;
	struct scram_verifier v;
};

static int do_passwd(struct authdb *db, void *a)
{
	struct passwd_arg *p = a;

	return authdb_password_set(db, p->user, &p->v);
}

static const struct cli_cmd passwd_cmd = {
	"passwd", cmd_passwd, "[--stdin] [--iterations n] user", ""
};

int cmd_passwd(struct cli *c, int argc, char **argv)
{
	char pw[SCRAM_PASSWORD_MAX + 2], pw2[SCRAM_PASSWORD_MAX + 2];
	char detail[96], *end;
	struct passwd_arg pa = { NULL };
	struct authdb *db;
	unsigned long iter = SCRAM_ITER_DEFAULT;
	size_t len = 0, len2 = 0;
	const char *why;
	bool from_stdin = false;
	int i, tty = -1, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stdin")) {
			from_stdin = true;
		} else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
			iter = strtoul(argv[++i], &end, 10);
			if (*end || iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX)
				return cli_fail(c, 0, "iterations must be %d to %d",
						SCRAM_ITER_MIN, SCRAM_ITER_MAX);
		} else if (!pa.user && argv[i][0] != '-') {
			pa.user = argv[i];
		} else {
			return cli_usage(c, NULL, &passwd_cmd);
		}
	}
	if (!pa.user || !cli_is_name(pa.user))
		return cli_usage(c, NULL, &passwd_cmd);
	/* Fail early, before asking for a password, if the user is unknown. */
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	ret = authdb_user_flags(db, pa.user, NULL);
	authdb_free(db);
	if (ret)
		return cli_fail(c, ret, "user '%s'", pa.user);

	if (from_stdin) {
		ret = cli_read_line(STDIN_FILENO, pw, sizeof(pw), &len);
	} else {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty < 0)
			return cli_fail(c, -errno, "no terminal to read the password "
					"from (use --stdin)");
		ret = read_tty(tty, "New password: ", pw, sizeof(pw), &len);
		if (!ret)
			ret = read_tty(tty, "Retype new password: ", pw2, sizeof(pw2),
				       &len2);
		close(tty);
		if (!ret && (len != len2 || memcmp(pw, pw2, len))) {
			fprintf(stderr, "%s: passwords do not match\n", c->prog);
			ret = CLI_WEAK;
			goto out;
		}
	}
	if (ret == -EMSGSIZE) {
		fprintf(stderr, "%s: password refused: longer than %d bytes\n",
			c->prog, SCRAM_PASSWORD_MAX);
		ret = CLI_WEAK;
		goto out;
	}
	if (ret) {
		ret = cli_fail(c, ret, "cannot read the password");
		goto out;
	}
	if (pwcheck(pa.user, pw, len, &why)) {
		fprintf(stderr, "%s: password refused: %s\n", c->prog, why);
		ret = CLI_WEAK;
		goto out;
	}
	ret = scram_verifier_make(pw, len, (uint32_t)iter, &pa.v);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(pw2, sizeof(pw2));
	if (ret) {
		ret = cli_fail(c, ret, "cannot derive the verifier");
		goto out;
	}
	snprintf(detail, sizeof(detail), "passwd %s", pa.user);
	ret = cli_edit(c, do_passwd, &pa, detail);
out:
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(pw2, sizeof(pw2));
	scram_verifier_wipe(&pa.v);
	return ret;
}

/* ---- group ------------------------------------------------------------ */

struct group_arg {
	const char *group;
	const char *user;
	bool add;
};

static int do_group_add(struct authdb *db, void *a)
{
	return authdb_group_add(db, ((struct group_arg *)a)->group);
}

static int do_group_del(struct authdb *db, void *a)
{
	return authdb_group_del(db, ((struct group_arg *)a)->group, NULL);
}

static int do_group_member(struct authdb *db, void *a)
{
	struct group_arg *g = a;

	return authdb_group_member(db, g->group, g->user, g->add);
}

static int group_add(struct cli *c, int argc, char **argv);
static int group_member_cmd(struct cli *c, int argc, char **argv);
static int group_list(struct cli *c, int argc, char **argv);

static const struct cli_cmd group_cmds[] = {
	{ "add", group_add, "name", "add a group" },
	{ "del", group_add, "name", "delete a group and its grants" },
	{ "member", group_member_cmd, "group add|del user", "add or remove a member" },
	{ "list", group_list, "", "list groups and members" },
};

static int group_add(struct cli *c, int argc, char **argv)
{
	bool add = !strcmp(argv[0], "add");
	struct group_arg g = { NULL };
	char detail[96];

	if (argc != 2 || !cli_is_name(argv[1]))
		return cli_usage(c, "group", &group_cmds[add ? 0 : 1]);
	g.group = argv[1];
	snprintf(detail, sizeof(detail), "group %s %s", argv[0], g.group);
	return cli_edit(c, add ? do_group_add : do_group_del, &g, detail);
}

static int group_member_cmd(struct cli *c, int argc, char **argv)
{
	struct group_arg g = { NULL };
	char detail[128];

	if (argc != 4 || !cli_is_name(argv[1]) || !cli_is_name(argv[3]) ||
	    (strcmp(argv[2], "add") && strcmp(argv[2], "del")))
		return cli_usage(c, "group", &group_cmds[2]);
	g.group = argv[1];
	g.add = !strcmp(argv[2], "add");
	g.user = argv[3];
	snprintf(detail, sizeof(detail), "group member %s %s %s", g.group, argv[2],
		 g.user);
	return cli_edit(c, do_group_member, &g, detail);
}

static int print_group(const struct authdb_group_info *g, void *ud)
{
	size_t i;

	printf("%s", g->name);
	for (i = 0; i < g->nmembers; i++)
		printf(" %s", g->members[i]);
	putchar('\n');
	return 0;
}

static int group_list(struct cli *c, int argc, char **argv)
{
	struct authdb *db;
	int ret;

	if (argc != 1)
		return cli_usage(c, "group", &group_cmds[3]);
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	authdb_each_group(db, print_group, NULL);
	authdb_free(db);
	return CLI_OK;
}

int cmd_group(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "group", group_cmds,
			    sizeof(group_cmds) / sizeof(group_cmds[0]), argc - 1,
			    argv + 1);
}
