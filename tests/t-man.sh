#!/bin/bash
# Every manual page lints clean with mandoc, and each program's SYNOPSIS
# equals the usage its --help prints (words compared case-insensitively,
# white space folded), as OpenSSH keeps sshd.8 and usage() in step.
. "${BGW_SRCDIR:-.}/tests/lib.sh"

src=${BGW_SRCDIR:-.}
build=${BGW_BUILDDIR:-.}
pages=$(ls "$src"/man/*.[1-8] 2>/dev/null)
progs=$(ls "$src"/man/*.[18] 2>/dev/null)
n=$(($(echo "$pages" | grep -c .) + $(echo "$progs" | grep -c .)))
echo "1..$n"
[ "$n" -eq 0 ] && exit 0

if ! command -v mandoc >/dev/null 2>&1; then
	for i in $(seq "$n"); do echo "ok $i # SKIP mandoc not installed"; done
	exit 0
fi

norm() { tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//' | tr 'A-Z' 'a-z'; }

for p in $pages; do
	out=$(mandoc -T lint -W warning "$p" 2>&1)
	t_ok $? "mandoc -T lint $(basename "$p")" || echo "$out" | sed 's/^/# /'
	[ -z "$out" ] || echo "$out" | sed 's/^/# /'
done

for p in $progs; do
	name=$(basename "$p"); name=${name%.*}
	bin=$(find "$build" -path "$build/tests" -prune -o -type f -name "$name" -perm -u+x -print 2>/dev/null | head -1)
	if [ -z "$bin" ]; then
		t_n=$((t_n + 1)); echo "not ok $t_n - $name: program not built"
		continue
	fi
	# SYNOPSIS as rendered, up to the next section heading.
	syn=$(MANWIDTH=1000 mandoc -T ascii -O width=1000 "$p" | sed 's/.\x08//g' |
		awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' | norm)
	# usage: lines from --help, up to the first blank line.
	use=$("$bin" --help 2>&1 | awk 'NR == 1 && !/^usage:/ { exit } /^$/ { exit } { print }' |
		sed 's/^usage: *//' | norm)
	[ -n "$syn" ] && [ "$syn" = "$use" ]
	t_ok $? "$name: SYNOPSIS equals --help usage" ||
		printf '# man:   %s\n# usage: %s\n' "$syn" "$use"
done
[ "$t_failed" -eq 0 ]
