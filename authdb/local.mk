# authdb/: users, credentials, ACLs.
# libauthdb: the authdb parser/writer and queries, the CA, the audit log
# and the login rate limiter; linked by bgw-authdb and by the daemon that
# enforces it. SCRAM and the bundle format are auth/'s (libbgwauth).
noinst_LIBRARIES += authdb/libauthdb.a
authdb_libauthdb_a_SOURCES = \
	authdb/authdb.c authdb/authdb.h authdb/authdb_int.h \
	authdb/authdb_parse.c authdb/authdb_query.c authdb/authdb_edit.c \
	authdb/authdb_file.c \
	authdb/bonds.c authdb/bonds.h \
	authdb/audit.c authdb/audit.h \
	authdb/ca.c authdb/ca.h \
	authdb/login.c authdb/login.h \
	authdb/pwcheck.c authdb/pwcheck.h \
	authdb/ratelimit.c authdb/ratelimit.h
authdb_libauthdb_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/authdb -I$(top_srcdir)/auth
authdb_libauthdb_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(PWQUALITY_CFLAGS)

AUTHDB_CHECK_LDADD = tests/libcheckmain.a authdb/libauthdb.a $(AUTH_LIBS) \
	$(PWQUALITY_LIBS) $(ZXCVBN_LIBS) $(CHECK_LIBS)
AUTHDB_CHECK_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
AUTHDB_CHECK_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/authdb -I$(top_srcdir)/auth

authdb_tests = \
	tests/check_authdb_parse \
	tests/check_authdb_scram \
	tests/check_authdb_audit \
	tests/check_authdb_ratelimit \
	tests/check_authdb_pwcheck \
	tests/check_authdb_ca \
	tests/check_authdb_login \
	tests/check_authdb_bonds
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
tests_check_authdb_audit_SOURCES = tests/check_authdb_audit.c
tests_check_authdb_audit_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_audit_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_audit_LDADD = $(AUTHDB_CHECK_LDADD)
tests_check_authdb_ratelimit_SOURCES = tests/check_authdb_ratelimit.c
tests_check_authdb_ratelimit_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_ratelimit_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_ratelimit_LDADD = $(AUTHDB_CHECK_LDADD)
tests_check_authdb_pwcheck_SOURCES = tests/check_authdb_pwcheck.c
tests_check_authdb_pwcheck_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_pwcheck_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_pwcheck_LDADD = $(AUTHDB_CHECK_LDADD)
tests_check_authdb_ca_SOURCES = tests/check_authdb_ca.c
tests_check_authdb_ca_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_ca_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_ca_LDADD = $(AUTHDB_CHECK_LDADD)
tests_check_authdb_login_SOURCES = tests/check_authdb_login.c
tests_check_authdb_login_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_login_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_login_LDADD = $(AUTHDB_CHECK_LDADD)
tests_check_authdb_bonds_SOURCES = tests/check_authdb_bonds.c
tests_check_authdb_bonds_CPPFLAGS = $(AUTHDB_CHECK_CPPFLAGS)
tests_check_authdb_bonds_CFLAGS = $(AUTHDB_CHECK_CFLAGS)
tests_check_authdb_bonds_LDADD = $(AUTHDB_CHECK_LDADD)

# bgw-authdb: the admin's tool, one file per subcommand group.
sbin_PROGRAMS += authdb/bgw-authdb
authdb_bgw_authdb_SOURCES = \
	authdb/bgw-authdb.c authdb/cli.c authdb/cli.h \
	authdb/cmd_user.c authdb/cmd_acl.c authdb/cmd_cert.c authdb/cmd_check.c \
	authdb/cmd_bond.c
authdb_bgw_authdb_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/authdb -I$(top_srcdir)/auth
authdb_bgw_authdb_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
authdb_bgw_authdb_LDADD = authdb/libauthdb.a $(AUTH_LIBS) $(PWQUALITY_LIBS) $(ZXCVBN_LIBS)

# End-to-end CLI test (TAP).
TESTS += tests/t-authdb-cli.sh tests/t-authdb-sec.sh tests/t-audit-anchor.sh tests/t-authdb-bonds.sh
EXTRA_DIST += tests/t-authdb-cli.sh tests/t-authdb-sec.sh tests/t-audit-anchor.sh tests/t-authdb-bonds.sh

# Manual pages: the program and the file format.
dist_man_MANS += man/bgw-authdb.8 man/bgw-authdb.5 man/bgw-bonds.5
