/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the btsnoop reader: the input is a whole file. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "btsnoop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static uint8_t buf[SNOOP_MAX_RECORD];
	struct snoop_reader *r;
	struct snoop_rec rec;
	FILE *f;
	int i;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/bgw-fuzz-snoop.%d", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (snoop_reader_open(&r, path))
		return 0;
	/* Bounded: a record is at least 25 bytes, so size/25 + 1 reads. */
	for (i = 0; i <= (int)(size / 25); i++)
		if (snoop_read(r, buf, sizeof(buf), &rec) <= 0)
			break;
	snoop_reader_close(r);
	return 0;
}
