/* SPDX-License-Identifier: MIT */
/*
 * bgw-sim: the simulated controller as a program (man/bgw-sim.1). Serves
 * H4 over a Unix or TCP stream socket, one simulated controller per
 * connection, all in one air; or attaches one controller to /dev/vhci so
 * the local kernel gets a new hciN.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "btsnoop.h"
#include "cursor.h"
#include "hci.h"
#include "log.h"
#include "loop.h"
#include "pktq.h"
#include "sim.h"
#include "sim_int.h"

#define MAX_CLIENTS	16
#define CLIENT_OUTQ_PKTS	4096
#define CLIENT_OUTQ_BYTES	(4 * 1024 * 1024)

/* Exit statuses, shared by the bgw tools (man pages, EXIT STATUS). */
#define EXIT_USAGE	2

struct server;

struct client {
	struct server *s;
	int fd;
	bool vhci;
	struct h4_reader *rd;
	struct sim_ctrl *ctrl;
	struct pktq outq;
	size_t out_off;		/* bytes of the head packet already written */
	bool want_out;
	bool dead;
};

struct server {
	struct loop *l;
	struct sim_air *air;
	struct snoop *snoop;
	int lfd;
	char *unix_path;
	struct client *clients[MAX_CLIENTS];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bgw-sim [-v] [--scenario FILE] [--time-scale X] [--btsnoop FILE]\n"
		"               [--unlimited-radio]\n"
		"               [--unix PATH | --tcp [ADDR:]PORT | --vhci[=N]]\n"
		"       bgw-sim --dump-default\n"
		"       bgw-sim --help | --version\n");
}

/* --help: the usage, then what each option does (bgw-sim(1) has more). */
static void help(void)
{
	usage(stdout);
	fputs("\n"
	      "A simulated Bluetooth controller (H4) with a house of devices around it.\n"
	      "  --scenario FILE     the house to simulate (bgw-sim(5)); default: built in\n"
	      "  --time-scale X      simulated time runs X times real time (default 1)\n"
	      "  --btsnoop FILE      record every packet in a btsnoop trace (btmon -r)\n"
	      "  --unlimited-radio   carry ACL data without simulated air time\n"
	      "  --unix PATH         listen on this Unix socket (default\n"
	      "                      $XDG_RUNTIME_DIR/bgw-sim.sock or /run/bgw-sim/bgw-sim.sock)\n"
	      "  --tcp [ADDR:]PORT   listen on TCP, 127.0.0.1 by default (no authentication)\n"
	      "  --vhci[=N]          N controllers (default 1, at most 16) on /dev/vhci (root)\n"
	      "  --dump-default      print the built-in scenario and exit\n"
	      "  -v                  more log output; twice for debug output\n"
	      "  --help, --version   print this, or 'bgw-sim (bgw) VERSION', and exit\n",
	      stdout);
}

static void client_free(struct client *cl)
{
	struct server *s;
	size_t i;

	if (!cl)
		return;
	s = cl->s;
	for (i = 0; i < MAX_CLIENTS; i++)
		if (s->clients[i] == cl)
			s->clients[i] = NULL;
	sim_ctrl_free(cl->ctrl);
	loop_del_fd(s->l, cl->fd);
	close(cl->fd);
	h4_reader_free(cl->rd);
	pktq_clear(&cl->outq);
	free(cl);
}

static void client_update_events(struct client *cl)
{
	bool want = !pktq_is_empty(&cl->outq);

	if (want != cl->want_out) {
		cl->want_out = want;
		loop_mod_fd(cl->s->l, cl->fd, EPOLLIN | (want ? EPOLLOUT : 0));
	}
}

static void on_emit(const uint8_t *h4, size_t len, void *user)
{
	struct client *cl = user;

	if (cl->s->snoop)
		snoop_write(cl->s->snoop, h4, len, true, 0);
	if (pktq_push(&cl->outq, h4, len) < 0) {
		log_warn("client not reading: dropping it");
		cl->dead = true;
		return;
	}
	client_update_events(cl);
}

static int on_packet(const struct h4_pkt *p, void *user)
{
	struct client *cl = user;
	int r;

	if (cl->s->snoop)
		snoop_write(cl->s->snoop, p->raw, p->raw_len, false, 0);
	r = sim_ctrl_input(cl->ctrl, p->raw, p->raw_len);
	if (r < 0 && r != -EBADMSG)
		return r;
	if (r == -EBADMSG)
		log_info("host sent a packet a controller does not accept");
	return 0;
}

static int client_flush(struct client *cl)
{
	/* /dev/vhci takes one whole packet per write. */
	int err = pktq_write(&cl->outq, cl->fd, &cl->out_off, CLIENT_OUTQ_PKTS,
			     cl->vhci ? PKTQ_W_WHOLE : 0);

	if (err)
		return err;
	client_update_events(cl);
	return 0;
}

static void on_client(struct loop *l, int fd, uint32_t events, void *user)
{
	struct client *cl = user;
	uint8_t buf[4096];
	ssize_t n;
	int r;

	(void)l;
	if (events & EPOLLIN) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			log_info("host %s", n == 0 ? "closed the connection" : strerror(errno));
			goto drop;
		}
		if (n > 0) {
			r = h4_reader_feed(cl->rd, buf, (size_t)n, on_packet, cl);
			if (r < 0) {
				log_warn("host stream: %s", h4_strerror(r));
				goto drop;
			}
		}
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		goto drop;
	}
	if ((events & EPOLLOUT) && client_flush(cl) < 0)
		goto drop;
	if (cl->dead)
		goto drop;
	return;
drop:
	if (cl->vhci)
		loop_quit(cl->s->l, 1);
	client_free(cl);
}

static struct client *client_new(struct server *s, int fd, bool vhci)
{
	struct client *cl = calloc(1, sizeof(*cl));
	size_t i;

	if (!cl)
		goto fail;
	cl->s = s;
	cl->fd = fd;
	cl->vhci = vhci;
	pktq_init(&cl->outq, CLIENT_OUTQ_PKTS, CLIENT_OUTQ_BYTES);
	cl->rd = h4_reader_new(0);
	if (!cl->rd)
		goto fail;
	cl->ctrl = sim_ctrl_new(s->air, NULL, on_emit, cl);
	if (!cl->ctrl)
		goto fail;
	if (loop_add_fd(s->l, fd, EPOLLIN, on_client, cl) < 0)
		goto fail;
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (!s->clients[i]) {
			s->clients[i] = cl;
			break;
		}
	}
	{
		char a[BDADDR_STRLEN];

		log_notice("controller %s attached", bdaddr_fmt(sim_ctrl_addr(cl->ctrl), a));
	}
	return cl;
fail:
	if (cl) {
		sim_ctrl_free(cl->ctrl);
		h4_reader_free(cl->rd);
		free(cl);
	}
	close(fd);
	return NULL;
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *user)
{
	struct server *s = user;
	size_t i, n = 0;
	int cfd;

	(void)l;
	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	for (i = 0; i < MAX_CLIENTS; i++)
		n += s->clients[i] != NULL;
	if (n >= MAX_CLIENTS) {
		log_warn("too many hosts (at most %d): connection refused", MAX_CLIENTS);
		close(cfd);
		return;
	}
	client_new(s, cfd, false);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int e = -errno;

		log_err("%s: %s", path, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

static int listen_tcp(const char *spec)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(spec, ':'), *port = spec;
	char *end;
	unsigned long p;
	int fd, one = 1;

	if (colon) {
		if ((size_t)(colon - spec) >= sizeof(host)) {
			log_err("bad --tcp address '%s'", spec);
			return -EINVAL;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	p = strtoul(port, &end, 10);
	if (!*port || *end || p == 0 || p > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		log_err("bad --tcp address '%s' (IPv4 ADDR:PORT)", spec);
		return -EINVAL;
	}
	sa.sin_port = htons((uint16_t)p);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int e = -errno;

		log_err("%s: %s", spec, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

/* /dev/vhci: create a primary controller (opcode 0x00) and read its index. */
static int open_vhci(void)
{
	uint8_t req[2] = { 0xff, 0x00 }, rsp[4];
	ssize_t n;
	int fd, fl;

	fd = open("/dev/vhci", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_err("/dev/vhci: %s (modprobe hci_vhci?)", strerror(errno));
		return -errno;
	}
	if (write(fd, req, 2) != 2) {
		log_err("/dev/vhci: %s", strerror(errno));
		close(fd);
		return -EIO;
	}
	n = read(fd, rsp, sizeof(rsp));
	if (n != 4 || rsp[0] != 0xff || rsp[1] != 0x00) {
		log_err("/dev/vhci: unexpected reply to the create request");
		close(fd);
		return -EPROTO;
	}
	log_notice("created hci%u on /dev/vhci", get_le16(rsp + 2));
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}

static void on_signal(struct loop *l, int signo, void *user)
{
	(void)user;
	log_notice("signal %d: shutting down", signo);
	loop_quit(l, 0);
}

static char *default_socket(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *p = NULL;

	if (xdg && *xdg) {
		if (asprintf(&p, "%s/bgw-sim.sock", xdg) < 0)
			return NULL;
		return p;
	}
	if (mkdir("/run/bgw-sim", 0755) < 0 && errno != EEXIST)
		return NULL;
	return strdup("/run/bgw-sim/bgw-sim.sock");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scenario", required_argument, NULL, 's' },
		{ "time-scale", required_argument, NULL, 't' },
		{ "btsnoop", required_argument, NULL, 'b' },
		{ "unlimited-radio", no_argument, NULL, 'U' },
		{ "unix", required_argument, NULL, 'u' },
		{ "tcp", required_argument, NULL, 'T' },
		{ "vhci", optional_argument, NULL, 'V' },
		{ "dump-default", no_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct server s = { .lfd = -1 };
	struct sim_opts so = { .time_scale = 1.0 };
	struct sim_house *house = NULL;
	const char *scenario = NULL, *snoop_path = NULL, *tcp = NULL;
	char *unix_path = NULL, *end, err[512];
	unsigned long vhci = 0;
	int opt, verbose = 0, modes = 0, ret = 1, fd, r;
	size_t i;

	log_open("bgw-sim", LOG_TARGET_STDERR);
	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			scenario = optarg;
			break;
		case 't':
			so.time_scale = strtod(optarg, &end);
			if (*end || !(so.time_scale > 0) || so.time_scale > 1000) {
				fprintf(stderr, "bgw-sim: bad --time-scale '%s' (0 < X <= 1000)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			snoop_path = optarg;
			break;
		case 'U':
			so.unlimited_radio = true;
			break;
		case 'u':
			free(unix_path);
			unix_path = strdup(optarg);
			modes++;
			break;
		case 'T':
			tcp = optarg;
			modes++;
			break;
		case 'V':
			vhci = 1;
			if (optarg) {
				vhci = strtoul(optarg, &end, 10);
				if (*end || vhci < 1 || vhci > MAX_CLIENTS) {
					fprintf(stderr, "bgw-sim: bad --vhci count '%s' (1-%d)\n",
						optarg, MAX_CLIENTS);
					return EXIT_USAGE;
				}
			}
			modes++;
			break;
		case 'D':
			fputs(sim_house_default_text(), stdout);
			return 0;
		case 'v':
			verbose++;
			break;
		case 'h':
			help();
			return 0;
		case 'R':
			printf("bgw-sim (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || modes > 1) {
		usage(stderr);
		free(unix_path);
		return EXIT_USAGE;
	}
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_NOTICE);
	if (!modes) {
		unix_path = default_socket();
		if (!unix_path) {
			log_err("cannot create /run/bgw-sim: %s", strerror(errno));
			goto out;
		}
	}
	if (scenario) {
		r = sim_house_load(scenario, &house, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "bgw-sim: %s\n", err);
			goto out;
		}
	} else {
		house = sim_house_default();
		if (!house) {
			log_err("the default house does not parse");
			goto out;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	s.l = loop_new();
	if (!s.l)
		goto out;
	s.air = sim_air_new(s.l, house, &so);
	house = NULL;
	if (!s.air)
		goto out;
	if (snoop_path && snoop_open(&s.snoop, snoop_path) < 0) {
		log_err("%s: cannot create the trace", snoop_path);
		goto out;
	}
	loop_add_signal(s.l, SIGINT, on_signal, &s);
	loop_add_signal(s.l, SIGTERM, on_signal, &s);
	if (vhci) {
		/* N controllers in one air, like btvirt -lN. */
		for (i = 0; i < vhci; i++) {
			fd = open_vhci();
			if (fd < 0 || !client_new(&s, fd, true))
				goto out;
		}
	} else {
		s.lfd = unix_path ? listen_unix(unix_path) : listen_tcp(tcp);
		if (s.lfd < 0)
			goto out;
		s.unix_path = unix_path;
		if (loop_add_fd(s.l, s.lfd, EPOLLIN, on_accept, &s) < 0)
			goto out;
		log_notice("serving H4 on %s%s", unix_path ? "" : "tcp ",
			   unix_path ? unix_path : tcp);
	}
	ret = loop_run(s.l) == 0 ? 0 : 1;
out:
	for (i = 0; i < MAX_CLIENTS; i++)
		client_free(s.clients[i]);
	if (s.lfd >= 0) {
		loop_del_fd(s.l, s.lfd);
		close(s.lfd);
		if (s.unix_path)
			unlink(s.unix_path);
	}
	sim_air_free(s.air);
	sim_house_free(house);
	if (s.snoop && snoop_close(s.snoop) < 0)
		ret = 1;
	loop_free(s.l);
	free(unix_path);
	log_close();
	return ret;
}
