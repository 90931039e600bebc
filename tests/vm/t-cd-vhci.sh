#!/bin/bash
# tests/vm/t-cd-vhci.sh -- bgw-cdclient --expose vhci in the QEMU guest:
# against bgw-sim --unix (standing in for bgw-muxd's local listener) the
# guest kernel gets a new hciN, bluetoothd powers it on, bluetoothctl scans
# and sees the simulated house, l2ping reaches the speaker; when the
# upstream drops and returns the adapter is reset (Hardware Error) and is
# powered again;
# SIGTERM removes the hciN. TAP on stdout.
# Run: BGW_BUILDDIR=build/cd tests/vm/vm-run tests/vm/t-cd-vhci.sh
set -euo pipefail
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 8

build=${BGW_BUILDDIR:-.}
sim=$build/sim/bgw-sim
cdc=$build/cdclient/bgw-cdclient
for b in "$sim" "$cdc"; do
	[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
done

lock=C0:B6:00:00:00:01
thermo=10:B6:00:00:00:02
speaker=10:B6:00:00:00:04
sock=/tmp/bgw-sim.sock

start_sim() {
	"$sim" --unix "$sock" --time-scale 0.25 >>"$VM_LOGDIR/bgw-sim.log" 2>&1 &
	sim_pid=$!
	vm_wait_for 10 test -S "$sock" || vm_fail "bgw-sim did not create $sock"
}
cd_pid=""
trap 'kill $cd_pid $sim_pid 2>/dev/null || true' EXIT

vm_start_btmon
start_sim
before=$(vm_hci_list | wc -l)
"$cdc" -f -v --connect "unix:$sock" --expose vhci \
	--btsnoop "$VM_LOGDIR/cdclient.btsnoop" >>"$VM_LOGDIR/bgw-cdclient.log" 2>&1 &
cd_pid=$!
if vm_wait_for 15 _vm_hci_count_ge $((before + 1)); then
	hci=$(vm_hci_list | tail -n 1)
	vm_tap_pass "bgw-cdclient --expose vhci created $hci"
else
	vm_tap_fail "bgw-cdclient --expose vhci created a controller" "$(cat "$VM_LOGDIR/bgw-cdclient.log")"
	vm_tap_done
fi

# The kernel initialised it through bgw-cdclient (it reads the BD_ADDR).
if addr=$(vm_hci_addr "$hci"); then
	vm_tap_pass "the kernel initialised $hci through bgw-cdclient ($addr)"
else
	vm_tap_fail "the kernel initialised $hci" "$(dmesg | tail -n 20)"
	vm_tap_done
fi
vm_log "controller $hci = $addr"

vm_start_bluez
if out=$(vm_btctl "select $addr" "power on" "@expect Changing power on succeeded|Powered: yes") &&
	vm_wait_for 5 vm_hci_powered "$hci"; then
	vm_tap_pass "bluetoothctl powered $hci on"
else
	vm_tap_fail "bluetoothctl powered $hci on" "$out"
fi

steps=("select $addr" "scan on")
for d in $lock $thermo $speaker; do
	steps+=("@expect Device $d 40")
done
steps+=("scan off")
if out=$(vm_btctl "${steps[@]}"); then
	vm_tap_pass "scan through bgw-cdclient found the lock, thermometer and speaker"
else
	vm_tap_fail "scan through bgw-cdclient found the house's devices" "$out"
fi

set +e
out=$(timeout -k 2 30 l2ping -i "$hci" -c 3 -t 5 "$speaker" 2>&1)
rc=$?
set -e
if ((rc == 0)) && [[ $(grep -c 'bytes from' <<<"$out") -ge 3 ]]; then
	vm_tap_pass "l2ping -c 3 $speaker through bgw-cdclient"
else
	vm_tap_fail "l2ping -c 3 $speaker (exit $rc)" "$out"
fi

# The upstream drops: commands fail at once meanwhile (Hardware Failure);
# when it is back a Hardware Error makes the kernel close and re-open the
# device, initialising the new controller, and it is powered again.
kill "$sim_pid"
wait "$sim_pid" 2>/dev/null || true
rm -f "$sock"
vm_wait_for 10 grep -q "connection lost" "$VM_LOGDIR/bgw-cdclient.log" || true
start_sim
if vm_wait_for 30 grep -q "upstream back" "$VM_LOGDIR/bgw-cdclient.log" &&
	vm_wait_for 15 eval "dmesg | grep -q '$hci: hardware error 0x01'" &&
	vm_wait_for 15 vm_hci_powered "$hci"; then
	vm_tap_pass "upstream drop and return: $hci reset (Hardware Error) and powered again"
else
	vm_tap_fail "upstream drop and return: $hci reset and powered again" \
		"$(hciconfig "$hci"; dmesg | tail -n 10; tail -n 20 "$VM_LOGDIR/bgw-cdclient.log")"
fi

# Still usable after the reset.
if out=$(vm_btctl "select $addr" "scan on" "@expect Device $speaker 40" "scan off"); then
	vm_tap_pass "scan works again after the reconnection"
else
	vm_tap_fail "scan works again after the reconnection" "$out"
fi

kill -TERM "$cd_pid"
rc=0
wait "$cd_pid" || rc=$?
cd_pid=""
if ((rc == 0)) && vm_wait_for 10 eval "! test -e /sys/class/bluetooth/$hci"; then
	vm_tap_pass "SIGTERM: bgw-cdclient exits 0 and $hci disappears"
else
	vm_tap_fail "SIGTERM: exit 0 and $hci removed" "exit $rc; $(vm_hci_list | tr '\n' ' ')"
fi

vm_tap_done
