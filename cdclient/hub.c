/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "hci_names.h"
#include "hub.h"
#include "log.h"

/* Commands awaiting their Command Complete/Status, for the round-trip time. */
#define HUB_RTT_PENDING	16

struct cd_port {
	struct cd_hub *hub;
	struct cd_port *next;
	char *name;
	const struct cd_port_ops *ops;
	void *user;
	bool want_resume;
	bool host_active;	/* its host has sent something (cd_port_send) */
	uint64_t refused;
};

/*
 * A command sent upstream and not yet completed: for the round-trip time,
 * and to answer it locally if the upstream drops before the controller
 * does (its host would wait for it otherwise).
 */
struct rtt_pending {
	uint16_t opcode;
	uint64_t t_us;
	struct cd_port *port;
};

struct cd_hub {
	struct loop *loop;
	struct snoop *snoop;
	struct cd_remote *remote;
	struct cd_port *ports;
	struct cd_status *status;
	void (*up_fn)(void *user);
	void *up_user;
	bool was_down;		/* the upstream has dropped since it was up */
	int failed_err;		/* the upstream gave up (its failed() error) */
	unsigned resets_pending;	/* our own Resets, their completion unseen */

	struct rtt_pending rtt_q[HUB_RTT_PENDING];
	size_t rtt_n;
	uint64_t rtt_last_us;
	uint64_t rtt_min_us;
	uint64_t rtt_avg_us;	/* exponentially weighted, 1/8 like TCP's SRTT */
	uint64_t rtt_samples;

	uint64_t refused;
	uint64_t hw_errors;
};

static uint64_t realtime_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void hub_snoop(struct cd_hub *h, const uint8_t *p, size_t len,
		      bool from_controller)
{
	int err;

	if (!h->snoop)
		return;
	err = snoop_write(h->snoop, p, len, from_controller, 0);
	if (!err)
		err = snoop_flush(h->snoop);
	if (err) {
		log_err("btsnoop: write failed: %s; recording stopped",
			strerror(-err));
		h->snoop = NULL;	/* main closes it */
	}
}

static void hub_trace(const char *dir, const char *who, const uint8_t *p,
		      size_t len)
{
	char line[160];

	if (!log_is_enabled(LOG_DEBUG))
		return;
	hcistr_summary(line, sizeof(line), p, len);
	log_debug("%s %s: %s", dir, who, line);
}

/* A packet the hub makes up for one port, or for all of them (to == NULL). */
static void hub_local(struct cd_hub *h, struct cd_port *to, const uint8_t *p,
		      size_t len)
{
	struct cd_port *port;

	hub_snoop(h, p, len, true);
	for (port = h->ports; port; port = port->next) {
		if (to && port != to)
			continue;
		hub_trace("local ->", port->name, p, len);
		port->ops->deliver(p, len, port->user);
	}
}

static void hub_hw_error(struct cd_hub *h)
{
	uint8_t code = CD_HW_ERROR_UPSTREAM;
	uint8_t ev[8];
	int n;

	n = h4_build_evt(ev, sizeof(ev), HCI_EV_HARDWARE_ERROR, &code, 1);
	if (n < 0)
		return;
	h->hw_errors++;
	hub_local(h, NULL, ev, (size_t)n);
}

static void rtt_sent(struct cd_hub *h, struct cd_port *port, uint16_t opcode)
{
	/* Full: forget the oldest, which has most likely been lost. */
	if (h->rtt_n == HUB_RTT_PENDING) {
		memmove(h->rtt_q, h->rtt_q + 1, (HUB_RTT_PENDING - 1) * sizeof(h->rtt_q[0]));
		h->rtt_n--;
	}
	h->rtt_q[h->rtt_n].opcode = opcode;
	h->rtt_q[h->rtt_n].t_us = loop_now_us();
	h->rtt_q[h->rtt_n].port = port;
	h->rtt_n++;
}

static void rtt_done(struct cd_hub *h, uint16_t opcode)
{
	uint64_t rtt;
	size_t i;

	for (i = 0; i < h->rtt_n; i++) {
		if (h->rtt_q[i].opcode != opcode)
			continue;
		rtt = loop_now_us() - h->rtt_q[i].t_us;
		memmove(h->rtt_q + i, h->rtt_q + i + 1,
			(h->rtt_n - i - 1) * sizeof(h->rtt_q[0]));
		h->rtt_n--;
		h->rtt_last_us = rtt;
		if (!h->rtt_samples || rtt < h->rtt_min_us)
			h->rtt_min_us = rtt;
		h->rtt_avg_us = h->rtt_samples ? (7 * h->rtt_avg_us + rtt) / 8 : rtt;
		h->rtt_samples++;
		return;
	}
}

static void hub_on_up(void *user)
{
	struct cd_hub *h = user;

	h->rtt_n = 0;
	/* The controller behind the new connection is a fresh one. */
	if (h->was_down) {
		log_notice("upstream back: resetting the local hosts "
			   "(Hardware Error)");
		hub_hw_error(h);
	}
	if (h->up_fn)
		h->up_fn(h->up_user);
}

/* Command Status "Hardware Failure" for opcode, to one port. */
static void hub_cmd_failed(struct cd_hub *h, struct cd_port *to, uint16_t opcode)
{
	uint8_t ev[16];
	int n;

	n = h4_build_cs(ev, sizeof(ev), HCI_ST_HARDWARE_FAILURE, 1, opcode);
	if (n > 0)
		hub_local(h, to, ev, (size_t)n);
}

static void hub_on_down(int err, void *user)
{
	struct cd_hub *h = user;
	size_t i;

	h->was_down = true;
	h->resets_pending = 0;	/* the next controller is a fresh one */
	cd_status_clear_connections(h->status);
	/*
	 * No Hardware Error yet: a kernel host would close the device, try
	 * to open it again at once, fail, and then drop every packet until
	 * its user powers it on by hand. The reset comes when the upstream
	 * is back (hub_on_up); meanwhile the commands still in flight and
	 * every new one fail at once, so nothing waits on a dead link.
	 */
	for (i = 0; i < h->rtt_n; i++)
		if (h->rtt_q[i].port)
			hub_cmd_failed(h, h->rtt_q[i].port, h->rtt_q[i].opcode);
	h->rtt_n = 0;
}

static void hub_on_packet(const struct h4_pkt *pkt, void *user)
{
	struct cd_hub *h = user;
	struct cd_port *port;
	struct h4_cc cc;
	struct h4_cs cs;

	if (pkt->type == H4_CMD)
		return;	/* the upstream refuses these already */
	/*
	 * The completion of a Reset the hub sent itself (cd_port_host_gone)
	 * is for no host. The controller answers commands of one opcode in
	 * order, so the first Reset completion after ours is ours, even when
	 * a new host has sent its own Reset meanwhile.
	 */
	if (h->resets_pending &&
	    ((h4_parse_cc(pkt, &cc) == 0 && cc.opcode == HCI_OP_RESET) ||
	     (h4_parse_cs(pkt, &cs) == 0 && cs.opcode == HCI_OP_RESET))) {
		h->resets_pending--;
		hub_snoop(h, pkt->raw, pkt->raw_len, true);
		log_info("the remote controller is reset");
		return;
	}
	if (h4_parse_cc(pkt, &cc) == 0)
		rtt_done(h, cc.opcode);
	else if (h4_parse_cs(pkt, &cs) == 0)
		rtt_done(h, cs.opcode);
	if (cd_status_controller_pkt(h->status, pkt, realtime_us()) < 0)
		log_info("controller sent a malformed %s event (%u bytes); "
			 "not used for the status files",
			 hcistr_event(pkt->evt.code) ?: "unknown",
			 pkt->evt.plen);
	hub_snoop(h, pkt->raw, pkt->raw_len, true);
	for (port = h->ports; port; port = port->next) {
		hub_trace("->", port->name, pkt->raw, pkt->raw_len);
		port->ops->deliver(pkt->raw, pkt->raw_len, port->user);
	}
}

static void hub_on_drained(void *user)
{
	struct cd_hub *h = user;
	struct cd_port *port;

	for (port = h->ports; port; port = port->next) {
		if (!port->want_resume)
			continue;
		port->want_resume = false;
		if (port->ops->resume)
			port->ops->resume(port->user);
	}
}

static void hub_on_failed(int err, const char *why, void *user)
{
	struct cd_hub *h = user;

	/* One line, made by the upstream: what happened, what to do. */
	log_err("%s", why ? why : strerror(-err));
	h->failed_err = err ? err : -EIO;
	loop_quit(h->loop, 1);
}

const struct cd_remote_cbs cd_hub_remote_cbs = {
	.up = hub_on_up,
	.down = hub_on_down,
	.packet = hub_on_packet,
	.drained = hub_on_drained,
	.failed = hub_on_failed,
};

int cd_hub_new(struct cd_hub **out, struct loop *l, struct snoop *snoop)
{
	struct cd_hub *h;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->status = cd_status_new();
	if (!h->status) {
		free(h);
		return -ENOMEM;
	}
	h->loop = l;
	h->snoop = snoop;
	*out = h;
	return 0;
}

int cd_hub_set_remote(struct cd_hub *h, struct cd_remote *r)
{
	if (h->remote)
		return -EALREADY;
	h->remote = r;
	return cd_remote_start(r);
}

void cd_hub_set_up_fn(struct cd_hub *h, void (*fn)(void *user), void *user)
{
	h->up_fn = fn;
	h->up_user = user;
}

int cd_hub_failed_err(const struct cd_hub *h)
{
	return h->failed_err;
}

bool cd_hub_is_up(const struct cd_hub *h)
{
	return cd_remote_is_up(h->remote);
}

void cd_hub_free(struct cd_hub *h)
{
	if (!h)
		return;
	while (h->ports)
		cd_port_detach(h->ports);
	cd_remote_free(h->remote);
	cd_status_free(h->status);
	free(h);
}

struct cd_port *cd_hub_attach(struct cd_hub *h, const char *name,
			      const struct cd_port_ops *ops, void *user)
{
	struct cd_port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(name);
	if (!p->name) {
		free(p);
		return NULL;
	}
	p->hub = h;
	p->ops = ops;
	p->user = user;
	p->next = h->ports;
	h->ports = p;
	return p;
}

void cd_port_detach(struct cd_port *p)
{
	struct cd_port **pp;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->hub->rtt_n; i++)
		if (p->hub->rtt_q[i].port == p)
			p->hub->rtt_q[i].port = NULL;
	for (pp = &p->hub->ports; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	free(p->name);
	free(p);
}

/*
 * The last host gone: reset the remote controller, so that the links that
 * host left open end at the gateway at once (Core Vol 4 Part E 7.3.2: a
 * Reset disconnects every connection). Otherwise they stay up until some
 * later host resets it, and meanwhile every other user of those devices
 * gets Connection Already Exists. A host that has sent nothing has opened
 * nothing, and while another host still drives the controller its links
 * are its own.
 */
void cd_port_host_gone(struct cd_port *p)
{
	struct cd_hub *h = p->hub;
	struct cd_port *q;
	uint8_t cmd[8];
	int n, err;

	if (!p->host_active)
		return;
	p->host_active = false;
	for (q = h->ports; q; q = q->next)
		if (q->host_active)
			return;
	if (!cd_remote_is_up(h->remote))
		return;		/* the next session has a fresh controller */
	n = h4_build_cmd(cmd, sizeof(cmd), HCI_OP_RESET, NULL, 0);
	if (n < 0)
		return;
	err = cd_remote_send(h->remote, cmd, (size_t)n);
	if (err) {
		log_warn("%s: its host is gone, but the remote controller could "
			 "not be reset: %s", p->name, strerror(-err));
		return;
	}
	h->resets_pending++;
	hub_snoop(h, cmd, (size_t)n, false);
	cd_status_clear_connections(h->status);
	log_notice("%s: its host is gone: resetting the remote controller "
		   "to end the links it left open", p->name);
}

const char *cd_port_name(const struct cd_port *p)
{
	return p->name;
}

/* First refusal per port at warning, the rest at debug: no log flooding. */
static void port_refuse(struct cd_port *p, const char *why)
{
	p->refused++;
	p->hub->refused++;
	log_msg(p->refused == 1 ? LOG_WARNING : LOG_DEBUG,
		"%s: refused a packet from the host: %s (%llu refused so far)",
		p->name, why, (unsigned long long)p->refused);
}

int cd_port_send(struct cd_port *p, const uint8_t *buf, size_t len)
{
	struct cd_hub *h = p->hub;
	struct h4_pkt pkt;
	int err;

	err = h4_parse(&pkt, buf, len, CD_PKT_MAX);
	if (err) {
		port_refuse(p, h4_strerror(err));
		return -EINVAL;
	}
	switch (pkt.type) {
	case H4_CMD:
	case H4_ACL:
	case H4_SCO:
	case H4_ISO:
		break;
	default:
		/* Events come from controllers only (Core Vol 4 Part E 5.4.4). */
		port_refuse(p, "an event, which only a controller sends");
		return -EPERM;
	}
	hub_trace("<-", p->name, buf, len);
	if (!cd_remote_is_up(h->remote)) {
		if (pkt.type != H4_CMD)
			return -ENOTCONN;
		hub_snoop(h, buf, len, false);
		hub_cmd_failed(h, p, pkt.cmd.opcode);
		return 0;
	}
	err = cd_remote_send(h->remote, buf, len);
	if (err == -ENOBUFS)
		p->want_resume = true;
	if (err)
		return err;
	p->host_active = true;
	hub_snoop(h, buf, len, false);
	if (pkt.type == H4_CMD)
		rtt_sent(h, p, pkt.cmd.opcode);
	return 0;
}

const struct cd_status *cd_hub_status(const struct cd_hub *h)
{
	return h->status;
}

static void put_time(FILE *f, const char *key, uint64_t us)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;
	char buf[32];

	if (!us || !gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, sizeof(buf), "-");
	fprintf(f, "%s: %s\n", key, buf);
}

int cd_hub_render_session(const struct cd_hub *h, char **out, size_t *len)
{
	struct cd_remote_stats st = { 0 };
	const char *user = NULL;
	const char *server = "-";
	FILE *f;

	*out = NULL;
	*len = 0;
	if (h->remote) {
		cd_remote_get_stats(h->remote, &st);
		user = cd_remote_user(h->remote);
		server = cd_remote_describe(h->remote);
	}
	f = open_memstream(out, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "server: %s\n", server);
	fprintf(f, "user: %s\n", user ? user : "-");
	fprintf(f, "state: %s\n", cd_remote_is_up(h->remote) ? "up" : "down");
	put_time(f, "up-since", st.up_since_us);
	fprintf(f, "connects: %u\n", st.connects);
	if (h->rtt_samples)
		fprintf(f, "rtt-us: last %llu avg %llu min %llu (%llu samples)\n",
			(unsigned long long)h->rtt_last_us,
			(unsigned long long)h->rtt_avg_us,
			(unsigned long long)h->rtt_min_us,
			(unsigned long long)h->rtt_samples);
	else
		fputs("rtt-us: -\n", f);
	if (st.srtt_us)
		fprintf(f, "transport-srtt-us: %llu\n",
			(unsigned long long)st.srtt_us);
	fprintf(f, "bytes-in: %llu\nbytes-out: %llu\n",
		(unsigned long long)st.bytes_in,
		(unsigned long long)st.bytes_out);
	fprintf(f, "packets-in: %llu\npackets-out: %llu\n",
		(unsigned long long)st.pkts_in,
		(unsigned long long)st.pkts_out);
	fprintf(f, "refused-from-hosts: %llu\nhardware-errors-sent: %llu\n",
		(unsigned long long)h->refused,
		(unsigned long long)h->hw_errors);
	fprintf(f, "devices: %zu\nconnections: %zu\n",
		cd_status_device_count(h->status),
		cd_status_conn_count(h->status));
	if (ferror(f)) {
		fclose(f);
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
