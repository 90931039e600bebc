/* SPDX-License-Identifier: MIT */
/* bgw-muxd.conf parser: good lines, every error path, caps, embedded NUL. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "conf.h"
#include "log.h"
#include "transport.h"

static int line(struct muxd_conf *c, const char *s, char *err)
{
	return muxd_conf_line(c, s, strlen(s), err, 256);
}

START_TEST(good_file_lines)
{
	struct muxd_conf c;
	char err[256];

	muxd_conf_init(&c);
	ck_assert_str_eq(c.controller, "sim");
	ck_assert_int_eq(line(&c, "# comment", err), 0);
	ck_assert_int_eq(line(&c, "", err), 0);
	ck_assert_int_eq(line(&c, "  controller\thci:0   # trailing comment", err), 0);
	ck_assert_str_eq(c.controller, "hci:0");
	ck_assert_int_eq(line(&c, "listen unix:/run/bgw/muxd.sock", err), 0);
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "max-sessions 8", err), 0);
	ck_assert_int_eq(line(&c, "queue-kib 512", err), 0);
	ck_assert_int_eq(line(&c, "log-level debug", err), 0);
	ck_assert_int_eq(line(&c, "socket-mode 0660", err), 0);
	ck_assert_int_eq(line(&c, "uid-map 100000 livingroom", err), 0);
	ck_assert_int_eq(line(&c, "sim-time-scale 0.5", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.listen[0], "/run/bgw/muxd.sock");
	ck_assert_uint_eq(c.max_sessions, 8);
	/* The hard cap (MUX_MAX_SESSIONS) is accepted. */
	ck_assert_int_eq(line(&c, "max-sessions 64", err), 0);
	ck_assert_uint_eq(c.max_sessions, 64);
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_uint_eq(c.uidmap[0].uid, 100000);
	ck_assert_str_eq(c.uidmap[0].user, "livingroom");
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
}
END_TEST

START_TEST(errors_name_the_line)
{
	static const char *bad[] = {
		"bogus 1",
		"controller",
		"controller sim extra",
		"controller bt:0",
		"controller tcp:nohostport",
		"controller h4:/dev/ttyS0,12345",
		"controller hci:x",
		"listen tcp:1.2.3.4:1",
		"listen unix:relative",
		"authdb relative/path",
		"max-sessions 0",
		"max-sessions 65",
		"max-sessions -1",
		"max-sessions 4x",
		"queue-kib 1",
		"log-level loud",
		"socket-mode 0999",
		"socket-mode 01777",
		"uid-map abc alice",
		"uid-map 1000 Alice",
		"uid-map 1000 a/b",
		"sim-time-scale 0",
		"sim-time-scale nan",
		"a b c d e",
		"listen-dtls 5684",
		"listen-dtls 127.0.0.1",
		"listen-dtls 127.0.0.1:",
		"listen-dtls 127.0.0.1:65536",
		"listen-dtls 127.0.0.1:-1",
		"listen-dtls 127.0.0.1:56x",
		"listen-dtls :5684",
		"listen-dtls ::1:5684",
		"listen-dtls [::1]5684",
		"listen-dtls []:5684",
		"listen-tls [::1",
		"listen-tls 127.0.0.1:443 extra",
		"ca",
		"ca etc/bgw/ca.crt",
		"cert relative.crt",
		"key ./server.key",
		"scram-secret secret",
		"audit-log log/audit.log",
		"resume-time 0",
		"resume-time 3601",
		"resume-time 30s",
		"login-time 0",
		"login-time 61",
		"login-time 5s",
	};
	struct muxd_conf c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		muxd_conf_init(&c);
		ck_assert_int_eq(line(&c, "# first", err), 0);
		ck_assert_msg(line(&c, bad[i], err) == -EINVAL, "accepted: %s", bad[i]);
		ck_assert_msg(strncmp(err, "2: ", 3) == 0, "%s -> %s", bad[i], err);
	}
	/* Duplicates. */
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "controller sim", err), 0);
	ck_assert_int_eq(line(&c, "controller sim", err), -EINVAL);
	ck_assert_int_eq(line(&c, "uid-map 5 a", err), 0);
	ck_assert_int_eq(line(&c, "uid-map 5 b", err), -EINVAL);
}
END_TEST

/* The peers' ids: a range of no one's, big enough for every peer. */
START_TEST(peer_uid_keys)
{
	struct muxd_conf c;
	char err[256];

	muxd_conf_init(&c);
	ck_assert_uint_eq(c.peer_uid_base, 1879048192u);
	ck_assert_uint_eq(c.peer_uid_count, 2048);
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "listen-dtls 192.0.2.1:5684", err), 0);
	ck_assert_int_eq(line(&c, "peer-uid-base 200000", err), 0);
	ck_assert_int_eq(line(&c, "peer-uid-count 100", err), 0);
	ck_assert_uint_eq(c.peer_uid_base, 200000);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
	/* root's and the system accounts' ids, a uid_t -1, beyond 2^31 */
	ck_assert_int_eq(line(&c, "peer-uid-base 0", err), -EINVAL);
	ck_assert_int_eq(line(&c, "peer-uid-base 999", err), -EINVAL);
	ck_assert_int_eq(line(&c, "peer-uid-base 4294967295", err), -EINVAL);
	ck_assert_int_eq(line(&c, "peer-uid-base 2147483648", err), -EINVAL);
	ck_assert_int_eq(line(&c, "peer-uid-count 0", err), -EINVAL);
	ck_assert_int_eq(line(&c, "peer-uid-count 65537", err), -EINVAL);
	/* fewer ids than peers alive at once: 4 + 32 + 16 */
	ck_assert_int_eq(line(&c, "peer-uid-count 51", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "peer-uid-count 51 is too small"));
	ck_assert_int_eq(line(&c, "peer-uid-count 52", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
	/* a range over 2^31, or over nobody */
	ck_assert_int_eq(line(&c, "peer-uid-base 2147483600", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(line(&c, "peer-uid-base 65500", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "65534"));
	ck_assert_int_eq(line(&c, "peer-uid-base 65536", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(tunnel_keys)
{
	static const char *once[] = {
		"listen-dtls 127.0.0.1:5684", "listen-tls 127.0.0.1:5684",
		"ca /a/ca.crt", "cert /a/s.crt", "key /a/s.key",
		"scram-secret /a/sec", "audit-log /a/audit", "resume-time 5",
		"login-time 3",
	};
	struct muxd_conf c;
	char err[256];
	size_t i;

	/* Defaults: where bgw-authdb ca init and the authdb put the files. */
	muxd_conf_init(&c);
	ck_assert(!muxd_conf_has_tunnel(&c));
	ck_assert_str_eq(c.ca_file, "/etc/bgw/ca.crt");
	ck_assert_str_eq(c.cert_file, "/etc/bgw/server.crt");
	ck_assert_str_eq(c.key_file, "/etc/bgw/server.key");
	ck_assert_str_eq(c.scram_secret, "/var/lib/bgw/scram.secret");
	ck_assert_str_eq(c.audit_log, "/var/log/bgw/audit.log");
	ck_assert_uint_eq(c.resume_s, 30);
	ck_assert_uint_eq(c.login_s, 5);

	/* A tunnel listener alone is enough (no local listen line). */
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "listen-dtls 192.0.2.1:5684", err), 0);
	ck_assert_int_eq(line(&c, "listen-tls 192.0.2.1:443", err), 0);
	ck_assert_int_eq(line(&c, "ca /srv/ca.crt", err), 0);
	ck_assert_int_eq(line(&c, "cert /srv/server.crt", err), 0);
	ck_assert_int_eq(line(&c, "key /srv/server.key", err), 0);
	ck_assert_int_eq(line(&c, "scram-secret /srv/scram.secret", err), 0);
	ck_assert_int_eq(line(&c, "audit-log /srv/audit.log", err), 0);
	ck_assert_int_eq(line(&c, "resume-time 120", err), 0);
	ck_assert_int_eq(line(&c, "login-time 8", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
	ck_assert(muxd_conf_has_tunnel(&c));
	ck_assert_str_eq(c.tun_host, "192.0.2.1");
	ck_assert_str_eq(c.dtls_port, "5684");
	ck_assert_str_eq(c.tls_port, "443");
	ck_assert_str_eq(c.ca_file, "/srv/ca.crt");
	ck_assert_str_eq(c.cert_file, "/srv/server.crt");
	ck_assert_str_eq(c.key_file, "/srv/server.key");
	ck_assert_str_eq(c.scram_secret, "/srv/scram.secret");
	ck_assert_str_eq(c.audit_log, "/srv/audit.log");
	ck_assert_uint_eq(c.resume_s, 120);
	ck_assert_uint_eq(c.login_s, 8);

	/* IPv6 in brackets, '*' for every address, port 0 (kernel's pick). */
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "listen-dtls [::1]:0", err), 0);
	ck_assert_str_eq(c.tun_host, "::1");
	ck_assert_str_eq(c.dtls_port, "0");
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "listen-tls *:00443", err), 0);
	ck_assert_str_eq(c.tun_host, "");
	ck_assert_str_eq(c.tls_port, "443");
	ck_assert(muxd_conf_has_tunnel(&c));

	/* One bind address for both listeners. */
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "listen-dtls 127.0.0.1:5684", err), 0);
	ck_assert_int_eq(line(&c, "listen-tls [::1]:5684", err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "2: listen-dtls and listen-tls must use the same address"));

	/* Each at most once, the error naming the line. */
	for (i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		muxd_conf_init(&c);
		ck_assert_int_eq(line(&c, once[i], err), 0);
		ck_assert_msg(line(&c, once[i], err) == -EINVAL, "duplicate accepted: %s", once[i]);
		ck_assert_msg(strncmp(err, "2: duplicate", 12) == 0, "%s -> %s", once[i], err);
	}

	/* An overlong host or path is refused, not truncated. */
	{
		char l[MUXD_PATH_MAX + 32];

		muxd_conf_init(&c);
		snprintf(l, sizeof(l), "listen-dtls %.*s:1", MUXD_HOST_MAX,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		ck_assert_int_eq(line(&c, l, err), -EINVAL);
		memset(l, 'b', sizeof(l));
		memcpy(l, "key /", 5);
		l[5 + MUXD_PATH_MAX] = '\0';
		ck_assert_int_eq(line(&c, l, err), -EINVAL);
	}
}
END_TEST

START_TEST(caps_nul_and_control_characters)
{
	struct muxd_conf c;
	char err[256], longl[MUXD_CONF_LINE_MAX + 2];
	unsigned i;

	muxd_conf_init(&c);
	ck_assert_int_eq(muxd_conf_line(&c, "controller sim\0x", 16, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(muxd_conf_line(&c, "controller\rsim", 14, err, sizeof(err)), -EINVAL);
	memset(longl, 'a', sizeof(longl));
	ck_assert_int_eq(muxd_conf_line(&c, longl, MUXD_CONF_LINE_MAX + 1, err, sizeof(err)),
			 -EINVAL);
	muxd_conf_init(&c);
	for (i = 0; i < MUXD_LISTEN_MAX; i++) {
		char l[64];

		snprintf(l, sizeof(l), "listen unix:/tmp/s%u", i);
		ck_assert_int_eq(line(&c, l, err), 0);
	}
	/* One more is an error, never silently dropped. */
	ck_assert_int_eq(line(&c, "listen unix:/tmp/more", err), -EINVAL);
}
END_TEST

START_TEST(finish_requires_authdb_and_listener)
{
	struct muxd_conf c;
	char err[256];

	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "listen unix:/tmp/x", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "authdb"));
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "authdb /x", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no listen, listen-dtls or listen-tls line"));
}
END_TEST

/* relay HOST:PORT (doc/relay.md, "Integration"): up to 4, relay-key. */
START_TEST(relay_keys)
{
	static const char *bad[] = {
		"relay 192.0.2.1", "relay 192.0.2.1:0", "relay *:3478",
		"relay 2001:db8::1:3478", "relay 192.0.2.1:65536", "relay",
		"relay a:1 b:1", "relay-key relative/ca.key",
	};
	struct muxd_conf c;
	char err[256];
	size_t i;

	muxd_conf_init(&c);
	ck_assert_uint_eq(c.nrelay, 0);
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "listen-dtls *:5684", err), 0);
	ck_assert_int_eq(line(&c, "ca /srv/bgw/ca.crt", err), 0);
	ck_assert_int_eq(line(&c, "relay relay.example.net:3478", err), 0);
	ck_assert_int_eq(line(&c, "relay [2001:db8::7]:3478", err), 0);
	ck_assert_uint_eq(c.nrelay, 2);
	ck_assert_str_eq(c.relay_host[0], "relay.example.net");
	ck_assert_str_eq(c.relay_port[0], "3478");
	ck_assert_str_eq(c.relay_host[1], "2001:db8::7");
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
	/* The CA's key, beside the CA certificate, unless told. */
	ck_assert_str_eq(c.relay_key, "/srv/bgw/ca.key");
	ck_assert_int_eq(line(&c, "relay r3:1", err), 0);
	ck_assert_int_eq(line(&c, "relay r4:1", err), 0);
	ck_assert_int_eq(line(&c, "relay r5:1", err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too many relay lines"));

	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "relay-key /keys/relay.key", err), 0);
	ck_assert_int_eq(line(&c, "relay-key /keys/other.key", err), -EINVAL);
	ck_assert_str_eq(c.relay_key, "/keys/relay.key");
	ck_assert_int_eq(line(&c, "relay-cert /keys/relay.crt", err), 0);
	ck_assert_int_eq(line(&c, "relay-cert /keys/other.crt", err), -EINVAL);
	ck_assert_int_eq(line(&c, "relay-cert relative.crt", err), -EINVAL);
	ck_assert_str_eq(c.relay_cert, "/keys/relay.crt");

	/*
	 * relay-cert certifies one key, never the default ca.key: it needs
	 * relay-key; and it is for a relay line.
	 */
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "listen-dtls *:5684", err), 0);
	ck_assert_int_eq(line(&c, "ca /srv/bgw/ca.crt", err), 0);
	ck_assert_int_eq(line(&c, "relay r:1", err), 0);
	ck_assert_int_eq(line(&c, "relay-cert /srv/bgw/relay.crt", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "relay-cert needs relay-key"));
	ck_assert_int_eq(line(&c, "relay-key /srv/bgw/relay.key", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.relay_key, "/srv/bgw/relay.key");
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "listen-dtls *:5684", err), 0);
	ck_assert_int_eq(line(&c, "ca /srv/bgw/ca.crt", err), 0);
	ck_assert_int_eq(line(&c, "relay-key /srv/bgw/relay.key", err), 0);
	ck_assert_int_eq(line(&c, "relay-cert /srv/bgw/relay.crt", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "relay-cert without a relay line"));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		muxd_conf_init(&c);
		ck_assert_msg(line(&c, bad[i], err) == -EINVAL, "accepted: %s", bad[i]);
	}

	/* A relay carries DTLS: without listen-dtls it has nothing to reach. */
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "authdb /etc/bgw/authdb", err), 0);
	ck_assert_int_eq(line(&c, "listen-tls *:443", err), 0);
	ck_assert_int_eq(line(&c, "relay 192.0.2.1:3478", err), 0);
	ck_assert_int_eq(muxd_conf_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "relay needs listen-dtls"));
}
END_TEST

START_TEST(load_file_reports_path_and_line)
{
	char path[] = "/tmp/check_mux_conf.XXXXXX";
	struct muxd_conf c;
	char err[600];
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("controller sim\nlisten unix:/tmp/x\nauthdb /a\nmax-sessions 99\n", f);
	fclose(f);
	ck_assert_int_eq(muxd_conf_load(path, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":4: max-sessions"));
	f = fopen(path, "w");
	fputs("controller unix:/run/btvirt\nlisten unix:/tmp/x\nauthdb /a", f);	/* no final newline */
	fclose(f);
	ck_assert_int_eq(muxd_conf_load(path, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.controller, "unix:/run/btvirt");
	unlink(path);
	ck_assert_int_eq(muxd_conf_load(path, &c, err, sizeof(err)), -ENOENT);
}
END_TEST

START_TEST(transport_uris)
{
	char err[256];

	ck_assert_int_eq(mux_transport_check("sim", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("sim:/etc/bgw/house", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("unix:/run/x", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("tcp:localhost:6402", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("tcp:[::1]:6402", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("h4:/dev/ttyUSB0,921600,flow", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("hci:1", err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_check("hci:", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mux_transport_check("tcp::1", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mux_transport_check("h4:ttyS0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mux_transport_check("usb:1", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown controller URI"));
}
END_TEST

START_TEST(runtime_dir)
{
	struct muxd_conf c;
	char err[256], longp[MUXD_RUNDIR_MAX + 2];

	muxd_conf_init(&c);
	ck_assert_str_eq(c.runtime_dir, "/run/bgw");
	ck_assert_int_eq(line(&c, "runtime-dir /tmp/x", err), 0);
	ck_assert_str_eq(c.runtime_dir, "/tmp/x");
	ck_assert_int_eq(line(&c, "runtime-dir /tmp/y", err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "duplicate"));
	muxd_conf_init(&c);
	ck_assert_int_eq(line(&c, "runtime-dir run/bgw", err), -EINVAL);
	/* The longest that still fits "/bgw-muxd.pid" and a sun_path. */
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[MUXD_RUNDIR_MAX - 1] = '\0';
	{
		char l[MUXD_RUNDIR_MAX + 32];

		snprintf(l, sizeof(l), "runtime-dir %s", longp);
		ck_assert_int_eq(line(&c, l, err), 0);
		longp[MUXD_RUNDIR_MAX - 1] = 'a';
		longp[MUXD_RUNDIR_MAX] = '\0';
		muxd_conf_init(&c);
		snprintf(l, sizeof(l), "runtime-dir %s", longp);
		ck_assert_int_eq(line(&c, l, err), -EINVAL);
	}
}
END_TEST

/* What can be known of a controller without taking it. */
START_TEST(transport_probe)
{
	char err[256], dir[] = "/tmp/bgw-probe-XXXXXX", p[64], uri[96];
	unsigned n = 9;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(mux_transport_probe("sim", err, sizeof(err)), 0);
	/* A regular file is no socket, no terminal, no scenario. */
	snprintf(p, sizeof(p), "%s/file", dir);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a scenario\n", f);
	fclose(f);
	snprintf(uri, sizeof(uri), "unix:%s", p);
	ck_assert_int_eq(mux_transport_probe(uri, err, sizeof(err)), -ENOTSOCK);
	snprintf(uri, sizeof(uri), "unix:%s/none", dir);
	ck_assert_int_eq(mux_transport_probe(uri, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "is its server running?"));
	snprintf(uri, sizeof(uri), "h4:%s", p);
	ck_assert_int_eq(mux_transport_probe(uri, err, sizeof(err)), -ENOTTY);
	snprintf(uri, sizeof(uri), "sim:%s", p);
	ck_assert_int_lt(mux_transport_probe(uri, err, sizeof(err)), 0);
	ck_assert_int_eq(mux_transport_probe("tcp:127.0.0.1:6402", err, sizeof(err)), 0);
	for (;; n++) {
		snprintf(p, sizeof(p), "/sys/class/bluetooth/hci%u", n);
		if (access(p, F_OK) < 0)
			break;
	}
	snprintf(uri, sizeof(uri), "hci:%u", n);
	ck_assert_int_eq(mux_transport_probe(uri, err, sizeof(err)), -ENODEV);
	snprintf(p, sizeof(p), "no controller hci%u", n);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_int_eq(mux_transport_probe("usb:1", err, sizeof(err)), -EINVAL);
	snprintf(p, sizeof(p), "%s/file", dir);
	unlink(p);
	rmdir(dir);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("mux_conf");
	TCase *tc = tcase_create("conf");

	tcase_add_test(tc, good_file_lines);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, tunnel_keys);
	tcase_add_test(tc, peer_uid_keys);
	tcase_add_test(tc, caps_nul_and_control_characters);
	tcase_add_test(tc, finish_requires_authdb_and_listener);
	tcase_add_test(tc, relay_keys);
	tcase_add_test(tc, load_file_reports_path_and_line);
	tcase_add_test(tc, transport_uris);
	tcase_add_test(tc, runtime_dir);
	tcase_add_test(tc, transport_probe);
	suite_add_tcase(s, tc);
	return s;
}
