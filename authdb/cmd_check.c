/* SPDX-License-Identifier: MIT */
/* bgw-authdb check, audit verify|show. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
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
		return cli_usage(c, NULL, cli_command(c, "check"));
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
	{ "verify", audit_verify_cmd, "[--head count:hash]",
	  "check the MAC chain against its key, its anchor and a known head" },
	{ "show", audit_show_cmd, "", "print the records" },
};

/* The report of audit_verify(), shared by verify and show. */
static int audit_report(struct cli *c, int ret, const struct audit_report *rep,
			bool summary)
{
	if (ret == -EBADMSG) {
		if (rep->bad_line)
			fprintf(stderr, "%s: %s:%lu: %s (%lu records before it are intact)\n",
				c->prog, c->audit_path, rep->bad_line, rep->why,
				rep->bad_line - 1);
		else
			fprintf(stderr, "%s: %s: %s\n", c->prog, c->audit_path, rep->why);
		return CLI_TAMPERED;
	}
	if (ret)
		return cli_fail(c, ret, "%s", c->audit_path);
	if (rep->legacy)
		fprintf(stderr, "%s: warning: %s: records 1 to %lu are an unkeyed legacy "
			"log (written before the key existed): whoever could write the "
			"file could have rewritten them undetected\n", c->prog,
			c->audit_path, rep->legacy);
	if (rep->after_anchor)
		fprintf(stderr, "%s: warning: %s: %lu record%s after its anchor "
			"(a crash between the two writes?)\n", c->prog, c->audit_path,
			rep->after_anchor, rep->after_anchor == 1 ? "" : "s");
	if (summary)
		printf("%s: %lu records, chain intact, head %s%s\n", c->audit_path,
		       rep->nrecords, rep->head,
		       rep->anchor_seq ? ", matches its anchor" :
		       rep->nrecords ? ", no anchor (unkeyed legacy log)" : "");
	return CLI_OK;
}

static int audit_verify_cmd(struct cli *c, int argc, char **argv)
{
	struct audit_expect exp, *expp = NULL;
	struct audit_report rep;
	char *end;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "--head")) {
		/* COUNT:HASH, as the daemon logs it with every record. */
		errno = 0;
		exp.seq = strtoul(argv[2], &end, 10);
		if (errno || end == argv[2] || *end != ':' || strlen(end + 1) != AUDIT_HEX ||
		    strspn(end + 1, "0123456789abcdef") != AUDIT_HEX)
			return cli_fail(c, 0, "--head: COUNT:HASH (64 lower-case hex digits), "
					"as logged with each audit record");
		memcpy(exp.head, end + 1, AUDIT_HEX + 1);
		expp = &exp;
	} else if (argc != 1) {
		return cli_usage(c, "audit", &audit_cmds[0]);
	}
	ret = audit_verify(c->audit_path, expp, &rep);
	return audit_report(c, ret, &rep, true);
}

static int audit_show_cmd(struct cli *c, int argc, char **argv)
{
	struct audit_report rep;
	char *line = NULL;
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
	ret = audit_verify(c->audit_path, NULL, &rep);
	return audit_report(c, ret, &rep, false);
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "audit", audit_cmds,
			    sizeof(audit_cmds) / sizeof(audit_cmds[0]), argc - 1,
			    argv + 1);
}
