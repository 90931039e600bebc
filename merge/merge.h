/* SPDX-License-Identifier: MIT */
/*
 * The merge core: one host over several controllers (seamless mode, issue
 * 18). Index 0 is the local radio (the laptop's own controller); 1.. are
 * gateways (a tunnel to bgw-muxd, which filters per user: the merge does not
 * care). The host sees ONE controller: the local radio's identity, one
 * handle space, one buffer pool, discovery and connections on every side.
 * The rule each command and event follows is in doc/seamless.md.
 *
 * No sockets and no crypto, like the mux core: a controller is reached
 * through its send callback and feeds the core with merge_ctrl_input(); the
 * host gives H4 packets with merge_host_input() and receives H4 packets
 * through the emit callback.
 *
 *	struct merge *m = merge_new(loop, &cfg, host_emit, host);
 *	merge_add_ctrl(m, MERGE_LOCAL, local_send, radio);	// index 0
 *	merge_add_ctrl(m, MERGE_GATEWAY, gw_send, tunnel);	// index 1
 *	merge_ctrl_up(m, 0);	merge_ctrl_up(m, 1);
 *	...	merge_ctrl_input(m, 1, h4, len);	// from the gateway
 *	...	merge_host_input(m, h4, len);		// from the host
 *	merge_ctrl_down(m, 1);	// tunnel lost: its links end (0x08)
 *
 * Re-entrancy: no callback may call back into the core synchronously (no
 * merge_ctrl_input() from a send callback, no merge_host_input() from emit).
 * The simulated controller and the daemons' queues deliver from the loop.
 */
#ifndef BGW_MERGE_H
#define BGW_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define MERGE_MAX_CTRL		8	/* local radio + up to 7 gateways */

struct merge;

enum merge_role {
	MERGE_LOCAL = 0,	/* the host's own radio: identity, scans, adv */
	MERGE_GATEWAY,		/* a remote house */
};

/* Sends one H4 packet (command, ACL, SCO) to a controller. */
typedef int (*merge_send_fn)(const uint8_t *h4, size_t len, void *user);
/* Emits one H4 packet (event, ACL, SCO) to the host. */
typedef int (*merge_emit_fn)(const uint8_t *h4, size_t len, void *user);

struct merge_config {
	/* A controller that does not answer a command within this fails. 0: 5000. */
	unsigned cmd_timeout_ms;
	/*
	 * A controller failed on its own (command timeout, refused init):
	 * the merge treats it as down; the owner closes its transport and
	 * calls merge_ctrl_up() when it is back. May be NULL.
	 */
	void (*ctrl_failed)(struct merge *m, unsigned idx, int err, void *user);
	/*
	 * The unit of Periodic Inquiry Mode's periods (Vol 4 Part E 7.1.3:
	 * 1.28 s), which the merge times itself. 0: 1 280 000 us. Tests
	 * shrink it with their simulated controllers' time.
	 */
	unsigned inquiry_unit_us;
};

/* loop is used for the command timers. user is given to emit and ctrl_failed. */
struct merge *merge_new(struct loop *l, const struct merge_config *cfg,
			merge_emit_fn emit, void *user);
void merge_free(struct merge *m);

/*
 * Add a controller; returns its index or a negative errno. The first must
 * be MERGE_LOCAL (index 0), the others MERGE_GATEWAY (-EINVAL otherwise),
 * at most MERGE_MAX_CTRL (-ENOSPC). It starts down.
 */
int merge_add_ctrl(struct merge *m, enum merge_role role, merge_send_fn send,
		   void *user);

/* The transport is open: the merge initialises the controller. */
void merge_ctrl_up(struct merge *m, unsigned idx);
/*
 * The transport is lost. A gateway's links end with Disconnection Complete
 * (0x08, Connection Timeout) and its devices are forgotten; the local radio
 * going down gives the host a Hardware Error (another one when it is back,
 * so the host initialises again).
 */
void merge_ctrl_down(struct merge *m, unsigned idx);
/* One complete H4 packet from controller idx. -EBADMSG if malformed, -ENODEV. */
int merge_ctrl_input(struct merge *m, unsigned idx, const uint8_t *h4, size_t len);

/*
 * One complete H4 packet from the host. Returns 0 (also when the packet
 * was refused with an HCI status), -EBADMSG if malformed (logged, dropped),
 * -EPROTO for a packet type a host may not send.
 */
int merge_host_input(struct merge *m, const uint8_t *h4, size_t len);

/* Initialised and answering. */
bool merge_ctrl_is_ready(const struct merge *m, unsigned idx);

struct merge_stats {
	unsigned links;			/* host-visible connections */
	unsigned devices;		/* remembered device -> side entries */
	unsigned host_acl_inflight;	/* host packets not yet completed */
	unsigned ctrl_acl_inflight[MERGE_MAX_CTRL];
	unsigned dropped_dups;		/* reports dropped: seen on another side */
	unsigned bad_ctrl;		/* controller packets refused */
	unsigned bad_host;		/* host packets refused */
};
void merge_get_stats(const struct merge *m, struct merge_stats *st);

/* Which controller a host-visible handle lives on; -ENOENT if none. */
int merge_handle_ctrl(const struct merge *m, uint16_t vhandle);

#endif /* BGW_MERGE_H */
