/* SPDX-License-Identifier: MIT */
/* Certificate login inside the channel (tunnel/certlogin.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "certlogin.h"
#include "hex.h"
#include "secmem.h"
#include "tunnel.h"

struct tun_certca {
	gnutls_x509_trust_list_t tl;
};

struct tun_certkey {
	gnutls_privkey_t key;
	gnutls_sign_algorithm_t algo;
	gnutls_datum_t der;
};

void tun_certlogin_data(uint8_t *out, const uint8_t chal[TUN_CHAL_LEN],
			const uint8_t exporter[TUN_EXPORTER_LEN])
{
	/* The context's NUL is part of it: no prefix of another context. */
	memcpy(out, TUN_CERTLOGIN_CONTEXT, sizeof(TUN_CERTLOGIN_CONTEXT));
	memcpy(out + sizeof(TUN_CERTLOGIN_CONTEXT), chal, TUN_CHAL_LEN);
	memcpy(out + sizeof(TUN_CERTLOGIN_CONTEXT) + TUN_CHAL_LEN, exporter,
	       TUN_EXPORTER_LEN);
}

/*
 * The one algorithm a key of this type signs a login with, so that a
 * verifier never takes a weaker one the client did not choose.
 */
static gnutls_sign_algorithm_t login_algo(gnutls_pubkey_t pub)
{
	unsigned bits = 0;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);

	switch (pk) {
	case GNUTLS_PK_ECDSA:
		return gnutls_pk_to_sign(GNUTLS_PK_ECDSA, bits <= 256 ? GNUTLS_DIG_SHA256 :
					 bits <= 384 ? GNUTLS_DIG_SHA384 : GNUTLS_DIG_SHA512);
	case GNUTLS_PK_EDDSA_ED25519:
		return GNUTLS_SIGN_EDDSA_ED25519;
	case GNUTLS_PK_RSA:
		return bits >= 2048 ? GNUTLS_SIGN_RSA_SHA256 : GNUTLS_SIGN_UNKNOWN;
	default:
		return GNUTLS_SIGN_UNKNOWN;
	}
}

int tun_certca_new(struct tun_certca **out, const char *ca_file)
{
	struct tun_certca *ca;
	int n;

	*out = NULL;
	if (!ca_file)
		return -EINVAL;
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	if (gnutls_x509_trust_list_init(&ca->tl, 0) < 0) {
		free(ca);
		return -ENOMEM;
	}
	n = gnutls_x509_trust_list_add_trust_file(ca->tl, ca_file, NULL,
						  GNUTLS_X509_FMT_PEM, 0, 0);
	if (n <= 0) {
		tun_certca_free(ca);
		return -EINVAL;
	}
	*out = ca;
	return 0;
}

void tun_certca_free(struct tun_certca *ca)
{
	if (!ca)
		return;
	gnutls_x509_trust_list_deinit(ca->tl, 1);
	free(ca);
}

/* CN, serial and fingerprint of a certificate already verified. */
static int cert_info(gnutls_x509_crt_t crt, const gnutls_datum_t *der,
		     struct tun_cert_info *ci)
{
	uint8_t serial[40];
	size_t n = sizeof(serial);
	char cn[TUN_USER_MAX + 2];
	size_t cnlen = sizeof(cn);

	memset(ci, 0, sizeof(*ci));
	/* 20 octets at most (RFC 5280 4.1.2.2): the room of ci->serial. */
	if (gnutls_x509_crt_get_serial(crt, serial, &n) < 0 ||
	    2 * n + 1 > sizeof(ci->serial))
		return -EBADMSG;
	hex_encode(serial, n, ci->serial);
	/* A CN too long for a user name (or with a NUL) stays empty, never cut. */
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
					  cn, &cnlen) >= 0 &&
	    cnlen <= TUN_USER_MAX && strlen(cn) == cnlen)
		memcpy(ci->cn, cn, cnlen + 1);
	ci->not_after = gnutls_x509_crt_get_expiration_time(crt);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, ci->sha256) < 0)
		return -EIO;
	return 0;
}

int tun_certlogin_verify(const struct tun_certca *ca, const uint8_t *cert,
			 size_t cert_len, const uint8_t *sig, size_t sig_len,
			 const uint8_t chal[TUN_CHAL_LEN],
			 const uint8_t exporter[TUN_EXPORTER_LEN],
			 struct tun_cert_info *ci)
{
	gnutls_typed_vdata_st vd = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (void *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	uint8_t data[TUN_CERTLOGIN_DATA_LEN];
	gnutls_datum_t der = { (unsigned char *)cert, (unsigned)cert_len };
	gnutls_datum_t sd = { (unsigned char *)sig, (unsigned)sig_len };
	gnutls_datum_t dd = { data, sizeof(data) };
	gnutls_datum_t again = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_sign_algorithm_t algo;
	unsigned status = 0, usage = 0;
	int ret = -EBADMSG;

	memset(ci, 0, sizeof(*ci));
	if (!ca || !cert || !sig || cert_len == 0 || cert_len > TUN_CERT_DER_MAX ||
	    sig_len == 0 || sig_len > TUN_CERT_SIG_MAX)
		return -EBADMSG;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	/*
	 * Exactly one certificate, nothing after it: what is hashed into
	 * the fingerprint (the authdb's key) is what was verified.
	 */
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &again) < 0 ||
	    again.size != der.size || memcmp(again.data, der.data, der.size) != 0)
		goto out;
	/* What it claims, for the log of a refusal too; it proves nothing yet. */
	ret = cert_info(crt, &der, ci);
	if (ret < 0)
		goto out;
	ret = -EKEYREJECTED;
	if (gnutls_x509_trust_list_verify_crt2(ca->tl, &crt, 1, &vd, 1, 0,
					       &status, NULL) < 0)
		goto out;
	if (status) {
		ret = status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED) ?
		      -EKEYEXPIRED : status & GNUTLS_CERT_REVOKED ? -EKEYREVOKED :
		      -EKEYREJECTED;
		goto out;
	}
	/* A key usage extension, when present, must allow signatures. */
	if (gnutls_x509_crt_get_key_usage(crt, &usage, NULL) >= 0 &&
	    !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE))
		goto out;
	if (gnutls_pubkey_init(&pub) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	if (gnutls_pubkey_import_x509(pub, crt, 0) < 0)
		goto out;
	algo = login_algo(pub);
	if (algo == GNUTLS_SIGN_UNKNOWN)
		goto out;
	tun_certlogin_data(data, chal, exporter);
	if (gnutls_pubkey_verify_data2(pub, algo, 0, &dd, &sd) < 0) {
		ret = -EACCES;
		goto out;
	}
	ret = 0;
out:
	gnutls_free(again.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return ret;
}

int tun_certlogin_reason(int err)
{
	switch (err) {
	case 0:
		return TUN_R_NONE;
	case -EKEYEXPIRED:
		return TUN_R_CERT_EXPIRED;
	case -EKEYREVOKED:
		return TUN_R_CERT_REVOKED;
	case -EACCES:
		return TUN_R_AUTH_FAILED;
	case -EBADMSG:
	case -EKEYREJECTED:
		return TUN_R_CERT_INVALID;
	default:
		return TUN_R_INTERNAL;
	}
}

void tun_certkey_free(struct tun_certkey *ck)
{
	if (!ck)
		return;
	if (ck->key)
		gnutls_privkey_deinit(ck->key);
	gnutls_free(ck->der.data);
	free(ck);
}

int tun_certkey_load(struct tun_certkey **out, const char *cert_file,
		     const char *key_file, char *errbuf, size_t errlen)
{
	gnutls_datum_t cd = { NULL, 0 }, kd = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL, kpub = NULL;
	struct tun_certkey *ck;
	uint8_t id1[64], id2[64];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	const char *what = cert_file;
	bool too_big;
	int err;

	*out = NULL;
	ck = calloc(1, sizeof(*ck));
	if (!ck)
		return -ENOMEM;
	err = gnutls_load_file(cert_file, &cd);
	if (err >= 0)
		err = gnutls_x509_crt_init(&crt);
	if (err >= 0)
		err = gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_PEM);
	if (err >= 0)
		err = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &ck->der);
	too_big = err >= 0 && ck->der.size > TUN_CERT_DER_MAX;
	if (too_big)
		err = GNUTLS_E_INVALID_REQUEST;
	if (err >= 0)
		err = gnutls_pubkey_init(&pub);
	if (err >= 0)
		err = gnutls_pubkey_import_x509(pub, crt, 0);
	if (err >= 0)
		err = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id1, &l1);
	if (err >= 0) {
		what = key_file;
		err = gnutls_load_file(key_file, &kd);
	}
	if (err >= 0)
		err = gnutls_privkey_init(&ck->key);
	if (err >= 0)
		err = gnutls_privkey_import_x509_raw(ck->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (err >= 0)
		err = gnutls_pubkey_init(&kpub);
	if (err >= 0)
		err = gnutls_pubkey_import_privkey(kpub, ck->key, 0, 0);
	if (err >= 0)
		err = gnutls_pubkey_get_key_id(kpub, GNUTLS_KEYID_USE_SHA256, id2, &l2);
	if (err >= 0 && (l1 != l2 || memcmp(id1, id2, l1) != 0))
		err = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
	if (err >= 0) {
		ck->algo = login_algo(pub);
		if (ck->algo == GNUTLS_SIGN_UNKNOWN)
			err = GNUTLS_E_UNKNOWN_PK_ALGORITHM;
	}
	if (kd.data) {
		secmem_wipe(kd.data, kd.size);
		gnutls_free(kd.data);
	}
	gnutls_free(cd.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (kpub)
		gnutls_pubkey_deinit(kpub);
	if (err < 0) {
		if (too_big)
			snprintf(errbuf, errlen, "%s: certificate too large for the "
				 "tunnel's login (%u bytes, at most %u): use one "
				 "issued by bgw-authdb", cert_file, ck->der.size,
				 (unsigned)TUN_CERT_DER_MAX);
		else
			snprintf(errbuf, errlen, "%s: %s", what, gnutls_strerror(err));
		tun_certkey_free(ck);
		return -EINVAL;
	}
	*out = ck;
	return 0;
}

const uint8_t *tun_certkey_der(const struct tun_certkey *ck, size_t *len)
{
	*len = ck->der.size;
	return ck->der.data;
}

int tun_certkey_sign(const struct tun_certkey *ck, const uint8_t chal[TUN_CHAL_LEN],
		     const uint8_t exporter[TUN_EXPORTER_LEN], uint8_t *sig,
		     size_t cap, size_t *sig_len)
{
	uint8_t data[TUN_CERTLOGIN_DATA_LEN];
	gnutls_datum_t dd = { data, sizeof(data) }, s = { NULL, 0 };
	int ret = 0;

	tun_certlogin_data(data, chal, exporter);
	if (gnutls_privkey_sign_data2(ck->key, ck->algo, 0, &dd, &s) < 0)
		return -EIO;
	if (s.size == 0 || s.size > cap || s.size > TUN_CERT_SIG_MAX) {
		ret = -EOVERFLOW;
	} else {
		memcpy(sig, s.data, s.size);
		*sig_len = s.size;
	}
	gnutls_free(s.data);
	return ret;
}
