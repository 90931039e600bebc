#!/bin/bash
# The household link key is in no role's memory but its owner's
# (doc/security.md, "Household bonds"), as tests/memscan.py shows for the
# server key in t-muxd-privsep.sh. bgw-muxd with its bond store, DTLS,
# and bgw-sim in a process of its own as the controller (unix:), so the
# simulated speaker's copy of the key -- the device's own -- is not in
# the core. Alice (certificate) pairs the speaker through her tunnel
# (tests/bond-host on bgw-cdclient's H4 socket), which makes the
# household bond; bob (password) uses it later, authenticated and
# encrypted without his host being asked. Then the key, in its binary
# and text forms, is searched in the network front, both peers and the
# core, which got it from the monitor for bob's Link Key Request and for
# alice's Link Key Notification and must have wiped every copy; the
# device (bgw-sim) holds it, the control that the search finds it.
# Then the admin pairs the bulb at the gateway (bgw-muxd pair, no user
# session): audited as @gateway with the admin's uid; bob uses that bond
# too; and its key is, again, in the device and in no role but the
# monitor, which keeps the store and holds no key between requests.
# The same for the LE lock's LTK (tests/le-bond-host): alice's legacy
# pairing makes the household LE bond, bob's pairing is answered by the
# core and his encryption given the lock's key; the core held it for
# the pairing and each encryption and must have wiped every copy.
# TAP on stdout.
. "${BGW_SRCDIR:-.}/tests/lib.sh"
N=13
echo "1..$N"
. "${BGW_SRCDIR:-.}/tests/fault-lib.sh"
host=$build/tests/bond-host
lehost=$build/tests/le-bond-host
sim_bin=$build/sim/bgw-sim
[ -x "$host" ] || skip_all "tests/bond-host not built"
[ -x "$lehost" ] || skip_all "tests/le-bond-host not built"
[ -x "$sim_bin" ] || skip_all "bgw-sim not built"
speaker=10:B6:00:00:00:04
bulb=10:B6:00:00:00:03
lock=C0:B6:00:00:00:01

"$sim_bin" --unix "$tmp/sim.sock" --time-scale 0.01 >"$tmp/sim.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait_for 20 test -S "$tmp/sim.sock" || { diag "$tmp/sim.log"; echo "Bail out! bgw-sim did not start"; exit 1; }
mkdir "$tmp/state"
gw_setup "$tmp/audit.log" "bonds $tmp/state/bonds"
A allow bob $speaker public >>"$tmp/admin.log" 2>&1
A allow bob $bulb public >>"$tmp/admin.log" 2>&1
A allow alice $lock random >>"$tmp/admin.log" 2>&1
A allow bob $lock random >>"$tmp/admin.log" 2>&1
sed -i "s|^controller sim$|controller unix:$tmp/sim.sock|" "$tmp/muxd.conf"
muxd_start "$tmp/log" || { diag "$tmp/log"; echo "Bail out! bgw-muxd did not start"; exit 1; }
role() { # NAME [PARENT]: the child of bgw-muxd (or of PARENT) with that comm
	local c
	for c in $(pgrep -P "${2:-$mpid}"); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$1" ] && echo "$c"
	done
}
core=$(role "bgw-muxd[mux]")
front=$(role "bgw-muxd[net]")
peers() { role "bgw-muxd[peer]"; }
logged_in() { grep -q "logged in as $1" "$tmp/cd-$1.log"; }

"$cd_bin" -f -v --bundle "$tmp/alice.bundle" --expose "unix:$tmp/alice.sock" \
	>"$tmp/cd-alice.log" 2>&1 &
pids="$pids $!"
"$cd_bin" -f -v --server "127.0.0.1:$port" --user bob --ca "$tmp/etc/ca.crt" \
	--password-file "$tmp/bob.pw" --expose "unix:$tmp/bob.sock" >"$tmp/cd-bob.log" 2>&1 &
pids="$pids $!"
wait_for 30 logged_in alice && wait_for 30 logged_in bob &&
	wait_for 10 test -S "$tmp/alice.sock" && wait_for 10 test -S "$tmp/bob.sock"
pp=$(peers | tr '\n' ' ')
[ -n "$core" ] && [ -n "$front" ] && [ "$(peers | wc -l)" -eq 2 ]
t_ok $? "alice and bob logged in through the front, a peer each ($pp)" ||
	{ diag "$tmp/log" "$tmp/cd-alice.log" "$tmp/cd-bob.log"; exit 1; }

# 2: alice's host pairs: the first pairing makes the household bond.
timeout 60 "$host" "$tmp/alice.sock" $speaker "$tmp/alice.bond" "$tmp/alice.snoop" >"$tmp/a.out" 2>&1 &&
	grep -qx "asked 1" "$tmp/a.out" && grep -q "^bond $speaker public by alice " "$tmp/state/bonds"
t_ok $? "alice pairs the speaker through her tunnel: the household bond is hers" ||
	diag "$tmp/a.out" "$tmp/state/bonds" "$tmp/log"
hkey=$(sed -n "s/^bond $speaker .* linkkey \([0-9a-f]\{32\}\) .*/\1/p" "$tmp/state/bonds")

# 3: bob uses it later: the core got the key from the monitor again.
timeout 60 "$host" "$tmp/bob.sock" $speaker "$tmp/bob.bond" "$tmp/bob.snoop" >"$tmp/b.out" 2>&1 &&
	grep -qx "asked 0" "$tmp/b.out" && grep -q "authenticated with the household bond" "$tmp/log"
t_ok $? "bob's link is authenticated and encrypted with it, his host not asked" ||
	diag "$tmp/b.out" "$tmp/log"

# The key as the monitor hands it (octets as stored, least significant
# first on the air), reversed, and as the store's text.
needles=""
if [ ${#hkey} -eq 32 ]; then
	needles="$hkey $(echo "$hkey" | python3 -c 'import sys; print(bytes.fromhex(sys.stdin.read().strip())[::-1].hex())')"
	needles="$needles $(printf %s "$hkey" | od -An -v -tx1 | tr -d ' \n')"
fi

# 4: the control: the device (bgw-sim) holds the key it agreed on.
# shellcheck disable=SC2086
[ -n "$needles" ] && ! python3 "$src/tests/memscan.py" "$spid" $needles >"$tmp/scan-sim" 2>&1 &&
	grep -q "found" "$tmp/scan-sim"
t_ok $? "the search finds the key in the device's memory (bgw-sim)" || diag "$tmp/scan-sim"

# 5: neither the front nor a peer ever saw it.
ok=0
: >"$tmp/scan-net"
for p in $front $pp; do
	# shellcheck disable=SC2086
	{ echo "process $p"; python3 "$src/tests/memscan.py" "$p" $needles; } >>"$tmp/scan-net" 2>&1 || ok=1
done
[ -n "$needles" ] && [ $ok -eq 0 ]
t_ok $? "the network front and both peers hold no form of the household key" || diag "$tmp/scan-net"

# 6: the core had it for each request and wiped it.
# shellcheck disable=SC2086
[ -n "$needles" ] && python3 "$src/tests/memscan.py" "$core" $needles >"$tmp/scan-core" 2>&1
t_ok $? "after the pairing and a later Link Key Request the core holds no form of it" ||
	diag "$tmp/scan-core"

# 7: the admin pairs the bulb at the gateway; audited, without the key.
timeout 90 "$build/muxd/bgw-muxd" -c "$tmp/muxd.conf" pair $bulb </dev/null >"$tmp/p.out" 2>&1 &&
	grep -q "^bond $bulb public by @gateway " "$tmp/state/bonds"
st=$?
gkey=$(sed -n "s/^bond $bulb .* linkkey \([0-9a-f]\{32\}\) .*/\1/p" "$tmp/state/bonds")
[ $st -eq 0 ] && [ ${#gkey} -eq 32 ] &&
	grep "bond-new" "$tmp/audit.log" | grep "user=@gateway" | grep "uid=0" |
	grep -q "paired%20at%20the%20gateway%20by%20the%20admin" && ! grep -q "$gkey" "$tmp/audit.log" "$tmp/p.out"
t_ok $? "bgw-muxd pair: the bulb's key is the household bond, audited as @gateway by uid 0" ||
	diag "$tmp/p.out" "$tmp/state/bonds" "$tmp/audit.log"

# 8: bob uses it, his host never asked.
timeout 60 "$host" "$tmp/bob.sock" $bulb "$tmp/bob-bulb.bond" "$tmp/bob-bulb.snoop" >"$tmp/bb.out" 2>&1 &&
	grep -qx "asked 0" "$tmp/bb.out"
t_ok $? "bob's link to the bulb is authenticated and encrypted with it" || diag "$tmp/bb.out"

# 9: the gateway's pairing left no copy: in the device only.
gneedles=""
if [ ${#gkey} -eq 32 ]; then
	gneedles="$gkey $(echo "$gkey" | python3 -c 'import sys; print(bytes.fromhex(sys.stdin.read().strip())[::-1].hex())')"
	gneedles="$gneedles $(printf %s "$gkey" | od -An -v -tx1 | tr -d ' \n')"
fi
ok=0
: >"$tmp/scan-gw"
# shellcheck disable=SC2086
python3 "$src/tests/memscan.py" "$spid" $gneedles >/dev/null 2>&1 && ok=1
for p in $core $front $pp; do
	# shellcheck disable=SC2086
	{ echo "process $p"; python3 "$src/tests/memscan.py" "$p" $gneedles; } >>"$tmp/scan-gw" 2>&1 || ok=1
done
[ -n "$gneedles" ] && [ $ok -eq 0 ]
t_ok $? "the bulb's key: in the device, in no form in the core, the front or a peer" ||
	diag "$tmp/scan-gw"

# 10: LE: alice pairs the lock (legacy): its LTK becomes the household bond.
timeout 60 "$lehost" "$tmp/alice.sock" $lock "$tmp/alice.lebond" "$tmp/alice.lesnoop" >"$tmp/la.out" 2>&1 &&
	grep -qx "paired 1" "$tmp/la.out" && grep -q "^bond $lock random by alice .* ltk " "$tmp/state/bonds"
t_ok $? "alice pairs the lock through her tunnel: the household LE bond is hers" ||
	diag "$tmp/la.out" "$tmp/state/bonds" "$tmp/log"
ltk=$(sed -n "s/^bond $lock .* ltk \([0-9a-f]\{32\}\) .*/\1/p" "$tmp/state/bonds")

# 11: bob pairs (answered by the core) and encrypts again with his key.
timeout 60 "$lehost" "$tmp/bob.sock" $lock "$tmp/bob.lebond" "$tmp/bob.lesnoop" >"$tmp/lb.out" 2>&1 &&
	timeout 60 "$lehost" "$tmp/bob.sock" $lock "$tmp/bob.lebond" "$tmp/bob.lesnoop2" >"$tmp/lb2.out" 2>&1 &&
	grep -qx "paired 0" "$tmp/lb2.out" && grep -q "encrypted with the household LE bond" "$tmp/log"
t_ok $? "bob's host pairs, answered by the core, and encrypts with the lock's key" ||
	diag "$tmp/lb.out" "$tmp/lb2.out" "$tmp/log"
leneedles=""
if [ ${#ltk} -eq 32 ]; then
	leneedles="$ltk $(echo "$ltk" | python3 -c 'import sys; print(bytes.fromhex(sys.stdin.read().strip())[::-1].hex())')"
	leneedles="$leneedles $(printf %s "$ltk" | od -An -v -tx1 | tr -d ' \n')"
fi

# 12: the control: the lock (bgw-sim) holds its LTK.
# shellcheck disable=SC2086
[ -n "$leneedles" ] && ! python3 "$src/tests/memscan.py" "$spid" $leneedles >"$tmp/scan-lesim" 2>&1 &&
	grep -q "found" "$tmp/scan-lesim"
t_ok $? "the search finds the LTK in the lock's memory (bgw-sim)" || diag "$tmp/scan-lesim"

# 13: no role but the monitor holds it: not the front, the peers, the core.
ok=0
: >"$tmp/scan-le"
for p in $front $(peers) $core; do
	# shellcheck disable=SC2086
	{ echo "process $p"; python3 "$src/tests/memscan.py" "$p" $leneedles; } >>"$tmp/scan-le" 2>&1 || ok=1
done
[ -n "$leneedles" ] && [ $ok -eq 0 ]
t_ok $? "the front, both peers and the core hold no form of the household LTK" || diag "$tmp/scan-le"
[ $t_failed -eq 0 ]
