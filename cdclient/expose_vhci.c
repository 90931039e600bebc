/* SPDX-License-Identifier: MIT */
/*
 * The vhci exposure: the kernel's virtual HCI driver (drivers/bluetooth/
 * hci_vhci.c) gives us a new hciN whose controller is the remote one, so
 * bluetoothd and every BlueZ application use it unchanged.
 *
 * Protocol of /dev/vhci: writing the vendor packet "ff 00" (HCI_VENDOR_PKT,
 * device type HCI_PRIMARY) creates the controller, and the driver answers
 * "ff 00 index_le16" on the read side. After that every read returns one
 * H4 packet from the kernel's host stack and every write must be one H4
 * packet for it. If nothing is written within a second of opening, the
 * driver creates a controller by itself, so the create request goes out
 * right after open(). Closing the fd unregisters the hciN.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "expose.h"
#include "log.h"
#include "pktq.h"

#define VHCI_PATH		"/dev/vhci"
#define VHCI_CREATE_TIMEOUT_MS	1000
/* Packets read per wake-up before other fds get their turn. */
#define VHCI_READ_BURST		64

struct cd_vhci {
	struct loop *loop;
	struct cd_port *port;
	int fd;
	unsigned int index;
	bool writing;
	struct pktq down;
	uint8_t *buf;		/* H4_MAX_PKT: the driver truncates to count */
	char name[16];
};

static void vhci_fatal(struct cd_vhci *x, const char *what, int err)
{
	log_err("%s: %s: %s; shutting down", x->name, what, strerror(-err));
	if (x->fd >= 0) {
		loop_del_fd(x->loop, x->fd);
		close(x->fd);
		x->fd = -1;
	}
	loop_quit(x->loop, 1);
}

static void vhci_arm(struct cd_vhci *x, bool wr)
{
	if (x->fd < 0 || wr == x->writing)
		return;
	if (loop_mod_fd(x->loop, x->fd, EPOLLIN | (wr ? EPOLLOUT : 0)) == 0)
		x->writing = wr;
}

static int vhci_flush(struct cd_vhci *x)
{
	struct pkt *p;
	ssize_t n;

	while ((p = pktq_peek(&x->down))) {
		n = write(x->fd, p->data, p->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			/*
			 * ENXIO: the hciN is down (powered off, or its init
			 * failed); the kernel takes no packets then and will
			 * reset the controller when it opens it again.
			 */
			if (errno != ENXIO)
				return -errno;
			log_debug("%s: down; packet for it dropped", x->name);
		}
		/* The driver takes a packet whole or not at all. */
		if (n >= 0 && (size_t)n != p->len)
			return -EIO;
		pkt_free(pktq_pop(&x->down));
	}
	vhci_arm(x, !pktq_is_empty(&x->down));
	return 0;
}

static int vhci_deliver(const uint8_t *h4, size_t len, void *user)
{
	struct cd_vhci *x = user;
	int err;

	if (x->fd < 0)
		return -ENODEV;
	err = pktq_push(&x->down, h4, len);
	if (err) {
		log_warn("%s: the kernel is not taking packets; one dropped",
			 x->name);
		return err;
	}
	err = vhci_flush(x);
	if (err)
		vhci_fatal(x, "write", err);
	return err;
}

static void vhci_on_fd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct cd_vhci *x = user;
	ssize_t n;
	int i, err;

	if (events & EPOLLOUT) {
		err = vhci_flush(x);
		if (err) {
			vhci_fatal(x, "write", err);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	for (i = 0; i < VHCI_READ_BURST && x->fd >= 0; i++) {
		n = read(x->fd, x->buf, H4_MAX_PKT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			vhci_fatal(x, "read", -errno);
			return;
		}
		if (n == 0) {
			vhci_fatal(x, "read", -ENODEV);
			return;
		}
		/*
		 * The kernel is the host here, but what it sends is still
		 * checked like any host's: the hub refuses and logs anything
		 * but one command, ACL, SCO or ISO packet.
		 */
		err = cd_port_send(x->port, x->buf, (size_t)n);
		if (err == -ENOBUFS)
			log_warn("%s: upstream queue full; a packet from the "
				 "kernel was dropped", x->name);
	}
}

static const struct cd_port_ops vhci_ops = {
	.deliver = vhci_deliver,
};

/* Write the create request and wait (bounded) for the driver's answer. */
static int vhci_create(struct cd_vhci *x)
{
	static const uint8_t req[2] = { 0xff, 0x00 };
	struct pollfd pfd = { .fd = x->fd, .events = POLLIN };
	uint8_t rsp[4];
	ssize_t n;
	int rc;

	if (write(x->fd, req, sizeof(req)) != (ssize_t)sizeof(req))
		return -errno ?: -EIO;
	rc = poll(&pfd, 1, VHCI_CREATE_TIMEOUT_MS);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	n = read(x->fd, rsp, sizeof(rsp));
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(rsp) || rsp[0] != 0xff || rsp[1] != 0x00)
		return -EPROTO;
	x->index = get_le16(rsp + 2);
	return 0;
}

int cd_vhci_open(struct cd_vhci **out, struct loop *l, struct cd_hub *h)
{
	struct cd_vhci *x;
	int err;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->loop = l;
	x->fd = -1;
	snprintf(x->name, sizeof(x->name), "vhci");
	pktq_init(&x->down, CD_EXPOSE_QUEUE_PKTS, CD_EXPOSE_QUEUE_BYTES);
	x->buf = malloc(H4_MAX_PKT);
	if (!x->buf) {
		err = -ENOMEM;
		goto fail;
	}
	x->fd = open(VHCI_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (x->fd < 0) {
		err = -errno;
		log_err("vhci: cannot open %s: %s%s", VHCI_PATH, strerror(errno),
			errno == ENOENT || errno == ENODEV ?
			" (is the hci_vhci module loaded?)" : "");
		goto fail;
	}
	err = vhci_create(x);
	if (err) {
		log_err("vhci: creating the controller failed: %s",
			strerror(-err));
		goto fail;
	}
	snprintf(x->name, sizeof(x->name), "hci%u", x->index);
	/* Attach before reading: the kernel's Reset is already queued. */
	x->port = cd_hub_attach(h, x->name, &vhci_ops, x);
	if (!x->port) {
		err = -ENOMEM;
		goto fail;
	}
	err = loop_add_fd(l, x->fd, EPOLLIN, vhci_on_fd, x);
	if (err)
		goto fail;
	log_notice("vhci: the remote controller is %s", x->name);
	*out = x;
	return 0;

fail:
	cd_vhci_close(x);
	return err;
}

const char *cd_vhci_name(const struct cd_vhci *x)
{
	return x->name;
}

void cd_vhci_close(struct cd_vhci *x)
{
	if (!x)
		return;
	cd_port_detach(x->port);
	if (x->fd >= 0) {
		loop_del_fd(x->loop, x->fd);
		close(x->fd);	/* the driver unregisters the hciN */
		log_notice("%s: removed", x->name);
	}
	pktq_clear(&x->down);
	free(x->buf);
	free(x);
}
