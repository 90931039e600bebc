/* SPDX-License-Identifier: MIT */
/*
 * Internal to tunnel/: what the server's files share, top to bottom
 * (peer.c: a peer process's side; tunnel.c: the server; core.c: links
 * from peer processes; login.c; session.c; linkio.c: link operations and
 * peer-link I/O; wire.c: reasons, headers, exported keys; creds.c: the
 * server's credentials). Not for users of libtunnel.
 */
#ifndef BGW_TUNNEL_INT_H
#define BGW_TUNNEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "link.h"
#include "pktq.h"
#include "tunnel.h"

struct scram_server;
struct tun_certca;
struct tun_link;
struct tun_peer;

#define TUN_RESUME_S_DEFAULT	30
#define TUN_MAX_SESSIONS_DEFAULT 16
#define TUN_MAX_PENDING_DEFAULT	32
#define TUN_HANDSHAKE_MS_DEFAULT 10000
#define TUN_PENDING_PER_HOST	4
/* A login reply is at most two messages (HELLO + READY, AUTH + READY). */
#define TUN_REPLAY_MSGS		2
#define TUN_REPLAYS_MAX		8
/*
 * Frames queued on one peer link (either direction) while the socket is
 * full. More than a whole window of the largest segments (the reliability
 * layer keeps at most TUN_REL_WND_MAX in flight each way): a queue this
 * long means the other process is stuck.
 */
#define TUN_LINK_Q_FRAMES	(4 * TUN_REL_WND_MAX)
#define TUN_LINK_Q_BYTES	(TUN_LINK_Q_FRAMES * TUN_LINK_FRAME_MAX)

/*
 * Exporter labels (RFC 5705). The resume key is exported from the channel
 * a session was established (or last resumed) on; a RESUME proves
 * knowledge of it by an HMAC over a value exported from the new channel,
 * so the proof is bound to that channel: someone who sees the session id,
 * or even a proof, cannot use it on a channel of their own.
 */
#define TUN_LABEL_RESUME_KEY	"EXPORTER-bgw-resume-key"
#define TUN_LABEL_RESUME_BIND	"EXPORTER-bgw-resume-binding"
/* RFC 9266: tls-exporter channel binding for SCRAM (RFC 5802 section 6). */
#define TUN_LABEL_CB		"EXPORTER-Channel-Binding"

#define EXT_CHAIN_MAX	8


enum link_state {
	L_HANDSHAKE,
	L_HELLO,		/* waiting for the client's HELLO */
	L_SCRAM_FIRST,
	L_SCRAM_FINAL,
	L_CERT_PROOF,		/* CHALLENGE sent, waiting for CERT_PROOF */
	L_RESUME,
	L_WAIT_CORE,		/* peer mode: ATTACH or RESUME sent, no answer yet */
	L_LINK,			/* core mode: waiting for ATTACH or RESUME */
	L_ATTACHED,
	L_CLOSING,
};

/*
 * One end of a peer link: a SOCK_SEQPACKET socket (one frame per
 * datagram, never split or merged) and the frames the socket would not
 * take yet, bounded.
 */
struct lk_io {
	struct loop *l;
	int fd;
	struct pktq q;
	/*
	 * batch: data frames queued during a loop turn go out together at
	 * its end, in one sendmmsg (tun_lkio_send). The core's end only: a
	 * peer process's seccomp filter has no sendmsg or sendmmsg (their
	 * msg_name cannot be checked, muxd/sandbox.c). flush_t: made when
	 * first needed, NULL until then.
	 */
	bool batch;
	struct loop_timer *flush_t;
	uint64_t rx_frames;	/* datagrams received (tests, benchmarks) */
	uint64_t rx_calls;	/* receiving system calls made (tests) */
};

/*
 * Frames read from a link with one system call (tun_lkio_recv_some):
 * len[i] is the i-th one's length, or -EPIPE (the end: a zero-length
 * datagram) or -EMSGSIZE (longer than a frame can be). Large (about
 * 33 KiB): on the reader's stack, one per read in progress.
 */
#define TUN_LKIO_RX_BATCH	4
struct lk_rx {
	uint8_t b[TUN_LKIO_RX_BATCH][TUN_LINK_DGRAM_MAX + 1];
	ssize_t len[TUN_LKIO_RX_BATCH];
};

/*
 * What generic code (sessions, login) does with a link without knowing
 * which kind it is: tun_chan_link_ops (a local channel) or tun_remote_link_ops (a
 * peer process's socket, core mode).
 */
struct tun_link_ops {
	/*
	 * One tunnel message to the client. droppable: a reliability-layer
	 * message (HCI, ACK, KEEPALIVE), which a full link may lose like a
	 * datagram.
	 */
	int (*send_msg)(struct tun_link *k, const struct tun_msg *m, bool droppable);
	/* ERROR or CLOSE (best effort). */
	void (*tun_send_reason)(struct tun_link *k, uint8_t version, uint8_t type,
			    int reason, const char *text);
	/*
	 * Drop the link (pending or attached): notify, the session is over
	 * (close_notify; END to a peer process), else it lives on elsewhere
	 * (silence; DROP).
	 */
	void (*close)(struct tun_link *k, bool notify);
	/* A pending link refused because the server is shutting down. */
	void (*shutdown)(struct tun_link *k);
	/* "[addr]:port" of the client, for logs. */
	const char *(*peer_str)(const struct tun_link *k, char *buf, size_t cap);
	/* The client's channel is TLS (the reliability layer's stream mode). */
	bool (*is_stream)(const struct tun_link *k);
};

/*
 * A session's path to its client: a local channel (listener and peer
 * mode), or in core mode a peer process's link (remote), which carries
 * the same tunnel messages in MSG frames.
 */
struct tun_link {
	const struct tun_link_ops *ops;
	struct tun_server *srv;
	struct tun_chan *ch;		/* local */
	struct tun_session *s;		/* L_ATTACHED */
	struct tun_link *next;		/* pending list */
	enum link_state state;
	uint8_t version;
	bool cert_login;
	uint8_t cert_sha256[32];	/* of that login's certificate */
	bool chal_set;			/* chal issued here, not yet used */
	uint8_t chal[TUN_CHAL_LEN];
	int end_reason;			/* why the login ended (peer mode) */
	struct scram_server *scram;
	char name[TUN_USER_MAX + 1];
	/* Login deadline; for a remote link also its deferred release. */
	struct loop_timer *timer;

	/* Remote (core mode). */
	bool dead;			/* closed, released from the loop */
	bool broken;			/* a send failed: lost, from the loop */
	bool stream;			/* the peer's channel is TLS */
	struct lk_io io;
	unsigned dropped;		/* MSG frames dropped on a full queue (DTLS) */
	struct tun_link_label label;

	/*
	 * Login messages travel outside the reliability layer, and a DTLS
	 * record can be lost: the client repeats its latest request until
	 * answered, and the server answers a repeat by sending again what
	 * it sent for it (never redoing the work: no second SCRAM step, no
	 * second key rotation).
	 */
	uint16_t last_req;		/* type << 8 | step; 0: none yet */
	uint8_t nreplay;
	uint8_t replays;		/* repeats answered, capped */
	uint16_t replay_len[TUN_REPLAY_MSGS];
	uint8_t replay[TUN_REPLAY_MSGS][TUN_MSG_MAX];
};

struct tun_session {
	struct tun_server *srv;
	struct tun_session *next;
	struct tun_link *link;		/* NULL while detached */
	struct tun_rel *rel;
	uint8_t version;
	char user[TUN_USER_MAX + 1];
	uint8_t sid[TUN_SID_LEN];
	uint8_t resume_key[TUN_KEY_LEN];
	/*
	 * The key before the latest resumption rotated it, still good for a
	 * RESUME until the client shows it has the new one (its first
	 * message after READY): a READY lost on the way leaves the client
	 * with this key only.
	 */
	uint8_t prev_key[TUN_KEY_LEN];
	bool has_prev;
	struct tun_link_label label;	/* of the login */
	struct loop_timer *rel_timer;
	struct loop_timer *flush_timer;
	struct loop_timer *expire_timer;
	struct loop_timer *reap;
	bool ending;
	bool announced;			/* on_session said yes */
	int end_reason;
	void *data;
};

struct tun_server {
	struct loop *l;
	struct tun_server_cfg cfg;
	struct tun_server_ops ops;
	struct tun_auth_ops auth;
	void *user;
	struct tun_creds *creds;
	/* Certificate logins checked here (no cert_verify hook): the CA. */
	struct tun_certca *ca;
	struct tun_dlisten *dl;
	struct tun_tlisten *tl;
	struct tun_link *pending;
	unsigned npending;
	struct tun_link *dead;		/* closed peer links, released from the loop */
	struct tun_session *sessions;
	unsigned nsessions;
	struct tun_rel_cfg rel_cfg;
	bool freeing;
	bool core;			/* core mode: links from peer processes */
	struct tun_peer *peer;		/* peer mode: the one peer this runs */
	const struct tun_peer_side *peer_side;	/* peer.c's, with peer */
};

/* wire.c */
bool tun_reason_on_wire(int reason);
void tun_msg_init(struct tun_msg *m, uint8_t version, uint8_t type);
uint16_t tun_login_key(const struct tun_msg *m);
void tun_msg_reason(struct tun_msg *m, uint8_t version, uint8_t type, int reason,
		    const char *text);
void tun_send_reason(struct tun_chan *ch, uint8_t version, uint8_t type,
		     int reason, const char *text);
int tun_export_key(struct tun_chan *ch, const uint8_t *sid, const char *label,
		   uint8_t *out);

/* tunnel.c */
void tun_srv_cfg_init(struct tun_server *srv, const struct tun_server_cfg *cfg);
int tun_srv_ca_init(struct tun_server *srv);

/* session.c */
void tun_sess_arm(struct tun_session *s);
void tun_sess_detach(struct tun_session *s, const char *why);
void tun_sess_link_lost(struct tun_session *s, int reason);
void tun_sess_end(struct tun_session *s, int reason, bool tell_peer);
void tun_sess_release(struct tun_session *s);
int tun_sess_check_proof(const struct tun_session *s, const uint8_t *bind,
			 const uint8_t *proof);
void tun_sess_rekey(struct tun_session *s, int which, const uint8_t *new_key);
void tun_send_ready(struct tun_session *s, bool resumed);
void tun_link_attach(struct tun_link *k, struct tun_session *s);
struct tun_session *tun_sess_new(struct tun_server *srv, uint8_t version,
				 const char *name, bool stream);
void tun_sess_link_in(struct tun_session *s);
void tun_sess_announce(struct tun_session *s);
void tun_sess_on_msg(struct tun_session *s, const struct tun_msg *m);

/* login.c */
void tun_link_refuse(struct tun_link *k, int reason, const char *text);
void tun_link_failed_login(struct tun_link *k, int reason, const char *text);
void tun_on_resume(struct tun_link *k, const struct tun_msg *m);
extern const struct tun_chan_ops tun_link_chan_ops;
struct tun_link *tun_link_new_pending(struct tun_server *srv);
int tun_srv_adopt(void *user, struct tun_chan *ch);

/* linkio.c */
void tun_link_unpend(struct tun_link *k);
void tun_link_free(struct tun_link *k);
extern const struct tun_link_ops tun_chan_link_ops;
const char *tun_link_peer_str(const struct tun_link *k, char *buf, size_t cap);
bool tun_link_is_stream(const struct tun_link *k);
int tun_link_send_msg(struct tun_link *k, const struct tun_msg *m, bool droppable);
void tun_link_send_reason(struct tun_link *k, uint8_t version, uint8_t type,
			  int reason, const char *text);
void tun_link_close(struct tun_link *k, bool notify);
void tun_link_drop(struct tun_link *k);
void tun_link_send(struct tun_link *k, const struct tun_msg *m);
void tun_lkio_init(struct lk_io *io, struct loop *l);
int tun_lkio_flush(struct lk_io *io);
int tun_lkio_send(struct lk_io *io, const uint8_t *b, size_t len, bool force);
bool tun_lkio_fd_ok(int fd);
void tun_lkio_close(struct lk_io *io);
int tun_lkio_recv_some(struct lk_io *io, struct lk_rx *rx);
/*
 * A peer process's receiving system calls so far, on its client's
 * channel and on its link, and the frames its link brought (tests).
 */
void tun_peer_rx_counts(const struct tun_peer *p, uint64_t *chan_calls, uint64_t *link_calls,
			uint64_t *link_frames);

/* core.c */
void tun_remote_release(struct tun_link *k);
extern const struct tun_link_ops tun_remote_link_ops;

/*
 * peer.c's side of a peer-mode server (srv->peer_side): where a listener
 * would make or resume the session, the login code asks the core through
 * these. An ops table, so the login code below peer.c never names it.
 */
struct tun_peer_side {
	void (*link_gone)(struct tun_peer *p, struct tun_link *k);
	void (*login_ok)(struct tun_peer *p, struct tun_link *k, const char *name);
	void (*resume)(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m);
	void (*relay_up)(struct tun_peer *p, struct tun_link *k, const struct tun_msg *m);
	void (*chan_down)(struct tun_peer *p, int reason);
};

#endif /* BGW_TUNNEL_INT_H */
