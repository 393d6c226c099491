"""`./deploy/demo.sh --with-traffic` as a user runs it: in the background
(its own process group, as a terminal's foreground job), on free ports
(PORT, ADMIN_PORT). Its banner fits 80 columns and gives the dashboard URL
with the token, the /metrics curl line and the edgectl line, which work;
the dashboard (headless Chromium, tests/browser/demo.js) opens from that
URL without asking for the token and shows the MCU's and the 10 viewers'
allocations with a bitrate and RTP loss and jitter; the screenshot is
kept as $AVEDGE_BUILD/artifacts/demo-dashboard.png. Then SIGINT to the
group, as Ctrl-C: the demo exits, and nothing it started (avedge,
edge-sim) is left running, its ports free.

The demo builds and runs ./build (reusing its configuration): the test
runs when AVEDGE_BUILD is that tree.

  CHROMIUM=/path   another Chromium binary (default /usr/bin/chromium)
  DASHBOARD_VERBOSE=1   the page's console and the script's steps
"""
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_dashboard as dash  # noqa: E402  (the browser's prerequisites)
from harness import BUILD, ROOT, free_port  # noqa: E402

SCRIPT = os.path.join(dash.BROWSER_DIR, "demo.js")
ARTIFACT = os.path.join(BUILD, "artifacts", "demo-dashboard.png")
VIEWERS = 10
BANNER_TIMEOUT = 60  # the build is up to date: seconds only
BROWSER_TIMEOUT = 60
STOP_TIMEOUT = 10


def skip_reason():
    if os.path.realpath(BUILD) != os.path.realpath(os.path.join(ROOT, "build")):
        return "AVEDGE_BUILD is not ./build, the tree deploy/demo.sh builds and runs"
    if not os.path.isfile(os.path.join(ROOT, "build", "CMakeCache.txt")):
        return "./build is not configured"
    return dash.SKIP


SKIP = skip_reason()


def setUpModule():
    if not SKIP:
        dash.setUpModule()


def group_members(pgid):
    """PIDs of the live (not zombie) processes of process group pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d))
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def port_free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            if kind == socket.SOCK_STREAM:  # TIME_WAIT is free
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@unittest.skipIf(SKIP, SKIP or "")
class Demo(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="avedge-demo-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.port, self.admin_port = free_port(), free_port()
        while self.admin_port == self.port:
            self.admin_port = free_port()
        self.err = open(os.path.join(self.tmp, "stderr"), "w+")
        self.addCleanup(self.err.close)
        self.proc = subprocess.Popen(
            ["bash", "deploy/demo.sh", "--with-traffic"], cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.err,
            text=True, start_new_session=True,
            env=dict(os.environ, PORT=str(self.port), ADMIN_PORT=str(self.admin_port),
                     TMPDIR=self.tmp))
        self.addCleanup(self.kill_all)
        self.lines = queue.Queue()
        self.out = []
        self.reader = threading.Thread(target=self.read_stdout, daemon=True)
        self.reader.start()

    def read_stdout(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def kill_all(self):
        """Whatever happened, nothing of the demo outlives the test."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in group_members(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return
        self.reader.join(timeout=5)
        if not self.reader.is_alive():
            self.proc.stdout.close()

    def ctx(self):
        self.err.flush()
        self.err.seek(0)
        return "\n--- stdout\n%s\n--- stderr\n%s" % (
            "\n".join(self.out)[-3000:], self.err.read()[-3000:])

    def banner(self):
        """The banner's lines, from its first line to the last."""
        deadline = time.time() + BANNER_TIMEOUT
        start = None
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:
                break
            self.out.append(line)
            if start is None and re.match(r"  avedge \(pid \d+\)", line):
                start = len(self.out) - 1
            if start is not None and "Ctrl-C stops" in line:
                return self.out[start:]
        self.fail("no banner within %d s (exit %s)%s" % (
            BANNER_TIMEOUT, self.proc.poll(), self.ctx()))

    def admin_get(self, url, token):
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()

    def browse(self, url):
        shot = os.path.join(self.tmp, "demo-dashboard.png")
        cmd = ["node", SCRIPT, "--url", url, "--allocations", str(VIEWERS + 1),
               "--screenshot", shot, "--chromium", dash.CHROMIUM,
               "--timeout", str(BROWSER_TIMEOUT)]
        if dash.VERBOSE:
            cmd.append("--verbose")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=dash.BROWSER_DIR, start_new_session=True,
                                env=dict(os.environ, HOME=self.tmp, TMPDIR=self.tmp))
        try:
            stdout, stderr = proc.communicate(timeout=BROWSER_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        result = None
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                result = json.loads(line)
                break
        if os.path.exists(shot):
            os.makedirs(os.path.dirname(ARTIFACT), exist_ok=True)
            shutil.copyfile(shot, ARTIFACT)
            sys.stderr.write("\n[demo dashboard screenshot: %s] " % ARTIFACT)
        ctx = "\n--- exit %s\n--- result\n%s\n--- stderr\n%s%s" % (
            proc.returncode, json.dumps(result, indent=1), stderr[-2000:], self.ctx())
        self.assertIsNotNone(result, "no JSON result" + ctx)
        self.assertTrue(result.get("ok"), "%s%s" % (result.get("reason"), ctx))
        self.assertEqual(proc.returncode, 0, ctx)
        return result

    def test_demo_with_traffic(self):
        banner = self.banner()
        text = "\n".join(banner)
        for line in banner:
            self.assertLessEqual(len(line.expandtabs()), 80, repr(line))
        self.assertIn("--with-traffic", text)
        relay_pid = int(re.search(r"avedge \(pid (\d+)\)", text).group(1))
        sim_pid = int(re.search(r"edge-sim \(pid (\d+)\)", text).group(1))
        base = "http://127.0.0.1:%d" % self.admin_port
        m = re.search(re.escape(base) + r"/#token=([0-9a-f]{16,})$", text, re.M)
        self.assertIsNotNone(m, text)
        url, token = m.group(0).strip(), m.group(1)
        self.assertIn("export AVEDGE_ADMIN=" + base, text)
        self.assertIn("export AVEDGE_TOKEN=" + token, text)
        self.assertIn('curl -H "Authorization: Bearer $AVEDGE_TOKEN" $AVEDGE_ADMIN/metrics', text)
        self.assertIn("./build/tools/edgectl allocations", text)
        for pid, name in ((relay_pid, "avedge"), (sim_pid, "edge-sim")):
            with open("/proc/%d/cmdline" % pid) as f:
                self.assertEqual(os.path.basename(f.read().split("\0")[0]), name)
            self.assertEqual(os.getpgid(pid), self.proc.pid)

        # the banner's lines work: curl's /metrics, edgectl's list
        status, metrics = self.admin_get(base + "/metrics", token)
        self.assertEqual(status, 200)
        self.assertIn("avedge_", metrics)
        out = subprocess.run(
            [os.path.join(ROOT, "build", "tools", "edgectl"), "--json", "allocations"],
            capture_output=True, text=True, timeout=15,
            env=dict(os.environ, AVEDGE_ADMIN=base, AVEDGE_TOKEN=token))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["total"], VIEWERS + 1, out.stdout)

        result = self.browse(url)
        self.assertEqual(len(result["rows"]), VIEWERS + 1, result["rows"])

        # Ctrl-C: SIGINT to the foreground process group
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("the demo still runs %d s after SIGINT%s" % (STOP_TIMEOUT, self.ctx()))
        deadline = time.time() + 2
        while time.time() < deadline and group_members(self.proc.pid):
            time.sleep(0.05)
        self.assertEqual(group_members(self.proc.pid), [], self.ctx())
        self.assertFalse(alive(relay_pid), "avedge %d still runs" % relay_pid)
        self.assertFalse(alive(sim_pid), "edge-sim %d still runs" % sim_pid)
        self.assertTrue(port_free(self.port), "port %d still in use" % self.port)
        self.assertTrue(port_free(self.admin_port), "port %d still in use" % self.admin_port)


if __name__ == "__main__":
    unittest.main()
