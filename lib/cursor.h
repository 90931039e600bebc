/* SPDX-License-Identifier: MIT */
/*
 * Bounded byte cursors: the one way bgw reads untrusted bytes (HCI from a
 * host or a controller, tunnel messages, file records) and builds packets.
 *
 * A reader never moves past its end. The first short read sets a sticky
 * error; later reads return zeroes and do nothing, so a parser can read a
 * whole structure and check once:
 *
 *	struct cur c;
 *	cur_init(&c, buf, len);
 *	handle = cur_le16(&c);
 *	reason = cur_u8(&c);
 *	if (!cur_is_done(&c))		// short, or trailing bytes
 *		return -EBADMSG;
 *
 * A writer works the same way over a caller's buffer: an overflowing write
 * sets a sticky error instead of truncating.
 */
#ifndef BGW_CURSOR_H
#define BGW_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cur {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

void cur_init(struct cur *c, const void *p, size_t len);
uint8_t cur_u8(struct cur *c);
uint16_t cur_le16(struct cur *c);
uint32_t cur_le24(struct cur *c);
uint32_t cur_le32(struct cur *c);
uint64_t cur_le64(struct cur *c);
uint16_t cur_be16(struct cur *c);
uint32_t cur_be32(struct cur *c);
uint64_t cur_be64(struct cur *c);
/* Pointer to the next n bytes, or NULL (and the error set) if fewer remain. */
const uint8_t *cur_bytes(struct cur *c, size_t n);
/* Copy n bytes out; on a short read dst is zero-filled and the error set. */
void cur_copy(struct cur *c, void *dst, size_t n);
void cur_skip(struct cur *c, size_t n);
/* A sub-cursor over the next n bytes (empty and in error if short). */
struct cur cur_sub(struct cur *c, size_t n);

static inline size_t cur_left(const struct cur *c)
{
	return c->err ? 0 : c->len - c->off;
}

static inline bool cur_is_ok(const struct cur *c)
{
	return !c->err;
}

/* Everything read without error and nothing left over. */
static inline bool cur_is_done(const struct cur *c)
{
	return !c->err && c->off == c->len;
}

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool err;
};

void wbuf_init(struct wbuf *w, void *p, size_t cap);
void wbuf_u8(struct wbuf *w, uint8_t v);
void wbuf_le16(struct wbuf *w, uint16_t v);
void wbuf_le24(struct wbuf *w, uint32_t v);
void wbuf_le32(struct wbuf *w, uint32_t v);
void wbuf_le64(struct wbuf *w, uint64_t v);
void wbuf_be16(struct wbuf *w, uint16_t v);
void wbuf_be32(struct wbuf *w, uint32_t v);
void wbuf_be64(struct wbuf *w, uint64_t v);
void wbuf_bytes(struct wbuf *w, const void *src, size_t n);
void wbuf_zero(struct wbuf *w, size_t n);
/* Reserve n bytes to fill in later; NULL (and the error set) if no room. */
uint8_t *wbuf_reserve(struct wbuf *w, size_t n);

static inline bool wbuf_is_ok(const struct wbuf *w)
{
	return !w->err;
}

/* Little-endian helpers for fixed offsets already bounds-checked. */
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif /* BGW_CURSOR_H */
