"""UDP socket buffers and kernel queue drops against the real daemon: the
buffer sizes asked and granted (/api/stats, /metrics), a short grant warned
about once (CAP_NET_ADMIN dropped, a size above net.core.rmem_max), and
receive-queue drops (SO_RXQ_OVFL) counted per kind of socket.

Drops are made deterministic by stopping the daemon (SIGSTOP) while a
flood fills a socket's receive queue: with a tiny buffer the kernel must
drop, with the default one a small flood fits. The count reaches the
daemon with the next datagram read from that socket, so a few more are
sent after SIGCONT.
"""
import os
import signal
import socket
import time
import unittest

from harness import have, wait_for
from test_admin import PASSWORD, USER, AdminDaemon, metric
from turnclient import TurnClient, error_code

FLOOD = 400


def stopped(pid):
    """Every thread of pid stopped (SIGSTOP has taken effect)."""
    tasks = os.listdir("/proc/%d/task" % pid)
    for t in tasks:
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            if f.read().rsplit(")", 1)[1].split()[0] != "T":
                return False
    return True


def drops(d, kind):
    return metric(d.metrics(), "avedge_socket_rx_drops_total", kind=kind)


class SocketTest(unittest.TestCase):
    def start(self, extra=(), wrapper=()):
        d = AdminDaemon(["--threads", "1"] + list(extra))
        d.wrapper = list(wrapper)
        self.addCleanup(d.cleanup)
        d.start()
        d.wait_admin()
        return d

    def allocation(self, d):
        """A client with an allocation that admits the test's peer socket;
        (client, relayed address, peer socket)."""
        c = TurnClient(("127.0.0.1", d.port), USER, PASSWORD)
        self.addCleanup(c.close)
        resp = c.allocate()
        self.assertIsNone(error_code(resp[3]), resp)
        relayed = c.relayed(resp)
        self.assertIsNone(error_code(c.create_permission("127.0.0.1")[3]))
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        self.addCleanup(peer.close)
        return c, relayed, peer

    def flood_stopped(self, d, sock, to, payload, n):
        """n datagrams to `to` while the daemon is stopped, then a few
        more once it runs, spaced so they find room."""
        d.proc.send_signal(signal.SIGSTOP)
        try:
            self.assertTrue(wait_for(lambda: stopped(d.proc.pid), timeout=5))
            for _ in range(n):
                sock.sendto(payload, to)
        finally:
            d.proc.send_signal(signal.SIGCONT)
        for _ in range(5):
            time.sleep(0.02)
            sock.sendto(payload, to)

    def test_relay_drops_counted_with_tiny_buffers(self):
        d = self.start(["--sock-buf-size", "4096"])
        _, relayed, peer = self.allocation(d)
        self.flood_stopped(d, peer, relayed, b"x" * 200, FLOOD)
        # all but what fits in a few kB: at least half of the flood
        self.assertTrue(wait_for(lambda: drops(d, "relay") > FLOOD // 2, timeout=5),
                        d.metrics())
        self.assertEqual(drops(d, "listener"), 0)
        s = d.json("/api/stats")
        self.assertEqual(s["socket_buffers"]["relay"]["rcvbuf_asked"], 4096)
        self.assertGreaterEqual(s["socket_buffers"]["relay"]["rcvbuf_granted"], 4096)
        self.assertGreater(s["socket_drops"]["relay"]["rx_queue_full"], 0)

    def test_relay_no_drops_with_default_buffers(self):
        d = self.start()
        c, relayed, peer = self.allocation(d)
        self.flood_stopped(d, peer, relayed, b"x" * 200, 100)
        got = 0
        c.sock.settimeout(2)
        try:
            while got < 105:
                c.recv()
                got += 1
        except socket.timeout:
            pass
        self.assertEqual(got, 105)
        self.assertEqual(drops(d, "relay"), 0)
        s = d.json("/api/stats")["socket_buffers"]
        self.assertEqual(s["relay"]["rcvbuf_asked"], 1 << 20)
        self.assertEqual(s["relay"]["sndbuf_asked"], 1 << 20)
        self.assertEqual(s["listener"]["rcvbuf_asked"], 4 << 20)
        if os.geteuid() == 0:  # SO_RCVBUFFORCE passes rmem_max
            self.assertEqual(s["relay"]["rcvbuf_granted"], 1 << 20)
            self.assertFalse(s["short"])

    def test_listener_drops_counted_with_tiny_buffer(self):
        d = self.start(["--socket-rcvbuf", "4096"])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        junk = b"\x00\x01\x00\x00" + b"\x00" * 196  # not STUN: dropped
        self.flood_stopped(d, s, ("127.0.0.1", d.port), junk, FLOOD)
        self.assertTrue(wait_for(lambda: drops(d, "listener") > FLOOD // 2, timeout=5),
                        d.metrics())
        self.assertEqual(drops(d, "relay"), 0)

    def test_short_grant_warned_once(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to drop CAP_NET_ADMIN from")
        if not have("setpriv"):
            self.skipTest("setpriv (util-linux) is missing")
        with open("/proc/sys/net/core/rmem_max") as f:
            rmem_max = int(f.read())
        with open("/proc/sys/net/core/wmem_max") as f:
            wmem_max = int(f.read())
        big = 2 * max(rmem_max, wmem_max, 1 << 20)
        if big > 1 << 30:
            self.skipTest("net.core.rmem_max is above what the keys allow")
        wrapper = ["setpriv", "--inh-caps", "-net_admin",
                   "--bounding-set", "-net_admin"]
        d = self.start(["--sock-buf-size", str(big), "--socket-rcvbuf", str(big)],
                       wrapper=wrapper)
        self.allocation(d)
        self.allocation(d)  # a second relay socket: still one warning
        s = d.json("/api/stats")["socket_buffers"]
        self.assertTrue(s["short"], s)
        self.assertEqual(s["relay"]["rcvbuf_asked"], big)
        self.assertEqual(s["relay"]["rcvbuf_granted"], rmem_max)
        self.assertEqual(s["listener"]["rcvbuf_granted"], rmem_max)
        m = d.metrics()
        self.assertEqual(metric(m, "avedge_socket_buffer_bytes", kind="relay",
                                dir="rcv", value="granted"), rmem_max)
        log = d.log()
        self.assertEqual(log.count("sock-buf-size: relay sockets got smaller"), 1, log)
        self.assertEqual(log.count("socket-rcvbuf/socket-sndbuf: listening"), 1, log)
        self.assertIn("net.core.rmem_max", log)


if __name__ == "__main__":
    unittest.main()
