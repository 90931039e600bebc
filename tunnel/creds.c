/* SPDX-License-Identifier: MIT */
/*
 * The server's credentials (tun_server_creds_*): the CA, the
 * certificate chain, and its key, read from a file or kept by the owner
 * and used through key_sign (a GnuTLS external private key).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>

#include "log.h"
#include "tunnel_int.h"

/*
 * A server key held by the owner (cfg.key_sign): GnuTLS sees an external
 * private key (gnutls_privkey_import_ext4) whose public half is the
 * certificate's and whose every signature is the owner's.
 */
struct ext_key {
	int (*sign)(void *user, int sign_algo, bool is_hash, const uint8_t *in,
		    size_t in_len, uint8_t *sig, size_t cap, size_t *sig_len);
	void *user;
	gnutls_pk_algorithm_t pk;
	unsigned bits;
};

static int ext_sign(struct ext_key *ek, gnutls_sign_algorithm_t algo, unsigned flags,
		    bool is_hash, const gnutls_datum_t *in, gnutls_datum_t *sig)
{
	uint8_t buf[TUN_SIG_MAX];
	size_t n = 0;

	/* TLS 1.0/1.1's raw RSA signature: not in our priorities, never signed. */
	if ((flags & GNUTLS_PRIVKEY_SIGN_FLAG_TLS1_RSA) || algo == GNUTLS_SIGN_RSA_RAW)
		return GNUTLS_E_INVALID_REQUEST;
	if (ek->sign(ek->user, (int)algo, is_hash, in->data, in->size, buf,
		     sizeof(buf), &n) < 0 || n == 0 || n > sizeof(buf))
		return GNUTLS_E_PK_SIGN_FAILED;
	sig->data = gnutls_malloc(n);
	if (!sig->data)
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(sig->data, buf, n);
	sig->size = (unsigned)n;
	return 0;
}

static int ext_sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
			 void *user, unsigned int flags, const gnutls_datum_t *hash,
			 gnutls_datum_t *sig)
{
	(void)key;
	return ext_sign(user, algo, flags, true, hash, sig);
}

static int ext_sign_data(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
			 void *user, unsigned int flags, const gnutls_datum_t *data,
			 gnutls_datum_t *sig)
{
	(void)key;
	return ext_sign(user, algo, flags, false, data, sig);
}

static int ext_info(gnutls_privkey_t key, unsigned int flags, void *user)
{
	struct ext_key *ek = user;

	(void)key;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO)
		return gnutls_sign_supports_pk_algorithm(GNUTLS_FLAGS_TO_SIGN_ALGO(flags),
							 ek->pk) ? 1 : 0;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return (int)ek->pk;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)ek->bits;
	if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO)
		return 0;	/* no preference */
	return GNUTLS_E_UNKNOWN_ALGORITHM;
}

static void ext_deinit(gnutls_privkey_t key, void *user)
{
	(void)key;
	free(user);
}

static int ext_creds_new(struct tun_creds **out, const struct tun_server_cfg *cfg,
			 void *user)
{
	gnutls_pcert_st pc[EXT_CHAIN_MAX];
	unsigned npc = EXT_CHAIN_MAX, i;
	gnutls_privkey_t key = NULL;
	struct ext_key *ek = NULL;
	struct tun_creds *cr;
	int ret, err;

	*out = NULL;
	if (!cfg->cert_file)
		return -EINVAL;
	ret = tun_creds_new(&cr, true, cfg->ca_file, NULL, NULL);
	if (ret < 0)
		return ret;
	err = gnutls_pcert_list_import_x509_file(pc, &npc, cfg->cert_file,
						 GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
	if (err < 0) {
		log_err("tunnel: credentials %s: %s", cfg->cert_file, gnutls_strerror(err));
		tun_creds_free(cr);
		return -EINVAL;
	}
	ek = calloc(1, sizeof(*ek));
	if (!ek) {
		err = GNUTLS_E_MEMORY_ERROR;
		goto fail;
	}
	ek->sign = cfg->key_sign;
	ek->user = user;
	err = gnutls_pubkey_get_pk_algorithm(pc[0].pubkey, &ek->bits);
	if (err < 0)
		goto fail;
	ek->pk = (gnutls_pk_algorithm_t)err;
	err = gnutls_privkey_init(&key);
	if (err < 0)
		goto fail;
	err = gnutls_privkey_import_ext4(key, ek, ext_sign_data, ext_sign_hash, NULL,
					 ext_deinit, ext_info,
					 GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (err < 0)
		goto fail;
	ek = NULL;	/* the key's now */
	/*
	 * GnuTLS would test the pair by having the key sign: a request to
	 * the owner, who holds the key and has checked that it matches the
	 * certificate itself (bgw-muxd: keysign_load, before any handshake),
	 * and who may not take signature requests from whoever loads these
	 * credentials (bgw-muxd's network front).
	 */
	gnutls_certificate_set_flags(cr->cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
	/* The chain and the key pass to the credentials. */
	err = gnutls_certificate_set_key(cr->cred, NULL, 0, pc, (int)npc, key);
	if (err < 0)
		goto fail;
	*out = cr;
	return 0;
fail:
	log_err("tunnel: credentials %s with the owner's key: %s", cfg->cert_file,
		gnutls_strerror(err));
	if (key)
		gnutls_privkey_deinit(key);
	free(ek);
	for (i = 0; i < npc; i++)
		gnutls_pcert_deinit(&pc[i]);
	tun_creds_free(cr);
	return -EINVAL;
}

int tun_server_creds_new(struct tun_creds **out, const struct tun_server_cfg *cfg,
			 void *user)
{
	if (!out || !cfg)
		return -EINVAL;
	if (cfg->key_sign)
		return ext_creds_new(out, cfg, user);
	return tun_creds_new(out, true, cfg->ca_file, cfg->cert_file, cfg->key_file);
}

void tun_server_creds_free(struct tun_creds *cr)
{
	tun_creds_free(cr);
}
