/* SPDX-License-Identifier: MIT */
/*
 * The front's relayed peers (doc/relay.md, "Relayed peers"): a CD that
 * reached the home through a relay is one more peer of the front's
 * existing per-peer machinery. PEER(channel, CD address) from a relay
 * makes the front punch (three empty datagrams from the DTLS listener
 * to the CD's reflexive address, 100 ms apart, which open the home
 * NAT's filter for the CD's direct DTLS) and remember the channel; DATA
 * on it goes through the front's cookie exchange (tun_front_relayed)
 * and, once the CD's ClientHello carries a valid cookie, to a peer
 * process of its own over an AF_UNIX datagram socketpair, which this
 * module shuttles: DATA payloads in, the peer's datagrams out wrapped
 * in DATA. CLOSE from the relay, or the peer process's end, ends the
 * channel; a channel that brings no peer within RELAYFRONT_IDLE_S ends
 * too. At most RELAYFRONT_MAX channels (the peer caps are the front's).
 */
#ifndef BGW_MUX_RELAYFRONT_H
#define BGW_MUX_RELAYFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "front.h"
#include "loop.h"
#include "rmsg.h"

#define RELAYFRONT_MAX		32
#define RELAYFRONT_PUNCHES	3
#define RELAYFRONT_PUNCH_MS	100
#define RELAYFRONT_IDLE_S	30

struct relayfront_ops {
	/* A datagram to relay idx, from the DTLS listener. */
	void (*send)(void *user, unsigned idx, const void *buf, size_t len);
	/* Relay idx's name as configured, for logs and the peer's name. */
	const char *(*name)(void *user, unsigned idx, char *buf, size_t cap);
	/*
	 * End a relayed peer's process (its channel ended): the monitor does
	 * it for the front, which may signal no peer (RPC_PEER_STOP).
	 */
	void (*stop)(void *user, pid_t pid);
};

struct relayfront;

struct relayfront_chan {
	struct relayfront *rf;
	bool used;
	unsigned idx;			/* the relay */
	uint32_t chan;
	struct sockaddr_storage cd;	/* the CD as the relay sees it */
	socklen_t cdlen;
	int fd;				/* the front's end of the pair, or -1 */
	pid_t pid;			/* the peer process, or 0 */
	unsigned punches;		/* still to send */
	uint64_t next_punch_us;
	uint64_t idle_until_us;		/* without a peer by then: ended */
};

struct relayfront {
	struct loop *l;
	struct tun_front *front;
	const struct relayfront_ops *ops;
	void *user;
	struct loop_timer *timer;
	struct relayfront_chan c[RELAYFRONT_MAX];
	unsigned long punched, relayed_in, relayed_out;
};

int relayfront_init(struct relayfront *rf, struct loop *l, struct tun_front *front,
		    const struct relayfront_ops *ops, void *user);
/* Ends every channel (CLOSE to the relays) and frees the timer. */
void relayfront_free(struct relayfront *rf);
/* A relay's PEER (relayreg's event; m->chan, m->addr). */
void relayfront_peer(struct relayfront *rf, unsigned idx, const struct rmsg *m);
/* A datagram from relay idx: DATA and CLOSE are taken, the rest ignored. */
void relayfront_input(struct relayfront *rf, unsigned idx, const void *buf, size_t len);
/* A peer process ended: its channel too. */
void relayfront_peer_gone(struct relayfront *rf, pid_t pid);
/* Channels open now. */
unsigned relayfront_count(const struct relayfront *rf);

#endif /* BGW_MUX_RELAYFRONT_H */
