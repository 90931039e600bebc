#!/bin/bash
# Faults around sessions, bgw-muxd on the simulated controller with its
# local listener (root sees the speaker 10:B6:00:00:00:04, nobody the bulb
# 10:B6:00:00:00:03):
#  - a CD killed with SIGKILL in the middle of an ACL transfer: its
#    session ends, its physical link is disconnected (the bulb can be
#    connected again at once), and root's echo stream running meanwhile
#    loses nothing;
#  - the authdb replaced with garbage while running: a line-numbered error
#    is logged, the last good authdb stays in force, the running session is
#    not disturbed, and a fixed authdb is picked up again.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
fh="python3 $src/tests/fault_host.py"
N=9
echo "1..$N"
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 || skip_all "needs root and setpriv"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$muxd" ] || skip_all "bgw-muxd not built"

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

cat >"$tmp/authdb" <<EOT
user root
user nobody
allow root 10:B6:00:00:00:04 public
allow nobody 10:B6:00:00:00:03 public
EOT
chmod 600 "$tmp/authdb"
cp "$tmp/authdb" "$tmp/authdb.good"
cat >"$tmp/muxd.conf" <<EOT
controller sim
listen unix:$tmp/muxd.sock
authdb $tmp/authdb
runtime-dir $tmp
socket-mode 0666
sim-time-scale 0.01
max-sessions 4
EOT

# shellcheck disable=SC2086
${BGW_WRAP:-} "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 20 test -S "$tmp/muxd.sock" && wait_for 20 grep -q "controller .* ready" "$tmp/log"
t_ok $? "bgw-muxd is up" || { diag "$tmp/log"; exit 1; }

# (a) root runs 400 echoes (100 bytes each way, every payload checked)
# while nobody streams to the bulb and is killed in the middle.
timeout 90 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:04 echo-n:400 \
	sleep:1 echo-n:50 disconnect >"$tmp/root.out" 2>&1 &
rpid=$!
pids="$pids $rpid"
: >"$tmp/victim.out"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	timeout 60 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:03 stream:30 \
	>"$tmp/victim.out" 2>&1 &
vpid=$!
pids="$pids $vpid"
wait_for 20 grep -q '^pid=' "$tmp/victim.out" && sleep 1
vpy=$(sed -n 's/^pid=//p' "$tmp/victim.out")
[ -n "$vpy" ] && kill -KILL "$vpy"
t_ok $? "the streaming CD is killed with SIGKILL mid-transfer" || diag "$tmp/victim.out"
wait "$vpid" 2>/dev/null
wait_for 10 grep -q "session [0-9]* (nobody) ended" "$tmp/log"
t_ok $? "bgw-muxd ends the killed CD's session" || diag "$tmp/log"

as_nobody timeout 30 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:03 echo-n:5 \
	disconnect >"$tmp/again.out" 2>&1
t_ok $? "its physical link was disconnected: the bulb connects again at once" ||
	diag "$tmp/again.out" "$tmp/log"

# (d) the authdb replaced with garbage (renamed into place, as an editor
# or bgw-authdb would) while root's echoes run.
printf 'user root\nallow root 10:B6:00:00:00:04 public\nthis is \001 garbage\n\377\376\n' >"$tmp/authdb.tmp"
head -c 300 /dev/urandom >>"$tmp/authdb.tmp"
chmod 600 "$tmp/authdb.tmp"
mv "$tmp/authdb.tmp" "$tmp/authdb"
wait_for 10 grep -q "authdb $tmp/authdb refused: .*authdb:[0-9][0-9]*: " "$tmp/log"
t_ok $? "garbage authdb: a line-numbered error is logged" || diag "$tmp/log"

wait "$rpid"
rc=$?
[ "$rc" -eq 0 ] && grep -qx 'echoed=400' "$tmp/root.out" && grep -qx 'echoed=50' "$tmp/root.out" &&
	grep -q '^disconnected=' "$tmp/root.out"
t_ok $? "the other session lost nothing: 450 echoes, all payloads intact" ||
	diag "$tmp/root.out" "$tmp/log"

# The last good authdb is in force: nobody (absent from the garbage's
# first lines) still logs in and still sees only the bulb.
as_nobody timeout 60 $fh --unix "$tmp/muxd.sock" init inquiry >"$tmp/old.out" 2>&1 &&
	grep -qx 'inquiry=10:B6:00:00:00:03' "$tmp/old.out"
t_ok $? "the old authdb stays in force" || diag "$tmp/old.out" "$tmp/log"

# A fixed authdb (nobody now also granted the speaker) is picked up.
n0=$(grep -c "authdb changed: reloading" "$tmp/log")
sed 's/^allow nobody 10:B6:00:00:00:03 public$/&\nallow nobody 10:B6:00:00:00:04 public/' \
	"$tmp/authdb.good" >"$tmp/authdb.tmp"
chmod 600 "$tmp/authdb.tmp"
mv "$tmp/authdb.tmp" "$tmp/authdb"
reloaded() { [ "$(grep -c "authdb changed: reloading" "$tmp/log")" -gt "$n0" ]; }
wait_for 10 reloaded
sleep 0.5
as_nobody timeout 60 $fh --unix "$tmp/muxd.sock" init inquiry >"$tmp/new.out" 2>&1 &&
	grep -qx 'inquiry=10:B6:00:00:00:03 10:B6:00:00:00:04' "$tmp/new.out"
t_ok $? "a fixed authdb is picked up again" || diag "$tmp/new.out" "$tmp/log"

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/log" | diag

[ "$t_failed" -eq 0 ]
