/* SPDX-License-Identifier: MIT */
/* bgw-authdb allow, deny: who may see and connect to which remote device. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct acl_arg {
	const char *principal;
	struct bdaddr addr;
	uint8_t type;
	const char *label;
};

static int do_allow(struct authdb *db, void *a)
{
	struct acl_arg *x = a;

	return authdb_allow(db, x->principal, &x->addr, x->type, x->label, NULL);
}

static int do_deny(struct authdb *db, void *a)
{
	struct acl_arg *x = a;

	return authdb_deny(db, x->principal, &x->addr, x->type);
}

static const struct cli_cmd acl_cmds[] = {
	{ "allow", cmd_allow, "user|@group address [public|random] [label]", "" },
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

static int acl(struct cli *c, int argc, char **argv, bool allow)
{
	char detail[160], a[BDADDR_STRLEN];
	struct acl_arg x;

	if (parse_acl(c, argc, argv, allow, &x))
		return cli_usage(c, NULL, &acl_cmds[allow ? 0 : 1]);
	snprintf(detail, sizeof(detail), "%s %s %s %s", allow ? "allow" : "deny",
		 x.principal, bdaddr_fmt(&x.addr, a),
		 x.type == BDADDR_RANDOM ? "random" : "public");
	return cli_edit(c, allow ? do_allow : do_deny, &x, detail);
}

int cmd_allow(struct cli *c, int argc, char **argv)
{
	return acl(c, argc, argv, true);
}

int cmd_deny(struct cli *c, int argc, char **argv)
{
	return acl(c, argc, argv, false);
}
