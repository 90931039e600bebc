#!/bin/bash
# Unauthenticated lock-out of logins (doc/security.md, threat table 1):
# 64 sources hold idle TCP connections to the TLS listener and reconnect
# as soon as they are closed (tests/pending_flood.py). bgw-muxd keeps its
# last pending slots for sources a login came from before, closes a
# connection that sends nothing within 2 s, and caps pending logins per
# /24, so that meanwhile
#  - bob's session, logged in from 127.0.0.1 before the attack, resumes
#    after its channel is cut;
#  - alice logs in (certificate, DTLS) from that known address;
#  - 64 sources in one /24 hold at most 8 slots: a source in another
#    network that never logged in still gets one;
#  - the same for 20 sources in one IPv6 /64 (in a network namespace of
#    the test's own, where the /64 is on lo).
# Each fails with the caps of before (32 pending, 4 per host, 10 s each).
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=10
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
command -v ss >/dev/null 2>&1 || skip_all "ss (iproute2) not installed"

gw_setup "$tmp/audit.log"
muxd_start "$tmp/muxd.log" && wait_for 10 grep -q "tunnel: TLS on 127.0.0.1 port $tport" "$tmp/muxd.log"
t_ok $? "bgw-muxd listens on DTLS $port and TLS $tport" || { diag "$tmp/muxd.log"; exit 1; }

"$cd_bin" -f -v --tls --server "127.0.0.1:$tport" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
bpid=$!
pids="$pids $bpid"
wait_for 20 grep -q "logged in as bob" "$tmp/cd-bob.log"
t_ok $? "bob logs in over TLS from 127.0.0.1 before the attack" || diag "$tmp/cd-bob.log" "$tmp/muxd.log"

# The peer process holding bob's connection (the server end whose peer
# port is bob's).
bport=$(ss -Htnp state established "dport = :$tport" | grep "pid=$bpid," |
	awk '{ n = split($3, a, ":"); print a[n] }' | head -1)
ppid_bob=$(ss -Htnp state established "sport = :$tport" "dport = :$bport" |
	sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)

flood() { timeout 90 python3 "$src/tests/pending_flood.py" 127.0.0.1 "$tport" "$@"; }
flood 127.0.N.2:1-64 4 60 "$tmp/stop1" >"$tmp/flood1.out" 2>&1 &
fpid=$!
pids="$pids $fpid"
t0=$(date +%s)
wait_for 20 grep -q "new peer refused: too many logins pending" "$tmp/muxd.log"
t_ok $? "64 sources in 64 networks fill the ordinary pending slots" || tail -20 "$tmp/muxd.log" | diag

# Cut bob's channel: its peer process dies, the client resumes.
[ -n "$ppid_bob" ] && kill -KILL "$ppid_bob"
wait_for 15 grep -q "session resumed" "$tmp/cd-bob.log"
t_ok $? "bob's session resumes during the attack (peer process $ppid_bob killed)" ||
	diag "$tmp/cd-bob.log"

"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" >"$tmp/cd-alice.log" 2>&1 &
apid=$!
pids="$pids $apid"
wait_for 15 grep -q "logged in as alice" "$tmp/cd-alice.log"
t_ok $? "alice logs in from a known address during the attack" || diag "$tmp/cd-alice.log"
kill -TERM "$apid"
# At least 12 s of flood, to see how long an idle connection is held.
left=$((t0 + 12 - $(date +%s)))
[ "$left" -le 0 ] || sleep "$left"
: >"$tmp/stop1"
wait "$fpid"
echo "# flood over 64 networks: $(cat "$tmp/flood1.out")"
get() { sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$1"; }
hold=$(get "$tmp/flood1.out" hold_max_ms)
# The close is due at 2 s; a loaded machine delivers it late (4.2-4.9 s
# seen at load 15). Without it an idle connection is held for the whole
# flood (12 s or more), so 8 s still tells the two apart.
[ "${hold:-99999}" -ge 1500 ] && [ "${hold:-99999}" -lt 8000 ] &&
	[ "$(get "$tmp/flood1.out" closed_fast)" -gt 0 ]
t_ok $? "an idle connection is closed after 2 s (longest held: ${hold:-?} ms), the rest refused at once" ||
	diag "$tmp/flood1.out"

# One /24 may hold 8 pending slots: a new source elsewhere gets in.
flood 127.0.0.N:10-73 4 30 "$tmp/stop2" >"$tmp/flood2.out" 2>&1 &
fpid=$!
pids="$pids $fpid"
sleep 3
flood 127.0.200.9:0-0 1 4 >"$tmp/probe.out" 2>&1
: >"$tmp/stop2"
wait "$fpid"
echo "# flood over one /24: $(cat "$tmp/flood2.out"); another source: $(cat "$tmp/probe.out")"
[ "$(get "$tmp/probe.out" connects)" -ge 1 ] && [ "$(get "$tmp/probe.out" closed_fast)" -eq 0 ] &&
	[ "$(get "$tmp/flood2.out" held_max)" -le 8 ]
t_ok $? "64 sources in one /24 hold at most 8 slots; a source of another network is admitted" ||
	diag "$tmp/flood2.out" "$tmp/probe.out"

# One IPv6 /64: its 2^64 addresses count as one network.
ns=bgwpend$$
if ip netns add "$ns" 2>/dev/null; then
	nsx() { ip netns exec "$ns" "$@"; }
	trap 'cleanup; ip netns del "$ns" 2>/dev/null' EXIT
	nsx ip link set lo up
	nsx ip -6 addr add 2001:db8:1:1::1/64 dev lo nodad
	nsx ip -6 addr add 2001:db8:1:3::1/64 dev lo nodad
	for i in $(seq 10 29); do nsx ip -6 addr add "2001:db8:1:2::$i/64" dev lo nodad; done
	sed -e "s|^listen-dtls .*|listen-dtls [2001:db8:1:1::1]:$port|" \
		-e "s|^listen-tls .*|listen-tls [2001:db8:1:1::1]:$tport|" \
		-e "s|^runtime-dir .*|runtime-dir $tmp/ns|" \
		-e "s|^audit-log .*|audit-log $tmp/audit6.log|" "$tmp/muxd.conf" >"$tmp/muxd6.conf"
	mkdir -p "$tmp/ns"
	# Not through nsx: a shell function run in the background is a
	# subshell, and $! would be that subshell, not the daemon; killing
	# it left bgw-muxd running. ip netns exec execs the program, so $!
	# is bgw-muxd (or its $BGW_WRAP) itself.
	# shellcheck disable=SC2086
	ip netns exec "$ns" ${BGW_WRAP:-} "$muxd" -f -c "$tmp/muxd6.conf" >"$tmp/muxd6.log" 2>&1 &
	m6pid=$!
	pids="$pids $m6pid"
	wait_for 20 grep -q "tunnel: TLS on 2001:db8:1:1::1 port $tport" "$tmp/muxd6.log"
	ip netns exec "$ns" timeout 90 python3 "$src/tests/pending_flood.py" 2001:db8:1:1::1 "$tport" \
		2001:db8:1:2::N:10-29 4 30 "$tmp/stop6" >"$tmp/flood6.out" 2>&1 &
	fpid=$!
	pids="$pids $fpid"
	sleep 3
	nsx timeout 30 python3 "$src/tests/pending_flood.py" 2001:db8:1:1::1 "$tport" \
		2001:db8:1:3::N:1-1 1 4 >"$tmp/probe6.out" 2>&1
	: >"$tmp/stop6"
	wait "$fpid"
	echo "# flood over one /64: $(cat "$tmp/flood6.out"); another /64: $(cat "$tmp/probe6.out")"
	[ "$(get "$tmp/probe6.out" connects)" -ge 1 ] && [ "$(get "$tmp/probe6.out" closed_fast)" -eq 0 ] &&
		[ "$(get "$tmp/flood6.out" held_max)" -le 8 ] && [ "$(get "$tmp/flood6.out" held_max)" -ge 4 ]
	t_ok $? "20 sources in one IPv6 /64 hold at most 8 slots; a source of another /64 is admitted" ||
		diag "$tmp/flood6.out" "$tmp/probe6.out" "$tmp/muxd6.log"
	kill -TERM "$m6pid"
	wait "$m6pid"
else
	echo "ok $((t_n += 1)) # SKIP cannot make a network namespace here"
fi

kill -TERM "$bpid"
kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/muxd.log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/muxd.log" | diag

# Nothing this test started outlives it: every process of it names $tmp.
kill -TERM $pids 2>/dev/null
wait_for 10 eval '! pgrep -f "$tmp/" >/dev/null'
t_ok $? "no process of the test survives it" || pgrep -af "$tmp/" | diag
[ "$t_failed" -eq 0 ]
