/* SPDX-License-Identifier: MIT */
/*
 * bench-merge: what the merge core adds to a command round trip, in
 * process and in the same run: LE Rand (7.8.23, answered by the local
 * radio) sent N times straight to a simulated controller, then N times
 * through the merge core over that controller and a second one (the
 * gateway, idle). Prints p50/p99 of both and the difference, in
 * microseconds, on one "result merge-rtt ..." line.
 *
 *	tests/bench/bench-merge [N]		(default 20000)
 *
 * A measuring tool, not a test: nothing here asserts a timing. The
 * simulated controller answers from the event loop, so both figures carry
 * the same loop round; the difference is the merge's own work.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "merge.h"
#include "sim.h"

static struct loop *lp;
static struct sim_ctrl *sc[2];
static struct merge *mg;
static bool got;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_rand_cc(const uint8_t *h4, size_t len)
{
	return len >= 6 && h4[0] == H4_EVT && h4[1] == HCI_EV_CMD_COMPLETE &&
	       (h4[4] | h4[5] << 8) == HCI_OP_LE_RAND;
}

/* Direct: the sim's answers come here. */
static void direct_emit(const uint8_t *h4, size_t len, void *user)
{
	if (is_rand_cc(h4, len))
		got = true;
}

static void emit0(const uint8_t *h4, size_t len, void *user)
{
	merge_ctrl_input(mg, 0, h4, len);
}

static void emit1(const uint8_t *h4, size_t len, void *user)
{
	merge_ctrl_input(mg, 1, h4, len);
}

static int send_ctrl(const uint8_t *h4, size_t len, void *user)
{
	return sim_ctrl_input(sc[(intptr_t)user], h4, len);
}

static int host_emit(const uint8_t *h4, size_t len, void *user)
{
	if (is_rand_cc(h4, len))
		got = true;
	return 0;
}

static int one(bool via_merge, struct sim_ctrl *direct, uint64_t *us)
{
	uint8_t pkt[8];
	int n = h4_build_cmd(pkt, sizeof(pkt), HCI_OP_LE_RAND, NULL, 0);
	uint64_t t0 = loop_now_us();
	unsigned i;

	got = false;
	if (via_merge)
		merge_host_input(mg, pkt, (size_t)n);
	else
		sim_ctrl_input(direct, pkt, (size_t)n);
	for (i = 0; i < 100000 && !got; i++)
		loop_iterate(lp, 100);
	*us = loop_now_us() - t0;
	return got ? 0 : -ETIMEDOUT;
}

static void quiet(int prio, const char *line, void *user)
{
}

int main(int argc, char **argv)
{
	struct sim_opts o = { .time_scale = 1.0, .seed = 1 };
	struct merge_config cfg = { 0 };
	struct sim_air *air[2];
	struct sim_ctrl *direct;
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20000, i, k;
	uint64_t *t[2];
	int ret = 1;

	if (n < 10 || n > 1000000) {
		fprintf(stderr, "usage: bench-merge [N], 10 <= N <= 1000000\n");
		return 2;
	}
	log_set_handler(quiet, NULL);
	lp = loop_new();
	air[0] = sim_air_new(lp, sim_house_default(), &o);
	air[1] = sim_air_new(lp, sim_house_default(), &o);
	t[0] = calloc(n, sizeof(uint64_t));
	t[1] = calloc(n, sizeof(uint64_t));
	if (!lp || !air[0] || !air[1] || !t[0] || !t[1])
		return 1;
	direct = sim_ctrl_new(air[0], NULL, direct_emit, NULL);
	sc[0] = sim_ctrl_new(air[0], NULL, emit0, NULL);
	sc[1] = sim_ctrl_new(air[1], NULL, emit1, NULL);
	mg = merge_new(lp, &cfg, host_emit, NULL);
	if (!direct || !sc[0] || !sc[1] || !mg ||
	    merge_add_ctrl(mg, MERGE_LOCAL, send_ctrl, (void *)0) != 0 ||
	    merge_add_ctrl(mg, MERGE_GATEWAY, send_ctrl, (void *)1) != 1)
		goto out;
	merge_ctrl_up(mg, 0);
	merge_ctrl_up(mg, 1);
	for (i = 0; i < 100000 && !(merge_ctrl_is_ready(mg, 0) && merge_ctrl_is_ready(mg, 1)); i++)
		loop_iterate(lp, 10);
	/* Interleaved, so both see the same machine load. */
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++)
			if (one(k == 1, direct, &t[k][i]) < 0) {
				fprintf(stderr, "bench-merge: no answer to LE Rand\n");
				goto out;
			}
	for (k = 0; k < 2; k++)
		qsort(t[k], n, sizeof(uint64_t), cmp_u64);
	printf("result merge-rtt n=%u direct_p50_us=%" PRIu64 " direct_p99_us=%" PRIu64
	       " merge_p50_us=%" PRIu64 " merge_p99_us=%" PRIu64 " added_p50_us=%" PRId64 "\n",
	       n, t[0][n / 2], t[0][n * 99 / 100], t[1][n / 2], t[1][n * 99 / 100],
	       (int64_t)t[1][n / 2] - (int64_t)t[0][n / 2]);
	ret = 0;
out:
	merge_free(mg);
	sim_ctrl_free(direct);
	sim_ctrl_free(sc[0]);
	sim_ctrl_free(sc[1]);
	sim_air_free(air[0]);
	sim_air_free(air[1]);
	free(t[0]);
	free(t[1]);
	loop_free(lp);
	return ret;
}
