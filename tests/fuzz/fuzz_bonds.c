/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the household bond store's parser
 * (authdb/bonds.c): the input is a whole file, fed through
 * bonds_parse_buffer() (the code bonds_load() runs). When it parses,
 * every bond is looked up, the table is edited, and its serialised text
 * must parse again to the same text (the writer's guarantee).
 *
 * cflags: -I authdb -I auth
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bonds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bonds *b = NULL, *again = NULL;
	char err[BONDS_ERR_MAX], *text = NULL, *text2 = NULL;
	size_t len, len2;
	unsigned i;

	if (bonds_parse_buffer("fuzz", (const char *)data, size, &b, err, sizeof(err)))
		return 0;
	for (i = 0; i < bonds_count(b); i++) {
		const struct bond *x = bonds_at(b, i);

		if (!bonds_is_valid(x) || bonds_find(b, &x->addr, x->type) != x)
			abort();	/* the parser let through what set refuses */
	}
	if (bonds_serialize(b, &text, &len) ||
	    bonds_parse_buffer("again", text, len, &again, err, sizeof(err)) ||
	    bonds_serialize(again, &text2, &len2) || len != len2 ||
	    memcmp(text, text2, len) || bonds_count(again) != bonds_count(b))
		abort();
	if (bonds_count(b)) {
		struct bond x = *bonds_at(b, 0);

		if (bonds_forget(b, &x.addr, x.type) || bonds_set(b, &x))
			abort();
	}
	free(text);
	free(text2);
	bonds_free(again);
	bonds_free(b);
	return 0;
}
