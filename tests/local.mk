# Unit tests: one Check suite per module, all linked with the same main.
CHECK_LDADD = lib/libbgw.a $(CHECK_LIBS)
CHECK_CFLAGS_ = $(AM_CFLAGS) $(CHECK_CFLAGS)

noinst_LIBRARIES += tests/libcheckmain.a
tests_libcheckmain_a_SOURCES = tests/check_main.c tests/check_main.h
tests_libcheckmain_a_CFLAGS = $(CHECK_CFLAGS_)

lib_tests = \
	tests/check_cursor \
	tests/check_hci \
	tests/check_loop \
	tests/check_snoop \
	tests/check_pktq \
	tests/check_prioq \
	tests/check_secmem \
	tests/check_hex \
	tests/check_rpa \
	tests/check_smp_crypto
check_PROGRAMS += $(lib_tests)
TESTS += $(lib_tests)

tests_check_cursor_SOURCES = tests/check_cursor.c
tests_check_cursor_CFLAGS = $(CHECK_CFLAGS_)
tests_check_cursor_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_hci_SOURCES = tests/check_hci.c
tests_check_hci_CFLAGS = $(CHECK_CFLAGS_)
tests_check_hci_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_loop_SOURCES = tests/check_loop.c
tests_check_loop_CFLAGS = $(CHECK_CFLAGS_)
tests_check_loop_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_snoop_SOURCES = tests/check_snoop.c
tests_check_snoop_CFLAGS = $(CHECK_CFLAGS_)
tests_check_snoop_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_pktq_SOURCES = tests/check_pktq.c
tests_check_pktq_CFLAGS = $(CHECK_CFLAGS_)
tests_check_pktq_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_prioq_SOURCES = tests/check_prioq.c
tests_check_prioq_CFLAGS = $(CHECK_CFLAGS_)
tests_check_prioq_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_secmem_SOURCES = tests/check_secmem.c
tests_check_secmem_CFLAGS = $(CHECK_CFLAGS_)
tests_check_secmem_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_hex_SOURCES = tests/check_hex.c
tests_check_hex_CFLAGS = $(CHECK_CFLAGS_)
tests_check_hex_LDADD = tests/libcheckmain.a $(CHECK_LDADD)
tests_check_rpa_SOURCES = tests/check_rpa.c
tests_check_rpa_CFLAGS = $(CHECK_CFLAGS_)
tests_check_rpa_LDADD = tests/libcheckmain.a lib/libbgw.a $(GNUTLS_LIBS) $(CHECK_LIBS)
tests_check_smp_crypto_SOURCES = tests/check_smp_crypto.c
tests_check_smp_crypto_CFLAGS = $(CHECK_CFLAGS_)
tests_check_smp_crypto_LDADD = tests/libcheckmain.a lib/libbgw.a $(SMP_CRYPTO_LIBS) $(CHECK_LIBS)

# Script tests (TAP), run from the build tree.
TESTS += tests/t-btmon.sh
EXTRA_DIST += tests/t-btmon.sh tests/lib.sh

check_PROGRAMS += tests/snoop-sample
tests_snoop_sample_SOURCES = tests/snoop_sample.c
tests_snoop_sample_LDADD = lib/libbgw.a

# Manual pages: lint, and SYNOPSIS == usage (needs the programs built).
TESTS += tests/t-man.sh
EXTRA_DIST += tests/t-man.sh tests/fuzz tests/vm/README.md tests/vm/vm-run tests/vm/run-all tests/vm/guest-lib.sh tests/vm/t-harness-selftest.sh \
	tests/vm/t-bonds-pair.sh
# Every module's layers: no circle between files, no file over 1500 lines.
TESTS += tests/t-layers.sh
EXTRA_DIST += tests/t-layers.sh tests/filedeps.py

# The family demo behind `./run demo` (tests/demo.sh), kept working.
TESTS += tests/t-demo.sh
EXTRA_DIST += tests/t-demo.sh tests/demo.sh

# Hardening proofs: faults and abuse against the running
# daemons, driven by tests/fault_host.py (tests/cd_host.py's steps and more).
TESTS += tests/t-fault-session.sh
EXTRA_DIST += tests/t-fault-session.sh tests/fault_host.py
TESTS += tests/t-fault-controller.sh tests/t-abuse-cd.sh
EXTRA_DIST += tests/t-fault-controller.sh tests/t-abuse-cd.sh
TESTS += tests/t-abuse-hello.sh
EXTRA_DIST += tests/t-abuse-hello.sh tests/hello_flood.py tests/fault-lib.sh
TESTS += tests/t-fault-tunnel.sh
EXTRA_DIST += tests/t-fault-tunnel.sh
TESTS += tests/t-fault-silent.sh
EXTRA_DIST += tests/t-fault-silent.sh
TESTS += tests/t-abuse-login.sh
EXTRA_DIST += tests/t-abuse-login.sh tests/login_flood.py
TESTS += tests/t-abuse-pending.sh
EXTRA_DIST += tests/t-abuse-pending.sh tests/pending_flood.py
TESTS += tests/t-login-burst.sh
EXTRA_DIST += tests/t-login-burst.sh
EXTRA_DIST += tests/valgrind/run tests/valgrind/README.md
