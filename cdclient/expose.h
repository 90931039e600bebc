/* SPDX-License-Identifier: MIT */
/*
 * The local exposures of the remote controller, each its own module:
 *
 *   vhci            a kernel hciN through /dev/vhci  (expose_vhci.c)
 *   cuse[:NAME]     character device /dev/NAME, H4  (expose_cuse.c)
 *   fuse:DIR        file system: hci + status files (expose_fuse.c)
 *   unix:PATH       H4 over a stream socket, one     (expose_sock.c)
 *   tcp:HOST:PORT   host at a time; loopback only
 *
 * Each one attaches a port to the hub (hub.h), which validates everything
 * the local host sends before it goes upstream.
 */
#ifndef BGW_CD_EXPOSE_H
#define BGW_CD_EXPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "hub.h"
#include "loop.h"

#define CD_CUSE_DEFAULT_NAME	"bgw-hci0"
/* A CUSE device name: [A-Za-z0-9._-], not starting with a dot. */
#define CD_CUSE_NAME_MAX	32

/* Downstream queue of each exposure (controller -> local host). */
#define CD_EXPOSE_QUEUE_PKTS	256
#define CD_EXPOSE_QUEUE_BYTES	(1024 * 1024)

struct cd_expose;

/*
 * Check an exposure spec's syntax without touching anything; 0 or -EINVAL
 * with a reason in err.
 */
int cd_expose_check(const char *spec, char *err, size_t errlen);
/*
 * Whether the exposure is opened only once the upstream is first up. The
 * kernel initialises a new hciN at once and, if that fails, never announces
 * it to bluetoothd (HCI_SETUP stays set), so vhci waits for the controller.
 */
bool cd_expose_waits_for_upstream(const char *spec);

int cd_expose_open(struct cd_expose **out, struct loop *l, struct cd_hub *h,
		   const char *spec);
/*
 * Undo everything: hciN removed, file systems unmounted, sockets unlinked.
 * An exposure whose kernel side fails for good (the hciN, CUSE device or
 * mount went away) logs it and ends the loop: loop_quit(l, 1).
 */
void cd_expose_close(struct cd_expose *x);
/* "controller hci1", "socket unix:/run/...": for the user (spec: its own). */
void cd_expose_describe(const struct cd_expose *x, const char *spec,
			char *buf, size_t cap);

/* The modules behind it. */
struct cd_sockx;
int cd_sockx_open(struct cd_sockx **out, struct loop *l, struct cd_hub *h,
		  const char *spec);
void cd_sockx_close(struct cd_sockx *x);

struct cd_vhci;
int cd_vhci_open(struct cd_vhci **out, struct loop *l, struct cd_hub *h);
/* "hci1" */
const char *cd_vhci_name(const struct cd_vhci *x);
void cd_vhci_close(struct cd_vhci *x);

struct cd_cuse;
int cd_cuse_open(struct cd_cuse **out, struct loop *l, struct cd_hub *h,
		 const char *name);
void cd_cuse_close(struct cd_cuse *x);

struct cd_fusefs;
int cd_fusefs_open(struct cd_fusefs **out, struct loop *l, struct cd_hub *h,
		   const char *dir);
void cd_fusefs_close(struct cd_fusefs *x);

#endif /* BGW_CD_EXPOSE_H */
