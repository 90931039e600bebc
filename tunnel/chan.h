/* SPDX-License-Identifier: MIT */
/*
 * Internal to tunnel/: a secure channel (one DTLS association or one TLS
 * connection) carrying tunnel messages, and the credentials behind it.
 * The server (tunnel.c, session.c, login.c, peer.c) and client.c run
 * sessions over channels; dtls.c and tls.c make them.
 */
#ifndef BGW_TUN_CHAN_H
#define BGW_TUN_CHAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#include "cookie.h"
#include "loop.h"
#include "msg.h"
#include "pktq.h"
#include "tunnel.h"

/*
 * DTLS MTU: 1200 bytes for the whole UDP payload (record header,
 * explicit nonce and AEAD tag included), which fits the IPv6 minimum MTU
 * of 1280 with the IPv6 and UDP headers, and any tunnel or PPPoE link
 * seen in practice; path MTU discovery would need probing we do not do.
 * The largest tunnel message (TUN_MSG_MAX, 1034 bytes) fits one record.
 */
#define TUN_DTLS_MTU		1200
/* Datagrams longer than this are dropped unread (our MTU is far lower). */
#define TUN_DGRAM_MAX		4096
/* Datagrams queued for one DTLS peer before the demultiplexer drops. */
#define TUN_DGRAM_INQ_MAX	32
/* Bytes queued towards a TLS peer before it counts as dead. */
#define TUN_STREAM_OUT_MAX	(512u << 10)
/* Datagrams or records handled per loop callback (fairness). */
#define TUN_BATCH_MAX		64

/*
 * Shared by the owner and every channel made with them (a reference each):
 * a channel still closing from the loop keeps them alive after its owner
 * is freed, as GnuTLS requires for as long as a session uses them.
 */
struct tun_creds {
	unsigned refs;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio_dgram;
	gnutls_priority_t prio_stream;
	bool server;
};

int tun_creds_new(struct tun_creds **out, bool server, const char *ca_file,
		  const char *cert_file, const char *key_file);
/* Drops a reference; the last one frees. */
void tun_creds_free(struct tun_creds *cr);

/* Same address and port; same address, any port. */
bool tun_addr_eq(const struct sockaddr_storage *a, socklen_t al,
		 const struct sockaddr_storage *b, socklen_t bl);
bool tun_host_eq(const struct sockaddr_storage *a, socklen_t al,
		 const struct sockaddr_storage *b, socklen_t bl);

enum tun_chan_kind {
	TUN_CHAN_DGRAM_SRV,	/* a peer of the DTLS listener's socket */
	TUN_CHAN_DGRAM_CLI,	/* own connected UDP socket */
	TUN_CHAN_STREAM,	/* own TCP socket, either role */
	TUN_CHAN_DGRAM_PEER,	/* server, own connected UDP socket (front.h) */
};

struct tun_chan;

/* tun_chan.via: "[gateway]:port punched via relay " and a bundle's relay line. */
#define TUN_CHAN_VIA_MAX	400

struct tun_chan_ops {
	/* Handshake done and checked (server: see ch->cert_reason). */
	void (*up)(void *user, struct tun_chan *ch);
	void (*msg)(void *user, struct tun_chan *ch, const struct tun_msg *m);
	/* The channel failed; it is closed already, only free it. */
	void (*down)(void *user, struct tun_chan *ch, int reason);
};

struct tun_chan {
	struct loop *l;
	struct tun_creds *creds;
	gnutls_session_t gs;
	enum tun_chan_kind kind;
	bool server;
	int fd;
	bool up;
	bool dead;		/* closed: no more callbacks */
	int fail_reason;
	/*
	 * The handshake failed the way a damaged datagram makes it fail (a
	 * record that does not decrypt, a Finished that differs, a message
	 * that does not parse): a new handshake may well succeed. Not for
	 * a verdict (no common parameters, a certificate, an alert that
	 * refuses): see chan_hs_transient.
	 */
	bool transient;
	char why[200];		/* detail of a failure, for the client's user */
	uint64_t hs_deadline;
	/*
	 * A TLS peer of bgw-muxd's front (tun_front_peer.first_ms): until
	 * its first byte arrives, the handshake deadline is this earlier
	 * one, so an idle connection holds its pending slot only briefly.
	 */
	bool await_first;
	uint64_t first_deadline;
	struct loop_timer *timer;
	struct loop_timer *reap;
	const struct tun_chan_ops *ops;
	void *user;

	/* The peer's address (login rate limiting, logs). */
	struct sockaddr_storage addr;
	socklen_t alen;
	/*
	 * A client channel over a relay path has no address of its own (its
	 * descriptor is a socketpair the path shuttles): what it goes
	 * through instead, for tun_chan_peer_str ("relay R", or the
	 * gateway's address the relay reported for a punched one).
	 */
	char via[TUN_CHAN_VIA_MAX];

	/* TUN_CHAN_DGRAM_SRV; DGRAM_PEER: the hand-over's ClientHello */
	struct pktq inq;
	struct tun_chan *next;
	void (*unlink)(struct tun_chan *ch);
	void *owner;

	/* TUN_CHAN_STREAM */
	struct pktq outq;
	size_t out_off;
	uint8_t *inbuf;
	size_t inlen;

	/* Records received and sent since the handshake (tests, benchmarks). */
	uint64_t rx_records, tx_records;
	/* Receiving system calls on fd (tests). */
	uint64_t rx_calls;
	/* TUN_CHAN_DGRAM_PEER once up: datagrams read together (chan.c). */
	struct tun_chan_rx *rx;

	/* TUN_CHAN_DGRAM_PEER: telling a restarted client (see below). */
	uint8_t hello_random[32];
	bool has_random;
	struct tun_cookie *cookie;
};

/*
 * A channel over fd (not owned for DTLS_SRV; owned otherwise). The caller
 * fills addr, and for DGRAM_SRV inq/next/unlink, then calls
 * tun_chan_start().
 */
int tun_chan_new(struct tun_chan **out, struct loop *l, struct tun_creds *cr,
		 enum tun_chan_kind kind, int fd, unsigned handshake_ms,
		 const struct tun_chan_ops *ops, void *user);
struct tun_front_peer;
/*
 * The server side of one peer handed over by tun_front (front.h), in the
 * peer's own process: takes p->fd (closed on failure too; p->fd becomes
 * -1), and for DTLS gives GnuTLS the prestate of the cookie exchange and
 * the ClientHello that carried the cookie before anything is read from
 * the socket. Started like a client channel: *out is set before the
 * handshake starts, ops->up may run inside this call.
 *
 * DTLS: a ClientHello with a new random arriving once the channel is up
 * means the client restarted on the same address and port. It is
 * answered with a HelloVerifyRequest of the channel's own, and when it
 * comes back with that cookie (the sender receives at that address: not
 * a spoofed datagram) the channel fails with TUN_R_PEER_DEAD, its socket
 * closes, and the client's next hello reaches the front.
 */
int tun_chan_new_peer(struct tun_chan **out, struct loop *l, struct tun_creds *cr,
		      struct tun_front_peer *p, unsigned handshake_ms,
		      const struct tun_chan_ops *ops, void *user);
/* Register the fd (own sockets) and start the handshake. */
int tun_chan_start(struct tun_chan *ch);
/* DGRAM_SRV: a datagram was queued on inq; run the session on it. */
void tun_chan_input(struct tun_chan *ch);
int tun_chan_send(struct tun_chan *ch, const struct tun_msg *m);
/* An already encoded message (a login reply sent again). */
int tun_chan_send_raw(struct tun_chan *ch, const uint8_t *buf, size_t len);
/*
 * The most bytes of whole messages one record carries (doc/protocol.md
 * section 3: a record holds one or more whole messages): over DTLS what
 * the MTU leaves after the record's overhead, over TLS TUN_MSG_MAX * 4.
 * 0 before the handshake.
 */
size_t tun_chan_record_cap(const struct tun_chan *ch);
/*
 * Close (close_notify, best effort) and free later from the loop. The
 * close_notify tells the peer its session is over: use it only then.
 */
void tun_chan_close(struct tun_chan *ch);
/* Abandon the channel silently (the session lives on elsewhere). */
void tun_chan_drop(struct tun_chan *ch);
/* Close and free now: only from outside the channel's own callbacks. */
void tun_chan_destroy(struct tun_chan *ch);
/* Fail it: ops->down(reason) comes from the loop, then it is freed. */
void tun_chan_abort(struct tun_chan *ch, int reason);
/* RFC 5705 exporter over this channel. */
int tun_chan_export(struct tun_chan *ch, const char *label,
		    const void *ctx, size_t ctx_len, uint8_t *out, size_t len);
const char *tun_chan_peer_str(const struct tun_chan *ch, char *buf, size_t cap);

/*
 * Listeners. Each new channel gets ops/user; may_accept(user, addr) is asked
 * before any state is allocated for a new peer (the owner's cap).
 */
struct tun_listen_cfg {
	struct loop *l;
	struct tun_creds *creds;
	const char *host;
	const char *port;
	unsigned handshake_ms;
	const struct tun_chan_ops *ops;
	void *user;
	bool (*may_accept)(void *user, const struct sockaddr_storage *addr,
			   socklen_t alen);
	/* Server: take a new channel (set its ops and user); < 0 refuses. */
	int (*adopt)(void *user, struct tun_chan *ch);
};

struct tun_dlisten;
int tun_dlisten_new(struct tun_dlisten **out, const struct tun_listen_cfg *cfg);
void tun_dlisten_free(struct tun_dlisten *dl);
uint16_t tun_dlisten_port(const struct tun_dlisten *dl);

struct tun_tlisten;
int tun_tlisten_new(struct tun_tlisten **out, const struct tun_listen_cfg *cfg);
void tun_tlisten_free(struct tun_tlisten *tl);
uint16_t tun_tlisten_port(const struct tun_tlisten *tl);

/*
 * Client channels: resolve, connect and start the handshake. *out is set
 * before the start, because ops->up may run inside this call.
 */
int tun_dtls_connect(struct tun_chan **out, const struct tun_listen_cfg *cfg);
int tun_tls_connect(struct tun_chan **out, const struct tun_listen_cfg *cfg);
/*
 * A DTLS client on a datagram descriptor already bound to its server
 * (one end of a socketpair a relay path shuttles, tunnel/rpath.h),
 * named via in logs (tun_chan.via; truncated to fit); fd is taken
 * either way. cfg->host and port are unused.
 */
int tun_dtls_connect_fd(struct tun_chan **out, const struct tun_listen_cfg *cfg, int fd,
			const char *via);

/* A bound socket for host:port (type SOCK_DGRAM or SOCK_STREAM). */
int tun_sock_bind(const char *host, const char *port, int type);
uint16_t tun_sock_port(int fd);

#endif /* BGW_TUN_CHAN_H */
