/* SPDX-License-Identifier: MIT */
/*
 * Internals of the merge core, shared by its files, top to bottom (each
 * calls only the files below it):
 *  merge.c  the API; controllers: init, replies, up/down; the host's turn
 *  cmd.c    the host's commands: the routing table and the answers
 *  evt.c    controllers' events: handles, discovery, connections
 *  data.c   ACL/SCO both ways, the buffer pool and NOCP
 *  link.c   the tables: links, devices, attempts in flight
 *  mctrl.c  the way to the host; a controller's command queue and timer
 * A lower file that must fail or restart a controller calls up through
 * struct merge's ctrl_down and ctrl_up, which merge.c sets.
 */
#ifndef BGW_MERGE_INT_H
#define BGW_MERGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "bdaddr.h"
#include "hci.h"
#include "loop.h"
#include "merge.h"
#include "pktq.h"

#define MERGE_CMDQ		32	/* commands queued per controller */
#define MERGE_HOSTQ		8	/* host commands waiting their turn */
#define MERGE_MAX_LINKS		64
#define MERGE_MAX_DEVS		128
#define MERGE_MAX_PEND		16	/* connection/name attempts in flight */
#define MERGE_MAX_STICKY	20	/* > the sticky commands in cmd.c */
#define MERGE_LINK_FIFO		64	/* host packets in flight per link */
#define MERGE_MAX_ACCEPT	128	/* the host's LE accept list, kept for replay */
#define MERGE_VHANDLE_FIRST	0x0040	/* host handles start here (see doc) */

enum mc_state { MC_ABSENT, MC_DOWN, MC_INIT, MC_READY };

/* Who a command sent to a controller belongs to. */
enum mc_tag {
	TAG_INIT = 1,	/* the merge's own initialisation */
	TAG_HOST,	/* the host's current command */
	TAG_QUIET,	/* the merge's own (cancel, disconnect): reply swallowed */
	TAG_PINQ,	/* a period's Inquiry of Periodic Inquiry Mode (cmd.c) */
};

struct mcmd {
	uint8_t tag;
	uint16_t op;
	uint16_t len;
	uint8_t pkt[H4_MAX_CTL_PKT];
};

struct mctrl {
	struct merge *m;
	unsigned idx;
	enum merge_role role;
	enum mc_state state;
	merge_send_fn send;
	void *user;
	struct loop_timer *timer;

	struct mcmd q[MERGE_CMDQ];	/* ring */
	unsigned qh, qn;
	bool busy;			/* q[qh] sent, awaiting CC/CS */
	/*
	 * A command sent before the queue was cleared for a new init (the
	 * host's Reset, an up again) and not yet answered: its answer is
	 * taken and dropped, and nothing is sent until it came (one command
	 * outstanding per controller, doc/seamless.md principle 1).
	 */
	bool stale;
	uint16_t stale_op;

	unsigned init_step;
	bool was_ready;			/* initialised at least once */
	bool lost;			/* the local failed: Hardware Error again when back */

	struct bdaddr addr;
	uint8_t features[8];
	uint8_t commands[64];
	uint16_t acl_mtu, acl_pkts;
	uint16_t le_mtu, le_pkts;	/* le_pkts 0: LE shares the ACL pool */
	unsigned acl_inflight, le_inflight;
	struct pktq txq;		/* ACL pieces waiting for this controller's credits */
	struct pktq txq_le;		/* ... for its LE credits */

	bool inq_running;
	bool pinq_wait;			/* a period's Inquiry sent, not yet answered */
	bool le_create;			/* our LE Create Connection runs here */
	bool le_cancel_sent;
};

enum mlink_kind { ML_ACL = 1, ML_SCO, ML_LE };

struct mlink {
	bool used;
	bool hidden;			/* the loser of a race: being torn down */
	uint8_t ctrl;
	uint8_t kind;
	uint16_t real;			/* the controller's handle */
	uint16_t vh;			/* the host's handle */
	struct bdaddr addr;
	/* Pieces each host packet was cut into, oldest first (ring). */
	uint8_t fifo[MERGE_LINK_FIFO];
	unsigned fh, fn;
	unsigned sent;			/* pieces at the controller */
	unsigned queued;		/* pieces in the controller's txq */
};

struct mdev {
	bool used;
	uint8_t ctrl;
	struct bdaddr addr;
	uint64_t stamp;
};

enum mpend_kind { MP_CONN = 1, MP_NAME };

struct mpend {
	uint8_t kind;			/* 0: free */
	uint8_t ctrl;
	struct bdaddr addr;
	bool race;			/* MP_CONN paged on every side */
	bool lost;			/* ... and another side connected first */
};

/* How a host command is routed (doc/seamless.md, "Commands"). */
enum mroute {
	RT_LOCAL = 1,	/* the local radio only */
	RT_ALL,		/* every ready controller; the local's answer */
	RT_ANY,		/* every ready controller; success if any succeeded */
	RT_HANDLE,	/* the controller of the handle at param[0] */
	RT_ADDR,	/* the side of the BD_ADDR at param[0] */
	RT_SPECIAL,	/* its own handler in cmd.c */
};

#define MF_CS		0x01	/* answered with Command Status */
#define MF_STICKY	0x02	/* replayed to a controller that (re)joins */
#define MF_MIN		0x04	/* plen is a minimum */

struct mcmd_def {
	uint16_t op;
	uint8_t route;
	uint8_t flags;
	uint8_t plen;
	uint8_t octet;		/* Supported_Commands (Vol 4 Part E 6.27) */
	uint8_t bit;
};

struct mhostop {
	bool active;
	const struct mcmd_def *def;
	uint16_t op;
	uint32_t waiting;	/* controllers still to answer */
	uint32_t ok;		/* controllers that answered success */
	int primary;		/* whose answer the host gets; -1 none yet */
	bool have_reply;
	bool reply_cs;
	uint8_t reply_len;
	uint8_t reply[HCI_MAX_PARAM];	/* CC return parameters or CS status */
	int first_other;	/* the first non-primary answer */
	uint8_t other_status;
	uint16_t vh;		/* handle-routed: the host's handle */
	uint8_t param[HCI_MAX_PARAM];
	uint8_t plen;
	bool reset_wait;	/* Reset: waiting for controllers to re-init */
};

struct msticky {
	uint16_t op;
	uint8_t plen;
	uint8_t param[HCI_MAX_PARAM];
};

struct merge {
	struct loop *loop;
	struct merge_config cfg;
	merge_emit_fn emit;
	void *user;

	struct mctrl ctrl[MERGE_MAX_CTRL];
	unsigned nctrl;

	struct mhostop op;
	struct pktq hostq;		/* host commands waiting */

	struct mlink links[MERGE_MAX_LINKS];
	uint16_t next_vh;
	struct mdev devs[MERGE_MAX_DEVS];
	uint64_t dev_clock;
	struct mpend pend[MERGE_MAX_PEND];

	struct msticky sticky[MERGE_MAX_STICKY];
	/* The host's LE accept list (7.8.16): Address_Type, Address. */
	uint8_t accept[MERGE_MAX_ACCEPT][7];
	unsigned naccept;
	uint8_t host_evmask[8];
	uint8_t host_lemask[8];

	/* The host's pool (Read Buffer Size / LE Read Buffer Size answers). */
	uint16_t h_acl_mtu, h_acl_pkts, h_le_mtu, h_le_pkts;
	unsigned h_acl_inflight, h_le_inflight;

	bool inq_active;		/* the host's inquiry (or a period's) runs */
	/* Periodic Inquiry Mode (7.1.3), run by the merge with plain Inquiry. */
	bool pinq_mode;
	bool pinq_due;			/* the next period waits for this one's end */
	bool pinq_ok;			/* a side accepted this period's Inquiry */
	uint8_t pinq_status;		/* else the first refusal's status */
	uint16_t pinq_min, pinq_max;	/* in inquiry units */
	uint8_t pinq_inq[5];		/* LAP, Inquiry_Length, Num_Responses */
	uint32_t pinq_rng;
	struct loop_timer *pinq_timer;
	bool le_create_active;		/* the host's LE Create Connection runs */
	int le_winner;			/* the side that connected first, -1 */
	bool le_host_cancel;

	struct merge_stats st;
	bool in_pump;

	/*
	 * merge.c's, for the files below it: a controller gone (its links
	 * end, what the host waited for from it is answered) and a
	 * controller initialised again.
	 */
	void (*ctrl_down)(struct mctrl *c, bool lost);
	void (*ctrl_up)(struct merge *m, unsigned idx);
};

/* merge.c */
void merge_pump_host(struct merge *m);

/* mctrl.c */
int mc_queue(struct mctrl *c, uint8_t tag, uint16_t op, const void *param, size_t plen);
void mc_send_head(struct mctrl *c);
void mc_queue_clear(struct mctrl *c);
void mc_on_timeout(struct loop_timer *t, void *user);
void mc_failed(struct mctrl *c, int err, const char *why);
bool mc_is_ready(const struct mctrl *c);
void merge_emit(struct merge *m, const uint8_t *h4, size_t len);
void merge_emit_evt(struct merge *m, uint8_t code, const void *param, size_t plen);
uint32_t merge_ready_mask(const struct merge *m);

/* cmd.c */
const struct mcmd_def *merge_cmd_find(uint16_t op);
void merge_cmd_supported(uint8_t out[64], const uint8_t phys[64]);
void merge_host_cmd(struct merge *m, const uint8_t *h4, size_t len);
void merge_op_reply(struct merge *m, struct mctrl *c, bool cs, const uint8_t *ret,
		    size_t rlen);
void merge_op_ctrl_gone(struct merge *m, struct mctrl *c);
void merge_op_reset_progress(struct merge *m);
void merge_sticky_replay(struct merge *m, struct mctrl *c);
void merge_host_reset_state(struct merge *m);

/* evt.c */
void merge_pinq_reply(struct merge *m, struct mctrl *c, bool cs, const uint8_t *ret,
		      size_t rlen);
void merge_pinq_period(struct merge *m);
void merge_ctrl_evt(struct merge *m, struct mctrl *c, const struct h4_pkt *p);
void merge_inq_ctrl_ended(struct merge *m, struct mctrl *c);
void merge_le_create_ctrl_ended(struct merge *m, struct mctrl *c, uint8_t status);

/* link.c */
struct mlink *merge_link_by_vh(struct merge *m, uint16_t vh);
struct mlink *merge_link_by_real(struct merge *m, unsigned ctrl, uint16_t h);
struct mlink *merge_link_new(struct merge *m, unsigned ctrl, uint16_t real,
			     uint8_t kind, const struct bdaddr *a);
void merge_link_free(struct merge *m, struct mlink *l);
void merge_link_drop_data(struct merge *m, struct mlink *l);
void merge_ctrl_gone_links(struct merge *m, struct mctrl *c, bool tell_host);
int merge_dev_side(struct merge *m, const struct bdaddr *a);
void merge_dev_set(struct merge *m, const struct bdaddr *a, unsigned ctrl);
void merge_dev_forget_ctrl(struct merge *m, unsigned ctrl);
struct mpend *merge_pend_add(struct merge *m, uint8_t kind, unsigned ctrl,
			     const struct bdaddr *a);
bool merge_pend_race_last(struct merge *m, const struct mpend *pd);
uint32_t merge_pend_race_ctrls(struct merge *m, const struct bdaddr *a);

/* data.c */
int merge_host_data(struct merge *m, const struct h4_pkt *p);
void merge_ctrl_data(struct merge *m, struct mctrl *c, const struct h4_pkt *p);
void merge_ctrl_nocp(struct merge *m, struct mctrl *c, const struct h4_pkt *p);
void merge_data_drain(struct merge *m, struct mctrl *c);
void merge_pool_set(struct merge *m);

/* Does this link use the controller's LE pool, and the host's? */
static inline bool merge_ctrl_le_pool(const struct mctrl *c, const struct mlink *l)
{
	return l->kind == ML_LE && c->le_pkts;
}

static inline bool merge_host_le_pool(const struct merge *m, const struct mlink *l)
{
	return l->kind == ML_LE && m->h_le_pkts;
}

static inline struct pktq *merge_txq_of(struct mctrl *c, const struct mlink *l)
{
	return merge_ctrl_le_pool(c, l) ? &c->txq_le : &c->txq;
}

#endif /* BGW_MERGE_INT_H */
