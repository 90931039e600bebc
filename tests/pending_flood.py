#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hold idle TCP connections to a bgw-muxd TLS listener from many sources.

Usage: pending_flood.py HOST PORT SOURCES PER_SOURCE SECONDS [STOPFILE]

SOURCES is FIRST-LAST over one octet of a loopback address with an "N"
in place of that octet, e.g. 127.0.N.2:1-64 (64 sources, each in a /24
of its own) or 127.0.0.N:10-73 (64 sources in one /24); with a ":" it
is IPv6, N written in decimal into the last group (2001:db8:1:2::N:10-29). Each source
keeps PER_SOURCE connections open without sending a byte, and opens a
new one 0.2 s after one is closed by the server, for SECONDS (or until
STOPFILE exists). Prints "connects=N closed_fast=N held_max=N
hold_max_ms=N": the connections made, those the server closed within
0.5 s (refused), the most held open for longer than that at once, and the longest one the
server held before closing it. Every wait is bounded.
"""
import errno
import os
import selectors
import socket
import sys
import time

RETRY_S = 0.2
FAST_S = 0.5


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    host, port = argv[0], int(argv[1])
    pat, rng = argv[2].rsplit(":", 1)
    lo, hi = (int(x) for x in rng.split("-"))
    per, secs = int(argv[3]), float(argv[4])
    stop = argv[5] if len(argv) > 5 else None
    if not 0 <= lo <= hi <= 255 or per < 1 or per > 16 or secs > 600:
        sys.stderr.write("bad arguments\n")
        return 2
    srcs = [pat.replace("N", str(i)) for i in range(lo, hi + 1)]
    fam = socket.AF_INET6 if ":" in pat else socket.AF_INET
    sel = selectors.DefaultSelector()
    due = []                    # (time, source) of connections to open
    now = time.monotonic()
    for s in srcs:
        due += [(now, s)] * per
    connects = fast = held_max = hold_max = 0
    end = now + secs
    while time.monotonic() < end and not (stop and os.path.exists(stop)):
        now = time.monotonic()
        later = []
        for t, s in due:
            if t > now:
                later.append((t, s))
                continue
            sk = socket.socket(fam, socket.SOCK_STREAM)
            # A full accept queue drops the SYN: do not wait for it.
            sk.settimeout(0.1)
            try:
                sk.bind((s, 0))
                sk.connect((host, port))
            except OSError:
                sk.close()
                later.append((now + RETRY_S, s))
                continue
            sk.setblocking(False)
            sel.register(sk, selectors.EVENT_READ, (s, time.monotonic()))
            connects += 1
        due = later
        # Held: admitted, not refused (open for longer than FAST_S).
        old = sum(1 for k in sel.get_map().values() if now - k.data[1] >= FAST_S)
        held_max = max(held_max, old)
        for key, _ in sel.select(timeout=0.05):
            sk = key.fileobj
            try:
                data = sk.recv(4096)
            except OSError as e:
                data = b"" if e.errno != errno.EAGAIN else None
            if data is None or data:
                continue
            s, born = key.data
            sel.unregister(sk)
            sk.close()
            age = time.monotonic() - born
            if age < FAST_S:
                fast += 1
            hold_max = max(hold_max, age)
            due.append((time.monotonic() + RETRY_S, s))
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print("connects=%d closed_fast=%d held_max=%d hold_max_ms=%d" %
          (connects, fast, held_max, int(hold_max * 1000)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
