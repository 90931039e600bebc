#!/bin/bash
# Many clients behind one address log in together (doc/security.md,
# "Process model" step 1): a peer stops counting as a pending login as
# soon as it has logged in (the front asks the monitor,
# RPC_PEERS_LOGGED_IN), so 10 clients from 127.0.0.1 are all in within
# seconds, where they used to get in 4 per login-time (30 s here: the
# last would have waited a minute). Meanwhile the lock-out protection
# stands for connections that do not log in: idle TLS connections from
# that same address still hold at most 4 pending slots.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=4
NCLI=10
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"

gw_setup "$tmp/audit.log" "login-time 30"
sed -i 's/^max-sessions 4$/max-sessions 16/' "$tmp/muxd.conf"
muxd_start "$tmp/muxd.log" && wait_for 10 grep -q "tunnel: TLS on 127.0.0.1 port $tport" "$tmp/muxd.log"
t_ok $? "bgw-muxd listens on DTLS $port and TLS $tport" || { diag "$tmp/muxd.log"; exit 1; }

# Half alice (certificate), half bob (password), all DTLS from 127.0.0.1.
t0=$(date +%s)
for i in $(seq 1 $NCLI); do
	if [ $((i % 2)) = 0 ]; then
		"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/c$i.sock" \
			>"$tmp/cd$i.log" 2>&1 &
	else
		"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
			--password-file "$tmp/bob.pw" --expose "unix:$tmp/c$i.sock" \
			>"$tmp/cd$i.log" 2>&1 &
	fi
	pids="$pids $!"
done
all_in() {
	local i
	for i in $(seq 1 $NCLI); do
		grep -q "logged in as" "$tmp/cd$i.log" || return 1
	done
}
# 25 s: well under the 30 s a fifth client used to wait, room for a
# loaded machine (each login is a handshake and a proof).
wait_for 25 all_in
r=$?
t_ok $r "$NCLI clients from one address all log in ($(($(date +%s) - t0)) s; before: 4 per 30 s)" ||
	for i in $(seq 1 $NCLI); do tail -3 "$tmp/cd$i.log" | diag; done

# Six idle TLS connections from the same address: 4 held, the rest
# refused at once (none of them logs in).
timeout 30 python3 "$src/tests/pending_flood.py" 127.0.0.1 "$tport" 127.0.0.N:1-1 6 4 \
	>"$tmp/flood.out" 2>&1
echo "# idle connections from 127.0.0.1: $(cat "$tmp/flood.out")"
get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$tmp/flood.out"; }
[ "$(get held_max)" = 4 ] && [ "$(get closed_fast)" -gt 0 ]
t_ok $? "connections that do not log in still hold at most 4 pending slots from one host" ||
	diag "$tmp/flood.out"
grep -q "new peer refused: too many logins pending from this host" "$tmp/muxd.log"
t_ok $? "the front logs the refusals" || tail -20 "$tmp/muxd.log" | diag
