#!/bin/bash
# The README's first command must keep working: run the family demo
# (tests/demo.sh) against this build and check what it shows.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..6"
if [ "$(id -u)" != 0 ] || ! command -v python3 >/dev/null 2>&1; then
	for i in 1 2 3 4 5 6; do echo "ok $i # SKIP needs root and python3"; done
	exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 120 bash "$BGW_SRCDIR/tests/demo.sh" "$BGW_BUILDDIR" >"$out" 2>&1
t_ok $? "the demo runs to the end" || sed 's/^/# /' "$out"
grep -q "LE scan: Thermometer, Living Room Bulb, Front Door Lock *|.*inquiry: Living Room Bulb, Kitchen Speaker$" "$out"
t_ok $? "alice sees the lock, thermometer and bulb; bob the bulb and speaker"
! grep -q "Blood Pressure Cuff *[|,]\|Cuff$" "$out"
t_ok $? "nobody sees the ungranted cuff"
grep -q "reads the temperature: 21.50 C" "$out" && grep -q 'got "ping"' "$out"
t_ok $? "alice reads her thermometer over GATT, bob echoes over L2CAP"
grep -q "answers: Command Status 0x00, then LE .*Connection Complete status 0x0f" "$out" && grep -q "acl-deny user=bob rd=C0:B6:00:00:00:01" "$out"
t_ok $? "bob's attempt on alice's lock is refused and audited"
grep -q "records, chain intact" "$out"
t_ok $? "the audit chain verifies"
