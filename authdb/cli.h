/* SPDX-License-Identifier: MIT */
/* bgw-authdb internals shared by the subcommand files. */
#ifndef BGW_AUTHDB_CLI_H
#define BGW_AUTHDB_CLI_H

#include <stdbool.h>

#include "authdb.h"

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
	const char *db_path;
	const char *audit_path;
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *args;	/* for usage */
	const char *help;	/* one line */
};

/* Dispatch argv[0] through a table; prints the table on error. */
int cli_dispatch(struct cli *c, const char *group, const struct cli_cmd *cmds,
		 size_t n, int argc, char **argv);
int cli_usage(const struct cli *c, const char *group, const struct cli_cmd *cmd);
/* Errno from the library -> exit status, with one message. */
int cli_fail(const struct cli *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Load the authdb read-only. missing_ok: an absent file is an empty table. */
int cli_load(const struct cli *c, struct authdb **db, bool missing_ok);
/*
 * The read-modify-write cycle: lock, load (absent: empty), fn, save,
 * audit record "detail" with our uid, unlock. fn returns 0 or -errno;
 * its messages are its own, cli_edit maps the errno to the exit status.
 */
int cli_edit(struct cli *c, int (*fn)(struct authdb *db, void *arg), void *arg,
	     const char *detail);
/* Record an authdb change in the audit log (warns on failure). */
int cli_audit_change(const struct cli *c, const char *detail);

bool cli_is_name(const char *s);
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

#endif
