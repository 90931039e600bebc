/* SPDX-License-Identifier: MIT */
/*
 * What the local side can learn from the controller's event flow, for the
 * FUSE status files: the remote devices (RDs) seen so far and the open
 * connections.
 *
 * Devices come from Inquiry Result in all its formats (7.7.2, 7.7.33 and
 * the variant with Page_Scan_Mode some controllers send), Extended Inquiry
 * Result (7.7.38), LE Advertising Report (7.7.65.2), LE Directed
 * Advertising Report (7.7.65.11), LE Extended Advertising Report
 * (7.7.65.13) and Remote Name Request Complete (7.7.7). Connections come
 * from Connection Complete (7.7.3), Synchronous Connection Complete
 * (7.7.35), LE (Enhanced) Connection Complete (7.7.65.1, .10, v2 .41) and
 * leave with Disconnection Complete (7.7.5). All sections: Core Vol 4
 * Part E.
 *
 * Every event is checked for its exact length before a field is read; an
 * event that does not parse changes nothing. Both tables have caps: a new
 * entry past a cap is not recorded and counted, and the files say so.
 */
#ifndef BGW_CD_STATUS_H
#define BGW_CD_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "hci.h"

#define CD_STATUS_MAX_DEVICES	256
#define CD_STATUS_MAX_CONNS	64
/* Remote Name Request Complete carries at most 248 name bytes (7.7.7). */
#define CD_STATUS_NAME_MAX	248

struct cd_status;

struct cd_status *cd_status_new(void);
void cd_status_free(struct cd_status *s);

/*
 * One packet from the controller, already framed; now_us is CLOCK_REALTIME
 * (the "last seen" column). Returns 0 if the packet was used or ignored,
 * -EBADMSG if it was one of the events above but malformed (the caller may
 * log it; the tables are unchanged).
 */
int cd_status_controller_pkt(struct cd_status *s, const struct h4_pkt *pkt,
			     uint64_t now_us);
/* The controller was reset or replaced: its connections are gone. */
void cd_status_clear_connections(struct cd_status *s);

size_t cd_status_device_count(const struct cd_status *s);
size_t cd_status_conn_count(const struct cd_status *s);

/*
 * Render the "devices" and "connections" files into a malloc'd buffer
 * (*out, *len; NUL-terminated). Names are printed with every byte outside
 * printable ASCII escaped as \xHH, so a device cannot inject lines.
 * 0 or -ENOMEM.
 */
int cd_status_render_devices(const struct cd_status *s, char **out, size_t *len);
int cd_status_render_connections(const struct cd_status *s, char **out,
				 size_t *len);

#endif /* BGW_CD_STATUS_H */
