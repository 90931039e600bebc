/* SPDX-License-Identifier: MIT */
/*
 * The air: one house of RDs and every controller attached to it. Owns the
 * scaled clock (real delay = simulated delay x time_scale), the
 * deterministic pseudo-random source (RSSI jitter, SMP randoms, keys) and
 * the list of attached controllers. It sits below the controller (ctrl*.c)
 * and the RDs' upper layers (rd.c): they call the air, the air calls
 * neither by name. A controller is a port with an opaque user pointer and
 * a callback for the air going away first (BlueZ src/shared style).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

struct sim_air_port {
	struct sim_air_port *next;
	struct bdaddr addr;
	sim_air_gone_fn gone;
	void *user;
};

struct sim_air {
	struct loop *l;
	struct sim_house *house;
	struct sim_opts opts;
	struct sim_rd rds[SIM_MAX_RDS];
	size_t nrd;
	struct sim_air_port *ports;
	unsigned next_ctrl;
	uint64_t rng;
};

struct sim_air *sim_air_new(struct loop *l, struct sim_house *house,
			    const struct sim_opts *opts)
{
	struct sim_air *a;
	size_t i;

	if (!l || !house)
		goto fail;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto fail;
	a->l = l;
	a->house = house;
	if (opts)
		a->opts = *opts;
	if (!(a->opts.time_scale > 0))
		a->opts.time_scale = 1.0;
	if (!a->opts.acl_mtu)
		a->opts.acl_mtu = 1021;
	if (!a->opts.acl_pkts)
		a->opts.acl_pkts = 8;
	/* LE MTU 1..26 is invalid (Core Vol 4 Part E 7.8.2): use the default. */
	if (a->opts.le_mtu < 27)
		a->opts.le_mtu = 251;
	if (!a->opts.le_pkts)
		a->opts.le_pkts = 8;
	a->rng = a->opts.seed ? a->opts.seed : 0x2545f4914f6cdd1dULL;
	a->nrd = house->n;
	for (i = 0; i < house->n; i++)
		sim_rd_init(&a->rds[i], &house->rd[i]);
	return a;
fail:
	sim_house_free(house);
	return NULL;
}

void sim_air_free(struct sim_air *a)
{
	if (!a)
		return;
	/*
	 * Controllers still attached lose their air (their timers and links
	 * go now, their input is refused); their owner still frees them.
	 */
	while (a->ports) {
		struct sim_air_port *p = a->ports;
		sim_air_gone_fn gone = p->gone;
		void *user = p->user;

		a->ports = p->next;
		free(p);
		if (gone)
			gone(user);
	}
	sim_house_free(a->house);
	free(a);
}

uint64_t sim_air_delay(const struct sim_air *a, uint64_t sim_us)
{
	double d = (double)sim_us * a->opts.time_scale;

	return d < 1.0 ? 0 : (uint64_t)d;
}

/* xorshift64*: deterministic for a seed, which is what tests want. */
uint32_t sim_air_rand(struct sim_air *a)
{
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return (uint32_t)((a->rng * 0x2545f4914f6cdd1dULL) >> 32);
}

void sim_air_rand_bytes(struct sim_air *a, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)sim_air_rand(a);
}

struct loop *sim_air_loop(const struct sim_air *a)
{
	return a->l;
}

const struct sim_opts *sim_air_opts(const struct sim_air *a)
{
	return &a->opts;
}

size_t sim_air_rd_count(const struct sim_air *a)
{
	return a->nrd;
}

struct sim_rd *sim_air_rd(struct sim_air *a, size_t i)
{
	return i < a->nrd ? &a->rds[i] : NULL;
}

struct sim_rd *sim_air_find_rd(struct sim_air *a, const struct bdaddr *addr)
{
	size_t i;

	for (i = 0; i < a->nrd; i++)
		if (bdaddr_eq(&a->rds[i].cfg->addr, addr))
			return &a->rds[i];
	return NULL;
}

static bool addr_used(struct sim_air *a, const struct bdaddr *b)
{
	struct sim_air_port *p;

	if (sim_air_find_rd(a, b))
		return true;
	for (p = a->ports; p; p = p->next)
		if (bdaddr_eq(&p->addr, b))
			return true;
	return false;
}

struct sim_air_port *sim_air_attach(struct sim_air *a, const struct bdaddr *want,
				    sim_air_gone_fn gone, void *user)
{
	struct sim_air_port *p;
	unsigned i;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (want && !bdaddr_is_zero(want)) {
		p->addr = *want;
	} else {
		/* 00:AA:01:00:00:NN, skipping any address already in the air;
		 * bounded by the 2^16 addresses of the pattern. */
		for (i = 0; i < 0x10000; i++) {
			unsigned n = ++a->next_ctrl;
			struct bdaddr b = { { (uint8_t)n, (uint8_t)(n >> 8), 0x00,
					      0x01, 0xaa, 0x00 } };

			if (!addr_used(a, &b)) {
				p->addr = b;
				break;
			}
		}
	}
	p->gone = gone;
	p->user = user;
	p->next = a->ports;
	a->ports = p;
	return p;
}

void sim_air_detach(struct sim_air *a, struct sim_air_port *port)
{
	struct sim_air_port **pp;

	if (!a || !port)
		return;
	for (pp = &a->ports; *pp; pp = &(*pp)->next) {
		if (*pp == port) {
			*pp = port->next;
			free(port);
			return;
		}
	}
}

const struct bdaddr *sim_air_port_addr(const struct sim_air_port *p)
{
	return &p->addr;
}

void *sim_air_port_user(const struct sim_air_port *p)
{
	return p->user;
}

struct sim_air_port *sim_air_port_next(struct sim_air *a,
				       const struct sim_air_port *prev)
{
	return prev ? prev->next : a->ports;
}
