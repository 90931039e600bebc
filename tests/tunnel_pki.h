/* SPDX-License-Identifier: MIT */
/*
 * The tunnel tests' PKI: tests/tunnel_certs.sh run into a temporary
 * directory (a CA, the server's certificate and key, client certificates),
 * as an unchecked Check fixture of the test case that needs it.
 */
#ifndef BGW_TESTS_TUNNEL_PKI_H
#define BGW_TESTS_TUNNEL_PKI_H

void tpki_setup(void);
void tpki_teardown(void);
/* A file of the PKI by name ("ca.crt"); the last four results stay valid. */
const char *tpki_path(const char *name);

#endif
