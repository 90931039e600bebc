/* SPDX-License-Identifier: MIT */
/*
 * Handle translation tables and helpers (see handlemap.h). Every event the
 * mux routes by its Connection_Handle is routed and translated through the
 * one table below: an event added to it reaches the link's owner only, with
 * the owner's own handle. Offsets are those of lib/hci_defs.h.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "handlemap.h"

struct hmap_evt {
	uint8_t code;
	uint8_t sub;	/* LE Meta subevent, 0 otherwise */
	uint8_t off;	/* in the parameters, LE subevent code excluded */
};

#define EV(id) { HCI_EV_##id, 0, HCI_EV_##id##_HANDLE_OFF }
#define LE(id) { HCI_EV_LE_META, HCI_LE_EV_##id, HCI_LE_EV_##id##_HANDLE_OFF }

static const struct hmap_evt evts[] = {
	EV(CONN_COMPLETE),
	EV(DISCONN_COMPLETE),
	EV(AUTH_COMPLETE),
	EV(ENCRYPT_CHANGE),
	EV(CHANGE_LINK_KEY_COMPLETE),
	EV(REMOTE_FEATURES),
	EV(REMOTE_VERSION),
	EV(QOS_SETUP_COMPLETE),
	EV(FLUSH_OCCURRED),
	EV(MODE_CHANGE),
	EV(MAX_SLOTS_CHANGE),
	EV(CLOCK_OFFSET),
	EV(PKT_TYPE_CHANGE),
	EV(QOS_VIOLATION),
	EV(FLOW_SPEC_COMPLETE),
	EV(REMOTE_EXT_FEATURES),
	EV(SYNC_CONN_COMPLETE),
	EV(SYNC_CONN_CHANGED),
	EV(SNIFF_SUBRATING),
	EV(KEY_REFRESH_COMPLETE),
	EV(LINK_SUPV_TIMEOUT_CHANGE),
	EV(ENHANCED_FLUSH_COMPLETE),
	EV(AUTH_PAYLOAD_TIMEOUT),
	{ HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, HCI_LE_EV_CONN_COMPLETE_HANDLE_OFF },
	{ HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE, HCI_LE_EV_CONN_COMPLETE_HANDLE_OFF },
	{ HCI_EV_LE_META, HCI_LE_EV_ENH_CONN_COMPLETE_V2, HCI_LE_EV_CONN_COMPLETE_HANDLE_OFF },
	LE(CONN_UPDATE_COMPLETE),
	LE(REMOTE_FEATURES),
	LE(LTK_REQUEST),
	LE(CONN_PARAM_REQUEST),
	LE(DATA_LEN_CHANGE),
	LE(PHY_UPDATE_COMPLETE),
	LE(ADV_SET_TERMINATED),
	LE(CHANNEL_SELECTION_ALGORITHM),
};

#undef EV
#undef LE

int hmap_evt_off(uint8_t code, uint8_t sub)
{
	size_t i;

	for (i = 0; i < sizeof(evts) / sizeof(evts[0]); i++) {
		if (evts[i].code != code)
			continue;
		if (code != HCI_EV_LE_META)
			return evts[i].off;
		if (evts[i].sub == sub)
			return 1 + evts[i].off;
	}
	return -1;
}

/* Every command of kind MK_HANDLE names its link first (Vol 4 Part E 7.1-7.8). */
int hmap_cmd_off(const struct mux_cmd_def *d)
{
	return d && d->kind == MK_HANDLE ? 0 : -1;
}

/*
 * Their Command Complete return parameters are Status then the same
 * Connection_Handle (Read RSSI 7.5.4, Read Link Quality 7.5.3, LE Read
 * PHY 7.8.47, LE Long Term Key Request Reply 7.8.25, ...).
 */
int hmap_cc_off(const struct mux_cmd_def *d)
{
	return d && d->kind == MK_HANDLE && !(d->flags & MT_CS) ? 1 : -1;
}

uint16_t hmap_get(const uint8_t *p)
{
	return get_le16(p) & 0x0fff;
}

void hmap_put(uint8_t *p, uint16_t h)
{
	put_le16(p, (uint16_t)((get_le16(p) & 0xf000) | (h & 0x0fff)));
}

uint16_t hmap_lowest_free(const uint16_t *used, size_t n)
{
	uint16_t h;
	size_t i;
	bool taken;

	for (h = HMAP_HANDLE_FIRST; h <= HMAP_HANDLE_MAX; h++) {
		taken = false;
		for (i = 0; i < n && !taken; i++)
			taken = used[i] == h;
		if (!taken)
			return h;
	}
	return 0;
}

int hmap_evt_rewrite(uint8_t *h4, size_t len, uint16_t h)
{
	int off;

	if (len < 3 || h4[0] != H4_EVT || (size_t)h4[2] + 3 != len)
		return -EINVAL;
	off = hmap_evt_off(h4[1], len >= 4 ? h4[3] : 0);
	if (off < 0 || (size_t)off + 2 > h4[2])
		return -EINVAL;
	hmap_put(h4 + 3 + off, h);
	return 0;
}
