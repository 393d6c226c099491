"""The admin dashboard in headless Chromium (Debian's chromium, driven by npm
playwright-core through tests/browser/dashboard.js): the static files are
served without a token and with a strict CSP, the page asks for the token,
shows a live allocation made here (and a hostile user name as plain text),
draws its charts from /api/history, lists the lossy RTP flow first among
the worst flows, sorts, kicks and drains with confirmation. The screenshot is kept as a test artifact:
$AVEDGE_BUILD/artifacts/dashboard.png (printed when the test runs).

  CHROMIUM=/path   another Chromium binary (default /usr/bin/chromium)
  DASHBOARD_VERBOSE=1   the page's console and the script's steps
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, ROOT, Daemon, free_port, have
from turnclient import TurnClient, error_code

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
SCRIPT = os.path.join(BROWSER_DIR, "dashboard.js")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VERBOSE = os.environ.get("DASHBOARD_VERBOSE") == "1"
ARTIFACT = os.path.join(BUILD, "artifacts", "dashboard.png")
TOKEN = "dashboard-test-token-0123456789"
USER, KICK_USER = "dash-alice", "dash-kickme"
XSS_USER = '<img/src=x/onerror=window.__pwned=1>'
NPM_TIMEOUT = 300
CASE_TIMEOUT = 150


def skip_reason():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return "chromium is not installed (%s; apt-get install chromium)" % CHROMIUM
    if not have("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")) \
            and not have("npm"):
        return "npm is not installed and tests/browser/node_modules is missing"
    return None


SKIP = skip_reason()


def setUpModule():
    if SKIP or os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return
    out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                         cwd=BROWSER_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError("npm ci in tests/browser failed:\n" + (out.stdout + out.stderr)[-3000:])


class DashboardNode(Daemon):
    def __init__(self):
        self.admin_port = free_port()
        super().__init__([
            "--relay-ip", "127.0.0.1", "--realm", "test.local",
            "--user", USER + ":pw1", "--user", KICK_USER + ":pw2",
            "--user", XSS_USER + ":pw3", "--allow-loopback-peers",
            "--threads", "2", "--min-port", "61000", "--max-port", "62999",
            "--node-id", "dash1", "--admin-token", TOKEN,
            "--admin-listen", "127.0.0.1:%d" % self.admin_port])
        self.base = "http://127.0.0.1:%d" % self.admin_port

    def get(self, path, token=TOKEN):
        req = urllib.request.Request(self.base + path, headers=(
            {"Authorization": "Bearer " + token} if token else {}))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def wait_admin(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.get("/healthz", token=None)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("admin server not up:\n" + self.log())


class DashboardTest(unittest.TestCase):
    def setUp(self):
        self.d = DashboardNode()
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.d.wait_admin()

    def client(self, user, password):
        c = TurnClient(("127.0.0.1", self.d.port), user, password)
        self.addCleanup(c.close)
        resp = c.allocate()
        self.assertEqual(resp[1], 2, "allocate %s: %r" % (user, error_code(resp[3])))
        return c


class StaticFiles(DashboardTest):
    def test_served_without_token_with_csp(self):
        for path, ctype in (("/", "text/html"), ("/index.html", "text/html"),
                            ("/dashboard.js", "text/javascript"),
                            ("/dashboard.css", "text/css")):
            status, headers, body = self.d.get(path, token=None)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["Content-Type"].startswith(ctype), headers["Content-Type"])
            self.assertIn("script-src 'self'", headers["Content-Security-Policy"])
            self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
            self.assertTrue(body)
        html = self.d.get("/", token=None)[2].decode()
        self.assertNotIn("http://", html.replace("http://www.w3.org", ""))
        self.assertNotIn("https://", html)
        # the API stays closed; other paths are not static files
        self.assertEqual(self.d.get("/api/stats", token=None)[0], 401)
        self.assertEqual(self.d.get("/dashboard.jsx", token=None)[0], 401)
        self.assertEqual(self.d.get("/dashboard.js?x", token=None)[0], 200)

    def test_history(self):
        status, _, body = self.d.get("/api/history")
        self.assertEqual(status, 200)
        h = json.loads(body)
        self.assertEqual(h["interval_s"], 10)
        self.assertIsInstance(h["samples"], list)
        self.assertEqual(self.d.get("/api/history", token=None)[0], 401)
        self.assertEqual(self.d.get("/api/history?since=soon")[0], 400)
        # one allocation and some traffic, then the first sample
        c = self.client(USER, "pw1")
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(peer.close)
        peer.bind(("127.0.0.1", 0))
        pip, pport = peer.getsockname()
        self.assertEqual(c.create_permission(pip)[1], 2)
        for _ in range(50):
            c.send_indication(pip, pport, b"x" * 1000)
        samples = wait_samples(self.d, lambda s: s["allocations"] >= 1, 25)
        s = samples[-1]
        for key in ("t", "allocations", "bps_in", "bps_out", "auth_failures"):
            self.assertIn(key, s)
        self.assertLessEqual(abs(s["t"] - time.time()), 30)
        total_in = sum(x["bps_in"] for x in samples) * 10 / 8
        self.assertAlmostEqual(total_in, 50 * 1000, delta=50 * 1000 * 0.2)
        later = json.loads(self.d.get("/api/history?since=%d" % s["t"])[2])
        self.assertEqual([x for x in later["samples"] if x["t"] <= s["t"]], [])


def wait_samples(d, pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = json.loads(d.get("/api/history")[2])
        if h["samples"] and pred(h["samples"][-1]):
            return h["samples"]
        time.sleep(0.5)
    raise AssertionError("no matching /api/history sample within %d s" % timeout)


@unittest.skipIf(SKIP, SKIP or "")
class Browser(DashboardTest):
    def test_dashboard(self):
        c = self.client(USER, "pw1")
        self.client(KICK_USER, "pw2")
        self.client(XSS_USER, "pw3")
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(peer.close)
        peer.bind(("127.0.0.1", 0))
        pip, pport = peer.getsockname()
        self.assertEqual(c.create_permission(pip)[1], 2)
        for _ in range(200):
            c.send_indication(pip, pport, b"m" * 1000)
        # an RTP stream (PCMU) with every 10th packet missing: the Loss
        # column shows it
        for seq in range(1, 201):
            if seq % 10:
                rtp = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234ABCD)
                c.send_indication(pip, pport, rtp + b"\xff" * 160)
        # the charts need one sample: the first comes 10 s after start
        wait_samples(self.d, lambda s: s["allocations"] >= 3, 25)
        # the worst flows table shows flows with RTP in the last 10 s:
        # the stream goes on (same gaps) while the browser looks
        stop = threading.Event()

        def more_rtp():
            seq = 201
            while not stop.wait(0.02):
                if seq % 10:
                    rtp = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, 0x1234ABCD)
                    c.send_indication(pip, pport, rtp + b"\xff" * 160)
                seq += 1
        sender = threading.Thread(target=more_rtp, daemon=True)
        sender.start()
        self.addCleanup(sender.join)
        self.addCleanup(stop.set)

        shot = os.path.join(self.d.tmp, "dashboard.png")
        cmd = ["node", SCRIPT, "--url", self.d.base + "/", "--token", TOKEN,
               "--expect-user", USER, "--xss-user", XSS_USER, "--kick-user", KICK_USER,
               "--loss-user", USER,
               "--screenshot", shot, "--chromium", CHROMIUM, "--timeout", "120"]
        if VERBOSE:
            cmd.append("--verbose")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=BROWSER_DIR, start_new_session=True,
                                env=dict(os.environ, HOME=self.d.tmp, TMPDIR=self.d.tmp))
        try:
            stdout, stderr = proc.communicate(timeout=CASE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        result = None
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                result = json.loads(line)
                break
        ctx = "\n--- exit %s\n--- result\n%s\n--- stderr\n%s\n--- avedge log\n%s" % (
            proc.returncode, json.dumps(result, indent=1), stderr[-3000:], self.d.log()[-2000:])
        if os.path.exists(shot):
            os.makedirs(os.path.dirname(ARTIFACT), exist_ok=True)
            shutil.copyfile(shot, ARTIFACT)
            sys.stderr.write("\n[dashboard screenshot: %s] " % ARTIFACT)
        self.assertIsNotNone(result, "no JSON result" + ctx)
        self.assertTrue(result.get("ok"), "%s%s" % (result.get("reason"), ctx))
        self.assertEqual(proc.returncode, 0, ctx)
        self.assertTrue(os.path.getsize(ARTIFACT) > 10000, ARTIFACT)
        # what the page did, seen from the API
        listing = json.loads(self.d.get("/api/allocations")[2])
        users = sorted(a["user"] for a in listing["allocations"])
        self.assertEqual(users, sorted([USER, XSS_USER]))
        self.assertEqual(self.d.get("/readyz", token=None)[0], 200)
        self.assertIn("kicked", self.d.log())


if __name__ == "__main__":
    unittest.main()
