#!/bin/sh
# bgw-muxd registers its home id with bgw-relay (doc/relay.md
# "Integration"), on loopback, with the CA key absent from the gateway:
# the registration is signed by the monitor with a registration key the
# CA certified (bgw-authdb ca relay-key; REGISTER2) and audited,
# bgw-relay takes it, it is kept alive past the relay's expiry, and after
# the relay restarts (a new process: no registration) the gateway is back
# within a keepalive interval. A relay-key that is not the CA's, a
# relay-cert from another CA or for another key are refused at start; a
# certificate near its end is warned about. The CA key itself (REGISTER
# v1) still registers. A CD through the
# relay (tests/relay-client playing it): the gateway punches towards it,
# its DTLS handshake through the relay reaches a peer process of its own
# named after the relay and channel, and its CLOSE ends that process.
# bgw-cdclient with a bundle that names only the relay logs in and
# carries HCI (on loopback the relayed and the punched path race; which
# wins is tests/t-relay-netns.sh's business, with NATs).
. "${BGW_SRCDIR:-.}/tests/lib.sh"

build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
relay=$build/relay/bgw-relay
rcli=$build/tests/relay-client
cdc=$build/cdclient/bgw-cdclient
host="timeout 60 python3 ${BGW_SRCDIR:-.}/tests/cd_host.py"
N=23
echo "1..$N"

[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (free ports)"
for b in "$muxd" "$adb" "$relay" "$rcli" "$cdc"; do
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
port=$(free_port) && rport=$(free_port) || skip_all "cannot find a free port"
# Two probes may get the same port back: the relay needs its own.
[ "$rport" != "$port" ] || rport=$(free_port)
[ "$rport" != "$port" ] || skip_all "cannot find two free ports"

# The CA key is made on the gateway's directory, used there to certify a
# registration key, then moved offline ($tmp/offline, where certificates
# are issued from now on): bgw-muxd never sees it.
{
	A user add alice &&
	A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
	A ca init --dir "$tmp/other" &&
	A ca relay-key --dir "$tmp/etc" &&
	mkdir -m 700 "$tmp/otherreg" "$tmp/short" "$tmp/offline" &&
	A ca relay-key --dir "$tmp/other" --out "$tmp/otherreg" &&
	A ca relay-key --dir "$tmp/etc" --days 3 --out "$tmp/short" &&
	mv "$tmp/etc/ca.key" "$tmp/offline/ca.key" &&
	cp "$tmp/etc/ca.crt" "$tmp/offline/ca.crt"
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }
id=$(A ca id --dir "$tmp/etc")

conf() {
	cat <<EOT
controller sim
sim-time-scale 0.01
listen-dtls 127.0.0.1:$port
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
authdb $tmp/etc/authdb
runtime-dir $tmp
relay 127.0.0.1:$rport
log-level debug
EOT
}
# The gateway as it runs: the certified registration key, no CA key.
conf2() {
	conf
	echo "relay-key $tmp/etc/relay.key"
	echo "relay-cert $tmp/etc/relay.crt"
}

# 1: a relay-key that is not the CA's: refused at start, said why.
{ conf; echo "relay-key $tmp/other/ca.key"; } >"$tmp/bad.conf"
timeout 20 "$muxd" -f -c "$tmp/bad.conf" >"$tmp/bad.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "relay-key $tmp/other/ca.key is not the key of the CA" "$tmp/bad.log"
t_ok $? "a relay-key that is not the CA's stops bgw-muxd (exit $rc)" || diag "$tmp/bad.log"

# 2-3: a registration certificate from another CA, or for another key.
{ conf; echo "relay-key $tmp/otherreg/relay.key"; echo "relay-cert $tmp/otherreg/relay.crt"; } \
	>"$tmp/bad2.conf"
timeout 20 "$muxd" -f -c "$tmp/bad2.conf" >"$tmp/bad2.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "relay-cert $tmp/otherreg/relay.crt .*: the certificate is not signed by this CA" "$tmp/bad2.log"
t_ok $? "a relay-cert another CA issued stops bgw-muxd (exit $rc)" || diag "$tmp/bad2.log"
{ conf; echo "relay-key $tmp/etc/relay.key"; echo "relay-cert $tmp/short/relay.crt"; } \
	>"$tmp/bad3.conf"
timeout 20 "$muxd" -f -c "$tmp/bad3.conf" >"$tmp/bad3.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "relay-cert $tmp/short/relay.crt .*: the certificate is for another key" "$tmp/bad3.log"
t_ok $? "a relay-cert for another key stops bgw-muxd (exit $rc)" || diag "$tmp/bad3.log"

# 4: -t refuses a group-readable registration key (it would let others take the id).
chmod 640 "$tmp/etc/relay.key"
conf2 >"$tmp/muxd.conf"
"$muxd" -t -c "$tmp/muxd.conf" >"$tmp/t.log" 2>&1
rc=$?
chmod 600 "$tmp/etc/relay.key"
[ "$rc" -ne 0 ] && grep -q "relay-key $tmp/etc/relay.key is readable or writable by group or others" "$tmp/t.log"
t_ok $? "-t refuses a group-readable relay-key (exit $rc)" || diag "$tmp/t.log"

# 5: a certificate 3 days from its end: warned about at start, with what to do.
{ conf; echo "relay-key $tmp/short/relay.key"; echo "relay-cert $tmp/short/relay.crt"; } \
	>"$tmp/short.conf"
"$muxd" -f -c "$tmp/short.conf" >"$tmp/short.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait_for 15 grep -q "relay-cert $tmp/short/relay.crt expires on .* (in 2 days): where the CA key is, run bgw-authdb ca relay-key" "$tmp/short.log"
t_ok $? "a registration certificate near its end is warned about" || diag "$tmp/short.log"
kill -TERM "$spid"
wait "$spid" 2>/dev/null

# 6-7: the relay (keepalive 2 s, expiry 11 s), then the gateway.
"$relay" -d -k 2 -l "127.0.0.1:$rport" >"$tmp/relay.log" 2>&1 &
rpid=$!
pids="$pids $rpid"
"$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 15 grep -q "relay: home $id registered (certified registration key)" "$tmp/relay.log"
t_ok $? "bgw-relay registers the home id $id with the certified key, the CA key absent" ||
	diag "$tmp/relay.log" "$tmp/muxd.log"
wait_for 5 grep -q "relay: registered with 127.0.0.1:$rport; it sees this gateway at 127.0.0.1 port $port" \
	"$tmp/muxd.log"
t_ok $? "  ... from the DTLS listener's address, and bgw-muxd says so" || diag "$tmp/muxd.log"

# 8: audited by the monitor, the chain intact.
grep -q " relay-register .*src=127.0.0.1:$rport .*detail=signed" "$tmp/audit.log" &&
	A audit verify >"$tmp/verify.out" 2>&1
t_ok $? "the signed registration is in the audit log" || diag "$tmp/audit.log" "$tmp/verify.out"

# 9: kept alive past the relay's expiry (3 x 2 s + 5 s = 11 s).
sleep 14
! grep -q "relay: home $id expired" "$tmp/relay.log" &&
	[ "$(grep -c "relay: home $id registered" "$tmp/relay.log")" -eq 1 ]
t_ok $? "keepalives hold the registration past the relay's expiry" || diag "$tmp/relay.log"

# 10-11: the relay restarts (a new secret, nothing registered): back soon.
kill "$rpid"
wait "$rpid" 2>/dev/null
"$relay" -d -k 2 -l "127.0.0.1:$rport" >"$tmp/relay2.log" 2>&1 &
rpid=$!
pids="$pids $rpid"
start=$(date +%s)
wait_for 15 grep -q "relay: home $id registered" "$tmp/relay2.log"
t_ok $? "re-registered with the restarted relay after $(( $(date +%s) - start )) s" ||
	diag "$tmp/relay2.log" "$tmp/muxd.log"
grep -q "relay: registration with 127.0.0.1:$rport lost" "$tmp/muxd.log"
t_ok $? "  ... and bgw-muxd said it lost and renewed it" || diag "$tmp/muxd.log"

# 12-15: a CD through the relay (doc/relay.md, "Relayed peers").
timeout 40 "$rcli" dtls "127.0.0.1:$rport" "$id" "$tmp/etc/ca.crt" -w 30 >"$tmp/cd.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q "^handshake via relay done" "$tmp/cd.out"
t_ok $? "a DTLS handshake through the relay with the gateway's certificate (exit $rc)" ||
	diag "$tmp/cd.out" "$tmp/muxd.log" "$tmp/relay2.log"
grep -q "^punches from the home: 3" "$tmp/cd.out"
t_ok $? "  ... and the gateway punched three times towards the CD's address" ||
	diag "$tmp/cd.out" "$tmp/muxd.log"
chan=$(sed -n 's/^connected channel \([0-9]*\),.*/\1/p' "$tmp/cd.out")
grep -q "tunnel: peer relay:127.0.0.1:$rport#$chan (CD \[127.0.0.1\]:[0-9]*) is process" "$tmp/muxd.log"
t_ok $? "  ... in a peer process named relay:127.0.0.1:$rport#$chan" || diag "$tmp/muxd.log"
wait_for 10 grep -q "relay: relay:127.0.0.1:$rport#$chan (CD .*) closed by the relay" "$tmp/muxd.log"
t_ok $? "  ... which the CD's CLOSE ends" || diag "$tmp/muxd.log" "$tmp/relay2.log"

# 16-20: bgw-cdclient with a bundle naming only the relay.
A cert issue alice --dir "$tmp/offline" --relay "127.0.0.1:$rport" --out "$tmp/alice.bundle" \
	>"$tmp/issue.log" 2>&1 || diag "$tmp/issue.log"
# The monitor takes the new certificate 200 ms after the authdb changed.
wait_for 10 grep -q "authdb changed: reloading" "$tmp/muxd.log"
timeout 60 "$cdc" -f --bundle "$tmp/alice.bundle" --expose "unix:$tmp/h.sock" \
	>"$tmp/cd1.log" 2>&1 </dev/null &
cpid=$!
pids="$pids $cpid"
wait_for 30 grep -q "logged in as alice" "$tmp/cd1.log"
t_ok $? "bgw-cdclient logs in with a bundle that names only the relay" ||
	diag "$tmp/cd1.log" "$tmp/muxd.log"
grep -q "connecting through relay 127.0.0.1:$rport over DTLS" "$tmp/cd1.log" &&
	grep -q "relay 127.0.0.1:$rport: connected; the gateway is at \[127.0.0.1\]:$port" "$tmp/cd1.log" &&
	grep -Eq "DTLS1.2 handshake (via relay 127.0.0.1:$rport|direct \(punched\) to \[127.0.0.1\]:$port) done" "$tmp/cd1.log"
t_ok $? "  ... and says which path carries the session" || diag "$tmp/cd1.log"
wait_for 10 test -S "$tmp/h.sock" &&
	$host --unix "$tmp/h.sock" init >"$tmp/h.out" 2>&1 && grep -q '^init=ok' "$tmp/h.out"
t_ok $? "  ... and carries the host's HCI to the gateway's controller" ||
	diag "$tmp/h.out" "$tmp/cd1.log"
# The peer serving alice was forked by the monitor, which holds the
# registration key (relay-key) and the server's key: the peer holds no
# form of either, nor of the CA key (which is not on the gateway at all).
peer=""
for c in $(pgrep -P "$mpid"); do
	[ "$(cat /proc/"$c"/comm 2>/dev/null)" = "bgw-muxd[peer]" ] && peer=$c
done
needles="$(key_needles "$tmp/offline/ca.key") $(key_needles "$tmp/etc/relay.key") $(key_needles "$tmp/etc/server.key")" &&
	[ -n "$peer" ] && python3 "${BGW_SRCDIR:-.}/tests/memscan.py" "$peer" $needles >"$tmp/scan" 2>&1
t_ok $? "  ... through a peer ($peer) that holds no form of the CA's, registration or server key" ||
	diag "$tmp/scan"
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
# A home id nobody registered: the relay's one answer, said for people.
A ca init --dir "$tmp/stranger" >/dev/null 2>&1 &&
	A cert issue alice --dir "$tmp/stranger" --relay "127.0.0.1:$rport" \
		--out "$tmp/stranger.bundle" >/dev/null 2>&1
timeout 30 "$cdc" -f --bundle "$tmp/stranger.bundle" --expose "unix:$tmp/h2.sock" \
	>"$tmp/cd2.log" 2>&1 </dev/null
rc=$?
[ "$rc" -ne 0 ] && grep -q "relay 127.0.0.1:$rport: the home is not registered there" "$tmp/cd2.log"
t_ok $? "a home the relay does not know: refused, said why (exit $rc)" || diag "$tmp/cd2.log"

# 21: a clean stop.
kill -TERM "$mpid"
wait "$mpid"
rc=$?
[ "$rc" -eq 0 ]
t_ok $? "SIGTERM: bgw-muxd exits 0 (exit $rc)" || tail -20 "$tmp/muxd.log" | diag

# 22-23: a relay name that does not resolve (the network not up yet): the
# gateway starts anyway, says so, and registers with the others. This one
# signs with the CA key itself (REGISTER v1, relay-key without relay-cert).
{ conf; echo "relay nonexistent.invalid:3478"; echo "relay-key $tmp/offline/ca.key"; } >"$tmp/dns.conf"
"$muxd" -f -c "$tmp/dns.conf" >"$tmp/dns.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_for 15 grep -q "relay: registered with 127.0.0.1:$rport" "$tmp/dns.log" &&
	grep -q "relay nonexistent.invalid:3478: .*; not registering with it" "$tmp/dns.log" &&
	kill -0 "$mpid"
t_ok $? "an unresolvable relay is skipped with a warning, the others used" || diag "$tmp/dns.log"
grep -q "relay: home $id registered (CA key)" "$tmp/relay2.log"
t_ok $? "  ... and the CA key itself still registers (REGISTER v1)" || diag "$tmp/relay2.log"
kill -TERM "$mpid"
wait "$mpid"
