#!/bin/bash
# tests/vm/t-seamless.sh -- seamless mode with stock bluetoothd in the QEMU
# guest: bgw-sim --vhci with the café (tests/cafe.house) is the laptop's
# own controller hciN; bgw-muxd on the default house (root allowed the
# speaker and the lock, not the thermometer) serves home on its local
# listener. bgw-cdclient --local hci:N is refused with what to do while
# bluetoothd has hciN powered; once it is powered off, bgw-cdclient takes
# it over the user channel and exposes ONE merged adapter (vhci) with
# hciN's address; `bluetoothctl scan on` on it lists the café's speaker and
# the allowed RDs, not the thermometer; l2ping reaches an ND and an RD on
# that adapter; pairing with the ND; a GATT read on the café's strap (ND)
# and home's lock (RD); bgw-muxd killed, the RD's link ends and the ND's
# goes on;
# on SIGTERM the merged adapter goes and hciN comes back to
# bluetoothd, powered again. TAP on stdout.
# vm-timeout: 480
# Run: BGW_BUILDDIR=build tests/vm/vm-run tests/vm/t-seamless.sh
set -euo pipefail
[[ -n ${BGW_VM_XTRACE:-} ]] && set -x
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 11

build=${BGW_BUILDDIR:-.}
src=$(cd "$(dirname "$0")/../.." && pwd)
sim=$build/sim/bgw-sim
muxd=$build/muxd/bgw-muxd
cdc=$build/cdclient/bgw-cdclient
for b in "$sim" "$muxd" "$cdc"; do
	[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
done
nd=20:CA:FE:00:00:01
nd_le=20:CA:FE:00:00:02
lock=C0:B6:00:00:00:01
thermo=10:B6:00:00:00:02
speaker=10:B6:00:00:00:04

sim_pid="" mux_pid="" cd_pid=""
trap 'kill $cd_pid $mux_pid $sim_pid 2>/dev/null || true' EXIT

vm_start_btmon
before=$(vm_hci_list | wc -l)
"$sim" --vhci --scenario "$src/tests/cafe.house" --time-scale 0.25 >>"$VM_LOGDIR/bgw-sim.log" 2>&1 &
sim_pid=$!
vm_wait_for 15 _vm_hci_count_ge $((before + 1)) || vm_fail "bgw-sim --vhci made no controller"
local_hci=$(vm_hci_list | tail -n 1)
idx=${local_hci#hci}
local_addr=$(vm_hci_addr "$local_hci") || vm_fail "the kernel did not initialise $local_hci"

cat >/tmp/authdb <<EOT
user root
allow root $speaker public
allow root $lock random
EOT
chmod 600 /tmp/authdb
cat >/tmp/muxd.conf <<EOT
controller sim
sim-time-scale 0.25
listen unix:/tmp/muxd.sock
authdb /tmp/authdb
runtime-dir /tmp/muxd.run
EOT
"$muxd" -f -c /tmp/muxd.conf >>"$VM_LOGDIR/bgw-muxd.log" 2>&1 &
mux_pid=$!
vm_wait_for 15 test -S /tmp/muxd.sock || vm_fail "bgw-muxd did not listen: $(cat "$VM_LOGDIR/bgw-muxd.log")"

vm_start_bluez
vm_wait_for 15 vm_hci_powered "$local_hci" || hciconfig "$local_hci" up || true

# 1: hciN powered by bluetoothd: refused, saying what to do.
set +e
timeout -k 2 30 "$cdc" -f --local "hci:$idx" --connect unix:/tmp/muxd.sock --expose vhci \
	>"$VM_LOGDIR/cd-busy.log" 2>&1
rc=$?
set -e
if ((rc == 1)) && grep -q "btmgmt --index $idx power off" "$VM_LOGDIR/cd-busy.log"; then
	vm_tap_pass "$local_hci in use: bgw-cdclient --local says to power it off (exit 1)"
else
	vm_tap_fail "$local_hci in use: refused with what to do" "exit $rc; $(cat "$VM_LOGDIR/cd-busy.log")"
fi

# 2: powered off, it is taken and one merged adapter appears.
vm_btmgmt --index "$idx" power off >/dev/null || true
vm_wait_for 10 eval "! vm_hci_powered $local_hci" || true
before=$(vm_hci_list | wc -l)
"$cdc" -f -v --local "hci:$idx" --connect unix:/tmp/muxd.sock --expose vhci \
	>>"$VM_LOGDIR/bgw-cdclient.log" 2>&1 &
cd_pid=$!
merged=""
if vm_wait_for 20 grep -q "vhci: the remote controller is hci" "$VM_LOGDIR/bgw-cdclient.log"; then
	merged=$(sed -n 's/.*vhci: the remote controller is \(hci[0-9]*\).*/\1/p' "$VM_LOGDIR/bgw-cdclient.log" | tail -n 1)
fi
if [[ -n $merged ]] && addr=$(vm_hci_addr "$merged") && [[ $addr == "$local_addr" ]]; then
	vm_tap_pass "bgw-cdclient took $local_hci and exposes $merged with its address $addr"
else
	vm_tap_fail "a merged adapter with $local_hci's address" \
		"merged=$merged addr=${addr:-} local=$local_addr; $(tail -n 30 "$VM_LOGDIR/bgw-cdclient.log")"
	vm_tap_done
fi

if out=$(vm_btctl "select $addr" "power on" "@expect Changing power on succeeded|Powered: yes") &&
	vm_wait_for 10 vm_hci_powered "$merged"; then
	vm_tap_pass "bluetoothd powers $merged on"
else
	vm_tap_fail "bluetoothd powers $merged on" "$out"
fi

# 4: one scan on one adapter: the café's speaker and home's allowed RDs.
steps=("select $addr" "scan on")
for d in $nd $speaker $lock; do
	steps+=("@expect Device $d 60")
done
steps+=("@sleep 3" "scan off" "devices")
out=$(vm_btctl "${steps[@]}") && rc=0 || rc=$?
if ((rc == 0)) && ! grep -q "$thermo" <<<"$out"; then
	vm_tap_pass "bluetoothctl scan on $merged lists the café's $nd and home's $speaker and $lock, not $thermo"
else
	vm_tap_fail "one scan lists the ND and the permitted RDs only" "$out"
fi

# 5: l2ping to an ND and to an RD on the same adapter.
set +e
o1=$(timeout -k 2 30 l2ping -i "$merged" -c 2 -t 5 "$nd" 2>&1); r1=$?
o2=$(timeout -k 2 30 l2ping -i "$merged" -c 2 -t 5 "$speaker" 2>&1); r2=$?
set -e
if ((r1 == 0 && r2 == 0)) && [[ $(grep -c 'bytes from' <<<"$o1$o2") -ge 4 ]]; then
	vm_tap_pass "l2ping through $merged reaches the café's $nd and home's $speaker"
else
	vm_tap_fail "l2ping to ND and RD (exit $r1 $r2)" "$o1
$o2"
fi

# 6: pairing with the ND (BR/EDR Secure Simple Pairing, "just works"):
# the IO capability, confirmation and link key events of the café's side
# reach bluetoothd through the merge, its replies go back to that side.
if out=$(vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
	"select $addr" "scan bredr" "@expect (NEW|CHG)\\] Device $nd 20" "scan off" \
	"pair $nd" "@expect Pairing successful 30" "@sleep 1" \
	"info $nd" "@expect Paired: yes 5" "disconnect $nd" "@sleep 1"); then
	vm_tap_pass "pairing with the café's $nd through $merged"
else
	vm_tap_fail "pairing with the café's $nd" "$out$(tail -n 20 "$VM_LOGDIR/bgw-cdclient.log")"
fi

# 6-8 wait for the device to be (re)reported by this scan: bluetoothd may
# drop a device it cached at the start of a discovery ([DEL] Device ...).
# 7-8: GATT reads on both sides of the one adapter: the café's heart-rate
# strap (Heart Rate Measurement 00 48: 72 bpm) and home's lock, which root
# may use (Battery Level 0x5a: 90 %), over LE links the merge routes.
if out=$(vm_btctl "select $addr" "scan le" "@expect (NEW|CHG)\\] Device $nd_le 20" "scan off" \
	"connect $nd_le" "@expect Connection successful 30" \
	"@expect ServicesResolved: yes 30" \
	"menu gatt" "list-attributes $nd_le" "@expect 00002a37 10" \
	"select-attribute 00002a37-0000-1000-8000-00805f9b34fb" \
	"read" "@expect 00 48 +[.]H 10" "back" "disconnect $nd_le" "@sleep 1"); then
	vm_tap_pass "GATT read of the café strap's heart rate (00 48: 72 bpm) through $merged"
else
	vm_tap_fail "GATT read on the ND $nd_le" "$out$(tail -n 20 "$VM_LOGDIR/bgw-cdclient.log")"
fi
if out=$(vm_btctl "select $addr" "scan le" "@expect (NEW|CHG)\\] Device $lock 20" "scan off" \
	"connect $lock" "@expect Connection successful 30" \
	"@expect ServicesResolved: yes 30" \
	"menu gatt" "list-attributes $lock" "@expect 00002a19 10" \
	"select-attribute 00002a19-0000-1000-8000-00805f9b34fb" \
	"read" "@expect 5a +Z 10" "back" "disconnect $lock" "@sleep 1"); then
	vm_tap_pass "GATT read of home's lock battery level (5a: 90 %) through $merged"
else
	vm_tap_fail "GATT read on the RD $lock" "$out$(tail -n 20 "$VM_LOGDIR/bgw-cdclient.log")"
fi

# 9: home gone (bgw-muxd killed with the processes it forked): the link
# to the RD ends, the link to the ND goes on.
# Line-buffered: the kill must come while both still ping.
timeout -k 2 60 stdbuf -oL l2ping -i "$merged" -c 15 "$nd" >"$VM_LOGDIR/l2ping-nd.out" 2>&1 &
p_nd=$!
timeout -k 2 60 stdbuf -oL l2ping -i "$merged" -c 40 "$speaker" >"$VM_LOGDIR/l2ping-rd.out" 2>&1 &
p_rd=$!
vm_wait_for 15 grep -q 'bytes from' "$VM_LOGDIR/l2ping-rd.out" || true
vm_wait_for 15 grep -q 'bytes from' "$VM_LOGDIR/l2ping-nd.out" || true
at_kill=$(grep -c 'bytes from' "$VM_LOGDIR/l2ping-nd.out" || true)
kids=$(ps -o pid= --ppid "$mux_pid" || true)
kill -KILL "$mux_pid" $kids 2>/dev/null || true
wait "$mux_pid" 2>/dev/null || true
mux_pid=""
r_nd=0 r_rd=0
wait "$p_nd" || r_nd=$?
wait "$p_rd" || r_rd=$?
n_nd=$(grep -c 'bytes from' "$VM_LOGDIR/l2ping-nd.out" || true)
n_rd=$(grep -c 'bytes from' "$VM_LOGDIR/l2ping-rd.out" || true)
if ((r_nd == 0 && n_nd == 15 && at_kill < 10 && r_rd != 0 && n_rd < 40)); then
	vm_tap_pass "bgw-muxd killed: the RD's l2ping ends ($n_rd of 40), the ND's goes on ($at_kill of 15 before, all 15 after)"
else
	vm_tap_fail "bgw-muxd killed: RD link ends, ND link goes on" \
		"nd: exit $r_nd, $n_nd ($at_kill at the kill); rd: exit $r_rd, $n_rd; $(tail -n 20 "$VM_LOGDIR/bgw-cdclient.log")"
fi

# 10-11: SIGTERM: the merged adapter goes, hciN returns to bluetoothd.
kill -TERM "$cd_pid"
rc=0
wait "$cd_pid" || rc=$?
cd_pid=""
if ((rc == 0)) && vm_wait_for 10 eval "! test -e /sys/class/bluetooth/$merged"; then
	vm_tap_pass "SIGTERM: bgw-cdclient exits 0 and $merged disappears"
else
	vm_tap_fail "SIGTERM: exit 0 and $merged removed" "exit $rc; $(vm_hci_list | tr '\n' ' ')"
fi
# bluetoothd sees the index again (Index Added) and powers it when its
# AutoEnable is on; otherwise the user powers it, as the man page says.
how="by bluetoothd itself"
if ! vm_wait_for 10 vm_hci_powered "$local_hci"; then
	how="after btmgmt --index $idx power on"
	vm_btmgmt --index "$idx" power on >/dev/null || true
fi
if vm_wait_for 15 vm_hci_powered "$local_hci" &&
	out=$(vm_btctl "select $local_addr" "show" "@expect Powered: yes"); then
	vm_tap_pass "$local_hci is bluetoothd's again, powered $how"
else
	vm_tap_fail "$local_hci back to bluetoothd" "$(hciconfig "$local_hci" 2>&1; vm_btmgmt info)"
fi
vm_tap_done
