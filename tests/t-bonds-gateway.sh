#!/bin/sh
# Pairing at the gateway (doc/virtual-controller.md): the admin pairs a
# device once with bgw-muxd pair, before granting it, with no user
# session at all; the key becomes the household bond (by @gateway;
# the audit record is tests/t-bonds-memscan.sh's, which has the tunnel's
# audit log). Then the admin grants alice and bob,
# whose hosts (tests/bond-host) never pair: they connect and
# authenticate in turn, ten times each, never asked for a key; carol,
# without a grant, gets nothing. Each failure has its message and exit
# status: an unknown device (4), a device that refuses (5), the admin
# answering no (5), a device that wants a PIN (6), a device already
# bonded (7), a bad address or --le with --keyboard (2), the daemon down
# (1). A device that compares numbers shows the admin one, who answers
# yes; a BR/EDR device that only displays shows a passkey the admin types
# (--keyboard). LE: the admin pairs the lock (Just Works), a panel
# that shows a passkey (typed by the admin; a wrong one refused) and a
# lock that pairs only with LE Secure Connections (numeric comparison); then
# alice and bob, whose hosts never paired the lock, encrypt in turn with
# keys of their own, each replaced by the household LTK, and read its
# bolt. A lock with privacy (bgw-sim(5) irk) is paired at the private
# address it uses now: its bond is kept under the identity it gives, with
# its IRK, which then finds it for alice on that address. The keys are
# in no log and no session's snoop trace.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

n=20
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
mkdir "$tmp/alice" "$tmp/bob" "$tmp/carol" "$tmp/state" "$tmp/alice/le" "$tmp/bob/le"
chown nobody "$tmp/bob" "$tmp/bob/le"
chown 12345 "$tmp/carol"
sock="$tmp/muxd.sock"
speaker=10:B6:00:00:00:04
headset=10:B6:00:00:00:06
oldie=10:B6:00:00:00:08
grumpy=10:B6:00:00:00:09
nobody=10:B6:00:00:00:0A
panel=10:B6:00:00:00:0B
screen=10:B6:00:00:00:0D
lock=C0:B6:00:00:00:01
sclock=C0:B6:00:00:00:05
plock=D0:5E:00:00:00:0C
pirk=0f1e2d3c4b5a69788796a5b4c3d2e1f0
pirk_smp=f0e1d2c3b4a5968778695a4b3c2d1e0f	# the same, as SMP carries it
# Its first private address (sim/house.c): prand 4C:00:00 from the
# identity's low octets, hash ah(IRK, prand) (Vol 3 Part H 2.2.2): what a
# scan near the lock shows the admin.
h=$(printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\114\000\000' |
	openssl enc -aes-128-ecb -K $pirk -nopad 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
prpa=$(echo "4C:00:00:$(echo "$h" | cut -c27-28):$(echo "$h" | cut -c29-30):$(echo "$h" | cut -c31-32)" |
	tr a-f A-F)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/house" <<EOT
device speaker
	address $speaker public
	type bredr
	name Kitchen Speaker
device headset
	address $headset public
	type bredr
	name Headset
	io-capability yesno
device oldie
	address $oldie public
	type bredr
	name Old Car Kit
	pairing legacy
device grumpy
	address $grumpy public
	type bredr
	name Grumpy Speaker
	pairing refuse
device screen
	address $screen public
	type bredr
	name Screen Speaker
	io-capability display
	passkey 424242
device panel
	address $panel public
	type le
	name Alarm Panel
	io-capability display
	passkey 123456
device lock
	address $lock random
	type le
	name Front Door Lock
	service 1815
	characteristic 2a56 read,write,encrypt 01
device sclock
	address $sclock random
	type le
	name Back Door Lock
	pairing sc-only
	io-capability yesno
device plock
	address $plock random
	type le
	name Side Door Lock
	pairing sc
	irk $pirk
	service 1815
	characteristic 2a56 read,write,encrypt 01
EOT
cat >"$tmp/authdb" <<EOT
user alice
user bob
user carol
EOT
chmod 600 "$tmp/authdb"
cat >"$tmp/muxd.conf" <<EOT
# bgw-muxd for tests/t-bonds-gateway.sh
controller sim:$tmp/house
listen unix:$sock
authdb $tmp/authdb
bonds $tmp/state/bonds
audit-log $tmp/audit.log
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

pair() { timeout 90 "$muxd" -c "$tmp/muxd.conf" pair "$@"; }
A() { "$BGW_BUILDDIR/authdb/bgw-authdb" --db "$tmp/authdb" --audit "$tmp/audit.log" --bonds "$tmp/state/bonds" "$@"; }
# A grant, then its reload seen in the daemon's log (each waited for on
# its own: two changes close together may be read in one reload that
# comes before the second is written).
grant() {
	local n0 i=0

	n0=$(grep -c "authdb changed: reloading" "$tmp/log")
	A allow "$@" >/dev/null 2>&1 || return 1
	while [ "$(grep -c "authdb changed: reloading" "$tmp/log")" -le "$n0" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
alice() { timeout 30 "$host" "$sock" $speaker "$tmp/alice/bond" "$tmp/alice/snoop.$1"; }
bob() {
	timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$host" "$sock" $speaker "$tmp/bob/bond" "$tmp/bob/snoop.$1"
}

# 1-3: a device not in the house, one that refuses, one that wants a PIN.
pair $nobody </dev/null >"$tmp/p1.out" 2>&1
st=$?
[ $st -eq 4 ] && grep -q "did not answer (Page Timeout, 0x04)" "$tmp/p1.out"
t_ok $? "an unknown device: did not answer, exit 4 (got $st)" || sed 's/^/# /' "$tmp/p1.out"
pair $grumpy </dev/null >"$tmp/p2.out" 2>&1
st=$?
[ $st -eq 5 ] && grep -q "refused to pair or did not confirm (Pairing Not Allowed, 0x18)" "$tmp/p2.out"
t_ok $? "a device that refuses: exit 5 (got $st)" || sed 's/^/# /' "$tmp/p2.out"
pair $oldie </dev/null >"$tmp/p3.out" 2>&1
st=$?
[ $st -eq 6 ] && grep -q "asks for a PIN code" "$tmp/p3.out"
t_ok $? "a device that wants a PIN: exit 6 (got $st)" || sed 's/^/# /' "$tmp/p3.out"

# 4: numeric comparison, the admin answers no: nothing kept.
echo no | pair $headset >"$tmp/p4.out" 2>&1
st=$?
[ $st -eq 5 ] && grep -q "^does $headset show [0-9]\{6\}? \[yes/no\] no$" "$tmp/p4.out" &&
	grep -q "not confirmed" "$tmp/p4.out" && ! grep -qs "^bond " "$tmp/state/bonds"
t_ok $? "the admin answers no to the number: exit 5, no bond (got $st)" ||
	sed 's/^/# /' "$tmp/p4.out"

# 5: the speaker (no I/O: Just Works), with no user session at all.
pair $speaker </dev/null >"$tmp/p5.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q "^paired $speaker" "$tmp/p5.out" && grep -q "Just Works" "$tmp/p5.out" &&
	[ "$(stat -c %a "$tmp/state/bonds")" = 600 ] &&
	grep -q "^bond $speaker public by @gateway at [0-9]* linkkey [0-9a-f]\{32\} linkkey-type 4$" \
		"$tmp/state/bonds"
t_ok $? "bgw-muxd pair: the speaker's key is the household bond, by @gateway (got $st)" ||
	sed 's/^/# /' "$tmp/p5.out" "$tmp/state/bonds" "$tmp/log"
hkey=$(sed -n "s/^bond $speaker .* linkkey \([0-9a-f]*\) .*/\1/p" "$tmp/state/bonds")

# 6: again: refused, the bond stays.
pair $speaker </dev/null >"$tmp/p7.out" 2>&1
st=$?
[ $st -eq 7 ] && grep -q "already has a household bond: to pair it again, bgw-authdb bond forget $speaker" \
	"$tmp/p7.out" && grep -q " linkkey $hkey " "$tmp/state/bonds"
t_ok $? "pairing a bonded device again: exit 7, bond forget named (got $st)" ||
	sed 's/^/# /' "$tmp/p7.out"

# 7: the admin grants alice and bob; ten alternations, nobody pairs.
grant alice $speaker public && grant bob $speaker public
ok=0
i=1
while [ $i -le 10 ]; do
	alice "$i" >"$tmp/a$i.out" 2>&1 && grep -qx "asked 0" "$tmp/a$i.out" &&
		bob "$i" >"$tmp/b$i.out" 2>&1 && grep -qx "asked 0" "$tmp/b$i.out" &&
		ok=$((ok + 1))
	i=$((i + 1))
done
[ $ok -eq 10 ] && [ ! -e "$tmp/alice/bond" ] && [ ! -e "$tmp/bob/bond" ]
t_ok $? "alice and bob in turn, never paired: $ok of 10 rounds authenticated and encrypted" ||
	sed 's/^/# /' "$tmp/a1.out" "$tmp/b1.out"

# 8: carol has no grant: no link, no key.
timeout 30 setpriv --reuid=12345 --regid=12345 --clear-groups \
	"$host" "$sock" $speaker "$tmp/carol/bond" "$tmp/carol/snoop" >"$tmp/c.out" 2>&1
[ $? -ne 0 ] && grep -q "connection failed (0x0f)" "$tmp/c.out"
t_ok $? "carol, without a grant, gets no link" || sed 's/^/# /' "$tmp/c.out"

# 9: numeric comparison, the admin answers yes: an authenticated key.
echo yes | pair $headset >"$tmp/p10.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q "^does $headset show [0-9]\{6\}? \[yes/no\] yes$" "$tmp/p10.out" &&
	grep -q "^bond $headset public by @gateway .* linkkey-type 5$" "$tmp/state/bonds"
t_ok $? "the admin compares the number and answers yes: authenticated key (got $st)" ||
	sed 's/^/# /' "$tmp/p10.out" "$tmp/state/bonds"

# 10: an LE device (a random address): the lock, Just Works, by @gateway;
# a malformed address and --le with --keyboard are usage errors.
pair $lock random </dev/null >"$tmp/p11.out" 2>&1
st=$?
pair 10:B6:00:00:00 </dev/null >"$tmp/p11b.out" 2>&1
st2=$?
pair --le --keyboard $panel </dev/null >"$tmp/p11c.out" 2>&1
st3=$?
[ $st -eq 0 ] && grep -q "^paired $lock: .* bgw-authdb allow USER $lock random$" "$tmp/p11.out" &&
	grep -q "Just Works" "$tmp/p11.out" &&
	grep -q "^bond $lock random by @gateway at [0-9]* ltk [0-9a-f]\{32\} ediv [0-9]* rand [0-9a-f]\{16\} key-size 16 authenticated no$" \
		"$tmp/state/bonds" &&
	[ $st2 -eq 2 ] && grep -q "is not an address" "$tmp/p11b.out" && [ $st3 -eq 2 ]
t_ok $? "bgw-muxd pair: the lock's LTK is the household LE bond, by @gateway (got $st); usage errors exit 2 (got $st2, $st3)" ||
	sed 's/^/# /' "$tmp/p11.out" "$tmp/p11b.out" "$tmp/p11c.out" "$tmp/state/bonds"
lkey=$(sed -n "s/^bond $lock .* ltk \([0-9a-f]*\) .*/\1/p" "$tmp/state/bonds")

# 11: an LE device with a public address that shows a passkey: the admin
# types a wrong one (refused, exit 5, nothing kept), then the right one.
echo 111111 | pair --le $panel >"$tmp/p12.out" 2>&1
st=$?
echo 123456 | pair --le $panel >"$tmp/p12b.out" 2>&1
st2=$?
[ $st -eq 5 ] && grep -q "^type the passkey $panel shows, then Enter (nothing to refuse): (typed)$" \
	"$tmp/p12.out" && ! grep -q "111111" "$tmp/p12.out" &&
	[ $st2 -eq 0 ] && grep -q "^paired $panel: .* allow USER $panel public$" "$tmp/p12b.out" &&
	grep -q "^bond $panel public by @gateway .* key-size 16 authenticated yes$" "$tmp/state/bonds"
t_ok $? "an LE passkey typed by the admin: wrong exit 5 (got $st), right an authenticated bond (got $st2)" ||
	sed 's/^/# /' "$tmp/p12.out" "$tmp/p12b.out" "$tmp/state/bonds"

# 11b: an LE Secure Connections Only device with a display and yes/no:
# numeric comparison, the admin answers yes; the LTK both ends derived is
# kept, EDIV and Rand 0, authenticated.
echo yes | pair $sclock random >"$tmp/p12c.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q "^does $sclock show [0-9]\{6\}? \[yes/no\] yes$" "$tmp/p12c.out" &&
	grep -q "^bond $sclock random by @gateway at [0-9]* ltk [0-9a-f]\{32\} ediv 0 rand 0000000000000000 key-size 16 authenticated yes$" \
		"$tmp/state/bonds"
t_ok $? "LE Secure Connections at the gateway: numeric comparison, the derived LTK kept (got $st)" ||
	sed 's/^/# /' "$tmp/p12c.out" "$tmp/state/bonds"

# 11c0: the lock with privacy names an identity the store already holds
# (here a key the household gave a device as central): its keys do not
# join that entry, whatever its IRK resolves; the entry stays as it was.
pbefore="bond $plock random by bob at 1796648500 pltk 0102030405060708090a0b0c0d0e0f10 pediv 17 prand 1112131415161718"
cp "$tmp/state/bonds" "$tmp/bonds.saved"
echo "$pbefore" >>"$tmp/state/bonds"
pair $prpa random </dev/null >"$tmp/p12j.out" 2>&1
st=$?
[ $st -ne 0 ] && grep -qx "$pbefore" "$tmp/state/bonds" &&
	[ "$(grep -c "^bond $plock " "$tmp/state/bonds")" -eq 1 ] &&
	grep -q "names itself $plock, which the bond store already holds" "$tmp/log"
t_ok $? "a device on a private address naming an identity already in the store: not joined (got $st)" ||
	sed 's/^/# /' "$tmp/p12j.out" "$tmp/state/bonds"
cp "$tmp/bonds.saved" "$tmp/state/bonds"

# 11c: the lock with privacy, named by the private address it uses now:
# LE Secure Connections, Just Works; the bond is its identity's, with its
# IRK, never the private address's; then alice, granted the identity,
# finds it on that address by the bond's IRK, pairs (answered for the
# lock, told its identity) and reads the bolt, encrypted.
pair $prpa random </dev/null >"$tmp/p12d.out" 2>&1
st=$?
grant alice $plock random
timeout 30 "$BGW_BUILDDIR/tests/le-bond-host" "$sock" "irk:$pirk" "$tmp/alice/le/pbond" \
	"$tmp/alice/le/snoop.p" >"$tmp/pla.out" 2>&1
st2=$?
[ $st -eq 0 ] && grep -q "^paired $prpa: .* kept under the identity the device gave" "$tmp/p12d.out" &&
	grep -q "^bond $plock random by @gateway at [0-9]* ltk [0-9a-f]\{32\} ediv 0 rand 0000000000000000 key-size 16 authenticated no irk $pirk_smp$" \
		"$tmp/state/bonds" && ! grep -q "^bond $prpa " "$tmp/state/bonds" &&
	[ $st2 -eq 0 ] && grep -qx "paired 1" "$tmp/pla.out" && grep -qx "identity $plock" "$tmp/pla.out"
t_ok $? "a lock on a private address paired at the gateway: kept under its identity with its IRK (got $st), alice reaches it (got $st2)" ||
	sed 's/^/# /' "$tmp/p12d.out" "$tmp/pla.out" "$tmp/state/bonds"

# 11d: the same private address again: the bond's IRK resolves it, so the
# device is bonded already (exit 7), its identity to forget named.
pair $prpa random </dev/null >"$tmp/p12e.out" 2>&1
st=$?
[ $st -eq 7 ] && grep -q "household bond (the IRK kept with it resolves that address" "$tmp/p12e.out"
t_ok $? "pairing the private address of a bonded device again: exit 7 (got $st)" ||
	sed 's/^/# /' "$tmp/p12e.out"

# 12: a BR/EDR device that only displays: --keyboard, the admin types its passkey.
echo 424242 | pair --keyboard $screen >"$tmp/p13.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q "^type the passkey $screen shows" "$tmp/p13.out" &&
	grep -q "^bond $screen public by @gateway .* linkkey-type 5$" "$tmp/state/bonds"
t_ok $? "a BR/EDR passkey typed by the admin (--keyboard): an authenticated key (got $st)" ||
	sed 's/^/# /' "$tmp/p13.out" "$tmp/state/bonds"

# 13: alice and bob, granted the lock, never paired it: their hosts hold
# keys of their own (any: each is replaced); five rounds each, encrypted,
# the bolt read.
grant alice $lock random && grant bob $lock random
for u in alice bob; do
	echo "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') 1234 $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		>"$tmp/$u/le/bond"
done
chown nobody "$tmp/bob/le/bond"
lehost="$BGW_BUILDDIR/tests/le-bond-host"
ok=0
i=1
while [ $i -le 5 ]; do
	timeout 30 "$lehost" "$sock" $lock "$tmp/alice/le/bond" "$tmp/alice/le/snoop.$i" \
		>"$tmp/la$i.out" 2>&1 && grep -qx "paired 0" "$tmp/la$i.out" &&
		timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
			"$lehost" "$sock" $lock "$tmp/bob/le/bond" "$tmp/bob/le/snoop.$i" \
			>"$tmp/lb$i.out" 2>&1 && grep -qx "paired 0" "$tmp/lb$i.out" &&
		ok=$((ok + 1))
	i=$((i + 1))
done
[ $ok -eq 5 ] && grep -q "encrypted with the household LE bond" "$tmp/log"
t_ok $? "alice and bob on the lock, never paired: $ok of 5 rounds encrypted with the household LTK" ||
	sed 's/^/# /' "$tmp/la1.out" "$tmp/lb1.out"

# 14: the household keys are in no session's snoop trace.
hexdump_all() { for f in "$@"; do od -An -v -tx1 "$f" | tr -d ' \n'; echo; done; }
hexdump_all "$tmp"/alice/snoop.* "$tmp"/bob/snoop.* "$tmp"/alice/le/snoop.* \
	"$tmp"/bob/le/snoop.* >"$tmp/snoops.hex"
[ -n "$hkey" ] && [ -n "$lkey" ] && [ -s "$tmp/snoops.hex" ] && ! grep -q "$hkey" "$tmp/snoops.hex" &&
	! grep -q "$lkey" "$tmp/snoops.hex"
t_ok $? "the household keys are in no session's snoop trace"

# 15: ... nor in the daemon's log (debug level).
kill "$pid"
wait "$pid" 2>/dev/null
pid=""
upper=$(echo "$hkey" | tr a-f A-F)
spaced=$(echo "$hkey" | sed 's/../& /g; s/ $//')
lupper=$(echo "$lkey" | tr a-f A-F)
lspaced=$(echo "$lkey" | sed 's/../& /g; s/ $//')
grep -q "paired at the gateway by uid 0" "$tmp/log" &&
	! grep -qi -e "$hkey" -e "$upper" -e "$spaced" -e "$lkey" -e "$lupper" -e "$lspaced" "$tmp/log"
t_ok $? "the household keys are in no log line" || sed 's/^/# /' "$tmp/log" | tail -20

# 16: the daemon is down.
pair $speaker </dev/null >"$tmp/p14.out" 2>&1
st=$?
[ $st -eq 1 ] && grep -q "not running" "$tmp/p14.out"
t_ok $? "the daemon down: not running, exit 1 (got $st)" || sed 's/^/# /' "$tmp/p14.out"
[ $t_failed -eq 0 ]
