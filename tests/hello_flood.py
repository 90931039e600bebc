#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Flood a DTLS listener with ClientHellos that carry no cookie or a wrong
one, each from its own source address and port (127.0.0.1-127.0.0.250,
ephemeral ports), as a spoofer would; count the HelloVerifyRequests
(RFC 6347 4.2.1) that come back. Bounded in count and time.

  hello_flood.py HOST PORT COUNT [wrong-cookie]

Prints sent=N hvr=N other=N.
"""
import os
import select
import socket
import struct
import sys
import time


def client_hello(seq, cookie):
    suites = [0xC02B, 0xC02C, 0xC0AC, 0x009E, 0x00FF]
    body = struct.pack(">H", 0xFEFD) + os.urandom(32) + b"\x00"
    body += bytes([len(cookie)]) + cookie
    body += struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", s) for s in suites)
    body += b"\x01\x00"
    # supported_groups (secp256r1), signature_algorithms (ecdsa_secp256r1_sha256)
    ext = struct.pack(">HHHH", 10, 4, 2, 23) + struct.pack(">HHHH", 13, 4, 2, 0x0403)
    body += struct.pack(">H", len(ext)) + ext
    n = len(body)
    hs = struct.pack(">B", 1) + n.to_bytes(3, "big") + struct.pack(">H", 0) + \
        (0).to_bytes(3, "big") + n.to_bytes(3, "big") + body
    return struct.pack(">BHH", 22, 0xFEFD, 0) + seq.to_bytes(6, "big") + \
        struct.pack(">H", len(hs)) + hs


def main(argv):
    host, port, count = argv[0], int(argv[1]), int(argv[2])
    wrong = len(argv) > 3 and argv[3] == "wrong-cookie"
    sent = hvr = other = 0
    batch = 200
    end = time.monotonic() + 120
    i = 0
    while i < count and time.monotonic() < end:
        socks = []
        for _ in range(min(batch, count - i)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.%d" % (1 + i % 250), 0))
            s.setblocking(False)
            cookie = os.urandom(32) if wrong else b""
            s.sendto(client_hello(i, cookie), (host, port))
            socks.append(s)
            sent += 1
            i += 1
        t = time.monotonic() + 1.0
        pending = set(socks)
        while pending and time.monotonic() < t:
            r, _, _ = select.select(list(pending), [], [], t - time.monotonic())
            for s in r:
                try:
                    d = s.recv(4096)
                except OSError:
                    pending.discard(s)
                    continue
                if len(d) > 13 and d[0] == 22 and d[13] == 3:
                    hvr += 1
                else:
                    other += 1
                pending.discard(s)
        for s in socks:
            s.close()
    print("sent=%d hvr=%d other=%d" % (sent, hvr, other))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
