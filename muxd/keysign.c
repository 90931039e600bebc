/* SPDX-License-Identifier: MIT */
/* The monitor's signing key (muxd/keysign.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "keysign.h"
#include "secmem.h"

struct keysign {
	gnutls_privkey_t key;
	gnutls_pk_algorithm_t pk;
	unsigned tokens;
	uint64_t last_ms;
};

void keysign_free(struct keysign *ks)
{
	if (!ks)
		return;
	if (ks->key)
		gnutls_privkey_deinit(ks->key);
	free(ks);
}

/* The key's public half must be the certificate's (SHA-256 key ids). */
static int matches_cert(gnutls_privkey_t key, const char *cert_file)
{
	gnutls_datum_t cd = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	uint8_t id1[64], id2[64];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	int err;

	err = gnutls_load_file(cert_file, &cd);
	if (err >= 0)
		err = gnutls_x509_crt_init(&crt);
	if (err >= 0)
		err = gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_PEM);
	if (err >= 0)
		err = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id2, &l2);
	if (err >= 0)
		err = gnutls_pubkey_init(&pub);
	if (err >= 0)
		err = gnutls_pubkey_import_privkey(pub, key, 0, 0);
	if (err >= 0)
		err = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id1, &l1);
	if (err >= 0 && (l1 != l2 || memcmp(id1, id2, l1)))
		err = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
	gnutls_free(cd.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return err;
}

int keysign_load(struct keysign **out, const char *key_file, const char *cert_file,
		 uint64_t now_ms, char *errbuf, size_t errlen)
{
	gnutls_datum_t kd = { NULL, 0 };
	struct keysign *ks;
	const char *what = key_file;
	int err;

	*out = NULL;
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		return -ENOMEM;
	err = gnutls_load_file(key_file, &kd);
	if (err >= 0)
		err = gnutls_privkey_init(&ks->key);
	if (err >= 0)
		err = gnutls_privkey_import_x509_raw(ks->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (kd.data) {
		secmem_wipe(kd.data, kd.size);
		gnutls_free(kd.data);
	}
	if (err >= 0) {
		what = cert_file;
		err = matches_cert(ks->key, cert_file);
	}
	if (err < 0) {
		snprintf(errbuf, errlen, "key %s: %s", what, gnutls_strerror(err));
		keysign_free(ks);
		return -EINVAL;
	}
	ks->pk = (gnutls_pk_algorithm_t)gnutls_privkey_get_pk_algorithm(ks->key, NULL);
	ks->tokens = KEYSIGN_BURST;
	ks->last_ms = now_ms;
	*out = ks;
	return 0;
}

/* The bucket: refilled by whole tokens, KEYSIGN_PER_S a second. */
static bool take_token(struct keysign *ks, uint64_t now_ms)
{
	uint64_t add = now_ms > ks->last_ms ?
		       (now_ms - ks->last_ms) * KEYSIGN_PER_S / 1000 : 0;

	if (add) {
		ks->tokens = ks->tokens + add > KEYSIGN_BURST ? KEYSIGN_BURST :
			     (unsigned)(ks->tokens + add);
		ks->last_ms = now_ms;
	}
	if (!ks->tokens)
		return false;
	ks->tokens--;
	return true;
}

int keysign_sign(struct keysign *ks, int sign_algo, bool is_hash,
		 const uint8_t *in, size_t len, uint8_t *sig, size_t cap,
		 size_t *sig_len, uint64_t now_ms)
{
	gnutls_sign_algorithm_t algo = (gnutls_sign_algorithm_t)sign_algo;
	gnutls_datum_t d = { (unsigned char *)in, (unsigned)len };
	gnutls_datum_t s = { NULL, 0 };
	int err;

	if (!ks || !in || !len || len > 65535)
		return -EINVAL;
	/* Counted first: refused requests cost the worker its budget too. */
	if (!take_token(ks, now_ms))
		return -EAGAIN;
	if (sign_algo <= 0 || algo == GNUTLS_SIGN_RSA_RAW ||
	    !gnutls_sign_supports_pk_algorithm(algo, ks->pk))
		return -EINVAL;
	if (is_hash) {
		gnutls_digest_algorithm_t h = gnutls_sign_get_hash_algorithm(algo);

		/* EdDSA signs data only: its "hash" is not a digest input. */
		if (h == GNUTLS_DIG_UNKNOWN || ks->pk == GNUTLS_PK_EDDSA_ED25519 ||
		    ks->pk == GNUTLS_PK_EDDSA_ED448 ||
		    len != (size_t)gnutls_hash_get_len(h))
			return -EINVAL;
		err = gnutls_privkey_sign_hash2(ks->key, algo, 0, &d, &s);
	} else {
		err = gnutls_privkey_sign_data2(ks->key, algo, 0, &d, &s);
	}
	if (err < 0)
		return -EIO;
	if (s.size == 0 || s.size > cap) {
		gnutls_free(s.data);
		return -EOVERFLOW;
	}
	memcpy(sig, s.data, s.size);
	*sig_len = s.size;
	gnutls_free(s.data);
	return 0;
}
