/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the enrolment bundle reader (bundle_read), which
 * bgw-cdclient --bundle runs on a file it was handed: the input is the
 * whole file.
 *
 * cflags: -I auth
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "bundle.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int prio, const char *line, void *user)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct bundle b;
	FILE *f;

	log_set_handler(quiet, NULL);
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/bgw-fuzz-bundle.%d", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (bundle_read(path, &b) == 0)
		bundle_free(&b);
	return 0;
}
