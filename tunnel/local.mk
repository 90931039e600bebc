# libtunnel: the secure tunnel (issue 5), shared by bgw-muxd and bgw-cdclient.
noinst_LIBRARIES += tunnel/libtunnel.a
tunnel_libtunnel_a_SOURCES = \
	tunnel/msg.c tunnel/msg.h \
	tunnel/rel.c tunnel/rel.h
# Users (mux/, cdclient/) compile with $(TUNNEL_CFLAGS) and link
# tunnel/libtunnel.a lib/libbgw.a $(GNUTLS_LIBS).
TUNNEL_CFLAGS = -I$(top_srcdir)/tunnel $(GNUTLS_CFLAGS)
tunnel_libtunnel_a_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)

TUN_CHECK_LDADD = tests/libcheckmain.a tunnel/libtunnel.a lib/libbgw.a \
	$(GNUTLS_LIBS) $(CHECK_LIBS)
TUN_CHECK_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(TUNNEL_CFLAGS)

tunnel_tests = \
	tests/check_tunnel_msg \
	tests/check_tunnel_rel
check_PROGRAMS += $(tunnel_tests)
TESTS += $(tunnel_tests)

tests_check_tunnel_msg_SOURCES = tests/check_tunnel_msg.c
tests_check_tunnel_msg_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_msg_LDADD = $(TUN_CHECK_LDADD)
tests_check_tunnel_rel_SOURCES = tests/check_tunnel_rel.c
tests_check_tunnel_rel_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_rel_LDADD = $(TUN_CHECK_LDADD)
