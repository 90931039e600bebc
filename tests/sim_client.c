/* SPDX-License-Identifier: MIT */
/*
 * sim-client SOCKET|ADDR:PORT: a small host for tests/t-sim-socket.sh.
 * Connects to a bgw-sim Unix socket (a path) or TCP port, initialises the controller, runs an inquiry and
 * prints "found ADDR" per result, then connects to the first result,
 * exchanges an L2CAP echo ("echo ok ADDR") and disconnects. Exit 0 when
 * every step worked.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bdaddr.h"
#include "cursor.h"
#include "hci.h"
#include "hostdrv.h"

static int fail(const char *what, int r)
{
	fprintf(stderr, "sim-client: %s: %d\n", what, r);
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t b[300], pdu[300], first[6];
	struct hostdrv *d = NULL;
	struct loop *l = NULL;
	char s[BDADDR_STRLEN];
	struct bdaddr a;
	size_t n, found = 0;
	uint16_t h;
	int fd = -1, r, ret = 1;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: sim-client SOCKET|ADDR:PORT\n");
		return 2;
	}
	if (argv[1][0] != '/' && strchr(argv[1], ':')) {
		struct sockaddr_in si = { .sin_family = AF_INET };
		char host[64];
		const char *colon = strrchr(argv[1], ':');

		if ((size_t)(colon - argv[1]) >= sizeof(host))
			return 2;
		memcpy(host, argv[1], (size_t)(colon - argv[1]));
		host[colon - argv[1]] = '\0';
		si.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &si.sin_addr) != 1)
			return 2;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&si, sizeof(si)) < 0) {
			perror("sim-client: connect");
			goto out;
		}
	} else {
		memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("sim-client: connect");
			goto out;
		}
	}
	l = loop_new();
	d = hostdrv_new(l);
	if (!l || !d || hostdrv_attach_fd(d, fd) < 0)
		goto out;
	hostdrv_set_timeout(d, 10000);
	if ((r = hostdrv_cmd_sync(d, HCI_OP_RESET, NULL, 0, b, sizeof(b), &n)) != 0) {
		ret = fail("reset", r);
		goto out;
	}
	if ((r = hostdrv_cmd_sync(d, HCI_OP_READ_BD_ADDR, NULL, 0, b, sizeof(b), &n)) != 0) {
		ret = fail("read bd_addr", r);
		goto out;
	}
	memcpy(a.b, b + 1, 6);
	printf("controller %s\n", bdaddr_fmt(&a, s));
	hostdrv_cmd_sync(d, HCI_OP_WRITE_INQUIRY_MODE, "\x01", 1, b, sizeof(b), &n);
	if ((r = hostdrv_cmd_sync(d, HCI_OP_INQUIRY, "\x33\x8b\x9e\x02\x00", 5,
				  b, sizeof(b), &n)) != 0) {
		ret = fail("inquiry", r);
		goto out;
	}
	if ((r = hostdrv_wait_event(d, HCI_EV_INQUIRY_COMPLETE, 0, b, sizeof(b), &n)) < 0) {
		ret = fail("inquiry complete", r);
		goto out;
	}
	/* Bounded by the receive queue: each round takes one event. */
	while (hostdrv_has_event(d, HCI_EV_INQUIRY_RESULT_RSSI, 0)) {
		hostdrv_wait_event(d, HCI_EV_INQUIRY_RESULT_RSSI, 0, b, sizeof(b), &n);
		memcpy(a.b, b + 1, 6);
		if (!found++)
			memcpy(first, a.b, 6);
		printf("found %s\n", bdaddr_fmt(&a, s));
	}
	if (!found) {
		ret = fail("no inquiry result", 0);
		goto out;
	}
	memset(b, 0, 13);
	memcpy(b, first, 6);
	if ((r = hostdrv_cmd_sync(d, HCI_OP_CREATE_CONN, b, 13, NULL, 0, NULL)) != 0 ||
	    (r = hostdrv_wait_event(d, HCI_EV_CONN_COMPLETE, 0, b, sizeof(b), &n)) < 0 ||
	    b[0] != 0) {
		ret = fail("create connection", r ? r : b[0]);
		goto out;
	}
	h = get_le16(b + 1);
	memcpy(pdu, "\x08\x00\x01\x00\x08\x01\x04\x00ping", 12);
	hostdrv_acl(d, h, 0x02, pdu, 12);
	if ((r = hostdrv_wait_l2cap(d, h, b, sizeof(b), &n)) < 0 || n != 12 ||
	    b[4] != 0x09 || memcmp(b + 8, "ping", 4)) {
		ret = fail("l2cap echo", r);
		goto out;
	}
	memcpy(a.b, first, 6);
	printf("echo ok %s\n", bdaddr_fmt(&a, s));
	put_le16(b, h);
	b[2] = 0x13;
	if ((r = hostdrv_cmd_sync(d, HCI_OP_DISCONNECT, b, 3, NULL, 0, NULL)) != 0 ||
	    (r = hostdrv_wait_event(d, HCI_EV_DISCONN_COMPLETE, 0, b, sizeof(b), &n)) < 0) {
		ret = fail("disconnect", r);
		goto out;
	}
	printf("disconnected\n");
	ret = 0;
out:
	hostdrv_free(d);
	loop_free(l);
	if (fd >= 0)
		close(fd);
	return ret;
}
