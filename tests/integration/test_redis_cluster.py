"""A cluster of avedge nodes sharing state in a real Redis (issue 5).

Each test starts redis-server on a free loopback port (no persistence,
a temp dir) and two or three avedge nodes on 127.0.0.1, 127.0.0.2 and
127.0.0.3, each with its own listening and relay address, one realm and
node-ttl 3 s. Everything is stopped by PID.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from harness import AVEDGE, binding_request, free_port, have, wait_for
from turnclient import (ALLOCATE, REFRESH, A_LIFETIME, TurnClient, attr,
                        alternate_server, error_code)

REALM = "cluster.test"
TOKEN = "cluster-admin-token-0123456789"
TTL = 3


def redis_cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw"] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


class Redis:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="avedge-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if redis_cli(self.port, "PING") == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cli(self, *args):
        return redis_cli(self.port, *args)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Node:
    """One avedge node on its own loopback address."""

    def __init__(self, ip, node_id, redis_port, extra=()):
        self.ip, self.id = ip, node_id
        self.tmp = tempfile.mkdtemp(prefix="avedge-node-")
        self.port = free_port(ip)
        self.admin_port = free_port(ip)
        self.log_path = os.path.join(self.tmp, "avedge.log")
        self.args = ["--listening-ip", ip, "--listening-port", str(self.port),
                     "--relay-ip", ip, "--min-port", "40000", "--max-port", "40999",
                     "--lock-dir", self.tmp, "--realm", REALM, "--threads", "2",
                     "--redis", "redis://127.0.0.1:%d/0" % redis_port,
                     "--node-id", node_id, "--node-ttl", str(TTL),
                     "--admin-listen", "%s:%d" % (ip, self.admin_port),
                     "--admin-token", TOKEN, "--allow-loopback-peers",
                     "--user", "alice:alicepw", "--user", "bob:bobpw",
                     "--user", "carol:carolpw", "--user", "dave:davepw"] + list(extra)
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen([AVEDGE] + self.args, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("avedge exited:\n" + self.log())
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                s.sendto(binding_request()[0], (self.ip, self.port))
                try:
                    s.recvfrom(2048)
                    return self
                except (socket.timeout, ConnectionRefusedError):
                    pass
        raise RuntimeError("avedge not ready:\n" + self.log())

    @property
    def addr(self):
        return (self.ip, self.port)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill_with(self, sig):
        self.proc.send_signal(sig)

    def http(self, path):
        req = urllib.request.Request("http://%s:%d%s" % (self.ip, self.admin_port, path),
                                     headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read().decode()

    def metric(self, name):
        for line in self.http("/metrics").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and not self.logf.closed:
            self.logf.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def rest_credentials(secret, ident="tester", ttl=600):
    user = "%d:%s" % (int(time.time()) + ttl, ident)
    pw = base64.b64encode(hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest())
    return user, pw.decode()


class Peer:
    """A UDP peer on 127.0.0.1 counting what it receives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = self.sock.getsockname()
        self.got = set()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) >= 4:
                self.got.add(struct.unpack("!I", data[:4])[0])

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@unittest.skipUnless(have("redis-server") and have("redis-cli"), "needs redis-server")
class RedisCluster(unittest.TestCase):
    nodes_wanted = 2
    node_extra = ()

    def setUp(self):
        self.redis = Redis().start()
        self.addCleanup(self.redis.cleanup)
        self.nodes = []
        for i in range(self.nodes_wanted):
            n = Node("127.0.0.%d" % (i + 1), "n%d" % (i + 1), self.redis.port,
                     self.node_extra)
            self.addCleanup(n.cleanup)
            n.start()
            self.nodes.append(n)
        for n in self.nodes:
            self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/node/" + n.id) == "1", 5),
                            n.log())
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def client(self, node, user, pw=None):
        c = TurnClient(node.addr, user, pw if pw is not None else user + "pw")
        self.clients.append(c)
        return c

    def allocate(self, node, user, pw=None):
        c = self.client(node, user, pw)
        resp = c.allocate()
        return c, resp

    def assertAllocated(self, resp, what=""):
        self.assertEqual(resp[1], 2, "%s: %s" % (what, error_code(resp[3])))

    def free(self, c):
        resp = c.transact(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 0))])
        self.assertEqual(resp[1], 2)

    def slots_held(self):
        """The realm's total quota slots held in Redis, over all nodes."""
        vals = self.redis.cli("HVALS", "avedge/quota/%s/total" % REALM)
        return sum(int(v) for v in vals.split() if v.strip().lstrip("-").isdigit())


class TestRegistryAndRecords(RedisCluster):
    def test_registry_entry(self):
        h = self.redis.cli("HGETALL", "avedge/node/n1").split("\n")
        entry = dict(zip(h[0::2], h[1::2]))
        self.assertEqual(entry["id"], "n1")
        self.assertEqual(entry["listen4"], "127.0.0.1:%d" % self.nodes[0].port)
        self.assertEqual(entry["relay4"], "127.0.0.1")
        self.assertEqual(entry["draining"], "0")
        ttl = int(self.redis.cli("PTTL", "avedge/node/n1"))
        self.assertTrue(0 < ttl <= TTL * 1000, ttl)
        self.assertEqual(set(self.redis.cli("SMEMBERS", "avedge/nodes").split()), {"n1", "n2"})
        self.assertIn("avedge_redis_up 1", self.nodes[0].http("/metrics"))
        self.assertIn('"redis":"up"', self.nodes[0].http("/api/stats"))

    def test_record_follows_allocation(self):
        c, resp = self.allocate(self.nodes[1], "alice")
        self.assertAllocated(resp)
        ids = wait_for(lambda: self.redis.cli("SMEMBERS", "avedge/node/n2/allocs").split(), 2)
        self.assertEqual(len(ids), 1)
        self.assertTrue(ids[0].startswith("n2-"), ids)
        h = self.redis.cli("HGETALL", "avedge/alloc/" + ids[0]).split("\n")
        rec = dict(zip(h[0::2], h[1::2]))
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["realm"], REALM)
        self.assertEqual(rec["node"], "n2")
        self.assertEqual(rec["transport"], "udp")
        self.assertEqual(rec["client"], "127.0.0.1:%d" % c.sock.getsockname()[1])
        self.assertTrue(rec["relay"].startswith("127.0.0.2:"), rec)
        self.assertTrue(0 < int(self.redis.cli("PTTL", "avedge/alloc/" + ids[0])) <= TTL * 1000)
        self.free(c)
        self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/alloc/" + ids[0]) == "0", 2))
        self.assertEqual(self.redis.cli("SCARD", "avedge/node/n2/allocs"), "0")

    def test_media_bands_in_registry_and_view(self):
        """Active RTP flows by band reach the node's registry entry and
        the cluster view (per node and summed); an entry of an older build
        without them shows "media":null and counts 0."""
        c, resp = self.allocate(self.nodes[1], "alice")
        self.assertAllocated(resp)
        peer = Peer()
        self.addCleanup(peer.close)
        pip, pport = peer.addr
        self.assertEqual(c.create_permission(pip)[1], 2)
        for seq in range(1, 201):  # every 10th missing: 10 %, bad
            if seq % 10:
                c.send_indication(pip, pport, struct.pack(
                    "!BBHII", 0x80, 0, seq, 4242, 0xC0FFEE) + b"\xff" * 160)
        self.assertTrue(wait_for(lambda: self.redis.cli(
            "HGET", "avedge/node/n2", "media_bad") == "1", 6), self.nodes[1].log())
        h = self.redis.cli("HGETALL", "avedge/node/n2").split("\n")
        entry = dict(zip(h[0::2], h[1::2]))
        self.assertEqual([entry["media_" + b] for b in ("good", "fair", "poor")],
                         ["0", "0", "0"])
        # an older build's entry: no media fields
        self.redis.cli("HSET", "avedge/node/old", "id", "old", "allocations", "0",
                       "max_allocations", "0", "draining", "0", "workers", "1",
                       "updated", str(int(time.time() * 1000)))
        self.redis.cli("SADD", "avedge/nodes", "old")
        stats = json.loads(self.nodes[0].http("/api/stats?scope=cluster"))
        self.assertEqual(stats["media"], {"good": 0, "fair": 0, "poor": 0, "bad": 1})
        per = {n["id"]: n.get("media", "absent") for n in stats["per_node"]}
        self.assertEqual(per["n2"], {"good": 0, "fair": 0, "poor": 0, "bad": 1})
        self.assertEqual(per["n1"], {"good": 0, "fair": 0, "poor": 0, "bad": 0})
        self.assertIsNone(per["old"])
        nodes = json.loads(self.nodes[0].http("/api/nodes"))
        self.assertEqual({n["id"]: n["media"] for n in nodes["nodes"]}["n2"]["bad"], 1)

    def test_events_published(self):
        sub = subprocess.Popen(["redis-cli", "-p", str(self.redis.port), "--raw",
                                "SUBSCRIBE", "avedge/events"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            time.sleep(0.3)
            c, resp = self.allocate(self.nodes[0], "bob")
            self.assertAllocated(resp)
            self.free(c)
            bad = self.client(self.nodes[0], "bob", "wrong")
            bad.allocate()
            time.sleep(0.5)
        finally:
            sub.terminate()
            out = sub.communicate(timeout=5)[0]
        self.assertIn('"event":"allocation.created"', out)
        self.assertIn('"event":"allocation.deleted"', out)
        self.assertIn('"event":"auth.failure"', out)


class TestClusterQuota(RedisCluster):
    nodes_wanted = 3
    node_extra = ("--user-quota", "2", "--total-quota", "4")

    def test_quota_spans_nodes(self):
        n1, n2, n3 = self.nodes
        a1, r = self.allocate(n1, "alice")
        self.assertAllocated(r, "alice@n1")
        _, r = self.allocate(n2, "alice")
        self.assertAllocated(r, "alice@n2")
        _, r = self.allocate(n3, "alice")
        self.assertEqual(error_code(r[3]), 486, "user-quota 2 across nodes")
        _, r = self.allocate(n1, "bob")
        self.assertAllocated(r, "bob@n1")
        _, r = self.allocate(n3, "bob")
        self.assertAllocated(r, "bob@n3")
        _, r = self.allocate(n2, "carol")
        self.assertEqual(error_code(r[3]), 486, "total-quota 4 across nodes")
        self.free(a1)
        # The slot goes back to Redis after the Refresh is answered: wait
        # for the release to land (eventual, exactly once), then use it.
        self.assertTrue(wait_for(lambda: self.slots_held() == 3, 5),
                        "alice's slot released in Redis")
        _, r = self.allocate(n2, "carol")
        self.assertAllocated(r, "carol@n2 after a free")
        _, r = self.allocate(n3, "dave")
        self.assertEqual(error_code(r[3]), 486, "exactly one more")

    def test_realm_quota_key_in_redis_wins(self):
        self.redis.cli("SET", "turn/realm/%s/user-quota" % REALM, "1")
        _, r = self.allocate(self.nodes[0], "alice")
        self.assertAllocated(r)
        _, r = self.allocate(self.nodes[1], "alice")
        self.assertEqual(error_code(r[3]), 486)


class TestCredentials(RedisCluster):
    nodes_wanted = 3

    def test_secret_added_reaches_every_node_in_2s(self):
        user, pw = rest_credentials("rotated-secret")
        for n in self.nodes:
            _, r = self.allocate(n, user, pw)
            self.assertEqual(error_code(r[3]), 401)
        t0 = time.time()
        self.redis.cli("SADD", "turn/realm/%s/secret" % REALM, "rotated-secret")
        pending = list(self.nodes)
        while pending and time.time() - t0 < 5:
            n = pending[0]
            c, r = self.allocate(n, user, pw)
            if r[1] == 2:
                pending.pop(0)
                self.free(c)
            else:
                time.sleep(0.05)
        self.assertFalse(pending, "not accepted everywhere")
        self.assertLess(time.time() - t0, 2.0)

    def test_user_key_in_redis_allocates_everywhere(self):
        key = hashlib.md5(("zed:%s:zedpw" % REALM).encode()).hexdigest()
        self.redis.cli("SET", "turn/realm/%s/user/zed/key" % REALM, key)
        time.sleep(2.0)
        for n in self.nodes:
            c, r = self.allocate(n, "zed", "zedpw")
            self.assertAllocated(r, n.id)
            self.free(c)
        # the config users keep working beside them
        c, r = self.allocate(self.nodes[0], "alice")
        self.assertAllocated(r)

    def test_user_removed_from_redis_is_refused(self):
        key = hashlib.md5(("yan:%s:yanpw" % REALM).encode()).hexdigest()
        self.redis.cli("SET", "turn/realm/%s/user/yan/key" % REALM, key)
        time.sleep(2.0)
        _, r = self.allocate(self.nodes[1], "yan", "yanpw")
        self.assertAllocated(r)
        self.redis.cli("DEL", "turn/realm/%s/user/yan/key" % REALM)
        time.sleep(2.0)
        _, r = self.allocate(self.nodes[1], "yan", "yanpw")
        self.assertEqual(error_code(r[3]), 401)


def admin_call(node, method, path, body=None):
    """(status, text) of an admin API call with a JSON body."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s:%d%s" % (node.ip, node.admin_port, path),
                                 data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class TestAdminCredentials(RedisCluster):
    def test_user_added_on_a_allocates_on_b(self):
        a, b = self.nodes
        key_name = "turn/realm/%s/user/una/key" % REALM
        status, text = admin_call(a, "POST", "/api/users", {"name": "una", "password": "unas-pw"})
        self.assertEqual(status, 201, text)
        self.assertEqual(json.loads(text)["source"], "redis")
        self.assertTrue(json.loads(text)["persistent"])
        # coturn's layout: the MD5 key, never the password
        self.assertEqual(self.redis.cli("GET", key_name),
                         hashlib.md5(("una:%s:unas-pw" % REALM).encode()).hexdigest())
        self.assertNotIn("unas-pw", self.redis.cli("KEYS", "*"))
        t0 = time.time()
        ok = False
        while not ok and time.time() - t0 < 4:
            c, r = self.allocate(b, "una", "unas-pw")
            ok = r[1] == 2
            if not ok:
                time.sleep(0.05)
        self.assertTrue(ok, "node B never accepted the user added on node A")
        self.assertLess(time.time() - t0, 2.5)
        users = json.loads(admin_call(b, "GET", "/api/users")[1])
        self.assertIn({"name": "una", "source": "redis"}, users["users"])
        self.assertIn({"name": "alice", "source": "config"}, users["users"])
        # a configuration user is not the API's to change
        self.assertEqual(admin_call(a, "POST", "/api/users",
                                    {"name": "alice", "password": "x"})[0], 409)
        self.assertEqual(admin_call(b, "DELETE", "/api/users/una")[0], 204)
        self.assertEqual(self.redis.cli("EXISTS", key_name), "0")
        self.assertEqual(admin_call(b, "DELETE", "/api/users/una")[0], 404)
        # REST secrets go to the realm's set; the answers never carry them
        status, text = admin_call(a, "POST", "/api/secrets", {"secret": "api-cluster-secret"})
        self.assertEqual(status, 201, text)
        self.assertNotIn("api-cluster-secret", text)
        self.assertEqual(self.redis.cli("SISMEMBER", "turn/realm/%s/secret" % REALM,
                                        "api-cluster-secret"), "1")
        user, pw = rest_credentials("api-cluster-secret")
        self.assertTrue(wait_for(lambda: self.allocate(b, user, pw)[1][1] == 2, 3))
        counts = admin_call(b, "GET", "/api/secrets")[1]
        self.assertEqual(json.loads(counts)["sources"]["redis"], 1)
        self.assertNotIn("api-cluster-secret", counts)
        self.assertEqual(admin_call(a, "DELETE", "/api/secrets",
                                    {"secret": "api-cluster-secret"})[0], 204)
        self.assertEqual(self.redis.cli("SCARD", "turn/realm/%s/secret" % REALM), "0")


def stream(c, peer, first, count, gap=0.002):
    for i in range(first, first + count):
        c.channel_data(0x4000, struct.pack("!I", i) + b"x" * 160)
        time.sleep(gap)


def open_flow(test, node, user="alice"):
    c, r = test.allocate(node, user)
    test.assertAllocated(r)
    peer = Peer()
    test.addCleanup(peer.close)
    test.assertEqual(c.channel_bind(0x4000, *peer.addr)[1], 2)
    return c, peer


class TestDrain(RedisCluster):
    def test_drain_sends_new_allocates_to_a_healthy_node(self):
        n1, n2 = self.nodes
        c, peer = open_flow(self, n1)
        stream(c, peer, 0, 100)
        n1.kill_with(signal.SIGUSR1)
        time.sleep(0.3)
        stream(c, peer, 100, 200)
        _, r = self.allocate(n1, "bob")
        self.assertEqual(error_code(r[3]), 300, n1.log())
        self.assertEqual(alternate_server(r), n2.addr)
        # the redirect works: the alternate allocates
        _, r = self.allocate(n2, "bob")
        self.assertAllocated(r)
        stream(c, peer, 300, 100)
        time.sleep(0.3)
        self.assertEqual(len(peer.got), 400, "running flow lost packets")
        # the registry says so, and the draining node is no alternate
        self.assertTrue(wait_for(lambda: self.redis.cli("HGET", "avedge/node/n1", "draining") == "1", 3))
        n2.kill_with(signal.SIGUSR1)
        time.sleep(2.0)
        _, r = self.allocate(n2, "carol")
        self.assertEqual(error_code(r[3]), 508, "no healthy alternate left")
        n1.kill_with(signal.SIGUSR2)
        time.sleep(2.0)
        _, r = self.allocate(n1, "carol")
        self.assertAllocated(r, "drain ended")


class TestFaults(RedisCluster):
    def test_redis_killed_mid_relay_then_back_empty(self):
        n1, n2 = self.nodes
        c, peer = open_flow(self, n1)
        _, r = self.allocate(n2, "bob")
        self.assertAllocated(r)
        wait_for(lambda: self.redis.cli("SCARD", "avedge/node/n1/allocs") == "1", 3)
        killer = threading.Timer(0.3, self.redis.kill)
        killer.start()
        stream(c, peer, 0, 500)
        killer.join()
        time.sleep(0.3)
        self.assertEqual(len(peer.got), 500, "packets lost while Redis died")
        self.assertTrue(wait_for(lambda: n1.metric("avedge_redis_up") == 0, 3))
        self.assertIn('"redis":"down"', n1.http("/api/stats"))
        self.assertEqual(n1.http("/readyz").strip(), "ready")
        _, r = self.allocate(n1, "carol")
        self.assertAllocated(r, "allocation with Redis down")
        self.assertGreaterEqual(n1.metric("avedge_redis_local_grants_total"), 1)
        # Redis comes back empty on the same port
        self.redis.start()
        self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/node/n1") == "1", 8),
                        n1.log())
        self.assertTrue(wait_for(lambda: self.redis.cli("SCARD", "avedge/node/n1/allocs") == "2", 8))
        self.assertTrue(wait_for(lambda: self.redis.cli("SCARD", "avedge/node/n2/allocs") == "1", 8))
        self.assertTrue(wait_for(lambda: n1.metric("avedge_redis_up") == 1, 3))
        # the quota counts came back too (this node's live allocations)
        self.assertTrue(wait_for(lambda: self.redis.cli(
            "HVALS", "avedge/quota/%s/user/carol" % REALM) == "1", 8))

    def test_hung_redis_decides_locally_then_reconciles(self):
        n1 = self.nodes[0]
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            for user in ("alice", "bob", "carol"):
                t0 = time.time()
                _, r = self.allocate(n1, user)
                self.assertAllocated(r, user)
                self.assertLess(time.time() - t0, 1.0, "waited past redis-timeout")
            self.assertEqual(n1.metric("avedge_redis_local_grants_total"), 3)
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        self.assertTrue(wait_for(lambda: n1.metric("avedge_redis_up") == 1, 8))
        # the slots decided locally are counted in Redis by the next round
        self.assertTrue(wait_for(lambda: self.redis.cli(
            "HVALS", "avedge/quota/%s/user/carol" % REALM) == "1", 8))

    def test_killed_node_leaves_within_node_ttl(self):
        n1, n2 = self.nodes
        self.redis.cli("SET", "turn/realm/%s/user-quota" % REALM, "1")
        _, r = self.allocate(n2, "alice")
        self.assertAllocated(r)
        _, r = self.allocate(n1, "alice")
        self.assertEqual(error_code(r[3]), 486)
        ids = wait_for(lambda: self.redis.cli("SMEMBERS", "avedge/node/n2/allocs").split(), 2)
        self.assertEqual(len(ids), 1)
        n2.stop(signal.SIGKILL)
        t0 = time.time()
        self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/alloc/" + ids[0]) == "0",
                                 TTL + 1))
        self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/node/n2") == "0", TTL + 1))
        self.assertLess(time.time() - t0, TTL + 0.5)
        _, r = self.allocate(n1, "alice")
        self.assertAllocated(r, "the dead node's slot is free")


class TestPeerPolicy(RedisCluster):
    nodes_wanted = 1

    def test_redis_is_never_a_peer(self):
        """Loopback peers are allowed here, yet Redis's address and port
        stay out of reach (a datagram to it counts as a denied peer)."""
        node = self.nodes[0]
        c, r = self.allocate(node, "alice")
        self.assertAllocated(r)
        peer = Peer()
        self.addCleanup(peer.close)
        self.assertEqual(c.create_permission("127.0.0.1")[1], 2)

        def denied():
            return node.metric('avedge_drops_total{reason="denied_peer"}') or 0
        before = denied()
        c.send_indication("127.0.0.1", peer.addr[1], struct.pack("!I", 7))
        self.assertTrue(wait_for(lambda: 7 in peer.got, 2), "other loopback port")
        c.send_indication("127.0.0.1", self.redis.port, b"PING\r\n")
        self.assertTrue(wait_for(lambda: denied() == before + 1, 2))



class TestRedisPeerLists(RedisCluster):
    """coturn's global peer lists in Redis (turn/allowed-peer-ip/<id>,
    turn/denied-peer-ip/<id>) add to the configuration's, on a node
    without --allow-loopback-peers, within 3 s either way."""
    nodes_wanted = 0
    redis_refuses_config = False

    def setUp(self):
        super().setUp()
        if self.redis_refuses_config:  # no keyspace notifications: polling
            self.redis.kill()
            self.redis.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.redis.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.redis.tmp,
                 "--rename-command", "CONFIG", ""],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.assertTrue(wait_for(lambda: self.redis.cli("PING") == "PONG", 10))
        n = Node("127.0.0.1", "n1", self.redis.port)
        n.args.remove("--allow-loopback-peers")
        self.addCleanup(n.cleanup)
        n.start()
        self.nodes.append(n)
        self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/node/n1") == "1", 5),
                        n.log())
        self.node = n
        self.c, r = self.allocate(n, "alice")
        self.assertAllocated(r)
        self.peer = Peer()
        self.addCleanup(self.peer.close)

    def perm_code(self):
        r = self.c.create_permission("127.0.0.1")
        return 200 if r[1] == 2 else error_code(r[3])

    def until(self, code, timeout=5.0):
        t0 = time.time()
        got = wait_for(lambda: self.perm_code() == code, timeout + 0.5, step=0.1)
        self.assertTrue(got, "CreatePermission never answered %d:\n%s" % (code, self.node.log()))
        return time.time() - t0

    def reaches(self, n):
        self.c.send_indication("127.0.0.1", self.peer.addr[1], struct.pack("!I", n))
        return wait_for(lambda: n in self.peer.got, 1)

    def test_allowed_then_denied_then_deleted(self):
        self.assertEqual(self.perm_code(), 403)
        self.redis.cli("SET", "turn/allowed-peer-ip/1", "127.0.0.1")
        self.assertLess(self.until(200), 5.0)
        self.assertTrue(self.reaches(1), "Send to the allowed peer")
        # denied wins over allowed, and closes what was permitted
        self.redis.cli("SET", "turn/denied-peer-ip/2", "127.0.0.1")
        self.assertLess(self.until(403), 5.0)
        self.assertFalse(self.reaches(2), "Send after the deny")
        self.redis.cli("DEL", "turn/denied-peer-ip/2")
        self.until(200)
        self.assertTrue(self.reaches(3))
        self.redis.cli("DEL", "turn/allowed-peer-ip/1")
        self.assertLess(self.until(403), 5.0)
        self.assertFalse(self.reaches(4))

    def test_rebuilt_policy_still_protects_redis_and_own_ports(self):
        self.redis.cli("SET", "turn/allowed-peer-ip/all", "127.0.0.0/8")
        self.until(200)

        def denied():
            return self.node.metric('avedge_drops_total{reason="denied_peer"}') or 0
        before = denied()
        self.assertTrue(self.reaches(5))
        self.c.send_indication("127.0.0.1", self.redis.port, b"PING\r\n")
        self.c.send_indication("127.0.0.1", self.node.port, b"x" * 20)
        self.c.send_indication("127.0.0.1", self.node.admin_port, b"GET /")
        self.assertTrue(wait_for(lambda: denied() == before + 3, 2), self.node.log())

    def test_coturn_range_and_prefix_forms(self):
        self.redis.cli("SET", "turn/allowed-peer-ip/r", "127.0.0.0 - 127.0.0.9")
        self.until(200)
        self.redis.cli("DEL", "turn/allowed-peer-ip/r")
        self.until(403)
        self.redis.cli("SET", "turn/allowed-peer-ip/p", "127.0.0.1/8")
        self.until(200)
        self.redis.cli("SET", "turn/denied-peer-ip/v6", "123::45")
        self.redis.cli("SET", "turn/denied-peer-ip/r", "127.0.0.1-127.0.0.1")
        self.until(403)

    def test_bad_value_warns_once_and_changes_nothing(self):
        self.redis.cli("SET", "turn/allowed-peer-ip/bad", "127.0.0.300")
        self.redis.cli("SET", "turn/denied-peer-ip/bad", "10.0.0.9-10.0.0.1")
        time.sleep(3.0)
        self.assertEqual(self.perm_code(), 403)
        log = self.node.log()
        self.assertEqual(log.count("turn/allowed-peer-ip/bad=127.0.0.300"), 1, log)
        self.assertEqual(log.count("turn/denied-peer-ip/bad=10.0.0.9-10.0.0.1"), 1, log)
        # a good key beside them still works; the node keeps running
        self.redis.cli("SET", "turn/allowed-peer-ip/good", "127.0.0.1")
        self.until(200)
        self.assertIsNone(self.node.proc.poll())


class TestRedisPeerListsPolled(TestRedisPeerLists):
    """The same where CONFIG is refused (managed Redis): the 2 s poll
    carries the changes."""
    redis_refuses_config = True

    def test_notifications_unavailable(self):
        self.assertIn("keyspace notifications unavailable", self.node.log())


import re  # noqa: E402

from turnclient import A_ALTERNATE_DOMAIN, StreamTurnClient  # noqa: E402


def registry(redis, node_id):
    h = redis.cli("HGETALL", "avedge/node/" + node_id).split("\n")
    return dict(zip(h[0::2], h[1::2]))


class UdpSink:
    """A UDP socket on ip that reports whether anything arrived."""

    def __init__(self, ip):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.sock.settimeout(1.0)
        self.addr = self.sock.getsockname()

    def got(self):
        try:
            return self.sock.recvfrom(2048)[0]
        except socket.timeout:
            return None


class TestOtherNodesNotPeers(RedisCluster):
    """Other nodes' listeners (from the registry) are never relay peers,
    even with --allow-loopback-peers; other ports of their IPs are."""

    def test_node_b_listener_is_no_peer_of_node_a(self):
        n1, n2 = self.nodes
        self.assertTrue(wait_for(lambda: re.search(r"[1-9][0-9]* listening endpoints of other", n1.log()), 4),
                        n1.log())
        eps = registry(self.redis, "n2")["endpoints"].split()
        self.assertIn("%s:%d" % n2.addr, eps)
        self.assertIn("%s:%d" % (n2.ip, n2.admin_port), eps)
        sink = UdpSink(n2.ip)
        self.addCleanup(sink.sock.close)
        c, r = self.allocate(n1, "alice")
        self.assertAllocated(r)
        # a permission is for an IP: node B's IP is fine
        self.assertEqual(c.create_permission(n2.ip)[1], 2)
        # its listening port is not, by ChannelBind or Send; admin neither
        r = c.channel_bind(0x4000, n2.ip, n2.port)
        self.assertEqual(error_code(r[3]), 403, n1.log())
        r = c.channel_bind(0x4001, n2.ip, n2.admin_port)
        self.assertEqual(error_code(r[3]), 403)
        before = n1.metric('avedge_drops_total{reason="denied_peer"}') or 0
        c.send_indication(n2.ip, n2.port, b"\x00\x01\x00\x00" + b"x" * 16)
        self.assertTrue(wait_for(
            lambda: n1.metric('avedge_drops_total{reason="denied_peer"}') == before + 1, 2))
        # another port of the same IP works
        self.assertEqual(c.channel_bind(0x4002, *sink.addr)[1], 2)
        c.send_indication(sink.addr[0], sink.addr[1], b"hello node-b's neighbour")
        self.assertEqual(sink.got(), b"hello node-b's neighbour")
        # and node B sees the same about node A
        c2, r = self.allocate(n2, "bob")
        self.assertAllocated(r)
        self.assertTrue(wait_for(lambda: re.search(r"[1-9][0-9]* listening endpoints of other", n2.log()), 4))
        self.assertEqual(c2.create_permission(n1.ip)[1], 2)
        r = c2.channel_bind(0x4000, n1.ip, n1.port)
        self.assertEqual(error_code(r[3]), 403)


def tls_client(addr, user, pw):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(addr, timeout=5)
    return StreamTurnClient(addr, user, pw, sock=ctx.wrap_socket(raw))


def alternate_domain(resp):
    v = resp[3].get(A_ALTERNATE_DOMAIN, [None])[0]
    return v.decode() if v is not None else None


class TestTlsAlternate(RedisCluster):
    """node-domain and the TLS port are in the registry; a TLS client that
    a draining node redirects is sent to the TLS port of the other node,
    with its ALTERNATE-DOMAIN; a UDP client to the UDP port, without."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="avedge-cluster-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        cert, key = os.path.join(self.tmp, "c.pem"), os.path.join(self.tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "1", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        self.redis = Redis().start()
        self.addCleanup(self.redis.cleanup)
        self.nodes, self.clients, self.tls_ports = [], [], []
        for i in range(2):
            ip = "127.0.0.%d" % (i + 1)
            tls = free_port(ip)
            n = Node(ip, "n%d" % (i + 1), self.redis.port,
                     ("--cert", cert, "--pkey", key, "--tls-listening-port", str(tls),
                      "--node-domain", "n%d.cluster.test" % (i + 1)))
            self.addCleanup(n.cleanup)
            n.start()
            self.nodes.append(n)
            self.tls_ports.append(tls)
        for n in self.nodes:
            self.assertTrue(wait_for(lambda: self.redis.cli("EXISTS", "avedge/node/" + n.id) == "1", 5))

    def test_tls_client_redirected_to_tls_port_with_domain(self):
        n1, n2 = self.nodes
        entry = registry(self.redis, "n2")
        self.assertEqual(entry["domain"], "n2.cluster.test")
        self.assertEqual(entry["tls_port"], str(self.tls_ports[1]))
        self.assertEqual(entry["dtls_port"], str(self.tls_ports[1]))
        self.assertIn("%s:%d" % (n2.ip, self.tls_ports[1]), entry["endpoints"].split())
        self.assertTrue(wait_for(lambda: "tls port %d dtls port %d domain n2.cluster.test" % (self.tls_ports[1], self.tls_ports[1])
                                 in n1.log(), 4), n1.log())
        n1.kill_with(signal.SIGUSR1)
        time.sleep(0.3)
        t = tls_client((n1.ip, self.tls_ports[0]), "alice", "alicepw")
        self.clients.append(t)
        r = t.allocate()
        self.assertEqual(error_code(r[3]), 300, n1.log())
        self.assertEqual(alternate_server(r), (n2.ip, self.tls_ports[1]))
        self.assertEqual(alternate_domain(r), "n2.cluster.test")
        # the redirect works: TLS to that port allocates
        t2 = tls_client(alternate_server(r), "alice", "alicepw")
        self.clients.append(t2)
        self.assertAllocated(t2.allocate())
        # UDP: the UDP port, and no ALTERNATE-DOMAIN
        _, r = self.allocate(n1, "bob")
        self.assertEqual(error_code(r[3]), 300)
        self.assertEqual(alternate_server(r), n2.addr)
        self.assertIsNone(alternate_domain(r))


if __name__ == "__main__":
    unittest.main()
