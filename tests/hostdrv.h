/* SPDX-License-Identifier: MIT */
/*
 * hostdrv: a host-side HCI test driver. It plays the host: sends commands
 * and ACL data to a controller and waits, by running the event loop with a
 * bounded timeout, for the events that answer them. It drives either
 *  - an in-process controller: give hostdrv_send_fn (e.g. a wrapper around
 *    sim_ctrl_input) and pass hostdrv_sink as the controller's emit
 *    callback with the driver as its user pointer; or
 *  - an H4 byte stream (socket, pty): hostdrv_attach_fd.
 *
 *	struct hostdrv *d = hostdrv_new(loop);
 *	struct sim_ctrl *c = sim_ctrl_new(air, NULL, hostdrv_sink, d);
 *	hostdrv_set_sender(d, my_send, c);
 *	st = hostdrv_cmd_sync(d, HCI_OP_RESET, NULL, 0, NULL, 0, NULL);
 *	hostdrv_wait_event(d, HCI_EV_INQUIRY_COMPLETE, 0, buf, sizeof(buf), &n);
 *
 * Received packets wait in a bounded FIFO; a wait takes the first packet
 * that matches and leaves the others in order for later waits. Every wait
 * gives up after the driver's timeout (default 5000 ms of real time) with
 * -ETIMEDOUT. Controller-side time should be scaled (sim time_scale) so
 * tests wait milliseconds, not seconds.
 */
#ifndef BGW_TESTS_HOSTDRV_H
#define BGW_TESTS_HOSTDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct hostdrv;

typedef int (*hostdrv_send_fn)(const uint8_t *h4, size_t len, void *user);

struct hostdrv *hostdrv_new(struct loop *l);
void hostdrv_free(struct hostdrv *d);

/* In-process: where packets to the controller go. */
void hostdrv_set_sender(struct hostdrv *d, hostdrv_send_fn fn, void *user);
/* In-process: the controller's emit callback (user = the driver). */
void hostdrv_sink(const uint8_t *h4, size_t len, void *user);
/* Stream: frame H4 from fd (read through the loop), write packets to it. */
int hostdrv_attach_fd(struct hostdrv *d, int fd);

void hostdrv_set_timeout(struct hostdrv *d, int ms);
/* Log every packet (hcistr_summary) to stderr as "# > ..." / "# < ...". */
void hostdrv_set_trace(struct hostdrv *d, bool on);
/* Record every packet, both ways, to a btsnoop file (lib/btsnoop.h); NULL: stop. */
struct snoop;
void hostdrv_set_snoop(struct hostdrv *d, struct snoop *s);

/* Send one raw H4 packet. */
int hostdrv_send(struct hostdrv *d, const uint8_t *h4, size_t len);
int hostdrv_cmd(struct hostdrv *d, uint16_t opcode, const void *param,
		size_t plen);
int hostdrv_acl(struct hostdrv *d, uint16_t handle, uint8_t pb,
		const void *data, size_t len);

/*
 * Send a command and wait for its Command Complete or Command Status.
 * Returns the status (CC: return parameter 0; CS: its status) as 0..255,
 * or a negative errno. For a CC the return parameters (status included)
 * are copied into ret[cap] and their length stored in *rlen; a CS gives
 * *rlen = 0. *was_cs (if given) tells which event came.
 */
int hostdrv_cmd_sync(struct hostdrv *d, uint16_t opcode, const void *param,
		     size_t plen, uint8_t *ret, size_t cap, size_t *rlen);
int hostdrv_cmd_sync2(struct hostdrv *d, uint16_t opcode, const void *param,
		      size_t plen, uint8_t *ret, size_t cap, size_t *rlen,
		      bool *was_cs);

/*
 * Wait for an event: code, and for LE Meta (0x3e) a subevent (0: any).
 * Copies the parameters (for LE Meta: after the subevent byte) into
 * buf[cap] and stores their length. Returns 0, -ETIMEDOUT or -EMSGSIZE.
 */
int hostdrv_wait_event(struct hostdrv *d, uint8_t code, uint8_t sub,
		       uint8_t *buf, size_t cap, size_t *len);
/* Wait for ACL data (any handle); copies the payload. */
int hostdrv_wait_acl(struct hostdrv *d, uint16_t *handle, uint8_t *pb,
		     uint8_t *buf, size_t cap, size_t *len);
/* Wait for one reassembled L2CAP PDU (basic header included) on handle. */
int hostdrv_wait_l2cap(struct hostdrv *d, uint16_t handle, uint8_t *buf,
		       size_t cap, size_t *len);
/* Is an event with this code (and subevent) queued? Runs the loop once. */
bool hostdrv_has_event(struct hostdrv *d, uint8_t code, uint8_t sub);
/* Number of packets received and not yet taken. */
size_t hostdrv_pending(const struct hostdrv *d);
/* Run the loop for ms of real time, collecting packets. */
void hostdrv_run(struct hostdrv *d, int ms);
/* Drop all received packets. */
void hostdrv_clear(struct hostdrv *d);

#endif /* BGW_TESTS_HOSTDRV_H */
