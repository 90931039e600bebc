#!/bin/bash
# A control device that falls silent does not hold its devices for long
# (doc/protocol.md 6.7): the gateway sends a KEEPALIVE every idle second,
# and after 4 s without a word from the client its session's Bluetooth
# links are released (the session itself stays resumable), so another
# user connects to the device; when the client is back, its host reads
# Disconnection Complete with reason 0x08 (Connection Timeout) for the
# link before anything else about it. Two ways to fall silent:
#  (a) alice's client stopped (SIGSTOP) with its DTLS channel still up;
#  (b) alice's client stopped and its TLS channel cut (its peer process
#      killed): the detached session is released the same, and the host
#      gets the event after the client resumes.
# Fails with the timers of before: the link stayed for dead-peer (20 s)
# plus resume-time.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=10
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
command -v ss >/dev/null 2>&1 || skip_all "ss (iproute2) not installed"
fh="python3 $src/tests/fault_host.py"
dev=10:B6:00:00:00:04

gw_setup "$tmp/audit.log"
{
	A allow bob "$dev" public &&
	A cert issue alice --dir "$tmp/etc" --server "127.0.0.1:$tport" --out "$tmp/alice-tls.bundle"
} >>"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb failed"; exit 1; }
# Long enough that only the silence, not the session's expiry, frees it.
sed -i 's/^resume-time 5$/resume-time 60/' "$tmp/muxd.conf"
muxd_start "$tmp/muxd.log" && wait_for 10 grep -q "tunnel: TLS on 127.0.0.1 port $tport" "$tmp/muxd.log"
t_ok $? "bgw-muxd listens on DTLS $port and TLS $tport" || { diag "$tmp/muxd.log"; exit 1; }

"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
pids="$pids $!"
wait_for 20 grep -q "logged in as bob" "$tmp/cd-bob.log" && wait_for 10 test -S "$tmp/bob.sock"
t_ok $? "bob logs in" || diag "$tmp/cd-bob.log"

# bob_takes_device TAG: bob connects to the device, retrying for 10 s;
# prints the seconds it took.
bob_takes_device() {
	local t0 now
	t0=$(date +%s%N)
	while :; do
		if $fh --unix "$tmp/bob.sock" init "connect:$dev" echo disconnect >"$tmp/hb-$1.out" 2>&1; then
			now=$(date +%s%N)
			echo $(((now - t0) / 1000000))
			return 0
		fi
		now=$(date +%s%N)
		[ $(((now - t0) / 1000000)) -lt 10000 ] || return 1
		sleep 0.3
	done
}

# alice_case TAG BUNDLE CD-OPTIONS...: alice's client and host, the host
# connected to the device and waiting for the Disconnection Complete.
alice_case() {
	local tag=$1 bundle=$2
	shift 2
	"$cd_bin" -f -v --bundle "$bundle" "$@" --expose "unix:$tmp/alice-$tag.sock" \
		>"$tmp/cd-alice-$tag.log" 2>&1 &
	apid=$!
	pids="$pids $apid"
	wait_for 20 grep -q "logged in as alice" "$tmp/cd-alice-$tag.log" &&
		wait_for 10 test -S "$tmp/alice-$tag.sock" || return 1
	$fh --unix "$tmp/alice-$tag.sock" init "connect:$dev" echo "wait-file:$tmp/go-$tag" \
		expect-disconn:08 >"$tmp/ha-$tag.out" 2>&1 &
	hpid=$!
	pids="$pids $hpid"
	wait_for 20 grep -q "^echo=" "$tmp/ha-$tag.out"
}

# (a) silent over a live DTLS channel.
alice_case a "$tmp/alice.bundle"
t_ok $? "(a) alice (DTLS) is connected to $dev" || diag "$tmp/ha-a.out" "$tmp/cd-alice-a.log"
kill -STOP "$apid"
ms=$(bob_takes_device a)
t_ok $? "(a) alice's client stopped: bob connects to $dev after ${ms:-?} ms" ||
	diag "$tmp/hb-a.out" "$tmp/muxd.log"
[ -n "$ms" ] && [ "$ms" -le 6000 ] && grep -q "link released (host silent)" "$tmp/muxd.log"
t_ok $? "(a) the link was released within 5 s of silence (bob in ${ms:-?} ms)" ||
	grep "tunnel\|released" "$tmp/muxd.log" | tail -20 | diag
: >"$tmp/go-a"
kill -CONT "$apid"
wait "$hpid"
t_ok $? "(a) alice's client back: her host reads Disconnection Complete 0x08 first ($(cat "$tmp/ha-a.out" | tr '\n' ' '))" ||
	diag "$tmp/ha-a.out" "$tmp/cd-alice-a.log"
kill -TERM "$apid"
wait "$apid" 2>/dev/null

# (b) silent and its TLS channel cut: the session detaches, then resumes.
alice_case b "$tmp/alice-tls.bundle" --tls
t_ok $? "(b) alice (TLS) is connected to $dev" || diag "$tmp/ha-b.out" "$tmp/cd-alice-b.log"
aport=$(ss -Htnp state established "dport = :$tport" | grep "pid=$apid," |
	awk '{ n = split($3, a, ":"); print a[n] }' | head -1)
ppid_a=$(ss -Htnp state established "sport = :$tport" "dport = :$aport" |
	sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)
kill -STOP "$apid"
[ -n "$ppid_a" ] && kill -KILL "$ppid_a"
ms=$(bob_takes_device b)
[ -n "$ms" ] && [ "$ms" -le 6000 ]
t_ok $? "(b) the detached session's link is released too: bob connects after ${ms:-?} ms" ||
	diag "$tmp/hb-b.out" "$tmp/muxd.log"
: >"$tmp/go-b"
kill -CONT "$apid"
wait "$hpid"
r=$?
grep -q "session resumed" "$tmp/cd-alice-b.log" && [ "$r" -eq 0 ]
t_ok $? "(b) alice's client resumes; her host reads Disconnection Complete 0x08 first" ||
	diag "$tmp/ha-b.out" "$tmp/cd-alice-b.log"
kill -TERM "$apid"

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/muxd.log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/muxd.log" | diag
[ "$t_failed" -eq 0 ]
