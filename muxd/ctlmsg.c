/* SPDX-License-Identifier: MIT */
/*
 * The status snapshot's codec and its two renderings (muxd/ctlmsg.h). The
 * decoder is the monitor's parser of the core's answer: every count is
 * capped before use, every string's length is checked against what is
 * left and its bytes against the printable set, and a trailing byte is an
 * error.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "ctlmsg.h"
#include "cursor.h"
#include "rpa.h"

/*
 * No control byte (these strings reach a terminal and JSON) and valid
 * UTF-8 (RFC 3629 section 4: no overlong form, no surrogate, at most
 * U+10FFFF), so that the JSON rendering is valid as it stands.
 */
static bool printable(const uint8_t *s, size_t n)
{
	size_t k = 0;

	while (k < n) {
		uint8_t b = s[k];
		unsigned need, i;
		uint32_t cp;

		if (b < 0x20 || b == 0x7f)
			return false;
		if (b < 0x80) {
			k++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			need = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (n - k - 1 < need)
			return false;
		for (i = 1; i <= need; i++) {
			if ((s[k + i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[k + i] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		k += need + 1;
	}
	return true;
}

/* A u8- or u16-counted printable string of at most max bytes into dst. */
static bool get_str(struct cur *c, bool wide, char *dst, size_t max)
{
	size_t n = wide ? cur_le16(c) : cur_u8(c);
	const uint8_t *s;

	if (!cur_is_ok(c) || n > max)
		return false;
	s = cur_bytes(c, n);
	if (!cur_is_ok(c) || !printable(s, n))
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool put_str(struct wbuf *w, bool wide, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max || !printable((const uint8_t *)s, n))
		return false;
	if (wide)
		wbuf_le16(w, (uint16_t)n);
	else
		wbuf_u8(w, (uint8_t)n);
	wbuf_bytes(w, s, n);
	return true;
}

bool ctlmsg_pair_bond_ok(const struct mux_pair_dev *d, const struct bdaddr *a, uint8_t type,
			 bool le, const uint8_t *irk)
{
	if (le != d->le)
		return false;
	if (bdaddr_eq(a, &d->a) && type == d->type)
		return true;
	return le && irk && d->type == BDADDR_RANDOM && rpa_is_resolvable(&d->a) &&
	       rpa_matches(irk, &d->a) &&
	       (type == BDADDR_PUBLIC || (type == BDADDR_RANDOM && (a->b[5] & 0xc0) == 0xc0));
}

int ctlmsg_pair_target(const char *t, struct mux_pair_dev *d)
{
	char addr[BDADDR_STRLEN];
	const char *sp = strchr(t, ' ');
	size_t n = sp ? (size_t)(sp - t) : strlen(t);

	memset(d, 0, sizeof(*d));
	if (n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, t, n);
	addr[n] = '\0';
	if (bdaddr_parse(addr, &d->a) < 0)
		return -EINVAL;
	d->type = BDADDR_PUBLIC;
	if (!sp)
		return 0;
	if (!strcmp(sp, " keyboard")) {
		d->keyboard = true;
		return 0;
	}
	d->le = true;
	if (!strcmp(sp, " le public"))
		return 0;
	d->type = BDADDR_RANDOM;
	return !strcmp(sp, " le random") ? 0 : -EINVAL;
}

void ctlmsg_pair_target_fmt(const struct mux_pair_dev *d, char out[CTL_TARGET_MAX + 1])
{
	char as[BDADDR_STRLEN];

	bdaddr_fmt(&d->a, as);
	snprintf(out, CTL_TARGET_MAX + 1, "%s%s", as,
		 !d->le ? (d->keyboard ? " keyboard" : "") :
		 d->type == BDADDR_RANDOM ? " le random" : " le public");
}

int32_t ctlmsg_pair_passkey(const char *t)
{
	int32_t v = 0;
	size_t i, n = strlen(t);

	if (n < 1 || n > 6)
		return -1;
	for (i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -1;
		v = v * 10 + (t[i] - '0');
	}
	return v;
}

/*
 * A status and a cancel name nothing; a kick names what it ends, a
 * pairing its device (ctlmsg_pair_target), an answer "yes", "no" or a
 * passkey.
 */
static bool ask_is_valid(const struct ctl_ask *a)
{
	struct mux_pair_dev d;

	switch (a->kind) {
	case CTL_ASK_STATUS:
	case CTL_ASK_PAIR_CANCEL:
		return a->target[0] == '\0';
	case CTL_ASK_KICK:
		return a->target[0] != '\0';
	case CTL_ASK_PAIR:
		return ctlmsg_pair_target(a->target, &d) == 0;
	case CTL_ASK_PAIR_ANSWER:
		return !strcmp(a->target, "yes") || !strcmp(a->target, "no") ||
		       ctlmsg_pair_passkey(a->target) >= 0;
	default:
		return false;
	}
}

int ctlmsg_ask_encode(const struct ctl_ask *a, uint8_t *buf, size_t cap)
{
	struct wbuf w;

	if (!ask_is_valid(a))
		return -EINVAL;
	wbuf_init(&w, buf, cap);
	wbuf_le32(&w, a->seq);
	wbuf_u8(&w, a->kind);
	if (!put_str(&w, false, a->target, CTL_TARGET_MAX) || !wbuf_is_ok(&w))
		return -EINVAL;
	return (int)w.len;
}

int ctlmsg_ask_decode(const uint8_t *p, size_t len, struct ctl_ask *out)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	if (len > CTL_ASK_MAX)
		return -EPROTO;
	cur_init(&c, p, len);
	out->seq = cur_le32(&c);
	out->kind = cur_u8(&c);
	if (!get_str(&c, false, out->target, CTL_TARGET_MAX) || !cur_is_done(&c))
		return -EPROTO;
	if (!ask_is_valid(out))
		return -EPROTO;
	return 0;
}

int ctlmsg_pair_encode(const struct ctl_pair_msg *m, uint8_t *buf, size_t cap)
{
	struct wbuf w;

	if (m->what < CTL_PAIR_CONFIRM || m->what > CTL_PAIR_ENTER || m->value > 999999 ||
	    m->result > CTL_PAIR_R_MAX)
		return -EINVAL;
	wbuf_init(&w, buf, cap);
	wbuf_le32(&w, m->seq);
	wbuf_u8(&w, m->what);
	wbuf_le32(&w, m->value);
	wbuf_u8(&w, m->result);
	wbuf_u8(&w, m->hci);
	return wbuf_is_ok(&w) ? (int)w.len : -EINVAL;
}

int ctlmsg_pair_decode(const uint8_t *p, size_t len, struct ctl_pair_msg *out)
{
	struct cur c;

	memset(out, 0, sizeof(*out));
	if (len != CTL_PAIR_LEN)
		return -EPROTO;
	cur_init(&c, p, len);
	out->seq = cur_le32(&c);
	out->what = cur_u8(&c);
	out->value = cur_le32(&c);
	out->result = cur_u8(&c);
	out->hci = cur_u8(&c);
	if (!cur_is_done(&c) || out->what < CTL_PAIR_CONFIRM || out->what > CTL_PAIR_ENTER ||
	    out->value > 999999 || out->result > CTL_PAIR_R_MAX)
		return -EPROTO;
	return 0;
}

int ctlmsg_snap_encode(const struct ctl_snap *s, uint8_t *buf, size_t cap)
{
	struct wbuf w;
	unsigned i, k, nl = 0;

	if (s->nsess > CTL_SESS_MAX || s->nlinks > CTL_LINK_MAX || s->sessions > 255)
		return -EINVAL;
	wbuf_init(&w, buf, cap < CTL_SNAP_MAX ? cap : CTL_SNAP_MAX);
	wbuf_le32(&w, s->seq);
	if (!put_str(&w, true, s->ctrl, MUX_URI_MAX - 1))
		return -EINVAL;
	wbuf_u8(&w, (uint8_t)((s->up ? 1 : 0) | (s->ready ? 2 : 0)));
	wbuf_bytes(&w, s->addr.b, 6);
	wbuf_u8(&w, (uint8_t)s->sessions);
	wbuf_u8(&w, (uint8_t)s->nsess);
	for (i = 0; i < s->nsess; i++) {
		const struct ctl_session *e = &s->sess[i];

		if (e->nlinks > CTL_LINK_MAX - nl || e->first_link != nl)
			return -EINVAL;
		wbuf_le32(&w, e->id);
		wbuf_u8(&w, e->method);
		wbuf_u8(&w, e->path);
		wbuf_u8(&w, e->attached);
		if (!put_str(&w, false, e->user, CTL_USER_MAX) ||
		    !put_str(&w, false, e->src, CTL_SRC_MAX))
			return -EINVAL;
		wbuf_le64(&w, (uint64_t)e->since);
		wbuf_le32(&w, e->rtt_us);
		wbuf_u8(&w, (uint8_t)e->nlinks);
		for (k = 0; k < e->nlinks; k++) {
			const struct ctl_link *l = &s->link[nl + k];

			wbuf_bytes(&w, l->addr.b, 6);
			wbuf_u8(&w, l->addr_type);
			wbuf_u8(&w, l->kind);
			wbuf_le16(&w, l->handle);
			if (!put_str(&w, false, l->label, CTL_LABEL_MAX))
				return -EINVAL;
			wbuf_le64(&w, (uint64_t)l->since);
			wbuf_le64(&w, l->bytes_in);
			wbuf_le64(&w, l->bytes_out);
		}
		nl += e->nlinks;
	}
	if (nl != s->nlinks)
		return -EINVAL;
	return wbuf_is_ok(&w) ? (int)w.len : -EMSGSIZE;
}

#define BAD(reason) do { *why = (reason); return -EPROTO; } while (0)

int ctlmsg_snap_decode(const uint8_t *p, size_t len, struct ctl_snap *out,
		       const char **why)
{
	struct cur c;
	unsigned i, k;
	uint8_t flags;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (len > CTL_SNAP_MAX)
		BAD("snapshot too long");
	cur_init(&c, p, len);
	out->seq = cur_le32(&c);
	if (!get_str(&c, true, out->ctrl, MUX_URI_MAX - 1))
		BAD("controller name");
	flags = cur_u8(&c);
	cur_copy(&c, out->addr.b, 6);
	out->sessions = cur_u8(&c);
	out->nsess = cur_u8(&c);
	if (!cur_is_ok(&c))
		BAD("truncated");
	if (flags & ~3u)
		BAD("unknown controller flags");
	out->up = flags & 1;
	out->ready = flags & 2;
	if (out->nsess > CTL_SESS_MAX || out->sessions > MUX_MAX_SESSIONS)
		BAD("too many sessions");
	for (i = 0; i < out->nsess; i++) {
		struct ctl_session *e = &out->sess[i];
		uint8_t att;

		e->id = cur_le32(&c);
		e->method = cur_u8(&c);
		e->path = cur_u8(&c);
		att = cur_u8(&c);
		if (!cur_is_ok(&c))
			BAD("truncated");
		if (e->method > CTL_M_CERT || e->path > CTL_P_RELAY || att > 1)
			BAD("session field out of range");
		e->attached = att;
		if (!get_str(&c, false, e->user, CTL_USER_MAX) || !e->user[0])
			BAD("session user");
		if (!get_str(&c, false, e->src, CTL_SRC_MAX))
			BAD("session source");
		e->since = (int64_t)cur_le64(&c);
		e->rtt_us = cur_le32(&c);
		e->nlinks = cur_u8(&c);
		e->first_link = out->nlinks;
		if (!cur_is_ok(&c))
			BAD("truncated");
		if (e->nlinks > CTL_LINK_MAX - out->nlinks)
			BAD("too many links");
		for (k = 0; k < e->nlinks; k++) {
			struct ctl_link *l = &out->link[out->nlinks + k];

			cur_copy(&c, l->addr.b, 6);
			l->addr_type = cur_u8(&c);
			l->kind = cur_u8(&c);
			l->handle = cur_le16(&c);
			if (!cur_is_ok(&c))
				BAD("truncated");
			/* Handles are 12 bits (Vol 4 Part E 5.4.2). */
			if (l->addr_type > BDADDR_RANDOM || l->kind < MUX_LINK_BREDR ||
			    l->kind > MUX_LINK_LE || l->handle > 0x0eff)
				BAD("link field out of range");
			if (!get_str(&c, false, l->label, CTL_LABEL_MAX))
				BAD("link label");
			l->since = (int64_t)cur_le64(&c);
			l->bytes_in = cur_le64(&c);
			l->bytes_out = cur_le64(&c);
		}
		out->nlinks += e->nlinks;
	}
	if (!cur_is_ok(&c))
		BAD("truncated");
	if (!cur_is_done(&c))
		BAD("trailing bytes");
	return 0;
}

const char *ctlmsg_method_name(uint8_t method)
{
	switch (method) {
	case CTL_M_PASSWORD:
		return "password";
	case CTL_M_CERT:
		return "certificate";
	default:
		return "local";
	}
}

static const char *path_name(uint8_t path)
{
	switch (path) {
	case CTL_P_DIRECT:
		return "direct";
	case CTL_P_RELAY:
		return "relay";
	default:
		return "local";
	}
}

static const char *link_kind_name(uint8_t kind)
{
	switch (kind) {
	case MUX_LINK_LE:
		return "le";
	case MUX_LINK_SCO:
		return "sco";
	default:
		return "br/edr";
	}
}

static void fmt_time(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || !localtime_r(&tt, &tm) ||
	    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, cap, "-");
}

static void fmt_age(int64_t since, int64_t now, char *out, size_t cap)
{
	int64_t d = now > since ? now - since : 0;

	if (d < 3600)
		snprintf(out, cap, "%um%02us", (unsigned)(d / 60), (unsigned)(d % 60));
	else if (d < 86400)
		snprintf(out, cap, "%uh%02um", (unsigned)(d / 3600), (unsigned)(d / 60 % 60));
	else
		snprintf(out, cap, "%ud%02uh", (unsigned)(d / 86400), (unsigned)(d / 3600 % 24));
}

void ctlmsg_print_text(FILE *f, const struct ctl_snap *s, int64_t now)
{
	char a[BDADDR_STRLEN], t[32], age[32], rtt[16];
	unsigned i, k;

	fprintf(f, "controller %s: %s, address %s, %u session%s\n", s->ctrl,
		s->ready ? "up" : s->up ? "initialising" : "down",
		bdaddr_is_zero(&s->addr) ? "unknown" : bdaddr_fmt(&s->addr, a),
		s->sessions, s->sessions == 1 ? "" : "s");
	if (!s->nsess)
		return;
	fprintf(f, "\n%-5s %-16s %-11s %-30s %-8s %-6s %-19s %s\n", "ID", "USER", "METHOD",
		"FROM", "RTT", "PATH", "SINCE", "FOR");
	for (i = 0; i < s->nsess; i++) {
		const struct ctl_session *e = &s->sess[i];

		fmt_time(e->since, t, sizeof(t));
		fmt_age(e->since, now, age, sizeof(age));
		if (e->method == CTL_M_LOCAL || (e->attached && !e->rtt_us))
			snprintf(rtt, sizeof(rtt), "-");
		else if (!e->attached)
			snprintf(rtt, sizeof(rtt), "detached");
		else
			snprintf(rtt, sizeof(rtt), "%u.%ums", e->rtt_us / 1000,
				 e->rtt_us % 1000 / 100);
		fprintf(f, "%-5" PRIu32 " %-16s %-11s %-30s %-8s %-6s %-19s %s\n", e->id, e->user,
			ctlmsg_method_name(e->method), e->src[0] ? e->src : "-", rtt,
			path_name(e->path), t, age);
		for (k = 0; k < e->nlinks; k++) {
			const struct ctl_link *l = &s->link[e->first_link + k];

			fmt_age(l->since, now, age, sizeof(age));
			fprintf(f, "      link %s%s %-6s handle 0x%03x  %s%s%s  for %s  in %" PRIu64
				" B, out %" PRIu64 " B\n", bdaddr_fmt(&l->addr, a),
				l->addr_type == BDADDR_RANDOM ? " (random)" : "",
				link_kind_name(l->kind), l->handle,
				l->label[0] ? "\"" : "", l->label[0] ? l->label : "(no label)",
				l->label[0] ? "\"" : "", age, l->bytes_in, l->bytes_out);
		}
	}
}

/* A JSON string (RFC 8259 section 7): quotes, backslash, controls escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void ctlmsg_print_json(FILE *f, const struct ctl_snap *s)
{
	char a[BDADDR_STRLEN];
	unsigned i, k;

	fprintf(f, "{\"controller\":{\"transport\":");
	json_str(f, s->ctrl);
	fprintf(f, ",\"state\":\"%s\",\"address\":",
		s->ready ? "up" : s->up ? "initialising" : "down");
	if (bdaddr_is_zero(&s->addr))
		fprintf(f, "null");
	else
		json_str(f, bdaddr_fmt(&s->addr, a));
	fprintf(f, ",\"sessions\":%u},\n\"sessions\":[", s->sessions);
	for (i = 0; i < s->nsess; i++) {
		const struct ctl_session *e = &s->sess[i];

		fprintf(f, "%s\n {\"id\":%" PRIu32 ",\"user\":", i ? "," : "", e->id);
		json_str(f, e->user);
		fprintf(f, ",\"method\":\"%s\",\"source\":", ctlmsg_method_name(e->method));
		json_str(f, e->src);
		fprintf(f, ",\"path\":\"%s\",\"attached\":%s,\"since\":%" PRId64 ",\"rtt_ms\":",
			path_name(e->path), e->attached ? "true" : "false", e->since);
		if (e->method == CTL_M_LOCAL || !e->rtt_us)
			fprintf(f, "null");
		else
			fprintf(f, "%u.%03u", e->rtt_us / 1000, e->rtt_us % 1000);
		fprintf(f, ",\"links\":[");
		for (k = 0; k < e->nlinks; k++) {
			const struct ctl_link *l = &s->link[e->first_link + k];

			fprintf(f, "%s{\"address\":\"%s\",\"address_type\":\"%s\",\"kind\":\"%s\","
				"\"handle\":%u,\"label\":", k ? "," : "", bdaddr_fmt(&l->addr, a),
				l->addr_type == BDADDR_RANDOM ? "random" : "public",
				link_kind_name(l->kind), l->handle);
			json_str(f, l->label);
			fprintf(f, ",\"since\":%" PRId64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%"
				PRIu64 "}", l->since, l->bytes_in, l->bytes_out);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "%s]}\n", s->nsess ? "\n" : "");
}
