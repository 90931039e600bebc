/* SPDX-License-Identifier: MIT */
/*
 * The network front of bgw-muxd's per-peer processes (doc/security.md,
 * "Process model"): it owns the DTLS and TLS listening sockets, answers
 * ClientHellos without a valid cookie statelessly (RFC 6347 4.2.1), and
 * hands each verified new peer to a process of its own (the owner's
 * spawn hook forks it). It never runs a (D)TLS session and never sees a
 * decrypted byte.
 *
 * DTLS: a verified peer gets its own UDP socket, bound to the listener's
 * address and port and connected to the peer, so the kernel delivers that
 * peer's later datagrams to the peer's process and not to the front
 * (connected sockets win the lookup over the wildcard listener). The
 * ClientHello that carried the cookie travels along in the hand-over
 * (first, with the prestate gnutls_dtls_cookie_verify filled), to be
 * handled first. TLS: the accepted TCP connection is handed over as is.
 *
 * Caps, before anything is allocated for a peer: at most max_peers peer
 * processes alive, of which at most max_pending younger than
 * handshake_ms (the login deadline a peer process enforces itself), and
 * of those at most TUN_FRONT_PENDING_PER_HOST from one host and
 * TUN_FRONT_PENDING_PER_NET from one network (an IPv4 /24, an IPv6 /64:
 * what one customer of a provider holds, so that a handful of addresses
 * cannot take every slot). The last `reserve` pending slots, and the
 * slots past a network's cap, go only to sources that logged in before:
 * the front cannot tell, so it hands such a peer to the spawn hook with
 * reserve set, and the owner (who sees the logins) admits it or not.
 * A peer that has logged in is no longer pending: at a cap the front
 * asks the owner which of its pending peers have (the logged_in hook),
 * so that many clients behind one address log in at the pace of their
 * logins, not TUN_FRONT_PENDING_PER_HOST per handshake_ms.
 * A TLS peer must send its first byte within first_ms (its process
 * enforces that too), so an idle connection holds a slot for seconds.
 *
 * One live DTLS peer per address and port: a datagram reaching the
 * listener from a live peer's address (queued before its socket was
 * connected, or a retransmission racing the hand-over) is dropped, but a
 * ClientHello with a valid cookie from it, TUN_FRONT_RESTART_MS after the
 * hand-over, means the client restarted and the old process still holds
 * the socket: the front stops that process and drops the hello (the
 * client sends it again, by then to the listener). A ClientHello
 * without a cookie is answered from any address (statelessly).
 */
#ifndef BGW_TUN_FRONT_H
#define BGW_TUN_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#include "loop.h"

/* Datagrams longer than this are dropped unread (the MTU is far lower). */
#define TUN_FRONT_DGRAM_MAX		4096
#define TUN_FRONT_PENDING_PER_HOST	4
#define TUN_FRONT_PENDING_PER_NET	8
#define TUN_FRONT_FIRST_MS		2000
#define TUN_FRONT_RESTART_MS		2000

/* One verified new peer, for its process. */
struct tun_front_peer {
	int fd;				/* the receiver owns it */
	bool dgram;			/* DTLS (own connected UDP socket) or TLS */
	struct sockaddr_storage addr;	/* the peer */
	socklen_t alen;
	/* Admitted only if its source logged in before (front.h caps). */
	bool reserve;
	/* TLS: no byte within this (ms) from the start ends the peer. */
	unsigned first_ms;
	/* DTLS: the ClientHello with the valid cookie, and its prestate. */
	uint8_t first[TUN_FRONT_DGRAM_MAX];
	size_t first_len;
	gnutls_dtls_prestate_st pre;
	/*
	 * Relayed (tun_front_relayed): the relay's channel (0: direct) and
	 * the relay's name; addr is then the CD's address as the relay saw
	 * it, and fd one end of a datagram socketpair whose other end the
	 * owner shuttles to and from the relay.
	 */
	uint32_t relay_chan;
	char via[80];
};

struct tun_front_cfg {
	const char *host;		/* bind address; NULL: "::" */
	const char *udp_port;		/* NULL: no DTLS listener */
	const char *tcp_port;		/* NULL: no TLS listener */
	unsigned max_peers;		/* peer processes alive; 0: 48 */
	unsigned max_pending;		/* of which still in login; 0: 32 */
	unsigned handshake_ms;		/* a peer's login deadline; 0: 10000 */
	unsigned reserve;		/* pending slots for known sources; 0: max_pending / 4 */
	unsigned first_ms;		/* TLS: to the first byte; 0: TUN_FRONT_FIRST_MS */
	/*
	 * Start p's process (fork). Return its pid (> 0) or a negative
	 * errno (the peer is dropped). Either way the front closes its own
	 * copy of p->fd after the call: the new process keeps its copy.
	 * p->reserve: start it only if p's source logged in before, else
	 * return -EACCES (refused like a peer over the caps, quietly).
	 */
	pid_t (*spawn)(void *user, const struct tun_front_peer *p);
	/*
	 * End a live peer's process: its client restarted on the same
	 * address and port while the process still holds the connected
	 * socket. NULL: kill(pid, SIGKILL). Either way the slot stays taken
	 * until tun_front_peer_gone().
	 */
	void (*stop)(void *user, pid_t pid);
	/*
	 * A datagram on the DTLS listener, offered before the cookie
	 * exchange: return true if it is the owner's (one from a relay it
	 * registered with, doc/relay.md), false to handle it as DTLS. NULL:
	 * every datagram is DTLS.
	 */
	bool (*dgram)(void *user, const struct sockaddr_storage *from, socklen_t alen,
		      const uint8_t *buf, size_t len);
	/*
	 * Which of these n pending peers (pids) have completed a login: set
	 * in[i] for each that has (in[] comes zeroed). Asked only when a
	 * new peer meets a cap, at most every 50 ms, at most 64 at a time.
	 * 0, or -errno (then none counts as logged in). A peer said to have
	 * logged in stops counting as pending for good; the others count
	 * until handshake_ms. NULL: every peer counts for handshake_ms.
	 */
	int (*logged_in)(void *user, const pid_t *pids, unsigned n, bool *in);
	void *user;
};

struct tun_front;

/* Binds the listeners (call before dropping privileges). 0 or -errno. */
int tun_front_new(struct tun_front **out, struct loop *l, const struct tun_front_cfg *cfg);
void tun_front_free(struct tun_front *f);

/* A peer process ended (the owner reaps its children and tells). */
void tun_front_peer_gone(struct tun_front *f, pid_t pid);

/*
 * In a just-forked peer process: wipe the cookie keys and close the
 * listening sockets, without touching the loop (the peer process makes
 * its own). f is unusable afterwards, and never freed in the peer.
 */
void tun_front_forget(struct tun_front *f);

/* Datagrams the DTLS listener has read (a peer's own go to its socket). */
unsigned long tun_front_dgram_count(const struct tun_front *f);
uint16_t tun_front_udp_port(const struct tun_front *f);
/* The DTLS listener's address family (AF_INET or AF_INET6), 0 if none. */
int tun_front_udp_family(const struct tun_front *f);
/*
 * Send a datagram from the DTLS listener (to a relay: the NAT mapping it
 * sees is the one a CD's DTLS reaches). 0 or -errno.
 */
int tun_front_udp_send(struct tun_front *f, const struct sockaddr *to, socklen_t alen,
		       const void *buf, size_t len);
uint16_t tun_front_tcp_port(const struct tun_front *f);

/*
 * A DTLS datagram b that arrived through relay `via` on channel chan
 * (non-zero) from the CD whose address the relay saw as from
 * (doc/relay.md, "Relayed peers"). It takes the direct path's steps: a
 * ClientHello without a valid cookie (bound to from) gets a
 * HelloVerifyRequest, written to reply (*reply_len bytes, 0 for none)
 * for the owner to wrap; one with a valid cookie, within the caps (from
 * counts as the source), is handed to a new peer process (spawn, with
 * relay_chan and via set) over an AF_UNIX datagram socketpair. Returns
 * the front's end of that pair (the owner's: it carries the peer's
 * datagrams both ways) with the process in *pid, 0 when no peer was
 * made, or -errno. Anything but a ClientHello is dropped. b may point
 * into the front's own receive buffer (the dgram hook's).
 */
int tun_front_relayed(struct tun_front *f, uint32_t chan, const char *via,
		      const struct sockaddr_storage *from, socklen_t alen, const uint8_t *b,
		      size_t n, uint8_t *reply, size_t cap, size_t *reply_len, pid_t *pid);
unsigned tun_front_peer_count(const struct tun_front *f);

/*
 * Same network for the per-network cap: IPv4 (IPv4-mapped IPv6 too) the
 * same /24, IPv6 the same /64.
 */
bool tun_front_same_net(const struct sockaddr_storage *a, socklen_t al,
			const struct sockaddr_storage *b, socklen_t bl);

#endif /* BGW_TUN_FRONT_H */
