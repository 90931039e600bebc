#!/bin/bash
# The sample configuration (conf/bgw-muxd.conf, installed as
# /etc/bgw/bgw-muxd.conf) documents every keyword of bgw-muxd.conf(5), and
# it is valid: its lines in effect, and every example in it uncommented,
# pass `bgw-muxd -t` (on the simulated controller, with the paths moved
# into a temporary directory). The -t cases need root: bgw-muxd reads only
# a root-owned authdb.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
sample=$src/conf/bgw-muxd.conf
muxd=$build/muxd/bgw-muxd
adb=$build/authdb/bgw-authdb
N=7
echo "1..$N"

# The keywords: the items of the man page's top-level keyword list (the
# controller's URI forms are a nested list).
keywords=$(awk '
	/^\.Pp/ && seen { exit }
	/^The keywords are:/ { seen = 1; next }
	!seen { next }
	/^\.Bl/ { depth++; next }
	/^\.El/ { depth--; next }
	depth == 1 && /^\.It Cm / { print $3 }' "$src/man/bgw-muxd.conf.5")
missing=""
for kw in $keywords; do
	grep -Eq "^#?$kw( |\$)" "$sample" || missing="$missing $kw"
done
[ "$(echo "$keywords" | grep -c .)" -ge 20 ] && [ -z "$missing" ]
t_ok $? "every keyword of bgw-muxd.conf(5) has a setting line in the sample" ||
	echo "# missing:${missing:- (no keywords found in the man page)}"

# Every setting line is a keyword of the page, at most once (listen and
# uid-map may repeat): uncommenting all the examples stays valid.
bad=$(sed -n 's/^#\{0,1\}\([a-z][a-z-]*\)\( .*\)\{0,1\}$/\1/p' "$sample" | sort | uniq -c |
	while read -r n kw; do
		echo "$keywords" | grep -qx "$kw" || { echo "unknown:$kw"; continue; }
		[ "$n" -eq 1 ] || [ "$kw" = listen ] || [ "$kw" = uid-map ] || echo "twice:$kw"
	done)
[ -z "$bad" ]
t_ok $? "the sample's setting lines are keywords of the page, each once" ||
	echo "# $bad"

if [ "$(id -u)" != 0 ]; then
	for i in $(seq 3 $N); do echo "ok $i # SKIP needs root (a root-owned authdb)"; done
	exit 0
fi
for b in "$muxd" "$adb"; do
	[ -x "$b" ] || { for i in $(seq 3 $N); do echo "not ok $i - $b not built"; done; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc" "$tmp/log" "$tmp/run"
A() { "$adb" --db "$tmp/etc/authdb" --audit "$tmp/log/audit.log" "$@"; }
A ca init --dir "$tmp/etc" --name "Sample test" --ip 127.0.0.1 >"$tmp/adb.log" 2>&1 &&
	A ca relay-key --dir "$tmp/etc" >>"$tmp/adb.log" 2>&1 &&
	A user add alice >>"$tmp/adb.log" 2>&1 &&
	A user add tv >>"$tmp/adb.log" 2>&1
t_ok $? "a gateway's files in a temporary directory (bgw-authdb ca init, ca relay-key, user add)" ||
	diag "$tmp/adb.log"

# relocate: the sample on the simulated controller, its paths in $tmp.
relocate() {
	sed -e 's|^controller hci:0$|controller sim|' \
		-e "s|/etc/bgw/|$tmp/etc/|g" -e "s|/var/log/bgw/|$tmp/log/|g" \
		-e "s|/var/lib/bgw/|$tmp/lib/|g" \
		-e "s|/run/bgw/|$tmp/run/|g" -e "s|/run/bgw\$|$tmp/run|"
}

# As shipped: the three lines in effect, plus the tunnel's file paths
# (default /etc/bgw/..., /var/lib/bgw/...) uncommented so that they move too.
relocate <"$sample" |
	sed -E 's/^#((ca|cert|key|scram-secret|audit-log) )/\1/' >"$tmp/shipped.conf"
"$muxd" -t -c "$tmp/shipped.conf" >"$tmp/shipped.out" 2>&1 &&
	grep -q "configuration OK (controller sim, 0 listeners, authdb $tmp/etc/authdb, DTLS port 4433)" "$tmp/shipped.out"
t_ok $? "the lines in effect (controller sim instead of hci:0) pass bgw-muxd -t" ||
	diag "$tmp/shipped.out"

# Every example uncommented: each keyword of the page in effect at once.
relocate <"$sample" | sed -E 's/^#([a-z])/\1/' >"$tmp/all.conf"
active=$(sed -n 's/^\([a-z][a-z-]*\) .*/\1/p' "$tmp/all.conf" | sort -u | grep -c .)
"$muxd" -t -c "$tmp/all.conf" >"$tmp/all.out" 2>&1 &&
	grep -q "configuration OK (controller sim, 1 listener, .*DTLS port 4433, TLS port 4433)" "$tmp/all.out" &&
	[ "$active" -eq "$(echo "$keywords" | grep -c .)" ]
t_ok $? "every example uncommented: all $active keywords in effect pass bgw-muxd -t" ||
	diag "$tmp/all.out"

# A missing configuration file: the error names it and what to do.
"$muxd" -t -c "$tmp/none.conf" >"$tmp/none.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "$tmp/none.conf: No such file" "$tmp/none.out" &&
	grep -q "examples/bgw-muxd.conf" "$tmp/none.out"
t_ok $? "a missing file: exit $rc, the file named and the sample pointed to" ||
	diag "$tmp/none.out"
# The sample as installed, before bgw-authdb made the authdb: the file it
# names is missing, and the error says how to make it.
relocate <"$sample" | sed "s|^authdb .*|authdb $tmp/etc/none|" >"$tmp/fresh.conf"
"$muxd" -t -c "$tmp/fresh.conf" >"$tmp/fresh.out" 2>&1
rc=$?
[ "$rc" -eq 3 ] && grep -q "$tmp/etc/none: No such file.*bgw-authdb --db $tmp/etc/none user add NAME creates it" "$tmp/fresh.out"
t_ok $? "no authdb yet: exit $rc, the file named and the bgw-authdb command that makes it" ||
	diag "$tmp/fresh.out"
[ "$t_failed" -eq 0 ]
