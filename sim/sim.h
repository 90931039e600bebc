/* SPDX-License-Identifier: MIT */
/*
 * The simulated Bluetooth controller, in-process.
 *
 * A sim_air is one "house": the simulated remote devices (RDs) of a
 * scenario and the radio between them and every controller attached to it.
 * A sim_ctrl is one simulated controller in that air, talking H4 to one
 * host. Several controllers in one air see each other and the same RDs,
 * like BlueZ's btvirt.
 *
 * Contract (the mux and the tests rely on it):
 * - sim_ctrl_input() takes exactly one complete H4 packet from the host.
 *   It never calls the emit callback itself: every response is emitted
 *   later from the event loop, in order, as a real controller's would be.
 * - A malformed packet is answered as a controller would (e.g. Invalid HCI
 *   Command Parameters) or, if it cannot be framed, refused with -EBADMSG.
 * - Time runs at real speed times opts.time_scale (0.1 = ten times faster).
 */
#ifndef BGW_SIM_H
#define BGW_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdaddr.h"
#include "loop.h"

struct sim_house;
struct sim_air;
struct sim_ctrl;

struct sim_opts {
	double time_scale;	/* 1.0 = real time; 0 means 1.0 */
	uint16_t acl_mtu;	/* 0: default (1021) */
	uint16_t acl_pkts;	/* 0: default (8) */
	uint16_t le_mtu;	/* 0: default (251) */
	uint8_t le_pkts;	/* 0: default (8) */
	bool unlimited_radio;	/* no air-time limit on ACL (benchmarks) */
	uint32_t seed;		/* RSSI jitter and the like; 0: fixed default */
};

/* The built-in default house (door lock, thermometer, bulb, speaker, cuff). */
struct sim_house *sim_house_default(void);
/*
 * Load a scenario file (man/bgw-sim.5). On error returns a negative errno
 * and writes "FILE:LINE: message" into err.
 */
int sim_house_load(const char *path, struct sim_house **out,
		   char *err, size_t errlen);
void sim_house_free(struct sim_house *h);

/* Takes ownership of house. */
struct sim_air *sim_air_new(struct loop *l, struct sim_house *house,
			    const struct sim_opts *opts);
void sim_air_free(struct sim_air *a);

typedef void (*sim_emit_fn)(const uint8_t *h4, size_t len, void *user);

/* addr NULL: the air assigns the next free controller address. */
struct sim_ctrl *sim_ctrl_new(struct sim_air *a, const struct bdaddr *addr,
			      sim_emit_fn emit, void *user);
int sim_ctrl_input(struct sim_ctrl *c, const uint8_t *h4, size_t len);
void sim_ctrl_free(struct sim_ctrl *c);

#endif /* BGW_SIM_H */
