/* SPDX-License-Identifier: MIT */
/*
 * Sessions (doc/protocol.md "State machine"): a session and its
 * reliability layer, attached to a link or detached for resume_s, and
 * the API its owner calls (tun_session_*).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "hci.h"
#include "log.h"
#include "scram.h"
#include "secmem.h"
#include "tunnel_int.h"

static void sess_reap_cb(struct loop_timer *t, void *user);

/*
 * The reliability layer's next deadline; while detached only its
 * silence is watched (a client that vanished is silent as well: its
 * owner hears of it, ops.on_quiet, at the same time as if it had stayed).
 */
void tun_sess_arm(struct tun_session *s)
{
	uint64_t now = loop_now_us(), d;

	if (s->ending) {
		loop_timer_disarm(s->rel_timer);
		return;
	}
	d = s->link ? tun_rel_deadline(s->rel) : tun_rel_quiet_deadline(s->rel);
	if (d == UINT64_MAX)
		loop_timer_disarm(s->rel_timer);
	else
		loop_timer_arm(s->rel_timer, d > now ? d - now : 0);
}

void tun_sess_detach(struct tun_session *s, const char *why)
{
	if (!s->link)
		return;
	log_info("tunnel: session %s detached (%s); resumable for %u s",
		 s->user, why, s->srv->cfg.resume_s);
	/* No close_notify: the client may still be there and resume. */
	tun_link_close(s->link, false);
	s->link = NULL;
	tun_sess_arm(s);
	loop_timer_arm(s->expire_timer, (uint64_t)s->srv->cfg.resume_s * 1000000);
}

/*
 * The session's link is gone (closed already). A protocol violation or
 * the client's close_notify ends the session; a lost path does not.
 */
void tun_sess_link_lost(struct tun_session *s, int reason)
{
	s->link = NULL;
	if (reason == TUN_R_PROTOCOL || reason == TUN_R_SHUTDOWN) {
		tun_sess_end(s, reason, false);
		return;
	}
	log_info("tunnel: session %s detached (%s); resumable for %u s",
		 s->user, tun_reason_str(reason), s->srv->cfg.resume_s);
	tun_sess_arm(s);
	loop_timer_arm(s->expire_timer, (uint64_t)s->srv->cfg.resume_s * 1000000);
}

/* End a session; the owner hears of it from the loop. */
void tun_sess_end(struct tun_session *s, int reason, bool tell_peer)
{
	if (s->ending)
		return;
	s->ending = true;
	s->end_reason = reason;
	if (s->link) {
		if (tell_peer)
			tun_link_send_reason(s->link, s->version,
				    reason == TUN_R_SHUTDOWN || reason == TUN_R_LOCAL_CLOSE ?
				    TUN_MSG_CLOSE : TUN_MSG_ERROR,
				    reason == TUN_R_LOCAL_CLOSE ? TUN_R_SHUTDOWN : reason, NULL);
		tun_link_drop(s->link);
		s->link = NULL;
	}
	loop_timer_disarm(s->rel_timer);
	loop_timer_disarm(s->flush_timer);
	loop_timer_disarm(s->expire_timer);
	loop_timer_arm(s->reap, 0);
}

void tun_sess_release(struct tun_session *s)
{
	struct tun_session **pp;

	for (pp = &s->srv->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			s->srv->nsessions--;
			break;
		}
	}
	if (s->link)
		tun_link_drop(s->link);
	tun_rel_free(s->rel);
	loop_timer_free(s->rel_timer);
	loop_timer_free(s->flush_timer);
	loop_timer_free(s->expire_timer);
	loop_timer_free(s->reap);
	secmem_wipe(s->resume_key, sizeof(s->resume_key));
	secmem_wipe(s->prev_key, sizeof(s->prev_key));
	free(s);
}

static void sess_reap_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;
	struct tun_server *srv = s->srv;

	log_info("tunnel: session %s ended: %s", s->user, tun_reason_str(s->end_reason));
	if (s->announced && srv->ops.on_session_end)
		srv->ops.on_session_end(srv->user, s, s->end_reason);
	tun_sess_release(s);
}

static void sess_rel_timer_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;

	if (!s->link) {
		tun_rel_quiet_tick(s->rel, loop_now_us());
		tun_sess_arm(s);
		return;
	}
	if (tun_rel_tick(s->rel, loop_now_us()) == -ETIMEDOUT) {
		tun_sess_detach(s, "no answer");
		return;
	}
	tun_sess_arm(s);
}

static void sess_flush_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;

	if (s->link)
		tun_rel_flush(s->rel, loop_now_us());
	tun_sess_arm(s);
}

static void sess_expire_cb(struct loop_timer *t, void *user)
{
	struct tun_session *s = user;

	tun_sess_end(s, TUN_R_RESUME_EXPIRED, false);
}

static void sess_rel_output(void *user, const struct tun_msg *m)
{
	struct tun_session *s = user;
	struct tun_msg c;

	if (!s->link || s->ending)
		return;		/* detached: the resumption resends it */
	c = *m;
	c.version = s->version;
	tun_link_send_msg(s->link, &c, true);
}

static int sess_rel_deliver(void *user, const uint8_t *p, size_t len)
{
	struct tun_session *s = user;
	struct h4_pkt pkt;
	int ret;

	/* The mux trusts nothing it did not parse: one whole H4 packet. */
	ret = h4_parse(&pkt, p, len, 0);
	if (ret < 0) {
		log_notice("tunnel: session %s: bad H4 packet: %s", s->user,
			   h4_strerror(ret));
		return -EPROTO;
	}
	if (s->ending)
		return 0;
	ret = s->srv->ops.on_packet(s->srv->user, s, p, len);
	return ret == -ENOBUFS ? -ENOBUFS : 0;
}

static void sess_rel_writable(void *user)
{
	struct tun_session *s = user;

	if (!s->ending && s->srv->ops.on_writable)
		s->srv->ops.on_writable(s->srv->user, s);
}

static void sess_rel_quiet(void *user)
{
	struct tun_session *s = user;

	if (s->ending || !s->announced)
		return;
	log_info("tunnel: session %s: nothing from the client for %llu ms (%s)",
		 s->user, (unsigned long long)(s->srv->rel_cfg.quiet_us / 1000),
		 s->link ? "still attached" : "detached");
	if (s->srv->ops.on_quiet)
		s->srv->ops.on_quiet(s->srv->user, s);
}

static const struct tun_rel_ops sess_rel_ops = {
	.output = sess_rel_output,
	.deliver = sess_rel_deliver,
	.writable = sess_rel_writable,
	.quiet = sess_rel_quiet,
};

/*
 * A RESUME's proof: HMAC-SHA256 under a resume key over bind, the value
 * exported from the new channel. 0: made with the session's key; 1: with
 * the key before the latest rotation, while that one is still good (see
 * prev_key); -EACCES: neither. Both are computed and compared every time
 * (constant time, whichever key the client holds).
 */
int tun_sess_check_proof(const struct tun_session *s, const uint8_t *bind,
			 const uint8_t *proof)
{
	uint8_t mac[TUN_PROOF_LEN];
	bool cur = false, prev = false;

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, s->resume_key, TUN_KEY_LEN,
			     bind, TUN_KEY_LEN, mac) == 0)
		cur = secmem_is_equal(mac, proof, TUN_PROOF_LEN);
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, s->prev_key, TUN_KEY_LEN,
			     bind, TUN_KEY_LEN, mac) == 0)
		prev = secmem_is_equal(mac, proof, TUN_PROOF_LEN);
	secmem_wipe(mac, sizeof(mac));
	if (cur)
		return 0;
	return prev && s->has_prev ? 1 : -EACCES;
}

/*
 * A resumption succeeded with the key which (tun_sess_check_proof's
 * answer): that one is what the client surely holds, and stays good
 * until the client confirms new_key, the one from the new channel.
 */
void tun_sess_rekey(struct tun_session *s, int which, const uint8_t *new_key)
{
	if (which == 0)
		memcpy(s->prev_key, s->resume_key, TUN_KEY_LEN);
	s->has_prev = true;
	memcpy(s->resume_key, new_key, TUN_KEY_LEN);
}

void tun_send_ready(struct tun_session *s, bool resumed)
{
	struct tun_msg m;

	tun_msg_init(&m, s->version, TUN_MSG_READY);
	m.flags = resumed ? TUN_F_RESUMED : 0;
	memcpy(m.ready.sid, s->sid, TUN_SID_LEN);
	m.ready.resume_s = (uint16_t)s->srv->cfg.resume_s;
	memcpy(m.ready.user, s->user, sizeof(s->user));
	tun_link_send(s->link, &m);
}

/* Move a pending link into a session. */
void tun_link_attach(struct tun_link *k, struct tun_session *s)
{
	tun_link_unpend(k);
	loop_timer_disarm(k->timer);
	scram_server_free(k->scram);
	k->scram = NULL;
	k->state = L_ATTACHED;
	k->s = s;
	s->link = k;
	tun_rel_set_stream(s->rel, tun_link_is_stream(k));
}

/* A session not yet in the list: its timers and reliability layer. */
struct tun_session *tun_sess_new(struct tun_server *srv, uint8_t version,
				 const char *name, bool stream)
{
	struct tun_session *s;
	struct tun_rel_cfg rc = srv->rel_cfg;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->srv = srv;
	s->version = version;
	snprintf(s->user, sizeof(s->user), "%s", name);
	rc.stream = stream;
	s->rel_timer = loop_timer_new(srv->l, sess_rel_timer_cb, s);
	s->flush_timer = loop_timer_new(srv->l, sess_flush_cb, s);
	s->expire_timer = loop_timer_new(srv->l, sess_expire_cb, s);
	s->reap = loop_timer_new(srv->l, sess_reap_cb, s);
	if (!s->rel_timer || !s->flush_timer || !s->expire_timer || !s->reap ||
	    tun_rel_new(&s->rel, &rc, &sess_rel_ops, s, loop_now_us()) < 0) {
		tun_sess_release(s);	/* not linked yet: just frees */
		return NULL;
	}
	return s;
}

void tun_sess_link_in(struct tun_session *s)
{
	s->next = s->srv->sessions;
	s->srv->sessions = s;
	s->srv->nsessions++;
}

/* The owner hears of a new session (READY or OK already queued). */
void tun_sess_announce(struct tun_session *s)
{
	struct tun_server *srv = s->srv;
	int ret;

	ret = srv->ops.on_session ? srv->ops.on_session(srv->user, s, s->user) : 0;
	if (ret < 0) {
		tun_sess_end(s, TUN_R_REFUSED, true);
		return;
	}
	s->announced = true;
	tun_sess_arm(s);
}

void tun_sess_on_msg(struct tun_session *s, const struct tun_msg *m)
{
	int ret;

	if (m->version != s->version) {
		tun_sess_end(s, TUN_R_PROTOCOL, true);
		return;
	}
	switch (m->type) {
	case TUN_MSG_HCI:
	case TUN_MSG_ACK:
	case TUN_MSG_KEEPALIVE:
		/*
		 * The client sends these only after READY: it has the key
		 * exported at the latest resumption, the one before is done.
		 */
		if (s->has_prev) {
			secmem_wipe(s->prev_key, sizeof(s->prev_key));
			s->has_prev = false;
		}
		ret = tun_rel_input(s->rel, m, loop_now_us());
		if (ret < 0) {
			log_notice("tunnel: session %s: %s: %s", s->user,
				   tun_msg_type_name(m->type), strerror(-ret));
			tun_sess_end(s, ret == -ENOMEM ? TUN_R_INTERNAL : TUN_R_PROTOCOL, true);
			return;
		}
		if (!loop_timer_is_armed(s->flush_timer))
			loop_timer_arm(s->flush_timer, 0);
		return;
	case TUN_MSG_CLOSE:
	case TUN_MSG_ERROR:
		log_info("tunnel: session %s: client sent %s %u (%s)", s->user,
			 tun_msg_type_name(m->type), m->close.code, m->close.text);
		tun_sess_end(s, m->type == TUN_MSG_CLOSE ? TUN_R_SHUTDOWN : m->close.code, false);
		return;
	default:
		log_notice("tunnel: session %s: unexpected %s", s->user,
			   tun_msg_type_name(m->type));
		tun_sess_end(s, TUN_R_PROTOCOL, true);
		return;
	}
}

static int check_h4(const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;

	if (len > TUN_REL_PKT_MAX)
		return -EMSGSIZE;
	return h4_parse(&pkt, h4, len, 0) < 0 ? -EBADMSG : 0;
}

int tun_session_send(struct tun_session *s, const uint8_t *h4, size_t len)
{
	int ret;

	if (s->ending)
		return -ENOTCONN;
	ret = check_h4(h4, len);
	if (ret < 0)
		return ret;
	ret = tun_rel_send(s->rel, h4, len, loop_now_us());
	if (ret == 0)
		tun_sess_arm(s);
	return ret;
}

int tun_session_send_soft(struct tun_session *s, const uint8_t *h4, size_t len,
			  unsigned max_queued)
{
	int ret;

	if (s->ending)
		return -ENOTCONN;
	ret = check_h4(h4, len);
	if (ret < 0)
		return ret;
	ret = tun_rel_send_soft(s->rel, h4, len, loop_now_us(), max_queued);
	if (ret == 0)
		tun_sess_arm(s);
	return ret;
}

void tun_session_rx_kick(struct tun_session *s)
{
	if (s->ending)
		return;
	if (tun_rel_rx_kick(s->rel, loop_now_us()) < 0)
		tun_sess_end(s, TUN_R_PROTOCOL, true);
	else
		tun_sess_arm(s);
}

void tun_session_close(struct tun_session *s, int reason)
{
	tun_sess_end(s, reason ? reason : TUN_R_LOCAL_CLOSE, true);
}

const char *tun_session_user(const struct tun_session *s)
{
	return s->user;
}

const char *tun_session_peer(const struct tun_session *s, char *buf, size_t cap)
{
	if (!s->link) {
		snprintf(buf, cap, "-");
		return buf;
	}
	return tun_link_peer_str(s->link, buf, cap);
}

bool tun_session_is_attached(const struct tun_session *s)
{
	return s->link != NULL;
}

bool tun_session_is_quiet(const struct tun_session *s)
{
	return s && s->rel && tun_rel_is_quiet(s->rel);
}

void tun_session_set_data(struct tun_session *s, void *data)
{
	s->data = data;
}

void *tun_session_get_data(const struct tun_session *s)
{
	return s->data;
}

void tun_session_get_stats(const struct tun_session *s, struct tun_rel_stats *st)
{
	tun_rel_get_stats(s->rel, st);
}
