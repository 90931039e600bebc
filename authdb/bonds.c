/* SPDX-License-Identifier: MIT */
/*
 * The household bond store (authdb/bonds.h, bgw-bonds(5)).
 *
 * One line per device:
 *   bond ADDR public|random by USER at SECONDS [linkkey HEX linkkey-type N]
 *        [ltk HEX ediv N rand HEX key-size N authenticated yes|no] [irk HEX]
 *        [pltk HEX pediv N prand HEX]
 * The file is written only by bgw-muxd's monitor and bgw-authdb, but it is
 * still parsed as untrusted: every line is length-capped (a longer one is
 * an error, never split), every field checked, the whole file refused at
 * the first error, so a damaged store never applies half a bond.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bonds.h"
#include "file.h"
#include "hex.h"
#include "name.h"
#include "secmem.h"

struct bonds {
	unsigned n;
	struct bond b[BONDS_MAX];
};

struct bonds *bonds_new(void)
{
	return calloc(1, sizeof(struct bonds));
}

void bonds_free(struct bonds *b)
{
	if (b)
		secmem_free(b, sizeof(*b));
}

unsigned bonds_count(const struct bonds *b)
{
	return b ? b->n : 0;
}

const struct bond *bonds_at(const struct bonds *b, unsigned i)
{
	return b && i < b->n ? &b->b[i] : NULL;
}

static int find_idx(const struct bonds *b, const struct bdaddr *a, uint8_t type)
{
	unsigned i;

	for (i = 0; b && i < b->n; i++)
		if (b->b[i].type == type && bdaddr_eq(&b->b[i].addr, a))
			return (int)i;
	return -1;
}

const struct bond *bonds_find(const struct bonds *b, const struct bdaddr *a,
			      uint8_t type)
{
	int i = find_idx(b, a, type);

	return i < 0 ? NULL : &b->b[i];
}

bool bonds_by_is_valid(const char *by)
{
	return auth_name_is_valid(by) || strcmp(by, BONDS_BY_GATEWAY) == 0;
}

bool bonds_is_valid(const struct bond *nb)
{
	if (nb->type != BDADDR_PUBLIC && nb->type != BDADDR_RANDOM)
		return false;
	/* An identity is public or static random (Vol 6 Part B 1.3.2.1): top bits 11. */
	if (nb->type == BDADDR_RANDOM && (nb->addr.b[5] & 0xc0) != 0xc0)
		return false;
	if (!bonds_by_is_valid(nb->by) || nb->at < 0)
		return false;
	/* Key_Type 0x00-0x08 (Vol 4 Part E 7.7.24); 0x03 debug keys are refused below. */
	if (nb->has_lk && (nb->lk_type > 0x08 || nb->lk_type == 0x03))
		return false;
	/* Maximum Encryption Key Size 7-16 octets (Vol 3 Part H 2.3.4). */
	if (nb->has_ltk && (nb->key_size < 7 || nb->key_size > 16))
		return false;
	return nb->has_lk || nb->has_ltk || nb->has_irk || nb->has_pltk;
}

int bonds_set(struct bonds *b, const struct bond *nb)
{
	int i;

	if (!b || !nb || !bonds_is_valid(nb))
		return -EINVAL;
	i = find_idx(b, &nb->addr, nb->type);
	if (i < 0) {
		if (b->n >= BONDS_MAX)
			return -ENOSPC;
		i = (int)b->n++;
	}
	b->b[i] = *nb;
	return 0;
}

int bonds_forget(struct bonds *b, const struct bdaddr *a, uint8_t type)
{
	int i = find_idx(b, a, type);

	if (i < 0)
		return -ENOENT;
	b->n--;
	if ((unsigned)i != b->n)
		b->b[i] = b->b[b->n];
	secmem_wipe(&b->b[b->n], sizeof(b->b[b->n]));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parser */

struct pctx {
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
};

static int bad(struct pctx *c, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%u: %s", c->name, c->line, what);
	return -EINVAL;
}

/* A decimal number 0..max, digits only (no sign, no spaces, no leading zeros but "0"). */
static int num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		/* v * 10 + digit <= max, without overflow (nor underflow of max - digit). */
		if ((uint64_t)(*s - '0') > max || v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

enum {
	F_BY, F_AT, F_LK, F_LKT, F_LTK, F_EDIV, F_RAND, F_KS, F_AUTH, F_IRK,
	F_PLTK, F_PEDIV, F_PRAND, F_N
};

static const char *const fields[F_N] = {
	"by", "at", "linkkey", "linkkey-type", "ltk", "ediv", "rand",
	"key-size", "authenticated", "irk", "pltk", "pediv", "prand",
};

static int parse_field(struct pctx *c, struct bond *nb, unsigned f, const char *v)
{
	uint64_t x;

	switch (f) {
	case F_BY:
		if (!bonds_by_is_valid(v))
			return bad(c, "by: \"%.40s\" is not a user name (or %s)", v,
				   BONDS_BY_GATEWAY);
		strcpy(nb->by, v);	/* AUTH_NAME_MAX < sizeof(by) */
		return 0;
	case F_AT:
		if (num(v, INT64_MAX, &x))
			return bad(c, "at wants seconds since the epoch");
		nb->at = (int64_t)x;
		return 0;
	case F_LK:
	case F_LTK:
	case F_IRK:
	case F_PLTK:
		if (hex_decode_exact(v, f == F_LK ? nb->lk : f == F_LTK ? nb->ltk :
				     f == F_IRK ? nb->irk : nb->pltk, BONDS_KEY_LEN))
			return bad(c, "%s wants 32 hex digits", fields[f]);
		return 0;
	case F_LKT:
		if (num(v, 8, &x) || x == 3)
			return bad(c, "linkkey-type wants 0-8, not 3 (debug keys are never kept)");
		nb->lk_type = (uint8_t)x;
		return 0;
	case F_EDIV:
	case F_PEDIV:
		if (num(v, UINT16_MAX, &x))
			return bad(c, "%s wants 0-65535", fields[f]);
		*(f == F_EDIV ? &nb->ediv : &nb->pediv) = (uint16_t)x;
		return 0;
	case F_RAND:
	case F_PRAND:
		if (hex_decode_exact(v, f == F_RAND ? nb->rand : nb->prand, sizeof(nb->rand)))
			return bad(c, "%s wants 16 hex digits", fields[f]);
		return 0;
	case F_KS:
		if (num(v, 16, &x) || x < 7)
			return bad(c, "key-size wants 7-16");
		nb->key_size = (uint8_t)x;
		return 0;
	case F_AUTH:
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return bad(c, "authenticated wants yes or no");
		nb->authenticated = strcmp(v, "yes") == 0;
		return 0;
	}
	return -EINVAL;
}

#define WORDS_MAX 32

static int parse_line(struct pctx *c, struct bonds *b, char *line)
{
	char *w[WORDS_MAX + 1], *save = NULL, *t;
	unsigned nw = 0, i, f, seen = 0;
	struct bond nb;
	int ret;

	for (t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nw == WORDS_MAX)
			return bad(c, "too many words");
		w[nw++] = t;
	}
	if (nw == 0 || w[0][0] == '#')
		return 0;
	if (strcmp(w[0], "bond"))
		return bad(c, "unknown keyword \"%.40s\" (a line is \"bond ADDR TYPE ...\")", w[0]);
	if (nw < 3)
		return bad(c, "bond wants an address and its type");
	memset(&nb, 0, sizeof(nb));
	if (bdaddr_parse(w[1], &nb.addr))
		return bad(c, "\"%.40s\" is not an address (XX:XX:XX:XX:XX:XX)", w[1]);
	if (strcmp(w[2], "public") == 0)
		nb.type = BDADDR_PUBLIC;
	else if (strcmp(w[2], "random") == 0)
		nb.type = BDADDR_RANDOM;
	else
		return bad(c, "address type \"%.40s\": public or random", w[2]);
	if (nb.type == BDADDR_RANDOM && (nb.addr.b[5] & 0xc0) != 0xc0) {
		ret = bad(c, "a random identity is a static address (top bits 11)");
		goto out;
	}
	ret = -EINVAL;
	for (i = 3; i < nw; i += 2) {
		for (f = 0; f < F_N && strcmp(w[i], fields[f]); f++)
			;
		if (f == F_N) {
			ret = bad(c, "unknown field \"%.40s\"", w[i]);
			goto out;
		}
		if (seen & (1u << f)) {
			ret = bad(c, "%s given twice", fields[f]);
			goto out;
		}
		if (i + 1 == nw) {
			ret = bad(c, "%s wants a value", fields[f]);
			goto out;
		}
		seen |= 1u << f;
		ret = parse_field(c, &nb, f, w[i + 1]);
		if (ret)
			goto out;
	}
	ret = -EINVAL;
	if (!(seen & (1u << F_BY)) || !(seen & (1u << F_AT))) {
		bad(c, "a bond wants by USER and at SECONDS");
		goto out;
	}
	nb.has_lk = seen & (1u << F_LK);
	if (nb.has_lk != !!(seen & (1u << F_LKT))) {
		bad(c, "linkkey and linkkey-type go together");
		goto out;
	}
	nb.has_ltk = seen & (1u << F_LTK);
	f = seen & (1u << F_LTK | 1u << F_EDIV | 1u << F_RAND | 1u << F_KS | 1u << F_AUTH);
	if (f && f != (1u << F_LTK | 1u << F_EDIV | 1u << F_RAND | 1u << F_KS | 1u << F_AUTH)) {
		bad(c, "ltk, ediv, rand, key-size and authenticated go together");
		goto out;
	}
	nb.has_irk = seen & (1u << F_IRK);
	nb.has_pltk = seen & (1u << F_PLTK);
	f = seen & (1u << F_PLTK | 1u << F_PEDIV | 1u << F_PRAND);
	if (f && f != (1u << F_PLTK | 1u << F_PEDIV | 1u << F_PRAND)) {
		bad(c, "pltk, pediv and prand go together");
		goto out;
	}
	if (nb.has_pltk && nb.pediv == 0 && !memcmp(nb.prand, "\0\0\0\0\0\0\0\0", 8)) {
		bad(c, "pediv and prand both 0 are an STK's or a Secure Connections key's, never a kept key's");
		goto out;
	}
	if (!nb.has_lk && !nb.has_ltk && !nb.has_irk && !nb.has_pltk) {
		bad(c, "a bond wants a linkkey, an ltk, an irk or a pltk");
		goto out;
	}
	if (find_idx(b, &nb.addr, nb.type) >= 0) {
		bad(c, "%s %s bonded twice", w[1], w[2]);
		goto out;
	}
	if (b->n >= BONDS_MAX) {
		bad(c, "more than %u bonds", BONDS_MAX);
		goto out;
	}
	b->b[b->n++] = nb;
	ret = 0;
out:
	secmem_wipe(&nb, sizeof(nb));
	return ret;
}

int bonds_parse_buffer(const char *name, const char *buf, size_t len,
		       struct bonds **out, char *err, size_t errlen)
{
	struct pctx c = { name, 0, err, errlen };
	char line[BONDS_LINE_MAX + 1];
	struct bonds *b;
	size_t pos = 0, n;
	int ret = 0;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > BONDS_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", name, BONDS_FILE_MAX);
		return -EFBIG;
	}
	b = bonds_new();
	if (!b)
		return -ENOMEM;
	while (pos < len && !ret) {
		const char *nl = memchr(buf + pos, '\n', len - pos);

		c.line++;
		n = (nl ? (size_t)(nl - buf) : len) - pos;
		if (n > BONDS_LINE_MAX) {
			ret = bad(&c, "line longer than %u bytes", BONDS_LINE_MAX);
			break;
		}
		if (memchr(buf + pos, '\0', n)) {
			ret = bad(&c, "NUL byte");
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		ret = parse_line(&c, b, line);
	}
	secmem_wipe(line, sizeof(line));
	if (ret) {
		bonds_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

int bonds_load(const char *path, struct bonds **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	ret = file_read_small(path, BONDS_FILE_MAX, &buf, &len);
	if (ret == -ENOENT) {
		*out = bonds_new();
		return *out ? 0 : -ENOMEM;
	}
	if (ret) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EFBIG ? "not a regular file or too large" : strerror(-ret));
		return ret;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: readable or writable by others (mode %03o): it holds link keys; chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		ret = -EPERM;
	} else {
		ret = bonds_parse_buffer(path, buf, len, out, err, errlen);
	}
	secmem_free(buf, len + 1);
	return ret;
}

int bonds_serialize(const struct bonds *b, char **out, size_t *len)
{
	static const char head[] =
		"# bgw household bonds (bgw-bonds(5)): written by bgw-muxd, edited with bgw-authdb bond\n";
	char *buf, a[BDADDR_STRLEN], h1[33], h2[33];
	size_t cap = sizeof(head) + (size_t)b->n * (BONDS_LINE_MAX + 1), n;
	unsigned i;
	int w;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (i = 0; i < b->n; i++) {
		const struct bond *x = &b->b[i];

		w = snprintf(buf + n, cap - n, "bond %s %s by %s at %" PRId64,
			     bdaddr_fmt(&x->addr, a),
			     x->type == BDADDR_RANDOM ? "random" : "public", x->by, x->at);
		n += (size_t)w;
		if (x->has_lk) {
			hex_encode(x->lk, sizeof(x->lk), h1);
			n += (size_t)snprintf(buf + n, cap - n, " linkkey %s linkkey-type %u",
					      h1, x->lk_type);
		}
		if (x->has_ltk) {
			hex_encode(x->ltk, sizeof(x->ltk), h1);
			hex_encode(x->rand, sizeof(x->rand), h2);
			n += (size_t)snprintf(buf + n, cap - n,
					      " ltk %s ediv %u rand %s key-size %u authenticated %s",
					      h1, x->ediv, h2, x->key_size,
					      x->authenticated ? "yes" : "no");
		}
		if (x->has_irk) {
			hex_encode(x->irk, sizeof(x->irk), h1);
			n += (size_t)snprintf(buf + n, cap - n, " irk %s", h1);
		}
		if (x->has_pltk) {
			hex_encode(x->pltk, sizeof(x->pltk), h1);
			hex_encode(x->prand, sizeof(x->prand), h2);
			n += (size_t)snprintf(buf + n, cap - n, " pltk %s pediv %u prand %s",
					      h1, x->pediv, h2);
		}
		buf[n++] = '\n';
	}
	secmem_wipe(h1, sizeof(h1));
	secmem_wipe(h2, sizeof(h2));
	*out = buf;
	*len = n;
	return 0;
}

int bonds_save(const struct bonds *b, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (!b || !path)
		return -EINVAL;
	ret = bonds_serialize(b, &buf, &len);
	if (ret)
		return ret;
	ret = file_replace(path, buf, len);
	secmem_free(buf, len);
	return ret;
}
