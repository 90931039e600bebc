/* SPDX-License-Identifier: MIT */
/*
 * The virtual controller's command table: for every command it supports,
 * how the mux handles it, its exact parameter length and its bit in the
 * Supported_Commands bitmap (Core Vol 4 Part E 6.27). A command not in the
 * table is answered Unknown HCI Command (0x01), like the hci_sock security
 * filter's allow-list inverted: only what is listed ever reaches the
 * controller.
 */
#ifndef BGW_MUX_CMDTAB_H
#define BGW_MUX_CMDTAB_H

#include <stdbool.h>
#include <stdint.h>

enum mux_kind {
	MK_CACHE = 1,	/* identity/read-only: answered from the init cache */
	MK_REG_W,	/* per-session virtual setting, write */
	MK_REG_R,	/* per-session virtual setting, read */
	MK_VIRT,	/* answered by the mux from its own state */
	MK_HANDLE,	/* forwarded if the session owns the handle at param[0] */
	MK_ADDR,	/* forwarded if the session owns the BD_ADDR at param[0] */
	MK_CONNECT,	/* Create Connection / Remote Name Request: ACL checked */
	MK_LE_CONNECT,	/* LE Create Connection: ACL checked */
	MK_INQ,		/* Inquiry: shared */
	MK_INQ_CANCEL,	/* Inquiry Cancel: shared */
	MK_FWD,		/* forwarded, completion to the sender only */
	MK_ADV,		/* advertising: physical for admins, virtual otherwise */
	MK_PRIV,	/* admin only (Command Disallowed otherwise), then forwarded */
	MK_RESET,	/* virtual reset */
	MK_EXTADV,	/* extended advertising sets: one admin's physical, else virtual */
};

#define MT_CS		0x01	/* the controller answers with Command Status */
#define MT_VARLEN	0x02	/* plen is a minimum; the handler checks the rest */
/*
 * Answered by the virtual controller alone (a per-session register never
 * sent for the session): supported whatever the physical Supported_Commands
 * says, where the mux judges that truthful (mux_base.c own_supported()).
 */
#define MT_OWN		0x04

struct mux_cmd_def {
	uint16_t opcode;
	uint8_t kind;
	uint8_t flags;
	uint8_t plen;
	uint8_t octet;		/* Supported_Commands octet, 0xff: none */
	uint8_t bit;
	uint8_t reg;		/* register index for MK_REG_* */
};

/* NULL if the virtual controller does not support the opcode. */
const struct mux_cmd_def *mux_cmd_find(uint16_t opcode);
/* For iteration: the table and its size. */
const struct mux_cmd_def *mux_cmd_table(unsigned *n);

/* Virtual settings ("registers") kept per session. */
enum mux_reg {
	REG_LOCAL_NAME,
	REG_CLASS,
	REG_CONN_ACCEPT_TO,
	REG_PAGE_TO,
	REG_SCAN_ENABLE,
	REG_PSCAN_ACT,
	REG_ISCAN_ACT,
	REG_AUTH_ENABLE,
	REG_VOICE,
	REG_ISCAN_TYPE,
	REG_INQ_MODE,
	REG_PSCAN_TYPE,
	REG_EIR,
	REG_SSP_MODE,
	REG_ERR_DATA,
	REG_LE_HOST,
	REG_SC,
	REG_DEF_LINK_POLICY,
	REG_IAC_LAP,
	REG_PIN_TYPE,
	REG_LE_DEF_DATA_LEN,
	REG_LE_RAND_ADDR,
	REG_LE_DEF_PHY,
	REG_LE_RPA_TO,
	REG_ADV_PARAMS,
	REG_ADV_DATA,
	REG_SCAN_RSP,
	REG_ADV_ENABLE,
	REG_COUNT
};

#define MUX_REG_MAX	248

struct mux_reg_def {
	uint8_t len;		/* exact length, or the maximum if var */
	bool var;		/* IAC LAP: 1 + 3 * n */
	uint8_t dlen;		/* default value length */
	const uint8_t *def;	/* default value, NULL: zeroes */
};

const struct mux_reg_def *mux_reg_def(unsigned reg);

#endif /* BGW_MUX_CMDTAB_H */
