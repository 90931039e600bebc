/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <stddef.h>

#include "name.h"

bool auth_name_is_valid(const char *name)
{
	size_t i;

	if (!name || !name[0])
		return false;
	if (!(islower((unsigned char)name[0]) || name[0] == '_'))
		return false;
	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= AUTH_NAME_MAX)
			return false;
		if (!(islower(c) || isdigit(c) || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}
