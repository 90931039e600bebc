/* SPDX-License-Identifier: MIT */
/*
 * The network front of bgw-muxd (front.h): listeners, stateless DTLS
 * cookies, caps, and the hand-over of each verified peer to a process of
 * its own. Nothing here parses more of a datagram than a DTLS record
 * header and the ClientHello fields GnuTLS's cookie check reads.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "cookie.h"
#include "front.h"
#include "log.h"

#define FRONT_MAX_PEERS		48
#define FRONT_MAX_PENDING	32
#define FRONT_HANDSHAKE_MS	10000
/* One refusal line per second at most; the rest are counted. */
#define FRONT_LOG_GAP_US	1000000ull
/*
 * At most one question a while to the owner about which young peers
 * logged in (logged_in hook): a flood of hellos with valid cookies from
 * a host at its cap costs the owner (the monitor) one answer per gap,
 * and a refused client's next retransmission (1 s later) is asked about
 * again. At most FRONT_ASK_MAX peers per question.
 */
#define FRONT_ASK_GAP_US	50000ull
#define FRONT_ASK_MAX		64

struct front_slot {
	pid_t pid;
	bool dgram;
	uint32_t relay_chan;	/* relayed: its channel (a distinct peer) */
	bool stopped;		/* told to stop, not yet gone */
	bool in;		/* logged in (the owner said so): not pending */
	struct sockaddr_storage addr;
	socklen_t alen;
	uint64_t born_us;
};

struct tun_front {
	struct tun_front_cfg cfg;
	struct loop *l;
	int ufd, tfd;
	int ufamily;
	struct tun_cookie cookie;
	struct front_slot *slots;	/* [cfg.max_peers], pid 0: free */
	unsigned npeers;
	struct tun_front_peer *hand;	/* the hand-over being prepared */
	unsigned long dgrams;
	uint64_t log_next_us;
	unsigned log_quiet;
	uint64_t ask_next_us;	/* the next logged_in question, not before */
};

/*
 * Refusals can be provoked at will by anyone who can reach the port:
 * at most one line a second, with the number of lines left out.
 */
static void refuse_log(struct tun_front *f, const char *what,
		       const struct sockaddr_storage *a, socklen_t alen)
{
	uint64_t now = loop_now_us();
	char peer[NI_MAXHOST + NI_MAXSERV + 4];

	if (now < f->log_next_us) {
		f->log_quiet++;
		return;
	}
	if (f->log_quiet)
		log_notice("tunnel: %s: new peer refused: %s (%u more refusals not logged)",
			   tun_addr_str(a, alen, peer, sizeof(peer)), what, f->log_quiet);
	else
		log_notice("tunnel: %s: new peer refused: %s",
			   tun_addr_str(a, alen, peer, sizeof(peer)), what);
	f->log_quiet = 0;
	f->log_next_us = now + FRONT_LOG_GAP_US;
}

/*
 * A CD racing a relayed and a punched handshake sends both from one
 * address: the relayed peer is told apart by its channel.
 */
static struct front_slot *slot_by_addr(struct tun_front *f, bool dgram, uint32_t chan,
				       const struct sockaddr_storage *a, socklen_t alen)
{
	unsigned i;

	for (i = 0; i < f->cfg.max_peers; i++) {
		struct front_slot *s = &f->slots[i];

		if (s->pid > 0 && s->dgram == dgram && s->relay_chan == chan &&
		    tun_addr_eq(&s->addr, s->alen, a, alen))
			return s;
	}
	return NULL;
}

/*
 * The network part of an address for the per-network cap: 3 bytes of an
 * IPv4 address (a /24, also when IPv4-mapped in IPv6), 8 of an IPv6 one
 * (a /64: one subscriber's prefix, RFC 6177). 0 if it has none.
 */
static size_t net_part(const struct sockaddr_storage *a, socklen_t al, uint8_t out[8],
		       int *family)
{
	if (a->ss_family == AF_INET && al >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(out, &((const struct sockaddr_in *)a)->sin_addr, 3);
		*family = AF_INET;
		return 3;
	}
	if (a->ss_family == AF_INET6 && al >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(v6)) {
			memcpy(out, v6->s6_addr + 12, 3);
			*family = AF_INET;
			return 3;
		}
		memcpy(out, v6->s6_addr, 8);
		*family = AF_INET6;
		return 8;
	}
	return 0;
}

bool tun_front_same_net(const struct sockaddr_storage *a, socklen_t al,
			const struct sockaddr_storage *b, socklen_t bl)
{
	uint8_t x[8], y[8];
	int fx = 0, fy = 0;
	size_t nx = net_part(a, al, x, &fx), ny = net_part(b, bl, y, &fy);

	return nx && nx == ny && fx == fy && memcmp(x, y, nx) == 0;
}

enum front_admit {
	ADMIT_NO,
	ADMIT_YES,
	ADMIT_KNOWN,		/* only if the source logged in before */
};

static bool slot_pending(const struct front_slot *s, uint64_t now, uint64_t young)
{
	return s->pid > 0 && !s->in && now - s->born_us < young;
}

/*
 * Ask the owner which pending peers logged in since (front.h, logged_in):
 * those stop counting as pending. The answer is trusted one way only: a
 * peer said to have logged in is marked for good; one the owner did not
 * confirm (or an error) stays pending until its login deadline.
 */
static void ask_logged_in(struct tun_front *f, uint64_t now, uint64_t young)
{
	pid_t pids[FRONT_ASK_MAX];
	bool in[FRONT_ASK_MAX];
	unsigned at[FRONT_ASK_MAX];
	unsigned i = 0, n, k;

	if (!f->cfg.logged_in || now < f->ask_next_us)
		return;
	f->ask_next_us = now + FRONT_ASK_GAP_US;
	while (i < f->cfg.max_peers) {
		for (n = 0; i < f->cfg.max_peers && n < FRONT_ASK_MAX; i++) {
			if (!slot_pending(&f->slots[i], now, young))
				continue;
			pids[n] = f->slots[i].pid;
			at[n++] = i;
		}
		if (n == 0)
			break;
		memset(in, 0, sizeof(in));
		if (f->cfg.logged_in(f->cfg.user, pids, n, in) < 0)
			break;
		for (k = 0; k < n; k++)
			if (in[k] && f->slots[at[k]].pid == pids[k])
				f->slots[at[k]].in = true;
	}
}

/*
 * The caps of front.h, over the pending peers (young, not known to have
 * logged in). A refusal, or a slot that only a known source may take,
 * comes with why (for the log).
 */
static enum front_admit caps(const struct tun_front *f, const struct sockaddr_storage *a,
			     socklen_t alen, uint64_t now, uint64_t young, const char **why)
{
	unsigned i, pending = 0, host = 0, net = 0;

	*why = NULL;
	for (i = 0; i < f->cfg.max_peers; i++) {
		const struct front_slot *s = &f->slots[i];

		if (!slot_pending(s, now, young))
			continue;
		pending++;
		if (tun_host_eq(&s->addr, s->alen, a, alen))
			host++;
		if (tun_front_same_net(&s->addr, s->alen, a, alen))
			net++;
	}
	if (pending >= f->cfg.max_pending) {
		*why = "too many logins pending";
		return ADMIT_NO;
	}
	if (host >= TUN_FRONT_PENDING_PER_HOST) {
		*why = "too many logins pending from this host";
		return ADMIT_NO;
	}
	if (net >= TUN_FRONT_PENDING_PER_NET) {
		*why = "too many logins pending from this network";
		return ADMIT_KNOWN;
	}
	if (pending >= f->cfg.max_pending - f->cfg.reserve) {
		*why = "too many logins pending (the rest are kept for known sources)";
		return ADMIT_KNOWN;
	}
	return ADMIT_YES;
}

/*
 * A peer stops counting as pending when it logs in, not only at its
 * login deadline: else 64 clients behind one address (a household's
 * NAT) get in TUN_FRONT_PENDING_PER_HOST per handshake_ms. The front
 * cannot see logins, so at a cap it asks the owner, then counts again.
 */
static enum front_admit over_cap(struct tun_front *f, const struct sockaddr_storage *a,
				 socklen_t alen, const char **why)
{
	uint64_t now = loop_now_us(), young = (uint64_t)f->cfg.handshake_ms * 1000;
	enum front_admit r;

	*why = NULL;
	if (f->npeers >= f->cfg.max_peers) {
		*why = "too many peers";
		return ADMIT_NO;
	}
	r = caps(f, a, alen, now, young, why);
	if (r != ADMIT_YES && f->cfg.logged_in && now >= f->ask_next_us) {
		ask_logged_in(f, now, young);
		r = caps(f, a, alen, now, young, why);
	}
	return r;
}

/*
 * Hand f->hand (fd set) to the owner; the front's copy of the fd is
 * closed. why: the cap a reserved slot passes over (the owner refuses
 * an unknown source with -EACCES), NULL for an ordinary slot.
 */
static pid_t hand_over(struct tun_front *f, const char *why)
{
	struct tun_front_peer *p = f->hand;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	pid_t pid;
	unsigned i;

	p->reserve = why != NULL;
	p->first_ms = f->cfg.first_ms;
	pid = f->cfg.spawn(f->cfg.user, p);
	close(p->fd);
	p->fd = -1;
	if (pid == -EACCES && why) {
		refuse_log(f, why, &p->addr, p->alen);
		return -EACCES;
	}
	if (pid <= 0) {
		log_warn("tunnel: %s: no process for the peer: %s",
			 tun_addr_str(&p->addr, p->alen, peer, sizeof(peer)),
			 strerror(pid < 0 ? (int)-pid : EINVAL));
		return pid < 0 ? pid : -EINVAL;
	}
	for (i = 0; i < f->cfg.max_peers && f->slots[i].pid > 0; i++)
		;
	if (i == f->cfg.max_peers) {
		/* over_cap() said there was room: cannot happen. */
		log_err("tunnel: peer table full, stopping %ld", (long)pid);
		if (f->cfg.stop)
			f->cfg.stop(f->cfg.user, pid);
		else
			kill(pid, SIGKILL);
		return -ENOSPC;
	}
	f->slots[i].pid = pid;
	f->slots[i].dgram = p->dgram;
	f->slots[i].relay_chan = p->relay_chan;
	f->slots[i].stopped = false;
	f->slots[i].in = false;
	memcpy(&f->slots[i].addr, &p->addr, p->alen);
	f->slots[i].alen = p->alen;
	f->slots[i].born_us = loop_now_us();
	f->npeers++;
	return pid;
}

/* ---- DTLS ---- */

/*
 * Where a hello was sent to (IP_PKTINFO / IPV6_PKTINFO; an IPv4 datagram
 * on the dual-stack socket comes as IPV6_PKTINFO with a mapped address).
 * On a host with several addresses, a wildcard listener's replies would
 * otherwise leave from the address the route picks, which the client's
 * connected socket drops; the HelloVerifyRequest goes out from this
 * address, and the peer's socket is bound to it.
 */
struct front_dst {
	bool have;
	struct in_pktinfo v4;
	struct in6_pktinfo v6;
};

static void dst_parse(struct msghdr *mh, int family, struct front_dst *d)
{
	struct cmsghdr *c;

	memset(d, 0, sizeof(*d));
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (family == AF_INET && c->cmsg_level == IPPROTO_IP &&
		    c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(d->v4))) {
			memcpy(&d->v4, CMSG_DATA(c), sizeof(d->v4));
			d->have = true;
		} else if (family == AF_INET6 && c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(d->v6))) {
			memcpy(&d->v6, CMSG_DATA(c), sizeof(d->v6));
			d->have = true;
		}
	}
}

/* Ancillary data for sendmsg() that sets the source address to d's. */
static size_t dst_ctl(const struct front_dst *d, int family, void *buf, size_t cap)
{
	struct msghdr mh = { .msg_control = buf, .msg_controllen = cap };
	struct cmsghdr *c;

	if (!d->have || cap < CMSG_SPACE(sizeof(d->v6)))
		return 0;
	memset(buf, 0, cap);
	c = CMSG_FIRSTHDR(&mh);
	if (family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = d->v4.ipi_addr };

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(d->v6));
	memcpy(CMSG_DATA(c), &d->v6, sizeof(d->v6));
	return CMSG_SPACE(sizeof(d->v6));
}

/* The listener's port with the address the hello was sent to. */
static int local_addr(struct tun_front *f, const struct front_dst *d,
		      struct sockaddr_storage *me, socklen_t *melen)
{
	*melen = sizeof(*me);
	if (getsockname(f->ufd, (struct sockaddr *)me, melen) < 0)
		return -errno;
	if (!d->have)
		return 0;	/* none reported: the listener's own address */
	if (me->ss_family == AF_INET) {
		((struct sockaddr_in *)me)->sin_addr = d->v4.ipi_addr;
	} else if (me->ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)me;

		s6->sin6_addr = d->v6.ipi6_addr;
		s6->sin6_scope_id = IN6_IS_ADDR_LINKLOCAL(&d->v6.ipi6_addr) ?
				    d->v6.ipi6_ifindex : 0;
	}
	return 0;
}

/*
 * A UDP socket on the listener's port, connected to the peer. SO_REUSEADDR
 * on both lets it share the port; the kernel then prefers the connected
 * socket, the most specific match, for the peer's datagrams.
 */
static int peer_socket(const struct sockaddr_storage *me, socklen_t melen,
		       const struct sockaddr_storage *to, socklen_t tolen)
{
	int fd, one = 1;

	fd = socket(me->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)me, melen) < 0 ||
	    connect(fd, (const struct sockaddr *)to, tolen) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void front_dgram(struct tun_front *f, const struct front_dst *d, size_t n)
{
	struct tun_front_peer *p = f->hand;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	struct sockaddr_storage me;
	socklen_t melen;
	struct front_slot *live;
	const char *why;
	int fd;

	/* Not a ClientHello: no reply, no state (as tun_dlisten). */
	if (!tun_dtls_is_client_hello(p->first, n))
		return;
	if (!tun_cookie_valid(&f->cookie, &p->addr, p->alen, p->first, n, &p->pre)) {
		union {
			struct cmsghdr align;
			uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		} ctl;
		size_t cl = dst_ctl(d, f->ufamily, ctl.b, sizeof(ctl.b));

		tun_cookie_send(&f->cookie, f->ufd, &p->addr, p->alen, p->alen,
				ctl.b, cl, &p->pre);
		return;
	}
	live = slot_by_addr(f, true, 0, &p->addr, p->alen);
	if (live) {
		/*
		 * Young: a retransmission that crossed the hand-over. Old:
		 * the client restarted on the same port, and its new hello
		 * reached us only because the old socket no longer takes
		 * it (the process is stuck or ending): stop it, and let
		 * the client's next retransmission find the slot free.
		 */
		if (!live->stopped &&
		    loop_now_us() - live->born_us >= (uint64_t)TUN_FRONT_RESTART_MS * 1000) {
			log_info("tunnel: %s: client restarted, stopping its old process %ld",
				 tun_addr_str(&p->addr, p->alen, peer, sizeof(peer)),
				 (long)live->pid);
			live->stopped = true;
			if (f->cfg.stop)
				f->cfg.stop(f->cfg.user, live->pid);
			else
				kill(live->pid, SIGKILL);
		}
		return;
	}
	if (over_cap(f, &p->addr, p->alen, &why) == ADMIT_NO) {
		refuse_log(f, why, &p->addr, p->alen);
		return;
	}
	if (local_addr(f, d, &me, &melen) < 0)
		return;
	fd = peer_socket(&me, melen, &p->addr, p->alen);
	if (fd < 0) {
		log_warn("tunnel: %s: peer socket: %s",
			 tun_addr_str(&p->addr, p->alen, peer, sizeof(peer)), strerror(-fd));
		return;
	}
	p->fd = fd;
	p->dgram = true;
	p->first_len = n;
	p->relay_chan = 0;
	p->via[0] = '\0';
	hand_over(f, why);
}

int tun_front_relayed(struct tun_front *f, uint32_t chan, const char *via,
		      const struct sockaddr_storage *from, socklen_t alen, const uint8_t *b,
		      size_t n, uint8_t *reply, size_t cap, size_t *reply_len, pid_t *pid)
{
	struct tun_front_peer *p = f->hand;
	struct sockaddr_storage cd;
	const char *why;
	int sv[2];
	pid_t r;

	*reply_len = 0;
	*pid = 0;
	if (f->ufd < 0 || chan == 0 || n == 0 || n > sizeof(p->first) || alen == 0 ||
	    alen > sizeof(cd))
		return -EINVAL;
	/* b and from may be the hand-over's own buffers (the dgram hook). */
	memcpy(&cd, from, alen);
	memmove(p->first, b, n);
	memcpy(&p->addr, &cd, alen);
	p->alen = alen;
	if (!tun_dtls_is_client_hello(p->first, n))
		return 0;
	/*
	 * The cookie binds the CD's address as the relay saw it (which the
	 * relay verified with its own cookie) and, like a direct one, keeps
	 * the front stateless until the CD has answered once.
	 */
	if (!tun_cookie_valid(&f->cookie, &p->addr, p->alen, p->first, n, &p->pre)) {
		*reply_len = tun_cookie_make(&f->cookie, &p->addr, p->alen, &p->pre, reply, cap);
		return 0;
	}
	/* A retransmission that crossed the hand-over: the peer has it. */
	if (slot_by_addr(f, true, chan, &p->addr, p->alen))
		return 0;
	if (over_cap(f, &p->addr, p->alen, &why) == ADMIT_NO) {
		refuse_log(f, why, &p->addr, p->alen);
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p->fd = sv[1];
	p->dgram = true;
	p->first_len = n;
	p->relay_chan = chan;
	snprintf(p->via, sizeof(p->via), "%s", via ? via : "?");
	r = hand_over(f, why);
	p->relay_chan = 0;
	p->via[0] = '\0';
	if (r <= 0) {
		close(sv[0]);
		return r < 0 ? (int)r : -EIO;
	}
	*pid = r;
	return sv[0];
}

static void front_udp_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_front *f = user;
	struct tun_front_peer *p = f->hand;
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			  CMSG_SPACE(sizeof(struct in_pktinfo))];
	} cbuf;
	struct front_dst d;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;
	int k;

	for (k = 0; k < TUN_BATCH_MAX; k++) {
		iov.iov_base = p->first;
		iov.iov_len = sizeof(p->first);
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &p->addr;
		mh.msg_namelen = sizeof(p->addr);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			break;
		f->dgrams++;
		/* Longer than any hello we take (MSG_TRUNC: its real size). */
		if (n == 0 || (size_t)n > sizeof(p->first) || (mh.msg_flags & MSG_TRUNC) ||
		    mh.msg_namelen == 0 || mh.msg_namelen > sizeof(p->addr))
			continue;
		p->alen = mh.msg_namelen;
		if (f->cfg.dgram && f->cfg.dgram(f->cfg.user, &p->addr, p->alen, p->first,
						 (size_t)n))
			continue;
		dst_parse(&mh, f->ufamily, &d);
		front_dgram(f, &d, (size_t)n);
	}
}

/* ---- TLS ---- */

static void front_tcp_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_front *f = user;
	struct tun_front_peer *p = f->hand;
	const char *why;
	int k, cfd;

	for (k = 0; k < TUN_BATCH_MAX; k++) {
		p->alen = sizeof(p->addr);
		cfd = accept4(fd, (struct sockaddr *)&p->addr, &p->alen,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			break;
		if (p->alen == 0 || p->alen > sizeof(p->addr)) {
			close(cfd);
			continue;
		}
		if (over_cap(f, &p->addr, p->alen, &why) == ADMIT_NO) {
			refuse_log(f, why, &p->addr, p->alen);
			close(cfd);
			continue;
		}
		p->fd = cfd;
		p->dgram = false;
		p->first_len = 0;
		hand_over(f, why);
	}
}

/* ---- lifecycle ---- */

static int udp_listen(struct tun_front *f)
{
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	int one = 1;

	f->ufd = tun_sock_bind(f->cfg.host, f->cfg.udp_port, SOCK_DGRAM);
	if (f->ufd < 0)
		return f->ufd;
	if (getsockname(f->ufd, (struct sockaddr *)&me, &melen) < 0)
		return -errno;
	f->ufamily = me.ss_family;
	/* Where each hello was sent to (see local_addr()). */
	if (me.ss_family == AF_INET6) {
		if (setsockopt(f->ufd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
			return -errno;
	} else if (setsockopt(f->ufd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0) {
		return -errno;
	}
	return loop_add_fd(f->l, f->ufd, EPOLLIN, front_udp_cb, f);
}

int tun_front_new(struct tun_front **out, struct loop *l, const struct tun_front_cfg *cfg)
{
	struct tun_front *f;
	int ret = -ENOMEM;

	*out = NULL;
	if (!cfg->spawn || (!cfg->udp_port && !cfg->tcp_port))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->l = l;
	f->ufd = f->tfd = -1;
	if (!f->cfg.host)
		f->cfg.host = "::";
	if (!f->cfg.max_peers)
		f->cfg.max_peers = FRONT_MAX_PEERS;
	if (!f->cfg.max_pending)
		f->cfg.max_pending = FRONT_MAX_PENDING;
	if (!f->cfg.handshake_ms)
		f->cfg.handshake_ms = FRONT_HANDSHAKE_MS;
	if (!f->cfg.first_ms)
		f->cfg.first_ms = TUN_FRONT_FIRST_MS;
	/* The ordinary slots: at least one, however small max_pending is. */
	if (!f->cfg.reserve)
		f->cfg.reserve = f->cfg.max_pending / 4;
	if (f->cfg.reserve >= f->cfg.max_pending)
		f->cfg.reserve = f->cfg.max_pending - 1;
	f->slots = calloc(f->cfg.max_peers, sizeof(*f->slots));
	f->hand = calloc(1, sizeof(*f->hand));
	if (!f->slots || !f->hand)
		goto fail;
	f->hand->fd = -1;
	if (cfg->udp_port) {
		ret = tun_cookie_init(&f->cookie, l);
		if (ret < 0)
			goto fail;
		ret = udp_listen(f);
		if (ret < 0)
			goto fail;
	}
	if (cfg->tcp_port) {
		f->tfd = tun_sock_bind(f->cfg.host, cfg->tcp_port, SOCK_STREAM);
		if (f->tfd < 0) {
			ret = f->tfd;
			goto fail;
		}
		ret = loop_add_fd(l, f->tfd, EPOLLIN, front_tcp_cb, f);
		if (ret < 0)
			goto fail;
	}
	*out = f;
	return 0;
fail:
	tun_front_free(f);
	return ret;
}

static void close_listener(struct tun_front *f, int *fd, bool loop)
{
	if (*fd < 0)
		return;
	if (loop)
		loop_del_fd(f->l, *fd);
	close(*fd);
	*fd = -1;
}

void tun_front_free(struct tun_front *f)
{
	if (!f)
		return;
	close_listener(f, &f->ufd, true);
	close_listener(f, &f->tfd, true);
	tun_cookie_free(&f->cookie);
	free(f->slots);
	free(f->hand);
	free(f);
}

/*
 * In the child of a fork: its epoll instance is the parent's (the fd was
 * inherited), so an EPOLL_CTL_DEL here would stop the parent's
 * listeners; closing the child's copies of the fds leaves the parent's
 * registrations alone. The cookie keys would let a compromised peer
 * mint cookies for any address; the table holds other peers' addresses.
 */
void tun_front_forget(struct tun_front *f)
{
	if (!f)
		return;
	close_listener(f, &f->ufd, false);
	close_listener(f, &f->tfd, false);
	tun_cookie_wipe(&f->cookie);
	if (f->slots)
		explicit_bzero(f->slots, f->cfg.max_peers * sizeof(*f->slots));
	f->npeers = 0;
}

void tun_front_peer_gone(struct tun_front *f, pid_t pid)
{
	unsigned i;

	if (!f || pid <= 0)
		return;
	for (i = 0; i < f->cfg.max_peers; i++) {
		if (f->slots[i].pid == pid) {
			memset(&f->slots[i], 0, sizeof(f->slots[i]));
			f->npeers--;
			return;
		}
	}
}

unsigned long tun_front_dgram_count(const struct tun_front *f)
{
	return f ? f->dgrams : 0;
}

uint16_t tun_front_udp_port(const struct tun_front *f)
{
	return f ? tun_sock_port(f->ufd) : 0;
}

int tun_front_udp_family(const struct tun_front *f)
{
	return f && f->ufd >= 0 ? f->ufamily : 0;
}

int tun_front_udp_send(struct tun_front *f, const struct sockaddr *to, socklen_t alen,
		       const void *buf, size_t len)
{
	if (!f || f->ufd < 0)
		return -ENOTCONN;
	if (sendto(f->ufd, buf, len, MSG_DONTWAIT, to, alen) < 0)
		return -errno;
	return 0;
}

uint16_t tun_front_tcp_port(const struct tun_front *f)
{
	return f ? tun_sock_port(f->tfd) : 0;
}

unsigned tun_front_peer_count(const struct tun_front *f)
{
	return f ? f->npeers : 0;
}
