"""Bandwidth classes against the real daemon (docs/config.md "Bandwidth
classes"): a static user mapped to a capped class has its relayed rate held
within 5 % of the cap (plus one burst) over 5 s while an unmapped user on
the same node runs free, and the cap holds for a client on TCP too; the
class's DSCP is on the wire to the peer (read with IP_RECVTOS on a loopback
socket), for a class named in a REST credential too; drops are counted per
class in /metrics and /api/stats; SIGHUP gives new allocations the new
classes while a live one keeps its own; a class that is not defined stops
the daemon before it binds, naming file, line and key.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import unittest
import urllib.request

from harness import AVEDGE, Daemon, free_port, wait_for
from turnclient import StreamTurnClient, TurnClient, error_code

TOKEN = "bandwidth-admin-token-0123456789"
SECRET = "bw-rest-secret"
CAP = 40000    # bytes/s of class "viewer"
BURST = 4000   # its burst
DSCP = 46      # EF
PAYLOAD = 1000
SECONDS = 5.0
CONFIG = """realm = bw.test
user = capped:pw1
user = free:pw2
static-auth-secret = %s
bandwidth-class = viewer:%d:%d:%d
bandwidth-class = guest:%d::10
user-bandwidth-class = capped:viewer
""" % (SECRET, CAP, BURST, DSCP, CAP // 2)

IP_RECVTOS = getattr(socket, "IP_RECVTOS", 13)
IP_TOS = getattr(socket, "IP_TOS", 1)


def rest_user(ident):
    user = "%d:%s" % (int(time.time()) + 3600, ident)
    pw = base64.b64encode(hmac.new(SECRET.encode(), user.encode(),
                                   hashlib.sha1).digest()).decode()
    return user, pw


class Peer:
    """A UDP socket on loopback that counts what arrives and its TOS."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.bytes = self.pkts = 0
        self.tos = set()

    def drain(self):
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, 64)
            except BlockingIOError:
                return
            self.bytes += len(data)
            self.pkts += 1
            for level, kind, v in anc:
                if level == socket.IPPROTO_IP and kind == IP_TOS and v:
                    self.tos.add(v[0])

    def close(self):
        self.sock.close()


def relay_to(client, peer, channel=0x4000):
    """Allocate, permit and bind peer's port to channel."""
    for resp in (client.allocate(), client.create_permission("127.0.0.1"),
                 client.channel_bind(channel, "127.0.0.1", peer.port)):
        assert resp[1] == 2, "method %d: %r" % (resp[0], error_code(resp[3]))


def offer(clients, peers, seconds):
    """Each client sends 2.5x the cap of ChannelData on channel 0x4000 for
    seconds, paced in 10 ms steps; the peers drain as it goes and 0.5 s
    after. (packets sent by each client, seconds)"""
    per_step = max(1, int(2.5 * CAP * 0.01 / PAYLOAD))
    payload = os.urandom(PAYLOAD)
    sent = step = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for _ in range(per_step):
            for c in clients:
                c.channel_data(0x4000, payload)
            sent += 1
        for p in peers:
            p.drain()
        step += 1
        delay = t0 + step * 0.01 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        for p in peers:
            p.drain()
        time.sleep(0.02)
    return sent, elapsed


class BandwidthTest(unittest.TestCase):
    def setUp(self):
        self.admin_port = free_port()
        self.d = Daemon(["--relay-ip", "127.0.0.1", "--allow-loopback-peers",
                         "--threads", "2", "--min-port", "53000",
                         "--max-port", "53999",
                         "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                         "--admin-token", TOKEN], config=CONFIG)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.server = ("127.0.0.1", self.d.port)
        self.closers = []
        self.addCleanup(lambda: [c.close() for c in self.closers])

    def client(self, user, pw):
        c = TurnClient(self.server, user, pw)
        self.closers.append(c)
        return c

    def peer(self):
        p = Peer()
        self.closers.append(p)
        return p

    def http(self, path):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                     headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def metric(self, name, **labels):
        want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
        for line in self.http("/metrics").splitlines():
            if not labels and line.startswith(name + " "):
                return int(line.rsplit(" ", 1)[1])
            if line.startswith(name + "{"):
                got = ",".join(sorted(line[len(name) + 1:line.index("}")].split(",")))
                if got == want:
                    return int(line.rsplit(" ", 1)[1])
        raise AssertionError("no %s{%s}" % (name, want))

    def test_capped_class_holds_its_rate_while_another_runs_free(self):
        capped, free = self.client("capped", "pw1"), self.client("free", "pw2")
        pc, pf = self.peer(), self.peer()
        relay_to(capped, pc)
        relay_to(free, pf)
        sent, elapsed = offer([capped, free], [pc, pf], SECONDS)
        expected = CAP * elapsed
        self.assertLessEqual(pc.bytes, expected * 1.05 + BURST,
                             "capped: %d bytes in %.2f s" % (pc.bytes, elapsed))
        self.assertGreaterEqual(pc.bytes, expected * 0.95,
                                "capped: %d bytes in %.2f s" % (pc.bytes, elapsed))
        # the free one got (nearly) all it sent: far above the cap
        self.assertGreaterEqual(pf.pkts, sent * 0.9, "free: %d of %d" % (pf.pkts, sent))
        self.assertEqual(pc.tos, {DSCP << 2})
        self.assertEqual(pf.tos, {0})
        # drops counted for the class, none for the implicit one
        # (what the kernel lost on loopback, if anything, is neither)
        dropped = self.metric("avedge_bandwidth_dropped_packets_total",
                              **{"class": "viewer", "direction": "to_peer"})
        self.assertLessEqual(dropped, sent - pc.pkts)
        self.assertGreaterEqual(dropped, (sent - pc.pkts) * 0.98)
        self.assertEqual(self.metric("avedge_bandwidth_dropped_bytes_total",
                                     **{"class": "viewer", "direction": "to_peer"}),
                         dropped * PAYLOAD)
        self.assertEqual(self.metric("avedge_bandwidth_dropped_packets_total",
                                     **{"class": "max-bps", "direction": "to_peer"}), 0)
        stats = json.loads(self.http("/api/stats"))
        by = {c["class"]: c for c in stats["bandwidth_dropped"]}
        self.assertEqual(by["viewer"]["to_peer"]["packets"], dropped)
        self.assertEqual(by["guest"]["to_peer"]["packets"], 0)

    def test_capped_class_over_tcp(self):
        """The same cap for a client on TCP (ChannelData in the stream)."""
        c = StreamTurnClient(self.server, "capped", "pw1")
        self.closers.append(c)
        p = self.peer()
        relay_to(c, p)
        sent, elapsed = offer([c], [p], 3.0)
        self.assertLessEqual(p.bytes, CAP * elapsed * 1.05 + BURST)
        self.assertGreaterEqual(p.bytes, CAP * elapsed * 0.95)
        self.assertEqual(p.tos, {DSCP << 2})

    def test_rest_credential_class_sets_dscp(self):
        user, pw = rest_user("carol:bw=guest")
        c, p = self.client(user, pw), self.peer()
        relay_to(c, p)
        c.channel_data(0x4000, b"x" * 100)
        wait_for(lambda: (p.drain(), p.pkts)[1] == 1)
        self.assertEqual(p.tos, {10 << 2})
        # an unknown class in a credential: the default (here max-bps 0)
        user, pw = rest_user("dave:bw=gold")
        c, p = self.client(user, pw), self.peer()
        relay_to(c, p)
        c.channel_data(0x4000, b"x" * 100)
        wait_for(lambda: (p.drain(), p.pkts)[1] == 1)
        self.assertEqual(p.tos, {0})
        self.assertEqual(self.metric("avedge_bandwidth_unknown_class_total"), 1)

    def test_sighup_new_classes_for_new_allocations_only(self):
        old = self.client("capped", "pw1")
        po = self.peer()
        relay_to(old, po)
        with open(os.path.join(self.d.tmp, "avedge.conf"), "w") as f:
            f.write(CONFIG.replace("viewer:%d:%d:%d" % (CAP, BURST, DSCP),
                                   "viewer:%d:%d:8" % (CAP, BURST)))
        self.d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "bandwidth classes applied" in self.d.log(), timeout=10)
        new = self.client("capped", "pw1")
        pn = self.peer()
        relay_to(new, pn)
        old.channel_data(0x4000, b"o" * 100)
        new.channel_data(0x4000, b"n" * 100)
        wait_for(lambda: (po.drain(), pn.drain(), po.pkts + pn.pkts)[2] == 2)
        self.assertEqual(po.tos, {DSCP << 2})
        self.assertEqual(pn.tos, {8 << 2})


class BadConfigTest(unittest.TestCase):
    def test_undefined_class_exits_before_binding(self):
        port = free_port()
        d = Daemon(["--admin-listen", "127.0.0.1:%d" % port],
                   config="bandwidth-class = viewer:1000\n"
                          "user-bandwidth-class = alice:viewer\n"
                          "realm-bandwidth-class = avedge.local:nope\n")
        self.addCleanup(d.cleanup)
        d.start(wait_ready=False)
        self.assertNotEqual(d.proc.wait(20), 0)
        self.assertRegex(d.log(), r"avedge\.conf:3: key 'realm-bandwidth-class'.*"
                                  r"class 'nope' is not defined")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", d.port))  # nothing was bound
        s.close()


if __name__ == "__main__":
    unittest.main()
