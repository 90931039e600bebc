/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "cursor.h"
#include "homeid.h"
#include "rsign.h"

_Static_assert(RMSG_REGISTER2_MAX <= RMSG_MAX, "a REGISTER2 fits one relay datagram");

/* The one signature algorithm for a key: ECDSA P-256 (SHA-256) or Ed25519. */
static int rsign_algo(int pk, unsigned bits)
{
	if (pk == GNUTLS_PK_ECDSA && bits == 256)
		return GNUTLS_SIGN_ECDSA_SHA256;
	if (pk == GNUTLS_PK_EDDSA_ED25519)
		return GNUTLS_SIGN_EDDSA_ED25519;
	return GNUTLS_SIGN_UNKNOWN;
}

static int rsign_pub_algo(gnutls_pubkey_t pub)
{
	unsigned bits = 0;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);

	return rsign_algo(pk, bits);
}

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

/*
 * The part REGISTER and REGISTER2 share: the challenge's fields echoed
 * and key's signature over them (rmsg_register_tbs: the type is signed,
 * so neither version's signature passes as the other's) into out->sig.
 */
static int rsign_challenge(gnutls_privkey_t key, uint8_t type, const struct rmsg *ch,
			   struct rsign *out, struct rmsg *m)
{
	uint8_t tbs[RMSG_TBS_LEN];
	gnutls_datum_t td = { tbs, sizeof(tbs) }, sig = { NULL, 0 };
	unsigned bits = 0;
	int algo, pk, ret;

	pk = gnutls_privkey_get_pk_algorithm(key, &bits);
	algo = rsign_algo(pk, bits);
	if (algo == GNUTLS_SIGN_UNKNOWN)
		return -EINVAL;
	rmsg_register_tbs(tbs, type, ch->id, ch->ts, ch->cookie);
	if (gnutls_privkey_sign_data2(key, (gnutls_sign_algorithm_t)algo, 0, &td, &sig) < 0)
		return -EIO;
	ret = -EMSGSIZE;
	if (sig.size == 0 || sig.size > RMSG_SIG_MAX)
		goto out;
	memcpy(out->sig, sig.data, sig.size);
	out->sig_len = (uint16_t)sig.size;
	memset(m, 0, sizeof(*m));
	m->type = type;
	/* The id the challenge names: the relay checks it is the key's. */
	memcpy(m->id, ch->id, RMSG_ID_LEN);
	m->ts = ch->ts;
	memcpy(m->cookie, ch->cookie, RMSG_COOKIE_LEN);
	m->sig = out->sig;
	m->sig_len = out->sig_len;
	ret = 0;
out:
	gnutls_free(sig.data);
	return ret;
}

int rsign_register(gnutls_privkey_t key, const struct rmsg *ch, struct rsign *out,
		   struct rmsg *m)
{
	uint8_t id[RMSG_ID_LEN];
	int ret;

	if (ch->type != RMSG_REG_CHALLENGE)
		return -EINVAL;
	ret = rsign_key(key, out, id);
	if (ret < 0)
		return ret;
	ret = rsign_challenge(key, RMSG_REGISTER, ch, out, m);
	if (ret < 0)
		return ret;
	m->spki = out->spki;
	m->spki_len = out->spki_len;
	return 0;
}

/*
 * A DER header (RFC 5280 uses DER, X.690 section 10): tag, then a
 * definite length in its shortest form, at most two length octets (a
 * registration certificate is under RMSG_CERT_MAX bytes). The content
 * length, or -1.
 */
static long rsign_der_hdr(struct cur *c, uint8_t tag)
{
	uint8_t t = cur_u8(c), b = cur_u8(c);
	long n = -1;

	if (b < 0x80) {
		n = b;
	} else if (b == 0x81) {
		n = cur_u8(c);
		if (n < 0x80)
			n = -1;
	} else if (b == 0x82) {
		n = cur_be16(c);
		if (n < 0x100)
			n = -1;
	}
	if (!cur_is_ok(c) || t != tag || n < 0 || (size_t)n > cur_left(c))
		return -1;
	return n;
}

/*
 * The bytes a certificate's signature covers: its tbsCertificate element
 * whole, the first element of the outer SEQUENCE (RFC 5280 4.1.1.1).
 * GnuTLS 3.7 has no call that returns them for a certificate checked
 * against a bare public key (gnutls_x509_crt_verify wants the issuer's
 * certificate, which the relay never sees), so they are taken here from
 * the DER that gnutls_x509_crt_import has already parsed whole: two
 * headers, nothing else read by hand.
 */
static int rsign_tbs_span(const uint8_t *der, size_t len, gnutls_datum_t *tbs)
{
	struct cur c;
	size_t at;
	long n;

	cur_init(&c, der, len);
	n = rsign_der_hdr(&c, 0x30);
	if (n < 0 || (size_t)n != cur_left(&c))
		return -EBADMSG;
	at = c.off;
	n = rsign_der_hdr(&c, 0x30);
	if (n < 0)
		return -EBADMSG;
	tbs->data = (unsigned char *)der + at;
	tbs->size = (unsigned)(c.off - at + (size_t)n);
	return 0;
}

/* The certificate carries the registration purpose (RFC 5280 4.2.1.12). */
static bool rsign_has_purpose(gnutls_x509_crt_t crt)
{
	char oid[128];
	size_t n;
	unsigned i;

	/* A certificate has a handful of purposes; more is not ours. */
	for (i = 0; i < 16; i++) {
		n = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &n, NULL) < 0)
			return false;
		if (!strcmp(oid, HOMEID_REGKEY_OID))
			return true;
	}
	return false;
}

/*
 * What both sides check of a registration certificate (DER), ca being
 * the CA's key: it parses, has the purpose, is valid at now_s (unless
 * RSIGN_ANY_TIME: the gateway counts the days left itself), and the CA's
 * key signed it, the signature last: a certificate that fails the cheap
 * checks costs no verification. On 0, *crt is the parsed certificate
 * (the caller's to free). Errors as rsign_verify's.
 */
#define RSIGN_ANY_TIME	INT64_MIN

static int rsign_cert_check(gnutls_pubkey_t ca, const uint8_t *der, size_t len,
			    int64_t now_s, gnutls_x509_crt_t *crt)
{
	time_t nb, na;
	gnutls_datum_t d = { (unsigned char *)der, (unsigned)len }, tbs, sig = { NULL, 0 };
	uint8_t sigbuf[RMSG_SIG_MAX];
	size_t sl = sizeof(sigbuf);
	int algo, ret;

	*crt = NULL;
	if (len == 0 || len > RMSG_CERT_MAX)
		return -EMSGSIZE;
	if (gnutls_x509_crt_init(crt) < 0)
		return -ENOMEM;
	ret = -EBADMSG;
	if (gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    rsign_tbs_span(der, len, &tbs) < 0)
		goto out;
	ret = -EPERM;
	if (!rsign_has_purpose(*crt))
		goto out;
	/* The issuer backdates not-before by 5 minutes for clock skew. */
	ret = -EKEYEXPIRED;
	nb = gnutls_x509_crt_get_activation_time(*crt);
	na = gnutls_x509_crt_get_expiration_time(*crt);
	if (now_s != RSIGN_ANY_TIME &&
	    (nb == (time_t)-1 || na == (time_t)-1 || now_s < (int64_t)nb || now_s > (int64_t)na))
		goto out;
	/* Signed with the algorithm the CA's key has, by that key. */
	ret = -ENOKEY;
	algo = rsign_pub_algo(ca);
	if (algo == GNUTLS_SIGN_UNKNOWN ||
	    gnutls_x509_crt_get_signature_algorithm(*crt) != algo ||
	    gnutls_x509_crt_get_signature(*crt, (char *)sigbuf, &sl) < 0)
		goto out;
	sig.data = sigbuf;
	sig.size = (unsigned)sl;
	if (gnutls_pubkey_verify_data2(ca, (gnutls_sign_algorithm_t)algo, 0, &tbs, &sig) < 0)
		goto out;
	ret = 0;
out:
	if (ret) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
	}
	return ret;
}

/*
 * The CA's SPKI m carries, once it hashes to m's id (a hash first: nothing
 * is parsed for an id that is not the key's), imported into *ca with its
 * one algorithm.
 */
static int rsign_id_key(const struct rmsg *m, gnutls_pubkey_t *ca)
{
	gnutls_datum_t d = { (unsigned char *)m->spki, m->spki_len };
	uint8_t id[RMSG_ID_LEN];

	*ca = NULL;
	if (homeid_from_spki(m->spki, m->spki_len, id) < 0 ||
	    memcmp(id, m->id, RMSG_ID_LEN) != 0)
		return -ENXIO;
	if (gnutls_pubkey_init(ca) < 0) {
		*ca = NULL;
		return -ENOMEM;
	}
	if (gnutls_pubkey_import(*ca, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    rsign_pub_algo(*ca) == GNUTLS_SIGN_UNKNOWN) {
		gnutls_pubkey_deinit(*ca);
		*ca = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* pub's signature over m's challenge, as rsign_challenge makes it. */
static int rsign_challenge_ok(gnutls_pubkey_t pub, const struct rmsg *m)
{
	uint8_t tbs[RMSG_TBS_LEN];
	gnutls_datum_t td = { tbs, sizeof(tbs) };
	gnutls_datum_t sd = { (unsigned char *)m->sig, m->sig_len };
	int algo = rsign_pub_algo(pub);

	if (algo == GNUTLS_SIGN_UNKNOWN)
		return -EBADMSG;
	rmsg_register_tbs(tbs, m->type, m->id, m->ts, m->cookie);
	return gnutls_pubkey_verify_data2(pub, (gnutls_sign_algorithm_t)algo, 0, &td, &sd) < 0 ?
	       -EACCES : 0;
}

int rsign_verify(const struct rmsg *m, int64_t now_s, int64_t *not_after)
{
	gnutls_pubkey_t ca = NULL, pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	int64_t end = RSIGN_NO_END;
	int ret;

	if ((m->type != RMSG_REGISTER && m->type != RMSG_REGISTER2) || !m->spki || !m->sig ||
	    (m->type == RMSG_REGISTER2 && !m->cert))
		return -EINVAL;
	ret = rsign_id_key(m, &ca);
	if (ret)
		goto out;
	if (m->type == RMSG_REGISTER) {
		/* v1: the CA key itself signed the challenge. */
		ret = rsign_challenge_ok(ca, m);
		goto out;
	}
	/* now_s is the relay's clock. */
	ret = rsign_cert_check(ca, m->cert, m->cert_len, now_s, &crt);
	if (ret)
		goto out;
	ret = -ENOMEM;
	if (gnutls_pubkey_init(&pub) < 0)
		goto out;
	ret = -EBADMSG;
	if (gnutls_pubkey_import_x509(pub, crt, 0) < 0)
		goto out;
	ret = rsign_challenge_ok(pub, m);
	/* rsign_cert_check has seen the date parse (not -1). */
	end = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
out:
	if (!ret && not_after)
		*not_after = end;
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	gnutls_pubkey_deinit(ca);
	return ret;
}

const char *rsign_why(int err)
{
	switch (err) {
	case 0:
		return "valid";
	case -ENXIO:
		return "the CA key sent does not hash to the id";
	case -EKEYREJECTED:
		return "the certificate is for another key than the registration key";
	case -EBADMSG:
		return "a key or certificate that does not parse, or of an unsupported type";
	case -EMSGSIZE:
		return "a key or certificate too large";
	case -EPERM:
		return "the certificate is not for relay registration (its extended "
		       "key usage)";
	case -EKEYEXPIRED:
		return "the certificate has expired or is not yet valid";
	case -ENOKEY:
		return "the certificate is not signed by the CA key of the id";
	case -EACCES:
		return "the signature over the challenge is not by the key shown "
		       "(the CA's, or for REGISTER2 the certified one)";
	default:
		return "the proof could not be checked";
	}
}

/* A PEM certificate, parsed. */
static int rsign_pem_crt(gnutls_x509_crt_t *crt, const char *pem, size_t len)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)len };

	if (gnutls_x509_crt_init(crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		return -EBADMSG;
	}
	return 0;
}

int rsign_cred_init(struct rsign_cred *c, gnutls_privkey_t key, const char *ca_pem,
		    size_t ca_len, const char *cert_pem, size_t cert_len)
{
	gnutls_x509_crt_t ca = NULL, crt = NULL, chk = NULL;
	gnutls_pubkey_t cap = NULL, pub = NULL, kpub = NULL;
	gnutls_datum_t der = { NULL, 0 }, a = { NULL, 0 }, p = { NULL, 0 }, b = { NULL, 0 };
	int ret;

	memset(c, 0, sizeof(*c));
	ret = rsign_pem_crt(&ca, ca_pem, ca_len);
	if (!ret)
		ret = rsign_pem_crt(&crt, cert_pem, cert_len);
	if (ret)
		goto out;
	ret = -ENOMEM;
	if (gnutls_pubkey_init(&cap) < 0 || gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_init(&kpub) < 0)
		goto out;
	ret = -EBADMSG;
	if (gnutls_pubkey_import_x509(cap, ca, 0) < 0 ||
	    rsign_pub_algo(cap) == GNUTLS_SIGN_UNKNOWN ||
	    gnutls_pubkey_export2(cap, GNUTLS_X509_FMT_DER, &a) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	ret = -EMSGSIZE;
	if (a.size == 0 || a.size > RMSG_SPKI_MAX || der.size == 0 ||
	    der.size > RMSG_CERT_MAX)
		goto out;
	/* The relay's own check, on the bytes the relay will get. */
	ret = rsign_cert_check(cap, der.data, der.size, RSIGN_ANY_TIME, &chk);
	if (ret)
		goto out;
	/* The certificate is for the key the monitor holds. */
	ret = -EKEYREJECTED;
	if (gnutls_pubkey_import_x509(pub, chk, 0) < 0 ||
	    gnutls_pubkey_import_privkey(kpub, key, 0, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &p) < 0 ||
	    gnutls_pubkey_export2(kpub, GNUTLS_X509_FMT_DER, &b) < 0 ||
	    p.size != b.size || memcmp(p.data, b.data, p.size))
		goto out;
	/* The CA's SPKI, exported once above and sized against RMSG_SPKI_MAX. */
	memcpy(c->spki, a.data, a.size);
	c->spki_len = (uint16_t)a.size;
	memcpy(c->cert, der.data, der.size);
	c->cert_len = (uint16_t)der.size;
	c->not_before = (int64_t)gnutls_x509_crt_get_activation_time(chk);
	c->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(chk);
	ret = homeid_from_spki(c->spki, c->spki_len, c->id);
out:
	if (ret)
		memset(c, 0, sizeof(*c));
	gnutls_free(der.data);
	gnutls_free(a.data);
	gnutls_free(p.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(kpub);
	gnutls_pubkey_deinit(pub);
	gnutls_pubkey_deinit(cap);
	gnutls_x509_crt_deinit(chk);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	return ret;
}

int rsign_register2(gnutls_privkey_t key, const struct rsign_cred *c,
		    const struct rmsg *ch, struct rsign *out, struct rmsg *m)
{
	int ret;

	if (ch->type != RMSG_REG_CHALLENGE || c->cert_len == 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	ret = rsign_challenge(key, RMSG_REGISTER2, ch, out, m);
	if (ret < 0)
		return ret;
	m->spki = c->spki;
	m->spki_len = c->spki_len;
	m->cert = c->cert;
	m->cert_len = c->cert_len;
	return 0;
}
