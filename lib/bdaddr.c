/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "bdaddr.h"
#include "hex.h"

int bdaddr_parse(const char *s, struct bdaddr *out)
{
	struct bdaddr a;
	int i, hi, lo;

	if (!s)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		hi = hex_digit(s[0]);
		lo = hi < 0 ? -1 : hex_digit(s[1]);
		if (lo < 0)
			return -EINVAL;
		a.b[5 - i] = (uint8_t)(hi << 4 | lo);
		if (s[2] != (i < 5 ? ':' : '\0'))
			return -EINVAL;
		s += 3;
	}
	*out = a;
	return 0;
}

char *bdaddr_fmt(const struct bdaddr *a, char out[BDADDR_STRLEN])
{
	snprintf(out, BDADDR_STRLEN, "%02X:%02X:%02X:%02X:%02X:%02X",
		 a->b[5], a->b[4], a->b[3], a->b[2], a->b[1], a->b[0]);
	return out;
}
