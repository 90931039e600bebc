/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the authdb parser: the input is a whole file, fed
 * through authdb_parse_buffer() (the code authdb_load() runs). When it
 * parses, the queries run over it and the serialised text must parse
 * again to the same bytes (the writer's guarantee).
 *
 * cflags: -I authdb
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int prio, const char *line, void *user)
{
}

static int count_rd(const struct authdb_rd *rd, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static int each_user(const struct authdb_user_info *u, void *ud)
{
	struct authdb *db = ud;
	struct bdaddr a = { { 0x13, 0x71, 0xda, 0x7d, 0x1a, 0x00 } };
	int n = 0;

	authdb_user_may_access(db, u->name, &a, BDADDR_PUBLIC);
	authdb_user_rds(db, u->name, count_rd, &n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[32] = "fuzz";
	struct authdb *db = NULL, *again = NULL;
	struct scram_verifier v;
	char err[AUTHDB_ERR_MAX], *text = NULL, *text2 = NULL;
	size_t len, len2;
	bool real;

	log_set_handler(quiet, NULL);
	if (size > AUTHDB_FILE_MAX)
		return 0;
	if (authdb_parse_buffer("fuzz", (const char *)data, size, &db, err,
				sizeof(err)))
		return 0;
	authdb_each_user(db, each_user, db);
	authdb_scram_lookup(db, "alice", secret, sizeof(secret), &v, &real);
	authdb_serial_is_revoked(db, "7f");
	if (authdb_serialize(db, &text, &len) ||
	    authdb_parse_buffer("again", text, len, &again, err, sizeof(err)) ||
	    authdb_serialize(again, &text2, &len2) || len != len2 ||
	    memcmp(text, text2, len) || len != size || memcmp(text, data, size))
		abort();	/* the writer must reproduce what it read */
	free(text);
	free(text2);
	authdb_free(again);
	authdb_free(db);
	return 0;
}
