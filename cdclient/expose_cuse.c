/* SPDX-License-Identifier: MIT */
/*
 * The CUSE exposure: a character device /dev/NAME carrying H4 packets
 * (cdclient/pktfile.h), for userspace Bluetooth stacks.
 *
 * The session comes from cuse_lowlevel_setup() in foreground,
 * single-threaded mode, but its fd is served by our own epoll loop
 * (fuse_session_receive_buf + fuse_session_process_buf), never by
 * libfuse's loop: the process stays single-threaded and every request is
 * handled between the upstream's packets. libfuse installs handlers for
 * SIGHUP/SIGINT/SIGTERM only where none is set; ours arrive through the
 * loop's signalfd (blocked), so they never run.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pktfile.h"
#include <cuse_lowlevel.h>

#include "expose.h"
#include "log.h"

/* Requests handled per wake-up before other fds get their turn. */
#define CUSE_BURST	32

struct cd_cuse {
	struct loop *loop;
	struct fuse_session *se;
	int fd;
	struct cd_pktfile *pf;
	struct fuse_buf fbuf;
	char devname[CD_CUSE_NAME_MAX + 9];	/* "DEVNAME=" NAME */
	char name[CD_CUSE_NAME_MAX + 1];
};

static struct cd_cuse *cuse_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void cuse_init_done(void *userdata)
{
	struct cd_cuse *x = userdata;

	log_notice("cuse: /dev/%s is ready", x->name);
}

static void cuse_open(fuse_req_t req, struct fuse_file_info *fi)
{
	cd_pktfile_open(cuse_of(req)->pf, req, fi);
}

static void cuse_read(fuse_req_t req, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	cd_pktfile_read(cuse_of(req)->pf, req, size, fi);
}

static void cuse_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	cd_pktfile_write(cuse_of(req)->pf, req, buf, size, fi);
}

static void cuse_release(fuse_req_t req, struct fuse_file_info *fi)
{
	cd_pktfile_release(cuse_of(req)->pf, req, fi);
}

static void cuse_poll(fuse_req_t req, struct fuse_file_info *fi,
		      struct fuse_pollhandle *ph)
{
	cd_pktfile_poll(cuse_of(req)->pf, req, fi, ph);
}

/* No ioctls: the device is a plain H4 byte pipe. */
static void cuse_ioctl(fuse_req_t req, int cmd, void *arg,
		       struct fuse_file_info *fi, unsigned int flags,
		       const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	fuse_reply_err(req, ENOTTY);
}

static const struct cuse_lowlevel_ops cuse_ops = {
	.init_done = cuse_init_done,
	.open = cuse_open,
	.read = cuse_read,
	.write = cuse_write,
	.release = cuse_release,
	.poll = cuse_poll,
	.ioctl = cuse_ioctl,
};

static void cuse_fatal(struct cd_cuse *x, const char *why)
{
	log_err("cuse: /dev/%s: %s; shutting down", x->name, why);
	if (x->fd >= 0) {
		loop_del_fd(x->loop, x->fd);
		x->fd = -1;
	}
	loop_quit(x->loop, 1);
}

static void cuse_on_fd(struct loop *l, int fd, uint32_t events, void *user)
{
	struct cd_cuse *x = user;
	int i, res;

	for (i = 0; i < CUSE_BURST; i++) {
		res = fuse_session_receive_buf(x->se, &x->fbuf);
		if (res == -EINTR || res == -EAGAIN)
			return;
		if (res <= 0) {
			cuse_fatal(x, res ? strerror(-res) : "the kernel ended the session");
			return;
		}
		fuse_session_process_buf(x->se, &x->fbuf);
		if (fuse_session_exited(x->se)) {
			cuse_fatal(x, "session ended");
			return;
		}
	}
}

int cd_cuse_open(struct cd_cuse **out, struct loop *l, struct cd_hub *h,
		 const char *name)
{
	char a0[] = "bgw-cdclient", a1[] = "-f", a2[] = "-s";
	char *argv[] = { a0, a1, a2, NULL };
	const char *dev_info[1];
	struct cuse_info ci = { 0 };
	struct cd_cuse *x;
	char pfname[CD_CUSE_NAME_MAX + 16];
	int mt = 0, err, flags;

	*out = NULL;
	if (!name || !*name || strlen(name) > CD_CUSE_NAME_MAX)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->loop = l;
	x->fd = -1;
	snprintf(x->name, sizeof(x->name), "%s", name);
	snprintf(x->devname, sizeof(x->devname), "DEVNAME=%s", name);
	snprintf(pfname, sizeof(pfname), "cuse:%s", name);
	err = cd_pktfile_new(&x->pf, l, h, pfname);
	if (err)
		goto fail;

	if (access("/dev/cuse", R_OK | W_OK) < 0) {
		err = -errno;
		log_err("cuse: /dev/cuse: %s%s", strerror(errno),
			errno == ENOENT ? " (is the cuse module loaded?)" : "");
		goto fail;
	}
	dev_info[0] = x->devname;
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info;
	x->se = cuse_lowlevel_setup(3, argv, &ci, &cuse_ops, &mt, x);
	if (!x->se) {
		err = -EIO;
		log_err("cuse: cannot set up /dev/%s", name);
		goto fail;
	}
	x->fd = fuse_session_fd(x->se);
	/* Readiness comes from epoll; a read must never block the loop. */
	flags = fcntl(x->fd, F_GETFL);
	if (flags < 0 || fcntl(x->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	err = loop_add_fd(l, x->fd, EPOLLIN, cuse_on_fd, x);
	if (err) {
		x->fd = -1;
		goto fail;
	}
	log_notice("cuse: creating /dev/%s", name);
	*out = x;
	return 0;

fail:
	cd_cuse_close(x);
	return err;
}

void cd_cuse_close(struct cd_cuse *x)
{
	if (!x)
		return;
	/* Waiting requests are answered before the session goes. */
	cd_pktfile_free(x->pf);
	if (x->fd >= 0)
		loop_del_fd(x->loop, x->fd);
	if (x->se) {
		cuse_lowlevel_teardown(x->se);	/* closes the fd: node removed */
		log_notice("cuse: /dev/%s removed", x->name);
	}
	free(x->fbuf.mem);
	free(x);
}
