/* SPDX-License-Identifier: MIT */
/*
 * The DTLS tunnel upstream: tunnel/tunnel.h's client (DTLS 1.2 over UDP,
 * or TLS over TCP), logged in with a client certificate or a password.
 *
 * The tunnel resumes a session across link drops and address changes by
 * itself; only when the session is lost for good (on_down) does this
 * upstream report down and start a new session after a backoff, which the
 * hub turns into a controller reset for the local hosts. A refusal that
 * another attempt cannot fix (wrong password, revoked or unknown
 * certificate, server certificate not matching the pinned CA) is reported
 * through failed() instead: retrying would only feed the server's login
 * rate limiter. So is every failure of the first session: the user is
 * still at the terminal, waiting to hear whether it worked (bgw-cdclient
 * stays in the foreground until then), and "no answer" after a bounded
 * time tells more than a silent retry loop; unless the caller can wait
 * (cbs.waiting: seamless mode, whose local side works meanwhile), which
 * hears of each failure while the next attempt is scheduled. Each failure
 * is one line: what happened and what to do about it.
 *
 * The enrolment bundle keeps the client key in memory; the tunnel reads its
 * credentials from files, so for each new session the PEMs are written to
 * a private directory (0700, files 0600), read by tun_client_new() and
 * removed again at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hci.h"
#include "log.h"
#include "remote_int.h"
#include "remote_tunnel.h"
#include "secmem.h"
#include "tunnel.h"

struct tunnel_remote {
	struct cd_remote base;	/* first: the generic part */
	struct loop *loop;
	struct cd_remote_cbs cbs;
	void *user;
	char *desc;

	struct tun_client_cfg cfg;	/* strings below are ours */
	char *host, *port, *ca_file, *cert_file, *key_file, *login;
	char *password;
	size_t password_len;
	char *ca_pem, *cert_pem, *key_pem;	/* bundle mode */
	char *relay[TUN_RELAYS_MAX];		/* the bundle's, if any */
	unsigned nrelay;
	uint8_t home_id[TUN_HOME_ID_LEN];
	char *where;		/* "HOST:PORT", or "relay R" without a server */
	char *issue;		/* bgw-authdb cert issue's option for it */

	struct tun_client *c;
	bool up;
	bool ever_up;		/* a session has been up: failures are retried */
	bool waited;		/* the first failed, retried (cbs.waiting) */
	bool started;
	enum cd_transport transport;
	char *ca_path, *bundle_path, *bundle_user;	/* for the advice */
	char *name;		/* the user the server logged us in as */
	struct loop_timer *timer;
	uint64_t backoff_us;
	struct cd_remote_stats st;
	bool want_drain;
	/* A failure found outside the loop, reported from it (timer). */
	int fail_err;
	const char *fail_why;
};

static void tunnel_connect(struct tunnel_remote *r);

/* Reasons another attempt cannot fix (enum tun_reason). */
static bool reason_is_final(int reason)
{
	switch (reason) {
	case TUN_R_VERSION:
	case TUN_R_AUTH_FAILED:
	case TUN_R_CERT_REQUIRED:
	case TUN_R_CERT_REVOKED:
	case TUN_R_CERT_EXPIRED:
	case TUN_R_CERT_INVALID:
	case TUN_R_CERT_UNKNOWN:
	case TUN_R_MODE_UNSUPPORTED:
	case TUN_R_SERVER_CERT:
	case TUN_R_KICKED:	/* the admin meant it: no new session by itself */
		return true;
	}
	return false;
}

static void tunnel_retry(struct tunnel_remote *r, int reason)
{
	/* A rate-limited login waits the longest before the next try. */
	if (reason == TUN_R_RATE_LIMITED)
		r->backoff_us = CD_REMOTE_BACKOFF_MAX_US;
	loop_timer_arm(r->timer, r->backoff_us);
	log_info("upstream %s: next attempt in %llu ms", r->desc,
		 (unsigned long long)(r->backoff_us / 1000));
	r->backoff_us *= 2;
	if (r->backoff_us > CD_REMOTE_BACKOFF_MAX_US)
		r->backoff_us = CD_REMOTE_BACKOFF_MAX_US;
}

/* The user the advice names: the login, the bundle's, or a placeholder. */
static const char *advice_user(const struct tunnel_remote *r)
{
	if (r->login)
		return r->login;
	return r->bundle_user && *r->bundle_user ? r->bundle_user : "USER";
}

/*
 * What to do about a failure (reason: enum tun_reason), for the one line
 * the user sees after what happened. The admin's commands are
 * bgw-authdb(8)'s.
 */
static void advise(const struct tunnel_remote *r, int reason, char *out,
		   size_t cap)
{
	const char *u = advice_user(r);

	switch (reason) {
	case TUN_R_AUTH_FAILED:
		if (r->login)
			snprintf(out, cap, "check the password of %s, or ask the "
				 "admin to set a new one: bgw-authdb passwd %s",
				 u, u);
		else
			snprintf(out, cap, "the account %s may be disabled: ask "
				 "the admin to enable it: bgw-authdb user enable %s",
				 u, u);
		return;
	case TUN_R_CERT_EXPIRED:
		snprintf(out, cap, "check this computer's clock, or ask the admin "
			 "for a new bundle: bgw-authdb cert issue %s %s "
			 "--out %s.bundle", u, r->issue, u);
		return;
	case TUN_R_CERT_REVOKED:
	case TUN_R_CERT_INVALID:
	case TUN_R_CERT_UNKNOWN:
	case TUN_R_CERT_REQUIRED:
		snprintf(out, cap, "ask the admin for a new bundle: bgw-authdb "
			 "cert issue %s %s --out %s.bundle", u, r->issue, u);
		return;
	case TUN_R_MODE_UNSUPPORTED:
		snprintf(out, cap, "this gateway takes no %s logins: ask the "
			 "admin how to log in", r->login ? "password" : "certificate");
		return;
	case TUN_R_VERSION:
		snprintf(out, cap, "install the same bgw release here as on the "
			 "gateway");
		return;
	case TUN_R_SERVER_CERT:
		if (r->bundle_path)
			snprintf(out, cap, "%s is not the gateway that issued "
				 "%s: check --server, or ask the admin for a new "
				 "bundle: bgw-authdb cert issue %s %s "
				 "--out %s.bundle", r->where, r->bundle_path,
				 u, r->issue, u);
		else
			snprintf(out, cap, "%s:%s is not the gateway whose CA is "
				 "in %s: check --server, and that --ca is the "
				 "gateway's ca.crt (from its admin)", r->host,
				 r->port, r->ca_path ? r->ca_path : "--ca");
		return;
	case TUN_R_HANDSHAKE:
		snprintf(out, cap, "is a bgw gateway listening on %s? check "
			 "--server and the gateway's listen-dtls / listen-tls",
			 r->where);
		return;
	case TUN_R_UNREACHABLE:
	case TUN_R_TIMEOUT:
	case TUN_R_PEER_DEAD:
		if (r->nrelay && !r->cfg.host) {
			snprintf(out, cap, "check that bgw-muxd runs at home with "
				 "\"relay %s\" in bgw-muxd.conf and says \"relay: "
				 "registered with\", and that this network lets UDP out "
				 "to the relay", r->relay[0]);
			return;
		}
		snprintf(out, cap, "check that bgw-muxd runs there, that %s:%s "
			 "is its listen-dtls or listen-tls address, and that no "
			 "firewall drops it (--server overrides a bundle's)",
			 r->host, r->port);
		return;
	case TUN_R_RATE_LIMITED:
		snprintf(out, cap, "wait a few minutes before trying again: the "
			 "gateway slows down failed logins");
		return;
	case TUN_R_BUSY:
	case TUN_R_REFUSED:
		snprintf(out, cap, "the gateway has no session free now "
			 "(max-sessions): try again later, or ask the admin");
		return;
	case TUN_R_KICKED:
		snprintf(out, cap, "the gateway's admin ended this session "
			 "(bgw-muxd kick): ask them before you start "
			 "bgw-cdclient again");
		return;
	case TUN_R_SHUTDOWN:
		snprintf(out, cap, "the gateway is stopping or restarting: try "
			 "again in a moment");
		return;
	}
	snprintf(out, cap, "try again; if it happens again, run with -v and "
		 "show the output to the admin");
}

/* failed()'s error for a reason (remote_tunnel.h). */
static int reason_err(int reason)
{
	switch (reason) {
	case TUN_R_AUTH_FAILED:
	case TUN_R_CERT_REQUIRED:
	case TUN_R_CERT_REVOKED:
	case TUN_R_CERT_EXPIRED:
	case TUN_R_CERT_INVALID:
	case TUN_R_CERT_UNKNOWN:
	case TUN_R_MODE_UNSUPPORTED:
	case TUN_R_RATE_LIMITED:
	case TUN_R_BUSY:
	case TUN_R_REFUSED:
	case TUN_R_KICKED:
		return -EACCES;
	case TUN_R_UNREACHABLE:
	case TUN_R_TIMEOUT:
	case TUN_R_PEER_DEAD:
		return -EHOSTUNREACH;
	case TUN_R_SERVER_CERT:
	case TUN_R_HANDSHAKE:
		return -EKEYREJECTED;
	}
	return -EPROTO;
}

static void on_progress(void *user, struct tun_client *c, const char *text)
{
	struct tunnel_remote *r = user;

	/* On the terminal for the first attempt; later only with -v. */
	log_msg(r->ever_up || r->waited ? LOG_INFO : LOG_NOTICE, "%s", text);
}

static void on_ready(void *user, struct tun_client *c, const char *name,
		     bool resumed)
{
	struct tunnel_remote *r = user;
	char *desc;

	if (resumed) {
		/* Same session, same virtual controller: nothing to reset. */
		log_notice("upstream %s: session resumed", r->desc);
		return;
	}
	/* The status file and the log name the transport in use. */
	if (asprintf(&desc, "%s:%s", tun_client_transport(c) ==
		     TUN_TRANSPORT_TLS ? "tls" : "dtls", r->where) >= 0) {
		free(r->desc);
		r->desc = desc;
	}
	free(r->name);
	r->name = strdup(name ? name : "");
	r->up = true;
	r->ever_up = true;
	r->backoff_us = CD_REMOTE_BACKOFF_MIN_US;
	r->st.connects++;
	r->st.up_since_us = cd_remote_realtime_us();
	log_notice("upstream %s: logged in as %s", r->desc, name ? name : "?");
	if (r->cbs.up)
		r->cbs.up(r->user);
}

static int on_packet(void *user, struct tun_client *c, const uint8_t *h4,
		     size_t len)
{
	struct tunnel_remote *r = user;
	struct h4_pkt pkt;
	int err;

	err = h4_parse(&pkt, h4, len, CD_PKT_MAX);
	if (err || pkt.type == H4_CMD) {
		log_warn("upstream %s: refused a packet from the server: %s",
			 r->desc, err ? h4_strerror(err) : "a command");
		return 0;
	}
	r->st.pkts_in++;
	r->st.bytes_in += len;
	if (r->cbs.packet)
		r->cbs.packet(&pkt, r->user);
	return 0;
}

static void on_down(void *user, struct tun_client *c, int reason,
		    const char *text)
{
	struct tunnel_remote *r = user;
	bool was_up = r->up;
	char why[640], advice[256], line[sizeof(why) + sizeof(advice) + 32];

	/* The tunnel's text already names the reason when there is one. */
	snprintf(why, sizeof(why), "%s", text && *text ? text :
		 tun_reason_str(reason));
	tun_client_free(c);	/* the tunnel allows it from this callback */
	r->c = NULL;
	r->up = false;
	r->st.up_since_us = 0;
	if (reason_is_final(reason) || (!r->ever_up && !r->cbs.waiting)) {
		advise(r, reason, advice, sizeof(advice));
		if (!strncmp(why, "cannot resolve", 14))
			snprintf(advice, sizeof(advice), "check the gateway's name "
				 "(--server overrides a bundle's) and this "
				 "computer's network");
		snprintf(line, sizeof(line), "%s%s; %s", r->ever_up ?
			 "session ended: " : "", why, advice);
		if (was_up && r->cbs.down)
			r->cbs.down(-ECONNRESET, r->user);
		if (r->cbs.failed)
			r->cbs.failed(reason_err(reason), line, r->user);
		return;
	}
	if (!r->ever_up) {
		/* Patient (remote.h): the caller tells the user, we retry. */
		advise(r, reason, advice, sizeof(advice));
		if (!strncmp(why, "cannot resolve", 14))
			snprintf(advice, sizeof(advice), "check the gateway's name "
				 "(--server overrides a bundle's) and this "
				 "computer's network");
		r->waited = true;
		tunnel_retry(r, reason);
		r->cbs.waiting(reason_err(reason), why, advice, r->user);
		return;
	}
	log_warn("upstream %s: %s: %s", r->desc,
		 was_up ? "session lost" : "cannot connect", why);
	tunnel_retry(r, reason);
	if (was_up && r->cbs.down)
		r->cbs.down(-ECONNRESET, r->user);
}

static void on_writable(void *user, struct tun_client *c)
{
	struct tunnel_remote *r = user;

	if (!r->want_drain)
		return;
	r->want_drain = false;
	if (r->cbs.drained)
		r->cbs.drained(r->user);
}

static const struct tun_client_ops tunnel_client_ops = {
	.on_ready = on_ready,
	.on_packet = on_packet,
	.on_down = on_down,
	.on_writable = on_writable,
	.on_progress = on_progress,
};

static int write_secret(const char *path, const char *data)
{
	size_t n = strlen(data), off = 0;
	ssize_t w;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < n) {
		w = write(fd, data + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

/*
 * The bundle's PEMs as files for tun_client_new(), in a fresh private
 * directory; the caller removes them (bundle_files_remove) right after.
 */
static int bundle_files(struct tunnel_remote *r, char dir[64], char ca[96],
			char crt[96], char key[96])
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	int err;

	if (!base || base[0] != '/' || strlen(base) > 40)
		base = "/tmp";
	snprintf(dir, 64, "%s/bgw-cdclient.XXXXXX", base);
	if (!mkdtemp(dir))
		return -errno;
	snprintf(ca, 96, "%s/ca.pem", dir);
	snprintf(crt, 96, "%s/cert.pem", dir);
	snprintf(key, 96, "%s/key.pem", dir);
	err = write_secret(ca, r->ca_pem);
	if (!err)
		err = write_secret(crt, r->cert_pem);
	if (!err)
		err = write_secret(key, r->key_pem);
	return err;
}

static void bundle_files_remove(const char *dir, const char *ca,
				const char *crt, const char *key)
{
	unlink(key);
	unlink(crt);
	unlink(ca);
	rmdir(dir);
}

static void tunnel_connect(struct tunnel_remote *r)
{
	char dir[64] = "", ca[96] = "", crt[96] = "", key[96] = "";
	struct tun_client_cfg cfg = r->cfg;
	int err;

	if (r->key_pem) {
		err = bundle_files(r, dir, ca, crt, key);
		if (err) {
			if (dir[0])
				bundle_files_remove(dir, ca, crt, key);
			log_err("upstream %s: cannot stage the bundle's "
				"credentials: %s", r->desc, strerror(-err));
			tunnel_retry(r, TUN_R_INTERNAL);
			return;
		}
		cfg.ca_file = ca;
		cfg.cert_file = crt;
		cfg.key_file = key;
	}
	/* The first time on the terminal: the user waits for it. */
	if (r->cfg.host)
		log_msg(r->ever_up || r->waited ? LOG_INFO : LOG_NOTICE,
			"connecting to %s:%s over %s%s",
			r->host, r->port, r->transport == CD_TRANSPORT_TLS ? "TLS (TCP)" :
			r->transport == CD_TRANSPORT_DTLS ? "DTLS (UDP)" :
			"DTLS (UDP), TLS (TCP) after 1 s without an answer",
			r->nrelay ? ", and through the bundle's relays" : "");
	else
		log_msg(r->ever_up || r->waited ? LOG_INFO : LOG_NOTICE,
			"connecting through relay%s %s%s "
			"over DTLS (UDP), and directly once the relay gives the gateway's "
			"address", r->nrelay > 1 ? "s" : "", r->relay[0],
			r->nrelay > 1 ? " and others" : "");
	err = tun_client_new(&r->c, r->loop, &cfg, &tunnel_client_ops, r);
	if (r->key_pem)
		bundle_files_remove(dir, ca, crt, key);
	if (err) {
		r->c = NULL;
		if (err == -EINVAL || err == -ENOENT || err == -EACCES) {
			/* Reported from the loop: we may be in start(). */
			r->fail_err = -EINVAL;
			r->fail_why = r->bundle_path ?
				"the bundle's CA, certificate or key is unusable; "
				"ask the admin for a new bundle" :
				"the --ca file is not a usable CA certificate "
				"(PEM); ask the admin for the gateway's ca.crt";
			loop_timer_arm(r->timer, 0);
			return;
		}
		log_warn("upstream %s: %s", r->desc, strerror(-err));
		tunnel_retry(r, TUN_R_INTERNAL);
	}
}

static void tunnel_on_timer(struct loop_timer *t, void *user)
{
	struct tunnel_remote *r = user;

	if (r->fail_err) {
		if (r->cbs.failed)
			r->cbs.failed(r->fail_err, r->fail_why, r->user);
		return;
	}
	if (!r->c)
		tunnel_connect(r);
}

static int tunnel_start(struct cd_remote *base)
{
	struct tunnel_remote *r = (struct tunnel_remote *)base;

	if (r->started)
		return -EALREADY;
	r->started = true;
	tunnel_connect(r);
	return 0;
}

static int tunnel_send(struct cd_remote *base, const uint8_t *h4, size_t len)
{
	struct tunnel_remote *r = (struct tunnel_remote *)base;
	int err;

	if (!r->up || !r->c)
		return -ENOTCONN;
	err = tun_client_send(r->c, h4, len);
	if (err == -ENOBUFS)
		r->want_drain = true;
	if (err == -EBADMSG)
		err = -EINVAL;
	if (err)
		return err;
	r->st.pkts_out++;
	r->st.bytes_out += len;
	return 0;
}

static bool tunnel_is_up(const struct cd_remote *base)
{
	return ((const struct tunnel_remote *)base)->up;
}

static const char *tunnel_describe(const struct cd_remote *base)
{
	return ((const struct tunnel_remote *)base)->desc;
}

static const char *tunnel_user(const struct cd_remote *base)
{
	const struct tunnel_remote *r = (const struct tunnel_remote *)base;

	return r->name ? r->name : r->login;
}

static void tunnel_stats(const struct cd_remote *base, struct cd_remote_stats *st)
{
	const struct tunnel_remote *r = (const struct tunnel_remote *)base;
	struct tun_rel_stats rs;

	*st = r->st;
	if (r->c) {
		tun_client_get_stats(r->c, &rs);
		st->srtt_us = rs.srtt_us;
	}
}

static void tunnel_free(struct cd_remote *base)
{
	struct tunnel_remote *r = (struct tunnel_remote *)base;

	tun_client_free(r->c);
	loop_timer_free(r->timer);
	free(r->desc);
	free(r->host);
	free(r->port);
	free(r->ca_file);
	free(r->cert_file);
	free(r->key_file);
	free(r->login);
	free(r->name);
	free(r->ca_path);
	free(r->bundle_path);
	free(r->bundle_user);
	free(r->where);
	free(r->issue);
	for (unsigned i = 0; i < r->nrelay; i++)
		free(r->relay[i]);
	secmem_free(r->password, r->password_len);
	free(r->ca_pem);
	free(r->cert_pem);
	secmem_free(r->key_pem, r->key_pem ? strlen(r->key_pem) : 0);
	free(r);
}

static const struct cd_remote_ops tunnel_ops = {
	.start = tunnel_start,
	.send = tunnel_send,
	.is_up = tunnel_is_up,
	.describe = tunnel_describe,
	.user = tunnel_user,
	.stats = tunnel_stats,
	.free = tunnel_free,
};

static char *dup_opt(const char *s, bool *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = true;
	return d;
}

int cd_remote_new_tunnel(struct cd_remote **out, struct loop *l,
			 const struct cd_tunnel_opts *o,
			 const struct cd_remote_cbs *cbs, void *user)
{
	struct tunnel_remote *r;
	bool bad = false;
	bool cert = o->cert_file || o->cert_pem;

	*out = NULL;
	/* Exactly one way to log in, and always a CA to pin the server to. */
	if ((!o->host && !o->nrelay) || (o->host && !o->port) ||
	    o->nrelay > TUN_RELAYS_MAX || (o->nrelay && !o->home_id) ||
	    (!o->ca_file && !o->ca_pem) ||
	    (!o->cert_file) != (!o->key_file) ||
	    (!o->cert_pem) != (!o->key_pem) || (o->cert_file && o->cert_pem) ||
	    (!cert && (!o->user || !o->password)) ||
	    (o->ca_pem && !o->cert_pem))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base.ops = &tunnel_ops;
	r->loop = l;
	r->cbs = *cbs;
	r->user = user;
	r->backoff_us = CD_REMOTE_BACKOFF_MIN_US;
	r->transport = o->transport;
	if (asprintf(&r->where, o->host ? "%s:%s" : "relay %s", o->host ? o->host : o->relays[0],
		     o->port) < 0)
		r->where = NULL;
	if (asprintf(&r->issue, "%s %s", o->host ? "--server" : "--relay",
		     r->where ? r->where + (o->host ? 0 : 6) : "?") < 0)
		r->issue = NULL;
	if (!r->where || !r->issue) {
		free(r->where);
		free(r->issue);
		free(r);
		return -ENOMEM;
	}
	if (asprintf(&r->desc, "%s%s", o->transport == CD_TRANSPORT_TLS ? "tls:" :
		     o->transport == CD_TRANSPORT_DTLS ? "dtls:" : "", r->where) < 0) {
		r->desc = NULL;
		bad = true;
	}
	r->host = dup_opt(o->host, &bad);
	r->port = dup_opt(o->port, &bad);
	r->nrelay = o->nrelay;
	for (unsigned i = 0; i < o->nrelay; i++) {
		r->relay[i] = dup_opt(o->relays[i], &bad);
		if (!r->relay[i])
			bad = true;
	}
	if (o->nrelay)
		memcpy(r->home_id, o->home_id, TUN_HOME_ID_LEN);
	r->ca_file = dup_opt(o->ca_file, &bad);
	r->cert_file = dup_opt(o->cert_file, &bad);
	r->key_file = dup_opt(o->key_file, &bad);
	r->login = dup_opt(o->user, &bad);
	r->ca_pem = dup_opt(o->ca_pem, &bad);
	r->cert_pem = dup_opt(o->cert_pem, &bad);
	r->key_pem = dup_opt(o->key_pem, &bad);
	r->ca_path = dup_opt(o->ca_path, &bad);
	r->bundle_path = dup_opt(o->bundle_path, &bad);
	r->bundle_user = dup_opt(o->bundle_user, &bad);
	if (o->password && !cert) {
		r->password = malloc(o->password_len + 1);
		if (r->password) {
			memcpy(r->password, o->password, o->password_len);
			r->password[o->password_len] = '\0';
			r->password_len = o->password_len;
		} else {
			bad = true;
		}
	}
	r->timer = loop_timer_new(l, tunnel_on_timer, r);
	if (bad || !r->timer) {
		tunnel_free(&r->base);
		return -ENOMEM;
	}
	r->cfg.host = r->host;
	r->cfg.port = r->port;
	r->cfg.relays = (const char *const *)r->relay;
	r->cfg.nrelay = r->nrelay;
	r->cfg.home_id = r->nrelay ? r->home_id : NULL;
	r->cfg.transport = o->transport == CD_TRANSPORT_TLS ? TUN_TRANSPORT_TLS :
			   o->transport == CD_TRANSPORT_DTLS ? TUN_TRANSPORT_DTLS :
			   TUN_TRANSPORT_AUTO;
	r->cfg.ca_file = r->ca_file;
	r->cfg.cert_file = r->cert_file;
	r->cfg.key_file = r->key_file;
	if (!cert) {
		r->cfg.user = r->login;
		r->cfg.password = r->password;
		r->cfg.password_len = r->password_len;
	}
	*out = &r->base;
	return 0;
}
