/* SPDX-License-Identifier: MIT */
/*
 * bgw-authdb bond list, bond forget: the household bond store
 * (bgw-bonds(5)) that bgw-muxd keeps. Keys are never printed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bonds.h"
#include "cli.h"

static int bond_list(struct cli *c, int argc, char **argv);
static int bond_forget(struct cli *c, int argc, char **argv);

static const struct cli_cmd bond_cmds[] = {
	{ "list", bond_list, "",
	  "list the household bonds: device, who paired it, when, which keys" },
	{ "forget", bond_forget, "address [public|random]",
	  "forget a device's bond, so that the next pairing makes a new one" },
};

#define NBOND_CMDS (sizeof(bond_cmds) / sizeof(bond_cmds[0]))

int cmd_bond(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "bond", bond_cmds, NBOND_CMDS, argc - 1, argv + 1);
}

/* The store, refused with the parser's line-numbered reason (exit 3). */
static int load(const struct cli *c, struct bonds **b)
{
	char err[BONDS_ERR_MAX];
	int ret = bonds_load(c->bonds_path, b, err, sizeof(err));

	if (ret == 0)
		return CLI_OK;
	fprintf(stderr, "%s: bond store refused: %s\n", c->prog, err);
	return ret == -EINVAL || ret == -EPERM || ret == -EFBIG ? CLI_INVALID : CLI_ERROR;
}

static void when(int64_t at, char *buf, size_t cap)
{
	time_t t = (time_t)at;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, cap, "%lld", (long long)at);
}

static int bond_list(struct cli *c, int argc, char **argv)
{
	struct bonds *b = NULL;
	char a[BDADDR_STRLEN], w[32];
	unsigned i;
	int ret;

	if (argc != 1)
		return cli_usage(c, "bond", &bond_cmds[0]);
	ret = load(c, &b);
	if (ret)
		return ret;
	for (i = 0; i < bonds_count(b); i++) {
		const struct bond *x = bonds_at(b, i);

		when(x->at, w, sizeof(w));
		printf("%s %s by %s at %s", bdaddr_fmt(&x->addr, a),
		       x->type == BDADDR_RANDOM ? "random" : "public", x->by, w);
		if (x->has_lk)
			printf(", BR/EDR link key (type %u)", x->lk_type);
		if (x->has_ltk)
			printf(", LE LTK (%u octets, %s)", x->key_size,
			       x->authenticated ? "authenticated" : "unauthenticated");
		if (x->has_irk)
			printf(", IRK");
		if (x->has_pltk)
			printf(", LE LTK for the device as central");
		printf("\n");
	}
	bonds_free(b);
	return CLI_OK;
}

static int bond_forget(struct cli *c, int argc, char **argv)
{
	struct bonds *b = NULL;
	struct bdaddr a;
	char as[BDADDR_STRLEN], detail[64];
	uint8_t type = BDADDR_PUBLIC;
	int ret, lock;

	if (argc != 2 && argc != 3)
		return cli_usage(c, "bond", &bond_cmds[1]);
	if (bdaddr_parse(argv[1], &a) < 0)
		return cli_fail(c, 0, "'%s' is not an address (XX:XX:XX:XX:XX:XX)", argv[1]);
	if (argc == 3) {
		if (!strcmp(argv[2], "random"))
			type = BDADDR_RANDOM;
		else if (strcmp(argv[2], "public"))
			return cli_fail(c, 0, "address type '%s': public or random", argv[2]);
	}
	ret = cli_audit_ready(c);
	if (ret)
		return ret;
	/* bgw-muxd's monitor takes the same lock to add a bond. */
	lock = authdb_lock(c->bonds_path);
	if (lock < 0)
		return cli_fail(c, lock, "cannot lock %s.lock", c->bonds_path);
	ret = load(c, &b);
	if (ret) {
		authdb_unlock(lock);
		return ret;
	}
	bdaddr_fmt(&a, as);
	ret = bonds_forget(b, &a, type);
	if (ret) {
		fprintf(stderr, "%s: %s %s has no household bond (bond list shows those there are)\n",
			c->prog, as, type == BDADDR_RANDOM ? "random" : "public");
		bonds_free(b);
		authdb_unlock(lock);
		return CLI_NOTFOUND;
	}
	ret = bonds_save(b, c->bonds_path);
	bonds_free(b);
	authdb_unlock(lock);
	if (ret)
		return cli_fail(c, ret, "%s not written, nothing changed", c->bonds_path);
	printf("forgot the household bond of %s %s: make the device forget the gateway "
	       "too, then the next user's pairing makes a new one\n", as,
	       type == BDADDR_RANDOM ? "random" : "public");
	snprintf(detail, sizeof(detail), "bond forget %s %s", as,
		 type == BDADDR_RANDOM ? "random" : "public");
	return cli_audit_event(c, AUDIT_BOND_FORGET, as, detail);
}
