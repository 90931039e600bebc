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

#include "bonds.h"
#include "cli.h"
#include "pwcheck.h"
#include "scram.h"

/* ---- user ------------------------------------------------------------- */

struct user_arg {
	const char *name;
	const char *verb;	/* for the "already" message */
	unsigned set;
	unsigned clear;
	struct authdb_removed removed;
};

static int do_user_add(struct cli *c, struct authdb *db, void *a)
{
	struct user_arg *u = a;
	int ret = authdb_user_add(db, u->name, u->set);

	if (ret == -EEXIST)
		return cli_say(c, ret, "user '%s' already exists (bgw-authdb user "
			       "show %s)", u->name, u->name);
	return ret;
}

static int do_user_del(struct cli *c, struct authdb *db, void *a)
{
	struct user_arg *u = a;
	int ret = authdb_user_del(db, u->name, &u->removed);

	return ret == -ENOENT ? cli_no_user(c, u->name) : ret;
}

static int do_user_flags(struct cli *c, struct authdb *db, void *a)
{
	struct user_arg *u = a;
	unsigned flags;

	if (authdb_user_flags(db, u->name, &flags))
		return cli_no_user(c, u->name);
	/* Nothing to do is said, not recorded as a change. */
	if ((flags & u->set) == u->set && !(flags & u->clear))
		return cli_say(c, -EEXIST, "user '%s' is %s", u->name, u->verb);
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
	{ "del", user_del, "name",
	  "delete a user, its password, certificates, grants and memberships" },
	{ "list", user_list, "", "list users" },
	{ "show", user_show, "name", "show a user and the devices it may use" },
	{ "enable", user_enable, "name", "enable a user" },
	{ "disable", user_enable, "name", "disable a user (sessions end at reload)" },
	{ "admin", user_admin, "name yes|no", "grant or withdraw the admin role" },
};

static int user_add(struct cli *c, int argc, char **argv)
{
	struct user_arg u = { NULL };
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
		return cli_bad_name(c, "user", u.name);
	snprintf(detail, sizeof(detail), "user add %s", u.name);
	return cli_edit(c, do_user_add, &u, detail);
}

/* "2 grants" / "1 grant"; appended to buf after sep if n > 0. */
static void count_word(char *buf, size_t cap, bool *first, unsigned n,
		       const char *one, const char *many)
{
	size_t o = strlen(buf);

	if (!n)
		return;
	snprintf(buf + o, cap - o, "%s%u %s", *first ? "" : ", ", n,
		 n == 1 ? one : many);
	*first = false;
}

static int user_del(struct cli *c, int argc, char **argv)
{
	struct user_arg u = { NULL };
	char detail[96], what[160] = "";
	bool first = true;
	int ret;

	if (argc != 2)
		return cli_usage(c, "user", &user_cmds[1]);
	if (!cli_is_name(argv[1]))
		return cli_bad_name(c, "user", argv[1]);
	u.name = argv[1];
	snprintf(detail, sizeof(detail), "user del %s", u.name);
	ret = cli_edit(c, do_user_del, &u, detail);
	if (ret)
		return ret;
	if (u.removed.password) {
		snprintf(what, sizeof(what), "password");
		first = false;
	}
	count_word(what, sizeof(what), &first, u.removed.grants, "grant", "grants");
	count_word(what, sizeof(what), &first, u.removed.certs, "certificate",
		   "certificates");
	count_word(what, sizeof(what), &first, u.removed.groups,
		   "group membership", "group memberships");
	printf("removed user %s: %s", u.name, first ? "no password, grants, "
	       "certificates or group memberships" : what);
	if (u.removed.devices)
		printf("; %u device line%s left without a grant removed",
		       u.removed.devices, u.removed.devices == 1 ? "" : "s");
	putchar('\n');
	return CLI_OK;
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

/* A device, and its household bond if it has one (ud: the store or NULL). */
static int print_rd(const struct authdb_rd *rd, void *ud)
{
	const struct bond *b = bonds_find(ud, &rd->addr, rd->type);
	char a[BDADDR_STRLEN];

	printf("  device %s %s%s%s%s", bdaddr_fmt(&rd->addr, a),
	       rd->type == BDADDR_RANDOM ? "random" : "public",
	       rd->label[0] ? " \"" : "", rd->label, rd->label[0] ? "\"" : "");
	if (b)
		printf(" bonded by %s", b->by);
	printf("\n");
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
	char err[BONDS_ERR_MAX];
	struct bonds *bonds;
	struct show_ctx s;
	struct authdb *db;
	unsigned flags;
	int ret;

	if (argc != 2)
		return cli_usage(c, "user", &user_cmds[3]);
	if (!cli_is_name(argv[1]))
		return cli_bad_name(c, "user", argv[1]);
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	s.user = argv[1];
	if (authdb_user_flags(db, s.user, &flags)) {
		authdb_free(db);
		return cli_report(c, cli_no_user(c, s.user));
	}
	printf("user %s%s%s\n", s.user, flags & AUTHDB_USER_ADMIN ? " admin" : "",
	       flags & AUTHDB_USER_DISABLED ? " disabled" : "");
	authdb_each_group(db, print_group_of, &s);
	authdb_each_cert(db, print_cert_of, &s);
	/* Bonds are shown when the store can be read; its problems are bond list's to tell. */
	if (bonds_load(c->bonds_path, &bonds, err, sizeof(err)) < 0)
		bonds = NULL;
	authdb_user_rds(db, s.user, print_rd, bonds);
	bonds_free(bonds);
	authdb_free(db);
	return CLI_OK;
}

static int user_enable(struct cli *c, int argc, char **argv)
{
	bool enable = !strcmp(argv[0], "enable");
	struct user_arg u = { NULL };
	char detail[96];

	if (argc != 2)
		return cli_usage(c, "user", &user_cmds[enable ? 4 : 5]);
	if (!cli_is_name(argv[1]))
		return cli_bad_name(c, "user", argv[1]);
	u.name = argv[1];
	if (enable) {
		u.clear = AUTHDB_USER_DISABLED;
		u.verb = "already enabled";
	} else {
		u.set = AUTHDB_USER_DISABLED;
		u.verb = "already disabled";
	}
	snprintf(detail, sizeof(detail), "user %s %s", argv[0], u.name);
	return cli_edit(c, do_user_flags, &u, detail);
}

static int user_admin(struct cli *c, int argc, char **argv)
{
	struct user_arg u = { NULL };
	char detail[96];

	if (argc != 3 || (strcmp(argv[2], "yes") && strcmp(argv[2], "no")))
		return cli_usage(c, "user", &user_cmds[6]);
	if (!cli_is_name(argv[1]))
		return cli_bad_name(c, "user", argv[1]);
	u.name = argv[1];
	if (!strcmp(argv[2], "yes")) {
		u.set = AUTHDB_USER_ADMIN;
		u.verb = "already an admin";
	} else {
		u.clear = AUTHDB_USER_ADMIN;
		u.verb = "not an admin";
	}
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

static int do_passwd(struct cli *c, struct authdb *db, void *a)
{
	struct passwd_arg *p = a;
	int ret = authdb_password_set(db, p->user, &p->v);

	return ret == -ENOENT ? cli_no_user(c, p->user) : ret;
}

/*
 * Not from a terminal: the password is the first line of stdin; a second
 * line, if any, is the confirmation and must be the same (so both
 * "printf '%s\n' PW" and "printf '%s\n%s\n' PW PW" work); anything after
 * it is refused rather than ignored.
 */
static int read_stdin(struct cli *c, char *pw, char *pw2, size_t cap, size_t *len)
{
	size_t len2 = 0;
	ssize_t r;
	char ch;
	int ret;

	ret = cli_read_line(STDIN_FILENO, pw, cap, len);
	if (ret == -ENODATA)
		return cli_say(c, -EINVAL, "no password on standard input: give it "
			       "as one line (printf '%%s\\n' \"$PW\" | bgw-authdb "
			       "passwd USER), or run bgw-authdb passwd on a terminal");
	if (ret)
		return ret;
	ret = cli_read_line(STDIN_FILENO, pw2, cap, &len2);
	if (ret == -ENODATA)
		return 0;
	if (ret)
		return ret;
	if (len2 != *len || memcmp(pw, pw2, *len))
		return cli_say(c, -EBADMSG, "the two lines on standard input differ; "
			       "give the password once, or twice the same");
	do
		r = read(STDIN_FILENO, &ch, 1);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		return cli_say(c, -EINVAL, "more than two lines on standard input; "
			       "give the password once, or twice the same");
	return 0;
}

static int passwd_usage(struct cli *c)
{
	return cli_usage(c, NULL, cli_command(c, "passwd"));
}

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
				return cli_fail(c, 0, "--iterations: %d to %d",
						SCRAM_ITER_MIN, SCRAM_ITER_MAX);
		} else if (!pa.user && argv[i][0] != '-') {
			pa.user = argv[i];
		} else {
			return passwd_usage(c);
		}
	}
	if (!pa.user)
		return passwd_usage(c);
	if (!cli_is_name(pa.user))
		return cli_bad_name(c, "user", pa.user);
	/* Fail early, before asking for a password, if the user is unknown. */
	ret = cli_load(c, &db, false);
	if (ret)
		return ret;
	ret = authdb_user_flags(db, pa.user, NULL);
	authdb_free(db);
	if (ret)
		return cli_report(c, cli_no_user(c, pa.user));

	c->why[0] = '\0';
	if (from_stdin || !isatty(STDIN_FILENO)) {
		ret = read_stdin(c, pw, pw2, sizeof(pw), &len);
	} else {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty < 0) {
			ret = cli_fail(c, -errno, "cannot open the terminal to read "
				       "the password (pipe it in instead: printf "
				       "'%%s\\n' \"$PW\" | bgw-authdb passwd %s)",
				       pa.user);
			goto out;
		}
		ret = read_tty(tty, "New password: ", pw, sizeof(pw), &len);
		if (!ret)
			ret = read_tty(tty, "Retype new password: ", pw2, sizeof(pw2),
				       &len2);
		close(tty);
		if (!ret && (len != len2 || memcmp(pw, pw2, len))) {
			fprintf(stderr, "%s: the passwords do not match; nothing "
				"changed, try again\n", c->prog);
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
	if (ret == -EBADMSG) {
		ret = cli_report(c, ret);
		ret = CLI_WEAK;
		goto out;
	}
	if (ret && c->why[0]) {
		ret = cli_report(c, ret);
		goto out;
	}
	if (ret) {
		ret = cli_fail(c, ret, "cannot read the password");
		goto out;
	}
	if (pwcheck(pa.user, pw, len, &why)) {
		fprintf(stderr, "%s: password refused: %s; choose another\n",
			c->prog, why);
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
	struct authdb_removed removed;
};

static int do_group_add(struct cli *c, struct authdb *db, void *a)
{
	struct group_arg *g = a;
	int ret = authdb_group_add(db, g->group);

	if (ret == -EEXIST)
		return cli_say(c, ret, "group '%s' already exists (bgw-authdb group "
			       "list)", g->group);
	return ret;
}

static int do_group_del(struct cli *c, struct authdb *db, void *a)
{
	struct group_arg *g = a;
	int ret = authdb_group_del(db, g->group, &g->removed);

	return ret == -ENOENT ? cli_no_group(c, g->group) : ret;
}

static int do_group_member(struct cli *c, struct authdb *db, void *a)
{
	struct group_arg *g = a;
	int ret;

	if (!cli_group_exists(db, g->group))
		return cli_no_group(c, g->group);
	if (authdb_user_flags(db, g->user, NULL))
		return cli_no_user(c, g->user);
	ret = authdb_group_member(db, g->group, g->user, g->add);
	if (ret == -EEXIST)
		return cli_say(c, ret, "'%s' is already a member of '%s'", g->user,
			       g->group);
	if (ret == -ENOENT)
		return cli_say(c, ret, "'%s' is not a member of '%s' (bgw-authdb "
			       "group list)", g->user, g->group);
	return ret;
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
	int ret;

	if (argc != 2)
		return cli_usage(c, "group", &group_cmds[add ? 0 : 1]);
	if (!cli_is_name(argv[1]))
		return cli_bad_name(c, "group", argv[1]);
	g.group = argv[1];
	snprintf(detail, sizeof(detail), "group %s %s", argv[0], g.group);
	ret = cli_edit(c, add ? do_group_add : do_group_del, &g, detail);
	if (ret || add)
		return ret;
	printf("removed group %s: %u grant%s", g.group, g.removed.grants,
	       g.removed.grants == 1 ? "" : "s");
	if (g.removed.devices)
		printf("; %u device line%s left without a grant removed",
		       g.removed.devices, g.removed.devices == 1 ? "" : "s");
	putchar('\n');
	return CLI_OK;
}

static int group_member_cmd(struct cli *c, int argc, char **argv)
{
	struct group_arg g = { NULL };
	char detail[128];

	if (argc != 4 || (strcmp(argv[2], "add") && strcmp(argv[2], "del")))
		return cli_usage(c, "group", &group_cmds[2]);
	if (!cli_is_name(argv[1]))
		return cli_bad_name(c, "group", argv[1]);
	if (!cli_is_name(argv[3]))
		return cli_bad_name(c, "user", argv[3]);
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
