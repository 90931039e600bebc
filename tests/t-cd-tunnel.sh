#!/bin/bash
# bgw-cdclient through the DTLS tunnel: a stand-in gateway
# (tests/cd-tunnel-gw: the tunnel server bridging each session to its own
# bgw-sim controller) on loopback. Password login (--server --user --ca
# --password-file) and certificate login (--bundle, written by authdb's
# own bundle writer) both carry a scripted host session; a wrong password
# ends bgw-cdclient with exit 1 instead of retrying; --tls carries the same
# host session over the TLS-over-TCP tunnel; SIGTERM is clean.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
cd_bin=$build/cdclient/bgw-cdclient
sim_bin=$build/sim/bgw-sim
gw_bin=$build/tests/cd-tunnel-gw
host="python3 $src/tests/cd_host.py"
N=8
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

mkdir "$tmp/pki"
sh "$src/tests/tunnel_certs.sh" "$tmp/pki" >/dev/null 2>&1 || skip_all "cannot make test certificates"
"$sim_bin" --unix "$tmp/sim.sock" --time-scale 0.1 >"$tmp/sim.log" 2>&1 &
pids="$pids $!"
wait_for 10 test -S "$tmp/sim.sock" || skip_all "bgw-sim did not start"
"$gw_bin" "$tmp/pki" dtls "$tmp/sim.sock" >"$tmp/gw.out" 2>"$tmp/gw.err" &
pids="$pids $!"
wait_for 10 grep -q '^port ' "$tmp/gw.out" || { diag "$tmp/gw.err"; skip_all "the test gateway did not start"; }
port=$(awk '/^port/ { print $2 }' "$tmp/gw.out")

# 1-2: password login.
printf 'correct horse battery\n' >"$tmp/pw"
chmod 600 "$tmp/pw"
"$cd_bin" -f -v --server "127.0.0.1:$port" --user erin --ca "$tmp/pki/ca.crt" \
	--password-file "$tmp/pw" --expose "unix:$tmp/h1.sock" >"$tmp/cd1.log" 2>&1 &
cd1=$!
pids="$pids $cd1"
wait_for 20 grep -q "logged in as erin" "$tmp/cd1.log"
t_ok $? "password login through the DTLS tunnel (--server --user --ca --password-file)" ||
	diag "$tmp/cd1.log"
timeout 60 $host --unix "$tmp/h1.sock" init lescan:1 name:10:B6:00:00:00:04 >"$tmp/h1.out" 2>&1 &&
	grep -q '^lescan=.*C0:B6:00:00:00:01' "$tmp/h1.out" &&
	grep -q '^name=10:B6:00:00:00:04 Kitchen Speaker$' "$tmp/h1.out"
t_ok $? "a host initialises and discovers through the tunnel" || diag "$tmp/h1.out"

# 3-4: certificate login from an enrolment bundle.
"$gw_bin" bundle "$tmp/pki" alice "127.0.0.1:$port" "$tmp/alice.bundle" 2>"$tmp/bundle.err"
"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/h2.sock" \
	>"$tmp/cd2.log" 2>&1 &
cd2=$!
pids="$pids $cd2"
wait_for 20 grep -q "logged in as alice" "$tmp/cd2.log"
t_ok $? "certificate login with --bundle" || diag "$tmp/bundle.err" "$tmp/cd2.log"
timeout 30 $host --unix "$tmp/h2.sock" init >"$tmp/h2.out" 2>&1
t_ok $? "a host initialises through the bundle's session" || diag "$tmp/h2.out"

# 5: a wrong password is final: exit 1, no retry loop.
printf 'wrong horse\n' >"$tmp/bad"
chmod 600 "$tmp/bad"
timeout 90 "$cd_bin" -f --server "127.0.0.1:$port" --user erin \
	--ca "$tmp/pki/ca.crt" --password-file "$tmp/bad" \
	--expose "unix:$tmp/h3.sock" >"$tmp/cd3.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "error: login failed: wrong user name or password; check the password of erin" "$tmp/cd3.log" &&
	[ ! -e "$tmp/h3.sock" ]
t_ok $? "a wrong password ends bgw-cdclient (exit 1) instead of retrying" ||
	{ echo "# exit $rc"; diag "$tmp/cd3.log"; }

# 6-7: --tls, through a gateway serving the tunnel over TLS on TCP: the
# same login, and the host sees what it saw over DTLS.
"$gw_bin" "$tmp/pki" tls "$tmp/sim.sock" >"$tmp/gwt.out" 2>"$tmp/gwt.err" &
pids="$pids $!"
wait_for 10 grep -q '^port ' "$tmp/gwt.out" || diag "$tmp/gwt.err"
tport=$(awk '/^port/ { print $2 }' "$tmp/gwt.out")
"$cd_bin" -f -v --tls --server "127.0.0.1:${tport:-0}" --user erin --ca "$tmp/pki/ca.crt" \
	--password-file "$tmp/pw" --expose "unix:$tmp/h4.sock" >"$tmp/cd4.log" 2>&1 &
cd4=$!
pids="$pids $cd4"
wait_for 20 grep -q "logged in as erin" "$tmp/cd4.log" && grep -q "upstream tls:127.0.0.1:$tport" "$tmp/cd4.log"
t_ok $? "--tls: password login through the TLS-over-TCP tunnel" || diag "$tmp/gwt.err" "$tmp/cd4.log"
timeout 60 $host --unix "$tmp/h4.sock" init lescan:1 name:10:B6:00:00:00:04 >"$tmp/h4.out" 2>&1 &&
	grep '^name=' "$tmp/h4.out" >"$tmp/h4.name" && grep '^name=' "$tmp/h1.out" >"$tmp/h1.name" &&
	cmp -s "$tmp/h1.name" "$tmp/h4.name" &&
	grep -q '^lescan=.*C0:B6:00:00:00:01' "$tmp/h4.out"
t_ok $? "--tls: the host discovers and names the same devices as over DTLS" || diag "$tmp/h4.out"

# 8: SIGTERM on the clients.
kill -TERM "$cd1" "$cd2" "$cd4"
wait "$cd1"
rc1=$?
wait "$cd2"
rc2=$?
wait "$cd4"
rc4=$?
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && [ "$rc4" -eq 0 ] &&
	! grep -q Sanitizer "$tmp/cd1.log" "$tmp/cd2.log" "$tmp/cd4.log"
t_ok $? "SIGTERM: the clients exit 0" ||
	{ echo "# exit $rc1 $rc2 $rc4"; tail -5 "$tmp/cd1.log" "$tmp/cd2.log" "$tmp/cd4.log" | diag; }

[ "$t_failed" -eq 0 ]
