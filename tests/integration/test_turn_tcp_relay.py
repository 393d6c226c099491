"""RFC 6062 TCP relay allocations against the real daemon on loopback:
coturn's turnutils_uclient -T (a client we did not write; -T pairs its
clients with each other's relayed addresses, so every connection is a
Connect from one allocation to another's listener, a ConnectionAttempt and
two ConnectionBinds), a TCP peer of our own that connects to the relayed
address (ConnectionAttempt -> ConnectionBind -> bytes both ways), a Connect
to a Python echo peer, and the refusals (TCP over UDP, no-tcp-relay)."""
import os
import shutil
import socket
import tempfile
import threading
import unittest

import test_turn_uclient as tu
import turnclient as tc
from harness import Daemon, free_port, have
from test_turn_tls import client_ctx, make_cert

USER, PASSWORD = tu.USER, tu.PASSWORD
ARGS = ["--relay-ip", "127.0.0.1", "--realm", "test.local",
        "--user", "%s:%s" % (USER, PASSWORD), "--allow-loopback-peers",
        "--min-port", "61000", "--max-port", "62999", "--threads", "2"]


def echo_server():
    """A TCP echo peer on loopback: (listening socket, port)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def loop():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return ls, ls.getsockname()[1]


def exchange(a, b, size):
    """size random bytes a -> b, then b -> a; both must arrive intact."""
    for src, dst in ((a, b), (b, a)):
        payload = os.urandom(size)
        t = threading.Thread(target=src.sendall, args=(payload,))
        t.start()
        got = tc.recv_exact(dst, size)
        t.join()
        if got != payload:
            raise AssertionError("payload damaged")


class TcpRelayTest(unittest.TestCase):
    extra = ()

    def setUp(self):
        self.d = Daemon(ARGS + list(self.extra))
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.server = ("127.0.0.1", self.d.port)

    def control(self):
        c = tc.StreamTurnClient(self.server, USER, PASSWORD)
        self.addCleanup(c.close)
        return c


class TcpRelay(TcpRelayTest):
    def test_peer_connects_to_relayed_address(self):
        c = self.control()
        resp = c.allocate_tcp()
        self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
        relayed = c.relayed(resp)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)
        for round_ in range(3):  # a few, to cross workers both ways
            peer = socket.create_connection(relayed, timeout=5)
            self.addCleanup(peer.close)
            ind = c.next_indication()
            self.assertEqual(ind[0], tc.CONNECTION_ATTEMPT)
            self.assertEqual(tc.parse_xor_addr(ind[3][tc.A_XOR_PEER][0], ind[2]),
                             peer.getsockname())
            data, resp = c.data_connection(tc.connection_id(ind))
            self.addCleanup(data.close)
            self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
            exchange(peer, data, 300000 if round_ == 0 else 1000)
        log = self.d.log()
        self.assertIn("bound", log)

    def test_connect_to_echo_peer(self):
        ls, port = echo_server()
        self.addCleanup(ls.close)
        c = self.control()
        self.assertEqual(c.allocate_tcp()[1], 2)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)
        resp = c.connect_peer("127.0.0.1", port)
        self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
        cid = tc.connection_id(resp)
        self.assertEqual(tc.error_code(c.connect_peer("127.0.0.1", port)[3]), 446)
        data, resp = c.data_connection(cid)
        self.addCleanup(data.close)
        self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
        for size in (1, 5000, 200000):
            payload = os.urandom(size)
            data.sendall(payload)
            self.assertEqual(tc.recv_exact(data, size), payload)
        # an unknown CONNECTION-ID: 400
        other, resp = c.data_connection(cid ^ 0x5a5a5a)
        other.close()
        self.assertEqual(tc.error_code(resp[3]), 400)

    def test_connect_refused_447(self):
        c = self.control()
        self.assertEqual(c.allocate_tcp()[1], 2)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)
        port = free_port()  # nobody listens there
        self.assertEqual(tc.error_code(c.connect_peer("127.0.0.1", port)[3]), 447)

    def test_rfc6062_s5_2_connect_needs_no_permission(self):
        """s5.2's Connect checks are 400, 437, 446, 403 (peer policy) and
        447: no prior CreatePermission is needed."""
        ls, port = echo_server()
        self.addCleanup(ls.close)
        c = self.control()
        self.assertEqual(c.allocate_tcp()[1], 2)
        resp = c.connect_peer("127.0.0.1", port)
        self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
        data, resp = c.data_connection(tc.connection_id(resp))
        self.addCleanup(data.close)
        self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
        payload = os.urandom(5000)
        data.sendall(payload)
        self.assertEqual(tc.recv_exact(data, len(payload)), payload)

    def test_rfc6062_s5_2_connect_failure_447_not_403(self):
        """A loopback port with no listener, no permission: the connect
        is tried and fails (447), it is not refused up front (403)."""
        c = self.control()
        self.assertEqual(c.allocate_tcp()[1], 2)
        port = free_port()  # nobody listens there
        self.assertEqual(tc.error_code(c.connect_peer("127.0.0.1", port)[3]), 447)

    def test_rfc6062_s5_3_incoming_needs_permission(self):
        """A peer connecting in without a permission for its IP gets no
        ConnectionAttempt to the client; with one, it does."""
        c = self.control()
        resp = c.allocate_tcp()
        self.assertEqual(resp[1], 2)
        relayed = c.relayed(resp)
        peer = socket.create_connection(relayed, timeout=5)
        self.addCleanup(peer.close)
        c.sock.settimeout(1)
        with self.assertRaises(socket.timeout):
            c.next_indication()
        c.sock.settimeout(5)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)
        peer2 = socket.create_connection(relayed, timeout=5)
        self.addCleanup(peer2.close)
        ind = c.next_indication()
        self.assertEqual(ind[0], tc.CONNECTION_ATTEMPT)
        self.assertEqual(tc.parse_xor_addr(ind[3][tc.A_XOR_PEER][0], ind[2]),
                         peer2.getsockname())

    def test_control_close_ends_data_connections(self):
        ls, port = echo_server()
        self.addCleanup(ls.close)
        c = self.control()
        self.assertEqual(c.allocate_tcp()[1], 2)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)
        cid = tc.connection_id(c.connect_peer("127.0.0.1", port))
        data, resp = c.data_connection(cid)
        self.addCleanup(data.close)
        self.assertEqual(resp[1], 2)
        c.sock.close()
        data.settimeout(5)
        self.assertEqual(data.recv(10), b"")

    def test_tcp_over_udp_400(self):
        u = tc.TurnClient(self.server, USER, PASSWORD)
        self.addCleanup(u.close)
        resp = u.transact(tc.ALLOCATE, [tc.attr(tc.A_REQ_TRANSPORT, bytes([6, 0, 0, 0]))])
        self.assertEqual(tc.error_code(resp[3]), 400)


class TlsTurnClient(tc.StreamTurnClient):
    """StreamTurnClient over TLS (data connections too)."""
    ctx = None

    def __init__(self, server, user, password, timeout=5.0, sock=None):
        raw = socket.create_connection(server, timeout=timeout)
        super().__init__(server, user, password, timeout,
                         sock=self.ctx.wrap_socket(raw, server_hostname="localhost"))


@unittest.skipUnless(have("openssl"), "openssl CLI is not installed")
class TlsTcpRelay(unittest.TestCase):
    """Control and data connections over TLS. With 2 workers about half of
    the ConnectionBinds land on the worker that does not own the
    allocation: the TLS session then moves to the owner with its socket."""

    def setUp(self):
        tmp = tempfile.mkdtemp(prefix="avedge-tlsrelay-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = make_cert(tmp)
        tls_port = free_port()
        self.d = Daemon(ARGS + ["--cert", cert, "--pkey", key,
                                "--tls-listening-port", str(tls_port)])
        self.addCleanup(self.d.cleanup)
        self.d.start()
        TlsTurnClient.ctx = client_ctx()
        self.server = ("127.0.0.1", tls_port)

    def test_peer_connects_over_tls_many_rounds(self):
        c = TlsTurnClient(self.server, USER, PASSWORD)
        self.addCleanup(c.close)
        resp = c.allocate_tcp()
        self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
        relayed = c.relayed(resp)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)
        for round_ in range(8):
            peer = socket.create_connection(relayed, timeout=5)
            self.addCleanup(peer.close)
            ind = c.next_indication()
            self.assertEqual(ind[0], tc.CONNECTION_ATTEMPT)
            data, resp = c.data_connection(tc.connection_id(ind))
            self.addCleanup(data.close)
            self.assertEqual(resp[1], 2, tc.error_code(resp[3]))
            exchange(peer, data, 200000 if round_ < 2 else 2000)
        self.assertNotIn("closed", "".join(
            l for l in self.d.log().splitlines() if "ConnectionBind" in l))


class DeniedPeerTcpRelay(TcpRelayTest):
    extra = ("--denied-peer-ip", "127.0.0.2")

    def test_rfc6062_s5_2_connect_403_from_peer_policy(self):
        """403 stays for a peer the local policy denies, permission or
        not."""
        ls = socket.socket()
        ls.bind(("127.0.0.2", 0))
        ls.listen(1)
        self.addCleanup(ls.close)
        c = self.control()
        self.assertEqual(c.allocate_tcp()[1], 2)
        port = ls.getsockname()[1]
        self.assertEqual(tc.error_code(c.connect_peer("127.0.0.2", port)[3]), 403)
        self.assertEqual(tc.error_code(c.create_permission("127.0.0.2")[3]), 403)
        resp = c.connect_peer("127.0.0.1", free_port())
        self.assertEqual(tc.error_code(resp[3]), 447)


class NoTcpRelay(TcpRelayTest):
    extra = ("--no-tcp-relay",)

    def test_442(self):
        c = self.control()
        self.assertEqual(tc.error_code(c.allocate_tcp()[3]), 442)


@unittest.skipUnless(have("turnutils_uclient"), "coturn's client tools are not installed")
class UclientTcpRelay(TcpRelayTest):
    def test_uclient_tcp_relay_no_loss(self):
        cmd = tu.UclientInterop.uclient
        self.peer_port = 3480  # unused with -T (peers are the clients)
        rc, text = cmd(self, "-T", "-u", USER, "-w", PASSWORD, "-m", "10",
                       "-n", "40", "-l", "200", "-z", "20", timeout=120)
        self.assertEqual(rc, 0, text[-2000:])
        tu.UclientInterop.assert_no_loss(self, text, 10 * 40)


if __name__ == "__main__":
    unittest.main()
