/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "homeid.h"
#include "rsign.h"

int rsign_key(gnutls_privkey_t key, struct rsign *out, uint8_t id[RMSG_ID_LEN])
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { NULL, 0 };
	int ret = -EIO;

	if (gnutls_pubkey_init(&pub) < 0)
		return -ENOMEM;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d) < 0)
		goto out;
	ret = -EMSGSIZE;
	if (d.size == 0 || d.size > RMSG_SPKI_MAX)
		goto out;
	memcpy(out->spki, d.data, d.size);
	out->spki_len = (uint16_t)d.size;
	ret = homeid_from_spki(out->spki, out->spki_len, id);
out:
	gnutls_free(d.data);
	gnutls_pubkey_deinit(pub);
	return ret;
}

int rsign_register(gnutls_privkey_t key, const struct rmsg *ch, struct rsign *out,
		   struct rmsg *m)
{
	uint8_t tbs[RMSG_TBS_LEN], id[RMSG_ID_LEN];
	gnutls_datum_t td = { tbs, sizeof(tbs) }, sig = { NULL, 0 };
	gnutls_sign_algorithm_t algo;
	unsigned bits = 0;
	int pk, ret;

	if (ch->type != RMSG_REG_CHALLENGE)
		return -EINVAL;
	ret = rsign_key(key, out, id);
	if (ret < 0)
		return ret;
	pk = gnutls_privkey_get_pk_algorithm(key, &bits);
	if (pk == GNUTLS_PK_ECDSA && bits == 256)
		algo = GNUTLS_SIGN_ECDSA_SHA256;
	else if (pk == GNUTLS_PK_EDDSA_ED25519)
		algo = GNUTLS_SIGN_EDDSA_ED25519;
	else
		return -EINVAL;
	rmsg_register_tbs(tbs, ch->id, ch->ts, ch->cookie);
	if (gnutls_privkey_sign_data2(key, algo, 0, &td, &sig) < 0)
		return -EIO;
	ret = -EMSGSIZE;
	if (sig.size == 0 || sig.size > RMSG_SIG_MAX)
		goto out;
	memcpy(out->sig, sig.data, sig.size);
	out->sig_len = (uint16_t)sig.size;
	memset(m, 0, sizeof(*m));
	m->type = RMSG_REGISTER;
	/* The id the challenge names: the relay checks it is the key's. */
	memcpy(m->id, ch->id, RMSG_ID_LEN);
	m->ts = ch->ts;
	memcpy(m->cookie, ch->cookie, RMSG_COOKIE_LEN);
	m->spki = out->spki;
	m->spki_len = out->spki_len;
	m->sig = out->sig;
	m->sig_len = out->sig_len;
	ret = 0;
out:
	gnutls_free(sig.data);
	return ret;
}
