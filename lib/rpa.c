/* SPDX-License-Identifier: MIT */
/* RPA resolution: ah() over AES-128 from GnuTLS (tests/check_rpa: D.7). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "rpa.h"
#include "secmem.h"

bool rpa_is_resolvable(const struct bdaddr *a)
{
	return (a->b[5] & 0xc0) == 0x40;
}

/*
 * ah(k, r) = e(k, r') mod 2^24, r' = 104 zero bits || r (Vol 3 Part H
 * 2.2.2). e() is AES-128 most significant octet first (2.2.1), so the
 * key is reversed and r goes in the last three octets of the block; one
 * CBC block with a zero IV is ECB.
 */
int rpa_ah(const uint8_t irk[16], const uint8_t prand[3], uint8_t hash[3])
{
	uint8_t k[16], p[16], o[16], iv[16];
	gnutls_cipher_hd_t h = NULL;
	gnutls_datum_t kd = { k, 16 }, ivd = { iv, 16 };
	unsigned i;
	int r;

	for (i = 0; i < 16; i++)
		k[i] = irk[15 - i];
	memset(p, 0, sizeof(p));
	memset(iv, 0, sizeof(iv));
	p[13] = prand[2];
	p[14] = prand[1];
	p[15] = prand[0];
	r = gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &kd, &ivd);
	if (r < 0) {
		secmem_wipe(k, sizeof(k));
		return -EIO;
	}
	r = gnutls_cipher_encrypt2(h, p, 16, o, 16);
	gnutls_cipher_deinit(h);
	secmem_wipe(k, sizeof(k));
	if (r >= 0) {
		hash[0] = o[15];
		hash[1] = o[14];
		hash[2] = o[13];
	}
	secmem_wipe(o, sizeof(o));
	return r < 0 ? -EIO : 0;
}

bool rpa_matches(const uint8_t irk[16], const struct bdaddr *a)
{
	uint8_t hash[3];

	if (!rpa_is_resolvable(a) || rpa_ah(irk, a->b + 3, hash) < 0)
		return false;
	return memcmp(hash, a->b, 3) == 0;
}
