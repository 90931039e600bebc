/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[net], the network front (muxd/net.h, doc/security.md "Process
 * model"). It owns the DTLS and TLS listeners and answers ClientHellos
 * without a valid cookie statelessly (tunnel/front.h); each verified peer
 * it hands to the monitor, which forks the peer's process (peer.c) under
 * a uid of its own and gives the front a pidfd to see it end: the front
 * can neither signal nor trace its peers, nor they it. It registers the
 * gateway with the configured relays, the signature coming from the
 * monitor.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"
#include "cursor.h"
#include "homeid.h"
#include "log.h"
#include "net.h"
#include "relayfront.h"
#include "relayreg.h"
#include "sandbox.h"

/* A peer process the monitor forked for the front: its pidfd, watched. */
struct front_peer {
	struct muxd_front *f;
	struct front_peer *next;
	pid_t pid;
	int pidfd;
};

/* The front's own state: no secret, nothing of a peer's. */
struct muxd_front {
	struct muxd d;
	struct tun_front *front;
	struct front_peer *peers;	/* alive, as far as the front knows */
	struct loop_timer *stop_timer;
	/*
	 * The relays of the configuration, resolved at start, and the
	 * registrations with them (muxd/relayreg.h).
	 */
	struct sockaddr_storage relay_addr[MUXD_RELAY_MAX];
	socklen_t relay_alen[MUXD_RELAY_MAX];
	unsigned relay_conf_idx[MUXD_RELAY_MAX];	/* its relay line */
	bool relay_multi[MUXD_RELAY_MAX];	/* its name has several addresses */
	unsigned nrelay_up;			/* resolved, registering */
	struct relayreg relayreg;
	struct loop_timer *relay_timer;
	struct relayfront relayfront;	/* CDs through the relays */
};

/*
 * A relayed peer's name for the monitor, the logs and the audit
 * (doc/relay.md): relay:HOST:PORT#CHANNEL (CD [a]:p). Its source for
 * the rate limits stays the CD's address (src), as for a direct peer.
 */
static void relay_peer_name(const struct tun_front_peer *p, char *buf, size_t cap)
{
	char cd[80];

	/*
	 * At most 63 characters: the monitor refuses a longer peer name in
	 * RPC_SPAWN (and ends the front), so a long relay name is cut here.
	 */
	snprintf(buf, cap, "relay:%s#%lu (CD %s)", p->via, (unsigned long)p->relay_chan,
		 tun_addr_str(&p->addr, p->alen, cd, sizeof(cd)));
	if (cap > 64)
		buf[63] = '\0';
}

/*
 * End one of its peers (tun_front's stop hook: its client restarted, or
 * the table is full). The monitor does it: the peer runs as another uid.
 */
static void front_peer_stop(void *user, pid_t pid)
{
	struct muxd_front *f = user;
	struct rpc_req q;

	if (pid <= 0)
		return;
	memset(&q, 0, sizeof(q));
	q.type = RPC_PEER_STOP;
	put_le32(q.blob, (uint32_t)pid);
	q.blob_len = 4;
	muxd_rpc(&f->d, &q, NULL, NULL);
}

/*
 * tun_front's logged_in hook: the monitor links a peer after a login it
 * verified, so it says which pending peers have logged in (rpc.h,
 * RPC_PEERS_LOGGED_IN). An answer that is not one 0 or 1 per pid asked
 * is no answer: they stay pending.
 */
static int front_logged_in(void *user, const pid_t *pids, unsigned n, bool *in)
{
	struct muxd_front *f = user;
	struct rpc_reply rep;
	struct rpc_req q;
	unsigned i;
	int r;

	if (n == 0 || n > RPC_LOGGED_IN_MAX)
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.type = RPC_PEERS_LOGGED_IN;
	for (i = 0; i < n; i++)
		put_le32(q.blob + 4 * i, (uint32_t)pids[i]);
	q.blob_len = 4 * (size_t)n;
	r = muxd_rpc(&f->d, &q, &rep, NULL);
	if (r < 0)
		return r;
	if (rep.status < 0)
		return rep.status;
	if (rep.blob_len != n)
		return -EPROTO;
	for (i = 0; i < n; i++)
		if (rep.blob[i] > 1)
			return -EPROTO;
	for (i = 0; i < n; i++)
		in[i] = rep.blob[i] == 1;
	return 0;
}

static void front_peer_free(struct muxd_front *f, struct front_peer *fp)
{
	struct front_peer **pp;

	for (pp = &f->peers; *pp; pp = &(*pp)->next) {
		if (*pp == fp) {
			*pp = fp->next;
			break;
		}
	}
	loop_del_fd(f->d.l, fp->pidfd);
	close(fp->pidfd);
	free(fp);
}

/* A peer process ended (its pidfd is readable): its slot is free. */
static void front_on_peer_exit(struct loop *l, int fd, uint32_t events, void *user)
{
	struct front_peer *fp = user;
	struct muxd_front *f = fp->f;
	pid_t pid = fp->pid;

	front_peer_free(f, fp);
	if (f->front)
		tun_front_peer_gone(f->front, pid);
	relayfront_peer_gone(&f->relayfront, pid);
	if (f->d.stopping && (!f->front || tun_front_peer_count(f->front) == 0))
		loop_quit(l, 0);
}

/* Copy what the peer's process needs of p into the monitor's hand-over. */
static void front_handover(const struct tun_front_peer *p, struct rpc_spawn *sp)
{
	const uint8_t *rnd;

	memset(sp, 0, sizeof(*sp));
	sp->dgram = p->dgram;
	/* The address's own size, whatever p->alen says of the storage. */
	sp->alen = p->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		   sizeof(struct sockaddr_in6);
	memcpy(sp->addr, &p->addr, sp->alen);
	sp->first_ms = p->first_ms;
	sp->pre[0] = p->pre.record_seq;
	sp->pre[1] = p->pre.hsk_read_seq;
	sp->pre[2] = p->pre.hsk_write_seq;
	sp->relay_chan = p->relay_chan;
	snprintf(sp->via, sizeof(sp->via), "%s", p->via);
	if (p->dgram) {
		memcpy(sp->first, p->first, p->first_len);
		sp->first_len = p->first_len;
		/*
		 * With the random of the ClientHello verified here: the
		 * monitor signs only a handshake with that client_random for
		 * this peer (muxd/peerauth.h). TCP: the front read no hello.
		 */
		rnd = tun_dtls_hello_random(p->first, p->first_len);
		if (rnd) {
			memcpy(sp->rnd, rnd, RPC_CHAL_LEN);
			sp->has_rnd = true;
		}
	}
}

/*
 * A verified new peer: the monitor forks its process (under a uid of its
 * own) with the socket and what the front saw, and names its channel
 * after that; the front gets the pid and a pidfd to see it end.
 */
static pid_t front_spawn(void *user, const struct tun_front_peer *p)
{
	static struct rpc_spawn sp;
	struct muxd_front *f = user;
	struct front_peer *fp;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX], peer[RPC_STR_MAX + 1];
	struct rpc_req q;
	int pidfd = -1, r, n;
	pid_t pid;

	if (p->addr.ss_family != AF_INET && p->addr.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	src_key_sa(&p->addr, p->alen, src, sizeof(src));
	tun_addr_str(&p->addr, p->alen, peer, sizeof(peer));
	if (p->relay_chan)
		relay_peer_name(p, peer, sizeof(peer));
	memset(&q, 0, sizeof(q));
	q.type = RPC_SPAWN;
	q.arg = p->reserve ? 1 : 0;	/* a slot kept for known sources */
	rpc_str(q.src, sizeof(q.src), src);
	rpc_str(q.detail, sizeof(q.detail), peer);
	front_handover(p, &sp);
	n = rpc_spawn_encode(&sp, q.blob, sizeof(q.blob));
	if (n < 0) {
		log_warn("tunnel: peer %s: cannot hand it over (%s)", peer, strerror(-n));
		return -EINVAL;
	}
	q.blob_len = (size_t)n;
	fp = calloc(1, sizeof(*fp));
	if (!fp)
		return -ENOMEM;
	r = rpc_call_fd(f->d.req_fd, &q, p->fd, &rep, &pidfd);
	if (r < 0 && r != -EINVAL) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(f->d.l, EXIT_ERROR);
	}
	if (r == 0 && rep.status == -EACCES && p->reserve) {
		/* Not a known source: the front logs the cap it hit. */
		r = -EACCES;
		goto fail;
	}
	if (r < 0 || rep.status < 0 || pidfd < 0 || rep.blob_len != 4) {
		log_notice("tunnel: peer %s refused: %s", peer,
			   strerror(r < 0 ? -r : rep.status < 0 ? -rep.status : EIO));
		r = r < 0 ? r : -EAGAIN;
		goto fail;
	}
	pid = (pid_t)get_le32(rep.blob);
	fp->f = f;
	fp->pid = pid;
	fp->pidfd = pidfd;
	if (pid <= 0 || loop_add_fd(f->d.l, pidfd, EPOLLIN, front_on_peer_exit, fp) < 0) {
		/* Not watched, it would hold its slot for ever: it goes. */
		front_peer_stop(f, pid);
		r = -EAGAIN;
		goto fail;
	}
	fp->next = f->peers;
	f->peers = fp;
	log_debug("tunnel: peer %s is process %d", peer, (int)pid);
	return pid;
fail:
	if (pidfd >= 0)
		close(pidfd);
	free(fp);
	return r;
}

static void front_stop_fn(struct loop_timer *t, void *user)
{
	struct muxd_front *f = user;

	loop_quit(f->d.l, 0);	/* the peers left are the monitor's to end */
}

/*
 * Stop: no new peers; the peers end as the core closes their links, or
 * the monitor ends them (it stops with the front).
 */
static void front_on_term(struct loop *l, int signo, void *user)
{
	struct muxd_front *f = user;

	if (f->d.stopping)
		return;
	f->d.stopping = true;
	if (!f->front || tun_front_peer_count(f->front) == 0) {
		loop_quit(l, 0);
		return;
	}
	loop_timer_arm(f->stop_timer, 1000000);
}

/* ---- relays (doc/relay.md, "Integration") ---- */

/* The relay line of conf index ci, as written. */
static const char *relay_line_name(const struct muxd_front *f, unsigned ci, char *buf, size_t cap)
{
	snprintf(buf, cap, strchr(f->d.conf.relay_host[ci], ':') ? "[%s]:%s" : "%s:%s",
		 f->d.conf.relay_host[ci], f->d.conf.relay_port[ci]);
	return buf;
}

/*
 * Registration idx's relay (relayreg counts only the resolved ones): its
 * line, or its address when the line's name gave several (IPv4 as
 * a.b.c.d:PORT, as a numeric line reads; IPv6 in brackets).
 */
static const char *relay_name(const struct muxd_front *f, unsigned idx, char *buf, size_t cap)
{
	const struct sockaddr_in *s4 = (const void *)&f->relay_addr[idx];
	const struct sockaddr_in6 *s6 = (const void *)&f->relay_addr[idx];
	char a[INET6_ADDRSTRLEN];

	if (!f->relay_multi[idx])
		return relay_line_name(f, f->relay_conf_idx[idx], buf, cap);
	if (s4->sin_family == AF_INET && inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)))
		snprintf(buf, cap, "%s:%u", a, ntohs(s4->sin_port));
	else if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		 inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, a, sizeof(a)))
		snprintf(buf, cap, "%s:%u", a, ntohs(s6->sin6_port));
	else if (inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)))
		snprintf(buf, cap, "[%s]:%u", a, ntohs(s6->sin6_port));
	else
		snprintf(buf, cap, "?");
	return buf;
}

static void relay_send(void *user, unsigned idx, const void *buf, size_t len)
{
	struct muxd_front *f = user;
	int r;

	r = tun_front_udp_send(f->front, (const struct sockaddr *)&f->relay_addr[idx],
			       f->relay_alen[idx], buf, len);
	if (r < 0)
		log_debug("relay: send: %s", strerror(-r));
}

/* The CA key stays in the monitor: it signs the challenge (RPC_RELAY_SIGN). */
static int relay_sign(void *user, unsigned idx, const uint8_t *ch, size_t len, uint8_t *out,
		      size_t cap)
{
	struct muxd_front *f = user;
	struct rpc_req q;
	struct rpc_reply rep;
	char name[MUXD_HOST_MAX + 16];
	int r;

	if (len != RPC_RELAY_CHAL_LEN)
		return -EPROTO;
	memset(&q, 0, sizeof(q));
	q.type = RPC_RELAY_SIGN;
	rpc_str(q.detail, sizeof(q.detail), relay_name(f, idx, name, sizeof(name)));
	memcpy(q.blob, ch, len);
	q.blob_len = len;
	r = muxd_rpc(&f->d, &q, &rep, NULL);
	if (r < 0)
		return r;
	if (rep.status < 0)
		return rep.status;
	if (rep.blob_len == 0 || rep.blob_len > cap)
		return -EPROTO;
	memcpy(out, rep.blob, rep.blob_len);
	return (int)rep.blob_len;
}

static void relay_event(void *user, unsigned idx, enum relayreg_event ev, const struct rmsg *m)
{
	struct muxd_front *f = user;
	char name[MUXD_HOST_MAX + 16], addr[INET6_ADDRSTRLEN] = "?";

	relay_name(f, idx, name, sizeof(name));
	if (m && (ev == RELAYREG_EV_REGISTERED || ev == RELAYREG_EV_PEER))
		inet_ntop(m->addr.family == 4 ? AF_INET : AF_INET6, m->addr.a, addr,
			  sizeof(addr));
	switch (ev) {
	case RELAYREG_EV_REGISTERED:
		log_notice("relay: registered with %s; it sees this gateway at %s port %u",
			   name, addr, (unsigned)m->addr.port);
		break;
	case RELAYREG_EV_REFUSED:
		/* A bad proof is retried (relayreg.h): if it keeps coming,
		 * the proof is wrong, which for the mode configured the
		 * hint says; once, a damaged datagram. */
		log_warn("relay: %s refused the registration (code %u); trying again (%s)",
			 name, (unsigned)m->code,
			 relayreg_refused_hint(f->d.conf.relay_cert[0] != '\0', m->code));
		break;
	case RELAYREG_EV_LOST:
		log_notice("relay: registration with %s lost (%s); registering again", name,
			   m ? "the relay asked" : "no answer");
		break;
	case RELAYREG_EV_SIGN_FAILED:
		log_warn("relay: the monitor did not sign the registration with %s", name);
		break;
	case RELAYREG_EV_PEER:
		relayfront_peer(&f->relayfront, idx, m);
		break;
	}
}

static const struct relayreg_ops relay_ops = {
	.send = relay_send, .sign = relay_sign, .event = relay_event,
};

static const char *relay_front_name(void *user, unsigned idx, char *buf, size_t cap)
{
	return relay_name(user, idx, buf, cap);
}

static const struct relayfront_ops relay_front_ops = {
	.send = relay_send, .name = relay_front_name, .stop = front_peer_stop,
};

static void relay_arm(struct muxd_front *f, uint64_t next)
{
	uint64_t now = loop_now_us();

	loop_timer_arm(f->relay_timer, next > now ? next - now : 0);
}

static void relay_on_timer(struct loop_timer *t, void *user)
{
	struct muxd_front *f = user;

	relay_arm(f, relayreg_tick(&f->relayreg, loop_now_us()));
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t al,
		      const struct sockaddr_storage *b, socklen_t bl)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return al >= sizeof(*x) && bl >= sizeof(*y) && x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return al >= sizeof(*x) && bl >= sizeof(*y) &&
		       x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

/* The front's hook: a datagram from a relay's address is the relay's. */
static bool relay_dgram(void *user, const struct sockaddr_storage *from, socklen_t alen,
			const uint8_t *buf, size_t len)
{
	struct muxd_front *f = user;
	unsigned i;

	for (i = 0; i < f->nrelay_up; i++) {
		if (same_addr(from, alen, &f->relay_addr[i], f->relay_alen[i])) {
			relayreg_input(&f->relayreg, i, buf, len, loop_now_us());
			relay_arm(f, relayreg_tick(&f->relayreg, loop_now_us()));
			relayfront_input(&f->relayfront, i, buf, len);
			return true;
		}
	}
	return false;
}

/*
 * Resolve the relays (before the sandbox: no DNS after it) in the
 * listener's family, IPv4 as mapped addresses on an IPv6 socket, and read
 * the home id from the CA certificate (public). A relay that does not
 * resolve is skipped with a warning: the gateway still serves direct
 * clients and the other relays. 0 (also when none resolved) or -errno.
 */
/* The same address twice (two names, or a name listing it twice): once. */
static bool relay_known(const struct muxd_front *f, const struct addrinfo *ai)
{
	unsigned i;

	for (i = 0; i < f->nrelay_up; i++)
		if (same_addr((const struct sockaddr_storage *)ai->ai_addr, ai->ai_addrlen,
			      &f->relay_addr[i], f->relay_alen[i]))
			return true;
	return false;
}

static int relay_prepare(struct muxd_front *f)
{
	struct addrinfo hints, *res, *ai;
	gnutls_datum_t pem = { NULL, 0 };
	uint8_t id[RMSG_ID_LEN];
	char name[MUXD_HOST_MAX + 16], idtext[HOMEID_TEXT_LEN + 1];
	unsigned i;
	int r, fam = tun_front_udp_family(f->front);

	f->nrelay_up = 0;
	for (i = 0; i < f->d.conf.nrelay && f->nrelay_up < MUXD_RELAY_MAX; i++) {
		unsigned k, j, first = f->nrelay_up;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = fam;
		hints.ai_socktype = SOCK_DGRAM;
		hints.ai_flags = fam == AF_INET6 ? AI_V4MAPPED | AI_ALL : 0;
		r = getaddrinfo(f->d.conf.relay_host[i], f->d.conf.relay_port[i], &hints, &res);
		if (r != 0) {
			log_warn("relay %s: %s; not registering with it (until bgw-muxd "
				 "restarts)", relay_line_name(f, i, name, sizeof(name)),
				 gai_strerror(r));
			continue;
		}
		/*
		 * Every address of the name (doc/relay.md, "Spreading homes
		 * over relays"): relays share nothing, so the home registers
		 * with each and a CD may meet it at any; MUXD_RELAY_MAX in all.
		 */
		for (ai = res; ai && f->nrelay_up < MUXD_RELAY_MAX; ai = ai->ai_next) {
			k = f->nrelay_up;
			if (ai->ai_addrlen > sizeof(f->relay_addr[k]) || relay_known(f, ai))
				continue;
			memcpy(&f->relay_addr[k], ai->ai_addr, ai->ai_addrlen);
			f->relay_alen[k] = ai->ai_addrlen;
			f->relay_conf_idx[k] = i;
			f->nrelay_up++;
		}
		for (j = first; j < f->nrelay_up; j++)
			f->relay_multi[j] = f->nrelay_up - first > 1;
		if (f->nrelay_up - first > 1)
			log_notice("relay %s: %u addresses; registering with each",
				   relay_line_name(f, i, name, sizeof(name)), f->nrelay_up - first);
		if (ai)
			log_warn("relay %s: more addresses than the %u relays a gateway "
				 "registers with; the rest are not used",
				 relay_line_name(f, i, name, sizeof(name)), MUXD_RELAY_MAX);
		freeaddrinfo(res);
	}
	if (!f->nrelay_up)
		return 0;
	r = gnutls_load_file(f->d.conf.ca_file, &pem) < 0 ? -EIO :
	    homeid_from_cert_pem((const char *)pem.data, pem.size, id);
	gnutls_free(pem.data);
	if (r < 0) {
		log_err("relay: ca %s: cannot read the CA certificate", f->d.conf.ca_file);
		return r;
	}
	f->relay_timer = loop_timer_new(f->d.l, relay_on_timer, f);
	if (!f->relay_timer ||
	    relayfront_init(&f->relayfront, f->d.l, f->front, &relay_front_ops, f) < 0)
		return -ENOMEM;
	homeid_to_text(id, idtext);
	log_notice("relay: home id %s, %u relay(s)", idtext, f->nrelay_up);
	return relayreg_start(&f->relayreg, id, f->nrelay_up, &relay_ops, f, loop_now_us());
}

static int front_run(struct muxd_front *f)
{
	struct tun_front_cfg fc;
	int keep[3];
	int r;

	sandbox_set_name("bgw-muxd[net]");
	/*
	 * Only its channel to the monitor and, until it is up (muxd_ready),
	 * the start-up pipe and /dev/null; the local listeners are the core's.
	 */
	keep[0] = f->d.req_fd;
	keep[1] = f->d.ready_fd;
	keep[2] = f->d.null_fd;
	r = sandbox_close_all_but(keep, 3);
	log_reopen();
	if (r < 0) {
		log_err("network front: closing inherited descriptors: %s", strerror(-r));
		return EXIT_ERROR;
	}
	f->d.l = loop_new();
	f->stop_timer = f->d.l ? loop_timer_new(f->d.l, front_stop_fn, f) : NULL;
	if (!f->stop_timer)
		return EXIT_ERROR;
	memset(&fc, 0, sizeof(fc));
	fc.host = f->d.conf.tun_host[0] ? f->d.conf.tun_host : NULL;
	fc.udp_port = f->d.conf.dtls_port[0] ? f->d.conf.dtls_port : NULL;
	fc.tcp_port = f->d.conf.tls_port[0] ? f->d.conf.tls_port : NULL;
	fc.max_peers = f->d.conf.max_sessions + f->d.conf.max_pending;
	fc.max_pending = f->d.conf.max_pending;
	fc.handshake_ms = f->d.conf.login_s * 1000;
	fc.spawn = front_spawn;
	fc.stop = front_peer_stop;
	fc.logged_in = front_logged_in;
	fc.dgram = f->d.conf.nrelay ? relay_dgram : NULL;
	fc.user = f;
	r = tun_front_new(&f->front, f->d.l, &fc);
	if (r < 0) {
		log_err("tunnel: cannot listen on %s (DTLS %s, TLS %s): %s",
			fc.host ? fc.host : "*", fc.udp_port ? fc.udp_port : "-",
			fc.tcp_port ? fc.tcp_port : "-", strerror(-r));
		return EXIT_ERROR;
	}
	if (fc.udp_port)
		log_notice("tunnel: DTLS on %s port %u", fc.host ? fc.host : "*",
			   (unsigned)tun_front_udp_port(f->front));
	if (fc.tcp_port)
		log_notice("tunnel: TLS on %s port %u", fc.host ? fc.host : "*",
			   (unsigned)tun_front_tcp_port(f->front));
	if (f->d.conf.nrelay) {
		if (relay_prepare(f) < 0)
			return EXIT_ERROR;
		if (f->nrelay_up)
			relay_arm(f, relayreg_tick(&f->relayreg, loop_now_us()));
	}
	if (loop_add_signal(f->d.l, SIGTERM, front_on_term, f) < 0 ||
	    loop_add_signal(f->d.l, SIGINT, front_on_term, f) < 0)
		return EXIT_ERROR;
	signal(SIGHUP, SIG_IGN);
	/* SIGTERM and SIGINT stay blocked for the loop's signalfd; SIGHUP is ignored. */
	muxd_unblock_signal(SIGHUP);
	if (sandbox_drop_privileges(SANDBOX_FRONT) < 0)
		return EXIT_ERROR;
	/* The new credentials cleared the parent-death signal: again. */
	if (sandbox_die_with_parent(f->d.parent) < 0)
		return EXIT_ERROR;
	if (f->d.conf.sandbox) {
		if (sandbox_enter(SANDBOX_FRONT) < 0)
			return EXIT_ERROR;
	} else {
		log_warn("sandbox off (configuration): the network front runs without its seccomp filter");
	}
	muxd_ready(&f->d);
	/* loop_quit's code: an error must end the daemon non-zero. */
	r = loop_run(f->d.l);
	r = r < 0 ? EXIT_ERROR : r;
	/* As the core: a late second SIGTERM is no death by signal. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	while (f->peers)
		front_peer_free(f, f->peers);
	relayfront_free(&f->relayfront);
	loop_timer_free(f->relay_timer);
	f->relay_timer = NULL;
	tun_front_free(f->front);
	f->front = NULL;
	return r;
}

int front_main(const struct muxd *parent, int req)
{
	static struct muxd_front front;
	struct muxd_front *f = &front;
	int ret;

	memset(f, 0, sizeof(*f));
	muxd_child_init(&f->d, parent, MUXD_FRONT);
	/*
	 * No front without its monitor: a monitor killed by SIGKILL would
	 * leave it holding the ports (the peers die with the monitor too).
	 */
	if (sandbox_die_with_parent(f->d.parent) < 0)
		_exit(EXIT_ERROR);
	f->d.req_fd = req;
	ret = front_run(f);
	loop_timer_free(f->stop_timer);
	f->stop_timer = NULL;
	muxd_child_end(&f->d);
	return ret;
}
