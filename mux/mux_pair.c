/* SPDX-License-Identifier: MIT */
/*
 * Pairing at the gateway (mux/pair.h): the admin's internal session,
 * driven as a host drives its controller. Only the public API of mux.h:
 * the core treats it as any session (its own handles, its own events,
 * the policy deciding what it may reach), so nothing of it reaches
 * another session and the household key reaches it only replaced by a
 * random one (mux_bond.c, mux_bond_le.c), which is wiped here on arrival.
 *
 * For an LE device this is the SMP initiator (Vol 3 Part H): every PDU
 * from the device is length-checked in full, anything out of order ends
 * the pairing with Pairing Failed; the TK, the randoms and the STK are
 * wiped when the pairing ends, the check values compared in constant time.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "log.h"
#include "pair.h"
#include "rpa.h"
#include "secmem.h"
#include "smp_crypto.h"
#include "smp_defs.h"

#define PAIR_QUEUE	16	/* events and SMP packets from the core not yet handled */
#define PAIR_EV_MAX	(3 + 255)

enum pair_state {
	PS_SETUP = 1,	/* event mask and SSP mode written, connecting */
	PS_CONNECTING,	/* Create Connection accepted */
	PS_AUTH,	/* Authentication Requested sent */
	PS_ASKING,	/* User Confirmation Request shown to the admin */
	PS_ASKING_KEY,	/* User Passkey Request: the admin types */
	PS_LE_RSP,	/* LE: Pairing Request sent */
	PS_LE_ENTER,	/* LE: the admin types the passkey the device shows */
	PS_LE_CONFIRM,	/* LE: our Pairing Confirm sent */
	PS_LE_RANDOM,	/* LE: our Pairing Random sent */
	PS_SC_PK,	/* SC: our Pairing Public Key sent */
	PS_SC_CONFIRM,	/* SC, Just Works or numeric comparison: Cb awaited */
	PS_SC_RANDOM,	/* SC: our Na sent, Nb awaited */
	PS_SC_ASK,	/* SC numeric comparison: the admin compares */
	PS_SC_ENTER,	/* SC passkey entry: the admin types */
	PS_SC_PK_CONFIRM,	/* SC passkey round: our Cai sent, Cbi awaited */
	PS_SC_PK_RANDOM,	/* SC passkey round: our Nai sent, Nbi awaited */
	PS_SC_CHECK,	/* SC: our DHKey check Ea sent, Eb awaited */
	PS_LE_ENC,	/* LE: LE Enable Encryption with the STK (SC: LTK) sent */
	PS_LE_KEYS,	/* LE: encrypted, the device's keys awaited */
	PS_DONE,
};

/* The LE pairing's state: secrets, wiped when it ends (le_wipe). */
struct pair_le {
	uint8_t ia[6];			/* our address (Read BD_ADDR), public */
	bool have_ia;
	uint8_t preq[7], pres[7];
	uint8_t tk[16];
	uint8_t mrand[16], sconf[16];
	uint8_t want_kd, got_kd;	/* the device's keys: promised, received */
	bool ei_seen;			/* Encryption Information before Central Identification */
	bool idi_seen;			/* Identity Information before its address */
	uint8_t irk[16];		/* the device's (3.6.4), as SMP carries it */
	uint8_t ida[7];			/* its identity (3.6.5): type, address */
	/* LE Secure Connections (2.3.5.6) */
	bool sc;
	uint8_t method;			/* SC_JW, SC_NC, SC_PK_ENTER, SC_PK_SHOW */
	struct smp_p256 kp;		/* ours */
	uint8_t pkb[64];		/* the device's public key */
	uint8_t dhkey[32];
	uint8_t na[16], nb[16], cb[16];
	uint32_t passkey;
	unsigned round;			/* passkey entry: 0-19 */
	uint8_t mackey[16], ltk[16];
	/* An SMP PDU of the device across ACL fragments (the public key). */
	uint8_t rx[4 + 65];
	uint16_t rx_have, rx_want;
};

enum { SC_JW = 1, SC_NC, SC_PK_ENTER, SC_PK_SHOW };

struct mux_pair {
	struct mux_session *s;
	struct loop_timer *run;		/* handles queued events, zero delay */
	struct loop_timer *timeout;
	struct mux_pair_ops ops;
	void *user;
	struct mux_pair_dev dev;
	enum pair_state st;
	uint16_t handle;		/* the session's own */
	bool connected;
	bool key_notified;		/* a Link Key Notification came */
	uint8_t remote_io;		/* IO Capability Response, 0xff: none yet */
	uint8_t ssp_status;		/* Simple Pairing Complete's, if it failed */
	bool admin_no;
	bool pin;
	bool acl_smp;			/* the device's ACL being queued is SMP */
	struct pair_le le;
	enum mux_pair_result res;
	uint8_t res_status;
	bool finished;			/* done to be called */
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
	[MUX_PAIR_NO_KEY] = "the device distributes no key (it does not bond)",
	[MUX_PAIR_NO_IDENTITY] = "the device, on a private address, gives no identity that address resolves to",
};

const char *mux_pair_result_str(enum mux_pair_result r)
{
	return (unsigned)r < sizeof(result_str) / sizeof(result_str[0]) && result_str[r] ?
		result_str[r] : "unknown";
}

static void le_wipe(struct mux_pair *p)
{
	secmem_wipe(&p->le, sizeof(p->le));
}

static void finish(struct mux_pair *p, enum mux_pair_result res, uint8_t st)
{
	le_wipe(p);
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

	if (plen > sizeof(h4) - 4)
		return;
	h4[0] = H4_CMD;
	put_le16(h4 + 1, op);
	h4[3] = plen;
	if (plen)
		memcpy(h4 + 4, param, plen);
	r = mux_session_input(p->s, h4, 4u + plen);
	secmem_wipe(h4, sizeof(h4));
	if (r < 0)
		finish(p, MUX_PAIR_ENDED, 0);
}

static void send_addr_cmd(struct mux_pair *p, uint16_t op)
{
	send_cmd(p, op, p->dev.a.b, 6);
}

static void start(struct mux_pair *p)
{
	/* Connection, authentication, SSP and LE Meta events (Vol 4 Part E 7.3.1). */
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	uint8_t cc[25] = { 0 };

	send_cmd(p, HCI_OP_SET_EVENT_MASK, mask, sizeof(mask));
	if (p->dev.le) {
		/* Our address, for c1 (2.2.3): the public one we connect from. */
		send_cmd(p, HCI_OP_READ_BD_ADDR, NULL, 0);
		/*
		 * LE Create Connection (7.8.12): scan 60 ms of every 60 ms,
		 * no accept list, the device's address and type, our public
		 * address, interval 30-50 ms, no latency, supervision 5 s.
		 */
		put_le16(cc, 0x0060);
		put_le16(cc + 2, 0x0060);
		cc[4] = 0x00;
		cc[5] = p->dev.type;
		memcpy(cc + 6, p->dev.a.b, 6);
		cc[12] = 0x00;
		put_le16(cc + 13, 0x0018);
		put_le16(cc + 15, 0x0028);
		put_le16(cc + 17, 0x0000);
		put_le16(cc + 19, 0x01f4);
		send_cmd(p, HCI_OP_LE_CREATE_CONN, cc, 25);
		p->st = PS_CONNECTING;
		return;
	}
	send_cmd(p, HCI_OP_WRITE_SIMPLE_PAIRING_MODE, "\x01", 1);
	/* Create Connection (7.1.5): DM1..DH5, R2, no clock offset, no role switch. */
	memcpy(cc, p->dev.a.b, 6);
	put_le16(cc + 6, 0xcc18);
	cc[8] = 0x01;
	send_cmd(p, HCI_OP_CREATE_CONN, cc, 13);
	p->st = PS_CONNECTING;
}

static bool is_ours(const struct mux_pair *p, const uint8_t *addr)
{
	return memcmp(addr, p->dev.a.b, 6) == 0;
}

/* ------------------------------------------------------------------ */
/* LE: SMP as the initiator (Vol 3 Part H 2.3, 3.5, 3.6) */

/*
 * One SMP PDU to the device: a basic L2CAP frame on the fixed channel,
 * in fragments of 27 octets, the LE ACL data length every controller
 * takes (Vol 4 Part E 7.8.2), so the 69 of a public key need no
 * knowledge of the controller's buffers.
 */
#define LE_FRAG	27
static void smp_send(struct mux_pair *p, const uint8_t *pdu, size_t n)
{
	uint8_t l2[4 + 65], h4[5 + LE_FRAG];
	size_t off, k;
	int len, r = -EMSGSIZE;

	if (n <= 65) {
		put_le16(l2, (uint16_t)n);
		put_le16(l2 + 2, CID_SMP);
		memcpy(l2 + 4, pdu, n);
		for (off = 0, r = 0; off < n + 4 && r >= 0; off += k) {
			k = n + 4 - off > LE_FRAG ? LE_FRAG : n + 4 - off;
			len = h4_build_acl(h4, sizeof(h4), p->handle,
					   off ? HCI_PB_CONT : HCI_PB_FIRST_NOFLUSH, 0, l2 + off, k);
			r = len > 0 ? mux_session_input(p->s, h4, (size_t)len) : -EMSGSIZE;
		}
	}
	secmem_wipe(l2, sizeof(l2));
	secmem_wipe(h4, sizeof(h4));
	if (r < 0)
		finish(p, MUX_PAIR_ENDED, 0);
}

/* Pairing Failed to the device (3.5.5), and the pairing's outcome. */
static void smp_fail(struct mux_pair *p, uint8_t reason, enum mux_pair_result res)
{
	uint8_t f[2] = { SMP_FAILED, reason };
	char as[BDADDR_STRLEN];

	log_info("pairing at the gateway: %s: pairing failed here (SMP reason 0x%02x)",
		 bdaddr_fmt(&p->dev.a, as), reason);
	smp_send(p, f, sizeof(f));
	finish(p, res, 0);
}

/* c1 with our address and the device's (2.2.3): the confirm value of r. */
static int le_c1(struct mux_pair *p, const uint8_t r[16], uint8_t out[16])
{
	return smp_c1(p->le.tk, r, p->le.preq, p->le.pres, 0x00, p->le.ia,
		      p->dev.type, p->dev.a.b, out);
}

/* Our Mrand and Mconfirm (2.3.5.5): the TK is known now. */
static void le_confirm(struct mux_pair *p)
{
	uint8_t c[17];

	c[0] = SMP_CONFIRM;
	if (getrandom(p->le.mrand, 16, 0) != 16 || le_c1(p, p->le.mrand, c + 1) < 0) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	p->st = PS_LE_CONFIRM;
	smp_send(p, c, sizeof(c));
	secmem_wipe(c, sizeof(c));
}

/*
 * The link is up: our Pairing Request (3.5.1). KeyboardDisplay, so the
 * admin at a terminal can type the passkey a device shows or read one
 * out to type on it; no OOB; bonding, MITM protection and Secure
 * Connections; the largest key; nothing from us; the device's LTK
 * (EncKey, legacy only) and identity (IdKey).
 */
static void le_pair_start(struct mux_pair *p)
{
	static const uint8_t req[7] = {
		SMP_PAIRING_REQ, IO_KEYBOARD_DISPLAY, 0x00,
		AUTH_BONDING | AUTH_MITM | AUTH_SC, 16, 0x00, KD_ENC | KD_ID,
	};

	if (!p->le.have_ia) {
		/* Read BD_ADDR precedes every connection; without it no c1. */
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	memcpy(p->le.preq, req, sizeof(req));
	p->st = PS_LE_RSP;
	smp_send(p, req, sizeof(req));
}

/* ---- LE Secure Connections, the initiator's side (2.3.5.6) ---- */

/* The addresses of f5/f6 (2.2.7): the BD_ADDR, then its type. */
static void sc_addrs(const struct mux_pair *p, uint8_t a[7], uint8_t b[7])
{
	memcpy(a, p->le.ia, 6);
	a[6] = 0x00;			/* we connect from our public address */
	memcpy(b, p->dev.a.b, 6);
	b[6] = p->dev.type;
}

/* The passkey's bit of this round as f4's Z (2.3.5.6.3): 0x80 | bit. */
static uint8_t sc_z(const struct mux_pair *p)
{
	return (uint8_t)(0x80 | ((p->le.passkey >> p->le.round) & 1));
}

/* Passkey entry, one of 20 rounds: our Nai and Cai = f4(PKax, PKbx, Nai, rai). */
static void sc_round(struct mux_pair *p)
{
	uint8_t c[17];

	c[0] = SMP_CONFIRM;
	if (getrandom(p->le.na, 16, 0) != 16 ||
	    smp_f4(p->le.kp.pub, p->le.pkb, p->le.na, sc_z(p), c + 1) < 0) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	p->st = PS_SC_PK_CONFIRM;
	smp_send(p, c, sizeof(c));
	secmem_wipe(c, sizeof(c));
}

/*
 * Phase 2 ends (2.3.5.6.5): MacKey and LTK = f5(DHKey, Na, Nb, A, B),
 * and our DHKey check Ea = f6(MacKey, Na, Nb, rb, IOcapA, A, B), rb the
 * passkey in passkey entry, else 0; IOcapA our Pairing Request's IO
 * capability, OOB flag and AuthReq, least significant first.
 */
static void sc_check(struct mux_pair *p)
{
	uint8_t a[7], b[7], r[16] = { 0 }, e[17];

	sc_addrs(p, a, b);
	if (p->le.method == SC_PK_ENTER || p->le.method == SC_PK_SHOW)
		put_le32(r, p->le.passkey);
	e[0] = SMP_DHKEY_CHECK;
	if (smp_f5(p->le.dhkey, p->le.na, p->le.nb, a, b, p->le.mackey, p->le.ltk) < 0 ||
	    smp_f6(p->le.mackey, p->le.na, p->le.nb, r, p->le.preq + 1, a, b, e + 1) < 0) {
		secmem_wipe(r, sizeof(r));
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	secmem_wipe(r, sizeof(r));
	p->st = PS_SC_CHECK;
	smp_send(p, e, sizeof(e));
	secmem_wipe(e, sizeof(e));
}

/*
 * The device's DHKey check Eb = f6(MacKey, Nb, Na, ra, IOcapB, B, A),
 * checked in constant time; then the link is encrypted with the LTK,
 * shortened to the negotiated size, EDIV and Rand 0 (2.4.4, 7.8.24).
 */
static void sc_on_check(struct mux_pair *p, const uint8_t *eb)
{
	uint8_t a[7], b[7], r[16] = { 0 }, e[16], enc[28];
	unsigned i;
	bool ok;

	sc_addrs(p, a, b);
	if (p->le.method == SC_PK_ENTER || p->le.method == SC_PK_SHOW)
		put_le32(r, p->le.passkey);
	ok = smp_f6(p->le.mackey, p->le.nb, p->le.na, r, p->le.pres + 1, b, a, e) == 0 &&
	     secmem_is_equal(e, eb, 16);
	secmem_wipe(r, sizeof(r));
	secmem_wipe(e, sizeof(e));
	if (!ok) {
		smp_fail(p, SMP_R_DHKEY_CHECK, MUX_PAIR_FAILED);
		return;
	}
	for (i = p->le.pres[4]; i < 16; i++)
		p->le.ltk[i] = 0;
	memset(enc, 0, sizeof(enc));
	put_le16(enc, p->handle);
	memcpy(enc + 12, p->le.ltk, 16);
	p->st = PS_LE_ENC;
	send_cmd(p, HCI_OP_LE_START_ENCRYPTION, enc, sizeof(enc));
	secmem_wipe(enc, sizeof(enc));
}

/*
 * SC agreed: the association model (Table 2.8, SC) for a KeyboardDisplay
 * initiator asking MITM: Just Works with a NoInputNoOutput device,
 * numeric comparison with one that can say yes or no (DisplayYesNo,
 * KeyboardDisplay), passkey entry otherwise: the device displays and the
 * admin types (DisplayOnly), or we display and the device's user types
 * (KeyboardOnly). Then our public key (3.5.6), from a new key pair.
 */
static void sc_start(struct mux_pair *p)
{
	uint8_t pk[65];

	switch (p->le.pres[1]) {
	case IO_NONE:
		p->le.method = SC_JW;
		break;
	case IO_DISPLAY_ONLY:
		p->le.method = SC_PK_ENTER;
		break;
	case IO_KEYBOARD_ONLY:
		p->le.method = SC_PK_SHOW;
		break;
	default:
		p->le.method = SC_NC;
		break;
	}
	if (smp_p256_generate(&p->le.kp) < 0) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	pk[0] = SMP_PUBLIC_KEY;
	memcpy(pk + 1, p->le.kp.pub, 64);
	p->st = PS_SC_PK;
	smp_send(p, pk, sizeof(pk));
}

/*
 * The device's public key: on the curve (an invalid point is the
 * invalid-curve attack, CVE-2018-5383) and not ours reflected (2.3.5.6.1
 * warns of a device echoing the initiator's key); the DHKey from it.
 */
static void sc_on_pubkey(struct mux_pair *p, const uint8_t *k)
{
	uint32_t pk;

	memcpy(p->le.pkb, k, 64);
	if (secmem_is_equal(p->le.pkb, p->le.kp.pub, 32) ||
	    smp_p256_dhkey(&p->le.kp, p->le.pkb, p->le.dhkey) < 0) {
		smp_fail(p, SMP_R_DHKEY_CHECK, MUX_PAIR_FAILED);
		return;
	}
	switch (p->le.method) {
	case SC_JW: case SC_NC:
		/* The device commits first: Cb = f4(PKbx, PKax, Nb, 0). */
		p->st = PS_SC_CONFIRM;
		break;
	case SC_PK_ENTER:
		p->st = PS_SC_ENTER;
		p->ops.prompt(p, MUX_PAIR_ENTER, 0, p->user);
		break;
	default:
		if (getrandom(&pk, sizeof(pk), 0) != sizeof(pk)) {
			smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
			return;
		}
		p->le.passkey = pk % 1000000;
		secmem_wipe(&pk, sizeof(pk));
		p->ops.prompt(p, MUX_PAIR_PASSKEY, p->le.passkey, p->user);
		if (!p->finished)
			sc_round(p);
		break;
	}
}

/* The device's Pairing Confirm in SC: Cb (or Cbi); our Na (Nai) answers it. */
static void sc_on_confirm(struct mux_pair *p, const uint8_t *c)
{
	uint8_t r[17];

	memcpy(p->le.cb, c, 16);
	if (p->st == PS_SC_CONFIRM && getrandom(p->le.na, 16, 0) != 16) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	r[0] = SMP_RANDOM;
	memcpy(r + 1, p->le.na, 16);
	p->st = p->st == PS_SC_CONFIRM ? PS_SC_RANDOM : PS_SC_PK_RANDOM;
	smp_send(p, r, sizeof(r));
	secmem_wipe(r, sizeof(r));
}

/* The device's Pairing Random in SC: Nb (Nbi), its commitment checked. */
static void sc_on_random(struct mux_pair *p, const uint8_t *nb)
{
	uint8_t chk[16];
	uint8_t z = p->st == PS_SC_PK_RANDOM ? sc_z(p) : 0;
	uint32_t v;
	bool ok;

	memcpy(p->le.nb, nb, 16);
	ok = smp_f4(p->le.pkb, p->le.kp.pub, p->le.nb, z, chk) == 0 &&
	     secmem_is_equal(chk, p->le.cb, 16);
	secmem_wipe(chk, sizeof(chk));
	if (!ok) {
		/* In passkey entry: the two sides' passkeys differ. */
		smp_fail(p, SMP_R_CONFIRM_FAILED, MUX_PAIR_REJECTED);
		return;
	}
	if (p->st == PS_SC_PK_RANDOM) {
		if (++p->le.round < 20)
			sc_round(p);
		else
			sc_check(p);
		return;
	}
	if (p->le.method == SC_JW) {
		p->ops.prompt(p, MUX_PAIR_JUST_WORKS, 0, p->user);
		if (!p->finished)
			sc_check(p);
		return;
	}
	/* Numeric comparison: Va = g2(PKax, PKbx, Na, Nb), for the admin. */
	if (smp_g2(p->le.kp.pub, p->le.pkb, p->le.na, p->le.nb, &v) < 0) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	p->st = PS_SC_ASK;
	p->ops.prompt(p, MUX_PAIR_CONFIRM, v % 1000000, p->user);
}

/*
 * The identity the device gave with its IRK (SC; a legacy pairing's is
 * judged by the mux as the key passes, mux_bond_le.c): a public or
 * static random address (Vol 6 Part B 1.3), that the link is to: the
 * address paired, or, for a resolvable private address, one the IRK
 * resolves (2.2.2). Then *id, *idt and the IRK in *b (none if all zero:
 * the device has none). The mux checks the user's access to it.
 */
static bool le_identity(const struct mux_pair *p, struct bdaddr *id, uint8_t *idt,
			struct mux_le_bond *b)
{
	static const uint8_t zero[16];
	const struct pair_le *l = &p->le;
	bool has_irk = !secmem_is_equal(l->irk, zero, 16);

	if (!(l->got_kd & KD_ID))
		return false;
	*idt = l->ida[0];
	memcpy(id->b, l->ida + 1, 6);
	if (*idt > BDADDR_RANDOM || (*idt == BDADDR_RANDOM && (id->b[5] & 0xc0) != 0xc0))
		return false;
	if (!(bdaddr_eq(id, &p->dev.a) && *idt == p->dev.type) &&
	    !(has_irk && p->dev.type == BDADDR_RANDOM && rpa_matches(l->irk, &p->dev.a)))
		return false;
	b->has_irk = has_irk;
	if (has_irk)
		memcpy(b->irk, l->irk, 16);
	return true;
}

/*
 * Every key the device announced has come: a legacy LTK is the household
 * bond already (the mux kept it as it passed); an SC LTK crossed no HCI,
 * so it is handed to the mux to keep (EDIV and Rand 0, 2.3.5.6.5), under
 * the identity the device gave, with its IRK, or the address paired.
 */
static void le_done(struct mux_pair *p)
{
	struct mux_le_bond b;
	struct bdaddr id = p->dev.a;
	uint8_t idt = p->dev.type;
	char as[BDADDR_STRLEN], is[BDADDR_STRLEN];
	bool with_irk;
	int r;

	memset(&b, 0, sizeof(b));
	if (!p->le.sc) {
		/*
		 * The mux kept the key under the identity the device gave
		 * when it passed its checks; named by a private address, a
		 * device whose identity does not is bonded under none.
		 */
		if (p->dev.type == BDADDR_RANDOM && rpa_is_resolvable(&p->dev.a) &&
		    !le_identity(p, &id, &idt, &b)) {
			secmem_wipe(&b, sizeof(b));
			finish(p, MUX_PAIR_NO_IDENTITY, 0);
			return;
		}
		secmem_wipe(&b, sizeof(b));
		finish(p, MUX_PAIR_OK, 0);
		return;
	}
	if ((p->le.got_kd & KD_ID) && !le_identity(p, &id, &idt, &b)) {
		log_notice("pairing at the gateway: %s gave an identity that is not its own (%s): the bond is kept under the address paired",
			   bdaddr_fmt(&p->dev.a, as), bdaddr_fmt(&id, is));
		id = p->dev.a;
		idt = p->dev.type;
	}
	if (idt == BDADDR_RANDOM && rpa_is_resolvable(&id)) {
		/* A bond under an RPA would be lost at the device's next. */
		log_notice("pairing at the gateway: %s is a private address and the device gave no identity resolving it: no bond",
			   bdaddr_fmt(&p->dev.a, as));
		secmem_wipe(&b, sizeof(b));
		finish(p, MUX_PAIR_NO_IDENTITY, 0);
		return;
	}
	memcpy(b.ltk, p->le.ltk, 16);
	b.key_size = p->le.pres[4];
	b.authenticated = p->le.method != SC_JW;
	with_irk = b.has_irk;
	r = mux_session_bond_le(p->s, &id, idt, &b);
	secmem_wipe(&b, sizeof(b));
	if (r < 0) {
		log_err("pairing at the gateway: the LE key of %s could not be kept as the household bond (%s)",
			bdaddr_fmt(&id, as), strerror(-r));
		finish(p, MUX_PAIR_FAILED, 0);
		return;
	}
	log_notice("pairing at the gateway: %s paired with LE Secure Connections: its key is now the household bond%s",
		   bdaddr_fmt(&id, as), with_irk ? ", with its IRK" : "");
	finish(p, MUX_PAIR_OK, 0);
}

/*
 * The device's Pairing Response: checked, then the association model of
 * LE legacy pairing (2.3.5.1, Table 2.8) with us as a KeyboardDisplay
 * initiator asking MITM protection: Just Works with a NoInputNoOutput
 * device; the device displays and the admin types when it has a display
 * and no keyboard; otherwise we display and the device's user types.
 */
static void le_response(struct mux_pair *p, const uint8_t *r, size_t n)
{
	uint32_t pk;

	if (n != 7 || r[1] > IO_KEYBOARD_DISPLAY || r[2] > 0x01 ||
	    (r[5] & ~p->le.preq[5]) || (r[6] & ~p->le.preq[6])) {
		smp_fail(p, SMP_R_INVALID_PARAMS, MUX_PAIR_FAILED);
		return;
	}
	if (r[4] < 7 || r[4] > 16) {
		smp_fail(p, SMP_R_ENC_KEY_SIZE, MUX_PAIR_FAILED);
		return;
	}
	p->le.sc = (p->le.preq[3] & r[3] & AUTH_SC) != 0;
	/* No bond, or (legacy) no LTK of the device's: nothing to keep. */
	if (!(r[3] & AUTH_BONDING) || (!p->le.sc && !(r[6] & KD_ENC))) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_NO_KEY);
		return;
	}
	/*
	 * Named by a resolvable private address, a device that will not
	 * give its identity (IdKey) could only be bonded under that
	 * address, which it leaves within minutes (Vol 6 Part B 1.3.2.2):
	 * a bond no one would find again.
	 */
	if (p->dev.type == BDADDR_RANDOM && rpa_is_resolvable(&p->dev.a) && !(r[6] & KD_ID)) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_NO_IDENTITY);
		return;
	}
	memcpy(p->le.pres, r, 7);
	memset(p->le.tk, 0, sizeof(p->le.tk));
	if (p->le.sc) {
		sc_start(p);
		return;
	}
	if (r[1] == IO_NONE) {
		p->ops.prompt(p, MUX_PAIR_JUST_WORKS, 0, p->user);
		le_confirm(p);
	} else if (r[1] == IO_DISPLAY_ONLY || r[1] == IO_DISPLAY_YESNO) {
		p->st = PS_LE_ENTER;
		p->ops.prompt(p, MUX_PAIR_ENTER, 0, p->user);
	} else {
		if (getrandom(&pk, sizeof(pk), 0) != sizeof(pk)) {
			smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
			return;
		}
		pk %= 1000000;
		put_le32(p->le.tk, pk);
		p->ops.prompt(p, MUX_PAIR_PASSKEY, pk, p->user);
		secmem_wipe(&pk, sizeof(pk));
		if (!p->finished)
			le_confirm(p);
	}
}

/* The device's Pairing Random: its confirm checked, then the STK (2.3.5.5). */
static void le_random(struct mux_pair *p, const uint8_t *srand)
{
	uint8_t chk[16], enc[28];
	unsigned i;

	if (le_c1(p, srand, chk) < 0 || !secmem_is_equal(chk, p->le.sconf, 16)) {
		secmem_wipe(chk, sizeof(chk));
		/* A wrong passkey on either side ends here (or at the device). */
		smp_fail(p, SMP_R_CONFIRM_FAILED, MUX_PAIR_REJECTED);
		return;
	}
	secmem_wipe(chk, sizeof(chk));
	/* LE Enable Encryption (Vol 4 Part E 7.8.24): the STK, EDIV and Rand 0. */
	memset(enc, 0, sizeof(enc));
	put_le16(enc, p->handle);
	if (smp_s1(p->le.tk, srand, p->le.mrand, enc + 12) < 0) {
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
		return;
	}
	/* Shortened to the negotiated size (2.3.4): the responder's. */
	for (i = p->le.pres[4]; i < 16; i++)
		enc[12 + i] = 0;
	p->st = PS_LE_ENC;
	send_cmd(p, HCI_OP_LE_START_ENCRYPTION, enc, sizeof(enc));
	secmem_wipe(enc, sizeof(enc));
}

/* The device's Pairing Failed (3.5.5): its reason, for the admin. */
static void le_failed(struct mux_pair *p, uint8_t reason)
{
	char as[BDADDR_STRLEN];
	enum mux_pair_result res;

	log_info("pairing at the gateway: %s refused the pairing (SMP reason 0x%02x)",
		 bdaddr_fmt(&p->dev.a, as), reason);
	switch (reason) {
	case SMP_R_AUTH_REQUIREMENTS:
		/* What we offer (MITM, SC) does not meet what it demands. */
	case SMP_R_PASSKEY_FAILED: case SMP_R_CONFIRM_FAILED: case SMP_R_NOT_SUPPORTED:
	case SMP_R_REPEATED: case SMP_R_NUMERIC_COMP:
		res = MUX_PAIR_REJECTED;
		break;
	default:
		res = MUX_PAIR_FAILED;
		break;
	}
	finish(p, res, 0);
}

/*
 * The device's key distribution (3.6.1), after the link is encrypted:
 * only the keys its Pairing Response promised (want_kd: in SC never
 * EncKey, whose LTK is derived), each once, in the order 3.6.1 gives
 * (Encryption Information, Central Identification, Identity
 * Information, Identity Address Information, Signing Information). A
 * key it did not promise, or one out of that order, ends the pairing
 * with Pairing Failed: a device that sends what it did not agree to is
 * not one whose keys we keep.
 */
static void le_key(struct mux_pair *p, const uint8_t *d, size_t n)
{
	struct pair_le *l = &p->le;
	uint8_t enc_done = (uint8_t)(l->want_kd & KD_ENC);
	uint8_t id_done = (uint8_t)(l->want_kd & (KD_ENC | KD_ID));

	switch (d[0]) {
	case SMP_ENC_INFO:
		/* The LTK the mux gave us in the device's place: not kept. */
		if (n != 17 || !(l->want_kd & KD_ENC) || l->ei_seen)
			break;
		l->ei_seen = true;
		return;
	case SMP_CENTRAL_IDENT:
		if (n != 11 || !l->ei_seen || (l->got_kd & KD_ENC))
			break;
		l->got_kd |= KD_ENC;
		goto check;
	case SMP_ID_INFO:
		if (n != 17 || !(l->want_kd & KD_ID) || l->idi_seen ||
		    (l->got_kd & enc_done) != enc_done)
			break;
		memcpy(l->irk, d + 1, 16);
		l->idi_seen = true;
		return;
	case SMP_ID_ADDR_INFO:
		if (n != 8 || !l->idi_seen || (l->got_kd & KD_ID))
			break;
		memcpy(l->ida, d + 1, 7);
		l->got_kd |= KD_ID;
		goto check;
	case SMP_SIGN_INFO:
		if (n != 17 || !(l->want_kd & KD_SIGN) || (l->got_kd & KD_SIGN) ||
		    (l->got_kd & id_done) != id_done)
			break;
		l->got_kd |= KD_SIGN;
		goto check;
	default:
		break;
	}
	smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
	return;
check:
	/* Every key the device said it would distribute has come. */
	if ((l->got_kd & l->want_kd) == l->want_kd)
		le_done(p);
}

/* One SMP PDU from the device, whole (smp_acl checked the frame). */
static void on_smp(struct mux_pair *p, const uint8_t *d, size_t n)
{
	switch (d[0]) {
	case SMP_FAILED:
		if (n == 2 && p->st >= PS_LE_RSP && p->st < PS_DONE)
			le_failed(p, d[1]);
		return;
	case SMP_SECURITY_REQ:
		/* The device asks us to pair: we are (3.5.7). */
		return;
	case SMP_PAIRING_RSP:
		if (p->st != PS_LE_RSP)
			break;
		le_response(p, d, n);
		return;
	case SMP_PUBLIC_KEY:
		if (n != 65 || p->st != PS_SC_PK)
			break;
		sc_on_pubkey(p, d + 1);
		return;
	case SMP_DHKEY_CHECK:
		if (n != 17 || p->st != PS_SC_CHECK)
			break;
		sc_on_check(p, d + 1);
		return;
	case SMP_KEYPRESS:
		/* The device's user typing (3.5.8): nothing to do. */
		if (n == 2)
			return;
		break;
	case SMP_CONFIRM:
		if (n == 17 && (p->st == PS_SC_CONFIRM || p->st == PS_SC_PK_CONFIRM)) {
			sc_on_confirm(p, d + 1);
			return;
		}
		if (n != 17 || p->st != PS_LE_CONFIRM)
			break;
		memcpy(p->le.sconf, d + 1, 16);
		{
			uint8_t r[17];

			r[0] = SMP_RANDOM;
			memcpy(r + 1, p->le.mrand, 16);
			p->st = PS_LE_RANDOM;
			smp_send(p, r, sizeof(r));
			secmem_wipe(r, sizeof(r));
		}
		return;
	case SMP_RANDOM:
		if (n == 17 && (p->st == PS_SC_RANDOM || p->st == PS_SC_PK_RANDOM)) {
			sc_on_random(p, d + 1);
			return;
		}
		if (n != 17 || p->st != PS_LE_RANDOM)
			break;
		le_random(p, d + 1);
		return;
	case SMP_ENC_INFO: case SMP_CENTRAL_IDENT: case SMP_ID_INFO: case SMP_ID_ADDR_INFO:
	case SMP_SIGN_INFO:
		if (p->st != PS_LE_KEYS)
			break;
		le_key(p, d, n);
		return;
	default:
		/* Unknown. */
		smp_fail(p, 0x07, MUX_PAIR_FAILED);	/* Command Not Supported */
		return;
	}
	if (p->st >= PS_LE_RSP && p->st < PS_DONE)
		smp_fail(p, SMP_R_UNSPECIFIED, MUX_PAIR_FAILED);
}

/*
 * ACL from the device: only SMP PDUs on our link count, reassembled
 * across fragments (a public key, 69 octets with its header, may come
 * in pieces of 27), bounded by the largest SMP PDU; the link carries
 * nothing else we use (ATT and signalling are ignored).
 */
static void on_acl(struct mux_pair *p, const struct h4_pkt *pkt)
{
	struct pair_le *l = &p->le;
	uint16_t dlen = pkt->acl.dlen, want;
	const uint8_t *d = pkt->acl.data;
	uint8_t pdu[65];
	size_t n;

	if (!p->connected || !p->dev.le || pkt->acl.handle != p->handle)
		return;
	if (pkt->acl.pb != HCI_PB_CONT) {
		l->rx_want = 0;
		if (dlen < 4 || get_le16(d + 2) != CID_SMP)
			return;
		want = (uint16_t)(get_le16(d) + 4u);
		if (want > sizeof(l->rx) || dlen > want || want < 5)
			return;
		memcpy(l->rx, d, dlen);
		l->rx_have = dlen;
		l->rx_want = want;
	} else {
		if (!l->rx_want || dlen > l->rx_want - l->rx_have) {
			l->rx_want = 0;
			return;
		}
		memcpy(l->rx + l->rx_have, d, dlen);
		l->rx_have = (uint16_t)(l->rx_have + dlen);
	}
	if (l->rx_have != l->rx_want)
		return;
	l->rx_want = 0;
	/* A copy: handling it may end the pairing, which wipes l. */
	n = l->rx_have - 4u;
	memcpy(pdu, l->rx + 4, n);
	secmem_wipe(l->rx, sizeof(l->rx));
	on_smp(p, pdu, n);
	secmem_wipe(pdu, sizeof(pdu));
}

/* LE Connection Complete (7.7.65.1) or its enhanced form (7.7.65.10). */
static void on_le_conn(struct mux_pair *p, const uint8_t *c)
{
	uint8_t st = c[0];

	if (!p->dev.le || p->st != PS_CONNECTING)
		return;
	if (st) {
		/* Our one initiation: nothing else of this session connects. */
		finish(p, st == HCI_ST_CONN_FAILED_TO_ESTABLISH || st == HCI_ST_UNKNOWN_CONN_ID ||
			  st == HCI_ST_PAGE_TIMEOUT || st == HCI_ST_CONN_ACCEPT_TIMEOUT ?
			  MUX_PAIR_UNREACHABLE : MUX_PAIR_FAILED, st);
		return;
	}
	if (!is_ours(p, c + 5) || (c[4] & 0x01) != p->dev.type)
		return;
	p->connected = true;
	p->handle = get_le16(c + 1) & 0x0fff;
	le_pair_start(p);
}

static void on_cmd_status(struct mux_pair *p, uint16_t op, uint8_t st)
{
	if (!st)
		return;
	if (op == HCI_OP_CREATE_CONN || op == HCI_OP_LE_CREATE_CONN)
		finish(p, st == HCI_ST_PAGE_TIMEOUT ? MUX_PAIR_UNREACHABLE : MUX_PAIR_FAILED, st);
	else if (op == HCI_OP_AUTH_REQUESTED || op == HCI_OP_SET_EVENT_MASK ||
		 op == HCI_OP_WRITE_SIMPLE_PAIRING_MODE || op == HCI_OP_IO_CAPABILITY_REPLY ||
		 op == HCI_OP_USER_CONFIRM_REPLY || op == HCI_OP_USER_CONFIRM_NEG_REPLY ||
		 op == HCI_OP_USER_PASSKEY_REPLY || op == HCI_OP_USER_PASSKEY_NEG_REPLY ||
		 op == HCI_OP_READ_BD_ADDR || op == HCI_OP_LE_START_ENCRYPTION)
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

/*
 * One packet of the session: the frame checked whole (h4_parse: the
 * declared length is the length), then every parameter's length before
 * a field is read.
 */
static void on_event(struct mux_pair *p, const uint8_t *h4, size_t len)
{
	struct h4_pkt pkt;
	const uint8_t *e;
	uint8_t code, plen, resp[9];

	if (h4_parse(&pkt, h4, len, PAIR_EV_MAX) < 0)
		return;
	if (pkt.type == H4_ACL) {
		on_acl(p, &pkt);
		return;
	}
	if (pkt.type != H4_EVT)
		return;
	code = pkt.evt.code;
	plen = pkt.evt.plen;
	e = pkt.evt.param;
	switch (code) {
	case HCI_EV_CMD_COMPLETE:	/* ncmd, opcode, status */
		if (plen < 4)
			break;
		on_cmd_status(p, get_le16(e + 1), e[3]);
		/* Read BD_ADDR (7.4.6): status, BD_ADDR. */
		if (get_le16(e + 1) == HCI_OP_READ_BD_ADDR && e[3] == 0 && plen >= 10) {
			memcpy(p->le.ia, e + 4, 6);
			p->le.have_ia = true;
		}
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
		if (p->dev.le)
			break;
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
		 * KeyboardOnly when the admin said so (a device that only
		 * displays then shows a passkey the admin types).
		 */
		memcpy(resp, p->dev.a.b, 6);
		resp[6] = p->dev.keyboard ? 0x02 : 0x01;
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
		/*
		 * 7.7.43: the device shows a passkey (we said KeyboardOnly,
		 * or a controller asks anyway): the admin types it, and
		 * mux_pair_passkey answers with the Reply or Negative Reply.
		 */
		if (plen < 6 || !is_ours(p, e) || p->st != PS_AUTH)
			break;
		p->st = PS_ASKING_KEY;
		p->ops.prompt(p, MUX_PAIR_ENTER, 0, p->user);
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
	case HCI_EV_ENCRYPT_CHANGE:	/* status, handle, enabled */
		if (plen < 4 || !p->connected || get_le16(e + 1) != p->handle ||
		    p->st != PS_LE_ENC)
			break;
		if (e[0] || !e[3]) {
			/* The device did not take the STK it made with us. */
			finish(p, e[0] == HCI_ST_PIN_OR_KEY_MISSING || e[0] == HCI_ST_AUTH_FAILURE ?
				  MUX_PAIR_REJECTED : MUX_PAIR_FAILED, e[0]);
			break;
		}
		p->st = PS_LE_KEYS;
		/* In SC the device's EncKey bit means nothing (3.6.1): the LTK is ours. */
		p->le.want_kd = p->le.pres[6] & (p->le.sc ? KD_ID | KD_SIGN : KD_ENC | KD_ID | KD_SIGN);
		if (!p->le.want_kd)
			le_done(p);
		break;
	case HCI_EV_LE_META:
		if (plen >= 1 + HCI_LE_EV_CONN_COMPLETE_LEN &&
		    (e[0] == HCI_LE_EV_CONN_COMPLETE || e[0] == HCI_LE_EV_ENH_CONN_COMPLETE))
			on_le_conn(p, e + 1);
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

	struct h4_pkt pkt;

	/* The core emits whole packets; no other traffic is expected. */
	if (h4_parse(&pkt, h4, len, 0) < 0 || (pkt.type != H4_EVT && pkt.type != H4_ACL))
		return 0;
	if (pkt.type == H4_ACL) {
		/*
		 * Only SMP is queued (its fragments after a first one on
		 * the SMP channel): a device's ATT or signalling traffic,
		 * however much, never fills the queue and ends the pairing.
		 * A first fragment larger than any SMP PDU is none of ours.
		 */
		if (!p->dev.le)
			return 0;
		if (pkt.acl.pb != HCI_PB_CONT)
			p->acl_smp = len <= PAIR_EV_MAX && pkt.acl.dlen >= 4 &&
				     get_le16(pkt.acl.data + 2) == CID_SMP;
		if (!p->acl_smp || len > PAIR_EV_MAX)
			return 0;
	}
	if (p->qn == PAIR_QUEUE)
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

struct mux_pair *mux_pair_start(struct mux *m, struct loop *l, const struct mux_pair_dev *d,
				const struct mux_pair_ops *ops, void *user)
{
	struct mux_pair *p;

	/* Random addresses are LE's (Vol 6 Part B 1.3). */
	if (d->type > BDADDR_RANDOM || (!d->le && d->type != BDADDR_PUBLIC))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ops = *ops;
	p->user = user;
	p->dev = *d;
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

void mux_pair_set_timeout(struct mux_pair *p, uint64_t us)
{
	if (!p->finished)
		loop_timer_arm(p->timeout, us);
}

int mux_pair_passkey(struct mux_pair *p, int32_t passkey)
{
	uint8_t r[10];

	if (p->finished || (p->st != PS_ASKING_KEY && p->st != PS_LE_ENTER &&
			    p->st != PS_SC_ENTER))
		return -EALREADY;
	if (passkey > 999999)
		return -EINVAL;
	if (p->st == PS_SC_ENTER) {
		if (passkey < 0) {
			smp_fail(p, SMP_R_PASSKEY_FAILED, MUX_PAIR_ADMIN_NO);
		} else {
			p->le.passkey = (uint32_t)passkey;
			sc_round(p);
		}
	} else if (p->st == PS_LE_ENTER) {
		if (passkey < 0) {
			smp_fail(p, SMP_R_PASSKEY_FAILED, MUX_PAIR_ADMIN_NO);
		} else {
			memset(p->le.tk, 0, sizeof(p->le.tk));
			put_le32(p->le.tk, (uint32_t)passkey);
			le_confirm(p);
		}
	} else {
		p->st = PS_AUTH;
		if (passkey < 0) {
			p->admin_no = true;
			send_addr_cmd(p, HCI_OP_USER_PASSKEY_NEG_REPLY);
		} else {
			/* User Passkey Request Reply (7.1.32): BD_ADDR, Numeric_Value. */
			memcpy(r, p->dev.a.b, 6);
			put_le32(r + 6, (uint32_t)passkey);
			send_cmd(p, HCI_OP_USER_PASSKEY_REPLY, r, sizeof(r));
			secmem_wipe(r, sizeof(r));
		}
	}
	/* What the answer brought is handled from the loop. */
	if (p->qn || p->finished)
		loop_timer_arm(p->run, 0);
	return 0;
}

int mux_pair_answer(struct mux_pair *p, bool yes)
{
	if (p->st == PS_SC_ASK && !p->finished) {
		/* Numeric comparison (2.3.5.6.2): the admin's no fails it. */
		if (yes)
			sc_check(p);
		else
			smp_fail(p, SMP_R_NUMERIC_COMP, MUX_PAIR_ADMIN_NO);
		if (p->qn || p->finished)
			loop_timer_arm(p->run, 0);
		return 0;
	}
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
	/* A pairing cancelled while it runs still holds its keys. */
	le_wipe(p);
	free(p);
}
