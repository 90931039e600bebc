/* SPDX-License-Identifier: MIT */
/*
 * The DTLS tunnel upstream (tunnel/tunnel.h): a remote controller reached
 * through bgw-muxd over the network. See cdclient/remote.h.
 */
#ifndef BGW_CD_REMOTE_TUNNEL_H
#define BGW_CD_REMOTE_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "remote.h"

/* The port a gateway listens on when --server names none. */
#define CD_TUNNEL_DEFAULT_PORT	"4433"

enum cd_transport {
	CD_TRANSPORT_AUTO = 0,	/* DTLS, TLS over TCP as well after 1 s */
	CD_TRANSPORT_DTLS,	/* --dtls: DTLS over UDP only */
	CD_TRANSPORT_TLS,	/* --tls: TLS over TCP only */
};

struct cd_tunnel_opts {
	const char *host;		/* NULL with relays: relays only */
	const char *port;
	/* The bundle's relays and the home id of its CA (doc/relay.md). */
	const char *const *relays;
	unsigned nrelay;
	const uint8_t *home_id;
	enum cd_transport transport;
	/* The gateway's CA the server certificate must chain to (a file)... */
	const char *ca_file;
	/* ...or, from an enrolment bundle, the CA, certificate and key PEMs. */
	const char *ca_pem;
	const char *cert_pem;
	const char *key_pem;
	/* Certificate mode with files: both set. */
	const char *cert_file;
	const char *key_file;
	/* Password mode: the user and the password (copied, wiped on free). */
	const char *user;
	const char *password;
	size_t password_len;
	/* For the advice in messages: where the CA or the bundle came from. */
	const char *ca_path;
	const char *bundle_path;
	const char *bundle_user;
};

/*
 * The errors failed() reports (cdclient/remote.h), which bgw-cdclient
 * turns into its exit status:
 *   -EACCES        the gateway refused the login (password, certificate)
 *   -EHOSTUNREACH  no gateway answered (name, DTLS and TLS, login)
 *   -EKEYREJECTED  the server is not the gateway the pinned CA vouches
 *                  for, or the secure handshake failed
 *   other          anything else
 */

/* -EINVAL unless exactly one login mode and a CA are given; -ENOMEM. */
int cd_remote_new_tunnel(struct cd_remote **out, struct loop *l,
			 const struct cd_tunnel_opts *o,
			 const struct cd_remote_cbs *cbs, void *user);

#endif /* BGW_CD_REMOTE_TUNNEL_H */
