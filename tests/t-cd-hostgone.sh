#!/bin/bash
# A host behind a bgw-cdclient exposure that dies leaves no links behind:
# alice's host connects to the speaker through her unix: exposure (DTLS
# tunnel to bgw-muxd) and is killed (SIGKILL, no Disconnect); while it held
# the link, carol (the gateway's local listener, same device granted) got
# Connection Already Exists; within 2 s of the kill carol's connection
# succeeds, because bgw-cdclient resets alice's remote controller when its
# last host goes. The same with a host that disconnects in an orderly way
# through the tcp: exposure.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cd_bin=$build/cdclient/bgw-cdclient
host="timeout 30 python3 $src/tests/cd_host.py"
spk=10:B6:00:00:00:04
N=6
echo "1..$N"

[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
for b in "$muxd" "$adb" "$cd_bin"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	A user add alice &&
	A user add carol &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A cert issue alice --dir "$tmp/etc" --server "127.0.0.1:$port" --out "$tmp/alice.bundle" &&
	A allow alice $spk public &&
	A allow carol $spk public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }

cat >"$tmp/muxd.conf" <<EOT
controller sim
sim-time-scale 0.01
listen unix:$tmp/muxd.sock
uid-map $(id -u) carol
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
pids="$pids $!"
wait_for 10 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd.log" &&
	wait_for 5 test -S "$tmp/muxd.sock" || { diag "$tmp/muxd.log"; skip_all "bgw-muxd did not start"; }

"$cd_bin" -f --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
	--expose "tcp:127.0.0.1:$tport" >"$tmp/cd.log" 2>&1 &
cdp=$!
pids="$pids $cdp"
wait_for 30 grep -q "ready: " "$tmp/cd.log"
t_ok $? "alice's bgw-cdclient is up with unix: and tcp: exposures" || diag "$tmp/cd.log" "$tmp/muxd.log"

# carol_connect SECONDS: carol's connection to the speaker, retried until it
# succeeds or SECONDS pass; prints how long it took.
carol_connect() {
	local t0 end
	t0=$(date +%s%N)
	end=$((t0 + $1 * 1000000000))
	while :; do
		$host --unix "$tmp/muxd.sock" init connect:$spk >"$tmp/carol.out" 2>&1 && break
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

# 2: while alice's host holds the link, carol is refused.
# (python3 itself, not under timeout: the kill must reach the host.)
python3 "$src/tests/cd_host.py" --unix "$tmp/alice.sock" init connect:$spk sleep:60 >"$tmp/alice.out" 2>&1 &
hp=$!
pids="$pids $hp"
wait_for 20 grep -q '^connected=' "$tmp/alice.out"
$host --unix "$tmp/muxd.sock" init connect:$spk >"$tmp/carol0.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "status 0x0b" "$tmp/carol0.out"
t_ok $? "while alice's host holds the speaker, carol gets Connection Already Exists" ||
	diag "$tmp/alice.out" "$tmp/carol0.out"

# 3: alice's host dies; carol's connection succeeds within 2 s.
kill -KILL "$hp"
wait "$hp" 2>/dev/null
ms=$(carol_connect 2)
rc=$?
[ "$rc" -eq 0 ] && grep -q '^connected=' "$tmp/carol.out"
t_ok $? "alice's host killed: carol connects within 2 s (${ms:-no} ms)" ||
	diag "$tmp/carol.out" "$tmp/cd.log"
grep -q "its host is gone: resetting the remote controller" "$tmp/cd.log"
t_ok $? "bgw-cdclient says it reset the remote controller" || diag "$tmp/cd.log"

# 4: the same through the tcp: exposure, the host closing its socket.
$host --tcp "127.0.0.1:$tport" init connect:$spk >"$tmp/alice2.out" 2>&1
rc=$?
ms=$(carol_connect 2)
[ "$rc" -eq 0 ] && [ -n "$ms" ] && grep -q '^connected=' "$tmp/carol.out"
t_ok $? "a tcp: host that leaves with its link open: carol connects within 2 s (${ms:-no} ms)" ||
	diag "$tmp/alice2.out" "$tmp/carol.out" "$tmp/cd.log"

kill -TERM "$cdp"
wait "$cdp"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/cd.log"
t_ok $? "SIGTERM: bgw-cdclient exits 0" || diag "$tmp/cd.log"

[ "$t_failed" -eq 0 ]
