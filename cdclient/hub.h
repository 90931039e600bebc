/* SPDX-License-Identifier: MIT */
/*
 * The hub joins the upstream (cdclient/remote.h) and the local exposures
 * ("ports": vhci, CUSE, FUSE, H4 socket). It is the one place where
 *
 * - what a local host sends is checked before it goes upstream: exactly one
 *   H4 packet of at most CD_PKT_MAX bytes, and only the types a host sends
 *   (command, ACL, SCO, ISO; Core Vol 4 Part E 5.4). An event from a host
 *   is refused and logged: it would let a local program impersonate the
 *   controller to the remote side;
 * - the controller's packets are recorded (btsnoop), observed for the
 *   status files and handed to every attached port;
 * - an upstream that drops turns into a controller reset for the local
 *   hosts: while it is down, the commands in flight and every new one are
 *   answered at once with Command Status "Hardware Failure" (7.7.15, error
 *   0x03) and data is discarded, so no host blocks on a dead link; when it
 *   is back, a Hardware Error event (Core Vol 4 Part E 7.7.16) makes each
 *   host re-initialise the (new) remote controller.
 */
#ifndef BGW_CD_HUB_H
#define BGW_CD_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "btsnoop.h"
#include "loop.h"
#include "remote.h"
#include "status.h"

/* Hardware_Code of the Hardware Error the hub sends (vendor-specific). */
#define CD_HW_ERROR_UPSTREAM	0x01

struct cd_hub;
struct cd_port;

struct cd_port_ops {
	/*
	 * One packet from the controller for this port's host. The port
	 * queues or writes it; a negative return is logged by the port itself.
	 */
	int (*deliver)(const uint8_t *h4, size_t len, void *user);
	/* The upstream has room again after cd_port_send() said -ENOBUFS. */
	void (*resume)(void *user);
};

/* snoop may be NULL; the hub does not own it. */
int cd_hub_new(struct cd_hub **out, struct loop *l, struct snoop *snoop);
/* The callbacks an upstream must be created with (user = the hub). */
extern const struct cd_remote_cbs cd_hub_remote_cbs;
/* The hub takes ownership of r and starts it. */
int cd_hub_set_remote(struct cd_hub *h, struct cd_remote *r);
/* Called after every transition of the upstream to up. */
void cd_hub_set_up_fn(struct cd_hub *h, void (*fn)(void *user), void *user);
bool cd_hub_is_up(const struct cd_hub *h);
/* The error the upstream gave up with (remote_tunnel.h), or 0. */
int cd_hub_failed_err(const struct cd_hub *h);
void cd_hub_free(struct cd_hub *h);

struct cd_port *cd_hub_attach(struct cd_hub *h, const char *name,
			      const struct cd_port_ops *ops, void *user);
void cd_port_detach(struct cd_port *p);
const char *cd_port_name(const struct cd_port *p);
/*
 * The port's host went away (disconnected, closed the file, died). When it
 * was the last host that had sent anything, the hub resets the remote
 * controller (HCI Reset, its completion kept from the hosts) so that the
 * links it left open end now, not when a later host resets it.
 */
void cd_port_host_gone(struct cd_port *p);

/*
 * One packet from the port's host (buf holds exactly one H4 packet).
 * Returns 0 when it went upstream (or, for a command while the upstream is
 * down, was answered locally), or:
 *   -EINVAL    not exactly one well-formed H4 packet of at most CD_PKT_MAX
 *   -EPERM     a packet type hosts do not send (an event), refused
 *   -ENOTCONN  data while the upstream is down (discarded)
 *   -ENOBUFS   the upstream queue is full; resume() follows
 */
int cd_port_send(struct cd_port *p, const uint8_t *buf, size_t len);

/* The "session" status file (malloc'd, NUL-terminated). 0 or -ENOMEM. */
int cd_hub_render_session(const struct cd_hub *h, char **out, size_t *len);
const struct cd_status *cd_hub_status(const struct cd_hub *h);

#endif /* BGW_CD_HUB_H */
