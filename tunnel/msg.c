/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "msg.h"

/*
 * Strings on the wire (user names, reason texts, SCRAM messages) are shown
 * to people and written to logs: a NUL would cut them short in C and a
 * control character could forge a log line or a terminal sequence, so both
 * are refused rather than cleaned (UTF-8 bytes >= 0x80 pass).
 */
static bool tun_text_is_clean(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A u8 length and that many clean bytes, copied NUL-terminated. */
static int tun_get_str(struct cur *c, char *dst, size_t max, size_t min)
{
	uint8_t n = cur_u8(c);
	const uint8_t *s;

	if (!cur_is_ok(c))
		return -EPROTO;
	if (n > max || n < min)
		return -EPROTO;
	s = cur_bytes(c, n);
	if (!s || !tun_text_is_clean(s, n))
		return -EPROTO;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Serial-number distance b - a (RFC 1982 style, 32-bit). */
static uint32_t tun_seq_dist(uint32_t a, uint32_t b)
{
	return b - a;
}

static int tun_decode_body(struct tun_msg *m, struct cur *c)
{
	uint32_t ds, de;
	size_t i;
	int r;

	switch (m->type) {
	case TUN_MSG_HELLO:
		m->hello.vmin = cur_u8(c);
		m->hello.vmax = cur_u8(c);
		m->hello.mode = cur_u8(c);
		if (!cur_is_done(c) || m->flags)
			return -EPROTO;
		if (m->hello.vmin == 0 || m->hello.vmin > m->hello.vmax)
			return -EPROTO;
		if (m->hello.mode < TUN_MODE_CERT || m->hello.mode > TUN_MODE_RESUME)
			return -EPROTO;
		return 0;
	case TUN_MSG_AUTH:
		m->auth.step = cur_u8(c);
		m->auth.len = cur_be16(c);
		if (!cur_is_ok(c) || m->flags)
			return -EPROTO;
		if (m->auth.step < TUN_AUTH_CLIENT_FIRST ||
		    m->auth.step > TUN_AUTH_SERVER_FINAL)
			return -EPROTO;
		if (m->auth.len == 0 || m->auth.len > TUN_AUTH_MAX)
			return -EPROTO;
		m->auth.data = cur_bytes(c, m->auth.len);
		if (!m->auth.data || !cur_is_done(c))
			return -EPROTO;
		if (!tun_text_is_clean(m->auth.data, m->auth.len))
			return -EPROTO;
		return 0;
	case TUN_MSG_READY:
		if (m->flags & ~TUN_F_RESUMED)
			return -EPROTO;
		cur_copy(c, m->ready.sid, TUN_SID_LEN);
		m->ready.resume_s = cur_be16(c);
		r = tun_get_str(c, m->ready.user, TUN_USER_MAX, 1);
		if (r < 0 || !cur_is_done(c))
			return -EPROTO;
		return 0;
	case TUN_MSG_HCI:
		if (m->flags & ~TUN_F_MORE)
			return -EPROTO;
		m->hci.seq = cur_be32(c);
		if (!cur_is_ok(c) || cur_left(c) == 0 || cur_left(c) > TUN_SEG_MAX)
			return -EPROTO;
		m->hci.len = (uint16_t)cur_left(c);
		m->hci.data = cur_bytes(c, m->hci.len);
		return 0;
	case TUN_MSG_ACK:
		if (m->flags & ~TUN_F_ECHO)
			return -EPROTO;
		m->ack.cum = cur_be32(c);
		m->ack.wnd = cur_be16(c);
		m->ack.echo = cur_be32(c);
		m->ack.nsack = cur_u8(c);
		if (!cur_is_ok(c) || m->ack.nsack > TUN_SACK_MAX)
			return -EPROTO;
		for (i = 0; i < m->ack.nsack; i++) {
			struct tun_sack *s = &m->ack.sack[i];

			s->start = cur_be32(c);
			s->end = cur_be32(c);
			/*
			 * A range must lie beyond the cumulative point and
			 * be non-empty, both within 16 bits (a window never
			 * reaches further), so the sender never walks an
			 * absurd span when applying it.
			 */
			ds = tun_seq_dist(m->ack.cum, s->start);
			de = tun_seq_dist(m->ack.cum, s->end);
			if (ds == 0 || de <= ds || de > 0xffff)
				return -EPROTO;
		}
		if (!cur_is_done(c))
			return -EPROTO;
		return 0;
	case TUN_MSG_KEEPALIVE:
		if (m->flags || !cur_is_done(c))
			return -EPROTO;
		return 0;
	case TUN_MSG_RESUME:
		cur_copy(c, m->resume.sid, TUN_SID_LEN);
		cur_copy(c, m->resume.proof, TUN_PROOF_LEN);
		if (m->flags || !cur_is_done(c))
			return -EPROTO;
		return 0;
	case TUN_MSG_CHALLENGE:
		cur_copy(c, m->challenge.chal, TUN_CHAL_LEN);
		if (m->flags || !cur_is_done(c))
			return -EPROTO;
		return 0;
	case TUN_MSG_CERT_PROOF:
		/*
		 * Two binary fields, each declared, each non-empty and under
		 * its cap, together exactly the body: the certificate is
		 * parsed later (by GnuTLS, from these bounds only).
		 */
		if (m->flags)
			return -EPROTO;
		m->proof.cert_len = cur_be16(c);
		if (!cur_is_ok(c) || m->proof.cert_len == 0 ||
		    m->proof.cert_len > TUN_CERT_DER_MAX)
			return -EPROTO;
		m->proof.cert = cur_bytes(c, m->proof.cert_len);
		m->proof.sig_len = cur_be16(c);
		if (!m->proof.cert || !cur_is_ok(c) || m->proof.sig_len == 0 ||
		    m->proof.sig_len > TUN_CERT_SIG_MAX)
			return -EPROTO;
		m->proof.sig = cur_bytes(c, m->proof.sig_len);
		if (!m->proof.sig || !cur_is_done(c))
			return -EPROTO;
		return 0;
	case TUN_MSG_CLOSE:
	case TUN_MSG_ERROR:
		m->close.code = cur_be16(c);
		r = tun_get_str(c, m->close.text, TUN_TEXT_MAX, 0);
		if (m->flags || r < 0 || !cur_is_done(c))
			return -EPROTO;
		return 0;
	default:
		return -EPROTONOSUPPORT;
	}
}

uint64_t tun_msg_decodes;

int tun_msg_decode(struct tun_msg *m, const uint8_t *buf, size_t len, size_t *used)
{
	struct cur c, body;
	uint16_t blen;
	uint8_t rsv;
	int r;

	tun_msg_decodes++;
	memset(m, 0, sizeof(*m));
	cur_init(&c, buf, len);
	m->version = cur_u8(&c);
	m->type = cur_u8(&c);
	m->flags = cur_u8(&c);
	rsv = cur_u8(&c);
	blen = cur_be16(&c);
	if (!cur_is_ok(&c))
		return -EBADMSG;
	if (blen > TUN_BODY_MAX)
		return -EMSGSIZE;
	body = cur_sub(&c, blen);
	if (!cur_is_ok(&body))
		return -EBADMSG;
	if (rsv != 0)
		return -EPROTO;
	r = tun_decode_body(m, &body);
	if (r < 0)
		return r;
	if (used)
		*used = TUN_HDR_LEN + blen;
	return 0;
}

long tun_msg_need(const uint8_t *buf, size_t len)
{
	size_t blen;

	if (len < TUN_HDR_LEN)
		return (long)(TUN_HDR_LEN - len);
	blen = (size_t)buf[4] << 8 | buf[5];
	if (blen > TUN_BODY_MAX)
		return -EMSGSIZE;
	if (len >= TUN_HDR_LEN + blen)
		return 0;
	return (long)(TUN_HDR_LEN + blen - len);
}

static int tun_put_str(struct wbuf *w, const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	if (n > max || !tun_text_is_clean((const uint8_t *)s, n))
		return -EINVAL;
	wbuf_u8(w, (uint8_t)n);
	wbuf_bytes(w, s, n);
	return 0;
}

int tun_msg_encode(const struct tun_msg *m, uint8_t *out, size_t cap)
{
	struct wbuf w;
	uint8_t *lenp;
	size_t i;
	int r = 0;

	wbuf_init(&w, out, cap);
	wbuf_u8(&w, m->version);
	wbuf_u8(&w, m->type);
	wbuf_u8(&w, m->flags);
	wbuf_u8(&w, 0);
	lenp = wbuf_reserve(&w, 2);
	switch (m->type) {
	case TUN_MSG_HELLO:
		wbuf_u8(&w, m->hello.vmin);
		wbuf_u8(&w, m->hello.vmax);
		wbuf_u8(&w, m->hello.mode);
		break;
	case TUN_MSG_AUTH:
		if (m->auth.len == 0 || m->auth.len > TUN_AUTH_MAX ||
		    !tun_text_is_clean(m->auth.data, m->auth.len))
			return -EINVAL;
		wbuf_u8(&w, m->auth.step);
		wbuf_be16(&w, m->auth.len);
		wbuf_bytes(&w, m->auth.data, m->auth.len);
		break;
	case TUN_MSG_READY:
		wbuf_bytes(&w, m->ready.sid, TUN_SID_LEN);
		wbuf_be16(&w, m->ready.resume_s);
		if (m->ready.user[0] == '\0')
			return -EINVAL;
		r = tun_put_str(&w, m->ready.user, TUN_USER_MAX);
		break;
	case TUN_MSG_HCI:
		if (m->hci.len == 0 || m->hci.len > TUN_SEG_MAX)
			return -EINVAL;
		wbuf_be32(&w, m->hci.seq);
		wbuf_bytes(&w, m->hci.data, m->hci.len);
		break;
	case TUN_MSG_ACK:
		if (m->ack.nsack > TUN_SACK_MAX)
			return -EINVAL;
		wbuf_be32(&w, m->ack.cum);
		wbuf_be16(&w, m->ack.wnd);
		wbuf_be32(&w, m->ack.echo);
		wbuf_u8(&w, m->ack.nsack);
		for (i = 0; i < m->ack.nsack; i++) {
			wbuf_be32(&w, m->ack.sack[i].start);
			wbuf_be32(&w, m->ack.sack[i].end);
		}
		break;
	case TUN_MSG_KEEPALIVE:
		break;
	case TUN_MSG_RESUME:
		wbuf_bytes(&w, m->resume.sid, TUN_SID_LEN);
		wbuf_bytes(&w, m->resume.proof, TUN_PROOF_LEN);
		break;
	case TUN_MSG_CHALLENGE:
		wbuf_bytes(&w, m->challenge.chal, TUN_CHAL_LEN);
		break;
	case TUN_MSG_CERT_PROOF:
		if (m->proof.cert_len == 0 || m->proof.cert_len > TUN_CERT_DER_MAX ||
		    m->proof.sig_len == 0 || m->proof.sig_len > TUN_CERT_SIG_MAX)
			return -EINVAL;
		wbuf_be16(&w, m->proof.cert_len);
		wbuf_bytes(&w, m->proof.cert, m->proof.cert_len);
		wbuf_be16(&w, m->proof.sig_len);
		wbuf_bytes(&w, m->proof.sig, m->proof.sig_len);
		break;
	case TUN_MSG_CLOSE:
	case TUN_MSG_ERROR:
		wbuf_be16(&w, m->close.code);
		r = tun_put_str(&w, m->close.text, TUN_TEXT_MAX);
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	if (!wbuf_is_ok(&w))
		return -ENOSPC;
	if (w.len - TUN_HDR_LEN > TUN_BODY_MAX)
		return -EINVAL;
	lenp[0] = (uint8_t)((w.len - TUN_HDR_LEN) >> 8);
	lenp[1] = (uint8_t)(w.len - TUN_HDR_LEN);
	return (int)w.len;
}

const char *tun_msg_type_name(uint8_t type)
{
	static const char *const names[] = {
		[TUN_MSG_HELLO] = "HELLO",
		[TUN_MSG_AUTH] = "AUTH",
		[TUN_MSG_READY] = "READY",
		[TUN_MSG_HCI] = "HCI",
		[TUN_MSG_ACK] = "ACK",
		[TUN_MSG_KEEPALIVE] = "KEEPALIVE",
		[TUN_MSG_RESUME] = "RESUME",
		[TUN_MSG_CLOSE] = "CLOSE",
		[TUN_MSG_ERROR] = "ERROR",
		[TUN_MSG_CHALLENGE] = "CHALLENGE",
		[TUN_MSG_CERT_PROOF] = "CERT_PROOF",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}
