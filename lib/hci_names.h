/* SPDX-License-Identifier: MIT */
/* Names of HCI opcodes, events and status codes, for logs and traces. */
#ifndef BGW_HCI_NAMES_H
#define BGW_HCI_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* NULL when the code is not in the tables. */
const char *hcistr_opcode(uint16_t opcode);
const char *hcistr_event(uint8_t code);
const char *hcistr_le_event(uint8_t subevent);
const char *hcistr_status(uint8_t status);

/*
 * A one-line summary of an H4 packet ("CMD Reset (0x0c03) plen 0",
 * "EVT Command Complete Reset status 0x00", "ACL handle 0x0001 len 12").
 * Never prints payload bytes: they may carry keys. Always NUL-terminates.
 */
void hcistr_summary(char *out, size_t cap, const uint8_t *h4, size_t len);

#endif /* BGW_HCI_NAMES_H */
