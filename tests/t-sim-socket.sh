#!/bin/sh
# bgw-sim --unix serves the default house to a host over H4: sim-client
# initialises it, finds the BR/EDR devices and l2cap-echoes one; two hosts
# at once get two controllers; SIGTERM stops bgw-sim cleanly.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..7"
tmp=$(mktemp -d)
sock="$tmp/sim.sock"
sim="$BGW_BUILDDIR/sim/bgw-sim"
client="$BGW_BUILDDIR/tests/sim-client"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

"$sim" --help >"$tmp/help" 2>&1 && grep -q "^usage: bgw-sim" "$tmp/help"
t_ok $? "bgw-sim --help prints the usage"

"$sim" --unix "$sock" --time-scale 0.01 --btsnoop "$tmp/trace" 2>"$tmp/log" &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$sock" ]
t_ok $? "bgw-sim listens on $sock" || cat "$tmp/log" | sed 's/^/# /'

timeout 30 "$client" "$sock" >"$tmp/out1" 2>&1
t_ok $? "sim-client: reset, inquiry, connect, echo, disconnect" || sed 's/^/# /' "$tmp/out1"
grep -q "found 10:B6:00:00:00:04" "$tmp/out1" && grep -q "found 10:B6:00:00:00:03" "$tmp/out1"
t_ok $? "inquiry found the speaker and the bulb"

timeout 30 "$client" "$sock" >"$tmp/out2" 2>&1 &
c2=$!
timeout 30 "$client" "$sock" >"$tmp/out3" 2>&1
r3=$?
wait $c2
r2=$?
[ $r2 -eq 0 ] && [ $r3 -eq 0 ] &&
	[ "$(grep controller "$tmp/out2")" != "$(grep controller "$tmp/out3")" ]
t_ok $? "two hosts at once get two controllers" || sed 's/^/# /' "$tmp/out2" "$tmp/out3"

kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
wait $pid
rc=$?
pid=""
[ $rc -eq 0 ] && [ ! -e "$sock" ]
t_ok $? "SIGTERM: clean exit (status $rc), socket removed" || sed 's/^/# /' "$tmp/log"

if command -v btmon >/dev/null 2>&1; then
	timeout 20 btmon -r "$tmp/trace" >"$tmp/btmon" 2>&1 &&
		grep -q "Inquiry Result with RSSI" "$tmp/btmon" &&
		grep -q "L2CAP: Echo Response" "$tmp/btmon"
	t_ok $? "btmon decodes the --btsnoop trace"
else
	echo "ok 7 # SKIP btmon not installed"
fi
