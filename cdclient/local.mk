# cdclient/: bgw-cdclient, the control-device client.
noinst_LIBRARIES += cdclient/libcd.a
cdclient_libcd_a_SOURCES = \
	cdclient/endpoint.c cdclient/endpoint.h \
	cdclient/expose.c cdclient/expose.h \
	cdclient/expose_cuse.c \
	cdclient/expose_fuse.c \
	cdclient/expose_sock.c \
	cdclient/expose_vhci.c \
	cdclient/hub.c cdclient/hub.h \
	cdclient/pktfile.c cdclient/pktfile.h \
	cdclient/remote.c cdclient/remote.h cdclient/remote_int.h \
	cdclient/remote_tunnel.c cdclient/remote_tunnel.h \
	cdclient/status.c cdclient/status.h
cdclient_libcd_a_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(TUNNEL_CFLAGS)

# Seamless mode (--local): the merge core over a controller transport of
# mux/libmuxtr.a and the gateway's upstream. Its own library so that the
# unit tests linking libcd.a need neither the merge nor the transports.
noinst_LIBRARIES += cdclient/libcdmerge.a
cdclient_libcdmerge_a_SOURCES = \
	cdclient/remote_merge.c cdclient/remote_merge.h
cdclient_libcdmerge_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/merge -I$(top_srcdir)/mux

bin_PROGRAMS += cdclient/bgw-cdclient
cdclient_bgw_cdclient_SOURCES = cdclient/main.c
cdclient_bgw_cdclient_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(TUNNEL_CFLAGS) \
	$(SYSTEMD_CFLAGS)
cdclient_bgw_cdclient_LDADD = cdclient/libcdmerge.a cdclient/libcd.a \
	merge/libmerge.a mux/libmuxtr.a sim/libsim.a $(TUNNEL_LIBS) $(FUSE3_LIBS) \
	$(SYSTEMD_LIBS) $(SMP_CRYPTO_LIBS)

dist_man_MANS += man/bgw-cdclient.1

# Integration tests on loopback against bgw-sim; the scripted host is Python.
TESTS += tests/t-cd-sock.sh tests/t-cd-fuse.sh tests/t-cd-tunnel.sh \
	tests/t-cd-connect.sh tests/t-cd-hostgone.sh tests/t-cd-seamless.sh
EXTRA_DIST += tests/t-cd-sock.sh tests/t-cd-fuse.sh tests/t-cd-tunnel.sh \
	tests/t-cd-connect.sh tests/t-cd-hostgone.sh tests/t-cd-seamless.sh \
	tests/cd_host.py \
	tests/vm/t-cd-vhci.sh tests/vm/t-cd-cuse.sh tests/vm/t-family.sh \
	tests/vm/t-family-unix.sh tests/vm/t-family-sim.sh tests/vm/t-seamless.sh

# Unit tests (Check, TAP through tests/check_main.c).
cd_check_ldadd = tests/libcheckmain.a cdclient/libcd.a lib/libbgw.a \
	$(FUSE3_LIBS) $(CHECK_LIBS)
cd_check_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS) $(FUSE3_CFLAGS)
cd_tests = tests/check_cd_status tests/check_cd_hub
check_PROGRAMS += $(cd_tests)
TESTS += $(cd_tests)
tests_check_cd_status_SOURCES = tests/check_cd_status.c
tests_check_cd_status_CFLAGS = $(cd_check_cflags) -I$(top_srcdir)/cdclient -I$(top_srcdir)/tests
tests_check_cd_status_LDADD = $(cd_check_ldadd)
tests_check_cd_hub_SOURCES = tests/check_cd_hub.c
tests_check_cd_hub_CFLAGS = $(cd_check_cflags) -I$(top_srcdir)/cdclient -I$(top_srcdir)/tests
tests_check_cd_hub_LDADD = $(cd_check_ldadd)

# A stand-in gateway for the tunnel test: tunnel server -> bgw-sim socket.
check_PROGRAMS += tests/cd-tunnel-gw
tests_cd_tunnel_gw_SOURCES = tests/cd_tunnel_gw.c
tests_cd_tunnel_gw_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)
tests_cd_tunnel_gw_LDADD = $(TUNNEL_LIBS)
