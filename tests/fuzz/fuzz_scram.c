/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the SCRAM server: the input is split at the first
 * 0xff byte into client-first and client-final, which go through the real
 * server state machine with a fixed verifier and channel binding on or
 * off (first byte's low bit).
 *
 * cflags: -I authdb
 */
#include "config.h"

#include <string.h>

#include "scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cb[32] = { 1, 2, 3 };
	static struct scram_verifier v;
	struct scram_server *s;
	const uint8_t *sep;
	char out[SCRAM_MSG_MAX + 1];
	size_t n1, olen;

	if (!v.salt_len) {
		static const uint8_t salt[16] = { 9 };

		scram_verifier_derive("pencil", 6, salt, sizeof(salt), 4096, &v);
	}
	if (size < 1)
		return 0;
	sep = memchr(data + 1, 0xff, size - 1);
	n1 = sep ? (size_t)(sep - (data + 1)) : size - 1;
	if (scram_server_new(&s, data[0] & 1 ? cb : NULL, data[0] & 1 ? 32 : 0,
			     "servernonce"))
		return 0;
	if (!scram_server_recv_first(s, (const char *)data + 1, n1) &&
	    !scram_server_first(s, &v, data[0] & 2, out, sizeof(out), &olen) && sep)
		scram_server_final(s, (const char *)sep + 1,
				   size - (size_t)(sep + 1 - data), out, sizeof(out),
				   &olen);
	scram_server_free(s);
	return 0;
}
