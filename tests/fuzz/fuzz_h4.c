/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the HCI codec: the first input byte picks a packet
 * size cap; the rest is parsed as one packet, summarised, decoded as
 * Command Complete/Status, and fed as a stream in irregular chunks.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hci.h"
#include "hci_names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_pkt(const struct h4_pkt *p, void *user)
{
	struct h4_cc cc;
	struct h4_cs cs;
	size_t *n = user;
	volatile uint8_t sink = 0;
	size_t i;

	/* Touch every byte the view claims, so ASan checks the bounds. */
	for (i = 0; i < p->raw_len; i++)
		sink ^= p->raw[i];
	if (!h4_parse_cc(p, &cc))
		for (i = 0; i < cc.rlen; i++)
			sink ^= cc.ret[i];
	h4_parse_cs(p, &cs);
	(void)sink;
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 0, 64, 259, 1026, 70000 };
	struct h4_reader *r;
	struct h4_pkt p;
	char line[160];
	size_t cap, n = 0, off, chunk;
	uint8_t *copy;

	if (!size)
		return 0;
	cap = caps[data[0] % 5];
	data++;
	size--;

	/* Exact-size copy: any read past the end is an ASan report. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (!h4_parse(&p, copy, size, cap))
		on_pkt(&p, &n);
	hcistr_summary(line, sizeof(line), copy, size);

	r = h4_reader_new(cap);
	if (r) {
		for (off = 0; off < size; off += chunk) {
			chunk = 1 + (copy[off] % 17);
			if (chunk > size - off)
				chunk = size - off;
			if (h4_reader_feed(r, copy + off, chunk, on_pkt, &n) < 0)
				break;
		}
		h4_reader_free(r);
	}
	free(copy);
	return 0;
}
