/* SPDX-License-Identifier: MIT */
/* bgw-authdb allow, deny: who may see and connect to which remote device. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hex.h"

struct acl_arg {
	const char *principal;
	struct bdaddr addr;
	uint8_t type;
	const char *label;
	bool has_irk;
	uint8_t irk[AUTHDB_IRK_LEN];
	/* out */
	bool relabelled;
	bool irk_replaced;
	char old_label[AUTHDB_LABEL_MAX + 1];
	struct authdb_removed removed;
};

static int find_allow(const struct authdb_allow_info *a, void *ud)
{
	const struct acl_arg *x = ud;

	return !strcmp(a->principal, x->principal) && a->type == x->type &&
	       bdaddr_eq(&a->addr, &x->addr);
}

/* The user or @group named must exist: -ENOENT with its message. */
static int check_principal(struct cli *c, struct authdb *db, const char *p)
{
	if (p[0] == '@')
		return cli_group_exists(db, p + 1) ? 0 : cli_no_group(c, p + 1);
	return authdb_user_flags(db, p, NULL) ? cli_no_user(c, p) : 0;
}

static const char *type_str(uint8_t type)
{
	return type == BDADDR_RANDOM ? "random" : "public";
}

static int do_allow(struct cli *c, struct authdb *db, void *a)
{
	struct acl_arg *x = a;
	struct authdb_rd rd;
	char s[BDADDR_STRLEN];
	bool granted, known, same_label, same_irk;
	int ret;

	ret = check_principal(c, db, x->principal);
	if (ret)
		return ret;
	known = !authdb_rd_lookup(db, &x->addr, x->type, &rd);
	granted = authdb_each_allow(db, find_allow, x) == 1;
	same_label = !x->label || (known && !strcmp(rd.label, x->label));
	same_irk = !x->has_irk ||
		   (known && rd.has_irk && !memcmp(rd.irk, x->irk, AUTHDB_IRK_LEN));
	/* Labels belong to the device, not the grant: every user granted it
	 * sees the same one, so a change is said, never silent. */
	if (!same_label && known && rd.label[0]) {
		x->relabelled = true;
		snprintf(x->old_label, sizeof(x->old_label), "%s", rd.label);
	}
	x->irk_replaced = !same_irk && known && rd.has_irk;
	explicit_bzero(&rd, sizeof(rd));	/* the IRK tracks the device */
	if (granted && same_label && same_irk)
		return cli_say(c, -EEXIST, "%s may already use %s %s (bgw-authdb "
			       "user show lists a user's devices)", x->principal,
			       bdaddr_fmt(&x->addr, s), type_str(x->type));
	ret = authdb_allow(db, x->principal, &x->addr, x->type, x->label,
			   x->has_irk ? x->irk : NULL);
	if (ret == -EINVAL && x->label)
		return cli_say(c, ret, "bad label: at most %d bytes of UTF-8 "
			       "without control characters", AUTHDB_LABEL_MAX);
	return ret;
}

static int do_deny(struct cli *c, struct authdb *db, void *a)
{
	struct acl_arg *x = a;
	struct authdb_rd rd;
	char s[BDADDR_STRLEN];
	int ret;

	ret = check_principal(c, db, x->principal);
	if (ret)
		return ret;
	if (!authdb_rd_lookup(db, &x->addr, x->type, &rd))
		snprintf(x->old_label, sizeof(x->old_label), "%s", rd.label);
	explicit_bzero(&rd, sizeof(rd));
	ret = authdb_deny(db, x->principal, &x->addr, x->type, &x->removed);
	if (ret == -ENOENT)
		return cli_say(c, ret, "%s has no grant for %s %s (bgw-authdb user "
			       "show lists a user's devices)", x->principal,
			       bdaddr_fmt(&x->addr, s), type_str(x->type));
	return ret;
}

/*
 * argv: principal address type [label]; label only if allow_label.
 * -1: wrong number of arguments (the caller prints the usage); else the
 * exit status, a bad value already described.
 */
static int parse_acl(struct cli *c, int argc, char **argv, bool allow_label,
		     struct acl_arg *x)
{
	const char *name, *what;

	memset(x, 0, sizeof(*x));
	if (argc < 4 || argc > (allow_label ? 5 : 4))
		return -1;
	x->principal = argv[1];
	what = x->principal[0] == '@' ? "group" : "user";
	name = x->principal[0] == '@' ? x->principal + 1 : x->principal;
	if (!cli_is_name(name))
		return cli_bad_name(c, what, name);
	if (bdaddr_parse(argv[2], &x->addr))
		return cli_fail(c, 0, "bad address '%s': six hex bytes, "
				"XX:XX:XX:XX:XX:XX", argv[2]);
	/* The type is required: public and random are different devices,
	 * and a mistyped type must not become a label. */
	if (!strcmp(argv[3], "public"))
		x->type = BDADDR_PUBLIC;
	else if (!strcmp(argv[3], "random"))
		x->type = BDADDR_RANDOM;
	else
		return cli_fail(c, 0, "bad address type '%s': public (also every "
				"BR/EDR address) or random (an LE static address)",
				argv[3]);
	if (argc == 5)
		x->label = argv[4];
	return 0;
}

/*
 * The device's IRK from stdin (an IRK lets its holder follow the device
 * behind its private addresses: not for argv). 32 hex digits, most
 * significant byte first.
 */
static int read_irk(struct cli *c, uint8_t irk[AUTHDB_IRK_LEN])
{
	char line[2 * AUTHDB_IRK_LEN + 2];
	size_t len = 0, n = 0;
	int ret;

	ret = cli_read_line(STDIN_FILENO, line, sizeof(line), &len);
	if (!ret && (len != 2 * AUTHDB_IRK_LEN ||
		     hex_decode(line, len, irk, AUTHDB_IRK_LEN, &n) || n != AUTHDB_IRK_LEN))
		ret = -EINVAL;
	explicit_bzero(line, sizeof(line));
	if (ret)
		fprintf(stderr, "%s: --irk-stdin: expected one line of 32 hex digits\n",
			c->prog);
	return ret;
}

static int acl(struct cli *c, int argc, char **argv, bool allow)
{
	const struct cli_cmd *cmd = cli_command(c, allow ? "allow" : "deny");
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
			return cli_usage(c, NULL, cmd);
	}
	ret = parse_acl(c, n, args, allow, &x);
	if (ret < 0 && n == 3)
		fprintf(stderr, "%s: %s: the address type is required after the "
			"address: public or random\n", c->prog, cmd->name);
	if (ret < 0)
		return cli_usage(c, NULL, cmd);
	if (ret)
		return ret;
	if (irk) {
		if (read_irk(c, x.irk))
			return CLI_USAGE;
		x.has_irk = true;
	}
	bdaddr_fmt(&x.addr, a);
	snprintf(detail, sizeof(detail), "%s %s %s %s", allow ? "allow" : "deny",
		 x.principal, a, type_str(x.type));
	ret = cli_edit(c, allow ? do_allow : do_deny, &x, detail);
	explicit_bzero(x.irk, sizeof(x.irk));
	if (ret)
		return ret;
	if (x.relabelled)
		printf("label of %s %s changed: \"%s\" -> \"%s\" (every user "
		       "granted the device sees the new one)\n", a, type_str(x.type),
		       x.old_label, x.label);
	if (x.irk_replaced)
		printf("IRK of %s %s replaced (the old one no longer resolves its "
		       "private addresses)\n", a, type_str(x.type));
	if (x.removed.devices)
		printf("removed the device line of %s %s%s%s%s: no grant to it is "
		       "left\n", a, type_str(x.type), x.old_label[0] ? " (\"" : "",
		       x.old_label, x.old_label[0] ? "\")" : "");
	return CLI_OK;
}

int cmd_allow(struct cli *c, int argc, char **argv)
{
	return acl(c, argc, argv, true);
}

int cmd_deny(struct cli *c, int argc, char **argv)
{
	return acl(c, argc, argv, false);
}
