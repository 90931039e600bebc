/* SPDX-License-Identifier: MIT */
/*
 * The peer link codec (link.h). Every read goes through lib/cursor.h and
 * every layout is checked to the byte: a frame is exactly as long as its
 * type says, never shorter, never with trailing bytes.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "link.h"

/* The same rule as tunnel messages: no NUL, no control character. */
static bool link_text_is_clean(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * Only what an attached session carries crosses the link as MSG: the
 * login messages (HELLO, AUTH, READY, RESUME) are the peer's business,
 * and a peer that relays one is broken or compromised.
 */
static bool link_msg_type_ok(uint8_t type)
{
	switch (type) {
	case TUN_MSG_HCI:
	case TUN_MSG_ACK:
	case TUN_MSG_KEEPALIVE:
	case TUN_MSG_CLOSE:
	case TUN_MSG_ERROR:
		return true;
	default:
		return false;
	}
}

static bool link_type_ok(uint8_t type, enum tun_link_dir dir)
{
	switch (type) {
	case TUN_LF_ATTACH:
	case TUN_LF_RESUME:
	case TUN_LF_MSG_UP:
	case TUN_LF_DOWN:
	case TUN_LF_MSGS_UP:
		return dir == TUN_LINK_TO_CORE;
	case TUN_LF_OK:
	case TUN_LF_FAIL:
	case TUN_LF_MSG_DOWN:
	case TUN_LF_END:
	case TUN_LF_DROP:
	case TUN_LF_MSGS_DOWN:
		return dir == TUN_LINK_TO_PEER;
	default:
		return false;
	}
}

/* ms: where the decoded message goes (the caller's), or NULL. */
static int link_decode_msg(struct tun_link_frame *f, struct cur *c, struct tun_msg *ms)
{
	struct tun_msg own, *m = ms ? ms : &own;
	size_t n = cur_left(c), used = 0;
	const uint8_t *p = cur_bytes(c, n);

	if (!p || n < TUN_HDR_LEN || n > TUN_MSG_MAX)
		return -EBADMSG;
	/* Exactly one whole message: no second one, no trailing bytes. */
	if (tun_msg_decode(m, p, n, &used) < 0 || used != n)
		return -EPROTO;
	if (!link_msg_type_ok(m->type))
		return -EPROTO;
	f->msg.data = p;
	f->msg.len = n;
	f->msg.msg_type = m->type;
	return 0;
}

/*
 * MSGS: 2..TUN_LINK_MSGS_MAX entries, each a be16 length and exactly one
 * whole valid tunnel message of an allowed type, filling the frame to
 * the byte. All are checked before any is used: a frame with one bad
 * entry is refused whole, never half taken.
 */
static int link_decode_msgs(struct tun_link_frame *f, struct cur *c, struct tun_msg *ms)
{
	struct tun_msg own, *m = &own;
	size_t n = cur_left(c), used;
	const uint8_t *start = cur_bytes(c, n), *p;
	struct cur e;
	unsigned count = 0;
	uint16_t ml;

	if (!start)
		return -EBADMSG;
	cur_init(&e, start, n);
	while (cur_left(&e)) {
		ml = cur_be16(&e);
		p = cur_bytes(&e, ml);
		if (!cur_is_ok(&e) || ml < TUN_HDR_LEN || ml > TUN_MSG_MAX)
			return -EBADMSG;
		if (++count > TUN_LINK_MSGS_MAX)
			return -EPROTO;
		if (ms)
			m = &ms[count - 1];
		if (tun_msg_decode(m, p, ml, &used) < 0 || used != ml ||
		    !link_msg_type_ok(m->type))
			return -EPROTO;
	}
	/* One message goes in MSG: a MSGS of one is not a sane peer's. */
	if (count < 2)
		return -EPROTO;
	f->msgs.data = start;
	f->msgs.len = n;
	f->msgs.count = count;
	return 0;
}

int tun_link_msgs_next(const struct tun_link_frame *f, size_t *at, const uint8_t **msg,
		       size_t *len)
{
	size_t n;

	if (*at + 2 > f->msgs.len)
		return 0;
	n = ((size_t)f->msgs.data[*at] << 8) | f->msgs.data[*at + 1];
	if (n > f->msgs.len - *at - 2)
		return 0;	/* checked by the decoder: cannot happen */
	*msg = f->msgs.data + *at + 2;
	*len = n;
	*at += 2 + n;
	return 1;
}

int tun_link_msgs_add(uint8_t *out, size_t cap, size_t *used, unsigned *count,
		      const uint8_t *msg, size_t len)
{
	if (len < TUN_HDR_LEN || len > TUN_MSG_MAX)
		return -EINVAL;
	if (*used == 0) {
		if (cap < 1)
			return -ENOSPC;
		out[0] = TUN_LF_MSGS_UP;
		*used = 1;
		*count = 0;
	}
	if (*count >= TUN_LINK_MSGS_MAX || cap - *used < 2 + len)
		return -ENOSPC;
	out[*used] = (uint8_t)(len >> 8);
	out[*used + 1] = (uint8_t)len;
	memcpy(out + *used + 2, msg, len);
	*used += 2 + len;
	(*count)++;
	return 0;
}

int tun_link_decode(struct tun_link_frame *f, const uint8_t *buf, size_t len,
		    enum tun_link_dir dir)
{
	return tun_link_decode_msgs(f, buf, len, dir, NULL);
}

int tun_link_decode_msgs(struct tun_link_frame *f, const uint8_t *buf, size_t len,
			 enum tun_link_dir dir, struct tun_msg *ms)
{
	struct cur c;
	uint8_t b, n;
	const uint8_t *s;

	memset(f, 0, sizeof(*f));
	if (!buf || len == 0)
		return -EBADMSG;
	if (len > TUN_LINK_DGRAM_MAX)
		return -EBADMSG;
	cur_init(&c, buf, len);
	f->type = cur_u8(&c);
	if (!link_type_ok(f->type, dir))
		return -EPROTONOSUPPORT;
	if (f->type == TUN_LF_MSGS_UP || f->type == TUN_LF_MSGS_DOWN)
		return link_decode_msgs(f, &c, ms);
	if (len > TUN_LINK_FRAME_MAX)
		return -EBADMSG;
	switch (f->type) {
	case TUN_LF_ATTACH:
		f->attach.version = cur_u8(&c);
		b = cur_u8(&c);
		cur_copy(&c, f->attach.sid, TUN_SID_LEN);
		cur_copy(&c, f->attach.key, TUN_KEY_LEN);
		if (!cur_is_done(&c))
			return -EBADMSG;
		if (f->attach.version < TUN_VERSION_MIN ||
		    f->attach.version > TUN_VERSION_MAX || b > 1)
			return -EPROTO;
		f->attach.stream = b;
		return 0;
	case TUN_LF_RESUME:
		f->resume.version = cur_u8(&c);
		b = cur_u8(&c);
		cur_copy(&c, f->resume.sid, TUN_SID_LEN);
		cur_copy(&c, f->resume.bind, TUN_KEY_LEN);
		cur_copy(&c, f->resume.proof, TUN_PROOF_LEN);
		cur_copy(&c, f->resume.new_key, TUN_KEY_LEN);
		if (!cur_is_done(&c))
			return -EBADMSG;
		if (f->resume.version < TUN_VERSION_MIN ||
		    f->resume.version > TUN_VERSION_MAX || b > 1)
			return -EPROTO;
		f->resume.stream = b;
		return 0;
	case TUN_LF_MSG_UP:
	case TUN_LF_MSG_DOWN:
		return link_decode_msg(f, &c, ms);
	case TUN_LF_DOWN:
	case TUN_LF_FAIL:
		f->reason.reason = cur_u8(&c);
		if (!cur_is_done(&c))
			return -EBADMSG;
		/* FAIL's reason goes to the client in ERROR: wire codes only. */
		if (f->reason.reason == 0 ||
		    (f->type == TUN_LF_FAIL && f->reason.reason >= 100))
			return -EPROTO;
		return 0;
	case TUN_LF_OK:
		b = cur_u8(&c);
		f->ok.resume_s = cur_be16(&c);
		n = cur_u8(&c);
		if (!cur_is_ok(&c))
			return -EBADMSG;
		s = cur_bytes(&c, n);
		if (!s || !cur_is_done(&c))
			return -EBADMSG;
		if (b > 1 || f->ok.resume_s == 0 ||
		    f->ok.resume_s > TUN_LINK_RESUME_S_MAX ||
		    n == 0 || n > TUN_USER_MAX || !link_text_is_clean(s, n))
			return -EPROTO;
		f->ok.resumed = b;
		memcpy(f->ok.user, s, n);
		f->ok.user[n] = '\0';
		return 0;
	case TUN_LF_END:
	case TUN_LF_DROP:
		return cur_is_done(&c) ? 0 : -EBADMSG;
	}
	return -EPROTONOSUPPORT;
}

int tun_link_encode_msg(uint8_t type, const uint8_t *msg, size_t len,
			uint8_t *out, size_t cap)
{
	if ((type != TUN_LF_MSG_UP && type != TUN_LF_MSG_DOWN) ||
	    len < TUN_HDR_LEN || len > TUN_MSG_MAX)
		return -EINVAL;
	if (cap < 1 + len)
		return -ENOSPC;
	out[0] = type;
	memcpy(out + 1, msg, len);
	return (int)(1 + len);
}

int tun_link_encode(const struct tun_link_frame *f, uint8_t *out, size_t cap)
{
	struct wbuf w;
	size_t n;

	wbuf_init(&w, out, cap);
	switch (f->type) {
	case TUN_LF_ATTACH:
		wbuf_u8(&w, f->type);
		wbuf_u8(&w, f->attach.version);
		wbuf_u8(&w, f->attach.stream ? 1 : 0);
		wbuf_bytes(&w, f->attach.sid, TUN_SID_LEN);
		wbuf_bytes(&w, f->attach.key, TUN_KEY_LEN);
		break;
	case TUN_LF_RESUME:
		wbuf_u8(&w, f->type);
		wbuf_u8(&w, f->resume.version);
		wbuf_u8(&w, f->resume.stream ? 1 : 0);
		wbuf_bytes(&w, f->resume.sid, TUN_SID_LEN);
		wbuf_bytes(&w, f->resume.bind, TUN_KEY_LEN);
		wbuf_bytes(&w, f->resume.proof, TUN_PROOF_LEN);
		wbuf_bytes(&w, f->resume.new_key, TUN_KEY_LEN);
		break;
	case TUN_LF_MSG_UP:
	case TUN_LF_MSG_DOWN:
		return tun_link_encode_msg(f->type, f->msg.data, f->msg.len, out, cap);
	case TUN_LF_MSGS_UP:
	case TUN_LF_MSGS_DOWN:
		/* A decoded frame's entries, as they were (not checked here). */
		if (!f->msgs.data || f->msgs.len > TUN_LINK_DGRAM_MAX - 1)
			return -EINVAL;
		wbuf_u8(&w, f->type);
		wbuf_bytes(&w, f->msgs.data, f->msgs.len);
		break;
	case TUN_LF_DOWN:
	case TUN_LF_FAIL:
		if (f->reason.reason == 0 ||
		    (f->type == TUN_LF_FAIL && f->reason.reason >= 100))
			return -EINVAL;
		wbuf_u8(&w, f->type);
		wbuf_u8(&w, f->reason.reason);
		break;
	case TUN_LF_OK:
		n = strnlen(f->ok.user, sizeof(f->ok.user));
		if (n == 0 || n > TUN_USER_MAX || f->ok.resume_s == 0 ||
		    f->ok.resume_s > TUN_LINK_RESUME_S_MAX)
			return -EINVAL;
		wbuf_u8(&w, f->type);
		wbuf_u8(&w, f->ok.resumed ? 1 : 0);
		wbuf_be16(&w, f->ok.resume_s);
		wbuf_u8(&w, (uint8_t)n);
		wbuf_bytes(&w, f->ok.user, n);
		break;
	case TUN_LF_END:
	case TUN_LF_DROP:
		wbuf_u8(&w, f->type);
		break;
	default:
		return -EINVAL;
	}
	return wbuf_is_ok(&w) ? (int)w.len : -ENOSPC;
}

const char *tun_link_type_name(uint8_t type)
{
	switch (type) {
	case TUN_LF_ATTACH: return "ATTACH";
	case TUN_LF_RESUME: return "RESUME";
	case TUN_LF_MSG_UP: return "MSG(up)";
	case TUN_LF_DOWN: return "DOWN";
	case TUN_LF_MSGS_UP: return "MSGS(up)";
	case TUN_LF_OK: return "OK";
	case TUN_LF_FAIL: return "FAIL";
	case TUN_LF_MSG_DOWN: return "MSG(down)";
	case TUN_LF_MSGS_DOWN: return "MSGS(down)";
	case TUN_LF_END: return "END";
	case TUN_LF_DROP: return "DROP";
	default: return "?";
	}
}
