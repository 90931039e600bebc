#!/bin/sh
# bgw-muxd serving virtual controllers through the DTLS tunnel, set up the
# real admin way: bgw-authdb makes the CA, the users (alice with an
# enrolment bundle, bob with a password) and their grants (one RD of the
# default sim house each); bgw-muxd runs on `sim` with listen-dtls on
# loopback and its local listener; bgw-cdclient logs in and exposes each
# session as a Unix socket that tests/cd_host.py drives. Checks: -t on the
# tunnel files, both logins, Reset/Read BD_ADDR and an inquiry that shows
# each user only its own RD, a wrong password refused and audited, a
# killed client's session ending in muxd while the other goes on, a revoked
# certificate and a disabled user losing their sessions on SIGHUP, and a
# clean SIGTERM.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cd_bin=$build/cdclient/bgw-cdclient
host="timeout 60 python3 $src/tests/cd_host.py"
N=17
echo "1..$N"

# The daemon reads an authdb owned by root only (authdb_load owner 0).
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

# Free UDP and TCP ports on loopback (the bundle names the server up front).
free_port() {
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
port=$(free_port SOCK_DGRAM) && tport=$(free_port SOCK_STREAM) ||
	skip_all "cannot find a free port"

pw='k9#Vm2!qLz7p-Tx5'
{
	A user add alice &&
	A user add bob &&
	A user add carol &&
	A user add dave &&
	printf '%s\n' "$pw" | A passwd --stdin bob &&
	printf '%s\n' "$pw" | A passwd --stdin dave &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A cert issue alice --dir "$tmp/etc" --server "127.0.0.1:$port" --out "$tmp/alice.bundle" &&
	A allow alice 10:B6:00:00:00:04 public &&
	A allow bob 10:B6:00:00:00:03 public &&
	A allow carol 10:B6:00:00:00:04 public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }

cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-mux-tunnel.sh
controller sim
sim-time-scale 0.01
listen unix:$tmp/muxd.sock
uid-map $(id -u) carol
listen-dtls 127.0.0.1:$port
listen-tls 127.0.0.1:$tport
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
resume-time 3
authdb $tmp/etc/authdb
runtime-dir $tmp
max-sessions 3
EOT

# 1-2: -t checks the tunnel's files.
"$muxd" -t -c "$tmp/muxd.conf" >"$tmp/t.out" 2>&1 && grep -q "configuration OK.*DTLS port $port" "$tmp/t.out"
t_ok $? "-t accepts the tunnel configuration" || diag "$tmp/t.out"
chmod 640 "$tmp/etc/server.key"
"$muxd" -t -c "$tmp/muxd.conf" >"$tmp/t2.out" 2>&1
rc=$?
chmod 600 "$tmp/etc/server.key"
[ "$rc" -ne 0 ] && grep -q "server.key is readable or writable by group or others" "$tmp/t2.out"
t_ok $? "-t refuses a group-readable server key (exit $rc)" || diag "$tmp/t2.out"

# 3: the daemon starts with both listeners.
"$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 10 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd.log" &&
	grep -q "tunnel: TLS on 127.0.0.1 port $tport" "$tmp/muxd.log" &&
	wait_for 5 test -S "$tmp/muxd.sock"
t_ok $? "bgw-muxd listens on DTLS $port, TLS $tport and its local socket" || diag "$tmp/muxd.log"

# 4-5: alice with her bundle, bob with his password.
"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
	>"$tmp/cd-alice.log" 2>&1 &
cda=$!
pids="$pids $cda"
printf '%s\n' "$pw" >"$tmp/bob.pw"
chmod 600 "$tmp/bob.pw"
"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
cdb=$!
pids="$pids $cdb"
wait_for 30 grep -q "logged in as alice" "$tmp/cd-alice.log" &&
	wait_for 10 grep -q "tunnel session [0-9]* for alice from .*(certificate)" "$tmp/muxd.log"
t_ok $? "alice logs in with her certificate bundle" || diag "$tmp/cd-alice.log" "$tmp/muxd.log"
wait_for 30 grep -q "logged in as bob" "$tmp/cd-bob.log" &&
	wait_for 10 grep -q "tunnel session [0-9]* for bob from .*(password)" "$tmp/muxd.log"
t_ok $? "bob logs in with his password" || diag "$tmp/cd-bob.log" "$tmp/muxd.log"

# 6-7: each gets a virtual controller (Reset, Read BD_ADDR) and an inquiry
# shows each only the RD granted to them.
wait_for 10 test -S "$tmp/alice.sock"
$host --unix "$tmp/alice.sock" init inquiry >"$tmp/h-alice.out" 2>&1 &
ha=$!
$host --unix "$tmp/bob.sock" init inquiry >"$tmp/h-bob.out" 2>&1
rb=$?
wait $ha
ra=$?
[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] &&
	grep -q '^bdaddr=..:..:..:..:..:..$' "$tmp/h-alice.out" &&
	grep -q '^bdaddr=..:..:..:..:..:..$' "$tmp/h-bob.out" &&
	grep -q '^init=ok$' "$tmp/h-alice.out" && grep -q '^init=ok$' "$tmp/h-bob.out"
t_ok $? "alice and bob at once: Reset and Read BD_ADDR through the tunnel" ||
	diag "$tmp/h-alice.out" "$tmp/h-bob.out" "$tmp/muxd.log"
grep -qx 'inquiry=10:B6:00:00:00:04' "$tmp/h-alice.out" &&
	grep -qx 'inquiry=10:B6:00:00:00:03' "$tmp/h-bob.out"
t_ok $? "each sees only the RD granted to them in an inquiry" ||
	diag "$tmp/h-alice.out" "$tmp/h-bob.out"

# 8: the local listener still serves (carol by uid-map) beside the tunnel.
$host --unix "$tmp/muxd.sock" init >"$tmp/h-carol.out" 2>&1 &&
	grep -q '^init=ok$' "$tmp/h-carol.out" &&
	grep -q "local session [0-9]* for uid $(id -u) (carol)" "$tmp/muxd.log"
t_ok $? "the local listener works beside the tunnel" || diag "$tmp/h-carol.out" "$tmp/muxd.log"

# alice's client vanishes (SIGKILL: no CLOSE). muxd ends her session
# once the tunnel gives the peer up (20 s of silence) and the resume time
# (3 s) runs out; bob's goes on. Killed here, checked in 11-12.
kill -KILL "$cda"
wait "$cda" 2>/dev/null
killed_at=$(date +%s)

# 9-10: a wrong password is refused (bgw-cdclient gives up) and audited.
printf 'wrong-Horse-42!\n' >"$tmp/bad.pw"
chmod 600 "$tmp/bad.pw"
timeout 60 "$cd_bin" -f --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bad.pw" --expose "unix:$tmp/bad.sock" >"$tmp/cd-bad.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "error: login failed" "$tmp/cd-bad.log" &&
	grep -q "login as 'bob' from 127.0.0.1 failed: login failed" "$tmp/muxd.log"
t_ok $? "a wrong password is refused (bgw-cdclient exit $rc)" || diag "$tmp/cd-bad.log" "$tmp/muxd.log"
grep -q ' login-fail .*user=bob .*src=127.0.0.1' "$tmp/audit.log" &&
	grep -q ' login-ok .*user=alice .*detail=cert' "$tmp/audit.log" &&
	grep -q ' login-ok .*user=bob .*detail=password' "$tmp/audit.log" &&
	A audit verify >"$tmp/verify.out" 2>&1
t_ok $? "logins and the failure are in the audit log, its chain intact" ||
	diag "$tmp/audit.log" "$tmp/verify.out"

# 11-12 (see above).
wait_for 45 grep -q "tunnel session [0-9]* (alice) ended" "$tmp/muxd.log" &&
	grep -q ' session-end .*user=alice' "$tmp/audit.log"
t_ok $? "a killed client's session ends in bgw-muxd (logged and audited, after $(( $(date +%s) - killed_at )) s)" ||
	diag "$tmp/muxd.log"
$host --unix "$tmp/bob.sock" init >"$tmp/h-bob2.out" 2>&1 && grep -q '^init=ok$' "$tmp/h-bob2.out" &&
	! grep -q "(bob) ended" "$tmp/muxd.log"
t_ok $? "bob's session goes on" || diag "$tmp/h-bob2.out" "$tmp/muxd.log"

# 13-15: alice comes back; then the admin revokes her certificate and
# disables bob, and on SIGHUP both tunnel sessions end with the reason;
# the revoked bundle cannot log in again.
"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice2.sock" \
	>"$tmp/cd-alice2.log" 2>&1 &
cda2=$!
pids="$pids $cda2"
wait_for 30 grep -q "logged in as alice" "$tmp/cd-alice2.log" &&
	$host --unix "$tmp/alice2.sock" init >"$tmp/h-alice2.out" 2>&1
t_ok $? "alice logs in again after her session ended" || diag "$tmp/cd-alice2.log" "$tmp/h-alice2.out"

# max-sessions 3 is shared with the local listener: with carol holding a
# local session beside alice and bob, a further tunnel login (which the
# tunnel itself would take: 2 of its 3) is refused by muxd with a reason.
$host --unix "$tmp/muxd.sock" init sleep:55 >"$tmp/h-carol2.out" 2>&1 &
hc=$!
pids="$pids $hc"
wait_for 10 grep -q '^init=ok$' "$tmp/h-carol2.out"
"$cd_bin" -f -v --server "127.0.0.1:$port" --user dave --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/dave.sock" >"$tmp/cd-dave.log" 2>&1 &
cdb2=$!
pids="$pids $cdb2"
wait_for 50 grep -q "tunnel session for dave from .* refused: no session available" "$tmp/muxd.log" &&
	wait_for 10 grep -q "session refused by the server" "$tmp/cd-dave.log"
t_ok $? "a tunnel login beyond max-sessions is refused with a reason" ||
	diag "$tmp/muxd.log" "$tmp/cd-dave.log"
kill "$cdb2" "$hc" 2>/dev/null
wait "$cdb2" "$hc" 2>/dev/null
{ A cert revoke --user alice && A user disable bob; } >>"$tmp/admin.log" 2>&1
kill -HUP "$mpid"
wait_for 20 grep -q "tunnel session [0-9]* (alice): client certificate revoked after the authdb reload" "$tmp/muxd.log" &&
	wait_for 20 grep -q "tunnel session [0-9]* (bob): login failed after the authdb reload" "$tmp/muxd.log" &&
	wait_for 20 grep -q "session ended: client certificate revoked" "$tmp/cd-alice2.log" &&
	wait_for 20 grep -q "session ended: login failed" "$tmp/cd-bob.log"
t_ok $? "SIGHUP: a revoked certificate's and a disabled user's sessions end" ||
	diag "$tmp/muxd.log" "$tmp/cd-alice2.log" "$tmp/cd-bob.log"
timeout 60 "$cd_bin" -f --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice3.sock" \
	>"$tmp/cd-alice3.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "login as 'alice' from 127.0.0.1 failed: client certificate revoked" "$tmp/muxd.log" &&
	grep -q ' login-fail .*user=alice .*detail=client%20certificate%20revoked' "$tmp/audit.log"
t_ok $? "the revoked bundle is refused at login and audited (exit $rc)" ||
	diag "$tmp/cd-alice3.log" "$tmp/muxd.log" "$tmp/audit.log"

# 16: SIGTERM: exit 0, nothing from the sanitizers.
kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q Sanitizer "$tmp/muxd.log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc)" || tail -20 "$tmp/muxd.log" | diag

[ "$t_failed" -eq 0 ]
