/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the tunnel's untrusted input: the input is split
 * into records at 0xff 0xfe markers; each record is decoded as a DTLS
 * record (whole messages), the whole input as a TLS stream (tun_msg_need
 * framing), and every HCI / ACK / KEEPALIVE message decoded is fed to a
 * reliability layer (which also sends, so ACKs can refer to real data),
 * with the clock advanced by the input. Every byte a view claims is read.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "rel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void out_fn(void *user, const struct tun_msg *m)
{
	uint8_t b[TUN_MSG_MAX];

	/* What the layer emits must always encode. */
	if (tun_msg_encode(m, b, sizeof(b)) < 0)
		abort();
}

static int deliver_fn(void *user, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sink ^= p[i];
	return (len & 7) == 0 ? -ENOBUFS : 0;	/* a slow owner at times */
}

static const struct tun_rel_ops ops = { .output = out_fn, .deliver = deliver_fn };

static void touch(const struct tun_msg *m)
{
	size_t i;

	if (m->type == TUN_MSG_HCI)
		for (i = 0; i < m->hci.len; i++)
			sink ^= m->hci.data[i];
	if (m->type == TUN_MSG_AUTH)
		for (i = 0; i < m->auth.len; i++)
			sink ^= m->auth.data[i];
	if (m->type == TUN_MSG_CERT_PROOF) {
		for (i = 0; i < m->proof.cert_len; i++)
			sink ^= m->proof.cert[i];
		for (i = 0; i < m->proof.sig_len; i++)
			sink ^= m->proof.sig[i];
	}
	if (m->type == TUN_MSG_CHALLENGE)
		for (i = 0; i < TUN_CHAL_LEN; i++)
			sink ^= m->challenge.chal[i];
}

static void feed(struct tun_rel *r, const struct tun_msg *m, uint64_t *now)
{
	*now += m->version * 1000u;
	if (m->type == TUN_MSG_HCI || m->type == TUN_MSG_ACK ||
	    m->type == TUN_MSG_KEEPALIVE) {
		if (tun_rel_input(r, m, *now) < 0)
			return;
	}
	tun_rel_flush(r, *now);
	if (tun_rel_deadline(r) <= *now)
		tun_rel_tick(r, *now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pkt[3000] = { 0x02 };
	struct tun_rel_cfg cfg;
	struct tun_rel *r;
	struct tun_msg m;
	uint64_t now = 1;
	size_t off, start, used;
	long need;
	int i;

	tun_rel_cfg_default(&cfg);
	cfg.rcv_wnd = 8;
	cfg.snd_wnd = 8;
	cfg.sndq_max = 16;
	if (tun_rel_new(&r, &cfg, &ops, NULL, 0) < 0)
		return 0;
	for (i = 0; i < 6; i++)
		tun_rel_send(r, pkt, 1 + (size_t)i * 500, now);

	/* Records. */
	for (start = 0, off = 0; off <= size; off++) {
		if (off < size && !(off + 1 < size && data[off] == 0xff &&
				    data[off + 1] == 0xfe))
			continue;
		for (used = 0; start < off; start += used) {
			if (tun_msg_decode(&m, data + start, off - start, &used) < 0)
				break;
			touch(&m);
			feed(r, &m, &now);
		}
		start = off + 2;
		off++;
	}
	/* A stream. */
	for (off = 0; off < size; off += used) {
		need = tun_msg_need(data + off, size - off);
		if (need != 0)
			break;
		if (tun_msg_decode(&m, data + off, size - off, &used) < 0)
			break;
		touch(&m);
	}
	tun_rel_rx_kick(r, now);
	tun_rel_free(r);
	return 0;
}
