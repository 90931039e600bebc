/* SPDX-License-Identifier: MIT */
/*
 * The gateway's registrations with its relays (doc/relay.md,
 * "Registration" and "Integration"), as a state machine without sockets:
 * the network front feeds it the datagrams that come from each relay and
 * the time, and it says what to send, when to ask the monitor for a
 * signature, and what happened (for the audit and for relayed peers).
 *
 * Per relay: HELLO (REG_HELLO sent, waiting for the challenge) ->
 * REGISTERING (REGISTER sent) -> UP (KEEPALIVE every interval the relay
 * gave, resent RELAYREG_RETRY_S after an unanswered one). A REREGISTER
 * (the relay restarted, or expired us), RELAYREG_LOST_AFTER unanswered
 * keepalives, or a REGISTER not answered in time start over with a fresh
 * REG_HELLO at once; a REFUSED proof (a wrong key, or a datagram
 * damaged on the way) waits the HELLO backoff, other refusals
 * RELAYREG_REFUSED_S. Datagrams
 * that do not name this home's id, or come in a state that does not
 * expect them, are ignored: the relay's address is all that is checked
 * before, so anything else is noise.
 */
#ifndef BGW_MUX_RELAYREG_H
#define BGW_MUX_RELAYREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmsg.h"

#define RELAYREG_MAX		4	/* relays a gateway registers with */
#define RELAYREG_HELLO_S	1	/* first HELLO retry; doubles up to ... */
#define RELAYREG_HELLO_MAX_S	16
#define RELAYREG_RETRY_S	3	/* keepalive resend (doc/relay.md) */
#define RELAYREG_LOST_AFTER	3	/* unanswered keepalives: start over */
#define RELAYREG_REFUSED_S	30	/* after a refusal other than the proof */

enum relayreg_state {
	RELAYREG_HELLO,
	RELAYREG_REGISTERING,
	RELAYREG_UP,
};

enum relayreg_event {
	RELAYREG_EV_REGISTERED,	/* m: the REGISTERED (reflexive address) */
	RELAYREG_EV_REFUSED,	/* m: the REFUSED (its code) */
	RELAYREG_EV_LOST,	/* m: NULL, or the REREGISTER */
	RELAYREG_EV_PEER,	/* m: the PEER (channel, the CD's address) */
	RELAYREG_EV_SIGN_FAILED, /* m: NULL; the monitor refused to sign */
};

struct relayreg_ops {
	/* A datagram to relay idx, from the listening socket. */
	void (*send)(void *user, unsigned idx, const void *buf, size_t len);
	/*
	 * The monitor's signature (RPC_RELAY_SIGN): the REGISTER datagram's
	 * length in out, or a negative errno.
	 */
	int (*sign)(void *user, unsigned idx, const uint8_t *ch, size_t len, uint8_t *out,
		    size_t cap);
	void (*event)(void *user, unsigned idx, enum relayreg_event ev, const struct rmsg *m);
};

struct relayreg_relay {
	enum relayreg_state state;
	uint64_t next_us;		/* the next thing to send */
	unsigned hello_s;		/* the current HELLO backoff */
	unsigned unanswered;		/* keepalives */
	uint8_t token[RMSG_TOKEN_LEN];
	uint16_t keepalive_s;
	struct rmsg_addr reflexive;	/* as the relay sees us (UP) */
};

struct relayreg {
	uint8_t id[RMSG_ID_LEN];
	unsigned n;
	struct relayreg_relay r[RELAYREG_MAX];
	const struct relayreg_ops *ops;
	void *user;
};

/* n relays (1..RELAYREG_MAX): 0 or -EINVAL. Sends the first HELLOs. */
int relayreg_start(struct relayreg *rr, const uint8_t id[RMSG_ID_LEN], unsigned n,
		   const struct relayreg_ops *ops, void *user, uint64_t now_us);
/* One datagram that came from relay idx's address. */
void relayreg_input(struct relayreg *rr, unsigned idx, const void *buf, size_t len,
		    uint64_t now_us);
/* Send what is due; returns the time of the next deadline. */
uint64_t relayreg_tick(struct relayreg *rr, uint64_t now_us);
/*
 * What to look at when a relay refuses with code (REFUSED), for the log:
 * certified says the gateway registers with a registration key and
 * relay-cert (REGISTER2) rather than the CA's key (REGISTER).
 */
const char *relayreg_refused_hint(bool certified, uint8_t code);

#endif /* BGW_MUX_RELAYREG_H */
