/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for bgw-relay's untrusted input: the codec and the
 * engine (relay/rmsg.c, relay/relay.c). Each run makes a fresh engine,
 * registers a home through the real path (REG_HELLO, challenge, signed
 * REGISTER) and connects a CD, so fuzzed datagrams reach the registered
 * and channel states too. The input is split into records at 0xff 0xfe
 * markers; a record's first byte picks the source (home, CD, two
 * strangers) and what the harness patches in (the live channel id, the
 * live id and token, or the ts and cookie of a fresh REG_CHALLENGE for
 * the record's own id, so a REGISTER or REGISTER2 gets past the cookie to
 * the proof checks) and its second advances the clock; the rest is the
 * datagram. Every datagram the engine sends must decode.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "log.h"
#include "relay.h"
#include "rmsg.h"
#include "rsign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gnutls_privkey_t key;
static struct rmsg last;		/* the last message the engine sent */
static uint8_t last_buf[RMSG_MAX];
static bool have_last;
static struct rmsg_addr srcs[4];

static void send_fn(void *user, const struct rmsg_addr *to, const void *buf, size_t len)
{
	(void)user;
	(void)to;
	if (len > RMSG_MAX || rmsg_decode(&last, buf, len) < 0)
		abort();
	memcpy(last_buf, buf, len);
	/* Re-point into our copy: the engine's buffer is gone after this. */
	if (rmsg_decode(&last, last_buf, len) < 0)
		abort();
	have_last = true;
}

static const struct relay_ops ops = { .send = send_fn };

static void feed(struct relay *r, const struct rmsg_addr *from, const struct rmsg *m,
		 uint64_t now)
{
	uint8_t b[RMSG_MAX];
	int n = rmsg_encode(m, b, sizeof(b));

	if (n < 0)
		abort();
	have_last = false;
	relay_input(r, from, b, (size_t)n, now);
}

static void init(void)
{
	uint8_t i;

	log_set_level(LOG_EMERG);
	if (gnutls_privkey_init(&key) < 0 ||
	    gnutls_privkey_generate(key, GNUTLS_PK_EDDSA_ED25519, 256, 0) < 0)
		abort();
	for (i = 0; i < 4; i++) {
		srcs[i].family = i == 3 ? 6 : 4;
		srcs[i].port = (uint16_t)(1000 + i);
		srcs[i].a[0] = (uint8_t)(10 + i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_conf c;
	struct relay *r;
	struct rsign rs;
	struct rmsg m, reg = { 0 };
	uint8_t id[RMSG_ID_LEN], rec[RMSG_MAX + 16];
	uint32_t chan = 1;
	uint64_t now = 5000000;
	size_t i = 0, start, len;

	if (!key)
		init();
	relay_conf_default(&c);
	c.max_homes = 4;
	c.max_chans = 4;
	c.chans_per_home = 2;
	r = relay_new(&c, &ops, NULL, now);
	if (!r)
		abort();
	/* The home registers from srcs[0]; the CD connects from srcs[1]. */
	if (rsign_key(key, &rs, id) < 0)
		abort();
	memset(&m, 0, sizeof(m));
	m.type = RMSG_REG_HELLO;
	memcpy(m.id, id, RMSG_ID_LEN);
	feed(r, &srcs[0], &m, now);
	if (!have_last || last.type != RMSG_REG_CHALLENGE ||
	    rsign_register(key, &last, &rs, &m) < 0)
		abort();
	feed(r, &srcs[0], &m, now);
	if (!have_last || last.type != RMSG_REGISTERED)
		abort();
	reg = last;
	memset(&m, 0, sizeof(m));
	m.type = RMSG_CONN_HELLO;
	memcpy(m.id, id, RMSG_ID_LEN);
	feed(r, &srcs[1], &m, now);
	if (!have_last || last.type != RMSG_CONN_CHALLENGE)
		abort();
	m = last;
	m.type = RMSG_CONNECT;
	feed(r, &srcs[1], &m, now);
	if (!have_last || last.type != RMSG_CONNECTED)
		abort();
	chan = last.chan;

	while (i < size) {
		start = i;
		while (i + 1 < size && !(data[i] == 0xff && data[i + 1] == 0xfe))
			i++;
		if (i + 1 >= size)
			i = size;
		len = i - start;
		i += 2;
		if (len < 2 || len - 2 > sizeof(rec))
			continue;
		memcpy(rec, data + start + 2, len - 2);
		now += (uint64_t)data[start + 1] * 250000;
		/* Patch in live values the fuzzer cannot guess. */
		if ((data[start] & 4) && len - 2 >= 8) {
			rec[4] = (uint8_t)(chan >> 24);
			rec[5] = (uint8_t)(chan >> 16);
			rec[6] = (uint8_t)(chan >> 8);
			rec[7] = (uint8_t)chan;
		}
		if ((data[start] & 8) && len - 2 >= 4 + RMSG_ID_LEN + RMSG_TOKEN_LEN) {
			memcpy(rec + 4, id, RMSG_ID_LEN);
			memcpy(rec + 4 + RMSG_ID_LEN, reg.token, RMSG_TOKEN_LEN);
		}
		/*
		 * A fresh challenge for the id at rec[4..20) from this source,
		 * its ts and cookie put where REGISTER(2) carries them.
		 */
		if ((data[start] & 32) && len - 2 >= 4 + RMSG_ID_LEN + 4 + RMSG_COOKIE_LEN) {
			memset(&m, 0, sizeof(m));
			m.type = RMSG_REG_HELLO;
			memcpy(m.id, rec + 4, RMSG_ID_LEN);
			feed(r, &srcs[data[start] & 3], &m, now);
			if (have_last && last.type == RMSG_REG_CHALLENGE) {
				rec[20] = (uint8_t)(last.ts >> 24);
				rec[21] = (uint8_t)(last.ts >> 16);
				rec[22] = (uint8_t)(last.ts >> 8);
				rec[23] = (uint8_t)last.ts;
				memcpy(rec + 24, last.cookie, RMSG_COOKIE_LEN);
			}
		}
		if (data[start] & 16)
			relay_tick(r, now);
		have_last = false;
		relay_input(r, &srcs[data[start] & 3], rec, len - 2, now);
	}
	relay_tick(r, now + 3600ull * 1000000);
	relay_free(r);
	return 0;
}
