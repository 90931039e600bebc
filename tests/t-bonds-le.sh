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
# a user without a grant gets no link. Then a second lock on resolvable
# private addresses (bgw-sim(5) irk): alice reaches it through the
# admin's IRK and pairs; the bond is kept under the identity it gives,
# with its IRK (bgw-authdb bond list says so, without the key); with the
# admin's IRK gone from the authdb, the bond's IRK alone lets bob find it
# and both use it in turn. Then a lock that pairs with LE Secure
# Connections only (Just Works): alice's first pairing is made by
# bgw-muxd itself with the lock (the LTK both ends derive never crosses
# HCI), her host answered afterwards; bob pairs and they take turns.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

n=14
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
plock=C0:B6:00:00:00:05
sclock=C0:B6:00:00:00:06
pirk=0f1e2d3c4b5a69788796a5b4c3d2e1f0
pirk_smp=f0e1d2c3b4a5968778695a4b3c2d1e0f	# the same, as SMP carries it
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/authdb" <<EOT
user alice
user bob
user carol
allow alice $lock random
allow bob $lock random
device $plock random irk $pirk
allow alice $plock random
allow bob $plock random
allow alice $sclock random
allow bob $sclock random
EOT
chmod 600 "$tmp/authdb"
"$BGW_BUILDDIR/sim/bgw-sim" --dump-default >"$tmp/house"
cat >>"$tmp/house" <<EOT

device plock
	address $plock random
	type le
	name Private Lock
	irk $pirk
	service 1815
	characteristic 2a56 read,write,encrypt 01

device sclock
	address $sclock random
	type le
	name SC Lock
	pairing sc-only
	io-capability none
	service 1815
	characteristic 2a56 read,write,encrypt 01
EOT
cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-bonds-le.sh
controller sim:$tmp/house
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

# 7: the private lock, reached through the admin's IRK: alice pairs it,
# is given its identity, and the bond is kept under that, with the IRK.
palice() { timeout 30 "$host" "$sock" "irk:$pirk" "$tmp/alice/pbond" "$tmp/alice/snoop.p$1"; }
pbob() {
	timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$host" "$sock" "irk:$pirk" "$tmp/bob/pbond" "$tmp/bob/snoop.p$1"
}
palice 0 >"$tmp/pa0.out" 2>&1 && grep -qx "paired 1" "$tmp/pa0.out" &&
	grep -qx "identity $plock" "$tmp/pa0.out" &&
	[ "$(grep -c '^bond ' "$tmp/state/bonds")" = 2 ] &&
	grep -q "^bond $plock random by alice at [0-9]* ltk [0-9a-f]\{32\} .* irk $pirk_smp$" "$tmp/state/bonds"
t_ok $? "alice pairs the lock on a private address: the bond is its identity's, with its IRK" ||
	sed 's/^/# /' "$tmp/pa0.out" "$tmp/state/bonds"
pkey=$(sed -n "s/^bond $plock .* ltk \([0-9a-f]*\) .*/\1/p" "$tmp/state/bonds")

# 8: bgw-authdb bond list shows that the IRK is there, never the key.
"$BGW_BUILDDIR/authdb/bgw-authdb" --db "$tmp/authdb" --bonds "$tmp/state/bonds" bond list \
	>"$tmp/list.out" 2>&1 &&
	grep -q "^$plock random by alice at .*, LE LTK (16 octets, unauthenticated), IRK" "$tmp/list.out" &&
	! grep -qi -e "$pirk_smp" -e "$pkey" "$tmp/list.out"
t_ok $? "bond list: the private lock's identity and that it has an IRK, no key" ||
	sed 's/^/# /' "$tmp/list.out"

# 9: the admin's IRK is taken out of the authdb (a reload): the bond's
# IRK alone finds the lock for bob, whose pairing bgw-muxd answers.
sed -i "/^device $plock /d" "$tmp/authdb"
kill -HUP "$pid"
i=0
while ! grep -q "policy reloaded\|reloaded" "$tmp/log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
pbob 0 >"$tmp/pb0.out" 2>&1 && grep -qx "paired 1" "$tmp/pb0.out" &&
	grep -qx "identity $plock" "$tmp/pb0.out" &&
	[ "$(grep -c '^bond ' "$tmp/state/bonds")" = 2 ] && grep -q " ltk $pkey " "$tmp/state/bonds"
t_ok $? "bob finds the private lock by the bond's IRK; his pairing is answered for it, with its identity" ||
	sed 's/^/# /' "$tmp/pb0.out" "$tmp/log" | tail -30

# 10: three alternations on the private lock, each with its host's own LTK.
ok=0
i=1
while [ $i -le 3 ]; do
	pbob "$i" >"$tmp/pb$i.out" 2>&1 && grep -qx "paired 0" "$tmp/pb$i.out" &&
		palice "$i" >"$tmp/pa$i.out" 2>&1 && grep -qx "paired 0" "$tmp/pa$i.out" &&
		ok=$((ok + 1))
	i=$((i + 1))
done
[ $ok -eq 3 ]
t_ok $? "bob and alice in turn on the private lock: $ok of 3 rounds encrypted, the bolt read" ||
	sed 's/^/# /' "$tmp/pb1.out" "$tmp/pa1.out"

# 11: the Secure Connections lock: alice's first pairing is made by
# bgw-muxd with the lock, the derived LTK kept (EDIV 0, Rand 0), and her
# host, answered afterwards, pairs and reads the bolt.
salice() { timeout 30 "$host" "$sock" $sclock "$tmp/alice/sbond" "$tmp/alice/snoop.s$1"; }
sbob() {
	timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$host" "$sock" $sclock "$tmp/bob/sbond" "$tmp/bob/snoop.s$1"
}
salice 0 >"$tmp/sa0.out" 2>&1 && grep -qx "paired 1" "$tmp/sa0.out" &&
	grep -q "^bond $sclock random by alice at [0-9]* ltk [0-9a-f]\{32\} ediv 0 rand 0000000000000000 key-size 16 authenticated no$" \
		"$tmp/state/bonds" &&
	grep -q "paired with LE Secure Connections by the gateway" "$tmp/log"
t_ok $? "alice pairs the Secure Connections lock: bgw-muxd pairs it, the derived key kept" ||
	sed 's/^/# /' "$tmp/sa0.out" "$tmp/state/bonds" "$tmp/log" | tail -30
skey=$(sed -n "s/^bond $sclock .* ltk \([0-9a-f]*\) .*/\1/p" "$tmp/state/bonds")

# 12: bob pairs it (answered by bgw-muxd), then three alternations.
ok=0
sbob 0 >"$tmp/sb0.out" 2>&1 && grep -qx "paired 1" "$tmp/sb0.out" && ok=1
i=1
while [ $i -le 3 ] && [ $ok -ge 1 ]; do
	sbob "$i" >"$tmp/sb$i.out" 2>&1 && grep -qx "paired 0" "$tmp/sb$i.out" &&
		salice "$i" >"$tmp/sa$i.out" 2>&1 && grep -qx "paired 0" "$tmp/sa$i.out" &&
		ok=$((ok + 1))
	i=$((i + 1))
done
[ $ok -eq 4 ] && [ "$(grep -c "^bond $sclock " "$tmp/state/bonds")" = 1 ] &&
	grep -q " ltk $skey " "$tmp/state/bonds"
t_ok $? "bob pairs the SC lock, answered; then bob and alice in turn, the bolt read" ||
	sed 's/^/# /' "$tmp/sb0.out" "$tmp/sb1.out" "$tmp/sa1.out"

# 13: the household LTKs are in no session's btsnoop trace (the hosts' own are).
hexdump_all() { for f in "$@"; do od -An -v -tx1 "$f" | tr -d ' \n'; echo; done; }
hexdump_all "$tmp"/alice/snoop.* "$tmp"/bob/snoop.* >"$tmp/snoops.hex"
[ -n "$hkey" ] && [ -n "$pkey" ] && [ -n "$skey" ] && [ -s "$tmp/snoops.hex" ] &&
	! grep -q -e "$hkey" -e "$pkey" -e "$skey" "$tmp/snoops.hex" && grep -q "$akey" "$tmp/snoops.hex"
t_ok $? "the household LTKs are in no session's snoop trace (alice's own is)"

# 14: ... nor in the daemon's log (debug level).
kill "$pid"
wait "$pid" 2>/dev/null
pid=""
spaced=$(echo "$hkey" | sed 's/../& /g; s/ $//')
pspaced=$(echo "$pkey" | sed 's/../& /g; s/ $//')
sspaced=$(echo "$skey" | sed 's/../& /g; s/ $//')
grep -q "household LE bond" "$tmp/log" &&
	! grep -qi -e "$hkey" -e "$spaced" -e "$pkey" -e "$pspaced" -e "$skey" -e "$sspaced" "$tmp/log"
t_ok $? "the household LTKs are in no log line" || sed 's/^/# /' "$tmp/log" | tail -20
