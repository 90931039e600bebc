/* SPDX-License-Identifier: MIT */
/*
 * The core's side of bgw-muxd status and kick (muxd/ctlmsg.h): the
 * monitor asks over the push channel, the core answers with a snapshot
 * of its sessions and their links, and ends the sessions of a kick.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "ctlmsg.h"
#include "log.h"

struct core_pick {
	unsigned id;
	struct client *cl;
	struct rsess *r;
};

static bool target_matches(const char *target, struct mux_session *s)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", mux_session_id(s));
	return strcmp(target, id) == 0 || strcmp(target, mux_session_user(s)) == 0;
}

/* A link's label: the authdb's device line, by address or by IRK. */
static void link_label(struct muxd_core *c, const struct mux_link_info *li, char *out, size_t cap)
{
	struct authdb_rd rd;

	out[0] = '\0';
	if (!c->db)
		return;
	if (authdb_rd_lookup(c->db, &li->addr, li->addr_type, &rd) == 0 ||
	    (li->addr_type == BDADDR_RANDOM && authdb_rpa_resolve(c->db, &li->addr, &rd) == 0))
		snprintf(out, cap, "%s", rd.label);
}

static void fill_session(struct muxd_core *c, struct ctl_snap *s, const struct core_pick *pk)
{
	struct ctl_session *e = &s->sess[s->nsess++];
	struct mux_link_info li[CTL_LINK_MAX];
	struct mux_session *ms = pk->cl ? pk->cl->s : pk->r->s;
	unsigned k, n;

	e->id = mux_session_id(ms);
	snprintf(e->user, sizeof(e->user), "%s", mux_session_user(ms));
	e->since = mux_session_since(ms);
	if (pk->cl) {
		e->method = CTL_M_LOCAL;
		e->path = CTL_P_LOCAL;
		e->attached = true;
		snprintf(e->src, sizeof(e->src), "uid %u", (unsigned)pk->cl->uid);
	} else {
		struct tun_rel_stats st;
		char peer[96];

		e->method = pk->r->cert ? CTL_M_CERT : CTL_M_PASSWORD;
		e->path = CTL_P_DIRECT;
		e->attached = tun_session_is_attached(pk->r->ts);
		rpc_str(e->src, sizeof(e->src), tun_session_peer(pk->r->ts, peer, sizeof(peer)));
		tun_session_get_stats(pk->r->ts, &st);
		e->rtt_us = st.srtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)st.srtt_us;
	}
	e->first_link = s->nlinks;
	n = mux_session_links(ms, li, CTL_LINK_MAX - s->nlinks);
	for (k = 0; k < n; k++) {
		struct ctl_link *l = &s->link[s->nlinks + k];

		l->addr = li[k].addr;
		l->addr_type = li[k].addr_type;
		l->kind = li[k].kind;
		l->handle = li[k].handle;
		link_label(c, &li[k], l->label, sizeof(l->label));
		/* Labels are UTF-8 in the authdb; a control byte never gets here. */
		rpc_str(l->label, sizeof(l->label), l->label);
		l->since = li[k].since;
		l->bytes_in = li[k].bytes_in;
		l->bytes_out = li[k].bytes_out;
	}
	e->nlinks = n;
	s->nlinks += n;
}

static int pick_cmp(const void *a, const void *b)
{
	const struct core_pick *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The monitor asks for the sessions, or to end some (RPC_CTL_ASK). */
int ctl_core_answer(struct muxd_core *c, const uint8_t *p, size_t len)
{
	struct core_pick pick[CTL_SESS_MAX];
	struct mux_ctrl_info ci;
	struct ctl_ask a;
	struct ctl_snap *s;
	struct client *cl;
	struct rsess *r;
	uint8_t *buf;
	unsigned i, n = 0;
	int ret, k;

	if (ctlmsg_ask_decode(p, len, &a) < 0)
		return -EPROTO;
	if (a.kind != CTL_ASK_STATUS && a.kind != CTL_ASK_KICK)
		return core_pair_ask(c, &a);
	s = calloc(1, sizeof(*s));
	buf = malloc(CTL_SNAP_MAX);
	if (!s || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	s->seq = a.seq;
	snprintf(s->ctrl, sizeof(s->ctrl), "%s", c->d.conf.controller);
	if (c->mux) {
		mux_get_ctrl_info(c->mux, &ci);
		s->up = ci.up;
		s->ready = ci.ready;
		s->addr = ci.addr;
		s->sessions = ci.sessions > MUX_MAX_SESSIONS ? MUX_MAX_SESSIONS : ci.sessions;
	}
	for (cl = c->clients; cl && n < CTL_SESS_MAX; cl = cl->next) {
		if (cl->closing || !cl->s || (a.kind == CTL_ASK_KICK && !target_matches(a.target, cl->s)))
			continue;
		pick[n++] = (struct core_pick){ mux_session_id(cl->s), cl, NULL };
	}
	for (r = c->rsessions; r && n < CTL_SESS_MAX; r = r->next) {
		if (r->dead || !r->s || !r->ts ||
		    (a.kind == CTL_ASK_KICK && !target_matches(a.target, r->s)))
			continue;
		pick[n++] = (struct core_pick){ mux_session_id(r->s), NULL, r };
	}
	qsort(pick, n, sizeof(pick[0]), pick_cmp);
	for (i = 0; i < n; i++)
		fill_session(c, s, &pick[i]);
	k = ctlmsg_snap_encode(s, buf, CTL_SNAP_MAX);
	if (k < 0) {
		log_err("status: snapshot: %s", strerror(-k));
		ret = k;
		goto out;
	}
	ret = rpc_send(c->push_fd, RPC_CTL_SNAP, buf, (size_t)k, -1);
	if (ret < 0 || a.kind != CTL_ASK_KICK)
		goto out;
	/*
	 * The kick, after the answer was built from the sessions as they
	 * were. Each session ends as when its user is removed: its links
	 * are disconnected; a tunnel client is told why (reason 17,
	 * which bgw-cdclient takes as final: it does not log in again).
	 */
	for (i = 0; i < n; i++) {
		log_notice("session %u (%s) ended by the admin (bgw-muxd kick)", pick[i].id,
			   pick[i].cl ? mux_session_user(pick[i].cl->s) : mux_session_user(pick[i].r->s));
		if (pick[i].cl)
			client_close_later(pick[i].cl);
		else
			tun_session_close(pick[i].r->ts, TUN_R_KICKED);
	}
out:
	free(buf);
	free(s);
	return ret;
}

