#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a controller's local name over an H4 stream socket.

  h4_local_name.py SOCKET NAME

Sends HCI Write Local Name (Core 5.3 Vol 4 Part E 7.3.11) with NAME and
waits (at most 10 s) for its Command Complete. Exit 0 on status 0, 1 on
another status, 2 when no completion came.
"""
import socket
import sys
import time


def main(argv):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(argv[0])
    s.settimeout(0.5)
    name = argv[1].encode()[:248].ljust(248, b"\0")
    s.sendall(b"\x01\x13\x0c\xf8" + name)
    buf = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        while len(buf) >= 3 and buf[0] == 4 and len(buf) >= 3 + buf[2]:
            ev, buf = buf[:3 + buf[2]], buf[3 + buf[2]:]
            if ev[1] == 0x0E and len(ev) >= 7 and ev[4:6] == b"\x13\x0c":
                print("status=%d" % ev[6])
                return 0 if ev[6] == 0 else 1
        if buf and buf[0] != 4:
            print("unexpected packet type %d" % buf[0])
            return 2
    print("no completion")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
