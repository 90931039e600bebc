# Helpers for TAP test scripts: t_ok STATUS DESCRIPTION prints one TAP line.
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
