/* SPDX-License-Identifier: MIT */
/*
 * The virtual controller's command table. Parameter lengths are the fixed
 * lengths of Core Vol 4 Part E 7.1-7.8; supported-command bits are the
 * octet/bit positions of Vol 4 Part E 6.27. The rule for each entry is
 * explained in doc/virtual-controller.md.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "cmdtab.h"
#include "hci_defs.h"

#define NB 0xff
#define E(op, kind, flags, plen, oct, bit) \
	{ HCI_OP_##op, MK_##kind, flags, plen, oct, bit, 0 }
#define R(op, kind, plen, oct, bit, reg) \
	{ HCI_OP_##op, MK_##kind, 0, plen, oct, bit, REG_##reg }
#define RV(op, kind, minlen, oct, bit, reg) \
	{ HCI_OP_##op, MK_##kind, MT_VARLEN, minlen, oct, bit, REG_##reg }
#define RO(op, kind, plen, oct, bit, reg) \
	{ HCI_OP_##op, MK_##kind, MT_OWN, plen, oct, bit, REG_##reg }

static const struct mux_cmd_def cmds[] = {
	/* Link Control (7.1) */
	E(INQUIRY, INQ, MT_CS, 5, 0, 0),
	E(INQUIRY_CANCEL, INQ_CANCEL, 0, 0, 0, 1),
	E(CREATE_CONN, CONNECT, MT_CS, 13, 0, 4),
	E(DISCONNECT, HANDLE, MT_CS, 3, 0, 5),
	E(CREATE_CONN_CANCEL, ADDR, 0, 6, 0, 7),
	E(ACCEPT_CONN_REQ, ADDR, MT_CS, 7, 1, 0),
	E(REJECT_CONN_REQ, ADDR, MT_CS, 7, 1, 1),
	E(LINK_KEY_REPLY, ADDR, 0, 22, 1, 2),
	E(LINK_KEY_NEG_REPLY, ADDR, 0, 6, 1, 3),
	E(PIN_CODE_REPLY, ADDR, 0, 23, 1, 4),
	E(PIN_CODE_NEG_REPLY, ADDR, 0, 6, 1, 5),
	E(CHANGE_CONN_PTYPE, HANDLE, MT_CS, 4, 1, 6),
	E(AUTH_REQUESTED, HANDLE, MT_CS, 2, 1, 7),
	E(SET_CONN_ENCRYPT, HANDLE, MT_CS, 3, 2, 0),
	E(CHANGE_CONN_LINK_KEY, HANDLE, MT_CS, 2, 2, 1),
	E(REMOTE_NAME_REQ, CONNECT, MT_CS, 10, 2, 3),
	E(REMOTE_NAME_REQ_CANCEL, ADDR, 0, 6, 2, 4),
	E(READ_REMOTE_FEATURES, HANDLE, MT_CS, 2, 2, 5),
	E(READ_REMOTE_EXT_FEATURES, HANDLE, MT_CS, 3, 2, 6),
	E(READ_REMOTE_VERSION, HANDLE, MT_CS, 2, 2, 7),
	E(READ_CLOCK_OFFSET, HANDLE, MT_CS, 2, 3, 0),
	E(SETUP_SYNC_CONN, HANDLE, MT_CS, 17, 16, 3),
	E(ACCEPT_SYNC_CONN_REQ, ADDR, MT_CS, 21, 16, 4),
	E(REJECT_SYNC_CONN_REQ, ADDR, MT_CS, 7, 16, 5),
	E(IO_CAPABILITY_REPLY, ADDR, 0, 9, 18, 7),
	E(USER_CONFIRM_REPLY, ADDR, 0, 6, 19, 0),
	E(USER_CONFIRM_NEG_REPLY, ADDR, 0, 6, 19, 1),
	E(USER_PASSKEY_REPLY, ADDR, 0, 10, 19, 2),
	E(USER_PASSKEY_NEG_REPLY, ADDR, 0, 6, 19, 3),
	E(REMOTE_OOB_DATA_REPLY, ADDR, 0, 38, 19, 4),
	E(REMOTE_OOB_DATA_NEG_REPLY, ADDR, 0, 6, 19, 7),
	E(IO_CAPABILITY_NEG_REPLY, ADDR, 0, 7, 20, 3),
	/* Link Policy (7.2) */
	E(SNIFF_MODE, HANDLE, MT_CS, 10, 4, 2),
	E(EXIT_SNIFF_MODE, HANDLE, MT_CS, 2, 4, 3),
	E(ROLE_DISCOVERY, HANDLE, 0, 2, 4, 7),
	E(SWITCH_ROLE, ADDR, MT_CS, 7, 5, 0),
	E(READ_LINK_POLICY, HANDLE, 0, 2, 5, 1),
	E(WRITE_LINK_POLICY, HANDLE, 0, 4, 5, 2),
	R(READ_DEF_LINK_POLICY, REG_R, 0, 5, 3, DEF_LINK_POLICY),
	R(WRITE_DEF_LINK_POLICY, REG_W, 2, 5, 4, DEF_LINK_POLICY),
	E(SNIFF_SUBRATING, HANDLE, 0, 8, 17, 4),
	/* Controller & Baseband (7.3) */
	E(SET_EVENT_MASK, VIRT, 0, 8, 5, 6),
	E(RESET, RESET, 0, 0, 5, 7),
	E(SET_EVENT_FILTER, VIRT, MT_VARLEN, 1, 6, 0),
	E(FLUSH, HANDLE, 0, 2, 6, 1),
	R(READ_PIN_TYPE, REG_R, 0, 6, 2, PIN_TYPE),
	R(WRITE_PIN_TYPE, REG_W, 1, 6, 3, PIN_TYPE),
	E(READ_STORED_LINK_KEY, VIRT, 0, 7, 6, 5),
	E(WRITE_STORED_LINK_KEY, PRIV, MT_VARLEN, 1, 6, 6),
	E(DELETE_STORED_LINK_KEY, VIRT, 0, 7, 6, 7),
	R(WRITE_LOCAL_NAME, REG_W, 248, 7, 0, LOCAL_NAME),
	R(READ_LOCAL_NAME, REG_R, 0, 7, 1, LOCAL_NAME),
	R(READ_CONN_ACCEPT_TIMEOUT, REG_R, 0, 7, 2, CONN_ACCEPT_TO),
	R(WRITE_CONN_ACCEPT_TIMEOUT, REG_W, 2, 7, 3, CONN_ACCEPT_TO),
	R(READ_PAGE_TIMEOUT, REG_R, 0, 7, 4, PAGE_TO),
	R(WRITE_PAGE_TIMEOUT, REG_W, 2, 7, 5, PAGE_TO),
	R(READ_SCAN_ENABLE, REG_R, 0, 7, 6, SCAN_ENABLE),
	R(WRITE_SCAN_ENABLE, REG_W, 1, 7, 7, SCAN_ENABLE),
	R(READ_PAGE_SCAN_ACTIVITY, REG_R, 0, 8, 0, PSCAN_ACT),
	R(WRITE_PAGE_SCAN_ACTIVITY, REG_W, 4, 8, 1, PSCAN_ACT),
	R(READ_INQUIRY_SCAN_ACTIVITY, REG_R, 0, 8, 2, ISCAN_ACT),
	R(WRITE_INQUIRY_SCAN_ACTIVITY, REG_W, 4, 8, 3, ISCAN_ACT),
	R(READ_AUTH_ENABLE, REG_R, 0, 8, 4, AUTH_ENABLE),
	R(WRITE_AUTH_ENABLE, REG_W, 1, 8, 5, AUTH_ENABLE),
	R(READ_CLASS_OF_DEV, REG_R, 0, 9, 0, CLASS),
	R(WRITE_CLASS_OF_DEV, REG_W, 3, 9, 1, CLASS),
	R(READ_VOICE_SETTING, REG_R, 0, 9, 2, VOICE),
	R(WRITE_VOICE_SETTING, REG_W, 2, 9, 3, VOICE),
	E(READ_AUTO_FLUSH_TIMEOUT, HANDLE, 0, 2, 9, 4),
	E(WRITE_AUTO_FLUSH_TIMEOUT, HANDLE, 0, 4, 9, 5),
	E(READ_TX_POWER, HANDLE, 0, 3, 10, 2),
	E(READ_LINK_SUPV_TIMEOUT, HANDLE, 0, 2, 11, 0),
	E(WRITE_LINK_SUPV_TIMEOUT, HANDLE, 0, 4, 11, 1),
	E(READ_NUM_SUPPORTED_IAC, CACHE, 0, 0, 11, 2),
	R(READ_CURRENT_IAC_LAP, REG_R, 0, 11, 3, IAC_LAP),
	RV(WRITE_CURRENT_IAC_LAP, REG_W, 4, 11, 4, IAC_LAP),	/* 1 + 3 * n */
	E(SET_AFH_HOST_CLASSIFICATION, PRIV, 0, 10, 12, 1),
	R(READ_INQUIRY_SCAN_TYPE, REG_R, 0, 12, 4, ISCAN_TYPE),
	R(WRITE_INQUIRY_SCAN_TYPE, REG_W, 1, 12, 5, ISCAN_TYPE),
	R(READ_INQUIRY_MODE, REG_R, 0, 12, 6, INQ_MODE),
	R(WRITE_INQUIRY_MODE, REG_W, 1, 12, 7, INQ_MODE),
	R(READ_PAGE_SCAN_TYPE, REG_R, 0, 13, 0, PSCAN_TYPE),
	R(WRITE_PAGE_SCAN_TYPE, REG_W, 1, 13, 1, PSCAN_TYPE),
	R(READ_EXT_INQUIRY_RESPONSE, REG_R, 0, 17, 0, EIR),
	R(WRITE_EXT_INQUIRY_RESPONSE, REG_W, 241, 17, 1, EIR),
	R(READ_SIMPLE_PAIRING_MODE, REG_R, 0, 17, 5, SSP_MODE),
	R(WRITE_SIMPLE_PAIRING_MODE, REG_W, 1, 17, 6, SSP_MODE),
	E(READ_LOCAL_OOB_DATA, FWD, 0, 0, 17, 7),
	E(READ_INQ_RSP_TX_POWER, CACHE, 0, 0, 18, 0),
	R(READ_DEF_ERR_DATA_REPORTING, REG_R, 0, 18, 2, ERR_DATA),
	R(WRITE_DEF_ERR_DATA_REPORTING, REG_W, 1, 18, 3, ERR_DATA),
	E(SET_EVENT_MASK_PAGE_2, VIRT, 0, 8, 22, 2),
	/*
	 * Linux sends Write LE Host Supported to every dual-mode controller
	 * and fails power-on if it is refused; some bitmaps lack its bit.
	 */
	RO(READ_LE_HOST_SUPPORTED, REG_R, 0, 24, 5, LE_HOST),
	RO(WRITE_LE_HOST_SUPPORTED, REG_W, 2, 24, 6, LE_HOST),
	R(READ_SC_SUPPORT, REG_R, 0, 32, 6, SC),
	R(WRITE_SC_SUPPORT, REG_W, 1, 32, 7, SC),
	E(READ_AUTH_PAYLOAD_TIMEOUT, HANDLE, 0, 2, 33, 0),
	E(WRITE_AUTH_PAYLOAD_TIMEOUT, HANDLE, 0, 4, 33, 1),
	E(READ_LOCAL_OOB_EXT_DATA, FWD, 0, 0, 33, 2),
	/* Informational (7.4) */
	E(READ_LOCAL_VERSION, CACHE, 0, 0, 14, 3),
	E(READ_LOCAL_COMMANDS, VIRT, 0, 0, NB, 0),
	E(READ_LOCAL_FEATURES, CACHE, 0, 0, 14, 5),
	E(READ_LOCAL_EXT_FEATURES, VIRT, 0, 1, 14, 6),
	E(READ_BUFFER_SIZE, VIRT, 0, 0, 14, 7),
	E(READ_BD_ADDR, CACHE, 0, 0, 15, 1),
	E(READ_LOCAL_CODECS, CACHE, 0, 0, 29, 5),
	E(READ_LOCAL_PAIRING_OPTS, CACHE, 0, 0, 41, 3),
	/* Status (7.5) */
	E(READ_FAILED_CONTACT_COUNTER, HANDLE, 0, 2, 15, 2),
	E(RESET_FAILED_CONTACT_COUNTER, HANDLE, 0, 2, 15, 3),
	E(READ_LINK_QUALITY, HANDLE, 0, 2, 15, 4),
	E(READ_RSSI, HANDLE, 0, 2, 15, 5),
	E(READ_AFH_CHANNEL_MAP, HANDLE, 0, 2, 15, 6),
	E(READ_CLOCK, HANDLE, 0, 3, 15, 7),
	E(READ_ENC_KEY_SIZE, HANDLE, 0, 2, 20, 4),
	/* Testing (7.6): never for an ordinary user */
	E(READ_LOOPBACK_MODE, PRIV, 0, 0, 16, 0),
	E(WRITE_LOOPBACK_MODE, PRIV, 0, 1, 16, 1),
	E(ENABLE_DUT_MODE, PRIV, 0, 0, 16, 2),
	E(WRITE_SSP_DEBUG_MODE, PRIV, 0, 1, 19, 5),
	/* LE Controller (7.8) */
	E(LE_SET_EVENT_MASK, VIRT, 0, 8, 25, 0),
	E(LE_READ_BUFFER_SIZE, VIRT, 0, 0, 25, 1),
	E(LE_READ_LOCAL_FEATURES, VIRT, 0, 0, 25, 2),
	R(LE_SET_RANDOM_ADDR, REG_W, 6, 25, 4, LE_RAND_ADDR),
	R(LE_SET_ADV_PARAM, ADV, 15, 25, 5, ADV_PARAMS),
	E(LE_READ_ADV_TX_POWER, CACHE, 0, 0, 25, 6),
	R(LE_SET_ADV_DATA, ADV, 32, 25, 7, ADV_DATA),
	R(LE_SET_SCAN_RSP_DATA, ADV, 32, 26, 0, SCAN_RSP),
	R(LE_SET_ADV_ENABLE, ADV, 1, 26, 1, ADV_ENABLE),
	E(LE_SET_SCAN_PARAM, VIRT, 0, 7, 26, 2),
	E(LE_SET_SCAN_ENABLE, VIRT, 0, 2, 26, 3),
	E(LE_CREATE_CONN, LE_CONNECT, MT_CS, 25, 26, 4),
	E(LE_CREATE_CONN_CANCEL, VIRT, 0, 0, 26, 5),
	E(LE_READ_ACCEPT_LIST_SIZE, VIRT, 0, 0, 26, 6),
	E(LE_CLEAR_ACCEPT_LIST, VIRT, 0, 0, 26, 7),
	E(LE_ADD_TO_ACCEPT_LIST, VIRT, 0, 7, 27, 0),
	E(LE_DEL_FROM_ACCEPT_LIST, VIRT, 0, 7, 27, 1),
	E(LE_CONN_UPDATE, HANDLE, MT_CS, 14, 27, 2),
	E(LE_READ_CHANNEL_MAP, HANDLE, 0, 2, 27, 4),
	E(LE_READ_REMOTE_FEATURES, HANDLE, MT_CS, 2, 27, 5),
	E(LE_ENCRYPT, FWD, 0, 32, 27, 6),
	E(LE_RAND, FWD, 0, 0, 27, 7),
	E(LE_START_ENCRYPTION, HANDLE, MT_CS, 28, 28, 0),
	E(LE_LTK_REPLY, HANDLE, 0, 18, 28, 1),
	E(LE_LTK_NEG_REPLY, HANDLE, 0, 2, 28, 2),
	E(LE_READ_SUPPORTED_STATES, CACHE, 0, 0, 28, 3),
	E(LE_RECEIVER_TEST, PRIV, 0, 1, 28, 4),
	E(LE_TRANSMITTER_TEST, PRIV, 0, 3, 28, 5),
	E(LE_TEST_END, PRIV, 0, 0, 28, 6),
	E(LE_CONN_PARAM_REQ_REPLY, HANDLE, 0, 14, 33, 4),
	E(LE_CONN_PARAM_REQ_NEG_REPLY, HANDLE, 0, 3, 33, 5),
	E(LE_SET_DATA_LEN, HANDLE, 0, 6, 33, 6),
	R(LE_READ_DEF_DATA_LEN, REG_R, 0, 33, 7, LE_DEF_DATA_LEN),
	R(LE_WRITE_DEF_DATA_LEN, REG_W, 4, 34, 0, LE_DEF_DATA_LEN),
	E(LE_CLEAR_RESOLV_LIST, VIRT, 0, 0, 34, 5),
	R(LE_SET_RPA_TIMEOUT, REG_W, 2, 35, 2, LE_RPA_TO),
	E(LE_READ_MAX_DATA_LEN, CACHE, 0, 0, 35, 3),
	E(LE_READ_PHY, HANDLE, 0, 2, 35, 4),
	R(LE_SET_DEFAULT_PHY, REG_W, 3, 35, 5, LE_DEF_PHY),
	E(LE_SET_PHY, HANDLE, MT_CS, 7, 35, 6),
	/*
	 * Extended scanning (7.8.64, 7.8.65): virtual per session, one
	 * physical scan (doc: Discovery). Parameters: 3 octets, then 5 per
	 * scanning PHY (checked in the handler).
	 */
	/*
	 * Extended advertising sets (7.8.52-7.8.61): mux_cmd.c ext_adv_cmd()
	 * checks the rest of the variable lengths.
	 */
	E(LE_SET_ADV_SET_RAND_ADDR, EXTADV, 0, 7, 36, 1),
	E(LE_SET_EXT_ADV_PARAMS, EXTADV, 0, 25, 36, 2),
	E(LE_SET_EXT_ADV_DATA, EXTADV, MT_VARLEN, 4, 36, 3),
	E(LE_SET_EXT_SCAN_RSP_DATA, EXTADV, MT_VARLEN, 4, 36, 4),
	E(LE_SET_EXT_ADV_ENABLE, EXTADV, MT_VARLEN, 2, 36, 5),
	E(LE_READ_MAX_ADV_DATA_LEN, CACHE, 0, 0, 36, 6),
	E(LE_READ_NUM_ADV_SETS, CACHE, 0, 0, 36, 7),
	E(LE_REMOVE_ADV_SET, EXTADV, 0, 1, 37, 0),
	E(LE_CLEAR_ADV_SETS, EXTADV, 0, 0, 37, 1),
	E(LE_SET_EXT_SCAN_PARAMS, VIRT, MT_VARLEN, 8, 37, 5),
	E(LE_SET_EXT_SCAN_ENABLE, VIRT, 0, 6, 37, 6),
	/* 10 octets, then 16 per initiating PHY (checked in mux_cmd.c). */
	E(LE_EXT_CREATE_CONN, LE_CONNECT, MT_CS | MT_VARLEN, 26, 37, 7),
	E(LE_READ_TX_POWER, CACHE, 0, 0, 38, 7),
};

/*
 * The lookup runs for every command a host sends and for every completion
 * the controller returns (mux_ctrl.c): an index, not a walk through the
 * table. Slot [OGF - 1][OCF] holds the entry's position + 1, 0 for none,
 * for the OGFs of Vol 4 Part E 7.1-7.8 and OCFs below 0x100, which cover
 * every command the table lists today; an opcode outside that range (no
 * such command yet, or vendor 0x3f) is looked up in the table itself, so
 * an entry added there later is found either way.
 */
#define IDX_OGF		8
#define IDX_OCF		0x100
#define NCMDS		(sizeof(cmds) / sizeof(cmds[0]))

_Static_assert(NCMDS < 0xffff, "the index holds positions + 1 in 16 bits");

static uint16_t cmd_idx[IDX_OGF][IDX_OCF];
static pthread_once_t cmd_idx_once = PTHREAD_ONCE_INIT;

static bool idx_covers(uint16_t opcode)
{
	return HCI_OGF(opcode) >= 1 && HCI_OGF(opcode) <= IDX_OGF &&
	       HCI_OCF(opcode) < IDX_OCF;
}

/* The first entry of an opcode wins, as in a walk through the table. */
static void cmd_idx_build(void)
{
	size_t i = NCMDS;

	while (i-- > 0)
		if (idx_covers(cmds[i].opcode))
			cmd_idx[HCI_OGF(cmds[i].opcode) - 1][HCI_OCF(cmds[i].opcode)] =
				(uint16_t)(i + 1);
}

const struct mux_cmd_def *mux_cmd_find(uint16_t opcode)
{
	size_t i;

	if (idx_covers(opcode)) {
		pthread_once(&cmd_idx_once, cmd_idx_build);
		i = cmd_idx[HCI_OGF(opcode) - 1][HCI_OCF(opcode)];
		return i ? &cmds[i - 1] : NULL;
	}
	for (i = 0; i < NCMDS; i++)
		if (cmds[i].opcode == opcode)
			return &cmds[i];
	return NULL;
}

const struct mux_cmd_def *mux_cmd_table(unsigned *n)
{
	*n = NCMDS;
	return cmds;
}

static const uint8_t d_cat[] = { 0xa0, 0x1f };		/* 0x1FA0: 5 s */
static const uint8_t d_pto[] = { 0x00, 0x20 };		/* 0x2000: 5.12 s */
static const uint8_t d_psa[] = { 0x00, 0x08, 0x12, 0x00 };
static const uint8_t d_isa[] = { 0x00, 0x10, 0x12, 0x00 };
static const uint8_t d_voice[] = { 0x60, 0x00 };
static const uint8_t d_iac[] = { 0x01, 0x33, 0x8b, 0x9e };	/* GIAC */
static const uint8_t d_dlen[] = { 27, 0, 0x48, 0x01 };	/* 27 octets, 328 us */
static const uint8_t d_rpa[] = { 0x84, 0x03 };		/* 900 s */
static const uint8_t d_advp[] = { 0x00, 0x08, 0x00, 0x08, 0, 0, 0, 0, 0,
				  0, 0, 0, 0, 0x07, 0 };

/* Defaults are those of Core Vol 4 Part E 7.3 / 7.8 after HCI_Reset. */
static const struct mux_reg_def regs[REG_COUNT] = {
	[REG_LOCAL_NAME] = { 248, false, 0, NULL },
	[REG_CLASS] = { 3, false, 0, NULL },
	[REG_CONN_ACCEPT_TO] = { 2, false, 2, d_cat },
	[REG_PAGE_TO] = { 2, false, 2, d_pto },
	[REG_SCAN_ENABLE] = { 1, false, 0, NULL },
	[REG_PSCAN_ACT] = { 4, false, 4, d_psa },
	[REG_ISCAN_ACT] = { 4, false, 4, d_isa },
	[REG_AUTH_ENABLE] = { 1, false, 0, NULL },
	[REG_VOICE] = { 2, false, 2, d_voice },
	[REG_ISCAN_TYPE] = { 1, false, 0, NULL },
	[REG_INQ_MODE] = { 1, false, 0, NULL },
	[REG_PSCAN_TYPE] = { 1, false, 0, NULL },
	[REG_EIR] = { 241, false, 0, NULL },
	[REG_SSP_MODE] = { 1, false, 0, NULL },
	[REG_ERR_DATA] = { 1, false, 0, NULL },
	[REG_LE_HOST] = { 2, false, 0, NULL },
	[REG_SC] = { 1, false, 0, NULL },
	[REG_DEF_LINK_POLICY] = { 2, false, 0, NULL },
	[REG_IAC_LAP] = { 13, true, 4, d_iac },	/* at most 4 IACs */
	[REG_PIN_TYPE] = { 1, false, 0, NULL },
	[REG_LE_DEF_DATA_LEN] = { 4, false, 4, d_dlen },
	[REG_LE_RAND_ADDR] = { 6, false, 0, NULL },
	[REG_LE_DEF_PHY] = { 3, false, 0, NULL },
	[REG_LE_RPA_TO] = { 2, false, 2, d_rpa },
	[REG_ADV_PARAMS] = { 15, false, 15, d_advp },
	[REG_ADV_DATA] = { 32, false, 0, NULL },
	[REG_SCAN_RSP] = { 32, false, 0, NULL },
	[REG_ADV_ENABLE] = { 1, false, 0, NULL },
};

const struct mux_reg_def *mux_reg_def(unsigned reg)
{
	return reg < REG_COUNT ? &regs[reg] : NULL;
}
