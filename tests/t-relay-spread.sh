#!/bin/bash
# More relays serve more (doc/relay.md, "Spreading homes over
# relays"): one relay name with two addresses, two bgw-relay processes
# sharing nothing. bgw-muxd behind the home NAT registers with both;
# with the first one down, bgw-cdclient in the café (a bundle naming
# only the relay name) asks both addresses at once and gets home through
# the live one. The small Internet of tests/t-relay-netns.sh
# (tests/netns-nat.sh); the name is in a hosts file that `ip netns exec`
# mounts for the namespaces of this test only (/etc/netns/NS/hosts,
# removed on exit).
. "${BGW_SRCDIR:-.}/tests/lib.sh"

build=${BGW_BUILDDIR:-.}
relay_bin=$build/relay/bgw-relay
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cdc=$build/cdclient/bgw-cdclient
host="timeout 60 python3 ${BGW_SRCDIR:-.}/tests/cd_host.py"
N=7
echo "1..$N"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip_all "ip (iproute2) not installed"
command -v nft >/dev/null 2>&1 || skip_all "nft not installed (Debian: nftables)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the scripted host)"
for b in "$relay_bin" "$muxd" "$adb" "$cdc"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

p=bgws$$
tmp=$(mktemp -d)
pids=""
cleanup() {
	for q in $pids; do kill "$q" 2>/dev/null; done
	wait 2>/dev/null
	for ns in home homenat cd cafenat inet relay att; do
		ip netns del "$p-$ns" 2>/dev/null
		rm -rf "/etc/netns/$p-$ns"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$p-probe" 2>/dev/null || skip_all "cannot create network namespaces"
ip netns del "$p-probe"

. "${BGW_SRCDIR:-.}/tests/netns-nat.sh"

build_net >"$tmp/net.log" 2>&1 &&
	x relay ip addr add 203.0.113.11/24 dev eth0 >>"$tmp/net.log" 2>&1 ||
	{ diag "$tmp/net.log"; skip_all "cannot build the namespaces"; }
for ns in home cd; do
	mkdir -p "/etc/netns/$p-$ns" &&
		printf '127.0.0.1 localhost\n203.0.113.10 relays.test\n203.0.113.11 relays.test\n%s\n' \
			"203.0.113.11 the-second-relay-of-the-pool.bgw-home.example.org" \
			>"/etc/netns/$p-$ns/hosts" || skip_all "cannot write /etc/netns"
done
[ "$(x home getent ahostsv4 relays.test | awk '$2 == "DGRAM" { print $1 }' | sort -u | wc -l)" -eq 2 ] ||
	skip_all "the resolver does not give both addresses of a name (host.conf: multi on)"
relay=relays.test:3479

# start_relay N ADDRESS: $rpid_N
start_relay() {
	ip netns exec "$p-relay" "$relay_bin" -f -k 2 -l "$2:3479" >>"$tmp/relay$1.log" 2>&1 &
	eval "rpid_$1=$!"
	pids="$pids $!"
}
start_relay 1 203.0.113.10
start_relay 2 203.0.113.11

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" "$@"; }
{
	A user add alice && A allow alice 10:B6:00:00:00:04 public &&
	A ca init --dir "$tmp/etc" &&
	A cert issue alice --dir "$tmp/etc" --relay "$relay" --out "$tmp/alice.bundle"
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

# 1-2: the gateway registers with both addresses of the name.
nat homenat random
ip netns exec "$p-home" "$muxd" -f -c "$tmp/muxd.conf" >"$tmp/muxd.log" 2>&1 &
muxd_pid=$!
pids="$pids $muxd_pid"
wait_for 15 grep -q "relay: home $hid registered" "$tmp/relay1.log" &&
	wait_for 5 grep -q "relay: home $hid registered" "$tmp/relay2.log"
t_ok $? "bgw-muxd registers its home id with both relays of the name" ||
	diag "$tmp/muxd.log" "$tmp/relay1.log" "$tmp/relay2.log"
grep -q "relay $relay: 2 addresses; registering with each" "$tmp/muxd.log" &&
	grep -q "relay: registered with 203\.0\.113\.10:3479" "$tmp/muxd.log" &&
	grep -q "relay: registered with 203\.0\.113\.11:3479" "$tmp/muxd.log" &&
	grep -q "relay: home id $hid, 2 relay(s)" "$tmp/muxd.log"
t_ok $? "  ... and names each by its address" || diag "$tmp/muxd.log"

# 3-5: the first relay goes down; a CD with the name alone gets home
# through the second (the home NAT is symmetric: the relay carries it).
kill "$rpid_1"
wait "$rpid_1" 2>/dev/null
ip netns exec "$p-cd" timeout 120 "$cdc" -f --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/c.sock" >"$tmp/c.log" 2>&1 </dev/null &
cd_pid=$!
pids="$pids $cd_pid"
wait_for 30 grep -q "logged in as alice" "$tmp/c.log" &&
	grep -q "DTLS1.2 handshake via relay $relay done" "$tmp/c.log"
t_ok $? "one relay down: bgw-cdclient logs in through the other address" ||
	diag "$tmp/c.log" "$tmp/muxd.log" "$tmp/relay2.log"
grep -q "tunnel: relay:203\.0\.113\.11:3479#[0-9]* (CD .*): user alice logged in" "$tmp/muxd.log"
t_ok $? "  ... the live relay, as the gateway's peer name says" || diag "$tmp/muxd.log"
wait_for 10 test -S "$tmp/c.sock" &&
	$host --unix "$tmp/c.sock" init "connect:10:B6:00:00:00:04" echoes:20 >"$tmp/h.out" 2>&1 &&
	grep -q '^echoes=20$' "$tmp/h.out"
t_ok $? "  ... and the session carries ACL data" || diag "$tmp/h.out" "$tmp/c.log"
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null

# 6-7: a relay line with a long name (one address): a relayed peer's name
# is cut to what the monitor takes (63 characters) instead of ending the
# gateway's network front.
long=the-second-relay-of-the-pool.bgw-home.example.org:3479
kill -TERM "$muxd_pid"
wait "$muxd_pid" 2>/dev/null
sed "s/^relay .*/relay $long/" "$tmp/muxd.conf" >"$tmp/long.conf"
ip netns exec "$p-home" "$muxd" -f -c "$tmp/long.conf" >"$tmp/long.log" 2>&1 &
muxd_pid=$!
pids="$pids $muxd_pid"
wait_for 15 grep -q "relay: registered with $long" "$tmp/long.log"
t_ok $? "bgw-muxd registers through a relay line with a ${#long}-character name" ||
	diag "$tmp/long.log"
ip netns exec "$p-cd" timeout 60 "$cdc" -f --bundle "$tmp/alice.bundle" \
	--expose "unix:$tmp/d.sock" >"$tmp/d.log" 2>&1 </dev/null &
cd_pid=$!
pids="$pids $cd_pid"
wait_for 30 grep -q "logged in as alice" "$tmp/d.log" &&
	grep -q "tunnel: relay:the-second-relay-of-the-pool.bgw-home.example.org:34.*user alice logged in" \
		"$tmp/long.log" && kill -0 "$muxd_pid"
t_ok $? "  ... and takes a CD through it, the peer named within 63 characters" ||
	diag "$tmp/d.log" "$tmp/long.log"
kill "$cd_pid" 2>/dev/null
wait "$cd_pid" 2>/dev/null
exit $((t_failed > 0))
