/* SPDX-License-Identifier: MIT */
/*
 * bgw-muxd.conf parser. Untrusted in the sense that a typo must never be
 * half-applied: every line is checked completely, caps are enforced (a
 * long line is an error, never split), and the caller applies the result
 * only after muxd_conf_finish() succeeded.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mux.h"

#define MAX_WORDS 4

void muxd_conf_init(struct muxd_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->controller, "sim");
	c->sandbox = true;
	c->max_pending = 32;
	c->max_sessions = 4;
	c->queue_kib = 256;
	c->log_level = LOG_INFO;
	c->socket_mode = 0660;
	c->sim_time_scale = 1.0;
	strcpy(c->ca_file, MUXD_DEFAULT_CA);
	strcpy(c->cert_file, MUXD_DEFAULT_CERT);
	strcpy(c->key_file, MUXD_DEFAULT_KEY);
	strcpy(c->scram_secret, MUXD_DEFAULT_SECRET);
	strcpy(c->audit_log, MUXD_DEFAULT_AUDIT);
	strcpy(c->bonds, MUXD_DEFAULT_BONDS);
	c->resume_s = MUXD_RESUME_DEFAULT;
	strcpy(c->runtime_dir, MUXD_DEFAULT_RUNDIR);
	c->login_s = MUXD_LOGIN_DEFAULT;
	c->peer_uid_base = MUXD_PEER_UID_BASE;
	c->peer_uid_count = MUXD_PEER_UID_COUNT;
}

bool muxd_conf_has_tunnel(const struct muxd_conf *c)
{
	return c->dtls_port[0] || c->tls_port[0];
}

static int bad(struct muxd_conf *c, char *err, size_t errlen, const char *what,
	       const char *val)
{
	if (err && errlen)
		snprintf(err, errlen, "%u: %s%s%s%s", c->lineno, what,
			 val ? ": '" : "", val ? val : "", val ? "'" : "");
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      int base, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool user_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/*
 * ADDR:PORT for a tunnel listener: an IPv4 address or host name, an IPv6
 * address in brackets, or '*' for every address; PORT 0 to 65535 (0: the
 * kernel picks one, logged at start). Host is "" for '*'.
 */
static int parse_hostport(const char *s, char host[MUXD_HOST_MAX], char port[6])
{
	const char *colon, *h = s;
	size_t hl;
	unsigned long v;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
		if (hl == 0 || memchr(h, '[', hl))
			return -EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;	/* a bare IPv6 address is ambiguous */
		hl = (size_t)(colon - s);
		if (hl == 0)
			return -EINVAL;
	}
	if (hl >= MUXD_HOST_MAX || strlen(colon + 1) > 5 ||
	    parse_uint(colon + 1, 0, 65535, 10, &v) < 0)
		return -EINVAL;
	if (hl == 1 && h[0] == '*') {
		host[0] = '\0';
	} else {
		memcpy(host, h, hl);
		host[hl] = '\0';
	}
	snprintf(port, 6, "%lu", v);
	return 0;
}

/* The tunnel keywords taking one absolute path, each at most once. */
static const struct {
	const char *kw;
	size_t off;
} tun_paths[] = {
	{ "ca", offsetof(struct muxd_conf, ca_file) },
	{ "cert", offsetof(struct muxd_conf, cert_file) },
	{ "key", offsetof(struct muxd_conf, key_file) },
	{ "scram-secret", offsetof(struct muxd_conf, scram_secret) },
	{ "audit-log", offsetof(struct muxd_conf, audit_log) },
	{ "bonds", offsetof(struct muxd_conf, bonds) },
	{ "relay-key", offsetof(struct muxd_conf, relay_key) },
	{ "relay-cert", offsetof(struct muxd_conf, relay_cert) },
};

#define SEEN_DTLS	(1u << 8)
#define SEEN_TLS	(1u << 9)
#define SEEN_RESUME	(1u << 10)
#define SEEN_LOGIN	(1u << 11)

/*
 * The keywords taking one number in a range: where it goes, the bit that
 * refuses a second line (0: the last line wins) and what to say.
 */
static const struct {
	const char *kw;
	unsigned long min, max;
	int base;
	size_t off;
	unsigned seen;
	const char *range;
} conf_nums[] = {
	{ "max-sessions", 1, MUX_MAX_SESSIONS, 10, offsetof(struct muxd_conf, max_sessions),
	  0, "max-sessions must be 1 to 64" },
	{ "max-sessions-per-user", 1, MUX_MAX_SESSIONS, 10,
	  offsetof(struct muxd_conf, max_sessions_user), 0,
	  "max-sessions-per-user must be 1 to 64" },
	{ "max-pending", 1, 1024, 10, offsetof(struct muxd_conf, max_pending),
	  0, "max-pending must be 1 to 1024" },
	{ "queue-kib", 16, 65536, 10, offsetof(struct muxd_conf, queue_kib),
	  0, "queue-kib must be 16 to 65536" },
	{ "socket-mode", 0, 0777, 8, offsetof(struct muxd_conf, socket_mode),
	  0, "socket-mode must be octal, at most 0777" },
	{ "resume-time", 1, MUXD_RESUME_MAX, 10, offsetof(struct muxd_conf, resume_s),
	  SEEN_RESUME, "resume-time must be 1 to 3600 seconds" },
	{ "login-time", 1, MUXD_LOGIN_MAX, 10, offsetof(struct muxd_conf, login_s),
	  SEEN_LOGIN, "login-time must be 1 to 60 seconds" },
	/* Below 2^31: no id a signed comparison or (uid_t)-1 could mistake. */
	{ "peer-uid-base", 1000, 0x7fffffffu, 10, offsetof(struct muxd_conf, peer_uid_base),
	  0, "peer-uid-base must be 1000 to 2147483647" },
	{ "peer-uid-count", 1, MUXD_PEER_UID_COUNT_MAX, 10,
	  offsetof(struct muxd_conf, peer_uid_count), 0, "peer-uid-count must be 1 to 65536" },
};

/* A keyword of its own: w[0] the keyword, w[1]... its values (counted). */
typedef int (*conf_kw_fn)(struct muxd_conf *c, char **w, char *err, size_t errlen);

static int kw_controller(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	char terr[256];

	if (c->seen_controller)
		return bad(c, err, errlen, "duplicate", w[0]);
	if (mux_transport_check(w[1], terr, sizeof(terr)) < 0)
		return bad(c, err, errlen, "bad controller URI", w[1]);
	strcpy(c->controller, w[1]);
	c->seen_controller = true;
	return 0;
}

static int kw_listen(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	if (strncmp(w[1], "unix:", 5) != 0 || w[1][5] != '/')
		return bad(c, err, errlen, "listen wants unix:/absolute/path", w[1]);
	if (strlen(w[1] + 5) >= 108 || strlen(w[1] + 5) >= MUXD_PATH_MAX)
		return bad(c, err, errlen, "socket path too long", w[1]);
	if (c->nlisten >= MUXD_LISTEN_MAX)
		return bad(c, err, errlen, "too many listen lines", NULL);
	strcpy(c->listen[c->nlisten++], w[1] + 5);
	return 0;
}

static int kw_authdb(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	if (c->seen_authdb)
		return bad(c, err, errlen, "duplicate", w[0]);
	if (w[1][0] != '/' || strlen(w[1]) >= MUXD_PATH_MAX)
		return bad(c, err, errlen, "authdb wants an absolute path", w[1]);
	strcpy(c->authdb, w[1]);
	c->seen_authdb = true;
	return 0;
}

static int kw_runtime_dir(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	if (c->seen_rundir)
		return bad(c, err, errlen, "duplicate", w[0]);
	if (w[1][0] != '/' || strlen(w[1]) >= MUXD_RUNDIR_MAX)
		return bad(c, err, errlen, "runtime-dir wants an absolute path of at most 95 bytes", w[1]);
	strcpy(c->runtime_dir, w[1]);
	c->seen_rundir = true;
	return 0;
}

static int kw_sandbox(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	if (strcmp(w[1], "yes") == 0)
		c->sandbox = true;
	else if (strcmp(w[1], "no") == 0)
		c->sandbox = false;
	else
		return bad(c, err, errlen, "sandbox must be yes or no", w[1]);
	return 0;
}

static int kw_log_level(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	int lv = log_level_parse(w[1]);

	if (lv < 0)
		return bad(c, err, errlen, "log-level must be err, warning, notice, info or debug", w[1]);
	c->log_level = lv;
	return 0;
}

static int kw_uid_map(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	unsigned long v;
	size_t i;

	if (parse_uint(w[1], 0, 0xfffffffeul, 10, &v) < 0)
		return bad(c, err, errlen, "bad uid", w[1]);
	if (!user_name_ok(w[2]))
		return bad(c, err, errlen, "bad user name", w[2]);
	for (i = 0; i < c->nuidmap; i++)
		if (c->uidmap[i].uid == (uid_t)v)
			return bad(c, err, errlen, "duplicate uid-map for", w[1]);
	if (c->nuidmap >= MUXD_UIDMAP_MAX)
		return bad(c, err, errlen, "too many uid-map lines", NULL);
	c->uidmap[c->nuidmap].uid = (uid_t)v;
	strcpy(c->uidmap[c->nuidmap].user, w[2]);
	c->nuidmap++;
	return 0;
}

static int kw_sim_time_scale(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(w[1], &end);
	if (errno || *end || !(d >= 0.001 && d <= 1000.0))
		return bad(c, err, errlen, "sim-time-scale must be 0.001 to 1000", w[1]);
	c->sim_time_scale = d;
	return 0;
}

/* listen-dtls and listen-tls */
static int kw_listen_tun(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	bool dtls = w[0][7] == 'd';
	unsigned bit = dtls ? SEEN_DTLS : SEEN_TLS;
	char host[MUXD_HOST_MAX];

	if (c->seen_tun & bit)
		return bad(c, err, errlen, "duplicate", w[0]);
	if (parse_hostport(w[1], host, dtls ? c->dtls_port : c->tls_port) < 0)
		return bad(c, err, errlen, "wants ADDR:PORT ([v6]:PORT, *:PORT), port 0 to 65535", w[1]);
	/* The tunnel server binds one host for both listeners. */
	if ((c->seen_tun & (SEEN_DTLS | SEEN_TLS)) && strcmp(host, c->tun_host) != 0)
		return bad(c, err, errlen, "listen-dtls and listen-tls must use the same address", w[1]);
	strcpy(c->tun_host, host);
	c->seen_tun |= bit;
	return 0;
}

static int kw_relay(struct muxd_conf *c, char **w, char *err, size_t errlen)
{
	if (c->nrelay >= MUXD_RELAY_MAX)
		return bad(c, err, errlen, "too many relay lines (at most 4)", NULL);
	if (parse_hostport(w[1], c->relay_host[c->nrelay], c->relay_port[c->nrelay]) < 0 ||
	    !c->relay_host[c->nrelay][0] || !strcmp(c->relay_port[c->nrelay], "0"))
		return bad(c, err, errlen, "relay wants HOST:PORT ([v6]:PORT), port 1 to 65535", w[1]);
	c->nrelay++;
	return 0;
}

/* The keywords of their own, each with its count of values. */
static const struct {
	const char *kw;
	unsigned nvalues;
	conf_kw_fn fn;
} conf_kws[] = {
	{ "controller", 1, kw_controller },
	{ "listen", 1, kw_listen },
	{ "authdb", 1, kw_authdb },
	{ "runtime-dir", 1, kw_runtime_dir },
	{ "sandbox", 1, kw_sandbox },
	{ "log-level", 1, kw_log_level },
	{ "uid-map", 2, kw_uid_map },
	{ "sim-time-scale", 1, kw_sim_time_scale },
	{ "listen-dtls", 1, kw_listen_tun },
	{ "listen-tls", 1, kw_listen_tun },
	{ "relay", 1, kw_relay },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* conf_nums stores through an unsigned *. */
_Static_assert(sizeof(uid_t) == sizeof(unsigned), "uid_t is not an unsigned int");

int muxd_conf_line(struct muxd_conf *c, const char *line, size_t len,
		   char *err, size_t errlen)
{
	char buf[MUXD_CONF_LINE_MAX + 1];
	char *w[MAX_WORDS + 1];
	unsigned nw = 0;
	unsigned long v;
	char *p, *save = NULL;
	size_t i;

	c->lineno++;
	if (c->lineno > MUXD_CONF_LINES_MAX)
		return bad(c, err, errlen, "too many lines", NULL);
	if (len > MUXD_CONF_LINE_MAX)
		return bad(c, err, errlen, "line too long", NULL);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == '\0' || (ch < 0x20 && ch != '\t') || ch == 0x7f)
			return bad(c, err, errlen, "control character in line", NULL);
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (p[0] == '#')
			break;
		if (nw == MAX_WORDS)
			return bad(c, err, errlen, "too many words", NULL);
		w[nw++] = p;
	}
	if (nw == 0)
		return 0;
	w[nw] = NULL;

	for (i = 0; i < N_OF(conf_kws); i++) {
		if (strcmp(w[0], conf_kws[i].kw) != 0)
			continue;
		if (nw != 1 + conf_kws[i].nvalues)
			return bad(c, err, errlen, "wrong number of values for", w[0]);
		return conf_kws[i].fn(c, w, err, errlen);
	}
	for (i = 0; i < N_OF(conf_nums); i++) {
		if (strcmp(w[0], conf_nums[i].kw) != 0)
			continue;
		if (nw != 2)
			return bad(c, err, errlen, "wrong number of values for", w[0]);
		if (c->seen_tun & conf_nums[i].seen)
			return bad(c, err, errlen, "duplicate", w[0]);
		if (parse_uint(w[1], conf_nums[i].min, conf_nums[i].max, conf_nums[i].base, &v) < 0)
			return bad(c, err, errlen, conf_nums[i].range, w[1]);
		*(unsigned *)((char *)c + conf_nums[i].off) = (unsigned)v;
		c->seen_tun |= conf_nums[i].seen;
		return 0;
	}
	/* The tunnel keywords taking one absolute path, each at most once. */
	for (i = 0; i < N_OF(tun_paths); i++)
		if (strcmp(w[0], tun_paths[i].kw) == 0)
			break;
	if (i == N_OF(tun_paths))
		return bad(c, err, errlen, "unknown keyword", w[0]);
	if (nw != 2)
		return bad(c, err, errlen, "wrong number of values for", w[0]);
	if (c->seen_tun & (1u << i))
		return bad(c, err, errlen, "duplicate", w[0]);
	if (w[1][0] != '/' || strlen(w[1]) >= MUXD_PATH_MAX)
		return bad(c, err, errlen, "wants an absolute path", w[1]);
	strcpy((char *)c + tun_paths[i].off, w[1]);
	c->seen_tun |= 1u << i;
	return 0;
}

int muxd_conf_finish(struct muxd_conf *c, char *err, size_t errlen)
{
	/* No allow-all fallback: without an authdb nobody could be checked. */
	if (!c->seen_authdb) {
		snprintf(err, errlen, "no authdb line: the access lists are required");
		return -EINVAL;
	}
	if (c->nlisten == 0 && !muxd_conf_has_tunnel(c)) {
		snprintf(err, errlen, "no listen, listen-dtls or listen-tls line: nothing would reach the controller");
		return -EINVAL;
	}
	/* A relay carries DTLS to the listener; the id is the CA's. */
	if (c->nrelay && (!c->dtls_port[0] || !c->ca_file[0])) {
		snprintf(err, errlen, "relay needs listen-dtls and ca (the home id is the CA key's)");
		return -EINVAL;
	}
	/*
	 * A uid for every peer process that may be alive at once, those
	 * closing included: a peer never shares its uid with another.
	 */
	if (muxd_conf_has_tunnel(c) &&
	    c->peer_uid_count < c->max_sessions + c->max_pending + MUXD_PEER_SLACK) {
		snprintf(err, errlen, "peer-uid-count %u is too small: max-sessions + max-pending + %u (%u) peer processes may be alive at once, each with a uid of its own",
			 c->peer_uid_count, MUXD_PEER_SLACK,
			 c->max_sessions + c->max_pending + MUXD_PEER_SLACK);
		return -EINVAL;
	}
	if ((uint64_t)c->peer_uid_base + c->peer_uid_count > 0x80000000ull) {
		snprintf(err, errlen, "peer-uid-base + peer-uid-count must stay below 2147483648");
		return -EINVAL;
	}
	/* nobody, and the 16-bit (uid_t)-1 (systemd's UIDS-GIDS). */
	if (c->peer_uid_base <= 65535 && c->peer_uid_base + c->peer_uid_count > 65534) {
		snprintf(err, errlen, "the peers' uids (peer-uid-base, peer-uid-count) must not include 65534 or 65535");
		return -EINVAL;
	}
	/* A certificate is for one key: ca.key is never the one it certifies. */
	if (c->relay_cert[0] && !c->relay_key[0]) {
		snprintf(err, errlen, "relay-cert needs relay-key: the registration key "
			 "bgw-authdb ca relay-key wrote with it (relay.key)");
		return -EINVAL;
	}
	if (c->relay_cert[0] && !c->nrelay) {
		snprintf(err, errlen, "relay-cert without a relay line: nothing would use it");
		return -EINVAL;
	}
	if (c->nrelay && !c->relay_key[0]) {
		const char *slash = strrchr(c->ca_file, '/');
		int n = snprintf(c->relay_key, sizeof(c->relay_key), "%.*s/ca.key",
				 (int)(slash - c->ca_file), c->ca_file);

		if (n < 0 || (size_t)n >= sizeof(c->relay_key)) {
			snprintf(err, errlen, "relay: give relay-key, the path beside ca is too long");
			return -EINVAL;
		}
	}
	return 0;
}

int muxd_conf_load(const char *path, struct muxd_conf *c, char *err, size_t errlen)
{
	char line[MUXD_CONF_LINE_MAX + 2];
	char lerr[320];
	FILE *f;
	int r = 0;

	muxd_conf_init(c);
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	for (;;) {
		size_t n = 0;
		int ch = 0;

		/* Byte by byte so an embedded NUL or an overlong line is seen. */
		while (n < sizeof(line) && (ch = getc(f)) != EOF && ch != '\n')
			line[n++] = (char)ch;
		if (n == sizeof(line)) {
			c->lineno++;
			snprintf(err, errlen, "%s:%u: line too long", path, c->lineno);
			r = -EINVAL;
			break;
		}
		if (ch == EOF && n == 0)
			break;
		r = muxd_conf_line(c, line, n, lerr, sizeof(lerr));
		if (r < 0) {
			snprintf(err, errlen, "%s:%s", path, lerr);
			break;
		}
		if (ch == EOF)
			break;
	}
	if (!r && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		r = -EIO;
	}
	fclose(f);
	if (!r) {
		r = muxd_conf_finish(c, lerr, sizeof(lerr));
		if (r < 0)
			snprintf(err, errlen, "%s: %s", path, lerr);
	}
	return r;
}
