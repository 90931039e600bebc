#!/bin/sh
# bgw-muxd's privilege separation (doc/security.md): a monitor and the
# core, bgw-muxd[mux]; the core sandboxed (NoNewPrivs, seccomp filter
# mode) and, when started as root, not running as root; a client served
# through the core; a core killed with SIGKILL makes the monitor log it
# and exit with status 1 (its documented outcome), socket removed;
# `sandbox no` leaves the filter off and says so. With the tunnel (as
# root): the network front bgw-muxd[net] joins them, sandboxed too; a
# password login works while the monitor keeps the verifiers -- the
# monitor's messages, captured with strace, carry the user's salt but
# never StoredKey or ServerKey -- a wrong password is refused and counted
# once, by the monitor, and a stream of wrong proofs is rate limited by
# the monitor; the server's key is the monitor's: no other process can
# open it, and after handshakes (signed by the monitor) neither the core's
# nor the front's memory holds a form of it (tests/memscan.py); a key
# that does not match the certificate stops the daemon, all processes.
# The peer processes' isolation from each other: t-muxd-isolation.sh.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

echo "1..20"
muxd="$BGW_BUILDDIR/muxd/bgw-muxd"
client="$BGW_BUILDDIR/tests/sim-client"
tmp=$(mktemp -d)
chmod 755 "$tmp"
sock="$tmp/muxd.sock"
pid=""
spid=""
cdb=""
trap 'for p in $pid $spid $cdb; do kill "$p" 2>/dev/null; done; [ -n "$KEEP" ] || rm -rf "$tmp"' EXIT

me=$(id -un)
cat >"$tmp/authdb" <<EOT
user $me
allow $me 10:B6:00:00:00:04 public
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
controller sim
listen unix:$sock
authdb $tmp/authdb
runtime-dir $tmp
socket-mode 0666
sim-time-scale 0.01
EOT

start() {
	"$muxd" -f -c "$1" 2>"$2" &
	pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	i=0
	while ! grep -q "started:" "$2" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	core=""
	front=""
	for c in $(pgrep -P "$pid"); do
		case $(cat /proc/"$c"/comm 2>/dev/null) in
		"bgw-muxd[mux]") core=$c ;;
		"bgw-muxd[net]") front=$c ;;
		esac
	done
}

# -t refuses what the start would: a listener path that is a plain file.
touch "$tmp/plain"
sed "s|^listen unix:.*|listen unix:$tmp/plain|" "$tmp/muxd.conf" >"$tmp/plain.conf"
"$muxd" -t -c "$tmp/plain.conf" >"$tmp/t.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "exists and is not a socket" "$tmp/t.out"
t_ok $? "-t refuses a listener path that is not a socket (status $rc)" || sed 's/^/# /' "$tmp/t.out"

start "$tmp/muxd.conf" "$tmp/log"
[ -n "$core" ] && [ -z "$front" ] && [ "$(pgrep -P "$pid" | wc -l)" -eq 1 ] &&
	[ "$(cat /proc/"$pid"/comm)" = "bgw-muxd" ]
t_ok $? "without the tunnel two processes: the monitor and bgw-muxd[mux]" || sed 's/^/# /' "$tmp/log"

grep -q "^Seccomp:[[:space:]]*2" /proc/"$core"/status &&
	grep -q "^NoNewPrivs:[[:space:]]*1" /proc/"$core"/status
t_ok $? "the core: seccomp filter mode, no new privileges"

grep -q "^Seccomp:[[:space:]]*0" /proc/"$pid"/status
t_ok $? "the monitor is not filtered (it opens the controller, reads the authdb)"

wuid=$(awk '/^Uid:/ { print $3 }' /proc/"$core"/status)
if [ "$(id -u)" = 0 ]; then
	[ "$wuid" != 0 ] && ! grep -q "^CapEff:[[:space:]]*0*[1-9a-f]" /proc/"$core"/status
	t_ok $? "as root: the core runs as uid $wuid without capabilities"
else
	[ "$wuid" = "$(id -u)" ] && grep -q "not started as root" "$tmp/log"
	t_ok $? "not root: nothing to drop, said once in the log"
fi

timeout 60 "$client" "$sock" >"$tmp/c.out" 2>&1 && grep -q "echo ok 10:B6:00:00:00:04" "$tmp/c.out"
t_ok $? "a local client works through the sandboxed core" ||
	sed 's/^/# /' "$tmp/c.out" "$tmp/log"

kill -KILL "$core"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid"
rc=$?
pid=""
[ $rc -eq 1 ] && grep -q "core killed by signal 9" "$tmp/log" && [ ! -e "$sock" ]
t_ok $? "core killed: the monitor logs it and exits 1 (status $rc), socket removed" ||
	sed 's/^/# /' "$tmp/log"

# The filter kills with SIGSYS; the core has no way to be told to make a
# forbidden call, so SIGSYS sent by hand stands in for the kernel's and
# checks the monitor's report of it.
start "$tmp/muxd.conf" "$tmp/log3"
kill -SYS "$core"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid"
rc=$?
pid=""
[ $rc -eq 1 ] && grep -q "killed by the sandbox" "$tmp/log3"
t_ok $? "a core ended by SIGSYS is reported as a sandbox kill (status $rc)" ||
	sed 's/^/# /' "$tmp/log3"

sed 's/^controller sim/sandbox no\ncontroller sim/' "$tmp/muxd.conf" >"$tmp/nosb.conf"
start "$tmp/nosb.conf" "$tmp/log2"
grep -q "^Seccomp:[[:space:]]*0" /proc/"$core"/status && grep -q "sandbox off" "$tmp/log2"
t_ok $? "sandbox no: no filter, and the log says so" || sed 's/^/# /' "$tmp/log2"
# max-sessions-per-user 1: a second connection of the same user is refused
# with a log line while the first is held open.
kill -TERM "$pid"
wait "$pid"
sed 's/^controller sim/max-sessions-per-user 1\ncontroller sim/' "$tmp/muxd.conf" >"$tmp/cap.conf"
start "$tmp/cap.conf" "$tmp/log4"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
time.sleep(8)
' "$sock" &
holder=$!
i=0
while ! grep -q "local session" "$tmp/log4" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
timeout 20 "$client" "$sock" >"$tmp/cap.out" 2>&1
r=$?
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
[ $r -ne 0 ] && grep -q "refused: max-sessions-per-user 1 reached" "$tmp/log4"
t_ok $? "max-sessions-per-user: the second session of a user is refused, logged" ||
	sed 's/^/# /' "$tmp/log4" "$tmp/cap.out"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ]
t_ok $? "SIGTERM: monitor and core stop cleanly (status $rc)"

# ---- the tunnel: SCRAM verified in the monitor (12-16) ----
tunnel_tests() {
	adb="$BGW_BUILDDIR/authdb/bgw-authdb"
	cd_bin="$BGW_BUILDDIR/cdclient/bgw-cdclient"
	pw='k9#Vm2!qLz7p-Tx5'
	A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/admin-audit.log" "$@"; }
	port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	tport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	{
		A user add bob &&
		printf '%s\n' "$pw" | A passwd --stdin bob &&
		A ca init --dir "$tmp/etc" --ip 127.0.0.1 &&
		A allow bob 10:B6:00:00:00:03 public
	} >"$tmp/admin.log" 2>&1 || { sed 's/^/# /' "$tmp/admin.log"; return 1; }
	printf '%s\n' "$pw" >"$tmp/bob.pw"
	printf 'wrong-Horse-42!\n' >"$tmp/bad.pw"
	chmod 600 "$tmp/bob.pw" "$tmp/bad.pw"
	cat >"$tmp/tun.conf" <<EOT
controller sim
sim-time-scale 0.01
listen unix:$sock
listen-dtls 127.0.0.1:$port
listen-tls 127.0.0.1:$tport
ca $tmp/etc/ca.crt
cert $tmp/etc/server.crt
key $tmp/etc/server.key
scram-secret $tmp/etc/scram.secret
audit-log $tmp/audit.log
authdb $tmp/etc/authdb
runtime-dir $tmp
EOT
	start "$tmp/tun.conf" "$tmp/log5"
	[ -n "$front" ] && grep -q "^Seccomp:[[:space:]]*2" /proc/"$front"/status &&
		[ "$(awk '/^Uid:/ { print $3 }' /proc/"$front"/status)" != 0 ] &&
		! grep -q "^CapEff:[[:space:]]*0*[1-9a-f]" /proc/"$front"/status
	t_ok $? "with the tunnel the network front bgw-muxd[net] too: unprivileged, filtered" ||
		sed 's/^/# /' "$tmp/log5"
	# Everything the monitor sends, as bytes (with a descriptor or not).
	strace -qq -p "$pid" -e trace=sendmsg,writev,write -xx -s 8192 -o "$tmp/mon.trace" 2>/dev/null &
	spid=$!
	i=0
	while [ ! -s "$tmp/mon.trace" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.5

	"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
		--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
	cdb=$!
	i=0
	# The monitor audits the login when it links the peer to the core.
	while ! { grep -q "logged in as bob" "$tmp/cd-bob.log" &&
		  grep -q " login-ok .*user=bob .*password" "$tmp/audit.log"; } 2>/dev/null &&
	      [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "logged in as bob" "$tmp/cd-bob.log" &&
		grep -q " login-ok .*user=bob .*password" "$tmp/audit.log"
	t_ok $? "a password login through a peer process, verified by the monitor" ||
		sed 's/^/# /' "$tmp/cd-bob.log" "$tmp/log5"
	kill -TERM "$cdb"
	wait "$cdb" 2>/dev/null

	timeout 60 "$cd_bin" -f --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
		--password-file "$tmp/bad.pw" --expose "unix:$tmp/bad.sock" >"$tmp/cd-bad.log" 2>&1
	rc=$?
	sleep 0.5
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	nfail=$(grep -c " login-fail .*user=bob .*src=127.0.0.1" "$tmp/audit.log")
	[ "$rc" -eq 1 ] && [ "$nfail" -eq 1 ]
	t_ok $? "a wrong password is refused (exit $rc) and counted once ($nfail audit records)" ||
		sed 's/^/# /' "$tmp/cd-bad.log" "$tmp/log5"

	# bob's verifier from the authdb, as strace -xx shows bytes.
	hexof() { python3 -c 'import base64, sys; print("".join("\\x%02x" % b for b in base64.b64decode(sys.argv[1])))' "$1"; }
	set -- $(awk '$1 == "password" && $2 == "bob" { print $5, $6, $7 }' "$tmp/etc/authdb")
	salt=$(hexof "$1") sk=$(hexof "$2") svk=$(hexof "$3")
	[ -n "$salt" ] && grep -qF "$salt" "$tmp/mon.trace" &&
		! grep -qF "$sk" "$tmp/mon.trace" && ! grep -qF "$svk" "$tmp/mon.trace"
	t_ok $? "the peer was sent bob's salt, never his StoredKey or ServerKey" ||
		{ echo "# salt $salt"; grep -c . "$tmp/mon.trace" | sed 's/^/# lines: /'; }

	# The server's key: root's file, read by the monitor only; the
	# handshakes above were signed by the monitor (RPC_SIGN).
	wuid=$(awk '/^Uid:/ { print $3 }' /proc/"$front"/status)
	[ "$(stat -c %a:%u "$tmp/etc/server.key")" = "600:0" ] && [ "$wuid" != 0 ] &&
		! setpriv --reuid="$wuid" --regid="$wuid" --clear-groups \
			cat "$tmp/etc/server.key" >/dev/null 2>&1 &&
		! ls -l /proc/"$core"/fd /proc/"$front"/fd | grep -q server.key
	t_ok $? "the unprivileged uid $wuid cannot open the key (0600, root); core and front do not hold it open"
	# The key in every form it could take in the core's or the front's
	# memory (the peers' is t-muxd-isolation.sh's).
	needles=$(key_needles "$tmp/etc/server.key") &&
		python3 "$BGW_SRCDIR/tests/memscan.py" "$core" $needles >"$tmp/scan.out" 2>&1 &&
		python3 "$BGW_SRCDIR/tests/memscan.py" "$front" $needles >>"$tmp/scan.out" 2>&1
	t_ok $? "after handshakes neither the core's nor the front's memory holds a form of the server key" ||
		sed 's/^/# /' "$tmp/scan.out"

	timeout 120 python3 "$BGW_SRCDIR/tests/login_flood.py" 127.0.0.2 127.0.0.1 "$tport" bob 30 60 \
		>"$tmp/flood.out" 2>&1
	echo "# $(cat "$tmp/flood.out")"
	get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$tmp/flood.out"; }
	chk=$(get checked) lim=$(get limited)
	afail=$(grep -c " login-fail .*user=bob .*src=127.0.0.2" "$tmp/audit.log")
	[ "${chk:-99}" -le 8 ] && [ "${lim:-0}" -ge 22 ] && [ "$afail" -eq "$chk" ]
	t_ok $? "30 wrong proofs: $chk checked by the monitor ($afail audited), $lim rate limited" ||
		tail -5 "$tmp/log5" | sed 's/^/# /'

	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	pid=""
	[ $rc -eq 0 ]
	t_ok $? "SIGTERM with the tunnel: monitor, core and front stop cleanly (status $rc)"

	# A key that is not the certificate's: the monitor finds out after
	# the forks, says so, exits 1 and takes the core and the front with it.
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
		--outfile "$tmp/etc/server.key" >/dev/null 2>&1 ||
		openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/etc/server.key" 2>/dev/null
	chmod 600 "$tmp/etc/server.key"
	timeout 30 "$muxd" -d -c "$tmp/tun.conf" >"$tmp/log6" 2>&1
	rc=$?
	wpid=$(sed -n 's/.*core is process \([0-9]*\).*/\1/p' "$tmp/log6")
	fpid=$(sed -n 's/.*network front is process \([0-9]*\).*/\1/p' "$tmp/log6")
	sleep 0.2
	[ $rc -eq 1 ] && grep -q "key .*server.crt: The certificate and the given key do not match" "$tmp/log6" &&
		[ -n "$wpid" ] && ! kill -0 "$wpid" 2>/dev/null &&
		[ -n "$fpid" ] && ! kill -0 "$fpid" 2>/dev/null
	t_ok $? "a key not matching the certificate: refused, exit $rc, no core or front left" ||
		sed 's/^/# /' "$tmp/log6"
}

if [ "$(id -u)" != 0 ] || ! command -v strace >/dev/null 2>&1 ||
   ! command -v openssl >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1 ||
   ! command -v python3 >/dev/null 2>&1 || [ ! -x "$BGW_BUILDDIR/cdclient/bgw-cdclient" ]; then
	for i in 12 13 14 15 16 17 18 19 20; do
		echo "ok $i # SKIP needs root, strace, openssl, python3 and bgw-cdclient"
	done
else
	tunnel_tests || t_failed=1
fi
[ $t_failed -eq 0 ]
