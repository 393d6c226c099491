"""Cluster scope of the ops tools (issue 6): GET /api/nodes,
/api/allocations?scope=cluster and /api/stats?scope=cluster on a node, and
edgectl --redis (nodes, allocations, status read straight from Redis).

Two nodes and a real redis-server, started as in test_redis_cluster.py
(same helpers); one allocation on each node. Without Redis, a node answers
the same endpoints for itself with "scope":"node". Redis killed or hung:
the cluster endpoints answer 503 {"error":"redis unavailable"} (within
redis-timeout per command: the admin thread never blocks), edgectl --redis
exits 3. Everything is stopped by PID.
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, Daemon, free_port, have, wait_for
from test_redis_cluster import REALM, TOKEN, RedisCluster
from turnclient import TurnClient

EDGECTL = os.path.join(BUILD, "tools", "edgectl")


def run_ctl(args, timeout=30):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVEDGE_")}
    return subprocess.run([EDGECTL] + list(args), capture_output=True, text=True,
                          env=env, timeout=timeout)


def get(base, path, token=TOKEN, timeout=5):
    """(status, parsed JSON or text) of GET base+path."""
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def base_of(node):
    return "http://%s:%d" % (node.ip, node.admin_port)


@unittest.skipUnless(os.path.exists(EDGECTL), "edgectl is not built (%s)" % EDGECTL)
class ClusterScope(RedisCluster):
    nodes_wanted = 2

    def setUp(self):
        super().setUp()
        n1, n2 = self.nodes
        _, r = self.allocate(n1, "alice")
        self.assertAllocated(r, "alice@n1")
        _, r = self.allocate(n2, "bob")
        self.assertAllocated(r, "bob@n2")
        # records at once; the registry's counts with the next heartbeat
        for n in self.nodes:
            self.assertTrue(wait_for(
                lambda: self.redis.cli("SCARD", "avedge/node/%s/allocs" % n.id) == "1", 3))
            self.assertTrue(wait_for(
                lambda: self.redis.cli("HGET", "avedge/node/" + n.id, "allocations") == "1", 3))
        self.url = "redis://127.0.0.1:%d/0" % self.redis.port

    def test_nodes(self):
        st, js = get(base_of(self.nodes[0]), "/api/nodes")
        self.assertEqual(st, 200, js)
        self.assertEqual(js["scope"], "cluster")
        self.assertEqual(js["count"], 2)
        self.assertEqual(js["alive"], 2)
        self.assertEqual([n["id"] for n in js["nodes"]], ["n1", "n2"])
        n1, n2 = js["nodes"]
        self.assertTrue(n1["self"])
        self.assertFalse(n2["self"])
        for n, node in ((n1, self.nodes[0]), (n2, self.nodes[1])):
            self.assertTrue(n["alive"])
            self.assertFalse(n["draining"])
            self.assertEqual(n["allocations"], 1)
            self.assertIsNone(n["load"])  # no max-allocations
            self.assertEqual(n["workers"], 2)
            self.assertEqual(n["listen4"], "%s:%d" % (node.ip, node.port))
            self.assertEqual(n["relay4"], node.ip)
            self.assertLess(n["age_s"], 3.5)
            self.assertIsInstance(n["updated"], int)
        # draining shows up with the next heartbeat
        req = urllib.request.Request(base_of(self.nodes[1]) + "/api/drain", method="POST",
                                     headers={"Authorization": "Bearer " + TOKEN})
        urllib.request.urlopen(req, timeout=5).close()
        self.assertTrue(wait_for(
            lambda: get(base_of(self.nodes[0]), "/api/nodes")[1]["nodes"][1]["draining"], 3))

    def test_allocations_scope_cluster(self):
        a = base_of(self.nodes[0])
        st, js = get(a, "/api/allocations?scope=cluster")
        self.assertEqual(st, 200, js)
        self.assertEqual(js["scope"], "cluster")
        self.assertEqual(js["total"], 2)
        by_user = {x["user"]: x for x in js["allocations"]}
        self.assertEqual(set(by_user), {"alice", "bob"})
        bob = by_user["bob"]
        self.assertEqual(bob["node"], "n2")
        self.assertTrue(bob["id"].startswith("n2-"), bob)
        self.assertEqual(bob["realm"], REALM)
        self.assertEqual(bob["transport"], "udp")
        self.assertTrue(bob["relay"][0].startswith("127.0.0.2:"), bob)
        self.assertEqual(bob["lifetime_s"], 600)
        self.assertGreater(bob["expires_in_s"], 500)
        self.assertIn("to_peer", bob)
        self.assertEqual(by_user["alice"]["node"], "n1")
        # stable order: node, worker, serial
        self.assertEqual([x["node"] for x in js["allocations"]], ["n1", "n2"])
        # filters and paging
        st, js = get(a, "/api/allocations?scope=cluster&user=bob")
        self.assertEqual((st, js["total"], js["allocations"][0]["node"]), (200, 1, "n2"))
        st, js = get(a, "/api/allocations?scope=cluster&realm=other.test")
        self.assertEqual((st, js["total"], js["allocations"]), (200, 0, []))
        st, js = get(a, "/api/allocations?scope=cluster&limit=1&offset=1")
        self.assertEqual((st, js["total"], len(js["allocations"])), (200, 2, 1))
        self.assertEqual(js["allocations"][0]["user"], "bob")
        st, js = get(a, "/api/allocations?scope=cluster&peer=127.0.0.1")
        self.assertEqual(st, 400)
        self.assertIn("not supported", js["error"])
        st, _ = get(a, "/api/allocations?scope=galaxy")
        self.assertEqual(st, 400)
        # the node scope is still this node's own
        st, js = get(a, "/api/allocations")
        self.assertEqual((js["scope"], js["total"]), ("node", 1))
        self.assertEqual(js["allocations"][0]["node"], "n1")
        # another node's allocation: 404 with a fixed text naming no input
        st, js = get(a, "/api/allocations/" + bob["id"])
        self.assertEqual(st, 404)
        self.assertIn("ask that node", js["error"])
        self.assertNotIn(bob["id"], json.dumps(js))

    def test_stats_scope_cluster(self):
        st, js = get(base_of(self.nodes[1]), "/api/stats?scope=cluster")
        self.assertEqual(st, 200, js)
        self.assertEqual(js["scope"], "cluster")
        self.assertEqual((js["nodes"], js["nodes_alive"], js["nodes_draining"]), (2, 2, 0))
        self.assertEqual(js["allocations"], 2)
        self.assertGreaterEqual(js["allocations_created"], 2)
        self.assertEqual(js["max_allocations"], 0)
        self.assertEqual([n["id"] for n in js["per_node"]], ["n1", "n2"])
        st, js = get(base_of(self.nodes[1]), "/api/stats")
        self.assertEqual((js["scope"], js["allocations"]), ("node", 1))

    def test_edgectl_redis(self):
        out = run_ctl(["--redis", self.url, "nodes"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout.splitlines()[0], r"^NODE\s+STATE\s+ALLOCATIONS")
        self.assertRegex(out.stdout, r"(?m)^n1\s+serving\s+1\b")
        self.assertRegex(out.stdout, r"(?m)^n2\s+serving\s+1\b")
        js = json.loads(run_ctl(["--redis", self.url, "nodes", "--json"]).stdout)
        self.assertEqual([n["id"] for n in js["nodes"]], ["n1", "n2"])

        out = run_ctl(["--redis", self.url, "allocations"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout.splitlines()[0], r"^ID\s+NODE\s+USER")
        self.assertRegex(out.stdout, r"(?m)^n1-\S+\s+n1\s+alice\s")
        self.assertRegex(out.stdout, r"(?m)^n2-\S+\s+n2\s+bob\s")
        js = json.loads(run_ctl(["allocations", "--json", "--redis", self.url]).stdout)
        self.assertEqual(js["total"], 2)
        self.assertEqual({(x["node"], x["user"]) for x in js["allocations"]},
                         {("n1", "alice"), ("n2", "bob")})
        js = json.loads(run_ctl(["--redis", self.url, "allocations", "--user", "bob",
                                 "--json"]).stdout)
        self.assertEqual([x["user"] for x in js["allocations"]], ["bob"])

        out = run_ctl(["--redis", self.url, "status"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"nodes\s+2 alive \(0 draining\)")
        self.assertRegex(out.stdout, r"allocations\s+2\b")
        self.assertRegex(out.stdout, r"(?m)^n2\s+serving")
        js = json.loads(run_ctl(["--redis", self.url, "status", "--json"]).stdout)
        self.assertEqual((js["allocations"], js["nodes_alive"]), (2, 2))

        # through a node: --cluster
        out = run_ctl(["--admin", base_of(self.nodes[0]), "--token", TOKEN,
                       "allocations", "--cluster", "--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["total"], 2)
        out = run_ctl(["--admin", base_of(self.nodes[0]), "--token", TOKEN, "nodes"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("2 nodes, 2 alive", out.stdout)
        out = run_ctl(["--admin", base_of(self.nodes[0]), "--token", TOKEN,
                       "status", "--cluster"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"allocations\s+2\b")

        # commands that need a node, and usage errors
        for args in (["kick", "n2-0-1"], ["drain"], ["users"], ["show", "n1-0-1"]):
            out = run_ctl(["--redis", self.url] + args)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn("--admin", out.stderr)
        out = run_ctl(["--redis", self.url, "allocations", "--peer", "127.0.0.1"])
        self.assertEqual(out.returncode, 2)
        out = run_ctl(["--redis", "http://127.0.0.1:1", "nodes"])
        self.assertEqual(out.returncode, 2)

    def test_redis_down_or_hung(self):
        a = base_of(self.nodes[0])
        # hung: every command times out after redis-timeout (200 ms)
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            t0 = time.time()
            st, js = get(a, "/api/nodes")
            self.assertEqual((st, js), (503, {"error": "redis unavailable"}))
            self.assertLess(time.time() - t0, 2.0)
            st, _ = get(a, "/api/allocations?scope=cluster")
            self.assertEqual(st, 503)
            self.assertEqual(get(a, "/api/stats")[0], 200)  # the node itself
            out = run_ctl(["--redis", self.url, "--timeout", "0.5", "nodes"])
            self.assertEqual(out.returncode, 3, out.stderr)
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        # back: answers again once the connection is up
        self.assertTrue(wait_for(lambda: get(a, "/api/nodes")[0] == 200, 8), self.nodes[0].log())
        # dead
        self.redis.kill()
        self.assertTrue(wait_for(lambda: get(a, "/api/stats?scope=cluster")[0] == 503, 3))
        st, js = get(a, "/api/nodes")
        self.assertEqual((st, js), (503, {"error": "redis unavailable"}))
        out = run_ctl(["--redis", self.url, "nodes"])
        self.assertEqual(out.returncode, 3)
        self.assertIn("Redis", out.stderr)


@unittest.skipUnless(os.path.exists(EDGECTL), "edgectl is not built (%s)" % EDGECTL)
class WithoutRedis(unittest.TestCase):
    def setUp(self):
        self.admin_port = free_port()
        self.d = Daemon(["--relay-ip", "127.0.0.1", "--realm", "solo.test",
                         "--user", "alice:alicepw", "--allow-loopback-peers",
                         "--threads", "2", "--node-id", "solo",
                         "--admin-token", TOKEN,
                         "--admin-listen", "127.0.0.1:%d" % self.admin_port])
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.base = "http://127.0.0.1:%d" % self.admin_port
        self.assertTrue(wait_for(lambda: self._up(), 10))
        self.c = TurnClient(("127.0.0.1", self.d.port), "alice", "alicepw")
        self.addCleanup(self.c.close)
        self.assertEqual(self.c.allocate()[1], 2)

    def _up(self):
        try:
            return get(self.base, "/healthz")[0] == 200
        except OSError:
            return False

    def test_node_scope_only(self):
        st, js = get(self.base, "/api/nodes")
        self.assertEqual(st, 200)
        self.assertEqual((js["scope"], js["count"], js["redis"]), ("node", 1, "not configured"))
        self.assertEqual(js["nodes"][0]["id"], "solo")
        self.assertTrue(js["nodes"][0]["self"] and js["nodes"][0]["alive"])
        self.assertEqual(js["nodes"][0]["allocations"], 1)
        st, js = get(self.base, "/api/allocations?scope=cluster")
        self.assertEqual((st, js["scope"], js["total"]), (200, "node", 1))
        self.assertEqual(js["allocations"][0]["node"], "solo")
        st, js = get(self.base, "/api/stats?scope=cluster")
        self.assertEqual((st, js["scope"], js["allocations"]), (200, "node", 1))
        self.assertEqual(get(self.base, "/api/stats?scope=x")[0], 400)
        st, js = get(self.base, "/api/allocations/other-0-1")
        self.assertEqual((st, js["error"]), (404, "no such allocation"))
        self.assertEqual(get(self.base, "/api/nodes", token="wrong-token-0123456789")[0], 401)
        req = urllib.request.Request(self.base + "/api/nodes", method="POST", data=b"",
                                     headers={"Authorization": "Bearer " + TOKEN})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(e.exception.code, 405)
        out = run_ctl(["--admin", self.base, "--token", TOKEN, "nodes"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("no Redis: this node only", out.stdout)
        self.assertRegex(out.stdout, r"(?m)^solo\s+serving\s+1\b")


if __name__ == "__main__":
    unittest.main()
