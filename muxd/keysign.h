/* SPDX-License-Identifier: MIT */
/*
 * The tunnel server's private key, held by bgw-muxd's monitor, and the
 * one thing it does for the worker: sign a (D)TLS handshake (RPC_SIGN,
 * doc/security.md). The request comes from the unprivileged side and is
 * treated as hostile: only an algorithm of the key's own type, never TLS
 * 1.0's raw RSA, a digest only of exactly that algorithm's hash length,
 * and at most KEYSIGN_BURST signatures at once, KEYSIGN_PER_S a second
 * after that.
 */
#ifndef BGW_MUX_KEYSIGN_H
#define BGW_MUX_KEYSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One per (D)TLS handshake, so a bucket about the rate at which the one
 * worker can complete handshakes at all (4-5 ms each,
 * doc/performance.md): honest load, even a login flood, never meets it,
 * and a subverted worker cannot make the monitor a signing engine at
 * full speed.
 */
#define KEYSIGN_BURST	500
#define KEYSIGN_PER_S	250

struct keysign;

/*
 * Load key_file (PEM) and check it is the key of cert_file's first
 * certificate. 0, or a negative errno with a line in err.
 */
int keysign_load(struct keysign **out, const char *key_file, const char *cert_file,
		 uint64_t now_ms, char *err, size_t errlen);
void keysign_free(struct keysign *ks);
/*
 * A private key file's PEM block, decoded to DER into *der (malloc'd; the
 * caller wipes and frees it, secmem_free), every buffer on the way wiped
 * before it is freed. GnuTLS's own PEM path (gnutls_load_file, then its
 * base64 decoder's copy of the text without line breaks) frees copies of
 * the key unwiped, and the monitor forks the peers after it loaded its
 * keys (doc/security.md): a peer must find no form of them. 0, or
 * -errno (-EINVAL: no PEM block, or not base64).
 */
int keysign_read_der(const char *path, uint8_t **der, size_t *der_len);
/*
 * Sign in (a digest if is_hash, else the data) with sign_algo (a
 * gnutls_sign_algorithm_t). 0 with the signature in sig (*sig_len bytes,
 * at most cap); -EAGAIN over the rate; -EINVAL for an algorithm the key
 * does not make or a digest of the wrong length; -EOVERFLOW; -EIO.
 */
int keysign_sign(struct keysign *ks, int sign_algo, bool is_hash,
		 const uint8_t *in, size_t len, uint8_t *sig, size_t cap,
		 size_t *sig_len, uint64_t now_ms);

#endif /* BGW_MUX_KEYSIGN_H */
