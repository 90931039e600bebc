/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd: owns one physical controller and gives every session a virtual
 * controller of its own (mux/mux.h). This file is the daemon around the
 * core: the configuration, the controller transport with reopen and
 * backoff, the authdb as policy (reloaded on SIGHUP and when it changes), and the local
 * listener (H4 over a Unix socket, one session per connection, the peer's
 * uid mapped to an authdb user).
 *
 * Remote sessions come through the tunnel (tunnel/tunnel.h: DTLS, TLS
 * fallback) when listen-dtls or listen-tls is configured: the tunnel
 * library authenticates against the current authdb table (certificate by
 * fingerprint, or SCRAM with a fabricated verifier for unknown users),
 * with per-source and per-user rate limits and an audit record for every
 * login and session end; each session then drives the core exactly as a
 * local client does.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "audit.h"
#include "authdb.h"
#include "conf.h"
#include "cursor.h"
#include "hci.h"
#include "hci_names.h"
#include "keysign.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "pktq.h"
#include "ratelimit.h"
#include "rpc.h"
#include "sandbox.h"
#include "scram.h"
#include "transport.h"
#include "tunnel.h"

#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_AUTHDB	3

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
#define CLIENT_QUEUE_PKTS 4096
#define RATELIMIT_SLOTS	4096
#define SRC_KEY_MAX	(INET6_ADDRSTRLEN + 4)	/* "2001:db8::/64" */

struct muxd;

/* The first member of every session owner: session_dead dispatches on it. */
enum sess_kind {
	SESS_LOCAL,
	SESS_TUNNEL,
};

struct client {
	enum sess_kind kind;
	struct muxd *d;
	struct client *next;
	int fd;
	uid_t uid;
	bool closing;
	struct mux_session *s;
	struct h4_reader *rd;
	struct pktq outq;
	size_t out_off;
};

/* A tunnel session (tunnel/tunnel.h) and its virtual controller. */
struct rsess {
	enum sess_kind kind;
	struct muxd *d;
	struct rsess *next, **pprev;
	struct tun_session *ts;
	struct mux_session *s;
	struct pktq outq;	/* what tun_session_send could not take yet */
	bool rx_held;		/* on_packet said -ENOBUFS: kick when drained */
	bool in_emit;		/* inside the core's emit: no calls back into it */
	bool writable_later;	/* on_writable came during emit: run from the loop */
	bool draining;		/* in tun_on_writable (a nested call returns) */
	bool dead;		/* the core ended it: close from the loop */
	bool cert;		/* logged in with a certificate (fpr valid) */
	uint8_t fpr[AUTHDB_FPR_LEN];
	char src[SRC_KEY_MAX];
};

struct muxd {
	struct loop *l;
	struct muxd_conf conf;
	struct authdb *db;
	struct mux *mux;
	struct mux_transport *tr;
	struct loop_timer *restart;
	unsigned backoff_ms;
	int lfd[MUXD_LISTEN_MAX];
	struct client *clients;
	unsigned nclients;
	struct loop_timer *reap;
	/* The authdb's directory watched: bgw-authdb renames a new file in. */
	int ifd;
	struct loop_timer *ireload;
	/* The tunnel, when configured. */
	struct tun_server *tun;
	struct rsess *rsessions;
	struct loop_timer *rreap;
	struct ratelimit *rl_src;
	struct ratelimit *rl_user;
	struct ratelimit *known_src;	/* (user, source) pairs that logged in */
	struct audit_log *audit;
	uint8_t secret[AUTHDB_SECRET_LEN];
	/*
	 * cert_user -> on_session happen in one call (tunnel.c login_ok), so
	 * the certificate a session logged in with is handed over here.
	 */
	bool cert_pending;
	char cert_user[AUTHDB_NAME_MAX + 1];
	uint8_t cert_fpr[AUTHDB_FPR_LEN];
	/*
	 * Worker: the monitor refused a SCRAM proof and counted the failure
	 * itself; the login_failed that follows in the same call chain
	 * (tunnel.c on_scram_final) must not count it again.
	 */
	bool verify_counted;
	/*
	 * Monitor: the last user whose proof checked out, so that the
	 * worker's LOGIN_OK for a password login is believed only for them.
	 */
	char verified_user[AUTHDB_NAME_MAX + 1];
	/*
	 * Monitor: the tunnel server's private key, loaded after the fork so
	 * that the worker's memory never held it; the worker's handshakes
	 * ask for signatures (RPC_SIGN, mux/keysign.h).
	 */
	struct keysign *key;
	/*
	 * Privilege separation (doc/security.md). The monitor keeps the
	 * authdb with its verifiers, the SCRAM secret, the rate limiters and
	 * the audit log; the worker gets a policy copy without verifiers and
	 * asks the monitor for the rest over req_fd.
	 */
	bool worker;
	int req_fd;		/* worker: requests out; monitor: requests in */
	int push_fd;		/* worker: policy in; monitor: policy out */
	pid_t child;		/* monitor: the worker */
	bool stopping;
	struct loop_timer *kill_timer;
	struct rpc_reader rrd;
};

static const char *conf_path = MUXD_DEFAULT_CONF;

static void usage(FILE *f)
{
	fprintf(f, "usage: bgw-muxd [-dft] [-c config_file]\n");
}

/* ------------------------------------------------------------------ */
/* Policy: the authdb */

static bool pol_is_user(const char *user, void *ctx)
{
	struct muxd *d = ctx;

	return d->db && authdb_user_is_enabled(d->db, user);
}

static bool pol_is_admin(const char *user, void *ctx)
{
	struct muxd *d = ctx;

	return d->db && authdb_user_is_admin(d->db, user);
}

static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	struct muxd *d = ctx;

	return d->db && authdb_user_may_access(d->db, user, a, type);
}

static void audit(struct muxd *d, enum audit_event ev, const char *user,
		  const char *src, const char *detail);
static void pol_denied(const char *user, const struct bdaddr *a, uint8_t type,
		       uint16_t opcode, void *ctx);

static int load_authdb(struct muxd *d)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	int r;

	r = authdb_load(d->conf.authdb, 0, &db, err, sizeof(err));
	if (r < 0) {
		char detail[AUDIT_VALUE_MAX];

		log_err("authdb %s refused: %s", d->conf.authdb, err);
		/* The audit keeps a bounded excerpt; the log has all of it. */
		snprintf(detail, sizeof(detail), "refused: %.200s", err);
		audit(d, AUDIT_AUTHDB_RELOAD, NULL, NULL, detail);
		return r;
	}
	/* Swap only a fully parsed table (the old one stays on error). */
	authdb_free(d->db);
	d->db = db;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Controller transport */

static void tr_rx(const uint8_t *h4, size_t len, void *user)
{
	struct muxd *d = user;

	mux_ctrl_input(d->mux, h4, len);
	if (mux_is_ready(d->mux))
		d->backoff_ms = BACKOFF_MIN_MS;
}

static void schedule_restart(struct muxd *d, unsigned delay_ms)
{
	if (!loop_timer_is_armed(d->restart))
		loop_timer_arm(d->restart, (uint64_t)delay_ms * 1000);
}

static void tr_error(int err, void *user)
{
	struct muxd *d = user;

	log_err("controller %s lost: %s", d->conf.controller, strerror(-err));
	schedule_restart(d, 0);
}

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	struct muxd *d = user;

	return d->tr ? mux_transport_send(d->tr, h4, len) : -EPIPE;
}

static void ctrl_failed(struct mux *m, int err, void *user)
{
	struct muxd *d = user;

	schedule_restart(d, 0);
}

static int worker_open_fd(const char *uri, char *err, size_t errlen, void *user);

/* Close what is left of the transport, then reopen it with backoff. */
static void restart_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct mux_transport_ops ops = {
		tr_rx, tr_error, d, d->conf.sim_time_scale,
		d->worker ? worker_open_fd : NULL,
	};
	char err[512];
	int r;

	if (d->tr) {
		mux_transport_close(d->tr);
		d->tr = NULL;
		mux_ctrl_down(d->mux);
		loop_timer_arm(d->restart, (uint64_t)d->backoff_ms * 1000);
		return;
	}
	r = mux_transport_open(d->l, d->conf.controller, &ops, &d->tr, err, sizeof(err));
	if (r < 0) {
		log_err("controller: %s (retrying in %u ms)", err, d->backoff_ms);
		loop_timer_arm(d->restart, (uint64_t)d->backoff_ms * 1000);
		d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
		return;
	}
	log_notice("controller %s open", d->conf.controller);
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	mux_ctrl_up(d->mux);
}

/* ------------------------------------------------------------------ */
/* Local clients */

static void client_free(struct client *c)
{
	struct muxd *d = c->d;
	struct client **pp;

	for (pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			d->nclients--;
			break;
		}
	}
	mux_session_free(c->s);
	if (c->fd >= 0) {
		loop_del_fd(d->l, c->fd);
		close(c->fd);
	}
	h4_reader_free(c->rd);
	pktq_clear(&c->outq);
	free(c);
}

static void reap_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct client *c, *next;

	for (c = d->clients; c; c = next) {
		next = c->next;
		if (c->closing)
			client_free(c);
	}
}

static void client_close_later(struct client *c)
{
	c->closing = true;
	loop_timer_arm(c->d->reap, 0);
}

static void client_flush(struct client *c)
{
	unsigned n;

	for (n = 0; n < CLIENT_QUEUE_PKTS; n++) {
		struct pkt *p = pktq_peek(&c->outq);
		ssize_t w;

		if (!p)
			break;
		w = send(c->fd, p->data + c->out_off, p->len - c->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			client_close_later(c);
			return;
		}
		c->out_off += (size_t)w;
		if (c->out_off == p->len) {
			pkt_free(pktq_pop(&c->outq));
			c->out_off = 0;
		}
	}
	loop_mod_fd(c->d->l, c->fd, pktq_is_empty(&c->outq) ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

/* mux emit: queue for the client; -ENOBUFS when its queue is full. */
/* Into a session's outbound queue; reports give way first (mux.h, backpressure). */
static int session_queue_push(struct pktq *q, const uint8_t *h4, size_t len)
{
	return h4_is_discovery_report(h4, len) ? pktq_push_soft(q, h4, len) :
						 pktq_push(q, h4, len);
}

static int client_emit(const uint8_t *h4, size_t len, void *user)
{
	struct client *c = user;
	int r;

	if (c->closing)
		return -EPIPE;
	r = session_queue_push(&c->outq, h4, len);
	if (r < 0)
		return r;
	if (c->outq.count == 1)
		loop_mod_fd(c->d->l, c->fd, EPOLLIN | EPOLLOUT);
	return 0;
}

static int client_pkt(const struct h4_pkt *pkt, void *user)
{
	struct client *c = user;
	int r = mux_session_input(c->s, pkt->raw, pkt->raw_len);

	return r == -EPIPE ? r : 0;
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct client *c = user;
	uint8_t buf[16384];
	ssize_t n;
	int r;

	if (c->closing)
		return;
	if (events & EPOLLOUT)
		client_flush(c);
	if (c->closing || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close_later(c);
		return;
	}
	r = h4_reader_feed(c->rd, buf, (size_t)n, client_pkt, c);
	if (r < 0) {
		if (r != -EPIPE)
			log_warn("session %u (%s): H4 framing error (%s), closing",
				 mux_session_id(c->s), mux_session_user(c->s), h4_strerror(r));
		client_close_later(c);
	}
}

/* The local user: an explicit uid-map line, else the account name. */
static int uid_user(const struct muxd *d, uid_t uid, char *out, size_t cap)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	unsigned i;

	for (i = 0; i < d->conf.nuidmap; i++) {
		if (d->conf.uidmap[i].uid == uid) {
			snprintf(out, cap, "%s", d->conf.uidmap[i].user);
			return 0;
		}
	}
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res ||
	    strlen(res->pw_name) >= cap)
		return -ENOENT;
	snprintf(out, cap, "%s", res->pw_name);
	return 0;
}

static struct rsess *rsess_first(struct muxd *d);

/*
 * max-sessions-per-user: one family member's devices cannot take every
 * virtual controller (max-sessions) from the others.
 */
static bool user_at_cap(struct muxd *d, const char *name)
{
	unsigned n = 0;
	struct client *c;
	struct rsess *r;

	if (!d->conf.max_sessions_user)
		return false;
	for (c = d->clients; c; c = c->next)
		if (!c->closing && c->s && strcmp(mux_session_user(c->s), name) == 0)
			n++;
	for (r = rsess_first(d); r; r = r->next)
		if (r->s && strcmp(mux_session_user(r->s), name) == 0)
			n++;
	return n >= d->conf.max_sessions_user;
}

static void accept_cb(struct loop *l, int lfd, uint32_t events, void *user)
{
	struct muxd *d = user;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char name[MUX_USER_MAX + 1];
	struct client *c;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		close(fd);
		return;
	}
	/* Unknown uid and refused user take the same path and the same words. */
	if (uid_user(d, cred.uid, name, sizeof(name)) < 0 ||
	    !pol_is_user(name, d)) {
		log_notice("local connection from uid %u refused: not an enabled authdb user",
			   (unsigned)cred.uid);
		close(fd);
		return;
	}
	if (user_at_cap(d, name)) {
		log_notice("local connection from uid %u (%s) refused: max-sessions-per-user %u reached",
			   (unsigned)cred.uid, name, d->conf.max_sessions_user);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->kind = SESS_LOCAL;
	c->d = d;
	c->fd = fd;
	c->uid = cred.uid;
	pktq_init(&c->outq, CLIENT_QUEUE_PKTS, (size_t)d->conf.queue_kib * 1024);
	c->rd = h4_reader_new(H4_MAX_PKT);
	c->s = c->rd ? mux_session_new(d->mux, name, client_emit, c) : NULL;
	if (!c->s || loop_add_fd(l, fd, EPOLLIN, client_cb, c) < 0) {
		log_warn("local connection from uid %u (%s) refused: no session available",
			 (unsigned)cred.uid, name);
		mux_session_free(c->s);
		h4_reader_free(c->rd);
		close(fd);
		free(c);
		return;
	}
	c->next = d->clients;
	d->clients = c;
	d->nclients++;
	log_info("local session %u for uid %u (%s)", mux_session_id(c->s),
		 (unsigned)cred.uid, name);
}

static void rsess_dead(struct rsess *r);

static void session_dead(struct mux_session *s, void *sess_user, void *user)
{
	enum sess_kind *kind = sess_user;

	if (*kind == SESS_TUNNEL)
		rsess_dead(sess_user);
	else
		client_close_later(sess_user);
}

static int listen_unix(const char *path, unsigned mode)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Replace a stale socket, never another kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("listen %s: exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, (mode_t)mode) < 0 || listen(fd, 16) < 0) {
		int e = -errno;

		log_err("listen %s: %s", path, strerror(errno));
		close(fd);
		return e;
	}
	return fd;
}


/* ------------------------------------------------------------------ */
/* The tunnel: remote sessions */

/*
 * The rate limiter's and the audit log's source: the address without the
 * port (a new port per attempt must not make a new key) and, for IPv6,
 * its /64 (one host owns a whole /64). A v4-mapped address is IPv4.
 */
static void src_key_bin(int family, const void *a, char *out, size_t cap)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr v6;
	const uint8_t *b = a;

	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
		family = AF_INET;
		a = b + 12;
	}
	if (family == AF_INET) {
		if (!inet_ntop(AF_INET, a, buf, sizeof(buf)))
			snprintf(buf, sizeof(buf), "?");
		snprintf(out, cap, "%s", buf);
		return;
	}
	memcpy(&v6, a, sizeof(v6));
	memset(v6.s6_addr + 8, 0, 8);
	if (!inet_ntop(AF_INET6, &v6, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "?");
	snprintf(out, cap, "%s/64", buf);
}

static void src_key_sa(const void *addr, size_t alen, char *out, size_t cap)
{
	const struct sockaddr *sa = addr;

	if (alen >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
		src_key_bin(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, out, cap);
	else if (alen >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)
		src_key_bin(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, out, cap);
	else
		snprintf(out, cap, "?");
}

/* From tun_session_peer()'s "[addr]:port". */
static void src_key_peer(const char *peer, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	uint8_t a[16];
	const char *rb;
	size_t n;

	rb = peer[0] == '[' ? strchr(peer, ']') : NULL;
	n = rb ? (size_t)(rb - peer - 1) : 0;
	if (!rb || n == 0 || n >= sizeof(host)) {
		snprintf(out, cap, "?");
		return;
	}
	memcpy(host, peer + 1, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a) == 1)
		src_key_bin(AF_INET, a, out, cap);
	else if (inet_pton(AF_INET6, host, a) == 1)
		src_key_bin(AF_INET6, a, out, cap);
	else
		snprintf(out, cap, "?");
}

static uint64_t now_ms(void)
{
	return loop_now_us() / 1000;
}

/* A copy of s for the RPC: control bytes shown as '?', at most cap - 1 bytes. */
static void rpc_str(char *dst, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < cap; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

/*
 * The worker asks the monitor (mux/rpc.h). A broken request channel means
 * the monitor is gone: the worker stops.
 */
static int worker_call(struct muxd *d, uint32_t type, uint8_t arg, const char *name,
		       const char *src, const char *rd, const char *detail,
		       struct rpc_reply *rep, int *fd)
{
	struct rpc_req q;
	struct rpc_reply dummy;
	int r;

	memset(&q, 0, sizeof(q));
	q.type = type;
	q.arg = arg;
	rpc_str(q.name, 65, name);
	rpc_str(q.src, 65, src);
	rpc_str(q.rd, 33, rd);
	rpc_str(q.detail, sizeof(q.detail), detail);
	r = rpc_call(d->req_fd, &q, rep ? rep : &dummy, fd);
	if (r < 0 && r != -EINVAL) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(d->l, EXIT_ERROR);
	}
	return r;
}

static void audit(struct muxd *d, enum audit_event ev, const char *user,
		  const char *src, const char *detail)
{
	struct audit_fields f = { .user = user, .src = src, .detail = detail, .uid = -1 };
	int r;

	if (d->worker) {
		worker_call(d, RPC_AUDIT, (uint8_t)ev, user, src, NULL, detail, NULL, NULL);
		return;
	}
	if (!d->audit)
		return;
	r = audit_append(d->audit, ev, &f);
	if (r < 0)
		log_err("audit log %s: %s: %s", d->conf.audit_log,
			audit_event_name(ev), strerror(-r));
}

/* An ACL refusal by the core: one audit record (the core rate-limits). */
static void pol_denied(const char *user, const struct bdaddr *a, uint8_t type,
		       uint16_t opcode, void *ctx)
{
	struct muxd *d = ctx;
	char rd[BDADDR_STRLEN + 8], detail[64];
	struct audit_fields f = { .user = user, .rd = rd, .detail = detail, .uid = -1 };
	const char *name = hcistr_opcode(opcode);
	int r;

	bdaddr_fmt(a, rd);
	strcat(rd, type == BDADDR_RANDOM ? " random" : " public");
	snprintf(detail, sizeof(detail), "%s", name ? name : "command");
	if (d->worker) {
		worker_call(d, RPC_AUDIT, AUDIT_ACL_DENY, user, NULL, rd, detail, NULL, NULL);
		return;
	}
	if (!d->audit)
		return;
	r = audit_append(d->audit, AUDIT_ACL_DENY, &f);
	if (r < 0)
		log_err("audit log %s: %s: %s", d->conf.audit_log,
			audit_event_name(AUDIT_ACL_DENY), strerror(-r));
}

/* The known-source key: SHA-256 of "user\nsource" (both fit no key cap). */
static int known_key(const char *name, const char *src, uint8_t key[32])
{
	char buf[AUTHDB_NAME_MAX + 1 + SRC_KEY_MAX + 1];
	int n = snprintf(buf, sizeof(buf), "%s\n%s", name, src);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, (size_t)n, key) < 0 ? -EIO : 0;
}

/*
 * Both limiters must allow the attempt (authdb/ratelimit.h), except that
 * the per-user one does not apply where the user proved a password before
 * (mon_scram_verify): an
 * attacker spreading guesses over many addresses slows new places down,
 * never the real user's usual ones. Monitor.
 */
static int mon_login_allowed(struct muxd *d, const char *name, const char *src)
{
	uint64_t wait_src = 0, wait_user = 0, now = now_ms();
	uint8_t key[32];
	int a, b = 0;

	a = ratelimit_check(d->rl_src, src, strlen(src), now, &wait_src);
	if (name[0] && !(known_key(name, src, key) == 0 &&
			 ratelimit_known(d->known_src, key, sizeof(key))))
		b = ratelimit_check(d->rl_user, name, strlen(name), now, &wait_user);
	if (a == 0 && b == 0)
		return 0;
	log_notice("tunnel: login as '%s' from %s refused: rate limited (%llu ms)",
		   name, src, (unsigned long long)(wait_src > wait_user ? wait_src : wait_user));
	audit(d, AUDIT_LOGIN_LIMITED, name, src, NULL);
	return -EAGAIN;
}

static int auth_login_allowed(void *user, const char *name, const void *addr,
			      size_t addrlen)
{
	struct muxd *d = user;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX];

	src_key_sa(addr, addrlen, src, sizeof(src));
	if (worker_call(d, RPC_LOGIN_ALLOWED, 0, name, src, NULL, NULL, &rep, NULL) < 0)
		return -EAGAIN;
	return rep.status < 0 ? -EAGAIN : 0;
}

static void mon_login_failed(struct muxd *d, const char *name, const char *src, int reason)
{
	uint64_t now = now_ms();

	ratelimit_failure(d->rl_src, src, strlen(src), now);
	if (name[0])
		ratelimit_failure(d->rl_user, name, strlen(name), now);
	/* The name as claimed: the log says so, it proves nothing. */
	log_notice("tunnel: login as '%s' from %s failed: %s", name, src,
		   tun_reason_str(reason));
	audit(d, AUDIT_LOGIN_FAIL, name, src, tun_reason_str(reason));
}

static void auth_login_failed(void *user, const char *name, const void *addr,
			      size_t addrlen, int reason)
{
	struct muxd *d = user;
	char src[SRC_KEY_MAX];

	if (d->verify_counted && reason == TUN_R_AUTH_FAILED) {
		d->verify_counted = false;
		return;
	}
	d->verify_counted = false;
	src_key_sa(addr, addrlen, src, sizeof(src));
	if (reason < 1 || reason > 127)
		reason = TUN_R_INTERNAL;
	worker_call(d, RPC_LOGIN_FAILED, (uint8_t)reason, name, src, NULL, NULL, NULL, NULL);
}

/*
 * A session began (the worker says so): the source limiter forgets its
 * failures, the audit records the login. The per-user limiter is cleared
 * only by a proof the monitor checked itself (mon_scram_verify): a
 * subverted worker that could clear it at will would turn the monitor
 * into an unlimited password oracle. For the same reason a password
 * LOGIN_OK is believed only for the user whose proof last checked out.
 */
static void mon_login_ok(struct muxd *d, const char *name, const char *src, bool cert)
{
	if (!cert) {
		if (!d->verified_user[0] || strcmp(d->verified_user, name)) {
			log_warn("worker reported a password login of '%s' the monitor did not verify: ignored",
				 name);
			return;
		}
		d->verified_user[0] = '\0';
	}
	ratelimit_success(d->rl_src, src, strlen(src));
	audit(d, AUDIT_LOGIN_OK, name, src, cert ? "cert" : "password");
}

/*
 * The SCRAM proof check (authdb/scram.h scram_proof_check), in the
 * monitor: the worker never sees StoredKey or ServerKey. Rate limits and
 * the failure count are applied here, whatever the worker reports.
 */
static int mon_scram_verify(struct muxd *d, const struct rpc_req *q,
			    uint8_t ssig[SCRAM_KEY_LEN])
{
	struct scram_verifier v;
	bool real = false;
	int r;

	if (!d->db || !d->rl_src)
		return -EIO;
	r = mon_login_allowed(d, q->name, q->src);
	if (r < 0)
		return r;
	r = authdb_scram_lookup(d->db, q->name, d->secret, sizeof(d->secret), &v, &real);
	if (r < 0)
		return r;
	r = scram_proof_check(&v, real, (const char *)q->blob + SCRAM_KEY_LEN,
			      q->blob_len - SCRAM_KEY_LEN, q->blob, ssig);
	scram_verifier_wipe(&v);
	if (r == -EACCES) {
		mon_login_failed(d, q->name, q->src, TUN_R_AUTH_FAILED);
		return r;
	}
	if (r < 0)
		return r;
	ratelimit_success(d->rl_src, q->src, strlen(q->src));
	ratelimit_success(d->rl_user, q->name, strlen(q->name));
	/*
	 * Only a proof the monitor checked makes a source known: a worker's
	 * word (a certificate login it reports) must not exempt sources from
	 * the per-user limit that bounds its use of this oracle.
	 */
	{
		uint8_t key[32];

		if (known_key(q->name, q->src, key) == 0)
			ratelimit_remember(d->known_src, key, sizeof(key), now_ms());
	}
	snprintf(d->verified_user, sizeof(d->verified_user), "%s", q->name);
	return 0;
}

/* A certificate maps to its user by fingerprint; revoked and disabled fail. */
static int auth_cert_user(void *user, const struct tun_cert_info *ci,
			  char *name, size_t cap)
{
	struct muxd *d = user;
	char u[AUTHDB_NAME_MAX + 1];
	int r;

	d->cert_pending = false;
	if (!d->db)
		return -ENOENT;
	r = authdb_cert_user(d->db, ci->sha256, u);
	if (r < 0)
		return r;
	if (!authdb_user_is_enabled(d->db, u))
		return -EACCES;
	if (strlen(u) >= cap)
		return -ENOENT;
	snprintf(name, cap, "%s", u);
	snprintf(d->cert_user, sizeof(d->cert_user), "%s", u);
	memcpy(d->cert_fpr, ci->sha256, AUTHDB_FPR_LEN);
	d->cert_pending = true;
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

	d->cert_pending = false;
	d->verify_counted = false;
	*real = false;
	memset(v, 0, sizeof(*v));
	r = worker_call(d, RPC_SCRAM_SALT, 0, name, NULL, NULL, NULL, &rep, NULL);
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
		log_err("monitor: %s: stopping", strerror(-r));
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

/* The worker's handshakes sign through the monitor, which holds the key. */
static int worker_key_sign(void *user, int sign_algo, bool is_hash,
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
		log_err("monitor: %s: stopping", strerror(-r));
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

/* The key file, read by the monitor after the fork; it must match the certificate. */
static int mon_key_load(struct muxd *d)
{
	char err[300];
	int r;

	r = keysign_load(&d->key, d->conf.key_file, d->conf.cert_file, now_ms(),
			 err, sizeof(err));
	if (r < 0)
		log_err("tunnel: %s", err);
	return r;
}

/* A signature for the worker's handshake (the checks: mux/keysign.h). */
static int mon_sign(struct muxd *d, const struct rpc_req *q, uint8_t *sig, size_t *sig_len)
{
	int algo = get_le16(q->blob), r;

	if (!d->key)
		return -ENOKEY;
	r = keysign_sign(d->key, algo, q->arg != 0, q->blob + 2, q->blob_len - 2,
			 sig, RPC_RBLOB_MAX, sig_len, now_ms());
	if (r == -EAGAIN)
		log_notice("tunnel: signature refused: more than %u a second", KEYSIGN_PER_S);
	else if (r < 0)
		log_warn("tunnel: worker's signature request (algorithm %d, %s) refused: %s",
			 algo, q->arg ? "digest" : "data", strerror(-r));
	return r;
}

static const struct tun_auth_ops tun_auth = {
	.cert_user = auth_cert_user,
	.scram_lookup = auth_scram_lookup,
	.scram_verify = auth_scram_verify,
	.login_allowed = auth_login_allowed,
	.login_failed = auth_login_failed,
};

static struct rsess *rsess_first(struct muxd *d)
{
	return d->rsessions;
}

static void rsess_unlink(struct rsess *r)
{
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		r->pprev = NULL;
	}
}

static void rsess_free(struct rsess *r)
{
	if (!r)
		return;
	rsess_unlink(r);
	mux_session_free(r->s);
	pktq_clear(&r->outq);
	free(r);
}

/* The core ended the session (stalled, user removed): never close from inside it. */
static void rsess_dead(struct rsess *r)
{
	r->dead = true;
	loop_timer_arm(r->d->rreap, 0);
}

static void tun_on_writable(void *user, struct tun_session *ts);

static void rreap_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct rsess *r, *next;

	for (r = d->rsessions; r; r = next) {
		next = r->next;
		if (r->dead) {
			r->dead = false;
			tun_session_close(r->ts, TUN_R_REFUSED);
		} else if (r->writable_later) {
			r->writable_later = false;
			tun_on_writable(d, r->ts);
		}
	}
}

/* mux emit: straight into the tunnel, else the bounded queue. */
static int rsess_emit(const uint8_t *h4, size_t len, void *user)
{
	struct rsess *r = user;
	int ret = -ENOBUFS;

	if (!r->ts)
		return -EPIPE;
	if (pktq_is_empty(&r->outq)) {
		r->in_emit = true;
		ret = tun_session_send(r->ts, h4, len);
		r->in_emit = false;
	}
	if (ret == -ENOBUFS)	/* full: -ENOBUFS to the core */
		ret = session_queue_push(&r->outq, h4, len);
	if (ret < 0 && ret != -ENOBUFS)
		return -EPIPE;
	return ret;
}

static int tun_on_session(void *user, struct tun_session *ts, const char *name)
{
	struct muxd *d = user;
	char peer[96];
	struct rsess *r;
	bool cert = d->cert_pending && strcmp(d->cert_user, name) == 0;

	d->cert_pending = false;
	if (user_at_cap(d, name)) {
		log_notice("tunnel session for %s refused: max-sessions-per-user %u reached",
			   name, d->conf.max_sessions_user);
		return -EBUSY;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = SESS_TUNNEL;
	r->d = d;
	r->ts = ts;
	r->cert = cert;
	if (cert)
		memcpy(r->fpr, d->cert_fpr, AUTHDB_FPR_LEN);
	src_key_peer(tun_session_peer(ts, peer, sizeof(peer)), r->src, sizeof(r->src));
	worker_call(d, RPC_LOGIN_OK, cert, name, r->src, NULL, NULL, NULL, NULL);
	pktq_init(&r->outq, CLIENT_QUEUE_PKTS, (size_t)d->conf.queue_kib * 1024);
	/* The table may have changed since the login began. */
	r->s = pol_is_user(name, d) ? mux_session_new(d->mux, name, rsess_emit, r) : NULL;
	if (!r->s) {
		log_warn("tunnel session for %s from %s refused: no session available "
			 "(max-sessions %u reached, or the user is no longer enabled)",
			 name, peer, d->conf.max_sessions);
		audit(d, AUDIT_SESSION_END, name, r->src, "refused: no session available");
		free(r);
		return -EBUSY;
	}
	r->next = d->rsessions;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = &d->rsessions;
	d->rsessions = r;
	tun_session_set_data(ts, r);
	log_info("tunnel session %u for %s from %s (%s)", mux_session_id(r->s),
		 name, peer, cert ? "certificate" : "password");
	return 0;
}

static int tun_on_packet(void *user, struct tun_session *ts, const uint8_t *h4,
			 size_t len)
{
	struct rsess *r = tun_session_get_data(ts);
	int ret;

	if (!r || r->dead)
		return 0;
	/*
	 * Take no more from a host that is not taking its answers: what it
	 * sends waits in the tunnel until the queue drains (on_writable).
	 */
	if (!pktq_is_empty(&r->outq)) {
		r->rx_held = true;
		return -ENOBUFS;
	}
	ret = mux_session_input(r->s, h4, len);
	/* Malformed or forbidden: logged and refused by the core, this session only. */
	if (ret == -EPIPE)
		rsess_dead(r);
	return 0;
}

static void tun_on_writable(void *user, struct tun_session *ts)
{
	struct rsess *r = tun_session_get_data(ts);
	struct pkt *p;

	if (!r)
		return;
	/*
	 * The tunnel may report room from inside tun_session_send(), that is
	 * from inside the core's emit: kicking the receive side now would
	 * feed the core re-entrantly (mux.h), so it waits for the loop.
	 */
	if (r->in_emit) {
		r->writable_later = true;
		loop_timer_arm(r->d->rreap, 0);
		return;
	}
	if (r->draining)
		return;
	r->draining = true;
	while ((p = pktq_pop(&r->outq))) {
		if (tun_session_send(ts, p->data, p->len) == -ENOBUFS) {
			pktq_requeue(&r->outq, p);
			r->draining = false;
			return;
		}
		pkt_free(p);
	}
	r->draining = false;
	if (r->rx_held) {
		r->rx_held = false;
		tun_session_rx_kick(ts);
	}
}

static void tun_on_session_end(void *user, struct tun_session *ts, int reason)
{
	struct muxd *d = user;
	struct rsess *r = tun_session_get_data(ts);

	if (!r)
		return;
	log_notice("tunnel session %u (%s) ended: %s", mux_session_id(r->s),
		   tun_session_user(ts), tun_reason_str(reason));
	audit(d, AUDIT_SESSION_END, tun_session_user(ts), r->src, tun_reason_str(reason));
	tun_session_set_data(ts, NULL);
	r->ts = NULL;
	rsess_free(r);	/* called from the loop, never from inside the core */
}

static const struct tun_server_ops tun_ops = {
	.on_session = tun_on_session,
	.on_packet = tun_on_packet,
	.on_session_end = tun_on_session_end,
	.on_writable = tun_on_writable,
};

/*
 * After a reload: a session whose user is gone or disabled, or whose
 * certificate is revoked or no longer in the table, ends now. (The core
 * would end removed users' sessions too; closing here gives the client
 * the reason.)
 */
static void tunnel_policy_changed(struct muxd *d)
{
	char u[AUTHDB_NAME_MAX + 1];
	struct rsess *r;

	for (r = d->rsessions; r; r = r->next) {
		const char *name = tun_session_user(r->ts);
		int reason = TUN_R_NONE;

		if (r->cert) {
			int ret = authdb_cert_user(d->db, r->fpr, u);

			if (ret == -EKEYREVOKED || (ret == 0 && strcmp(u, name) != 0))
				reason = TUN_R_CERT_REVOKED;
			else if (ret < 0)
				reason = TUN_R_CERT_UNKNOWN;
		}
		if (!reason && !authdb_user_is_enabled(d->db, name))
			reason = TUN_R_AUTH_FAILED;
		if (!reason)
			continue;
		log_notice("tunnel session %u (%s): %s after the authdb reload, closing",
			   mux_session_id(r->s), name, tun_reason_str(reason));
		tun_session_close(r->ts, reason);
	}
}

/*
 * The tunnel's files: readable, and the private key and the SCRAM secret
 * not readable by group or others (a copy of the key impersonates the
 * gateway; the secret unmasks which user names exist).
 */
static int tunnel_check_files(const struct muxd_conf *c)
{
	const char *files[] = { c->ca_file, c->cert_file, c->key_file };
	struct stat st;
	unsigned i;
	int ret = 0;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (access(files[i], R_OK) < 0) {
			log_err("tunnel: %s: %s", files[i], strerror(errno));
			ret = -errno;
		}
	}
	if (stat(c->key_file, &st) == 0 && (st.st_mode & 077)) {
		log_err("tunnel: key %s is readable or writable by group or others (mode %04o): chmod 600",
			c->key_file, (unsigned)(st.st_mode & 07777));
		ret = -EPERM;
	}
	if (stat(c->scram_secret, &st) == 0 && (st.st_mode & 077)) {
		log_err("tunnel: scram-secret %s is accessible by group or others (mode %04o): chmod 600",
			c->scram_secret, (unsigned)(st.st_mode & 07777));
		ret = -EPERM;
	}
	return ret;
}

/* The monitor's part of the tunnel: the secret, the audit, the limiters. */
static int tunnel_prepare(struct muxd *d)
{
	static const struct ratelimit_policy pol_src = RATELIMIT_POLICY_SOURCE;
	static const struct ratelimit_policy pol_user = RATELIMIT_POLICY_USER;
	int r;

	if (tunnel_check_files(&d->conf) < 0)
		return -EPERM;
	r = authdb_secret_load(d->conf.scram_secret, d->secret, sizeof(d->secret));
	if (r < 0) {
		log_err("tunnel: scram-secret %s: %s", d->conf.scram_secret, strerror(-r));
		return r;
	}
	r = audit_open(d->conf.audit_log, &d->audit);
	if (r < 0) {
		log_err("tunnel: audit-log %s: %s", d->conf.audit_log, strerror(-r));
		return r;
	}
	d->rl_src = ratelimit_new(RATELIMIT_SLOTS, &pol_src);
	d->rl_user = ratelimit_new(RATELIMIT_SLOTS, &pol_user);
	d->known_src = ratelimit_new(RATELIMIT_SLOTS, &pol_user);
	if (!d->rl_src || !d->rl_user || !d->known_src)
		return -ENOMEM;
	return 0;
}

/*
 * The worker's part: the listeners and the server's certificate; the key
 * is the monitor's (worker_key_sign).
 */
static int tunnel_start(struct muxd *d)
{
	struct tun_server_cfg cfg;
	int r;

	d->rreap = loop_timer_new(d->l, rreap_fn, d);
	if (!d->rreap)
		return -ENOMEM;
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = d->conf.tun_host[0] ? d->conf.tun_host : NULL;
	cfg.udp_port = d->conf.dtls_port[0] ? d->conf.dtls_port : NULL;
	cfg.tcp_port = d->conf.tls_port[0] ? d->conf.tls_port : NULL;
	cfg.ca_file = d->conf.ca_file;
	cfg.cert_file = d->conf.cert_file;
	/* The key stays in the monitor: every signature is asked of it. */
	cfg.key_file = NULL;
	cfg.key_sign = worker_key_sign;
	cfg.resume_s = d->conf.resume_s;
	cfg.max_sessions = d->conf.max_sessions;
	cfg.max_pending = d->conf.max_pending;
	r = tun_server_new(&d->tun, d->l, &cfg, &tun_ops, &tun_auth, d);
	if (r < 0) {
		log_err("tunnel: cannot listen on %s (DTLS %s, TLS %s): %s",
			cfg.host ? cfg.host : "*", cfg.udp_port ? cfg.udp_port : "-",
			cfg.tcp_port ? cfg.tcp_port : "-", strerror(-r));
		return r;
	}
	if (cfg.udp_port)
		log_notice("tunnel: DTLS on %s port %u", cfg.host ? cfg.host : "*",
			   (unsigned)tun_server_udp_port(d->tun));
	if (cfg.tcp_port)
		log_notice("tunnel: TLS on %s port %u", cfg.host ? cfg.host : "*",
			   (unsigned)tun_server_tcp_port(d->tun));
	return 0;
}

/* Everything the tunnel holds; the loop is run once more by the caller. */
static void tunnel_stop(struct muxd *d)
{
	tun_server_free(d->tun);	/* no callbacks: the sessions go here */
	d->tun = NULL;
	while (d->rsessions)
		rsess_free(d->rsessions);
	loop_timer_free(d->rreap);
	d->rreap = NULL;
	ratelimit_free(d->rl_src);
	d->rl_src = NULL;
	ratelimit_free(d->rl_user);
	d->rl_user = NULL;
	ratelimit_free(d->known_src);
	d->known_src = NULL;
	audit_close(d->audit);
	d->audit = NULL;
	explicit_bzero(d->secret, sizeof(d->secret));
	keysign_free(d->key);
	d->key = NULL;
}

/* ------------------------------------------------------------------ */
/* The policy: the authdb as the worker sees it */

/*
 * The authdb's text without its password lines: everything the worker
 * needs to decide (users, flags, groups, ACLs, certificate fingerprints,
 * revocations), nothing that would let it test passwords offline. The
 * lines are the authdb's own format (bgw-authdb(5)), so the worker parses
 * them with the same parser, into a table of its own.
 */
static int policy_text(const struct authdb *db, char **out, size_t *outlen)
{
	char *buf, *p, *end, *w;
	size_t len;
	int r;

	r = authdb_serialize(db, &buf, &len);
	if (r < 0)
		return r;
	w = buf;
	for (p = buf, end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (!(n >= 9 && memcmp(p, "password ", 9) == 0)) {
			memmove(w, p, n);
			w += n;
		}
		p += n;
	}
	explicit_bzero(w, (size_t)(end - w));
	*out = buf;
	*outlen = (size_t)(w - buf);
	return 0;
}

/* Monitor: send the current table to the worker. */
static int policy_push(struct muxd *d)
{
	char *text;
	size_t len;
	int r;

	r = policy_text(d->db, &text, &len);
	if (r < 0) {
		log_err("policy for the worker: %s", strerror(-r));
		return r;
	}
	r = rpc_send(d->push_fd, RPC_POLICY, text, len, -1);
	if (r < 0)
		log_err("policy to the worker: %s", strerror(-r));
	explicit_bzero(text, len);
	free(text);
	return r;
}

/* Worker: read one push (the monitor is trusted, but still parsed whole). */
static int policy_receive(struct muxd *d, int timeout_ms)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	uint8_t *p;
	uint32_t type;
	size_t len;
	int r;

	r = rpc_recv(d->push_fd, &type, &p, &len, RPC_PUSH_MAX, NULL, timeout_ms);
	if (r < 0)
		return r;
	if (type != RPC_POLICY) {
		free(p);
		return -EPROTO;
	}
	r = authdb_parse_buffer("policy from the monitor", (const char *)p, len, &db,
				err, sizeof(err));
	free(p);
	if (r < 0) {
		log_err("policy from the monitor refused: %s", err);
		return r;
	}
	authdb_free(d->db);
	d->db = db;
	return 0;
}

static void on_push(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd *d = user;
	int r = policy_receive(d, RPC_TIMEOUT_MS);

	if (r < 0) {
		if (r != -EPIPE)
			log_err("policy channel: %s: stopping", strerror(-r));
		loop_quit(l, r == -EPIPE ? 0 : EXIT_ERROR);
		return;
	}
	tunnel_policy_changed(d);
	mux_policy_changed(d->mux);
}

/* ------------------------------------------------------------------ */

static void on_term(struct loop *l, int signo, void *user)
{
	log_notice("signal %d: stopping", signo);
	loop_quit(l, 0);
}

static void reload_authdb(struct muxd *d, const char *why)
{
	log_notice("%s: reloading %s", why, d->conf.authdb);
	if (load_authdb(d) == 0) {
		audit(d, AUDIT_AUTHDB_RELOAD, NULL, NULL, "ok");
		policy_push(d);
	}
}

static void on_hup(struct loop *l, int signo, void *user)
{
	reload_authdb(user, "SIGHUP");
}

static void ireload_fn(struct loop_timer *t, void *user)
{
	reload_authdb(user, "authdb changed");
}

/*
 * A change of the authdb's name in its directory: bgw-authdb renames a
 * new file into place (IN_MOVED_TO), an editor may write it in place
 * (IN_CLOSE_WRITE). Events come in bursts: reload once, 200 ms after the
 * last, so a file still being written is not read half-way.
 */
static void on_inotify(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd *d = user;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char path[PATH_MAX];
	const char *base;
	ssize_t n;
	size_t off;
	int k;

	snprintf(path, sizeof(path), "%s", d->conf.authdb);
	base = basename(path);
	for (k = 0; k < 16; k++) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			/* The kernel's record: the name fits in ev->len. */
			if (ev->len && off + sizeof(*ev) + ev->len <= (size_t)n &&
			    strnlen(ev->name, ev->len) < ev->len &&
			    !strcmp(ev->name, base))
				loop_timer_arm(d->ireload, 200000);
			off += sizeof(*ev) + ev->len;
		}
	}
}

static int watch_authdb(struct muxd *d)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", d->conf.authdb);
	d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->ifd < 0 ||
	    inotify_add_watch(d->ifd, dirname(dir), IN_MOVED_TO | IN_CLOSE_WRITE) < 0 ||
	    loop_add_fd(d->l, d->ifd, EPOLLIN, on_inotify, d) < 0) {
		/* SIGHUP still works: not a reason to refuse to run. */
		log_warn("cannot watch %s for changes (%s); reload it with SIGHUP",
			 d->conf.authdb, strerror(errno));
		if (d->ifd >= 0)
			close(d->ifd);
		d->ifd = -1;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The monitor: answers the worker, never reads network data */

static void mon_answer(struct muxd *d, const struct rpc_req *q)
{
	struct rpc_reply rep;
	int fd = -1;

	memset(&rep, 0, sizeof(rep));
	switch (q->type) {
	case RPC_CTRL_OPEN:
		/* Only the configured controller: the request names none. */
		fd = mux_transport_open_fd(d->conf.controller, rep.err, sizeof(rep.err));
		if (fd < 0)
			rep.status = fd;
		break;
	case RPC_SCRAM_SALT: {
		struct scram_verifier v;
		struct wbuf w;
		bool real = false;

		/* Only what server-first shows anyway: salt and iterations. */
		rep.status = d->db ? authdb_scram_lookup(d->db, q->name, d->secret,
							 sizeof(d->secret), &v, &real) : -EIO;
		if (rep.status < 0)
			break;
		wbuf_init(&w, rep.blob, sizeof(rep.blob));
		wbuf_le32(&w, v.iterations);
		wbuf_u8(&w, (uint8_t)v.salt_len);
		wbuf_bytes(&w, v.salt, v.salt_len);
		scram_verifier_wipe(&v);
		if (!wbuf_is_ok(&w)) {
			rep.status = -EOVERFLOW;
			break;
		}
		rep.blob_len = w.len;
		break;
	}
	case RPC_SCRAM_VERIFY:
		rep.status = mon_scram_verify(d, q, rep.blob);
		rep.blob_len = rep.status == 0 ? SCRAM_KEY_LEN : 0;
		break;
	case RPC_SIGN:
		rep.status = mon_sign(d, q, rep.blob, &rep.blob_len);
		if (rep.status < 0)
			rep.blob_len = 0;
		break;
	case RPC_LOGIN_ALLOWED:
		rep.status = d->rl_src ? mon_login_allowed(d, q->name, q->src) : -EAGAIN;
		break;
	case RPC_LOGIN_FAILED:
		if (d->rl_src)
			mon_login_failed(d, q->name, q->src, q->arg);
		return;
	case RPC_LOGIN_OK:
		if (d->rl_src)
			mon_login_ok(d, q->name, q->src, q->arg != 0);
		return;
	case RPC_AUDIT: {
		struct audit_fields f = {
			.user = q->name, .src = q->src[0] ? q->src : NULL,
			.rd = q->rd[0] ? q->rd : NULL,
			.detail = q->detail[0] ? q->detail : NULL, .uid = -1,
		};
		int r;

		if (!d->audit)
			return;
		r = audit_append(d->audit, (enum audit_event)q->arg, &f);
		if (r < 0)
			log_err("audit log %s: %s: %s", d->conf.audit_log,
				audit_event_name((enum audit_event)q->arg), strerror(-r));
		return;
	}
	default:
		return;
	}
	if (rpc_send_reply(d->req_fd, &rep, fd) < 0)
		log_err("reply to the worker: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	explicit_bzero(&rep, sizeof(rep));
}

/* How the worker ended, once: the monitor then stops too. */
static void mon_worker_gone(struct muxd *d, bool hostile)
{
	pid_t w = 0;
	int st = 0, i;

	if (d->child <= 0)
		return;
	/*
	 * A worker that closed its end is ending (a terminal's SIGINT reaches
	 * both processes) or is not to be trusted: 2 s to go, then SIGKILL.
	 */
	for (i = 0; i < 20 && !d->stopping && !hostile; i++) {
		w = waitpid(d->child, &st, WNOHANG);
		if (w != 0)
			break;
		usleep(100000);
	}
	if (w == 0) {
		if (!d->stopping || hostile)
			kill(d->child, SIGKILL);
		while (waitpid(d->child, &st, 0) < 0 && errno == EINTR)
			;
	}
	d->child = -1;
	if (WIFEXITED(st) && (d->stopping || WEXITSTATUS(st) == 0)) {
		log_notice("worker exited (status %d)", WEXITSTATUS(st));
		loop_quit(d->l, WEXITSTATUS(st) ? EXIT_ERROR : 0);
		return;
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		log_err("worker killed by the sandbox: a system call outside its allow-list; stopping");
	else if (WIFSIGNALED(st))
		log_err("worker killed by signal %d (%s); stopping", WTERMSIG(st),
			strsignal(WTERMSIG(st)));
	else
		log_err("worker exited with status %d; stopping", WEXITSTATUS(st));
	loop_quit(d->l, EXIT_ERROR);
}

static void on_request(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd *d = user;
	uint8_t buf[4096];
	size_t off = 0, used;
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		loop_del_fd(l, fd);
		mon_worker_gone(d, false);
		return;
	}
	while (off < (size_t)n) {
		struct rpc_req q;
		const char *why;
		int r = rpc_reader_feed(&d->rrd, buf + off, (size_t)n - off, &used, &q, &why);

		off += used;
		if (r < 0) {
			/* Only a subverted worker sends this: it ends here. */
			log_err("worker sent a malformed request (%s): ending it", why);
			loop_del_fd(l, fd);
			d->stopping = false;
			mon_worker_gone(d, true);
			return;
		}
		if (r == 1)
			mon_answer(d, &q);
	}
}

static void mon_on_term(struct loop *l, int signo, void *user)
{
	struct muxd *d = user;

	log_notice("signal %d: stopping", signo);
	d->stopping = true;
	if (d->child > 0) {
		kill(d->child, SIGTERM);
		loop_timer_arm(d->kill_timer, 5000000);
	} else {
		loop_quit(l, 0);
	}
}

static void kill_timer_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;

	if (d->child > 0) {
		log_warn("worker did not stop within 5 s: killing it");
		kill(d->child, SIGKILL);
	}
}

static int monitor_run(struct muxd *d)
{
	int r;

	d->l = loop_new();
	if (!d->l)
		return EXIT_ERROR;
	d->ireload = loop_timer_new(d->l, ireload_fn, d);
	d->kill_timer = loop_timer_new(d->l, kill_timer_fn, d);
	if (!d->ireload || !d->kill_timer)
		return EXIT_ERROR;
	watch_authdb(d);
	rpc_reader_init(&d->rrd);
	if (loop_add_fd(d->l, d->req_fd, EPOLLIN, on_request, d) < 0 ||
	    loop_add_signal(d->l, SIGTERM, mon_on_term, d) < 0 ||
	    loop_add_signal(d->l, SIGINT, mon_on_term, d) < 0 ||
	    loop_add_signal(d->l, SIGHUP, on_hup, d) < 0)
		return EXIT_ERROR;
	/* Either failure leaves a worker to end: it must not outlive us. */
	if (policy_push(d) < 0 ||
	    (muxd_conf_has_tunnel(&d->conf) && mon_key_load(d) < 0))
		r = -1;
	else
		r = loop_run(d->l);
	if (d->child > 0) {
		d->stopping = true;
		kill(d->child, SIGTERM);
		mon_worker_gone(d, false);
	}
	return r < 0 ? EXIT_ERROR : r;
}

/* ------------------------------------------------------------------ */
/* The worker: the mux core, the sessions, the tunnel; unprivileged */

static int worker_open_fd(const char *uri, char *err, size_t errlen, void *user)
{
	struct muxd *d = user;
	struct rpc_reply rep;
	int fd = -1, r;

	r = worker_call(d, RPC_CTRL_OPEN, 0, NULL, NULL, NULL, NULL, &rep, &fd);
	if (r < 0) {
		snprintf(err, errlen, "%s: asking the monitor: %s", uri, strerror(-r));
		return r;
	}
	if (rep.status < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s", rep.err[0] ? rep.err : strerror(-rep.status));
		return rep.status < 0 ? rep.status : -EIO;
	}
	return fd;
}

static int worker_run(struct muxd *d, struct mux_policy *pol, struct mux_ops *ops)
{
	struct mux_config mcfg;
	unsigned i;
	int r;

	sandbox_set_name("bgw-muxd[work]");
	/* What the monitor holds and the worker must not. */
	authdb_free(d->db);
	d->db = NULL;
	tunnel_stop(d);
	r = policy_receive(d, RPC_TIMEOUT_MS);
	if (r < 0) {
		log_err("worker: no policy from the monitor: %s", strerror(-r));
		return EXIT_ERROR;
	}
	d->l = loop_new();
	if (!d->l)
		return EXIT_ERROR;
	pol->ctx = d;
	ops->user = d;
	memset(&mcfg, 0, sizeof(mcfg));
	mcfg.max_sessions = d->conf.max_sessions;
	d->mux = mux_new(d->l, &mcfg, pol, ops);
	d->restart = loop_timer_new(d->l, restart_fn, d);
	d->reap = loop_timer_new(d->l, reap_fn, d);
	if (!d->mux || !d->restart || !d->reap)
		return EXIT_ERROR;
	for (i = 0; i < d->conf.nlisten; i++)
		if (loop_add_fd(d->l, d->lfd[i], EPOLLIN, accept_cb, d) < 0)
			return EXIT_ERROR;
	if (muxd_conf_has_tunnel(&d->conf) && tunnel_start(d) < 0)
		return EXIT_ERROR;
	if (loop_add_fd(d->l, d->push_fd, EPOLLIN, on_push, d) < 0 ||
	    loop_add_signal(d->l, SIGTERM, on_term, d) < 0 ||
	    loop_add_signal(d->l, SIGINT, on_term, d) < 0)
		return EXIT_ERROR;
	/* The monitor reloads; a SIGHUP sent to the whole group is its. */
	signal(SIGHUP, SIG_IGN);
	d->backoff_ms = BACKOFF_MIN_MS;
	restart_fn(d->restart, d);
	/* Everything is open: from here on, no privilege is needed. */
	if (sandbox_drop_privileges() < 0)
		return EXIT_ERROR;
	if (d->conf.sandbox) {
		if (sandbox_enter() < 0)
			return EXIT_ERROR;
	} else {
		log_warn("sandbox off (configuration): the worker runs without its seccomp filter");
	}
	log_notice("started: controller %s, %u listener%s", d->conf.controller,
		   d->conf.nlisten, d->conf.nlisten == 1 ? "" : "s");
	return loop_run(d->l) < 0 ? EXIT_ERROR : 0;
}

/*
 * bgw-muxd -t: the paths the daemon would refuse at start. A listener's
 * path must be free or a stale socket in an existing directory; the audit
 * log's directory must exist.
 */
static int test_paths(const struct muxd_conf *c)
{
	char dir[PATH_MAX];
	struct stat st;
	unsigned i;
	int ret = 0;

	for (i = 0; i < c->nlisten; i++) {
		if (lstat(c->listen[i], &st) == 0 && !S_ISSOCK(st.st_mode)) {
			log_err("listen %s: exists and is not a socket", c->listen[i]);
			ret = -EEXIST;
		}
		snprintf(dir, sizeof(dir), "%s", c->listen[i]);
		if (stat(dirname(dir), &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_err("listen %s: no directory %s", c->listen[i], dir);
			ret = -ENOENT;
		}
	}
	if (muxd_conf_has_tunnel(c)) {
		snprintf(dir, sizeof(dir), "%s", c->audit_log);
		if (stat(dirname(dir), &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_err("audit-log %s: no directory %s", c->audit_log, dir);
			ret = -ENOENT;
		}
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct muxd d;
	struct mux_policy pol = {
		pol_is_user, pol_is_admin, pol_may_access, pol_denied, NULL
	};
	struct mux_ops ops = { ctrl_send, ctrl_failed, session_dead, NULL };
	bool foreground = false, debug = false, test = false;
	int req[2] = { -1, -1 }, push[2] = { -1, -1 };
	char err[600];
	unsigned i;
	int opt, ret = EXIT_ERROR;

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "c:dfth", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			debug = true;
			foreground = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	memset(&d, 0, sizeof(d));
	d.ifd = -1;
	d.req_fd = -1;
	d.push_fd = -1;
	d.child = -1;
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		d.lfd[i] = -1;
	log_open("bgw-muxd", foreground || test ? LOG_TARGET_STDERR : LOG_TARGET_SYSLOG);
	if (muxd_conf_load(conf_path, &d.conf, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	log_set_level(debug ? LOG_DEBUG : d.conf.log_level);
	if (load_authdb(&d) < 0) {
		ret = EXIT_AUTHDB;
		goto out;
	}
	if (test) {
		/* What the daemon would refuse at start, short of binding. */
		if (test_paths(&d.conf) < 0)
			goto out;
		if (muxd_conf_has_tunnel(&d.conf)) {
			int r;

			if (tunnel_check_files(&d.conf) < 0)
				goto out;
			r = authdb_secret_load(d.conf.scram_secret, d.secret, sizeof(d.secret));
			explicit_bzero(d.secret, sizeof(d.secret));
			if (r < 0) {
				log_err("tunnel: scram-secret %s: %s", d.conf.scram_secret,
					strerror(-r));
				goto out;
			}
		}
		printf("%s: configuration OK (controller %s, %u listener%s, authdb %s%s%s%s%s)\n",
		       conf_path, d.conf.controller, d.conf.nlisten,
		       d.conf.nlisten == 1 ? "" : "s", d.conf.authdb,
		       d.conf.dtls_port[0] ? ", DTLS port " : "", d.conf.dtls_port,
		       d.conf.tls_port[0] ? ", TLS port " : "", d.conf.tls_port);
		ret = 0;
		goto out;
	}
	if (!foreground && daemon(0, 0) < 0) {
		log_err("daemon: %s", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	/* The monitor opens what needs privileges before the worker exists. */
	for (i = 0; i < d.conf.nlisten; i++) {
		d.lfd[i] = listen_unix(d.conf.listen[i], d.conf.socket_mode);
		if (d.lfd[i] < 0)
			goto out;
	}
	if (muxd_conf_has_tunnel(&d.conf) && tunnel_prepare(&d) < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, push) < 0) {
		log_err("socketpair: %s", strerror(errno));
		goto out;
	}
	d.child = fork();
	if (d.child < 0) {
		log_err("fork: %s", strerror(errno));
		goto out;
	}
	if (d.child == 0) {
		d.worker = true;
		close(req[0]);
		close(push[0]);
		d.req_fd = req[1];
		d.push_fd = push[1];
		ret = worker_run(&d, &pol, &ops);
		goto out;
	}
	close(req[1]);
	close(push[1]);
	d.req_fd = req[0];
	d.push_fd = push[0];
	/* The worker has the listeners; the monitor keeps only their names. */
	for (i = 0; i < d.conf.nlisten; i++) {
		close(d.lfd[i]);
		d.lfd[i] = -1;
	}
	log_info("worker is process %d", (int)d.child);
	ret = monitor_run(&d);
	for (i = 0; i < d.conf.nlisten; i++)
		unlink(d.conf.listen[i]);
out:
	tunnel_stop(&d);
	while (d.clients)
		client_free(d.clients);
	if (d.l)
		loop_iterate(d.l, 0);	/* the tunnel's closed channels */
	mux_free(d.mux);
	mux_transport_close(d.tr);
	for (i = 0; i < MUXD_LISTEN_MAX; i++) {
		if (d.lfd[i] < 0)
			continue;
		if (d.l)
			loop_del_fd(d.l, d.lfd[i]);
		close(d.lfd[i]);
		if (!d.worker && d.child < 0)
			unlink(d.conf.listen[i]);
	}
	loop_timer_free(d.restart);
	loop_timer_free(d.reap);
	loop_timer_free(d.ireload);
	loop_timer_free(d.kill_timer);
	if (d.ifd >= 0) {
		loop_del_fd(d.l, d.ifd);
		close(d.ifd);
	}
	if (d.req_fd >= 0)
		close(d.req_fd);
	if (d.push_fd >= 0)
		close(d.push_fd);
	loop_free(d.l);
	authdb_free(d.db);
	log_close();
	/*
	 * A sandboxed worker leaves without atexit handlers: LeakSanitizer's
	 * exit check traces a clone of the process, which the filter (rightly)
	 * kills, and the check would then wait forever. The worker's leaks
	 * are checked with `sandbox no` (tests/t-muxd-privsep.sh).
	 */
	if (d.worker && d.conf.sandbox)
		_exit(ret);
	return ret;
}
