/* SPDX-License-Identifier: MIT */
/*
 * A simulated remote device's state that needs no air: its EIR, advertising
 * and scan response data derived from the scenario (Core Vol 3 Part C 8,
 * Core Supplement Part A), and the keys it keeps per peer. The air
 * initialises its RDs with these; the controller and the RD's upper layers
 * (rd.c) read and update them.
 */
#include "config.h"

#include <string.h>

#include "cursor.h"
#include "sim_int.h"

static size_t ad_put(uint8_t *buf, size_t len, size_t cap, uint8_t type,
		     const void *data, size_t n)
{
	if (len + 2 + n > cap)
		return len;
	buf[len] = (uint8_t)(n + 1);
	buf[len + 1] = type;
	memcpy(buf + len + 2, data, n);
	return len + 2 + n;
}

/* A name as AD/EIR: complete (0x09), or shortened (0x08) if it does not fit. */
static size_t ad_name(uint8_t *buf, size_t len, size_t cap, const char *name)
{
	size_t n = strlen(name);

	if (len + 2 >= cap)
		return len;
	if (len + 2 + n <= cap)
		return ad_put(buf, len, cap, 0x09, name, n);
	return ad_put(buf, len, cap, 0x08, name, cap - len - 2);
}

static size_t ad_uuids(uint8_t *buf, size_t len, size_t cap,
		       const struct sim_rd_cfg *c)
{
	uint8_t u[2 * SIM_MAX_UUIDS];
	size_t i;

	if (!c->n_uuids)
		return len;
	for (i = 0; i < c->n_uuids; i++)
		put_le16(u + 2 * i, c->uuids[i]);
	return ad_put(buf, len, cap, 0x03, u, 2 * i);
}

void sim_rd_init(struct sim_rd *rd, struct sim_rd_cfg *cfg)
{
	uint8_t v[2];
	bool name_in_adv = false;
	size_t n = 0, want;

	memset(rd, 0, sizeof(*rd));
	rd->cfg = cfg;
	/* EIR (Core Vol 3 Part C 8): UUIDs first, then the name. */
	if (cfg->eir_set) {
		memcpy(rd->eir, cfg->eir, cfg->eir_len);
		rd->eir_len = cfg->eir_len;
	} else {
		n = ad_uuids(rd->eir, 0, SIM_EIR_MAX, cfg);
		n = ad_name(rd->eir, n, SIM_EIR_MAX, cfg->name);
		rd->eir_len = (uint8_t)n;
	}
	/* Advertising data: flags, appearance, UUIDs, name if it fits. */
	if (cfg->adv_set) {
		memcpy(rd->adv, cfg->adv, cfg->adv_len);
		rd->adv_len = cfg->adv_len;
	} else {
		/* Flags (Core Supplement Part A 1.3): LE General
		 * Discoverable, BR/EDR Not Supported for LE-only devices. */
		v[0] = (uint8_t)((cfg->discoverable ? 0x02 : 0x00) |
				 (cfg->tech & SIM_TECH_BREDR ? 0x00 : 0x04));
		n = ad_put(rd->adv, 0, SIM_ADV_MAX, 0x01, v, 1);
		if (cfg->appearance) {
			put_le16(v, cfg->appearance);
			n = ad_put(rd->adv, n, SIM_ADV_MAX, 0x19, v, 2);
		}
		n = ad_uuids(rd->adv, n, SIM_ADV_MAX, cfg);
		if (n + 2 + strlen(cfg->name) <= SIM_ADV_MAX) {
			n = ad_name(rd->adv, n, SIM_ADV_MAX, cfg->name);
			name_in_adv = true;
		}
		rd->adv_len = (uint8_t)n;
	}
	rd->rsp_len = (uint8_t)ad_name(rd->rsp, 0, SIM_ADV_MAX, cfg->name);
	/*
	 * Extended advertising data: the legacy data with the name in full,
	 * then Manufacturer Specific Data (0xFF, company 0xFFFF: none, for
	 * tests, Assigned Numbers) up to ext-adv-len octets.
	 */
	n = 0;
	memcpy(rd->ext, rd->adv, rd->adv_len);
	n = rd->adv_len;
	if (!cfg->adv_set && !name_in_adv)
		n = ad_name(rd->ext, n, SIM_EXT_ADV_MAX, cfg->name);
	want = cfg->ext_adv_len < SIM_EXT_ADV_MAX ? cfg->ext_adv_len : SIM_EXT_ADV_MAX;
	while (n + 4 <= want) {
		size_t k = want - n - 2;	/* type + payload */
		uint8_t fill[254];
		size_t m;

		if (k > sizeof(fill))
			k = sizeof(fill);
		memset(fill, 0, k);
		fill[0] = 0xff;
		fill[1] = 0xff;
		m = ad_put(rd->ext, n, SIM_EXT_ADV_MAX, 0xff, fill, k);
		if (m == n)
			break;		/* no room: never loop on a full buffer */
		n = m;
	}
	rd->ext_len = (uint16_t)n;
}

struct sim_bond *sim_rd_bond(struct sim_rd *rd, const struct bdaddr *peer,
			     bool create)
{
	struct sim_bond *b;
	size_t i;

	for (i = 0; i < SIM_MAX_BONDS; i++)
		if (rd->bonds[i].used && bdaddr_eq(&rd->bonds[i].peer, peer))
			return &rd->bonds[i];
	if (!create)
		return NULL;
	/* Full: forget the oldest bond, as a device with few key slots does. */
	b = &rd->bonds[rd->next_bond++ % SIM_MAX_BONDS];
	memset(b, 0, sizeof(*b));
	b->used = true;
	b->peer = *peer;
	return b;
}
