#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Wrong-password login attempts against bgw-muxd's TLS listener, as an
attacker would make them: TLS (the server certificate not checked), HELLO
mode 2 (password), AUTH client-first for USER, and -- when the server
answers with server-first rather than refusing -- a client-final with a
made-up proof. Each attempt is a new connection from SRC (a loopback
address). Bounded in count and time.

  login_flood.py SRC HOST PORT USER COUNT SECONDS

Prints attempts=N checked=N (the server ran SCRAM and refused the
proof)
limited=N (ERROR 16, rate limited) other=N (anything else) and the rate.
"""
import base64
import os
import socket
import ssl
import struct
import sys
import time


# HELLO's header always says 1; every later message the version agreed.
VERSION = 2


def msg(mtype, body, version=VERSION):
    return struct.pack(">BBBBH", version, mtype, 0, 0, len(body)) + body


def read_msg(s):
    hdr = b""
    while len(hdr) < 6:
        d = s.recv(6 - len(hdr))
        if not d:
            return None, None
        hdr += d
    n = struct.unpack(">H", hdr[4:6])[0]
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            return None, None
        body += d
    return hdr[1], body


def auth(step, text):
    return msg(2, struct.pack(">BH", step, len(text)) + text)


def attempt(ctx, src, host, port, user):
    raw = socket.create_connection((host, port), timeout=10, source_address=(src, 0))
    with ctx.wrap_socket(raw) as s:
        s.sendall(msg(1, bytes([VERSION, VERSION, 2]), version=1))
        t, b = read_msg(s)
        if t != 1:
            return "other"
        nonce = base64.b64encode(os.urandom(18))
        first_bare = b"n=" + user.encode() + b",r=" + nonce
        s.sendall(auth(1, b"p=tls-exporter,," + first_bare))
        t, b = read_msg(s)
        if t == 9 and b[:2] == b"\x00\x10":
            return "limited"
        if t != 2 or b[0] != 2:
            return "other"
        sfirst = b[3:]
        r = dict(kv.split(b"=", 1) for kv in sfirst.split(b","))[b"r"]
        cbind = base64.b64encode(b"p=tls-exporter,," + os.urandom(32))
        proof = base64.b64encode(os.urandom(32))
        s.sendall(auth(3, b"c=" + cbind + b",r=" + r + b",p=" + proof))
        t, b = read_msg(s)
        if t == 9 and b[:2] == b"\x00\x10":
            return "limited"
        if t == 9 or (t == 2 and b[0] == 4 and b[3:5] == b"e="):
            return "checked"	# SCRAM ran: the proof (or binding) refused
        return "other"


def main(argv):
    src, host, port, user = argv[0], argv[1], int(argv[2]), argv[3]
    count, secs = int(argv[4]), float(argv[5])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    res = {"checked": 0, "limited": 0, "other": 0}
    t0 = time.monotonic()
    n = 0
    while n < count and time.monotonic() - t0 < secs:
        try:
            res[attempt(ctx, src, host, port, user)] += 1
        except (OSError, ValueError, KeyError, IndexError):
            res["other"] += 1
        n += 1
    dt = time.monotonic() - t0
    print("attempts=%d checked=%d limited=%d other=%d seconds=%.1f rate=%.0f/s" %
          (n, res["checked"], res["limited"], res["other"], dt, n / dt if dt else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
