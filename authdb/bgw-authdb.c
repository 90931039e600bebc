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
	{ "ca", cmd_ca, "init|id|relay-key ...",
	  "create the gateway's CA and server certificate, show its home id, "
	  "certify a relay registration key", true },
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
	struct cli c = { .prog = "bgw-authdb", .cmds = commands,
			 .ncmds = NCOMMANDS };
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
