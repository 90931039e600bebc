# authdb/: users, credentials, ACLs (issue 6).
# libauthdb: the authdb parser/writer and queries, SCRAM-SHA-256, the CA,
# the audit log and the login rate limiter; linked by bgw-authdb and by the
# daemons that enforce it.
noinst_LIBRARIES += authdb/libauthdb.a
authdb_libauthdb_a_SOURCES = \
	authdb/authdb.c authdb/authdb.h \
	authdb/b64.c authdb/b64.h \
	authdb/scram.c authdb/scram.h
authdb_libauthdb_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/authdb
authdb_libauthdb_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)

AUTHDB_CHECK_LDADD = tests/libcheckmain.a authdb/libauthdb.a lib/libbgw.a \
	$(GNUTLS_LIBS) $(CHECK_LIBS)
AUTHDB_CHECK_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
AUTHDB_CHECK_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/authdb

authdb_tests = \
	tests/check_authdb_parse \
	tests/check_authdb_scram
check_PROGRAMS += $(authdb_tests)
TESTS += $(authdb_tests)

tests_check_authdb_parse_SOURCES = tests/check_authdb_parse.c
tests_check_authdb_parse_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_parse_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_parse_LDADD = $(AUTHDB_CHECK_LDADD)
tests_check_authdb_scram_SOURCES = tests/check_authdb_scram.c
tests_check_authdb_scram_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_scram_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_scram_LDADD = $(AUTHDB_CHECK_LDADD)
