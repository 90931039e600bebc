/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd's configuration file (man/bgw-muxd.conf.5). The parser is split
 * init/line/finish so the real parser is what the unit tests drive; a file
 * applies only if every line parsed (nothing is applied after an error).
 */
#ifndef BGW_MUX_CONF_H
#define BGW_MUX_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "transport.h"

#define MUXD_CONF_LINE_MAX	1024
#define MUXD_CONF_LINES_MAX	4096
#define MUXD_LISTEN_MAX		4
#define MUXD_UIDMAP_MAX		64
#define MUXD_PATH_MAX		256
#define MUXD_DEFAULT_CONF	"/etc/bgw/bgw-muxd.conf"
#define MUXD_HOST_MAX		64
#define MUXD_RELAY_MAX		4	/* RELAYREG_MAX */
/*
 * The tunnel's files, where `bgw-authdb ca init` (authdb/ca.h) and the
 * authdb (AUTHDB_SECRET_PATH, AUDIT_DEFAULT_PATH) put them by default.
 */
#define MUXD_DEFAULT_CA		"/etc/bgw/ca.crt"
#define MUXD_DEFAULT_CERT	"/etc/bgw/server.crt"
#define MUXD_DEFAULT_KEY	"/etc/bgw/server.key"
#define MUXD_DEFAULT_SECRET	"/var/lib/bgw/scram.secret"	/* StateDirectory= */
#define MUXD_DEFAULT_AUDIT	"/var/log/bgw/audit.log"
#define MUXD_DEFAULT_BONDS	"/var/lib/bgw/bonds"
#define MUXD_DEFAULT_RUNDIR	"/run/bgw"
/* In the runtime directory: the single-instance lock and the control socket. */
#define MUXD_PID_FILE		"bgw-muxd.pid"
#define MUXD_CONTROL_SOCK	"control"
/* The runtime directory's path, short enough for both names and a sun_path. */
#define MUXD_RUNDIR_MAX		96
#define MUXD_RESUME_DEFAULT	30
#define MUXD_RESUME_MAX		3600
#define MUXD_LOGIN_DEFAULT	5
#define MUXD_LOGIN_MAX		60
/*
 * The uids (and gids, the same numbers) of the peer processes: one each,
 * from a range no account uses (doc/security.md, "Without the filters").
 * The default lies above the container ranges systemd allocates
 * (524288..1879048191, systemd's UIDS-GIDS) and the subordinate ids
 * useradd hands out (100000..600100000).
 */
#define MUXD_PEER_UID_BASE	1879048192u
#define MUXD_PEER_UID_COUNT	2048u
#define MUXD_PEER_UID_COUNT_MAX	65536u
/* Peer processes beyond max-sessions + max-pending: those closing. */
#define MUXD_PEER_SLACK		16u

struct muxd_uidmap {
	uid_t uid;
	char user[64];
};

struct muxd_conf {
	char controller[MUX_URI_MAX];
	char listen[MUXD_LISTEN_MAX][MUXD_PATH_MAX];	/* Unix socket paths */
	unsigned nlisten;
	char authdb[MUXD_PATH_MAX];
	unsigned max_sessions;
	unsigned max_sessions_user;	/* 0: no cap below max_sessions */
	unsigned max_pending;		/* tunnel channels in handshake or login */
	bool sandbox;			/* the worker's seccomp filter (default yes) */
	unsigned queue_kib;		/* per-session outbound queue */
	int log_level;			/* syslog priority */
	unsigned socket_mode;
	double sim_time_scale;
	struct muxd_uidmap uidmap[MUXD_UIDMAP_MAX];
	unsigned nuidmap;
	/*
	 * The tunnel (tunnel/tunnel.h): one bind host for both listeners
	 * (tun_server_cfg has one), a port string each, "" if not listening.
	 */
	char tun_host[MUXD_HOST_MAX];
	char dtls_port[6];
	char tls_port[6];
	char ca_file[MUXD_PATH_MAX];
	char cert_file[MUXD_PATH_MAX];
	char key_file[MUXD_PATH_MAX];
	char scram_secret[MUXD_PATH_MAX];
	char audit_log[MUXD_PATH_MAX];
	char bonds[MUXD_PATH_MAX];	/* the household bond store (bgw-bonds(5)) */
	unsigned resume_s;
	/* The pid file (locked: one instance) and the control socket. */
	char runtime_dir[MUXD_RUNDIR_MAX];
	unsigned login_s;		/* handshake + login of a tunnel peer */
	/* The peers' ids: peer_uid_base .. + peer_uid_count - 1. */
	uid_t peer_uid_base;
	unsigned peer_uid_count;
	/*
	 * Relays the front registers the home id with (doc/relay.md):
	 * host and port each, and the key that signs the registrations (the
	 * monitor's only; default: ca.key beside the ca file). With
	 * relay-cert, relay-key is a registration key the CA certified
	 * (REGISTER2) and the CA key need not be on the gateway.
	 */
	char relay_host[MUXD_RELAY_MAX][MUXD_HOST_MAX];
	char relay_port[MUXD_RELAY_MAX][6];
	unsigned nrelay;
	char relay_key[MUXD_PATH_MAX];
	char relay_cert[MUXD_PATH_MAX];
	/* parser state */
	unsigned lineno;
	bool seen_controller;
	bool seen_authdb;
	bool seen_rundir;
	unsigned seen_tun;		/* bit per tunnel keyword: no duplicates */
};

/* A tunnel listener (listen-dtls or listen-tls) is configured. */
bool muxd_conf_has_tunnel(const struct muxd_conf *c);

/* Defaults: controller sim, no listener, max-sessions 4, queue 256 KiB. */
void muxd_conf_init(struct muxd_conf *c);
/*
 * One line (without its newline; len counts every byte, so an embedded NUL
 * is refused). 0 or -EINVAL with "LINE: message" in err.
 */
int muxd_conf_line(struct muxd_conf *c, const char *line, size_t len,
		   char *err, size_t errlen);
/* Cross-checks (a listener, local or tunnel, and an authdb are required). */
int muxd_conf_finish(struct muxd_conf *c, char *err, size_t errlen);
/* Read a whole file; err gets "PATH:LINE: message". */
int muxd_conf_load(const char *path, struct muxd_conf *c, char *err, size_t errlen);

#endif /* BGW_MUX_CONF_H */
