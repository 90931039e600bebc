#!/bin/bash
# bgw-muxd.service's first start on a fresh system, under the unit's own
# file system sandbox. systemd is not PID 1 where the tests run (nor in
# the QEMU guest, whose PID 1 is the harness's shell), and booting one in
# a container would run the host's boot units; so this emulates what
# systemd sets up for the unit's file system options, read from the unit
# file itself, in a private mount namespace (unshare -m): overlays make
# /etc and /var fresh and throw-away, the admin's setup runs
# (bgw-authdb ca init, user add, passwd, a configuration with default
# paths), the state and log directories are wiped, then, as systemd does:
# StateDirectory=, LogsDirectory= and RuntimeDirectory= made (0700/0755)
# and left writable, everything else remounted read-only
# (ProtectSystem=strict), /tmp private (PrivateTmp=). ExecStartPre= and
# ExecStart= then run as written. Before the state moved to
# StateDirectory=, -t failed here: /etc/bgw/scram.secret could not be
# created. TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=6
echo "1..$N"
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespaces, overlays)"
for c in unshare findmnt python3; do
	command -v $c >/dev/null 2>&1 || skip_all "$c not installed"
done
unshare -m --propagation private true 2>/dev/null || skip_all "unshare -m not permitted here"
unit=$BGW_SRCDIR/systemd/bgw-muxd.service.in
for b in "$BGW_BUILDDIR/muxd/bgw-muxd" "$BGW_BUILDDIR/authdb/bgw-authdb" \
	"$BGW_BUILDDIR/cdclient/bgw-cdclient"; do
	[ -x "$b" ] || skip_all "$(basename "$b") not built"
done
# The options this emulation implements must be the unit's.
for o in ProtectSystem=strict PrivateTmp=yes StateDirectory=bgw LogsDirectory=bgw \
	RuntimeDirectory=bgw ConfigurationDirectory=bgw; do
	grep -qx "$o" "$unit" || skip_all "the unit no longer says $o: update this test"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pre=$(sed -n "s|^ExecStartPre=@sbindir@/|$BGW_BUILDDIR/muxd/|p" "$unit")
start=$(sed -n "s|^ExecStart=@sbindir@/|$BGW_BUILDDIR/muxd/|p" "$unit")

cat >"$tmp/inner.sh" <<'INNER'
set -u
. "$BGW_SRCDIR/tests/lib.sh"
# Never outside the private namespace: what follows remounts / read-only.
if [ "$(readlink /proc/self/ns/mnt)" = "$hostns" ]; then
	echo "Bail out! not in a private mount namespace"
	exit 1
fi
adb=$BGW_BUILDDIR/authdb/bgw-authdb
pw='Harbour-Kite-37-Plum'
mount -t tmpfs -o mode=0700 tmpfs "$tmp/ov" || exit 1
for d in etc var; do
	mkdir -p "$tmp/ov/$d/u" "$tmp/ov/$d/w"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$tmp/ov/$d/u,workdir=$tmp/ov/$d/w" "/$d" ||
		{ echo "Bail out! cannot overlay /$d"; exit 1; }
done
mount -t tmpfs -o mode=0755 tmpfs /run
rm -rf /etc/bgw /var/lib/bgw /var/log/bgw

# The admin's setup, as the README says, with the default paths.
{
	"$adb" ca init --ip 127.0.0.1 &&
	"$adb" user add bob &&
	printf '%s\n' "$pw" | "$adb" passwd --stdin bob &&
	"$adb" allow bob 10:B6:00:00:00:03 public
} >"$tmp/admin.log" 2>&1 || { diag "$tmp/admin.log"; echo "Bail out! admin setup"; exit 1; }
cat >/etc/bgw/bgw-muxd.conf <<EOT
controller sim
sim-time-scale 0.01
listen-dtls 127.0.0.1:$port
authdb /etc/bgw/authdb
EOT
printf '%s\n' "$pw" >/etc/bgw/bob.pw && chmod 600 /etc/bgw/bob.pw
# A fresh system: no state, no logs (systemd makes the directories).
rm -rf /var/lib/bgw /var/log/bgw
mkdir -m 0700 /var/lib/bgw /var/log/bgw
mkdir -m 0755 /run/bgw
# ProtectSystem=strict: everything read-only but the API file systems
# and the unit's directories; PrivateTmp=yes.
# On the namespace's own tmpfs: a file open for writing on / would keep
# it from being remounted read-only (EBUSY).
exec 3>"$tmp/ov/muxd.log" 4>"$tmp/ov/cd.log"
# PrivateTmp= hides the host's /tmp, where the sources and the build may
# be (a CI clone): keep the old /tmp reachable here to bind them back.
mkdir /run/.hosttmp && mount --rbind /tmp /run/.hosttmp
for d in /var/lib/bgw /var/log/bgw /run/bgw; do mount --bind "$d" "$d"; done
findmnt -rno TARGET | sort -r | while read -r m; do
	case $m in
	/dev|/dev/*|/proc|/proc/*|/sys|/sys/*|/var/lib/bgw|/var/log/bgw|/run/bgw|"$tmp"*) ;;
	/run/netns|/run/netns/*) ;;	# under the new /run: out of reach
	*) mount -o remount,bind,ro "$m" 2>&1 | diag ;;
	esac
done
mount -t tmpfs tmpfs /tmp
for d in "$BGW_SRCDIR" "$BGW_BUILDDIR"; do
	case $d in
	/tmp/*)
		mkdir -p "$d" && mount --bind "/run/.hosttmp/${d#/tmp/}" "$d" &&
			mount -o remount,bind,ro "$d" ;;
	esac
done
ro=0
for f in /etc/bgw/x /usr/x "$BGW_BUILDDIR/x"; do
	touch "$f" 2>/dev/null && { echo "# $f is writable"; ro=1; rm -f "$f"; }
done
for d in /var/lib/bgw /var/log/bgw /run/bgw; do
	{ touch "$d/x" && rm "$d/x"; } || { echo "# $d is not writable"; ro=1; }
done
t_ok $ro "the sandbox: /etc, /usr and the build read-only, the unit's directories writable"

$pre >&3 2>&1
t_ok $? "ExecStartPre ($pre) passes on the fresh system" || diag /proc/self/fd/3
$start >&3 2>&1 &
mpid=$!
wait_for 20 grep -q "tunnel: DTLS on 127.0.0.1 port $port" /proc/self/fd/3
t_ok $? "ExecStart: bgw-muxd starts and listens" || diag /proc/self/fd/3
[ "$(stat -c %a /var/lib/bgw/scram.secret)" = 600 ] && [ -s /var/lib/bgw/audit.key ] &&
	[ -s /var/lib/bgw/audit.head ] && [ ! -e /etc/bgw/scram.secret ]
t_ok $? "the secrets were created in the StateDirectory, none in /etc/bgw" || ls -la /var/lib/bgw /etc/bgw | diag
"$BGW_BUILDDIR/cdclient/bgw-cdclient" -f -v --server "127.0.0.1:$port" --user bob \
	--ca /etc/bgw/ca.crt --password-file /etc/bgw/bob.pw --expose unix:/run/bgw/bob.sock >&4 2>&1 &
cpid=$!
wait_for 20 grep -q "logged in as bob" /proc/self/fd/4
t_ok $? "bob logs in with his password" || diag /proc/self/fd/4 /proc/self/fd/3
kill -TERM $cpid 2>/dev/null
wait $cpid 2>/dev/null
"$adb" audit verify >/dev/null 2>&1 && grep -q " login-ok user=bob " /var/log/bgw/audit.log
t_ok $? "the login is in the keyed audit log, which verifies" || diag /var/log/bgw/audit.log
kill -TERM $mpid 2>/dev/null
wait $mpid 2>/dev/null
exit $t_failed
INNER
mkdir -p "$tmp/ov"
hostns=$(readlink /proc/$$/ns/mnt) tmp=$tmp port=$port pre=$pre start=$start BGW_SRCDIR=$BGW_SRCDIR BGW_BUILDDIR=$BGW_BUILDDIR \
	timeout 120 unshare -m --propagation private bash "$tmp/inner.sh"
