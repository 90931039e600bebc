#!/bin/bash
# How bgw-muxd ends: every abnormal
# end of the core or the network front ends the daemon with status 1, so
# that systemd's Restart=on-failure brings the gateway back; a normal stop
# is status 0 with no error line.
#  - a normal stop as systemd makes it (SIGTERM to every process of the
#    group) and as Ctrl-C on a terminal does (SIGINT to every process),
#    a peer alive: status 0, no "error" line, no "killed by signal"
#    (the old code logged "network front killed by signal 15");
#  - the front killed (SIGKILL), the core killed (SIGKILL): status 1;
#  - an error the front stops on (its monitor request times out: the
#    monitor is stopped while a TCP connection asks for a peer; the front
#    quits its loop with status 1): status 1 -- the old code's front
#    returned 0 there, and the monitor exited 0;
#  - the monitor itself killed (SIGKILL, which it cannot catch): the core,
#    the front and the peers go with it (PR_SET_PDEATHSIG), within a few
#    seconds no bgw-muxd process is left and the DTLS and TLS ports are
#    free for the restart -- the old code's front and its peers lived on,
#    holding the DTLS port.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=6
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
command -v setsid >/dev/null 2>&1 || skip_all "needs setsid"

gw_setup "$tmp/audit.log"
role() { # NAME: the child of bgw-muxd with that comm
	local c
	for c in $(pgrep -P "$mpid"); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$1" ] && echo "$c"
	done
}
logged_in() { grep -q "logged in as $1" "$tmp/cd-$1.log"; }
# Waits for bgw-muxd (at most 20 s); its status in rc.
muxd_wait() {
	local i
	for i in $(seq 200); do
		kill -0 "$mpid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$mpid"
	rc=$?
}

# A process group of its own, as under systemd or on a terminal.
BGW_WRAP="setsid ${BGW_WRAP:-}"
# stop_once SIGNAL LOG [peer]: SIGNAL to the whole group (a peer alive if
# asked); 0 when bgw-muxd exits 0 without an error line.
stop_once() {
	local cdpid=""
	: >"$2"
	muxd_start "$2" || { diag "$2"; echo "Bail out! bgw-muxd did not start"; exit 1; }
	if [ -n "$3" ]; then
		"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
			>"$tmp/cd-alice.log" 2>&1 &
		cdpid=$!
		pids="$pids $cdpid"
		wait_for 30 logged_in alice
		[ -n "$(role "bgw-muxd[peer]")" ] || return 1
	fi
	kill -"$1" -- -"$mpid"
	muxd_wait
	[ -z "$cdpid" ] || { kill "$cdpid"; wait "$cdpid"; } 2>/dev/null
	[ "$rc" -eq 0 ] && ! grep -q ": error: " "$2" && ! grep -q "killed by signal" "$2"
}
# normal_stop SIGNAL: three times without a peer (the old code lost this
# race about one time in two), once with one.
normal_stop() {
	local i bad=""
	for i in 1 2 3; do
		stop_once "$1" "$tmp/stop$1-$i.log" || bad="$bad $i"
	done
	stop_once "$1" "$tmp/stop$1-peer.log" peer || bad="$bad peer"
	t_ok "$([ -z "$bad" ]; echo $?)" "a normal stop (SIG$1 to the group; 3 times, then with a peer): status 0, no error line${bad:+ (not:$bad)}" ||
		for i in $bad; do diag "$tmp/stop$1-$i.log"; done
}
# systemctl stop: SIGTERM to every process.
normal_stop TERM
# Ctrl-C on a terminal: SIGINT to every process, then the monitor's
# SIGTERM, which the old code's front met after its loop had ended.
normal_stop INT

muxd_start "$tmp/log2" || { diag "$tmp/log2"; echo "Bail out! bgw-muxd did not start"; exit 1; }
kill -KILL "$(role "bgw-muxd[net]")"
muxd_wait
[ "$rc" -eq 1 ] && grep -q "network front killed by signal 9" "$tmp/log2"
t_ok $? "the front killed (SIGKILL): status $rc, logged" || diag "$tmp/log2"

muxd_start "$tmp/log3" || { diag "$tmp/log3"; echo "Bail out! bgw-muxd did not start"; exit 1; }
kill -KILL "$(role "bgw-muxd[mux]")"
muxd_wait
[ "$rc" -eq 1 ] && grep -q "core killed by signal 9" "$tmp/log3"
t_ok $? "the core killed (SIGKILL): status $rc, logged" || diag "$tmp/log3"

# The front's request for a peer finds no monitor for RPC_TIMEOUT_MS (10 s).
muxd_start "$tmp/log4" || { diag "$tmp/log4"; echo "Bail out! bgw-muxd did not start"; exit 1; }
kill -STOP "$mpid"
python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
time.sleep(1)' "$tport" 2>>"$tmp/log4"
wait_for 20 grep -q "monitor: .*: stopping" "$tmp/log4"
kill -CONT "$mpid"
muxd_wait
[ "$rc" -eq 1 ] && grep -q "network front exited with status 1" "$tmp/log4"
t_ok $? "the front stops on an error (its monitor does not answer): status $rc" ||
	diag "$tmp/log4"

# The monitor killed with a peer alive: nobody outlives it.
muxd_start "$tmp/log5" || { diag "$tmp/log5"; echo "Bail out! bgw-muxd did not start"; exit 1; }
"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
	>"$tmp/cd-alice.log" 2>&1 &
cdpid=$!
pids="$pids $cdpid"
wait_for 30 logged_in alice
front=$(role "bgw-muxd[net]")
left="$(role "bgw-muxd[mux]") $front $(role "bgw-muxd[peer]")"
# A process is gone when it is no more, or a zombie its new parent has not
# reaped yet.
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
# The ports are free when a plain bind takes them (TCP: SO_REUSEADDR, so a
# connection in TIME_WAIT does not count, only a listener).
ports_free() {
	python3 - "$port" "$tport" <<'PY'
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", int(sys.argv[1])))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", int(sys.argv[2])))
t.listen(1)
PY
}
# The client falls silent: nothing it sends wakes the front up (a
# reconnect made the old code's front ask the dead monitor, and stop).
kill -STOP "$cdpid"
kill -KILL "$mpid"
wait "$mpid" 2>/dev/null
gone=1
for i in $(seq 50); do	# 5 s at most
	still=""
	for p in $left; do alive "$p" && still="$still $p"; done
	if [ -z "$still" ] && ports_free 2>/dev/null; then gone=0; break; fi
	sleep 0.1
done
kill -KILL "$cdpid" 2>/dev/null
wait "$cdpid" 2>/dev/null
[ -n "$front" ] && [ "$(echo $left | wc -w)" -ge 3 ] && [ "$gone" -eq 0 ]
t_ok $? "the monitor killed (SIGKILL): core, front and peer ($(echo $left)) gone within 5 s, the ports free${still:+ (left:$still)}" ||
	diag "$tmp/log5"
for p in $still; do kill -KILL "$p" 2>/dev/null; done
[ $t_failed -eq 0 ]
