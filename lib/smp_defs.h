/* SPDX-License-Identifier: MIT */
/*
 * The Security Manager Protocol's numbers (Core Vol 3 Part H), shared by
 * the mux's bond broker, its pairing at the gateway and the simulated
 * devices' responder.
 */
#ifndef BGW_SMP_DEFS_H
#define BGW_SMP_DEFS_H

#define CID_SMP		0x0006	/* LE fixed channel, Vol 3 Part A 2.1 */
#define CID_SMP_BREDR	0x0007	/* BR/EDR fixed channel */

/* Command codes (3.3, Table 3.1). */
enum {
	SMP_PAIRING_REQ = 0x01,
	SMP_PAIRING_RSP = 0x02,
	SMP_CONFIRM = 0x03,
	SMP_RANDOM = 0x04,
	SMP_FAILED = 0x05,
	SMP_ENC_INFO = 0x06,
	SMP_CENTRAL_IDENT = 0x07,
	SMP_ID_INFO = 0x08,
	SMP_ID_ADDR_INFO = 0x09,
	SMP_SIGN_INFO = 0x0a,
	SMP_SECURITY_REQ = 0x0b,
	SMP_PUBLIC_KEY = 0x0c,
	SMP_DHKEY_CHECK = 0x0d,
	SMP_KEYPRESS = 0x0e,
};

/* Pairing Failed reasons (3.5.5, Table 3.7). */
enum {
	SMP_R_PASSKEY_FAILED = 0x01,
	SMP_R_OOB_NOT_AVAILABLE = 0x02,
	SMP_R_AUTH_REQUIREMENTS = 0x03,
	SMP_R_CONFIRM_FAILED = 0x04,
	SMP_R_NOT_SUPPORTED = 0x05,
	SMP_R_ENC_KEY_SIZE = 0x06,
	SMP_R_CMD_NOT_SUPP = 0x07,
	SMP_R_UNSPECIFIED = 0x08,
	SMP_R_REPEATED = 0x09,
	SMP_R_INVALID_PARAMS = 0x0a,
	SMP_R_DHKEY_CHECK = 0x0b,
	SMP_R_NUMERIC_COMP = 0x0c,
};

/* AuthReq bits (3.5.1) and key distribution bits (3.6.1). */
#define AUTH_BONDING	0x01
#define AUTH_MITM	0x04
#define AUTH_SC		0x08
#define KD_ENC		0x01	/* EncKey: LTK, EDIV, Rand */
#define KD_ID		0x02	/* IdKey: IRK, identity address */
#define KD_SIGN		0x04	/* SignKey: CSRK */

/* IO capabilities (3.5.1, Table 3.4). */
enum {
	IO_DISPLAY_ONLY = 0x00,
	IO_DISPLAY_YESNO = 0x01,
	IO_KEYBOARD_ONLY = 0x02,
	IO_NONE = 0x03,
	IO_KEYBOARD_DISPLAY = 0x04,
};

#endif
