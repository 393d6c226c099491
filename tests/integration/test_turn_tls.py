"""TURN over TLS (RFC 8656 s3.1) and ALPN (RFC 7443): coturn's
turnutils_uclient over TLS and plain TCP with turnutils_peer as the echoing
peer, Python's ssl module for the handshake rules (ALPN "stun.turn", no
ALPN, foreign ALPN refused, TLS 1.1 refused), and start-up errors for a
certificate that cannot be used. The certificate is self-signed, made with
the openssl CLI per test class."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest
import warnings

import test_turn_uclient as tu
from harness import Daemon, binding_request, free_port, have, parse_xor_mapped

USER, PASSWORD = tu.USER, tu.PASSWORD


def make_cert(tmp, name=""):
    """(cert path, key path) of a fresh self-signed P-256 certificate."""
    cert = os.path.join(tmp, "c%s.pem" % name)
    key = os.path.join(tmp, "k%s.pem" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def client_ctx(alpn=None, max_version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if max_version:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
        try:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except ssl.SSLError:
            pass
    return ctx


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


@unittest.skipUnless(have("openssl"), "openssl CLI is not installed")
class TlsBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="avedge-tls-")
        cls.cert, cls.key = make_cert(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start_daemon(self, extra=()):
        self.tls_port = free_port()
        self.d = Daemon(["--relay-ip", "127.0.0.1", "--realm", "test.local",
                         "--user", "%s:%s" % (USER, PASSWORD),
                         "--allow-loopback-peers",
                         "--min-port", "61000", "--max-port", "62999",
                         "--threads", "2", "--cert", self.cert,
                         "--pkey", self.key,
                         "--tls-listening-port", str(self.tls_port)] +
                        list(extra))
        self.addCleanup(self.d.cleanup)
        self.d.start()


class TlsHandshake(TlsBase):
    def setUp(self):
        self.start_daemon()

    def connect(self, ctx):
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        try:
            return ctx.wrap_socket(raw, server_hostname="localhost")
        except BaseException:
            raw.close()
            raise

    def test_alpn_stun_turn_selected(self):
        with self.connect(client_ctx(["stun.turn"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "stun.turn")
            self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))

    def test_alpn_stun_turn_among_others(self):
        with self.connect(client_ctx(["h2", "stun.turn"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "stun.turn")

    def test_no_alpn_binding_answered(self):
        with self.connect(client_ctx()) as s:
            self.assertIsNone(s.selected_alpn_protocol())
            req, tid = binding_request()
            s.sendall(req)
            head = read_exact(s, 20)
            self.assertEqual(len(head), 20)
            body = read_exact(s, int.from_bytes(head[2:4], "big"))
            resp = head + body
            self.assertEqual(resp[8:20], tid)
            mapped = parse_xor_mapped(resp, tid)
            self.assertIsNotNone(mapped, resp.hex())
            self.assertEqual(mapped[0], "127.0.0.1")
            self.assertEqual(mapped[1], s.getsockname()[1])

    def test_foreign_alpn_refused(self):
        with self.assertRaises(ssl.SSLError) as cm:
            with self.connect(client_ctx(["h2"])):
                pass
        self.assertIn("NO APPLICATION PROTOCOL",
                      str(cm.exception).upper().replace("_", " "))

    def test_tls_1_1_refused(self):
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx = client_ctx(max_version=ssl.TLSVersion.TLSv1_1)
            with self.connect(ctx):
                pass

    def test_silent_client_cut_after_handshake_timeout(self):
        # handshake-timeout is 10 s by default, less than idle-timeout.
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=20)
        with raw:
            self.assertEqual(raw.recv(1), b"")
        self.assertTrue(self.d.proc.poll() is None)


@unittest.skipUnless(have("turnutils_uclient") and have("turnutils_peer"),
                     "coturn's client tools are not installed")
class TlsUclient(TlsBase):
    uclient = tu.UclientInterop.uclient
    assert_no_loss = tu.UclientInterop.assert_no_loss
    _stop_peer = tu.UclientInterop._stop_peer
    start_peer = tu.UclientInterop.start_peer

    def setUp(self):
        # uclient picks channels in RFC 5766's 0x4000-0x7FFF
        self.start_daemon(("--rfc5766-channel-numbers",))
        self.start_peer()

    def test_tls_long_term_channels(self):
        rc, text = self.uclient("-t", "-S", "-p", str(self.tls_port),
                                "-u", USER, "-w", PASSWORD, "-m", "10",
                                "-n", "40", "-l", "200", "-z", "20")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 10 * 40)
        self.assertIn("allocation created", self.d.log())

    def test_tls_send_indications(self):
        rc, text = self.uclient("-t", "-S", "-s", "-p", str(self.tls_port),
                                "-u", USER, "-w", PASSWORD, "-m", "5",
                                "-n", "30", "-z", "10")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 5 * 30)

    def test_tcp_client_transport(self):
        rc, text = self.uclient("-t", "-u", USER, "-w", PASSWORD, "-m", "10",
                                "-n", "40", "-l", "200", "-z", "20")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 10 * 40)


@unittest.skipUnless(have("openssl"), "openssl CLI is not installed")
class TlsStartup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="avedge-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_daemon(self, extra):
        d = Daemon(["--relay-ip", "127.0.0.1"] + list(extra))
        self.addCleanup(d.cleanup)
        d.start(wait_ready=False)
        try:
            rc = d.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, d.log()

    def test_missing_cert_is_fatal_and_named(self):
        bad = os.path.join(self.tmp, "no-such-cert.pem")
        rc, log = self.run_daemon(["--cert", bad])
        self.assertIsNotNone(rc, log)
        self.assertNotEqual(rc, 0, log)
        self.assertIn(bad, log)
        self.assertNotIn("ready", log)

    def test_key_not_matching_is_fatal_and_named(self):
        cert, _ = make_cert(self.tmp, "1")
        _, key2 = make_cert(self.tmp, "2")
        rc, log = self.run_daemon(["--cert", cert, "--pkey", key2])
        self.assertIsNotNone(rc, log)
        self.assertNotEqual(rc, 0, log)
        self.assertIn(key2, log)

    def test_key_in_cert_file(self):
        cert, key = make_cert(self.tmp)
        both = os.path.join(self.tmp, "both.pem")
        with open(both, "w") as f:
            for part in (cert, key):
                with open(part) as p:
                    f.write(p.read())
        tls_port = free_port()
        d = Daemon(["--relay-ip", "127.0.0.1", "--cert", both,
                    "--tls-listening-port", str(tls_port)])
        self.addCleanup(d.cleanup)
        d.start()
        raw = socket.create_connection(("127.0.0.1", tls_port), timeout=5)
        with client_ctx(["stun.turn"]).wrap_socket(raw) as s:
            self.assertEqual(s.selected_alpn_protocol(), "stun.turn")

    def test_no_cert_tls_off(self):
        d = Daemon(["--relay-ip", "127.0.0.1"])
        self.addCleanup(d.cleanup)
        d.start()
        self.assertIn("TLS is off", d.log())


class TlsReload(TlsBase):
    """SIGHUP re-reads cert and pkey: new connections see the new
    certificate, a connection made before keeps working, and a certificate
    that does not load leaves the old one in force."""

    def peer_cert(self, sock_ctx=None):
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        s = client_ctx(["stun.turn"]).wrap_socket(raw, server_hostname="localhost")
        return s, s.getpeercert(binary_form=True)

    def wait_log(self, text, timeout=10):
        import time
        deadline = time.time() + timeout
        while text not in self.d.log() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn(text, self.d.log())

    def test_sighup_reloads_certificate(self):
        import signal
        tmp = tempfile.mkdtemp(prefix="avedge-tls-reload-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        shutil.copy(self.cert, cert)
        shutil.copy(self.key, key)
        self.cert, self.key = cert, key
        self.start_daemon()
        old_conn, first = self.peer_cert()
        self.addCleanup(old_conn.close)
        new_cert, new_key = make_cert(tmp, "2")
        os.replace(new_cert, cert)
        os.replace(new_key, key)
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_log("certificate %s reloaded" % cert)
        s, second = self.peer_cert()
        s.close()
        self.assertNotEqual(first, second)
        # the connection made before the reload still works
        req, tid = binding_request()
        old_conn.sendall(req)
        resp = read_exact(old_conn, 20)
        self.assertEqual(resp[8:20], tid)
        # a broken certificate is rejected and the current one stays
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_log("certificate rejected")
        s, third = self.peer_cert()
        s.close()
        self.assertEqual(second, third)


if __name__ == "__main__":
    unittest.main()
