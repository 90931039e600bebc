/* SPDX-License-Identifier: MIT */
/*
 * The multiplexer core: one physical controller, one virtual controller per
 * session. No sockets and no crypto: the controller is reached through a
 * send callback and feeds the core through mux_ctrl_input(); a session gives
 * the core H4 packets with mux_session_input() and receives H4 packets
 * through its emit callback. The rules each command follows are documented
 * in doc/virtual-controller.md.
 *
 * Use (bgw-muxd's local listener in muxd/core_local.c does exactly this; the DTLS
 * tunnel does the same once a login succeeded):
 *
 *	struct mux_ops ops = { ctrl_send, ctrl_failed, session_dead, daemon };
 *	struct mux *m = mux_new(loop, &cfg, &policy, &ops);
 *	mux_ctrl_up(m);				// transport open
 *	...	mux_ctrl_input(m, h4, len);	// each packet from the controller
 *	s = mux_session_new(m, "alice", emit, peer);	// authenticated user
 *	...	mux_session_input(s, h4, len);	// each packet from alice's host
 *	mux_session_free(s);			// her connection ended
 *
 * Re-entrancy: no callback (ctrl send, session emit, session_dead) may call
 * back into the core synchronously (no mux_ctrl_input() from send, no
 * mux_session_input()/mux_session_free() from emit). The simulated
 * controller and the daemon's queues guarantee this: they deliver from the
 * event loop.
 *
 * Backpressure: emit returns 0, or -ENOBUFS when the session's outbound
 * queue is full. Then the session is marked stalled until an emit succeeds
 * again, and:
 *  - Number Of Completed Packets for it is dropped: its host gets no credits
 *    back, so a stalled host can only ever occupy its own share of the
 *    controller's buffers and never blocks another session's data;
 *  - ACL/SCO data for it is never dropped silently: the session is ended
 *    (one log line, its links disconnected) and session_dead is called;
 *  - a discovery report (Inquiry Result, LE advertising report) dropped is
 *    only counted: the controller repeats them while the procedure runs,
 *    and the session's duplicate filter forgets the device so a later
 *    report still gets through. An emit callback should refuse reports
 *    early (h4_is_discovery_report, pktq_push_soft) so that a host that
 *    cannot keep up with a busy house loses reports, not completions;
 *  - any other event dropped counts; after MUX_MAX_DROPPED_EVENTS the session
 *    is ended the same way.
 */
#ifndef BGW_MUX_H
#define BGW_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdaddr.h"
#include "loop.h"
#include "policy.h"

#define MUX_MAX_SESSIONS	64	/* hard cap; config max_sessions <= this */
#define MUX_MAX_CONNS		64	/* physical connections tracked */
/*
 * Data buffers a session is told it has at least, up to the controller's
 * own count (doc/virtual-controller.md, "Buffers"): virtual and constant
 * for its host; the real ones follow the sessions that hold links.
 */
#define MUX_VIRT_BUFS		8
#define MUX_SESSION_CMDQ	8	/* commands a session may have queued */
#define MUX_MAX_DROPPED_EVENTS	8
#define MUX_USER_MAX		63	/* user name length */

struct mux;
struct mux_session;

/* Sends one H4 packet (command, ACL, SCO) to the controller. */
typedef int (*mux_ctrl_send_fn)(const uint8_t *h4, size_t len, void *user);
/* Emits one H4 packet (event, ACL, SCO) to a session's host. */
typedef int (*mux_emit_fn)(const uint8_t *h4, size_t len, void *user);

struct mux_ops {
	mux_ctrl_send_fn ctrl_send;
	/*
	 * The controller failed (command timeout, init failure, send error):
	 * the owner closes the transport, reopens it with backoff and calls
	 * mux_ctrl_up(). May be NULL.
	 */
	void (*ctrl_failed)(struct mux *m, int err, void *user);
	/* A session was ended by the core (stalled, user removed); free it. */
	void (*session_dead)(struct mux_session *s, void *sess_user, void *user);
	void *user;
};

struct mux_config {
	/*
	 * Sessions the controller's buffers are divided among: each session
	 * is told floor(buffers / max_sessions) (at least 1). 0: 4.
	 */
	unsigned max_sessions;
	/* A controller that does not answer a command within this is failed. 0: 5000. */
	unsigned cmd_timeout_ms;
	/*
	 * The controller's time against the wall clock (a simulated one runs
	 * faster): each session's Inquiry_Length is measured in it. 0: 1.0.
	 */
	double time_scale;
};

/* loop is used only for the command timeout timer. policy is copied. */
struct mux *mux_new(struct loop *l, const struct mux_config *cfg,
		    const struct mux_policy *policy, const struct mux_ops *ops);
void mux_free(struct mux *m);

/* The transport is open: (re)initialise the controller. */
void mux_ctrl_up(struct mux *m);
/*
 * The transport is lost: every session gets Disconnection Complete for its
 * links and a Hardware Error event; their virtual state is kept and what
 * can be is restored after the next mux_ctrl_up().
 */
void mux_ctrl_down(struct mux *m);
/* One complete H4 packet from the controller. -EBADMSG if malformed. */
int mux_ctrl_input(struct mux *m, const uint8_t *h4, size_t len);
/* Init done and the controller answering. */
bool mux_is_ready(const struct mux *m);

/*
 * The policy tables changed: end sessions of removed users, drop links no
 * longer allowed, forget the verdicts kept on advertisers (policy.h).
 */
void mux_policy_changed(struct mux *m);

/* NULL if the user name is empty or too long, or MUX_MAX_SESSIONS/max_sessions are reached. */
struct mux_session *mux_session_new(struct mux *m, const char *user_name,
				    mux_emit_fn emit, void *user);
/*
 * One complete H4 packet from the session's host. Returns 0 (also when the
 * packet was refused with an HCI status), -EBADMSG for a malformed packet
 * (logged, dropped), -EPROTO for a type a host may not send, -EPIPE if the
 * session has ended.
 */
int mux_session_input(struct mux_session *s, const uint8_t *h4, size_t len);
/* The session ended: its links are disconnected, its procedures stopped. */
void mux_session_free(struct mux_session *s);
bool mux_session_is_dead(const struct mux_session *s);
/*
 * An LE key that crossed no HCI (LE Secure Connections derive it on both
 * ends, Vol 3 Part H 2.3.5.6.5), made by session s's own SMP (the
 * pairing at the gateway, mux/pair.h): kept as the household LE bond of
 * device (a, type) through the policy's bond_new_le, as s's user, if
 * that user may access the device now; for MUX_PAIR_USER also an
 * identity b's IRK proves: it resolves the private address of s's own
 * LE link, which the policy allows (the admin named that address). 0,
 * -EACCES, -EOPNOTSUPP (no LE bonds), or the policy's error.
 */
int mux_session_bond_le(struct mux_session *s, const struct bdaddr *a, uint8_t type,
			const struct mux_le_bond *b);
/*
 * The session's host is silent but may come back: disconnect its links
 * on the controller (as if its host had) so others can use the devices,
 * and emit Disconnection Complete with reason (HCI_ST_CONN_TIMEOUT) for
 * each to the session. Its virtual controller is otherwise untouched.
 * Returns the number of links released.
 */
unsigned mux_session_release_links(struct mux_session *s, uint8_t reason);
bool mux_session_is_stalled(const struct mux_session *s);
const char *mux_session_user(const struct mux_session *s);
unsigned mux_session_id(const struct mux_session *s);

struct mux_stats {
	unsigned sessions;
	unsigned conns;
	unsigned cmds_outstanding;
	unsigned acl_inflight;		/* ACL packets held by the controller */
	unsigned le_inflight;
	bool inquiry;			/* physical inquiry running */
	bool le_scan;			/* physical LE scan enabled */
	uint8_t scan_enable;		/* physical Write Scan Enable value */
	unsigned inits;			/* completed controller initialisations */
};
void mux_get_stats(const struct mux *m, struct mux_stats *st);

/*
 * Read-only queries for bgw-muxd status: what the admin sees of a
 * session and of the controller. Nothing here changes the core.
 */
enum mux_link_kind {
	MUX_LINK_BREDR = 1,
	MUX_LINK_SCO,
	MUX_LINK_LE,
};

struct mux_link_info {
	struct bdaddr addr;
	uint8_t addr_type;		/* BDADDR_PUBLIC or BDADDR_RANDOM */
	uint8_t kind;			/* enum mux_link_kind */
	uint16_t handle;		/* the controller's */
	uint16_t vhandle;		/* the session's own for it */
	int64_t since;			/* wall clock, seconds */
	uint64_t bytes_in;		/* ACL/SCO data bytes from the device */
	uint64_t bytes_out;		/* ... and to it */
};

/* When the session started (wall clock, seconds). */
int64_t mux_session_since(const struct mux_session *s);
/* The session's links, at most max of them into out; returns how many. */
unsigned mux_session_links(const struct mux_session *s, struct mux_link_info *out,
			   unsigned max);

struct mux_ctrl_info {
	bool up;			/* transport open */
	bool ready;			/* initialised and answering */
	struct bdaddr addr;		/* zero before the first initialisation */
	unsigned sessions;
};
void mux_get_ctrl_info(const struct mux *m, struct mux_ctrl_info *ci);

#endif /* BGW_MUX_H */
