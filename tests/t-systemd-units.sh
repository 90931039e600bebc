#!/bin/sh
# The systemd units (systemd/) pass `systemd-analyze verify`, with the
# built programs standing in for the installed ones (verify checks that
# ExecStart names an executable). Skipped where systemd-analyze is absent.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..2"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "ok 1 # SKIP systemd-analyze not installed"
	echo "ok 2 # SKIP systemd-analyze not installed"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@sbindir@|$BGW_BUILDDIR/mux|g" -e "s|@bindir@|$BGW_BUILDDIR/cdclient|g" \
	"$BGW_SRCDIR/systemd/bgw-muxd.service.in" >"$tmp/bgw-muxd.service"
sed -e "s|@sbindir@|$BGW_BUILDDIR/mux|g" -e "s|@bindir@|$BGW_BUILDDIR/cdclient|g" \
	"$BGW_SRCDIR/systemd/bgw-cdclient@.service.in" >"$tmp/bgw-cdclient@home.service"

check() {
	mkdir -p "$tmp/run" && chmod 700 "$tmp/run"
	XDG_RUNTIME_DIR="$tmp/run" SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no $2 "$tmp/$1" >"$tmp/out" 2>&1
	rc=$?
	# Units this one names but this host does not have are not its faults.
	grep -v -e "bluetooth.target" -e "network-online.target" -e "^$" "$tmp/out" >"$tmp/issues"
	[ $rc -eq 0 ] || [ ! -s "$tmp/issues" ]
	r=$?
	[ -s "$tmp/issues" ] && r=1
	return $r
}
check bgw-muxd.service ""
t_ok $? "bgw-muxd.service: systemd-analyze verify is clean" || sed 's/^/# /' "$tmp/out"
check bgw-cdclient@home.service "--user"
t_ok $? "bgw-cdclient@.service: systemd-analyze verify --user is clean" || sed 's/^/# /' "$tmp/out"
[ $t_failed -eq 0 ]
