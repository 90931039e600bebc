#!/bin/sh
# bgw-muxd status and kick (man/bgw-muxd.8, "Commands"): bgw-muxd runs on
# `sim` with its DTLS listener and a local listener; alice logs in through
# bgw-cdclient with her certificate bundle, bob with his password, carol
# through the local socket by uid-map. Checks: the table and the JSON
# (valid, parsed by python3) list the three sessions with their users,
# login methods and sources, the tunnel's RTT, and alice's link after she
# connects to her RD, with the authdb's label; `kick bob` ends bob's
# session (his client is told and gives up, the audit log says who) while
# alice's goes on; a kick that matches nothing fails; a caller that is not
# root is refused, by the socket's mode and, with the mode opened up, by
# the daemon's check of its credentials.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cd_bin=$build/cdclient/bgw-cdclient
host="timeout 60 python3 $src/tests/cd_host.py"
N=13
echo "1..$N"

# The daemon reads an authdb owned by root only (authdb_load owner 0).
[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
for b in "$muxd" "$adb" "$cd_bin"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
pids=""
# running PID: the process exists and has not exited (an exited child
# stays a zombie until wait, and kill -0 still reaches a zombie).
running() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
none_running() {
	for p in $pids; do running "$p" && return 1; done
	return 0
}
# SIGTERM first: the cd_host.py hosts run under timeout(1), which passes
# TERM on to its command but dies of SIGKILL alone, leaving the host
# running on. SIGKILL only for what is still up after a bounded wait.
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	wait_for 5 none_running || for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
M() { "$muxd" -c "$tmp/muxd.conf" "$@"; }

port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
	skip_all "cannot find a free port"

pw='k9#Vm2!qLz7p-Tx5'
{
	A user add alice &&
	A user add bob &&
	A user add carol &&
	printf '%s\n' "$pw" | A passwd --stdin bob &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A cert issue alice --dir "$tmp/etc" --server "127.0.0.1:$port" --out "$tmp/alice.bundle" &&
	A allow alice 10:B6:00:00:00:04 public "Kitchen lock" &&
	A allow bob 10:B6:00:00:00:03 public &&
	A allow carol 10:B6:00:00:00:03 public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }

cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-muxd-status.sh
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
runtime-dir $tmp/run
EOT

# 1: no daemon, no status.
M status >"$tmp/none.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "not running (no control socket $tmp/run/control)" "$tmp/none.out"
t_ok $? "status without a daemon: exit 1, says it is not running" || diag "$tmp/none.out"

"$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 10 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd.log" &&
	wait_for 5 test -S "$tmp/muxd.sock" && wait_for 5 test -S "$tmp/run/control"
[ $? -eq 0 ] && [ "$(stat -c '%a %u' "$tmp/run/control")" = "600 0" ]
t_ok $? "bgw-muxd up; its control socket is root's, mode 0600" || diag "$tmp/muxd.log"

"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
	>"$tmp/cd-alice.log" 2>&1 &
pids="$pids $!"
printf '%s\n' "$pw" >"$tmp/bob.pw"
chmod 600 "$tmp/bob.pw"
"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
cdb=$!
pids="$pids $cdb"
wait_for 30 grep -q "logged in as alice" "$tmp/cd-alice.log" &&
	wait_for 30 grep -q "logged in as bob" "$tmp/cd-bob.log" &&
	wait_for 10 test -S "$tmp/alice.sock"
t_ok $? "alice (certificate) and bob (password) log in" ||
	diag "$tmp/cd-alice.log" "$tmp/cd-bob.log" "$tmp/muxd.log"

# carol, local, holds her session open; alice connects to her RD and holds
# the link; both until the test is done with them (it touches $tmp/release):
# with fixed sleeps (30 s, 50 s) a loaded machine saw alice's link end
# before the status of test 8 and carol's session before her kick.
hold="timeout 150 python3 $src/tests/cd_host.py"
$hold --unix "$tmp/muxd.sock" init await:"$tmp/release" >"$tmp/h-carol.out" 2>&1 &
pids="$pids $!"
$hold --unix "$tmp/alice.sock" init connect:10:B6:00:00:00:04 echo await:"$tmp/release" \
	>"$tmp/h-alice.out" 2>&1 &
pids="$pids $!"
wait_for 20 grep -q '^echo=ping$' "$tmp/h-alice.out" &&
	wait_for 10 grep -q "local session [0-9]* for uid [0-9]* (carol)" "$tmp/muxd.log"

# 4: the table.
M status >"$tmp/st.out" 2>"$tmp/st.err"
rc=$?
[ "$rc" -eq 0 ] &&
	grep -q '^controller sim: up, address ..:..:..:..:..:.., 3 sessions$' "$tmp/st.out" &&
	grep -Eq '^[0-9]+ +alice +certificate +\[127\.0\.0\.1\]:[0-9]+ +[0-9]+\.[0-9]ms +direct ' "$tmp/st.out" &&
	grep -Eq '^[0-9]+ +bob +password +\[127\.0\.0\.1\]:[0-9]+ +([0-9]+\.[0-9]ms|-) +direct ' "$tmp/st.out" &&
	grep -Eq "^[0-9]+ +carol +local +uid $(id -u) +- +local " "$tmp/st.out" &&
	grep -q '^      link 10:B6:00:00:00:04 br/edr handle 0x[0-9a-f]*  "Kitchen lock"  for .*  in [1-9][0-9]* B, out [1-9][0-9]* B$' "$tmp/st.out"
t_ok $? "status: three sessions with user, method, source, RTT and path; alice's link with its label and bytes" ||
	diag "$tmp/st.out" "$tmp/st.err" "$tmp/h-alice.out"

# 5: the JSON.
M status --json >"$tmp/st.json" 2>"$tmp/st.err"
rc=$?
[ "$rc" -eq 0 ] && python3 -m json.tool "$tmp/st.json" >/dev/null &&
	python3 - "$tmp/st.json" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
c = st["controller"]
assert c["transport"] == "sim" and c["state"] == "up" and c["sessions"] == 3, c
by = {s["user"]: s for s in st["sessions"]}
assert set(by) == {"alice", "bob", "carol"}, by
assert by["alice"]["method"] == "certificate" and by["bob"]["method"] == "password"
assert by["carol"]["method"] == "local" and by["carol"]["path"] == "local"
for u in ("alice", "bob"):
    s = by[u]
    assert s["path"] == "direct" and s["attached"] is True, s
    assert s["source"].startswith("[127.0.0.1]:"), s
# alice's traffic gave the tunnel RTT samples (bob, idle, may have none yet).
assert isinstance(by["alice"]["rtt_ms"], float) and by["alice"]["rtt_ms"] > 0, by["alice"]
assert by["bob"]["rtt_ms"] is None or by["bob"]["rtt_ms"] > 0, by["bob"]
assert by["carol"]["rtt_ms"] is None
(l,) = by["alice"]["links"]
assert l["address"] == "10:B6:00:00:00:04" and l["label"] == "Kitchen lock", l
assert l["kind"] == "br/edr" and l["bytes_in"] > 0 and l["bytes_out"] > 0, l
assert by["bob"]["links"] == []
EOF
t_ok $? "status --json: valid JSON with the same sessions, methods and link" ||
	diag "$tmp/st.json" "$tmp/st.err" "$tmp/h-alice.out" "$tmp/cd-alice.log"

# 6-8: kick bob; his client is told why and exits (it does not log in
# again by itself); alice goes on.
# A child that exited (a zombie until waited for) or is gone.
proc_gone() {
	s=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -z "$s" ] || [ "${s#Z}" != "$s" ]
}
bobid=$(python3 -c 'import json, sys
print([s["id"] for s in json.load(open(sys.argv[1]))["sessions"] if s["user"] == "bob"][0])' "$tmp/st.json")
M kick bob >"$tmp/kick.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q "^ended session $bobid: bob (password, from \[127.0.0.1\]:[0-9]*), 0 links disconnected$" "$tmp/kick.out"
t_ok $? "kick bob: exit 0, names the session ended" || diag "$tmp/kick.out" "$tmp/muxd.log"
wait_for 10 grep -q "tunnel session $bobid (bob) ended" "$tmp/muxd.log" &&
	wait_for 10 grep -q "session ended: ended by the gateway's admin; the gateway's admin ended this session (bgw-muxd kick)" "$tmp/cd-bob.log" &&
	wait_for 10 proc_gone "$cdb" &&
	grep -q ' session-end .*user=bob .*detail=kicked%20by%20the%20admin%20(uid%200)' "$tmp/audit.log"
t_ok $? "bob's session $bobid ends, his client is told, the audit log has the kick" ||
	diag "$tmp/muxd.log" "$tmp/cd-bob.log" "$tmp/audit.log"
M status --json >"$tmp/st2.json" 2>&1 &&
	python3 -c 'import json, sys
st = json.load(open(sys.argv[1]))
ids = [s["id"] for s in st["sessions"]]
assert int(sys.argv[2]) not in ids, ids
by = {s["user"]: s for s in st["sessions"]}
assert by["alice"]["links"][0]["address"] == "10:B6:00:00:00:04", by' "$tmp/st2.json" "$bobid" &&
	! grep -q "tunnel session [0-9]* (alice) ended" "$tmp/muxd.log"
t_ok $? "session $bobid is gone; alice's session and link stay" || diag "$tmp/st2.json" "$tmp/muxd.log"

# 9: a local session, by its number.
carolid=$(python3 -c 'import json, sys
print([s["id"] for s in json.load(open(sys.argv[1]))["sessions"] if s["user"] == "carol"][0])' "$tmp/st.json")
M kick "$carolid" >"$tmp/kick3.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q "^ended session $carolid: carol (local, from uid $(id -u)), 0 links disconnected$" "$tmp/kick3.out" &&
	wait_for 10 grep -q "session $carolid (carol) ended$" "$tmp/muxd.log" &&
	! M status | grep -Eq '^[0-9]+ +carol '
t_ok $? "kick $carolid (carol's local session, by number): it ends" || diag "$tmp/kick3.out" "$tmp/muxd.log"
touch "$tmp/release"

# 10: nothing to kick.
M kick nobody-here >"$tmp/kick2.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "no session is number or user 'nobody-here'" "$tmp/kick2.out"
t_ok $? "kick of no session: exit 1, says so" || diag "$tmp/kick2.out"

# 11-12: not root: the socket's mode, then the daemon's own check.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if command -v setpriv >/dev/null 2>&1 && nobody true 2>/dev/null; then
	chmod 755 "$tmp"
	nobody "$muxd" -c "$tmp/muxd.conf" status >"$tmp/nb.out" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "control: Permission denied: status, kick and pair are for root" "$tmp/nb.out" &&
		! grep -q alice "$tmp/nb.out"
	t_ok $? "a caller other than root cannot reach the socket (exit $rc)" || diag "$tmp/nb.out"
	chmod 666 "$tmp/run/control"
	nobody "$muxd" -c "$tmp/muxd.conf" kick alice >"$tmp/nb2.out" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "permission denied: bgw-muxd status, kick and pair are for root" "$tmp/nb2.out" &&
		grep -q "control: uid 65534 (pid [0-9]*) refused: only root may ask" "$tmp/muxd.log" &&
		M status | grep -Eq '^[0-9]+ +alice '
	t_ok $? "with the mode opened up, the daemon refuses uid 65534 itself (SO_PEERCRED)" ||
		diag "$tmp/nb2.out" "$tmp/muxd.log"
	chmod 700 "$tmp"
else
	for i in 1 2; do t_n=$((t_n + 1)); echo "ok $t_n # SKIP setpriv cannot switch to uid 65534 here"; done
fi

# 13: a clean stop removes the control socket.
[ "$(cat "$tmp/run/bgw-muxd.pid")" = "$mpid" ] && kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! test -e "$tmp/run/control" &&
	! grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$tmp/muxd.log"
t_ok $? "SIGTERM: exit 0 (exit $rc), the control socket removed, no sanitizer report" || diag "$tmp/muxd.log"
[ "$t_failed" -eq 0 ]
