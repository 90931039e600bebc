/* SPDX-License-Identifier: MIT */
/*
 * Controller transports for bgw-muxd (see transport.h): the URI's scheme
 * picks a kind from the table below, and everything after that goes
 * through the kind's ops (transport_int.h). Nothing here knows what a
 * kind is made of: descriptors in transport_fd.c, the simulated
 * controller in transport_sim.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "transport_int.h"

static const struct mux_transport_kind *const kinds[] = {
	&mux_transport_sim,
	&mux_transport_unix,
	&mux_transport_tcp,
	&mux_transport_h4,
	&mux_transport_hci,
};

/* The kind of uri and its argument: after "scheme:", NULL if bare. */
static const struct mux_transport_kind *kind_of(const char *uri, const char **arg)
{
	size_t i, n;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = strlen(kinds[i]->scheme);
		if (strncmp(uri, kinds[i]->scheme, n))
			continue;
		if (uri[n] == ':') {
			*arg = uri + n + 1;
			return kinds[i];
		}
		if (!uri[n] && kinds[i]->bare) {
			*arg = NULL;
			return kinds[i];
		}
	}
	return NULL;
}

int mux_transport_check(const char *uri, char *err, size_t errlen)
{
	const struct mux_transport_kind *k;
	const char *arg;

	if (!uri || strlen(uri) >= MUX_URI_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "controller URI too long");
		return -EINVAL;
	}
	k = kind_of(uri, &arg);
	if (!k) {
		if (err && errlen)
			snprintf(err, errlen,
				 "unknown controller URI '%s' (sim, unix:, tcp:, h4:, hci:)", uri);
		return -EINVAL;
	}
	return k->check(arg, err, errlen);
}

/*
 * What can be known of a controller without taking it: opening hci:N
 * takes the user channel, unix: and tcp: may be single-connection
 * servers, so the kinds open nothing here but a UART (to ask whether it
 * is a terminal) and a scenario file.
 */
int mux_transport_probe(const char *uri, char *err, size_t errlen)
{
	const struct mux_transport_kind *k;
	const char *arg;
	int r = mux_transport_check(uri, err, errlen);

	if (r < 0)
		return r;
	k = kind_of(uri, &arg);
	return k->probe(uri, arg, err, errlen);
}

int mux_transport_open_fd(const char *uri, char *err, size_t errlen)
{
	const struct mux_transport_kind *k;
	const char *arg;
	int r = mux_transport_check(uri, err, errlen);

	if (r < 0)
		return r;
	k = kind_of(uri, &arg);
	if (!k->open_fd) {
		if (err && errlen)
			snprintf(err, errlen, "%s: runs in-process, has no descriptor", uri);
		return -EINVAL;
	}
	return k->open_fd(arg, err, errlen);
}

int mux_transport_open(struct loop *l, const char *uri,
		       const struct mux_transport_ops *ops,
		       struct mux_transport **out, char *err, size_t errlen)
{
	const struct mux_transport_kind *k;
	const char *arg;
	int r;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	r = mux_transport_check(uri, err, errlen);
	if (r < 0)
		return r;
	k = kind_of(uri, &arg);
	r = k->open(k, l, uri, arg, ops, out, err, errlen);
	if (r < 0 && err && errlen && !err[0])
		snprintf(err, errlen, "%s: %s", uri, strerror(-r));
	return r;
}

int mux_transport_send(struct mux_transport *t, const uint8_t *h4, size_t len)
{
	if (!t)
		return -EPIPE;
	return t->kind->send(t, h4, len);
}

void mux_transport_close(struct mux_transport *t)
{
	if (t)
		t->kind->close(t);
}
