/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define LOG_LINE_MAX 1024

static struct {
	const char *ident;
	enum log_target target;
	int level;
	log_fn fn;
	void *user;
} logger = { "bgw", LOG_TARGET_STDERR, LOG_INFO, NULL, NULL };

void log_open(const char *ident, enum log_target target)
{
	logger.ident = ident;
	logger.target = target;
	if (target == LOG_TARGET_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_reopen(void)
{
	if (logger.target != LOG_TARGET_SYSLOG)
		return;
	closelog();
	openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (logger.target == LOG_TARGET_SYSLOG)
		closelog();
	logger.target = LOG_TARGET_STDERR;
}

void log_set_level(int prio)
{
	logger.level = prio;
}

int log_get_level(void)
{
	return logger.level;
}

bool log_is_enabled(int prio)
{
	return prio <= logger.level;
}

void log_set_handler(log_fn fn, void *user)
{
	logger.fn = fn;
	logger.user = user;
}

int log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int prio;
	} levels[] = {
		{ "err", LOG_ERR }, { "error", LOG_ERR },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	size_t i;

	for (i = 0; s && i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(s, levels[i].name))
			return levels[i].prio;
	return -EINVAL;
}

static const char *prio_name(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	}
	return "debug";
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	char *p;
	int saved = errno;

	if (!log_is_enabled(prio))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	if (logger.fn)
		logger.fn(prio, line, logger.user);
	else if (logger.target == LOG_TARGET_SYSLOG)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "%s: %s: %s\n", logger.ident, prio_name(prio), line);
	errno = saved;
}
