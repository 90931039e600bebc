/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"

void secmem_wipe(void *p, size_t n)
{
	if (!p || !n)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	/* The barrier tells the compiler the zeroes are read: not dead. */
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
#endif
}

void secmem_free(void *p, size_t n)
{
	secmem_wipe(p, n);
	free(p);
}

bool secmem_is_equal(const void *a, const void *b, size_t n)
{
	/* volatile: every byte is read, no early exit the optimiser could add. */
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}
