"""The admin HTTP(S) server against the real daemon: Prometheus text format
(checked by a parser written here) with numbers that match what the test
did, health and readiness, drain (508 to new Allocates while an existing
allocation keeps relaying), the allocation API and kick, access control,
HTTPS with a self-signed certificate made by the test, and a bind failure.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import AVEDGE, Daemon, free_port, have
from turnclient import (REFRESH, TurnClient, error_code)

USER, PASSWORD = "alice", "wonderland"
TOKEN = "test-admin-token-0123456789"
NODE = "edge-t1"

# --- a Prometheus text format 0.0.4 validator ---------------------------

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
VALUE = re.compile(r"^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$")


def parse_labels(text, line):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise AssertionError("bad labels in %r" % line)
        if m.group(1) in labels:
            raise AssertionError("label %s twice in %r" % (m.group(1), line))
        labels[m.group(1)] = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)),
                                    m.group(2))
        pos = m.end()
    return labels


def parse_metrics(text):
    """{(name, frozenset(labels)): value}; raises AssertionError on any
    violation of the format (TYPE before samples, one TYPE per family,
    valid names, escaped labels, no duplicate series, counters _total)."""
    assert text.endswith("\n"), "exposition must end with a newline"
    types, helps, series, seen_families = {}, set(), {}, []
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert NAME.match(name), line
            assert name not in helps, "HELP twice: " + line
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4, line
            name, typ = parts[2], parts[3]
            assert NAME.match(name), line
            assert name not in types, "TYPE twice: " + line
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            if typ == "counter":
                assert name.endswith("_total"), "counter without _total: " + name
            assert name.startswith("avedge_"), name
            types[name] = typ
            seen_families.append(name)
            continue
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$", line)
        assert m, "bad sample line %r" % line
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = name
        if name not in types:  # a histogram's _bucket, _sum, _count
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if types.get(base) == "histogram":
                family = base
        assert family in types, "sample before its TYPE: " + line
        assert seen_families[-1] == family, "family interleaved: " + line
        assert VALUE.match(value), "bad value: " + line
        key = (name, frozenset(parse_labels(labels, line).items()))
        assert key not in series, "duplicate series: " + line
        series[key] = float(value)
    return series, types


def metric(series, name, **labels):
    """Sum of the series of name whose labels include labels."""
    total = 0.0
    found = False
    for (n, ls), v in series.items():
        if n == name and set(labels.items()) <= set(ls):
            total += v
            found = True
    assert found, "no series %s%r" % (name, labels)
    return total


# --- the daemon and an HTTP client ---------------------------------------

class AdminDaemon(Daemon):
    def __init__(self, extra=(), token=TOKEN, https=None):
        self.admin_port = free_port()
        args = ["--relay-ip", "127.0.0.1", "--realm", "test.local",
                "--user", "%s:%s" % (USER, PASSWORD), "--user", "bob:builder",
                "--allow-loopback-peers", "--threads", "2",
                "--min-port", "61000", "--max-port", "62999",
                "--node-id", NODE,
                "--admin-listen", "127.0.0.1:%d" % self.admin_port]
        if token:
            args += ["--admin-token", token]
        if https:
            args += ["--admin-cert", https[0], "--admin-pkey", https[1]]
        self.scheme = "https" if https else "http"
        self.ctx = None
        if https:
            self.ctx = ssl.create_default_context(cafile=https[0])
            self.ctx.check_hostname = False
        super().__init__(args + list(extra))

    def http(self, path, method="GET", token=TOKEN, headers=None, body=None):
        """(status, headers, body text); body: bytes, str or a JSON value."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        req = urllib.request.Request("%s://127.0.0.1:%d%s" % (self.scheme, self.admin_port, path),
                                     headers=h, method=method, data=body)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def wait_admin(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.http("/healthz", token=None)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("admin server not up:\n" + self.log())

    def metrics(self):
        status, headers, body = self.http("/metrics")
        assert status == 200, (status, body)
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
        return parse_metrics(body)[0]

    def json(self, path):
        status, _, body = self.http(path)
        assert status == 200, (status, body)
        return json.loads(body)


class AdminTest(unittest.TestCase):
    daemon_kwargs = {}

    def setUp(self):
        self.d = AdminDaemon(**self.daemon_kwargs)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.d.wait_admin()
        self.server = ("127.0.0.1", self.d.port)

    def client(self, user=USER, password=PASSWORD):
        c = TurnClient(self.server, user, password)
        self.addCleanup(c.close)
        return c

    def allocate(self, c):
        resp = c.allocate()
        self.assertEqual(resp[1], 2, "allocate failed: %r" % (error_code(resp[3]),))
        return c.relayed(resp)

    def peer(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        self.addCleanup(s.close)
        return s


class Metrics(AdminTest):
    # test_relayed_bytes_match_uclient: uclient picks channels in RFC
    # 5766's 0x4000-0x7FFF
    daemon_kwargs = {"extra": ["--rfc5766-channel-numbers"]}

    def test_format_and_allocation_counts(self):
        before = self.d.metrics()
        self.assertEqual(metric(before, "avedge_allocations_created_total"), 0)
        clients = [self.client() for _ in range(3)]
        for c in clients:
            self.allocate(c)
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_allocations", transport="udp"), 3)
        self.assertEqual(metric(m, "avedge_allocations", transport="udp", realm="test.local"), 3)
        self.assertEqual(metric(m, "avedge_allocations"), 3)
        self.assertEqual(metric(m, "avedge_allocations_created_total"), 3)
        self.assertEqual(metric(m, "avedge_responses_total", method="allocate", code="200"), 3)
        # each client: one 401 challenge, then the signed request
        self.assertEqual(metric(m, "avedge_responses_total", method="allocate", code="401"), 3)
        self.assertEqual(metric(m, "avedge_requests_total", method="allocate"), 6)
        self.assertEqual(metric(m, "avedge_relay_ports_in_use"), 3)
        self.assertEqual(metric(m, "avedge_relay_ports"), 2000)
        self.assertEqual(metric(m, "avedge_redis_up"), 0)
        self.assertEqual(metric(m, "avedge_build_info", version="0.1.0"), 1)
        self.assertEqual(len([k for k in m if k[0] == "avedge_worker_loop_lag_seconds"]), 2)
        for (name, labels), _ in m.items():
            keys = {k for k, _ in labels}
            self.assertFalse(keys & {"user", "username", "client", "id", "allocation"}, name)
        # a refresh to 0 ends one, counted by reason
        resp = clients[0].transact(REFRESH, [__import__("turnclient").attr(
            0x000D, (0).to_bytes(4, "big"))])
        self.assertEqual(resp[1], 2)
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_allocations"), 2)
        self.assertEqual(metric(m, "avedge_allocations_deleted_total", reason="refresh"), 1)

    def test_auth_failure_counted_by_reason(self):
        c = self.client(password="not-the-password")
        resp = c.allocate()
        self.assertEqual(error_code(resp[3]), 401)
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_auth_failures_total", reason="bad_integrity"), 1)

    @unittest.skipUnless(have("turnutils_uclient") and have("turnutils_peer"),
                         "coturn's client tools are not installed")
    def test_relayed_bytes_match_uclient(self):
        peer_port = free_port()
        peer = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(peer_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (peer.terminate(), peer.wait(10)))
        n, length = 40, 200
        out = subprocess.run(["turnutils_uclient", "-p", str(self.d.port), "-e", "127.0.0.1",
                              "-r", str(peer_port), "-u", USER, "-w", PASSWORD, "-m", "1",
                              "-n", str(n), "-l", str(length), "-z", "10", "127.0.0.1"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout[-2000:] + out.stderr[-2000:])
        sent = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out.stdout + out.stderr)
        self.assertTrue(sent)
        # uclient runs its -m clients in pairs: n messages from each
        tx, rx = int(sent[-1][0]), int(sent[-1][1])
        self.assertEqual(tx % n, 0)
        self.assertGreaterEqual(tx, n)
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_relayed_bytes_total", direction="to_peer"), tx * length)
        self.assertEqual(metric(m, "avedge_relayed_packets_total", direction="to_peer"), tx)
        self.assertEqual(metric(m, "avedge_relayed_bytes_total", direction="to_client"),
                         rx * length)
        self.assertEqual(metric(m, "avedge_relayed_packets_total", direction="to_client"), rx)
        stats = self.d.json("/api/stats")
        self.assertEqual(stats["relayed"]["to_peer"]["bytes"], tx * length)


class Health(AdminTest):
    def test_healthz_readyz_and_drain(self):
        self.assertEqual(self.d.http("/healthz", token=None)[0], 200)
        self.assertEqual(self.d.http("/readyz", token=None)[0], 200)
        # an allocation from before the drain, with a permission for a peer
        old = self.client()
        self.allocate(old)
        peer = self.peer()
        pip, pport = peer.getsockname()
        self.assertEqual(old.create_permission(pip)[1], 2)

        status, _, body = self.d.http("/api/drain", method="POST")
        self.assertEqual(status, 204, body)
        self.assertEqual(self.d.http("/readyz", token=None)[0], 503)
        self.assertTrue(self.d.json("/api/stats")["draining"])
        resp = self.client().allocate()
        self.assertEqual(error_code(resp[3]), 508)
        # the old allocation still relays both ways
        old.send_indication(pip, pport, b"during drain")
        data, relay_addr = peer.recvfrom(2048)
        self.assertEqual(data, b"during drain")
        peer.sendto(b"back", relay_addr)
        self.assertIn(b"back", old.recv())
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_allocations_rejected_total", reason="draining"), 1)
        self.assertEqual(metric(m, "avedge_draining"), 1)

        self.assertEqual(self.d.http("/api/undrain", method="POST")[0], 204)
        self.assertEqual(self.d.http("/readyz", token=None)[0], 200)
        self.allocate(self.client())

    def test_signals_drain_and_undrain(self):
        self.d.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while self.d.http("/readyz", token=None)[0] != 503 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.d.http("/readyz", token=None)[0], 503)
        self.assertEqual(error_code(self.client().allocate()[3]), 508)
        self.d.proc.send_signal(signal.SIGUSR2)
        deadline = time.time() + 5
        while self.d.http("/readyz", token=None)[0] != 200 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.d.http("/readyz", token=None)[0], 200)
        self.allocate(self.client())
        self.assertIsNone(self.d.proc.poll(), "drain must never stop the process")
        self.assertIn("SIGUSR1", self.d.log())

    def test_method_and_path_errors(self):
        self.assertEqual(self.d.http("/api/drain")[0], 405)
        self.assertEqual(self.d.http("/metrics", method="POST")[0], 405)
        status, _, body = self.d.http("/no/<script>such")
        self.assertEqual(status, 404)
        self.assertNotIn("<script>", body)


class Allocations(AdminTest):
    def test_list_show_filter_kick(self):
        a = self.client()
        relay = self.allocate(a)
        b = self.client("bob", "builder")
        self.allocate(b)
        peer = self.peer()
        pip, pport = peer.getsockname()
        self.assertEqual(a.create_permission(pip)[1], 2)
        a.send_indication(pip, pport, b"x" * 100)
        peer.recvfrom(2048)

        listing = self.d.json("/api/allocations")
        self.assertEqual(listing["node"], NODE)
        self.assertEqual(listing["total"], 2)
        ids = [x["id"] for x in listing["allocations"]]
        self.assertEqual(len(set(ids)), 2)
        for i in ids:
            self.assertRegex(i, r"^%s-\d+-\d+$" % NODE)
        mine = self.d.json("/api/allocations?user=alice")
        self.assertEqual(mine["total"], 1)
        item = mine["allocations"][0]
        self.assertEqual(item["user"], "alice")
        self.assertEqual(item["realm"], "test.local")
        self.assertEqual(item["transport"], "udp")
        self.assertEqual(item["relay"], ["%s:%d" % relay])
        self.assertEqual(item["client"], "%s:%d" % a.sock.getsockname())
        self.assertEqual(item["to_peer"], {"packets": 1, "bytes": 100})
        self.assertEqual(self.d.json("/api/allocations?peer=" + pip)["total"], 1)
        self.assertEqual(self.d.json("/api/allocations?realm=other")["total"], 0)
        page = self.d.json("/api/allocations?offset=1&limit=1")
        self.assertEqual((page["total"], len(page["allocations"])), (2, 1))
        self.assertEqual(page["allocations"][0]["id"], ids[1])
        status, _, body = self.d.http("/api/allocations?user=%3Cscript%3E%22")
        self.assertEqual(status, 200)
        self.assertNotIn("<script>", body)
        self.assertEqual(self.d.http("/api/allocations?limit=0")[0], 400)
        self.assertEqual(self.d.http("/api/allocations?peer=nope")[0], 400)

        detail = self.d.json("/api/allocations/" + item["id"])
        self.assertEqual(detail["id"], item["id"])
        self.assertEqual(len(detail["permissions"]), 1)
        self.assertEqual(detail["permissions"][0]["peer"], pip)
        self.assertEqual(detail["permissions"][0]["to_peer"], {"packets": 1, "bytes": 100})
        self.assertEqual(detail["channels"], [])

        status, _, _ = self.d.http("/api/allocations/" + item["id"], method="DELETE")
        self.assertEqual(status, 204)
        resp = a.transact(REFRESH, [])
        self.assertEqual(error_code(resp[3]), 437)
        self.assertEqual(self.d.http("/api/allocations/" + item["id"])[0], 404)
        self.assertEqual(self.d.http("/api/allocations/" + item["id"], method="DELETE")[0], 404)
        self.assertEqual(self.d.http("/api/allocations/other-0-1")[0], 404)
        self.assertEqual(self.d.http("/api/allocations/%s-9-1" % NODE)[0], 404)
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_allocations_deleted_total", reason="kicked"), 1)
        self.assertEqual(metric(m, "avedge_allocations"), 1)
        self.assertIn("kicked", self.d.log())

    def test_stats(self):
        self.allocate(self.client())
        st = self.d.json("/api/stats")
        self.assertEqual(st["node"], NODE)
        self.assertEqual(st["allocations"], 1)
        self.assertEqual(st["allocations_by_transport"]["udp"], 1)
        self.assertEqual(st["workers"], 2)
        self.assertFalse(st["draining"])
        self.assertTrue(st["ready"])
        self.assertEqual(st["relay_ports"]["total"], 2000)
        self.assertEqual(st["redis"], "not configured")


class Access(AdminTest):
    def test_tokens(self):
        for path in ("/metrics", "/api/stats", "/api/allocations"):
            self.assertEqual(self.d.http(path, token=None)[0], 401, path)
            status, headers, body = self.d.http(path, token="wrong-token-wrong-token-00")
            self.assertEqual(status, 401, path)
            self.assertIn("Bearer", headers["WWW-Authenticate"])
            self.assertNotIn("wrong-token", body)
            # the right token, but in the query string
            self.assertEqual(self.d.http(path + "?token=" + TOKEN, token=None)[0], 401)
            self.assertEqual(self.d.http(path + "?access_token=" + TOKEN)[0], 401)
            self.assertEqual(self.d.http(path, token=TOKEN[:-1])[0], 401)
            self.assertEqual(self.d.http(path)[0], 200, path)
        self.assertEqual(self.d.http("/api/drain", method="POST", token=None)[0], 401)
        self.assertEqual(self.d.http("/healthz", token=None)[0], 200)
        self.assertEqual(self.d.http("/readyz", token=None)[0], 200)
        m = self.d.metrics()
        self.assertEqual(metric(m, "avedge_admin_unauthorized_total"), 3 * 5 + 1)


class TokenReload(unittest.TestCase):
    def test_sighup_rotates_token_file(self):
        tmp = tempfile.mkdtemp(prefix="avedge-admintok-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "token")
        with open(path, "w") as f:
            f.write(TOKEN + "\n")
        d = AdminDaemon(["--admin-token-file", path], token=None)
        self.addCleanup(d.cleanup)
        d.start()
        d.wait_admin()
        self.assertEqual(d.http("/api/stats")[0], 200)
        new = "rotated-admin-token-987654321"
        with open(path, "w") as f:
            f.write(new + "\n")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while d.http("/api/stats", token=new)[0] != 200 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(d.http("/api/stats", token=new)[0], 200)
        self.assertEqual(d.http("/api/stats")[0], 401)  # the old one is gone
        # a token file that no longer loads: rejected, the new token stays
        with open(path, "w") as f:
            f.write("short\n")
        n = d.log().count("admin settings rejected")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while d.log().count("admin settings rejected") == n and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("admin settings rejected", d.log())
        self.assertEqual(d.http("/api/stats", token=new)[0], 200)


class NoToken(AdminTest):
    daemon_kwargs = {"token": None}

    def test_api_forbidden_without_token(self):
        self.assertEqual(self.d.http("/healthz", token=None)[0], 200)
        for path in ("/metrics", "/api/stats", "/api/allocations"):
            self.assertEqual(self.d.http(path, token=None)[0], 403, path)
            self.assertEqual(self.d.http(path, token="anything-anything-1")[0], 403, path)
        self.assertRegex(self.d.log(), r"no admin-token.*403")


CFG_SECRET = "config-rest-secret-1"


def rest_credentials(secret, ident="webuser", ttl=600):
    user = "%d:%s" % (int(time.time()) + ttl, ident)
    pw = base64.b64encode(hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest())
    return user, pw.decode()


class Credentials(AdminTest):
    """/api/users and /api/secrets without Redis: held in process, applied
    to every worker before the answer, write-only secrets, fixed errors."""
    daemon_kwargs = {"extra": ["--static-auth-secret", CFG_SECRET]}

    def call(self, method, path, body=None, token=TOKEN):
        status, _, text = self.d.http(path, method=method, body=body, token=token)
        return status, text

    def try_allocate(self, user, password):
        c = self.client(user, password)
        return c.allocate()

    def every_get(self):
        """Every GET endpoint's text, for leak checks."""
        return "".join(self.d.http(p)[2] for p in
                       ("/api/users", "/api/secrets", "/api/stats", "/metrics",
                        "/api/allocations", "/api/history"))

    def test_user_added_allocates_then_deleted_401(self):
        status, text = self.call("POST", "/api/users",
                                 {"name": "carol", "password": "carols-pw-1"})
        self.assertEqual(status, 201, text)
        answer = json.loads(text)
        self.assertEqual((answer["name"], answer["source"], answer["persistent"]),
                         ("carol", "api", False))
        self.assertIn("lost on restart", answer["note"])
        self.allocate(self.client("carol", "carols-pw-1"))   # no wait: applied
        users = self.d.json("/api/users")
        self.assertEqual(users["store"], "process")
        self.assertEqual({(u["name"], u["source"]) for u in users["users"]},
                         {("alice", "config"), ("bob", "config"), ("carol", "api")})
        self.assertNotIn("carols-pw-1", self.every_get())
        self.assertNotIn("carols-pw-1", self.d.log())
        self.assertIn("user carol set", self.d.log())
        # a second POST replaces the password
        self.assertEqual(self.call("POST", "/api/users",
                                   {"name": "carol", "password": "carols-pw-2"})[0], 201)
        self.assertEqual(error_code(self.try_allocate("carol", "carols-pw-1")[3]), 401)
        self.allocate(self.client("carol", "carols-pw-2"))
        self.assertEqual(self.call("DELETE", "/api/users/carol")[0], 204)
        self.assertEqual(error_code(self.try_allocate("carol", "carols-pw-2")[3]), 401)
        self.assertEqual(self.call("DELETE", "/api/users/carol")[0], 404)
        self.assertNotIn("carol", [u["name"] for u in self.d.json("/api/users")["users"]])
        series = self.d.metrics()
        self.assertEqual(metric(series, "avedge_admin_credential_changes_total",
                                kind="user_add"), 2)
        self.assertEqual(metric(series, "avedge_admin_credential_changes_total",
                                kind="user_delete"), 1)

    def test_user_with_md5_key(self):
        key = hashlib.md5(b"dave:test.local:daves-pw").hexdigest()
        status, text = self.call("POST", "/api/users", {"name": "dave", "key": key})
        self.assertEqual(status, 201, text)
        self.allocate(self.client("dave", "daves-pw"))
        self.assertNotIn(key, self.every_get())

    def test_api_user_survives_sighup(self):
        self.assertEqual(self.call("POST", "/api/users",
                                   {"name": "erin", "password": "erins-pw"})[0], 201)
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "SIGHUP: " not in self.d.log() or "REST secrets loaded" not in self.d.log():
            self.assertLess(time.time(), deadline, self.d.log())
            time.sleep(0.05)
        self.allocate(self.client("erin", "erins-pw"))
        self.allocate(self.client())  # and the configuration's users

    def test_secret_added_allocates_then_deleted_refused(self):
        secret = "api-rest-secret-XYZ"
        user, pw = rest_credentials(secret)
        self.assertEqual(error_code(self.try_allocate(user, pw)[3]), 401)
        status, text = self.call("POST", "/api/secrets", {"secret": secret})
        self.assertEqual(status, 201, text)
        self.assertNotIn(secret, text)
        self.assertFalse(json.loads(text)["persistent"])
        self.allocate(self.client(user, pw))
        counts = self.d.json("/api/secrets")
        self.assertEqual((counts["count"], counts["sources"]),
                         (2, {"config": 1, "api": 1, "redis": 0}))
        everything = self.every_get() + self.d.log()
        self.assertNotIn(secret, everything)
        self.assertNotIn(CFG_SECRET, everything)
        status, _ = self.call("DELETE", "/api/secrets", {"secret": secret})
        self.assertEqual(status, 204)
        user, pw = rest_credentials(secret, "other")
        self.assertEqual(error_code(self.try_allocate(user, pw)[3]), 401)
        self.assertEqual(self.call("DELETE", "/api/secrets", {"secret": secret})[0], 404)
        # the configuration's secret keeps working
        self.allocate(self.client(*rest_credentials(CFG_SECRET)))
        series = self.d.metrics()
        self.assertEqual(metric(series, "avedge_admin_credential_changes_total",
                                kind="secret_add"), 1)
        self.assertEqual(metric(series, "avedge_admin_credential_changes_total",
                                kind="secret_delete"), 1)

    def test_configuration_credentials_409(self):
        for method, path, body in (
                ("POST", "/api/users", {"name": "alice", "password": "other-pw"}),
                ("DELETE", "/api/users/alice", None),
                ("POST", "/api/secrets", {"secret": CFG_SECRET}),
                ("DELETE", "/api/secrets", {"secret": CFG_SECRET})):
            status, text = self.call(method, path, body)
            self.assertEqual(status, 409, (method, path, text))
            self.assertNotIn(CFG_SECRET, text)
        self.allocate(self.client())  # alice unchanged

    def test_bad_input_400_without_reflection(self):
        mark = "<xss>"
        bodies = [
            b"", b"not json <xss>", b"[\"<xss>\"]", b"{\"name\":\"<xss>\"",
            {"name": mark + ":x", "password": "pw"},
            {"name": "", "password": "pw"},
            {"name": "a" * 513, "password": "pw"},
            {"name": "sp ace<xss>", "password": "pw"},
            {"name": "\u00e9<xss>", "password": "pw"},
            {"name": mark},
            {"name": mark, "password": "pw", "key": "0" * 32},
            {"name": mark, "password": ""},
            {"name": mark, "password": " leading<xss>"},
            {"name": mark, "password": "tab\t<xss>"},
            {"name": mark, "key": "z" * 32},
            {"name": mark, "key": "0" * 31},
            {"name": mark, "password": "pw", "extra": "<xss>"},
            {"name": mark, "password": 5},
            {"name": mark, "password": "pw", "name2": "x"},
            '{"name":"<xss>","name":"x","password":"pw"}',
        ]
        for body in bodies:
            status, text = self.call("POST", "/api/users", body)
            self.assertEqual(status, 400, (body, text))
            self.assertNotIn("xss", text)
            self.assertIn("error", json.loads(text))
        for body in ({"secret": ""}, {"secret": "x" * 257}, {"secret": "bad\n<xss>"},
                     {"secret": mark, "name": "x"}, {"password": mark}, b"<xss>"):
            for method in ("POST", "DELETE"):
                status, text = self.call(method, "/api/secrets", body)
                self.assertEqual(status, 400, (method, body, text))
                self.assertNotIn("xss", text)
        status, text = self.call("DELETE", "/api/users/%3Cxss%3E%3Ax")
        self.assertEqual(status, 400)
        self.assertNotIn("xss", text)
        self.assertEqual(self.call("DELETE", "/api/users/a%00b")[0], 400)
        self.assertIn(self.call("PUT", "/api/users")[0], (405, 501))
        self.assertEqual(self.call("GET", "/api/users/alice")[0], 405)
        self.assertEqual([u["source"] for u in self.d.json("/api/users")["users"]],
                         ["config", "config"])
        self.assertEqual(self.d.json("/api/secrets")["count"], 1)

    def test_token_required(self):
        body = {"name": "mallory", "password": "pw"}
        self.assertEqual(self.call("POST", "/api/users", body, token=None)[0], 401)
        self.assertEqual(self.call("POST", "/api/users", body, token="wrong-" + TOKEN)[0], 401)
        self.assertEqual(self.call("POST", "/api/users?token=" + TOKEN, body)[0], 401)
        self.assertEqual(self.call("POST", "/api/secrets", {"secret": "s"}, token=None)[0], 401)
        self.assertEqual(self.call("DELETE", "/api/users/alice", token=None)[0], 401)
        self.assertEqual(self.call("GET", "/api/users", token=None)[0], 401)
        self.assertEqual(self.call("GET", "/api/secrets", token=None)[0], 401)
        self.assertNotIn("mallory", [u["name"] for u in self.d.json("/api/users")["users"]])


def make_cert(directory):
    cert, key = os.path.join(directory, "admin.crt"), os.path.join(directory, "admin.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


@unittest.skipUnless(have("openssl"), "openssl CLI not installed")
class Https(unittest.TestCase):
    def test_https_admin(self):
        import tempfile
        import shutil
        tmp = tempfile.mkdtemp(prefix="avedge-admin-tls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        d = AdminDaemon(https=make_cert(tmp))
        self.addCleanup(d.cleanup)
        d.start()
        d.wait_admin()
        self.assertEqual(d.http("/healthz", token=None)[0], 200)
        self.assertEqual(d.http("/api/stats", token=None)[0], 401)
        self.assertEqual(d.json("/api/stats")["node"], NODE)
        parse_metrics(d.http("/metrics")[2])
        # plain HTTP to the TLS port gets no answer
        with socket.create_connection(("127.0.0.1", d.admin_port), timeout=3) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            try:
                data = s.recv(100)
            except (ConnectionError, socket.timeout):
                data = b""
            self.assertNotIn(b"200 OK", data)


class BindFailure(unittest.TestCase):
    def test_admin_port_taken_exits_nonzero(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            d = Daemon(["--relay-ip", "127.0.0.1", "--admin-listen", "127.0.0.1:%d" % port,
                        "--admin-token", TOKEN])
            self.addCleanup(d.cleanup)
            d.start(wait_ready=False)
            rc = d.proc.wait(30)
            self.assertNotEqual(rc, 0)
            self.assertIn("127.0.0.1:%d" % port, d.log())


class Parser(unittest.TestCase):
    """The validator itself rejects what it should."""

    def test_rejects(self):
        bad = [
            "avedge_x 1\n",  # no TYPE
            "# TYPE avedge_x counter\navedge_x 1\n",  # counter without _total
            "# TYPE avedge_x gauge\navedge_x 1\navedge_x 2\n",  # duplicate
            '# TYPE avedge_x gauge\navedge_x{a="b\\q"} 1\n',  # bad escape
            "# TYPE avedge_x gauge\navedge_x{a=\"b\"} one\n",  # bad value
            "# TYPE avedge_x gauge\n# TYPE avedge_x gauge\n",  # TYPE twice
            "# TYPE avedge_x gauge\navedge_x 1",  # no final newline
        ]
        for text in bad:
            with self.assertRaises(AssertionError, msg=text):
                parse_metrics(text)
        s, _ = parse_metrics('# TYPE avedge_x gauge\navedge_x{a="q\\"\\\\\\n"} 1\n')
        self.assertEqual(list(s.values()), [1.0])


if __name__ == "__main__":
    unittest.main()
