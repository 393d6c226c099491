"""TURN rules against the real daemon with our own small client: the
answers unauthenticated senders get, hostile requests, relaying both ways,
and a leak check under valgrind after the hostile table."""
import os
import signal
import socket
import struct
import unittest

from harness import Daemon, binding_udp, have
import turnclient as tc

USER, PASSWORD = "alice", "wonderland"
ARGS = ["--relay-ip", "127.0.0.1", "--realm", "test.local",
        "--user", "%s:%s" % (USER, PASSWORD), "--threads", "1",
        "--min-port", "63000", "--max-port", "63999"]


def peer_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    return s


class Unauthenticated(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(ARGS)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def client(self):
        c = tc.TurnClient(("127.0.0.1", self.d.port), USER, PASSWORD)
        self.addCleanup(c.close)
        return c

    def test_challenge_is_small_and_complete(self):
        c = self.client()
        req, _ = tc.build(tc.ALLOCATE, 0, [tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0")])
        c.send_raw(req)
        raw = c.recv()
        m = tc.parse(raw)
        self.assertEqual(tc.error_code(m[3]), 401)
        self.assertEqual(m[3][tc.A_REALM][0], b"test.local")
        nonce = m[3][tc.A_NONCE][0]
        self.assertTrue(nonce.startswith(b"obMatJos2"))
        self.assertLessEqual(len(nonce), 32)
        self.assertIn(tc.A_PW_ALGS, m[3])
        self.assertNotIn(tc.A_SOFTWARE, m[3])
        self.assertLessEqual(len(raw), 4 * len(req))

    def test_request_without_allocation_gets_437_without_challenge(self):
        c = self.client()
        for method in (tc.REFRESH, tc.CREATE_PERMISSION, tc.CHANNEL_BIND):
            req, _ = tc.build(method, 0, [])
            c.send_raw(req)
            raw = c.recv()
            self.assertEqual(tc.error_code(tc.parse(raw)[3]), 437)
            self.assertLessEqual(len(raw), 4 * len(req))

    def test_wrong_password_gets_401(self):
        c = tc.TurnClient(("127.0.0.1", self.d.port), USER, "wrong")
        self.addCleanup(c.close)
        m = c.allocate()
        self.assertEqual(tc.error_code(m[3]), 401)

    def test_nonce_of_another_address_gets_438(self):
        """A nonce is bound to the client's IP, not its port: another
        host gets 438, another port of the same host is served."""
        a, b, c = self.client(), self.client(), self.client()
        b.sock.close()
        b.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b.sock.bind(("127.0.0.2", 0))
        b.sock.settimeout(2)
        self.assertEqual(a.allocate()[1], 2)

        def allocate_with_a_nonce(client):
            data, _ = tc.build(tc.ALLOCATE, 0, [
                tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0"),
                tc.attr(tc.A_USERNAME, USER.encode()), tc.attr(tc.A_REALM, a.realm),
                tc.attr(tc.A_NONCE, a.nonce)], key=a.key)
            client.send_raw(data)
            return tc.parse(client.recv())
        self.assertEqual(tc.error_code(allocate_with_a_nonce(b)[3]), 438)
        self.assertEqual(allocate_with_a_nonce(c)[1], 2)  # same IP, new port

    def test_rfc8489_unauthenticated_answers_within_4x(self):
        """Over UDP to the real daemon: every answer to a request whose
        integrity was not verified is at most 4x its size, without reason
        phrase, SOFTWARE or MESSAGE-INTEGRITY; a request too small for a
        401 (REALM, NONCE, PASSWORD-ALGORITHMS: 92 bytes here) gets 400."""
        rt = tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0")
        lifetime = tc.attr(tc.A_LIFETIME, struct.pack("!I", 600))
        unknown = tc.attr(0x0030, b"")
        change = tc.attr(0x0003, struct.pack("!I", 6))
        # (what, method, attrs, FINGERPRINT, expected code: 0 success)
        rows = [("Binding", 0x001, [], False, 0),
                ("Binding+FINGERPRINT", 0x001, [], True, 0),
                ("Binding+unknown", 0x001, [unknown], False, 420),
                ("Binding+CHANGE-REQUEST", 0x001, [change], False, 420),
                ("bare Allocate", tc.ALLOCATE, [], False, 400),
                ("bare Allocate+FINGERPRINT", tc.ALLOCATE, [], True, 401),
                ("Allocate", tc.ALLOCATE, [rt], False, 401),
                ("Allocate+LIFETIME+FINGERPRINT", tc.ALLOCATE, [rt, lifetime], True, 401),
                ("Allocate+unknown", tc.ALLOCATE, [rt, unknown], False, 401),
                ("Refresh", tc.REFRESH, [], False, 437),
                ("CreatePermission", tc.CREATE_PERMISSION, [], False, 437),
                ("ChannelBind", tc.CHANNEL_BIND, [], False, 437),
                ("Connect", tc.CONNECT, [], False, 437),
                ("ConnectionBind", tc.CONNECTION_BIND, [], False, 400),
                ("unknown method", 0x005, [], False, 400),
                ("unknown method+FINGERPRINT", 0x005, [], True, 400)]
        c = self.client()
        sizes = []
        for what, method, attrs, fp, want in rows:
            req, _ = tc.build(method, 0, attrs, fingerprint=fp)
            c.send_raw(req)
            raw = c.recv()
            m = tc.parse(raw)
            sizes.append("%s %d->%d" % (what, len(req), len(raw)))
            code = tc.error_code(m[3])
            self.assertEqual(code or 0, want, what)
            self.assertLessEqual(len(raw), 4 * len(req), what)
            self.assertNotIn(tc.A_SOFTWARE, m[3], what)
            self.assertNotIn(tc.A_MI, m[3], what)
            self.assertEqual(tc.A_FINGERPRINT in m[3], fp, what)
            if code:
                self.assertEqual(len(m[3][tc.A_ERROR][0]), 4, what)  # no reason
            if code == 401:
                self.assertEqual(m[3][tc.A_REALM][0], b"test.local")
                self.assertIn(tc.A_NONCE, m[3])
        # the 401 of a bare 20-byte Allocate would be 92 bytes; it is a
        # 28-byte 400, and the 28-byte Allocate gets its 92-byte 401
        self.assertIn("bare Allocate 20->28", sizes)
        self.assertIn("Allocate 28->92", sizes)

    def test_malformed_and_oversized_dropped(self):
        c = self.client()
        c.sock.settimeout(0.3)
        junk = [b"\x00\x03\x00\x10" + b"\x21\x12\xa4\x42" + b"t" * 12,      # truncated
                b"\x00\x03\x00\x08\x21\x12\xa4\x42" + b"t" * 12 + b"\x00\x19\x00\x40abcd",
                b"\x40\x00\xff\xffxx", b"\x4f\xff\x00\x00",                  # channel data, no alloc
                os.urandom(3000), b"\x00\x03" + b"\xff" * 2000]
        for j in junk:
            c.send_raw(j)
        with self.assertRaises(socket.timeout):
            c.recv()
        self.assertIsNotNone(binding_udp("127.0.0.1", self.d.port))


class RelayingBase(unittest.TestCase):
    """A daemon and an allocation with a peer socket, for each test."""
    extra = ["--allow-loopback-peers"]

    def setUp(self):
        self.d = Daemon(ARGS + self.extra)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.c = tc.TurnClient(("127.0.0.1", self.d.port), USER, PASSWORD)
        self.addCleanup(self.c.close)
        m = self.c.allocate()
        self.assertEqual(m[1], 2, m)
        self.assertIn(tc.A_SOFTWARE, m[3])  # authenticated: SOFTWARE ok
        self.relay = self.c.relayed(m)
        self.peer = peer_socket()
        self.addCleanup(self.peer.close)


class Relaying(RelayingBase):
    def test_channel_both_ways(self):
        pip, pport = self.peer.getsockname()
        self.assertEqual(self.c.channel_bind(0x4001, pip, pport)[1], 2)
        self.c.channel_data(0x4001, b"hello peer")
        data, src = self.peer.recvfrom(2048)
        self.assertEqual(data, b"hello peer")
        self.assertEqual(src, self.relay)
        self.peer.sendto(b"hello client", self.relay)
        got = self.c.recv()
        self.assertEqual(got[:4], struct.pack("!HH", 0x4001, 12))
        self.assertEqual(got[4:16], b"hello client")

    def test_send_and_data_indications(self):
        pip, pport = self.peer.getsockname()
        self.assertEqual(self.c.create_permission(pip)[1], 2)
        self.c.send_indication(pip, pport, b"via send")
        self.assertEqual(self.peer.recvfrom(2048)[0], b"via send")
        self.peer.sendto(b"via data", self.relay)
        m = tc.parse(self.c.recv())
        self.assertEqual(m[0], tc.DATA)
        self.assertEqual(m[3][tc.A_DATA][0], b"via data")
        self.assertEqual(tc.parse_xor_addr(m[3][tc.A_XOR_PEER][0], m[2]),
                         (pip, pport))

    def test_no_permission_no_relay(self):
        other = peer_socket()
        self.addCleanup(other.close)
        other.sendto(b"unsolicited", self.relay)
        self.c.sock.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            self.c.recv()

    def test_channel_number_range(self):
        pip, pport = self.peer.getsockname()
        for ch in (0x3FFF, 0x8000, 0xFFFF):
            self.assertEqual(tc.error_code(self.c.channel_bind(ch, pip, pport)[3]), 400)

    def test_rfc8656_s12_channel_numbers_0x4000_to_0x4fff(self):
        """RFC 8656 s12: ChannelBind outside 0x4000-0x4FFF is 400, and
        ChannelData numbered outside it is dropped (without
        rfc5766-channel-numbers)."""
        pip, pport = self.peer.getsockname()
        for ch in (0x5000, 0x6ABC, 0x7FFF):
            self.assertEqual(tc.error_code(self.c.channel_bind(ch, pip, pport)[3]), 400)
        self.assertEqual(self.c.channel_bind(0x4FFF, pip, pport)[1], 2)
        self.peer.settimeout(0.5)
        for ch in (0x5000, 0x7FFF):
            self.c.channel_data(ch, b"out of range")
        with self.assertRaises(socket.timeout):
            self.peer.recvfrom(2048)
        self.c.channel_data(0x4FFF, b"in range")
        self.assertEqual(self.peer.recvfrom(2048)[0], b"in range")

    def test_denied_peers_403(self):
        for ip in ("10.0.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.1",
                   "224.0.0.1", "100.64.0.1"):
            m = self.c.create_permission(ip)
            self.assertEqual(tc.error_code(m[3]), 403, ip)

    def test_refresh_zero_deletes(self):
        m = self.c.transact(tc.REFRESH, [tc.attr(tc.A_LIFETIME, b"\0\0\0\0")])
        self.assertEqual(m[1], 2)
        m = self.c.transact(tc.REFRESH, [tc.attr(tc.A_LIFETIME, b"\0\0\2\0")])
        self.assertEqual(tc.error_code(m[3]), 437)


class LoopbackDeniedByDefault(unittest.TestCase):
    def test_loopback_peer_403_without_flag(self):
        d = Daemon(ARGS)
        self.addCleanup(d.cleanup)
        d.start()
        c = tc.TurnClient(("127.0.0.1", d.port), USER, PASSWORD)
        self.addCleanup(c.close)
        self.assertEqual(c.allocate()[1], 2)
        for ip in ("127.0.0.1", "127.1.2.3"):
            self.assertEqual(tc.error_code(c.create_permission(ip)[3]), 403)
        # the node's own listening port, even with loopback allowed, is
        # covered in unit tests of the policy


class Rfc5766ChannelNumbers(RelayingBase):
    """rfc5766-channel-numbers: RFC 5766's 0x4000-0x7FFF, both ways."""
    extra = ["--allow-loopback-peers", "--rfc5766-channel-numbers"]

    def test_rfc5766_channel_numbers_0x4000_to_0x7fff(self):
        pip, pport = self.peer.getsockname()
        self.assertEqual(self.c.channel_bind(0x7FFF, pip, pport)[1], 2)
        self.c.channel_data(0x7FFF, b"hello peer")
        self.assertEqual(self.peer.recvfrom(2048)[0], b"hello peer")
        self.peer.sendto(b"hello client", self.relay)
        got = self.c.recv()
        self.assertEqual(got[:4], struct.pack("!HH", 0x7FFF, 12))
        self.assertEqual(got[4:16], b"hello client")
        self.assertEqual(self.c.channel_bind(0x5000, pip, pport + 1)[1], 2)
        self.assertEqual(tc.error_code(self.c.channel_bind(0x8000, pip, pport + 2)[3]), 400)


@unittest.skipUnless(have("valgrind"), "valgrind not installed")
class HostileUnderValgrind(unittest.TestCase):
    def test_hostile_table_leaves_no_leak(self):
        d = Daemon(ARGS + ["--allow-loopback-peers"],
                   wrapper=["valgrind", "--leak-check=full",
                            "--errors-for-leak-kinds=definite,indirect",
                            "--error-exitcode=99"])
        self.addCleanup(d.cleanup)
        d.start()
        c = tc.TurnClient(("127.0.0.1", d.port), USER, PASSWORD, timeout=10)
        self.addCleanup(c.close)
        self.assertEqual(c.allocate()[1], 2)
        peer = peer_socket()
        self.addCleanup(peer.close)
        pip, pport = peer.getsockname()
        c.channel_bind(0x4002, pip, pport)
        c.create_permission("10.1.1.1")
        c.channel_bind(0x5000, pip, pport)
        bad = tc.TurnClient(("127.0.0.1", d.port), USER, "nope", timeout=10)
        self.addCleanup(bad.close)
        bad.allocate()
        for j in (os.urandom(100), b"\x00\x01\x00\x04", b"\x40\x02\x00\x20abc"):
            c.send_raw(j)
        c.channel_data(0x4002, b"x" * 100)
        peer.settimeout(10)
        self.assertEqual(peer.recvfrom(2048)[0], b"x" * 100)
        # leave the allocation in place: stopping must free it
        rc = d.stop(signal.SIGTERM, timeout=60)
        self.assertEqual(rc, 0, d.log()[-3000:])



class IcmpToClient(unittest.TestCase):
    def test_port_unreachable_reaches_client_as_icmp_attribute(self):
        d = Daemon(ARGS + ["--allow-loopback-peers"])
        self.addCleanup(d.cleanup)
        d.start()
        c = tc.TurnClient(("127.0.0.1", d.port), USER, PASSWORD)
        self.addCleanup(c.close)
        self.assertEqual(c.allocate()[1], 2)
        closed = peer_socket()
        pip, pport = closed.getsockname()
        closed.close()  # nothing listens there now: ICMP port unreachable
        self.assertEqual(c.create_permission(pip)[1], 2)
        c.send_indication(pip, pport, b"anyone there?")
        m = tc.parse(c.recv())
        self.assertEqual(m[0], tc.DATA)
        icmp = m[3][0x8004][0]
        self.assertEqual((icmp[2], icmp[3]), (3, 3))  # dest/port unreachable
        self.assertEqual(tc.parse_xor_addr(m[3][tc.A_XOR_PEER][0], m[2]),
                         (pip, pport))
        # the relay keeps working for a live peer afterwards
        live = peer_socket()
        self.addCleanup(live.close)
        lip, lport = live.getsockname()
        c.send_indication(lip, lport, b"still here")
        self.assertEqual(live.recvfrom(100)[0], b"still here")


class ChallengePacing(unittest.TestCase):
    def test_401s_paced_per_source_but_verified_requests_pass(self):
        d = Daemon(ARGS + ["--auth-rate-limit", "1", "--auth-rate-burst", "3"])
        self.addCleanup(d.cleanup)
        d.start()
        c = tc.TurnClient(("127.0.0.1", d.port), USER, PASSWORD)
        self.addCleanup(c.close)
        c.sock.settimeout(0.3)
        for _ in range(10):  # back to back: the bucket holds 3
            req, _ = tc.build(tc.ALLOCATE, 0, [tc.attr(tc.A_REQ_TRANSPORT, b"\x11\0\0\0")])
            c.send_raw(req)
        answered = 0
        try:
            while True:
                self.assertEqual(tc.error_code(tc.parse(c.recv())[3]), 401)
                answered += 1
        except socket.timeout:
            pass
        self.assertEqual(answered, 3)
        # A request whose integrity verifies is never dropped by pacing:
        # take the nonce from a 401 after the bucket refilled, then
        # authenticate repeatedly.
        import time
        time.sleep(1.2)
        c.sock.settimeout(2)
        self.assertEqual(c.allocate()[1], 2)
        for _ in range(5):
            m = c.transact(tc.REFRESH, [tc.attr(tc.A_LIFETIME, b"\0\0\2\0")])
            self.assertEqual(m[1], 2)


class Operations(unittest.TestCase):
    """Keys an operator sets: user-file reloaded on SIGHUP, quotas,
    external-ip."""

    def test_user_file_reloaded_on_sighup(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix="avedge-users-")
        users = os.path.join(tmp, "users")
        with open(users, "w") as f:
            f.write("# users\nbob:builder\n")
        d = Daemon(["--relay-ip", "127.0.0.1", "--realm", "test.local",
                    "--user-file", users, "--threads", "2"])
        self.addCleanup(d.cleanup)
        d.start()
        carol = tc.TurnClient(("127.0.0.1", d.port), "carol", "singer")
        self.addCleanup(carol.close)
        self.assertEqual(tc.error_code(carol.allocate()[3]), 401)
        with open(users, "a") as f:
            f.write("carol:singer\n")
        d.proc.send_signal(signal.SIGHUP)
        import time
        deadline = time.time() + 10
        while "REST secrets loaded" not in d.log() and time.time() < deadline:
            time.sleep(0.05)
        carol2 = tc.TurnClient(("127.0.0.1", d.port), "carol", "singer")
        self.addCleanup(carol2.close)
        self.assertEqual(carol2.allocate()[1], 2)
        # a broken file keeps the old credentials in force
        with open(users, "w") as f:
            f.write("no colon here\n")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "credentials rejected" not in d.log() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("credentials rejected", d.log())
        bob = tc.TurnClient(("127.0.0.1", d.port), "bob", "builder")
        self.addCleanup(bob.close)
        self.assertEqual(bob.allocate()[1], 2)

    def test_user_and_total_quota(self):
        d = Daemon(ARGS + ["--user", "dave:pw", "--user-quota", "2",
                           "--total-quota", "3"])
        self.addCleanup(d.cleanup)
        d.start()
        clients = [tc.TurnClient(("127.0.0.1", d.port), USER, PASSWORD)
                   for _ in range(3)]
        for c in clients:
            self.addCleanup(c.close)
        self.assertEqual(clients[0].allocate()[1], 2)
        self.assertEqual(clients[1].allocate()[1], 2)
        self.assertEqual(tc.error_code(clients[2].allocate()[3]), 486)
        dave = [tc.TurnClient(("127.0.0.1", d.port), "dave", "pw") for _ in range(2)]
        for c in dave:
            self.addCleanup(c.close)
        self.assertEqual(dave[0].allocate()[1], 2)
        self.assertEqual(tc.error_code(dave[1].allocate()[3]), 486)  # total
        # freeing one lets exactly one more in
        m = clients[0].transact(tc.REFRESH, [tc.attr(tc.A_LIFETIME, b"\0\0\0\0")])
        self.assertEqual(m[1], 2)
        self.assertEqual(clients[2].allocate()[1], 2)

    def test_external_ip_advertised(self):
        d = Daemon(ARGS + ["--external-ip", "203.0.113.7/127.0.0.1"])
        self.addCleanup(d.cleanup)
        d.start()
        c = tc.TurnClient(("127.0.0.1", d.port), USER, PASSWORD)
        self.addCleanup(c.close)
        m = c.allocate()
        self.assertEqual(m[1], 2)
        ip, port = c.relayed(m)
        self.assertEqual(ip, "203.0.113.7")
        self.assertTrue(63000 <= port <= 63999)


if __name__ == "__main__":
    unittest.main()
