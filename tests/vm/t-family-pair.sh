#!/bin/bash
# tests/vm/t-family-pair.sh -- the family test with each CD on its own
# machine: two QEMU guests joined by a virtual Ethernet link (run-pair).
#   guest a (10.0.2.1): the BGW, bgw-muxd on a btvirt controller through the
#     HCI user channel (hci:N) with DTLS on 10.0.2.1:4433, the RDs (more
#     btvirt controllers); and alice's CD, `bgw-cdclient --expose vhci`
#     with her certificate bundle, under this guest's bluetoothd
#   guest b (10.0.2.2): bob's CD only, its own dbus, bluetoothd and
#     `bgw-cdclient --expose vhci` logging in with a password over the link
# Both CDs' controllers report the one physical BD_ADDR, which in one kernel
# keeps bluetoothd 5.66 from managing both (t-family.sh drives bob's with
# btmgmt); here each bluetoothd manages its CD's adapter, driven with
# bluetoothctl. Checked: both power on and discover at the same time; each
# sees exactly its permitted RDs (one RD is granted to both, one to
# nobody); each l2pings its own RD (one after the other: see below); bob's
# connection to alice's RD is refused and bgw-muxd audits acl-deny;
# SIGKILL of alice's client while bob's l2ping runs leaves that link whole.
# btvirt (BlueZ 5.66 emulator/btdev.c) forwards ACL data with the SENDER's
# connection handle: when the BGW's controller has a link (handle 42) and
# opens a second one, it calls that 43 while the RD, with no other link,
# calls it 42, and the RD's data arrives on the first link. So the BGW's
# controller holds one ACL link at a time here: bob pings after alice's link
# is gone (tests/vm/README.md).
# The guests synchronise through run-pair's shared directory (vm_pair_* in
# guest-lib.sh), every wait bounded. TAP on stdout (run-pair merges both).
# vm-guests: 2
# vm-timeout: 300
# Run: BGW_BUILDDIR=build/release tests/vm/run-all t-family-pair
#  or: tests/vm/run-pair tests/vm/t-family-pair.sh
# shellcheck disable=SC2015,SC2016,SC2119,SC2317 # a && b || fail; eval; no args; called by vm_wait_for
set -euo pipefail
[[ -n ${BGW_VM_XTRACE:-} ]] && set -x
. "$(dirname "$0")/guest-lib.sh"
vm_require_guest
vm_pair_require

build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
cdc=$build/cdclient/bgw-cdclient
adb=$build/authdb/bgw-authdb
bgw_ip=${BGW_VM_PAIR_SELF}
[[ $VM_PAIR_ROLE == a ]] || bgw_ip=$BGW_VM_PAIR_PEER
port=4433
etc=/tmp/bgw-etc
hci_list() { vm_hci_list || true; }
new_hcis() { # BEFORE-LIST: the controllers not in it
	comm -13 <(tr ' ' '\n' <<<"$1" | sort) <(hci_list | sort)
}

cd_pid="" cd_hci="" mux_pid="" ping_pid=""
trap 'kill $ping_pid $cd_pid $mux_pid $VM_BTVIRT_PID 2>/dev/null || true' EXIT

# start_cd NAME ARGS...: one bgw-cdclient --expose vhci; sets cd_hci, cd_pid
start_cd() {
	local name=$1 before
	shift
	before=$(hci_list | tr '\n' ' ')
	"$cdc" -f --expose vhci "$@" >>"$VM_LOGDIR/cd-$name.log" 2>&1 &
	cd_pid=$!
	cd_hci=""
	vm_wait_for 30 eval '[[ -n $(new_hcis "$before") ]]' || return 1
	cd_hci=$(new_hcis "$before" | head -n 1)
	grep -q "logged in as $name" "$VM_LOGDIR/cd-$name.log"
}

# l2ping_to HCI RD COUNT: exit status and "bytes from" count, in ping_rc/ping_n
l2ping_to() {
	local out
	set +e
	out=$(timeout -k 2 30 l2ping -i "$1" -c "$3" -t 5 "$2" 2>&1)
	ping_rc=$?
	set -e
	ping_n=$(grep -c 'bytes from' <<<"$out" || true)
	ping_out=$out
}

# power_on NAME ADDR HCI: bluetoothd (bluetoothctl, select ADDR) powers it
power_on() {
	local out
	if out=$(vm_btctl "list" "select $2" "power on" "@expect Changing power on succeeded|Powered: yes") &&
		grep -q "^Controller $2 " <<<"$out" && vm_wait_for 5 vm_hci_powered "$3"; then
		vm_tap_pass "$1's bluetoothd manages $3 ($2), powered on by bluetoothctl"
	else
		vm_tap_fail "$1's bluetoothd powers $3 ($2) on" "$out$(hciconfig)"
	fi
}

# scan NAME ADDR RD...: discover (BR/EDR) while the other guest does, and
# see exactly the RDs given. Each side stops only 3 s after the other
# has started, so the two discoveries overlap.
scan() {
	local name=$1 addr=$2 out seen want rc=0
	shift 2
	local -a steps=("select $addr" "menu scan" "transport bredr" "back" "scan on"
		"@expect Discovery started" "@sh vm_pair_signal scanning" "@sh vm_pair_wait 60 scanning")
	for rd; do steps+=("@expect Device $rd 40"); done
	steps+=("@sleep 3" "scan off" "devices")
	out=$(vm_btctl "${steps[@]}") || rc=$?
	# every device bluetoothctl mentions ([NEW], [CHG], devices) was seen
	seen=$(grep -oE 'Device ([0-9A-F]{2}:){5}[0-9A-F]{2}' <<<"$out" | awk '{ print $2 }' | sort -u | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
	if ((rc == 0)) && [[ $seen == "$want" ]]; then
		vm_tap_pass "$name's scan, while the other guest scans, shows exactly $want"
	else
		vm_tap_fail "$name's scan, while the other guest scans, shows exactly '$want', got '$seen' (vm_btctl $rc)" "$out"
	fi
}

# ================================================================ guest a
role_bgw() {
	vm_tap_plan 9
	local b
	for b in "$muxd" "$cdc" "$adb"; do
		[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
	done

	# The BGW's controller and four RDs: alice's, bob's, one granted to
	# both, one to nobody.
	local before made rd_alice rd_bob rd_both rd_none h a
	before=$(hci_list | tr '\n' ' ')
	vm_start_btvirt -B -l5
	mapfile -t made < <(new_hcis "$before" | sort -V)
	local bgw_hci=${made[0]}
	local rd_hcis=("${made[@]:1}") rds=()
	for h in "${rd_hcis[@]}"; do
		a=$(vm_hci_addr "$h") || vm_fail "no address for the RD $h"
		rds+=("$a")
	done
	rd_alice=${rds[0]} rd_bob=${rds[1]} rd_both=${rds[2]} rd_none=${rds[3]}
	vm_log "controller hci:${bgw_hci#hci}; RDs alice $rd_alice, bob $rd_bob, both $rd_both, nobody $rd_none"

	mkdir -p "$etc"
	A() { "$adb" --db "$etc/authdb" --audit "$etc/audit.log" "$@" >>"$VM_LOGDIR/bgw-authdb.log" 2>&1; }
	A ca init --dir "$etc" --name "Family BGW" --ip "$bgw_ip" &&
		A user add alice &&
		A cert issue alice --dir "$etc" --server "$bgw_ip:$port" --out "$etc/alice.bgw" &&
		A user add bob &&
		printf 'Harbour-Kite-37-Plum\n' >"$etc/bob.pw" &&
		A passwd --stdin bob <"$etc/bob.pw" &&
		A allow alice "$rd_alice" public &&
		A allow bob "$rd_bob" public &&
		A allow alice "$rd_both" public &&
		A allow bob "$rd_both" public ||
		vm_fail "bgw-authdb: $(tail -n 5 "$VM_LOGDIR/bgw-authdb.log")"
	cat >"$etc/muxd.conf" <<-EOT
		controller hci:${bgw_hci#hci}
		listen-dtls $bgw_ip:$port
		login-time 30
		ca $etc/ca.crt
		cert $etc/server.crt
		key $etc/server.key
		scram-secret $etc/scram.secret
		audit-log $etc/audit.log
		authdb $etc/authdb
	EOT
	"$muxd" -f -c "$etc/muxd.conf" >>"$VM_LOGDIR/bgw-muxd.log" 2>&1 &
	mux_pid=$!
	if vm_wait_for 90 grep -q "tunnel: DTLS on $bgw_ip port $port" "$VM_LOGDIR/bgw-muxd.log" &&
		vm_wait_for 90 grep -q "ready" "$VM_LOGDIR/bgw-muxd.log"; then
		vm_tap_pass "bgw-muxd on hci:${bgw_hci#hci} serves DTLS on $bgw_ip:$port"
	else
		vm_tap_fail "bgw-muxd on hci:${bgw_hci#hci} started" "$(cat "$VM_LOGDIR/bgw-muxd.log")"
		vm_tap_done
	fi
	# What bob's machine needs: the CA certificate (server pin), his
	# password, the RDs' addresses.
	vm_pair_put "$etc/ca.crt" ca.crt
	vm_pair_put "$etc/bob.pw" bob.pw
	vm_pair_signal bgw "$rd_alice $rd_bob $rd_both $rd_none"

	if start_cd alice --bundle "$etc/alice.bgw"; then
		vm_tap_pass "alice (certificate bundle) logged in: $cd_hci"
	else
		vm_tap_fail "alice logged in and got an hciN" "$(cat "$VM_LOGDIR/cd-alice.log")"
		vm_tap_done
	fi
	local alice_pid=$cd_pid alice_hci=$cd_hci alice_addr
	alice_addr=$(vm_hci_addr "$alice_hci") || vm_fail "the kernel did not initialise $alice_hci"
	vm_log "alice $alice_hci $alice_addr"

	# bluetoothd after bgw-muxd holds its controller (else it powers that
	# one on and the user channel is refused); it powers the RDs on.
	vm_start_bluez
	for h in "${rd_hcis[@]}"; do
		vm_wait_for 10 vm_hci_powered "$h" || hciconfig "$h" up || true
		hciconfig "$h" piscan || true
	done
	rd_ready() {
		local h
		for h in "${rd_hcis[@]}"; do
			hciconfig "$h" | grep -q "UP RUNNING PSCAN ISCAN" || return 1
		done
	}
	vm_wait_for 10 rd_ready || vm_fail "RDs not connectable and discoverable: $(hciconfig)"

	power_on alice "$alice_addr" "$alice_hci"
	vm_pair_signal powered
	vm_pair_wait 90 powered || true

	scan alice "$alice_addr" "$rd_alice" "$rd_both"

	# Alice pings first; bob once her link is gone (btvirt's handles, above).
	l2ping_to "$alice_hci" "$rd_alice" 3
	if ((ping_rc == 0 && ping_n == 3)); then
		vm_tap_pass "alice l2pings her RD $rd_alice"
	else
		vm_tap_fail "alice l2pings $rd_alice (exit $ping_rc, $ping_n replies)" "$ping_out"
	fi
	# Linux drops an unused ACL link after its disconnect timeout (2 s)
	vm_wait_for 15 eval "! hcitool -i $alice_hci con | grep -q ACL" ||
		vm_log "alice's link to $rd_alice still up: $(hcitool -i "$alice_hci" con)"
	vm_pair_signal pinged

	# Bob tries alice's RD from his machine (hcitool cc, see t-family.sh).
	if vm_pair_wait 60 cc-done && vm_wait_for 5 grep -q "acl-deny user=bob rd=$rd_alice" "$etc/audit.log"; then
		vm_tap_pass "bgw-muxd audited acl-deny user=bob rd=$rd_alice"
	else
		vm_tap_fail "acl-deny audit record for bob and $rd_alice" "$(tail -n 5 "$etc/audit.log")"
	fi
	if ! grep acl-deny "$etc/audit.log" | grep -q "user=alice"; then
		vm_tap_pass "no acl-deny for alice"
	else
		vm_tap_fail "no acl-deny for alice" "$(grep acl-deny "$etc/audit.log")"
	fi

	# SIGKILL of alice's client while bob's l2ping runs.
	if vm_pair_wait 60 pinging; then
		kill -KILL "$alice_pid"
		wait "$alice_pid" 2>/dev/null || true
		cd_pid=""
		vm_pair_signal alice-killed
		if vm_wait_for 15 eval "! test -e /sys/class/bluetooth/$alice_hci"; then
			vm_tap_pass "SIGKILL of alice's client: $alice_hci disappears"
		else
			vm_tap_fail "$alice_hci disappears after SIGKILL" "$(hci_list | tr '\n' ' ')"
		fi
	else
		vm_tap_fail "SIGKILL of alice's client while bob pings" "bob's guest never said it was pinging"
	fi

	# Bob's guest checks its link and its client's exit; then the BGW stops.
	vm_pair_wait 90 finished || true
	local rc=0 alive=0
	! kill -0 "$mux_pid" 2>/dev/null || alive=1
	kill -TERM "$mux_pid"
	wait "$mux_pid" || rc=$?
	mux_pid=""
	if ((alive && rc == 0)); then
		vm_tap_pass "bgw-muxd ran throughout; SIGTERM: exit 0"
	else
		vm_tap_fail "bgw-muxd ran throughout and exits 0 on SIGTERM (running $alive, exit $rc)" \
			"$(tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
	fi
	vm_tap_done
}

# ================================================================ guest b
role_bob() {
	vm_tap_plan 8
	[[ -x $cdc ]] || { vm_tap_fail "bgw-cdclient built" "no $cdc (set BGW_BUILDDIR)"; vm_tap_done; }
	# bluetoothd starts while the BGW's guest sets up; it will manage the
	# adapter bob's client brings.
	vm_start_bluez
	if ! vm_pair_wait 180 bgw; then
		vm_tap_fail "the BGW's guest is up" "no 'bgw' from guest a"
		vm_tap_done
	fi
	local rd_alice rd_bob rd_both rd_none
	read -r rd_alice rd_bob rd_both rd_none <"$(vm_pair_path bgw)"
	mkdir -p "$etc"
	cp "$(vm_pair_path ca.crt)" "$etc/ca.crt"
	cp "$(vm_pair_path bob.pw)" "$etc/bob.pw"
	chmod 600 "$etc/bob.pw"

	if start_cd bob --server "$bgw_ip:$port" --user bob --ca "$etc/ca.crt" --password-file "$etc/bob.pw"; then
		vm_tap_pass "bob (password) logged in from $BGW_VM_PAIR_SELF to $bgw_ip:$port: $cd_hci"
	else
		vm_tap_fail "bob logged in over the link and got an hciN" "$(cat "$VM_LOGDIR/cd-bob.log")"
		vm_tap_done
	fi
	local bob_pid=$cd_pid bob_hci=$cd_hci bob_addr
	bob_addr=$(vm_hci_addr "$bob_hci") || vm_fail "the kernel did not initialise $bob_hci"
	vm_log "bob $bob_hci $bob_addr"

	power_on bob "$bob_addr" "$bob_hci"
	vm_pair_signal powered
	vm_pair_wait 90 powered || true

	scan bob "$bob_addr" "$rd_bob" "$rd_both"

	vm_pair_wait 60 pinged || true
	l2ping_to "$bob_hci" "$rd_bob" 3
	if ((ping_rc == 0 && ping_n == 3)); then
		vm_tap_pass "bob l2pings his RD $rd_bob"
	else
		vm_tap_fail "bob l2pings $rd_bob (exit $ping_rc, $ping_n replies)" "$ping_out"
	fi

	# A raw Create Connection, no L2CAP channel: Linux 6.1 dies on a
	# failed ACL connection under an L2CAP socket (t-family.sh, README).
	local out
	set +e
	out=$(timeout -k 2 20 hcitool -i "$bob_hci" cc "$rd_alice" 2>&1)
	set -e
	if grep -q "Can't create connection" <<<"$out" &&
		! hcitool -i "$bob_hci" con | grep "$rd_alice" | grep -q "state 1 "; then
		vm_tap_pass "bob's connection to alice's RD $rd_alice is refused ($out)"
	else
		vm_tap_fail "bob's connection to $rd_alice refused" "$out$(hcitool -i "$bob_hci" con)"
	fi
	vm_pair_signal cc-done

	# An l2ping running across the SIGKILL of alice's client in guest a.
	local ping_log=$VM_LOGDIR/bob-l2ping.out rc=0 n running=0
	# line-buffered: the first reply must show while it runs
	timeout -k 2 60 stdbuf -oL l2ping -i "$bob_hci" -c 10 -t 5 "$rd_bob" >"$ping_log" 2>&1 &
	ping_pid=$!
	vm_wait_for 15 grep -q 'bytes from' "$ping_log" || vm_log "no l2ping reply within 15 s"
	vm_pair_signal pinging
	# the kill must fall inside the l2ping, else this proves nothing
	if vm_pair_wait 30 alice-killed && kill -0 "$ping_pid" 2>/dev/null; then
		running=1
	fi
	wait "$ping_pid" || rc=$?
	ping_pid=""
	n=$(grep -c 'bytes from' "$ping_log" || true)
	if ((running && rc == 0 && n == 10)); then
		vm_tap_pass "bob's l2ping running across the SIGKILL of alice's client got all 10 replies"
	else
		vm_tap_fail "bob's l2ping across alice's SIGKILL (still running then: $running, exit $rc, $n replies)" \
			"$(cat "$ping_log")"
	fi
	l2ping_to "$bob_hci" "$rd_bob" 1
	if ((ping_rc == 0 && ping_n == 1)); then
		vm_tap_pass "bob's new l2ping afterwards works"
	else
		vm_tap_fail "bob l2pings after alice's SIGKILL (exit $ping_rc)" "$ping_out"
	fi

	kill -TERM "$bob_pid"
	rc=0
	wait "$bob_pid" || rc=$?
	cd_pid=""
	if ((rc == 0)) && vm_wait_for 10 eval "! test -e /sys/class/bluetooth/$bob_hci"; then
		vm_tap_pass "SIGTERM: bob's client exits 0, $bob_hci disappears"
	else
		vm_tap_fail "SIGTERM: bob's client exits 0 (exit $rc)" "$(tail -n 5 "$VM_LOGDIR/cd-bob.log")"
	fi
	vm_pair_signal finished
	vm_tap_done
}

case $VM_PAIR_ROLE in
a) role_bgw ;;
b) role_bob ;;
esac
