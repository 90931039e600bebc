/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the peer link (tunnel/link.c, and the core's input
 * path in tunnel/core.c): what a compromised peer process can send to
 * bgw-muxd's core.
 *
 * The input is a list of records: u8 flags (bit 0: link B), be16 length,
 * that many bytes. Each record is
 *   - decoded in both directions; a frame that decodes must encode back to
 *     the same bytes (one spelling per frame: nothing the decoder accepts
 *     is ambiguous);
 *   - sent as one SOCK_SEQPACKET datagram to a core-mode tun_server on one
 *     of two links, A labelled "alice" (may ATTACH) or B unlabelled (may
 *     only RESUME), and the loop run. A RESUME whose proof is all zero
 *     gets the right proof for a key the input ATTACHed or resumed with
 *     (the fuzzer cannot compute an HMAC), so the success path is reached.
 * Every frame the core sends back must decode (it never emits a malformed
 * frame), MSGS (several messages in one datagram) both ways included. A fresh server per input: no state carries over.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "hci.h"
#include "link.h"
#include "log.h"
#include "loop.h"
#include "tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct loop *L;
static int npkts;

/* Quiet, unless FUZZ_LOG is set (to see what a reproducer does). */
static void quiet(int prio, const char *line, void *user)
{
	(void)prio;
	(void)user;
	if (getenv("FUZZ_LOG"))
		fprintf(stderr, "%s\n", line);
}

static int on_session(void *user, struct tun_session *s, const char *name)
{
	(void)user;
	/* The label's user, whatever the frames said. */
	if (strcmp(name, "alice") != 0 || strcmp(tun_session_label(s)->user, "alice") != 0)
		abort();
	return 0;
}

static int on_packet(void *user, struct tun_session *s, const uint8_t *h4, size_t len)
{
	uint8_t ev[8];
	int n;

	(void)user;
	if (len == 0)
		abort();	/* the session passes whole H4 packets only */
	/* An answer now and then, so the core's output path runs too. */
	if ((++npkts & 3) == 0) {
		n = h4_build_evt(ev, sizeof(ev), 0xff, h4, len < 4 ? len : 4);
		if (n > 0)
			tun_session_send(s, ev, (size_t)n);
	}
	return (npkts & 7) == 0 ? -ENOBUFS : 0;
}

static void on_end(void *user, struct tun_session *s, int reason)
{
	(void)user;
	(void)s;
	(void)reason;
}

static const struct tun_server_ops ops = {
	.on_session = on_session,
	.on_packet = on_packet,
	.on_session_end = on_end,
};

/* Resume keys the input gave the core, to make valid proofs with. */
struct known {
	uint8_t sid[TUN_SID_LEN];
	uint8_t key[TUN_KEY_LEN];
};

static struct known keys[4];
static unsigned nkeys;

static void remember(const uint8_t *sid, const uint8_t *key)
{
	struct known *k = &keys[nkeys++ % 4];

	memcpy(k->sid, sid, TUN_SID_LEN);
	memcpy(k->key, key, TUN_KEY_LEN);
}

static void check_roundtrip(const uint8_t *b, size_t n, enum tun_link_dir dir)
{
	struct tun_link_frame f;
	uint8_t out[TUN_LINK_DGRAM_MAX];
	int m;

	if (tun_link_decode(&f, b, n, dir) < 0)
		return;
	m = tun_link_encode(&f, out, sizeof(out));
	if (m < 0 || (size_t)m != n || memcmp(out, b, n) != 0)
		abort();
}

/* Everything the core sent on this link must be a valid frame. */
static void drain(int fd)
{
	uint8_t b[TUN_LINK_DGRAM_MAX + 1];
	struct tun_link_frame f;
	ssize_t n;
	int i;

	for (i = 0; i < 4096; i++) {
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC);
		if (n <= 0)
			return;
		if ((size_t)n > TUN_LINK_DGRAM_MAX ||
		    tun_link_decode(&f, b, (size_t)n, TUN_LINK_TO_PEER) < 0)
			abort();
	}
}

static void run(int rounds)
{
	int i;

	for (i = 0; i < rounds; i++)
		loop_iterate(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[TUN_PROOF_LEN];
	struct tun_server_cfg cfg;
	struct tun_server *srv;
	struct tun_link_label lab;
	struct tun_link_frame f;
	uint8_t b[TUN_LINK_DGRAM_MAX + 16];
	int a[2], bb[2];
	size_t off = 0, len;
	unsigned i;

	if (!L) {
		L = loop_new();
		if (!L)
			abort();
		log_set_handler(quiet, NULL);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.resume_s = 5;
	cfg.max_sessions = 4;
	if (tun_server_new(&srv, L, &cfg, &ops, NULL, NULL) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, bb) < 0)
		abort();
	memset(&lab, 0, sizeof(lab));
	strcpy(lab.user, "alice");
	strcpy(lab.peer, "fuzz");
	if (tun_server_add_link(srv, a[0], &lab) < 0 || tun_server_add_link(srv, bb[0], NULL) < 0)
		abort();
	nkeys = 0;
	npkts = 0;

	while (off + 3 <= size) {
		uint8_t flags = data[off];
		int fd = (flags & 1) ? bb[1] : a[1];

		len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off || len > sizeof(b))
			break;
		memcpy(b, data + off, len);
		off += len;
		check_roundtrip(b, len, TUN_LINK_TO_CORE);
		check_roundtrip(b, len, TUN_LINK_TO_PEER);
		if (tun_link_decode(&f, b, len, TUN_LINK_TO_CORE) == 0) {
			if (f.type == TUN_LF_ATTACH)
				remember(f.attach.sid, f.attach.key);
			if (f.type == TUN_LF_RESUME &&
			    memcmp(f.resume.proof, zero, sizeof(zero)) == 0) {
				for (i = 0; i < 4 && i < nkeys; i++) {
					if (memcmp(keys[i].sid, f.resume.sid, TUN_SID_LEN))
						continue;
					/* RESUME: type, version, stream, sid, bind, proof */
					gnutls_hmac_fast(GNUTLS_MAC_SHA256, keys[i].key,
							 TUN_KEY_LEN, f.resume.bind,
							 TUN_KEY_LEN, b + 3 + TUN_SID_LEN + TUN_KEY_LEN);
					remember(f.resume.sid, f.resume.new_key);
					break;
				}
			}
		}
		/* A link the core closed: the send fails, as for a real peer. */
		if (send(fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EPIPE &&
		    errno != EAGAIN && errno != ECONNRESET && errno != ECONNREFUSED)
			abort();
		run(2);
		drain(a[1]);
		drain(bb[1]);
	}
	/* The peers die: the core sees EOF on both links. */
	close(a[1]);
	close(bb[1]);
	run(3);
	tun_server_free(srv);
	run(2);
	return 0;
}
