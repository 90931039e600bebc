#!/bin/bash
# A flood of spoofed DTLS ClientHellos -- without a cookie and with a
# wrong one, from 250 loopback addresses and 10 000 source ports
# (tests/hello_flood.py) -- is answered statelessly with
# HelloVerifyRequests and allocates no per-client state in bgw-muxd: the
# open descriptors of its processes do not change and its resident memory grows by less
# than a bound (1 KiB per hello would be 10 MB; the bound is 3 MB, for
# allocator and sanitizer noise), and it logs nothing per hello. A real
# client then still logs in.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=5
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"

gw_setup "$tmp/audit.log"
muxd_start "$tmp/muxd.log"
t_ok $? "bgw-muxd listens on DTLS port $port" || { diag "$tmp/muxd.log"; exit 1; }

# bgw-muxd and its children (the core, the network front and the peers,
# of which a spoofed hello makes none).
tree() { echo "$mpid" $(pgrep -P "$mpid"); }
rss() { for p in $(tree); do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status"; done | awk '{ s += $1 } END { print s }'; }
fds() { for p in $(tree); do ls "/proc/$p/fd"; done | wc -l; }
flood="timeout 150 python3 $src/tests/hello_flood.py 127.0.0.1 $port"

# Warm up (allocator pools, GnuTLS lazily set up), then measure.
$flood 1000 >"$tmp/warm.out" 2>&1
r0=$(rss) f0=$(fds) l0=$(wc -l <"$tmp/muxd.log")
$flood 10000 >"$tmp/nocookie.out" 2>&1
$flood 10000 wrong-cookie >"$tmp/wrong.out" 2>&1
r1=$(rss) f1=$(fds) l1=$(wc -l <"$tmp/muxd.log")
hvr1=$(sed -n 's/.*hvr=\([0-9]*\).*/\1/p' "$tmp/nocookie.out")
hvr2=$(sed -n 's/.*hvr=\([0-9]*\).*/\1/p' "$tmp/wrong.out")
echo "# RSS ${r0} kB -> ${r1} kB, fds $f0 -> $f1; HelloVerifyRequests $hvr1 and $hvr2 of 10000 each"
[ "${hvr1:-0}" -ge 9000 ] && [ "${hvr2:-0}" -ge 9000 ]
t_ok $? "ClientHellos without or with a wrong cookie get HelloVerifyRequests ($hvr1, $hvr2 of 10000)" ||
	diag "$tmp/nocookie.out" "$tmp/wrong.out"
[ "$f1" -eq "$f0" ] && [ $((r1 - r0)) -lt 3072 ] && [ $((l1 - l0)) -lt 20 ]
t_ok $? "20 000 hellos allocate no per-client state (RSS +$((r1 - r0)) kB, fds $f0 -> $f1, $((l1 - l0)) log lines)" ||
	tail -20 "$tmp/muxd.log" | diag

: >"$tmp/cd-alice.log"
"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" >"$tmp/cd-alice.log" 2>&1 &
cpid=$!
pids="$pids $cpid"
wait_for 30 grep -q "logged in as alice" "$tmp/cd-alice.log"
t_ok $? "a real client still logs in after the flood" || diag "$tmp/cd-alice.log" "$tmp/muxd.log"
kill -TERM "$cpid"

kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/muxd.log"
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc), no sanitizer report" || tail -20 "$tmp/muxd.log" | diag
[ "$t_failed" -eq 0 ]
