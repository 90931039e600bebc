#!/bin/sh
# LE household bonds end to end: bgw-muxd on the simulated house, two
# users' hosts (tests/le-bond-host, each keeping its own LTK file as
# BlueZ does) taking turns on the lock over the local listener. alice
# pairs once (legacy, as the lock does): the lock's LTK becomes the
# household bond and her host gets one of its own. bob's host pairs too,
# answered by bgw-muxd for the lock; then bob and alice connect in turn,
# ten times each, every link encrypted with the household key and the
# bolt (readable over an encrypted link only) read. The store names
# alice; the household LTK is in no session's snoop trace nor the log;
# a user without a grant gets no link.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

n=8
echo "1..$n"
muxd="$BGW_BUILDDIR/muxd/bgw-muxd"
host="$BGW_BUILDDIR/tests/le-bond-host"
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
lock=C0:B6:00:00:00:01
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/authdb" <<EOT
user alice
user bob
user carol
allow alice $lock random
allow bob $lock random
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-bonds-le.sh
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

alice() { timeout 30 "$host" "$sock" $lock "$tmp/alice/bond" "$tmp/alice/snoop.$1"; }
bob() {
	timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$host" "$sock" $lock "$tmp/bob/bond" "$tmp/bob/snoop.$1"
}

# 1: the first pairing, as without bonds: alice's host pairs the lock.
alice 0 >"$tmp/a0.out" 2>&1 && grep -qx "paired 1" "$tmp/a0.out" && [ -s "$tmp/alice/bond" ]
t_ok $? "alice pairs the lock (encrypted, the bolt read)" ||
	sed 's/^/# /' "$tmp/a0.out" "$tmp/log"

# 2: the store: mode 0600, one LE bond for the lock, made by alice.
mode=$(stat -c %a "$tmp/state/bonds" 2>/dev/null)
[ "$mode" = 600 ] &&
	grep -q "^bond $lock random by alice at [0-9]* ltk [0-9a-f]\{32\} ediv [0-9]* rand [0-9a-f]\{16\} key-size 16 authenticated no$" \
		"$tmp/state/bonds"
t_ok $? "the household LE bond is kept, mode $mode, made by alice" ||
	sed 's/^/# /' "$tmp/state/bonds"
hkey=$(sed -n "s/^bond $lock .* ltk \([0-9a-f]*\) .*/\1/p" "$tmp/state/bonds")

# 3: alice's host stored an LTK of its own, not the household's.
akey=$(cut -d' ' -f1 "$tmp/alice/bond")
[ -n "$hkey" ] && [ -n "$akey" ] && [ "$akey" != "$hkey" ]
t_ok $? "alice's host holds its own LTK, not the lock's"

# 4: bob's host pairs: answered by bgw-muxd, the lock keeps alice's bond.
bob 0 >"$tmp/b0.out" 2>&1 && grep -qx "paired 1" "$tmp/b0.out" &&
	[ "$(grep -c '^bond ' "$tmp/state/bonds")" = 1 ] && grep -q " ltk $hkey " "$tmp/state/bonds" &&
	grep -q "pairing answered for the device" "$tmp/log"
t_ok $? "bob pairs: answered for the lock, the household bond unchanged" ||
	sed 's/^/# /' "$tmp/b0.out" "$tmp/state/bonds"

# 5: ten alternations, each host with the LTK it stored; none pairs again.
ok=0
i=1
while [ $i -le 10 ]; do
	bob "$i" >"$tmp/b$i.out" 2>&1 && grep -qx "paired 0" "$tmp/b$i.out" &&
		alice "$i" >"$tmp/a$i.out" 2>&1 && grep -qx "paired 0" "$tmp/a$i.out" &&
		ok=$((ok + 1))
	i=$((i + 1))
done
[ $ok -eq 10 ]
t_ok $? "bob and alice in turn: $ok of 10 rounds encrypted with the bolt read, both" ||
	sed 's/^/# /' "$tmp/b1.out" "$tmp/a1.out"

# 6: carol has no grant: no link, no key.
timeout 30 setpriv --reuid=12345 --regid=12345 --clear-groups \
	"$host" "$sock" $lock "$tmp/carol/bond" "$tmp/carol/snoop" >"$tmp/c.out" 2>&1
[ $? -ne 0 ] && grep -q "connection failed" "$tmp/c.out" && [ ! -e "$tmp/carol/bond" ]
t_ok $? "carol, without a grant, gets no link" || sed 's/^/# /' "$tmp/c.out"

# 7: the household LTK is in no session's btsnoop trace (the hosts' own are).
hexdump_all() { for f in "$@"; do od -An -v -tx1 "$f" | tr -d ' \n'; echo; done; }
hexdump_all "$tmp"/alice/snoop.* "$tmp"/bob/snoop.* >"$tmp/snoops.hex"
[ -n "$hkey" ] && [ -s "$tmp/snoops.hex" ] && ! grep -q "$hkey" "$tmp/snoops.hex" &&
	grep -q "$akey" "$tmp/snoops.hex"
t_ok $? "the household LTK is in no session's snoop trace (alice's own is)"

# 8: ... nor in the daemon's log (debug level).
kill "$pid"
wait "$pid" 2>/dev/null
pid=""
upper=$(echo "$hkey" | tr a-f A-F)
spaced=$(echo "$hkey" | sed 's/../& /g; s/ $//')
grep -q "household LE bond" "$tmp/log" && ! grep -qi -e "$hkey" -e "$upper" -e "$spaced" "$tmp/log"
t_ok $? "the household LTK is in no log line" || sed 's/^/# /' "$tmp/log" | tail -20
