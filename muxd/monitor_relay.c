/* SPDX-License-Identifier: MIT */
/*
 * The monitor's relay registration key (doc/relay.md, "Integration" and
 * "Registration key"): loaded after the forks, its certificate's end
 * watched, and each registration the front asks for signed and audited.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "homeid.h"
#include "log.h"
#include "monitor.h"
#include "rpc.h"

/*
 * The registration certificate's end (REGISTER2): warned about from
 * RELAYSIGN_WARN_DAYS before, at start and once a day, with what to do;
 * after it, relays refuse the registration, so that is an error.
 */
static void mon_relay_cert_check(struct muxd_monitor *m)
{
	int32_t days = relaysign_days_left(&m->relaysign, (int64_t)time(NULL));
	time_t na = (time_t)m->relaysign.cred.not_after;
	char when[32] = "?";
	struct tm tm;

	if (days == INT32_MAX)
		return;
	if (gmtime_r(&na, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	if (days < 0)
		log_err("relay: relay-cert %s expired on %s: relays refuse the home's "
			"registration. Where the CA key is, run bgw-authdb ca relay-key, "
			"copy relay.key and relay.crt to relay-key and relay-cert here, and "
			"restart bgw-muxd", m->d.conf.relay_cert, when);
	else if (days < RELAYSIGN_WARN_DAYS)
		log_warn("relay: relay-cert %s expires on %s (in %d day%s): where the CA "
			 "key is, run bgw-authdb ca relay-key, copy relay.key and "
			 "relay.crt to relay-key and relay-cert here, and restart "
			 "bgw-muxd", m->d.conf.relay_cert, when, (int)days,
			 days == 1 ? "" : "s");
}

static void relay_cert_timer_fn(struct loop_timer *t, void *user)
{
	mon_relay_cert_check(user);
	loop_timer_arm(t, 86400ull * 1000000);
}

/*
 * The relay registration key (doc/relay.md, "Integration"), read after
 * the forks: the CA's key (REGISTER), whose id must be the CA
 * certificate's, or with relay-cert a registration key the CA certified
 * (REGISTER2), checked here as relays check it.
 */
int mon_relay_key_load(struct muxd_monitor *m)
{
	const char *kpath = m->d.conf.relay_key, *cpath = m->d.conf.relay_cert;
	uint8_t id[RMSG_ID_LEN];
	gnutls_datum_t pem = { NULL, 0 };
	int r;

	r = relaysign_load(&m->relaysign, kpath);
	if (r < 0) {
		log_err("relay: relay-key %s: %s; it is %s", kpath,
			r == -ENOENT ? "cannot be read" : "not a PEM private key",
			cpath[0] ? "the registration key bgw-authdb ca relay-key wrote" :
			"the CA's key (bgw-authdb ca init wrote it beside ca.crt)");
		return r;
	}
	if (cpath[0]) {
		r = relaysign_load_cert(&m->relaysign, m->d.conf.ca_file, cpath);
		if (r < 0) {
			log_err("relay: relay-cert %s with relay-key %s under the CA in %s: %s. "
				"Issue the pair again with bgw-authdb ca relay-key where the "
				"CA key is", cpath, kpath, m->d.conf.ca_file,
				r == -ENOENT ? "a file cannot be read" :
				r == -ENOKEY ? "the certificate is not signed by this CA" :
				rsign_why(r));
			relaysign_free(&m->relaysign);
			return r;
		}
		mon_relay_cert_check(m);
		m->relay_cert_timer = loop_timer_new(m->d.l, relay_cert_timer_fn, m);
		if (!m->relay_cert_timer) {
			relaysign_free(&m->relaysign);
			return -ENOMEM;
		}
		loop_timer_arm(m->relay_cert_timer, 86400ull * 1000000);
		return 0;
	}
	r = gnutls_load_file(m->d.conf.ca_file, &pem) < 0 ? -EIO :
	    homeid_from_cert_pem((const char *)pem.data, pem.size, id);
	gnutls_free(pem.data);
	if (r == 0 && memcmp(id, m->relaysign.id, RMSG_ID_LEN))
		r = -EKEYREJECTED;
	if (r < 0) {
		log_err("relay: relay-key %s is not the key of the CA in %s: relays "
			"would not take its registrations (a registration key needs "
			"relay-cert)", kpath, m->d.conf.ca_file);
		relaysign_free(&m->relaysign);
	}
	return r;
}

/*
 * A relay registration for the front (RPC_RELAY_SIGN; muxd/relaysign.h
 * bounds it). Each signature is audited, with the relay as the source (at
 * most relaysign's rate); a refusal is only logged, since a sane front
 * never asks for one and an audit record per request would let a
 * subverted front flood the log.
 */
int mon_relay_sign(struct muxd_monitor *m, const struct rpc_req *q, struct rpc_reply *rep)
{
	struct audit_fields f = { .src = q->detail, .detail = "signed", .uid = -1 };
	int r;

	r = relaysign_answer(&m->relaysign, q->blob, q->blob_len, muxd_now_ms(), rep->blob,
			     sizeof(rep->blob));
	rep->blob_len = r > 0 ? (size_t)r : 0;
	if (r > 0)
		mon_audit_fields(m, AUDIT_RELAY_REGISTER, &f);
	else
		log_warn("relay: registration with %s not signed: %s", q->detail,
			 strerror(-r));
	return r > 0 ? 0 : r;
}
