# relay/: bgw-relay, the rendezvous and relay for homes behind NATs.
# librelay: the message codec, the home id and the engine (no sockets);
# linked by bgw-relay, its tests, and later by the gateway and the CD client.
noinst_LIBRARIES += relay/librelay.a
relay_librelay_a_SOURCES = \
	relay/rmsg.c relay/rmsg.h \
	relay/relay.c relay/relay.h \
	relay/rsign.c relay/rsign.h
relay_librelay_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
RELAY_CFLAGS = -I$(top_srcdir)/relay $(GNUTLS_CFLAGS)
RELAY_LIBS = relay/librelay.a lib/libbgw.a $(GNUTLS_LIBS)

check_PROGRAMS += tests/check_relay
TESTS += tests/check_relay
tests_check_relay_SOURCES = tests/check_relay.c
tests_check_relay_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(RELAY_CFLAGS)
tests_check_relay_LDADD = tests/libcheckmain.a $(RELAY_LIBS) $(CHECK_LIBS)

sbin_PROGRAMS += relay/bgw-relay
relay_bgw_relay_SOURCES = relay/main.c
relay_bgw_relay_CFLAGS = $(AM_CFLAGS) $(RELAY_CFLAGS)
relay_bgw_relay_LDADD = $(RELAY_LIBS)

# A gateway and a CD speaking the relay protocol, for tests/t-relay-netns.sh.
check_PROGRAMS += tests/relay-client
tests_relay_client_SOURCES = tests/relay_client.c
tests_relay_client_CFLAGS = $(AM_CFLAGS) $(RELAY_CFLAGS)
tests_relay_client_LDADD = $(RELAY_LIBS)

# A relay that flips bits, replays, reorders and drops, for t-relay-faults.sh.
check_PROGRAMS += tests/faulty-fwd
tests_faulty_fwd_SOURCES = tests/faulty_fwd.c

TESTS += tests/t-relay-netns.sh tests/t-relay-muxd.sh tests/t-relay-faults.sh tests/t-relay-spread.sh
EXTRA_DIST += tests/netns-nat.sh tests/bench/relay-paths
EXTRA_DIST += tests/t-relay-netns.sh tests/t-relay-muxd.sh tests/t-relay-faults.sh tests/t-relay-spread.sh

dist_doc_DATA += doc/relay.md
