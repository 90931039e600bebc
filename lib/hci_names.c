/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdio.h>

#include "hci.h"
#include "hci_names.h"

#define X_CASE(code, id, name)	case code: return name;

const char *hcistr_opcode(uint16_t opcode)
{
	switch (opcode) {
	HCI_OPCODE_LIST(X_CASE)
	}
	return NULL;
}

const char *hcistr_event(uint8_t code)
{
	switch (code) {
	HCI_EVENT_LIST(X_CASE)
	}
	return NULL;
}

const char *hcistr_le_event(uint8_t subevent)
{
	switch (subevent) {
	HCI_LE_EVENT_LIST(X_CASE)
	}
	return NULL;
}

const char *hcistr_status(uint8_t status)
{
	switch (status) {
	HCI_STATUS_LIST(X_CASE)
	}
	return NULL;
}

static const char *or_unknown(const char *s)
{
	return s ? s : "Unknown";
}

void hcistr_summary(char *out, size_t cap, const uint8_t *h4, size_t len)
{
	struct h4_pkt p;
	struct h4_cc cc;
	struct h4_cs cs;
	int err;

	if (!cap)
		return;
	err = h4_parse(&p, h4, len, 0);
	if (err) {
		snprintf(out, cap, "malformed (%s, %zu bytes)",
			 h4_strerror(err), len);
		return;
	}
	switch (p.type) {
	case H4_CMD:
		snprintf(out, cap, "CMD %s (0x%04x) plen %u",
			 or_unknown(hcistr_opcode(p.cmd.opcode)),
			 p.cmd.opcode, p.cmd.plen);
		break;
	case H4_EVT:
		if (!h4_parse_cc(&p, &cc)) {
			snprintf(out, cap, "EVT Command Complete %s (0x%04x) ncmd %u%s%s",
				 or_unknown(hcistr_opcode(cc.opcode)), cc.opcode,
				 cc.ncmd, cc.rlen ? " status " : "",
				 cc.rlen ? or_unknown(hcistr_status(cc.ret[0])) : "");
		} else if (!h4_parse_cs(&p, &cs)) {
			snprintf(out, cap, "EVT Command Status %s (0x%04x) ncmd %u status %s",
				 or_unknown(hcistr_opcode(cs.opcode)), cs.opcode,
				 cs.ncmd, or_unknown(hcistr_status(cs.status)));
		} else if (p.evt.code == HCI_EV_LE_META && p.evt.plen) {
			snprintf(out, cap, "EVT %s (0x3e/0x%02x) plen %u",
				 or_unknown(hcistr_le_event(p.evt.param[0])),
				 p.evt.param[0], p.evt.plen);
		} else {
			snprintf(out, cap, "EVT %s (0x%02x) plen %u",
				 or_unknown(hcistr_event(p.evt.code)),
				 p.evt.code, p.evt.plen);
		}
		break;
	case H4_ACL:
		snprintf(out, cap, "ACL handle 0x%04x pb %u len %u",
			 p.acl.handle, p.acl.pb, p.acl.dlen);
		break;
	case H4_SCO:
		snprintf(out, cap, "SCO handle 0x%04x len %u",
			 p.sco.handle, p.sco.dlen);
		break;
	case H4_ISO:
		snprintf(out, cap, "ISO handle 0x%04x len %u",
			 p.iso.handle, p.iso.dlen);
		break;
	}
}
