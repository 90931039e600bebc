#!/bin/bash
# tests/vm/t-mux-hci.sh -- bgw-muxd's hci: transport (the HCI user channel)
# in the QEMU guest: bgw-sim --vhci gives the kernel an hciN; while it is up
# bgw-muxd says how to free it and keeps retrying; once it is down
# bgw-muxd takes it over the user channel, initialises it and serves a
# local client (inquiry, connection, L2CAP echo); a second bgw-muxd cannot
# take it (the kernel answers EBUSY, as the device is up, before EUSERS),
# mgmt cannot touch it; on SIGTERM the controller goes back to the kernel.
# TAP on stdout.
# vm-timeout: 300
# Run: BGW_BUILDDIR=build/mux tests/vm/vm-run tests/vm/t-mux-hci.sh
set -euo pipefail
[[ -n ${BGW_VM_XTRACE:-} ]] && set -x
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest

vm_tap_plan 6

build=${BGW_BUILDDIR:-.}
sim=$build/sim/bgw-sim
muxd=$build/muxd/bgw-muxd
client=$build/tests/sim-client
for b in "$sim" "$muxd" "$client"; do
	[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
done
speaker=10:B6:00:00:00:04
hci_list() { vm_hci_list || true; }

sim_pid="" mux_pid="" mux2_pid=""
trap 'kill $mux2_pid $mux_pid $sim_pid 2>/dev/null || true' EXIT
before=$(hci_list | wc -l)
"$sim" --vhci --time-scale 0.25 >>"$VM_LOGDIR/bgw-sim.log" 2>&1 &
sim_pid=$!
vm_wait_for 15 _vm_hci_count_ge $((before + 1)) || vm_fail "bgw-sim --vhci made no controller"
hci=$(hci_list | tail -n 1)
idx=${hci#hci}
vm_hci_addr "$hci" >/dev/null || vm_fail "the kernel did not initialise $hci"
hciconfig "$hci" up || true

cat >/tmp/authdb <<EOT
user root
allow root $speaker public
EOT
chmod 600 /tmp/authdb
# Each its own runtime-dir: two instances of one configuration would be
# refused before reaching the controller.
mkconf() { # CONF SOCKET
	cat >"$1" <<EOT
controller hci:$idx
listen unix:$2
authdb /tmp/authdb
runtime-dir ${2%.sock}.run
EOT
}
mkconf /tmp/muxd.conf /tmp/muxd.sock
mkconf /tmp/muxd2.conf /tmp/muxd2.sock

"$muxd" -f -c /tmp/muxd.conf >>"$VM_LOGDIR/bgw-muxd.log" 2>&1 &
mux_pid=$!
if vm_wait_for 10 grep -q "$hci is up or held by bluetoothd: run \`btmgmt --index $idx power off\`" \
	"$VM_LOGDIR/bgw-muxd.log"; then
	vm_tap_pass "$hci up: bgw-muxd says how to free it (EBUSY)"
else
	vm_tap_fail "$hci up: EBUSY explained" "$(cat "$VM_LOGDIR/bgw-muxd.log")"
fi

hciconfig "$hci" down
if vm_wait_for 40 grep -q "ready" "$VM_LOGDIR/bgw-muxd.log"; then
	vm_tap_pass "$hci down: bgw-muxd took it over the user channel and initialised it"
else
	vm_tap_fail "bgw-muxd took $hci over the user channel" "$(cat "$VM_LOGDIR/bgw-muxd.log")"
	vm_tap_done
fi

set +e
out=$(timeout -k 2 60 "$client" /tmp/muxd.sock 2>&1)
rc=$?
set -e
if ((rc == 0)) && grep -q "echo ok $speaker" <<<"$out"; then
	vm_tap_pass "a local client: inquiry, connection and L2CAP echo over hci:$idx"
else
	vm_tap_fail "a local client over hci:$idx (exit $rc)" "$out$(tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
fi

"$muxd" -f -c /tmp/muxd2.conf >>"$VM_LOGDIR/bgw-muxd2.log" 2>&1 &
mux2_pid=$!
if vm_wait_for 10 grep -q "$hci is up or held by bluetoothd.*another program holds its user channel" \
	"$VM_LOGDIR/bgw-muxd2.log" && ! grep -q "ready" "$VM_LOGDIR/bgw-muxd2.log"; then
	vm_tap_pass "a second bgw-muxd cannot take $hci and says why"
else
	vm_tap_fail "second bgw-muxd refused with an explanation" "$(cat "$VM_LOGDIR/bgw-muxd2.log")"
fi
kill -TERM "$mux2_pid" 2>/dev/null || true
wait "$mux2_pid" 2>/dev/null || true
mux2_pid=""

# While bgw-muxd holds it, mgmt (bluetoothd's interface) cannot touch it.
set +e
out=$(btmgmt --index "$idx" power on 2>&1 < <(sleep 5))
set -e
if grep -qi "invalid index" <<<"$out"; then
	vm_tap_pass "mgmt cannot touch $hci while the user channel holds it"
else
	vm_tap_fail "mgmt locked out of $hci" "$out"
fi

kill -TERM "$mux_pid"
rc=0
wait "$mux_pid" || rc=$?
mux_pid=""
if ((rc == 0)) && vm_wait_for 10 eval "hciconfig $hci up"; then
	vm_tap_pass "SIGTERM: bgw-muxd exits 0 and $hci returns to the kernel"
else
	vm_tap_fail "SIGTERM: exit 0 and $hci back" "exit $rc; $(hciconfig "$hci" 2>&1)"
fi
vm_tap_done
