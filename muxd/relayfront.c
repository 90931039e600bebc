/* SPDX-License-Identifier: MIT */
/*
 * The front's relayed peers (relayfront.h, doc/relay.md "Relayed
 * peers"). Everything from a relay here was already checked by
 * rmsg_decode (lengths, padding, the payload's 1-1200 bytes); a channel
 * is taken only from the relay that announced it with PEER.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "relayfront.h"

#define MS_US	1000ull
#define S_US	1000000ull

static void rf_send_msg(struct relayfront *rf, unsigned idx, const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	if (n > 0)
		rf->ops->send(rf->user, idx, buf, (size_t)n);
}

static void rf_send_close(struct relayfront *rf, unsigned idx, uint32_t chan)
{
	struct rmsg m;

	memset(&m, 0, sizeof(m));
	m.type = RMSG_CLOSE;
	m.chan = chan;
	rf_send_msg(rf, idx, &m);
}

static void rf_send_data(struct relayfront *rf, unsigned idx, uint32_t chan, const uint8_t *b,
			 size_t n)
{
	struct rmsg m;

	if (n == 0 || n > RMSG_DATA_MAX)
		return;		/* the DTLS MTU keeps the peer below the cap */
	memset(&m, 0, sizeof(m));
	m.type = RMSG_DATA;
	m.chan = chan;
	m.data = b;
	m.data_len = (uint16_t)n;
	rf_send_msg(rf, idx, &m);
}

/* The channel's description for the log: "relay R channel N (CD [a]:p)". */
static const char *rf_desc(struct relayfront *rf, const struct relayfront_chan *c, char *buf,
			   size_t cap)
{
	char name[96], cd[80];

	snprintf(buf, cap, "relay:%s#%lu (CD %s)", rf->ops->name(rf->user, c->idx, name,
								 sizeof(name)),
		 (unsigned long)c->chan, tun_addr_str(&c->cd, c->cdlen, cd, sizeof(cd)));
	return buf;
}

/*
 * End a channel. tell: CLOSE to the relay (not when the relay closed
 * it). A peer process still alive is stopped: without its channel it
 * cannot reach its CD, and the session waits in the core for the CD to
 * resume over another path (doc/protocol.md section 5).
 */
static void rf_end(struct relayfront *rf, struct relayfront_chan *c, bool tell)
{
	if (!c->used)
		return;
	if (tell)
		rf_send_close(rf, c->idx, c->chan);
	if (c->fd >= 0) {
		loop_del_fd(rf->l, c->fd);
		close(c->fd);
	}
	if (c->pid > 0)
		rf->ops->stop(rf->user, c->pid);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static struct relayfront_chan *rf_find(struct relayfront *rf, unsigned idx, uint32_t chan)
{
	unsigned i;

	for (i = 0; i < RELAYFRONT_MAX; i++)
		if (rf->c[i].used && rf->c[i].idx == idx && rf->c[i].chan == chan)
			return &rf->c[i];
	return NULL;
}

static void rf_arm(struct relayfront *rf)
{
	uint64_t now = loop_now_us(), next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < RELAYFRONT_MAX; i++) {
		const struct relayfront_chan *c = &rf->c[i];

		if (!c->used)
			continue;
		if (c->punches && c->next_punch_us < next)
			next = c->next_punch_us;
		if (c->pid <= 0 && c->idle_until_us < next)
			next = c->idle_until_us;
	}
	if (next == UINT64_MAX)
		loop_timer_disarm(rf->timer);
	else
		loop_timer_arm(rf->timer, next > now ? next - now : 0);
}

/*
 * Punching: an empty datagram from the listener to the CD's reflexive
 * address opens the home NAT's filter for it (a port-restricted cone
 * NAT admits what comes from where it has sent to); the CD ignores
 * empty datagrams. Three, in case one is lost or arrives before the
 * CD's own NAT has a mapping to let it in.
 */
static void rf_on_timer(struct loop_timer *t, void *user)
{
	struct relayfront *rf = user;
	uint64_t now = loop_now_us();
	char desc[200];
	unsigned i;

	for (i = 0; i < RELAYFRONT_MAX; i++) {
		struct relayfront_chan *c = &rf->c[i];

		if (!c->used)
			continue;
		if (c->pid <= 0 && now >= c->idle_until_us) {
			log_info("relay: %s brought no client within %d s; closed",
				 rf_desc(rf, c, desc, sizeof(desc)), RELAYFRONT_IDLE_S);
			rf_end(rf, c, true);
			continue;
		}
		if (c->punches && now >= c->next_punch_us) {
			int r = tun_front_udp_send(rf->front, (const struct sockaddr *)&c->cd,
						   c->cdlen, "", 0);

			if (r == 0)
				rf->punched++;
			else
				log_debug("relay: punch: %s", strerror(-r));
			c->punches--;
			c->next_punch_us = now + RELAYFRONT_PUNCH_MS * MS_US;
		}
	}
	rf_arm(rf);
}

/* The peer process's datagrams, to its CD through the relay. */
static void rf_on_peer(struct loop *l, int fd, uint32_t events, void *user)
{
	struct relayfront_chan *c = user;
	struct relayfront *rf = c->rf;
	uint8_t b[RMSG_DATA_MAX + 1];
	ssize_t n;
	int k;

	for (k = 0; k < 64; k++) {
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			break;
		/* Over the cap (MSG_TRUNC: its real size): not for the relay. */
		if (n == 0 || (size_t)n > RMSG_DATA_MAX)
			continue;
		rf_send_data(rf, c->idx, c->chan, b, (size_t)n);
		rf->relayed_out++;
	}
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The peer's end is gone; its SIGCHLD ends the channel. */
		loop_del_fd(rf->l, c->fd);
		close(c->fd);
		c->fd = -1;
	}
}

/* The CD's reflexive address in the listener's family (mapped on IPv6). */
static int rf_sockaddr(int family, const struct rmsg_addr *a, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET && a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->a, 4);
		*len = sizeof(*s4);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		if (a->family == 4) {
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(s6->sin6_addr.s6_addr + 12, a->a, 4);
		} else {
			memcpy(&s6->sin6_addr, a->a, 16);
		}
		*len = sizeof(*s6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void relayfront_peer(struct relayfront *rf, unsigned idx, const struct rmsg *m)
{
	struct relayfront_chan *c = NULL;
	struct sockaddr_storage cd;
	socklen_t cdlen;
	char desc[200];
	unsigned i;

	if (m->chan == 0 || rf_find(rf, idx, m->chan))
		return;		/* a repeated PEER: the channel is known */
	if (rf_sockaddr(tun_front_udp_family(rf->front), &m->addr, &cd, &cdlen) < 0) {
		rf_send_close(rf, idx, m->chan);
		return;
	}
	for (i = 0; i < RELAYFRONT_MAX && !c; i++)
		if (!rf->c[i].used)
			c = &rf->c[i];
	if (!c) {
		log_notice("relay: %u relayed channels open; refusing one more",
			   RELAYFRONT_MAX);
		rf_send_close(rf, idx, m->chan);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->rf = rf;
	c->used = true;
	c->idx = idx;
	c->chan = m->chan;
	memcpy(&c->cd, &cd, cdlen);
	c->cdlen = cdlen;
	c->fd = -1;
	c->punches = RELAYFRONT_PUNCHES;
	c->next_punch_us = loop_now_us();
	c->idle_until_us = loop_now_us() + RELAYFRONT_IDLE_S * S_US;
	log_info("relay: %s: a client asks to connect; punching towards it",
		 rf_desc(rf, c, desc, sizeof(desc)));
	rf_arm(rf);
}

static void rf_data(struct relayfront *rf, struct relayfront_chan *c, const uint8_t *b,
		    size_t n)
{
	uint8_t reply[RMSG_DATA_MAX];
	char name[96];
	size_t rlen = 0;
	pid_t pid = 0;
	int fd;

	rf->relayed_in++;
	if (c->pid > 0) {
		/* A full pair (the peer is slow) drops, like a full UDP queue. */
		if (c->fd >= 0 && send(c->fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("relay: to the peer: %s", strerror(errno));
		return;
	}
	rf->ops->name(rf->user, c->idx, name, sizeof(name));
	fd = tun_front_relayed(rf->front, c->chan, name, &c->cd, c->cdlen, b, n, reply,
			       sizeof(reply), &rlen, &pid);
	if (rlen)
		rf_send_data(rf, c->idx, c->chan, reply, rlen);
	if (fd <= 0)
		return;
	if (loop_add_fd(rf->l, fd, EPOLLIN, rf_on_peer, c) < 0) {
		close(fd);
		rf->ops->stop(rf->user, pid);	/* no way to reach it: its end is its exit */
		rf_end(rf, c, true);
		return;
	}
	/* The punches go on: the CD races a direct handshake beside this one. */
	c->fd = fd;
	c->pid = pid;
	rf_arm(rf);
}

void relayfront_input(struct relayfront *rf, unsigned idx, const void *buf, size_t len)
{
	struct relayfront_chan *c;
	struct rmsg m;

	if (rmsg_decode(&m, buf, len) < 0 || (m.type != RMSG_DATA && m.type != RMSG_CLOSE))
		return;
	c = rf_find(rf, idx, m.chan);
	if (!c)
		return;		/* not announced by this relay: dropped */
	if (m.type == RMSG_CLOSE) {
		char desc[200];

		log_info("relay: %s closed by the relay", rf_desc(rf, c, desc, sizeof(desc)));
		rf_end(rf, c, false);
		rf_arm(rf);
		return;
	}
	rf_data(rf, c, m.data, m.data_len);
}

void relayfront_peer_gone(struct relayfront *rf, pid_t pid)
{
	unsigned i;

	if (!rf->timer || pid <= 0)
		return;
	for (i = 0; i < RELAYFRONT_MAX; i++) {
		if (rf->c[i].used && rf->c[i].pid == pid) {
			rf->c[i].pid = 0;	/* reaped: not to be signalled */
			rf_end(rf, &rf->c[i], true);
		}
	}
	rf_arm(rf);
}

unsigned relayfront_count(const struct relayfront *rf)
{
	unsigned i, n = 0;

	for (i = 0; i < RELAYFRONT_MAX; i++)
		n += rf->c[i].used;
	return n;
}

int relayfront_init(struct relayfront *rf, struct loop *l, struct tun_front *front,
		    const struct relayfront_ops *ops, void *user)
{
	unsigned i;

	memset(rf, 0, sizeof(*rf));
	for (i = 0; i < RELAYFRONT_MAX; i++)
		rf->c[i].fd = -1;
	rf->l = l;
	rf->front = front;
	rf->ops = ops;
	rf->user = user;
	rf->timer = loop_timer_new(l, rf_on_timer, rf);
	return rf->timer ? 0 : -ENOMEM;
}

void relayfront_free(struct relayfront *rf)
{
	unsigned i;

	if (!rf->timer)
		return;
	for (i = 0; i < RELAYFRONT_MAX; i++)
		rf_end(rf, &rf->c[i], true);
	loop_timer_free(rf->timer);
	rf->timer = NULL;
}
