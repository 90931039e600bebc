/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd[mux], the core (muxd/core.h): the controller transport with
 * reopen and backoff, the mux core, the authdb as policy (pushed by the
 * monitor, without its verifiers), and the push channel from the monitor;
 * the local sessions are in core_local.c, the tunnel's in core_tun.c.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "cursor.h"
#include "hci.h"
#include "hci_names.h"
#include "log.h"
#include "pair.h"
#include "rpa.h"
#include "sandbox.h"
#include "secmem.h"
#include "transport.h"

static bool pol_is_user(const char *user, void *ctx)
{
	return core_is_user(ctx, user) || core_pair_allows(ctx, user, NULL, 0);
}

static bool pol_is_admin(const char *user, void *ctx)
{
	struct muxd_core *c = ctx;

	return c->db && authdb_user_is_admin(c->db, user);
}

static bool pol_may_access(const char *user, const struct bdaddr *a, uint8_t type, void *ctx)
{
	struct muxd_core *c = ctx;

	if (core_pair_allows(c, user, a, type))
		return true;
	return c->db && authdb_user_may_access(c->db, user, a, type);
}

/* The authdb's device irk lines, then the household bonds': an RPA's identity. */
static int pol_resolve_rpa(const struct bdaddr *rpa, struct bdaddr *id, uint8_t *id_type,
			   void *ctx)
{
	struct muxd_core *c = ctx;
	struct authdb_rd rd;
	int r;

	if (!c->db)
		return core_hirk_resolve(c, rpa, id, id_type);
	r = authdb_rpa_resolve(c->db, rpa, &rd);
	if (r == 0) {
		*id = rd.addr;
		*id_type = rd.type;
	}
	secmem_wipe(rd.irk, sizeof(rd.irk));
	if (r == -ENOENT)
		r = core_hirk_resolve(c, rpa, id, id_type);
	return r;
}

/*
 * The household LE bonds' IRKs (doc/virtual-controller.md, "Private
 * addresses"): the IRK a device distributed when a permitted user first
 * paired it, kept with its bond, resolves its private addresses for
 * every user the policy allows its identity, as an IRK the admin wrote
 * does. 0 or -ENOENT.
 */
int core_hirk_resolve(const struct muxd_core *c, const struct bdaddr *rpa,
		      struct bdaddr *id, uint8_t *id_type)
{
	unsigned i;

	for (i = 0; i < c->nhirk; i++)
		if (rpa_matches(c->hirk[i].irk, rpa)) {
			*id = c->hirk[i].id;
			*id_type = c->hirk[i].type;
			return 0;
		}
	return -ENOENT;
}

/*
 * Read the household IRKs from the monitor (RPC_BOND_IRKS, a page at a
 * time) into a new table, swapped in whole: at start, at each policy
 * push (bgw-authdb bond forget, then a reload, drops one) and after a new
 * LE bond. A store the monitor refuses means no household IRKs.
 */
void core_hirk_refresh(struct muxd_core *c)
{
	static struct core_hirk t[CORE_HIRK_MAX];
	struct rpc_reply rep;
	unsigned total = 0, n = 0, got, i;
	int r;

	do {
		memset(&rep, 0, sizeof(rep));
		r = muxd_call(&c->d, RPC_BOND_IRKS, (uint8_t)n, NULL, NULL, NULL, NULL, &rep, NULL);
		if (r == 0)
			r = rep.status;
		if (r == 0 && (rep.blob_len < 2 ||
			       (rep.blob_len - 2) % RPC_BOND_IRK_ENT_LEN != 0))
			r = -EPROTO;
		if (r < 0)
			break;
		total = get_le16(rep.blob);
		got = (unsigned)(rep.blob_len - 2) / RPC_BOND_IRK_ENT_LEN;
		for (i = 0; i < got && n < CORE_HIRK_MAX; i++, n++) {
			const uint8_t *e = rep.blob + 2 + i * RPC_BOND_IRK_ENT_LEN;

			memcpy(t[n].id.b, e, 6);
			t[n].type = e[6] ? BDADDR_RANDOM : BDADDR_PUBLIC;
			memcpy(t[n].irk, e + 7, 16);
		}
		secmem_wipe(&rep, sizeof(rep));
		/* The store changed between two pages, or a page came back empty. */
		if (n < total && (got == 0 || n >= CORE_HIRK_MAX))
			break;
	} while (n < total);
	if (r < 0 || n < total) {
		if (r < 0 && r != -EIO)
			log_err("monitor: household IRKs: %s", strerror(-r));
		n = 0;
	}
	secmem_wipe(c->hirk, sizeof(c->hirk));
	memcpy(c->hirk, t, n * sizeof(t[0]));
	c->nhirk = n;
	secmem_wipe(t, sizeof(t));
}

/*
 * Household bonds: the monitor keeps the store (doc/security.md); the
 * core asks for a device's key when the controller does, and hands it a
 * new one, holding neither longer than the call.
 */
static int pol_bond_key(const struct bdaddr *a, uint8_t key[16], uint8_t *key_type, void *ctx)
{
	struct muxd_core *c = ctx;
	struct rpc_reply rep;
	char as[BDADDR_STRLEN];
	int r;

	memset(&rep, 0, sizeof(rep));
	r = muxd_call(&c->d, RPC_BOND_KEY, 0, NULL, NULL, bdaddr_fmt(a, as), NULL, &rep, NULL);
	if (r == 0)
		r = rep.status;
	if (r == 0 && rep.blob_len != RPC_BOND_BLOB_LEN)
		r = -EPROTO;
	if (r == 0 && key) {
		memcpy(key, rep.blob, 16);
		*key_type = rep.blob[16];
	}
	secmem_wipe(&rep, sizeof(rep));
	return r < 0 ? r : 0;
}

static int pol_bond_new(const char *user, const struct bdaddr *a, const uint8_t key[16],
			uint8_t key_type, void *ctx)
{
	struct muxd_core *c = ctx;
	struct rpc_reply rep;
	struct rpc_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.type = RPC_BOND_NEW;
	rpc_str(q.name, 65, user);
	bdaddr_fmt(a, q.rd);
	memcpy(q.blob, key, 16);
	q.blob[16] = key_type;
	q.blob_len = RPC_BOND_BLOB_LEN;
	r = muxd_rpc(&c->d, &q, &rep, NULL);
	secmem_wipe(&q, sizeof(q));
	if (r < 0)
		return r;
	return rep.status;
}

/* The same for LE: the LTK of a device's legacy pairing (mux_bond_le.c). */
static int pol_bond_ltk(const struct bdaddr *a, uint8_t type, struct mux_le_bond *b,
			void *ctx)
{
	struct muxd_core *c = ctx;
	struct rpc_reply rep;
	char as[BDADDR_STRLEN];
	int r;

	memset(&rep, 0, sizeof(rep));
	r = muxd_call(&c->d, RPC_BOND_LTK, type == BDADDR_RANDOM, NULL, NULL,
		      bdaddr_fmt(a, as), NULL, &rep, NULL);
	if (r == 0)
		r = rep.status;
	if (r == 0) {
		struct mux_le_bond tmp;

		r = rpc_le_bond_decode(rep.blob, rep.blob_len, b ? b : &tmp);
		secmem_wipe(&tmp, sizeof(tmp));
	}
	secmem_wipe(&rep, sizeof(rep));
	return r < 0 ? r : 0;
}

static int pol_bond_new_le(const char *user, const struct bdaddr *a, uint8_t type,
			   const struct mux_le_bond *b, void *ctx)
{
	struct muxd_core *c = ctx;
	struct rpc_reply rep;
	struct rpc_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.type = RPC_BOND_NEW_LE;
	q.arg = type == BDADDR_RANDOM;
	rpc_str(q.name, 65, user);
	bdaddr_fmt(a, q.rd);
	q.blob_len = rpc_le_bond_encode(b, q.blob);
	r = muxd_rpc(&c->d, &q, &rep, NULL);
	secmem_wipe(&q, sizeof(q));
	if (r < 0)
		return r;
	/* Its IRK (or an IRK it no longer has) now applies. */
	if (rep.status == 0)
		core_hirk_refresh(c);
	return rep.status;
}

/* The device as central's key (mux_bond_central.c), the same way. */
static int pol_bond_pltk(const struct bdaddr *a, uint8_t type, struct mux_le_pkey *k,
			 void *ctx)
{
	struct muxd_core *c = ctx;
	struct rpc_reply rep;
	char as[BDADDR_STRLEN];
	int r;

	memset(&rep, 0, sizeof(rep));
	r = muxd_call(&c->d, RPC_BOND_PLTK, type == BDADDR_RANDOM, NULL, NULL,
		      bdaddr_fmt(a, as), NULL, &rep, NULL);
	if (r == 0)
		r = rep.status;
	if (r == 0)
		r = rpc_le_pkey_decode(rep.blob, rep.blob_len, k);
	secmem_wipe(&rep, sizeof(rep));
	return r < 0 ? r : 0;
}

static int pol_bond_new_pltk(const char *user, const struct bdaddr *a, uint8_t type,
			     const struct mux_le_pkey *k, void *ctx)
{
	struct muxd_core *c = ctx;
	struct rpc_reply rep;
	struct rpc_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.type = RPC_BOND_NEW_PLTK;
	q.arg = type == BDADDR_RANDOM;
	rpc_str(q.name, 65, user);
	bdaddr_fmt(a, q.rd);
	rpc_le_pkey_encode(k, q.blob);
	q.blob_len = RPC_BOND_PLTK_BLOB_LEN;
	r = muxd_rpc(&c->d, &q, &rep, NULL);
	secmem_wipe(&q, sizeof(q));
	if (r < 0)
		return r;
	return rep.status;
}

static void tr_rx(const uint8_t *h4, size_t len, void *user)
{
	struct muxd_core *c = user;

	mux_ctrl_input(c->mux, h4, len);
	if (mux_is_ready(c->mux))
		c->backoff_ms = BACKOFF_MIN_MS;
}

static void schedule_restart(struct muxd_core *c, unsigned delay_ms)
{
	if (!loop_timer_is_armed(c->restart))
		loop_timer_arm(c->restart, (uint64_t)delay_ms * 1000);
}

static void tr_error(int err, void *user)
{
	struct muxd_core *c = user;

	log_err("controller %s lost: %s", c->d.conf.controller, strerror(-err));
	schedule_restart(c, 0);
}

static int ctrl_send(const uint8_t *h4, size_t len, void *user)
{
	struct muxd_core *c = user;

	return c->tr ? mux_transport_send(c->tr, h4, len) : -EPIPE;
}

static void ctrl_failed(struct mux *m, int err, void *user)
{
	struct muxd_core *c = user;

	schedule_restart(c, 0);
}

static int core_open_fd(const char *uri, char *err, size_t errlen, void *user);

/* Close what is left of the transport, then reopen it with backoff. */
static void restart_fn(struct loop_timer *t, void *user)
{
	struct muxd_core *c = user;
	struct mux_transport_ops ops = {
		tr_rx, tr_error, c, c->d.conf.sim_time_scale,
		core_open_fd,
	};
	char err[512];
	int r;

	if (c->tr) {
		mux_transport_close(c->tr);
		c->tr = NULL;
		mux_ctrl_down(c->mux);
		loop_timer_arm(c->restart, (uint64_t)c->backoff_ms * 1000);
		return;
	}
	r = mux_transport_open(c->d.l, c->d.conf.controller, &ops, &c->tr, err, sizeof(err));
	if (r < 0) {
		log_err("controller: %s (retrying in %u ms)", err, c->backoff_ms);
		loop_timer_arm(c->restart, (uint64_t)c->backoff_ms * 1000);
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
		return;
	}
	log_notice("controller %s open", c->d.conf.controller);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	mux_ctrl_up(c->mux);
}

static void session_dead(struct mux_session *s, void *sess_user, void *user)
{
	struct muxd_core *c = user;
	enum sess_kind *kind = sess_user;

	/* The pairing's session is none of ours: it ends on its own. */
	if (mux_pair_session_dead(c->pair, s))
		return;
	if (*kind == SESS_TUNNEL)
		rsess_dead(sess_user);
	else
		client_close_later(sess_user);
}

/* An ACL refusal by the core: one audit record (the core rate-limits). */
static void pol_denied(const char *user, const struct bdaddr *a, uint8_t type,
		       uint16_t opcode, void *ctx)
{
	struct muxd_core *c = ctx;
	char rd[BDADDR_STRLEN + 8], detail[64];
	const char *name = hcistr_opcode(opcode);

	bdaddr_fmt(a, rd);
	strcat(rd, type == BDADDR_RANDOM ? " random" : " public");
	snprintf(detail, sizeof(detail), "%s", name ? name : "command");
	muxd_call(&c->d, RPC_AUDIT, AUDIT_ACL_DENY, user, NULL, rd, detail, NULL, NULL);
}

/* A pairing the core refused for the household: one audit record. */
static void pol_pair_refused(const char *user, const struct bdaddr *a, uint8_t type,
			     const char *why, void *ctx)
{
	struct muxd_core *c = ctx;
	char rd[BDADDR_STRLEN + 8];

	bdaddr_fmt(a, rd);
	strcat(rd, type == BDADDR_RANDOM ? " random" : " public");
	muxd_call(&c->d, RPC_AUDIT, AUDIT_PAIR_REFUSED, user, NULL, rd, why, NULL, NULL);
}

/* The policy: the authdb without its password lines, parsed whole. */
static int policy_take(struct muxd_core *c, const uint8_t *p, size_t len)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	int r;

	r = authdb_parse_buffer("policy from the monitor", (const char *)p, len, &db,
				err, sizeof(err));
	if (r < 0) {
		log_err("policy from the monitor refused: %s", err);
		return r;
	}
	authdb_free(c->db);
	c->db = db;
	return 0;
}

/* A peer process's link and what the monitor vouches for about it. */
static int link_take(struct muxd_core *c, const uint8_t *p, size_t len, int fd)
{
	struct rpc_label lb;
	struct tun_link_label tl;

	if (fd < 0 || rpc_label_decode(p, len, &lb) < 0) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	memset(&tl, 0, sizeof(tl));
	snprintf(tl.user, sizeof(tl.user), "%s", lb.user);
	snprintf(tl.peer, sizeof(tl.peer), "%s", lb.peer);
	tl.cert = lb.cert;
	memcpy(tl.cert_sha256, lb.sha256, sizeof(tl.cert_sha256));
	if (!c->tun) {
		close(fd);
		return 0;
	}
	/* A refused link is that peer's failure, not the core's. */
	if (tun_server_add_link(c->tun, fd, &tl) < 0)
		log_warn("tunnel: link from %s refused", tl.peer);
	return 0;
}

/* One push from the monitor (trusted, but still parsed whole). */
static int push_receive(struct muxd_core *c, int timeout_ms, uint32_t *type)
{
	uint8_t *p;
	size_t len;
	int r, fd = -1;

	r = rpc_recv(c->push_fd, type, &p, &len, RPC_PUSH_MAX, &fd, timeout_ms);
	if (r < 0)
		return r;
	if (*type == RPC_POLICY && fd < 0)
		r = policy_take(c, p, len);
	else if (*type == RPC_LINK_PUSH)
		r = link_take(c, p, len, fd);
	else if (*type == RPC_CTL_ASK && fd < 0)
		r = ctl_core_answer(c, p, len);
	else
		r = -EPROTO;
	if (r == -EPROTO && fd >= 0 && *type != RPC_LINK_PUSH)
		close(fd);
	explicit_bzero(p, len);
	free(p);
	return r;
}

static void on_push(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd_core *c = user;
	uint32_t type = 0;
	int r = push_receive(c, RPC_TIMEOUT_MS, &type);

	if (r < 0) {
		if (r != -EPIPE)
			log_err("push channel: %s: stopping", strerror(-r));
		loop_quit(l, r == -EPIPE ? 0 : EXIT_ERROR);
		return;
	}
	if (type == RPC_POLICY) {
		core_hirk_refresh(c);
		core_tun_policy_changed(c);
		mux_policy_changed(c->mux);
	}
}

static void on_term(struct loop *l, int signo, void *user)
{
	log_notice("signal %d: stopping", signo);
	loop_quit(l, 0);
}

/* The monitor opens the configured controller and passes it. */
static int core_open_fd(const char *uri, char *err, size_t errlen, void *user)
{
	struct muxd_core *c = user;
	struct rpc_reply rep;
	int fd = -1, r;

	r = muxd_call(&c->d, RPC_CTRL_OPEN, 0, NULL, NULL, NULL, NULL, &rep, &fd);
	if (r < 0) {
		snprintf(err, errlen, "%s: asking the monitor: %s", uri, strerror(-r));
		return r;
	}
	if (rep.status < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s", rep.err[0] ? rep.err : strerror(-rep.status));
		return rep.status < 0 ? rep.status : -EIO;
	}
	return fd;
}

int core_run(struct muxd_core *c)
{
	static struct mux_policy pol = {
		pol_is_user, pol_is_admin, pol_may_access, pol_denied, pol_resolve_rpa,
		pol_bond_key, pol_bond_new, NULL, pol_bond_ltk, pol_bond_new_le,
		pol_pair_refused, pol_bond_pltk, pol_bond_new_pltk
	};
	static struct mux_ops ops = { ctrl_send, ctrl_failed, session_dead, NULL };
	struct mux_config mcfg;
	int keep[4 + MUXD_LISTEN_MAX];
	uint32_t type = 0;
	unsigned i, nkeep = 0;
	int r;

	sandbox_set_name("bgw-muxd[mux]");
	/*
	 * Only the channels to the monitor, the local listeners and, until
	 * it is up (muxd_ready), the start-up pipe and /dev/null.
	 */
	keep[nkeep++] = c->d.req_fd;
	keep[nkeep++] = c->push_fd;
	keep[nkeep++] = c->d.ready_fd;
	keep[nkeep++] = c->d.null_fd;
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		if (c->lfd[i] >= 0)
			keep[nkeep++] = c->lfd[i];
	r = sandbox_close_all_but(keep, nkeep);
	log_reopen();
	if (r < 0) {
		log_err("core: closing inherited descriptors: %s", strerror(-r));
		return EXIT_ERROR;
	}
	r = push_receive(c, RPC_TIMEOUT_MS, &type);
	if (r < 0 || type != RPC_POLICY) {
		log_err("core: no policy from the monitor: %s", strerror(r < 0 ? -r : EPROTO));
		return EXIT_ERROR;
	}
	c->d.l = loop_new();
	if (!c->d.l)
		return EXIT_ERROR;
	pol.ctx = c;
	ops.user = c;
	core_hirk_refresh(c);
	memset(&mcfg, 0, sizeof(mcfg));
	mcfg.max_sessions = c->d.conf.max_sessions;
	/* A simulated controller's clock: hosts' inquiry lengths run in it. */
	if (strcmp(c->d.conf.controller, "sim") == 0 || strncmp(c->d.conf.controller, "sim:", 4) == 0)
		mcfg.time_scale = c->d.conf.sim_time_scale;
	c->mux = mux_new(c->d.l, &mcfg, &pol, &ops);
	c->restart = loop_timer_new(c->d.l, restart_fn, c);
	if (!c->mux || !c->restart || core_local_start(c) < 0)
		return EXIT_ERROR;
	if (muxd_conf_has_tunnel(&c->d.conf) && core_tun_start(c) < 0)
		return EXIT_ERROR;
	if (loop_add_fd(c->d.l, c->push_fd, EPOLLIN, on_push, c) < 0 ||
	    loop_add_signal(c->d.l, SIGTERM, on_term, c) < 0 ||
	    loop_add_signal(c->d.l, SIGINT, on_term, c) < 0)
		return EXIT_ERROR;
	/* The monitor reloads; a SIGHUP sent to the whole group is its. */
	signal(SIGHUP, SIG_IGN);
	/* SIGTERM and SIGINT stay blocked for the loop's signalfd; SIGHUP is ignored. */
	muxd_unblock_signal(SIGHUP);
	c->backoff_ms = BACKOFF_MIN_MS;
	restart_fn(c->restart, c);
	/* Everything is open: from here on, no privilege is needed. */
	if (sandbox_drop_privileges(SANDBOX_CORE) < 0)
		return EXIT_ERROR;
	/* The new credentials cleared the parent-death signal: again. */
	if (sandbox_die_with_parent(c->d.parent) < 0)
		return EXIT_ERROR;
	if (c->d.conf.sandbox) {
		if (sandbox_enter(SANDBOX_CORE) < 0)
			return EXIT_ERROR;
	} else {
		log_warn("sandbox off (configuration): the core runs without its seccomp filter");
	}
	log_notice("started: controller %s, %u listener%s", c->d.conf.controller,
		   c->d.conf.nlisten, c->d.conf.nlisten == 1 ? "" : "s");
	muxd_ready(&c->d);
	/* loop_quit's code: an error must end the daemon non-zero. */
	r = loop_run(c->d.l);
	/*
	 * Stopping: a second SIGTERM (systemd signals the whole group, the
	 * monitor once more) must not kill us once the loop's signalfd is
	 * gone, or a normal stop reads as "killed by signal 15".
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	return r < 0 ? EXIT_ERROR : r;
}

/* Everything the core holds (called in every role: NULLs are fine). */
void core_cleanup(struct muxd_core *c)
{
	unsigned i;

	core_tun_stop(c);
	core_local_cleanup(c);
	core_pair_stop(c);
	if (c->d.l)
		loop_iterate(c->d.l, 0);	/* the tunnel's closed links */
	mux_free(c->mux);
	c->mux = NULL;
	mux_transport_close(c->tr);
	c->tr = NULL;
	loop_timer_free(c->restart);
	c->restart = NULL;
	for (i = 0; i < MUXD_LISTEN_MAX; i++) {
		if (c->lfd[i] < 0)
			continue;
		if (c->d.l)
			loop_del_fd(c->d.l, c->lfd[i]);
		close(c->lfd[i]);
		c->lfd[i] = -1;
	}
	secmem_wipe(c->hirk, sizeof(c->hirk));
	c->nhirk = 0;
	if (c->push_fd >= 0)
		close(c->push_fd);
	c->push_fd = -1;
	authdb_free(c->db);
	c->db = NULL;
}
