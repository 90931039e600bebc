#!/bin/bash
# bgw-cdclient's start as a user meets it, against the stand-in gateway
# (tests/cd-tunnel-gw) on loopback: without -f it stays in the foreground
# until the session is up, shows its progress, prints what it exposes and
# exits 0 once it has detached (the daemon serves on); each failure (wrong
# password, wrong CA, revoked certificate bundle, nothing listening, a name
# that does not resolve) is one line saying what happened once and what to
# do, with its own exit status, within a bounded time; a gateway serving
# TLS over TCP only is reached through a bundle naming it without --tls,
# and the client says it uses TLS; --server overrides the bundle's server;
# --dtls forces DTLS; with -f it tells systemd READY=1 (sd_notify).
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
cd_bin=$build/cdclient/bgw-cdclient
sim_bin=$build/sim/bgw-sim
gw_bin=$build/tests/cd-tunnel-gw
host="timeout 60 python3 $src/tests/cd_host.py"
N=15
echo "1..$N"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
command -v certtool >/dev/null 2>&1 || skip_all "certtool not installed (Debian: gnutls-bin)"
for b in "$cd_bin" "$sim_bin" "$gw_bin"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/pki" "$tmp/other"
sh "$src/tests/tunnel_certs.sh" "$tmp/pki" >/dev/null 2>&1 &&
	sh "$src/tests/tunnel_certs.sh" "$tmp/other" >/dev/null 2>&1 ||
	skip_all "cannot make test certificates"
"$sim_bin" --unix "$tmp/sim.sock" --time-scale 0.1 >"$tmp/sim.log" 2>&1 &
pids="$pids $!"
wait_for 10 test -S "$tmp/sim.sock" || skip_all "bgw-sim did not start"
"$gw_bin" "$tmp/pki" dtls "$tmp/sim.sock" >"$tmp/gw.out" 2>"$tmp/gw.err" &
pids="$pids $!"
"$gw_bin" "$tmp/pki" tls "$tmp/sim.sock" >"$tmp/gwt.out" 2>"$tmp/gwt.err" &
pids="$pids $!"
wait_for 10 grep -q '^port ' "$tmp/gw.out" && wait_for 10 grep -q '^port ' "$tmp/gwt.out" ||
	{ diag "$tmp/gw.err" "$tmp/gwt.err"; skip_all "the test gateways did not start"; }
port=$(awk '/^port/ { print $2 }' "$tmp/gw.out")
tport=$(awk '/^port/ { print $2 }' "$tmp/gwt.out")
# A port where nothing answers, held for the whole script: TCP bound but
# not listening (a connection is refused), UDP bound and never read (a
# datagram gets no answer, not even ICMP). Found and closed at once, as it
# was, another test's port 0 under make -j could take it meanwhile.
python3 -c '
import socket, sys, time
for _ in range(50):
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", t.getsockname()[1]))
    except OSError:
        t.close(); u.close(); continue
    print(t.getsockname()[1], flush=True)
    time.sleep(600)
    break
sys.exit(1)' >"$tmp/closed" 2>&1 &
pids="$pids $!"
wait_for 10 test -s "$tmp/closed" || skip_all "no port to hold closed"
closed=$(cat "$tmp/closed")

printf 'correct horse battery\n' >"$tmp/pw"
printf 'wrong horse\n' >"$tmp/bad"
chmod 600 "$tmp/pw" "$tmp/bad"

# run_cd NAME SECONDS ARGS...: bgw-cdclient without -f, output in NAME.log,
# exit status in $rc, seconds taken in $secs; bounded by SECONDS.
run_cd() {
	local name=$1 lim=$2 t0
	shift 2
	t0=$(date +%s)
	timeout "$lim" "$cd_bin" "$@" >"$tmp/$name.log" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - t0 ))
}
# one_error NAME: exactly one error line, and nothing said twice in it.
one_error() {
	local line
	[ "$(grep -c 'error: ' "$tmp/$1.log")" -eq 1 ] || return 1
	line=$(grep 'error: ' "$tmp/$1.log")
	! echo "$line" | grep -q "giving up" &&
		[ "$(echo "$line" | grep -o "$2" | wc -l)" -eq 1 ]
}

# 1-3: success without -f: progress, what is exposed, exit 0 after
# detaching; the daemon serves the socket.
run_cd ok 30 --server "127.0.0.1:$port" --user erin --ca "$tmp/pki/ca.crt" \
	--password-file "$tmp/pw" --expose "unix:$tmp/h1.sock"
dpid=$(sed -n 's/.*running in the background (pid \([0-9]*\)).*/\1/p' "$tmp/ok.log")
[ -n "$dpid" ] && pids="$pids $dpid"
[ "$rc" -eq 0 ] && grep -q "connecting to 127.0.0.1:$port over DTLS" "$tmp/ok.log" &&
	grep -q "DTLS1.2 handshake with 127.0.0.1 port $port done" "$tmp/ok.log" &&
	grep -q "logged in as erin" "$tmp/ok.log"
t_ok $? "without -f: progress on the terminal (connecting, handshake, logged in), exit $rc" ||
	diag "$tmp/ok.log"
grep -q "ready: dtls:127.0.0.1:$port as erin; socket unix:$tmp/h1.sock" "$tmp/ok.log"
t_ok $? "it says what it exposes before it detaches" || diag "$tmp/ok.log"
[ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null &&
	$host --unix "$tmp/h1.sock" init >"$tmp/h1.out" 2>&1 && grep -q '^init=ok' "$tmp/h1.out"
t_ok $? "the detached daemon (pid ${dpid:-?}) serves its exposure" || diag "$tmp/h1.out"
[ -z "$dpid" ] || kill "$dpid" 2>/dev/null

# 4: a wrong password.
run_cd badpw 30 --server "127.0.0.1:$port" --user erin --ca "$tmp/pki/ca.crt" \
	--password-file "$tmp/bad" --expose "unix:$tmp/h2.sock"
[ "$rc" -eq 1 ] && [ "$secs" -le 15 ] && one_error badpw "login failed" &&
	grep -q "error: login failed: wrong user name or password; check the password of erin, or ask the admin to set a new one: bgw-authdb passwd erin$" "$tmp/badpw.log" &&
	[ ! -e "$tmp/h2.sock" ]
t_ok $? "wrong password: one line with advice, exit $rc after $secs s" || diag "$tmp/badpw.log"

# 5: the wrong CA (another gateway's).
run_cd badca 30 --server "127.0.0.1:$port" --user erin --ca "$tmp/other/ca.crt" \
	--password-file "$tmp/pw" --expose "unix:$tmp/h3.sock"
[ "$rc" -eq 4 ] && [ "$secs" -le 15 ] && one_error badca "pinned CA" &&
	grep -q "error: 127.0.0.1 port $port: server certificate not issued by the pinned CA; .* check --server, and that --ca is the gateway's ca.crt" "$tmp/badca.log"
t_ok $? "wrong CA: one line with advice, exit $rc after $secs s" || diag "$tmp/badca.log"

# 6: a revoked certificate bundle (the stand-in gateway revokes bob's).
"$gw_bin" bundle "$tmp/pki" bob "127.0.0.1:$port" "$tmp/bob.bundle" 2>"$tmp/bundle.err"
run_cd revoked 30 --bundle "$tmp/bob.bundle" --expose "unix:$tmp/h4.sock"
[ "$rc" -eq 1 ] && [ "$secs" -le 15 ] && one_error revoked "revoked" &&
	grep -q "error: client certificate revoked; ask the admin for a new bundle: bgw-authdb cert issue bob --server 127.0.0.1:$port --out bob.bundle$" "$tmp/revoked.log"
t_ok $? "revoked bundle: one line with advice, exit $rc after $secs s" ||
	diag "$tmp/bundle.err" "$tmp/revoked.log"

# 7: nothing listens there (UDP no answer, TCP refused).
run_cd unreach 40 --server "127.0.0.1:$closed" --user erin --ca "$tmp/pki/ca.crt" \
	--password-file "$tmp/pw" --expose "unix:$tmp/h5.sock"
# One attempt (one "connecting to", ended by the 10 s DTLS handshake
# bound), not a retry: said by the log, not the clock, which a loaded
# machine stretched past the 15 s this once allowed.
[ "$rc" -eq 3 ] && [ "$secs" -le 30 ] && one_error unreach "cannot reach" &&
	[ "$(grep -c "connecting to 127.0.0.1:$closed " "$tmp/unreach.log")" -eq 1 ] &&
	grep -q "error: cannot reach 127.0.0.1 port $closed (.*DTLS over UDP: no answer.*); check that bgw-muxd runs there" "$tmp/unreach.log" &&
	grep -q "TLS over TCP: Connection refused" "$tmp/unreach.log"
t_ok $? "unreachable server: one line with advice, exit $rc after $secs s" || diag "$tmp/unreach.log"

# 8: a name that does not resolve.
run_cd noname 30 --server "no-such-gateway.invalid" --user erin --ca "$tmp/pki/ca.crt" \
	--password-file "$tmp/pw" --expose "unix:$tmp/h6.sock"
[ "$rc" -eq 3 ] && [ "$secs" -le 15 ] && one_error noname "resolve" &&
	grep -q "error: cannot resolve 'no-such-gateway.invalid': .*; check the gateway's name" "$tmp/noname.log"
t_ok $? "unresolvable name: one line with advice, exit $rc after $secs s" || diag "$tmp/noname.log"

# 9-10: a gateway on TLS over TCP only, through a bundle naming it, without
# --tls: DTLS gets no answer, TLS is tried after 1 s and used, and said.
"$gw_bin" bundle "$tmp/pki" alice "127.0.0.1:$tport" "$tmp/alice-tls.bundle" 2>"$tmp/bundle.err"
"$cd_bin" -f --bundle "$tmp/alice-tls.bundle" --expose "unix:$tmp/h7.sock" >"$tmp/tls.log" 2>&1 &
cdt=$!
pids="$pids $cdt"
wait_for 20 grep -q "ready: tls:127.0.0.1:$tport as alice" "$tmp/tls.log" &&
	grep -q "trying TLS over TCP as well" "$tmp/tls.log" &&
	grep -q "using TLS over TCP: DTLS over UDP got no answer" "$tmp/tls.log"
t_ok $? "a TLS-only gateway is reached without --tls, and the client says it uses TLS" ||
	diag "$tmp/bundle.err" "$tmp/tls.log"
$host --unix "$tmp/h7.sock" init >"$tmp/h7.out" 2>&1 && grep -q '^init=ok' "$tmp/h7.out"
t_ok $? "a host works through the TLS fallback" || diag "$tmp/h7.out"
kill "$cdt" 2>/dev/null

# 11: --server overrides a bundle's server (this one names a closed port).
"$gw_bin" bundle "$tmp/pki" alice "127.0.0.1:$closed" "$tmp/alice-old.bundle" 2>"$tmp/bundle.err"
run_cd override 30 --bundle "$tmp/alice-old.bundle" --server "127.0.0.1:$port" \
	--expose "unix:$tmp/h8.sock"
dpid=$(sed -n 's/.*running in the background (pid \([0-9]*\)).*/\1/p' "$tmp/override.log")
[ -z "$dpid" ] || kill "$dpid" 2>/dev/null
[ "$rc" -eq 0 ] && grep -q "ready: dtls:127.0.0.1:$port as alice" "$tmp/override.log"
t_ok $? "--server overrides the bundle's server (exit $rc)" || diag "$tmp/override.log"

# 12: --dtls forces DTLS: the TLS-only gateway is not reached.
run_cd dtlsonly 30 --dtls --bundle "$tmp/alice-tls.bundle" --expose "unix:$tmp/h9.sock"
[ "$rc" -eq 3 ] && one_error dtlsonly "cannot reach" && ! grep -q "TLS over TCP" "$tmp/dtlsonly.log"
t_ok $? "--dtls: no TLS fallback (exit $rc after $secs s)" || diag "$tmp/dtlsonly.log"

# 13: usage: --dtls with --tls, --ca with --bundle.
"$cd_bin" --dtls --tls --bundle "$tmp/alice-tls.bundle" >"$tmp/u1.log" 2>&1
rc1=$?
"$cd_bin" --bundle "$tmp/alice-tls.bundle" --ca "$tmp/pki/ca.crt" >"$tmp/u2.log" 2>&1
rc2=$?
[ "$rc1" -eq 2 ] && [ "$rc2" -eq 2 ] && grep -q "exclude each other" "$tmp/u1.log" &&
	grep -q "not with --bundle" "$tmp/u2.log"
t_ok $? "usage errors exit 2 with a reason" || diag "$tmp/u1.log" "$tmp/u2.log"

# 14: --connect to a socket nobody serves: one line, exit 3.
run_cd noconn 30 --connect "unix:$tmp/nobody.sock" --expose "unix:$tmp/h11.sock"
[ "$rc" -eq 3 ] && one_error noconn "cannot connect" &&
	grep -q "error: cannot connect to unix:$tmp/nobody.sock: No such file or directory; check that" "$tmp/noconn.log"
t_ok $? "--connect with nobody serving: one line with advice, exit $rc" || diag "$tmp/noconn.log"

# 15: -f under systemd (Type=notify): READY=1 with the session's STATUS,
# through the NOTIFY_SOCKET systemd would give it.
python3 - "$tmp/notify.sock" >"$tmp/notify.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.monotonic() + 20
while time.monotonic() < end:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        continue
    print(m.replace("\n", " | "), flush=True)
    if "READY=1" in m:
        break
PY
np=$!
wait_for 5 test -S "$tmp/notify.sock"
NOTIFY_SOCKET="$tmp/notify.sock" "$cd_bin" -f --server "127.0.0.1:$port" --user erin \
	--ca "$tmp/pki/ca.crt" --password-file "$tmp/pw" --expose "unix:$tmp/h10.sock" \
	>"$tmp/notify.log" 2>&1 &
cdn=$!
pids="$pids $cdn"
wait $np
kill "$cdn" 2>/dev/null
grep -q "STATUS=connecting to 127.0.0.1:$port" "$tmp/notify.out" &&
	grep -q "READY=1 | STATUS=up: dtls:127.0.0.1:$port as erin; socket unix:$tmp/h10.sock" "$tmp/notify.out"
t_ok $? "-f: sd_notify READY=1 and STATUS once the session is up" ||
	diag "$tmp/notify.out" "$tmp/notify.log"

[ "$t_failed" -eq 0 ]
