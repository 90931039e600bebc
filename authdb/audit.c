/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "audit.h"
#include "authdb.h"
#include "hex.h"
#include "log.h"
#include "secmem.h"

#define HASH_HEX AUDIT_HEX
#define ANCHOR_MAGIC "bgw-audit-anchor 1"

struct audit_log {
	int fd;
	char *path;
	char key_path[PATH_MAX];
	char anchor_path[PATH_MAX];
	uint8_t key[AUDIT_KEY_LEN];
	unsigned long lost;	/* records not written since lost_since */
	time_t lost_since;
	int lost_err;		/* the first failure's errno */
	unsigned long head_seq;	/* after the last append */
	char head[HASH_HEX + 1];
};

static const char *const event_names[] = {
	[AUDIT_LOGIN_OK] = "login-ok",
	[AUDIT_LOGIN_FAIL] = "login-fail",
	[AUDIT_LOGIN_LIMITED] = "login-limited",
	[AUDIT_SESSION_END] = "session-end",
	[AUDIT_ACL_DENY] = "acl-deny",
	[AUDIT_PAIR_REFUSED] = "pair-refused",
	[AUDIT_AUTHDB_CHANGE] = "authdb-change",
	[AUDIT_AUTHDB_RELOAD] = "authdb-reload",
	[AUDIT_LOST] = "audit-lost",
	[AUDIT_ANCHOR_MISMATCH] = "audit-anchor-mismatch",
	[AUDIT_RELAY_REGISTER] = "relay-register",
	[AUDIT_BOND_NEW] = "bond-new",
	[AUDIT_BOND_FORGET] = "bond-forget",
};

const char *audit_event_name(enum audit_event ev)
{
	if ((unsigned)ev >= sizeof(event_names) / sizeof(event_names[0]))
		return NULL;
	return event_names[ev];
}

static int sha256_hex(const void *p, size_t n, char out[HASH_HEX + 1])
{
	uint8_t d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, d))
		return -EIO;
	hex_encode(d, sizeof(d), out);
	return 0;
}

static int hmac_hex(const uint8_t *key, const void *p, size_t n,
		    char out[HASH_HEX + 1])
{
	uint8_t d[32];

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, AUDIT_KEY_LEN, p, n, d))
		return -EIO;
	hex_encode(d, sizeof(d), out);
	explicit_bzero(d, sizeof(d));
	return 0;
}

/* MACs are compared in constant time (a verifier may run unattended). */
int audit_side_paths(const char *path, char *key, size_t keycap, char *anchor,
		     size_t anchorcap)
{
	if (!path || !key || !anchor)
		return -EINVAL;
	if (!strcmp(path, AUDIT_DEFAULT_PATH)) {
		if (snprintf(key, keycap, "%s", AUDIT_DEFAULT_KEY) >= (int)keycap ||
		    snprintf(anchor, anchorcap, "%s", AUDIT_DEFAULT_ANCHOR) >= (int)anchorcap)
			return -ENAMETOOLONG;
		return 0;
	}
	if (snprintf(key, keycap, "%s.key", path) >= (int)keycap ||
	    snprintf(anchor, anchorcap, "%s.head", path) >= (int)anchorcap)
		return -ENAMETOOLONG;
	return 0;
}

/* The key: read it, or (create) make it and its directory if missing. */
static int key_load(const char *path, bool create, uint8_t key[AUDIT_KEY_LEN])
{
	char dir[PATH_MAX];

	if (!create && access(path, F_OK) < 0)
		return -errno;
	if (create) {
		snprintf(dir, sizeof(dir), "%s", path);
		if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	/* Same rules as the SCRAM secret: regular, root's or ours, 0600. */
	return authdb_secret_load(path, key, AUDIT_KEY_LEN);
}

static int anchor_init(struct audit_log *log);

int audit_open(const char *path, struct audit_log **out)
{
	struct audit_log *log;
	struct stat st;
	int ret;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->fd = -1;
	log->path = strdup(path);
	if (!log->path) {
		audit_close(log);
		return -ENOMEM;
	}
	ret = audit_side_paths(path, log->key_path, sizeof(log->key_path),
			       log->anchor_path, sizeof(log->anchor_path));
	if (ret) {
		audit_close(log);
		return ret;
	}
	log->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		       0600);
	if (log->fd < 0) {
		ret = -errno;
		audit_close(log);
		return ret;
	}
	if (fstat(log->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		audit_close(log);
		return -EPERM;
	}
	ret = key_load(log->key_path, true, log->key);
	if (ret) {
		log_err("audit: key %s: %s", log->key_path, strerror(-ret));
		audit_close(log);
		return ret;
	}
	ret = anchor_init(log);
	if (ret) {
		log_err("audit: anchor %s: %s", log->anchor_path, strerror(-ret));
		audit_close(log);
		return ret;
	}
	*out = log;
	return 0;
}

void audit_close(struct audit_log *log)
{
	if (!log)
		return;
	if (log->fd >= 0)
		close(log->fd);
	explicit_bzero(log->key, sizeof(log->key));
	free(log->path);
	free(log);
}

void audit_head(const struct audit_log *log, unsigned long *seq, char *head)
{
	if (seq)
		*seq = log ? log->head_seq : 0;
	if (head)
		snprintf(head, HASH_HEX + 1, "%s", log ? log->head : "");
}

/* Append " key=value", percent-encoded. -EINVAL if the value is too long. */
static int put_field(char *buf, size_t cap, size_t *o, const char *key,
		     const char *v)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i, klen = strlen(key);

	if (strnlen(v, AUDIT_VALUE_MAX + 1) > AUDIT_VALUE_MAX)
		return -EINVAL;
	if (*o + klen + 2 >= cap)
		return -ENOSPC;
	buf[(*o)++] = ' ';
	memcpy(buf + *o, key, klen);
	*o += klen;
	buf[(*o)++] = '=';
	for (i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];

		if (*o + 4 >= cap)
			return -ENOSPC;
		if (c < 0x21 || c > 0x7e || c == '%' || c == '=') {
			buf[(*o)++] = '%';
			buf[(*o)++] = digits[c >> 4];
			buf[(*o)++] = digits[c & 15];
		} else {
			buf[(*o)++] = (char)c;
		}
	}
	return 0;
}

struct audit_rec {
	unsigned long seq;
	bool keyed;			/* hmac= (else a legacy hash=) */
	char event[24];
	char prev[HASH_HEX + 1];
	char mac[HASH_HEX + 1];		/* the hmac or the legacy hash */
};

/*
 * Parse the chain fields of one line (without '\n') and check its MAC
 * (key NULL: a keyed record cannot be checked, *why says so). Returns 0
 * or -EBADMSG with *why; -EIO if the hash fails.
 */
static int rec_check(const char *line, size_t len, const uint8_t *key,
		     struct audit_rec *r, const char **why)
{
	char calc[HASH_HEX + 1], *end;
	const char *h, *pv, *ev, *sp;
	size_t i;
	int ret;

	*why = "malformed record";
	memset(r, 0, sizeof(*r));
	if (len < 2 * (HASH_HEX + 6) || len > AUDIT_RECORD_MAX)
		return -EBADMSG;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return -EBADMSG;
	h = line + len - HASH_HEX - 6;
	pv = h - HASH_HEX - 6;
	if (memcmp(pv, " prev=", 6))
		return -EBADMSG;
	if (!memcmp(h, " hmac=", 6))
		r->keyed = true;
	else if (memcmp(h, " hash=", 6))
		return -EBADMSG;
	memcpy(r->mac, h + 6, HASH_HEX);
	memcpy(r->prev, pv + 6, HASH_HEX);
	if (line[0] < '1' || line[0] > '9')
		return -EBADMSG;
	errno = 0;
	r->seq = strtoul(line, &end, 10);
	if (errno || *end != ' ')
		return -EBADMSG;
	/* SEQ TIME EVENT: the event is the third word. */
	ev = memchr(end + 1, ' ', (size_t)(pv - end - 1));
	if (!ev)
		return -EBADMSG;
	ev++;
	sp = memchr(ev, ' ', (size_t)(pv + 1 - ev));
	if (!sp || (size_t)(sp - ev) >= sizeof(r->event))
		return -EBADMSG;
	memcpy(r->event, ev, (size_t)(sp - ev));
	if (r->keyed && !key) {
		*why = "keyed record, but the key is missing: cannot check it";
		return -EBADMSG;
	}
	ret = r->keyed ? hmac_hex(key, line, (size_t)(h - line), calc) :
			 sha256_hex(line, (size_t)(h - line), calc);
	if (ret)
		return ret;
	if (!secmem_is_equal(calc, r->mac, HASH_HEX)) {
		*why = r->keyed ? "HMAC does not match the record: edited or rewritten" :
				  "record hash does not match its contents";
		return -EBADMSG;
	}
	return 0;
}

/*
 * Find the chain head: the last line of the file. Reads at most one
 * record's worth from the end. torn is set if the file does not end in
 * '\n' (a crash mid-write, or tampering). A last line that does not check
 * is chained on from its raw bytes (verify reports it).
 */
static int read_tail(int fd, off_t size, const uint8_t *key,
		     struct audit_rec *last, bool *torn)
{
	char buf[AUDIT_RECORD_MAX + 2];
	size_t n, start, end;
	ssize_t got;
	const char *why;
	off_t from;

	memset(last, 0, sizeof(*last));
	memset(last->mac, '0', HASH_HEX);
	*torn = false;
	if (size == 0)
		return 0;
	n = size > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)size;
	from = size - (off_t)n;
	got = pread(fd, buf, n, from);
	if (got != (ssize_t)n)
		return got < 0 ? -errno : -EIO;
	end = n;
	if (buf[end - 1] == '\n')
		end--;
	else
		*torn = true;
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (rec_check(buf + start, end - start, key, last, &why)) {
		unsigned long seq = strtoul(buf + start, NULL, 10);

		memset(last, 0, sizeof(*last));
		last->seq = seq;
		last->keyed = true;
		return sha256_hex(buf + start, end - start, last->mac);
	}
	return 0;
}

/* ---- the anchor: "bgw-audit-anchor 1 SEQ HEAD KEYED-FROM HMAC\n" ---------- */

struct anchor {
	unsigned long seq;		/* records in the log */
	unsigned long keyed_from;	/* the first keyed record */
	char head[HASH_HEX + 1];	/* record seq's MAC */
};

/* 0, -ENOENT, -EBADMSG (malformed, or its HMAC does not match), -errno. */
static int anchor_read(const char *path, const uint8_t *key, struct anchor *a)
{
	char buf[256], body[200], mac[HASH_HEX + 1], calc[HASH_HEX + 1];
	int fd, n, used = 0;
	ssize_t got;

	memset(a, 0, sizeof(*a));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got < 0)
		return -EIO;
	buf[got] = '\0';
	n = sscanf(buf, ANCHOR_MAGIC " %lu %64[0-9a-f] %lu %64[0-9a-f]\n%n",
		   &a->seq, a->head, &a->keyed_from, mac, &used);
	if (n != 4 || used != (int)got || strlen(a->head) != HASH_HEX ||
	    strlen(mac) != HASH_HEX || !key)
		return -EBADMSG;
	snprintf(body, sizeof(body), ANCHOR_MAGIC " %lu %s %lu", a->seq, a->head,
		 a->keyed_from);
	if (hmac_hex(key, body, strlen(body), calc))
		return -EIO;
	return secmem_is_equal(calc, mac, HASH_HEX) ? 0 : -EBADMSG;
}

/* Replace the anchor atomically: temp file, fsync, rename, fsync dir. */
static int anchor_write(const char *path, const uint8_t *key, const struct anchor *a)
{
	char tmp[PATH_MAX], dir[PATH_MAX], body[200], line[300], mac[HASH_HEX + 1];
	int fd, dfd, ret;
	size_t len;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(body, sizeof(body), ANCHOR_MAGIC " %lu %s %lu", a->seq, a->head,
		 a->keyed_from);
	ret = hmac_hex(key, body, strlen(body), mac);
	if (ret)
		return ret;
	len = (size_t)snprintf(line, sizeof(line), "%s %s\n", body, mac);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) < 0) {
		ret = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return ret;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = dfd < 0 || fsync(dfd) < 0 ? -errno : 0;
	if (dfd >= 0)
		close(dfd);
	return ret;
}

/*
 * With the key comes the anchor: a new log, or a legacy one (its tail
 * unkeyed) being taken over, is anchored at once, so that from now on a
 * missing anchor next to the key is always a deletion. A keyed tail
 * without an anchor is left for the next append to report.
 */
static int anchor_init(struct audit_log *log)
{
	struct audit_rec last;
	struct anchor a;
	struct stat st;
	bool torn;
	int ret;

	if (access(log->anchor_path, F_OK) == 0 || errno != ENOENT)
		return 0;
	while (flock(log->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	ret = fstat(log->fd, &st) < 0 ? -errno :
	      read_tail(log->fd, st.st_size, log->key, &last, &torn);
	if (!ret && access(log->anchor_path, F_OK) < 0 && errno == ENOENT &&
	    !(last.seq > 0 && last.keyed)) {
		memset(&a, 0, sizeof(a));
		a.seq = last.seq;
		a.keyed_from = last.seq + 1;
		memcpy(a.head, last.mac, HASH_HEX);
		ret = anchor_write(log->anchor_path, log->key, &a);
	}
	flock(log->fd, LOCK_UN);
	return ret;
}

/* ---- appending -------------------------------------------------------- */

/* Write one keyed record after *last (under the lock); *last becomes it. */
static int write_record(struct audit_log *log, enum audit_event ev,
			const struct audit_fields *f, bool torn,
			struct audit_rec *last)
{
	char line[AUDIT_RECORD_MAX + 2], ts[32], num[24];
	struct stat st;
	struct tm tm;
	time_t now;
	size_t o, start;
	ssize_t w;
	int ret;

	now = f->time ? f->time : time(NULL);
	if (!gmtime_r(&now, &tm) || !strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;
	if (fstat(log->fd, &st) < 0)
		return -errno;
	o = 0;
	if (torn)
		line[o++] = '\n';
	start = o;
	ret = snprintf(line + o, sizeof(line) - o, "%lu %s %s", last->seq + 1, ts,
		       audit_event_name(ev));
	o += (size_t)ret;
	ret = 0;
	if (f->user)
		ret = put_field(line, sizeof(line), &o, "user", f->user);
	if (!ret && f->src)
		ret = put_field(line, sizeof(line), &o, "src", f->src);
	if (!ret && f->rd)
		ret = put_field(line, sizeof(line), &o, "rd", f->rd);
	if (!ret && f->uid >= 0) {
		snprintf(num, sizeof(num), "%ld", f->uid);
		ret = put_field(line, sizeof(line), &o, "uid", num);
	}
	if (!ret && f->detail)
		ret = put_field(line, sizeof(line), &o, "detail", f->detail);
	if (ret)
		return ret;
	if (o + 2 * (HASH_HEX + 6) + 1 >= sizeof(line))
		return -ENOSPC;
	memcpy(line + o, " prev=", 6);
	memcpy(line + o + 6, last->mac, HASH_HEX);
	o += HASH_HEX + 6;
	memcpy(line + o, " hmac=", 6);
	ret = hmac_hex(log->key, line + start, o - start, line + o + 6);
	if (ret)
		return ret;
	memcpy(last->prev, last->mac, sizeof(last->prev));
	memcpy(last->mac, line + o + 6, HASH_HEX);
	last->seq++;
	last->keyed = true;
	o += HASH_HEX + 6;
	line[o++] = '\n';

	w = write(log->fd, line, o);
	if (w != (ssize_t)o) {
		ret = w < 0 ? -errno : -ENOSPC;
		/* Never leave half a record: roll back to where we were. */
		if (ftruncate(log->fd, st.st_size) < 0)
			log_err("audit: %s: cannot roll back a short write: %m",
				log->path);
		return ret;
	}
	return fdatasync(log->fd) < 0 ? -errno : 0;
}

static int append_one(struct audit_log *log, enum audit_event ev,
		      const struct audit_fields *f)
{
	static const struct audit_fields none = { .uid = -1 };
	char detail[AUDIT_VALUE_MAX];
	struct audit_rec last;
	struct anchor a;
	struct stat st;
	bool torn;
	int ret, ar;

	if (!log || !audit_event_name(ev))
		return -EINVAL;
	if (!f)
		f = &none;
	while (flock(log->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	if (fstat(log->fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = read_tail(log->fd, st.st_size, log->key, &last, &torn);
	if (ret)
		goto out;
	/*
	 * Does the log still end where its anchor says? If not, someone
	 * removed or rewrote records since the last writer: say so in the
	 * chain before the anchor moves on. A log one or more records past
	 * its anchor is a crash between the two writes, not a tamper.
	 */
	detail[0] = '\0';
	ar = anchor_read(log->anchor_path, log->key, &a);
	if (ar == 0 && (last.seq < a.seq ||
			(last.seq == a.seq && !secmem_is_equal(last.mac, a.head, HASH_HEX))))
		snprintf(detail, sizeof(detail),
			 "log ended at record %lu, its anchor counted %lu records "
			 "(head %.16s...): records removed or rewritten", last.seq,
			 a.seq, a.head);
	else if (ar == -EBADMSG)
		snprintf(detail, sizeof(detail), "anchor %.150s: its HMAC does not match",
			 log->anchor_path);
	else if (ar == -ENOENT && last.seq > 0 && last.keyed)
		snprintf(detail, sizeof(detail), "anchor %.150s missing (deleted?)",
			 log->anchor_path);
	if (ar != 0) {
		/* Keying begins after the legacy records (or is unknown). */
		a.keyed_from = last.keyed && last.seq ? last.seq : last.seq + 1;
	}
	if (detail[0]) {
		struct audit_fields mf = { .uid = -1, .detail = detail };

		ret = write_record(log, AUDIT_ANCHOR_MISMATCH, &mf, torn, &last);
		if (ret)
			goto out;
		torn = false;
	}
	ret = write_record(log, ev, f, torn, &last);
	if (ret)
		goto out;
	log->head_seq = last.seq;
	memcpy(log->head, last.mac, HASH_HEX);
	log->head[HASH_HEX] = '\0';
	a.seq = last.seq;
	memcpy(a.head, last.mac, sizeof(a.head));
	a.head[HASH_HEX] = '\0';
	ar = anchor_write(log->anchor_path, log->key, &a);
	if (ar)
		/* The record is written; verify will see the stale anchor. */
		log_err("audit: anchor %s: %s", log->anchor_path, strerror(-ar));
out:
	flock(log->fd, LOCK_UN);
	return ret;
}

int audit_append(struct audit_log *log, enum audit_event ev,
		 const struct audit_fields *f)
{
	int ret;

	if (!log || !audit_event_name(ev))
		return -EINVAL;
	if (log->lost) {
		struct audit_fields gap = { .uid = -1 };
		char detail[128], since[32];
		struct tm tm;

		if (!gmtime_r(&log->lost_since, &tm) ||
		    !strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm))
			snprintf(since, sizeof(since), "?");
		snprintf(detail, sizeof(detail), "%lu records not written since %s: %s",
			 log->lost, since, strerror(log->lost_err));
		gap.detail = detail;
		ret = append_one(log, AUDIT_LOST, &gap);
		if (ret < 0) {
			log->lost++;
			return ret;
		}
		log->lost = 0;
	}
	ret = append_one(log, ev, f);
	/* Bad arguments are the caller's bug, not a record the log lost. */
	if (ret < 0 && ret != -EINVAL) {
		if (!log->lost++) {
			log->lost_since = time(NULL);
			log->lost_err = -ret;
		}
	}
	return ret;
}

/* ---- verifying -------------------------------------------------------- */

static int bad(struct audit_report *rep, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct audit_report *rep, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	rep->bad_line = line;
	va_start(ap, fmt);
	vsnprintf(rep->why, sizeof(rep->why), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int audit_verify(const char *path, const struct audit_expect *expect,
		 struct audit_report *rep)
{
	char line[AUDIT_RECORD_MAX + 2], prev[HASH_HEX + 1];
	char key_path[PATH_MAX], anchor_path[PATH_MAX];
	uint8_t keybuf[AUDIT_KEY_LEN], *key = NULL;
	struct audit_rec r;
	struct anchor a;
	const char *w = NULL;
	unsigned long lineno = 0, seq = 0;
	bool keyed_seen = false, have_anchor = false;
	size_t len = 0;
	int c, ret = 0, ar;
	FILE *fp = NULL;

	if (!path || !rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	memset(prev, '0', HASH_HEX);
	prev[HASH_HEX] = '\0';
	ret = audit_side_paths(path, key_path, sizeof(key_path), anchor_path,
			       sizeof(anchor_path));
	if (ret)
		return ret;
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	ret = key_load(key_path, false, keybuf);
	if (ret == 0)
		key = keybuf;
	else if (ret != -ENOENT)
		goto out;
	ret = 0;
	ar = anchor_read(anchor_path, key, &a);
	if (ar == -EBADMSG && !key) {
		ret = bad(rep, 0, "the key %s is missing: neither the anchor %s nor "
			  "keyed records can be checked", key_path, anchor_path);
		goto out;
	}
	if (ar == -EBADMSG) {
		ret = bad(rep, 0, "anchor %s is malformed or its HMAC does not match "
			  "(forged, or the key %s changed)", anchor_path, key_path);
		goto out;
	}
	if (ar && ar != -ENOENT) {
		ret = ar;
		goto out;
	}
	have_anchor = ar == 0;
	if (have_anchor)
		rep->anchor_seq = a.seq;
	/* Byte by byte: a line longer than a record is an error, not split. */
	for (;;) {
		c = getc(fp);
		if (c == EOF && len == 0)
			break;
		if (c != EOF && c != '\n') {
			if (len > AUDIT_RECORD_MAX) {
				ret = bad(rep, lineno + 1, "record too long");
				goto out;
			}
			line[len++] = (char)c;
			continue;
		}
		lineno++;
		if (c == EOF) {
			ret = bad(rep, lineno, "last record has no newline "
				  "(torn write or truncation)");
			goto out;
		}
		ret = rec_check(line, len, key, &r, &w);
		if (ret == -EBADMSG && r.keyed && !key)
			ret = bad(rep, lineno, "keyed record, but the key %s is missing: "
				  "cannot check it", key_path);
		else if (ret == -EBADMSG)
			ret = bad(rep, lineno, "%s", w);
		if (ret)
			goto out;
		if (r.seq != seq + 1) {
			ret = bad(rep, lineno, "sequence number out of order "
				  "(record removed or inserted)");
			goto out;
		}
		if (!secmem_is_equal(r.prev, prev, HASH_HEX)) {
			ret = bad(rep, lineno, "previous-MAC does not match the record before");
			goto out;
		}
		if (!r.keyed && (keyed_seen || (have_anchor && r.seq >= a.keyed_from))) {
			ret = bad(rep, lineno, "unkeyed record where the log is keyed "
				  "(from record %lu): rewritten without the key",
				  keyed_seen ? seq : a.keyed_from);
			goto out;
		}
		if (r.keyed)
			keyed_seen = true;
		else
			rep->legacy++;
		if (have_anchor && r.seq == a.seq && !secmem_is_equal(r.mac, a.head, HASH_HEX)) {
			ret = bad(rep, lineno, "record %lu is not the one the anchor %s "
				  "names: rewritten", r.seq, anchor_path);
			goto out;
		}
		if (expect && r.seq == expect->seq && !secmem_is_equal(r.mac, expect->head, HASH_HEX)) {
			ret = bad(rep, lineno, "record %lu is not the one the given head "
				  "names: rewritten", r.seq);
			goto out;
		}
		if (!strcmp(r.event, audit_event_name(AUDIT_ANCHOR_MISMATCH))) {
			ret = bad(rep, lineno, "a writer found the log altered before this "
				  "record (see its detail): records were removed or "
				  "rewritten");
			goto out;
		}
		seq = r.seq;
		memcpy(prev, r.mac, sizeof(prev));
		len = 0;
	}
	if (ferror(fp)) {
		ret = -EIO;
		goto out;
	}
	if (have_anchor && seq < a.seq) {
		ret = bad(rep, seq + 1, "the log ends at record %lu, but its anchor %s "
			  "counts %lu: records %lu to %lu were removed (truncated)",
			  seq, anchor_path, a.seq, seq + 1, a.seq);
		goto out;
	}
	if (expect && seq < expect->seq) {
		ret = bad(rep, seq + 1, "the log ends at record %lu, but the given "
			  "head is record %lu: records %lu to %lu were removed "
			  "(truncated)", seq, expect->seq, seq + 1, expect->seq);
		goto out;
	}
	/* Since the key exists, the anchor does (anchor_init). */
	if (!have_anchor && (keyed_seen || (key && seq > 0))) {
		ret = bad(rep, 0, "the anchor %s is missing (deleted?): records "
			  "removed from the end could not be seen", anchor_path);
		goto out;
	}
	if (have_anchor)
		rep->after_anchor = seq - a.seq;
	ret = 0;
out:
	if (fp)
		fclose(fp);
	explicit_bzero(keybuf, sizeof(keybuf));
	rep->nrecords = seq;
	memcpy(rep->head, prev, sizeof(rep->head));
	return ret;
}
