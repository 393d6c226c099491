"""WebRTC interop: headless Chromium (Debian's chromium, driven by npm
playwright-core) connects two RTCPeerConnections to each other through the
TURN server with iceTransportPolicy 'relay', sends 1 MiB over a data channel
and checks it arrived intact over a relay/relay candidate pair; with a wrong
password it must gather no relay candidate and see a 401.

Chromium and the server run together in a fresh network namespace with only
`lo` (tests/browser/in-netns.sh), so ports are fixed and nothing else on the
machine is visible to ICE.

  WEBRTC_SERVER=coturn   run against Debian's turnserver instead of avedge,
                         to validate the harness against a known-good server
  CHROMIUM=/path         another Chromium binary (default /usr/bin/chromium)
  WEBRTC_VERBOSE=1       print each case's JSON result
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import tempfile
import sys
import time
import unittest

# Also runnable as `python3 -m unittest tests/integration/test_webrtc.py`.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AVEDGE, ROOT, have

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
LAUNCHER = os.path.join(BROWSER_DIR, "in-netns.sh")
SCRIPT = os.path.join(BROWSER_DIR, "webrtc-relay.js")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SERVER = os.environ.get("WEBRTC_SERVER", "avedge")
VERBOSE = os.environ.get("WEBRTC_VERBOSE") == "1"

# Inside the namespace every port is free: fixed numbers, no races.
PORT = 3478
TLS_PORT = 5349
MIN_PORT, MAX_PORT = 49152, 49999
REALM = "test.local"
USER, PASSWORD = "alice", "secret"
SECRET = "webrtc-rest-secret"

NODE_TIMEOUT = 60      # the node script's own overall limit
CASE_TIMEOUT = 120     # hard limit on one launcher run, seen from here
NPM_TIMEOUT = 300


def rest_credentials(secret=SECRET, user="webrtc", ttl=3600):
    username = "%d:%s" % (int(time.time()) + ttl, user)
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


def netns_usable():
    if not have("unshare"):
        return False
    cmd = ["unshare", "--net", "true"] if os.geteuid() == 0 else \
        ["unshare", "--map-root-user", "--net", "true"]
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def skip_reason():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return "chromium is not installed (%s; apt-get install chromium)" % CHROMIUM
    if not have("node"):
        return "node is not installed"
    if not have("unshare"):
        return "unshare (util-linux) is not installed"
    if not (have("ip") and have("ss")):
        return "iproute2 (ip, ss) is not installed"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")) \
            and not have("npm"):
        return "npm is not installed and tests/browser/node_modules is missing"
    if not netns_usable():
        return "cannot create a network namespace (needs root or user namespaces)"
    if SERVER == "coturn" and not have("turnserver"):
        return "WEBRTC_SERVER=coturn but turnserver is not installed"
    return None


SKIP = skip_reason()


def setUpModule():
    if SKIP:
        return
    if os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return
    out = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError("npm ci in tests/browser failed:\n" +
                           (out.stdout + out.stderr)[-3000:])


def make_cert(tmp):
    """(cert, key, SPKI sha-256 in base64) of a self-signed certificate,
    for Chromium's --ignore-certificate-errors-spki-list."""
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", cert],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"],
                         input=pub, check=True, capture_output=True).stdout
    return cert, key, base64.b64encode(hashlib.sha256(der).digest()).decode()


def server_command(tmp, rest, tls=None):
    if SERVER == "coturn":
        cmd = ["turnserver", "-n", "--listening-ip", "127.0.0.1",
               "-p", str(PORT), "--relay-ip", "127.0.0.1",
               "--min-port", str(MIN_PORT), "--max-port", str(MAX_PORT),
               "--realm", REALM, "--user", "%s:%s" % (USER, PASSWORD),
               "--lt-cred-mech", "--allow-loopback-peers",
               "--no-cli", "--no-tls", "--no-dtls",
               "--log-file", "stdout",
               "--pidfile", os.path.join(tmp, "turnserver.pid"),
               "--userdb", os.path.join(tmp, "turndb")]
        if rest:
            cmd += ["--use-auth-secret", "--static-auth-secret", SECRET]
        if tls:
            cmd.remove("--no-tls")
            cmd += ["--cert", tls[0], "--pkey", tls[1],
                    "--tls-listening-port", str(TLS_PORT)]
        return cmd
    if SERVER != "avedge":
        raise ValueError("WEBRTC_SERVER must be avedge or coturn, not %r" % SERVER)
    return [AVEDGE, "--listening-ip", "127.0.0.1",
            "--listening-port", str(PORT), "--relay-ip", "127.0.0.1",
            "--min-port", str(MIN_PORT), "--max-port", str(MAX_PORT),
            "--realm", REALM, "--user", "%s:%s" % (USER, PASSWORD),
            "--static-auth-secret", SECRET, "--allow-loopback-peers",
            "--threads", "2", "--lock-dir", tmp] + \
        (["--cert", tls[0], "--pkey", tls[1],
          "--tls-listening-port", str(TLS_PORT)] if tls else [])


@unittest.skipIf(SKIP, SKIP or "")
class WebRTCRelay(unittest.TestCase):
    """One server and one Chromium per case, together in their own netns."""

    def run_case(self, transport, username, credential, mode="transfer",
                 rest=False, extra=(), tls=False):
        tmp = tempfile.mkdtemp(prefix="avedge-webrtc-")
        self.addCleanup(shutil.rmtree, tmp, True)
        server_log = os.path.join(tmp, "server.log")
        url = "turn:127.0.0.1:%d?transport=%s" % (PORT, transport)
        certs = None
        if tls:
            # turns: is TLS over TCP; Chromium trusts the self-signed
            # certificate by its SPKI hash.
            certs = make_cert(tmp)
            url = "turns:127.0.0.1:%d?transport=tcp" % TLS_PORT
            extra = list(extra) + ["--spki-list", certs[2]]
        cmd = ["bash", LAUNCHER, "--port", str(PORT),
               "--server-log", server_log, "--"] + \
            server_command(tmp, rest, certs) + \
            ["--then", "node", SCRIPT, "--turn-url", url,
             "--username", username, "--credential", credential,
             "--mode", mode, "--timeout", str(NODE_TIMEOUT)] + list(extra)
        env = dict(os.environ, CHROMIUM=CHROMIUM, TMPDIR=tmp)
        t0 = time.time()
        # Own process group: on a hard timeout the whole group (launcher,
        # server, node, Chromium) goes, by that group's id.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env,
                                cwd=BROWSER_DIR, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=CASE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            stderr += "\n[test] killed after %d s" % CASE_TIMEOUT
        elapsed = time.time() - t0
        result = None
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                try:
                    result = json.loads(line)
                    break
                except ValueError:
                    pass
        try:
            with open(server_log, errors="replace") as f:
                slog = f.read()
        except OSError:
            slog = ""
        context = "\n--- exit %s after %.1f s\n--- result\n%s\n--- stderr\n%s\n--- %s log (tail)\n%s" % (
            proc.returncode, elapsed, json.dumps(result, indent=1)[-4000:],
            stderr[-3000:], SERVER, slog[-3000:])
        if VERBOSE:
            print("\n[%s %.1f s] %s" % (self.id().split(".")[-1], elapsed,
                                        json.dumps(result)))
        return proc.returncode, result, context

    def assert_transfer(self, transport, username, credential, rest=False,
                        tls=False):
        rc, res, ctx = self.run_case(transport, username, credential,
                                     rest=rest, tls=tls)
        self.assertIsNotNone(res, "no JSON result" + ctx)
        self.assertTrue(res.get("ok"), "%s%s" % (res.get("reason"), ctx))
        self.assertEqual(rc, 0, ctx)
        # The node script checks these; restate the essentials here.
        self.assertEqual(res["received"], 1 << 20, ctx)
        self.assertEqual(res["sentHash"], res["recvHash"], ctx)
        for side in ("a", "b"):
            pair = res["pairs"][side]
            self.assertEqual((pair["local"]["type"], pair["remote"]["type"]),
                             ("relay", "relay"), ctx)
            self.assertEqual(pair["local"]["relayProtocol"],
                             "tls" if tls else transport, ctx)

    def test_udp_long_term(self):
        self.assert_transfer("udp", USER, PASSWORD)

    def test_udp_rest(self):
        self.assert_transfer("udp", *rest_credentials(), rest=True)

    def test_tcp_long_term(self):
        self.assert_transfer("tcp", USER, PASSWORD)

    def test_turns_long_term(self):
        self.assert_transfer("tcp", USER, PASSWORD, tls=True)

    def test_wrong_password(self):
        rc, res, ctx = self.run_case(
            "udp", USER, "not-" + PASSWORD, mode="gather",
            extra=["--expect-relay", "none", "--expect-error", "401"])
        self.assertIsNotNone(res, "no JSON result" + ctx)
        self.assertTrue(res.get("ok"), "%s%s" % (res.get("reason"), ctx))
        self.assertEqual(rc, 0, ctx)
        self.assertTrue(res["gatheringComplete"], ctx)
        self.assertEqual(res["relayCandidates"], 0, ctx)
        self.assertIn(401, [e["code"] for e in res["errors"]], ctx)


if __name__ == "__main__":
    unittest.main()
