#!/bin/sh
# bgw-authdb bond list and bond forget on a household bond store
# (bgw-bonds(5)): the listing names devices, users and key kinds but
# never a key; user show marks bonded devices; forget removes one bond,
# keeps the store 0600 and is audited; the documented exit statuses for
# a missing bond, a bad argument, a damaged or readable store.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

B="${BGW_BUILDDIR:-.}/authdb/bgw-authdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc" "$tmp/state"
A() { "$B" --db "$tmp/etc/authdb" --audit "$tmp/audit.log" --bonds "$tmp/state/bonds" "$@"; }
st() {
	want=$1 desc=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$want" ]
	t_ok $? "$desc (exit $want)" || {
		echo "# got exit $got"
		sed 's/^/# /' "$tmp/out" "$tmp/err"
	}
}
has() { grep -q -- "$1" "$2"; t_ok $? "$3" || sed 's/^/# /' "$2"; }

echo "1..20"
LK=00112233445566778899aabbccddeeff
LTK=ffeeddccbbaa99887766554433221100
cat >"$tmp/state/bonds" <<EOT
bond 10:B6:00:00:00:04 public by alice at 1796648400 linkkey $LK linkkey-type 4
bond C0:B6:00:00:00:01 random by bob at 1796648500 ltk $LTK ediv 4660 rand 0102030405060708 key-size 16 authenticated yes irk $LK pltk $LK pediv 17 prand 1112131415161718
bond 10:B6:00:00:00:06 public by @gateway at 1796648600 linkkey $LTK linkkey-type 5
EOT
chmod 600 "$tmp/state/bonds"
A user add alice >/dev/null
A allow alice 10:B6:00:00:00:04 public Speaker >/dev/null
A allow alice 10:B6:00:00:00:02 public >/dev/null
A allow alice 10:B6:00:00:00:06 public Headset >/dev/null

st 0 "bond list" A bond list
has "^10:B6:00:00:00:04 public by alice at 2026-12-07 [0-9:]* UTC, BR/EDR link key (type 4)$" \
	"$tmp/out" "the speaker's bond: who, when, the key kind"
has "^C0:B6:00:00:00:01 random by bob at .*, LE LTK (16 octets, authenticated), IRK, LE LTK for the device as central$" \
	"$tmp/out" "the lock's bond: LE keys named"
! grep -qi -e "$LK" -e "$LTK" -e 0102030405060708 -e 1112131415161718 "$tmp/out" "$tmp/err"
t_ok $? "no key is printed"

cp "$tmp/out" "$tmp/out2"
st 0 "user show" A user show alice
has '^  device 10:B6:00:00:00:04 public "Speaker" bonded by alice$' "$tmp/out" \
	"user show marks the bonded device"
has '^  device 10:B6:00:00:00:02 public$' "$tmp/out" "and not the others"
has '^  device 10:B6:00:00:00:06 public "Headset" bonded by @gateway$' "$tmp/out" \
	"a device the admin paired at the gateway: bonded by @gateway"
has "^10:B6:00:00:00:06 public by @gateway at .*, BR/EDR link key (type 5)$" \
	"$tmp/out2" "bond list names the gateway's pairing"

st 4 "forgetting a device without a bond" A bond forget 10:B6:00:00:00:02
has "has no household bond" "$tmp/err" "which says so"
st 2 "a bad address" A bond forget 10:B6:00:00:04
st 2 "a bad address type" A bond forget 10:B6:00:00:00:04 le

st 0 "bond forget" A bond forget 10:B6:00:00:00:04
! grep -q "10:B6:00:00:00:04" "$tmp/state/bonds" &&
	grep -q "^bond C0:B6:00:00:00:01 random by bob" "$tmp/state/bonds" &&
	[ "$(stat -c %a "$tmp/state/bonds")" = 600 ]
t_ok $? "only the speaker's bond is gone; the store stays 0600"
has " bond-forget .*rd=10:B6:00:00:00:04" "$tmp/audit.log" "forget is audited"
! grep -qi -e "$LK" -e "$LTK" "$tmp/audit.log"
t_ok $? "no key in the audit log"

printf 'bond 10:B6:00:00:00:04 public by alice at 1 linkkey 0011 linkkey-type 4\n' >"$tmp/state/bonds"
st 3 "a damaged store is refused" A bond list
has "bonds:1: linkkey wants 32 hex digits" "$tmp/err" "with its line and what is wrong"
cp /dev/null "$tmp/state/bonds"
chmod 644 "$tmp/state/bonds"
st 3 "a store others may read is refused" A bond list
