/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "secmem.h"

size_t h4_hdr_size(uint8_t type)
{
	switch (type) {
	case H4_CMD:
		return 1 + HCI_CMD_HDR;
	case H4_ACL:
		return 1 + HCI_ACL_HDR;
	case H4_SCO:
		return 1 + HCI_SCO_HDR;
	case H4_EVT:
		return 1 + HCI_EVT_HDR;
	case H4_ISO:
		return 1 + HCI_ISO_HDR;
	}
	return 0;
}

size_t h4_declared_size(const uint8_t *hdr)
{
	size_t h = h4_hdr_size(hdr[0]);

	switch (hdr[0]) {
	case H4_CMD:
		return h + hdr[3];
	case H4_ACL:
		return h + get_le16(hdr + 3);
	case H4_SCO:
		return h + hdr[3];
	case H4_EVT:
		return h + hdr[2];
	case H4_ISO:
		/* Data_Total_Length is 14 bits; the top two are RFU. */
		return h + (get_le16(hdr + 3) & 0x3fff);
	}
	return 0;
}

int h4_parse(struct h4_pkt *pkt, const uint8_t *buf, size_t len, size_t max_len)
{
	size_t hdr, total;
	uint16_t hf;

	memset(pkt, 0, sizeof(*pkt));
	if (!max_len || max_len > H4_MAX_PKT)
		max_len = H4_MAX_PKT;
	if (!buf || !len)
		return -ENODATA;
	hdr = h4_hdr_size(buf[0]);
	if (!hdr)
		return -EPROTONOSUPPORT;
	if (len < hdr)
		return -EBADMSG;
	total = h4_declared_size(buf);
	if (total > max_len)
		return -EMSGSIZE;
	if (total > len)
		return -EPROTO;
	if (total < len)
		return -E2BIG;

	pkt->type = buf[0];
	pkt->raw = buf;
	pkt->raw_len = len;
	switch (buf[0]) {
	case H4_CMD:
		pkt->cmd.opcode = get_le16(buf + 1);
		pkt->cmd.plen = buf[3];
		pkt->cmd.param = buf + hdr;
		break;
	case H4_EVT:
		pkt->evt.code = buf[1];
		pkt->evt.plen = buf[2];
		pkt->evt.param = buf + hdr;
		break;
	case H4_ACL:
		hf = get_le16(buf + 1);
		pkt->acl.handle = hf & 0x0fff;
		pkt->acl.pb = (hf >> 12) & 0x3;
		pkt->acl.bc = (hf >> 14) & 0x3;
		pkt->acl.dlen = get_le16(buf + 3);
		pkt->acl.data = buf + hdr;
		break;
	case H4_SCO:
		hf = get_le16(buf + 1);
		pkt->sco.handle = hf & 0x0fff;
		pkt->sco.status = (hf >> 12) & 0x3;
		pkt->sco.dlen = buf[3];
		pkt->sco.data = buf + hdr;
		break;
	case H4_ISO:
		hf = get_le16(buf + 1);
		pkt->iso.handle = hf & 0x0fff;
		pkt->iso.pb = (hf >> 12) & 0x3;
		pkt->iso.ts = (hf >> 14) & 0x1;
		pkt->iso.dlen = get_le16(buf + 3) & 0x3fff;
		pkt->iso.data = buf + hdr;
		break;
	}
	return 0;
}

const char *h4_strerror(int err)
{
	switch (err) {
	case 0:
		return "valid packet";
	case -ENODATA:
		return "empty packet";
	case -EPROTONOSUPPORT:
		return "unknown H4 packet type";
	case -EBADMSG:
		return "truncated HCI header";
	case -EPROTO:
		return "declared length longer than the packet";
	case -E2BIG:
		return "bytes after the declared length";
	case -EMSGSIZE:
		return "packet larger than allowed";
	case -ENOSPC:
		return "no room for the packet";
	case -EINVAL:
		return "not the expected packet";
	}
	return "invalid packet";
}

const char *h4_type_name(uint8_t type)
{
	switch (type) {
	case H4_CMD:
		return "CMD";
	case H4_ACL:
		return "ACL";
	case H4_SCO:
		return "SCO";
	case H4_EVT:
		return "EVT";
	case H4_ISO:
		return "ISO";
	}
	return "UNKNOWN";
}

/* Header bytes are written by the callers below; check room once here. */
static int h4_room(size_t cap, size_t hdr, size_t dlen, size_t dmax)
{
	if (dlen > dmax)
		return -EMSGSIZE;
	if (hdr + dlen > cap)
		return -ENOSPC;
	return (int)(hdr + dlen);
}

int h4_build_cmd(uint8_t *out, size_t cap, uint16_t opcode,
		 const void *param, size_t plen)
{
	int n = h4_room(cap, 1 + HCI_CMD_HDR, plen, HCI_MAX_PARAM);

	if (n < 0)
		return n;
	out[0] = H4_CMD;
	put_le16(out + 1, opcode);
	out[3] = (uint8_t)plen;
	if (plen)
		memcpy(out + 4, param, plen);
	return n;
}

int h4_build_evt(uint8_t *out, size_t cap, uint8_t code,
		 const void *param, size_t plen)
{
	int n = h4_room(cap, 1 + HCI_EVT_HDR, plen, HCI_MAX_PARAM);

	if (n < 0)
		return n;
	out[0] = H4_EVT;
	out[1] = code;
	out[2] = (uint8_t)plen;
	if (plen)
		memcpy(out + 3, param, plen);
	return n;
}

int h4_build_le_evt(uint8_t *out, size_t cap, uint8_t subevent,
		    const void *param, size_t plen)
{
	int n = h4_room(cap, 1 + HCI_EVT_HDR + 1, plen, HCI_MAX_PARAM - 1);

	if (n < 0)
		return n;
	out[0] = H4_EVT;
	out[1] = HCI_EV_LE_META;
	out[2] = (uint8_t)(plen + 1);
	out[3] = subevent;
	if (plen)
		memcpy(out + 4, param, plen);
	return n;
}

int h4_build_cc(uint8_t *out, size_t cap, uint8_t ncmd, uint16_t opcode,
		const void *ret, size_t rlen)
{
	int n = h4_room(cap, 1 + HCI_EVT_HDR + 3, rlen, HCI_MAX_PARAM - 3);

	if (n < 0)
		return n;
	out[0] = H4_EVT;
	out[1] = HCI_EV_CMD_COMPLETE;
	out[2] = (uint8_t)(rlen + 3);
	out[3] = ncmd;
	put_le16(out + 4, opcode);
	if (rlen)
		memcpy(out + 6, ret, rlen);
	return n;
}

int h4_build_cs(uint8_t *out, size_t cap, uint8_t status, uint8_t ncmd,
		uint16_t opcode)
{
	int n = h4_room(cap, 1 + HCI_EVT_HDR + 4, 0, 0);

	if (n < 0)
		return n;
	out[0] = H4_EVT;
	out[1] = HCI_EV_CMD_STATUS;
	out[2] = 4;
	out[3] = status;
	out[4] = ncmd;
	put_le16(out + 5, opcode);
	return n;
}

static int h4_build_data(uint8_t *out, size_t cap, uint8_t type,
			 uint16_t hf, const void *data, size_t dlen)
{
	size_t hdr = h4_hdr_size(type);
	size_t dmax = type == H4_ACL ? HCI_MAX_ACL :
		      type == H4_SCO ? 255 : HCI_MAX_ISO;
	int n = h4_room(cap, hdr, dlen, dmax);

	if (n < 0)
		return n;
	out[0] = type;
	put_le16(out + 1, hf);
	if (type == H4_SCO)
		out[3] = (uint8_t)dlen;
	else
		put_le16(out + 3, (uint16_t)dlen);
	if (dlen)
		memcpy(out + hdr, data, dlen);
	return n;
}

int h4_build_acl(uint8_t *out, size_t cap, uint16_t handle, uint8_t pb,
		 uint8_t bc, const void *data, size_t dlen)
{
	uint16_t hf = (handle & 0x0fff) | (pb & 0x3) << 12 | (bc & 0x3) << 14;

	return h4_build_data(out, cap, H4_ACL, hf, data, dlen);
}

int h4_build_sco(uint8_t *out, size_t cap, uint16_t handle, uint8_t status,
		 const void *data, size_t dlen)
{
	uint16_t hf = (handle & 0x0fff) | (status & 0x3) << 12;

	return h4_build_data(out, cap, H4_SCO, hf, data, dlen);
}

int h4_build_iso(uint8_t *out, size_t cap, uint16_t handle, uint8_t pb,
		 uint8_t ts, const void *data, size_t dlen)
{
	uint16_t hf = (handle & 0x0fff) | (pb & 0x3) << 12 | (ts & 0x1) << 14;

	return h4_build_data(out, cap, H4_ISO, hf, data, dlen);
}

bool h4_is_discovery_report(const uint8_t *h4, size_t len)
{
	if (len < 3 || h4[0] != H4_EVT)
		return false;
	switch (h4[1]) {
	case HCI_EV_INQUIRY_RESULT:
	case HCI_EV_INQUIRY_RESULT_RSSI:
	case HCI_EV_EXT_INQUIRY_RESULT:
		return true;
	case HCI_EV_LE_META:
		return len >= 4 && (h4[3] == HCI_LE_EV_ADV_REPORT ||
				    h4[3] == HCI_LE_EV_DIRECT_ADV_REPORT ||
				    h4[3] == HCI_LE_EV_EXT_ADV_REPORT);
	default:
		return false;
	}
}

int h4_parse_cc(const struct h4_pkt *pkt, struct h4_cc *cc)
{
	if (pkt->type != H4_EVT || pkt->evt.code != HCI_EV_CMD_COMPLETE)
		return -EINVAL;
	if (pkt->evt.plen < 3)
		return -EBADMSG;
	cc->ncmd = pkt->evt.param[0];
	cc->opcode = get_le16(pkt->evt.param + 1);
	cc->rlen = pkt->evt.plen - 3;
	cc->ret = pkt->evt.param + 3;
	return 0;
}

int h4_parse_cs(const struct h4_pkt *pkt, struct h4_cs *cs)
{
	if (pkt->type != H4_EVT || pkt->evt.code != HCI_EV_CMD_STATUS)
		return -EINVAL;
	if (pkt->evt.plen != 4)
		return -EBADMSG;
	cs->status = pkt->evt.param[0];
	cs->ncmd = pkt->evt.param[1];
	cs->opcode = get_le16(pkt->evt.param + 2);
	return 0;
}

struct h4_reader {
	size_t max;
	size_t len;
	uint8_t *buf;
};

struct h4_reader *h4_reader_new(size_t max_pkt)
{
	struct h4_reader *r;

	if (!max_pkt || max_pkt > H4_MAX_PKT)
		max_pkt = H4_MAX_PKT;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->max = max_pkt;
	r->buf = malloc(max_pkt);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	return r;
}

void h4_reader_free(struct h4_reader *r)
{
	if (!r)
		return;
	secmem_free(r->buf, r->max);
	free(r);
}

void h4_reader_reset(struct h4_reader *r)
{
	r->len = 0;
}

size_t h4_reader_pending(const struct h4_reader *r)
{
	return r->len;
}

/*
 * How many bytes the packet starting at p (n bytes known) needs in total,
 * 0 if more bytes are needed to know, or a negative framing error.
 */
static long h4_need(const uint8_t *p, size_t n, size_t max)
{
	size_t hdr = h4_hdr_size(p[0]);
	size_t total;

	if (!hdr)
		return -EPROTONOSUPPORT;
	if (n < hdr)
		return 0;
	total = h4_declared_size(p);
	if (total > max)
		return -EMSGSIZE;
	return (long)total;
}

int h4_reader_feed(struct h4_reader *r, const uint8_t *data, size_t len,
		   h4_pkt_fn fn, void *user)
{
	struct h4_pkt pkt;
	long need;
	size_t take;
	int err;

	while (len) {
		if (!r->len) {
			/* Fast path: whole packets straight from the input. */
			need = h4_need(data, len, r->max);
			if (need < 0)
				return (int)need;
			if (need && (size_t)need <= len) {
				err = h4_parse(&pkt, data, (size_t)need, r->max);
				if (err)
					return err;
				data += need;
				len -= (size_t)need;
				err = fn(&pkt, user);
				if (err < 0)
					return err;
				continue;
			}
		}
		/* Accumulate: first up to the header, then up to the body. */
		need = h4_need(r->len ? r->buf : data, r->len ? r->len : len,
			       r->max);
		if (need < 0)
			return (int)need;
		if (!need) {
			size_t hdr = h4_hdr_size(r->len ? r->buf[0] : data[0]);

			take = hdr - r->len;
		} else {
			take = (size_t)need - r->len;
		}
		if (take > len)
			take = len;
		memcpy(r->buf + r->len, data, take);
		r->len += take;
		data += take;
		len -= take;

		need = h4_need(r->buf, r->len, r->max);
		if (need < 0)
			return (int)need;
		if (need && r->len == (size_t)need) {
			r->len = 0;
			err = h4_parse(&pkt, r->buf, (size_t)need, r->max);
			if (!err)
				err = fn(&pkt, user);
			/* it may have been a Link Key Notification */
			secmem_wipe(r->buf, (size_t)need);
			if (err < 0)
				return err;
		}
	}
	return 0;
}
