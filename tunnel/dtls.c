/* SPDX-License-Identifier: MIT */
/*
 * DTLS 1.2 over UDP: one listening socket shared by every peer, and the
 * client's connected socket.
 *
 * The listener demultiplexes datagrams by source address. A datagram from
 * an unknown address gets no state at all unless it is a ClientHello
 * carrying a valid cookie (RFC 6347 4.2.1): anything else is dropped, and
 * a ClientHello without a valid cookie is answered statelessly with a
 * HelloVerifyRequest, which is smaller than the ClientHello (no
 * amplification) and proves the address is reachable before a
 * gnutls_session_t is allocated. So spoofed ClientHellos cost one HMAC
 * and one small datagram each, and no memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/dtls.h>

#include "chan.h"
#include "cookie.h"
#include "log.h"

struct tun_dlisten {
	struct tun_listen_cfg cfg;
	int fd;
	struct tun_cookie cookie;
	struct tun_chan *peers;
};

int tun_sock_bind(const char *host, const char *port, int type)
{
	struct addrinfo hints = { .ai_socktype = type, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, ret, one = 1;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0) {
		log_err("tunnel: %s port %s: %s", host ? host : "*", port,
			gai_strerror(ret));
		return -EINVAL;
	}
	ret = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    (type != SOCK_STREAM || listen(fd, 16) == 0))
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		log_err("tunnel: bind %s port %s: %s", host ? host : "*", port,
			strerror(-ret));
	return fd < 0 ? ret : fd;
}

uint16_t tun_sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static bool addr_match(const struct sockaddr_storage *a, socklen_t al,
		       const struct sockaddr_storage *b, socklen_t bl, bool port)
{
	if (al != bl || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return (!port || x->sin_port == y->sin_port) &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return (!port || x->sin6_port == y->sin6_port) &&
		       x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

bool tun_addr_eq(const struct sockaddr_storage *a, socklen_t al,
		 const struct sockaddr_storage *b, socklen_t bl)
{
	return addr_match(a, al, b, bl, true);
}

bool tun_host_eq(const struct sockaddr_storage *a, socklen_t al,
		 const struct sockaddr_storage *b, socklen_t bl)
{
	return addr_match(a, al, b, bl, false);
}


static void dl_unlink(struct tun_chan *ch)
{
	struct tun_dlisten *dl = ch->owner;
	struct tun_chan **pp;

	for (pp = &dl->peers; *pp; pp = &(*pp)->next) {
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	}
	ch->next = NULL;
}

static void dl_new_peer(struct tun_dlisten *dl, const uint8_t *b, size_t n,
			const struct sockaddr_storage *addr, socklen_t alen,
			struct tun_chan *old)
{
	gnutls_dtls_prestate_st pre;
	struct tun_chan *ch;

	if (!tun_dtls_is_client_hello(b, n))
		return;		/* not ours to answer; no state, no reply */
	if (!tun_cookie_valid(&dl->cookie, addr, alen, b, n, &pre)) {
		/* pre holds the hello's sequence numbers for the reply. */
		tun_cookie_send(&dl->cookie, dl->fd, addr, alen, alen, NULL, 0, &pre);
		return;
	}
	/*
	 * A valid cookie from an address that has an established channel:
	 * the client restarted on the same port. The old channel is over.
	 */
	if (old)
		tun_chan_abort(old, TUN_R_PEER_DEAD);
	if (dl->cfg.may_accept && !dl->cfg.may_accept(dl->cfg.user, addr, alen)) {
		log_info("tunnel: new DTLS peer refused: too many handshakes pending");
		return;
	}
	if (tun_chan_new(&ch, dl->cfg.l, dl->cfg.creds, TUN_CHAN_DGRAM_SRV, dl->fd,
			 dl->cfg.handshake_ms, dl->cfg.ops, dl->cfg.user) < 0)
		return;
	memcpy(&ch->addr, addr, alen);
	ch->alen = alen;
	gnutls_dtls_prestate_set(ch->gs, &pre);
	if (pktq_push(&ch->inq, b, n) < 0) {
		tun_chan_close(ch);
		return;
	}
	ch->owner = dl;
	ch->unlink = dl_unlink;
	ch->next = dl->peers;
	dl->peers = ch;
	if (dl->cfg.adopt && dl->cfg.adopt(dl->cfg.user, ch) < 0) {
		tun_chan_close(ch);
		return;
	}
	tun_chan_start(ch);
}

static void dl_fd_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_dlisten *dl = user;
	static uint8_t b[TUN_DGRAM_MAX];
	struct sockaddr_storage addr;
	socklen_t alen;
	struct tun_chan *ch;
	ssize_t n;
	int k;

	for (k = 0; k < TUN_BATCH_MAX; k++) {
		alen = sizeof(addr);
		n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&addr, &alen);
		if (n < 0)
			break;
		if ((size_t)n > sizeof(b) || n == 0)
			continue;
		for (ch = dl->peers; ch; ch = ch->next)
			if (tun_addr_eq(&ch->addr, ch->alen, &addr, alen))
				break;
		if (!ch || (ch->up && tun_dtls_is_client_hello(b, (size_t)n))) {
			dl_new_peer(dl, b, (size_t)n, &addr, alen, ch);
			continue;
		}
		/* A full queue drops, as a full socket buffer would. */
		if (pktq_push(&ch->inq, b, (size_t)n) == 0)
			tun_chan_input(ch);
	}
}

int tun_dlisten_new(struct tun_dlisten **out, const struct tun_listen_cfg *cfg)
{
	struct tun_dlisten *dl;
	int ret;

	*out = NULL;
	dl = calloc(1, sizeof(*dl));
	if (!dl)
		return -ENOMEM;
	dl->cfg = *cfg;
	dl->fd = -1;
	ret = tun_cookie_init(&dl->cookie, cfg->l);
	if (ret < 0)
		goto fail;
	dl->fd = tun_sock_bind(cfg->host, cfg->port, SOCK_DGRAM);
	if (dl->fd < 0) {
		ret = dl->fd;
		goto fail;
	}
	ret = loop_add_fd(cfg->l, dl->fd, EPOLLIN, dl_fd_cb, dl);
	if (ret < 0)
		goto fail;
	*out = dl;
	return 0;
fail:
	tun_dlisten_free(dl);
	return ret;
}

void tun_dlisten_free(struct tun_dlisten *dl)
{
	if (!dl)
		return;
	while (dl->peers)
		tun_chan_destroy(dl->peers);	/* unlinks itself */
	if (dl->fd >= 0) {
		loop_del_fd(dl->cfg.l, dl->fd);
		close(dl->fd);
	}
	tun_cookie_free(&dl->cookie);
	free(dl);
}

uint16_t tun_dlisten_port(const struct tun_dlisten *dl)
{
	return dl ? tun_sock_port(dl->fd) : 0;
}

/* A connected socket to host:port: the kernel filters other sources. */
static int sock_connect(const char *host, const char *port, int type,
			struct sockaddr_storage *addr, socklen_t *alen)
{
	struct addrinfo hints = { .ai_socktype = type };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, ret;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0) {
		log_err("tunnel: %s port %s: %s", host, port, gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			memcpy(addr, ai->ai_addr, ai->ai_addrlen);
			*alen = ai->ai_addrlen;
			break;
		}
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd < 0 ? ret : fd;
}

/* A client channel on fd (taken either way), named after addr or via. */
static int client_start(struct tun_chan **out, const struct tun_listen_cfg *cfg, int fd,
			enum tun_chan_kind kind, const struct sockaddr_storage *addr,
			socklen_t alen, const char *via)
{
	struct tun_chan *ch;
	int ret;

	ret = tun_chan_new(&ch, cfg->l, cfg->creds, kind, fd, cfg->handshake_ms,
			   cfg->ops, cfg->user);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	memcpy(&ch->addr, addr, alen);
	ch->alen = alen;
	if (via)
		snprintf(ch->via, sizeof(ch->via), "%s", via);
	/*
	 * Published before the start: on loopback the server can answer
	 * every flight before GnuTLS gives up polling, so the handshake may
	 * complete, and ops->up run, inside tun_chan_start(); the owner must
	 * already know its channel then.
	 */
	*out = ch;
	ret = tun_chan_start(ch);
	if (ret < 0) {
		*out = NULL;
		ch->ops = NULL;
		tun_chan_close(ch);
		return ret;
	}
	return 0;
}

static int client_connect(struct tun_chan **out, const struct tun_listen_cfg *cfg,
			  int type, enum tun_chan_kind kind)
{
	struct sockaddr_storage addr;
	socklen_t alen = 0;
	int fd;

	*out = NULL;
	fd = sock_connect(cfg->host, cfg->port, type, &addr, &alen);
	if (fd < 0)
		return fd;
	return client_start(out, cfg, fd, kind, &addr, alen, NULL);
}

int tun_dtls_connect(struct tun_chan **out, const struct tun_listen_cfg *cfg)
{
	return client_connect(out, cfg, SOCK_DGRAM, TUN_CHAN_DGRAM_CLI);
}

int tun_dtls_connect_fd(struct tun_chan **out, const struct tun_listen_cfg *cfg, int fd,
			const char *via)
{
	/* No network address: the family alone, so no one takes it for one. */
	struct sockaddr_storage none;

	*out = NULL;
	if (fd < 0 || !via || !via[0]) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	return client_start(out, cfg, fd, TUN_CHAN_DGRAM_CLI, &none, sizeof(sa_family_t), via);
}

int tun_tls_connect(struct tun_chan **out, const struct tun_listen_cfg *cfg)
{
	return client_connect(out, cfg, SOCK_STREAM, TUN_CHAN_STREAM);
}
