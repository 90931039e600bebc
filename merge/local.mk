# merge/: the merge core of seamless mode (doc/seamless.md): one
# host over the local radio and the gateways. No sockets, no crypto.
noinst_LIBRARIES += merge/libmerge.a
merge_libmerge_a_SOURCES = \
	merge/merge.h merge/merge_int.h \
	merge/merge.c merge/cmd.c merge/evt.c merge/data.c merge/link.c \
	merge/mctrl.c
merge_libmerge_a_CFLAGS = $(AM_CFLAGS)

# The merge over two simulated houses, the host played by tests/hostdrv.
merge_tests = tests/check_merge
check_PROGRAMS += $(merge_tests)
TESTS += $(merge_tests)
tests_check_merge_SOURCES = tests/check_merge.c
tests_check_merge_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/merge -I$(top_srcdir)/sim \
	-DMERGE_SRCDIR='"$(abs_top_srcdir)"'
tests_check_merge_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_merge_LDADD = tests/libcheckmain.a tests/libhostdrv.a merge/libmerge.a \
	$(SIM_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/cafe.house
dist_doc_DATA += doc/seamless.md

# What the merge adds to a command round trip, in process (not a test).
noinst_PROGRAMS += tests/bench/bench-merge
tests_bench_bench_merge_SOURCES = tests/bench/bench_merge.c
tests_bench_bench_merge_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/merge -I$(top_srcdir)/sim
tests_bench_bench_merge_LDADD = merge/libmerge.a $(SIM_LIBS)
