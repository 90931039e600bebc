/* SPDX-License-Identifier: MIT */
/* Bluetooth device addresses, stored little-endian as on the wire. */
#ifndef BGW_BDADDR_H
#define BGW_BDADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct bdaddr {
	uint8_t b[6];
};

/* LE address types (Core Vol 4 Part E 7.8.5); BR/EDR addresses use PUBLIC. */
enum bdaddr_type {
	BDADDR_PUBLIC = 0x00,
	BDADDR_RANDOM = 0x01,
};

#define BDADDR_STRLEN 18	/* "AA:BB:CC:DD:EE:FF" and NUL */

/* Strictly "XX:XX:XX:XX:XX:XX" (hex, either case); -EINVAL otherwise. */
int bdaddr_parse(const char *s, struct bdaddr *out);
/* Most significant byte first, upper case; returns out. */
char *bdaddr_fmt(const struct bdaddr *a, char out[BDADDR_STRLEN]);

static inline bool bdaddr_eq(const struct bdaddr *a, const struct bdaddr *b)
{
	return memcmp(a->b, b->b, 6) == 0;
}

static inline bool bdaddr_is_zero(const struct bdaddr *a)
{
	static const struct bdaddr zero;

	return bdaddr_eq(a, &zero);
}

#endif /* BGW_BDADDR_H */
