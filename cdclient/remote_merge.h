/* SPDX-License-Identifier: MIT */
/*
 * Seamless mode (bgw-cdclient --local, doc/seamless.md): an upstream made of
 * the laptop's own controller (index 0 of the merge core, merge/merge.h)
 * and the gateway's upstream (index 1: the tunnel or a --connect stream).
 * The hub and the exposures see one cd_remote, as without --local.
 *
 *	cd_remote_new_merge(&m, loop, "hci:0", &cd_hub_remote_cbs, hub);
 *	cd_remote_new_tunnel(&gw, loop, &tun, &cd_merge_gateway_cbs, m);
 *	cd_remote_merge_set_gateway(m, gw);	// m owns gw now
 *	cd_hub_set_remote(hub, m);
 *
 * The local controller is opened by URI through the controller transports
 * of bgw-muxd (mux/transport.h: hci:N, h4:, unix:, tcp:, sim[:SCENARIO]).
 * The first open failing gives up (failed(): hci:N busy, no such socket),
 * with the transport's message saying what to do; a controller lost later
 * is reopened with backoff, and the merge gives the host a Hardware Error.
 * The gateway going down and up is the merge's merge_ctrl_down/up(1): its
 * links end with Disconnection Complete 0x08, the local side goes on. A
 * gateway that does not answer at start is retried with backoff
 * (cd_merge_gateway_cbs.waiting, remote.h) while the local side works
 * alone, and joins the same way when it answers; a gateway that refuses the
 * login or whose certificate does not match ends bgw-cdclient as without
 * --local (failed()).
 */
#ifndef BGW_CD_REMOTE_MERGE_H
#define BGW_CD_REMOTE_MERGE_H

#include "remote.h"

/* The callbacks the gateway's upstream is created with (user = the merge remote). */
extern const struct cd_remote_cbs cd_merge_gateway_cbs;

/*
 * local: a controller URI (mux/transport.h), its syntax checked here
 * (-EINVAL). Nothing is opened before cd_remote_start().
 */
int cd_remote_new_merge(struct cd_remote **out, struct loop *l, const char *local,
			const struct cd_remote_cbs *cbs, void *user);
/* Hand over the gateway's upstream (created with cd_merge_gateway_cbs). */
void cd_remote_merge_set_gateway(struct cd_remote *r, struct cd_remote *gw);
/* Syntax of a --local URI: 0 or -EINVAL with a message in err. */
int cd_remote_merge_check(const char *local, char *err, size_t errlen);

#endif /* BGW_CD_REMOTE_MERGE_H */
