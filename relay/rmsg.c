/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "rmsg.h"

/*
 * Fixed body lengths by type (-1: variable). The HELLOs carry 20 zero
 * bytes after the id so that they are as long as the challenge answering
 * them (36): a forged source gets nothing larger than what was sent.
 */
static const int rmsg_fixed[RMSG_TYPE_MAX + 1] = {
	[RMSG_REG_HELLO] = RMSG_ID_LEN + 20,
	[RMSG_REG_CHALLENGE] = RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN,
	[RMSG_REGISTER] = -1,
	[RMSG_REGISTERED] = RMSG_ID_LEN + RMSG_TOKEN_LEN + 2 + 2 + RMSG_ADDR_LEN,
	[RMSG_KEEPALIVE] = RMSG_ID_LEN + RMSG_TOKEN_LEN,
	[RMSG_KEEPALIVE_ACK] = RMSG_ID_LEN,
	[RMSG_REREGISTER] = RMSG_ID_LEN,
	[RMSG_CONN_HELLO] = RMSG_ID_LEN + 20,
	[RMSG_CONN_CHALLENGE] = RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN,
	[RMSG_CONNECT] = RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN,
	[RMSG_CONNECTED] = RMSG_ID_LEN + 4 + RMSG_ADDR_LEN,
	[RMSG_PEER] = RMSG_ID_LEN + 4 + RMSG_ADDR_LEN,
	[RMSG_REFUSED] = RMSG_ID_LEN + 4,
	[RMSG_DATA] = -1,
	[RMSG_CLOSE] = 4,
	[RMSG_REGISTER2] = -1,
};

#define RMSG_PAD_LEN	20

static const char *const rmsg_names[RMSG_TYPE_MAX + 1] = {
	[RMSG_REG_HELLO] = "REG_HELLO",
	[RMSG_REG_CHALLENGE] = "REG_CHALLENGE",
	[RMSG_REGISTER] = "REGISTER",
	[RMSG_REGISTERED] = "REGISTERED",
	[RMSG_KEEPALIVE] = "KEEPALIVE",
	[RMSG_KEEPALIVE_ACK] = "KEEPALIVE_ACK",
	[RMSG_REREGISTER] = "REREGISTER",
	[RMSG_CONN_HELLO] = "CONN_HELLO",
	[RMSG_CONN_CHALLENGE] = "CONN_CHALLENGE",
	[RMSG_CONNECT] = "CONNECT",
	[RMSG_CONNECTED] = "CONNECTED",
	[RMSG_PEER] = "PEER",
	[RMSG_REFUSED] = "REFUSED",
	[RMSG_DATA] = "DATA",
	[RMSG_CLOSE] = "CLOSE",
	[RMSG_REGISTER2] = "REGISTER2",
};

int rmsg_body_len(uint8_t type)
{
	if (type == 0 || type > RMSG_TYPE_MAX)
		return -1;
	return rmsg_fixed[type];
}

const char *rmsg_type_name(uint8_t type)
{
	if (type == 0 || type > RMSG_TYPE_MAX)
		return "unknown";
	return rmsg_names[type];
}

static bool rmsg_all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * An address: family 4 or 6, a zero byte, a non-zero port; an IPv4
 * address fills the first 4 bytes and the other 12 must be zero, so each
 * address has exactly one encoding.
 */
static int rmsg_get_addr(struct cur *c, struct rmsg_addr *a)
{
	uint8_t zero;

	a->family = cur_u8(c);
	zero = cur_u8(c);
	a->port = cur_be16(c);
	cur_copy(c, a->a, sizeof(a->a));
	if (!cur_is_ok(c) || zero != 0 || a->port == 0)
		return -EBADMSG;
	if (a->family == 4 && !rmsg_all_zero(a->a + 4, 12))
		return -EBADMSG;
	if (a->family != 4 && a->family != 6)
		return -EBADMSG;
	return 0;
}

static int rmsg_put_addr(struct wbuf *w, const struct rmsg_addr *a)
{
	if ((a->family != 4 && a->family != 6) || a->port == 0 ||
	    (a->family == 4 && !rmsg_all_zero(a->a + 4, 12)))
		return -EINVAL;
	wbuf_u8(w, a->family);
	wbuf_u8(w, 0);
	wbuf_be16(w, a->port);
	wbuf_bytes(w, a->a, sizeof(a->a));
	return 0;
}

/* A be16 length in [1, max] and that many bytes, pointed to. */
static int rmsg_get_blob(struct cur *c, const uint8_t **p, uint16_t *len, size_t max)
{
	uint16_t n = cur_be16(c);

	if (!cur_is_ok(c) || n == 0 || n > max)
		return -EBADMSG;
	*p = cur_bytes(c, n);
	if (!*p)
		return -EBADMSG;
	*len = n;
	return 0;
}

static int rmsg_decode_body(struct rmsg *m, struct cur *c)
{
	const uint8_t *pad;

	switch (m->type) {
	case RMSG_REG_HELLO:
	case RMSG_CONN_HELLO:
		cur_copy(c, m->id, RMSG_ID_LEN);
		pad = cur_bytes(c, RMSG_PAD_LEN);
		if (!pad || !rmsg_all_zero(pad, RMSG_PAD_LEN))
			return -EBADMSG;
		return 0;
	case RMSG_REG_CHALLENGE:
	case RMSG_CONN_CHALLENGE:
	case RMSG_CONNECT:
		cur_copy(c, m->id, RMSG_ID_LEN);
		m->ts = cur_be32(c);
		cur_copy(c, m->cookie, RMSG_COOKIE_LEN);
		return 0;
	case RMSG_REGISTER:
		cur_copy(c, m->id, RMSG_ID_LEN);
		m->ts = cur_be32(c);
		cur_copy(c, m->cookie, RMSG_COOKIE_LEN);
		if (rmsg_get_blob(c, &m->spki, &m->spki_len, RMSG_SPKI_MAX) < 0 ||
		    rmsg_get_blob(c, &m->sig, &m->sig_len, RMSG_SIG_MAX) < 0)
			return -EBADMSG;
		return 0;
	case RMSG_REGISTER2:
		/* Each part capped and non-empty; what they say is rsign_verify's. */
		cur_copy(c, m->id, RMSG_ID_LEN);
		m->ts = cur_be32(c);
		cur_copy(c, m->cookie, RMSG_COOKIE_LEN);
		if (rmsg_get_blob(c, &m->spki, &m->spki_len, RMSG_SPKI_MAX) < 0 ||
		    rmsg_get_blob(c, &m->cert, &m->cert_len, RMSG_CERT_MAX) < 0 ||
		    rmsg_get_blob(c, &m->sig, &m->sig_len, RMSG_SIG_MAX) < 0)
			return -EBADMSG;
		return 0;
	case RMSG_REGISTERED:
		cur_copy(c, m->id, RMSG_ID_LEN);
		cur_copy(c, m->token, RMSG_TOKEN_LEN);
		m->keepalive_s = cur_be16(c);
		m->expiry_s = cur_be16(c);
		if (rmsg_get_addr(c, &m->addr) < 0)
			return -EBADMSG;
		/* A keepalive must come before the registration expires. */
		if (m->keepalive_s == 0 || m->expiry_s <= m->keepalive_s)
			return -EBADMSG;
		return 0;
	case RMSG_KEEPALIVE:
		cur_copy(c, m->id, RMSG_ID_LEN);
		cur_copy(c, m->token, RMSG_TOKEN_LEN);
		return 0;
	case RMSG_KEEPALIVE_ACK:
	case RMSG_REREGISTER:
		cur_copy(c, m->id, RMSG_ID_LEN);
		return 0;
	case RMSG_CONNECTED:
	case RMSG_PEER:
		cur_copy(c, m->id, RMSG_ID_LEN);
		m->chan = cur_be32(c);
		if (rmsg_get_addr(c, &m->addr) < 0 || m->chan == 0)
			return -EBADMSG;
		return 0;
	case RMSG_REFUSED:
		cur_copy(c, m->id, RMSG_ID_LEN);
		m->code = cur_u8(c);
		pad = cur_bytes(c, 3);
		if (!pad || !rmsg_all_zero(pad, 3) || m->code == 0 ||
		    m->code > RMSG_REFUSE_MAX)
			return -EBADMSG;
		return 0;
	case RMSG_DATA:
		m->chan = cur_be32(c);
		m->data_len = (uint16_t)cur_left(c);
		if (!cur_is_ok(c) || m->chan == 0 || m->data_len == 0 ||
		    cur_left(c) > RMSG_DATA_MAX)
			return -EBADMSG;
		m->data = cur_bytes(c, m->data_len);
		return 0;
	case RMSG_CLOSE:
		m->chan = cur_be32(c);
		if (m->chan == 0)
			return -EBADMSG;
		return 0;
	}
	return -EBADMSG;
}

int rmsg_decode(struct rmsg *m, const void *buf, size_t len)
{
	struct cur c, body;
	uint8_t version;
	uint16_t blen;
	int fixed;

	memset(m, 0, sizeof(*m));
	cur_init(&c, buf, len);
	version = cur_u8(&c);
	m->type = cur_u8(&c);
	blen = cur_be16(&c);
	if (!cur_is_ok(&c))
		return -EBADMSG;
	if (version != RMSG_VERSION)
		return -EPROTONOSUPPORT;
	/* The declared length is exactly what follows: no trailing bytes. */
	if (blen != cur_left(&c) || m->type == 0 || m->type > RMSG_TYPE_MAX)
		return -EBADMSG;
	fixed = rmsg_fixed[m->type];
	if (fixed >= 0 && blen != (unsigned)fixed)
		return -EBADMSG;
	body = cur_sub(&c, blen);
	if (rmsg_decode_body(m, &body) < 0 || !cur_is_done(&body)) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	return 0;
}

static int rmsg_encode_body(const struct rmsg *m, struct wbuf *w)
{
	switch (m->type) {
	case RMSG_REG_HELLO:
	case RMSG_CONN_HELLO:
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_zero(w, RMSG_PAD_LEN);
		return 0;
	case RMSG_REG_CHALLENGE:
	case RMSG_CONN_CHALLENGE:
	case RMSG_CONNECT:
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_be32(w, m->ts);
		wbuf_bytes(w, m->cookie, RMSG_COOKIE_LEN);
		return 0;
	case RMSG_REGISTER:
		if (!m->spki || m->spki_len == 0 || m->spki_len > RMSG_SPKI_MAX ||
		    !m->sig || m->sig_len == 0 || m->sig_len > RMSG_SIG_MAX)
			return -EINVAL;
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_be32(w, m->ts);
		wbuf_bytes(w, m->cookie, RMSG_COOKIE_LEN);
		wbuf_be16(w, m->spki_len);
		wbuf_bytes(w, m->spki, m->spki_len);
		wbuf_be16(w, m->sig_len);
		wbuf_bytes(w, m->sig, m->sig_len);
		return 0;
	case RMSG_REGISTER2:
		if (!m->spki || m->spki_len == 0 || m->spki_len > RMSG_SPKI_MAX ||
		    !m->cert || m->cert_len == 0 || m->cert_len > RMSG_CERT_MAX ||
		    !m->sig || m->sig_len == 0 || m->sig_len > RMSG_SIG_MAX)
			return -EINVAL;
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_be32(w, m->ts);
		wbuf_bytes(w, m->cookie, RMSG_COOKIE_LEN);
		wbuf_be16(w, m->spki_len);
		wbuf_bytes(w, m->spki, m->spki_len);
		wbuf_be16(w, m->cert_len);
		wbuf_bytes(w, m->cert, m->cert_len);
		wbuf_be16(w, m->sig_len);
		wbuf_bytes(w, m->sig, m->sig_len);
		return 0;
	case RMSG_REGISTERED:
		if (m->keepalive_s == 0 || m->expiry_s <= m->keepalive_s)
			return -EINVAL;
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_bytes(w, m->token, RMSG_TOKEN_LEN);
		wbuf_be16(w, m->keepalive_s);
		wbuf_be16(w, m->expiry_s);
		return rmsg_put_addr(w, &m->addr);
	case RMSG_KEEPALIVE:
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_bytes(w, m->token, RMSG_TOKEN_LEN);
		return 0;
	case RMSG_KEEPALIVE_ACK:
	case RMSG_REREGISTER:
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		return 0;
	case RMSG_CONNECTED:
	case RMSG_PEER:
		if (m->chan == 0)
			return -EINVAL;
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_be32(w, m->chan);
		return rmsg_put_addr(w, &m->addr);
	case RMSG_REFUSED:
		if (m->code == 0 || m->code > RMSG_REFUSE_MAX)
			return -EINVAL;
		wbuf_bytes(w, m->id, RMSG_ID_LEN);
		wbuf_u8(w, m->code);
		wbuf_zero(w, 3);
		return 0;
	case RMSG_DATA:
		if (m->chan == 0 || !m->data || m->data_len == 0 ||
		    m->data_len > RMSG_DATA_MAX)
			return -EINVAL;
		wbuf_be32(w, m->chan);
		wbuf_bytes(w, m->data, m->data_len);
		return 0;
	case RMSG_CLOSE:
		if (m->chan == 0)
			return -EINVAL;
		wbuf_be32(w, m->chan);
		return 0;
	}
	return -EINVAL;
}

int rmsg_encode(const struct rmsg *m, void *buf, size_t cap)
{
	struct wbuf w;
	uint8_t *len;
	int ret;

	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, RMSG_VERSION);
	wbuf_u8(&w, m->type);
	len = wbuf_reserve(&w, 2);
	ret = rmsg_encode_body(m, &w);
	if (ret < 0)
		return ret;
	if (!wbuf_is_ok(&w) || !len)
		return -EMSGSIZE;
	len[0] = (uint8_t)((w.len - RMSG_HDR_LEN) >> 8);
	len[1] = (uint8_t)(w.len - RMSG_HDR_LEN);
	return (int)w.len;
}

void rmsg_register_tbs(uint8_t out[RMSG_TBS_LEN], uint8_t type,
		       const uint8_t id[RMSG_ID_LEN], uint32_t ts,
		       const uint8_t cookie[RMSG_COOKIE_LEN])
{
	/* 24 bytes, NUL-padded: a signature for anything else never matches. */
	static const char ctx1[24] = "bgw-relay register v1";
	static const char ctx2[24] = "bgw-relay register v2";

	memcpy(out, type == RMSG_REGISTER2 ? ctx2 : ctx1, 24);
	memcpy(out + 24, id, RMSG_ID_LEN);
	out[40] = (uint8_t)(ts >> 24);
	out[41] = (uint8_t)(ts >> 16);
	out[42] = (uint8_t)(ts >> 8);
	out[43] = (uint8_t)ts;
	memcpy(out + 44, cookie, RMSG_COOKIE_LEN);
}
