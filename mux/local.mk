# mux/: bgw-muxd, the multiplexer. The core (libmux.a) has no sockets and no
# crypto but AES for RPA resolution (lib/rpa.c, GnuTLS); the daemon adds transports,
# the local listener and the config.
noinst_LIBRARIES += mux/libmux.a
mux_libmux_a_SOURCES = \
	mux/mux.c mux/mux_bond.c mux/mux_cmd.c mux/mux_conn.c mux/mux_ctrl.c mux/mux_emit.c \
	mux/mux_evt.c mux/mux_reconcile.c mux/mux.h mux/mux_int.h mux/policy.h \
	mux/cmdtab.c mux/cmdtab.h mux/handlemap.c mux/handlemap.h
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
	$(AUTH_LIBS) $(CHECK_LIBS)

tests_check_mux_handles_SOURCES = tests/check_mux_handles.c
tests_check_mux_handles_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_check_mux_handles_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_handles_LDADD = tests/libcheckmain.a mux/libmux.a $(AUTH_LIBS) $(CHECK_LIBS)

# The daemon's parts with sockets and the configuration parser
# (unit-tested on its own); the controller transports are in libmuxtr.a.
noinst_LIBRARIES += mux/libmuxd.a
mux_libmuxd_a_SOURCES = \
	mux/conf.c mux/conf.h \
	mux/ctlmsg.c mux/ctlmsg.h \
	mux/keysign.c mux/keysign.h \
	mux/peerauth.c mux/peerauth.h \
	mux/relayfront.c mux/relayfront.h \
	mux/relayreg.c mux/relayreg.h \
	mux/relaysign.c mux/relaysign.h \
	mux/rpc.c mux/rpc.h \
	mux/sandbox.c mux/sandbox.h
mux_libmuxd_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim -I$(top_srcdir)/authdb \
	-I$(top_srcdir)/relay -I$(top_srcdir)/tunnel $(BLUEZ_CFLAGS)
mux_libmuxd_a_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS) $(SECCOMP_CFLAGS)

# The controller transports on their own (hci:N, h4:, unix:, tcp:, sim):
# bgw-muxd's, and bgw-cdclient --local's (seamless mode). Below both
# programs: needs only sim/libsim.a and lib/libbgw.a.
noinst_LIBRARIES += mux/libmuxtr.a
mux_libmuxtr_a_SOURCES = \
	mux/transport.c mux/transport.h mux/transport_int.h \
	mux/transport_fd.c mux/transport_sim.c
mux_libmuxtr_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim $(BLUEZ_CFLAGS)
mux_libmuxtr_a_CFLAGS = $(AM_CFLAGS)

sbin_PROGRAMS += mux/bgw-muxd
mux_bgw_muxd_SOURCES = mux/muxd.c mux/muxd.h mux/muxd_core.c mux/muxd_monitor.c \
	mux/muxd_net.c mux/muxd_ctl.c
mux_bgw_muxd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/authdb -I$(top_srcdir)/relay \
	-DBGW_DOCDIR='"$(docdir)"'
mux_bgw_muxd_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)
mux_bgw_muxd_LDADD = mux/libmuxd.a mux/libmuxtr.a mux/libmux.a sim/libsim.a \
	authdb/libauthdb.a relay/librelay.a $(TUNNEL_LIBS) $(SECCOMP_LIBS)

tests_check_mux_conf_SOURCES = tests/check_mux_conf.c
tests_check_mux_conf_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_check_mux_conf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_conf_LDADD = tests/libcheckmain.a mux/libmuxd.a mux/libmuxtr.a sim/libsim.a \
	lib/libbgw.a $(GNUTLS_LIBS) $(SECCOMP_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_mux_conf
TESTS += tests/check_mux_conf

# The core against the simulated controller, hosts played by hostdrv.
tests_check_mux_sim_SOURCES = tests/check_mux_sim.c
tests_check_mux_sim_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/sim
tests_check_mux_sim_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_sim_LDADD = tests/libcheckmain.a tests/libhostdrv.a mux/libmux.a \
	sim/libsim.a lib/libbgw.a $(GNUTLS_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_mux_sim
TESTS += tests/check_mux_sim

# The daemon end to end on the simulated controller (tests/sim-client is
# built by sim/local.mk); t-mux-tunnel.sh through the DTLS tunnel with
# bgw-cdclient and bgw-authdb.
TESTS += tests/t-mux-daemon.sh tests/t-mux-tunnel.sh
EXTRA_DIST += tests/t-mux-daemon.sh tests/t-mux-tunnel.sh

# Household bonds end to end: two users' hosts (tests/bond-host) in turn.
check_PROGRAMS += tests/bond-host
tests_bond_host_SOURCES = tests/bond_host.c
tests_bond_host_LDADD = tests/libhostdrv.a lib/libbgw.a
TESTS += tests/t-bonds.sh
EXTRA_DIST += tests/t-bonds.sh tests/vm/t-mux-vhci.sh tests/vm/t-mux-hci.sh
# The household key in no role's memory but the monitor's (memscan).
TESTS += tests/t-bonds-memscan.sh
EXTRA_DIST += tests/t-bonds-memscan.sh

dist_man_MANS += man/bgw-muxd.8 man/bgw-muxd.conf.5
dist_doc_DATA += doc/virtual-controller.md

# The privilege-separation RPC codec (mux/rpc.h): what the monitor accepts.
tests_check_muxd_rpc_SOURCES = tests/check_muxd_rpc.c
tests_check_muxd_rpc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/authdb
tests_check_muxd_rpc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(TUNNEL_CFLAGS)
tests_check_muxd_rpc_LDADD = tests/libcheckmain.a mux/libmuxd.a authdb/libauthdb.a $(TUNNEL_LIBS) \
	$(PWQUALITY_LIBS) $(ZXCVBN_LIBS) $(SECCOMP_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_rpc
TESTS += tests/check_muxd_rpc

# The monitor's relay registration signer (mux/relaysign.h).
tests_check_muxd_relaysign_SOURCES = tests/check_muxd_relaysign.c
tests_check_muxd_relaysign_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/relay
tests_check_muxd_relaysign_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
tests_check_muxd_relaysign_LDADD = tests/libcheckmain.a mux/libmuxd.a $(RELAY_LIBS) \
	$(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_relaysign
TESTS += tests/check_muxd_relaysign

# The gateway's registrations with its relays (mux/relayreg.h).
tests_check_muxd_relayreg_SOURCES = tests/check_muxd_relayreg.c
tests_check_muxd_relayreg_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux -I$(top_srcdir)/relay
tests_check_muxd_relayreg_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
tests_check_muxd_relayreg_LDADD = tests/libcheckmain.a mux/libmuxd.a $(RELAY_LIBS) \
	$(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_relayreg
TESTS += tests/check_muxd_relayreg

# The seccomp filters of the three roles, enforced by the kernel.
tests_check_muxd_sandbox_SOURCES = tests/check_muxd_sandbox.c
tests_check_muxd_sandbox_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_check_muxd_sandbox_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_muxd_sandbox_LDADD = tests/libcheckmain.a mux/libmuxd.a lib/libbgw.a $(SECCOMP_LIBS) \
	$(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_sandbox
# A subverted peer's calls against the other processes (t-muxd-isolation).
tests_peer_attack_SOURCES = tests/peer_attack.c
tests_peer_attack_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_peer_attack_LDADD = mux/libmuxd.a lib/libbgw.a $(SECCOMP_LIBS)
check_PROGRAMS += tests/peer-attack
TESTS += tests/check_muxd_sandbox

# Privilege separation end to end: the process tree, the sandbox, a
# killed core; the peer processes' isolation.
TESTS += tests/t-muxd-privsep.sh tests/t-muxd-isolation.sh tests/t-muxd-exit.sh
EXTRA_DIST += tests/t-muxd-privsep.sh tests/t-muxd-isolation.sh tests/t-muxd-exit.sh tests/memscan.py \
	tests/h4_local_name.py

# bgw-muxd status and kick over the monitor's control socket; the start:
# one instance, errors before detaching, -t on the controller.
TESTS += tests/t-muxd-status.sh tests/t-muxd-startup.sh
EXTRA_DIST += tests/t-muxd-status.sh tests/t-muxd-startup.sh
