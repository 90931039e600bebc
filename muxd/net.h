/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd's network roles (doc/security.md, "Process model"): the front
 * bgw-muxd[net] (front.c: the listeners, the cookies, the relays) and one
 * bgw-muxd[peer] per tunnel peer (peer.c: its DTLS or TLS and login, then
 * the relay of its tunnel messages to the core), which the monitor forks
 * for each peer the front hands over, under a uid of its own. Neither
 * holds a secret: whatever needs one is asked of the monitor.
 */
#ifndef BGW_MUXD_NET_H
#define BGW_MUXD_NET_H

#include "front.h"
#include "muxd.h"
#include "tunnel.h"

/* front.c: the front's process, from its fork to its end; its exit status. */
int front_main(const struct muxd *parent, int req);

/*
 * peer.c: in a new process forked by the monitor, the peer of p over its
 * request channel req: close everything else, drop to uid and gid (the
 * peer's own, from the configured range), enter the peer's sandbox, run
 * the channel until it is over. creds: the certificate chain the
 * handshake presents (its key stays in the monitor); null_fd: /dev/null
 * for its stdio. Never returns.
 */
void peer_run(const struct muxd *parent, struct tun_creds *creds,
	      struct tun_front_peer *p, int req, int null_fd, uid_t uid,
	      gid_t gid) __attribute__((noreturn));
/* The credentials the peers' handshakes present (the key signs through the monitor). */
int peer_creds_new(struct muxd *d, struct tun_creds **creds);

#endif /* BGW_MUXD_NET_H */
