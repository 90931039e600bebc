#!/bin/bash
# One process per tunnel peer (doc/security.md, "Process model"): alice
# (certificate) and bob (password) log in through bgw-muxd's network
# front bgw-muxd[net], each into a bgw-muxd[peer] process of its own,
# forked by the monitor under a uid and gid of its own from peer-uid-base.
# Each peer is sandboxed (seccomp, no new privileges, not root, no
# capabilities) and not dumpable (its /proc files are root's); each holds
# exactly three sockets, none shared with the other peer or the front.
# Each writes a secret local name through its tunnel: the core, which
# runs both virtual controllers, holds both names (the control that the
# scan sees what is there); alice's peer never holds bob's, nor bob's
# alice's; neither holds the server's key. A peer killed by its sandbox
# (SIGSYS) ends alone: bob resumes through a new peer, alice's peer and
# session go on. SIGTERM leaves no process behind.
#
# The roles' uids: with the accounts systemd-sysusers makes
# (systemd/bgw.sysusers; here in a mount namespace of the daemon's own, so
# that the test leaves /etc alone), the core runs as "bgw", the front as
# "bgw-net" and the two peers as two different uids of the peers' range,
# with an empty bounding set and no new privileges; a descriptor bgw-muxd
# inherited reaches neither the core nor the front; a peer's stdio is
# /dev/null and its lines reach the log through the monitor, under its
# name. A subverted peer (tests/peer-attack: bob's peer's uid and filter)
# trying prlimit64 on another process's RLIMIT_NOFILE,
# F_SETOWN/F_SETSIG(SIGKILL)/O_ASYNC, kill, ptrace or process_vm_readv
# against the core, the front and alice's peer is killed by its filter;
# without the filter, and without Landlock too (the uid alone), kill of
# the sibling, the front and the core, ptrace, process_vm_readv and
# prlimit64 of the sibling and the front each fail with EPERM, and none of
# them notices (with one uid for all peers, as before, the sibling died).
# A peer range that an account's id falls in is refused at start (-t).
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=19
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv"
command -v unshare >/dev/null 2>&1 || skip_all "needs unshare"
attack=$build/tests/peer-attack
[ -x "$attack" ] || skip_all "tests/peer-attack not built"

# Two free ids for the accounts "bgw" and "bgw-net".
ucore="" unet=""
for i in $(seq 64000 64100); do
	getent passwd "$i" >/dev/null || getent group "$i" >/dev/null && continue
	if [ -z "$ucore" ]; then ucore=$i; else unet=$i; break; fi
done
[ -n "$unet" ] || skip_all "no free uid for the test accounts"
cp /etc/passwd "$tmp/passwd" && cp /etc/group "$tmp/group" &&
	printf 'bgw:x:%s:%s::/:/usr/sbin/nologin\nbgw-net:x:%s:%s::/:/usr/sbin/nologin\n' \
		"$ucore" "$ucore" "$unet" "$unet" >>"$tmp/passwd" &&
	printf 'bgw:x:%s:\nbgw-net:x:%s:\n' "$ucore" "$unet" >>"$tmp/group" ||
	skip_all "cannot copy the account files"
cat >"$tmp/accounts.sh" <<EOT
mount --bind "$tmp/passwd" /etc/passwd && mount --bind "$tmp/group" /etc/group && exec "\$@"
EOT
unshare -m --propagation private true 2>/dev/null || skip_all "cannot make a mount namespace"
BGW_WRAP="unshare -m --propagation private sh $tmp/accounts.sh ${BGW_WRAP:-}"

gw_setup "$tmp/audit.log"
# Room for a client to notice a dead channel (keepalives) and resume.
sed -i 's/^resume-time .*/resume-time 60/' "$tmp/muxd.conf"
# A descriptor left open by whoever starts the daemon.
exec 9>"$tmp/inherited"
muxd_start "$tmp/log" || { diag "$tmp/log"; echo "Bail out! bgw-muxd did not start"; exit 1; }
exec 9>&-
role() { # NAME: the child of bgw-muxd (or of PARENT) with that comm
	local c
	for c in $(pgrep -P "${2:-$mpid}"); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$1" ] && echo "$c"
	done
}
core=$(role "bgw-muxd[mux]")
front=$(role "bgw-muxd[net]")
peers() { role "bgw-muxd[peer]"; }
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
t_ok $? "two logins, two bgw-muxd[peer] processes of the monitor ($pa alice, $pb bob)" ||
	{ diag "$tmp/log" "$tmp/cd-alice.log" "$tmp/cd-bob.log"; exit 1; }

ok=0
for p in $pa $pb; do
	uid=$(awk '/^Uid:/ { print $3 }' /proc/"$p"/status)
	grep -q "^Seccomp:[[:space:]]*2" /proc/"$p"/status &&
		grep -q "^NoNewPrivs:[[:space:]]*1" /proc/"$p"/status && [ "$uid" != 0 ] &&
		! grep -q "^CapEff:[[:space:]]*0*[1-9a-f]" /proc/"$p"/status || ok=1
done
t_ok $ok "each peer: seccomp filter, no new privileges, not root, no capabilities"

status_of() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status; }
# Two concurrent peers, two uids (and gids) of the range, neither an account's.
base=1879048192 count=2048
ua=$(status_of "$pa" Uid) ub=$(status_of "$pb" Uid)
ga=$(status_of "$pa" Gid) gb=$(status_of "$pb" Gid)
[ -n "$ua" ] && [ -n "$ub" ] && [ "$ua" != "$ub" ] && [ "$ga" = "$ua" ] && [ "$gb" = "$ub" ] &&
	[ "$ua" -ge $base ] && [ "$ua" -lt $((base + count)) ] &&
	[ "$ub" -ge $base ] && [ "$ub" -lt $((base + count)) ]
t_ok $? "two concurrent peers run as two uids of peer-uid-base's range (alice $ua, bob $ub), gid = uid" ||
	grep -E "^(Uid|Gid):" /proc/"$pa"/status /proc/"$pb"/status | diag

# Not dumpable: the kernel gives its /proc files to root, so the other
# peer can open neither its memory nor its descriptors.
[ "$(stat -c %u /proc/"$pa"/mem)" = 0 ] && [ "$(stat -c %u /proc/"$pb"/mem)" = 0 ] &&
	! setpriv --reuid="$ub" --regid="$ub" --clear-groups \
		dd if=/proc/"$pa"/mem bs=1 count=1 of=/dev/null 2>/dev/null &&
	! setpriv --reuid="$ua" --regid="$ua" --clear-groups ls /proc/"$pb"/fd >/dev/null 2>&1
t_ok $? "peers are not dumpable: neither peer's uid reads the other's memory or descriptors"

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

ok=0
for p in $core $front $pa $pb; do
	case $p in
	"$core") want=$ucore ;;
	"$front") want=$unet ;;
	"$pa") want=$ua ;;
	*) want=$ub ;;
	esac
	[ "$(status_of "$p" Uid)" = "$want" ] && [ "$(status_of "$p" Gid)" = "$want" ] &&
		[ "$(status_of "$p" CapBnd)" = 0000000000000000 ] &&
		[ "$(status_of "$p" CapPrm)" = 0000000000000000 ] &&
		[ "$(status_of "$p" NoNewPrivs)" = 1 ] || ok=1
done
t_ok $ok "core uid bgw ($ucore), front bgw-net ($unet), peers their own; bounding set empty, no new privileges" ||
	grep -E "^(Uid|Gid|CapBnd|CapPrm|NoNewPrivs):" /proc/"$core"/status /proc/"$front"/status | diag

! ls -l /proc/"$core"/fd /proc/"$front"/fd 2>/dev/null | grep -q "$tmp/inherited" &&
	ls -l /proc/"$mpid"/fd | grep -q "$tmp/inherited"
t_ok $? "a descriptor inherited by bgw-muxd (the monitor's fd 9) is in neither the core nor the front" ||
	ls -l /proc/"$core"/fd /proc/"$front"/fd | diag

ok=0
for p in $pa $pb; do
	for f in 0 1 2; do
		[ "$(readlink /proc/"$p"/fd/$f)" = /dev/null ] || ok=1
	done
done
[ $ok -eq 0 ] && grep -Eq "peer \[?127\.0\.0\.1\]?:[0-9]+: " "$tmp/log"
t_ok $? "each peer's stdin, stdout and stderr are /dev/null; its lines reach the log through the monitor, under its name" ||
	{ ls -l /proc/"$pa"/fd | diag; grep peer "$tmp/log" | head -5 | diag; }

# A subverted peer: each call against each process, under the filters.
nofile() { awk '/^Max open files/ { print $4, $5 }' /proc/"$1"/limits; }
lc=$(nofile "$core") lf=$(nofile "$front") lp=$(nofile "$pa")
bad=""
for call in prlimit setown kill ptrace vmread; do
	for t in "$core" "$front" "$pa"; do
		"$attack" "$ub" "$call" "$t" 2>>"$tmp/attack.log"
		rc=$?
		[ $rc -eq $((128 + 31)) ] || bad="$bad $call:$t:$rc"
	done
done
t_ok "$([ -z "$bad" ]; echo $?)" "a subverted peer's prlimit64, F_SETOWN/F_SETSIG/O_ASYNC, kill, ptrace, process_vm_readv on core, front, sibling: killed by its filter${bad:+ (not:$bad)}" ||
	diag "$tmp/attack.log"

# Without the filter and without Landlock: bob's peer's uid alone. Each
# call fails with EPERM (peer-attack's status 0; 3 another error, 1 it
# went through); F_SETOWN's SIGKILL is not sent (the kernel checks the
# owner's uid when it signals), so only the target's life shows it.
bad=""
for ct in kill:"$pa" kill:"$front" kill:"$core" ptrace:"$pa" vmread:"$pa" \
	prlimit:"$pa" prlimit:"$front" ptrace:"$front"; do
	"$attack" --uid-only "$ub" "${ct%%:*}" "${ct#*:}" 2>>"$tmp/attack.log"
	rc=$?
	[ $rc -eq 0 ] || bad="$bad $ct:$rc"
done
"$attack" --uid-only "$ub" setown "$pa" 2>>"$tmp/attack.log"
"$attack" --uid-only "$ub" setown "$front" 2>>"$tmp/attack.log"
# The same with Landlock's scope, where the kernel has it.
for call in kill prlimit ptrace vmread; do
	"$attack" --no-filter "$ub" "$call" "$pa" 2>>"$tmp/attack.log" || bad="$bad landlock:$call"
done
sleep 0.5
kill -0 "$core" && kill -0 "$front" && kill -0 "$pa" && kill -0 "$pb" &&
	[ "$(nofile "$core")" = "$lc" ] && [ "$(nofile "$front")" = "$lf" ] &&
	[ "$(nofile "$pa")" = "$lp" ] && [ -z "$bad" ]
t_ok $? "without seccomp or Landlock, by the uids alone: kill of sibling, front and core, ptrace, process_vm_readv and prlimit64 of sibling and front fail with EPERM, F_SETOWN's SIGKILL is not sent; core, front and peers alive, limits unchanged${bad:+ (not EPERM:$bad)}" ||
	{ diag "$tmp/attack.log"; echo "# core $(nofile "$core") front $(nofile "$front") alice $(nofile "$pa")"; }

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

# The new peer was forked by the monitor after two logins, a certificate
# check and signatures with the server key: monitor_forget left it
# neither the key nor the SCRAM secret, which the monitor holds (the
# scan's control).
sec=$(od -An -tx1 -v "$tmp/etc/scram.secret" | tr -d ' \n')
python3 "$src/tests/memscan.py" "$mpid" $needles "$sec" >"$tmp/scan-mon" 2>&1
mon_rc=$?
python3 "$src/tests/memscan.py" "$pb2" $needles "$sec" >"$tmp/scan-kb2" 2>&1 && [ $mon_rc -eq 1 ] &&
	sed -n 4p "$tmp/scan-mon" | grep -q found && head -n3 "$tmp/scan-mon" | grep -q found
t_ok $? "a peer the monitor forked late ($pb2) holds neither the server key nor the SCRAM secret; the monitor holds both" ||
	diag "$tmp/scan-kb2" "$tmp/scan-mon"

python3 "$src/tests/h4_local_name.py" "$tmp/alice.sock" "alice-again" >"$tmp/na2.out" 2>&1 &&
	kill -0 "$pa" && ! grep -q "session resumed" "$tmp/cd-alice.log"
t_ok $? "alice's peer and session go on undisturbed" || diag "$tmp/na2.out" "$tmp/cd-alice.log"

# A range of peer ids that an account's falls in: refused at start.
sed -e '/^peer-uid-/d' "$tmp/muxd.conf" >"$tmp/overlap.conf"
printf 'peer-uid-base %s\npeer-uid-count 100\n' "$unet" >>"$tmp/overlap.conf"
# shellcheck disable=SC2086
$BGW_WRAP "$muxd" -t -c "$tmp/overlap.conf" >"$tmp/overlap.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'peer-uid-base.*the account "bgw-net"' "$tmp/overlap.out"
t_ok $? "peer-uid-base over the account bgw-net ($unet): refused by -t (status $rc), naming it" ||
	diag "$tmp/overlap.out"

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
