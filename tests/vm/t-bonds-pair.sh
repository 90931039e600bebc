#!/bin/bash
# tests/vm/t-bonds-pair.sh -- household bonds with two stock BlueZ CDs on
# two machines (run-pair): one bonded BR/EDR device used in turn,
# encryption on, both users succeeding every time.
#   guest a (10.0.2.1): the BGW, bgw-muxd on its simulated house with a
#     bond store, DTLS on 10.0.2.1:4433; alice's CD (`bgw-cdclient
#     --expose vhci`, certificate bundle) under this guest's bluetoothd
#   guest b (10.0.2.2): bob's CD only (password), its own bluetoothd
# Alice pairs the speaker with bluetoothctl (Secure Simple Pairing, her
# bluetoothd's agent): the mux keeps the household bond. Then bob and alice
# take turns: each opens an L2CAP channel with security level medium
# (`l2test -n -E`), so the kernel authenticates and encrypts the link
# before its Connection Request (Vol 3 Part C 5.2.2; the speaker refuses
# the PSM afterwards). Without the broker the speaker keeps one key for the
# gateway's one address and one of them fails with Authentication Failure;
# with it every round shows a successful Encryption Change in that CD's
# btmon. The household key is in neither CD's btmon snoop nor its
# bluetoothd's storage, nor in the gateway's log or audit log.
# Then the same for the LE lock of the simulated house (legacy pairing,
# its bolt only over an encrypted link): alice's bluetoothd pairs it (the
# mux keeps the lock's LTK), bob's bluetoothd pairs it too (answered by
# the mux, never reaching the lock), and both take turns opening the ATT
# channel at security level medium (`l2test -n -E -V le_random -J 4`), so
# each kernel encrypts with the LTK its bluetoothd stored; the lock's LTK
# is in neither trace nor either bluetoothd's storage.
# Then an SC lock (LE Secure Connections, Just Works): the mux pairs it for
# alice's host, bob's pairs its stand-in; 3 turns each (short, and enough).
# vm-guests: 2
# vm-slots: 1
# vm-timeout: 1500
# (run-all reads those three in the first 30 lines. vm-slots: the guests
# take turns, one acting while the other waits for it, about one CPU
# between them, so run-all runs another case beside this one.)
# btvirt is not used: the sim is the BGW's controller, so the handle
# numbering caveat of t-family-pair.sh does not apply; still one user at
# a time, which is what the case is about.
# Run: BGW_BUILDDIR=build/test tests/vm/run-all t-bonds-pair
#  or: tests/vm/run-pair tests/vm/t-bonds-pair.sh
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
sim=$build/sim/bgw-sim
bgw_ip=${BGW_VM_PAIR_SELF}
[[ $VM_PAIR_ROLE == a ]] || bgw_ip=$BGW_VM_PAIR_PEER
port=4433
etc=/tmp/bgw-etc
speaker=10:B6:00:00:00:04
lock=C0:B6:00:00:00:01
sclock=C0:B6:00:00:00:06
rounds=5
sc_rounds=3
hci_list() { vm_hci_list || true; }
t_log() { [[ -z ${BGW_VM_TIMING:-} ]] || vm_log "$@"; }
new_hcis() { # BEFORE-LIST: the controllers not in it
	comm -13 <(tr ' ' '\n' <<<"$1" | sort) <(hci_list | sort)
}

cd_pid="" cd_hci="" mux_pid=""
trap 'kill $cd_pid $mux_pid 2>/dev/null || true; [[ -z ${VM_BTMON_PID:-} ]] || vm_stop_btmon' EXIT

# start_cd NAME ARGS...: one bgw-cdclient --expose vhci; sets cd_hci, cd_pid
start_cd() {
	local name=$1 before
	shift
	before=$(hci_list | tr '\n' ' ')
	"$cdc" -f --expose vhci "$@" >>"$VM_LOGDIR/cd-$name.log" 2>&1 &
	cd_pid=$!
	cd_hci=""
	vm_wait_for 60 eval '[[ -n $(new_hcis "$before") ]]' || return 1
	cd_hci=$(new_hcis "$before" | head -n 1)
	grep -q "logged in as $name" "$VM_LOGDIR/cd-$name.log"
}

# managed_cd NAME ARGS...: start_cd and wait until this guest's bluetoothd
# lists the controller: the kernel's set-up is some 30 commands, each a
# round trip through the tunnel, slow under TCG on a loaded host. If one of
# them times out (2 s, "Opcode 0x0c03 failed: -110") the kernel keeps the
# device from bluetoothd, so then the client starts once more (bounded).
bt_lists() { timeout -k 1 10 bluetoothctl list 2>/dev/null | grep -q "^Controller $1 "; }
managed_cd() {
	local try addr
	for try in 1 2; do
		if start_cd "$@" && addr=$(vm_hci_addr "$cd_hci") && vm_wait_for 120 bt_lists "$addr"; then
			return 0
		fi
		vm_log "$1's controller ${cd_hci:-none} not managed by bluetoothd (try $try): $(dmesg | tail -n 3)"
		kill -TERM "$cd_pid" 2>/dev/null || true
		wait "$cd_pid" 2>/dev/null || true
		cd_pid=""
		vm_wait_for 10 eval '[[ -z $cd_hci ]] || ! test -e /sys/class/bluetooth/$cd_hci' || true
	done
	return 1
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

# Successful Encryption Changes in this guest's btmon trace so far, from
# the lines btmon decodes as it records (decoding the whole snoop again
# with btmon -r took 1-4 s a call under TCG, several calls a round).
btmon_text=/tmp/btmon.txt
enc_count() { grep -c "Encryption: Enabled" "$btmon_text" || true; }
acl_gone() { ! hcitool -i "$1" con | grep -q ACL; }
enc_more() { (($(enc_count) > $1)); }

# use_speaker HCI: an L2CAP channel at security level medium (l2test -E):
# the link is authenticated and encrypted before the speaker refuses the
# PSM. 0 when a new Encryption Change (enabled) shows in btmon; then
# disconnects and waits until the link is gone.
use_speaker() {
	local before out rc=0
	before=$(enc_count)
	t_log "use_speaker $1: enc_count"
	set +e
	out=$(timeout -k 2 40 l2test -n -E -P 4097 -i "$1" "$speaker" 2>&1)
	set -e
	vm_log "l2test on $1: $(tr '\n' ' ' <<<"$out")"
	vm_wait_for 10 enc_more "$before" || rc=1
	t_log "use_speaker $1: encrypted"
	# done with it: the link goes now, not after the kernel's 2 s idle
	# timeout (HCI Disconnect, reason 0x13, either way)
	hcitool -i "$1" dc "$speaker" >/dev/null 2>&1 || true
	vm_wait_for 15 acl_gone "$1" || vm_log "the link on $1 is still up: $(hcitool -i "$1" con)"
	t_log "use_speaker $1: link gone"
	# the kernel refused nothing on security grounds
	grep -q "Connection refused\|Connection reset" <<<"$out" || rc=1
	use_out=$out
	return $rc
}

# use_lock HCI [DEVICE]: the lock's (or DEVICE's) ATT channel at security level medium: the
# kernel encrypts with its stored LTK (or pairs first). 0 when a new
# Encryption Change (enabled) shows in btmon; then disconnects and waits
# until the link is gone.
le_gone() { ! hcitool -i "$1" con | grep -q "${2:-$lock}"; }
# l2test -n keeps the channel open until it is killed: it is stopped once
# it reports the channel connected (with -E the kernel says so only after
# the link is encrypted) or has ended, within the 12 s it always had.
le_open_or_over() { grep -q "Connected to" "$1" || ! kill -0 "$2" 2>/dev/null; }
use_lock() {
	local before out pid h f=/tmp/l2test-le.out dev=${2:-$lock}
	before=$(enc_count)
	t_log "use_lock $1: enc_count"
	# no -i: l2test binds with the -V type, and hci0's address is public
	timeout -k 2 12 l2test -n -E -V le_random -J 4 "$dev" >"$f" 2>&1 &
	pid=$!
	vm_wait_for 12 le_open_or_over "$f" "$pid" || true
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	out=$(cat "$f")
	vm_log "l2test (LE) on $1: $(tr '\n' ' ' <<<"$out")"
	use_out=$out
	vm_wait_for 10 enc_more "$before" || return 1
	t_log "use_lock $1: encrypted"
	# as use_speaker: the link goes now, not after the idle timeout
	h=$(hcitool -i "$1" con | sed -n "s/.* LE $dev handle \([0-9]*\) .*/\1/p")
	[[ -z $h ]] || hcitool -i "$1" ledc "$h" >/dev/null 2>&1 || true
	vm_wait_for 15 le_gone "$1" "$dev" || vm_log "the LE link on $1 is still up: $(hcitool -i "$1" con)"
	t_log "use_lock $1: link gone"
	return 0
}

# pair_lock ADDR [DEVICE]: this guest's bluetoothd pairs the lock (or
# DEVICE) with a Just Works agent
pair_lock() {
	local lock=${2:-$lock}
	vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
		"select $1" "menu scan" "transport le" "back" "scan on" \
		"@expect Device $lock 30" "scan off" \
		"pair $lock" "@expect Pairing successful 40" "@sleep 1" \
		"info $lock" "@expect Paired: yes 5" "disconnect $lock" "@sleep 1"
}

# hexdump FILE...: each file as one line of lowercase hex
hexdump_all() { local f; for f; do od -An -v -tx1 "$f" | tr -d ' \n'; echo; done; }
# rev_hex HEX: the octets in the other order
rev_hex() {
	local i r=""
	for ((i = 0; i + 1 < ${#1}; i += 2)); do r=${1:i:2}$r; done
	echo "$r"
}

# ================================================================ guest a
role_bgw() {
	vm_tap_plan 14
	local b
	for b in "$muxd" "$cdc" "$adb" "$sim"; do
		[[ -x $b ]] || { vm_tap_fail "$(basename "$b") built" "no $b (set BGW_BUILDDIR)"; vm_tap_done; }
	done
	mkdir -p "$etc"
	A() { "$adb" --db "$etc/authdb" --audit "$etc/audit.log" --bonds "$etc/bonds" "$@" >>"$VM_LOGDIR/bgw-authdb.log" 2>&1; }
	A ca init --dir "$etc" --name "Family BGW" --ip "$bgw_ip" &&
		A user add alice &&
		A cert issue alice --dir "$etc" --server "$bgw_ip:$port" --out "$etc/alice.bgw" &&
		A user add bob &&
		printf 'Harbour-Kite-37-Plum\n' >"$etc/bob.pw" &&
		A passwd --stdin bob <"$etc/bob.pw" &&
		A allow alice "$speaker" public &&
		A allow bob "$speaker" public &&
		A allow alice "$lock" random &&
		A allow bob "$lock" random &&
		A allow alice "$sclock" random &&
		A allow bob "$sclock" random ||
		vm_fail "bgw-authdb: $(tail -n 5 "$VM_LOGDIR/bgw-authdb.log")"
	# the default house and an LE Secure Connections Only lock (Just Works)
	"$sim" --dump-default >"$etc/house" || vm_fail "bgw-sim --dump-default failed"
	cat >>"$etc/house" <<-EOT

		device sclock
		 address $sclock random
		 type le
		 name SC Lock
		 pairing sc-only
		 io-capability none
		 service 1815
		 characteristic 2a56 read,write,encrypt 01
	EOT
	cat >"$etc/muxd.conf" <<-EOT
		controller sim:$etc/house
		sim-time-scale 0.25
		listen-dtls $bgw_ip:$port
		login-time 30
		ca $etc/ca.crt
		cert $etc/server.crt
		key $etc/server.key
		scram-secret $etc/scram.secret
		audit-log $etc/audit.log
		authdb $etc/authdb
		bonds $etc/bonds
		log-level debug
	EOT
	"$muxd" -f -c "$etc/muxd.conf" >>"$VM_LOGDIR/bgw-muxd.log" 2>&1 &
	mux_pid=$!
	if vm_wait_for 90 grep -q "tunnel: DTLS on $bgw_ip port $port" "$VM_LOGDIR/bgw-muxd.log" &&
		vm_wait_for 90 grep -q "ready" "$VM_LOGDIR/bgw-muxd.log"; then
		vm_tap_pass "bgw-muxd on its simulated house with a bond store serves DTLS on $bgw_ip:$port"
	else
		vm_tap_fail "bgw-muxd on sim started" "$(cat "$VM_LOGDIR/bgw-muxd.log")"
		vm_tap_done
	fi
	vm_pair_put "$etc/ca.crt" ca.crt
	vm_pair_put "$etc/bob.pw" bob.pw
	vm_pair_signal bgw

	vm_start_bluez
	if managed_cd alice --bundle "$etc/alice.bgw"; then
		vm_tap_pass "alice (certificate bundle) logged in: $cd_hci, managed by bluetoothd"
	else
		vm_tap_fail "alice logged in and got an hciN bluetoothd manages" "$(cat "$VM_LOGDIR/cd-alice.log")"
		vm_tap_done
	fi
	local alice_hci=$cd_hci alice_addr
	alice_addr=$(vm_hci_addr "$alice_hci") || vm_fail "the kernel did not initialise $alice_hci"
	vm_start_btmon "$btmon_text"
	power_on alice "$alice_addr" "$alice_hci"

	# The first pairing: alice's bluetoothd and its agent, as without bonds.
	local out
	if out=$(vm_btctl "agent off" "agent NoInputNoOutput" "default-agent" \
		"select $alice_addr" "menu scan" "transport bredr" "back" "scan on" \
		"@expect Device $speaker 30" "scan off" \
		"pair $speaker" "@expect Pairing successful 40" "@sleep 1" \
		"info $speaker" "@expect Paired: yes 5" "disconnect $speaker" "@sleep 1") &&
		vm_wait_for 10 grep -q "^bond $speaker public by alice " "$etc/bonds"; then
		vm_tap_pass "alice's bluetoothd pairs the speaker: the household bond is made by alice"
	else
		vm_tap_fail "alice pairs the speaker and the bond is kept" "$out$(cat "$etc/bonds" 2>&1)"
	fi
	local hkey
	hkey=$(sed -n "s/^bond $speaker .* linkkey \([0-9a-f]\{32\}\) .*/\1/p" "$etc/bonds" 2>/dev/null || true)
	vm_wait_for 15 acl_gone "$alice_hci" || true

	# Bob, then alice, $rounds times: every use authenticated and encrypted.
	local i ok=0 bob_ok=0 res
	vm_pair_wait 120 powered || true
	for ((i = 1; i <= rounds; i++)); do
		vm_pair_signal "go$i"
		vm_pair_wait 90 "bob$i" || break
		read -r res <"$(vm_pair_path "bob$i")" || res=1
		((res == 0)) && bob_ok=$((bob_ok + 1))
		if use_speaker "$alice_hci"; then
			ok=$((ok + 1))
		else
			vm_log "alice's round $i failed: $use_out"
		fi
	done
	vm_pair_signal go-end
	if ((bob_ok == rounds)); then
		vm_tap_pass "bob (the other machine) encrypted the link to the bonded speaker $bob_ok of $rounds times"
	else
		vm_tap_fail "bob encrypts the link each round: $bob_ok of $rounds" "$(tail -n 30 "$VM_LOGDIR/bgw-muxd.log")"
	fi
	if ((ok == rounds)); then
		vm_tap_pass "alice, between bob's turns, encrypted the link $ok of $rounds times"
	else
		vm_tap_fail "alice encrypts the link each round: $ok of $rounds" "$(tail -n 30 "$VM_LOGDIR/bgw-muxd.log")"
	fi

	# LE: alice pairs the lock; its LTK becomes the household LE bond.
	if out=$(pair_lock "$alice_addr") &&
		vm_wait_for 10 grep -q "^bond $lock random by alice .* ltk " "$etc/bonds"; then
		vm_tap_pass "alice's bluetoothd pairs the lock: the household LE bond is made by alice"
	else
		vm_tap_fail "alice pairs the lock and its LTK is kept" "$out$(cat "$etc/bonds" 2>&1)"
	fi
	local ltk
	ltk=$(sed -n "s/^bond $lock .* ltk \([0-9a-f]\{32\}\) .*/\1/p" "$etc/bonds" 2>/dev/null || true)
	vm_wait_for 15 le_gone "$alice_hci" || true
	ok=0 bob_ok=0
	for ((i = 1; i <= rounds; i++)); do
		vm_pair_signal "lego$i"
		vm_pair_wait 120 "lebob$i" || break
		read -r res <"$(vm_pair_path "lebob$i")" || res=1
		((res == 0)) && bob_ok=$((bob_ok + 1))
		if use_lock "$alice_hci"; then
			ok=$((ok + 1))
		else
			vm_log "alice's LE round $i failed: $use_out"
		fi
	done
	vm_pair_signal le-end
	if ((bob_ok == rounds)); then
		vm_tap_pass "bob (paired with the lock through the mux) encrypted the link $bob_ok of $rounds times"
	else
		vm_tap_fail "bob encrypts the link to the lock each round: $bob_ok of $rounds" "$(tail -n 30 "$VM_LOGDIR/bgw-muxd.log")"
	fi
	if ((ok == rounds)); then
		vm_tap_pass "alice, between bob's turns, encrypted the link to the lock $ok of $rounds times"
	else
		vm_tap_fail "alice encrypts the link to the lock each round: $ok of $rounds" "$(tail -n 30 "$VM_LOGDIR/bgw-muxd.log")"
	fi

	# LE Secure Connections: alice's host asks, the mux pairs the lock
	# itself (the LTK is derived, EDIV and Rand 0) and then answers her
	# host with its legacy Just Works stand-in.
	if out=$(pair_lock "$alice_addr" "$sclock") &&
		vm_wait_for 10 grep -q "^bond $sclock random by alice .* ltk [0-9a-f]\{32\} ediv 0 rand 0\{16\} " "$etc/bonds" &&
		grep -q "$sclock paired with LE Secure Connections by the gateway" "$VM_LOGDIR/bgw-muxd.log"; then
		vm_tap_pass "alice's bluetoothd pairs the SC lock: the gateway pairs it, the household bond is made by alice"
	else
		vm_tap_fail "alice pairs the SC lock and the gateway keeps its LTK" "$out$(cat "$etc/bonds" 2>&1)$(tail -n 30 "$VM_LOGDIR/bgw-muxd.log")"
	fi
	local scltk
	scltk=$(sed -n "s/^bond $sclock .* ltk \([0-9a-f]\{32\}\) .*/\1/p" "$etc/bonds" 2>/dev/null || true)
	vm_wait_for 15 le_gone "$alice_hci" "$sclock" || true
	ok=0 bob_ok=0
	for ((i = 1; i <= sc_rounds; i++)); do
		vm_pair_signal "scgo$i"
		vm_pair_wait 120 "scbob$i" || break
		read -r res <"$(vm_pair_path "scbob$i")" || res=1
		((res == 0)) && bob_ok=$((bob_ok + 1))
		if use_lock "$alice_hci" "$sclock"; then
			ok=$((ok + 1))
		else
			vm_log "alice's SC round $i failed: $use_out"
		fi
	done
	vm_pair_signal sc-end
	if ((bob_ok == sc_rounds && ok == sc_rounds)); then
		vm_tap_pass "bob and alice took turns with the SC lock, every link encrypted: bob $bob_ok, alice $ok of $sc_rounds"
	else
		vm_tap_fail "bob and alice encrypt the link to the SC lock each turn: bob $bob_ok, alice $ok of $sc_rounds" "$(tail -n 30 "$VM_LOGDIR/bgw-muxd.log")"
	fi

	# Where the household key must not be. Bob's guest sends its btmon
	# trace and its bluetoothd's keys.
	vm_stop_btmon
	local bobsnoop bobkeys
	vm_pair_wait 60 bob-snoop || true
	bobsnoop=$(vm_pair_path bob-snoop)
	bobkeys=$(vm_pair_path bob-keys)
	hexdump_all "$VM_LOGDIR/btmon.snoop" "$bobsnoop" >"$etc/snoops.hex" 2>/dev/null || true
	local rkey rltk rscltk
	rkey=$(rev_hex "$hkey")
	rltk=$(rev_hex "$ltk")
	rscltk=$(rev_hex "$scltk")
	if [[ -n $hkey ]] && [[ -n $ltk ]] && [[ -n $scltk ]] && [[ -s $bobsnoop ]] && grep -q . "$etc/snoops.hex" &&
		! grep -q -e "$hkey" -e "$rkey" -e "$ltk" -e "$rltk" -e "$scltk" -e "$rscltk" "$etc/snoops.hex"; then
		vm_tap_pass "the household link key and both LTKs are in neither CD's btmon trace"
	else
		vm_tap_fail "the household keys are in neither CD's btmon trace" "key '${hkey:+set}', ltk '${ltk:+set}', SC ltk '${scltk:+set}', bob's trace ${bobsnoop}"
	fi
	local akeys
	akeys=$(grep -rh "^Key=" /var/lib/bluetooth 2>/dev/null | tr A-F a-f || true)
	if [[ -n $hkey ]] && [[ -n $ltk ]] && [[ -n $scltk ]] && [[ -n $akeys ]] && [[ -e $bobkeys ]] &&
		! grep -q -e "$hkey" -e "$rkey" -e "$ltk" -e "$rltk" -e "$scltk" -e "$rscltk" <<<"$akeys$(tr A-F a-f <"$bobkeys")"; then
		vm_tap_pass "alice's bluetoothd keeps a key of its own, bob's none of the household's"
	else
		vm_tap_fail "no bluetoothd stores the household key" "alice: $akeys"
	fi

	local rc=0 alive=0
	! kill -0 "$mux_pid" 2>/dev/null || alive=1
	kill -TERM "$mux_pid"
	wait "$mux_pid" || rc=$?
	mux_pid=""
	local upper spaced
	upper=$(tr a-f A-F <<<"$hkey")
	spaced=$(sed 's/../& /g; s/ $//' <<<"$hkey")
	if ((alive && rc == 0)) && [[ -n $hkey ]] && [[ -n $scltk ]] && grep -q "household bond" "$VM_LOGDIR/bgw-muxd.log" &&
		! grep -qi -e "$hkey" -e "$upper" -e "$spaced" -e "$rkey" -e "$ltk" -e "$rltk" -e "$scltk" -e "$rscltk" \
			"$VM_LOGDIR/bgw-muxd.log" "$etc/audit.log"; then
		vm_tap_pass "bgw-muxd ran throughout; the household key is in neither its debug log nor the audit log"
	else
		vm_tap_fail "bgw-muxd ran throughout (running $alive, exit $rc), the key in no log" \
			"$(tail -n 20 "$VM_LOGDIR/bgw-muxd.log")"
	fi
	vm_tap_done
}

# ================================================================ guest b
role_bob() {
	vm_tap_plan 5
	[[ -x $cdc ]] || { vm_tap_fail "bgw-cdclient built" "no $cdc (set BGW_BUILDDIR)"; vm_tap_done; }
	vm_start_bluez
	if ! vm_pair_wait 180 bgw; then
		vm_tap_fail "the BGW's guest is up" "no 'bgw' from guest a"
		vm_tap_done
	fi
	mkdir -p "$etc"
	cp "$(vm_pair_path ca.crt)" "$etc/ca.crt"
	cp "$(vm_pair_path bob.pw)" "$etc/bob.pw"
	chmod 600 "$etc/bob.pw"
	if managed_cd bob --server "$bgw_ip:$port" --user bob --ca "$etc/ca.crt" --password-file "$etc/bob.pw"; then
		vm_tap_pass "bob (password) logged in from $BGW_VM_PAIR_SELF to $bgw_ip:$port: $cd_hci, managed by bluetoothd"
	else
		vm_tap_fail "bob logged in over the link and got an hciN bluetoothd manages" "$(cat "$VM_LOGDIR/cd-bob.log")"
		vm_tap_done
	fi
	local bob_hci=$cd_hci bob_addr
	bob_addr=$(vm_hci_addr "$bob_hci") || vm_fail "the kernel did not initialise $bob_hci"
	vm_start_btmon "$btmon_text"
	power_on bob "$bob_addr" "$bob_hci"
	vm_pair_signal powered

	local i ok=0 fails=""
	for ((i = 1; i <= rounds; i++)); do
		vm_pair_wait 240 "go$i" || break
		if use_speaker "$bob_hci"; then
			ok=$((ok + 1))
			vm_pair_signal "bob$i" 0
		else
			fails+="round $i: $use_out"$'\n'
			vm_pair_signal "bob$i" 1
		fi
	done
	vm_pair_wait 120 go-end || true
	if ((ok == rounds)); then
		vm_tap_pass "bob's l2test -E to the speaker: $ok of $rounds links encrypted (btmon)"
	else
		vm_tap_fail "bob's links to the speaker encrypted: $ok of $rounds" "$fails"
	fi

	# LE: bob pairs the lock (answered by the mux), then uses it in turn.
	ok=0 fails=""
	for ((i = 1; i <= rounds; i++)); do
		vm_pair_wait 240 "lego$i" || break
		if ((i == 1)) && ! out=$(pair_lock "$bob_addr"); then
			fails+="pairing: $out"$'\n'
		fi
		if use_lock "$bob_hci"; then
			ok=$((ok + 1))
			vm_pair_signal "lebob$i" 0
		else
			fails+="round $i: $use_out"$'\n'
			vm_pair_signal "lebob$i" 1
		fi
	done
	vm_pair_wait 120 le-end || true
	if ((ok == rounds)); then
		vm_tap_pass "bob's bluetoothd pairs the lock through the mux; l2test -E on LE: $ok of $rounds links encrypted"
	else
		vm_tap_fail "bob's links to the lock encrypted: $ok of $rounds" "$fails"
	fi

	# The SC lock: bob pairs with the mux's stand-in, then uses it in turn.
	ok=0 fails=""
	for ((i = 1; i <= sc_rounds; i++)); do
		vm_pair_wait 240 "scgo$i" || break
		if ((i == 1)) && ! out=$(pair_lock "$bob_addr" "$sclock"); then
			fails+="pairing: $out"$'\n'
		fi
		if use_lock "$bob_hci" "$sclock"; then
			ok=$((ok + 1))
			vm_pair_signal "scbob$i" 0
		else
			fails+="round $i: $use_out"$'\n'
			vm_pair_signal "scbob$i" 1
		fi
	done
	vm_pair_wait 120 sc-end || true
	if ((ok == sc_rounds)); then
		vm_tap_pass "bob's bluetoothd pairs the SC lock with the mux's stand-in; l2test -E on LE: $ok of $sc_rounds links encrypted"
	else
		vm_tap_fail "bob's links to the SC lock encrypted: $ok of $sc_rounds" "$fails"
	fi
	vm_stop_btmon
	grep -rh "^Key=" /var/lib/bluetooth >"$etc/keys" 2>/dev/null || true
	vm_pair_put "$etc/keys" bob-keys
	vm_pair_put "$VM_LOGDIR/btmon.snoop" bob-snoop
	kill -TERM "$cd_pid"
	wait "$cd_pid" || true
	cd_pid=""
	vm_tap_done
}

case $VM_PAIR_ROLE in
a) role_bgw ;;
b) role_bob ;;
esac
