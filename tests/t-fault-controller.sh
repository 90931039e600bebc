#!/bin/bash
# The controller transport closed and reopened: bgw-muxd on `unix:` to a
# separate bgw-sim process (standing in for a controller behind btvirt or
# a serial line) that is killed while two sessions hold links and then
# restarted. Both sessions receive a Hardware Error, re-initialise and
# carry on (connect and echo); bgw-muxd says clearly what happened.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
sim=$build/sim/bgw-sim
fh="python3 $src/tests/fault_host.py"
N=6
echo "1..$N"
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 || skip_all "needs root and setpriv"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$muxd" ] && [ -x "$sim" ] || skip_all "bgw-muxd or bgw-sim not built"

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=""
simpid=""
cleanup() {
	for p in $pids $simpid; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
start_sim() {
	rm -f "$tmp/sim.sock"
	# shellcheck disable=SC2086
	${BGW_WRAP:-} "$sim" --unix "$tmp/sim.sock" --time-scale 0.01 >>"$tmp/sim.log" 2>&1 &
	simpid=$!
	wait_for 20 test -S "$tmp/sim.sock"
}

cat >"$tmp/authdb" <<EOT
user root
user nobody
allow root 10:B6:00:00:00:04 public
allow nobody 10:B6:00:00:00:03 public
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
controller unix:$tmp/sim.sock
listen unix:$tmp/muxd.sock
authdb $tmp/authdb
runtime-dir $tmp
socket-mode 0666
max-sessions 4
EOT

start_sim
# shellcheck disable=SC2086
${BGW_WRAP:-} "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 20 test -S "$tmp/muxd.sock" && wait_for 20 grep -q "controller .* ready" "$tmp/log"
t_ok $? "bgw-muxd is up on unix:$tmp/sim.sock" || { diag "$tmp/log" "$tmp/sim.log"; exit 1; }

timeout 90 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:04 echo-n:20 \
	expect-hwerr:40 wait-file:$tmp/back init connect:10:B6:00:00:00:04 echo-n:50 disconnect \
	>"$tmp/root.out" 2>&1 &
rpid=$!
pids="$pids $rpid"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	timeout 90 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:03 echo-n:20 \
	expect-hwerr:40 wait-file:$tmp/back init connect:10:B6:00:00:00:03 echo-n:50 disconnect \
	>"$tmp/nobody.out" 2>&1 &
npid=$!
pids="$pids $npid"
wait_for 30 grep -qx 'echoed=20' "$tmp/root.out" && wait_for 30 grep -qx 'echoed=20' "$tmp/nobody.out"
t_ok $? "two sessions with links through the controller socket" ||
	diag "$tmp/root.out" "$tmp/nobody.out" "$tmp/log"

kill -KILL "$simpid"
wait "$simpid" 2>/dev/null
simpid=""
wait_for 10 grep -q "controller unix:$tmp/sim.sock lost: " "$tmp/log" &&
	wait_for 10 grep -q "controller lost: 2 links dropped, sessions told Hardware Error" "$tmp/log"
t_ok $? "the controller's loss is logged (links dropped, sessions told)" || diag "$tmp/log"
sleep 1
start_sim
ready_twice() { [ "$(grep -c "controller .* ready" "$tmp/log")" -ge 2 ]; }
wait_for 30 ready_twice && touch "$tmp/back"
t_ok $? "the controller socket is reopened and re-initialised" || diag "$tmp/log" "$tmp/sim.log"

wait "$rpid"
r1=$?
wait "$npid"
r2=$?
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] &&
	[ "$(grep -c '^hwerr=' "$tmp/root.out")" -eq 1 ] && [ "$(grep -c '^hwerr=' "$tmp/nobody.out")" -eq 1 ] &&
	[ "$(grep -c '^init=ok' "$tmp/root.out")" -eq 2 ] && grep -qx 'echoed=50' "$tmp/root.out" &&
	grep -qx 'echoed=50' "$tmp/nobody.out"
t_ok $? "both sessions get one Hardware Error, re-initialise, connect and echo again" ||
	diag "$tmp/root.out" "$tmp/nobody.out" "$tmp/log"

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/log" | diag
[ "$t_failed" -eq 0 ]
