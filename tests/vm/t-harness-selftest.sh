#!/bin/bash
# tests/vm/t-harness-selftest.sh -- proves the VM harness and the real Linux
# Bluetooth stack: BlueZ's emulator (btvirt -l2) provides two controllers,
# bluetoothd manages them, one is made discoverable, the other finds it by
# scanning with bluetoothctl and l2pings it. TAP on stdout.
# Run: tests/vm/vm-run tests/vm/t-harness-selftest.sh
# shellcheck disable=SC2317,SC2119 # kernel_ok runs through vm_tap_ok
set -euo pipefail
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 7

# 1. kernel side: modules, /dev/vhci, /dev/cuse, AF_BLUETOOTH and AF_ALG
kernel_ok() {
	local m
	for m in bluetooth hci_vhci cuse algif_hash algif_skcipher; do
		grep -q "^$m " /proc/modules || { echo "# module $m not loaded"; return 1; }
	done
	[[ -c /dev/vhci ]] || { echo "# no /dev/vhci"; return 1; }
	[[ -c /dev/cuse ]] || { echo "# no /dev/cuse"; return 1; }
	python3 -c 'import socket; socket.socket(31, socket.SOCK_RAW, 1).close()' ||
		{ echo "# cannot open an AF_BLUETOOTH HCI socket"; return 1; }
	python3 -c 'import socket; s = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0); s.bind(("hash", "cmac(aes)")); s.close()' ||
		{ echo "# cannot bind AF_ALG hash cmac(aes)"; return 1; }
}
vm_tap_ok "kernel: bluetooth, hci_vhci, cuse, AF_ALG loaded; /dev/vhci, /dev/cuse present" kernel_ok || true

# 2. two emulated controllers
vm_start_btvirt -l2
mapfile -t hcis < <(vm_hci_list)
if ((${#hcis[@]} == 2)) && a_addr=$(vm_hci_addr "${hcis[0]}") && b_addr=$(vm_hci_addr "${hcis[1]}"); then
	vm_tap_pass "btvirt -l2 created ${hcis[*]} ($a_addr, $b_addr)"
else
	vm_tap_fail "btvirt -l2 created two controllers with addresses" "controllers: ${hcis[*]:-none}"
	vm_tap_done
fi
vm_log "controllers ${hcis[0]}=$a_addr ${hcis[1]}=$b_addr"

# 3. bluetoothd on the system bus
vm_start_bluez
vm_tap_pass "bluetoothd is on the system bus"
vm_log "bluetoothd up"

# 4. power both on
steps=()
for addr in "$a_addr" "$b_addr"; do
	steps+=("select $addr" "power on" "@expect Changing power on succeeded|Powered: yes")
done
if out=$(vm_btctl "${steps[@]}") && vm_wait_for 5 vm_hci_powered "${hcis[0]}" &&
	vm_wait_for 5 vm_hci_powered "${hcis[1]}"; then
	vm_tap_pass "bluetoothctl powered on both controllers"
else
	vm_tap_fail "bluetoothctl powered on both controllers" "$out"
fi
vm_log "powered"

# 5. A connectable, then discoverable (mgmt refuses discoverable on a
#    non-connectable BR/EDR controller)
a_idx=${hcis[0]#hci}
if out=$(vm_btmgmt --index "$a_idx" connectable on && vm_btmgmt --index "$a_idx" discov on) &&
	vm_wait_for 5 eval "hciconfig ${hcis[0]} | grep -q ISCAN"; then
	vm_tap_pass "btmgmt made $a_addr connectable and discoverable"
else
	vm_tap_fail "btmgmt made $a_addr connectable and discoverable" "$out"
fi
vm_log "discoverable"

# 6. B scans and finds A. The BR/EDR transport filter makes bluetoothd run a
#    plain inquiry; the default interleaved discovery would scan LE for 5 s
#    before the inquiry.
if out=$(vm_btctl "select $b_addr" "menu scan" "transport bredr" "back" "scan on" \
	"@expect Device $a_addr 20" "scan off"); then
	vm_tap_pass "scan from $b_addr found $a_addr"
else
	vm_tap_fail "scan from $b_addr found $a_addr" "$out"
fi
vm_log "scanned"

# 7. l2ping B -> A (BlueZ 5.66 l2ping segfaults when the connection fails)
set +e
out=$(timeout -k 2 30 l2ping -i "${hcis[1]}" -c 3 -t 5 "$a_addr" 2>&1)
rc=$?
set -e
vm_log "l2ping rc=$rc"
if ((rc == 0)) && [[ $(grep -c 'bytes from' <<<"$out") -ge 3 ]]; then
	vm_tap_pass "l2ping -c 3 from ${hcis[1]} to $a_addr"
elif ((rc == 139)); then # 128 + SIGSEGV
	vm_tap_fail "l2ping -c 3 from ${hcis[1]} to $a_addr" "l2ping crashed (SIGSEGV): BlueZ 5.66 does so when the connection fails"$'\n'"$out"
elif ((rc == 124)); then
	vm_tap_fail "l2ping -c 3 from ${hcis[1]} to $a_addr" "l2ping timed out after 30 s"$'\n'"$out"
else
	vm_tap_fail "l2ping -c 3 from ${hcis[1]} to $a_addr" "l2ping exited $rc"$'\n'"$out"
fi

vm_tap_done
