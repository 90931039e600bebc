#!/bin/bash
# tests/vm/t-sim-vhci.sh -- the proof that a stock Linux host accepts the
# simulated controller: bgw-sim --vhci gives the guest kernel a new hciN with
# the default house around it; bluetoothd powers it on, bluetoothctl finds
# the house's discoverable RDs (LE and BR/EDR), l2ping reaches the speaker
# a GATT read returns the thermometer's temperature, and both pairings
# (BR/EDR Secure Simple Pairing, LE legacy pairing) complete; finally two
# controllers of one bgw-sim --vhci=2 l2ping each other (BR/EDR) and one
# connects to the other's LE advertising (GATT over it). TAP on stdout.
# Run: BGW_BUILDDIR=build/sim tests/vm/vm-run tests/vm/t-sim-vhci.sh
set -euo pipefail
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 11

sim=${BGW_BUILDDIR:-.}/sim/bgw-sim
[[ -x $sim ]] || { vm_tap_fail "bgw-sim built" "no $sim (set BGW_BUILDDIR)"; vm_tap_done; }

lock=C0:B6:00:00:00:01
thermo=10:B6:00:00:00:02
bulb=10:B6:00:00:00:03
speaker=10:B6:00:00:00:04
cuff=10:B6:00:00:00:05

vm_start_btmon
before=$(vm_hci_list | wc -l)
"$sim" --vhci --time-scale 0.25 -v --btsnoop "$VM_LOGDIR/sim.btsnoop" \
	>>"$VM_LOGDIR/bgw-sim.log" 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT
if vm_wait_for 15 _vm_hci_count_ge $((before + 1)); then
	hci=$(vm_hci_list | tail -n 1)
	vm_tap_pass "bgw-sim --vhci created $hci"
else
	vm_tap_fail "bgw-sim --vhci created a controller" "$(cat "$VM_LOGDIR/bgw-sim.log")"
	vm_tap_done
fi

# The kernel runs the whole init at registration; a failed init would keep
# the index away from mgmt (and from bluetoothd).
if addr=$(vm_hci_addr "$hci"); then
	vm_tap_pass "the kernel initialised $hci ($addr)"
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
vm_log "powered"

# Interleaved discovery: LE scan (5.12 s) then inquiry and name requests.
steps=("select $addr" "scan on")
for d in $lock $thermo $bulb $speaker $cuff; do
	steps+=("@expect Device $d 40")
done
steps+=("scan off" "devices")
if out=$(vm_btctl "${steps[@]}"); then
	vm_tap_pass "scan found the lock, thermometer, bulb, speaker and cuff"
else
	vm_tap_fail "scan found the lock, thermometer, bulb, speaker and cuff" "$out"
fi
vm_log "scanned"

if grep -q "Device $speaker Kitchen Speaker" <<<"$out"; then
	vm_tap_pass "the speaker's name came through (EIR or name request)"
else
	vm_tap_fail "the speaker's name came through" "$out"
fi

set +e
out=$(timeout -k 2 30 l2ping -i "$hci" -c 3 -t 5 "$speaker" 2>&1)
rc=$?
set -e
vm_log "l2ping rc=$rc"
if ((rc == 0)) && [[ $(grep -c 'bytes from' <<<"$out") -ge 3 ]]; then
	vm_tap_pass "l2ping -c 3 $speaker"
else
	vm_tap_fail "l2ping -c 3 $speaker (exit $rc)" "$out"
fi

# GATT over LE: connect to the thermometer, read the Temperature (0x2a6e).
tpath="/org/bluez/$hci/dev_${thermo//:/_}"
if out=$(vm_btctl "select $addr" "scan le" "@expect Device $thermo 20" "scan off" \
	"connect $thermo" "@expect Connection successful 30" \
	"@expect ServicesResolved: yes 30" \
	"menu gatt" "list-attributes $thermo" "@expect 00002a6e 10" \
	"select-attribute 00002a6e-0000-1000-8000-00805f9b34fb" \
	"read" "@expect 66 08 10" "back" "disconnect $thermo" "@sleep 1"); then
	vm_tap_pass "GATT read of the thermometer's temperature gave 66 08 (21.50 C)"
else
	vm_tap_fail "GATT read of the thermometer's temperature" "$out"
fi
: "$tpath"

# Pairing, "just works" on both sides: the agent has no input or output.
if out=$(vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
	"select $addr" "scan bredr" "@expect Device $speaker 20" "scan off" \
	"pair $speaker" "@expect Pairing successful 30" "@sleep 1" \
	"info $speaker" "@expect Paired: yes 5" "disconnect $speaker" "@sleep 1"); then
	vm_tap_pass "BR/EDR Secure Simple Pairing with the speaker"
else
	vm_tap_fail "BR/EDR Secure Simple Pairing with the speaker" "$out"
fi
vm_log "paired speaker"

if out=$(vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
	"select $addr" "scan le" "@expect Device $thermo 20" "scan off" \
	"pair $thermo" "@expect Pairing successful 30" "@sleep 1" \
	"info $thermo" "@expect Paired: yes 5" "disconnect $thermo" "@sleep 1"); then
	vm_tap_pass "LE legacy pairing with the thermometer"
else
	vm_tap_fail "LE legacy pairing with the thermometer" "$out"
fi
vm_log "paired thermometer"

# Two controllers in one air (like btvirt -l2): one l2pings the other.
kill "$sim_pid" 2>/dev/null || true
wait "$sim_pid" 2>/dev/null || true
vm_wait_for 10 eval '[[ -z $(vm_hci_list) ]]' || true
"$sim" --vhci=2 --time-scale 0.25 >>"$VM_LOGDIR/bgw-sim2.log" 2>&1 &
sim_pid=$!
two_ok() {
	mapfile -t hcis < <(vm_hci_list)
	((${#hcis[@]} == 2)) || return 1
	a_addr=$(vm_hci_addr "${hcis[0]}") && b_addr=$(vm_hci_addr "${hcis[1]}") || return 1
	vm_btctl "select $a_addr" "power on" "@expect Changing power on succeeded|Powered: yes" \
		"select $b_addr" "power on" "@expect Changing power on succeeded|Powered: yes" >/dev/null || return 1
	vm_wait_for 5 vm_hci_powered "${hcis[1]}" || return 1
	vm_btmgmt --index "${hcis[1]#hci}" connectable on >/dev/null || return 1
	set +e
	out=$(timeout -k 2 30 l2ping -i "${hcis[0]}" -c 3 -t 5 "$b_addr" 2>&1)
	rc=$?
	set -e
	((rc == 0)) && [[ $(grep -c 'bytes from' <<<"$out") -ge 3 ]]
}
if vm_wait_for 15 _vm_hci_count_ge 2 && two_ok; then
	vm_tap_pass "bgw-sim --vhci=2: ${hcis[0]} l2pings ${hcis[1]} ($b_addr)"
else
	vm_tap_fail "bgw-sim --vhci=2: one controller l2pings the other" \
		"${hcis[*]:-no controllers} ${out:-}"
fi

# LE between them: B, made LE-only (else bluetoothd prefers the BR/EDR
# link of case 10), advertises (extended advertising, legacy PDUs); A finds
# it in an LE scan and connects; bluetoothd resolves B's GATT database.
le_only() {
	local i=${hcis[1]#hci}
	vm_btmgmt --index "$i" power off >/dev/null &&
		vm_btmgmt --index "$i" bredr off >/dev/null &&
		vm_btmgmt --index "$i" power on >/dev/null
}
if [[ -n ${b_addr:-} ]] && le_only &&
	out=$(vm_btctl "select $a_addr" "remove $b_addr" \
		"select $b_addr" "advertise on" "@expect Advertising object registered 10" \
		"select $a_addr" "scan le" "@expect Device $b_addr 20" "scan off" \
		"connect $b_addr" "@expect Connection successful 30" \
		"@expect ServicesResolved: yes 30" "disconnect $b_addr" "@sleep 1" \
		"select $b_addr" "advertise off"); then
	vm_tap_pass "LE: ${hcis[0]} connected to ${hcis[1]}'s advertising, GATT resolved"
else
	vm_tap_fail "LE: one controller connected to the other's advertising" "${out:-}"
fi

vm_tap_done
