/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdaddr.h"
#include "cursor.h"
#include "status.h"

/* LE Enhanced Connection Complete v2 (Core 5.4 Vol 4 Part E 7.7.65.41). */
#define LE_EV_ENH_CONN_COMPLETE_V2	0x29

/* AD/EIR data types (Assigned Numbers, Common Data Types). */
#define AD_NAME_SHORT		0x08
#define AD_NAME_COMPLETE	0x09

#define RSSI_NONE		127	/* "not available" in advertising reports */

enum dev_kind {
	DEV_BREDR,
	DEV_LE_PUBLIC,
	DEV_LE_RANDOM,
};

struct device {
	struct bdaddr addr;
	enum dev_kind kind;
	bool has_rssi;
	bool name_complete;
	int8_t rssi;
	size_t name_len;	/* 0: no name known */
	uint8_t name[CD_STATUS_NAME_MAX];
	uint64_t last_seen_us;
};

struct conn {
	uint16_t handle;
	struct bdaddr addr;
	const char *type;	/* "acl", "sco", "esco", "le" */
	const char *role;	/* "central", "peripheral", "-" */
	enum dev_kind kind;
	uint64_t since_us;
};

struct cd_status {
	struct device dev[CD_STATUS_MAX_DEVICES];
	size_t ndev;
	uint64_t dev_dropped;
	struct conn conn[CD_STATUS_MAX_CONNS];
	size_t nconn;
	uint64_t conn_dropped;
};

struct cd_status *cd_status_new(void)
{
	return calloc(1, sizeof(struct cd_status));
}

void cd_status_free(struct cd_status *s)
{
	free(s);
}

size_t cd_status_device_count(const struct cd_status *s)
{
	return s->ndev;
}

size_t cd_status_conn_count(const struct cd_status *s)
{
	return s->nconn;
}

void cd_status_clear_connections(struct cd_status *s)
{
	s->nconn = 0;
}

/* LE address types 0x00..0x03 (7.8.5): identity types fold onto their base. */
static enum dev_kind le_kind(uint8_t addr_type)
{
	return (addr_type & 1) ? DEV_LE_RANDOM : DEV_LE_PUBLIC;
}

static struct device *dev_get(struct cd_status *s, const struct bdaddr *a,
			      enum dev_kind kind, uint64_t now)
{
	struct device *d;
	size_t i;

	for (i = 0; i < s->ndev; i++) {
		d = &s->dev[i];
		if (d->kind == kind && bdaddr_eq(&d->addr, a))
			goto seen;
	}
	if (s->ndev >= CD_STATUS_MAX_DEVICES) {
		s->dev_dropped++;
		return NULL;
	}
	d = &s->dev[s->ndev++];
	memset(d, 0, sizeof(*d));
	d->addr = *a;
	d->kind = kind;
seen:
	d->last_seen_us = now;
	return d;
}

static void dev_rssi(struct device *d, int8_t rssi)
{
	if (!d || rssi == RSSI_NONE)
		return;
	d->has_rssi = true;
	d->rssi = rssi;
}

static void dev_name(struct device *d, const uint8_t *name, size_t len,
		     bool complete)
{
	if (!d || !len || len > CD_STATUS_NAME_MAX)
		return;
	/* A shortened name never replaces a complete one. */
	if (!complete && d->name_complete)
		return;
	memcpy(d->name, name, len);
	d->name_len = len;
	d->name_complete = complete;
}

/*
 * The name in EIR or advertising data: a sequence of (length, type, data)
 * structures; a zero length ends the significant part (Core Vol 3 Part C
 * 8 and 11). A structure running past the end makes the whole block
 * unusable: nothing is taken from it.
 */
static void ad_name(struct device *d, const uint8_t *p, size_t len)
{
	const uint8_t *name = NULL;
	bool complete = false;
	size_t name_len = 0;
	struct cur c, e;
	uint8_t n, type;

	cur_init(&c, p, len);
	while (cur_left(&c)) {
		n = cur_u8(&c);
		if (!n)
			break;
		e = cur_sub(&c, n);
		if (!cur_is_ok(&c))
			return;
		type = cur_u8(&e);
		if ((type == AD_NAME_COMPLETE ||
		     (type == AD_NAME_SHORT && !complete)) && cur_left(&e)) {
			name_len = cur_left(&e);
			name = cur_bytes(&e, name_len);
			complete = type == AD_NAME_COMPLETE;
		}
	}
	if (name)
		dev_name(d, name, name_len, complete);
}

/* Inquiry Result (7.7.2) and Inquiry Result with RSSI (7.7.33). */
static int ev_inquiry(struct cd_status *s, const struct h4_pkt *pkt,
		      bool with_rssi, uint64_t now)
{
	struct cur c;
	size_t n, per, i;
	int pass;

	cur_init(&c, pkt->evt.param, pkt->evt.plen);
	n = cur_u8(&c);
	if (!cur_is_ok(&c) || !n)
		return -EBADMSG;
	/*
	 * The spec lists the fields as arrays, but controllers and every host
	 * (BlueZ's struct inquiry_info) send one record per response; with
	 * Num_Responses 1, the usual case, the two agree. Inquiry Result with
	 * RSSI also comes in a 15-byte form carrying Page_Scan_Mode, which
	 * BlueZ accepts from older controllers; the length tells them apart.
	 */
	if (cur_left(&c) == n * 14)
		per = 14;
	else if (with_rssi && cur_left(&c) == n * 15)
		per = 15;
	else
		return -EBADMSG;
	for (pass = 0; pass < 2; pass++) {
		cur_init(&c, pkt->evt.param + 1, pkt->evt.plen - 1u);
		for (i = 0; i < n; i++) {
			struct cur r = cur_sub(&c, per);
			struct bdaddr a;
			struct device *d;

			cur_copy(&r, a.b, 6);
			if (!pass)
				continue;
			d = dev_get(s, &a, DEV_BREDR, now);
			if (with_rssi)
				dev_rssi(d, (int8_t)r.p[per - 1]);
		}
		if (!cur_is_done(&c))
			return -EBADMSG;
	}
	return 0;
}

/* Extended Inquiry Result (7.7.38): one response, with 240 bytes of EIR. */
static int ev_ext_inquiry(struct cd_status *s, const struct h4_pkt *pkt,
			  uint64_t now)
{
	struct cur c;
	struct bdaddr a;
	struct device *d;
	const uint8_t *eir;
	int8_t rssi;

	cur_init(&c, pkt->evt.param, pkt->evt.plen);
	if (cur_u8(&c) != 1)
		return -EBADMSG;
	cur_copy(&c, a.b, 6);
	cur_skip(&c, 1 + 1 + 3 + 2);	/* PSRM, reserved, CoD, clock offset */
	rssi = (int8_t)cur_u8(&c);
	eir = cur_bytes(&c, 240);
	if (!cur_is_done(&c))
		return -EBADMSG;
	d = dev_get(s, &a, DEV_BREDR, now);
	dev_rssi(d, rssi);
	ad_name(d, eir, 240);
	return 0;
}

/* Remote Name Request Complete (7.7.7): a NUL-terminated UTF-8 name. */
static int ev_remote_name(struct cd_status *s, const struct h4_pkt *pkt,
			  uint64_t now)
{
	const uint8_t *name, *nul;
	struct bdaddr a;
	struct cur c;
	uint8_t status;

	cur_init(&c, pkt->evt.param, pkt->evt.plen);
	status = cur_u8(&c);
	cur_copy(&c, a.b, 6);
	name = cur_bytes(&c, CD_STATUS_NAME_MAX);
	if (!cur_is_done(&c))
		return -EBADMSG;
	if (status)
		return 0;
	nul = memchr(name, 0, CD_STATUS_NAME_MAX);
	dev_name(dev_get(s, &a, DEV_BREDR, now), name,
		 nul ? (size_t)(nul - name) : CD_STATUS_NAME_MAX, true);
	return 0;
}

/* One advertising report's fields, as read by a report format's reader. */
struct adv_rec {
	struct bdaddr a;
	uint8_t type;		/* address type */
	int8_t rssi;
	const uint8_t *data;
	uint8_t dlen;
	bool anonymous;		/* no address to record */
};

/*
 * The reports of one advertising event, each read by read_rec: a first
 * pass checks the whole event (a short one changes nothing), the second
 * records each device, one record per report as BlueZ reads it.
 */
static int adv_reports(struct cd_status *s, struct cur *c, uint64_t now,
		       void (*read_rec)(struct cur *c, struct adv_rec *r))
{
	struct cur start = *c;
	size_t n, i;
	int pass;

	n = cur_u8(c);
	if (!cur_is_ok(c) || !n)
		return -EBADMSG;
	for (pass = 0; pass < 2; pass++) {
		*c = start;
		cur_skip(c, 1);
		for (i = 0; i < n; i++) {
			struct adv_rec r;
			struct device *d;

			read_rec(c, &r);
			if (!pass || !cur_is_ok(c) || r.anonymous)
				continue;
			d = dev_get(s, &r.a, le_kind(r.type), now);
			dev_rssi(d, r.rssi);
			ad_name(d, r.data, r.dlen);
		}
		if (!cur_is_done(c))
			return -EBADMSG;
	}
	return 0;
}

/* LE Advertising Report (7.7.65.2): 10 bytes plus the data per report. */
static void adv_rec_legacy(struct cur *c, struct adv_rec *r)
{
	cur_skip(c, 1);		/* Event_Type */
	r->type = cur_u8(c);
	cur_copy(c, r->a.b, 6);
	r->dlen = cur_u8(c);
	r->data = cur_bytes(c, r->dlen);
	r->rssi = (int8_t)cur_u8(c);
	r->anonymous = false;
}

static int ev_le_adv(struct cd_status *s, struct cur *c, uint64_t now)
{
	return adv_reports(s, c, now, adv_rec_legacy);
}

/* LE Directed Advertising Report (7.7.65.11): 16 bytes per report. */
static int ev_le_direct_adv(struct cd_status *s, struct cur *c, uint64_t now)
{
	size_t n, i;

	n = cur_u8(c);
	if (!cur_is_ok(c) || !n || cur_left(c) != n * 16)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		struct bdaddr a;
		uint8_t type;
		int8_t rssi;

		cur_skip(c, 1);		/* Event_Type */
		type = cur_u8(c);
		cur_copy(c, a.b, 6);
		cur_skip(c, 7);		/* Direct_Address_Type, Direct_Address */
		rssi = (int8_t)cur_u8(c);
		dev_rssi(dev_get(s, &a, le_kind(type), now), rssi);
	}
	return cur_is_done(c) ? 0 : -EBADMSG;
}

/* LE Extended Advertising Report (7.7.65.13): 24 bytes plus the data. */
static void adv_rec_ext(struct cur *c, struct adv_rec *r)
{
	cur_skip(c, 2);		/* Event_Type */
	r->type = cur_u8(c);
	cur_copy(c, r->a.b, 6);
	cur_skip(c, 4);		/* PHYs, SID, Tx_Power */
	r->rssi = (int8_t)cur_u8(c);
	cur_skip(c, 2 + 1 + 6);	/* interval, direct address */
	r->dlen = cur_u8(c);
	r->data = cur_bytes(c, r->dlen);
	/* 0xff: anonymous advertising, no address to record. */
	r->anonymous = r->type == 0xff;
}

static int ev_le_ext_adv(struct cd_status *s, struct cur *c, uint64_t now)
{
	return adv_reports(s, c, now, adv_rec_ext);
}

static void conn_add(struct cd_status *s, uint16_t handle,
		     const struct bdaddr *a, enum dev_kind kind,
		     const char *type, const char *role, uint64_t now)
{
	struct conn *k = NULL;
	size_t i;

	handle &= 0x0fff;
	for (i = 0; i < s->nconn; i++)
		if (s->conn[i].handle == handle)
			k = &s->conn[i];	/* the controller reused it */
	if (!k) {
		if (s->nconn >= CD_STATUS_MAX_CONNS) {
			s->conn_dropped++;
			return;
		}
		k = &s->conn[s->nconn++];
	}
	k->handle = handle;
	k->addr = *a;
	k->kind = kind;
	k->type = type;
	k->role = role;
	k->since_us = now;
}

static void conn_del(struct cd_status *s, uint16_t handle)
{
	size_t i;

	handle &= 0x0fff;
	for (i = 0; i < s->nconn; i++) {
		if (s->conn[i].handle != handle)
			continue;
		memmove(&s->conn[i], &s->conn[i + 1],
			(s->nconn - i - 1) * sizeof(s->conn[0]));
		s->nconn--;
		return;
	}
}

/*
 * Connection Complete (7.7.3) and Synchronous Connection Complete
 * (7.7.35): status, handle, BD_ADDR and link type alike, then one octet
 * (Encryption_Enabled) or seven (the eSCO link's parameters).
 */
static int ev_bredr_conn_complete(struct cd_status *s, const struct h4_pkt *pkt,
				  uint64_t now)
{
	bool sync = pkt->evt.code == HCI_EV_SYNC_CONN_COMPLETE;
	struct cur c;
	struct bdaddr a;
	uint8_t status, link;
	uint16_t handle;
	const char *kind;

	cur_init(&c, pkt->evt.param, pkt->evt.plen);
	status = cur_u8(&c);
	handle = cur_le16(&c);
	cur_copy(&c, a.b, 6);
	link = cur_u8(&c);
	cur_skip(&c, sync ? 1 + 1 + 2 + 2 + 1 : 1);
	if (!cur_is_done(&c))
		return -EBADMSG;
	if (sync)
		kind = link == 0x02 ? "esco" : "sco";
	else
		kind = link == 0x00 ? "sco" : "acl";
	if (!status)
		conn_add(s, handle, &a, DEV_BREDR, kind, "-", now);
	return 0;
}

/* LE Connection Complete and its Enhanced forms (7.7.65.1, .10, .41). */
static int ev_le_conn_complete(struct cd_status *s, struct cur *c,
			       size_t extra, uint64_t now)
{
	struct bdaddr a;
	uint8_t status, role, type;
	uint16_t handle;

	status = cur_u8(c);
	handle = cur_le16(c);
	role = cur_u8(c);
	type = cur_u8(c);
	cur_copy(c, a.b, 6);
	cur_skip(c, extra + 2 + 2 + 2 + 1);
	if (!cur_is_done(c))
		return -EBADMSG;
	if (!status)
		conn_add(s, handle, &a, le_kind(type), "le",
			 role == 0 ? "central" : role == 1 ? "peripheral" : "-",
			 now);
	return 0;
}

static int ev_disconn(struct cd_status *s, const struct h4_pkt *pkt)
{
	struct cur c;
	uint8_t status;
	uint16_t handle;

	cur_init(&c, pkt->evt.param, pkt->evt.plen);
	status = cur_u8(&c);
	handle = cur_le16(&c);
	cur_skip(&c, 1);
	if (!cur_is_done(&c))
		return -EBADMSG;
	if (!status)
		conn_del(s, handle);
	return 0;
}

static int ev_le_meta(struct cd_status *s, const struct h4_pkt *pkt,
		      uint64_t now)
{
	struct cur c;
	uint8_t sub;

	cur_init(&c, pkt->evt.param, pkt->evt.plen);
	sub = cur_u8(&c);
	if (!cur_is_ok(&c))
		return -EBADMSG;
	switch (sub) {
	case HCI_LE_EV_ADV_REPORT:
		return ev_le_adv(s, &c, now);
	case HCI_LE_EV_DIRECT_ADV_REPORT:
		return ev_le_direct_adv(s, &c, now);
	case HCI_LE_EV_EXT_ADV_REPORT:
		return ev_le_ext_adv(s, &c, now);
	case HCI_LE_EV_CONN_COMPLETE:
		return ev_le_conn_complete(s, &c, 0, now);
	case HCI_LE_EV_ENH_CONN_COMPLETE:
		return ev_le_conn_complete(s, &c, 12, now);
	case LE_EV_ENH_CONN_COMPLETE_V2:
		return ev_le_conn_complete(s, &c, 12 + 3, now);
	}
	return 0;
}

int cd_status_controller_pkt(struct cd_status *s, const struct h4_pkt *pkt,
			     uint64_t now_us)
{
	struct h4_cc cc;

	if (pkt->type != H4_EVT)
		return 0;
	switch (pkt->evt.code) {
	case HCI_EV_INQUIRY_RESULT:
		return ev_inquiry(s, pkt, false, now_us);
	case HCI_EV_INQUIRY_RESULT_RSSI:
		return ev_inquiry(s, pkt, true, now_us);
	case HCI_EV_EXT_INQUIRY_RESULT:
		return ev_ext_inquiry(s, pkt, now_us);
	case HCI_EV_REMOTE_NAME:
		return ev_remote_name(s, pkt, now_us);
	case HCI_EV_CONN_COMPLETE:
	case HCI_EV_SYNC_CONN_COMPLETE:
		return ev_bredr_conn_complete(s, pkt, now_us);
	case HCI_EV_DISCONN_COMPLETE:
		return ev_disconn(s, pkt);
	case HCI_EV_LE_META:
		return ev_le_meta(s, pkt, now_us);
	case HCI_EV_CMD_COMPLETE:
		/* A successful Reset drops every connection (7.3.2). */
		if (h4_parse_cc(pkt, &cc) == 0 && cc.opcode == HCI_OP_RESET &&
		    cc.rlen >= 1 && cc.ret[0] == 0)
			cd_status_clear_connections(s);
		return 0;
	}
	return 0;
}

static const char *kind_name(enum dev_kind k)
{
	switch (k) {
	case DEV_BREDR:
		return "bredr";
	case DEV_LE_PUBLIC:
		return "le-public";
	case DEV_LE_RANDOM:
		return "le-random";
	}
	return "?";
}

static void put_time(FILE *f, uint64_t us)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;
	char buf[32];

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, sizeof(buf), "-");
	fputs(buf, f);
}

/* Printable ASCII as is, except the quote and backslash; the rest \xHH. */
static void put_name(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	if (!n) {
		fputc('-', f);
		return;
	}
	fputc('"', f);
	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
	fputc('"', f);
}

static int finish(FILE *f, char **out, size_t *len)
{
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

int cd_status_render_devices(const struct cd_status *s, char **out, size_t *len)
{
	char addr[BDADDR_STRLEN];
	FILE *f;
	size_t i;

	*out = NULL;
	*len = 0;
	f = open_memstream(out, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# %zu devices", s->ndev);
	if (s->dev_dropped)
		fprintf(f, "; table full (%d), %llu sightings of further "
			"devices not recorded", CD_STATUS_MAX_DEVICES,
			(unsigned long long)s->dev_dropped);
	fputs("\n# address type rssi last-seen name\n", f);
	for (i = 0; i < s->ndev; i++) {
		const struct device *d = &s->dev[i];

		fprintf(f, "%s %s ", bdaddr_fmt(&d->addr, addr), kind_name(d->kind));
		if (d->has_rssi)
			fprintf(f, "%d ", d->rssi);
		else
			fputs("- ", f);
		put_time(f, d->last_seen_us);
		fputc(' ', f);
		put_name(f, d->name, d->name_len);
		fputc('\n', f);
	}
	return finish(f, out, len);
}

int cd_status_render_connections(const struct cd_status *s, char **out,
				 size_t *len)
{
	char addr[BDADDR_STRLEN];
	FILE *f;
	size_t i;

	*out = NULL;
	*len = 0;
	f = open_memstream(out, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# %zu connections", s->nconn);
	if (s->conn_dropped)
		fprintf(f, "; table full (%d), %llu not recorded",
			CD_STATUS_MAX_CONNS, (unsigned long long)s->conn_dropped);
	fputs("\n# handle type address address-type role since\n", f);
	for (i = 0; i < s->nconn; i++) {
		const struct conn *k = &s->conn[i];

		fprintf(f, "0x%04x %s %s %s %s ", k->handle, k->type,
			bdaddr_fmt(&k->addr, addr), kind_name(k->kind), k->role);
		put_time(f, k->since_us);
		fputc('\n', f);
	}
	return finish(f, out, len);
}
