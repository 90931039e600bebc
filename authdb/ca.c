/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "bundle.h"
#include "ca.h"
#include "file.h"
#include "hex.h"
#include "secmem.h"
#include "homeid.h"
#include "log.h"

#define CA_SERIAL_LEN 16

static const char *const ca_files[] = { "ca.key", "ca.crt", "server.key",
					"server.crt" };

/* GnuTLS error -> errno, with one log line naming the step. */
static int gt(int rc, const char *what)
{
	if (rc >= 0)
		return 0;
	log_err("%s: %s", what, gnutls_strerror(rc));
	return -EIO;
}

static int gen_key(gnutls_x509_privkey_t *key)
{
	int ret;

	ret = gt(gnutls_x509_privkey_init(key), "key init");
	if (ret)
		return ret;
	ret = gt(gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
		 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
		 "ECDSA P-256 key generation");
	if (ret) {
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
	}
	return ret;
}

static int export_key(gnutls_x509_privkey_t key, gnutls_datum_t *out)
{
	return gt(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
						    GNUTLS_PKCS_PLAIN, out),
		  "key export");
}

static void datum_wipe(gnutls_datum_t *d)
{
	if (d->data) {
		secmem_wipe(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

/* The common part of every certificate we make. */
static int cert_base(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
		     const char *cn, time_t nb, time_t na, uint8_t *serial)
{
	uint8_t kid[64];
	size_t kid_len = sizeof(kid);
	int ret;

	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, CA_SERIAL_LEN))
		return -EIO;
	serial[0] &= 0x7f;	/* positive (RFC 5280 4.1.2.2) */
	serial[0] |= 0x40;	/* and exactly CA_SERIAL_LEN octets */
	ret = gt(gnutls_x509_crt_set_version(crt, 3), "version");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_serial(crt, serial, CA_SERIAL_LEN), "serial");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
						       0, cn, (unsigned)strlen(cn)),
			 "subject");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_key(crt, key), "key");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_activation_time(crt, nb), "not before");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_expiration_time(crt, na), "not after");
	if (!ret)
		ret = gt(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid,
						    &kid_len), "key id");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len),
			 "subject key id");
	return ret;
}

static int sign_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca,
		   gnutls_x509_privkey_t ca_key)
{
	uint8_t kid[64];
	size_t kid_len = sizeof(kid);
	int ret;

	ret = gt(gnutls_x509_crt_get_subject_key_id(ca, kid, &kid_len, NULL),
		 "CA key id");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_authority_key_id(crt, kid, kid_len),
			 "authority key id");
	if (!ret)
		ret = gt(gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0),
			 "signature");
	return ret;
}

static int path_in(char *out, size_t cap, const char *dir, const char *name)
{
	return snprintf(out, cap, "%s/%s", dir, name) >= (int)cap ? -ENAMETOOLONG : 0;
}

int ca_init(const char *dir, const char *ca_cn, const struct ca_server_names *srv,
	    unsigned days)
{
	gnutls_x509_privkey_t ca_key = NULL, srv_key = NULL;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_datum_t out[4] = { { NULL, 0 } };
	char paths[4][PATH_MAX];
	uint8_t serial[CA_SERIAL_LEN], ip[16];
	time_t now = time(NULL), na;
	size_t i, made = 0;
	int ret, af;

	if (!dir || !ca_cn || !srv || !srv->cn || srv->ndns > CA_NAMES_MAX ||
	    srv->nip > CA_NAMES_MAX || !days || days > 36500)
		return -EINVAL;
	na = now + (time_t)days * 86400;
	for (i = 0; i < 4; i++) {
		ret = path_in(paths[i], sizeof(paths[i]), dir, ca_files[i]);
		if (ret)
			return ret;
		if (access(paths[i], F_OK) == 0)
			return -EEXIST;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;

	ret = gen_key(&ca_key);
	if (ret)
		goto out;
	ret = gt(gnutls_x509_crt_init(&ca), "crt init");
	if (!ret)
		ret = cert_base(ca, ca_key, ca_cn, now - 300, na, serial);
	if (!ret)
		ret = gt(gnutls_x509_crt_set_basic_constraints(ca, 1, 0), "CA flag");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_key_usage(ca, GNUTLS_KEY_KEY_CERT_SIGN |
						       GNUTLS_KEY_CRL_SIGN), "key usage");
	if (!ret)
		ret = gt(gnutls_x509_crt_sign2(ca, ca, ca_key, GNUTLS_DIG_SHA256, 0),
			 "CA self-signature");
	if (ret)
		goto out;

	ret = gen_key(&srv_key);
	if (!ret)
		ret = gt(gnutls_x509_crt_init(&crt), "crt init");
	if (!ret)
		ret = cert_base(crt, srv_key, srv->cn, now - 300, na, serial);
	if (!ret)
		ret = gt(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), "CA flag");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE),
			 "key usage");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER,
							     0), "key purpose");
	for (i = 0; !ret && i < srv->ndns; i++)
		ret = gt(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
			 srv->dns[i], (unsigned)strlen(srv->dns[i]),
			 GNUTLS_FSAN_APPEND), "DNS name");
	for (i = 0; !ret && i < srv->nip; i++) {
		af = strchr(srv->ip[i], ':') ? AF_INET6 : AF_INET;
		if (inet_pton(af, srv->ip[i], ip) != 1) {
			log_err("not an IP address: '%s'", srv->ip[i]);
			ret = -EINVAL;
			break;
		}
		ret = gt(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS,
			 ip, af == AF_INET ? 4 : 16, GNUTLS_FSAN_APPEND), "IP address");
	}
	if (!ret)
		ret = sign_by(crt, ca, ca_key);
	if (ret)
		goto out;

	ret = export_key(ca_key, &out[0]);
	if (!ret)
		ret = gt(gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &out[1]), "export");
	if (!ret)
		ret = export_key(srv_key, &out[2]);
	if (!ret)
		ret = gt(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out[3]), "export");
	for (made = 0; !ret && made < 4; made++)
		ret = file_write_new(paths[made], out[made].data, out[made].size);
	if (ret) {
		/* Leave nothing half-made: remove what we created. */
		while (made-- > 0)
			unlink(paths[made]);
	}
out:
	for (i = 0; i < 4; i++)
		datum_wipe(&out[i]);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(ca_key);
	gnutls_x509_privkey_deinit(srv_key);
	return ret;
}

static int import_crt(gnutls_x509_crt_t *crt, const char *pem, size_t len)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)len };
	int ret;

	if (len > CA_PEM_MAX)
		return -EFBIG;
	ret = gt(gnutls_x509_crt_init(crt), "crt init");
	if (ret)
		return ret;
	if (gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		return -EBADMSG;
	}
	return 0;
}

static int crt_fpr(gnutls_x509_crt_t crt, uint8_t fpr[AUTHDB_FPR_LEN])
{
	size_t n = AUTHDB_FPR_LEN;

	return gt(gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fpr, &n),
		  "fingerprint");
}

static char *datum_str(gnutls_datum_t *d)
{
	char *s = malloc(d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
	}
	return s;
}

/*
 * Issue a leaf certificate for a new key with the CA in dir: CN cn,
 * digitalSignature, one extended key usage (purpose, critical or not).
 */
static int ca_issue_leaf(const char *dir, const char *cn, const char *purpose,
			 unsigned purpose_critical, time_t not_before,
			 time_t not_after, struct ca_issued *out)
{
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_datum_t d, kd = { NULL, 0 }, cd = { NULL, 0 };
	char path[PATH_MAX], *cakey_pem = NULL;
	uint8_t serial[CA_SERIAL_LEN];
	size_t len = 0, calen = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = path_in(path, sizeof(path), dir, "ca.key");
	if (!ret)
		ret = file_read_small(path, CA_PEM_MAX, &cakey_pem, &len);
	if (ret)
		goto out;
	ret = path_in(path, sizeof(path), dir, "ca.crt");
	if (!ret)
		ret = file_read_small(path, CA_PEM_MAX, &out->ca_pem, &calen);
	if (ret)
		goto out;
	ret = import_crt(&ca, out->ca_pem, calen);
	if (ret == -EBADMSG)
		log_err("%s: not a PEM certificate", path);
	if (ret)
		goto out;
	ret = gt(gnutls_x509_privkey_init(&ca_key), "key init");
	if (ret)
		goto out;
	d.data = (unsigned char *)cakey_pem;
	d.size = (unsigned)len;
	/* A damaged file, not a failure of the library: -EBADMSG, so the
	 * caller can say to restore it rather than report an I/O error. */
	if (gnutls_x509_privkey_import2(ca_key, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		if (!path_in(path, sizeof(path), dir, "ca.key"))
			log_err("%s: not a PEM private key", path);
		ret = -EBADMSG;
		goto out;
	}

	ret = gen_key(&key);
	if (!ret)
		ret = gt(gnutls_x509_crt_init(&crt), "crt init");
	if (!ret)
		ret = cert_base(crt, key, cn, not_before, not_after, serial);
	if (!ret)
		ret = gt(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), "CA flag");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE),
			 "key usage");
	if (!ret)
		ret = gt(gnutls_x509_crt_set_key_purpose_oid(crt, purpose,
							     purpose_critical), "key purpose");
	if (!ret)
		ret = sign_by(crt, ca, ca_key);
	if (!ret)
		ret = export_key(key, &kd);
	if (!ret)
		ret = gt(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd), "export");
	if (!ret)
		ret = crt_fpr(crt, out->fpr);
	if (!ret)
		ret = crt_fpr(ca, out->ca_fpr);
	if (ret)
		goto out;
	ret = -ENOMEM;
	out->key_pem = datum_str(&kd);
	out->cert_pem = datum_str(&cd);
	if (!out->key_pem || !out->cert_pem)
		goto out;
	hex_encode(serial, sizeof(serial), out->serial);
	ret = 0;
out:
	if (ret)
		ca_issued_wipe(out);
	datum_wipe(&kd);
	datum_wipe(&cd);
	if (cakey_pem) {
		explicit_bzero(cakey_pem, len);
		free(cakey_pem);
	}
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(ca_key);
	gnutls_x509_privkey_deinit(key);
	return ret;
}

int ca_issue_client(const char *dir, const char *user, time_t not_before,
		    time_t not_after, struct ca_issued *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!dir || !authdb_name_is_valid(user) || not_after <= not_before)
		return -EINVAL;
	return ca_issue_leaf(dir, user, GNUTLS_KP_TLS_WWW_CLIENT, 0, not_before,
			     not_after, out);
}

int ca_issue_relay_key(const char *dir, unsigned days, struct ca_issued *out)
{
	time_t now = time(NULL);

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!dir || days == 0 || days > CA_DAYS_MAX_RELAY)
		return -EINVAL;
	/*
	 * Critical: software that does not know the purpose must not take
	 * the certificate for anything (RFC 5280 4.2); relays look for it.
	 */
	return ca_issue_leaf(dir, "bgw relay registration", HOMEID_REGKEY_OID, 1,
			     now - 300, now + (time_t)days * 86400, out);
}

void ca_issued_wipe(struct ca_issued *c)
{
	if (!c)
		return;
	if (c->key_pem) {
		explicit_bzero(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	free(c->cert_pem);
	free(c->ca_pem);
	memset(c, 0, sizeof(*c));
}

int ca_verify_client(const char *ca_pem, size_t ca_len, const char *cert_pem,
		     size_t cert_len, const struct authdb *db,
		     char user[AUTHDB_NAME_MAX + 1])
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	uint8_t serial[64], fpr[AUTHDB_FPR_LEN];
	char shex[2 * sizeof(serial) + 1], cn[AUTHDB_NAME_MAX + 2];
	size_t slen = sizeof(serial), cnlen = sizeof(cn);
	unsigned status = 0;
	int ret;

	if (!ca_pem || !cert_pem || !db || !user)
		return -EINVAL;
	ret = import_crt(&ca, ca_pem, ca_len);
	if (!ret)
		ret = import_crt(&crt, cert_pem, cert_len);
	if (ret)
		goto out;
	ret = gt(gnutls_x509_trust_list_init(&tl, 0), "trust list");
	if (ret)
		goto out;
	ret = gt(gnutls_x509_trust_list_add_cas(tl, &ca, 1, 0), "trust list");
	if (ret)
		goto out;
	ca = NULL;	/* owned by the list now */
	ret = gt(gnutls_x509_trust_list_verify_crt(tl, &crt, 1, 0, &status, NULL),
		 "verify");
	if (ret)
		goto out;
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) {
		ret = -EKEYEXPIRED;
		goto out;
	}
	if (status) {
		ret = -EKEYREJECTED;
		goto out;
	}
	ret = -EKEYREJECTED;
	if (gnutls_x509_crt_get_serial(crt, serial, &slen) < 0 || !slen ||
	    slen > 20)
		goto out;
	hex_encode(serial, slen, shex);
	if (authdb_serial_is_revoked(db, shex)) {
		ret = -EKEYREVOKED;
		goto out;
	}
	ret = crt_fpr(crt, fpr);
	if (ret)
		goto out;
	ret = authdb_cert_user(db, fpr, user);
	if (ret)
		goto out;
	/* The certificate names the same user the authdb maps it to. */
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
					  cn, &cnlen) < 0 || strcmp(cn, user)) {
		ret = -EKEYREJECTED;
		goto out;
	}
	ret = authdb_user_is_enabled(db, user) ? 0 : -ENOENT;
out:
	if (tl)
		gnutls_x509_trust_list_deinit(tl, 1);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(crt);
	if (ret)
		user[0] = '\0';
	return ret;
}

int ca_bundle_write(const char *path, const char *user,
		    const struct ca_bundle_dest *dest, const struct ca_issued *c)
{
	struct bundle b = { 0 };
	size_t i;

	if (!user || strlen(user) > AUTH_NAME_MAX || !dest ||
	    (dest->server && strlen(dest->server) > BUNDLE_SERVER_MAX) ||
	    dest->nrelay > BUNDLE_RELAYS_MAX || !c)
		return -EINVAL;
	strcpy(b.user, user);
	if (dest->server)
		strcpy(b.server, dest->server);
	for (i = 0; i < dest->nrelay; i++) {
		if (!dest->relay[i] || strlen(dest->relay[i]) > BUNDLE_SERVER_MAX)
			return -EINVAL;
		strcpy(b.relay[i], dest->relay[i]);
	}
	b.nrelay = dest->nrelay;
	memcpy(b.ca_fpr, c->ca_fpr, sizeof(b.ca_fpr));
	b.cert_pem = c->cert_pem;
	b.key_pem = c->key_pem;
	b.ca_pem = c->ca_pem;
	return bundle_write(path, &b);
}
