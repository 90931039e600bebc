/* SPDX-License-Identifier: MIT */
/*
 * The scenario ("house") parser, man/bgw-sim.5. Line-oriented: a
 * "device ID" line opens a device, the keyword lines after it describe it.
 * The API is split into new/line/finish so the tests and a fuzzer drive the
 * real parser line by line; a whole file is parsed into a new table and
 * returned only if every line was good (no partial house).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"
#include "rpa.h"
#include "sim_int.h"

#define SIM_FILE_MAX	(1024 * 1024)

struct sim_house_parser {
	char fname[256];
	unsigned lineno;
	struct sim_house *h;
	struct sim_rd_cfg *cur;
	bool failed;
};

static const char default_text[] =
	"# bgw-sim default house: a family home.\n"
	"device lock\n"
	"\taddress C0:B6:00:00:00:01 random\n"
	"\ttype le\n"
	"\tname Front Door Lock\n"
	"\trssi -62\n"
	"\tuuid16 180f\n"
	"\tservice 180f\n"
	"\tcharacteristic 2a19 read,notify 5a\n"
	"\t# The bolt: only for bonded centrals (an encrypted link).\n"
	"\tservice 1815\n"
	"\tcharacteristic 2a56 read,write,encrypt 01\n"
	"\n"
	"device thermometer\n"
	"\taddress 10:B6:00:00:00:02 public\n"
	"\ttype le\n"
	"\tname Thermometer\n"
	"\tappearance 0x0300\n"
	"\trssi -55\n"
	"\tuuid16 181a\n"
	"\tservice 181a\n"
	"\t# Temperature: sint16 in 0.01 degrees Celsius, 21.50 C.\n"
	"\tcharacteristic 2a6e read,notify 6608\n"
	"\tservice 180f\n"
	"\tcharacteristic 2a19 read 4b\n"
	"\n"
	"device bulb\n"
	"\taddress 10:B6:00:00:00:03 public\n"
	"\ttype dual\n"
	"\tname Living Room Bulb\n"
	"\tclass 0x080500\n"
	"\trssi -48\n"
	"\tuuid16 1815\n"
	"\tservice 1815\n"
	"\tcharacteristic 2a56 read,write 01\n"
	"\n"
	"device speaker\n"
	"\taddress 10:B6:00:00:00:04 public\n"
	"\ttype bredr\n"
	"\tname Kitchen Speaker\n"
	"\tclass 0x240414\n"
	"\trssi -58\n"
	"\tuuid16 110b\n"
	"\tuuid16 110e\n"
	"\n"
	"device cuff\n"
	"\taddress 10:B6:00:00:00:05 public\n"
	"\ttype le\n"
	"\tname Blood Pressure Cuff\n"
	"\tappearance 0x0380\n"
	"\trssi -70\n"
	"\tuuid16 1810\n"
	"\tservice 1810\n"
	"\tcharacteristic 2a49 read 0100\n"
	"\tservice 180f\n"
	"\tcharacteristic 2a19 read 64\n";

const char *sim_house_default_text(void)
{
	return default_text;
}

static int perr(struct sim_house_parser *p, char *err, size_t errlen,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int perr(struct sim_house_parser *p, char *err, size_t errlen,
		const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s:%u: %s", p->fname, p->lineno, msg);
	p->failed = true;
	return -EINVAL;
}

int sim_house_parser_new(struct sim_house_parser **out, const char *fname)
{
	struct sim_house_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->h = calloc(1, sizeof(*p->h));
	if (!p->h) {
		free(p);
		return -ENOMEM;
	}
	snprintf(p->fname, sizeof(p->fname), "%s", fname ? fname : "-");
	*out = p;
	return 0;
}

void sim_house_parser_free(struct sim_house_parser *p)
{
	if (!p)
		return;
	free(p->h);
	free(p);
}

/* Next whitespace-separated token of s (modified in place), or NULL. */
static char *tok(char **s)
{
	char *p = *s, *start;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		*s = p;
		return NULL;
	}
	start = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p)
		*p++ = '\0';
	*s = p;
	return start;
}

static char *rest(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Four hex digits, most significant first (a 16-bit UUID). */
static int parse_hex16(const char *s, uint16_t *out)
{
	uint8_t b[2];

	if (hex_decode_exact(s, b, sizeof(b)))
		return -EINVAL;
	*out = (uint16_t)(b[0] << 8 | b[1]);
	return 0;
}

/* Hex digits to bytes; more than cap bytes is an error, not a truncation. */
static int parse_hexbytes(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	return hex_decode(s, strlen(s), out, cap, len);
}

static int parse_bool(const char *s, bool *out)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "no")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int parse_props(char *s, uint8_t *out)
{
	uint8_t props = 0;
	char *save = NULL, *t;
	unsigned n = 0;

	for (t = strtok_r(s, ",", &save); t && n < 8;
	     t = strtok_r(NULL, ",", &save), n++) {
		if (!strcmp(t, "read"))
			props |= SIM_PROP_READ;
		else if (!strcmp(t, "write"))
			props |= SIM_PROP_WRITE;
		else if (!strcmp(t, "write-without-response"))
			props |= SIM_PROP_WRITE_NR;
		else if (!strcmp(t, "notify"))
			props |= SIM_PROP_NOTIFY;
		else if (!strcmp(t, "encrypt"))
			props |= SIM_PROP_ENCRYPT;
		else
			return -EINVAL;
	}
	if (t || !(props & ~SIM_PROP_ENCRYPT))
		return -EINVAL;
	*out = props;
	return 0;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > SIM_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static int kw_device(struct sim_house_parser *p, char *args, char *err,
		     size_t errlen)
{
	char *id = tok(&args);
	struct sim_rd_cfg *d;
	size_t i;

	if (!id || !id_ok(id))
		return perr(p, err, errlen, "bad device id '%s' (1-%d of A-Z a-z 0-9 - _)",
			    id ? id : "", SIM_ID_MAX);
	if (tok(&args))
		return perr(p, err, errlen, "trailing text after device id '%s'", id);
	for (i = 0; i < p->h->n; i++)
		if (!strcmp(p->h->rd[i].id, id))
			return perr(p, err, errlen, "duplicate device id '%s'", id);
	if (p->h->n >= SIM_MAX_RDS)
		return perr(p, err, errlen, "too many devices (at most %d)", SIM_MAX_RDS);
	d = &p->h->rd[p->h->n++];
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->line = p->lineno;
	d->tech = SIM_TECH_LE;
	d->rssi = -60;
	d->discoverable = true;
	d->connectable = true;
	d->connect_in_ms = -1;
	d->io_cap = 0x03;
	d->nc_confirm = true;
	p->cur = d;
	return 0;
}

static int kw_address(struct sim_house_parser *p, struct sim_rd_cfg *d,
		      char *args, char *err, size_t errlen)
{
	char *a = tok(&args), *t = tok(&args);
	struct bdaddr ba;
	size_t i;

	if (!a || bdaddr_parse(a, &ba) || bdaddr_is_zero(&ba))
		return perr(p, err, errlen, "bad address '%s'", a ? a : "");
	if (!t || !strcmp(t, "public")) {
		d->addr_type = BDADDR_PUBLIC;
	} else if (!strcmp(t, "random")) {
		/* Only static random addresses: an RD with an RPA or NRPA
		 * would change address, which the scenario cannot express
		 * (Core Vol 6 Part B 1.3.2.1: two top bits 0b11). */
		if ((ba.b[5] & 0xc0) != 0xc0)
			return perr(p, err, errlen,
				    "random address '%s' is not static (top two bits must be 1)", a);
		d->addr_type = BDADDR_RANDOM;
	} else {
		return perr(p, err, errlen, "bad address type '%s' (public or random)", t);
	}
	if (tok(&args))
		return perr(p, err, errlen, "trailing text after address '%s'", a);
	for (i = 0; i + 1 < p->h->n; i++)
		if (p->h->rd[i].has_addr && bdaddr_eq(&p->h->rd[i].addr, &ba))
			return perr(p, err, errlen, "address '%s' already used by device '%s'",
				    a, p->h->rd[i].id);
	d->addr = ba;
	d->has_addr = true;
	return 0;
}

static int kw_char(struct sim_house_parser *p, struct sim_rd_cfg *d,
		   char *args, char *err, size_t errlen)
{
	char *u = tok(&args), *pr = tok(&args), *v;
	struct sim_char *c;
	size_t len = 0, n;
	int r;

	if (!d->n_services)
		return perr(p, err, errlen, "characteristic before any service");
	if (d->n_chars >= SIM_MAX_CHARS)
		return perr(p, err, errlen, "too many characteristics (at most %d)", SIM_MAX_CHARS);
	c = &d->chars[d->n_chars];
	if (!u || parse_hex16(u, &c->uuid))
		return perr(p, err, errlen, "bad characteristic uuid '%s' (4 hex digits)", u ? u : "");
	if (!pr)
		return perr(p, err, errlen, "missing characteristic properties");
	if (parse_props(pr, &c->props))
		return perr(p, err, errlen, "bad characteristic properties '%s'", pr);
	v = rest(args);
	if (!*v)
		return perr(p, err, errlen, "missing characteristic value");
	if (v[0] == '"') {
		n = strlen(v);
		if (n < 2 || v[n - 1] != '"')
			return perr(p, err, errlen, "unterminated string value %s", v);
		if (n - 2 > SIM_VALUE_MAX)
			return perr(p, err, errlen, "value too long (at most %d bytes)", SIM_VALUE_MAX);
		memcpy(c->value, v + 1, n - 2);
		len = n - 2;
	} else {
		r = parse_hexbytes(v, c->value, SIM_VALUE_MAX, &len);
		if (r == -E2BIG)
			return perr(p, err, errlen, "value too long (at most %d bytes)", SIM_VALUE_MAX);
		if (r)
			return perr(p, err, errlen, "bad value '%s' (hex bytes or \"text\")", v);
	}
	c->len = (uint8_t)len;
	c->svc = (uint8_t)(d->n_services - 1);
	d->n_chars++;
	return 0;
}

static int kw_device_line(struct sim_house_parser *p, const char *kw,
			  char *args, char *err, size_t errlen)
{
	struct sim_rd_cfg *d = p->cur;
	unsigned long v;
	size_t len;
	char *a;
	int r;

	if (!d)
		return perr(p, err, errlen, "'%s' outside a device block", kw);
	if (!strcmp(kw, "address"))
		return kw_address(p, d, args, err, errlen);
	if (!strcmp(kw, "characteristic"))
		return kw_char(p, d, args, err, errlen);
	if (!strcmp(kw, "irk")) {
		uint8_t k[16];
		unsigned i;

		a = tok(&args);
		if (!a || tok(&args) || hex_decode_exact(a, k, sizeof(k)))
			return perr(p, err, errlen, "bad irk '%s' (32 hex digits)", a ? a : "");
		/* Written most significant octet first, as bgw-authdb(5) does. */
		for (i = 0; i < 16; i++)
			d->irk[i] = k[15 - i];
		d->has_irk = true;
		return 0;
	}
	if (!strcmp(kw, "name")) {
		a = rest(args);
		if (!*a)
			return perr(p, err, errlen, "empty name");
		if (strlen(a) > SIM_NAME_MAX)
			return perr(p, err, errlen, "name too long (at most %d bytes)", SIM_NAME_MAX);
		snprintf(d->name, sizeof(d->name), "%s", a);
		return 0;
	}
	a = tok(&args);
	if (a && tok(&args))
		return perr(p, err, errlen, "trailing text after %s '%s'", kw, a);
	if (!strcmp(kw, "type")) {
		if (a && !strcmp(a, "le"))
			d->tech = SIM_TECH_LE;
		else if (a && !strcmp(a, "bredr"))
			d->tech = SIM_TECH_BREDR;
		else if (a && !strcmp(a, "dual"))
			d->tech = SIM_TECH_LE | SIM_TECH_BREDR;
		else
			return perr(p, err, errlen, "bad type '%s' (le, bredr or dual)", a ? a : "");
	} else if (!strcmp(kw, "class")) {
		if (parse_uint(a, 0xffffff, &v))
			return perr(p, err, errlen, "bad class '%s' (0x000000-0xffffff)", a ? a : "");
		d->cod = (uint32_t)v;
	} else if (!strcmp(kw, "rssi")) {
		char *end;
		long s;

		if (!a)
			return perr(p, err, errlen, "missing rssi");
		errno = 0;
		s = strtol(a, &end, 10);
		if (errno || *end || end == a || s < -127 || s > 20)
			return perr(p, err, errlen, "bad rssi '%s' (-127..20 dBm)", a);
		d->rssi = (int8_t)s;
	} else if (!strcmp(kw, "discoverable")) {
		if (parse_bool(a, &d->discoverable))
			return perr(p, err, errlen, "bad discoverable '%s' (yes or no)", a ? a : "");
	} else if (!strcmp(kw, "connectable")) {
		if (parse_bool(a, &d->connectable))
			return perr(p, err, errlen, "bad connectable '%s' (yes or no)", a ? a : "");
	} else if (!strcmp(kw, "appearance")) {
		if (parse_uint(a, 0xffff, &v))
			return perr(p, err, errlen, "bad appearance '%s' (0x0000-0xffff)", a ? a : "");
		d->appearance = (uint16_t)v;
	} else if (!strcmp(kw, "uuid16")) {
		if (d->n_uuids >= SIM_MAX_UUIDS)
			return perr(p, err, errlen, "too many uuid16 lines (at most %d)", SIM_MAX_UUIDS);
		if (parse_hex16(a, &d->uuids[d->n_uuids]))
			return perr(p, err, errlen, "bad uuid16 '%s' (4 hex digits)", a ? a : "");
		d->n_uuids++;
	} else if (!strcmp(kw, "service")) {
		if (d->n_services >= SIM_MAX_SERVICES)
			return perr(p, err, errlen, "too many services (at most %d)", SIM_MAX_SERVICES);
		if (parse_hex16(a, &d->services[d->n_services]))
			return perr(p, err, errlen, "bad service uuid '%s' (4 hex digits)", a ? a : "");
		d->n_services++;
	} else if (!strcmp(kw, "eir")) {
		r = a ? parse_hexbytes(a, d->eir, SIM_EIR_MAX, &len) : -EINVAL;
		if (r == -E2BIG)
			return perr(p, err, errlen, "eir too long (at most %d bytes)", SIM_EIR_MAX);
		if (r)
			return perr(p, err, errlen, "bad eir '%s' (hex bytes)", a ? a : "");
		d->eir_len = (uint8_t)len;
		d->eir_set = true;
	} else if (!strcmp(kw, "adv")) {
		r = a ? parse_hexbytes(a, d->adv, SIM_ADV_MAX, &len) : -EINVAL;
		if (r == -E2BIG)
			return perr(p, err, errlen, "adv too long (at most %d bytes)", SIM_ADV_MAX);
		if (r)
			return perr(p, err, errlen, "bad adv '%s' (hex bytes)", a ? a : "");
		d->adv_len = (uint8_t)len;
		d->adv_set = true;
	} else if (!strcmp(kw, "advertising")) {
		if (a && !strcmp(a, "legacy"))
			d->adv_pdu = SIM_PDU_LEGACY;
		else if (a && !strcmp(a, "extended"))
			d->adv_pdu = SIM_PDU_EXT;
		else if (a && !strcmp(a, "coded"))
			d->adv_pdu = SIM_PDU_CODED;
		else
			return perr(p, err, errlen,
				    "bad advertising '%s' (legacy, extended or coded)",
				    a ? a : "");
	} else if (!strcmp(kw, "ext-adv-len")) {
		if (parse_uint(a, SIM_EXT_ADV_MAX, &v))
			return perr(p, err, errlen, "bad ext-adv-len '%s' (0-%d octets)",
				    a ? a : "", SIM_EXT_ADV_MAX);
		d->ext_adv_len = (uint16_t)v;
	} else if (!strcmp(kw, "io-capability")) {
		static const char *const io[] = { "display", "yesno", "keyboard", "none" };
		unsigned k;

		for (k = 0; k < 4 && (!a || strcmp(a, io[k])); k++)
			;
		if (k == 4)
			return perr(p, err, errlen,
				    "bad io-capability '%s' (display, yesno, keyboard or none)",
				    a ? a : "");
		d->io_cap = (uint8_t)k;
	} else if (!strcmp(kw, "pairing")) {
		if (a && !strcmp(a, "ssp"))
			d->pairing = SIM_PAIR_SSP;
		else if (a && !strcmp(a, "legacy"))
			d->pairing = SIM_PAIR_LEGACY;
		else if (a && !strcmp(a, "refuse"))
			d->pairing = SIM_PAIR_REFUSE;
		else if (a && !strcmp(a, "sc"))
			d->pairing = SIM_PAIR_SC;
		else if (a && !strcmp(a, "sc-only"))
			d->pairing = SIM_PAIR_SC_ONLY;
		else
			return perr(p, err, errlen,
				    "bad pairing '%s' (ssp, legacy, sc, sc-only or refuse)",
				    a ? a : "");
	} else if (!strcmp(kw, "confirm")) {
		if (a && !strcmp(a, "yes"))
			d->nc_confirm = true;
		else if (a && !strcmp(a, "no"))
			d->nc_confirm = false;
		else
			return perr(p, err, errlen, "bad confirm '%s' (yes or no)", a ? a : "");
	} else if (!strcmp(kw, "passkey")) {
		/* Up to six decimal digits, leading zeros as a display shows
		 * them, not octal (Vol 3 Part H 2.3.5.6.3). */
		if (!a || !*a || strlen(a) > 6 || strspn(a, "0123456789") != strlen(a))
			return perr(p, err, errlen, "bad passkey '%s' (0-999999, decimal)",
				    a ? a : "");
		d->passkey = (uint32_t)strtoul(a, NULL, 10);
		d->has_passkey = true;
	} else if (!strcmp(kw, "connect-in")) {
		/* milliseconds, so the scenario says "2500" for 2.5 s */
		if (parse_uint(a, 3600000, &v))
			return perr(p, err, errlen, "bad connect-in '%s' (0-3600000 ms)", a ? a : "");
		d->connect_in_ms = (int32_t)v;
	} else {
		return perr(p, err, errlen, "unknown keyword '%s'", kw);
	}
	return 0;
}

int sim_house_parser_line(struct sim_house_parser *p, const char *line,
			  size_t len, char *err, size_t errlen)
{
	char buf[SIM_LINE_MAX + 1];
	char *s, *kw;
	size_t i;

	p->lineno++;
	if (p->failed)
		return perr(p, err, errlen, "parser already failed");
	if (len && line[len - 1] == '\r')
		len--;
	if (len > SIM_LINE_MAX)
		return perr(p, err, errlen, "line too long (%zu bytes, at most %d)",
			    len, SIM_LINE_MAX);
	if (memchr(line, '\0', len))
		return perr(p, err, errlen, "embedded NUL byte");
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return perr(p, err, errlen, "control character 0x%02x",
				    (unsigned char)line[i]);
	memcpy(buf, line, len);
	buf[len] = '\0';
	s = buf;
	kw = tok(&s);
	if (!kw || kw[0] == '#')
		return 0;
	if (!strcmp(kw, "device"))
		return kw_device(p, s, err, errlen);
	return kw_device_line(p, kw, s, err, errlen);
}

int sim_house_parser_finish(struct sim_house_parser *p, struct sim_house **out,
			    char *err, size_t errlen)
{
	size_t i;

	if (p->failed)
		return perr(p, err, errlen, "parser already failed");
	if (p->h->n == 0)
		return perr(p, err, errlen, "no device in the scenario");
	for (i = 0; i < p->h->n; i++) {
		struct sim_rd_cfg *d = &p->h->rd[i];

		if (!d->has_addr) {
			p->lineno = d->line;
			return perr(p, err, errlen, "device '%s' has no address", d->id);
		}
		if ((d->tech & SIM_TECH_BREDR) && d->addr_type != BDADDR_PUBLIC) {
			p->lineno = d->line;
			return perr(p, err, errlen,
				    "device '%s': BR/EDR needs a public address", d->id);
		}
		if (d->has_irk) {
			p->lineno = d->line;
			if (d->tech != SIM_TECH_LE)
				return perr(p, err, errlen,
					    "device '%s': an irk needs type le", d->id);
			d->id_addr = d->addr;
			d->id_type = d->addr_type;
			/* Its first private address, the same for every run. */
			if (sim_rd_new_rpa(d, (uint32_t)d->addr.b[0] << 16 |
					   (uint32_t)d->addr.b[1] << 8 | d->addr.b[2]))
				return perr(p, err, errlen,
					    "device '%s': no private address (AES failed)", d->id);
		}
		if (!d->name[0])
			memcpy(d->name, d->id, strlen(d->id) + 1);
	}
	*out = p->h;
	p->h = NULL;
	return 0;
}

int sim_rd_new_rpa(struct sim_rd_cfg *d, uint32_t prand)
{
	uint8_t r[3], h[3];

	if (!d->has_irk)
		return -EINVAL;
	r[0] = (uint8_t)prand;
	r[1] = (uint8_t)(prand >> 8);
	r[2] = (uint8_t)(((prand >> 16) & 0x3f) | 0x40);
	if (rpa_ah(d->irk, r, h))
		return -EIO;
	memcpy(d->addr.b, h, 3);
	memcpy(d->addr.b + 3, r, 3);
	d->addr_type = BDADDR_RANDOM;
	return 0;
}

int sim_house_parse_buf(const char *fname, const char *buf, size_t len,
			struct sim_house **out, char *err, size_t errlen)
{
	struct sim_house_parser *p = NULL;
	size_t off = 0;
	int r;

	r = sim_house_parser_new(&p, fname);
	if (r)
		goto out;
	/* Bounded: every round consumes at least one byte. */
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		r = sim_house_parser_line(p, buf + off, n, err, errlen);
		if (r)
			goto out;
		off += n + (nl ? 1 : 0);
	}
	r = sim_house_parser_finish(p, out, err, errlen);
out:
	sim_house_parser_free(p);
	return r;
}

int sim_house_load(const char *path, struct sim_house **out,
		   char *err, size_t errlen)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	buf = malloc(SIM_FILE_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	/* Bounded by SIM_FILE_MAX: a larger file is refused, not cut. */
	for (;;) {
		n = read(fd, buf + len, SIM_FILE_MAX + 1 - len);
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SIM_FILE_MAX) {
			r = -EFBIG;
			snprintf(err, errlen, "%s: file too large (at most %d bytes)",
				 path, SIM_FILE_MAX);
			goto out;
		}
	}
	r = sim_house_parse_buf(path, buf, len, out, err, errlen);
out:
	free(buf);
	close(fd);
	return r;
}

struct sim_house *sim_house_default(void)
{
	struct sim_house *h = NULL;
	char err[256];

	if (sim_house_parse_buf("<default>", default_text, strlen(default_text),
				&h, err, sizeof(err)))
		return NULL;
	return h;
}

void sim_house_free(struct sim_house *h)
{
	free(h);
}
