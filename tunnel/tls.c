/* SPDX-License-Identifier: MIT */
/*
 * TLS over TCP, the fallback for networks that block UDP: the same tunnel
 * messages back to back in the TLS byte stream (each carries its length
 * in its header). The listener accepts only while the owner's cap on
 * pending channels allows; a connection over the cap is closed at once.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"

struct tun_tlisten {
	struct tun_listen_cfg cfg;
	int fd;
};

static void tl_fd_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct tun_tlisten *tl = user;
	struct sockaddr_storage addr;
	socklen_t alen;
	struct tun_chan *ch;
	int k, cfd;

	for (k = 0; k < TUN_BATCH_MAX; k++) {
		alen = sizeof(addr);
		cfd = accept4(fd, (struct sockaddr *)&addr, &alen,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			break;
		if (tl->cfg.may_accept && !tl->cfg.may_accept(tl->cfg.user, &addr, alen)) {
			log_info("tunnel: TLS connection refused: too many handshakes pending");
			close(cfd);
			continue;
		}
		if (tun_chan_new(&ch, tl->cfg.l, tl->cfg.creds, TUN_CHAN_STREAM, cfd,
				 tl->cfg.handshake_ms, tl->cfg.ops, tl->cfg.user) < 0) {
			close(cfd);
			continue;
		}
		memcpy(&ch->addr, &addr, alen);
		ch->alen = alen;
		if (tl->cfg.adopt && tl->cfg.adopt(tl->cfg.user, ch) < 0) {
			tun_chan_close(ch);
			continue;
		}
		if (tun_chan_start(ch) < 0) {
			ch->ops = NULL;
			tun_chan_close(ch);
		}
	}
}

int tun_tlisten_new(struct tun_tlisten **out, const struct tun_listen_cfg *cfg)
{
	struct tun_tlisten *tl;
	int ret;

	*out = NULL;
	tl = calloc(1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	tl->cfg = *cfg;
	tl->fd = tun_sock_bind(cfg->host, cfg->port, SOCK_STREAM);
	if (tl->fd < 0) {
		ret = tl->fd;
		goto fail;
	}
	ret = loop_add_fd(cfg->l, tl->fd, EPOLLIN, tl_fd_cb, tl);
	if (ret < 0)
		goto fail;
	*out = tl;
	return 0;
fail:
	tun_tlisten_free(tl);
	return ret;
}

void tun_tlisten_free(struct tun_tlisten *tl)
{
	if (!tl)
		return;
	if (tl->fd >= 0) {
		loop_del_fd(tl->cfg.l, tl->fd);
		close(tl->fd);
	}
	free(tl);
}

uint16_t tun_tlisten_port(const struct tun_tlisten *tl)
{
	return tl ? tun_sock_port(tl->fd) : 0;
}
