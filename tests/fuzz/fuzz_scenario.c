/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the bgw-sim scenario parser (bgw-sim(5)): the input
 * is a whole file, parsed by sim_house_parse_buf(), the code
 * sim_house_load() runs.
 */
#include "config.h"

#include <stdlib.h>

#include "log.h"
#include "sim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int prio, const char *line, void *user)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_house *h = NULL;
	char err[256];

	log_set_handler(quiet, NULL);
	if (sim_house_parse_buf("fuzz", (const char *)data, size, &h, err,
				sizeof(err)) == 0)
		sim_house_free(h);
	return 0;
}
