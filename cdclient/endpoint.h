/* SPDX-License-Identifier: MIT */
/*
 * Stream endpoints named on the command line: "unix:PATH" or
 * "tcp:HOST:PORT" (HOST may be a bracketed IPv6 literal, "[::1]").
 * The same syntax names the upstream (--connect) and the H4 socket
 * exposure (--expose).
 */
#ifndef BGW_CD_ENDPOINT_H
#define BGW_CD_ENDPOINT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#define CD_HOST_MAX	255	/* a DNS name (RFC 1035 2.3.4) */

struct cd_endpoint {
	bool is_unix;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char host[CD_HOST_MAX + 1];
	char port[6];
};

/*
 * 0, or -EINVAL for anything else than the two forms above, an empty or
 * too long path or host, a port outside 1..65535, or a control character.
 */
int cd_endpoint_parse(const char *spec, struct cd_endpoint *ep);
bool cd_endpoint_is_spec(const char *spec);

/*
 * A non-blocking, close-on-exec stream socket connected or connecting to
 * ep (for tcp: the idx-th address getaddrinfo returns, modulo their count).
 * Returns the fd (*in_progress set if the connect is still under way) or a
 * negative errno.
 */
int cd_endpoint_connect(const struct cd_endpoint *ep, unsigned int idx,
			bool *in_progress);

/*
 * A non-blocking listening socket. For tcp the address must be a loopback
 * one (127.0.0.0/8 or ::1): HCI from that socket drives the user's remote
 * controller, so it is never offered to the network (-EPERM otherwise).
 * A unix socket is created mode 0600; a stale socket file left by a dead
 * instance is replaced, a live one is -EADDRINUSE.
 */
int cd_endpoint_listen(const struct cd_endpoint *ep);

#endif /* BGW_CD_ENDPOINT_H */
