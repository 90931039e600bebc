# systemd/: the units. Installed under $(prefix)/lib/systemd, which with
# --prefix=/usr is where Debian's systemd looks (pkg-config systemd:
# systemdsystemunitdir); override with `make install
# systemdsystemunitdir=DIR systemduserunitdir=DIR`.
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemduserunitdir = $(prefix)/lib/systemd/user
systemdsystemunit_DATA = systemd/bgw-muxd.service systemd/bgw-relay.service
systemduserunit_DATA = systemd/bgw-cdclient@.service
EXTRA_DIST += systemd/bgw-muxd.service.in systemd/bgw-cdclient@.service.in \
	systemd/bgw-relay.service.in
CLEANFILES += systemd/bgw-muxd.service systemd/bgw-cdclient@.service \
	systemd/bgw-relay.service
# The accounts bgw-muxd's core and network side run as (bgw-muxd(8)),
# created by systemd-sysusers; override with `make install sysusersdir=DIR`.
sysusersdir = $(prefix)/lib/sysusers.d
dist_sysusers_DATA = systemd/sysusers.d/bgw.conf

systemd/bgw-muxd.service: $(srcdir)/systemd/bgw-muxd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
		$(srcdir)/systemd/bgw-muxd.service.in >$@.tmp && mv $@.tmp $@
systemd/bgw-relay.service: $(srcdir)/systemd/bgw-relay.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
		$(srcdir)/systemd/bgw-relay.service.in >$@.tmp && mv $@.tmp $@
systemd/bgw-cdclient@.service: $(srcdir)/systemd/bgw-cdclient@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
		$(srcdir)/systemd/bgw-cdclient@.service.in >$@.tmp && mv $@.tmp $@

# systemd-analyze verify on the generated units, where it can run.
TESTS += tests/t-systemd-units.sh tests/t-systemd-firststart.sh
EXTRA_DIST += tests/t-systemd-units.sh tests/t-systemd-firststart.sh
check_DATA = systemd/bgw-muxd.service systemd/bgw-cdclient@.service \
	systemd/bgw-relay.service
