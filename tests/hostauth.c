/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "hci_defs.h"
#include "hostauth.h"

#define STEPS_MAX 400	/* each waits at most 10 ms of loop time */

static int reply(struct hostdrv *d, uint16_t op, const void *p, size_t plen)
{
	uint8_t ret[64];
	size_t n;
	int r = hostdrv_cmd_sync(d, op, p, plen, ret, sizeof(ret), &n);

	return r < 0 ? r : r == 0 ? 0 : -EPROTO;
}

static int take(struct hostdrv *d, uint8_t code, uint8_t *b, size_t *n)
{
	return hostdrv_wait_event(d, code, 0, b, 255, n);
}

int hostauth_run(struct hostdrv *d, uint16_t handle, const uint8_t addr[6],
		 struct hostauth_bond *bd)
{
	uint8_t p[32], b[255];
	size_t n;
	unsigned i;
	int r, st = -ETIMEDOUT;

	put_le16(p, handle);
	r = hostdrv_cmd_sync(d, HCI_OP_AUTH_REQUESTED, p, 2, b, sizeof(b), &n);
	if (r != 0)
		return r < 0 ? r : -EPROTO;
	for (i = 0; i < STEPS_MAX; i++) {
		if (hostdrv_has_event(d, HCI_EV_LINK_KEY_REQ, 0)) {
			take(d, HCI_EV_LINK_KEY_REQ, b, &n);
			bd->lkr++;
			memcpy(p, addr, 6);
			if (bd->has) {
				memcpy(p + 6, bd->key, 16);
				r = reply(d, HCI_OP_LINK_KEY_REPLY, p, 22);
			} else {
				r = reply(d, HCI_OP_LINK_KEY_NEG_REPLY, p, 6);
			}
		} else if (hostdrv_has_event(d, HCI_EV_IO_CAPA_REQUEST, 0)) {
			take(d, HCI_EV_IO_CAPA_REQUEST, b, &n);
			memcpy(p, addr, 6);
			p[6] = 0x01;	/* DisplayYesNo */
			p[7] = 0x00;	/* no OOB data */
			p[8] = 0x04;	/* general bonding, no MITM */
			r = reply(d, HCI_OP_IO_CAPABILITY_REPLY, p, 9);
		} else if (hostdrv_has_event(d, HCI_EV_USER_CONFIRM_REQUEST, 0)) {
			take(d, HCI_EV_USER_CONFIRM_REQUEST, b, &n);
			memcpy(p, addr, 6);
			r = reply(d, HCI_OP_USER_CONFIRM_REPLY, p, 6);
		} else if (hostdrv_has_event(d, HCI_EV_LINK_KEY_NOTIFY, 0)) {
			take(d, HCI_EV_LINK_KEY_NOTIFY, b, &n);
			if (n != 23 || memcmp(b, addr, 6))
				return -EPROTO;
			memcpy(bd->key, b + 6, 16);
			bd->type = b[22];
			bd->has = true;
			r = 0;
		} else if (hostdrv_has_event(d, HCI_EV_AUTH_COMPLETE, 0)) {
			take(d, HCI_EV_AUTH_COMPLETE, b, &n);
			if (n != 3 || get_le16(b + 1) != handle)
				return -EPROTO;
			st = b[0];
			break;
		} else {
			hostdrv_run(d, 10);
			continue;
		}
		if (r < 0)
			return r;
	}
	if (st < 0)
		return st;
	if (st == HCI_ST_AUTH_FAILURE || st == HCI_ST_PIN_OR_KEY_MISSING)
		bd->has = false;	/* BlueZ drops a refused bond */
	if (st != 0)
		return st;
	put_le16(p, handle);
	p[2] = 1;
	r = hostdrv_cmd_sync(d, HCI_OP_SET_CONN_ENCRYPT, p, 3, b, sizeof(b), &n);
	if (r != 0)
		return r < 0 ? r : -EPROTO;
	r = take(d, HCI_EV_ENCRYPT_CHANGE, b, &n);
	if (r < 0)
		return r;
	if (n != 4 || b[0] != 0 || get_le16(b + 1) != handle || b[3] == 0)
		return -EPROTO;
	return 0;
}
