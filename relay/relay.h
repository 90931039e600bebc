/* SPDX-License-Identifier: MIT */
/*
 * The relay engine (doc/relay.md): pairs a CD with a home by the home's
 * self-certifying id, tells each the other's reflexive address for hole
 * punching, and passes datagrams through short channels. No sockets in
 * here: the caller feeds datagrams with their source address and the time
 * (relay_input), calls relay_tick about once a second, and sends what the
 * engine hands to ops->send. bgw-relay (relay/main.c) does that from its
 * epoll loop; tests/check_relay.c drives it directly with a fake clock.
 *
 * What the engine guarantees (doc/relay.md, "Threats"):
 * - no state for a source before it echoes a cookie bound to its address
 *   (REG_HELLO and CONN_HELLO are answered statelessly, like DTLS
 *   HelloVerifyRequest, RFC 6347 section 4.2.1);
 * - no answer to an unverified source larger than its request;
 * - only registered ids are reachable, and registering an id needs a
 *   signature by the key the id is the hash of (lib/homeid.h), or by a
 *   registration key that key certified (REGISTER2, relay/rsign.h);
 * - per-source, per-home and global token buckets, and caps on homes and
 *   channels, so memory is bounded by the configuration.
 */
#ifndef BGW_RELAY_RELAY_H
#define BGW_RELAY_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "rmsg.h"

struct relay;

struct relay_conf {
	uint32_t max_homes;		/* registrations held at most */
	uint32_t max_chans;		/* channels, all homes together */
	uint32_t chans_per_home;	/* channels one home may have */
	uint16_t keepalive_s;		/* told to gateways in REGISTERED */
	uint16_t expiry_s;		/* a silent registration is dropped after */
	uint16_t chan_idle_s;		/* an idle channel is dropped after */
	uint16_t cookie_s;		/* a challenge's cookie is valid for */
	/* Token buckets: a rate per second and a burst. */
	uint32_t src_rate, src_burst;		/* unverified requests per source */
	uint32_t conn_rate, conn_burst;		/* CONNECTs per home */
	uint32_t home_bps, home_burst;		/* relayed bytes per home */
	uint32_t refuse_rate, refuse_burst;	/* REFUSED answers, globally */
};

void relay_conf_default(struct relay_conf *c);

struct relay_ops {
	/* A datagram to send now; the engine does not wait for the result. */
	void (*send)(void *user, const struct rmsg_addr *to, const void *buf,
		     size_t len);
	/*
	 * Unix time in seconds, for the dates of REGISTER2 certificates; NULL:
	 * the system clock (time(2)). Tests set their own.
	 */
	int64_t (*wall_s)(void *user);
};

struct relay_stats {
	uint32_t homes;
	uint32_t chans;
	uint64_t mem_bytes;	/* tables and records the engine holds */
	uint64_t relayed_pkts;
	uint64_t relayed_bytes;
	uint64_t dropped;	/* malformed, unverified or over a limit */
	uint64_t refused;	/* REFUSED sent */
	uint64_t registered;	/* successful REGISTERs */
	uint64_t bad_proofs;	/* REGISTERs refused for their proof */
	uint64_t peers_again;	/* PEERs sent again with a CD's DATA */
};

/*
 * A new engine with a fresh random cookie secret (so a restarted relay
 * knows no registration: gateways are told REREGISTER). NULL if out of
 * memory or conf is inconsistent (errno set).
 */
struct relay *relay_new(const struct relay_conf *conf, const struct relay_ops *ops,
			void *user, uint64_t now_us);
void relay_free(struct relay *r);

/* One datagram from a source; anything malformed is dropped and counted. */
void relay_input(struct relay *r, const struct rmsg_addr *from, const void *buf,
		 size_t len, uint64_t now_us);
/*
 * Drop registrations not kept alive (now_us), REGISTER2 registrations
 * whose certificate has ended (ops->wall_s), and idle channels.
 */
void relay_tick(struct relay *r, uint64_t now_us);
void relay_get_stats(const struct relay *r, struct relay_stats *s);

#endif /* BGW_RELAY_RELAY_H */
