/* SPDX-License-Identifier: MIT */
/*
 * The client's relay path (rpath.h). Everything from the network is
 * decoded by rmsg_decode (relay/rmsg.h: exact lengths, zero padding)
 * and taken only from the relay's address; the gateway's datagrams
 * only from its reflexive address, and then only DTLS (never empty).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "rmsg.h"
#include "rpath.h"

enum rp_state {
	RP_HELLO,		/* CONN_HELLO sent */
	RP_CONNECT,		/* CONNECT sent */
	RP_UP,			/* CONNECTED: shuttling */
	RP_DONE,		/* failed or closed */
};

struct tun_rpath {
	struct loop *l;
	const struct tun_rpath_ops *ops;
	void *user;
	char relay[300];		/* as given (a bundle line: 253 at most) */
	uint8_t id[RMSG_ID_LEN];
	enum rp_state state;
	int fd;				/* the UDP socket */
	struct sockaddr_storage ra;	/* the relay address answering */
	socklen_t ralen;
	/*
	 * Every address of the relay's name (doc/relay.md, "Spreading homes
	 * over relays"): CONN_HELLO goes to each; the first to challenge
	 * is the one used. A refusal rules out only its address.
	 */
	struct sockaddr_storage ras[TUN_RPATH_ADDRS];
	socklen_t ralens[TUN_RPATH_ADDRS];
	unsigned nra, refused;		/* refused: a bit per address */
	struct sockaddr_storage ga;	/* the gateway as the relay sees it */
	socklen_t galen;
	uint32_t chan;
	struct rmsg challenge;		/* echoed as CONNECT */
	unsigned connects;		/* CONNECTs sent for this challenge */
	int rfd, dfd;			/* our ends: relayed, direct; -1 */
	struct loop_timer *timer;
	uint64_t deadline_us;
};

static void rp_send(struct tun_rpath *rp, const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	if (n > 0 && sendto(rp->fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
			    (const struct sockaddr *)&rp->ra, rp->ralen) < 0)
		log_debug("tunnel: relay %s: %s", rp->relay, strerror(errno));
}

/* To every address not refused yet, in the order the resolver gave. */
static void rp_hello(struct tun_rpath *rp)
{
	struct rmsg m;
	unsigned i;

	memset(&m, 0, sizeof(m));
	m.type = RMSG_CONN_HELLO;
	memcpy(m.id, rp->id, RMSG_ID_LEN);
	for (i = 0; i < rp->nra; i++) {
		if (rp->refused & (1u << i))
			continue;
		memcpy(&rp->ra, &rp->ras[i], rp->ralens[i]);
		rp->ralen = rp->ralens[i];
		rp_send(rp, &m);
	}
}

static void rp_close_end(struct tun_rpath *rp, int *fd)
{
	if (*fd < 0)
		return;
	loop_del_fd(rp->l, *fd);
	close(*fd);
	*fd = -1;
}

static void rp_fail(struct tun_rpath *rp, const char *why)
{
	rp->state = RP_DONE;
	loop_timer_disarm(rp->timer);
	rp->ops->failed(rp->user, rp, why);
}

static void rp_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_rpath *rp = user;
	char why[400];

	if (rp->state != RP_HELLO && rp->state != RP_CONNECT)
		return;
	if (loop_now_us() >= rp->deadline_us) {
		snprintf(why, sizeof(why), "relay %s: no answer", rp->relay);
		rp_fail(rp, why);	/* the last use of rp here */
		return;
	}
	/*
	 * A CONNECT unanswered twice: the challenge may have come with a bit
	 * flipped (the relay drops a CONNECT whose cookie does not verify,
	 * without a word): ask for a fresh one rather than repeat it to the
	 * deadline.
	 */
	if (rp->state == RP_CONNECT && rp->connects >= 2)
		rp->state = RP_HELLO;
	if (rp->state == RP_HELLO) {
		rp_hello(rp);
	} else {
		rp->connects++;
		rp_send(rp, &rp->challenge);
	}
	loop_timer_arm(t, TUN_RPATH_RETRY_MS * 1000ull);
}

/* A relayed or direct DTLS client's datagram, out. */
static void rp_on_end(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_rpath *rp = user;
	uint8_t b[RMSG_DATA_MAX + 1];
	struct rmsg m;
	ssize_t n;
	int k;

	for (k = 0; k < 64; k++) {
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			break;
		/* The DTLS MTU (1200) is the DATA cap: longer is not ours. */
		if (n == 0 || (size_t)n > RMSG_DATA_MAX)
			continue;
		if (fd == rp->dfd) {
			if (sendto(rp->fd, b, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
				   (const struct sockaddr *)&rp->ga, rp->galen) < 0)
				log_debug("tunnel: direct: %s", strerror(errno));
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.type = RMSG_DATA;
		m.chan = rp->chan;
		m.data = b;
		m.data_len = (uint16_t)n;
		rp_send(rp, &m);
	}
	if (events & (EPOLLERR | EPOLLHUP))
		rp_close_end(rp, fd == rp->dfd ? &rp->dfd : &rp->rfd);
}

static int rp_pair(struct tun_rpath *rp, int *ours)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (loop_add_fd(rp->l, sv[0], EPOLLIN, rp_on_end, rp) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	*ours = sv[0];
	return sv[1];
}

/* The gateway's address in this socket's family (IPv4 mapped on IPv6). */
static int rp_gw_addr(struct tun_rpath *rp, const struct rmsg_addr *a)
{
	memset(&rp->ga, 0, sizeof(rp->ga));
	if (rp->ra.ss_family == AF_INET && a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&rp->ga;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->a, 4);
		rp->galen = sizeof(*s4);
		return 0;
	}
	if (rp->ra.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&rp->ga;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		if (a->family == 4) {
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(s6->sin6_addr.s6_addr + 12, a->a, 4);
		} else {
			memcpy(&s6->sin6_addr, a->a, 16);
		}
		rp->galen = sizeof(*s6);
		return 0;
	}
	rp->galen = 0;
	return -EAFNOSUPPORT;
}

static void rp_connected(struct tun_rpath *rp, const struct rmsg *m)
{
	char why[400];
	int rfd, dfd = -1;

	rp->chan = m->chan;
	rp->state = RP_UP;
	loop_timer_disarm(rp->timer);
	rfd = rp_pair(rp, &rp->rfd);
	if (rfd >= 0 && rp_gw_addr(rp, &m->addr) == 0) {
		dfd = rp_pair(rp, &rp->dfd);
		if (dfd < 0)
			dfd = -1;	/* the relayed path alone */
	}
	if (rfd < 0) {
		snprintf(why, sizeof(why), "relay %s: %s", rp->relay, strerror(-rfd));
		rp_fail(rp, why);
		return;
	}
	rp->ops->connected(rp->user, rp, rfd, dfd);
}

static bool rp_same(const struct sockaddr_storage *a, socklen_t al,
		    const struct sockaddr_storage *b, socklen_t bl)
{
	return al && al == bl && tun_addr_eq(a, al, b, bl);
}

/*
 * Which of the relay's addresses sent this: any while saying hello,
 * afterwards only the one that answered first. -1 if none.
 */
static int rp_relay_index(const struct tun_rpath *rp, const struct sockaddr_storage *from,
			  socklen_t flen)
{
	unsigned i;

	for (i = 0; i < rp->nra; i++) {
		if (!rp_same(from, flen, &rp->ras[i], rp->ralens[i]))
			continue;
		if (rp->state == RP_HELLO)
			return (int)i;
		return rp_same(from, flen, &rp->ra, rp->ralen) ? (int)i : -1;
	}
	return -1;
}

/*
 * A relay message from address ri. True when the owner was called
 * (connected or failed), which may have freed rp: the caller touches it
 * no more.
 */
static bool rp_on_relay(struct tun_rpath *rp, unsigned ri, const uint8_t *b, size_t n)
{
	char why[512];
	struct rmsg m;

	if (rmsg_decode(&m, b, n) < 0)
		return false;
	switch (m.type) {
	case RMSG_CONN_CHALLENGE:
		if (rp->state != RP_HELLO || memcmp(m.id, rp->id, RMSG_ID_LEN))
			break;
		memcpy(&rp->ra, &rp->ras[ri], rp->ralens[ri]);
		rp->ralen = rp->ralens[ri];
		rp->challenge = m;
		rp->challenge.type = RMSG_CONNECT;
		rp->state = RP_CONNECT;
		rp->connects = 1;
		rp_send(rp, &rp->challenge);
		loop_timer_arm(rp->timer, TUN_RPATH_RETRY_MS * 1000ull);
		break;
	case RMSG_CONNECTED:
		if (rp->state == RP_CONNECT && !memcmp(m.id, rp->id, RMSG_ID_LEN) && m.chan) {
			rp_connected(rp, &m);
			return true;
		}
		break;
	case RMSG_REFUSED:
		if ((rp->state != RP_HELLO && rp->state != RP_CONNECT) ||
		    memcmp(m.id, rp->id, RMSG_ID_LEN))
			break;
		/* Another address of the name may still hold the home. */
		rp->refused |= 1u << ri;
		if (rp->refused != (1u << rp->nra) - 1) {
			if (rp->state == RP_CONNECT) {
				rp->state = RP_HELLO;
				rp_hello(rp);
			}
			break;
		}
		snprintf(why, sizeof(why), "relay %s: %s", rp->relay,
			 m.code == RMSG_REFUSE_UNAVAILABLE ?
			 "the home is not registered there (is bgw-muxd running, with this relay in its configuration?)" :
			 m.code == RMSG_REFUSE_LIMIT ? "refused: too many attempts, try again later" :
			 "refused");
		rp_fail(rp, why);
		return true;
	case RMSG_DATA:
		if (rp->state == RP_UP && m.chan == rp->chan && rp->rfd >= 0 &&
		    send(rp->rfd, m.data, m.data_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("tunnel: relayed: %s", strerror(errno));
		break;
	case RMSG_CLOSE:
		/* The relayed DTLS client then times out like a lost path. */
		if (rp->state == RP_UP && m.chan == rp->chan) {
			log_info("tunnel: relay %s closed the channel", rp->relay);
			rp->chan = 0;
			rp_close_end(rp, &rp->rfd);
		}
		break;
	default:
		break;
	}
	return false;
}

static void rp_on_udp(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_rpath *rp = user;
	uint8_t b[RMSG_MAX + 1];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;
	int k, ri;

	for (k = 0; k < 64; k++) {
		flen = sizeof(from);
		n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0)
			break;
		if ((size_t)n > RMSG_MAX)
			continue;
		ri = rp_relay_index(rp, &from, flen);
		if (ri >= 0) {
			if (rp_on_relay(rp, (unsigned)ri, b, (size_t)n))
				return;	/* the owner may have freed rp */
			continue;
		}
		/* The gateway's DTLS, direct; its empty punches are dropped. */
		if (n > 0 && rp->state == RP_UP && rp->dfd >= 0 &&
		    rp_same(&from, flen, &rp->ga, rp->galen) &&
		    send(rp->dfd, b, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("tunnel: direct: %s", strerror(errno));
	}
}

unsigned tun_rpath_addrs(const struct addrinfo *res, struct sockaddr_storage ras[TUN_RPATH_ADDRS],
			 socklen_t lens[TUN_RPATH_ADDRS], bool *more)
{
	const struct addrinfo *ai;
	struct sockaddr_storage a;
	unsigned n = 0, i;

	*more = false;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(a) || ai->ai_family != res->ai_family)
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(&a, ai->ai_addr, ai->ai_addrlen);
		for (i = 0; i < n; i++)
			if (tun_addr_eq(&ras[i], lens[i], &a, ai->ai_addrlen))
				break;
		if (i < n)
			continue;
		if (n == TUN_RPATH_ADDRS) {
			*more = true;
			break;
		}
		ras[n] = a;
		lens[n++] = ai->ai_addrlen;
	}
	return n;
}

/* "HOST:PORT" or "[v6]:PORT". */
static int rp_resolve(struct tun_rpath *rp, const char *relay)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	char host[NI_MAXHOST];
	const char *c = strrchr(relay, ':'), *h = relay;
	bool more = false;
	size_t hl;
	int r;

	if (!c || !c[1])
		return -EINVAL;
	hl = (size_t)(c - relay);
	if (hl >= 2 && relay[0] == '[' && relay[hl - 1] == ']') {
		h = relay + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	r = getaddrinfo(host, c + 1, &hints, &res);
	if (r != 0 || !res)
		return -EHOSTUNREACH;
	/* One socket: the addresses of the first one's family. */
	rp->nra = tun_rpath_addrs(res, rp->ras, rp->ralens, &more);
	freeaddrinfo(res);
	if (!rp->nra)
		return -EHOSTUNREACH;
	if (more)
		log_notice("tunnel: relay %s has more than %u addresses; asking the first %u",
			   relay, TUN_RPATH_ADDRS, TUN_RPATH_ADDRS);
	memcpy(&rp->ra, &rp->ras[0], rp->ralens[0]);
	rp->ralen = rp->ralens[0];
	return 0;
}

int tun_rpath_new(struct tun_rpath **out, struct loop *l, const char *relay,
		  const uint8_t id[16], unsigned deadline_ms, const struct tun_rpath_ops *ops,
		  void *user)
{
	struct tun_rpath *rp;
	int ret;

	*out = NULL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->l = l;
	rp->ops = ops;
	rp->user = user;
	rp->fd = rp->rfd = rp->dfd = -1;
	snprintf(rp->relay, sizeof(rp->relay), "%s", relay);
	memcpy(rp->id, id, RMSG_ID_LEN);
	ret = rp_resolve(rp, relay);
	if (ret < 0)
		goto fail;
	rp->fd = socket(rp->ra.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rp->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = loop_add_fd(l, rp->fd, EPOLLIN, rp_on_udp, rp);
	if (ret < 0) {
		close(rp->fd);
		rp->fd = -1;
		goto fail;
	}
	rp->timer = loop_timer_new(l, rp_timer_cb, rp);
	if (!rp->timer) {
		ret = -ENOMEM;
		goto fail;
	}
	rp->deadline_us = loop_now_us() + (uint64_t)deadline_ms * 1000;
	rp->state = RP_HELLO;
	rp_hello(rp);
	loop_timer_arm(rp->timer, TUN_RPATH_RETRY_MS * 1000ull);
	*out = rp;
	return 0;
fail:
	tun_rpath_free(rp);
	return ret;
}

void tun_rpath_free(struct tun_rpath *rp)
{
	struct rmsg m;

	if (!rp)
		return;
	/* What the DTLS client wrote last (its close_notify) goes out first. */
	if (rp->rfd >= 0)
		rp_on_end(rp->l, rp->rfd, 0, rp);
	if (rp->dfd >= 0)
		rp_on_end(rp->l, rp->dfd, 0, rp);
	if (rp->state == RP_UP && rp->chan && rp->fd >= 0) {
		memset(&m, 0, sizeof(m));
		m.type = RMSG_CLOSE;
		m.chan = rp->chan;
		rp_send(rp, &m);
	}
	rp_close_end(rp, &rp->rfd);
	rp_close_end(rp, &rp->dfd);
	rp_close_end(rp, &rp->fd);
	loop_timer_free(rp->timer);
	free(rp);
}

const char *tun_rpath_relay(const struct tun_rpath *rp)
{
	return rp->relay;
}

const char *tun_rpath_gateway(const struct tun_rpath *rp, char *buf, size_t cap)
{
	if (!rp->galen) {
		snprintf(buf, cap, "?");
		return buf;
	}
	return tun_addr_str(&rp->ga, rp->galen, buf, cap);
}

void tun_rpath_keep(struct tun_rpath *rp, bool relayed)
{
	struct rmsg m;

	if (relayed) {
		rp_close_end(rp, &rp->dfd);
		return;
	}
	rp_close_end(rp, &rp->rfd);
	if (rp->state == RP_UP && rp->chan) {
		memset(&m, 0, sizeof(m));
		m.type = RMSG_CLOSE;
		m.chan = rp->chan;
		rp_send(rp, &m);
		rp->chan = 0;
	}
}

int tun_rpath_direct(struct tun_rpath *rp)
{
	if (rp->state != RP_UP || !rp->galen)
		return -EAFNOSUPPORT;
	if (rp->dfd >= 0)
		return -EALREADY;
	return rp_pair(rp, &rp->dfd);
}
