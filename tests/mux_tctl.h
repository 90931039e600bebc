/* SPDX-License-Identifier: MIT */
/*
 * A scripted test controller for the multiplexer's unit tests: it answers
 * the init sequence and the commands the tests use the way a controller
 * would, but only when the test pumps it, so every interleaving is under
 * the test's control. It also checks the mux's side of the contract: never
 * more commands outstanding than credits given, never two with one opcode.
 */
#ifndef BGW_TESTS_MUX_TCTL_H
#define BGW_TESTS_MUX_TCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdaddr.h"
#include "mux.h"
#include "pktq.h"

#define TCTL_LOG_MAX 8192

struct tctl {
	struct mux *mux;
	struct pktq out;		/* to the mux, delivered by tctl_pump() */
	uint16_t acl_pkts, le_pkts;
	bool down;			/* sends fail */
	uint8_t cmds_off[64];		/* bits its Supported_Commands lacks */
	uint16_t unknown_op;		/* answered Unknown HCI Command */
	bool hold_cc;			/* queue no responses (controller hung) */
	uint16_t next_handle;
	/* what the controller received */
	uint16_t cmds[TCTL_LOG_MAX];
	unsigned ncmds;
	unsigned acl_rx;		/* ACL packets received */
	uint16_t acl_rx_handle[TCTL_LOG_MAX];
	/*
	 * Each one's first payload octet after the L2CAP header (the SMP
	 * code, ATT opcode) for a first fragment, 0xff for a continuation.
	 */
	uint8_t acl_rx_tag[TCTL_LOG_MAX];
	uint16_t le_mtu;		/* LE ACL data length it reports (0: 251) */
	unsigned sco_rx;		/* SCO packets received */
	uint16_t sco_rx_last_handle;
	unsigned violations;		/* contract breaches by the mux */
	/* The parameters of the last Link Key Reply and IO Capability Negative Reply. */
	uint8_t lk_reply[22];
	uint8_t io_neg_reply[7];
	/* The last LE Long Term Key Request Reply and how many were sent. */
	uint8_t ltk_reply[18];
	unsigned ltk_replies;
	/* The data (L2CAP, up to 32 octets) of ACL packet n at [n % 8]. */
	uint8_t acl_tail[8][32];
	uint8_t acl_tail_len[8];
	unsigned outstanding;
	uint16_t out_ops[16];
	bool inquiry;
	uint8_t inq_params[5];		/* of the last Inquiry */
	bool le_scan;
	bool le_scan_ext;		/* started with LE Set Extended Scan Enable */
	uint8_t le_scan_params[7];
	uint8_t le_escan[13];		/* last LE Set Extended Scan Parameters */
	uint8_t le_escan_len;
	uint8_t evmask[8];
	uint8_t scan_enable;
	bool le_connecting;
	struct bdaddr le_peer;
	uint8_t le_peer_type;
	uint8_t lemask[8];		/* LE Set Event Mask: which completion it sends */
	uint8_t le_feat_off[8];		/* LE features it lacks */
	/* The last LE Extended Create Connection (7.8.66) it took. */
	unsigned le_ext_conns;
	uint8_t le_ext_params[58];
	uint8_t le_ext_plen;
	/* The physical accept list, and an initiation over it (policy 1). */
	bool le_hold_direct;		/* a direct LE initiation waits (no peer) */
	bool le_al_init;
	uint8_t le_al_own[7];		/* own type + random address it used */
	uint8_t rand_addr[6];
	struct {
		uint8_t type;
		struct bdaddr a;
	} al[8];
	unsigned nal;
};

struct tctl *tctl_new(uint16_t acl_pkts, uint16_t le_pkts);
void tctl_free(struct tctl *t);
/* mux_ops.ctrl_send */
int tctl_send(const uint8_t *h4, size_t len, void *user);
/* Deliver queued responses until none is left (bounded). Returns how many. */
unsigned tctl_pump(struct tctl *t);

void tctl_event(struct tctl *t, uint8_t code, const void *p, size_t plen);
void tctl_le_event(struct tctl *t, uint8_t sub, const void *p, size_t plen);
void tctl_acl(struct tctl *t, uint16_t handle, const void *data, size_t len);
void tctl_sco(struct tctl *t, uint16_t handle, const void *data, size_t len);
void tctl_nocp(struct tctl *t, uint16_t handle, uint16_t count);
void tctl_inquiry_result(struct tctl *t, const struct bdaddr *a);
void tctl_adv_report(struct tctl *t, const struct bdaddr *a, uint8_t atype, uint8_t ev);
/*
 * One LE Extended Advertising Report (7.7.65.13): event type et (Data_Status
 * in bits 5-6), primary PHY phy, SID sid, data of len bytes.
 */
void tctl_ext_adv_report(struct tctl *t, const struct bdaddr *a, uint8_t atype,
			 uint16_t et, uint8_t phy, uint8_t sid,
			 const uint8_t *data, uint8_t len);
void tctl_inquiry_complete(struct tctl *t);
void tctl_conn_request(struct tctl *t, const struct bdaddr *a);
/*
 * The running accept-list initiation connects to (type, a): a violation
 * if none runs or the list lacks the peer. Returns the handle, 0 if not.
 */
uint16_t tctl_le_al_connect(struct tctl *t, uint8_t type, const struct bdaddr *a);
/* Is (type, a) in the physical accept list? */
bool tctl_al_has(const struct tctl *t, uint8_t type, const struct bdaddr *a);

/* How many times the controller received opcode since index from. */
unsigned tctl_count(const struct tctl *t, uint16_t opcode, unsigned from);

void tbdaddr(struct bdaddr *a, uint8_t last);

#endif
