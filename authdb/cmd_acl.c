/* SPDX-License-Identifier: MIT */
/* bgw-authdb allow, deny: who may see and connect to which remote device. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct acl_arg {
	const char *principal;
	struct bdaddr addr;
	uint8_t type;
	const char *label;
	bool has_irk;
	uint8_t irk[AUTHDB_IRK_LEN];
};

static int do_allow(struct authdb *db, void *a)
{
	struct acl_arg *x = a;

	return authdb_allow(db, x->principal, &x->addr, x->type, x->label,
			    x->has_irk ? x->irk : NULL);
}

static int do_deny(struct authdb *db, void *a)
{
	struct acl_arg *x = a;

	return authdb_deny(db, x->principal, &x->addr, x->type, NULL);
}

static const struct cli_cmd acl_cmds[] = {
	{ "allow", cmd_allow,
	  "user|@group address [public|random] [label] [--irk-stdin]", "" },
	{ "deny", cmd_deny, "user|@group address [public|random]", "" },
};

/* argv: principal address [type] [label]; label only if allow_label. */
static int parse_acl(struct cli *c, int argc, char **argv, bool allow_label,
		     struct acl_arg *x)
{
	const char *name;
	int i = 3;

	memset(x, 0, sizeof(*x));
	if (argc < 3)
		return -EINVAL;
	x->principal = argv[1];
	name = x->principal[0] == '@' ? x->principal + 1 : x->principal;
	if (!cli_is_name(name)) {
		fprintf(stderr, "%s: bad user or @group '%s'\n", c->prog, x->principal);
		return -EINVAL;
	}
	if (bdaddr_parse(argv[2], &x->addr)) {
		fprintf(stderr, "%s: bad address '%s' (XX:XX:XX:XX:XX:XX)\n", c->prog,
			argv[2]);
		return -EINVAL;
	}
	x->type = BDADDR_PUBLIC;
	if (i < argc && !strcmp(argv[i], "public")) {
		i++;
	} else if (i < argc && !strcmp(argv[i], "random")) {
		x->type = BDADDR_RANDOM;
		i++;
	}
	if (i < argc && allow_label)
		x->label = argv[i++];
	return i == argc ? 0 : -EINVAL;
}

/*
 * The device's IRK from stdin (an IRK lets its holder follow the device
 * behind its private addresses: not for argv). 32 hex digits, most
 * significant byte first.
 */
static int read_irk(struct cli *c, uint8_t irk[AUTHDB_IRK_LEN])
{
	char line[2 * AUTHDB_IRK_LEN + 2];
	size_t len, i;
	unsigned v = 0;
	int ret;

	ret = cli_read_line(STDIN_FILENO, line, sizeof(line), &len);
	if (!ret && len != 2 * AUTHDB_IRK_LEN)
		ret = -EINVAL;
	for (i = 0; !ret && i < len; i++)
		if (!isxdigit((unsigned char)line[i]))
			ret = -EINVAL;
	for (i = 0; !ret && i < AUTHDB_IRK_LEN; i++) {
		if (sscanf(line + 2 * i, "%2x", &v) != 1)
			ret = -EINVAL;
		irk[i] = (uint8_t)v;
	}
	explicit_bzero(line, sizeof(line));
	if (ret)
		fprintf(stderr, "%s: --irk-stdin: expected one line of 32 hex digits\n",
			c->prog);
	return ret;
}

static int acl(struct cli *c, int argc, char **argv, bool allow)
{
	char detail[160], a[BDADDR_STRLEN], *args[8];
	struct acl_arg x;
	bool irk = false;
	int i, n = 0, ret;

	/* --irk-stdin may come anywhere after the command word. */
	for (i = 0; i < argc; i++) {
		if (allow && i > 0 && !strcmp(argv[i], "--irk-stdin") && !irk)
			irk = true;
		else if (n < (int)(sizeof(args) / sizeof(args[0])))
			args[n++] = argv[i];
		else
			return cli_usage(c, NULL, &acl_cmds[allow ? 0 : 1]);
	}
	if (parse_acl(c, n, args, allow, &x))
		return cli_usage(c, NULL, &acl_cmds[allow ? 0 : 1]);
	if (irk) {
		if (read_irk(c, x.irk))
			return CLI_USAGE;
		x.has_irk = true;
	}
	snprintf(detail, sizeof(detail), "%s %s %s %s", allow ? "allow" : "deny",
		 x.principal, bdaddr_fmt(&x.addr, a),
		 x.type == BDADDR_RANDOM ? "random" : "public");
	ret = cli_edit(c, allow ? do_allow : do_deny, &x, detail);
	explicit_bzero(x.irk, sizeof(x.irk));
	return ret;
}

int cmd_allow(struct cli *c, int argc, char **argv)
{
	return acl(c, argc, argv, true);
}

int cmd_deny(struct cli *c, int argc, char **argv)
{
	return acl(c, argc, argv, false);
}
