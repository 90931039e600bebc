/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "homeid.h"
#include "log.h"
#include "relay.h"
#include "rsign.h"
#include "secmem.h"

/* Per-source buckets: a fixed table, so a flood of sources costs no memory. */
#define RELAY_SRC_SLOTS		4096
#define RELAY_SECRET_LEN	32
#define RELAY_CHAN_TRIES	8
/*
 * PEER again (doc/relay.md, "Connecting" step 3): while the home has sent
 * nothing on a channel, the CD's DATA on it brings a PEER with it, at most
 * every RELAY_PEER_AGAIN_MS and RELAY_PEER_AGAIN_MAX times. 500 ms is under
 * the DTLS client's first retransmission timer (1 s, RFC 6347 section
 * 4.2.4.1), so its retransmitted ClientHello carries the PEER a lost one
 * did not deliver; 4 times covers four losses in a row, and costs a home
 * at most 4 * 44 bytes a channel.
 */
#define RELAY_PEER_AGAIN_MS	500
#define RELAY_PEER_AGAIN_MAX	4

/*
 * A token bucket in thousandths of a token, so slow rates (2 CONNECTs a
 * second) refill smoothly between calls a few milliseconds apart.
 */
struct relay_tb {
	uint64_t milli;
	uint32_t last_ms;
};

struct relay_chan;

/* One registered home: about 120 bytes with its hash slot (doc/relay.md). */
struct relay_home {
	struct relay_home *next;	/* hash chain */
	struct relay_chan *chans;	/* this home's channels */
	struct relay_tb conn_tb;
	struct relay_tb bw_tb;
	struct rmsg_addr addr;		/* where the registration came from */
	uint8_t id[RMSG_ID_LEN];
	uint8_t token[RMSG_TOKEN_LEN];
	uint32_t seen_s;
	uint32_t nchans;
	/*
	 * REGISTER2: the registration certificate's notAfter, Unix time;
	 * the sweep drops the home once the relay's wall clock has passed
	 * it. RELAY_NO_END for REGISTER (the CA key signs: no end). 32
	 * bits keep the record at its size; an end past 2106 is taken as
	 * none.
	 */
	uint32_t not_after;
};

#define RELAY_NO_END	UINT32_MAX

struct relay_chan {
	struct relay_chan *next;	/* hash chain */
	struct relay_chan *hnext;	/* the home's list */
	struct relay_home *home;
	struct rmsg_addr cd;
	uint32_t id;
	uint32_t seen_s;
	uint32_t peer_ms;		/* when PEER last went to the home */
	uint8_t peer_again;		/* PEERs left to send again */
	bool home_spoke;		/* the home has sent DATA on it */
};

struct relay {
	struct relay_conf conf;
	struct relay_ops ops;
	void *user;
	uint8_t secret[RELAY_SECRET_LEN];
	uint64_t seed;
	struct relay_home **homes;
	size_t nhome_slots;		/* power of two */
	struct relay_chan **chans;
	size_t nchan_slots;		/* power of two */
	struct relay_tb src[RELAY_SRC_SLOTS];
	struct relay_tb refuse_tb;
	uint32_t now_s;
	uint32_t now_ms;
	struct relay_stats st;
};

void relay_conf_default(struct relay_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_homes = 100000;
	c->max_chans = 65536;
	c->chans_per_home = 8;
	/*
	 * 15 s: under the 30 s a Linux NAT keeps a UDP mapping that has seen
	 * no reply yet (nf_conntrack_udp_timeout) and far under RFC 4787
	 * REQ-5's 2 minutes; the gateway retries after 3 s without an ack,
	 * so one lost keepalive still leaves the mapping alive.
	 */
	c->keepalive_s = 15;
	c->expiry_s = 50;
	c->chan_idle_s = 120;
	c->cookie_s = 20;
	c->src_rate = 10;
	c->src_burst = 30;
	c->conn_rate = 2;
	c->conn_burst = 10;
	c->home_bps = 4u << 20;
	c->home_burst = 1u << 20;
	c->refuse_rate = 200;
	c->refuse_burst = 400;
}

/*
 * A seeded mixer (the finaliser of SplitMix64) for the hash tables and the
 * per-source slots: an outsider does not know the seed, so cannot aim many
 * sources or ids at one slot.
 */
static uint64_t relay_mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static uint64_t relay_hash(const struct relay *r, const uint8_t *p, size_t n)
{
	uint64_t h = r->seed, v;
	size_t i;

	for (i = 0; i < n; i += 8) {
		v = 0;
		memcpy(&v, p + i, n - i < 8 ? n - i : 8);
		h = relay_mix(h ^ v);
	}
	return h;
}

static bool relay_addr_eq(const struct rmsg_addr *a, const struct rmsg_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->a, b->a, sizeof(a->a)) == 0;
}

static bool relay_tb_take(struct relay_tb *tb, uint64_t cost, uint32_t rate,
			  uint32_t burst, uint32_t now_ms)
{
	uint64_t cap = (uint64_t)burst * 1000;

	/* u32 difference: correct across the 49-day wrap of now_ms. */
	tb->milli += (uint64_t)(uint32_t)(now_ms - tb->last_ms) * rate;
	if (tb->milli > cap)
		tb->milli = cap;
	tb->last_ms = now_ms;
	if (tb->milli < cost * 1000)
		return false;
	tb->milli -= cost * 1000;
	return true;
}

static void relay_tb_fill(struct relay_tb *tb, uint32_t burst, uint32_t now_ms)
{
	tb->milli = (uint64_t)burst * 1000;
	tb->last_ms = now_ms;
}

/*
 * The per-source bucket: by IPv4 address, or by IPv6 /64 (one subscriber
 * gets a whole /64, so counting addresses inside it would be no limit).
 * Ports are ignored: they are free to change. Two sources sharing a slot
 * only share a limit.
 */
static bool relay_src_take(struct relay *r, const struct rmsg_addr *a)
{
	uint8_t key[9];
	struct relay_tb *tb;

	key[0] = a->family;
	memcpy(key + 1, a->a, 8);
	if (a->family == 4)
		memset(key + 5, 0, 4);
	tb = &r->src[relay_hash(r, key, sizeof(key)) & (RELAY_SRC_SLOTS - 1)];
	return relay_tb_take(tb, 1, r->conf.src_rate, r->conf.src_burst, r->now_ms);
}

static void relay_send(struct relay *r, const struct rmsg_addr *to, const struct rmsg *m)
{
	uint8_t buf[RMSG_MAX];
	int n = rmsg_encode(m, buf, sizeof(buf));

	if (n < 0) {
		/* Only the engine's own bug gets here: say so, send nothing. */
		log_err("relay: cannot encode %s: %d", rmsg_type_name(m->type), n);
		return;
	}
	r->ops.send(r->user, to, buf, (size_t)n);
}

static void relay_addr_wire(uint8_t out[RMSG_ADDR_LEN], const struct rmsg_addr *a)
{
	out[0] = a->family;
	out[1] = 0;
	out[2] = (uint8_t)(a->port >> 8);
	out[3] = (uint8_t)a->port;
	memcpy(out + 4, a->a, 16);
}

/*
 * cookie = HMAC-SHA256(secret, type | source address | id | ts), first
 * 16 bytes: the relay keeps nothing for a HELLO and recognises its own
 * answer when it comes back from the same address (RFC 6347 4.2.1).
 */
static int relay_cookie(const struct relay *r, uint8_t type, const struct rmsg_addr *src,
			const uint8_t id[RMSG_ID_LEN], uint32_t ts,
			uint8_t out[RMSG_COOKIE_LEN])
{
	uint8_t in[1 + RMSG_ADDR_LEN + RMSG_ID_LEN + 4], mac[32];

	in[0] = type;
	relay_addr_wire(in + 1, src);
	memcpy(in + 1 + RMSG_ADDR_LEN, id, RMSG_ID_LEN);
	in[37] = (uint8_t)(ts >> 24);
	in[38] = (uint8_t)(ts >> 16);
	in[39] = (uint8_t)(ts >> 8);
	in[40] = (uint8_t)ts;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, r->secret, sizeof(r->secret),
			     in, sizeof(in), mac) < 0)
		return -EIO;
	memcpy(out, mac, RMSG_COOKIE_LEN);
	return 0;
}

static bool relay_cookie_ok(const struct relay *r, uint8_t type,
			    const struct rmsg_addr *src, const struct rmsg *m)
{
	uint8_t want[RMSG_COOKIE_LEN];

	/* Fresh: issued by this process, not in the future, not too old. */
	if (m->ts > r->now_s || r->now_s - m->ts > r->conf.cookie_s)
		return false;
	if (relay_cookie(r, type, src, m->id, m->ts, want) < 0)
		return false;
	/* Constant time: cookies and tokens are secrets an attacker may probe. */
	return secmem_is_equal(want, m->cookie, RMSG_COOKIE_LEN);
}

static struct relay_home **relay_home_slot(struct relay *r, const uint8_t id[RMSG_ID_LEN])
{
	return &r->homes[relay_hash(r, id, RMSG_ID_LEN) & (r->nhome_slots - 1)];
}

static struct relay_home *relay_home_find(struct relay *r, const uint8_t id[RMSG_ID_LEN])
{
	struct relay_home *h;

	for (h = *relay_home_slot(r, id); h; h = h->next)
		if (memcmp(h->id, id, RMSG_ID_LEN) == 0)
			return h;
	return NULL;
}

static struct relay_chan **relay_chan_slot(struct relay *r, uint32_t id)
{
	return &r->chans[relay_mix(r->seed ^ id) & (r->nchan_slots - 1)];
}

static struct relay_chan *relay_chan_find(struct relay *r, uint32_t id)
{
	struct relay_chan *c;

	for (c = *relay_chan_slot(r, id); c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void relay_chan_free(struct relay *r, struct relay_chan *c)
{
	struct relay_chan **pp;

	for (pp = relay_chan_slot(r, c->id); *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	for (pp = &c->home->chans; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->home->nchans--;
	r->st.chans--;
	free(c);
}

static void relay_home_free(struct relay *r, struct relay_home *h)
{
	struct relay_home **pp;

	while (h->chans)
		relay_chan_free(r, h->chans);
	for (pp = relay_home_slot(r, h->id); *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	explicit_bzero(h->token, sizeof(h->token));
	r->st.homes--;
	free(h);
}

/*
 * Refusals are cheap but not free: a global budget keeps them so, and the
 * callers log only refusals within it, so a flood cannot flood the log.
 * True if sent.
 */
static bool relay_refuse(struct relay *r, const struct rmsg_addr *to,
			 const uint8_t id[RMSG_ID_LEN], uint8_t code)
{
	struct rmsg m = { .type = RMSG_REFUSED, .code = code };

	if (!relay_tb_take(&r->refuse_tb, 1, r->conf.refuse_rate,
			   r->conf.refuse_burst, r->now_ms)) {
		r->st.dropped++;
		return false;
	}
	memcpy(m.id, id, RMSG_ID_LEN);
	r->st.refused++;
	relay_send(r, to, &m);
	return true;
}

static void relay_challenge(struct relay *r, const struct rmsg_addr *from,
			    const struct rmsg *in, uint8_t reply, uint8_t kind)
{
	struct rmsg m = { .type = reply, .ts = r->now_s };

	memcpy(m.id, in->id, RMSG_ID_LEN);
	if (relay_cookie(r, kind, from, in->id, m.ts, m.cookie) < 0) {
		r->st.dropped++;
		return;
	}
	relay_send(r, from, &m);
}

/* Unix time for certificate dates: the caller's clock, or the system's. */
static int64_t relay_wall_s(const struct relay *r)
{
	return r->ops.wall_s ? r->ops.wall_s(r->user) : (int64_t)time(NULL);
}

static void relay_on_register(struct relay *r, const struct rmsg_addr *from,
			      const struct rmsg *in)
{
	struct rmsg m = { .type = RMSG_REGISTERED };
	struct relay_home *h;
	char text[HOMEID_TEXT_LEN + 1];
	int64_t not_after = RSIGN_NO_END;
	int ret;

	homeid_to_text(in->id, text);
	/* The cookie first: no signature check for an unverified source. */
	if (!relay_cookie_ok(r, RMSG_REG_CHALLENGE, from, in)) {
		r->st.dropped++;
		return;
	}
	/*
	 * Either version, one answer: REFUSED(bad proof) whatever failed, at
	 * the REFUSED rate. A REGISTER2 costs the relay at most two
	 * signature checks, after the cookie and the source's bucket, and
	 * its cheap checks (id hash, parsing, purpose, dates) come first.
	 */
	ret = rsign_verify(in, relay_wall_s(r), &not_after);
	if (ret) {
		r->st.bad_proofs++;
		if (relay_refuse(r, from, in->id, RMSG_REFUSE_BAD_PROOF))
			log_notice("relay: registration of %s refused (%s): %s", text,
				   rmsg_type_name(in->type), rsign_why(ret));
		return;
	}
	h = relay_home_find(r, in->id);
	if (!h) {
		if (r->st.homes >= r->conf.max_homes) {
			if (relay_refuse(r, from, in->id, RMSG_REFUSE_LIMIT))
				log_warn("relay: registration of %s refused: %u "
					 "homes registered, the maximum (raise -m)",
					 text, r->conf.max_homes);
			return;
		}
		h = calloc(1, sizeof(*h));
		if (!h) {
			r->st.dropped++;
			return;
		}
		memcpy(h->id, in->id, RMSG_ID_LEN);
		relay_tb_fill(&h->conn_tb, r->conf.conn_burst, r->now_ms);
		relay_tb_fill(&h->bw_tb, r->conf.home_burst, r->now_ms);
		h->next = *relay_home_slot(r, in->id);
		*relay_home_slot(r, in->id) = h;
		r->st.homes++;
	}
	/*
	 * A proven re-registration replaces the address (the home's NAT
	 * changed its mapping, or the gateway restarted) and the token; its
	 * channels follow the home to the new address.
	 */
	h->addr = *from;
	h->seen_s = r->now_s;
	/* A re-registration's proof sets the end, renewed or none (v1). */
	h->not_after = not_after < 0 ? 0 : not_after > RELAY_NO_END ? RELAY_NO_END :
		       (uint32_t)not_after;
	gnutls_rnd(GNUTLS_RND_NONCE, h->token, sizeof(h->token));
	r->st.registered++;
	log_info("relay: home %s registered (%s)", text,
		 in->type == RMSG_REGISTER2 ? "certified registration key" : "CA key");
	memcpy(m.id, h->id, RMSG_ID_LEN);
	memcpy(m.token, h->token, RMSG_TOKEN_LEN);
	m.keepalive_s = r->conf.keepalive_s;
	m.expiry_s = r->conf.expiry_s;
	m.addr = *from;
	relay_send(r, from, &m);
}

static void relay_on_keepalive(struct relay *r, const struct rmsg_addr *from,
			       const struct rmsg *in)
{
	struct rmsg m = { 0 };
	struct relay_home *h = relay_home_find(r, in->id);

	memcpy(m.id, in->id, RMSG_ID_LEN);
	if (h && relay_addr_eq(&h->addr, from) &&
	    secmem_is_equal(h->token, in->token, RMSG_TOKEN_LEN)) {
		h->seen_s = r->now_s;
		m.type = RMSG_KEEPALIVE_ACK;
		relay_send(r, from, &m);
		return;
	}
	/*
	 * Unknown here (the relay restarted, the registration expired, or
	 * the home's NAT moved it): ask for a new registration. 20 bytes for
	 * a 28-byte request, so not an amplifier; rate-limited per source.
	 */
	if (!relay_src_take(r, from)) {
		r->st.dropped++;
		return;
	}
	m.type = RMSG_REREGISTER;
	relay_send(r, from, &m);
}

static struct relay_chan *relay_chan_new(struct relay *r, struct relay_home *h,
					 const struct rmsg_addr *cd)
{
	struct relay_chan *c;
	uint32_t id = 0;
	int i;

	for (i = 0; i < RELAY_CHAN_TRIES; i++) {
		if (gnutls_rnd(GNUTLS_RND_NONCE, &id, sizeof(id)) < 0)
			return NULL;
		if (id != 0 && !relay_chan_find(r, id))
			break;
		id = 0;
	}
	if (id == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	c->home = h;
	c->cd = *cd;
	c->seen_s = r->now_s;
	c->peer_again = RELAY_PEER_AGAIN_MAX;
	c->next = *relay_chan_slot(r, id);
	*relay_chan_slot(r, id) = c;
	c->hnext = h->chans;
	h->chans = c;
	h->nchans++;
	r->st.chans++;
	return c;
}

/* PEER(channel, the CD's reflexive address) to the channel's home. */
static void relay_send_peer(struct relay *r, struct relay_chan *c)
{
	struct rmsg m = { .type = RMSG_PEER };

	memcpy(m.id, c->home->id, RMSG_ID_LEN);
	m.chan = c->id;
	m.addr = c->cd;
	c->peer_ms = r->now_ms;
	relay_send(r, &c->home->addr, &m);
}

static void relay_on_connect(struct relay *r, const struct rmsg_addr *from,
			     const struct rmsg *in)
{
	struct rmsg to_cd = { .type = RMSG_CONNECTED };
	struct relay_home *h;
	struct relay_chan *c;

	if (!relay_cookie_ok(r, RMSG_CONN_CHALLENGE, from, in)) {
		r->st.dropped++;
		return;
	}
	h = relay_home_find(r, in->id);
	if (!h) {
		/* The same answer for any id not registered here. */
		relay_refuse(r, from, in->id, RMSG_REFUSE_UNAVAILABLE);
		return;
	}
	/* A retransmitted CONNECT gets the same channel again. */
	for (c = h->chans; c; c = c->hnext)
		if (relay_addr_eq(&c->cd, from))
			break;
	if (!c) {
		if (!relay_tb_take(&h->conn_tb, 1, r->conf.conn_rate,
				   r->conf.conn_burst, r->now_ms) ||
		    h->nchans >= r->conf.chans_per_home ||
		    r->st.chans >= r->conf.max_chans) {
			relay_refuse(r, from, in->id, RMSG_REFUSE_LIMIT);
			return;
		}
		c = relay_chan_new(r, h, from);
		if (!c) {
			relay_refuse(r, from, in->id, RMSG_REFUSE_LIMIT);
			return;
		}
	}
	c->seen_s = r->now_s;
	/* Each side learns the other's reflexive address: both can punch. */
	memcpy(to_cd.id, h->id, RMSG_ID_LEN);
	to_cd.chan = c->id;
	to_cd.addr = h->addr;
	relay_send_peer(r, c);
	relay_send(r, from, &to_cd);
}

/*
 * The other end of a channel for a datagram from "from": the home for its
 * CD, the CD for its home, NULL for anyone else.
 */
static const struct rmsg_addr *relay_chan_other_end(const struct relay_chan *c,
						     const struct rmsg_addr *from)
{
	if (relay_addr_eq(from, &c->cd))
		return &c->home->addr;
	if (relay_addr_eq(from, &c->home->addr))
		return &c->cd;
	return NULL;
}

/*
 * DATA passes unchanged, the whole datagram, from the channel's CD to its
 * home's registered address or back; from any other source it is dropped
 * without an answer (no reflection, no oracle).
 *
 * The one PEER sent at CONNECT may be lost, and the CD, told CONNECTED,
 * does not CONNECT again: until the home has sent on the channel, the CD's
 * DATA takes a PEER along (before it, so the home knows the channel when
 * the DATA arrives), rate-limited and bounded (RELAY_PEER_AGAIN_*). Only
 * to the registered home, which proved its address: nothing goes to an
 * unverified one. A home that got both PEERs takes the second as a repeat.
 */
static void relay_on_data(struct relay *r, const struct rmsg_addr *from,
			  const struct rmsg *in, const void *buf, size_t len)
{
	struct relay_chan *c = relay_chan_find(r, in->chan);
	const struct rmsg_addr *to = c ? relay_chan_other_end(c, from) : NULL;

	if (!to) {
		r->st.dropped++;
		return;
	}
	if (!relay_tb_take(&c->home->bw_tb, len, r->conf.home_bps,
			   r->conf.home_burst, r->now_ms)) {
		r->st.dropped++;
		return;
	}
	c->seen_s = r->now_s;
	if (to == &c->cd)
		c->home_spoke = true;
	else if (!c->home_spoke && c->peer_again &&
		 (uint32_t)(r->now_ms - c->peer_ms) >= RELAY_PEER_AGAIN_MS) {
		c->peer_again--;
		r->st.peers_again++;
		relay_send_peer(r, c);
	}
	r->st.relayed_pkts++;
	r->st.relayed_bytes += len;
	r->ops.send(r->user, to, buf, len);
}

static void relay_on_close(struct relay *r, const struct rmsg_addr *from,
			   const struct rmsg *in, const void *buf, size_t len)
{
	struct relay_chan *c = relay_chan_find(r, in->chan);
	const struct rmsg_addr *to = c ? relay_chan_other_end(c, from) : NULL;

	if (!to) {
		r->st.dropped++;
		return;
	}
	r->ops.send(r->user, to, buf, len);
	relay_chan_free(r, c);
}

static void relay_clock(struct relay *r, uint64_t now_us)
{
	r->now_s = (uint32_t)(now_us / 1000000);
	r->now_ms = (uint32_t)(now_us / 1000);
}

void relay_input(struct relay *r, const struct rmsg_addr *from, const void *buf,
		 size_t len, uint64_t now_us)
{
	struct rmsg m;

	relay_clock(r, now_us);
	if (rmsg_decode(&m, buf, len) < 0) {
		r->st.dropped++;
		return;
	}
	switch (m.type) {
	case RMSG_DATA:
		relay_on_data(r, from, &m, buf, len);
		return;
	case RMSG_KEEPALIVE:
		/* Charged to the source only if not a known registration. */
		relay_on_keepalive(r, from, &m);
		return;
	case RMSG_CLOSE:
		relay_on_close(r, from, &m, buf, len);
		return;
	case RMSG_REG_HELLO:
	case RMSG_REGISTER:
	case RMSG_REGISTER2:
	case RMSG_CONN_HELLO:
	case RMSG_CONNECT:
		break;
	default:
		/* The relay's own message types are never accepted from outside. */
		r->st.dropped++;
		return;
	}
	if (!relay_src_take(r, from)) {
		r->st.dropped++;
		return;
	}
	switch (m.type) {
	case RMSG_REG_HELLO:
		relay_challenge(r, from, &m, RMSG_REG_CHALLENGE, RMSG_REG_CHALLENGE);
		break;
	case RMSG_REGISTER:
	case RMSG_REGISTER2:
		relay_on_register(r, from, &m);
		break;
	case RMSG_CONN_HELLO:
		relay_challenge(r, from, &m, RMSG_CONN_CHALLENGE, RMSG_CONN_CHALLENGE);
		break;
	case RMSG_CONNECT:
		relay_on_connect(r, from, &m);
		break;
	}
}

/*
 * A REGISTER2 home past its certificate's end (doc/relay.md, "Registration
 * key"): its keepalives prove only that the registration key signed once,
 * and that key's authority ended with the certificate, so the home goes.
 * Its gateway hears REREGISTER at its next keepalive and registers again:
 * with a renewed certificate it is back one round trip later; with the
 * expired one it is refused, as its own log already says.
 */
static bool relay_home_cert_ended(const struct relay_home *h, int64_t wall_s)
{
	char text[HOMEID_TEXT_LEN + 1], when[32];
	time_t t = (time_t)h->not_after;
	struct tm tm;

	if (h->not_after == RELAY_NO_END || wall_s <= (int64_t)h->not_after)
		return false;
	homeid_to_text(h->id, text);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "%u", h->not_after);
	log_notice("relay: home %s dropped: its registration certificate ended on %s; "
		   "its gateway must register with a renewed one (bgw-authdb ca relay-key)",
		   text, when);
	return true;
}

void relay_tick(struct relay *r, uint64_t now_us)
{
	struct relay_home *h, *hn;
	struct relay_chan *c, *cn;
	char text[HOMEID_TEXT_LEN + 1];
	int64_t wall_s;
	size_t i;

	relay_clock(r, now_us);
	/*
	 * Two clocks: keepalives and channels run on the caller's monotonic
	 * now_us; certificate ends are dates, on the wall clock (ops.wall_s).
	 */
	wall_s = relay_wall_s(r);
	for (i = 0; i < r->nhome_slots; i++)
		for (h = r->homes[i]; h; h = hn) {
			hn = h->next;
			if (r->now_s - h->seen_s > r->conf.expiry_s) {
				homeid_to_text(h->id, text);
				log_info("relay: home %s expired (no keepalive "
					 "for %u s)", text, r->conf.expiry_s);
				relay_home_free(r, h);
				continue;
			}
			if (relay_home_cert_ended(h, wall_s)) {
				relay_home_free(r, h);
				continue;
			}
			for (c = h->chans; c; c = cn) {
				cn = c->hnext;
				if (r->now_s - c->seen_s > r->conf.chan_idle_s)
					relay_chan_free(r, c);
			}
		}
}

static size_t relay_pow2(uint32_t n)
{
	size_t s = 16;

	while (s < n)
		s <<= 1;
	return s;
}

struct relay *relay_new(const struct relay_conf *conf, const struct relay_ops *ops,
			void *user, uint64_t now_us)
{
	struct relay *r;
	size_t i;

	if (!conf || !ops || !ops->send || conf->max_homes == 0 ||
	    conf->max_homes > (1u << 24) || conf->max_chans == 0 ||
	    conf->max_chans > (1u << 24) || conf->chans_per_home == 0 ||
	    conf->keepalive_s == 0 || conf->expiry_s <= conf->keepalive_s ||
	    conf->cookie_s == 0 || conf->chan_idle_s == 0 ||
	    conf->src_rate == 0 || conf->src_burst == 0 || conf->conn_rate == 0 ||
	    conf->conn_burst == 0 || conf->home_bps == 0 ||
	    conf->home_burst < RMSG_MAX || conf->refuse_rate == 0 ||
	    conf->refuse_burst == 0) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->conf = *conf;
	r->ops = *ops;
	r->user = user;
	r->nhome_slots = relay_pow2(conf->max_homes);
	r->nchan_slots = relay_pow2(conf->max_chans);
	r->homes = calloc(r->nhome_slots, sizeof(*r->homes));
	r->chans = calloc(r->nchan_slots, sizeof(*r->chans));
	if (!r->homes || !r->chans ||
	    gnutls_rnd(GNUTLS_RND_KEY, r->secret, sizeof(r->secret)) < 0 ||
	    gnutls_rnd(GNUTLS_RND_NONCE, &r->seed, sizeof(r->seed)) < 0) {
		relay_free(r);
		errno = ENOMEM;
		return NULL;
	}
	relay_clock(r, now_us);
	relay_tb_fill(&r->refuse_tb, conf->refuse_burst, r->now_ms);
	for (i = 0; i < RELAY_SRC_SLOTS; i++)
		relay_tb_fill(&r->src[i], conf->src_burst, r->now_ms);
	return r;
}

void relay_free(struct relay *r)
{
	size_t i;

	if (!r)
		return;
	if (r->homes)
		for (i = 0; i < r->nhome_slots; i++)
			while (r->homes[i])
				relay_home_free(r, r->homes[i]);
	free(r->homes);
	free(r->chans);
	explicit_bzero(r->secret, sizeof(r->secret));
	free(r);
}

void relay_get_stats(const struct relay *r, struct relay_stats *s)
{
	*s = r->st;
	s->mem_bytes = sizeof(*r) + r->nhome_slots * sizeof(*r->homes) +
		       r->nchan_slots * sizeof(*r->chans) +
		       (uint64_t)r->st.homes * sizeof(struct relay_home) +
		       (uint64_t)r->st.chans * sizeof(struct relay_chan);
}
