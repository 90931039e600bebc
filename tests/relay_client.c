/* SPDX-License-Identifier: MIT */
/*
 * A gateway and a CD speaking the relay protocol with the real codec, for
 * tests/t-relay-netns.sh (the real gateway and bgw-cdclient are not wired
 * to the relay yet). Every run is bounded by -w seconds.
 *
 *   relay-client id KEY                     print the key's home id
 *   relay-client gw RELAY KEY [-w s]        register, keep alive, answer
 *                                           pings through the relay and
 *                                           directly, punch towards CDs
 *   relay-client cd RELAY HOMEID [-w s] [-p]
 *                                           connect, ping through the relay;
 *                                           with -p also punch and ping
 *                                           directly (exit 3 if no path)
 *   relay-client claim RELAY KEY HOMEID     try to register HOMEID with KEY
 *                                           (exit 0 if refused, 1 if taken)
 *   relay-client dtls RELAY HOMEID CA [-w s]
 *                                           connect, then a DTLS handshake
 *                                           with the home through the relay
 *                                           (its certificate checked against
 *                                           CA), count the home's punches,
 *                                           close the channel
 * RELAY is ADDRESS:PORT (IPv4). Lines on stdout say what happened.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include "homeid.h"
#include "rmsg.h"
#include "rsign.h"

static int fd = -1;
static struct sockaddr_in relay_sa;
/* Empty datagrams from anyone but the relay while waiting for it (punches). */
static unsigned early_empty;
static uint64_t deadline_ms;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_sa(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *c = strrchr(s, ':');

	if (!c || (size_t)(c - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 && sa->sin_port ? 0 : -1;
}

static void to_sa(const struct rmsg_addr *a, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(a->port);
	memcpy(&sa->sin_addr, a->a, 4);
}

static const char *sa_text(const struct sockaddr_in *sa)
{
	static char b[64];
	char h[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, h, sizeof(h));
	snprintf(b, sizeof(b), "%s:%u", h, ntohs(sa->sin_port));
	return b;
}

static bool sa_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static void send_to(const struct sockaddr_in *sa, const void *buf, size_t len)
{
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		perror("relay-client: sendto");
}

static void send_msg(const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	if (n < 0) {
		fprintf(stderr, "relay-client: encode %s: %d\n", rmsg_type_name(m->type), n);
		exit(2);
	}
	send_to(&relay_sa, buf, (size_t)n);
}

/* One datagram within timeout_ms (and the global deadline): length, or -1. */
static ssize_t recv_one(uint8_t *buf, size_t cap, struct sockaddr_in *from, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now = now_ms();
	socklen_t sl = sizeof(*from);

	if (now >= deadline_ms)
		return -1;
	if ((uint64_t)timeout_ms > deadline_ms - now)
		timeout_ms = (int)(deadline_ms - now);
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &sl);
}

/* Wait for a relay message of one of two types (other datagrams ignored). */
static int wait_msg(uint8_t t1, uint8_t t2, struct rmsg *m, uint8_t *buf, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct sockaddr_in from;
	ssize_t n;

	while (now_ms() < end) {
		n = recv_one(buf, RMSG_MAX, &from, (int)(end - now_ms()));
		if (n < 0)
			return -1;
		if (n == 0 && !sa_eq(&from, &relay_sa))
			early_empty++;
		if (!sa_eq(&from, &relay_sa) || rmsg_decode(m, buf, (size_t)n) < 0)
			continue;
		if (m->type == t1 || m->type == t2)
			return 0;
	}
	return -1;
}

static gnutls_privkey_t load_key(const char *path)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_privkey_t k = NULL;

	if (gnutls_load_file(path, &d) < 0 || gnutls_privkey_init(&k) < 0 ||
	    gnutls_privkey_import_x509_raw(k, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		fprintf(stderr, "relay-client: cannot load the key %s\n", path);
		exit(2);
	}
	gnutls_free(d.data);
	return k;
}

/* REG_HELLO, REG_CHALLENGE, REGISTER; returns REGISTERED or REFUSED's type. */
static int do_register(gnutls_privkey_t k, const uint8_t id[RMSG_ID_LEN], struct rmsg *out)
{
	uint8_t buf[RMSG_MAX];
	struct rmsg m = { .type = RMSG_REG_HELLO }, ch, reg;
	struct rsign rs;
	int tries;

	memcpy(m.id, id, RMSG_ID_LEN);
	for (tries = 0; tries < 5; tries++) {
		send_msg(&m);
		if (wait_msg(RMSG_REG_CHALLENGE, 0, &ch, buf, 1000) == 0)
			break;
	}
	if (tries == 5)
		return -1;
	if (rsign_register(k, &ch, &rs, &reg) < 0)
		return -1;
	for (tries = 0; tries < 5; tries++) {
		send_msg(&reg);
		if (wait_msg(RMSG_REGISTERED, RMSG_REFUSED, out, buf, 1000) == 0)
			return out->type;
	}
	return -1;
}

static int run_gw(gnutls_privkey_t k)
{
	uint8_t id[RMSG_ID_LEN], buf[RMSG_MAX];
	char text[HOMEID_TEXT_LEN + 1];
	struct rsign rs;
	struct rmsg reg, m, ka = { .type = RMSG_KEEPALIVE };
	struct sockaddr_in from, peer = { 0 };
	uint64_t next_ka = 0, next_punch = 0, ack_due = 0;
	int punches = 0;
	ssize_t n;

	if (rsign_key(k, &rs, id) < 0)
		return 2;
	homeid_to_text(id, text);
	for (;;) {
		if (now_ms() >= deadline_ms)
			return 0;
		if (do_register(k, id, &reg) != RMSG_REGISTERED) {
			printf("register failed\n");
			fflush(stdout);
			sleep(1);
			continue;
		}
		to_sa(&reg.addr, &from);
		printf("registered %s as %s\n", text, sa_text(&from));
		fflush(stdout);
		memcpy(ka.id, id, RMSG_ID_LEN);
		memcpy(ka.token, reg.token, RMSG_TOKEN_LEN);
		next_ka = now_ms() + reg.keepalive_s * 1000u;
		ack_due = 0;
		for (;;) {
			uint64_t t = now_ms();

			if (t >= deadline_ms)
				return 0;
			/* No ack within 3 s: resend at once (doc/relay.md). */
			if (t >= next_ka || (ack_due && t >= ack_due)) {
				send_msg(&ka);
				next_ka = t + reg.keepalive_s * 1000u;
				ack_due = t + 3000;
			}
			if (punches > 0 && t >= next_punch) {
				send_to(&peer, "bgw-punch", 9);
				punches--;
				next_punch = t + 100;
			}
			n = recv_one(buf, sizeof(buf), &from, 100);
			if (n <= 0)
				continue;
			if (!sa_eq(&from, &relay_sa)) {
				/* A direct datagram from a CD: answer pings directly. */
				if (n >= 8 && memcmp(buf, "bgw-ping", 8) == 0) {
					buf[4] = 'e', buf[5] = 'c', buf[6] = 'h', buf[7] = 'o';
					send_to(&from, buf, (size_t)n);
					printf("direct ping from %s\n", sa_text(&from));
					fflush(stdout);
				}
				continue;
			}
			if (rmsg_decode(&m, buf, (size_t)n) < 0)
				continue;
			if (m.type == RMSG_KEEPALIVE_ACK) {
				ack_due = 0;
			} else if (m.type == RMSG_REREGISTER) {
				printf("told to register again\n");
				fflush(stdout);
				break;
			} else if (m.type == RMSG_PEER) {
				to_sa(&m.addr, &peer);
				printf("peer %s on channel %u\n", sa_text(&peer), m.chan);
				fflush(stdout);
				/* Open our NAT towards the CD: punch for 3 s. */
				punches = 30;
				next_punch = 0;
			} else if (m.type == RMSG_DATA && m.data_len >= 8 &&
				   memcmp(m.data, "bgw-ping", 8) == 0) {
				uint8_t echo[RMSG_DATA_MAX];

				memcpy(echo, m.data, m.data_len);
				memcpy(echo + 4, "echo", 4);
				m.data = echo;
				send_msg(&m);
			}
		}
	}
}

/* CONN_HELLO, CONNECT: 0 with con the CONNECTED, or 1 (said why). */
static int cd_connect(const uint8_t id[RMSG_ID_LEN], struct rmsg *out)
{
	uint8_t buf[RMSG_MAX];
	struct rmsg m = { .type = RMSG_CONN_HELLO }, ch, con;
	int tries;

	memcpy(m.id, id, RMSG_ID_LEN);
	for (tries = 0; tries < 5; tries++) {
		send_msg(&m);
		if (wait_msg(RMSG_CONN_CHALLENGE, 0, &ch, buf, 1000) == 0)
			break;
	}
	if (tries == 5) {
		printf("no challenge\n");
		return 1;
	}
	ch.type = RMSG_CONNECT;
	for (tries = 0; tries < 5; tries++) {
		send_msg(&ch);
		if (wait_msg(RMSG_CONNECTED, RMSG_REFUSED, &con, buf, 1000) == 0)
			break;
	}
	if (tries == 5) {
		printf("no answer to CONNECT\n");
		return 1;
	}
	if (con.type == RMSG_REFUSED) {
		printf("refused %u\n", con.code);
		return 1;
	}
	*out = con;
	return 0;
}

static int run_cd(const uint8_t id[RMSG_ID_LEN], bool punch)
{
	uint8_t buf[RMSG_MAX];
	struct rmsg m, con, d;
	struct sockaddr_in gw, from;
	int i, relayed = 0;
	uint64_t end;
	ssize_t n;

	if (cd_connect(id, &con))
		return 1;
	to_sa(&con.addr, &gw);
	printf("connected channel %u, home at %s\n", con.chan, sa_text(&gw));
	fflush(stdout);
	/* Pings through the relay, each answered through it. */
	for (i = 0; i < 5; i++) {
		char p[32];
		uint8_t dbuf[RMSG_MAX];

		snprintf(p, sizeof(p), "bgw-ping %d", i);
		memset(&d, 0, sizeof(d));
		d.type = RMSG_DATA;
		d.chan = con.chan;
		d.data = (const uint8_t *)p;
		d.data_len = (uint16_t)strlen(p);
		send_msg(&d);
		if (wait_msg(RMSG_DATA, 0, &m, dbuf, 1000) == 0 &&
		    m.data_len == d.data_len && memcmp(m.data, "bgw-echo", 8) == 0 &&
		    memcmp(m.data + 8, p + 8, m.data_len - 8) == 0)
			relayed++;
	}
	printf("relayed %d/5\n", relayed);
	fflush(stdout);
	if (relayed == 0)
		return 1;
	if (!punch)
		return 0;
	/* Punch: ping the home's reflexive address directly for up to 4 s. */
	end = now_ms() + 4000;
	while (now_ms() < end) {
		send_to(&gw, "bgw-ping direct", 15);
		n = recv_one(buf, sizeof(buf), &from, 100);
		if (n == 15 && sa_eq(&from, &gw) && memcmp(buf, "bgw-echo direct", 15) == 0) {
			printf("direct path to %s\n", sa_text(&gw));
			return 0;
		}
	}
	printf("no direct path\n");
	return 3;
}

/* DTLS through the relay: the transport of the GnuTLS session. */
struct dtls_io {
	uint32_t chan;
	struct sockaddr_in gw;
	unsigned punches;		/* empty datagrams from the home */
	uint8_t pending[RMSG_MAX];	/* a DATA payload not yet read */
	size_t pending_len;
};

static ssize_t dtls_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct dtls_io *io = p;
	struct rmsg d;

	if (len == 0 || len > RMSG_DATA_MAX)
		return (ssize_t)len;
	memset(&d, 0, sizeof(d));
	d.type = RMSG_DATA;
	d.chan = io->chan;
	d.data = data;
	d.data_len = (uint16_t)len;
	send_msg(&d);
	return (ssize_t)len;
}

/* Wait up to ms for a DATA on the channel (punches counted on the way). */
static int dtls_wait(struct dtls_io *io, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	uint8_t buf[RMSG_MAX];
	struct sockaddr_in from;
	struct rmsg m;
	ssize_t n;

	while (!io->pending_len && now_ms() < end) {
		n = recv_one(buf, sizeof(buf), &from, (int)(end - now_ms()));
		if (n < 0)
			return 0;
		if (n == 0 && sa_eq(&from, &io->gw)) {
			io->punches++;
			continue;
		}
		if (!sa_eq(&from, &relay_sa) || rmsg_decode(&m, buf, (size_t)n) < 0 ||
		    m.type != RMSG_DATA || m.chan != io->chan)
			continue;
		memcpy(io->pending, m.data, m.data_len);
		io->pending_len = m.data_len;
	}
	return io->pending_len ? 1 : 0;
}

static int dtls_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	return dtls_wait(p, ms);
}

static ssize_t dtls_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct dtls_io *io = p;
	size_t n;

	if (!dtls_wait(io, 0)) {
		errno = EAGAIN;
		return -1;
	}
	n = io->pending_len < len ? io->pending_len : len;
	memcpy(data, io->pending, n);
	io->pending_len = 0;
	return (ssize_t)n;
}

static int run_dtls(const uint8_t id[RMSG_ID_LEN], const char *ca)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	struct dtls_io io;
	struct rmsg con, cl;
	uint64_t end;
	int r, ret = 1;

	memset(&io, 0, sizeof(io));
	if (cd_connect(id, &con))
		return 1;
	io.chan = con.chan;
	to_sa(&con.addr, &io.gw);
	/* The home punches on PEER, which may overtake our CONNECTED. */
	io.punches = early_empty;
	printf("connected channel %u, home at %s\n", con.chan, sa_text(&io.gw));
	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM) <= 0 ||
	    gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM) < 0 ||
	    gnutls_set_default_priority(s) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0) {
		printf("gnutls set-up failed\n");
		goto out;
	}
	/* The gateway's certificate, against the CA only (no name here). */
	gnutls_session_set_verify_cert(s, NULL, 0);
	gnutls_transport_set_ptr(s, &io);
	gnutls_transport_set_push_function(s, dtls_push);
	gnutls_transport_set_pull_function(s, dtls_pull);
	gnutls_transport_set_pull_timeout_function(s, dtls_pull_timeout);
	gnutls_dtls_set_mtu(s, 1200);
	gnutls_handshake_set_timeout(s, (unsigned)(deadline_ms - now_ms()));
	do {
		r = gnutls_handshake(s);
	} while (r < 0 && !gnutls_error_is_fatal(r) && now_ms() < deadline_ms);
	if (r < 0) {
		printf("handshake failed: %s\n", gnutls_strerror(r));
		goto out;
	}
	printf("handshake via relay done: %s\n",
	       gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	/* The punches left 100 ms apart from the PEER on: a second for them. */
	end = now_ms() + 1000;
	while (io.punches < 3 && now_ms() < end && now_ms() < deadline_ms) {
		dtls_wait(&io, (unsigned)(end - now_ms()));
		io.pending_len = 0;
	}
	printf("punches from the home: %u\n", io.punches);
	memset(&cl, 0, sizeof(cl));
	cl.type = RMSG_CLOSE;
	cl.chan = io.chan;
	send_msg(&cl);
	ret = io.punches >= 1 ? 0 : 3;
out:
	if (s)
		gnutls_deinit(s);
	if (cred)
		gnutls_certificate_free_credentials(cred);
	return ret;
}

static int run_claim(gnutls_privkey_t k, const uint8_t id[RMSG_ID_LEN])
{
	struct rmsg out;
	int t = do_register(k, id, &out);

	if (t == RMSG_REFUSED) {
		printf("refused %u\n", out.code);
		return out.code == RMSG_REFUSE_BAD_PROOF ? 0 : 1;
	}
	printf(t == RMSG_REGISTERED ? "registered\n" : "no answer\n");
	return 1;
}

static void usage(void)
{
	fputs("usage: relay-client id KEY\n"
	      "       relay-client gw RELAY KEY [-w seconds]\n"
	      "       relay-client cd RELAY HOMEID [-w seconds] [-p]\n"
	      "       relay-client claim RELAY KEY HOMEID\n"
	      "       relay-client dtls RELAY HOMEID CA [-w seconds]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	uint8_t id[RMSG_ID_LEN];
	char text[HOMEID_TEXT_LEN + 1];
	struct rsign rs;
	unsigned wait_s = 30;
	gnutls_privkey_t key = NULL;
	bool punch = false;
	int i, nargs = argc, ret = 2;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-w") == 0 && i + 1 < argc) {
			wait_s = (unsigned)atoi(argv[i + 1]);
			if (nargs == argc)
				nargs = i;
			i++;
		} else if (strcmp(argv[i], "-p") == 0) {
			punch = true;
			if (nargs == argc)
				nargs = i;
		}
	}
	if (nargs < 3)
		usage();
	if (wait_s == 0 || wait_s > 600)
		wait_s = 30;
	deadline_ms = now_ms() + wait_s * 1000u;
	if (strcmp(argv[1], "id") == 0) {
		key = load_key(argv[2]);
		ret = rsign_key(key, &rs, id) < 0 ? 2 : 0;
		homeid_to_text(id, text);
		if (ret == 0)
			puts(text);
		goto out;
	}
	if (nargs < 4 || parse_sa(argv[2], &relay_sa) < 0)
		usage();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "gw") == 0) {
		key = load_key(argv[3]);
		ret = run_gw(key);
		goto out;
	}
	if (strcmp(argv[1], "cd") == 0) {
		if (homeid_parse(argv[3], id) < 0)
			usage();
		ret = run_cd(id, punch);
		goto out;
	}
	if (strcmp(argv[1], "dtls") == 0 && nargs >= 5) {
		if (homeid_parse(argv[3], id) < 0)
			usage();
		ret = run_dtls(id, argv[4]);
		goto out;
	}
	if (strcmp(argv[1], "claim") == 0 && nargs >= 5) {
		if (homeid_parse(argv[4], id) < 0)
			usage();
		key = load_key(argv[3]);
		ret = run_claim(key, id);
		goto out;
	}
	usage();
out:
	if (key)
		gnutls_privkey_deinit(key);
	if (fd >= 0)
		close(fd);
	fflush(stdout);
	return ret;
}
