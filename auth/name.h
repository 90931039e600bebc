/* SPDX-License-Identifier: MIT */
/*
 * User names as the gateway spells them, the one rule shared by the
 * authdb, the logins (SCRAM) and the enrolment bundle the client reads.
 */
#ifndef BGW_AUTH_NAME_H
#define BGW_AUTH_NAME_H

#include <stdbool.h>

#define AUTH_NAME_MAX	32	/* user and group names, bytes */

/* [a-z_][a-z0-9_.-]*, at most AUTH_NAME_MAX bytes. */
bool auth_name_is_valid(const char *name);

#endif /* BGW_AUTH_NAME_H */
