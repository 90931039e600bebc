#!/bin/sh
# bgw-muxd on the simulated controller with its local Unix listener: the
# configuration check, two local clients of two users at once (each sees
# and reaches only its own devices on the one physical controller), a uid
# that is no authdb user refused, SIGHUP with a broken authdb keeping the
# last good one, and a clean SIGTERM; then the unix: controller transport
# (bgw-sim --unix standing in for btvirt -s) dropping and coming back.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..15"
muxd="$BGW_BUILDDIR/muxd/bgw-muxd"
client="$BGW_BUILDDIR/tests/sim-client"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	i=1
	while [ $i -le 15 ]; do echo "ok $i # SKIP needs root and setpriv"; i=$((i + 1)); done
	exit 0
fi
tmp=$(mktemp -d)
chmod 755 "$tmp"
sock="$tmp/muxd.sock"
pid=""
simpid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$simpid" ] && kill "$simpid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/authdb" <<EOT
user root
user nobody
allow root 10:B6:00:00:00:04 public
allow nobody 10:B6:00:00:00:03 public
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-mux-daemon.sh
controller sim
listen unix:$sock
authdb $tmp/authdb
runtime-dir $tmp
socket-mode 0666
sim-time-scale 0.01
max-sessions 4
EOT

"$muxd" -h 2>&1 | grep -q "^usage: bgw-muxd \[-dfhtV\] \[-c config_file\]$" &&
	"$muxd" --version | grep -qx "bgw-muxd (bgw) [0-9][0-9.a-z~-]*"
t_ok $? "bgw-muxd -h prints the usage, --version the version"

"$muxd" -t -c "$tmp/muxd.conf" >"$tmp/t.out" 2>&1 && grep -q "configuration OK" "$tmp/t.out"
t_ok $? "-t accepts a good configuration"

printf 'controller sim\nlisten unix:%s\nbogus 1\nauthdb %s\n' "$sock" "$tmp/authdb" >"$tmp/bad.conf"
"$muxd" -t -c "$tmp/bad.conf" >"$tmp/bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad.conf:3: unknown keyword: 'bogus'" "$tmp/bad.out"
t_ok $? "-t names the file and line of an error (status $rc)" || sed 's/^/# /' "$tmp/bad.out"

printf 'controller sim\nlisten unix:%s\n' "$sock" >"$tmp/noauth.conf"
"$muxd" -t -c "$tmp/noauth.conf" >"$tmp/noauth.out" 2>&1
[ $? -eq 2 ] && grep -q "no authdb" "$tmp/noauth.out"
t_ok $? "no authdb line: refused, never allow-all"

"$muxd" -f -c "$tmp/muxd.conf" 2>"$tmp/log" &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$sock" ]
t_ok $? "bgw-muxd listens on $sock" || sed 's/^/# /' "$tmp/log"

timeout 60 "$client" "$sock" >"$tmp/root.out" 2>&1 &
c1=$!
timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$client" "$sock" >"$tmp/nobody.out" 2>&1
r2=$?
wait $c1
r1=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ]
t_ok $? "two users at once: reset, inquiry, connect, echo, disconnect" ||
	sed 's/^/# /' "$tmp/root.out" "$tmp/nobody.out" "$tmp/log"

grep -q "found 10:B6:00:00:00:04" "$tmp/root.out" &&
	! grep -q "found 10:B6:00:00:00:03" "$tmp/root.out" &&
	grep -q "found 10:B6:00:00:00:03" "$tmp/nobody.out" &&
	! grep -q "found 10:B6:00:00:00:04" "$tmp/nobody.out"
t_ok $? "each user sees exactly the devices the authdb allows it"

[ "$(grep controller "$tmp/root.out")" = "$(grep controller "$tmp/nobody.out")" ]
t_ok $? "both virtual controllers are the one physical controller"

timeout 20 setpriv --reuid=12345 --regid=12345 --clear-groups \
	"$client" "$sock" >"$tmp/stranger.out" 2>&1
[ $? -ne 0 ] && grep -q "uid 12345 refused" "$tmp/log"
t_ok $? "a uid that is no authdb user is refused" || sed 's/^/# /' "$tmp/log"

echo "user root root" >"$tmp/authdb.new" && chmod 600 "$tmp/authdb.new"
cp "$tmp/authdb" "$tmp/authdb.good"
mv "$tmp/authdb.new" "$tmp/authdb"
kill -HUP $pid
sleep 0.3
cp "$tmp/authdb.good" "$tmp/authdb"
timeout 60 "$client" "$sock" >"$tmp/again.out" 2>&1 &&
	grep -q "authdb .* refused" "$tmp/log" && kill -0 $pid
t_ok $? "SIGHUP with a broken authdb keeps the last good table" || sed 's/^/# /' "$tmp/log"

# A zero-length authdb (a truncated file) is refused like a corrupt one:
# before, it loaded as "0 users" and every session ended without a word.
: >"$tmp/authdb.new" && chmod 600 "$tmp/authdb.new"
mv "$tmp/authdb.new" "$tmp/authdb"
kill -HUP $pid
i=0
while ! grep -q "authdb $tmp/authdb refused: .*authdb:1: empty file" "$tmp/log" && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1))
done
timeout 60 "$client" "$sock" >"$tmp/empty.out" 2>&1 &&
	grep -q "found 10:B6:00:00:00:04" "$tmp/empty.out" && kill -0 $pid
t_ok $? "an empty authdb is refused (line-numbered) and the last good table stays" ||
	sed 's/^/# /' "$tmp/log" "$tmp/empty.out"
cp "$tmp/authdb.good" "$tmp/authdb"
sleep 0.5

# A new authdb renamed into place (as bgw-authdb writes it) is picked up
# without a signal: root now has the bulb instead of the speaker.
sed 's/allow root 10:B6:00:00:00:04/allow root 10:B6:00:00:00:03/' "$tmp/authdb.good" >"$tmp/authdb.tmp"
chmod 600 "$tmp/authdb.tmp"
mv "$tmp/authdb.tmp" "$tmp/authdb"
i=0
while ! grep -q "authdb changed: reloading" "$tmp/log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
timeout 60 "$client" "$sock" >"$tmp/watched.out" 2>&1
grep -q "authdb changed: reloading" "$tmp/log" &&
	grep -q "found 10:B6:00:00:00:03" "$tmp/watched.out" &&
	! grep -q "found 10:B6:00:00:00:04" "$tmp/watched.out"
t_ok $? "an authdb renamed into place is reloaded without SIGHUP (inotify)" ||
	sed 's/^/# /' "$tmp/log" "$tmp/watched.out"
cp "$tmp/authdb.good" "$tmp/authdb"
sleep 0.5

kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
wait $pid
rc=$?
pid=""
[ $rc -eq 0 ] && [ ! -e "$sock" ]
t_ok $? "SIGTERM: clean exit (status $rc), socket removed" || sed 's/^/# /' "$tmp/log"

# The controller over H4 on a Unix socket.
sim="$BGW_BUILDDIR/sim/bgw-sim"
simsock="$tmp/sim.sock"
sed "s|^controller sim|controller unix:$simsock|" "$tmp/muxd.conf" >"$tmp/unix.conf"
"$sim" --unix "$simsock" --time-scale 0.01 2>"$tmp/sim.log" &
simpid=$!
i=0
while [ ! -S "$simsock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$muxd" -f -c "$tmp/unix.conf" 2>"$tmp/log2" &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
timeout 60 "$client" "$sock" >"$tmp/u1.out" 2>&1 && grep -q "echo ok 10:B6:00:00:00:04" "$tmp/u1.out"
t_ok $? "controller unix: (H4 socket): a client works through it" ||
	sed 's/^/# /' "$tmp/u1.out" "$tmp/log2"

kill $simpid
wait $simpid 2>/dev/null
"$sim" --unix "$simsock" --time-scale 0.01 2>>"$tmp/sim.log" &
simpid=$!
i=0
while ! grep -q "ready" "$tmp/log2" 2>/dev/null || [ "$(grep -c ready "$tmp/log2")" -lt 2 ]; do
	[ $i -ge 150 ] && break
	sleep 0.1
	i=$((i + 1))
done
timeout 60 "$client" "$sock" >"$tmp/u2.out" 2>&1 &&
	grep -q "echo ok 10:B6:00:00:00:04" "$tmp/u2.out" && grep -q "controller .* lost" "$tmp/log2"
t_ok $? "the controller socket drops and returns: reopened, a client works again" ||
	sed 's/^/# /' "$tmp/u2.out" "$tmp/log2"
kill -TERM $pid $simpid
wait $pid $simpid 2>/dev/null
pid="" simpid=""
[ $t_failed -eq 0 ]
