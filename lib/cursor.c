/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "cursor.h"

void cur_init(struct cur *c, const void *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
	c->err = false;
}

const uint8_t *cur_bytes(struct cur *c, size_t n)
{
	const uint8_t *r;

	if (c->err || n > c->len - c->off) {
		c->err = true;
		return NULL;
	}
	r = c->p + c->off;
	c->off += n;
	return r;
}

static uint64_t cur_uint(struct cur *c, size_t n, bool big)
{
	const uint8_t *b = cur_bytes(c, n);
	uint64_t v = 0;
	size_t i;

	if (!b)
		return 0;
	for (i = 0; i < n; i++) {
		if (big)
			v = v << 8 | b[i];
		else
			v |= (uint64_t)b[i] << (8 * i);
	}
	return v;
}

uint8_t cur_u8(struct cur *c)
{
	return (uint8_t)cur_uint(c, 1, false);
}

uint16_t cur_le16(struct cur *c)
{
	return (uint16_t)cur_uint(c, 2, false);
}

uint32_t cur_le24(struct cur *c)
{
	return (uint32_t)cur_uint(c, 3, false);
}

uint32_t cur_le32(struct cur *c)
{
	return (uint32_t)cur_uint(c, 4, false);
}

uint64_t cur_le64(struct cur *c)
{
	return cur_uint(c, 8, false);
}

uint16_t cur_be16(struct cur *c)
{
	return (uint16_t)cur_uint(c, 2, true);
}

uint32_t cur_be32(struct cur *c)
{
	return (uint32_t)cur_uint(c, 4, true);
}

uint64_t cur_be64(struct cur *c)
{
	return cur_uint(c, 8, true);
}

void cur_copy(struct cur *c, void *dst, size_t n)
{
	const uint8_t *b = cur_bytes(c, n);

	if (b)
		memcpy(dst, b, n);
	else if (n)
		memset(dst, 0, n);
}

void cur_skip(struct cur *c, size_t n)
{
	cur_bytes(c, n);
}

struct cur cur_sub(struct cur *c, size_t n)
{
	struct cur sub;
	const uint8_t *b = cur_bytes(c, n);

	cur_init(&sub, b, b ? n : 0);
	sub.err = !b;
	return sub;
}

void wbuf_init(struct wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = p ? cap : 0;
	w->len = 0;
	w->err = false;
}

uint8_t *wbuf_reserve(struct wbuf *w, size_t n)
{
	uint8_t *r;

	if (w->err || n > w->cap - w->len) {
		w->err = true;
		return NULL;
	}
	r = w->p + w->len;
	w->len += n;
	return r;
}

static void wbuf_uint(struct wbuf *w, uint64_t v, size_t n, bool big)
{
	uint8_t *b = wbuf_reserve(w, n);
	size_t i;

	if (!b)
		return;
	for (i = 0; i < n; i++)
		b[big ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

void wbuf_u8(struct wbuf *w, uint8_t v)
{
	wbuf_uint(w, v, 1, false);
}

void wbuf_le16(struct wbuf *w, uint16_t v)
{
	wbuf_uint(w, v, 2, false);
}

void wbuf_le24(struct wbuf *w, uint32_t v)
{
	wbuf_uint(w, v, 3, false);
}

void wbuf_le32(struct wbuf *w, uint32_t v)
{
	wbuf_uint(w, v, 4, false);
}

void wbuf_le64(struct wbuf *w, uint64_t v)
{
	wbuf_uint(w, v, 8, false);
}

void wbuf_be16(struct wbuf *w, uint16_t v)
{
	wbuf_uint(w, v, 2, true);
}

void wbuf_be32(struct wbuf *w, uint32_t v)
{
	wbuf_uint(w, v, 4, true);
}

void wbuf_be64(struct wbuf *w, uint64_t v)
{
	wbuf_uint(w, v, 8, true);
}

void wbuf_bytes(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *b = wbuf_reserve(w, n);

	if (b && n)
		memcpy(b, src, n);
}

void wbuf_zero(struct wbuf *w, size_t n)
{
	uint8_t *b = wbuf_reserve(w, n);

	if (b && n)
		memset(b, 0, n);
}
