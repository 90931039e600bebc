#!/bin/sh
# bgw-muxd's start (man/bgw-muxd.8): one instance per runtime directory,
# errors reported before it detaches, and -t checking the controller
# without taking it. Checks: started without -f, the command returns 0
# only once the daemon is up (its sockets exist), with its pid in the
# lock file; a second instance with the same configuration exits 1 with
# "already running (pid N)" and leaves the first's sockets and sessions
# alone; a DTLS port in use, without -f, exits 1 naming the port; -t
# fails naming an absent hci:9, a unix: controller that is not a socket
# and a scenario that does not parse; --version and --help.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
N=10
echo "1..$N"

[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
for b in "$muxd" "$adb"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
cleanup() {
	[ -f "$tmp/run/bgw-muxd.pid" ] && kill -KILL "$(cat "$tmp/run/bgw-muxd.pid")" 2>/dev/null
	[ -n "${holder:-}" ] && kill -KILL "$holder" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
free_port() {
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
port=$(free_port SOCK_DGRAM) || skip_all "cannot find a free port"
{
	A user add root &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A allow root 10:B6:00:00:00:04 public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }

conf() {
	cat <<EOT
controller ${2:-sim}
sim-time-scale 0.01
listen unix:$tmp/muxd.sock
socket-mode 0600
listen-dtls 127.0.0.1:$1
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
authdb $tmp/etc/authdb
runtime-dir $tmp/run
EOT
}
conf "$port" >"$tmp/muxd.conf"

# 1: without -f, the command returns once the daemon is up.
"$muxd" -c "$tmp/muxd.conf" >"$tmp/start.out" 2>&1
rc=$?
pid=$(cat "$tmp/run/bgw-muxd.pid" 2>/dev/null)
[ "$rc" -eq 0 ] && [ -n "$pid" ] && kill -0 "$pid" && test -S "$tmp/muxd.sock" &&
	test -S "$tmp/run/control" && [ ! -s "$tmp/start.out" ]
t_ok $? "started without -f: exit 0 once up, pid $pid in the lock file, sockets there" ||
	diag "$tmp/start.out"

# A session on the first instance, to see that the second leaves it alone.
python3 - "$tmp/muxd.sock" >"$tmp/hold.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(bytes([1, 0x03, 0x0c, 0]))     # HCI Reset
print("connected", flush=True)
time.sleep(60)
EOF
holder=$!
wait_for 10 grep -qs connected "$tmp/hold.out"
ino=$(stat -c %i "$tmp/muxd.sock")

# 2-3: a second instance, in the foreground and not.
timeout 30 "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/second.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "bgw-muxd is already running (pid $pid)" "$tmp/second.out"
t_ok $? "a second instance (-f) exits 1: already running (pid $pid)" || diag "$tmp/second.out"
"$muxd" -c "$tmp/muxd.conf" >"$tmp/third.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "already running (pid $pid)" "$tmp/third.out" &&
	[ "$(stat -c %i "$tmp/muxd.sock")" = "$ino" ] && test -S "$tmp/run/control" &&
	kill -0 "$pid" && kill -0 "$holder" &&
	"$muxd" -c "$tmp/muxd.conf" status | grep -q '^controller sim: up, .* 1 session$'
t_ok $? "and without -f: exit 1; the first's sockets, process and session untouched" ||
	diag "$tmp/third.out"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=

# 4: the first stops cleanly and a new one may start.
kill -TERM "$pid"
wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
"$muxd" -c "$tmp/muxd.conf" >"$tmp/again.out" 2>&1
rc=$?
pid2=$(cat "$tmp/run/bgw-muxd.pid" 2>/dev/null)
[ "$rc" -eq 0 ] && [ -n "$pid2" ] && [ "$pid2" != "$pid" ] && kill -0 "$pid2"
t_ok $? "after a stop, the lock is free: a new instance starts" || diag "$tmp/again.out"

# 5: the DTLS port in use (by the instance running), without -f: exit 1.
mkdir -p "$tmp/other"
conf "$port" | sed "s|^runtime-dir .*|runtime-dir $tmp/other|; s|^listen unix:.*|listen unix:$tmp/other.sock|" \
	>"$tmp/busy.conf"
"$muxd" -c "$tmp/busy.conf" >"$tmp/busy.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot listen on 127.0.0.1 DTLS port $port: Address already in use" "$tmp/busy.out" &&
	[ ! -e "$tmp/other/control" ] && kill -0 "$pid2"
t_ok $? "a DTLS port in use, without -f: exit 1, the error on the terminal (exit $rc)" ||
	diag "$tmp/busy.out"
kill -TERM "$pid2"
wait_for 10 sh -c "! kill -0 $pid2 2>/dev/null"

# 6: an error after the fork (the audit log's directory is missing): the
# parent, still in the foreground, reports it and exits 1.
conf "$port" | sed "s|^audit-log .*|audit-log $tmp/missing/audit.log|" >"$tmp/audit.conf"
"$muxd" -c "$tmp/audit.conf" >"$tmp/audit.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "audit-log $tmp/missing/audit.log: No such file or directory" "$tmp/audit.out" &&
	wait_for 5 sh -c "! kill -0 $(cat "$tmp/run/bgw-muxd.pid") 2>/dev/null" && [ ! -e "$tmp/run/control" ]
t_ok $? "an error after detaching, without -f: exit 1, the error on the terminal" ||
	diag "$tmp/audit.out"

# 7-9: -t checks the controller without taking it.
n=9
while [ -e "/sys/class/bluetooth/hci$n" ]; do n=$((n + 1)); done
conf "$port" "hci:$n" >"$tmp/hci.conf"
"$muxd" -t -c "$tmp/hci.conf" >"$tmp/hci.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "controller hci:$n: no controller hci$n" "$tmp/hci.out" &&
	! grep -q "configuration OK" "$tmp/hci.out"
t_ok $? "-t with an absent hci:$n: exit 1, names it" || diag "$tmp/hci.out"
conf "$port" "unix:$tmp/muxd.conf" >"$tmp/unix.conf"
"$muxd" -t -c "$tmp/unix.conf" >"$tmp/unix.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "controller unix:$tmp/muxd.conf: not a socket" "$tmp/unix.out"
t_ok $? "-t with a unix: controller that is not a socket: exit 1" || diag "$tmp/unix.out"
printf 'bogus scenario line\n' >"$tmp/bad.scn"
conf "$port" "sim:$tmp/bad.scn" >"$tmp/scn.conf"
"$muxd" -t -c "$tmp/scn.conf" >"$tmp/scn.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "bad.scn" "$tmp/scn.out"
t_ok $? "-t with a scenario that does not parse: exit 1, names the file" || diag "$tmp/scn.out"

# 10: the same at start, before anything is opened.
"$muxd" -c "$tmp/hci.conf" >"$tmp/hci2.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "no controller hci$n" "$tmp/hci2.out" && [ ! -e "$tmp/muxd.sock" ]
t_ok $? "started with an absent hci:$n: exit 1 before any socket is made" || diag "$tmp/hci2.out"
[ "$t_failed" -eq 0 ]
