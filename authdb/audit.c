/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "log.h"

#define HASH_HEX 64

struct audit_log {
	int fd;
	char *path;
	unsigned long lost;	/* records not written since lost_since */
	time_t lost_since;
	int lost_err;		/* the first failure's errno */
};

static const char *const event_names[] = {
	[AUDIT_LOGIN_OK] = "login-ok",
	[AUDIT_LOGIN_FAIL] = "login-fail",
	[AUDIT_LOGIN_LIMITED] = "login-limited",
	[AUDIT_SESSION_END] = "session-end",
	[AUDIT_ACL_DENY] = "acl-deny",
	[AUDIT_AUTHDB_CHANGE] = "authdb-change",
	[AUDIT_AUTHDB_RELOAD] = "authdb-reload",
	[AUDIT_LOST] = "audit-lost",
};

const char *audit_event_name(enum audit_event ev)
{
	if ((unsigned)ev >= sizeof(event_names) / sizeof(event_names[0]))
		return NULL;
	return event_names[ev];
}

static int sha256_hex(const void *p, size_t n, char out[HASH_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t d[32];
	int i;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, d))
		return -EIO;
	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[HASH_HEX] = '\0';
	return 0;
}

int audit_open(const char *path, struct audit_log **out)
{
	struct audit_log *log;
	struct stat st;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->path = strdup(path);
	log->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		       0600);
	if (!log->path || log->fd < 0) {
		int e = log->path ? -errno : -ENOMEM;

		audit_close(log);
		return e;
	}
	if (fstat(log->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		audit_close(log);
		return -EPERM;
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
	free(log->path);
	free(log);
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
	char prev[HASH_HEX + 1];
	char hash[HASH_HEX + 1];
};

/*
 * Parse the chain fields of one line (without '\n') and check its inner
 * hash. Returns 0 or -EBADMSG with *why.
 */
static int rec_check(const char *line, size_t len, struct audit_rec *r,
		     const char **why)
{
	char calc[HASH_HEX + 1], *end;
	const char *h, *pv;
	size_t i;

	*why = "malformed record";
	if (len < 2 * (HASH_HEX + 6) || len > AUDIT_RECORD_MAX)
		return -EBADMSG;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return -EBADMSG;
	h = line + len - HASH_HEX - 6;
	pv = h - HASH_HEX - 6;
	if (memcmp(h, " hash=", 6) || memcmp(pv, " prev=", 6))
		return -EBADMSG;
	memcpy(r->hash, h + 6, HASH_HEX);
	r->hash[HASH_HEX] = '\0';
	memcpy(r->prev, pv + 6, HASH_HEX);
	r->prev[HASH_HEX] = '\0';
	if (line[0] < '1' || line[0] > '9')
		return -EBADMSG;
	errno = 0;
	r->seq = strtoul(line, &end, 10);
	if (errno || *end != ' ')
		return -EBADMSG;
	if (sha256_hex(line, (size_t)(h - line), calc))
		return -EIO;
	if (strcmp(calc, r->hash)) {
		*why = "record hash does not match its contents";
		return -EBADMSG;
	}
	return 0;
}

/*
 * Find the chain head: the last line of the file. Reads at most one
 * record's worth from the end. torn is set if the file does not end in
 * '\n' (a crash mid-write, or tampering).
 */
static int read_tail(int fd, off_t size, struct audit_rec *last, bool *torn)
{
	char buf[AUDIT_RECORD_MAX + 2];
	size_t n, start, end;
	ssize_t got;
	const char *why;
	off_t from;

	memset(last, 0, sizeof(*last));
	memset(last->hash, '0', HASH_HEX);
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
	if (rec_check(buf + start, end - start, last, &why)) {
		/* Chain on from the raw bytes; verify reports this line. */
		unsigned long seq = strtoul(buf + start, NULL, 10);

		memset(last, 0, sizeof(*last));
		last->seq = seq;
		return sha256_hex(buf + start, end - start, last->hash);
	}
	return 0;
}

static int append_one(struct audit_log *log, enum audit_event ev,
		      const struct audit_fields *f)
{
	static const struct audit_fields none = { .uid = -1 };
	char line[AUDIT_RECORD_MAX + 2], ts[32], num[24];
	struct audit_rec last;
	struct stat st;
	struct tm tm;
	time_t now;
	size_t o;
	ssize_t w;
	bool torn, locked = false;
	int ret;

	if (!log || !audit_event_name(ev))
		return -EINVAL;
	if (!f)
		f = &none;
	now = f->time ? f->time : time(NULL);
	if (!gmtime_r(&now, &tm) || !strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;

	while (flock(log->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	locked = true;
	if (fstat(log->fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = read_tail(log->fd, st.st_size, &last, &torn);
	if (ret)
		goto out;
	o = 0;
	if (torn)
		line[o++] = '\n';
	ret = snprintf(line + o, sizeof(line) - o, "%lu %s %s", last.seq + 1, ts,
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
		goto out;
	ret = -ENOSPC;
	if (o + 2 * (HASH_HEX + 6) + 1 >= sizeof(line))
		goto out;
	memcpy(line + o, " prev=", 6);
	memcpy(line + o + 6, last.hash, HASH_HEX);
	o += HASH_HEX + 6;
	memcpy(line + o, " hash=", 6);
	ret = sha256_hex(line + (torn ? 1 : 0), o - (torn ? 1 : 0), line + o + 6);
	if (ret)
		goto out;
	o += HASH_HEX + 6;
	line[o++] = '\n';

	w = write(log->fd, line, o);
	if (w != (ssize_t)o) {
		ret = w < 0 ? -errno : -ENOSPC;
		/* Never leave half a record: roll back to where we were. */
		if (ftruncate(log->fd, st.st_size) < 0)
			log_err("audit: %s: cannot roll back a short write: %m",
				log->path);
		goto out;
	}
	ret = fdatasync(log->fd) < 0 ? -errno : 0;
out:
	if (locked)
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

int audit_verify(const char *path, unsigned long *nrecords,
		 unsigned long *bad_line, char *why, size_t whylen,
		 char *last_hash)
{
	char line[AUDIT_RECORD_MAX + 2], prev[HASH_HEX + 1];
	struct audit_rec r;
	const char *w = NULL;
	unsigned long lineno = 0, seq = 0;
	size_t len = 0;
	int c, ret = 0;
	FILE *fp;

	if (bad_line)
		*bad_line = 0;
	if (nrecords)
		*nrecords = 0;
	if (why && whylen)
		why[0] = '\0';
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	memset(prev, '0', HASH_HEX);
	prev[HASH_HEX] = '\0';
	/* Byte by byte: a line longer than a record is an error, not split. */
	for (;;) {
		c = getc(fp);
		if (c == EOF && len == 0)
			break;
		if (c != EOF && c != '\n') {
			if (len > AUDIT_RECORD_MAX) {
				lineno++;
				w = "record too long";
				ret = -EBADMSG;
				break;
			}
			line[len++] = (char)c;
			continue;
		}
		lineno++;
		if (c == EOF) {
			w = "last record has no newline (torn write or truncation)";
			ret = -EBADMSG;
			break;
		}
		ret = rec_check(line, len, &r, &w);
		if (!ret && r.seq != seq + 1) {
			w = "sequence number out of order (record removed or inserted)";
			ret = -EBADMSG;
		}
		if (!ret && strcmp(r.prev, prev)) {
			w = "previous-hash does not match the record before";
			ret = -EBADMSG;
		}
		if (ret)
			break;
		seq = r.seq;
		memcpy(prev, r.hash, sizeof(prev));
		len = 0;
	}
	if (ferror(fp) && !ret)
		ret = -EIO;
	fclose(fp);
	if (ret == -EBADMSG) {
		if (bad_line)
			*bad_line = lineno;
		if (why && whylen)
			snprintf(why, whylen, "%s", w);
	}
	if (nrecords)
		*nrecords = seq;
	if (last_hash)
		memcpy(last_hash, prev, HASH_HEX + 1);
	return ret;
}
