/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd status and kick (man/bgw-muxd.8): what the admin asks over the
 * monitor's control socket, and the snapshot of the sessions that the
 * core answers with.
 *
 *   bgw-muxd status --- control socket ---> monitor --- push channel ---> core
 *   (root, SO_PEERCRED)      RPC_CTL_ASK              RPC_CTL_ASK
 *                      <---  RPC_CTL_SNAP   <---     RPC_CTL_SNAP
 *
 * The monitor never parses network data: the question comes from root
 * over a local socket, the answer from the core, which built it from its
 * own tables. The monitor still decodes the core's answer strictly (the
 * core is unprivileged and holds network-facing state) before it forwards
 * it or audits a kick from it.
 *
 * An ask: le32 seq, u8 kind (CTL_ASK_STATUS, CTL_ASK_KICK), u8 n,
 * target[n] (kick: a session number or a user name; status: empty).
 *
 * A snapshot, at most CTL_SNAP_MAX bytes, every count bounded and every
 * length checked against what is left:
 *   le32 seq (the ask's), u16 n, controller URI[n], u8 flags (bit 0 up,
 *   bit 1 ready), bdaddr[6], u8 sessions (on the controller),
 *   u8 nsess (<= CTL_SESS_MAX), nsess times:
 *     le32 id, u8 method, u8 path, u8 attached, u8 n, user[n],
 *     u8 n, src[n], le64 since, le32 rtt_us, u8 nlinks, nlinks times:
 *       bdaddr[6], u8 addr_type, u8 kind, le16 handle, u8 n, label[n],
 *       le64 since, le64 bytes_in, le64 bytes_out
 * with at most CTL_LINK_MAX links in all. A kick's answer lists the
 * sessions it ended. Strings are printable (no byte below 0x20, no DEL;
 * a label may be UTF-8) and no trailing byte is allowed.
 */
#ifndef BGW_MUX_CTLMSG_H
#define BGW_MUX_CTLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bdaddr.h"
#include "mux.h"
#include "pair.h"
#include "transport.h"

#define CTL_SESS_MAX	MUX_MAX_SESSIONS
#define CTL_LINK_MAX	MUX_MAX_CONNS
#define CTL_USER_MAX	64
#define CTL_SRC_MAX	63
#define CTL_LABEL_MAX	64
#define CTL_TARGET_MAX	64
#define CTL_ASK_MAX	(4 + 1 + 1 + CTL_TARGET_MAX)
/* 64 sessions of 160 bytes, 64 links of 100: well within. */
#define CTL_SNAP_MAX	32768

enum ctl_ask_kind {
	CTL_ASK_STATUS = 1,
	CTL_ASK_KICK = 2,
	/*
	 * bgw-muxd pair (doc/virtual-controller.md, "Pairing at the
	 * gateway"): target = the device (ctlmsg_pair_target); the core
	 * starts the admin's pairing and reports with RPC_CTL_PAIR
	 * messages, the last one CTL_PAIR_DONE. ANSWER: target "yes" or
	 * "no" to a CTL_PAIR_CONFIRM; 1-6 digits (the passkey) or "no" to
	 * a CTL_PAIR_ENTER; CANCEL: the admin's command went away.
	 */
	CTL_ASK_PAIR = 3,
	CTL_ASK_PAIR_ANSWER = 4,
	CTL_ASK_PAIR_CANCEL = 5,
};

/*
 * A pairing's report (RPC_CTL_PAIR, core -> monitor -> the admin's
 * command), exactly CTL_PAIR_LEN bytes: le32 seq (the pairing ask's),
 * u8 what, le32 value (the number to show, 0-999999), u8 result (enum
 * mux_pair_result, CTL_PAIR_DONE only), u8 hci status.
 */
#define CTL_PAIR_LEN	11

enum ctl_pair_what {
	CTL_PAIR_CONFIRM = 1,	/* MUX_PAIR_CONFIRM: an answer is awaited */
	CTL_PAIR_PASSKEY = 2,	/* MUX_PAIR_PASSKEY */
	CTL_PAIR_JUST_WORKS = 3,	/* MUX_PAIR_JUST_WORKS */
	CTL_PAIR_DONE = 4,	/* the outcome; the last report */
	CTL_PAIR_ENTER = 5,	/* MUX_PAIR_ENTER: a passkey is awaited */
};

/*
 * bgw-muxd pair's target: "ADDRESS" (BR/EDR), "ADDRESS keyboard" (BR/EDR,
 * the admin types passkeys), "ADDRESS le public" or "ADDRESS le random"
 * (an LE device). _target: parse, 0 or -EINVAL; _fmt: the other way.
 */
int ctlmsg_pair_target(const char *t, struct mux_pair_dev *d);
void ctlmsg_pair_target_fmt(const struct mux_pair_dev *d, char out[CTL_TARGET_MAX + 1]);
/*
 * The monitor's rule for a bond from the admin's pairing of device d
 * (ctl_pair_expects): for (a, type) itself; or, d being an LE device
 * named by a resolvable private address, for a public or static random
 * identity a whose IRK (as SMP carries it; NULL: none) resolves d's
 * address (Vol 3 Part H 2.2.2).
 */
bool ctlmsg_pair_bond_ok(const struct mux_pair_dev *d, const struct bdaddr *a, uint8_t type,
			 bool le, const uint8_t *irk);
/* A pairing answer's passkey: 1-6 digits, else -1. */
int32_t ctlmsg_pair_passkey(const char *t);

/* bgw-muxd pair's own results beyond enum mux_pair_result. */
#define CTL_PAIR_R_NOT_READY	100	/* the core: no controller, or not initialised */
#define CTL_PAIR_R_BONDED	101	/* the monitor: the device has a household bond */
#define CTL_PAIR_R_BUSY		102	/* the monitor: another pairing runs */
#define CTL_PAIR_R_STORE	103	/* the monitor: the store is refused */
#define CTL_PAIR_R_NOT_KEPT	104	/* the monitor: paired, the key not kept */
#define CTL_PAIR_R_MAX		CTL_PAIR_R_NOT_KEPT

struct ctl_pair_msg {
	uint32_t seq;
	uint8_t what;
	uint32_t value;
	uint8_t result;
	uint8_t hci;
};

enum ctl_method {
	CTL_M_LOCAL = 0,	/* the local listener, by uid */
	CTL_M_PASSWORD = 1,	/* tunnel, SCRAM */
	CTL_M_CERT = 2,		/* tunnel, client certificate */
};

enum ctl_path {
	CTL_P_LOCAL = 0,	/* a Unix socket on the gateway */
	CTL_P_DIRECT = 1,	/* the tunnel straight to the client */
	CTL_P_RELAY = 2,	/* through a relay (reserved) */
};

struct ctl_ask {
	uint32_t seq;
	uint8_t kind;
	char target[CTL_TARGET_MAX + 1];
};

struct ctl_link {
	struct bdaddr addr;
	uint8_t addr_type;
	uint8_t kind;		/* enum mux_link_kind */
	uint16_t handle;
	char label[CTL_LABEL_MAX + 1];
	int64_t since;
	uint64_t bytes_in, bytes_out;
};

struct ctl_session {
	uint32_t id;
	uint8_t method;
	uint8_t path;
	bool attached;		/* tunnel: a client channel is up (else resumable) */
	char user[CTL_USER_MAX + 1];
	char src[CTL_SRC_MAX + 1];
	int64_t since;
	uint32_t rtt_us;	/* the tunnel's smoothed RTT; 0: none */
	unsigned nlinks;
	unsigned first_link;	/* index into ctl_snap.link */
};

struct ctl_snap {
	uint32_t seq;
	char ctrl[MUX_URI_MAX];
	bool up, ready;
	struct bdaddr addr;
	unsigned sessions;
	unsigned nsess;
	struct ctl_session sess[CTL_SESS_MAX];
	unsigned nlinks;
	struct ctl_link link[CTL_LINK_MAX];
};

/* The ask: encoded length, or -EINVAL (bad kind, target too long). */
int ctlmsg_ask_encode(const struct ctl_ask *a, uint8_t *buf, size_t cap);
/* 0, or -EPROTO for anything but a well-formed ask. */
int ctlmsg_ask_decode(const uint8_t *p, size_t len, struct ctl_ask *out);

/* A pairing's report: CTL_PAIR_LEN, or -EINVAL (out of range). */
int ctlmsg_pair_encode(const struct ctl_pair_msg *m, uint8_t *buf, size_t cap);
/* 0, or -EPROTO for anything but a well-formed report. */
int ctlmsg_pair_decode(const uint8_t *p, size_t len, struct ctl_pair_msg *out);

/* The snapshot: encoded length, or -EINVAL / -EMSGSIZE. */
int ctlmsg_snap_encode(const struct ctl_snap *s, uint8_t *buf, size_t cap);
/* 0, or -EPROTO (with a reason in *why) for anything malformed. */
int ctlmsg_snap_decode(const uint8_t *p, size_t len, struct ctl_snap *out,
		       const char **why);

/* For people: a table; now is the wall clock for the ages. */
void ctlmsg_print_text(FILE *f, const struct ctl_snap *s, int64_t now);
/* For scripts: one JSON object (RFC 8259), strings escaped. */
void ctlmsg_print_json(FILE *f, const struct ctl_snap *s);

const char *ctlmsg_method_name(uint8_t method);

#endif /* BGW_MUX_CTLMSG_H */
