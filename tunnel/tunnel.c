/* SPDX-License-Identifier: MIT */
/*
 * Tunnel sessions over channels (doc/protocol.md "State machine"): the
 * login (HELLO, then a certificate, SCRAM or RESUME), READY, then HCI in
 * both directions through the reliability layer. A session outlives its
 * channel for resume_s seconds so a roaming client picks it up again.
 *
 * Objects are freed from the loop, never inside their own callbacks: a
 * channel or session that ends is marked, and a zero-delay timer reports
 * it and releases it.
 *
 * bgw-muxd splits this across processes (doc/protocol.md, appendix "the
 * peer link"): in core mode a server has no listeners and a session's
 * current link is a peer process's SOCK_SEQPACKET socket instead of a
 * channel (struct tun_link is either); in peer mode the same login code
 * runs on one channel, and where a listener-mode server would make or
 * resume the session it asks the core over the link and then relays.
 *
 * This file holds the server object (tun_server_new, its listeners and
 * its configuration); the rest is split by concern, sharing tunnel_int.h,
 * and each file calls only those below it: peer.c (peer mode, above this
 * file), then this file, core.c (core mode), login.c (the login on a
 * channel), session.c (sessions and their API), linkio.c (link
 * operations, peer-link I/O), wire.c (reasons, message headers, exported
 * keys); creds.c (the server's credentials) beside them. The login code
 * reaches peer.c through srv->peer_side.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certlogin.h"
#include "log.h"
#include "tunnel_int.h"

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

/*
 * Before any state for a new peer: the global cap on channels in
 * handshake or login, and a smaller one per source address, so one host
 * cannot hold every slot (each lasts up to handshake_ms).
 */
static bool srv_may_accept(void *user, const struct sockaddr_storage *addr,
			   socklen_t alen)
{
	struct tun_server *srv = user;
	struct tun_link *k;
	unsigned n = 0;

	if (srv->npending >= srv->cfg.max_pending)
		return false;
	for (k = srv->pending; k; k = k->next)
		if (k->ch && same_host(&k->ch->addr, addr))
			n++;
	return n < TUN_PENDING_PER_HOST;
}

/* The configuration with its defaults and caps filled in. */
void tun_srv_cfg_init(struct tun_server *srv, const struct tun_server_cfg *cfg)
{
	srv->cfg = *cfg;
	if (!srv->cfg.resume_s)
		srv->cfg.resume_s = TUN_RESUME_S_DEFAULT;
	if (srv->cfg.resume_s > TUN_LINK_RESUME_S_MAX)
		srv->cfg.resume_s = TUN_LINK_RESUME_S_MAX;
	if (!srv->cfg.max_sessions)
		srv->cfg.max_sessions = TUN_MAX_SESSIONS_DEFAULT;
	if (!srv->cfg.max_pending)
		srv->cfg.max_pending = TUN_MAX_PENDING_DEFAULT;
	if (!srv->cfg.handshake_ms)
		srv->cfg.handshake_ms = TUN_HANDSHAKE_MS_DEFAULT;
	if (cfg->rel)
		srv->rel_cfg = *cfg->rel;
	else
		tun_rel_cfg_default(&srv->rel_cfg);
	srv->cfg.rel = NULL;
}

/*
 * The CA for certificate logins checked here; an owner that checks them
 * itself (cert_verify) needs none (bgw-muxd's sandboxed peers could not
 * open it).
 */
int tun_srv_ca_init(struct tun_server *srv)
{
	int ret;

	if (srv->auth.cert_verify || !srv->auth.cert_user || !srv->cfg.ca_file)
		return 0;
	ret = tun_certca_new(&srv->ca, srv->cfg.ca_file);
	if (ret < 0)
		log_err("tunnel: CA %s: cannot load it for certificate logins",
			srv->cfg.ca_file);
	return ret;
}

int tun_server_new(struct tun_server **out, struct loop *l,
		   const struct tun_server_cfg *cfg,
		   const struct tun_server_ops *ops,
		   const struct tun_auth_ops *auth, void *user)
{
	struct tun_server *srv;
	struct tun_listen_cfg lc;
	int ret;

	*out = NULL;
	if (!cfg || !ops || !ops->on_packet)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->l = l;
	tun_srv_cfg_init(srv, cfg);
	srv->ops = *ops;
	if (auth)
		srv->auth = *auth;
	srv->user = user;
	/* Core mode: no listener, no channel, so no credentials either. */
	if (!cfg->udp_port && !cfg->tcp_port) {
		srv->core = true;
		*out = srv;
		return 0;
	}
	ret = tun_server_creds_new(&srv->creds, cfg, user);
	if (ret < 0)
		goto fail;
	ret = tun_srv_ca_init(srv);
	if (ret < 0)
		goto fail;
	memset(&lc, 0, sizeof(lc));
	lc.l = l;
	lc.creds = srv->creds;
	lc.host = cfg->host ? cfg->host : "::";
	lc.handshake_ms = srv->cfg.handshake_ms;
	lc.ops = &tun_link_chan_ops;
	lc.user = srv;
	lc.may_accept = srv_may_accept;
	lc.adopt = tun_srv_adopt;
	if (cfg->udp_port) {
		lc.port = cfg->udp_port;
		ret = tun_dlisten_new(&srv->dl, &lc);
		if (ret < 0)
			goto fail;
	}
	if (cfg->tcp_port) {
		lc.port = cfg->tcp_port;
		ret = tun_tlisten_new(&srv->tl, &lc);
		if (ret < 0)
			goto fail;
	}
	*out = srv;
	return 0;
fail:
	tun_server_free(srv);
	return ret;
}

void tun_server_free(struct tun_server *srv)
{
	if (!srv)
		return;
	srv->freeing = true;
	while (srv->sessions) {
		struct tun_session *s = srv->sessions;

		if (s->link && !s->ending)
			tun_link_send_reason(s->link, s->version, TUN_MSG_CLOSE,
					     TUN_R_SHUTDOWN, "server shutting down");
		tun_sess_release(s);
	}
	while (srv->pending)
		srv->pending->ops->shutdown(srv->pending);
	while (srv->dead)
		tun_remote_release(srv->dead);
	tun_dlisten_free(srv->dl);
	tun_tlisten_free(srv->tl);
	tun_creds_free(srv->creds);
	tun_certca_free(srv->ca);
	free(srv);
}

uint16_t tun_server_udp_port(const struct tun_server *srv)
{
	return tun_dlisten_port(srv->dl);
}

uint16_t tun_server_tcp_port(const struct tun_server *srv)
{
	return tun_tlisten_port(srv->tl);
}

unsigned tun_server_session_count(const struct tun_server *srv)
{
	return srv->nsessions;
}

unsigned tun_server_pending_count(const struct tun_server *srv)
{
	return srv->npending;
}
