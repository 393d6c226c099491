"""TURN over UDP against coturn's turnutils_uclient (a client we did not
write) with turnutils_peer as the echoing peer: long-term and REST
credentials, channels and Send indications, many clients, hairpin."""
import re
import subprocess
import unittest

from harness import Daemon, free_port, have

USER, PASSWORD, SECRET = "alice", "wonderland", "rest-secret-1"


def totals(text):
    sent = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", text, re.M)
    lost = re.search(r"Total lost packets (\d+)", text)
    return (int(sent[-1][0]), int(sent[-1][1])) if sent else None, \
        int(lost.group(1)) if lost else None


@unittest.skipUnless(have("turnutils_uclient") and have("turnutils_peer"),
                     "coturn's client tools are not installed")
class UclientInterop(unittest.TestCase):
    extra_args = ()

    def setUp(self):
        self.d = Daemon(["--relay-ip", "127.0.0.1", "--realm", "test.local",
                         "--user", "%s:%s" % (USER, PASSWORD),
                         "--static-auth-secret", SECRET,
                         "--allow-loopback-peers",
                         "--min-port", "61000", "--max-port", "62999",
                         "--threads", "2",
                         # uclient picks channels in RFC 5766's 0x4000-0x7FFF
                         "--rfc5766-channel-numbers"] + list(self.extra_args))
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.start_peer()

    def start_peer(self):
        """coturn's turnutils_peer (an echo peer) on a free loopback port,
        stopped when the test ends."""
        self.peer_port = free_port()
        self.peer = subprocess.Popen(
            ["turnutils_peer", "-L", "127.0.0.1", "-p", str(self.peer_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self._stop_peer)

    def _stop_peer(self):
        self.peer.terminate()
        try:
            self.peer.wait(10)
        except subprocess.TimeoutExpired:
            self.peer.kill()

    def uclient(self, *args, timeout=120):
        """(exit code, output); exit code None when it ran out of time."""
        cmd = ["turnutils_uclient", "-p", str(self.d.port), "-e", "127.0.0.1",
               "-r", str(self.peer_port)] + list(args) + ["127.0.0.1"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired as e:
            text = (e.stdout or b"") + (e.stderr or b"")
            return None, text.decode(errors="replace") if isinstance(text, bytes) else text
        return out.returncode, out.stdout + out.stderr

    def assert_no_loss(self, text, min_msgs):
        counts, lost = totals(text)
        self.assertIsNotNone(counts, text[-2000:])
        sent, recv = counts
        self.assertGreaterEqual(sent, min_msgs, text[-2000:])
        self.assertEqual(sent, recv, text[-2000:])
        self.assertEqual(lost, 0, text[-2000:])

    def test_long_term_channels_50_clients(self):
        rc, text = self.uclient("-u", USER, "-w", PASSWORD, "-m", "50",
                                "-n", "40", "-l", "200", "-z", "20")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 50 * 40)

    def test_long_term_send_indications(self):
        rc, text = self.uclient("-s", "-u", USER, "-w", PASSWORD, "-m", "10",
                                "-n", "40", "-l", "120", "-z", "10")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 10 * 40)

    def test_rest_credentials(self):
        rc, text = self.uclient("-W", SECRET, "-u", "participant42", "-m", "10",
                                "-n", "30", "-z", "10")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 10 * 30)

    def test_client_to_client_hairpin(self):
        # -y: clients talk to each other's relayed addresses, all on this
        # node: relay <-> relay through the same edge.
        rc, text = self.uclient("-y", "-u", USER, "-w", PASSWORD, "-m", "10",
                                "-n", "30", "-z", "10")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 10 * 30)

    def test_dont_fragment_and_1200_bytes(self):
        rc, text = self.uclient("-g", "-u", USER, "-w", PASSWORD, "-m", "5",
                                "-n", "30", "-l", "1200", "-z", "10")
        self.assertEqual(rc, 0, text[-2000:])
        self.assert_no_loss(text, 5 * 30)

    def test_wrong_password_relays_nothing(self):
        # uclient keeps retrying a refused Allocate: give it 10 s.
        rc, text = self.uclient("-u", USER, "-w", "not-the-password",
                                "-m", "1", "-n", "5", timeout=10)
        self.assertNotEqual(rc, 0, text[-2000:])
        self.assertNotRegex(text, r"tot_recv_msgs=[1-9]")
        self.assertNotIn("allocation created", self.d.log())


if __name__ == "__main__":
    unittest.main()
