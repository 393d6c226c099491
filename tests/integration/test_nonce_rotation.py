"""Nonces across a cluster and their key's rotation (issue 12).

Two nodes (127.0.0.1, 127.0.0.2) share a real redis-server, as in
test_redis_cluster: a nonce minted by one node is accepted by the other
from the same client address (one key per cluster) and is 438 from
another address (127.0.0.3). With a short nonce-key-rotation the key in
avedge/nonce-key is replaced every period and a nonce minted before a
rotation still works within one period, and is 438 after two. A node
without Redis rotates its own key the same way (its log names each id).
"""
import re
import socket
import time
import unittest

from harness import have, wait_for
from test_redis_cluster import REALM, Node, Redis
from turnclient import (ALLOCATE, A_NONCE, A_REALM, A_REQ_TRANSPORT,
                        A_USERNAME, TurnClient, attr, build, error_code, parse)

PERIOD = 4  # s: room for a slow machine between a rotation and a check


def nonce_from(node, src="127.0.0.1"):
    """A nonce (and the long-term key) from an authenticated Allocate."""
    c = TurnClient(node.addr, "alice", "alicepw")
    try:
        resp = c.allocate(lifetime=60)
        assert error_code(resp[3]) is None, resp
        return c.nonce, c.realm, c.key
    finally:
        c.close()


def first_answer(node, nonce, realm, key, src="127.0.0.1"):
    """One signed Allocate with this nonce from src: its error code, None
    for a success (no retry on 438)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(2)
        attrs = [attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0])),
                 attr(A_USERNAME, b"alice"), attr(A_REALM, realm),
                 attr(A_NONCE, nonce)]
        data, _ = build(ALLOCATE, 0, attrs, key=key)
        s.sendto(data, node.addr)
        return error_code(parse(s.recvfrom(65536)[0])[3])


@unittest.skipUnless(have("redis-server") and have("redis-cli"), "needs redis-server")
class ClusterNonces(unittest.TestCase):
    def start(self, extra=()):
        self.redis = Redis().start()
        self.addCleanup(self.redis.cleanup)
        self.nodes = []
        for i in (1, 2):
            n = Node("127.0.0.%d" % i, "n%d" % i, self.redis.port, extra)
            self.addCleanup(n.cleanup)
            self.nodes.append(n.start())

    def key_id(self):
        v = self.redis.cli("GET", "avedge/nonce-key")
        return int(v.split(":")[0]) if v else None

    def test_nonce_of_a_good_on_b_from_same_address_only(self):
        self.start()
        a, b = self.nodes
        v = self.redis.cli("GET", "avedge/nonce-key")
        self.assertRegex(v, r"^1:\d+:[0-9a-f]{64}$")
        nonce, realm, key = nonce_from(a)
        self.assertIsNone(first_answer(b, nonce, realm, key))
        self.assertIsNone(first_answer(a, nonce, realm, key))
        self.assertEqual(first_answer(b, nonce, realm, key, "127.0.0.3"), 438)
        self.assertEqual(first_answer(a, nonce, realm, key, "127.0.0.3"), 438)

    def test_rotation_keeps_the_old_key_one_period(self):
        self.start(("--nonce-key-rotation", str(PERIOD)))
        a, b = self.nodes
        first = self.key_id()
        nonce, realm, key = nonce_from(a)
        # the next key: the nonce is still good on both nodes
        self.assertTrue(wait_for(lambda: self.key_id() != first, PERIOD + 5, 0.05))
        second = self.key_id()
        self.assertEqual(second, first % 255 + 1)
        v = self.redis.cli("GET", "avedge/nonce-key")
        self.assertRegex(v, r"^%d:\d+:[0-9a-f]{64}:%d:[0-9a-f]{64}$" % (second, first))
        time.sleep(1)  # every node polls a quarter period
        self.assertIsNone(first_answer(b, nonce, realm, key))
        self.assertIsNone(first_answer(a, nonce, realm, key))
        fresh = nonce_from(b)
        self.assertIsNone(first_answer(a, *fresh))
        # the key after: two rotations since the nonce, 438 everywhere
        self.assertTrue(wait_for(lambda: self.key_id() not in (first, second),
                                 PERIOD + 5, 0.05))
        time.sleep(1.5)
        self.assertEqual(first_answer(b, nonce, realm, key), 438)
        self.assertEqual(first_answer(a, nonce, realm, key), 438)
        # exactly one node rotated each time (compare-and-set)
        logs = a.log() + b.log()
        for i in (second, self.key_id()):
            self.assertLessEqual(len(re.findall(r"nonce key id %d installed" % i, logs)), 2)


class StandaloneNonces(unittest.TestCase):
    def test_own_key_rotates_old_one_good_one_period(self):
        n = Node("127.0.0.1", "solo", 1, ("--nonce-key-rotation", "2"))
        i = n.args.index("--redis")
        del n.args[i:i + 2]
        self.addCleanup(n.cleanup)
        n.start()
        nonce, realm, key = nonce_from(n)
        self.assertTrue(wait_for(lambda: "nonce key rotated (id 2)" in n.log(), 6))
        self.assertIsNone(first_answer(n, nonce, realm, key))
        self.assertEqual(first_answer(n, nonce, realm, key, "127.0.0.3"), 438)
        self.assertTrue(wait_for(lambda: "nonce key rotated (id 3)" in n.log(), 6))
        time.sleep(0.3)
        self.assertEqual(first_answer(n, nonce, realm, key), 438)
        self.assertIsNone(first_answer(n, *nonce_from(n)))


if __name__ == "__main__":
    unittest.main()
