/* SPDX-License-Identifier: MIT */
/*
 * What every role of bgw-muxd uses (muxd/muxd.h): the request to the
 * monitor, the source keys of the rate limiter and the audit log, the
 * start-up handshake with the waiting parent.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "muxd.h"

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

uint64_t muxd_now_ms(void)
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

int muxd_rpc(struct muxd *d, const struct rpc_req *q, struct rpc_reply *rep, int *fd)
{
	struct rpc_reply dummy;
	int r;

	r = rpc_call(d->req_fd, q, rep ? rep : &dummy, fd);
	if (r < 0 && r != -EINVAL) {
		log_err("monitor: %s: stopping", strerror(-r));
		loop_quit(d->l, EXIT_ERROR);
	}
	return r;
}

int muxd_call(struct muxd *d, uint32_t type, uint8_t arg, const char *name,
	      const char *src, const char *rd, const char *detail,
	      struct rpc_reply *rep, int *fd)
{
	struct rpc_req q;

	memset(&q, 0, sizeof(q));
	q.type = type;
	q.arg = arg;
	rpc_str(q.name, 65, name);
	rpc_str(q.src, 65, src);
	rpc_str(q.rd, 33, rd);
	rpc_str(q.detail, sizeof(q.detail), detail);
	return muxd_rpc(d, &q, rep, fd);
}

void muxd_audit(struct muxd *d, enum audit_event ev, const char *user,
		const char *src, const char *detail)
{
	muxd_call(d, RPC_AUDIT, (uint8_t)ev, user, src, NULL, detail, NULL, NULL);
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
	/*
	 * The key registers the home id: a copy takes the home's name (the
	 * CA key for ever, a certified registration key until it expires).
	 */
	if (c->nrelay && access(c->relay_key, R_OK) < 0) {
		log_err("relay: relay-key %s: %s (%s)", c->relay_key, strerror(errno),
			c->relay_cert[0] ? "the registration key bgw-authdb ca relay-key "
			"wrote with relay-cert" : "the CA's key; give relay-key if it is "
			"not beside ca");
		ret = -errno;
	} else if (c->relay_cert[0] && access(c->relay_cert, R_OK) < 0) {
		ret = -errno;
		log_err("relay: relay-cert %s: %s (write it with bgw-authdb ca relay-key "
			"where the CA key is, and copy it here)", c->relay_cert,
			strerror(-ret));
	} else if (c->nrelay && stat(c->relay_key, &st) == 0 && (st.st_mode & 077)) {
		log_err("relay: relay-key %s is readable or writable by group or others (mode %04o): chmod 600",
			c->relay_key, (unsigned)(st.st_mode & 07777));
		ret = -EPERM;
	}
	return ret;
}

int muxd_block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		log_err("blocking SIGTERM, SIGINT and SIGHUP: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void muxd_unblock_signal(int signo)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, signo);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
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

void muxd_child_init(struct muxd *child, const struct muxd *parent, enum muxd_role role)
{
	memset(child, 0, sizeof(*child));
	child->conf = parent->conf;
	child->role = role;
	child->self = getpid();
	child->parent = parent->self;
	child->req_fd = -1;
	child->ready_fd = parent->ready_fd;
	child->null_fd = parent->null_fd;
}

void muxd_child_end(struct muxd *d)
{
	if (d->req_fd >= 0)
		close(d->req_fd);
	d->req_fd = -1;
	if (d->ready_fd >= 0)
		close(d->ready_fd);
	d->ready_fd = -1;
	if (d->null_fd >= 0)
		close(d->null_fd);
	d->null_fd = -1;
	loop_free(d->l);
	d->l = NULL;
	log_close();
}

void muxd_child_exit(const struct muxd *d, int status)
{
	if (d->conf.sandbox)
		_exit(status);
	exit(status);
}
