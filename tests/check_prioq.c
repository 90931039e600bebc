/* SPDX-License-Identifier: MIT */
/*
 * The session queue's classes (lib/prioq.c; doc/virtual-controller.md,
 * "Priorities"): what goes ahead of what, reports shed in proportion to
 * the backlog, and a report storm over 64 sessions in counted rounds.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "pktq.h"
#include "prioq.h"

static int adv_report(uint8_t *b, size_t cap, uint8_t last)
{
	/* One report, ADV_IND, public address ..:last, no data, RSSI -60. */
	uint8_t p[11] = { 1, 0x00, 0x00, last, 0, 0, 0, 0, 0x10, 0, 0xc4 };

	return h4_build_le_evt(b, cap, HCI_LE_EV_ADV_REPORT, p, sizeof(p));
}

static int cc(uint8_t *b, size_t cap, uint16_t op)
{
	return h4_build_cc(b, cap, 1, op, "\x00", 1);
}

static int acl(uint8_t *b, size_t cap, uint16_t h, uint8_t tag)
{
	return h4_build_acl(b, cap, h, HCI_PB_FIRST_FLUSH, 0, &tag, 1);
}

START_TEST(classes)
{
	uint8_t b[64], p[8];
	int n;

	n = cc(b, sizeof(b), HCI_OP_LE_RAND);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_CTL);
	n = h4_build_cs(b, sizeof(b), 0, 1, HCI_OP_CREATE_CONN);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_CTL);
	p[0] = 1;
	put_le16(p + 1, 0x0001);
	put_le16(p + 3, 1);
	n = h4_build_evt(b, sizeof(b), HCI_EV_NUM_COMP_PKTS, p, 5);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_CTL);
	/* Reset's answers stay in order with what came before them. */
	n = cc(b, sizeof(b), HCI_OP_RESET);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_ORD);
	n = h4_build_cs(b, sizeof(b), 0, 1, HCI_OP_RESET);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_ORD);
	/* Events about a link stay in order with its data. */
	p[0] = 0;
	put_le16(p + 1, 0x0001);
	p[3] = 1;
	n = h4_build_evt(b, sizeof(b), HCI_EV_ENCRYPT_CHANGE, p, 4);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_ORD);
	n = acl(b, sizeof(b), 1, 0);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_ORD);
	n = adv_report(b, sizeof(b), 1);
	ck_assert_int_eq(prioq_class(b, (size_t)n), PRIOQ_REP);
	/* Truncated: whatever it is, it is not dropped as a report. */
	ck_assert_int_eq(prioq_class(b, 2), PRIOQ_ORD);
	ck_assert_int_eq(prioq_class(b, 0), PRIOQ_ORD);
}
END_TEST

START_TEST(served_by_class_in_order_within)
{
	struct prioq q;
	enum prioq_class cls;
	uint8_t b[64];
	struct pkt *p;
	int n;

	prioq_init(&q, 64, 0, 32);
	n = adv_report(b, sizeof(b), 1);
	ck_assert_int_eq(prioq_push(&q, b, (size_t)n), 0);
	n = acl(b, sizeof(b), 1, 'a');
	ck_assert_int_eq(prioq_push(&q, b, (size_t)n), 0);
	n = acl(b, sizeof(b), 1, 'b');
	ck_assert_int_eq(prioq_push(&q, b, (size_t)n), 0);
	n = cc(b, sizeof(b), HCI_OP_LE_RAND);
	ck_assert_int_eq(prioq_push(&q, b, (size_t)n), 0);
	ck_assert(prioq_has_urgent(&q));
	ck_assert(!prioq_is_clear_for(&q, PRIOQ_CTL));
	p = prioq_pop(&q, &cls);
	ck_assert_int_eq(cls, PRIOQ_CTL);
	pkt_free(p);
	/* Now a command's answer may go straight out; data may not. */
	ck_assert(prioq_is_clear_for(&q, PRIOQ_CTL));
	ck_assert(!prioq_is_clear_for(&q, PRIOQ_ORD));
	p = prioq_pop(&q, &cls);
	ck_assert_int_eq(cls, PRIOQ_ORD);
	ck_assert_uint_eq(p->data[5], 'a');
	prioq_requeue(&q, p, cls);	/* the tunnel was full */
	p = prioq_pop(&q, &cls);
	ck_assert_uint_eq(p->data[5], 'a');
	pkt_free(p);
	p = prioq_pop(&q, &cls);
	ck_assert_uint_eq(p->data[5], 'b');
	pkt_free(p);
	ck_assert(!prioq_has_urgent(&q));
	p = prioq_pop(&q, &cls);
	ck_assert_int_eq(cls, PRIOQ_REP);
	pkt_free(p);
	ck_assert(prioq_is_empty(&q));
	ck_assert_ptr_null(prioq_pop(&q, &cls));
	prioq_clear(&q);
}
END_TEST

/*
 * With b packets waiting and rep_max 32, a report is taken (32 - b) times
 * in 32, exactly; never from b >= 32.
 * Data and answers are taken whatever the reports' fate.
 */
START_TEST(reports_shed_in_proportion_to_backlog)
{
	static const unsigned backlog[] = { 0, 8, 16, 24, 32, 40 };
	uint8_t r[64], d[64];
	unsigned i, j, taken;
	int nr, nd;

	nr = adv_report(r, sizeof(r), 1);
	nd = acl(d, sizeof(d), 1, 0);
	for (i = 0; i < sizeof(backlog) / sizeof(backlog[0]); i++) {
		struct prioq q;
		enum prioq_class cls;

		prioq_init(&q, 64, 0, 32);
		for (j = 0; j < backlog[i]; j++)
			ck_assert_int_eq(prioq_push(&q, d, (size_t)nd), 0);
		taken = 0;
		for (j = 0; j < 4 * 32; j++) {
			int ret = prioq_push(&q, r, (size_t)nr);

			if (ret == 0) {
				taken++;
				/* Keep the backlog where it is. */
				pkt_free(pktq_pop(&q.q[PRIOQ_REP]));
			} else {
				ck_assert_int_eq(ret, -ENOBUFS);
			}
		}
		ck_assert_uint_eq(taken, backlog[i] >= 32 ? 0 : 4 * (32 - backlog[i]));
		ck_assert_uint_eq(q.rep_dropped, 4 * 32 - taken);
		ck_assert_int_eq(prioq_push(&q, d, (size_t)nd), 0);
		pkt_free(prioq_pop(&q, &cls));
		prioq_clear(&q);
	}
}
END_TEST

/*
 * A report storm over 64 sessions, in counted rounds (no clock): each
 * round every session is handed 40 advertising reports (the busy house's
 * 1280 reports/s without a duplicate filter, at 32 rounds a second), 2 ACL
 * packets and, when its last command was answered, one command's
 * completion; its tunnel then takes 8 packets. Every completion must leave
 * in the round it was queued, no ACL packet may be refused, and every
 * session completes as many commands as every other (fairness 1). The
 * same storm through one FIFO with the old half-full rule for reports
 * (pktq_push_soft) keeps completions waiting behind reports: the control.
 */
#define STORM_SESS	64
#define STORM_ROUNDS	200
#define STORM_TAKE	8

static void storm_round_input(uint8_t *r, int nr, uint8_t *d, int nd, uint8_t *c, int nc,
			      int (*push)(void *q, const uint8_t *, size_t), void *q,
			      bool want_cmd, unsigned *acl_refused)
{
	unsigned k;

	for (k = 0; k < 40; k++) {
		push(q, r, (size_t)nr);
		if (k == 20 && want_cmd)
			ck_assert_int_eq(push(q, c, (size_t)nc), 0);
		if (k == 10 || k == 30)
			if (push(q, d, (size_t)nd) != 0)
				(*acl_refused)++;
	}
}

static int push_prio(void *q, const uint8_t *b, size_t n)
{
	return prioq_push(q, b, n);
}

static int push_fifo(void *q, const uint8_t *b, size_t n)
{
	return h4_is_discovery_report(b, n) ? pktq_push_soft(q, b, n) : pktq_push(q, b, n);
}

START_TEST(storm_commands_and_acl_keep_flowing)
{
	static struct prioq pq[STORM_SESS];
	static struct pktq fq[STORM_SESS];
	unsigned done[STORM_SESS] = { 0 }, acl_out[STORM_SESS] = { 0 };
	unsigned wait[STORM_SESS] = { 0 }, worst = 0, fifo_worst = 0;
	unsigned acl_refused = 0, i, round, k, mn, mx;
	bool pending[STORM_SESS] = { false };
	uint8_t r[64], d[64], c[64];
	int nr, nd, nc;

	nr = adv_report(r, sizeof(r), 1);
	nd = acl(d, sizeof(d), 1, 0);
	nc = cc(c, sizeof(c), HCI_OP_LE_RAND);
	for (i = 0; i < STORM_SESS; i++) {
		prioq_init(&pq[i], 4096, 256 * 1024, 64);	/* as bgw-muxd */
		pktq_init(&fq[i], 4096, 256 * 1024);
	}
	for (round = 0; round < STORM_ROUNDS; round++) {
		for (i = 0; i < STORM_SESS; i++) {
			enum prioq_class cls;

			storm_round_input(r, nr, d, nd, c, nc, push_prio, &pq[i],
					  !pending[i], &acl_refused);
			if (!pending[i]) {
				pending[i] = true;
				wait[i] = 0;
			}
			for (k = 0; k < STORM_TAKE; k++) {
				struct pkt *p = prioq_pop(&pq[i], &cls);

				if (!p)
					break;
				if (cls == PRIOQ_CTL) {
					pending[i] = false;
					done[i]++;
				} else if (p->data[0] == H4_ACL) {
					acl_out[i]++;
				}
				pkt_free(p);
			}
			if (pending[i] && ++wait[i] > worst)
				worst = wait[i];
		}
	}
	ck_assert_uint_eq(acl_refused, 0);
	ck_assert_uint_eq(worst, 0);	/* every completion left in its round */
	mn = mx = done[0];
	for (i = 0; i < STORM_SESS; i++) {
		mn = done[i] < mn ? done[i] : mn;
		mx = done[i] > mx ? done[i] : mx;
		/* ACL keeps flowing: all but what the last round left queued. */
		ck_assert_uint_eq(acl_out[i], 2 * STORM_ROUNDS);
	}
	ck_assert_uint_eq(mn, STORM_ROUNDS);
	ck_assert_uint_eq(mx, STORM_ROUNDS);

	/* The control: one FIFO, reports refused only from half full. */
	memset(pending, 0, sizeof(pending));
	for (round = 0; round < STORM_ROUNDS; round++) {
		for (i = 0; i < STORM_SESS; i++) {
			storm_round_input(r, nr, d, nd, c, nc, push_fifo, &fq[i],
					  !pending[i], &acl_refused);
			if (!pending[i]) {
				pending[i] = true;
				wait[i] = 0;
			}
			for (k = 0; k < STORM_TAKE; k++) {
				struct pkt *p = pktq_pop(&fq[i]);

				if (!p)
					break;
				if (p->data[0] == H4_EVT && p->data[1] == HCI_EV_CMD_COMPLETE)
					pending[i] = false;
				pkt_free(p);
			}
			if (pending[i] && ++wait[i] > fifo_worst)
				fifo_worst = wait[i];
		}
	}
	ck_assert_uint_gt(fifo_worst, 8);
	for (i = 0; i < STORM_SESS; i++) {
		prioq_clear(&pq[i]);
		pktq_clear(&fq[i]);
	}
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("prioq");
	TCase *tc = tcase_create("prioq");

	tcase_add_test(tc, classes);
	tcase_add_test(tc, served_by_class_in_order_within);
	tcase_add_test(tc, reports_shed_in_proportion_to_backlog);
	tcase_add_test(tc, storm_commands_and_acl_keep_flowing);
	suite_add_tcase(s, tc);
	return s;
}
