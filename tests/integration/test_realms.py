"""Several realms on one node (docs/config.md "Realms"): a daemon listening
on 127.0.0.1 (realm a.example, the default `realm`) and 127.0.0.2
(realm-listener: b.example), a user in each realm, TLS SNI b.example
choosing realm B on A's address, and a per-realm user quota. The clients
are Python's (turnclient.py, ssl): each user allocates on its own
listener and gets 401 naming the listener's realm on the other."""
import os
import shutil
import socket
import tempfile
import unittest
import urllib.request

from harness import Daemon, free_port, have
from test_admin import metric, parse_metrics
from test_turn_tls import client_ctx, make_cert
from turnclient import (A_REALM, StreamTurnClient, TurnClient, error_code)

REALM_A, REALM_B = "a.example", "b.example"
ALICE, ALICE_PW = "alice", "alice-pw"  # realm A
BOB, BOB_PW = "bob", "bob-pw"          # realm B
ADMIN_TOKEN = "realms-test-admin-token-0"


def code_of(resp):
    return error_code(resp[3]) or 0


def realm_of(resp):
    return resp[3].get(A_REALM, [b""])[0].decode()


@unittest.skipUnless(have("openssl"), "openssl CLI is not installed")
class RealmsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="avedge-realms-")
        cls.cert, cls.key = make_cert(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.tls_port = free_port()
        config = "\n".join([
            "realm = " + REALM_A,
            "user = %s:%s" % (ALICE, ALICE_PW),
            "realm-listener = %s@127.0.0.2" % REALM_B,
            "realm-sni = %s@B.Example" % REALM_B,
            "realm-user = %s:%s:%s" % (REALM_B, BOB, BOB_PW),
            "realm-user-quota = %s:1" % REALM_B,
            "",
        ])
        self.admin_port = free_port()
        self.d = Daemon(["--listening-ip", "127.0.0.2", "--threads", "2",
                         "--cert", self.cert, "--pkey", self.key,
                         "--tls-listening-port", str(self.tls_port),
                         "--no-dtls",
                         "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                         "--admin-token", ADMIN_TOKEN], config)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.a = ("127.0.0.1", self.d.port)
        self.b = ("127.0.0.2", self.d.port)

    def client(self, server, user, pw):
        c = TurnClient(server, user, pw)
        self.addCleanup(c.close)
        return c

    def allocate(self, server, user, pw):
        resp = self.client(server, user, pw).allocate()
        return code_of(resp), realm_of(resp), resp

    def test_each_user_on_its_own_listener(self):
        code, _, _ = self.allocate(self.a, ALICE, ALICE_PW)
        self.assertEqual(code, 0, self.d.log())
        code, _, _ = self.allocate(self.b, BOB, BOB_PW)
        self.assertEqual(code, 0, self.d.log())

    def test_other_listener_401_names_its_realm(self):
        code, realm, _ = self.allocate(self.b, ALICE, ALICE_PW)
        self.assertEqual((code, realm), (401, REALM_B))
        code, realm, _ = self.allocate(self.a, BOB, BOB_PW)
        self.assertEqual((code, realm), (401, REALM_A))

    def test_tls_sni_chooses_realm(self):
        def tls_client(server_hostname, user, pw):
            tls = ("127.0.0.1", self.tls_port)
            raw = socket.create_connection(tls, timeout=5)
            s = client_ctx(["stun.turn"]).wrap_socket(
                raw, server_hostname=server_hostname)
            c = StreamTurnClient(tls, user, pw, sock=s)
            self.addCleanup(c.close)
            return c

        resp = tls_client("b.example", BOB, BOB_PW).allocate()
        self.assertEqual(code_of(resp), 0, self.d.log())
        resp = tls_client("b.example", ALICE, ALICE_PW).allocate()
        self.assertEqual((code_of(resp), realm_of(resp)),
                         (401, REALM_B))
        # another name, or none: the listener's realm (A)
        for name in ("other.example", None):
            resp = tls_client(name, ALICE, ALICE_PW).allocate()
            self.assertEqual(code_of(resp), 0, self.d.log())

    def test_allocations_metric_by_realm(self):
        self.assertEqual(self.allocate(self.a, ALICE, ALICE_PW)[0], 0)
        self.assertEqual(self.allocate(self.a, ALICE, ALICE_PW)[0], 0)
        self.assertEqual(self.allocate(self.b, BOB, BOB_PW)[0], 0)
        req = urllib.request.Request(
            "http://127.0.0.1:%d/metrics" % self.admin_port,
            headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            series = parse_metrics(r.read().decode())[0]
        self.assertEqual(metric(series, "avedge_allocations", realm=REALM_A,
                                transport="udp"), 2)
        self.assertEqual(metric(series, "avedge_allocations", realm=REALM_B,
                                transport="udp"), 1)

    def test_realm_user_quota(self):
        code, _, _ = self.allocate(self.b, BOB, BOB_PW)
        self.assertEqual(code, 0)
        code, _, _ = self.allocate(self.b, BOB, BOB_PW)
        self.assertEqual(code, 486)
        # realm A has no quota
        for _ in range(2):
            code, _, _ = self.allocate(self.a, ALICE, ALICE_PW)
            self.assertEqual(code, 0)


class RealmsConfigTest(unittest.TestCase):
    def run_daemon(self, config, args=()):
        d = Daemon(list(args), config)
        self.addCleanup(d.cleanup)
        d.start(wait_ready=False)
        rc = d.proc.wait(30)
        return rc, d.log()

    def test_bad_lines_name_file_line_key(self):
        cases = [
            ("realm-listener = b.example:127.0.0.2\n", "realm-listener"),
            ("realm-listener = b.example@127.0.0.9\n", "not a listening-ip"),
            ("realm-sni = b@bad_host\n", "realm-sni"),
            ("realm-user = b.example:bob\n", "realm-user"),
            ("realm-user-quota = b.example:x\n", "realm-user-quota"),
            ("realm-secret = nowhere.example:s\n", "neither realm"),
        ]
        for line, what in cases:
            rc, log = self.run_daemon("# realms\n" + line)
            self.assertNotEqual(rc, 0, line)
            self.assertIn(what, log, line)
            if "@" in line or "quota" in line or "bob\n" in line:
                self.assertIn("avedge.conf:2: key", log, line)
            self.assertNotIn("bob-pw", log)


if __name__ == "__main__":
    unittest.main()
