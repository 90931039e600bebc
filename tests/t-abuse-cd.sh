#!/bin/bash
# An authenticated but malicious CD: nobody, logged in on bgw-muxd's local
# listener with a link of its own, sends every malformed or foreign packet
# tests/fault_host.py (step abuse) can frame -- ACL, SCO and commands on
# a handle it does not hold and on every handle 0..0xEFF, commands one byte short or
# 255 bytes long, all unknown and vendor opcodes, 200 random commands, ACL
# whose L2CAP length disagrees -- and last an HCI event. Meanwhile root
# runs an L2CAP echo stream to its speaker. Asserted: root loses nothing
# and keeps its link; the malicious session gets controller errors
# (Command Status/Complete with a status) and still gets answers, also
# after the event; bgw-muxd logs the refusals and keeps running.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
fh="python3 $src/tests/fault_host.py"
N=5
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

cat >"$tmp/authdb" <<EOT
user root
user nobody
allow root 10:B6:00:00:00:04 public
allow nobody 10:B6:00:00:00:03 public
EOT
chmod 600 "$tmp/authdb"
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

timeout 120 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:04 echo-n:300 \
	wait-file:"$tmp/abuse-done" echo-n:100 disconnect >"$tmp/root.out" 2>&1 &
rpid=$!
pids="$pids $rpid"
wait_for 20 grep -q '^connected=' "$tmp/root.out"
# Each session numbers its own links (doc/virtual-controller.md,
# "Handles"): nobody cannot name root's link at all, and its own one is
# 0x0001 like root's. It attacks 0x0002, which it does not hold: the
# controller's handle of its own link (root connected first), which must
# not pass for its own either.
h=0x0002
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	timeout 100 $fh --unix "$tmp/muxd.sock" init connect:10:B6:00:00:00:03 "abuse:$h" \
	>"$tmp/bad.out" 2>&1
brc=$?
touch "$tmp/abuse-done"
sent=$(sed -n 's/^abuse-sent=//p' "$tmp/bad.out")
errs=$(sed -n 's/^abuse-errors=//p' "$tmp/bad.out")
[ "$brc" -eq 0 ] && [ "${sent:-0}" -gt 4000 ] && [ "${errs:-0}" -gt 100 ] &&
	grep -q '^still-answers=' "$tmp/bad.out"
t_ok $? "the malicious CD sent $sent packets, got $errs controller errors and still gets answers" ||
	diag "$tmp/bad.out" "$tmp/log"
# A fresh session (its refusal log not yet rate-limited) for the event.
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	timeout 30 $fh --unix "$tmp/muxd.sock" init send-event init >"$tmp/ev.out" 2>&1
erc=$?
grep -qx 'after-event=answers' "$tmp/bad.out" && [ "$erc" -eq 0 ] &&
	grep -q "session [0-9]* (nobody): ACL on foreign handle $h dropped" "$tmp/log" &&
	grep -q "session [0-9]* (nobody): command 0x0406 on foreign handle $h refused" "$tmp/log" &&
	grep -q "session [0-9]* (nobody): EVT packet from a host refused" "$tmp/log"
t_ok $? "foreign-handle packets and an event from the host are refused and logged, the session answers on" ||
	diag "$tmp/bad.out" "$tmp/log"

wait "$rpid"
rc=$?
[ "$rc" -eq 0 ] && grep -qx 'echoed=300' "$tmp/root.out" && grep -qx 'echoed=100' "$tmp/root.out" &&
	grep -q '^disconnected=' "$tmp/root.out"
t_ok $? "root's session is unaffected: 400 echoes intact, its link kept until it disconnects" ||
	diag "$tmp/root.out" "$tmp/log"

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/log" | diag
[ "$t_failed" -eq 0 ]
