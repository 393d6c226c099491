"""Node capacity against the real daemon (docs/config.md "Node
capacity"): with bps-capacity set and a class, exactly the Allocate whose
reservation would pass the capacity gets 508 and a Refresh with lifetime 0
of another admits one again; a SIGHUP that lowers the capacity below what
is reserved refuses new Allocates (Refresh still succeeds) until enough
allocations go; capacity, reserved and refusals in /metrics and
/api/stats.
"""
import json
import os
import signal
import struct
import unittest
import urllib.request

from harness import Daemon, free_port, wait_for
from turnclient import A_LIFETIME, REFRESH, TurnClient, attr, error_code

TOKEN = "capacity-admin-token-0123456789"
RATE = 40000  # bytes/s of class "viewer", every user's
CONFIG = """realm = cap.test
user = alice:pw1
bandwidth-class = viewer:%d
default-bandwidth-class = viewer
""" % RATE


class CapacityTest(unittest.TestCase):
    def start(self, args, config=CONFIG):
        self.admin_port = free_port()
        self.d = Daemon(["--relay-ip", "127.0.0.1", "--threads", "2",
                         "--min-port", "54000", "--max-port", "54999",
                         "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                         "--admin-token", TOKEN] + list(args), config=config)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.clients = []
        self.addCleanup(lambda: [c.close() for c in self.clients])

    def allocate(self):
        c = TurnClient(("127.0.0.1", self.d.port), "alice", "pw1")
        self.clients.append(c)
        return c, error_code(c.allocate()[3])

    def refresh(self, c, lifetime):
        r = c.transact(REFRESH, [attr(A_LIFETIME, struct.pack("!I", lifetime))])
        return error_code(r[3])

    def http(self, path):
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.admin_port, path),
            headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def metrics(self):
        out = {}
        for line in self.http("/metrics").splitlines():
            if line.startswith("avedge_bandwidth_") or \
               line.startswith('avedge_allocations_rejected_total{reason="capacity"}'):
                k, v = line.rsplit(" ", 1)
                out[k] = int(v)
        return out

    def test_capacity_refuses_exactly_the_one_over(self):
        self.start(["--bps-capacity", str(3 * RATE)])
        got = [self.allocate() for _ in range(3)]
        self.assertEqual([code for _, code in got], [None] * 3)
        _, code = self.allocate()
        self.assertEqual(code, 508)
        m = self.metrics()
        self.assertEqual(m["avedge_bandwidth_capacity_bytes"], 3 * RATE)
        self.assertEqual(m["avedge_bandwidth_reserved_bytes"], 3 * RATE)
        self.assertEqual(
            m['avedge_allocations_rejected_total{reason="capacity"}'], 1)
        stats = json.loads(self.http("/api/stats"))["bandwidth_capacity"]
        self.assertEqual(stats, {"capacity_bytes": 3 * RATE,
                                 "reserved_bytes": 3 * RATE, "rejected": 1})
        # a Refresh of a live one is never refused for capacity
        self.assertIsNone(self.refresh(got[1][0], 600))
        # deleting one gives its reservation back: one more fits, again
        self.assertIsNone(self.refresh(got[0][0], 0))
        self.assertEqual(self.metrics()["avedge_bandwidth_reserved_bytes"],
                         2 * RATE)
        self.assertIsNone(self.allocate()[1])
        self.assertEqual(self.allocate()[1], 508)

    def test_sighup_lowers_the_capacity_at_once(self):
        conf = CONFIG + "bps-capacity = %d\n" % (3 * RATE)
        self.start([], config=conf)
        a, b = self.allocate()[0], self.allocate()[0]
        with open(os.path.join(self.d.tmp, "avedge.conf"), "w") as f:
            f.write(CONFIG + "bps-capacity = %d\n" % RATE)
        self.d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "bps-capacity=%d" % RATE in self.d.log(), timeout=10)
        m = self.metrics()
        self.assertEqual(m["avedge_bandwidth_capacity_bytes"], RATE)
        self.assertEqual(m["avedge_bandwidth_reserved_bytes"], 2 * RATE)
        # the live ones stay and refresh; new ones wait until enough go
        self.assertEqual(self.allocate()[1], 508)
        self.assertIsNone(self.refresh(a, 600))
        self.assertIsNone(self.refresh(a, 0))
        self.assertEqual(self.allocate()[1], 508)
        self.assertIsNone(self.refresh(b, 0))
        self.assertIsNone(self.allocate()[1])
        self.assertEqual(self.allocate()[1], 508)


if __name__ == "__main__":
    unittest.main()
