#!/bin/sh
# No HCI payload crosses the tunnel in clear: capture loopback traffic
# while a session carries a recognisable payload (DTLS, then TLS), and
# look for its bytes in the capture. A plain UDP datagram with the same
# marker, sent into the same capture first, proves the method sees
# payload bytes when they are there. Nor does the client's certificate
# (its CN is the user's name): it travels inside the channel (protocol
# version 2), while the server's, which DTLS 1.2 sends in clear, is found
# in the same capture.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..7"
skip_all() {
	for i in 1 2 3 4 5 6 7; do echo "ok $i # SKIP $1"; done
	exit 0
}
command -v dumpcap >/dev/null 2>&1 || skip_all "dumpcap not installed (Debian: tshark)"
command -v certtool >/dev/null 2>&1 || skip_all "certtool not installed (Debian: gnutls-bin)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$BGW_SRCDIR/tests/tunnel_certs.sh" "$tmp" || skip_all "cannot make test certificates"
if ! timeout 5 dumpcap -i lo -c 1 -a duration:1 -w "$tmp/probe.pcapng" >/dev/null 2>&1; then
	skip_all "cannot capture on lo here (needs CAP_NET_RAW)"
fi

marker="BGW-CLEARTEXT-CANARY-$$-7f3a91"
port=$((20000 + $$ % 20000))

# capture FILE: dumpcap on lo for this test's port, in the background.
capture() {
	dumpcap -i lo -f "host 127.0.0.1 and port $port" -w "$1" -q \
		>"$1.log" 2>&1 &
	cap_pid=$!
	# Wait until dumpcap says it is capturing (bounded).
	i=0
	while [ $i -lt 50 ] && ! grep -q "Capturing on" "$1.log" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
}
stop_capture() {
	sleep 0.5
	kill "$cap_pid" 2>/dev/null
	wait "$cap_pid" 2>/dev/null
}

capture "$tmp/plain.pcapng"
python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode(), ('127.0.0.1', int(sys.argv[2])))" "$marker" "$port"
stop_capture
grep -qa "$marker" "$tmp/plain.pcapng"
t_ok $? "control: a clear datagram's marker is found in its capture"

for tr in dtls tls; do
	capture "$tmp/$tr.pcapng"
	"$BGW_BUILDDIR/tests/tunnel-pair" "$tmp" "$tr" "$port" "$marker" 200 \
		>"$tmp/$tr.out" 2>&1
	rc=$?
	stop_capture
	t_ok $rc "$tr: 200 packets carrying the marker went through" ||
		sed 's/^/# /' "$tmp/$tr.out"
	n=$(tshark -r "$tmp/$tr.pcapng" 2>/dev/null | wc -l)
	echo "# $tr: $n packets captured"
	[ "$n" -gt 20 ] && ! grep -qa "$marker" "$tmp/$tr.pcapng"
	t_ok $? "$tr: the capture ($n packets) never holds the marker"
done

# in_capture CERT PCAP: does 48 bytes from the middle of CERT's DER form
# (subject and key) appear in the capture?
in_capture() {
	certtool --certificate-info --infile "$1" --outder 2>/dev/null >"$1.der" &&
	python3 -c "
import sys
der = open(sys.argv[1], 'rb').read()
cap = open(sys.argv[2], 'rb').read()
mid = len(der) // 2
sys.exit(0 if len(der) > 200 and der[mid - 24:mid + 24] in cap else 1)" "$1.der" "$2"
}
in_capture "$tmp/server.crt" "$tmp/dtls.pcapng"
t_ok $? "dtls: control: the server's certificate is in the capture (sent in clear)"
! in_capture "$tmp/alice.crt" "$tmp/dtls.pcapng" &&
	! in_capture "$tmp/alice.crt" "$tmp/tls.pcapng"
t_ok $? "the client's certificate is in neither capture (sent inside the channel)"
