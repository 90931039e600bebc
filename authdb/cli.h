/* SPDX-License-Identifier: MIT */
/* bgw-authdb internals shared by the subcommand files (cli.c). */
#ifndef BGW_AUTHDB_CLI_H
#define BGW_AUTHDB_CLI_H

#include <limits.h>
#include <stdbool.h>

#include "audit.h"
#include "authdb.h"

/* The gateway's directory: authdb, CA, server certificate (see main()). */
#define CLI_DEFAULT_DIR		"/etc/bgw"

/* Exit status, documented in bgw-authdb(8) EXIT STATUS. */
enum {
	CLI_OK = 0,
	CLI_ERROR = 1,		/* I/O, crypto, anything else */
	CLI_USAGE = 2,		/* bad command line or argument value */
	CLI_INVALID = 3,	/* authdb refused: does not parse, unsafe owner/mode */
	CLI_NOTFOUND = 4,	/* no such user, group, grant or certificate */
	CLI_EXISTS = 5,		/* already exists */
	CLI_WEAK = 6,		/* password refused (weak or mismatch) */
	CLI_TAMPERED = 7,	/* audit log chain broken */
};

struct cli {
	const char *prog;
	const char *dir;	/* CA and server files; the authdb's default home */
	const char *db_path;
	const char *audit_path;
	const char *bonds_path;	/* the household bond store (bgw-bonds(5)) */
	char dir_buf[PATH_MAX];
	char db_buf[PATH_MAX];
	char audit_buf[PATH_MAX];
	char bonds_buf[PATH_MAX];
	char why[512];		/* an edit's own words for its failure (cli_say) */
	const struct cli_cmd *cmds;	/* the top-level command table (main's) */
	size_t ncmds;
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *args;	/* for usage */
	const char *help;	/* one line */
	bool group;		/* has subcommands (and answers --help itself) */
};

/* The top-level command table's entry (usage and help of a command). */
const struct cli_cmd *cli_command(const struct cli *c, const char *name);

/* Dispatch argv[0] through a table; prints the table on error. */
int cli_dispatch(struct cli *c, const char *group, const struct cli_cmd *cmds,
		 size_t n, int argc, char **argv);
int cli_usage(const struct cli *c, const char *group, const struct cli_cmd *cmd);
/* Errno from the library -> exit status, with one message. */
int cli_fail(const struct cli *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * For cli_edit's fn: say what went wrong and what to do, in place of
 * cli_edit's generic message; returns err (cli_edit maps it to the exit
 * status).
 */
int cli_say(struct cli *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Load the authdb read-only. missing_ok: an absent file is an empty table. */
int cli_load(const struct cli *c, struct authdb **db, bool missing_ok);
/*
 * The read-modify-write cycle: lock, load (absent: empty), fn, save,
 * audit record "detail" with our uid, unlock. fn returns 0 or -errno and
 * explains a failure with cli_say() (else "detail: strerror" is printed);
 * cli_edit maps the errno to the exit status. Nothing is saved on failure.
 */
int cli_edit(struct cli *c, int (*fn)(struct cli *c, struct authdb *db, void *arg),
	     void *arg, const char *detail);
/*
 * Before a change: can the audit log be written (its directory made, the
 * file opened)? CLI_OK, or CLI_ERROR with a message saying nothing was
 * changed.
 */
int cli_audit_ready(const struct cli *c);
/* Record an authdb change in the audit log (warns on failure). */
int cli_audit_change(const struct cli *c, const char *detail);
/* Record another event (rd: a device, or NULL) with our uid. */
int cli_audit_event(const struct cli *c, enum audit_event ev, const char *rd,
		    const char *detail);

/* For commands outside cli_edit: print what cli_say() stored. */
int cli_report(struct cli *c, int err);
/* cli_say() for an unknown user or group: -ENOENT. */
int cli_no_user(struct cli *c, const char *user);
int cli_no_group(struct cli *c, const char *group);
/* A malformed user or group name: the rule, exit status 2. */
int cli_bad_name(struct cli *c, const char *what, const char *name);

bool cli_is_name(const char *s);
bool cli_group_exists(const struct authdb *db, const char *group);
/*
 * One line from fd (without its newline) into buf, NUL-terminated. A line
 * longer than cap - 1 is refused (-EMSGSIZE), never cut; -ENODATA at EOF.
 */
int cli_read_line(int fd, char *buf, size_t cap, size_t *len);

int cmd_user(struct cli *c, int argc, char **argv);
int cmd_passwd(struct cli *c, int argc, char **argv);
int cmd_group(struct cli *c, int argc, char **argv);
int cmd_allow(struct cli *c, int argc, char **argv);
int cmd_deny(struct cli *c, int argc, char **argv);
int cmd_ca(struct cli *c, int argc, char **argv);
int cmd_cert(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_bond(struct cli *c, int argc, char **argv);

#endif
