#!/bin/sh
# bgw-authdb end to end in a temporary directory: users, passwords, ACLs,
# groups, CA, certificates, revocation, check, the audit chain and
# tampering, and the documented exit statuses; then the command line
# itself: one directory locates every file, errors name the
# file and the next step, address types are explicit and relabels said,
# removals say what went, nothing-to-do fails, every command has --help,
# a piped password is read.
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
		sed 's/^/# /' "$tmp/out" "$tmp/err"
	}
}
has() { grep -q -- "$1" "$2"; t_ok $? "$3" || sed 's/^/# /' "$2"; }
one_line() { [ "$(grep -c . "$tmp/err")" -eq 1 ]; }

echo "1..133"
st 2 "no command is a usage error" "$B"
st 0 "--help" "$B" --help
has "usage: bgw-authdb" "$tmp/out" "--help prints the usage"
st 0 "user add creates the file" A user add alice --admin
st 5 "user add twice" A user add alice
st 2 "bad user name" A user add 'Bad Name'
mkdir -p "$tmp/etc"
printf '%s\n' 'Password123!' | A passwd --stdin alice >"$tmp/out" 2>"$tmp/err"
[ $? -eq 6 ] && grep -q "refused" "$tmp/err"
t_ok $? "a default password is refused (exit 6)"
printf '%s\n' 'alice-Secret-99' | A passwd --stdin alice >/dev/null 2>"$tmp/err"
[ $? -eq 6 ] && grep -q "user name" "$tmp/err"
t_ok $? "a password containing the user name is refused"
st 0 "passwd --stdin with a good password" sh -c "printf '%s\n' 'k9#Vm2!qLz7p' | \"$B\" --db \"$db\" --audit \"$log\" passwd --stdin alice"
grep -q '^password alice scram-sha-256 16384 ' "$db" && ! grep -q 'k9#Vm2' "$db" "$log"
t_ok $? "only a verifier is stored; the password is nowhere"
# From a terminal (a pty from script(1)): no echo, asked twice. Each line
# is sent only once its prompt is on screen (bounded wait, no fixed sleep).
tty_passwd() {
	rm -f "$tmp/fifo" "$tmp/tty.out"
	mkfifo "$tmp/fifo"
	script -qec "\"$B\" --db \"$db\" --audit \"$log\" passwd alice" /dev/null \
		<"$tmp/fifo" >"$tmp/tty.out" 2>&1 &
	pid=$!
	exec 9>"$tmp/fifo"
	for prompt in "New password:" "Retype new password:"; do
		i=0
		while ! grep -q "$prompt" "$tmp/tty.out" 2>/dev/null && [ $i -lt 300 ]; do
			sleep 0.1; i=$((i + 1))
		done
		printf '%s\n' "$1" >&9
		shift
	done
	wait $pid
	rc=$?
	exec 9>&-
	return $rc
}
if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	before=$(grep '^password alice' "$db")
	tty_passwd 'Pty-Secret#42x' 'Pty-Secret#42y'
	[ "$before" = "$(grep '^password alice' "$db")" ] && grep -q "do not match" "$tmp/tty.out"
	t_ok $? "passwd on a terminal: two different entries are refused" || sed 's/^/# /' "$tmp/tty.out"
	tty_passwd 'Pty-Secret#42x' 'Pty-Secret#42x'
	[ $? -eq 0 ] && ! grep -q "Pty-Secret" "$tmp/tty.out" &&
		[ "$before" != "$(grep '^password alice' "$db")" ]
	t_ok $? "passwd on a terminal: asked twice, never echoed" || sed 's/^/# /' "$tmp/tty.out"
else
	for i in 1 2; do t_n=$((t_n + 1)); echo "ok $t_n # SKIP no pty (script(1) missing or failing)"; done
fi
st 4 "passwd for an unknown user" sh -c "echo x | \"$B\" --db \"$db\" --audit \"$log\" passwd --stdin nobody"
st 0 "allow with type and label" A allow alice C0:11:22:33:44:55 random "Front door"
st 0 "allow --irk-stdin" sh -c "echo ec0234a357c8ad05341010a60a397d9b | \"$B\" --db \"$db\" --audit \"$log\" allow alice C0:11:22:33:44:55 random --irk-stdin"
grep -q '^device C0:11:22:33:44:55 random irk ec0234a357c8ad05341010a60a397d9b label "Front door"$' "$db"
t_ok $? "the IRK joins the device line, the label is kept" || sed 's/^/# /' "$db"
st 2 "allow --irk-stdin with a malformed IRK" sh -c "echo 1234 | \"$B\" --db \"$db\" --audit \"$log\" allow alice C0:11:22:33:44:55 random --irk-stdin"
st 2 "allow with a bad address" A allow alice C0:11:22:33:44 random
st 4 "allow to an unknown group" A allow @nope C0:11:22:33:44:55 random
st 0 "group add" A group add family
st 0 "user add bob" A user add bob
st 0 "group member add" A group member family add bob
st 0 "allow @family" A allow @family 00:1A:7D:DA:71:13 public
A user show bob >"$tmp/out" 2>&1
grep -q "group family" "$tmp/out" && grep -q "device 00:1A:7D:DA:71:13 public" "$tmp/out" &&
	! grep -q C0:11 "$tmp/out"
t_ok $? "user show: bob sees the family device only" || sed 's/^/# /' "$tmp/out"

# Comments and order survive edits.
{ echo "# the family's gateway"; cat "$db"; echo "   # a trailing note"; } >"$tmp/db2"
cat "$tmp/db2" >"$db"
st 0 "edit a file with comments" A user disable bob
head -1 "$db" | grep -q "^# the family's gateway$" && tail -1 "$db" | grep -q "^   # a trailing note$" &&
	grep -q '^user bob disabled$' "$db"
t_ok $? "comments kept in place, the one line edited"

st 0 "ca init" A ca init --dir "$tmp/ca" --dns bgw.home --ip 192.0.2.1
[ "$(stat -c %a "$tmp/ca/ca.key" "$tmp/ca/server.key" "$tmp/ca/ca.crt" | sort -u)" = 600 ]
t_ok $? "CA files are 0600"
st 5 "ca init never overwrites" A ca init --dir "$tmp/ca"
st 0 "cert issue" A cert issue alice --dir "$tmp/ca" --server bgw.home:5684 --out "$tmp/alice.bundle"
grep -q '^bgw-bundle 1$' "$tmp/alice.bundle" && grep -q '^server bgw.home:5684$' "$tmp/alice.bundle" &&
	grep -q 'BEGIN PRIVATE KEY' "$tmp/alice.bundle" && [ "$(stat -c %a "$tmp/alice.bundle")" = 600 ]
t_ok $? "the bundle holds key, certificates and address, mode 0600"
if command -v certtool >/dev/null 2>&1; then
	awk '/BEGIN CERT/ { n++ } n == 1' "$tmp/alice.bundle" | sed '/END CERT/q' >"$tmp/alice.crt"
	certtool --verify --load-ca-certificate "$tmp/ca/ca.crt" --infile "$tmp/alice.crt" >"$tmp/out" 2>&1
	t_ok $? "certtool verifies the client certificate against the CA" || tail -3 "$tmp/out" | sed 's/^/# /'
else
	t_n=$((t_n + 1)); echo "ok $t_n # SKIP certtool not installed (gnutls-bin)"
fi
# The home id, and bundles that name relays.
st 0 "ca id" A ca id --dir "$tmp/ca"
id=$(cat "$tmp/out")
printf '%s\n' "$id" | grep -Eqx '[a-z2-7]{26}'
t_ok $? "  ... prints 26 base32 characters" || diag "$tmp/out"
if command -v certtool >/dev/null 2>&1 && command -v basenc >/dev/null 2>&1 &&
	command -v xxd >/dev/null 2>&1; then
	want=$(certtool --pubkey-info --load-certificate "$tmp/ca/ca.crt" --outder 2>/dev/null |
		sha256sum | cut -c1-32 | xxd -r -p | basenc --base32 | tr -d = | tr A-Z a-z)
	[ "$id" = "$want" ]
	t_ok $? "  ... the first 128 bits of SHA-256 over the CA key's SPKI" || echo "# $id != $want"
else
	t_n=$((t_n + 1)); echo "ok $t_n # SKIP certtool, basenc or xxd not installed"
fi
st 4 "ca id without a CA" A ca id --dir "$tmp/none"
grep -q "$tmp/none/ca.crt: no such file; run bgw-authdb ca init first" "$tmp/err" && one_line
t_ok $? "  ... names ca.crt and what to run, once" || diag "$tmp/err"
st 0 "user add bea" A user add bea
st 0 "cert issue with relays only" A cert issue bea --dir "$tmp/ca" --relay relay.example.net:3478 \
	--relay "[2001:db8::7]:3478" --out "$tmp/bea.bundle"
sed -n '3,7p' "$tmp/bea.bundle" >"$tmp/head"
printf 'bgw-bundle 1\nuser bea\nrelay relay.example.net:3478\nrelay [2001:db8::7]:3478\nhome-id %s\n' \
	"$id" | cmp -s - "$tmp/head"
t_ok $? "  ... the bundle names the relays and the home id, no server" || diag "$tmp/head"
# bgw-cdclient takes a relay-only bundle (doc/relay.md, "The client"); a
# relay that does not answer (nothing on 127.0.0.1 port 9): unreachable.
st 0 "cert issue with a silent relay" A cert issue bea --dir "$tmp/ca" --relay 127.0.0.1:9 \
	--out "$tmp/bea9.bundle"
st 3 "bgw-cdclient with a relay-only bundle, the relay silent" \
	timeout 60 "${BGW_BUILDDIR:-.}/cdclient/bgw-cdclient" -f \
	--bundle "$tmp/bea9.bundle" --expose "unix:$tmp/bea.sock"
grep -q "connecting through relay 127.0.0.1:9 over DTLS" "$tmp/err" &&
	[ "$(grep -c "error: " "$tmp/err")" -eq 1 ] &&
	grep -q "error: cannot reach the home through its relay (relay 127.0.0.1:9: no answer); check that bgw-muxd runs at home with \"relay 127.0.0.1:9\" in bgw-muxd.conf" "$tmp/err"
t_ok $? "  ... says it could not reach the home through the relay, once" || diag "$tmp/err"
st 0 "cert issue with a server and a relay" A cert issue bea --dir "$tmp/ca" --server bgw.home \
	--relay relay.example.net:3478 --out "$tmp/bea2.bundle"
grep -q '^server bgw.home$' "$tmp/bea2.bundle" && grep -q "^home-id $id\$" "$tmp/bea2.bundle"
t_ok $? "  ... both, and the id"
! grep -q '^home-id' "$tmp/alice.bundle"
t_ok $? "a bundle without relays has no home-id line (older clients read it)"
st 2 "--relay without a port" A cert issue bea --dir "$tmp/ca" --relay relay.example.net \
	--out "$tmp/bea3.bundle"
grep -q "relay.example.net': a host name or address and a port" "$tmp/err" && one_line &&
	[ ! -e "$tmp/bea3.bundle" ]
t_ok $? "  ... refused in one line, nothing written" || diag "$tmp/err"
st 2 "five --relay" A cert issue bea --dir "$tmp/ca" --relay a:1 --relay b:1 --relay c:1 \
	--relay d:1 --relay e:1 --out "$tmp/bea3.bundle"
st 2 "cert issue with neither --server nor --relay" A cert issue bea --dir "$tmp/ca" \
	--out "$tmp/bea3.bundle"
grep -q -- "--server host\[:port\] or --relay host:port is required" "$tmp/err" && one_line
t_ok $? "  ... says what is needed" || diag "$tmp/err"
st 0 "cert revoke --user" A cert revoke --user alice
A cert list | grep -q "^alice .* revoked$"
t_ok $? "cert list shows the revocation"

st 0 "check" A check
echo "frobnicate yes" >>"$db"
A check >"$tmp/out" 2>"$tmp/err"
[ $? -eq 3 ] && grep -q "authdb:[0-9]*: unknown keyword: 'frobnicate'" "$tmp/err"
t_ok $? "check names file:line of a bad line (exit 3)" || sed 's/^/# /' "$tmp/err"
sed -i '$d' "$db"
chmod 664 "$db"
st 3 "a group-writable authdb is refused" A check
chmod 600 "$db"
st 4 "user del of an unknown user" A user del nobody

st 0 "audit verify" A audit verify
has "chain intact" "$tmp/out" "audit verify reports an intact chain"
n=$(wc -l <"$log")
[ "$n" -ge 10 ] && grep -q "authdb-change uid=$(id -u) detail=user%20add%20alice" "$log"
t_ok $? "each change recorded with the admin's uid"
sed -i '3s/detail=/detail=x/' "$log"
A audit verify >"$tmp/out" 2>"$tmp/err"
[ $? -eq 7 ] && grep -q "audit.log:3:" "$tmp/err"
t_ok $? "tampering detected, first bad record named (exit 7)" || sed 's/^/# /' "$tmp/err"

# ---- the command line --------------------------------------------------
# one_line: $tmp/err holds exactly one line (the message said once).

# Item 9: one version format for every program: "PROG (bgw) VERSION".
st 0 "--version" "$B" --version
grep -qx 'bgw-authdb (bgw) [0-9][0-9.]*[^ ]*' "$tmp/out"
t_ok $? "--version prints 'bgw-authdb (bgw) VERSION'" || diag "$tmp/out"
# Every command and subcommand answers --help: what it does, its usage.
bad=
for cmd in "user" "user add" "user del" "user list" "user show" "user enable" \
	"user disable" "user admin" "passwd" "group" "group add" "group del" \
	"group member" "group list" "allow" "deny" "ca" "ca init" "ca id" "cert" \
	"cert issue" "cert revoke" "cert list" "check" "audit" "audit verify" \
	"audit show"; do
	# shellcheck disable=SC2086 # the words of the command
	"$B" $cmd --help >"$tmp/out" 2>"$tmp/err" &&
		grep -q "^bgw-authdb $cmd: [a-z]" "$tmp/out" &&
		grep -Eq "^(usage: )?bgw-authdb $cmd( |\$)" "$tmp/out" && [ ! -s "$tmp/err" ] ||
		bad="$bad '$cmd'"
done
[ -z "$bad" ]
t_ok $? "every command and subcommand answers --help" || echo "# failed:$bad"
"$B" allow --help >"$tmp/out" 2>&1
grep -qx 'usage: bgw-authdb allow user|@group address public|random \[label\] \[--irk-stdin\]' "$tmp/out"
t_ok $? "allow --help: the usage from the command table" || diag "$tmp/out"

# Item 3: one directory locates the authdb, its audit log and the CA.
d="$tmp/gw"
G() { "$B" --dir "$d" "$@"; }
st 4 "a missing authdb is named" G user list
grep -q "$d/authdb: no such file" "$tmp/err" && grep -q "user add" "$tmp/err" && one_line
t_ok $? "  ... with what creates it, in one line" || diag "$tmp/err"
st 0 "--dir: user add" G user add carol
[ -f "$d/authdb" ] && [ -f "$d/audit.log" ] && [ ! -e "$d/ca.key" ]
t_ok $? "--dir holds the authdb and, away from /etc/bgw, the audit log"
st 4 "cert issue without a CA" G cert issue carol --server gw.home
grep -q "$d/ca.key: no such file; run bgw-authdb ca init first" "$tmp/err" && one_line
t_ok $? "  ... names ca.key and says to run ca init (not 'no such user')" || diag "$tmp/err"
st 2 "ca init --ip with a name" G ca init --ip gw.home
grep -q "not an IPv4 or IPv6 address" "$tmp/err" && one_line && [ ! -e "$d/ca.key" ]
t_ok $? "  ... refused before anything is made, in one line" || diag "$tmp/err"
st 0 "ca init with --dir before the command" G ca init --ip 192.0.2.7
[ -f "$d/ca.key" ] && [ -f "$d/server.crt" ]
t_ok $? "  ... writes the CA in that directory"
st 5 "ca init again" G ca init
grep -q "$d already holds a CA" "$tmp/err" && grep -q "move them away" "$tmp/err" && one_line
t_ok $? "  ... says what is there and what starting over means, once" || diag "$tmp/err"
st 0 "cert issue finds the CA without --dir" G cert issue carol --server gw.home --out "$tmp/carol.bundle"
grep -q "^cert carol " "$d/authdb" && [ -s "$tmp/carol.bundle" ]
t_ok $? "  ... records the certificate in the same authdb"
st 5 "cert issue over an existing bundle" G cert issue carol --server gw.home --out "$tmp/carol.bundle"
grep -q "carol.bundle exists" "$tmp/err" && grep -q -- "--out" "$tmp/err" && one_line
t_ok $? "  ... says so and what to do, once" || diag "$tmp/err"
[ "$(grep -c '^cert carol ' "$d/authdb")" -eq 1 ]
t_ok $? "  ... and records nothing"
cp "$d/ca.key" "$tmp/ca.key.saved"
echo "not a key" >"$d/ca.key"
st 1 "cert issue with a damaged CA key" G cert issue carol --server gw.home --out "$tmp/carol2.bundle"
grep -q "$d/ca.key: not a PEM private key" "$tmp/err" && grep -q "ca.key or ca.crt is damaged; restore" "$tmp/err" &&
	[ ! -e "$tmp/carol2.bundle" ] && [ "$(grep -c '^cert carol ' "$d/authdb")" -eq 1 ]
t_ok $? "  ... names the file and says to restore it; nothing issued" || diag "$tmp/err"
cp "$tmp/ca.key.saved" "$d/ca.key"
d2="$tmp/gw2"
st 0 "--db alone: user add" "$B" --db "$d2/authdb" user add dave
st 0 "--db alone: ca init goes beside the authdb" "$B" --db "$d2/authdb" ca init
[ -f "$d2/ca.key" ] && [ -f "$d2/audit.log" ]
t_ok $? "  ... the authdb's directory holds the CA and the audit log"

# Item 5: the address type is explicit; a relabel is said.
st 2 "allow with a mistyped type" G allow carol C0:11:22:33:44:55 bogus
grep -q "bad address type 'bogus': public .* or random" "$tmp/err" &&
	! grep -q "C0:11:22:33:44:55" "$d/authdb"
t_ok $? "  ... is a usage error, not a label, and grants nothing" || diag "$tmp/err"
st 2 "allow without a type" G allow carol C0:11:22:33:44:55
grep -q "the address type is required" "$tmp/err"
t_ok $? "  ... says the type is required" || diag "$tmp/err"
st 2 "allow with a label in place of the type" G allow carol C0:11:22:33:44:55 "Front door"
grep -q "bad address type 'Front door'" "$tmp/err" && ! grep -q "Front door" "$d/authdb"
t_ok $? "  ... the label is not taken for a type, nothing granted" || diag "$tmp/err"
st 0 "allow with a label" G allow carol C0:11:22:33:44:55 random "Front door"
[ ! -s "$tmp/out" ]
t_ok $? "  ... a first label is not a change to report" || diag "$tmp/out"
st 5 "the same grant again" G allow carol C0:11:22:33:44:55 random "Front door"
grep -q "carol may already use C0:11:22:33:44:55 random" "$tmp/err" && one_line
t_ok $? "  ... says it is there" || diag "$tmp/err"
st 0 "user add erin" G user add erin
st 0 "allow another user the device with a new label" G allow erin C0:11:22:33:44:55 random "Back door"
grep -qx 'label of C0:11:22:33:44:55 random changed: "Front door" -> "Back door" (every user granted the device sees the new one)' "$tmp/out" &&
	grep -q '^device C0:11:22:33:44:55 random label "Back door"$' "$d/authdb"
t_ok $? "  ... prints the old and the new label" || diag "$tmp/out"
st 0 "allow without a label keeps the label" G allow carol 10:B6:00:00:00:04 public
st 0 "an IRK for the device" sh -c "echo ec0234a357c8ad05341010a60a397d9b | \"$B\" --dir \"$d\" allow erin C0:11:22:33:44:55 random --irk-stdin"
st 0 "another IRK for the device" sh -c "echo 00112233445566778899aabbccddeeff | \"$B\" --dir \"$d\" allow erin C0:11:22:33:44:55 random --irk-stdin"
grep -q "^IRK of C0:11:22:33:44:55 random replaced" "$tmp/out" &&
	grep -q '^device C0:11:22:33:44:55 random irk 00112233445566778899aabbccddeeff label "Back door"$' "$d/authdb"
t_ok $? "  ... says the IRK was replaced, keeps the label" || { diag "$tmp/out"; diag "$d/authdb"; }
st 2 "deny with a mistyped type" G deny carol C0:11:22:33:44:55 radnom

# Item 10: removals say what went; nothing to do fails; orphans go.
st 4 "user show of an unknown user" G user show nobody
grep -q "no user 'nobody' in $d/authdb (bgw-authdb user list" "$tmp/err" && one_line
t_ok $? "  ... names the user and the file, and the next step" || diag "$tmp/err"
st 0 "user del carol" G user del carol
grep -qx 'removed user carol: 2 grants, 1 certificate' "$tmp/out"
t_ok $? "  ... says what was removed" || diag "$tmp/out"
grep -q '^device C0:11:22:33:44:55 random' "$d/authdb"
t_ok $? "  ... keeps the device line erin's grant still needs"
st 0 "deny erin the last grant" G deny erin C0:11:22:33:44:55 random
grep -q 'removed the device line of C0:11:22:33:44:55 random ("Back door"): no grant to it is left' "$tmp/out" &&
	! grep -q 'C0:11:22:33:44:55' "$d/authdb"
t_ok $? "  ... removes the orphan device line and says so" || { diag "$tmp/out"; diag "$d/authdb"; }
st 4 "deny again" G deny erin C0:11:22:33:44:55 random
grep -q "erin has no grant for C0:11:22:33:44:55 random" "$tmp/err" && one_line
t_ok $? "  ... names what is missing" || diag "$tmp/err"
st 4 "cert revoke of a serial not in the authdb" G cert revoke 1234abcd
grep -q "no certificate with serial 1234abcd" "$tmp/err" && grep -q "cert list" "$tmp/err"
t_ok $? "  ... says so" || diag "$tmp/err"
st 0 "cert issue erin" G cert issue erin --server gw.home --out "$tmp/erin.bundle"
serial=$(sed -n 's/^cert erin \([0-9a-f]*\) .*/\1/p' "$d/authdb")
st 0 "cert revoke by serial (upper case)" G cert revoke "$(echo "$serial" | tr a-f A-F)"
grep -q "revoked 1 certificate of erin: $serial" "$tmp/out"
t_ok $? "  ... names the certificate and its user" || diag "$tmp/out"
st 5 "cert revoke of a revoked certificate" G cert revoke "$serial"
st 4 "cert revoke --user with nothing left to revoke" G cert revoke --user erin
grep -q "erin has no certificate left to revoke" "$tmp/err"
t_ok $? "  ... says so" || diag "$tmp/err"
st 5 "user enable of an enabled user" G user enable erin
n_audit=$(wc -l <"$d/audit.log")
st 4 "group member add to an unknown group" G group member nope add erin
grep -q "no group 'nope'" "$tmp/err"
t_ok $? "  ... names the group" || diag "$tmp/err"
[ "$(wc -l <"$d/audit.log")" -eq "$n_audit" ]
t_ok $? "failed commands change and record nothing"

# Item 9: passwd reads a piped password without --stdin.
pw='Tq7#rL2m!vX9'
printf '%s\n' "$pw" | G passwd erin >"$tmp/out" 2>"$tmp/err"
t_ok $? "passwd reads one piped line" || diag "$tmp/err"
printf '%s\n%s\n' "$pw" "$pw" | G passwd erin >"$tmp/out" 2>"$tmp/err"
t_ok $? "passwd takes the same line twice as the confirmation" || diag "$tmp/err"
printf '%s\n%s\n' "$pw" "${pw}x" | G passwd erin >"$tmp/out" 2>"$tmp/err"
[ $? -eq 6 ] && grep -q "differ" "$tmp/err"
t_ok $? "passwd refuses two different piped lines (exit 6)" || diag "$tmp/err"
G passwd erin </dev/null >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "no password on standard input: give it as one line (printf" "$tmp/err" && one_line
t_ok $? "passwd with nothing piped says exactly what to do (exit 2)" || diag "$tmp/err"

# Item 9: the user unit's comment names a real command and the file name
# the README and cert issue use.
unit="${BGW_SRCDIR:-.}/systemd/bgw-cdclient@.service.in"
words=$(sed -n 's/^#.*`bgw-authdb \([a-z ]*[a-z]\)[^`]*`.*/\1/p' "$unit" | head -1)
# shellcheck disable=SC2086
[ -n "$words" ] && "$B" $words --help >/dev/null 2>&1 &&
	grep -q '%E/bgw/%i\.bundle' "$unit" && grep -q 'home\.bundle' "$unit" &&
	grep -q -- '--out home\.bundle' "$unit"
t_ok $? "the unit's comment names an existing command and its .bundle file" || echo "# command: '$words'"
readme="${BGW_SRCDIR:-.}/README.md"
grep -q 'bgw-cdclient --bundle [a-z]*\.bundle' "$readme" && ! grep -q '\.bgw\b' "$readme"
t_ok $? "the README uses the same .bundle names"

# The commented example in bgw-authdb(5) is the format's spec: it parses.
src=${BGW_SRCDIR:-.}
sed -n '/^\.Bd -literal/,/^\.Ed/p' "$src/man/bgw-authdb.5" | sed '1d;$d' |
	sed 's/\\e/\\/g' >"$tmp/example"
chmod 600 "$tmp/example"
st 0 "the example in bgw-authdb(5) is a valid authdb" "$B" check "$tmp/example"
[ "$t_failed" -eq 0 ]
