/* SPDX-License-Identifier: MIT */
/*
 * The per-peer hand-over of bgw-muxd's network front (tunnel/front.h) and
 * the server channel a peer process runs on it (tun_chan_new_peer), on
 * real loopback sockets with real GnuTLS handshakes (the test PKI of
 * tests/tunnel_certs.sh). The spawn hook runs the peer's side in this
 * process, on the handed fd, instead of forking. Waits are bounded by a
 * wall-clock cap only so a bug cannot hang the suite.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "chan.h"
#include "front.h"
#include "log.h"
#include "loop.h"
#include "tunnel_pki.h"

/* ---- both ends of a channel: the server echoes every HCI message ---- */

#define NSRV 12

struct side {
	struct tun_chan *ch;
	pid_t pid;		/* server: the fake pid the front knows it by */
	int up, down, down_reason, rx;
	uint32_t next;		/* client: next echo expected */
};

#define NCLI 12

static struct {
	struct loop *l;
	struct tun_creds *scr, *ccr;
	struct side cli;
	struct side cl[NCLI];	/* more clients at once */
	struct side srv[NSRV];
	int nsrv;
	struct tun_front *front;
	int spawns, spawn_err, stops;
	uint64_t spawn_us[NSRV];	/* when each spawn was asked for */
	pid_t stopped;
	int refusals;
	unsigned front_hs_ms;	/* 0: a minute */
	int reserve_asks;	/* spawns for a reserved slot */
	bool known;		/* ... admitted (the source logged in before) */
	bool login_hook;	/* front_start sets the logged_in hook */
	int login_asks, login_err;
	unsigned login_asked;	/* pids in the last question */
	bool logged[NSRV + 1];	/* by spawn number (pid - 1000) */
} T;

static void srv_up(void *user, struct tun_chan *ch)
{
	((struct side *)user)->up++;
}

static void srv_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct side *s = user;

	s->rx++;
	if (m->type == TUN_MSG_HCI)
		ck_assert_int_eq(tun_chan_send(ch, m), 0);
}

static void side_down(void *user, struct tun_chan *ch, int reason)
{
	struct side *s = user;

	s->down++;
	s->down_reason = reason;
	s->ch = NULL;
	/* A peer process ends with its channel: the owner reaps it. */
	if (T.front && s->pid > 0)
		tun_front_peer_gone(T.front, s->pid);
}

static const struct tun_chan_ops srv_ops = {
	.up = srv_up, .msg = srv_msg, .down = side_down,
};

static void cli_up(void *user, struct tun_chan *ch)
{
	((struct side *)user)->up++;
}

static void cli_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct side *s = user;

	ck_assert_int_eq(m->type, TUN_MSG_HCI);
	/* Every echo, in order (loopback loses nothing at this rate). */
	ck_assert_uint_eq(m->hci.seq, s->next);
	s->next++;
	s->rx++;
}

static const struct tun_chan_ops cli_ops = {
	.up = cli_up, .msg = cli_msg, .down = side_down,
};

#define RUN_UNTIL(cond, ms)						\
	do {								\
		uint64_t _end = loop_now_us() + (uint64_t)(ms) * 1000;	\
		while (!(cond) && loop_now_us() < _end)			\
			loop_iterate(T.l, 10);				\
		ck_assert_msg((cond), "timed out waiting for " #cond);	\
	} while (0)

static void env_setup(void)
{
	memset(&T, 0, sizeof(T));
	T.l = loop_new();
	ck_assert_ptr_nonnull(T.l);
	ck_assert_int_eq(tun_creds_new(&T.scr, true, tpki_path("ca.crt"),
				       tpki_path("server.crt"), tpki_path("server.key")), 0);
	ck_assert_int_eq(tun_creds_new(&T.ccr, false, tpki_path("ca.crt"),
				       tpki_path("alice.crt"), tpki_path("alice.key")), 0);
}

static void env_teardown(void)
{
	int i;

	tun_chan_destroy(T.cli.ch);
	for (i = 0; i < NCLI; i++)
		tun_chan_destroy(T.cl[i].ch);
	tun_front_free(T.front);
	T.front = NULL;
	for (i = 0; i < NSRV; i++)
		tun_chan_destroy(T.srv[i].ch);
	/* Channels closing from the loop finish there. */
	for (i = 0; i < 5; i++)
		loop_iterate(T.l, 0);
	tun_creds_free(T.scr);
	tun_creds_free(T.ccr);
	loop_free(T.l);
}

/* The server side of a handed-over peer, as a peer process runs it. */
static int serve_peer(struct tun_front_peer *p)
{
	struct side *s;

	ck_assert_int_lt(T.nsrv, NSRV);
	s = &T.srv[T.nsrv++];
	return tun_chan_new_peer(&s->ch, T.l, T.scr, p, 10000, &srv_ops, s);
}

static void client_start(const char *port, bool dgram)
{
	struct tun_listen_cfg cc = {
		.l = T.l, .creds = T.ccr, .host = "127.0.0.1", .port = port,
		.handshake_ms = 10000, .ops = &cli_ops, .user = &T.cli,
	};

	memset(&T.cli, 0, sizeof(T.cli));
	if (dgram)
		ck_assert_int_eq(tun_dtls_connect(&T.cli.ch, &cc), 0);
	else
		ck_assert_int_eq(tun_tls_connect(&T.cli.ch, &cc), 0);
}

/*
 * A DTLS client from a chosen local address and port (0: any) to
 * 127.0.0.1, so a test can restart a client on the same port or come
 * from another host of 127/8.
 */
static uint16_t client_dtls_at(struct side *c, const char *src, uint16_t srv_port,
			       uint16_t from)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in s = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
	a.sin_port = htons(from);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.sin_port = htons(srv_port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(tun_chan_new(&c->ch, T.l, T.ccr, TUN_CHAN_DGRAM_CLI, fd,
				      10000, &cli_ops, c), 0);
	memcpy(&c->ch->addr, &s, sizeof(s));
	c->ch->alen = sizeof(s);
	ck_assert_int_eq(tun_chan_start(c->ch), 0);
	return ntohs(a.sin_port);
}

static uint16_t client_dtls_from(uint16_t srv_port, uint16_t from)
{
	return client_dtls_at(&T.cli, "127.0.0.1", srv_port, from);
}

/* n HCI messages from client c, all echoed back. */
static void ping_from(struct side *c, int n)
{
	uint8_t data[100];
	struct tun_msg m;
	uint32_t first = c->next;
	int i;

	memset(data, 0x5a, sizeof(data));
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		m.version = TUN_VERSION_MIN;
		m.type = TUN_MSG_HCI;
		m.hci.seq = first + (uint32_t)i;
		m.hci.len = sizeof(data);
		m.hci.data = data;
		ck_assert_int_eq(tun_chan_send(c->ch, &m), 0);
		/* One at a time: no loss from a full socket buffer. */
		RUN_UNTIL(c->next == first + (uint32_t)i + 1, 5000);
	}
}

static void ping(int n)
{
	ping_from(&T.cli, n);
}

/* ---- tun_chan_new_peer with a minimal hand-over of the test's own ---- */

static uint16_t addr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

struct mini {
	int fd;
	bool dgram;
	struct tun_cookie ck;
	int hellos;		/* datagrams the listener saw */
	int handed;
};

static int peer_socket(int lfd, const struct sockaddr_storage *to, socklen_t tolen)
{
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	int fd, one = 1;

	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&me, &melen), 0);
	fd = socket(me.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, melen), 0);
	ck_assert_int_eq(connect(fd, (const struct sockaddr *)to, tolen), 0);
	return fd;
}

static void mini_cb(struct loop *l, int fd, uint32_t ev, void *user)
{
	struct mini *m = user;
	struct tun_front_peer *p;

	p = calloc(1, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	p->alen = sizeof(p->addr);
	if (!m->dgram) {
		p->fd = accept4(fd, (struct sockaddr *)&p->addr, &p->alen,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->fd >= 0) {
			m->handed++;
			ck_assert_int_eq(serve_peer(p), 0);
			ck_assert_int_eq(p->fd, -1);
		}
		free(p);
		return;
	}
	ssize_t n = recvfrom(fd, p->first, sizeof(p->first), MSG_DONTWAIT,
			     (struct sockaddr *)&p->addr, &p->alen);
	if (n > 0) {
		m->hellos++;
		p->first_len = (size_t)n;
		if (tun_cookie_valid(&m->ck, &p->addr, p->alen, p->first, p->first_len,
				     &p->pre)) {
			p->dgram = true;
			p->fd = peer_socket(fd, &p->addr, p->alen);
			m->handed++;
			ck_assert_int_eq(serve_peer(p), 0);
			ck_assert_int_eq(p->fd, -1);
		} else if (tun_dtls_is_client_hello(p->first, p->first_len)) {
			tun_cookie_send(&m->ck, fd, &p->addr, p->alen, p->alen, NULL, 0, &p->pre);
		}
	}
	free(p);
}

static void mini_start(struct mini *m, const char *host, bool dgram)
{
	memset(m, 0, sizeof(*m));
	m->dgram = dgram;
	m->fd = tun_sock_bind(host, "0", dgram ? SOCK_DGRAM : SOCK_STREAM);
	ck_assert_int_ge(m->fd, 0);
	ck_assert_int_eq(tun_cookie_init(&m->ck, T.l), 0);
	ck_assert_int_eq(loop_add_fd(T.l, m->fd, EPOLLIN, mini_cb, m), 0);
}

static void mini_stop(struct mini *m)
{
	loop_del_fd(T.l, m->fd);
	close(m->fd);
	tun_cookie_free(&m->ck);
}

static const char *const hosts[] = { "127.0.0.1", "::" };

/*
 * The hello with the cookie is the listener's last datagram from that
 * client: the kernel delivers the rest to the connected socket, for an
 * IPv4 listener and for the IPv6 wildcard one with an IPv4 client.
 */
START_TEST(peer_chan_dgram)
{
	struct mini m;
	char port[8];

	env_setup();
	mini_start(&m, hosts[_i], true);
	snprintf(port, sizeof(port), "%u", tun_sock_port(m.fd));
	client_start(port, true);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	ck_assert_int_eq(m.handed, 1);
	ck_assert_int_eq(m.hellos, 2);	/* without and with the cookie */
	ck_assert_int_eq(T.srv[0].ch->kind, TUN_CHAN_DGRAM_PEER);
	/* The peer's address is the client's socket. */
	ck_assert_uint_eq(addr_port(&T.srv[0].ch->addr), tun_sock_port(T.cli.ch->fd));
	ping(50);
	ck_assert_int_eq(T.srv[0].rx, 50);
	ck_assert_int_eq(m.hellos, 2);
	ck_assert_int_eq(m.handed, 1);
	/* The server's close_notify reaches the client over the peer socket. */
	tun_chan_close(T.srv[0].ch);
	T.srv[0].ch = NULL;
	RUN_UNTIL(T.cli.down, 5000);
	ck_assert_int_eq(T.cli.down_reason, TUN_R_SHUTDOWN);
	mini_stop(&m);
	env_teardown();
}
END_TEST

START_TEST(peer_chan_stream)
{
	struct mini m;
	char port[8];

	env_setup();
	mini_start(&m, hosts[_i], false);
	snprintf(port, sizeof(port), "%u", tun_sock_port(m.fd));
	client_start(port, false);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	ck_assert_int_eq(m.handed, 1);
	ck_assert_int_eq(T.srv[0].ch->kind, TUN_CHAN_STREAM);
	ck_assert(T.srv[0].ch->server);
	ping(50);
	ck_assert_int_eq(T.srv[0].rx, 50);
	mini_stop(&m);
	env_teardown();
}
END_TEST

/* A forged ClientHello (no valid cookie) from the client's own port. */
static void send_forged_hello(uint16_t from, uint16_t to)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint8_t hello[200];
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(from);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = htons(to);
	memset(hello, 0, sizeof(hello));
	hello[0] = 22;
	hello[1] = 0xfe;
	hello[2] = 0xfd;
	hello[12] = sizeof(hello) - 13;
	hello[13] = 1;
	hello[30] = 0x77;		/* a random of its own */
	ck_assert_int_eq(sendto(fd, hello, sizeof(hello), 0, (struct sockaddr *)&a,
				sizeof(a)), (ssize_t)sizeof(hello));
	close(fd);
}

/*
 * A client restarted on the same port: its new hello reaches the old
 * peer's socket, which ends that channel only once the hello comes back
 * with a cookie (a forged one ends nothing); the client's next hello then
 * reaches the listener and a new peer serves it.
 */
START_TEST(peer_chan_client_restart)
{
	struct mini m;
	uint16_t sport, cport;
	int i;

	env_setup();
	mini_start(&m, "127.0.0.1", true);
	sport = tun_sock_port(m.fd);
	cport = client_dtls_from(sport, 0);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	ping(5);

	send_forged_hello(cport, sport);
	for (i = 0; i < 20; i++)
		loop_iterate(T.l, 5);
	ck_assert_int_eq(T.srv[0].down, 0);
	ping(5);
	ck_assert_int_eq(m.handed, 1);

	/* The old client vanishes without a word; a new one, same port. */
	tun_chan_drop(T.cli.ch);
	T.cli.ch = NULL;
	for (i = 0; i < 3; i++)
		loop_iterate(T.l, 0);
	ck_assert_uint_eq(client_dtls_from(sport, cport), cport);
	RUN_UNTIL(T.srv[0].down, 10000);
	ck_assert_int_eq(T.srv[0].down_reason, TUN_R_PEER_DEAD);
	RUN_UNTIL(T.cli.up && T.srv[1].up, 10000);
	ck_assert_int_eq(m.handed, 2);
	ping(5);
	ck_assert_int_eq(T.srv[1].rx, 5);
	mini_stop(&m);
	env_teardown();
}
END_TEST

/* A hand-over that cannot be served: refused, and the fd is closed. */
START_TEST(peer_chan_bad_handover)
{
	struct tun_front_peer *p = calloc(1, sizeof(*p));
	struct tun_chan *ch = (void *)1;
	int sv[2];

	env_setup();
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	/* DTLS without its ClientHello: refused, fd closed. */
	p->fd = sv[0];
	p->dgram = true;
	p->alen = sizeof(struct sockaddr_in);
	ck_assert_int_eq(tun_chan_new_peer(&ch, T.l, T.scr, p, 1000, &srv_ops, NULL),
			 -EINVAL);
	ck_assert_ptr_null(ch);
	ck_assert_int_eq(p->fd, -1);
	ck_assert_int_eq(close(sv[0]), -1);
	/* No fd. */
	ck_assert_int_eq(tun_chan_new_peer(&ch, T.l, T.scr, p, 1000, &srv_ops, NULL),
			 -EBADF);
	/* A client's credentials cannot serve. */
	p->fd = sv[1];
	p->dgram = false;
	ck_assert_int_eq(tun_chan_new_peer(&ch, T.l, T.ccr, p, 1000, &srv_ops, NULL),
			 -EINVAL);
	ck_assert_int_eq(close(sv[1]), -1);
	free(p);
	env_teardown();
}
END_TEST

/* ---- tun_front ---- */

/*
 * The spawn hook: the peer's side in this process. A fork would leave
 * the child its own copy of the fd; dup() stands in for that, as the
 * front closes its copy after the call.
 */
static pid_t fake_spawn(void *user, const struct tun_front_peer *p)
{
	struct tun_front_peer *q;
	struct side *s;

	/* The owner admits a reserved slot only for a known source. */
	if (p->reserve) {
		T.reserve_asks++;
		if (!T.known)
			return -EACCES;
	}
	if (T.spawns < NSRV)
		T.spawn_us[T.spawns] = loop_now_us();
	T.spawns++;
	ck_assert_int_ge(p->fd, 0);
	if (p->dgram) {
		ck_assert_uint_gt(p->first_len, 0);
		ck_assert(tun_dtls_is_client_hello(p->first, p->first_len));
	}
	if (T.spawn_err)
		return T.spawn_err;
	q = malloc(sizeof(*q));
	ck_assert_ptr_nonnull(q);
	memcpy(q, p, sizeof(*q));
	q->fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(q->fd, 0);
	s = &T.srv[T.nsrv];
	ck_assert_int_eq(serve_peer(q), 0);
	free(q);
	s->pid = 1000 + T.spawns;
	return s->pid;
}

/* Records the request; the test reaps (tun_front_peer_gone) later. */
static void fake_stop(void *user, pid_t pid)
{
	T.stops++;
	T.stopped = pid;
}

/* The owner's answer: the peers the test says have logged in. */
static int fake_logged_in(void *user, const pid_t *pids, unsigned n, bool *in)
{
	unsigned i;

	T.login_asks++;
	T.login_asked = n;
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, 64);
	for (i = 0; i < n; i++) {
		ck_assert_int_gt(pids[i], 1000);
		ck_assert_int_le(pids[i], 1000 + NSRV);
		ck_assert(!in[i]);
		/* Errors first: the front must not use what it was told then. */
		in[i] = T.logged[pids[i] - 1000];
	}
	return T.login_err;
}

static void front_start(const char *host, bool dgram, unsigned max_peers,
			unsigned max_pending)
{
	struct tun_front_cfg fc = {
		.host = host,
		.udp_port = dgram ? "0" : NULL,
		.tcp_port = dgram ? NULL : "0",
		.max_peers = max_peers,
		.max_pending = max_pending,
		.handshake_ms = T.front_hs_ms ? T.front_hs_ms : 60000,
		.spawn = fake_spawn,
		.stop = fake_stop,
		.logged_in = T.login_hook ? fake_logged_in : NULL,
	};

	ck_assert_int_eq(tun_front_new(&T.front, T.l, &fc), 0);
}

static const char *front_port(bool dgram)
{
	static char port[8];

	snprintf(port, sizeof(port), "%u", dgram ? tun_front_udp_port(T.front) :
		 tun_front_tcp_port(T.front));
	return port;
}

static const struct {
	const char *listen, *client;
} pairs[] = {
	{ "127.0.0.1", "127.0.0.1" },
	{ "0.0.0.0", "127.0.0.1" },
	{ NULL, "127.0.0.1" },		/* "::", an IPv4 client */
	{ "::", "::1" },
	/* A second local address: replies must leave from it. */
	{ "0.0.0.0", "127.0.0.2" },
	{ NULL, "127.0.0.2" },
};

static bool is_unspecified(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

/*
 * Through the front and a hand-over, both ways; after it the listener
 * reads nothing more from that client (the kernel gives its datagrams to
 * the connected socket), and the peer's socket is bound to the address
 * the client sent to, not the wildcard.
 */
START_TEST(front_dtls)
{
	struct tun_listen_cfg cc = {
		.host = pairs[_i].client, .handshake_ms = 10000, .ops = &cli_ops,
	};
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	unsigned long seen;

	env_setup();
	front_start(pairs[_i].listen, true, 0, 0);
	cc.l = T.l;
	cc.creds = T.ccr;
	cc.port = front_port(true);
	cc.user = &T.cli;
	ck_assert_int_eq(tun_dtls_connect(&T.cli.ch, &cc), 0);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	ck_assert_int_eq(T.spawns, 1);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 1);
	seen = tun_front_dgram_count(T.front);
	ck_assert_uint_ge(seen, 2);	/* the hello without and with the cookie */
	ck_assert_uint_eq(addr_port(&T.srv[0].ch->addr), tun_sock_port(T.cli.ch->fd));
	ck_assert_int_eq(getsockname(T.srv[0].ch->fd, (struct sockaddr *)&me, &melen), 0);
	ck_assert(!is_unspecified(&me));
	ck_assert_uint_eq(addr_port(&me), tun_front_udp_port(T.front));
	if (strcmp(pairs[_i].client, "127.0.0.2") == 0) {
		const uint8_t *b = me.ss_family == AF_INET ?
			(const uint8_t *)&((struct sockaddr_in *)&me)->sin_addr :
			(const uint8_t *)&((struct sockaddr_in6 *)&me)->sin6_addr + 12;

		ck_assert_int_eq(b[3], 2);
	}
	ping(50);
	ck_assert_int_eq(T.srv[0].rx, 50);
	ck_assert_uint_eq(tun_front_dgram_count(T.front), seen);
	/* The peer ends: its slot is free. */
	tun_chan_abort(T.srv[0].ch, TUN_R_SHUTDOWN);
	RUN_UNTIL(T.srv[0].down, 1000);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 0);
	env_teardown();
}
END_TEST

START_TEST(front_tls)
{
	struct tun_listen_cfg cc = {
		.host = pairs[_i].client, .handshake_ms = 10000, .ops = &cli_ops,
	};

	env_setup();
	front_start(pairs[_i].listen, false, 0, 0);
	cc.l = T.l;
	cc.creds = T.ccr;
	cc.port = front_port(false);
	cc.user = &T.cli;
	ck_assert_int_eq(tun_tls_connect(&T.cli.ch, &cc), 0);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	ck_assert_int_eq(T.spawns, 1);
	ck_assert_int_eq(T.srv[0].ch->kind, TUN_CHAN_STREAM);
	ck_assert_uint_eq(addr_port(&T.srv[0].ch->addr), tun_sock_port(T.cli.ch->fd));
	ping(50);
	ck_assert_int_eq(T.srv[0].rx, 50);
	env_teardown();
}
END_TEST

/* ClientHellos without a valid cookie: a small answer each, no peer. */
START_TEST(front_no_cookie_no_peer)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint8_t hello[200], reply[512];
	int fd, i, replies = 0;

	env_setup();
	front_start("127.0.0.1", true, 0, 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(tun_front_udp_port(T.front));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	memset(hello, 0, sizeof(hello));
	hello[0] = 22;
	hello[1] = 0xfe;
	hello[2] = 0xfd;
	hello[12] = sizeof(hello) - 13;
	hello[13] = 1;
	hello[13 + 12 + 2 + 32] = 0;		/* no session id */
	hello[13 + 12 + 2 + 32 + 1] = 16;	/* a forged cookie */
	for (i = 0; i < 50; i++) {
		hello[80] = (uint8_t)i;
		ck_assert_int_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
		loop_iterate(T.l, 0);
	}
	/* Not a hello: no answer at all; an oversized datagram: unread. */
	memset(hello, 0x17, sizeof(hello));
	ck_assert_int_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
	{
		static uint8_t big[TUN_FRONT_DGRAM_MAX + 100];

		memset(big, 0, sizeof(big));
		big[0] = 22;
		big[1] = 0xfe;
		big[13] = 1;
		ck_assert_int_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	}
	for (i = 0; i < 10; i++)
		loop_iterate(T.l, 1);
	for (i = 0; i < 200; i++) {
		ssize_t n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);

		if (n < 0)
			break;
		ck_assert_int_eq(reply[0], 22);
		ck_assert_int_eq(reply[13], 3);		/* HelloVerifyRequest */
		ck_assert_int_lt(n, 200);
		replies++;
	}
	ck_assert_int_eq(replies, 50);
	ck_assert_uint_eq(tun_front_dgram_count(T.front), 52);
	ck_assert_int_eq(T.spawns, 0);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 0);
	close(fd);
	env_teardown();
}
END_TEST

/*
 * max_pending: the third login at once is refused before spawn (the
 * client keeps trying), and gets in when a peer's slot is freed.
 */
START_TEST(front_cap_pending)
{
	uint16_t port;
	int i;

	env_setup();
	front_start("127.0.0.1", true, 0, 2);
	port = tun_front_udp_port(T.front);
	for (i = 0; i < 2; i++) {
		client_dtls_at(&T.cl[i], "127.0.0.1", port, 0);
		RUN_UNTIL(T.cl[i].up, 10000);
	}
	client_dtls_at(&T.cl[2], "127.0.0.1", port, 0);
	/* Its hello with the cookie came, twice (a retransmission). */
	RUN_UNTIL(T.refusals >= 1 && tun_front_dgram_count(T.front) >= 7, 10000);
	ck_assert_int_eq(T.spawns, 2);
	ck_assert_int_eq(T.cl[2].up, 0);
	/* One refusal line a second at most, however many refusals. */
	ck_assert_int_eq(T.refusals, 1);
	tun_front_peer_gone(T.front, T.srv[0].pid);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 1);
	RUN_UNTIL(T.cl[2].up, 10000);
	ck_assert_int_eq(T.spawns, 3);
	ping_from(&T.cl[2], 3);
	env_teardown();
}
END_TEST

/*
 * A peer counts as pending for handshake_ms only (its process enforces
 * that deadline): then it no longer holds a pending slot. The age runs
 * from the first peer's spawn, so the second spawn comes at least
 * handshake_ms after it -- a bound that holds however slow the machine
 * (measured from the first client's "up" instead, a loaded machine that
 * took 100 ms from spawn to up failed it).
 */
START_TEST(front_pending_ages)
{
	uint16_t port;

	env_setup();
	T.front_hs_ms = 1000;
	front_start("127.0.0.1", true, 0, 1);
	port = tun_front_udp_port(T.front);
	client_dtls_at(&T.cl[0], "127.0.0.1", port, 0);
	RUN_UNTIL(T.cl[0].up, 10000);
	client_dtls_at(&T.cl[1], "127.0.0.1", port, 0);
	RUN_UNTIL(T.refusals >= 1, 10000);
	RUN_UNTIL(T.cl[1].up, 10000);
	ck_assert_int_eq(T.spawns, 2);
	ck_assert_uint_ge(T.spawn_us[1] - T.spawn_us[0], 1000 * 1000);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 2);
	env_teardown();
}
END_TEST

/* Per host: a fifth login from 127.0.0.1 waits, 127.0.0.2 gets in. */
START_TEST(front_cap_per_host)
{
	uint16_t port;
	int i;

	env_setup();
	front_start("127.0.0.1", true, 0, 0);
	port = tun_front_udp_port(T.front);
	for (i = 0; i < TUN_FRONT_PENDING_PER_HOST; i++) {
		client_dtls_at(&T.cl[i], "127.0.0.1", port, 0);
		RUN_UNTIL(T.cl[i].up, 10000);
	}
	client_dtls_at(&T.cl[i], "127.0.0.1", port, 0);
	RUN_UNTIL(T.refusals >= 1, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST);
	client_dtls_at(&T.cl[i + 1], "127.0.0.2", port, 0);
	RUN_UNTIL(T.cl[i + 1].up, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST + 1);
	ck_assert_int_eq(T.cl[i].up, 0);
	env_teardown();
}
END_TEST

/*
 * A peer that has logged in no longer counts as pending (the owner says
 * so when asked, at a cap), so clients behind one address get in as fast
 * as they log in; those that do not log in still hold their host's
 * TUN_FRONT_PENDING_PER_HOST slots, and an owner's error frees none.
 */
START_TEST(front_logged_in_not_pending)
{
	uint16_t port;
	int i;

	env_setup();
	T.login_hook = true;
	front_start("127.0.0.1", true, 0, 0);
	port = tun_front_udp_port(T.front);
	for (i = 0; i < TUN_FRONT_PENDING_PER_HOST; i++) {
		client_dtls_at(&T.cl[i], "127.0.0.1", port, 0);
		RUN_UNTIL(T.cl[i].up, 10000);
	}
	/* Below the caps the owner is not asked. */
	ck_assert_int_eq(T.login_asks, 0);
	/* None logged in: the fifth waits, the owner was asked about four. */
	client_dtls_at(&T.cl[i], "127.0.0.1", port, 0);
	RUN_UNTIL(T.refusals >= 1 && T.login_asks >= 1, 10000);
	ck_assert_uint_eq(T.login_asked, TUN_FRONT_PENDING_PER_HOST);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST);
	/* An answer with an error counts for nothing. */
	T.logged[1] = true;
	T.login_err = -EIO;
	RUN_UNTIL(T.login_asks >= 2, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST);
	ck_assert_int_eq(T.cl[i].up, 0);
	/* Two logged in: the fifth gets in on its next try, then a sixth. */
	T.login_err = 0;
	T.logged[2] = true;
	RUN_UNTIL(T.cl[i].up, 15000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST + 1);
	client_dtls_at(&T.cl[i + 1], "127.0.0.1", port, 0);
	RUN_UNTIL(T.cl[i + 1].up, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST + 2);
	/* Four pending again (3, 4, 5, 6), none logged in: a seventh waits. */
	T.refusals = 0;
	client_dtls_at(&T.cl[i + 2], "127.0.0.1", port, 0);
	RUN_UNTIL(T.refusals >= 1, 10000);
	RUN_UNTIL(tun_front_dgram_count(T.front) >= 20, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_HOST + 2);
	ck_assert_int_eq(T.cl[i + 2].up, 0);
	/* Only pending peers are asked about: not 1 and 2. */
	ck_assert_uint_eq(T.login_asked, TUN_FRONT_PENDING_PER_HOST);
	env_teardown();
}
END_TEST

/*
 * Per network: eight pending logins from 127.0.0.0/24 (four from each of
 * two hosts); a ninth host of that /24 gets only a reserved slot, which
 * the owner refuses to an unknown source and grants to a known one; a
 * host of another /24 gets in meanwhile.
 */
START_TEST(front_cap_per_net)
{
	static const char *src[] = { "127.0.0.1", "127.0.0.2" };
	uint16_t port;
	int i, k = 0;

	env_setup();
	front_start("127.0.0.1", true, 0, 0);
	port = tun_front_udp_port(T.front);
	for (i = 0; i < TUN_FRONT_PENDING_PER_NET; i++, k++) {
		client_dtls_at(&T.cl[k], src[i / TUN_FRONT_PENDING_PER_HOST], port, 0);
		RUN_UNTIL(T.cl[k].up, 10000);
	}
	ck_assert_int_eq(T.reserve_asks, 0);
	client_dtls_at(&T.cl[k], "127.0.0.3", port, 0);
	RUN_UNTIL(T.refusals >= 1 && T.reserve_asks >= 1, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_NET);
	client_dtls_at(&T.cl[k + 1], "127.0.1.1", port, 0);
	RUN_UNTIL(T.cl[k + 1].up, 10000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_NET + 1);
	ck_assert_int_eq(T.cl[k].up, 0);
	/* Known now: its next retransmission is admitted. */
	T.known = true;
	RUN_UNTIL(T.cl[k].up, 15000);
	ck_assert_int_eq(T.spawns, TUN_FRONT_PENDING_PER_NET + 2);
	env_teardown();
}
END_TEST

/*
 * The reserve: with max_pending 4, one slot is kept for sources that
 * logged in before. Three unknown hosts fill the rest; a fourth waits
 * until the owner knows it.
 */
START_TEST(front_reserve_known)
{
	static const char *src[] = { "127.0.0.1", "127.0.1.1", "127.0.2.1", "127.0.3.1" };
	uint16_t port;
	int i;

	env_setup();
	front_start("127.0.0.1", true, 0, 4);
	port = tun_front_udp_port(T.front);
	for (i = 0; i < 3; i++) {
		client_dtls_at(&T.cl[i], src[i], port, 0);
		RUN_UNTIL(T.cl[i].up, 10000);
	}
	ck_assert_int_eq(T.reserve_asks, 0);
	client_dtls_at(&T.cl[3], src[3], port, 0);
	RUN_UNTIL(T.reserve_asks >= 1 && T.refusals >= 1, 10000);
	ck_assert_int_eq(T.spawns, 3);
	ck_assert_int_eq(T.cl[3].up, 0);
	T.known = true;
	RUN_UNTIL(T.cl[3].up, 15000);
	ck_assert_int_eq(T.spawns, 4);
	/* All four slots taken: even a known source now waits. */
	client_dtls_at(&T.cl[4], "127.0.4.1", port, 0);
	RUN_UNTIL(T.refusals >= 2, 10000);
	ck_assert_int_eq(T.spawns, 4);
	env_teardown();
}
END_TEST

static socklen_t sa_make(struct sockaddr_storage *a, const char *ip)
{
	memset(a, 0, sizeof(*a));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)a;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		return sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)a;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
		return sizeof(*s4);
	}
}

/* What counts as one network: an IPv4 /24 (mapped or not), an IPv6 /64. */
START_TEST(front_same_net)
{
	static const struct {
		const char *a, *b;
		bool same;
	} c[] = {
		{ "192.0.2.1", "192.0.2.254", true },
		{ "192.0.2.1", "192.0.3.1", false },
		{ "192.0.2.1", "::ffff:192.0.2.77", true },
		{ "::ffff:192.0.2.1", "::ffff:192.0.3.1", false },
		{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true },
		{ "2001:db8:1:2::1", "2001:db8:1:3::1", false },
		{ "2001:db8::c000:201", "192.0.2.1", false },
		{ "::1", "::1", true },
	};
	struct sockaddr_storage a, b;
	socklen_t al, bl;
	unsigned i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		al = sa_make(&a, c[i].a);
		bl = sa_make(&b, c[i].b);
		ck_assert_msg(tun_front_same_net(&a, al, &b, bl) == c[i].same &&
			      tun_front_same_net(&b, bl, &a, al) == c[i].same,
			      "%s %s", c[i].a, c[i].b);
	}
	/* A short or family-less address is no network. */
	ck_assert(!tun_front_same_net(&a, 4, &a, 4));
	memset(&b, 0, sizeof(b));
	ck_assert(!tun_front_same_net(&b, sizeof(b), &b, sizeof(b)));
}
END_TEST

/* max_peers over TLS: the connection over the cap is closed at once. */
START_TEST(front_cap_peers_tls)
{
	struct tun_listen_cfg cc = {
		.host = "127.0.0.1", .handshake_ms = 10000, .ops = &cli_ops,
	};
	int i;

	env_setup();
	front_start("127.0.0.1", false, 2, 0);
	cc.l = T.l;
	cc.creds = T.ccr;
	cc.port = front_port(false);
	for (i = 0; i < 3; i++) {
		cc.user = &T.cl[i];
		ck_assert_int_eq(tun_tls_connect(&T.cl[i].ch, &cc), 0);
		if (i < 2)
			RUN_UNTIL(T.cl[i].up, 10000);
	}
	RUN_UNTIL(T.cl[2].down, 10000);
	ck_assert_int_eq(T.cl[2].up, 0);
	ck_assert_int_eq(T.spawns, 2);
	ck_assert_int_eq(T.refusals, 1);
	tun_front_peer_gone(T.front, T.srv[1].pid);
	cc.user = &T.cl[3];
	ck_assert_int_eq(tun_tls_connect(&T.cl[3].ch, &cc), 0);
	RUN_UNTIL(T.cl[3].up, 10000);
	ck_assert_int_eq(T.spawns, 3);
	env_teardown();
}
END_TEST

/* The spawn hook fails: nothing is kept, the next hello tries again. */
START_TEST(front_spawn_fails)
{
	env_setup();
	front_start("127.0.0.1", true, 0, 0);
	T.spawn_err = -EAGAIN;
	client_dtls_from(tun_front_udp_port(T.front), 0);
	RUN_UNTIL(T.spawns >= 1, 10000);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 0);
	T.spawn_err = 0;
	RUN_UNTIL(T.cli.up, 10000);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 1);
	env_teardown();
}
END_TEST

/*
 * A client restarted on the same port, its old peer alive: the old
 * channel ends (its process exits, the owner reaps it) and the client's
 * next hello is handed to a new peer.
 */
START_TEST(front_client_restart)
{
	uint16_t port, cport;
	int i;

	env_setup();
	front_start("127.0.0.1", true, 0, 0);
	port = tun_front_udp_port(T.front);
	cport = client_dtls_from(port, 0);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	tun_chan_drop(T.cli.ch);
	T.cli.ch = NULL;
	for (i = 0; i < 3; i++)
		loop_iterate(T.l, 0);
	ck_assert_uint_eq(client_dtls_from(port, cport), cport);
	RUN_UNTIL(T.cli.up && T.srv[1].up, 10000);
	ck_assert_int_eq(T.srv[0].down_reason, TUN_R_PEER_DEAD);
	ck_assert_int_eq(T.spawns, 2);
	ck_assert_int_eq(T.stops, 0);
	ck_assert_uint_eq(tun_front_peer_count(T.front), 1);
	ping(3);
	env_teardown();
}
END_TEST

/*
 * The old peer is still in the table but no longer takes the client's
 * datagrams (its socket is closed, the process not yet reaped): a hello
 * with a valid cookie from that address is dropped while the peer is
 * young, and stops the process once it is TUN_FRONT_RESTART_MS old.
 */
START_TEST(front_stop_stale_peer)
{
	uint16_t port, cport;
	uint64_t born;
	int i;

	env_setup();
	front_start("127.0.0.1", true, 0, 0);
	port = tun_front_udp_port(T.front);
	cport = client_dtls_from(port, 0);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	born = loop_now_us();
	/* The peer's socket goes, silently; the front is not told. */
	tun_chan_destroy(T.srv[0].ch);
	T.srv[0].ch = NULL;
	tun_chan_drop(T.cli.ch);
	T.cli.ch = NULL;
	for (i = 0; i < 3; i++)
		loop_iterate(T.l, 0);
	client_dtls_from(port, cport);
	RUN_UNTIL(T.stops == 1, 10000);
	ck_assert_uint_ge(loop_now_us() - born, (uint64_t)TUN_FRONT_RESTART_MS * 1000);
	ck_assert_int_eq(T.stopped, T.srv[0].pid);
	ck_assert_int_eq(T.spawns, 1);
	ck_assert_int_eq(T.cli.up, 0);
	tun_front_peer_gone(T.front, T.stopped);
	RUN_UNTIL(T.cli.up && T.srv[1].up, 15000);
	ck_assert_int_eq(T.spawns, 2);
	ck_assert_int_eq(T.stops, 1);
	env_teardown();
}
END_TEST

static bool has_socket_on(uint16_t port)
{
	int fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && tun_sock_port(fd) == port)
			return true;
	return false;
}

/*
 * In a forked child, forget closes the listeners and wipes the cookie
 * keys without touching the loop the child shares with its parent: the
 * parent's front goes on serving.
 */
START_TEST(front_forget_in_child)
{
	struct tun_front_cfg fc = {
		.host = "127.0.0.1", .udp_port = "0", .tcp_port = "0",
		.spawn = fake_spawn, .stop = fake_stop,
	};
	uint16_t up, tp;
	pid_t pid;
	int st;

	env_setup();
	ck_assert_int_eq(tun_front_new(&T.front, T.l, &fc), 0);
	up = tun_front_udp_port(T.front);
	tp = tun_front_tcp_port(T.front);
	ck_assert(has_socket_on(up) && has_socket_on(tp));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		tun_front_forget(T.front);
		_exit(has_socket_on(up) || has_socket_on(tp) ||
		      tun_front_udp_port(T.front) || tun_front_peer_count(T.front) ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	client_dtls_from(up, 0);
	RUN_UNTIL(T.cli.up && T.srv[0].up, 10000);
	ping(3);
	env_teardown();
}
END_TEST

START_TEST(cookie_wipe)
{
	struct tun_cookie c;
	gnutls_dtls_prestate_st pre;
	struct sockaddr_storage a;
	uint8_t hello[100];

	ck_assert_int_eq(tun_cookie_init(&c, NULL), 0);
	ck_assert_ptr_nonnull(c.key.data);
	ck_assert_ptr_null(c.rotate);
	tun_cookie_wipe(&c);
	ck_assert_ptr_null(c.key.data);
	ck_assert_uint_eq(c.key.size, 0);
	memset(&a, 0, sizeof(a));
	memset(hello, 0, sizeof(hello));
	hello[0] = 22;
	hello[1] = 0xfe;
	hello[13] = 1;
	ck_assert(!tun_cookie_valid(&c, &a, sizeof(struct sockaddr_in), hello,
				    sizeof(hello), &pre));
	tun_cookie_free(&c);
}
END_TEST

/* A DTLS record header with this length at off (RFC 6347 4.1). */
static void rec_hdr(uint8_t *b, size_t off, uint16_t len)
{
	memset(b + off, 0, 13);
	b[off] = 23;
	b[off + 1] = 0xfe;
	b[off + 2] = 0xfd;
	b[off + 11] = (uint8_t)(len >> 8);
	b[off + 12] = (uint8_t)len;
}

START_TEST(dtls_records_whole)
{
	uint8_t b[200];

	memset(b, 0xaa, sizeof(b));
	rec_hdr(b, 0, 40);
	ck_assert(tun_dtls_records_whole(b, 13 + 40));
	/* Two records in one datagram (a handshake flight). */
	rec_hdr(b, 53, 7);
	ck_assert(tun_dtls_records_whole(b, 53 + 13 + 7));
	/* A length one too long or short, or past the end by a flipped bit. */
	ck_assert(!tun_dtls_records_whole(b, 13 + 41));
	ck_assert(!tun_dtls_records_whole(b, 13 + 39));
	rec_hdr(b, 0, 40 | 0x2000);
	ck_assert(!tun_dtls_records_whole(b, 13 + 40));
	/* A cut header, a header alone with length 0, nothing at all. */
	rec_hdr(b, 0, 40);
	ck_assert(!tun_dtls_records_whole(b, 53 + 12));
	ck_assert(!tun_dtls_records_whole(b, 12));
	rec_hdr(b, 0, 0);
	ck_assert(tun_dtls_records_whole(b, 13));
	ck_assert(!tun_dtls_records_whole(b, 0));
	/* The largest length does not wrap the sum. */
	rec_hdr(b, 0, 0xffff);
	ck_assert(!tun_dtls_records_whole(b, sizeof(b)));
}
END_TEST

static void quiet_log(int prio, const char *line, void *user)
{
	if (getenv("TUN_TEST_LOG"))
		fprintf(stderr, "%llu %s\n", (unsigned long long)loop_now_us() / 1000, line);
	if (strstr(line, "new peer refused"))
		T.refusals++;
}

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_front");
	TCase *tc = tcase_create("front");

	log_set_handler(quiet_log, NULL);
	tcase_add_unchecked_fixture(tc, tpki_setup, tpki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, peer_chan_dgram, 0, 2);
	tcase_add_loop_test(tc, peer_chan_stream, 0, 2);
	tcase_add_test(tc, peer_chan_client_restart);
	tcase_add_test(tc, peer_chan_bad_handover);
	tcase_add_loop_test(tc, front_dtls, 0, sizeof(pairs) / sizeof(pairs[0]));
	tcase_add_loop_test(tc, front_tls, 0, sizeof(pairs) / sizeof(pairs[0]));
	tcase_add_test(tc, front_no_cookie_no_peer);
	tcase_add_test(tc, front_cap_pending);
	tcase_add_test(tc, front_cap_per_host);
	tcase_add_test(tc, front_logged_in_not_pending);
	tcase_add_test(tc, front_cap_per_net);
	tcase_add_test(tc, front_reserve_known);
	tcase_add_test(tc, front_same_net);
	tcase_add_test(tc, front_pending_ages);
	tcase_add_test(tc, front_cap_peers_tls);
	tcase_add_test(tc, front_spawn_fails);
	tcase_add_test(tc, front_client_restart);
	tcase_add_test(tc, front_stop_stale_peer);
	tcase_add_test(tc, front_forget_in_child);
	tcase_add_test(tc, cookie_wipe);
	tcase_add_test(tc, dtls_records_whole);
	suite_add_tcase(s, tc);
	return s;
}
