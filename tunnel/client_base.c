/* SPDX-License-Identifier: MIT */
/*
 * The tunnel client's lowest layer (client_int.h): message set-up,
 * sending and login requests, progress and the final report, dropping
 * the channels, and the lost link that waits to reconnect.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "log.h"
#include "scram.h"
#include "secmem.h"

void tun_cli_msg_init(struct tun_msg *m, uint8_t version, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->type = type;
}

void tun_cli_wipe_password(struct tun_client *c)
{
	if (c->password) {
		secmem_wipe(c->password, c->pwlen);
		free(c->password);
		c->password = NULL;
		c->pwlen = 0;
	}
}

static void cli_drop_racer(struct tun_chan **ch)
{
	if (*ch) {
		(*ch)->ops = NULL;
		tun_chan_drop(*ch);
		*ch = NULL;
	}
}

/* The relay racers and paths still in the race (not c->ch's). */
void tun_cli_drop_relays(struct tun_client *c)
{
	unsigned i;

	for (i = 0; i < c->nrelay; i++) {
		cli_drop_racer(&c->rr[i].rch);
		cli_drop_racer(&c->rr[i].dch);
		if (c->rr[i].rfd_wait >= 0)
			close(c->rr[i].rfd_wait);
		c->rr[i].rfd_wait = -1;
		loop_timer_disarm(c->rr[i].relayed_timer);
		tun_rpath_free(c->rr[i].rp);
		c->rr[i].rp = NULL;
	}
}

/* notify: close_notify, the session is over; else abandon silently. */
void tun_cli_drop_chan(struct tun_client *c, bool notify)
{
	if (c->ch) {
		c->ch->ops = NULL;
		if (notify)
			tun_chan_close(c->ch);
		else
			tun_chan_drop(c->ch);
		c->ch = NULL;
	}
	/* A racer that never came up has no session to end. */
	if (c->alt) {
		c->alt->ops = NULL;
		tun_chan_drop(c->alt);
		c->alt = NULL;
	}
	tun_cli_drop_relays(c);
	cli_drop_racer(&c->probe);
	/* After the channel: its last datagrams go out through the path. */
	tun_rpath_free(c->live_rp);
	c->live_rp = NULL;
	loop_timer_disarm(c->fallback_timer);
}

__attribute__((format(printf, 2, 3)))
void tun_cli_progress(struct tun_client *c, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->ops.on_progress)
		c->ops.on_progress(c->user, c, text);
	else
		log_info("tunnel: %s", text);
}

/* For good: report from the loop. */
void tun_cli_final(struct tun_client *c, int reason, const char *text)
{
	if (c->state == C_DOWN)
		return;
	c->state = C_DOWN;
	c->down_reason = reason;
	snprintf(c->down_text, sizeof(c->down_text), "%s",
		 text && text[0] ? text : tun_reason_str(reason));
	tun_cli_drop_chan(c, true);
	scram_client_free(c->scram);
	c->scram = NULL;
	tun_cli_wipe_password(c);
	loop_timer_disarm(c->rel_timer);
	loop_timer_disarm(c->flush_timer);
	loop_timer_disarm(c->retry_timer);
	loop_timer_disarm(c->login_timer);
	loop_timer_arm(c->down_timer, 0);
}

void tun_cli_down_cb(struct loop_timer *t, void *user)
{
	struct tun_client *c = user;

	/* The owner reports it to its user: here only for the debug log. */
	log_info("tunnel: session down: %s", c->down_text);
	/* Last: the owner may free c in there. */
	if (c->ops.on_down)
		c->ops.on_down(c->user, c, c->down_reason, c->down_text);
}

void tun_cli_send(struct tun_client *c, const struct tun_msg *m)
{
	if (c->ch)
		tun_chan_send(c->ch, m);
}

void tun_cli_arm_login(struct tun_client *c)
{
	uint64_t now = loop_now_us(), d;

	d = c->login_deadline > now ? c->login_deadline - now : 0;
	/* TCP does not lose it: only the deadline applies. */
	if (c->transport != TUN_TRANSPORT_TLS && c->req_rto < d)
		d = c->req_rto;
	loop_timer_arm(c->login_timer, d);
}

/* Send a login request and keep it for repeating. */
void tun_cli_req(struct tun_client *c, const struct tun_msg *m)
{
	int n = tun_msg_encode(m, c->req, sizeof(c->req));

	if (n < 0 || !c->ch)
		return;
	c->req_len = (size_t)n;
	c->req_rto = TUN_REQ_RTO_US;
	tun_chan_send_raw(c->ch, c->req, c->req_len);
	tun_cli_arm_login(c);
}

void tun_cli_arm(struct tun_client *c)
{
	uint64_t now = loop_now_us(), d;

	if (c->state != C_READY) {
		loop_timer_disarm(c->rel_timer);
		return;
	}
	d = tun_rel_deadline(c->rel);
	loop_timer_arm(c->rel_timer, d > now ? d - now : 0);
}

/* The channel is gone after a login: retry until resume_s runs out. */
void tun_cli_lost(struct tun_client *c, const char *why)
{
	uint64_t now = loop_now_us(), d;

	if (c->state == C_DOWN)
		return;
	tun_cli_drop_chan(c, false);
	if (!c->ever_ready) {
		tun_cli_final(c, TUN_R_UNREACHABLE, why);
		return;
	}
	if (!c->lost_at) {
		c->lost_at = now;
		log_info("tunnel: link lost (%s); resuming", why);
	}
	c->state = C_CONNECTING;
	loop_timer_disarm(c->rel_timer);
	loop_timer_disarm(c->login_timer);
	if (now - c->lost_at >= (uint64_t)c->resume_s * 1000000) {
		char text[128];

		snprintf(text, sizeof(text), "no answer from the server for %u s",
			 c->resume_s);
		tun_cli_final(c, TUN_R_UNREACHABLE, text);
		return;
	}
	/* The first retry at once (the link may be back already), then
	 * 100 ms doubling up to 2 s. */
	c->attempts++;
	d = c->attempts == 1 ? 0 :
	    TUN_RETRY_MIN_US << (c->attempts - 2 < 5 ? c->attempts - 2 : 5);
	if (d > TUN_RETRY_MAX_US)
		d = TUN_RETRY_MAX_US;
	loop_timer_arm(c->retry_timer, d);
}
