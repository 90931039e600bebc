# tests/bench/: the benchmark suite. Not part of `make check`:
# tests/bench/run builds what it needs and runs every figure; the results
# and the command are in doc/performance.md.
noinst_PROGRAMS += tests/bench/bgw-bench
tests_bench_bgw_bench_SOURCES = tests/bench/bgw-bench.c
tests_bench_bgw_bench_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)
tests_bench_bgw_bench_LDADD = $(TUNNEL_LIBS)

EXTRA_DIST += tests/bench/run tests/bench/busy-house.conf
dist_doc_DATA += doc/performance.md

# bgw-relay with real sockets: registrations, CPU per forwarded datagram
# next to a plain UDP echo (tests/bench/relay-cpu).
noinst_PROGRAMS += tests/bench/bgw-relay-load
tests_bench_bgw_relay_load_SOURCES = tests/bench/relay_load.c
tests_bench_bgw_relay_load_CFLAGS = $(AM_CFLAGS) $(RELAY_CFLAGS)
tests_bench_bgw_relay_load_LDADD = $(RELAY_LIBS)
EXTRA_DIST += tests/bench/relay-cpu
