/* SPDX-License-Identifier: MIT */
/*
 * A simulated remote device's Security Manager on an LE link (Core Vol 3
 * Part H), the responder (peripheral) side, as the scenario's `pairing`
 * and `io-capability` keys say:
 *  - LE legacy pairing, Just Works (2.3.5.2): an STK by s1, and after the
 *    link is encrypted with it the device's LTK, EDIV and Rand (3.6.1);
 *  - LE Secure Connections (2.3.5.6) for "pairing sc" when the initiator
 *    offers it, and always for "sc-only": the P-256 public keys exchanged
 *    (the initiator's checked on the curve), Just Works, numeric
 *    comparison or passkey entry as the IO capabilities decide (2.3.5.1),
 *    the DHKey check (f6) and the LTK from f5, used with EDIV = Rand = 0.
 *    No EncKey in SC (3.6.1), and no CSRK (the device signs nothing).
 *  - a device with privacy (`irk`) distributes its IRK and identity
 *    (3.6.4-3.6.5) in either when the initiator asks for its IdKey.
 * The device keeps one bond per central address (rd_state.c), replaced
 * when that central pairs again, as a real device does.
 *
 * Every PDU is from a host, so untrusted: its length and the pairing's
 * state are checked before use, and anything out of place ends the
 * pairing with Pairing Failed (3.5.5). The keys come from the air's
 * seeded pseudo-random source, as every key the simulation makes (a test
 * run repeats; they are never secrets of a real device); still they are
 * wiped when the pairing ends and check values compared in constant time,
 * as in real code.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "log.h"
#include "secmem.h"
#include "sim_int.h"
#include "smp_crypto.h"
#include "smp_defs.h"

#define PASSKEY_ROUNDS	20	/* one per bit of the passkey (2.3.5.6.3) */

enum smp_state {
	SMP_IDLE = 0,
	SMP_LEGACY_CONFIRM,	/* legacy: waiting for Mconfirm */
	SMP_LEGACY_RANDOM,	/* legacy: waiting for Mrand */
	SMP_SC_PUBKEY,		/* SC: waiting for the initiator's public key */
	SMP_SC_CONFIRM,		/* SC passkey entry: waiting for Cai */
	SMP_SC_RANDOM,		/* SC: waiting for Na (Nai) */
	SMP_SC_CHECK,		/* SC: waiting for the DHKey check Ea */
	SMP_WAIT_ENC,		/* paired: waiting for the link's encryption */
	SMP_DONE,
};

enum smp_method {
	SMP_JUST_WORKS = 0,
	SMP_NUMERIC,		/* numeric comparison (2.3.5.6.2) */
	SMP_PASSKEY_SHOW,	/* passkey entry, the device displays (2.3.5.6.3) */
	SMP_PASSKEY_TYPE,	/* passkey entry, the device's user types it */
};

static const char *const method_name[] = {
	"Just Works", "numeric comparison", "passkey entry (shown)",
	"passkey entry (typed)",
};

struct sim_smp {
	struct sim_air *air;
	struct sim_rd *rd;
	struct bdaddr ia;
	uint8_t iat;
	char ia_str[BDADDR_STRLEN];	/* for the log */
	sim_smp_send_fn send;
	void *user;
	/* The pairing, from here to the end: wiped as one (smp_reset). */
	enum smp_state st;
	bool sc;
	enum smp_method method;
	unsigned round;		/* passkey entry: the bit of this round */
	uint32_t passkey;
	uint8_t preq[7];
	uint8_t pres[7];
	uint8_t cpeer[16];	/* the initiator's confirm value */
	uint8_t na[16];		/* the initiator's random: Mrand, Na, Nai */
	uint8_t nb[16];		/* ours: Srand, Nb, Nbi */
	struct smp_p256 kp;	/* our key pair (SC) */
	uint8_t pka[64];	/* the initiator's public key */
	uint8_t dhkey[32];
	uint8_t mackey[16];
	uint8_t key[16];	/* the STK (legacy) or the LTK (SC) */
	bool have_key;
	uint8_t tk[16];		/* legacy: 0 (Just Works) or the passkey */
};

static void smp_reset(struct sim_smp *s)
{
	secmem_wipe(&s->st, sizeof(*s) - offsetof(struct sim_smp, st));
}

static void smp_send(struct sim_smp *s, const uint8_t *p, size_t n)
{
	s->send(p, n, s->user);
}

/* Pairing Failed (3.5.5); the pairing and its keys are gone. */
static void smp_fail(struct sim_smp *s, uint8_t reason)
{
	uint8_t b[2] = { SMP_FAILED, reason };

	log_info("sim: RD %s: pairing with %s failed (SMP reason 0x%02x)",
		 s->rd->cfg->id, s->ia_str, reason);
	smp_send(s, b, 2);
	smp_reset(s);
}

/* A 16-octet PDU value after the code: Confirm, Random, DHKey Check. */
static const uint8_t *smp_val16(struct cur *c)
{
	const uint8_t *p = cur_bytes(c, 16);

	return p && cur_is_done(c) ? p : NULL;
}

/* The address of f5/f6 (2.2.7): the BD_ADDR, then its type. */
static void smp_addr7(uint8_t out[7], const uint8_t b[6], uint8_t type)
{
	memcpy(out, b, 6);
	out[6] = type;
}

/* ---------------------------------------------------------------- legacy */

static int legacy_confirm(struct sim_smp *s, const uint8_t r[16], uint8_t out[16])
{
	const struct sim_rd_cfg *c = s->rd->cfg;

	return smp_c1(s->tk, r, s->preq, s->pres, s->iat, s->ia.b, c->addr_type,
		      c->addr.b, out);
}

/*
 * The TK of LE legacy pairing (2.3.5.1, Table 2.8): with MITM asked and
 * neither side NoInputNoOutput, passkey entry when one has a keyboard
 * (the initiator KeyboardOnly or KeyboardDisplay, or the device
 * KeyboardOnly), else Just Works, TK 0 (2.3.5.2). The passkey is the
 * device's: the one it shows, or the one its user types.
 */
static int legacy_tk(struct sim_smp *s)
{
	const struct sim_rd_cfg *c = s->rd->cfg;
	uint8_t i = s->preq[1], r = s->pres[1];
	uint32_t pk;

	memset(s->tk, 0, sizeof(s->tk));
	if (!((s->preq[3] | s->pres[3]) & AUTH_MITM) || i == IO_NONE || r == IO_NONE)
		return 0;
	if (i != IO_KEYBOARD_ONLY && i != IO_KEYBOARD_DISPLAY && r != IO_KEYBOARD_ONLY)
		return 0;
	if (r == IO_KEYBOARD_ONLY) {
		/* Its user types: the scenario must give the passkey. */
		if (!c->has_passkey)
			return -ENOKEY;
		pk = c->passkey;
		log_info("sim: RD %s: its user types passkey %06u for %s", c->id, pk,
			 s->ia_str);
	} else {
		pk = c->has_passkey ? c->passkey : sim_air_rand(s->air) % 1000000;
		log_info("sim: RD %s displays passkey %06u for %s", c->id, pk, s->ia_str);
	}
	put_le32(s->tk, pk);
	return 0;
}

static int legacy_response(struct sim_smp *s, const uint8_t *p)
{
	const struct sim_rd_cfg *c = s->rd->cfg;

	/* Its IO capability, no OOB, bonding if asked, MITM if it has I/O,
	 * no SC: legacy pairing. Our LTK is distributed, and our identity
	 * with its IRK if we have one. */
	s->pres[0] = SMP_PAIRING_RSP;
	s->pres[1] = c->io_cap;
	s->pres[2] = 0x00;
	s->pres[3] = (uint8_t)((p[2] & AUTH_BONDING) | (c->io_cap != IO_NONE ? AUTH_MITM : 0));
	s->pres[4] = p[3];
	s->pres[5] = 0x00;
	s->pres[6] = (uint8_t)(p[5] & (s->rd->cfg->has_irk ? 0x03 : 0x01));
	if (legacy_tk(s))
		return -ENOKEY;
	s->st = SMP_LEGACY_CONFIRM;
	return 0;
}

static void legacy_on_confirm(struct sim_smp *s, const uint8_t *v)
{
	uint8_t b[17];

	memcpy(s->cpeer, v, 16);
	sim_air_rand_bytes(s->air, s->nb, 16);
	b[0] = SMP_CONFIRM;
	if (legacy_confirm(s, s->nb, b + 1)) {
		smp_fail(s, SMP_R_UNSPECIFIED);
		return;
	}
	s->st = SMP_LEGACY_RANDOM;
	smp_send(s, b, 17);
}

static void legacy_on_random(struct sim_smp *s, const uint8_t *v)
{
	uint8_t b[17], conf[16];
	unsigned i;
	bool ok;

	ok = !legacy_confirm(s, v, conf) && secmem_is_equal(conf, s->cpeer, 16);
	secmem_wipe(conf, sizeof(conf));
	if (!ok) {
		smp_fail(s, SMP_R_CONFIRM_FAILED);
		return;
	}
	if (smp_s1(s->tk, s->nb, v, s->key)) {
		smp_fail(s, SMP_R_UNSPECIFIED);
		return;
	}
	/* Shortened to the negotiated size (2.4.4). */
	for (i = s->pres[4]; i < 16; i++)
		s->key[i] = 0;
	s->have_key = true;
	s->st = SMP_WAIT_ENC;
	b[0] = SMP_RANDOM;
	memcpy(b + 1, s->nb, 16);
	smp_send(s, b, 17);
}

/* Key distribution (3.6.1): Encryption Information and Central
 * Identification, remembered for this central. */
static void legacy_distribute(struct sim_smp *s)
{
	struct sim_bond *bond;
	uint8_t b[17];

	if (!(s->pres[6] & 0x01) || !(s->pres[3] & AUTH_BONDING))
		return;
	bond = sim_rd_bond(s->rd, &s->ia, true);
	sim_air_rand_bytes(s->air, bond->ltk, 16);
	sim_air_rand_bytes(s->air, bond->rand, 8);
	bond->ediv = (uint16_t)sim_air_rand(s->air);
	bond->has_ltk = true;
	b[0] = SMP_ENC_INFO;
	memcpy(b + 1, bond->ltk, 16);
	smp_send(s, b, 17);
	secmem_wipe(b, sizeof(b));
	b[0] = SMP_CENTRAL_IDENT;
	put_le16(b + 1, bond->ediv);
	memcpy(b + 3, bond->rand, 8);
	smp_send(s, b, 11);
}

/*
 * A device with privacy: Identity Information and Identity Address
 * Information (3.6.4-3.6.5), after any LTK (3.6.1), when agreed.
 */
static void distribute_identity(struct sim_smp *s)
{
	const struct sim_rd_cfg *c = s->rd->cfg;
	uint8_t b[17];

	if (!(s->pres[6] & KD_ID) || !(s->pres[3] & AUTH_BONDING) || !c->has_irk)
		return;
	b[0] = SMP_ID_INFO;
	memcpy(b + 1, c->irk, 16);
	smp_send(s, b, 17);
	b[0] = SMP_ID_ADDR_INFO;
	b[1] = c->id_type;
	memcpy(b + 2, c->id_addr.b, 6);
	smp_send(s, b, 8);
}

/* ---------------------------------------------------------------- SC */

/*
 * The association model of LE Secure Connections (2.3.5.1, Table 2.8,
 * the responder's row): Just Works unless either side asks for MITM
 * protection and both have some IO. The simulated device is never
 * KeyboardDisplay (io-capability has the BR/EDR four).
 */
static enum smp_method sc_method(uint8_t ia_io, uint8_t rd_io, bool mitm)
{
	if (!mitm || ia_io == IO_NONE || rd_io == IO_NONE)
		return SMP_JUST_WORKS;
	switch (rd_io) {
	case IO_DISPLAY_ONLY:
		return ia_io == IO_KEYBOARD_ONLY || ia_io == IO_KEYBOARD_DISPLAY ?
		       SMP_PASSKEY_SHOW : SMP_JUST_WORKS;
	case IO_DISPLAY_YESNO:
		if (ia_io == IO_KEYBOARD_ONLY)
			return SMP_PASSKEY_SHOW;
		return ia_io == IO_DISPLAY_YESNO || ia_io == IO_KEYBOARD_DISPLAY ?
		       SMP_NUMERIC : SMP_JUST_WORKS;
	default:		/* KeyboardOnly: its user types the passkey */
		return SMP_PASSKEY_TYPE;
	}
}

static void sc_response(struct sim_smp *s, const uint8_t *p)
{
	const struct sim_rd_cfg *c = s->rd->cfg;
	uint8_t auth = (uint8_t)((p[2] & AUTH_BONDING) | AUTH_SC |
				 (c->io_cap != IO_NONE ? AUTH_MITM : 0));

	/* EncKey is not used with SC and the device has no CSRK: only its
	 * identity, with privacy; it takes none of the initiator's keys. */
	s->pres[0] = SMP_PAIRING_RSP;
	s->pres[1] = c->io_cap;
	s->pres[2] = 0x00;
	s->pres[3] = auth;
	s->pres[4] = p[3];
	s->pres[5] = 0x00;
	s->pres[6] = (uint8_t)(p[5] & (c->has_irk ? 0x02 : 0x00));
	s->method = sc_method(p[0], c->io_cap, (p[2] | auth) & AUTH_MITM);
	s->st = SMP_SC_PUBKEY;
}

/*
 * Our key pair from the air's random source, so a test run repeats; a
 * scalar out of range (0 or at least the order, odds about 2^-32) draws
 * again, a bounded number of times.
 */
static int sc_keygen(struct sim_smp *s)
{
	uint8_t priv[32];
	unsigned i;
	int ret = -EIO;

	for (i = 0; i < 8 && ret; i++) {
		sim_air_rand_bytes(s->air, priv, sizeof(priv));
		ret = smp_p256_set(&s->kp, priv);
	}
	secmem_wipe(priv, sizeof(priv));
	return ret;
}

/* The passkey bit of this round, as f4's Z (2.3.5.6.3): 0x80 | bit. */
static uint8_t sc_rbit(const struct sim_smp *s)
{
	return (uint8_t)(0x80 | ((s->passkey >> s->round) & 1));
}

/* Our confirm: Cb = f4(PKbx, PKax, Nb, 0), or Cbi with the round's bit. */
static int sc_send_confirm(struct sim_smp *s, uint8_t z)
{
	uint8_t b[17];
	int ret;

	sim_air_rand_bytes(s->air, s->nb, 16);
	b[0] = SMP_CONFIRM;
	ret = smp_f4(s->kp.pub, s->pka, s->nb, z, b + 1);
	if (ret == 0)
		smp_send(s, b, 17);
	return ret;
}

static void sc_on_pubkey(struct sim_smp *s, struct cur *c)
{
	const struct sim_rd_cfg *cfg = s->rd->cfg;
	const uint8_t *p = cur_bytes(c, 64);
	uint8_t b[65];
	int ret;

	if (!p || !cur_is_done(c)) {
		smp_fail(s, SMP_R_INVALID_PARAMS);
		return;
	}
	memcpy(s->pka, p, 64);
	if (sc_keygen(s)) {
		smp_fail(s, SMP_R_UNSPECIFIED);
		return;
	}
	/*
	 * Our own key coming back (the reflection of CVE-2020-26558): a new
	 * pair is made for each pairing and sent only after the initiator's,
	 * but from the simulation's seeded generator, so it is predictable:
	 * refused like a real device should.
	 */
	if (!memcmp(s->pka, s->kp.pub, 64)) {
		smp_fail(s, SMP_R_INVALID_PARAMS);
		return;
	}
	/*
	 * A point not on P-256 is an invalid-curve attack (CVE-2018-5383):
	 * the DHKey would leak bits of our private key. Refused before any
	 * use (2.3.5.6.1), with DHKey Check Failed.
	 */
	ret = smp_p256_dhkey(&s->kp, s->pka, s->dhkey);
	if (ret) {
		smp_fail(s, ret == -EINVAL ? SMP_R_DHKEY_CHECK : SMP_R_UNSPECIFIED);
		return;
	}
	if (s->method == SMP_PASSKEY_TYPE && !cfg->has_passkey) {
		/* Nobody types: the scenario gave the user no passkey. */
		smp_fail(s, SMP_R_PASSKEY_FAILED);
		return;
	}
	b[0] = SMP_PUBLIC_KEY;
	memcpy(b + 1, s->kp.pub, 64);
	smp_send(s, b, sizeof(b));
	switch (s->method) {
	case SMP_JUST_WORKS:
	case SMP_NUMERIC:
		/* The responder commits first (2.3.5.6.2). */
		if (sc_send_confirm(s, 0)) {
			smp_fail(s, SMP_R_UNSPECIFIED);
			return;
		}
		s->st = SMP_SC_RANDOM;
		return;
	case SMP_PASSKEY_SHOW:
		s->passkey = cfg->has_passkey ? cfg->passkey :
			     sim_air_rand(s->air) % 1000000;
		log_info("sim: RD %s displays passkey %06u for %s", cfg->id,
			 s->passkey, s->ia_str);
		break;
	case SMP_PASSKEY_TYPE:
		s->passkey = cfg->passkey;
		log_info("sim: RD %s: its user types passkey %06u for %s", cfg->id,
			 s->passkey, s->ia_str);
		break;
	}
	s->round = 0;
	s->st = SMP_SC_CONFIRM;
}

/* Passkey entry: the initiator commits to its bit first (2.3.5.6.3). */
static void sc_on_confirm(struct sim_smp *s, const uint8_t *v)
{
	memcpy(s->cpeer, v, 16);
	if (sc_send_confirm(s, sc_rbit(s))) {
		smp_fail(s, SMP_R_UNSPECIFIED);
		return;
	}
	s->st = SMP_SC_RANDOM;
}

static void sc_on_random(struct sim_smp *s, const uint8_t *v)
{
	const struct sim_rd_cfg *cfg = s->rd->cfg;
	uint8_t b[17], a[7], bb[7];
	uint32_t val;
	bool ok;

	memcpy(s->na, v, 16);
	if (s->method == SMP_PASSKEY_SHOW || s->method == SMP_PASSKEY_TYPE) {
		/* Cai = f4(PKax, PKbx, Nai, rai): a wrong passkey shows here. */
		ok = !smp_f4(s->pka, s->kp.pub, s->na, sc_rbit(s), b) &&
		     secmem_is_equal(b, s->cpeer, 16);
		if (!ok) {
			smp_fail(s, SMP_R_CONFIRM_FAILED);
			return;
		}
	}
	b[0] = SMP_RANDOM;
	memcpy(b + 1, s->nb, 16);
	smp_send(s, b, 17);
	if (s->method == SMP_NUMERIC) {
		/* Vb = g2(PKax, PKbx, Na, Nb), shown to the device's user. */
		if (smp_g2(s->pka, s->kp.pub, s->na, s->nb, &val)) {
			smp_fail(s, SMP_R_UNSPECIFIED);
			return;
		}
		log_info("sim: RD %s shows %06u for %s: its user says %s", cfg->id,
			 val, s->ia_str, cfg->nc_confirm ? "yes" : "no");
		if (!cfg->nc_confirm) {
			smp_fail(s, SMP_R_NUMERIC_COMP);
			return;
		}
	}
	if ((s->method == SMP_PASSKEY_SHOW || s->method == SMP_PASSKEY_TYPE) &&
	    ++s->round < PASSKEY_ROUNDS) {
		s->st = SMP_SC_CONFIRM;
		return;
	}
	/* MacKey and LTK = f5(DHKey, Na, Nb, A, B) (2.3.5.6.5). */
	smp_addr7(a, s->ia.b, s->iat);
	smp_addr7(bb, cfg->addr.b, cfg->addr_type);
	if (smp_f5(s->dhkey, s->na, s->nb, a, bb, s->mackey, s->key)) {
		smp_fail(s, SMP_R_UNSPECIFIED);
		return;
	}
	secmem_wipe(s->dhkey, sizeof(s->dhkey));
	s->st = SMP_SC_CHECK;
}

/* Ea checked, Eb sent (2.3.5.6.5): r is 0, or the passkey for passkey entry. */
static void sc_on_check(struct sim_smp *s, const uint8_t *v)
{
	const struct sim_rd_cfg *cfg = s->rd->cfg;
	uint8_t r[16] = { 0 }, a[7], bb[7], io[3], e[16], b[17];
	uint8_t reason = SMP_R_DHKEY_CHECK;
	unsigned i;

	if (s->method == SMP_PASSKEY_SHOW || s->method == SMP_PASSKEY_TYPE)
		put_le32(r, s->passkey);
	smp_addr7(a, s->ia.b, s->iat);
	smp_addr7(bb, cfg->addr.b, cfg->addr_type);
	/* IOcapA = AuthReq || OOB flag || IO capability: least significant
	 * first, the IO capability. */
	io[0] = s->preq[1];
	io[1] = s->preq[2];
	io[2] = s->preq[3];
	if (smp_f6(s->mackey, s->na, s->nb, r, io, a, bb, e) ||
	    !secmem_is_equal(e, v, 16))
		goto fail;
	io[0] = s->pres[1];
	io[1] = s->pres[2];
	io[2] = s->pres[3];
	b[0] = SMP_DHKEY_CHECK;
	reason = SMP_R_UNSPECIFIED;
	if (smp_f6(s->mackey, s->nb, s->na, r, io, bb, a, b + 1))
		goto fail;
	smp_send(s, b, 17);
	/* Shortened to the negotiated size (2.4.4), as the STK is. */
	for (i = s->pres[4]; i < 16; i++)
		s->key[i] = 0;
	s->have_key = true;
	s->st = SMP_WAIT_ENC;
	/* Only the LTK is kept from here. */
	smp_p256_wipe(&s->kp);
	secmem_wipe(s->mackey, sizeof(s->mackey));
	log_info("sim: RD %s: paired with %s (LE Secure Connections, %s)", cfg->id,
		 s->ia_str, method_name[s->method]);
	goto out;
fail:
	smp_fail(s, reason);
out:
	secmem_wipe(r, sizeof(r));
	secmem_wipe(e, sizeof(e));
}

/* ---------------------------------------------------------------- input */

static void on_request(struct sim_smp *s, struct cur *c)
{
	const struct sim_rd_cfg *cfg = s->rd->cfg;
	const uint8_t *p = cur_bytes(c, 6);

	/* A new Pairing Request replaces a pairing under way (3.5.1). */
	smp_reset(s);
	if (!p || !cur_is_done(c) || p[0] > IO_KEYBOARD_DISPLAY || p[1] > 0x01) {
		smp_fail(s, SMP_R_INVALID_PARAMS);
		return;
	}
	if (cfg->pairing == SIM_PAIR_REFUSE) {
		smp_fail(s, SMP_R_NOT_SUPPORTED);
		return;
	}
	if (p[3] < 7 || p[3] > 16) {
		smp_fail(s, SMP_R_ENC_KEY_SIZE);
		return;
	}
	if (cfg->pairing == SIM_PAIR_SC_ONLY) {
		/*
		 * Secure Connections Only mode (Vol 3 Part C 10.2.4): an
		 * initiator without SC is refused (2.3.5.1: Authentication
		 * Requirements), and so is a key shorter than 128 bits.
		 */
		if (!(p[2] & AUTH_SC)) {
			smp_fail(s, SMP_R_AUTH_REQUIREMENTS);
			return;
		}
		if (p[3] != 16) {
			smp_fail(s, SMP_R_ENC_KEY_SIZE);
			return;
		}
	}
	s->preq[0] = SMP_PAIRING_REQ;
	memcpy(s->preq + 1, p, 6);
	s->sc = (cfg->pairing == SIM_PAIR_SC || cfg->pairing == SIM_PAIR_SC_ONLY) &&
		(p[2] & AUTH_SC);
	if (s->sc && p[1]) {
		/* The initiator has OOB data of ours: the device gave none. */
		smp_fail(s, SMP_R_OOB_NOT_AVAILABLE);
		return;
	}
	if (s->sc) {
		sc_response(s, p);
	} else if (legacy_response(s, p)) {
		/* Nobody types: the scenario gave the user no passkey. */
		smp_fail(s, SMP_R_PASSKEY_FAILED);
		return;
	}
	smp_send(s, s->pres, 7);
}

void sim_smp_input(struct sim_smp *s, const uint8_t *pdu, size_t len)
{
	struct cur c;
	const uint8_t *v;
	uint8_t op;

	cur_init(&c, pdu, len);
	op = cur_u8(&c);
	if (!cur_is_ok(&c))
		return;
	switch (op) {
	case SMP_PAIRING_REQ:
		on_request(s, &c);
		return;
	case SMP_CONFIRM:
		v = smp_val16(&c);
		if (v && s->st == SMP_LEGACY_CONFIRM)
			legacy_on_confirm(s, v);
		else if (v && s->st == SMP_SC_CONFIRM)
			sc_on_confirm(s, v);
		else
			smp_fail(s, v ? SMP_R_UNSPECIFIED : SMP_R_INVALID_PARAMS);
		return;
	case SMP_RANDOM:
		v = smp_val16(&c);
		if (v && s->st == SMP_LEGACY_RANDOM)
			legacy_on_random(s, v);
		else if (v && s->st == SMP_SC_RANDOM)
			sc_on_random(s, v);
		else
			smp_fail(s, v ? SMP_R_UNSPECIFIED : SMP_R_INVALID_PARAMS);
		return;
	case SMP_PUBLIC_KEY:
		if (s->st == SMP_SC_PUBKEY)
			sc_on_pubkey(s, &c);
		else
			smp_fail(s, SMP_R_UNSPECIFIED);
		return;
	case SMP_DHKEY_CHECK:
		v = smp_val16(&c);
		if (v && s->st == SMP_SC_CHECK)
			sc_on_check(s, v);
		else
			smp_fail(s, v ? SMP_R_UNSPECIFIED : SMP_R_INVALID_PARAMS);
		return;
	case SMP_FAILED:
		smp_reset(s);
		return;
	case SMP_ENC_INFO:
	case SMP_CENTRAL_IDENT:
	case SMP_ID_INFO:
	case SMP_ID_ADDR_INFO:
	case SMP_SIGN_INFO:
	case SMP_KEYPRESS:
		/* The initiator's keys (not asked for), keypresses: ignored. */
		return;
	default:
		smp_fail(s, SMP_R_CMD_NOT_SUPP);
		return;
	}
}

bool sim_smp_ltk_ok(struct sim_smp *s, const uint8_t rand[8], uint16_t ediv,
		    const uint8_t ltk[16])
{
	static const uint8_t zero[8];
	struct sim_bond *b;

	/* The pairing's own key: the STK, or the SC LTK, with EDIV = Rand = 0
	 * (2.4.4.1, 2.3.5.6.5). */
	if (s->have_key && ediv == 0 && !memcmp(rand, zero, 8) &&
	    secmem_is_equal(ltk, s->key, 16))
		return true;
	b = sim_rd_bond(s->rd, &s->ia, false);
	return b && b->has_ltk && b->ediv == ediv && !memcmp(b->rand, rand, 8) &&
	       secmem_is_equal(b->ltk, ltk, 16);
}

void sim_smp_encrypted(struct sim_smp *s)
{
	struct sim_bond *bond;

	if (s->st != SMP_WAIT_ENC)
		return;
	s->st = SMP_DONE;
	if (!s->sc) {
		legacy_distribute(s);
		distribute_identity(s);
		return;
	}
	/* SC bonds on the LTK both sides derived: EDIV and Rand are 0. */
	if (!(s->pres[3] & AUTH_BONDING))
		return;
	bond = sim_rd_bond(s->rd, &s->ia, true);
	memcpy(bond->ltk, s->key, 16);
	memset(bond->rand, 0, sizeof(bond->rand));
	bond->ediv = 0;
	bond->has_ltk = true;
	distribute_identity(s);
}

struct sim_smp *sim_smp_new(struct sim_air *a, struct sim_rd *rd,
			    const struct bdaddr *ia, uint8_t iat,
			    sim_smp_send_fn send, void *user)
{
	struct sim_smp *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->air = a;
	s->rd = rd;
	s->ia = *ia;
	s->iat = iat;
	bdaddr_fmt(ia, s->ia_str);
	s->send = send;
	s->user = user;
	return s;
}

void sim_smp_free(struct sim_smp *s)
{
	secmem_free(s, sizeof(*s));
}
