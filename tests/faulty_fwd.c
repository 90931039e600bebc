/* SPDX-License-Identifier: MIT */
/*
 * faulty-fwd: a UDP forwarder that misbehaves on purpose, for the
 * "a relay that flips bits, replays or reorders datagrams breaks nothing
 * but throughput" tests (tests/t-relay-faults.sh). The
 * kernel has no netem here, so this plays the bad relay: it listens on
 * the address the gateway and the CDs know as the relay's and passes
 * each of their flows to the real bgw-relay from a socket of its own
 * (like a NAT: the relay sees one source per flow), and the answers
 * back, and in both directions, each with its own odds:
 *
 *   -f N   flips one random bit in N per mille of datagrams
 *   -r N   replays: after N per mille of datagrams it sends again one
 *          of the last 16 of that flow and direction
 *   -o N   reorders: holds N per mille of datagrams back until up to
 *          -w W later ones of the same flow and direction went ahead
 *          (or 50 ms passed)
 *   -D N   drops N per mille
 *   -S N   a storm: SIGUSR1 sets flips, replays and reorders to N per
 *          mille each, SIGUSR2 sets the odds given back
 *   -q     quiet until SIGUSR2: forwards faithfully until then
 *
 * Every datagram is forwarded whole or not at all; nothing is parsed.
 * It prints one line of counts every 5 s and at exit (stderr). Every
 * loop is bounded: 64 datagrams per socket per round, 32 flows, and the
 * whole run by -t seconds (or SIGTERM).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FF_FLOWS	32
#define FF_HIST		16
#define FF_HOLD_NS	50000000ull	/* a held datagram waits at most 50 ms */
#define FF_BURST	64
#define FF_DGRAM	2048
#define FF_REPORT_NS	5000000000ull

static const char usage_text[] =
"usage: faulty-fwd -l address:port -u address:port [-f permille] [-r permille]\n"
"                  [-o permille] [-w window] [-D permille] [-S permille]\n"
"                  [-q] [-s seed] [-t seconds]\n";

struct ff_dgram {
	uint16_t len;
	uint8_t b[FF_DGRAM];
};

/* One direction of one flow. */
struct ff_dir {
	struct ff_dgram hist[FF_HIST];	/* the last datagrams, for replays */
	unsigned nhist, next;
	struct ff_dgram held;		/* one held back for reordering */
	bool holding;
	unsigned held_for;		/* later datagrams to let ahead */
	uint64_t held_at;
};

struct ff_flow {
	bool used;
	struct sockaddr_in peer;	/* the gateway or CD, as seen */
	int fd;				/* towards the relay */
	struct ff_dir up, down;
	uint64_t last;
};

struct ff_stats {
	uint64_t in, out, flipped, replayed, reordered, dropped;
};

struct ff {
	int lfd;
	struct sockaddr_in up;
	unsigned flip, replay, reorder, window, drop;
	unsigned calm[4], storm;
	uint64_t rng;
	struct ff_flow flows[FF_FLOWS];
	struct ff_stats st;
};

static volatile sig_atomic_t ff_stop, ff_storm_on, ff_storm_off;

static void ff_on_signal(int sig)
{
	if (sig == SIGUSR1)
		ff_storm_on = 1;
	else if (sig == SIGUSR2)
		ff_storm_off = 1;
	else
		ff_stop = 1;
}

static void ff_weather(struct ff *f)
{
	if (ff_storm_on) {
		ff_storm_on = 0;
		f->flip = f->replay = f->reorder = f->storm;
		fprintf(stderr, "faulty-fwd: storm: flip, replay, reorder %u per mille\n", f->storm);
	}
	if (ff_storm_off) {
		ff_storm_off = 0;
		f->drop = f->calm[3];
		f->flip = f->calm[0];
		f->replay = f->calm[1];
		f->reorder = f->calm[2];
		fprintf(stderr, "faulty-fwd: calm: flip %u, replay %u, reorder %u per mille\n",
			f->flip, f->replay, f->reorder);
	}
}

static uint64_t ff_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: reproducible with -s, which is all a test tool needs. */
static uint32_t ff_rand(struct ff *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (uint32_t)((f->rng * 2685821657736338717ull) >> 32);
}

static bool ff_odds(struct ff *f, unsigned permille)
{
	return permille && ff_rand(f) % 1000 < permille;
}

static int ff_parse_addr(const char *arg, struct sockaddr_in *sa)
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

static int ff_parse_num(const char *arg, unsigned max, unsigned *v)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || *end || arg[0] == '-' || n > max)
		return -EINVAL;
	*v = (unsigned)n;
	return 0;
}

/* Towards the relay from the flow's socket, or back to the flow's peer. */
static void ff_emit(struct ff *f, struct ff_flow *fl, bool up, const struct ff_dgram *d)
{
	ssize_t n;

	if (up)
		n = send(fl->fd, d->b, d->len, MSG_DONTWAIT);
	else
		n = sendto(f->lfd, d->b, d->len, MSG_DONTWAIT, (struct sockaddr *)&fl->peer,
			   sizeof(fl->peer));
	if (n == (ssize_t)d->len)
		f->st.out++;
}

static void ff_release(struct ff *f, struct ff_flow *fl, bool up, struct ff_dir *dir)
{
	if (!dir->holding)
		return;
	dir->holding = false;
	ff_emit(f, fl, up, &dir->held);
}

/* One datagram of a flow in one direction, through the faults. */
static void ff_pass(struct ff *f, struct ff_flow *fl, bool up, struct ff_dgram *d)
{
	struct ff_dir *dir = up ? &fl->up : &fl->down;

	f->st.in++;
	fl->last = ff_now();
	if (ff_odds(f, f->drop)) {
		f->st.dropped++;
		return;
	}
	if (d->len && ff_odds(f, f->flip)) {
		uint32_t bit = ff_rand(f) % (d->len * 8u);

		d->b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		f->st.flipped++;
	}
	dir->hist[dir->next] = *d;
	dir->next = (dir->next + 1) % FF_HIST;
	if (dir->nhist < FF_HIST)
		dir->nhist++;
	if (!dir->holding && f->window && ff_odds(f, f->reorder)) {
		dir->held = *d;
		dir->holding = true;
		dir->held_for = 1 + ff_rand(f) % f->window;
		dir->held_at = fl->last;
		f->st.reordered++;
	} else {
		ff_emit(f, fl, up, d);
		if (dir->holding && --dir->held_for == 0)
			ff_release(f, fl, up, dir);
	}
	if (dir->nhist > 1 && ff_odds(f, f->replay)) {
		ff_emit(f, fl, up, &dir->hist[ff_rand(f) % dir->nhist]);
		f->st.replayed++;
	}
}

static struct ff_flow *ff_flow_for(struct ff *f, const struct sockaddr_in *from)
{
	struct ff_flow *fl, *old = NULL;
	size_t i;

	for (i = 0; i < FF_FLOWS; i++) {
		fl = &f->flows[i];
		if (fl->used && fl->peer.sin_port == from->sin_port &&
		    fl->peer.sin_addr.s_addr == from->sin_addr.s_addr)
			return fl;
	}
	/* A new flow takes a free slot, or the one idle longest. */
	for (i = 0; i < FF_FLOWS; i++) {
		fl = &f->flows[i];
		if (!fl->used) {
			old = fl;
			break;
		}
		if (!old || fl->last < old->last)
			old = fl;
	}
	if (old->used)
		close(old->fd);
	memset(old, 0, sizeof(*old));
	old->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (old->fd < 0 || connect(old->fd, (struct sockaddr *)&f->up, sizeof(f->up)) < 0) {
		if (old->fd >= 0)
			close(old->fd);
		old->fd = -1;
		return NULL;
	}
	old->used = true;
	old->peer = *from;
	return old;
}

static void ff_report(const struct ff *f, const char *when)
{
	fprintf(stderr, "faulty-fwd: %s: in %" PRIu64 " out %" PRIu64 " flipped %" PRIu64
		" replayed %" PRIu64 " reordered %" PRIu64 " dropped %" PRIu64 "\n", when,
		f->st.in, f->st.out, f->st.flipped, f->st.replayed, f->st.reordered,
		f->st.dropped);
}

static void ff_round(struct ff *f)
{
	struct pollfd pfd[1 + FF_FLOWS];
	struct ff_flow *map[1 + FF_FLOWS];
	struct ff_dgram d;
	uint64_t now;
	size_t n = 1, i;
	unsigned k;

	pfd[0] = (struct pollfd){ .fd = f->lfd, .events = POLLIN };
	for (i = 0; i < FF_FLOWS; i++) {
		if (!f->flows[i].used)
			continue;
		map[n] = &f->flows[i];
		pfd[n++] = (struct pollfd){ .fd = f->flows[i].fd, .events = POLLIN };
	}
	if (poll(pfd, n, 10) < 0)
		return;
	for (k = 0; k < FF_BURST && (pfd[0].revents & POLLIN); k++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(f->lfd, d.b, sizeof(d.b), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		struct ff_flow *flow;

		if (r < 0)
			break;
		if (fl != sizeof(from) || from.sin_family != AF_INET)
			continue;
		flow = ff_flow_for(f, &from);
		if (!flow)
			continue;
		d.len = (uint16_t)r;
		ff_pass(f, flow, true, &d);
	}
	for (i = 1; i < n; i++) {
		for (k = 0; k < FF_BURST && (pfd[i].revents & POLLIN) && map[i]->used; k++) {
			ssize_t r = recv(map[i]->fd, d.b, sizeof(d.b), MSG_DONTWAIT);

			if (r < 0)
				break;
			d.len = (uint16_t)r;
			ff_pass(f, map[i], false, &d);
		}
	}
	/* A held datagram does not wait for ever on a quiet flow. */
	now = ff_now();
	for (i = 0; i < FF_FLOWS; i++) {
		struct ff_flow *fl = &f->flows[i];

		if (!fl->used)
			continue;
		if (fl->up.holding && now - fl->up.held_at > FF_HOLD_NS)
			ff_release(f, fl, true, &fl->up);
		if (fl->down.holding && now - fl->down.held_at > FF_HOLD_NS)
			ff_release(f, fl, false, &fl->down);
	}
}

int main(int argc, char **argv)
{
	static struct ff f;
	struct sockaddr_in la;
	struct sigaction sa = { .sa_handler = ff_on_signal };
	unsigned secs = 60, seed = 0;
	bool have_l = false, have_u = false, have_seed = false, quiet = false;
	uint64_t t_end, t_report;
	int c, ret = 2;
	size_t i;

	f.lfd = -1;
	f.window = 4;
	while ((c = getopt(argc, argv, "l:u:f:r:o:w:D:S:qs:t:")) != -1) {
		int e = 0;

		switch (c) {
		case 'l': e = ff_parse_addr(optarg, &la); have_l = true; break;
		case 'u': e = ff_parse_addr(optarg, &f.up); have_u = true; break;
		case 'f': e = ff_parse_num(optarg, 1000, &f.flip); break;
		case 'r': e = ff_parse_num(optarg, 1000, &f.replay); break;
		case 'o': e = ff_parse_num(optarg, 1000, &f.reorder); break;
		case 'w': e = ff_parse_num(optarg, 64, &f.window); break;
		case 'D': e = ff_parse_num(optarg, 1000, &f.drop); break;
		case 'S': e = ff_parse_num(optarg, 1000, &f.storm); break;
		case 'q': quiet = true; break;
		case 's': e = ff_parse_num(optarg, UINT32_MAX, &seed); have_seed = true; break;
		case 't': e = ff_parse_num(optarg, 3600, &secs); break;
		default: e = -EINVAL; break;
		}
		if (e < 0) {
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (!have_l || !have_u || optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!have_seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned)time(NULL);
	f.calm[0] = f.flip;
	f.calm[1] = f.replay;
	f.calm[2] = f.reorder;
	f.calm[3] = f.drop;
	if (quiet)
		f.flip = f.replay = f.reorder = f.drop = 0;
	f.rng = 0x9e3779b97f4a7c15ull ^ seed;
	if (!f.rng)
		f.rng = 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	f.lfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f.lfd < 0 || bind(f.lfd, (struct sockaddr *)&la, sizeof(la)) < 0) {
		fprintf(stderr, "faulty-fwd: cannot listen on the address given: %s\n",
			strerror(errno));
		ret = 1;
		goto out;
	}
	fprintf(stderr, "faulty-fwd: seed %u: flip %u, replay %u, reorder %u (window %u), drop %u per mille\n",
		seed, f.calm[0], f.calm[1], f.calm[2], f.window, f.calm[3]);
	if (quiet)
		fprintf(stderr, "faulty-fwd: quiet until SIGUSR2\n");
	t_end = ff_now() + secs * 1000000000ull;
	t_report = ff_now() + FF_REPORT_NS;
	while (!ff_stop && ff_now() < t_end) {
		ff_weather(&f);
		ff_round(&f);
		if (ff_now() >= t_report) {
			ff_report(&f, "so far");
			t_report += FF_REPORT_NS;
		}
	}
	ff_report(&f, "done");
	ret = 0;
out:
	for (i = 0; i < FF_FLOWS; i++)
		if (f.flows[i].used)
			close(f.flows[i].fd);
	if (f.lfd >= 0)
		close(f.lfd);
	return ret;
}
