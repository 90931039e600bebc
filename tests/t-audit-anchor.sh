#!/bin/bash
# The audit log's anchors, end to end: bgw-muxd writes keyed records
# (HMAC-SHA-256, the key beside the log and mode 0600) and logs each
# record's count and head to its log (syslog/the journal in service);
# `bgw-authdb audit verify` accepts the log and the logged head, and
# reports with its line number each way the log can be rewritten:
# the tail deleted, the file truncated, a record edited and the chain
# recomputed without the key, and a truncation hidden from the anchor
# file but not from the logged head. TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=10
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"

log=$tmp/audit.log
V() { "$adb" --audit "$1" audit verify "${@:2}"; }
gw_setup "$log"
muxd_start "$tmp/muxd.log"
t_ok $? "bgw-muxd listens" || { diag "$tmp/muxd.log"; exit 1; }

"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd.log" 2>&1 &
bpid=$!
pids="$pids $bpid"
wait_for 20 grep -q "audit record [0-9]* login-ok user=bob src=127.0.0.1, head [0-9]*:[0-9a-f]\{64\}" "$tmp/muxd.log"
t_ok $? "the daemon logs each audit record with its count and head" ||
	{ diag "$tmp/muxd.log" "$tmp/cd.log"; }
kill -TERM "$bpid"
wait "$bpid" 2>/dev/null
# The head of the last record, as the daemon logged it (after the record).
wait_for 10 grep -q "session-end" "$log" &&
	wait_for 10 grep -q "audit record [0-9]* session-end.*, head " "$tmp/muxd.log"
head=$(sed -n 's/.*audit record [0-9]* [a-z-]*.*, head \([0-9]*:[0-9a-f]*\)$/\1/p' "$tmp/muxd.log" | tail -1)
kill -TERM "$mpid"
wait "$mpid" 2>/dev/null

grep -q " hmac=[0-9a-f]\{64\}$" "$log" && ! grep -q " hash=" "$log" &&
	[ "$(stat -c %a "$log.key")" = 600 ] && [ "$(stat -c %s "$log.key")" = 32 ]
t_ok $? "records are HMAC-keyed; the key is 32 bytes, mode 0600" || diag "$log"

V "$log" --head "$head" >"$tmp/out" 2>&1
t_ok $? "audit verify accepts the log against its anchor and the logged head $head" ||
	diag "$tmp/out"
n=$(wc -l <"$log")
cp "$log" "$tmp/good" && cp "$log.head" "$tmp/good.head"

# The tail deleted: the chain that is left is valid; the anchor is not.
head -n $((n - 1)) "$tmp/good" >"$log"
V "$log" >"$tmp/out" 2>&1
[ $? -eq 7 ] && grep -q "audit.log:$n: the log ends at record $((n - 1)), but its anchor .* counts $n: records $n to $n were removed (truncated)" "$tmp/out"
t_ok $? "the last record deleted: reported at line $n (exit 7)" || diag "$tmp/out"

: >"$log"
V "$log" >"$tmp/out" 2>&1
[ $? -eq 7 ] && grep -q "audit.log:1: .*records 1 to $n were removed (truncated)" "$tmp/out"
t_ok $? "the file truncated to nothing: reported at line 1" || diag "$tmp/out"

# A record edited and the chain recomputed, without the key (SHA-256).
cp "$tmp/good" "$log"
awk -v OFS=' ' 'NR == 1 { sub(/user=bob/, "user=eve") } { print }' "$tmp/good" | {
	prev=0000000000000000000000000000000000000000000000000000000000000000
	while IFS= read -r l; do
		body=${l% prev=*}
		rec="$body prev=$prev"
		prev=$(printf '%s' "$rec" | sha256sum | cut -c1-64)
		printf '%s hash=%s\n' "$rec" "$prev"
	done
} >"$log"
V "$log" >"$tmp/out" 2>&1
[ $? -eq 7 ] && grep -q "audit.log:1: unkeyed record where the log is keyed" "$tmp/out"
t_ok $? "a record edited and the chain recomputed: reported at line 1" || diag "$tmp/out"

# The same edit keeping "hmac=" (a guessed or wrong key): the MAC fails.
sed '2s/src=127.0.0.1/src=10.9.9.9/' "$tmp/good" >"$log"
V "$log" >"$tmp/out" 2>&1
[ $? -eq 7 ] && grep -q "audit.log:2: HMAC does not match the record: edited or rewritten" "$tmp/out"
t_ok $? "a record edited in place: its HMAC fails at line 2" || diag "$tmp/out"

# Whoever holds the key could truncate and re-anchor the file; the head
# the daemon logged elsewhere still shows it.
cp "$tmp/good" "$log" && cp "$tmp/good.head" "$log.head"
head -n $((n - 1)) "$tmp/good" >"$log"
rm -f "$log.head"
"$adb" --db "$tmp/etc/authdb" --audit "$log" user add carol >/dev/null 2>&1
V "$log" >"$tmp/out" 2>&1
r1=$?
V "$log" --head "$head" >"$tmp/out2" 2>&1
r2=$?
[ $r1 -eq 7 ] && grep -q "audit.log:$n: a writer found the log altered" "$tmp/out" &&
	[ $r2 -eq 7 ] && grep -q "audit.log:$n: record $n is not the one the given head names" "$tmp/out2" &&
	grep -q "^$n .* audit-anchor-mismatch detail=anchor.*missing" "$log"
t_ok $? "tail deleted, anchor removed: the next writer records it, the logged head shows it (line $n)" ||
	diag "$tmp/out" "$tmp/out2" "$log"

# An old log without a key: verified, with a warning.
rm -f "$log" "$log.key" "$log.head"
mv "$tmp/good" "$tmp/legacy"
awk '{ print }' "$tmp/legacy" | {
	prev=0000000000000000000000000000000000000000000000000000000000000000
	while IFS= read -r l; do
		body=${l% prev=*}
		rec="$body prev=$prev"
		prev=$(printf '%s' "$rec" | sha256sum | cut -c1-64)
		printf '%s hash=%s\n' "$rec" "$prev"
	done
} >"$log"
V "$log" >"$tmp/out" 2>&1 && grep -q "warning: .*records 1 to $n are an unkeyed legacy log" "$tmp/out"
t_ok $? "an unkeyed legacy log verifies with a warning" || diag "$tmp/out"
[ $t_failed -eq 0 ]
