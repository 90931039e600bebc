/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "file.h"
#include "keysign.h"
#include "relaysign.h"
#include "rpc.h"
#include "rsign.h"

_Static_assert(RPC_RELAY_CHAL_LEN == RMSG_HDR_LEN + RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN,
	       "RPC_RELAY_CHAL_LEN is a REG_CHALLENGE datagram");
_Static_assert(RMSG_HDR_LEN + RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN + 4 + RMSG_SPKI_MAX +
	       RMSG_SIG_MAX <= RPC_RBLOB_MAX, "a REGISTER fits a reply's blob");
_Static_assert(RMSG_REGISTER2_MAX <= RPC_RBLOB_MAX, "a REGISTER2 fits a reply's blob");

int relaysign_init(struct relaysign *rs, gnutls_privkey_t key)
{
	struct rsign tmp;
	int ret;

	memset(rs, 0, sizeof(*rs));
	rs->key = key;
	ret = rsign_key(key, &tmp, rs->id);
	if (ret)
		relaysign_free(rs);
	return ret;
}

int relaysign_load(struct relaysign *rs, const char *path)
{
	gnutls_datum_t kd = { NULL, 0 };
	gnutls_privkey_t key = NULL;
	int ret;

	memset(rs, 0, sizeof(*rs));
	/* Read here, not by gnutls_load_file: the CA's key leaves no copy. */
	{
		uint8_t *der = NULL;
		size_t dl = 0;

		ret = keysign_read_der(path, &der, &dl);
		if (ret == -EINVAL)
			return -EBADMSG;
		if (ret < 0)
			return -ENOENT;
		kd.data = der;
		kd.size = (unsigned)dl;
	}
	ret = -ENOMEM;
	if (gnutls_privkey_init(&key) < 0)
		goto out;
	ret = -EBADMSG;
	if (gnutls_privkey_import_x509_raw(key, &kd, GNUTLS_X509_FMT_DER, NULL, 0) < 0) {
		gnutls_privkey_deinit(key);
		goto out;
	}
	ret = relaysign_init(rs, key);
out:
	gnutls_memset(kd.data, 0, kd.size);
	free(kd.data);
	return ret;
}

int relaysign_load_cert(struct relaysign *rs, const char *ca_path, const char *cert_path)
{
	char *ca = NULL, *crt = NULL;
	size_t cal = 0, crl = 0;
	int ret;

	if (!rs->key)
		return -EINVAL;
	/* Public files: read whole, with the CA module's cap. */
	ret = file_read_small(ca_path, 64u << 10, &ca, &cal);
	if (!ret)
		ret = file_read_small(cert_path, 64u << 10, &crt, &crl);
	if (ret) {
		ret = -ENOENT;
		goto out;
	}
	ret = rsign_cred_init(&rs->cred, rs->key, ca, cal, crt, crl);
	if (ret)
		goto out;
	memcpy(rs->id, rs->cred.id, RMSG_ID_LEN);
	rs->v2 = true;
out:
	free(ca);
	free(crt);
	return ret;
}

int32_t relaysign_days_left(const struct relaysign *rs, int64_t now_s)
{
	int64_t d;

	if (!rs->v2)
		return INT32_MAX;
	/* Rounded down while valid; -1 from the first second after. */
	d = rs->cred.not_after >= now_s ? (rs->cred.not_after - now_s) / 86400 :
	    -1 - (now_s - rs->cred.not_after - 1) / 86400;
	return d > INT32_MAX ? INT32_MAX : (int32_t)d;
}

void relaysign_free(struct relaysign *rs)
{
	if (rs->key)
		gnutls_privkey_deinit(rs->key);
	memset(rs, 0, sizeof(*rs));
}

static bool relaysign_seen(const struct relaysign *rs, const struct rmsg *m)
{
	unsigned i;

	for (i = 0; i < rs->nseen; i++)
		if (rs->seen[i].ts == m->ts &&
		    !memcmp(rs->seen[i].cookie, m->cookie, RMSG_COOKIE_LEN))
			return true;
	return false;
}

/* A token bucket in milliseconds of credit: time given, not measured. */
static bool relaysign_rate_ok(struct relaysign *rs, uint64_t now_ms)
{
	const uint64_t cap = (uint64_t)RELAYSIGN_BURST * RELAYSIGN_PERIOD_MS;

	if (!rs->started) {
		rs->started = true;
		rs->tokens_ms = cap;
	} else if (now_ms > rs->last_ms) {
		rs->tokens_ms += now_ms - rs->last_ms;
		if (rs->tokens_ms > cap)
			rs->tokens_ms = cap;
	}
	rs->last_ms = now_ms;
	if (rs->tokens_ms < RELAYSIGN_PERIOD_MS)
		return false;
	rs->tokens_ms -= RELAYSIGN_PERIOD_MS;
	return true;
}

int relaysign_answer(struct relaysign *rs, const uint8_t *ch, size_t len, uint64_t now_ms,
		     uint8_t *out, size_t cap)
{
	struct rmsg in, reg;
	struct rsign proof;
	int ret;

	if (!rs->key)
		return -EOPNOTSUPP;
	if (len != RPC_RELAY_CHAL_LEN || rmsg_decode(&in, ch, len) < 0 ||
	    in.type != RMSG_REG_CHALLENGE)
		return -EPROTO;
	/* Only this home: a front cannot get another id's proof made. */
	if (memcmp(in.id, rs->id, RMSG_ID_LEN))
		return -EACCES;
	if (relaysign_seen(rs, &in))
		return -EALREADY;
	if (!relaysign_rate_ok(rs, now_ms))
		return -EAGAIN;
	/* Spent before signing: a failure below does not make it reusable. */
	rs->seen[rs->next].ts = in.ts;
	memcpy(rs->seen[rs->next].cookie, in.cookie, RMSG_COOKIE_LEN);
	rs->next = (rs->next + 1) % RELAYSIGN_SEEN;
	if (rs->nseen < RELAYSIGN_SEEN)
		rs->nseen++;
	ret = rs->v2 ? rsign_register2(rs->key, &rs->cred, &in, &proof, &reg) :
	      rsign_register(rs->key, &in, &proof, &reg);
	if (!ret)
		ret = rmsg_encode(&reg, out, cap);
	explicit_bzero(&proof, sizeof(proof));
	return ret;
}
