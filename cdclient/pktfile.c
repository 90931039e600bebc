/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "expose.h"
#include "hci.h"
#include "log.h"
#include "pktfile.h"
#include "pktq.h"

struct waiting_read {
	fuse_req_t req;
	size_t size;
	bool interrupted;
};

struct cd_pktfile {
	struct loop *loop;
	struct cd_port *port;
	char *name;
	bool is_open;
	uint64_t fh;		/* the opener's handle */
	uint64_t next_fh;
	bool overrun;
	uint64_t reports_dropped;	/* discovery reports a slow host lost */
	struct pktq q;
	struct fuse_pollhandle *ph;
	struct waiting_read rd[CD_PKTFILE_MAX_READERS];
	size_t nrd;
	/*
	 * Interrupted reads are answered from a timer, not from libfuse's
	 * interrupt callback: that callback runs with the request's lock held,
	 * and replying there would free the request under it.
	 */
	struct loop_timer *intr_timer;
};

static void pf_notify(struct cd_pktfile *pf)
{
	if (!pf->ph)
		return;
	fuse_lowlevel_notify_poll(pf->ph);
	fuse_pollhandle_destroy(pf->ph);
	pf->ph = NULL;
}

static void pf_drop_reader(struct cd_pktfile *pf, size_t i)
{
	memmove(&pf->rd[i], &pf->rd[i + 1], (pf->nrd - i - 1) * sizeof(pf->rd[0]));
	pf->nrd--;
}

/* Answer the waiting reads that can be answered now. */
static void pf_serve(struct cd_pktfile *pf)
{
	struct pkt *p;

	while (pf->nrd) {
		if (pf->overrun) {
			fuse_reply_err(pf->rd[0].req, EIO);
		} else {
			p = pktq_peek(&pf->q);
			if (!p)
				return;
			if (p->len > pf->rd[0].size) {
				fuse_reply_err(pf->rd[0].req, EMSGSIZE);
			} else {
				p = pktq_pop(&pf->q);
				fuse_reply_buf(pf->rd[0].req, (const char *)p->data,
					       p->len);
				pkt_free(p);
			}
		}
		pf_drop_reader(pf, 0);
	}
}

static void pf_on_intr_timer(struct loop_timer *t, void *user)
{
	struct cd_pktfile *pf = user;
	size_t i = 0;

	while (i < pf->nrd) {
		if (pf->rd[i].interrupted) {
			fuse_reply_err(pf->rd[i].req, EINTR);
			pf_drop_reader(pf, i);
		} else {
			i++;
		}
	}
}

static void pf_on_interrupt(fuse_req_t req, void *data)
{
	struct cd_pktfile *pf = data;
	size_t i;

	for (i = 0; i < pf->nrd; i++) {
		if (pf->rd[i].req == req) {
			pf->rd[i].interrupted = true;
			loop_timer_arm(pf->intr_timer, 0);
		}
	}
}

static int pf_deliver(const uint8_t *h4, size_t len, void *user)
{
	struct cd_pktfile *pf = user;
	int err;

	if (!pf->is_open || pf->overrun)
		return 0;	/* no host to give it to */
	/*
	 * Discovery reports are lossy by nature (a host sees an advertiser
	 * again on its next interval): a host that lags behind a busy
	 * house loses some, never its device (the mux does the same).
	 */
	if (h4_is_discovery_report(h4, len)) {
		if (pktq_push_soft(&pf->q, h4, len) < 0) {
			if (pf->reports_dropped++ == 0)
				log_info("%s: the host reads slowly: discovery reports dropped",
					 pf->name);
			return 0;
		}
		pf_serve(pf);
		pf_notify(pf);
		return 0;
	}
	err = pktq_push(&pf->q, h4, len);
	if (err) {
		log_warn("%s: the host does not read; packets lost, reads "
			 "fail with EIO until it reopens", pf->name);
		pf->overrun = true;
		pktq_clear(&pf->q);
	}
	pf_serve(pf);
	pf_notify(pf);
	return err;
}

static const struct cd_port_ops pf_ops = {
	.deliver = pf_deliver,
};

int cd_pktfile_new(struct cd_pktfile **out, struct loop *l, struct cd_hub *h,
		   const char *name)
{
	struct cd_pktfile *pf;

	*out = NULL;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return -ENOMEM;
	pf->loop = l;
	pf->next_fh = 1;
	pktq_init(&pf->q, CD_EXPOSE_QUEUE_PKTS, CD_EXPOSE_QUEUE_BYTES);
	pf->name = strdup(name);
	pf->intr_timer = loop_timer_new(l, pf_on_intr_timer, pf);
	if (pf->name && pf->intr_timer)
		pf->port = cd_hub_attach(h, name, &pf_ops, pf);
	if (!pf->port) {
		cd_pktfile_free(pf);
		return -ENOMEM;
	}
	*out = pf;
	return 0;
}

void cd_pktfile_free(struct cd_pktfile *pf)
{
	if (!pf)
		return;
	cd_port_detach(pf->port);
	while (pf->nrd) {
		fuse_reply_err(pf->rd[0].req, ENODEV);
		pf_drop_reader(pf, 0);
	}
	if (pf->ph)
		fuse_pollhandle_destroy(pf->ph);
	pktq_clear(&pf->q);
	loop_timer_free(pf->intr_timer);
	free(pf->name);
	free(pf);
}

void cd_pktfile_open(struct cd_pktfile *pf, fuse_req_t req,
		     struct fuse_file_info *fi)
{
	if (pf->is_open) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	pf->is_open = true;
	pf->overrun = false;
	pf->fh = pf->next_fh++;
	pktq_clear(&pf->q);
	fi->fh = pf->fh;
	/* Reads and writes reach us unsplit and uncached, one per syscall. */
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) != 0) {
		pf->is_open = false;
		return;
	}
	log_notice("%s: host opened it", pf->name);
}

static bool pf_is_mine(struct cd_pktfile *pf, struct fuse_file_info *fi)
{
	return pf->is_open && fi->fh == pf->fh;
}

void cd_pktfile_read(struct cd_pktfile *pf, fuse_req_t req, size_t size,
		     struct fuse_file_info *fi)
{
	struct waiting_read *w;

	if (!pf_is_mine(pf, fi)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (pf->overrun) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (pktq_is_empty(&pf->q) && (fi->flags & O_NONBLOCK)) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	if (pf->nrd >= CD_PKTFILE_MAX_READERS) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	/* Reads are answered in arrival order, now or when a packet comes. */
	w = &pf->rd[pf->nrd++];
	w->req = req;
	w->size = size;
	w->interrupted = false;
	if (!pktq_is_empty(&pf->q)) {
		pf_serve(pf);
		return;
	}
	fuse_req_interrupt_func(req, pf_on_interrupt, pf);
}

void cd_pktfile_write(struct cd_pktfile *pf, fuse_req_t req, const char *buf,
		      size_t size, struct fuse_file_info *fi)
{
	int err;

	if (!pf_is_mine(pf, fi)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	err = cd_port_send(pf->port, (const uint8_t *)buf, size);
	switch (err) {
	case 0:
		fuse_reply_write(req, size);
		return;
	case -EINVAL:
	case -EPERM:
		fuse_reply_err(req, EINVAL);
		return;
	case -ENOBUFS:
		fuse_reply_err(req, (fi->flags & O_NONBLOCK) ? EAGAIN : ENOBUFS);
		return;
	default:
		fuse_reply_err(req, -err);
		return;
	}
}

void cd_pktfile_poll(struct cd_pktfile *pf, fuse_req_t req,
		     struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	unsigned int ev = POLLOUT | POLLWRNORM;

	if (!pf_is_mine(pf, fi)) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, EBADF);
		return;
	}
	if (ph) {
		if (pf->ph)
			fuse_pollhandle_destroy(pf->ph);
		pf->ph = ph;
	}
	if (pf->overrun)
		ev |= POLLERR;
	else if (!pktq_is_empty(&pf->q))
		ev |= POLLIN | POLLRDNORM;
	fuse_reply_poll(req, ev);
}

void cd_pktfile_release(struct cd_pktfile *pf, fuse_req_t req,
			struct fuse_file_info *fi)
{
	if (pf_is_mine(pf, fi)) {
		pf->is_open = false;
		pf->overrun = false;
		pktq_clear(&pf->q);
		while (pf->nrd) {
			fuse_reply_err(pf->rd[0].req, EBADF);
			pf_drop_reader(pf, 0);
		}
		if (pf->ph) {
			fuse_pollhandle_destroy(pf->ph);
			pf->ph = NULL;
		}
		log_notice("%s: host closed it", pf->name);
		/* Closed by the host or by the kernel as it died: its links go. */
		cd_port_host_gone(pf->port);
	}
	fuse_reply_err(req, 0);
}
