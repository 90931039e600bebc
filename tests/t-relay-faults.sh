#!/bin/bash
# A relay that flips bits, replays, reorders and drops datagrams breaks
# nothing but throughput (doc/relay.md, "Threats"). On loopback:
# tests/faulty-fwd stands where the gateway and the CD know the relay
# to be and passes every flow to the real bgw-relay behind it, flipping,
# replaying, reordering and dropping both ways; so the relay itself
# gets the damaged datagrams too. The relay then tells each side the
# other's address as faulty-fwd's flow socket, where nothing answers:
# no direct path opens and everything crosses the faults. bgw-muxd
# registers, bgw-cdclient logs in through it (five first logins, each
# through the faults), and a host's L2CAP echoes
# (an ACL transfer, numbered payloads) come back whole and in order;
# then a storm (10 % of the datagrams flipped, 10 % replayed, 10 %
# reordered) while the echoes go on; then calm again. Every
# process is still there; the logs say what happened without a line per
# damaged datagram.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
relay=$build/relay/bgw-relay
ffwd=$build/tests/faulty-fwd
cdc=$build/cdclient/bgw-cdclient
host="timeout 120 python3 ${BGW_SRCDIR:-.}/tests/cd_host.py"
RD=10:B6:00:00:00:04
N=9
echo "1..$N"

[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
for b in "$muxd" "$adb" "$relay" "$ffwd" "$cdc"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port) && rport=$(free_port) && fport=$(free_port) ||
	skip_all "cannot find free ports"
[ "$(printf '%s\n' "$port" "$rport" "$fport" | sort -u | wc -l)" -eq 3 ] ||
	skip_all "cannot find three distinct free ports"
front=127.0.0.1:$fport

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
{
	A user add alice &&
	A allow alice "$RD" public &&
	A ca init --dir "$tmp/etc" &&
	A cert issue alice --dir "$tmp/etc" --relay "$front" --out "$tmp/alice.bundle"
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }
id=$(A ca id --dir "$tmp/etc")
cat >"$tmp/muxd.conf" <<EOT
controller sim
sim-time-scale 0.01
listen-dtls 127.0.0.1:$port
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
authdb $tmp/etc/authdb
runtime-dir $tmp
relay $front
EOT

# Faithful (-q) until the gateway has registered; then calm: 2 % of the
# datagrams flipped, 2 % replayed, 5 % held back behind up to 4 later
# ones, 1 % dropped, from before the first login on; the storm: 10 %
# each (drops stay 1 %).
"$ffwd" -l "$front" -u "127.0.0.1:$rport" ${FF_ODDS:--f 20 -r 20 -o 50 -w 4 -D 10} -S ${FF_STORM:-100} -q -t 300 \
	>"$tmp/ffwd.log" 2>&1 &
fpid=$!
pids="$pids $fpid"
"$relay" -f -k 2 -l "127.0.0.1:$rport" >"$tmp/relay.log" 2>&1 &
rpid=$!
pids="$pids $rpid"
"$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
mpid=$!
pids="$pids $mpid"

# 1: registered through it.
wait_for 30 grep -q "relay: registered with $front" "$tmp/muxd.log"
t_ok $? "bgw-muxd registers its home id through the forwarder" ||
	diag "$tmp/muxd.log" "$tmp/relay.log" "$tmp/ffwd.log"

# 2: bgw-cdclient logs in through it with the faults on, STARTS times
# in a row: a first handshake a flipped bit broke is tried again (a
# damaged DTLS handshake record before ChangeCipherSpec fails the whole
# handshake); the last one stays for the echoes.
kill -USR2 "$fpid"
starts=${STARTS:-5} ok=0 retried=0
for i in $(seq 1 "$starts"); do
	# No old log to find the last start's login in, nor its socket.
	rm -f "$tmp/h.sock" "$tmp/cd.log"
	timeout 200 "$cdc" -f --bundle "$tmp/alice.bundle" --expose "unix:$tmp/h.sock" \
		>"$tmp/cd.log" 2>&1 </dev/null &
	cpid=$!
	wait_for 60 grep -qs "logged in as alice" "$tmp/cd.log" &&
		grep -q "DTLS1.2 handshake via relay $front done" "$tmp/cd.log" &&
		ok=$((ok + 1))
	grep -q "trying again" "$tmp/cd.log" && retried=$((retried + 1))
	cat "$tmp/cd.log" >>"$tmp/cd-all.log"
	if [ "$i" -lt "$starts" ]; then
		kill -TERM "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
done
pids="$pids $cpid"
[ "$ok" -eq "$starts" ]
t_ok $? "bgw-cdclient logs in through the faults $ok of $starts times ($retried tried a handshake again)" ||
	diag "$tmp/cd-all.log" "$tmp/muxd.log" "$tmp/ffwd.log"

# 3-5: an ACL transfer: numbered echoes, whole and in order, on one
# connection (a host that leaves ends its links): calm, a storm, calm.
wait_for 10 test -S "$tmp/h.sock"
$host --unix "$tmp/h.sock" init "connect:$RD" echoes:300 "mark:$tmp/m1" "await:$tmp/a1" \
	echoes:100 "mark:$tmp/m2" "await:$tmp/a2" echoes:50 >"$tmp/h.out" 2>&1 &
hpid=$!
pids="$pids $hpid"
wait_for 90 test -e "$tmp/m1"
t_ok $? "300 L2CAP echoes through the faults come back whole and in order" ||
	diag "$tmp/h.out" "$tmp/cd.log" "$tmp/ffwd.log"
kill -USR1 "$fpid"
touch "$tmp/a1"
wait_for 90 test -e "$tmp/m2"
t_ok $? "100 more through a storm (10 % flipped, replayed, reordered each)" ||
	diag "$tmp/h.out" "$tmp/cd.log" "$tmp/ffwd.log"
kill -USR2 "$fpid"
touch "$tmp/a2"
wait "$hpid"
rc=$?
[ "$rc" -eq 0 ] && [ "$(grep -c '^echoes=' "$tmp/h.out")" -eq 3 ]
t_ok $? "and 50 after the storm, on the same connection (exit $rc)" ||
	diag "$tmp/h.out" "$tmp/cd.log"

# 6: nobody crashed or gave up.
kill -0 "$rpid" && kill -0 "$mpid" && kill -0 "$cpid"
t_ok $? "bgw-relay, bgw-muxd and bgw-cdclient are all still running" ||
	diag "$tmp/relay.log" "$tmp/muxd.log" "$tmp/cd.log"

# 7: the faults did happen, in both directions' counts.
kill -TERM "$fpid"
wait "$fpid" 2>/dev/null
line=$(grep "faulty-fwd: done:" "$tmp/ffwd.log")
get() { echo "$line" | sed -n "s/.* $1 \([0-9]*\).*/\1/p"; }
in=$(get in) flipped=$(get flipped) replayed=$(get replayed) reordered=$(get reordered) dropped=$(get dropped)
[ "${flipped:-0}" -ge 20 ] && [ "${replayed:-0}" -ge 20 ] &&
	[ "${reordered:-0}" -ge 20 ] && [ "${dropped:-0}" -ge 1 ]
t_ok $? "the forwarder did its damage: $line" || diag "$tmp/ffwd.log"

# 8-9: the logs tell what happened, at a sane rate: far fewer lines than
# damaged datagrams (no line per datagram an attacker could multiply).
damaged=$(( ${flipped:-0} + ${replayed:-0} + ${reordered:-0} + ${dropped:-0} ))
for who in muxd relay; do
	lines=$(wc -l <"$tmp/$who.log")
	# About 10 lines for each login and logout of the first ones.
	extra=0
	[ "$who" = muxd ] && extra=$(( 10 * (starts - 1) ))
	[ "$lines" -lt $(( 60 + extra )) ] && [ "$lines" -lt $(( damaged / 4 + 20 + extra )) ]
	t_ok $? "bgw-$who wrote $lines log lines for $damaged damaged datagrams of ${in:-0}" ||
		sort "$tmp/$who.log" | sed 's/[0-9]\{1,\}/N/g' | sort | uniq -c | sort -rn | head -20 | diag
done
kill -TERM "$cpid" "$mpid" "$rpid" 2>/dev/null
wait 2>/dev/null
exit $((t_failed > 0))
