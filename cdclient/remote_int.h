/* SPDX-License-Identifier: MIT */
/* The inside of cdclient/remote.h: what each kind of upstream provides. */
#ifndef BGW_CD_REMOTE_INT_H
#define BGW_CD_REMOTE_INT_H

#include "remote.h"

struct cd_remote_ops {
	int (*start)(struct cd_remote *r);
	/* len is 1..CD_PKT_MAX (checked by cd_remote_send). */
	int (*send)(struct cd_remote *r, const uint8_t *h4, size_t len);
	bool (*is_up)(const struct cd_remote *r);
	const char *(*describe)(const struct cd_remote *r);
	const char *(*user)(const struct cd_remote *r);
	void (*stats)(const struct cd_remote *r, struct cd_remote_stats *st);
	void (*free)(struct cd_remote *r);
};

/* Each kind embeds this first. */
struct cd_remote {
	const struct cd_remote_ops *ops;
};

/* CLOCK_REALTIME in microseconds (the "up since" shown to users). */
uint64_t cd_remote_realtime_us(void);

#endif /* BGW_CD_REMOTE_INT_H */
