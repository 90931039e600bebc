/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the merge core (merge/): the real core over two
 * simulated controllers (sim/: the default house as the local radio and
 * again as the gateway, time scaled down 10 000 times). The input is a list
 * of records:
 *
 *	u8 sel   bits 0-1: 0 the host, 1 the local controller, 2 the gateway
 *	         (raw controller input, as if that controller sent it), 3 an
 *	         action chosen by bits 2-3: let time pass, gateway down,
 *	         gateway up again, local down and up again
 *	         bit 6: a 16-bit length follows, else an 8-bit one
 *	u8/le16 length, then that many bytes (cut at the input's end)
 *
 * Besides the sanitizers, every packet the merge emits to the host that
 * carries a connection handle (ACL, SCO, Connection / Disconnection
 * Complete, Number Of Completed Packets, LE Connection Complete) must
 * name a handle of the host's space that is live at that moment (abort
 * otherwise): a controller's own number reaching the host would be a
 * cross-wired link.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci_defs.h"
#include "log.h"
#include "loop.h"
#include "merge.h"
#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct loop *lp;
static struct sim_air *air[2];
static struct sim_ctrl *sc[2];
static struct merge *mg;

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
	int i = (int)(intptr_t)user;

	return sc[i] ? sim_ctrl_input(sc[i], h4, len) : -EPIPE;
}

static void quiet(int prio, const char *line, void *user)
{
}

static void check_vh(uint16_t h)
{
	if (h < 0x0040 || merge_handle_ctrl(mg, h & 0x0fff) < 0)
		abort();
}

static int host_emit(const uint8_t *h4, size_t len, void *user)
{
	unsigned i, n;

	if (len >= 5 && (h4[0] == 0x02 || h4[0] == 0x03)) {
		check_vh(get_le16(h4 + 1) & 0x0fff);
		return 0;
	}
	if (len < 3 || h4[0] != 0x04)
		return 0;
	switch (h4[1]) {
	case HCI_EV_CONN_COMPLETE:
	case HCI_EV_DISCONN_COMPLETE:
		if (len >= 6 && h4[3] == 0)
			check_vh(get_le16(h4 + 4) & 0x0fff);
		break;
	case HCI_EV_NUM_COMP_PKTS:
		n = h4[3];
		for (i = 0; i < n && 4 + 4 * i + 2 <= len; i++)
			check_vh(get_le16(h4 + 4 + 4 * i) & 0x0fff);
		break;
	case HCI_EV_LE_META:
		if (len >= 7 && (h4[3] == 0x01 || h4[3] == 0x0a) && h4[4] == 0)
			check_vh(get_le16(h4 + 5) & 0x0fff);
		break;
	default:
		break;
	}
	return 0;
}

static void run(unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		loop_iterate(lp, 0);
}

static void ctrl_new(int i)
{
	sc[i] = sim_ctrl_new(air[i], NULL, i ? emit1 : emit0, NULL);
	if (!sc[i])
		abort();
}

static void wait_ready(unsigned i)
{
	unsigned k;

	for (k = 0; k < 200000 && !merge_ctrl_is_ready(mg, i); k++)
		loop_iterate(lp, 0);
}

static void action(unsigned a)
{
	switch (a) {
	case 0:
		run(4);
		break;
	case 1:
		sim_ctrl_free(sc[1]);
		sc[1] = NULL;
		merge_ctrl_down(mg, 1);
		break;
	case 2:
		if (!sc[1])
			ctrl_new(1);
		merge_ctrl_up(mg, 1);
		wait_ready(1);
		break;
	default:
		sim_ctrl_free(sc[0]);
		sc[0] = NULL;
		merge_ctrl_down(mg, 0);
		ctrl_new(0);
		merge_ctrl_up(mg, 0);
		wait_ready(0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_opts o = { .time_scale = 0.0001, .seed = 7 };
	/* Periodic inquiry's 1.28 s unit on the simulated time (scaled 10 000 times). */
	struct merge_config cfg = { .inquiry_unit_us = 128 };
	size_t off = 0, n;
	uint8_t sel;
	int i;

	log_set_handler(quiet, NULL);
	lp = loop_new();
	if (!lp)
		abort();
	for (i = 0; i < 2; i++) {
		air[i] = sim_air_new(lp, sim_house_default(), &o);
		if (!air[i])
			abort();
		ctrl_new(i);
	}
	mg = merge_new(lp, &cfg, host_emit, NULL);
	if (!mg || merge_add_ctrl(mg, MERGE_LOCAL, send_ctrl, (void *)0) != 0 ||
	    merge_add_ctrl(mg, MERGE_GATEWAY, send_ctrl, (void *)1) != 1)
		abort();
	merge_ctrl_up(mg, 0);
	merge_ctrl_up(mg, 1);
	wait_ready(0);
	wait_ready(1);
	if (!merge_ctrl_is_ready(mg, 0) || !merge_ctrl_is_ready(mg, 1))
		abort();

	while (off < size) {
		sel = data[off++];
		if ((sel & 3) == 3) {
			action((sel >> 2) & 3);
			continue;
		}
		if (sel & 0x40) {
			if (size - off < 2)
				break;
			n = get_le16(data + off);
			off += 2;
		} else {
			if (size - off < 1)
				break;
			n = data[off++];
		}
		if (n > size - off)
			n = size - off;
		if ((sel & 3) == 0)
			merge_host_input(mg, data + off, n);
		else
			merge_ctrl_input(mg, (sel & 3) - 1u, data + off, n);
		off += n;
	}
	run(5);

	merge_free(mg);
	for (i = 0; i < 2; i++) {
		sim_ctrl_free(sc[i]);
		sc[i] = NULL;
		sim_air_free(air[i]);
	}
	loop_free(lp);
	return 0;
}
