#!/bin/bash
# tests/vm/t-cd-cuse.sh -- bgw-cdclient --expose cuse in the QEMU guest
# (which has /dev/cuse): against bgw-sim --unix, /dev/bgw-hci0 appears; a
# test program (tests/cd_host.py --file) writes Reset and reads its Command
# Complete, one packet per read and write, waiting with poll; it discovers
# the house; malformed writes get EINVAL, a second open EBUSY, an empty
# O_NONBLOCK read EAGAIN; SIGTERM removes the node. TAP on stdout.
# Run: BGW_BUILDDIR=build/cd tests/vm/vm-run tests/vm/t-cd-cuse.sh
set -euo pipefail
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 7

build=${BGW_BUILDDIR:-.}
src=${BGW_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
sim=$build/sim/bgw-sim
cdc=$build/cdclient/bgw-cdclient
host=(python3 "$src/tests/cd_host.py")
for b in "$sim" "$cdc"; do
	[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
done
command -v python3 >/dev/null || { vm_tap_fail "python3 present" "the test program is Python"; vm_tap_done; }

sock=/tmp/bgw-sim.sock
dev=/dev/bgw-hci0
"$sim" --unix "$sock" --time-scale 0.1 >>"$VM_LOGDIR/bgw-sim.log" 2>&1 &
sim_pid=$!
cd_pid=""
trap 'kill $cd_pid $sim_pid 2>/dev/null || true' EXIT
vm_wait_for 30 test -S "$sock" || vm_fail "bgw-sim did not create $sock"

"$cdc" -f -v --connect "unix:$sock" --expose cuse \
	>>"$VM_LOGDIR/bgw-cdclient.log" 2>&1 &
cd_pid=$!
if vm_wait_for 15 test -c "$dev"; then
	vm_tap_pass "bgw-cdclient --expose cuse created $dev"
else
	vm_tap_fail "bgw-cdclient --expose cuse created $dev" "$(cat "$VM_LOGDIR/bgw-cdclient.log")"
	vm_tap_done
fi
vm_wait_for 10 grep -q "upstream .*: connected" "$VM_LOGDIR/bgw-cdclient.log" || true

# Reset -> Command Complete, Read BD_ADDR, event masks: one packet per
# write, one per read, each read waited for with select(2) (poll).
if out=$(timeout 60 "${host[@]}" --file "$dev" init 2>&1) && grep -q '^init=ok' <<<"$out"; then
	vm_tap_pass "a program writes Reset to $dev and reads its Command Complete ($(grep bdaddr <<<"$out"))"
else
	vm_tap_fail "Reset and Command Complete through $dev" "$out"
fi

if out=$(timeout 90 "${host[@]}" --file "$dev" init inquiry lescan:2 \
	name:10:B6:00:00:00:04 2>&1) &&
	grep -q '^lescan=.*C0:B6:00:00:00:01' <<<"$out" &&
	grep -q '^name=10:B6:00:00:00:04 Kitchen Speaker$' <<<"$out"; then
	vm_tap_pass "discovery through $dev (LE scan, inquiry, remote name)"
else
	vm_tap_fail "discovery through $dev" "$out"
fi

if out=$(timeout 30 "${host[@]}" --file "$dev" send-event send-short send-badtype init 2>&1) &&
	[[ $(grep -c '=Invalid argument$' <<<"$out") -eq 3 ]]; then
	vm_tap_pass "an event, a short packet and an unknown type get EINVAL"
else
	vm_tap_fail "malformed writes get EINVAL" "$out"
fi

out=$(python3 - "$dev" 2>&1 <<'EOF'
import errno, os, sys
p = sys.argv[1]
a = os.open(p, os.O_RDWR | os.O_NONBLOCK)
try:
    os.open(p, os.O_RDWR)
    print("second-open=ok")
except OSError as e:
    print("second-open=" + errno.errorcode[e.errno])
try:
    os.read(a, 4096)
    print("nonblock-read=data")
except OSError as e:
    print("nonblock-read=" + errno.errorcode[e.errno])
os.close(a)
EOF
) || true
if grep -q '^second-open=EBUSY$' <<<"$out"; then
	vm_tap_pass "a second open of $dev gets EBUSY"
else
	vm_tap_fail "a second open of $dev gets EBUSY" "$out"
fi
if grep -q '^nonblock-read=EAGAIN$' <<<"$out"; then
	vm_tap_pass "an O_NONBLOCK read with nothing queued gets EAGAIN"
else
	vm_tap_fail "an O_NONBLOCK read with nothing queued gets EAGAIN" "$out"
fi

kill -TERM "$cd_pid"
rc=0
wait "$cd_pid" || rc=$?
cd_pid=""
if ((rc == 0)) && vm_wait_for 10 eval "! test -e $dev"; then
	vm_tap_pass "SIGTERM: bgw-cdclient exits 0 and $dev disappears"
else
	vm_tap_fail "SIGTERM: exit 0 and $dev removed" "exit $rc; $(ls -l "$dev" 2>&1)"
fi

vm_tap_done
