"""Daemon life cycle: configuration errors, the per-port lock, SIGHUP log
reopening, and a clean, leak-free stop under valgrind."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import AVEDGE, Daemon, binding_udp, have, free_port


def run_avedge(args, timeout=20):
    return subprocess.run([AVEDGE] + args, capture_output=True, text=True,
                          timeout=timeout)


class ConfigErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="avedge-cfg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, text):
        path = os.path.join(self.tmp, "edge.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bad_value_names_file_line_key(self):
        path = self.write("# demo\nrealm = example.org\nlistening-port = 99999\n")
        out = run_avedge(["-c", path])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("%s:3:" % path, out.stderr)
        self.assertIn("listening-port", out.stderr)

    def test_unknown_key_is_fatal_before_binding(self):
        port = free_port()
        path = self.write("listening-port = %d\nno-such-key = 1\n" % port)
        out = run_avedge(["-c", path, "--listening-ip", "127.0.0.1"])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("%s:2:" % path, out.stderr)
        self.assertIn("no-such-key", out.stderr)

    def test_coturn_key_warns_and_runs(self):
        d = Daemon(config="fingerprint\nverbose\n")
        self.addCleanup(d.cleanup)
        d.start()
        log = d.log()
        self.assertIn("'fingerprint'", log)
        self.assertIn("'verbose'", log)
        self.assertEqual(log.count("'verbose'"), 1)

    def test_help_lists_keys(self):
        out = run_avedge(["--help"])
        self.assertEqual(out.returncode, 0)
        for key in ("listening-ip", "relay-threads", "static-auth-secret",
                    "allow-loopback-peers", "log-format"):
            self.assertIn(key, out.stdout)


class Lifecycle(unittest.TestCase):
    def test_second_instance_on_same_port_refused(self):
        a = Daemon()
        self.addCleanup(a.cleanup)
        a.start()
        out = run_avedge(a.args)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("another avedge", out.stderr)
        self.assertIsNotNone(binding_udp("127.0.0.1", a.port))

    def test_sighup_reopens_log_file(self):
        tmp = tempfile.mkdtemp(prefix="avedge-log-")
        self.addCleanup(shutil.rmtree, tmp, True)
        logf = os.path.join(tmp, "edge.log")
        d = Daemon(["--log-file", logf])
        self.addCleanup(d.cleanup)
        d.start()
        os.rename(logf, logf + ".1")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while not os.path.exists(logf) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(logf))
        d.stop()
        with open(logf) as f:
            self.assertIn("stopped", f.read())

    def test_sighup_names_keys_needing_restart_and_keeps_old_on_error(self):
        d = Daemon(config="log-level = info\nmin-port = 61000\n"
                   "max-port = 61999\nuser = a:b\n")
        self.addCleanup(d.cleanup)
        d.start()
        conf = os.path.join(d.tmp, "avedge.conf")

        def hup_and_wait(text):
            n = d.log().count(text)
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while d.log().count(text) == n and time.time() < deadline:
                time.sleep(0.05)
            self.assertGreater(d.log().count(text), n, d.log())

        with open(conf, "w") as f:
            f.write("log-level = debug\nmin-port = 61100\n"
                    "max-port = 61999\nuser = a:b\nuser = c:d\n")
        hup_and_wait("2 users")
        log = d.log()
        self.assertIn("min-port changed: needs restart", log)
        self.assertNotIn("max-port changed", log)
        self.assertNotIn("log-level changed", log)  # applied live
        self.assertNotIn("user changed", log)
        # a bad line: rejected as a whole, named, the daemon keeps serving
        with open(conf, "w") as f:
            f.write("log-level = debug\nmin-port = nope\n")
        hup_and_wait("configuration rejected, old one stays")
        self.assertIn("avedge.conf:2", d.log())
        self.assertIsNotNone(binding_udp("127.0.0.1", d.port))

    def test_peer_range_with_host_bits_starts(self):
        """ADDR/PREFIX with host bits set: the bits are masked (as
        docs/config.md says), not a start-up failure."""
        d = Daemon(["--allowed-peer-ip", "10.1.2.3/8",
                    "--denied-peer-ip", "10.9.9.9/16"])
        self.addCleanup(d.cleanup)
        d.start()
        self.assertIsNotNone(binding_udp("127.0.0.1", d.port))

    def test_json_log_format(self):
        d = Daemon(["--log-format", "json"])
        self.addCleanup(d.cleanup)
        d.start()
        import json
        lines = [l for l in d.log().splitlines() if l.strip()]
        for l in lines:
            obj = json.loads(l)
            self.assertIn(obj["level"], ("error", "warn", "info", "debug"))

    def test_sigterm_stops_cleanly(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(d.stop(signal.SIGTERM), 0)

    @unittest.skipUnless(have("valgrind"), "valgrind not installed")
    def test_no_leak_under_valgrind(self):
        d = Daemon(["--threads", "2"],
                   wrapper=["valgrind", "--leak-check=full",
                            "--errors-for-leak-kinds=definite,indirect",
                            "--error-exitcode=99"])
        self.addCleanup(d.cleanup)
        d.start()
        for _ in range(20):
            self.assertIsNotNone(binding_udp("127.0.0.1", d.port, timeout=5))
        with socket.create_connection(("127.0.0.1", d.port), 10) as s:
            s.sendall(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"k" * 12)
            s.settimeout(10)
            self.assertGreater(len(s.recv(100)), 0)
            # leave it open: stopping must free open connections too
            rc = d.stop(signal.SIGINT, timeout=60)
        log = d.log()
        # valgrind exits 99 on any error or definite/indirect leak
        self.assertEqual(rc, 0, log[-3000:])
        self.assertIn("ERROR SUMMARY: 0 errors", log)


if __name__ == "__main__":
    unittest.main()
