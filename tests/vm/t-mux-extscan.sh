#!/bin/bash
# tests/vm/t-mux-extscan.sh -- stock BlueZ scanning with the extended
# commands through bgw-muxd: in the QEMU guest, bgw-muxd owns a simulated
# controller whose house has devices that advertise with extended PDUs
# only (one on LE 1M, one on LE 1M whose 300 octets of data take two
# reports, one on LE Coded only, one not granted); bgw-cdclient --expose
# vhci makes a session a hciN. (Debian's 6.1 takes reports over 31 octets
# only from a controller with the LE Extended Advertising feature, which
# the virtual controller shows with its advertising sets.) The
# kernel (Linux 6.1) sees the extended scan commands offered and scans
# with LE Set Extended Scan Parameters/Enable (btmon shows it, and no
# legacy LE Set Scan Enable); bluetoothd finds the granted extended-only
# tag, not the one the authdb does not grant, and the LE Coded sensor only
# once the host's default PHYs include LE Coded. bluetoothctl then connects
# to the LE Coded sensor, which only an extended initiator reaches: the
# kernel sees LE Extended Create Connection offered and uses it (btmon
# shows it, and no legacy LE Create Connection), the mux forwards it for
# root, who may see the sensor, and GATT runs over the link. TAP on stdout.
# vm-timeout: 300
# Run: BGW_BUILDDIR=build/test tests/vm/vm-run tests/vm/t-mux-extscan.sh
set -euo pipefail
[[ -n ${BGW_VM_XTRACE:-} ]] && set -x
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 9

build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
cdc=$build/cdclient/bgw-cdclient
for b in "$muxd" "$cdc"; do
	[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
done

thermo=10:B6:00:00:00:02
longrange=10:B6:00:00:00:0B
tag=10:B6:00:00:00:0C
beacon=10:B6:00:00:00:0D
longtag=10:B6:00:00:00:0E
sock=/tmp/muxd.sock

cat >/tmp/ext.house <<EOT
device thermometer
	address $thermo public
	type le
	name Thermometer
	uuid16 181a
device longrange
	address $longrange public
	type le
	name Long Range Sensor
	advertising coded
device tag
	address $tag public
	type le
	name Ext Tag
	advertising extended
device longtag
	address $longtag public
	type le
	name Long Ext Tag
	advertising extended
	ext-adv-len 300
device beacon
	address $beacon public
	type le
	name Ext Beacon
	advertising extended
EOT
# root may use the thermometer, the tag and the long-range sensor; not the beacon.
cat >/tmp/authdb <<EOT
user root
allow root $thermo public
allow root $tag public
allow root $longtag public
allow root $longrange public
EOT
chmod 600 /tmp/authdb
cat >/tmp/muxd.conf <<EOT
controller sim:/tmp/ext.house
listen unix:$sock
authdb /tmp/authdb
sim-time-scale 0.25
max-sessions 4
log-level info
EOT

mux_pid="" cd_pid=""
trap 'kill $cd_pid $mux_pid 2>/dev/null || true' EXIT
vm_start_btmon
"$muxd" -f -c /tmp/muxd.conf >>"$VM_LOGDIR/bgw-muxd.log" 2>&1 &
mux_pid=$!
vm_wait_for 10 test -S "$sock" || vm_fail "bgw-muxd did not create $sock: $(cat "$VM_LOGDIR/bgw-muxd.log")"

before=$(vm_hci_list | wc -l)
"$cdc" -f --connect "unix:$sock" --expose vhci >>"$VM_LOGDIR/bgw-cdclient.log" 2>&1 &
cd_pid=$!
if vm_wait_for 15 _vm_hci_count_ge $((before + 1)) && hci=$(vm_hci_list | tail -n 1) &&
	addr=$(vm_hci_addr "$hci"); then
	vm_tap_pass "the kernel initialised the virtual controller $hci ($addr)"
else
	vm_tap_fail "the kernel initialised a virtual controller" \
		"$(cat "$VM_LOGDIR/bgw-cdclient.log" "$VM_LOGDIR/bgw-muxd.log"; dmesg | tail -n 20)"
	vm_tap_done
fi

vm_start_bluez
if out=$(vm_btctl "select $addr" "power on" "@expect Changing power on succeeded|Powered: yes") &&
	vm_wait_for 5 vm_hci_powered "$hci"; then
	vm_tap_pass "bluetoothctl powered $hci on"
else
	vm_tap_fail "bluetoothctl powered $hci on" "$out$(dmesg | tail -n 10)"
fi

# Default PHYs (LE 1M): the tag, advertising only with extended PDUs.
if out=$(vm_btctl "select $addr" "scan le" "@expect Device $tag 40" "@expect Device $thermo 20" \
	"@expect Device $longtag 20" "@sleep 3" "scan off" "devices"); then
	vm_tap_pass "an LE scan found the extended-only tags ($tag; $longtag, data in two reports)"
else
	vm_tap_fail "an LE scan found the extended-only tags" "$out$(tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
fi
if ! grep -q "$beacon" <<<"$out" && ! grep -q "$longrange" <<<"$out"; then
	vm_tap_pass "the beacon (not granted) stayed invisible, the LE Coded sensor unseen on LE 1M"
else
	vm_tap_fail "the beacon stayed invisible, the LE Coded sensor unseen on LE 1M" "$out"
fi

# The host's default PHYs with LE Coded: its extended scan adds LE Coded.
set +e
# BR1M1SLOT, LE1MTX and LE1MRX cannot be deselected (mgmt Set PHY Configuration).
phy=$(vm_btmgmt --index "${hci#hci}" phy BR1M1SLOT LE1MTX LE1MRX LECODEDTX LECODEDRX 2>&1)
out=$(vm_btctl "select $addr" "scan le" "@expect Device $longrange 40" "@sleep 3" "scan off" \
	"devices" 2>&1)
rc=$?
set -e
if ((rc == 0)) && ! grep -q "$beacon" <<<"$out"; then
	vm_tap_pass "with LE Coded in the default PHYs the scan found the long-range sensor"
else
	vm_tap_fail "with LE Coded the scan found the long-range sensor" "$phy
$out"
fi

# Connecting to it: LE Extended Create Connection over LE 1M and LE Coded.
if out=$(vm_btctl "select $addr" "connect $longrange" "@expect Connection successful 30" \
	"@expect ServicesResolved: yes 20" "disconnect $longrange" "@sleep 1" 2>&1); then
	vm_tap_pass "bluetoothctl connected to the LE Coded sensor and resolved its services"
else
	vm_tap_fail "bluetoothctl connected to the LE Coded sensor" \
		"$out$(tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
fi

vm_stop_btmon
snoop=""
if command -v btmon >/dev/null; then
	snoop=$(timeout -k 2 30 btmon -r "$VM_LOGDIR/btmon.snoop" 2>/dev/null || true)
fi
if grep -q "LE Set Extended Scan Enable" <<<"$snoop" &&
	grep -q "LE Set Extended Scan Parameters" <<<"$snoop" &&
	grep -q "LE Extended Advertising Report" <<<"$snoop" &&
	! grep -q "LE Set Scan Enable (0x08|0x000c)" <<<"$snoop"; then
	vm_tap_pass "btmon: the host scanned with the extended commands only"
else
	vm_tap_fail "btmon: the host scanned with the extended commands only" \
		"$(grep -E 'Scan (Enable|Parameters)' <<<"$snoop" | head -n 20)"
fi
# By opcode: btmon shortens long command names in its header lines.
if grep -q "Command: .*(0x08|0x0043)" <<<"$snoop" && grep -q "Entry .: LE Coded" <<<"$snoop" &&
	grep -q "LE Enhanced Connection Complete (0x0a)" <<<"$snoop" &&
	! grep -q "(0x08|0x000d)" <<<"$snoop"; then
	vm_tap_pass "btmon: the host connected with LE Extended Create Connection (0x2043, LE Coded among its PHYs) only"
else
	vm_tap_fail "btmon: the host connected with LE Extended Create Connection (0x2043)" \
		"$(grep -E 'Create Connection|Connection Complete' -A 12 <<<"$snoop" | head -n 60)"
fi

kill -TERM "$cd_pid" 2>/dev/null || true
wait "$cd_pid" 2>/dev/null || true
cd_pid=""
kill -TERM "$mux_pid"
rc=0
wait "$mux_pid" || rc=$?
mux_pid=""
if ((rc == 0)); then
	vm_tap_pass "SIGTERM: bgw-muxd exits 0"
else
	vm_tap_fail "SIGTERM: bgw-muxd exit 0" "exit $rc"
fi
vm_tap_done
