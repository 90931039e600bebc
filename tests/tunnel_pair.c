/* SPDX-License-Identifier: MIT */
/*
 * tunnel-pair: a tunnel server and client in one process, for script
 * tests (t-tunnel-capture.sh). The client logs in with alice's
 * certificate, sends COUNT vendor commands whose parameters hold MARKER,
 * the server echoes each as a vendor event, and the program exits 0 once
 * every echo is back in order.
 *
 *	tunnel-pair PKI-DIR dtls|tls PORT MARKER COUNT [pingpong]
 *
 * With "pingpong" each command waits for the previous echo, and the
 * round-trip times through the whole tunnel are printed (a figure for the
 * benchmark issue, not a test assertion).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hci.h"
#include "log.h"
#include "loop.h"
#include "tunnel.h"

static struct {
	struct loop *l;
	const char *marker;
	unsigned count, sent, echoed;
	struct tun_client *cli;
	int failed;
	bool pingpong;
	uint64_t t_sent;
	uint64_t *rtt;
} P;

static int srv_packet(void *user, struct tun_session *s, const uint8_t *h4, size_t len)
{
	uint8_t ev[300];
	int n = h4_build_evt(ev, sizeof(ev), 0xff, h4 + 4, len - 4);

	if (n > 0)
		n = tun_session_send(s, ev, (size_t)n);
	if (n == -ENOBUFS)
		return -ENOBUFS;	/* again after on_writable */
	if (n < 0)
		P.failed = 1;
	return 0;
}

static void srv_writable(void *user, struct tun_session *s)
{
	tun_session_rx_kick(s);
}

static int cert_user(void *user, const struct tun_cert_info *ci, char *name, size_t cap)
{
	if (strcmp(ci->cn, "alice") != 0)
		return -ENOENT;
	snprintf(name, cap, "%s", ci->cn);
	return 0;
}

static void pump(void)
{
	uint8_t b[300];
	int n;

	while (P.sent < P.count) {
		if (P.pingpong && P.sent != P.echoed)
			return;
		n = h4_build_cmd(b, sizeof(b), 0xfc01, P.marker, strlen(P.marker));
		if (n < 0 || tun_client_send(P.cli, b, (size_t)n) < 0)
			return;
		P.t_sent = loop_now_us();
		P.sent++;
	}
}

static void cli_ready(void *user, struct tun_client *c, const char *name, bool resumed)
{
	pump();
}

static int cli_packet(void *user, struct tun_client *c, const uint8_t *h4, size_t len)
{
	size_t ml = strlen(P.marker);

	if (len != 3 + ml || memcmp(h4 + 3, P.marker, ml) != 0)
		P.failed = 1;
	if (P.pingpong)
		P.rtt[P.echoed] = loop_now_us() - P.t_sent;
	if (++P.echoed == P.count)
		loop_quit(P.l, 0);
	else if (P.pingpong)
		pump();
	return 0;
}

static void cli_writable(void *user, struct tun_client *c)
{
	pump();
}

static void cli_down(void *user, struct tun_client *c, int reason, const char *text)
{
	fprintf(stderr, "tunnel-pair: down: %s\n", text);
	loop_quit(P.l, 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void deadline(struct loop_timer *t, void *user)
{
	fprintf(stderr, "tunnel-pair: gave up\n");
	loop_quit(P.l, 1);
}

int main(int argc, char **argv)
{
	struct tun_server_cfg sc = { 0 };
	struct tun_client_cfg cc = { 0 };
	struct tun_server_ops so = { .on_packet = srv_packet, .on_writable = srv_writable };
	struct tun_auth_ops ao = { .cert_user = cert_user };
	struct tun_client_ops co = {
		.on_ready = cli_ready, .on_packet = cli_packet,
		.on_down = cli_down, .on_writable = cli_writable,
	};
	struct tun_server *srv = NULL;
	struct loop_timer *t;
	char f[5][512];
	bool tls;
	int ret = 1, i;

	if (argc < 6 || argc > 7 || strlen(argv[4]) == 0 || strlen(argv[4]) > 200 ||
	    (argc == 7 && strcmp(argv[6], "pingpong") != 0)) {
		fprintf(stderr, "usage: tunnel-pair PKI-DIR dtls|tls PORT MARKER COUNT [pingpong]\n");
		return 2;
	}
	P.pingpong = argc == 7;
	tls = strcmp(argv[2], "tls") == 0;
	P.marker = argv[4];
	P.count = (unsigned)strtoul(argv[5], NULL, 10);
	if (P.count == 0 || P.count > 100000)
		return 2;
	P.rtt = calloc(P.count, sizeof(*P.rtt));
	if (!P.rtt)
		return 1;
	log_open("tunnel-pair", LOG_TARGET_STDERR);
	snprintf(f[0], sizeof(f[0]), "%s/ca.crt", argv[1]);
	snprintf(f[1], sizeof(f[1]), "%s/server.crt", argv[1]);
	snprintf(f[2], sizeof(f[2]), "%s/server.key", argv[1]);
	snprintf(f[3], sizeof(f[3]), "%s/alice.crt", argv[1]);
	snprintf(f[4], sizeof(f[4]), "%s/alice.key", argv[1]);
	P.l = loop_new();
	if (!P.l)
		return 1;
	sc.host = "127.0.0.1";
	if (tls)
		sc.tcp_port = argv[3];
	else
		sc.udp_port = argv[3];
	sc.ca_file = f[0];
	sc.cert_file = f[1];
	sc.key_file = f[2];
	if (tun_server_new(&srv, P.l, &sc, &so, &ao, NULL) < 0)
		goto out;
	cc.host = "127.0.0.1";
	cc.port = argv[3];
	cc.transport = tls ? TUN_TRANSPORT_TLS : TUN_TRANSPORT_DTLS;
	cc.ca_file = f[0];
	cc.cert_file = f[3];
	cc.key_file = f[4];
	if (tun_client_new(&P.cli, P.l, &cc, &co, NULL) < 0)
		goto out;
	t = loop_timer_new(P.l, deadline, NULL);
	if (!t)
		goto out;
	loop_timer_arm(t, 20000000);
	ret = loop_run(P.l);
	loop_timer_free(t);
	if (P.failed)
		ret = 1;
	printf("tunnel-pair: %u sent, %u echoed\n", P.sent, P.echoed);
	if (P.pingpong && P.echoed == P.count) {
		qsort(P.rtt, P.count, sizeof(*P.rtt), cmp_u64);
		printf("tunnel-pair: round trip through the tunnel: median %llu us, "
		       "p99 %llu us, max %llu us\n",
		       (unsigned long long)P.rtt[P.count / 2],
		       (unsigned long long)P.rtt[P.count * 99 / 100],
		       (unsigned long long)P.rtt[P.count - 1]);
	}
out:
	free(P.rtt);
	tun_client_free(P.cli);
	tun_server_free(srv);
	for (i = 0; i < 5; i++)
		loop_iterate(P.l, 0);
	loop_free(P.l);
	return ret;
}
