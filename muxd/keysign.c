/* SPDX-License-Identifier: MIT */
/* The monitor's signing key (muxd/keysign.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "b64.h"
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

/* A PEM private key file's size at most (an RSA-8192 key is some 6.5 KB). */
#define KEY_FILE_MAX	16384

/* keysign.h: GnuTLS's own PEM path frees copies of the key unwiped. */
int keysign_read_der(const char *path, uint8_t **der, size_t *der_len)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ";
	char *text = NULL, *p, *q, *b64 = NULL;
	size_t n = 0, m = 0;
	struct stat st;
	ssize_t r;
	int fd, ret = -EINVAL, k;

	*der = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > KEY_FILE_MAX)
		goto out;
	text = calloc(1, (size_t)st.st_size + 1);
	b64 = calloc(1, (size_t)st.st_size + 1);
	*der = calloc(1, (size_t)st.st_size);
	if (!text || !b64 || !*der) {
		ret = -ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, text + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		n += (size_t)r;
	}
	/*
	 * The private key's block (its BEGIN line ends "PRIVATE KEY-----":
	 * PKCS #8, EC or RSA), skipping others such as the EC PARAMETERS
	 * `openssl ecparam -genkey` writes first; its body between the
	 * BEGIN line and the END line, white space out.
	 */
	for (p = strstr(text, begin); p; p = strstr(p + 1, begin)) {
		q = strchr(p, '\n');
		if (q && q > p && q[-1] == '\r')
			q--;
		if (q && q - p >= 16 && !strncmp(q - 16, "PRIVATE KEY-----", 16))
			break;
	}
	p = p ? strchr(p, '\n') : NULL;
	q = p ? strstr(p, end) : NULL;
	if (!q)
		goto out;
	for (p++; p < q; p++)
		if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
			b64[m++] = *p;
	k = b64_decode(b64, m, *der, (size_t)st.st_size);
	if (k > 0) {
		*der_len = (size_t)k;
		ret = 0;
	}
out:
	if (text) {
		secmem_wipe(text, (size_t)st.st_size + 1);
		free(text);
	}
	if (b64) {
		secmem_wipe(b64, (size_t)st.st_size + 1);
		free(b64);
	}
	if (ret < 0 && *der) {
		secmem_wipe(*der, (size_t)st.st_size);
		free(*der);
		*der = NULL;
	}
	close(fd);
	return ret;
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
	{
		uint8_t *der = NULL;
		size_t dl = 0;

		err = keysign_read_der(key_file, &der, &dl) < 0 ? GNUTLS_E_FILE_ERROR : 0;
		kd.data = der;
		kd.size = (unsigned)dl;
	}
	if (err >= 0)
		err = gnutls_privkey_init(&ks->key);
	if (err >= 0)
		err = gnutls_privkey_import_x509_raw(ks->key, &kd, GNUTLS_X509_FMT_DER, NULL, 0);
	if (kd.data) {
		secmem_wipe(kd.data, kd.size);
		free(kd.data);
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
