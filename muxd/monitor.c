/* SPDX-License-Identifier: MIT */
/*
 * The monitor of bgw-muxd (muxd/monitor.h, doc/security.md): privileged,
 * it keeps the authdb with its verifiers, the SCRAM secret, the server's
 * private key, the rate limiters and the audit log, opens the controller,
 * and answers the requests of the unprivileged processes, each over its
 * own channel and each role only its own requests (the table mon_reqs).
 * It never reads a byte from the network or from a CD.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "bonds.h"
#include "certlogin.h"
#include "cursor.h"
#include "homeid.h"
#include "keysign.h"
#include "log.h"
#include "monitor.h"
#include "net.h"
#include "peerauth.h"
#include "ratelimit.h"
#include "sandbox.h"
#include "scram.h"
#include "transport.h"
#include "tunnel.h"

/* A peer's caps per channel (the request table, mon_reqs). */
#define PEER_PROOFS_MAX		2
#define PEER_FAILURES_MAX	8
/* Log lines a peer may have written for it, per second. */
#define PEER_LOG_PER_S		20
/* Peer channels beyond max-sessions + max-pending: those closing. */
#define PEER_CHAN_SLACK		MUXD_PEER_SLACK

/*
 * The per-channel counters of the request table (mon_reqs): a SCRAM
 * proof and a certificate login count as one kind, a proof.
 */
enum mon_counter {
	MON_C_NONE,
	MON_C_PROOF,
	MON_C_CHALLENGE,
	MON_C_FAILURE,
	MON_COUNTERS,
};

/* One process's request channel. */
struct mon_chan {
	struct muxd_monitor *m;
	struct mon_chan *next;
	int fd;
	enum muxd_role role;
	struct rpc_reader rrd;
	/* A peer: its source and address as the front named them at SPAWN. */
	char src[SRC_KEY_MAX];
	char peer[64];
	/* What this peer proved: a SCRAM proof or a certificate checked here. */
	char verified[AUTHDB_NAME_MAX + 1];
	bool cert;
	uint8_t fpr[AUTHDB_FPR_LEN];
	bool linked;
	bool logged_in;		/* linked after a login verified here */
	/* The order of its requests, its one signature, its challenge. */
	struct peerauth pa;
	unsigned count[MON_COUNTERS];	/* per counter of the request table */
	unsigned logs;
	uint64_t log_second;
	/* A peer's slot in m->peers (its process), -1 once reaped. */
	int slot;
	/* The front: a descriptor passed with a request (SPAWN's socket). */
	int pass_fd;
};

/* A peer process, the monitor's child. pid 0: the slot is free. */
struct mon_peer {
	struct muxd_monitor *m;
	pid_t pid;
	/*
	 * Its pidfd, in the loop: readable when it ended. Without
	 * pidfd_open (m->no_pidfd): the monitor's end of a socket pair,
	 * not in the loop, closed once SIGCHLD had the process reaped, so
	 * that the front, holding the other end, reads EOF.
	 */
	int pidfd;
	struct mon_chan *ch;	/* its request channel, while open */
};

static void on_request(struct loop *l, int fd, uint32_t events, void *user);

/* The known-source key: SHA-256 of "user\nsource" (both fit no key cap). */
static int known_key(const char *name, const char *src, uint8_t key[32])
{
	char buf[AUTHDB_NAME_MAX + 1 + SRC_KEY_MAX + 1];
	int n = snprintf(buf, sizeof(buf), "%s\n%s", name, src);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, (size_t)n, key) < 0 ? -EIO : 0;
}

/*
 * Both limiters must allow the attempt (authdb/ratelimit.h), except that
 * the per-user one does not apply where the user proved a password before
 * (mon_scram_verify): an
 * attacker spreading guesses over many addresses slows new places down,
 * never the real user's usual ones. Monitor.
 */
static int mon_login_allowed(struct muxd_monitor *m, const char *name, const char *src)
{
	uint64_t wait_src = 0, wait_user = 0, now = muxd_now_ms();
	uint8_t key[32];
	int a, b = 0;

	a = ratelimit_check(m->rl_src, src, strlen(src), now, &wait_src);
	if (name[0] && !(known_key(name, src, key) == 0 &&
			 ratelimit_known(m->known_src, key, sizeof(key))))
		b = ratelimit_check(m->rl_user, name, strlen(name), now, &wait_user);
	if (a == 0 && b == 0)
		return 0;
	log_notice("tunnel: login as '%s' from %s refused: rate limited (%llu ms)",
		   name, src, (unsigned long long)(wait_src > wait_user ? wait_src : wait_user));
	mon_audit(m, AUDIT_LOGIN_LIMITED, name, src, NULL);
	return -EAGAIN;
}

static void mon_login_failed(struct muxd_monitor *m, const char *name, const char *src, int reason)
{
	uint64_t now = muxd_now_ms();

	ratelimit_failure(m->rl_src, src, strlen(src), now);
	if (name[0])
		ratelimit_failure(m->rl_user, name, strlen(name), now);
	/* The name as claimed: the log says so, it proves nothing. */
	log_notice("tunnel: login as '%s' from %s failed: %s", name, src,
		   tun_reason_str(reason));
	mon_audit(m, AUDIT_LOGIN_FAIL, name, src, tun_reason_str(reason));
}

/*
 * The SCRAM proof check (auth/scram.h scram_proof_check), in the
 * monitor: no peer ever sees StoredKey or ServerKey. Rate limits and the
 * failure count are applied here, whatever the peer reports, and the
 * source is the one the front named for this peer's channel.
 */
static int mon_scram_verify(struct muxd_monitor *m, struct mon_chan *ch,
			    const struct rpc_req *q, uint8_t ssig[SCRAM_KEY_LEN])
{
	struct scram_verifier v;
	bool real = false;
	int r;

	if (!m->db || !m->rl_src)
		return -EIO;
	r = mon_login_allowed(m, q->name, ch->src);
	if (r < 0)
		return r;
	r = authdb_scram_lookup(m->db, q->name, m->secret, sizeof(m->secret), &v, &real);
	if (r < 0)
		return r;
	r = scram_proof_check(&v, real, (const char *)q->blob + SCRAM_KEY_LEN,
			      q->blob_len - SCRAM_KEY_LEN, q->blob, ssig);
	scram_verifier_wipe(&v);
	if (r == -EACCES) {
		mon_login_failed(m, q->name, ch->src, TUN_R_AUTH_FAILED);
		return r;
	}
	if (r < 0)
		return r;
	ratelimit_success(m->rl_src, ch->src, strlen(ch->src));
	ratelimit_success(m->rl_user, q->name, strlen(q->name));
	/*
	 * Only a proof the monitor checked makes a source known: a peer's
	 * word (a certificate login it reports) must not exempt sources from
	 * the per-user limit that bounds its use of this oracle.
	 */
	{
		uint8_t key[32];

		if (known_key(q->name, ch->src, key) == 0)
			ratelimit_remember(m->known_src, key, sizeof(key), muxd_now_ms());
	}
	snprintf(ch->verified, sizeof(ch->verified), "%s", q->name);
	ch->cert = false;
	return 0;
}

/* The key file, read by the monitor after the fork; it must match the certificate. */
static int mon_key_load(struct muxd_monitor *m)
{
	char err[300];
	int r;

	r = keysign_load(&m->key, m->d.conf.key_file, m->d.conf.cert_file, muxd_now_ms(),
			 err, sizeof(err));
	if (r < 0) {
		log_err("tunnel: %s", err);
		return r;
	}
	/* Certificate logins are checked here, against the CA, never by a peer. */
	r = tun_certca_new(&m->certca, m->d.conf.ca_file);
	if (r < 0) {
		log_err("tunnel: ca-file %s: no CA certificate could be loaded from it",
			m->d.conf.ca_file);
		return r;
	}
	return m->d.conf.nrelay ? mon_relay_key_load(m) : 0;
}

/*
 * A signature for a peer's own handshake (muxd/peerauth.h: its shape and
 * client_random; muxd/keysign.h: algorithm and rate).
 */
static int mon_sign(struct muxd_monitor *m, struct mon_chan *ch, const struct rpc_req *q,
		    uint8_t *sig, size_t *sig_len)
{
	int algo = get_le16(q->blob), r;

	if (!m->key)
		return -ENOKEY;
	if (peerauth_sign_check(&ch->pa, q->arg != 0, q->blob + 2, q->blob_len - 2) < 0) {
		log_warn("tunnel: peer %s asked for a signature that is not its own "
			 "handshake's (%s, %zu bytes): refused", ch->peer,
			 q->arg ? "digest" : "data", q->blob_len - 2);
		return -EINVAL;
	}
	r = keysign_sign(m->key, algo, q->arg != 0, q->blob + 2, q->blob_len - 2,
			 sig, RPC_RBLOB_MAX, sig_len, muxd_now_ms());
	if (r == -EAGAIN)
		log_notice("tunnel: signature refused: more than %u a second", KEYSIGN_PER_S);
	else if (r < 0)
		log_warn("tunnel: peer's signature request (algorithm %d, %s) refused: %s",
			 algo, q->arg ? "digest" : "data", strerror(-r));
	return r;
}

/*
 * The authdb's text without its password lines: everything the core
 * needs to decide (users, flags, groups, ACLs, certificate fingerprints,
 * revocations), nothing that would let it test passwords offline. The
 * lines are the authdb's own format (bgw-authdb(5)), so the core parses
 * them with the same parser, into a table of its own.
 */
static int policy_text(const struct authdb *db, char **out, size_t *outlen)
{
	char *buf, *p, *end, *w;
	size_t len;
	int r;

	r = authdb_serialize(db, &buf, &len);
	if (r < 0)
		return r;
	w = buf;
	for (p = buf, end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (!(n >= 9 && memcmp(p, "password ", 9) == 0)) {
			memmove(w, p, n);
			w += n;
		}
		p += n;
	}
	explicit_bzero(w, (size_t)(end - w));
	*out = buf;
	*outlen = (size_t)(w - buf);
	return 0;
}

/* Send the current table to the core. */
static int policy_push(struct muxd_monitor *m)
{
	char *text;
	size_t len;
	int r;

	r = policy_text(m->db, &text, &len);
	if (r < 0) {
		log_err("policy for the core: %s", strerror(-r));
		return r;
	}
	r = rpc_send(m->push_fd, RPC_POLICY, text, len, -1);
	if (r < 0)
		log_err("policy to the core: %s", strerror(-r));
	explicit_bzero(text, len);
	free(text);
	return r;
}

static void reload_authdb(struct muxd_monitor *m, const char *why)
{
	log_notice("%s: reloading %s", why, m->d.conf.authdb);
	if (load_authdb(m) == 0) {
		mon_audit(m, AUDIT_AUTHDB_RELOAD, NULL, NULL, "ok");
		policy_push(m);
	}
}

static void on_hup(struct loop *l, int signo, void *user)
{
	reload_authdb(user, "SIGHUP");
}

static void ireload_fn(struct loop_timer *t, void *user)
{
	reload_authdb(user, "authdb changed");
}

/*
 * A change of the authdb's name in its directory: bgw-authdb renames a
 * new file into place (IN_MOVED_TO), an editor may write it in place
 * (IN_CLOSE_WRITE). Events come in bursts: reload once, 200 ms after the
 * last, so a file still being written is not read half-way.
 */
static void on_inotify(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd_monitor *m = user;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char path[PATH_MAX];
	const char *base;
	ssize_t n;
	size_t off;
	int k;

	snprintf(path, sizeof(path), "%s", m->d.conf.authdb);
	base = basename(path);
	for (k = 0; k < 16; k++) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			/* The kernel's record: the name fits in ev->len. */
			if (ev->len && off + sizeof(*ev) + ev->len <= (size_t)n &&
			    strnlen(ev->name, ev->len) < ev->len &&
			    !strcmp(ev->name, base))
				loop_timer_arm(m->ireload, 200000);
			off += sizeof(*ev) + ev->len;
		}
	}
}

static int watch_authdb(struct muxd_monitor *m)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", m->d.conf.authdb);
	m->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ifd < 0 ||
	    inotify_add_watch(m->ifd, dirname(dir), IN_MOVED_TO | IN_CLOSE_WRITE) < 0 ||
	    loop_add_fd(m->d.l, m->ifd, EPOLLIN, on_inotify, m) < 0) {
		/* SIGHUP still works: not a reason to refuse to run. */
		log_warn("cannot watch %s for changes (%s); reload it with SIGHUP",
			 m->d.conf.authdb, strerror(errno));
		if (m->ifd >= 0)
			close(m->ifd);
		m->ifd = -1;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests */

static const char *role_name(enum muxd_role r)
{
	switch (r) {
	case MUXD_CORE:
		return "core";
	case MUXD_FRONT:
		return "network front";
	case MUXD_PEER:
		return "peer";
	default:
		return "monitor";
	}
}

static struct mon_chan *chan_new(struct muxd_monitor *m, int fd, enum muxd_role role)
{
	struct mon_chan *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->m = m;
	ch->fd = fd;
	ch->role = role;
	ch->slot = -1;
	ch->pass_fd = -1;
	rpc_reader_init(&ch->rrd);
	if (loop_add_fd(m->d.l, fd, EPOLLIN, on_request, ch) < 0) {
		free(ch);
		return NULL;
	}
	ch->next = m->chans;
	m->chans = ch;
	if (role == MUXD_PEER)
		m->npeer_chans++;
	return ch;
}

static void chan_free(struct mon_chan *ch)
{
	struct muxd_monitor *m = ch->m;
	struct mon_chan **pp;

	for (pp = &m->chans; *pp; pp = &(*pp)->next) {
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	}
	if (ch->role == MUXD_PEER)
		m->npeer_chans--;
	if (ch->slot >= 0)
		m->peers[ch->slot].ch = NULL;
	if (ch->pass_fd >= 0)
		close(ch->pass_fd);
	loop_del_fd(m->d.l, ch->fd);
	close(ch->fd);
	explicit_bzero(ch, sizeof(*ch));
	free(ch);
}

/*
 * A certificate login, checked here from the bytes the client sent: the
 * certificate against the CA, its key's signature over the challenge
 * this monitor gave this peer and the channel's exporter, then the
 * authdb (fingerprint, revocation, disabled). A peer that has no user's
 * key gets nothing, whatever certificate it relays.
 */
static int mon_cert_login(struct muxd_monitor *m, struct mon_chan *ch, const struct rpc_req *q,
			  struct rpc_reply *rep)
{
	char u[AUTHDB_NAME_MAX + 1];
	uint8_t fpr[AUTHDB_FPR_LEN];
	int r;

	r = peerauth_cert_login(&ch->pa, m->certca, m->db, q->blob, q->blob_len, u, fpr);
	if (r == -EPROTO || r == -EIO)
		return r;
	if (r < 0) {
		/* Counted and audited here, under the name the certificate claims. */
		if (m->rl_src)
			mon_login_failed(m, u, ch->src,
					 r == -ENOENT ? TUN_R_CERT_UNKNOWN :
					 r == -EPERM ? TUN_R_AUTH_FAILED :
					 tun_certlogin_reason(r));
		return r;
	}
	snprintf(ch->verified, sizeof(ch->verified), "%s", u);
	ch->cert = true;
	memcpy(ch->fpr, fpr, AUTHDB_FPR_LEN);
	rep->blob_len = strlen(u);
	memcpy(rep->blob, u, rep->blob_len);
	return 0;
}

/*
 * The peer's link to the core: a socketpair, one end to the core with
 * what this channel proved (the label), the other to the peer. After a
 * login, the login is the monitor's to record; a link to resume carries
 * no user: the core checks the proof of the session's key itself.
 */
static int mon_link(struct muxd_monitor *m, struct mon_chan *ch, const struct rpc_req *q, int *pfd)
{
	uint8_t buf[RPC_LABEL_MAX];
	struct rpc_label lb;
	int sv[2], n, r;

	memset(&lb, 0, sizeof(lb));
	if (q->arg == 0) {
		if (!ch->verified[0] || strcmp(ch->verified, q->name) != 0)
			return -EACCES;
		snprintf(lb.user, sizeof(lb.user), "%s", ch->verified);
		lb.cert = ch->cert;
		memcpy(lb.sha256, ch->fpr, sizeof(lb.sha256));
	}
	snprintf(lb.peer, sizeof(lb.peer), "%s", ch->peer);
	n = rpc_label_encode(&lb, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = rpc_send(m->push_fd, RPC_LINK_PUSH, buf, (size_t)n, sv[0]);
	close(sv[0]);
	if (r < 0) {
		close(sv[1]);
		log_err("link to the core: %s", strerror(-r));
		return r;
	}
	ch->linked = true;
	if (q->arg == 0) {
		ch->logged_in = true;
		if (m->rl_src)
			ratelimit_success(m->rl_src, ch->src, strlen(ch->src));
		/* The front's reserved slots are for sources like this one. */
		if (m->known_host)
			ratelimit_remember(m->known_host, ch->src, strlen(ch->src), muxd_now_ms());
		mon_audit(m, AUDIT_LOGIN_OK, ch->verified, ch->src,
			   ch->cert ? "cert" : "password");
	}
	*pfd = sv[1];
	return 0;
}

/* A peer ended: reaped here, its uid free again. */
static void on_peer_exit(struct loop *l, int fd, uint32_t events, void *user)
{
	struct mon_peer *mp = user;
	pid_t w;
	int st = 0;

	do {
		w = waitpid(mp->pid, &st, WNOHANG);
	} while (w < 0 && errno == EINTR);
	if (w == 0)
		return;		/* not yet: the pidfd (or SIGCHLD) said so early */
	if (w > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		log_warn("tunnel: peer process %d killed by the sandbox: a system call outside its allow-list",
			 (int)mp->pid);
	else if (w > 0 && WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL && WTERMSIG(st) != SIGTERM)
		log_warn("tunnel: peer process %d killed by signal %d", (int)mp->pid,
			 WTERMSIG(st));
	if (!mp->m->no_pidfd)
		loop_del_fd(l, mp->pidfd);
	close(mp->pidfd);
	if (mp->ch)
		mp->ch->slot = -1;
	mp->ch = NULL;
	mp->pidfd = -1;
	mp->pid = 0;
}

/*
 * SIGCHLD, without pidfd_open: each peer that ended is reaped by its own
 * pid (never waitpid(-1): the core and the front are reaped where their
 * channels end, mon_reap), so a slot is free only once its process is
 * gone, as with a pidfd. Signals merge: one may stand for several ends.
 */
static void on_sigchld(struct loop *l, int signo, void *user)
{
	struct muxd_monitor *m = user;
	unsigned i;

	for (i = 0; m->peers && i < m->d.conf.peer_uid_count; i++)
		if (m->peers[i].pid > 0)
			on_peer_exit(l, -1, 0, &m->peers[i]);
}

/* A free slot (uid), the next after the last one taken; -1 if none. */
static int peer_slot(struct muxd_monitor *m)
{
	unsigned n = m->d.conf.peer_uid_count, i, k;

	for (i = 0; m->peers && i < n; i++) {
		k = (m->peer_next + i) % n;
		if (m->peers[k].pid == 0) {
			m->peer_next = (k + 1) % n;
			return (int)k;
		}
	}
	return -1;
}

/* SIGKILL to every peer process still alive (the monitor's own end). */
static void peers_kill(struct muxd_monitor *m, int sig)
{
	unsigned i;

	for (i = 0; m->peers && i < m->d.conf.peer_uid_count; i++)
		if (m->peers[i].pid > 0)
			kill(m->peers[i].pid, sig);
}

/* Pages of stack below this frame, where earlier calls left their locals. */
static void __attribute__((noinline)) stack_scrub(void)
{
	uint8_t b[64 * 1024];

	explicit_bzero(b, sizeof(b));
	__asm__ __volatile__("" : : "r"(b) : "memory");
}

/*
 * In the peer's process, just forked from the monitor: nothing of the
 * monitor's stays (monitor_forget: the authdb, the secret, the keys, the
 * limiters, the audit; the other channels' state wiped; every
 * descriptor but the peer's socket and channel closed by peer_run), then
 * the peer runs under its own uid.
 */
static void __attribute__((noreturn)) mon_peer_child(struct muxd_monitor *m, int req,
						      const struct rpc_spawn *sp, int sock,
						      uid_t id)
{
	static struct tun_front_peer p;
	struct muxd common = m->d;	/* the configuration */
	struct mon_chan *c, *next;
	int null_fd;

	/* Its stdin, stdout and stderr: no line of its reads as the daemon's. */
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		_exit(EXIT_ERROR);
	memset(&p, 0, sizeof(p));
	p.fd = sock;
	p.dgram = sp->dgram;
	memcpy(&p.addr, sp->addr, sp->alen);
	p.alen = (socklen_t)sp->alen;
	p.first_ms = sp->first_ms;
	memcpy(p.first, sp->first, sp->first_len);
	p.first_len = sp->first_len;
	p.pre.record_seq = sp->pre[0];
	p.pre.hsk_read_seq = sp->pre[1];
	p.pre.hsk_write_seq = sp->pre[2];
	p.relay_chan = sp->relay_chan;
	snprintf(p.via, sizeof(p.via), "%s", sp->via);
	for (c = m->chans; c; c = next) {
		next = c->next;
		explicit_bzero(c, sizeof(*c));
	}
	m->chans = NULL;
	monitor_forget(m);
	stack_scrub();
	peer_run(&common, m->peer_creds, &p, req, null_fd, id, id);
}

/*
 * A new peer process (RPC_SPAWN), forked here under a uid of its own:
 * its own request channel, labelled by the front's words, and the
 * socket the front handed over (sock, the monitor's to close). arg 1: a
 * pending slot the front keeps for sources a login came from before
 * (tunnel/front.h): -EACCES for any other source, before anything is
 * made. The front learns only yes or no, for an address it saw anyway;
 * which user logged in from where stays here. The front gets the pid
 * and a pidfd: it sees the peer end, but may not signal it.
 */
static int mon_spawn(struct muxd_monitor *m, const struct rpc_req *q, int sock,
		     struct rpc_reply *rep, int *pfd)
{
	static struct rpc_spawn sp;
	struct mon_chan *ch;
	struct mon_peer *mp;
	int sv[2], ends[2] = { -1, -1 }, slot, r, pidfd;
	uid_t id;
	pid_t pid;

	if (q->arg == 1 &&
	    !(m->known_host && ratelimit_known(m->known_host, q->src, strlen(q->src))))
		return -EACCES;
	if (m->npeer_chans >= m->d.conf.max_sessions + m->d.conf.max_pending + PEER_CHAN_SLACK)
		return -EBUSY;
	if (!m->peer_creds)
		return -EIO;
	slot = peer_slot(m);
	if (slot < 0)
		return -EBUSY;
	/* Checked by rpc_req_decode already. */
	if (rpc_spawn_decode(q->blob, q->blob_len, &sp) < 0)
		return -EPROTO;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ch = chan_new(m, sv[0], MUXD_PEER);
	if (!ch) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	/* The rules bound both (muxd/rpc.c); a longer source is cut. */
	snprintf(ch->src, sizeof(ch->src), "%.*s", (int)sizeof(ch->src) - 1, q->src);
	/* The DTLS ClientHello's random the front verified (none over TCP). */
	peerauth_init(&ch->pa, sp.has_rnd ? sp.rnd : NULL);
	snprintf(ch->peer, sizeof(ch->peer), "%.*s", (int)sizeof(ch->peer) - 1, q->detail);
	id = m->d.conf.peer_uid_base + (uid_t)slot;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		mon_peer_child(m, sv[1], &sp, sock, id);
	}
	close(sv[1]);
	explicit_bzero(&sp, sizeof(sp));
	if (pid < 0) {
		r = -errno;
		log_err("tunnel: fork for peer %s: %s", ch->peer, strerror(errno));
		chan_free(ch);
		return r == -ENOMEM ? -EAGAIN : r;
	}
	/* Its child, not reaped yet: the pid cannot be another's. */
	mp = &m->peers[slot];
	if (m->no_pidfd) {
		/* ends[1], the front's, goes with the reply. */
		pidfd = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0 ? -1 : ends[0];
		r = pidfd < 0 ? -errno : 0;
	} else {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		r = pidfd < 0 ? -errno :
		    loop_add_fd(m->d.l, pidfd, EPOLLIN, on_peer_exit, mp) < 0 ? -ENOMEM : 0;
	}
	if (r < 0) {
		log_err("tunnel: peer %s: %s: %s", ch->peer, m->no_pidfd ? "socketpair" : "pidfd",
			strerror(-r));
		if (pidfd >= 0)
			close(pidfd);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		chan_free(ch);
		return r;
	}
	mp->m = m;
	mp->pid = pid;
	mp->pidfd = pidfd;
	mp->ch = ch;
	ch->slot = slot;
	/* The front's copy: mon_answer closes what it sends. */
	*pfd = m->no_pidfd ? ends[1] : fcntl(pidfd, F_DUPFD_CLOEXEC, 0);
	if (*pfd < 0) {
		kill(pid, SIGKILL);	/* reaped by on_peer_exit */
		return -EAGAIN;
	}
	put_le32(rep->blob, (uint32_t)pid);
	rep->blob_len = 4;
	log_debug("tunnel: peer %s is process %d, uid %u", ch->peer, (int)pid, (unsigned)id);
	return 0;
}

/* RPC_PEER_STOP: one of the front's peers must go (its client restarted). */
static void mon_peer_stop(struct muxd_monitor *m, pid_t pid)
{
	unsigned i;

	for (i = 0; m->peers && i < m->d.conf.peer_uid_count; i++) {
		if (m->peers[i].pid == pid) {
			kill(pid, SIGKILL);
			return;
		}
	}
	/* Ended and reaped already: the front has not seen it yet. */
}

/*
 * RPC_PEERS_LOGGED_IN: which of these peers completed a login verified
 * here (rpc.h). Only the monitor's own peer processes, by pid, and only
 * a login (a resumption's proof is the core's to check: its peer stays
 * pending until its deadline). Checked by rpc_req_decode: 1..64 pids.
 */
static int mon_peers_logged_in(struct muxd_monitor *m, const struct rpc_req *q,
			       struct rpc_reply *rep)
{
	size_t k, n = q->blob_len / 4;
	unsigned i;

	for (k = 0; k < n; k++) {
		pid_t pid = (pid_t)get_le32(q->blob + 4 * k);

		rep->blob[k] = 0;
		for (i = 0; m->peers && i < m->d.conf.peer_uid_count; i++) {
			if (m->peers[i].pid == pid) {
				rep->blob[k] = m->peers[i].ch && m->peers[i].ch->logged_in;
				break;
			}
		}
	}
	rep->blob_len = n;
	return 0;
}

/* A peer's log line, under the monitor's name for it, rate-limited. */
static void mon_peer_log(struct mon_chan *ch, const struct rpc_req *q)
{
	uint64_t s = muxd_now_ms() / 1000;

	if (s != ch->log_second) {
		if (ch->logs > PEER_LOG_PER_S)
			log_notice("peer %s: %u log lines dropped", ch->peer,
				   ch->logs - PEER_LOG_PER_S);
		ch->log_second = s;
		ch->logs = 0;
	}
	if (++ch->logs > PEER_LOG_PER_S)
		return;
	log_msg(q->arg < LOG_ERR ? LOG_ERR : q->arg, "peer %s: %s", ch->peer, q->detail);
}

/* RPC_BOND_KEY: the household link key of a BR/EDR device, for the core. */
static int mon_bond_key(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep)
{
	struct bonds *b = NULL;
	const struct bond *x;
	struct bdaddr a;
	int r;

	if (bdaddr_parse(q->rd, &a) < 0)
		return -EINVAL;
	r = mon_bonds_load(m, &b);
	if (r < 0)
		return r;
	x = bonds_find(b, &a, BDADDR_PUBLIC);
	if (x && x->has_lk) {
		memcpy(rep->blob, x->lk, BONDS_KEY_LEN);
		rep->blob[BONDS_KEY_LEN] = x->lk_type;
		rep->blob_len = RPC_BOND_BLOB_LEN;
	} else {
		r = -ENOENT;
	}
	bonds_free(b);
	return r;
}

/* The link key and its type of RPC_BOND_NEW's blob (rpc.h). */
static int fill_lk(struct bond *nb, const void *arg)
{
	const uint8_t *blob = arg;

	nb->has_lk = true;
	memcpy(nb->lk, blob, BONDS_KEY_LEN);
	nb->lk_type = blob[BONDS_KEY_LEN];
	return 0;
}

/*
 * RPC_BOND_NEW: a user's pairing made the device's key; it replaces the
 * device's BR/EDR key (its LE keys, if any, are kept) and is audited.
 */
static int mon_bond_new(struct muxd_monitor *m, const struct rpc_req *q)
{
	struct bond nb;
	struct bdaddr a;
	struct audit_fields f = { .user = q->name, .rd = q->rd, .uid = -1 };
	bool gateway = false;
	char detail[64];
	int r;

	if (bdaddr_parse(q->rd, &a) < 0)
		return -EINVAL;
	/*
	 * The core's word, checked: only a user allowed the device bonds
	 * it, or the gateway's own pairing, for the one device the admin
	 * asked to pair now (bgw-muxd pair).
	 */
	if (!strcmp(q->name, BONDS_BY_GATEWAY)) {
		bool by_id;
		uid_t uid;

		if (!ctl_pair_expects(m, &a, BDADDR_PUBLIC, false, NULL, &uid, &by_id))
			return -EACCES;
		f.uid = (long)uid;
		gateway = true;
	} else if (!m->db || !authdb_user_may_access(m->db, q->name, &a, BDADDR_PUBLIC)) {
		return -EACCES;
	}
	r = mon_bond_update(m, &a, BDADDR_PUBLIC, q->name, fill_lk, q->blob, &nb);
	if (r == 0) {
		snprintf(detail, sizeof(detail), "linkkey type %u%s", nb.lk_type,
			 gateway ? ", paired at the gateway by the admin" : "");
		f.detail = detail;
		mon_audit_fields(m, AUDIT_BOND_NEW, &f);
		if (gateway)
			ctl_pair_kept(m);
	}
	explicit_bzero(&nb, sizeof(nb));
	return r;
}

/*
 * The handlers of the request table. Each fills the reply (rep->status,
 * the blob, a descriptor in *fd) and returns < 0 only when the request
 * breaks a rule no sane process breaks: the channel then ends.
 */
static int req_ctrl_open(struct mon_chan *ch, const struct rpc_req *q,
			 struct rpc_reply *rep, int *fd)
{
	/* Only the configured controller: the request names none. */
	*fd = mux_transport_open_fd(ch->m->d.conf.controller, rep->err, sizeof(rep->err));
	if (*fd < 0)
		rep->status = *fd;
	return 0;
}

static int req_audit(struct mon_chan *ch, const struct rpc_req *q,
		     struct rpc_reply *rep, int *fd)
{
	struct audit_fields f = {
		.user = q->name, .src = q->src[0] ? q->src : NULL,
		.rd = q->rd[0] ? q->rd : NULL,
		.detail = q->detail[0] ? q->detail : NULL, .uid = -1,
	};

	mon_audit_fields(ch->m, (enum audit_event)q->arg, &f);
	return 0;
}

static int req_scram_salt(struct mon_chan *ch, const struct rpc_req *q,
			  struct rpc_reply *rep, int *fd)
{
	struct muxd_monitor *m = ch->m;
	struct scram_verifier v;
	struct wbuf w;
	bool real = false;

	/* Only what server-first shows anyway: salt and iterations. */
	rep->status = m->db ? authdb_scram_lookup(m->db, q->name, m->secret,
						  sizeof(m->secret), &v, &real) : -EIO;
	if (rep->status < 0)
		return 0;
	wbuf_init(&w, rep->blob, sizeof(rep->blob));
	wbuf_le32(&w, v.iterations);
	wbuf_u8(&w, (uint8_t)v.salt_len);
	wbuf_bytes(&w, v.salt, v.salt_len);
	scram_verifier_wipe(&v);
	if (!wbuf_is_ok(&w))
		rep->status = -EOVERFLOW;
	else
		rep->blob_len = w.len;
	return 0;
}

static int req_scram_verify(struct mon_chan *ch, const struct rpc_req *q,
			    struct rpc_reply *rep, int *fd)
{
	rep->status = mon_scram_verify(ch->m, ch, q, rep->blob);
	rep->blob_len = rep->status == 0 ? SCRAM_KEY_LEN : 0;
	return 0;
}

static int req_sign(struct mon_chan *ch, const struct rpc_req *q,
		    struct rpc_reply *rep, int *fd)
{
	rep->status = mon_sign(ch->m, ch, q, rep->blob, &rep->blob_len);
	if (rep->status < 0)
		rep->blob_len = 0;
	return 0;
}

static int req_login_allowed(struct mon_chan *ch, const struct rpc_req *q,
			     struct rpc_reply *rep, int *fd)
{
	struct muxd_monitor *m = ch->m;

	rep->status = m->rl_src ? mon_login_allowed(m, q->name, ch->src) : -EAGAIN;
	return 0;
}

static int req_login_failed(struct mon_chan *ch, const struct rpc_req *q,
			    struct rpc_reply *rep, int *fd)
{
	if (ch->m->rl_src)
		mon_login_failed(ch->m, q->name, ch->src, q->arg);
	return 0;
}

static int req_cert_challenge(struct mon_chan *ch, const struct rpc_req *q,
			      struct rpc_reply *rep, int *fd)
{
	rep->status = peerauth_challenge(&ch->pa, rep->blob);
	rep->blob_len = rep->status == 0 ? RPC_CHAL_LEN : 0;
	return 0;
}

static int req_cert_login(struct mon_chan *ch, const struct rpc_req *q,
			  struct rpc_reply *rep, int *fd)
{
	/* A sane peer relays a proof only for a challenge it was given. */
	if (!ch->pa.chal_set)
		return -EPROTO;
	rep->status = mon_cert_login(ch->m, ch, q, rep);
	return 0;
}

static int req_link(struct mon_chan *ch, const struct rpc_req *q,
		    struct rpc_reply *rep, int *fd)
{
	if (ch->linked)
		return -EPROTO;
	rep->status = mon_link(ch->m, ch, q, fd);
	return 0;
}

static int req_spawn(struct mon_chan *ch, const struct rpc_req *q,
		     struct rpc_reply *rep, int *fd)
{
	int sock = ch->pass_fd;

	/* The peer's socket came with the request (on_request); none: insane. */
	if (sock < 0)
		return -EPROTO;
	ch->pass_fd = -1;
	rep->status = mon_spawn(ch->m, q, sock, rep, fd);
	close(sock);
	return rep->status == -EPROTO ? -EPROTO : 0;
}

static int req_peer_stop(struct mon_chan *ch, const struct rpc_req *q,
			 struct rpc_reply *rep, int *fd)
{
	mon_peer_stop(ch->m, (pid_t)get_le32(q->blob));
	return 0;
}

static int req_peers_logged_in(struct mon_chan *ch, const struct rpc_req *q,
			       struct rpc_reply *rep, int *fd)
{
	rep->status = mon_peers_logged_in(ch->m, q, rep);
	return 0;
}

static int req_relay_sign(struct mon_chan *ch, const struct rpc_req *q,
			  struct rpc_reply *rep, int *fd)
{
	rep->status = mon_relay_sign(ch->m, q, rep);
	return 0;
}

static int req_log(struct mon_chan *ch, const struct rpc_req *q,
		   struct rpc_reply *rep, int *fd)
{
	mon_peer_log(ch, q);
	return 0;
}

static int req_bond_ltk(struct mon_chan *ch, const struct rpc_req *q,
			struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_ltk(ch->m, q, rep);
	return 0;
}

static int req_bond_new_le(struct mon_chan *ch, const struct rpc_req *q,
			   struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_new_le(ch->m, q);
	return 0;
}

static int req_bond_pltk(struct mon_chan *ch, const struct rpc_req *q,
			 struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_pltk(ch->m, q, rep);
	return 0;
}

static int req_bond_new_pltk(struct mon_chan *ch, const struct rpc_req *q,
			     struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_new_pltk(ch->m, q);
	return 0;
}

static int req_bond_irks(struct mon_chan *ch, const struct rpc_req *q,
			 struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_irks(ch->m, q, rep);
	return 0;
}

static int req_bond_key(struct mon_chan *ch, const struct rpc_req *q,
			struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_key(ch->m, q, rep);
	return 0;
}

static int req_bond_new(struct mon_chan *ch, const struct rpc_req *q,
			struct rpc_reply *rep, int *fd)
{
	rep->status = mon_bond_new(ch->m, q);
	return 0;
}

#define R_CORE	(1U << MUXD_CORE)
#define R_FRONT	(1U << MUXD_FRONT)
#define R_PEER	(1U << MUXD_PEER)

/* Flags of a request kind. */
#define MON_NO_REPLY	(1U << 0)	/* one way: nothing is sent back */
#define MON_ORDERED	(1U << 1)	/* peerauth_order: before or after the login began */

/*
 * Every request the monitor answers, as OpenSSH's monitor table: which
 * roles may make it, its rules, and its cap per channel (a counter of
 * several kinds may be shared: a proof is a SCRAM proof or a certificate
 * login). A kind not in the table, from a role not named, or past its
 * cap ends the channel (and a core or front with it, mon_proc_gone).
 *
 * What one peer's login needs, with room: a handshake signs once (the
 * rule is in muxd/peerauth.c), a login checks one proof or one
 * certificate, and fails at most a few times over (the client retries on
 * a new channel, so a new peer). More is not a peer's doing, and would
 * make it an oracle. A link is made once (req_link).
 */
static const struct mon_req {
	uint32_t type;
	unsigned roles;
	unsigned flags;
	enum mon_counter counter;
	unsigned cap;
	int (*fn)(struct mon_chan *ch, const struct rpc_req *q, struct rpc_reply *rep,
		  int *fd);
} mon_reqs[] = {
	{ RPC_CTRL_OPEN,      R_CORE,  0,            MON_C_NONE,      0, req_ctrl_open },
	{ RPC_AUDIT,          R_CORE,  MON_NO_REPLY, MON_C_NONE,      0, req_audit },
	{ RPC_BOND_KEY,       R_CORE,  0,            MON_C_NONE,      0, req_bond_key },
	{ RPC_BOND_NEW,       R_CORE,  0,            MON_C_NONE,      0, req_bond_new },
	{ RPC_BOND_LTK,       R_CORE,  0,            MON_C_NONE,      0, req_bond_ltk },
	{ RPC_BOND_NEW_LE,    R_CORE,  0,            MON_C_NONE,      0, req_bond_new_le },
	{ RPC_BOND_IRKS,      R_CORE,  0,            MON_C_NONE,      0, req_bond_irks },
	{ RPC_BOND_PLTK,      R_CORE,  0,            MON_C_NONE,      0, req_bond_pltk },
	{ RPC_BOND_NEW_PLTK,  R_CORE,  0,            MON_C_NONE,      0, req_bond_new_pltk },
	{ RPC_SPAWN,          R_FRONT, 0,            MON_C_NONE,      0, req_spawn },
	{ RPC_RELAY_SIGN,     R_FRONT, 0,            MON_C_NONE,      0, req_relay_sign },
	{ RPC_PEER_STOP,      R_FRONT, MON_NO_REPLY, MON_C_NONE,      0, req_peer_stop },
	{ RPC_PEERS_LOGGED_IN, R_FRONT, 0,           MON_C_NONE,      0, req_peers_logged_in },
	{ RPC_SCRAM_SALT,     R_PEER,  MON_ORDERED,  MON_C_NONE,      0, req_scram_salt },
	{ RPC_SCRAM_VERIFY,   R_PEER,  MON_ORDERED,  MON_C_PROOF,
	  PEER_PROOFS_MAX, req_scram_verify },
	{ RPC_SIGN,           R_PEER,  MON_ORDERED,  MON_C_NONE,      0, req_sign },
	{ RPC_LOGIN_ALLOWED,  R_PEER,  MON_ORDERED,  MON_C_NONE,      0, req_login_allowed },
	{ RPC_LOGIN_FAILED,   R_PEER,  MON_ORDERED | MON_NO_REPLY, MON_C_FAILURE,
	  PEER_FAILURES_MAX, req_login_failed },
	{ RPC_CERT_CHALLENGE, R_PEER,  MON_ORDERED,  MON_C_CHALLENGE,
	  PEER_PROOFS_MAX, req_cert_challenge },
	{ RPC_CERT_LOGIN,     R_PEER,  MON_ORDERED,  MON_C_PROOF,
	  PEER_PROOFS_MAX, req_cert_login },
	{ RPC_LINK,           R_PEER,  MON_ORDERED,  MON_C_NONE,      0, req_link },
	{ RPC_LOG,            R_PEER,  MON_ORDERED | MON_NO_REPLY, MON_C_NONE, 0, req_log },
};

static const struct mon_req *mon_req_find(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(mon_reqs) / sizeof(mon_reqs[0]); i++)
		if (mon_reqs[i].type == type)
			return &mon_reqs[i];
	return NULL;
}

/* Returns < 0 when the request breaks a rule no sane process breaks. */
static int mon_answer(struct mon_chan *ch, const struct rpc_req *q)
{
	const struct mon_req *t = mon_req_find(q->type);
	struct rpc_reply rep;
	int fd = -1;

	if (!t || !(t->roles & (1U << ch->role))) {
		log_err("%s sent a request of type %u it may not make", role_name(ch->role),
			(unsigned)q->type);
		return -EPROTO;
	}
	if ((t->flags & MON_ORDERED) && peerauth_order(&ch->pa, q->type) < 0) {
		log_err("peer %s asked for a second signature, or one after its login "
			"began: not its own handshake's", ch->peer);
		return -EPROTO;
	}
	if (t->cap && ++ch->count[t->counter] > t->cap)
		return -EPROTO;
	memset(&rep, 0, sizeof(rep));
	if (t->fn(ch, q, &rep, &fd) < 0) {
		if (fd >= 0)
			close(fd);
		explicit_bzero(&rep, sizeof(rep));
		return -EPROTO;
	}
	if (t->flags & MON_NO_REPLY) {
		explicit_bzero(&rep, sizeof(rep));
		return 0;
	}
	if (rpc_send_reply(ch->fd, &rep, fd) < 0)
		log_warn("reply to the %s: %s", role_name(ch->role), strerror(errno));
	if (fd >= 0)
		close(fd);
	explicit_bzero(&rep, sizeof(rep));
	return 0;
}

/* SIGTERM to the core and the front: the monitor's own stop. */
static void stop_children(struct muxd_monitor *m)
{
	if (m->core_pid > 0 || m->front_pid > 0)
		m->sent_term = true;
	if (m->core_pid > 0)
		kill(m->core_pid, SIGTERM);
	if (m->front_pid > 0)
		kill(m->front_pid, SIGTERM);
	peers_kill(m, SIGTERM);
}

/* The core or the front ended, or must: reap it (SIGKILL when hostile). */
static void mon_reap(struct muxd_monitor *m, pid_t *pid, const char *name, bool hostile)
{
	pid_t w = 0;
	int st = 0, i;

	if (*pid <= 0)
		return;
	/*
	 * A process that closed its end is ending (a terminal's SIGINT
	 * reaches every process) or is not to be trusted: 2 s to go, then
	 * SIGKILL.
	 */
	for (i = 0; i < 20 && !hostile; i++) {
		w = waitpid(*pid, &st, WNOHANG);
		if (w != 0)
			break;
		usleep(100000);
	}
	if (w == 0) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	*pid = -1;
	/*
	 * Killed by the SIGTERM the monitor itself sent to stop: a normal
	 * stop (a signal meant for its loop that came after the loop ended).
	 * Any other death by a signal is an error.
	 */
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && m->sent_term) {
		log_info("%s stopped by the monitor's SIGTERM", name);
		return;
	}
	if (WIFEXITED(st) && (m->d.stopping || WEXITSTATUS(st) == 0)) {
		log_notice("%s exited (status %d)", name, WEXITSTATUS(st));
		if (WEXITSTATUS(st))
			m->d.exit_status = EXIT_ERROR;
		return;
	}
	m->d.exit_status = EXIT_ERROR;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		log_err("%s killed by the sandbox: a system call outside its allow-list; stopping",
			name);
	else if (WIFSIGNALED(st))
		log_err("%s killed by signal %d (%s); stopping", name, WTERMSIG(st),
			strsignal(WTERMSIG(st)));
	else
		log_err("%s exited with status %d; stopping", name, WEXITSTATUS(st));
}

/* The core or the front is gone: everything stops (systemd restarts us). */
static void mon_proc_gone(struct mon_chan *ch, bool hostile)
{
	struct muxd_monitor *m = ch->m;
	pid_t *pid = ch->role == MUXD_CORE ? &m->core_pid : &m->front_pid;

	mon_reap(m, pid, role_name(ch->role), hostile);
	chan_free(ch);
	if (!m->d.stopping) {
		m->d.stopping = true;
		stop_children(m);
		loop_timer_arm(m->kill_timer, 5000000);
	}
	if (m->core_pid <= 0 && m->front_pid <= 0)
		loop_quit(m->d.l, m->d.exit_status);
}

/*
 * Bytes of a channel, and a descriptor that came with them: only the
 * front passes one, one at a time, with a SPAWN (its peer's socket; it
 * may arrive in the same read as the end of an earlier request). Any
 * other is closed and *bad set.
 */
static ssize_t chan_recv(struct mon_chan *ch, uint8_t *buf, size_t cap, bool *bad)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec v = { buf, cap };
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &v;
	mh.msg_iovlen = 1;
	mh.msg_control = u.b;
	mh.msg_controllen = sizeof(u.b);
	n = recvmsg(ch->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k, nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nfd; k++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (ch->role == MUXD_FRONT && ch->pass_fd < 0 && !*bad) {
				ch->pass_fd = got;
			} else {
				close(got);
				*bad = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		*bad = true;
	return n;
}

static void on_request(struct loop *l, int fd, uint32_t events, void *user)
{
	struct mon_chan *ch = user;
	uint8_t buf[4096];
	size_t off = 0, used;
	bool bad = false;
	ssize_t n;

	n = chan_recv(ch, buf, sizeof(buf), &bad);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (ch->role == MUXD_PEER)
			chan_free(ch);
		else
			mon_proc_gone(ch, false);
		return;
	}
	if (bad) {
		log_err("%s %s passed a descriptor it may not pass: ending it",
			role_name(ch->role), ch->role == MUXD_PEER ? ch->peer : "");
		off = (size_t)n;
	}
	while (off < (size_t)n) {
		struct rpc_req q;
		const char *why = NULL;
		int r = rpc_reader_feed(&ch->rrd, buf + off, (size_t)n - off, &used, &q, &why);

		off += used;
		if (r == 1 && mon_answer(ch, &q) < 0) {
			r = -EPROTO;
			why = "a request its kind may not make";
		}
		explicit_bzero(&q, sizeof(q));
		if (r < 0) {
			/* Only a subverted process sends this: it ends here. */
			log_err("%s %s sent a malformed request (%s): ending it",
				role_name(ch->role), ch->role == MUXD_PEER ? ch->peer : "",
				why ? why : "?");
			bad = true;
			break;
		}
	}
	if (!bad)
		return;
	if (ch->role == MUXD_PEER) {
		if (ch->slot >= 0)
			kill(ch->m->peers[ch->slot].pid, SIGKILL);
		chan_free(ch);
	} else {
		mon_proc_gone(ch, true);
	}
}

static void mon_on_term(struct loop *l, int signo, void *user)
{
	struct muxd_monitor *m = user;

	log_notice("signal %d: stopping", signo);
	m->d.stopping = true;
	stop_children(m);
	if (m->core_pid > 0 || m->front_pid > 0)
		loop_timer_arm(m->kill_timer, 5000000);
	else
		loop_quit(l, 0);
}

static void kill_timer_fn(struct loop_timer *t, void *user)
{
	struct muxd_monitor *m = user;

	if (m->core_pid > 0) {
		log_warn("core did not stop within 5 s: killing it");
		kill(m->core_pid, SIGKILL);
	}
	if (m->front_pid > 0) {
		log_warn("network front did not stop within 5 s: killing it");
		kill(m->front_pid, SIGKILL);
	}
}

/*
 * Before the first peer: pidfd_open (Linux 5.3) on the monitor itself.
 * Where it is missing (ENOSYS: an older kernel, or valgrind 3.19, which
 * does not know system call 434; EPERM: a container's seccomp profile
 * that refuses calls it does not list, since pidfd_open on oneself needs
 * no privilege) the peers are watched through SIGCHLD
 * in the loop's signalfd instead (on_sigchld), blocked from here on so
 * that no peer's end is lost. 0 or -errno.
 */
static int mon_pidfd_probe(struct muxd_monitor *m)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOSYS && errno != EPERM)
		return 0;	/* mon_spawn says what fails */
	m->no_pidfd = true;
	log_info("tunnel: no pidfd_open here: peer processes are watched through SIGCHLD");
	return loop_add_signal(m->d.l, SIGCHLD, on_sigchld, m);
}

int monitor_run(struct muxd_monitor *m, int core_req, int front_req)
{
	unsigned i;
	int r;

	m->d.l = loop_new();
	if (!m->d.l)
		return EXIT_ERROR;
	m->ireload = loop_timer_new(m->d.l, ireload_fn, m);
	m->kill_timer = loop_timer_new(m->d.l, kill_timer_fn, m);
	if (!m->ireload || !m->kill_timer)
		return EXIT_ERROR;
	watch_authdb(m);
	if (!chan_new(m, core_req, MUXD_CORE) ||
	    (front_req >= 0 && !chan_new(m, front_req, MUXD_FRONT)) ||
	    loop_add_signal(m->d.l, SIGTERM, mon_on_term, m) < 0 ||
	    loop_add_signal(m->d.l, SIGINT, mon_on_term, m) < 0 ||
	    loop_add_signal(m->d.l, SIGHUP, on_hup, m) < 0 ||
	    (front_req >= 0 && mon_pidfd_probe(m) < 0))
		return EXIT_ERROR;
	/* After the signals: a stop meanwhile waits for the loop. */
	if (front_req >= 0) {
		m->peers = calloc(m->d.conf.peer_uid_count, sizeof(*m->peers));
		/* The certificate chain and the CA, for the peers to inherit. */
		r = m->peers ? peer_creds_new(&m->d, &m->peer_creds) : -ENOMEM;
		if (r < 0)
			log_err("tunnel: the peers' credentials: %s", strerror(-r));
	}
	/* Either failure leaves children to end: they must not outlive us. */
	if ((front_req >= 0 && !m->peer_creds) || policy_push(m) < 0 ||
	    (muxd_conf_has_tunnel(&m->d.conf) && mon_key_load(m) < 0) || ctl_start(m) < 0) {
		r = -1;
	} else {
		muxd_ready(&m->d);
		r = loop_run(m->d.l);
	}
	ctl_stop(m);
	m->d.stopping = true;
	stop_children(m);
	mon_reap(m, &m->core_pid, "core", false);
	mon_reap(m, &m->front_pid, "network front", false);
	/* Peers left: they end with the monitor (as they would by PDEATHSIG). */
	peers_kill(m, SIGKILL);
	for (i = 0; m->peers && i < m->d.conf.peer_uid_count; i++) {
		if (m->peers[i].pid <= 0)
			continue;
		while (waitpid(m->peers[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (!m->no_pidfd)
			loop_del_fd(m->d.l, m->peers[i].pidfd);
		close(m->peers[i].pidfd);
		m->peers[i].pid = 0;
	}
	free(m->peers);
	m->peers = NULL;
	while (m->chans)
		chan_free(m->chans);
	tun_server_creds_free(m->peer_creds);
	m->peer_creds = NULL;
	tun_certca_free(m->certca);
	m->certca = NULL;
	relaysign_free(&m->relaysign);
	loop_timer_free(m->relay_cert_timer);
	m->relay_cert_timer = NULL;
	return r < 0 ? EXIT_ERROR : r;
}
