/* SPDX-License-Identifier: MIT */
/*
 * Hexadecimal, the one codec of the tree: fingerprints, serials, IRKs,
 * audit hashes, scenario values. Encoding is lowercase; decoding is strict
 * -- an even number of hex digits (either case) and nothing else: no
 * "0x", no spaces, no sign, and more bytes than the caller's room is an
 * error, never a truncation.
 */
#ifndef BGW_LIB_HEX_H
#define BGW_LIB_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit, or -1. */
int hex_digit(char c);
/* 2 * n lowercase digits and a NUL into out (2 * n + 1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/*
 * The len characters at s (at least two) into at most cap bytes: 0 and
 * *n (n may be NULL); -EINVAL for an odd or empty length, -E2BIG when
 * they would need more than cap bytes, then -EINVAL for a non-digit (an
 * embedded NUL included). out is unchanged on error.
 */
int hex_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n);
/* The NUL-terminated s, exactly 2 * n digits, into n bytes: 0 or -EINVAL. */
int hex_decode_exact(const char *s, uint8_t *out, size_t n);

#endif /* BGW_LIB_HEX_H */
