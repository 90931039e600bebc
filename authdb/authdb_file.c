/* SPDX-License-Identifier: MIT */
/*
 * The authdb's file: load (owner and mode checked, then parsed), the
 * server secret, and the writer (lock, temporary file, fsync, rename).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "authdb.h"
#include "authdb_int.h"
#include "log.h"

static void (*authdb_fault_hook)(int step);

int authdb_load(const char *path, uid_t owner, struct authdb **out,
		char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = -EPERM;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* The file decides who may use the gateway: refuse one that
	 * someone other than root (or the daemon's user) could have
	 * written. */
	if (!S_ISREG(st.st_mode)) {
		if (err)
			snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != owner) {
		if (err)
			snprintf(err, errlen, "%s: owned by uid %u, not root%s",
				 path, (unsigned)st.st_uid,
				 owner ? " or the daemon's user" : "");
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		if (err)
			snprintf(err, errlen,
				 "%s: group- or world-writable (mode %03o); run: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	/*
	 * The password lines are SCRAM verifiers: whoever reads them can
	 * guess passwords offline at PBKDF2's cost. Refuse a file others
	 * can read, as sshd refuses a host key others can (it may have
	 * been copied already: change the passwords too).
	 */
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		if (err)
			snprintf(err, errlen,
				 "%s: readable by group or others (mode %03o), but it holds "
				 "password verifiers; run: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	if ((uint64_t)st.st_size > AUTHDB_FILE_MAX) {
		ret = -EFBIG;
		if (err)
			snprintf(err, errlen, "%s: larger than %u bytes", path,
				 AUTHDB_FILE_MAX);
		goto out;
	}
	ret = -ENOMEM;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	for (;;) {
		/* One byte more than fstat said: a file that grew meanwhile
		 * is seen, not silently cut. */
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			if (err)
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			ret = -EAGAIN;
			if (err)
				snprintf(err, errlen, "%s: changed while being read",
					 path);
			goto out;
		}
	}
	ret = authdb_parse_buffer(path, buf, len, out, err, errlen);
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return ret;
}

int authdb_secret_load(const char *path, uint8_t *secret, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd, ret, tries;

	if (!path || !secret || len < 16 || len > 256)
		return -EINVAL;
	/* Two rounds at most: create, or lose the creation race and read. */
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT)
			return -errno;
		if (gnutls_rnd(GNUTLS_RND_KEY, secret, len))
			return -EIO;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd < 0 && errno == ENOENT) {
			/* A fresh state directory: make it (one level). */
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%s", path);
			if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST)
				return -errno;
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				  O_CLOEXEC, 0600);
		}
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		n = write(fd, secret, len);
		ret = n == (ssize_t)len && fsync(fd) == 0 ? 0 : -EIO;
		close(fd);
		if (ret) {
			unlink(path);
			explicit_bzero(secret, len);
		}
		return ret;
	}
	if (fd < 0)
		return -ENOENT;
	ret = -EPERM;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 077)) {
		log_err("%s: must be a regular file of root's, mode 0600", path);
		goto out;
	}
	n = read(fd, secret, len);
	if (n != (ssize_t)len || st.st_size != (off_t)len) {
		log_err("%s: must hold exactly %zu bytes", path, len);
		explicit_bzero(secret, len);
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* ---- writer ----------------------------------------------------------- */

int authdb_serialize(const struct authdb *db, char **buf, size_t *len)
{
	size_t i, total = 0, o = 0, l;
	char *b;

	if (!db || !buf || !len)
		return -EINVAL;
	for (i = 0; i < db->n; i++)
		total += strlen(db->recs[i]->text) + 1;
	if (total > AUTHDB_FILE_MAX)
		return -EFBIG;
	b = malloc(total + 1);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < db->n; i++) {
		l = strlen(db->recs[i]->text);
		memcpy(b + o, db->recs[i]->text, l);
		o += l;
		b[o++] = '\n';
	}
	b[o] = '\0';
	*buf = b;
	*len = o;
	return 0;
}

void authdb_set_fault_hook(void (*hook)(int step))
{
	authdb_fault_hook = hook;
}

static void fault_step(int *step)
{
	(*step)++;
	if (authdb_fault_hook)
		authdb_fault_hook(*step);
}

int authdb_lock(const char *path)
{
	char lp[PATH_MAX];
	int fd;

	if (snprintf(lp, sizeof(lp), "%s.lock", path) >= (int)sizeof(lp))
		return -ENAMETOOLONG;
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = -errno;

			close(fd);
			return e;
		}
	}
	return fd;
}

void authdb_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

static int write_all(int fd, const char *p, size_t n, int *step)
{
	ssize_t w;

	while (n) {
		/* Small chunks: more places for the crash test to stop. */
		fault_step(step);
		w = write(fd, p, n < 512 ? n : 512);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int authdb_save(const struct authdb *db, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], err[AUTHDB_ERR_MAX];
	struct authdb *check = NULL;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	mode_t mode = 0600;
	int fd = -1, dfd = -1, ret, step = 0;
	bool have_old;

	if (!db || !path)
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	ret = authdb_serialize(db, &buf, &len);
	if (ret)
		return ret;
	/* Never publish what the reader would refuse. */
	ret = authdb_parse_buffer(path, buf, len, &check, err, sizeof(err));
	authdb_free(check);
	if (ret) {
		log_err("refusing to write %s: %s", path, err);
		goto out;
	}
	have_old = lstat(path, &st) == 0;
	if (have_old)
		mode = st.st_mode & 0600;	/* never g/o readable or writable */

	fault_step(&step);
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, buf, len, &step);
	if (ret)
		goto out_unlink;
	fault_step(&step);
	if (fsync(fd) < 0 ||
	    (have_old && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) ||
	    fchmod(fd, mode) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	fault_step(&step);
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out_unlink;
	}
	fd = -1;
	fault_step(&step);
	if (rename(tmp, path) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	/* The rename is durable only once the directory is synced. */
	fault_step(&step);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return ret;
}
