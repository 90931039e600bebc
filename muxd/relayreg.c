/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "relayreg.h"

#define S_US 1000000ull

static void rr_send(struct relayreg *rr, unsigned idx, const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	if (n > 0)
		rr->ops->send(rr->user, idx, buf, (size_t)n);
}

/* REG_HELLO now, the next one after the backoff (doubled, capped). */
static void rr_hello(struct relayreg *rr, unsigned idx, uint64_t now_us)
{
	struct relayreg_relay *r = &rr->r[idx];
	struct rmsg m = { .type = RMSG_REG_HELLO };

	memcpy(m.id, rr->id, RMSG_ID_LEN);
	r->state = RELAYREG_HELLO;
	r->unanswered = 0;
	r->next_us = now_us + (uint64_t)r->hello_s * S_US;
	if (r->hello_s < RELAYREG_HELLO_MAX_S)
		r->hello_s *= 2;
	rr_send(rr, idx, &m);
}

static void rr_keepalive(struct relayreg *rr, unsigned idx, uint64_t now_us)
{
	struct relayreg_relay *r = &rr->r[idx];
	struct rmsg m = { .type = RMSG_KEEPALIVE };

	memcpy(m.id, rr->id, RMSG_ID_LEN);
	memcpy(m.token, r->token, RMSG_TOKEN_LEN);
	r->unanswered++;
	r->next_us = now_us + RELAYREG_RETRY_S * S_US;
	rr_send(rr, idx, &m);
}

int relayreg_start(struct relayreg *rr, const uint8_t id[RMSG_ID_LEN], unsigned n,
		   const struct relayreg_ops *ops, void *user, uint64_t now_us)
{
	unsigned i;

	if (n == 0 || n > RELAYREG_MAX || !ops || !ops->send || !ops->sign || !ops->event)
		return -EINVAL;
	memset(rr, 0, sizeof(*rr));
	memcpy(rr->id, id, RMSG_ID_LEN);
	rr->n = n;
	rr->ops = ops;
	rr->user = user;
	for (i = 0; i < n; i++) {
		rr->r[i].hello_s = RELAYREG_HELLO_S;
		rr_hello(rr, i, now_us);
	}
	return 0;
}

static void rr_challenge(struct relayreg *rr, unsigned idx, const void *buf, size_t len,
			 uint64_t now_us)
{
	struct relayreg_relay *r = &rr->r[idx];
	uint8_t out[RMSG_MAX];
	int n;

	n = rr->ops->sign(rr->user, idx, buf, len, out, sizeof(out));
	if (n <= 0) {
		/* Wait for the HELLO backoff: the monitor's rate, or a bug. */
		rr->ops->event(rr->user, idx, RELAYREG_EV_SIGN_FAILED, NULL);
		return;
	}
	r->state = RELAYREG_REGISTERING;
	/* The relay answers at once or not at all: a lost datagram. */
	r->next_us = now_us + RELAYREG_RETRY_S * S_US;
	rr->ops->send(rr->user, idx, out, (size_t)n);
}

void relayreg_input(struct relayreg *rr, unsigned idx, const void *buf, size_t len,
		    uint64_t now_us)
{
	struct relayreg_relay *r;
	struct rmsg m;

	if (idx >= rr->n || rmsg_decode(&m, buf, len) < 0)
		return;
	r = &rr->r[idx];
	/* DATA and CLOSE carry a channel, not the id: the front's business. */
	if (m.type == RMSG_DATA || m.type == RMSG_CLOSE ||
	    memcmp(m.id, rr->id, RMSG_ID_LEN))
		return;
	switch (m.type) {
	case RMSG_REG_CHALLENGE:
		if (r->state == RELAYREG_HELLO)
			rr_challenge(rr, idx, buf, len, now_us);
		break;
	case RMSG_REGISTERED:
		if (r->state != RELAYREG_REGISTERING || m.keepalive_s == 0)
			break;
		r->state = RELAYREG_UP;
		r->hello_s = RELAYREG_HELLO_S;
		r->unanswered = 0;
		memcpy(r->token, m.token, RMSG_TOKEN_LEN);
		/* At most 25 s whatever the relay says: a NAT mapping's life. */
		r->keepalive_s = m.keepalive_s > 25 ? 25 : m.keepalive_s;
		r->reflexive = m.addr;
		r->next_us = now_us + (uint64_t)r->keepalive_s * S_US;
		rr->ops->event(rr->user, idx, RELAYREG_EV_REGISTERED, &m);
		break;
	case RMSG_REFUSED:
		if (r->state != RELAYREG_REGISTERING)
			break;
		rr->ops->event(rr->user, idx, RELAYREG_EV_REFUSED, &m);
		r->state = RELAYREG_HELLO;
		/*
		 * A bad proof is also what a bit flipped in the REGISTER (or
		 * in the CHALLENGE's cookie) on the way looks like: try again
		 * on the HELLO backoff (1 s doubling to RELAYREG_HELLO_MAX_S,
		 * reset only by a REGISTERED), so a storm does not cost the
		 * registration. Each try costs a signature, which the
		 * monitor's rate (relaysign.h) bounds whatever a relay does.
		 * Other refusals (limits, full) wait longer.
		 */
		r->next_us = now_us + (m.code == RMSG_REFUSE_BAD_PROOF ?
				       (uint64_t)r->hello_s : RELAYREG_REFUSED_S) * S_US;
		break;
	case RMSG_KEEPALIVE_ACK:
		if (r->state != RELAYREG_UP)
			break;
		r->unanswered = 0;
		r->next_us = now_us + (uint64_t)r->keepalive_s * S_US;
		break;
	case RMSG_REREGISTER:
		if (r->state != RELAYREG_UP)
			break;
		rr->ops->event(rr->user, idx, RELAYREG_EV_LOST, &m);
		r->hello_s = RELAYREG_HELLO_S;
		rr_hello(rr, idx, now_us);
		break;
	case RMSG_PEER:
		if (r->state == RELAYREG_UP)
			rr->ops->event(rr->user, idx, RELAYREG_EV_PEER, &m);
		break;
	default:
		break;
	}
}

uint64_t relayreg_tick(struct relayreg *rr, uint64_t now_us)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < rr->n; i++) {
		struct relayreg_relay *r = &rr->r[i];

		if (now_us >= r->next_us) {
			if (r->state != RELAYREG_UP) {
				rr_hello(rr, i, now_us);
			} else if (r->unanswered >= RELAYREG_LOST_AFTER) {
				rr->ops->event(rr->user, i, RELAYREG_EV_LOST, NULL);
				r->hello_s = RELAYREG_HELLO_S;
				rr_hello(rr, i, now_us);
			} else {
				rr_keepalive(rr, i, now_us);
			}
		}
		if (r->next_us < next)
			next = r->next_us;
	}
	return next;
}

const char *relayreg_refused_hint(bool certified, uint8_t code)
{
	switch (code) {
	case RMSG_REFUSE_BAD_PROOF:
		/*
		 * Once, a datagram damaged on the way; repeated, the proof.
		 * With relay-cert the monitor checked at start that the CA
		 * issued it for relay-key, so what is left is its dates on
		 * the relay's clock (or a relay and gateway disagreeing on
		 * the CA).
		 */
		return certified ?
		       "if this repeats: is relay-cert within its dates by the relay's clock "
		       "(renew it with bgw-authdb ca relay-key)? the relay's log says which "
		       "check failed" :
		       "if this repeats: is relay-key the CA's key? the relay's log says which "
		       "check failed";
	case RMSG_REFUSE_LIMIT:
		return "the relay is at a limit (homes registered, or requests from this "
		       "address); trying again later";
	default:
		return "a refusal this gateway does not know";
	}
}
