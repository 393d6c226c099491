"""Chromium follows a draining node's 300 Try Alternate (issue 5).

redis-server and two avedge nodes run with headless Chromium in one fresh
network namespace (tests/browser/in-netns.sh). Both nodes listen on
10.99.0.1, an address this test puts on the namespace's `lo`, node A on
port 3478 and node B on 3479, and relay from disjoint port ranges (the
relayed port says which node allocated). Why not 127.0.0.1 / 127.0.0.2:
Chromium refuses a redirect to a loopback address (webrtc
TurnPort::SetAlternateServer, crbug.com/649118); and why one IP: Chromium
sends to both nodes from one socket, and on a lo with two addresses the
source address would follow the destination, while our nonces are bound
to the client's address (as with real clients, who reach every node from
the same public address). Node A is drained (SIGUSR1) once its registry
read picked B as the alternate; Chromium is given A's turn: URL only,
relay-only, and must open a data channel whose selected pairs are relayed
by B; A must have answered Allocates with 300 and allocated nothing.
Over TCP and TLS Chromium does not get there (see the tests below).

  CHROMIUM=/path     another Chromium binary (default /usr/bin/chromium)
  WEBRTC_VERBOSE=1   print each case's JSON result
"""
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AVEDGE, have
from test_webrtc import (BROWSER_DIR, CHROMIUM, LAUNCHER, SCRIPT, SKIP,
                         make_cert, setUpModule)  # noqa: F401 (npm ci)

VERBOSE = os.environ.get("WEBRTC_VERBOSE") == "1"
REALM = "cluster.test"
USER, PASSWORD = "alice", "secret"
TOKEN = "webrtc-cluster-admin-token-0123"
REDIS_PORT = 6379
NODE_IP = "10.99.0.1"                # on lo, not loopback (see above)
A_PORT, B_PORT = 3478, 3479
A_TLS, B_TLS = 5349, 5350           # a redirect must carry B's TLS port
A_RANGE, B_RANGE = (49152, 49499), (50000, 50499)
A_ADMIN, B_ADMIN = 8080, 8081
CASE_TIMEOUT = 150


def node_cmd(node_id, port, rng, tls_port, admin, tmp, certs):
    ip = NODE_IP
    cmd = [AVEDGE, "--listening-ip", ip, "--listening-port", str(port),
           "--relay-ip", ip, "--min-port", str(rng[0]),
           "--max-port", str(rng[1]), "--realm", REALM,
           "--user", "%s:%s" % (USER, PASSWORD), "--allow-loopback-peers",
           "--allowed-peer-ip", ip,
           "--threads", "2", "--lock-dir", os.path.join(tmp, node_id),
           "--redis", "redis://127.0.0.1:%d/0" % REDIS_PORT,
           "--node-id", node_id, "--node-ttl", "3",
           "--admin-listen", "%s:%d" % (ip, admin),
           "--admin-token", TOKEN] + (["--log-level", "debug"] if VERBOSE else [])
    if certs:
        cmd += ["--cert", certs[0], "--pkey", certs[1],
                "--tls-listening-port", str(tls_port)]
    return cmd


SERVER_SH = r"""
set -u
cd "$TMP"
ip addr add %(ip)s/32 dev lo || { echo "cannot add %(ip)s to lo"; exit 3; }
mkdir -p a b
redis-server --port %(redis_port)d --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$TMP" >redis.log 2>&1 &
rp=$!
for _ in $(seq 200); do
    [ "$(redis-cli -p %(redis_port)d ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
%(node_b)s >b.log 2>&1 &
bp=$!
%(node_a)s >a.log 2>&1 &
ap=$!
echo $ap >a.pid
stop() {
    kill -TERM $ap $bp 2>/dev/null
    wait $ap $bp
    kill -TERM $rp 2>/dev/null
    wait $rp
}
trap 'stop; exit 0' TERM INT
wait -n $ap $bp $rp
echo "a process of the cluster exited early"
stop
exit 1
"""

CLIENT_SH = r"""
set -u
cd "$TMP"
ok=""
for _ in $(seq 200); do
    if grep -q "alternate server for 300 Try Alternate: %(ip)s:%(b_port)d" a.log
    then ok=1; break; fi
    sleep 0.05
done
[ -n "$ok" ] || { echo "node a never chose node b as its alternate" >&2; exit 5; }
kill -USR1 "$(cat a.pid)"
for _ in $(seq 100); do grep -q "draining" a.log && break; sleep 0.05; done
%(node_script)s
rc=$?
python3 - <<'EOF'
import urllib.request
for node, port in (("a", %(a_admin)d), ("b", %(b_admin)d)):
    req = urllib.request.Request("http://%(ip)s:%%d/metrics" %% port,
                                 headers={"Authorization": "Bearer %(token)s"})
    with open(node + ".metrics", "w") as f:
        f.write(urllib.request.urlopen(req, timeout=5).read().decode())
EOF
exit $rc
"""


@unittest.skipIf(SKIP or not (have("redis-server") and have("redis-cli")),
                 SKIP or "needs redis-server")
class ChromiumFollowsDrain(unittest.TestCase):
    def run_case(self, url, tls=False):
        tmp = tempfile.mkdtemp(prefix="avedge-webrtc-cluster-")
        self.addCleanup(shutil.rmtree, tmp, True)
        certs = make_cert(tmp) if tls else None
        q = lambda cmd: " ".join(shlex.quote(c) for c in cmd)  # noqa: E731
        node_script = ["node", SCRIPT, "--turn-url", url, "--username", USER,
                       "--credential", PASSWORD, "--bytes", "262144",
                       "--timeout", "60"]
        if certs:
            node_script += ["--spki-list", certs[2]]
        subst = dict(ip=NODE_IP, b_port=B_PORT, redis_port=REDIS_PORT,
                     a_admin=A_ADMIN, b_admin=B_ADMIN, token=TOKEN,
                     node_a=q(node_cmd("a", A_PORT, A_RANGE, A_TLS, A_ADMIN,
                                       tmp, certs)),
                     node_b=q(node_cmd("b", B_PORT, B_RANGE, B_TLS, B_ADMIN,
                                       tmp, certs)),
                     node_script=q(node_script))
        with open(os.path.join(tmp, "server.sh"), "w") as f:
            f.write(SERVER_SH % subst)
        with open(os.path.join(tmp, "client.sh"), "w") as f:
            f.write(CLIENT_SH % subst)
        cmd = ["bash", LAUNCHER, "--port", str(A_PORT), "--server-log",
               os.path.join(tmp, "server.log"), "--",
               "bash", os.path.join(tmp, "server.sh"),
               "--then", "bash", os.path.join(tmp, "client.sh")]
        env = dict(os.environ, CHROMIUM=CHROMIUM, TMPDIR=tmp, TMP=tmp)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env,
                                cwd=BROWSER_DIR, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=CASE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            stderr += "\n[test] killed after %d s" % CASE_TIMEOUT
        result = None
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                try:
                    result = json.loads(line)
                    break
                except ValueError:
                    pass

        def read(name):
            try:
                with open(os.path.join(tmp, name), errors="replace") as f:
                    return f.read()
            except OSError:
                return ""
        logs = {n: read(n) for n in ("a.log", "b.log", "server.log",
                                     "a.metrics", "b.metrics")}
        ctx = "\n--- exit %s\n--- result\n%s\n--- stderr\n%s\n" % (
            proc.returncode, json.dumps(result, indent=1)[-4000:],
            stderr[-3000:])
        if VERBOSE:
            for n in ("a.metrics", "b.metrics"):
                ctx += "--- %s\n%s\n" % (n, "\n".join(
                    l for l in read(n).splitlines()
                    if ("responses_total" in l or "auth" in l) and
                    not l.endswith(" 0")))
        for n in ("server.log", "a.log", "b.log"):
            ctx += "--- %s (tail)\n%s\n" % (n, logs[n][-2500:])
        if VERBOSE:
            print("\n[%s] %s" % (self.id().split(".")[-1], json.dumps(result)))
        return proc.returncode, result, logs, ctx

    def assert_redirected(self, transport, tls=False):
        if tls:
            url = "turns:%s:%d?transport=tcp" % (NODE_IP, A_TLS)
        else:
            url = "turn:%s:%d?transport=%s" % (NODE_IP, A_PORT, transport)
        rc, res, logs, ctx = self.run_case(url, tls)
        self.assertIsNotNone(res, "no JSON result" + ctx)
        self.assertTrue(res.get("ok"), "%s%s" % (res.get("reason"), ctx))
        self.assertEqual(rc, 0, ctx)
        for side in ("a", "b"):
            local = res["pairs"][side]["local"]
            self.assertEqual(local["type"], "relay", ctx)
            self.assertEqual(local["address"], NODE_IP, ctx)
            self.assertTrue(B_RANGE[0] <= local["port"] <= B_RANGE[1], ctx)
            self.assertEqual(local["relayProtocol"], "tls" if tls else transport, ctx)
        # A redirected and allocated nothing; B did the allocating.
        redirects = [l for l in logs["a.metrics"].splitlines()
                     if l.startswith("avedge_responses_total{") and
                     'method="allocate"' in l and 'code="300"' in l]
        self.assertTrue(redirects and float(redirects[0].split()[-1]) >= 2,
                        "no 300 counted on node a:\n" + logs["a.metrics"] + ctx)
        self.assertIn("avedge_allocations_created_total 0",
                      logs["a.metrics"], ctx)

    def test_udp_follows_300(self):
        self.assert_redirected("udp")

    # Over TCP and TLS Chromium follows the 300 on a new connection (to
    # node B's TLS port for turns:) and sends B the NONCE node A gave it.
    # Nonces are bound to the client's IP, not its port (auth/nonce.c), so
    # B accepts it; with the port bound B answered 438 and Chromium, which
    # treats 438 on an Allocate as fatal, gave up.
    def test_tcp_follows_300(self):
        self.assert_redirected("tcp")

    def test_turns_follows_300_to_the_tls_port(self):
        self.assert_redirected("tcp", tls=True)


if __name__ == "__main__":
    unittest.main()
