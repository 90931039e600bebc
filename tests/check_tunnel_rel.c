/* SPDX-License-Identifier: MIT */
/*
 * tunnel/rel.c: the reliability layer, driven with simulated time.
 * The lossy-link case prints its seed; BGW_TEST_SEED=<n> replays one.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "rel.h"

/* ---- a captured endpoint for the small cases ---- */

#define CAP_MAX 4096

struct cap {
	struct tun_rel *r;
	struct tun_msg out[CAP_MAX];
	uint8_t data[CAP_MAX][TUN_SEG_MAX];
	size_t nout;
	uint8_t got[64][2048];
	size_t got_len[64];
	size_t ngot;
	int deliver_ret;	/* 0, or -ENOBUFS to play a slow owner */
	int writable;
};

static void cap_output(void *user, const struct tun_msg *m)
{
	struct cap *c = user;

	ck_assert_uint_lt(c->nout, CAP_MAX);
	c->out[c->nout] = *m;
	if (m->type == TUN_MSG_HCI) {
		memcpy(c->data[c->nout], m->hci.data, m->hci.len);
		c->out[c->nout].hci.data = c->data[c->nout];
	}
	c->nout++;
}

static int cap_deliver(void *user, const uint8_t *p, size_t len)
{
	struct cap *c = user;

	if (c->deliver_ret)
		return c->deliver_ret;
	ck_assert_uint_lt(c->ngot, 64);
	ck_assert_uint_le(len, sizeof(c->got[0]));
	memcpy(c->got[c->ngot], p, len);
	c->got_len[c->ngot++] = len;
	return 0;
}

static void cap_writable(void *user)
{
	((struct cap *)user)->writable++;
}

static const struct tun_rel_ops cap_ops = {
	.output = cap_output,
	.deliver = cap_deliver,
	.writable = cap_writable,
};

static struct cap *cap_new(const struct tun_rel_cfg *cfg)
{
	struct cap *c = calloc(1, sizeof(*c));
	struct tun_rel_cfg d;

	ck_assert_ptr_nonnull(c);
	if (!cfg) {
		tun_rel_cfg_default(&d);
		cfg = &d;
	}
	ck_assert_int_eq(tun_rel_new(&c->r, cfg, &cap_ops, c, 0), 0);
	return c;
}

static void cap_free(struct cap *c)
{
	tun_rel_free(c->r);
	free(c);
}

static size_t count_type(const struct cap *c, uint8_t type)
{
	size_t i, n = 0;

	for (i = 0; i < c->nout; i++)
		n += c->out[i].type == type;
	return n;
}

static struct tun_msg hci(uint32_t seq, uint8_t flags, const void *d, uint16_t len)
{
	struct tun_msg m;

	memset(&m, 0, sizeof(m));
	m.type = TUN_MSG_HCI;
	m.flags = flags;
	m.hci.seq = seq;
	m.hci.data = d;
	m.hci.len = len;
	return m;
}

static struct tun_msg ack(uint32_t cum, uint16_t wnd)
{
	struct tun_msg m;

	memset(&m, 0, sizeof(m));
	m.type = TUN_MSG_ACK;
	m.ack.cum = cum;
	m.ack.wnd = wnd;
	if (cum) {
		m.flags = TUN_F_ECHO;
		m.ack.echo = cum - 1;
	}
	return m;
}

START_TEST(config_checked)
{
	struct tun_rel_cfg cfg;
	struct tun_rel *r;

	tun_rel_cfg_default(&cfg);
	cfg.snd_wnd = TUN_REL_WND_MAX + 1;
	ck_assert_int_eq(tun_rel_new(&r, &cfg, &cap_ops, NULL, 0), -EINVAL);
	tun_rel_cfg_default(&cfg);
	cfg.rcv_wnd = 0;
	ck_assert_int_eq(tun_rel_new(&r, &cfg, &cap_ops, NULL, 0), -EINVAL);
	tun_rel_cfg_default(&cfg);
	cfg.dead_us = cfg.keepalive_us;
	ck_assert_int_eq(tun_rel_new(&r, &cfg, &cap_ops, NULL, 0), -EINVAL);
	ck_assert_ptr_null(r);
	tun_rel_free(NULL);
}
END_TEST

START_TEST(duplicates_delivered_once)
{
	struct cap *c = cap_new(NULL);
	struct tun_msg m = hci(0, 0, "\x04\x0e\x00", 3);
	struct tun_rel_stats st;

	ck_assert_int_eq(tun_rel_input(c->r, &m, 10), 0);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 11), 0);
	tun_rel_flush(c->r, 12);
	ck_assert_uint_eq(c->ngot, 1);
	ck_assert_uint_eq(c->nout, 1);	/* one ACK for the batch */
	ck_assert_int_eq(c->out[0].type, TUN_MSG_ACK);
	ck_assert_uint_eq(c->out[0].ack.cum, 1);
	ck_assert_uint_eq(c->out[0].ack.wnd, 128);
	/* The duplicate still earns an ACK: the first one may be lost. */
	ck_assert_int_eq(tun_rel_input(c->r, &m, 13), 0);
	tun_rel_flush(c->r, 13);
	ck_assert_uint_eq(c->nout, 2);
	ck_assert_uint_eq(c->ngot, 1);
	tun_rel_get_stats(c->r, &st);
	ck_assert_uint_eq(st.seg_dup, 2);
	cap_free(c);
}
END_TEST

START_TEST(reorder_and_sack)
{
	struct cap *c = cap_new(NULL);
	struct tun_msg m;

	m = hci(2, 0, "c", 1);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 1), 0);
	m = hci(4, 0, "e", 1);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 1), 0);
	m = hci(5, 0, "f", 1);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 1), 0);
	tun_rel_flush(c->r, 1);
	ck_assert_uint_eq(c->ngot, 0);
	ck_assert_uint_eq(c->out[0].ack.cum, 0);
	ck_assert_uint_eq(c->out[0].ack.nsack, 2);
	ck_assert_uint_eq(c->out[0].ack.sack[0].start, 2);
	ck_assert_uint_eq(c->out[0].ack.sack[0].end, 3);
	ck_assert_uint_eq(c->out[0].ack.sack[1].start, 4);
	ck_assert_uint_eq(c->out[0].ack.sack[1].end, 6);
	m = hci(0, 0, "a", 1);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 2), 0);
	m = hci(1, 0, "b", 1);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 2), 0);
	ck_assert_uint_eq(c->ngot, 3);
	m = hci(3, 0, "d", 1);
	ck_assert_int_eq(tun_rel_input(c->r, &m, 2), 0);
	ck_assert_uint_eq(c->ngot, 6);
	ck_assert_mem_eq(c->got[3], "d", 1);
	ck_assert_mem_eq(c->got[5], "f", 1);
	tun_rel_flush(c->r, 2);
	ck_assert_uint_eq(c->out[1].ack.cum, 6);
	ck_assert_uint_eq(c->out[1].ack.nsack, 0);
	cap_free(c);
}
END_TEST

START_TEST(segments_reassembled)
{
	struct cap *c = cap_new(NULL);
	struct cap *s = cap_new(NULL);
	uint8_t pkt[2000];
	size_t i;

	for (i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	ck_assert_int_eq(tun_rel_send(s->r, pkt, sizeof(pkt), 0), 0);
	ck_assert_uint_eq(s->nout, 2);
	ck_assert_int_eq(s->out[0].flags, TUN_F_MORE);
	ck_assert_uint_eq(s->out[0].hci.len, TUN_SEG_MAX);
	ck_assert_int_eq(s->out[1].flags, 0);
	/* Second segment first: nothing until the first arrives. */
	ck_assert_int_eq(tun_rel_input(c->r, &s->out[1], 1), 0);
	ck_assert_uint_eq(c->ngot, 0);
	ck_assert_int_eq(tun_rel_input(c->r, &s->out[0], 1), 0);
	ck_assert_uint_eq(c->ngot, 1);
	ck_assert_uint_eq(c->got_len[0], sizeof(pkt));
	ck_assert_mem_eq(c->got[0], pkt, sizeof(pkt));
	ck_assert_int_eq(tun_rel_send(s->r, pkt, 0, 0), -EMSGSIZE);
	ck_assert_int_eq(tun_rel_send(s->r, pkt, TUN_REL_PKT_MAX + 1, 0), -EMSGSIZE);
	cap_free(c);
	cap_free(s);
}
END_TEST

START_TEST(oversized_reassembly_refused)
{
	struct tun_rel_cfg cfg;
	struct cap *c;
	static uint8_t seg[TUN_SEG_MAX];
	struct tun_msg m;
	uint32_t i;
	int ret = 0;

	tun_rel_cfg_default(&cfg);
	cfg.rcv_wnd = TUN_REL_WND_MAX;
	c = cap_new(&cfg);
	/* 65 full segments all marked MORE: past TUN_REL_PKT_MAX. */
	for (i = 0; i < 65 && ret == 0; i++) {
		m = hci(i, TUN_F_MORE, seg, TUN_SEG_MAX);
		ret = tun_rel_input(c->r, &m, 1);
	}
	ck_assert_int_eq(ret, -EPROTO);
	ck_assert_uint_eq(i, 65);
	ck_assert_uint_eq(c->ngot, 0);
	cap_free(c);
}
END_TEST

START_TEST(bad_acks_refused)
{
	struct cap *s = cap_new(NULL);
	struct tun_msg m;

	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"x", 1, 0), 0);
	m = ack(2, 10);		/* only seq 0 was sent */
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1), -EPROTO);
	m = ack(0, 10);
	m.ack.nsack = 1;
	m.ack.sack[0] = (struct tun_sack){ 1, 2 };	/* beyond snd_nxt */
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1), -EPROTO);
	m = ack(0xffffff00, 10);	/* stale: ignored */
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1), 0);
	m = ack(1, 10);
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1), 0);
	ck_assert(tun_rel_is_idle(s->r));
	m.type = TUN_MSG_HELLO;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1), -EPROTO);
	cap_free(s);
}
END_TEST

/* RFC 6298 2.2/2.3 arithmetic, Karn's rule and 5.5 backoff. */
START_TEST(rto_estimator)
{
	struct cap *s = cap_new(NULL);
	struct tun_rel_stats st;
	struct tun_msg m;

	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.rto_us, 250000);
	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"a", 1, 0), 0);
	m = ack(1, 128);
	ck_assert_int_eq(tun_rel_input(s->r, &m, 10000), 0);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.srtt_us, 10000);
	ck_assert_uint_eq(st.rto_us, 10000 + 4 * 5000);
	/* Second sample 20 ms: rttvar = 3/4*5000 + 1/4*10000, srtt 11250. */
	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"b", 1, 100000), 0);
	m = ack(2, 128);
	ck_assert_int_eq(tun_rel_input(s->r, &m, 120000), 0);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.srtt_us, 11250);
	ck_assert_uint_eq(st.rto_us, 11250 + 4 * 6250);
	/* A timeout doubles the RTO; the retransmission gives no sample. */
	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"c", 1, 200000), 0);
	ck_assert_uint_eq(tun_rel_deadline(s->r), 200000 + 36250);
	s->nout = 0;
	ck_assert_int_eq(tun_rel_tick(s->r, 200000 + 36249), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 0);
	ck_assert_int_eq(tun_rel_tick(s->r, 200000 + 36250), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 1);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.rto_us, 2 * 36250);
	ck_assert_uint_eq(st.seg_retx, 1);
	m = ack(3, 128);
	ck_assert_int_eq(tun_rel_input(s->r, &m, 900000), 0);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.srtt_us, 11250);	/* Karn: unchanged */
	cap_free(s);
}
END_TEST

START_TEST(rto_floor_and_ceiling)
{
	struct cap *s = cap_new(NULL);
	struct tun_rel_stats st;
	struct tun_msg m;
	uint64_t t = 0;
	int i;

	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"a", 1, 0), 0);
	m = ack(1, 128);
	ck_assert_int_eq(tun_rel_input(s->r, &m, 100), 0);	/* 100 us LAN */
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.rto_us, 20000);	/* the documented floor */
	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"b", 1, t), 0);
	/* Some deadlines are the 1 s keepalive's, not the RTO's. */
	for (i = 0; i < 30; i++) {
		t = tun_rel_deadline(s->r);
		m = ack(1, 128);	/* keep the peer alive */
		ck_assert_int_eq(tun_rel_input(s->r, &m, t), 0);
		ck_assert_int_eq(tun_rel_tick(s->r, t), 0);
	}
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.rto_us, 4000000);	/* the ceiling */
	cap_free(s);
}
END_TEST

/* Give the sender an RTT sample of 100 us (segment 0 acked), then send n. */
static struct cap *sender_with_rtt(unsigned n, uint64_t t)
{
	struct cap *s = cap_new(NULL);
	struct tun_msg m;
	unsigned i;

	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"0", 1, 0), 0);
	m = ack(1, 128);
	ck_assert_int_eq(tun_rel_input(s->r, &m, 100), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"x", 1, t), 0);
	s->nout = 0;
	return s;
}

/* The sequence numbers of the HCI messages output since nout was cleared. */
static size_t sent_seqs(const struct cap *c, uint32_t *seq, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < c->nout && n < cap; i++)
		if (c->out[i].type == TUN_MSG_HCI)
			seq[n++] = c->out[i].hci.seq;
	return n;
}

/*
 * Section 6.6: a hole with 3 SACKed segments above it is resent at once,
 * not after the RTO; with only 2 above it, it is not (reordering); and a
 * repeated ACK within an RTT does not resend it again.
 */
START_TEST(fast_retransmit_on_three_sacks)
{
	struct cap *s = sender_with_rtt(5, 1000);	/* segments 1..5 */
	struct tun_rel_stats st;
	struct tun_msg m;
	uint32_t seq[8];

	/* 1 lost; 2 and 3 arrived: two above the hole, not enough. */
	m = ack(1, 128);
	m.flags = 0;
	m.ack.nsack = 1;
	m.ack.sack[0].start = 2;
	m.ack.sack[0].end = 4;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1300), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 0);
	/* 4 arrived too: three above the hole, 1 is resent alone. */
	m.ack.sack[0].end = 5;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1400), 0);
	ck_assert_uint_eq(sent_seqs(s, seq, 8), 1);
	ck_assert_uint_eq(seq[0], 1);
	/* The same news again (5 arrived) within an RTT: nothing resent. */
	m.ack.sack[0].end = 6;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1450), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 1);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.seg_retx, 1);
	ck_assert_uint_eq(st.seg_probe, 0);
	/* Far below the 20 ms RTO floor. */
	ck_assert_uint_eq(st.rto_us, 20000);
	/* The resent one arrives: everything is acknowledged. */
	m = ack(6, 128);
	m.flags = 0;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1600), 0);
	ck_assert(tun_rel_is_idle(s->r));
	cap_free(s);
}
END_TEST

/*
 * A lone lost segment (a command with nothing after it) has no SACKs to
 * reveal it: the tail-loss probe resends it after SRTT + max(G, 4 RTTVAR)
 * = 100 + 1000 us instead of the 20 ms RTO floor, once, without backing
 * off the RTO; if the probe is lost too, the RTO takes over.
 */
START_TEST(tail_loss_probe_before_rto)
{
	struct cap *s = sender_with_rtt(1, 5000);	/* segment 1 at 5000 */
	struct tun_rel_stats st;
	uint32_t seq[4];

	ck_assert_uint_eq(tun_rel_deadline(s->r), 5000 + 1100);
	ck_assert_int_eq(tun_rel_tick(s->r, 6099), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 0);
	ck_assert_int_eq(tun_rel_tick(s->r, 6100), 0);
	ck_assert_uint_eq(sent_seqs(s, seq, 4), 1);
	ck_assert_uint_eq(seq[0], 1);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.seg_probe, 1);
	ck_assert_uint_eq(st.seg_retx, 1);
	ck_assert_uint_eq(st.rto_us, 20000);	/* no backoff for a probe */
	/* One probe per segment: next is the RTO from the probe. */
	ck_assert_uint_eq(tun_rel_deadline(s->r), 6100 + 20000);
	ck_assert_int_eq(tun_rel_tick(s->r, 6100 + 19999), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 1);
	ck_assert_int_eq(tun_rel_tick(s->r, 6100 + 20000), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 2);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.seg_probe, 1);
	ck_assert_uint_eq(st.rto_us, 40000);	/* RFC 6298 5.5 */
	cap_free(s);
}
END_TEST

/* The probe goes for the oldest un-SACKed segment only, one per tick. */
START_TEST(tail_loss_probe_oldest_hole_only)
{
	struct cap *s = sender_with_rtt(3, 5000);	/* segments 1..3 */
	struct tun_msg m;
	uint32_t seq[4];

	/* 2 arrived, 1 and 3 did not. */
	m = ack(1, 128);
	m.flags = 0;
	m.ack.nsack = 1;
	m.ack.sack[0].start = 2;
	m.ack.sack[0].end = 3;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 5200), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 0);
	ck_assert_uint_eq(tun_rel_deadline(s->r), 5000 + 1100);
	ck_assert_int_eq(tun_rel_tick(s->r, 6100), 0);
	ck_assert_uint_eq(sent_seqs(s, seq, 4), 1);
	ck_assert_uint_eq(seq[0], 1);
	/* 1 is acked by now; 3 is the oldest hole and gets its own probe. */
	m = ack(3, 128);
	m.flags = 0;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 6200), 0);
	ck_assert_uint_eq(tun_rel_deadline(s->r), 5000 + 1100);
	ck_assert_int_eq(tun_rel_tick(s->r, 6200), 0);
	ck_assert_uint_eq(sent_seqs(s, seq, 4), 2);
	ck_assert_uint_eq(seq[1], 3);
	cap_free(s);
}
END_TEST

/* No probe before an RTT sample, nor over TLS (stream mode). */
START_TEST(no_probe_without_rtt_or_in_stream_mode)
{
	struct cap *s = cap_new(NULL);
	struct tun_rel_stats st;

	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"a", 1, 0), 0);
	ck_assert_uint_eq(tun_rel_deadline(s->r), 250000);	/* rto_init */
	cap_free(s);

	s = sender_with_rtt(1, 5000);
	tun_rel_set_stream(s->r, true);
	ck_assert_uint_eq(tun_rel_deadline(s->r), 5000 + TUN_REL_KEEPALIVE_SRV_US);
	ck_assert_int_eq(tun_rel_tick(s->r, 100000), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 0);
	tun_rel_get_stats(s->r, &st);
	ck_assert_uint_eq(st.seg_probe, 0);
	cap_free(s);
}
END_TEST

START_TEST(flow_control_bounds_the_receiver)
{
	struct tun_rel_cfg cfg;
	struct cap *s, *c;
	struct tun_rel_stats st;
	uint8_t pkt[8];
	size_t i, j, k, sent = 0;
	uint64_t t = 0;
	int ret;

	tun_rel_cfg_default(&cfg);
	cfg.rcv_wnd = 8;
	cfg.sndq_max = 16;
	s = cap_new(&cfg);
	c = cap_new(&cfg);
	c->deliver_ret = -ENOBUFS;	/* the owner takes nothing */
	for (i = 0; i < 50; i++) {
		memcpy(pkt, &sent, sizeof(pkt));
		ret = tun_rel_send(s->r, pkt, sizeof(pkt), t);
		if (ret == -ENOBUFS)
			break;
		ck_assert_int_eq(ret, 0);
		sent++;
	}
	ck_assert_uint_eq(i, 32 + 16);	/* initial peer window + queue */
	/* Rounds of transfer: the receiver never holds more than rcv_wnd. */
	for (k = 0; k < 20; k++) {
		size_t n = s->nout, m = 0;

		t += 1000;
		for (j = 0; j < n; j++)
			if (s->out[j].type == TUN_MSG_HCI ||
			    s->out[j].type == TUN_MSG_KEEPALIVE)
				ck_assert_int_eq(tun_rel_input(c->r, &s->out[j], t), 0);
		s->nout = 0;
		tun_rel_flush(c->r, t);
		for (j = 0; j < c->nout; j++) {
			ck_assert_int_eq(tun_rel_input(s->r, &c->out[j], t), 0);
			m = c->out[j].ack.cum;
		}
		c->nout = 0;
		ck_assert_uint_le(m, cfg.rcv_wnd + 1u);	/* + 1 held */
		t = tun_rel_deadline(s->r) > t ? tun_rel_deadline(s->r) : t;
		ck_assert_int_eq(tun_rel_tick(s->r, t), 0);
	}
	tun_rel_get_stats(c->r, &st);
	/* One packet assembled and held + rcv_wnd - 1 buffered segments. */
	ck_assert_uint_le(st.seg_rcvd, cfg.rcv_wnd + 1);
	ck_assert_uint_eq(s->writable, 0);
	/* The owner drains: everything flows, in order, once. */
	c->deliver_ret = 0;
	for (k = 0; k < 200 && c->ngot < sent; k++) {
		size_t n;

		t += 1000;
		ck_assert_int_eq(tun_rel_rx_kick(c->r, t), 0);
		for (j = 0; j < c->nout; j++)
			ck_assert_int_eq(tun_rel_input(s->r, &c->out[j], t), 0);
		c->nout = 0;
		n = s->nout;
		for (j = 0; j < n; j++)
			if (s->out[j].type != TUN_MSG_ACK)
				ck_assert_int_eq(tun_rel_input(c->r, &s->out[j], t), 0);
		s->nout = 0;
		tun_rel_flush(c->r, t);
		ck_assert_int_eq(tun_rel_tick(s->r, t), 0);
		if (c->ngot > 40)
			c->ngot -= 40, sent -= 40;	/* keep the capture small */
	}
	ck_assert_uint_eq(c->ngot, sent);
	ck_assert_int_eq(s->writable, 1);
	cap_free(s);
	cap_free(c);
}
END_TEST

/*
 * Packets that may be dropped (reports) take at most max_queued of the
 * window: refused beyond, however open the window, while packets that may
 * not wait still go; writable comes once the peer acknowledged enough.
 */
START_TEST(soft_send_bounded_by_outstanding)
{
	struct tun_rel_cfg cfg;
	struct cap *s, *c;
	uint8_t pkt[4] = { 1, 2, 3, 4 };
	size_t j;
	unsigned i;
	uint64_t t = 0;

	tun_rel_cfg_default(&cfg);
	s = cap_new(&cfg);
	c = cap_new(&cfg);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(tun_rel_send_soft(s->r, pkt, sizeof(pkt), t, 8), 0);
	ck_assert_int_eq(tun_rel_send_soft(s->r, pkt, sizeof(pkt), t, 8), -ENOBUFS);
	/* The window (32) is open: a packet that may not wait goes. */
	ck_assert_int_eq(tun_rel_send(s->r, pkt, sizeof(pkt), t), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 9);
	ck_assert_int_eq(s->writable, 0);
	/* The peer acknowledges them all: room again, and said so once. */
	t += 1000;
	for (j = 0; j < s->nout; j++)
		ck_assert_int_eq(tun_rel_input(c->r, &s->out[j], t), 0);
	s->nout = 0;
	tun_rel_flush(c->r, t);
	for (j = 0; j < c->nout; j++)
		ck_assert_int_eq(tun_rel_input(s->r, &c->out[j], t), 0);
	ck_assert_int_eq(s->writable, 1);
	ck_assert_int_eq(tun_rel_send_soft(s->r, pkt, sizeof(pkt), t, 8), 0);
	cap_free(s);
	cap_free(c);
}
END_TEST

START_TEST(keepalive_and_dead_peer)
{
	struct tun_rel_cfg cfg;
	struct cap *s;
	struct tun_msg m;

	tun_rel_cfg_default(&cfg);
	cfg.keepalive_us = 1000;
	cfg.dead_us = 5000;
	s = cap_new(&cfg);
	ck_assert_uint_eq(tun_rel_deadline(s->r), 1000);
	ck_assert_int_eq(tun_rel_tick(s->r, 999), 0);
	ck_assert_uint_eq(s->nout, 0);
	ck_assert_int_eq(tun_rel_tick(s->r, 1000), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_KEEPALIVE), 1);
	/* A keepalive from the peer is answered with an ACK. */
	memset(&m, 0, sizeof(m));
	m.type = TUN_MSG_KEEPALIVE;
	ck_assert_int_eq(tun_rel_input(s->r, &m, 1500), 0);
	tun_rel_flush(s->r, 1500);
	ck_assert_uint_eq(count_type(s, TUN_MSG_ACK), 1);
	ck_assert_int_eq(tun_rel_tick(s->r, 6499), 0);
	ck_assert_int_eq(tun_rel_tick(s->r, 6500), -ETIMEDOUT);
	cap_free(s);
}
END_TEST

static int quiet_calls;

static void cap_quiet(void *user)
{
	quiet_calls++;
}

static const struct tun_rel_ops cap_quiet_ops = {
	.output = cap_output,
	.deliver = cap_deliver,
	.quiet = cap_quiet,
};

/*
 * The server's silence watch: ops->quiet once quiet_us passed without
 * input, once per silence, again after the peer spoke and fell silent
 * again; before the dead-peer timeout; also without ticks of the rest
 * (tun_rel_quiet_tick, a detached session); and a resumption counts as
 * the peer speaking.
 */
START_TEST(quiet_once_per_silence)
{
	struct tun_rel_cfg cfg;
	struct cap *c = calloc(1, sizeof(*c));
	struct tun_msg m;

	ck_assert_ptr_nonnull(c);
	tun_rel_cfg_default(&cfg);
	ck_assert_uint_eq(cfg.keepalive_us, TUN_REL_KEEPALIVE_SRV_US);
	ck_assert_uint_eq(cfg.quiet_us, TUN_REL_QUIET_US);
	ck_assert_uint_lt(cfg.quiet_us, cfg.dead_us);
	quiet_calls = 0;
	ck_assert_int_eq(tun_rel_new(&c->r, &cfg, &cap_quiet_ops, c, 0), 0);
	ck_assert_uint_eq(tun_rel_quiet_deadline(c->r), TUN_REL_QUIET_US);
	ck_assert_int_eq(tun_rel_tick(c->r, TUN_REL_QUIET_US - 1), 0);
	ck_assert_int_eq(quiet_calls, 0);
	ck_assert(!tun_rel_is_quiet(c->r));
	/* The deadline brings the tick in time. */
	ck_assert_uint_le(tun_rel_deadline(c->r), TUN_REL_QUIET_US);
	ck_assert_int_eq(tun_rel_tick(c->r, TUN_REL_QUIET_US), 0);
	ck_assert_int_eq(quiet_calls, 1);
	ck_assert(tun_rel_is_quiet(c->r));
	ck_assert_uint_eq(tun_rel_quiet_deadline(c->r), UINT64_MAX);
	ck_assert_int_eq(tun_rel_tick(c->r, TUN_REL_QUIET_US + 500000), 0);
	ck_assert_int_eq(quiet_calls, 1);
	/* The peer answers: the silence is over; a new one counts again. */
	memset(&m, 0, sizeof(m));
	m.type = TUN_MSG_KEEPALIVE;
	ck_assert_int_eq(tun_rel_input(c->r, &m, 5000000), 0);
	ck_assert(!tun_rel_is_quiet(c->r));
	ck_assert_uint_eq(tun_rel_quiet_deadline(c->r), 5000000 + TUN_REL_QUIET_US);
	tun_rel_quiet_tick(c->r, 5000000 + TUN_REL_QUIET_US - 1);
	ck_assert_int_eq(quiet_calls, 1);
	tun_rel_quiet_tick(c->r, 5000000 + TUN_REL_QUIET_US);
	ck_assert_int_eq(quiet_calls, 2);
	tun_rel_quiet_tick(c->r, 5000000 + 2 * TUN_REL_QUIET_US);
	ck_assert_int_eq(quiet_calls, 2);
	/* A resumption is the peer speaking. */
	tun_rel_path_reset(c->r, 20000000);
	ck_assert(!tun_rel_is_quiet(c->r));
	tun_rel_quiet_tick(c->r, 20000000 + TUN_REL_QUIET_US);
	ck_assert_int_eq(quiet_calls, 3);
	/* Still dead only at dead_us of silence. */
	ck_assert_int_eq(tun_rel_tick(c->r, 20000000 + cfg.dead_us - 1), 0);
	ck_assert_int_eq(tun_rel_tick(c->r, 20000000 + cfg.dead_us), -ETIMEDOUT);
	tun_rel_free(c->r);
	free(c);
	/* quiet_us must exceed the keepalive interval (or be 0: off). */
	tun_rel_cfg_default(&cfg);
	cfg.quiet_us = cfg.keepalive_us;
	{
		struct tun_rel *r = NULL;

		ck_assert_int_eq(tun_rel_new(&r, &cfg, &cap_ops, NULL, 0), -EINVAL);
		cfg.quiet_us = 0;
		ck_assert_int_eq(tun_rel_new(&r, &cfg, &cap_ops, NULL, 0), 0);
		tun_rel_free(r);
	}
}
END_TEST

/*
 * An idle session, server and client with their default intervals and
 * 20 ms each way: one KEEPALIVE from the server and one ACK from the
 * client a second, nothing else; neither side ever falls quiet.
 */
START_TEST(idle_keepalive_cost)
{
	struct tun_rel_cfg sc, cc;
	struct cap *sv, *cl;
	struct {
		uint64_t at;
		bool to_cl;
		struct tun_msg m;
	} q[64];
	size_t nq = 0, ssent = 0, csent = 0, i;
	uint64_t t, lat = 20000;
	size_t ka_s = 0, ack_s = 0, ka_c = 0, ack_c = 0;

	tun_rel_cfg_default(&sc);
	tun_rel_cfg_default(&cc);
	cc.keepalive_us = TUN_REL_KEEPALIVE_CLI_US;
	cc.quiet_us = 0;
	quiet_calls = 0;
	sv = calloc(1, sizeof(*sv));
	cl = calloc(1, sizeof(*cl));
	ck_assert(sv && cl);
	ck_assert_int_eq(tun_rel_new(&sv->r, &sc, &cap_quiet_ops, sv, 0), 0);
	ck_assert_int_eq(tun_rel_new(&cl->r, &cc, &cap_quiet_ops, cl, 0), 0);
	for (t = 0; t <= 60000000; t += 1000) {
		for (i = 0; i < nq;) {
			if (q[i].at > t) {
				i++;
				continue;
			}
			struct cap *to = q[i].to_cl ? cl : sv;

			ck_assert_int_eq(tun_rel_input(to->r, &q[i].m, t), 0);
			tun_rel_flush(to->r, t);
			q[i] = q[--nq];
		}
		if (tun_rel_deadline(sv->r) <= t)
			ck_assert_int_eq(tun_rel_tick(sv->r, t), 0);
		if (tun_rel_deadline(cl->r) <= t)
			ck_assert_int_eq(tun_rel_tick(cl->r, t), 0);
		for (; ssent < sv->nout; ssent++) {
			ck_assert_uint_lt(nq, 64);
			q[nq].at = t + lat;
			q[nq].to_cl = true;
			q[nq++].m = sv->out[ssent];
			if (t >= 30000000) {
				ka_s += sv->out[ssent].type == TUN_MSG_KEEPALIVE;
				ack_s += sv->out[ssent].type == TUN_MSG_ACK;
			}
		}
		for (; csent < cl->nout; csent++) {
			ck_assert_uint_lt(nq, 64);
			q[nq].at = t + lat;
			q[nq].to_cl = false;
			q[nq++].m = cl->out[csent];
			if (t >= 30000000) {
				ka_c += cl->out[csent].type == TUN_MSG_KEEPALIVE;
				ack_c += cl->out[csent].type == TUN_MSG_ACK;
			}
		}
	}
	/* 30 s of steady state (the first second or so may differ). */
	ck_assert_msg(ka_s >= 29 && ka_s <= 31 && ack_c >= 29 && ack_c <= 31 &&
		      ka_c == 0 && ack_s == 0,
		      "server: %zu KEEPALIVE %zu ACK, client: %zu KEEPALIVE %zu ACK",
		      ka_s, ack_s, ka_c, ack_c);
	ck_assert_int_eq(quiet_calls, 0);
	tun_rel_free(sv->r);
	tun_rel_free(cl->r);
	free(sv);
	free(cl);
}
END_TEST

START_TEST(stream_mode_and_path_reset)
{
	struct tun_rel_cfg cfg;
	struct cap *s;

	tun_rel_cfg_default(&cfg);
	cfg.stream = true;
	s = cap_new(&cfg);
	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"a", 1, 0), 0);
	ck_assert_int_eq(tun_rel_send(s->r, (const uint8_t *)"b", 1, 0), 0);
	ck_assert_uint_eq(s->nout, 2);
	/* TCP delivers or the connection dies: no timed retransmission. */
	ck_assert_int_eq(tun_rel_tick(s->r, 3000000), 0);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 2);
	/* A new connection: both unacknowledged segments go again. */
	tun_rel_path_reset(s->r, 3000001);
	ck_assert_uint_eq(count_type(s, TUN_MSG_HCI), 4);
	ck_assert_uint_eq(s->out[s->nout - 1].type, TUN_MSG_ACK);
	cap_free(s);
}
END_TEST

/* ---- the lossy link: 100 000 packets each way ---- */

/*
 * Check's ck_assert records a mark point through its pipe on every
 * success; on a path taken millions of times only a failure may call it.
 */
#define HOT_ASSERT(x) do { if (!(x)) ck_assert_msg(0, "%s", #x); } while (0)
#define HOT_EQ(a, b)	HOT_ASSERT((a) == (b))

#define LOSSY_N		100000
#define HEAP_MAX	65536

struct dgram {
	uint64_t at;
	uint64_t order;		/* ties broken by send order */
	int to;			/* 0: A, 1: B */
	uint16_t len;
	uint8_t b[TUN_MSG_MAX];
};

struct sim {
	uint64_t rng;
	uint64_t now;
	uint64_t order;
	struct dgram *heap[HEAP_MAX];
	size_t nheap;
	struct ep {
		struct sim *sim;
		int id;
		struct tun_rel *r;
		uint64_t next_tx;	/* index of the next packet to send */
		uint64_t next_rx;	/* index expected next */
		bool busy;		/* the owner refuses deliveries */
		uint64_t busy_until;
		uint64_t deliveries;
	} ep[2];
	uint64_t sent_dgrams, lost, duped;
};

static uint64_t rnd(struct sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ULL;
}

static bool heap_less(const struct dgram *a, const struct dgram *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct sim *s, struct dgram *d)
{
	size_t i = s->nheap++;

	HOT_ASSERT(i < HEAP_MAX);
	while (i && heap_less(d, s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = d;
}

static struct dgram *heap_pop(struct sim *s)
{
	struct dgram *top = s->heap[0], *last = s->heap[--s->nheap];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < s->nheap) {
		if (c + 1 < s->nheap && heap_less(s->heap[c + 1], s->heap[c]))
			c++;
		if (!heap_less(s->heap[c], last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap)
		s->heap[i] = last;
	return top;
}

/* 20 % loss, 5 % duplication, 0.5-3.5 ms delay: plenty of reordering. */
static void link_send(struct ep *e, const struct tun_msg *m)
{
	struct sim *s = e->sim;
	int copies = 1, i;
	uint8_t b[TUN_MSG_MAX];
	int n = tun_msg_encode(m, b, sizeof(b));

	HOT_ASSERT(n > 0);
	s->sent_dgrams++;
	if (rnd(s) % 100 < 20) {
		s->lost++;
		return;
	}
	if (rnd(s) % 100 < 5) {
		copies = 2;
		s->duped++;
	}
	for (i = 0; i < copies; i++) {
		struct dgram *d = malloc(sizeof(*d));

		HOT_ASSERT(d != NULL);
		d->at = s->now + 500 + rnd(s) % 3000;
		d->order = s->order++;
		d->to = !e->id;
		d->len = (uint16_t)n;
		memcpy(d->b, b, (size_t)n);
		heap_push(s, d);
	}
}

static void ep_output(void *user, const struct tun_msg *m)
{
	struct tun_msg c = *m;

	c.version = 1;
	link_send(user, &c);
}

/* Packet i: its index, then bytes derived from it; some span segments. */
static size_t pkt_make(uint64_t i, uint8_t *p)
{
	size_t len = 8 + (i * 7919) % 300, k;

	if (i % 997 == 0)
		len = 3000;
	memcpy(p, &i, 8);
	for (k = 8; k < len; k++)
		p[k] = (uint8_t)(i + k);
	return len;
}

static int ep_deliver(void *user, const uint8_t *p, size_t len)
{
	struct ep *e = user;
	uint8_t want[4096];
	size_t wl;

	e->deliveries++;
	if (e->busy)
		return -ENOBUFS;
	wl = pkt_make(e->next_rx, want);
	/* Exactly the next packet: not a duplicate, none skipped. */
	HOT_EQ(len, wl);
	HOT_ASSERT(memcmp(p, want, wl) == 0);
	e->next_rx++;
	return 0;
}

static const struct tun_rel_ops ep_ops = {
	.output = ep_output,
	.deliver = ep_deliver,
};

static void ep_fill(struct ep *e)
{
	uint8_t p[4096];
	int ret;
	size_t k;

	for (k = 0; k < 64 && e->next_tx < LOSSY_N; k++) {
		size_t len = pkt_make(e->next_tx, p);

		ret = tun_rel_send(e->r, p, len, e->sim->now);
		if (ret == -ENOBUFS)
			return;
		HOT_EQ(ret, 0);
		e->next_tx++;
	}
}

START_TEST(lossy_link_100k_each_way)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct tun_rel_cfg cfg;
	struct tun_rel_stats sa, sb;
	const char *env = getenv("BGW_TEST_SEED");
	uint64_t seed, steps = 0;
	int i;

	ck_assert_ptr_nonnull(s);
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("# lossy link seed=%" PRIu64 " (BGW_TEST_SEED=%" PRIu64 " replays)\n",
	       seed, seed);
	fflush(stdout);
	s->rng = seed * 0x9e3779b97f4a7c15ULL | 1;
	tun_rel_cfg_default(&cfg);
	for (i = 0; i < 2; i++) {
		s->ep[i].sim = s;
		s->ep[i].id = i;
		ck_assert_int_eq(tun_rel_new(&s->ep[i].r, &cfg, &ep_ops, &s->ep[i], 0), 0);
	}
	/* Bounded: far more steps than a correct run needs. */
	while ((s->ep[0].next_rx < LOSSY_N || s->ep[1].next_rx < LOSSY_N) &&
	       steps++ < 50000000) {
		uint64_t next = UINT64_MAX;

		for (i = 0; i < 2; i++) {
			ep_fill(&s->ep[i]);
			if (tun_rel_deadline(s->ep[i].r) < next)
				next = tun_rel_deadline(s->ep[i].r);
		}
		if (s->nheap && s->heap[0]->at < next)
			next = s->heap[0]->at;
		if (next > s->now)
			s->now = next;
		while (s->nheap && s->heap[0]->at <= s->now) {
			struct dgram *d = heap_pop(s);
			struct tun_msg m;
			size_t used;

			HOT_EQ(tun_msg_decode(&m, d->b, d->len, &used), 0);
			HOT_EQ(tun_rel_input(s->ep[d->to].r, &m, s->now), 0);
			free(d);
		}
		for (i = 0; i < 2; i++) {
			struct ep *e = &s->ep[i];

			/* A slow owner now and then: flow control kicks in. */
			if (!e->busy && rnd(s) % 2000 == 0)
				e->busy_until = s->now + rnd(s) % 50000;
			e->busy = s->now < e->busy_until;
			if (!e->busy)
				HOT_EQ(tun_rel_rx_kick(e->r, s->now), 0);
			tun_rel_flush(e->r, s->now);
			if (tun_rel_deadline(e->r) <= s->now)
				HOT_EQ(tun_rel_tick(e->r, s->now), 0);
		}
	}
	ck_assert_uint_eq(s->ep[0].next_rx, LOSSY_N);
	ck_assert_uint_eq(s->ep[1].next_rx, LOSSY_N);
	tun_rel_get_stats(s->ep[0].r, &sa);
	tun_rel_get_stats(s->ep[1].r, &sb);
	ck_assert_uint_eq(sa.pkt_delivered, LOSSY_N);
	ck_assert_uint_eq(sb.pkt_delivered, LOSSY_N);
	printf("# %" PRIu64 " datagrams, %" PRIu64 " lost, %" PRIu64
	       " duplicated; A: %" PRIu64 " segs, %" PRIu64 " retx, %" PRIu64
	       " dups dropped; simulated %.1f s\n", s->sent_dgrams, s->lost,
	       s->duped, sa.seg_sent, sa.seg_retx, sa.seg_dup, s->now / 1e6);
	while (s->nheap)
		free(heap_pop(s));
	for (i = 0; i < 2; i++)
		tun_rel_free(s->ep[i].r);
	free(s);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_rel");
	TCase *tc = tcase_create("rel");
	TCase *lossy = tcase_create("lossy");

	tcase_add_test(tc, config_checked);
	tcase_add_test(tc, duplicates_delivered_once);
	tcase_add_test(tc, reorder_and_sack);
	tcase_add_test(tc, segments_reassembled);
	tcase_add_test(tc, oversized_reassembly_refused);
	tcase_add_test(tc, bad_acks_refused);
	tcase_add_test(tc, rto_estimator);
	tcase_add_test(tc, rto_floor_and_ceiling);
	tcase_add_test(tc, fast_retransmit_on_three_sacks);
	tcase_add_test(tc, tail_loss_probe_before_rto);
	tcase_add_test(tc, tail_loss_probe_oldest_hole_only);
	tcase_add_test(tc, no_probe_without_rtt_or_in_stream_mode);
	tcase_add_test(tc, flow_control_bounds_the_receiver);
	tcase_add_test(tc, soft_send_bounded_by_outstanding);
	tcase_add_test(tc, keepalive_and_dead_peer);
	tcase_add_test(tc, quiet_once_per_silence);
	tcase_add_test(tc, idle_keepalive_cost);
	tcase_add_test(tc, stream_mode_and_path_reset);
	suite_add_tcase(s, tc);
	/* Sanitizer builds are slower; the default 4 s is not enough. */
	tcase_set_timeout(lossy, 120);
	tcase_add_test(lossy, lossy_link_100k_each_way);
	suite_add_tcase(s, lossy);
	return s;
}
