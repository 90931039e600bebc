/* SPDX-License-Identifier: MIT */
/*
 * The tunnel end to end on loopback: real GnuTLS handshakes with a test
 * PKI made at run time (tests/tunnel_certs.sh), a UDP proxy that loses,
 * reorders and rebinds, the TLS fallback, resumption, a vanishing client,
 * spoofed ClientHellos and every login error. Waits are bounded by a
 * generous wall-clock cap only so a bug cannot hang the suite; nothing
 * asserts on timing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "check_main.h"
#include "certlogin.h"
#include "chan.h"
#include "hci.h"
#include "log.h"
#include "loop.h"
#include "scram.h"
#include "tunnel.h"
#include "tunnel_pki.h"

/* alice's certificate and key, for raw channels that log in by hand. */
static struct tun_certkey *alice_ck;

/* ---- a UDP proxy between client and server ---- */

struct proxy {
	struct loop *l;
	int front, back;
	uint16_t srv_port;
	struct sockaddr_storage cli;
	socklen_t clen;
	unsigned drop_pct;
	bool reorder;
	bool blackhole;
	uint64_t rng;
	uint8_t held[2][2048];
	size_t held_len[2];
	struct loop_timer *flush;	/* a held datagram waits at most 5 ms */
	unsigned forwarded, dropped;
	/*
	 * Per direction: flip bit 13 of the length of the next DTLS
	 * application data record (+8 KiB); how many were flipped; how
	 * many datagrams went.
	 */
	bool flip_len[2];
	unsigned flipped[2];
	unsigned sent[2];
	/* Flip a bit of the next ServerHello: its version or its suite. */
	enum { FLIP_NONE, FLIP_VERSION, FLIP_SUITE } flip_hello;
	unsigned hello_flipped;
};

static unsigned px_rnd(struct proxy *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return (unsigned)(p->rng % 100);
}

static void px_out(struct proxy *p, int dir, const uint8_t *b, size_t n)
{
	p->sent[dir]++;
	if (dir == 0)
		send(p->back, b, n, MSG_DONTWAIT);
	else if (p->clen)
		sendto(p->front, b, n, MSG_DONTWAIT, (struct sockaddr *)&p->cli, p->clen);
	p->forwarded++;
}

/* dir 0: client to server. Loss, and a swap of neighbours for reordering. */
static void px_forward(struct proxy *p, int dir, const uint8_t *b, size_t n)
{
	if (p->blackhole || px_rnd(p) < p->drop_pct) {
		p->dropped++;
		return;
	}
	/*
	 * A ServerHello (RFC 6347 4.1 and 4.2.2, RFC 5246 7.4.1.3): the
	 * record header (13), the handshake header (12, type 2), version
	 * (2: DTLS 1.2 is fe fd, a flipped bit 1 makes it DTLS 1.0, fe
	 * ff), random (32), the session id with its length byte, then the
	 * suite (its top bit makes one no client offers).
	 */
	if (p->flip_hello && dir == 1 && n > 13 + 12 + 2 + 32 + 1 &&
	    n <= sizeof(p->held[0]) && b[0] == 22 && b[13] == 2 &&
	    n > 13 + 12 + 2 + 32 + 1 + (size_t)b[13 + 12 + 2 + 32] + 2) {
		uint8_t d[sizeof(p->held[0])];

		memcpy(d, b, n);
		if (p->flip_hello == FLIP_VERSION)
			d[13 + 12 + 1] ^= 0x02;
		else
			d[13 + 12 + 2 + 32 + 1 + b[13 + 12 + 2 + 32]] ^= 0x80;
		p->flip_hello = FLIP_NONE;
		p->hello_flipped++;
		px_out(p, dir, d, n);
		return;
	}
	/* RFC 6347 4.1: content type 23, the length in header bytes 11-12. */
	if (p->flip_len[dir] && n >= 13 && n <= sizeof(p->held[0]) && b[0] == 23) {
		uint8_t d[sizeof(p->held[0])];

		memcpy(d, b, n);
		d[11] ^= 0x20;
		p->flip_len[dir] = false;
		p->flipped[dir]++;
		px_out(p, dir, d, n);
		return;
	}
	if (p->reorder && !p->held_len[dir] && px_rnd(p) < 20 && n <= sizeof(p->held[0])) {
		memcpy(p->held[dir], b, n);
		p->held_len[dir] = n;
		loop_timer_arm(p->flush, 5000);
		return;
	}
	px_out(p, dir, b, n);
	if (p->held_len[dir]) {
		px_out(p, dir, p->held[dir], p->held_len[dir]);
		p->held_len[dir] = 0;
	}
}

static void px_flush_cb(struct loop_timer *t, void *user)
{
	struct proxy *p = user;
	int dir;

	for (dir = 0; dir < 2; dir++) {
		if (p->held_len[dir])
			px_out(p, dir, p->held[dir], p->held_len[dir]);
		p->held_len[dir] = 0;
	}
}

static void px_front_cb(struct loop *l, int fd, uint32_t ev, void *user)
{
	struct proxy *p = user;
	uint8_t b[4096];
	int k;

	for (k = 0; k < 64; k++) {
		struct sockaddr_storage a;
		socklen_t al = sizeof(a);
		ssize_t n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&a, &al);

		if (n < 0)
			return;
		p->cli = a;	/* the latest client address gets the replies */
		p->clen = al;
		px_forward(p, 0, b, (size_t)n);
	}
}

static void px_back_cb(struct loop *l, int fd, uint32_t ev, void *user)
{
	struct proxy *p = user;
	uint8_t b[4096];
	int k;

	for (k = 0; k < 64; k++) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n < 0)
			return;
		px_forward(p, 1, b, (size_t)n);
	}
}

static int udp_socket(uint16_t connect_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect_port) {
		a.sin_port = htons(connect_port);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	} else {
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	return fd;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	return ntohs(a.sin_port);
}

static struct proxy *px_new(struct loop *l, uint16_t srv_port)
{
	struct proxy *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	p->l = l;
	p->rng = 88172645463325252ULL;
	p->srv_port = srv_port;
	p->front = udp_socket(0);
	p->back = udp_socket(srv_port);
	p->flush = loop_timer_new(l, px_flush_cb, p);
	ck_assert_ptr_nonnull(p->flush);
	ck_assert_int_eq(loop_add_fd(l, p->front, EPOLLIN, px_front_cb, p), 0);
	ck_assert_int_eq(loop_add_fd(l, p->back, EPOLLIN, px_back_cb, p), 0);
	return p;
}

/* A NAT rebinding: the server now sees the client from another port. */
static void px_rebind(struct proxy *p)
{
	uint16_t old = sock_port(p->back);

	loop_del_fd(p->l, p->back);
	close(p->back);
	p->back = udp_socket(p->srv_port);
	ck_assert_uint_ne(sock_port(p->back), old);
	ck_assert_int_eq(loop_add_fd(p->l, p->back, EPOLLIN, px_back_cb, p), 0);
}

static void px_free(struct proxy *p)
{
	if (!p)
		return;
	loop_del_fd(p->l, p->front);
	loop_del_fd(p->l, p->back);
	close(p->front);
	close(p->back);
	loop_timer_free(p->flush);
	free(p);
}

/* ---- the test environment ---- */

struct env {
	struct loop *l;
	struct tun_server *srv;
	struct tun_client *cli;
	struct proxy *px;
	struct tun_session *sess;
	char sess_user[TUN_USER_MAX + 1];
	int sessions, ends, end_reason;
	bool srv_busy;			/* on_packet says -ENOBUFS */
	uint32_t srv_next;		/* next counter expected */
	uint32_t srv_rx;
	int ready, resumed, down, down_reason;
	char down_text[400];
	uint32_t cli_next;
	uint32_t cli_rx;
	int cli_acl;
	bool multi;
	bool rate_limited;
	int login_failures;
	int writable;
	int srv_writable;
	int log_notices;
	char last_notice[400];
	char progress[1024];	/* the client's progress lines, joined */
	int quiet;			/* on_quiet calls */
	/* What the auth hooks saw. */
	char revoked_serial[64];
};

static struct env E;

/* Per-session and per-client counters when several run at once. */
struct sctr {
	bool started;
	uint32_t next;
};

struct cctr {
	uint32_t next;
	uint32_t rx;
};

static struct sctr sctrs[4];

static void capture_log(int prio, const char *line, void *user)
{
	if (getenv("TUN_TEST_LOG"))
		fprintf(stderr, "%llu %s\n", (unsigned long long)loop_now_us() / 1000, line);
	/* The server's lines about a peer start with its address. */
	if (prio <= LOG_NOTICE && strncmp(line, "tunnel: [127.0.0.1]:", 20) == 0) {
		E.log_notices++;
		snprintf(E.last_notice, sizeof(E.last_notice), "%s", line);
	}
}

/* A vendor command carrying a counter and filler up to len bytes. */
static size_t mk_cmd(uint8_t *b, uint32_t n, size_t plen)
{
	uint8_t p[255];
	size_t i;
	int r;

	memset(p, 0, sizeof(p));
	memcpy(p, &n, 4);
	for (i = 4; i < plen; i++)
		p[i] = (uint8_t)(n + i);
	r = h4_build_cmd(b, 300, 0xfc00 | (n & 0x3ff), p, plen);
	ck_assert_int_gt(r, 0);
	return (size_t)r;
}

static uint32_t pkt_counter(const uint8_t *h4, size_t len)
{
	uint32_t n;

	/* cmd: type, opcode(2), plen(1), then the counter */
	ck_assert_uint_ge(len, 8);
	memcpy(&n, h4 + 4, 4);
	return n;
}

static int srv_on_session(void *user, struct tun_session *s, const char *name)
{
	if (E.multi)
		tun_session_set_data(s, &sctrs[E.sessions % 4]);
	E.sessions++;
	E.sess = s;
	snprintf(E.sess_user, sizeof(E.sess_user), "%s", name);
	return 0;
}

/* Echo each command back as an event with the same counter. */
static int srv_on_packet(void *user, struct tun_session *s, const uint8_t *h4, size_t len)
{
	uint8_t ev[300];
	uint32_t n;
	int r;

	if (E.srv_busy)
		return -ENOBUFS;
	struct sctr *sc = tun_session_get_data(s);

	n = pkt_counter(h4, len);
	if (sc && !sc->started) {
		sc->started = true;
		sc->next = n;
	}
	/* In order, exactly once, and only this session's packets. */
	ck_assert_uint_eq(n, sc ? sc->next : E.srv_next);
	r = h4_build_evt(ev, sizeof(ev), 0xff, h4 + 4, len - 4);
	ck_assert_int_gt(r, 0);
	/*
	 * The way back is full (a lossy path is slow): keep this packet
	 * in the tunnel, which closes the client's window, and take it
	 * again when on_writable says there is room.
	 */
	r = tun_session_send(s, ev, (size_t)r);
	if (r == -ENOBUFS)
		return -ENOBUFS;
	ck_assert_int_eq(r, 0);
	if (sc)
		sc->next++;
	else
		E.srv_next++;
	E.srv_rx++;
	return 0;
}

static void srv_on_writable(void *user, struct tun_session *s)
{
	E.srv_writable++;
	tun_session_rx_kick(s);
}

static void srv_on_end(void *user, struct tun_session *s, int reason)
{
	E.ends++;
	E.end_reason = reason;
	if (E.sess == s)
		E.sess = NULL;
}

static void srv_on_quiet(void *user, struct tun_session *s)
{
	ck_assert_ptr_eq(s, E.sess);
	E.quiet++;
}

static const struct tun_server_ops srv_ops = {
	.on_session = srv_on_session,
	.on_packet = srv_on_packet,
	.on_session_end = srv_on_end,
	.on_writable = srv_on_writable,
	.on_quiet = srv_on_quiet,
};

/* alice is a user; carol's certificate is revoked; bob is nobody. */
static int auth_cert_user(void *user, const struct tun_cert_info *ci, char *name,
			  size_t cap)
{
	if (strcmp(ci->cn, "carol") == 0) {
		snprintf(E.revoked_serial, sizeof(E.revoked_serial), "%s", ci->serial);
		return -EKEYREVOKED;
	}
	if (strcmp(ci->cn, "alice") != 0)
		return -ENOENT;
	snprintf(name, cap, "%s", ci->cn);
	return 0;
}

static int auth_scram_lookup(void *user, const char *name, struct scram_verifier *v,
			     bool *real)
{
	static const uint8_t salt[16] = "0123456789abcdef";
	static const uint8_t secret[32] = "server secret for fake verifiers";

	if (strcmp(name, "erin") == 0) {
		*real = true;
		return scram_verifier_derive("correct horse", 13, salt, sizeof(salt),
					     SCRAM_ITER_MIN, v);
	}
	*real = false;
	return scram_verifier_fake(secret, sizeof(secret), name, v);
}

static int auth_login_allowed(void *user, const char *name, const void *addr,
			      size_t addrlen)
{
	return E.rate_limited ? -EAGAIN : 0;
}

static void auth_login_failed(void *user, const char *name, const void *addr,
			      size_t addrlen, int reason)
{
	E.login_failures++;
}

static const struct tun_auth_ops auth_ops = {
	.cert_user = auth_cert_user,
	.scram_lookup = auth_scram_lookup,
	.login_allowed = auth_login_allowed,
	.login_failed = auth_login_failed,
};

static void cli_on_ready(void *user, struct tun_client *c, const char *name, bool resumed)
{
	E.ready++;
	if (resumed)
		E.resumed++;
}

static int cli_on_packet(void *user, struct tun_client *c, const uint8_t *h4, size_t len)
{
	uint32_t n;

	if (h4[0] == H4_ACL) {
		ck_assert_uint_eq(len, 1 + 4 + 3000);
		E.cli_acl++;
		return 0;
	}
	ck_assert_uint_eq(h4[0], H4_EVT);
	memcpy(&n, h4 + 3, 4);
	if (user) {
		struct cctr *cc = user;

		ck_assert_uint_eq(n, cc->next);	/* its own echoes, in order */
		cc->next++;
		cc->rx++;
		return 0;
	}
	ck_assert_uint_eq(n, E.cli_next);
	E.cli_next++;
	E.cli_rx++;
	return 0;
}

static void cli_on_down(void *user, struct tun_client *c, int reason, const char *text)
{
	E.down++;
	E.down_reason = reason;
	snprintf(E.down_text, sizeof(E.down_text), "%s", text);
}

static void cli_on_writable(void *user, struct tun_client *c)
{
	E.writable++;
}

static void cli_on_progress(void *user, struct tun_client *c, const char *text)
{
	size_t n = strlen(E.progress);

	snprintf(E.progress + n, sizeof(E.progress) - n, "%s|", text);
}

static const struct tun_client_ops cli_ops = {
	.on_ready = cli_on_ready,
	.on_packet = cli_on_packet,
	.on_down = cli_on_down,
	.on_writable = cli_on_writable,
	.on_progress = cli_on_progress,
};

/* Short timers so loss of the path is noticed in a fraction of a second. */
static struct tun_rel_cfg fast_rel;
static unsigned srv_handshake_ms;

static void env_setup(void)
{
	memset(&E, 0, sizeof(E));
	E.l = loop_new();
	ck_assert_ptr_nonnull(E.l);
	log_set_handler(capture_log, NULL);
	tun_rel_cfg_default(&fast_rel);
	fast_rel.keepalive_us = 100000;
	fast_rel.dead_us = 500000;
	if (!alice_ck) {
		char err[300];

		ck_assert_int_eq(tun_certkey_load(&alice_ck, tpki_path("alice.crt"),
						  tpki_path("alice.key"), err, sizeof(err)), 0);
	}
}

static void env_server(unsigned resume_s)
{
	struct tun_server_cfg sc;

	memset(&sc, 0, sizeof(sc));
	sc.host = "127.0.0.1";
	sc.udp_port = "0";
	sc.tcp_port = "0";
	sc.ca_file = tpki_path("ca.crt");
	sc.cert_file = tpki_path("server.crt");
	sc.key_file = tpki_path("server.key");
	sc.resume_s = resume_s;
	sc.handshake_ms = srv_handshake_ms ? srv_handshake_ms : 5000;
	sc.rel = &fast_rel;
	ck_assert_int_eq(tun_server_new(&E.srv, E.l, &sc, &srv_ops, &auth_ops, NULL), 0);
	ck_assert_uint_ne(tun_server_udp_port(E.srv), 0);
}

static void env_client(const char *who, enum tun_transport tr, bool via_proxy)
{
	struct tun_client_cfg cc;
	char port[8], crt[64], key[64];

	memset(&cc, 0, sizeof(cc));
	if (via_proxy)
		snprintf(port, sizeof(port), "%u", sock_port(E.px->front));
	else
		snprintf(port, sizeof(port), "%u", tr == TUN_TRANSPORT_TLS ?
			 tun_server_tcp_port(E.srv) : tun_server_udp_port(E.srv));
	snprintf(crt, sizeof(crt), "%s.crt", who);
	snprintf(key, sizeof(key), "%s.key", who);
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.transport = tr;
	cc.ca_file = tpki_path("ca.crt");
	cc.cert_file = tpki_path(crt);
	cc.key_file = tpki_path(key);
	cc.handshake_ms = 3000;
	cc.rel = &fast_rel;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
}

static void env_teardown(void)
{
	int i;

	tun_client_free(E.cli);
	tun_server_free(E.srv);
	px_free(E.px);
	for (i = 0; i < 5; i++)
		loop_iterate(E.l, 0);
	loop_free(E.l);
	log_set_handler(NULL, NULL);
	tun_certkey_free(alice_ck);
	alice_ck = NULL;
}

/* Run the loop until cond holds; the cap only stops a hang. */
#define RUN_UNTIL(cond, cap_ms) do {					\
	uint64_t t0_ = loop_now_us();					\
	while (!(cond) && loop_now_us() - t0_ < (uint64_t)(cap_ms) * 1000) \
		loop_iterate(E.l, 10);					\
	ck_assert_msg((cond), "still false: %s", #cond);		\
} while (0)

/* Send n commands, as fast as the window lets us. */
static void pump(uint32_t *sent, uint32_t n, size_t plen)
{
	uint8_t b[300];
	uint64_t t0 = loop_now_us();

	while (*sent < n && loop_now_us() - t0 < 20000000) {
		size_t len = mk_cmd(b, *sent, plen);
		int r = tun_client_send(E.cli, b, len);

		if (r == -ENOBUFS || r == -ENOTCONN) {
			loop_iterate(E.l, 5);
			continue;
		}
		ck_assert_int_eq(r, 0);
		(*sent)++;
		if (*sent % 16 == 0)
			loop_iterate(E.l, 0);
	}
	ck_assert_uint_eq(*sent, n);
}

static void echo_round(uint32_t n, size_t plen)
{
	uint32_t sent = E.srv_next;

	pump(&sent, sent + n, plen);
	RUN_UNTIL(E.cli_rx == sent && E.srv_rx == sent, 20000);
}

START_TEST(cert_login_echo_dtls)
{
	env_setup();
	env_server(30);
	env_client("alice", TUN_TRANSPORT_DTLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_int_eq(E.sessions, 1);
	ck_assert_str_eq(E.sess_user, "alice");
	ck_assert_int_eq(tun_server_pending_count(E.srv), 0);
	{
		char peer[80];

		ck_assert_str_eq(tun_session_user(E.sess), "alice");
		ck_assert_ptr_nonnull(strstr(tun_session_peer(E.sess, peer, sizeof(peer)),
					     "[127.0.0.1]:"));
	}
	echo_round(2000, 40);
	/* Largest command parameters, and big ACL packets in segments. */
	echo_round(100, 255);
	{
		static uint8_t acl[1 + 4 + 3000], data[3000];
		int r = h4_build_acl(acl, sizeof(acl), 0x0001, 0, 0, data, sizeof(data));

		ck_assert_int_gt(r, 0);
		ck_assert_int_eq(tun_session_send(E.sess, acl, (size_t)r), 0);
		ck_assert_int_eq(tun_session_send(E.sess, acl, (size_t)r), 0);
		RUN_UNTIL(E.cli_acl == 2, 10000);
		/* Not one whole H4 packet: refused at the door. */
		ck_assert_int_eq(tun_session_send(E.sess, acl, (size_t)r - 1), -EBADMSG);
	}
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}
END_TEST

START_TEST(tls_fallback)
{
	env_setup();
	env_server(30);
	env_client("alice", TUN_TRANSPORT_TLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_str_eq(E.sess_user, "alice");
	echo_round(3000, 100);
	ck_assert_int_eq(E.down, 0);
	/* An orderly close from the client ends the session on the server. */
	tun_client_free(E.cli);
	E.cli = NULL;
	RUN_UNTIL(E.ends == 1, 5000);
	ck_assert_int_eq(E.end_reason, TUN_R_SHUTDOWN);
	env_teardown();
}
END_TEST

START_TEST(lossy_reordering_path)
{
	env_setup();
	env_server(30);
	E.px = px_new(E.l, tun_server_udp_port(E.srv));
	env_client("alice", TUN_TRANSPORT_DTLS, true);
	RUN_UNTIL(E.ready == 1, 10000);
	E.px->drop_pct = 10;
	E.px->reorder = true;
	echo_round(3000, 60);
	ck_assert_uint_gt(E.px->dropped, 0);
	ck_assert_int_eq(E.resumed, 0);
	env_teardown();
}
END_TEST

/*
 * A datagram whose DTLS record length had a bit flipped on the way costs
 * that datagram, not the ones after it: GnuTLS would take the next 8 KiB
 * of datagrams as the rest of that record and drop them with it (chan.c,
 * dgram_pop_whole), so the echoes after it would wait for about a
 * hundred datagrams or for a resumption. Both ways: the server's
 * listener queue and the client's socket.
 */
START_TEST(damaged_record_length_costs_one_datagram)
{
	unsigned before[2];
	int dir;

	env_setup();
	env_server(30);
	E.px = px_new(E.l, tun_server_udp_port(E.srv));
	env_client("alice", TUN_TRANSPORT_DTLS, true);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(5, 40);
	for (dir = 0; dir < 2; dir++) {
		before[0] = E.px->sent[0];
		before[1] = E.px->sent[1];
		E.px->flip_len[dir] = true;
		echo_round(5, 40);
		ck_assert_uint_eq(E.px->flipped[dir], 1);
		/*
		 * 5 commands or 5 answers and the ACKs, a resend or two:
		 * about 7 datagrams each way (56 and 48 the damaged way,
		 * and a resumption each time, before the fix).
		 */
		ck_assert_uint_lt(E.px->sent[0] - before[0], 30);
		ck_assert_uint_lt(E.px->sent[1] - before[1], 30);
	}
	ck_assert_int_eq(E.resumed, 0);
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}
END_TEST

/*
 * A ServerHello with a bit flipped on the way in its cipher suite names
 * a suite the client never offered, which a server does not do (RFC
 * 5246 7.4.1.3; with nothing in common it sends a handshake_failure
 * alert); in its version it names DTLS 1.0, which no bgw gateway
 * speaks. Damage, like a record that does not decrypt: the first
 * connection tries again instead of giving up.
 */
START_TEST(damaged_server_hello_tried_again)
{
	int i;

	for (i = 0; i < 2; i++) {
		env_setup();
		env_server(30);
		E.px = px_new(E.l, tun_server_udp_port(E.srv));
		E.px->flip_hello = i ? FLIP_SUITE : FLIP_VERSION;
		env_client("alice", TUN_TRANSPORT_DTLS, true);
		RUN_UNTIL(E.ready == 1 || E.down, 10000);
		ck_assert_uint_eq(E.px->hello_flipped, 1);
		ck_assert_msg(E.ready == 1 && E.down == 0, "down: %s", E.down_text);
		ck_assert_msg(strstr(E.progress, "trying again (2 of 5)"), "%s", E.progress);
		echo_round(5, 40);
		env_teardown();
	}
}
END_TEST

START_TEST(resume_after_source_port_change)
{
	uint32_t sent;

	env_setup();
	env_server(30);
	E.px = px_new(E.l, tun_server_udp_port(E.srv));
	env_client("alice", TUN_TRANSPORT_DTLS, true);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(500, 40);
	/* Packets in flight while the path changes: none lost, none twice. */
	px_rebind(E.px);
	sent = E.srv_next;
	pump(&sent, sent + 300, 40);
	RUN_UNTIL(E.resumed == 1 && E.cli_rx == sent, 20000);
	ck_assert_int_eq(E.sessions, 1);	/* the same session */
	ck_assert_int_eq(E.ends, 0);
	ck_assert_int_eq(tun_server_session_count(E.srv), 1);
	echo_round(500, 40);
	/* And once more, on the owner's request (a network change). */
	tun_client_reconnect(E.cli);
	echo_round(200, 40);
	RUN_UNTIL(E.resumed == 2, 10000);
	ck_assert_int_eq(E.sessions, 1);
	env_teardown();
}
END_TEST

START_TEST(vanished_client_times_out)
{
	env_setup();
	env_server(1);
	E.px = px_new(E.l, tun_server_udp_port(E.srv));
	env_client("alice", TUN_TRANSPORT_DTLS, true);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(10, 10);
	E.px->blackhole = true;
	/* Server: dead peer, detached, then gone after resume_s. */
	RUN_UNTIL(E.ends == 1, 10000);
	ck_assert_int_eq(E.end_reason, TUN_R_RESUME_EXPIRED);
	ck_assert_int_eq(tun_server_session_count(E.srv), 0);
	/* Client: gives up after the resume time the server announced. */
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_UNREACHABLE);
	env_teardown();
}
END_TEST

/*
 * A client whose datagrams stop reaching the server: the owner hears
 * on_quiet once, after quiet_us and well before the dead-peer timeout,
 * with the session still there; the client is back, the session goes on
 * (the same one, nothing lost) and a second silence is reported again.
 * While it is up and idle, the keepalives keep it from ever being quiet.
 */
START_TEST(silent_client_reported_once)
{
	uint64_t t0;

	env_setup();
	/* Eight keepalive intervals: a loaded machine's stalls stay below. */
	fast_rel.quiet_us = 800000;
	fast_rel.dead_us = 5000000;
	env_server(30);
	E.px = px_new(E.l, tun_server_udp_port(E.srv));
	env_client("alice", TUN_TRANSPORT_DTLS, true);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(10, 10);
	/* Idle for 1 s (ten keepalives): never quiet. */
	t0 = loop_now_us();
	while (loop_now_us() - t0 < 1000000)
		loop_iterate(E.l, 10);
	ck_assert_int_eq(E.quiet, 0);
	E.px->blackhole = true;
	RUN_UNTIL(E.quiet == 1, 5000);
	/* Once per silence (no timing asserted: machines are noisy). */
	t0 = loop_now_us();
	while (loop_now_us() - t0 < 1000000)
		loop_iterate(E.l, 10);
	ck_assert_int_eq(E.quiet, 1);
	ck_assert_int_eq(E.ends, 0);
	ck_assert_int_eq(tun_server_session_count(E.srv), 1);
	ck_assert(tun_session_is_quiet(E.sess));
	E.px->blackhole = false;
	echo_round(10, 10);
	ck_assert(!tun_session_is_quiet(E.sess));
	ck_assert_int_eq(E.sessions, 1);
	E.px->blackhole = true;
	RUN_UNTIL(E.quiet == 2, 5000);
	E.px->blackhole = false;
	echo_round(10, 10);
	ck_assert_int_eq(E.ends, 0);
	env_teardown();
}
END_TEST

/* Any number of forged ClientHellos: answered statelessly, no peer state. */
START_TEST(spoofed_client_hellos_allocate_nothing)
{
	uint8_t hello[200], reply[512];
	int fd, i, replies = 0;

	env_setup();
	env_server(30);
	fd = udp_socket(tun_server_udp_port(E.srv));
	memset(hello, 0, sizeof(hello));
	hello[0] = 22;			/* handshake */
	hello[1] = 0xfe;		/* DTLS 1.2 */
	hello[2] = 0xfd;
	hello[11] = 0;
	hello[12] = sizeof(hello) - 13;
	hello[13] = 1;			/* ClientHello */
	for (i = 0; i < 200; i++) {
		hello[50] = (uint8_t)i;	/* a forged cookie field */
		ck_assert_int_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
		loop_iterate(E.l, 0);
		ck_assert_uint_eq(tun_server_pending_count(E.srv), 0);
	}
	/* Non-hello junk: dropped without even a reply. */
	memset(hello, 0x17, sizeof(hello));
	ck_assert_int_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
	for (i = 0; i < 10; i++)
		loop_iterate(E.l, 1);
	for (i = 0; i < 400; i++) {
		ssize_t n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);

		if (n < 0)
			break;
		/* HelloVerifyRequest (handshake type 3), smaller than the hello. */
		ck_assert_int_eq(reply[0], 22);
		ck_assert_int_eq(reply[13], 3);
		ck_assert_int_lt(n, 200);
		replies++;
	}
	ck_assert_int_eq(replies, 200);
	ck_assert_uint_eq(tun_server_pending_count(E.srv), 0);
	ck_assert_uint_eq(tun_server_session_count(E.srv), 0);
	close(fd);
	env_teardown();
}
END_TEST

static void expect_refusal(const char *who, int reason, const char *text)
{
	env_setup();
	env_server(30);
	env_client(who, TUN_TRANSPORT_DTLS, false);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.ready, 0);
	ck_assert_int_eq(E.down_reason, reason);
	ck_assert_msg(strstr(E.down_text, text), "'%s' lacks '%s'", E.down_text, text);
	ck_assert_int_eq(E.sessions, 0);
	/* The server said it once, in one line, with the reason. */
	ck_assert_int_eq(E.log_notices, 1);
	ck_assert_msg(strstr(E.last_notice, tun_reason_str(reason)), "%s", E.last_notice);
	env_teardown();
}

START_TEST(expired_certificate)
{
	expect_refusal("dave", TUN_R_CERT_EXPIRED, "expired");
}
END_TEST

START_TEST(unknown_certificate)
{
	expect_refusal("bob", TUN_R_CERT_UNKNOWN, "not registered");
}
END_TEST

START_TEST(revoked_certificate)
{
	expect_refusal("carol", TUN_R_CERT_REVOKED, "revoked");
	ck_assert_uint_eq(strlen(E.revoked_serial) > 0, 1);
}
END_TEST

START_TEST(server_cert_as_client_cert)
{
	expect_refusal("srvclient", TUN_R_CERT_INVALID, "not accepted");
}
END_TEST

START_TEST(server_from_another_ca)
{
	struct tun_client_cfg cc;
	char port[8];

	env_setup();
	env_server(30);
	memset(&cc, 0, sizeof(cc));
	snprintf(port, sizeof(port), "%u", tun_server_udp_port(E.srv));
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.ca_file = tpki_path("rogueca.crt");	/* pinned: not the server's CA */
	cc.cert_file = tpki_path("alice.crt");
	cc.key_file = tpki_path("alice.key");
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_SERVER_CERT);
	ck_assert_msg(strstr(E.down_text, "not issued by the pinned CA"), "%s", E.down_text);
	env_teardown();
}
END_TEST

START_TEST(incompatible_version)
{
	struct tun_client_cfg cc;
	char port[8];

	env_setup();
	env_server(30);
	memset(&cc, 0, sizeof(cc));
	snprintf(port, sizeof(port), "%u", tun_server_udp_port(E.srv));
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.ca_file = tpki_path("ca.crt");
	cc.cert_file = tpki_path("alice.crt");
	cc.key_file = tpki_path("alice.key");
	cc.version_min = 3;
	cc.version_max = 4;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_VERSION);
	ck_assert_msg(strstr(E.down_text, "client speaks versions 3..4, server 2..2"),
		      "%s", E.down_text);
	tun_client_free(E.cli);
	E.cli = NULL;
	/*
	 * A version 1 client (certificate login in the handshake) is told
	 * to update, in words, before anything else happens.
	 */
	E.down = 0;
	cc.version_min = 1;
	cc.version_max = 1;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_VERSION);
	ck_assert_msg(strstr(E.down_text, "client speaks versions 1..1, server 2..2: "
			     "update bgw-cdclient"), "%s", E.down_text);
	ck_assert_int_eq(E.sessions, 0);
	env_teardown();
}
END_TEST

static void password_client_cfg(struct tun_client_cfg *cc, const char *user,
				const char *pw, enum tun_transport tr)
{
	static char port[8];

	memset(cc, 0, sizeof(*cc));
	snprintf(port, sizeof(port), "%u", tr == TUN_TRANSPORT_TLS ?
		 tun_server_tcp_port(E.srv) : tun_server_udp_port(E.srv));
	cc->host = "127.0.0.1";
	cc->port = port;
	cc->transport = tr;
	cc->ca_file = tpki_path("ca.crt");
	cc->user = user;
	cc->password = pw;
	cc->password_len = strlen(pw);
	cc->rel = &fast_rel;
}

static void password_client(const char *user, const char *pw, enum tun_transport tr)
{
	struct tun_client_cfg cc;

	password_client_cfg(&cc, user, pw, tr);
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
}

START_TEST(password_login_scram)
{
	env_setup();
	env_server(30);
	password_client("erin", "correct horse", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_str_eq(E.sess_user, "erin");
	echo_round(100, 20);
	tun_client_free(E.cli);
	E.cli = NULL;
	/* Over TLS too. */
	password_client("erin", "correct horse", TUN_TRANSPORT_TLS);
	RUN_UNTIL(E.ready == 2, 10000);
	env_teardown();
}
END_TEST

START_TEST(password_wrong_and_unknown_user)
{
	char first[400];

	env_setup();
	env_server(30);
	password_client("erin", "battery staple", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_AUTH_FAILED);
	snprintf(first, sizeof(first), "%s", E.down_text);
	tun_client_free(E.cli);
	E.cli = NULL;
	/* An unknown user: the same outcome, the same words. */
	password_client("nobody", "battery staple", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.down == 2, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_AUTH_FAILED);
	ck_assert_str_eq(E.down_text, first);
	ck_assert_int_eq(E.sessions, 0);
	ck_assert_int_eq(E.log_notices, 2);	/* one server line each */
	ck_assert_msg(strstr(E.last_notice, "user nobody: login failed"), "%s", E.last_notice);
	ck_assert_int_eq(E.login_failures, 2);	/* the rate limiter heard */
	tun_client_free(E.cli);
	E.cli = NULL;
	/* The owner's limiter says no: a login is not even tried. */
	E.rate_limited = true;
	password_client("erin", "correct horse", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.down == 3, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_RATE_LIMITED);
	ck_assert_msg(strstr(E.down_text, "try later"), "%s", E.down_text);
	env_teardown();
}
END_TEST

START_TEST(backpressure_end_to_end)
{
	uint8_t b[300];
	uint32_t sent = 0;
	int r = 0, i;

	env_setup();
	env_server(30);
	env_client("alice", TUN_TRANSPORT_DTLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	E.srv_busy = true;
	/* The server takes nothing: the client's queue fills and says so. */
	for (i = 0; i < 5000; i++) {
		r = tun_client_send(E.cli, b, mk_cmd(b, sent, 20));
		if (r == -ENOBUFS)
			break;
		ck_assert_int_eq(r, 0);
		sent++;
		if (sent % 32 == 0)
			loop_iterate(E.l, 1);
	}
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_uint_lt(sent, 5000);
	E.srv_busy = false;
	tun_session_rx_kick(E.sess);
	RUN_UNTIL(E.srv_rx == sent && E.cli_rx == sent, 20000);
	ck_assert_int_ge(E.writable, 1);
	env_teardown();
}
END_TEST

/*
 * A raw channel (the library's own, driven by hand) logs in as alice and
 * then sends a message with an undefined flag bit: that session ends with
 * a protocol error and an ERROR to its peer; the other session goes on.
 */
/* The resume key's length (TUN_KEY_LEN, internal to tunnel/). */
#define RAW_KEY_LEN	32

struct rawpeer {
	struct tun_chan *ch;
	int ready, error_code, down, challenges;
	uint8_t mode;			/* 0: certificate */
	uint8_t sid[TUN_SID_LEN];	/* from READY, or to RESUME */
	/*
	 * RESUME with a real proof made with key (else a made-up one);
	 * got_key: the key exported from this channel at READY, as a
	 * client keeps it for the next resumption.
	 */
	bool real_proof;
	uint8_t rkey[RAW_KEY_LEN], got_key[RAW_KEY_LEN];
	/* Certificate mode: the certificate sent, the key that signs, and how. */
	struct tun_certkey *cert;	/* NULL: alice's, signed with her key */
	struct tun_certkey *key;	/* NULL: the certificate's own */
	enum { SIGN_RIGHT, SIGN_OTHER_CHAL, SIGN_OTHER_EXPORTER, SIGN_TWICE } how;
	char error_text[TUN_TEXT_MAX + 1];
};


/*
 * CERT_PROOF for a CHALLENGE, made as a client would (tunnel/certlogin.h)
 * or wrong in one way: another challenge, another channel's exporter,
 * another key than the certificate's.
 */
static void raw_cert_proof(struct rawpeer *rp, struct tun_chan *ch, const struct tun_msg *m)
{
	const struct tun_certkey *cert = rp->cert ? rp->cert : alice_ck;
	const struct tun_certkey *key = rp->key ? rp->key : cert;
	uint8_t chal[TUN_CHAL_LEN], ex[TUN_EXPORTER_LEN], sig[TUN_CERT_SIG_MAX];
	size_t sig_len = 0, der_len = 0;
	struct tun_msg r;

	memcpy(chal, m->challenge.chal, sizeof(chal));
	ck_assert_int_eq(tun_chan_export(ch, TUN_LABEL_CERT_LOGIN, NULL, 0, ex, sizeof(ex)), 0);
	if (rp->how == SIGN_OTHER_CHAL)
		chal[7] ^= 1;
	if (rp->how == SIGN_OTHER_EXPORTER)
		ck_assert_int_eq(tun_chan_export(ch, "EXPORTER-bgw-resume-key", NULL, 0,
						 ex, sizeof(ex)), 0);
	ck_assert_int_eq(tun_certkey_sign(key, chal, ex, sig, sizeof(sig), &sig_len), 0);
	memset(&r, 0, sizeof(r));
	r.version = TUN_VERSION_MAX;
	r.type = TUN_MSG_CERT_PROOF;
	r.proof.cert = tun_certkey_der(cert, &der_len);
	r.proof.cert_len = (uint16_t)der_len;
	r.proof.sig = sig;
	r.proof.sig_len = (uint16_t)sig_len;
	ck_assert_int_eq(tun_chan_send(ch, &r), 0);
}

static void raw_up(void *user, struct tun_chan *ch)
{
	struct rawpeer *rp = user;
	struct tun_msg m;

	memset(&m, 0, sizeof(m));
	m.version = TUN_HELLO_VERSION;
	m.type = TUN_MSG_HELLO;
	m.hello.vmin = m.hello.vmax = TUN_VERSION_MAX;
	m.hello.mode = rp->mode ? rp->mode : TUN_MODE_CERT;
	ck_assert_int_eq(tun_chan_send(ch, &m), 0);
}

static void raw_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct rawpeer *rp = user;
	struct tun_msg r;

	if (m->type == TUN_MSG_HELLO && rp->mode == TUN_MODE_RESUME) {
		/* The right session id, a proof made without its key. */
		memset(&r, 0, sizeof(r));
		r.version = TUN_VERSION_MAX;
		r.type = TUN_MSG_RESUME;
		memcpy(r.resume.sid, rp->sid, TUN_SID_LEN);
		memset(r.resume.proof, 0x5a, TUN_PROOF_LEN);
		if (rp->real_proof) {
			uint8_t bind[RAW_KEY_LEN];

			ck_assert_int_eq(tun_chan_export(ch, "EXPORTER-bgw-resume-binding",
							 rp->sid, TUN_SID_LEN, bind,
							 sizeof(bind)), 0);
			ck_assert_int_eq(gnutls_hmac_fast(GNUTLS_MAC_SHA256, rp->rkey,
							  RAW_KEY_LEN, bind, sizeof(bind),
							  r.resume.proof), 0);
		}
		ck_assert_int_eq(tun_chan_send(ch, &r), 0);
	}
	if (m->type == TUN_MSG_CHALLENGE) {
		rp->challenges++;
		raw_cert_proof(rp, ch, m);
		/* The challenge is spent: a second proof is a repeat, answered alike. */
		if (rp->how == SIGN_TWICE)
			raw_cert_proof(rp, ch, m);
	}
	if (m->type == TUN_MSG_READY) {
		rp->ready++;
		memcpy(rp->sid, m->ready.sid, TUN_SID_LEN);
		ck_assert_int_eq(tun_chan_export(ch, "EXPORTER-bgw-resume-key", rp->sid,
						 TUN_SID_LEN, rp->got_key,
						 RAW_KEY_LEN), 0);
	}
	if (m->type == TUN_MSG_ERROR) {
		rp->error_code = m->close.code;
		snprintf(rp->error_text, sizeof(rp->error_text), "%s", m->close.text);
	}
}

static void raw_down(void *user, struct tun_chan *ch, int reason)
{
	struct rawpeer *rp = user;

	rp->down++;
	rp->ch = NULL;
}

static const struct tun_chan_ops raw_ops = { raw_up, raw_msg, raw_down };

START_TEST(malformed_message_ends_only_that_session)
{
	static const uint8_t bad[] = { 1, TUN_MSG_HCI, 0x80, 0, 0, 5, 0, 0, 0, 0, 4 };
	struct tun_listen_cfg lc;
	struct tun_creds *cr;
	struct rawpeer rp = { 0 };
	char port[8];

	env_setup();
	env_server(30);
	env_client("alice", TUN_TRANSPORT_DTLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), tpki_path("alice.crt"),
				       tpki_path("alice.key")), 0);
	memset(&lc, 0, sizeof(lc));
	snprintf(port, sizeof(port), "%u", tun_server_udp_port(E.srv));
	lc.l = E.l;
	lc.creds = cr;
	lc.host = "127.0.0.1";
	lc.port = port;
	lc.handshake_ms = 5000;
	lc.ops = &raw_ops;
	lc.user = &rp;
	ck_assert_int_eq(tun_dtls_connect(&rp.ch, &lc), 0);
	RUN_UNTIL(rp.ready == 1 && E.sessions == 2, 10000);
	ck_assert_int_gt(gnutls_record_send(rp.ch->gs, bad, sizeof(bad)), 0);
	RUN_UNTIL(E.ends == 1 && rp.error_code != 0, 10000);
	ck_assert_int_eq(E.end_reason, TUN_R_PROTOCOL);
	ck_assert_int_eq(rp.error_code, TUN_R_PROTOCOL);
	ck_assert_uint_eq(tun_server_session_count(E.srv), 1);
	/* The other session did not notice. */
	echo_round(200, 20);
	ck_assert_int_eq(E.down, 0);
	if (rp.ch)
		tun_chan_destroy(rp.ch);
	loop_iterate(E.l, 0);
	tun_creds_free(cr);
	env_teardown();
}
END_TEST

static void raw_connect(struct rawpeer *rp, struct tun_creds *cr)
{
	struct tun_listen_cfg lc;
	static char port[8];

	memset(&lc, 0, sizeof(lc));
	snprintf(port, sizeof(port), "%u", tun_server_udp_port(E.srv));
	lc.l = E.l;
	lc.creds = cr;
	lc.host = "127.0.0.1";
	lc.port = port;
	lc.handshake_ms = 5000;
	lc.ops = &raw_ops;
	lc.user = rp;
	ck_assert_int_eq(tun_dtls_connect(&rp->ch, &lc), 0);
}

/*
 * Someone who knows a session's id (here: its own, read from READY) but
 * not its resume key cannot take the session over from another channel,
 * even with the same certificate; the session stays with its channel.
 */
START_TEST(resume_needs_the_key_not_just_the_id)
{
	struct tun_creds *cr;
	struct rawpeer owner = { 0 }, thief = { 0 };

	env_setup();
	env_server(30);
	ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), tpki_path("alice.crt"),
				       tpki_path("alice.key")), 0);
	raw_connect(&owner, cr);
	RUN_UNTIL(owner.ready == 1 && E.sessions == 1, 10000);
	thief.mode = TUN_MODE_RESUME;
	memcpy(thief.sid, owner.sid, TUN_SID_LEN);
	raw_connect(&thief, cr);
	RUN_UNTIL(thief.error_code != 0, 10000);
	ck_assert_int_eq(thief.error_code, TUN_R_RESUME_FAILED);
	ck_assert_int_eq(thief.ready, 0);
	ck_assert_int_eq(E.ends, 0);
	ck_assert(tun_session_is_attached(E.sess));
	/* The login, then one line for the attempt. */
	ck_assert_int_eq(E.log_notices, 2);
	ck_assert_msg(strstr(E.last_notice, "user alice: session could not be resumed"),
		      "%s", E.last_notice);
	/* An unknown id: the same answer. */
	memset(&thief, 0, sizeof(thief));
	thief.mode = TUN_MODE_RESUME;
	raw_connect(&thief, cr);
	RUN_UNTIL(thief.error_code != 0, 10000);
	ck_assert_int_eq(thief.error_code, TUN_R_RESUME_FAILED);
	if (owner.ch)
		tun_chan_destroy(owner.ch);
	if (thief.ch)
		tun_chan_destroy(thief.ch);
	loop_iterate(E.l, 0);
	tun_creds_free(cr);
	env_teardown();
}
END_TEST

/*
 * Certificate login (doc/protocol.md 4.6): the certificate alone is not a
 * login. alice's certificate signed with another key, a signature over
 * another challenge, or with another channel's exporter: ERROR 3, no
 * session. A second proof for a spent challenge changes nothing. Then
 * the right proof logs in, over the very same code path.
 */
static void proof_refused(struct tun_creds *cr, struct tun_certkey *key, int how)
{
	struct rawpeer rp = { 0 };

	rp.key = key;
	rp.how = how;
	raw_connect(&rp, cr);
	RUN_UNTIL(rp.error_code != 0, 10000);
	ck_assert_int_eq(rp.error_code, TUN_R_AUTH_FAILED);
	ck_assert_msg(strstr(rp.error_text, "did not sign"), "%s", rp.error_text);
	ck_assert_int_eq(rp.ready, 0);
	ck_assert_int_eq(rp.challenges, 1);
	ck_assert_int_eq(E.sessions, 0);
	if (rp.ch)
		tun_chan_destroy(rp.ch);
	loop_iterate(E.l, 0);
}

START_TEST(cert_login_needs_the_key)
{
	struct tun_certkey *bob = NULL;
	struct tun_creds *cr;
	struct rawpeer rp = { 0 };
	char err[300];

	env_setup();
	env_server(30);
	/* No client certificate in the handshake: it travels in CERT_PROOF. */
	ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), NULL, NULL), 0);
	ck_assert_int_eq(tun_certkey_load(&bob, tpki_path("bob.crt"), tpki_path("bob.key"),
					  err, sizeof(err)), 0);
	/* bob's key is a valid client key of the same CA, not alice's. */
	proof_refused(cr, bob, SIGN_RIGHT);
	proof_refused(cr, NULL, SIGN_OTHER_CHAL);
	proof_refused(cr, NULL, SIGN_OTHER_EXPORTER);
	ck_assert_int_eq(E.login_failures, 3);
	/* Twice over one challenge: one login, the repeat answered with READY again. */
	rp.how = SIGN_TWICE;
	raw_connect(&rp, cr);
	RUN_UNTIL(rp.ready >= 1 && E.sessions == 1, 10000);
	ck_assert_str_eq(E.sess_user, "alice");
	ck_assert_int_eq(rp.error_code, 0);
	ck_assert_int_eq(E.sessions, 1);
	if (rp.ch)
		tun_chan_destroy(rp.ch);
	loop_iterate(E.l, 0);
	tun_certkey_free(bob);
	tun_creds_free(cr);
	env_teardown();
}
END_TEST

/* Resumption over TCP: stream mode resends what the old connection lost. */
/*
 * A resumption whose READY is lost: the client never learns the key the
 * server rotated to, so it must be able to resume again with the key it
 * has, until it shows (by its first message after READY) that it has
 * the new one; from then on the old key is refused. Each hop is a raw
 * channel: the READY "lost" is one its channel never acted on.
 */
static void raw_resume(struct rawpeer *rp, struct tun_creds *cr, const uint8_t *sid,
		       const uint8_t *key)
{
	memset(rp, 0, sizeof(*rp));
	rp->mode = TUN_MODE_RESUME;
	rp->real_proof = true;
	memcpy(rp->sid, sid, TUN_SID_LEN);
	memcpy(rp->rkey, key, RAW_KEY_LEN);
	raw_connect(rp, cr);
	RUN_UNTIL(rp->ready == 1 || rp->error_code != 0, 10000);
}

/* The path is gone: the channel abandoned without close_notify. */
static void raw_vanish(struct rawpeer *rp)
{
	if (rp->ch) {
		rp->ch->ops = NULL;
		tun_chan_drop(rp->ch);
	}
	rp->ch = NULL;
	loop_iterate(E.l, 0);
}

START_TEST(resume_after_a_lost_ready)
{
	struct tun_creds *cr;
	struct rawpeer owner = { 0 }, hop1, hop2, hop3;
	struct tun_msg seg;
	uint8_t cmd[300];

	env_setup();
	env_server(30);
	ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), tpki_path("alice.crt"),
				       tpki_path("alice.key")), 0);
	raw_connect(&owner, cr);
	RUN_UNTIL(owner.ready == 1 && E.sessions == 1, 10000);
	/* hop1 resumes; its READY is "lost": the client keeps owner's key. */
	raw_resume(&hop1, cr, owner.sid, owner.got_key);
	ck_assert_int_eq(hop1.error_code, 0);
	raw_vanish(&hop1);
	/* So hop2 proves with owner's key again: still the session's. */
	raw_resume(&hop2, cr, owner.sid, owner.got_key);
	ck_assert_msg(hop2.ready == 1, "resume with the key before a lost READY: error %d (%s)",
		      hop2.error_code, hop2.error_text);
	ck_assert_int_eq(E.sessions, 1);
	/*
	 * hop2 got its READY: its first message on the session (a command,
	 * the reliable layer's segment 0) shows the server it has the key.
	 */
	memset(&seg, 0, sizeof(seg));
	seg.version = TUN_VERSION_MAX;
	seg.type = TUN_MSG_HCI;
	seg.hci.seq = 0;
	seg.hci.len = (uint16_t)mk_cmd(cmd, 0, 8);
	seg.hci.data = cmd;
	ck_assert_int_eq(tun_chan_send(hop2.ch, &seg), 0);
	RUN_UNTIL(E.srv_rx == 1, 10000);
	raw_vanish(&hop2);
	/* Now the old key is refused, hop2's works. */
	raw_resume(&hop3, cr, owner.sid, owner.got_key);
	ck_assert_int_eq(hop3.error_code, TUN_R_RESUME_FAILED);
	raw_vanish(&hop3);
	raw_resume(&hop3, cr, owner.sid, hop2.got_key);
	ck_assert_int_eq(hop3.ready, 1);
	ck_assert_int_eq(E.sessions, 1);
	ck_assert_int_eq(E.ends, 0);
	raw_vanish(&hop3);
	raw_vanish(&owner);
	tun_creds_free(cr);
	env_teardown();
}
END_TEST

START_TEST(tls_resume)
{
	env_setup();
	env_server(30);
	env_client("alice", TUN_TRANSPORT_TLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(300, 30);
	tun_client_reconnect(E.cli);
	echo_round(300, 30);
	RUN_UNTIL(E.resumed == 1, 10000);
	ck_assert_int_eq(E.sessions, 1);
	ck_assert_int_eq(E.ends, 0);
	env_teardown();
}
END_TEST

/* One host cannot hold every handshake slot: 4 at most from one address. */
START_TEST(pending_cap_per_host)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fds[6], i;

	env_setup();
	env_server(30);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(tun_server_tcp_port(E.srv));
	for (i = 0; i < 6; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		loop_iterate(E.l, 10);
	}
	for (i = 0; i < 5; i++)
		loop_iterate(E.l, 10);
	ck_assert_uint_eq(tun_server_pending_count(E.srv), 4);
	for (i = 0; i < 6; i++)
		close(fds[i]);
	RUN_UNTIL(tun_server_pending_count(E.srv) == 0, 10000);
	/* The slots are free again. */
	env_client("alice", TUN_TRANSPORT_TLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	env_teardown();
}
END_TEST

/* The server's owner shuts down: clients hear an orderly CLOSE. */
START_TEST(server_shutdown_closes_clients)
{
	env_setup();
	env_server(30);
	env_client("alice", TUN_TRANSPORT_DTLS, false);
	RUN_UNTIL(E.ready == 1, 10000);
	tun_server_free(E.srv);
	E.srv = NULL;
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_SHUTDOWN);
	ck_assert_msg(strstr(E.down_text, "server shutting down"), "%s", E.down_text);
	ck_assert_int_eq(E.ends, 0);	/* no callbacks from a freed server */
	env_teardown();
}
END_TEST

/*
 * Logins over a path that loses 20 % of the datagrams from the first
 * handshake on: HELLO, AUTH, RESUME and READY are repeated as needed,
 * the server answers repeats without redoing a step. Two rounds with
 * different loss patterns (fixed seeds): certificate, then password,
 * each followed by a resumption.
 */
START_TEST(logins_over_lossy_path)
{
	struct tun_client_cfg cc;
	char port[8];
	int round;

	env_setup();
	/*
	 * Loss is expected here: do not call a peer dead after 0.5 s. And
	 * as in production (20 s against the client's 10 s login), longer
	 * than the client repeats a login request (handshake_ms below):
	 * while the client still repeats a RESUME whose READY was lost,
	 * the server keeps the link that will answer it.
	 */
	fast_rel.keepalive_us = 200000;
	fast_rel.dead_us = 25000000;
	srv_handshake_ms = 30000;	/* a handshake through 20 % loss is slow */
	env_server(30);
	srv_handshake_ms = 0;
	E.px = px_new(E.l, tun_server_udp_port(E.srv));
	E.px->reorder = true;
	snprintf(port, sizeof(port), "%u", sock_port(E.px->front));
	for (round = 0; round < 2; round++) {
		E.px->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(round + 1);
		E.px->drop_pct = 20;
		if (round % 2 == 0) {
			memset(&cc, 0, sizeof(cc));
			cc.cert_file = tpki_path("alice.crt");
			cc.key_file = tpki_path("alice.key");
		} else {
			password_client_cfg(&cc, "erin", "correct horse", TUN_TRANSPORT_DTLS);
		}
		cc.host = "127.0.0.1";
		cc.port = port;
		cc.ca_file = tpki_path("ca.crt");
		cc.handshake_ms = 20000;
		cc.rel = &fast_rel;
		E.srv_next = 0;
		E.cli_next = 0;
		E.srv_rx = 0;
		E.cli_rx = 0;
		ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
		RUN_UNTIL(E.ready == 2 * round + 1, 30000);
		echo_round(50, 10);
		tun_client_reconnect(E.cli);
		RUN_UNTIL(E.resumed == round + 1, 30000);
		echo_round(50, 10);
		ck_assert_int_eq(E.down, 0);
		/* Let the CLOSE through, or the server waits out resume_s. */
		E.px->drop_pct = 0;
		tun_client_free(E.cli);
		E.cli = NULL;
		RUN_UNTIL(E.ends == round + 1, 30000);
		/* Exactly one session per login, however often HELLO came. */
		ck_assert_int_eq(E.sessions, round + 1);
	}
	env_teardown();
}
END_TEST

/* Two family members at once, one over DTLS, one over TLS. */
START_TEST(two_sessions_at_once)
{
	struct tun_client_cfg cc;
	struct tun_client *c2;
	struct cctr a = { 0, 0 }, b = { 1000000, 0 };
	uint32_t na = 0, nb = 1000000;
	char port[8];
	uint8_t pkt[300];
	uint64_t t0;

	env_setup();
	E.multi = true;
	memset(sctrs, 0, sizeof(sctrs));
	env_server(30);
	memset(&cc, 0, sizeof(cc));
	snprintf(port, sizeof(port), "%u", tun_server_udp_port(E.srv));
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.ca_file = tpki_path("ca.crt");
	cc.cert_file = tpki_path("alice.crt");
	cc.key_file = tpki_path("alice.key");
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, &a), 0);
	password_client_cfg(&cc, "erin", "correct horse", TUN_TRANSPORT_TLS);
	ck_assert_int_eq(tun_client_new(&c2, E.l, &cc, &cli_ops, &b), 0);
	RUN_UNTIL(E.ready == 2 && E.sessions == 2, 10000);
	t0 = loop_now_us();
	while ((na < 2000 || nb < 1002000) && loop_now_us() - t0 < 20000000) {
		if (na < 2000 && tun_client_send(E.cli, pkt, mk_cmd(pkt, na, 30)) == 0)
			na++;
		if (nb < 1002000 && tun_client_send(c2, pkt, mk_cmd(pkt, nb, 30)) == 0)
			nb++;
		loop_iterate(E.l, 0);
	}
	RUN_UNTIL(a.rx == 2000 && b.rx == 2000, 20000);
	ck_assert_uint_eq(E.srv_rx, 4000);
	ck_assert_uint_eq(tun_server_session_count(E.srv), 2);
	tun_client_free(c2);
	RUN_UNTIL(E.ends == 1, 5000);
	ck_assert_uint_eq(tun_server_session_count(E.srv), 1);
	env_teardown();
}
END_TEST

/*
 * TUN_TRANSPORT_AUTO against a gateway that serves TLS over TCP only: DTLS
 * gets no answer, TLS starts after fallback_ms and wins, and the client
 * says so; the session then works as over TLS (stream mode).
 */
START_TEST(auto_falls_back_to_tls)
{
	struct tun_server_cfg sc;
	struct tun_client_cfg cc;
	char port[8];

	env_setup();
	memset(&sc, 0, sizeof(sc));
	sc.host = "127.0.0.1";
	sc.tcp_port = "0";
	sc.ca_file = tpki_path("ca.crt");
	sc.cert_file = tpki_path("server.crt");
	sc.key_file = tpki_path("server.key");
	sc.resume_s = 30;
	sc.handshake_ms = 5000;
	sc.rel = &fast_rel;
	ck_assert_int_eq(tun_server_new(&E.srv, E.l, &sc, &srv_ops, &auth_ops, NULL), 0);
	snprintf(port, sizeof(port), "%u", tun_server_tcp_port(E.srv));
	memset(&cc, 0, sizeof(cc));
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.transport = TUN_TRANSPORT_AUTO;
	cc.fallback_ms = 200;
	cc.ca_file = tpki_path("ca.crt");
	cc.cert_file = tpki_path("alice.crt");
	cc.key_file = tpki_path("alice.key");
	cc.handshake_ms = 3000;
	cc.rel = &fast_rel;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_int_eq(tun_client_transport(E.cli), TUN_TRANSPORT_TLS);
	ck_assert_msg(strstr(E.progress, "trying TLS over TCP as well") &&
		      strstr(E.progress, "using TLS over TCP"), "%s", E.progress);
	echo_round(500, 100);
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}
END_TEST

/* Nobody listens: a clear "unreachable", over UDP and over TCP. */
/*
 * A client channel over a relay path (a socketpair the path shuttles) is
 * named by what it goes through, in tun_chan_peer_str and so in every log
 * line about it: the old code printed "?" (its placeholder address).
 */
static char relay_line[300];

static void relay_log(int prio, const char *line, void *user)
{
	(void)prio;
	(void)user;
	if (strstr(line, "handshake timed out"))
		snprintf(relay_line, sizeof(relay_line), "%s", line);
}

START_TEST(relay_channel_named)
{
	struct tun_listen_cfg lc;
	struct tun_creds *cr;
	struct rawpeer rp = { 0 };
	char buf[80], small[12];
	int sv[2];

	env_setup();
	log_set_handler(relay_log, NULL);
	relay_line[0] = '\0';
	ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), tpki_path("alice.crt"),
				       tpki_path("alice.key")), 0);
	memset(&lc, 0, sizeof(lc));
	lc.l = E.l;
	lc.creds = cr;
	lc.handshake_ms = 300;
	lc.ops = &raw_ops;
	lc.user = &rp;
	/* No name: refused, the descriptor closed all the same. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(tun_dtls_connect_fd(&rp.ch, &lc, sv[0], ""), -EINVAL);
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
	ck_assert_int_eq(tun_dtls_connect_fd(&rp.ch, &lc, sv[1], NULL), -EINVAL);
	ck_assert_int_eq(fcntl(sv[1], F_GETFD), -1);
	/* The other end never answers: the handshake times out, named. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(tun_dtls_connect_fd(&rp.ch, &lc, sv[0], "relay relay.example:4000"), 0);
	ck_assert_ptr_nonnull(rp.ch);
	ck_assert_str_eq(tun_chan_peer_str(rp.ch, buf, sizeof(buf)), "relay relay.example:4000");
	ck_assert_str_eq(tun_chan_peer_str(rp.ch, small, sizeof(small)), "relay relay");
	RUN_UNTIL(rp.down == 1, 10000);
	ck_assert_str_eq(relay_line, "tunnel: relay relay.example:4000: handshake timed out");
	close(sv[1]);
	tun_creds_free(cr);
	env_teardown();
}
END_TEST

START_TEST(nothing_listening)
{
	struct tun_client_cfg cc;
	char port[8];
	int fd;

	env_setup();
	fd = udp_socket(0);	/* a port surely closed to DTLS and TCP */
	snprintf(port, sizeof(port), "%u", sock_port(fd));
	close(fd);
	memset(&cc, 0, sizeof(cc));
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.ca_file = tpki_path("ca.crt");
	cc.cert_file = tpki_path("alice.crt");
	cc.key_file = tpki_path("alice.key");
	cc.handshake_ms = 1000;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_UNREACHABLE);
	ck_assert_msg(strstr(E.down_text, "cannot reach 127.0.0.1 port"), "%s", E.down_text);
	ck_assert_msg(strstr(E.down_text, "DTLS over UDP: no answer"), "%s", E.down_text);
	tun_client_free(E.cli);
	cc.transport = TUN_TRANSPORT_TLS;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.down == 2, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_UNREACHABLE);
	ck_assert_msg(strstr(E.down_text, "TLS over TCP: Connection refused"), "%s",
		      E.down_text);
	tun_client_free(E.cli);
	/* Both: each one's reason, once. */
	cc.transport = TUN_TRANSPORT_AUTO;
	cc.fallback_ms = 100;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
	RUN_UNTIL(E.down == 3, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_UNREACHABLE);
	ck_assert_msg(strstr(E.down_text, "TLS over TCP: Connection refused") &&
		      strstr(E.down_text, "DTLS over UDP: no answer"), "%s", E.down_text);
	env_teardown();
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_link");
	TCase *tc = tcase_create("link");

	tcase_add_unchecked_fixture(tc, tpki_setup, tpki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cert_login_echo_dtls);
	tcase_add_test(tc, tls_fallback);
	tcase_add_test(tc, lossy_reordering_path);
	tcase_add_test(tc, damaged_record_length_costs_one_datagram);
	tcase_add_test(tc, damaged_server_hello_tried_again);
	tcase_add_test(tc, resume_after_source_port_change);
	tcase_add_test(tc, vanished_client_times_out);
	tcase_add_test(tc, silent_client_reported_once);
	tcase_add_test(tc, spoofed_client_hellos_allocate_nothing);
	tcase_add_test(tc, expired_certificate);
	tcase_add_test(tc, unknown_certificate);
	tcase_add_test(tc, revoked_certificate);
	tcase_add_test(tc, server_cert_as_client_cert);
	tcase_add_test(tc, server_from_another_ca);
	tcase_add_test(tc, incompatible_version);
	tcase_add_test(tc, cert_login_needs_the_key);
	tcase_add_test(tc, password_login_scram);
	tcase_add_test(tc, password_wrong_and_unknown_user);
	tcase_add_test(tc, backpressure_end_to_end);
	tcase_add_test(tc, two_sessions_at_once);
	tcase_add_test(tc, logins_over_lossy_path);
	tcase_add_test(tc, malformed_message_ends_only_that_session);
	tcase_add_test(tc, resume_needs_the_key_not_just_the_id);
	tcase_add_test(tc, resume_after_a_lost_ready);
	tcase_add_test(tc, tls_resume);
	tcase_add_test(tc, server_shutdown_closes_clients);
	tcase_add_test(tc, pending_cap_per_host);
	tcase_add_test(tc, nothing_listening);
	tcase_add_test(tc, relay_channel_named);
	tcase_add_test(tc, auto_falls_back_to_tls);
	suite_add_tcase(s, tc);
	return s;
}
