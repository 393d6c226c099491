"""tests/compare-edgectl.py - does `edgectl --redis` print what an older
edgectl printed? Both read one cluster state: two real nodes (with a real
redis-server, as in tests/integration/test_redis_cluster.py) plus hostile
records another node could have written; 11 commands, with and without
--json, compared byte for byte (stdout, stderr, exit code).

    AVEDGE_BUILD=build OLD=<old build>/tools/edgectl NEW=build/tools/edgectl \
        python3 tests/compare-edgectl.py
"""
import os, subprocess, sys, time, unittest
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
from test_redis_cluster import RedisCluster
from harness import wait_for

OLD, NEW = os.environ["OLD"], os.environ["NEW"]

def ctl(binary, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVEDGE_")}
    r = subprocess.run([binary] + args, capture_output=True, text=True, env=env, timeout=30)
    return (r.returncode, r.stdout, r.stderr)

class Cmp(RedisCluster):
    nodes_wanted = 2
    def test_same(self):
        n1, n2 = self.nodes
        self.allocate(n1, "alice")
        self.allocate(n2, "bob")
        for n in self.nodes:
            self.assertTrue(wait_for(lambda: self.redis.cli("HGET", "avedge/node/" + n.id, "allocations") == "1", 3))
        # hostile data another node could have written
        self.redis.cli("SADD", "avedge/nodes", "zz<&>\x01\xff")
        self.redis.cli("SADD", "avedge/nodes", "dead")
        self.redis.cli("HSET", "avedge/node/zz<&>\x01\xff", "allocations", "x7", "version", "v\"1\\<b>\xe9\x7f", "draining", "1", "max_allocations", "10", "updated", "1")
        self.redis.cli("SADD", "avedge/node/n1/allocs", "n1-0-10", "n1-0-9", "weird<&>", "n1-1-1", "a-b-0-1")
        self.redis.cli("HSET", "avedge/alloc/weird<&>", "user", "m\xc3\xa9<&>", "realm", "r", "created", "5", "relay", "", "relay2", "1.2.3.4:5")
        self.redis.cli("HSET", "avedge/alloc/n1-0-10", "user", "alice", "realm", "test.local", "expires", "99999999999", "to_peer_bytes", "12x")
        self.redis.cli("HSET", "avedge/alloc/a-b-0-1", "user", "u")
        url = "redis://127.0.0.1:%d/0" % self.redis.port
        cases = []
        for cmd in (["nodes"], ["allocations"], ["status"]):
            cases += [cmd, cmd + ["--json"]]
        cases += [["allocations", "--user", "alice"], ["allocations", "--user", "alice", "--json"],
                  ["allocations", "--limit", "2", "--offset", "1", "--json"],
                  ["allocations", "--realm", "r", "--json"], ["nodes", "--timeout", "x"]]
        bad = 0
        for c in cases:
            for attempt in range(4):
                a = ctl(OLD, ["--redis", url] + c)
                b = ctl(NEW, ["--redis", url] + c)
                if a == b:
                    break
                time.sleep(0.3)
            if a != b:
                bad += 1
                print("DIFF", c, "\nOLD", a, "\nNEW", b)
            else:
                print("same", c, len(a[1]))
        if os.environ.get("SHOW"):
            print(ctl(NEW, ["--redis", url, "allocations", "--json"])[1])
            print(ctl(NEW, ["--redis", url, "nodes"])[1])
        self.assertEqual(bad, 0)

if __name__ == "__main__":
    unittest.main(argv=["x", "-v"])
