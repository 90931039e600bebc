/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd: owns one physical controller and gives every session a virtual
 * controller of its own (mux/mux.h). This file is main: the
 * configuration, the processes (muxd/muxd.h, doc/security.md "Process
 * model"), and what every role uses.
 *
 * The monitor (muxd_monitor.c) keeps everything secret and privileged;
 * the core (muxd_core.c) runs the controller, the mux core and every
 * session's virtual controller; when listen-dtls or listen-tls is
 * configured, the network front (muxd_net.c) owns the listeners and
 * forks one process per tunnel peer, which runs that peer's DTLS or TLS
 * and login and then relays its tunnel messages to the core.
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

#include "bonds.h"
#include "log.h"
#include "muxd.h"

static const char *conf_path = MUXD_DEFAULT_CONF;

static const char usage_text[] =
"usage: bgw-muxd [-dfhtV] [-c config_file]\n"
"       bgw-muxd [-c config_file] status [--json]\n"
"       bgw-muxd [-c config_file] kick session | user\n"
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
"  kick            end a session, by its number or all of a user's (root)\n";

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

int load_authdb(struct muxd *d)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	int r;

	r = authdb_load(d->conf.authdb, 0, &db, err, sizeof(err));
	if (r < 0) {
		char detail[AUDIT_VALUE_MAX];

		if (r == -ENOENT)	/* a fresh install: say what makes one */
			log_err("authdb %s refused: %s: bgw-authdb --db %s user add NAME creates it (bgw-authdb(8))",
				d->conf.authdb, err, d->conf.authdb);
		else
			log_err("authdb %s refused: %s", d->conf.authdb, err);
		/* The audit keeps a bounded excerpt; the log has all of it. */
		snprintf(detail, sizeof(detail), "refused: %.200s", err);
		muxd_audit(d, AUDIT_AUTHDB_RELOAD, NULL, NULL, detail);
		return r;
	}
	/* Swap only a fully parsed table (the old one stays on error). */
	authdb_free(d->db);
	d->db = db;
	return 0;
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
 * The rate limiter's and the audit log's source: the address without the
 * port (a new port per attempt must not make a new key) and, for IPv6,
 * its /64 (one host owns a whole /64). A v4-mapped address is IPv4.
 */
static void src_key_bin(int family, const void *a, char *out, size_t cap)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr v6;
	const uint8_t *b = a;

	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
		family = AF_INET;
		a = b + 12;
	}
	if (family == AF_INET) {
		if (!inet_ntop(AF_INET, a, buf, sizeof(buf)))
			snprintf(buf, sizeof(buf), "?");
		snprintf(out, cap, "%s", buf);
		return;
	}
	memcpy(&v6, a, sizeof(v6));
	memset(v6.s6_addr + 8, 0, 8);
	if (!inet_ntop(AF_INET6, &v6, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "?");
	snprintf(out, cap, "%s/64", buf);
}

void src_key_sa(const void *addr, size_t alen, char *out, size_t cap)
{
	const struct sockaddr *sa = addr;

	if (alen >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
		src_key_bin(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, out, cap);
	else if (alen >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)
		src_key_bin(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, out, cap);
	else
		snprintf(out, cap, "?");
}

/* From tun_session_peer()'s "[addr]:port". */
void src_key_peer(const char *peer, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	uint8_t a[16];
	const char *rb;
	size_t n;

	rb = peer[0] == '[' ? strchr(peer, ']') : NULL;
	n = rb ? (size_t)(rb - peer - 1) : 0;
	if (!rb || n == 0 || n >= sizeof(host)) {
		snprintf(out, cap, "?");
		return;
	}
	memcpy(host, peer + 1, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a) == 1)
		src_key_bin(AF_INET, a, out, cap);
	else if (inet_pton(AF_INET6, host, a) == 1)
		src_key_bin(AF_INET6, a, out, cap);
	else
		snprintf(out, cap, "?");
}

uint64_t now_ms(void)
{
	return loop_now_us() / 1000;
}

/* A copy of s for the RPC: control bytes shown as '?', at most cap - 1 bytes. */
void rpc_str(char *dst, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < cap; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

int muxd_call(struct muxd *d, uint32_t type, uint8_t arg, const char *name,
	      const char *src, const char *rd, const char *detail,
	      struct rpc_reply *rep, int *fd)
{
	struct rpc_req q;
	struct rpc_reply dummy;
	int r;

	memset(&q, 0, sizeof(q));
	q.type = type;
	q.arg = arg;
	rpc_str(q.name, 65, name);
	rpc_str(q.src, 65, src);
	rpc_str(q.rd, 33, rd);
	rpc_str(q.detail, sizeof(q.detail), detail);
	r = rpc_call(d->req_fd, &q, rep ? rep : &dummy, fd);
	if (r < 0 && r != -EINVAL) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(d->l, EXIT_ERROR);
	}
	return r;
}

/*
 * The monitor writes one audit record, and anchors the chain outside the
 * file: every record's count and head MAC go to syslog/the journal too,
 * where whoever later truncates or rewrites the log file (and its anchor
 * file) cannot reach them; `bgw-authdb audit verify --head COUNT:HEAD`
 * checks the file against any such line.
 */
void muxd_audit_fields(struct muxd *d, enum audit_event ev,
		       const struct audit_fields *f)
{
	char head[AUDIT_HEX + 1];
	unsigned long seq;
	int r;

	if (!d->audit)
		return;
	r = audit_append(d->audit, ev, f);
	if (r < 0) {
		log_err("audit log %s: %s: %s", d->conf.audit_log,
			audit_event_name(ev), strerror(-r));
		return;
	}
	audit_head(d->audit, &seq, head);
	log_info("audit record %lu %s%s%s%s%s, head %lu:%s", seq, audit_event_name(ev),
		 f->user ? " user=" : "", f->user ? f->user : "",
		 f->src ? " src=" : "", f->src ? f->src : "", seq, head);
}

void muxd_audit(struct muxd *d, enum audit_event ev, const char *user,
		const char *src, const char *detail)
{
	struct audit_fields f = { .user = user, .src = src, .detail = detail, .uid = -1 };

	if (d->role != MUXD_MONITOR) {
		muxd_call(d, RPC_AUDIT, (uint8_t)ev, user, src, NULL, detail, NULL, NULL);
		return;
	}
	muxd_audit_fields(d, ev, &f);
}

/*
 * The tunnel's files: readable, and the private key and the SCRAM secret
 * not readable by group or others (a copy of the key impersonates the
 * gateway; the secret unmasks which user names exist).
 */
int tunnel_check_files(const struct muxd_conf *c)
{
	const char *files[] = { c->ca_file, c->cert_file, c->key_file };
	struct stat st;
	unsigned i;
	int ret = 0;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (access(files[i], R_OK) < 0) {
			log_err("tunnel: %s: %s", files[i], strerror(errno));
			ret = -errno;
		}
	}
	if (stat(c->key_file, &st) == 0 && (st.st_mode & 077)) {
		log_err("tunnel: key %s is readable or writable by group or others (mode %04o): chmod 600",
			c->key_file, (unsigned)(st.st_mode & 07777));
		ret = -EPERM;
	}
	if (stat(c->scram_secret, &st) == 0 && (st.st_mode & 077)) {
		log_err("tunnel: scram-secret %s is accessible by group or others (mode %04o): chmod 600",
			c->scram_secret, (unsigned)(st.st_mode & 07777));
		ret = -EPERM;
	}
	/* The CA key registers the home id: a copy takes the home's name. */
	if (c->nrelay && access(c->relay_key, R_OK) < 0) {
		log_err("relay: relay-key %s: %s (the CA's key; give relay-key if it is not "
			"beside ca)", c->relay_key, strerror(errno));
		ret = -errno;
	} else if (c->nrelay && stat(c->relay_key, &st) == 0 && (st.st_mode & 077)) {
		log_err("relay: relay-key %s is readable or writable by group or others (mode %04o): chmod 600",
			c->relay_key, (unsigned)(st.st_mode & 07777));
		ret = -EPERM;
	}
	return ret;
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
static int instance_lock(struct muxd *d)
{
	char path[MUXD_RUNDIR_MAX + sizeof(MUXD_PID_FILE) + 1], buf[24];
	long pid = 0;
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "%s/%s", d->conf.runtime_dir, MUXD_PID_FILE);
	/* Only the last component, as systemd's RuntimeDirectory= would. */
	if (mkdir(d->conf.runtime_dir, 0755) < 0 && errno != EEXIST) {
		e = -errno;
		log_err("runtime-dir %s: %s", d->conf.runtime_dir, strerror(errno));
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
	d->lock_fd = fd;
	return 0;
}

static int instance_write_pid(struct muxd *d)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, buf, (size_t)n, 0) != n) {
		log_err("pid file in %s: %s", d->conf.runtime_dir, strerror(errno));
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

static int detach(struct muxd *d, unsigned nready)
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
	if (setsid() < 0)
		log_warn("setsid: %s", strerror(errno));
	d->ready_fd = p[1];
	return 0;
}

void muxd_ready(struct muxd *d)
{
	if (d->ready_fd < 0)
		return;
	if (write(d->ready_fd, "R", 1) != 1)
		log_warn("telling the parent we are up: %s", strerror(errno));
	close(d->ready_fd);
	d->ready_fd = -1;
	log_set_handler(NULL, NULL);
	if (d->null_fd >= 0) {
		/* dup3, not dup2: the sandbox allows it (and it is all we need). */
		dup3(d->null_fd, STDIN_FILENO, 0);
		dup3(d->null_fd, STDOUT_FILENO, 0);
		dup3(d->null_fd, STDERR_FILENO, 0);
		close(d->null_fd);
		d->null_fd = -1;
	}
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

/* In a child just forked: what only the monitor keeps open. */
static void child_close_monitor_fds(struct muxd *d)
{
	if (d->ctl_fd >= 0)
		close(d->ctl_fd);
	d->ctl_fd = -1;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}

int main(int argc, char **argv)
{
	struct muxd d;
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
				strcmp(argv[optind], "kick") != 0))) {
		usage(stderr);
		return EXIT_USAGE;
	}

	memset(&d, 0, sizeof(d));
	d.ifd = -1;
	d.req_fd = -1;
	d.push_fd = -1;
	d.core_pid = -1;
	d.front_pid = -1;
	d.lock_fd = -1;
	d.ready_fd = -1;
	d.null_fd = -1;
	d.ctl_fd = -1;
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		d.lfd[i] = -1;
	log_open("bgw-muxd", foreground || test || optind != argc ? LOG_TARGET_STDERR :
								    LOG_TARGET_SYSLOG);
	r = muxd_conf_load(conf_path, &d.conf, err, sizeof(err));
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
		return ctl_main(&d.conf, argc - optind, argv + optind);
	log_set_level(debug ? LOG_DEBUG : d.conf.log_level);
	if (!foreground && !test)
		log_set_handler(startup_log, NULL);
	if (load_authdb(&d) < 0) {
		ret = EXIT_AUTHDB;
		goto out;
	}
	if (test) {
		/* What the daemon would refuse at start, short of binding. */
		if (test_paths(&d.conf) < 0 || check_controller(&d.conf) < 0 ||
		    check_bonds(&d.conf) < 0)
			goto out;
		if (muxd_conf_has_tunnel(&d.conf)) {
			if (tunnel_check_files(&d.conf) < 0)
				goto out;
			r = authdb_secret_load(d.conf.scram_secret, d.secret, sizeof(d.secret));
			explicit_bzero(d.secret, sizeof(d.secret));
			if (r < 0) {
				log_err("tunnel: scram-secret %s: %s", d.conf.scram_secret,
					strerror(-r));
				goto out;
			}
		}
		printf("%s: configuration OK (controller %s, %u listener%s, authdb %s%s%s%s%s)\n",
		       conf_path, d.conf.controller, d.conf.nlisten,
		       d.conf.nlisten == 1 ? "" : "s", d.conf.authdb,
		       d.conf.dtls_port[0] ? ", DTLS port " : "", d.conf.dtls_port,
		       d.conf.tls_port[0] ? ", TLS port " : "", d.conf.tls_port);
		ret = 0;
		goto out;
	}
	/* Household bonds are off while the store is refused: said now, not only at first use. */
	check_bonds(&d.conf);
	/* Nothing of a running instance is touched before this. */
	if (instance_lock(&d) < 0 || check_controller(&d.conf) < 0 ||
	    check_port(d.conf.tun_host, d.conf.dtls_port, SOCK_DGRAM, "DTLS") < 0 ||
	    check_port(d.conf.tun_host, d.conf.tls_port, SOCK_STREAM, "TLS") < 0)
		goto out;
	if (!foreground) {
		d.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (d.null_fd < 0) {
			log_err("/dev/null: %s", strerror(errno));
			goto out;
		}
		if (detach(&d, muxd_conf_has_tunnel(&d.conf) ? 3 : 2) < 0)
			goto out;
	}
	if (instance_write_pid(&d) < 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	/* The monitor opens what needs privileges before the others exist. */
	for (i = 0; i < d.conf.nlisten; i++) {
		d.lfd[i] = listen_unix(d.conf.listen[i], d.conf.socket_mode);
		if (d.lfd[i] < 0)
			goto out;
	}
	if (muxd_conf_has_tunnel(&d.conf) && tunnel_prepare(&d) < 0)
		goto out;
	if (ctl_listen(&d) < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, push) < 0 ||
	    (muxd_conf_has_tunnel(&d.conf) &&
	     socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, freq) < 0)) {
		log_err("socketpair: %s", strerror(errno));
		goto out;
	}
	/*
	 * The core and the front are forked before the monitor reads the
	 * server's key; each wipes the rest of what the monitor keeps.
	 */
	d.core_pid = fork();
	if (d.core_pid < 0) {
		log_err("fork: %s", strerror(errno));
		goto out;
	}
	if (d.core_pid == 0) {
		d.role = MUXD_CORE;
		child_close_monitor_fds(&d);
		close(req[0]);
		close(push[0]);
		if (freq[0] >= 0) {
			close(freq[0]);
			close(freq[1]);
		}
		d.req_fd = req[1];
		d.push_fd = push[1];
		ret = core_run(&d);
		goto out;
	}
	close(req[1]);
	close(push[1]);
	d.push_fd = push[0];
	if (freq[0] >= 0) {
		d.front_pid = fork();
		if (d.front_pid < 0) {
			log_err("fork: %s", strerror(errno));
			kill(d.core_pid, SIGTERM);
			goto out;
		}
		if (d.front_pid == 0) {
			d.role = MUXD_FRONT;
			child_close_monitor_fds(&d);
			close(freq[0]);
			close(req[0]);
			close(d.push_fd);
			d.push_fd = -1;
			d.req_fd = freq[1];
			ret = front_run(&d);
			goto out;
		}
		close(freq[1]);
	}
	/* The core has the listeners; the monitor keeps only their names. */
	for (i = 0; i < d.conf.nlisten; i++) {
		close(d.lfd[i]);
		d.lfd[i] = -1;
	}
	log_info("core is process %d", (int)d.core_pid);
	if (d.front_pid > 0)
		log_info("network front is process %d", (int)d.front_pid);
	ret = monitor_run(&d, req[0], freq[0]);
	for (i = 0; i < d.conf.nlisten; i++)
		unlink(d.conf.listen[i]);
out:
	core_cleanup(&d);
	muxd_forget_secrets(&d);	/* the monitor's, at its end */
	for (i = 0; i < MUXD_LISTEN_MAX; i++) {
		if (d.lfd[i] < 0)
			continue;
		if (d.l)
			loop_del_fd(d.l, d.lfd[i]);
		close(d.lfd[i]);
		if (d.role == MUXD_MONITOR && d.core_pid < 0)
			unlink(d.conf.listen[i]);
	}
	if (d.role == MUXD_MONITOR)
		ctl_stop(&d);
	loop_timer_free(d.ireload);
	loop_timer_free(d.kill_timer);
	loop_timer_free(d.stop_timer);
	if (d.ifd >= 0) {
		loop_del_fd(d.l, d.ifd);
		close(d.ifd);
	}
	if (d.req_fd >= 0)
		close(d.req_fd);
	if (d.push_fd >= 0)
		close(d.push_fd);
	if (d.ready_fd >= 0)
		close(d.ready_fd);
	if (d.null_fd >= 0)
		close(d.null_fd);
	/* The lock goes with the last descriptor of it: the monitor's. */
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	loop_free(d.l);
	authdb_free(d.db);
	log_close();
	/*
	 * A sandboxed process leaves without atexit handlers: LeakSanitizer's
	 * exit check traces a clone of the process, which the filter (rightly)
	 * kills, and the check would then wait forever. Their leaks are
	 * checked with `sandbox no` (tests/t-muxd-privsep.sh).
	 */
	if (d.role != MUXD_MONITOR && d.conf.sandbox)
		_exit(ret);
	return ret;
}
