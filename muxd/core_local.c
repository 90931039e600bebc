/* SPDX-License-Identifier: MIT */
/*
 * The core's local sessions (muxd/core.h): H4 over the Unix listener,
 * one session per connection, the peer's uid mapped to an authdb user.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "hci.h"
#include "log.h"

bool core_is_user(const struct muxd_core *c, const char *user)
{
	return c->db && authdb_user_is_enabled(c->db, user);
}


static void client_free(struct client *cl)
{
	struct muxd_core *c = cl->c;
	struct client **pp;

	for (pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			c->nclients--;
			break;
		}
	}
	mux_session_free(cl->s);
	if (cl->fd >= 0) {
		loop_del_fd(c->d.l, cl->fd);
		close(cl->fd);
	}
	h4_reader_free(cl->rd);
	pktq_clear(&cl->outq);
	free(cl);
}

static void reap_fn(struct loop_timer *t, void *user)
{
	struct muxd_core *c = user;
	struct client *cl, *next;

	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		if (cl->closing)
			client_free(cl);
	}
}

void client_close_later(struct client *cl)
{
	cl->closing = true;
	loop_timer_arm(cl->c->reap, 0);
}

static void client_flush(struct client *cl)
{
	if (pktq_write(&cl->outq, cl->fd, &cl->out_off, CLIENT_QUEUE_PKTS, PKTQ_W_SEND)) {
		client_close_later(cl);
		return;
	}
	loop_mod_fd(cl->c->d.l, cl->fd, pktq_is_empty(&cl->outq) ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

/* mux emit: queue for the client; -ENOBUFS when its queue is full. */
/* Into a session's outbound queue; reports give way first (mux.h, backpressure). */
int core_queue_push(struct pktq *q, const uint8_t *h4, size_t len)
{
	return h4_is_discovery_report(h4, len) ? pktq_push_soft(q, h4, len) :
						 pktq_push(q, h4, len);
}

static int client_emit(const uint8_t *h4, size_t len, void *user)
{
	struct client *cl = user;
	int r;

	if (cl->closing)
		return -EPIPE;
	r = core_queue_push(&cl->outq, h4, len);
	if (r < 0)
		return r;
	if (cl->outq.count == 1)
		loop_mod_fd(cl->c->d.l, cl->fd, EPOLLIN | EPOLLOUT);
	return 0;
}

static int client_pkt(const struct h4_pkt *pkt, void *user)
{
	struct client *cl = user;
	int r = mux_session_input(cl->s, pkt->raw, pkt->raw_len);

	return r == -EPIPE ? r : 0;
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct client *cl = user;
	uint8_t buf[16384];
	ssize_t n;
	int r;

	if (cl->closing)
		return;
	if (events & EPOLLOUT)
		client_flush(cl);
	if (cl->closing || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close_later(cl);
		return;
	}
	r = h4_reader_feed(cl->rd, buf, (size_t)n, client_pkt, cl);
	if (r < 0) {
		if (r != -EPIPE)
			log_warn("session %u (%s): H4 framing error (%s), closing",
				 mux_session_id(cl->s), mux_session_user(cl->s), h4_strerror(r));
		client_close_later(cl);
	}
}

/* The local user: an explicit uid-map line, else the account name. */
static int uid_user(const struct muxd_core *c, uid_t uid, char *out, size_t cap)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	unsigned i;

	for (i = 0; i < c->d.conf.nuidmap; i++) {
		if (c->d.conf.uidmap[i].uid == uid) {
			snprintf(out, cap, "%s", c->d.conf.uidmap[i].user);
			return 0;
		}
	}
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res ||
	    strlen(res->pw_name) >= cap)
		return -ENOENT;
	snprintf(out, cap, "%s", res->pw_name);
	return 0;
}

/*
 * max-sessions-per-user: one family member's devices cannot take every
 * virtual controller (max-sessions) from the others.
 */
bool core_user_at_cap(const struct muxd_core *c, const char *name)
{
	unsigned n = 0;
	struct client *cl;
	struct rsess *r;

	if (!c->d.conf.max_sessions_user)
		return false;
	for (cl = c->clients; cl; cl = cl->next)
		if (!cl->closing && cl->s && strcmp(mux_session_user(cl->s), name) == 0)
			n++;
	for (r = c->rsessions; r; r = r->next)
		if (r->s && strcmp(mux_session_user(r->s), name) == 0)
			n++;
	return n >= c->d.conf.max_sessions_user;
}

static void core_accept(struct loop *l, int lfd, uint32_t events, void *user)
{
	struct muxd_core *c = user;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char name[MUX_USER_MAX + 1];
	struct client *cl;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		close(fd);
		return;
	}
	/* Unknown uid and refused user take the same path and the same words. */
	if (uid_user(c, cred.uid, name, sizeof(name)) < 0 ||
	    !core_is_user(c, name)) {
		log_notice("local connection from uid %u refused: not an enabled authdb user",
			   (unsigned)cred.uid);
		close(fd);
		return;
	}
	if (core_user_at_cap(c, name)) {
		log_notice("local connection from uid %u (%s) refused: max-sessions-per-user %u reached",
			   (unsigned)cred.uid, name, c->d.conf.max_sessions_user);
		close(fd);
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->kind = SESS_LOCAL;
	cl->c = c;
	cl->fd = fd;
	cl->uid = cred.uid;
	pktq_init(&cl->outq, CLIENT_QUEUE_PKTS, (size_t)c->d.conf.queue_kib * 1024);
	cl->rd = h4_reader_new(H4_MAX_PKT);
	cl->s = cl->rd ? mux_session_new(c->mux, name, client_emit, cl) : NULL;
	if (!cl->s || loop_add_fd(l, fd, EPOLLIN, client_cb, cl) < 0) {
		log_warn("local connection from uid %u (%s) refused: no session available",
			 (unsigned)cred.uid, name);
		mux_session_free(cl->s);
		h4_reader_free(cl->rd);
		close(fd);
		free(cl);
		return;
	}
	cl->next = c->clients;
	c->clients = cl;
	c->nclients++;
	log_info("local session %u for uid %u (%s)", mux_session_id(cl->s),
		 (unsigned)cred.uid, name);
}

int core_local_start(struct muxd_core *c)
{
	unsigned i;

	c->reap = loop_timer_new(c->d.l, reap_fn, c);
	if (!c->reap)
		return -ENOMEM;
	for (i = 0; i < c->d.conf.nlisten; i++)
		if (loop_add_fd(c->d.l, c->lfd[i], EPOLLIN, core_accept, c) < 0)
			return -ENOMEM;
	return 0;
}

void core_local_cleanup(struct muxd_core *c)
{
	while (c->clients)
		client_free(c->clients);
	loop_timer_free(c->reap);
	c->reap = NULL;
}
