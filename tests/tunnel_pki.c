/* SPDX-License-Identifier: MIT */
/* The tunnel tests' PKI (tests/tunnel_pki.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "tunnel_pki.h"

static char pki[256];

const char *tpki_path(const char *name)
{
	static char buf[4][320];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki, name);
	return buf[i];
}

void tpki_setup(void)
{
	const char *src = getenv("BGW_SRCDIR");
	char cmd[600];

	snprintf(pki, sizeof(pki), "/tmp/bgw-tunnel-pki.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(pki));
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/tunnel_certs.sh' '%s'",
		 src ? src : "..", pki);
	ck_assert_int_eq(system(cmd), 0);
}

void tpki_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pki);
}
