/* SPDX-License-Identifier: MIT */
/*
 * The client side of a tunnel session (bgw-cdclient): connect, HELLO,
 * log in with a certificate or SCRAM, then carry HCI; when the channel is
 * lost, reconnect and RESUME until the server's resume time runs out.
 * This file is the API; the race, the login and the shared primitives
 * are in client_race.c, client_login.c and client_base.c (client_int.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certlogin.h"
#include "client_int.h"
#include "hci.h"
#include "log.h"
#include "scram.h"
#include "secmem.h"

static char *dup_opt(const char *s, bool *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = true;
	return d;
}

int tun_client_new(struct tun_client **out, struct loop *l,
		   const struct tun_client_cfg *cfg,
		   const struct tun_client_ops *ops, void *user)
{
	struct tun_client *c;
	bool bad = false;
	unsigned i;
	int ret = -EINVAL;

	*out = NULL;
	if (cfg->nrelay > TUN_RELAYS_MAX || (cfg->nrelay && (!cfg->relays || !cfg->home_id)))
		return -EINVAL;
	if ((!cfg->host && !cfg->nrelay) || (cfg->host && !cfg->port) || !cfg->ca_file ||
	    (!cfg->cert_file) != (!cfg->key_file) ||
	    (!cfg->cert_file && (!cfg->user || !cfg->password)) ||
	    cfg->password_len > SCRAM_PASSWORD_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->l = l;
	c->ops = *ops;
	c->start_probe = tun_cli_start_probe;
	c->user = user;
	c->want = cfg->transport;
	c->transport = cfg->transport == TUN_TRANSPORT_TLS ? TUN_TRANSPORT_TLS :
		       TUN_TRANSPORT_DTLS;
	c->fallback_ms = cfg->fallback_ms ? cfg->fallback_ms : TUN_FALLBACK_MS;
	c->vmin = cfg->version_min ? cfg->version_min : TUN_VERSION_MIN;
	c->vmax = cfg->version_max ? cfg->version_max : TUN_VERSION_MAX;
	if (c->vmin > c->vmax) {
		free(c);
		return -EINVAL;
	}
	c->hs_ms = cfg->handshake_ms ? cfg->handshake_ms : 10000;
	if (cfg->rel) {
		c->rel_cfg = *cfg->rel;
	} else {
		tun_rel_cfg_default(&c->rel_cfg);
		/* The server drives the keepalives (TUN_REL_KEEPALIVE_SRV_US). */
		c->rel_cfg.keepalive_us = TUN_REL_KEEPALIVE_CLI_US;
		c->rel_cfg.quiet_us = 0;
	}
	c->host = dup_opt(cfg->host, &bad);
	c->port = dup_opt(cfg->port, &bad);
	c->nrelay = cfg->nrelay;
	for (i = 0; i < cfg->nrelay; i++) {
		c->relay[i] = dup_opt(cfg->relays[i], &bad);
		c->rr[i].c = c;
		c->rr[i].rfd_wait = -1;
		c->rr[i].relayed_timer = loop_timer_new(l, tun_cli_relayed_cb, &c->rr[i]);
		if (!c->relay[i] || !c->rr[i].relayed_timer)
			bad = true;
	}
	if (cfg->nrelay)
		memcpy(c->home_id, cfg->home_id, TUN_HOME_ID_LEN);
	c->ca_file = dup_opt(cfg->ca_file, &bad);
	c->cert_file = dup_opt(cfg->cert_file, &bad);
	c->key_file = dup_opt(cfg->key_file, &bad);
	c->login = dup_opt(cfg->user, &bad);
	if (cfg->password && !cfg->cert_file) {
		c->password = malloc(cfg->password_len + 1);
		if (!c->password) {
			bad = true;
		} else {
			memcpy(c->password, cfg->password, cfg->password_len);
			c->password[cfg->password_len] = '\0';
			c->pwlen = cfg->password_len;
		}
	}
	c->rel_timer = loop_timer_new(l, tun_cli_rel_timer_cb, c);
	c->flush_timer = loop_timer_new(l, tun_cli_flush_cb, c);
	c->retry_timer = loop_timer_new(l, tun_cli_retry_cb, c);
	c->down_timer = loop_timer_new(l, tun_cli_down_cb, c);
	c->login_timer = loop_timer_new(l, tun_cli_login_timer_cb, c);
	c->fallback_timer = loop_timer_new(l, tun_cli_fallback_cb, c);
	if (bad || !c->rel_timer || !c->flush_timer || !c->retry_timer ||
	    !c->down_timer || !c->login_timer || !c->fallback_timer) {
		ret = -ENOMEM;
		goto fail;
	}
	/*
	 * The certificate stays out of the handshake (the server asks for
	 * none): it is sent, and its key signs, inside the channel.
	 */
	ret = tun_creds_new(&c->creds, false, c->ca_file, NULL, NULL);
	if (ret < 0)
		goto fail;
	if (c->cert_file) {
		char err[300];

		ret = tun_certkey_load(&c->ck, c->cert_file, c->key_file, err, sizeof(err));
		if (ret < 0) {
			log_err("tunnel: client certificate %s", err);
			goto fail;
		}
	}
	*out = c;
	tun_cli_connect(c);
	return 0;
fail:
	tun_client_free(c);
	return ret;
}

void tun_client_free(struct tun_client *c)
{
	unsigned i;

	if (!c)
		return;
	if (c->ch) {
		if (c->state == C_READY) {
			struct tun_msg m;

			tun_cli_msg_init(&m, c->version, TUN_MSG_CLOSE);
			m.close.code = TUN_R_SHUTDOWN;
			tun_chan_send(c->ch, &m);
		}
		c->ch->ops = NULL;
		tun_chan_destroy(c->ch);
	}
	if (c->alt) {
		c->alt->ops = NULL;
		tun_chan_destroy(c->alt);
	}
	for (i = 0; i < c->nrelay; i++) {
		if (c->rr[i].rch) {
			c->rr[i].rch->ops = NULL;
			tun_chan_destroy(c->rr[i].rch);
		}
		if (c->rr[i].dch) {
			c->rr[i].dch->ops = NULL;
			tun_chan_destroy(c->rr[i].dch);
		}
		tun_rpath_free(c->rr[i].rp);
		if (c->rr[i].rfd_wait >= 0)
			close(c->rr[i].rfd_wait);
		loop_timer_free(c->rr[i].relayed_timer);
		free(c->relay[i]);
	}
	if (c->probe) {
		c->probe->ops = NULL;
		tun_chan_destroy(c->probe);
	}
	/* After the channel: its CLOSE goes out through the path. */
	tun_rpath_free(c->live_rp);
	scram_client_free(c->scram);
	tun_cli_wipe_password(c);
	tun_rel_free(c->rel);
	loop_timer_free(c->rel_timer);
	loop_timer_free(c->flush_timer);
	loop_timer_free(c->retry_timer);
	loop_timer_free(c->down_timer);
	loop_timer_free(c->login_timer);
	loop_timer_free(c->fallback_timer);
	tun_creds_free(c->creds);
	tun_certkey_free(c->ck);
	secmem_wipe(c->req, sizeof(c->req));
	secmem_wipe(c->resume_key, sizeof(c->resume_key));
	free(c->host);
	free(c->port);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->login);
	free(c);
}

int tun_client_send(struct tun_client *c, const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;
	int ret;

	if (c->state == C_DOWN || !c->rel)
		return -ENOTCONN;
	if (len > TUN_REL_PKT_MAX)
		return -EMSGSIZE;
	if (h4_parse(&pkt, h4, len, 0) < 0)
		return -EBADMSG;
	ret = tun_rel_send(c->rel, h4, len, loop_now_us());
	if (ret == 0)
		tun_cli_arm(c);
	return ret;
}

void tun_client_rx_kick(struct tun_client *c)
{
	if (c->state != C_READY)
		return;
	if (tun_rel_rx_kick(c->rel, loop_now_us()) < 0)
		tun_cli_final(c, TUN_R_PROTOCOL, "the server broke the protocol");
	else
		tun_cli_arm(c);
}

bool tun_client_is_ready(const struct tun_client *c)
{
	return c->state == C_READY;
}

enum tun_transport tun_client_transport(const struct tun_client *c)
{
	return c->transport;
}

void tun_client_reconnect(struct tun_client *c)
{
	if (c->state == C_DOWN || !c->ever_ready)
		return;
	tun_cli_lost(c, "reconnect requested");
}

void tun_client_get_stats(const struct tun_client *c, struct tun_rel_stats *st)
{
	if (c->rel)
		tun_rel_get_stats(c->rel, st);
	else
		memset(st, 0, sizeof(*st));
}
