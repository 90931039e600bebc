/* SPDX-License-Identifier: MIT */
/*
 * The reliability layer: H4 packets delivered exactly once and in order over
 * a channel that loses, reorders and duplicates messages (DTLS records).
 * doc/protocol.md, section "Reliability", is the normative description.
 *
 * Pure: no sockets, no crypto, no clock. The owner passes the time in
 * (microseconds, any monotonic origin), feeds it the HCI, ACK and KEEPALIVE
 * messages that arrive, calls tun_rel_tick() when tun_rel_deadline() comes,
 * and tun_rel_flush() after each batch of input; the layer emits messages
 * through ops->output and hands complete packets to ops->deliver.
 *
 * Everything is bounded: at most snd_wnd segments in flight, sndq_max
 * segments waiting for the window (tun_rel_send() returns -ENOBUFS beyond),
 * and at most rcv_wnd segments held for delivery, which is also the window
 * advertised to the peer, so a slow receiver stops its sender instead of
 * buffering without limit.
 */
#ifndef BGW_TUN_REL_H
#define BGW_TUN_REL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Cap on both windows (ring sizes). */
#define TUN_REL_WND_MAX		256
/* The largest packet: an ACL packet with 65535 data bytes (H4_MAX_PKT). */
#define TUN_REL_PKT_MAX		(1 + 4 + 65535)
/* Window assumed for the peer until its first ACK arrives. */
#define TUN_REL_INIT_PEER_WND	32
/* A segment sent this many times without an ack: the path is dead. */
#define TUN_REL_MAX_TRIES	16
/*
 * Keepalive intervals (doc/protocol.md 6.7). The server's is the shorter:
 * each of its KEEPALIVEs draws the client's ACK, which restarts the
 * client's own interval, so an idle session carries one KEEPALIVE and
 * one ACK a second, not two of each.
 */
#define TUN_REL_KEEPALIVE_SRV_US	1000000
#define TUN_REL_KEEPALIVE_CLI_US	2000000
#define TUN_REL_QUIET_US		4000000

struct tun_rel_cfg {
	uint16_t snd_wnd;	/* segments in flight, 1..TUN_REL_WND_MAX */
	uint16_t rcv_wnd;	/* segments held for delivery, 1..WND_MAX */
	uint32_t sndq_max;	/* segments queued behind the window */
	uint64_t rto_init_us;	/* before the first RTT sample */
	uint64_t rto_min_us;
	uint64_t rto_max_us;
	uint64_t keepalive_us;	/* idle time before a KEEPALIVE */
	/*
	 * Silence before ops->quiet (0: never): much shorter than dead_us.
	 * The peer may be back soon, but what it holds (bgw-muxd: the
	 * session's Bluetooth links) is let go meanwhile.
	 */
	uint64_t quiet_us;
	uint64_t dead_us;	/* silence before the peer counts as dead */
	bool stream;		/* over TLS: never retransmit on a timer */
};

/* Defaults (doc/protocol.md "Limits and timers"). */
void tun_rel_cfg_default(struct tun_rel_cfg *cfg);

struct tun_rel_ops {
	/* Send one HCI, ACK or KEEPALIVE message. A failure is a loss. */
	void (*output)(void *user, const struct tun_msg *m);
	/*
	 * A whole packet, in order, once. Return 0 when taken, -ENOBUFS when
	 * the owner cannot take it now (it is kept and offered again after
	 * tun_rel_rx_kick(); meanwhile the advertised window closes), or
	 * another negative errno to fail the input call with it.
	 */
	int (*deliver)(void *user, const uint8_t *pkt, size_t len);
	/* After tun_rel_send() returned -ENOBUFS, room is back. May be NULL. */
	void (*writable)(void *user);
	/*
	 * Nothing came from the peer for cfg.quiet_us: once per silence (the
	 * next input ends it). From tun_rel_tick() or tun_rel_quiet_tick().
	 * May be NULL.
	 */
	void (*quiet)(void *user);
};

struct tun_rel;

struct tun_rel_stats {
	uint64_t seg_sent;
	uint64_t seg_retx;	/* all retransmissions, probes included */
	uint64_t seg_probe;	/* tail-loss probes (before the RTO) */
	uint64_t seg_rcvd;
	uint64_t seg_dup;	/* duplicates and out-of-window, dropped */
	uint64_t pkt_delivered;
	uint64_t rto_us;
	uint64_t srtt_us;	/* 0 before the first sample */
};

/* -EINVAL for a bad config, -ENOMEM. */
int tun_rel_new(struct tun_rel **out, const struct tun_rel_cfg *cfg,
		const struct tun_rel_ops *ops, void *user, uint64_t now);
void tun_rel_free(struct tun_rel *r);

/*
 * Queue one packet (1..TUN_REL_PKT_MAX bytes) and send what the window
 * allows. -EMSGSIZE, -ENOBUFS (queue full: apply backpressure), -ENOMEM.
 */
int tun_rel_send(struct tun_rel *r, const uint8_t *pkt, size_t len, uint64_t now);
/*
 * The same, for a packet that may wait or be dropped (a discovery report):
 * -ENOBUFS once max_queued segments are unacknowledged or waiting for the
 * window, so such packets never fill the window or the queue ahead of
 * those that may not wait; ops->writable comes when no more than half of
 * max_queued are.
 */
int tun_rel_send_soft(struct tun_rel *r, const uint8_t *pkt, size_t len,
		      uint64_t now, uint32_t max_queued);

/*
 * Input. Each returns 0 or a negative errno meaning the peer broke the
 * protocol (-EPROTO: an ack for data never sent, a packet over the size
 * cap) or a deliver() error; the owner then ends the session.
 */
int tun_rel_input(struct tun_rel *r, const struct tun_msg *m, uint64_t now);
/* Retry delivery held back by deliver() returning -ENOBUFS. */
int tun_rel_rx_kick(struct tun_rel *r, uint64_t now);
/* Emit the pending ACK, if any; call after each batch of input. */
void tun_rel_flush(struct tun_rel *r, uint64_t now);

/*
 * Timers: retransmission, window probes, keepalives. Returns -ETIMEDOUT when
 * the peer is dead (silent for dead_us, or a segment sent
 * TUN_REL_MAX_TRIES times), 0 otherwise.
 */
int tun_rel_tick(struct tun_rel *r, uint64_t now);
/* When tun_rel_tick() next has something to do (absolute time). */
uint64_t tun_rel_deadline(const struct tun_rel *r);

/*
 * While no channel is below (detached, waiting for a resumption): only
 * the silence is watched, nothing is sent. tun_rel_quiet_deadline() is
 * UINT64_MAX once ops->quiet was called (or quiet_us is 0).
 */
void tun_rel_quiet_tick(struct tun_rel *r, uint64_t now);
uint64_t tun_rel_quiet_deadline(const struct tun_rel *r);
/* ops->quiet was called and nothing came since. */
bool tun_rel_is_quiet(const struct tun_rel *r);

/*
 * The channel below was replaced (session resumed over a new DTLS or TLS
 * connection): forget the RTT estimate, count the peer as alive, and
 * resend every unacknowledged segment now.
 */
void tun_rel_path_reset(struct tun_rel *r, uint64_t now);

/* The channel below changed kind (a resumption from DTLS to TLS). */
void tun_rel_set_stream(struct tun_rel *r, bool stream);

/* Nothing queued or in flight. */
bool tun_rel_is_idle(const struct tun_rel *r);
void tun_rel_get_stats(const struct tun_rel *r, struct tun_rel_stats *st);

#endif /* BGW_TUN_REL_H */
