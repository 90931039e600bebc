/* SPDX-License-Identifier: MIT */
/*
 * bgw-cdclient: the remote virtual controller on the control device (CD),
 * exposed locally through /dev/vhci, CUSE, FUSE and H4 sockets.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "btsnoop.h"
#include "bundle.h"
#include "endpoint.h"
#include "expose.h"
#include "hub.h"
#include "log.h"
#include "loop.h"
#include "remote.h"
#include "remote_merge.h"
#include "remote_tunnel.h"
#include "secmem.h"
#include "tunnel.h"

#define PROG			"bgw-cdclient"
#define MAX_EXPOSURES		8
/* A password longer than this is refused, never cut. */
#define PASSWORD_MAX		1024

/* Exit codes, as written in bgw-cdclient(1) EXIT STATUS. */
#define EXIT_OK			0
#define EXIT_RUNTIME		1	/* also: the gateway refused the login */
#define EXIT_USAGE		2
#define EXIT_UNREACHABLE	3	/* no gateway answered */
#define EXIT_UNTRUSTED		4	/* not the gateway the CA vouches for */

static const char usage_text[] =
"usage: " PROG " [-fhVv] [--btsnoop file] [--expose exposure]...\n"
"           [--local controller] --connect endpoint\n"
"       " PROG " [-fhVv] [--btsnoop file] [--expose exposure]...\n"
"           [--local controller] [--dtls | --tls] --server host[:port]\n"
"           --user name [--password-file file] --ca file\n"
"       " PROG " [-fhVv] [--btsnoop file] [--expose exposure]...\n"
"           [--local controller] [--dtls | --tls] [--server host[:port]]\n"
"           --bundle file\n"
"\n"
"  -f, --foreground        do not detach once the session is up; log to\n"
"                          stderr (systemd: Type=notify)\n"
"  -v, --verbose           more log output (twice: HCI packet summaries)\n"
"  -V, --version           print the version and exit\n"
"  -h, --help              print this help and exit\n"
"  --btsnoop file          record the local HCI traffic (btmon -r file)\n"
"  --expose exposure       vhci, cuse[:name], fuse:dir, unix:path,\n"
"                          tcp:127.0.0.1:port (repeatable; default vhci)\n"
"  --local controller      seamless mode: merge this controller (hci:N,\n"
"                          h4:dev, unix:path, tcp:host:port, sim[:file])\n"
"                          with the gateway's into one adapter\n"
"  --connect endpoint      plain H4 upstream: unix:path or tcp:host:port\n"
"  --server host[:port]    the gateway (port " CD_TUNNEL_DEFAULT_PORT " if none); with\n"
"                          --bundle, instead of the bundle's server\n"
"  --dtls                  DTLS on UDP only (default: DTLS, and TLS on TCP\n"
"                          as well if UDP gets no answer within 1 s)\n"
"  --tls                   TLS on TCP only (the gateway's listen-tls port)\n"
"  --user name             log in as name with a password, asked for on\n"
"                          the terminal or read from --password-file\n"
"  --ca file               the gateway's CA certificate (server pin)\n"
"  --bundle file           log in with the enrolment bundle's certificate\n";

struct opts {
	const char *relay_ptr[TUN_RELAYS_MAX];	/* the bundle's relays */
	bool foreground;
	int verbose;
	const char *btsnoop;
	char *expose[MAX_EXPOSURES];
	int nexpose;
	char *connect;
	const char *server;
	const char *user;
	const char *password_file;
	const char *ca;
	const char *bundle;
	char *local;		/* seamless mode: the local controller's URI */
	bool tls;
	bool dtls;
	char *ca_abs;		/* --ca made absolute: reread after chdir("/") */
	/* The tunnel, resolved from the above. */
	struct cd_tunnel_opts tun;
	char host[CD_HOST_MAX + 1];
	char port[6];
	char *password;
	size_t password_len;
	struct bundle b;
	bool have_bundle;
};

struct app {
	struct loop *loop;
	struct cd_hub *hub;
	struct cd_remote *remote;	/* the hub's */
	struct opts *o;
	struct cd_expose *x[MAX_EXPOSURES];
	bool late_opened;
	bool ready;		/* the session was up and every exposure open */
	int detach_fd;		/* to the parent waiting for "ready", or -1 */
	int code;
};

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

/*
 * "unix:rel/path" and "fuse:rel/dir" made absolute: a daemon changes to /
 * before it binds or mounts anything.
 */
static int absolutize(char **spec, const char *prefix)
{
	size_t plen = strlen(prefix);
	char cwd[PATH_MAX], *s;
	const char *path;
	int n;

	if (strncmp(*spec, prefix, plen))
		return 0;
	path = *spec + plen;
	if (path[0] == '/' || !path[0])
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	n = asprintf(&s, "%s%s/%s", prefix, cwd, path);
	if (n < 0)
		return -ENOMEM;
	free(*spec);
	*spec = s;
	return 0;
}

enum {
	OPT_BTSNOOP = 256,
	OPT_EXPOSE,
	OPT_CONNECT,
	OPT_SERVER,
	OPT_USER,
	OPT_PASSWORD_FILE,
	OPT_CA,
	OPT_BUNDLE,
	OPT_TLS,
	OPT_DTLS,
	OPT_LOCAL,
};

static const struct option long_opts[] = {
	{ "foreground", no_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "btsnoop", required_argument, NULL, OPT_BTSNOOP },
	{ "expose", required_argument, NULL, OPT_EXPOSE },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "dtls", no_argument, NULL, OPT_DTLS },
	{ "local", required_argument, NULL, OPT_LOCAL },
	{ NULL, 0, NULL, 0 },
};

/* 0 to go on, or an exit code (help and version exit 0 at once). */
static int parse_args(int argc, char **argv, struct opts *o, bool *done)
{
	char why[200];
	int c, i, n;

	*done = false;
	while ((c = getopt_long(argc, argv, "fhVv", long_opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			printf("%s (%s) %s\n", PROG, PACKAGE_NAME, PACKAGE_VERSION);
			*done = true;
			return EXIT_OK;
		case 'h':
			usage(stdout);
			*done = true;
			return EXIT_OK;
		case OPT_BTSNOOP:
			o->btsnoop = optarg;
			break;
		case OPT_EXPOSE:
			if (o->nexpose >= MAX_EXPOSURES) {
				fprintf(stderr, "%s: at most %d --expose\n", PROG,
					MAX_EXPOSURES);
				return EXIT_USAGE;
			}
			if (cd_expose_check(optarg, why, sizeof(why))) {
				fprintf(stderr, "%s: --expose %s: %s\n", PROG,
					optarg, why);
				return EXIT_USAGE;
			}
			o->expose[o->nexpose] = strdup(optarg);
			if (!o->expose[o->nexpose])
				return EXIT_RUNTIME;
			o->nexpose++;
			break;
		case OPT_CONNECT:
			if (!cd_remote_is_stream_spec(optarg)) {
				fprintf(stderr, "%s: --connect %s: expected "
					"unix:PATH or tcp:HOST:PORT\n", PROG, optarg);
				return EXIT_USAGE;
			}
			free(o->connect);
			o->connect = strdup(optarg);
			if (!o->connect)
				return EXIT_RUNTIME;
			break;
		case OPT_SERVER:
			o->server = optarg;
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case OPT_PASSWORD_FILE:
			o->password_file = optarg;
			break;
		case OPT_CA:
			o->ca = optarg;
			break;
		case OPT_BUNDLE:
			o->bundle = optarg;
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_DTLS:
			o->dtls = true;
			break;
		case OPT_LOCAL:
			if (cd_remote_merge_check(optarg, why, sizeof(why))) {
				fprintf(stderr, "%s: --local %s: %s\n", PROG, optarg, why);
				return EXIT_USAGE;
			}
			free(o->local);
			o->local = strdup(optarg);
			if (!o->local)
				return EXIT_RUNTIME;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	n = !!o->connect + !!(o->server || o->bundle);
	if (n != 1) {
		fprintf(stderr, "%s: give --connect, or --server, or --bundle "
			"(with --server to override the bundle's)\n", PROG);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o->tls && o->dtls) {
		fprintf(stderr, "%s: --dtls and --tls exclude each other; give "
			"neither to try both\n", PROG);
		return EXIT_USAGE;
	}
	if ((o->tls || o->dtls) && o->connect) {
		fprintf(stderr, "%s: --%s goes with --server or --bundle\n",
			PROG, o->tls ? "tls" : "dtls");
		return EXIT_USAGE;
	}
	if ((o->user || o->password_file || o->ca) && (!o->server || o->bundle)) {
		fprintf(stderr, "%s: --user, --password-file and --ca go with "
			"--server, not with --bundle (it has its own)\n", PROG);
		return EXIT_USAGE;
	}
	if (o->bundle)
		goto exposures;
	if (o->server && (!o->user || !o->ca)) {
		fprintf(stderr, "%s: --server needs --user and --ca (or use "
			"--bundle)\n", PROG);
		return EXIT_USAGE;
	}
exposures:
	if (!o->nexpose) {
		if (access("/dev/vhci", F_OK) < 0) {
			fprintf(stderr, "%s: no --expose given and no /dev/vhci "
				"here (load hci_vhci, or choose an exposure)\n",
				PROG);
			return EXIT_USAGE;
		}
		o->expose[o->nexpose] = strdup("vhci");
		if (!o->expose[o->nexpose])
			return EXIT_RUNTIME;
		o->nexpose++;
	}
	for (i = 0; i < o->nexpose; i++) {
		if (absolutize(&o->expose[i], "unix:") ||
		    absolutize(&o->expose[i], "fuse:"))
			return EXIT_RUNTIME;
		if (cd_expose_check(o->expose[i], why, sizeof(why))) {
			fprintf(stderr, "%s: --expose %s: %s\n", PROG,
				o->expose[i], why);
			return EXIT_USAGE;
		}
	}
	/* A daemon changes to / before it opens the local controller. */
	if (o->local && (absolutize(&o->local, "unix:") ||
			 absolutize(&o->local, "sim:")))
		return EXIT_RUNTIME;
	if (!o->connect)
		return EXIT_OK;
	if (absolutize(&o->connect, "unix:"))
		return EXIT_RUNTIME;
	if (!cd_remote_is_stream_spec(o->connect)) {
		fprintf(stderr, "%s: --connect %s: path too long\n", PROG,
			o->connect);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* "host", "host:port", "[v6]" or "[v6]:port"; 0 or -EINVAL. */
static int parse_server(const char *s, struct opts *o)
{
	const char *host = s, *port = NULL, *end;
	size_t n, i;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		host = s + 1;
		n = (size_t)(end - host);
		if (end[1])
			port = end + 2;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			return -EINVAL;	/* an IPv6 literal needs brackets */
		n = end ? (size_t)(end - s) : strlen(s);
		if (end)
			port = end + 1;
	}
	if (!n || n > CD_HOST_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)host[i] <= 0x20 || host[i] == 0x7f)
			return -EINVAL;
	memcpy(o->host, host, n);
	o->host[n] = '\0';
	if (!port) {
		snprintf(o->port, sizeof(o->port), "%s", CD_TUNNEL_DEFAULT_PORT);
		return 0;
	}
	n = strlen(port);
	if (!n || n > 5 || strspn(port, "0123456789") != n ||
	    atoi(port) < 1 || atoi(port) > 65535)
		return -EINVAL;
	memcpy(o->port, port, n + 1);
	return 0;
}

/*
 * One line from fd into buf (at most PASSWORD_MAX bytes, the newline
 * dropped). A longer line, a NUL byte or an empty password is refused.
 */
static int read_secret_line(int fd, char *buf, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || c == '\n')
			break;
		if (c == '\0' || n >= PASSWORD_MAX)
			return -EINVAL;
		buf[n++] = c;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	if (!n)
		return -ENODATA;
	buf[n] = '\0';
	*len = n;
	return 0;
}

static int get_password(struct opts *o)
{
	struct termios old, quiet;
	struct stat st;
	int fd, err;

	o->password = malloc(PASSWORD_MAX + 1);
	if (!o->password)
		return -ENOMEM;
	if (o->password_file) {
		fd = open(o->password_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			fprintf(stderr, "%s: --password-file %s: %s\n", PROG,
				o->password_file, strerror(errno));
			return err;
		}
		if (fstat(fd, &st) == 0 && (st.st_mode & 077))
			fprintf(stderr, "%s: warning: %s is readable by others\n",
				PROG, o->password_file);
		err = read_secret_line(fd, o->password, &o->password_len);
		close(fd);
		if (err)
			fprintf(stderr, "%s: --password-file %s: %s\n", PROG,
				o->password_file, err == -EINVAL ?
				"not one line of at most 1024 bytes without NUL" :
				err == -ENODATA ? "empty" : strerror(-err));
		return err;
	}
	/* Never echoed, never taken from argv or the environment. */
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "%s: no terminal to ask for the password; use "
			"--password-file\n", PROG);
		return -ENOTTY;
	}
	if (tcgetattr(fd, &old) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	dprintf(fd, "Password for %s@%s: ", o->user, o->host);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	err = read_secret_line(fd, o->password, &o->password_len);
	tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	if (err)
		fprintf(stderr, "%s: no usable password read\n", PROG);
	return err;
}

/* Fill o->tun from --server/--user/--ca or from the bundle. */
static int prepare_tunnel(struct opts *o)
{
	int err;

	if (o->bundle) {
		err = bundle_read(o->bundle, &o->b);
		if (err) {
			fprintf(stderr, "%s: --bundle %s: %s\n", PROG, o->bundle,
				err == -EBADMSG ? "not a valid enrolment bundle "
				"(or its CA does not match its pin)" :
				strerror(-err));
			return err;
		}
		o->have_bundle = true;
		/* --server overrides the bundle's (a new address, a tunnel). */
		if (o->server && parse_server(o->server, o)) {
			fprintf(stderr, "%s: --server %s: expected HOST[:PORT]\n",
				PROG, o->server);
			return -EINVAL;
		}
		/*
		 * The bundle's relays race the direct path (doc/relay.md,
		 * "The client"); a bundle may name only relays.
		 */
		for (size_t i = 0; i < o->b.nrelay && i < TUN_RELAYS_MAX; i++)
			o->relay_ptr[i] = o->b.relay[i];
		o->tun.relays = o->relay_ptr;
		o->tun.nrelay = o->b.nrelay < TUN_RELAYS_MAX ? (unsigned)o->b.nrelay :
				TUN_RELAYS_MAX;
		o->tun.home_id = o->b.nrelay ? o->b.home_id : NULL;
		if (!o->server && o->b.server[0] && parse_server(o->b.server, o)) {
			fprintf(stderr, "%s: --bundle %s: bad server '%s'; give "
				"the gateway's address with --server\n",
				PROG, o->bundle, o->b.server);
			return -EINVAL;
		}
		o->tun.bundle_path = o->bundle;
		o->tun.bundle_user = o->b.user;
		o->tun.ca_pem = o->b.ca_pem;
		o->tun.cert_pem = o->b.cert_pem;
		o->tun.key_pem = o->b.key_pem;
	} else {
		if (parse_server(o->server, o)) {
			fprintf(stderr, "%s: --server %s: expected HOST[:PORT]\n",
				PROG, o->server);
			return -EINVAL;
		}
		/* Absolute: it is read again for each new session, after
		 * the daemon has changed to /. */
		o->ca_abs = realpath(o->ca, NULL);
		if (!o->ca_abs || access(o->ca_abs, R_OK) < 0) {
			err = -errno;
			fprintf(stderr, "%s: --ca %s: %s; it is the gateway's "
				"CA certificate (ca.crt) from its admin\n", PROG,
				o->ca, strerror(errno));
			return err;
		}
		err = get_password(o);
		if (err)
			return err;
		o->tun.ca_file = o->ca_abs;
		o->tun.ca_path = o->ca;
		o->tun.user = o->user;
		o->tun.password = o->password;
		o->tun.password_len = o->password_len;
	}
	o->tun.transport = o->tls ? CD_TRANSPORT_TLS :
			   o->dtls ? CD_TRANSPORT_DTLS : CD_TRANSPORT_AUTO;
	/* A bundle with relays and no server: the relays only. */
	o->tun.host = o->host[0] ? o->host : NULL;
	o->tun.port = o->host[0] ? o->port : NULL;
	return 0;
}

/*
 * Into the background, but only once the session is up: the parent waits
 * on a pipe and exits 0 when the child says "ready", or with the child's
 * own exit status when it ends first (the child has printed why on the
 * terminal, which it keeps until then). The child stays in the terminal's
 * process group until it detaches, so ^C stops both.
 */
static int fork_waiting(int *ready_fd)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;
	char c;

	*ready_fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		close(p[0]);
		*ready_fd = p[1];
		return 0;
	}
	close(p[1]);
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == 1 && c == 'R')
		return EXIT_OK;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_RUNTIME;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? WEXITSTATUS(status) : EXIT_RUNTIME;
	return EXIT_RUNTIME;
}

/* The child, once ready: a session of its own, no terminal, syslog. */
static int detach(int ready_fd)
{
	int fd, err = 0;

	if (setsid() < 0 || chdir("/") < 0)
		err = -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 && !err)
		err = -errno;
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	log_open(PROG, LOG_TARGET_SYSLOG);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	/* Last: the parent exits 0 on this byte. */
	if (write(ready_fd, "R", 1) != 1)
		err = -errno;
	close(ready_fd);
	return err;
}

static void on_signal(struct loop *l, int signo, void *user)
{
	if (signo == SIGHUP) {
		log_info("SIGHUP ignored");
		return;
	}
	log_notice("%s: shutting down", strsignal(signo));
	sd_notify(0, "STOPPING=1");
	loop_quit(l, EXIT_OK);
}

static int open_exposures(struct app *a, bool late)
{
	int i, err;

	for (i = 0; i < a->o->nexpose; i++) {
		if (cd_expose_waits_for_upstream(a->o->expose[i]) != late)
			continue;
		err = cd_expose_open(&a->x[i], a->loop, a->hub, a->o->expose[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The session is up and every exposure open: say what the user got, tell
 * systemd (Type=notify) and, unless --foreground, go to the background.
 */
static void app_ready(struct app *a)
{
	char line[1024], one[PATH_MAX + 32];
	const char *user = cd_remote_user(a->remote);
	size_t n;
	int i, err;

	a->ready = true;
	n = (size_t)snprintf(line, sizeof(line), "%s%s%s", cd_remote_describe(a->remote),
			     user ? " as " : "", user ? user : "");
	for (i = 0; i < a->o->nexpose && n < sizeof(line); i++) {
		cd_expose_describe(a->x[i], a->o->expose[i], one, sizeof(one));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s",
				      i ? ", " : "; ", one);
	}
	log_notice("ready: %s", line);
	sd_notifyf(0, "READY=1\nSTATUS=up: %s", line);
	if (a->detach_fd < 0)
		return;
	log_notice("running in the background (pid %ld)", (long)getpid());
	err = detach(a->detach_fd);
	a->detach_fd = -1;
	if (err)
		log_err("cannot go to the background: %s", strerror(-err));
}

static void on_up(void *user)
{
	struct app *a = user;
	const char *u;

	if (!a->late_opened) {
		a->late_opened = true;
		if (open_exposures(a, true)) {
			log_err("cannot open the exposures; shutting down");
			loop_quit(a->loop, EXIT_RUNTIME);
			return;
		}
	}
	if (!a->ready) {
		app_ready(a);
		return;
	}
	u = cd_remote_user(a->remote);
	sd_notifyf(0, "STATUS=up again: %s%s%s", cd_remote_describe(a->remote),
		   u ? " as " : "", u ? u : "");
}

/* The exit status for the upstream's reason to give up (EXIT STATUS). */
static int failed_code(int err)
{
	switch (err) {
	case 0:
		return EXIT_OK;
	case -EHOSTUNREACH:
		return EXIT_UNREACHABLE;
	case -EKEYREJECTED:
		return EXIT_UNTRUSTED;
	}
	return EXIT_RUNTIME;
}

static int run(struct opts *o, struct snoop *snoop, int detach_fd)
{
	struct app a = { .o = o, .code = EXIT_RUNTIME, .detach_fd = detach_fd };
	struct cd_remote *r = NULL, *mr = NULL;
	const struct cd_remote_cbs *cbs = &cd_hub_remote_cbs;
	void *cbs_user;
	int err, i;

	signal(SIGPIPE, SIG_IGN);
	a.loop = loop_new();
	if (!a.loop)
		goto out;
	if (loop_add_signal(a.loop, SIGINT, on_signal, NULL) ||
	    loop_add_signal(a.loop, SIGTERM, on_signal, NULL) ||
	    loop_add_signal(a.loop, SIGHUP, on_signal, NULL))
		goto out;
	if (cd_hub_new(&a.hub, a.loop, snoop))
		goto out;
	cbs_user = a.hub;
	/* Seamless mode: the hub's upstream is the merge, the gateway its. */
	if (o->local) {
		if (cd_remote_new_merge(&mr, a.loop, o->local, &cd_hub_remote_cbs,
					a.hub))
			goto out;
		cbs = &cd_merge_gateway_cbs;
		cbs_user = mr;
	}
	if (o->connect)
		err = cd_remote_new_stream(&r, a.loop, o->connect, cbs, cbs_user);
	else
		err = cd_remote_new_tunnel(&r, a.loop, &o->tun, cbs, cbs_user);
	if (!err && mr) {
		cd_remote_merge_set_gateway(mr, r);
		r = mr;
		mr = NULL;
	}
	/* The upstream has its own copy: ours goes now. */
	if (o->password) {
		secmem_wipe(o->password, PASSWORD_MAX + 1);
		free(o->password);
		o->password = NULL;
	}
	if (o->have_bundle) {
		bundle_free(&o->b);
		o->have_bundle = false;
	}
	if (err) {
		log_err("cannot set up the upstream: %s", strerror(-err));
		goto out;
	}
	if (open_exposures(&a, false))
		goto out;
	cd_hub_set_up_fn(a.hub, on_up, &a);
	a.remote = r;
	sd_notifyf(0, "STATUS=connecting to %s", cd_remote_describe(r));
	err = cd_hub_set_remote(a.hub, r);
	r = NULL;	/* the hub owns it now, even on error */
	if (err)
		goto out;
	err = loop_run(a.loop);
	a.code = err < 0 ? EXIT_RUNTIME : err;
	if (cd_hub_failed_err(a.hub))
		a.code = failed_code(cd_hub_failed_err(a.hub));

out:
	for (i = MAX_EXPOSURES - 1; i >= 0; i--)
		cd_expose_close(a.x[i]);
	cd_remote_free(r);
	cd_remote_free(mr);
	cd_hub_free(a.hub);
	loop_free(a.loop);
	if (a.detach_fd >= 0)
		close(a.detach_fd);
	return a.code;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct snoop *snoop = NULL;
	int detach_fd = -1;
	bool done;
	int code, err, i;

	log_open(PROG, LOG_TARGET_STDERR);
	code = parse_args(argc, argv, &o, &done);
	if (code || done)
		goto out;
	log_set_level(o.verbose >= 2 ? LOG_DEBUG :
		      o.verbose == 1 ? LOG_INFO : LOG_NOTICE);
	if (!o.connect && prepare_tunnel(&o)) {
		code = EXIT_RUNTIME;
		goto out;
	}
	if (!o.foreground) {
		/* The parent returns here once the child is ready or gone. */
		err = fork_waiting(&detach_fd);
		if (err < 0) {
			fprintf(stderr, "%s: cannot fork: %s\n", PROG,
				strerror(-err));
			code = EXIT_RUNTIME;
			goto out;
		}
		if (detach_fd < 0) {
			code = err;
			goto out;
		}
	}
	if (o.btsnoop) {
		err = snoop_open(&snoop, o.btsnoop);
		if (err) {
			fprintf(stderr, "%s: --btsnoop %s: %s\n", PROG, o.btsnoop,
				strerror(-err));
			code = EXIT_RUNTIME;
			goto out;
		}
	}
	code = run(&o, snoop, detach_fd);
	detach_fd = -1;
	err = snoop_close(snoop);
	snoop = NULL;
	if (err) {
		log_err("--btsnoop %s: %s", o.btsnoop, strerror(-err));
		code = EXIT_RUNTIME;
	}

out:
	snoop_close(snoop);
	if (o.password) {
		secmem_wipe(o.password, PASSWORD_MAX + 1);
		free(o.password);
	}
	if (o.have_bundle)
		bundle_free(&o.b);
	for (i = 0; i < o.nexpose; i++)
		free(o.expose[i]);
	free(o.connect);
	free(o.local);
	free(o.ca_abs);
	if (detach_fd >= 0)
		close(detach_fd);
	log_close();
	return code;
}
