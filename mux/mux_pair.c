/* SPDX-License-Identifier: MIT */
/*
 * Pairing at the gateway (mux/pair.h): the admin's internal session,
 * driven as a host drives its controller. Only the public API of mux.h:
 * the core treats it as any session (its own handles, its own events,
 * the policy deciding what it may reach), so nothing of it reaches
 * another session and the household key reaches it only replaced by a
 * random one (mux_bond.c), which is wiped here on arrival.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "pair.h"
#include "secmem.h"

#define PAIR_QUEUE	16	/* events from the core not yet handled */
#define PAIR_EV_MAX	(3 + 255)

enum pair_state {
	PS_SETUP = 1,	/* event mask and SSP mode written, connecting */
	PS_CONNECTING,	/* Create Connection accepted */
	PS_AUTH,	/* Authentication Requested sent */
	PS_ASKING,	/* User Confirmation Request shown to the admin */
	PS_DONE,
};

struct mux_pair {
	struct mux *m;
	struct mux_session *s;
	struct loop_timer *run;		/* handles queued events, zero delay */
	struct loop_timer *timeout;
	struct mux_pair_ops ops;
	void *user;
	struct bdaddr a;
	enum pair_state st;
	uint16_t handle;		/* the session's own */
	bool connected;
	bool key_notified;		/* a Link Key Notification came */
	uint8_t remote_io;		/* IO Capability Response, 0xff: none yet */
	uint8_t ssp_status;		/* Simple Pairing Complete's, if it failed */
	bool admin_no;
	bool pin;
	enum mux_pair_result res;
	uint8_t res_status;
	bool finished;			/* done to be called */
	bool in_run;
	unsigned qn, qhead;
	uint16_t qlen[PAIR_QUEUE];
	uint8_t q[PAIR_QUEUE][PAIR_EV_MAX];
};

static const char *const result_str[] = {
	[MUX_PAIR_OK] = "paired",
	[MUX_PAIR_UNREACHABLE] = "the device did not answer (out of range, off, or not connectable)",
	[MUX_PAIR_REJECTED] = "the device refused to pair, or did not confirm",
	[MUX_PAIR_ADMIN_NO] = "not confirmed by the admin",
	[MUX_PAIR_PIN] = "the device asks for a PIN code (legacy pairing), which the gateway does not enter",
	[MUX_PAIR_BONDED] = "the device authenticated with a key the gateway already holds",
	[MUX_PAIR_FAILED] = "pairing failed",
	[MUX_PAIR_TIMEOUT] = "no outcome within 60 s",
	[MUX_PAIR_ENDED] = "the pairing's session was ended (controller lost?)",
};

const char *mux_pair_result_str(enum mux_pair_result r)
{
	return (unsigned)r < sizeof(result_str) / sizeof(result_str[0]) && result_str[r] ?
		result_str[r] : "unknown";
}

static void finish(struct mux_pair *p, enum mux_pair_result res, uint8_t st)
{
	if (p->finished)
		return;
	p->finished = true;
	p->st = PS_DONE;
	p->res = res;
	p->res_status = st;
	loop_timer_arm(p->run, 0);
}

static void send_cmd(struct mux_pair *p, uint16_t op, const void *param, uint8_t plen)
{
	uint8_t h4[4 + 32];
	int r;

	h4[0] = H4_CMD;
	put_le16(h4 + 1, op);
	h4[3] = plen;
	memcpy(h4 + 4, param, plen);
	r = mux_session_input(p->s, h4, 4u + plen);
	secmem_wipe(h4, sizeof(h4));
	if (r < 0)
		finish(p, MUX_PAIR_ENDED, 0);
}

static void send_addr_cmd(struct mux_pair *p, uint16_t op)
{
	send_cmd(p, op, p->a.b, 6);
}

static void start(struct mux_pair *p)
{
	/* Connection, authentication and SSP events (Vol 4 Part E 7.3.1). */
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	uint8_t cc[13] = { 0 };

	send_cmd(p, HCI_OP_SET_EVENT_MASK, mask, sizeof(mask));
	send_cmd(p, HCI_OP_WRITE_SIMPLE_PAIRING_MODE, "\x01", 1);
	/* Create Connection (7.1.5): DM1..DH5, R2, no clock offset, no role switch. */
	memcpy(cc, p->a.b, 6);
	put_le16(cc + 6, 0xcc18);
	cc[8] = 0x01;
	send_cmd(p, HCI_OP_CREATE_CONN, cc, sizeof(cc));
	p->st = PS_CONNECTING;
}

static bool is_ours(const struct mux_pair *p, const uint8_t *addr)
{
	return memcmp(addr, p->a.b, 6) == 0;
}

static void on_cmd_status(struct mux_pair *p, uint16_t op, uint8_t st)
{
	if (!st)
		return;
	if (op == HCI_OP_CREATE_CONN)
		finish(p, st == HCI_ST_PAGE_TIMEOUT ? MUX_PAIR_UNREACHABLE : MUX_PAIR_FAILED, st);
	else if (op == HCI_OP_AUTH_REQUESTED || op == HCI_OP_SET_EVENT_MASK ||
		 op == HCI_OP_WRITE_SIMPLE_PAIRING_MODE || op == HCI_OP_IO_CAPABILITY_REPLY ||
		 op == HCI_OP_USER_CONFIRM_REPLY || op == HCI_OP_USER_CONFIRM_NEG_REPLY)
		finish(p, MUX_PAIR_FAILED, st);
}

/* Authentication Complete: the pairing's outcome (7.7.6). */
static void on_auth_complete(struct mux_pair *p, uint8_t st)
{
	if (st == 0)
		finish(p, p->key_notified ? MUX_PAIR_OK : MUX_PAIR_BONDED, 0);
	else if (p->pin)
		finish(p, MUX_PAIR_PIN, st);
	else if (p->admin_no)
		finish(p, MUX_PAIR_ADMIN_NO, st);
	else if (st == HCI_ST_PAIRING_NOT_ALLOWED || st == HCI_ST_AUTH_FAILURE ||
		 p->ssp_status == HCI_ST_PAIRING_NOT_ALLOWED)
		finish(p, MUX_PAIR_REJECTED, st);
	else
		finish(p, MUX_PAIR_FAILED, st);
}

/* One event of the session; every length checked before a field is read. */
static void on_event(struct mux_pair *p, const uint8_t *h4, size_t len)
{
	const uint8_t *e = h4 + 3;
	uint8_t code, plen, resp[9];

	if (len < 3 || h4[0] != H4_EVT || h4[2] != len - 3)
		return;
	code = h4[1];
	plen = h4[2];
	switch (code) {
	case HCI_EV_CMD_COMPLETE:	/* ncmd, opcode, status */
		if (plen >= 4)
			on_cmd_status(p, get_le16(e + 1), e[3]);
		break;
	case HCI_EV_CMD_STATUS:		/* status, ncmd, opcode */
		if (plen >= 4)
			on_cmd_status(p, get_le16(e + 2), e[0]);
		break;
	case HCI_EV_CONN_COMPLETE:	/* status, handle, bdaddr, link type, enc */
		if (plen < 11 || !is_ours(p, e + 3) || p->st != PS_CONNECTING)
			break;
		if (e[0]) {
			finish(p, e[0] == HCI_ST_PAGE_TIMEOUT || e[0] == HCI_ST_CONN_TIMEOUT ||
				  e[0] == HCI_ST_CONN_ACCEPT_TIMEOUT ? MUX_PAIR_UNREACHABLE :
				  MUX_PAIR_FAILED, e[0]);
			break;
		}
		p->connected = true;
		p->handle = get_le16(e + 1);
		p->st = PS_AUTH;
		send_cmd(p, HCI_OP_AUTH_REQUESTED, e + 1, 2);
		break;
	case HCI_EV_LINK_KEY_REQ:
		/* No key of ours: pair (the mux answers itself for a bonded device). */
		if (plen >= 6 && is_ours(p, e))
			send_addr_cmd(p, HCI_OP_LINK_KEY_NEG_REPLY);
		break;
	case HCI_EV_PIN_CODE_REQ:
		if (plen >= 6 && is_ours(p, e)) {
			p->pin = true;
			send_addr_cmd(p, HCI_OP_PIN_CODE_NEG_REPLY);
		}
		break;
	case HCI_EV_IO_CAPA_REQUEST:
		if (plen < 6 || !is_ours(p, e))
			break;
		/*
		 * DisplayYesNo: the admin at a terminal sees a number and
		 * answers; no OOB; MITM protection required, Dedicated
		 * Bonding (7.1.29), so a device that can compare numbers
		 * does, and one without I/O falls back to Just Works.
		 */
		memcpy(resp, p->a.b, 6);
		resp[6] = 0x01;
		resp[7] = 0x00;
		resp[8] = 0x03;
		send_cmd(p, HCI_OP_IO_CAPABILITY_REPLY, resp, 9);
		break;
	case HCI_EV_IO_CAPA_RESPONSE:
		if (plen >= 9 && is_ours(p, e))
			p->remote_io = e[6];
		break;
	case HCI_EV_USER_CONFIRM_REQUEST:
		if (plen < 10 || !is_ours(p, e))
			break;
		if (p->remote_io == 0x03) {
			/* Just Works: nothing to compare (Vol 3 Part C 5.2.2.6). */
			p->ops.prompt(p, MUX_PAIR_JUST_WORKS, 0, p->user);
			send_addr_cmd(p, HCI_OP_USER_CONFIRM_REPLY);
			break;
		}
		p->st = PS_ASKING;
		p->ops.prompt(p, MUX_PAIR_CONFIRM, get_le32(e + 6) % 1000000, p->user);
		break;
	case HCI_EV_USER_PASSKEY_NOTIFY:
		if (plen >= 10 && is_ours(p, e))
			p->ops.prompt(p, MUX_PAIR_PASSKEY, get_le32(e + 6) % 1000000, p->user);
		break;
	case HCI_EV_USER_PASSKEY_REQUEST:
		/* Not with DisplayYesNo; refused rather than guessed. */
		if (plen >= 6 && is_ours(p, e))
			send_addr_cmd(p, HCI_OP_USER_PASSKEY_NEG_REPLY);
		break;
	case HCI_EV_SIMPLE_PAIR_COMPLETE:
		if (plen >= 7 && is_ours(p, e + 1))
			p->ssp_status = e[0];
		break;
	case HCI_EV_LINK_KEY_NOTIFY:
		/* The mux kept the device's key and sent this host a random one. */
		if (plen >= HCI_EV_LINK_KEY_NOTIFY_LEN && is_ours(p, e))
			p->key_notified = true;
		break;
	case HCI_EV_AUTH_COMPLETE:
		if (plen >= 3 && p->connected && get_le16(e + 1) == p->handle &&
		    p->st >= PS_AUTH)
			on_auth_complete(p, e[0]);
		break;
	case HCI_EV_DISCONN_COMPLETE:
		if (plen >= 4 && p->connected && get_le16(e + 1) == p->handle) {
			p->connected = false;
			finish(p, MUX_PAIR_FAILED, e[3]);
		}
		break;
	case HCI_EV_HARDWARE_ERROR:
		finish(p, MUX_PAIR_ENDED, 0);
		break;
	default:
		break;
	}
}

/* The core's emit: queued, handled from the loop (no re-entry into the core). */
static int pair_emit(const uint8_t *h4, size_t len, void *user)
{
	struct mux_pair *p = user;
	unsigned i;

	if (len < 1 || h4[0] != H4_EVT)
		return 0;	/* no data is expected: the link carries none */
	if (len > PAIR_EV_MAX || p->qn == PAIR_QUEUE)
		return -ENOBUFS;
	i = (p->qhead + p->qn) % PAIR_QUEUE;
	memcpy(p->q[i], h4, len);
	p->qlen[i] = (uint16_t)len;
	p->qn++;
	loop_timer_arm(p->run, 0);
	return 0;
}

static void pair_run(struct loop_timer *t, void *user)
{
	struct mux_pair *p = user;
	unsigned i, n;

	p->in_run = true;
	if (p->st == PS_SETUP)
		start(p);
	/* Bounded: what was queued plus what handling it queues, twice over. */
	for (n = 0; n < 4 * PAIR_QUEUE && p->qn && !p->finished; n++) {
		i = p->qhead;
		p->qhead = (p->qhead + 1) % PAIR_QUEUE;
		p->qn--;
		on_event(p, p->q[i], p->qlen[i]);
		secmem_wipe(p->q[i], p->qlen[i]);
	}
	if (!p->finished && !p->s)
		finish(p, MUX_PAIR_ENDED, 0);
	if (!p->finished && mux_session_is_dead(p->s))
		finish(p, MUX_PAIR_ENDED, 0);
	p->in_run = false;
	if (p->finished) {
		loop_timer_disarm(p->timeout);
		/* The last use of p: done may free it. */
		p->ops.done(p, p->res, p->res_status, p->user);
		return;
	}
	if (p->qn)
		loop_timer_arm(p->run, 0);
}

static void pair_timeout(struct loop_timer *t, void *user)
{
	struct mux_pair *p = user;

	finish(p, MUX_PAIR_TIMEOUT, 0);
}

struct mux_pair *mux_pair_start(struct mux *m, struct loop *l, const struct bdaddr *a,
				const struct mux_pair_ops *ops, void *user)
{
	struct mux_pair *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->m = m;
	p->ops = *ops;
	p->user = user;
	p->a = *a;
	p->st = PS_SETUP;
	p->remote_io = 0xff;
	p->run = loop_timer_new(l, pair_run, p);
	p->timeout = loop_timer_new(l, pair_timeout, p);
	if (!p->run || !p->timeout)
		goto fail;
	p->s = mux_session_new(m, MUX_PAIR_USER, pair_emit, p);
	if (!p->s)
		goto fail;
	loop_timer_arm(p->run, 0);
	loop_timer_arm(p->timeout, MUX_PAIR_TIMEOUT_US);
	return p;
fail:
	loop_timer_free(p->run);
	loop_timer_free(p->timeout);
	free(p);
	return NULL;
}

int mux_pair_answer(struct mux_pair *p, bool yes)
{
	if (p->st != PS_ASKING || p->finished)
		return -EALREADY;
	p->st = PS_AUTH;
	if (!yes)
		p->admin_no = true;
	send_addr_cmd(p, yes ? HCI_OP_USER_CONFIRM_REPLY : HCI_OP_USER_CONFIRM_NEG_REPLY);
	/* What the command's answer brought is handled from the loop. */
	if (p->qn || p->finished)
		loop_timer_arm(p->run, 0);
	return 0;
}

bool mux_pair_session_dead(struct mux_pair *p, const struct mux_session *s)
{
	if (!p || p->s != s)
		return false;
	finish(p, MUX_PAIR_ENDED, 0);
	return true;
}

void mux_pair_free(struct mux_pair *p)
{
	if (!p)
		return;
	loop_timer_free(p->run);
	loop_timer_free(p->timeout);
	/* Its link is disconnected with it (mux_session_free). */
	if (p->s)
		mux_session_free(p->s);
	secmem_wipe(p->q, sizeof(p->q));
	free(p);
}
