/* SPDX-License-Identifier: MIT */
/*
 * One simulated controller: the HCI command set of Core Vol 4 Part E 7
 * that a Linux 6.1 host stack uses for a BR/EDR + LE controller, with the
 * link manager / link layer and the radio simulated against the air's RDs.
 * This file is the controller itself (ctrl_int.h lists the others): its
 * life, output, jobs, connection slots and ACL data.
 *
 * Every response goes through an output queue drained by a zero-delay loop
 * timer, so sim_ctrl_input() never calls emit itself; everything that takes
 * air time (inquiry, paging, scanning, ACL delivery) is a job on a scaled
 * loop timer.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "log.h"
#include "ctrl_int.h"

static void job_fire(struct loop_timer *t, void *user);
static void link_to_host(const uint8_t *pdu, size_t len, void *user);
static void air_gone(void *user);

/* The other controllers of the air, in turn (prev NULL for the first). */
struct sim_ctrl *ctrl_next(struct sim_ctrl *c, const struct sim_ctrl *prev)
{
	struct sim_air_port *p = sim_air_port_next(c->air, prev ? prev->port : NULL);

	return p ? sim_air_port_user(p) : NULL;
}

const struct bdaddr *sim_ctrl_addr(const struct sim_ctrl *c)
{
	return &c->addr;
}

bool ctrl_is_inquiry_scan(const struct sim_ctrl *c)
{
	return c->scan_enable & 0x01;
}

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

void ctrl_evt(struct sim_ctrl *c, uint8_t code, const void *p, size_t n)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int len;

	if (!evt_enabled(c, code, 0))
		return;
	len = h4_build_evt(b, sizeof(b), code, p, n);
	if (len > 0)
		out_push(c, b, (size_t)len);
}

void ctrl_le_evt(struct sim_ctrl *c, uint8_t sub, const void *p, size_t n)
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
void ctrl_reply_cc(struct sim_ctrl *c, uint16_t op, const void *ret, size_t n)
{
	uint8_t b[H4_MAX_CTL_PKT];
	int len = h4_build_cc(b, sizeof(b), 1, op, ret, n);

	if (len > 0)
		out_push(c, b, (size_t)len);
}

void ctrl_reply_status(struct sim_ctrl *c, uint16_t op, uint8_t status)
{
	ctrl_reply_cc(c, op, &status, 1);
}

void ctrl_reply_cs(struct sim_ctrl *c, uint16_t op, uint8_t status)
{
	uint8_t b[8];
	int len = h4_build_cs(b, sizeof(b), status, 1, op);

	if (len > 0)
		out_push(c, b, (size_t)len);
}

static struct sim_job *job_new_sized(struct sim_ctrl *c, ctrl_job_fn fn,
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
	j->fn = fn;
	j->handle = handle;
	j->cap = cap;
	j->next = c->jobs;
	c->jobs = j;
	c->njobs++;
	loop_timer_arm(j->t, sim_air_delay(c->air, sim_us));
	return j;
}

struct sim_job *ctrl_job_new(struct sim_ctrl *c, ctrl_job_fn fn,
			     uint64_t sim_us, uint16_t handle)
{
	return job_new_sized(c, fn, sim_us, handle, 0);
}

/* Remove a job; the one running is freed by job_fire when it returns. */
void ctrl_job_unlink(struct sim_job *j)
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

void ctrl_jobs_cancel(struct sim_ctrl *c, ctrl_job_fn fn, uint16_t handle)
{
	struct sim_job *j = c->jobs, *next;

	for (; j; j = next) {
		next = j->next;
		if ((!fn || j->fn == fn) &&
		    (handle == 0xffff || j->handle == handle))
			ctrl_job_unlink(j);
	}
}

struct sim_job *ctrl_job_find(struct sim_ctrl *c, ctrl_job_fn fn,
			      const struct bdaddr *addr)
{
	struct sim_job *j;

	for (j = c->jobs; j; j = j->next)
		if (j->fn == fn && (!addr || bdaddr_eq(&j->addr, addr)))
			return j;
	return NULL;
}

static void job_evt(struct sim_ctrl *c, struct sim_job *j)
{
	out_push(c, j->data, j->len);
}

/* An event emitted after a simulated delay, tied to a handle if any. */
void ctrl_later_evt(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		    uint8_t code, const void *p, size_t n)
{
	struct sim_job *j = job_new_sized(c, job_evt, sim_us, handle, H4_MAX_CTL_PKT);
	int len;

	if (!j)
		return;
	len = h4_build_evt(j->data, j->cap, code, p, n);
	if (len <= 0) {
		ctrl_job_unlink(j);
		return;
	}
	j->len = (size_t)len;
}

void ctrl_later_le_evt(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		       uint8_t sub, const void *p, size_t n)
{
	struct sim_job *j = job_new_sized(c, job_evt, sim_us, handle, H4_MAX_CTL_PKT);
	int len;

	if (!j)
		return;
	len = h4_build_le_evt(j->data, j->cap, sub, p, n);
	if (len <= 0) {
		ctrl_job_unlink(j);
		return;
	}
	j->len = (size_t)len;
}

/* LMP features page 0 (Vol 2 Part C 3.3): 3- and 5-slot, encryption, RSSI
 * with inquiry results, EDR 2/3 Mb/s, LE supported (controller), EIR, SSP,
 * inquiry TX power, extended features. Nothing we do not simulate. */
const uint8_t ctrl_local_features[8] = {
	0x07, 0x00, 0x00, 0x46, 0x40, 0x00, 0x09, 0x82
};
/* LE features (Vol 6 Part B 4.6): encryption, extended advertising. */
/*
 * LE Encryption, LE Data Packet Length Extension (bit 5); LE 2M PHY (bit
 * 8), LE Coded PHY (bit 11), LE Extended Advertising (bit 12).
 */
const uint8_t ctrl_le_features[8] = { 0x21, 0x19, 0, 0, 0, 0, 0, 0 };

void ctrl_rd_features(const struct sim_rd *rd, uint8_t page, uint8_t f[8])
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

void ctrl_host_features(const struct sim_ctrl *c, uint8_t f[8])
{
	memset(f, 0, 8);
	f[0] = (uint8_t)((c->ssp_mode ? 0x01 : 0) | (c->le_host ? 0x02 : 0) |
			 (c->simul ? 0x04 : 0));
}

/* The remote side's LMP features, page 0 or 1, whoever it is. */
void ctrl_conn_features(const struct sim_conn *cn, uint8_t page, uint8_t f[8])
{
	memset(f, 0, 8);
	if (cn->rd)
		ctrl_rd_features(cn->rd, page, f);
	else if (cn->peer && page == 0)
		memcpy(f, ctrl_local_features, 8);
	else if (cn->peer && page == 1)
		ctrl_host_features(cn->peer->c, f);
}

void ctrl_conn_free(struct sim_conn *cn)
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
	ctrl_jobs_cancel(c, NULL, cn->handle);
	sim_link_free(cn->link);
	memset(cn, 0, sizeof(*cn));
	cn->c = c;
}

/*
 * This end of a link between two controllers goes away (Reset, the
 * controller freed): the other end sees the link lost, Connection Timeout
 * (0x08), as after a supervision timeout.
 */
static void peer_lost(struct sim_conn *cn)
{
	struct sim_conn *p = cn->peer;

	if (!p)
		return;
	if (p->state == CONN_OPEN) {
		ctrl_disconn_complete(p->c, 0, p->handle, HCI_ST_CONN_TIMEOUT);
	} else {
		ctrl_conn_complete(p->c, HCI_ST_CONN_TIMEOUT, 0, &p->addr);
	}
	ctrl_conn_free(p);
}

void ctrl_defaults(struct sim_ctrl *c)
{
	size_t i;

	ctrl_jobs_cancel(c, NULL, 0xffff);
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
	c->def_all_phys = 0;
	c->def_tx_phys = c->def_rx_phys = 0x01;
	c->sugg_octets = 27;	/* 7.8.34: 27 octets, 328 us after reset */
	c->sugg_time = 328;
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

struct sim_conn *ctrl_conn_by_handle(struct sim_ctrl *c, uint16_t h)
{
	size_t i;

	for (i = 0; i < SIM_MAX_CONNS; i++)
		if (c->conns[i].state == CONN_OPEN && c->conns[i].handle == h)
			return &c->conns[i];
	return NULL;
}

struct sim_conn *ctrl_conn_by_addr(struct sim_ctrl *c, const struct bdaddr *a,
				   bool le, int state)
{
	size_t i;

	for (i = 0; i < SIM_MAX_CONNS; i++) {
		struct sim_conn *cn = &c->conns[i];

		if (cn->state == CONN_FREE || cn->le != le)
			continue;
		if (state >= 0 && cn->state != (enum ctrl_conn_state)state)
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

struct sim_conn *ctrl_conn_alloc(struct sim_ctrl *c, struct sim_rd *rd, bool le)
{
	struct sim_conn *cn = ctrl_conn_alloc_addr(c, &rd->cfg->addr, le);

	if (cn)
		cn->rd = rd;
	return cn;
}

struct sim_conn *ctrl_conn_alloc_addr(struct sim_ctrl *c,
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

bool ctrl_rd_pageable(const struct sim_rd *rd)
{
	return rd && (rd->cfg->tech & SIM_TECH_BREDR) && rd->cfg->connectable;
}

bool ctrl_rd_advertising(const struct sim_rd *rd)
{
	return (rd->cfg->tech & SIM_TECH_LE) &&
	       (rd->cfg->discoverable || rd->cfg->connectable);
}

void ctrl_conn_open(struct sim_conn *cn, const struct bdaddr *ia, uint8_t iat)
{
	struct sim_ctrl *c = cn->c;

	cn->state = CONN_OPEN;
	if (!cn->rd)
		return;		/* another controller: its host answers */
	cn->link = sim_link_new(c->air, cn->rd, cn->le, ia, iat, link_to_host, cn);
	if (!cn->link)
		log_err("sim: out of memory for a link");
}

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
	struct sim_conn *cn = ctrl_conn_by_handle(c, j->handle);
	uint8_t nocp[HCI_EV_NUM_COMP_PKTS_LEN];
	struct wbuf w;
	uint8_t pb = j->data[0];
	size_t dlen = j->len - 1, need;
	struct cur l2;
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
	wbuf_init(&w, nocp, sizeof(nocp));
	wbuf_u8(&w, 1);			/* Num_Handles */
	wbuf_le16(&w, cn->handle);
	wbuf_le16(&w, 1);		/* Num_Completed_Packets */
	ctrl_evt(c, HCI_EV_NUM_COMP_PKTS, nocp, w.len);

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
	/* The basic L2CAP header: Length, then the CID (Vol 3 Part A 3.1). */
	cur_init(&l2, cn->rx, cn->rx_len);
	need = 4 + (size_t)cur_le16(&l2);
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

int ctrl_acl_input(struct sim_ctrl *c, const struct h4_pkt *p)
{
	const struct sim_opts *o = sim_air_opts(c->air);
	struct sim_conn *cn = ctrl_conn_by_handle(c, p->acl.handle);
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
		ctrl_evt(c, HCI_EV_DATA_BUFFER_OVERFLOW, &lt, 1);
		return 0;
	}
	j = job_new_sized(c, acl_deliver, o->unlimited_radio ? 0 : T_ACL_PKT,
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

int8_t ctrl_jitter(struct sim_ctrl *c, int8_t rssi)
{
	int v = rssi + (int)(sim_air_rand(c->air) % 5) - 2;

	return (int8_t)(v < -127 ? -127 : v > 20 ? 20 : v);
}

void ctrl_conn_complete(struct sim_ctrl *c, uint8_t status, uint16_t handle,
			const struct bdaddr *a)
{
	uint8_t b[HCI_EV_CONN_COMPLETE_LEN];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, status);
	wbuf_le16(&w, handle);
	wbuf_bytes(&w, a->b, 6);
	wbuf_u8(&w, 0x01);	/* Link_Type ACL */
	wbuf_u8(&w, 0x00);	/* Encryption_Enabled off */
	ctrl_evt(c, HCI_EV_CONN_COMPLETE, b, w.len);
}

/* Disconnection Complete (7.7.5) for handle, now or after sim_us. */
static void disconn_evt(struct sim_ctrl *c, uint64_t sim_us, bool later,
			uint16_t handle, uint8_t reason)
{
	uint8_t b[HCI_EV_DISCONN_COMPLETE_LEN];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, 0);
	wbuf_le16(&w, handle);
	wbuf_u8(&w, reason);
	if (later)
		ctrl_later_evt(c, sim_us, 0xffff, HCI_EV_DISCONN_COMPLETE, b, w.len);
	else
		ctrl_evt(c, HCI_EV_DISCONN_COMPLETE, b, w.len);
}

void ctrl_disconn_complete(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
			   uint8_t reason)
{
	disconn_evt(c, sim_us, sim_us != 0, handle, reason);
}

/*
 * Encryption Change (7.7.8), or Key Refresh Complete (7.7.39) when the
 * link was already encrypted and stays so, after sim_us (0: now).
 */
void ctrl_enc_change(struct sim_ctrl *c, uint64_t sim_us, uint16_t handle,
		     uint8_t status, uint8_t on, bool refresh)
{
	uint8_t b[HCI_EV_ENCRYPT_CHANGE_LEN];
	struct wbuf w;
	uint8_t code = refresh ? HCI_EV_KEY_REFRESH_COMPLETE : HCI_EV_ENCRYPT_CHANGE;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, status);
	wbuf_le16(&w, handle);
	if (!refresh)
		wbuf_u8(&w, on);
	if (sim_us)
		ctrl_later_evt(c, sim_us, handle, code, b, w.len);
	else
		ctrl_evt(c, code, b, w.len);
}

static void job_fire(struct loop_timer *t, void *user)
{
	struct sim_job *j = user;
	struct sim_ctrl *c = j->c;

	(void)t;
	c->running = j;
	j->fn(c, j);
	/* The handler may have cancelled this very job: job_unlink left it
	 * to us. Unlink (a no-op if gone) and free it now. */
	ctrl_job_unlink(j);
	c->running = NULL;
	loop_timer_free(j->t);
	free(j);
}

void ctrl_bad_params(struct sim_ctrl *c, const struct ctrl_cmd *x, bool cs)
{
	if (cs)
		ctrl_reply_cs(c, x->op, HCI_ST_INVALID_PARAMETERS);
	else
		ctrl_reply_status(c, x->op, HCI_ST_INVALID_PARAMETERS);
}

void ctrl_cc_status_handle(struct sim_ctrl *c, uint16_t op, uint8_t st,
			   uint16_t h)
{
	uint8_t b[3];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, st);
	wbuf_le16(&w, h);
	ctrl_reply_cc(c, op, b, w.len);
}

void ctrl_cc_status_addr(struct sim_ctrl *c, uint16_t op, uint8_t st,
			 const uint8_t *a)
{
	uint8_t b[7];
	struct wbuf w;

	wbuf_init(&w, b, sizeof(b));
	wbuf_u8(&w, st);
	wbuf_bytes(&w, a, 6);
	ctrl_reply_cc(c, op, b, w.len);
}

/* A command on a BR/EDR (le=false) or LE (le=true) handle, or an error CS. */
struct sim_conn *ctrl_cs_conn(struct sim_ctrl *c, const struct ctrl_cmd *x, int le)
{
	struct cur r = ctrl_params(x);
	struct sim_conn *cn = ctrl_conn_by_handle(c, cur_le16(&r));

	if (!cn) {
		ctrl_reply_cs(c, x->op, HCI_ST_UNKNOWN_CONN_ID);
		return NULL;
	}
	if (le >= 0 && cn->le != (bool)le) {
		ctrl_reply_cs(c, x->op, HCI_ST_COMMAND_DISALLOWED);
		return NULL;
	}
	return cn;
}

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
	ctrl_defaults(c);
	return c;
}

/* Our air goes away (freed first) or we leave it: drop what refers to it. */
static void ctrl_orphan(struct sim_ctrl *c)
{
	size_t i;

	if (!c->air)
		return;
	ctrl_jobs_cancel(c, NULL, 0xffff);
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
