# sim/: the simulated controller (issue 3). libsim is used by bgw-sim, the
# mux (in-process simulated controller) and the tests.
noinst_LIBRARIES += sim/libsim.a
sim_libsim_a_SOURCES = \
	sim/sim.h sim/sim_int.h \
	sim/air.c sim/ctrl.c sim/house.c sim/rd.c
sim_libsim_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
SIM_LIBS = sim/libsim.a lib/libbgw.a $(GNUTLS_LIBS)

bin_PROGRAMS += sim/bgw-sim
sim_bgw_sim_SOURCES = sim/main.c
sim_bgw_sim_LDADD = $(SIM_LIBS)
