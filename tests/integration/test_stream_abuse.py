"""Stream abuse (issue 4): clients that hold connections without doing
their part must not starve anyone else, must be cut by the server on time,
and must not leave memory behind.

* A round of abusers: 1000 idle TCP connections from one address, 20 TLS
  handshakes that never finish, and a client that sends Binding requests
  without ever reading the answers (until its own socket blocks). While they
  are there, 20 fresh Binding requests (UDP and new TCP connections) must be
  answered, at least 19 within 200 ms. After the abusers go, a second
  identical round must leave the daemon's RSS within 5% of the first.
* Slow loris: bytes trickled one at a time do not extend the deadline for
  the first message (or the TLS handshake), nor for a later frame.
"""
import os
import resource
import shutil
import socket
import tempfile
import time
import unittest
import urllib.request

from harness import Daemon, binding_request, free_port, have, parse_xor_mapped
from test_admin import metric, parse_metrics
from test_turn_tls import make_cert

ADMIN_TOKEN = "abuse-test-admin-token-000"
IDLE_CONNS = 1000
HALF_TLS = 20
FRESH = 20


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def read_frame(sock):
    """One STUN message from a stream, or b'' when the server closed."""
    buf = b""
    while len(buf) < 20:
        chunk = sock.recv(20 - len(buf))
        if not chunk:
            return b""
        buf += chunk
    need = 20 + int.from_bytes(buf[2:4], "big")
    while len(buf) < need:
        chunk = sock.recv(need - len(buf))
        if not chunk:
            return b""
        buf += chunk
    return buf


def closed_by_server(sock, within):
    """Seconds until the server closed sock, or None if it stayed open."""
    t0 = time.monotonic()
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(4096):
                return time.monotonic() - t0
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - t0
    except socket.timeout:
        return None


@unittest.skipUnless(have("openssl"), "openssl CLI is not installed")
class StreamAbuse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise_nofile(4 * IDLE_CONNS)
        cls.tmp_cert = tempfile.mkdtemp(prefix="avedge-abuse-")
        cls.cert, cls.key = make_cert(cls.tmp_cert)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp_cert, ignore_errors=True)

    def start(self, extra=()):
        self.tls_port = free_port()
        self.admin_port = free_port()
        d = Daemon(["--threads", "2", "--cert", self.cert, "--pkey", self.key,
                    "--tls-listening-port", str(self.tls_port),
                    "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                    "--admin-token", ADMIN_TOKEN] + list(extra))
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def cut_count(self, reason):
        """avedge_connections_cut_total{reason} from /metrics."""
        req = urllib.request.Request(
            "http://127.0.0.1:%d/metrics" % self.admin_port,
            headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            series = parse_metrics(r.read().decode())[0]
        return metric(series, "avedge_connections_cut_total", reason=reason)

    def tcp(self, port, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        return s

    def fresh_binding_ms(self, port, over_tcp):
        """Milliseconds for one Binding on a new socket (inf: no answer)."""
        req, tid = binding_request()
        t0 = time.monotonic()
        try:
            if over_tcp:
                with self.tcp(port) as s:
                    s.settimeout(2)
                    s.sendall(req)
                    resp = read_frame(s)
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(2)
                    s.sendto(req, ("127.0.0.1", port))
                    resp, _ = s.recvfrom(2048)
        except OSError:
            return float("inf")
        if parse_xor_mapped(resp, tid) is None:
            return float("inf")
        return (time.monotonic() - t0) * 1000

    def stalled_reader(self, port):
        """A client that sends Bindings and never reads: returns the
        socket once its send blocks (server stopped reading it)."""
        s = self.tcp(port, rcvbuf=4096)
        s.setblocking(False)
        req, _ = binding_request()
        sent = 0
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end:
            try:
                sent += s.send(req * 64)
            except BlockingIOError:
                break
        else:
            self.fail("the server kept reading a client that never reads")
        # the server held back: it did not take more than its output cap
        # worth of requests (256 KiB of answers ~ 9k requests) plus the
        # kernel's buffers
        self.assertLess(sent, 64 * 1024 * 1024)
        return s

    def abuse_round(self, d):
        socks = []
        try:
            for _ in range(IDLE_CONNS):
                socks.append(self.tcp(d.port))
            for _ in range(HALF_TLS):
                s = self.tcp(self.tls_port)
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
                socks.append(s)
            socks.append(self.stalled_reader(d.port))
            times = [self.fresh_binding_ms(d.port, over_tcp=i % 2 == 1)
                     for i in range(FRESH)]
        finally:
            for s in socks:
                s.close()
        return times

    def wait_fds(self, pid, at_most, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if fd_count(pid) <= at_most:
                return
            time.sleep(0.1)
        self.fail("daemon still holds %d fds (expected <= %d)" %
                  (fd_count(pid), at_most))

    def test_abusers_do_not_starve_or_leak(self):
        d = self.start()
        pid = d.proc.pid
        base_fds = fd_count(pid)
        rss = []
        for rnd in range(2):
            times = self.abuse_round(d)
            fast = sum(1 for t in times if t < 200)
            self.assertGreaterEqual(
                fast, FRESH - 1,
                "round %d: Binding times (ms) %s" %
                (rnd + 1, ["%.1f" % t for t in times]))
            self.wait_fds(pid, base_fds + 2)
            time.sleep(0.5)
            rss.append(rss_kb(pid))
        growth = (rss[1] - rss[0]) / rss[0]
        self.assertLess(abs(growth), 0.05,
                        "RSS after round 1: %d kB, after round 2: %d kB" %
                        tuple(rss))

    def test_slow_loris_first_message(self):
        d = self.start(["--handshake-timeout", "2"])
        req, _ = binding_request()
        s = self.tcp(d.port)
        self.addCleanup(s.close)
        t0 = time.monotonic()
        cut = False
        for b in req:  # one byte per 0.3 s: 6 s for the whole request
            try:
                s.send(bytes([b]))
            except OSError:
                cut = True
                break
            time.sleep(0.3)
            if time.monotonic() - t0 > 4.5:
                break
        if not cut:
            cut = closed_by_server(s, 1.0) is not None
        self.assertTrue(cut, "a trickling client was not cut")
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual(self.cut_count("slow"), 1)

    def test_slow_loris_later_frame(self):
        d = self.start(["--handshake-timeout", "2"])
        s = self.tcp(d.port)
        self.addCleanup(s.close)
        req, tid = binding_request()
        s.sendall(req)
        self.assertIsNotNone(parse_xor_mapped(read_frame(s), tid))
        # now the start of a frame, then nothing more
        s.sendall(req[:7])
        took = closed_by_server(s, 6.0)
        self.assertIsNotNone(took, "an unfinished frame was kept open")
        self.assertLess(took, 4.0)
        self.assertEqual(self.cut_count("slow"), 1)

    def test_unfinished_tls_handshake_cut(self):
        self.start(["--handshake-timeout", "2"])
        s = self.tcp(self.tls_port)
        self.addCleanup(s.close)
        s.sendall(b"\x16\x03\x01\x02\x00\x01")
        took = closed_by_server(s, 6.0)
        self.assertIsNotNone(took, "an unfinished handshake was kept open")
        self.assertLess(took, 4.0)
        self.assertEqual(self.cut_count("tls_handshake_timeout"), 1)

    def test_active_connection_not_cut(self):
        """A client that keeps completing frames is never cut, however
        long it lives or however its frames straddle reads."""
        d = self.start(["--handshake-timeout", "1"])
        s = self.tcp(d.port)
        self.addCleanup(s.close)
        t_end = time.monotonic() + 3.0
        while time.monotonic() < t_end:
            req, tid = binding_request()
            s.sendall(req[:10])
            time.sleep(0.2)
            s.sendall(req[10:])
            self.assertIsNotNone(parse_xor_mapped(read_frame(s), tid))
        self.assertEqual(self.cut_count("slow"), 0)


if __name__ == "__main__":
    unittest.main()
