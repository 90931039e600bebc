/* SPDX-License-Identifier: MIT */
/*
 * Writes a short btsnoop trace of a controller's init and a connection with
 * data, through the library's writer, for tests/t-btmon.sh to decode.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "btsnoop.h"
#include "hci.h"

static int put(struct snoop *s, const uint8_t *b, int n, bool rx)
{
	return n < 0 ? n : snoop_write(s, b, (size_t)n, rx, 0);
}

int main(int argc, char **argv)
{
	static const uint8_t bdaddr[7] = { 0, 0x13, 0x71, 0xda, 0x7d, 0x1a, 0x00 };
	static const uint8_t conn[11] = { 0, 0x01, 0x00, 0x11, 0x22, 0x33,
					  0x44, 0x55, 0x66, 0x01, 0x00 };
	static const uint8_t l2cap_echo[12] = { 8, 0, 1, 0, 0x08, 0x01, 4, 0,
						'b', 'g', 'w', '!' };
	uint8_t b[64];
	struct snoop *s;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: snoop-sample FILE\n");
		return 2;
	}
	if (snoop_open(&s, argv[1])) {
		perror(argv[1]);
		return 1;
	}
	err |= put(s, b, h4_build_cmd(b, sizeof(b), HCI_OP_RESET, NULL, 0), false);
	err |= put(s, b, h4_build_cc(b, sizeof(b), 1, HCI_OP_RESET, "\0", 1), true);
	err |= put(s, b, h4_build_cmd(b, sizeof(b), HCI_OP_READ_BD_ADDR, NULL, 0), false);
	err |= put(s, b, h4_build_cc(b, sizeof(b), 1, HCI_OP_READ_BD_ADDR,
				     bdaddr, sizeof(bdaddr)), true);
	err |= put(s, b, h4_build_evt(b, sizeof(b), HCI_EV_CONN_COMPLETE,
				      conn, sizeof(conn)), true);
	err |= put(s, b, h4_build_acl(b, sizeof(b), 1, HCI_PB_FIRST_FLUSH, 0,
				      l2cap_echo, sizeof(l2cap_echo)), false);
	err |= snoop_close(s);
	return err ? 1 : 0;
}
