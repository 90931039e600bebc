#!/bin/sh
# bgw-authdb's file safety: an empty or header-less authdb and one that
# group or others can read are refused by `check` (and by the daemon's
# loader, tests/check_authdb_parse.c); a change whose audit record could
# not be written is not made at all.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

B="${BGW_BUILDDIR:-.}/authdb/bgw-authdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/etc/authdb"
log="$tmp/log/audit.log"
A() { "$B" --db "$db" --audit "$log" "$@"; }
# st EXPECTED DESCRIPTION COMMAND...: run, compare the exit status.
st() {
	want=$1 desc=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$want" ]
	t_ok $? "$desc (exit $want)" || {
		echo "# got exit $got"
		diag "$tmp/out" "$tmp/err"
	}
}
has() { grep -q -- "$1" "$2"; t_ok $? "$3" || diag "$2"; }

echo "1..13"
mkdir -p "$tmp/etc" "$tmp/log"

# 17.8: an empty authdb is a corrupt one, not "0 users".
: >"$tmp/etc/empty" && chmod 600 "$tmp/etc/empty"
st 3 "check refuses a zero-length authdb" A check "$tmp/etc/empty"
has "empty:1: empty file (0 bytes)" "$tmp/err" "  ... naming the file and line 1"
printf '# bgw authdb\n\n# nothing else\n' >"$tmp/etc/comments"
chmod 600 "$tmp/etc/comments"
st 3 "check refuses an authdb with no user entry" A check "$tmp/etc/comments"
has "comments:3: no user entry" "$tmp/err" "  ... naming the file and its last line"

# 21.11: verifiers are offline-guessable; a readable authdb is refused.
st 0 "user add" A user add alice
chmod 644 "$db"
st 3 "check refuses a world-readable authdb" A check
has "readable by group or others (mode 644).*chmod 600 $db" "$tmp/err" \
	"  ... and says which chmod to run"
printf 'controller sim\nlisten unix:%s/muxd.sock\nauthdb %s\n' "$tmp" "$db" >"$tmp/muxd.conf"
if [ "$(id -u)" = 0 ]; then
	"${BGW_BUILDDIR:-.}/muxd/bgw-muxd" -t -c "$tmp/muxd.conf" >"$tmp/t.out" 2>&1
	[ $? -ne 0 ] && grep -q "readable by group or others (mode 644).*chmod 600" "$tmp/t.out"
	t_ok $? "bgw-muxd -t refuses it too" || diag "$tmp/t.out"
else
	t_ok 0 "# SKIP bgw-muxd -t reads only a root-owned authdb"
fi
chmod 600 "$db"
st 0 "check accepts it after chmod 600" A check

# 21.13: the audit log is checked before the change, not after.
cp "$db" "$tmp/db.before"
st 1 "user add with an audit log in a missing directory fails" \
	"$B" --db "$db" --audit "$tmp/no/such/dir/audit.log" user add bob
cmp -s "$db" "$tmp/db.before" && grep -q "nothing was changed" "$tmp/err"
t_ok $? "  ... before changing anything (the authdb is as it was)" || diag "$tmp/err"
st 1 "ca init with that audit log fails too" \
	"$B" --db "$db" --audit "$tmp/no/such/dir/audit.log" ca init --dir "$tmp/ca"
[ ! -e "$tmp/ca/ca.key" ]
t_ok $? "  ... and creates no CA key"

[ $t_failed -eq 0 ]
