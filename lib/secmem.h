/* SPDX-License-Identifier: MIT */
/*
 * Secret memory: the one place that wipes keys, passwords and proofs and
 * compares them. A wipe the compiler may not drop as a dead store
 * (explicit_bzero); a comparison whose time depends on the length only,
 * never on where the first difference is, so a remote peer timing the
 * answers learns nothing about a secret byte by byte.
 */
#ifndef BGW_LIB_SECMEM_H
#define BGW_LIB_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zero n bytes at p; p may be NULL. */
void secmem_wipe(void *p, size_t n);
/* secmem_wipe, then free(p); p may be NULL. */
void secmem_free(void *p, size_t n);
/* The n bytes at a and b are equal, in time independent of their values. */
bool secmem_is_equal(const void *a, const void *b, size_t n);

#endif /* BGW_LIB_SECMEM_H */
