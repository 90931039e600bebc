#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scripted Bluetooth host for the bgw-cdclient tests.

Talks H4 to one of bgw-cdclient's exposures -- a stream socket
(--unix PATH / --tcp HOST:PORT) or a packet file, one packet per read and
write (--file PATH: the FUSE "hci" file or the CUSE device) -- and runs
steps in order. Prints "key=value" results on stdout; exits 1 at the first
step that fails, with the reason on stderr. Every wait is bounded.

Steps:
  init            Reset, Read BD_ADDR, Set Event Mask, Write Inquiry Mode
  inquiry         Inquiry (3.84 s, scaled by the controller) until complete
  name:ADDR       Remote Name Request
  lescan:SECS     LE active scan for SECS seconds
  connect:ADDR    Create Connection (BR/EDR) until Connection Complete
  leconnect:ADDR[/random]  LE Create Connection until LE Connection
                  Complete; a refusal (failed Command Status or failed
                  completion) prints leconnect-refused=STATUS and
                  leconnect-refused-by=how it was reported
  gatt-read:UUID16  ATT Read By Type on the last LE connection; prints
                  gatt=UUID16 HANDLE VALUE-HEX
  echo            L2CAP echo request on the last connection, await response
  echoes:N        N L2CAP echo requests on the last connection, up to 4
                  outstanding, each with its own numbered payload of
                  16-600 bytes: every response must come back whole and
                  in order (prints echoes=N); 30 s without one fails
  disconnect      Disconnect the last connection
  use:ADDR        make the connection to ADDR the last one (for echo)
  expect-disc:ADDR  wait (30 s) for Disconnection Complete of the
                  connection to ADDR; prints disc=ADDR REASON
  mark:PATH       create the file PATH (tells the test script a point
                  of the session is reached)
  await:PATH      wait (90 s) until the file PATH exists (the test script
                  says a point of its own is reached); events wait unread
  send-event      write an HCI event (a host must not): expect refusal
  send-short      write a truncated command (a packet file refuses it)
  send-badtype    write an unknown packet type byte
  expect-cmd-failure:SECS  send commands until one fails with Command
                  Status "Hardware Failure" (the upstream is down)
  expect-hwerr:SECS  wait for a Hardware Error event
  sleep:SECS
"""
import errno
import os
import select
import socket
import struct
import sys
import time


def die(msg):
    print("cd_host: " + msg, file=sys.stderr)
    sys.exit(1)


def addr_bytes(s):
    parts = s.split(":")
    if len(parts) != 6:
        die("bad address " + s)
    return bytes(int(p, 16) for p in reversed(parts))


def addr_str(b):
    return ":".join("%02X" % x for x in reversed(b))


class Stream:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def fileno(self):
        return self.s.fileno()

    def write(self, pkt):
        self.s.sendall(pkt)
        return None

    def read(self, timeout):
        end = time.monotonic() + timeout
        while True:
            pkt = self._take()
            if pkt:
                return pkt
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            data = self.s.recv(65536)
            if not data:
                die("exposure closed the connection")
            self.buf += data

    def _take(self):
        b = self.buf
        if not b:
            return None
        t = b[0]
        hdr = {1: 4, 2: 5, 3: 4, 4: 3, 5: 5}.get(t)
        if hdr is None:
            die("unknown packet type 0x%02x from the exposure" % t)
        if len(b) < hdr:
            return None
        if t == 4:
            n = hdr + b[2]
        elif t == 2:
            n = hdr + struct.unpack_from("<H", b, 3)[0]
        elif t == 5:
            n = hdr + (struct.unpack_from("<H", b, 3)[0] & 0x3FFF)
        else:
            n = hdr + b[3]
        if len(b) < n:
            return None
        self.buf = b[n:]
        return b[:n]


class PacketFile:
    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)

    def fileno(self):
        return self.fd

    def write(self, pkt):
        try:
            n = os.write(self.fd, pkt)
        except OSError as e:
            return e.errno
        if n != len(pkt):
            die("short write %d of %d" % (n, len(pkt)))
        return None

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return None
        return os.read(self.fd, 8192)


class Host:
    def __init__(self, io):
        self.io = io
        self.events = []
        self.handle = None
        self.handles = {}
        self.results = {}

    def out(self, k, v):
        print("%s=%s" % (k, v))
        sys.stdout.flush()

    def cmd(self, opcode, params=b""):
        pkt = struct.pack("<BHB", 1, opcode, len(params)) + params
        err = self.io.write(pkt)
        if err:
            die("write of command 0x%04x failed: %s" % (opcode, os.strerror(err)))

    def next_event(self, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            pkt = self.io.read(left)
            if pkt is None:
                return None
            if pkt[0] == 4:
                return pkt
            if pkt[0] == 2:
                self.acl = pkt

    def wait_event(self, want, timeout=10.0, on_other=None):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            ev = self.next_event(left) if left > 0 else None
            if ev is None:
                die("timed out waiting for %s" % want.__doc__)
            if ev[1] == 0x10:
                die("Hardware Error 0x%02x while waiting for %s" % (ev[3], want.__doc__))
            if want(ev):
                return ev
            if on_other:
                on_other(ev)

    def cmd_complete(self, opcode, params=b"", timeout=10.0):
        self.cmd(opcode, params)

        def want(ev):
            "Command Complete"
            if ev[1] == 0x0E and struct.unpack_from("<H", ev, 4)[0] == opcode:
                return True
            if ev[1] == 0x0F and struct.unpack_from("<H", ev, 5)[0] == opcode:
                die("command 0x%04x got Command Status 0x%02x" % (opcode, ev[3]))
            return False
        ev = self.wait_event(want, timeout)
        if ev[6] != 0:
            die("command 0x%04x failed: status 0x%02x" % (opcode, ev[6]))
        return ev[7:]

    def cmd_status(self, opcode, params=b"", timeout=10.0):
        self.cmd(opcode, params)

        def want(ev):
            "Command Status"
            return ev[1] == 0x0F and struct.unpack_from("<H", ev, 5)[0] == opcode
        ev = self.wait_event(want, timeout)
        if ev[3] != 0:
            die("command 0x%04x: status 0x%02x" % (opcode, ev[3]))

    def step_init(self):
        self.cmd_complete(0x0C03)
        ret = self.cmd_complete(0x1009)
        self.out("bdaddr", addr_str(ret[:6]))
        self.cmd_complete(0x0C01, bytes.fromhex("ffffffffffffff7f"))
        self.cmd_complete(0x0C45, b"\x02")
        self.out("init", "ok")

    def step_inquiry(self):
        found = set()

        def note(ev):
            if ev[1] in (0x02, 0x22, 0x2F):
                found.add(addr_str(ev[4:10]))
        self.cmd_status(0x0401, bytes.fromhex("338b9e") + b"\x03\x00")

        def want(ev):
            "Inquiry Complete"
            note(ev)
            return ev[1] == 0x01
        self.wait_event(want, 30.0)
        self.out("inquiry", " ".join(sorted(found)))

    def step_name(self, addr):
        self.cmd_status(0x0419, addr_bytes(addr) + b"\x01\x00\x00\x00")

        def want(ev):
            "Remote Name Request Complete"
            return ev[1] == 0x07
        ev = self.wait_event(want, 20.0)
        name = ev[10:].split(b"\0")[0].decode("utf-8", "replace")
        self.out("name", "%s %s" % (addr, name))

    def step_lescan(self, secs):
        self.cmd_complete(0x200B, b"\x01\x10\x00\x10\x00\x00\x00")
        self.cmd_complete(0x200C, b"\x01\x00")
        found = set()
        end = time.monotonic() + secs
        while time.monotonic() < end:
            ev = self.next_event(end - time.monotonic())
            if ev and ev[1] == 0x3E and ev[3] == 0x02:
                found.add(addr_str(ev[7:13]))
        self.cmd_complete(0x200C, b"\x00\x00")
        self.out("lescan", " ".join(sorted(found)))

    def step_connect(self, addr):
        self.cmd_status(0x0405, addr_bytes(addr) + bytes.fromhex("18cc01000000") + b"\x01")

        def want(ev):
            "Connection Complete"
            return ev[1] == 0x03
        ev = self.wait_event(want, 20.0)
        if ev[3] != 0:
            die("Connection Complete status 0x%02x" % ev[3])
        self.handle = struct.unpack_from("<H", ev, 4)[0]
        self.handles[addr.upper()] = self.handle
        self.out("connected", "0x%04x %s" % (self.handle, addr))

    def step_echo(self):
        if self.handle is None:
            die("echo: no connection")
        sig = struct.pack("<BBH", 0x08, 0x01, 4) + b"ping"
        l2 = struct.pack("<HH", len(sig), 0x0001) + sig
        acl = struct.pack("<BHH", 2, self.handle | (0x2 << 12), len(l2)) + l2
        err = self.io.write(acl)
        if err:
            die("ACL write failed: %s" % os.strerror(err))
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            pkt = self.io.read(end - time.monotonic())
            if pkt is None:
                break
            if pkt[0] == 2 and len(pkt) >= 13 and pkt[9] == 0x09:
                self.out("echo", pkt[13:].decode("ascii", "replace"))
                return
        die("no L2CAP echo response")

    def step_echoes(self, arg):
        if self.handle is None:
            die("echoes: no connection")
        total = int(arg)
        if total < 1 or total > 100000:
            die("echoes: 1 to 100000")

        def payload(i):
            n = 16 + (i * 37) % 585
            head = struct.pack("<I", i)
            body = bytes((i * 7 + k) & 0xFF for k in range(n - 4))
            return head + body

        def request(i):
            ident = 1 + i % 255
            data = payload(i)
            sig = struct.pack("<BBH", 0x08, ident, len(data)) + data
            l2 = struct.pack("<HH", len(sig), 0x0001) + sig
            return struct.pack("<BHH", 2, self.handle | (0x2 << 12), len(l2)) + l2

        sent = got = 0
        while got < total:
            while sent < total and sent - got < 4:
                err = self.io.write(request(sent))
                if err:
                    die("ACL write failed: %s" % os.strerror(err))
                sent += 1
            end = time.monotonic() + 30.0
            while True:
                left = end - time.monotonic()
                pkt = self.io.read(left) if left > 0 else None
                if pkt is None:
                    die("echoes: no response %d of %d within 30 s" % (got, total))
                if pkt[0] == 2 and len(pkt) >= 13 and pkt[9] == 0x09:
                    break
            want = payload(got)
            if pkt[10] != 1 + got % 255 or pkt[13:] != want:
                seq = struct.unpack_from("<I", pkt, 13)[0] if len(pkt) >= 17 else -1
                die("echoes: response %d is not the one sent (ident %d, number %d, %d bytes)"
                    % (got, pkt[10], seq, len(pkt) - 13))
            got += 1
        self.out("echoes", got)

    def step_leconnect(self, arg):
        addr, _, kind = arg.partition("/")
        atype = 1 if kind == "random" else 0
        # Vol 4 Part E 7.8.12: scan 60 ms / 30 ms, direct peer, interval
        # 30-50 ms, latency 0, supervision timeout 420 ms.
        params = struct.pack("<HHBB", 0x0060, 0x0030, 0, atype) + addr_bytes(addr) + \
            struct.pack("<BHHHHHH", 0, 0x0018, 0x0028, 0, 0x002a, 0, 0)
        self.cmd(0x200D, params)

        def want(ev):
            "LE Connection Complete"
            if ev[1] == 0x0F and struct.unpack_from("<H", ev, 5)[0] == 0x200D:
                return ev[3] != 0
            return ev[1] == 0x3E and ev[3] in (0x01, 0x0A)
        ev = self.wait_event(want, 20.0)
        if ev[1] == 0x0F:
            self.out("leconnect-refused", "0x%02x" % ev[3])
            self.out("leconnect-refused-by", "Command Status 0x%02x" % ev[3])
            return
        if ev[4] != 0:
            # A failed initiation (Vol 4 Part E 7.7.65.1 / 7.7.65.10): the
            # Command Status said success, the completion carries the error.
            name = "LE Connection Complete" if ev[3] == 0x01 else \
                "LE Enhanced Connection Complete"
            self.out("leconnect-refused", "0x%02x" % ev[4])
            self.out("leconnect-refused-by",
                     "Command Status 0x00, then %s status 0x%02x" % (name, ev[4]))
            return
        self.handle = struct.unpack_from("<H", ev, 5)[0] & 0x0FFF
        self.handles[addr.upper()] = self.handle
        self.out("leconnected", "0x%04x %s" % (self.handle, addr))

    def step_gatt_read(self, uuid):
        if self.handle is None:
            die("gatt-read: no connection")
        att = struct.pack("<BHHH", 0x08, 0x0001, 0xFFFF, int(uuid, 16))
        l2 = struct.pack("<HH", len(att), 0x0004) + att
        # LE data is always "first, non-flushable" (Vol 4 Part E 5.4.2).
        acl = struct.pack("<BHH", 2, self.handle, len(l2)) + l2
        err = self.io.write(acl)
        if err:
            die("ACL write failed: %s" % os.strerror(err))
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            pkt = self.io.read(end - time.monotonic())
            if pkt is None:
                break
            if pkt[0] != 2 or len(pkt) < 10:
                continue
            cid = struct.unpack_from("<H", pkt, 7)[0]
            if cid != 0x0004:
                continue
            if pkt[9] == 0x01:
                die("ATT error 0x%02x" % pkt[-1])
            if pkt[9] == 0x09 and len(pkt) >= 13:
                n = pkt[10]
                handle = struct.unpack_from("<H", pkt, 11)[0]
                value = pkt[13:11 + n]
                self.out("gatt", "%s 0x%04x %s" % (uuid, handle, value.hex()))
                return
        die("no ATT Read By Type response")

    def step_disconnect(self):
        self.cmd_status(0x0406, struct.pack("<HB", self.handle, 0x13))

        def want(ev):
            "Disconnection Complete"
            return ev[1] == 0x05
        self.wait_event(want, 10.0)
        self.out("disconnected", "0x%04x" % self.handle)

    def step_use(self, addr):
        if addr.upper() not in self.handles:
            die("use: no connection to %s" % addr)
        self.handle = self.handles[addr.upper()]

    def step_expect_disc(self, addr):
        handle = self.handles.get(addr.upper())
        if handle is None:
            die("expect-disc: no connection to %s" % addr)

        def want(ev):
            "Disconnection Complete"
            return ev[1] == 0x05 and struct.unpack_from("<H", ev, 4)[0] == handle
        ev = self.wait_event(want, 30.0)
        del self.handles[addr.upper()]
        self.out("disc", "%s 0x%02x" % (addr, ev[6]))

    def step_mark(self, path):
        with open(path, "w") as f:
            f.write("mark\n")

    def step_await(self, path):
        end = time.monotonic() + 90.0
        while not os.path.exists(path):
            if time.monotonic() > end:
                die("%s did not appear within 90 s" % path)
            time.sleep(0.1)

    def step_send_event(self):
        # A Command Complete for Reset, as if the host were a controller.
        err = self.io.write(bytes.fromhex("040e0401030c00"))
        self.out("send-event", os.strerror(err) if err else "written")

    def step_send_short(self):
        # Reset whose header claims one parameter byte that is not there.
        err = self.io.write(bytes.fromhex("01030c01"))
        self.out("send-short", os.strerror(err) if err else "written")

    def step_send_badtype(self):
        # 0x07 is no H4 packet type: a stream is out of sync after it.
        err = self.io.write(bytes.fromhex("07030c00"))
        self.out("send-badtype", os.strerror(err) if err else "written")

    def step_expect_cmd_failure(self, secs):
        # While the upstream is down every command fails at once with
        # Command Status "Hardware Failure": poll with Read BD_ADDR.
        end = time.monotonic() + secs
        while time.monotonic() < end:
            self.cmd(0x1009)
            t = time.monotonic() + 2.0
            while time.monotonic() < t:
                ev = self.next_event(t - time.monotonic())
                if ev is None:
                    break
                if ev[1] == 0x0F and ev[3] == 0x03:
                    self.out("cmd-failure", "hardware-failure")
                    return
                if ev[1] == 0x0E and struct.unpack_from("<H", ev, 4)[0] == 0x1009:
                    break
            time.sleep(0.2)
        die("commands did not fail within %s s" % secs)

    def step_expect_hwerr(self, secs):
        def want(ev):
            "Hardware Error"
            return ev[1] == 0x10
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            ev = self.next_event(left) if left > 0 else None
            if ev is None:
                die("no Hardware Error within %s s" % secs)
            if ev[1] == 0x10:
                self.out("hwerr", "0x%02x" % ev[3])
                return


def main(argv):
    if len(argv) < 3:
        die("usage: cd_host.py --unix PATH|--tcp HOST:PORT|--file PATH STEP...")
    kind, target, steps = argv[0], argv[1], argv[2:]
    if kind == "--unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target)
        io = Stream(s)
    elif kind == "--tcp":
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
        io = Stream(s)
    elif kind == "--file":
        io = PacketFile(target)
    else:
        die("unknown target kind " + kind)
    h = Host(io)
    for st in steps:
        name, _, arg = st.partition(":")
        if name == "sleep":
            time.sleep(float(arg))
            continue
        fn = getattr(h, "step_" + name.replace("-", "_"), None)
        if fn is None:
            die("unknown step " + st)
        if arg:
            fn(float(arg) if name in ("lescan", "expect-hwerr", "expect-cmd-failure") else arg)
        else:
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
