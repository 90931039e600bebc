/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "btsnoop.h"
#include "cursor.h"
#include "hci.h"

/* Microseconds from 0000-01-01 (the btsnoop epoch) to 1970-01-01. */
#define SNOOP_EPOCH_DELTA	0x00dcddb30f2f8000ULL

static const uint8_t snoop_magic[8] = "btsnoop";	/* with its NUL */

struct snoop {
	FILE *f;
	int err;
};

struct snoop_reader {
	FILE *f;
};

int snoop_open(struct snoop **out, const char *path)
{
	uint8_t hdr[SNOOP_HDR_SIZE];
	struct wbuf w;
	struct snoop *s;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->f = fdopen(fd, "w"))) {
		free(s);
		close(fd);
		return -ENOMEM;
	}
	wbuf_init(&w, hdr, sizeof(hdr));
	wbuf_bytes(&w, snoop_magic, sizeof(snoop_magic));
	wbuf_be32(&w, 1);
	wbuf_be32(&w, SNOOP_DATALINK_H4);
	if (fwrite(hdr, 1, sizeof(hdr), s->f) != sizeof(hdr))
		s->err = -EIO;
	*out = s;
	return s->err;
}

int snoop_write(struct snoop *s, const uint8_t *h4, size_t len,
		bool from_controller, uint64_t ts_unix_us)
{
	uint8_t hdr[SNOOP_REC_HDR_SIZE];
	uint32_t flags;
	struct wbuf w;

	if (!s)
		return -EINVAL;
	if (s->err)
		return s->err;
	if (!len || len > SNOOP_MAX_RECORD)
		return -EMSGSIZE;
	if (!ts_unix_us) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		ts_unix_us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	}
	flags = from_controller ? 1 : 0;
	if (h4[0] == H4_CMD || h4[0] == H4_EVT)
		flags |= 2;
	wbuf_init(&w, hdr, sizeof(hdr));
	wbuf_be32(&w, (uint32_t)len);
	wbuf_be32(&w, (uint32_t)len);
	wbuf_be32(&w, flags);
	wbuf_be32(&w, 0);
	wbuf_be64(&w, ts_unix_us + SNOOP_EPOCH_DELTA);
	if (fwrite(hdr, 1, sizeof(hdr), s->f) != sizeof(hdr) ||
	    fwrite(h4, 1, len, s->f) != len)
		s->err = -EIO;
	return s->err;
}

int snoop_flush(struct snoop *s)
{
	if (!s)
		return -EINVAL;
	if (!s->err && fflush(s->f))
		s->err = -errno;
	return s->err;
}

int snoop_close(struct snoop *s)
{
	int err;

	if (!s)
		return 0;
	snoop_flush(s);
	err = s->err;
	if (fclose(s->f) && !err)
		err = -EIO;
	free(s);
	return err;
}

int snoop_reader_open(struct snoop_reader **out, const char *path)
{
	uint8_t hdr[SNOOP_HDR_SIZE];
	struct snoop_reader *r;
	struct cur c;
	uint32_t version, datalink;
	FILE *f;

	f = fopen(path, "rbe");
	if (!f)
		return -errno;
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr)) {
		fclose(f);
		return -EPROTO;
	}
	cur_init(&c, hdr, sizeof(hdr));
	if (memcmp(cur_bytes(&c, 8), snoop_magic, 8)) {
		fclose(f);
		return -EPROTO;
	}
	version = cur_be32(&c);
	datalink = cur_be32(&c);
	if (version != 1) {
		fclose(f);
		return -EPROTO;
	}
	if (datalink != SNOOP_DATALINK_H4) {
		fclose(f);
		return -EPROTONOSUPPORT;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		fclose(f);
		return -ENOMEM;
	}
	r->f = f;
	*out = r;
	return 0;
}

int snoop_read(struct snoop_reader *r, uint8_t *buf, size_t cap,
	       struct snoop_rec *rec)
{
	uint8_t hdr[SNOOP_REC_HDR_SIZE];
	struct snoop_rec tmp;
	struct cur c;
	uint32_t flags;
	size_t n;

	if (!rec)
		rec = &tmp;
	n = fread(hdr, 1, sizeof(hdr), r->f);
	if (n == 0 && feof(r->f))
		return 0;
	if (n != sizeof(hdr))
		return -EPROTO;
	cur_init(&c, hdr, sizeof(hdr));
	rec->orig_len = cur_be32(&c);
	rec->incl_len = cur_be32(&c);
	flags = cur_be32(&c);
	rec->drops = cur_be32(&c);
	rec->ts_unix_us = cur_be64(&c) - SNOOP_EPOCH_DELTA;
	rec->from_controller = flags & 1;
	rec->is_ctl = flags & 2;
	/* Never trust the recorded lengths beyond what we will hold. */
	if (rec->incl_len > rec->orig_len || rec->incl_len > SNOOP_MAX_RECORD ||
	    !rec->incl_len)
		return -EPROTO;
	if (rec->incl_len > cap)
		return -EMSGSIZE;
	if (fread(buf, 1, rec->incl_len, r->f) != rec->incl_len)
		return -EPROTO;
	return (int)rec->incl_len;
}

void snoop_reader_close(struct snoop_reader *r)
{
	if (!r)
		return;
	fclose(r->f);
	free(r);
}
