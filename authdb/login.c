/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "login.h"
#include "scram.h"

enum login_state { LOGIN_FIRST, LOGIN_FINAL, LOGIN_DONE };

struct login_server {
	struct login_params p;
	struct scram_server *scram;
	enum login_state st;
	char src[AUDIT_VALUE_MAX + 1];
	char user[SCRAM_USER_MAX + 1];
	bool ok;
};

int login_server_new(struct login_server **out, const struct login_params *p)
{
	struct login_server *l;
	int ret;

	if (!out || !p || !p->db || !p->secret || !p->src)
		return -EINVAL;
	*out = NULL;
	if (strlen(p->src) > AUDIT_VALUE_MAX)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	ret = scram_server_new(&l->scram, p->cb, p->cb_len, NULL);
	if (ret) {
		free(l);
		return ret;
	}
	l->p = *p;
	snprintf(l->src, sizeof(l->src), "%s", p->src);
	l->p.src = l->src;
	authdb_ref(l->p.db);
	*out = l;
	return 0;
}

void login_server_free(struct login_server *l)
{
	if (!l)
		return;
	scram_server_free(l->scram);
	authdb_free(l->p.db);
	explicit_bzero(l, sizeof(*l));
	free(l);
}

const char *login_server_user(const struct login_server *l)
{
	return l && l->ok ? l->user : NULL;
}

static void audit(struct login_server *l, enum audit_event ev, const char *detail)
{
	struct audit_fields f = { .user = l->user[0] ? l->user : NULL,
				  .src = l->src, .detail = detail, .uid = -1 };
	int ret;

	/* Events also go to the log (the daemon's syslog). */
	log_notice("%s user=%s src=%s %s", audit_event_name(ev),
		   l->user[0] ? l->user : "-", l->src, detail);
	if (!l->p.audit)
		return;
	ret = audit_append(l->p.audit, ev, &f);
	if (ret)
		log_err("audit: cannot record %s: %s", audit_event_name(ev),
			strerror(-ret));
}

/* A failure: count it against both keys and record it. */
static void failed(struct login_server *l, const char *why)
{
	if (l->p.by_src)
		ratelimit_failure(l->p.by_src, l->src, strlen(l->src), l->p.now_ms);
	if (l->p.by_user && l->user[0])
		ratelimit_failure(l->p.by_user, l->user, strlen(l->user), l->p.now_ms);
	audit(l, AUDIT_LOGIN_FAIL, why);
}

static bool limited(struct login_server *l)
{
	uint64_t wait;
	size_t n = strlen(l->src);

	if (l->p.by_src && n && n <= RATELIMIT_KEY_MAX &&
	    ratelimit_check(l->p.by_src, l->src, n, l->p.now_ms, &wait))
		return true;
	n = strlen(l->user);
	return l->p.by_user && n && n <= RATELIMIT_KEY_MAX &&
	       ratelimit_check(l->p.by_user, l->user, n, l->p.now_ms, &wait);
}

static int reply(char *out, size_t cap, size_t *out_len, const char *msg)
{
	int n = snprintf(out, cap, "%s", msg);

	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	*out_len = (size_t)n;
	return 0;
}

int login_server_step(struct login_server *l, const char *in, size_t in_len,
		      char *out, size_t cap, size_t *out_len)
{
	struct scram_verifier v;
	bool real = false;
	int ret;

	if (!l || !out || !out_len || l->st == LOGIN_DONE)
		return -EINVAL;
	*out_len = 0;
	if (l->st == LOGIN_FIRST) {
		l->st = LOGIN_DONE;
		ret = scram_server_recv_first(l->scram, in, in_len);
		if (ret) {
			failed(l, ret == -EPROTO ? "channel binding refused" :
			       "malformed client-first");
			reply(out, cap, out_len, ret == -EPROTO ?
			      "e=server-does-support-channel-binding" : "e=other-error");
			return ret == -EPROTO ? -EACCES : -EBADMSG;
		}
		snprintf(l->user, sizeof(l->user), "%s", scram_server_user(l->scram));
		if (limited(l)) {
			audit(l, AUDIT_LOGIN_LIMITED, "rate limited");
			reply(out, cap, out_len, "e=other-error");
			return -EAGAIN;
		}
		ret = authdb_scram_lookup(l->p.db, l->user, l->p.secret,
					  l->p.secret_len, &v, &real);
		if (!ret)
			ret = scram_server_first(l->scram, &v, real, out, cap, out_len);
		scram_verifier_wipe(&v);
		if (ret)
			return ret;
		l->st = LOGIN_FINAL;
		return 1;
	}
	l->st = LOGIN_DONE;
	ret = scram_server_final(l->scram, in, in_len, out, cap, out_len);
	if (ret == 0) {
		l->ok = true;
		if (l->p.by_src)
			ratelimit_success(l->p.by_src, l->src, strlen(l->src));
		if (l->p.by_user)
			ratelimit_success(l->p.by_user, l->user, strlen(l->user));
		audit(l, AUDIT_LOGIN_OK, "password");
		return 0;
	}
	failed(l, ret == -EBADMSG ? "malformed client-final" : "password refused");
	return ret;
}
