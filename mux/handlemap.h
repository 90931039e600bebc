/* SPDX-License-Identifier: MIT */
/*
 * Handle translation: where a Connection_Handle sits in each packet the
 * mux passes, and each session's own handle space (doc/virtual-controller.md,
 * "Handles"). Pure functions over bytes; the mux core keeps which physical
 * handle each virtual one stands for (struct mux_conn).
 */
#ifndef BGW_MUX_HANDLEMAP_H
#define BGW_MUX_HANDLEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmdtab.h"
#include "hci.h"

/* Connection_Handle range, Vol 4 Part E 5.4.2: 0x0000-0x0EFF. */
#define HMAP_HANDLE_MAX HCI_HANDLE_MAX
/* The first handle a session is given (0 is what failures carry). */
#define HMAP_HANDLE_FIRST 0x0001

/*
 * Offset of the Connection_Handle in an event's parameters (for LE Meta,
 * sub is the subevent and the offset counts its code octet), or -1 if the
 * event has none at a fixed place. Number Of Completed Packets is not in
 * the table (several handles): see HCI_EV_NUM_COMP_PKTS_HANDLE_OFF.
 */
int hmap_evt_off(uint8_t code, uint8_t sub);

/* Offset of the handle in a command's parameters, or -1. */
int hmap_cmd_off(const struct mux_cmd_def *d);

/*
 * Offset of the handle in the return parameters of the command's Command
 * Complete (after Status), or -1: Command Status carries none.
 */
int hmap_cc_off(const struct mux_cmd_def *d);

/* The 12-bit handle at p; the 4 bits above it are left to the caller. */
uint16_t hmap_get(const uint8_t *p);

/* Write handle h at p, keeping the 4 bits above it (ACL/SCO flags). */
void hmap_put(uint8_t *p, uint16_t h);

/*
 * The lowest handle from HMAP_HANDLE_FIRST not in used[0..n-1], or 0 if
 * all HMAP_HANDLE_MAX are taken.
 */
uint16_t hmap_lowest_free(const uint16_t *used, size_t n);

/*
 * Rewrite the handle of an H4 event in place to h. Returns 0, or -EINVAL
 * when the event has no handle at a known place or is too short for it.
 */
int hmap_evt_rewrite(uint8_t *h4, size_t len, uint16_t h);

#endif /* BGW_MUX_HANDLEMAP_H */
