/* SPDX-License-Identifier: MIT */
/*
 * The monitor/worker RPC (muxd/rpc.h). The decoder is the monitor's only
 * parser of bytes from the unprivileged side: a table says, per request
 * type, how long each string may be and what arg may hold, and anything
 * else is refused whole.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit.h"
#include "cursor.h"
#include "policy.h"
#include "rpc.h"
#include "scram.h"

#define NSTR 4
#define NAME_MAX_ 64		/* TUN_USER_MAX: names as claimed */
#define SRC_MAX_ 64

struct rule {
	uint8_t min[NSTR];	/* name, src, rd, detail */
	uint8_t max[NSTR];
	uint8_t arg_min, arg_max;
	bool reply;
	uint16_t blob_min, blob_max;	/* 0, 0: no blob field at all */
	bool known;
};

static const struct rule rules[RPC_REQ_LAST + 1] = {
	[RPC_CTRL_OPEN] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 0, true, 0, 0, true },
	/* RPC_RETIRED_SCRAM_LOOKUP: no entry, refused as unknown. */
	[RPC_LOGIN_ALLOWED] = { { 0, 1, 0, 0 }, { NAME_MAX_, SRC_MAX_, 0, 0 }, 0, 0, true,
				0, 0, true },
	/* The reason: enum tun_reason, 1..127. */
	[RPC_LOGIN_FAILED] = { { 0, 1, 0, 0 }, { NAME_MAX_, SRC_MAX_, 0, 0 }, 1, 127, false,
			       0, 0, true },
	/* RPC_RETIRED_LOGIN_OK: no entry, refused as unknown. */
	[RPC_SCRAM_SALT] = { { 1, 0, 0, 0 }, { NAME_MAX_, 0, 0, 0 }, 0, 0, true, 0, 0, true },
	/* ClientProof, then an AuthMessage of printable ASCII (checked below). */
	[RPC_SCRAM_VERIFY] = { { 1, 1, 0, 0 }, { NAME_MAX_, SRC_MAX_, 0, 0 }, 0, 0, true,
			       SCRAM_KEY_LEN + 1, SCRAM_KEY_LEN + SCRAM_AM_MAX, true },
	/* A signature algorithm, then a digest (20..64 bytes) or data. */
	[RPC_SIGN] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 1, true,
		       2 + 20, 2 + RPC_SIGN_IN_MAX, true },
	/*
	 * The worker may write only the records it alone can know: a session's
	 * end, an ACL refusal, a pairing it refused. Logins and reloads are
	 * the monitor's own.
	 */
	[RPC_AUDIT] = { { 1, 0, 0, 0 }, { NAME_MAX_, SRC_MAX_, 32, 255 },
			AUDIT_SESSION_END, AUDIT_PAIR_REFUSED, false, 0, 0, true },
	/*
	 * The source key and the address as the front saw them; 1: a slot
	 * reserved for sources that logged in before (tunnel/front.h).
	 */
	/* ... and the hand-over, rpc_spawn_decode's: below. */
	[RPC_SPAWN] = { { 0, 1, 0, 1 }, { 0, SRC_MAX_, 0, 63 }, 0, 1, true, 1, RPC_BLOB_MAX,
			true },
	/* RPC_RETIRED_CERT_USER: no entry, refused as unknown. */
	[RPC_LINK] = { { 0, 0, 0, 0 }, { NAME_MAX_, 0, 0, 0 }, 0, 1, true, 0, 0, true },
	/* A syslog priority (LOG_EMERG..LOG_DEBUG) and the line. */
	[RPC_LOG] = { { 0, 0, 0, 1 }, { 0, 0, 0, 255 }, 0, 7, false, 0, 0, true },
	[RPC_CERT_CHALLENGE] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 0, true, 0, 0, true },
	/* exporter, le16 n, certificate[n], signature: the split checked below. */
	[RPC_CERT_LOGIN] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 0, true,
			     RPC_EXPORTER_LEN + 2 + 1 + 1,
			     RPC_EXPORTER_LEN + 2 + RPC_CERT_DER_MAX + RPC_CERT_SIG_MAX, true },
	/* The relay's address, and its challenge: its header checked below. */
	[RPC_RELAY_SIGN] = { { 0, 0, 0, 1 }, { 0, 0, 0, 63 }, 0, 0, true,
			     RPC_RELAY_CHAL_LEN, RPC_RELAY_CHAL_LEN, true },
	/* An address "XX:XX:XX:XX:XX:XX"; a key and its type. */
	[RPC_BOND_KEY] = { { 0, 0, 17, 0 }, { 0, 0, 17, 0 }, 0, 0, true, 0, 0, true },
	[RPC_BOND_NEW] = { { 1, 0, 17, 0 }, { NAME_MAX_, 0, 17, 0 }, 0, 0, true,
			   RPC_BOND_BLOB_LEN, RPC_BOND_BLOB_LEN, true },
	/* A pid, le32. */
	[RPC_PEER_STOP] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 0, false, 4, 4, true },
	/* The same for LE: the address type in arg; an LTK, EDIV, Rand, size, flag. */
	[RPC_BOND_LTK] = { { 0, 0, 17, 0 }, { 0, 0, 17, 0 }, 0, 1, true, 0, 0, true },
	[RPC_BOND_NEW_LE] = { { 1, 0, 17, 0 }, { NAME_MAX_, 0, 17, 0 }, 0, 1, true,
			      RPC_BOND_LE_BLOB_LEN, RPC_BOND_LE_IRK_BLOB_LEN, true },
	/* le32 pids, each checked below. */
	[RPC_PEERS_LOGGED_IN] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 0, true,
				  4, 4 * RPC_LOGGED_IN_MAX, true },
	/* The first entry wanted; no string. */
	[RPC_BOND_IRKS] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 0, 255, true, 0, 0, true },
	/* The device as central's key: as RPC_BOND_LTK; an LTK, EDIV, Rand. */
	[RPC_BOND_PLTK] = { { 0, 0, 17, 0 }, { 0, 0, 17, 0 }, 0, 1, true, 0, 0, true },
	[RPC_BOND_NEW_PLTK] = { { 1, 0, 17, 0 }, { NAME_MAX_, 0, 17, 0 }, 0, 1, true,
				RPC_BOND_PLTK_BLOB_LEN, RPC_BOND_PLTK_BLOB_LEN, true },
};

/* The lengths rpc_le_bond_decode takes (rpc.h). */
static bool rpc_le_bond_len_ok(size_t n)
{
	return n == RPC_BOND_LE_BLOB_LEN || n == RPC_BOND_LE_IRK_BLOB_LEN;
}

static bool is_known(uint32_t type)
{
	return type >= 1 && type <= RPC_REQ_LAST && rules[type].known;
}

static bool has_blob(uint32_t type)
{
	return rules[type].blob_max > 0;
}

bool rpc_req_has_reply(uint32_t type)
{
	return is_known(type) && rules[type].reply;
}

static const char *req_str(const struct rpc_req *r, unsigned i)
{
	const char *s[NSTR] = { r->name, r->src, r->rd, r->detail };

	return s[i];
}

int rpc_req_encode(const struct rpc_req *r, uint8_t *buf, size_t cap)
{
	struct wbuf w;
	size_t len = 1;
	unsigned i;

	if (!is_known(r->type))
		return -EINVAL;
	for (i = 0; i < NSTR; i++) {
		size_t n = strlen(req_str(r, i));

		if (n > RPC_STR_MAX)
			return -EINVAL;
		len += 1 + n;
	}
	if (r->blob_len > RPC_BLOB_MAX || (r->blob_len && !has_blob(r->type)))
		return -EINVAL;
	if (has_blob(r->type))
		len += 2 + r->blob_len;
	wbuf_init(&w, buf, cap);
	wbuf_le32(&w, r->type);
	wbuf_le32(&w, (uint32_t)len);
	wbuf_u8(&w, r->arg);
	for (i = 0; i < NSTR; i++) {
		const char *s = req_str(r, i);

		wbuf_u8(&w, (uint8_t)strlen(s));
		wbuf_bytes(&w, s, strlen(s));
	}
	if (has_blob(r->type)) {
		wbuf_le16(&w, (uint16_t)r->blob_len);
		wbuf_bytes(&w, r->blob, r->blob_len);
	}
	if (!wbuf_is_ok(&w))
		return -EINVAL;
	return (int)(RPC_HDR_LEN + len);
}

int rpc_req_decode(uint32_t type, const uint8_t *p, size_t len,
		   struct rpc_req *out, const char **why)
{
	char *dst[NSTR] = { out->name, out->src, out->rd, out->detail };
	const struct rule *ru;
	struct cur c;
	unsigned i;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!is_known(type)) {
		*why = "unknown request type";
		return -EPROTO;
	}
	ru = &rules[type];
	out->type = type;
	cur_init(&c, p, len);
	out->arg = cur_u8(&c);
	for (i = 0; i < NSTR; i++) {
		uint8_t n = cur_u8(&c);
		const uint8_t *s = cur_bytes(&c, n);
		unsigned k;

		if (!cur_is_ok(&c)) {
			*why = "truncated";
			return -EPROTO;
		}
		if (n < ru->min[i] || n > ru->max[i]) {
			*why = "string length out of range";
			return -EPROTO;
		}
		/* No NUL, no control byte: these reach logs and the audit. */
		for (k = 0; k < n; k++) {
			if (s[k] < 0x20 || s[k] == 0x7f) {
				*why = "control byte in a string";
				return -EPROTO;
			}
		}
		memcpy(dst[i], s, n);
		dst[i][n] = '\0';
	}
	if (has_blob(type)) {
		uint16_t n = cur_le16(&c);
		const uint8_t *b = cur_bytes(&c, n);

		if (!cur_is_ok(&c)) {
			*why = "truncated";
			return -EPROTO;
		}
		if (n < ru->blob_min || n > ru->blob_max || n > RPC_BLOB_MAX) {
			*why = "blob length out of range";
			return -EPROTO;
		}
		if (type == RPC_SCRAM_VERIFY) {
			unsigned k;

			/* An AuthMessage is printable ASCII (RFC 5802 section 7). */
			for (k = SCRAM_KEY_LEN; k < n; k++) {
				if (b[k] < 0x20 || b[k] > 0x7e) {
					*why = "AuthMessage not printable";
					return -EPROTO;
				}
			}
		}
		/* A digest is at most SHA-512's. */
		if (type == RPC_SIGN && out->arg == 1 && n - 2 > 64) {
			*why = "digest too long";
			return -EPROTO;
		}
		if (type == RPC_SPAWN) {
			struct rpc_spawn sp;
			int r = rpc_spawn_decode(b, n, &sp);

			explicit_bzero(&sp, sizeof(sp));
			if (r < 0) {
				*why = "malformed hand-over";
				return -EPROTO;
			}
		}
		if (type == RPC_PEER_STOP && (get_le32(b) == 0 || get_le32(b) > 0x7fffffffu)) {
			*why = "not a pid";
			return -EPROTO;
		}
		/* Whole pids only, each a pid (1..2^31-1). */
		if (type == RPC_PEERS_LOGGED_IN) {
			unsigned k;

			if (n % 4) {
				*why = "not a list of pids";
				return -EPROTO;
			}
			for (k = 0; k < n; k += 4) {
				if (get_le32(b + k) == 0 || get_le32(b + k) > 0x7fffffffu) {
					*why = "not a pid";
					return -EPROTO;
				}
			}
		}
		/* The LE keys, with or without the IRK: nothing in between. */
		if (type == RPC_BOND_NEW_LE && !rpc_le_bond_len_ok(n)) {
			*why = "not an LTK, with or without an IRK";
			return -EPROTO;
		}
		/* Both parts present, each within its cap, nothing left over. */
		if (type == RPC_CERT_LOGIN) {
			size_t cl = get_le16(b + RPC_EXPORTER_LEN);
			size_t sl = n - RPC_EXPORTER_LEN - 2 - cl;

			if (cl == 0 || cl > RPC_CERT_DER_MAX ||
			    cl >= n - RPC_EXPORTER_LEN - 2u ||
			    sl > RPC_CERT_SIG_MAX) {
				*why = "certificate or signature length out of range";
				return -EPROTO;
			}
		}
		/*
		 * Only a relay's challenge: version 1, REG_CHALLENGE (2), a
		 * 36-byte body (doc/relay.md, "Messages"). The monitor decodes
		 * the rest (muxd/relaysign.c) before it signs anything.
		 */
		if (type == RPC_RELAY_SIGN &&
		    (b[0] != 1 || b[1] != 2 || b[2] != 0 || b[3] != 36)) {
			*why = "not a relay challenge";
			return -EPROTO;
		}
		memcpy(out->blob, b, n);
		out->blob_len = n;
	}
	if (!cur_is_ok(&c)) {
		*why = "truncated";
		return -EPROTO;
	}
	if (!cur_is_done(&c)) {
		*why = "trailing bytes";
		return -EPROTO;
	}
	if (out->arg < ru->arg_min || out->arg > ru->arg_max) {
		*why = "argument out of range";
		return -EPROTO;
	}
	/* A link after a login names its user; one to resume names none. */
	if (type == RPC_LINK && (out->arg == 0) != (out->name[0] != '\0')) {
		*why = "link name does not match its kind";
		return -EPROTO;
	}
	return 0;
}

static bool printable(const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
			return false;
	return true;
}

/* One u8-counted printable string without NUL into dst (cap with the NUL). */
static bool cur_str(struct cur *c, char *dst, size_t cap)
{
	uint8_t n = cur_u8(c);

	if (n >= cap)
		return false;
	cur_copy(c, dst, n);
	dst[n] = '\0';
	return cur_is_ok(c) && strlen(dst) == n && printable(dst, n);
}

#define SPAWN_F_DGRAM	1u
#define SPAWN_F_RND	2u

int rpc_spawn_encode(const struct rpc_spawn *s, uint8_t *buf, size_t cap)
{
	size_t vn = strnlen(s->via, sizeof(s->via));
	struct wbuf w;
	unsigned i;

	if (s->alen > RPC_SPAWN_ADDR_MAX || vn > RPC_SPAWN_VIA_MAX || !printable(s->via, vn) ||
	    s->first_len > RPC_SPAWN_FIRST_MAX)
		return -EINVAL;
	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, (uint8_t)((s->dgram ? SPAWN_F_DGRAM : 0) | (s->has_rnd ? SPAWN_F_RND : 0)));
	if (s->has_rnd)
		wbuf_bytes(&w, s->rnd, RPC_CHAL_LEN);
	wbuf_u8(&w, (uint8_t)s->alen);
	wbuf_bytes(&w, s->addr, s->alen);
	wbuf_le32(&w, s->first_ms);
	for (i = 0; i < 3; i++)
		wbuf_le32(&w, s->pre[i]);
	wbuf_le32(&w, s->relay_chan);
	wbuf_u8(&w, (uint8_t)vn);
	wbuf_bytes(&w, s->via, vn);
	wbuf_le16(&w, (uint16_t)s->first_len);
	wbuf_bytes(&w, s->first, s->first_len);
	return wbuf_is_ok(&w) ? (int)w.len : -EINVAL;
}

int rpc_spawn_decode(const uint8_t *p, size_t len, struct rpc_spawn *out)
{
	struct cur c;
	sa_family_t fam;
	uint8_t flags;
	unsigned i;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	flags = cur_u8(&c);
	if (flags & ~(SPAWN_F_DGRAM | SPAWN_F_RND))
		return -EPROTO;
	out->dgram = flags & SPAWN_F_DGRAM;
	out->has_rnd = flags & SPAWN_F_RND;
	if (out->has_rnd)
		cur_copy(&c, out->rnd, RPC_CHAL_LEN);
	out->alen = cur_u8(&c);
	if (out->alen > RPC_SPAWN_ADDR_MAX)
		return -EPROTO;
	cur_copy(&c, out->addr, out->alen);
	out->first_ms = cur_le32(&c);
	for (i = 0; i < 3; i++)
		out->pre[i] = cur_le32(&c);
	out->relay_chan = cur_le32(&c);
	if (!cur_str(&c, out->via, sizeof(out->via)))
		return -EPROTO;
	out->first_len = cur_le16(&c);
	if (out->first_len > RPC_SPAWN_FIRST_MAX)
		return -EPROTO;
	cur_copy(&c, out->first, out->first_len);
	if (!cur_is_ok(&c) || !cur_is_done(&c))
		return -EPROTO;
	/* An IPv4 or IPv6 address of exactly its size. */
	if (out->alen < sizeof(fam))
		return -EPROTO;
	memcpy(&fam, out->addr, sizeof(fam));
	if (!(fam == AF_INET && out->alen == sizeof(struct sockaddr_in)) &&
	    !(fam == AF_INET6 && out->alen == sizeof(struct sockaddr_in6)))
		return -EPROTO;
	/*
	 * DTLS: the ClientHello with its cookie (and its random, where the
	 * front could read it); TLS: neither (the front read no byte); a
	 * relayed peer is DTLS.
	 */
	if (out->dgram ? !out->first_len :
			 (out->first_len || out->has_rnd || out->relay_chan || out->via[0]))
		return -EPROTO;
	return 0;
}

int rpc_label_encode(const struct rpc_label *lb, uint8_t *buf, size_t cap)
{
	size_t un = strnlen(lb->user, sizeof(lb->user));
	size_t pn = strnlen(lb->peer, sizeof(lb->peer));
	struct wbuf w;

	if (un >= sizeof(lb->user) || pn >= sizeof(lb->peer) ||
	    !printable(lb->user, un) || !printable(lb->peer, pn))
		return -EINVAL;
	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, (uint8_t)un);
	wbuf_bytes(&w, lb->user, un);
	wbuf_u8(&w, (uint8_t)pn);
	wbuf_bytes(&w, lb->peer, pn);
	wbuf_u8(&w, lb->cert);
	wbuf_bytes(&w, lb->sha256, sizeof(lb->sha256));
	return wbuf_is_ok(&w) ? (int)w.len : -EINVAL;
}

int rpc_label_decode(const uint8_t *p, size_t len, struct rpc_label *out)
{
	struct cur c;
	uint8_t cert;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	if (!cur_str(&c, out->user, sizeof(out->user)) ||
	    !cur_str(&c, out->peer, sizeof(out->peer)))
		return -EPROTO;
	cert = cur_u8(&c);
	cur_copy(&c, out->sha256, sizeof(out->sha256));
	if (!cur_is_ok(&c) || !cur_is_done(&c) || cert > 1)
		return -EPROTO;
	out->cert = cert;
	return 0;
}

size_t rpc_le_bond_encode(const struct mux_le_bond *b, uint8_t *blob)
{
	memcpy(blob, b->ltk, 16);
	put_le16(blob + 16, b->ediv);
	memcpy(blob + 18, b->rand, 8);
	blob[26] = b->key_size;
	blob[27] = b->authenticated;
	if (!b->has_irk)
		return RPC_BOND_LE_BLOB_LEN;
	memcpy(blob + RPC_BOND_LE_BLOB_LEN, b->irk, 16);
	return RPC_BOND_LE_IRK_BLOB_LEN;
}

int rpc_le_bond_decode(const uint8_t *blob, size_t len, struct mux_le_bond *b)
{
	if (!rpc_le_bond_len_ok(len))
		return -EPROTO;
	memcpy(b->ltk, blob, 16);
	b->ediv = get_le16(blob + 16);
	memcpy(b->rand, blob + 18, 8);
	b->key_size = blob[26];
	b->authenticated = blob[27] != 0;
	b->has_irk = len == RPC_BOND_LE_IRK_BLOB_LEN;
	if (b->has_irk)
		memcpy(b->irk, blob + RPC_BOND_LE_BLOB_LEN, 16);
	else
		explicit_bzero(b->irk, sizeof(b->irk));
	return 0;
}

void rpc_le_pkey_encode(const struct mux_le_pkey *k, uint8_t *blob)
{
	memcpy(blob, k->ltk, 16);
	put_le16(blob + 16, k->ediv);
	memcpy(blob + 18, k->rand, 8);
}

int rpc_le_pkey_decode(const uint8_t *blob, size_t len, struct mux_le_pkey *k)
{
	if (len != RPC_BOND_PLTK_BLOB_LEN)
		return -EPROTO;
	memcpy(k->ltk, blob, 16);
	k->ediv = get_le16(blob + 16);
	memcpy(k->rand, blob + 18, 8);
	return 0;
}

void rpc_reader_init(struct rpc_reader *rd)
{
	rd->have = 0;
}

int rpc_reader_feed(struct rpc_reader *rd, const uint8_t *p, size_t len,
		    size_t *used, struct rpc_req *out, const char **why)
{
	size_t want, n;
	uint32_t type, plen;
	int r;

	*used = 0;
	*why = NULL;
	want = RPC_HDR_LEN;
	if (rd->have >= RPC_HDR_LEN) {
		plen = get_le32(rd->buf + 4);
		want = RPC_HDR_LEN + plen;
	}
	for (;;) {
		n = want - rd->have;
		if (n > len - *used)
			n = len - *used;
		memcpy(rd->buf + rd->have, p + *used, n);
		rd->have += n;
		*used += n;
		if (rd->have < want)
			return 0;
		if (want > RPC_HDR_LEN || rd->have > RPC_HDR_LEN)
			break;
		/* The header is in: check it before taking its payload. */
		type = get_le32(rd->buf);
		plen = get_le32(rd->buf + 4);
		if (!is_known(type)) {
			*why = "unknown request type";
			return -EPROTO;
		}
		if (plen > RPC_REQ_MAX) {
			*why = "request too long";
			return -EPROTO;
		}
		want = RPC_HDR_LEN + plen;
		if (plen == 0)
			break;
	}
	type = get_le32(rd->buf);
	rd->have = 0;
	r = rpc_req_decode(type, rd->buf + RPC_HDR_LEN, want - RPC_HDR_LEN, out, why);
	/* A request may carry a secret (a link key): not left in the buffer. */
	explicit_bzero(rd->buf, want);
	return r < 0 ? -EPROTO : 1;
}

/*
 * A request: one buffer, no descriptor, plain send() -- which a peer
 * process's sandbox allows, unlike sendmsg (whose msg_name it cannot
 * check).
 */
static int send_buf(int sock, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = send(sock, buf + off, len - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	return 0;
}

static int send_all(int sock, const uint8_t *hdr, const void *payload, size_t len, int fd)
{
	struct iovec iov[2] = {
		{ (void *)hdr, RPC_HDR_LEN }, { (void *)payload, len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh;
	size_t off = 0, total = RPC_HDR_LEN + len;
	bool first = true;

	while (off < total) {
		struct iovec v[2];
		unsigned nv = 0;
		ssize_t w;

		memset(&mh, 0, sizeof(mh));
		if (off < RPC_HDR_LEN) {
			v[nv].iov_base = (uint8_t *)iov[0].iov_base + off;
			v[nv++].iov_len = RPC_HDR_LEN - off;
			if (len) {
				v[nv].iov_base = iov[1].iov_base;
				v[nv++].iov_len = len;
			}
		} else {
			v[nv].iov_base = (uint8_t *)iov[1].iov_base + (off - RPC_HDR_LEN);
			v[nv++].iov_len = total - off;
		}
		mh.msg_iov = v;
		mh.msg_iovlen = nv;
		/* The descriptor rides with the first byte. */
		if (first && fd >= 0) {
			struct cmsghdr *cm;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		first = false;
		off += (size_t)w;
	}
	return 0;
}

int rpc_send(int sock, uint32_t type, const void *payload, size_t len, int fd)
{
	uint8_t hdr[RPC_HDR_LEN];

	if (len > RPC_PUSH_MAX)
		return -EMSGSIZE;
	put_le32(hdr, type);
	put_le32(hdr + 4, (uint32_t)len);
	return send_all(sock, hdr, payload, len, fd);
}

_Static_assert(4 + 1 + 1 + RPC_ERR_MAX + 2 + RPC_RBLOB_MAX <= RPC_REPLY_MAX,
	       "the largest reply is one the worker reads");

int rpc_send_reply(int sock, const struct rpc_reply *r, int fd)
{
	uint8_t buf[4 + 1 + 1 + RPC_ERR_MAX + 2 + sizeof(r->blob)];
	size_t el = strnlen(r->err, RPC_ERR_MAX);
	struct wbuf w;
	int ret;

	if (r->blob_len > sizeof(r->blob))
		return -EINVAL;
	wbuf_init(&w, buf, sizeof(buf));
	wbuf_le32(&w, (uint32_t)r->status);
	wbuf_u8(&w, r->flag);
	wbuf_u8(&w, (uint8_t)el);
	wbuf_bytes(&w, r->err, el);
	wbuf_le16(&w, (uint16_t)r->blob_len);
	wbuf_bytes(&w, r->blob, r->blob_len);
	if (!wbuf_is_ok(&w))
		return -EINVAL;
	ret = rpc_send(sock, RPC_REPLY, buf, w.len, fd);
	explicit_bzero(buf, w.len);	/* a reply may carry a link key or a signature */
	return ret;
}

int rpc_reply_decode(const uint8_t *p, size_t len, struct rpc_reply *out)
{
	struct cur c;
	uint16_t n;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	out->status = (int32_t)cur_le32(&c);
	out->flag = cur_u8(&c);
	n = cur_u8(&c);
	if (n > RPC_ERR_MAX)
		return -EPROTO;
	cur_copy(&c, out->err, n);
	n = cur_le16(&c);
	if (n > sizeof(out->blob))
		return -EPROTO;
	cur_copy(&c, out->blob, n);
	out->blob_len = n;
	if (!cur_is_ok(&c) || !cur_is_done(&c) || out->status > 0)
		return -EPROTO;
	return 0;
}

static int wait_in(int sock, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Exactly len bytes; a descriptor that comes along goes to *fd. */
static int recv_all(int sock, uint8_t *p, size_t len, int *fd, int timeout_ms)
{
	size_t off = 0;

	while (off < len) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec v = { p + off, len - off };
		struct msghdr mh;
		struct cmsghdr *cm;
		ssize_t n;
		int r = wait_in(sock, timeout_ms);

		if (r < 0)
			return r;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &v;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			int got;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
			    cm->cmsg_len != CMSG_LEN(sizeof(int)))
				continue;
			memcpy(&got, CMSG_DATA(cm), sizeof(int));
			if (fd && *fd < 0)
				*fd = got;
			else
				close(got);
		}
		if (mh.msg_flags & MSG_CTRUNC)
			return -EPROTO;
		off += (size_t)n;
	}
	return 0;
}

int rpc_recv(int sock, uint32_t *type, uint8_t **payload, size_t *len,
	     size_t max, int *fd, int timeout_ms)
{
	uint8_t hdr[RPC_HDR_LEN];
	uint32_t plen;
	uint8_t *p;
	int r;

	*payload = NULL;
	*len = 0;
	if (fd)
		*fd = -1;
	r = recv_all(sock, hdr, sizeof(hdr), fd, timeout_ms);
	if (r < 0)
		goto fail;
	*type = get_le32(hdr);
	plen = get_le32(hdr + 4);
	if (plen > max) {
		r = -EPROTO;
		goto fail;
	}
	p = malloc(plen ? plen : 1);
	if (!p) {
		r = -ENOMEM;
		goto fail;
	}
	r = recv_all(sock, p, plen, fd, timeout_ms);
	if (r < 0) {
		free(p);
		goto fail;
	}
	*payload = p;
	*len = plen;
	return 0;
fail:
	if (fd && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

int rpc_call(int sock, const struct rpc_req *r, struct rpc_reply *rep, int *fd)
{
	return rpc_call_fd(sock, r, -1, rep, fd);
}

int rpc_call_fd(int sock, const struct rpc_req *r, int send_fd, struct rpc_reply *rep,
		int *fd)
{
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX];
	uint8_t *p;
	uint32_t type;
	size_t len;
	int n, ret;

	if (fd)
		*fd = -1;
	n = rpc_req_encode(r, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* A peer's filter has no sendmsg: plain send() without a descriptor. */
	if (send_fd >= 0)
		ret = send_all(sock, buf, buf + RPC_HDR_LEN, (size_t)n - RPC_HDR_LEN, send_fd);
	else
		ret = send_buf(sock, buf, (size_t)n);
	explicit_bzero(buf, (size_t)n);	/* it may carry a link key */
	if (ret < 0 || !rpc_req_has_reply(r->type))
		return ret;
	ret = rpc_recv(sock, &type, &p, &len, RPC_REPLY_MAX, fd, RPC_TIMEOUT_MS);
	if (ret < 0)
		return ret;
	ret = type == RPC_REPLY ? rpc_reply_decode(p, len, rep) : -EPROTO;
	explicit_bzero(p, len);
	free(p);
	if (ret < 0 && fd && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}
