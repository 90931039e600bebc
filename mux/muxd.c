/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd: owns one physical controller and gives every session a virtual
 * controller of its own (mux/mux.h). This file is the daemon around the
 * core: the configuration, the controller transport with reopen and
 * backoff, the authdb as policy (reloaded on SIGHUP), and the local
 * listener (H4 over a Unix socket, one session per connection, the peer's
 * uid mapped to an authdb user).
 *
 * Remote sessions (the DTLS tunnel, tunnel/) plug in the same way as a
 * local client: authenticate, then mux_session_new(mux, user, emit, ctx),
 * mux_session_input() per H4 packet, mux_session_free() when it ends.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "authdb.h"
#include "conf.h"
#include "hci.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "pktq.h"
#include "transport.h"

#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_AUTHDB	3

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
#define CLIENT_QUEUE_PKTS 4096

struct muxd;

struct client {
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

static int load_authdb(struct muxd *d)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	int r;

	r = authdb_load(d->conf.authdb, 0, &db, err, sizeof(err));
	if (r < 0) {
		log_err("authdb %s refused: %s", d->conf.authdb, err);
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

/* Close what is left of the transport, then reopen it with backoff. */
static void restart_fn(struct loop_timer *t, void *user)
{
	struct muxd *d = user;
	struct mux_transport_ops ops = { tr_rx, tr_error, d, d->conf.sim_time_scale };
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
static int client_emit(const uint8_t *h4, size_t len, void *user)
{
	struct client *c = user;
	int r;

	if (c->closing)
		return -EPIPE;
	r = pktq_push(&c->outq, h4, len);
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
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
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

static void session_dead(struct mux_session *s, void *sess_user, void *user)
{
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

static void on_term(struct loop *l, int signo, void *user)
{
	log_notice("signal %d: stopping", signo);
	loop_quit(l, 0);
}

static void on_hup(struct loop *l, int signo, void *user)
{
	struct muxd *d = user;

	log_notice("SIGHUP: reloading %s", d->conf.authdb);
	if (load_authdb(d) == 0)
		mux_policy_changed(d->mux);
}

int main(int argc, char **argv)
{
	struct muxd d;
	struct mux_config mcfg;
	struct mux_policy pol = { pol_is_user, pol_is_admin, pol_may_access, NULL };
	struct mux_ops ops = { ctrl_send, ctrl_failed, session_dead, NULL };
	bool foreground = false, debug = false, test = false;
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
		printf("%s: configuration OK (controller %s, %u listener%s, authdb %s)\n",
		       conf_path, d.conf.controller, d.conf.nlisten,
		       d.conf.nlisten == 1 ? "" : "s", d.conf.authdb);
		ret = 0;
		goto out;
	}
	if (!foreground && daemon(0, 0) < 0) {
		log_err("daemon: %s", strerror(errno));
		goto out;
	}

	d.l = loop_new();
	if (!d.l)
		goto out;
	pol.ctx = &d;
	ops.user = &d;
	memset(&mcfg, 0, sizeof(mcfg));
	mcfg.max_sessions = d.conf.max_sessions;
	d.mux = mux_new(d.l, &mcfg, &pol, &ops);
	d.restart = loop_timer_new(d.l, restart_fn, &d);
	d.reap = loop_timer_new(d.l, reap_fn, &d);
	if (!d.mux || !d.restart || !d.reap)
		goto out;
	for (i = 0; i < d.conf.nlisten; i++) {
		d.lfd[i] = listen_unix(d.conf.listen[i], d.conf.socket_mode);
		if (d.lfd[i] < 0 || loop_add_fd(d.l, d.lfd[i], EPOLLIN, accept_cb, &d) < 0)
			goto out;
	}
	if (loop_add_signal(d.l, SIGTERM, on_term, &d) < 0 ||
	    loop_add_signal(d.l, SIGINT, on_term, &d) < 0 ||
	    loop_add_signal(d.l, SIGHUP, on_hup, &d) < 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	d.backoff_ms = BACKOFF_MIN_MS;
	restart_fn(d.restart, &d);
	log_notice("started: controller %s, %u listener%s", d.conf.controller,
		   d.conf.nlisten, d.conf.nlisten == 1 ? "" : "s");
	ret = loop_run(d.l) < 0 ? EXIT_ERROR : 0;
out:
	while (d.clients)
		client_free(d.clients);
	mux_free(d.mux);
	mux_transport_close(d.tr);
	for (i = 0; i < MUXD_LISTEN_MAX; i++) {
		if (d.lfd[i] < 0)
			continue;
		loop_del_fd(d.l, d.lfd[i]);
		close(d.lfd[i]);
		unlink(d.conf.listen[i]);
	}
	loop_timer_free(d.restart);
	loop_timer_free(d.reap);
	loop_free(d.l);
	authdb_free(d.db);
	log_close();
	return ret;
}
