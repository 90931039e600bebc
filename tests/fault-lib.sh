# Shared by the tunnel fault and abuse tests (sourced after tests/lib.sh):
# a temporary BGW set up the admin's way with bgw-authdb -- CA, users
# alice (certificate bundle) and bob (password), one RD each -- and a
# bgw-muxd configuration with DTLS and TLS listeners on free loopback
# ports. Sets: tmp, pids, muxd, adb, cd_bin, port, tport, pw, and the
# functions cleanup, wait_for, diag, A, skip_all, gw_setup, muxd_start.
# Callers set N (their plan) before sourcing.

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
cd_bin=$build/cdclient/bgw-cdclient
pw='k9#Vm2!qLz7p-Tx5'

[ "$(id -u)" = 0 ] || skip_all "needs root (bgw-muxd reads a root-owned authdb)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
for b in "$muxd" "$adb" "$cd_bin"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=""
mnt=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -z "$mnt" ] || umount "$mnt" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/admin-audit.log" "$@"; }
free_port() {
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

# gw_setup AUDIT_LOG [EXTRA_CONF_LINE...]
gw_setup() {
	local audit=$1 l
	shift
	port=$(free_port SOCK_DGRAM) && tport=$(free_port SOCK_STREAM) ||
		skip_all "cannot find a free port"
	{
		A user add alice &&
		A user add bob &&
		printf '%s\n' "$pw" | A passwd --stdin bob &&
		A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
		A cert issue alice --dir "$tmp/etc" --server "127.0.0.1:$port" --out "$tmp/alice.bundle" &&
		A allow alice 10:B6:00:00:00:04 public &&
		A allow bob 10:B6:00:00:00:03 public
	} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! bgw-authdb could not set up the gateway"; exit 1; }
	printf '%s\n' "$pw" >"$tmp/bob.pw"
	chmod 600 "$tmp/bob.pw"
	cat >"$tmp/muxd.conf" <<EOT
controller sim
sim-time-scale 0.01
listen-dtls 127.0.0.1:$port
listen-tls 127.0.0.1:$tport
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $audit
resume-time 5
authdb $tmp/etc/authdb
runtime-dir $tmp
max-sessions 4
EOT
	for l in "$@"; do printf '%s\n' "$l" >>"$tmp/muxd.conf"; done
}

# muxd_start LOG: start bgw-muxd (under $BGW_WRAP if set), wait for DTLS.
muxd_start() {
	# shellcheck disable=SC2086
	${BGW_WRAP:-} "$muxd" -f -c "$tmp/muxd.conf" >>"$1" 2>&1 &
	mpid=$!
	pids="$pids $mpid"
	wait_for 20 grep -q "tunnel: DTLS on 127.0.0.1 port $port" "$1"
}
