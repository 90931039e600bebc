/* SPDX-License-Identifier: MIT */
/*
 * The inside of one simulated controller, shared by its files:
 *   ctrl.c         the controller itself: output queue, event mask, jobs on
 *                  scaled timers, connection slots, the ACL data path
 *   ctrl_cmd.c     command dispatch over the feature tables below and the
 *                  Supported_Commands bitmap derived from them
 *   ctrl_info.c    common: controller information, reset, event masks,
 *                  commands on any connection
 *   ctrl_bredr.c   BR/EDR baseband settings, inquiry, remote name
 *   ctrl_conn.c    BR/EDR connections (paging RDs and other controllers)
 *   ctrl_pair.c    BR/EDR pairing (SSP Just Works, PIN) and encryption
 *   ctrl_le_adv.c  LE advertising, scanning and the accept list
 *   ctrl_le_conn.c LE connections
 *   ctrl_le_enc.c  LE encryption and the controller's crypto commands
 * Each feature file has one command table (as BlueZ's emulator/btdev.c),
 * uses ctrl.c and the air, and none uses ctrl_cmd.c: dependencies run
 * ctrl_cmd.c -> features -> ctrl.c -> air.
 */
#ifndef BGW_SIM_CTRL_INT_H
#define BGW_SIM_CTRL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cursor.h"
#include "hci.h"
#include "pktq.h"
#include "sim_int.h"

#define SIM_MAX_CONNS		16
#define SIM_ACCEPT_LIST		16
#define SIM_ADV_SETS		4
#define SIM_RX_MAX		(4 + 1024)	/* L2CAP PDU reassembly cap */
#define SIM_OUTQ_PKTS		4096
#define SIM_OUTQ_BYTES		(4 * 1024 * 1024)
#define SIM_JOBS_MAX		1024

/* Simulated durations (before time scaling), in microseconds. */
#define T_RESPONSE	1000		/* LMP/LL round trip for simple procedures */
#define T_PAGE		40000		/* paging a device that answers */
#define T_INQ_FIRST	200000		/* first inquiry response */
#define T_INQ_STEP	150000
#define T_SCAN_TICK	100000		/* advertising events seen per scan tick */
#define T_ACL_PKT	1250		/* one ACL packet over the air */
#define INQ_UNIT	1280000		/* Inquiry_Length unit, Vol 4 Part E 7.1.1 */
#define SLOT_US		625

struct sim_job;
/* A job's handler: what happens when its simulated time has come. */
typedef void (*ctrl_job_fn)(struct sim_ctrl *c, struct sim_job *j);

/* Simulated durations (before time scaling), in microseconds. */
#define T_RESPONSE	1000		/* LMP/LL round trip for simple procedures */
#define T_PAGE		40000		/* paging a device that answers */
#define T_INQ_FIRST	200000		/* first inquiry response */
#define T_INQ_STEP	150000
#define T_SCAN_TICK	100000		/* advertising events seen per scan tick */
#define T_ACL_PKT	1250		/* one ACL packet over the air */
#define INQ_UNIT	1280000		/* Inquiry_Length unit, Vol 4 Part E 7.1.1 */
#define SLOT_US		625

struct sim_job {
	struct sim_job *next;
	struct sim_ctrl *c;
	struct loop_timer *t;
	ctrl_job_fn fn;		/* what to do when the timer fires */
	uint16_t handle;	/* 0xffff: not tied to a connection */
	struct bdaddr addr;
	size_t idx;
	size_t len;
	size_t cap;
	uint8_t data[];		/* cap bytes: an event, or one ACL packet */
};

enum ctrl_conn_state {
	CONN_FREE,
	CONN_PAGING,		/* Create Connection sent */
	CONN_INCOMING,		/* Connection Request sent to the host */
	CONN_ACCEPTED,		/* Accept sent, completing */
	CONN_OPEN,
};

enum ctrl_auth_state {
	AUTH_NONE,
	AUTH_WAIT_KEY,		/* Link Key Request sent */
	AUTH_WAIT_IOCAP,	/* IO Capability Request sent */
	AUTH_WAIT_CONFIRM,	/* User Confirmation Request sent */
	AUTH_WAIT_PIN,		/* PIN Code Request sent */
	AUTH_WAIT_PASSKEY,	/* User Passkey Request sent */
};

struct sim_conn {
	enum ctrl_conn_state state;
	uint16_t handle;
	bool le;
	struct sim_ctrl *c;
	struct bdaddr addr;	/* the peer's address */
	struct sim_rd *rd;	/* the peer: an RD, or */
	struct sim_conn *peer;	/* another controller's end of the link */
	struct sim_link *link;
	enum ctrl_auth_state auth;
	uint8_t pair_type;	/* the Key_Type the running pairing makes */
	uint32_t passkey;	/* the device's, while AUTH_WAIT_PASSKEY */
	bool authenticated;
	bool encrypted;
	uint8_t role;		/* 0 central, 1 peripheral (LE) */
	uint8_t addr_type;
	bool enc_pending;	/* central: LE Start Encryption sent to a peer */
	uint8_t enc_ltk[16];
	uint16_t pkt_type;
	uint16_t interval, latency, timeout;
	/* LE PHYs (1 1M, 2 2M, 3 Coded) and data length (Vol 6 Part B 5.1.9, 5.1.10). */
	uint8_t tx_phy, rx_phy;
	uint16_t dl_octets, dl_time;
	size_t rx_len;
	bool rx_discard;
	unsigned inflight;
	uint8_t rx[SIM_RX_MAX];
};

struct ctrl_adv_set {
	bool used;
	bool enabled;
	uint16_t props;
	uint8_t own;
	uint8_t data_len;
	uint8_t data[SIM_ADV_MAX];
	uint8_t rsp_len;
	uint8_t rsp[SIM_ADV_MAX];
	struct bdaddr rand;
};

struct ctrl_accept_entry {
	uint8_t type;
	struct bdaddr addr;
};

struct sim_ctrl {
	struct sim_air *air;
	struct sim_air_port *port;	/* our entry in the air's list */
	struct loop *l;
	struct bdaddr addr;
	sim_emit_fn emit;
	void *user;
	struct pktq outq;
	struct loop_timer *drain;
	bool draining;
	bool free_pending;
	struct sim_job *jobs;
	struct sim_job *running;	/* the job whose timer is firing */
	size_t njobs;

	/* Host controller settings (Vol 4 Part E 7.3). */
	uint8_t evmask[8];
	uint8_t evmask2[8];
	uint8_t le_evmask[8];
	/* LE Set Default PHY (7.8.48), LE Write Suggested Default Data Length (7.8.35). */
	uint8_t def_all_phys, def_tx_phys, def_rx_phys;
	uint16_t sugg_octets, sugg_time;
	char name[SIM_NAME_MAX];
	uint32_t cod;
	uint8_t scan_enable;
	uint8_t inq_mode;
	uint8_t ssp_mode;
	uint8_t le_host;
	uint8_t simul;
	uint8_t auth_enable;
	uint16_t page_timeout;
	uint16_t accept_timeout;
	uint16_t ps_int, ps_win, is_int, is_win;
	uint8_t ps_type, is_type;
	uint16_t voice;
	uint16_t def_policy;
	uint32_t iac_lap;
	uint8_t eir_fec;
	uint8_t eir[SIM_EIR_MAX];

	/* Inquiry. */
	bool inquiry;
	uint8_t inq_max;
	uint8_t inq_count;

	/* LE. */
	bool random_set;
	struct bdaddr random_addr;
	uint8_t scan_type, scan_own, scan_filter;
	uint16_t scan_int, scan_win;
	bool scanning;
	bool scan_ext;
	uint8_t scan_phys;	/* extended scan: bit 0 LE 1M, bit 2 LE Coded */
	bool scan_dup;
	uint8_t seen[SIM_MAX_RDS];	/* duplicate filter: 1 adv, 2 scan rsp */
	struct bdaddr seen_ctrl[SIM_MAX_CONNS];	/* ... for other controllers */
	uint8_t seen_ctrl_f[SIM_MAX_CONNS];
	size_t nseen_ctrl;
	size_t nal;
	struct ctrl_accept_entry al[SIM_ACCEPT_LIST];
	bool adv_enabled;
	uint8_t adv_type;
	uint8_t adv_own;
	uint8_t adv_len, adv[SIM_ADV_MAX];
	uint8_t rsp_len, rsp[SIM_ADV_MAX];
	struct ctrl_adv_set sets[SIM_ADV_SETS];
	bool le_connecting;
	bool le_conn_ext;
	uint8_t le_init_phys;	/* LE Extended Create Connection's Initiating_PHYs */
	uint8_t le_conn_filter;
	uint8_t le_peer_type;
	struct bdaddr le_peer;
	struct bdaddr le_ia;
	uint8_t le_iat;
	uint16_t le_int, le_lat, le_to;

	/* Connections and buffers. */
	uint16_t next_handle;
	unsigned acl_used;
	unsigned le_used;
	bool connect_in_done[SIM_MAX_RDS];
	struct sim_conn conns[SIM_MAX_CONNS];
};

struct ctrl_cmd {
	uint16_t op;
	const uint8_t *p;	/* parameters, plen bytes, already bounded */
	uint8_t plen;
};

typedef void (*ctrl_cmd_fn)(struct sim_ctrl *c, const struct ctrl_cmd *x);

struct ctrl_cmd_def {
	uint16_t op;
	uint8_t octet, bit;	/* Supported_Commands (Vol 4 Part E 6.27) */
	int16_t plen;		/* fixed parameter length, -1: handler checks */
	bool status_first;	/* answered by Command Status (else Complete) */
	ctrl_cmd_fn fn;
};

/* Another controller's advertising as a scanner sees it (ctrl_le_adv.c). */
struct ctrl_adv {
	uint8_t type;		/* legacy PDU type, 7.8.5 */
	uint8_t atype;
	struct bdaddr addr;
	const uint8_t *data, *rsp;
	uint8_t len, rsp_len;
};

#define NO_BIT 0xff
#define CC false
#define CS true

/* A cursor over a command's parameters, in the spec's order; the
 * dispatcher has checked the length of fixed-length commands. */
static inline struct cur ctrl_params(const struct ctrl_cmd *x)
{
	struct cur r;

	cur_init(&r, x->p, x->plen);
	return r;
}

/* One feature's commands. */
struct ctrl_cmd_table {
	const struct ctrl_cmd_def *defs;
	size_t n;
};

#define CTRL_CMD_TABLE(name, defs) \
	const struct ctrl_cmd_table name = { defs, sizeof(defs) / sizeof(defs[0]) }

extern const struct ctrl_cmd_table ctrl_cmds_info;
extern const struct ctrl_cmd_table ctrl_cmds_bredr;
extern const struct ctrl_cmd_table ctrl_cmds_conn;
extern const struct ctrl_cmd_table ctrl_cmds_pair;
extern const struct ctrl_cmd_table ctrl_cmds_le_adv;
extern const struct ctrl_cmd_table ctrl_cmds_le_conn;
extern const struct ctrl_cmd_table ctrl_cmds_le_enc;

/* ---- ctrl.c ---- */
/* LMP features page 0 and LE features of every simulated controller. */
extern const uint8_t ctrl_local_features[8];
extern const uint8_t ctrl_le_features[8];
struct sim_ctrl *ctrl_next(struct sim_ctrl *c, const struct sim_ctrl *prev);
bool ctrl_is_inquiry_scan(const struct sim_ctrl *c);
void ctrl_evt(struct sim_ctrl *c, uint8_t code, const void *p, size_t n);
void ctrl_le_evt(struct sim_ctrl *c, uint8_t sub, const void *p, size_t n);
void ctrl_reply_cc(struct sim_ctrl *c, uint16_t op, const void *ret, size_t n);
void ctrl_reply_status(struct sim_ctrl *c, uint16_t op, uint8_t status);
void ctrl_reply_cs(struct sim_ctrl *c, uint16_t op, uint8_t status);
struct sim_job *ctrl_job_new(struct sim_ctrl *c, ctrl_job_fn fn,
			     uint64_t sim_us, uint16_t handle);
void ctrl_job_unlink(struct sim_job *j);
void ctrl_jobs_cancel(struct sim_ctrl *c, ctrl_job_fn fn, uint16_t handle);
struct sim_job *ctrl_job_find(struct sim_ctrl *c, ctrl_job_fn fn,
			      const struct bdaddr *addr);
void ctrl_later_evt(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		    uint8_t code, const void *p, size_t n);
void ctrl_later_le_evt(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		       uint8_t sub, const void *p, size_t n);
void ctrl_rd_features(const struct sim_rd *rd, uint8_t page, uint8_t f[8]);
void ctrl_host_features(const struct sim_ctrl *c, uint8_t f[8]);
void ctrl_conn_features(const struct sim_conn *cn, uint8_t page, uint8_t f[8]);
void ctrl_conn_free(struct sim_conn *cn);
void ctrl_defaults(struct sim_ctrl *c);
struct sim_conn *ctrl_conn_by_handle(struct sim_ctrl *c, uint16_t h);
struct sim_conn *ctrl_conn_by_addr(struct sim_ctrl *c, const struct bdaddr *a,
				   bool le, int state);
struct sim_conn *ctrl_conn_alloc(struct sim_ctrl *c, struct sim_rd *rd, bool le);
struct sim_conn *ctrl_conn_alloc_addr(struct sim_ctrl *c,
				      const struct bdaddr *addr, bool le);
bool ctrl_rd_pageable(const struct sim_rd *rd);
bool ctrl_rd_advertising(const struct sim_rd *rd);
void ctrl_conn_open(struct sim_conn *cn, const struct bdaddr *ia, uint8_t iat);
int ctrl_acl_input(struct sim_ctrl *c, const struct h4_pkt *p);
int8_t ctrl_jitter(struct sim_ctrl *c, int8_t rssi);
/* Disconnection Complete (7.7.5): now if sim_us is 0, else later. */
void ctrl_disconn_complete(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
			   uint8_t reason);
void ctrl_enc_change(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		     uint8_t status, uint8_t on, bool refresh);
void ctrl_conn_complete(struct sim_ctrl *c, uint8_t status, uint16_t handle,
			const struct bdaddr *a);
void ctrl_bad_params(struct sim_ctrl *c, const struct ctrl_cmd *x, bool cs);
void ctrl_cc_status_handle(struct sim_ctrl *c, uint16_t op, uint8_t st,
			   uint16_t h);
void ctrl_cc_status_addr(struct sim_ctrl *c, uint16_t op, uint8_t st,
			 const uint8_t *a);
struct sim_conn *ctrl_cs_conn(struct sim_ctrl *c, const struct ctrl_cmd *x, int le);

/* ---- ctrl_conn.c ---- */
void ctrl_connect_in_arm(struct sim_ctrl *c);

/* ---- ctrl_le_adv.c ---- */
bool ctrl_al_has(const struct sim_ctrl *c, uint8_t type, const struct bdaddr *a);
bool ctrl_adv_of(const struct sim_ctrl *o, int idx, struct ctrl_adv *v);
bool ctrl_own_addr_ok(const struct sim_ctrl *c, uint8_t own);

#endif /* BGW_SIM_CTRL_INT_H */
