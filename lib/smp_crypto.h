/* SPDX-License-Identifier: MIT */
/*
 * The Security Manager's cryptographic toolbox (Bluetooth Core Vol 3
 * Part H 2.2): what a party to LE pairing needs to run SMP itself, as the
 * mux's household bond broker does (doc/virtual-controller.md, "Household
 * bonds").
 *
 *  - LE legacy pairing: e (AES-128), c1 (confirm), s1 (STK);
 *  - LE Secure Connections: AES-CMAC, f4 (confirm), f5 (MacKey, LTK), f6
 *    (DHKey check), g2 (numeric comparison value) and P-256 ECDH.
 *
 * Every value is in SMP byte order, least significant octet first, as it
 * travels in the SMP PDUs and HCI commands (the spec writes them most
 * significant first; the functions reverse where AES needs it). The
 * addresses of f5/f6 are 7 octets: the 6 of the BD_ADDR, then its type
 * (0 public, 1 random), as Linux's smp.c and the spec's Appendix D have
 * them in that order.
 *
 * Keys are secrets: the functions wipe every intermediate they make;
 * callers wipe what they pass in and get back (secmem_wipe), compare check
 * values with secmem_is_equal, and never log them. All return 0, or
 * -EINVAL (a peer's public key not on the curve), -EIO (the cipher
 * failed) or -ENOMEM.
 */
#ifndef BGW_LIB_SMP_CRYPTO_H
#define BGW_LIB_SMP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* e(key, plaintext): AES-128 (2.2.1). */
int smp_e(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);

/*
 * c1, the legacy confirm value (2.2.3): k the TK, r the random, preq and
 * pres the Pairing Request and Response PDUs (opcode included), iat/ia
 * the initiator's address type and address, rat/ra the responder's.
 */
int smp_c1(const uint8_t k[16], const uint8_t r[16], const uint8_t preq[7],
	   const uint8_t pres[7], uint8_t iat, const uint8_t ia[6],
	   uint8_t rat, const uint8_t ra[6], uint8_t out[16]);

/* s1, the legacy STK (2.2.4): r1 the responder's random, r2 the initiator's. */
int smp_s1(const uint8_t k[16], const uint8_t r1[16], const uint8_t r2[16],
	   uint8_t out[16]);

/* AES-CMAC (RFC 4493, 2.2.5) of m[len] under k, both in SMP byte order. */
int smp_cmac(const uint8_t k[16], const uint8_t *m, size_t len, uint8_t out[16]);

/* f4(U, V, X, Z): the SC confirm value (2.2.6); u, v public key X coordinates. */
int smp_f4(const uint8_t u[32], const uint8_t v[32], const uint8_t x[16],
	   uint8_t z, uint8_t out[16]);

/* f5(W, N1, N2, A1, A2): MacKey and LTK from the DHKey w (2.2.7). */
int smp_f5(const uint8_t w[32], const uint8_t n1[16], const uint8_t n2[16],
	   const uint8_t a1[7], const uint8_t a2[7], uint8_t mackey[16],
	   uint8_t ltk[16]);

/* f6(W, N1, N2, R, IOcap, A1, A2): the DHKey check value (2.2.8). */
int smp_f6(const uint8_t w[16], const uint8_t n1[16], const uint8_t n2[16],
	   const uint8_t r[16], const uint8_t iocap[3], const uint8_t a1[7],
	   const uint8_t a2[7], uint8_t out[16]);

/* g2(U, V, X, Y): the six-digit numeric comparison value (2.2.9). */
int smp_g2(const uint8_t u[32], const uint8_t v[32], const uint8_t x[16],
	   const uint8_t y[16], uint32_t *val);

/*
 * A P-256 key pair (2.3.5.6.1): the private key and the public key X||Y
 * as the Pairing Public Key PDU carries it (3.5.6). Wipe it with
 * smp_p256_wipe when the pairing ends.
 */
struct smp_p256 {
	uint8_t priv[32];
	uint8_t pub[64];
};

/* A new key pair from the system's random source. */
int smp_p256_generate(struct smp_p256 *k);
/* The key pair of a given private key (the spec's sample data, tests). */
int smp_p256_set(struct smp_p256 *k, const uint8_t priv[32]);
/*
 * The DHKey (2.3.5.6.1): the X coordinate of priv * peer. -EINVAL when
 * peer is not a point of the curve (an invalid-curve attack, and what a
 * garbled PDU looks like): the pairing must fail then (DHKey Check
 * Failed, 3.5.5).
 */
int smp_p256_dhkey(const struct smp_p256 *k, const uint8_t peer[64],
		   uint8_t dhkey[32]);
void smp_p256_wipe(struct smp_p256 *k);

#endif /* BGW_LIB_SMP_CRYPTO_H */
