/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "hex.h"

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
	size_t i;
	int hi, lo;

	if (!s || len == 0 || len % 2)
		return -EINVAL;
	if (len / 2 > cap)
		return -E2BIG;
	/* Every digit checked before a byte is written: out stays as it was. */
	for (i = 0; i < len; i++)
		if (hex_digit(s[i]) < 0)
			return -EINVAL;
	for (i = 0; i < len / 2; i++) {
		hi = hex_digit(s[2 * i]);
		lo = hex_digit(s[2 * i + 1]);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (n)
		*n = len / 2;
	return 0;
}

int hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
	if (!s || n == 0 || strlen(s) != 2 * n)
		return -EINVAL;
	return hex_decode(s, 2 * n, out, n, NULL);
}
