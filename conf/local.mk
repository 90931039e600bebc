# conf/: the commented sample configuration, every keyword of
# bgw-muxd.conf(5). Installed as the documentation's example, and as
# $(sysconfdir)/bgw/bgw-muxd.conf when there is none yet: make install never
# overwrites an admin's file, make uninstall removes it only if unchanged.
# bgw-muxd reads /etc/bgw whatever the prefix, so install with
# --sysconfdir=/etc for a gateway (the Debian packages do).
confexampledir = $(docdir)/examples
dist_confexample_DATA = conf/bgw-muxd.conf
bgwconfdir = $(sysconfdir)/bgw

install-data-local: install-conf-sample
uninstall-local: uninstall-conf-sample
.PHONY: install-conf-sample uninstall-conf-sample

# /etc/bgw holds the authdb and the server's key: 0700, as bgw-authdb
# ca init and the unit's ConfigurationDirectoryMode make it.
install-conf-sample:
	@f="$(DESTDIR)$(bgwconfdir)/bgw-muxd.conf"; \
	if test -e "$$f"; then \
		echo "keeping $$f (the sample is $(confexampledir)/bgw-muxd.conf)"; \
	else \
		if test ! -d "$(DESTDIR)$(bgwconfdir)"; then \
			$(MKDIR_P) "$(DESTDIR)$(bgwconfdir)" && \
			chmod 700 "$(DESTDIR)$(bgwconfdir)" || exit 1; \
		fi; \
		echo " $(INSTALL_DATA) $(srcdir)/conf/bgw-muxd.conf '$$f'"; \
		$(INSTALL_DATA) "$(srcdir)/conf/bgw-muxd.conf" "$$f"; \
	fi
uninstall-conf-sample:
	@f="$(DESTDIR)$(bgwconfdir)/bgw-muxd.conf"; \
	if cmp -s "$(srcdir)/conf/bgw-muxd.conf" "$$f"; then \
		echo " rm -f '$$f'"; rm -f "$$f"; \
	elif test -e "$$f"; then \
		echo "keeping $$f: it differs from the sample"; \
	fi

# The sample documents every keyword of the page and passes bgw-muxd -t.
TESTS += tests/t-conf-sample.sh
EXTRA_DIST += tests/t-conf-sample.sh

# The Debian packages (debian/, kept out of the tarball: it is the
# packaging, not the upstream source) are built, installed and run in a
# QEMU guest by tests/vm/t-deb.sh (tests/vm/run-all, in ./run test).
EXTRA_DIST += tests/vm/t-deb.sh
