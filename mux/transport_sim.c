/* SPDX-License-Identifier: MIT */
/*
 * The sim controller transport (see transport.h): the simulated controller
 * of sim/ in this process, in an air of its own with the default house or
 * a scenario file. Its packets go through sim_ctrl_input, which never
 * answers from inside the call, so rx runs from the loop as for the other
 * kinds. It has no descriptor and cannot be lost.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "transport_int.h"

struct sim_transport {
	struct mux_transport base;	/* first: the generic part */
	struct mux_transport_ops ops;
	struct sim_air *air;
	struct sim_ctrl *ctrl;
};

/* "sim" or "sim:SCENARIO" */
static int sim_check(const char *arg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return arg && !arg[0] ? -EINVAL : 0;
}

/* The scenario file parses (the default house always does). */
static int sim_probe(const char *uri, const char *scenario, char *err,
		     size_t errlen)
{
	struct sim_house *h = NULL;
	int r;

	(void)uri;
	if (!scenario)
		return 0;
	r = sim_house_load(scenario, &h, err, errlen);
	sim_house_free(h);
	return r;
}

static void sim_emit(const uint8_t *h4, size_t len, void *user)
{
	struct sim_transport *t = user;

	t->ops.rx(h4, len, t->ops.user);
}

static void sim_close(struct mux_transport *base)
{
	struct sim_transport *t = (struct sim_transport *)base;

	sim_ctrl_free(t->ctrl);
	sim_air_free(t->air);
	free(t);
}

static int sim_open(const struct mux_transport_kind *k, struct loop *l,
		    const char *uri, const char *scenario,
		    const struct mux_transport_ops *ops,
		    struct mux_transport **out, char *err, size_t errlen)
{
	struct sim_transport *t;
	struct sim_house *h = NULL;
	struct sim_opts opts;
	int r;

	(void)uri;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.kind = k;
	t->ops = *ops;
	if (scenario) {
		r = sim_house_load(scenario, &h, err, errlen);
		if (r < 0)
			goto fail;
	} else {
		h = sim_house_default();
		if (!h) {
			r = -ENOMEM;
			goto fail;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.time_scale = ops->sim_time_scale > 0 ? ops->sim_time_scale : 1.0;
	t->air = sim_air_new(l, h, &opts);
	if (!t->air) {
		if (err && errlen)
			snprintf(err, errlen, "sim: cannot create the simulated air");
		r = -ENOMEM;
		goto fail;
	}
	t->ctrl = sim_ctrl_new(t->air, NULL, sim_emit, t);
	if (!t->ctrl) {
		if (err && errlen)
			snprintf(err, errlen, "sim: cannot create the simulated controller");
		r = -ENOMEM;
		goto fail;
	}
	*out = &t->base;
	return 0;
fail:
	sim_close(&t->base);
	return r;
}

static int sim_send(struct mux_transport *base, const uint8_t *h4, size_t len)
{
	struct sim_transport *t = (struct sim_transport *)base;
	int r = sim_ctrl_input(t->ctrl, h4, len);

	return r < 0 ? r : 0;
}

const struct mux_transport_kind mux_transport_sim = {
	"sim", true, sim_check, sim_probe, NULL, sim_open, sim_send, sim_close,
};
