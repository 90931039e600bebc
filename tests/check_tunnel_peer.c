/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd's per-peer split of the tunnel, in one process: a core
 * tun_server (no listeners) takes SOCK_SEQPACKET links from tun_peer
 * instances, each running one client's real (D)TLS channel and login.
 * A small front in the test accepts TLS connections and does the DTLS
 * cookie exchange (RFC 6347 4.2.1) on loopback, then hands each verified
 * peer to a tun_peer, as bgw-muxd's front hands it to a process of its
 * own. Real tun_clients log in, exchange packets, resume through a new
 * peer; raw links (frames written by hand) play a broken or compromised
 * peer process. Waits are bounded by a wall-clock cap only so a bug
 * cannot hang the suite; nothing asserts on timing.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/dtls.h>

#include "check_main.h"
#include "certlogin.h"
#include "chan.h"
#include "client_int.h"
#include "front.h"
#include "hci.h"
#include "link.h"
#include "log.h"
#include "loop.h"
#include "scram.h"
#include "tunnel.h"
#include "tunnel_int.h"
#include "tunnel_pki.h"

/* ---- the environment ---- */

#define MAX_PEERS	8

struct tpeer {
	struct tun_peer *p;
	bool live;
	int done;
	int reason;
	char peer[64];
};

struct env {
	struct loop *l;
	struct tun_server *core;
	struct tun_creds *creds;
	struct tun_server_cfg pcfg;
	struct tun_client *cli;
	/* The test's front. */
	int ufd, tfd;
	uint16_t uport, tport;
	gnutls_datum_t cookie_key;
	struct tpeer peers[MAX_PEERS];
	int npeers;
	/* What get_link labels a link with: NULL name -> unlabelled. */
	const char *force_user;		/* label this user instead of the proven one */
	bool unlabelled;		/* no label at all */
	int links;
	/* Core side. */
	struct tun_session *sess;
	char sess_user[TUN_USER_MAX + 1];
	int sessions, ends, end_reason;
	bool srv_busy;			/* on_packet says -ENOBUFS */
	uint32_t srv_next, srv_rx;
	/* Client side. */
	int ready, resumed, down, down_reason;
	char ready_user[TUN_USER_MAX + 1];
	uint32_t cli_next, cli_rx;
	int cli_acl;
	int login_failures;
	int log_notices;
	char last_notice[400];
};

static struct env E;

static void capture_log(int prio, const char *line, void *user)
{
	if (getenv("TUN_TEST_LOG"))
		fprintf(stderr, "%llu %s\n", (unsigned long long)loop_now_us() / 1000, line);
	if (prio <= LOG_NOTICE) {
		E.log_notices++;
		snprintf(E.last_notice, sizeof(E.last_notice), "%s", line);
	}
}

#define RUN_UNTIL(cond, cap_ms) do {					\
	uint64_t t0_ = loop_now_us();					\
	while (!(cond) && loop_now_us() - t0_ < (uint64_t)(cap_ms) * 1000) \
		loop_iterate(E.l, 10);					\
	ck_assert_msg((cond), "still false: %s", #cond);		\
} while (0)

static void run_ms(unsigned ms)
{
	uint64_t t0 = loop_now_us();

	while (loop_now_us() - t0 < (uint64_t)ms * 1000)
		loop_iterate(E.l, 5);
}

/* A vendor command carrying a counter. */
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

/* ---- core callbacks: echo every command back as an event ---- */

static int srv_on_session(void *user, struct tun_session *s, const char *name)
{
	E.sessions++;
	E.sess = s;
	snprintf(E.sess_user, sizeof(E.sess_user), "%s", name);
	return 0;
}

static int srv_on_packet(void *user, struct tun_session *s, const uint8_t *h4, size_t len)
{
	uint8_t ev[300];
	uint32_t n;
	int r;

	if (E.srv_busy)
		return -ENOBUFS;
	ck_assert_uint_ge(len, 8);
	memcpy(&n, h4 + 4, 4);
	/* In order, exactly once. */
	ck_assert_uint_eq(n, E.srv_next);
	r = h4_build_evt(ev, sizeof(ev), 0xff, h4 + 4, len - 4);
	ck_assert_int_gt(r, 0);
	r = tun_session_send(s, ev, (size_t)r);
	if (r == -ENOBUFS)
		return -ENOBUFS;
	ck_assert_int_eq(r, 0);
	E.srv_next++;
	E.srv_rx++;
	return 0;
}

static void srv_on_writable(void *user, struct tun_session *s)
{
	tun_session_rx_kick(s);
}

static void srv_on_end(void *user, struct tun_session *s, int reason)
{
	E.ends++;
	E.end_reason = reason;
	if (E.sess == s)
		E.sess = NULL;
}

static const struct tun_server_ops srv_ops = {
	.on_session = srv_on_session,
	.on_packet = srv_on_packet,
	.on_session_end = srv_on_end,
	.on_writable = srv_on_writable,
};

/* ---- the peers' login hooks (a peer process asks its monitor) ---- */

static int auth_cert_user(void *user, const struct tun_cert_info *ci, char *name,
			  size_t cap)
{
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

static void auth_login_failed(void *user, const char *name, const void *addr,
			      size_t addrlen, int reason)
{
	E.login_failures++;
}

static const struct tun_auth_ops auth_ops = {
	.cert_user = auth_cert_user,
	.scram_lookup = auth_scram_lookup,
	.login_failed = auth_login_failed,
};

/*
 * get_link: the monitor's part, made here: a socketpair, one end to the
 * core with the label it vouches for (the login the peer proved), the
 * other to the peer.
 */
static int peer_get_link(void *user, const char *name)
{
	struct tpeer *tp = user;
	struct tun_link_label lab;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	memset(&lab, 0, sizeof(lab));
	if (name)
		snprintf(lab.user, sizeof(lab.user), "%s", E.force_user ? E.force_user : name);
	snprintf(lab.peer, sizeof(lab.peer), "%s", tp->peer);
	if (tun_server_add_link(E.core, sv[0], E.unlabelled ? NULL : &lab) < 0) {
		close(sv[1]);
		return -EIO;
	}
	E.links++;
	return sv[1];
}

static void peer_on_done(void *user, int reason)
{
	struct tpeer *tp = user;

	tp->done++;
	tp->reason = reason;
	tp->live = false;
	tun_peer_free(tp->p);
	tp->p = NULL;
}

static const struct tun_peer_ops peer_ops = {
	.get_link = peer_get_link,
	.on_done = peer_on_done,
};

/* What bgw-muxd's front does with a verified peer: a process (here: a tun_peer). */
static void spawn_peer(struct tun_front_peer *fp)
{
	struct tpeer *tp;

	ck_assert_int_lt(E.npeers, MAX_PEERS);
	tp = &E.peers[E.npeers++];
	memset(tp, 0, sizeof(*tp));
	snprintf(tp->peer, sizeof(tp->peer), "test-peer-%d", E.npeers - 1);
	ck_assert_int_eq(tun_peer_new(&tp->p, E.l, E.creds, &E.pcfg, fp, &peer_ops,
				      &auth_ops, tp), 0);
	tp->live = true;
}

static void fr_tcp_cb(struct loop *l, int fd, uint32_t ev, void *user)
{
	struct tun_front_peer *fp = calloc(1, sizeof(*fp));
	int c;

	ck_assert_ptr_nonnull(fp);
	fp->alen = sizeof(fp->addr);
	c = accept4(fd, (struct sockaddr *)&fp->addr, &fp->alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c >= 0) {
		fp->fd = c;
		spawn_peer(fp);
	}
	free(fp);
}

struct cookie_dst {
	int fd;
	const struct sockaddr_storage *addr;
	socklen_t alen;
};

static ssize_t cookie_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct cookie_dst *d = p;

	return sendto(d->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)d->addr, d->alen);
}

/* Is a tun_peer alive for this client address? Its datagrams are not ours. */
static bool addr_has_peer(const struct sockaddr_storage *a)
{
	int i;

	for (i = 0; i < E.npeers; i++) {
		const struct sockaddr_in *x = (const void *)a;
		char s[64];

		snprintf(s, sizeof(s), "udp:%u", ntohs(x->sin_port));
		if (E.peers[i].live && strcmp(E.peers[i].peer, s) == 0)
			return true;
	}
	return false;
}

/* The stateless cookie exchange, then a connected socket for the peer. */
static void fr_udp_cb(struct loop *l, int fd, uint32_t ev, void *user)
{
	struct tun_front_peer *fp = calloc(1, sizeof(*fp));
	struct sockaddr_in me = { .sin_family = AF_INET };
	struct cookie_dst dst;
	int one = 1, s;
	ssize_t n;

	ck_assert_ptr_nonnull(fp);
	fp->alen = sizeof(fp->addr);
	n = recvfrom(fd, fp->first, sizeof(fp->first), MSG_DONTWAIT,
		     (struct sockaddr *)&fp->addr, &fp->alen);
	if (n <= 0 || addr_has_peer(&fp->addr)) {
		free(fp);
		return;
	}
	memset(&fp->pre, 0, sizeof(fp->pre));
	if (gnutls_dtls_cookie_verify(&E.cookie_key, &fp->addr, fp->alen, fp->first,
				      (size_t)n, &fp->pre) < 0) {
		dst.fd = fd;
		dst.addr = &fp->addr;
		dst.alen = fp->alen;
		gnutls_dtls_cookie_send(&E.cookie_key, &fp->addr, fp->alen, &fp->pre,
					&dst, cookie_push);
		free(fp);
		return;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me.sin_port = htons(E.uport);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&fp->addr, fp->alen), 0);
	fp->fd = s;
	fp->dgram = true;
	fp->first_len = (size_t)n;
	spawn_peer(fp);
	/* Its address, to keep retransmitted hellos away from the front. */
	snprintf(E.peers[E.npeers - 1].peer, sizeof(E.peers[0].peer), "udp:%u",
		 ntohs(((struct sockaddr_in *)&fp->addr)->sin_port));
	free(fp);
}

static int listen_sock(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct tun_rel_cfg fast_rel;

static void env_setup(unsigned resume_s)
{
	struct tun_server_cfg sc;

	memset(&E, 0, sizeof(E));
	E.l = loop_new();
	ck_assert_ptr_nonnull(E.l);
	log_set_handler(capture_log, NULL);
	tun_rel_cfg_default(&fast_rel);
	fast_rel.keepalive_us = 100000;
	/*
	 * Client, peers and core share this one process and loop: a stall
	 * of it (a loaded machine deschedules it for half a second and
	 * more) runs the timers before the waiting input is read, and a
	 * 500 ms dead time then declared the channel lost, so a test saw a
	 * second resumption it did not make. 5 s is past such stalls and
	 * still well inside the waits of the test that needs the client to
	 * notice a silent channel (killed_peer_detaches_then_resumes).
	 */
	fast_rel.dead_us = 5000000;
	/* The core: no ports. */
	memset(&sc, 0, sizeof(sc));
	sc.resume_s = resume_s;
	sc.handshake_ms = 5000;
	sc.rel = &fast_rel;
	ck_assert_int_eq(tun_server_new(&E.core, E.l, &sc, &srv_ops, NULL, NULL), 0);
	ck_assert_uint_eq(tun_server_udp_port(E.core), 0);
	/* The peers' credentials, loaded once as bgw-muxd does before forking. */
	memset(&E.pcfg, 0, sizeof(E.pcfg));
	E.pcfg.ca_file = tpki_path("ca.crt");
	E.pcfg.cert_file = tpki_path("server.crt");
	E.pcfg.key_file = tpki_path("server.key");
	E.pcfg.handshake_ms = 5000;
	ck_assert_int_eq(tun_server_creds_new(&E.creds, &E.pcfg, NULL), 0);
	/* The front. */
	ck_assert_int_eq(gnutls_key_generate(&E.cookie_key, GNUTLS_COOKIE_KEY_SIZE), 0);
	E.ufd = listen_sock(SOCK_DGRAM, &E.uport);
	E.tfd = listen_sock(SOCK_STREAM, &E.tport);
	ck_assert_int_eq(loop_add_fd(E.l, E.ufd, EPOLLIN, fr_udp_cb, NULL), 0);
	ck_assert_int_eq(loop_add_fd(E.l, E.tfd, EPOLLIN, fr_tcp_cb, NULL), 0);
}

static void env_teardown(void)
{
	int i;

	tun_client_free(E.cli);
	for (i = 0; i < E.npeers; i++)
		tun_peer_free(E.peers[i].p);
	tun_server_free(E.core);
	for (i = 0; i < 5; i++)
		loop_iterate(E.l, 0);
	tun_server_creds_free(E.creds);
	loop_del_fd(E.l, E.ufd);
	loop_del_fd(E.l, E.tfd);
	close(E.ufd);
	close(E.tfd);
	gnutls_free(E.cookie_key.data);
	loop_free(E.l);
	log_set_handler(NULL, NULL);
}

/* ---- clients ---- */

static void cli_on_ready(void *user, struct tun_client *c, const char *name, bool resumed)
{
	E.ready++;
	if (resumed)
		E.resumed++;
	snprintf(E.ready_user, sizeof(E.ready_user), "%s", name);
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
	ck_assert_uint_ge(len, 7);
	memcpy(&n, h4 + 3, 4);
	ck_assert_uint_eq(n, E.cli_next);
	E.cli_next++;
	E.cli_rx++;
	return 0;
}

static void cli_on_down(void *user, struct tun_client *c, int reason, const char *text)
{
	E.down++;
	E.down_reason = reason;
}

static const struct tun_client_ops cli_ops = {
	.on_ready = cli_on_ready,
	.on_packet = cli_on_packet,
	.on_down = cli_on_down,
};

static void cert_client(const char *who, enum tun_transport tr)
{
	struct tun_client_cfg cc;
	char port[8], crt[64], key[64];

	memset(&cc, 0, sizeof(cc));
	snprintf(port, sizeof(port), "%u", tr == TUN_TRANSPORT_TLS ? E.tport : E.uport);
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

static void password_client(const char *user, const char *pw, enum tun_transport tr)
{
	struct tun_client_cfg cc;
	char port[8];

	memset(&cc, 0, sizeof(cc));
	snprintf(port, sizeof(port), "%u", tr == TUN_TRANSPORT_TLS ? E.tport : E.uport);
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.transport = tr;
	cc.ca_file = tpki_path("ca.crt");
	cc.user = user;
	cc.password = pw;
	cc.password_len = strlen(pw);
	cc.handshake_ms = 3000;
	cc.rel = &fast_rel;
	ck_assert_int_eq(tun_client_new(&E.cli, E.l, &cc, &cli_ops, NULL), 0);
}

/* Send n commands as fast as the window lets us. */
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

/*
 * Until both ends have all sent packets (and, unless resumed < 0, that
 * many resumptions were made), or the cap. A failure says where each
 * end's reliability layer stood, so that a rare stall seen once on a
 * loaded machine can be told apart from a slow run (retransmissions,
 * RTO and RTT of each side).
 */
static void wait_caught_up(uint32_t sent, int resumed, unsigned cap_ms)
{
	uint64_t t0 = loop_now_us();
	struct tun_rel_stats c, s;

	while (!(E.cli_rx == sent && E.srv_rx == sent &&
		 (resumed < 0 || E.resumed == resumed)) &&
	       loop_now_us() - t0 < (uint64_t)cap_ms * 1000)
		loop_iterate(E.l, 10);
	if (E.cli_rx == sent && E.srv_rx == sent && (resumed < 0 || E.resumed == resumed))
		return;
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	if (E.cli)
		tun_client_get_stats(E.cli, &c);
	if (E.sess)
		tun_session_get_stats(E.sess, &s);
	ck_abort_msg("not caught up after %u ms: sent %u, server got %u, client got %u, "
		     "resumed %d (want %d); client sent %llu retx %llu probe %llu rcvd %llu "
		     "dup %llu rto %llu us srtt %llu us; server sent %llu retx %llu probe %llu "
		     "rcvd %llu dup %llu rto %llu us srtt %llu us",
		     cap_ms, sent, E.srv_rx, E.cli_rx, E.resumed, resumed,
		     (unsigned long long)c.seg_sent, (unsigned long long)c.seg_retx,
		     (unsigned long long)c.seg_probe, (unsigned long long)c.seg_rcvd,
		     (unsigned long long)c.seg_dup, (unsigned long long)c.rto_us,
		     (unsigned long long)c.srtt_us,
		     (unsigned long long)s.seg_sent, (unsigned long long)s.seg_retx,
		     (unsigned long long)s.seg_probe, (unsigned long long)s.seg_rcvd,
		     (unsigned long long)s.seg_dup, (unsigned long long)s.rto_us,
		     (unsigned long long)s.srtt_us);
}

static void echo_round(uint32_t n, size_t plen)
{
	uint32_t sent = E.srv_next;

	pump(&sent, sent + n, plen);
	wait_caught_up(sent, -1, 20000);
}

static int live_peers(void)
{
	int i, n = 0;

	for (i = 0; i < E.npeers; i++)
		n += E.peers[i].live;
	return n;
}

/* ---- raw links: a peer process played by hand ---- */

static int raw_link(const char *user)
{
	struct tun_link_label lab;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv), 0);
	memset(&lab, 0, sizeof(lab));
	snprintf(lab.peer, sizeof(lab.peer), "raw");
	if (user)
		snprintf(lab.user, sizeof(lab.user), "%s", user);
	ck_assert_int_eq(tun_server_add_link(E.core, sv[0], user ? &lab : NULL), 0);
	return sv[1];
}

static void raw_send(int fd, const struct tun_link_frame *f)
{
	uint8_t b[TUN_LINK_FRAME_MAX];
	int n = tun_link_encode(f, b, sizeof(b));

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(send(fd, b, (size_t)n, 0), n);
}

static void raw_attach(int fd, uint8_t sid_byte)
{
	struct tun_link_frame f = { .type = TUN_LF_ATTACH };

	f.attach.version = TUN_VERSION_MAX;
	memset(f.attach.sid, sid_byte, TUN_SID_LEN);
	memset(f.attach.key, 0x33, TUN_KEY_LEN);
	raw_send(fd, &f);
}

/*
 * The next frame from the core, decoded; 0 and f, or -EPIPE at EOF;
 * waits at most cap_ms. The messages of a MSGS_DOWN come one by one, as
 * the MSG_DOWN frames they were queued as (into b, TUN_LINK_FRAME_MAX
 * bytes at least).
 */
static int raw_recv(int fd, struct tun_link_frame *f, uint8_t *b, unsigned cap_ms)
{
	static uint8_t rb[TUN_LINK_DGRAM_MAX + 1];
	static struct tun_link_frame pend;
	static size_t pend_at;
	static int pend_fd = -1;
	uint64_t t0 = loop_now_us();
	const uint8_t *d;
	size_t len;
	ssize_t n;

	for (;;) {
		if (pend_fd == fd && tun_link_msgs_next(&pend, &pend_at, &d, &len)) {
			b[0] = TUN_LF_MSG_DOWN;
			memcpy(b + 1, d, len);
			ck_assert_int_eq(tun_link_decode(f, b, len + 1, TUN_LINK_TO_PEER), 0);
			return 0;
		}
		pend_fd = -1;
		n = recv(fd, rb, sizeof(rb), MSG_DONTWAIT);
		if (n == 0)
			return -EPIPE;
		if (n > 0) {
			ck_assert_int_lt(n, (ssize_t)sizeof(rb));
			ck_assert_int_eq(tun_link_decode(f, rb, (size_t)n, TUN_LINK_TO_PEER), 0);
			if (f->type == TUN_LF_MSGS_DOWN) {
				pend = *f;
				pend_at = 0;
				pend_fd = fd;
				continue;
			}
			memcpy(b, rb, (size_t)n);
			return tun_link_decode(f, b, (size_t)n, TUN_LINK_TO_PEER);
		}
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_msg(loop_now_us() - t0 < (uint64_t)cap_ms * 1000, "no frame");
		loop_iterate(E.l, 5);
	}
}

/* ================= the codec ================= */

START_TEST(codec_roundtrip_and_strictness)
{
	struct tun_link_frame f, g;
	uint8_t b[TUN_LINK_FRAME_MAX + 8], m[TUN_MSG_MAX];
	struct tun_msg tm;
	int n, k;

	/* ATTACH: exact length, and every shorter or longer form refused. */
	memset(&f, 0, sizeof(f));
	f.type = TUN_LF_ATTACH;
	f.attach.version = TUN_VERSION_MAX;
	f.attach.stream = true;
	memset(f.attach.sid, 7, TUN_SID_LEN);
	memset(f.attach.key, 9, TUN_KEY_LEN);
	n = tun_link_encode(&f, b, sizeof(b));
	ck_assert_int_eq(n, 3 + TUN_SID_LEN + TUN_KEY_LEN);
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_CORE), 0);
	ck_assert(g.attach.stream);
	ck_assert_int_eq(memcmp(g.attach.key, f.attach.key, TUN_KEY_LEN), 0);
	for (k = 0; k < n; k++)
		ck_assert_int_eq(tun_link_decode(&g, b, (size_t)k, TUN_LINK_TO_CORE), -EBADMSG);
	b[n] = 0;
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n + 1, TUN_LINK_TO_CORE), -EBADMSG);
	/* The wrong direction: a core never takes what it sends, and back. */
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), -EPROTONOSUPPORT);
	/* Out of range: version 0 or one past the newest, stream 2. */
	b[1] = 0;
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_CORE), -EPROTO);
	b[1] = TUN_VERSION_MAX + 1;
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_CORE), -EPROTO);
	b[1] = TUN_VERSION_MAX;
	b[2] = 2;
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_CORE), -EPROTO);

	/* RESUME */
	memset(&f, 0, sizeof(f));
	f.type = TUN_LF_RESUME;
	f.resume.version = TUN_VERSION_MAX;
	memset(f.resume.proof, 5, TUN_PROOF_LEN);
	n = tun_link_encode(&f, b, sizeof(b));
	ck_assert_int_eq(n, 3 + TUN_SID_LEN + 3 * 32);
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_CORE), 0);
	ck_assert_int_eq(g.resume.proof[31], 5);
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n - 1, TUN_LINK_TO_CORE), -EBADMSG);

	/* OK: the user string, clean, 1..64 bytes. */
	memset(&f, 0, sizeof(f));
	f.type = TUN_LF_OK;
	f.ok.resumed = true;
	f.ok.resume_s = 30;
	snprintf(f.ok.user, sizeof(f.ok.user), "alice");
	n = tun_link_encode(&f, b, sizeof(b));
	ck_assert_int_eq(n, 5 + 5);
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), 0);
	ck_assert_str_eq(g.ok.user, "alice");
	ck_assert(g.ok.resumed);
	ck_assert_int_eq(g.ok.resume_s, 30);
	b[6] = '\0';		/* an embedded NUL */
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), -EPROTO);
	b[6] = '\n';		/* a forged log line */
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), -EPROTO);
	b[6] = 'l';
	b[4] = 6;		/* the length claims more than is there */
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), -EBADMSG);
	b[4] = 4;		/* ... or less: trailing bytes */
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), -EBADMSG);
	b[4] = 0;		/* an empty user */
	ck_assert_int_eq(tun_link_decode(&g, b, 5, TUN_LINK_TO_PEER), -EPROTO);
	b[4] = 5;
	b[2] = 0;		/* resume_s 0 */
	b[3] = 0;
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), -EPROTO);
	f.ok.resume_s = 0;
	ck_assert_int_eq(tun_link_encode(&f, b, sizeof(b)), -EINVAL);

	/* DOWN, FAIL, END, DROP */
	b[0] = TUN_LF_DOWN;
	b[1] = 0;
	ck_assert_int_eq(tun_link_decode(&g, b, 2, TUN_LINK_TO_CORE), -EPROTO);
	b[1] = TUN_R_PEER_DEAD;
	ck_assert_int_eq(tun_link_decode(&g, b, 2, TUN_LINK_TO_CORE), 0);
	ck_assert_int_eq(tun_link_decode(&g, b, 1, TUN_LINK_TO_CORE), -EBADMSG);
	b[0] = TUN_LF_FAIL;
	ck_assert_int_eq(tun_link_decode(&g, b, 2, TUN_LINK_TO_PEER), -EPROTO); /* local code */
	b[1] = TUN_R_RESUME_FAILED;
	ck_assert_int_eq(tun_link_decode(&g, b, 2, TUN_LINK_TO_PEER), 0);
	b[0] = TUN_LF_END;
	ck_assert_int_eq(tun_link_decode(&g, b, 1, TUN_LINK_TO_PEER), 0);
	ck_assert_int_eq(tun_link_decode(&g, b, 2, TUN_LINK_TO_PEER), -EBADMSG);
	b[0] = 0x7f;
	ck_assert_int_eq(tun_link_decode(&g, b, 1, TUN_LINK_TO_PEER), -EPROTONOSUPPORT);
	ck_assert_int_eq(tun_link_decode(&g, b, 0, TUN_LINK_TO_PEER), -EBADMSG);

	/* MSG: exactly one valid tunnel message of a session's types. */
	memset(&tm, 0, sizeof(tm));
	tm.version = TUN_VERSION_MAX;
	tm.type = TUN_MSG_KEEPALIVE;
	n = tun_msg_encode(&tm, m, sizeof(m));
	ck_assert_int_gt(n, 0);
	k = tun_link_encode_msg(TUN_LF_MSG_UP, m, (size_t)n, b, sizeof(b));
	ck_assert_int_eq(k, n + 1);
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)k, TUN_LINK_TO_CORE), 0);
	ck_assert_int_eq(g.msg.msg_type, TUN_MSG_KEEPALIVE);
	ck_assert_uint_eq(g.msg.len, (size_t)n);
	/* Two messages in one frame. */
	memcpy(b + k, m, (size_t)n);
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)(k + n), TUN_LINK_TO_CORE), -EPROTO);
	/* A truncated one. */
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)k - 1, TUN_LINK_TO_CORE), -EBADMSG);
	/* A login message never crosses the link. */
	memset(&tm, 0, sizeof(tm));
	tm.version = TUN_VERSION_MAX;
	tm.type = TUN_MSG_RESUME;
	n = tun_msg_encode(&tm, m, sizeof(m));
	ck_assert_int_gt(n, 0);
	k = tun_link_encode_msg(TUN_LF_MSG_UP, m, (size_t)n, b, sizeof(b));
	ck_assert_int_eq(tun_link_decode(&g, b, (size_t)k, TUN_LINK_TO_CORE), -EPROTO);
	/* Oversized: more than any frame. */
	memset(b, TUN_LF_MSG_UP, sizeof(b));
	ck_assert_int_eq(tun_link_decode(&g, b, TUN_LINK_FRAME_MAX + 1, TUN_LINK_TO_CORE),
			 -EBADMSG);
}
END_TEST

/* ================= end to end ================= */

/* An encoded HCI message carrying a command of plen parameter bytes. */
static size_t mk_hci_msg(uint8_t *out, uint32_t seq, size_t plen)
{
	uint8_t h4[300];
	struct tun_msg m;
	int n;

	tun_msg_init(&m, TUN_VERSION_MAX, TUN_MSG_HCI);
	m.hci.seq = seq;
	m.hci.len = (uint16_t)mk_cmd(h4, seq, plen);
	m.hci.data = h4;
	n = tun_msg_encode(&m, out, TUN_MSG_MAX);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

/*
 * MSGS (peer -> core): 2..TUN_LINK_MSGS_MAX whole messages with their
 * lengths, checked whole before any is used: a truncated, overlong or
 * trailing entry, a login message, a frame of one or too many, the
 * wrong direction -- all refused, none half taken.
 */
START_TEST(msgs_codec_bounds)
{
	static uint8_t b[TUN_LINK_DGRAM_MAX + 8], big[TUN_LINK_DGRAM_MAX + 8];
	uint8_t m1[TUN_MSG_MAX], m2[TUN_MSG_MAX], hello[TUN_MSG_MAX], *e;
	struct tun_link_frame g;
	struct tun_msg h;
	size_t used = 0, n1, n2, nh, at = 0, len, k;
	const uint8_t *p;
	unsigned count = 0, i;
	int n;

	n1 = mk_hci_msg(m1, 1, 10);
	n2 = mk_hci_msg(m2, 2, 200);
	tun_msg_init(&h, TUN_HELLO_VERSION, TUN_MSG_HELLO);
	h.hello.vmin = 1;
	h.hello.vmax = 1;
	n = tun_msg_encode(&h, hello, sizeof(hello));
	ck_assert_int_gt(n, 0);
	nh = (size_t)n;
	/* Two messages: both back, in order, byte for byte. */
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, n1), 0);
	ck_assert_int_eq(b[0], TUN_LF_MSGS_UP);
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m2, n2), 0);
	ck_assert_uint_eq(used, 1 + 2 + n1 + 2 + n2);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), 0);
	ck_assert_int_eq(g.type, TUN_LF_MSGS_UP);
	ck_assert_uint_eq(g.msgs.count, 2);
	ck_assert_int_eq(tun_link_msgs_next(&g, &at, &p, &len), 1);
	ck_assert_uint_eq(len, n1);
	ck_assert_mem_eq(p, m1, n1);
	ck_assert_int_eq(tun_link_msgs_next(&g, &at, &p, &len), 1);
	ck_assert_uint_eq(len, n2);
	ck_assert_mem_eq(p, m2, n2);
	ck_assert_int_eq(tun_link_msgs_next(&g, &at, &p, &len), 0);
	/* Encoded back from the decoded frame: the same bytes. */
	ck_assert_int_eq(tun_link_encode(&g, big, sizeof(big)), (int)used);
	ck_assert_mem_eq(big, b, used);
	ck_assert_int_eq(tun_link_encode(&g, big, used - 1), -ENOSPC);
	/* The core's direction only. */
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_PEER), -EPROTONOSUPPORT);
	/* The same body as MSGS_DOWN: the peer's direction only. */
	b[0] = TUN_LF_MSGS_DOWN;
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_PEER), 0);
	ck_assert_uint_eq(g.msgs.count, 2);
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), -EPROTONOSUPPORT);
	b[0] = TUN_LF_MSGS_UP;
	/* Every truncation refused; a trailing byte too. */
	for (k = 1; k < used; k++)
		ck_assert_int_lt(tun_link_decode(&g, b, k, TUN_LINK_TO_CORE), 0);
	b[used] = 0;
	ck_assert_int_lt(tun_link_decode(&g, b, used + 1, TUN_LINK_TO_CORE), 0);
	/* An entry's length one more, one less than its message. */
	b[2] = (uint8_t)(n1 + 1);
	ck_assert_int_lt(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), 0);
	b[2] = (uint8_t)(n1 - 1);
	ck_assert_int_lt(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), 0);
	b[2] = (uint8_t)n1;
	/* Shorter than a header; longer than any message. */
	b[1] = 0;
	b[2] = TUN_HDR_LEN - 1;
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), -EBADMSG);
	b[1] = (uint8_t)((TUN_MSG_MAX + 1) >> 8);
	b[2] = (uint8_t)(TUN_MSG_MAX + 1);
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), -EBADMSG);
	/* One message is a MSG's job; none at all. */
	used = 0;
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, n1), 0);
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), -EPROTO);
	ck_assert_int_lt(tun_link_decode(&g, b, 1, TUN_LINK_TO_CORE), 0);
	/* A login message among them (the peer's business, never the core's). */
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, hello, nh), 0);
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), -EPROTO);
	/* A message that does not parse (its own body length off by one). */
	used = 0;
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, n1), 0);
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m2, n2), 0);
	e = b + 1 + 2 + n1 + 2;		/* the second message */
	e[TUN_HDR_LEN - 1] ^= 1;
	ck_assert_int_lt(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), 0);
	/* TUN_LINK_MSGS_MAX at most: the builder says so, the decoder too. */
	used = 0;
	for (i = 0; i < TUN_LINK_MSGS_MAX; i++)
		ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, n1), 0);
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, n1), -ENOSPC);
	ck_assert_int_eq(tun_link_decode(&g, b, used, TUN_LINK_TO_CORE), 0);
	ck_assert_uint_eq(g.msgs.count, TUN_LINK_MSGS_MAX);
	b[used] = 0;
	b[used + 1] = (uint8_t)n1;
	memcpy(b + used + 2, m1, n1);
	ck_assert_int_eq(tun_link_decode(&g, b, used + 2 + n1, TUN_LINK_TO_CORE), -EPROTO);
	/* The builder: no room, a length out of range. */
	used = 0;
	ck_assert_int_eq(tun_link_msgs_add(b, 1 + 2 + n1 - 1, &used, &count, m1, n1), -ENOSPC);
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, TUN_HDR_LEN - 1),
			 -EINVAL);
	ck_assert_int_eq(tun_link_msgs_add(b, sizeof(b), &used, &count, m1, TUN_MSG_MAX + 1),
			 -EINVAL);
	/* Longer than any frame; and a MSG longer than a MSG may be. */
	memset(big, 0, sizeof(big));
	big[0] = TUN_LF_MSGS_UP;
	ck_assert_int_eq(tun_link_decode(&g, big, TUN_LINK_DGRAM_MAX + 1, TUN_LINK_TO_CORE),
			 -EBADMSG);
	big[0] = TUN_LF_MSG_UP;
	ck_assert_int_eq(tun_link_decode(&g, big, TUN_LINK_FRAME_MAX + 1, TUN_LINK_TO_CORE),
			 -EBADMSG);
}
END_TEST

START_TEST(cert_login_dtls_through_peer)
{
	const struct tun_link_label *lab;
	char peer[80];

	env_setup(30);
	cert_client("alice", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_int_eq(E.sessions, 1);
	ck_assert_str_eq(E.sess_user, "alice");
	ck_assert_str_eq(E.ready_user, "alice");
	ck_assert_int_eq(E.links, 1);
	ck_assert_uint_eq(tun_server_session_count(E.core), 1);
	ck_assert_uint_eq(tun_server_pending_count(E.core), 0);
	lab = tun_session_label(E.sess);
	ck_assert_str_eq(lab->user, "alice");
	ck_assert_str_eq(tun_session_peer(E.sess, peer, sizeof(peer)), E.peers[0].peer);
	echo_round(1000, 40);
	echo_round(50, 255);
	ck_assert_int_eq(E.down, 0);
	/* An orderly close from the client ends the session and the peer. */
	tun_client_free(E.cli);
	E.cli = NULL;
	RUN_UNTIL(E.ends == 1 && E.peers[0].done == 1, 5000);
	ck_assert_int_eq(E.end_reason, TUN_R_SHUTDOWN);
	env_teardown();
}
END_TEST

/*
 * The core's messages that reach a peer process together go to the
 * client in shared records (a record holds one or more whole messages,
 * doc/protocol.md section 3): 300 echoed events, each of which was a
 * record of its own, now take fewer records than events, and every one
 * still arrives once, in order (cli_on_packet checks).
 */
START_TEST(core_messages_share_records)
{
	enum tun_transport tr = _i ? TUN_TRANSPORT_TLS : TUN_TRANSPORT_DTLS;
	uint64_t r0;
	uint32_t e0;

	env_setup(30);
	cert_client("alice", tr);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_ptr_nonnull(E.cli->ch);
	r0 = E.cli->ch->rx_records;
	e0 = E.cli_rx;
	echo_round(300, 8);
	ck_assert_uint_eq(E.cli_rx - e0, 300);
	ck_assert_uint_lt(E.cli->ch->rx_records - r0, 300);
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}
END_TEST

/*
 * The other way: the client's messages a peer process reads in one loop
 * turn reach the core in one MSGS frame (one send, one wake-up): 300
 * commands, each in a record of its own, arrive at the core in order
 * (srv_on_packet checks) in fewer than 300 datagrams.
 */
START_TEST(client_messages_share_link_frames)
{
	enum tun_transport tr = _i ? TUN_TRANSPORT_TLS : TUN_TRANSPORT_DTLS;
	uint64_t f0;
	uint32_t c0;

	env_setup(30);
	cert_client("alice", tr);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_ptr_nonnull(E.sess);
	ck_assert_ptr_nonnull(E.sess->link);
	f0 = E.sess->link->io.rx_frames;
	c0 = E.srv_rx;
	echo_round(300, 8);
	ck_assert_uint_eq(E.srv_rx - c0, 300);
	ck_assert_uint_lt(E.sess->link->io.rx_frames - f0, 300);
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}
END_TEST

START_TEST(scram_login_tls_through_peer)
{
	env_setup(30);
	password_client("erin", "correct horse", TUN_TRANSPORT_TLS);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_str_eq(E.sess_user, "erin");
	ck_assert_str_eq(tun_session_label(E.sess)->user, "erin");
	echo_round(1000, 100);
	ck_assert_int_eq(E.down, 0);
	/* The core ends it: CLOSE relayed, close_notify, the peer is over. */
	tun_session_close(E.sess, 0);
	RUN_UNTIL(E.down == 1 && E.peers[0].done == 1, 5000);
	ck_assert_int_eq(E.down_reason, TUN_R_SHUTDOWN);
	ck_assert_int_eq(E.peers[0].reason, TUN_R_SHUTDOWN);
	tun_client_free(E.cli);
	E.cli = NULL;
	/* A wrong password through a peer: refused there, counted there. */
	password_client("erin", "battery staple", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.down == 2, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_AUTH_FAILED);
	ck_assert_int_eq(E.login_failures, 1);
	ck_assert_int_eq(E.links, 1);		/* no link for a failed login */
	env_teardown();
}
END_TEST

/*
 * The core never takes a user from a peer process: the session is the
 * label's, whatever the peer proved or would claim.
 */
START_TEST(label_user_wins)
{
	int fd;

	env_setup(30);
	E.force_user = "mallory";
	cert_client("alice", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_str_eq(E.sess_user, "mallory");
	ck_assert_str_eq(tun_session_user(E.sess), "mallory");
	ck_assert_str_eq(tun_session_label(E.sess)->user, "mallory");
	/* READY carries the core's word too. */
	ck_assert_str_eq(E.ready_user, "mallory");
	echo_round(20, 10);
	/* A raw peer on a link labelled bob: ATTACH has no name to claim. */
	fd = raw_link("bob");
	raw_attach(fd, 0x42);
	RUN_UNTIL(E.sessions == 2, 5000);
	ck_assert_str_eq(E.sess_user, "bob");
	close(fd);
	env_teardown();
}
END_TEST

START_TEST(unlabelled_link_may_not_attach)
{
	struct tun_link_frame f;
	uint8_t b[TUN_LINK_FRAME_MAX];
	int fd;

	env_setup(30);
	fd = raw_link(NULL);
	raw_attach(fd, 0x11);
	ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
	ck_assert_int_eq(f.type, TUN_LF_FAIL);
	ck_assert_int_eq(f.reason.reason, TUN_R_PROTOCOL);
	ck_assert_int_eq(raw_recv(fd, &f, b, 5000), -EPIPE);
	ck_assert_int_eq(E.sessions, 0);
	ck_assert_uint_eq(tun_server_pending_count(E.core), 0);
	close(fd);
	/* Through a real peer: the client hears of it, no session is made. */
	E.unlabelled = true;
	cert_client("alice", TUN_TRANSPORT_TLS);
	RUN_UNTIL(E.down == 1, 10000);
	ck_assert_int_eq(E.down_reason, TUN_R_PROTOCOL);
	ck_assert_int_eq(E.sessions, 0);
	ck_assert_int_eq(E.ready, 0);
	RUN_UNTIL(E.peers[0].done == 1, 5000);
	env_teardown();
}
END_TEST

static void resume_over_second_peer(enum tun_transport tr)
{
	uint32_t sent;

	env_setup(30);
	cert_client("alice", tr);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(300, 40);
	/* A path change with packets in flight: a new channel, a new peer. */
	tun_client_reconnect(E.cli);
	sent = E.srv_next;
	pump(&sent, sent + 300, 40);
	wait_caught_up(sent, 1, 20000);
	ck_assert_int_eq(E.sessions, 1);	/* the same session */
	ck_assert_int_eq(E.ends, 0);
	ck_assert_int_ge(E.npeers, 2);
	ck_assert_int_eq(E.links, 2);
	/* The old peer got DROP (or its channel died first): over, quietly. */
	RUN_UNTIL(E.peers[0].done == 1, 5000);
	ck_assert_int_eq(live_peers(), 1);
	ck_assert_str_eq(tun_session_label(E.sess)->user, "alice");
	echo_round(300, 40);
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}

START_TEST(resume_over_second_peer_dtls)
{
	resume_over_second_peer(TUN_TRANSPORT_DTLS);
}
END_TEST

START_TEST(resume_over_second_peer_tls)
{
	resume_over_second_peer(TUN_TRANSPORT_TLS);
}
END_TEST

/* The old link is replaced: the core sends it DROP, never END. */
START_TEST(resume_drops_old_link)
{
	struct tun_link_frame f;
	uint8_t b[TUN_LINK_FRAME_MAX];
	int fd;

	env_setup(30);
	/*
	 * Played by hand to see every frame: a link attaches a session with
	 * a key it chose, a second link resumes it with a proof made with
	 * that key.
	 */
	fd = raw_link("bob");
	raw_attach(fd, 0x77);
	ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
	ck_assert_int_eq(f.type, TUN_LF_OK);
	ck_assert(!f.ok.resumed);
	ck_assert_str_eq(f.ok.user, "bob");
	{
		struct tun_link_frame r = { .type = TUN_LF_RESUME };
		int fd2 = raw_link(NULL);
		uint8_t key[TUN_KEY_LEN];

		r.resume.version = TUN_VERSION_MAX;
		memset(r.resume.sid, 0x77, TUN_SID_LEN);
		memset(r.resume.bind, 0x21, TUN_KEY_LEN);
		memset(key, 0x33, TUN_KEY_LEN);
		ck_assert_int_eq(gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, TUN_KEY_LEN,
						  r.resume.bind, TUN_KEY_LEN,
						  r.resume.proof), 0);
		memset(r.resume.new_key, 0x44, TUN_KEY_LEN);
		raw_send(fd2, &r);
		ck_assert_int_eq(raw_recv(fd2, &f, b, 5000), 0);
		ck_assert_int_eq(f.type, TUN_LF_OK);
		ck_assert(f.ok.resumed);
		ck_assert_str_eq(f.ok.user, "bob");
		/* The old link: DROP, then EOF. */
		do {
			ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
		} while (f.type == TUN_LF_MSG_DOWN);
		ck_assert_int_eq(f.type, TUN_LF_DROP);
		ck_assert_int_eq(raw_recv(fd, &f, b, 5000), -EPIPE);
		close(fd);
		/*
		 * Until the client shows it has the new key, the old one
		 * still resumes (the READY may have been lost, and the client
		 * has no other): a third link with the same proof, and the
		 * second one is dropped in turn.
		 */
		fd = raw_link(NULL);
		raw_send(fd, &r);
		ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
		ck_assert_int_eq(f.type, TUN_LF_OK);
		ck_assert(f.ok.resumed);
		do {
			ck_assert_int_eq(raw_recv(fd2, &f, b, 5000), 0);
		} while (f.type == TUN_LF_MSG_DOWN);
		ck_assert_int_eq(f.type, TUN_LF_DROP);
		close(fd2);
		/*
		 * The client's first message on the session (a KEEPALIVE,
		 * answered by an ACK) confirms the new key; from then on the
		 * old one is refused.
		 */
		{
			struct tun_msg ka = { .version = TUN_VERSION_MAX,
					      .type = TUN_MSG_KEEPALIVE };
			struct tun_link_frame up = { .type = TUN_LF_MSG_UP };
			uint8_t m[64];
			int n = tun_msg_encode(&ka, m, sizeof(m));

			ck_assert_int_gt(n, 0);
			up.msg.data = m;
			up.msg.len = (size_t)n;
			up.msg.msg_type = TUN_MSG_KEEPALIVE;
			raw_send(fd, &up);
			do {
				ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
				ck_assert_int_eq(f.type, TUN_LF_MSG_DOWN);
			} while (f.msg.msg_type != TUN_MSG_ACK);
		}
		fd2 = raw_link(NULL);
		raw_send(fd2, &r);
		ck_assert_int_eq(raw_recv(fd2, &f, b, 5000), 0);
		ck_assert_int_eq(f.type, TUN_LF_FAIL);
		ck_assert_int_eq(f.reason.reason, TUN_R_RESUME_FAILED);
		close(fd2);
	}
	ck_assert_int_eq(E.ends, 0);
	close(fd);
	env_teardown();
}
END_TEST

/*
 * A client that knows the session id but not the key: the core refuses,
 * the peer refuses its client with RESUME_FAILED and counts it.
 */
struct rawcli {
	struct tun_chan *ch;
	uint8_t mode;			/* 0: resume */
	uint8_t sid[TUN_SID_LEN];
	int error_code, down, ready;
};

static void rc_up(void *user, struct tun_chan *ch)
{
	struct rawcli *rc = user;
	struct tun_msg m;

	memset(&m, 0, sizeof(m));
	m.version = TUN_HELLO_VERSION;
	m.type = TUN_MSG_HELLO;
	m.hello.vmin = m.hello.vmax = TUN_VERSION_MAX;
	m.hello.mode = rc->mode ? rc->mode : TUN_MODE_RESUME;
	ck_assert_int_eq(tun_chan_send(ch, &m), 0);
}

static void rc_msg(void *user, struct tun_chan *ch, const struct tun_msg *m)
{
	struct rawcli *rc = user;
	struct tun_msg r;

	if (m->type == TUN_MSG_READY)
		rc->ready++;
	if (m->type == TUN_MSG_CHALLENGE) {
		/* alice's proof, as her client makes it (tunnel/certlogin.h). */
		struct tun_certkey *ck = NULL;
		uint8_t ex[TUN_EXPORTER_LEN], sig[TUN_CERT_SIG_MAX];
		size_t sig_len = 0, der_len = 0;
		char err[300];

		ck_assert_int_eq(tun_certkey_load(&ck, tpki_path("alice.crt"),
						  tpki_path("alice.key"), err, sizeof(err)), 0);
		ck_assert_int_eq(tun_chan_export(ch, TUN_LABEL_CERT_LOGIN, NULL, 0, ex,
						 sizeof(ex)), 0);
		ck_assert_int_eq(tun_certkey_sign(ck, m->challenge.chal, ex, sig, sizeof(sig),
						  &sig_len), 0);
		memset(&r, 0, sizeof(r));
		r.version = TUN_VERSION_MAX;
		r.type = TUN_MSG_CERT_PROOF;
		r.proof.cert = tun_certkey_der(ck, &der_len);
		r.proof.cert_len = (uint16_t)der_len;
		r.proof.sig = sig;
		r.proof.sig_len = (uint16_t)sig_len;
		ck_assert_int_eq(tun_chan_send(ch, &r), 0);
		tun_certkey_free(ck);
	}
	if (m->type == TUN_MSG_HELLO && !rc->mode) {
		memset(&r, 0, sizeof(r));
		r.version = TUN_VERSION_MAX;
		r.type = TUN_MSG_RESUME;
		memcpy(r.resume.sid, rc->sid, TUN_SID_LEN);
		memset(r.resume.proof, 0x5a, TUN_PROOF_LEN);
		ck_assert_int_eq(tun_chan_send(ch, &r), 0);
	}
	if (m->type == TUN_MSG_ERROR)
		rc->error_code = m->close.code;
}

static void rc_down(void *user, struct tun_chan *ch, int reason)
{
	struct rawcli *rc = user;

	rc->down++;
	rc->ch = NULL;
}

static const struct tun_chan_ops rc_ops = { rc_up, rc_msg, rc_down };

START_TEST(wrong_resume_proof)
{
	struct tun_listen_cfg lc;
	struct tun_creds *cr;
	struct rawcli rc;
	char port[8];

	env_setup(30);
	/* A real session whose id (bob's: a raw ATTACH) the thief knows. */
	{
		int fd = raw_link("bob");

		raw_attach(fd, 0x55);
		RUN_UNTIL(E.sessions == 1, 5000);
		memset(&rc, 0, sizeof(rc));
		memset(rc.sid, 0x55, TUN_SID_LEN);
		ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), tpki_path("alice.crt"),
					       tpki_path("alice.key")), 0);
		memset(&lc, 0, sizeof(lc));
		snprintf(port, sizeof(port), "%u", E.tport);
		lc.l = E.l;
		lc.creds = cr;
		lc.host = "127.0.0.1";
		lc.port = port;
		lc.handshake_ms = 5000;
		lc.ops = &rc_ops;
		lc.user = &rc;
		ck_assert_int_eq(tun_tls_connect(&rc.ch, &lc), 0);
		RUN_UNTIL(rc.error_code != 0, 10000);
		ck_assert_int_eq(rc.error_code, TUN_R_RESUME_FAILED);
		ck_assert_int_eq(E.login_failures, 1);
		RUN_UNTIL(E.peers[0].done == 1, 5000);
		ck_assert_int_eq(E.peers[0].reason, TUN_R_RESUME_FAILED);
		/* bob's session did not notice. */
		ck_assert_int_eq(E.ends, 0);
		ck_assert(tun_session_is_attached(E.sess));
		ck_assert_msg(strstr(E.last_notice, "session could not be resumed"),
			      "%s", E.last_notice);
		if (rc.ch)
			tun_chan_destroy(rc.ch);
		loop_iterate(E.l, 0);
		tun_creds_free(cr);
		close(fd);
	}
	env_teardown();
}
END_TEST

/*
 * A client that breaks the tunnel protocol: its peer says DOWN(1) and the
 * core ends the session with a protocol error, as a listener-mode server
 * would; another session through another peer goes on.
 */
START_TEST(malformed_message_through_peer)
{
	static const uint8_t bad[] = { 1, TUN_MSG_HCI, 0x80, 0, 0, 5, 0, 0, 0, 0, 4 };
	struct tun_listen_cfg lc;
	struct tun_creds *cr;
	struct rawcli rc;
	char port[8];

	env_setup(30);
	cert_client("alice", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	memset(&rc, 0, sizeof(rc));
	rc.mode = TUN_MODE_CERT;
	ck_assert_int_eq(tun_creds_new(&cr, false, tpki_path("ca.crt"), tpki_path("alice.crt"),
				       tpki_path("alice.key")), 0);
	memset(&lc, 0, sizeof(lc));
	snprintf(port, sizeof(port), "%u", E.uport);
	lc.l = E.l;
	lc.creds = cr;
	lc.host = "127.0.0.1";
	lc.port = port;
	lc.handshake_ms = 5000;
	lc.ops = &rc_ops;
	lc.user = &rc;
	ck_assert_int_eq(tun_dtls_connect(&rc.ch, &lc), 0);
	RUN_UNTIL(rc.ready == 1 && E.sessions == 2, 10000);
	ck_assert_int_gt(gnutls_record_send(rc.ch->gs, bad, sizeof(bad)), 0);
	RUN_UNTIL(E.ends == 1 && rc.error_code != 0, 10000);
	ck_assert_int_eq(E.end_reason, TUN_R_PROTOCOL);
	ck_assert_int_eq(rc.error_code, TUN_R_PROTOCOL);
	ck_assert_uint_eq(tun_server_session_count(E.core), 1);
	RUN_UNTIL(E.peers[1].done == 1, 5000);
	echo_round(200, 20);
	ck_assert_int_eq(E.down, 0);
	if (rc.ch)
		tun_chan_destroy(rc.ch);
	loop_iterate(E.l, 0);
	tun_creds_free(cr);
	env_teardown();
}
END_TEST

/*
 * The core's owner takes nothing for a while, over TLS (no retransmission
 * to mend a dropped frame): the window closes the client's sending, the
 * link queues never overflow, and everything arrives once the owner
 * takes again. Large ACL packets the other way, in segments.
 */
START_TEST(backpressure_through_peer_tls)
{
	static uint8_t acl[1 + 4 + 3000], data[3000];
	uint8_t b[300];
	uint32_t sent = 0;
	int r = 0, i;

	env_setup(30);
	cert_client("alice", TUN_TRANSPORT_TLS);
	RUN_UNTIL(E.ready == 1, 10000);
	E.srv_busy = true;
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
	run_ms(300);
	E.srv_busy = false;
	tun_session_rx_kick(E.sess);
	RUN_UNTIL(E.srv_rx == sent && E.cli_rx == sent, 20000);
	r = h4_build_acl(acl, sizeof(acl), 0x0001, 0, 0, data, sizeof(data));
	ck_assert_int_gt(r, 0);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(tun_session_send(E.sess, acl, (size_t)r), 0);
	RUN_UNTIL(E.cli_acl == 20, 10000);
	ck_assert_int_eq(E.down, 0);
	ck_assert_int_eq(E.resumed, 0);
	ck_assert_int_eq(E.ends, 0);
	env_teardown();
}
END_TEST

static void lkio_nop_cb(struct loop *l, int fd, uint32_t events, void *user)
{
}

/* The next frame on fd: its length (0 when none waits), its bytes in b. */
static ssize_t lkio_next(int fd, uint8_t *b, size_t cap)
{
	ssize_t n = recv(fd, b, cap, MSG_DONTWAIT);

	if (n < 0)
		ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	return n < 0 ? 0 : n;
}

/*
 * A peer link's data frames queued in one loop turn go out together when
 * it ends (one sendmmsg), in order; a control frame goes at once, behind
 * them; the timer goes with the link.
 */
START_TEST(link_data_frames_of_a_turn_go_together)
{
	struct loop *l = loop_new();
	struct lk_io io;
	uint8_t b[16], f[4] = { 0 };
	int sv[2], i;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	tun_lkio_init(&io, l);
	ck_assert_int_eq(loop_add_fd(l, sv[0], EPOLLIN, lkio_nop_cb, NULL), 0);
	io.fd = sv[0];
	io.batch = true;
	for (i = 0; i < 3; i++) {
		f[0] = (uint8_t)i;
		ck_assert_int_eq(tun_lkio_send(&io, f, sizeof(f), false), 0);
	}
	/* Nothing yet: the turn is not over. */
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 0);
	loop_iterate(l, 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 4);
		ck_assert_uint_eq(b[0], i);
	}
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 0);
	/* Data, then a control frame: both now, the data first. */
	f[0] = 7;
	ck_assert_int_eq(tun_lkio_send(&io, f, sizeof(f), false), 0);
	f[0] = 8;
	ck_assert_int_eq(tun_lkio_send(&io, f, 1, true), 0);
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 4);
	ck_assert_uint_eq(b[0], 7);
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 1);
	ck_assert_uint_eq(b[0], 8);
	/* More than one sendmmsg's worth in a turn, all in order. */
	for (i = 0; i < 100; i++) {
		f[0] = (uint8_t)i;
		ck_assert_int_eq(tun_lkio_send(&io, f, sizeof(f), false), 0);
	}
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 0);
	loop_iterate(l, 0);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 4);
		ck_assert_uint_eq(b[0], i);
	}
	/* Queued and closed: nothing is sent, nothing leaks or fires. */
	ck_assert_int_eq(tun_lkio_send(&io, f, sizeof(f), false), 0);
	tun_lkio_close(&io);
	loop_iterate(l, 0);
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 0);
	close(sv[1]);
	/* Without batch (a peer process's end: no sendmmsg), each at once. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	tun_lkio_init(&io, l);
	ck_assert_int_eq(loop_add_fd(l, sv[0], EPOLLIN, lkio_nop_cb, NULL), 0);
	io.fd = sv[0];
	f[0] = 9;
	ck_assert_int_eq(tun_lkio_send(&io, f, sizeof(f), false), 0);
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 4);
	ck_assert_uint_eq(b[0], 9);
	ck_assert_ptr_null(io.flush_t);
	tun_lkio_close(&io);
	close(sv[1]);
	loop_free(l);
}
END_TEST

/*
 * The core's MSG_DOWN frames of one turn leave as MSGS_DOWN datagrams of
 * up to TUN_LINK_MSGS_MAX messages (the peer reads them with one recv),
 * byte for byte and in order; any other frame goes alone between them,
 * and a lone message stays a MSG_DOWN.
 */
START_TEST(link_msg_frames_of_a_turn_share_datagrams)
{
	static uint8_t b[TUN_LINK_DGRAM_MAX + 1];
	struct loop *l = loop_new();
	uint8_t fr[11][TUN_MSG_MAX + 1], end = TUN_LF_END;
	size_t flen[11], at, len;
	struct tun_link_frame g;
	const uint8_t *d;
	struct lk_io io;
	int sv[2], i, k;
	ssize_t n;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	tun_lkio_init(&io, l);
	ck_assert_int_eq(loop_add_fd(l, sv[0], EPOLLIN, lkio_nop_cb, NULL), 0);
	io.fd = sv[0];
	io.batch = true;
	for (i = 0; i < 11; i++) {
		fr[i][0] = TUN_LF_MSG_DOWN;
		flen[i] = 1 + mk_hci_msg(fr[i] + 1, (uint32_t)i, 10 + 20 * (size_t)i);
	}
	/* 10 messages, END, 1 message: MSGS(8), MSGS(2), END, MSG. */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(tun_lkio_send(&io, fr[i], flen[i], false), 0);
	ck_assert_int_eq(tun_lkio_send(&io, &end, 1, true), 0);
	ck_assert_int_eq(tun_lkio_send(&io, fr[10], flen[10], false), 0);
	loop_iterate(l, 0);
	for (i = 0, k = 0; k < 2; k++) {
		n = lkio_next(sv[1], b, sizeof(b));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(tun_link_decode(&g, b, (size_t)n, TUN_LINK_TO_PEER), 0);
		ck_assert_int_eq(g.type, TUN_LF_MSGS_DOWN);
		ck_assert_uint_eq(g.msgs.count, k == 0 ? TUN_LINK_MSGS_MAX : 2);
		for (at = 0; tun_link_msgs_next(&g, &at, &d, &len); i++) {
			ck_assert_uint_eq(len, flen[i] - 1);
			ck_assert_mem_eq(d, fr[i] + 1, len);
		}
	}
	ck_assert_int_eq(i, 10);
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 1);
	ck_assert_uint_eq(b[0], TUN_LF_END);
	n = lkio_next(sv[1], b, sizeof(b));
	ck_assert_int_eq(n, (ssize_t)flen[10]);
	ck_assert_mem_eq(b, fr[10], flen[10]);
	ck_assert_int_eq(lkio_next(sv[1], b, sizeof(b)), 0);
	ck_assert(pktq_is_empty(&io.q));
	tun_lkio_close(&io);
	close(sv[1]);
	loop_free(l);
}
END_TEST

/*
 * tun_lkio_recv_some: the frames that wait, up to a batch per system
 * call, byte for byte and in order; a short batch says the socket held
 * no more (the reader stops without a second call); an oversized
 * datagram and the end are reported in their place.
 */
START_TEST(link_frames_read_several_per_call)
{
	static struct lk_rx rx;
	static uint8_t big[TUN_LINK_DGRAM_MAX + 1];
	struct loop *l = loop_new();
	struct lk_io io;
	uint8_t f[6][40];
	int sv[2], i, n;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	tun_lkio_init(&io, l);
	io.fd = sv[0];
	ck_assert_int_eq(tun_lkio_recv_some(&io, &rx), 0);
	ck_assert_uint_eq(io.rx_calls, 1);
	for (i = 0; i < 6; i++) {
		memset(f[i], 'a' + i, sizeof(f[i]));
		ck_assert_int_eq(send(sv[1], f[i], 10 + (size_t)i, 0), 10 + i);
	}
	/* 6 frames: a full batch, then a short one (two calls, not seven). */
	n = tun_lkio_recv_some(&io, &rx);
	ck_assert_int_eq(n, TUN_LKIO_RX_BATCH);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(rx.len[i], 10 + i);
		ck_assert_mem_eq(rx.b[i], f[i], (size_t)rx.len[i]);
	}
	n = tun_lkio_recv_some(&io, &rx);
	ck_assert_int_eq(n, 6 - TUN_LKIO_RX_BATCH);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(rx.len[i], 10 + TUN_LKIO_RX_BATCH + i);
		ck_assert_mem_eq(rx.b[i], f[TUN_LKIO_RX_BATCH + i], (size_t)rx.len[i]);
	}
	ck_assert_uint_eq(io.rx_calls, 3);
	ck_assert_uint_eq(io.rx_frames, 6);
	/* A frame, one too long for any frame, then the end: in order. */
	ck_assert_int_eq(send(sv[1], f[0], 3, 0), 3);
	ck_assert_int_eq(send(sv[1], big, sizeof(big), 0), (ssize_t)sizeof(big));
	close(sv[1]);
	n = tun_lkio_recv_some(&io, &rx);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(rx.len[0], 3);
	ck_assert_int_eq(rx.len[1], -EMSGSIZE);
	n = tun_lkio_recv_some(&io, &rx);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(rx.len[0], -EPIPE);
	tun_lkio_close(&io);
	loop_free(l);
}
END_TEST

/*
 * Through a peer process, both ends of the link and the peer's channel
 * read what waits with one system call per wake-up (recvmmsg), not one
 * more to hear EAGAIN: over 300 echoed messages each makes no more
 * receive calls than it gets datagrams (one recv each and one more per
 * wake-up before, always more than the datagrams).
 */
START_TEST(peer_reads_with_one_call_per_wakeup)
{
	uint64_t c0, f0, pc0, pl0, pf0, pc1, pl1, pf1, r0;
	uint32_t e0;

	env_setup(30);
	cert_client("alice", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	ck_assert_ptr_nonnull(E.sess);
	ck_assert_ptr_nonnull(E.sess->link);
	c0 = E.sess->link->io.rx_calls;
	f0 = E.sess->link->io.rx_frames;
	tun_peer_rx_counts(E.peers[0].p, &pc0, &pl0, &pf0);
	r0 = E.cli->ch->tx_records;
	e0 = E.cli_rx;
	echo_round(300, 8);
	ck_assert_uint_eq(E.cli_rx - e0, 300);
	tun_peer_rx_counts(E.peers[0].p, &pc1, &pl1, &pf1);
	/* The core's end of the link. */
	ck_assert_uint_gt(E.sess->link->io.rx_frames - f0, 0);
	ck_assert_uint_le(E.sess->link->io.rx_calls - c0, E.sess->link->io.rx_frames - f0);
	/* The peer's end of the link. */
	ck_assert_uint_gt(pf1 - pf0, 0);
	ck_assert_uint_le(pl1 - pl0, pf1 - pf0);
	/* The peer's channel: a call per record the client sent, at most. */
	ck_assert_uint_gt(pc1 - pc0, 0);
	ck_assert_uint_le(pc1 - pc0, E.cli->ch->tx_records - r0);
	ck_assert_int_eq(E.down, 0);
	env_teardown();
}
END_TEST

/*
 * The core decodes each message a peer sends once: the link decoder's
 * check of a MSG or MSGS hands its decoded messages on to the session
 * (tun_link_decode_msgs). Three KEEPALIVEs in one MSGS_UP cost three
 * decodes (six before: the check, then the session's own).
 */
START_TEST(core_decodes_each_message_once)
{
	uint8_t fr[TUN_LINK_DGRAM_MAX], mb[TUN_MSG_MAX];
	struct pollfd pfd;
	struct tun_msg m;
	size_t used = 0;
	unsigned count = 0;
	uint64_t d0, t0;
	int fd, i, n;

	env_setup(30);
	fd = raw_link("bob");
	raw_attach(fd, 0x42);
	RUN_UNTIL(E.sessions == 1, 5000);
	for (i = 0; i < 3; i++) {
		tun_msg_init(&m, TUN_VERSION_MAX, TUN_MSG_KEEPALIVE);
		n = tun_msg_encode(&m, mb, sizeof(mb));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(tun_link_msgs_add(fr, sizeof(fr), &used, &count, mb, (size_t)n), 0);
	}
	/* Whatever the core says to ATTACH first is read and set aside. */
	run_ms(50);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, 0) == 1)
		ck_assert_int_gt(recv(fd, fr + sizeof(fr) / 2, sizeof(fr) / 2, 0), 0);
	d0 = tun_msg_decodes;
	ck_assert_int_eq(send(fd, fr, used, 0), (ssize_t)used);
	/* Until the core answered (an ACK): it has taken the frame. */
	t0 = loop_now_us();
	while (poll(&pfd, 1, 0) == 0 && loop_now_us() - t0 < 5000000)
		loop_iterate(E.l, 10);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert_uint_eq(tun_msg_decodes - d0, 3);
	ck_assert_int_eq(E.ends, 0);
	close(fd);
	env_teardown();
}
END_TEST

/* Garbage from one peer process ends its own link only. */
START_TEST(garbage_frames_end_only_own_link)
{
	static const struct {
		size_t len;
		uint8_t b[8];
	} junk[] = {
		{ 1, { 0x00 } },				/* unknown type */
		{ 3, { 0x99, 1, 2 } },
		{ 6, { TUN_LF_OK, 0, 0, 30, 1, 'x' } },		/* the core's own */
		{ 7, { TUN_LF_MSG_UP, 1, TUN_MSG_HELLO, 0, 0, 0, 3 } },	/* cut short */
		{ 3, { TUN_LF_ATTACH, 1, 0 } },			/* cut short */
	};
	struct tun_link_frame f;
	uint8_t b[TUN_LINK_FRAME_MAX];
	size_t i;

	env_setup(30);
	cert_client("alice", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int fd = raw_link("bob");

		/* Attached first: garbage then detaches bob's session, no more. */
		raw_attach(fd, (uint8_t)(0xa0 + i));
		ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
		ck_assert_int_eq(f.type, TUN_LF_OK);
		ck_assert_int_eq(send(fd, junk[i].b, junk[i].len, 0), (ssize_t)junk[i].len);
		while (raw_recv(fd, &f, b, 5000) == 0)
			ck_assert_int_eq(f.type, TUN_LF_MSG_DOWN);	/* keepalives, no END */
		close(fd);
	}
	/* An oversized datagram, and an ATTACH twice. */
	{
		static uint8_t big[TUN_LINK_FRAME_MAX + 100];
		int fd = raw_link("bob");

		big[0] = TUN_LF_MSG_UP;
		ck_assert_int_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
		ck_assert_int_eq(raw_recv(fd, &f, b, 5000), -EPIPE);
		close(fd);
		fd = raw_link("bob");
		raw_attach(fd, 0x01);
		raw_attach(fd, 0x02);
		ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
		ck_assert_int_eq(f.type, TUN_LF_OK);
		while (raw_recv(fd, &f, b, 5000) == 0)
			ck_assert_int_eq(f.type, TUN_LF_MSG_DOWN);
		close(fd);
	}
	/* bob's sessions are detached (resumable), alice's goes on. */
	ck_assert_int_eq(E.ends, 0);
	ck_assert_uint_eq(tun_server_session_count(E.core), 1 + 5 + 1);
	ck_assert_int_ge(E.log_notices, 6);
	echo_round(200, 20);
	ck_assert_int_eq(E.down, 0);
	ck_assert_int_eq(live_peers(), 1);
	env_teardown();
}
END_TEST

/* A peer process killed: its session detaches, the client resumes it. */
START_TEST(killed_peer_detaches_then_resumes)
{
	uint32_t sent;

	env_setup(30);
	cert_client("alice", TUN_TRANSPORT_DTLS);
	RUN_UNTIL(E.ready == 1, 10000);
	echo_round(100, 20);
	/* As if SIGKILLed: channel and link vanish without a word. */
	tun_peer_free(E.peers[0].p);
	E.peers[0].p = NULL;
	E.peers[0].live = false;
	RUN_UNTIL(E.sess && !tun_session_is_attached(E.sess), 5000);
	ck_assert_int_eq(E.ends, 0);
	/* The client notices the silence, comes back through a new peer. */
	sent = E.srv_next;
	pump(&sent, sent + 100, 20);
	RUN_UNTIL(E.resumed == 1 && E.cli_rx == sent, 20000);
	ck_assert_int_eq(E.sessions, 1);
	ck_assert_int_eq(E.ends, 0);
	ck_assert(tun_session_is_attached(E.sess));
	echo_round(100, 20);
	env_teardown();
}
END_TEST

/* No ATTACH or RESUME in time: FAIL(TIMEOUT) and the link closes. */
START_TEST(silent_link_times_out)
{
	struct tun_link_frame f;
	uint8_t b[TUN_LINK_FRAME_MAX];
	struct tun_server_cfg sc;
	int fd;

	env_setup(30);
	tun_server_free(E.core);
	memset(&sc, 0, sizeof(sc));
	sc.handshake_ms = 200;
	ck_assert_int_eq(tun_server_new(&E.core, E.l, &sc, &srv_ops, NULL, NULL), 0);
	fd = raw_link("bob");
	ck_assert_uint_eq(tun_server_pending_count(E.core), 1);
	ck_assert_int_eq(raw_recv(fd, &f, b, 5000), 0);
	ck_assert_int_eq(f.type, TUN_LF_FAIL);
	ck_assert_int_eq(f.reason.reason, TUN_R_TIMEOUT);
	ck_assert_int_eq(raw_recv(fd, &f, b, 5000), -EPIPE);
	ck_assert_uint_eq(tun_server_pending_count(E.core), 0);
	close(fd);
	/* A listener-mode server takes no links (and closes the fd). */
	{
		struct tun_server *ls;
		int sv[2];

		memset(&sc, 0, sizeof(sc));
		sc.host = "127.0.0.1";
		sc.tcp_port = "0";
		sc.ca_file = tpki_path("ca.crt");
		sc.cert_file = tpki_path("server.crt");
		sc.key_file = tpki_path("server.key");
		ck_assert_int_eq(tun_server_new(&ls, E.l, &sc, &srv_ops, NULL, NULL), 0);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
		ck_assert_int_eq(tun_server_add_link(ls, sv[0], NULL), -EINVAL);
		ck_assert_int_eq(recv(sv[1], b, sizeof(b), MSG_DONTWAIT), 0);	/* EOF */
		close(sv[1]);
		tun_server_free(ls);
		/* A stream socket would merge frames: refused too. */
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		ck_assert_int_eq(tun_server_add_link(E.core, sv[0], NULL), -EINVAL);
		ck_assert_int_eq(recv(sv[1], b, sizeof(b), MSG_DONTWAIT), 0);	/* EOF */
		close(sv[1]);
	}
	run_ms(1);
	env_teardown();
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_peer");
	TCase *tc = tcase_create("peer");

	tcase_add_unchecked_fixture(tc, tpki_setup, tpki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, codec_roundtrip_and_strictness);
	tcase_add_test(tc, msgs_codec_bounds);
	tcase_add_test(tc, link_data_frames_of_a_turn_go_together);
	tcase_add_test(tc, link_msg_frames_of_a_turn_share_datagrams);
	tcase_add_test(tc, link_frames_read_several_per_call);
	tcase_add_test(tc, peer_reads_with_one_call_per_wakeup);
	tcase_add_test(tc, core_decodes_each_message_once);
	tcase_add_test(tc, cert_login_dtls_through_peer);
	tcase_add_test(tc, scram_login_tls_through_peer);
	tcase_add_loop_test(tc, core_messages_share_records, 0, 2);
	tcase_add_loop_test(tc, client_messages_share_link_frames, 0, 2);
	tcase_add_test(tc, label_user_wins);
	tcase_add_test(tc, unlabelled_link_may_not_attach);
	tcase_add_test(tc, resume_over_second_peer_dtls);
	tcase_add_test(tc, resume_over_second_peer_tls);
	tcase_add_test(tc, resume_drops_old_link);
	tcase_add_test(tc, wrong_resume_proof);
	tcase_add_test(tc, malformed_message_through_peer);
	tcase_add_test(tc, backpressure_through_peer_tls);
	tcase_add_test(tc, garbage_frames_end_only_own_link);
	tcase_add_test(tc, killed_peer_detaches_then_resumes);
	tcase_add_test(tc, silent_link_times_out);
	suite_add_tcase(s, tc);
	return s;
}
