#!/bin/bash
# Wrong-password attempts against bob over the TLS listener from
# 127.0.0.2 (tests/login_flood.py: a fresh connection per attempt, as an
# attacker makes them), BGW_LOGIN_FLOOD of them (default 500, about 25 s
# here; the figures of a 10 000 run are in tests/fuzz/README.md).
# Asserted: the password is
# checked only a handful of times (3 free attempts per source, then a
# doubling block), the rest are refused as rate limited, and the daemon
# log and the audit log say so; then the real bob logs in with
# bgw-cdclient from 127.0.0.1 (elsewhere), where he had logged in before
# the attack: the per-user limit does not apply to a source the user
# logged in from, so his first attempt is not rate limited.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=7
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
count=${BGW_LOGIN_FLOOD:-500}
secs=$(( count / 10 > 240 ? count / 10 : 240 ))	# bound on the flood's time

gw_setup "$tmp/audit.log"
muxd_start "$tmp/muxd.log" && wait_for 10 grep -q "tunnel: TLS on 127.0.0.1 port $tport" "$tmp/muxd.log"
t_ok $? "bgw-muxd listens on DTLS $port and TLS $tport" || { diag "$tmp/muxd.log"; exit 1; }

# bob's usual place: one login from 127.0.0.1 before the attack.
"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob0.sock" >"$tmp/cd-bob0.log" 2>&1 &
bpid=$!
pids="$pids $bpid"
wait_for 20 grep -q "logged in as bob" "$tmp/cd-bob0.log"
t_ok $? "bob logs in from 127.0.0.1 before the attack" || diag "$tmp/cd-bob0.log"
kill -TERM "$bpid"
wait "$bpid" 2>/dev/null

timeout $((secs + 60)) python3 "$src/tests/login_flood.py" 127.0.0.2 127.0.0.1 "$tport" bob "$count" "$secs" \
	>"$tmp/flood.out" 2>&1
echo "# $(cat "$tmp/flood.out")"
get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$tmp/flood.out"; }
att=$(get attempts) chk=$(get checked) lim=$(get limited)
[ "${att:-0}" -eq "$count" ] && [ "${chk:-99}" -le 12 ] && [ "${lim:-0}" -ge $((count - 12)) ]
t_ok $? "$att attempts: the password checked $chk times, $lim refused as rate limited" ||
	diag "$tmp/flood.out" "$tmp/muxd.log"

nlim=$(grep -c "tunnel: login as 'bob' from 127.0.0.2 refused: rate limited" "$tmp/muxd.log")
alim=$(grep -c ' login-limited .*user=bob .*src=127.0.0.2' "$tmp/audit.log")
afail=$(grep -c ' login-fail .*user=bob .*src=127.0.0.2' "$tmp/audit.log")
[ "$nlim" -ge $((count - 12)) ] && [ "$alim" -ge $((count - 12)) ] && [ "$afail" -eq "$chk" ]
t_ok $? "the daemon log ($nlim) and the audit log ($alim limited, $afail failed) record it" ||
	tail -5 "$tmp/muxd.log" | diag

"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
bpid=$!
pids="$pids $bpid"
t0=$(date +%s)
wait_for 50 grep -q "logged in as bob" "$tmp/cd-bob.log"
t_ok $? "the real bob logs in from 127.0.0.1 (after $(( $(date +%s) - t0 )) s)" ||
	{ diag "$tmp/cd-bob.log"; tail -5 "$tmp/muxd.log" | diag; }
! grep -q "login as 'bob' from 127.0.0.1 refused: rate limited" "$tmp/muxd.log"
t_ok $? "the real bob's attempt from his usual place is not rate limited" ||
	grep "refused: rate limited" "$tmp/muxd.log" | grep -v 127.0.0.2 | diag
kill -TERM "$bpid"
wait "$bpid" 2>/dev/null

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/muxd.log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/muxd.log" | diag
[ "$t_failed" -eq 0 ]
