/* SPDX-License-Identifier: MIT */
/*
 * HCI packets in H4 framing (Core Vol 4 Part A section 2): a packet type
 * byte followed by a command, ACL, SCO, event or ISO packet.
 *
 * h4_parse() validates one complete H4 packet and gives a view into it: the
 * header is checked for length first, then the declared payload length must
 * equal the bytes that follow it exactly. The view points into the caller's
 * buffer; nothing is copied.
 *
 * struct h4_reader frames packets out of a byte stream (UART, stream socket),
 * with a cap on the size of a packet.
 */
#ifndef BGW_HCI_H
#define BGW_HCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hci_defs.h"

enum h4_type {
	H4_CMD = 0x01,
	H4_ACL = 0x02,
	H4_SCO = 0x03,
	H4_EVT = 0x04,
	H4_ISO = 0x05,
};

/* Header sizes after the type byte (Core Vol 4 Part E 5.4). */
#define HCI_CMD_HDR	3	/* opcode(2) plen(1) */
#define HCI_ACL_HDR	4	/* handle+flags(2) dlen(2) */
#define HCI_SCO_HDR	3	/* handle+flags(2) dlen(1) */
#define HCI_EVT_HDR	2	/* code(1) plen(1) */
#define HCI_ISO_HDR	4	/* handle+flags(2) dlen(14 bits) */

#define HCI_MAX_PARAM	255
#define HCI_MAX_ACL	65535
#define HCI_MAX_ISO	16383
#define HCI_HANDLE_MAX	0x0eff	/* 0x0f00..0x0fff are reserved */

/* The largest H4 packet of any type: an ACL header with 65535 data bytes. */
#define H4_MAX_PKT	(1 + HCI_ACL_HDR + HCI_MAX_ACL)
/* The largest command or event: a 3-byte header and 255 parameter bytes. */
#define H4_MAX_CTL_PKT	(1 + HCI_CMD_HDR + HCI_MAX_PARAM)

/* ACL Packet_Boundary_Flag values (Core Vol 4 Part E 5.4.2). */
#define HCI_PB_FIRST_NOFLUSH	0x0
#define HCI_PB_CONT		0x1
#define HCI_PB_FIRST_FLUSH	0x2

struct h4_pkt {
	uint8_t type;
	const uint8_t *raw;	/* the whole packet, type byte included */
	size_t raw_len;
	union {
		struct {
			uint16_t opcode;
			uint8_t plen;
			const uint8_t *param;
		} cmd;
		struct {
			uint8_t code;
			uint8_t plen;
			const uint8_t *param;
		} evt;
		struct {
			uint16_t handle;
			uint8_t pb;
			uint8_t bc;
			uint16_t dlen;
			const uint8_t *data;
		} acl;
		struct {
			uint16_t handle;
			uint8_t status;
			uint8_t dlen;
			const uint8_t *data;
		} sco;
		struct {
			uint16_t handle;
			uint8_t pb;
			uint8_t ts;
			uint16_t dlen;
			const uint8_t *data;
		} iso;
	};
};

/*
 * Parse one complete H4 packet of at most max_len bytes (0: H4_MAX_PKT).
 * Returns 0 or:
 *   -ENODATA          empty buffer
 *   -EPROTONOSUPPORT  unknown packet type byte
 *   -EBADMSG          header shorter than its fixed size
 *   -EPROTO           declared length longer than the bytes present
 *   -E2BIG            bytes left over after the declared length
 *   -EMSGSIZE         packet longer than max_len
 */
int h4_parse(struct h4_pkt *pkt, const uint8_t *buf, size_t len, size_t max_len);
const char *h4_strerror(int err);
const char *h4_type_name(uint8_t type);

/* Size of the header (type byte included) for a type, 0 if unknown. */
size_t h4_hdr_size(uint8_t type);
/* Total packet size declared by a complete header, 0 if the type is unknown. */
size_t h4_declared_size(const uint8_t *hdr);

/*
 * Builders write one H4 packet into out[cap] and return its length, or
 * -EMSGSIZE if a length does not fit its field, -ENOSPC if cap is too small.
 */
int h4_build_cmd(uint8_t *out, size_t cap, uint16_t opcode,
		 const void *param, size_t plen);
int h4_build_evt(uint8_t *out, size_t cap, uint8_t code,
		 const void *param, size_t plen);
int h4_build_le_evt(uint8_t *out, size_t cap, uint8_t subevent,
		    const void *param, size_t plen);
int h4_build_cc(uint8_t *out, size_t cap, uint8_t ncmd, uint16_t opcode,
		const void *ret, size_t rlen);
int h4_build_cs(uint8_t *out, size_t cap, uint8_t status, uint8_t ncmd,
		uint16_t opcode);
int h4_build_acl(uint8_t *out, size_t cap, uint16_t handle, uint8_t pb,
		 uint8_t bc, const void *data, size_t dlen);
int h4_build_sco(uint8_t *out, size_t cap, uint16_t handle, uint8_t status,
		 const void *data, size_t dlen);
int h4_build_iso(uint8_t *out, size_t cap, uint16_t handle, uint8_t pb,
		 uint8_t ts, const void *data, size_t dlen);

/* Command Complete (7.7.14) and Command Status (7.7.15) decoded. */
struct h4_cc {
	uint8_t ncmd;
	uint16_t opcode;
	uint8_t rlen;
	const uint8_t *ret;	/* return parameters; ret[0] is usually a status */
};

struct h4_cs {
	uint8_t status;
	uint8_t ncmd;
	uint16_t opcode;
};

/* -EINVAL if pkt is not that event, -EBADMSG if its parameters are short. */
/*
 * Is this H4 packet a discovery report: an Inquiry Result in any of its
 * three formats (Vol 4 Part E 7.7.2, 7.7.33, 7.7.38) or an LE legacy,
 * directed or extended advertising report (7.7.65.2, .11, .13)? Such
 * events are repeated by the controller for as long as the procedure runs,
 * so a queue under pressure may drop them; nothing else may be dropped.
 */
bool h4_is_discovery_report(const uint8_t *h4, size_t len);

int h4_parse_cc(const struct h4_pkt *pkt, struct h4_cc *cc);
int h4_parse_cs(const struct h4_pkt *pkt, struct h4_cs *cs);

/* Stream framing. */
struct h4_reader;

/* Called once per complete, validated packet; a negative return stops feeding. */
typedef int (*h4_pkt_fn)(const struct h4_pkt *pkt, void *user);

struct h4_reader *h4_reader_new(size_t max_pkt);
void h4_reader_free(struct h4_reader *r);
void h4_reader_reset(struct h4_reader *r);
/* Bytes held of a packet not yet complete. */
size_t h4_reader_pending(const struct h4_reader *r);
/*
 * Feed stream bytes. Returns 0, the first negative value fn returned, or a
 * framing error from h4_parse (unknown type, oversized packet): after that
 * the stream is out of sync and must be closed.
 */
int h4_reader_feed(struct h4_reader *r, const uint8_t *data, size_t len,
		   h4_pkt_fn fn, void *user);

#endif /* BGW_HCI_H */
