/* SPDX-License-Identifier: MIT */
/*
 * An H4 packet file served through libfuse: the CUSE character device and
 * the FUSE file system's "hci" file share it. Semantics:
 *
 * - one opener at a time (a controller has one host): a second open gets
 *   EBUSY; while nobody has it open, the controller's packets are
 *   discarded, and each open starts with an empty queue (a new host
 *   begins with HCI Reset anyway);
 * - every read returns exactly one H4 packet from the controller; a buffer
 *   too small for the next packet gets EMSGSIZE and the packet stays
 *   queued (never a truncated packet). With nothing queued, a blocking
 *   read waits (and a signal interrupts it: EINTR); O_NONBLOCK gets EAGAIN;
 * - every write must be exactly one H4 command, ACL, SCO or ISO packet;
 *   anything else (short, long, unknown type, an event) gets EINVAL;
 *   EAGAIN (O_NONBLOCK) or ENOBUFS when the upstream queue is full;
 *   ENOTCONN for data while the upstream is down;
 * - poll: POLLIN when a packet is queued, POLLOUT always, POLLERR after an
 *   overrun; readiness is notified with fuse_lowlevel_notify_poll();
 * - if the opener does not read and CD_EXPOSE_QUEUE_* is exceeded, the
 *   queue is dropped and every later read fails with EIO until the file is
 *   reopened: a host that lost packets must not carry on as if it had not;
 *   discovery reports alone are lossy: they fill at most half the queue
 *   and beyond that are dropped (counted, logged once), like the mux's.
 */
#ifndef BGW_CD_PKTFILE_H
#define BGW_CD_PKTFILE_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "hub.h"
#include "loop.h"

/* Blocking reads waiting at the same time (threads of the one opener). */
#define CD_PKTFILE_MAX_READERS	8

struct cd_pktfile;

int cd_pktfile_new(struct cd_pktfile **out, struct loop *l, struct cd_hub *h,
		   const char *name);
/* Answers every request still waiting (ENODEV) and detaches from the hub. */
void cd_pktfile_free(struct cd_pktfile *pf);

void cd_pktfile_open(struct cd_pktfile *pf, fuse_req_t req,
		     struct fuse_file_info *fi);
void cd_pktfile_read(struct cd_pktfile *pf, fuse_req_t req, size_t size,
		     struct fuse_file_info *fi);
void cd_pktfile_write(struct cd_pktfile *pf, fuse_req_t req, const char *buf,
		      size_t size, struct fuse_file_info *fi);
void cd_pktfile_poll(struct cd_pktfile *pf, fuse_req_t req,
		     struct fuse_file_info *fi, struct fuse_pollhandle *ph);
void cd_pktfile_release(struct cd_pktfile *pf, fuse_req_t req,
			struct fuse_file_info *fi);

#endif /* BGW_CD_PKTFILE_H */
