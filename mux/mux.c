/* SPDX-License-Identifier: MIT */
/*
 * The multiplexer core. One physical controller, one virtual controller per
 * session; see mux.h for the interface and doc/virtual-controller.md for the
 * rule each command and event follows.
 *
 * Threat model: a session's host is untrusted. Everything it sends is parsed
 * with lib/hci (header, then declared length == bytes present) and then
 * checked against the command table (exact parameter length, ownership of
 * every handle and BD_ADDR it names, the user's policy) before a byte of it
 * reaches the controller. The controller is trusted to be a controller but
 * not to be well-formed: its events are length-checked before routing, and
 * an event that cannot be attributed to a session goes to nobody.
 *
 * The files are layers, each calling only the ones below it: this one
 * (the public API, the sessions' lifecycle and the pump: the dispatcher
 * and finish(), which runs the work the others defer to it), mux_cmd.c
 * (the sessions' commands), mux_evt.c (the controller's events and
 * command completions), mux_reconcile.c (the physical state, the shared
 * inquiry and the accept list), mux_conn.c (connections, credits, data,
 * teardown), mux_bond*.c (household bonds), mux_ctrl.c (the physical
 * controller: sending, init, cache, down), mux_emit.c (what goes to the
 * sessions), mux_base.c (capabilities, addresses, the policy).
 * mux_int.h declares what they share.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "hci_names.h"
#include "log.h"
#include "loop.h"
#include "mux_int.h"

static bool user_is_admin(const struct mux *m, const char *user)
{
	return m->pol.is_admin && m->pol.is_admin(user, m->pol.ctx);
}

/* ------------------------------------------------------------------ */
/* The pump: the dispatcher and the work deferred to it */

/*
 * Reconcile the physical controller with the sessions' wishes now; a
 * pending request (recon_request()) is answered by it.
 */
static void recon_run(struct mux *m)
{
	m->recon_pending = false;
	reconcile(m);
}

/*
 * A request made by the command or event just handled is run before
 * anything else goes to the controller or another command is looked at,
 * where the request's caller used to call reconcile() itself: what it
 * sends goes first, and the next command sees its effects (an inquiry
 * being cancelled, the accept-list initiation being cancelled for a
 * direct connection, the members of a shared initiation).
 */
static void recon_flush(struct mux *m)
{
	if (m->recon_pending)
		recon_run(m);
}

/*
 * A session's queued commands, in order, as long as each is answered
 * without the controller; the first that needs it waits for the
 * dispatcher (or for the controller's credits).
 */
static void sess_run(struct mux *m, struct mux_session *s)
{
	struct pkt *pk;
	unsigned i;

	for (i = 0; i < MUX_SESSION_CMDQ + 1; i++) {
		pk = pktq_peek(&s->cmdq);
		if (!pk || s->dead)
			return;
		if (cmd_process(m, s, pk->data, pk->len, false) != R_DONE) {
			recon_flush(m);
			return;
		}
		pkt_free(pktq_pop(&s->cmdq));
		recon_flush(m);
	}
}

static void dispatch_once(struct mux *m)
{
	unsigned iter, i;
	struct pkt *pk;

	for (i = 0; i < m->nsess; i++)
		sess_run(m, m->sess[i]);
	for (iter = 0; iter < 4 * MUX_MAX_OUTST + MUX_INTQ_MAX; iter++) {
		bool sent = false;

		if (!m->up || m->fail_err || m->ncmd == 0)
			return;
		recon_flush(m);
		if (!m->ready) {
			unsigned before = m->init_step;

			init_next(m);
			if (m->ready) {
				recon_run(m);
				for (i = 0; i < m->nsess; i++)
					sess_run(m, m->sess[i]);
				continue;
			}
			if (m->init_step == before && outst_count(m))
				return;
			continue;
		}
		/* The mux's own commands first: teardown must finish within 2 s. */
		pk = pktq_peek(&m->intq);
		if (pk && can_send(m, get_le16(pk->data + 1))) {
			pk = pktq_pop(&m->intq);
			ctrl_send_cmd(m, pk->data, pk->len, NULL, O_INTERNAL);
			pkt_free(pk);
			continue;
		}
		if (!m->recon_busy) {
			recon_run(m);
			if (m->recon_busy)
				continue;
		}
		/* Then one command per session in turn: nobody starves anyone. */
		for (i = 0; i < m->nsess && !sent; i++) {
			unsigned idx = (m->rr + i) % m->nsess;
			struct mux_session *s = m->sess[idx];
			int r;

			pk = pktq_peek(&s->cmdq);
			if (!pk || s->dead)
				continue;
			r = cmd_process(m, s, pk->data, pk->len, true);
			recon_flush(m);
			if (r == R_WAIT)
				continue;
			pkt_free(pktq_pop(&s->cmdq));
			sess_run(m, s);
			if (r == R_SENT) {
				m->rr = idx + 1;
				sent = true;
			}
		}
		if (!sent)
			return;
	}
}

static void dispatch(struct mux *m)
{
	unsigned n;

	if (m->in_dispatch) {
		m->dispatch_again = true;
		return;
	}
	m->in_dispatch = true;
	for (n = 0; n < 8; n++) {
		m->dispatch_again = false;
		dispatch_once(m);
		if (!m->dispatch_again)
			break;
	}
	m->in_dispatch = false;
}

/* The transport is open: initialise the controller (the dispatcher runs it). */
static void ctrl_start(struct mux *m)
{
	m->up = true;
	m->ready = false;
	m->init_step = 0;
	m->ncmd = 1;
	m->fail_err = 0;
}

/*
 * Work deferred to the end of every entry point, when no iteration over
 * sessions or connections is in progress: the controller's re-start
 * after a Hardware Error, a controller failure, sessions the core ended,
 * the physical state reconciled with what is left, then the dispatcher.
 */
static void finish(struct mux *m)
{
	unsigned i, rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		if (m->restart_pending) {
			/*
			 * As the transport going down and coming back: every
			 * session told Hardware Error, their queued commands
			 * answered, then the initialisation again.
			 */
			m->restart_pending = false;
			ctrl_down(m);
			dispatch(m);
			ctrl_start(m);
		}
		if (m->fail_err) {
			int err = m->fail_err;

			m->fail_err = 0;
			ctrl_down(m);
			if (m->ops.ctrl_failed)
				m->ops.ctrl_failed(m, err, m->ops.user);
		}
		if (m->reap) {
			m->reap = false;
			for (i = 0; i < m->nsess; i++) {
				struct mux_session *s = m->sess[i];

				if (!s->dead || s->dead_notified)
					continue;
				s->dead_notified = true;
				teardown(s, HCI_ST_REMOTE_USER_TERM);
				if (m->ops.session_dead) {
					m->ops.session_dead(s, s->emit_user, m->ops.user);
					i = (unsigned)-1;	/* the list may have changed */
				}
			}
		}
		/* Before the dispatcher sends the mux's own queued commands. */
		recon_flush(m);
		dispatch(m);
		if (!m->fail_err && !m->reap && !m->restart_pending && !m->recon_pending)
			break;
	}
}

/* The controller did not answer a command in time: it has failed. */
static void cmd_timer_fired(struct loop_timer *t, void *user)
{
	struct mux *m = user;

	(void)t;
	cmd_timeout(m);
	finish(m);
}

/* A session's own inquiry length ran out (mux_reconcile.c). */
static void inq_timer_fired(struct loop_timer *t, void *user)
{
	struct mux *m = user;

	(void)t;
	inq_timeout(m);
	finish(m);
}

/* A takeover's SMP timeout ran out (mux_bond_le.c). */
static void smp_timer_fired(struct loop_timer *t, void *user)
{
	struct mux *m = user;

	(void)t;
	bond_le_timeout(m);
	finish(m);
}

/* ------------------------------------------------------------------ */
/* Public API */

struct mux *mux_new(struct loop *l, const struct mux_config *cfg,
		    const struct mux_policy *policy, const struct mux_ops *ops)
{
	struct mux *m;

	if (!l || !ops || !ops->ctrl_send)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = l;
	if (cfg)
		m->cfg = *cfg;
	if (!m->cfg.max_sessions)
		m->cfg.max_sessions = 4;
	if (m->cfg.max_sessions > MUX_MAX_SESSIONS)
		m->cfg.max_sessions = MUX_MAX_SESSIONS;
	if (!m->cfg.cmd_timeout_ms)
		m->cfg.cmd_timeout_ms = 5000;
	if (policy)
		m->pol = *policy;
	m->ops = *ops;
	m->next_id = 1;
	m->acc_gen = 1;
	pktq_init(&m->intq, MUX_INTQ_MAX, 0);
	pktq_init(&m->iaclq, MUX_IACL_MAX, 0);
	if (!(m->cfg.time_scale > 0))
		m->cfg.time_scale = 1.0;
	m->xlat = malloc(H4_MAX_PKT);
	m->cmd_timer = loop_timer_new(l, cmd_timer_fired, m);
	m->inq_timer = loop_timer_new(l, inq_timer_fired, m);
	m->smp_timer = loop_timer_new(l, smp_timer_fired, m);
	if (!m->cmd_timer || !m->inq_timer || !m->smp_timer || !m->xlat) {
		loop_timer_free(m->cmd_timer);
		loop_timer_free(m->inq_timer);
		loop_timer_free(m->smp_timer);
		free(m->xlat);
		free(m);
		return NULL;
	}
	return m;
}

void mux_free(struct mux *m)
{
	if (!m)
		return;
	while (m->nsess)
		mux_session_free(m->sess[m->nsess - 1]);
	pktq_clear(&m->intq);
	pktq_clear(&m->iaclq);
	loop_timer_free(m->cmd_timer);
	loop_timer_free(m->inq_timer);
	loop_timer_free(m->smp_timer);
	free(m->xlat);
	free(m);
}

void mux_ctrl_up(struct mux *m)
{
	if (!m)
		return;
	ctrl_start(m);
	finish(m);
}

void mux_ctrl_down(struct mux *m)
{
	if (!m)
		return;
	ctrl_down(m);
	/* Queued commands that need the radio are answered now. */
	dispatch(m);
}

int mux_ctrl_input(struct mux *m, const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;
	int r;

	r = h4_parse(&pkt, h4, len, 0);
	if (r < 0) {
		log_warn("controller: malformed packet: %s", h4_strerror(r));
		return -EBADMSG;
	}
	if (!m->up)
		return 0;
	if (log_is_enabled(LOG_DEBUG) && pkt.type == H4_EVT) {
		char sum[128];

		hcistr_summary(sum, sizeof(sum), h4, len);
		log_debug("<- ctrl %s", sum);
	}
	switch (pkt.type) {
	case H4_EVT:
		ctrl_event(m, &pkt);
		break;
	case H4_ACL:
	case H4_SCO:
		ctrl_data(m, &pkt);
		break;
	default:
		log_debug("controller: packet type 0x%02x ignored", pkt.type);
		break;
	}
	finish(m);
	return 0;
}

bool mux_is_ready(const struct mux *m)
{
	return m && m->ready;
}

void mux_policy_changed(struct mux *m)
{
	unsigned i;

	if (!m)
		return;
	access_forget(m);
	for (i = 0; i < m->nsess; i++) {
		struct mux_session *s = m->sess[i];

		if (s->dead)
			continue;
		if (m->pol.is_user && !m->pol.is_user(s->user, m->pol.ctx)) {
			log_notice("session %u (%s): user removed, ending the session",
				   s->id, s->user);
			s->dead = true;
			m->reap = true;
			continue;
		}
		s->admin = user_is_admin(m, s->user);
	}
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (!c->used || !c->owner || c->owner->dead)
			continue;
		if (may_access(m, c->owner, &c->addr, c->addr_type))
			continue;
		log_notice("session %u (%s): access to a connected device revoked, disconnecting",
			   c->owner->id, c->owner->user);
		internal_disconnect(m, c->handle, HCI_ST_REMOTE_USER_TERM);
	}
	recon_request(m);
	finish(m);
}

/*
 * The user's slot, shared by its sessions; a slot given to a new user
 * makes every verdict stale (they may hold the slot's last user's).
 * There is one for every session under MUX_MAX_SESSIONS.
 */
static int user_slot_take(struct mux *m, const char *user)
{
	unsigned i, free_i = MUX_MAX_SESSIONS;

	for (i = 0; i < MUX_MAX_SESSIONS; i++) {
		if (m->users[i].refs && strcmp(m->users[i].name, user) == 0) {
			m->users[i].refs++;
			return i;
		}
		if (!m->users[i].refs && free_i == MUX_MAX_SESSIONS)
			free_i = i;
	}
	if (free_i == MUX_MAX_SESSIONS)
		return -ENOSPC;
	snprintf(m->users[free_i].name, sizeof(m->users[free_i].name), "%s", user);
	m->users[free_i].refs = 1;
	access_forget(m);
	return (int)free_i;
}

struct mux_session *mux_session_new(struct mux *m, const char *user_name,
				    mux_emit_fn emit, void *user)
{
	struct mux_session *s;
	size_t n;
	int slot;

	if (!m || !user_name || !emit)
		return NULL;
	n = strlen(user_name);
	if (n == 0 || n > MUX_USER_MAX)
		return NULL;
	if (m->nsess >= m->cfg.max_sessions) {
		log_warn("session for %s refused: %u sessions already", user_name, m->nsess);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	slot = user_slot_take(m, user_name);
	if (slot < 0) {
		free(s);
		return NULL;
	}
	s->uslot = (unsigned)slot;
	s->m = m;
	s->id = m->next_id++;
	s->since = (int64_t)time(NULL);
	memcpy(s->user, user_name, n + 1);
	s->admin = user_is_admin(m, s->user);
	s->emit = emit;
	s->emit_user = user;
	pktq_init(&s->cmdq, MUX_SESSION_CMDQ, 0);
	pktq_init(&s->aclq, 64, 0);
	sess_defaults(s);
	m->sess[m->nsess++] = s;
	log_info("session %u (%s%s) started", s->id, s->user, s->admin ? ", admin" : "");
	/* Its default event masks join the union. */
	recon_request(m);
	finish(m);
	return s;
}

int mux_session_input(struct mux_session *s, const uint8_t *h4, size_t len)
{
	struct mux *m;
	struct h4_pkt pkt;
	int r;

	if (!s)
		return -EINVAL;
	if (s->dead)
		return -EPIPE;
	m = s->m;
	r = h4_parse(&pkt, h4, len, 0);
	if (r < 0) {
		sess_refuse(s, LOG_WARNING, "malformed packet refused: %s",
			    h4_strerror(r));
		return -EBADMSG;
	}
	switch (pkt.type) {
	case H4_CMD:
		if (pktq_push(&s->cmdq, h4, len) < 0) {
			/* The host ignored Num_HCI_Command_Packets (Vol 4 Part E 4.4). */
			sess_refuse(s, LOG_WARNING, "too many commands queued, 0x%04x refused",
				    pkt.cmd.opcode);
			reply_cs(s, pkt.cmd.opcode, HCI_ST_MEMORY_EXCEEDED);
			break;
		}
		sess_run(m, s);
		break;
	case H4_ACL:
		sess_acl(m, s, &pkt);
		break;
	case H4_SCO:
		sess_sco(m, s, &pkt);
		break;
	default:
		sess_refuse(s, LOG_WARNING, "%s packet from a host refused",
			    h4_type_name(pkt.type));
		finish(m);
		return -EPROTO;
	}
	finish(m);
	return 0;
}

void mux_session_free(struct mux_session *s)
{
	struct mux *m;
	unsigned i;

	if (!s)
		return;
	m = s->m;
	log_info("session %u (%s) ended", s->id, s->user);
	if (!s->dead_notified)
		teardown(s, HCI_ST_REMOTE_USER_TERM);
	s->dead = true;
	for (i = 0; i < m->nsess; i++) {
		if (m->sess[i] == s) {
			m->sess[i] = m->sess[--m->nsess];
			m->sess[m->nsess] = NULL;
			break;
		}
	}
	for (i = 0; i < MUX_MAX_PEND; i++)
		if (m->pend[i].s == s)
			m->pend[i].used = false;
	for (i = 0; i < MUX_MAX_OUTST; i++)
		if (m->outst[i].s == s)
			m->outst[i].s = NULL;
	if (m->adv_owner == s)
		m->adv_owner = NULL;
	m->users[s->uslot].refs--;
	pktq_clear(&s->cmdq);
	pktq_clear(&s->aclq);
	free(s);
	if (!m->in_dispatch)
		finish(m);
}

bool mux_session_is_dead(const struct mux_session *s)
{
	return !s || s->dead;
}

bool mux_session_is_stalled(const struct mux_session *s)
{
	return s && s->stalled;
}

const char *mux_session_user(const struct mux_session *s)
{
	return s ? s->user : NULL;
}

unsigned mux_session_id(const struct mux_session *s)
{
	return s ? s->id : 0;
}

void mux_get_stats(const struct mux *m, struct mux_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	st->sessions = m->nsess;
	for (i = 0; i < MUX_MAX_CONNS; i++)
		st->conns += m->conns[i].used;
	st->cmds_outstanding = outst_count(m);
	st->acl_inflight = m->acl.inflight;
	st->le_inflight = m->le.inflight;
	st->inquiry = m->inq_active;
	st->le_scan = m->p_le_scan;
	st->scan_enable = m->p_scan;
	st->inits = m->inits;
}

/* ------------------------------------------------------------------ */
/* Read-only queries (bgw-muxd status) */

int64_t mux_session_since(const struct mux_session *s)
{
	return s ? s->since : 0;
}

unsigned mux_session_links(const struct mux_session *s, struct mux_link_info *out,
			   unsigned max)
{
	const struct mux *m;
	unsigned i, n = 0;

	if (!s)
		return 0;
	m = s->m;
	for (i = 0; i < MUX_MAX_CONNS && n < max; i++) {
		const struct mux_conn *c = &m->conns[i];

		if (!c->used || c->owner != s)
			continue;
		out[n].addr = c->addr;
		out[n].addr_type = c->addr_type;
		out[n].kind = c->link == LINK_LE ? MUX_LINK_LE :
			      c->link == LINK_SCO ? MUX_LINK_SCO : MUX_LINK_BREDR;
		out[n].handle = c->handle;
		out[n].vhandle = c->vhandle;
		out[n].since = c->since;
		out[n].bytes_in = c->bytes_in;
		out[n].bytes_out = c->bytes_out;
		n++;
	}
	return n;
}

void mux_get_ctrl_info(const struct mux *m, struct mux_ctrl_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->up = m->up;
	ci->ready = m->ready;
	ci->addr = m->bdaddr;
	ci->sessions = m->nsess;
}

/*
 * The session's host stopped answering (bgw-muxd: its tunnel went
 * silent) but may come back: let its devices go to the others and keep
 * everything else of its virtual controller. Each of its links (ACL, LE,
 * SCO) is disconnected on the controller as its host would have done it
 * (Remote User Terminated Connection), orphaned first so that nothing
 * more of it reaches the session; the controller's own Disconnection
 * Complete then goes nowhere. The session is told Disconnection Complete
 * with reason for each, now, so that a host that comes back reads it
 * before anything later (Vol 4 Part E 7.7.5; 0x08 Connection Timeout is
 * what a controller reports for a link whose peer fell silent). The
 * data it queued for them is dropped and its buffer counts cleared, as
 * a host assumes on that event (Vol 4 Part E 4.3). Pending connection
 * attempts, scans and every setting stay.
 */
unsigned mux_session_release_links(struct mux_session *s, uint8_t reason)
{
	struct mux *m;
	unsigned i, n = 0;
	uint8_t p[4];

	if (!s || s->dead)
		return 0;
	m = s->m;
	for (i = 0; i < MUX_MAX_CONNS; i++) {
		struct mux_conn *c = &m->conns[i];

		if (!c->used || c->owner != s)
			continue;
		c->owner = NULL;
		internal_disconnect(m, c->handle, HCI_ST_REMOTE_USER_TERM);
		p[0] = 0;
		put_le16(p + HCI_EV_DISCONN_COMPLETE_HANDLE_OFF, c->vhandle);
		p[3] = reason;
		sess_event(s, HCI_EV_DISCONN_COMPLETE, p, sizeof(p));
		n++;
	}
	if (!n)
		return 0;
	pktq_clear(&s->aclq);
	s->acl_used = s->le_used = 0;
	s->acl_ctrl = s->le_ctrl = 0;
	log_notice("session %u (%s): %u link%s released (host silent), reason 0x%02x",
		   s->id, s->user, n, n == 1 ? "" : "s", reason);
	if (!m->in_dispatch)
		finish(m);
	return n;
}
