"""STUN Binding against the real daemon, with clients we did not write
(coturn's turnutils_stunclient, the stun client from stun-client) and our
own UDP and TCP checks."""
import os
import re
import socket
import struct
import subprocess
import time
import unittest

from harness import (DaemonTest, Daemon, binding_request, parse_xor_mapped,
                     binding_udp, have)


def stun_attrs(resp):
    body = resp[20:20 + int.from_bytes(resp[2:4], "big")]
    out, i = [], 0
    while i + 4 <= len(body):
        t, n = struct.unpack("!HH", body[i:i + 4])
        out.append((t, body[i + 4:i + 4 + n]))
        i += 4 + ((n + 3) & ~3)
    return out


class BindingWithOtherClients(DaemonTest):
    @unittest.skipUnless(have("turnutils_stunclient"), "coturn not installed")
    def test_turnutils_stunclient_prints_mapped_address(self):
        out = subprocess.run(["turnutils_stunclient", "-p", str(self.d.port),
                              "127.0.0.1"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"UDP reflexive addr: 127\.0\.0\.1:\d+")

    @unittest.skipUnless(have("stun"), "stun-client not installed")
    def test_rfc3489_stun_client_gets_mapped_address(self):
        # The stun client speaks RFC 3489 (no magic cookie): the answer
        # must carry MAPPED-ADDRESS and echo the 16-byte transaction id.
        out = subprocess.run(["stun", "127.0.0.1:%d" % self.d.port, "1", "-v"],
                             capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
        self.assertIn("MappedAddress = 127.0.0.1:", text)
        self.assertIn("ok=1", text)


class BindingOwnChecks(DaemonTest):
    def test_udp_xor_mapped_matches_source(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.bind(("127.0.0.1", 0))
            req, tid = binding_request()
            s.sendto(req, ("127.0.0.1", self.d.port))
            resp, _ = s.recvfrom(2048)
            self.assertEqual(resp[8:20], tid)
            self.assertEqual(parse_xor_mapped(resp, tid), s.getsockname())
            # Nothing that swells the answer: only XOR-MAPPED-ADDRESS.
            self.assertEqual([t for t, _ in stun_attrs(resp)], [0x0020])
            self.assertLessEqual(len(resp), 4 * len(req))

    def test_fingerprint_echoed_when_requested(self):
        import zlib
        req, tid = binding_request()
        # Add FINGERPRINT: length covers it, CRC over the message before it.
        req = req[:2] + (8).to_bytes(2, "big") + req[4:]
        crc = (zlib.crc32(req) ^ 0x5354554E) & 0xFFFFFFFF
        req += struct.pack("!HHI", 0x8028, 4, crc)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(req, ("127.0.0.1", self.d.port))
            resp, _ = s.recvfrom(2048)
        types = [t for t, _ in stun_attrs(resp)]
        self.assertEqual(types, [0x0020, 0x8028])
        fp = stun_attrs(resp)[-1][1]
        want = (zlib.crc32(resp[:-8]) ^ 0x5354554E) & 0xFFFFFFFF
        self.assertEqual(int.from_bytes(fp, "big"), want)

    def test_change_request(self):
        def ask(flags):
            attr = struct.pack("!HHI", 0x0003, 4, flags)
            req, tid = binding_request(attrs=attr)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(req, ("127.0.0.1", self.d.port))
                return s.recvfrom(2048)[0]
        ok = ask(0)
        self.assertEqual(ok[0:2], b"\x01\x01")
        err = ask(0x6)
        self.assertEqual(err[0:2], b"\x01\x11")
        attrs = dict(stun_attrs(err))
        self.assertEqual(attrs[0x0009][2:4], bytes([4, 20]))  # 420
        self.assertEqual(attrs[0x000A], b"\x00\x03")

    def test_unknown_comprehension_required_gets_420(self):
        attr = struct.pack("!HH", 0x0077, 4) + b"abcd"
        req, tid = binding_request(attrs=attr)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(req, ("127.0.0.1", self.d.port))
            resp = s.recvfrom(2048)[0]
        self.assertEqual(resp[0:2], b"\x01\x11")
        self.assertEqual(dict(stun_attrs(resp))[0x000A], b"\x00\x77")
        self.assertLessEqual(len(resp), 4 * len(req))

    def test_malformed_dropped_and_daemon_alive(self):
        bad = [b"", b"\x00", b"\x00\x01\x00\x04" + b"\x21\x12\xa4\x42" + b"x" * 12,
               b"\xc0" + b"\x00" * 19, os.urandom(600),
               b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"t" * 12 + b"\x00\x20\x00\x40zzzz",
               b"\x40\x00\x00\x10abc"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for b in bad:
                s.sendto(b, ("127.0.0.1", self.d.port))
            with self.assertRaises(socket.timeout):
                s.recvfrom(2048)
        self.assertIsNotNone(binding_udp("127.0.0.1", self.d.port))


class BindingOverTcp(DaemonTest):
    def _read_n(self, sock, n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                break
            buf += chunk
        return buf

    def _read_msg(self, sock):
        hdr = self._read_n(sock, 20)
        return hdr + self._read_n(sock, int.from_bytes(hdr[2:4], "big"))

    def test_partial_writes_and_several_per_read(self):
        with socket.create_connection(("127.0.0.1", self.d.port), 5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # One request a byte at a time.
            req, tid = binding_request()
            for b in req:
                s.send(bytes([b]))
                time.sleep(0.002)
            resp = self._read_msg(s)
            self.assertEqual(parse_xor_mapped(resp, tid), s.getsockname())
            # Five requests in one write.
            reqs = [binding_request() for _ in range(5)]
            s.sendall(b"".join(r for r, _ in reqs))
            for r, tid in reqs:
                resp = self._read_msg(s)
                self.assertEqual(resp[8:20], tid)
                self.assertEqual(parse_xor_mapped(resp, tid), s.getsockname())

    def test_garbage_closes_connection(self):
        with socket.create_connection(("127.0.0.1", self.d.port), 5) as s:
            # A TLS ClientHello on the plain port: cannot start a frame.
            s.sendall(b"\x16\x03\x01\x00\x2f" + b"\x01" * 47)
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"")
        self.assertIsNotNone(binding_udp("127.0.0.1", self.d.port))



def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback here")
class SeveralListeningAddresses(unittest.TestCase):
    def test_ipv4_and_ipv6_listeners(self):
        d = Daemon(["--listening-ip", "::1", "--listening-ip", "127.0.0.2"])
        self.addCleanup(d.cleanup)
        d.start()
        for host, fam in (("::1", socket.AF_INET6), ("127.0.0.2", socket.AF_INET),
                          ("127.0.0.1", socket.AF_INET)):
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.bind((host, 0))
                req, tid = binding_request()
                s.sendto(req, (host, d.port))
                resp, _ = s.recvfrom(2048)
                attrs = dict(stun_attrs(resp))
                v = attrs[0x0020]
                port = int.from_bytes(v[2:4], "big") ^ 0x2112
                self.assertEqual(port, s.getsockname()[1])
                self.assertEqual(v[1], 2 if fam == socket.AF_INET6 else 1)
        with socket.create_connection(("::1", d.port), 5) as s:
            req, tid = binding_request()
            s.sendall(req)
            self.assertEqual(s.recv(100)[8:20], tid)


class ConnectionLimits(unittest.TestCase):
    def test_per_ip_and_total_limits(self):
        d = Daemon(["--max-connections-per-ip", "3", "--max-connections", "5"])
        self.addCleanup(d.cleanup)
        d.start()

        def conn(src):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((src, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", d.port))
            self.addCleanup(s.close)
            return s

        def served(s):
            req, tid = binding_request()
            try:
                s.sendall(req)
                resp = s.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                return False
            return resp[8:20] == tid

        a = [conn("127.0.0.1") for _ in range(3)]
        self.assertTrue(all(served(s) for s in a))
        self.assertFalse(served(conn("127.0.0.1")))  # 4th from one address
        b = [conn("127.0.0.2") for _ in range(2)]
        self.assertTrue(all(served(s) for s in b))
        self.assertFalse(served(conn("127.0.0.3")))  # 6th in total
        a[0].close()
        time.sleep(0.3)
        self.assertTrue(served(conn("127.0.0.1")))  # a slot came free


if __name__ == "__main__":
    unittest.main()
