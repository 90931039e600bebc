/* SPDX-License-Identifier: MIT */
/*
 * The core's side of bgw-muxd pair (doc/virtual-controller.md, "Pairing
 * at the gateway"; muxd/ctlmsg.h): the monitor, which checked the
 * admin and that the device has no household bond yet, asks the core to
 * pair a device; the core runs the admin's internal session (mux/pair.h)
 * and reports each step on the push channel. While it runs, the policy
 * lets the reserved user MUX_PAIR_USER reach that one device (address
 * and type) and nothing else; the key reaches the monitor as any
 * household bond does (RPC_BOND_NEW, RPC_BOND_NEW_LE), which the monitor
 * accepts from that user only for the device it asked to pair.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "core.h"
#include "ctlmsg.h"
#include "log.h"
#include "pair.h"

static void report(struct muxd_core *c, uint8_t what, uint32_t value, uint8_t result,
		   uint8_t hci)
{
	struct ctl_pair_msg m = { c->pair_seq, what, value, result, hci };
	uint8_t buf[CTL_PAIR_LEN];
	int n;

	n = ctlmsg_pair_encode(&m, buf, sizeof(buf));
	if (n < 0 || rpc_send(c->push_fd, RPC_CTL_PAIR, buf, (size_t)n, -1) < 0)
		log_warn("pairing at the gateway: report to the monitor lost");
}

static void on_prompt(struct mux_pair *p, enum mux_pair_prompt kind, uint32_t value,
		      void *user)
{
	struct muxd_core *c = user;
	uint8_t what = kind == MUX_PAIR_CONFIRM ? CTL_PAIR_CONFIRM :
		       kind == MUX_PAIR_PASSKEY ? CTL_PAIR_PASSKEY :
		       kind == MUX_PAIR_ENTER ? CTL_PAIR_ENTER : CTL_PAIR_JUST_WORKS;

	report(c, what, value, 0, 0);
}

static void on_done(struct mux_pair *p, enum mux_pair_result res, uint8_t st, void *user)
{
	struct muxd_core *c = user;
	char as[BDADDR_STRLEN];

	bdaddr_fmt(&c->pair_dev.a, as);
	if (res == MUX_PAIR_OK)
		log_notice("pairing at the gateway: %s paired", as);
	else
		log_notice("pairing at the gateway: %s not paired: %s (HCI status 0x%02x)", as,
			   mux_pair_result_str(res), st);
	report(c, CTL_PAIR_DONE, 0, (uint8_t)res, st);
	/* The last use of p; its session (and link) end with it. */
	c->pair = NULL;
	c->pairing = false;
	mux_pair_free(p);
}

static const struct mux_pair_ops pair_ops = { on_prompt, on_done };

bool core_pair_allows(const struct muxd_core *c, const char *user, const struct bdaddr *a,
		      uint8_t type)
{
	if (!c->pairing || strcmp(user, MUX_PAIR_USER) != 0)
		return false;
	return !a || (type == c->pair_dev.type && bdaddr_eq(a, &c->pair_dev.a));
}

int core_pair_ask(struct muxd_core *c, const struct ctl_ask *a)
{
	struct mux_pair_dev d;
	int32_t pk;

	switch (a->kind) {
	case CTL_ASK_PAIR:
		if (c->pairing) {
			/* The monitor runs one at a time: a second is its bug. */
			return -EPROTO;
		}
		if (ctlmsg_pair_target(a->target, &d) < 0)
			return -EPROTO;
		c->pair_seq = a->seq;
		c->pair_dev = d;
		if (!c->mux || !mux_is_ready(c->mux)) {
			report(c, CTL_PAIR_DONE, 0, CTL_PAIR_R_NOT_READY, 0);
			return 0;
		}
		c->pairing = true;
		c->pair = mux_pair_start(c->mux, c->d.l, &d, &pair_ops, c);
		if (!c->pair) {
			c->pairing = false;
			report(c, CTL_PAIR_DONE, 0, MUX_PAIR_ENDED, 0);
			return 0;
		}
		log_notice("pairing at the gateway: %s (asked by the admin)", a->target);
		return 0;
	case CTL_ASK_PAIR_ANSWER:
		/* An answer late or out of turn is dropped: the pairing moved on. */
		if (!c->pair || a->seq != c->pair_seq)
			return 0;
		/* A number answers a passkey prompt, yes or no a comparison; no both. */
		pk = ctlmsg_pair_passkey(a->target);
		if (pk >= 0 || strcmp(a->target, "no") == 0)
			mux_pair_passkey(c->pair, pk);
		if (pk < 0)
			mux_pair_answer(c->pair, strcmp(a->target, "yes") == 0);
		return 0;
	case CTL_ASK_PAIR_CANCEL:
		if (c->pair && a->seq == c->pair_seq) {
			log_notice("pairing at the gateway: cancelled (the admin's command went away)");
			core_pair_stop(c);
		}
		return 0;
	default:
		return -EPROTO;
	}
}

void core_pair_stop(struct muxd_core *c)
{
	mux_pair_free(c->pair);
	c->pair = NULL;
	c->pairing = false;
}
