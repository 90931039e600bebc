/* SPDX-License-Identifier: MIT */
/*
 * le-bond-host SOCKET ADDR BONDFILE SNOOP: one session of a host that uses
 * a bonded LE device (the simulated lock, ADDR a static random address,
 * or irk:HEX for a device on resolvable private addresses: the host scans
 * for an advertiser the IRK resolves, as BlueZ finds a bonded device with
 * privacy, and connects to that address), for tests/t-bonds-le.sh. Connects to bgw-muxd's local listener,
 * initialises its virtual controller, connects to ADDR and, as Linux's
 * smp.c does, encrypts with the LTK, EDIV and Rand it keeps in BONDFILE
 * (hex, as BlueZ keeps its own), or pairs (legacy, Just Works, bonding)
 * and stores what the device distributed; a key the device refuses (PIN
 * or Key Missing) is dropped, as BlueZ does. Then reads the lock's bolt
 * (0x2a56, served over an encrypted link only), disconnects, and records
 * every packet of the session to SNOOP. Prints "enc 0xNN" (the Encryption
 * Change status), "paired N" and "bolt 0xNN" (the ATT answer's opcode);
 * exit 0 when the link was encrypted and the bolt read. A pairing asks
 * for the device's identity too (IdKey), and prints "identity ADDR" when
 * the device gave it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bdaddr.h"
#include "btsnoop.h"
#include "cursor.h"
#include "hci.h"
#include "hci_defs.h"
#include "hex.h"
#include "hostdrv.h"
#include "rpa.h"
#include "smp_crypto.h"

struct hbond {
	bool has;
	uint8_t ltk[16];
	uint16_t ediv;
	uint8_t rand[8];
};

static struct hostdrv *D;

/* "LTK EDIV RAND" in hex, one line. */
static void bond_read(const char *path, struct hbond *b)
{
	char line[128], *e;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && strlen(line) >= 32 + 1 + 4 + 1 + 16 &&
	    line[32] == ' ' && line[37] == ' ') {
		line[32] = line[37] = line[54] = '\0';
		b->ediv = (uint16_t)strtoul(line + 33, &e, 16);
		b->has = hex_decode_exact(line, b->ltk, 16) == 0 &&
			 hex_decode_exact(line + 38, b->rand, 8) == 0;
	}
	fclose(f);
}

static int bond_write(const char *path, const struct hbond *b)
{
	char k[33], r[17];
	FILE *f;

	if (!b->has)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	hex_encode(b->ltk, 16, k);
	hex_encode(b->rand, 8, r);
	fprintf(f, "%s %04x %s\n", k, b->ediv, r);
	return fclose(f);
}

static int smp_send(uint16_t h, const uint8_t *p, size_t n)
{
	uint8_t pdu[32];

	put_le16(pdu, (uint16_t)n);
	put_le16(pdu + 2, 0x0006);
	memcpy(pdu + 4, p, n);
	return hostdrv_acl(D, h, 0x00, pdu, n + 4);
}

/* The next SMP PDU: its length, or 0. */
static size_t smp_recv(uint16_t h, uint8_t p[17])
{
	uint8_t pdu[64];
	size_t n;

	if (hostdrv_wait_l2cap(D, h, pdu, sizeof(pdu), &n) != 0 || n < 5 ||
	    get_le16(pdu + 2) != 0x0006 || n - 4 > 17)
		return 0;
	memcpy(p, pdu + 4, n - 4);
	return n - 4;
}

/* LE Enable Encryption: the Encryption Change status, or 0xff. */
static int encrypt(uint16_t h, const uint8_t rand[8], uint16_t ediv, const uint8_t ltk[16])
{
	uint8_t p[28], b[64];
	size_t n;

	put_le16(p, h);
	memcpy(p + 2, rand, 8);
	put_le16(p + 10, ediv);
	memcpy(p + 12, ltk, 16);
	if (hostdrv_cmd_sync(D, HCI_OP_LE_START_ENCRYPTION, p, 28, b, sizeof(b), &n) != 0 ||
	    hostdrv_wait_event(D, HCI_EV_ENCRYPT_CHANGE, 0, b, sizeof(b), &n) != 0)
		return 0xff;
	return b[0];
}

/* Legacy Just Works as central, bonding (Vol 3 Part H 2.3.5.2, 3.6). */
static int pair(uint16_t h, const uint8_t ia[6], const uint8_t ra[6], struct hbond *bd)
{
	static const uint8_t tk[16], zero[8];
	uint8_t preq[7] = { 0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x03 };
	uint8_t pres[17], mrand[16], b[17], conf[16], chk[16], stk[16];
	int st = 0xfe;

	if (smp_send(h, preq, 7) < 0 || smp_recv(h, pres) != 7 || pres[0] != 0x02 ||
	    pres[4] < 7 || pres[4] > 16 || getrandom(mrand, 16, 0) != 16)
		goto out;
	b[0] = 0x03;
	if (smp_c1(tk, mrand, preq, pres, 0, ia, 1, ra, b + 1) || smp_send(h, b, 17) < 0 ||
	    smp_recv(h, b) != 17 || b[0] != 0x03)
		goto out;
	memcpy(conf, b + 1, 16);
	b[0] = 0x04;
	memcpy(b + 1, mrand, 16);
	if (smp_send(h, b, 17) < 0 || smp_recv(h, b) != 17 || b[0] != 0x04 ||
	    smp_c1(tk, b + 1, preq, pres, 0, ia, 1, ra, chk) || memcmp(chk, conf, 16) ||
	    smp_s1(tk, b + 1, mrand, stk))
		goto out;
	memset(stk + pres[4], 0, 16 - pres[4]);
	st = encrypt(h, zero, 0, stk);
	if (st)
		goto out;
	if (smp_recv(h, b) != 17 || b[0] != 0x06) {
		st = 0xfd;
		goto out;
	}
	memcpy(bd->ltk, b + 1, 16);
	if (smp_recv(h, b) != 11 || b[0] != 0x07) {
		st = 0xfd;
		goto out;
	}
	bd->ediv = get_le16(b + 1);
	memcpy(bd->rand, b + 3, 8);
	bd->has = true;
	if (pres[6] & 0x02) {
		/* Identity Information, Identity Address Information (3.6.4-3.6.5). */
		struct bdaddr id;
		char as[BDADDR_STRLEN];

		if (smp_recv(h, b) != 17 || b[0] != 0x08 || smp_recv(h, b) != 8 ||
		    b[0] != 0x09) {
			st = 0xfd;
			goto out;
		}
		memcpy(id.b, b + 2, 6);
		printf("identity %s\n", bdaddr_fmt(&id, as));
	}
out:
	return st;
}

/*
 * Scan (passive) for an advertiser on an RPA that irk (SMP order)
 * resolves: 0 with its address, -ENOENT after 200 reports or the
 * driver's timeout.
 */
static int find_rpa(const uint8_t irk[16], struct bdaddr *a)
{
	static const uint8_t sp[7] = { 0x00, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00 };
	uint8_t b[300];
	unsigned i;
	size_t n;
	int r = -ENOENT;

	if (hostdrv_cmd_sync(D, HCI_OP_LE_SET_SCAN_PARAM, sp, 7, b, sizeof(b), &n) != 0 ||
	    hostdrv_cmd_sync(D, HCI_OP_LE_SET_SCAN_ENABLE, "\x01\x00", 2, b, sizeof(b), &n) != 0)
		return -EIO;
	for (i = 0; i < 200 && r; i++) {
		if (hostdrv_wait_event(D, HCI_EV_LE_META, HCI_LE_EV_ADV_REPORT, b, sizeof(b),
				       &n) != 0)
			break;
		if (n >= 9 && b[0] >= 1 && b[2] == 0x01) {
			memcpy(a->b, b + 3, 6);
			if (rpa_matches(irk, a))
				r = 0;
		}
	}
	hostdrv_cmd_sync(D, HCI_OP_LE_SET_SCAN_ENABLE, "\x00\x00", 2, b, sizeof(b), &n);
	return r;
}

/* Read By Type 0x2a56 (the bolt): the answer's ATT opcode. */
static int read_bolt(uint16_t h)
{
	static const uint8_t q[11] = { 0x07, 0x00, 0x04, 0x00, 0x08, 0x01, 0x00,
				       0xff, 0xff, 0x56, 0x2a };
	uint8_t b[64];
	size_t n;

	if (hostdrv_acl(D, h, 0x00, q, sizeof(q)) < 0 ||
	    hostdrv_wait_l2cap(D, h, b, sizeof(b), &n) != 0 || n < 5)
		return 0xff;
	return b[4];
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const uint8_t mask[8] = { 0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d };
	struct hbond bond = { 0 };
	struct snoop *sn = NULL;
	struct loop *l = NULL;
	uint8_t p[25], b[300], ia[6];
	struct bdaddr a;
	int fd = -1, st = 0xff, bolt = 0xff, ret = 1;
	bool paired = false, by_irk = false;
	uint8_t irk[16], k[16];
	uint16_t h;
	size_t n;
	unsigned i;

	if (argc == 5 && strncmp(argv[2], "irk:", 4) == 0 &&
	    hex_decode_exact(argv[2] + 4, k, 16) == 0) {
		/* Most significant octet first, as bgw-authdb(5) writes it. */
		for (i = 0; i < 16; i++)
			irk[i] = k[15 - i];
		by_irk = true;
	}
	if (argc != 5 || strlen(argv[1]) >= sizeof(sa.sun_path) ||
	    (!by_irk && bdaddr_parse(argv[2], &a) < 0)) {
		fprintf(stderr, "usage: le-bond-host SOCKET ADDR BONDFILE SNOOP\n");
		return 2;
	}
	bond_read(argv[3], &bond);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("le-bond-host: connect");
		goto out;
	}
	l = loop_new();
	D = hostdrv_new(l);
	if (!l || !D || hostdrv_attach_fd(D, fd) < 0)
		goto out;
	if (snoop_open(&sn, argv[4]) < 0) {
		perror("le-bond-host: snoop");
		goto out;
	}
	hostdrv_set_snoop(D, sn);
	hostdrv_set_timeout(D, 10000);
	if (hostdrv_cmd_sync(D, HCI_OP_RESET, NULL, 0, b, sizeof(b), &n) != 0 ||
	    hostdrv_cmd_sync(D, HCI_OP_SET_EVENT_MASK, mask, 8, b, sizeof(b), &n) != 0 ||
	    hostdrv_cmd_sync(D, HCI_OP_READ_BD_ADDR, NULL, 0, b, sizeof(b), &n) != 0) {
		fprintf(stderr, "le-bond-host: init failed\n");
		goto out;
	}
	memcpy(ia, b + 1, 6);
	if (by_irk && find_rpa(irk, &a) < 0) {
		fprintf(stderr, "le-bond-host: no advertiser resolved by the IRK: connection failed\n");
		goto out;
	}
	memset(p, 0, sizeof(p));
	put_le16(p, 0x60);
	put_le16(p + 2, 0x60);
	p[5] = 0x01;			/* static random, or private */
	memcpy(p + 6, a.b, 6);
	put_le16(p + 13, 0x18);
	put_le16(p + 15, 0x28);
	put_le16(p + 19, 0x2a);
	if (hostdrv_cmd_sync(D, HCI_OP_LE_CREATE_CONN, p, 25, b, sizeof(b), &n) != 0 ||
	    hostdrv_wait_event(D, HCI_EV_LE_META, HCI_LE_EV_CONN_COMPLETE, b, sizeof(b), &n) != 0 ||
	    b[0]) {
		fprintf(stderr, "le-bond-host: connection failed (0x%02x)\n", b[0]);
		goto out;
	}
	h = get_le16(b + 1);
	if (bond.has) {
		st = encrypt(h, bond.rand, bond.ediv, bond.ltk);
		if (st == HCI_ST_PIN_OR_KEY_MISSING)
			bond.has = false;	/* BlueZ drops the key */
	} else {
		st = pair(h, ia, a.b, &bond);
		paired = st == 0;
	}
	if (st == 0)
		bolt = read_bolt(h);
	printf("enc 0x%02x\npaired %d\nbolt 0x%02x\n", st, paired, bolt);
	if (bond_write(argv[3], &bond) < 0)
		perror("le-bond-host: bond file");
	put_le16(p, h);
	p[2] = 0x13;
	if (hostdrv_cmd_sync(D, HCI_OP_DISCONNECT, p, 3, b, sizeof(b), &n) == 0)
		hostdrv_wait_event(D, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n);
	ret = st == 0 && bolt == 0x09 ? 0 : 1;
out:
	hostdrv_free(D);
	loop_free(l);
	if (sn)
		snoop_close(sn);
	if (fd >= 0)
		close(fd);
	return ret;
}
