#!/bin/sh
# bgw-muxd where pidfd_open fails with ENOSYS (Linux before 5.3, valgrind
# 3.19), forced by tests/no-pidfd's seccomp filter: the monitor says it
# watches its peer processes through SIGCHLD, and each peer that ends is
# reaped (its process gone, not a zombie) and its end reaches the network
# front. With max-sessions 1 and max-pending 1 the front holds two peers at
# once, so three logins in a row, each ended before the next, succeed only
# if the front saw every earlier one end. The old monitor failed every
# login here ("pidfd: Function not implemented"). Last, the same with
# pidfd_open failing with EPERM (a container's seccomp profile).
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cd_bin=$build/cdclient/bgw-cdclient
nopidfd=$build/tests/no-pidfd
logins=3
N=$((logins + 4))
echo "1..$N"

[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (finding a free port)"
for b in "$muxd" "$adb" "$cd_bin" "$nopidfd"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done
"$nopidfd" true 2>/dev/null || skip_all "no seccomp filter can be installed here"

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	wait_for 5 eval 'for p in $pids; do kill -0 "$p" 2>/dev/null && exit 1; done; true' ||
		for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
	skip_all "cannot find a free port"
pw='k9#Vm2!qLz7p-Tx5'
{
	A user add bob &&
	printf '%s\n' "$pw" | A passwd --stdin bob &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A allow bob 10:B6:00:00:00:03 public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }
printf '%s\n' "$pw" >"$tmp/bob.pw"
chmod 600 "$tmp/bob.pw"

cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-muxd-nopidfd.sh
controller sim
sim-time-scale 0.01
listen-dtls 127.0.0.1:$port
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
resume-time 1
authdb $tmp/etc/authdb
runtime-dir $tmp
max-sessions 1
max-pending 1
peer-uid-count 18
log-level debug
EOT

# 1: up, and the monitor says how it watches its peers.
"$nopidfd" "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 10 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd.log" &&
	grep -q "no pidfd_open here: peer processes are watched through SIGCHLD" "$tmp/muxd.log"
t_ok $? "without pidfd_open bgw-muxd starts and watches its peers through SIGCHLD" || diag "$tmp/muxd.log"

# 2..: bob logs in, his client stops, his peer process is reaped; again.
reaped() { [ ! -e "/proc/$1" ]; }
for i in $(seq "$logins"); do
	"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
		--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob$i.sock" >"$tmp/cd$i.log" 2>&1 &
	cdb=$!
	pids="$pids $cdb"
	wait_for 30 grep -qs "logged in as bob" "$tmp/cd$i.log"
	ok=$?
	peer=$(sed -n 's/.*tunnel: peer .* is process \([0-9]*\), uid .*/\1/p' "$tmp/muxd.log" | sed -n "${i}p")
	kill -TERM "$cdb" 2>/dev/null
	wait "$cdb" 2>/dev/null
	[ "$ok" -eq 0 ] && [ -n "$peer" ] && wait_for 20 reaped "$peer"
	t_ok $? "login $i of $logins: bob's session up, then his peer process ${peer:-?} reaped" ||
		diag "$tmp/cd$i.log" "$tmp/muxd.log"
done

# Every peer's end reached the front too: it holds none.
grep -c "tunnel: peer .* is process [0-9]*, uid" "$tmp/muxd.log" >"$tmp/npeers"
[ "$(cat "$tmp/npeers")" -eq "$logins" ] && ! grep -q "refused: Device or resource busy" "$tmp/muxd.log"
t_ok $? "$logins peer processes in turn, none refused for lack of a slot ($(cat "$tmp/npeers") forked)" ||
	diag "$tmp/muxd.log"

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$tmp/muxd.log"
t_ok $? "SIGTERM: exit 0 (exit $rc), no sanitizer report" || diag "$tmp/muxd.log"

# EPERM: the same fallback, and bob logs in and his peer is reaped.
NO_PIDFD_ERRNO=EPERM "$nopidfd" "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd2.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 10 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd2.log" &&
	grep -q "no pidfd_open here: peer processes are watched through SIGCHLD" "$tmp/muxd2.log"
ok=$?
"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bobp.sock" >"$tmp/cdp.log" 2>&1 &
cdb=$!
pids="$pids $cdb"
[ "$ok" -eq 0 ] && wait_for 30 grep -qs "logged in as bob" "$tmp/cdp.log"
ok=$?
peer=$(sed -n 's/.*tunnel: peer .* is process \([0-9]*\), uid .*/\1/p' "$tmp/muxd2.log" | head -1)
kill -TERM "$cdb" 2>/dev/null
wait "$cdb" 2>/dev/null
[ "$ok" -eq 0 ] && [ -n "$peer" ] && wait_for 20 reaped "$peer"
t_ok $? "pidfd_open refused with EPERM: SIGCHLD too, bob logs in, peer ${peer:-?} reaped" ||
	diag "$tmp/cdp.log" "$tmp/muxd2.log"
kill -TERM "$mpid"
wait "$mpid"
[ "$t_failed" -eq 0 ]
