/* SPDX-License-Identifier: MIT */
/* Internal structures of the multiplexer core, shared by its source files only. */
#ifndef BGW_MUX_INT_H
#define BGW_MUX_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "bdaddr.h"
#include "cmdtab.h"
#include "hci.h"
#include "hci_defs.h"
#include "mux.h"
#include "pktq.h"
#include "smp_crypto.h"

#define MUX_MAX_PEND	32	/* BD_ADDR-keyed procedures in progress */
#define MUX_MAX_OUTST	8	/* commands at the controller at once */
#define MUX_SEEN_MAX	128	/* per-session duplicate filter entries */
#define MUX_AL_MAX	8	/* virtual LE Filter Accept List size */
#define MUX_CACHE_MAX	32
#define MUX_P_AL_MAX	32	/* physical accept-list entries the mux programs */
#define MUX_IRK_MAX	64	/* IRK bindings kept (all users) */
#define MUX_INTQ_MAX	(2 * MUX_MAX_CONNS + 2 * MUX_MAX_PEND)
/* The core's own ACL fragments queued (a public key PDU is 3 of 27). */
#define MUX_IACL_MAX	(8 * MUX_MAX_CONNS)
/*
 * Fragmented LE Extended Advertising Reports (Vol 4 Part E 7.7.65.13,
 * Data_Status 01 "incomplete, more to come") held until their chain is
 * complete: at most MUX_FRAG_SLOTS advertisers at once, each at most
 * MUX_FRAG_PARTS reports and MUX_FRAG_BYTES bytes of them (1650 octets
 * of data, the most a set can carry, 7.8.57, fit with their headers).
 */
#define MUX_FRAG_SLOTS	8
#define MUX_FRAG_PARTS	8
#define MUX_FRAG_BYTES	2048
/* One extended advertising report: 24 octets, then the data (7.7.65.13). */
#define MUX_EXT_REP_HDR	24

/* Which LE scan commands a session used since its reset (Vol 4 Part E 3.1.1). */
enum mux_scan_kind { SK_NONE = 0, SK_LEGACY, SK_EXT };

/*
 * LE Extended Create Connection (Vol 4 Part E 7.8.66): 10 octets, then 16
 * per initiating PHY (LE 1M, LE 2M, LE Coded).
 */
#define MUX_EXT_CONN_HDR	10
#define MUX_EXT_CONN_PHY	16
#define MUX_EXT_CONN_MAX	(MUX_EXT_CONN_HDR + 3 * MUX_EXT_CONN_PHY)

/* Virtual advertising sets a session may hold (at most the physical count). */
#define MUX_VSETS_MAX	16

/* Scanning PHYs of LE Set Extended Scan Parameters (7.8.64): 1M, Coded. */
#define MUX_SCAN_PHYS	2

enum mux_link { LINK_ACL = 1, LINK_SCO, LINK_LE };

/* struct mux_conn hbond: not looked up yet, none, there is one. */
enum { HB_UNKNOWN = 0, HB_NONE, HB_YES };

enum mux_pend_kind {
	P_CONN_OUT = 1,	/* Create Connection sent */
	P_CONN_IN,	/* Connection Request offered to a session */
	P_SYNC_IN,	/* synchronous Connection Request offered */
	P_LE_OUT,	/* LE Create Connection sent */
	P_NAME,		/* Remote Name Request sent */
};

enum mux_origin {
	O_SESSION = 1,	/* a session's command; completion goes to it */
	O_ORPHAN,	/* its session reset or ended: completion absorbed */
	O_INIT,		/* controller initialisation */
	O_INTERNAL,	/* one-off (disconnect on teardown, negative replies) */
	O_RECON,	/* physical state reconciliation (masks, scans) */
};

/*
 * The LE bond broker's state on one link (mux_bond_le.c): the pairing it
 * answers for the device (host side), or the one it watches (first
 * pairing). Holds pairing values and, briefly, the device's LTK: the
 * whole connection entry is zeroed when the link goes.
 */
struct mux_le_smp {
	uint8_t st;		/* LS_* */
	bool seen_preq, seen_pres;
	bool held;		/* the device's Encryption Information, held */
	uint8_t preq[7];	/* Pairing Request and Response (opcode first) */
	uint8_t pres[7];
	uint8_t mconf[16];	/* the host's Pairing Confirm */
	uint8_t srand[16];	/* our Pairing Random */
	uint8_t ei[16];		/* the held LTK */
	/*
	 * A device that distributes its identity too (IdKey): its Central
	 * Identification and Identity Information, held with the LTK until
	 * its Identity Address Information, so the bond is kept under the
	 * identity with the IRK (3.6.1 fixes the order).
	 */
	bool held_ci, held_ii;
	uint8_t ci[10];		/* EDIV, Rand */
	uint8_t ii[16];		/* IRK */
	/*
	 * The stand-in's promise (decided at the host's Pairing Request):
	 * the device's identity (type, address) and IRK (ii) it sends after
	 * the encryption, whatever the store says by then.
	 */
	bool promise_id;
	uint8_t ida[7];
	/*
	 * LE Secure Connections, a user's first pairing of a Just Works
	 * device (mux_bond_le.c, doc: "Household bonds"): the mux pairs with
	 * the device itself as the initiator of the host's Pairing Request.
	 * sc its SC_* state (0: none), host_failed when the host gave up;
	 * the device's SMP PDU reassembled in rx (a public key is 69 octets
	 * with its header); our key pair, the device's public key, DHKey,
	 * nonces, its commitment, MacKey and LTK; the keys it distributes
	 * (want_kd, got_kd: KD_* bits; its IRK in ii, identity in ida).
	 */
	uint8_t sc;
	bool host_failed;
	uint64_t sc_deadline;	/* loop_now_us() when the SMP timeout ends (3.4) */
	bool rx_on;
	bool rx_hdr;		/* rx holds a first fragment under 4 octets */
	uint8_t rx_pb;		/* ...and its packet boundary flag */
	uint8_t rx_len;
	uint8_t rx[4 + 65];
	uint8_t want_kd, got_kd;
	struct smp_p256 kp;
	uint8_t pkb[64];
	uint8_t dhkey[32];
	uint8_t na[16], nb[16], cb[16];
	uint8_t mackey[16], ltk[16];
};

/*
 * The device-as-central broker's view of a pairing on one LE link
 * (mux_bond_central.c): the Pairing Request and Response from either
 * side, and the EDIV and Rand it gave the device in the host's place
 * until the host's Central Identification carries them.
 */
struct mux_le_pk {
	bool seen_preq, seen_pres;
	bool host_init;		/* the host sent the Pairing Request */
	uint8_t preq[7];
	uint8_t pres[7];
	bool encrypted;		/* encrypted since the Pairing Response (3.6.1) */
	bool sub;		/* the host's Encryption Information was replaced */
	uint16_t ediv;
	uint8_t rand[8];
};

struct mux_conn {
	bool used;
	uint8_t link;
	uint8_t addr_type;
	uint16_t handle;	/* the controller's */
	uint16_t vhandle;	/* the owner's own (doc: "Handles") */
	uint16_t inflight;	/* packets at the controller */
	struct bdaddr addr;
	struct mux_session *owner;	/* NULL: orphaned, being disconnected */
	/* The mux answered its Link Key Request with the household key. */
	bool bond_key_sent;
	/*
	 * LE: the controller's role on the link, from its LE (Enhanced)
	 * Connection Complete (Role, Vol 4 Part E 7.7.65.1/7.7.65.10):
	 * central when the gateway connected, peripheral when a device
	 * connected to its advertising. The LE bond broker's rules are
	 * for one role or the other (doc: "Household bonds").
	 */
	bool le_central;
	/*
	 * LE: the device's identity, its household bond's key (doc: "Private
	 * addresses"): addr itself, or the identity an IRK gave the RPA at
	 * the LE Connection Complete (once per link, not per packet).
	 */
	struct bdaddr id;
	uint8_t id_type;
	/* SMP Identity Information seen from the peer, until its address. */
	bool irk_seen;
	uint8_t irk[16];
	struct mux_le_smp le;
	/*
	 * LE: whether the device has a household LE bond, as looked up at
	 * the host's last Pairing Request (or its first SMP PDU): HB_*.
	 * The host's later SMP PDUs go by it, not by a lookup each.
	 */
	uint8_t hbond;
	/*
	 * The link was encrypted by the mux itself (its SC pairing) and the
	 * host never saw it: the host's own encryption, which the controller
	 * completes with Encryption Key Refresh Complete (7.7.39), is shown
	 * to it as the Encryption Change (7.7.8) it expects.
	 */
	bool enc_hidden;
	/*
	 * The mux's own LE Enable Encryption for the link is queued or at
	 * the controller (an SC takeover's): its Encryption Change is the
	 * mux's even if the pairing ended meanwhile (c->le wiped).
	 */
	bool enc_mine;
	/*
	 * LE: the initiator's address and type at the LE (Enhanced)
	 * Connection Complete (what the session's host connected from: the
	 * gateway's public BD_ADDR or the random address it had set), for
	 * the SMP of the bond broker (c1, f5, f6: Vol 3 Part H 2.2.3, 2.2.7).
	 */
	uint8_t init_type;
	uint8_t init_addr[6];
	/*
	 * The core's own ACL on the link (ctrl_acl_internal, mux_ctrl.c):
	 * bit i of int_bits set when the i-th oldest packet of the link at
	 * the controller is the core's (its completion is not the owner's),
	 * int_partial while a PDU of the core's is sent in part (the owner's
	 * packets on the link wait: fragments of two L2CAP PDUs never mix,
	 * Vol 3 Part A 7.2), tx_left the octets of the owner's L2CAP PDU
	 * not yet sent (the core's wait for them).
	 */
	uint64_t int_bits;
	bool int_partial;
	uint16_t tx_left;
	/* tx_left unknown: a first fragment too short for the PDU's length. */
	bool tx_unknown;
	/*
	 * The host's L2CAP PDU being received on an LE link
	 * (bond_le_host_frag): h_drop while its packets are dropped, until
	 * its next first fragment (an SMP PDU not whole in one packet, or a
	 * first fragment too short to name its channel).
	 */
	bool h_drop;
	struct mux_le_pk pk;
	/* For bgw-muxd status (mux_session_links): wall clock, data bytes. */
	int64_t since;
	uint64_t bytes_in, bytes_out;
};

/*
 * An IRK bound to an identity address, for one user: learnt from the
 * peer's own SMP key distribution on a link of that user's (doc: "Private
 * addresses"), never from a host.
 */
struct mux_irk {
	bool used;
	uint8_t id_type;
	struct bdaddr id;
	uint8_t irk[16];
	char user[MUX_USER_MAX + 1];
};

struct mux_pend {
	bool used;
	uint8_t kind;
	struct bdaddr addr;
	struct mux_session *s;
};

struct mux_outst {
	bool used;
	uint8_t origin;
	uint16_t opcode;
	uint8_t plen;
	uint8_t param[32];
	uint16_t vhandle;	/* the session's handle, for its Command Complete */
	struct mux_session *s;
};

struct mux_cache_ent {
	uint16_t opcode;
	uint8_t page;
	uint8_t rlen;
	uint8_t ret[HCI_MAX_PARAM];
};

struct mux_pool {
	uint16_t mtu;
	uint16_t pkts;
	uint16_t quota;
	uint16_t inflight;
};

struct mux_seen {
	struct bdaddr a;
	uint8_t type;
	uint8_t ev;
};

struct mux_al_ent {
	uint8_t type;
	struct bdaddr a;
};

struct mux_session {
	struct mux *m;
	unsigned id;
	int64_t since;		/* wall clock, seconds */
	char user[MUX_USER_MAX + 1];
	unsigned uslot;		/* its user's slot in m->users (advertisers' verdicts) */
	bool admin;
	bool dead;
	bool dead_notified;
	bool stalled;
	unsigned dropped;
	unsigned reports_dropped;	/* since the last emit that succeeded */
	unsigned refusals;	/* refused packets/commands, for log rate limiting */
	unsigned denials;	/* ACL refusals, for audit rate limiting */
	unsigned pair_refusals;	/* pairings refused for the household, likewise */
	mux_emit_fn emit;
	void *emit_user;

	struct pktq cmdq;	/* commands not yet answered or sent */
	struct pktq aclq;	/* ACL waiting for controller buffers */
	uint16_t acl_used;	/* ACL-pool packets queued or at the controller */
	uint16_t le_used;
	uint16_t acl_ctrl;	/* of those, at the controller */
	uint16_t le_ctrl;
	unsigned mark;		/* pool_share()'s pass that counted it */

	uint8_t evmask[8];
	uint8_t evmask2[8];
	uint8_t lemask[8];
	uint8_t reg[REG_COUNT][MUX_REG_MAX];
	uint8_t reg_len[REG_COUNT];

	uint8_t scan_params[7];
	bool scan_en;
	bool scan_dup;
	/*
	 * Extended scanning (7.8.64, 7.8.65): the PHYs (bit 0 LE 1M, bit 2
	 * LE Coded) and, per PHY, type, interval and window; own address
	 * type and filter policy. scan_kind: which of the two command sets
	 * the session uses (mixing them is Command Disallowed, 3.1.1).
	 */
	uint8_t scan_kind;
	/*
	 * Its extended advertising sets when they are virtual (never on the
	 * air, as an ordinary user's legacy advertising): handle and enable.
	 */
	uint8_t vsets_n;
	uint8_t vset[MUX_VSETS_MAX];
	bool vset_en[MUX_VSETS_MAX];
	uint8_t escan_phys;
	uint8_t escan_own;
	uint8_t escan_filter;
	uint8_t escan_type[MUX_SCAN_PHYS];
	uint16_t escan_ival[MUX_SCAN_PHYS];
	uint16_t escan_win[MUX_SCAN_PHYS];
	struct mux_al_ent al[MUX_AL_MAX];
	unsigned al_n;
	/*
	 * LE (Extended) Create Connection over the accept list (filter
	 * policy 1) waiting: its parameters as sent, legacy (25 octets,
	 * 7.8.12) or extended (al_ext: 10 octets then 16 per PHY, 7.8.66).
	 */
	bool al_init;
	bool al_member;		/* covered by the physical initiation running */
	bool al_ext;
	uint8_t al_params[MUX_EXT_CONN_MAX];
	/* Own_Address_Type of its last LE connection attempt (7.8.12, 7.8.66). */
	uint8_t le_own_type;

	bool inquiring;
	/*
	 * Its own inquiry (doc: "Discovery"): time still owed (controller
	 * time, us, counted from inq_mark on the wall clock), Num_Responses
	 * (0: unlimited) and the responses it was given.
	 */
	uint64_t inq_left;
	uint64_t inq_mark;
	uint8_t inq_max;
	uint8_t inq_n;
	struct mux_seen inq_seen[MUX_SEEN_MAX];
	unsigned inq_seen_n;
	struct mux_seen le_seen[MUX_SEEN_MAX];
	unsigned le_seen_n;
};

#define MUX_INQ_CACHE 32	/* inquiry responses kept for late joiners */

/*
 * Advertisers' verdicts: may_access() asked once per advertiser and user,
 * not once per report and session (an advertising report goes to every
 * scanning session, doc/performance.md figure 3). A verdict holds until
 * m->acc_gen moves on: the policy changed (mux_policy_changed), an IRK
 * was bound (mux_conn.c), or a user slot went to another user. The
 * users of the live sessions each have a slot (a bit below).
 */
#define MUX_ACC_SLOTS	128	/* advertisers remembered (a power of two) */

struct mux_acc {
	uint32_t gen;		/* == m->acc_gen: these bits are valid */
	uint8_t type;
	struct bdaddr a;
	uint64_t known;		/* bit per user slot: asked */
	uint64_t allowed;	/* bit per user slot: the answer was yes */
};

struct mux_user_slot {
	unsigned refs;		/* live sessions of this user; 0: free */
	char name[MUX_USER_MAX + 1];
};

/* A chain of extended advertising report fragments from one advertiser. */
struct mux_frag {
	bool used;
	bool discard;		/* over a bound: drop the rest of the chain */
	uint8_t atype;
	uint8_t sid;
	uint8_t rsp;		/* scan response data (event type bit 3) */
	struct bdaddr a;
	uint64_t age;		/* the oldest chain is evicted when all are used */
	uint8_t n;
	uint16_t bytes;
	uint8_t len[MUX_FRAG_PARTS];
	uint8_t raw[MUX_FRAG_BYTES];
};

struct mux {
	struct loop *loop;
	struct loop_timer *cmd_timer;
	struct mux_config cfg;
	struct mux_policy pol;
	struct mux_ops ops;

	struct mux_session *sess[MUX_MAX_SESSIONS];
	unsigned nsess;
	struct mux_user_slot users[MUX_MAX_SESSIONS];
	uint32_t acc_gen;
	struct mux_acc acc[MUX_ACC_SLOTS];
	unsigned rr;		/* round-robin cursor for commands */
	unsigned acl_rr;	/* round-robin cursor for ACL */
	unsigned mark;		/* pool_share()'s passes */
	unsigned conn_rr;	/* round-robin cursor for incoming connections */
	unsigned next_id;

	bool up;		/* transport open */
	bool ready;		/* init complete */
	bool have_cache;	/* identity captured at least once */
	unsigned init_step;
	unsigned inits;
	/*
	 * Work deferred to the pump (finish() and the dispatcher, mux.c), so
	 * the files below it never call back up: a controller failure,
	 * sessions to reap, the physical state to reconcile with the
	 * sessions' wishes (recon_request()), the controller to re-initialise
	 * (it reported a Hardware Error).
	 */
	int fail_err;
	bool recon_pending;
	bool restart_pending;
	bool in_dispatch;
	bool dispatch_again;
	bool reap;

	uint8_t ncmd;
	struct mux_outst outst[MUX_MAX_OUTST];
	struct pktq intq;
	/* The core's own ACL fragments (controller handles), sent first. */
	struct pktq iaclq;

	struct mux_cache_ent cache[MUX_CACHE_MAX];
	unsigned ncache;
	uint8_t phys_cmds[64];
	uint8_t virt_cmds[64];	/* what an admin's virtual controller supports */
	uint8_t user_cmds[64];	/* the same without the privileged commands */
	uint8_t features[8];
	uint8_t le_features[8];
	uint8_t max_page;
	struct bdaddr bdaddr;
	struct mux_pool acl;
	struct mux_pool le;
	bool le_shared;		/* no LE buffers: LE uses the ACL pool */
	uint8_t sco_mtu;
	uint16_t sco_pkts;

	struct mux_conn conns[MUX_MAX_CONNS];
	struct mux_pend pend[MUX_MAX_PEND];
	/* One data packet with its handle translated (H4_MAX_PKT, heap). */
	uint8_t *xlat;

	/* What the physical controller is known to be set to. */
	uint8_t p_masks_valid;	/* bit per mask below: known */
	bool recon_busy;
	uint8_t p_evmask[8];
	uint8_t p_evmask2[8];
	uint8_t p_lemask[8];
	uint8_t p_scan;
	bool p_le_scan;
	bool p_scan_params_valid;
	uint8_t p_scan_params[7];
	/*
	 * The physical scan is extended (LE Set Extended Scan Parameters/
	 * Enable) while a session scans with the extended commands, legacy
	 * otherwise; the controller refusing the extended ones sets
	 * ext_scan_broken and the mux stays legacy (reports converted).
	 */
	bool p_le_scan_ext;
	bool ext_scan_broken;
	bool p_escan_valid;
	uint8_t p_escan[3 + 5 * MUX_SCAN_PHYS];
	uint8_t p_escan_len;
	struct mux_frag frags[MUX_FRAG_SLOTS];
	uint64_t frag_clock;
	/*
	 * Chains evicted before their end: their later fragments are
	 * dropped too (up to the one that ends the chain), so no tail of
	 * an evicted chain passes as a chain of its own.
	 */
	struct {
		bool used;
		uint8_t atype, sid, rsp;
		struct bdaddr a;
	} frag_evicted[MUX_FRAG_SLOTS];
	unsigned frag_evicted_next;
	bool p_rand_valid;
	uint8_t p_rand[6];
	bool p_adv;
	struct mux_session *adv_owner;
	/* The admin whose extended advertising sets are the physical ones. */
	struct mux_session *eadv_owner;
	/*
	 * Accept-list initiation (doc: "Connecting through the accept
	 * list"): the physical list, and one LE Create Connection with
	 * filter policy 1 over it on behalf of the member sessions.
	 */
	struct mux_irk irks[MUX_IRK_MAX];
	unsigned irk_next;	/* replaced next when the table is full */
	unsigned p_al_max;	/* usable physical entries (read at init) */
	struct mux_al_ent p_al[MUX_P_AL_MAX];
	unsigned p_al_n;
	bool al_phys;		/* our initiation sent and not yet ended */
	bool al_phys_ext;	/* it is LE Extended Create Connection */
	uint8_t al_phys_phys;	/* its Initiating_PHYs (legacy: LE 1M) */
	bool al_cancel_sent;	/* our cancel sent; its LE Conn Complete due */
	bool le_stale_cancel;	/* an internal cancel's LE Conn Complete due */
	bool inq_active;
	bool inq_cancelling;
	/* The physical inquiry running: when, how long (wall clock, us), LAP. */
	uint64_t inq_run_start;
	uint64_t inq_run_len;
	uint8_t inq_lap[3];
	struct loop_timer *smp_timer;	/* the first takeover's SMP timeout (mux_bond_le.c) */
	struct loop_timer *inq_timer;	/* the next session whose length ends first */
	/* Responses of the running inquiry, replayed to sessions that join it. */
	struct {
		uint8_t code;
		uint8_t len;
		uint8_t e[254];
	} inq_cache[MUX_INQ_CACHE];
	unsigned inq_cache_n;
};

/* cmd_process() outcome; sess_emit() class (which drop counter). */
enum { R_DONE, R_WAIT, R_SENT };
enum { EM_EVENT, EM_DATA, EM_NOCP };

/*
 * Ask the pump to reconcile the physical controller with the sessions'
 * wishes (reconcile(), mux_reconcile.c) once the current command or
 * input is done: the caller changed what a session wants.
 */
static inline void recon_request(struct mux *m)
{
	m->recon_pending = true;
}

/* Refusals logged with a rate limit (mux_emit.c). */
bool refusal_logged(struct mux_session *s);
#define sess_refuse(s, prio, fmt, ...)					\
	do {								\
		if (refusal_logged(s))					\
			log_msg(prio, "session %u (%s): " fmt " [%u]",	\
				(s)->id, (s)->user, ##__VA_ARGS__,	\
				(s)->refusals);				\
	} while (0)

/*
 * Functions shared between the core's files (no mux_ prefix: not part
 * of the interface in mux.h; libmux.a is linked only into programs that
 * use it as a whole). The files are layers, each calling only the ones
 * below it (tests/t-layers.sh checks): mux.c (the API and the pump),
 * then the handlers of the sessions' commands and of the controller's
 * events, then what they share, down to mux_base.c. Work that must go
 * back up is a flag the pump in mux.c reads (recon_request(), fail_err,
 * reap, restart_pending), never a call. Listed from the top.
 */

/* mux_cmd.c */
void sess_defaults(struct mux_session *s);
int cmd_process(struct mux *m, struct mux_session *s, const uint8_t *h4,
		size_t len, bool may_send);

/* mux_evt.c */
void inq_replay(struct mux *m, struct mux_session *s);
void ctrl_event(struct mux *m, const struct h4_pkt *pkt);

/* mux_reconcile.c */
struct mux_session *al_phys_ended(struct mux *m, uint8_t st, uint8_t type,
				  const struct bdaddr *a);
void reconcile(struct mux *m);
void inquiry_stopped(struct mux *m, struct mux_session *except, uint8_t st);
void inq_session_start(struct mux *m, struct mux_session *s, uint8_t len, uint8_t max);
void inq_session_done(struct mux_session *s, uint8_t st);
void inq_run_started(struct mux *m, uint8_t len);
void inq_run_ended(struct mux *m);
void inq_timeout(struct mux *m);
uint8_t inq_units_owed(const struct mux *m);
void recon_done(struct mux *m, const struct mux_outst *o, uint8_t status);

/* mux_conn.c */
struct mux_conn *conn_by_handle(struct mux *m, uint16_t h);
struct mux_conn *conn_by_vhandle(struct mux *m, const struct mux_session *s,
				 uint16_t vh);
struct mux_conn *conn_by_addr(struct mux *m, const struct bdaddr *a, uint8_t link);
struct mux_conn *conn_add(struct mux *m, uint16_t h, uint8_t link,
			  const struct bdaddr *a, uint8_t type,
			  struct mux_session *owner);
struct mux_pend *pend_find(struct mux *m, uint8_t kind, const struct bdaddr *a);
struct mux_pend *pend_find_sess(struct mux *m, uint8_t kind,
				const struct bdaddr *a, struct mux_session *s);
bool pend_has_room(const struct mux *m);
void pend_add(struct mux *m, uint8_t kind, const struct bdaddr *a,
	      struct mux_session *s);
struct mux_session *addr_owner(struct mux *m, const struct bdaddr *a);
void on_conn_request(struct mux *m, const uint8_t *p, uint8_t plen);
void on_conn_complete(struct mux *m, uint8_t code, const uint8_t *p, uint8_t plen);
void on_disconn_complete(struct mux *m, const uint8_t *p, uint8_t plen);
void on_nocp(struct mux *m, const uint8_t *p, uint8_t plen);
int sess_acl(struct mux *m, struct mux_session *s, const struct h4_pkt *pkt);
int sess_sco(struct mux *m, struct mux_session *s, const struct h4_pkt *pkt);
void ctrl_data(struct mux *m, const struct h4_pkt *pkt);
void teardown(struct mux_session *s, uint8_t reason);

/* mux_bond.c */
bool bond_exists(const struct mux *m, const struct bdaddr *a);
bool bond_on_link_key_req(struct mux *m, struct mux_session *s,
			  const struct bdaddr *a);
bool bond_refuse_pairing(struct mux *m, uint8_t code, const struct bdaddr *a);
void bond_on_link_key_notify(struct mux *m, struct mux_session *s,
			     const uint8_t *p, uint8_t ev[HCI_EV_LINK_KEY_NOTIFY_LEN]);
void bond_on_auth_complete(struct mux *m, const uint8_t *p, uint8_t plen);

/* mux_bond_le.c */
void bond_le_timeout(struct mux *m);
bool bond_le_host_frag(struct mux *m, struct mux_session *s, struct mux_conn *c,
		       const struct h4_pkt *pkt);
bool bond_le_host_smp(struct mux *m, struct mux_session *s, struct mux_conn *c,
		      const struct h4_pkt *pkt);
bool bond_le_dev_smp(struct mux *m, struct mux_conn *c, const struct h4_pkt *pkt);
void bond_le_start_enc(struct mux *m, struct mux_session *s, struct mux_conn *c,
		       uint8_t p[28]);
void bond_le_encrypted(struct mux *m, struct mux_conn *c, uint8_t status);
bool bond_le_enc_event(struct mux *m, struct mux_conn *c, uint8_t code,
		       const uint8_t *p, uint8_t plen);

/* mux_bond_central.c */
bool bond_central_host_smp(struct mux *m, struct mux_session *s, struct mux_conn *c,
			   const struct h4_pkt *pkt, uint8_t *out);
void bond_central_encrypted(struct mux_conn *c, uint8_t code, const uint8_t *param,
			    uint8_t plen);
void bond_central_dev_smp(struct mux_conn *c, const struct h4_pkt *pkt);
bool bond_central_ltk_req(struct mux *m, struct mux_conn *c, const uint8_t *q, size_t qlen);

/* mux_ctrl.c */
const struct mux_cache_ent *cache_get(const struct mux *m,
				      uint16_t opcode, uint8_t page);
struct mux_outst *outst_find(struct mux *m, uint16_t opcode);
bool le_create_outst(struct mux *m);
unsigned outst_count(const struct mux *m);
bool can_send(const struct mux *m, uint16_t opcode);
void ctrl_fail(struct mux *m, int err);
int ctrl_send_cmd(struct mux *m, const uint8_t *h4, size_t len,
		  struct mux_session *s, uint8_t origin);
int ctrl_cmd(struct mux *m, uint16_t opcode, const void *p, size_t plen,
	     uint8_t origin);
void internal_cmd(struct mux *m, uint16_t opcode, const void *p, size_t plen);
void internal_drop_handle(struct mux *m, uint16_t h);
void internal_disconnect(struct mux *m, uint16_t handle, uint8_t reason);
void internal_addr_cmd(struct mux *m, uint16_t opcode,
		       const struct bdaddr *a, int reason);
int ctrl_acl_internal(struct mux *m, struct mux_conn *c, uint16_t cid,
		      const uint8_t *pdu, size_t n);
void ctrl_acl_drain(struct mux *m);
uint16_t ctrl_acl_completed(struct mux_conn *c, uint16_t cnt);
void ctrl_acl_drop(struct mux *m, uint16_t handle);
uint16_t quota(uint16_t pkts, unsigned nmax);
void reg_set_default(struct mux *m, struct mux_session *s, unsigned r);
void init_next(struct mux *m);
void init_done(struct mux *m, uint16_t op, uint8_t status,
	       const uint8_t *ret, uint8_t rlen, bool is_cs);
void cmd_timeout(struct mux *m);
void frags_clear(struct mux *m);
void ctrl_down(struct mux *m);

/* mux_emit.c */
bool sess_emit(struct mux_session *s, const uint8_t *h4, size_t len, int cls);
bool sess_wants(const struct mux_session *s, uint8_t code, uint8_t sub);
bool sess_event(struct mux_session *s, uint8_t code, const void *param, size_t plen);
bool sess_le_event(struct mux_session *s, uint8_t sub, const void *param, size_t plen);
void reply_cc(struct mux_session *s, uint16_t opcode, const void *ret, size_t rlen);
void reply_status_only(struct mux_session *s, uint16_t opcode, uint8_t st);
void reply_cs(struct mux_session *s, uint16_t opcode, uint8_t st);
void reply_err(struct mux_session *s, const struct mux_cmd_def *d,
	       uint16_t opcode, const uint8_t *p, uint8_t plen, uint8_t st);
void sess_le_conn_failed(struct mux_session *s, uint8_t st, uint8_t ptype,
			 const uint8_t *peer);
void al_init_failed(struct mux_session *s, uint8_t st);
bool seen_check_add(struct mux_seen *tab, unsigned *n,
		    const struct bdaddr *a, uint8_t type, uint8_t ev);
void seen_forget(struct mux_seen *tab, unsigned *n,
		 const struct bdaddr *a, uint8_t type, uint8_t ev);

/* mux_base.c */
bool bit_is_set(const uint8_t *mask, unsigned bit);
bool phys_supports(const struct mux *m, const struct mux_cmd_def *d);
bool le_capable(const struct mux *m);
bool bredr_capable(const struct mux *m);
bool own_supported(const struct mux *m, const struct mux_cmd_def *d);
bool virt_supports(const struct mux *m, const struct mux_cmd_def *d);
bool ext_scan_capable(const struct mux *m);
bool ext_adv_capable(const struct mux *m);
bool le_coded_capable(const struct mux *m);
bool le_2m_capable(const struct mux *m);
bool ext_conn_capable(const struct mux *m);
struct bdaddr addr_at(const uint8_t *p);
const uint8_t *smp_whole_pdu(const struct h4_pkt *pkt, size_t *n);
uint8_t map_addr_type(uint8_t t);
bool pol_access(const struct mux *m, const char *user, const struct bdaddr *a,
		uint8_t type);
bool may_access(const struct mux *m, const struct mux_session *s,
		const struct bdaddr *a, uint8_t type);
void peer_identity(const struct mux *m, const struct mux_session *s,
		   const struct bdaddr *a, uint8_t type, struct bdaddr *id, uint8_t *id_type);
bool may_access_cached(struct mux *m, const struct mux_session *s,
		       const struct bdaddr *a, uint8_t type);
void access_forget(struct mux *m);
void sess_denied(struct mux *m, struct mux_session *s,
		 const struct bdaddr *a, uint8_t type, uint16_t op);
bool al_has(const struct mux_session *s, uint8_t type, const struct bdaddr *a);

#endif /* BGW_MUX_INT_H */
