/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "homeid.h"

static const char homeid_alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

int homeid_from_spki(const uint8_t *spki, size_t len, uint8_t id[HOMEID_LEN])
{
	uint8_t h[32];

	if (!spki || len == 0)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, len, h) < 0)
		return -EIO;
	memcpy(id, h, HOMEID_LEN);
	return 0;
}

int homeid_from_cert_pem(const char *pem, size_t len, uint8_t id[HOMEID_LEN])
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in = { (unsigned char *)pem, (unsigned)len };
	gnutls_datum_t spki = { NULL, 0 };
	int ret = -EBADMSG;

	if (len == 0 || len > (64u << 10))
		return -EBADMSG;
	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&pub) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0)
		goto out;
	ret = homeid_from_spki(spki.data, spki.size, id);
out:
	gnutls_free(spki.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

void homeid_to_text(const uint8_t id[HOMEID_LEN], char text[HOMEID_TEXT_LEN + 1])
{
	unsigned acc = 0, bits = 0;
	size_t i, n = 0;

	for (i = 0; i < HOMEID_LEN; i++) {
		acc = (acc << 8 | id[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			text[n++] = homeid_alpha[(acc >> bits) & 31];
		}
	}
	/* 128 bits = 25 groups of 5 and 3 bits left, padded with zeroes. */
	if (bits)
		text[n++] = homeid_alpha[(acc << (5 - bits)) & 31];
	text[n] = '\0';
}

static int homeid_val(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a';
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= '2' && ch <= '7')
		return ch - '2' + 26;
	return -1;
}

int homeid_parse(const char *text, uint8_t id[HOMEID_LEN])
{
	unsigned acc = 0, bits = 0;
	size_t i, n = 0;
	int v;

	if (!text || strlen(text) != HOMEID_TEXT_LEN)
		return -EINVAL;
	for (i = 0; i < HOMEID_TEXT_LEN; i++) {
		v = homeid_val(text[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 5 | (unsigned)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			id[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* 130 bits read, 128 used: the 2 left over must be zero. */
	if (n != HOMEID_LEN || (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return 0;
}
