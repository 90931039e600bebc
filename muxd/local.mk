# muxd/: bgw-muxd, the daemon around the mux core (mux/): its processes
# (doc/architecture.md, doc/security.md "Process model"), each with a
# state struct of its own over the common one (muxd.h): the monitor
# (monitor*.c, ctl.c), the core (core*.c, ctl_core.c), the network front
# (front.c) and the peers (peer.c); main in muxd.c.
MUXD_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/muxd -I$(top_srcdir)/mux

# The daemon's parts with sockets and the configuration parser
# (unit-tested on their own); the controller transports are in
# mux/libmuxtr.a.
noinst_LIBRARIES += muxd/libmuxd.a
muxd_libmuxd_a_SOURCES = \
	muxd/conf.c muxd/conf.h \
	muxd/ctlmsg.c muxd/ctlmsg.h \
	muxd/keysign.c muxd/keysign.h \
	muxd/peerauth.c muxd/peerauth.h \
	muxd/relayfront.c muxd/relayfront.h \
	muxd/relayreg.c muxd/relayreg.h \
	muxd/relaysign.c muxd/relaysign.h \
	muxd/rpc.c muxd/rpc.h \
	muxd/sandbox.c muxd/sandbox.h
muxd_libmuxd_a_CPPFLAGS = $(MUXD_CPPFLAGS) -I$(top_srcdir)/sim -I$(top_srcdir)/authdb \
	-I$(top_srcdir)/relay -I$(top_srcdir)/tunnel $(BLUEZ_CFLAGS)
muxd_libmuxd_a_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS) $(SECCOMP_CFLAGS)

sbin_PROGRAMS += muxd/bgw-muxd
muxd_bgw_muxd_SOURCES = muxd/muxd.c muxd/muxd.h muxd/common.c \
	muxd/monitor.c muxd/monitor.h muxd/monitor_db.c muxd/monitor_bond_le.c muxd/monitor_relay.c muxd/ctl.c \
	muxd/core.c muxd/core.h muxd/core_local.c muxd/core_tun.c muxd/ctl_core.c \
	muxd/core_pair.c \
	muxd/front.c muxd/peer.c muxd/net.h
muxd_bgw_muxd_CPPFLAGS = $(MUXD_CPPFLAGS) -I$(top_srcdir)/authdb -I$(top_srcdir)/relay \
	-DBGW_DOCDIR='"$(docdir)"'
muxd_bgw_muxd_CFLAGS = $(AM_CFLAGS) $(TUNNEL_CFLAGS)
muxd_bgw_muxd_LDADD = muxd/libmuxd.a mux/libmuxtr.a mux/libmux.a sim/libsim.a \
	authdb/libauthdb.a relay/librelay.a $(TUNNEL_LIBS) $(SECCOMP_LIBS) $(SMP_CRYPTO_LIBS)

tests_check_mux_conf_SOURCES = tests/check_mux_conf.c
tests_check_mux_conf_CPPFLAGS = $(MUXD_CPPFLAGS)
tests_check_mux_conf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mux_conf_LDADD = tests/libcheckmain.a muxd/libmuxd.a mux/libmuxtr.a sim/libsim.a \
	lib/libbgw.a $(GNUTLS_LIBS) $(SECCOMP_LIBS) $(SMP_CRYPTO_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_mux_conf
TESTS += tests/check_mux_conf

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
TESTS += tests/t-bonds-gateway.sh
EXTRA_DIST += tests/t-bonds-gateway.sh
# The same for LE: the simulated lock, its LTK kept, its SMP answered.
check_PROGRAMS += tests/le-bond-host
tests_le_bond_host_SOURCES = tests/le_bond_host.c
tests_le_bond_host_LDADD = tests/libhostdrv.a lib/libbgw.a $(SMP_CRYPTO_LIBS) $(GNUTLS_LIBS)
TESTS += tests/t-bonds-le.sh
EXTRA_DIST += tests/t-bonds-le.sh

dist_man_MANS += man/bgw-muxd.8 man/bgw-muxd.conf.5

# The privilege-separation RPC codec (muxd/rpc.h): what the monitor accepts.
tests_check_muxd_rpc_SOURCES = tests/check_muxd_rpc.c
tests_check_muxd_rpc_CPPFLAGS = $(MUXD_CPPFLAGS) -I$(top_srcdir)/authdb
tests_check_muxd_rpc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(TUNNEL_CFLAGS)
tests_check_muxd_rpc_LDADD = tests/libcheckmain.a muxd/libmuxd.a authdb/libauthdb.a $(TUNNEL_LIBS) \
	$(PWQUALITY_LIBS) $(ZXCVBN_LIBS) $(SECCOMP_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_rpc
TESTS += tests/check_muxd_rpc

# The monitor's relay registration signer (muxd/relaysign.h).
tests_check_muxd_relaysign_SOURCES = tests/check_muxd_relaysign.c
tests_check_muxd_relaysign_CPPFLAGS = $(MUXD_CPPFLAGS) -I$(top_srcdir)/relay
tests_check_muxd_relaysign_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
tests_check_muxd_relaysign_LDADD = tests/libcheckmain.a muxd/libmuxd.a $(RELAY_LIBS) $(AUTH_LIBS) \
	$(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_relaysign
TESTS += tests/check_muxd_relaysign

# The gateway's registrations with its relays (muxd/relayreg.h).
tests_check_muxd_relayreg_SOURCES = tests/check_muxd_relayreg.c
tests_check_muxd_relayreg_CPPFLAGS = $(MUXD_CPPFLAGS) -I$(top_srcdir)/relay -I$(top_srcdir)/tunnel
tests_check_muxd_relayreg_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
tests_check_muxd_relayreg_LDADD = tests/libcheckmain.a muxd/libmuxd.a $(TUNNEL_LIBS) \
	$(RELAY_LIBS) $(AUTH_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_relayreg
TESTS += tests/check_muxd_relayreg

# The seccomp filters of the three roles, enforced by the kernel.
tests_check_muxd_sandbox_SOURCES = tests/check_muxd_sandbox.c
tests_check_muxd_sandbox_CPPFLAGS = $(MUXD_CPPFLAGS)
tests_check_muxd_sandbox_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_muxd_sandbox_LDADD = tests/libcheckmain.a muxd/libmuxd.a lib/libbgw.a $(SECCOMP_LIBS) \
	$(CHECK_LIBS)
check_PROGRAMS += tests/check_muxd_sandbox
# A subverted peer's calls against the other processes (t-muxd-isolation).
tests_peer_attack_SOURCES = tests/peer_attack.c
tests_peer_attack_CPPFLAGS = $(MUXD_CPPFLAGS)
tests_peer_attack_LDADD = muxd/libmuxd.a lib/libbgw.a $(SECCOMP_LIBS)
check_PROGRAMS += tests/peer-attack
# pidfd_open made to fail with ENOSYS: the monitor's SIGCHLD fallback.
tests_no_pidfd_SOURCES = tests/no_pidfd.c
tests_no_pidfd_LDADD = $(SECCOMP_LIBS)
check_PROGRAMS += tests/no-pidfd
TESTS += tests/t-muxd-nopidfd.sh
EXTRA_DIST += tests/t-muxd-nopidfd.sh
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
