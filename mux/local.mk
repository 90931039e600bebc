# mux/: the multiplexer. The core (libmux.a) has no sockets and no crypto
# but AES for RPA resolution (lib/rpa.c, GnuTLS) and the LE bond broker's
# SMP (lib/smp_crypto.c, nettle: $(SMP_CRYPTO_LIBS)); the controller
# transports are libmuxtr.a. The daemon, bgw-muxd, is in muxd/.
noinst_LIBRARIES += mux/libmux.a
mux_libmux_a_SOURCES = \
	mux/mux.c mux/mux_base.c mux/mux_bond.c mux/mux_bond_le.c mux/mux_bond_central.c mux/mux_cmd.c mux/mux_conn.c mux/mux_ctrl.c \
	mux/mux_emit.c mux/mux_evt.c mux/mux_reconcile.c mux/mux.h mux/mux_int.h mux/policy.h \
	mux/cmdtab.c mux/cmdtab.h mux/handlemap.c mux/handlemap.h \
	mux/mux_pair.c mux/pair.h
mux_libmux_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)

# Unit tests of the core, against a scripted controller.
mux_check_tests = tests/check_mux_core tests/check_mux_handles
check_PROGRAMS += $(mux_check_tests)
TESTS += $(mux_check_tests)
tests_check_mux_core_SOURCES = tests/check_mux_core.c tests/mux_tctl.c tests/mux_tctl.h
# The authdb only as the policy's IRK source (its device irk lines).
tests_check_mux_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/authdb
tests_check_mux_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(AUTH_CFLAGS)
tests_check_mux_core_LDADD = tests/libcheckmain.a mux/libmux.a authdb/libauthdb.a \
	$(AUTH_LIBS) $(SMP_CRYPTO_LIBS) $(CHECK_LIBS)

tests_check_mux_handles_SOURCES = tests/check_mux_handles.c
tests_check_mux_handles_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_check_mux_handles_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_handles_LDADD = tests/libcheckmain.a mux/libmux.a $(AUTH_LIBS) \
	$(SMP_CRYPTO_LIBS) $(CHECK_LIBS)

# The controller transports on their own (hci:N, h4:, unix:, tcp:, sim):
# bgw-muxd's, and bgw-cdclient --local's (seamless mode). Below both
# programs: needs only sim/libsim.a and lib/libbgw.a.
noinst_LIBRARIES += mux/libmuxtr.a
mux_libmuxtr_a_SOURCES = \
	mux/transport.c mux/transport.h mux/transport_int.h \
	mux/transport_fd.c mux/transport_sim.c
mux_libmuxtr_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim $(BLUEZ_CFLAGS)
mux_libmuxtr_a_CFLAGS = $(AM_CFLAGS)

# The core against the simulated controller, hosts played by hostdrv.
tests_check_mux_sim_SOURCES = tests/check_mux_sim.c
tests_check_mux_sim_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/sim
tests_check_mux_sim_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_sim_LDADD = tests/libcheckmain.a tests/libhostdrv.a mux/libmux.a \
	sim/libsim.a lib/libbgw.a $(GNUTLS_LIBS) $(SMP_CRYPTO_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_mux_sim
TESTS += tests/check_mux_sim

# Pairing at the gateway (mux/pair.h) against the simulated controller.
tests_check_mux_pair_SOURCES = tests/check_mux_pair.c
tests_check_mux_pair_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/sim
tests_check_mux_pair_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_pair_LDADD = tests/libcheckmain.a tests/libhostdrv.a mux/libmux.a \
	sim/libsim.a lib/libbgw.a $(GNUTLS_LIBS) $(SMP_CRYPTO_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_mux_pair
TESTS += tests/check_mux_pair

dist_doc_DATA += doc/virtual-controller.md
