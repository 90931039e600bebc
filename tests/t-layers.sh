#!/bin/bash
# The simulated controller and the controller transports keep their layers
# (issue 16): no circle between files (tests/filedeps.py), the generic
# transport code names no kind, and no file of sim/ grows past ~1500 lines.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
N=4
echo "1..$N"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

out=$(python3 "$src/tests/filedeps.py" "$src"/sim/*.c 2>&1)
t_ok $? "sim/: no circle between files (air <- rd, ctrl <- features <- dispatch)" ||
	echo "$out" | diag

out=$(python3 "$src/tests/filedeps.py" "$src"/mux/transport*.c 2>&1)
t_ok $? "mux/transport*.c: no circle between files" || echo "$out" | diag

# transport.c only dispatches: no simulated-controller branch or setting.
out=$(grep -nE 'sim_|T_SIM|sim\.h' "$src/mux/transport.c")
[ -z "$out" ]
t_ok $? "mux/transport.c names no simulated controller (it is one kind)" ||
	echo "$out" | diag

out=$(wc -l "$src"/sim/*.[ch] | awk '$2 != "total" && $1 > 1500')
[ -z "$out" ]
t_ok $? "no file in sim/ over 1500 lines" || echo "$out" | diag

[ "$t_failed" -eq 0 ]
