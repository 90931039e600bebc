/* SPDX-License-Identifier: MIT */
/*
 * The FUSE exposure: a small file system mounted at DIR,
 *
 *   hci          the H4 packet file (cdclient/pktfile.h), mode 0600
 *   session      the upstream: server, user, round-trip time, bytes
 *   devices      the remote devices seen so far (status.h)
 *   connections  the open connection handles
 *
 * The status files are read-only (0444) snapshots taken at open(), so a
 * reader sees one consistent view however it reads. Like the CUSE device
 * the session fd is served by our own epoll loop. Mounting needs what FUSE
 * needs: root, or fusermount3 for an ordinary user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pktfile.h"
#include "expose.h"
#include "log.h"

#define FUSEFS_BURST		32
/* Status snapshots open at once: each one is memory a reader makes us hold. */
#define FUSEFS_MAX_SNAPSHOTS	64

enum {
	INO_ROOT = FUSE_ROOT_ID,
	INO_HCI,
	INO_SESSION,
	INO_DEVICES,
	INO_CONNECTIONS,
	INO_END,
};

static const struct {
	const char *name;
	mode_t mode;
} fusefs_files[INO_END] = {
	[INO_ROOT] = { ".", S_IFDIR | 0555 },
	[INO_HCI] = { "hci", S_IFREG | 0600 },
	[INO_SESSION] = { "session", S_IFREG | 0444 },
	[INO_DEVICES] = { "devices", S_IFREG | 0444 },
	[INO_CONNECTIONS] = { "connections", S_IFREG | 0444 },
};

struct snapshot {
	struct snapshot *next;	/* all open ones, freed at unmount */
	struct snapshot **pprev;
	char *buf;
	size_t len;
};

struct cd_fusefs {
	struct loop *loop;
	struct cd_hub *hub;
	struct fuse_session *se;
	int fd;
	bool mounted;
	struct cd_pktfile *pf;
	struct fuse_buf fbuf;
	char *dir;
	uid_t uid;
	gid_t gid;
	time_t mtime;
	unsigned int nsnap;
	struct snapshot *snaps;
};

static struct cd_fusefs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static bool ino_ok(fuse_ino_t ino)
{
	return ino >= INO_ROOT && ino < INO_END;
}

static void fill_attr(const struct cd_fusefs *x, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = fusefs_files[ino].mode;
	st->st_nlink = ino == INO_ROOT ? 2 : 1;
	st->st_uid = x->uid;
	st->st_gid = x->gid;
	st->st_atime = st->st_mtime = st->st_ctime = x->mtime;
	/* Sizes are 0: content is made at open(), reads go to EOF (direct_io). */
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cd_fusefs *x = fs_of(req);
	struct fuse_entry_param e;
	fuse_ino_t ino;

	if (parent != INO_ROOT) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (ino = INO_HCI; ino < INO_END; ino++) {
		if (strcmp(name, fusefs_files[ino].name))
			continue;
		memset(&e, 0, sizeof(e));
		e.ino = ino;
		e.attr_timeout = 1.0;
		e.entry_timeout = 1.0;
		fill_attr(x, ino, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (!ino_ok(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(fs_of(req), ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

/* Only "> hci" (O_TRUNC, size 0) is accepted, as a no-op; nothing else. */
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct stat st;

	if (ino != INO_HCI || to_set != FUSE_SET_ATTR_SIZE || attr->st_size) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fill_attr(fs_of(req), ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	static const char *const names[] = {
		".", "..", "hci", "session", "devices", "connections",
	};
	static const fuse_ino_t inos[] = {
		INO_ROOT, INO_ROOT, INO_HCI, INO_SESSION, INO_DEVICES,
		INO_CONNECTIONS,
	};
	struct cd_fusefs *x = fs_of(req);
	char buf[1024];
	size_t used = 0, need, i;
	struct stat st;

	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (i = off < 0 ? 0 : (size_t)off; i < sizeof(names) / sizeof(names[0]); i++) {
		fill_attr(x, inos[i], &st);
		need = fuse_add_direntry(req, buf + used, size - used, names[i],
					 &st, (off_t)(i + 1));
		if (need > size - used)
			break;	/* the kernel asks again from this offset */
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static int snapshot_make(struct cd_fusefs *x, fuse_ino_t ino, struct snapshot **out)
{
	const struct cd_status *s = cd_hub_status(x->hub);
	struct snapshot *sn;
	int err;

	if (x->nsnap >= FUSEFS_MAX_SNAPSHOTS)
		return -EMFILE;
	sn = calloc(1, sizeof(*sn));
	if (!sn)
		return -ENOMEM;
	switch (ino) {
	case INO_SESSION:
		err = cd_hub_render_session(x->hub, &sn->buf, &sn->len);
		break;
	case INO_DEVICES:
		err = cd_status_render_devices(s, &sn->buf, &sn->len);
		break;
	default:
		err = cd_status_render_connections(s, &sn->buf, &sn->len);
		break;
	}
	if (err) {
		free(sn);
		return err;
	}
	x->nsnap++;
	sn->next = x->snaps;
	if (sn->next)
		sn->next->pprev = &sn->next;
	sn->pprev = &x->snaps;
	x->snaps = sn;
	*out = sn;
	return 0;
}

static void snapshot_free(struct cd_fusefs *x, struct snapshot *sn)
{
	*sn->pprev = sn->next;
	if (sn->next)
		sn->next->pprev = sn->pprev;
	x->nsnap--;
	free(sn->buf);
	free(sn);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cd_fusefs *x = fs_of(req);
	struct snapshot *sn;
	int err;

	if (ino == INO_HCI) {
		cd_pktfile_open(x->pf, req, fi);
		return;
	}
	if (ino == INO_ROOT || !ino_ok(ino)) {
		fuse_reply_err(req, ino == INO_ROOT ? EISDIR : ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	err = snapshot_make(x, ino, &sn);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)sn;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0)
		snapshot_free(x, sn);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct snapshot *sn;

	if (ino == INO_HCI) {
		cd_pktfile_read(fs_of(req)->pf, req, size, fi);
		return;
	}
	sn = (struct snapshot *)(uintptr_t)fi->fh;
	if (!sn || off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((uint64_t)off >= sn->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > sn->len - (size_t)off)
		size = sn->len - (size_t)off;
	fuse_reply_buf(req, sn->buf + off, size);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	if (ino != INO_HCI) {
		fuse_reply_err(req, EBADF);
		return;
	}
	cd_pktfile_write(fs_of(req)->pf, req, buf, size, fi);
}

static void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	if (ino == INO_HCI) {
		cd_pktfile_poll(fs_of(req)->pf, req, fi, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cd_fusefs *x = fs_of(req);
	struct snapshot *sn;

	if (ino == INO_HCI) {
		cd_pktfile_release(x->pf, req, fi);
		return;
	}
	sn = (struct snapshot *)(uintptr_t)fi->fh;
	if (sn)
		snapshot_free(x, sn);
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops fusefs_ops = {
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.poll = fs_poll,
	.release = fs_release,
};

static void fusefs_fatal(struct cd_fusefs *x, const char *why)
{
	log_err("fuse: %s: %s; shutting down", x->dir, why);
	if (x->fd >= 0) {
		loop_del_fd(x->loop, x->fd);
		x->fd = -1;
	}
	loop_quit(x->loop, 1);
}

static void fusefs_on_fd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct cd_fusefs *x = user;
	int i, res;

	for (i = 0; i < FUSEFS_BURST; i++) {
		res = fuse_session_receive_buf(x->se, &x->fbuf);
		if (res == -EINTR || res == -EAGAIN)
			return;
		if (res <= 0) {
			x->mounted = false;	/* unmounted from outside */
			fusefs_fatal(x, res ? strerror(-res) : "unmounted");
			return;
		}
		fuse_session_process_buf(x->se, &x->fbuf);
		if (fuse_session_exited(x->se)) {
			fusefs_fatal(x, "session ended");
			return;
		}
	}
}

int cd_fusefs_open(struct cd_fusefs **out, struct loop *l, struct cd_hub *h,
		   const char *dir)
{
	char a0[] = "bgw-cdclient", a1[] = "-o";
	char a2[] = "default_permissions,fsname=bgw-cdclient,subtype=bgw";
	char *argv[] = { a0, a1, a2, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	char pfname[PATH_MAX + 16];
	struct cd_fusefs *x;
	struct stat st;
	int err, flags;

	*out = NULL;
	if (stat(dir, &st) < 0) {
		log_err("fuse: %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("fuse: %s: not a directory", dir);
		return -ENOTDIR;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->loop = l;
	x->hub = h;
	x->fd = -1;
	x->uid = getuid();
	x->gid = getgid();
	x->mtime = time(NULL);
	x->dir = strdup(dir);
	if (!x->dir) {
		err = -ENOMEM;
		goto fail;
	}
	snprintf(pfname, sizeof(pfname), "fuse:%s/hci", dir);
	err = cd_pktfile_new(&x->pf, l, h, pfname);
	if (err)
		goto fail;
	x->se = fuse_session_new(&args, &fusefs_ops, sizeof(fusefs_ops), x);
	fuse_opt_free_args(&args);
	if (!x->se) {
		err = -EIO;
		log_err("fuse: cannot create a session");
		goto fail;
	}
	if (fuse_session_mount(x->se, dir) != 0) {
		err = -EPERM;
		log_err("fuse: cannot mount on %s (is FUSE available to this "
			"user? see fusermount3(1))", dir);
		goto fail;
	}
	x->mounted = true;
	x->fd = fuse_session_fd(x->se);
	flags = fcntl(x->fd, F_GETFL);
	if (flags < 0 || fcntl(x->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err = -errno;
		x->fd = -1;
		goto fail;
	}
	err = loop_add_fd(l, x->fd, EPOLLIN, fusefs_on_fd, x);
	if (err) {
		x->fd = -1;
		goto fail;
	}
	log_notice("fuse: mounted on %s", dir);
	*out = x;
	return 0;

fail:
	cd_fusefs_close(x);
	return err;
}

void cd_fusefs_close(struct cd_fusefs *x)
{
	if (!x)
		return;
	cd_pktfile_free(x->pf);
	if (x->fd >= 0)
		loop_del_fd(x->loop, x->fd);
	if (x->se) {
		if (x->mounted) {
			fuse_session_unmount(x->se);
			log_notice("fuse: unmounted %s", x->dir);
		}
		fuse_session_destroy(x->se);
	}
	while (x->snaps)
		snapshot_free(x, x->snaps);
	free(x->fbuf.mem);
	free(x->dir);
	free(x);
}
