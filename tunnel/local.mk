# libtunnel: the secure tunnel, shared by bgw-muxd and bgw-cdclient.
noinst_LIBRARIES += tunnel/libtunnel.a
tunnel_libtunnel_a_SOURCES = \
	tunnel/msg.c tunnel/msg.h \
	tunnel/rel.c tunnel/rel.h \
	tunnel/cookie.c tunnel/cookie.h \
	tunnel/chan.c tunnel/chan.h \
	tunnel/link.c tunnel/link.h \
	tunnel/dtls.c tunnel/tls.c tunnel/front.c tunnel/front.h \
	tunnel/certlogin.c tunnel/certlogin.h \
	tunnel/rpath.c tunnel/rpath.h \
	tunnel/tunnel.c tunnel/tunnel.h tunnel/tunnel_int.h \
	tunnel/wire.c tunnel/session.c tunnel/login.c tunnel/linkio.c \
	tunnel/core.c tunnel/peer.c tunnel/creds.c \
	tunnel/client.c tunnel/client_race.c tunnel/client_login.c \
	tunnel/client_base.c tunnel/client_int.h
# Users (mux/, cdclient/) compile with $(TUNNEL_CFLAGS) and link
# $(TUNNEL_LIBS) (password logins use SCRAM from auth/libbgwauth.a).
# The client's relay path (tunnel/rpath.c) speaks relay/rmsg.h.
TUNNEL_CFLAGS = -I$(top_srcdir)/tunnel -I$(top_srcdir)/relay $(AUTH_CFLAGS)
TUNNEL_LIBS = tunnel/libtunnel.a relay/librelay.a $(AUTH_LIBS)
tunnel_libtunnel_a_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)

TUN_CHECK_LDADD = tests/libcheckmain.a $(TUNNEL_LIBS) $(CHECK_LIBS)
TUN_CHECK_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(TUNNEL_CFLAGS)
# The PKI of the tests that run real handshakes.
TUN_PKI_SOURCES = tests/tunnel_pki.c tests/tunnel_pki.h

tunnel_tests = \
	tests/check_tunnel_msg \
	tests/check_tunnel_rel \
	tests/check_tunnel_link \
	tests/check_tunnel_peer \
	tests/check_tunnel_front \
	tests/check_tunnel_rpath
check_PROGRAMS += $(tunnel_tests)
TESTS += $(tunnel_tests)

tests_check_tunnel_msg_SOURCES = tests/check_tunnel_msg.c
tests_check_tunnel_msg_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_msg_LDADD = $(TUN_CHECK_LDADD)
tests_check_tunnel_rel_SOURCES = tests/check_tunnel_rel.c
tests_check_tunnel_rel_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_rel_LDADD = $(TUN_CHECK_LDADD)
tests_check_tunnel_link_SOURCES = tests/check_tunnel_link.c $(TUN_PKI_SOURCES)
tests_check_tunnel_link_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_link_LDADD = $(TUN_CHECK_LDADD)
tests_check_tunnel_peer_SOURCES = tests/check_tunnel_peer.c $(TUN_PKI_SOURCES)
tests_check_tunnel_peer_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_peer_LDADD = $(TUN_CHECK_LDADD)
tests_check_tunnel_front_SOURCES = tests/check_tunnel_front.c $(TUN_PKI_SOURCES)
tests_check_tunnel_front_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_front_LDADD = $(TUN_CHECK_LDADD)
tests_check_tunnel_rpath_SOURCES = tests/check_tunnel_rpath.c
tests_check_tunnel_rpath_CFLAGS = $(TUN_CHECK_CFLAGS)
tests_check_tunnel_rpath_LDADD = $(TUN_CHECK_LDADD)

EXTRA_DIST += tests/tunnel_certs.sh

# Script tests and their helper.
check_PROGRAMS += tests/tunnel-pair
tests_tunnel_pair_SOURCES = tests/tunnel_pair.c
tests_tunnel_pair_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)
tests_tunnel_pair_LDADD = $(TUNNEL_LIBS)

TESTS += tests/t-tunnel-capture.sh
EXTRA_DIST += tests/t-tunnel-capture.sh

# The protocol specification.
dist_doc_DATA += doc/protocol.md
