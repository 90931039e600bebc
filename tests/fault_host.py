#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/cd_host.py with the steps the fault and abuse tests add.

Same command line and output as cd_host.py (its steps all work); extra:
  echo-n:N        N L2CAP echo requests, one at a time, each with its own
                  100-byte payload; every response must carry exactly that
                  payload. Prints echoed=N. A Hardware Error, a lost link or
                  a missing or wrong response fails the step.
  stream:SECS     for SECS seconds keep echo requests in flight (two
                  unanswered) on the last connection: an ACL transfer to
                  be interrupted from outside. Prints pid=PID first and
                  streamed=COUNT at the end.
  abuse:HANDLES   HANDLES is a comma-separated list of other sessions'
                  handles (hex). Sends every malformed or foreign packet this
                  host can frame: foreign-handle ACL/SCO/commands, every
                  handle 0..0xEFF, commands with wrong lengths, unknown
                  opcodes, events, vendor commands, ACL with declared
                  lengths that do not match its L2CAP contents. Keeps
                  reading; prints abuse-sent=N abuse-events=N
                  abuse-errors=N (Command Status / Complete with a non-zero
                  status), then checks the virtual controller still answers
                  (Read BD_ADDR); last an HCI event, after which it must
                  still answer: prints after-event=answers.
  wait-file:PATH  wait (at most 60 s) until PATH exists: the test's signal
                  that something outside (a controller) is back.
  garbage:N       N random bytes of H4 (a header with a huge declared
                  length included), then the socket is closed.
  expect-disconn:REASON  within 30 s, the first packet about the last
                  connection must be its Disconnection Complete with
                  status 0 and reason REASON (hex); ACL data for that
                  handle or a Hardware Error before it fails the step. Prints
                  disconn=0xREASON.
"""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cd_host  # noqa: E402
from cd_host import die  # noqa: E402


def l2_echo(ident, payload):
    sig = struct.pack("<BBH", 0x08, ident, len(payload)) + payload
    return struct.pack("<HH", len(sig), 0x0001) + sig


class FaultHost(cd_host.Host):
    def acl(self, handle, l2, pb=0x2):
        return struct.pack("<BHH", 2, (handle & 0x0FFF) | (pb << 12), len(l2)) + l2

    def _echo_reply(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pkt = self.io.read(end - time.monotonic())
            if pkt is None:
                return None
            if pkt[0] == 4:
                if pkt[1] == 0x10:
                    die("Hardware Error 0x%02x during the echoes" % pkt[3])
                if pkt[1] == 0x05:
                    die("link lost during the echoes (Disconnection Complete)")
                continue
            if pkt[0] == 2 and len(pkt) >= 13 and pkt[9] == 0x09:
                return pkt
        return None

    def step_echo_n(self, n):
        if self.handle is None:
            die("echo-n: no connection")
        n = int(n)
        for i in range(n):
            ident = 1 + i % 250
            payload = (b"%06d-" % i) * 14 + b"xx"
            self.io.write(self.acl(self.handle, l2_echo(ident, payload)))
            pkt = self._echo_reply(10.0)
            if pkt is None:
                die("echo %d of %d: no response" % (i + 1, n))
            if pkt[10] != ident or pkt[13:] != payload:
                die("echo %d of %d: wrong response %s" % (i + 1, n, pkt[9:40].hex()))
        self.out("echoed", n)

    def step_stream(self, secs):
        if self.handle is None:
            die("stream: no connection")
        end = time.monotonic() + float(secs)
        sent = got = 0
        self.out("pid", os.getpid())
        while time.monotonic() < end:
            # Two in flight: the mux grants each session 2 ACL buffers.
            while sent - got < 2:
                self.io.write(self.acl(self.handle, l2_echo(1 + sent % 250, b"s" * 200)))
                sent += 1
            if self._echo_reply(5.0) is None:
                die("stream: no response")
            got += 1
        self.out("streamed", got)

    def step_abuse(self, handles):
        foreign = [int(h, 16) for h in handles.split(",") if h]
        rnd = random.Random(10)
        pkts = []
        # Foreign handles: data, and the commands that name a handle
        # (Disconnect, Read Remote Features, Read RSSI, LE Conn Update).
        for h in foreign:
            pkts.append(self.acl(h, l2_echo(7, b"steal")))
            pkts.append(struct.pack("<BHB", 3, h, 3) + b"abc")
            pkts.append(struct.pack("<BHBHB", 1, 0x0406, 3, h, 0x13))
            pkts.append(struct.pack("<BHBH", 1, 0x041B, 2, h))
            pkts.append(struct.pack("<BHBH", 1, 0x1405, 2, h))
            pkts.append(struct.pack("<BHBHHHHHHH", 1, 0x2013, 14, h, 6, 6, 0, 42, 0, 0))
        # Every handle there is, with data.
        for h in range(0, 0x0F00):
            pkts.append(self.acl(h, l2_echo(9, b"x")))
        # Wrong lengths: commands one byte short and one byte long,
        # L2CAP lengths that disagree with the ACL length.
        for op in (0x0C03, 0x1009, 0x0C01, 0x0401, 0x0405, 0x0406, 0x0419,
                   0x200B, 0x200C, 0x200D, 0x2008, 0x0C13, 0x0C45):
            pkts.append(struct.pack("<BHB", 1, op, 1) + b"\0")
            pkts.append(struct.pack("<BHB", 1, op, 255) + bytes(255))
            pkts.append(struct.pack("<BHB", 1, op, 2) + b"\xff\xff")
        if self.handle is not None:
            pkts.append(self.acl(self.handle, struct.pack("<HH", 500, 1) + b"short"))
            pkts.append(self.acl(self.handle, b"\x01"))
            pkts.append(self.acl(self.handle, b"", pb=0x1))
            pkts.append(self.acl(self.handle, l2_echo(3, b"bc"), pb=0x3))
        # Unknown and vendor opcodes, every OGF.
        for ogf in range(0, 0x40):
            pkts.append(struct.pack("<BHB", 1, (ogf << 10) | 0x3FF, 0))
        for _ in range(200):
            plen = rnd.randrange(0, 256)
            pkts.append(struct.pack("<BHB", 1, rnd.randrange(0, 0x10000), plen) +
                        bytes(rnd.randrange(256) for _ in range(plen)))
        sent = events = errors = 0
        for p in pkts:
            self.io.write(p)
            sent += 1
            while True:
                ev = self.io.read(0)
                if ev is None:
                    break
                if ev[0] != 4:
                    continue
                events += 1
                if ev[1] == 0x0F and ev[3] != 0:
                    errors += 1
                elif ev[1] == 0x0E and len(ev) > 6 and ev[6] != 0:
                    errors += 1
                elif ev[1] == 0x10:
                    die("Hardware Error on the malicious session")
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            ev = self.io.read(end - time.monotonic())
            if ev is None:
                break
            if ev[0] == 4:
                events += 1
                if (ev[1] == 0x0F and ev[3] != 0) or \
                   (ev[1] == 0x0E and len(ev) > 6 and ev[6] != 0):
                    errors += 1
        self.out("abuse-sent", sent)
        self.out("abuse-events", events)
        self.out("abuse-errors", errors)
        ret = self.cmd_complete(0x1009, timeout=20.0)
        self.out("still-answers", cd_host.addr_str(ret[:6]))
        # Last, an event from a host: refused (a controller takes none),
        # the session carries on.
        self.io.write(bytes.fromhex("040e0401030c00"))
        ret = self.cmd_complete(0x1009, timeout=20.0)
        self.out("after-event", "answers")

    def step_wait_file(self, path):
        end = time.monotonic() + 60.0
        while not os.path.exists(path):
            if time.monotonic() > end:
                die("%s did not appear within 60 s" % path)
            time.sleep(0.1)

    def step_expect_disconn(self, reason):
        if self.handle is None:
            die("expect-disconn: no connection")
        want = int(reason, 16)
        end = time.monotonic() + 30.0
        while time.monotonic() < end:
            pkt = self.io.read(end - time.monotonic())
            if pkt is None:
                break
            if pkt[0] == 2 and len(pkt) >= 3 and \
                    struct.unpack_from("<H", pkt, 1)[0] & 0x0FFF == self.handle:
                die("ACL data for 0x%04x before its Disconnection Complete" % self.handle)
            if pkt[0] != 4 or len(pkt) < 3:
                continue
            if pkt[1] == 0x05 and len(pkt) >= 7 and \
                    struct.unpack_from("<H", pkt, 4)[0] & 0x0FFF == self.handle:
                if pkt[3] != 0 or pkt[6] != want:
                    die("Disconnection Complete status 0x%02x reason 0x%02x, wanted reason 0x%02x"
                        % (pkt[3], pkt[6], want))
                self.out("disconn", "0x%02x" % pkt[6])
                return
            if pkt[1] == 0x10:
                die("Hardware Error 0x%02x before the Disconnection Complete" % pkt[3])
        die("no Disconnection Complete for 0x%04x within 30 s" % self.handle)

    def step_garbage(self, n):
        rnd = random.Random(11)
        data = bytes(rnd.randrange(256) for _ in range(int(n)))
        try:
            self.io.write(bytes.fromhex("02010000ff") + data[:100])
            self.io.write(data)
        except OSError as e:
            self.out("garbage", "closed by peer (%s)" % e.strerror)
            return
        self.out("garbage", "written")


if __name__ == "__main__":
    cd_host.Host = FaultHost
    sys.exit(cd_host.main(sys.argv[1:]))
