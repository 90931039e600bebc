/* SPDX-License-Identifier: MIT */
/*
 * The controller transport: how bgw-muxd reaches its physical controller.
 * Opened by URI:
 *
 *   sim[:SCENARIO]          the built-in simulated controller (sim/), with
 *                           the default house or a scenario file (bgw-sim(5))
 *   unix:PATH               H4 over a Unix stream socket (BlueZ btvirt -s)
 *   tcp:HOST:PORT           H4 over TCP (Android rootcanal, Zephyr native_sim)
 *   h4:/dev/ttyX[,BAUD][,flow]
 *                           H4 on a UART, raw, BAUD (default 115200),
 *                           "flow" for RTS/CTS
 *   hci:N                   the HCI user channel of hciN (exclusive; the
 *                           controller must be down, CAP_NET_ADMIN needed)
 *
 * The transport frames H4 (stream transports with a bounded h4_reader) and
 * delivers each complete packet to rx from the event loop, never from
 * inside mux_transport_send(). A lost transport is reported once through
 * error; the owner then closes it and reopens later (bgw-muxd backs off).
 * Outbound packets wait in a bounded queue (MUX_TRANSPORT_QUEUE packets);
 * send fails with -ENOBUFS past it.
 */
#ifndef BGW_MUX_TRANSPORT_H
#define BGW_MUX_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define MUX_TRANSPORT_QUEUE	512
#define MUX_URI_MAX		512

struct mux_transport;

struct mux_transport_ops {
	void (*rx)(const uint8_t *h4, size_t len, void *user);
	void (*error)(int err, void *user);
	void *user;
	double sim_time_scale;	/* sim: only; 0 means real time (1.0) */
	/*
	 * Optional: obtain the descriptor of a unix:, tcp:, h4: or hci:
	 * controller elsewhere (bgw-muxd's unprivileged worker asks its
	 * monitor, which opens it with mux_transport_open_fd). A descriptor
	 * or a negative errno with a message in err.
	 */
	int (*open_fd)(const char *uri, char *err, size_t errlen, void *user);
};

/*
 * Check a URI's syntax without opening anything (bgw-muxd -t). 0 or
 * -EINVAL with a message in err.
 */
int mux_transport_check(const char *uri, char *err, size_t errlen);
/*
 * Check what can be checked without taking the controller (bgw-muxd -t
 * and its start): sim: the scenario parses; unix: the path is a socket;
 * tcp: the host resolves; h4: the device is a terminal; hci:N: hciN is
 * registered. 0 or a negative errno with a message in err.
 */
int mux_transport_probe(const char *uri, char *err, size_t errlen);
/*
 * Open. On failure returns a negative errno and a message in err that
 * says what to do (e.g. "hci0 is up or held by bluetoothd: ...").
 */
int mux_transport_open(struct loop *l, const char *uri,
		       const struct mux_transport_ops *ops,
		       struct mux_transport **out, char *err, size_t errlen);
/*
 * Open only the descriptor of a unix:, tcp:, h4: or hci: controller
 * (blocking, close-on-exec): what the privileged side of bgw-muxd does for
 * its worker. -EINVAL for sim (it runs in-process, no descriptor).
 */
int mux_transport_open_fd(const char *uri, char *err, size_t errlen);
/* Queue one complete H4 packet (command, ACL, SCO) for the controller. */
int mux_transport_send(struct mux_transport *t, const uint8_t *h4, size_t len);
void mux_transport_close(struct mux_transport *t);

#endif /* BGW_MUX_TRANSPORT_H */
