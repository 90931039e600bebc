/* SPDX-License-Identifier: MIT */
/*
 * bgw-bench: the load tool of the benchmark suite (tests/bench/run,
 * doc/performance.md). It plays an HCI host over H4 on a stream socket
 * (unix:PATH, tcp:HOST:PORT) or over the bgw tunnel (tun:HOST:PORT, with
 * the test PKI), and serves the other end of the tunnel figures:
 *
 *   rtt ENDPOINT       command round trips (LE Rand: the mux forwards it to
 *                      the controller, which answers with Command Complete)
 *   acl ENDPOINT       ACL throughput to an RD, honouring Number Of
 *                      Completed Packets
 *   inquiry ENDPOINT   Inquiry command to the first Inquiry Result (of one
 *                      device with -a, in 2.56 s inquiries)
 *   scale ENDPOINT     C sessions at once doing round trips at a fixed rate
 *   load tun:HOST:PORT C tunnel sessions as a Linux host would drive them:
 *                      log in, the kernel's init sequence, LE scanning, an
 *                      ACL link each (up to --links) with traffic, and
 *                      round trips at a fixed rate
 *   login HOST:PORT    tunnel login (certificate, SCRAM, resumption)
 *   tun-bridge         a tunnel server whose sessions are H4 streams to a
 *                      controller socket (bgw-sim): the tunnel alone in front
 *                      of the same controller the baselines talk to
 *   udp-echo, udp-rtt  the raw UDP round-trip baseline of the tunnel
 *   relay              a lossy UDP relay (drops datagrams both ways)
 *   free-port          print a free TCP port on 127.0.0.1
 *
 * Every mode ends with one line "result MODE key=value ..." that the run
 * script turns into the table. Latencies are sorted and read at nearest
 * rank; CPU time of the processes under test comes from the kernel's
 * per-thread schedstat (/proc/PID/stat's utime + stime where there is
 * none), RSS from /proc/PID/status. Every loop is bounded by a
 * count and every wait by a deadline. Only loopback is ever bound.
 *
 * A measuring tool, not a test: nothing here asserts a timing.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cursor.h"
#include "hci.h"
#include "log.h"
#include "loop.h"
#include "scram.h"
#include "tunnel.h"

#define MAX_PIDS	4
#define MAX_SAMPLES	1000000
#define MAX_SESSIONS	128
#define ACL_BUF		(1 + HCI_ACL_HDR + 1024)
#define RX_CHUNK	65536
#define BENCH_USER	"alice"
/* The benchmark's own throwaway credential, made fresh in each run. */
#define BENCH_PASSWORD	"bench-only-password-7f3a"

/* ------------------------------------------------------------ utilities */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% of them <= it. */
static uint64_t pct(const uint64_t *sorted, size_t n, unsigned p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (p * n + 99) / 100;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

struct watch {
	const char *label;
	pid_t pid;
	bool tree;		/* the process and all its descendants */
	uint64_t ns0;
	uint64_t ns1;
	uint64_t runs0;		/* times its threads were put on a CPU */
	uint64_t runs1;
};

static struct watch watches[MAX_PIDS];
static unsigned nwatch;

/* utime + stime of a process in nanoseconds (proc(5) fields 14 and 15, in
 * clock ticks: 10 ms granularity, so runs must be long enough). */
static int proc_cpu_stat_ns(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	/* After ") " come field 3 (state) ... field 13, then utime, stime. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -EBADMSG;
	*out = (ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
	return 0;
}

/*
 * CPU time of every thread of a process in nanoseconds, from
 * /proc/PID/task/TID/schedstat (first field: time on the CPU). Exact where
 * utime + stime are counted in ticks; falls back to /proc/PID/stat when the
 * kernel has no schedstat. runs: how many times its threads were put on a
 * CPU (schedstat's third field: wake-ups and preemptions; 0 without
 * schedstat), which the CPU time of a process that is mostly woken,
 * does a little and sleeps follows.
 */
static int proc_cpu_ns(pid_t pid, uint64_t *out, uint64_t *runs)
{
	char path[128];
	unsigned long long v, r;
	uint64_t sum = 0, rsum = 0;
	struct dirent *de;
	unsigned i = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return proc_cpu_stat_ns(pid, out);
	while (i < 4096 && (de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		i++;
		snprintf(path, sizeof(path), "/proc/%d/task/%.32s/schedstat", (int)pid,
			 de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu %*u %llu", &v, &r) == 2) {
			sum += v;
			rsum += r;
		}
		fclose(f);
	}
	closedir(d);
	if (!i)
		return proc_cpu_stat_ns(pid, out);
	*out = sum;
	*runs = rsum;
	return 0;
}

/* VmRSS in KiB, 0 if unknown. */
static unsigned long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	unsigned long kib = 0;
	unsigned i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	for (i = 0; i < 128 && fgets(line, sizeof(line), f); i++)
		if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* pid and its descendants now (at most max), from /proc/N/stat's ppid. */
static size_t proc_tree(pid_t root, pid_t *out, size_t max)
{
	pid_t all[4096], par[4096];
	size_t nall = 0, n = 0, i, j;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (max == 0)
		return 0;
	out[n++] = root;
	if (!d)
		return n;
	while (nall < 4096 && (de = readdir(d))) {
		char path[64], buf[512], *p;
		int ppid;
		ssize_t k;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (k <= 0)
			continue;
		buf[k] = '\0';
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
			continue;
		all[nall] = (pid_t)atoi(de->d_name);
		par[nall++] = (pid_t)ppid;
	}
	closedir(d);
	/* Breadth first: out[] grows as children of its members are found. */
	for (i = 0; i < n; i++)
		for (j = 0; j < nall && n < max; j++)
			if (par[j] == out[i])
				out[n++] = all[j];
	return n;
}

/*
 * CPU of a watch; for a tree (bgw-muxd with its privilege-separated
 * children), summed over the process tree as it is now: a child that
 * ended within the window is lost.
 */
static void watch_cpu(const struct watch *w, uint64_t *out, uint64_t *runs)
{
	pid_t t[256];
	size_t n, i;
	uint64_t sum = 0, rsum = 0, v, r;

	*runs = 0;
	if (!w->tree) {
		proc_cpu_ns(w->pid, out, runs);
		return;
	}
	n = proc_tree(w->pid, t, 256);
	for (i = 0; i < n; i++) {
		r = 0;
		if (proc_cpu_ns(t[i], &v, &r) == 0) {
			sum += v;
			rsum += r;
		}
	}
	*out = sum;
	*runs = rsum;
}

static unsigned long watch_rss(const struct watch *w)
{
	pid_t t[256];
	size_t n, i;
	unsigned long sum = 0;

	if (!w->tree)
		return proc_rss_kib(w->pid);
	n = proc_tree(w->pid, t, 256);
	for (i = 0; i < n; i++)
		sum += proc_rss_kib(t[i]);
	return sum;
}

static int watch_add(const char *spec)
{
	const char *eq = strchr(spec, '=');
	char *end;
	long pid;

	if (!eq || eq == spec || nwatch >= MAX_PIDS)
		return -EINVAL;
	watches[nwatch].tree = strncmp(eq + 1, "tree:", 5) == 0;
	if (strcmp(eq + 1, "self") == 0) {
		pid = getpid();
	} else {
		pid = strtol(eq + 1 + (watches[nwatch].tree ? 5 : 0), &end, 10);
		if (*end || pid <= 0)
			return -EINVAL;
	}
	watches[nwatch].label = strndup(spec, (size_t)(eq - spec));
	if (!watches[nwatch].label)
		return -ENOMEM;
	watches[nwatch].pid = (pid_t)pid;
	nwatch++;
	return 0;
}

static void watch_start(void)
{
	unsigned i;

	for (i = 0; i < nwatch; i++)
		watch_cpu(&watches[i], &watches[i].ns0, &watches[i].runs0);
}

static void watch_stop(void)
{
	unsigned i;

	for (i = 0; i < nwatch; i++)
		watch_cpu(&watches[i], &watches[i].ns1, &watches[i].runs1);
}

/* " cpu_LABEL_us_per_op=X cpu_LABEL_pct=Y rss_LABEL_kib=Z" for each watch. */
/*
 * units: the work done (load: commands, ACL packets and advertising
 * reports delivered), 0 for none: CPU per unit of work compares runs
 * on a machine whose load changes how much work gets done.
 */
static void watch_print(uint64_t ops, uint64_t units, uint64_t wall_ns)
{
	unsigned i;

	for (i = 0; i < nwatch; i++) {
		double cpu_us = (double)(watches[i].ns1 - watches[i].ns0) / 1000.0;

		printf(" cpu_%s_us_per_op=%.2f cpu_%s_pct=%.1f rss_%s_kib=%lu",
		       watches[i].label, ops ? cpu_us / (double)ops : 0.0,
		       watches[i].label, wall_ns ? 100.0 * cpu_us * 1000.0 / (double)wall_ns : 0.0,
		       watches[i].label, watch_rss(&watches[i]));
		if (units)
			printf(" cpu_%s_us_per_unit=%.2f runs_%s_per_unit=%.2f", watches[i].label,
			       cpu_us / (double)units, watches[i].label,
			       (double)(watches[i].runs1 - watches[i].runs0) / (double)units);
	}
}

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) < 0 ? -errno : 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "HOST:PORT" (IPv4, loopback expected) into a sockaddr. */
static int parse_inet(const char *spec, struct sockaddr_in *sa)
{
	const char *colon = strrchr(spec, ':');
	char host[64];
	unsigned long port;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int connect_stream(const char *ep)
{
	int fd, one = 1;

	if (strncmp(ep, "unix:", 5) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(ep + 5) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		memcpy(sa.sun_path, ep + 5, strlen(ep + 5) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		return fd;
	}
	if (strncmp(ep, "tcp:", 4) == 0) {
		struct sockaddr_in sa;

		if (parse_inet(ep + 4, &sa) < 0)
			return -EINVAL;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		return fd;
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ the host */

/*
 * One HCI host: a stream (fd) or a tunnel client. Incoming packets are
 * handled as they arrive (host_on_pkt) and leave their marks in the
 * struct; waits run until a mark is set or a deadline passes.
 */
struct host {
	int fd;
	struct h4_reader *rd;
	/* Tunnel. */
	struct loop *l;
	struct tun_client *tc;
	bool ready, writable;
	/* The command waited for. */
	uint16_t cc_op;
	bool cc_seen, cs_seen;
	uint8_t cc_ret[64];
	size_t cc_rlen;
	uint8_t cs_status;
	uint64_t cc_ns;
	/* The event waited for. */
	uint8_t want_evt;
	bool evt_seen;
	uint8_t evt[256];
	size_t evt_len;
	uint64_t evt_ns;
	/* ACL credits given back for acl_handle. */
	uint16_t acl_handle;
	uint64_t credits;
	uint64_t adv_reports;	/* LE Advertising Reports, counted per report */
	/* inquiry -a: the result waited for names this device. */
	bool want_addr_set;
	uint8_t want_addr[6];
	bool inq_done;		/* Inquiry Complete seen, or the device */
	bool broken;
};

/*
 * Whether an inquiry result event names addr. Inquiry Result (7.7.2) and
 * with RSSI (7.7.33) carry Num_Responses entries of 14 bytes each, the
 * address first (the layout controllers send and Linux reads); Extended
 * Inquiry Result (7.7.38) one, after Num_Responses.
 */
static bool inq_result_names(const struct h4_pkt *p, const uint8_t addr[6])
{
	unsigned n, i;

	if (p->evt.plen < 7)
		return false;
	if (p->evt.code == HCI_EV_EXT_INQUIRY_RESULT)
		return memcmp(p->evt.param + 1, addr, 6) == 0;
	if (p->evt.code != HCI_EV_INQUIRY_RESULT && p->evt.code != HCI_EV_INQUIRY_RESULT_RSSI)
		return false;
	n = p->evt.param[0];
	for (i = 0; i < n && 1 + (i + 1) * 14u <= p->evt.plen; i++)
		if (memcmp(p->evt.param + 1 + i * 14, addr, 6) == 0)
			return true;
	return false;
}

static int host_on_pkt(const struct h4_pkt *p, void *user)
{
	struct host *h = user;
	struct h4_cc cc;
	struct h4_cs cs;

	if (p->type != H4_EVT)
		return 0;
	/* LE Meta, LE Advertising Report (Vol 4 Part E 7.7.65.2). */
	if (p->evt.code == HCI_EV_LE_META && p->evt.plen >= 2 && p->evt.param[0] == 0x02)
		h->adv_reports += p->evt.param[1];
	if (p->evt.code == HCI_EV_CMD_COMPLETE && h4_parse_cc(p, &cc) == 0) {
		if (cc.opcode == h->cc_op && !h->cc_seen) {
			h->cc_ns = now_ns();
			h->cc_rlen = cc.rlen < sizeof(h->cc_ret) ? cc.rlen : sizeof(h->cc_ret);
			memcpy(h->cc_ret, cc.ret, h->cc_rlen);
			h->cc_seen = true;
		}
	} else if (p->evt.code == HCI_EV_CMD_STATUS && h4_parse_cs(p, &cs) == 0) {
		if (cs.opcode == h->cc_op && !h->cs_seen) {
			h->cs_status = cs.status;
			h->cs_seen = true;
		}
	} else if (p->evt.code == HCI_EV_NUM_COMP_PKTS) {
		struct cur c;
		unsigned n, i;

		cur_init(&c, p->evt.param, p->evt.plen);
		n = cur_u8(&c);
		for (i = 0; i < n && cur_is_ok(&c); i++) {
			uint16_t hd = cur_le16(&c) & 0x0fff, cnt = cur_le16(&c);

			if (cur_is_ok(&c) && hd == h->acl_handle)
				h->credits += cnt;
		}
	}
	if (p->evt.code == HCI_EV_INQUIRY_COMPLETE)
		h->inq_done = true;
	if (h->want_addr_set && !h->evt_seen && inq_result_names(p, h->want_addr)) {
		h->evt_ns = now_ns();
		h->evt_seen = true;
		h->inq_done = true;	/* stops the wait for this inquiry */
	}
	if (!h->want_addr_set && p->evt.code == h->want_evt && !h->evt_seen) {
		h->evt_ns = now_ns();
		h->evt_len = p->evt.plen;
		memcpy(h->evt, p->evt.param, p->evt.plen);
		h->evt_seen = true;
	}
	return 0;
}

/* Read what the stream has; 0, or -EPIPE when it closed or broke. */
static int host_read(struct host *h)
{
	static uint8_t buf[RX_CHUNK];
	ssize_t n = read(h->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0 || h4_reader_feed(h->rd, buf, (size_t)n, host_on_pkt, h) < 0) {
		h->broken = true;
		return -EPIPE;
	}
	return 0;
}

/* Run until *flag is set: 0, -ETIMEDOUT or -EPIPE. */
static int host_wait(struct host *h, const bool *flag, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct pollfd pfd = { .fd = h->fd, .events = POLLIN };

	while (!*flag && !h->broken) {
		uint64_t t = now_ns();
		int left;

		if (t >= deadline)
			return -ETIMEDOUT;
		left = (int)((deadline - t + 999999) / 1000000);
		if (h->tc) {
			if (loop_iterate(h->l, left) < 0)
				return -EIO;
			continue;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -errno;
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && host_read(h) < 0)
			return -EPIPE;
	}
	return h->broken ? -EPIPE : 0;
}

/* One round of waiting for input, at most ms. */
static void host_pump(struct host *h, int ms)
{
	struct pollfd pfd = { .fd = h->fd, .events = POLLIN };

	if (h->tc)
		loop_iterate(h->l, ms);
	else if (poll(&pfd, 1, ms) > 0)
		host_read(h);
}

/* Collect and ignore whatever arrives for ms. */
static void host_drain(struct host *h, int ms)
{
	bool never = false;

	host_wait(h, &never, ms);
}

static int write_all(int fd, const uint8_t *b, size_t len)
{
	size_t off = 0;
	unsigned i;

	/* Bounded: a blocking stream takes at least a byte per round. */
	for (i = 0; off < len && i < 100000; i++) {
		ssize_t n = write(fd, b + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return off == len ? 0 : -EIO;
}

static int host_send(struct host *h, const uint8_t *b, size_t len)
{
	unsigned i;
	int r;

	if (!h->tc)
		return write_all(h->fd, b, len);
	for (i = 0; i < 1000; i++) {
		r = tun_client_send(h->tc, b, len);
		if (r != -ENOBUFS)
			return r;
		h->writable = false;
		r = host_wait(h, &h->writable, 5000);
		if (r < 0)
			return r;
	}
	return -ENOBUFS;
}

static int host_cmd(struct host *h, uint16_t op, const void *param, size_t plen)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int n = h4_build_cmd(b, sizeof(b), op, param, plen);

	if (n < 0)
		return n;
	h->cc_op = op;
	h->cc_seen = h->cs_seen = false;
	return host_send(h, b, (size_t)n);
}

/* A command answered by Command Complete: its status, or a negative errno. */
static int host_cmd_sync(struct host *h, uint16_t op, const void *param,
			 size_t plen, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	int r = host_cmd(h, op, param, plen);

	if (r < 0)
		return r;
	while (!h->cc_seen && !h->cs_seen) {
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		r = host_wait(h, &h->cc_seen, 20);
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
	if (h->cs_seen)
		return h->cs_status;
	return h->cc_rlen ? h->cc_ret[0] : 0;
}

/* Tunnel client callbacks. */
static void hc_ready(void *user, struct tun_client *c, const char *name, bool resumed)
{
	struct host *h = user;

	(void)c;
	(void)name;
	(void)resumed;
	h->ready = true;
}

static int hc_packet(void *user, struct tun_client *c, const uint8_t *h4, size_t len)
{
	struct host *h = user;
	struct h4_pkt p;

	(void)c;
	if (h4_parse(&p, h4, len, 0) == 0)
		host_on_pkt(&p, h);
	return 0;
}

static void hc_down(void *user, struct tun_client *c, int reason, const char *text)
{
	struct host *h = user;

	(void)c;
	fprintf(stderr, "bgw-bench: tunnel down (%d): %s\n", reason, text ? text : "");
	h->broken = true;
}

static void hc_writable(void *user, struct tun_client *c)
{
	struct host *h = user;

	(void)c;
	h->writable = true;
}

static const struct tun_client_ops host_tun_ops = {
	.on_ready = hc_ready,
	.on_packet = hc_packet,
	.on_down = hc_down,
	.on_writable = hc_writable,
};

static const char *pki_dir;	/* --pki: the test PKI (tests/tunnel_certs.sh) */
static bool use_password;	/* --password: SCRAM instead of the certificate */
static bool use_tls;		/* --tls: TLS/TCP instead of DTLS/UDP */
static const char *bench_user = BENCH_USER;		/* --user */
static char bench_password[256] = BENCH_PASSWORD;	/* --password-file */
/* load: every session's tunnel client on this one loop. */
static struct loop *shared_loop;

struct pki {
	char ca[4096], cert[4096], key[4096], scert[4096], skey[4096];
};

static int pki_paths(struct pki *k)
{
	if (!pki_dir) {
		fprintf(stderr, "bgw-bench: tun: needs --pki DIR\n");
		return -EINVAL;
	}
	snprintf(k->ca, sizeof(k->ca), "%s/ca.crt", pki_dir);
	snprintf(k->cert, sizeof(k->cert), "%s/alice.crt", pki_dir);
	snprintf(k->key, sizeof(k->key), "%s/alice.key", pki_dir);
	snprintf(k->scert, sizeof(k->scert), "%s/server.crt", pki_dir);
	snprintf(k->skey, sizeof(k->skey), "%s/server.key", pki_dir);
	return 0;
}

static void tun_client_cfg_fill(struct tun_client_cfg *cc, const struct pki *k,
				char *host, const char *port)
{
	memset(cc, 0, sizeof(*cc));
	cc->host = host;
	cc->port = port;
	cc->transport = use_tls ? TUN_TRANSPORT_TLS : TUN_TRANSPORT_DTLS;
	cc->ca_file = k->ca;
	if (use_password) {
		cc->user = bench_user;
		cc->password = bench_password;
		cc->password_len = strlen(bench_password);
	} else {
		cc->cert_file = k->cert;
		cc->key_file = k->key;
	}
}

static void host_close(struct host *h)
{
	if (h->tc) {
		tun_client_free(h->tc);
		h->tc = NULL;
		loop_iterate(h->l, 0);
	}
	if (h->l != shared_loop)
		loop_free(h->l);
	h->l = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h4_reader_free(h->rd);
	h->rd = NULL;
}

static int host_open(struct host *h, const char *ep)
{
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->acl_handle = 0xffff;
	h->rd = h4_reader_new(0);
	if (!h->rd)
		return -ENOMEM;
	if (strncmp(ep, "tun:", 4) == 0) {
		struct tun_client_cfg cc;
		struct pki k;
		char host[64];
		const char *colon = strrchr(ep + 4, ':');
		unsigned attempt;
		int r = -ETIMEDOUT;

		if (!colon || (size_t)(colon - ep - 4) >= sizeof(host) ||
		    pki_paths(&k) < 0)
			return -EINVAL;
		memcpy(host, ep + 4, (size_t)(colon - ep - 4));
		host[colon - ep - 4] = '\0';
		h->l = shared_loop ? shared_loop : loop_new();
		if (!h->l)
			return -ENOMEM;
		tun_client_cfg_fill(&cc, &k, host, colon + 1);
		/*
		 * A login that stalls (see doc/performance.md) is given up after
		 * 3 s and tried again, at most 3 times; each stall is reported.
		 */
		cc.handshake_ms = 3000;
		for (attempt = 0; attempt < 3; attempt++) {
			h->broken = h->ready = false;
			r = tun_client_new(&h->tc, h->l, &cc, &host_tun_ops, h);
			if (r < 0)
				return r;
			r = host_wait(h, &h->ready, 5000);
			if (r == 0)
				return 0;
			fprintf(stderr, "bgw-bench: login attempt %u stalled or failed\n",
				attempt + 1);
			tun_client_free(h->tc);
			h->tc = NULL;
			loop_iterate(h->l, 0);
		}
		return r;
	}
	h->fd = connect_stream(ep);
	return h->fd < 0 ? h->fd : 0;
}

/* ------------------------------------------------------------ options */

struct opts {
	const char *ep;
	unsigned long n;		/* measured operations */
	unsigned long warmup;
	unsigned long seconds;		/* duration of a timed mode */
	unsigned long sessions;
	unsigned long rate;		/* per session, per second; 0: closed loop */
	unsigned long loss;		/* relay: per mille */
	unsigned long iter;		/* SCRAM iterations */
	unsigned long to_port;
	unsigned long links;		/* load: sessions with an ACL link */
	const char *port_file;
	const char *to;
	const char *addr;
	const char *login_mode;
	const char *raw;		/* append the samples (ns) to this file */
	const char *mark;		/* load: created when the window starts */
};

static int parse_bdaddr(const char *s, uint8_t out[6])
{
	unsigned v[6];
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[5], &v[4], &v[3], &v[2],
		   &v[1], &v[0]) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		out[i] = (uint8_t)v[i];
	return 0;
}

/* ------------------------------------------------------------ rtt */

/*
 * Raw samples, one decimal number of nanoseconds per line: the run script
 * measures each path in several interleaved rounds (so a burst of load
 * from elsewhere on the machine falls on every path alike) and pools them
 * with "bgw-bench stats".
 */
static void print_lat(const char *prefix, uint64_t *v, size_t n);

static int write_raw(const char *path, const uint64_t *v, size_t n)
{
	FILE *f = fopen(path, "ae");
	size_t i;

	if (!f)
		return -errno;
	for (i = 0; i < n; i++)
		fprintf(f, "%" PRIu64 "\n", v[i]);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int mode_stats(const char *path)
{
	char line[64];
	uint64_t *v = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "re");
	int ret = 1;

	if (!f)
		return 1;
	v = calloc(MAX_SAMPLES, sizeof(*v));
	if (!v)
		goto out;
	while (n < MAX_SAMPLES && fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long long x = strtoull(line, &end, 10);

		if (end == line || (*end != '\n' && *end != '\0'))
			goto out;
		v[n++] = x;
	}
	if (!n || !feof(f))
		goto out;
	printf("result stats n=%zu", n);
	print_lat("", v, n);
	printf("\n");
	ret = 0;
out:
	free(v);
	fclose(f);
	return ret;
}

static int init_host(struct host *h)
{
	int r = host_cmd_sync(h, HCI_OP_RESET, NULL, 0, 10000);

	if (r != 0) {
		fprintf(stderr, "bgw-bench: Reset: %d\n", r);
		return r < 0 ? r : -EIO;
	}
	return 0;
}

static void print_lat(const char *prefix, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf(" %sp50_us=%.1f %sp99_us=%.1f %smax_us=%.1f", prefix, us(pct(v, n, 50)),
	       prefix, us(pct(v, n, 99)), prefix, us(v[n ? n - 1 : 0]));
}

static int mode_rtt(const struct opts *o)
{
	struct host h;
	uint64_t *v = NULL, t0, wall;
	unsigned long i;
	int r, ret = 1;

	if (host_open(&h, o->ep) < 0 || init_host(&h) < 0) {
		fprintf(stderr, "bgw-bench: rtt: cannot reach %s\n", o->ep);
		goto out;
	}
	v = calloc(o->n, sizeof(*v));
	if (!v)
		goto out;
	for (i = 0; i < o->warmup; i++) {
		r = host_cmd_sync(&h, HCI_OP_LE_RAND, NULL, 0, 5000);
		if (r != 0) {
			fprintf(stderr, "bgw-bench: LE Rand: %d\n", r);
			goto out;
		}
	}
	watch_start();
	t0 = now_ns();
	for (i = 0; i < o->n; i++) {
		uint64_t s = now_ns();

		if (host_cmd(&h, HCI_OP_LE_RAND, NULL, 0) < 0 ||
		    host_wait(&h, &h.cc_seen, 5000) < 0 ||
		    h.cc_rlen < 1 || h.cc_ret[0] != 0) {
			fprintf(stderr, "bgw-bench: LE Rand %lu of %lu failed\n", i, o->n);
			goto out;
		}
		v[i] = h.cc_ns - s;
	}
	wall = now_ns() - t0;
	watch_stop();
	if (o->raw && write_raw(o->raw, v, o->n) < 0)
		goto out;
	printf("result rtt n=%lu", o->n);
	print_lat("", v, o->n);
	printf(" ops_per_s=%.0f", (double)o->n * 1e9 / (double)wall);
	watch_print(o->n, 0, wall);
	printf("\n");
	ret = 0;
out:
	free(v);
	host_close(&h);
	return ret;
}

/* ------------------------------------------------------------ acl */

static int mode_acl(const struct opts *o)
{
	uint8_t p[13] = { 0 }, pkt[ACL_BUF], data[1024];
	struct host h;
	uint64_t t0, t_end, wall, sent = 0, bytes = 0;
	uint16_t mtu;
	unsigned credits_max;
	int r, ret = 1, n;

	if (host_open(&h, o->ep) < 0 || init_host(&h) < 0) {
		fprintf(stderr, "bgw-bench: acl: cannot reach %s\n", o->ep);
		goto out;
	}
	r = host_cmd_sync(&h, HCI_OP_READ_BUFFER_SIZE, NULL, 0, 5000);
	if (r != 0 || h.cc_rlen < 8) {
		fprintf(stderr, "bgw-bench: Read Buffer Size: %d\n", r);
		goto out;
	}
	mtu = get_le16(h.cc_ret + 1);
	credits_max = get_le16(h.cc_ret + 4);
	if (mtu > sizeof(data))
		mtu = sizeof(data);
	if (mtu < 8 || credits_max == 0) {
		fprintf(stderr, "bgw-bench: unusable buffers: %u x %u\n", credits_max, mtu);
		goto out;
	}
	/* Create Connection (7.1.5): DM1..DH5, R1, no clock offset, role switch. */
	if (parse_bdaddr(o->addr, p) < 0)
		goto out;
	put_le16(p + 6, 0xcc18);
	p[8] = 0x01;
	p[12] = 0x01;
	h.want_evt = HCI_EV_CONN_COMPLETE;
	h.evt_seen = false;
	r = host_cmd_sync(&h, HCI_OP_CREATE_CONN, p, sizeof(p), 5000);
	if (r != 0 || host_wait(&h, &h.evt_seen, 10000) < 0 || h.evt[0] != 0) {
		fprintf(stderr, "bgw-bench: Create Connection to %s: %d/%u\n", o->addr, r,
			h.evt_seen ? h.evt[0] : 0xff);
		goto out;
	}
	h.want_evt = 0;
	h.acl_handle = get_le16(h.evt + 1) & 0x0fff;
	h.credits = credits_max;
	/* One L2CAP PDU per ACL packet on an unopened dynamic channel: the RD
	 * drops it after the controller has carried it. */
	memset(data, 0xa5, sizeof(data));
	put_le16(data, (uint16_t)(mtu - 4));
	put_le16(data + 2, 0x0040);
	n = h4_build_acl(pkt, sizeof(pkt), h.acl_handle, HCI_PB_FIRST_FLUSH, 0, data, mtu);
	if (n < 0)
		goto out;
	watch_start();
	t0 = now_ns();
	t_end = t0 + o->seconds * 1000000000ull;
	while (sent < o->n && now_ns() < t_end) {
		/* Out of credits: wait (bounded) for Number Of Completed Packets. */
		while (!h.credits && !h.broken && now_ns() < t_end + 2000000000ull)
			host_pump(&h, 100);
		if (!h.credits) {
			fprintf(stderr, "bgw-bench: no credits back after %" PRIu64 " packets\n", sent);
			goto out;
		}
		if (host_send(&h, pkt, (size_t)n) < 0)
			goto out;
		h.credits--;
		sent++;
		bytes += mtu;
	}
	/* Every packet is carried once its credit is back. */
	while (h.credits < credits_max && !h.broken && now_ns() < t_end + 5000000000ull)
		host_pump(&h, 100);
	wall = now_ns() - t0;
	watch_stop();
	printf("result acl pkts=%" PRIu64 " mtu=%u credits=%u mbit_s=%.1f pkts_per_s=%.0f",
	       sent, mtu, credits_max, (double)bytes * 8.0 * 1000.0 / (double)wall,
	       (double)sent * 1e9 / (double)wall);
	watch_print(sent, 0, wall);
	printf("\n");
	/* Disconnect (7.1.6), remote user terminated. */
	put_le16(p, h.acl_handle);
	p[2] = 0x13;
	h.want_evt = HCI_EV_DISCONN_COMPLETE;
	h.evt_seen = false;
	if (host_cmd_sync(&h, HCI_OP_DISCONNECT, p, 3, 5000) == 0)
		host_wait(&h, &h.evt_seen, 5000);
	ret = 0;
out:
	host_close(&h);
	return ret;
}

/* ------------------------------------------------------------ inquiry */

/*
 * Inquiry (7.1.1) to the first result: any result, 10.24 s inquiries; or
 * with -a the first result naming that device, in 2.56 s inquiries
 * (Inquiry_Length 2, the interval the paper's prototype used), counting
 * the inquiries that ended (Inquiry Complete) without it.
 */
static int mode_inquiry(const struct opts *o)
{
	/* GIAC 0x9e8b33, 10.24 s (2.56 s with -a), unlimited responses. */
	uint8_t inq[5] = { 0x33, 0x8b, 0x9e, 0x08, 0x00 };
	struct host h;
	uint64_t *v = NULL;
	unsigned long i, missed = 0;
	int r, ret = 1;

	if (host_open(&h, o->ep) < 0 || init_host(&h) < 0) {
		fprintf(stderr, "bgw-bench: inquiry: cannot reach %s\n", o->ep);
		goto out;
	}
	if (o->addr) {
		if (parse_bdaddr(o->addr, h.want_addr) < 0) {
			fprintf(stderr, "bgw-bench: inquiry: bad address %s\n", o->addr);
			goto out;
		}
		h.want_addr_set = true;
		inq[3] = 0x02;
	}
	v = calloc(o->n, sizeof(*v));
	if (!v || host_cmd_sync(&h, HCI_OP_WRITE_INQUIRY_MODE, "\x01", 1, 5000) != 0)
		goto out;
	for (i = 0; i < o->n; i++) {
		uint64_t s;

		h.want_evt = HCI_EV_INQUIRY_RESULT_RSSI;
		h.evt_seen = false;
		h.inq_done = false;
		s = now_ns();
		r = host_cmd_sync(&h, HCI_OP_INQUIRY, inq, sizeof(inq), 5000);
		if (r != 0) {
			fprintf(stderr, "bgw-bench: inquiry %lu: refused (%d)\n", i, r);
			goto out;
		}
		if (o->addr) {
			/* Within this inquiry, or it is counted as missed and
			 * the next one is tried (bounded: 5 per sample). */
			unsigned tries = 0;

			while (!h.evt_seen && !h.broken && host_wait(&h, &h.inq_done, 15000) == 0 &&
			       !h.evt_seen && ++tries < 5) {
				missed++;
				h.inq_done = false;
				if (host_cmd_sync(&h, HCI_OP_INQUIRY, inq, sizeof(inq), 5000) != 0)
					break;
			}
		} else {
			host_wait(&h, &h.evt_seen, 15000);
		}
		if (!h.evt_seen) {
			fprintf(stderr, "bgw-bench: inquiry %lu: no result%s%s\n", i,
				o->addr ? " from " : "", o->addr ? o->addr : "");
			goto out;
		}
		v[i] = h.evt_ns - s;
		h.want_evt = 0;
		/* Cancel what still runs (Command Disallowed if it ended). */
		host_cmd_sync(&h, HCI_OP_INQUIRY_CANCEL, NULL, 0, 5000);
		host_drain(&h, 20);
	}
	if (o->raw && write_raw(o->raw, v, o->n) < 0)
		goto out;
	qsort(v, o->n, sizeof(*v), cmp_u64);
	printf("result inquiry n=%lu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f", o->n,
	       us(pct(v, o->n, 50)) / 1000.0, us(pct(v, o->n, 99)) / 1000.0,
	       us(v[o->n - 1]) / 1000.0);
	if (o->addr) {
		unsigned long within = 0;

		/* From the Inquiry command: found within one 2.56 s inquiry. */
		for (i = 0; i < o->n; i++)
			within += v[i] <= 2560000000ull;
		printf(" missed_inquiries=%lu within_2560ms=%lu", missed, within);
	}
	printf("\n");
	ret = 0;
out:
	free(v);
	host_close(&h);
	return ret;
}

/* ------------------------------------------------------------ scale */

struct sess {
	struct host h;
	uint64_t *v;
	size_t nv;
	uint64_t sent_ns;
	uint64_t next_ns;
	bool busy;
};

static int mode_scale(const struct opts *o)
{
	struct sess *ss = NULL;
	struct pollfd pfd[MAX_SESSIONS];
	uint64_t t0, t_end, wall, total = 0, period, init_ns, minops = UINT64_MAX, maxops = 0;
	uint64_t worst_p99 = 0, best_p99 = UINT64_MAX, *all = NULL;
	unsigned long i, j, cap = o->seconds * (o->rate ? o->rate + 1 : 100000);
	size_t nall = 0;
	int ret = 1;

	if (o->sessions == 0 || o->sessions > MAX_SESSIONS)
		return 2;
	if (cap > MAX_SAMPLES)
		cap = MAX_SAMPLES;
	ss = calloc(o->sessions, sizeof(*ss));
	if (!ss)
		return 1;
	for (i = 0; i < o->sessions; i++)
		ss[i].h.fd = -1;
	t0 = now_ns();
	for (i = 0; i < o->sessions; i++) {
		if (host_open(&ss[i].h, o->ep) < 0 || ss[i].h.tc) {
			fprintf(stderr, "bgw-bench: scale: session %lu: cannot connect\n", i);
			goto out;
		}
		ss[i].v = calloc(cap, sizeof(uint64_t));
		if (!ss[i].v)
			goto out;
	}
	/* Every session initialises at once: Reset, then one LE Rand. */
	for (i = 0; i < o->sessions; i++)
		if (init_host(&ss[i].h) < 0)
			goto out;
	init_ns = now_ns() - t0;
	period = o->rate ? 1000000000ull / o->rate : 0;
	watch_start();
	t0 = now_ns();
	t_end = t0 + o->seconds * 1000000000ull;
	for (i = 0; i < o->sessions; i++)	/* spread the first sends */
		ss[i].next_ns = t0 + (period ? period * i / o->sessions : 0);
	/* Bounded by the duration; each round either sends or waits <= 10 ms. */
	while (now_ns() < t_end) {
		uint64_t t = now_ns(), next = t_end;
		int timeout;

		for (i = 0; i < o->sessions; i++) {
			struct sess *s = &ss[i];

			if (!s->busy && s->nv < cap && t >= s->next_ns) {
				if (host_cmd(&s->h, HCI_OP_LE_RAND, NULL, 0) < 0)
					goto out;
				s->sent_ns = t;
				s->busy = true;
				s->next_ns += period;
				if (s->next_ns < t)
					s->next_ns = t;	/* fell behind: no burst */
			}
			if (!s->busy && s->next_ns < next)
				next = s->next_ns;
			pfd[i].fd = s->h.fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		t = now_ns();
		timeout = next > t ? (int)((next - t) / 1000000) : 0;
		if (timeout > 10)
			timeout = 10;
		if (poll(pfd, o->sessions, timeout) < 0 && errno != EINTR)
			goto out;
		for (i = 0; i < o->sessions; i++) {
			struct sess *s = &ss[i];

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (host_read(&s->h) < 0) {
				fprintf(stderr, "bgw-bench: scale: session %lu dropped\n", i);
				goto out;
			}
			if (s->busy && s->h.cc_seen) {
				s->busy = false;
				if (s->nv < cap)
					s->v[s->nv++] = s->h.cc_ns - s->sent_ns;
			}
		}
	}
	wall = now_ns() - t0;
	watch_stop();
	all = calloc(o->sessions * cap, sizeof(uint64_t));
	if (!all)
		goto out;
	for (i = 0; i < o->sessions; i++) {
		uint64_t p99;

		for (j = 0; j < ss[i].nv; j++)
			all[nall++] = ss[i].v[j];
		qsort(ss[i].v, ss[i].nv, sizeof(uint64_t), cmp_u64);
		p99 = pct(ss[i].v, ss[i].nv, 99);
		if (p99 > worst_p99)
			worst_p99 = p99;
		if (p99 < best_p99)
			best_p99 = p99;
		if (ss[i].nv < minops)
			minops = ss[i].nv;
		if (ss[i].nv > maxops)
			maxops = ss[i].nv;
		total += ss[i].nv;
	}
	qsort(all, nall, sizeof(uint64_t), cmp_u64);
	printf("result scale sessions=%lu rate=%lu ops=%" PRIu64 " init_ms=%.1f"
	       " p50_us=%.1f p99_us=%.1f worst_session_p99_us=%.1f best_session_p99_us=%.1f"
	       " fairness=%.3f",
	       o->sessions, o->rate, total, us(init_ns) / 1000.0,
	       us(pct(all, nall, 50)), us(pct(all, nall, 99)), us(worst_p99),
	       us(best_p99), maxops ? (double)minops / (double)maxops : 0.0);
	watch_print(total, 0, wall);
	printf("\n");
	ret = 0;
out:
	free(all);
	if (ss) {
		for (i = 0; i < o->sessions; i++) {
			free(ss[i].v);
			host_close(&ss[i].h);
		}
		free(ss);
	}
	return ret;
}

/* ------------------------------------------------------------ load */

/*
 * What a stock Linux host (kernel 6.1 hci_sync.c hci_init1..4_sync, first
 * init of a dual-mode controller; /work/shared/notes and tests/hostdrv)
 * sends a new controller, each command waited for before the next.
 */
struct init_cmd {
	uint16_t op;
	uint8_t plen;
	uint8_t param[16];
};

static const struct init_cmd linux_init[] = {
	{ HCI_OP_RESET, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_FEATURES, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_VERSION, 0, { 0 } },
	{ HCI_OP_READ_BD_ADDR, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_COMMANDS, 0, { 0 } },
	{ HCI_OP_WRITE_INQUIRY_MODE, 1, { 0x02 } },
	{ HCI_OP_READ_INQ_RSP_TX_POWER, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_EXT_FEATURES, 1, { 0x01 } },
	{ HCI_OP_READ_BUFFER_SIZE, 0, { 0 } },
	{ HCI_OP_READ_CLASS_OF_DEV, 0, { 0 } },
	{ HCI_OP_READ_LOCAL_NAME, 0, { 0 } },
	{ HCI_OP_READ_VOICE_SETTING, 0, { 0 } },
	{ HCI_OP_READ_NUM_SUPPORTED_IAC, 0, { 0 } },
	{ HCI_OP_READ_CURRENT_IAC_LAP, 0, { 0 } },
	{ HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT, 2, { 0x00, 0x7d } },
	{ HCI_OP_LE_READ_BUFFER_SIZE, 0, { 0 } },
	{ HCI_OP_LE_READ_LOCAL_FEATURES, 0, { 0 } },
	{ 0x201c /* LE Read Supported States */, 0, { 0 } },
	{ HCI_OP_SET_EVENT_MASK, 8, { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d } },
	{ HCI_OP_READ_STORED_LINK_KEY, 7, { 0, 0, 0, 0, 0, 0, 0x01 } },
	{ HCI_OP_WRITE_DEF_LINK_POLICY, 2, { 0x05, 0x00 } },
	{ HCI_OP_READ_PAGE_SCAN_ACTIVITY, 0, { 0 } },
	{ HCI_OP_READ_PAGE_SCAN_TYPE, 0, { 0 } },
	{ HCI_OP_LE_SET_EVENT_MASK, 8, { 0x1f, 0, 0, 0, 0, 0, 0, 0 } },
	{ 0x200f /* LE Read Filter Accept List Size */, 0, { 0 } },
	{ 0x2010 /* LE Clear Filter Accept List */, 0, { 0 } },
	{ HCI_OP_WRITE_LE_HOST_SUPPORTED, 2, { 0x01, 0x00 } },
	{ HCI_OP_DELETE_STORED_LINK_KEY, 7, { 0, 0, 0, 0, 0, 0, 0x01 } },
};

struct lsess {
	struct host h;
	uint64_t *v;
	size_t nv;
	uint64_t sent_ns, next_ns;
	bool busy;
	bool link;
	uint16_t mtu;
	unsigned credits_max;
	uint64_t acl_pkts;
	uint64_t adv0;
	unsigned init_errors;
};

/* Login and the Linux init sequence for one session. */
static int load_setup(struct lsess *s, const struct opts *o, unsigned long i)
{
	size_t k;
	int r;

	use_password = !strcmp(o->login_mode, "password") ||
		       (!strcmp(o->login_mode, "mixed") && (i & 1));
	if (host_open(&s->h, o->ep) < 0 || !s->h.tc) {
		fprintf(stderr, "bgw-bench: load: session %lu: cannot log in\n", i);
		return -EIO;
	}
	for (k = 0; k < sizeof(linux_init) / sizeof(linux_init[0]); k++) {
		const struct init_cmd *c = &linux_init[k];

		r = host_cmd_sync(&s->h, c->op, c->param, c->plen, 10000);
		if (r < 0) {
			fprintf(stderr, "bgw-bench: load: session %lu: 0x%04x: %d\n", i, c->op, r);
			return r;
		}
		if (r) {
			/* Linux would give up here; count it and go on. */
			fprintf(stderr, "bgw-bench: load: session %lu: 0x%04x: status 0x%02x\n",
				i, c->op, r);
			s->init_errors++;
		}
		if (c->op == HCI_OP_READ_BUFFER_SIZE && s->h.cc_rlen >= 8) {
			s->mtu = get_le16(s->h.cc_ret + 1);
			s->credits_max = get_le16(s->h.cc_ret + 4);
		}
	}
	return 0;
}

/*
 * Scan the way `bluetoothctl scan on` does (hci_active_scan_sync): active,
 * 11.25 ms, own random address, duplicates filtered (the mux filters them
 * per session; the controller reports every advertising event); with
 * --no-dup-filter as the kernel does with an advertisement monitor, so
 * every report the house makes reaches every session.
 */
static bool no_dup_filter;

static int load_scan(struct lsess *s, unsigned long i)
{
	static const uint8_t scan_param[7] = { 0x01, 0x12, 0x00, 0x12, 0x00, 0x01, 0x00 };
	uint8_t scan_on[2] = { 0x01, no_dup_filter ? 0x00 : 0x01 };
	uint8_t raddr[6] = { (uint8_t)i, (uint8_t)(i >> 8), 0xb5, 0xbe, 0x0b, 0x3f };

	if (host_cmd_sync(&s->h, 0x2005 /* LE Set Random Address */, raddr, 6, 10000) != 0 ||
	    host_cmd_sync(&s->h, HCI_OP_LE_SET_SCAN_PARAM, scan_param, 7, 10000) != 0 ||
	    host_cmd_sync(&s->h, HCI_OP_LE_SET_SCAN_ENABLE, scan_on, 2, 10000) != 0) {
		fprintf(stderr, "bgw-bench: load: session %lu: LE scan refused\n", i);
		return -EIO;
	}
	return 0;
}

/* Create Connection (7.1.5) to the session's RD, as in mode_acl. */
static int load_link(struct lsess *s, const uint8_t rd[6], unsigned long i)
{
	uint8_t p[13] = { 0 };
	int r;

	memcpy(p, rd, 6);
	put_le16(p + 6, 0xcc18);
	p[8] = 0x01;
	p[12] = 0x01;
	s->h.want_evt = HCI_EV_CONN_COMPLETE;
	s->h.evt_seen = false;
	r = host_cmd_sync(&s->h, HCI_OP_CREATE_CONN, p, sizeof(p), 5000);
	if (r != 0 || host_wait(&s->h, &s->h.evt_seen, 10000) < 0 || s->h.evt[0] != 0) {
		fprintf(stderr, "bgw-bench: load: session %lu: Create Connection: %d/0x%02x\n",
			i, r, s->h.evt_seen ? s->h.evt[0] : 0xff);
		s->h.want_evt = 0;
		return -EIO;
	}
	s->h.want_evt = 0;
	s->h.acl_handle = get_le16(s->h.evt + 1) & 0x0fff;
	s->h.credits = s->credits_max;
	s->link = true;
	return 0;
}

static int mode_load(const struct opts *o)
{
	struct lsess *ss = NULL;
	uint8_t rd[6], pkt[ACL_BUF], data[1024];
	uint64_t t0, t_end, wall, period, setup_ns, total = 0, adv = 0;
	uint64_t worst_p99 = 0, *all = NULL, minops = UINT64_MAX, maxops = 0;
	uint64_t minacl = UINT64_MAX, maxacl = 0, acl_total = 0, acl_bytes = 0;
	unsigned long i, j, cap = o->seconds * (o->rate ? o->rate + 1 : 100000);
	unsigned long links = 0, init_errors = 0;
	size_t nall = 0;
	int ret = 1, n;

	if (o->sessions == 0 || o->sessions > MAX_SESSIONS || strncmp(o->ep, "tun:", 4) ||
	    !o->addr || parse_bdaddr(o->addr, rd) < 0)
		return 2;
	if (cap > MAX_SAMPLES)
		cap = MAX_SAMPLES;
	shared_loop = loop_new();
	ss = calloc(o->sessions, sizeof(*ss));
	if (!shared_loop || !ss)
		goto out;
	for (i = 0; i < o->sessions; i++)
		ss[i].h.fd = -1;
	t0 = now_ns();
	for (i = 0; i < o->sessions; i++) {
		ss[i].v = calloc(cap, sizeof(uint64_t));
		if (!ss[i].v || load_setup(&ss[i], o, i) < 0)
			goto out;
		init_errors += ss[i].init_errors;
	}
	/* Links: session i to the RD at --addr + i, for the first --links. */
	for (i = 0; i < o->sessions && i < o->links; i++) {
		uint8_t a[6];

		memcpy(a, rd, 6);
		a[0] = (uint8_t)(a[0] + i);
		if (ss[i].credits_max == 0 || ss[i].mtu < 8)
			break;
		if (load_link(&ss[i], a, i) < 0)
			break;	/* the controller's or the mux's link limit */
		links++;
	}
	/* Scanning last: the flood of reports must not starve the set-up. */
	for (i = 0; i < o->sessions; i++)
		if (load_scan(&ss[i], i) < 0)
			goto out;
	setup_ns = now_ns() - t0;
	memset(data, 0xa5, sizeof(data));
	period = o->rate ? 1000000000ull / o->rate : 0;
	for (i = 0; i < o->sessions; i++)
		ss[i].adv0 = ss[i].h.adv_reports;
	/* For a profiler to record the window only (tests/bench/run, BGW_BENCH_PERF). */
	if (o->mark) {
		int fd = open(o->mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
	}
	watch_start();
	t0 = now_ns();
	t_end = t0 + o->seconds * 1000000000ull;
	for (i = 0; i < o->sessions; i++)
		ss[i].next_ns = t0 + (period ? period * i / o->sessions : 0);
	/* Bounded by the duration; each round sends or waits <= 2 ms. */
	while (now_ns() < t_end) {
		uint64_t t = now_ns(), next = t_end;
		int timeout;

		for (i = 0; i < o->sessions; i++) {
			struct lsess *s = &ss[i];

			if (s->h.broken) {
				fprintf(stderr, "bgw-bench: load: session %lu dropped\n", i);
				goto out;
			}
			if (s->busy && s->h.cc_seen) {
				s->busy = false;
				if (s->nv < cap)
					s->v[s->nv++] = s->h.cc_ns - s->sent_ns;
			}
			if (!s->busy && s->nv < cap && t >= s->next_ns) {
				if (host_cmd(&s->h, HCI_OP_LE_RAND, NULL, 0) < 0)
					goto out;
				s->sent_ns = t;
				s->busy = true;
				s->next_ns += period;
				if (s->next_ns < t)
					s->next_ns = t;	/* fell behind: no burst */
			}
			if (!s->busy && s->next_ns < next)
				next = s->next_ns;
			/* ACL: an L2CAP PDU per credit, as in mode_acl. */
			while (s->link && s->h.credits && !s->h.broken) {
				uint16_t mtu = s->mtu < sizeof(data) ? s->mtu : sizeof(data);

				put_le16(data, (uint16_t)(mtu - 4));
				put_le16(data + 2, 0x0040);
				n = h4_build_acl(pkt, sizeof(pkt), s->h.acl_handle,
						 HCI_PB_FIRST_FLUSH, 0, data, mtu);
				if (n < 0 || host_send(&s->h, pkt, (size_t)n) < 0)
					goto out;
				s->h.credits--;
				s->acl_pkts++;
				acl_bytes += mtu;
			}
		}
		t = now_ns();
		timeout = next > t ? (int)((next - t) / 1000000) : 0;
		if (timeout > 2)
			timeout = 2;
		loop_iterate(shared_loop, timeout);
	}
	wall = now_ns() - t0;
	watch_stop();
	all = calloc(o->sessions * cap, sizeof(uint64_t));
	if (!all)
		goto out;
	for (i = 0; i < o->sessions; i++) {
		struct lsess *s = &ss[i];
		uint64_t p99;

		for (j = 0; j < s->nv; j++)
			all[nall++] = s->v[j];
		qsort(s->v, s->nv, sizeof(uint64_t), cmp_u64);
		p99 = pct(s->v, s->nv, 99);
		if (p99 > worst_p99)
			worst_p99 = p99;
		if (s->nv < minops)
			minops = s->nv;
		if (s->nv > maxops)
			maxops = s->nv;
		total += s->nv;
		adv += s->h.adv_reports - s->adv0;
		if (s->link) {
			if (s->acl_pkts < minacl)
				minacl = s->acl_pkts;
			if (s->acl_pkts > maxacl)
				maxacl = s->acl_pkts;
			acl_total += s->acl_pkts;
		}
	}
	qsort(all, nall, sizeof(uint64_t), cmp_u64);
	printf("result load sessions=%lu rate=%lu ops=%" PRIu64 " setup_ms=%.0f init_errors=%lu"
	       " p50_us=%.1f p99_us=%.1f worst_session_p99_us=%.1f cmd_fairness=%.3f"
	       " adv_per_s_per_session=%.0f links=%lu acl_mbit_s=%.2f"
	       " acl_min_kbit_s=%.1f acl_max_kbit_s=%.1f acl_fairness=%.3f",
	       o->sessions, o->rate, total, us(setup_ns) / 1000.0, init_errors,
	       us(pct(all, nall, 50)), us(pct(all, nall, 99)), us(worst_p99),
	       maxops ? (double)minops / (double)maxops : 0.0,
	       (double)adv * 1e9 / (double)wall / (double)o->sessions, links,
	       (double)acl_bytes * 8.0 * 1000.0 / (double)wall,
	       links ? (double)minacl * ss[0].mtu * 8e6 / (double)wall : 0.0,
	       links ? (double)maxacl * ss[0].mtu * 8e6 / (double)wall : 0.0,
	       maxacl ? (double)minacl / (double)maxacl : 0.0);
	printf(" acl_pkts=%" PRIu64 " adv_reports=%" PRIu64, acl_total, adv);
	watch_print(total, total + acl_total + adv, wall);
	printf("\n");
	ret = 0;
out:
	free(all);
	if (ss) {
		for (i = 0; i < o->sessions; i++) {
			free(ss[i].v);
			host_close(&ss[i].h);
		}
		free(ss);
	}
	if (shared_loop)
		loop_free(shared_loop);
	shared_loop = NULL;
	return ret;
}

/* ------------------------------------------------------------ login */

static int mode_login(const struct opts *o)
{
	struct tun_client_cfg cc;
	struct pki k;
	struct host h;
	char host[64];
	const char *colon = strrchr(o->ep, ':');
	bool resume = strcmp(o->login_mode, "resume") == 0;
	uint64_t *v = NULL;
	unsigned long i, ok = 0, fails = 0;
	uint64_t t_end;
	int ret = 1;

	memset(&h, 0, sizeof(h));
	h.fd = -1;
	if (!colon || (size_t)(colon - o->ep) >= sizeof(host) || pki_paths(&k) < 0)
		return 2;
	memcpy(host, o->ep, (size_t)(colon - o->ep));
	host[colon - o->ep] = '\0';
	use_password = strcmp(o->login_mode, "password") == 0;
	v = calloc(o->n, sizeof(*v));
	h.l = loop_new();
	if (!v || !h.l)
		goto out;
	tun_client_cfg_fill(&cc, &k, host, colon + 1);
	/*
	 * A login that fails (or stalls past handshake_ms) is counted and the
	 * next one tried: the percentiles are over the logins that worked.
	 */
	t_end = now_ns() + o->seconds * 1000000000ull;
	for (i = 0; i < o->n + fails && fails <= o->n && now_ns() < t_end; i++) {
		uint64_t s;

		if (!h.tc || !resume) {
			tun_client_free(h.tc);
			h.tc = NULL;
			loop_iterate(h.l, 0);
			h.ready = h.broken = false;
			s = now_ns();
			if (tun_client_new(&h.tc, h.l, &cc, &host_tun_ops, &h) < 0 ||
			    host_wait(&h, &h.ready, 15000) < 0) {
				fprintf(stderr, "bgw-bench: login %lu failed\n", i);
				fails++;
				tun_client_free(h.tc);
				h.tc = NULL;
				continue;
			}
			if (!resume) {
				v[ok++] = now_ns() - s;
				continue;
			}
		}
		/* A new channel from a new source port, the same session. */
		h.ready = false;
		s = now_ns();
		tun_client_reconnect(h.tc);
		if (host_wait(&h, &h.ready, 15000) < 0) {
			fprintf(stderr, "bgw-bench: resumption %lu failed\n", i);
			fails++;
			tun_client_free(h.tc);
			h.tc = NULL;
			continue;
		}
		v[ok++] = now_ns() - s;
	}
	if (!ok)
		goto out;
	qsort(v, ok, sizeof(*v), cmp_u64);
	printf("result login mode=%s n=%lu fails=%lu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	       o->login_mode, ok, fails, us(pct(v, ok, 50)) / 1000.0,
	       us(pct(v, ok, 99)) / 1000.0, us(v[ok - 1]) / 1000.0);
	ret = 0;
out:
	free(v);
	host_close(&h);
	return ret;
}

/* ------------------------------------------------------------ tun-bridge */

/*
 * Each tunnel session gets its own H4 stream to the controller socket:
 * bytes from the controller are framed and sent into the session; a packet
 * the session cannot take yet (-ENOBUFS) is held and reading from the
 * controller stops until on_writable.
 */
struct bridge_sess {
	struct tun_session *ts;
	struct loop *l;
	int fd;
	struct h4_reader *rd;
	uint8_t held[H4_MAX_PKT];
	size_t held_len;
	uint8_t inbuf[RX_CHUNK];
	size_t in_len, in_off;
};

static const char *bridge_to;
static struct scram_verifier bridge_verifier;

static int bridge_feed(const struct h4_pkt *p, void *user)
{
	struct bridge_sess *b = user;
	int r;

	if (b->held_len)
		return -ENOBUFS;
	r = tun_session_send(b->ts, p->raw, p->raw_len);
	if (r == -ENOBUFS) {
		memcpy(b->held, p->raw, p->raw_len);
		b->held_len = p->raw_len;
		return 0;
	}
	return r < 0 ? r : 0;
}

static void bridge_on_ctrl(struct loop *l, int fd, uint32_t events, void *user)
{
	struct bridge_sess *b = user;
	ssize_t n;

	(void)events;
	if (b->held_len)
		return;
	n = read(fd, b->inbuf, sizeof(b->inbuf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || h4_reader_feed(b->rd, b->inbuf, (size_t)n, bridge_feed, b) < 0) {
		loop_del_fd(l, fd);
		tun_session_close(b->ts, TUN_R_INTERNAL);
		return;
	}
	if (b->held_len)
		loop_mod_fd(l, fd, 0);
}

static int bridge_session(void *user, struct tun_session *s, const char *name)
{
	struct loop *l = user;
	struct bridge_sess *b = calloc(1, sizeof(*b));
	int fl;

	(void)name;
	if (!b)
		return -ENOMEM;
	b->ts = s;
	b->l = l;
	b->rd = h4_reader_new(0);
	b->fd = connect_stream(bridge_to);
	if (!b->rd || b->fd < 0)
		goto fail;
	fl = fcntl(b->fd, F_GETFL);
	fcntl(b->fd, F_SETFL, fl | O_NONBLOCK);
	if (loop_add_fd(l, b->fd, EPOLLIN, bridge_on_ctrl, b) < 0)
		goto fail;
	tun_session_set_data(s, b);
	return 0;
fail:
	if (b->fd >= 0)
		close(b->fd);
	h4_reader_free(b->rd);
	free(b);
	return -EIO;
}

static int bridge_packet(void *user, struct tun_session *s, const uint8_t *h4, size_t len)
{
	struct bridge_sess *b = tun_session_get_data(s);
	struct pollfd pfd;
	size_t off = 0;
	unsigned i;

	(void)user;
	if (!b)
		return 0;
	/* Host -> controller: the controller's socket drains quickly; wait
	 * at most a second for room rather than queue without bound. */
	for (i = 0; off < len && i < 1000; i++) {
		ssize_t n = write(b->fd, h4 + off, len - off);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		pfd.fd = b->fd;
		pfd.events = POLLOUT;
		poll(&pfd, 1, 1);
	}
	if (off != len)
		tun_session_close(s, TUN_R_INTERNAL);
	return 0;
}

static void bridge_end(void *user, struct tun_session *s, int reason)
{
	struct bridge_sess *b = tun_session_get_data(s);
	struct loop *l = user;

	(void)reason;
	if (!b)
		return;
	loop_del_fd(l, b->fd);
	close(b->fd);
	h4_reader_free(b->rd);
	free(b);
	tun_session_set_data(s, NULL);
}

static void bridge_writable(void *user, struct tun_session *s)
{
	struct bridge_sess *b = tun_session_get_data(s);
	struct loop *l = user;

	if (!b || !b->held_len)
		return;
	if (tun_session_send(s, b->held, b->held_len) == -ENOBUFS)
		return;
	b->held_len = 0;
	loop_mod_fd(l, b->fd, EPOLLIN);
}

static int bridge_cert_user(void *user, const struct tun_cert_info *ci, char *name, size_t cap)
{
	(void)user;
	if (strcmp(ci->cn, BENCH_USER) != 0)
		return -ENOENT;
	snprintf(name, cap, "%s", ci->cn);
	return 0;
}

static int bridge_scram_lookup(void *user, const char *name, struct scram_verifier *v, bool *real)
{
	(void)user;
	*v = bridge_verifier;
	*real = strcmp(name, BENCH_USER) == 0;
	return 0;
}

static void on_term(struct loop *l, int signo, void *user)
{
	(void)signo;
	(void)user;
	loop_quit(l, 0);
}

static void on_deadline(struct loop_timer *t, void *user)
{
	(void)t;
	loop_quit(user, 0);
}

static int mode_tun_bridge(const struct opts *o)
{
	struct tun_server_cfg sc = { 0 };
	struct tun_server_ops so = {
		.on_session = bridge_session, .on_packet = bridge_packet,
		.on_session_end = bridge_end, .on_writable = bridge_writable,
	};
	struct tun_auth_ops ao = {
		.cert_user = bridge_cert_user, .scram_lookup = bridge_scram_lookup,
	};
	struct tun_server *srv = NULL;
	struct loop_timer *t = NULL;
	struct loop *l;
	struct pki k;
	int ret = 1, i;

	if (!o->to || !o->port_file || pki_paths(&k) < 0)
		return 2;
	bridge_to = o->to;
	if (scram_verifier_make(BENCH_PASSWORD, strlen(BENCH_PASSWORD),
				(uint32_t)o->iter, &bridge_verifier) < 0)
		return 1;
	l = loop_new();
	if (!l)
		return 1;
	sc.host = "127.0.0.1";
	if (use_tls)
		sc.tcp_port = "0";
	else
		sc.udp_port = "0";
	sc.ca_file = k.ca;
	sc.cert_file = k.scert;
	sc.key_file = k.skey;
	sc.max_sessions = 64;
	sc.max_pending = 64;
	if (tun_server_new(&srv, l, &sc, &so, &ao, l) < 0) {
		fprintf(stderr, "bgw-bench: tun-bridge: cannot listen\n");
		goto out;
	}
	if (write_port_file(o->port_file, use_tls ? tun_server_tcp_port(srv) :
			    tun_server_udp_port(srv)) < 0)
		goto out;
	loop_add_signal(l, SIGTERM, on_term, NULL);
	loop_add_signal(l, SIGINT, on_term, NULL);
	t = loop_timer_new(l, on_deadline, l);
	if (!t)
		goto out;
	loop_timer_arm(t, o->seconds * 1000000ull);
	ret = loop_run(l) == 0 ? 0 : 1;
out:
	loop_timer_free(t);
	tun_server_free(srv);
	for (i = 0; i < 5; i++)
		loop_iterate(l, 0);
	loop_free(l);
	scram_verifier_wipe(&bridge_verifier);
	return ret;
}

/* ------------------------------------------------------------ UDP */

static int udp_bound(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int mode_udp_echo(const struct opts *o)
{
	uint8_t buf[2048];
	uint64_t t_end = now_ns() + o->seconds * 1000000000ull;
	uint16_t port;
	int fd = udp_bound(&port);

	if (fd < 0 || !o->port_file || write_port_file(o->port_file, port) < 0)
		return 1;
	while (now_ns() < t_end) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	close(fd);
	return 0;
}

static int mode_udp_rtt(const struct opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t buf[64], rx[2048];
	uint64_t *v = NULL, lost = 0;
	unsigned long i, total = o->warmup + o->n;
	int fd, ret = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)o->to_port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	v = calloc(o->n, sizeof(*v));
	if (!v)
		goto out;
	/* The size of an LE Rand command in H4 and its answer, roughly. */
	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < total; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t s = now_ns();

		memcpy(buf, &i, sizeof(i));
		if (send(fd, buf, 16, 0) != 16)
			goto out;
		for (;;) {
			ssize_t n;

			if (poll(&pfd, 1, 1000) <= 0) {
				lost++;
				break;
			}
			n = recv(fd, rx, sizeof(rx), 0);
			if (n == 16 && memcmp(rx, &i, sizeof(i)) == 0) {
				if (i >= o->warmup)
					v[i - o->warmup] = now_ns() - s;
				break;
			}
		}
		if (lost > 10)
			goto out;
	}
	printf("result udp-rtt n=%lu lost=%" PRIu64, o->n, lost);
	print_lat("", v, o->n);
	printf("\n");
	ret = 0;
out:
	free(v);
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * relay: a lossy UDP relay for the tunnel. Datagrams from the client side
 * (the listening socket) go to 127.0.0.1:TO_PORT from a socket of our own;
 * answers go back to the last client address. Each datagram is dropped
 * with probability loss/1000, in both directions, by a fixed-seed
 * generator so runs are repeatable. A new client source address (the
 * tunnel's resumption) simply becomes the one answers go to.
 */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static int mode_relay(const struct opts *o)
{
	struct sockaddr_in to = { .sin_family = AF_INET }, client = { 0 };
	uint64_t t_end = now_ns() + o->seconds * 1000000000ull, fwd = 0, drop = 0;
	socklen_t client_len = 0;
	uint8_t buf[65536];
	uint16_t port;
	int cfd, sfd = -1, ret = 1;

	cfd = udp_bound(&port);
	if (cfd < 0 || !o->port_file || o->loss > 1000)
		goto out;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)o->to_port);
	sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sfd < 0 || connect(sfd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    write_port_file(o->port_file, port) < 0)
		goto out;
	while (now_ns() < t_end) {
		struct pollfd pfd[2] = {
			{ .fd = cfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN },
		};
		unsigned k;

		if (poll(pfd, 2, 200) <= 0)
			continue;
		/* At most 64 datagrams per socket per round. */
		for (k = 0; k < 64 && (pfd[0].revents & POLLIN); k++) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(cfd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			client = from;
			client_len = fl;
			if (rng() % 1000 < o->loss) {
				drop++;
				continue;
			}
			send(sfd, buf, (size_t)n, MSG_DONTWAIT);
			fwd++;
		}
		for (k = 0; k < 64 && (pfd[1].revents & POLLIN); k++) {
			ssize_t n = recv(sfd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0)
				break;
			if (!client_len)
				continue;
			if (rng() % 1000 < o->loss) {
				drop++;
				continue;
			}
			sendto(cfd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&client,
			       client_len);
			fwd++;
		}
	}
	fprintf(stderr, "bgw-bench: relay: %" PRIu64 " forwarded, %" PRIu64 " dropped\n",
		fwd, drop);
	ret = 0;
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	return ret;
}

static int mode_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return 1;
	}
	printf("%u\n", ntohs(sa.sin_port));
	close(fd);
	return 0;
}

/* ------------------------------------------------------------ main */

/* --password-file: the first line, at most 255 bytes. */
static int read_password(const char *path)
{
	FILE *f = fopen(path, "re");
	char *nl;

	if (!f)
		return -errno;
	if (!fgets(bench_password, sizeof(bench_password), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	nl = strchr(bench_password, '\n');
	if (nl)
		*nl = '\0';
	return bench_password[0] ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bgw-bench rtt ENDPOINT [-n N] [-w N] [--raw FILE] [-p LABEL=PID]...\n"
		"       bgw-bench stats FILE\n"
		"       bgw-bench acl ENDPOINT -a BDADDR [-s SECONDS] [-n MAXPKTS] [-p LABEL=PID]...\n"
		"       bgw-bench inquiry ENDPOINT [-a BDADDR] [-n N] [--raw FILE]\n"
		"       bgw-bench scale ENDPOINT -c SESSIONS [-r RATE] [-s SECONDS] [-p LABEL=PID]...\n"
		"       bgw-bench load tun:HOST:PORT -c SESSIONS -a FIRST_RD [--links N] [-r RATE]\n"
		"                 [-s SECONDS] -m cert|password|mixed --pki DIR [--user U]\n"
		"                 [--password-file F] [--no-dup-filter] [--mark FILE]\n"
		"                 [-p LABEL=[tree:]PID]...\n"
		"       bgw-bench login HOST:PORT -m cert|password|resume [-n N] [-s SECONDS] --pki DIR [--tls]\n"
		"       bgw-bench tun-bridge --to ENDPOINT --port-file F --pki DIR [--tls] [-i ITER] [-s SECONDS]\n"
		"       bgw-bench udp-echo --port-file F [-s SECONDS]\n"
		"       bgw-bench udp-rtt PORT [-n N] [-w N]\n"
		"       bgw-bench relay PORT --port-file F -l LOSS_PER_MILLE [-s SECONDS]\n"
		"       bgw-bench free-port\n"
		"ENDPOINT: unix:PATH, tcp:127.0.0.1:PORT or tun:127.0.0.1:PORT (with --pki)\n");
}

int main(int argc, char **argv)
{
	struct opts o = {
		.n = 10000, .warmup = 1000, .seconds = 5, .sessions = 1,
		.iter = SCRAM_ITER_DEFAULT, .login_mode = "cert",
	};
	const char *mode;
	unsigned long v;
	int i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	log_open("bgw-bench", LOG_TARGET_STDERR);
	log_set_level(getenv("BGW_BENCH_DEBUG") ? LOG_DEBUG : LOG_WARNING);
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool has = true;

		if (strcmp(a, "--tls") == 0) {
			use_tls = true;
			continue;
		}
		if (strcmp(a, "--no-dup-filter") == 0) {
			no_dup_filter = true;
			continue;
		}
		if (a[0] != '-') {
			if (o.ep)
				goto bad;
			o.ep = a;
			continue;
		}
		if (!val)
			goto bad;
		if (strcmp(a, "-n") == 0)
			has = parse_uint(val, MAX_SAMPLES, &o.n) == 0 && o.n > 0;
		else if (strcmp(a, "-w") == 0)
			has = parse_uint(val, MAX_SAMPLES, &o.warmup) == 0;
		else if (strcmp(a, "-s") == 0)
			has = parse_uint(val, 3600, &o.seconds) == 0 && o.seconds > 0;
		else if (strcmp(a, "-c") == 0)
			has = parse_uint(val, MAX_SESSIONS, &o.sessions) == 0;
		else if (strcmp(a, "-r") == 0)
			has = parse_uint(val, 100000, &o.rate) == 0;
		else if (strcmp(a, "-l") == 0)
			has = parse_uint(val, 1000, &o.loss) == 0;
		else if (strcmp(a, "-i") == 0)
			has = parse_uint(val, SCRAM_ITER_MAX, &o.iter) == 0 && o.iter >= SCRAM_ITER_MIN;
		else if (strcmp(a, "-a") == 0)
			o.addr = val;
		else if (strcmp(a, "-m") == 0)
			o.login_mode = val;
		else if (strcmp(a, "-p") == 0)
			has = watch_add(val) == 0;
		else if (strcmp(a, "--to") == 0)
			o.to = val;
		else if (strcmp(a, "--port-file") == 0)
			o.port_file = val;
		else if (strcmp(a, "--pki") == 0)
			pki_dir = val;
		else if (strcmp(a, "--raw") == 0)
			o.raw = val;
		else if (strcmp(a, "--mark") == 0)
			o.mark = val;
		else if (strcmp(a, "--links") == 0)
			has = parse_uint(val, MAX_SESSIONS, &o.links) == 0;
		else if (strcmp(a, "--user") == 0)
			bench_user = val;
		else if (strcmp(a, "--password-file") == 0)
			has = read_password(val) == 0;
		else
			goto bad;
		if (!has)
			goto bad;
		i++;
	}
	if (strcmp(mode, "rtt") == 0 && o.ep)
		return mode_rtt(&o);
	if (strcmp(mode, "acl") == 0 && o.ep && o.addr) {
		if (o.n == 10000)
			o.n = MAX_SAMPLES;
		return mode_acl(&o);
	}
	if (strcmp(mode, "inquiry") == 0 && o.ep)
		return mode_inquiry(&o);
	if (strcmp(mode, "scale") == 0 && o.ep)
		return mode_scale(&o);
	if (strcmp(mode, "load") == 0 && o.ep &&
	    (!strcmp(o.login_mode, "cert") || !strcmp(o.login_mode, "password") ||
	     !strcmp(o.login_mode, "mixed")))
		return mode_load(&o);
	if (strcmp(mode, "login") == 0 && o.ep &&
	    (!strcmp(o.login_mode, "cert") || !strcmp(o.login_mode, "password") ||
	     !strcmp(o.login_mode, "resume")))
		return mode_login(&o);
	if (strcmp(mode, "tun-bridge") == 0 && !o.ep)
		return mode_tun_bridge(&o);
	if (strcmp(mode, "udp-echo") == 0 && !o.ep)
		return mode_udp_echo(&o);
	if ((strcmp(mode, "udp-rtt") == 0 || strcmp(mode, "relay") == 0) && o.ep) {
		if (parse_uint(o.ep, 65535, &v) < 0 || v == 0)
			goto bad;
		o.to_port = v;
		return mode[0] == 'u' ? mode_udp_rtt(&o) : mode_relay(&o);
	}
	if (strcmp(mode, "free-port") == 0)
		return mode_free_port();
	if (strcmp(mode, "stats") == 0 && o.ep)
		return mode_stats(o.ep);
bad:
	usage(stderr);
	return 2;
}
