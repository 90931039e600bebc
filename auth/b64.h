/* SPDX-License-Identifier: MIT */
/*
 * Base64 (RFC 4648 section 4, standard alphabet, '=' padding), strict:
 * SCRAM messages and authdb verifiers are untrusted text, so the decoder
 * accepts exactly one spelling of each value -- no whitespace, no missing
 * padding, no non-zero bits in the last character -- and a cap on the
 * output. (Small and general; a candidate for lib/.)
 */
#ifndef BGW_AUTH_B64_H
#define BGW_AUTH_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, without the NUL. */
#define B64_ENCLEN(n) ((((n) + 2) / 3) * 4)

/*
 * Encode n bytes into out (cap bytes, NUL-terminated). Returns the length
 * written (without NUL) or -ENOSPC if cap is too small.
 */
int b64_encode(const void *src, size_t n, char *out, size_t cap);
/*
 * Decode exactly len characters into out (at most cap bytes). Returns the
 * number of bytes, -EINVAL on any non-canonical input, -ENOSPC if the
 * result would exceed cap (rejected, never truncated).
 */
int b64_decode(const char *s, size_t len, uint8_t *out, size_t cap);

#endif
