/* SPDX-License-Identifier: MIT */
/*
 * SCRAM-SHA-256, RFC 5802 section 3 (algorithm) and 7 (grammar), with the
 * SHA-256 instantiation of RFC 7677. See scram.h for the protocol flow.
 *
 * The grammar is applied strictly: attributes in the mandatory order, no
 * extensions ("m=" and unknown attributes are refused), printable ASCII
 * only, every length capped. A malformed message fails the exchange.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "b64.h"
#include "scram.h"
#include "secmem.h"

#define SCRAM_NONCE_RAW 24	/* random bytes per side: 32 base64 chars */

enum scram_state {
	SCRAM_ST_START,
	SCRAM_ST_FIRST,		/* client: first sent; server: first received */
	SCRAM_ST_SERVER_FIRST,	/* server: server-first sent */
	SCRAM_ST_FINAL,		/* client: final sent */
	SCRAM_ST_DONE,
	SCRAM_ST_FAILED,
};

struct scram_client {
	enum scram_state st;
	char user[3 * SCRAM_USER_MAX + 1];	/* saslname-encoded */
	char *password;
	size_t pwlen;
	uint8_t cb[SCRAM_CB_MAX];
	size_t cb_len;
	char nonce[SCRAM_NONCE_MAX + 1];
	char gs2[32];
	char bare[SCRAM_MSG_MAX + 1];
	uint8_t server_sig[SCRAM_KEY_LEN];
};

struct scram_server {
	enum scram_state st;
	uint8_t cb[SCRAM_CB_MAX];
	size_t cb_len;
	bool has_cb;
	char snonce[SCRAM_NONCE_MAX + 1];
	char user[SCRAM_USER_MAX + 1];		/* decoded */
	char gs2[32];
	char bare[SCRAM_MSG_MAX + 1];
	char nonce[2 * SCRAM_NONCE_MAX + 1];	/* client + server */
	char sfirst[SCRAM_MSG_MAX + 1];
	struct scram_verifier v;
	bool real;
	bool authenticated;
};

/* ---- primitives ------------------------------------------------------- */

static int hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
		uint8_t out[SCRAM_KEY_LEN])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, klen, msg, mlen, out) ?
	       -EIO : 0;
}

static int sha256(const void *msg, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, msg, len, out) ? -EIO : 0;
}

/* Printable ASCII other than ',' (RFC 5802 "printable"), 1..max chars. */
static bool is_printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= max || s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return i > 0;
}

static int random_nonce(char *out, size_t cap)
{
	uint8_t raw[SCRAM_NONCE_RAW];
	int ret;

	if (gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof(raw)))
		return -EIO;
	ret = b64_encode(raw, sizeof(raw), out, cap);
	return ret < 0 ? ret : 0;
}

/* Copy a message into a NUL-terminated buffer; refuse NULs and oversize. */
static int msg_copy(const char *msg, size_t len, char out[SCRAM_MSG_MAX + 1])
{
	size_t i;

	if (!msg || len == 0 || len > SCRAM_MSG_MAX)
		return -EBADMSG;
	for (i = 0; i < len; i++)
		if (msg[i] < 0x20 || msg[i] > 0x7e)
			return -EBADMSG;
	memcpy(out, msg, len);
	out[len] = '\0';
	return 0;
}

/* "k=" at *p: returns the value and advances past the following ',' (or
 * to the end if last). NULL if the attribute is not k. Modifies s. */
static char *attr(char **p, char k, bool last)
{
	char *v, *comma;

	if ((*p)[0] != k || (*p)[1] != '=')
		return NULL;
	v = *p + 2;
	comma = strchr(v, ',');
	if (last) {
		if (comma)
			return NULL;
		*p = v + strlen(v);
	} else {
		if (!comma)
			return NULL;
		*comma = '\0';
		*p = comma + 1;
	}
	return v;
}

int scram_verifier_derive(const char *password, size_t pwlen,
			  const uint8_t *salt, size_t salt_len,
			  uint32_t iterations, struct scram_verifier *v)
{
	uint8_t salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN];
	gnutls_datum_t key, s;
	int ret = -EINVAL;

	if (!password || !salt || !v || !salt_len || salt_len > SCRAM_SALT_MAX ||
	    pwlen > SCRAM_PASSWORD_MAX || iterations < SCRAM_ITER_MIN ||
	    iterations > SCRAM_ITER_MAX)
		return -EINVAL;
	key.data = (unsigned char *)password;
	key.size = (unsigned)pwlen;
	s.data = (unsigned char *)salt;
	s.size = (unsigned)salt_len;
	ret = -EIO;
	if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, iterations, salted,
			  sizeof(salted)))
		goto out;
	memset(v, 0, sizeof(*v));
	v->iterations = iterations;
	v->salt_len = salt_len;
	memcpy(v->salt, salt, salt_len);
	if (hmac(salted, sizeof(salted), "Client Key", 10, ckey) ||
	    sha256(ckey, sizeof(ckey), v->stored_key) ||
	    hmac(salted, sizeof(salted), "Server Key", 10, v->server_key))
		goto out;
	ret = 0;
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	return ret;
}

int scram_verifier_make(const char *password, size_t pwlen, uint32_t iterations,
			struct scram_verifier *v)
{
	uint8_t salt[SCRAM_SALT_LEN];

	if (gnutls_rnd(GNUTLS_RND_RANDOM, salt, sizeof(salt)))
		return -EIO;
	return scram_verifier_derive(password, pwlen, salt, sizeof(salt),
				     iterations ? iterations : SCRAM_ITER_DEFAULT, v);
}

int scram_verifier_fake(const uint8_t *secret, size_t secret_len,
			const char *user, struct scram_verifier *v)
{
	uint8_t buf[SCRAM_USER_MAX + 16], out[SCRAM_KEY_LEN];
	size_t ulen;
	int ret = -EIO;

	if (!secret || secret_len < 16 || !user || !v)
		return -EINVAL;
	ulen = strnlen(user, SCRAM_USER_MAX + 1);
	if (ulen > SCRAM_USER_MAX)
		return -EINVAL;
	/* Domain-separated HMACs of the name: "salt\0user" etc. */
	memset(v, 0, sizeof(*v));
	v->iterations = SCRAM_ITER_DEFAULT;
	v->salt_len = SCRAM_SALT_LEN;
	memcpy(buf, "salt", 5);
	memcpy(buf + 5, user, ulen);
	if (hmac(secret, secret_len, buf, 5 + ulen, out))
		goto out;
	memcpy(v->salt, out, SCRAM_SALT_LEN);
	memcpy(buf, "stor", 5);
	if (hmac(secret, secret_len, buf, 5 + ulen, v->stored_key))
		goto out;
	memcpy(buf, "serv", 5);
	if (hmac(secret, secret_len, buf, 5 + ulen, v->server_key))
		goto out;
	ret = 0;
out:
	explicit_bzero(out, sizeof(out));
	return ret;
}

void scram_verifier_wipe(struct scram_verifier *v)
{
	if (v)
		explicit_bzero(v, sizeof(*v));
}

/* ---- client ----------------------------------------------------------- */

int scram_client_new(struct scram_client **out, const char *user,
		     const char *password, size_t pwlen,
		     const uint8_t *cb, size_t cb_len, const char *nonce)
{
	struct scram_client *c;
	size_t i, o = 0;
	int ret = -EINVAL;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!user || !password || pwlen > SCRAM_PASSWORD_MAX ||
	    cb_len > SCRAM_CB_MAX || (cb_len && !cb) ||
	    strnlen(user, SCRAM_USER_MAX + 1) > SCRAM_USER_MAX || !user[0] ||
	    (nonce && !is_printable(nonce, SCRAM_NONCE_MAX)))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* saslname: ',' and '=' escaped (RFC 5802 5.1). */
	for (i = 0; user[i]; i++) {
		if (user[i] < 0x21 || user[i] > 0x7e)
			goto fail;
		if (user[i] == ',' || user[i] == '=') {
			memcpy(c->user + o, user[i] == ',' ? "=2C" : "=3D", 3);
			o += 3;
		} else {
			c->user[o++] = user[i];
		}
	}
	c->user[o] = '\0';
	ret = -ENOMEM;
	c->password = malloc(pwlen + 1);
	if (!c->password)
		goto fail;
	memcpy(c->password, password, pwlen);
	c->pwlen = pwlen;
	if (cb_len)
		memcpy(c->cb, cb, cb_len);
	c->cb_len = cb_len;
	snprintf(c->gs2, sizeof(c->gs2), "%s,,", cb_len ? "p=" SCRAM_CB_NAME : "n");
	if (nonce)
		snprintf(c->nonce, sizeof(c->nonce), "%s", nonce);
	else if ((ret = random_nonce(c->nonce, sizeof(c->nonce))))
		goto fail;
	*out = c;
	return 0;
fail:
	scram_client_free(c);
	return ret;
}

void scram_client_free(struct scram_client *c)
{
	if (!c)
		return;
	if (c->password) {
		explicit_bzero(c->password, c->pwlen);
		free(c->password);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* snprintf's result checked: -ENOSPC if it did not fit (never truncates). */
static int fits(int n, size_t cap, size_t *len)
{
	if (n < 0 || (size_t)n >= cap || n > SCRAM_MSG_MAX)
		return -ENOSPC;
	if (len)
		*len = (size_t)n;
	return 0;
}

int scram_client_first(struct scram_client *c, char *out, size_t cap, size_t *len)
{
	int ret;

	if (!c || !out || c->st != SCRAM_ST_START)
		return -EINVAL;
	ret = fits(snprintf(c->bare, sizeof(c->bare), "n=%s,r=%s", c->user,
			    c->nonce), sizeof(c->bare), NULL);
	if (!ret)
		ret = fits(snprintf(out, cap, "%s%s", c->gs2, c->bare), cap, len);
	c->st = ret ? SCRAM_ST_FAILED : SCRAM_ST_FIRST;
	return ret;
}

/* AuthMessage = client-first-bare "," server-first "," client-final-w/o-proof */
static int auth_message(char *am, size_t cap, const char *bare, const char *sfirst,
			const char *without)
{
	int n = snprintf(am, cap, "%s,%s,%s", bare, sfirst, without);

	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* c= value: base64(gs2-header || cbind-data) */
static int cbind_b64(const char *gs2, const uint8_t *cb, size_t cb_len,
		     char *out, size_t cap)
{
	uint8_t in[32 + SCRAM_CB_MAX];
	size_t g = strlen(gs2);

	memcpy(in, gs2, g);
	if (cb_len)
		memcpy(in + g, cb, cb_len);
	return b64_encode(in, g + cb_len, out, cap);
}

int scram_client_final(struct scram_client *c, const char *srv, size_t srv_len,
		       char *out, size_t cap, size_t *len)
{
	char sfirst[SCRAM_MSG_MAX + 1], work[SCRAM_MSG_MAX + 1];
	char without[SCRAM_MSG_MAX + 1], am[3 * SCRAM_MSG_MAX + 3];
	char cbv[B64_ENCLEN(32 + SCRAM_CB_MAX) + 1], proofb[B64_ENCLEN(SCRAM_KEY_LEN) + 1];
	uint8_t salt[SCRAM_SALT_MAX], salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN];
	uint8_t skey[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	gnutls_datum_t key, s;
	char *p = work, *r, *sv, *iv, *end;
	unsigned long iter;
	int ret = -EBADMSG, n, amlen, i;

	if (!c || !out || c->st != SCRAM_ST_FIRST)
		return -EINVAL;
	c->st = SCRAM_ST_FAILED;
	if (msg_copy(srv, srv_len, sfirst))
		goto out;
	/* A server may refuse at once (server-error, e.g. rate limited). */
	if (!strncmp(sfirst, "e=", 2)) {
		ret = is_printable(sfirst + 2, SCRAM_MSG_MAX) ? -EACCES : -EBADMSG;
		goto out;
	}
	memcpy(work, sfirst, strlen(sfirst) + 1);
	/* server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count */
	r = attr(&p, 'r', false);
	sv = r ? attr(&p, 's', false) : NULL;
	iv = sv ? attr(&p, 'i', true) : NULL;
	if (!iv || !is_printable(r, 2 * SCRAM_NONCE_MAX))
		goto out;
	/* The combined nonce starts with ours and adds the server's part. */
	if (strncmp(r, c->nonce, strlen(c->nonce)) || strlen(r) == strlen(c->nonce))
		goto out;
	n = b64_decode(sv, strlen(sv), salt, sizeof(salt));
	if (n <= 0)
		goto out;
	if (iv[0] < '1' || iv[0] > '9' || strlen(iv) > 7)
		goto out;
	iter = strtoul(iv, &end, 10);
	if (*end || iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX)
		goto out;

	ret = -ENOSPC;
	if (cbind_b64(c->gs2, c->cb, c->cb_len, cbv, sizeof(cbv)) < 0 ||
	    snprintf(without, sizeof(without), "c=%s,r=%s", cbv, r) >=
	    (int)sizeof(without))
		goto out;
	amlen = auth_message(am, sizeof(am), c->bare, sfirst, without);
	if (amlen < 0)
		goto out;

	ret = -EIO;
	key.data = (unsigned char *)c->password;
	key.size = (unsigned)c->pwlen;
	s.data = salt;
	s.size = (unsigned)n;
	if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, (unsigned)iter, salted,
			  sizeof(salted)) ||
	    hmac(salted, sizeof(salted), "Client Key", 10, ckey) ||
	    sha256(ckey, sizeof(ckey), stored) ||
	    hmac(stored, sizeof(stored), am, (size_t)amlen, sig) ||
	    hmac(salted, sizeof(salted), "Server Key", 10, skey) ||
	    hmac(skey, sizeof(skey), am, (size_t)amlen, c->server_sig))
		goto out;
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		sig[i] ^= ckey[i];		/* ClientProof */
	ret = -ENOSPC;
	if (b64_encode(sig, sizeof(sig), proofb, sizeof(proofb)) < 0 ||
	    fits(snprintf(out, cap, "%s,p=%s", without, proofb), cap, len))
		goto out;
	c->st = SCRAM_ST_FINAL;
	ret = 0;
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(skey, sizeof(skey));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(sig, sizeof(sig));
	return ret;
}

int scram_client_verify(struct scram_client *c, const char *srv, size_t srv_len)
{
	char msg[SCRAM_MSG_MAX + 1];
	uint8_t v[SCRAM_KEY_LEN + 3];
	int ret = -EBADMSG, n;

	if (!c || c->st != SCRAM_ST_FINAL)
		return -EINVAL;
	c->st = SCRAM_ST_FAILED;
	if (msg_copy(srv, srv_len, msg))
		return -EBADMSG;
	if (!strncmp(msg, "e=", 2))
		return is_printable(msg + 2, SCRAM_MSG_MAX) ? -EACCES : -EBADMSG;
	if (strncmp(msg, "v=", 2))
		return -EBADMSG;
	n = b64_decode(msg + 2, strlen(msg + 2), v, sizeof(v));
	if (n != SCRAM_KEY_LEN)
		return -EBADMSG;
	/* The server proves it holds ServerKey: constant-time compare. */
	ret = secmem_is_equal(v, c->server_sig, SCRAM_KEY_LEN) ? 0 : -EACCES;
	if (!ret)
		c->st = SCRAM_ST_DONE;
	return ret;
}

/* ---- server ----------------------------------------------------------- */

int scram_server_new(struct scram_server **out, const uint8_t *cb, size_t cb_len,
		     const char *nonce)
{
	struct scram_server *s;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (cb_len > SCRAM_CB_MAX || (cb_len && !cb) ||
	    (nonce && !is_printable(nonce, SCRAM_NONCE_MAX)))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (cb_len) {
		memcpy(s->cb, cb, cb_len);
		s->cb_len = cb_len;
		s->has_cb = true;
	}
	if (nonce)
		snprintf(s->snonce, sizeof(s->snonce), "%s", nonce);
	else if ((ret = random_nonce(s->snonce, sizeof(s->snonce)))) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void scram_server_free(struct scram_server *s)
{
	if (!s)
		return;
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* saslname -> name: "=2C" and "=3D" are the only escapes. */
static int saslname_decode(const char *in, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (in[i]) {
		if (o + 1 >= cap)
			return -EBADMSG;
		if (in[i] == '=') {
			if (in[i + 1] == '2' && in[i + 2] == 'C')
				out[o++] = ',';
			else if (in[i + 1] == '3' && in[i + 2] == 'D')
				out[o++] = '=';
			else
				return -EBADMSG;
			i += 3;
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = '\0';
	return o ? 0 : -EBADMSG;
}

int scram_server_recv_first(struct scram_server *s, const char *msg, size_t len)
{
	char work[SCRAM_MSG_MAX + 1];
	char *p = work, *user, *nonce;
	size_t g;
	int ret = -EBADMSG;

	if (!s || s->st != SCRAM_ST_START)
		return -EINVAL;
	s->st = SCRAM_ST_FAILED;
	if (msg_copy(msg, len, work))
		return -EBADMSG;
	/* gs2-header = gs2-cbind-flag "," [authzid] "," */
	if (!strncmp(p, "p=" SCRAM_CB_NAME ",", sizeof("p=" SCRAM_CB_NAME))) {
		p += sizeof("p=" SCRAM_CB_NAME);
		if (!s->has_cb)
			return -EPROTO;		/* we cannot bind: refuse */
	} else if (!strncmp(p, "p=", 2)) {
		return -EPROTO;			/* another binding type */
	} else if (!strncmp(p, "n,", 2) || !strncmp(p, "y,", 2)) {
		p += 2;
		/*
		 * We offer binding whenever we have it; a client that
		 * does not use it ("n") or thinks we lack it ("y", a
		 * stripped offer: RFC 5802 6) is refused.
		 */
		if (s->has_cb)
			return -EPROTO;
	} else {
		return -EBADMSG;
	}
	if (*p != ',')
		return -EBADMSG;		/* authzid (a=) not supported */
	p++;
	g = (size_t)(p - work);
	memcpy(s->gs2, work, g);
	s->gs2[g] = '\0';
	snprintf(s->bare, sizeof(s->bare), "%s", p);
	user = attr(&p, 'n', false);
	nonce = user ? attr(&p, 'r', true) : NULL;
	if (!nonce || !is_printable(nonce, SCRAM_NONCE_MAX) ||
	    !is_printable(user, 3 * SCRAM_USER_MAX) ||
	    saslname_decode(user, s->user, sizeof(s->user)))
		return ret;
	snprintf(s->nonce, sizeof(s->nonce), "%s%s", nonce, s->snonce);
	s->st = SCRAM_ST_FIRST;
	return 0;
}

const char *scram_server_user(const struct scram_server *s)
{
	return s && s->st == SCRAM_ST_FIRST ? s->user : NULL;
}

int scram_server_first(struct scram_server *s, const struct scram_verifier *v,
		       bool real, char *out, size_t cap, size_t *len)
{
	char salt[B64_ENCLEN(SCRAM_SALT_MAX) + 1], iter[16];
	int ret;

	if (!s || !v || !out || s->st != SCRAM_ST_FIRST || !v->salt_len ||
	    v->salt_len > SCRAM_SALT_MAX)
		return -EINVAL;
	s->st = SCRAM_ST_FAILED;
	if (b64_encode(v->salt, v->salt_len, salt, sizeof(salt)) < 0)
		return -EINVAL;
	snprintf(iter, sizeof(iter), "%u", (unsigned)v->iterations);
	ret = fits(snprintf(s->sfirst, sizeof(s->sfirst), "r=%s,s=%s,i=%s",
			    s->nonce, salt, iter), sizeof(s->sfirst), NULL);
	if (!ret)
		ret = fits(snprintf(out, cap, "%s", s->sfirst), cap, len);
	if (ret)
		return ret;
	s->v = *v;
	s->real = real;
	s->st = SCRAM_ST_SERVER_FIRST;
	return 0;
}

int scram_proof_check(const struct scram_verifier *v, bool real, const char *am,
		      size_t am_len, const uint8_t proof[SCRAM_KEY_LEN],
		      uint8_t ssig[SCRAM_KEY_LEN])
{
	uint8_t sig[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	bool proof_ok;
	int ret = -EIO, i;

	if (!v || !am || !proof || !ssig)
		return -EINVAL;
	if (hmac(v->stored_key, SCRAM_KEY_LEN, am, am_len, sig))
		goto out;
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		ckey[i] = proof[i] ^ sig[i];
	if (sha256(ckey, sizeof(ckey), stored) ||
	    hmac(v->server_key, SCRAM_KEY_LEN, am, am_len, ssig))
		goto out;
	proof_ok = secmem_is_equal(stored, v->stored_key, SCRAM_KEY_LEN);
	/* Same work on every path; only the result differs. */
	ret = proof_ok && real ? 0 : -EACCES;
	if (ret)
		explicit_bzero(ssig, SCRAM_KEY_LEN);
out:
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(stored, sizeof(stored));
	return ret;
}

/* The local check: the verifier given to scram_server_first. */
static int local_verify(void *ctx, const char *am, size_t am_len,
			const uint8_t proof[SCRAM_KEY_LEN], uint8_t ssig[SCRAM_KEY_LEN])
{
	const struct scram_server *s = ctx;

	return scram_proof_check(&s->v, s->real, am, am_len, proof, ssig);
}

int scram_server_final(struct scram_server *s, const char *msg, size_t len,
		       char *out, size_t cap, size_t *olen)
{
	return scram_server_final_ext(s, msg, len, local_verify, s, out, cap, olen);
}

int scram_server_final_ext(struct scram_server *s, const char *msg, size_t len,
			   scram_verify_fn verify, void *ctx,
			   char *out, size_t cap, size_t *olen)
{
	char work[SCRAM_MSG_MAX + 1], without[SCRAM_MSG_MAX + 1];
	char am[3 * SCRAM_MSG_MAX + 3], cbv[B64_ENCLEN(32 + SCRAM_CB_MAX) + 1];
	char sigb[B64_ENCLEN(SCRAM_KEY_LEN) + 1];
	uint8_t proof[SCRAM_KEY_LEN + 3], ssig[SCRAM_KEY_LEN];
	char *p = work, *cv, *r, *pv;
	bool cb_ok;
	int ret = -EBADMSG, amlen, n;

	if (!s || !out || !verify || s->st != SCRAM_ST_SERVER_FIRST)
		return -EINVAL;
	s->st = SCRAM_ST_FAILED;
	if (msg_copy(msg, len, work))
		goto bad;
	/* client-final-message-without-proof "," proof */
	pv = strstr(work, ",p=");
	if (!pv)
		goto bad;
	memcpy(without, work, (size_t)(pv - work));
	without[pv - work] = '\0';
	cv = attr(&p, 'c', false);
	r = cv ? attr(&p, 'r', false) : NULL;
	pv = r ? attr(&p, 'p', true) : NULL;
	if (!pv || strcmp(r, s->nonce))
		goto bad;
	n = b64_decode(pv, strlen(pv), proof, sizeof(proof));
	if (n != SCRAM_KEY_LEN)
		goto bad;
	if (cbind_b64(s->gs2, s->cb, s->cb_len, cbv, sizeof(cbv)) < 0)
		goto bad;
	/* Binding compared in constant time and before anything that
	 * depends on the user, so it reveals nothing about the account. */
	cb_ok = strlen(cv) == strlen(cbv) && secmem_is_equal(cv, cbv, strlen(cbv));
	amlen = auth_message(am, sizeof(am), s->bare, s->sfirst, without);
	if (amlen < 0)
		goto bad;
	if (!cb_ok) {
		/* A relayed login: refused before the verifier is asked. */
		ret = fits(snprintf(out, cap, "e=channel-bindings-dont-match"), cap, olen);
		ret = ret ? ret : -EACCES;
		goto out;
	}
	ret = verify(ctx, am, (size_t)amlen, proof, ssig);
	if (ret == 0) {
		ret = -ENOSPC;
		if (b64_encode(ssig, sizeof(ssig), sigb, sizeof(sigb)) < 0 ||
		    fits(snprintf(out, cap, "v=%s", sigb), cap, olen))
			goto out;
		s->authenticated = true;
		s->st = SCRAM_ST_DONE;
		ret = 0;
	} else if (ret == -EACCES) {
		ret = fits(snprintf(out, cap, "e=invalid-proof"), cap, olen);
		ret = ret ? ret : -EACCES;
	} else {
		/* The verifier could not answer (rate limited, error): its code. */
		if (fits(snprintf(out, cap, "e=other-error"), cap, olen))
			ret = -ENOSPC;
	}
	goto out;
bad:
	if (fits(snprintf(out, cap, "e=other-error"), cap, olen))
		ret = -ENOSPC;
	else
		ret = -EBADMSG;
out:
	explicit_bzero(ssig, sizeof(ssig));
	explicit_bzero(proof, sizeof(proof));
	explicit_bzero(am, sizeof(am));
	return ret;
}

bool scram_server_is_authenticated(const struct scram_server *s)
{
	return s && s->authenticated;
}
