/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "b64.h"

static const char b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_encode(const void *src, size_t n, char *out, size_t cap)
{
	const uint8_t *p = src;
	size_t i, o = 0;
	uint32_t v;

	if (n > (size_t)INT_MAX / 2 || cap < B64_ENCLEN(n) + 1)
		return -ENOSPC;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alpha[v >> 18 & 63];
		out[o++] = b64_alpha[v >> 12 & 63];
		out[o++] = b64_alpha[v >> 6 & 63];
		out[o++] = b64_alpha[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alpha[v >> 18 & 63];
		out[o++] = b64_alpha[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64_alpha[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	size_t i, o = 0, pad = 0, need;
	uint32_t v;
	int d, k;

	if (!s || len % 4 || len > (size_t)INT_MAX / 2)
		return -EINVAL;
	if (len && s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	need = len / 4 * 3 - pad;
	if (need > cap)
		return -ENOSPC;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + 4 == len && k >= 4 - (int)pad) {
				v <<= 6;
				continue;
			}
			d = b64_val(s[i + k]);
			if (d < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)d;
		}
		/* Bits below the last output byte must be zero (canonical). */
		if (i + 4 == len && ((pad == 1 && (v & 0xff)) ||
				     (pad == 2 && (v & 0xffff))))
			return -EINVAL;
		out[o++] = (uint8_t)(v >> 16);
		if (o < need)
			out[o++] = (uint8_t)(v >> 8);
		if (o < need)
			out[o++] = (uint8_t)v;
	}
	return (int)o;
}
