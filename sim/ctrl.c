/* SPDX-License-Identifier: MIT */
/*
 * One simulated controller: the HCI command set of Core Vol 4 Part E 7
 * that a Linux 6.1 host stack uses for a BR/EDR + LE controller, with the
 * link manager / link layer and the radio simulated against the air's RDs.
 *
 * Every response goes through an output queue drained by a zero-delay loop
 * timer, so sim_ctrl_input() never calls emit itself; everything that takes
 * air time (inquiry, paging, scanning, ACL delivery) is a job on a scaled
 * loop timer. The supported-commands bitmap is derived from the dispatch
 * table, so the bits can never claim a command that is not handled; every
 * other opcode gets Unknown HCI Command (Vol 4 Part E 4.5).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "log.h"
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

enum job_kind {
	JOB_EVT,		/* emit a prepared event */
	JOB_INQ_RESULT,
	JOB_INQ_DONE,
	JOB_NAME,
	JOB_PAGE,
	JOB_CONN_REQ,
	JOB_ACCEPT_TIMEOUT,
	JOB_LE_CONN,
	JOB_SCAN_TICK,
	JOB_SCAN_TIMEOUT,
	JOB_ACL,
};

struct sim_job {
	struct sim_job *next;
	struct sim_ctrl *c;
	struct loop_timer *t;
	enum job_kind kind;
	uint16_t handle;	/* 0xffff: not tied to a connection */
	struct bdaddr addr;
	size_t idx;
	size_t len;
	size_t cap;
	uint8_t data[];		/* cap bytes: an event, or one ACL packet */
};

enum conn_state {
	CONN_FREE,
	CONN_PAGING,		/* Create Connection sent */
	CONN_INCOMING,		/* Connection Request sent to the host */
	CONN_ACCEPTED,		/* Accept sent, completing */
	CONN_OPEN,
};

enum auth_state {
	AUTH_NONE,
	AUTH_WAIT_KEY,		/* Link Key Request sent */
	AUTH_WAIT_IOCAP,	/* IO Capability Request sent */
	AUTH_WAIT_CONFIRM,	/* User Confirmation Request sent */
	AUTH_WAIT_PIN,		/* PIN Code Request sent */
};

struct sim_conn {
	enum conn_state state;
	uint16_t handle;
	bool le;
	struct sim_ctrl *c;
	struct bdaddr addr;	/* the peer's address */
	struct sim_rd *rd;	/* the peer: an RD, or */
	struct sim_conn *peer;	/* another controller's end of the link */
	struct sim_link *link;
	enum auth_state auth;
	bool authenticated;
	bool encrypted;
	uint8_t role;		/* 0 central, 1 peripheral (LE) */
	uint8_t addr_type;
	bool enc_pending;	/* central: LE Start Encryption sent to a peer */
	uint8_t enc_ltk[16];
	uint16_t pkt_type;
	uint16_t interval, latency, timeout;
	size_t rx_len;
	bool rx_discard;
	unsigned inflight;
	uint8_t rx[SIM_RX_MAX];
};

struct adv_set {
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

struct accept_entry {
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
	bool scan_dup;
	uint8_t seen[SIM_MAX_RDS];	/* duplicate filter: 1 adv, 2 scan rsp */
	struct bdaddr seen_ctrl[SIM_MAX_CONNS];	/* ... for other controllers */
	uint8_t seen_ctrl_f[SIM_MAX_CONNS];
	size_t nseen_ctrl;
	size_t nal;
	struct accept_entry al[SIM_ACCEPT_LIST];
	bool adv_enabled;
	uint8_t adv_type;
	uint8_t adv_own;
	uint8_t adv_len, adv[SIM_ADV_MAX];
	uint8_t rsp_len, rsp[SIM_ADV_MAX];
	struct adv_set sets[SIM_ADV_SETS];
	bool le_connecting;
	bool le_conn_ext;
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

/* ------------------------------------------------------------ the air */

/* The other controllers of the air, in turn (prev NULL for the first). */
static struct sim_ctrl *ctrl_next(struct sim_ctrl *c, const struct sim_ctrl *prev)
{
	struct sim_air_port *p = sim_air_port_next(c->air, prev ? prev->port : NULL);

	return p ? sim_air_port_user(p) : NULL;
}

const struct bdaddr *sim_ctrl_addr(const struct sim_ctrl *c)
{
	return &c->addr;
}

static bool ctrl_is_inquiry_scan(const struct sim_ctrl *c)
{
	return c->scan_enable & 0x01;
}

/* ------------------------------------------------------------ output */

static void drain_cb(struct loop_timer *t, void *user)
{
	struct sim_ctrl *c = user;
	struct pkt *p;
	unsigned n;

	c->draining = true;
	/* Bounded by the queue cap; emit may queue more (it runs again). */
	for (n = 0; n < SIM_OUTQ_PKTS && !c->free_pending; n++) {
		p = pktq_pop(&c->outq);
		if (!p)
			break;
		if (c->emit)
			c->emit(p->data, p->len, c->user);
		pkt_free(p);
	}
	c->draining = false;
	if (c->free_pending) {
		c->free_pending = false;
		sim_ctrl_free(c);
		return;
	}
	if (!pktq_is_empty(&c->outq))
		loop_timer_arm(t, 0);
}

static void out_push(struct sim_ctrl *c, const uint8_t *h4, size_t len)
{
	if (!c->air)
		return;
	if (pktq_push(&c->outq, h4, len) < 0) {
		/* The host stopped reading: what a UART would lose. */
		log_warn("sim: controller output queue full, packet dropped");
		return;
	}
	if (!loop_timer_is_armed(c->drain))
		loop_timer_arm(c->drain, 0);
}

static bool evt_enabled(const struct sim_ctrl *c, uint8_t code, uint8_t sub)
{
	unsigned bit;

	/* CC, CS and NOCP cannot be masked (Vol 4 Part E 7.3.1). */
	if (code == HCI_EV_CMD_COMPLETE || code == HCI_EV_CMD_STATUS ||
	    code == HCI_EV_NUM_COMP_PKTS || code > 0x40)
		return true;
	bit = code - 1u;
	if (!(c->evmask[bit / 8] & (1u << (bit % 8))))
		return false;
	if (code == HCI_EV_LE_META) {
		bit = sub - 1u;
		if (bit >= 64 || !(c->le_evmask[bit / 8] & (1u << (bit % 8))))
			return false;
	}
	return true;
}

static void evt(struct sim_ctrl *c, uint8_t code, const void *p, size_t n)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int len;

	if (!evt_enabled(c, code, 0))
		return;
	len = h4_build_evt(b, sizeof(b), code, p, n);
	if (len > 0)
		out_push(c, b, (size_t)len);
}

static void le_evt(struct sim_ctrl *c, uint8_t sub, const void *p, size_t n)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int len;

	if (!evt_enabled(c, HCI_EV_LE_META, sub))
		return;
	len = h4_build_le_evt(b, sizeof(b), sub, p, n);
	if (len > 0)
		out_push(c, b, (size_t)len);
}

/* Num_HCI_Command_Packets is always 1: Linux keeps one command outstanding. */
static void reply_cc(struct sim_ctrl *c, uint16_t op, const void *ret, size_t n)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int len = h4_build_cc(b, sizeof(b), 1, op, ret, n);

	if (len > 0)
		out_push(c, b, (size_t)len);
}

static void reply_status(struct sim_ctrl *c, uint16_t op, uint8_t status)
{
	reply_cc(c, op, &status, 1);
}

static void reply_cs(struct sim_ctrl *c, uint16_t op, uint8_t status)
{
	uint8_t b[8];
	int len = h4_build_cs(b, sizeof(b), status, 1, op);

	if (len > 0)
		out_push(c, b, (size_t)len);
}

/* ------------------------------------------------------------ jobs */

static void job_fire(struct loop_timer *t, void *user);

static struct sim_job *job_new_sized(struct sim_ctrl *c, enum job_kind kind,
				     uint64_t sim_us, uint16_t handle, size_t cap)
{
	struct sim_job *j;

	if (!c->air || c->njobs >= SIM_JOBS_MAX) {
		log_warn("sim: too many pending controller jobs");
		return NULL;
	}
	j = calloc(1, sizeof(*j) + cap);
	if (!j)
		return NULL;
	j->t = loop_timer_new(c->l, job_fire, j);
	if (!j->t) {
		free(j);
		return NULL;
	}
	j->c = c;
	j->kind = kind;
	j->handle = handle;
	j->cap = cap;
	j->next = c->jobs;
	c->jobs = j;
	c->njobs++;
	loop_timer_arm(j->t, sim_air_delay(c->air, sim_us));
	return j;
}

static struct sim_job *job_new(struct sim_ctrl *c, enum job_kind kind,
			       uint64_t sim_us, uint16_t handle)
{
	return job_new_sized(c, kind, sim_us, handle, 0);
}

/* Remove a job; the one running is freed by job_fire when it returns. */
static void job_unlink(struct sim_job *j)
{
	struct sim_ctrl *c = j->c;
	struct sim_job **pp;

	for (pp = &c->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			c->njobs--;
			break;
		}
	}
	if (j == c->running)
		return;
	loop_timer_free(j->t);
	free(j);
}

static void jobs_cancel(struct sim_ctrl *c, int kind, uint16_t handle)
{
	struct sim_job *j = c->jobs, *next;

	for (; j; j = next) {
		next = j->next;
		if ((kind < 0 || j->kind == (enum job_kind)kind) &&
		    (handle == 0xffff || j->handle == handle))
			job_unlink(j);
	}
}

static struct sim_job *job_find(struct sim_ctrl *c, enum job_kind kind,
				const struct bdaddr *addr)
{
	struct sim_job *j;

	for (j = c->jobs; j; j = j->next)
		if (j->kind == kind && (!addr || bdaddr_eq(&j->addr, addr)))
			return j;
	return NULL;
}

/* An event emitted after a simulated delay, tied to a handle if any. */
static void later_evt(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		      uint8_t code, const void *p, size_t n)
{
	struct sim_job *j = job_new_sized(c, JOB_EVT, sim_us, handle, H4_MAX_CTL_PKT);
	int len;

	if (!j)
		return;
	len = h4_build_evt(j->data, j->cap, code, p, n);
	if (len <= 0) {
		job_unlink(j);
		return;
	}
	j->len = (size_t)len;
}

static void later_le_evt(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
			 uint8_t sub, const void *p, size_t n)
{
	struct sim_job *j = job_new_sized(c, JOB_EVT, sim_us, handle, H4_MAX_CTL_PKT);
	int len;

	if (!j)
		return;
	len = h4_build_le_evt(j->data, j->cap, sub, p, n);
	if (len <= 0) {
		job_unlink(j);
		return;
	}
	j->len = (size_t)len;
}

/* ------------------------------------------------------------ features */

/* LMP features page 0 (Vol 2 Part C 3.3): 3- and 5-slot, encryption, RSSI
 * with inquiry results, EDR 2/3 Mb/s, LE supported (controller), EIR, SSP,
 * inquiry TX power, extended features. Nothing we do not simulate. */
static const uint8_t local_features[8] = {
	0x07, 0x00, 0x00, 0x46, 0x40, 0x00, 0x09, 0x82
};
/* LE features (Vol 6 Part B 4.6): encryption, extended advertising. */
static const uint8_t le_features[8] = { 0x01, 0x10, 0, 0, 0, 0, 0, 0 };

static void rd_features(const struct sim_rd *rd, uint8_t page, uint8_t f[8])
{
	memset(f, 0, 8);
	if (page == 0) {
		f[0] = 0x07;
		f[3] = 0x46;
		f[4] = rd->cfg->tech & SIM_TECH_LE ? 0x40 : 0x00;
		f[6] = 0x09;
		f[7] = 0x80;
	} else if (page == 1) {
		/* Host features: SSP, and LE host for dual-mode devices. */
		f[0] = (uint8_t)(0x01 | (rd->cfg->tech & SIM_TECH_LE ? 0x02 : 0));
	}
}

static void host_features(const struct sim_ctrl *c, uint8_t f[8])
{
	memset(f, 0, 8);
	f[0] = (uint8_t)((c->ssp_mode ? 0x01 : 0) | (c->le_host ? 0x02 : 0) |
			 (c->simul ? 0x04 : 0));
}

/* The remote side's LMP features, page 0 or 1, whoever it is. */
static void conn_features(const struct sim_conn *cn, uint8_t page, uint8_t f[8])
{
	memset(f, 0, 8);
	if (cn->rd)
		rd_features(cn->rd, page, f);
	else if (cn->peer && page == 0)
		memcpy(f, local_features, 8);
	else if (cn->peer && page == 1)
		host_features(cn->peer->c, f);
}

/* ------------------------------------------------------------ state */

static void conn_free_slot(struct sim_conn *cn)
{
	struct sim_ctrl *c = cn->c;

	if (cn->state == CONN_OPEN) {
		if (cn->le)
			c->le_used -= cn->inflight < c->le_used ? cn->inflight : c->le_used;
		else
			c->acl_used -= cn->inflight < c->acl_used ? cn->inflight : c->acl_used;
	}
	if (cn->peer)
		cn->peer->peer = NULL;
	jobs_cancel(c, -1, cn->handle);
	sim_link_free(cn->link);
	memset(cn, 0, sizeof(*cn));
	cn->c = c;
}

static void conn_complete(struct sim_ctrl *c, uint8_t status, uint16_t handle,
			  const struct bdaddr *a);

/*
 * This end of a link between two controllers goes away (Reset, the
 * controller freed): the other end sees the link lost, Connection Timeout
 * (0x08), as after a supervision timeout.
 */
static void peer_lost(struct sim_conn *cn)
{
	struct sim_conn *p = cn->peer;
	uint8_t b[4];

	if (!p)
		return;
	if (p->state == CONN_OPEN) {
		b[0] = 0;
		put_le16(b + 1, p->handle);
		b[3] = HCI_ST_CONN_TIMEOUT;
		evt(p->c, HCI_EV_DISCONN_COMPLETE, b, 4);
	} else {
		conn_complete(p->c, HCI_ST_CONN_TIMEOUT, 0, &p->addr);
	}
	conn_free_slot(p);
}

static void defaults(struct sim_ctrl *c)
{
	size_t i;

	jobs_cancel(c, -1, 0xffff);
	for (i = 0; i < SIM_MAX_CONNS; i++) {
		peer_lost(&c->conns[i]);
		sim_link_free(c->conns[i].link);
		memset(&c->conns[i], 0, sizeof(c->conns[i]));
		c->conns[i].c = c;
	}
	/* Reset values (Vol 4 Part E 7.3.1, 7.8.1 and the parameter defaults). */
	memset(c->evmask, 0xff, sizeof(c->evmask));
	c->evmask[5] = 0x1f;
	c->evmask[6] = 0;
	c->evmask[7] = 0;
	memset(c->evmask2, 0, sizeof(c->evmask2));
	memset(c->le_evmask, 0, sizeof(c->le_evmask));
	c->le_evmask[0] = 0x1f;
	memset(c->name, 0, sizeof(c->name));
	snprintf(c->name, sizeof(c->name), "bgw-sim");
	c->cod = 0;
	c->scan_enable = 0;
	c->inq_mode = 0;
	c->ssp_mode = 0;
	c->le_host = 0;
	c->simul = 0;
	c->auth_enable = 0;
	c->page_timeout = 0x2000;
	c->accept_timeout = 0x1f40;
	c->ps_int = 0x0800;
	c->ps_win = 0x0012;
	c->is_int = 0x1000;
	c->is_win = 0x0012;
	c->ps_type = 0;
	c->is_type = 0;
	c->voice = 0x0060;
	c->def_policy = 0;
	c->iac_lap = 0x9e8b33;
	c->eir_fec = 0;
	memset(c->eir, 0, sizeof(c->eir));
	c->inquiry = false;
	c->random_set = false;
	memset(&c->random_addr, 0, sizeof(c->random_addr));
	c->scan_type = 0;
	c->scan_int = 0x0010;
	c->scan_win = 0x0010;
	c->scan_own = 0;
	c->scan_filter = 0;
	c->scanning = false;
	c->nal = 0;
	c->adv_enabled = false;
	c->adv_type = 0;
	c->adv_len = 0;
	c->rsp_len = 0;
	memset(c->sets, 0, sizeof(c->sets));
	c->le_connecting = false;
	c->acl_used = 0;
	c->le_used = 0;
	memset(c->connect_in_done, 0, sizeof(c->connect_in_done));
}

static struct sim_conn *conn_by_handle(struct sim_ctrl *c, uint16_t h)
{
	size_t i;

	for (i = 0; i < SIM_MAX_CONNS; i++)
		if (c->conns[i].state == CONN_OPEN && c->conns[i].handle == h)
			return &c->conns[i];
	return NULL;
}

static struct sim_conn *conn_by_addr(struct sim_ctrl *c, const struct bdaddr *a,
				     bool le, int state)
{
	size_t i;

	for (i = 0; i < SIM_MAX_CONNS; i++) {
		struct sim_conn *cn = &c->conns[i];

		if (cn->state == CONN_FREE || cn->le != le)
			continue;
		if (state >= 0 && cn->state != (enum conn_state)state)
			continue;
		if (bdaddr_eq(&cn->addr, a))
			return cn;
	}
	return NULL;
}

static bool handle_used(struct sim_ctrl *c, uint16_t h)
{
	size_t i;

	for (i = 0; i < SIM_MAX_CONNS; i++)
		if (c->conns[i].state != CONN_FREE && c->conns[i].handle == h)
			return true;
	return false;
}

static struct sim_conn *conn_alloc_addr(struct sim_ctrl *c,
					 const struct bdaddr *addr, bool le);

static struct sim_conn *conn_alloc(struct sim_ctrl *c, struct sim_rd *rd, bool le)
{
	struct sim_conn *cn = conn_alloc_addr(c, &rd->cfg->addr, le);

	if (cn)
		cn->rd = rd;
	return cn;
}

static struct sim_conn *conn_alloc_addr(struct sim_ctrl *c,
					 const struct bdaddr *addr, bool le)
{
	struct sim_conn *cn = NULL;
	size_t i;
	unsigned tries;

	for (i = 0; i < SIM_MAX_CONNS; i++) {
		if (c->conns[i].state == CONN_FREE) {
			cn = &c->conns[i];
			break;
		}
	}
	if (!cn)
		return NULL;
	memset(cn, 0, sizeof(*cn));
	cn->c = c;
	cn->addr = *addr;
	cn->le = le;
	/* Handles 0x0001..0x0eff (Vol 4 Part E 5.4.2); bounded search. */
	for (tries = 0; tries < HCI_HANDLE_MAX; tries++) {
		c->next_handle = (uint16_t)(c->next_handle % HCI_HANDLE_MAX + 1);
		if (!handle_used(c, c->next_handle))
			break;
	}
	cn->handle = c->next_handle;
	return cn;
}

static bool rd_pageable(const struct sim_rd *rd)
{
	return rd && (rd->cfg->tech & SIM_TECH_BREDR) && rd->cfg->connectable;
}

static bool rd_advertising(const struct sim_rd *rd)
{
	return (rd->cfg->tech & SIM_TECH_LE) &&
	       (rd->cfg->discoverable || rd->cfg->connectable);
}

static void link_to_host(const uint8_t *pdu, size_t len, void *user);

static void conn_open(struct sim_conn *cn, const struct bdaddr *ia, uint8_t iat)
{
	struct sim_ctrl *c = cn->c;

	cn->state = CONN_OPEN;
	if (!cn->rd)
		return;		/* another controller: its host answers */
	cn->link = sim_link_new(c->air, cn->rd, cn->le, ia, iat, link_to_host, cn);
	if (!cn->link)
		log_err("sim: out of memory for a link");
}

/* ------------------------------------------------------------ ACL */

/* RD -> host: fragment to the host's buffer size (Vol 4 Part E 5.4.2). */
static void link_to_host(const uint8_t *pdu, size_t len, void *user)
{
	struct sim_conn *cn = user;
	struct sim_ctrl *c = cn->c;
	const struct sim_opts *o = sim_air_opts(c->air);
	size_t mtu = cn->le ? o->le_mtu : o->acl_mtu, off = 0, n;
	uint8_t b[1 + HCI_ACL_HDR + 1024];
	unsigned i;
	int r;

	if (mtu > 1024)
		mtu = 1024;
	for (i = 0; off < len && i < 1024; i++) {
		n = len - off < mtu ? len - off : mtu;
		r = h4_build_acl(b, sizeof(b), cn->handle,
				 off ? HCI_PB_CONT : HCI_PB_FIRST_FLUSH, 0,
				 pdu + off, n);
		if (r > 0)
			out_push(c, b, (size_t)r);
		off += n;
	}
}

static void acl_deliver(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_conn *cn = conn_by_handle(c, j->handle);
	uint8_t nocp[5];
	uint8_t pb = j->data[0];
	size_t dlen = j->len - 1, need;
	const uint8_t *d = j->data + 1;

	if (!cn)
		return;
	if (cn->inflight)
		cn->inflight--;
	if (cn->le) {
		if (c->le_used)
			c->le_used--;
	} else if (c->acl_used) {
		c->acl_used--;
	}
	/* The buffer is free again: Number Of Completed Packets (7.7.19). */
	nocp[0] = 1;
	put_le16(nocp + 1, cn->handle);
	put_le16(nocp + 3, 1);
	evt(c, HCI_EV_NUM_COMP_PKTS, nocp, 5);

	if (cn->peer) {
		/* Another controller: the fragment goes to its host as is,
		 * a start marked flushable as controllers deliver it. */
		struct sim_conn *p = cn->peer;
		uint8_t *b = malloc(1 + HCI_ACL_HDR + dlen);
		int r;

		if (!b)
			return;
		r = h4_build_acl(b, 1 + HCI_ACL_HDR + dlen, p->handle,
				 pb == HCI_PB_CONT ? HCI_PB_CONT : HCI_PB_FIRST_FLUSH,
				 0, d, dlen);
		if (r > 0)
			out_push(p->c, b, (size_t)r);
		free(b);
		return;
	}

	/* Reassembly (Vol 4 Part E 5.4.2 Packet_Boundary_Flag). */
	if (pb != HCI_PB_CONT) {
		cn->rx_len = 0;
		cn->rx_discard = false;
	} else if (cn->rx_len == 0 || cn->rx_discard) {
		log_debug("sim: continuation without a start on 0x%04x dropped", cn->handle);
		return;
	}
	if (cn->rx_len + dlen > SIM_RX_MAX) {
		log_info("sim: L2CAP PDU on 0x%04x larger than %d dropped",
			 cn->handle, SIM_RX_MAX);
		cn->rx_discard = true;
		cn->rx_len = 0;
		return;
	}
	memcpy(cn->rx + cn->rx_len, d, dlen);
	cn->rx_len += dlen;
	if (cn->rx_len < 4)
		return;
	need = 4 + (size_t)get_le16(cn->rx);
	if (cn->rx_len < need)
		return;
	if (cn->rx_len > need) {
		log_info("sim: L2CAP PDU on 0x%04x longer than its header", cn->handle);
		cn->rx_len = 0;
		return;
	}
	cn->rx_len = 0;
	if (cn->link)
		sim_link_input(cn->link, cn->rx, need);
}

static int acl_input(struct sim_ctrl *c, const struct h4_pkt *p)
{
	const struct sim_opts *o = sim_air_opts(c->air);
	struct sim_conn *cn = conn_by_handle(c, p->acl.handle);
	unsigned *used, max;
	size_t mtu;
	struct sim_job *j;
	uint8_t lt = 0x01;

	if (!cn) {
		/* Unknown handle: discarded (Vol 4 Part E 5.4.2). */
		log_info("sim: ACL for unknown handle 0x%04x dropped", p->acl.handle);
		return 0;
	}
	used = cn->le ? &c->le_used : &c->acl_used;
	max = cn->le ? o->le_pkts : o->acl_pkts;
	mtu = cn->le ? o->le_mtu : o->acl_mtu;
	if (p->acl.dlen > mtu || p->acl.pb == 0x03) {
		log_info("sim: ACL on 0x%04x: %u bytes over the %zu-byte buffer or bad flags",
			 cn->handle, p->acl.dlen, mtu);
		return 0;
	}
	if (*used >= max) {
		/* The host ignored flow control (Vol 4 Part E 7.7.26). */
		evt(c, HCI_EV_DATA_BUFFER_OVERFLOW, &lt, 1);
		return 0;
	}
	j = job_new_sized(c, JOB_ACL, o->unlimited_radio ? 0 : T_ACL_PKT,
			  cn->handle, 1 + (size_t)p->acl.dlen);
	if (!j)
		return -ENOBUFS;
	(*used)++;
	cn->inflight++;
	j->data[0] = p->acl.pb;
	memcpy(j->data + 1, p->acl.data, p->acl.dlen);
	j->len = 1 + p->acl.dlen;
	return 0;
}

/* ------------------------------------------------------------ BR/EDR jobs */

static void send_inq_result(struct sim_ctrl *c, const struct bdaddr *a,
			    uint32_t cod, int8_t rssi, const uint8_t *eir,
			    size_t eir_len)
{
	uint8_t b[1 + 6 + 1 + 1 + 3 + 2 + 1 + SIM_EIR_MAX];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 1);
	wbuf_bytes(&w, a->b, 6);
	wbuf_u8(&w, 0x01);		/* Page_Scan_Repetition_Mode R1 */
	if (c->inq_mode == 0)
		wbuf_le16(&w, 0);	/* reserved (2 octets in 7.7.2) */
	else
		wbuf_u8(&w, 0);
	wbuf_le24(&w, cod);
	wbuf_le16(&w, 0x0000);		/* Clock_Offset */
	if (c->inq_mode == 0) {
		evt(c, HCI_EV_INQUIRY_RESULT, b, w.len);
		return;
	}
	wbuf_u8(&w, (uint8_t)rssi);
	if (c->inq_mode == 2 && eir_len) {
		wbuf_bytes(&w, eir, eir_len);
		wbuf_zero(&w, SIM_EIR_MAX - eir_len);
		evt(c, HCI_EV_EXT_INQUIRY_RESULT, b, w.len);
	} else {
		evt(c, HCI_EV_INQUIRY_RESULT_RSSI, b, w.len);
	}
}

static int8_t jitter(struct sim_ctrl *c, int8_t rssi)
{
	int v = rssi + (int)(sim_air_rand(c->air) % 5) - 2;

	return (int8_t)(v < -127 ? -127 : v > 20 ? 20 : v);
}

static void inquiry_done(struct sim_ctrl *c)
{
	uint8_t st = 0;

	c->inquiry = false;
	jobs_cancel(c, JOB_INQ_RESULT, 0xffff);
	jobs_cancel(c, JOB_INQ_DONE, 0xffff);
	evt(c, HCI_EV_INQUIRY_COMPLETE, &st, 1);
}

static void job_inq_result(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd;
	struct sim_ctrl *o;

	if (!c->inquiry)
		return;
	if (j->idx < sim_air_rd_count(c->air)) {
		rd = sim_air_rd(c->air, j->idx);
		send_inq_result(c, &rd->cfg->addr, rd->cfg->cod,
				jitter(c, rd->cfg->rssi), rd->eir, rd->eir_len);
	} else {
		/* Another controller of the air in inquiry scan (like btvirt). */
		o = NULL;
		for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o))
			if (bdaddr_eq(&o->addr, &j->addr))
				break;
		if (!o || !ctrl_is_inquiry_scan(o))
			return;
		send_inq_result(c, &o->addr, o->cod, jitter(c, -40),
				o->eir, o->eir[0] ? SIM_EIR_MAX : 0);
	}
	c->inq_count++;
	/* Num_Responses reached: the inquiry halts (7.1.1). */
	if (c->inq_max && c->inq_count >= c->inq_max)
		inquiry_done(c);
}

static void name_complete(struct sim_ctrl *c, uint8_t status,
			  const struct bdaddr *a, const char *name)
{
	uint8_t b[1 + 6 + SIM_NAME_MAX];

	memset(b, 0, sizeof(b));
	b[0] = status;
	memcpy(b + 1, a->b, 6);
	if (name)
		memcpy(b + 7, name, strnlen(name, SIM_NAME_MAX));
	evt(c, HCI_EV_REMOTE_NAME, b, sizeof(b));
}

static void job_name(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd = sim_air_find_rd(c->air, &j->addr);
	struct sim_ctrl *o;
	uint8_t b[14];

	if (rd && rd_pageable(rd)) {
		/* Remote host features arrive before the name (7.7.50). */
		memcpy(b, j->addr.b, 6);
		rd_features(rd, 1, b + 6);
		evt(c, HCI_EV_REMOTE_HOST_FEATURES, b, 14);
		name_complete(c, 0, &j->addr, rd->cfg->name);
		return;
	}
	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o)) {
		if (o != c && bdaddr_eq(&o->addr, &j->addr) && (o->scan_enable & 0x02)) {
			name_complete(c, 0, &j->addr, o->name);
			return;
		}
	}
	name_complete(c, HCI_ST_PAGE_TIMEOUT, &j->addr, NULL);
}

static void conn_complete(struct sim_ctrl *c, uint8_t status, uint16_t handle,
			  const struct bdaddr *a)
{
	uint8_t b[11];

	b[0] = status;
	put_le16(b + 1, handle);
	memcpy(b + 3, a->b, 6);
	b[9] = 0x01;	/* ACL */
	b[10] = 0x00;	/* encryption off */
	evt(c, HCI_EV_CONN_COMPLETE, b, sizeof(b));
}

static void job_page(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_conn *cn = conn_by_addr(c, &j->addr, false, CONN_PAGING);

	if (!cn)
		cn = conn_by_addr(c, &j->addr, false, CONN_ACCEPTED);
	if (!cn)
		return;
	if (j->idx) {
		/* Page Timeout (Vol 4 Part E 7.7.3 with status 0x04). */
		conn_complete(c, HCI_ST_PAGE_TIMEOUT, 0x0000, &j->addr);
		conn_free_slot(cn);
		return;
	}
	conn_open(cn, &c->addr, BDADDR_PUBLIC);
	conn_complete(c, 0, cn->handle, &j->addr);
	if (cn->peer && cn->peer->state == CONN_PAGING) {
		/* The paging controller's end completes at the same time. */
		struct sim_conn *p = cn->peer;

		conn_open(p, &p->c->addr, BDADDR_PUBLIC);
		conn_complete(p->c, 0, p->handle, &p->addr);
	}
}

static void job_conn_req(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd = sim_air_rd(c->air, j->idx);
	struct sim_conn *cn;
	struct sim_job *t;
	uint8_t b[10];

	if (!rd || !(c->scan_enable & 0x02) ||
	    conn_by_addr(c, &rd->cfg->addr, false, -1))
		return;
	cn = conn_alloc(c, rd, false);
	if (!cn)
		return;
	cn->state = CONN_INCOMING;
	memcpy(b, rd->cfg->addr.b, 6);
	put_le16(b + 6, (uint16_t)rd->cfg->cod);
	b[8] = (uint8_t)(rd->cfg->cod >> 16);
	b[9] = 0x01;
	evt(c, HCI_EV_CONN_REQUEST, b, sizeof(b));
	t = job_new(c, JOB_ACCEPT_TIMEOUT, (uint64_t)c->accept_timeout * SLOT_US,
		    cn->handle);
	if (t)
		t->addr = rd->cfg->addr;
}

static void job_accept_timeout(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_conn *cn = conn_by_addr(c, &j->addr, false, CONN_INCOMING);
	struct sim_conn *p;

	if (!cn)
		return;
	p = cn->peer;
	conn_complete(c, HCI_ST_CONN_ACCEPT_TIMEOUT, 0x0000, &j->addr);
	conn_free_slot(cn);
	if (p) {
		conn_complete(p->c, HCI_ST_CONN_ACCEPT_TIMEOUT, 0x0000, &p->addr);
		conn_free_slot(p);
	}
}

static struct sim_ctrl *ctrl_by_addr(struct sim_ctrl *c, const struct bdaddr *a)
{
	struct sim_ctrl *o;

	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o))
		if (o != c && bdaddr_eq(&o->addr, a))
			return o;
	return NULL;
}

/*
 * Page another controller of the air: it reports a Connection Request to
 * its host, whose Accept or Reject decides for both ends (like btvirt).
 */
static bool page_ctrl(struct sim_ctrl *c, uint16_t op, const struct bdaddr *a)
{
	struct sim_ctrl *o = ctrl_by_addr(c, a);
	struct sim_conn *cn, *pn;
	struct sim_job *t;
	uint8_t b[10];

	if (!o || !(o->scan_enable & 0x02))
		return false;
	cn = conn_alloc_addr(c, a, false);
	if (!cn) {
		reply_cs(c, op, HCI_ST_CONN_LIMIT_EXCEEDED);
		return true;
	}
	cn->state = CONN_PAGING;
	pn = conn_alloc_addr(o, &c->addr, false);
	if (!pn) {
		conn_free_slot(cn);
		reply_cs(c, op, HCI_ST_CONN_LIMIT_EXCEEDED);
		return true;
	}
	pn->state = CONN_INCOMING;
	cn->peer = pn;
	pn->peer = cn;
	reply_cs(c, op, 0);
	memcpy(b, c->addr.b, 6);
	put_le16(b + 6, (uint16_t)c->cod);
	b[8] = (uint8_t)(c->cod >> 16);
	b[9] = 0x01;
	evt(o, HCI_EV_CONN_REQUEST, b, sizeof(b));
	t = job_new(o, JOB_ACCEPT_TIMEOUT, (uint64_t)o->accept_timeout * SLOT_US,
		    pn->handle);
	if (t)
		t->addr = c->addr;
	return true;
}

/* Schedule incoming connections of RDs that page us (scenario connect-in). */
static void connect_in_arm(struct sim_ctrl *c)
{
	size_t i;

	for (i = 0; i < sim_air_rd_count(c->air) && i < SIM_MAX_RDS; i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);
		struct sim_job *j;

		if (rd->cfg->connect_in_ms < 0 || c->connect_in_done[i] ||
		    !rd_pageable(rd))
			continue;
		c->connect_in_done[i] = true;
		j = job_new(c, JOB_CONN_REQ, (uint64_t)rd->cfg->connect_in_ms * 1000, 0xffff);
		if (j)
			j->idx = i;
	}
}

/* ------------------------------------------------------------ LE jobs */

static bool al_has(const struct sim_ctrl *c, uint8_t type, const struct bdaddr *a)
{
	size_t i;

	for (i = 0; i < c->nal; i++)
		if ((c->al[i].type == 0xff) ||
		    (c->al[i].type == type && bdaddr_eq(&c->al[i].addr, a)))
			return true;
	return false;
}

static void adv_report(struct sim_ctrl *c, uint8_t atype, const struct bdaddr *a,
		       bool connectable, uint8_t legacy_type,
		       const uint8_t *data, size_t len, int8_t rssi)
{
	uint8_t b[64];
	struct wbuf w;
	uint16_t et;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 1);
	if (!c->scan_ext) {
		/* LE Advertising Report (7.7.65.2). */
		wbuf_u8(&w, legacy_type);
		wbuf_u8(&w, atype);
		wbuf_bytes(&w, a->b, 6);
		wbuf_u8(&w, (uint8_t)len);
		wbuf_bytes(&w, data, len);
		wbuf_u8(&w, (uint8_t)rssi);
		if (wbuf_is_ok(&w))
			le_evt(c, HCI_LE_EV_ADV_REPORT, b, w.len);
		return;
	}
	/* LE Extended Advertising Report for legacy PDUs (7.7.65.13). */
	switch (legacy_type) {
	case 0x00: et = 0x13; break;	/* ADV_IND */
	case 0x02: et = 0x12; break;	/* ADV_SCAN_IND */
	case 0x03: et = 0x10; break;	/* ADV_NONCONN_IND */
	default: et = connectable ? 0x1b : 0x1a; break; /* SCAN_RSP */
	}
	wbuf_le16(&w, et);
	wbuf_u8(&w, atype);
	wbuf_bytes(&w, a->b, 6);
	wbuf_u8(&w, 0x01);	/* primary PHY LE 1M */
	wbuf_u8(&w, 0x00);	/* no secondary PHY */
	wbuf_u8(&w, 0xff);	/* no SID */
	wbuf_u8(&w, 0x7f);	/* TX power not available */
	wbuf_u8(&w, (uint8_t)rssi);
	wbuf_le16(&w, 0);	/* no periodic advertising */
	wbuf_u8(&w, 0);
	wbuf_zero(&w, 6);
	wbuf_u8(&w, (uint8_t)len);
	wbuf_bytes(&w, data, len);
	if (wbuf_is_ok(&w))
		le_evt(c, HCI_LE_EV_EXT_ADV_REPORT, b, w.len);
}

/*
 * Another controller's advertising as this one's scanner sees it: legacy
 * advertising, or an extended set using legacy PDUs (props bit 4, 7.8.53).
 * idx: -1 legacy, else the set. Returns false if it does not advertise.
 */
struct ctrl_adv {
	uint8_t type;		/* legacy PDU type, 7.8.5 */
	uint8_t atype;
	struct bdaddr addr;
	const uint8_t *data, *rsp;
	uint8_t len, rsp_len;
};

static void adv_addr(const struct sim_ctrl *o, uint8_t own,
		     const struct bdaddr *set_rand, struct ctrl_adv *v)
{
	if (own & 0x01) {
		v->atype = BDADDR_RANDOM;
		v->addr = set_rand && !bdaddr_is_zero(set_rand) ? *set_rand : o->random_addr;
	} else {
		v->atype = BDADDR_PUBLIC;
		v->addr = o->addr;
	}
}

static bool ctrl_adv(const struct sim_ctrl *o, int idx, struct ctrl_adv *v)
{
	const struct adv_set *s;

	if (idx < 0) {
		/* Directed advertising (types 1 and 4) is not simulated. */
		if (!o->adv_enabled || o->adv_type == 0x01 || o->adv_type > 3)
			return false;
		v->type = o->adv_type;
		adv_addr(o, o->adv_own, NULL, v);
		v->data = o->adv;
		v->len = o->adv_len;
		v->rsp = o->rsp;
		v->rsp_len = o->rsp_len;
		return true;
	}
	s = &o->sets[idx];
	if (!s->used || !s->enabled || !(s->props & 0x10) || (s->props & 0x04))
		return false;
	v->type = (s->props & 0x01) ? 0x00 : (s->props & 0x02) ? 0x02 : 0x03;
	adv_addr(o, s->own, &s->rand, v);
	v->data = s->data;
	v->len = s->data_len;
	v->rsp = s->rsp;
	v->rsp_len = s->rsp_len;
	return true;
}

static uint8_t *seen_ctrl(struct sim_ctrl *c, const struct bdaddr *a)
{
	size_t i;

	for (i = 0; i < c->nseen_ctrl; i++)
		if (bdaddr_eq(&c->seen_ctrl[i], a))
			return &c->seen_ctrl_f[i];
	if (c->nseen_ctrl >= SIM_MAX_CONNS)
		return NULL;	/* table full: report, do not filter */
	c->seen_ctrl[c->nseen_ctrl] = *a;
	c->seen_ctrl_f[c->nseen_ctrl] = 0;
	return &c->seen_ctrl_f[c->nseen_ctrl++];
}

static void scan_ctrls(struct sim_ctrl *c)
{
	struct sim_ctrl *o;
	struct ctrl_adv v;
	int idx;

	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o)) {
		if (o == c)
			continue;
		for (idx = -1; idx < SIM_ADV_SETS; idx++) {
			uint8_t *seen, none = 0;

			if (!ctrl_adv(o, idx, &v))
				continue;
			if ((c->scan_filter & 0x01) && !al_has(c, v.atype, &v.addr))
				continue;
			seen = seen_ctrl(c, &v.addr);
			if (!seen)
				seen = &none;
			if (!(c->scan_dup && (*seen & 1))) {
				adv_report(c, v.atype, &v.addr, v.type == 0x00, v.type,
					   v.data, v.len, jitter(c, -40));
				*seen |= 1;
			}
			if (c->scan_type == 0x01 && v.type != 0x03 &&
			    !(c->scan_dup && (*seen & 2))) {
				adv_report(c, v.atype, &v.addr, v.type == 0x00, 0x04,
					   v.rsp, v.rsp_len, jitter(c, -40));
				*seen |= 2;
			}
		}
	}
}

static void job_scan_tick(struct sim_ctrl *c, struct sim_job *j)
{
	size_t i, n = sim_air_rd_count(c->air);
	struct sim_job *nj;

	(void)j;
	if (!c->scanning)
		return;
	for (i = 0; i < n && i < SIM_MAX_RDS; i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);
		uint8_t type;
		int8_t rssi;

		/* A device connected to us stops advertising, as a
		 * single-connection peripheral does. */
		if (!rd_advertising(rd) || conn_by_addr(c, &rd->cfg->addr, true, -1))
			continue;
		if ((c->scan_filter & 0x01) &&
		    !al_has(c, rd->cfg->addr_type, &rd->cfg->addr))
			continue;
		type = rd->cfg->connectable ? 0x00 : 0x02;
		rssi = jitter(c, rd->cfg->rssi);
		if (!(c->scan_dup && (c->seen[i] & 1))) {
			adv_report(c, rd->cfg->addr_type, &rd->cfg->addr,
				   rd->cfg->connectable, type, rd->adv, rd->adv_len, rssi);
			c->seen[i] |= 1;
		}
		/* Active scanning: a SCAN_REQ gets the scan response. */
		if (c->scan_type == 0x01 && !(c->scan_dup && (c->seen[i] & 2))) {
			adv_report(c, rd->cfg->addr_type, &rd->cfg->addr,
				   rd->cfg->connectable, 0x04, rd->rsp, rd->rsp_len, rssi);
			c->seen[i] |= 2;
		}
	}
	scan_ctrls(c);
	nj = job_new(c, JOB_SCAN_TICK, T_SCAN_TICK, 0xffff);
	(void)nj;
}

static void scan_start(struct sim_ctrl *c, bool dup, uint16_t duration)
{
	struct sim_job *j;

	jobs_cancel(c, JOB_SCAN_TICK, 0xffff);
	jobs_cancel(c, JOB_SCAN_TIMEOUT, 0xffff);
	c->scanning = true;
	c->scan_dup = dup;
	memset(c->seen, 0, sizeof(c->seen));
	c->nseen_ctrl = 0;
	j = job_new(c, JOB_SCAN_TICK, T_SCAN_TICK / 4, 0xffff);
	(void)j;
	if (duration)
		job_new(c, JOB_SCAN_TIMEOUT, (uint64_t)duration * 10000, 0xffff);
}

static void scan_stop(struct sim_ctrl *c)
{
	c->scanning = false;
	jobs_cancel(c, JOB_SCAN_TICK, 0xffff);
	jobs_cancel(c, JOB_SCAN_TIMEOUT, 0xffff);
}

static bool le_enhanced(const struct sim_ctrl *c)
{
	return c->le_evmask[1] & 0x02;
}

static void le_conn_complete(struct sim_ctrl *c, uint8_t status,
			     const struct sim_conn *cn, uint8_t peer_type,
			     const struct bdaddr *peer)
{
	uint8_t b[30];
	struct wbuf w;
	bool enh = le_enhanced(c);

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, status);
	wbuf_le16(&w, cn ? cn->handle : 0);
	wbuf_u8(&w, cn ? cn->role : 0x00);
	wbuf_u8(&w, peer_type);
	wbuf_bytes(&w, peer->b, 6);
	if (enh) {
		wbuf_zero(&w, 6);	/* local RPA: none */
		wbuf_zero(&w, 6);	/* peer RPA: none */
	}
	wbuf_le16(&w, cn ? cn->interval : 0);
	wbuf_le16(&w, cn ? cn->latency : 0);
	wbuf_le16(&w, cn ? cn->timeout : 0);
	wbuf_u8(&w, 0x00);	/* central clock accuracy */
	le_evt(c, enh ? HCI_LE_EV_ENH_CONN_COMPLETE : HCI_LE_EV_CONN_COMPLETE,
	       b, w.len);
}

static struct sim_rd *le_target(struct sim_ctrl *c)
{
	size_t i;

	for (i = 0; i < sim_air_rd_count(c->air); i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);

		if (!(rd->cfg->tech & SIM_TECH_LE) || !rd->cfg->connectable)
			continue;
		if (c->le_conn_filter) {
			if (!al_has(c, rd->cfg->addr_type, &rd->cfg->addr))
				continue;
		} else if (!bdaddr_eq(&rd->cfg->addr, &c->le_peer) ||
			   rd->cfg->addr_type != (c->le_peer_type & 0x01)) {
			continue;
		}
		if (conn_by_addr(c, &rd->cfg->addr, true, -1))
			continue;
		return rd;
	}
	return NULL;
}

/*
 * LE Create Connection aimed at another controller's connectable
 * advertising: both ends complete, the advertiser as peripheral; its
 * advertising stops (7.8.9), an extended set with Advertising Set
 * Terminated (7.7.65.18).
 */
static bool le_connect_ctrl(struct sim_ctrl *c)
{
	struct sim_ctrl *o;
	struct sim_conn *cn, *pn;
	struct ctrl_adv v;
	int idx;
	uint8_t b[5];

	for (o = ctrl_next(c, NULL); o; o = ctrl_next(c, o)) {
		if (o == c)
			continue;
		for (idx = -1; idx < SIM_ADV_SETS; idx++) {
			if (!ctrl_adv(o, idx, &v) || v.type != 0x00)
				continue;
			if (c->le_conn_filter ? !al_has(c, v.atype, &v.addr) :
			    (!bdaddr_eq(&v.addr, &c->le_peer) ||
			     v.atype != (c->le_peer_type & 0x01)))
				continue;
			if (conn_by_addr(c, &v.addr, true, -1))
				continue;
			cn = conn_alloc_addr(c, &v.addr, true);
			pn = cn ? conn_alloc_addr(o, &c->le_ia, true) : NULL;
			if (!pn) {
				if (cn)
					conn_free_slot(cn);
				return false;
			}
			c->le_connecting = false;
			cn->peer = pn;
			pn->peer = cn;
			cn->role = 0;
			pn->role = 1;
			cn->addr_type = v.atype;
			pn->addr_type = c->le_iat;
			cn->interval = pn->interval = c->le_int;
			cn->latency = pn->latency = c->le_lat;
			cn->timeout = pn->timeout = c->le_to;
			conn_open(cn, &c->le_ia, c->le_iat);
			conn_open(pn, &c->le_ia, c->le_iat);
			if (idx < 0)
				o->adv_enabled = false;
			else
				o->sets[idx].enabled = false;
			le_conn_complete(c, 0, cn, v.atype, &v.addr);
			le_conn_complete(o, 0, pn, c->le_iat, &c->le_ia);
			if (idx >= 0) {
				b[0] = 0;
				b[1] = (uint8_t)idx;
				put_le16(b + 2, pn->handle);
				b[4] = 0;
				le_evt(o, HCI_LE_EV_ADV_SET_TERMINATED, b, 5);
			}
			return true;
		}
	}
	return false;
}

static void job_le_conn(struct sim_ctrl *c, struct sim_job *j)
{
	struct sim_rd *rd;
	struct sim_conn *cn;

	(void)j;
	if (!c->le_connecting)
		return;
	if (le_connect_ctrl(c))
		return;
	rd = le_target(c);
	if (!rd) {
		/* Keep initiating until cancelled: look again later, for
		 * a controller may start advertising. */
		job_new(c, JOB_LE_CONN, T_SCAN_TICK, 0xffff);
		return;
	}
	cn = conn_alloc(c, rd, true);
	if (!cn)
		return;
	c->le_connecting = false;
	cn->interval = c->le_int;
	cn->latency = c->le_lat;
	cn->timeout = c->le_to;
	conn_open(cn, &c->le_ia, c->le_iat);
	le_conn_complete(c, 0, cn, rd->cfg->addr_type, &rd->cfg->addr);
}

static void job_fire(struct loop_timer *t, void *user)
{
	struct sim_job *j = user;
	struct sim_ctrl *c = j->c;

	(void)t;
	c->running = j;
	switch (j->kind) {
	case JOB_EVT:
		out_push(c, j->data, j->len);
		break;
	case JOB_INQ_RESULT:
		job_inq_result(c, j);
		break;
	case JOB_INQ_DONE:
		if (c->inquiry)
			inquiry_done(c);
		break;
	case JOB_NAME:
		job_name(c, j);
		break;
	case JOB_PAGE:
		job_page(c, j);
		break;
	case JOB_CONN_REQ:
		job_conn_req(c, j);
		break;
	case JOB_ACCEPT_TIMEOUT:
		job_accept_timeout(c, j);
		break;
	case JOB_LE_CONN:
		job_le_conn(c, j);
		break;
	case JOB_SCAN_TICK:
		job_scan_tick(c, j);
		break;
	case JOB_SCAN_TIMEOUT:
		scan_stop(c);
		le_evt(c, HCI_LE_EV_SCAN_TIMEOUT, NULL, 0);
		break;
	case JOB_ACL:
		acl_deliver(c, j);
		break;
	}
	/* The handler may have cancelled this very job: job_unlink left it
	 * to us. Unlink (a no-op if gone) and free it now. */
	job_unlink(j);
	c->running = NULL;
	loop_timer_free(j->t);
	free(j);
}

/* ------------------------------------------------------------ commands */

struct cmd {
	uint16_t op;
	const uint8_t *p;	/* parameters, plen bytes, already bounded */
	uint8_t plen;
};

typedef void (*cmd_fn)(struct sim_ctrl *c, const struct cmd *x);

struct cmd_def {
	uint16_t op;
	uint8_t octet, bit;	/* Supported_Commands (Vol 4 Part E 6.27) */
	int16_t plen;		/* fixed parameter length, -1: handler checks */
	bool status_first;	/* answered by Command Status (else Complete) */
	cmd_fn fn;
};

static void bad_params(struct sim_ctrl *c, const struct cmd *x, bool cs)
{
	if (cs)
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
	else
		reply_status(c, x->op, HCI_ST_INVALID_PARAMETERS);
}

static void cc_status_handle(struct sim_ctrl *c, uint16_t op, uint8_t st,
			     uint16_t h)
{
	uint8_t b[3] = { st, (uint8_t)h, (uint8_t)(h >> 8) };

	reply_cc(c, op, b, 3);
}

static void cc_status_addr(struct sim_ctrl *c, uint16_t op, uint8_t st,
			   const uint8_t *a)
{
	uint8_t b[7];

	b[0] = st;
	memcpy(b + 1, a, 6);
	reply_cc(c, op, b, 7);
}

static void supported_commands(uint8_t out[64]);

/* ---- informational (7.4) ---- */

static void c_read_version(struct sim_ctrl *c, const struct cmd *x)
{
	/* HCI/LMP 5.0 (0x09), manufacturer 0x05f1 (The Linux Foundation),
	 * identical on every read: the host captures it once (notes §1.1). */
	uint8_t b[9] = { 0, 0x09, 0x00, 0x01, 0x09, 0xf1, 0x05, 0x00, 0x00 };

	reply_cc(c, x->op, b, sizeof(b));
}

static void c_read_commands(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[65];

	b[0] = 0;
	supported_commands(b + 1);
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_read_features(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[9];

	b[0] = 0;
	memcpy(b + 1, local_features, 8);
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_read_ext_features(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[11] = { 0 };

	b[1] = x->p[0];
	b[2] = 1;	/* max page */
	if (x->p[0] == 0)
		memcpy(b + 3, local_features, 8);
	else if (x->p[0] == 1)
		host_features(c, b + 3);
	else
		b[0] = HCI_ST_INVALID_PARAMETERS;
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_read_buffer_size(struct sim_ctrl *c, const struct cmd *x)
{
	const struct sim_opts *o = sim_air_opts(c->air);
	uint8_t b[8];

	b[0] = 0;
	put_le16(b + 1, o->acl_mtu);
	b[3] = 0;		/* no SCO */
	put_le16(b + 4, o->acl_pkts);
	put_le16(b + 6, 0);
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_read_bd_addr(struct sim_ctrl *c, const struct cmd *x)
{
	cc_status_addr(c, x->op, 0, c->addr.b);
}

/* ---- controller and baseband (7.3) ---- */

static void c_reset(struct sim_ctrl *c, const struct cmd *x)
{
	defaults(c);
	reply_status(c, x->op, 0);
}

static void c_set_event_mask(struct sim_ctrl *c, const struct cmd *x)
{
	memcpy(x->op == HCI_OP_SET_EVENT_MASK ? c->evmask :
	       x->op == HCI_OP_SET_EVENT_MASK_PAGE_2 ? c->evmask2 : c->le_evmask,
	       x->p, 8);
	reply_status(c, x->op, 0);
}

static void c_set_event_filter(struct sim_ctrl *c, const struct cmd *x)
{
	/* Only Clear All Filters (type 0x00, 7.3.3) is simulated. */
	if (x->plen < 1)
		bad_params(c, x, false);
	else if (x->p[0] != 0x00)
		reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
	else if (x->plen != 1)
		bad_params(c, x, false);
	else
		reply_status(c, x->op, 0);
}

static void c_read_stored_link_key(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[5] = { 0 };	/* no key storage in the controller */

	if (x->p[6] > 1) {
		bad_params(c, x, false);
		return;
	}
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_delete_stored_link_key(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[3] = { 0 };

	if (x->p[6] > 1) {
		bad_params(c, x, false);
		return;
	}
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_write_local_name(struct sim_ctrl *c, const struct cmd *x)
{
	memcpy(c->name, x->p, SIM_NAME_MAX);
	reply_status(c, x->op, 0);
}

static void c_read_local_name(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[1 + SIM_NAME_MAX];

	b[0] = 0;
	memcpy(b + 1, c->name, SIM_NAME_MAX);
	reply_cc(c, x->op, b, sizeof(b));
}

/* Read/write pairs of a 16-bit setting with a valid range. */
static uint16_t *u16_setting(struct sim_ctrl *c, uint16_t op, uint16_t *lo,
			     uint16_t *hi)
{
	*lo = 0;
	*hi = 0xffff;
	switch (op) {
	case HCI_OP_READ_CONN_ACCEPT_TIMEOUT:
	case HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT:
		*lo = 0x0001;
		*hi = 0xb540;
		return &c->accept_timeout;
	case HCI_OP_READ_PAGE_TIMEOUT:
	case HCI_OP_WRITE_PAGE_TIMEOUT:
		*lo = 0x0001;
		return &c->page_timeout;
	case HCI_OP_READ_VOICE_SETTING:
	case HCI_OP_WRITE_VOICE_SETTING:
		*hi = 0x03ff;
		return &c->voice;
	case HCI_OP_READ_DEF_LINK_POLICY:
	case HCI_OP_WRITE_DEF_LINK_POLICY:
		/* Only policies for features we have: none (7.2.12). */
		*hi = 0x0000;
		return &c->def_policy;
	default:
		return NULL;
	}
}

static void c_read_u16(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t lo, hi, *v = u16_setting(c, x->op, &lo, &hi);
	uint8_t b[3] = { 0, (uint8_t)*v, (uint8_t)(*v >> 8) };

	reply_cc(c, x->op, b, 3);
}

static void c_write_u16(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t lo, hi, *v = u16_setting(c, x->op, &lo, &hi);
	uint16_t n = get_le16(x->p);

	if (x->op == HCI_OP_WRITE_DEF_LINK_POLICY && n) {
		/* Role switch, hold, sniff and park are not among our LMP
		 * features, so no policy may enable them (7.2.12). */
		reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (x->op != HCI_OP_WRITE_DEF_LINK_POLICY && (n < lo || n > hi)) {
		bad_params(c, x, false);
		return;
	}
	*v = n;
	reply_status(c, x->op, 0);
}

/* Read/write pairs of an 8-bit setting. */
static uint8_t *u8_setting(struct sim_ctrl *c, uint16_t op, uint8_t *hi)
{
	switch (op) {
	case HCI_OP_READ_SCAN_ENABLE:
	case HCI_OP_WRITE_SCAN_ENABLE:
		*hi = 3;
		return &c->scan_enable;
	case HCI_OP_READ_AUTH_ENABLE:
	case HCI_OP_WRITE_AUTH_ENABLE:
		*hi = 1;
		return &c->auth_enable;
	case HCI_OP_READ_INQUIRY_MODE:
	case HCI_OP_WRITE_INQUIRY_MODE:
		*hi = 2;
		return &c->inq_mode;
	case HCI_OP_READ_PAGE_SCAN_TYPE:
	case HCI_OP_WRITE_PAGE_SCAN_TYPE:
		*hi = 1;
		return &c->ps_type;
	case HCI_OP_READ_INQUIRY_SCAN_TYPE:
	case HCI_OP_WRITE_INQUIRY_SCAN_TYPE:
		*hi = 1;
		return &c->is_type;
	case HCI_OP_READ_SIMPLE_PAIRING_MODE:
	case HCI_OP_WRITE_SIMPLE_PAIRING_MODE:
		*hi = 1;
		return &c->ssp_mode;
	default:
		return NULL;
	}
}

static void c_read_u8(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t hi = 0, *v = u8_setting(c, x->op, &hi);
	uint8_t b[2] = { 0, *v };

	reply_cc(c, x->op, b, 2);
}

static void c_write_u8(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t hi = 0, *v = u8_setting(c, x->op, &hi);

	if (x->p[0] > hi) {
		bad_params(c, x, false);
		return;
	}
	*v = x->p[0];
	reply_status(c, x->op, 0);
	if (x->op == HCI_OP_WRITE_SCAN_ENABLE && (c->scan_enable & 0x02))
		connect_in_arm(c);
}

static void c_read_activity(struct sim_ctrl *c, const struct cmd *x)
{
	bool page = x->op == HCI_OP_READ_PAGE_SCAN_ACTIVITY;
	uint8_t b[5];

	b[0] = 0;
	put_le16(b + 1, page ? c->ps_int : c->is_int);
	put_le16(b + 3, page ? c->ps_win : c->is_win);
	reply_cc(c, x->op, b, 5);
}

static void c_write_activity(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t iv = get_le16(x->p), win = get_le16(x->p + 2);

	/* Ranges of 7.3.20 / 7.3.22. */
	if (iv < 0x0012 || iv > 0x1000 || win < 0x0011 || win > iv) {
		bad_params(c, x, false);
		return;
	}
	if (x->op == HCI_OP_WRITE_PAGE_SCAN_ACTIVITY) {
		c->ps_int = iv;
		c->ps_win = win;
	} else {
		c->is_int = iv;
		c->is_win = win;
	}
	reply_status(c, x->op, 0);
}

static void c_read_cod(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[4] = { 0, (uint8_t)c->cod, (uint8_t)(c->cod >> 8),
			 (uint8_t)(c->cod >> 16) };

	reply_cc(c, x->op, b, 4);
}

static void c_write_cod(struct sim_ctrl *c, const struct cmd *x)
{
	c->cod = (uint32_t)x->p[0] | (uint32_t)x->p[1] << 8 |
		 (uint32_t)x->p[2] << 16;
	reply_status(c, x->op, 0);
}

static void c_read_num_iac(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[2] = { 0, 2 };

	reply_cc(c, x->op, b, 2);
}

static void c_read_iac_lap(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[5] = { 0, 1, (uint8_t)c->iac_lap, (uint8_t)(c->iac_lap >> 8),
			 (uint8_t)(c->iac_lap >> 16) };

	reply_cc(c, x->op, b, 5);
}

static bool lap_ok(uint32_t lap)
{
	return lap >= 0x9e8b00 && lap <= 0x9e8b3f;	/* 7.3.45 */
}

static void c_write_iac_lap(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t n, i;

	if (x->plen < 1 || x->p[0] < 1 || x->p[0] > 2 ||
	    x->plen != 1 + 3 * x->p[0]) {
		bad_params(c, x, false);
		return;
	}
	n = x->p[0];
	for (i = 0; i < n; i++) {
		const uint8_t *l = x->p + 1 + 3 * i;

		if (!lap_ok((uint32_t)l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16)) {
			bad_params(c, x, false);
			return;
		}
	}
	c->iac_lap = (uint32_t)x->p[1] | (uint32_t)x->p[2] << 8 | (uint32_t)x->p[3] << 16;
	reply_status(c, x->op, 0);
}

static void c_write_eir(struct sim_ctrl *c, const struct cmd *x)
{
	if (x->p[0] > 1) {
		bad_params(c, x, false);
		return;
	}
	c->eir_fec = x->p[0];
	memcpy(c->eir, x->p + 1, SIM_EIR_MAX);
	reply_status(c, x->op, 0);
}

static void c_read_eir(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[2 + SIM_EIR_MAX];

	b[0] = 0;
	b[1] = c->eir_fec;
	memcpy(b + 2, c->eir, SIM_EIR_MAX);
	reply_cc(c, x->op, b, sizeof(b));
}

static void c_read_inq_tx(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[2] = { 0, 0x00 };	/* 0 dBm */

	reply_cc(c, x->op, b, 2);
}

static void c_write_le_host(struct sim_ctrl *c, const struct cmd *x)
{
	if (x->p[0] > 1 || x->p[1] > 1) {
		bad_params(c, x, false);
		return;
	}
	c->le_host = x->p[0];
	c->simul = x->p[1];
	reply_status(c, x->op, 0);
}

static void c_read_le_host(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[3] = { 0, c->le_host, c->simul };

	reply_cc(c, x->op, b, 3);
}

/* ---- status parameters (7.5) on a connection ---- */

static void c_read_rssi(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = conn_by_handle(c, get_le16(x->p));
	uint8_t b[4];

	b[0] = cn ? 0 : HCI_ST_UNKNOWN_CONN_ID;
	put_le16(b + 1, get_le16(x->p));
	b[3] = cn ? (uint8_t)jitter(c, cn->rd ? cn->rd->cfg->rssi : -40) : 0;
	reply_cc(c, x->op, b, 4);
}

static void c_read_enc_key_size(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = conn_by_handle(c, get_le16(x->p));
	uint8_t b[4];

	b[0] = !cn ? HCI_ST_UNKNOWN_CONN_ID :
	       !cn->encrypted ? HCI_ST_INSUFFICIENT_SECURITY : 0;
	put_le16(b + 1, get_le16(x->p));
	b[3] = 16;
	reply_cc(c, x->op, b, 4);
}

/* ---- link control (7.1) ---- */

static void c_inquiry(struct sim_ctrl *c, const struct cmd *x)
{
	uint32_t lap = (uint32_t)x->p[0] | (uint32_t)x->p[1] << 8 |
		       (uint32_t)x->p[2] << 16;
	uint8_t len = x->p[3];
	size_t i, k = 0, n = sim_air_rd_count(c->air);
	uint64_t total;
	struct sim_ctrl *o;
	struct sim_job *j;

	if (c->inquiry) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (!lap_ok(lap) || len < 0x01 || len > 0x30) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	reply_cs(c, x->op, 0);
	c->inquiry = true;
	c->inq_max = x->p[4];
	c->inq_count = 0;
	total = (uint64_t)len * INQ_UNIT;
	/* Responses spread over the inquiry; the limited inquiry access
	 * code (LIAC) reaches nobody here: no RD is limited discoverable. */
	for (i = 0; i < n && lap == 0x9e8b33; i++) {
		struct sim_rd *rd = sim_air_rd(c->air, i);
		uint64_t at = T_INQ_FIRST + k * T_INQ_STEP;

		if (!(rd->cfg->tech & SIM_TECH_BREDR) || !rd->cfg->discoverable)
			continue;
		if (at >= total)
			at = total - 1;
		j = job_new(c, JOB_INQ_RESULT, at, 0xffff);
		if (j)
			j->idx = i;
		k++;
	}
	for (o = ctrl_next(c, NULL); o && lap == 0x9e8b33;
	     o = ctrl_next(c, o)) {
		uint64_t at = T_INQ_FIRST + k * T_INQ_STEP;

		if (o == c || !ctrl_is_inquiry_scan(o))
			continue;
		if (at >= total)
			at = total - 1;
		j = job_new(c, JOB_INQ_RESULT, at, 0xffff);
		if (j) {
			j->idx = SIZE_MAX;
			j->addr = o->addr;
		}
		k++;
	}
	job_new(c, JOB_INQ_DONE, total, 0xffff);
}

static void c_inquiry_cancel(struct sim_ctrl *c, const struct cmd *x)
{
	if (!c->inquiry) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	/* No Inquiry Complete after a cancel (7.1.2). */
	c->inquiry = false;
	jobs_cancel(c, JOB_INQ_RESULT, 0xffff);
	jobs_cancel(c, JOB_INQ_DONE, 0xffff);
	reply_status(c, x->op, 0);
}

static void c_remote_name(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	struct sim_rd *rd;
	struct sim_job *j;
	bool reach;
	struct sim_ctrl *o;

	memcpy(a.b, x->p, 6);
	if (job_find(c, JOB_NAME, &a)) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	reply_cs(c, x->op, 0);
	rd = sim_air_find_rd(c->air, &a);
	reach = rd_pageable(rd);
	for (o = ctrl_next(c, NULL); o && !reach; o = ctrl_next(c, o))
		reach = o != c && bdaddr_eq(&o->addr, &a) && (o->scan_enable & 0x02);
	/* A device that does not answer pages costs the page timeout. */
	j = job_new(c, JOB_NAME, reach ? T_PAGE :
		    (uint64_t)c->page_timeout * SLOT_US, 0xffff);
	if (j)
		j->addr = a;
}

static void c_remote_name_cancel(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	struct sim_job *j;

	memcpy(a.b, x->p, 6);
	j = job_find(c, JOB_NAME, &a);
	if (!j) {
		cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, a.b);
		return;
	}
	job_unlink(j);
	cc_status_addr(c, x->op, 0, a.b);
	name_complete(c, HCI_ST_UNKNOWN_CONN_ID, &a, NULL);
}

static void c_create_conn(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	struct sim_rd *rd;
	struct sim_conn *cn;
	struct sim_job *j;
	bool reach;

	memcpy(a.b, x->p, 6);
	if (conn_by_addr(c, &a, false, -1)) {
		reply_cs(c, x->op, HCI_ST_CONN_ALREADY_EXISTS);
		return;
	}
	rd = sim_air_find_rd(c->air, &a);
	reach = rd_pageable(rd);
	if (!rd) {
		if (page_ctrl(c, x->op, &a))
			return;
		/* Nobody there: the page times out. */
		reply_cs(c, x->op, 0);
		later_evt(c, (uint64_t)c->page_timeout * SLOT_US, 0xffff,
			  HCI_EV_CONN_COMPLETE,
			  (uint8_t[11]){ HCI_ST_PAGE_TIMEOUT, 0, 0, a.b[0], a.b[1],
					 a.b[2], a.b[3], a.b[4], a.b[5], 0x01, 0 }, 11);
		return;
	}
	cn = conn_alloc(c, rd, false);
	if (!cn) {
		reply_cs(c, x->op, HCI_ST_CONN_LIMIT_EXCEEDED);
		return;
	}
	cn->state = CONN_PAGING;
	cn->pkt_type = get_le16(x->p + 6);
	reply_cs(c, x->op, 0);
	j = job_new(c, JOB_PAGE, reach ? T_PAGE : (uint64_t)c->page_timeout * SLOT_US,
		    0xffff);
	if (j) {
		j->addr = a;
		j->idx = reach ? 0 : 1;
	}
}

static void c_create_conn_cancel(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	struct sim_conn *cn;
	struct sim_job *j;

	memcpy(a.b, x->p, 6);
	cn = conn_by_addr(c, &a, false, CONN_PAGING);
	if (!cn) {
		cc_status_addr(c, x->op, conn_by_addr(c, &a, false, CONN_OPEN) ?
			       HCI_ST_CONN_ALREADY_EXISTS : HCI_ST_UNKNOWN_CONN_ID, a.b);
		return;
	}
	while ((j = job_find(c, JOB_PAGE, &a)))
		job_unlink(j);
	if (cn->peer) {
		/* The paged controller's pending request ends too. */
		conn_complete(cn->peer->c, HCI_ST_UNKNOWN_CONN_ID, 0, &cn->peer->addr);
		conn_free_slot(cn->peer);
	}
	conn_free_slot(cn);
	cc_status_addr(c, x->op, 0, a.b);
	conn_complete(c, HCI_ST_UNKNOWN_CONN_ID, 0, &a);
}

static void c_accept_conn(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	struct sim_conn *cn;
	struct sim_job *j;

	memcpy(a.b, x->p, 6);
	cn = conn_by_addr(c, &a, false, CONN_INCOMING);
	if (!cn || x->p[6] > 1) {
		reply_cs(c, x->op, cn ? HCI_ST_INVALID_PARAMETERS : HCI_ST_UNKNOWN_CONN_ID);
		return;
	}
	while ((j = job_find(c, JOB_ACCEPT_TIMEOUT, &a)))
		job_unlink(j);
	cn->state = CONN_ACCEPTED;
	reply_cs(c, x->op, 0);
	j = job_new(c, JOB_PAGE, T_RESPONSE, 0xffff);
	if (j)
		j->addr = a;
}

static void c_reject_conn(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	struct sim_conn *cn, *p;
	struct sim_job *j;
	uint8_t reason = x->p[6];

	memcpy(a.b, x->p, 6);
	cn = conn_by_addr(c, &a, false, CONN_INCOMING);
	if (!cn) {
		reply_cs(c, x->op, HCI_ST_UNKNOWN_CONN_ID);
		return;
	}
	if (reason < 0x0d || reason > 0x0f) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	while ((j = job_find(c, JOB_ACCEPT_TIMEOUT, &a)))
		job_unlink(j);
	p = cn->peer;
	conn_free_slot(cn);
	reply_cs(c, x->op, 0);
	conn_complete(c, reason, 0, &a);
	if (p) {
		conn_complete(p->c, reason, 0, &p->addr);
		conn_free_slot(p);
	}
}

static bool disc_reason_ok(uint8_t r)
{
	/* Vol 4 Part E 7.1.6 */
	return r == 0x05 || r == 0x13 || r == 0x14 || r == 0x15 ||
	       r == 0x1a || r == 0x29 || r == 0x3b;
}

static void c_disconnect(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t h = get_le16(x->p);
	struct sim_conn *cn = conn_by_handle(c, h);
	uint8_t b[4];

	if (!cn) {
		reply_cs(c, x->op, HCI_ST_UNKNOWN_CONN_ID);
		return;
	}
	if (!disc_reason_ok(x->p[2])) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	reply_cs(c, x->op, 0);
	if (cn->peer) {
		/* The other controller's host learns the reason (7.7.5). */
		struct sim_conn *p = cn->peer;

		b[0] = 0;
		put_le16(b + 1, p->handle);
		b[3] = x->p[2];
		later_evt(p->c, T_RESPONSE, 0xffff, HCI_EV_DISCONN_COMPLETE, b, 4);
		conn_free_slot(p);
	}
	conn_free_slot(cn);
	b[0] = 0;
	put_le16(b + 1, h);
	b[3] = HCI_ST_LOCAL_HOST_TERM;
	later_evt(c, T_RESPONSE, 0xffff, HCI_EV_DISCONN_COMPLETE, b, 4);
}

/* A command on a BR/EDR (le=false) or LE (le=true) handle, or an error CS. */
static struct sim_conn *cs_conn(struct sim_ctrl *c, const struct cmd *x, int le)
{
	struct sim_conn *cn = conn_by_handle(c, get_le16(x->p));

	if (!cn) {
		reply_cs(c, x->op, HCI_ST_UNKNOWN_CONN_ID);
		return NULL;
	}
	if (le >= 0 && cn->le != (bool)le) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return NULL;
	}
	return cn;
}

static void c_remote_features(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 0);
	uint8_t b[11];

	if (!cn)
		return;
	reply_cs(c, x->op, 0);
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	conn_features(cn, 0, b + 3);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_REMOTE_FEATURES, b, 11);
}

static void c_remote_ext_features(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 0);
	uint8_t b[13];

	if (!cn)
		return;
	reply_cs(c, x->op, 0);
	b[0] = x->p[2] > 1 ? HCI_ST_INVALID_PARAMETERS : 0;
	put_le16(b + 1, cn->handle);
	b[3] = x->p[2];
	b[4] = 1;
	conn_features(cn, x->p[2], b + 5);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_REMOTE_EXT_FEATURES, b, 13);
}

static void c_remote_version(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, -1);
	uint8_t b[8];

	if (!cn)
		return;
	reply_cs(c, x->op, 0);
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	b[3] = 0x09;
	put_le16(b + 4, 0x05f1);
	put_le16(b + 6, 0x0000);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_REMOTE_VERSION, b, 8);
}

static void c_clock_offset(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 0);
	uint8_t b[5];

	if (!cn)
		return;
	reply_cs(c, x->op, 0);
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	put_le16(b + 3, 0x0000);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_CLOCK_OFFSET, b, 5);
}

static void c_change_ptype(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 0);
	uint8_t b[5];

	if (!cn)
		return;
	reply_cs(c, x->op, 0);
	cn->pkt_type = get_le16(x->p + 2);
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	put_le16(b + 3, cn->pkt_type);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_PKT_TYPE_CHANGE, b, 5);
}

/* ---- BR/EDR security: Secure Simple Pairing, Just Works (Vol 2 Part F 4.2) ---- */

static struct sim_conn *auth_conn(struct sim_ctrl *c, const uint8_t *a,
				  enum auth_state st)
{
	struct bdaddr ba;
	struct sim_conn *cn;

	memcpy(ba.b, a, 6);
	cn = conn_by_addr(c, &ba, false, CONN_OPEN);
	return cn && cn->auth == st ? cn : NULL;
}

static void auth_complete(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	uint8_t b[3];

	cn->auth = AUTH_NONE;
	cn->authenticated = st == 0;
	b[0] = st;
	put_le16(b + 1, cn->handle);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_AUTH_COMPLETE, b, 3);
}

static void c_auth_requested(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 0);

	if (!cn)
		return;
	if (!cn->rd) {
		/* Pairing between two simulated controllers is not
		 * simulated: refused, never faked. */
		reply_cs(c, x->op, HCI_ST_UNSUPPORTED_REMOTE_FEATURE);
		return;
	}
	if (cn->auth != AUTH_NONE) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	reply_cs(c, x->op, 0);
	cn->auth = AUTH_WAIT_KEY;
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_LINK_KEY_REQ,
		  cn->addr.b, 6);
}

static void c_link_key_reply(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_KEY);
	struct sim_bond *b;

	if (!cn) {
		cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	cc_status_addr(c, x->op, 0, x->p);
	b = sim_rd_bond(cn->rd, &c->addr, false);
	if (!b || !b->has_lk)
		auth_complete(c, cn, HCI_ST_PIN_OR_KEY_MISSING);
	else if (memcmp(b->lk, x->p + 6, 16))
		auth_complete(c, cn, HCI_ST_AUTH_FAILURE);
	else
		auth_complete(c, cn, 0);
}

static void c_link_key_neg(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_KEY);

	if (!cn) {
		cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	cc_status_addr(c, x->op, 0, x->p);
	if (c->ssp_mode) {
		cn->auth = AUTH_WAIT_IOCAP;
		later_evt(c, T_RESPONSE, cn->handle, HCI_EV_IO_CAPA_REQUEST, x->p, 6);
	} else {
		cn->auth = AUTH_WAIT_PIN;
		later_evt(c, T_RESPONSE, cn->handle, HCI_EV_PIN_CODE_REQ, x->p, 6);
	}
}

static void pairing_done(struct sim_ctrl *c, struct sim_conn *cn, uint8_t type)
{
	struct sim_bond *b = sim_rd_bond(cn->rd, &c->addr, true);
	uint8_t ev[23];

	sim_air_rand_bytes(c->air, b->lk, 16);
	b->has_lk = true;
	memcpy(ev, cn->addr.b, 6);
	memcpy(ev + 6, b->lk, 16);
	ev[22] = type;
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_LINK_KEY_NOTIFY, ev, 23);
	auth_complete(c, cn, 0);
}

static void c_io_cap_reply(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_IOCAP);
	uint8_t ev[10];

	if (!cn) {
		cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	if (x->p[6] > 3 || x->p[7] > 1 || x->p[8] > 5) {
		cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, x->p);
		return;
	}
	cc_status_addr(c, x->op, 0, x->p);
	/* The RD: NoInputNoOutput, no OOB, general bonding without MITM. */
	memcpy(ev, x->p, 6);
	ev[6] = 0x03;
	ev[7] = 0x00;
	ev[8] = 0x04;
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_IO_CAPA_RESPONSE, ev, 9);
	memcpy(ev, x->p, 6);
	put_le32(ev + 6, sim_air_rand(c->air) % 1000000);
	cn->auth = AUTH_WAIT_CONFIRM;
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_USER_CONFIRM_REQUEST, ev, 10);
}

static void ssp_fail(struct sim_ctrl *c, struct sim_conn *cn, uint8_t st)
{
	uint8_t ev[7];

	ev[0] = st;
	memcpy(ev + 1, cn->addr.b, 6);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_SIMPLE_PAIR_COMPLETE, ev, 7);
	auth_complete(c, cn, st);
}

static void c_io_cap_neg(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_IOCAP);

	if (!cn) {
		cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	cc_status_addr(c, x->op, 0, x->p);
	ssp_fail(c, cn, x->p[6] ? x->p[6] : HCI_ST_PAIRING_NOT_ALLOWED);
}

static void c_user_confirm(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_CONFIRM);
	uint8_t ev[7];

	if (!cn) {
		cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	cc_status_addr(c, x->op, 0, x->p);
	if (x->op == HCI_OP_USER_CONFIRM_NEG_REPLY) {
		ssp_fail(c, cn, HCI_ST_AUTH_FAILURE);
		return;
	}
	ev[0] = 0;
	memcpy(ev + 1, x->p, 6);
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_SIMPLE_PAIR_COMPLETE, ev, 7);
	pairing_done(c, cn, 0x04);	/* unauthenticated combination, P-192 */
}

static void c_pin_reply(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = auth_conn(c, x->p, AUTH_WAIT_PIN);

	if (!cn) {
		cc_status_addr(c, x->op, HCI_ST_COMMAND_DISALLOWED, x->p);
		return;
	}
	if (x->op == HCI_OP_PIN_CODE_REPLY && (x->p[6] < 1 || x->p[6] > 16)) {
		cc_status_addr(c, x->op, HCI_ST_INVALID_PARAMETERS, x->p);
		return;
	}
	cc_status_addr(c, x->op, 0, x->p);
	if (x->op == HCI_OP_PIN_CODE_NEG_REPLY)
		auth_complete(c, cn, HCI_ST_PIN_OR_KEY_MISSING);
	else
		pairing_done(c, cn, 0x00);	/* combination key */
}

static void c_set_conn_encrypt(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 0);
	uint8_t b[4];

	if (!cn)
		return;
	if (x->p[2] > 1) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	/* Encryption needs a link key: authenticate first (7.1.16). */
	if (!cn->authenticated) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	reply_cs(c, x->op, 0);
	cn->encrypted = x->p[2];
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	b[3] = x->p[2];
	later_evt(c, T_RESPONSE, cn->handle, HCI_EV_ENCRYPT_CHANGE, b, 4);
}

/* ---- LE (7.8) ---- */

static void c_le_read_buffer_size(struct sim_ctrl *c, const struct cmd *x)
{
	const struct sim_opts *o = sim_air_opts(c->air);
	uint8_t b[4];

	b[0] = 0;
	put_le16(b + 1, o->le_mtu);
	b[3] = o->le_pkts;
	reply_cc(c, x->op, b, 4);
}

static void c_le_read_features(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[9];

	b[0] = 0;
	memcpy(b + 1, le_features, 8);
	reply_cc(c, x->op, b, 9);
}

static void c_le_read_states(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[9] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03, 0, 0 };

	reply_cc(c, x->op, b, 9);
}

static void c_le_set_random_addr(struct sim_ctrl *c, const struct cmd *x)
{
	/* Not while legacy advertising or scanning (Vol 4 Part E 7.8.4). */
	if (c->adv_enabled || c->scanning) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	memcpy(c->random_addr.b, x->p, 6);
	c->random_set = true;
	reply_status(c, x->op, 0);
}

static void c_le_adv_params(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t mn = get_le16(x->p), mx = get_le16(x->p + 2);
	uint8_t type = x->p[4];

	if (c->adv_enabled) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (type > 4 || x->p[5] > 3 || x->p[6] > 1 || (x->p[13] & ~0x07) ||
	    !x->p[13] || x->p[14] > 3 ||
	    (type != 0x01 && (mn < 0x0020 || mx > 0x4000 || mn > mx))) {
		bad_params(c, x, false);
		return;
	}
	c->adv_type = type;
	c->adv_own = x->p[5];
	reply_status(c, x->op, 0);
}

static void c_le_adv_tx_power(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[2] = { 0, 0 };

	reply_cc(c, x->op, b, 2);
}

static void c_le_adv_data(struct sim_ctrl *c, const struct cmd *x)
{
	bool rsp = x->op == HCI_OP_LE_SET_SCAN_RSP_DATA;

	if (x->p[0] > SIM_ADV_MAX) {
		bad_params(c, x, false);
		return;
	}
	memcpy(rsp ? c->rsp : c->adv, x->p + 1, x->p[0]);
	*(rsp ? &c->rsp_len : &c->adv_len) = x->p[0];
	reply_status(c, x->op, 0);
}

static void c_le_adv_enable(struct sim_ctrl *c, const struct cmd *x)
{
	if (x->p[0] > 1) {
		bad_params(c, x, false);
		return;
	}
	c->adv_enabled = x->p[0];
	reply_status(c, x->op, 0);
}

static void c_le_scan_params(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t iv = get_le16(x->p + 1), win = get_le16(x->p + 3);

	if (c->scanning) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	/* Ranges of 7.8.10. */
	if (x->p[0] > 1 || iv < 4 || iv > 0x4000 || win < 4 || win > iv ||
	    x->p[5] > 3 || x->p[6] > 3) {
		bad_params(c, x, false);
		return;
	}
	c->scan_type = x->p[0];
	c->scan_int = iv;
	c->scan_win = win;
	c->scan_own = x->p[5];
	c->scan_filter = x->p[6];
	reply_status(c, x->op, 0);
}

static bool own_addr_ok(const struct sim_ctrl *c, uint8_t own)
{
	/* A random own address must have been set (7.8.5, 7.8.10). */
	return own <= 3 && (!(own & 0x01) || c->random_set);
}

static void c_le_scan_enable(struct sim_ctrl *c, const struct cmd *x)
{
	if (x->p[0] > 1 || x->p[1] > 1) {
		bad_params(c, x, false);
		return;
	}
	if (x->p[0] && !c->scanning && !own_addr_ok(c, c->scan_own)) {
		bad_params(c, x, false);
		return;
	}
	reply_status(c, x->op, 0);
	c->scan_ext = false;
	if (x->p[0])
		scan_start(c, x->p[1], 0);
	else
		scan_stop(c);
}

static void c_le_ext_scan_params(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t phys, i;

	if (x->plen < 3) {
		bad_params(c, x, false);
		return;
	}
	phys = x->p[2];
	if (c->scanning) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (phys & ~0x05) {
		reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (phys & 0x04) {
		/* LE Coded is not in our LE features (7.8.64). */
		reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (!phys || x->plen != 3 + 5 || x->p[0] > 3 || x->p[1] > 3) {
		bad_params(c, x, false);
		return;
	}
	for (i = 0; i < 1; i++) {
		const uint8_t *q = x->p + 3 + 5 * i;
		uint16_t iv = get_le16(q + 1), win = get_le16(q + 3);

		if (q[0] > 1 || iv < 4 || win < 4 || win > iv) {
			bad_params(c, x, false);
			return;
		}
		c->scan_type = q[0];
		c->scan_int = iv;
		c->scan_win = win;
	}
	c->scan_own = x->p[0];
	c->scan_filter = x->p[1];
	reply_status(c, x->op, 0);
}

static void c_le_ext_scan_enable(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t duration = get_le16(x->p + 2), period = get_le16(x->p + 4);

	if (x->p[0] > 1 || x->p[1] > 2) {
		bad_params(c, x, false);
		return;
	}
	if (x->p[0] && period) {
		/* Periodic scanning (period != 0) is not simulated. */
		reply_status(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	if (x->p[0] && !c->scanning && !own_addr_ok(c, c->scan_own)) {
		bad_params(c, x, false);
		return;
	}
	reply_status(c, x->op, 0);
	c->scan_ext = true;
	if (x->p[0])
		scan_start(c, x->p[1] != 0, duration);
	else
		scan_stop(c);
}

static bool al_busy(const struct sim_ctrl *c)
{
	/* The list may not change while in use (Vol 4 Part E 7.8.16). */
	return (c->scanning && (c->scan_filter & 0x01)) ||
	       (c->le_connecting && c->le_conn_filter);
}

static void c_le_al_size(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[2] = { 0, SIM_ACCEPT_LIST };

	reply_cc(c, x->op, b, 2);
}

/* The accept-list entry for (type, addr), or -1. */
static int al_find(const struct sim_ctrl *c, uint8_t type, const struct bdaddr *a)
{
	size_t i;

	for (i = 0; i < c->nal; i++)
		if (c->al[i].type == type && bdaddr_eq(&c->al[i].addr, a))
			return (int)i;
	return -1;
}

static void c_le_al_clear(struct sim_ctrl *c, const struct cmd *x)
{
	if (al_busy(c)) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	c->nal = 0;
	reply_status(c, x->op, 0);
}

static void c_le_al_add(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;

	if (al_busy(c)) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (x->p[0] > 1 && x->p[0] != 0xff) {
		bad_params(c, x, false);
		return;
	}
	memcpy(a.b, x->p + 1, 6);
	if (al_find(c, x->p[0], &a) >= 0) {
		reply_status(c, x->op, 0);
		return;
	}
	if (c->nal >= SIM_ACCEPT_LIST) {
		reply_status(c, x->op, HCI_ST_MEMORY_EXCEEDED);
		return;
	}
	c->al[c->nal].type = x->p[0];
	c->al[c->nal].addr = a;
	c->nal++;
	reply_status(c, x->op, 0);
}

static void c_le_al_del(struct sim_ctrl *c, const struct cmd *x)
{
	struct bdaddr a;
	int i;

	if (al_busy(c)) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (x->p[0] > 1 && x->p[0] != 0xff) {
		bad_params(c, x, false);
		return;
	}
	memcpy(a.b, x->p + 1, 6);
	i = al_find(c, x->p[0], &a);
	if (i >= 0)
		c->al[i] = c->al[--c->nal];
	reply_status(c, x->op, 0);
}

/* Connection parameters of 7.8.12 / 7.8.66, checked the same way. */
static bool conn_params_ok(const uint8_t *q)
{
	uint16_t mn = get_le16(q), mx = get_le16(q + 2);
	uint16_t lat = get_le16(q + 4), to = get_le16(q + 6);

	if (mn < 0x0006 || mx > 0x0c80 || mn > mx || lat > 0x01f3 ||
	    to < 0x000a || to > 0x0c80)
		return false;
	/* Supervision timeout (10 ms) > (1 + latency) * interval * 2 (1.25 ms). */
	return (uint32_t)to * 4 > (1u + lat) * mx;
}

static void le_connect_start(struct sim_ctrl *c, const struct cmd *x,
			     uint8_t filter, uint8_t ptype, const uint8_t *peer,
			     uint8_t own, const uint8_t *q)
{
	c->le_connecting = true;
	c->le_conn_filter = filter;
	c->le_peer_type = ptype;
	memcpy(c->le_peer.b, peer, 6);
	if (own & 0x01) {
		c->le_ia = c->random_addr;
		c->le_iat = BDADDR_RANDOM;
	} else {
		c->le_ia = c->addr;
		c->le_iat = BDADDR_PUBLIC;
	}
	c->le_int = get_le16(q);
	c->le_lat = get_le16(q + 4);
	c->le_to = get_le16(q + 6);
	reply_cs(c, x->op, 0);
	job_new(c, JOB_LE_CONN, T_PAGE / 2, 0xffff);
}

static void c_le_create_conn(struct sim_ctrl *c, const struct cmd *x)
{
	const uint8_t *p = x->p;
	uint16_t si = get_le16(p), sw = get_le16(p + 2);

	if (c->le_connecting) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (si < 4 || si > 0x4000 || sw < 4 || sw > si || p[4] > 1 ||
	    p[5] > 3 || !own_addr_ok(c, p[12]) || !conn_params_ok(p + 13)) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	if (!p[4]) {
		struct bdaddr a;

		memcpy(a.b, p + 6, 6);
		if (conn_by_addr(c, &a, true, -1)) {
			reply_cs(c, x->op, HCI_ST_CONN_ALREADY_EXISTS);
			return;
		}
	}
	c->le_conn_ext = false;
	le_connect_start(c, x, p[4], p[5], p + 6, p[12], p + 13);
}

static void c_le_ext_create_conn(struct sim_ctrl *c, const struct cmd *x)
{
	const uint8_t *p = x->p, *q;
	uint8_t phys;
	unsigned i, n;

	if (x->plen < 10) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	phys = p[9];
	n = (unsigned)__builtin_popcount(phys & 0x07);
	if (c->le_connecting) {
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	if (phys & ~0x07 || !phys || x->plen != 10 + 16 * n) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	if (phys & 0x06) {
		/* Only LE 1M is simulated (LE features have no 2M/Coded). */
		reply_cs(c, x->op, HCI_ST_UNSUPPORTED_FEATURE);
		return;
	}
	for (i = 0; i < n; i++) {
		q = p + 10 + 16 * i;
		if (get_le16(q) < 4 || get_le16(q + 2) < 4 ||
		    get_le16(q + 2) > get_le16(q) || !conn_params_ok(q + 4)) {
			reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
			return;
		}
	}
	if (p[0] > 1 || p[2] > 3 || !own_addr_ok(c, p[1])) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	c->le_conn_ext = true;
	le_connect_start(c, x, p[0], p[2], p + 3, p[1], p + 14);
}

static void c_le_create_conn_cancel(struct sim_ctrl *c, const struct cmd *x)
{
	if (!c->le_connecting) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	c->le_connecting = false;
	jobs_cancel(c, JOB_LE_CONN, 0xffff);
	reply_status(c, x->op, 0);
	/* The initiator stops with Unknown Connection Identifier (7.8.13). */
	le_conn_complete(c, HCI_ST_UNKNOWN_CONN_ID, NULL, c->le_peer_type & 0x01,
			 &c->le_peer);
}

static void c_le_conn_update(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 1);
	uint8_t b[9];

	if (!cn)
		return;
	if (!conn_params_ok(x->p + 2)) {
		reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
		return;
	}
	reply_cs(c, x->op, 0);
	cn->interval = get_le16(x->p + 4);
	cn->latency = get_le16(x->p + 6);
	cn->timeout = get_le16(x->p + 8);
	b[0] = 0;
	put_le16(b + 1, cn->handle);
	put_le16(b + 3, cn->interval);
	put_le16(b + 5, cn->latency);
	put_le16(b + 7, cn->timeout);
	later_le_evt(c, T_RESPONSE * 6, cn->handle, HCI_LE_EV_CONN_UPDATE_COMPLETE, b, 9);
	if (cn->peer) {
		cn->peer->interval = cn->interval;
		cn->peer->latency = cn->latency;
		cn->peer->timeout = cn->timeout;
		put_le16(b + 1, cn->peer->handle);
		later_le_evt(cn->peer->c, T_RESPONSE * 6, cn->peer->handle,
			     HCI_LE_EV_CONN_UPDATE_COMPLETE, b, 9);
	}
}

static void c_le_remote_features(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 1);
	uint8_t b[11] = { 0 };

	if (!cn)
		return;
	reply_cs(c, x->op, 0);
	put_le16(b + 1, cn->handle);
	b[3] = 0x01;	/* the RD: LE encryption */
	later_le_evt(c, T_RESPONSE, cn->handle, HCI_LE_EV_REMOTE_FEATURES, b, 11);
}

static void c_le_start_enc(struct sim_ctrl *c, const struct cmd *x)
{
	struct sim_conn *cn = cs_conn(c, x, 1);
	uint8_t b[4];
	bool ok;

	if (!cn)
		return;
	if (cn->role != 0) {
		/* Only the central starts encryption (Vol 6 Part B 5.1.3). */
		reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	reply_cs(c, x->op, 0);
	if (cn->peer) {
		/* The peripheral's host is asked for the key (7.7.65.5). */
		uint8_t q[12];

		cn->enc_pending = true;
		memcpy(cn->enc_ltk, x->p + 12, 16);
		put_le16(q, cn->peer->handle);
		memcpy(q + 2, x->p + 2, 10);
		le_evt(cn->peer->c, HCI_LE_EV_LTK_REQUEST, q, 12);
		return;
	}
	ok = cn->link && sim_link_ltk_ok(cn->link, x->p + 2, get_le16(x->p + 10),
					 x->p + 12);
	put_le16(b + 1, cn->handle);
	if (!ok) {
		/* The RD's host has no such key: LL_REJECT_IND with PIN or
		 * Key Missing (Vol 6 Part B 5.1.3.1). */
		b[0] = HCI_ST_PIN_OR_KEY_MISSING;
		b[3] = 0x00;
		later_evt(c, T_RESPONSE, cn->handle, HCI_EV_ENCRYPT_CHANGE, b, 4);
		return;
	}
	b[0] = 0;
	/* The event goes out now, before anything the RD sends over the
	 * encrypted link (SMP key distribution must follow the host's
	 * Encryption Change, Vol 3 Part H 3.6.1). */
	if (cn->encrypted) {
		evt(c, HCI_EV_KEY_REFRESH_COMPLETE, b, 3);
	} else {
		b[3] = 0x01;
		evt(c, HCI_EV_ENCRYPT_CHANGE, b, 4);
	}
	cn->encrypted = true;
	sim_link_encrypted(cn->link);
}

static void enc_done(struct sim_conn *cn, uint8_t status)
{
	uint8_t b[4];

	b[0] = status;
	put_le16(b + 1, cn->handle);
	if (!status && cn->encrypted) {
		evt(cn->c, HCI_EV_KEY_REFRESH_COMPLETE, b, 3);
		return;
	}
	b[3] = status ? 0x00 : 0x01;
	evt(cn->c, HCI_EV_ENCRYPT_CHANGE, b, 4);
	if (!status)
		cn->encrypted = true;
}

static void c_le_ltk_reply(struct sim_ctrl *c, const struct cmd *x)
{
	uint16_t h = get_le16(x->p);
	struct sim_conn *cn = conn_by_handle(c, h), *central;
	uint8_t b[4];

	if (!cn || !cn->le) {
		cc_status_handle(c, x->op, HCI_ST_UNKNOWN_CONN_ID, h);
		return;
	}
	central = cn->peer;
	if (cn->role != 1 || !central || !central->enc_pending) {
		cc_status_handle(c, x->op, HCI_ST_COMMAND_DISALLOWED, h);
		return;
	}
	cc_status_handle(c, x->op, 0, h);
	central->enc_pending = false;
	if (x->op == HCI_OP_LE_LTK_NEG_REPLY) {
		/* LL_REJECT_IND: the central learns the key is missing. */
		enc_done(central, HCI_ST_PIN_OR_KEY_MISSING);
		return;
	}
	if (memcmp(central->enc_ltk, x->p + 2, 16)) {
		/* Different keys: the first packet fails its MIC and the
		 * link drops on both ends (Vol 6 Part B 5.1.3.1). */
		b[0] = 0;
		b[3] = HCI_ST_MIC_FAILURE;
		put_le16(b + 1, central->handle);
		evt(central->c, HCI_EV_DISCONN_COMPLETE, b, 4);
		put_le16(b + 1, cn->handle);
		evt(c, HCI_EV_DISCONN_COMPLETE, b, 4);
		conn_free_slot(central);
		conn_free_slot(cn);
		return;
	}
	enc_done(central, 0);
	enc_done(cn, 0);
}

static void c_le_rand(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[9];

	b[0] = 0;
	sim_air_rand_bytes(c->air, b + 1, 8);
	reply_cc(c, x->op, b, 9);
}

static void c_le_encrypt(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[17];

	b[0] = sim_smp_e(x->p, x->p + 16, b + 1) ? HCI_ST_UNSPECIFIED : 0;
	reply_cc(c, x->op, b, b[0] ? 1 : 17);
}

/* Extended advertising (7.8.53 ff.): sets are kept, nobody scans us. */
static struct adv_set *adv_set(struct sim_ctrl *c, uint8_t h)
{
	return h < SIM_ADV_SETS ? &c->sets[h] : NULL;
}

static void c_le_set_rand_addr(struct sim_ctrl *c, const struct cmd *x)
{
	struct adv_set *s = adv_set(c, x->p[0]);

	if (!s || !s->used) {
		reply_status(c, x->op, s ? HCI_ST_UNKNOWN_ADV_ID : HCI_ST_INVALID_PARAMETERS);
		return;
	}
	memcpy(s->rand.b, x->p + 1, 6);
	reply_status(c, x->op, 0);
}

static void c_le_ext_adv_params(struct sim_ctrl *c, const struct cmd *x)
{
	struct adv_set *s = adv_set(c, x->p[0]);
	uint8_t b[2] = { 0, 0 };

	if (!s || (x->p[9] & ~0x07) || !x->p[9] || x->p[10] > 3 ||
	    x->p[18] > 3 || (x->p[20] != 1 && x->p[20] != 3)) {
		bad_params(c, x, false);
		return;
	}
	if (s->enabled) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	s->used = true;
	s->props = get_le16(x->p + 1);
	s->own = x->p[10];
	reply_cc(c, x->op, b, 2);
}

static void c_le_ext_adv_data(struct sim_ctrl *c, const struct cmd *x)
{
	struct adv_set *s;
	bool rsp = x->op == HCI_OP_LE_SET_EXT_SCAN_RSP_DATA;

	if (x->plen < 4 || x->plen != 4 + x->p[3]) {
		bad_params(c, x, false);
		return;
	}
	s = adv_set(c, x->p[0]);
	if (!s || !s->used) {
		reply_status(c, x->op, s ? HCI_ST_UNKNOWN_ADV_ID : HCI_ST_INVALID_PARAMETERS);
		return;
	}
	/* Only complete data (operation 0x03) of at most 31 bytes, the
	 * maximum we report in 7.8.57. */
	if (x->p[1] != 0x03 || x->p[3] > SIM_ADV_MAX) {
		bad_params(c, x, false);
		return;
	}
	memcpy(rsp ? s->rsp : s->data, x->p + 4, x->p[3]);
	*(rsp ? &s->rsp_len : &s->data_len) = x->p[3];
	reply_status(c, x->op, 0);
}

static void c_le_ext_adv_enable(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t n, i;

	if (x->plen < 2 || x->p[0] > 1 || x->plen != 2 + 4 * x->p[1] ||
	    (x->p[0] && !x->p[1])) {
		bad_params(c, x, false);
		return;
	}
	n = x->p[1];
	for (i = 0; i < n; i++) {
		struct adv_set *s = adv_set(c, x->p[2 + 4 * i]);

		if (!s || !s->used) {
			reply_status(c, x->op, HCI_ST_UNKNOWN_ADV_ID);
			return;
		}
	}
	if (!x->p[0] && !n)
		for (i = 0; i < SIM_ADV_SETS; i++)
			c->sets[i].enabled = false;
	for (i = 0; i < n; i++)
		adv_set(c, x->p[2 + 4 * i])->enabled = x->p[0];
	reply_status(c, x->op, 0);
}

static void c_le_max_adv_len(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[3] = { 0, SIM_ADV_MAX, 0 };

	reply_cc(c, x->op, b, 3);
}

static void c_le_num_adv_sets(struct sim_ctrl *c, const struct cmd *x)
{
	uint8_t b[2] = { 0, SIM_ADV_SETS };

	reply_cc(c, x->op, b, 2);
}

static void c_le_remove_adv_set(struct sim_ctrl *c, const struct cmd *x)
{
	struct adv_set *s = adv_set(c, x->p[0]);

	if (!s || !s->used) {
		reply_status(c, x->op, HCI_ST_UNKNOWN_ADV_ID);
		return;
	}
	if (s->enabled) {
		reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return;
	}
	memset(s, 0, sizeof(*s));
	reply_status(c, x->op, 0);
}

static void c_le_clear_adv_sets(struct sim_ctrl *c, const struct cmd *x)
{
	size_t i;

	for (i = 0; i < SIM_ADV_SETS; i++) {
		if (c->sets[i].enabled) {
			reply_status(c, x->op, HCI_ST_COMMAND_DISALLOWED);
			return;
		}
	}
	memset(c->sets, 0, sizeof(c->sets));
	reply_status(c, x->op, 0);
}

#define NO_BIT 0xff
#define CC false
#define CS true

/* Supported_Commands octet/bit from Vol 4 Part E 6.27. */
static const struct cmd_def cmds[] = {
	{ HCI_OP_INQUIRY, 0, 0, 5, CS, c_inquiry },
	{ HCI_OP_INQUIRY_CANCEL, 0, 1, 0, CC, c_inquiry_cancel },
	{ HCI_OP_CREATE_CONN, 0, 4, 13, CS, c_create_conn },
	{ HCI_OP_DISCONNECT, 0, 5, 3, CS, c_disconnect },
	{ HCI_OP_CREATE_CONN_CANCEL, 0, 7, 6, CC, c_create_conn_cancel },
	{ HCI_OP_ACCEPT_CONN_REQ, 1, 0, 7, CS, c_accept_conn },
	{ HCI_OP_REJECT_CONN_REQ, 1, 1, 7, CS, c_reject_conn },
	{ HCI_OP_LINK_KEY_REPLY, 1, 2, 22, CC, c_link_key_reply },
	{ HCI_OP_LINK_KEY_NEG_REPLY, 1, 3, 6, CC, c_link_key_neg },
	{ HCI_OP_PIN_CODE_REPLY, 1, 4, 23, CC, c_pin_reply },
	{ HCI_OP_PIN_CODE_NEG_REPLY, 1, 5, 6, CC, c_pin_reply },
	{ HCI_OP_CHANGE_CONN_PTYPE, 1, 6, 4, CS, c_change_ptype },
	{ HCI_OP_AUTH_REQUESTED, 1, 7, 2, CS, c_auth_requested },
	{ HCI_OP_SET_CONN_ENCRYPT, 2, 0, 3, CS, c_set_conn_encrypt },
	{ HCI_OP_REMOTE_NAME_REQ, 2, 3, 10, CS, c_remote_name },
	{ HCI_OP_REMOTE_NAME_REQ_CANCEL, 2, 4, 6, CC, c_remote_name_cancel },
	{ HCI_OP_READ_REMOTE_FEATURES, 2, 5, 2, CS, c_remote_features },
	{ HCI_OP_READ_REMOTE_EXT_FEATURES, 2, 6, 3, CS, c_remote_ext_features },
	{ HCI_OP_READ_REMOTE_VERSION, 2, 7, 2, CS, c_remote_version },
	{ HCI_OP_READ_CLOCK_OFFSET, 3, 0, 2, CS, c_clock_offset },
	{ HCI_OP_READ_DEF_LINK_POLICY, 5, 3, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_DEF_LINK_POLICY, 5, 4, 2, CC, c_write_u16 },
	{ HCI_OP_SET_EVENT_MASK, 5, 6, 8, CC, c_set_event_mask },
	{ HCI_OP_RESET, 5, 7, 0, CC, c_reset },
	{ HCI_OP_SET_EVENT_FILTER, 6, 0, -1, CC, c_set_event_filter },
	{ HCI_OP_READ_STORED_LINK_KEY, 6, 5, 7, CC, c_read_stored_link_key },
	{ HCI_OP_DELETE_STORED_LINK_KEY, 6, 7, 7, CC, c_delete_stored_link_key },
	{ HCI_OP_WRITE_LOCAL_NAME, 7, 0, 248, CC, c_write_local_name },
	{ HCI_OP_READ_LOCAL_NAME, 7, 1, 0, CC, c_read_local_name },
	{ HCI_OP_READ_CONN_ACCEPT_TIMEOUT, 7, 2, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_CONN_ACCEPT_TIMEOUT, 7, 3, 2, CC, c_write_u16 },
	{ HCI_OP_READ_PAGE_TIMEOUT, 7, 4, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_PAGE_TIMEOUT, 7, 5, 2, CC, c_write_u16 },
	{ HCI_OP_READ_SCAN_ENABLE, 7, 6, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_SCAN_ENABLE, 7, 7, 1, CC, c_write_u8 },
	{ HCI_OP_READ_PAGE_SCAN_ACTIVITY, 8, 0, 0, CC, c_read_activity },
	{ HCI_OP_WRITE_PAGE_SCAN_ACTIVITY, 8, 1, 4, CC, c_write_activity },
	{ HCI_OP_READ_INQUIRY_SCAN_ACTIVITY, 8, 2, 0, CC, c_read_activity },
	{ HCI_OP_WRITE_INQUIRY_SCAN_ACTIVITY, 8, 3, 4, CC, c_write_activity },
	{ HCI_OP_READ_AUTH_ENABLE, 8, 4, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_AUTH_ENABLE, 8, 5, 1, CC, c_write_u8 },
	{ HCI_OP_READ_CLASS_OF_DEV, 9, 0, 0, CC, c_read_cod },
	{ HCI_OP_WRITE_CLASS_OF_DEV, 9, 1, 3, CC, c_write_cod },
	{ HCI_OP_READ_VOICE_SETTING, 9, 2, 0, CC, c_read_u16 },
	{ HCI_OP_WRITE_VOICE_SETTING, 9, 3, 2, CC, c_write_u16 },
	{ HCI_OP_READ_NUM_SUPPORTED_IAC, 11, 2, 0, CC, c_read_num_iac },
	{ HCI_OP_READ_CURRENT_IAC_LAP, 11, 3, 0, CC, c_read_iac_lap },
	{ HCI_OP_WRITE_CURRENT_IAC_LAP, 11, 4, -1, CC, c_write_iac_lap },
	{ HCI_OP_READ_INQUIRY_SCAN_TYPE, 12, 4, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_INQUIRY_SCAN_TYPE, 12, 5, 1, CC, c_write_u8 },
	{ HCI_OP_READ_INQUIRY_MODE, 12, 6, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_INQUIRY_MODE, 12, 7, 1, CC, c_write_u8 },
	{ HCI_OP_READ_PAGE_SCAN_TYPE, 13, 0, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_PAGE_SCAN_TYPE, 13, 1, 1, CC, c_write_u8 },
	{ HCI_OP_READ_LOCAL_VERSION, 14, 3, 0, CC, c_read_version },
	/* Read Local Supported Commands has no bit of its own. */
	{ HCI_OP_READ_LOCAL_COMMANDS, NO_BIT, 0, 0, CC, c_read_commands },
	{ HCI_OP_READ_LOCAL_FEATURES, 14, 5, 0, CC, c_read_features },
	{ HCI_OP_READ_LOCAL_EXT_FEATURES, 14, 6, 1, CC, c_read_ext_features },
	{ HCI_OP_READ_BUFFER_SIZE, 14, 7, 0, CC, c_read_buffer_size },
	{ HCI_OP_READ_BD_ADDR, 15, 1, 0, CC, c_read_bd_addr },
	{ HCI_OP_READ_RSSI, 15, 5, 2, CC, c_read_rssi },
	{ HCI_OP_READ_EXT_INQUIRY_RESPONSE, 17, 0, 0, CC, c_read_eir },
	{ HCI_OP_WRITE_EXT_INQUIRY_RESPONSE, 17, 1, 241, CC, c_write_eir },
	{ HCI_OP_READ_SIMPLE_PAIRING_MODE, 17, 5, 0, CC, c_read_u8 },
	{ HCI_OP_WRITE_SIMPLE_PAIRING_MODE, 17, 6, 1, CC, c_write_u8 },
	{ HCI_OP_READ_INQ_RSP_TX_POWER, 18, 0, 0, CC, c_read_inq_tx },
	{ HCI_OP_IO_CAPABILITY_REPLY, 18, 7, 9, CC, c_io_cap_reply },
	{ HCI_OP_USER_CONFIRM_REPLY, 19, 0, 6, CC, c_user_confirm },
	{ HCI_OP_USER_CONFIRM_NEG_REPLY, 19, 1, 6, CC, c_user_confirm },
	{ HCI_OP_IO_CAPABILITY_NEG_REPLY, 20, 3, 7, CC, c_io_cap_neg },
	{ HCI_OP_READ_ENC_KEY_SIZE, 20, 4, 2, CC, c_read_enc_key_size },
	{ HCI_OP_READ_LE_HOST_SUPPORTED, 24, 5, 0, CC, c_read_le_host },
	{ HCI_OP_WRITE_LE_HOST_SUPPORTED, 24, 6, 2, CC, c_write_le_host },
	{ HCI_OP_LE_SET_EVENT_MASK, 25, 0, 8, CC, c_set_event_mask },
	{ HCI_OP_LE_READ_BUFFER_SIZE, 25, 1, 0, CC, c_le_read_buffer_size },
	{ HCI_OP_LE_READ_LOCAL_FEATURES, 25, 2, 0, CC, c_le_read_features },
	{ HCI_OP_LE_SET_RANDOM_ADDR, 25, 4, 6, CC, c_le_set_random_addr },
	{ HCI_OP_LE_SET_ADV_PARAM, 25, 5, 15, CC, c_le_adv_params },
	{ HCI_OP_LE_READ_ADV_TX_POWER, 25, 6, 0, CC, c_le_adv_tx_power },
	{ HCI_OP_LE_SET_ADV_DATA, 25, 7, 32, CC, c_le_adv_data },
	{ HCI_OP_LE_SET_SCAN_RSP_DATA, 26, 0, 32, CC, c_le_adv_data },
	{ HCI_OP_LE_SET_ADV_ENABLE, 26, 1, 1, CC, c_le_adv_enable },
	{ HCI_OP_LE_SET_SCAN_PARAM, 26, 2, 7, CC, c_le_scan_params },
	{ HCI_OP_LE_SET_SCAN_ENABLE, 26, 3, 2, CC, c_le_scan_enable },
	{ HCI_OP_LE_CREATE_CONN, 26, 4, 25, CS, c_le_create_conn },
	{ HCI_OP_LE_CREATE_CONN_CANCEL, 26, 5, 0, CC, c_le_create_conn_cancel },
	{ HCI_OP_LE_READ_ACCEPT_LIST_SIZE, 26, 6, 0, CC, c_le_al_size },
	{ HCI_OP_LE_CLEAR_ACCEPT_LIST, 26, 7, 0, CC, c_le_al_clear },
	{ HCI_OP_LE_ADD_TO_ACCEPT_LIST, 27, 0, 7, CC, c_le_al_add },
	{ HCI_OP_LE_DEL_FROM_ACCEPT_LIST, 27, 1, 7, CC, c_le_al_del },
	{ HCI_OP_LE_CONN_UPDATE, 27, 2, 14, CS, c_le_conn_update },
	{ HCI_OP_LE_READ_REMOTE_FEATURES, 27, 5, 2, CS, c_le_remote_features },
	{ HCI_OP_LE_ENCRYPT, 27, 6, 32, CC, c_le_encrypt },
	{ HCI_OP_LE_RAND, 27, 7, 0, CC, c_le_rand },
	{ HCI_OP_LE_START_ENCRYPTION, 28, 0, 28, CS, c_le_start_enc },
	{ HCI_OP_LE_LTK_REPLY, 28, 1, 18, CC, c_le_ltk_reply },
	{ HCI_OP_LE_LTK_NEG_REPLY, 28, 2, 2, CC, c_le_ltk_reply },
	{ HCI_OP_LE_READ_SUPPORTED_STATES, 28, 3, 0, CC, c_le_read_states },
	{ HCI_OP_LE_SET_ADV_SET_RAND_ADDR, 36, 1, 7, CC, c_le_set_rand_addr },
	{ HCI_OP_LE_SET_EXT_ADV_PARAMS, 36, 2, 25, CC, c_le_ext_adv_params },
	{ HCI_OP_LE_SET_EXT_ADV_DATA, 36, 3, -1, CC, c_le_ext_adv_data },
	{ HCI_OP_LE_SET_EXT_SCAN_RSP_DATA, 36, 4, -1, CC, c_le_ext_adv_data },
	{ HCI_OP_LE_SET_EXT_ADV_ENABLE, 36, 5, -1, CC, c_le_ext_adv_enable },
	{ HCI_OP_LE_READ_MAX_ADV_DATA_LEN, 36, 6, 0, CC, c_le_max_adv_len },
	{ HCI_OP_LE_READ_NUM_ADV_SETS, 36, 7, 0, CC, c_le_num_adv_sets },
	{ HCI_OP_LE_REMOVE_ADV_SET, 37, 0, 1, CC, c_le_remove_adv_set },
	{ HCI_OP_LE_CLEAR_ADV_SETS, 37, 1, 0, CC, c_le_clear_adv_sets },
	{ HCI_OP_LE_SET_EXT_SCAN_PARAMS, 37, 5, -1, CC, c_le_ext_scan_params },
	{ HCI_OP_LE_SET_EXT_SCAN_ENABLE, 37, 6, 6, CC, c_le_ext_scan_enable },
	{ HCI_OP_LE_EXT_CREATE_CONN, 37, 7, -1, CS, c_le_ext_create_conn },
};

static void supported_commands(uint8_t out[64])
{
	size_t i;

	memset(out, 0, 64);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].octet < 64)
			out[cmds[i].octet] |= (uint8_t)(1u << cmds[i].bit);
}

bool sim_ctrl_cmd_supported(uint16_t op)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].op == op)
			return true;
	return false;
}

static void cmd_input(struct sim_ctrl *c, const struct h4_pkt *p)
{
	struct cmd x = { p->cmd.opcode, p->cmd.param, p->cmd.plen };
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const struct cmd_def *d = &cmds[i];

		if (d->op != x.op)
			continue;
		/* Fixed-length commands: exact length or Invalid HCI Command
		 * Parameters, in the command's own response (4.5). */
		if (d->plen >= 0 && x.plen != d->plen) {
			bad_params(c, &x, d->status_first);
			return;
		}
		d->fn(c, &x);
		return;
	}
	/* Not implemented: Unknown HCI Command, never silence (4.5). */
	reply_cs(c, x.op, HCI_ST_UNKNOWN_COMMAND);
}

/* ------------------------------------------------------------ API */

static void air_gone(void *user);

struct sim_ctrl *sim_ctrl_new(struct sim_air *a, const struct bdaddr *addr,
			      sim_emit_fn emit, void *user)
{
	struct sim_ctrl *c;

	if (!a)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->air = a;
	c->l = sim_air_loop(a);
	c->emit = emit;
	c->user = user;
	pktq_init(&c->outq, SIM_OUTQ_PKTS, SIM_OUTQ_BYTES);
	c->drain = loop_timer_new(c->l, drain_cb, c);
	if (!c->drain) {
		free(c);
		return NULL;
	}
	c->port = sim_air_attach(a, addr, air_gone, c);
	if (!c->port) {
		loop_timer_free(c->drain);
		free(c);
		return NULL;
	}
	c->addr = *sim_air_port_addr(c->port);
	defaults(c);
	return c;
}

int sim_ctrl_input(struct sim_ctrl *c, const uint8_t *h4, size_t len)
{
	struct h4_pkt p;
	int r;

	if (!c)
		return -EINVAL;
	if (!c->air)
		return -ENODEV;
	r = h4_parse(&p, h4, len, 0);
	if (r < 0)
		return -EBADMSG;
	switch (p.type) {
	case H4_CMD:
		cmd_input(c, &p);
		return 0;
	case H4_ACL:
		return acl_input(c, &p);
	case H4_SCO:
	case H4_ISO:
		/* No SCO or ISO links exist here: discarded like data for an
		 * unknown handle. */
		log_info("sim: %s packet dropped (no such link)", h4_type_name(p.type));
		return 0;
	default:
		return -EBADMSG;	/* events never flow host -> controller */
	}
}

/* Our air goes away (freed first) or we leave it: drop what refers to it. */
static void ctrl_orphan(struct sim_ctrl *c)
{
	size_t i;

	if (!c->air)
		return;
	jobs_cancel(c, -1, 0xffff);
	for (i = 0; i < SIM_MAX_CONNS; i++) {
		peer_lost(&c->conns[i]);
		sim_link_free(c->conns[i].link);
		c->conns[i].link = NULL;
		c->conns[i].state = CONN_FREE;
	}
	pktq_clear(&c->outq);
	loop_timer_free(c->drain);
	c->drain = NULL;
	c->air = NULL;
	c->port = NULL;
}

static void air_gone(void *user)
{
	ctrl_orphan(user);
}

void sim_ctrl_free(struct sim_ctrl *c)
{
	if (!c)
		return;
	if (c->draining) {
		/* Freed from inside its own emit callback: after the drain. */
		c->free_pending = true;
		return;
	}
	if (c->air)
		sim_air_detach(c->air, c->port);
	c->port = NULL;
	ctrl_orphan(c);
	free(c);
}
