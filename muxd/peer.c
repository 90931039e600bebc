/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[peer], one process per tunnel peer (muxd/net.h,
 * doc/security.md "Process model"). It runs that peer's (D)TLS and
 * login, asking the monitor for everything secret (salts, proof checks,
 * signatures, certificate mapping), and once the monitor vouches for the
 * login, relays the tunnel's messages between its channel and the core
 * over a link the monitor made. A subverted peer holds only its own
 * peer's data.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "log.h"
#include "net.h"
#include "sandbox.h"
#include "scram.h"

/* The peer's own state: its channel and login, nothing of the front's. */
struct muxd_peer {
	struct muxd d;
	struct tun_peer *peer;
	/*
	 * The monitor refused a SCRAM proof and counted the failure itself;
	 * the login_failed that follows in the same call chain (tunnel.c
	 * on_scram_final) must not count it again.
	 */
	bool verify_counted;
};

/*
 * This process's peer: the handshake's signature callback (peer_key_sign)
 * comes through the credentials the monitor made before the fork.
 */
static struct muxd_peer *peer_self;

static int auth_login_allowed(void *user, const char *name, const void *addr,
			      size_t addrlen)
{
	struct muxd_peer *pp = user;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX];

	src_key_sa(addr, addrlen, src, sizeof(src));
	if (muxd_call(&pp->d, RPC_LOGIN_ALLOWED, 0, name, src, NULL, NULL, &rep, NULL) < 0)
		return -EAGAIN;
	return rep.status < 0 ? -EAGAIN : 0;
}

static void auth_login_failed(void *user, const char *name, const void *addr,
			      size_t addrlen, int reason)
{
	struct muxd_peer *pp = user;
	char src[SRC_KEY_MAX];

	/* The monitor counted the failure it found itself (proof, certificate). */
	if (pp->verify_counted) {
		pp->verify_counted = false;
		return;
	}
	pp->verify_counted = false;
	src_key_sa(addr, addrlen, src, sizeof(src));
	if (reason < 1 || reason > 127)
		reason = TUN_R_INTERNAL;
	muxd_call(&pp->d, RPC_LOGIN_FAILED, (uint8_t)reason, name, src, NULL, NULL, NULL, NULL);
}

/*
 * Certificate login: the monitor makes the challenge and checks the
 * proof (tunnel/certlogin.h); this process only relays the bytes and the
 * exporter of its channel, and learns the user only from the answer.
 */
static int auth_cert_challenge(void *user, uint8_t chal[TUN_CHAL_LEN])
{
	struct muxd_peer *pp = user;
	struct rpc_reply rep;
	int r;

	r = muxd_call(&pp->d, RPC_CERT_CHALLENGE, 0, NULL, NULL, NULL, NULL, &rep, NULL);
	if (r < 0)
		return r;
	if (rep.status < 0)
		return rep.status;
	if (rep.blob_len != TUN_CHAL_LEN)
		return -EPROTO;
	memcpy(chal, rep.blob, TUN_CHAL_LEN);
	return 0;
}

static int auth_cert_verify(void *user, const uint8_t *cert, size_t cert_len,
			    const uint8_t *sig, size_t sig_len,
			    const uint8_t exporter[32], char *name, size_t cap)
{
	struct muxd_peer *pp = user;
	struct rpc_req q;
	struct rpc_reply rep;
	int r;

	pp->verify_counted = false;
	if (cert_len == 0 || cert_len > RPC_CERT_DER_MAX || sig_len == 0 ||
	    sig_len > RPC_CERT_SIG_MAX)
		return -EBADMSG;
	memset(&q, 0, sizeof(q));
	q.type = RPC_CERT_LOGIN;
	memcpy(q.blob, exporter, RPC_EXPORTER_LEN);
	put_le16(q.blob + RPC_EXPORTER_LEN, (uint16_t)cert_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2, cert, cert_len);
	memcpy(q.blob + RPC_EXPORTER_LEN + 2 + cert_len, sig, sig_len);
	q.blob_len = RPC_EXPORTER_LEN + 2 + cert_len + sig_len;
	r = rpc_call(pp->d.req_fd, &q, &rep, NULL);
	explicit_bzero(&q, sizeof(q));
	if (r < 0) {
		loop_quit(pp->d.l, EXIT_ERROR);
		return -EIO;
	}
	switch (rep.status) {
	case 0:
		break;
	case -EKEYEXPIRED:
	case -EKEYREVOKED:
	case -EKEYREJECTED:
	case -EBADMSG:
	case -EACCES:
	case -ENOENT:
	case -EPERM:
		/* Counted and audited by the monitor: not again (auth_login_failed). */
		pp->verify_counted = true;
		return rep.status;
	default:
		return -EIO;
	}
	if (rep.blob_len == 0 || rep.blob_len >= cap ||
	    memchr(rep.blob, 0, rep.blob_len))
		return -EIO;
	memcpy(name, rep.blob, rep.blob_len);
	name[rep.blob_len] = '\0';
	return 0;
}

/*
 * The salt and iteration count of one user, from the monitor (which
 * fabricates both for an unknown or disabled user, the same work either
 * way). Never the keys: the proof is checked by the monitor
 * (auth_scram_verify), so *real means nothing here.
 */
static int auth_scram_lookup(void *user, const char *name,
			     struct scram_verifier *v, bool *real)
{
	struct muxd_peer *pp = user;
	struct rpc_reply rep;
	struct cur c;
	int r;

	pp->verify_counted = false;
	*real = false;
	memset(v, 0, sizeof(*v));
	r = muxd_call(&pp->d, RPC_SCRAM_SALT, 0, name, NULL, NULL, NULL, &rep, NULL);
	if (r < 0)
		return r;
	if (rep.status < 0)
		return rep.status;
	cur_init(&c, rep.blob, rep.blob_len);
	v->iterations = cur_le32(&c);
	v->salt_len = cur_u8(&c);
	if (v->salt_len == 0 || v->salt_len > SCRAM_SALT_MAX)
		return -EPROTO;
	cur_copy(&c, v->salt, v->salt_len);
	return cur_is_ok(&c) && cur_is_done(&c) ? 0 : -EPROTO;
}

/* The monitor checks the proof: ok + ServerSignature, or no. */
static int auth_scram_verify(void *user, const char *name, const void *addr,
			     size_t addrlen, const char *am, size_t am_len,
			     const uint8_t proof[32], uint8_t ssig[32])
{
	struct muxd_peer *pp = user;
	struct rpc_req q;
	struct rpc_reply rep;
	char src[SRC_KEY_MAX];
	int r;

	pp->verify_counted = false;
	if (am_len == 0 || am_len > SCRAM_AM_MAX)
		return -EIO;
	src_key_sa(addr, addrlen, src, sizeof(src));
	memset(&q, 0, sizeof(q));
	q.type = RPC_SCRAM_VERIFY;
	rpc_str(q.name, 65, name);
	rpc_str(q.src, 65, src);
	memcpy(q.blob, proof, SCRAM_KEY_LEN);
	memcpy(q.blob + SCRAM_KEY_LEN, am, am_len);
	q.blob_len = SCRAM_KEY_LEN + am_len;
	r = rpc_call(pp->d.req_fd, &q, &rep, NULL);
	explicit_bzero(&q, sizeof(q));
	if (r < 0) {
		loop_quit(pp->d.l, EXIT_ERROR);
		return -EIO;
	}
	r = rep.status;
	if (r == 0 && rep.blob_len == SCRAM_KEY_LEN)
		memcpy(ssig, rep.blob, SCRAM_KEY_LEN);
	else if (r == 0)
		r = -EIO;
	if (r == -EACCES)
		pp->verify_counted = true;
	explicit_bzero(&rep, sizeof(rep));
	return r;
}

/* A peer's handshake signs through the monitor, which holds the key. */
static int peer_key_sign(void *user, int sign_algo, bool is_hash,
			   const uint8_t *in, size_t in_len,
			   uint8_t *sig, size_t cap, size_t *sig_len)
{
	struct muxd_peer *pp = peer_self;
	struct rpc_req q;
	struct rpc_reply rep;
	int r;

	if (sign_algo <= 0 || sign_algo > 0xffff || in_len == 0 || in_len > RPC_SIGN_IN_MAX)
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.type = RPC_SIGN;
	q.arg = is_hash;
	put_le16(q.blob, (uint16_t)sign_algo);
	memcpy(q.blob + 2, in, in_len);
	q.blob_len = 2 + in_len;
	r = rpc_call(pp->d.req_fd, &q, &rep, NULL);
	if (r < 0) {
		loop_quit(pp->d.l, EXIT_ERROR);
		return -EIO;
	}
	r = rep.status;
	if (r == 0 && (rep.blob_len == 0 || rep.blob_len > cap))
		r = -EIO;
	if (r == 0) {
		memcpy(sig, rep.blob, rep.blob_len);
		*sig_len = rep.blob_len;
	} else {
		log_warn("tunnel: the monitor did not sign (%s)", strerror(-r));
	}
	return r;
}


/* ------------------------------------------------------------------ */
/* The peer process: one tunnel peer, from its handshake to its end */

/*
 * A peer has no socket to reach syslog: its lines go to the monitor
 * (RPC_LOG), which writes them under its own name for the peer.
 */
static void peer_log(int prio, const char *line, void *user)
{
	static bool busy;
	struct muxd_peer *pp = user;

	if (busy || pp->d.req_fd < 0)
		return;		/* a failing call logs too: not again */
	busy = true;
	muxd_call(&pp->d, RPC_LOG, (uint8_t)(prio & 7), NULL, NULL, NULL, line, NULL, NULL);
	busy = false;
}

/* The link to the core, from the monitor: after a login or to resume. */
static int peer_get_link(void *user, const char *name)
{
	struct muxd_peer *pp = user;
	struct rpc_reply rep;
	int fd = -1, r;

	r = muxd_call(&pp->d, RPC_LINK, name ? 0 : 1, name, NULL, NULL, NULL, &rep, &fd);
	if (r < 0)
		return r;
	if (rep.status < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return rep.status < 0 ? rep.status : -EIO;
	}
	return fd;
}

static void peer_done(void *user, int reason)
{
	struct muxd_peer *pp = user;

	pp->d.exit_status = reason == TUN_R_NONE || reason == TUN_R_SHUTDOWN ? 0 : 1;
	loop_quit(pp->d.l, pp->d.exit_status);
}

static void peer_on_term(struct loop *l, int signo, void *user)
{
	loop_quit(l, 0);
}

/*
 * In the new process: keep only this peer's socket and request channel
 * (the monitor forgot its own state before the call), drop to the
 * peer's own uid and enter its sandbox, then run the peer's channel
 * until it is over.
 */
void peer_run(const struct muxd *parent, struct tun_creds *creds,
	      struct tun_front_peer *p, int req, int null_fd, uid_t uid, gid_t gid)
{
	static const struct tun_auth_ops auth = {
		.cert_challenge = auth_cert_challenge,
		.cert_verify = auth_cert_verify,
		.scram_lookup = auth_scram_lookup,
		.scram_verify = auth_scram_verify,
		.login_allowed = auth_login_allowed,
		.login_failed = auth_login_failed,
	};
	static const struct tun_peer_ops ops = {
		.get_link = peer_get_link,
		.on_done = peer_done,
	};
	static struct muxd_peer self;
	struct muxd_peer *pp = &self;
	struct tun_server_cfg cfg;
	int keep[2] = { p->fd, req }, i;
	sigset_t none;

	muxd_child_init(&pp->d, parent, MUXD_PEER);
	/* The monitor's end is the peer's end. */
	if (sandbox_die_with_parent(pp->d.parent) < 0)
		_exit(EXIT_ERROR);
	sandbox_set_name("bgw-muxd[peer]");
	pp->d.ready_fd = -1;
	pp->d.null_fd = -1;
	pp->d.req_fd = req;
	peer_self = pp;
	/* Every line from here on goes through the monitor. */
	log_set_handler(peer_log, pp);
	/*
	 * No stdio of the daemon's: a line written to its stderr would read
	 * as the daemon's own.
	 */
	for (i = 0; i < 3; i++)
		if (dup3(null_fd, i, 0) < 0)
			_exit(EXIT_ERROR);
	if (sandbox_close_all_but(keep, 2) < 0)
		_exit(EXIT_ERROR);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A loop of its own (the monitor's stays allocated, its descriptors closed). */
	pp->d.l = loop_new();
	if (!pp->d.l || loop_add_signal(pp->d.l, SIGTERM, peer_on_term, pp) < 0 ||
	    loop_add_signal(pp->d.l, SIGINT, peer_on_term, pp) < 0)
		_exit(EXIT_ERROR);
	if (sandbox_drop_peer(uid, gid) < 0 ||
	    sandbox_die_with_parent(pp->d.parent) < 0 ||
	    (pp->d.conf.sandbox && sandbox_enter(SANDBOX_PEER) < 0))
		_exit(EXIT_ERROR);
	memset(&cfg, 0, sizeof(cfg));
	cfg.resume_s = pp->d.conf.resume_s;
	cfg.handshake_ms = pp->d.conf.login_s * 1000;
	if (tun_peer_new(&pp->peer, pp->d.l, creds, &cfg, p, &ops, &auth, pp) < 0)
		_exit(EXIT_ERROR);
	pp->d.exit_status = 0;
	loop_run(pp->d.l);
	tun_peer_free(pp->peer);
	loop_iterate(pp->d.l, 0);
	/* No atexit handlers (LeakSanitizer cannot run under the filter). */
	_exit(pp->d.exit_status);
}

int peer_creds_new(struct muxd *d, struct tun_creds **creds)
{
	struct tun_server_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = d->conf.ca_file;
	cfg.cert_file = d->conf.cert_file;
	cfg.key_sign = peer_key_sign;	/* the key stays in the monitor */
	return tun_server_creds_new(creds, &cfg, NULL);
}
