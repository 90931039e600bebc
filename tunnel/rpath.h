/* SPDX-License-Identifier: MIT */
/*
 * The client's way to a home through one relay (doc/relay.md, "The
 * client"). One UDP socket: CONN_HELLO, CONN_CHALLENGE, CONNECT to the
 * relay, retried every second within the deadline; CONNECTED gives a
 * channel and the gateway's reflexive address, and then two datagram
 * descriptors for two DTLS clients racing each other: one carried by
 * the relay (each datagram wrapped in DATA on the channel), one sent
 * directly to the gateway's reflexive address from the same socket,
 * whose first datagrams open this side's NAT for the gateway's punches
 * (and whose own punches open ours). Each descriptor is one end of an
 * AF_UNIX datagram socketpair; this module shuttles the other ends.
 * Datagrams from anyone but the relay and the gateway's address are
 * dropped, and so are the gateway's empty punches.
 */
#ifndef BGW_TUN_RPATH_H
#define BGW_TUN_RPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netdb.h>
#include <sys/socket.h>

#include "loop.h"

#define TUN_RPATH_RETRY_MS	1000
/* Addresses of one relay name tried at once (doc/relay.md, "Spreading"). */
#define TUN_RPATH_ADDRS		4

struct tun_rpath;

struct tun_rpath_ops {
	/*
	 * CONNECTED: the two descriptors, the receiver's to keep (close)
	 * either way; direct_fd is -1 when the gateway's address is of a
	 * family this socket cannot reach.
	 */
	void (*connected)(void *user, struct tun_rpath *rp, int relayed_fd, int direct_fd);
	/* No CONNECTED within the deadline, or REFUSED: why, for the user. */
	void (*failed)(void *user, struct tun_rpath *rp, const char *why);
};

/*
 * Start towards relay "HOST:PORT" ([v6]:PORT too) for the home id. 0 or
 * -errno (the name does not resolve: -EHOSTUNREACH).
 */
int tun_rpath_new(struct tun_rpath **out, struct loop *l, const char *relay,
		  const uint8_t id[16], unsigned deadline_ms, const struct tun_rpath_ops *ops,
		  void *user);
/*
 * The addresses of a relay name to ask, from the resolver's list res:
 * those of the first one's family, each once, at most TUN_RPATH_ADDRS,
 * in the resolver's order. A name listed twice (a hosts file with two
 * lines for it, a resolver that repeats) gives one address: asked twice
 * and refused for one, it would never count as all refused. The count;
 * *more says that addresses past the cap were left out.
 */
unsigned tun_rpath_addrs(const struct addrinfo *res, struct sockaddr_storage ras[TUN_RPATH_ADDRS],
			 socklen_t lens[TUN_RPATH_ADDRS], bool *more);
/* Sends CLOSE on a channel still open; NULL is fine. */
void tun_rpath_free(struct tun_rpath *rp);
/* The relay as given. */
const char *tun_rpath_relay(const struct tun_rpath *rp);
/* The gateway's reflexive address ("[a]:p"), "?" before CONNECTED. */
const char *tun_rpath_gateway(const struct tun_rpath *rp, char *buf, size_t cap);
/*
 * The race is decided: keep the relayed or the direct descriptor and
 * stop shuttling the other; a direct winner closes the relay's channel.
 */
void tun_rpath_keep(struct tun_rpath *rp, bool relayed);
/*
 * A fresh direct descriptor (the receiver's) beside a relayed one kept,
 * for probing the gateway's reflexive address; -EALREADY if one is open,
 * -EAFNOSUPPORT without a gateway address this socket can reach.
 */
int tun_rpath_direct(struct tun_rpath *rp);

#endif /* BGW_TUN_RPATH_H */
