/* SPDX-License-Identifier: MIT */
/*
 * The monitor's own state (muxd/monitor.h): the authdb, the audit log,
 * the SCRAM secret and the limiters; what a child forked from the monitor
 * must wipe (monitor_forget), and the monitor's end.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keysign.h"
#include "log.h"
#include "monitor.h"
#include "ratelimit.h"
#include "certlogin.h"
#include "tunnel.h"

void monitor_init(struct muxd_monitor *m)
{
	unsigned i;

	memset(m, 0, sizeof(*m));
	m->d.role = MUXD_MONITOR;
	m->d.self = getpid();
	m->d.req_fd = -1;
	m->d.ready_fd = -1;
	m->d.null_fd = -1;
	m->push_fd = -1;
	m->core_pid = -1;
	m->front_pid = -1;
	m->ifd = -1;
	m->lock_fd = -1;
	m->ctl_fd = -1;
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		m->lfd[i] = -1;
}

int load_authdb(struct muxd_monitor *m)
{
	struct authdb *db = NULL;
	char err[AUTHDB_ERR_MAX];
	int r;

	r = authdb_load(m->d.conf.authdb, 0, &db, err, sizeof(err));
	if (r < 0) {
		char detail[AUDIT_VALUE_MAX];

		if (r == -ENOENT)	/* a fresh install: say what makes one */
			log_err("authdb %s refused: %s: bgw-authdb --db %s user add NAME creates it (bgw-authdb(8))",
				m->d.conf.authdb, err, m->d.conf.authdb);
		else
			log_err("authdb %s refused: %s", m->d.conf.authdb, err);
		/* The audit keeps a bounded excerpt; the log has all of it. */
		snprintf(detail, sizeof(detail), "refused: %.200s", err);
		mon_audit(m, AUDIT_AUTHDB_RELOAD, NULL, NULL, detail);
		return r;
	}
	/* Swap only a fully parsed table (the old one stays on error). */
	authdb_free(m->db);
	m->db = db;
	return 0;
}


/*
 * The monitor writes one audit record, and anchors the chain outside the
 * file: every record's count and head MAC go to syslog/the journal too,
 * where whoever later truncates or rewrites the log file (and its anchor
 * file) cannot reach them; `bgw-authdb audit verify --head COUNT:HEAD`
 * checks the file against any such line.
 */
void mon_audit_fields(struct muxd_monitor *m, enum audit_event ev,
		      const struct audit_fields *f)
{
	char head[AUDIT_HEX + 1];
	unsigned long seq;
	int r;

	if (!m->audit)
		return;
	r = audit_append(m->audit, ev, f);
	if (r < 0) {
		log_err("audit log %s: %s: %s", m->d.conf.audit_log,
			audit_event_name(ev), strerror(-r));
		return;
	}
	audit_head(m->audit, &seq, head);
	log_info("audit record %lu %s%s%s%s%s, head %lu:%s", seq, audit_event_name(ev),
		 f->user ? " user=" : "", f->user ? f->user : "",
		 f->src ? " src=" : "", f->src ? f->src : "", seq, head);
}


void mon_audit(struct muxd_monitor *m, enum audit_event ev, const char *user,
	       const char *src, const char *detail)
{
	struct audit_fields f = { .user = user, .src = src, .detail = detail, .uid = -1 };

	mon_audit_fields(m, ev, &f);
}

/* The monitor's part of the tunnel: the secret, the audit, the limiters. */
int tunnel_prepare(struct muxd_monitor *m)
{
	static const struct ratelimit_policy pol_src = RATELIMIT_POLICY_SOURCE;
	static const struct ratelimit_policy pol_user = RATELIMIT_POLICY_USER;
	int r;

	if (tunnel_check_files(&m->d.conf) < 0)
		return -EPERM;
	r = authdb_secret_load(m->d.conf.scram_secret, m->secret, sizeof(m->secret));
	if (r < 0) {
		log_err("tunnel: scram-secret %s: %s", m->d.conf.scram_secret, strerror(-r));
		return r;
	}
	r = audit_open(m->d.conf.audit_log, &m->audit);
	if (r < 0) {
		log_err("tunnel: audit-log %s: %s", m->d.conf.audit_log, strerror(-r));
		return r;
	}
	m->rl_src = ratelimit_new(RATELIMIT_SLOTS, &pol_src);
	m->rl_user = ratelimit_new(RATELIMIT_SLOTS, &pol_user);
	m->known_src = ratelimit_new(RATELIMIT_SLOTS, &pol_user);
	m->known_host = ratelimit_new(RATELIMIT_SLOTS, &pol_user);
	if (!m->rl_src || !m->rl_user || !m->known_src || !m->known_host)
		return -ENOMEM;
	return 0;
}


/* What only the monitor may hold: wiped and freed. */
static void monitor_free_secrets(struct muxd_monitor *m)
{
	authdb_free(m->db);
	m->db = NULL;
	ratelimit_free(m->rl_src);
	m->rl_src = NULL;
	ratelimit_free(m->rl_user);
	m->rl_user = NULL;
	ratelimit_free(m->known_src);
	m->known_src = NULL;
	ratelimit_free(m->known_host);
	m->known_host = NULL;
	audit_close(m->audit);
	m->audit = NULL;
	explicit_bzero(m->secret, sizeof(m->secret));
	keysign_free(m->key);
	m->key = NULL;
	tun_certca_free(m->certca);
	m->certca = NULL;
	relaysign_free(&m->relaysign);
}

void monitor_forget(struct muxd_monitor *m)
{
	unsigned i;

	monitor_free_secrets(m);
	/* The child took what it needs of these into its own struct. */
	for (i = 0; i < MUXD_LISTEN_MAX; i++)
		m->lfd[i] = -1;
	if (m->ctl_fd >= 0)
		close(m->ctl_fd);
	m->ctl_fd = -1;
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
	if (m->push_fd >= 0)
		close(m->push_fd);
	m->push_fd = -1;
}

void monitor_cleanup(struct muxd_monitor *m)
{
	unsigned i;

	monitor_free_secrets(m);
	for (i = 0; i < MUXD_LISTEN_MAX; i++) {
		if (m->lfd[i] < 0)
			continue;
		close(m->lfd[i]);
		if (m->core_pid < 0)
			unlink(m->d.conf.listen[i]);
		m->lfd[i] = -1;
	}
	loop_timer_free(m->ireload);
	m->ireload = NULL;
	loop_timer_free(m->kill_timer);
	m->kill_timer = NULL;
	if (m->ifd >= 0) {
		loop_del_fd(m->d.l, m->ifd);
		close(m->ifd);
		m->ifd = -1;
	}
	if (m->push_fd >= 0)
		close(m->push_fd);
	m->push_fd = -1;
	/* The lock goes with the last descriptor of it: the monitor's. */
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
}
