#!/bin/bash
# bgw-relay across a small Internet made of network namespaces:
#
#   home (192.168.1.2) - homenat [NAT] 198.51.100.2 -+
#   cd   (10.0.0.2)    - cafenat [NAT] 192.0.2.2    -+- inet (router) - relay 203.0.113.10
#   attacker 100.64.0.66 ----------------------------+
#
# Each NAT masquerades its LAN and, like a home router, drops unsolicited
# inbound packets: Linux masquerade keeps the source port and filters by
# address and port, a port-restricted cone NAT; with "random" ports it is
# symmetric. Tests 1-9: tests/relay-client plays the gateway and the CD
# with the real codec. Tests 10-17: the real programs, bgw-muxd at home
# and bgw-cdclient in the café with a bundle that names only the relay.
# Only addresses inside namespaces this test makes; all removed on exit.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

build=${BGW_BUILDDIR:-.}
relay_bin=$build/relay/bgw-relay
client=$build/tests/relay-client
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cdc=$build/cdclient/bgw-cdclient
host="timeout 60 python3 ${BGW_SRCDIR:-.}/tests/cd_host.py"
N=20
echo "1..$N"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip_all "ip (iproute2) not installed"
command -v nft >/dev/null 2>&1 || skip_all "nft not installed (Debian: nftables)"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
for b in "$relay_bin" "$client" "$muxd" "$adb" "$cdc"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

p=bgwr$$
tmp=$(mktemp -d)
pids=""
cleanup() {
	for q in $pids; do kill "$q" 2>/dev/null; done
	wait 2>/dev/null
	for ns in home homenat cd cafenat inet relay att; do
		ip netns del "$p-$ns" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$p-probe" 2>/dev/null || skip_all "cannot create network namespaces"
ip netns del "$p-probe"

. "${BGW_SRCDIR:-.}/tests/netns-nat.sh"

build_net >"$tmp/net.log" 2>&1 || { diag "$tmp/net.log"; skip_all "cannot build the namespaces"; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/home.key" 2>/dev/null &&
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/evil.key" 2>/dev/null ||
	skip_all "cannot make keys"
id=$("$client" id "$tmp/home.key")
[ ${#id} -eq 26 ] || skip_all "relay-client cannot read the key"
relay=203.0.113.10:3479

start_relay() {
	# ip netns exec execs the program: $! is the relay itself.
	ip netns exec "$p-relay" "$relay_bin" -f -k 2 -l "$relay" >>"$tmp/relay.log" 2>&1 &
	relay_pid=$!
	pids="$pids $relay_pid"
}
start_relay

# 1: the gateway behind its NAT registers; the relay sees the NAT's address.
ip netns exec "$p-home" "$client" gw "$relay" "$tmp/home.key" -w 60 >"$tmp/gw.out" 2>&1 &
gw_pid=$!
pids="$pids $gw_pid"
wait_for 10 grep -q "^registered $id as 198\.51\.100\.2:" "$tmp/gw.out"
t_ok $? "gateway behind a NAT registers its home id (reflexive address seen)" ||
	diag "$tmp/gw.out" "$tmp/relay.log"

# 2, 3: a CD in the café reaches the home id through both NATs, relayed.
x cd "$client" cd "$relay" "$id" -w 20 -p >"$tmp/cd.out" 2>&1
rc=$?
grep -q "^connected channel [0-9]*, home at 198\.51\.100\.2:" "$tmp/cd.out" &&
	grep -q "^relayed 5/5" "$tmp/cd.out"
t_ok $? "CD reaches the home id through both NATs; datagrams relayed both ways" ||
	diag "$tmp/cd.out" "$tmp/gw.out"
grep -q "^peer 192\.0\.2\.2:" "$tmp/gw.out"
t_ok $? "the gateway is told the CD's reflexive address" || diag "$tmp/gw.out"

# 4: punching opens a direct path (port-restricted cone on both sides).
[ "$rc" -eq 0 ] && grep -q "^direct path to 198\.51\.100\.2:" "$tmp/cd.out" &&
	grep -q "^direct ping from 192\.0\.2\.2:" "$tmp/gw.out"
t_ok $? "hole punching gives a direct path (port-restricted cone NATs)" ||
	diag "$tmp/cd.out" "$tmp/gw.out"

# 5: a third party claims the family's id with its own key: refused.
x att "$client" claim "$relay" "$tmp/evil.key" "$id" -w 10 >"$tmp/claim.out" 2>&1
t_ok $? "a third party registering the family's id is refused" || diag "$tmp/claim.out"

# 6: an id nobody registered: a small uniform refusal.
x cd "$client" cd "$relay" aaaaaaaaaaaaaaaaaaaaaaaaaa -w 10 >"$tmp/unk.out" 2>&1
grep -q "^refused 1" "$tmp/unk.out"
t_ok $? "an unregistered id is refused (unavailable)" || diag "$tmp/unk.out"

# 7: the relay restarts; the gateway registers again within seconds.
kill "$relay_pid"
wait "$relay_pid" 2>/dev/null
start_relay
registered_twice() { [ "$(grep -c "^registered $id" "$tmp/gw.out")" -ge 2 ]; }
wait_for 12 registered_twice && grep -q "^told to register again" "$tmp/gw.out"
t_ok $? "after a relay restart the gateway is told to register again and does" ||
	diag "$tmp/gw.out" "$tmp/relay.log"
x cd "$client" cd "$relay" "$id" -w 10 >"$tmp/cd2.out" 2>&1
t_ok $? "the CD reaches the home again through the restarted relay" || diag "$tmp/cd2.out"

# 8: the home's NAT turns symmetric: no direct path, the relay carries it.
kill "$gw_pid"
wait "$gw_pid" 2>/dev/null
nat homenat random
x homenat conntrack -F >/dev/null 2>&1
ip netns exec "$p-home" "$client" gw "$relay" "$tmp/home.key" -w 30 >"$tmp/gw2.out" 2>&1 &
gw_pid=$!
pids="$pids $gw_pid"
wait_for 10 grep -q "^registered" "$tmp/gw2.out"
x cd "$client" cd "$relay" "$id" -w 20 -p >"$tmp/cd3.out" 2>&1
rc=$?
[ "$rc" -eq 3 ] && grep -q "^relayed 5/5" "$tmp/cd3.out"
t_ok $? "symmetric home NAT: no direct path, datagrams still relayed" ||
	diag "$tmp/cd3.out" "$tmp/gw2.out"
kill "$gw_pid" 2>/dev/null
wait "$gw_pid" 2>/dev/null

# ---- The real programs (doc/relay.md, "Integration") ----
A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
{
	A user add alice && A user add bob &&
	A allow alice 10:B6:00:00:00:04 public && A allow bob 10:B6:00:00:00:03 public &&
	A ca init --dir "$tmp/etc" &&
	A cert issue alice --dir "$tmp/etc" --relay "$relay" --out "$tmp/alice.bundle" &&
	A cert issue bob --dir "$tmp/etc" --relay "$relay" --out "$tmp/bob.bundle"
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }
hid=$(A ca id --dir "$tmp/etc")
mkdir -p "$tmp/run"
cat >"$tmp/muxd.conf" <<EOT
controller sim
sim-time-scale 0.01
listen-dtls 192.168.1.2:4433
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
authdb $tmp/etc/authdb
runtime-dir $tmp/run
relay $relay
EOT

# run_cd NAME: bgw-cdclient in the café with the relay-only bundle, its
# host socket $tmp/NAME.sock (a path: reachable from any namespace).
run_cd() {
	ip netns exec "$p-cd" timeout 120 "$cdc" -f --bundle "$tmp/${2:-alice}.bundle" \
		--expose "unix:$tmp/$1.sock" >"$tmp/$1.log" 2>&1 </dev/null &
	cd_pid=$!
	pids="$pids $cd_pid"
}
hci_ok() {
	$host --unix "$tmp/$1.sock" init >"$tmp/$1.hci" 2>&1 && grep -q '^init=ok' "$tmp/$1.hci"
}

# 10: bgw-muxd at home, behind the (cone again) NAT, registers.
nat homenat
ip netns exec "$p-home" "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
muxd_pid=$!
pids="$pids $muxd_pid"
wait_for 15 grep -q "relay: registered with $relay; it sees this gateway at 198\.51\.100\.2 port" \
	"$tmp/muxd.log"
t_ok $? "bgw-muxd behind the home NAT registers its home id $hid" ||
	diag "$tmp/muxd.log" "$tmp/relay.log"

# 11-13: the CD reaches home with a bundle that names only the relay;
# punched direct through both cone NATs; HCI carried.
run_cd c1
wait_for 30 grep -q "logged in as alice" "$tmp/c1.log"
t_ok $? "bgw-cdclient in the café logs in with a bundle naming only the relay" ||
	diag "$tmp/c1.log" "$tmp/muxd.log"
grep -Eq "DTLS1.2 handshake direct \(punched\) to \[198\.51\.100\.2\]:[0-9]+ done" "$tmp/c1.log"
t_ok $? "  ... directly after punching (port-restricted cone NATs)" || diag "$tmp/c1.log"
wait_for 10 test -S "$tmp/c1.sock" && hci_ok c1
t_ok $? "  ... and the session carries the host's HCI" || diag "$tmp/c1.hci" "$tmp/c1.log"

# 14: the relay dies mid-session: the punched session stays up.
kill "$relay_pid"
wait "$relay_pid" 2>/dev/null
sleep 3
hci_ok c1 && ! grep -q "link lost" "$tmp/c1.log" && kill -0 "$cd_pid"
t_ok $? "killing the relay mid-session leaves the punched session up" ||
	diag "$tmp/c1.hci" "$tmp/c1.log"
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null
start_relay
home_back() { [ "$(grep -c "relay: home $hid registered" "$tmp/relay.log")" -ge 2 ]; }
wait_for 15 home_back || diag "$tmp/relay.log"

# 15: relayed first, then a direct path opens: the session moves to it.
# The café drops the CD's direct datagrams until the session is up via
# the relay; then the client's direct probe gets through (the gateway's
# punches opened the home NAT for the CD's address) and it resumes there.
x cafenat nft -f - <<NFT
table inet cdblock {
	chain direct_out { type filter hook forward priority -10; ip daddr 198.51.100.2 udp dport 4433 drop; }
}
NFT
run_cd c3
wait_for 30 grep -q "logged in as alice" "$tmp/c3.log" &&
	grep -q "handshake via relay $relay done" "$tmp/c3.log"
moved=$?
x cafenat nft delete table inet cdblock
[ "$moved" -eq 0 ] &&
	wait_for 30 grep -Eq "a direct path opened; moving the session direct \(punched\) to \[198\.51\.100\.2\]" "$tmp/c3.log" &&
	wait_for 10 grep -q "session resumed" "$tmp/c3.log" && hci_ok c3
t_ok $? "relayed first, the session moves to a direct path when one opens" ||
	diag "$tmp/c3.log" "$tmp/c3.hci"
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null

# 16-17: the home NAT turns symmetric: the relay carries the session.
nat homenat random
run_cd c2
wait_for 30 grep -q "logged in as alice" "$tmp/c2.log" &&
	grep -q "DTLS1.2 handshake via relay $relay done" "$tmp/c2.log"
t_ok $? "symmetric home NAT: bgw-cdclient logs in via the relay" ||
	diag "$tmp/c2.log" "$tmp/muxd.log"
wait_for 10 test -S "$tmp/c2.sock" && hci_ok c2
t_ok $? "  ... and the relayed session carries the host's HCI" || diag "$tmp/c2.hci" "$tmp/c2.log"

# 18: the family through the relay at once: alice and bob each use their
# own device; bob's host cannot connect to alice's (authdb allow lines).
c2_pid=$cd_pid
run_cd b1 bob
wait_for 30 grep -q "logged in as bob" "$tmp/b1.log" && wait_for 10 test -S "$tmp/b1.sock" &&
	grep -q "handshake via relay $relay done" "$tmp/b1.log" &&
	$host --unix "$tmp/c2.sock" connect:10:B6:00:00:00:04 echo >"$tmp/fa.out" 2>&1 &&
	$host --unix "$tmp/b1.sock" init connect:10:B6:00:00:00:03 echo >"$tmp/fb.out" 2>&1 &&
	! $host --unix "$tmp/b1.sock" connect:10:B6:00:00:00:04 >"$tmp/fc.out" 2>&1
t_ok $? "two users through the relay at once, each only on their own device" ||
	diag "$tmp/b1.log" "$tmp/fa.out" "$tmp/fb.out" "$tmp/fc.out"
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null
cd_pid=$c2_pid

# 19: the relay restarts under the relayed session: it resumes through
# the relay once the gateway has registered again.
kill "$relay_pid"
wait "$relay_pid" 2>/dev/null
sleep 1
start_relay
home_again() { [ "$(grep -c "relay: home $hid registered" "$tmp/relay.log")" -ge 3 ]; }
wait_for 60 grep -q "session resumed" "$tmp/c2.log" && home_again && hci_ok c2
t_ok $? "a relayed session resumes through the relay once it is back" ||
	diag "$tmp/c2.log" "$tmp/c2.hci"
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null

# 20: an attacker's REGISTER for the family's (the real CA's) id: refused.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/evil2.key" 2>/dev/null
x att "$client" claim "$relay" "$tmp/evil2.key" "$hid" -w 10 >"$tmp/claim2.out" 2>&1 &&
	grep -q "relay: registered with $relay" "$tmp/muxd.log"
t_ok $? "an attacker registering the family's id is refused" || diag "$tmp/claim2.out"
kill -TERM "$muxd_pid"
wait "$muxd_pid" 2>/dev/null
exit $((t_failed > 0))
