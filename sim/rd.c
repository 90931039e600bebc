/* SPDX-License-Identifier: MIT */
/*
 * What a simulated remote device (RD) does once connected: the upper
 * layers a real device runs above its link layer.
 *  - L2CAP signalling (Core Vol 3 Part A 4): echo (so l2ping works),
 *    information requests; connection requests are refused (no PSMs).
 *  - ATT/GATT server (Core Vol 3 Parts F and G) over the fixed ATT channel
 *    of an LE link: GAP and GATT services plus the scenario's services.
 *  - SMP responder (Core Vol 3 Part H) on LE: rd_smp.c; over BR/EDR
 *    pairing is refused (Pairing Not Supported).
 * All input is an L2CAP PDU from a host, i.e. untrusted: every length is
 * checked with a cursor before use.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "log.h"
#include "sim_int.h"
#include "smp_defs.h"

/* Fixed channel ids (Core Vol 3 Part A 2.1). */
#define CID_SIG		0x0001
#define CID_ATT		0x0004
#define CID_LE_SIG	0x0005

#define SIM_PDU_MAX	1024
#define ATT_MTU_MIN	23
#define ATT_MTU_SERVER	185
#define ATT_MAX_ATTRS	64

/* ---------------------------------------------------------------- link */

struct att_attr {
	uint16_t handle;
	uint16_t type;
	uint16_t end;		/* service declarations: group end */
	uint8_t inl[5];
	uint8_t inl_len;
	const uint8_t *ptr;	/* read-only value (name) */
	size_t ptr_len;
	struct sim_char *ch;	/* characteristic value */
	uint8_t *cccd;		/* client characteristic configuration */
};

struct sim_link {
	struct sim_air *air;
	struct sim_rd *rd;
	bool le;
	struct bdaddr ia;
	uint8_t iat;
	sim_link_send_fn send;
	void *user;
	uint16_t mtu;
	size_t nattr;
	struct att_attr attr[ATT_MAX_ATTRS];
	uint8_t cccd[SIM_MAX_CHARS][2];
	uint8_t gap_appearance[2];
	bool encrypted;		/* the controller encrypted the link */
	struct sim_smp *smp;	/* LE: the Security Manager */
};

static void link_send(struct sim_link *k, uint16_t cid, const uint8_t *p,
		      size_t n)
{
	uint8_t pdu[4 + SIM_PDU_MAX];

	if (n > SIM_PDU_MAX)
		return;
	put_le16(pdu, (uint16_t)n);
	put_le16(pdu + 2, cid);
	memcpy(pdu + 4, p, n);
	k->send(pdu, n + 4, k->user);
}

static struct att_attr *attr_add(struct sim_link *k, uint16_t type)
{
	struct att_attr *a;

	if (k->nattr >= ATT_MAX_ATTRS)
		return NULL;
	a = &k->attr[k->nattr];
	memset(a, 0, sizeof(*a));
	a->handle = (uint16_t)(k->nattr + 1);
	a->type = type;
	k->nattr++;
	return a;
}

static struct att_attr *svc_add(struct sim_link *k, uint16_t uuid)
{
	struct att_attr *a = attr_add(k, 0x2800);

	if (a) {
		put_le16(a->inl, uuid);
		a->inl_len = 2;
	}
	return a;
}

static struct att_attr *char_add(struct sim_link *k, uint16_t uuid, uint8_t props)
{
	struct att_attr *d = attr_add(k, 0x2803), *v;

	if (!d)
		return NULL;
	v = attr_add(k, uuid);
	if (!v) {
		k->nattr--;
		return NULL;
	}
	d->inl[0] = props & ~SIM_PROP_ENCRYPT;
	put_le16(d->inl + 1, v->handle);
	put_le16(d->inl + 3, uuid);
	d->inl_len = 5;
	return v;
}

static void svc_close(struct sim_link *k, struct att_attr *svc)
{
	if (svc)
		svc->end = (uint16_t)k->nattr;
}

/* The GATT database: GAP (0x1800), GATT (0x1801), then the scenario's. */
static void gatt_build(struct sim_link *k)
{
	const struct sim_rd_cfg *c = k->rd->cfg;
	struct att_attr *s, *v;
	size_t i, j;

	s = svc_add(k, 0x1800);
	v = char_add(k, 0x2a00, SIM_PROP_READ);
	if (v) {
		v->ptr = (const uint8_t *)c->name;
		v->ptr_len = strlen(c->name);
	}
	v = char_add(k, 0x2a01, SIM_PROP_READ);
	if (v) {
		put_le16(k->gap_appearance, c->appearance);
		v->ptr = k->gap_appearance;
		v->ptr_len = 2;
	}
	svc_close(k, s);
	s = svc_add(k, 0x1801);
	svc_close(k, s);
	for (i = 0; i < c->n_services; i++) {
		s = svc_add(k, c->services[i]);
		for (j = 0; j < c->n_chars; j++) {
			struct sim_char *ch = &k->rd->cfg->chars[j];

			if (ch->svc != i)
				continue;
			v = char_add(k, ch->uuid, ch->props);
			if (!v)
				break;
			v->ch = ch;
			if (ch->props & SIM_PROP_NOTIFY) {
				struct att_attr *cc = attr_add(k, 0x2902);

				if (cc)
					cc->cccd = k->cccd[j];
			}
		}
		svc_close(k, s);
	}
}

static void smp_to_link(const uint8_t *p, size_t n, void *user)
{
	link_send(user, CID_SMP, p, n);
}

struct sim_link *sim_link_new(struct sim_air *a, struct sim_rd *rd, bool le,
			      const struct bdaddr *ia, uint8_t iat,
			      sim_link_send_fn send, void *user)
{
	struct sim_link *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->air = a;
	k->rd = rd;
	k->le = le;
	k->ia = *ia;
	k->iat = iat;
	k->send = send;
	k->user = user;
	k->mtu = ATT_MTU_MIN;
	if (le) {
		k->smp = sim_smp_new(a, rd, ia, iat, smp_to_link, k);
		if (!k->smp) {
			free(k);
			return NULL;
		}
		gatt_build(k);
	}
	return k;
}

void sim_link_free(struct sim_link *k)
{
	if (!k)
		return;
	sim_smp_free(k->smp);
	free(k);
}

/* ---------------------------------------------------------------- L2CAP */

static void sig_reply(struct sim_link *k, uint16_t cid, uint8_t code,
		      uint8_t ident, const uint8_t *data, size_t n)
{
	uint8_t b[4 + SIM_PDU_MAX];

	if (n > SIM_PDU_MAX - 4)
		return;
	b[0] = code;
	b[1] = ident;
	put_le16(b + 2, (uint16_t)n);
	memcpy(b + 4, data, n);
	link_send(k, cid, b, n + 4);
}

static void sig_reject(struct sim_link *k, uint16_t cid, uint8_t ident)
{
	uint8_t r[2] = { 0x00, 0x00 };	/* Command not understood */

	sig_reply(k, cid, 0x01, ident, r, 2);
}

/* One signalling command (Core Vol 3 Part A 4). */
static void sig_cmd(struct sim_link *k, uint16_t cid, uint8_t code,
		    uint8_t ident, struct cur *d)
{
	uint8_t r[16];
	uint16_t a, b;

	switch (code) {
	case 0x08:	/* Echo Request: BR/EDR only (4.8) */
		if (cid != CID_SIG)
			break;
		sig_reply(k, cid, 0x09, ident, d->p + d->off, cur_left(d));
		return;
	case 0x0a:	/* Information Request (4.10) */
		if (cid != CID_SIG)
			break;
		a = cur_le16(d);
		if (!cur_is_done(d))
			break;
		put_le16(r, a);
		if (a == 0x0001) {		/* connectionless MTU */
			put_le16(r + 2, 0x0000);
			put_le16(r + 4, 672);
			sig_reply(k, cid, 0x0b, ident, r, 6);
		} else if (a == 0x0002) {	/* extended features: none */
			put_le16(r + 2, 0x0000);
			put_le32(r + 4, 0);
			sig_reply(k, cid, 0x0b, ident, r, 8);
		} else {
			put_le16(r + 2, 0x0001);	/* not supported */
			sig_reply(k, cid, 0x0b, ident, r, 4);
		}
		return;
	case 0x02:	/* Connection Request: no PSM is offered (4.2) */
		if (cid != CID_SIG)
			break;
		a = cur_le16(d);
		b = cur_le16(d);
		if (!cur_is_done(d))
			break;
		(void)a;
		put_le16(r, 0x0000);
		put_le16(r + 2, b);
		put_le16(r + 4, 0x0002);	/* PSM not supported */
		put_le16(r + 6, 0x0000);
		sig_reply(k, cid, 0x03, ident, r, 8);
		return;
	case 0x14:	/* LE Credit Based Connection Request (4.22) */
		if (cid != CID_LE_SIG)
			break;
		memset(r, 0, 10);
		put_le16(r + 8, 0x0002);	/* SPSM not supported */
		sig_reply(k, cid, 0x15, ident, r, 10);
		return;
	case 0x06:	/* Disconnection Request (4.6): echo the cids back */
		a = cur_le16(d);
		b = cur_le16(d);
		if (!cur_is_done(d))
			break;
		put_le16(r, a);
		put_le16(r + 2, b);
		sig_reply(k, cid, 0x07, ident, r, 4);
		return;
	case 0x01:	/* Command Reject */
	case 0x09:	/* responses to nothing we asked: ignore */
	case 0x0b:
	case 0x13:
		return;
	default:
		break;
	}
	sig_reject(k, cid, ident);
}

static void sig_input(struct sim_link *k, uint16_t cid, struct cur *c)
{
	unsigned n;

	/* BR/EDR may pack several commands in one PDU; LE one (4). Bounded:
	 * each round consumes at least the 4-byte header. */
	for (n = 0; n < 64 && cur_left(c) > 0; n++) {
		uint8_t code = cur_u8(c), ident = cur_u8(c);
		uint16_t len = cur_le16(c);
		struct cur d;

		if (!cur_is_ok(c) || len > cur_left(c)) {
			log_debug("sim: RD %s: malformed signalling PDU", k->rd->cfg->id);
			return;
		}
		d = cur_sub(c, len);
		sig_cmd(k, cid, code, ident, &d);
		if (cid == CID_LE_SIG)
			return;
	}
}

/* ---------------------------------------------------------------- ATT */

static void att_error(struct sim_link *k, uint8_t req, uint16_t handle,
		      uint8_t code)
{
	uint8_t b[5];

	b[0] = 0x01;
	b[1] = req;
	put_le16(b + 2, handle);
	b[4] = code;
	link_send(k, CID_ATT, b, 5);
}

static void attr_value(const struct att_attr *a, const uint8_t **p, size_t *n)
{
	if (a->ch) {
		*p = a->ch->value;
		*n = a->ch->len;
	} else if (a->cccd) {
		*p = a->cccd;
		*n = 2;
	} else if (a->ptr) {
		*p = a->ptr;
		*n = a->ptr_len;
	} else {
		*p = a->inl;
		*n = a->inl_len;
	}
}

static bool attr_readable(const struct att_attr *a)
{
	return !a->ch || (a->ch->props & SIM_PROP_READ);
}

/* The value needs encryption the link does not have. */
static bool attr_needs_enc(const struct sim_link *k, const struct att_attr *a)
{
	return a->ch && (a->ch->props & SIM_PROP_ENCRYPT) && !k->encrypted;
}

/* A UUID in a request: 2 bytes, or 16 in the Bluetooth base (Vol 3 Part B 2.5.1). */
static int att_uuid(struct cur *c, size_t n, uint16_t *out)
{
	static const uint8_t base[12] = { 0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00,
					  0x00, 0x80, 0x00, 0x10, 0x00, 0x00 };
	const uint8_t *p;

	if (n == 2) {
		*out = cur_le16(c);
		return cur_is_ok(c) ? 0 : -EBADMSG;
	}
	if (n != 16)
		return -EBADMSG;
	p = cur_bytes(c, 16);
	if (!p)
		return -EBADMSG;
	if (memcmp(p, base, 12) || p[14] || p[15]) {
		*out = 0;	/* a 128-bit UUID: nothing here has one */
		return 1;
	}
	*out = get_le16(p + 12);
	return 0;
}

static bool range_ok(struct sim_link *k, uint8_t op, uint16_t s, uint16_t e)
{
	if (s == 0 || s > e) {
		att_error(k, op, s, 0x01);	/* Invalid Handle */
		return false;
	}
	return true;
}

static void att_input(struct sim_link *k, struct cur *c)
{
	uint8_t op = cur_u8(c), b[ATT_MTU_SERVER];
	uint16_t s, e, h, u, off, cnt = 0;
	struct wbuf w;
	size_t i, n, elen = 0;
	const uint8_t *v;
	int ur;

	if (!cur_is_ok(c))
		return;
	wbuf_init(&w, b, k->mtu);
	switch (op) {
	case 0x02:	/* Exchange MTU (Vol 3 Part F 3.4.2.1) */
		u = cur_le16(c);
		if (!cur_is_done(c))
			goto invalid_pdu;
		k->mtu = u < ATT_MTU_MIN ? ATT_MTU_MIN :
			 u > ATT_MTU_SERVER ? ATT_MTU_SERVER : u;
		b[0] = 0x03;
		put_le16(b + 1, ATT_MTU_SERVER);
		link_send(k, CID_ATT, b, 3);
		return;
	case 0x04:	/* Find Information */
		s = cur_le16(c);
		e = cur_le16(c);
		if (!cur_is_done(c))
			goto invalid_pdu;
		if (!range_ok(k, op, s, e))
			return;
		wbuf_u8(&w, 0x05);
		wbuf_u8(&w, 0x01);
		for (i = s - 1; i < k->nattr && i < e; i++) {
			if (w.len + 4 > w.cap)
				break;
			wbuf_le16(&w, k->attr[i].handle);
			wbuf_le16(&w, k->attr[i].type);
			cnt++;
		}
		break;
	case 0x06:	/* Find By Type Value: primary service by UUID */
		s = cur_le16(c);
		e = cur_le16(c);
		u = cur_le16(c);
		if (!cur_is_ok(c))
			goto invalid_pdu;
		if (!range_ok(k, op, s, e))
			return;
		n = cur_left(c);
		v = cur_bytes(c, n);
		wbuf_u8(&w, 0x07);
		for (i = s - 1; u == 0x2800 && i < k->nattr && i < e; i++) {
			struct att_attr *a = &k->attr[i];

			if (a->type != 0x2800 || n != 2 || memcmp(a->inl, v, 2))
				continue;
			if (w.len + 4 > w.cap)
				break;
			wbuf_le16(&w, a->handle);
			wbuf_le16(&w, a->end);
			cnt++;
		}
		break;
	case 0x08:	/* Read By Type */
	case 0x10:	/* Read By Group Type */
		s = cur_le16(c);
		e = cur_le16(c);
		ur = att_uuid(c, cur_left(c), &u);
		if (ur < 0 || !cur_is_done(c))
			goto invalid_pdu;
		if (!range_ok(k, op, s, e))
			return;
		if (op == 0x10 && u != 0x2800 && u != 0x2801) {
			att_error(k, op, s, 0x10);	/* Unsupported Group Type */
			return;
		}
		wbuf_u8(&w, (uint8_t)(op + 1));
		wbuf_u8(&w, 0);		/* length, set below */
		for (i = s - 1; ur == 0 && i < k->nattr && i < e; i++) {
			struct att_attr *a = &k->attr[i];
			size_t hdr = op == 0x10 ? 4 : 2, m;

			if (a->type != u)
				continue;
			if (!attr_readable(a) || attr_needs_enc(k, a)) {
				if (!cnt) {
					att_error(k, op, a->handle,
						  attr_readable(a) ? 0x0f : 0x02);
					return;
				}
				break;
			}
			attr_value(a, &v, &n);
			/* Entries share one length; values cut to fit the
			 * MTU as the spec says (Vol 3 Part F 3.4.4.2). */
			m = n;
			if (m > (size_t)k->mtu - 2 - hdr)
				m = k->mtu - 2 - hdr;
			if (m > 255 - hdr)
				m = 255 - hdr;
			if (cnt && hdr + m != elen)
				break;
			if (w.len + hdr + m > w.cap)
				break;
			elen = hdr + m;
			wbuf_le16(&w, a->handle);
			if (op == 0x10)
				wbuf_le16(&w, a->end);
			wbuf_bytes(&w, v, m);
			cnt++;
		}
		b[1] = (uint8_t)elen;
		break;
	case 0x0a:	/* Read */
	case 0x0c:	/* Read Blob */
		h = cur_le16(c);
		off = op == 0x0c ? cur_le16(c) : 0;
		if (!cur_is_done(c))
			goto invalid_pdu;
		if (h == 0 || h > k->nattr) {
			att_error(k, op, h, 0x01);
			return;
		}
		if (!attr_readable(&k->attr[h - 1])) {
			att_error(k, op, h, 0x02);	/* Read Not Permitted */
			return;
		}
		if (attr_needs_enc(k, &k->attr[h - 1])) {
			att_error(k, op, h, 0x0f);	/* Insufficient Encryption */
			return;
		}
		attr_value(&k->attr[h - 1], &v, &n);
		if (off > n) {
			att_error(k, op, h, 0x07);	/* Invalid Offset */
			return;
		}
		n -= off;
		if (n > (size_t)k->mtu - 1)
			n = k->mtu - 1;
		b[0] = (uint8_t)(op + 1);
		memcpy(b + 1, v + off, n);
		link_send(k, CID_ATT, b, n + 1);
		return;
	case 0x12:	/* Write Request */
	case 0x52:	/* Write Command: no response, errors dropped */
		h = cur_le16(c);
		if (!cur_is_ok(c))
			goto invalid_pdu;
		n = cur_left(c);
		v = cur_bytes(c, n);
		if (h == 0 || h > k->nattr) {
			if (op == 0x12)
				att_error(k, op, h, 0x01);
			return;
		}
		{
			struct att_attr *a = &k->attr[h - 1];

			if (attr_needs_enc(k, a)) {
				if (op == 0x12)
					att_error(k, op, h, 0x0f);	/* Insufficient Encryption */
				return;
			} else if (a->cccd && n == 2) {
				memcpy(a->cccd, v, 2);
			} else if (a->ch && (a->ch->props &
					     (op == 0x12 ? SIM_PROP_WRITE : SIM_PROP_WRITE_NR))) {
				if (n > SIM_VALUE_MAX) {
					if (op == 0x12)
						att_error(k, op, h, 0x0d);
					return;
				}
				memcpy(a->ch->value, v, n);
				a->ch->len = (uint8_t)n;
				log_info("sim: RD %s: characteristic 0x%04x written (%zu bytes)",
					 k->rd->cfg->id, a->ch->uuid, n);
			} else {
				if (op == 0x12)
					att_error(k, op, h, a->cccd ? 0x0d : 0x03);
				return;
			}
		}
		if (op == 0x12) {
			b[0] = 0x13;
			link_send(k, CID_ATT, b, 1);
		}
		return;
	case 0x1e:	/* Handle Value Confirmation */
		return;
	default:
		/* Commands (bit 6) are dropped; requests are refused. */
		if (!(op & 0x40))
			att_error(k, op, 0, 0x06);	/* Request Not Supported */
		return;
	}
	if (!cnt) {
		att_error(k, op, s, 0x0a);	/* Attribute Not Found */
		return;
	}
	if (wbuf_is_ok(&w))
		link_send(k, CID_ATT, b, w.len);
	return;
invalid_pdu:
	att_error(k, op, 0, 0x04);	/* Invalid PDU */
}

/* ---------------------------------------------------------------- SMP */

bool sim_link_ltk_ok(struct sim_link *k, const uint8_t rand[8], uint16_t ediv,
		     const uint8_t ltk[16])
{
	return k->smp && sim_smp_ltk_ok(k->smp, rand, ediv, ltk);
}

void sim_link_encrypted(struct sim_link *k)
{
	k->encrypted = true;
	if (k->smp)
		sim_smp_encrypted(k->smp);
}

void sim_link_input(struct sim_link *k, const uint8_t *pdu, size_t len)
{
	struct cur c, d;
	uint16_t n, cid;

	cur_init(&c, pdu, len);
	n = cur_le16(&c);
	cid = cur_le16(&c);
	if (!cur_is_ok(&c) || n != cur_left(&c)) {
		log_debug("sim: RD %s: bad L2CAP length", k->rd->cfg->id);
		return;
	}
	d = cur_sub(&c, n);
	switch (cid) {
	case CID_SIG:
		if (!k->le)
			sig_input(k, cid, &d);
		break;
	case CID_LE_SIG:
		if (k->le)
			sig_input(k, cid, &d);
		break;
	case CID_ATT:
		if (k->le)
			att_input(k, &d);
		break;
	case CID_SMP:
	case CID_SMP_BREDR:
		if (k->le && cid == CID_SMP) {
			sim_smp_input(k->smp, d.p + d.off, cur_left(&d));
		} else if (!k->le && cur_left(&d) > 0 && d.p[d.off] != 0x05) {
			/* No pairing over BR/EDR (Vol 3 Part H 3.2): Pairing
			 * Failed, Pairing Not Supported (never answering a
			 * Pairing Failed). */
			static const uint8_t nope[2] = { SMP_FAILED, SMP_R_NOT_SUPPORTED };

			link_send(k, CID_SMP_BREDR, nope, 2);
		}
		break;
	default:
		/* Dynamic channels are never opened: drop (Vol 3 Part A 3). */
		break;
	}
}
