#!/bin/sh
# Household bonds end to end: bgw-muxd on the simulated house, two users'
# hosts (tests/bond-host, each keeping its own bond file as BlueZ does)
# taking turns on the speaker over the local listener. alice pairs once;
# then bob and alice connect in turn, ten times each, and every
# authentication and encryption succeeds with no host asked for a key;
# the store is 0600 and names alice; no host got the household key, and
# the key is in no log and no session's btsnoop trace; a user without a
# grant gets no link; after the admin's bond forget, a stale host key is
# refused by the device, that host pairs again and makes the new bond.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

n=12
echo "1..$n"
muxd="$BGW_BUILDDIR/muxd/bgw-muxd"
host="$BGW_BUILDDIR/tests/bond-host"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	i=1
	while [ $i -le $n ]; do echo "ok $i # SKIP needs root and setpriv"; i=$((i + 1)); done
	exit 0
fi
tmp=$(mktemp -d)
chmod 755 "$tmp"
mkdir "$tmp/alice" "$tmp/bob" "$tmp/carol" "$tmp/state"
chown nobody "$tmp/bob"
chown 12345 "$tmp/carol"
sock="$tmp/muxd.sock"
speaker=10:B6:00:00:00:04
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/authdb" <<EOT
user alice
user bob
user carol
allow alice $speaker public
allow bob $speaker public
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-bonds.sh
controller sim
listen unix:$sock
authdb $tmp/authdb
bonds $tmp/state/bonds
runtime-dir $tmp
socket-mode 0666
sim-time-scale 0.01
max-sessions 4
log-level debug
uid-map 0 alice
uid-map 65534 bob
uid-map 12345 carol
EOT

"$muxd" -f -c "$tmp/muxd.conf" 2>"$tmp/log" &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

alice() { timeout 30 "$host" "$sock" $speaker "$tmp/alice/bond" "$tmp/alice/snoop.$1"; }
bob() {
	timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$host" "$sock" $speaker "$tmp/bob/bond" "$tmp/bob/snoop.$1"
}

# 1: the first pairing, as without bonds: alice's host is asked, pairs.
alice 0 >"$tmp/a0.out" 2>&1 && grep -qx "auth 0x00" "$tmp/a0.out" &&
	grep -qx "asked 1" "$tmp/a0.out" && [ -s "$tmp/alice/bond" ]
t_ok $? "alice pairs the speaker (authenticated and encrypted)" ||
	sed 's/^/# /' "$tmp/a0.out" "$tmp/log"

# 2: the store: mode 0600, one bond for the speaker, made by alice.
mode=$(stat -c %a "$tmp/state/bonds" 2>/dev/null)
[ "$mode" = 600 ] &&
	grep -q "^bond $speaker public by alice at [0-9]* linkkey [0-9a-f]\{32\} linkkey-type 4$" \
		"$tmp/state/bonds"
t_ok $? "the household bond is kept, mode $mode, made by alice" ||
	sed 's/^/# /' "$tmp/state/bonds"
hkey=$(sed -n "s/^bond $speaker .* linkkey \([0-9a-f]*\) .*/\1/p" "$tmp/state/bonds")

# 3: alice's host stored a key of its own, not the household's.
akey=$(cut -d' ' -f1 "$tmp/alice/bond")
[ -n "$hkey" ] && [ -n "$akey" ] && [ "$akey" != "$hkey" ]
t_ok $? "alice's host holds its own key, not the device's"

# 4: ten alternations: bob, then alice; nobody is asked for a key.
ok=0
i=1
while [ $i -le 10 ]; do
	bob "$i" >"$tmp/b$i.out" 2>&1 && grep -qx "asked 0" "$tmp/b$i.out" &&
		alice "$i" >"$tmp/a$i.out" 2>&1 && grep -qx "asked 0" "$tmp/a$i.out" &&
		ok=$((ok + 1))
	i=$((i + 1))
done
[ $ok -eq 10 ]
t_ok $? "bob and alice in turn: $ok of 10 rounds authenticated and encrypted both" ||
	sed 's/^/# /' "$tmp/b1.out" "$tmp/a1.out"

# 5: bob's host never got a key, and the store still holds alice's one bond.
[ ! -e "$tmp/bob/bond" ] && [ "$(grep -c '^bond ' "$tmp/state/bonds")" = 1 ] &&
	grep -q " linkkey $hkey " "$tmp/state/bonds"
t_ok $? "one household bond, unchanged; bob's host holds no key"

# 6: carol has no grant: no link, no key.
timeout 30 setpriv --reuid=12345 --regid=12345 --clear-groups \
	"$host" "$sock" $speaker "$tmp/carol/bond" "$tmp/carol/snoop" >"$tmp/c.out" 2>&1
[ $? -ne 0 ] && grep -q "connection failed (0x0f)" "$tmp/c.out"
t_ok $? "carol, without a grant, gets no link (Unacceptable BD_ADDR)" ||
	sed 's/^/# /' "$tmp/c.out"

# 7: the household key is in no session's btsnoop trace ...
hexdump_all() { for f in "$@"; do od -An -v -tx1 "$f" | tr -d ' \n'; echo; done; }
# a link key travels least significant octet first, as stored
hexdump_all "$tmp"/alice/snoop.* "$tmp"/bob/snoop.* >"$tmp/snoops.hex"
[ -n "$hkey" ] && [ -s "$tmp/snoops.hex" ] && ! grep -q "$hkey" "$tmp/snoops.hex" &&
	grep -q "$akey" "$tmp/snoops.hex"
t_ok $? "the household key is in no session's snoop trace (alice's own key is)"

# 8-10: the admin starts the speaker over. The device still holds the
# old key; bob's host has none and pairs; the device now holds bob's
# new key (one bond per central), kept as the new household bond.
A() { "$BGW_BUILDDIR/authdb/bgw-authdb" --db "$tmp/authdb" --audit "$tmp/audit.log" --bonds "$tmp/state/bonds" "$@"; }
A bond forget $speaker >"$tmp/f.out" 2>&1 && ! grep -q "^bond " "$tmp/state/bonds"
t_ok $? "bgw-authdb bond forget removes the bond" || sed 's/^/# /' "$tmp/f.out"
bob 20 >"$tmp/b20.out" 2>&1 && grep -qx "asked 1" "$tmp/b20.out" &&
	grep -q "^bond $speaker public by bob " "$tmp/state/bonds"
t_ok $? "bob's host pairs again and makes the new household bond" ||
	sed 's/^/# /' "$tmp/b20.out" "$tmp/state/bonds"
alice 20 >"$tmp/a20.out" 2>&1 && grep -qx "asked 0" "$tmp/a20.out"
t_ok $? "alice authenticates with it at once, not asked" || sed 's/^/# /' "$tmp/a20.out"

# 11: ... nor in the daemon's log (debug level).
kill "$pid"
wait "$pid" 2>/dev/null
pid=""
upper=$(echo "$hkey" | tr a-f A-F)
spaced=$(echo "$hkey" | sed 's/../& /g; s/ $//')
grep -q "household bond" "$tmp/log" && ! grep -qi -e "$hkey" -e "$upper" -e "$spaced" "$tmp/log"
t_ok $? "the household key is in no log line" || sed 's/^/# /' "$tmp/log" | tail -20

# 12: bgw-muxd -t refuses a damaged store, naming its line.
printf 'bond %s public by alice at 1 linkkey 0011 linkkey-type 4\n' $speaker >"$tmp/state/bonds"
"$muxd" -t -c "$tmp/muxd.conf" >"$tmp/t.out" 2>&1
[ $? -ne 0 ] && grep -q "bonds:1: linkkey wants 32 hex digits" "$tmp/t.out"
t_ok $? "-t refuses a damaged bond store with its line" || sed 's/^/# /' "$tmp/t.out"
