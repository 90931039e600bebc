# auth/: the authentication primitives both ends use without the user
# database -- SCRAM-SHA-256 (client and server halves), base64, the user
# name rule and the enrolment bundle. Below tunnel/, authdb/, cdclient/ and
# mux/; above lib/ only.
noinst_LIBRARIES += auth/libbgwauth.a
auth_libbgwauth_a_SOURCES = \
	auth/b64.c auth/b64.h \
	auth/bundle.c auth/bundle.h \
	auth/name.c auth/name.h \
	auth/scram.c auth/scram.h
# Users compile with $(AUTH_CFLAGS) and link $(AUTH_LIBS).
AUTH_CFLAGS = -I$(top_srcdir)/auth $(GNUTLS_CFLAGS)
AUTH_LIBS = auth/libbgwauth.a lib/libbgw.a $(GNUTLS_LIBS)
auth_libbgwauth_a_CFLAGS = $(AM_CFLAGS) $(AUTH_CFLAGS)
