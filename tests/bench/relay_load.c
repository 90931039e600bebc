/* SPDX-License-Identifier: MIT */
/*
 * bgw-relay-load: load for bgw-relay with real sockets (doc/relay.md;
 * tests/bench/relay-cpu, doc/performance.md "Away from home"):
 *
 *   homes RELAY -n N -p PID      register N homes (each its own Ed25519
 *                                key and source address 127.1.x.y, at
 *                                most 256 in flight), then report the
 *                                relay's RSS and its own count per home
 *   blast SERVER -n N -s SECS -z BYTES -p PID [--echo]
 *                                N homes registered and N CDs connected
 *                                (127.1.x.y, 127.64.x.y), then DATA of
 *                                BYTES payload from every CD as fast as
 *                                it goes for SECS, the homes counting
 *                                what arrives; the server's CPU per
 *                                forwarded datagram. --echo: SERVER is a
 *                                plain UDP echo (the baseline): no
 *                                registration, the CDs count the echoes
 *   echo ADDR:PORT -t SECS       that baseline: one socket, epoll,
 *                                64 datagrams per wakeup, each sent back
 *
 * CPU is the server's time on a CPU from /proc/PID/schedstat. Every loop
 * is bounded by a count or a deadline. Only loopback addresses. Prints
 * one line "result MODE key=value ...". A measuring tool, not a test.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "rmsg.h"
#include "rsign.h"

#define RL_INFLIGHT	256
#define RL_MAX_HOMES	200000
#define RL_MAX_BLAST	1024
#define RL_TRIES	8

struct rl_opts {
	const char *target;
	unsigned n, secs, bytes;
	int pid;
	bool echo;
};

static uint64_t rl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int rl_parse_addr(const char *arg, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(arg, ':');
	unsigned long port;
	char *end;

	if (!colon || (size_t)(colon - arg) >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/* The server's time on a CPU, all threads: /proc/PID/schedstat. */
static uint64_t rl_cpu_ns(int pid)
{
	unsigned long long v = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static uint64_t rl_rss_kib(int pid)
{
	unsigned long long v = 0;
	char path[64], line[128];
	unsigned i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i < 128 && fgets(line, sizeof(line), f); i++)
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* A non-blocking UDP socket bound to 127.B.x.y (index i), connected to to. */
static int rl_sock(uint32_t base, unsigned i, const struct sockaddr_in *to)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, big = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(base + 1 + i);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int rl_send(int fd, const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	if (n < 0)
		return n;
	return send(fd, buf, (size_t)n, MSG_DONTWAIT) == n ? 0 : -errno;
}

/* One home or CD going through its two round trips. */
struct rl_peer {
	int fd;
	gnutls_privkey_t key;
	uint8_t id[RMSG_ID_LEN];
	struct rmsg first;		/* REG_HELLO or CONN_HELLO */
	uint8_t second[RMSG_MAX];	/* REGISTER or CONNECT, encoded */
	int second_len;
	unsigned stage, tries;		/* 0 hello sent, 1 second sent, 2 done */
	uint64_t sent_at;
	uint32_t chan;
};

static int rl_key(struct rl_peer *p)
{
	struct rsign rs;

	if (gnutls_privkey_init(&p->key) < 0 ||
	    gnutls_privkey_generate2(p->key, GNUTLS_PK_EDDSA_ED25519, 256, 0, NULL, 0) < 0)
		return -EIO;
	return rsign_key(p->key, &rs, p->id);
}

/* Advance one peer on what it received; 1 once done, -1 if refused. */
static int rl_step(struct rl_peer *p, const uint8_t *buf, size_t len)
{
	struct rmsg m, out;
	struct rsign rs;

	if (rmsg_decode(&m, buf, len) < 0)
		return 0;
	if (m.type == RMSG_REFUSED)
		return -1;
	if (p->stage == 0 && m.type == RMSG_REG_CHALLENGE) {
		if (rsign_register(p->key, &m, &rs, &out) < 0)
			return -1;
	} else if (p->stage == 0 && m.type == RMSG_CONN_CHALLENGE) {
		out = m;
		out.type = RMSG_CONNECT;
	} else if (p->stage == 1 && (m.type == RMSG_REGISTERED || m.type == RMSG_CONNECTED)) {
		p->chan = m.chan;
		p->stage = 2;
		return 1;
	} else {
		return 0;
	}
	p->second_len = rmsg_encode(&out, p->second, sizeof(p->second));
	if (p->second_len < 0)
		return -1;
	p->stage = 1;
	p->tries = 0;
	p->sent_at = rl_now_ns();
	send(p->fd, p->second, (size_t)p->second_len, MSG_DONTWAIT);
	return 0;
}

/* Resend what is unanswered after 1 s; -1 after RL_TRIES. */
static int rl_retry(struct rl_peer *p, uint64_t now)
{
	if (p->stage == 2 || now - p->sent_at < 1000000000ull)
		return 0;
	if (++p->tries > RL_TRIES)
		return -1;
	p->sent_at = now;
	if (p->stage == 0)
		return rl_send(p->fd, &p->first) < 0 ? 0 : 0;
	send(p->fd, p->second, (size_t)p->second_len, MSG_DONTWAIT);
	return 0;
}

/*
 * Take n peers through their handshakes, RL_INFLIGHT at a time. keep:
 * leave the sockets open (and the keys freed); else close each once done.
 * Returns the number done.
 */
static unsigned rl_handshake(struct rl_peer *ps, unsigned n, bool keep, unsigned *failed)
{
	unsigned next = 0, done = 0, active = 0, i;
	uint64_t deadline = rl_now_ns() + (uint64_t)(n / 100 + 60) * 1000000000ull;
	struct pollfd pfd[RL_INFLIGHT];
	unsigned idx[RL_INFLIGHT];

	*failed = 0;
	while (done + *failed < n && rl_now_ns() < deadline) {
		uint64_t now = rl_now_ns();
		unsigned k = 0;

		for (i = 0; i < next; i++) {
			struct rl_peer *p = &ps[i];

			if (p->fd < 0 || p->stage == 2 || k == RL_INFLIGHT)
				continue;
			if (rl_retry(p, now) < 0) {
				close(p->fd);
				p->fd = -1;
				(*failed)++;
				active--;
				continue;
			}
			pfd[k] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
			idx[k++] = i;
		}
		while (active < RL_INFLIGHT && next < n && k < RL_INFLIGHT) {
			struct rl_peer *p = &ps[next];

			p->sent_at = now;
			rl_send(p->fd, &p->first);
			pfd[k] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
			idx[k++] = next++;
			active++;
		}
		if (poll(pfd, k, 100) <= 0)
			continue;
		for (i = 0; i < k; i++) {
			struct rl_peer *p = &ps[idx[i]];
			uint8_t buf[RMSG_MAX];
			unsigned j;

			for (j = 0; j < 4 && (pfd[i].revents & POLLIN); j++) {
				ssize_t r = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
				int s;

				if (r < 0)
					break;
				s = rl_step(p, buf, (size_t)r);
				if (s == 0)
					continue;
				if (s > 0)
					done++;
				else
					(*failed)++;
				active--;
				if (s < 0 || !keep) {
					close(p->fd);
					p->fd = -1;
				}
				break;
			}
		}
	}
	return done;
}

static struct rl_peer *rl_homes_new(unsigned n, const struct sockaddr_in *to, uint32_t base)
{
	struct rl_peer *ps = calloc(n, sizeof(*ps));
	unsigned i;

	if (!ps)
		return NULL;
	for (i = 0; i < n; i++)
		ps[i].fd = -1;
	for (i = 0; i < n; i++) {
		ps[i].fd = rl_sock(base, i, to);
		if (ps[i].fd < 0 || rl_key(&ps[i]) < 0) {
			fprintf(stderr, "bgw-relay-load: peer %u: %s\n", i, strerror(errno));
			return ps;	/* the caller sees fd < 0 */
		}
		ps[i].first.type = RMSG_REG_HELLO;
		memcpy(ps[i].first.id, ps[i].id, RMSG_ID_LEN);
	}
	return ps;
}

static void rl_peers_free(struct rl_peer *ps, unsigned n)
{
	unsigned i;

	if (!ps)
		return;
	for (i = 0; i < n; i++) {
		if (ps[i].fd >= 0)
			close(ps[i].fd);
		if (ps[i].key)
			gnutls_privkey_deinit(ps[i].key);
	}
	free(ps);
}

static void rl_nofile(unsigned n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int mode_homes(const struct rl_opts *o)
{
	struct sockaddr_in to;
	struct rl_peer *ps = NULL;
	uint64_t rss0, rss1, t0, t1, cpu0, cpu1;
	unsigned done, failed, i;
	int ret = 1;

	if (rl_parse_addr(o->target, &to) < 0 || o->n == 0 || o->n > RL_MAX_HOMES || o->pid <= 0)
		return 2;
	/* Keys first (not timed), sockets opened as each home starts. */
	ps = calloc(o->n, sizeof(*ps));
	if (!ps)
		return 1;
	for (i = 0; i < o->n; i++) {
		ps[i].fd = -1;
		if (rl_key(&ps[i]) < 0)
			goto out;
		ps[i].first.type = RMSG_REG_HELLO;
		memcpy(ps[i].first.id, ps[i].id, RMSG_ID_LEN);
	}
	rss0 = rl_rss_kib(o->pid);
	cpu0 = rl_cpu_ns(o->pid);
	t0 = rl_now_ns();
	done = failed = 0;
	/* In slices of RL_INFLIGHT: each slice's sockets opened, then closed. */
	for (i = 0; i < o->n; i += RL_INFLIGHT) {
		unsigned m = o->n - i < RL_INFLIGHT ? o->n - i : RL_INFLIGHT, j, f;

		for (j = 0; j < m; j++)
			ps[i + j].fd = rl_sock(0x7f010000, i + j, &to);
		done += rl_handshake(ps + i, m, false, &f);
		failed += f;
		for (j = 0; j < m; j++) {
			gnutls_privkey_deinit(ps[i + j].key);
			ps[i + j].key = NULL;
		}
	}
	t1 = rl_now_ns();
	cpu1 = rl_cpu_ns(o->pid);
	rss1 = rl_rss_kib(o->pid);
	printf("result homes n=%u registered=%u failed=%u secs=%.1f relay_cpu_us_per_reg=%.0f"
	       " rss_before_kib=%" PRIu64 " rss_after_kib=%" PRIu64 " rss_bytes_per_home=%.0f\n",
	       o->n, done, failed, (double)(t1 - t0) / 1e9,
	       done ? (double)(cpu1 - cpu0) / 1e3 / done : 0.0, rss0, rss1,
	       done ? (double)(rss1 - rss0) * 1024.0 / done : 0.0);
	ret = done == o->n ? 0 : 1;
out:
	rl_peers_free(ps, o->n);
	return ret;
}

static int mode_blast(const struct rl_opts *o)
{
	struct sockaddr_in to;
	struct rl_peer *homes = NULL, *cds = NULL;
	uint8_t pkt[RMSG_MAX] = { 0 }, buf[RMSG_MAX];
	uint64_t sent = 0, got = 0, t0, t1, cpu0, cpu1, t_end;
	unsigned i, f, rounds = 0;
	int ret = 1;

	if (rl_parse_addr(o->target, &to) < 0 || o->n == 0 || o->n > RL_MAX_BLAST ||
	    o->pid <= 0 || o->bytes == 0 || o->bytes > RMSG_DATA_MAX || o->secs == 0)
		return 2;
	rl_nofile(2 * o->n);
	cds = calloc(o->n, sizeof(*cds));
	if (!cds)
		goto out;
	for (i = 0; i < o->n; i++) {
		cds[i].fd = rl_sock(0x7f400000, i, &to);
		if (cds[i].fd < 0)
			goto out;
	}
	if (!o->echo) {
		homes = rl_homes_new(o->n, &to, 0x7f010000);
		if (!homes || rl_handshake(homes, o->n, true, &f) != o->n) {
			fprintf(stderr, "bgw-relay-load: not every home registered\n");
			goto out;
		}
		for (i = 0; i < o->n; i++) {
			cds[i].first.type = RMSG_CONN_HELLO;
			memcpy(cds[i].first.id, homes[i].id, RMSG_ID_LEN);
		}
		if (rl_handshake(cds, o->n, true, &f) != o->n) {
			fprintf(stderr, "bgw-relay-load: not every CD connected\n");
			goto out;
		}
		/* Drain the PEERs the homes were sent. */
		for (i = 0; i < o->n; i++)
			while (recv(homes[i].fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
	}
	cpu0 = rl_cpu_ns(o->pid);
	t0 = rl_now_ns();
	t_end = t0 + (uint64_t)o->secs * 1000000000ull;
	while (rl_now_ns() < t_end && rounds < 100000000u) {
		rounds++;
		/* A DATA from every CD, then whatever arrived. */
		for (i = 0; i < o->n; i++) {
			/* The echo baseline needs no channel: any non-zero one encodes. */
			struct rmsg m = { .type = RMSG_DATA, .chan = o->echo ? i + 1 : cds[i].chan,
					  .data = pkt + 64,
					  .data_len = (uint16_t)o->bytes };
			uint8_t out[RMSG_MAX];
			int n = rmsg_encode(&m, out, sizeof(out));

			if (n > 0 && send(cds[i].fd, out, (size_t)n, MSG_DONTWAIT) == n)
				sent++;
		}
		for (i = 0; i < o->n; i++) {
			int fd = o->echo ? cds[i].fd : homes[i].fd;
			unsigned k;

			for (k = 0; k < 64 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; k++)
				got++;
		}
	}
	t1 = rl_now_ns();
	cpu1 = rl_cpu_ns(o->pid);
	printf("result blast server=%s n=%u bytes=%u secs=%.1f sent=%" PRIu64 " arrived=%" PRIu64
	       " pkts_per_s=%.0f server_cpu_pct=%.0f server_ns_per_pkt=%.0f"
	       " one_core_pkts_per_s=%.0f\n",
	       o->echo ? "echo" : "relay", o->n, o->bytes, (double)(t1 - t0) / 1e9, sent, got,
	       (double)got * 1e9 / (double)(t1 - t0),
	       100.0 * (double)(cpu1 - cpu0) / (double)(t1 - t0),
	       got ? (double)(cpu1 - cpu0) / (double)got : 0.0,
	       cpu1 > cpu0 ? (double)got * 1e9 / (double)(cpu1 - cpu0) : 0.0);
	ret = 0;
out:
	rl_peers_free(homes, o->n);
	rl_peers_free(cds, o->n);
	return ret;
}

static int mode_echo(const struct rl_opts *o)
{
	struct sockaddr_in la;
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t t_end, n_echo = 0;
	uint8_t buf[2048];
	int fd, ep = -1, ret = 1;

	if (rl_parse_addr(o->target, &la) < 0 || o->secs == 0)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof(la)) < 0)
		goto out;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto out;
	t_end = rl_now_ns() + (uint64_t)o->secs * 1000000000ull;
	/* As bgw-relay's loop: epoll, then up to 64 datagrams per wakeup. */
	while (rl_now_ns() < t_end) {
		struct epoll_event got;
		unsigned k;

		if (epoll_wait(ep, &got, 1, 200) <= 0)
			continue;
		for (k = 0; k < 64; k++) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
			n_echo++;
		}
	}
	fprintf(stderr, "bgw-relay-load: echo: %" PRIu64 " datagrams\n", n_echo);
	ret = 0;
out:
	if (ep >= 0)
		close(ep);
	if (fd >= 0)
		close(fd);
	return ret;
}

static void usage(FILE *f)
{
	fputs("usage: bgw-relay-load homes RELAY:PORT -n HOMES -p PID\n"
	      "       bgw-relay-load blast SERVER:PORT -n PAIRS -s SECONDS -z BYTES -p PID [--echo]\n"
	      "       bgw-relay-load echo ADDRESS:PORT -t SECONDS\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "echo", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct rl_opts o = { .n = 64, .secs = 5, .bytes = 1200 };
	const char *mode;
	int c;

	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	o.target = argv[2];
	optind = 3;
	while ((c = getopt_long(argc, argv, "n:s:t:z:p:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o.n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': case 't': o.secs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'z': o.bytes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': o.pid = atoi(optarg); break;
		case 'e': o.echo = true; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(mode, "homes") == 0)
		return mode_homes(&o);
	if (strcmp(mode, "blast") == 0)
		return mode_blast(&o);
	if (strcmp(mode, "echo") == 0)
		return mode_echo(&o);
	usage(stderr);
	return 2;
}
