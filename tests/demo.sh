#!/bin/bash
# The family demo behind `./run demo`: a temporary gateway (BGW) on the
# built-in simulated controller, two family members connected at once
# through the DTLS tunnel, each seeing and using only their own devices;
# then Alice at a café in seamless mode (bgw-cdclient --local): one adapter
# lists the café's devices next to her home's, and she uses both.
# Everything runs on loopback in a temporary directory that is removed at
# the end. Usage: tests/demo.sh BUILDDIR (run as root: bgw-muxd reads only a
# root-owned authdb).
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$src/build/release}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cdc=$build/cdclient/bgw-cdclient
host="timeout 60 python3 $src/tests/cd_host.py"

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run it as root (bgw-muxd reads only a root-owned authdb)"
command -v python3 >/dev/null || die "python3 is needed (the scripted Bluetooth hosts)"
for b in "$muxd" "$adb" "$cdc"; do [ -x "$b" ] || die "$b is not built"; done

tmp=$(mktemp -d /tmp/bgw-demo.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bounded wait: wait_for SECONDS COMMAND...
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}
A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
show() {
	local a line="   \$ bgw-authdb"
	for a in "$@"; do
		case $a in *" "*) line="$line \"$a\"" ;; *) line="$line $a" ;; esac
	done
	echo "$line"
	A "$@" >>"$tmp/admin.log" 2>&1 || die "bgw-authdb $* failed: $(tail -1 "$tmp/admin.log")"
}
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }

# The default house of bgw-sim(5), by address.
declare -A name=(
	[C0:B6:00:00:00:01]="Front Door Lock"
	[10:B6:00:00:00:02]="Thermometer"
	[10:B6:00:00:00:03]="Living Room Bulb"
	[10:B6:00:00:00:04]="Kitchen Speaker"
	[10:B6:00:00:00:05]="Blood Pressure Cuff"
	[20:CA:FE:00:00:01]="Cafe Speaker"
	[20:CA:FE:00:00:02]="Heart Rate Strap"
)
names() {
	local a out=""
	for a in $1; do out="$out${out:+, }${name[$a]:-$a}"; done
	echo "${out:-nothing}"
}

port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat <<EOF
bgw: a home's Bluetooth devices, used from anywhere by the family, each
member seeing only what is theirs. This demo runs a whole gateway on this
machine: the Bluetooth controller is bgw-sim's simulated house, the family
members' laptops are two bgw-cdclient processes with scripted Bluetooth
hosts, and everything crosses a real DTLS tunnel on 127.0.0.1.

The house around the gateway's controller:
   Front Door Lock       C0:B6:00:00:00:01  LE (random address)
   Thermometer           10:B6:00:00:00:02  LE
   Living Room Bulb      10:B6:00:00:00:03  BR/EDR + LE
   Kitchen Speaker       10:B6:00:00:00:04  BR/EDR
   Blood Pressure Cuff   10:B6:00:00:00:05  LE
EOF

step "1. Mum (the admin) sets up the gateway with bgw-authdb"
mkdir -p "$tmp/etc"
show ca init --name "Home BGW" --ip 127.0.0.1
show user add mum
show user admin mum yes
show user add alice
show cert issue alice --server "127.0.0.1:$port" --out "$tmp/alice.bundle"
show user add bob
printf '   $ bgw-authdb passwd bob --stdin   (a weak one is refused:)\n'
if printf 'password1\n' | A passwd --stdin bob >"$tmp/weak.log" 2>&1; then
	die "a weak password was accepted"
fi
printf '     %s\n' "$(tail -1 "$tmp/weak.log")"
pw='Harbour-Kite-37-Plum'
printf '%s\n' "$pw" | A passwd --stdin bob >>"$tmp/admin.log" 2>&1 || die "passwd bob failed"
show allow alice C0:B6:00:00:00:01 random "Front door lock"
show allow alice 10:B6:00:00:00:02 public "Thermometer"
show allow bob 10:B6:00:00:00:04 public "Kitchen speaker"
show group add family
show group member family add alice
show group member family add bob
show allow @family 10:B6:00:00:00:03 public "Living room bulb"
printf '   (nobody is granted the blood-pressure cuff: default deny)\n'

step "2. The gateway starts: bgw-muxd on the simulated controller"
printf '%s\n' "$pw" >"$tmp/bob.pw"
chmod 600 "$tmp/bob.pw"
cat >"$tmp/muxd.conf" <<EOT
controller sim
sim-time-scale 0.1
listen-dtls 127.0.0.1:$port
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
authdb $tmp/etc/authdb
runtime-dir $tmp
EOT
"$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
pids+=($!)
wait_for 15 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd.log" ||
	{ cat "$tmp/muxd.log"; die "bgw-muxd did not start"; }
printf '   bgw-muxd serves DTLS on 127.0.0.1:%s; the physical controller is its own\n' "$port"

step "3. Alice and Bob connect from their laptops, at the same time"
"$cdc" -f --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" >"$tmp/cd-alice.log" 2>&1 &
pids+=($!)
"$cdc" -f --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
pids+=($!)
wait_for 20 grep -q "logged in as alice" "$tmp/cd-alice.log" || { cat "$tmp/cd-alice.log"; die "alice could not log in"; }
wait_for 20 grep -q "logged in as bob" "$tmp/cd-bob.log" || { cat "$tmp/cd-bob.log"; die "bob could not log in"; }
wait_for 10 test -S "$tmp/alice.sock" && wait_for 10 test -S "$tmp/bob.sock" || die "no local exposure"
printf '   alice: $ bgw-cdclient --bundle alice.bundle       -> logged in (certificate)\n'
printf '   bob:   $ bgw-cdclient --server ... --user bob     -> logged in (password, SCRAM-SHA-256;\n'
printf '          the password never crossed the network)\n'

step "4. Each laptop's Bluetooth host powers on, scans and uses its devices"
$host --unix "$tmp/alice.sock" init lescan:2 \
	leconnect:10:B6:00:00:00:02 gatt-read:2a6e \
	leconnect:C0:B6:00:00:00:01/random gatt-read:2a19 >"$tmp/alice.out" 2>&1 &
ha=$!
$host --unix "$tmp/bob.sock" init inquiry name:10:B6:00:00:00:04 \
	connect:10:B6:00:00:00:04 echo >"$tmp/bob.out" 2>&1
rb=$?
wait "$ha"
ra=$?
[ "$ra" -eq 0 ] || { cat "$tmp/alice.out"; die "alice's host failed"; }
[ "$rb" -eq 0 ] || { cat "$tmp/bob.out"; die "bob's host failed"; }

val() { sed -n "s/^$2=//p" "$1" | head -"${3:-1}" | tail -1; }
temp_hex=$(val "$tmp/alice.out" gatt 1 | awk '{ print $3 }')
batt_hex=$(val "$tmp/alice.out" gatt 2 | awk '{ print $3 }')
temp=$(python3 -c "import sys; v = int.from_bytes(bytes.fromhex(sys.argv[1]), 'little', signed=True); print('%.2f' % (v / 100))" "$temp_hex")
batt=$((16#${batt_hex:-0}))
left=(
	"controller ready ($(val "$tmp/alice.out" bdaddr))"
	"LE scan: $(names "$(val "$tmp/alice.out" lescan)")"
	"connects to the Thermometer"
	"reads the temperature: $temp C"
	"connects to the Front Door Lock"
	"reads its battery level: $batt %"
)
right=(
	"controller ready ($(val "$tmp/bob.out" bdaddr))"
	"inquiry: $(names "$(val "$tmp/bob.out" inquiry)")"
	"asks its name: $(val "$tmp/bob.out" name | cut -d' ' -f2-)"
	"connects to the Kitchen Speaker"
	"L2CAP echo: sent \"ping\", got \"$(val "$tmp/bob.out" echo)\""
	""
)
printf '\n   %-55s | %s\n' "ALICE (certificate)" "BOB (password)"
printf '   %s-+-%s\n' "$(printf '%.0s-' {1..55})" "$(printf '%.0s-' {1..44})"
for i in "${!left[@]}"; do
	printf '   %-55s | %s\n' "${left[$i]}" "${right[$i]}"
done
printf '\n   Neither saw the other: each host got only its own devices, its own\n'
printf '   connection handles, data and command completions, over one physical\n'
printf '   controller. Nobody saw the blood-pressure cuff.\n'

step "5. Bob tries Alice's front door lock"
# A new host: bgw-cdclient reset the controller when the last one left.
$host --unix "$tmp/bob.sock" init leconnect:C0:B6:00:00:00:01/random >"$tmp/bob2.out" 2>&1 ||
	{ cat "$tmp/bob2.out"; die "bob's attempt did not complete"; }
st=$(val "$tmp/bob2.out" leconnect-refused)
[ -n "$st" ] || { cat "$tmp/bob2.out"; die "bob reached alice's lock"; }
how=$(val "$tmp/bob2.out" leconnect-refused-by)
case $st in
0x0f) why="Connection Rejected due to Unacceptable BD_ADDR" ;;
*) why="status $st" ;;
esac
printf '   his controller answers: %s\n' "$how"
printf '   (%s) -- the gateway never sent it to the radio.\n' "$why"
wait_for 5 grep -q 'acl-deny' "$tmp/audit.log" || die "no audit record of the refusal"
printf '   the audit log recorded it:\n'
grep 'acl-deny' "$tmp/audit.log" | head -1 | sed 's/ prev=.*//; s/^/     /'

step "6. Alice takes her laptop to a café: one adapter for both"
# Seamless mode (doc/seamless.md): bgw-cdclient --local merges the laptop's
# own controller (here a bgw-sim with the café, tests/cafe.house) with her
# session at home, so the host sees ONE controller.
kill "${pids[1]}" 2>/dev/null
wait "${pids[1]}" 2>/dev/null
sim=$build/sim/bgw-sim
[ -x "$sim" ] || die "$sim is not built"
# The café of tests/cafe.house without its lamp (a test device with the
# home bulb's address): bgw-sim(5).
cat >"$tmp/cafe.house" <<EOT
device speaker
	address 20:CA:FE:00:00:01 public
	type bredr
	name Cafe Speaker
	class 0x240414
	rssi -50
	uuid16 110b
device strap
	address 20:CA:FE:00:00:02 public
	type le
	name Heart Rate Strap
	appearance 0x0340
	rssi -45
	uuid16 180d
	service 180d
	characteristic 2a37 read,notify 0048
EOT
"$sim" --scenario "$tmp/cafe.house" --time-scale 0.1 --unix "$tmp/cafe-radio.sock" \
	>"$tmp/sim-cafe.log" 2>&1 &
pids+=($!)
wait_for 10 test -S "$tmp/cafe-radio.sock" || { cat "$tmp/sim-cafe.log"; die "the café's radio did not start"; }
"$cdc" -f --local "unix:$tmp/cafe-radio.sock" --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/cafe.sock" >"$tmp/cd-cafe.log" 2>&1 &
pids+=($!)
wait_for 20 grep -q "seamless: the gateway .* is up" "$tmp/cd-cafe.log" && wait_for 10 test -S "$tmp/cafe.sock" ||
	{ cat "$tmp/cd-cafe.log"; die "seamless mode did not start"; }
printf '   alice: $ bgw-cdclient --local hci:0 --bundle alice.bundle\n'
printf '          (her laptop'"'"'s own radio and home in one adapter; here the radio is\n'
printf '          bgw-sim with a café around it: a speaker and a heart-rate strap)\n'
$host --unix "$tmp/cafe.sock" init inquiry lescan:1 \
	connect:20:CA:FE:00:00:01 echo \
	leconnect:10:B6:00:00:00:02 gatt-read:2a6e \
	leconnect:C0:B6:00:00:00:01/random gatt-read:2a19 >"$tmp/cafe.out" 2>&1 ||
	{ cat "$tmp/cafe.out"; die "alice's host at the café failed"; }
# In a fixed order, whichever of the inquiry and the LE scan found them.
near="" home=""
seen=" $(val "$tmp/cafe.out" inquiry) $(val "$tmp/cafe.out" lescan) "
for a in 20:CA:FE:00:00:01 20:CA:FE:00:00:02; do
	case $seen in *" $a "*) near="$near $a" ;; esac
done
for a in 10:B6:00:00:00:02 C0:B6:00:00:00:01 10:B6:00:00:00:03 10:B6:00:00:00:04 10:B6:00:00:00:05; do
	case $seen in *" $a "*) home="$home $a" ;; esac
done
temp_hex=$(val "$tmp/cafe.out" gatt 1 | awk '{ print $3 }')
batt_hex=$(val "$tmp/cafe.out" gatt 2 | awk '{ print $3 }')
temp=$(python3 -c "import sys; v = int.from_bytes(bytes.fromhex(sys.argv[1]), 'little', signed=True); print('%.2f' % (v / 100))" "$temp_hex")
printf '   one adapter (%s, the laptop'"'"'s own address) lists:\n' "$(val "$tmp/cafe.out" bdaddr)"
printf '     near her:  %s\n' "$(names "$near")"
printf '     at home:   %s\n' "$(names "$home")"
printf '   the Cafe Speaker (near): connected, L2CAP echo sent "ping", got "%s"\n' \
	"$(val "$tmp/cafe.out" echo)"
printf '   the Thermometer (home): reads the temperature: %s C\n' "$temp"
printf '   the Front Door Lock (home): reads its battery level: %s %%\n' "$((16#${batt_hex:-0}))"
printf '   Her apps use the default adapter as always; nothing says which device\n'
printf '   is where. Without the network, the café'"'"'s devices keep working.\n'

step "7. Mum checks the tamper-evident audit log"
printf '   $ bgw-authdb audit verify\n'
A audit verify 2>&1 | sed 's/ head .*//; s/^/     /'
printf '   every record carries a keyed MAC chained to the one before it; what it holds:\n'
awk '{ print $3 }' "$tmp/audit.log" | sort | uniq -c | sed 's/^ */     /'

kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()
step "Done: the gateway, the café's radio and the clients stopped, $tmp removed."
if [ -e /dev/vhci ]; then
	cat <<EOF
This machine has /dev/vhci: with a gateway running, a family member's
   bgw-cdclient --bundle alice.bundle
gives the kernel a new hciN, and bluetoothctl (power on, scan on) shows the
home's devices as if they were in the room.
EOF
else
	cat <<EOF
On a laptop with Bluetooth (/dev/vhci), 'bgw-cdclient --bundle alice.bundle'
gives the kernel a new hciN that bluetoothctl and every Bluetooth app use
unchanged; README.md says how to set up a real gateway.
EOF
fi
