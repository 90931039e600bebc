#!/bin/bash
# bgw-cdclient's FUSE exposure against bgw-sim --unix on loopback: the file
# system shows hci, session, devices and connections; a scripted host
# (tests/cd_host.py) drives the controller through the hci file (one packet
# per read/write, poll) and the status files show what happened; malformed
# writes get EINVAL, a second open EBUSY, an empty O_NONBLOCK read EAGAIN;
# a host that closes hci with a link open has it reset at once (the
# link does not outlive its host); SIGTERM unmounts; an ordinary user
# mounts it too (fusermount3).
# Skipped, with the reason, where FUSE cannot mount.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
cd_bin=$build/cdclient/bgw-cdclient
sim_bin=$build/sim/bgw-sim
host="python3 $src/tests/cd_host.py"
N=13
echo "1..$N"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
[ -x "$sim_bin" ] || skip_all "bgw-sim not built"
[ -x "$cd_bin" ] || skip_all "bgw-cdclient not built"
[ -c /dev/fuse ] || skip_all "no /dev/fuse (FUSE module not loaded)"
if [ "$(id -u)" -ne 0 ] && ! command -v fusermount3 >/dev/null 2>&1; then
	skip_all "not root and no fusermount3 (Debian: fuse3)"
fi

tmp=$(mktemp -d)
mnt=$tmp/mnt
mkdir -p "$mnt"
sim_pid=""
cd_pid=""
cleanup() {
	[ -z "$cd_pid" ] || kill "$cd_pid" 2>/dev/null
	[ -z "$sim_pid" ] || kill $sim_pid 2>/dev/null
	wait 2>/dev/null
	# Never leave a mount behind, whatever happened.
	if grep -q " $mnt " /proc/mounts 2>/dev/null; then
		fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

mounted() { grep -q " $mnt fuse" /proc/mounts; }

"$sim_bin" --unix "$tmp/sim.sock" --time-scale 0.1 >"$tmp/sim.log" 2>&1 &
sim_pid=$!
wait_for 10 test -S "$tmp/sim.sock" || skip_all "bgw-sim did not start"
"$cd_bin" -f -v --connect "unix:$tmp/sim.sock" --expose "fuse:$mnt" \
	>"$tmp/cd.log" 2>&1 &
cd_pid=$!
if ! wait_for 10 mounted; then
	if grep -q "cannot mount" "$tmp/cd.log"; then
		diag "$tmp/cd.log"
		skip_all "FUSE cannot mount here ($(grep -m1 'fuse' "$tmp/cd.log" | tr -d '#'))"
	fi
fi
wait_for 10 grep -q "upstream .*: connected" "$tmp/cd.log"
[ "$(ls "$mnt" | tr '\n' ' ')" = "connections devices hci session " ]
t_ok $? "mounted, with hci, session, devices and connections" ||
	{ ls -la "$mnt" | diag; diag "$tmp/cd.log"; }

grep -q "^server: unix:$tmp/sim.sock$" "$mnt/session" &&
	grep -q '^state: up$' "$mnt/session" && grep -q '^user: -$' "$mnt/session"
t_ok $? "session shows the server and state up" || diag "$mnt/session"

# 3-4: the host drives the controller through the hci file.
# The host keeps the file open after its echo until 5 is checked (it
# awaits the script's word, not a fixed time a loaded machine outruns).
timeout 120 $host --file "$mnt/hci" init inquiry lescan:2 \
	name:10:B6:00:00:00:04 connect:10:B6:00:00:00:04 echo await:"$tmp/h1.go" \
	>"$tmp/h1.out" 2>"$tmp/h1.err" &
h1=$!
wait_for 60 grep -q '^echo=' "$tmp/h1.out"
t_ok $? "a host on the hci file initialises, discovers, connects and echoes" ||
	diag "$tmp/h1.out" "$tmp/h1.err"

cat "$mnt/devices" >"$tmp/devices"
grep -q '^10:B6:00:00:00:04 bredr -[0-9]* 20[0-9-]*T[0-9:]*Z "Kitchen Speaker"$' "$tmp/devices" &&
	grep -q '^C0:B6:00:00:00:01 le-random -[0-9]* .* "Front Door Lock"$' "$tmp/devices" &&
	grep -q '^10:B6:00:00:00:02 le-public -[0-9]* .* "Thermometer"$' "$tmp/devices"
t_ok $? "devices lists what inquiry, LE scan and the name request found" ||
	diag "$tmp/devices"

# 5: the connection the host made, while it has the file open.
cat "$mnt/connections" >"$tmp/conns"
handle=$(sed -n 's/^connected=\(0x[0-9a-f]*\) .*/\1/p' "$tmp/h1.out")
[ -n "$handle" ] && grep -q "^$handle acl 10:B6:00:00:00:04 bredr " "$tmp/conns"
t_ok $? "connections shows handle $handle to the speaker" || diag "$tmp/conns"

# 6: the host closes the file with its link open: bgw-cdclient resets the
# controller, so the link does not outlive its host.
: >"$tmp/h1.go"
wait "$h1"
wait_for 2 grep -q '^# 0 connections' "$mnt/connections" &&
	grep -q "its host is gone: resetting the remote controller" "$tmp/cd.log"
t_ok $? "the host gone, its links are reset: connections is empty" ||
	diag "$mnt/connections" "$tmp/cd.log"
timeout 30 $host --file "$mnt/hci" init >"$tmp/h2.out" 2>&1

# 7: bytes and round-trip time were counted.
grep -q '^rtt-us: last [0-9]* avg' "$mnt/session" &&
	! grep -q '^bytes-in: 0$' "$mnt/session" && ! grep -q '^bytes-out: 0$' "$mnt/session"
t_ok $? "session counts bytes and the HCI round-trip time" || diag "$mnt/session"

# 8: malformed writes are refused with EINVAL.
timeout 20 $host --file "$mnt/hci" send-event send-short send-badtype init >"$tmp/h3.out" 2>&1
[ "$(grep -c '=Invalid argument$' "$tmp/h3.out")" -eq 3 ] && grep -q '^init=ok' "$tmp/h3.out"
t_ok $? "an event, a short packet and an unknown type get EINVAL" || diag "$tmp/h3.out"

# 9-10: one opener; non-blocking reads.
python3 - "$mnt/hci" >"$tmp/py.out" 2>&1 <<'EOF'
import errno, os, sys
p = sys.argv[1]
a = os.open(p, os.O_RDWR | os.O_NONBLOCK)
try:
    os.open(p, os.O_RDWR)
    print("second-open=ok")
except OSError as e:
    print("second-open=" + errno.errorcode[e.errno])
try:
    os.read(a, 4096)
    print("nonblock-read=data")
except OSError as e:
    print("nonblock-read=" + errno.errorcode[e.errno])
os.close(a)
EOF
grep -q '^second-open=EBUSY$' "$tmp/py.out"
t_ok $? "a second open of hci gets EBUSY" || diag "$tmp/py.out"
grep -q '^nonblock-read=EAGAIN$' "$tmp/py.out"
t_ok $? "an O_NONBLOCK read with nothing queued gets EAGAIN" || diag "$tmp/py.out"

# 11: status files are read-only, for root too.
python3 - "$mnt/session" >"$tmp/py2.out" 2>&1 <<'EOF'
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY)
    print("write-open=ok")
except OSError as e:
    print("write-open=" + errno.errorcode[e.errno])
EOF
grep -q '^write-open=EACCES$' "$tmp/py2.out"
t_ok $? "status files refuse opening for writing" || diag "$tmp/py2.out"

# 12: SIGTERM unmounts.
kill -TERM "$cd_pid"
wait "$cd_pid"
rc=$?
cd_pid=""
[ "$rc" -eq 0 ] && ! mounted && ! grep -q "Sanitizer" "$tmp/cd.log"
t_ok $? "SIGTERM: clean exit, file system unmounted" || { echo "# exit $rc"; tail -20 "$tmp/cd.log" | diag; }

# 13: without root, where FUSE allows it (setuid fusermount3): as nobody.
if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null 2>&1 ||
	! id nobody >/dev/null 2>&1 || [ ! -u "$(command -v fusermount3 2>/dev/null)" ]; then
	t_n=$((t_n + 1)); echo "ok $t_n # SKIP needs root to become nobody, runuser and a setuid fusermount3"
else
	nr=$tmp/nobody
	mkdir -p "$nr/mnt"
	chown -R nobody "$nr"
	chmod 755 "$tmp"
	"$sim_bin" --unix "$nr/sim.sock" --time-scale 0.1 >"$nr/sim.log" 2>&1 &
	sim_pid="$sim_pid $!"
	wait_for 10 test -S "$nr/sim.sock"
	chmod 666 "$nr/sim.sock"
	runuser -u nobody -- "$cd_bin" -f --connect "unix:$nr/sim.sock" \
		--expose "fuse:$nr/mnt" >"$nr/cd.log" 2>&1 &
	nr_pid=$!
	nr_mounted() { grep -q " $nr/mnt fuse" /proc/mounts; }
	wait_for 10 nr_mounted && wait_for 10 grep -q "connected" "$nr/cd.log" &&
		runuser -u nobody -- timeout 30 python3 "$src/tests/cd_host.py" --file "$nr/mnt/hci" init \
			>"$nr/h.out" 2>&1 &&
		runuser -u nobody -- grep -q '^state: up$' "$nr/mnt/session"
	rc=$?
	kill -TERM "$nr_pid" 2>/dev/null
	wait "$nr_pid" 2>/dev/null
	[ "$rc" -eq 0 ] && ! nr_mounted
	t_ok $? "an ordinary user (nobody) mounts it, drives hci, reads session, unmounts" ||
		diag "$nr/cd.log" "$nr/h.out"
	nr_mounted && { fusermount3 -u -z "$nr/mnt" 2>/dev/null || umount -l "$nr/mnt"; }
fi

[ "$t_failed" -eq 0 ]
