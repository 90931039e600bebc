#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Is any of the given byte strings in a process's memory?

  memscan.py PID HEX...

Reads every readable mapping of PID through /proc/PID/mem (root, or the
same user) and prints, per needle, "found" or "absent"; mappings larger
than 256 MiB (sanitizer shadow and reservations, never touched) are
skipped and counted. Exit 0 when every needle is absent, 1 if one is
found, 2 on an error (no mapping could be read).
"""
import sys


def main(argv):
    pid = argv[0]
    needles = [bytes.fromhex(h) for h in argv[1:]]
    found = [False] * len(needles)
    read = skipped = 0
    with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            name = f[5] if len(f) > 5 else ""
            if "r" not in f[1] or name in ("[vvar]", "[vsyscall]", "[vdso]"):
                continue
            if hi - lo > (256 << 20):
                skipped += 1
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            read += 1
            for i, n in enumerate(needles):
                if not found[i] and n in data:
                    found[i] = True
    for n, f in zip(needles, found):
        print("%s... %s" % (n[:4].hex(), "found" if f else "absent"))
    print("mappings read=%d skipped=%d" % (read, skipped))
    if not read:
        return 2
    return 1 if any(found) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
