/* SPDX-License-Identifier: MIT */
/* bgw-authdb check, audit verify|show. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"

static int count_user(const struct authdb_user_info *u, void *ud)
{
	(*(unsigned *)ud)++;
	return 0;
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	struct cli local = *c;
	struct authdb *db;
	unsigned users = 0;
	int ret;

	if (argc > 2)
		return cli_usage(c, NULL, cli_command("check"));
	if (argc == 2)
		local.db_path = argv[1];
	ret = cli_load(&local, &db, false);
	if (ret)
		return ret;
	authdb_each_user(db, count_user, &users);
	printf("%s: ok, %u user%s\n", local.db_path, users, users == 1 ? "" : "s");
	authdb_free(db);
	return CLI_OK;
}

static int audit_verify_cmd(struct cli *c, int argc, char **argv);
static int audit_show_cmd(struct cli *c, int argc, char **argv);

static const struct cli_cmd audit_cmds[] = {
	{ "verify", audit_verify_cmd, "", "check the hash chain" },
	{ "show", audit_show_cmd, "", "print the records" },
};

static int audit_verify_cmd(struct cli *c, int argc, char **argv)
{
	unsigned long n = 0, bad = 0;
	char why[128], head[72];
	int ret;

	if (argc != 1)
		return cli_usage(c, "audit", &audit_cmds[0]);
	ret = audit_verify(c->audit_path, &n, &bad, why, sizeof(why), head);
	if (ret == -EBADMSG) {
		fprintf(stderr, "%s: %s:%lu: %s (%lu records before it are intact)\n",
			c->prog, c->audit_path, bad, why, n);
		return CLI_TAMPERED;
	}
	if (ret)
		return cli_fail(c, ret, "%s", c->audit_path);
	printf("%s: %lu records, chain intact, head %s\n", c->audit_path, n, head);
	return CLI_OK;
}

static int audit_show_cmd(struct cli *c, int argc, char **argv)
{
	unsigned long n = 0, bad = 0;
	char why[128], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int ret;

	if (argc != 1)
		return cli_usage(c, "audit", &audit_cmds[1]);
	f = fopen(c->audit_path, "re");
	if (!f)
		return cli_fail(c, -errno, "%s", c->audit_path);
	/* Records are printable ASCII by construction; a tampered line
	 * with control characters is shown with them replaced. */
	/* Whole lines (never split); one longer than a record is not
	 * printed, verify below names it. */
	while ((len = getline(&line, &cap, f)) > 0) {
		ssize_t i;

		if (len > AUDIT_RECORD_MAX + 1) {
			puts("[record too long, not shown]");
			continue;
		}
		for (i = 0; i < len; i++)
			if ((unsigned char)line[i] < 0x20 && line[i] != '\n')
				line[i] = '?';
		fwrite(line, 1, (size_t)len, stdout);
	}
	free(line);
	fclose(f);
	ret = audit_verify(c->audit_path, &n, &bad, why, sizeof(why), NULL);
	if (ret == -EBADMSG) {
		fprintf(stderr, "%s: %s:%lu: %s\n", c->prog, c->audit_path, bad, why);
		return CLI_TAMPERED;
	}
	return ret ? cli_fail(c, ret, "%s", c->audit_path) : CLI_OK;
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "audit", audit_cmds,
			    sizeof(audit_cmds) / sizeof(audit_cmds[0]), argc - 1,
			    argv + 1);
}
