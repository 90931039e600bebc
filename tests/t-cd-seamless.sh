#!/bin/sh
# Seamless mode end to end on loopback: bgw-muxd on `sim` (the default
# house) behind the DTLS tunnel, alice allowed two of its RDs (the BR/EDR
# speaker 10:B6:00:00:00:04, the LE sensor 10:B6:00:00:00:02) and not the
# others; bgw-cdclient --local sim:tests/cafe.house (the laptop's own radio,
# the café of tests/check_merge) with alice's bundle, exposing ONE
# controller on a Unix socket that tests/cd_host.py drives. Checks: the
# host initialises with the local radio's identity; an inquiry and an LE
# scan list the café's NDs and alice's RDs, never the forbidden ones; a
# connection and an L2CAP echo to an ND and to an RD; bgw-muxd killed
# (SIGKILL): the RD link ends with Disconnection Complete 0x08, the ND link
# still echoes; bgw-muxd back: a new host finds the RD again with no
# restart of bgw-cdclient; started while bgw-muxd is down, the café works
# alone and home joins the same host when bgw-muxd starts; a --local that cannot be opened is refused at
# start with what to do; the local controller (a bgw-sim socket) killed and
# back: a Hardware Error each time and the host initialises again; SIGTERM
# is clean.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cd_bin=$build/cdclient/bgw-cdclient
host="timeout 120 python3 $src/tests/cd_host.py"
ND=20:CA:FE:00:00:01
ND_LE=20:CA:FE:00:00:02
RD=10:B6:00:00:00:04
RD_LE=10:B6:00:00:00:02
N=16
echo "1..$N"

# The daemon reads an authdb owned by root only (authdb_load owner 0).
[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
for b in "$muxd" "$adb" "$cd_bin"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }

free_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port) || skip_all "cannot find a free port"

{
	A user add alice &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A cert issue alice --dir "$tmp/etc" --server "127.0.0.1:$port" --out "$tmp/alice.bundle" &&
	A allow alice $RD public &&
	A allow alice $RD_LE public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }

cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-cd-seamless.sh
controller sim
sim-time-scale 0.1
listen unix:$tmp/muxd.sock
listen-dtls 127.0.0.1:$port
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
resume-time 3
authdb $tmp/etc/authdb
runtime-dir $tmp
EOT

start_muxd() {
	"$muxd" -f -c "$tmp/muxd.conf" >>"$tmp/muxd.log" 2>&1 &
	mpid=$!
	pids="$pids $mpid"
}
# 1-3: started while home does not answer (bgw-muxd not running yet): the
# café works alone, and home joins the same adapter when bgw-muxd starts,
# with no new host initialisation (a Hardware Error would fail the host).
"$cd_bin" -f --local "sim:$src/tests/cafe.house" --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/h0.sock" >"$tmp/cd0.log" 2>&1 &
cd0=$!
pids="$pids $cd0"
wait_for 60 grep -q "seamless: home does not answer yet" "$tmp/cd0.log" &&
	grep -q "the devices near you work now on this adapter; home's devices join it by themselves" "$tmp/cd0.log" &&
	grep -q "If they never appear: check that bgw-muxd runs there" "$tmp/cd0.log" &&
	wait_for 10 test -S "$tmp/h0.sock" && kill -0 "$cd0"
t_ok $? "home down at start: bgw-cdclient --local stays up and says what is happening and what to do" ||
	diag "$tmp/cd0.log"
$host --unix "$tmp/h0.sock" init inquiry mark:"$tmp/w1" await:"$tmp/w2" inquiry \
	>"$tmp/h0.out" 2>"$tmp/h0.err" &
hp=$!
pids="$pids $hp"
wait_for 60 test -e "$tmp/w1"
inq=$(sed -n 's/^inquiry=//p' "$tmp/h0.out")
case " $inq " in *" $ND "*) false ;; *) true ;; esac; a=$?
case " $inq " in *" $RD "*) false ;; *) true ;; esac; b=$?
[ "$a" -eq 1 ] && [ "$b" -eq 0 ]
t_ok $? "home down: the host initialises and its inquiry lists the café's speaker alone (inquiry=$inq)" ||
	diag "$tmp/h0.out" "$tmp/h0.err" "$tmp/cd0.log"
start_muxd
wait_for 10 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$tmp/muxd.log" ||
	{ diag "$tmp/muxd.log"; echo "Bail out! bgw-muxd did not start"; exit 1; }
wait_for 90 grep -q "seamless: the gateway .* is up" "$tmp/cd0.log"
touch "$tmp/w2"
wait "$hp"
rc=$?
inq=$(sed -n 's/^inquiry=//p' "$tmp/h0.out" | tail -n 1)
case " $inq " in *" $ND "*) false ;; *) true ;; esac; a=$?
case " $inq " in *" $RD "*) false ;; *) true ;; esac; b=$?
[ "$rc" -eq 0 ] && [ "$(grep -c '^inquiry=' "$tmp/h0.out")" -eq 2 ] &&
	[ "$(grep -c '^init=ok$' "$tmp/h0.out")" -eq 1 ] && [ "$a" -eq 1 ] && [ "$b" -eq 1 ]
t_ok $? "bgw-muxd started: alice's home speaker joins the same host's next inquiry, no reset (inquiry=$inq)" ||
	{ diag "$tmp/h0.out" "$tmp/h0.err"; tail -n 30 "$tmp/cd0.log" | diag; }
kill -TERM "$cd0"
wait "$cd0"
rc0=$?

# 4: a --local that cannot be opened: refused at start, with what to do.
timeout 60 "$cd_bin" -f --local "unix:$tmp/nothing.sock" --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/bad.sock" >"$tmp/cd-bad.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q -- "error: --local unix:$tmp/nothing.sock: .*No such file or directory" "$tmp/cd-bad.log" &&
	[ ! -e "$tmp/bad.sock" ]
t_ok $? "a --local controller that cannot be opened ends bgw-cdclient (exit $rc) saying why" ||
	diag "$tmp/cd-bad.log"

# 5: seamless: the café as the laptop's own radio, home through the tunnel.
: >"$tmp/cd.log"
"$cd_bin" -f -v --local "sim:$src/tests/cafe.house" --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/h.sock" >>"$tmp/cd.log" 2>&1 &
cdp=$!
pids="$pids $cdp"
wait_for 30 grep -q "logged in as alice" "$tmp/cd.log" &&
	wait_for 10 grep -q "seamless: the gateway .* is up" "$tmp/cd.log" &&
	wait_for 10 test -S "$tmp/h.sock"
t_ok $? "bgw-cdclient --local opens the café radio and alice's gateway session" ||
	diag "$tmp/cd.log" "$tmp/muxd.log"

# 6-11: one host session: discovery, two links, the tunnel killed midway.
$host --unix "$tmp/h.sock" init inquiry lescan:3 \
	connect:$ND echo connect:$RD echo mark:"$tmp/linked" \
	expect-disc:$RD use:$ND echo >"$tmp/h1.out" 2>"$tmp/h1.err" &
hp=$!
pids="$pids $hp"
wait_for 60 test -e "$tmp/linked"
# The whole daemon at once (its monitor and the processes it forked), as
# when the gateway's host dies: nothing of it may close the session.
kids=$(ps -o pid= --ppid "$mpid")
kill -KILL "$mpid" $kids
wait "$mpid" 2>/dev/null
wait "$hp"
rc=$?

grep -q '^init=ok$' "$tmp/h1.out" && grep -q '^bdaddr=..:..:..:..:..:..$' "$tmp/h1.out"
t_ok $? "the host initialises one controller" || diag "$tmp/h1.out" "$tmp/h1.err"
inq=$(sed -n 's/^inquiry=//p' "$tmp/h1.out")
les=$(sed -n 's/^lescan=//p' "$tmp/h1.out")
case " $inq " in *" $ND "*) false ;; *) true ;; esac; a=$?
case " $inq " in *" $RD "*) false ;; *) true ;; esac; b=$?
[ "$a" -eq 1 ] && [ "$b" -eq 1 ]
t_ok $? "an inquiry lists the café's speaker and alice's home speaker (inquiry=$inq)" ||
	diag "$tmp/h1.out" "$tmp/h1.err"
ok=0
case " $les " in *" $ND_LE "*) ;; *) ok=1 ;; esac
case " $les " in *" $RD_LE "*) ;; *) ok=1 ;; esac
for f in C0:B6:00:00:00:01 10:B6:00:00:00:05; do
	case " $les $inq " in *" $f "*) ok=1 ;; esac
done
[ "$ok" -eq 0 ]
t_ok $? "an LE scan lists the café's strap and alice's sensor, not the RDs she may not use (lescan=$les)" ||
	diag "$tmp/h1.out"
[ "$(grep -c '^echo=ping$' "$tmp/h1.out")" -ge 2 ] &&
	grep -q "^connected=0x.... $ND$" "$tmp/h1.out" && grep -q "^connected=0x.... $RD$" "$tmp/h1.out"
t_ok $? "a connection and an L2CAP echo to the ND and to the RD" || diag "$tmp/h1.out" "$tmp/h1.err"
grep -qx "disc=$RD 0x08" "$tmp/h1.out"
t_ok $? "bgw-muxd killed: the RD link ends with Disconnection Complete 0x08" ||
	diag "$tmp/h1.out" "$tmp/h1.err" "$tmp/cd.log"
[ "$rc" -eq 0 ] && [ "$(grep -c '^echo=ping$' "$tmp/h1.out")" -eq 3 ] &&
	! grep -q "Hardware Error" "$tmp/h1.err"
t_ok $? "the ND link still echoes after the tunnel went down, no Hardware Error" ||
	diag "$tmp/h1.out" "$tmp/h1.err"

# 12: bgw-muxd back: a new host on the same bgw-cdclient finds the RD again.
start_muxd
wait_for 90 sh -c "[ \$(grep -c 'seamless: the gateway .* is up' '$tmp/cd.log') -ge 2 ]"
$host --unix "$tmp/h.sock" init inquiry >"$tmp/h2.out" 2>"$tmp/h2.err"
inq=$(sed -n 's/^inquiry=//p' "$tmp/h2.out")
case " $inq " in *" $RD "*) false ;; *) true ;; esac; a=$?
case " $inq " in *" $ND "*) false ;; *) true ;; esac; b=$?
[ "$a" -eq 1 ] && [ "$b" -eq 1 ] && kill -0 "$cdp"
t_ok $? "bgw-muxd back: the same bgw-cdclient lists the RD again (inquiry=$inq)" ||
	{ diag "$tmp/h2.out" "$tmp/h2.err"; tail -n 30 "$tmp/cd.log" "$tmp/muxd.log" | diag; }

# 13-14: the local controller is a bgw-sim on a socket (unix:): killed,
# the host gets a Hardware Error; back, another one, and the host
# initialises again and finds the café and home.
sim_bin=$build/sim/bgw-sim
"$sim_bin" --scenario "$src/tests/cafe.house" --unix "$tmp/near.sock" >"$tmp/sim.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait_for 10 test -S "$tmp/near.sock"
: >"$tmp/cd3.log"
"$cd_bin" -f -v --local "unix:$tmp/near.sock" --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/h3.sock" >>"$tmp/cd3.log" 2>&1 &
cd3=$!
pids="$pids $cd3"
wait_for 30 grep -q "seamless: the gateway .* is up" "$tmp/cd3.log" &&
	wait_for 10 test -S "$tmp/h3.sock"
$host --unix "$tmp/h3.sock" init mark:"$tmp/l1" expect-hwerr:30 mark:"$tmp/l2" \
	expect-hwerr:60 init inquiry >"$tmp/h3.out" 2>"$tmp/h3.err" &
hp=$!
pids="$pids $hp"
wait_for 30 test -e "$tmp/l1"
kill -KILL "$spid"
wait "$spid" 2>/dev/null
wait_for 30 test -e "$tmp/l2"
grep -q '^hwerr=' "$tmp/h3.out"
t_ok $? "the local controller lost: the host gets a Hardware Error" ||
	diag "$tmp/h3.out" "$tmp/h3.err" "$tmp/cd3.log"
rm -f "$tmp/near.sock"
"$sim_bin" --scenario "$src/tests/cafe.house" --unix "$tmp/near.sock" >>"$tmp/sim.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait "$hp"
rc=$?
inq=$(sed -n 's/^inquiry=//p' "$tmp/h3.out")
case " $inq " in *" $RD "*) false ;; *) true ;; esac; a=$?
case " $inq " in *" $ND "*) false ;; *) true ;; esac; b=$?
[ "$rc" -eq 0 ] && [ "$(grep -c '^hwerr=' "$tmp/h3.out")" -eq 2 ] &&
	[ "$(grep -c '^init=ok$' "$tmp/h3.out")" -eq 2 ] && [ "$a" -eq 1 ] && [ "$b" -eq 1 ]
t_ok $? "the local controller back: a second Hardware Error, the host initialises and finds both (inquiry=$inq)" ||
	{ diag "$tmp/h3.out" "$tmp/h3.err"; tail -n 30 "$tmp/cd3.log" | diag; }

# 15: --connect to a home controller that is not there yet (a stream
# upstream): the same wait, and it joins when it listens.
"$cd_bin" -f --local "sim:$src/tests/cafe.house" --connect "unix:$tmp/late.sock" \
	--expose "unix:$tmp/h4.sock" >"$tmp/cd4.log" 2>&1 &
cd4=$!
pids="$pids $cd4"
wait_for 30 grep -q "seamless: home does not answer yet (cannot connect to unix:$tmp/late.sock" "$tmp/cd4.log"
a=$?
"$sim_bin" --unix "$tmp/late.sock" >"$tmp/sim-late.log" 2>&1 &
pids="$pids $!"
wait_for 60 grep -q "seamless: the gateway .* is up" "$tmp/cd4.log" &&
	$host --unix "$tmp/h4.sock" init inquiry >"$tmp/h4.out" 2>"$tmp/h4.err"
rc=$?
inq=$(sed -n 's/^inquiry=//p' "$tmp/h4.out")
case " $inq " in *" $RD "*) false ;; *) true ;; esac; b=$?
[ "$a" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$b" -eq 1 ] && kill -0 "$cd4"
t_ok $? "--connect to a home socket not there yet: bgw-cdclient waits, and home joins once it listens (inquiry=$inq)" ||
	{ diag "$tmp/h4.out" "$tmp/h4.err"; tail -n 30 "$tmp/cd4.log" | diag; }

# 16: SIGTERM.
kill -TERM "$cdp" "$cd3" "$cd4"
wait "$cdp"
rc=$?
wait "$cd3"
rc3=$?
wait "$cd4"
rc4=$?
[ "$rc" -eq 0 ] && [ "$rc3" -eq 0 ] && [ "$rc0" -eq 0 ] && [ "$rc4" -eq 0 ] &&
	! grep -q Sanitizer "$tmp/cd0.log" "$tmp/cd.log" "$tmp/cd-bad.log" "$tmp/cd3.log" "$tmp/cd4.log"
t_ok $? "SIGTERM: bgw-cdclient exits 0" || { echo "# exit $rc0 $rc $rc3 $rc4"; tail -n 20 "$tmp/cd0.log" "$tmp/cd.log" "$tmp/cd3.log" "$tmp/cd4.log" | diag; }

[ "$t_failed" -eq 0 ]
