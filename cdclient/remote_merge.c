/* SPDX-License-Identifier: MIT */
/*
 * Seamless mode: the merge core (merge/) between the hub and two
 * controllers, the laptop's own (a controller transport, mux/transport.h)
 * and the gateway's upstream (remote.c, remote_tunnel.c). See
 * remote_merge.h and doc/seamless.md.
 *
 * The merge answers the host for both, so this upstream is "up" for the hub
 * from the first open of the local controller until it is freed: a lost
 * gateway is the merge's business (its links end, the local side goes on),
 * and a lost local controller too (a Hardware Error, then another when it
 * is back, Core Vol 4 Part E 7.7.16). The hub's own reset-on-drop would
 * reset the host for a gateway that went away, which is what seamless mode
 * avoids.
 *
 * Re-entrancy (merge.h): nothing here calls into the merge from inside one
 * of its callbacks; the transports and the gateway deliver from the loop,
 * and a failure reported by the merge is acted on from a timer.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "merge.h"
#include "remote_int.h"
#include "remote_merge.h"
#include "transport.h"

#define MERGE_IDX_LOCAL		0
#define MERGE_IDX_GW		1
/* A gateway the merge gave up on (no answer) is initialised again after. */
#define MERGE_GW_RETRY_US	(2 * 1000 * 1000)

struct merge_remote {
	struct cd_remote base;	/* first: the generic part */
	struct loop *loop;
	struct cd_remote_cbs cbs;
	void *user;
	char *local_uri;
	char *desc;

	struct merge *m;
	struct mux_transport *local;
	bool local_lost;		/* its error came: close and reopen */
	uint64_t backoff_us;
	struct loop_timer *local_timer;	/* close after a loss, reopen */
	bool started;
	bool up;			/* told the hub */

	struct cd_remote *gw;
	struct loop_timer *gw_timer;	/* re-initialise a failed gateway */
	unsigned int gw_waits;		/* failed attempts before its first up */

	struct cd_remote_stats st;
};

static const struct cd_remote_ops merge_remote_ops;

static struct merge_remote *to_mr(struct cd_remote *r)
{
	return (struct merge_remote *)r;
}

/* ------------------------------------------------------------------ */
/* The host side: the merge's packets go to the hub. */

static int mr_emit(const uint8_t *h4, size_t len, void *user)
{
	struct merge_remote *r = user;
	struct h4_pkt pkt;
	int err;

	err = h4_parse(&pkt, h4, len, CD_PKT_MAX);
	if (err) {
		log_warn("seamless: the merge made a bad %zu-byte packet (%s); dropped",
			 len, h4_strerror(err));
		return err;
	}
	r->st.pkts_in++;
	r->st.bytes_in += len;
	if (r->cbs.packet)
		r->cbs.packet(&pkt, r->user);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The local controller */

static void local_rx(const uint8_t *h4, size_t len, void *user)
{
	struct merge_remote *r = user;

	if (merge_ctrl_input(r->m, MERGE_IDX_LOCAL, h4, len) < 0)
		log_info("seamless: the local controller %s sent a malformed "
			 "%zu-byte packet; dropped", r->local_uri, len);
}

static void local_error(int err, void *user)
{
	struct merge_remote *r = user;

	log_err("seamless: the local controller %s is lost (%s); the host gets "
		"a Hardware Error, reopening it", r->local_uri, strerror(-err));
	/* Closed from the timer: not from inside the transport's own call. */
	r->local_lost = true;
	loop_timer_arm(r->local_timer, 0);
}

static int local_open(struct merge_remote *r, char *why, size_t whylen)
{
	const struct mux_transport_ops ops = {
		.rx = local_rx,
		.error = local_error,
		.user = r,
	};
	int err;

	err = mux_transport_open(r->loop, r->local_uri, &ops, &r->local, why, whylen);
	if (err)
		return err;
	r->backoff_us = CD_REMOTE_BACKOFF_MIN_US;
	log_notice("seamless: local controller %s open", r->local_uri);
	merge_ctrl_up(r->m, MERGE_IDX_LOCAL);
	return 0;
}

static void local_close(struct merge_remote *r)
{
	if (!r->local)
		return;
	merge_ctrl_down(r->m, MERGE_IDX_LOCAL);
	mux_transport_close(r->local);
	r->local = NULL;
}

static void local_timer_fn(struct loop_timer *t, void *user)
{
	struct merge_remote *r = user;
	char why[512];
	int err;

	(void)t;
	if (r->local_lost) {
		r->local_lost = false;
		local_close(r);
		loop_timer_arm(r->local_timer, r->backoff_us);
		return;
	}
	if (r->local)
		return;
	err = local_open(r, why, sizeof(why));
	if (!err)
		return;
	log_warn("seamless: cannot reopen the local controller: %s; again in %llu ms",
		 why, (unsigned long long)(r->backoff_us / 1000));
	loop_timer_arm(r->local_timer, r->backoff_us);
	r->backoff_us *= 2;
	if (r->backoff_us > CD_REMOTE_BACKOFF_MAX_US)
		r->backoff_us = CD_REMOTE_BACKOFF_MAX_US;
}

static int local_send(const uint8_t *h4, size_t len, void *user)
{
	struct merge_remote *r = user;

	if (!r->local)
		return -ENOTCONN;
	return mux_transport_send(r->local, h4, len);
}

/* ------------------------------------------------------------------ */
/* The gateway */

static int gw_send(const uint8_t *h4, size_t len, void *user)
{
	struct merge_remote *r = user;

	return cd_remote_send(r->gw, h4, len);
}

static void gw_up(void *user)
{
	struct merge_remote *r = user;

	log_notice("seamless: the gateway %s is up; its devices join the adapter",
		   cd_remote_describe(r->gw));
	loop_timer_disarm(r->gw_timer);
	r->gw_waits = 0;
	merge_ctrl_up(r->m, MERGE_IDX_GW);
}

static void gw_down(int err, void *user)
{
	struct merge_remote *r = user;

	log_warn("seamless: the gateway is gone (%s); its links end, the local "
		 "controller goes on", strerror(-err));
	loop_timer_disarm(r->gw_timer);
	merge_ctrl_down(r->m, MERGE_IDX_GW);
}

static void gw_packet(const struct h4_pkt *pkt, void *user)
{
	struct merge_remote *r = user;

	if (merge_ctrl_input(r->m, MERGE_IDX_GW, pkt->raw, pkt->raw_len) < 0)
		log_info("seamless: the gateway sent a malformed %zu-byte packet; dropped",
			 pkt->raw_len);
}

static void gw_failed(int err, const char *why, void *user)
{
	struct merge_remote *r = user;

	/* A refused login or certificate: the user must act, as without --local. */
	if (r->cbs.failed)
		r->cbs.failed(err, why, r->user);
}

/*
 * The gateway cannot be reached yet (not a refusal: remote.h). Seamless mode
 * does not need it to start: the local side works alone meanwhile, and the
 * gateway joins through gw_up() -> merge_ctrl_up() as after a lost session,
 * with no host reset. The user hears it once, on the terminal; each later
 * attempt only with -v.
 */
static void gw_waiting(int err, const char *what, const char *advice, void *user)
{
	struct merge_remote *r = user;

	(void)err;
	if (r->gw_waits++) {
		log_info("seamless: home still does not answer (%s); trying again",
			 what);
		return;
	}
	log_notice("seamless: home does not answer yet (%s)", what);
	log_notice("seamless: the devices near you work now on this adapter; "
		   "home's devices join it by themselves once home answers, "
		   "nothing to do. If they never appear: %s", advice);
}

const struct cd_remote_cbs cd_merge_gateway_cbs = {
	.up = gw_up,
	.down = gw_down,
	.packet = gw_packet,
	.failed = gw_failed,
	.waiting = gw_waiting,
};

static void gw_timer_fn(struct loop_timer *t, void *user)
{
	struct merge_remote *r = user;

	(void)t;
	if (r->gw && cd_remote_is_up(r->gw) && !merge_ctrl_is_ready(r->m, MERGE_IDX_GW)) {
		log_notice("seamless: initialising the gateway again");
		merge_ctrl_up(r->m, MERGE_IDX_GW);
	}
}

/* The merge gave up on a controller (no answer, refused a packet). */
static void mr_ctrl_failed(struct merge *m, unsigned idx, int err, void *user)
{
	struct merge_remote *r = user;

	(void)m;
	(void)err;
	if (idx == MERGE_IDX_LOCAL) {
		r->local_lost = true;
		loop_timer_arm(r->local_timer, 0);
	} else {
		loop_timer_arm(r->gw_timer, MERGE_GW_RETRY_US);
	}
}

/* ------------------------------------------------------------------ */
/* The upstream seen by the hub */

static int mr_start(struct cd_remote *base)
{
	struct merge_remote *r = to_mr(base);
	char why[512];
	int err;

	if (r->started)
		return 0;
	err = local_open(r, why, sizeof(why));
	if (err) {
		char msg[600];

		snprintf(msg, sizeof(msg), "--local %s: %s", r->local_uri, why);
		if (r->cbs.failed)
			r->cbs.failed(err, msg, r->user);
		else
			log_err("%s", msg);
		return err;
	}
	r->started = true;
	r->st.connects++;
	r->st.up_since_us = cd_remote_realtime_us();
	r->up = true;
	if (r->cbs.up)
		r->cbs.up(r->user);
	return r->gw ? cd_remote_start(r->gw) : 0;
}

static int mr_send(struct cd_remote *base, const uint8_t *h4, size_t len)
{
	struct merge_remote *r = to_mr(base);
	int err;

	if (!r->up)
		return -ENOTCONN;
	err = merge_host_input(r->m, h4, len);
	if (err)
		return err == -EPROTO ? -EPROTO : -EINVAL;
	r->st.pkts_out++;
	r->st.bytes_out += len;
	return 0;
}

static bool mr_is_up(const struct cd_remote *base)
{
	return ((const struct merge_remote *)base)->up;
}

static const char *mr_describe(const struct cd_remote *base)
{
	const struct merge_remote *r = (const struct merge_remote *)base;

	return r->desc ? r->desc : r->local_uri;
}

static const char *mr_user(const struct cd_remote *base)
{
	const struct merge_remote *r = (const struct merge_remote *)base;

	return r->gw ? cd_remote_user(r->gw) : NULL;
}

static void mr_stats(const struct cd_remote *base, struct cd_remote_stats *st)
{
	const struct merge_remote *r = (const struct merge_remote *)base;

	*st = r->st;
	if (r->gw) {
		struct cd_remote_stats g;

		cd_remote_get_stats(r->gw, &g);
		st->srtt_us = g.srtt_us;
	}
}

static void mr_free(struct cd_remote *base)
{
	struct merge_remote *r = to_mr(base);

	/* The gateway first: its callbacks reach the merge. */
	cd_remote_free(r->gw);
	r->gw = NULL;
	if (r->local) {
		/* Closing the user channel hands hciN back to the kernel
		 * (and bluetoothd): Linux hci_sock_release. */
		mux_transport_close(r->local);
		r->local = NULL;
	}
	merge_free(r->m);
	loop_timer_free(r->local_timer);
	loop_timer_free(r->gw_timer);
	free(r->local_uri);
	free(r->desc);
	free(r);
}

static const struct cd_remote_ops merge_remote_ops = {
	.start = mr_start,
	.send = mr_send,
	.is_up = mr_is_up,
	.describe = mr_describe,
	.user = mr_user,
	.stats = mr_stats,
	.free = mr_free,
};

int cd_remote_merge_check(const char *local, char *err, size_t errlen)
{
	return mux_transport_check(local, err, errlen);
}

int cd_remote_new_merge(struct cd_remote **out, struct loop *l, const char *local,
			const struct cd_remote_cbs *cbs, void *user)
{
	const struct merge_config cfg = { .ctrl_failed = mr_ctrl_failed };
	struct merge_remote *r;
	char why[256];
	int err = -ENOMEM;

	*out = NULL;
	if (mux_transport_check(local, why, sizeof(why)) < 0) {
		log_err("--local %s: %s", local, why);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base.ops = &merge_remote_ops;
	r->loop = l;
	r->cbs = *cbs;
	r->user = user;
	r->backoff_us = CD_REMOTE_BACKOFF_MIN_US;
	r->local_uri = strdup(local);
	r->local_timer = loop_timer_new(l, local_timer_fn, r);
	r->gw_timer = loop_timer_new(l, gw_timer_fn, r);
	r->m = merge_new(l, &cfg, mr_emit, r);
	if (!r->local_uri || !r->local_timer || !r->gw_timer || !r->m)
		goto fail;
	err = merge_add_ctrl(r->m, MERGE_LOCAL, local_send, r);
	if (err >= 0)
		err = merge_add_ctrl(r->m, MERGE_GATEWAY, gw_send, r);
	if (err < 0)
		goto fail;
	*out = &r->base;
	return 0;
fail:
	mr_free(&r->base);
	return err;
}

void cd_remote_merge_set_gateway(struct cd_remote *base, struct cd_remote *gw)
{
	struct merge_remote *r = to_mr(base);

	cd_remote_free(r->gw);
	r->gw = gw;
	free(r->desc);
	/* "local hci:0 + bgw.example.org:5684" (NULL: the URI alone). */
	if (asprintf(&r->desc, "local %s + %s", r->local_uri, cd_remote_describe(gw)) < 0)
		r->desc = NULL;
}
