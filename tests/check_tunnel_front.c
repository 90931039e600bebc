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
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "chan.h"
#include "front.h"
#include "log.h"
#include "loop.h"

static char pki[256];

static const char *path(const char *name)
{
	static char buf[4][320];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki, name);
	return buf[i];
}

static void pki_setup(void)
{
	const char *src = getenv("BGW_SRCDIR");
	char cmd[600];

	snprintf(pki, sizeof(pki), "/tmp/bgw-front-pki.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(pki));
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/tunnel_certs.sh' '%s'",
		 src ? src : "..", pki);
	ck_assert_int_eq(system(cmd), 0);
}

static void pki_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pki);
}

/* ---- both ends of a channel: the server echoes every HCI message ---- */

#define NSRV 8

struct side {
	struct tun_chan *ch;
	int up, down, down_reason, rx;
	uint32_t next;		/* client: next echo expected */
};

static struct {
	struct loop *l;
	struct tun_creds *scr, *ccr;
	struct side cli;
	struct side srv[NSRV];
	int nsrv;
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
	ck_assert_int_eq(tun_creds_new(&T.scr, true, path("ca.crt"),
				       path("server.crt"), path("server.key")), 0);
	ck_assert_int_eq(tun_creds_new(&T.ccr, false, path("ca.crt"),
				       path("alice.crt"), path("alice.key")), 0);
}

static void env_teardown(void)
{
	int i;

	tun_chan_destroy(T.cli.ch);
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
 * A DTLS client from a chosen local port on 127.0.0.1 (0: any), so a test
 * can restart a client on the same port.
 */
static uint16_t client_dtls_from(uint16_t srv_port, uint16_t from)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in s = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(from);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.sin_port = htons(srv_port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	memset(&T.cli, 0, sizeof(T.cli));
	ck_assert_int_eq(tun_chan_new(&T.cli.ch, T.l, T.ccr, TUN_CHAN_DGRAM_CLI, fd,
				      10000, &cli_ops, &T.cli), 0);
	memcpy(&T.cli.ch->addr, &s, sizeof(s));
	T.cli.ch->alen = sizeof(s);
	ck_assert_int_eq(tun_chan_start(T.cli.ch), 0);
	return ntohs(a.sin_port);
}

/* n HCI messages from the client, all echoed back. */
static void ping(int n)
{
	uint8_t data[100];
	struct tun_msg m;
	uint32_t first = T.cli.next;
	int i;

	memset(data, 0x5a, sizeof(data));
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		m.version = TUN_VERSION_MIN;
		m.type = TUN_MSG_HCI;
		m.hci.seq = first + (uint32_t)i;
		m.hci.len = sizeof(data);
		m.hci.data = data;
		ck_assert_int_eq(tun_chan_send(T.cli.ch, &m), 0);
		/* One at a time: no loss from a full socket buffer. */
		RUN_UNTIL(T.cli.next == first + (uint32_t)i + 1, 5000);
	}
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
		if (getenv("TUN_TEST_LOG"))
			fprintf(stderr, "listener: %zd bytes type %u hs %u\n", n, p->first[0], p->first[13]);
		p->first_len = (size_t)n;
		if (tun_cookie_valid(&m->ck, &p->addr, p->alen, p->first, p->first_len,
				     &p->pre)) {
			p->dgram = true;
			p->fd = peer_socket(fd, &p->addr, p->alen);
			m->handed++;
			ck_assert_int_eq(serve_peer(p), 0);
			ck_assert_int_eq(p->fd, -1);
		} else if (tun_dtls_is_client_hello(p->first, p->first_len)) {
			tun_cookie_send(&m->ck, fd, &p->addr, p->alen, p->alen, &p->pre);
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

static void quiet_log(int prio, const char *line, void *user)
{
	if (getenv("TUN_TEST_LOG"))
		fprintf(stderr, "%s\n", line);
}

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_front");
	TCase *tc = tcase_create("front");

	log_set_handler(quiet_log, NULL);
	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, peer_chan_dgram, 0, 2);
	tcase_add_loop_test(tc, peer_chan_stream, 0, 2);
	tcase_add_test(tc, peer_chan_client_restart);
	tcase_add_test(tc, peer_chan_bad_handover);
	suite_add_tcase(s, tc);
	return s;
}
