#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""File-level dependency graph of C sources: file A depends on file B when A
names a function or object that B defines with external linkage. Prints
the edges and every cycle; exits 1 if there is a cycle.

    tests/filedeps.py FILE.c...

A textual check (comments and strings stripped, definitions found at the
start of a line), good enough for this tree's kernel-style layout."""
import re
import sys


def strip(s):
    s = re.sub(r'/\*.*?\*/', ' ', s, flags=re.S)
    s = re.sub(r'//[^\n]*', ' ', s)
    s = re.sub(r'"(\\.|[^"\\\n])*"', '""', s)
    return re.sub(r"'(\\.|[^'\\\n])'", "''", s)


# A definition at column 0 that is not static: a function (name followed by
# "(" and, later, a body) or an object with an initialiser.
DEF = re.compile(r'^(?!static\b|extern\b|typedef\b|struct\s+\w+\s*\{|enum\b|union\b|#)'
                 r'[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*(\(|\[[^\]]*\]\s*=|=)', re.M)
MACRO_DEF = re.compile(r'^[A-Z_]+\((\w+),', re.M)	# CTRL_CMD_TABLE(name, ...)


def main(files):
    src = {f: strip(open(f, encoding='utf-8').read()) for f in files}
    defs = {}
    for f, s in src.items():
        for m in DEF.finditer(s):
            rest = s[m.end():m.end() + 2000]
            if m.group(2) == '(':
                # a prototype ends with ';' before any '{'
                semi, brace = rest.find(';'), rest.find('{')
                if brace < 0 or (0 <= semi < brace):
                    continue
            defs.setdefault(m.group(1), f)
        for m in MACRO_DEF.finditer(s):
            defs.setdefault(m.group(1), f)
    edges = {f: set() for f in files}
    for f, s in src.items():
        words = set(re.findall(r'\b[A-Za-z_]\w*\b', s))
        for name in words:
            g = defs.get(name)
            if g and g != f:
                edges[f].add(g)
    for f in files:
        if edges[f]:
            print('%s -> %s' % (f, ' '.join(sorted(edges[f]))))
    cycles = []
    state = {}

    def visit(u, path):
        state[u] = 1
        for v in sorted(edges[u]):
            if state.get(v) == 1:
                cycles.append(path[path.index(v):] + [v])
            elif not state.get(v):
                visit(v, path + [v])
        state[u] = 2
    for f in files:
        if not state.get(f):
            visit(f, [f])
    for c in cycles:
        print('cycle: ' + ' -> '.join(c))
    return 1 if cycles else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
