/* SPDX-License-Identifier: MIT */
/*
 * bond-host SOCKET ADDR BONDFILE SNOOP: one session of a host that uses a
 * bonded BR/EDR device, for tests/t-bonds.sh. Connects to bgw-muxd's
 * local listener, initialises its virtual controller, connects to ADDR,
 * authenticates and encrypts as Linux does (tests/hostauth.h) with the
 * bond it keeps in BONDFILE (hex key and type, as BlueZ keeps its own;
 * created, replaced or removed as BlueZ would), disconnects, and records
 * every packet of the session to SNOOP (btsnoop). Prints "auth 0xNN"
 * (the Authentication Complete status) and "asked N" (Link Key Requests
 * this host saw); exit 0 when authentication and encryption succeeded.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bdaddr.h"
#include "btsnoop.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "hex.h"
#include "hostauth.h"
#include "hostdrv.h"

static void bond_read(const char *path, struct hostauth_bond *b)
{
	char line[64];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && strlen(line) >= 35 && line[32] == ' ') {
		line[32] = '\0';
		b->has = hex_decode_exact(line, b->key, 16) == 0;
		b->type = (uint8_t)strtoul(line + 33, NULL, 16);
	}
	fclose(f);
}

static int bond_write(const char *path, const struct hostauth_bond *b)
{
	char hex[33];
	FILE *f;

	if (!b->has)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	hex_encode(b->key, 16, hex);
	fprintf(f, "%s %02x\n", hex, b->type);
	return fclose(f);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	struct hostauth_bond bond = { 0 };
	struct snoop *sn = NULL;
	struct hostdrv *d = NULL;
	struct loop *l = NULL;
	uint8_t p[16], b[300];
	struct bdaddr a;
	uint16_t h;
	size_t n;
	int fd = -1, st, ret = 1;

	if (argc != 5 || strlen(argv[1]) >= sizeof(sa.sun_path) ||
	    bdaddr_parse(argv[2], &a) < 0) {
		fprintf(stderr, "usage: bond-host SOCKET ADDR BONDFILE SNOOP\n");
		return 2;
	}
	bond_read(argv[3], &bond);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bond-host: connect");
		goto out;
	}
	l = loop_new();
	d = hostdrv_new(l);
	if (!l || !d || hostdrv_attach_fd(d, fd) < 0)
		goto out;
	if (snoop_open(&sn, argv[4]) < 0) {
		perror("bond-host: snoop");
		goto out;
	}
	hostdrv_set_snoop(d, sn);
	hostdrv_set_timeout(d, 10000);
	if (hostdrv_cmd_sync(d, HCI_OP_RESET, NULL, 0, b, sizeof(b), &n) != 0 ||
	    hostdrv_cmd_sync(d, HCI_OP_SET_EVENT_MASK, mask, 8, b, sizeof(b), &n) != 0 ||
	    hostdrv_cmd_sync(d, HCI_OP_WRITE_SIMPLE_PAIRING_MODE, "\x01", 1, b, sizeof(b), &n) != 0) {
		fprintf(stderr, "bond-host: init failed\n");
		goto out;
	}
	memset(p, 0, 13);
	memcpy(p, a.b, 6);
	if (hostdrv_cmd_sync(d, HCI_OP_CREATE_CONN, p, 13, b, sizeof(b), &n) != 0 ||
	    hostdrv_wait_event(d, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n) != 0 || b[0]) {
		fprintf(stderr, "bond-host: connection failed (0x%02x)\n", b[0]);
		goto out;
	}
	h = get_le16(b + 1);
	st = hostauth_run(d, h, a.b, &bond);
	printf("auth 0x%02x\nasked %u\n", st < 0 ? 0xff : st, bond.lkr);
	if (bond_write(argv[3], &bond) < 0)
		perror("bond-host: bond file");
	put_le16(p, h);
	p[2] = 0x13;
	if (hostdrv_cmd_sync(d, HCI_OP_DISCONNECT, p, 3, b, sizeof(b), &n) == 0)
		hostdrv_wait_event(d, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n);
	ret = st == 0 ? 0 : 1;
out:
	hostdrv_free(d);
	loop_free(l);
	if (sn)
		snoop_close(sn);
	if (fd >= 0)
		close(fd);
	return ret;
}
