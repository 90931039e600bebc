# Helpers for TAP test scripts, sourced first:
#   t_ok STATUS DESCRIPTION   one TAP line
#   skip_all REASON           the whole plan of $N tests skipped, exit 0
#   wait_for SECONDS CMD...   run CMD every 0.1 s until it succeeds (bounded)
#   diag [FILE...]            FILEs (or stdin) as TAP comments
#   key_needles KEYFILE       hex forms of a private key for tests/memscan.py
t_n=0
t_failed=0
t_ok() {
	t_n=$((t_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $t_n - $2"
	else
		echo "not ok $t_n - $2"
		t_failed=$((t_failed + 1))
	fi
	return "$1"
}

skip_all() {
	for i in $(seq "$N"); do echo "ok $i # SKIP $1"; done
	exit 0
}

wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}

diag() { sed 's/^/# /' "$@"; }

# The forms a private key could take in a process's memory: the private
# scalar big-endian (DER) and little-endian (GMP limbs on this machine),
# and the PEM text; hex, space-separated. Fails if the scalar is not found.
key_needles() {
	_k=$(openssl pkey -in "$1" -text -noout 2>/dev/null |
		awk '/^priv:/ { p = 1; next } /^[a-zA-Z]/ { p = 0 } p' | tr -d ' :\n')
	_k=${_k#00}
	[ ${#_k} -ge 64 ] || return 1
	echo "$_k" \
		"$(echo "$_k" | python3 -c 'import sys; print(bytes.fromhex(sys.stdin.read().strip())[::-1].hex())')" \
		"$(sed -n 2p "$1" | tr -d '\n' | python3 -c 'import sys; print(sys.stdin.read().encode().hex())')"
}
