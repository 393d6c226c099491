"""edgectl against the real daemon: status, allocations (table and --json,
filters), show, kick, drain/undrain (seen on /readyz), users and secrets
(add, list or count, delete; refusals exit 1), token sources, HTTPS
certificate checks, and the exit codes: 0 ok, 1 refused or not found,
2 usage, 3 unreachable or unauthorised.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, Daemon, free_port
from turnclient import REFRESH, TurnClient, error_code

EDGECTL = os.path.join(BUILD, "tools", "edgectl")
TOKEN = "edgectl-test-token-0123456789"
NODE = "ectl1"


def make_cert(tmp):
    """A self-signed certificate for 127.0.0.1 (SAN IP)."""
    cert, key = os.path.join(tmp, "admin.pem"), os.path.join(tmp, "admin.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


class AdminNode(Daemon):
    def __init__(self, https=False):
        self.admin_port = free_port()
        args = ["--relay-ip", "127.0.0.1", "--realm", "test.local",
                "--user", "alice:wonderland", "--user", "bob:builder",
                "--allow-loopback-peers", "--threads", "2",
                "--min-port", "61000", "--max-port", "62999",
                "--node-id", NODE, "--admin-token", TOKEN,
                "--admin-listen", "127.0.0.1:%d" % self.admin_port]
        super().__init__(args)
        self.https = https
        if https:
            self.cert, key = make_cert(self.tmp)
            self.args += ["--admin-cert", self.cert, "--admin-pkey", key]
        self.url = "%s://127.0.0.1:%d" % ("https" if https else "http", self.admin_port)

    def readyz(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.admin_port,
                                        timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def wait_admin(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.admin_port), 0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("admin server not up:\n" + self.log())


def run_ctl(args, env_extra=None, stdin=None, timeout=30):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVEDGE_")}
    env.update(env_extra or {})
    return subprocess.run([EDGECTL] + list(args), capture_output=True, text=True,
                          env=env, input=stdin, timeout=timeout)


@unittest.skipUnless(os.path.exists(EDGECTL), "edgectl is not built (%s)" % EDGECTL)
class EdgectlTest(unittest.TestCase):
    https = False

    def setUp(self):
        self.d = AdminNode(https=self.https)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.d.wait_admin()

    def ctl(self, *args, expect=0, token=TOKEN, **kw):
        base = ["--admin", self.d.url] + (["--token", token] if token else [])
        out = run_ctl(base + list(args), **kw)
        if expect is not None:
            self.assertEqual(out.returncode, expect,
                             "edgectl %s: exit %d\n--- stdout\n%s--- stderr\n%s"
                             % (" ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def allocate(self, user="alice", password="wonderland"):
        c = TurnClient(("127.0.0.1", self.d.port), user, password)
        self.addCleanup(c.close)
        resp = c.allocate()
        self.assertEqual(resp[1], 2, "allocate failed: %r" % (error_code(resp[3]),))
        return c


class Commands(EdgectlTest):
    def test_status(self):
        out = self.ctl("status")
        self.assertIn(NODE, out.stdout)
        self.assertRegex(out.stdout, r"state\s+ready")
        js = json.loads(self.ctl("status", "--json").stdout)
        self.assertEqual(js["node"], NODE)
        self.assertEqual(js["allocations"], 0)

    def test_allocations_show_kick(self):
        alice = self.allocate()
        self.allocate("bob", "builder")
        table = self.ctl("allocations").stdout
        self.assertRegex(table.splitlines()[0], r"^ID\s+USER\s+REALM\s+TRANSPORT")
        self.assertIn("alice", table)
        self.assertIn("bob", table)
        # options after the command, both spellings
        listing = json.loads(self.ctl("allocations", "--json", "--user", "alice").stdout)
        self.assertEqual(listing["total"], 1)
        item = listing["allocations"][0]
        self.assertEqual(item["user"], "alice")
        alloc_id = item["id"]
        self.assertIn(alloc_id, table)
        self.assertEqual(json.loads(self.ctl("--json", "allocations", "--user=bob").stdout)["total"], 1)
        self.assertIn("no allocations", self.ctl("allocations", "--user", "carol").stdout)
        page = json.loads(self.ctl("allocations", "--limit", "1", "--offset", "1", "--json").stdout)
        self.assertEqual((page["total"], len(page["allocations"])), (2, 1))
        self.assertIn("of 2", self.ctl("allocations", "--limit", "1").stdout)

        show = self.ctl("show", alloc_id).stdout
        self.assertRegex(show, r"user\s+alice")
        self.assertIn("permissions", show)
        self.assertEqual(json.loads(self.ctl("show", alloc_id, "--json").stdout)["id"], alloc_id)

        out = self.ctl("kick", alloc_id)
        self.assertIn("kicked", out.stdout)
        self.assertEqual(error_code(alice.transact(REFRESH, [])[3]), 437)
        listing = json.loads(self.ctl("allocations", "--json").stdout)
        self.assertNotIn(alloc_id, [a["id"] for a in listing["allocations"]])
        self.assertEqual(listing["total"], 1)
        out = self.ctl("show", alloc_id, expect=1)
        self.assertIn("404", out.stderr)
        out = self.ctl("kick", alloc_id, expect=1)
        self.assertIn("no such allocation", out.stderr)
        self.ctl("kick", "nosuchid", expect=1)

    def test_drain_undrain(self):
        self.assertEqual(self.d.readyz(), 200)
        self.assertIn("draining", self.ctl("drain").stdout)
        self.assertEqual(self.d.readyz(), 503)
        self.assertRegex(self.ctl("status").stdout, r"state\s+draining")
        self.ctl("undrain")
        self.assertEqual(self.d.readyz(), 200)

    def test_users_add_list_delete(self):
        out = self.ctl("users")
        self.assertRegex(out.stdout, r"alice\s+config")
        self.assertIn("lost on restart", out.stdout)
        out = self.ctl("users", "add", "carol", stdin="carols-password\n")
        self.assertIn("user set", out.stdout)
        self.assertIn("lost on restart", out.stdout)
        self.assertNotIn("carols-password", out.stdout + out.stderr)
        self.allocate("carol", "carols-password")
        out = self.ctl("users", "list")
        self.assertRegex(out.stdout, r"carol\s+api")
        self.assertNotIn("carols-password", out.stdout)
        listing = json.loads(self.ctl("users", "--json").stdout)
        self.assertIn({"name": "carol", "source": "api"}, listing["users"])
        pwfile = os.path.join(self.d.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write("second-password\n")
        self.ctl("users", "add", "carol", "--password-file", pwfile)
        self.allocate("carol", "second-password")
        self.assertIn("deleted", self.ctl("users", "delete", "carol").stdout)
        c = TurnClient(("127.0.0.1", self.d.port), "carol", "second-password")
        self.addCleanup(c.close)
        self.assertEqual(error_code(c.allocate()[3]), 401)
        out = self.ctl("users", "del", "carol", expect=1)
        self.assertIn("404", out.stderr)
        out = self.ctl("users", "delete", "alice", expect=1)
        self.assertIn("409", out.stderr)
        out = self.ctl("users", "add", "alice", stdin="x\n", expect=1)
        self.assertIn("409", out.stderr)
        out = self.ctl("users", "add", "bad:name", stdin="pw\n", expect=1)
        self.assertIn("400", out.stderr)
        self.ctl("users", "add", "dave", stdin="\n", expect=2)   # empty password

    def test_secrets_add_count_delete(self):
        secret = "a-new-shared-secret"
        self.assertIn("0 REST secrets", self.ctl("secrets").stdout)
        out = self.ctl("secrets", "add", stdin=secret + "\n")
        self.assertIn("secret added", out.stdout)
        self.assertNotIn(secret, out.stdout + out.stderr)
        self.assertIn("1 REST secrets", self.ctl("secrets", "count").stdout)
        counts = json.loads(self.ctl("secrets", "--json").stdout)
        self.assertEqual(counts["sources"]["api"], 1)
        self.assertNotIn(secret, json.dumps(counts))
        user = "%d:web" % (int(time.time()) + 600)
        pw = base64.b64encode(hmac.new(secret.encode(), user.encode(),
                                       hashlib.sha1).digest()).decode()
        self.allocate(user, pw)
        path = os.path.join(self.d.tmp, "secret")
        with open(path, "w") as f:
            f.write(secret + "\n")
        self.assertIn("deleted", self.ctl("secrets", "delete", "--secret-file", path).stdout)
        c = TurnClient(("127.0.0.1", self.d.port), user, pw)
        self.addCleanup(c.close)
        self.assertEqual(error_code(c.allocate()[3]), 401)
        out = self.ctl("secrets", "delete", stdin=secret + "\n", expect=1)
        self.assertIn("404", out.stderr)
        self.assertNotIn(secret, out.stdout + out.stderr)
        self.ctl("secrets", "delete", "an-id", expect=2)  # never in the command line

    def test_token_sources(self):
        path = os.path.join(self.d.tmp, "token")
        with open(path, "w") as f:
            f.write(TOKEN + "\n")
        self.ctl("status", "--token-file", path, token=None)
        out = run_ctl(["status"], env_extra={"AVEDGE_ADMIN": self.d.url, "AVEDGE_TOKEN": TOKEN})
        self.assertEqual(out.returncode, 0, out.stderr)
        # --token wins over the environment
        out = run_ctl(["status", "--token", "wrong-token-wrong-token"],
                      env_extra={"AVEDGE_ADMIN": self.d.url, "AVEDGE_TOKEN": TOKEN})
        self.assertEqual(out.returncode, 3, out.stderr)

    def test_unauthorised_is_3(self):
        out = self.ctl("status", token="wrong-token-wrong-token", expect=3)
        self.assertIn("401", out.stderr)
        self.assertNotIn("wrong-token", out.stdout)
        out = self.ctl("allocations", token=None, expect=3)
        self.assertIn("no token", out.stderr)
        self.ctl("kick", "x", token="wrong-token-wrong-token", expect=3)


@unittest.skipUnless(os.path.exists(EDGECTL), "edgectl is not built (%s)" % EDGECTL)
class NoNode(unittest.TestCase):
    def test_unreachable_port_is_3(self):
        port = free_port()
        t0 = time.time()
        out = run_ctl(["--admin", "http://127.0.0.1:%d" % port, "--token", TOKEN, "status"])
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertIn("refused", out.stderr.lower())
        self.assertLess(time.time() - t0, 5)

    def test_silent_node_times_out(self):
        # accepts the connection, never answers
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        t0 = time.time()
        out = run_ctl(["status", "--admin", "http://127.0.0.1:%d" % s.getsockname()[1],
                       "--token", TOKEN, "--timeout", "1"])
        elapsed = time.time() - t0
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertIn("no answer within 1 s", out.stderr)
        self.assertLess(elapsed, 4)

    def test_usage_is_2(self):
        for args in ([], ["frobnicate"], ["status", "--bogus"], ["show"],
                     ["kick", "a", "b"], ["status", "--timeout", "soon"],
                     ["status", "--user", "alice"], ["--admin", "ftp://x", "status"],
                     ["--admin", "http://127.0.0.1:1/?token=x", "status"],
                     ["status", "--token"], ["secrets", "frob"], ["users", "add"],
                     ["status", "--insecure", "--cacert", "/dev/null"]):
            out = run_ctl(args)
            self.assertEqual(out.returncode, 2, "%r: %s" % (args, out.stderr))
            self.assertTrue(out.stderr, args)
        # --redis only reads the cluster: commands acting on a node need
        # --admin (test_cluster_ops.py has the rest of --redis)
        out = run_ctl(["--redis", "redis://127.0.0.1:6379", "kick", "x-0-1"])
        self.assertEqual(out.returncode, 2)
        self.assertIn("use --admin", out.stderr)
        out = run_ctl(["--redis", "redis://127.0.0.1:1/0", "status"])
        self.assertEqual(out.returncode, 3, out.stderr)
        out = run_ctl(["--token-file", "/nonexistent/token", "status"])
        self.assertEqual(out.returncode, 2)

    def test_help(self):
        out = run_ctl(["--help"])
        self.assertEqual(out.returncode, 0)
        for cmd in ("status", "allocations", "show", "kick", "drain", "undrain",
                    "users", "secrets", "nodes"):
            self.assertIn(cmd, out.stdout)
            sub = run_ctl([cmd, "--help"])
            self.assertEqual(sub.returncode, 0, cmd)
            self.assertIn("usage: edgectl " + cmd, sub.stdout)
        self.assertIn("exit codes", out.stdout)


class Https(EdgectlTest):
    https = True

    def test_certificate_checks(self):
        out = self.ctl("status", expect=3)
        self.assertIn("certificate", out.stderr)
        self.assertIn(NODE, self.ctl("status", "--cacert", self.d.cert).stdout)
        self.assertIn(NODE, self.ctl("status", "--insecure").stdout)
        # plain http to the https port: no answer, not a crash
        out = run_ctl(["--admin", "http://127.0.0.1:%d" % self.d.admin_port,
                       "--token", TOKEN, "--timeout", "2", "status"])
        self.assertEqual(out.returncode, 3, out.stderr)


if __name__ == "__main__":
    unittest.main()
