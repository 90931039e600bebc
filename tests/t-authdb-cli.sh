#!/bin/sh
# bgw-authdb end to end in a temporary directory: users, passwords, ACLs,
# groups, CA, certificates, revocation, check, the audit chain and
# tampering, and the documented exit statuses.
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

echo "1..43"
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
st 0 "allow @family" A allow @family 00:1A:7D:DA:71:13
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

# The commented example in bgw-authdb(5) is the format's spec: it parses.
src=${BGW_SRCDIR:-.}
sed -n '/^\.Bd -literal/,/^\.Ed/p' "$src/man/bgw-authdb.5" | sed '1d;$d' |
	sed 's/\\e/\\/g' >"$tmp/example"
chmod 600 "$tmp/example"
st 0 "the example in bgw-authdb(5) is a valid authdb" "$B" check "$tmp/example"
[ "$t_failed" -eq 0 ]
