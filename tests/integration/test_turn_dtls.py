"""TURN over DTLS 1.2 (RFC 8656 s3.1, RFC 6347): coturn's turnutils_uclient
over DTLS (-S without -t) with turnutils_peer as the echoing peer; the
stateless cookie exchange checked with ClientHellos crafted here (one
HelloVerifyRequest no larger than the ClientHello, nothing held: the
connection limit still admits a real client); a real DTLS client (the
system's libssl through ctypes) for Binding, Allocate and close_notify;
DTLS off without a certificate; certificate reload on SIGHUP."""
import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
import unittest

import test_turn_uclient as tu
import turnclient as tc
from harness import Daemon, binding_request, free_port, have, parse_xor_mapped
from test_turn_tls import make_cert

USER, PASSWORD = tu.USER, tu.PASSWORD


def _libssl():
    name = ctypes.util.find_library("ssl")
    if not name:
        return None
    lib = ctypes.CDLL(name)
    P, I, L = ctypes.c_void_p, ctypes.c_int, ctypes.c_long
    sigs = {
        "DTLS_client_method": ([], P), "SSL_CTX_new": ([P], P),
        "SSL_CTX_free": ([P], None), "SSL_new": ([P], P),
        "SSL_free": ([P], None), "BIO_new_dgram": ([I, I], P),
        "BIO_ctrl": ([P, I, L, P], L), "SSL_set_bio": ([P, P, P], None),
        "SSL_connect": ([P], I), "SSL_read": ([P, P, I], I),
        "SSL_write": ([P, P, I], I), "SSL_shutdown": ([P], I),
        "SSL_get_error": ([P, I], I), "SSL_ctrl": ([P, I, L, P], L),
        "BIO_ADDR_new": ([], P), "BIO_ADDR_free": ([P], None),
        "BIO_ADDR_rawmake": ([P, I, P, ctypes.c_size_t, ctypes.c_ushort], I),
        "SSL_get1_peer_certificate": ([P], P), "X509_free": ([P], None),
        "i2d_X509": ([P, ctypes.POINTER(ctypes.c_char_p)], I),
    }
    for fn, (args, res) in sigs.items():
        f = getattr(lib, fn)
        f.argtypes, f.restype = args, res
    return lib


LIBSSL = _libssl()
SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE = 2, 3
BIO_CTRL_DGRAM_SET_CONNECTED = 32
DTLS_CTRL_HANDLE_TIMEOUT = 74


class DtlsClient:
    """A DTLS 1.2 client on a connected UDP socket, non-blocking, driven
    with select() and DTLSv1_handle_timeout()."""

    def __init__(self, port, timeout=5.0, local_port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", local_port))
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.timeout = timeout
        self.ctx = LIBSSL.SSL_CTX_new(LIBSSL.DTLS_client_method())
        self.ssl = LIBSSL.SSL_new(self.ctx)
        bio = LIBSSL.BIO_new_dgram(self.sock.fileno(), 0)
        addr = LIBSSL.BIO_ADDR_new()
        ip = socket.inet_aton("127.0.0.1")
        LIBSSL.BIO_ADDR_rawmake(addr, socket.AF_INET, ip, 4, socket.htons(port))
        LIBSSL.BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, addr)
        LIBSSL.BIO_ADDR_free(addr)
        LIBSSL.SSL_set_bio(self.ssl, bio, bio)

    def _drive(self, op):
        """Run op() until it succeeds; raise on error or timeout."""
        deadline = time.time() + self.timeout
        while True:
            r = op()
            if r > 0:
                return r
            err = LIBSSL.SSL_get_error(self.ssl, r)
            if err not in (SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE):
                raise ConnectionError("DTLS error %d" % err)
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("DTLS: no answer")
            select.select([self.sock], [], [], min(left, 0.1))
            LIBSSL.SSL_ctrl(self.ssl, DTLS_CTRL_HANDLE_TIMEOUT, 0, None)

    def connect(self):
        self._drive(lambda: LIBSSL.SSL_connect(self.ssl))
        return self

    def send(self, data):
        return LIBSSL.SSL_write(self.ssl, data, len(data))

    def recv(self):
        buf = ctypes.create_string_buffer(65536)
        n = self._drive(lambda: LIBSSL.SSL_read(self.ssl, buf, len(buf)))
        return buf.raw[:n]

    def peer_cert(self):
        x = LIBSSL.SSL_get1_peer_certificate(self.ssl)
        n = LIBSSL.i2d_X509(x, None)
        buf = ctypes.create_string_buffer(n)
        p = ctypes.c_char_p(ctypes.addressof(buf))
        LIBSSL.i2d_X509(x, ctypes.byref(p))
        LIBSSL.X509_free(x)
        return buf.raw

    def close(self, notify=True):
        if self.ssl:
            if notify:
                LIBSSL.SSL_shutdown(self.ssl)  # sends close_notify
            LIBSSL.SSL_free(self.ssl)
            LIBSSL.SSL_CTX_free(self.ctx)
            self.ssl = None
        self.sock.close()


class DtlsTurnClient(tc.TurnClient):
    """turnclient.TurnClient's requests over a DTLS session."""

    def __init__(self, port, user, password, local_port=0):
        self.user, self.password = user, password
        self.realm = self.nonce = self.key = None
        self.dtls = DtlsClient(port, local_port=local_port).connect()

    def send_raw(self, data):
        self.dtls.send(data)

    def recv(self):
        return self.dtls.recv()

    def close(self):
        self.dtls.close()


def client_hello(cookie=b"", seq=0):
    """A DTLS 1.2 ClientHello record for ECDHE-ECDSA with AES-GCM."""
    suites = struct.pack("!HHHH", 0xC02B, 0xC02C, 0xC02F, 0xC030)
    exts = (struct.pack("!HHHHH", 0x000A, 6, 4, 0x0017, 0x0018) +   # groups
            struct.pack("!HHBB", 0x000B, 2, 1, 0) +                # points
            struct.pack("!HHHHH", 0x000D, 6, 4, 0x0403, 0x0804) +  # sigalgs
            struct.pack("!HH", 0x0017, 0))                         # EMS
    body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" +
            bytes([len(cookie)]) + cookie +
            struct.pack("!H", len(suites)) + suites + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    n = len(body)
    hs = bytes([1]) + n.to_bytes(3, "big") + struct.pack("!H", seq) + \
        (0).to_bytes(3, "big") + n.to_bytes(3, "big") + body
    return bytes([22]) + b"\xfe\xff" + b"\x00\x00" + seq.to_bytes(6, "big") + \
        struct.pack("!H", len(hs)) + hs


def hello_verify_cookie(rec):
    """The cookie of a HelloVerifyRequest record, or None."""
    if len(rec) < 13 + 12 + 3 or rec[0] != 22 or rec[13] != 3:
        return None
    body = rec[25:]
    return body[3:3 + body[2]]


def handshake_type(rec):
    return rec[13] if len(rec) > 13 and rec[0] == 22 else None


def recv_all(sock, wait):
    """Every datagram arriving within wait seconds."""
    out, deadline = [], time.time() + wait
    while True:
        left = deadline - time.time()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return out
        out.append(sock.recv(65536))


class UdpTap:
    """A UDP forwarder between one client and the daemon that keeps what
    the client sent; the daemon sees the tap's upstream address."""

    def __init__(self, port):
        self.down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.down.bind(("127.0.0.1", 0))
        self.port = self.down.getsockname()[1]
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(("127.0.0.1", port))
        self.sent, self.client, self.stop = [], None, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            ready = select.select([self.down, self.up], [], [], 0.1)[0]
            if self.down in ready:
                data, self.client = self.down.recvfrom(65536)
                self.sent.append(data)
                self.up.send(data)
            if self.up in ready:
                data = self.up.recv(65536)
                if self.client:
                    self.down.sendto(data, self.client)

    def close(self):
        self.stop = True
        self.thread.join()
        self.down.close()
        self.up.close()


@unittest.skipUnless(have("openssl") and LIBSSL is not None,
                     "openssl CLI or libssl is not available")
class DtlsBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="avedge-dtls-")
        cls.cert, cls.key = make_cert(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start_daemon(self, extra=(), dtls_port=None):
        """DTLS on the TLS port (the default), or on dtls_port."""
        self.tls_port = free_port()
        self.dtls_port = dtls_port or self.tls_port
        args = ["--relay-ip", "127.0.0.1", "--realm", "test.local",
                "--user", "%s:%s" % (USER, PASSWORD),
                "--allow-loopback-peers",
                "--min-port", "61000", "--max-port", "62999",
                "--threads", "2", "--cert", self.cert, "--pkey", self.key,
                "--tls-listening-port", str(self.tls_port)]
        if dtls_port:
            args += ["--dtls-listening-port", str(dtls_port)]
        self.d = Daemon(args + list(extra))
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while text not in self.d.log() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn(text, self.d.log())

    def dtls_binding(self, port=None):
        c = DtlsClient(port or self.dtls_port).connect()
        try:
            req, tid = binding_request()
            c.send(req)
            resp = c.recv()
            return parse_xor_mapped(resp, tid), c.sock.getsockname()
        finally:
            c.close()


@unittest.skipUnless(have("turnutils_uclient") and have("turnutils_peer"),
                     "coturn's client tools are not installed")
class DtlsUclient(DtlsBase):
    uclient = tu.UclientInterop.uclient
    assert_no_loss = tu.UclientInterop.assert_no_loss
    _stop_peer = tu.UclientInterop._stop_peer
    start_peer = tu.UclientInterop.start_peer

    def setUp(self):
        # uclient picks channels in RFC 5766's 0x4000-0x7FFF
        self.start_daemon(("--rfc5766-channel-numbers",))
        self.start_peer()

    def test_dtls_long_term_channels(self):
        rc, text = self.uclient("-S", "-p", str(self.dtls_port),
                                "-u", USER, "-w", PASSWORD, "-m", "10",
                                "-n", "40", "-l", "200", "-z", "20")
        self.assertEqual(rc, 0, text[-2000:])
        self.assertIn("DTLSv1.2", text)
        self.assert_no_loss(text, 10 * 40)
        self.assertIn("allocation created", self.d.log())

    def test_dtls_send_indications(self):
        rc, text = self.uclient("-S", "-s", "-p", str(self.dtls_port),
                                "-u", USER, "-w", PASSWORD, "-m", "5",
                                "-n", "30", "-l", "1000", "-z", "10")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 5 * 30)


class DtlsCookie(DtlsBase):
    """No state before the cookie comes back (RFC 6347 s4.2.1)."""

    def setUp(self):
        # One session per IP (everything here is 127.0.0.1): a cookieless
        # ClientHello that held a session would lock the real client out.
        self.start_daemon(["--max-connections-per-ip", "1",
                           "--handshake-timeout", "2"],
                          dtls_port=free_port())

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.connect(("127.0.0.1", self.dtls_port))
        self.addCleanup(s.close)
        return s

    def test_hello_verify_request_only_and_no_session(self):
        socks = [self.udp() for _ in range(20)]
        hello = client_hello()
        for s in socks:
            s.send(hello)
        for s in socks:
            got = recv_all(s, 0.3)
            self.assertEqual(len(got), 1, got)
            self.assertLessEqual(len(got[0]), len(hello))
            self.assertIsNotNone(hello_verify_cookie(got[0]), got[0].hex())
        # nothing more comes: no session retransmits a flight
        self.assertEqual(recv_all(socks[0], 1.5), [])
        # the one slot per IP is free: a real client gets through
        mapped, local = self.dtls_binding()
        self.assertEqual(mapped, local)

    def test_cookie_bound_to_address(self):
        a, b = self.udp(), self.udp()
        a.send(client_hello())
        cookie = hello_verify_cookie(recv_all(a, 1.0)[0])
        self.assertTrue(cookie)
        # the cookie of a's address is no good from b: another HVR
        b.send(client_hello(cookie, seq=1))
        got = recv_all(b, 0.5)
        self.assertEqual(len(got), 1)
        self.assertIsNotNone(hello_verify_cookie(got[0]))
        # from a it starts the handshake: ServerHello (type 2)
        a.send(client_hello(cookie, seq=1))
        got = recv_all(a, 0.5)
        self.assertTrue(got)
        self.assertEqual(handshake_type(got[0]), 2, got[0][:32].hex())
        # a now holds the IP's one session: c's proven ClientHello is
        # refused without an answer ...
        c = self.udp()
        c.send(client_hello())
        c_cookie = hello_verify_cookie(recv_all(c, 1.0)[0])
        c.send(client_hello(c_cookie, seq=1))
        self.assertEqual(recv_all(c, 0.5), [])
        # ... until a's unfinished handshake times out (2 s) and frees it
        time.sleep(2.5)
        c.send(client_hello(c_cookie, seq=1))
        got = recv_all(c, 0.5)
        self.assertTrue(got)
        self.assertEqual(handshake_type(got[0]), 2)


class DtlsSession(DtlsBase):
    def setUp(self):
        self.start_daemon()

    def test_binding_over_dtls(self):
        mapped, local = self.dtls_binding()
        self.assertEqual(mapped, local)

    def test_close_notify_ends_allocation(self):
        c = DtlsTurnClient(self.dtls_port, USER, PASSWORD)
        self.addCleanup(c.dtls.close, False)
        resp = c.allocate()
        self.assertEqual(resp[1], 2, resp)  # success
        relayed = c.relayed(resp)
        self.wait_log("allocation created")
        c.close()  # close_notify
        self.wait_log("reason=connection closed")
        self.assertIn("relay=127.0.0.1:%d" % relayed[1],
                      [l for l in self.d.log().splitlines()
                       if "connection closed" in l][0])

    def test_restarted_client_replaces_session(self):
        # The client vanishes without close_notify and comes back from the
        # same address and port with a new handshake (RFC 6347 s4.2.8).
        c = DtlsTurnClient(self.dtls_port, USER, PASSWORD)
        local = c.dtls.sock.getsockname()[1]
        self.assertEqual(c.allocate()[1], 2)
        c.dtls.close(notify=False)
        self.assertNotIn("connection closed", self.d.log())
        c2 = DtlsTurnClient(self.dtls_port, USER, PASSWORD, local_port=local)
        self.addCleanup(c2.close)
        self.wait_log("reason=connection closed")
        self.assertEqual(c2.allocate()[1], 2)  # a fresh allocation

    def test_late_copy_of_client_hello_keeps_session(self):
        tap = UdpTap(self.dtls_port)
        self.addCleanup(tap.close)
        c = DtlsTurnClient(tap.port, USER, PASSWORD)
        self.addCleanup(c.close)
        self.assertEqual(c.allocate()[1], 2)
        hellos = [d for d in tap.sent if handshake_type(d) == 1]
        self.assertEqual(len(hellos), 2)  # without and with the cookie
        for h in hellos:
            tap.up.send(h)  # duplicated, late, from the session's address
        time.sleep(0.3)
        req, tid = binding_request()
        c.send_raw(req)
        self.assertEqual(c.recv()[8:20], tid)
        self.assertNotIn("connection closed", self.d.log())

    def test_sighup_reloads_dtls_certificate(self):
        tmp = tempfile.mkdtemp(prefix="avedge-dtls-reload-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        shutil.copy(self.cert, cert)
        shutil.copy(self.key, key)
        self.cert, self.key = cert, key
        self.d.cleanup()
        self.start_daemon()
        old = DtlsClient(self.dtls_port).connect()
        self.addCleanup(old.close)
        first = old.peer_cert()
        new_cert, new_key = make_cert(tmp, "2")
        os.replace(new_cert, cert)
        os.replace(new_key, key)
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_log("DTLS certificate %s reloaded" % cert)
        time.sleep(0.2)
        c = DtlsClient(self.dtls_port).connect()
        second = c.peer_cert()
        c.close()
        self.assertNotEqual(first, second)
        # the session made before the reload still works
        req, tid = binding_request()
        old.send(req)
        self.assertEqual(old.recv()[8:20], tid)


@unittest.skipUnless(have("openssl"), "openssl CLI is not installed")
class DtlsOff(unittest.TestCase):
    def test_no_cert_dtls_off(self):
        d = Daemon(["--relay-ip", "127.0.0.1"])
        self.addCleanup(d.cleanup)
        d.start()
        self.assertIn("DTLS is off: no cert is set", d.log())

    def test_no_dtls_keeps_tls(self):
        tmp = tempfile.mkdtemp(prefix="avedge-dtls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = make_cert(tmp)
        port = free_port()
        d = Daemon(["--relay-ip", "127.0.0.1", "--cert", cert, "--pkey", key,
                    "--tls-listening-port", str(port), "--no-dtls"])
        self.addCleanup(d.cleanup)
        d.start()
        self.assertIn("DTLS is off: no-dtls is set", d.log())
        self.assertIn("TLS on port %d" % port, d.log())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(client_hello(), ("127.0.0.1", port))
            s.settimeout(0.5)
            with self.assertRaises((socket.timeout, ConnectionRefusedError)):
                s.recv(2048)

    def test_dtls_port_same_as_udp_port_is_fatal(self):
        tmp = tempfile.mkdtemp(prefix="avedge-dtls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = make_cert(tmp)
        d = Daemon(["--relay-ip", "127.0.0.1", "--cert", cert, "--pkey", key])
        d.args += ["--dtls-listening-port", str(d.port)]
        self.addCleanup(d.cleanup)
        d.start(wait_ready=False)
        rc = d.proc.wait(15)
        self.assertNotEqual(rc, 0)
        self.assertIn("dtls-listening-port", d.log())


if __name__ == "__main__":
    unittest.main()
