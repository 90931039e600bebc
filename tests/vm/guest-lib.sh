# tests/vm/guest-lib.sh -- helpers for guest test scripts (tests/vm/t-*.sh).
#
# Source it from a script that tests/vm/vm-run runs inside the guest:
#     . "$(dirname "$0")/guest-lib.sh"
#
# Conventions: TAP on stdout (vm_tap_*), diagnostics on stderr (vm_log),
# every wait bounded. Daemon logs go to $VM_LOGDIR (default
# /tmp/bgw-vm-logs; set BGW_VM_LOGDIR to a --share'd directory to keep them).
#
#   vm_require_guest             exit 77 unless running inside vm-run's guest
#   vm_log MSG...                "# [  1.234s] MSG" on stderr
#   vm_fail MSG...               "FAIL: MSG" on stderr, dump daemon logs, exit 1
#   vm_wait_for SECS CMD...      poll CMD every 0.1 s until it succeeds (0)
#                                or SECS elapse (1)
#   vm_start_dbus                system dbus-daemon (idempotent)
#   vm_start_bluez [ARGS...]     dbus + bluetoothd -n ARGS, wait until it is on
#                                the bus; pid in VM_BLUETOOTHD_PID
#   vm_stop_bluez                stop bluetoothd (bounded)
#   vm_start_btvirt [ARGS...]    BlueZ's emulator (e.g. -l2), wait for its
#                                controllers; pid in VM_BTVIRT_PID
#   vm_start_btmon [TEXT]        record HCI traffic to $VM_LOGDIR/btmon.snoop
#                                (read it with btmon -r); with TEXT, btmon's
#                                decoded lines also go to the file TEXT as
#                                they come (grep it: cheaper than decoding
#                                the snoop again); vm_stop_btmon
#   vm_hci_count_ge N            at least N controllers exist
#   vm_hci_list                  hciN names, one per line, sorted
#   vm_hci_addr hciN             the controller's BD_ADDR (waits until set)
#   vm_hci_powered hciN          true if the controller is UP
#   vm_btctl STEP...             drive ONE bluetoothctl (see below)
#   vm_btmgmt ARGS...            one btmgmt command, bounded, output cleaned
#   vm_strip                     filter: drop ANSI colours, \001 \002, \r,
#                                prompts and blank lines
#   vm_dump_logs [LINES]         tail of the daemon logs, on stderr
#   vm_pair_require              exit 77 unless run by run-pair (two guests)
#   vm_pair_signal NAME [TEXT]   publish NAME (with TEXT) to the other guest
#   vm_pair_put FILE NAME        publish a copy of FILE as NAME
#   vm_pair_wait SECS NAME       wait until the other guest published NAME:
#                                0; 1 after SECS; 2 as soon as its guest
#                                has ended without publishing it
#   vm_pair_path NAME            the path of the other guest's NAME
#   vm_tap_plan N / vm_tap_ok DESC CMD... / vm_tap_pass DESC /
#   vm_tap_fail DESC [WHY] / vm_tap_skip DESC WHY / vm_tap_done
#                                TAP output; vm_tap_done exits 0 only if all
#                                N tests ran and none failed
#
# vm_btctl STEP...: starts bluetoothctl, waits (<= 15 s) until it is
# connected to bluetoothd, then runs the steps in order and quits:
#   "CMD"                 send CMD, then pause $VM_BTCTL_GAP (default 0.3) s
#   "@sleep SECS"         pause
#   "@expect REGEX [SECS]" wait (default 10 s) until the cleaned output
#                         written since the last CMD matches the extended
#                         REGEX; on timeout the remaining steps still run but
#                         vm_btctl returns 1
#   "@sh CMD"             run the shell command CMD (eval, e.g. a
#                         vm_pair_* call) while bluetoothctl keeps running;
#                         if it fails the remaining steps still run but
#                         vm_btctl returns 1
# Prints the cleaned output (also appended to $VM_LOGDIR/bluetoothctl.log).
# Returns 0, 1 (an @expect failed) or 2 (bluetoothctl did not come up).
# Hard limit for one call: $VM_BTCTL_TIMEOUT (default 90) s.
# Note: non-interactive "bluetoothctl CMD" acts on the default controller;
# use "select ADDR" as a step instead. "discoverable on" needs
# "connectable on" first.

# shellcheck shell=bash
# shellcheck disable=SC2317 # helpers called through vm_wait_for

VM_LOGDIR=${BGW_VM_LOGDIR:-/tmp/bgw-vm-logs}
VM_BTCTL_GAP=${VM_BTCTL_GAP:-0.3}
VM_BTCTL_TIMEOUT=${VM_BTCTL_TIMEOUT:-90}
VM_BLUETOOTHD_PID=""
VM_BTVIRT_PID=""
VM_BTMON_PID=""
_vm_t0=$EPOCHREALTIME
_vm_tap_planned=0
_vm_tap_n=0
_vm_tap_failed=0
mkdir -p "$VM_LOGDIR" 2>/dev/null || true

vm_require_guest() {
	if [[ ${BGW_VM_GUEST:-} != 1 ]]; then
		echo "1..0 # SKIP $(basename "$0") runs inside the QEMU guest: tests/vm/vm-run $0"
		exit 77
	fi
}

# decimal seconds -> microseconds, into _vm_us (no subshell)
_vm_to_us() {
	local i=${1%%.*} f=""
	[[ $1 != *.* ]] || f=${1#*.}
	f="${f}000000"
	_vm_us=$((10#${i:-0} * 1000000 + 10#${f:0:6}))
}

vm_log() {
	local e=$((${EPOCHREALTIME/./} - ${_vm_t0/./}))
	printf '# [%4d.%03ds] %s\n' $((e / 1000000)) $((e % 1000000 / 1000)) "$*" >&2
}

vm_fail() {
	echo "FAIL: $*" >&2
	vm_dump_logs 30
	exit 1
}

# _vm_sleep SECS: sleep(1) without a fork: read -t on a FIFO this shell
# holds open at both ends, so nothing ever arrives. The guest has one
# vCPU under TCG, where a fork and exec of sleep costs more than the
# daemons' work between two polls; vm_wait_for polls ten times a second.
_vm_sleep_fd=""
_vm_sleep_init() {
	local f
	f=$(mktemp -u "${TMPDIR:-/tmp}/vm-sleep.XXXXXX") && mkfifo -m 600 "$f" || return 0
	exec {_vm_sleep_fd}<>"$f" || _vm_sleep_fd=""
	rm -f "$f"
}
_vm_sleep_init
_vm_sleep() {
	if [[ -n $_vm_sleep_fd ]]; then
		read -r -t "$1" -u "$_vm_sleep_fd" _ || true
	else
		sleep "$1"
	fi
}

# vm_wait_for SECS CMD...: 0 as soon as CMD succeeds, 1 once SECS (wall
# clock) have passed; polls every 0.1 s.
vm_wait_for() {
	local end _vm_us
	_vm_to_us "$1"
	shift
	end=$((${EPOCHREALTIME/./} + _vm_us))
	while :; do
		"$@" && return 0
		((${EPOCHREALTIME/./} < end)) || return 1
		_vm_sleep 0.1
	done
}

_vm_bluetoothd_bin() {
	local f
	for f in /usr/libexec/bluetooth/bluetoothd /usr/lib/bluetooth/bluetoothd /usr/sbin/bluetoothd; do
		[[ -x $f ]] && { echo "$f"; return 0; }
	done
	return 1
}

vm_start_dbus() {
	[[ -S /run/dbus/system_bus_socket ]] && return 0
	command -v dbus-daemon >/dev/null || vm_fail "dbus-daemon not found (apt-get install dbus)"
	mkdir -p /run/dbus
	dbus-daemon --system --fork --nopidfile 2>>"$VM_LOGDIR/dbus.log" ||
		vm_fail "dbus-daemon --system failed"
	vm_wait_for 10 test -S /run/dbus/system_bus_socket ||
		vm_fail "the system bus socket did not appear within 10 s"
}

_vm_bluez_on_bus() {
	dbus-send --system --print-reply --reply-timeout=2000 --dest=org.bluez / \
		org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1
}

_vm_alive_on_bus() { # PID
	kill -0 "$1" 2>/dev/null || return 0 # stop waiting: it died
	_vm_bluez_on_bus
}

vm_start_bluez() {
	local bin
	vm_start_dbus
	bin=$(_vm_bluetoothd_bin) || vm_fail "bluetoothd not found (apt-get install bluez)"
	local -a dbg=()
	[[ ${BGW_VM_VERBOSE:-0} != 1 ]] || dbg=(-d)
	"$bin" -n "${dbg[@]}" "$@" >>"$VM_LOGDIR/bluetoothd.log" 2>&1 &
	VM_BLUETOOTHD_PID=$!
	vm_wait_for 20 _vm_alive_on_bus "$VM_BLUETOOTHD_PID" || true
	kill -0 "$VM_BLUETOOTHD_PID" 2>/dev/null ||
		vm_fail "bluetoothd exited at start-up (log $VM_LOGDIR/bluetoothd.log)"
	_vm_bluez_on_bus || vm_fail "bluetoothd did not appear on the system bus within 20 s"
}

_vm_kill_bounded() { # PID
	local pid=$1
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || return 0
	vm_wait_for 3 eval "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

vm_stop_bluez() {
	_vm_kill_bounded "$VM_BLUETOOTHD_PID"
	VM_BLUETOOTHD_PID=""
}

vm_hci_list() {
	local d
	for d in /sys/class/bluetooth/hci*; do
		[[ -e $d ]] || continue
		d=${d##*/}
		# not the links' hciN:M nodes; "if", as a false [[ ]] last in
		# the loop would fail the pipeline under pipefail
		if [[ $d =~ ^hci[0-9]+$ ]]; then echo "$d"; fi
	done | sort -V
}

vm_hci_count_ge() { (($(vm_hci_list | wc -l) >= $1)); }
_vm_hci_count_ge() { vm_hci_count_ge "$@"; }

# vm_start_btvirt [ARGS...]: btvirt ARGS in the background; with -lN waits
# for N more controllers than before.
vm_start_btvirt() {
	local before want=0 a
	command -v btvirt >/dev/null || vm_fail "btvirt not found (apt-get install bluez-test-tools)"
	before=$(vm_hci_list | wc -l)
	for a; do
		case $a in -l) want=1 ;; -l[0-9]*) want=${a#-l} ;; esac
	done
	btvirt "$@" >>"$VM_LOGDIR/btvirt.log" 2>&1 &
	VM_BTVIRT_PID=$!
	if ((want > 0)); then
		vm_wait_for 15 vm_hci_count_ge $((before + want)) ||
			vm_fail "btvirt $* did not create $want controller(s) within 15 s"
	fi
	kill -0 "$VM_BTVIRT_PID" 2>/dev/null || vm_fail "btvirt $* exited (log $VM_LOGDIR/btvirt.log)"
}

vm_start_btmon() {
	command -v btmon >/dev/null || return 0
	if [[ -n ${1:-} ]]; then
		# line-buffered: a packet's lines are in TEXT once btmon saw it
		stdbuf -oL btmon -w "$VM_LOGDIR/btmon.snoop" >"$1" 2>&1 &
	else
		btmon -w "$VM_LOGDIR/btmon.snoop" >/dev/null 2>&1 &
	fi
	VM_BTMON_PID=$!
}

vm_stop_btmon() {
	_vm_kill_bounded "$VM_BTMON_PID"
	VM_BTMON_PID=""
}

_vm_hci_field() { # hciN FIELD-REGEX
	hciconfig "$1" 2>/dev/null | awk -v f="$2" '$0 ~ f { print; exit }'
}

_vm_hci_addr_now() {
	local a
	a=$(_vm_hci_field "$1" 'BD Address' | awk '{ print $3 }')
	[[ $a =~ ^[0-9A-F]{2}(:[0-9A-F]{2}){5}$ && $a != 00:00:00:00:00:00 ]] || return 1
	echo "$a"
}

# An emulated controller can miss the kernel's init under TCG (a Reset
# timing out, -110): then it has no address; bring it up again once.
vm_hci_addr() {
	vm_wait_for 10 _vm_hci_addr_now "$1" >/dev/null ||
		{ hciconfig "$1" up >/dev/null 2>&1; vm_wait_for 10 _vm_hci_addr_now "$1" >/dev/null; } ||
		return 1
	_vm_hci_addr_now "$1"
}

vm_hci_powered() {
	hciconfig "$1" 2>/dev/null | grep -qw UP
}

vm_strip() {
	sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/[\x01\x02]//g' |
		tr '\r' '\n' |
		sed -e 's/^\[[^]]*\]# *//' -e '/^[[:space:]]*$/d'
}

# _vm_clean_text: strip colours, \001 \002, \r of $_vm_text in place, in bash
# (polling must not fork half a dozen processes per round under TCG).
_vm_clean_text() {
	local LC_ALL=C
	_vm_text=${_vm_text//[$'\001\002']/}
	_vm_text=${_vm_text//$'\r'/$'\n'}
	while [[ $_vm_text =~ $'\e'\[[0-9\;?]*[A-Za-z] ]]; do
		_vm_text=${_vm_text//"${BASH_REMATCH[0]}"/}
	done
}

# _vm_file_size FILE: its length in bytes, into _vm_size, without a fork
# (as _vm_file_match counts them: FILE holds no NUL)
_vm_file_size() {
	local LC_ALL=C _vm_text=""
	IFS= read -r -d '' _vm_text <"$1" || true
	_vm_size=${#_vm_text}
}

# _vm_file_match FILE BYTE-OFFSET ERE: a line of FILE after OFFSET matches
_vm_file_match() {
	local LC_ALL=C _vm_text="" line
	IFS= read -r -d '' _vm_text <"$1" || true
	_vm_text=${_vm_text:$2}
	_vm_clean_text
	while IFS= read -r line; do
		[[ $line =~ $3 ]] && return 0
	done <<<"$_vm_text"
	return 1
}

vm_btctl() {
	local fifo raw pid fd rc=0 off step re secs _vm_size
	raw=$(mktemp "${TMPDIR:-/tmp}/btctl.XXXXXX")
	fifo="$raw.in"
	mkfifo "$fifo"
	# line-buffered so the output can be watched while it runs
	timeout -k 2 "$VM_BTCTL_TIMEOUT" stdbuf -oL -eL bluetoothctl <"$fifo" >"$raw" 2>&1 &
	pid=$!
	exec {fd}<>"$fifo"
	_vm_btctl_ready() {
		kill -0 "$pid" 2>/dev/null || return 0
		_vm_file_match "$raw" 0 'Agent registered|Agent is already registered|Failed to register agent'
	}
	if ! vm_wait_for 15 _vm_btctl_ready || ! kill -0 "$pid" 2>/dev/null; then
		echo "vm_btctl: bluetoothctl did not connect to bluetoothd within 15 s" >&2
		rc=2
	fi
	off=0
	for step; do
		((rc != 2)) || break
		kill -0 "$pid" 2>/dev/null || { echo "vm_btctl: bluetoothctl exited early" >&2; rc=2; break; }
		case $step in
		@sleep\ *)
			_vm_sleep "${step#@sleep }"
			;;
		@sh\ *)
			if ! eval "${step#@sh }"; then
				echo "vm_btctl: '${step#@sh }' failed" >&2
				rc=1
			fi
			;;
		@expect\ *)
			re=${step#@expect }
			secs=10
			if [[ $re =~ ^(.*)\ ([0-9]+(\.[0-9]+)?)$ ]]; then
				re=${BASH_REMATCH[1]}
				secs=${BASH_REMATCH[2]}
			fi
			if ! vm_wait_for "$secs" _vm_file_match "$raw" "$off" "$re"; then
				echo "vm_btctl: no output matching '$re' within ${secs}s" >&2
				rc=1
			fi
			;;
		*)
			_vm_file_size "$raw"
			off=$_vm_size
			printf '%s\n' "$step" >&"$fd"
			_vm_sleep "$VM_BTCTL_GAP"
			;;
		esac
	done
	{ printf 'quit\n' >&"$fd"; } 2>/dev/null || true
	exec {fd}>&-
	vm_wait_for 5 eval "! kill -0 $pid 2>/dev/null" || kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	vm_strip <"$raw" | tee -a "$VM_LOGDIR/bluetoothctl.log"
	rm -f "$raw" "$fifo"
	return "$rc"
}

# vm_btmgmt ARGS...: one btmgmt command (e.g. --index 0 connectable on),
# bounded by $VM_BTMGMT_TIMEOUT (default 10) s. btmgmt quits at stdin EOF
# before the reply arrives, so its stdin stays open (a sleep) until then.
vm_btmgmt() {
	local t=${VM_BTMGMT_TIMEOUT:-10} rc tmp
	tmp=$(mktemp "${TMPDIR:-/tmp}/btmgmt.XXXXXX")
	timeout -k 2 "$t" btmgmt "$@" < <(sleep "$t") >"$tmp" 2>&1 && rc=0 || rc=$?
	vm_strip <"$tmp" | tee -a "$VM_LOGDIR/btmgmt.log"
	rm -f "$tmp"
	return "$rc"
}

vm_dump_logs() {
	local lines=${1:-30} f
	for f in "$VM_LOGDIR"/*.log; do
		[[ -s $f ]] || continue
		echo "# ---- $f (last $lines lines) ----" >&2
		tail -n "$lines" "$f" | sed 's/^/# /' >&2
	done
}

# ------------------------------------------------------------------ pair
# Two guests under tests/vm/run-pair share the host directory
# $BGW_VM_PAIR_DIR (9p, read-write in both). A guest publishes NAME as the
# file ROLE.NAME there, written whole and renamed into place, so the other
# never reads half of it; run-pair writes ROLE.exit when a guest has ended.
VM_PAIR_ROLE=${BGW_VM_PAIR_ROLE:-}
VM_PAIR_DIR=${BGW_VM_PAIR_DIR:-}
VM_PAIR_PEER=""
case $VM_PAIR_ROLE in a) VM_PAIR_PEER=b ;; b) VM_PAIR_PEER=a ;; esac

vm_pair_require() {
	if [[ -z $VM_PAIR_PEER || ! -d $VM_PAIR_DIR ]]; then
		echo "1..0 # SKIP $(basename "$0") runs in two guests: tests/vm/run-pair $0"
		exit 77
	fi
}

vm_pair_signal() { # NAME [TEXT]
	local f="$VM_PAIR_DIR/$VM_PAIR_ROLE.$1"
	printf '%s\n' "${2:-}" >"$f.tmp" && mv -f "$f.tmp" "$f"
}

vm_pair_put() { # FILE NAME
	local f="$VM_PAIR_DIR/$VM_PAIR_ROLE.$2"
	cp "$1" "$f.tmp" && mv -f "$f.tmp" "$f"
}

vm_pair_path() { echo "$VM_PAIR_DIR/$VM_PAIR_PEER.$1"; }

_vm_pair_seen() { [[ -e $1 || -e $2 ]]; }

vm_pair_wait() { # SECS NAME
	local f="$VM_PAIR_DIR/$VM_PAIR_PEER.$2" x="$VM_PAIR_DIR/$VM_PAIR_PEER.exit"
	vm_wait_for "$1" _vm_pair_seen "$f" "$x" || true
	if [[ -e $f ]]; then
		vm_log "guest $VM_PAIR_PEER: $2"
		return 0
	fi
	if [[ -e $x ]]; then
		vm_log "guest $VM_PAIR_PEER ended (exit $(cat "$x")) without '$2'"
		return 2
	fi
	vm_log "guest $VM_PAIR_PEER: no '$2' within $1 s"
	return 1
}

# ------------------------------------------------------------------ TAP
vm_tap_plan() {
	_vm_tap_planned=$1
	echo "1..$1"
}

# With BGW_VM_TIMING, each result is also stamped on stderr (vm_log's
# seconds since the script began): where a case spends its time.
vm_tap_pass() {
	_vm_tap_n=$((_vm_tap_n + 1))
	echo "ok $_vm_tap_n - $1"
	[[ -z ${BGW_VM_TIMING:-} ]] || vm_log "ok $_vm_tap_n done"
}

vm_tap_fail() {
	_vm_tap_n=$((_vm_tap_n + 1))
	_vm_tap_failed=$((_vm_tap_failed + 1))
	echo "not ok $_vm_tap_n - $1"
	[[ -z ${BGW_VM_TIMING:-} ]] || vm_log "not ok $_vm_tap_n done"
	[[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/# /'
}

vm_tap_skip() {
	_vm_tap_n=$((_vm_tap_n + 1))
	echo "ok $_vm_tap_n - $1 # SKIP ${2:-}"
}

# vm_tap_ok DESC CMD...: one test from CMD's exit status
vm_tap_ok() {
	local desc=$1
	shift
	if "$@"; then
		vm_tap_pass "$desc"
	else
		vm_tap_fail "$desc" "command failed: $*"
		return 1
	fi
}

vm_tap_done() {
	if ((_vm_tap_n != _vm_tap_planned)); then
		echo "# planned $_vm_tap_planned tests but ran $_vm_tap_n"
		_vm_tap_failed=$((_vm_tap_failed + 1))
	fi
	if ((_vm_tap_failed > 0)); then
		vm_dump_logs 30
		exit 1
	fi
	exit 0
}
