/* SPDX-License-Identifier: MIT */
/*
 * bgw-relay: the rendezvous and relay for homes that cannot be reached
 * directly (doc/relay.md). One epoll loop, UDP sockets on the addresses
 * given, the engine in relay/relay.c; no state on disk, no privileges
 * needed once the sockets are bound.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "relay.h"

#define PROG			"bgw-relay"
#define EXIT_USAGE		2
#define RELAY_DEFAULT_LISTEN	"[::]:3479"
#define RELAY_LISTEN_MAX	8
/* Datagrams read per wakeup of one socket, so one busy socket cannot starve. */
#define RELAY_READ_BURST	64

static const char usage_text[] =
"usage: bgw-relay [-dfhtV] [-k seconds] [-m homes] [-l address:port ...]\n"
"\n"
"  -l address:port  listen on this UDP address (numeric; IPv6 in brackets);\n"
"                   several allowed (default " RELAY_DEFAULT_LISTEN ", IPv4 too)\n"
"  -k seconds       keepalive interval told to gateways (default 15, 1-25)\n"
"  -m homes         registrations held at most (default 100000)\n"
"  -d               debug logging; implies -f\n"
"  -f               stay in the foreground, log to stderr\n"
"  -t               check the options and exit\n"
"  -V, --version    print the version and exit\n"
"  -h, --help       print this help and exit\n";

struct relay_sock {
	int fd;
	int family;
};

struct relay_main {
	struct relay_sock socks[RELAY_LISTEN_MAX];
	size_t nsocks;
	struct relay *relay;
	struct loop *loop;
};

/*
 * "[v6]:port" or "v4:port", numeric only (inet_pton: no legacy "1.2.3"
 * forms, no names; a daemon should not resolve).
 */
static int relay_parse_listen(const char *arg, struct sockaddr_storage *ss,
			      socklen_t *sl)
{
	struct sockaddr_in6 *s6 = (void *)ss;
	struct sockaddr_in *s4 = (void *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(arg, ':');
	bool v6 = arg[0] == '[';
	unsigned long port;
	char *end;
	size_t hl;

	if (!colon || colon == arg || colon[1] == '\0')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end != '\0' || port == 0 || port > 65535 || colon[1] == '-')
		return -EINVAL;
	hl = (size_t)(colon - arg);
	if (v6) {
		if (hl < 3 || arg[hl - 1] != ']')
			return -EINVAL;
		arg++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		*sl = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		*sl = sizeof(*s4);
	}
	return 0;
}

/* IPv4-mapped IPv6 (a dual-stack socket) becomes IPv4: one form per peer. */
static int relay_from_sockaddr(const struct sockaddr_storage *ss, struct rmsg_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct sockaddr_in6 *s6 = (const void *)ss;
	const struct sockaddr_in *s4 = (const void *)ss;

	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->family = 4;
		a->port = ntohs(s4->sin_port);
		memcpy(a->a, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		a->port = ntohs(s6->sin6_port);
		if (memcmp(&s6->sin6_addr, mapped, sizeof(mapped)) == 0) {
			a->family = 4;
			memcpy(a->a, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->a, &s6->sin6_addr, 16);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	return a->port ? 0 : -EINVAL;
}

static void relay_send_cb(void *user, const struct rmsg_addr *to, const void *buf,
			  size_t len)
{
	struct relay_main *m = user;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *s6 = (void *)&ss;
	struct sockaddr_in *s4 = (void *)&ss;
	const struct relay_sock *s;
	socklen_t sl;

	if (to->via >= m->nsocks)
		return;
	s = &m->socks[to->via];
	if (s->family == AF_INET && to->family == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(to->port);
		memcpy(&s4->sin_addr, to->a, 4);
		sl = sizeof(*s4);
	} else if (s->family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(to->port);
		if (to->family == 4) {
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(s6->sin6_addr.s6_addr + 12, to->a, 4);
		} else {
			memcpy(&s6->sin6_addr, to->a, 16);
		}
		sl = sizeof(*s6);
	} else {
		return;
	}
	/* UDP: a full socket buffer loses the datagram, as the network would. */
	if (sendto(s->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)
		log_debug("relay: sendto: %s", strerror(errno));
}

static void relay_on_read(struct loop *l, int fd, uint32_t events, void *user)
{
	struct relay_main *m = user;
	uint8_t buf[RMSG_MAX + 1];
	struct sockaddr_storage ss;
	struct rmsg_addr from;
	socklen_t sl;
	ssize_t n;
	size_t via, i;

	(void)l;
	(void)events;
	for (via = 0; via < m->nsocks && m->socks[via].fd != fd; via++)
		;
	if (via == m->nsocks)
		return;
	for (i = 0; i < RELAY_READ_BURST; i++) {
		sl = sizeof(ss);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&ss, &sl);
		if (n < 0)
			break;
		/* Longer than any message: dropped whole, never parsed cut. */
		if ((size_t)n > RMSG_MAX)
			continue;
		if (relay_from_sockaddr(&ss, &from) < 0)
			continue;
		from.via = (uint8_t)via;
		relay_input(m->relay, &from, buf, (size_t)n, loop_now_us());
	}
}

static void relay_on_tick(struct loop_timer *t, void *user)
{
	struct relay_main *m = user;

	relay_tick(m->relay, loop_now_us());
	loop_timer_arm(t, 1000000);
}

static void relay_on_signal(struct loop *l, int signo, void *user)
{
	struct relay_main *m = user;
	struct relay_stats st;

	if (signo == SIGUSR1) {
		relay_get_stats(m->relay, &st);
		log_notice("relay: %u homes, %u channels, %llu bytes held, "
			   "%llu datagrams relayed, %llu dropped, %llu refused, "
			   "%llu bad proofs, %llu PEERs sent again", st.homes, st.chans,
			   (unsigned long long)st.mem_bytes,
			   (unsigned long long)st.relayed_pkts,
			   (unsigned long long)st.dropped,
			   (unsigned long long)st.refused,
			   (unsigned long long)st.bad_proofs,
			   (unsigned long long)st.peers_again);
		return;
	}
	log_notice("relay: signal %d, stopping", signo);
	loop_quit(l, 0);
}

static int relay_bind(const char *arg, struct relay_sock *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int off = 0, fd;

	if (relay_parse_listen(arg, &ss, &sl) < 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* [::] serves IPv4 too (as mapped addresses) unless told otherwise. */
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) {
		close(fd);
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	s->fd = fd;
	s->family = ss.ss_family;
	return 0;
}

static int relay_parse_uint(const char *s, unsigned long min, unsigned long max,
			    unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen[RELAY_LISTEN_MAX];
	struct relay_main m = { 0 };
	struct relay_ops ops = { .send = relay_send_cb };
	struct loop_timer *tick = NULL;
	struct relay_conf conf;
	bool foreground = false, debug = false, test = false;
	size_t nlisten = 0, i;
	unsigned long v;
	int ret = 1, opt, r;

	relay_conf_default(&conf);
	while ((opt = getopt_long(argc, argv, "dfhk:l:m:tV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			debug = foreground = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("%s (%s) %s\n", PROG, PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		case 'k':
			/* <= 25 s: NAT mappings of 30 s must survive (doc/relay.md). */
			if (relay_parse_uint(optarg, 1, 25, &v) < 0) {
				fprintf(stderr, PROG ": -k %s: give the keepalive "
					"interval in seconds, 1 to 25\n", optarg);
				return EXIT_USAGE;
			}
			conf.keepalive_s = (uint16_t)v;
			conf.expiry_s = (uint16_t)(3 * v + 5);
			break;
		case 'l':
			if (nlisten == RELAY_LISTEN_MAX) {
				fprintf(stderr, PROG ": at most %d -l addresses\n",
					RELAY_LISTEN_MAX);
				return EXIT_USAGE;
			}
			listen[nlisten++] = optarg;
			break;
		case 'm':
			if (relay_parse_uint(optarg, 1, 1u << 24, &v) < 0) {
				fprintf(stderr, PROG ": -m %s: give the number of "
					"homes, 1 to %u\n", optarg, 1u << 24);
				return EXIT_USAGE;
			}
			conf.max_homes = (uint32_t)v;
			break;
		case 't':
			test = true;
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (nlisten == 0)
		listen[nlisten++] = RELAY_DEFAULT_LISTEN;
	for (i = 0; i < nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (relay_parse_listen(listen[i], &ss, &sl) < 0) {
			fprintf(stderr, PROG ": -l %s: not a numeric address:port "
				"(e.g. 192.0.2.1:3479 or [2001:db8::1]:3479)\n",
				listen[i]);
			return EXIT_USAGE;
		}
	}
	if (test)
		return 0;

	log_open(PROG, foreground ? LOG_TARGET_STDERR : LOG_TARGET_SYSLOG);
	log_set_level(debug ? LOG_DEBUG : LOG_INFO);
	for (i = 0; i < nlisten; i++) {
		r = relay_bind(listen[i], &m.socks[m.nsocks]);
		if (r < 0) {
			log_err("cannot listen on %s: %s (is another relay "
				"running, or the address not configured?)",
				listen[i], strerror(-r));
			goto out;
		}
		m.nsocks++;
	}
	/* Bound and checked: now detach, so errors above reach the caller. */
	if (!foreground && daemon(0, 0) < 0) {
		log_err("cannot become a daemon: %s", strerror(errno));
		goto out;
	}
	m.loop = loop_new();
	if (!m.loop) {
		log_err("out of memory");
		goto out;
	}
	m.relay = relay_new(&conf, &ops, &m, loop_now_us());
	tick = loop_timer_new(m.loop, relay_on_tick, &m);
	if (!m.relay || !tick) {
		log_err("out of memory for %u homes (lower -m)", conf.max_homes);
		goto out;
	}
	for (i = 0; i < m.nsocks; i++)
		if (loop_add_fd(m.loop, m.socks[i].fd, EPOLLIN, relay_on_read, &m) < 0) {
			log_err("cannot watch a socket: %s", strerror(errno));
			goto out;
		}
	if (loop_add_signal(m.loop, SIGTERM, relay_on_signal, &m) < 0 ||
	    loop_add_signal(m.loop, SIGINT, relay_on_signal, &m) < 0 ||
	    loop_add_signal(m.loop, SIGUSR1, relay_on_signal, &m) < 0) {
		log_err("cannot set up signal handling");
		goto out;
	}
	loop_timer_arm(tick, 1000000);
	for (i = 0; i < nlisten; i++)
		log_notice("listening on %s (keepalive %u s, at most %u homes)",
			   listen[i], conf.keepalive_s, conf.max_homes);
	ret = loop_run(m.loop) == 0 ? 0 : 1;
out:
	loop_timer_free(tick);
	relay_free(m.relay);
	for (i = 0; i < m.nsocks; i++)
		close(m.socks[i].fd);
	loop_free(m.loop);
	log_close();
	return ret;
}
