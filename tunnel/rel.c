/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pktq.h"
#include "rel.h"

/* RFC 6298 section 2: clock granularity G in the RTO formula. */
#define TUN_REL_G_US		1000
/* Segments after a hole that count as a loss signal (RFC 6675 DupThresh). */
#define TUN_REL_DUPTHRESH	3

struct tun_seg {
	struct pkt *p;		/* data[0]: header flags, then the segment */
	uint64_t sent_us;
	uint8_t tries;
	bool sacked;
};

struct tun_rel {
	struct tun_rel_cfg cfg;
	struct tun_rel_ops ops;
	void *user;
	bool broken;		/* a multi-segment send half queued (ENOMEM) */

	/* Sender. */
	struct pktq sndq;
	struct tun_seg fl[TUN_REL_WND_MAX];	/* by seq % TUN_REL_WND_MAX */
	uint32_t snd_una;	/* oldest unacknowledged */
	uint32_t snd_nxt;	/* next new sequence number */
	uint32_t peer_wnd;
	uint32_t high_sack;	/* one past the highest selectively acked */
	bool want_writable;
	uint32_t writable_at;	/* ops->writable once no more are outstanding */
	bool have_rtt;
	uint64_t srtt, rttvar, rto;
	uint64_t last_tx, last_rx, last_probe;
	bool quiet;		/* ops->quiet called for this silence */

	/* Receiver: ring over [rcv_base, rcv_base + rcv_wnd). */
	struct pkt *rq[TUN_REL_WND_MAX];
	uint32_t rcv_base;	/* oldest segment not yet consumed */
	uint32_t rcv_nxt;	/* next in-order segment expected (cum ack) */
	uint8_t *asm_buf;	/* reassembly of a multi-segment packet */
	size_t asm_len;
	bool held;		/* asm_buf is whole, deliver() said not now */
	bool ack_pending;
	bool have_echo;
	uint32_t echo;		/* newest segment accepted, for the peer's RTT */

	struct tun_rel_stats st;
};

/* Serial number comparison (RFC 1982): a before b. */
static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static uint64_t u64_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void tun_rel_cfg_default(struct tun_rel_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->snd_wnd = 128;
	cfg->rcv_wnd = 128;
	cfg->sndq_max = 512;
	/*
	 * RFC 6298 2.1 starts at 1 s and 2.4 floors the RTO at 1 s, against
	 * spurious retransmissions of TCP with delayed ACKs. Here every batch
	 * of data is acknowledged at once (no delayed ACK) and a spurious
	 * retransmission only costs a duplicate the receiver drops, while a
	 * lost Command Complete stalls the host for the whole RTO; so the
	 * first RTO is 250 ms (the handshake has just crossed the path) and
	 * the floor 20 ms, which is far above a LAN round trip.
	 */
	cfg->rto_init_us = 250000;
	cfg->rto_min_us = 20000;
	cfg->rto_max_us = 4000000;
	/*
	 * A second: the server notices a silent client within a few
	 * (quiet_us) and lets its devices go, for about 150 bytes a second
	 * each way on the wire (doc/protocol.md 6.7). The client's owner
	 * uses TUN_REL_KEEPALIVE_CLI_US.
	 */
	cfg->keepalive_us = TUN_REL_KEEPALIVE_SRV_US;
	cfg->quiet_us = TUN_REL_QUIET_US;
	cfg->dead_us = 20000000;
}

/*
 * Segments sent beyond the window the peer advertised since (it shrank, or
 * the first guess was too big) are not retransmitted on a timer: the peer
 * would drop them again, and counting those tries would declare a slow
 * but live peer dead. They go once the window covers them.
 */
static uint32_t rel_wnd_end(const struct tun_rel *r)
{
	if (r->snd_nxt - r->snd_una > r->peer_wnd)
		return r->snd_una + r->peer_wnd;
	return r->snd_nxt;
}

/* Data waits and the peer's window is shut: probe it (RFC 9293 3.8.6.1). */
static bool rel_wnd_shut(const struct tun_rel *r)
{
	return r->peer_wnd == 0 &&
	       (!pktq_is_empty(&r->sndq) || r->snd_una != r->snd_nxt);
}

static void rel_output_seg(struct tun_rel *r, uint32_t seq, struct tun_seg *s)
{
	struct tun_msg m;

	memset(&m, 0, sizeof(m));
	m.type = TUN_MSG_HCI;
	m.flags = s->p->data[0];
	m.hci.seq = seq;
	m.hci.data = s->p->data + 1;
	m.hci.len = (uint16_t)(s->p->len - 1);
	r->ops.output(r->user, &m);
}

static void rel_output_simple(struct tun_rel *r, uint8_t type, uint64_t now)
{
	struct tun_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	r->ops.output(r->user, &m);
	r->last_tx = now;
}

static void rel_retransmit(struct tun_rel *r, uint32_t seq, uint64_t now)
{
	struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

	s->sent_us = now;
	if (s->tries < UINT8_MAX)
		s->tries++;
	r->st.seg_retx++;
	r->last_tx = now;
	rel_output_seg(r, seq, s);
}

static void rel_pump(struct tun_rel *r, uint64_t now)
{
	uint32_t wnd = r->cfg.snd_wnd;

	if (r->peer_wnd < wnd)
		wnd = r->peer_wnd;
	while (!pktq_is_empty(&r->sndq) && r->snd_nxt - r->snd_una < wnd) {
		struct tun_seg *s = &r->fl[r->snd_nxt % TUN_REL_WND_MAX];

		s->p = pktq_pop(&r->sndq);
		s->sent_us = now;
		s->tries = 1;
		s->sacked = false;
		r->st.seg_sent++;
		r->last_tx = now;
		rel_output_seg(r, r->snd_nxt, s);
		r->snd_nxt++;
	}
	if (r->want_writable && r->sndq.count <= r->cfg.sndq_max / 2 &&
	    r->sndq.count + (r->snd_nxt - r->snd_una) <= r->writable_at) {
		r->want_writable = false;
		r->writable_at = UINT32_MAX;
		if (r->ops.writable)
			r->ops.writable(r->user);
	}
}

int tun_rel_new(struct tun_rel **out, const struct tun_rel_cfg *cfg,
		const struct tun_rel_ops *ops, void *user, uint64_t now)
{
	struct tun_rel *r = NULL;
	int ret = -EINVAL;

	*out = NULL;
	if (!cfg->snd_wnd || cfg->snd_wnd > TUN_REL_WND_MAX ||
	    !cfg->rcv_wnd || cfg->rcv_wnd > TUN_REL_WND_MAX ||
	    !cfg->sndq_max || !cfg->rto_min_us ||
	    cfg->rto_min_us > cfg->rto_max_us || !cfg->keepalive_us ||
	    cfg->dead_us <= cfg->keepalive_us ||
	    (cfg->quiet_us && cfg->quiet_us <= cfg->keepalive_us) ||
	    !ops->output || !ops->deliver)
		goto fail;
	ret = -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto fail;
	r->asm_buf = malloc(TUN_REL_PKT_MAX);
	if (!r->asm_buf)
		goto fail;
	r->cfg = *cfg;
	r->ops = *ops;
	r->user = user;
	pktq_init(&r->sndq, cfg->sndq_max, 0);
	r->writable_at = UINT32_MAX;
	r->peer_wnd = TUN_REL_INIT_PEER_WND;
	r->rto = cfg->rto_init_us;
	r->last_tx = r->last_rx = r->last_probe = now;
	*out = r;
	return 0;
fail:
	tun_rel_free(r);
	return ret;
}

void tun_rel_free(struct tun_rel *r)
{
	size_t i;

	if (!r)
		return;
	pktq_clear(&r->sndq);
	for (i = 0; i < TUN_REL_WND_MAX; i++) {
		pkt_free(r->fl[i].p);
		pkt_free(r->rq[i]);
	}
	free(r->asm_buf);
	free(r);
}

int tun_rel_send(struct tun_rel *r, const uint8_t *pkt, size_t len, uint64_t now)
{
	uint8_t seg[1 + TUN_SEG_MAX];
	size_t nseg, off, n;
	int ret;

	if (r->broken)
		return -ENOMEM;
	if (len == 0 || len > TUN_REL_PKT_MAX)
		return -EMSGSIZE;
	nseg = (len + TUN_SEG_MAX - 1) / TUN_SEG_MAX;
	if (r->sndq.count + nseg > r->cfg.sndq_max) {
		r->want_writable = true;
		return -ENOBUFS;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < TUN_SEG_MAX ? len - off : TUN_SEG_MAX;
		seg[0] = off + n < len ? TUN_F_MORE : 0;
		memcpy(seg + 1, pkt + off, n);
		ret = pktq_push(&r->sndq, seg, 1 + n);
		if (ret < 0) {
			/* Part of a packet is queued: the stream is lost. */
			if (off)
				r->broken = true;
			return ret;
		}
	}
	rel_pump(r, now);
	return 0;
}

int tun_rel_send_soft(struct tun_rel *r, const uint8_t *pkt, size_t len,
		      uint64_t now, uint32_t max_queued)
{
	/* Unacknowledged and waiting alike: the window is the answers' too. */
	if (r->sndq.count + (r->snd_nxt - r->snd_una) >= max_queued) {
		r->want_writable = true;
		if (r->writable_at > max_queued / 2)
			r->writable_at = max_queued / 2;
		return -ENOBUFS;
	}
	return tun_rel_send(r, pkt, len, now);
}

/* RFC 6298 section 2.2 and 2.3. */
static void rel_rtt_sample(struct tun_rel *r, uint64_t rtt)
{
	uint64_t var;

	if (!r->have_rtt) {
		r->srtt = rtt;
		r->rttvar = rtt / 2;
		r->have_rtt = true;
	} else {
		uint64_t d = r->srtt > rtt ? r->srtt - rtt : rtt - r->srtt;

		r->rttvar = (3 * r->rttvar + d) / 4;
		r->srtt = (7 * r->srtt + rtt) / 8;
	}
	var = 4 * r->rttvar;
	if (var < TUN_REL_G_US)
		var = TUN_REL_G_US;
	r->rto = r->srtt + var;
	if (r->rto < r->cfg.rto_min_us)
		r->rto = r->cfg.rto_min_us;
	if (r->rto > r->cfg.rto_max_us)
		r->rto = r->cfg.rto_max_us;
}

static int rel_on_ack(struct tun_rel *r, const struct tun_msg *m, uint64_t now)
{
	uint32_t cum = m->ack.cum, seq, span;
	size_t i;

	if (seq_lt(r->snd_nxt, cum))
		return -EPROTO;		/* acknowledges what was never sent */
	if (seq_lt(cum, r->snd_una))
		return 0;		/* older than one already applied */
	/*
	 * RTT from the echoed segment only: a cumulative advance may cover
	 * segments that sat behind a hole for many RTTs, and a SACK range
	 * may be reported late (at most TUN_SACK_MAX per ACK), so neither
	 * says when the segment arrived. Karn: never a retransmitted one.
	 */
	if ((m->flags & TUN_F_ECHO) && !seq_lt(m->ack.echo, r->snd_una) &&
	    seq_lt(m->ack.echo, r->snd_nxt)) {
		struct tun_seg *s = &r->fl[m->ack.echo % TUN_REL_WND_MAX];

		if (s->p && s->tries == 1 && !s->sacked)
			rel_rtt_sample(r, now - s->sent_us);
	}
	for (seq = r->snd_una; seq != cum; seq++) {
		struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

		pkt_free(s->p);
		memset(s, 0, sizeof(*s));
	}
	r->snd_una = cum;
	r->peer_wnd = m->ack.wnd < TUN_REL_WND_MAX ? m->ack.wnd : TUN_REL_WND_MAX;
	span = r->snd_nxt - r->snd_una;
	if (seq_lt(r->high_sack, r->snd_una))
		r->high_sack = r->snd_una;
	for (i = 0; i < m->ack.nsack; i++) {
		const struct tun_sack *k = &m->ack.sack[i];

		if (k->end - r->snd_una > span)
			return -EPROTO;
		for (seq = k->start; seq != k->end; seq++)
			r->fl[seq % TUN_REL_WND_MAX].sacked = true;
		if (seq_lt(r->high_sack, k->end))
			r->high_sack = k->end;
	}
	/*
	 * A segment DupThresh or more below the highest one the peer holds
	 * is presumed lost (RFC 6675 section 5); resend it at most once per
	 * smoothed RTT instead of waiting for its RTO.
	 */
	if (!r->cfg.stream && r->have_rtt) {
		for (seq = r->snd_una; seq_lt(seq, r->high_sack); seq++) {
			struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

			/* high_sack - 1 is the highest SACKed segment. */
			if (r->high_sack - 1 - seq < TUN_REL_DUPTHRESH)
				break;
			if (!s->sacked && now - s->sent_us >= r->srtt + 2 * r->rttvar)
				rel_retransmit(r, seq, now);
		}
	}
	rel_pump(r, now);
	return 0;
}

/* Hand over, in order, the segments below rcv_nxt. */
static int rel_consume(struct tun_rel *r)
{
	int ret;

	if (r->held) {
		ret = r->ops.deliver(r->user, r->asm_buf, r->asm_len);
		if (ret == -ENOBUFS)
			return 0;
		if (ret < 0)
			return ret;
		r->held = false;
		r->asm_len = 0;
		r->st.pkt_delivered++;
		r->ack_pending = true;	/* the window opened */
	}
	while (r->rcv_base != r->rcv_nxt) {
		struct pkt *p = r->rq[r->rcv_base % TUN_REL_WND_MAX];
		uint8_t flags = p->data[0];
		size_t n = p->len - 1;

		if (n > TUN_REL_PKT_MAX - r->asm_len)
			return -EPROTO;	/* a packet over the cap */
		memcpy(r->asm_buf + r->asm_len, p->data + 1, n);
		r->asm_len += n;
		pkt_free(p);
		r->rq[r->rcv_base % TUN_REL_WND_MAX] = NULL;
		r->rcv_base++;
		r->ack_pending = true;
		if (flags & TUN_F_MORE)
			continue;
		ret = r->ops.deliver(r->user, r->asm_buf, r->asm_len);
		if (ret == -ENOBUFS) {
			r->held = true;
			return 0;
		}
		if (ret < 0)
			return ret;
		r->asm_len = 0;
		r->st.pkt_delivered++;
	}
	return 0;
}

static int rel_on_data(struct tun_rel *r, const struct tun_msg *m)
{
	uint32_t off = m->hci.seq - r->rcv_nxt;
	uint32_t lim = r->rcv_base + r->cfg.rcv_wnd - r->rcv_nxt;
	uint8_t seg[1 + TUN_SEG_MAX];
	size_t idx = m->hci.seq % TUN_REL_WND_MAX;
	struct pkt *p;

	r->ack_pending = true;
	/* Below rcv_nxt (a duplicate) wraps to a huge offset. */
	if (off >= lim || r->rq[idx]) {
		r->st.seg_dup++;
		return 0;
	}
	seg[0] = m->flags;
	memcpy(seg + 1, m->hci.data, m->hci.len);
	p = malloc(sizeof(*p) + 1 + m->hci.len);
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->len = 1 + (size_t)m->hci.len;
	memcpy(p->data, seg, p->len);
	r->rq[idx] = p;
	r->st.seg_rcvd++;
	r->echo = m->hci.seq;
	r->have_echo = true;
	while (r->rcv_nxt - r->rcv_base < r->cfg.rcv_wnd &&
	       r->rq[r->rcv_nxt % TUN_REL_WND_MAX])
		r->rcv_nxt++;
	return rel_consume(r);
}

int tun_rel_input(struct tun_rel *r, const struct tun_msg *m, uint64_t now)
{
	r->last_rx = now;
	r->quiet = false;
	switch (m->type) {
	case TUN_MSG_HCI:
		return rel_on_data(r, m);
	case TUN_MSG_ACK:
		return rel_on_ack(r, m, now);
	case TUN_MSG_KEEPALIVE:
		/* Answered by an ACK: proof of life and a window update. */
		r->ack_pending = true;
		return 0;
	default:
		return -EPROTO;
	}
}

int tun_rel_rx_kick(struct tun_rel *r, uint64_t now)
{
	int ret = rel_consume(r);

	tun_rel_flush(r, now);
	return ret;
}

void tun_rel_flush(struct tun_rel *r, uint64_t now)
{
	struct tun_msg m;
	uint32_t seq, end = r->rcv_base + r->cfg.rcv_wnd;

	if (!r->ack_pending)
		return;
	memset(&m, 0, sizeof(m));
	m.type = TUN_MSG_ACK;
	m.ack.cum = r->rcv_nxt;
	m.ack.wnd = (uint16_t)(end - r->rcv_nxt);
	if (r->have_echo) {
		m.flags = TUN_F_ECHO;
		m.ack.echo = r->echo;
		r->have_echo = false;
	}
	/* The lowest ranges first: they fill the holes the sender resends. */
	for (seq = r->rcv_nxt + 1; seq_lt(seq, end) &&
	     m.ack.nsack < TUN_SACK_MAX; seq++) {
		if (!r->rq[seq % TUN_REL_WND_MAX])
			continue;
		m.ack.sack[m.ack.nsack].start = seq;
		while (seq_lt(seq, end) && r->rq[seq % TUN_REL_WND_MAX])
			seq++;
		m.ack.sack[m.ack.nsack].end = seq;
		m.ack.nsack++;
	}
	r->ops.output(r->user, &m);
	r->ack_pending = false;
	r->last_tx = now;
}

/*
 * The probe timeout: the RTO of RFC 6298 without the 20 ms floor, as QUIC's
 * PTO (RFC 9002 section 6.2, no max_ack_delay: ACKs are never delayed).
 * 0 when there is no probe to send: over TCP, before the first RTT sample,
 * or when the floor does not apply (the RTO comes as soon).
 */
static uint64_t rel_pto(const struct tun_rel *r)
{
	uint64_t var = 4 * r->rttvar, pto;

	if (r->cfg.stream || !r->have_rtt)
		return 0;
	if (var < TUN_REL_G_US)
		var = TUN_REL_G_US;
	pto = r->srtt + var;
	return pto < r->rto ? pto : 0;
}

/*
 * The segment a tail-loss probe would resend: the oldest un-SACKed one in
 * the window, if it went out only once. A lone lost command (or the last
 * ones of a burst) has no later segments whose SACKs would reveal the
 * loss (section 6.6), so without the probe it waits for the RTO floor.
 */
static struct tun_seg *rel_probe_seg(const struct tun_rel *r, uint32_t *seqp)
{
	uint32_t seq;

	for (seq = r->snd_una; seq != rel_wnd_end(r); seq++) {
		const struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

		if (s->sacked)
			continue;
		if (s->tries != 1)
			return NULL;
		*seqp = seq;
		return (struct tun_seg *)s;
	}
	return NULL;
}

void tun_rel_quiet_tick(struct tun_rel *r, uint64_t now)
{
	if (r->quiet || !r->cfg.quiet_us || now - r->last_rx < r->cfg.quiet_us)
		return;
	r->quiet = true;
	if (r->ops.quiet)
		r->ops.quiet(r->user);
}

uint64_t tun_rel_quiet_deadline(const struct tun_rel *r)
{
	if (r->quiet || !r->cfg.quiet_us)
		return UINT64_MAX;
	return r->last_rx + r->cfg.quiet_us;
}

bool tun_rel_is_quiet(const struct tun_rel *r)
{
	return r->quiet;
}

int tun_rel_tick(struct tun_rel *r, uint64_t now)
{
	uint32_t seq;
	uint64_t pto = rel_pto(r);

	if (now - r->last_rx >= r->cfg.dead_us)
		return -ETIMEDOUT;
	tun_rel_quiet_tick(r, now);
	if (!r->cfg.stream) {
		bool backoff = false;
		struct tun_seg *ps;

		/*
		 * One probe per segment, no backoff: a spurious one costs a
		 * duplicate; a second loss is left to the RTO, which backs
		 * off.
		 */
		ps = pto ? rel_probe_seg(r, &seq) : NULL;
		if (ps && now - ps->sent_us >= pto) {
			r->st.seg_probe++;
			rel_retransmit(r, seq, now);
		}
		for (seq = r->snd_una; seq != rel_wnd_end(r); seq++) {
			struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

			if (s->sacked || now - s->sent_us < r->rto)
				continue;
			if (s->tries >= TUN_REL_MAX_TRIES)
				return -ETIMEDOUT;
			/* RFC 6298 5.5: back off when the oldest times out. */
			if (seq == r->snd_una)
				backoff = true;
			rel_retransmit(r, seq, now);
		}
		if (backoff)
			r->rto = u64_min(2 * r->rto, r->cfg.rto_max_us);
	}
	rel_pump(r, now);
	/* Window probe: the peer's window is shut and its update may be lost. */
	if (rel_wnd_shut(r) && now - r->last_probe >= r->rto) {
		r->last_probe = now;
		rel_output_simple(r, TUN_MSG_KEEPALIVE, now);
	}
	if (now - r->last_tx >= r->cfg.keepalive_us)
		rel_output_simple(r, TUN_MSG_KEEPALIVE, now);
	tun_rel_flush(r, now);
	return 0;
}

uint64_t tun_rel_deadline(const struct tun_rel *r)
{
	uint64_t d = r->last_rx + r->cfg.dead_us;
	uint32_t seq;

	d = u64_min(d, r->last_tx + r->cfg.keepalive_us);
	d = u64_min(d, tun_rel_quiet_deadline(r));
	if (!r->cfg.stream) {
		uint64_t pto = rel_pto(r);
		const struct tun_seg *ps = pto ? rel_probe_seg(r, &seq) : NULL;

		if (ps)
			d = u64_min(d, ps->sent_us + pto);
		for (seq = r->snd_una; seq != rel_wnd_end(r); seq++) {
			const struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

			if (!s->sacked)
				d = u64_min(d, s->sent_us + r->rto);
		}
	}
	if (rel_wnd_shut(r))
		d = u64_min(d, r->last_probe + r->rto);
	return d;
}

void tun_rel_path_reset(struct tun_rel *r, uint64_t now)
{
	uint32_t seq;

	r->have_rtt = false;
	r->srtt = r->rttvar = 0;
	r->rto = r->cfg.rto_init_us;
	/* The resumption is the peer speaking: alive, not silent. */
	r->last_rx = now;
	r->quiet = false;
	for (seq = r->snd_una; seq != r->snd_nxt; seq++) {
		struct tun_seg *s = &r->fl[seq % TUN_REL_WND_MAX];

		if (s->sacked)
			continue;
		/* A fresh budget of tries on the new path; no RTT sample. */
		s->tries = 1;
		rel_retransmit(r, seq, now);
	}
	r->ack_pending = true;
	rel_pump(r, now);
	tun_rel_flush(r, now);
}

void tun_rel_set_stream(struct tun_rel *r, bool stream)
{
	r->cfg.stream = stream;
}

bool tun_rel_is_idle(const struct tun_rel *r)
{
	return pktq_is_empty(&r->sndq) && r->snd_una == r->snd_nxt;
}

void tun_rel_get_stats(const struct tun_rel *r, struct tun_rel_stats *st)
{
	*st = r->st;
	st->rto_us = r->rto;
	st->srtt_us = r->have_rtt ? r->srtt : 0;
}
