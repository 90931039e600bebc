#!/bin/bash
# One process per tunnel peer (doc/security.md, "Process model"): alice
# (certificate) and bob (password) log in through bgw-muxd's network
# front, each into a bgw-muxd[peer] process of its own, forked by the
# front bgw-muxd[net]. Each peer is sandboxed (seccomp, no new privileges,
# not root, no capabilities) and not dumpable (its /proc files are
# root's, so a sibling of the same uid cannot read its memory); each holds
# exactly three sockets, none shared with the other peer or the front.
# Each writes a secret local name through its tunnel: the core, which
# runs both virtual controllers, holds both names (the control that the
# scan sees what is there); alice's peer never holds bob's, nor bob's
# alice's; neither holds the server's key. A peer killed by its sandbox
# (SIGSYS) ends alone: bob resumes through a new peer, alice's peer and
# session go on. SIGTERM leaves no process behind. TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=11
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv"

gw_setup "$tmp/audit.log"
# Room for a client to notice a dead channel (keepalives) and resume.
sed -i 's/^resume-time .*/resume-time 60/' "$tmp/muxd.conf"
muxd_start "$tmp/log" || { diag "$tmp/log"; echo "Bail out! bgw-muxd did not start"; exit 1; }
role() { # NAME: the child of bgw-muxd (or of PARENT) with that comm
	local c
	for c in $(pgrep -P "${2:-$mpid}"); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$1" ] && echo "$c"
	done
}
core=$(role "bgw-muxd[mux]")
front=$(role "bgw-muxd[net]")
peers() { role "bgw-muxd[peer]" "$front"; }
logged_in() { grep -q "logged in as $1" "$tmp/cd-$1.log"; }

"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
	>"$tmp/cd-alice.log" 2>&1 &
pids="$pids $!"
wait_for 30 logged_in alice
pa=$(peers)
"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
pids="$pids $!"
wait_for 30 logged_in bob
pb=$(peers | grep -vx "$pa")
[ -n "$core" ] && [ -n "$front" ] && [ -n "$pa" ] && [ -n "$pb" ] &&
	[ "$(peers | wc -l)" -eq 2 ] && logged_in alice && logged_in bob
t_ok $? "two logins, two bgw-muxd[peer] processes of the front ($pa alice, $pb bob)" ||
	{ diag "$tmp/log" "$tmp/cd-alice.log" "$tmp/cd-bob.log"; exit 1; }

ok=0
for p in $pa $pb; do
	uid=$(awk '/^Uid:/ { print $3 }' /proc/"$p"/status)
	grep -q "^Seccomp:[[:space:]]*2" /proc/"$p"/status &&
		grep -q "^NoNewPrivs:[[:space:]]*1" /proc/"$p"/status && [ "$uid" != 0 ] &&
		! grep -q "^CapEff:[[:space:]]*0*[1-9a-f]" /proc/"$p"/status || ok=1
done
t_ok $ok "each peer: seccomp filter, no new privileges, uid $uid, no capabilities"

# Not dumpable: the kernel gives its /proc files to root, so the other
# peer (same uid) can open neither its memory nor its descriptors.
[ "$(stat -c %u /proc/"$pa"/mem)" = 0 ] && [ "$(stat -c %u /proc/"$pb"/mem)" = 0 ] &&
	! setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		dd if=/proc/"$pa"/mem bs=1 count=1 of=/dev/null 2>/dev/null &&
	! setpriv --reuid="$uid" --regid="$uid" --clear-groups ls /proc/"$pb"/fd >/dev/null 2>&1
t_ok $? "peers are not dumpable: uid $uid reads neither one's memory nor descriptors"

sockets() { # PID: its socket inodes, one per line
	for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | sort
}
sockets "$pa" >"$tmp/sa"
sockets "$pb" >"$tmp/sb"
sockets "$front" >"$tmp/sf"
[ "$(wc -l <"$tmp/sa")" -eq 3 ] && [ "$(wc -l <"$tmp/sb")" -eq 3 ] &&
	[ -z "$(comm -12 "$tmp/sa" "$tmp/sb")" ] && [ -z "$(comm -12 "$tmp/sa" "$tmp/sf")" ] &&
	[ -z "$(comm -12 "$tmp/sb" "$tmp/sf")" ]
t_ok $? "each peer holds three sockets (peer, monitor, core), none of the other's or the front's" ||
	{ ls -l /proc/"$pa"/fd /proc/"$pb"/fd | diag; }

ma="alice-secret-$RANDOM$RANDOM" mb="bob-secret-$RANDOM$RANDOM"
python3 "$src/tests/h4_local_name.py" "$tmp/alice.sock" "$ma" >"$tmp/na.out" 2>&1 &&
	python3 "$src/tests/h4_local_name.py" "$tmp/bob.sock" "$mb" >"$tmp/nb.out" 2>&1
t_ok $? "each writes a secret local name through its own tunnel" ||
	diag "$tmp/na.out" "$tmp/nb.out" "$tmp/log"

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
python3 "$src/tests/memscan.py" "$core" "$(hex "$ma")" "$(hex "$mb")" >"$tmp/scan-core" 2>&1
[ $? -eq 1 ] && [ "$(grep -c found "$tmp/scan-core")" -eq 2 ]
t_ok $? "the core, which runs both virtual controllers, holds both names (the scan's control)" ||
	diag "$tmp/scan-core"

python3 "$src/tests/memscan.py" "$pa" "$(hex "$mb")" >"$tmp/scan-a" 2>&1 &&
	python3 "$src/tests/memscan.py" "$pb" "$(hex "$ma")" >"$tmp/scan-b" 2>&1
t_ok $? "alice's peer holds nothing of bob's name, bob's peer nothing of alice's" ||
	diag "$tmp/scan-a" "$tmp/scan-b"

# The server's key in every form: the peers signed their handshakes
# through the monitor.
needles=$(key_needles "$tmp/etc/server.key") &&
	python3 "$src/tests/memscan.py" "$pa" $needles >"$tmp/scan-ka" 2>&1 &&
	python3 "$src/tests/memscan.py" "$pb" $needles >"$tmp/scan-kb" 2>&1
t_ok $? "neither peer's memory holds a form of the server key" || diag "$tmp/scan-ka" "$tmp/scan-kb"

# A peer killed by its filter (SIGSYS by hand stands in for the kernel's):
# only bob's channel is lost; his client resumes through a new peer.
kill -SYS "$pb"
wait_for 60 grep -q "session resumed" "$tmp/cd-bob.log"
pb2=$(peers | grep -vx "$pa")
kill -0 "$mpid" && [ -n "$pb2" ] && [ "$pb2" != "$pb" ] && grep -q "killed by the sandbox" "$tmp/log"
t_ok $? "bob's peer killed by the sandbox: logged, bob resumed through peer $pb2" ||
	diag "$tmp/log" "$tmp/cd-bob.log"

python3 "$src/tests/h4_local_name.py" "$tmp/alice.sock" "alice-again" >"$tmp/na2.out" 2>&1 &&
	kill -0 "$pa" && ! grep -q "session resumed" "$tmp/cd-alice.log"
t_ok $? "alice's peer and session go on undisturbed" || diag "$tmp/na2.out" "$tmp/cd-alice.log"

all="$mpid $core $front $(peers)"
kill -TERM "$mpid"
wait "$mpid"
rc=$?
sleep 0.5
left=""
for p in $all; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
[ $rc -eq 0 ] && [ -z "$left" ]
t_ok $? "SIGTERM: status $rc, no process left${left:+ (left:$left)}" || diag "$tmp/log"
[ $t_failed -eq 0 ]
