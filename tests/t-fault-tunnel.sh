#!/bin/bash
# Faults on the tunnel side, bgw-muxd set up with bgw-authdb (CA, alice
# with a certificate bundle, bob with a password):
#  - bgw-muxd killed with SIGKILL and restarted while bgw-cdclient is
#    connected and its local host holds a link: the client reconnects with
#    a backoff; meanwhile the host's commands fail at once (Hardware
#    Failure), not hang; when the daemon is back the host sees a controller
#    reset (Hardware Error), re-initialises and works again;
#  - the audit log's disk full (a 64 KiB tmpfs, filled up): the failure
#    is logged clearly and the daemon keeps serving logins (the audit log
#    records, it does not gate access: a full disk at home must not lock
#    the family out; the daemon log names every record it could not
#    write), and once there is space the chain still verifies;
#    an audit-log that is no regular file (/dev/full) is refused at start.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=9
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
fh="timeout 120 python3 $src/tests/fault_host.py"

gw_setup "$tmp/audit.log"
muxd_start "$tmp/muxd1.log"
t_ok $? "bgw-muxd listens on DTLS port $port" || { diag "$tmp/muxd1.log"; exit 1; }

: >"$tmp/cd.log"
"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" >"$tmp/cd.log" 2>&1 &
cpid=$!
pids="$pids $cpid"
wait_for 30 grep -q "logged in as alice" "$tmp/cd.log" && wait_for 10 test -S "$tmp/alice.sock"
t_ok $? "alice's bgw-cdclient logs in" || diag "$tmp/cd.log" "$tmp/muxd1.log"

$fh --unix "$tmp/alice.sock" init connect:10:B6:00:00:00:04 echo-n:20 expect-cmd-failure:30 \
	expect-hwerr:60 init connect:10:B6:00:00:00:04 echo-n:20 disconnect \
	>"$tmp/h.out" 2>&1 &
hpid=$!
pids="$pids $hpid"
wait_for 30 grep -qx 'echoed=20' "$tmp/h.out"
kill -KILL "$mpid"
wait "$mpid" 2>/dev/null
killed=$(date +%s)
wait_for 30 grep -q '^cmd-failure=' "$tmp/h.out"
t_ok $? "muxd SIGKILLed: the host's commands fail (Hardware Failure) after $(( $(date +%s) - killed )) s, no hang" ||
	diag "$tmp/h.out" "$tmp/cd.log"
sleep 2
muxd_start "$tmp/muxd2.log"
relogin() { [ "$(grep -c "logged in as alice" "$tmp/cd.log")" -ge 2 ]; }
wait_for 40 relogin && wait_for 10 grep -q '^hwerr=' "$tmp/h.out"
t_ok $? "muxd restarted: bgw-cdclient reconnects ($(grep -c "next attempt in" "$tmp/cd.log") attempts with backoff), the host gets a Hardware Error" ||
	diag "$tmp/h.out" "$tmp/cd.log" "$tmp/muxd2.log"
wait "$hpid"
rc=$?
[ "$rc" -eq 0 ] && [ "$(grep -c '^init=ok' "$tmp/h.out")" -eq 2 ] &&
	[ "$(grep -c '^echoed=20' "$tmp/h.out")" -eq 2 ]
t_ok $? "the host re-initialises and works again through the new daemon" ||
	diag "$tmp/h.out" "$tmp/cd.log" "$tmp/muxd2.log"
kill -TERM "$cpid" "$mpid"
wait "$cpid" "$mpid" 2>/dev/null

# The audit log's disk full.
mnt=$tmp/full
mkdir "$mnt"
if mount -t tmpfs -o size=64k,mode=0700 tmpfs "$mnt" 2>/dev/null; then
	: >"$mnt/audit.log"
	chmod 600 "$mnt/audit.log"
	sed -i "s|^audit-log .*|audit-log $mnt/audit.log|" "$tmp/muxd.conf"
	# The daemon makes the log's key at its start (a keyed chain, fail
	# closed without one); the disk fills while it runs.
	muxd_start "$tmp/muxd3.log"
	dd if=/dev/zero of="$mnt/filler" bs=1k count=100 2>/dev/null
	"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
		--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
	bpid=$!
	pids="$pids $bpid"
	wait_for 30 grep -q "audit log $mnt/audit.log: login-ok: No space left on device" "$tmp/muxd3.log"
	t_ok $? "disk full: the failed audit write is logged clearly" || diag "$tmp/muxd3.log"
	wait_for 30 grep -q "logged in as bob" "$tmp/cd-bob.log" && wait_for 10 test -S "$tmp/bob.sock" &&
		$fh --unix "$tmp/bob.sock" init connect:10:B6:00:00:00:03 echo-n:10 disconnect >"$tmp/hb.out" 2>&1
	t_ok $? "disk full: the daemon keeps serving (bob logs in and works)" ||
		diag "$tmp/cd-bob.log" "$tmp/hb.out" "$tmp/muxd3.log"
	rm -f "$mnt/filler"
	kill -TERM "$bpid"
	wait "$bpid" 2>/dev/null
	wait_for 20 grep -q "session-end" "$mnt/audit.log" &&
		"$adb" --db "$tmp/etc/authdb" --audit "$mnt/audit.log" audit verify >"$tmp/verify.out" 2>&1
	t_ok $? "space again: records are appended and the chain verifies" ||
		diag "$tmp/verify.out" "$mnt/audit.log" "$tmp/muxd3.log"
	kill -TERM "$mpid"
	wait "$mpid" 2>/dev/null
else
	for i in 1 2 3; do t_n=$((t_n + 1)); echo "ok $t_n # SKIP cannot mount a tmpfs"; done
fi

sed -i "s|^audit-log .*|audit-log /dev/full|" "$tmp/muxd.conf"
timeout 20 "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/t.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "audit-log /dev/full: " "$tmp/t.out"
t_ok $? "audit-log /dev/full (no regular file): bgw-muxd refuses to start (exit $rc)" || diag "$tmp/t.out"
! grep -q "Sanitizer\|runtime error" "$tmp"/muxd*.log "$tmp/cd.log"
[ "$t_failed" -eq 0 ]
