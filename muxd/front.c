/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[net], the network front (muxd/net.h, doc/security.md "Process
 * model"). It owns the DTLS and TLS listeners and answers ClientHellos
 * without a valid cookie statelessly (tunnel/front.h); for each verified
 * peer it asks the monitor for the peer's request channel and forks the
 * peer's process (peer.c). It registers the gateway with the configured
 * relays, the signature coming from the monitor.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan.h"
#include "homeid.h"
#include "log.h"
#include "net.h"
#include "relayfront.h"
#include "relayreg.h"
#include "sandbox.h"

/* The front's own state: no secret, nothing of a peer's. */
struct muxd_front {
	struct muxd d;
	struct tun_front *front;
	struct tun_creds *creds;	/* the peers' (their key signs through the monitor) */
	struct loop_timer *stop_timer;
	/*
	 * The relays of the configuration, resolved at start, and the
	 * registrations with them (muxd/relayreg.h).
	 */
	struct sockaddr_storage relay_addr[MUXD_RELAY_MAX];
	socklen_t relay_alen[MUXD_RELAY_MAX];
	unsigned relay_conf_idx[MUXD_RELAY_MAX];	/* its relay line */
	unsigned nrelay_up;			/* resolved, registering */
	struct relayreg relayreg;
	struct loop_timer *relay_timer;
	struct relayfront relayfront;	/* CDs through the relays */
	int peer_null_fd;		/* /dev/null for the peers' stdio */
};

/*
 * A relayed peer's name for the monitor, the logs and the audit
 * (doc/relay.md): relay:HOST:PORT#CHANNEL (CD [a]:p). Its source for
 * the rate limits stays the CD's address (src), as for a direct peer.
 */
static void relay_peer_name(const struct tun_front_peer *p, char *buf, size_t cap)
{
	char cd[80];

	snprintf(buf, cap, "relay:%s#%lu (CD %s)", p->via, (unsigned long)p->relay_chan,
		 tun_addr_str(&p->addr, p->alen, cd, sizeof(cd)));
}

/*
 * A verified new peer: the monitor makes its request channel (and names
 * it after what the front saw), then a process of its own.
 */
static pid_t front_spawn(void *user, const struct tun_front_peer *p)
{
	struct muxd_front *f = user;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX], peer[RPC_STR_MAX + 1];
	const uint8_t *rnd;
	struct rpc_req q;
	int req = -1, r;
	pid_t pid;

	src_key_sa(&p->addr, p->alen, src, sizeof(src));
	tun_addr_str(&p->addr, p->alen, peer, sizeof(peer));
	if (p->relay_chan)
		relay_peer_name(p, peer, sizeof(peer));
	/*
	 * With the random of the ClientHello verified here: the monitor
	 * signs only a handshake with that client_random for this peer
	 * (muxd/peerauth.h). TCP: the front read no hello.
	 */
	memset(&q, 0, sizeof(q));
	q.type = RPC_SPAWN;
	q.arg = p->reserve ? 1 : 0;	/* a slot kept for known sources */
	rpc_str(q.src, sizeof(q.src), src);
	rpc_str(q.detail, sizeof(q.detail), peer);
	rnd = p->dgram ? tun_dtls_hello_random(p->first, p->first_len) : NULL;
	if (rnd) {
		memcpy(q.blob, rnd, RPC_CHAL_LEN);
		q.blob_len = RPC_CHAL_LEN;
	}
	r = rpc_call(f->d.req_fd, &q, &rep, &req);
	if (r < 0 && r != -EINVAL) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(f->d.l, EXIT_ERROR);
	}
	if (r == 0 && rep.status == -EACCES && p->reserve) {
		/* Not a known source: the front logs the cap it hit. */
		if (req >= 0)
			close(req);
		return -EACCES;
	}
	if (r < 0 || rep.status < 0 || req < 0) {
		if (req >= 0)
			close(req);
		log_notice("tunnel: peer %s refused: %s", peer,
			   strerror(r < 0 ? -r : rep.status < 0 ? -rep.status : EIO));
		return r < 0 ? r : -EAGAIN;
	}
	pid = fork();
	if (pid == 0) {
		/* Nothing of the front's goes on in the peer: cookie keys, listeners. */
		tun_front_forget(f->front);
		peer_run(&f->d, f->creds, (struct tun_front_peer *)p, req, f->peer_null_fd);
	}
	close(req);
	if (pid < 0) {
		log_err("tunnel: fork for peer %s: %s", peer, strerror(errno));
		return -EAGAIN;
	}
	log_debug("tunnel: peer %s is process %d", peer, (int)pid);
	return pid;
}

static void front_on_chld(struct loop *l, int signo, void *user)
{
	struct muxd_front *f = user;
	pid_t pid;
	int st, k;

	for (k = 0; k < 1024; k++) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
			log_warn("tunnel: peer process %d killed by the sandbox", (int)pid);
		else if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL && WTERMSIG(st) != SIGTERM)
			log_warn("tunnel: peer process %d killed by signal %d", (int)pid,
				 WTERMSIG(st));
		if (f->front)
			tun_front_peer_gone(f->front, pid);
		relayfront_peer_gone(&f->relayfront, pid);
	}
	if (f->d.stopping && (!f->front || tun_front_peer_count(f->front) == 0))
		loop_quit(l, 0);
}

static void front_stop_fn(struct loop_timer *t, void *user)
{
	struct muxd_front *f = user;

	loop_quit(f->d.l, 0);	/* the peers left die with us (PDEATHSIG) */
}

/*
 * Stop: no new peers; the peers end as the core closes their links, or
 * die with the front after a second.
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

/* Registration idx's relay (relayreg counts only the resolved ones). */
static const char *relay_name(const struct muxd_front *f, unsigned idx, char *buf, size_t cap)
{
	return relay_line_name(f, f->relay_conf_idx[idx], buf, cap);
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
	r = rpc_call(f->d.req_fd, &q, &rep, NULL);
	if (r < 0) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(f->d.l, EXIT_ERROR);
		return r;
	}
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
		log_warn("relay: %s refused the registration (code %u): is relay-key the "
			 "CA's key?", name, (unsigned)m->code);
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
	.send = relay_send, .name = relay_front_name,
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
static int relay_prepare(struct muxd_front *f)
{
	struct addrinfo hints, *res;
	gnutls_datum_t pem = { NULL, 0 };
	uint8_t id[RMSG_ID_LEN];
	char name[MUXD_HOST_MAX + 16], idtext[HOMEID_TEXT_LEN + 1];
	unsigned i;
	int r, fam = tun_front_udp_family(f->front);

	f->nrelay_up = 0;
	for (i = 0; i < f->d.conf.nrelay; i++) {
		unsigned k = f->nrelay_up;

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
		if (res->ai_addrlen <= sizeof(f->relay_addr[k])) {
			memcpy(&f->relay_addr[k], res->ai_addr, res->ai_addrlen);
			f->relay_alen[k] = res->ai_addrlen;
			f->relay_conf_idx[k] = i;
			f->nrelay_up++;
		}
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
	/* The peers' stdin, stdout and stderr. */
	f->peer_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (f->peer_null_fd < 0) {
		log_err("network front: /dev/null: %s", strerror(errno));
		return EXIT_ERROR;
	}
	f->d.l = loop_new();
	f->stop_timer = f->d.l ? loop_timer_new(f->d.l, front_stop_fn, f) : NULL;
	if (!f->stop_timer)
		return EXIT_ERROR;
	/* The certificate chain and the CA, for the peers to inherit. */
	r = peer_creds_new(&f->d, &f->creds);
	if (r < 0) {
		log_err("tunnel: credentials: %s", strerror(-r));
		return EXIT_ERROR;
	}
	memset(&fc, 0, sizeof(fc));
	fc.host = f->d.conf.tun_host[0] ? f->d.conf.tun_host : NULL;
	fc.udp_port = f->d.conf.dtls_port[0] ? f->d.conf.dtls_port : NULL;
	fc.tcp_port = f->d.conf.tls_port[0] ? f->d.conf.tls_port : NULL;
	fc.max_peers = f->d.conf.max_sessions + f->d.conf.max_pending;
	fc.max_pending = f->d.conf.max_pending;
	fc.handshake_ms = f->d.conf.login_s * 1000;
	fc.spawn = front_spawn;
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
	if (loop_add_signal(f->d.l, SIGCHLD, front_on_chld, f) < 0 ||
	    loop_add_signal(f->d.l, SIGTERM, front_on_term, f) < 0 ||
	    loop_add_signal(f->d.l, SIGINT, front_on_term, f) < 0)
		return EXIT_ERROR;
	signal(SIGHUP, SIG_IGN);
	if (sandbox_drop_privileges(SANDBOX_FRONT) < 0)
		return EXIT_ERROR;
	/* The new credentials cleared the parent-death signal: again. */
	if (sandbox_die_with_parent(f->d.parent) < 0)
		return EXIT_ERROR;
	if (f->d.conf.sandbox) {
		if (sandbox_enter(SANDBOX_FRONT) < 0)
			return EXIT_ERROR;
	} else {
		log_warn("sandbox off (configuration): the network front and the peers run without their seccomp filters");
	}
	muxd_ready(&f->d);
	/* loop_quit's code: an error must end the daemon non-zero. */
	r = loop_run(f->d.l);
	r = r < 0 ? EXIT_ERROR : r;
	/* As the core: a late second SIGTERM is no death by signal. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	relayfront_free(&f->relayfront);
	loop_timer_free(f->relay_timer);
	f->relay_timer = NULL;
	tun_front_free(f->front);
	f->front = NULL;
	tun_server_creds_free(f->creds);
	f->creds = NULL;
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
	 * leave it holding the ports, and the peers with it (they die with
	 * the front).
	 */
	if (sandbox_die_with_parent(f->d.parent) < 0)
		_exit(EXIT_ERROR);
	f->d.req_fd = req;
	f->peer_null_fd = -1;
	ret = front_run(f);
	loop_timer_free(f->stop_timer);
	f->stop_timer = NULL;
	if (f->peer_null_fd >= 0)
		close(f->peer_null_fd);
	muxd_child_end(&f->d);
	return ret;
}
