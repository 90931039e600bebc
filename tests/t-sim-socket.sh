#!/bin/sh
# bgw-sim --unix serves the default house to a host over H4: sim-client
# initialises it, finds the BR/EDR devices and l2cap-echoes one; two hosts
# at once get two controllers; SIGTERM stops bgw-sim cleanly.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..11"
tmp=$(mktemp -d)
sock="$tmp/sim.sock"
sim="$BGW_BUILDDIR/sim/bgw-sim"
client="$BGW_BUILDDIR/tests/sim-client"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

"$sim" --help >"$tmp/help" 2>&1 && grep -q "^usage: bgw-sim" "$tmp/help"
t_ok $? "bgw-sim --help prints the usage"
grep -q -- "--time-scale X  *simulated time" "$tmp/help" && grep -q -- "--vhci\[=N\]  *N controllers" "$tmp/help"
t_ok $? "bgw-sim --help says what each option does" || diag "$tmp/help"
"$sim" --version >"$tmp/version" 2>&1 && grep -qx 'bgw-sim (bgw) [0-9][0-9.]*[^ ]*' "$tmp/version"
t_ok $? "bgw-sim --version prints 'bgw-sim (bgw) VERSION', as every bgw program" || diag "$tmp/version"

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

# TCP on the loopback, a scenario file with a bad line, then a good one.
port=$((20000 + $$ % 20000))
printf 'device x\n address 10:B6:00:00:00:99\n type bredr\n rssi loud\n' >"$tmp/bad.house"
"$sim" --scenario "$tmp/bad.house" --unix "$tmp/unused" >"$tmp/bad.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "bad.house:4: bad rssi 'loud'" "$tmp/bad.out"
t_ok $? "a bad scenario line: exit 1 with FILE:LINE naming the value" || sed 's/^/# /' "$tmp/bad.out"

printf 'device radio\n address 10:B6:00:00:00:99\n type bredr\n' >"$tmp/one.house"
"$sim" --scenario "$tmp/one.house" --tcp "127.0.0.1:$port" --time-scale 0.01 2>"$tmp/tcp.log" &
tpid=$!
ok=1
i=0
while [ $i -lt 50 ]; do
	if timeout 30 "$client" "127.0.0.1:$port" >"$tmp/out4" 2>&1; then ok=0; break; fi
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $tpid 2>/dev/null
wait $tpid
[ $ok -eq 0 ] && grep -q "echo ok 10:B6:00:00:00:99" "$tmp/out4"
t_ok $? "--tcp 127.0.0.1:$port with a scenario file serves its device" || sed 's/^/# /' "$tmp/out4" "$tmp/tcp.log"

if command -v btmon >/dev/null 2>&1; then
	timeout 20 btmon -r "$tmp/trace" >"$tmp/btmon" 2>&1 &&
		grep -q "Inquiry Result with RSSI" "$tmp/btmon" &&
		grep -q "L2CAP: Echo Response" "$tmp/btmon"
	t_ok $? "btmon decodes the --btsnoop trace"
else
	echo "ok 9 # SKIP btmon not installed"
fi
