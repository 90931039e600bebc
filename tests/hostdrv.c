/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btsnoop.h"
#include "cursor.h"
#include "hci.h"
#include "hci_names.h"
#include "hostdrv.h"
#include "pktq.h"

#define HOSTDRV_MAX_PKTS	4096
#define HOSTDRV_MAX_BYTES	(8 * 1024 * 1024)

struct hostdrv {
	struct loop *l;
	hostdrv_send_fn send;
	void *send_user;
	int fd;
	struct h4_reader *rd;
	struct pktq rx;
	int timeout_ms;
	bool trace;
	bool overflow;
	struct snoop *snoop;
};

struct hostdrv *hostdrv_new(struct loop *l)
{
	struct hostdrv *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->l = l;
	d->fd = -1;
	d->timeout_ms = 5000;
	pktq_init(&d->rx, HOSTDRV_MAX_PKTS, HOSTDRV_MAX_BYTES);
	return d;
}

void hostdrv_free(struct hostdrv *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		loop_del_fd(d->l, d->fd);
	h4_reader_free(d->rd);
	pktq_clear(&d->rx);
	free(d);
}

void hostdrv_set_sender(struct hostdrv *d, hostdrv_send_fn fn, void *user)
{
	d->send = fn;
	d->send_user = user;
}

void hostdrv_set_timeout(struct hostdrv *d, int ms)
{
	d->timeout_ms = ms;
}

void hostdrv_set_trace(struct hostdrv *d, bool on)
{
	d->trace = on;
}

void hostdrv_set_snoop(struct hostdrv *d, struct snoop *s)
{
	d->snoop = s;
}

static void trace(struct hostdrv *d, char dir, const uint8_t *h4, size_t len)
{
	char s[160];

	if (d->snoop)
		snoop_write(d->snoop, h4, len, dir == '<', 0);
	if (!d->trace)
		return;
	hcistr_summary(s, sizeof(s), h4, len);
	fprintf(stderr, "# %c %s\n", dir, s);
}

void hostdrv_sink(const uint8_t *h4, size_t len, void *user)
{
	struct hostdrv *d = user;

	trace(d, '<', h4, len);
	if (pktq_push(&d->rx, h4, len) < 0)
		d->overflow = true;
}

static int on_pkt(const struct h4_pkt *p, void *user)
{
	hostdrv_sink(p->raw, p->raw_len, user);
	return 0;
}

static void on_fd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct hostdrv *d = user;
	uint8_t buf[4096];
	ssize_t n;

	(void)l;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			loop_del_fd(d->l, fd);
		return;
	}
	if (h4_reader_feed(d->rd, buf, (size_t)n, on_pkt, d) < 0)
		loop_del_fd(d->l, fd);
	(void)events;
}

int hostdrv_attach_fd(struct hostdrv *d, int fd)
{
	d->rd = h4_reader_new(0);
	if (!d->rd)
		return -ENOMEM;
	d->fd = fd;
	return loop_add_fd(d->l, fd, EPOLLIN, on_fd, d);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	unsigned spins = 0;

	/* Bounded: a peer that stops reading for ~5 s fails the send. */
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if ((errno != EAGAIN && errno != EINTR) || ++spins > 50)
				return -errno;
			poll(&pf, 1, 100);
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int hostdrv_send(struct hostdrv *d, const uint8_t *h4, size_t len)
{
	trace(d, '>', h4, len);
	if (d->send)
		return d->send(h4, len, d->send_user);
	if (d->fd >= 0)
		return write_all(d->fd, h4, len);
	return -ENOTCONN;
}

int hostdrv_cmd(struct hostdrv *d, uint16_t opcode, const void *param,
		size_t plen)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int n = h4_build_cmd(b, sizeof(b), opcode, param, plen);

	if (n < 0)
		return n;
	return hostdrv_send(d, b, (size_t)n);
}

int hostdrv_acl(struct hostdrv *d, uint16_t handle, uint8_t pb,
		const void *data, size_t len)
{
	uint8_t *b = malloc(1 + HCI_ACL_HDR + len);
	int n, r;

	if (!b)
		return -ENOMEM;
	n = h4_build_acl(b, 1 + HCI_ACL_HDR + len, handle, pb, 0, data, len);
	r = n < 0 ? n : hostdrv_send(d, b, (size_t)n);
	free(b);
	return r;
}

typedef bool (*match_fn)(const struct h4_pkt *p, const void *arg);

/* Take the first queued packet that matches (into *out), keeping order. */
static struct pkt *take(struct hostdrv *d, match_fn fn, const void *arg)
{
	struct pkt *p, *prev = NULL;
	struct h4_pkt hp;

	for (p = d->rx.head; p; prev = p, p = p->next) {
		if (h4_parse(&hp, p->data, p->len, 0) < 0 || !fn(&hp, arg))
			continue;
		if (prev)
			prev->next = p->next;
		else
			d->rx.head = p->next;
		if (d->rx.tail == p)
			d->rx.tail = prev;
		d->rx.count--;
		d->rx.bytes -= p->len;
		p->next = NULL;
		return p;
	}
	return NULL;
}

static struct pkt *wait_for(struct hostdrv *d, match_fn fn, const void *arg)
{
	uint64_t end = loop_now_us() + (uint64_t)d->timeout_ms * 1000;
	struct pkt *p;
	unsigned rounds;

	/* Bounded by the deadline (and a round cap against a spinning loop). */
	for (rounds = 0; rounds < 1000000; rounds++) {
		uint64_t now;

		p = take(d, fn, arg);
		if (p)
			return p;
		now = loop_now_us();
		if (now >= end)
			break;
		loop_iterate(d->l, (int)((end - now + 999) / 1000));
	}
	return NULL;
}

struct cc_arg {
	uint16_t op;
};

static bool match_cmd_reply(const struct h4_pkt *p, const void *arg)
{
	const struct cc_arg *a = arg;
	struct h4_cc cc;
	struct h4_cs cs;

	if (p->type != H4_EVT)
		return false;
	if (h4_parse_cc(p, &cc) == 0)
		return cc.opcode == a->op;
	if (h4_parse_cs(p, &cs) == 0)
		return cs.opcode == a->op;
	return false;
}

int hostdrv_cmd_sync2(struct hostdrv *d, uint16_t opcode, const void *param,
		      size_t plen, uint8_t *ret, size_t cap, size_t *rlen,
		      bool *was_cs)
{
	struct cc_arg a = { opcode };
	struct h4_pkt hp;
	struct h4_cc cc;
	struct h4_cs cs;
	struct pkt *p;
	int r;

	if (rlen)
		*rlen = 0;
	r = hostdrv_cmd(d, opcode, param, plen);
	if (r < 0)
		return r;
	p = wait_for(d, match_cmd_reply, &a);
	if (!p)
		return -ETIMEDOUT;
	h4_parse(&hp, p->data, p->len, 0);
	if (h4_parse_cc(&hp, &cc) == 0) {
		if (was_cs)
			*was_cs = false;
		r = cc.rlen ? cc.ret[0] : -EBADMSG;
		if (ret && cc.rlen > cap)
			r = -EMSGSIZE;
		else if (ret)
			memcpy(ret, cc.ret, cc.rlen);
		if (rlen)
			*rlen = cc.rlen;
	} else {
		h4_parse_cs(&hp, &cs);
		if (was_cs)
			*was_cs = true;
		r = cs.status;
	}
	pkt_free(p);
	return r;
}

int hostdrv_cmd_sync(struct hostdrv *d, uint16_t opcode, const void *param,
		     size_t plen, uint8_t *ret, size_t cap, size_t *rlen)
{
	return hostdrv_cmd_sync2(d, opcode, param, plen, ret, cap, rlen, NULL);
}

struct ev_arg {
	uint8_t code, sub;
};

static bool match_event(const struct h4_pkt *p, const void *arg)
{
	const struct ev_arg *a = arg;

	if (p->type != H4_EVT || p->evt.code != a->code)
		return false;
	if (a->code == 0x3e && a->sub)
		return p->evt.plen >= 1 && p->evt.param[0] == a->sub;
	return true;
}

int hostdrv_wait_event(struct hostdrv *d, uint8_t code, uint8_t sub,
		       uint8_t *buf, size_t cap, size_t *len)
{
	struct ev_arg a = { code, sub };
	struct h4_pkt hp;
	struct pkt *p = wait_for(d, match_event, &a);
	const uint8_t *q;
	size_t n;
	int r = 0;

	if (len)
		*len = 0;
	if (!p)
		return -ETIMEDOUT;
	h4_parse(&hp, p->data, p->len, 0);
	q = hp.evt.param;
	n = hp.evt.plen;
	if (code == 0x3e && n) {
		q++;
		n--;
	}
	if (buf) {
		if (n > cap)
			r = -EMSGSIZE;
		else
			memcpy(buf, q, n);
	}
	if (len)
		*len = n;
	pkt_free(p);
	return r;
}

bool hostdrv_has_event(struct hostdrv *d, uint8_t code, uint8_t sub)
{
	struct ev_arg a = { code, sub };
	struct pkt *p;
	struct h4_pkt hp;

	loop_iterate(d->l, 0);
	for (p = d->rx.head; p; p = p->next)
		if (h4_parse(&hp, p->data, p->len, 0) == 0 && match_event(&hp, &a))
			return true;
	return false;
}

static bool match_acl(const struct h4_pkt *p, const void *arg)
{
	const uint16_t *h = arg;

	return p->type == H4_ACL && (!h || p->acl.handle == *h);
}

int hostdrv_wait_acl(struct hostdrv *d, uint16_t *handle, uint8_t *pb,
		     uint8_t *buf, size_t cap, size_t *len)
{
	struct pkt *p = wait_for(d, match_acl, NULL);
	struct h4_pkt hp;
	int r = 0;

	if (!p)
		return -ETIMEDOUT;
	h4_parse(&hp, p->data, p->len, 0);
	if (handle)
		*handle = hp.acl.handle;
	if (pb)
		*pb = hp.acl.pb;
	if (hp.acl.dlen > cap)
		r = -EMSGSIZE;
	else if (buf)
		memcpy(buf, hp.acl.data, hp.acl.dlen);
	if (len)
		*len = hp.acl.dlen;
	pkt_free(p);
	return r;
}

int hostdrv_wait_l2cap(struct hostdrv *d, uint16_t handle, uint8_t *buf,
		       size_t cap, size_t *len)
{
	size_t have = 0, need = 0;
	unsigned frags;

	/* Bounded: one fragment per round, at most 256 fragments. */
	for (frags = 0; frags < 256; frags++) {
		struct pkt *p = wait_for(d, match_acl, &handle);
		struct h4_pkt hp;

		if (!p)
			return -ETIMEDOUT;
		h4_parse(&hp, p->data, p->len, 0);
		if (hp.acl.pb != HCI_PB_CONT)
			have = 0;
		if (have + hp.acl.dlen > cap) {
			pkt_free(p);
			return -EMSGSIZE;
		}
		memcpy(buf + have, hp.acl.data, hp.acl.dlen);
		have += hp.acl.dlen;
		pkt_free(p);
		if (have >= 4) {
			need = 4 + (size_t)get_le16(buf);
			if (have >= need) {
				*len = have;
				return have == need ? 0 : -EBADMSG;
			}
		}
	}
	return -E2BIG;
}

size_t hostdrv_pending(const struct hostdrv *d)
{
	return d->rx.count;
}

void hostdrv_run(struct hostdrv *d, int ms)
{
	uint64_t end = loop_now_us() + (uint64_t)ms * 1000;
	unsigned rounds;

	for (rounds = 0; rounds < 1000000; rounds++) {
		uint64_t now = loop_now_us();

		if (now >= end)
			break;
		loop_iterate(d->l, (int)((end - now + 999) / 1000));
	}
}

void hostdrv_clear(struct hostdrv *d)
{
	pktq_clear(&d->rx);
}
