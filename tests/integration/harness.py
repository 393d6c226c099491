"""Shared helpers for avedge integration tests.

Every server a test starts binds to loopback on a free port, lives in a
temporary directory, and is stopped by PID when the test ends.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AVEDGE_BUILD", os.path.join(ROOT, "build"))
AVEDGE = os.path.join(BUILD, "avedge")


def wait_for(fn, timeout=5.0, step=0.05):
    """fn() until it returns something true, or timeout seconds: its last value."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


def free_port(host="127.0.0.1", family=socket.AF_INET):
    """A port free for both UDP and TCP on host (best effort)."""
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(family, socket.SOCK_STREAM) as t:
                    t.bind((host, port))
                    return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class Daemon:
    """The real avedge binary on loopback, stopped by PID."""

    def __init__(self, args=(), config=None, wrapper=(), env=None):
        self.tmp = tempfile.mkdtemp(prefix="avedge-test-")
        self.port = free_port()
        self.log_path = os.path.join(self.tmp, "avedge.log")
        self.args = ["--listening-ip", "127.0.0.1",
                     "--listening-port", str(self.port),
                     "--lock-dir", self.tmp] + list(args)
        if config is not None:
            path = os.path.join(self.tmp, "avedge.conf")
            with open(path, "w") as f:
                f.write(config)
            self.args = ["-c", path] + self.args
        self.wrapper = list(wrapper)
        self.env = env
        self.proc = None

    def start(self, wait_ready=True):
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.wrapper + [AVEDGE] + self.args,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30.0):
        """Until the daemon answers a Binding request over UDP."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("avedge exited %d:\n%s" % (self.proc.returncode, self.log()))
            if binding_udp("127.0.0.1", self.port, timeout=0.2) is not None:
                return
        raise RuntimeError("avedge not ready:\n" + self.log())

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop()
        keep = os.environ.get("AVEDGE_TEST_LOGS")  # a folder: keep the logs
        if keep and os.path.exists(self.log_path):
            os.makedirs(keep, exist_ok=True)
            shutil.copy(self.log_path, os.path.join(
                keep, "%s-%d.log" % (os.path.basename(self.tmp), self.port)))
        shutil.rmtree(self.tmp, ignore_errors=True)


MAGIC = 0x2112A442


def binding_request(tid=None, attrs=b""):
    tid = tid or os.urandom(12)
    hdr = (0x0001).to_bytes(2, "big") + len(attrs).to_bytes(2, "big") + \
        MAGIC.to_bytes(4, "big") + tid
    return hdr + attrs, tid


def parse_xor_mapped(resp, tid):
    """(ip, port) from a Binding success response, or None."""
    if len(resp) < 20 or resp[0:2] != b"\x01\x01":
        return None
    body = resp[20:20 + int.from_bytes(resp[2:4], "big")]
    i = 0
    while i + 4 <= len(body):
        t = int.from_bytes(body[i:i + 2], "big")
        n = int.from_bytes(body[i + 2:i + 4], "big")
        v = body[i + 4:i + 4 + n]
        if t == 0x0020 and v[1] == 1:
            port = int.from_bytes(v[2:4], "big") ^ (MAGIC >> 16)
            ip = int.from_bytes(v[4:8], "big") ^ MAGIC
            return socket.inet_ntoa(ip.to_bytes(4, "big")), port
        i += 4 + ((n + 3) & ~3)
    return None


def binding_udp(host, port, timeout=1.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        req, tid = binding_request()
        s.sendto(req, (host, port))
        try:
            data, _ = s.recvfrom(2048)
        except (socket.timeout, ConnectionRefusedError):
            return None
        return data


def have(tool):
    return shutil.which(tool) is not None


class DaemonTest(unittest.TestCase):
    """A test case with one daemon started per test."""
    daemon_args = ()
    daemon_config = None

    def setUp(self):
        self.d = Daemon(self.daemon_args, self.daemon_config)
        self.addCleanup(self.d.cleanup)
        self.d.start()
