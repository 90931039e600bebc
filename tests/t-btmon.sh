#!/bin/sh
# btmon (BlueZ) decodes a trace written by lib/btsnoop.c without errors.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..3"
if ! command -v btmon >/dev/null 2>&1; then
	for i in 1 2 3; do echo "ok $i # SKIP btmon not installed (Debian: bluez)"; done
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BGW_BUILDDIR/tests/snoop-sample" "$tmp/trace.btsnoop"
t_ok $? "snoop-sample wrote a trace"
timeout 20 btmon -r "$tmp/trace.btsnoop" >"$tmp/out" 2>&1
t_ok $? "btmon -r reads it (exit status)"
# Each packet decoded by name; nothing flagged as malformed.
grep -q "Reset (0x03|0x0003) plen 0" "$tmp/out" &&
	grep -q "Read BD ADDR" "$tmp/out" &&
	grep -q "Address: 00:1A:7D:DA:71:13" "$tmp/out" &&
	grep -q "Connect Complete" "$tmp/out" &&
	grep -q "L2CAP: Echo Request" "$tmp/out" &&
	! grep -qi "malformed\|invalid\|error:" "$tmp/out"
t_ok $? "btmon decodes every packet" || sed 's/^/# /' "$tmp/out"
