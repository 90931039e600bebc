/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "expose.h"
#include "log.h"
#define FUSE_USE_VERSION 35
#include <fuse_log.h>

enum expose_kind {
	EXPOSE_VHCI,
	EXPOSE_CUSE,
	EXPOSE_FUSE,
	EXPOSE_SOCK,
};

struct cd_expose {
	enum expose_kind kind;
	union {
		struct cd_vhci *vhci;
		struct cd_cuse *cuse;
		struct cd_fusefs *fuse;
		struct cd_sockx *sock;
	};
};

static bool cuse_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	/* It becomes a node under /dev: no path separators, no dot files. */
	if (!n || n > CD_CUSE_NAME_MAX || s[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int parse(const char *spec, enum expose_kind *kind, const char **arg,
		 char *err, size_t errlen)
{
	const char *p;

	*arg = NULL;
	if (!strcmp(spec, "vhci")) {
		*kind = EXPOSE_VHCI;
		return 0;
	}
	if (!strcmp(spec, "cuse") || !strncmp(spec, "cuse:", 5)) {
		*kind = EXPOSE_CUSE;
		*arg = spec[4] ? spec + 5 : CD_CUSE_DEFAULT_NAME;
		if (!cuse_name_ok(*arg)) {
			snprintf(err, errlen, "cuse: the device name must be 1 to "
				 "%d of A-Z a-z 0-9 . _ - (not starting with a dot)",
				 CD_CUSE_NAME_MAX);
			return -EINVAL;
		}
		return 0;
	}
	if (!strncmp(spec, "fuse:", 5)) {
		*kind = EXPOSE_FUSE;
		*arg = spec + 5;
		if (!**arg || strlen(*arg) >= PATH_MAX) {
			snprintf(err, errlen, "fuse: a mount directory is required");
			return -EINVAL;
		}
		for (p = *arg; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				snprintf(err, errlen, "fuse: control character in the path");
				return -EINVAL;
			}
		}
		return 0;
	}
	if (!strncmp(spec, "unix:", 5) || !strncmp(spec, "tcp:", 4)) {
		*kind = EXPOSE_SOCK;
		*arg = spec;
		if (!cd_endpoint_is_spec(spec)) {
			snprintf(err, errlen, "expected unix:PATH or tcp:ADDRESS:PORT");
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown exposure (vhci, cuse[:NAME], fuse:DIR, "
		 "unix:PATH, tcp:127.0.0.1:PORT)");
	return -EINVAL;
}

int cd_expose_check(const char *spec, char *err, size_t errlen)
{
	enum expose_kind kind;
	const char *arg;

	return parse(spec, &kind, &arg, err, errlen);
}

bool cd_expose_waits_for_upstream(const char *spec)
{
	return !strcmp(spec, "vhci");
}

/* libfuse's own messages go through our log, made safe like every line. */
static void fuse_log_to_ours(enum fuse_log_level level, const char *fmt,
			     va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_msg(level <= FUSE_LOG_ERR ? LOG_ERR :
		level == FUSE_LOG_WARNING ? LOG_WARNING :
		level == FUSE_LOG_DEBUG ? LOG_DEBUG : LOG_INFO,
		"libfuse: %s", line);
}

int cd_expose_open(struct cd_expose **out, struct loop *l, struct cd_hub *h,
		   const char *spec)
{
	struct cd_expose *x;
	const char *arg;
	char why[160];
	int err;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	err = parse(spec, &x->kind, &arg, why, sizeof(why));
	if (err) {
		log_err("--expose %s: %s", spec, why);
		goto fail;
	}
	switch (x->kind) {
	case EXPOSE_VHCI:
		err = cd_vhci_open(&x->vhci, l, h);
		break;
	case EXPOSE_CUSE:
		fuse_set_log_func(fuse_log_to_ours);
		err = cd_cuse_open(&x->cuse, l, h, arg);
		break;
	case EXPOSE_FUSE:
		fuse_set_log_func(fuse_log_to_ours);
		err = cd_fusefs_open(&x->fuse, l, h, arg);
		break;
	case EXPOSE_SOCK:
		err = cd_sockx_open(&x->sock, l, h, arg);
		if (err)
			log_err("--expose %s: %s%s", spec, strerror(-err),
				err == -EPERM ? " (a TCP exposure listens on "
				"loopback addresses only)" : "");
		break;
	}
	if (err)
		goto fail;
	*out = x;
	return 0;

fail:
	free(x);
	return err;
}

void cd_expose_describe(const struct cd_expose *x, const char *spec,
			char *buf, size_t cap)
{
	enum expose_kind kind;
	const char *arg;
	char why[8];

	if (!x || parse(spec, &kind, &arg, why, sizeof(why))) {
		snprintf(buf, cap, "%s", spec);
		return;
	}
	switch (kind) {
	case EXPOSE_VHCI:
		snprintf(buf, cap, "controller %s", cd_vhci_name(x->vhci));
		return;
	case EXPOSE_CUSE:
		snprintf(buf, cap, "device /dev/%s", arg);
		return;
	case EXPOSE_FUSE:
		snprintf(buf, cap, "packet file %s/hci", arg);
		return;
	case EXPOSE_SOCK:
		snprintf(buf, cap, "socket %s", arg);
		return;
	}
}

void cd_expose_close(struct cd_expose *x)
{
	if (!x)
		return;
	switch (x->kind) {
	case EXPOSE_VHCI:
		cd_vhci_close(x->vhci);
		break;
	case EXPOSE_CUSE:
		cd_cuse_close(x->cuse);
		break;
	case EXPOSE_FUSE:
		cd_fusefs_close(x->fuse);
		break;
	case EXPOSE_SOCK:
		cd_sockx_close(x->sock);
		break;
	}
	free(x);
}
