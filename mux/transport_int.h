/* SPDX-License-Identifier: MIT */
/*
 * The inside of mux/transport.h: what each kind of controller transport
 * provides. transport.c picks the kind by the URI's scheme and calls it
 * only through this table; the kinds (transport_fd.c: unix:, tcp:, h4:,
 * hci:; transport_sim.c: sim) know nothing of each other.
 */
#ifndef BGW_MUX_TRANSPORT_INT_H
#define BGW_MUX_TRANSPORT_INT_H

#include <stdbool.h>

#include "transport.h"

struct mux_transport_kind {
	const char *scheme;	/* "unix" matches "unix:ARG" */
	bool bare;		/* the scheme alone ("sim") is a URI too */
	/* Syntax of ARG (NULL when bare): 0 or -EINVAL, message in err. */
	int (*check)(const char *arg, char *err, size_t errlen);
	/* What can be checked without taking the controller (transport.h). */
	int (*probe)(const char *uri, const char *arg, char *err, size_t errlen);
	/* NULL if the kind has no descriptor (runs in-process). */
	int (*open_fd)(const char *arg, char *err, size_t errlen);
	/* The URI already checked; a negative errno with a message in err. */
	int (*open)(const struct mux_transport_kind *k, struct loop *l,
		    const char *uri, const char *arg,
		    const struct mux_transport_ops *ops,
		    struct mux_transport **out, char *err, size_t errlen);
	/* One complete H4 packet; 0 or a negative errno. */
	int (*send)(struct mux_transport *t, const uint8_t *h4, size_t len);
	void (*close)(struct mux_transport *t);
};

/* Each kind embeds this first. */
struct mux_transport {
	const struct mux_transport_kind *kind;
};

extern const struct mux_transport_kind mux_transport_unix;
extern const struct mux_transport_kind mux_transport_tcp;
extern const struct mux_transport_kind mux_transport_h4;
extern const struct mux_transport_kind mux_transport_hci;
extern const struct mux_transport_kind mux_transport_sim;

#endif /* BGW_MUX_TRANSPORT_INT_H */
