"""Exhaustion (issue 12): each resource that runs out has a clear answer
to the client, shows in /readyz or /metrics, and comes back when the
resource does; the daemon never crashes. Loopback only, every loop bounded.

* Relay ports: a range of 4 ports; the 5th Allocate gets 508, /readyz
  says 503 "relay ports exhausted"; a Refresh with lifetime 0 gives one
  back, /readyz is 200 again and the next Allocate succeeds.
* File descriptors: under RLIMIT_NOFILE 64 (prlimit), allocations and TCP
  connections until none is left: Allocate gets 508, a Binding is still
  answered, the listeners pause instead of spinning on a readable listen
  socket (the daemon stays nearly idle), it is counted and logged at a
  bounded rate; once descriptors are freed a new Allocate succeeds.
* Allocation quota: 1,000 sources (one loopback address each) with good
  credentials against total-quota 300: exactly 300 succeed, 700 get 486;
  50 freed, 50 of the others get in, the rest still 486.
* 401 flood: 20,000 Allocates without credentials from 100 sources in
  about 2 s (pacing 10/s, burst 20 per source): the pacing engages, no answer is larger than 4x its
  request, and an authenticated client gets its allocation meanwhile.
* No state for strangers: after 100,000 Bindings and Allocates without
  credentials from 1,000 sources, RSS is where it was (5% or 1 MB) and
  there is no allocation.
"""
import hashlib
import os
import random
import resource
import select
import threading
import socket
import struct
import time
import unittest
import urllib.error
import urllib.request

from harness import Daemon, binding_request, free_port, have, \
    parse_xor_mapped, wait_for
from test_admin import metric, parse_metrics
import turnclient as tc

USER, PASSWORD = "alice", "wonderland"
ADMIN_TOKEN = "exhaustion-test-admin-token-0"


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_s(pid):
    """User + system CPU seconds of pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def udp_binding(port, src="127.0.0.1", timeout=1.0):
    """The XOR-MAPPED-ADDRESS of a Binding over UDP, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(timeout)
        req, tid = binding_request()
        s.sendto(req, ("127.0.0.1", port))
        try:
            return parse_xor_mapped(s.recvfrom(2048)[0], tid)
        except OSError:
            return None


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def source(net, i):
    """The i-th loopback address of 127.net.0.0/16 (none ends in 0 or
    255); Linux answers for all of 127.0.0.0/8."""
    return "127.%d.%d.%d" % (net, 1 + i // 250, 1 + i % 250)


class Sources:
    """n non-blocking UDP sockets, one per loopback address, all talking
    to one server port."""

    def __init__(self, net, n, port):
        self.port = port
        self.socks = []
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.bind((source(net, i), 0))
            self.socks.append(s)
        self.index = {s.fileno(): i for i, s in enumerate(self.socks)}

    def close(self):
        for s in self.socks:
            s.close()

    def send(self, i, data):
        try:
            self.socks[i].sendto(data, ("127.0.0.1", self.port))
        except BlockingIOError:
            pass

    def drain(self, on_answer, wait=0.0):
        """on_answer(i, bytes) for every datagram waiting (select()
        waits up to wait s for the first); the number read."""
        n = 0
        for k in range(0, len(self.socks), 500):  # select()'s FD_SETSIZE
            part = self.socks[k:k + 500]
            ready = select.select(part, [], [], wait if k == 0 else 0)[0]
            for s in ready:
                while True:
                    try:
                        data = s.recv(4096)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    n += 1
                    on_answer(self.index[s.fileno()], data)
        return n

    def exchange(self, requests, done, rounds=6, step=0.5):
        """Send requests[i] from source i; every answer goes to
        done(i, bytes), true when it is the one awaited. Sources without
        theirs are sent their request again after step s, up to rounds
        times (then AssertionError)."""
        pending = set(requests)
        for _ in range(rounds):
            for i in pending:
                self.send(i, requests[i])
            deadline = time.monotonic() + step
            while pending and time.monotonic() < deadline:
                self.drain(lambda i, data: done(i, data) and pending.discard(i),
                           wait=0.05)
            if not pending:
                return
        raise AssertionError("%d sources never got an answer" % len(pending))


def port_block(n):
    """n consecutive ports free for UDP on 127.0.0.1, below the kernel's
    ephemeral range (32768-60999), so no client socket takes them."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of %d ports" % n)


class Exhaustion(unittest.TestCase):
    def start(self, extra=(), wrapper=()):
        self.admin_port = free_port()
        d = Daemon(["--relay-ip", "127.0.0.1", "--realm", "test.local",
                    "--user", "%s:%s" % (USER, PASSWORD),
                    "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                    "--admin-token", ADMIN_TOKEN] + list(extra),
                   wrapper=wrapper)
        self.addCleanup(d.cleanup)
        d.start()
        self.d = d
        return d

    def admin(self, path):
        """(status, body) of a GET on the admin server."""
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.admin_port, path),
            headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        status, body = self.admin("/metrics")
        self.assertEqual(status, 200, body)
        return parse_metrics(body)[0]

    def client(self, src="127.0.0.1"):
        c = tc.TurnClient(("127.0.0.1", self.d.port), USER, PASSWORD)
        if src != "127.0.0.1":
            c.sock.close()
            c.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.sock.bind((src, 0))
            c.sock.settimeout(2)
        self.addCleanup(c.close)
        return c

    def release(self, c):
        m = c.transact(tc.REFRESH, [tc.attr(tc.A_LIFETIME, struct.pack("!I", 0))])
        self.assertEqual(m[1], 2, m)

    # --- relay ports ------------------------------------------------------

    def test_port_range_exhausted_answers_508_and_refills(self):
        lo = port_block(4)
        self.start(["--threads", "1", "--min-port", str(lo),
                    "--max-port", str(lo + 3)])
        self.assertEqual(self.admin("/readyz"), (200, "ready\n"))
        held = [self.client() for _ in range(4)]
        for c in held:
            m = c.allocate()
            self.assertEqual(m[1], 2, m)
            self.assertIn(c.relayed(m)[1], range(lo, lo + 4))
        late = self.client()
        self.assertEqual(tc.error_code(late.allocate()[3]), 508)
        self.assertEqual(self.admin("/readyz"),
                         (503, "relay ports exhausted\n"))
        series = self.metrics()
        self.assertEqual(metric(series, "avedge_allocations_rejected_total",
                                reason="no_relay_port"), 1)
        self.assertEqual(metric(series, "avedge_relay_ports_in_use"), 4)

        self.release(held[0])
        self.assertTrue(wait_for(lambda: self.admin("/readyz")[0] == 200),
                        "readyz stayed 503 after a port came back")
        m = late.allocate()
        self.assertEqual(m[1], 2, m)
        self.assertIn(late.relayed(m)[1], range(lo, lo + 4))
        self.assertEqual(self.admin("/readyz"),
                         (503, "relay ports exhausted\n"))

    # --- file descriptors -------------------------------------------------

    @unittest.skipUnless(have("prlimit"), "prlimit (util-linux) is missing")
    def test_fd_exhausted_answers_508_pauses_listeners_and_recovers(self):
        lo = port_block(1)
        d = self.start(["--threads", "1", "--min-port", str(lo),
                        "--max-port", str(lo + 999)],
                       wrapper=["prlimit", "--nofile=64:64"])
        pid = d.proc.pid
        conns, held = [], []
        self.addCleanup(lambda: [s.close() for s in conns])
        for _ in range(8):  # accepted while descriptors last
            conns.append(socket.create_connection(("127.0.0.1", d.port), 2))
        code = None
        for _ in range(100):
            c = self.client()
            m = c.allocate()
            code = tc.error_code(m[3]) if m[1] == 3 else None
            if code:
                break
            held.append(c)
        self.assertEqual(code, 508, "no 508 after %d allocations" % len(held))
        self.assertGreater(len(held), 5)
        self.assertLessEqual(fd_count(pid), 64)
        # connections the daemon cannot accept: left in the backlog
        for _ in range(8):
            conns.append(socket.create_connection(("127.0.0.1", d.port), 2))
        cpu0, t0 = cpu_s(pid), time.monotonic()
        time.sleep(1.0)
        busy = (cpu_s(pid) - cpu0) / (time.monotonic() - t0)
        self.assertLess(busy, 0.3, "the daemon spins out of descriptors")
        self.assertEqual(tc.error_code(self.client().allocate()[3]), 508)
        self.assertIsNotNone(udp_binding(d.port), "Binding not answered")
        self.assertIsNone(d.proc.poll())

        for s in conns:
            s.close()
        conns.clear()
        for c in held[:4]:
            self.release(c)
        late = self.client()
        ok = wait_for(lambda: late.allocate()[1] == 2, timeout=5, step=0.3)
        self.assertTrue(ok, "no Allocate succeeded after descriptors came back")
        with socket.create_connection(("127.0.0.1", d.port), 2) as s:
            req, tid = binding_request()
            s.sendall(req)
            s.settimeout(2)
            self.assertIsNotNone(parse_xor_mapped(s.recv(2048), tid))
        series = self.metrics()
        self.assertGreaterEqual(metric(series, "avedge_fd_exhausted_total",
                                       kind="relay_socket"), 1)
        self.assertGreaterEqual(metric(series, "avedge_fd_exhausted_total",
                                       kind="accept"), 1)
        self.assertEqual(metric(series, "avedge_allocations_rejected_total",
                                reason="no_relay_port"), 0)
        lines = [l for l in d.log().splitlines()
                 if "Too many open files" in l]
        self.assertGreaterEqual(len(lines), 1)
        self.assertLessEqual(len(lines), 8, "\n".join(lines))
        self.assertIsNone(d.proc.poll())

    # --- quota ------------------------------------------------------------

    def signed(self, nonce, method, attrs):
        """A request with long-term credentials (the nonce of its source):
        (bytes, tid)."""
        key = hashlib.md5(("%s:test.local:%s" % (USER, PASSWORD)).encode()).digest()
        return tc.build(method, 0, list(attrs) + [
            tc.attr(tc.A_USERNAME, USER.encode()),
            tc.attr(tc.A_REALM, b"test.local"), tc.attr(tc.A_NONCE, nonce)],
            key=key)

    def outcomes(self, src, which, nonces, method, attrs):
        """{source: 200 or error code} of one signed request per source."""
        reqs, tids, codes = {}, {}, {}
        for i in which:
            reqs[i], tids[i] = self.signed(nonces[i], method, attrs)

        def answer(i, data):
            m = tc.parse(data)
            if not m or i not in tids or m[2] != tids[i]:
                return False
            codes[i] = 200 if m[1] == 2 else tc.error_code(m[3])
            return True
        src.exchange(reqs, answer)
        return codes

    def test_total_quota_admits_exactly_its_number_from_1000_sources(self):
        raise_nofile(4096)
        n, quota, freed = 1000, 300, 50
        d = self.start(["--threads", "2", "--total-quota", str(quota)])
        src = Sources(2, n, d.port)
        self.addCleanup(src.close)
        t0 = time.monotonic()
        alloc = [tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0")]
        nonces = {}

        def challenged(i, data):
            m = tc.parse(data)
            if m and tc.error_code(m[3]) == 401 and tc.A_NONCE in m[3]:
                nonces[i] = m[3][tc.A_NONCE][0]
                return True
            return False
        src.exchange({i: tc.build(tc.ALLOCATE, 0, alloc)[0]
                      for i in range(n)}, challenged)

        codes = self.outcomes(src, range(n), nonces, tc.ALLOCATE, alloc)
        won = sorted(i for i, c in codes.items() if c == 200)
        lost = sorted(i for i, c in codes.items() if c == 486)
        self.assertEqual((len(won), len(lost)), (quota, n - quota),
                         "codes: %r" % sorted(set(codes.values())))
        self.assertEqual(metric(self.metrics(), "avedge_allocations"), quota)

        zero = [tc.attr(tc.A_LIFETIME, struct.pack("!I", 0))]
        gone = self.outcomes(src, won[:freed], nonces, tc.REFRESH, zero)
        self.assertEqual(set(gone.values()), {200})
        again = self.outcomes(src, lost, nonces, tc.ALLOCATE, alloc)
        self.assertEqual(sum(1 for c in again.values() if c == 200), freed)
        self.assertEqual(sum(1 for c in again.values() if c == 486),
                         len(lost) - freed)
        series = self.metrics()
        self.assertEqual(metric(series, "avedge_allocations"), quota)
        self.assertEqual(metric(series, "avedge_allocations_rejected_total",
                                reason="quota"), 2 * (n - quota) - freed)
        self.assertLess(time.monotonic() - t0, 20)

    # --- floods without credentials ---------------------------------------

    def flood(self, src, requests, total, per_s, on_answer=lambda i, d: None):
        """total requests (requests[k % len]) round robin over the sources
        at per_s a second, answers read as they come."""
        t0 = time.monotonic()
        n = len(src.socks)
        for k in range(total):
            src.send(k % n, requests[k % len(requests)])
            if k % 500 == 499:
                src.drain(on_answer)
                ahead = t0 + k / per_s - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            src.drain(on_answer, wait=0.05)

    def timed_allocate(self, limit_s=5.0):
        """Seconds until an authenticated client's Allocate succeeded
        (answers lost to a flood are asked again), or None."""
        t0 = time.monotonic()
        c = self.client()
        c.sock.settimeout(0.5)
        while time.monotonic() - t0 < limit_s:
            try:
                if c.allocate()[1] == 2:
                    return time.monotonic() - t0
            except socket.timeout:
                continue
        return None

    def test_401_flood_is_paced_small_and_lets_a_user_through(self):
        total, sources = 20000, 100
        self.start(["--threads", "2", "--auth-rate-limit", "10",
                    "--auth-rate-burst", "20"])
        src = Sources(3, sources, self.d.port)
        self.addCleanup(src.close)
        reqs = [tc.build(tc.ALLOCATE, 0,
                         [tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0")])[0]
                for _ in range(64)]
        size = len(reqs[0])
        seen = {"answers": 0, "largest": 0, "codes": set()}

        def answer(i, data):
            seen["answers"] += 1
            seen["largest"] = max(seen["largest"], len(data))
            seen["codes"].add(tc.error_code(tc.parse(data)[3]))
        th = threading.Thread(target=self.flood,
                              args=(src, reqs, total, 10000, answer))
        th.start()
        try:
            time.sleep(0.5)
            took = self.timed_allocate()
        finally:
            th.join()
        ratio = seen["largest"] / size
        print("\n401 flood: %d requests of %d bytes, %d answers, largest "
              "%d bytes (x%.2f), authenticated Allocate in %s s" %
              (total, size, seen["answers"], seen["largest"], ratio,
               "%.3f" % took if took is not None else "never"))
        self.assertIsNotNone(took, "no allocation during the flood")
        self.assertLess(took, 2.0)
        self.assertLessEqual(ratio, 4.0)
        self.assertEqual(seen["codes"], {401})
        series = self.metrics()
        paced = metric(series, "avedge_auth_failures_total",
                       reason="rate_limited")
        challenged = metric(series, "avedge_auth_challenges_total")
        self.assertGreater(paced, total / 2, "pacing did not engage")
        # 100 sources x (burst 20 + 10/s for ~2 s), plus the user's
        self.assertLess(challenged, sources * (20 + 10 * 4))
        self.assertLessEqual(seen["answers"], challenged)

    def test_unauthenticated_flood_keeps_no_state(self):
        raise_nofile(4096)
        self.start(["--threads", "2"])
        src = Sources(4, 1000, self.d.port)
        self.addCleanup(src.close)
        reqs = []
        for k in range(64):
            if k % 2:
                reqs.append(binding_request()[0])
            else:
                reqs.append(tc.build(tc.ALLOCATE, 0, [
                    tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0")])[0])
        pid = self.d.proc.pid
        self.flood(src, reqs, 20000, 40000)  # buffers and tables warm
        time.sleep(0.3)
        before = rss_kb(pid)
        t0 = time.monotonic()
        self.flood(src, reqs, 100000, 40000)
        took = time.monotonic() - t0
        time.sleep(0.3)
        after = rss_kb(pid)
        print("\nunauthenticated flood: 100000 requests in %.1f s, RSS "
              "%d kB before, %d kB after" % (took, before, after))
        self.assertLessEqual(abs(after - before), max(before * 0.05, 1024))
        series = self.metrics()
        self.assertEqual(metric(series, "avedge_allocations"), 0)
        self.assertEqual(metric(series, "avedge_allocations_created_total"), 0)
        self.assertGreater(metric(series, "avedge_requests_total"), 100000)
        self.assertIsNotNone(udp_binding(self.d.port))
        self.assertLess(took, 20)


if __name__ == "__main__":
    unittest.main()
