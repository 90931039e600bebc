/* SPDX-License-Identifier: MIT */
/*
 * Logging. Tools write to stderr, daemons to syslog (which the journal
 * collects); library code calls log_msg() and never knows which, and tests
 * inject a handler to capture lines. Priorities are syslog's.
 *
 * Every line is made safe before it is written: control characters
 * (a newline in a device name sent by a peer) become '?', so a peer cannot
 * forge log lines.
 */
#ifndef BGW_LOG_H
#define BGW_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
};

typedef void (*log_fn)(int prio, const char *line, void *user);

void log_open(const char *ident, enum log_target target);
void log_close(void);
/*
 * Syslog's socket anew, after a process closed every descriptor it
 * inherited (the old one among them).
 */
void log_reopen(void);
void log_set_level(int prio);
int log_get_level(void);
bool log_is_enabled(int prio);
/* A handler replaces the target (NULL restores it). */
void log_set_handler(log_fn fn, void *user);
/* Parse "err", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s);

void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)						\
	do {							\
		if (log_is_enabled(LOG_DEBUG))			\
			log_msg(LOG_DEBUG, __VA_ARGS__);	\
	} while (0)

#endif /* BGW_LOG_H */
