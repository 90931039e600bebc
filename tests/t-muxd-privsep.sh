#!/bin/sh
# bgw-muxd's privilege separation (doc/security.md): a monitor and one
# worker named bgw-muxd[work]; the worker sandboxed (NoNewPrivs, seccomp
# filter mode) and, when started as root, not running as root; a client
# served through the worker; a worker killed with SIGKILL makes the monitor
# log it and exit with status 1 (its documented outcome), socket removed;
# `sandbox no` leaves the filter off and says so.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..11"
muxd="$BGW_BUILDDIR/mux/bgw-muxd"
client="$BGW_BUILDDIR/tests/sim-client"
tmp=$(mktemp -d)
chmod 755 "$tmp"
sock="$tmp/muxd.sock"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

me=$(id -un)
cat >"$tmp/authdb" <<EOT
user $me
allow $me 10:B6:00:00:00:04 public
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
controller sim
listen unix:$sock
authdb $tmp/authdb
socket-mode 0666
sim-time-scale 0.01
EOT

start() {
	"$muxd" -f -c "$1" 2>"$2" &
	pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	i=0
	while ! grep -q "started:" "$2" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	worker=$(pgrep -P "$pid" | head -n 1)
}

# -t refuses what the start would: a listener path that is a plain file.
touch "$tmp/plain"
sed "s|^listen unix:.*|listen unix:$tmp/plain|" "$tmp/muxd.conf" >"$tmp/plain.conf"
"$muxd" -t -c "$tmp/plain.conf" >"$tmp/t.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "exists and is not a socket" "$tmp/t.out"
t_ok $? "-t refuses a listener path that is not a socket (status $rc)" || sed 's/^/# /' "$tmp/t.out"

start "$tmp/muxd.conf" "$tmp/log"
[ -n "$worker" ] && [ "$(cat /proc/"$worker"/comm)" = "bgw-muxd[work]" ] &&
	[ "$(cat /proc/"$pid"/comm)" = "bgw-muxd" ]
t_ok $? "two processes: the monitor and bgw-muxd[work]" || sed 's/^/# /' "$tmp/log"

grep -q "^Seccomp:[[:space:]]*2" /proc/"$worker"/status &&
	grep -q "^NoNewPrivs:[[:space:]]*1" /proc/"$worker"/status
t_ok $? "the worker: seccomp filter mode, no new privileges"

grep -q "^Seccomp:[[:space:]]*0" /proc/"$pid"/status
t_ok $? "the monitor is not filtered (it opens the controller, reads the authdb)"

wuid=$(awk '/^Uid:/ { print $3 }' /proc/"$worker"/status)
if [ "$(id -u)" = 0 ]; then
	[ "$wuid" != 0 ] && ! grep -q "^CapEff:[[:space:]]*0*[1-9a-f]" /proc/"$worker"/status
	t_ok $? "as root: the worker runs as uid $wuid without capabilities"
else
	[ "$wuid" = "$(id -u)" ] && grep -q "not started as root" "$tmp/log"
	t_ok $? "not root: nothing to drop, said once in the log"
fi

timeout 60 "$client" "$sock" >"$tmp/c.out" 2>&1 && grep -q "echo ok 10:B6:00:00:00:04" "$tmp/c.out"
t_ok $? "a local client works through the sandboxed worker" ||
	sed 's/^/# /' "$tmp/c.out" "$tmp/log"

kill -KILL "$worker"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid"
rc=$?
pid=""
[ $rc -eq 1 ] && grep -q "worker killed by signal 9" "$tmp/log" && [ ! -e "$sock" ]
t_ok $? "worker killed: the monitor logs it and exits 1 (status $rc), socket removed" ||
	sed 's/^/# /' "$tmp/log"

# The filter kills with SIGSYS; the worker has no way to be told to make a
# forbidden call, so SIGSYS sent by hand stands in for the kernel's and
# checks the monitor's report of it.
start "$tmp/muxd.conf" "$tmp/log3"
kill -SYS "$worker"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid"
rc=$?
pid=""
[ $rc -eq 1 ] && grep -q "killed by the sandbox" "$tmp/log3"
t_ok $? "a worker ended by SIGSYS is reported as a sandbox kill (status $rc)" ||
	sed 's/^/# /' "$tmp/log3"

sed 's/^controller sim/sandbox no\ncontroller sim/' "$tmp/muxd.conf" >"$tmp/nosb.conf"
start "$tmp/nosb.conf" "$tmp/log2"
grep -q "^Seccomp:[[:space:]]*0" /proc/"$worker"/status && grep -q "sandbox off" "$tmp/log2"
t_ok $? "sandbox no: no filter, and the log says so" || sed 's/^/# /' "$tmp/log2"
# max-sessions-per-user 1: a second connection of the same user is refused
# with a log line while the first is held open.
kill -TERM "$pid"
wait "$pid"
sed 's/^controller sim/max-sessions-per-user 1\ncontroller sim/' "$tmp/muxd.conf" >"$tmp/cap.conf"
start "$tmp/cap.conf" "$tmp/log4"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
time.sleep(8)
' "$sock" &
holder=$!
i=0
while ! grep -q "local session" "$tmp/log4" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
timeout 20 "$client" "$sock" >"$tmp/cap.out" 2>&1
r=$?
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
[ $r -ne 0 ] && grep -q "refused: max-sessions-per-user 1 reached" "$tmp/log4"
t_ok $? "max-sessions-per-user: the second session of a user is refused, logged" ||
	sed 's/^/# /' "$tmp/log4" "$tmp/cap.out"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ]
t_ok $? "SIGTERM: monitor and worker stop cleanly (status $rc)"
[ $t_failed -eq 0 ]
