/* SPDX-License-Identifier: MIT */
/*
 * fuzz-sim-house [FILE]: feeds FILE (or stdin, at most 1 MiB) line by line
 * to the scenario parser through its new/line/finish API, exactly as
 * sim_house_load does. Exit 0 whether or not the input parses: the fuzzer
 * looks for crashes and sanitizer reports, not verdicts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "rb") : stdin;
	struct sim_house *h = NULL;
	char err[256];
	char *buf;
	size_t n;

	if (!f)
		return 2;
	buf = malloc(1024 * 1024);
	if (!buf)
		return 2;
	n = fread(buf, 1, 1024 * 1024, f);
	if (sim_house_parse_buf("fuzz", buf, n, &h, err, sizeof(err)) == 0)
		sim_house_free(h);
	free(buf);
	if (f != stdin)
		fclose(f);
	return 0;
}
