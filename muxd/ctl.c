/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd status and bgw-muxd kick (man/bgw-muxd.8): the admin's command,
 * the monitor's control socket and the core's answer (muxd/ctlmsg.h has
 * the messages and the picture).
 *
 * The control socket is the runtime directory's "control", mode 0600, and
 * the monitor also checks the caller's credentials (SO_PEERCRED): root,
 * or the daemon's own user when it was not started as root. It reads one
 * bounded ask from it, never network data; it asks the core over the
 * push channel and checks the core's snapshot whole before it forwards
 * it, or audits a kick from it. A core that answers out of turn, or with
 * a malformed snapshot, is ended like one that sends a malformed request.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "bonds.h"
#include "ctlmsg.h"
#include "cursor.h"
#include "hci_names.h"
#include "log.h"
#include "monitor.h"
#include "pair.h"
#include "rpa.h"

#define CTL_CLIENTS_MAX	4		/* admin commands waiting at once */
#define CTL_WAIT_US	5000000		/* for the core's answer */
#define CTL_CALL_MS	10000		/* the command's wait for the monitor */
/* bgw-muxd pair: the core's pairing gives up after 60 s; this is its bound. */
#define CTL_PAIR_WAIT_US (MUX_PAIR_TIMEOUT_US + 10000000ULL)
#define CTL_PAIR_CALL_MS ((int)(CTL_PAIR_WAIT_US / 1000) + 5000)

struct ctl_client {
	struct muxd_ctl *ctl;
	struct ctl_client *next;
	int fd;
	uid_t uid;
	uint8_t buf[RPC_HDR_LEN + CTL_ASK_MAX];
	size_t have;
	bool asked;
	struct ctl_ask ask;	/* seq: the monitor's, sent to the core */
	struct loop_timer *timer;
	bool confirm_wait;	/* pairing: the admin's yes or no is awaited */
};

struct muxd_ctl {
	struct muxd_monitor *m;
	int fd;
	struct ctl_client *clients;
	unsigned nclients;
	uint32_t seq;
	/* The core's answers on the push channel, one at a time. */
	uint8_t in[RPC_HDR_LEN + CTL_SNAP_MAX];
	size_t in_have;
	bool push_watched;
	/*
	 * bgw-muxd pair: the one pairing running, its device, and whether
	 * its key was kept (mon_bond_new, through ctl_pair_expects/kept).
	 */
	struct ctl_client *pair;
	struct mux_pair_dev pair_dev;
	bool pair_kept;
};

static int ctl_path(const struct muxd_conf *c, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", c->runtime_dir, MUXD_CONTROL_SOCK);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------------ */
/* Monitor */

int ctl_listen(struct muxd_monitor *m)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (ctl_path(&m->d.conf, sa.sun_path, sizeof(sa.sun_path)) < 0) {
		log_err("control socket: path too long");
		return -ENAMETOOLONG;
	}
	/* The instance lock is ours: a socket left here is stale. */
	if (lstat(sa.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("control socket %s: exists and is not a socket", sa.sun_path);
			return -EEXIST;
		}
		unlink(sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Never a moment with a wider mode than 0600. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(sa.sun_path, 0600) < 0 || listen(fd, 4) < 0) {
		r = -errno;
		log_err("control socket %s: %s", sa.sun_path, strerror(errno));
		close(fd);
		return r;
	}
	m->ctl_fd = fd;
	return 0;
}

static void client_free(struct ctl_client *cl)
{
	struct muxd_ctl *ctl;
	struct ctl_client **pp;

	if (!cl)
		return;
	ctl = cl->ctl;
	if (ctl->pair == cl) {
		/* The admin's command went away (or timed out): the core stops. */
		struct ctl_ask a = { .seq = cl->ask.seq, .kind = CTL_ASK_PAIR_CANCEL };
		uint8_t buf[CTL_ASK_MAX];
		int n = ctlmsg_ask_encode(&a, buf, sizeof(buf));

		ctl->pair = NULL;
		if (n > 0 && ctl->push_watched)
			rpc_send(ctl->m->push_fd, RPC_CTL_ASK, buf, (size_t)n, -1);
	}
	for (pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			ctl->nclients--;
			break;
		}
	}
	loop_timer_free(cl->timer);
	loop_del_fd(ctl->m->d.l, cl->fd);
	close(cl->fd);
	free(cl);
}

/* One whole message to the admin's command; it waits for it (2 s at most). */
static void client_send(struct ctl_client *cl, uint32_t type, const void *p, size_t len)
{
	if (rpc_send(cl->fd, type, p, len, -1) < 0)
		log_warn("control: answer to uid %u: %s", (unsigned)cl->uid, strerror(errno));
}

static void client_error(struct ctl_client *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void client_error(struct ctl_client *cl, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_send(cl, RPC_CTL_ERR, msg, strlen(msg));
}

static void client_timeout(struct loop_timer *t, void *user)
{
	struct ctl_client *cl = user;

	if (cl->asked && cl->ask.kind == CTL_ASK_PAIR)
		client_error(cl, "the pairing had no outcome within %u s",
			     (unsigned)(CTL_PAIR_WAIT_US / 1000000));
	else
		client_error(cl, cl->asked ? "the core did not answer within 5 s" :
					     "no request within 5 s");
	client_free(cl);
}

/* The core misbehaved on the push channel: it ends, and so does the daemon. */
static void core_bad(struct muxd_ctl *ctl, const char *why)
{
	struct muxd_monitor *m = ctl->m;

	log_err("core sent a malformed status answer (%s): ending it", why);
	if (ctl->push_watched) {
		loop_del_fd(m->d.l, m->push_fd);
		ctl->push_watched = false;
	}
	if (m->core_pid > 0)
		kill(m->core_pid, SIGKILL);
	ctl->pair = NULL;
	while (ctl->clients) {
		client_error(ctl->clients, "the core failed");
		client_free(ctl->clients);
	}
}

/* The core's answer: checked whole, then forwarded (and a kick audited). */
static void on_snapshot(struct muxd_ctl *ctl, const uint8_t *p, size_t len)
{
	struct muxd_monitor *m = ctl->m;
	struct ctl_client *cl;
	struct ctl_snap *s;
	const char *why = NULL;
	unsigned i;

	s = malloc(sizeof(*s));
	if (!s)
		return;
	if (ctlmsg_snap_decode(p, len, s, &why) < 0) {
		free(s);
		core_bad(ctl, why);
		return;
	}
	for (cl = ctl->clients; cl; cl = cl->next)
		if (cl->asked && cl->ask.seq == s->seq)
			break;
	if (cl && cl->ask.kind == CTL_ASK_KICK) {
		for (i = 0; i < s->nsess; i++) {
			const struct ctl_session *e = &s->sess[i];
			char detail[96], src[SRC_KEY_MAX];

			if (e->method == CTL_M_LOCAL)
				snprintf(src, sizeof(src), "%s", e->src);
			else
				src_key_peer(e->src, src, sizeof(src));
			snprintf(detail, sizeof(detail), "kicked by the admin (uid %u)",
				 (unsigned)cl->uid);
			log_notice("session %u (%s from %s) kicked by uid %u", (unsigned)e->id,
				   e->user, e->src, (unsigned)cl->uid);
			mon_audit(m, AUDIT_SESSION_END, e->user, src, detail);
		}
	}
	/* An answer to a command that timed out is dropped. */
	if (cl) {
		client_send(cl, RPC_CTL_SNAP, p, len);
		client_free(cl);
	}
	free(s);
}

/* bgw-muxd pair's outcome from the monitor itself (seq 0: no core asked). */
static void pair_refuse(struct ctl_client *cl, uint8_t result)
{
	struct ctl_pair_msg r = { cl->ask.seq, CTL_PAIR_DONE, 0, result, 0 };
	uint8_t buf[CTL_PAIR_LEN];
	int n = ctlmsg_pair_encode(&r, buf, sizeof(buf));

	if (n > 0)
		client_send(cl, RPC_CTL_PAIR, buf, (size_t)n);
	client_free(cl);
}

/*
 * A report of the running pairing: checked, forwarded to the admin's
 * command; the last one (DONE) says whether the monitor kept the key.
 */
static void on_pair_report(struct muxd_ctl *ctl, const uint8_t *p, size_t len)
{
	struct ctl_client *cl = ctl->pair;
	struct ctl_pair_msg r;
	uint8_t buf[CTL_PAIR_LEN];
	char as[BDADDR_STRLEN];
	int n;

	if (ctlmsg_pair_decode(p, len, &r) < 0) {
		core_bad(ctl, "malformed pairing report");
		return;
	}
	/* A report of a pairing the admin's command gave up on is dropped. */
	if (!cl || r.seq != cl->ask.seq)
		return;
	if (r.what != CTL_PAIR_DONE) {
		cl->confirm_wait = r.what == CTL_PAIR_CONFIRM || r.what == CTL_PAIR_ENTER;
		client_send(cl, RPC_CTL_PAIR, p, len);
		return;
	}
	bdaddr_fmt(&ctl->pair_dev.a, as);
	/* The core's word that it paired counts only with the key kept here. */
	if (r.result == MUX_PAIR_OK && !ctl->pair_kept)
		r.result = CTL_PAIR_R_NOT_KEPT;
	if (r.result == MUX_PAIR_OK)
		log_notice("control: %s paired at the gateway by uid %u: its key is the household bond",
			   as, (unsigned)cl->uid);
	else
		log_notice("control: pairing %s at the gateway (uid %u) failed (result %u, HCI status 0x%02x)",
			   as, (unsigned)cl->uid, r.result, r.hci);
	ctl->pair = NULL;
	n = ctlmsg_pair_encode(&r, buf, sizeof(buf));
	if (n > 0)
		client_send(cl, RPC_CTL_PAIR, buf, (size_t)n);
	client_free(cl);
}

bool ctl_pair_expects(struct muxd_monitor *m, const struct bdaddr *a, uint8_t type, bool le,
		      const uint8_t *irk, uid_t *uid, bool *by_identity)
{
	struct muxd_ctl *ctl = m->ctl;

	/*
	 * The device asked; or, asked by its private address, the identity
	 * the device gave in this pairing with an IRK that resolves that
	 * address, checked here, not on the core's word: a key is kept
	 * only for the device the admin named, while that pairing runs,
	 * and once (a pairing makes one bond; a core that could find IRKs
	 * resolving the address, 24 bits of hash, gets no second).
	 */
	if (!ctl || !ctl->pair || ctl->pair_kept ||
	    !ctlmsg_pair_bond_ok(&ctl->pair_dev, a, type, le, irk))
		return false;
	*uid = ctl->pair->uid;
	*by_identity = !(bdaddr_eq(a, &ctl->pair_dev.a) && type == ctl->pair_dev.type);
	return true;
}

void ctl_pair_kept(struct muxd_monitor *m)
{
	if (m->ctl && m->ctl->pair)
		m->ctl->pair_kept = true;
}

/*
 * bgw-muxd pair: one at a time, only for a device without a household
 * bond of its kind (a link key for BR/EDR, an LTK for LE, of that address
 * type; the admin forgets it first). false: refused, answered and cl freed.
 */
static bool pair_begin(struct ctl_client *cl)
{
	struct muxd_ctl *ctl = cl->ctl;
	char err[BONDS_ERR_MAX];
	struct bonds *b = NULL;
	const struct bond *x;
	struct mux_pair_dev d;
	bool bonded;
	unsigned i;

	if (ctl->pair) {
		pair_refuse(cl, CTL_PAIR_R_BUSY);
		return false;
	}
	ctlmsg_pair_target(cl->ask.target, &d);	/* checked by ctlmsg_ask_decode */
	if (bonds_load(ctl->m->d.conf.bonds, &b, err, sizeof(err)) < 0) {
		log_err("bond store refused: %s; bgw-muxd pair refused", err);
		pair_refuse(cl, CTL_PAIR_R_STORE);
		return false;
	}
	x = bonds_find(b, &d.a, d.type);
	bonded = x && (d.le ? x->has_ltk : x->has_lk);
	/* A private address: a device whose bond's IRK resolves it is bonded. */
	for (i = 0; !bonded && d.le && d.type == BDADDR_RANDOM && rpa_is_resolvable(&d.a) &&
		    i < bonds_count(b); i++) {
		x = bonds_at(b, i);
		bonded = x->has_ltk && x->has_irk && rpa_matches(x->irk, &d.a);
	}
	bonds_free(b);
	if (bonded) {
		pair_refuse(cl, CTL_PAIR_R_BONDED);
		return false;
	}
	ctl->pair = cl;
	ctl->pair_dev = d;
	ctl->pair_kept = false;
	log_notice("control: uid %u pairs %s at the gateway", (unsigned)cl->uid, cl->ask.target);
	return true;
}

/* The admin's yes or no, while the core awaits it; anything else ends the pairing. */
static void pair_answer(struct ctl_client *cl, const struct ctl_ask *a)
{
	struct ctl_ask fwd = *a;
	uint8_t buf[CTL_ASK_MAX];
	int n;

	if (a->kind != CTL_ASK_PAIR_ANSWER || !cl->confirm_wait || cl->ctl->pair != cl) {
		client_error(cl, "not an answer to the pairing's question");
		client_free(cl);
		return;
	}
	cl->confirm_wait = false;
	fwd.seq = cl->ask.seq;
	n = ctlmsg_ask_encode(&fwd, buf, sizeof(buf));
	if (n >= 0)
		n = rpc_send(cl->ctl->m->push_fd, RPC_CTL_ASK, buf, (size_t)n, -1);
	/* The answer may be a passkey: the pairing's secret while it runs. */
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(&fwd, sizeof(fwd));
	explicit_bzero(cl->buf, sizeof(cl->buf));
	if (n < 0) {
		client_error(cl, "cannot reach the core");
		client_free(cl);
	}
}

static void on_push_in(struct loop *l, int fd, uint32_t events, void *user)
{
	struct muxd_ctl *ctl = user;
	size_t want;
	ssize_t n;

	want = RPC_HDR_LEN;
	if (ctl->in_have >= RPC_HDR_LEN)
		want += get_le32(ctl->in + 4);
	n = recv(fd, ctl->in + ctl->in_have, want - ctl->in_have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The core is gone: its request channel says so (mon_proc_gone). */
		loop_del_fd(l, fd);
		ctl->push_watched = false;
		return;
	}
	ctl->in_have += (size_t)n;
	if (ctl->in_have == RPC_HDR_LEN) {
		/* The header first: the type and a bounded length. */
		if (get_le32(ctl->in) != RPC_CTL_SNAP && get_le32(ctl->in) != RPC_CTL_PAIR) {
			core_bad(ctl, "not a status answer");
			return;
		}
		if (get_le32(ctl->in + 4) > CTL_SNAP_MAX ||
		    (get_le32(ctl->in) == RPC_CTL_PAIR && get_le32(ctl->in + 4) != CTL_PAIR_LEN)) {
			core_bad(ctl, "too long");
			return;
		}
	}
	if (ctl->in_have < RPC_HDR_LEN || ctl->in_have < RPC_HDR_LEN + get_le32(ctl->in + 4))
		return;
	ctl->in_have = 0;
	if (get_le32(ctl->in) == RPC_CTL_PAIR)
		on_pair_report(ctl, ctl->in + RPC_HDR_LEN, get_le32(ctl->in + 4));
	else
		on_snapshot(ctl, ctl->in + RPC_HDR_LEN, get_le32(ctl->in + 4));
}

static void client_ask(struct ctl_client *cl)
{
	struct muxd_ctl *ctl = cl->ctl;
	uint8_t buf[CTL_ASK_MAX];
	int n, r;

	cl->ask.seq = ++ctl->seq;
	n = ctlmsg_ask_encode(&cl->ask, buf, sizeof(buf));
	r = n < 0 ? n : rpc_send(ctl->m->push_fd, RPC_CTL_ASK, buf, (size_t)n, -1);
	if (r < 0) {
		client_error(cl, "cannot ask the core: %s", strerror(-r));
		client_free(cl);
		return;
	}
	cl->asked = true;
	loop_timer_arm(cl->timer, cl->ask.kind == CTL_ASK_PAIR ? CTL_PAIR_WAIT_US : CTL_WAIT_US);
}

static void on_client(struct loop *l, int fd, uint32_t events, void *user)
{
	struct ctl_client *cl = user;
	size_t want = RPC_HDR_LEN;
	ssize_t n;

	if (cl->asked && cl->ask.kind != CTL_ASK_PAIR) {
		/* Nothing more is read; the command's going away is noticed when answered. */
		if (events & (EPOLLHUP | EPOLLERR))
			loop_mod_fd(l, fd, 0);
		return;
	}
	if (cl->have >= RPC_HDR_LEN)
		want += get_le32(cl->buf + 4);
	n = recv(fd, cl->buf + cl->have, want - cl->have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(cl);
		return;
	}
	cl->have += (size_t)n;
	if (cl->have == RPC_HDR_LEN &&
	    (get_le32(cl->buf) != RPC_CTL_ASK || get_le32(cl->buf + 4) > CTL_ASK_MAX)) {
		client_error(cl, "not a bgw-muxd control request");
		client_free(cl);
		return;
	}
	if (cl->have < RPC_HDR_LEN || cl->have < RPC_HDR_LEN + get_le32(cl->buf + 4))
		return;
	if (cl->asked) {
		/* A pairing's command answers its question; then reads on. */
		struct ctl_ask a;

		cl->have = 0;
		if (ctlmsg_ask_decode(cl->buf + RPC_HDR_LEN, get_le32(cl->buf + 4), &a) < 0) {
			client_error(cl, "malformed control request");
			client_free(cl);
			return;
		}
		pair_answer(cl, &a);
		explicit_bzero(&a, sizeof(a));
		return;
	}
	if (ctlmsg_ask_decode(cl->buf + RPC_HDR_LEN, cl->have - RPC_HDR_LEN, &cl->ask) < 0 ||
	    cl->ask.kind == CTL_ASK_PAIR_ANSWER || cl->ask.kind == CTL_ASK_PAIR_CANCEL) {
		client_error(cl, "malformed control request");
		client_free(cl);
		return;
	}
	/* A pairing's command reads on (its answers): the buffer starts over. */
	cl->have = 0;
	if (!cl->ctl->push_watched) {
		client_error(cl, "the core is not running");
		client_free(cl);
		return;
	}
	/* A pairing refused is answered, and its command freed. */
	if (cl->ask.kind == CTL_ASK_PAIR && !pair_begin(cl))
		return;
	client_ask(cl);
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *user)
{
	struct muxd_ctl *ctl = user;
	struct timeval tv = { 2, 0 };
	struct ucred cred;
	socklen_t cl_len = sizeof(cred);
	struct ctl_client *cl;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->ctl = ctl;
	cl->fd = fd;
	/* Answers are whole messages, sent blocking, each within 2 s. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl_len) < 0) {
		close(fd);
		free(cl);
		return;
	}
	cl->uid = cred.uid;
	cl->timer = loop_timer_new(l, client_timeout, cl);
	if (!cl->timer || loop_add_fd(l, fd, EPOLLIN, on_client, cl) < 0) {
		loop_timer_free(cl->timer);
		close(fd);
		free(cl);
		return;
	}
	cl->next = ctl->clients;
	ctl->clients = cl;
	ctl->nclients++;
	/* The mode keeps others out; the credentials are checked all the same. */
	if (cred.uid != 0 && cred.uid != geteuid()) {
		log_notice("control: uid %u (pid %d) refused: only root may ask",
			   (unsigned)cred.uid, (int)cred.pid);
		client_error(cl, "permission denied: bgw-muxd status, kick and pair are for root");
		client_free(cl);
		return;
	}
	if (ctl->nclients > CTL_CLIENTS_MAX) {
		client_error(cl, "busy: %u commands waiting already", CTL_CLIENTS_MAX);
		client_free(cl);
		return;
	}
	loop_timer_arm(cl->timer, CTL_WAIT_US);
}

int ctl_start(struct muxd_monitor *m)
{
	struct muxd_ctl *ctl;

	if (m->ctl_fd < 0)
		return 0;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->m = m;
	ctl->fd = m->ctl_fd;
	m->ctl = ctl;
	if (loop_add_fd(m->d.l, ctl->fd, EPOLLIN, on_accept, ctl) < 0 ||
	    loop_add_fd(m->d.l, m->push_fd, EPOLLIN, on_push_in, ctl) < 0)
		return -ENOMEM;
	ctl->push_watched = true;
	return 0;
}

void ctl_stop(struct muxd_monitor *m)
{
	struct muxd_ctl *ctl = m->ctl;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (ctl) {
		while (ctl->clients)
			client_free(ctl->clients);
		if (ctl->push_watched)
			loop_del_fd(m->d.l, m->push_fd);
		loop_del_fd(m->d.l, ctl->fd);
		free(ctl);
		m->ctl = NULL;
	}
	if (m->ctl_fd >= 0) {
		close(m->ctl_fd);
		m->ctl_fd = -1;
		if (ctl_path(&m->d.conf, path, sizeof(path)) == 0)
			unlink(path);
	}
}

/* ------------------------------------------------------------------ */
/* The admin's command */

static int ctl_usage(void)
{
	fprintf(stderr, "usage: bgw-muxd [-c config_file] status [--json]\n"
			"       bgw-muxd [-c config_file] kick session | user\n"
			"       bgw-muxd [-c config_file] pair [--le | --keyboard] address [public | random]\n");
	return EXIT_USAGE;
}

/* bgw-muxd pair's exit status beyond 0-2 (bgw-muxd(8) EXIT STATUS). */
enum {
	EXIT_PAIR_UNREACHABLE = 4,	/* not found, out of range */
	EXIT_PAIR_REJECTED = 5,		/* the device or the admin said no */
	EXIT_PAIR_UNSUPPORTED = 6,	/* a PIN code */
	EXIT_PAIR_BONDED = 7,		/* a household bond exists */
};

/* The outcome for people, and the exit status. */
static int pair_outcome(const char *dev, const char *type, const struct ctl_pair_msg *r)
{
	const char *st = r->hci ? hcistr_status(r->hci) : NULL;
	char why[96] = "";
	struct bdaddr a;
	/* Named by a private address: the bond is its identity's. */
	bool rpa = !strcmp(type, "random") && bdaddr_parse(dev, &a) == 0 &&
		   rpa_is_resolvable(&a);

	if (st)
		snprintf(why, sizeof(why), " (%s, 0x%02x)", st, r->hci);
	switch (r->result) {
	case MUX_PAIR_OK:
		if (rpa)
			printf("paired %s: its key is the household bond, kept under the identity "
			       "the device gave (bgw-authdb bond list shows it); grant that "
			       "identity with bgw-authdb allow USER IDENTITY public|random\n", dev);
		else
			printf("paired %s: its key is the household bond; grant it with "
			       "bgw-authdb allow USER %s %s\n", dev, dev, type);
		return 0;
	case MUX_PAIR_UNREACHABLE:
		fprintf(stderr, "bgw-muxd: pair: %s did not answer%s: is it on, in range and "
			"connectable (in pairing mode, or advertising)? An LE device is paired "
			"with --le\n", dev, why);
		return EXIT_PAIR_UNREACHABLE;
	case MUX_PAIR_REJECTED:
		fprintf(stderr, "bgw-muxd: pair: %s refused to pair or did not confirm%s: put it "
			"in pairing mode (or make it forget the gateway) and try again\n", dev, why);
		return EXIT_PAIR_REJECTED;
	case MUX_PAIR_ADMIN_NO:
		fprintf(stderr, "bgw-muxd: pair: not confirmed: %s not paired\n", dev);
		return EXIT_PAIR_REJECTED;
	case MUX_PAIR_PIN:
		fprintf(stderr, "bgw-muxd: pair: %s asks for a PIN code (legacy pairing, no Secure "
			"Simple Pairing), which the gateway does not enter: grant it and pair it "
			"from a user's host instead\n", dev);
		return EXIT_PAIR_UNSUPPORTED;
	case MUX_PAIR_BONDED:
		fprintf(stderr, "bgw-muxd: pair: %s authenticated with a key the gateway already "
			"holds: see bgw-authdb bond list\n", dev);
		return EXIT_PAIR_BONDED;
	case MUX_PAIR_NO_KEY:
		fprintf(stderr, "bgw-muxd: pair: %s paired but keeps no bond (it distributes no "
			"key): there is nothing to share; its users pair it from their own hosts\n",
			dev);
		return EXIT_PAIR_REJECTED;
	case MUX_PAIR_NO_IDENTITY:
		fprintf(stderr, "bgw-muxd: pair: %s is a private address and the device gives no "
			"identity that address resolves to: a bond under it would be lost when the "
			"device changes address; nothing kept\n", dev);
		return EXIT_PAIR_REJECTED;
	case MUX_PAIR_TIMEOUT:
		fprintf(stderr, "bgw-muxd: pair: %s: no outcome within %u s\n", dev,
			(unsigned)(MUX_PAIR_TIMEOUT_US / 1000000));
		return EXIT_ERROR;
	case CTL_PAIR_R_NOT_READY:
		fprintf(stderr, "bgw-muxd: pair: the controller is not ready (bgw-muxd status)\n");
		return EXIT_ERROR;
	case CTL_PAIR_R_BONDED:
		if (rpa)
			fprintf(stderr, "bgw-muxd: pair: %s is a device with a household bond (the "
				"IRK kept with it resolves that address; bgw-authdb bond list shows "
				"its identity): to pair it again, bgw-authdb bond forget IDENTITY, "
				"and make the device forget the gateway\n", dev);
		else
			fprintf(stderr, "bgw-muxd: pair: %s already has a household bond: to pair "
				"it again, bgw-authdb bond forget %s, and make the device forget "
				"the gateway\n", dev, dev);
		return EXIT_PAIR_BONDED;
	case CTL_PAIR_R_BUSY:
		fprintf(stderr, "bgw-muxd: pair: another pairing is running; one at a time\n");
		return EXIT_ERROR;
	case CTL_PAIR_R_STORE:
		fprintf(stderr, "bgw-muxd: pair: the bond store is refused (see the daemon's log "
			"and bgw-bonds(5)); nothing paired\n");
		return EXIT_ERROR;
	case CTL_PAIR_R_NOT_KEPT:
		fprintf(stderr, "bgw-muxd: pair: %s paired but its key could not be kept (see "
			"the daemon's log): bgw-authdb bond forget is not needed; make the device "
			"forget the gateway and try again\n", dev);
		return EXIT_ERROR;
	default:
		fprintf(stderr, "bgw-muxd: pair: %s not paired: %s%s\n", dev,
			mux_pair_result_str(r->result), why);
		return EXIT_ERROR;
	}
}

/* Yes or no from the admin (standard input); end of input is no. */
static bool ask_yes(void)
{
	char line[32];

	if (!fgets(line, sizeof(line), stdin))
		return false;
	return !strcmp(line, "yes\n") || !strcmp(line, "y\n") || !strcmp(line, "yes") ||
	       !strcmp(line, "y");
}

/*
 * The passkey the admin typed (1-6 digits) into out, else "no": end of
 * input or anything else refuses the pairing rather than guessing.
 */
static void ask_passkey(char *out, size_t cap)
{
	struct termios t, quiet;
	bool tty = tcgetattr(STDIN_FILENO, &t) == 0;
	char line[32];
	size_t n;
	char *got;

	snprintf(out, cap, "no");
	/* Not echoed at a terminal: it is the pairing's secret while it runs. */
	if (tty) {
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tty = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	got = fgets(line, sizeof(line), stdin);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	if (!got)
		return;
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (ctlmsg_pair_passkey(line) >= 0)
		snprintf(out, cap, "%s", line);
	explicit_bzero(line, sizeof(line));
}

/*
 * bgw-muxd pair: the reports of the pairing, as they come, until its
 * outcome; a numeric comparison or a passkey to type waits for the
 * admin's answer.
 */
static int pair_dialogue(int fd, const char *dev, const char *atype)
{
	struct ctl_pair_msg r;
	struct ctl_ask ans;
	uint8_t *p = NULL, buf[CTL_ASK_MAX];
	uint32_t type;
	size_t len;
	unsigned n;
	int rc, k;

	for (n = 0; n < 8; n++) {
		free(p);
		p = NULL;
		rc = rpc_recv(fd, &type, &p, &len, CTL_SNAP_MAX, NULL, CTL_PAIR_CALL_MS);
		if (rc < 0) {
			fprintf(stderr, "bgw-muxd: pair: no answer from the daemon: %s\n",
				strerror(-rc));
			break;
		}
		if (type == RPC_CTL_ERR) {
			fprintf(stderr, "bgw-muxd: %.*s\n", (int)(len > 255 ? 255 : len),
				(const char *)p);
			break;
		}
		if (type != RPC_CTL_PAIR || ctlmsg_pair_decode(p, len, &r) < 0) {
			fprintf(stderr, "bgw-muxd: pair: malformed answer from the daemon\n");
			break;
		}
		switch (r.what) {
		case CTL_PAIR_DONE:
			free(p);
			return pair_outcome(dev, atype, &r);
		case CTL_PAIR_JUST_WORKS:
			printf("%s has no display and no input: paired without a number to compare "
			       "(Just Works, unauthenticated)\n", dev);
			break;
		case CTL_PAIR_PASSKEY:
			printf("type %06u on %s, then Enter if it asks\n", (unsigned)r.value, dev);
			break;
		case CTL_PAIR_CONFIRM:
		case CTL_PAIR_ENTER:
			memset(&ans, 0, sizeof(ans));
			ans.kind = CTL_ASK_PAIR_ANSWER;
			if (r.what == CTL_PAIR_CONFIRM) {
				printf("does %s show %06u? [yes/no] ", dev, (unsigned)r.value);
				fflush(stdout);
				snprintf(ans.target, sizeof(ans.target), "%s",
					 ask_yes() ? "yes" : "no");
				printf("%s\n", ans.target);
			} else {
				printf("type the passkey %s shows, then Enter (nothing to refuse): ",
				       dev);
				fflush(stdout);
				ask_passkey(ans.target, sizeof(ans.target));
				/* Not echoed: it is the pairing's secret while it runs. */
				printf("%s\n", strcmp(ans.target, "no") ? "(typed)" : "no");
			}
			k = ctlmsg_ask_encode(&ans, buf, sizeof(buf));
			k = k < 0 ? k : rpc_send(fd, RPC_CTL_ASK, buf, (size_t)k, -1);
			explicit_bzero(buf, sizeof(buf));
			explicit_bzero(&ans, sizeof(ans));
			if (k < 0) {
				fprintf(stderr, "bgw-muxd: pair: the answer could not be sent\n");
				free(p);
				return EXIT_ERROR;
			}
			break;
		}
		fflush(stdout);
	}
	free(p);
	return EXIT_ERROR;
}

int ctl_main(const struct muxd_conf *c, int argc, char **argv)
{
	struct sockaddr_un sa;
	struct ctl_ask a;
	struct ctl_snap *s = NULL;
	struct mux_pair_dev d;
	uint8_t ask[CTL_ASK_MAX];
	uint8_t *p = NULL;
	const char *why = NULL, *pair_type = "public";
	bool json = false;
	uint32_t type;
	size_t len;
	unsigned i;
	int fd = -1, n, r, sr, ret = EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	if (argc >= 1 && strcmp(argv[0], "status") == 0) {
		a.kind = CTL_ASK_STATUS;
		for (i = 1; i < (unsigned)argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else
				return ctl_usage();
		}
	} else if (argc == 2 && strcmp(argv[0], "kick") == 0) {
		a.kind = CTL_ASK_KICK;
		if (!argv[1][0] || strlen(argv[1]) > CTL_TARGET_MAX) {
			fprintf(stderr, "bgw-muxd: kick: name a session number or a user (at most %d bytes)\n",
				CTL_TARGET_MAX);
			return EXIT_USAGE;
		}
		snprintf(a.target, sizeof(a.target), "%s", argv[1]);
	} else if (argc >= 2 && strcmp(argv[0], "pair") == 0) {
		bool le = false, kbd = false;

		memset(&d, 0, sizeof(d));
		a.kind = CTL_ASK_PAIR;
		for (i = 1; i < (unsigned)argc && argv[i][0] == '-'; i++) {
			if (strcmp(argv[i], "--le") == 0)
				le = true;
			else if (strcmp(argv[i], "--keyboard") == 0)
				kbd = true;
			else
				return ctl_usage();
		}
		if (i >= (unsigned)argc || argc - i > 2 || (le && kbd))
			return ctl_usage();
		if (bdaddr_parse(argv[i], &d.a) < 0) {
			fprintf(stderr, "bgw-muxd: pair: '%s' is not an address (XX:XX:XX:XX:XX:XX)\n",
				argv[i]);
			return EXIT_USAGE;
		}
		d.type = BDADDR_PUBLIC;
		if (argc - i == 2) {
			if (strcmp(argv[i + 1], "random") == 0)
				d.type = BDADDR_RANDOM;
			else if (strcmp(argv[i + 1], "public") != 0)
				return ctl_usage();
		}
		/* Random addresses are LE's (Vol 6 Part B 1.3): no --le needed. */
		d.le = le || d.type == BDADDR_RANDOM;
		if (d.le && kbd) {
			fprintf(stderr, "bgw-muxd: pair: --keyboard is for BR/EDR devices; an LE "
				"device's passkey is asked for when it shows one\n");
			return EXIT_USAGE;
		}
		d.keyboard = kbd;
		ctlmsg_pair_target_fmt(&d, a.target);
		pair_type = d.type == BDADDR_RANDOM ? "random" : "public";
	} else {
		return ctl_usage();
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (ctl_path(c, sa.sun_path, sizeof(sa.sun_path)) < 0)
		return EXIT_ERROR;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "bgw-muxd: not running (no control socket %s)\n", sa.sun_path);
		else if (e == EACCES || e == EPERM)
			fprintf(stderr, "bgw-muxd: %s: %s: status, kick and pair are for root (try sudo)\n",
				sa.sun_path, strerror(e));
		else
			fprintf(stderr, "bgw-muxd: %s: %s\n", sa.sun_path, strerror(e));
		goto out;
	}
	n = ctlmsg_ask_encode(&a, ask, sizeof(ask));
	if (n < 0)
		goto out;
	/*
	 * A refusal may be on its way before the request is sent (the
	 * daemon checks the caller at once and closes): read it anyway.
	 */
	sr = rpc_send(fd, RPC_CTL_ASK, ask, (size_t)n, -1);
	if (a.kind == CTL_ASK_PAIR && sr == 0) {
		char dev[BDADDR_STRLEN];

		ret = pair_dialogue(fd, bdaddr_fmt(&d.a, dev), pair_type);
		goto out;
	}
	r = rpc_recv(fd, &type, &p, &len, CTL_SNAP_MAX, NULL, CTL_CALL_MS);
	if (r < 0) {
		fprintf(stderr, "bgw-muxd: %s: %s\n", sr < 0 ? "sending the request" :
			"no answer from the daemon", strerror(sr < 0 ? -sr : -r));
		goto out;
	}
	if (type == RPC_CTL_ERR) {
		fprintf(stderr, "bgw-muxd: %.*s\n", (int)(len > 255 ? 255 : len), (const char *)p);
		goto out;
	}
	s = malloc(sizeof(*s));
	if (!s || type != RPC_CTL_SNAP || ctlmsg_snap_decode(p, len, s, &why) < 0) {
		fprintf(stderr, "bgw-muxd: malformed answer from the daemon (%s)\n",
			why ? why : "unexpected type");
		goto out;
	}
	if (a.kind == CTL_ASK_STATUS) {
		if (json)
			ctlmsg_print_json(stdout, s);
		else
			ctlmsg_print_text(stdout, s, (int64_t)time(NULL));
		ret = 0;
		goto out;
	}
	if (!s->nsess) {
		fprintf(stderr, "bgw-muxd: no session is number or user '%s' (see bgw-muxd status)\n",
			a.target);
		goto out;
	}
	for (i = 0; i < s->nsess; i++)
		printf("ended session %u: %s (%s, from %s), %u link%s disconnected\n",
		       (unsigned)s->sess[i].id, s->sess[i].user,
		       ctlmsg_method_name(s->sess[i].method), s->sess[i].src,
		       s->sess[i].nlinks, s->sess[i].nlinks == 1 ? "" : "s");
	ret = 0;
out:
	if (fflush(stdout) != 0 && ret == 0) {
		perror("bgw-muxd: stdout");
		ret = EXIT_ERROR;
	}
	free(s);
	free(p);
	if (fd >= 0)
		close(fd);
	return ret;
}
