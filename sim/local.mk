# sim/: the simulated controller. libsim is used by bgw-sim, the
# mux (in-process simulated controller) and the tests.
noinst_LIBRARIES += sim/libsim.a
sim_libsim_a_SOURCES = \
	sim/sim.h sim/sim_int.h sim/ctrl_int.h \
	sim/air.c sim/house.c sim/rd.c sim/rd_smp.c sim/rd_state.c \
	sim/ctrl.c sim/ctrl_cmd.c sim/ctrl_info.c sim/ctrl_bredr.c \
	sim/ctrl_conn.c sim/ctrl_pair.c sim/ctrl_le_adv.c sim/ctrl_le_conn.c \
	sim/ctrl_le_enc.c
# The RDs' Security Manager runs on lib/smp_crypto.c (nettle, GMP): every
# program with the simulator links $(SMP_CRYPTO_LIBS) too.
sim_libsim_a_CFLAGS = $(AM_CFLAGS)
SIM_LIBS = sim/libsim.a lib/libbgw.a $(GNUTLS_LIBS) $(SMP_CRYPTO_LIBS)

bin_PROGRAMS += sim/bgw-sim
sim_bgw_sim_SOURCES = sim/main.c
sim_bgw_sim_LDADD = $(SIM_LIBS)
dist_man_MANS += man/bgw-sim.1 man/bgw-sim.5

# A fuzz driver for the scenario parser: one input file (or stdin) fed
# line by line to the real parser, for AFL++ and friends.
noinst_PROGRAMS += tests/fuzz-sim-house
tests_fuzz_sim_house_SOURCES = tests/fuzz_sim_house.c
tests_fuzz_sim_house_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
tests_fuzz_sim_house_LDADD = $(SIM_LIBS)

# Tests: the host-side driver (shared with the mux tests), Check suites.
noinst_LIBRARIES += tests/libhostdrv.a
tests_libhostdrv_a_SOURCES = tests/hostdrv.c tests/hostdrv.h tests/hostauth.c tests/hostauth.h
tests_libhostdrv_a_CFLAGS = $(AM_CFLAGS)

sim_tests = tests/check_sim_ctrl tests/check_sim_house tests/check_sim_smp
check_PROGRAMS += $(sim_tests) tests/sim-client
TESTS += $(sim_tests)

tests_check_sim_ctrl_SOURCES = tests/check_sim_ctrl.c
tests_check_sim_ctrl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
tests_check_sim_ctrl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_sim_ctrl_LDADD = tests/libcheckmain.a tests/libhostdrv.a $(SIM_LIBS) $(CHECK_LIBS)
tests_check_sim_house_SOURCES = tests/check_sim_house.c
tests_check_sim_house_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
tests_check_sim_house_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_sim_house_LDADD = tests/libcheckmain.a $(SIM_LIBS) $(CHECK_LIBS)
tests_check_sim_smp_SOURCES = tests/check_sim_smp.c
tests_check_sim_smp_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
tests_check_sim_smp_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_sim_smp_LDADD = tests/libcheckmain.a tests/libhostdrv.a $(SIM_LIBS) $(CHECK_LIBS)

# The TAP script drives bgw-sim over its Unix socket with sim-client.
tests_sim_client_SOURCES = tests/sim_client.c
tests_sim_client_LDADD = tests/libhostdrv.a lib/libbgw.a
TESTS += tests/t-sim-socket.sh
EXTRA_DIST += tests/t-sim-socket.sh tests/vm/t-sim-vhci.sh
