# mux/: bgw-muxd, the multiplexer. The core (libmux.a) has no sockets and no
# crypto; the daemon adds transports, the local listener and the config.
noinst_LIBRARIES += mux/libmux.a
mux_libmux_a_SOURCES = \
	mux/mux.c mux/mux.h mux/mux_int.h mux/policy.h \
	mux/cmdtab.c mux/cmdtab.h

# Unit tests of the core, against a scripted controller.
mux_check_tests = tests/check_mux_core
check_PROGRAMS += $(mux_check_tests)
TESTS += $(mux_check_tests)
tests_check_mux_core_SOURCES = tests/check_mux_core.c tests/mux_tctl.c tests/mux_tctl.h
tests_check_mux_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_check_mux_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_core_LDADD = tests/libcheckmain.a mux/libmux.a lib/libbgw.a $(CHECK_LIBS)
