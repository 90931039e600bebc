/* SPDX-License-Identifier: MIT */
/*
 * The household bond store (bgw-bonds(5)): per remote device identity,
 * the keys the gateway keeps so that a device bonded once serves every
 * user the authdb allows (doc/virtual-controller.md, "Household bonds").
 * Owned by bgw-muxd's monitor (doc/security.md); read and edited by
 * bgw-authdb's `bond` commands.
 *
 * The file is line-oriented, one bond per line; the parser reports the
 * first error with its line number and applies nothing of a file that
 * has one. Every table here holds key material: bonds_free wipes it.
 */
#ifndef BGW_AUTHDB_BONDS_H
#define BGW_AUTHDB_BONDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdaddr.h"

#define BONDS_MAX	256	/* devices in one store */
#define BONDS_LINE_MAX	512	/* a line, its newline excluded */
#define BONDS_FILE_MAX	(BONDS_MAX * (BONDS_LINE_MAX + 1) + 4096)
#define BONDS_ERR_MAX	256
#define BONDS_USER_MAX	63	/* AUTHDB_NAME_MAX */
#define BONDS_KEY_LEN	16
#define BONDS_DEFAULT_PATH "/var/lib/bgw/bonds"
/*
 * The maker of a bond the admin paired at the gateway (bgw-muxd pair):
 * not a user name ('@' starts a group in the authdb), so no user is
 * ever taken for it. Equal to MUX_PAIR_USER (mux/pair.h).
 */
#define BONDS_BY_GATEWAY "@gateway"

struct bond {
	struct bdaddr addr;	/* the device's identity */
	uint8_t type;		/* BDADDR_PUBLIC or BDADDR_RANDOM (static) */
	char by[BONDS_USER_MAX + 1];	/* the user whose pairing made it */
	int64_t at;		/* when, seconds since the epoch */
	/* BR/EDR: Link Key Notification (Core Vol 4 Part E 7.7.24). */
	bool has_lk;
	uint8_t lk[BONDS_KEY_LEN];
	uint8_t lk_type;	/* Key_Type 0x00-0x08 */
	/* LE: the device's LTK, EDIV, Rand (Vol 3 Part H 3.6.2, 3.6.3). */
	bool has_ltk;
	uint8_t ltk[BONDS_KEY_LEN];
	uint16_t ediv;
	uint8_t rand[8];
	uint8_t key_size;	/* 7-16 */
	bool authenticated;	/* MITM-protected pairing */
	/* LE: the device's IRK (Vol 3 Part H 3.6.4). */
	bool has_irk;
	uint8_t irk[BONDS_KEY_LEN];
	/*
	 * LE, the device as central: the LTK, EDIV and Rand the mux gave
	 * the device in the gateway side's key distribution, in place of a
	 * host's own (3.6.2-3.6.3), which the device encrypts with when it
	 * connects to the gateway (doc/virtual-controller.md, "The device
	 * as central"). Already shortened to the pairing's key size.
	 */
	bool has_pltk;
	uint8_t pltk[BONDS_KEY_LEN];
	uint16_t pediv;
	uint8_t prand[8];
};

struct bonds;

struct bonds *bonds_new(void);
/* Wipes every key. NULL is fine. */
void bonds_free(struct bonds *b);

/*
 * Parse the whole text (len bytes, NULs are errors) into a new table.
 * On error -EINVAL, err holds "NAME:LINE: what", *out is NULL.
 */
int bonds_parse_buffer(const char *name, const char *buf, size_t len,
		       struct bonds **out, char *err, size_t errlen);
/*
 * Read path (a regular file, at most BONDS_FILE_MAX bytes). A missing
 * file is an empty table (no bond made yet). A file readable by group or
 * others is refused (-EPERM): it holds link keys.
 */
int bonds_load(const char *path, struct bonds **out, char *err, size_t errlen);
/* The text of the table, as bonds_parse_buffer reads it (wipe it after use). */
int bonds_serialize(const struct bonds *b, char **out, size_t *len);
/* Replace path atomically (mode 0600) with the table. */
int bonds_save(const struct bonds *b, const char *path);

unsigned bonds_count(const struct bonds *b);
const struct bond *bonds_at(const struct bonds *b, unsigned i);
const struct bond *bonds_find(const struct bonds *b, const struct bdaddr *a,
			      uint8_t type);
/*
 * Add a bond or replace the one of its device. -EINVAL for a bond the
 * parser would refuse, -ENOSPC when BONDS_MAX devices are bonded.
 */
int bonds_set(struct bonds *b, const struct bond *nb);
/* Remove the device's bond: 0 or -ENOENT. */
int bonds_forget(struct bonds *b, const struct bdaddr *a, uint8_t type);
/* A user name, or BONDS_BY_GATEWAY. */
bool bonds_by_is_valid(const char *by);
/* The bond's fields are in range (what bonds_set and the parser check). */
bool bonds_is_valid(const struct bond *nb);

#endif /* BGW_AUTHDB_BONDS_H */
