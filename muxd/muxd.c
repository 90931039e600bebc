/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd: owns one physical controller and gives every session a virtual
 * controller of its own (mux/mux.h). This file is main: the
 * configuration, the start-up and the forks of the processes (muxd/muxd.h,
 * doc/security.md "Process model"); each child gets a state struct of its
 * own role and wipes the monitor's (monitor_forget).
 *
 * The monitor (monitor.c) keeps everything secret and privileged; the
 * core (core.c) runs the controller, the mux core and every session's
 * virtual controller; when listen-dtls or listen-tls is configured, the
 * network front (front.c) owns the listeners and hands each tunnel peer
 * to the monitor, which forks a process for it (peer.c) under a uid of
 * its own; the peer runs its DTLS or TLS and login and then relays its
 * tunnel messages to the core.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "bonds.h"
#include "core.h"
#include "monitor.h"
#include "net.h"
#include "sandbox.h"

static const char *conf_path = MUXD_DEFAULT_CONF;

static const char usage_text[] =
"usage: bgw-muxd [-dfhtV] [-c config_file]\n"
"       bgw-muxd [-c config_file] status [--json]\n"
"       bgw-muxd [-c config_file] kick session | user\n"
"       bgw-muxd [-c config_file] pair [--le | --keyboard] address [public | random]\n"
"\n"
"  -c config_file  the configuration (default " MUXD_DEFAULT_CONF ")\n"
"  -d              debug: log HCI packet summaries; implies -f\n"
"  -f              stay in the foreground, log to stderr\n"
"  -t              check the configuration, the authdb, the tunnel's files\n"
"                  and the controller without taking it, then exit\n"
"  -V, --version   print the version and exit\n"
"  -h, --help      print this help and exit\n"
"  status          the sessions, their links and the controller (root);\n"
"                  --json for scripts\n"
"  kick            end a session, by its number or all of a user's (root)\n"
"  pair            pair a device at the gateway, once, before granting it:\n"
"                  its key becomes the household bond (root); --le for an\n"
"                  LE device with a public address, --keyboard to type the\n"
"                  passkey a BR/EDR device shows\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

/* The household bond store (bgw-bonds(5)) parses and is private. */
static int check_bonds(const struct muxd_conf *conf)
{
	char err[BONDS_ERR_MAX];
	struct bonds *b = NULL;
	int r;

	r = bonds_load(conf->bonds, &b, err, sizeof(err));
	bonds_free(b);
	if (r < 0)
		log_err("bond store refused: %s; household bonds are off until it is fixed (bgw-bonds(5), bgw-authdb bond list)",
			err);
	return r;
}

static int listen_unix(const char *path, unsigned mode)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Replace a stale socket, never another kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("listen %s: exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, (mode_t)mode) < 0 || listen(fd, 16) < 0) {
		int e = -errno;

		log_err("listen %s: %s", path, strerror(errno));
		close(fd);
		return e;
	}
	return fd;
}

/*
 * bgw-muxd -t: the paths the daemon would refuse at start. A listener's
 * path must be free or a stale socket in an existing directory; the audit
 * log's directory must exist.
 */
static int test_paths(const struct muxd_conf *c)
{
	char dir[PATH_MAX];
	struct stat st;
	unsigned i;
	int ret = 0;

	for (i = 0; i < c->nlisten; i++) {
		if (lstat(c->listen[i], &st) == 0 && !S_ISSOCK(st.st_mode)) {
			log_err("listen %s: exists and is not a socket", c->listen[i]);
			ret = -EEXIST;
		}
		snprintf(dir, sizeof(dir), "%s", c->listen[i]);
		if (stat(dirname(dir), &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_err("listen %s: no directory %s", c->listen[i], dir);
			ret = -ENOENT;
		}
	}
	if (muxd_conf_has_tunnel(c)) {
		snprintf(dir, sizeof(dir), "%s", c->audit_log);
		if (stat(dirname(dir), &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_err("audit-log %s: no directory %s", c->audit_log, dir);
			ret = -ENOENT;
		}
	}
	return ret;
}

/*
 * Until the daemon is up, its errors also go to the terminal of whoever
 * started it (the parent waits there, detach below); afterwards only to
 * syslog.
 */
static void startup_log(int prio, const char *line, void *user)
{
	if (prio <= LOG_WARNING)
		fprintf(stderr, "bgw-muxd: %s\n", line);
	syslog(prio, "%s", line);
}

/*
 * One bgw-muxd per runtime directory: the pid file, locked for the
 * daemon's life (flock: the kernel releases it however the daemon ends,
 * so a stale file never blocks a start). Taken before anything is
 * touched, so that a second instance unlinks none of the first's sockets.
 */
static int instance_lock(struct muxd_monitor *m)
{
	char path[MUXD_RUNDIR_MAX + sizeof(MUXD_PID_FILE) + 1], buf[24];
	long pid = 0;
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "%s/%s", m->d.conf.runtime_dir, MUXD_PID_FILE);
	/* Only the last component, as systemd's RuntimeDirectory= would. */
	if (mkdir(m->d.conf.runtime_dir, 0755) < 0 && errno != EEXIST) {
		e = -errno;
		log_err("runtime-dir %s: %s", m->d.conf.runtime_dir, strerror(errno));
		return e;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = -errno;
		log_err("pid file %s: %s", path, strerror(errno));
		return e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = -errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			pid = strtol(buf, NULL, 10);
		}
		if (e == -EWOULDBLOCK && pid > 0)
			log_err("bgw-muxd is already running (pid %ld); stop it first, or give this one another runtime-dir",
				pid);
		else if (e == -EWOULDBLOCK)
			log_err("bgw-muxd is already running (%s is locked)", path);
		else
			log_err("pid file %s: %s", path, strerror(-e));
		close(fd);
		return e;
	}
	m->lock_fd = fd;
	return 0;
}

static int instance_write_pid(struct muxd_monitor *m)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(m->lock_fd, 0) < 0 || pwrite(m->lock_fd, buf, (size_t)n, 0) != n) {
		log_err("pid file in %s: %s", m->d.conf.runtime_dir, strerror(errno));
		return -EIO;
	}
	return 0;
}

/*
 * Without -f: fork now, and let the parent wait in the foreground until
 * every process is up (each writes one byte, muxd_ready) or one failed
 * (the pipe closes short), so that a port in use or a missing file is
 * reported on the terminal with exit status 1, not in syslog after a
 * status of 0. Returns in the child.
 */
#define READY_WAIT_MS	60000

static int detach(struct muxd_monitor *m, unsigned nready)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_err("pipe: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -EAGAIN;
	}
	if (pid > 0) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		unsigned got = 0;
		char b[8];

		close(p[1]);
		while (got < nready) {
			ssize_t n;
			int r = poll(&pfd, 1, READY_WAIT_MS);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				fprintf(stderr, "bgw-muxd: not up within %d s; see the system log\n",
					READY_WAIT_MS / 1000);
				break;
			}
			n = read(p[0], b, sizeof(b));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (unsigned)n;
		}
		/* The lock and everything else belong to the daemon now. */
		_exit(got >= nready ? 0 : EXIT_ERROR);
	}
	close(p[0]);
	/* The daemon is this child now: its roles die with it, not with the parent. */
	m->d.self = getpid();
	if (setsid() < 0)
		log_warn("setsid: %s", strerror(errno));
	m->d.ready_fd = p[1];
	return 0;
}

/*
 * The peers' uids (peer-uid-base, peer-uid-count) must be no one's: a
 * process of an account with one of them could signal or trace a peer.
 * Only as root: otherwise the peers keep the daemon's uid.
 */
static int check_peer_ids(const struct muxd_conf *c)
{
	char err[300];
	int r;

	if (!muxd_conf_has_tunnel(c) || geteuid() != 0)
		return 0;
	r = sandbox_peer_range_check(c->peer_uid_base, c->peer_uid_count, err, sizeof(err));
	if (r == -EEXIST)
		log_err("peer-uid-base %u, peer-uid-count %u: %s; give the peers a range of ids no account, group or subordinate range uses (bgw-muxd.conf(5))",
			(unsigned)c->peer_uid_base, c->peer_uid_count, err);
	else if (r < 0)
		log_err("peer-uid-base %u, peer-uid-count %u: %s",
			(unsigned)c->peer_uid_base, c->peer_uid_count, err);
	return r;
}

static int check_controller(const struct muxd_conf *c)
{
	char err[600];
	int r = mux_transport_probe(c->controller, err, sizeof(err));

	if (r < 0)
		log_err("controller %s", err);
	return r;
}

/*
 * The tunnel's ports, tried before the front binds them: its UDP
 * listener sets SO_REUSEADDR (so that each peer's connected socket can
 * share the port), which lets a second listener bind the same port
 * silently. A plain bind here fails on a port any socket holds; for TCP
 * the probe sets SO_REUSEADDR too, so that connections of a previous run
 * in TIME_WAIT do not count, only a listener.
 */
static int check_port(const char *host, const char *port, int type, const char *what)
{
	struct addrinfo hints, *res = NULL, *ai;
	int one = 1, r, ret = 0;

	if (!port[0] || strcmp(port, "0") == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (r != 0) {
		log_err("tunnel: %s port %s on %s: %s", what, port, host[0] ? host : "*",
			gai_strerror(r));
		return -EINVAL;
	}
	for (ai = res; ai && ret == 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		if (type == SOCK_STREAM)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno == EADDRINUSE) {
			log_err("tunnel: cannot listen on %s %s port %s: %s (another bgw-muxd, or another server, has it)",
				host[0] ? host : "*", what, port, strerror(errno));
			ret = -EADDRINUSE;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return ret;
}

/*
 * The core: a struct of its own with the common part, its channels and
 * the local listeners; everything of the monitor's wiped. Returns its
 * exit status.
 */
static int run_core(struct muxd_monitor *m, int req, int push)
{
	struct muxd_core c;
	unsigned i;
	int ret;

	memset(&c, 0, sizeof(c));
	muxd_child_init(&c.d, &m->d, MUXD_CORE);
	/* No core without its monitor (a SIGKILL it cannot pass on). */
	if (sandbox_die_with_parent(c.d.parent) < 0)
		_exit(EXIT_ERROR);
	c.d.req_fd = req;
	c.push_fd = push;
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		c.lfd[i] = m->lfd[i];
	monitor_forget(m);
	ret = core_run(&c);
	core_cleanup(&c);
	muxd_child_end(&c.d);
	return ret;
}

/* The network front, likewise: its request channel only. */
static int run_front(struct muxd_monitor *m, int req)
{
	struct muxd common = m->d;	/* the configuration, the start-up pipe */
	unsigned i;

	/* The local listeners are the core's. */
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		if (m->lfd[i] >= 0)
			close(m->lfd[i]);
	monitor_forget(m);
	return front_main(&common, req);
}

int main(int argc, char **argv)
{
	struct muxd_monitor m;
	bool foreground = false, debug = false, test = false;
	int req[2] = { -1, -1 }, push[2] = { -1, -1 }, freq[2] = { -1, -1 };
	char err[600];
	unsigned i;
	int opt, r, ret = EXIT_ERROR;

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	/* '+': options end at a command word (status, kick). */
	while ((opt = getopt_long(argc, argv, "+c:dfthV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			debug = true;
			foreground = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bgw-muxd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc && (foreground || debug || test ||
			       (strcmp(argv[optind], "status") != 0 &&
				strcmp(argv[optind], "kick") != 0 &&
				strcmp(argv[optind], "pair") != 0))) {
		usage(stderr);
		return EXIT_USAGE;
	}

	monitor_init(&m);
	log_open("bgw-muxd", foreground || test || optind != argc ? LOG_TARGET_STDERR :
								    LOG_TARGET_SYSLOG);
	r = muxd_conf_load(conf_path, &m.d.conf, err, sizeof(err));
	if (r == -ENOENT) {
		/* A fresh install from source: say what to create. */
		log_err("%s: create it from the commented sample %s (bgw-muxd.conf(5))",
			err, BGW_DOCDIR "/examples/bgw-muxd.conf");
		return EXIT_USAGE;
	}
	if (r < 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (optind != argc)
		return ctl_main(&m.d.conf, argc - optind, argv + optind);
	log_set_level(debug ? LOG_DEBUG : m.d.conf.log_level);
	if (!foreground && !test)
		log_set_handler(startup_log, NULL);
	if (load_authdb(&m) < 0) {
		ret = EXIT_AUTHDB;
		goto out;
	}
	if (test) {
		/* What the daemon would refuse at start, short of binding. */
		if (test_paths(&m.d.conf) < 0 || check_controller(&m.d.conf) < 0 ||
		    check_bonds(&m.d.conf) < 0 || check_peer_ids(&m.d.conf) < 0)
			goto out;
		if (muxd_conf_has_tunnel(&m.d.conf)) {
			if (tunnel_check_files(&m.d.conf) < 0)
				goto out;
			r = authdb_secret_load(m.d.conf.scram_secret, m.secret, sizeof(m.secret));
			explicit_bzero(m.secret, sizeof(m.secret));
			if (r < 0) {
				log_err("tunnel: scram-secret %s: %s", m.d.conf.scram_secret,
					strerror(-r));
				goto out;
			}
		}
		printf("%s: configuration OK (controller %s, %u listener%s, authdb %s%s%s%s%s)\n",
		       conf_path, m.d.conf.controller, m.d.conf.nlisten,
		       m.d.conf.nlisten == 1 ? "" : "s", m.d.conf.authdb,
		       m.d.conf.dtls_port[0] ? ", DTLS port " : "", m.d.conf.dtls_port,
		       m.d.conf.tls_port[0] ? ", TLS port " : "", m.d.conf.tls_port);
		ret = 0;
		goto out;
	}
	/* Household bonds are off while the store is refused: said now, not only at first use. */
	check_bonds(&m.d.conf);
	/* Nothing of a running instance is touched before this. */
	if (instance_lock(&m) < 0 || check_controller(&m.d.conf) < 0 ||
	    check_peer_ids(&m.d.conf) < 0 ||
	    check_port(m.d.conf.tun_host, m.d.conf.dtls_port, SOCK_DGRAM, "DTLS") < 0 ||
	    check_port(m.d.conf.tun_host, m.d.conf.tls_port, SOCK_STREAM, "TLS") < 0)
		goto out;
	if (!foreground) {
		m.d.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (m.d.null_fd < 0) {
			log_err("/dev/null: %s", strerror(errno));
			goto out;
		}
		if (detach(&m, muxd_conf_has_tunnel(&m.d.conf) ? 3 : 2) < 0)
			goto out;
	}
	if (instance_write_pid(&m) < 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	/*
	 * From here to each role's loop a stop signal waits pending: the
	 * group is signalled as a whole, and the front may already have said
	 * it listens while the monitor has not reached its loop yet.
	 */
	if (muxd_block_stop_signals() < 0)
		goto out;
	/* The monitor opens what needs privileges before the others exist. */
	for (i = 0; i < m.d.conf.nlisten; i++) {
		m.lfd[i] = listen_unix(m.d.conf.listen[i], m.d.conf.socket_mode);
		if (m.lfd[i] < 0)
			goto out;
	}
	if (muxd_conf_has_tunnel(&m.d.conf) && tunnel_prepare(&m) < 0)
		goto out;
	if (ctl_listen(&m) < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, push) < 0 ||
	    (muxd_conf_has_tunnel(&m.d.conf) &&
	     socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, freq) < 0)) {
		log_err("socketpair: %s", strerror(errno));
		goto out;
	}
	/*
	 * The core and the front are forked before the monitor reads the
	 * server's key; each wipes the rest of what the monitor keeps.
	 */
	m.core_pid = fork();
	if (m.core_pid < 0) {
		log_err("fork: %s", strerror(errno));
		goto out;
	}
	if (m.core_pid == 0) {
		close(req[0]);
		close(push[0]);
		if (freq[0] >= 0) {
			close(freq[0]);
			close(freq[1]);
		}
		ret = run_core(&m, req[1], push[1]);
		muxd_child_exit(&m.d, ret);
	}
	close(req[1]);
	close(push[1]);
	m.push_fd = push[0];
	if (freq[0] >= 0) {
		m.front_pid = fork();
		if (m.front_pid < 0) {
			log_err("fork: %s", strerror(errno));
			kill(m.core_pid, SIGTERM);
			goto out;
		}
		if (m.front_pid == 0) {
			close(freq[0]);
			close(req[0]);
			ret = run_front(&m, freq[1]);
			muxd_child_exit(&m.d, ret);
		}
		close(freq[1]);
	}
	/* The core has the listeners; the monitor keeps only their names. */
	for (i = 0; i < m.d.conf.nlisten; i++) {
		close(m.lfd[i]);
		m.lfd[i] = -1;
	}
	log_info("core is process %d", (int)m.core_pid);
	if (m.front_pid > 0)
		log_info("network front is process %d", (int)m.front_pid);
	ret = monitor_run(&m, req[0], freq[0]);
	for (i = 0; i < m.d.conf.nlisten; i++)
		unlink(m.d.conf.listen[i]);
out:
	ctl_stop(&m);
	monitor_cleanup(&m);
	if (m.d.ready_fd >= 0)
		close(m.d.ready_fd);
	if (m.d.null_fd >= 0)
		close(m.d.null_fd);
	loop_free(m.d.l);
	log_close();
	return ret;
}
