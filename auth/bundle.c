/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle.h"
#include "file.h"
#include "hex.h"
#include "homeid.h"

int bundle_cert_fingerprint(const char *pem, size_t len, uint8_t fpr[BUNDLE_FPR_LEN])
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)len };
	size_t n = BUNDLE_FPR_LEN;
	int ret = -EBADMSG;

	if (!pem)
		return -EINVAL;
	if (len > BUNDLE_PEM_MAX)
		return -EFBIG;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fpr, &n) >= 0 &&
	    n == BUNDLE_FPR_LEN)
		ret = 0;
	gnutls_x509_crt_deinit(crt);
	return ret;
}

static bool server_is_valid(const char *s)
{
	size_t i;

	if (!s || !s[0] || strlen(s) > BUNDLE_SERVER_MAX)
		return false;
	for (i = 0; s[i]; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

bool bundle_relay_is_valid(const char *s)
{
	const char *colon;
	char *end;
	unsigned long port;

	if (!server_is_valid(s))
		return false;
	colon = strrchr(s, ':');
	if (!colon || colon == s || colon[1] < '0' || colon[1] > '9')
		return false;
	/*
	 * An IPv6 address is bracketed, or its last group would be the
	 * port; brackets hold an IPv6 address (at least "[::]").
	 */
	if ((s[0] == '[' || memchr(s, ':', (size_t)(colon - s))) &&
	    (s[0] != '[' || colon[-1] != ']' || colon - s < 4 ||
	     !memchr(s, ':', (size_t)(colon - s))))
		return false;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	return !errno && !*end && port >= 1 && port <= 65535;
}

static bool dest_is_valid(const struct bundle *c)
{
	size_t i;

	if ((!c->server[0] && !c->nrelay) || c->nrelay > BUNDLE_RELAYS_MAX)
		return false;
	if (c->server[0] && !server_is_valid(c->server))
		return false;
	for (i = 0; i < c->nrelay; i++)
		if (!bundle_relay_is_valid(c->relay[i]))
			return false;
	return true;
}

int bundle_write(const char *path, const struct bundle *c)
{
	char fhex[2 * BUNDLE_FPR_LEN + 1], idtext[HOMEID_TEXT_LEN + 1], *buf;
	uint8_t id[HOMEID_LEN];
	size_t cap, n, i;
	int ret;

	if (!path || !c || !auth_name_is_valid(c->user) || !dest_is_valid(c) ||
	    !c->cert_pem || !c->key_pem || !c->ca_pem)
		return -EINVAL;
	if (c->nrelay) {
		ret = homeid_from_cert_pem(c->ca_pem, strlen(c->ca_pem), id);
		if (ret)
			return ret;
		homeid_to_text(id, idtext);
	}
	hex_encode(c->ca_fpr, BUNDLE_FPR_LEN, fhex);
	cap = strlen(c->cert_pem) + strlen(c->key_pem) + strlen(c->ca_pem) + 1024 +
	      BUNDLE_RELAYS_MAX * (BUNDLE_SERVER_MAX + 8) + BUNDLE_SERVER_MAX;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = (size_t)snprintf(buf, cap,
		"# bgw enrolment bundle for bgw-cdclient --bundle: it holds a\n"
		"# private key; keep it secret and delete it once installed.\n"
		"bgw-bundle 1\nuser %s\n", c->user);
	if (c->server[0] && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "server %s\n", c->server);
	for (i = 0; i < c->nrelay && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "relay %s\n", c->relay[i]);
	if (c->nrelay && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "home-id %s\n", idtext);
	if (n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "ca-sha256 %s\n\n%s%s%s", fhex,
				      c->cert_pem, c->key_pem, c->ca_pem);
	ret = n >= cap ? -ENOSPC : file_write_new(path, buf, n);
	explicit_bzero(buf, cap);
	free(buf);
	return ret;
}

/* The next PEM block of the given label starting at *p; NULL if none. */
static char *pem_block(const char **p, const char *label)
{
	char begin[64], end[64];
	const char *b, *e;
	char *s;

	snprintf(begin, sizeof(begin), "-----BEGIN %s-----\n", label);
	snprintf(end, sizeof(end), "-----END %s-----\n", label);
	if (strncmp(*p, begin, strlen(begin)))
		return NULL;
	b = *p;
	e = strstr(b, end);
	if (!e)
		return NULL;
	e += strlen(end);
	s = strndup(b, (size_t)(e - b));
	*p = e;
	return s;
}

void bundle_free(struct bundle *b)
{
	if (!b)
		return;
	if (b->key_pem) {
		explicit_bzero(b->key_pem, strlen(b->key_pem));
		free(b->key_pem);
	}
	free(b->cert_pem);
	free(b->ca_pem);
	memset(b, 0, sizeof(*b));
}

int bundle_read(const char *path, struct bundle *out)
{
	char *buf = NULL, line[BUNDLE_SERVER_MAX + 32], fhex[2 * BUNDLE_FPR_LEN + 2];
	uint8_t id[HOMEID_LEN];
	const char *p, *nl;
	size_t len = 0, l;
	unsigned seen = 0;
	bool has_id = false;
	int ret;

	if (!path || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	ret = file_read_small(path, BUNDLE_PEM_MAX, &buf, &len);
	if (ret)
		return ret;
	ret = -EBADMSG;
	if (strlen(buf) != len)
		goto out;	/* embedded NUL */
	p = buf;
	/*
	 * Header: comments, then the keyed lines in order (bundle.h), then
	 * blank. seen: 1 version, 2 user, 3 server, 4 home-id, 5 ca-sha256.
	 */
	for (;;) {
		nl = strchr(p, '\n');
		if (!nl)
			goto out;
		l = (size_t)(nl - p);
		if (l >= sizeof(line))
			goto out;
		memcpy(line, p, l);
		line[l] = '\0';
		p = nl + 1;
		if (line[0] == '#')
			continue;
		if (!line[0])
			break;
		if (seen == 0 && !strcmp(line, "bgw-bundle 1"))
			seen = 1;
		else if (seen == 1 && !strncmp(line, "user ", 5) &&
			 auth_name_is_valid(line + 5)) {
			strcpy(out->user, line + 5);
			seen = 2;
		} else if (seen == 2 && !out->nrelay && !strncmp(line, "server ", 7) &&
			   server_is_valid(line + 7)) {
			strcpy(out->server, line + 7);
			seen = 3;
		} else if ((seen == 2 || seen == 3) && !strncmp(line, "relay ", 6) &&
			   bundle_relay_is_valid(line + 6) &&
			   out->nrelay < BUNDLE_RELAYS_MAX) {
			/* seen stays: more relay lines may follow. */
			strcpy(out->relay[out->nrelay++], line + 6);
		} else if ((seen == 2 || seen == 3) && out->nrelay && !has_id &&
			   !strncmp(line, "home-id ", 8) &&
			   !homeid_parse(line + 8, out->home_id)) {
			has_id = true;
			seen = 4;
		} else if ((seen == 3 || seen == 4) && !strncmp(line, "ca-sha256 ", 10) &&
			   strlen(line + 10) == 2 * BUNDLE_FPR_LEN) {
			snprintf(fhex, sizeof(fhex), "%s", line + 10);
			seen = 5;
		} else {
			goto out;
		}
	}
	/* A relay needs the id to ask for; a bundle needs somewhere to go. */
	if (seen != 5 || (out->nrelay && !has_id))
		goto out;
	out->cert_pem = pem_block(&p, "CERTIFICATE");
	out->key_pem = out->cert_pem ? pem_block(&p, "PRIVATE KEY") : NULL;
	out->ca_pem = out->key_pem ? pem_block(&p, "CERTIFICATE") : NULL;
	if (!out->ca_pem || *p)
		goto out;
	/* The pin must match the CA certificate in the bundle. */
	if (bundle_cert_fingerprint(out->ca_pem, strlen(out->ca_pem), out->ca_fpr))
		goto out;
	hex_encode(out->ca_fpr, BUNDLE_FPR_LEN, (char *)line);
	if (strcmp(line, fhex))
		goto out;
	/*
	 * The id the client asks a relay for must be its pinned CA's: the
	 * relay only lets that key's holder register it (doc/relay.md).
	 */
	if (has_id && (homeid_from_cert_pem(out->ca_pem, strlen(out->ca_pem), id) ||
		       memcmp(id, out->home_id, HOMEID_LEN)))
		goto out;
	ret = 0;
out:
	if (ret)
		bundle_free(out);
	explicit_bzero(buf, len);
	free(buf);
	return ret;
}
