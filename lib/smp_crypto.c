/* SPDX-License-Identifier: MIT */
/*
 * The Security Manager's cryptographic toolbox (Core Vol 3 Part H 2.2),
 * on nettle (AES-128, AES-CMAC, P-256) and GMP (nettle's big numbers).
 * See smp_crypto.h for the byte order and the rules on keys.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <gmp.h>
#include <nettle/aes.h>
#include <nettle/cmac.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>

#include "secmem.h"
#include "smp_crypto.h"

#define CMAC_MSG_MAX 80		/* g2's message, the longest of the toolbox */

static void rev(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[n - 1 - i];
}

/*
 * SMP carries values least significant octet first and AES works most
 * significant first (2.2.1), hence the reversals.
 */
int smp_e(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	struct aes128_ctx ctx;
	uint8_t k[16], b[16];

	rev(k, key, 16);
	rev(b, in, 16);
	aes128_set_encrypt_key(&ctx, k);
	aes128_encrypt(&ctx, 16, b, b);
	rev(out, b, 16);
	secmem_wipe(&ctx, sizeof(ctx));
	secmem_wipe(k, sizeof(k));
	secmem_wipe(b, sizeof(b));
	return 0;
}

/* c1 (2.2.3): p1 = pres || preq || rat' || iat', p2 = padding || ia || ra. */
int smp_c1(const uint8_t k[16], const uint8_t r[16], const uint8_t preq[7],
	   const uint8_t pres[7], uint8_t iat, const uint8_t ia[6],
	   uint8_t rat, const uint8_t ra[6], uint8_t out[16])
{
	uint8_t p1[16], p2[16], t[16];
	unsigned i;
	int ret;

	p1[0] = iat;
	p1[1] = rat;
	memcpy(p1 + 2, preq, 7);
	memcpy(p1 + 9, pres, 7);
	memcpy(p2, ra, 6);
	memcpy(p2 + 6, ia, 6);
	memset(p2 + 12, 0, 4);
	for (i = 0; i < 16; i++)
		t[i] = r[i] ^ p1[i];
	ret = smp_e(k, t, t);
	if (ret == 0) {
		for (i = 0; i < 16; i++)
			t[i] ^= p2[i];
		ret = smp_e(k, t, out);
	}
	secmem_wipe(t, sizeof(t));
	return ret;
}

/* s1 (2.2.4): r' = r1' || r2', the least significant 64 bits of each. */
int smp_s1(const uint8_t k[16], const uint8_t r1[16], const uint8_t r2[16],
	   uint8_t out[16])
{
	uint8_t r[16];
	int ret;

	memcpy(r, r2, 8);
	memcpy(r + 8, r1, 8);
	ret = smp_e(k, r, out);
	secmem_wipe(r, sizeof(r));
	return ret;
}

int smp_cmac(const uint8_t k[16], const uint8_t *m, size_t len, uint8_t out[16])
{
	struct cmac_aes128_ctx ctx;
	uint8_t key[16], msg[CMAC_MSG_MAX], mac[16];

	if (len > sizeof(msg))
		return -EINVAL;
	rev(key, k, 16);
	rev(msg, m, len);
	cmac_aes128_set_key(&ctx, key);
	cmac_aes128_update(&ctx, len, msg);
	cmac_aes128_digest(&ctx, sizeof(mac), mac);
	rev(out, mac, 16);
	secmem_wipe(&ctx, sizeof(ctx));
	secmem_wipe(key, sizeof(key));
	secmem_wipe(msg, sizeof(msg));
	secmem_wipe(mac, sizeof(mac));
	return 0;
}

/* f4 (2.2.6): AES-CMAC_X(U || V || Z); least significant first, Z || V || U. */
int smp_f4(const uint8_t u[32], const uint8_t v[32], const uint8_t x[16],
	   uint8_t z, uint8_t out[16])
{
	uint8_t m[65];
	int ret;

	m[0] = z;
	memcpy(m + 1, v, 32);
	memcpy(m + 33, u, 32);
	ret = smp_cmac(x, m, sizeof(m), out);
	secmem_wipe(m, sizeof(m));
	return ret;
}

/*
 * f5 (2.2.7): T = AES-CMAC_SALT(W); MacKey (counter 0) and LTK (counter 1)
 * = AES-CMAC_T(Counter || keyID "btle" || N1 || N2 || A1 || A2 || 256).
 */
int smp_f5(const uint8_t w[32], const uint8_t n1[16], const uint8_t n2[16],
	   const uint8_t a1[7], const uint8_t a2[7], uint8_t mackey[16],
	   uint8_t ltk[16])
{
	static const uint8_t salt[16] = {
		0xbe, 0x83, 0x60, 0x5a, 0xdb, 0x0b, 0x37, 0x60,
		0x38, 0xa5, 0xf5, 0xaa, 0x91, 0x83, 0x88, 0x6c,
	};
	static const uint8_t btle[4] = { 0x65, 0x6c, 0x74, 0x62 };
	uint8_t t[16], m[53];
	int ret;

	ret = smp_cmac(salt, w, 32, t);
	if (ret)
		goto out;
	m[0] = 0x00;		/* Length: 256 bits */
	m[1] = 0x01;
	memcpy(m + 2, a2, 7);
	memcpy(m + 9, a1, 7);
	memcpy(m + 16, n2, 16);
	memcpy(m + 32, n1, 16);
	memcpy(m + 48, btle, 4);
	m[52] = 0;		/* Counter */
	ret = smp_cmac(t, m, sizeof(m), mackey);
	if (ret)
		goto out;
	m[52] = 1;
	ret = smp_cmac(t, m, sizeof(m), ltk);
out:
	secmem_wipe(t, sizeof(t));
	secmem_wipe(m, sizeof(m));
	return ret;
}

/* f6 (2.2.8): AES-CMAC_W(N1 || N2 || R || IOcap || A1 || A2). */
int smp_f6(const uint8_t w[16], const uint8_t n1[16], const uint8_t n2[16],
	   const uint8_t r[16], const uint8_t iocap[3], const uint8_t a1[7],
	   const uint8_t a2[7], uint8_t out[16])
{
	uint8_t m[65];
	int ret;

	memcpy(m, a2, 7);
	memcpy(m + 7, a1, 7);
	memcpy(m + 14, iocap, 3);
	memcpy(m + 17, r, 16);
	memcpy(m + 33, n2, 16);
	memcpy(m + 49, n1, 16);
	ret = smp_cmac(w, m, sizeof(m), out);
	secmem_wipe(m, sizeof(m));
	return ret;
}

/* g2 (2.2.9): AES-CMAC_X(U || V || Y) mod 2^32, shown mod 10^6. */
int smp_g2(const uint8_t u[32], const uint8_t v[32], const uint8_t x[16],
	   const uint8_t y[16], uint32_t *val)
{
	uint8_t m[80], t[16];
	int ret;

	memcpy(m, y, 16);
	memcpy(m + 16, v, 32);
	memcpy(m + 48, u, 32);
	ret = smp_cmac(x, m, sizeof(m), t);
	if (ret == 0)
		*val = ((uint32_t)t[0] | (uint32_t)t[1] << 8 |
			(uint32_t)t[2] << 16 | (uint32_t)t[3] << 24) % 1000000;
	secmem_wipe(m, sizeof(m));
	secmem_wipe(t, sizeof(t));
	return ret;
}

/* ------------------------------------------------------------------ */
/* P-256 (2.3.5.6.1, FIPS 186 curve P-256), through nettle's ecc. */

/*
 * A big number sized for a coordinate up front, so GMP never reallocates
 * (and so never frees limbs it did not wipe); wiped before it is freed.
 */
static void mpz_init256(mpz_t z)
{
	mpz_init2(z, 256);
}

static void mpz_wipe(mpz_t z)
{
	secmem_wipe(z->_mp_d, (size_t)z->_mp_alloc * sizeof(mp_limb_t));
	mpz_clear(z);
}

static void mpz_from_le(mpz_t z, const uint8_t b[32])
{
	mpz_import(z, 32, -1, 1, 0, 0, b);
}

static void mpz_to_le(uint8_t b[32], const mpz_t z)
{
	size_t n = 0;

	memset(b, 0, 32);
	if (mpz_sizeinbase(z, 2) <= 256)
		mpz_export(b, &n, -1, 1, 0, 0, z);
}

static void scalar_wipe(struct ecc_scalar *s)
{
	secmem_wipe(s->p, (size_t)ecc_size(s->ecc) * sizeof(mp_limb_t));
	ecc_scalar_clear(s);
}

static void point_wipe(struct ecc_point *p)
{
	secmem_wipe(p->p, 2 * (size_t)ecc_size(p->ecc) * sizeof(mp_limb_t));
	ecc_point_clear(p);
}

static void point_to_le(uint8_t pub[64], const struct ecc_point *p)
{
	mpz_t x, y;

	mpz_init256(x);
	mpz_init256(y);
	ecc_point_get(p, x, y);
	mpz_to_le(pub, x);
	mpz_to_le(pub + 32, y);
	mpz_wipe(x);
	mpz_wipe(y);
}

static void rnd(void *ctx, size_t len, uint8_t *dst)
{
	int *err = ctx;
	ssize_t r;

	while (len > 0) {
		r = getrandom(dst, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/*
			 * Fail the key rather than use what is there. Nettle
			 * draws until the value is in 0 < k < q, which zero
			 * never is: 1 (big-endian) ends its loop, and err
			 * discards the key.
			 */
			*err = -EIO;
			memset(dst, 0, len);
			dst[len - 1] = 1;
			return;
		}
		dst += r;
		len -= (size_t)r;
	}
}

int smp_p256_generate(struct smp_p256 *k)
{
	const struct ecc_curve *c = nettle_get_secp_256r1();
	struct ecc_scalar s;
	struct ecc_point p;
	mpz_t z;
	int err = 0;

	ecc_scalar_init(&s, c);
	ecc_point_init(&p, c);
	mpz_init256(z);
	ecdsa_generate_keypair(&p, &s, &err, rnd);
	if (err == 0) {
		ecc_scalar_get(&s, z);
		mpz_to_le(k->priv, z);
		point_to_le(k->pub, &p);
	}
	mpz_wipe(z);
	scalar_wipe(&s);
	point_wipe(&p);
	if (err)
		smp_p256_wipe(k);
	return err;
}

int smp_p256_set(struct smp_p256 *k, const uint8_t priv[32])
{
	const struct ecc_curve *c = nettle_get_secp_256r1();
	struct ecc_scalar s;
	struct ecc_point p;
	mpz_t z;
	int ret = -EINVAL;

	ecc_scalar_init(&s, c);
	ecc_point_init(&p, c);
	mpz_init256(z);
	mpz_from_le(z, priv);
	if (ecc_scalar_set(&s, z)) {
		ecc_point_mul_g(&p, &s);
		memcpy(k->priv, priv, 32);
		point_to_le(k->pub, &p);
		ret = 0;
	}
	mpz_wipe(z);
	scalar_wipe(&s);
	point_wipe(&p);
	return ret;
}

int smp_p256_dhkey(const struct smp_p256 *k, const uint8_t peer[64],
		   uint8_t dhkey[32])
{
	const struct ecc_curve *c = nettle_get_secp_256r1();
	struct ecc_scalar s;
	struct ecc_point q, r;
	mpz_t x, y;
	int ret = -EINVAL;

	ecc_scalar_init(&s, c);
	ecc_point_init(&q, c);
	ecc_point_init(&r, c);
	mpz_init256(x);
	mpz_init256(y);
	mpz_from_le(x, peer);
	mpz_from_le(y, peer + 32);
	/* ecc_point_set refuses a point not on the curve (2.3.5.6.1). */
	if (!ecc_point_set(&q, x, y))
		goto out;
	mpz_from_le(x, k->priv);
	if (!ecc_scalar_set(&s, x))
		goto out;
	ecc_point_mul(&r, &s, &q);
	ecc_point_get(&r, x, NULL);
	mpz_to_le(dhkey, x);
	ret = 0;
out:
	mpz_wipe(x);
	mpz_wipe(y);
	scalar_wipe(&s);
	point_wipe(&q);
	point_wipe(&r);
	return ret;
}

void smp_p256_wipe(struct smp_p256 *k)
{
	if (k)
		secmem_wipe(k, sizeof(*k));
}
