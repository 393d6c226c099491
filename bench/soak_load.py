#!/usr/bin/env python3
"""bench/soak_load.py - the clients of bench/soak.sh (see bench/README.md).

Steady flows (never kicked): one TURN allocation each over UDP, TCP or TLS,
a channel to a UDP peer socket of ours that echoes every payload back to
the relayed address, PPS packets/s each way; every payload carries the
flow and a sequence number, so loss is counted exactly (sent by the client
vs received back). Allocation and channel are refreshed every 120 s.

Churn: workers that allocate (user "churn"), bind a channel, send a few
packets, hold 0.2-2 s and free (Refresh lifetime 0), at a bounded rate,
over UDP and now and then TCP. A kicker deletes one churn allocation
through the admin API every KICK seconds (only user "churn").

Control through files in --dir: `pause` (written by soak.sh) stops churn
and kicks; once every churn allocation is freed we write `paused`, and go
on when `pause` is gone. `stop` ends the run: flows stop sending, wait 2 s
for stragglers, free their allocations, and one JSON report goes to
stdout. --max-seconds bounds the whole run whatever happens.
"""
import argparse
import json
import os
import random
import selectors
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import turnclient as tc  # noqa: E402

MAGIC = b"AVSOAK01"
lock = threading.Lock()
stop_ev = threading.Event()
errors = []  # (time, where, what), the first 50 kept


def note_error(where, what):
    with lock:
        counts["client_errors"] += 1
        if len(errors) < 50:
            errors.append("%.1f %s: %s" % (time.time() - T0, where, what))


counts = {"client_errors": 0}
T0 = time.time()


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["stun.turn"])
    return ctx


def connect(kind, server, tls_port, user, pw, timeout=5.0):
    if kind == "udp":
        return tc.TurnClient(server, user, pw, timeout=timeout)
    if kind == "tcp":
        return tc.StreamTurnClient(server, user, pw, timeout=timeout)
    raw = socket.create_connection((server[0], tls_port), timeout=timeout)
    s = tls_ctx().wrap_socket(raw, server_hostname="localhost")
    return tc.StreamTurnClient((server[0], tls_port), user, pw, timeout=timeout, sock=s)


def ok(resp):
    return resp is not None and resp[1] == 2


class Peer:
    """UDP echo sockets on loopback, one thread for all of them."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.socks = []

    def new(self, echo=True):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        with lock:
            self.socks.append(s)
            self.sel.register(s, selectors.EVENT_READ, echo)
        return s.getsockname()

    def run(self):
        while not stop_ev.is_set():
            for key, _ in self.sel.select(0.2):
                for _ in range(64):
                    try:
                        data, addr = key.fileobj.recvfrom(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if not key.data:  # a sink
                        continue
                    try:
                        key.fileobj.sendto(data, addr)
                    except OSError as e:
                        note_error("peer", repr(e))


class Flow:
    """One steady flow: allocation, channel 0x4000, PPS packets/s."""

    def __init__(self, n, kind, a, peer):
        self.n, self.kind, self.a = n, kind, a
        self.name = "%s%d" % (kind, n)
        self.sent = 0
        self.got = set()
        self.dups = 0
        self.refresh_errors = 0
        self.setup_error = None
        self.peer_addr = peer.new()
        self.buf = b""
        self.pending = {}  # tid -> (method, attrs, first sent)
        self.done = False

    def setup(self):
        try:
            c = connect(self.kind, self.a.server, self.a.tls_port, "steady", self.a.password)
            r = c.allocate(lifetime=600)
            if not ok(r):
                raise RuntimeError("Allocate: %s" % tc.error_code(r[3]))
            r = c.channel_bind(0x4000, *self.peer_addr)
            if not ok(r):
                raise RuntimeError("ChannelBind: %s" % tc.error_code(r[3]))
            self.c = c
        except Exception as e:  # noqa: BLE001 - reported
            self.setup_error = repr(e)
            note_error(self.name, "setup " + repr(e))
            return False
        return True

    def payload(self, seq):
        body = MAGIC + struct.pack("!IQ", self.n, seq)
        return body + b"\0" * (self.a.payload - len(body))

    def send_cd(self, data):
        n = len(data)
        frame = struct.pack("!HH", 0x4000, n) + data
        if self.kind != "udp":
            frame += b"\0" * ((4 - n % 4) % 4)
        self.c.send_raw(frame)

    def request(self, method, attrs):
        tid = os.urandom(12)
        extra = [tc.attr(tc.A_USERNAME, b"steady"), tc.attr(tc.A_REALM, self.c.realm),
                 tc.attr(tc.A_NONCE, self.c.nonce)]
        data, _ = tc.build(method, 0, list(attrs) + extra, tid=tid, key=self.c.key)
        self.pending[tid] = (method, attrs, time.time())
        self.c.send_raw(data)

    def refresh(self):
        self.request(tc.REFRESH, [tc.attr(tc.A_LIFETIME, struct.pack("!I", 600))])
        self.refresh_bind_only()

    def on_message(self, data):
        if data[0] & 0xC0 == 0x40:
            n = struct.unpack("!H", data[2:4])[0]
            p = data[4:4 + n]
            if p[:8] == MAGIC:
                fid, seq = struct.unpack("!IQ", p[8:20])
                if fid == self.n:
                    if seq in self.got:
                        self.dups += 1
                    self.got.add(seq)
            return
        m = tc.parse(data)
        if not m or m[2] not in self.pending:
            return
        method, attrs, _ = self.pending.pop(m[2])
        if m[1] == 2:
            return
        code = tc.error_code(m[3])
        if code == 438 and tc.A_NONCE in m[3]:
            self.c.nonce = m[3][tc.A_NONCE][0]
            if method == tc.CHANNEL_BIND:
                self.refresh_bind_only()
            else:
                self.request(method, attrs)
            return
        self.refresh_errors += 1
        note_error(self.name, "refresh method %d: %s" % (method, code))

    def refresh_bind_only(self):
        ip, port = self.peer_addr
        xtid = os.urandom(12)
        data, _ = tc.build(tc.CHANNEL_BIND, 0, [
            tc.attr(tc.A_CHANNEL, struct.pack("!HH", 0x4000, 0)),
            tc.attr(tc.A_XOR_PEER, tc.xor_addr(ip, port, xtid)),
            tc.attr(tc.A_USERNAME, b"steady"), tc.attr(tc.A_REALM, self.c.realm),
            tc.attr(tc.A_NONCE, self.c.nonce)], tid=xtid, key=self.c.key)
        self.pending[xtid] = (tc.CHANNEL_BIND, None, time.time())
        self.c.send_raw(data)

    def read_some(self):
        try:
            if self.kind == "udp":
                data = self.c.sock.recv(65536)
                self.on_message(data)
                return
            chunk = self.c.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk
        while len(self.buf) >= 4:
            if self.buf[0] & 0xC0 == 0x40:
                n = 4 + ((struct.unpack("!H", self.buf[2:4])[0] + 3) & ~3)
            else:
                if len(self.buf) < 20:
                    break
                n = 20 + struct.unpack("!H", self.buf[2:4])[0]
            if len(self.buf) < n:
                break
            frame, self.buf = self.buf[:n], self.buf[n:]
            self.on_message(frame)

    def run(self):
        gap = 1.0 / self.a.pps
        self.c.sock.settimeout(0.005)
        nxt = time.time()
        next_refresh = time.time() + 120
        try:
            while not stop_ev.is_set():
                now = time.time()
                while nxt <= now and not stop_ev.is_set():
                    self.send_cd(self.payload(self.sent))
                    self.sent += 1
                    nxt += gap
                    if now - nxt > 1.0:  # we were held up: do not burst
                        nxt = now
                if now >= next_refresh:
                    self.refresh()
                    next_refresh = now + 120
                for tid, (method, _, t) in list(self.pending.items()):
                    if now - t > 10:
                        del self.pending[tid]
                        self.refresh_errors += 1
                        note_error(self.name, "refresh method %d: no answer" % method)
                self.read_some()
            # stragglers
            end = time.time() + 2.0
            while time.time() < end and len(self.got) < self.sent:
                self.read_some()
            # free: Refresh lifetime 0, answered through on_message
            self.pending.clear()
            self.request(tc.REFRESH, [tc.attr(tc.A_LIFETIME, b"\0\0\0\0")])
            end = time.time() + 5.0
            while self.pending and time.time() < end:
                self.read_some()
            if self.pending:
                note_error(self.name, "free: no answer")
        except Exception as e:  # noqa: BLE001
            note_error(self.name, "flow " + repr(e))
        finally:
            self.done = True
            try:
                self.c.close()
            except Exception:  # noqa: BLE001
                pass

    def report(self):
        lost = max(0, self.sent - len(self.got))
        return {"flow": self.name, "sent": self.sent, "received": len(self.got),
                "lost": lost, "loss_pct": round(100.0 * lost / self.sent, 4) if self.sent else None,
                "dups": self.dups, "refresh_errors": self.refresh_errors,
                "setup_error": self.setup_error}


class Churn:
    def __init__(self, a, peer, wid):
        self.a, self.wid = a, wid
        self.peer_addr = peer.new(echo=False)  # a sink: no ChannelData among answers
        self.idle = threading.Event()
        self.c = {"allocs_ok": 0, "allocs_failed": 0, "frees_ok": 0,
                  "frees_437": 0, "frees_closed": 0, "other_errors": 0}

    def one(self, i):
        kind = "tcp" if i % 5 == 4 else "udp"
        try:
            c = connect(kind, self.a.server, self.a.tls_port, "churn", self.a.password, timeout=3)
        except Exception as e:  # noqa: BLE001
            self.c["other_errors"] += 1
            note_error("churn", "connect " + repr(e))
            return
        try:
            try:
                r = c.allocate(lifetime=120)
            except Exception as e:  # noqa: BLE001
                self.c["allocs_failed"] += 1
                note_error("churn", "allocate " + repr(e))
                return
            if not ok(r):
                self.c["allocs_failed"] += 1
                note_error("churn", "allocate %s" % tc.error_code(r[3]))
                return
            self.c["allocs_ok"] += 1
            try:
                c.channel_bind(0x4001, *self.peer_addr)
                for k in range(3):
                    payload = b"churn%03d" % k
                    frame = struct.pack("!HH", 0x4001, len(payload)) + payload
                    c.send_raw(frame)
                end = time.time() + random.uniform(0.2, 2.0)
                while time.time() < end and not stop_ev.is_set():
                    time.sleep(0.05)
                r = c.transact(tc.REFRESH, [tc.attr(tc.A_LIFETIME, b"\0\0\0\0")])
                code = None if ok(r) else tc.error_code(r[3])
                if code is None:
                    self.c["frees_ok"] += 1
                elif code == 437:
                    self.c["frees_437"] += 1  # kicked meanwhile
                else:
                    self.c["other_errors"] += 1
                    note_error("churn", "free %s" % code)
            except (ConnectionError, BrokenPipeError, ssl.SSLError) as e:
                self.c["frees_closed"] += 1  # a kicked stream allocation
                del e
            except socket.timeout:
                self.c["other_errors"] += 1
                note_error("churn", "timeout after allocate (%s)" % kind)
            except Exception as e:  # noqa: BLE001
                self.c["other_errors"] += 1
                note_error("churn", "after allocate (%s): %r" % (kind, e))
        finally:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass

    def run(self):
        gap = self.a.workers / self.a.churn_rate
        i = 0
        while not stop_ev.is_set() and i < 10_000_000:
            if os.path.exists(os.path.join(self.a.dir, "pause")):
                self.idle.set()
                time.sleep(0.1)
                continue
            self.idle.clear()
            t = time.time()
            try:
                self.one(i)
            except Exception as e:  # noqa: BLE001
                self.c["other_errors"] += 1
                note_error("churn", repr(e))
            i += 1
            rest = gap - (time.time() - t)
            if rest > 0:
                stop_ev.wait(rest)
        self.idle.set()


def kicker(a, res):
    hdr = {"Authorization": "Bearer " + a.token}
    base = "http://%s" % a.admin
    while not stop_ev.wait(a.kick_every):
        if os.path.exists(os.path.join(a.dir, "pause")):
            continue
        try:
            req = urllib.request.Request(base + "/api/allocations?user=churn&limit=1000", headers=hdr)
            with urllib.request.urlopen(req, timeout=5) as r:
                allocs = json.loads(r.read())["allocations"]
            res["listed"] += 1
            bad = [x["id"] for x in allocs if x.get("user") != "churn"]
            if bad:
                note_error("kicker", "listing for churn gave other users' %s" % bad)
                continue
            if not allocs:
                res["nothing_to_kick"] += 1
                continue
            aid = random.choice(allocs)["id"]
            req = urllib.request.Request(base + "/api/allocations/" + aid, method="DELETE", headers=hdr)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    res["kicked_%d" % r.status] = res.get("kicked_%d" % r.status, 0) + 1
            except urllib.error.HTTPError as e:
                if e.code == 404:  # freed meanwhile
                    res["kick_404"] += 1
                else:
                    raise
        except Exception as e:  # noqa: BLE001
            res["errors"] += 1
            note_error("kicker", repr(e))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--admin", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--password", default="soakpw")
    p.add_argument("--dir", required=True)
    p.add_argument("--udp", type=int, default=4)
    p.add_argument("--tcp", type=int, default=2)
    p.add_argument("--tls", type=int, default=2)
    p.add_argument("--pps", type=float, default=50)
    p.add_argument("--payload", type=int, default=100)
    p.add_argument("--churn-rate", type=float, default=8)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--kick-every", type=float, default=5)
    p.add_argument("--max-seconds", type=float, required=True)
    a = p.parse_args()
    host, port = a.server.rsplit(":", 1)
    a.server = (host, int(port))

    peer = Peer()
    flows = []
    for kind, n in (("udp", a.udp), ("tcp", a.tcp), ("tls", a.tls)):
        for _ in range(n):
            flows.append(Flow(len(flows), kind, a, peer))
    threads = [threading.Thread(target=peer.run, daemon=True)]
    for f in flows:
        if f.setup():
            threads.append(threading.Thread(target=f.run, daemon=True))
    churn = [Churn(a, peer, i) for i in range(a.workers)]
    threads += [threading.Thread(target=c.run, daemon=True) for c in churn]
    kick = {"listed": 0, "nothing_to_kick": 0, "kick_404": 0, "errors": 0}
    threads.append(threading.Thread(target=kicker, args=(a, kick), daemon=True))
    for t in threads:
        t.start()
    print("soak_load: %d flows up, %d failed" % (
        sum(1 for f in flows if not f.setup_error), sum(1 for f in flows if f.setup_error)),
        file=sys.stderr, flush=True)
    with open(os.path.join(a.dir, "ready"), "w"):
        pass
    deadline = T0 + a.max_seconds
    paused = os.path.join(a.dir, "paused")
    while time.time() < deadline and not os.path.exists(os.path.join(a.dir, "stop")):
        if os.path.exists(os.path.join(a.dir, "pause")):
            if all(c.idle.is_set() for c in churn) and not os.path.exists(paused):
                with open(paused, "w"):
                    pass
        elif os.path.exists(paused):
            os.unlink(paused)
        time.sleep(0.1)
    if time.time() >= deadline:
        note_error("soak_load", "--max-seconds reached before stop")
    stop_ev.set()
    for t in threads:
        t.join(15)
    ch = {}
    for c in churn:
        for k, v in c.c.items():
            ch[k] = ch.get(k, 0) + v
    rep = {"flows": [f.report() for f in flows],
           "churn": ch, "kicks": kick, "client_errors": counts["client_errors"],
           "errors": errors, "seconds": round(time.time() - T0, 1),
           "flows_running_at_end": sum(1 for f in flows if not f.done and not f.setup_error)}
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
