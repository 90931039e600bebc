#!/bin/bash
# tests/vm/t-mux-vhci.sh -- a stock Linux host on a bgw-muxd virtual
# controller: in the QEMU guest, bgw-muxd owns the simulated controller and
# serves its local listener; bgw-cdclient --expose vhci turns a session into
# a new hciN. The kernel initialises it (the whole 6.x init sequence against
# the virtual controller), bluetoothd powers it on, a scan finds exactly the
# devices the authdb allows (and not the others), l2ping reaches the
# speaker, a GATT read of the thermometer works over LE, BR/EDR SSP and LE
# pairing complete (keys only between that host and the controller); a
# second hciN on the same physical controller powers on and
# scans while the first one powers off. TAP on stdout.
# vm-timeout: 400
# Run: BGW_BUILDDIR=build/mux tests/vm/vm-run tests/vm/t-mux-vhci.sh
set -euo pipefail
[[ -n ${BGW_VM_XTRACE:-} ]] && set -x
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 12

build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
cdc=$build/cdclient/bgw-cdclient
for b in "$muxd" "$cdc"; do
	[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
done

lock=C0:B6:00:00:00:01
thermo=10:B6:00:00:00:02
bulb=10:B6:00:00:00:03
speaker=10:B6:00:00:00:04
cuff=10:B6:00:00:00:05
sock=/tmp/muxd.sock

# root may use the lock, the thermometer and the speaker; not the bulb or the cuff.
cat >/tmp/authdb <<EOT
user root
allow root $lock random
allow root $thermo public
allow root $speaker public
EOT
chmod 600 /tmp/authdb
cat >/tmp/muxd.conf <<EOT
controller sim
listen unix:$sock
authdb /tmp/authdb
sim-time-scale 0.25
max-sessions 4
log-level info
EOT

mux_pid="" cd_pid="" cd2_pid=""
trap 'kill $cd2_pid $cd_pid $mux_pid 2>/dev/null || true' EXIT
vm_start_btmon
"$muxd" -f -c /tmp/muxd.conf >>"$VM_LOGDIR/bgw-muxd.log" 2>&1 &
mux_pid=$!
vm_wait_for 10 test -S "$sock" || vm_fail "bgw-muxd did not create $sock: $(cat "$VM_LOGDIR/bgw-muxd.log")"

before=$(vm_hci_list | wc -l)
"$cdc" -f --connect "unix:$sock" --expose vhci >>"$VM_LOGDIR/bgw-cdclient.log" 2>&1 &
cd_pid=$!
if vm_wait_for 15 _vm_hci_count_ge $((before + 1)); then
	hci=$(vm_hci_list | tail -n 1)
	vm_tap_pass "bgw-cdclient on bgw-muxd created $hci"
else
	vm_tap_fail "bgw-cdclient on bgw-muxd created a controller" \
		"$(cat "$VM_LOGDIR/bgw-cdclient.log" "$VM_LOGDIR/bgw-muxd.log")"
	vm_tap_done
fi

if addr=$(vm_hci_addr "$hci"); then
	vm_tap_pass "the kernel initialised the virtual controller $hci ($addr)"
else
	vm_tap_fail "the kernel initialised $hci" "$(dmesg | tail -n 20; tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
	vm_tap_done
fi

vm_start_bluez
if out=$(vm_btctl "select $addr" "power on" "@expect Changing power on succeeded|Powered: yes") &&
	vm_wait_for 5 vm_hci_powered "$hci"; then
	vm_tap_pass "bluetoothctl powered $hci on"
else
	vm_tap_fail "bluetoothctl powered $hci on" "$out$(dmesg | tail -n 10)"
fi

steps=("select $addr" "scan on")
for d in $lock $thermo $speaker; do
	steps+=("@expect Device $d 40")
done
steps+=("scan off" "devices")
if out=$(vm_btctl "${steps[@]}"); then
	vm_tap_pass "scan found the lock, thermometer and speaker"
else
	vm_tap_fail "scan found the lock, thermometer and speaker" "$out"
fi

if ! grep -q "$bulb\|$cuff" <<<"$out"; then
	vm_tap_pass "the bulb and the cuff (not granted) stayed invisible"
else
	vm_tap_fail "devices not granted stayed invisible" "$out"
fi

set +e
ping=$(timeout -k 2 30 l2ping -i "$hci" -c 3 -t 5 "$speaker" 2>&1)
rc=$?
set -e
if ((rc == 0)) && [[ $(grep -c 'bytes from' <<<"$ping") -ge 3 ]]; then
	vm_tap_pass "l2ping -c 3 $speaker through bgw-muxd"
else
	vm_tap_fail "l2ping -c 3 $speaker (exit $rc)" "$ping$(tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
fi

# GATT over LE: LE Create Connection, LE Connection Complete, ACL on the
# LE buffers, all through the mux.
if out=$(vm_btctl "select $addr" "scan le" "@expect Device $thermo 20" "scan off" \
	"connect $thermo" "@expect Connection successful 30" \
	"@expect ServicesResolved: yes 30" \
	"menu gatt" "list-attributes $thermo" "@expect 00002a6e 10" \
	"select-attribute 00002a6e-0000-1000-8000-00805f9b34fb" \
	"read" "@expect 66 08 10" "back" "disconnect $thermo" "@sleep 1"); then
	vm_tap_pass "GATT read of the thermometer's temperature through bgw-muxd"
else
	vm_tap_fail "GATT read of the thermometer's temperature" "$out"
fi

# Pairing through the mux: IO capability, confirmation, link key and LTK
# events routed to this host only.
if out=$(vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
	"select $addr" "scan bredr" "@expect Device $speaker 20" "scan off" \
	"pair $speaker" "@expect Pairing successful 30" "@sleep 1" \
	"info $speaker" "@expect Paired: yes 5" "disconnect $speaker" "@sleep 1"); then
	vm_tap_pass "BR/EDR Secure Simple Pairing with the speaker through bgw-muxd"
else
	vm_tap_fail "BR/EDR Secure Simple Pairing with the speaker" "$out"
fi

if out=$(vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
	"select $addr" "scan le" "@expect Device $thermo 20" "scan off" \
	"pair $thermo" "@expect Pairing successful 30" "@sleep 1" \
	"info $thermo" "@expect Paired: yes 5" "disconnect $thermo" "@sleep 1"); then
	vm_tap_pass "LE pairing with the thermometer through bgw-muxd"
else
	vm_tap_fail "LE pairing with the thermometer" "$out"
fi

# A second host on the same physical controller.
hci_list() { vm_hci_list; }
before=$(hci_list | wc -l)
"$cdc" -f --connect "unix:$sock" --expose vhci >>"$VM_LOGDIR/bgw-cdclient2.log" 2>&1 &
cd2_pid=$!
if vm_wait_for 15 _vm_hci_count_ge $((before + 1)) &&
	hci2=$(hci_list | tail -n 1) && addr2=$(vm_hci_addr "$hci2") &&
	vm_btmgmt --index "${hci2#hci}" power on >/dev/null && vm_wait_for 10 vm_hci_powered "$hci2"; then
	vm_tap_pass "a second virtual controller $hci2 ($addr2) initialised and powered"
else
	vm_tap_fail "a second virtual controller" "$(cat "$VM_LOGDIR/bgw-cdclient2.log"; dmesg | tail -n 10)"
	vm_tap_done
fi

# The first host powers off (disconnects, scan disable; Reset at its next
# power-on): the second keeps discovering and finding the speaker. Both
# report the one physical BD_ADDR, which bluetoothd refuses to manage
# twice in one machine (real CDs are separate machines), so the second is
# driven with btmgmt, straight over mgmt.
vm_btmgmt --index "${hci#hci}" power off >/dev/null || true
set +e
out=$(VM_BTMGMT_TIMEOUT=40 vm_btmgmt --index "${hci2#hci}" find -b 2>&1)
set -e
if grep -q "$speaker" <<<"$out" && ! grep -q "$bulb" <<<"$out" && vm_hci_powered "$hci2"; then
	vm_tap_pass "$hci2 discovers (granted devices only) while $hci powered off"
else
	vm_tap_fail "$hci2 discovers while $hci powered off" "$out"
fi

kill -TERM "$cd2_pid" "$cd_pid" 2>/dev/null || true
wait "$cd2_pid" "$cd_pid" 2>/dev/null || true
cd_pid="" cd2_pid=""
kill -TERM "$mux_pid"
rc=0
wait "$mux_pid" || rc=$?
mux_pid=""
if ((rc == 0)) && ! test -e "$sock"; then
	vm_tap_pass "SIGTERM: bgw-muxd exits 0 and removes $sock"
else
	vm_tap_fail "SIGTERM: bgw-muxd exit 0" "exit $rc"
fi
vm_tap_done
