/* SPDX-License-Identifier: MIT */
/*
 * btsnoop traces (RFC 1761 style, as used by BlueZ btmon and Wireshark) with
 * datalink 1002, "HCI UART (H4)": each record is one H4 packet, type byte
 * included. `btmon -r FILE` and Wireshark read them.
 */
#ifndef BGW_BTSNOOP_H
#define BGW_BTSNOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNOOP_DATALINK_H4	1002
#define SNOOP_HDR_SIZE		16
#define SNOOP_REC_HDR_SIZE	24
/* Records larger than this are refused by the reader. */
#define SNOOP_MAX_RECORD	(1 + 4 + 65535)

struct snoop;
struct snoop_reader;

struct snoop_rec {
	uint32_t orig_len;
	uint32_t incl_len;
	bool from_controller;	/* flags bit 0: received by the host */
	bool is_ctl;		/* flags bit 1: command or event */
	uint32_t drops;
	uint64_t ts_unix_us;
};

/* Creates (mode 0600) or truncates path. */
int snoop_open(struct snoop **out, const char *path);
/* ts_unix_us 0 means now. */
int snoop_write(struct snoop *s, const uint8_t *h4, size_t len,
		bool from_controller, uint64_t ts_unix_us);
int snoop_flush(struct snoop *s);
/* Flushes and closes; returns the first write error seen, if any. */
int snoop_close(struct snoop *s);

/* -EPROTO: not a btsnoop file; -EPROTONOSUPPORT: another datalink. */
int snoop_reader_open(struct snoop_reader **out, const char *path);
/*
 * Reads the next record's data into buf[cap]. Returns its length, 0 at a
 * clean end of file, -EPROTO for a truncated or inconsistent record,
 * -EMSGSIZE if it does not fit cap.
 */
int snoop_read(struct snoop_reader *r, uint8_t *buf, size_t cap,
	       struct snoop_rec *rec);
void snoop_reader_close(struct snoop_reader *r);

#endif /* BGW_BTSNOOP_H */
