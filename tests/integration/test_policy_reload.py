"""Policy and limits that follow changes, against the real daemon: a peer
that becomes denied (SIGHUP with a new denied-peer-ip, or coturn's peer
list in a real redis-server) loses its channel within 1 s and its traffic
stops both ways; SIGHUP lowering user-quota and max-allocations holds for
the next Allocate, and is no longer named as needing a restart."""
import os
import signal
import socket
import struct
import time
import unittest

from harness import Daemon, have, wait_for
import turnclient as tc

USER, PASSWORD = "alice", "wonderland"
ARGS = ["--relay-ip", "127.0.0.1", "--realm", "test.local",
        "--user", "%s:%s" % (USER, PASSWORD), "--user", "bob:builder",
        "--threads", "2", "--min-port", "62000", "--max-port", "62999"]


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.3)
    return s


def drain(sock):
    sock.settimeout(0.01)
    try:
        while True:
            sock.recv(65536)
    except (socket.timeout, BlockingIOError):
        pass
    finally:
        sock.settimeout(0.3)


class ChannelFlow:
    """A channel from a TURN client to a loopback UDP peer."""

    def open_flow(self, server):
        self.c = tc.TurnClient(server, USER, PASSWORD)
        self.addCleanup(self.c.close)
        m = self.c.allocate()
        self.assertEqual(m[1], 2, m)
        self.relay = self.c.relayed(m)
        self.peer = udp_socket()
        self.addCleanup(self.peer.close)
        pip, pport = self.peer.getsockname()
        self.assertEqual(self.c.channel_bind(0x4001, pip, pport)[1], 2)

    def to_peer(self):
        """ChannelData client -> peer arrives."""
        drain(self.peer)
        self.c.channel_data(0x4001, b"to peer")
        try:
            return self.peer.recvfrom(2048)[0] == b"to peer"
        except socket.timeout:
            return False

    def to_client(self):
        """A peer datagram reaches the client (as ChannelData)."""
        drain(self.c.sock)
        self.peer.sendto(b"to client", self.relay)
        try:
            return self.c.recv().endswith(b"to client")
        except socket.timeout:
            return False

    def assertStopsWithin(self, t0, limit_s):
        """Both directions are dead limit_s after t0, and stay so."""
        stopped = wait_for(lambda: not self.to_peer() and not self.to_client(),
                           limit_s + 1.0, step=0.05)
        self.assertTrue(stopped, "the flow never stopped")
        self.assertLess(time.time() - t0, limit_s + 0.7)  # probes take 0.6 s
        for _ in range(3):
            self.assertFalse(self.to_peer(), "ChannelData reached the peer")
            self.assertFalse(self.to_client(), "peer data reached the client")


class TestSighupDeniedPeer(ChannelFlow, unittest.TestCase):
    def write_config(self, text):
        with open(os.path.join(self.d.tmp, "avedge.conf"), "w") as f:
            f.write(text)

    def setUp(self):
        self.d = Daemon(ARGS, config="allow-loopback-peers\n")
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.open_flow(("127.0.0.1", self.d.port))

    def test_new_denied_peer_ip_stops_channel_both_ways_within_1s(self):
        self.assertTrue(self.to_peer())
        self.assertTrue(self.to_client())
        self.write_config("allow-loopback-peers\ndenied-peer-ip = 127.0.0.1\n")
        t0 = time.time()
        self.d.proc.send_signal(signal.SIGHUP)
        self.assertStopsWithin(t0, 1.0)
        log = self.d.log()
        self.assertIn("SIGHUP: peer policy applied", log)
        self.assertEqual(log.count("allocation peers withdrawn: user=alice"), 1, log)
        self.assertIn("permissions=1 channels=1 tcp=0", log)
        self.assertNotIn("denied-peer-ip changed: needs restart", log)
        # denied wins over allow-loopback-peers for a new channel too
        pip, pport = self.peer.getsockname()
        self.assertEqual(tc.error_code(self.c.channel_bind(0x4002, pip, pport)[3]), 403)


class TestSighupLimits(unittest.TestCase):
    def write_config(self, text):
        with open(os.path.join(self.d.tmp, "avedge.conf"), "w") as f:
            f.write(text)

    def setUp(self):
        self.d = Daemon(ARGS, config="user-quota = 5\n")
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def allocate(self, user="alice", pw=PASSWORD):
        c = tc.TurnClient(("127.0.0.1", self.d.port), user, pw)
        self.addCleanup(c.close)
        m = c.allocate()
        return 0 if m[1] == 2 else tc.error_code(m[3])

    def sighup(self, text):
        n = self.d.log().count("SIGHUP: limits applied")
        self.write_config(text)
        self.d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.d.log().count("SIGHUP: limits applied") > n,
                                 5), self.d.log())
        time.sleep(0.2)  # the workers take max-allocations

    def test_lowered_user_quota_and_max_allocations_hold_for_next_allocate(self):
        self.assertEqual(self.allocate(), 0)
        self.assertEqual(self.allocate(), 0)
        self.sighup("user-quota = 2\n")
        self.assertEqual(self.allocate(), 486)        # alice has 2
        self.assertEqual(self.allocate("bob", "builder"), 0)
        self.sighup("user-quota = 2\nmax-allocations = 3\n")
        self.assertEqual(self.allocate("bob", "builder"), 508)  # 3 on the node
        log = self.d.log()
        self.assertIn("limits applied: max-bps=0 max-allocations=3 user-quota=2", log)
        for key in ("user-quota", "max-allocations", "max-bps", "total-quota"):
            self.assertNotIn("%s changed: needs restart" % key, log)


@unittest.skipUnless(have("redis-server") and have("redis-cli"), "needs redis-server")
class TestRedisDeniedPeer(ChannelFlow, unittest.TestCase):
    def setUp(self):
        from test_redis_cluster import Node, Redis
        self.redis = Redis().start()
        self.addCleanup(self.redis.cleanup)
        self.node = Node("127.0.0.1", "n1", self.redis.port)
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/node/n1") == "1",
                                 5), self.node.log())
        global USER, PASSWORD
        self._saved = (USER, PASSWORD)
        USER, PASSWORD = "alice", "alicepw"
        self.addCleanup(self.restore)
        self.open_flow(("127.0.0.1", self.node.port))

    def restore(self):
        global USER, PASSWORD
        USER, PASSWORD = self._saved

    def test_coturn_denied_peer_list_stops_channel_both_ways_within_1s(self):
        self.assertTrue(self.to_peer())
        self.assertTrue(self.to_client())
        t0 = time.time()
        self.redis.cli("SET", "turn/denied-peer-ip/x", "127.0.0.1")
        self.assertStopsWithin(t0, 1.0)
        log = self.node.log()
        self.assertIn("redis: peer policy applied", log)
        self.assertIn("allocation peers withdrawn: user=alice", log)


if __name__ == "__main__":
    unittest.main()
