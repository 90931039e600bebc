/* SPDX-License-Identifier: MIT */
/*
 * The upstream: whatever carries the remote virtual controller's H4 packets
 * to bgw-cdclient. The exposures (vhci, CUSE, FUSE, H4 socket) only ever talk
 * to this seam, so they do not know or care how the controller is reached:
 *
 *   unix:PATH, tcp:HOST:PORT   plain H4 over a stream socket (bgw-muxd's
 *                              local listener on the gateway host itself,
 *                              bgw-sim --unix, btvirt -s, rootcanal)
 *   the DTLS tunnel            (tunnel/tunnel.h; see cdclient/remote.c)
 *
 * An upstream keeps itself connected: after a failure or a drop it
 * reconnects with exponential backoff (CD_REMOTE_BACKOFF_MIN_US doubling to
 * CD_REMOTE_BACKOFF_MAX_US) until it is freed, reporting each transition
 * through the callbacks. Packets from the controller are framed with a cap
 * (CD_PKT_MAX) and only events, ACL, SCO and ISO are accepted from it; any
 * other byte stream is a protocol violation that drops the connection.
 */
#ifndef BGW_CD_REMOTE_H
#define BGW_CD_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hci.h"
#include "loop.h"

/*
 * The largest H4 packet accepted in either direction: a 4-byte ACL or ISO
 * header and 4096 data bytes. Controllers announce far smaller buffers
 * (Read Buffer Size, Core Vol 4 Part E 7.4.5: 1021 is typical, LE 251), so
 * this only refuses packets no controller could take.
 */
#define CD_PKT_MAX		(1 + HCI_ACL_HDR + 4096)

/* Send queue towards the controller: packets and bytes. */
#define CD_REMOTE_QUEUE_PKTS	128
#define CD_REMOTE_QUEUE_BYTES	(256 * 1024)

#define CD_REMOTE_BACKOFF_MIN_US	(250 * 1000)
#define CD_REMOTE_BACKOFF_MAX_US	(30 * 1000 * 1000)
/* A connection attempt that is neither up nor failed after this is failed. */
#define CD_REMOTE_CONNECT_TIMEOUT_US	(10 * 1000 * 1000)

struct cd_remote;

struct cd_remote_cbs {
	/* The controller is reachable; sends are accepted from now on. */
	void (*up)(void *user);
	/* It went away (err: why); a reconnect is already scheduled. */
	void (*down)(int err, void *user);
	/* One validated packet from the controller (event, ACL, SCO, ISO). */
	void (*packet)(const struct h4_pkt *pkt, void *user);
	/* The send queue has room again after a send returned -ENOBUFS. */
	void (*drained)(void *user);
	/*
	 * It gave up for good, without retrying: a refused login, a bad
	 * certificate (why: a message fit for the user). Optional.
	 */
	void (*failed)(int err, const char *why, void *user);
	/*
	 * Optional. When set, a first connection that fails for a reason
	 * another attempt may fix (no answer, the gateway busy or
	 * restarting) is retried with backoff instead of given up through
	 * failed(): each failure is reported here (what: what happened,
	 * advice: what the user may check) and up() comes when one works.
	 * Seamless mode sets it: the local side works meanwhile. Refusals no
	 * retry can fix still go to failed().
	 */
	void (*waiting)(int err, const char *what, const char *advice, void *user);
};

struct cd_remote_stats {
	uint64_t bytes_in;	/* H4 bytes from the controller */
	uint64_t bytes_out;	/* H4 bytes to the controller */
	uint64_t pkts_in;
	uint64_t pkts_out;
	unsigned int connects;	/* successful connections so far */
	uint64_t up_since_us;	/* CLOCK_REALTIME of the last up, 0 if down */
	uint64_t srtt_us;	/* the transport's smoothed RTT, 0 if unknown */
};

/*
 * Parse spec ("unix:PATH" or "tcp:HOST:PORT") and make an upstream for it.
 * Returns 0, -EINVAL for a malformed spec, -ENOMEM. Nothing happens on the
 * wire before cd_remote_start().
 */
int cd_remote_new_stream(struct cd_remote **out, struct loop *l,
			 const char *spec, const struct cd_remote_cbs *cbs,
			 void *user);
/* Whether spec names a stream upstream this build understands. */
bool cd_remote_is_stream_spec(const char *spec);

/* Begin connecting (and keep connected until freed). */
int cd_remote_start(struct cd_remote *r);
/*
 * Queue one complete H4 packet for the controller. Returns 0, -ENOTCONN
 * while down, -ENOBUFS when the queue is full (drained() follows),
 * -EMSGSIZE above CD_PKT_MAX.
 */
int cd_remote_send(struct cd_remote *r, const uint8_t *h4, size_t len);
bool cd_remote_is_up(const struct cd_remote *r);
/* "unix:/run/bgw/muxd.sock": what the status file shows as the server. */
const char *cd_remote_describe(const struct cd_remote *r);
/* The authenticated user name, or NULL if the upstream has none. */
const char *cd_remote_user(const struct cd_remote *r);
void cd_remote_get_stats(const struct cd_remote *r, struct cd_remote_stats *st);
void cd_remote_free(struct cd_remote *r);

#endif /* BGW_CD_REMOTE_H */
