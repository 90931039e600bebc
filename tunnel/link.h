/* SPDX-License-Identifier: MIT */
/*
 * Internal to tunnel/: the peer link of bgw-muxd's per-peer processes
 * (doc/protocol.md, appendix "bgw-muxd internal: the peer link"). A peer
 * process runs one client's (D)TLS channel and login, then relays tunnel
 * messages to the core process, which runs the session's reliability
 * layer, over a SOCK_SEQPACKET socket: one frame per datagram, byte 0 the
 * type, a fixed layout per type.
 *
 * The core treats every frame as hostile (the peer process parses network
 * bytes, so it is the one a bug would hand to an attacker): the decoder
 * checks the type against the direction, the exact length of each fixed
 * layout, the range of every field, and that a MSG frame holds exactly one
 * well-formed tunnel message of a type allowed on an attached link. A
 * malformed frame is an error, never a partial result.
 */
#ifndef BGW_TUN_LINK_H
#define BGW_TUN_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define TUN_KEY_LEN		32
/* The largest frame but MSGS: a MSG carrying the largest tunnel message. */
#define TUN_LINK_FRAME_MAX	(1 + TUN_MSG_MAX)
/* MSGS: 2 to this many messages, each with its be16 length. */
#define TUN_LINK_MSGS_MAX	8
/* The largest datagram on a link: a MSGS of TUN_LINK_MSGS_MAX largest messages. */
#define TUN_LINK_DGRAM_MAX	(1 + TUN_LINK_MSGS_MAX * (2 + TUN_MSG_MAX))
#define TUN_LINK_RESUME_S_MAX	3600

enum tun_link_type {
	/* peer -> core */
	TUN_LF_ATTACH = 0x01,
	TUN_LF_RESUME = 0x02,
	TUN_LF_MSG_UP = 0x03,
	TUN_LF_DOWN = 0x04,
	TUN_LF_MSGS_UP = 0x05,
	/* core -> peer */
	TUN_LF_OK = 0x81,
	TUN_LF_FAIL = 0x82,
	TUN_LF_MSG_DOWN = 0x83,
	TUN_LF_END = 0x84,
	TUN_LF_DROP = 0x85,
	TUN_LF_MSGS_DOWN = 0x86,
};

/* Which end reads: the types of the other direction are refused. */
enum tun_link_dir {
	TUN_LINK_TO_CORE,
	TUN_LINK_TO_PEER,
};

struct tun_link_frame {
	uint8_t type;
	union {
		struct {
			uint8_t version;
			bool stream;			/* TLS: no retransmissions */
			uint8_t sid[TUN_SID_LEN];
			uint8_t key[TUN_KEY_LEN];	/* the resume key */
		} attach;
		struct {
			uint8_t version;
			bool stream;
			uint8_t sid[TUN_SID_LEN];
			uint8_t bind[TUN_KEY_LEN];	/* exported from the new channel */
			uint8_t proof[TUN_PROOF_LEN];	/* the client's */
			uint8_t new_key[TUN_KEY_LEN];	/* the next resume key */
		} resume;
		struct {
			const uint8_t *data;	/* one tunnel message, into the buffer */
			size_t len;
			uint8_t msg_type;	/* its type, for the receiver's checks */
		} msg;				/* MSG_UP and MSG_DOWN */
		struct {
			/* Each: be16 n, n bytes of a checked message; into the buffer. */
			const uint8_t *data;
			size_t len;
			unsigned count;		/* 2..TUN_LINK_MSGS_MAX */
		} msgs;				/* MSGS_UP and MSGS_DOWN */
		struct {
			uint8_t reason;		/* DOWN: 1..255; FAIL: 1..99 */
		} reason;			/* DOWN and FAIL */
		struct {
			bool resumed;
			uint16_t resume_s;	/* 1..TUN_LINK_RESUME_S_MAX */
			char user[TUN_USER_MAX + 1];
		} ok;
	};
};

/*
 * Decode one frame (one whole datagram). 0 and f filled (pointers into
 * buf), or -EBADMSG (empty, or a length wrong for the type),
 * -EPROTONOSUPPORT (unknown type, or one of the other direction), -EPROTO
 * (a field out of range; a MSG that is not exactly one valid tunnel message
 * of an allowed type).
 */
int tun_link_decode(struct tun_link_frame *f, const uint8_t *buf, size_t len,
		    enum tun_link_dir dir);
/*
 * The same, and a MSG's or MSGS's messages decoded into ms[] (room for
 * TUN_LINK_MSGS_MAX; f->msgs.count of them, one for a MSG), which the
 * decoder checks anyway: the receiver takes them from there instead of
 * decoding each again. ms may be NULL. Their data points into buf.
 */
int tun_link_decode_msgs(struct tun_link_frame *f, const uint8_t *buf, size_t len,
			 enum tun_link_dir dir, struct tun_msg *ms);
/*
 * Encode f into out[cap]: the length, or -EINVAL (a field out of range),
 * -ENOSPC. A MSGS is written from a decoded frame's entries as they are
 * (tun_link_msgs_add builds a new one).
 */
int tun_link_encode(const struct tun_link_frame *f, uint8_t *out, size_t cap);
/*
 * The next message of a decoded MSGS frame: *at starts at 0; 1 and
 * msg/len set, or 0 after the last one. The frame was checked whole by
 * tun_link_decode, so every entry is one valid message.
 */
int tun_link_msgs_next(const struct tun_link_frame *f, size_t *at, const uint8_t **msg,
		       size_t *len);
/*
 * Append one encoded tunnel message to a MSGS_UP frame being built in
 * out[cap] (*used 0: a new frame). 0, or -ENOSPC (it does not fit, or
 * the frame holds TUN_LINK_MSGS_MAX already: send it first), -EINVAL.
 */
int tun_link_msgs_add(uint8_t *out, size_t cap, size_t *used, unsigned *count,
		      const uint8_t *msg, size_t len);
/* A MSG frame around an encoded tunnel message (not checked here). */
int tun_link_encode_msg(uint8_t type, const uint8_t *msg, size_t len,
			uint8_t *out, size_t cap);
const char *tun_link_type_name(uint8_t type);

#endif /* BGW_TUN_LINK_H */
