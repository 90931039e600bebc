/* SPDX-License-Identifier: MIT */
/*
 * The privilege-separation RPC between bgw-muxd's monitor (privileged,
 * never parses network data) and its unprivileged, sandboxed processes:
 * the core (the mux core, the local sessions, the tunnel sessions), the
 * network front (listeners, cookies) and one process per tunnel peer
 * (DTLS/TLS, login). doc/security.md has the picture.
 *
 * Socketpairs (SOCK_STREAM) join them:
 *   request channel  one per process: requests to the monitor, its
 *                    replies; the process waits for each reply
 *                    (rpc_call), so replies never interleave with
 *                    anything else. The monitor allows each process only
 *                    its own kind's requests (monitor.c, the
 *                    table mon_reqs).
 *   push channel     monitor -> core, unsolicited: the policy (the authdb
 *                    without its verifiers) at start and on reload, and
 *                    each peer's link (RPC_LINK_PUSH).
 * A message is an 8-byte header (le32 type, le32 payload length) and its
 * payload. The monitor treats every request as hostile: a type it does not
 * know, a payload longer than RPC_REQ_MAX, a string with a control byte, a
 * trailing byte or an out-of-range argument is a protocol violation, and
 * the monitor ends the worker (a sane worker never sends one).
 *
 * Every request has one layout: u8 arg, then four strings (name, src, rd,
 * detail), each a u8 length and that many bytes, then, only for the types
 * that carry one (SCRAM_VERIFY, SIGN, SPAWN, CERT_LOGIN, RELAY_SIGN, PEER_STOP,
 * PEERS_LOGGED_IN, ...), a binary blob: le16 length and
 * that many bytes; rpc_req_decode checks the per-type rules (which
 * strings may be present, arg's range, the blob's length and content).
 * A descriptor travels with a request only in SPAWN (the peer's socket),
 * with a reply in CTRL_OPEN, LINK and SPAWN.
 */
#ifndef BGW_MUX_RPC_H
#define BGW_MUX_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_HDR_LEN	8
#define RPC_REQ_MAX	6144		/* a request's payload */
/* A request's blob: a SPAWN's hand-over (its ClientHello: 4096 bytes) at most. */
#define RPC_BLOB_MAX	4608
#define RPC_REPLY_MAX	1280		/* a reply's payload: fixed part, text, blob */
/* A reply's blob: a signature (TUN_SIG_MAX) or a REGISTER2 (RMSG_REGISTER2_MAX). */
#define RPC_RBLOB_MAX	960
#define RPC_SIGN_IN_MAX	2048		/* what a handshake signs: a digest or its data */
#define RPC_CHAL_LEN	32		/* TUN_CHAL_LEN */
#define RPC_EXPORTER_LEN 32		/* TUN_EXPORTER_LEN */
#define RPC_CERT_DER_MAX 1023		/* TUN_CERT_DER_MAX */
#define RPC_CERT_SIG_MAX 512		/* TUN_CERT_SIG_MAX */
/* A bgw-relay REG_CHALLENGE: RMSG_HDR_LEN + a 36-byte body (relay/rmsg.h). */
#define RPC_RELAY_CHAL_LEN 40
#define RPC_PUSH_MAX	(9u << 20)	/* a push: the authdb text (AUTHDB_FILE_MAX) */
#define RPC_STR_MAX	255
#define RPC_BOND_BLOB_LEN 17		/* a link key and its Key_Type */
/* An LTK, EDIV (le16), Rand, key size and authenticated (0/1). */
#define RPC_BOND_LE_BLOB_LEN 28
#define RPC_LOGGED_IN_MAX 64		/* pids in one RPC_PEERS_LOGGED_IN */
/* ... and, in RPC_BOND_NEW_LE, the device's IRK after them when it gave one. */
#define RPC_BOND_LE_IRK_BLOB_LEN (RPC_BOND_LE_BLOB_LEN + 16)
/* RPC_BOND_PLTK, RPC_BOND_NEW_PLTK: an LTK, EDIV (le16), Rand. */
#define RPC_BOND_PLTK_BLOB_LEN 26
/* RPC_BOND_IRKS: an entry (identity, its type, IRK) and how many fit a reply. */
#define RPC_BOND_IRK_ENT_LEN 23
#define RPC_BOND_IRKS_PAGE 32
#define RPC_ERR_MAX	200		/* the text in a reply */
#define RPC_TIMEOUT_MS	10000		/* the worker's wait for a reply */

enum rpc_type {
	/* worker -> monitor */
	RPC_CTRL_OPEN = 1,	/* -> reply(status, err) + the controller fd */
	/*
	 * 2 was SCRAM_LOOKUP, which returned a whole verifier: retired
	 * (doc/security.md), refused like an unknown type.
	 */
	RPC_RETIRED_SCRAM_LOOKUP,
	RPC_LOGIN_ALLOWED,	/* name, src -> reply(status: 0 or -EAGAIN) */
	RPC_LOGIN_FAILED,	/* name, src, arg = reason; no reply */
	/*
	 * 5 was LOGIN_OK, by which the worker reported a login: the monitor
	 * now records a login itself when it links the peer (RPC_LINK);
	 * retired, refused like an unknown type.
	 */
	RPC_RETIRED_LOGIN_OK,
	RPC_AUDIT,		/* arg = event, name, src, rd, detail; no reply */
	/* name -> reply(status) + blob: le32 iterations, u8 n, salt[n] */
	RPC_SCRAM_SALT,
	/*
	 * name, src, blob: ClientProof[32] AuthMessage -> reply(status: 0,
	 * -EACCES or -EAGAIN) + blob: ServerSignature[32] when 0. The
	 * monitor applies its rate limits and counts a failure itself.
	 */
	RPC_SCRAM_VERIFY,
	/*
	 * arg = 1 if the blob's input is a digest (else the data itself);
	 * blob: le16 gnutls_sign_algorithm_t, the input -> reply(status) +
	 * blob: the signature with the server's key, which only the monitor
	 * holds. The monitor signs only with algorithms its key supports,
	 * a digest only of that algorithm's hash length, at a bounded rate.
	 */
	RPC_SIGN,
	/*
	 * Front: a verified new peer, for the monitor to fork its process
	 * (under a uid of its own); src its source key, detail its address,
	 * arg 1 a slot reserved for known sources, the peer's socket passed
	 * with the request, blob: the hand-over (struct rpc_spawn, encoded
	 * by rpc_spawn_encode: among others the random of the DTLS
	 * ClientHello the front verified, and the ClientHello itself, which
	 * the monitor copies to the peer unread) -> reply(status) + blob: le32
	 * the peer's pid, and its pidfd (readable when the peer has ended).
	 * The monitor takes source, address and random as the peer's,
	 * whatever the peer later claims; the random is what the peer's one
	 * SIGN must carry (muxd/peerauth.h).
	 */
	RPC_SPAWN,
	/*
	 * 11 was CERT_USER, by which a peer reported the fingerprint of a
	 * certificate its TLS stack had verified: fingerprints are public,
	 * so a subverted peer could claim anyone. Retired (CERT_CHALLENGE
	 * and CERT_LOGIN replace it), refused like an unknown type.
	 */
	RPC_RETIRED_CERT_USER,
	/*
	 * Peer: its link to the core -> reply(status) + a SOCK_SEQPACKET fd.
	 * arg 0: after a login, name = the user whose proof (SCRAM_VERIFY)
	 * or certificate (CERT_USER) checked out on this channel; arg 1: to
	 * resume a session, no name. Once per peer.
	 */
	RPC_LINK,
	/*
	 * Peer: arg = syslog priority, detail = one log line; no reply. The
	 * monitor writes it under its own name for the peer, rate-limited
	 * (a peer has no socket of its own to reach syslog).
	 */
	RPC_LOG,
	/*
	 * Peer: a certificate login's challenge -> reply(status) + blob: 32
	 * fresh random bytes, which the monitor keeps for this peer (one at
	 * a time; a new one replaces it).
	 */
	RPC_CERT_CHALLENGE,
	/*
	 * Peer: blob: the channel's exporter[32], le16 n, the client's
	 * certificate (DER, n bytes), its signature (the rest) ->
	 * reply(status: 0, -EKEYEXPIRED, -EKEYREVOKED, -EKEYREJECTED,
	 * -EBADMSG, -EACCES (signature), -ENOENT (no user), -EPERM
	 * (disabled), -EPROTO (no challenge)) + blob: the user name. The
	 * monitor checks the certificate against its CA and the signature
	 * against the challenge it issued (tunnel/certlogin.h), which is
	 * spent whatever the outcome.
	 */
	RPC_CERT_LOGIN,
	/*
	 * Front: detail = the relay as configured, blob: the relay's
	 * REG_CHALLENGE datagram exactly as received (RPC_RELAY_CHAL_LEN
	 * bytes) -> reply(status: 0, -EACCES (another home's id), -EALREADY
	 * (signed before), -EAGAIN (rate), -EOPNOTSUPP (no relay
	 * configured)) + blob: the REGISTER datagram, signed with the CA key,
	 * which only the monitor holds (doc/relay.md, "Integration";
	 * muxd/relaysign.h). The front's only, and audited (relay-register).
	 */
	RPC_RELAY_SIGN,
	/*
	 * Core: rd = a BR/EDR device's address -> reply(status: 0, -ENOENT
	 * (no household bond), -EIO (the store is refused)) + blob: the
	 * household link key[16] and its Key_Type (doc/virtual-controller.md,
	 * "Household bonds"). The monitor reads the bond store (bgw-bonds(5))
	 * at each request, so `bgw-authdb bond forget` applies at once.
	 */
	RPC_BOND_KEY,
	/*
	 * Core: name = the user whose host paired, rd = the device, blob:
	 * the link key[16] and its Key_Type (not 3, a debug key) ->
	 * reply(status: 0, -EACCES (the user may not access the device),
	 * -EIO (the store is refused or not written)). The monitor keeps it
	 * as the device's bond, writes the store and audits bond-new.
	 */
	RPC_BOND_NEW,
	/*
	 * Front: blob: le32 the pid of a peer it was given (SPAWN) whose
	 * client restarted, or that must go; no reply. The monitor, its
	 * parent, sends it SIGKILL: the front runs as another uid and may
	 * signal no one.
	 */
	RPC_PEER_STOP,
	/*
	 * Core: rd = an LE device's identity, arg = its address type (0
	 * public, 1 random) -> reply(status: 0, -ENOENT, -EIO) + blob: its
	 * household LTK (RPC_BOND_LE_BLOB_LEN, doc/virtual-controller.md,
	 * "Household bonds", LE), then its IRK when the bond has one
	 * (RPC_BOND_LE_IRK_BLOB_LEN), read from the store at each request.
	 */
	RPC_BOND_LTK,
	/*
	 * Core: name = the user whose host paired, rd and arg = the device
	 * (its identity address when it distributed one), blob: its LTK as
	 * for RPC_BOND_LTK, then, when the device distributed one, its IRK
	 * (RPC_BOND_LE_IRK_BLOB_LEN; no other length) -> reply(status: 0,
	 * -EACCES, -EINVAL (a key the store refuses), -EIO). Kept as the
	 * device's LE keys (its link key, if any, is kept), audited bond-new.
	 */
	RPC_BOND_NEW_LE,
	/*
	 * Front: blob: le32 pids (1..RPC_LOGGED_IN_MAX of them), peers it
	 * was given (SPAWN) and still counts as pending logins ->
	 * reply(status 0) + blob: one byte per pid, in order, 1 if that
	 * peer has completed a login the monitor verified (it asked for its
	 * link after a SCRAM proof or a certificate login checked here), 0
	 * otherwise (not yet, a resumption, not a peer of the front's).
	 * The front then stops counting it against the pending caps
	 * (tunnel/front.h). It learns one bit per peer it made, never who.
	 */
	RPC_PEERS_LOGGED_IN,
	/*
	 * Core: arg = the first entry wanted (0-255) -> reply(status: 0,
	 * -EIO) + blob: le16 the number of household bonds with an IRK, then
	 * up to RPC_BOND_IRKS_PAGE entries from arg on, each the identity
	 * address[6] (HCI order), its type (0 public, 1 random) and the
	 * IRK[16] (SMP order). IRKs name a device's private addresses
	 * (doc/virtual-controller.md, "Private addresses"); no LTK or link
	 * key is in them. The core reads them at start, on each policy push
	 * and after it made a bond.
	 */
	RPC_BOND_IRKS,
	/*
	 * Core: rd = an LE device's identity, arg = its address type ->
	 * reply(status: 0, -ENOENT, -EIO) + blob: the key it holds for the
	 * gateway as its peripheral (RPC_BOND_PLTK_BLOB_LEN,
	 * rpc_le_pkey_encode; doc/virtual-controller.md, "The device as
	 * central"), read from the store at each request.
	 */
	RPC_BOND_PLTK,
	/*
	 * Core: name = the user whose host paired, rd and arg = the device,
	 * blob: the key the mux gave it in the host's place, as for
	 * RPC_BOND_PLTK -> reply(status: 0, -EACCES, -EINVAL, -EIO). Kept
	 * with the device's other keys, replacing its pltk; audited bond-new.
	 */
	RPC_BOND_NEW_PLTK,
	RPC_REQ_LAST = RPC_BOND_NEW_PLTK,
	/* monitor -> process */
	RPC_REPLY = 64,
	RPC_POLICY = 65,	/* the authdb text without password lines */
	/*
	 * Core: a peer's link (the fd) and its label: u8 n, user[n] ("":
	 * resume only), u8 n, peer[n], u8 cert, sha256[32].
	 */
	RPC_LINK_PUSH = 66,
	/*
	 * bgw-muxd status and kick (muxd/ctlmsg.h): monitor -> core, an ask;
	 * core -> monitor on the same push channel, the snapshot; monitor ->
	 * the admin's command, the snapshot or (CTL_ERR) a text.
	 */
	RPC_CTL_ASK = 67,
	RPC_CTL_SNAP = 68,
	RPC_CTL_ERR = 69,
	/* bgw-muxd pair: core -> monitor -> the admin's command, a report (ctlmsg.h). */
	RPC_CTL_PAIR = 70,
};

struct rpc_req {
	uint32_t type;
	uint8_t arg;
	char name[RPC_STR_MAX + 1];
	char src[RPC_STR_MAX + 1];
	char rd[RPC_STR_MAX + 1];
	char detail[RPC_STR_MAX + 1];
	uint8_t blob[RPC_BLOB_MAX];
	size_t blob_len;
};

/*
 * A peer handed over (RPC_SPAWN's blob): what tunnel/front.h's struct
 * tun_front_peer holds but the descriptor. Encoded: u8 flags (1 DTLS,
 * 2 a random follows), random[32], u8 n, the peer's address (a
 * sockaddr_in or sockaddr_in6, n its size), le32 first_ms, le32
 * record_seq, hsk_read_seq, hsk_write_seq (the DTLS prestate), le32
 * relay_chan, u8 n, via[n] (printable), le16 n, first[n] (the DTLS
 * ClientHello, opaque to the monitor; none over TLS).
 */
#define RPC_SPAWN_ADDR_MAX	128	/* sizeof(struct sockaddr_storage) */
#define RPC_SPAWN_VIA_MAX	79
#define RPC_SPAWN_FIRST_MAX	4096	/* TUN_FRONT_DGRAM_MAX */
struct rpc_spawn {
	bool dgram;
	bool has_rnd;
	uint8_t rnd[RPC_CHAL_LEN];
	uint8_t addr[RPC_SPAWN_ADDR_MAX];
	size_t alen;
	uint32_t first_ms;
	uint32_t pre[3];
	uint32_t relay_chan;
	char via[RPC_SPAWN_VIA_MAX + 1];
	uint8_t first[RPC_SPAWN_FIRST_MAX];
	size_t first_len;
};

/* Into buf: the length, or -EINVAL when a field is out of its bounds. */
int rpc_spawn_encode(const struct rpc_spawn *s, uint8_t *buf, size_t cap);
/* Strictly (bounds, address family and size, no trailing byte): 0 or -EPROTO. */
int rpc_spawn_decode(const uint8_t *p, size_t len, struct rpc_spawn *out);

/* Does request type expect a reply? */
bool rpc_req_has_reply(uint32_t type);

/* Encode a request (header included) into buf; its length or -EINVAL. */
int rpc_req_encode(const struct rpc_req *r, uint8_t *buf, size_t cap);
/*
 * Decode and validate one request payload of the given type: 0, or
 * -EPROTO with a short reason in *why.
 */
int rpc_req_decode(uint32_t type, const uint8_t *p, size_t len,
		   struct rpc_req *out, const char **why);

/*
 * The monitor's incremental reader of the request channel: bytes in,
 * whole requests out, nothing larger than RPC_REQ_MAX ever buffered.
 */
struct rpc_reader {
	uint8_t buf[RPC_HDR_LEN + RPC_REQ_MAX];
	size_t have;
};

void rpc_reader_init(struct rpc_reader *rd);
/*
 * Consume up to len bytes (*used says how many). Returns 1 with *out
 * filled when a whole valid request is complete, 0 when more bytes are
 * needed, -EPROTO (with *why) on a violation.
 */
int rpc_reader_feed(struct rpc_reader *rd, const uint8_t *p, size_t len,
		    size_t *used, struct rpc_req *out, const char **why);

/*
 * The LE keys of a household bond as RPC_BOND_LTK's reply and
 * RPC_BOND_NEW_LE's request carry them (doc/virtual-controller.md,
 * "Household bonds", LE): LTK[16] (SMP order), EDIV (le16), Rand[8], key
 * size, authenticated (0/1): RPC_BOND_LE_BLOB_LEN octets; then the IRK[16]
 * when the bond has one (RPC_BOND_LE_IRK_BLOB_LEN). No other length.
 */
struct mux_le_bond;
/* Into blob (at least RPC_BOND_LE_IRK_BLOB_LEN): the length used. */
size_t rpc_le_bond_encode(const struct mux_le_bond *b, uint8_t *blob);
/*
 * 0 with *b filled, or -EPROTO for a length that is neither (nothing
 * written to *b). The key size is the store's to check (bonds_set: 7-16);
 * any authenticated octet but 0 is true.
 */
int rpc_le_bond_decode(const uint8_t *blob, size_t len, struct mux_le_bond *b);

/* The same for the peripheral-role key (RPC_BOND_PLTK_BLOB_LEN octets). */
struct mux_le_pkey;
void rpc_le_pkey_encode(const struct mux_le_pkey *k, uint8_t *blob);
/* 0, or -EPROTO for any other length (nothing written to *k). */
int rpc_le_pkey_decode(const uint8_t *blob, size_t len, struct mux_le_pkey *k);

/* What the monitor vouches for about a peer's link (RPC_LINK_PUSH). */
struct rpc_label {
	char user[64 + 1];	/* "": the peer may only resume */
	char peer[63 + 1];	/* its address, as the front named it */
	bool cert;
	uint8_t sha256[32];
};

/* Encode into buf (at least RPC_LABEL_MAX): the length, or -EINVAL. */
#define RPC_LABEL_MAX	(1 + 64 + 1 + 63 + 1 + 32)
int rpc_label_encode(const struct rpc_label *lb, uint8_t *buf, size_t cap);
/* Decode strictly (printable strings, no trailing byte): 0 or -EPROTO. */
int rpc_label_decode(const uint8_t *p, size_t len, struct rpc_label *out);

/* A reply: status (0 or -errno), a flag, a text, an opaque blob. */
struct rpc_reply {
	int32_t status;
	uint8_t flag;
	char err[RPC_ERR_MAX + 1];
	uint8_t blob[RPC_RBLOB_MAX];
	size_t blob_len;
};

/* Whole-message I/O on a blocking stream socket, with an fd or not. */
int rpc_send(int sock, uint32_t type, const void *payload, size_t len, int fd);
int rpc_send_reply(int sock, const struct rpc_reply *r, int fd);
/*
 * Read one message of at most max payload bytes into a malloc'd buffer;
 * *fd gets a passed descriptor or -1. Waits at most timeout_ms (< 0:
 * forever). -EPIPE on EOF, -ETIMEDOUT, -EPROTO.
 */
int rpc_recv(int sock, uint32_t *type, uint8_t **payload, size_t *len,
	     size_t max, int *fd, int timeout_ms);
int rpc_reply_decode(const uint8_t *p, size_t len, struct rpc_reply *out);

/*
 * The worker's synchronous call: send r, wait for the reply (types with
 * one). fd receives a passed descriptor or -1 (NULL: none expected).
 */
int rpc_call(int sock, const struct rpc_req *r, struct rpc_reply *rep, int *fd);
/* The same with a descriptor passed along with the request (sendmsg). */
int rpc_call_fd(int sock, const struct rpc_req *r, int send_fd, struct rpc_reply *rep,
		int *fd);

#endif /* BGW_MUX_RPC_H */
