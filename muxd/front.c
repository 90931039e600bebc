/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[net], the network front, and bgw-muxd[peer], one process per
 * tunnel peer (muxd/muxd.h, doc/security.md "Process model").
 *
 * The front owns the DTLS and TLS listeners and answers ClientHellos
 * without a valid cookie statelessly (tunnel/front.h); for each verified
 * peer it asks the monitor for the peer's request channel and forks. The
 * peer process runs that peer's (D)TLS and login, asking the monitor for
 * everything secret (salts, proof checks, signatures, certificate
 * mapping), and once the monitor vouches for the login, relays the
 * tunnel's messages between its channel and the core over a link the
 * monitor made. A subverted peer holds only its own peer's data.
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
#include "cursor.h"
#include "front.h"
#include "homeid.h"
#include "log.h"
#include "muxd.h"
#include "sandbox.h"
#include "scram.h"

static int auth_login_allowed(void *user, const char *name, const void *addr,
			      size_t addrlen)
{
	struct muxd *d = user;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX];

	src_key_sa(addr, addrlen, src, sizeof(src));
	if (muxd_call(d, RPC_LOGIN_ALLOWED, 0, name, src, NULL, NULL, &rep, NULL) < 0)
		return -EAGAIN;
	return rep.status < 0 ? -EAGAIN : 0;
}

static void auth_login_failed(void *user, const char *name, const void *addr,
			      size_t addrlen, int reason)
{
	struct muxd *d = user;
	char src[SRC_KEY_MAX];

	/* The monitor counted the failure it found itself (proof, certificate). */
	if (d->verify_counted) {
		d->verify_counted = false;
		return;
	}
	d->verify_counted = false;
	src_key_sa(addr, addrlen, src, sizeof(src));
	if (reason < 1 || reason > 127)
		reason = TUN_R_INTERNAL;
	muxd_call(d, RPC_LOGIN_FAILED, (uint8_t)reason, name, src, NULL, NULL, NULL, NULL);
}

/*
 * Certificate login: the monitor makes the challenge and checks the
 * proof (tunnel/certlogin.h); this process only relays the bytes and the
 * exporter of its channel, and learns the user only from the answer.
 */
static int auth_cert_challenge(void *user, uint8_t chal[TUN_CHAL_LEN])
{
	struct muxd *d = user;
	struct rpc_reply rep;
	int r;

	r = muxd_call(d, RPC_CERT_CHALLENGE, 0, NULL, NULL, NULL, NULL, &rep, NULL);
	if (r < 0)
		return r;
	if (rep.status < 0)
		return rep.status;
	if (rep.blob_len != TUN_CHAL_LEN)
		return -EPROTO;
	memcpy(chal, rep.blob, TUN_CHAL_LEN);
	return 0;
}

static int auth_cert_verify(void *user, const uint8_t *cert, size_t cert_len,
			    const uint8_t *sig, size_t sig_len,
			    const uint8_t exporter[32], char *name, size_t cap)
{
	struct muxd *d = user;
	struct rpc_req q;
	struct rpc_reply rep;
	int r;

	d->verify_counted = false;
	if (cert_len == 0 || cert_len > RPC_CERT_DER_MAX || sig_len == 0 ||
	    sig_len > RPC_CERT_SIG_MAX)
		return -EBADMSG;
	memset(&q, 0, sizeof(q));
	q.type = RPC_CERT_LOGIN;
	memcpy(q.blob, exporter, RPC_EXPORTER_LEN);
	put_le16(q.blob + RPC_EXPORTER_LEN, (uint16_t)cert_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2, cert, cert_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2 + cert_len, sig, sig_len);
	q.blob_len = RPC_EXPORTER_LEN + 2 + cert_len + sig_len;
	r = rpc_call(d->req_fd, &q, &rep, NULL);
	explicit_bzero(&q, sizeof(q));
	if (r < 0) {
		loop_quit(d->l, EXIT_ERROR);
		return -EIO;
	}
	switch (rep.status) {
	case 0:
		break;
	case -EKEYEXPIRED:
	case -EKEYREVOKED:
	case -EKEYREJECTED:
	case -EBADMSG:
	case -EACCES:
	case -ENOENT:
	case -EPERM:
		/* Counted and audited by the monitor: not again (auth_login_failed). */
		d->verify_counted = true;
		return rep.status;
	default:
		return -EIO;
	}
	if (rep.blob_len == 0 || rep.blob_len >= cap ||
	    memchr(rep.blob, 0, rep.blob_len))
		return -EIO;
	memcpy(name, rep.blob, rep.blob_len);
	name[rep.blob_len] = '\0';
	return 0;
}

/*
 * The salt and iteration count of one user, from the monitor (which
 * fabricates both for an unknown or disabled user, the same work either
 * way). Never the keys: the proof is checked by the monitor
 * (auth_scram_verify), so *real means nothing here.
 */
static int auth_scram_lookup(void *user, const char *name,
			     struct scram_verifier *v, bool *real)
{
	struct muxd *d = user;
	struct rpc_reply rep;
	struct cur c;
	int r;

	d->verify_counted = false;
	*real = false;
	memset(v, 0, sizeof(*v));
	r = muxd_call(d, RPC_SCRAM_SALT, 0, name, NULL, NULL, NULL, &rep, NULL);
	if (r < 0)
		return r;
	if (rep.status < 0)
		return rep.status;
	cur_init(&c, rep.blob, rep.blob_len);
	v->iterations = cur_le32(&c);
	v->salt_len = cur_u8(&c);
	if (v->salt_len == 0 || v->salt_len > SCRAM_SALT_MAX)
		return -EPROTO;
	cur_copy(&c, v->salt, v->salt_len);
	return cur_is_ok(&c) && cur_is_done(&c) ? 0 : -EPROTO;
}

/* The monitor checks the proof: ok + ServerSignature, or no. */
static int auth_scram_verify(void *user, const char *name, const void *addr,
			     size_t addrlen, const char *am, size_t am_len,
			     const uint8_t proof[32], uint8_t ssig[32])
{
	struct muxd *d = user;
	struct rpc_req q;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX];
	int r;

	d->verify_counted = false;
	if (am_len == 0 || am_len > SCRAM_AM_MAX)
		return -EIO;
	src_key_sa(addr, addrlen, src, sizeof(src));
	memset(&q, 0, sizeof(q));
	q.type = RPC_SCRAM_VERIFY;
	rpc_str(q.name, 65, name);
	rpc_str(q.src, 65, src);
	memcpy(q.blob, proof, SCRAM_KEY_LEN);
	memcpy(q.blob + SCRAM_KEY_LEN, am, am_len);
	q.blob_len = SCRAM_KEY_LEN + am_len;
	r = rpc_call(d->req_fd, &q, &rep, NULL);
	explicit_bzero(&q, sizeof(q));
	if (r < 0) {
		loop_quit(d->l, EXIT_ERROR);
		return -EIO;
	}
	r = rep.status;
	if (r == 0 && rep.blob_len == SCRAM_KEY_LEN)
		memcpy(ssig, rep.blob, SCRAM_KEY_LEN);
	else if (r == 0)
		r = -EIO;
	if (r == -EACCES)
		d->verify_counted = true;
	explicit_bzero(&rep, sizeof(rep));
	return r;
}

/* A peer's handshake signs through the monitor, which holds the key. */
static int peer_key_sign(void *user, int sign_algo, bool is_hash,
			   const uint8_t *in, size_t in_len,
			   uint8_t *sig, size_t cap, size_t *sig_len)
{
	struct muxd *d = user;
	struct rpc_req q;
	struct rpc_reply rep;
	int r;

	if (sign_algo <= 0 || sign_algo > 0xffff || in_len == 0 || in_len > RPC_SIGN_IN_MAX)
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.type = RPC_SIGN;
	q.arg = is_hash;
	put_le16(q.blob, (uint16_t)sign_algo);
	memcpy(q.blob + 2, in, in_len);
	q.blob_len = 2 + in_len;
	r = rpc_call(d->req_fd, &q, &rep, NULL);
	if (r < 0) {
		loop_quit(d->l, EXIT_ERROR);
		return -EIO;
	}
	r = rep.status;
	if (r == 0 && (rep.blob_len == 0 || rep.blob_len > cap))
		r = -EIO;
	if (r == 0) {
		memcpy(sig, rep.blob, rep.blob_len);
		*sig_len = rep.blob_len;
	} else {
		log_warn("tunnel: the monitor did not sign (%s)", strerror(-r));
	}
	return r;
}


/* ------------------------------------------------------------------ */
/* The peer process: one tunnel peer, from its handshake to its end */

/*
 * A peer has no socket to reach syslog: its lines go to the monitor
 * (RPC_LOG), which writes them under its own name for the peer.
 */
static void peer_log(int prio, const char *line, void *user)
{
	static bool busy;
	struct muxd *d = user;

	if (busy || d->req_fd < 0)
		return;		/* a failing call logs too: not again */
	busy = true;
	muxd_call(d, RPC_LOG, (uint8_t)(prio & 7), NULL, NULL, NULL, line, NULL, NULL);
	busy = false;
}

/* The link to the core, from the monitor: after a login or to resume. */
static int peer_get_link(void *user, const char *name)
{
	struct muxd *d = user;
	struct rpc_reply rep;
	int fd = -1, r;

	r = muxd_call(d, RPC_LINK, name ? 0 : 1, name, NULL, NULL, NULL, &rep, &fd);
	if (r < 0)
		return r;
	if (rep.status < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return rep.status < 0 ? rep.status : -EIO;
	}
	return fd;
}

static void peer_done(void *user, int reason)
{
	struct muxd *d = user;

	d->exit_status = reason == TUN_R_NONE || reason == TUN_R_SHUTDOWN ? 0 : 1;
	loop_quit(d->l, d->exit_status);
}

static void peer_on_term(struct loop *l, int signo, void *user)
{
	loop_quit(l, 0);
}

/*
 * In the new process: forget everything of the front's (the cookie keys,
 * the listeners, its request channel, its loop), keep only this peer's
 * socket and request channel, stack the peer's sandbox, then run the
 * peer's channel until it is over. Never returns.
 */
static void peer_run(struct muxd *d, struct tun_front_peer *p, int req)
{
	static const struct tun_auth_ops auth = {
		.cert_challenge = auth_cert_challenge,
		.cert_verify = auth_cert_verify,
		.scram_lookup = auth_scram_lookup,
		.scram_verify = auth_scram_verify,
		.login_allowed = auth_login_allowed,
		.login_failed = auth_login_failed,
	};
	static const struct tun_peer_ops ops = {
		.get_link = peer_get_link,
		.on_done = peer_done,
	};
	struct tun_server_cfg cfg;
	int keep[2] = { p->fd, req }, i;
	sigset_t none;

	/* The front's end is the peer's end. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	sandbox_set_name("bgw-muxd[peer]");
	/* Every line from here on goes through the monitor. */
	d->req_fd = req;
	log_set_handler(peer_log, d);
	tun_front_forget(d->front);
	/*
	 * No stdio of the daemon's: a line written to its stderr would read
	 * as the daemon's own. /dev/null was opened by the front before its
	 * filter (which allows no open).
	 */
	for (i = 0; i < 3; i++)
		if (dup3(d->peer_null_fd, i, 0) < 0)
			_exit(EXIT_ERROR);
	if (sandbox_close_all_but(keep, 2) < 0)
		_exit(EXIT_ERROR);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The front's loop stays allocated (its descriptors are closed). */
	d->front_loop = d->l;
	d->l = loop_new();
	if (!d->l || loop_add_signal(d->l, SIGTERM, peer_on_term, d) < 0 ||
	    loop_add_signal(d->l, SIGINT, peer_on_term, d) < 0)
		_exit(EXIT_ERROR);
	if (sandbox_drop_privileges(SANDBOX_PEER) < 0 ||
	    (d->conf.sandbox && sandbox_enter(SANDBOX_PEER) < 0))
		_exit(EXIT_ERROR);
	memset(&cfg, 0, sizeof(cfg));
	cfg.resume_s = d->conf.resume_s;
	cfg.handshake_ms = d->conf.login_s * 1000;
	if (tun_peer_new(&d->peer, d->l, d->creds, &cfg, p, &ops, &auth, d) < 0)
		_exit(EXIT_ERROR);
	d->exit_status = 0;
	loop_run(d->l);
	tun_peer_free(d->peer);
	loop_iterate(d->l, 0);
	/* No atexit handlers (LeakSanitizer cannot run under the filter). */
	_exit(d->exit_status);
}

/* ------------------------------------------------------------------ */
/* The network front */

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
	struct muxd *d = user;
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
	r = rpc_call(d->req_fd, &q, &rep, &req);
	if (r < 0 && r != -EINVAL) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(d->l, EXIT_ERROR);
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
	if (pid == 0)
		peer_run(d, (struct tun_front_peer *)p, req);
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
	struct muxd *d = user;
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
		if (d->front)
			tun_front_peer_gone(d->front, pid);
		relayfront_peer_gone(&d->relayfront, pid);
	}
	if (d->stopping && (!d->front || tun_front_peer_count(d->front) == 0))
		loop_quit(l, 0);
}

static void front_stop_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;

	loop_quit(d->l, 0);	/* the peers left die with us (PDEATHSIG) */
}

/*
 * Stop: no new peers; the peers end as the core closes their links, or
 * die with the front after a second.
 */
static void front_on_term(struct loop *l, int signo, void *user)
{
	struct muxd *d = user;

	if (d->stopping)
		return;
	d->stopping = true;
	if (!d->front || tun_front_peer_count(d->front) == 0) {
		loop_quit(l, 0);
		return;
	}
	loop_timer_arm(d->stop_timer, 1000000);
}

/* ---- relays (doc/relay.md, "Integration") ---- */

/* The relay line of conf index ci, as written. */
static const char *relay_line_name(const struct muxd *d, unsigned ci, char *buf, size_t cap)
{
	snprintf(buf, cap, strchr(d->conf.relay_host[ci], ':') ? "[%s]:%s" : "%s:%s",
		 d->conf.relay_host[ci], d->conf.relay_port[ci]);
	return buf;
}

/* Registration idx's relay (relayreg counts only the resolved ones). */
static const char *relay_name(const struct muxd *d, unsigned idx, char *buf, size_t cap)
{
	return relay_line_name(d, d->relay_conf_idx[idx], buf, cap);
}

static void relay_send(void *user, unsigned idx, const void *buf, size_t len)
{
	struct muxd *d = user;
	int r;

	r = tun_front_udp_send(d->front, (const struct sockaddr *)&d->relay_addr[idx],
			       d->relay_alen[idx], buf, len);
	if (r < 0)
		log_debug("relay: send: %s", strerror(-r));
}

/* The CA key stays in the monitor: it signs the challenge (RPC_RELAY_SIGN). */
static int relay_sign(void *user, unsigned idx, const uint8_t *ch, size_t len, uint8_t *out,
		      size_t cap)
{
	struct muxd *d = user;
	struct rpc_req q;
	struct rpc_reply rep;
	char name[MUXD_HOST_MAX + 16];
	int r;

	if (len != RPC_RELAY_CHAL_LEN)
		return -EPROTO;
	memset(&q, 0, sizeof(q));
	q.type = RPC_RELAY_SIGN;
	rpc_str(q.detail, sizeof(q.detail), relay_name(d, idx, name, sizeof(name)));
	memcpy(q.blob, ch, len);
	q.blob_len = len;
	r = rpc_call(d->req_fd, &q, &rep, NULL);
	if (r < 0) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(d->l, EXIT_ERROR);
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
	struct muxd *d = user;
	char name[MUXD_HOST_MAX + 16], addr[INET6_ADDRSTRLEN] = "?";

	relay_name(d, idx, name, sizeof(name));
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
		relayfront_peer(&d->relayfront, idx, m);
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

static void relay_arm(struct muxd *d, uint64_t next)
{
	uint64_t now = loop_now_us();

	loop_timer_arm(d->relay_timer, next > now ? next - now : 0);
}

static void relay_on_timer(struct loop_timer *t, void *user)
{
	struct muxd *d = user;

	relay_arm(d, relayreg_tick(&d->relayreg, loop_now_us()));
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
	struct muxd *d = user;
	unsigned i;

	for (i = 0; i < d->nrelay_up; i++) {
		if (same_addr(from, alen, &d->relay_addr[i], d->relay_alen[i])) {
			relayreg_input(&d->relayreg, i, buf, len, loop_now_us());
			relay_arm(d, relayreg_tick(&d->relayreg, loop_now_us()));
			relayfront_input(&d->relayfront, i, buf, len);
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
static int relay_prepare(struct muxd *d)
{
	struct addrinfo hints, *res;
	gnutls_datum_t pem = { NULL, 0 };
	uint8_t id[RMSG_ID_LEN];
	char name[MUXD_HOST_MAX + 16], idtext[HOMEID_TEXT_LEN + 1];
	unsigned i;
	int r, fam = tun_front_udp_family(d->front);

	d->nrelay_up = 0;
	for (i = 0; i < d->conf.nrelay; i++) {
		unsigned k = d->nrelay_up;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = fam;
		hints.ai_socktype = SOCK_DGRAM;
		hints.ai_flags = fam == AF_INET6 ? AI_V4MAPPED | AI_ALL : 0;
		r = getaddrinfo(d->conf.relay_host[i], d->conf.relay_port[i], &hints, &res);
		if (r != 0) {
			log_warn("relay %s: %s; not registering with it (until bgw-muxd "
				 "restarts)", relay_line_name(d, i, name, sizeof(name)),
				 gai_strerror(r));
			continue;
		}
		if (res->ai_addrlen <= sizeof(d->relay_addr[k])) {
			memcpy(&d->relay_addr[k], res->ai_addr, res->ai_addrlen);
			d->relay_alen[k] = res->ai_addrlen;
			d->relay_conf_idx[k] = i;
			d->nrelay_up++;
		}
		freeaddrinfo(res);
	}
	if (!d->nrelay_up)
		return 0;
	r = gnutls_load_file(d->conf.ca_file, &pem) < 0 ? -EIO :
	    homeid_from_cert_pem((const char *)pem.data, pem.size, id);
	gnutls_free(pem.data);
	if (r < 0) {
		log_err("relay: ca %s: cannot read the CA certificate", d->conf.ca_file);
		return r;
	}
	d->relay_timer = loop_timer_new(d->l, relay_on_timer, d);
	if (!d->relay_timer ||
	    relayfront_init(&d->relayfront, d->l, d->front, &relay_front_ops, d) < 0)
		return -ENOMEM;
	homeid_to_text(id, idtext);
	log_notice("relay: home id %s, %u relay(s)", idtext, d->nrelay_up);
	return relayreg_start(&d->relayreg, id, d->nrelay_up, &relay_ops, d, loop_now_us());
}

int front_run(struct muxd *d)
{
	struct tun_server_cfg cfg;
	struct tun_front_cfg fc;
	int keep[3];
	unsigned i;
	int r;

	sandbox_set_name("bgw-muxd[net]");
	muxd_forget_secrets(d);
	/*
	 * Only its channel to the monitor and, until it is up (muxd_ready),
	 * the start-up pipe and /dev/null; the local listeners are the core's.
	 */
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		d->lfd[i] = -1;
	keep[0] = d->req_fd;
	keep[1] = d->ready_fd;
	keep[2] = d->null_fd;
	r = sandbox_close_all_but(keep, 3);
	log_reopen();
	if (r < 0) {
		log_err("network front: closing inherited descriptors: %s", strerror(-r));
		return EXIT_ERROR;
	}
	/* The peers' stdin, stdout and stderr. */
	d->peer_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (d->peer_null_fd < 0) {
		log_err("network front: /dev/null: %s", strerror(errno));
		return EXIT_ERROR;
	}
	d->l = loop_new();
	d->stop_timer = d->l ? loop_timer_new(d->l, front_stop_fn, d) : NULL;
	if (!d->stop_timer)
		return EXIT_ERROR;
	/* The certificate chain and the CA, for the peers to inherit. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = d->conf.ca_file;
	cfg.cert_file = d->conf.cert_file;
	cfg.key_sign = peer_key_sign;	/* the key stays in the monitor */
	r = tun_server_creds_new(&d->creds, &cfg, d);
	if (r < 0) {
		log_err("tunnel: credentials: %s", strerror(-r));
		return EXIT_ERROR;
	}
	memset(&fc, 0, sizeof(fc));
	fc.host = d->conf.tun_host[0] ? d->conf.tun_host : NULL;
	fc.udp_port = d->conf.dtls_port[0] ? d->conf.dtls_port : NULL;
	fc.tcp_port = d->conf.tls_port[0] ? d->conf.tls_port : NULL;
	fc.max_peers = d->conf.max_sessions + d->conf.max_pending;
	fc.max_pending = d->conf.max_pending;
	fc.handshake_ms = d->conf.login_s * 1000;
	fc.spawn = front_spawn;
	fc.dgram = d->conf.nrelay ? relay_dgram : NULL;
	fc.user = d;
	r = tun_front_new(&d->front, d->l, &fc);
	if (r < 0) {
		log_err("tunnel: cannot listen on %s (DTLS %s, TLS %s): %s",
			fc.host ? fc.host : "*", fc.udp_port ? fc.udp_port : "-",
			fc.tcp_port ? fc.tcp_port : "-", strerror(-r));
		return EXIT_ERROR;
	}
	if (fc.udp_port)
		log_notice("tunnel: DTLS on %s port %u", fc.host ? fc.host : "*",
			   (unsigned)tun_front_udp_port(d->front));
	if (fc.tcp_port)
		log_notice("tunnel: TLS on %s port %u", fc.host ? fc.host : "*",
			   (unsigned)tun_front_tcp_port(d->front));
	if (d->conf.nrelay) {
		if (relay_prepare(d) < 0)
			return EXIT_ERROR;
		if (d->nrelay_up)
			relay_arm(d, relayreg_tick(&d->relayreg, loop_now_us()));
	}
	if (loop_add_signal(d->l, SIGCHLD, front_on_chld, d) < 0 ||
	    loop_add_signal(d->l, SIGTERM, front_on_term, d) < 0 ||
	    loop_add_signal(d->l, SIGINT, front_on_term, d) < 0)
		return EXIT_ERROR;
	signal(SIGHUP, SIG_IGN);
	if (sandbox_drop_privileges(SANDBOX_FRONT) < 0)
		return EXIT_ERROR;
	if (d->conf.sandbox) {
		if (sandbox_enter(SANDBOX_FRONT) < 0)
			return EXIT_ERROR;
	} else {
		log_warn("sandbox off (configuration): the network front and the peers run without their seccomp filters");
	}
	muxd_ready(d);
	/* loop_quit's code: an error must end the daemon non-zero. */
	r = loop_run(d->l);
	r = r < 0 ? EXIT_ERROR : r;
	/* As the core: a late second SIGTERM is no death by signal. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	relayfront_free(&d->relayfront);
	loop_timer_free(d->relay_timer);
	d->relay_timer = NULL;
	tun_front_free(d->front);
	d->front = NULL;
	tun_server_creds_free(d->creds);
	d->creds = NULL;
	return r;
}
