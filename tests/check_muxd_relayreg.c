/* SPDX-License-Identifier: MIT */
/*
 * The gateway's registration state machine (muxd/relayreg.h) against the
 * real relay engine and the monitor's signer, datagrams carried in memory
 * and time given, not measured: it registers, its keepalives hold the
 * registration past the relay's expiry, it is back within a keepalive
 * interval after the relay restarts, it notices a silent relay, it passes
 * PEER on (and again when the first is lost), the front takes a repeated
 * PEER as one channel, and an attacker's key gets nothing.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "check_main.h"
#include "front.h"
#include "loop.h"
#include "relay.h"
#include "relayfront.h"
#include "relayreg.h"
#include "relaysign.h"
#include "rmsg.h"

#define Q_MAX 32
#define S_US 1000000ull

struct dgram {
	bool to_gw;
	struct rmsg_addr to;
	uint8_t buf[RMSG_MAX];
	size_t len;
};

static struct {
	struct dgram q[Q_MAX];
	size_t n;
} q;

static struct relay *relay;
static struct relaysign signer;
static struct relayreg rr;
static uint64_t now;
static bool relay_silent;
static unsigned flip_registers;	/* flip a bit in this many REGISTERs */
static unsigned registers;	/* REGISTERs the gateway sent */
static unsigned drop_peers;	/* drop this many PEERs on the way */
static uint32_t dropped_chan;	/* the last dropped PEER's channel */
static unsigned ev_count[RELAYREG_EV_SIGN_FAILED + 1];
static struct rmsg last_ev;
static const struct rmsg_addr gw = { .family = 4, .port = 40000, .a = { 198, 51, 100, 9 } };
static const struct rmsg_addr cd = { .family = 4, .port = 50000, .a = { 203, 0, 113, 7 } };

static void push(bool to_gw, const struct rmsg_addr *to, const void *buf, size_t len)
{
	ck_assert_uint_lt(q.n, Q_MAX);
	q.q[q.n].to_gw = to_gw;
	/* No address: from the gateway to its relay. */
	memset(&q.q[q.n].to, 0, sizeof(q.q[q.n].to));
	if (to)
		q.q[q.n].to = *to;
	memcpy(q.q[q.n].buf, buf, len);
	q.q[q.n].len = len;
	q.n++;
}

/* The relay's sends: to the gateway's address go to relayreg. */
static void relay_send(void *user, const struct rmsg_addr *to, const void *buf, size_t len)
{
	(void)user;
	push(to->family == gw.family && to->port == gw.port &&
	     !memcmp(to->a, gw.a, 16), to, buf, len);
}

static const struct relay_ops relay_ops = { .send = relay_send };

static void gw_send(void *user, unsigned idx, const void *buf, size_t len)
{
	(void)user;
	ck_assert_uint_eq(idx, 0);
	push(false, NULL, buf, len);
}

static int gw_sign(void *user, unsigned idx, const uint8_t *ch, size_t len, uint8_t *out,
		   size_t cap)
{
	(void)user;
	(void)idx;
	return relaysign_answer(&signer, ch, len, now / 1000, out, cap);
}

static void gw_event(void *user, unsigned idx, enum relayreg_event ev, const struct rmsg *m)
{
	(void)user;
	ck_assert_uint_eq(idx, 0);
	ev_count[ev]++;
	if (m)
		last_ev = *m;
}

static const struct relayreg_ops gw_ops = { .send = gw_send, .sign = gw_sign,
					    .event = gw_event };

/* Deliver until nothing is in flight (bounded). */
static void pump(void)
{
	unsigned rounds;

	for (rounds = 0; q.n && rounds < 100; rounds++) {
		struct dgram d = q.q[0];
		struct rmsg m;

		memmove(&q.q[0], &q.q[1], (q.n - 1) * sizeof(q.q[0]));
		q.n--;
		if (!d.to_gw && d.to.family == 0 && rmsg_decode(&m, d.buf, d.len) == 0 &&
		    m.type == RMSG_REGISTER) {
			registers++;
			/* Damaged on the way: the signature's last byte. */
			if (flip_registers) {
				flip_registers--;
				d.buf[d.len - 1] ^= 0x10;
			}
		}
		if (d.to_gw && drop_peers && rmsg_decode(&m, d.buf, d.len) == 0 &&
		    m.type == RMSG_PEER) {
			drop_peers--;
			dropped_chan = m.chan;
			continue;
		}
		if (d.to_gw)
			relayreg_input(&rr, 0, d.buf, d.len, now);
		else if (d.to.family == 0 && !relay_silent)
			relay_input(relay, &gw, d.buf, d.len, now);
		/* Anything to the CD, or to a silent relay, is dropped. */
	}
	ck_assert_uint_eq(q.n, 0);
}

/* Run the clock in 100 ms steps for secs seconds. */
static void run(unsigned secs)
{
	unsigned i;

	for (i = 0; i < secs * 10; i++) {
		now += S_US / 10;
		relayreg_tick(&rr, now);
		relay_tick(relay, now);
		pump();
	}
}

static struct relay *relay_start(void)
{
	struct relay_conf c;
	struct relay *r;

	relay_conf_default(&c);
	r = relay_new(&c, &relay_ops, NULL, now);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void setup(void)
{
	gnutls_privkey_t k;

	now = 1000 * S_US;
	memset(&q, 0, sizeof(q));
	memset(ev_count, 0, sizeof(ev_count));
	relay_silent = false;
	flip_registers = 0;
	registers = 0;
	drop_peers = 0;
	dropped_chan = 0;
	relay = relay_start();
	ck_assert_int_eq(gnutls_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_privkey_generate(k, GNUTLS_PK_ECDSA, 256, 0), 0);
	ck_assert_int_eq(relaysign_init(&signer, k), 0);
}

static void teardown(void)
{
	relay_free(relay);
	relaysign_free(&signer);
}

static uint32_t homes(void)
{
	struct relay_stats s;

	relay_get_stats(relay, &s);
	return s.homes;
}

START_TEST(registers_and_stays)
{
	ck_assert_int_eq(relayreg_start(&rr, signer.id, 1, &gw_ops, NULL, now), 0);
	pump();
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REGISTERED], 1);
	ck_assert_int_eq(rr.r[0].state, RELAYREG_UP);
	ck_assert_uint_eq(homes(), 1);
	/* The relay's address for us, as REGISTERED said. */
	ck_assert_uint_eq(rr.r[0].reflexive.port, gw.port);
	ck_assert_uint_le(rr.r[0].keepalive_s, 25);
	/* Five minutes: far past the relay's expiry (50 s), still there. */
	run(300);
	ck_assert_uint_eq(homes(), 1);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REGISTERED], 1);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_LOST], 0);
}
END_TEST

START_TEST(back_after_relay_restart)
{
	unsigned waited = 0;

	ck_assert_int_eq(relayreg_start(&rr, signer.id, 1, &gw_ops, NULL, now), 0);
	pump();
	ck_assert_uint_eq(homes(), 1);
	run(7);
	relay_free(relay);
	relay = relay_start();	/* a new secret, no registrations */
	ck_assert_uint_eq(homes(), 0);
	while (homes() == 0 && waited < 60) {
		run(1);
		waited++;
	}
	/* Within one keepalive interval and a round trip. */
	ck_assert_uint_eq(homes(), 1);
	ck_assert_uint_le(waited, rr.r[0].keepalive_s + 1);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_LOST], 1);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REGISTERED], 2);
}
END_TEST

START_TEST(silent_relay_noticed)
{
	ck_assert_int_eq(relayreg_start(&rr, signer.id, 1, &gw_ops, NULL, now), 0);
	pump();
	relay_silent = true;
	run(rr.r[0].keepalive_s + RELAYREG_RETRY_S * RELAYREG_LOST_AFTER + 1);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_LOST], 1);
	ck_assert_int_eq(rr.r[0].state, RELAYREG_HELLO);
	/* It comes back by itself when the relay answers again. */
	relay_silent = false;
	run(RELAYREG_HELLO_MAX_S + 1);
	ck_assert_int_eq(rr.r[0].state, RELAYREG_UP);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REGISTERED], 2);
}
END_TEST

/*
 * A REGISTER damaged on the way is refused as a bad proof; the gateway
 * tries again within seconds (it used to wait 30 s, and the relay's
 * expiry took the home meanwhile). A relay that refuses every proof
 * gets no more signatures than the monitor's rate allows.
 */
START_TEST(damaged_register_retried)
{
	unsigned waited = 0, secs = 600;

	flip_registers = 1;
	ck_assert_int_eq(relayreg_start(&rr, signer.id, 1, &gw_ops, NULL, now), 0);
	pump();
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REFUSED], 1);
	ck_assert_uint_eq(last_ev.code, RMSG_REFUSE_BAD_PROOF);
	while (homes() == 0 && waited < 60) {
		run(1);
		waited++;
	}
	ck_assert_uint_eq(homes(), 1);
	ck_assert_uint_le(waited, 3);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REGISTERED], 1);

	/* Every REGISTER damaged for ten minutes (the relay's view and a
	 * hostile relay's refusals alike): bounded by the monitor's rate. */
	relay_free(relay);
	relay = relay_start();
	flip_registers = UINT_MAX;
	registers = 0;
	run(secs);
	ck_assert_uint_eq(homes(), 0);
	ck_assert_uint_ge(registers, 10);
	ck_assert_uint_le(registers, RELAYSIGN_BURST + secs * 1000 / RELAYSIGN_PERIOD_MS + 1);
	/* And registered promptly once the datagrams come through whole. */
	flip_registers = 0;
	waited = 0;
	while (homes() == 0 && waited < 60) {
		run(1);
		waited++;
	}
	ck_assert_uint_eq(homes(), 1);
	ck_assert_uint_le(waited, RELAYREG_HELLO_MAX_S + RELAYSIGN_PERIOD_MS / 1000 + 1);
}
END_TEST

/* A CD's hello, challenge and connect, its datagrams straight in. */
static void cd_connect(void)
{
	struct rmsg m = { .type = RMSG_CONN_HELLO };
	uint8_t buf[RMSG_MAX];
	struct rmsg ch;
	int n;

	memcpy(m.id, signer.id, RMSG_ID_LEN);
	n = rmsg_encode(&m, buf, sizeof(buf));
	relay_input(relay, &cd, buf, (size_t)n, now);
	ck_assert_uint_eq(q.n, 1);
	ck_assert_int_eq(rmsg_decode(&ch, q.q[0].buf, q.q[0].len), 0);
	q.n = 0;
	ch.type = RMSG_CONNECT;
	n = rmsg_encode(&ch, buf, sizeof(buf));
	relay_input(relay, &cd, buf, (size_t)n, now);
}

static void cd_data(uint32_t chan)
{
	static const uint8_t hello[60] = { 22, 0xfe, 0xfd };
	struct rmsg m = { .type = RMSG_DATA, .chan = chan, .data = hello,
			  .data_len = sizeof(hello) };
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(&m, buf, sizeof(buf));

	relay_input(relay, &cd, buf, (size_t)n, now);
}

/*
 * The PEER is lost on the way (doc/relay.md, "Connecting"): the CD, told
 * CONNECTED, only sends its DTLS; the relay sends PEER again with it, so
 * the gateway hears of the channel all the same. Before the fix the
 * gateway never did, and dropped the CD's DTLS as not announced.
 */
START_TEST(peer_lost_comes_again)
{
	unsigned i;

	ck_assert_int_eq(relayreg_start(&rr, signer.id, 1, &gw_ops, NULL, now), 0);
	pump();
	drop_peers = 1;
	cd_connect();
	pump();
	ck_assert_uint_eq(drop_peers, 0);
	ck_assert_uint_ne(dropped_chan, 0);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_PEER], 0);
	/* The ClientHello and its retransmissions (RFC 6347 4.2.4.1: 1 s, doubling). */
	for (i = 0; i < 3 && ev_count[RELAYREG_EV_PEER] == 0; i++) {
		cd_data(dropped_chan);
		pump();
		run(1u << i);
	}
	ck_assert_uint_eq(ev_count[RELAYREG_EV_PEER], 1);
	ck_assert_uint_eq(last_ev.chan, dropped_chan);
	ck_assert_uint_eq(last_ev.addr.port, cd.port);
	ck_assert_mem_eq(last_ev.addr.a, cd.a, 4);
}
END_TEST

/* ---- the front's side of PEER (muxd/relayfront.h) ---- */

static unsigned rf_closes, rf_sends;

static void rf_send(void *user, unsigned idx, const void *buf, size_t len)
{
	struct rmsg m;

	(void)user;
	(void)idx;
	rf_sends++;
	if (rmsg_decode(&m, buf, len) == 0 && m.type == RMSG_CLOSE)
		rf_closes++;
}

static const char *rf_name(void *user, unsigned idx, char *buf, size_t cap)
{
	(void)user;
	(void)idx;
	snprintf(buf, cap, "relay.test:7000");
	return buf;
}

static void rf_stop(void *user, pid_t pid)
{
	(void)user;
	(void)pid;
	ck_abort_msg("no peer process was started");
}

static pid_t rf_spawn(void *user, const struct tun_front_peer *p)
{
	(void)user;
	(void)p;
	return -EACCES;
}

/*
 * A PEER for a channel the front already has (the relay sent it again,
 * faulty-fwd replayed it, or a retransmitted CONNECT brought it) is one
 * channel still: no second one, no CLOSE, and the first keeps its state.
 */
START_TEST(peer_repeated_one_channel)
{
	static const struct relayfront_ops ops = { .send = rf_send, .name = rf_name,
						   .stop = rf_stop };
	struct tun_front_cfg fc = { .host = "127.0.0.1", .udp_port = "0",
				    .spawn = rf_spawn };
	struct rmsg m = { .type = RMSG_PEER, .chan = 0x1234567, .addr = cd };
	struct tun_front *front = NULL;
	struct relayfront rf;
	struct loop *l = loop_new();
	uint8_t buf[RMSG_MAX];
	unsigned i;
	int n;

	ck_assert_ptr_nonnull(l);
	rf_closes = rf_sends = 0;
	ck_assert_int_eq(tun_front_new(&front, l, &fc), 0);
	ck_assert_int_eq(relayfront_init(&rf, l, front, &ops, NULL), 0);
	relayfront_peer(&rf, 0, &m);
	ck_assert_uint_eq(relayfront_count(&rf), 1);
	for (i = 0; i < 5; i++)
		relayfront_peer(&rf, 0, &m);
	ck_assert_uint_eq(relayfront_count(&rf), 1);
	ck_assert_uint_eq(rf_sends, 0);
	/* The same channel id from another relay is another channel. */
	relayfront_peer(&rf, 1, &m);
	ck_assert_uint_eq(relayfront_count(&rf), 2);
	/* The relay's CLOSE ends it: one CLOSE, not one per PEER, at the end. */
	memset(&m, 0, sizeof(m));
	m.type = RMSG_CLOSE;
	m.chan = 0x1234567;
	n = rmsg_encode(&m, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	relayfront_input(&rf, 0, buf, (size_t)n);
	ck_assert_uint_eq(relayfront_count(&rf), 1);
	ck_assert_uint_eq(rf_sends, 0);
	relayfront_free(&rf);
	ck_assert_uint_eq(rf_closes, 1);
	tun_front_free(front);
	loop_free(l);
}
END_TEST

START_TEST(peer_passed_on)
{
	struct rmsg m = { .type = RMSG_CONN_HELLO };
	uint8_t buf[RMSG_MAX];
	struct rmsg ch;
	int n;

	ck_assert_int_eq(relayreg_start(&rr, signer.id, 1, &gw_ops, NULL, now), 0);
	pump();
	/* A CD: hello, challenge, connect (its datagrams straight in). */
	memcpy(m.id, signer.id, RMSG_ID_LEN);
	n = rmsg_encode(&m, buf, sizeof(buf));
	relay_input(relay, &cd, buf, (size_t)n, now);
	ck_assert_uint_eq(q.n, 1);
	ck_assert_int_eq(rmsg_decode(&ch, q.q[0].buf, q.q[0].len), 0);
	q.n = 0;
	ch.type = RMSG_CONNECT;
	n = rmsg_encode(&ch, buf, sizeof(buf));
	relay_input(relay, &cd, buf, (size_t)n, now);
	pump();
	ck_assert_uint_eq(ev_count[RELAYREG_EV_PEER], 1);
	ck_assert_uint_ne(last_ev.chan, 0);
	ck_assert_uint_eq(last_ev.addr.port, cd.port);
	ck_assert_mem_eq(last_ev.addr.a, cd.a, 4);
}
END_TEST

/*
 * The front's line for a refusal points at what the configured mode can
 * get wrong: relay-key being the CA's key only without relay-cert; with
 * it, the certificate's dates; a limit is neither.
 */
START_TEST(refused_hint_matches_mode)
{
	const char *v1 = relayreg_refused_hint(false, RMSG_REFUSE_BAD_PROOF);
	const char *v2 = relayreg_refused_hint(true, RMSG_REFUSE_BAD_PROOF);
	const char *lim = relayreg_refused_hint(true, RMSG_REFUSE_LIMIT);

	ck_assert_ptr_nonnull(strstr(v1, "is relay-key the CA's key?"));
	ck_assert_ptr_null(strstr(v2, "CA's key"));
	ck_assert_ptr_nonnull(strstr(v2, "relay-cert within its dates"));
	ck_assert_ptr_null(strstr(lim, "relay-key"));
	ck_assert_ptr_null(strstr(lim, "relay-cert"));
	ck_assert_ptr_nonnull(strstr(lim, "limit"));
	ck_assert_str_eq(relayreg_refused_hint(false, RMSG_REFUSE_LIMIT), lim);
}
END_TEST

/* A key that is not the home's: the monitor will not sign, nothing registers. */
START_TEST(foreign_id_gets_nothing)
{
	struct relaysign other;
	gnutls_privkey_t k;

	ck_assert_int_eq(gnutls_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_privkey_generate(k, GNUTLS_PK_ECDSA, 256, 0), 0);
	ck_assert_int_eq(relaysign_init(&other, k), 0);
	/* The front asks for other's id; the monitor holds signer's key. */
	ck_assert_int_eq(relayreg_start(&rr, other.id, 1, &gw_ops, NULL, now), 0);
	pump();
	run(20);
	ck_assert_uint_eq(homes(), 0);
	ck_assert_uint_ge(ev_count[RELAYREG_EV_SIGN_FAILED], 2);
	ck_assert_uint_eq(ev_count[RELAYREG_EV_REGISTERED], 0);
	relaysign_free(&other);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("relayreg");
	TCase *tc = tcase_create("relayreg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, registers_and_stays);
	tcase_add_test(tc, back_after_relay_restart);
	tcase_add_test(tc, silent_relay_noticed);
	tcase_add_test(tc, damaged_register_retried);
	tcase_add_test(tc, peer_passed_on);
	tcase_add_test(tc, peer_lost_comes_again);
	tcase_add_test(tc, peer_repeated_one_channel);
	tcase_add_test(tc, foreign_id_gets_nothing);
	tcase_add_test(tc, refused_hint_matches_mode);
	suite_add_tcase(s, tc);
	return s;
}
