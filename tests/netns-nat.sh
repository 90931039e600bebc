# The small Internet of tests/t-relay-netns.sh and tests/bench/relay-paths
# (sourced; $p is the caller's namespace prefix, removed by the caller):
#
#   home (192.168.1.2) - homenat [NAT] 198.51.100.2 -+
#   cd   (10.0.0.2)    - cafenat [NAT] 192.0.2.2    -+- inet (router) - relay 203.0.113.10
#   attacker 100.64.0.66 ----------------------------+
#
# nat NS: a port-restricted cone NAT (Linux masquerade keeps the source
# port and filters by address and port); nat NS random: symmetric; nat NS
# forward PORT ADDR: a cone NAT that forwards UDP PORT to ADDR (a home
# with a forwarded port). Each drops unsolicited inbound packets as a
# home router does.

x() { local ns=$1; shift; ip netns exec "$p-$ns" "$@"; }

# link NS1 IF1 ADDR1 NS2 IF2 ADDR2 (addresses with /prefix)
link() {
	ip link add "$p$2" type veth peer name "$p$5" || return 1
	ip link set "$p$2" netns "$p-$1" && ip link set "$p$5" netns "$p-$4" &&
	x "$1" ip link set "$p$2" name "$2" && x "$4" ip link set "$p$5" name "$5" &&
	x "$1" ip addr add "$3" dev "$2" && x "$4" ip addr add "$6" dev "$5" &&
	x "$1" ip link set "$2" up && x "$4" ip link set "$5" up
}

# nat NS [random | forward PORT ADDR]: masquerade out of "wan", drop
# unsolicited inbound (but what a forward rule admits).
nat() {
	local mode=${2:-} pre="" fwd=""

	if [ "$mode" = forward ]; then
		pre="chain prerouting_in { type nat hook prerouting priority -100; iifname \"wan\" udp dport $3 dnat to $4; }"
		fwd="iifname \"wan\" ct status dnat accept;"
		mode=""
	fi
	x "$1" nft -f - <<NFT
flush ruleset
table ip nat {
	chain postrouting_out { type nat hook postrouting priority 100; oifname "wan" masquerade $mode; }
	$pre
}
table inet filter {
	chain input_in { type filter hook input priority 0; iifname "wan" ct state new drop; }
	chain forward_in { type filter hook forward priority 0; $fwd iifname "wan" ct state new drop; }
}
NFT
}

build_net() {
	for ns in home homenat cd cafenat inet relay att; do
		ip netns add "$p-$ns" || return 1
		x "$ns" ip link set lo up
	done
	link home lan0 192.168.1.2/24 homenat lan 192.168.1.1/24 &&
	link homenat wan 198.51.100.2/24 inet hn 198.51.100.1/24 &&
	link cd lan0 10.0.0.2/24 cafenat lan 10.0.0.1/24 &&
	link cafenat wan 192.0.2.2/24 inet cn 192.0.2.1/24 &&
	link relay eth0 203.0.113.10/24 inet rl 203.0.113.1/24 &&
	link att eth0 100.64.0.66/24 inet at 100.64.0.1/24 || return 1
	x home ip route add default via 192.168.1.1 &&
	x cd ip route add default via 10.0.0.1 &&
	x homenat ip route add default via 198.51.100.1 &&
	x cafenat ip route add default via 192.0.2.1 &&
	x relay ip route add default via 203.0.113.1 &&
	x att ip route add default via 100.64.0.1 || return 1
	for ns in inet homenat cafenat; do
		x "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
	done
	nat homenat && nat cafenat
}
