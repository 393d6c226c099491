"""Golden tests of the daemon's externally visible formats, so that a
refactor can show it changed none of them. Everything is compared with
files under tests/integration/golden/; GOLDEN_UPDATE=1 writes those files
from what the build under test does instead of comparing.

What is pinned:
* api_shapes.json, api_redis_shapes.json: every admin endpoint (JSON, text,
  the dashboard's files, error bodies): status line, response headers
  (Date and Content-Length masked), and the JSON shape: key names, key
  order and value types, recursively (numbers -> "<int>"/"<float>",
  strings -> "<str>" except the fixed texts of LITERAL_KEYS, booleans ->
  "<bool>", null kept). Text bodies are kept literally, the dashboard's
  files as a SHA-256. The Redis file adds the cluster scope and the events
  published on avedge/events.
* api_skeletons.txt, api_redis_skeletons.txt: each JSON body byte for
  byte with every scalar replaced by a placeholder: punctuation, spacing,
  key order and the final newline stay as sent.
* metrics.txt, metrics_redis.txt: /metrics family by family: the # HELP
  and # TYPE lines byte for byte, the label names, the values of the
  fixed-set labels, and each distinct sample line with variable label
  values and the number masked.
* log_text.txt, log_json.txt: the daemon's log (log-format text and json)
  over one scripted run: start-up, allocations created, refused and
  deleted (refresh 0, kick), an auth failure, admin API credential changes
  and drains, SIGUSR1/2, SIGHUP (a restart-only key changed, a rejected
  configuration) and the stop, with times, ports, paths, allocation ids,
  the version and the fd limit masked (log_masks()). Lines that different
  threads write for one step (a credential change: main thread and admin
  thread) are sorted within that step; every other line keeps its order.
  The daemon logs nothing for a refresh, a permission or a channel.

One daemon per log format runs the same script (1 worker thread, so the
order of allocations and of worker log lines is fixed); another runs with
a real redis-server on a free loopback port (skipped without one), one
without an admin token (403). /api/history has its first sample 10 s
after the start: the text-format daemon lives that long, while the others
run. Every process is stopped by PID.
"""
import difflib
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, free_port, have, wait_for
from turnclient import A_LIFETIME, REFRESH, TurnClient, attr, error_code

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"

TOKEN = "golden-admin-token-0123456789"
NODE = "golden-1"
REDIS_NODE = "golden-r"
REALM = "golden.test"
USERS = ["--user", "alice:alicepw", "--user", "bob:bobpw"]
CONFIG = "max-allocations = 2\nmax-bps = %s\n"
CHANNEL = 0x4000
RTP_PACKETS = 20

# JSON strings kept literally: fixed texts and enumerations, not data.
LITERAL_KEYS = {"scope", "transport", "redis", "store", "source", "error",
                "note", "media_note", "event", "reason"}
# Prometheus labels whose values are a fixed set (the others: realm,
# worker, version, are masked).
FIXED_LABELS = {"transport", "reason", "code", "method", "direction", "kind",
                "band", "le", "cause", "dir", "value"}
MASKED_HEADERS = {"date", "content-length"}


# --- normalizing ------------------------------------------------------------

def shape(value, key=None):
    """value with every scalar replaced by its type; keys and their order,
    and arrays element by element, kept."""
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v, key) for v in value]
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, int):
        return "<int>"
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, str):
        return value if key in LITERAL_KEYS else "<str>"
    return value  # None


NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


def skeleton(text):
    """The raw JSON text with each scalar replaced by a placeholder
    ("<str>", <int>, <float>, <bool>; null and LITERAL_KEYS strings kept);
    whitespace, punctuation and key order exactly as in text."""
    out, pos = [], 0

    def ws():
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        out.append(text[start:pos])

    def expect(ch):
        nonlocal pos
        if text[pos:pos + 1] != ch:
            raise ValueError("expected %r at %d of %r" % (ch, pos, text))
        out.append(ch)
        pos += 1

    def string():
        nonlocal pos
        start = pos
        expect('"')
        out.pop()
        while text[pos] != '"':
            pos += 2 if text[pos] == "\\" else 1
        pos += 1
        return text[start:pos]

    def value(key):
        nonlocal pos
        c = text[pos:pos + 1]
        if c in ("{", "["):
            close = "}" if c == "{" else "]"
            expect(c)
            ws()
            if text[pos:pos + 1] == close:
                expect(close)
                return
            while True:
                if c == "{":
                    raw = string()
                    out.append(raw)
                    ws()
                    expect(":")
                    ws()
                    value(json.loads(raw))
                else:
                    value(key)
                ws()
                if text[pos:pos + 1] != ",":
                    break
                expect(",")
                ws()
            expect(close)
        elif c == '"':
            raw = string()
            out.append(raw if key in LITERAL_KEYS else '"<str>"')
        else:
            for word in ("true", "false", "null"):
                if text.startswith(word, pos):
                    out.append("null" if word == "null" else "<bool>")
                    pos += len(word)
                    return
            m = NUMBER.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError("bad JSON at %d of %r" % (pos, text))
            out.append("<float>" if m.group(1) or m.group(2) else "<int>")
            pos = m.end()

    ws()
    value(None)
    ws()
    if pos != len(text):
        raise ValueError("trailing bytes at %d of %r" % (pos, text))
    return "".join(out)


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics_golden(text):
    """/metrics family by family: HELP and TYPE lines as sent, label names,
    fixed-set label values, distinct sample lines with masked values."""
    families, order = {}, []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# "):
            name = line.split(" ")[2]
            if name not in families:
                families[name] = {"meta": [], "labels": {}, "samples": []}
                order.append(name)
            families[name]["meta"].append(line)
            continue
        m = SAMPLE.match(line)
        name, labels, value = m.groups() if m else ("(unparsed)", None, None)
        fam = families.setdefault(name, {"meta": [], "labels": {}, "samples": []})
        if name not in order:
            order.append(name)
        for k, v in LABEL.findall(labels or ""):
            fam["labels"].setdefault(k, set()).add(v if k in FIXED_LABELS else "<masked>")
        masked = LABEL.sub(lambda x: '%s="%s"' % (
            x.group(1), x.group(2) if x.group(1) in FIXED_LABELS else "<str>"), labels or "")
        kind = "<int>" if re.fullmatch(r"\d+", value or "") else \
            "<float>" if re.fullmatch(r"\d+\.\d+", value or "") else repr(value)
        s = "%s%s %s" % (name, "{%s}" % masked if labels is not None else "", kind)
        if not m:
            s = "unparsed line %r" % line
        if s not in fam["samples"]:
            fam["samples"].append(s)
    out = []
    for name in order:
        fam = families[name]
        out.extend(fam["meta"])
        out.append("  label names: %s" % (", ".join(sorted(fam["labels"])) or "-"))
        for k in sorted(fam["labels"]):
            out.append("  %s: %s" % (k, ", ".join(sorted(fam["labels"][k]))))
        for s in fam["samples"]:
            out.append("  sample: " + s)
    return "\n".join(out) + "\n"


def log_masks(tmp):
    return [
        (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "<TS>"),
        (re.compile(re.escape(tmp)), "<TMP>"),
        (re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}):\d+\b"), r"\1:<PORT>"),
        (re.compile(r"file descriptor limit \d+: room for about \d+ allocations"),
         "file descriptor limit <N>: room for about <N> allocations"),
        (re.compile(r"\b%s-\d+-\d+\b" % re.escape(NODE)), "<ALLOC_ID>"),
        (re.compile(r"\(\d+ earlier lines suppressed\)"), "(<N> earlier lines suppressed)"),
        (re.compile(r"avedge \S+ ready"), "avedge <VERSION> ready"),
    ]


# --- talking to the daemon ----------------------------------------------------

def http_call(port, method, path, token=TOKEN, body=None):
    """(status line, [(header, value)], body bytes)."""
    headers = {}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body, separators=(",", ":"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return "%d %s" % (r.status, r.reason), r.getheaders(), r.read()
    finally:
        conn.close()


def rtp(seq, ssrc):
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + b"\x55" * 160


class Recorder:
    """The admin answers of one daemon, normalized, by case name."""

    def __init__(self, port, record=True):
        self.port, self.record = port, record
        self.shapes, self.skeletons = {}, []

    def call(self, name, method, path, token=TOKEN, body=None, want=None):
        status, headers, raw = http_call(self.port, method, path, token, body)
        # The status is pinned with the rest: comparing, a different one
        # shows in the diff; writing goldens, the script must go as meant.
        if want is not None and not status.startswith(str(want)) and (UPDATE or not self.record):
            raise AssertionError("%s %s: %s %r" % (method, path, status, raw[:300]))
        if not self.record:
            return raw
        entry = {"status": status,
                 "headers": ["%s: %s" % (k, "<masked>" if k.lower() in MASKED_HEADERS else v)
                             for k, v in headers]}
        ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        text = raw.decode("utf-8", "replace")
        if ctype.startswith("application/json") and raw:
            try:
                entry["json"] = shape(json.loads(text))
                skel = skeleton(text)
            except ValueError as e:
                entry["json"] = skel = "<<not JSON (%s): %r>>\n" % (e, text)
            self.skeletons.append("### %s %s -> %s\n%s<END>\n" % (method, name, status, skel))
        elif name == "/metrics":
            entry["body"] = "(see metrics*.txt)"
        elif ctype.startswith(("text/html; charset", "text/css", "text/javascript")) and \
                status.startswith("200"):
            entry["body_sha256"] = hashlib.sha256(raw).hexdigest()
            entry["body_length"] = len(raw)
        else:
            entry["body"] = text
        key = "%s %s" % (method, name)
        if key in self.shapes:
            raise AssertionError("case twice: " + key)
        self.shapes[key] = entry
        return raw

    def event(self, name, text):
        self.shapes[name] = {"json": shape(json.loads(text))}
        self.skeletons.append("### %s\n%s<END>\n" % (name, skeleton(text)))

    def shapes_text(self):
        return json.dumps(self.shapes, indent=2, ensure_ascii=False) + "\n"

    def skeletons_text(self):
        return "".join(self.skeletons)


class LogSteps:
    """The daemon's log cut into steps: a step ends when the lines it
    waits for are there; its lines, masked, in order or sorted."""

    def __init__(self, d):
        self.d, self.mark, self.parts = d, 0, []
        self.masks = log_masks(d.tmp)

    def raw(self):
        with open(self.d.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def step(self, needles=(), ordered=True, timeout=5.0):
        deadline = time.time() + timeout
        missing = list(needles)
        while True:
            text = self.raw()
            cut = text.rfind("\n", self.mark) + 1 or self.mark
            seg = text[self.mark:cut]
            missing = [n for n in needles if seg.count(n) < needles.count(n)]
            if not missing or time.time() > deadline:
                break
            time.sleep(0.02)
        lines = [self.mask(line) for line in seg.splitlines()]
        if not ordered:
            lines.sort()
        lines += ["<<missing: a line with %r>>" % n for n in missing]
        self.parts.extend(lines)
        self.mark = cut

    def mask(self, line):
        for rx, repl in self.masks:
            line = rx.sub(repl, line)
        return line

    def text(self):
        return "".join(line + "\n" for line in self.parts)


class RedisEvents:
    """SUBSCRIBE avedge/events on a plain socket; messages in order."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")
        self.sock.sendall(b"SUBSCRIBE avedge/events\r\n")
        self.read()  # the subscribe confirmation
        self.messages = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def read(self):
        line = self.f.readline()
        if not line:
            raise EOFError
        kind, rest = line[:1], line[1:].strip()
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        return rest

    def run(self):
        try:
            while True:
                msg = self.read()
                if isinstance(msg, list) and msg and msg[0] == b"message":
                    self.messages.append(msg[2].decode())
        except (OSError, EOFError, ValueError):
            pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


# --- the scripted runs ----------------------------------------------------------

def turn_daemon(log_format, extra=()):
    admin_port = free_port()
    d = Daemon(["--relay-ip", "127.0.0.1", "--realm", REALM, "--allow-loopback-peers",
                "--threads", "1", "--min-port", "61000", "--max-port", "62999",
                "--node-id", NODE, "--admin-listen", "127.0.0.1:%d" % admin_port,
                "--log-format", log_format] + USERS + list(extra),
               config=CONFIG % 0)
    d.admin_port = admin_port
    return d


def wait_admin(port):
    def up():
        try:
            return http_call(port, "GET", "/healthz", token=None)[0].startswith("200")
        except OSError:
            return False
    if not wait_for(up, 10):
        raise RuntimeError("admin server not up on %d" % port)


class Script:
    """The run both log formats share. rec records the admin answers (the
    text-format run only); log cuts the log into steps."""

    def __init__(self, d, rec, clients):
        self.d, self.rec, self.clients = d, rec, clients
        self.log = LogSteps(d)
        self.server = ("127.0.0.1", d.port)

    def client(self, user, password):
        c = TurnClient(self.server, user, password)
        self.clients.append(c)
        return c

    def must(self, resp, what):
        if resp[1] != 2:
            raise AssertionError("%s: %s" % (what, error_code(resp[3])))

    def run_until_kick(self):
        d, rec, log = self.d, self.rec, self.log
        wait_admin(d.admin_port)
        log.step(["worker threads", " ready"])
        rec.call("/healthz", "GET", "/healthz", token=None, want=200)
        rec.call("/readyz", "GET", "/readyz", token=None, want=200)
        for path in ("/", "/index.html", "/dashboard.js", "/dashboard.css"):
            rec.call(path, "GET", path, token=None, want=200)

        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.clients.append(peer)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(3)
        pip, pport = peer.getsockname()

        alice = self.alice = self.client("alice", "alicepw")
        resp = alice.allocate()
        self.must(resp, "alice allocate")
        relay = alice.relayed(resp)
        log.step(["allocation created: user=alice"])
        self.must(alice.create_permission(pip), "alice permission")
        self.must(alice.channel_bind(CHANNEL, pip, pport), "alice channel")
        # RTP both ways: media summaries and per-SSRC reports appear
        for i in range(RTP_PACKETS):
            alice.channel_data(CHANNEL, rtp(i + 1, 0x11223344))
            peer.recvfrom(2048)
        for i in range(RTP_PACKETS):
            peer.sendto(rtp(i + 1, 0xA1B2C3D4), relay)
            alice.recv()
        self.must(alice.transact(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 300))]),
                  "alice refresh")
        log.step()

        bob = self.bob = self.client("bob", "bobpw")
        self.must(bob.allocate(), "bob allocate")
        log.step(["allocation created: user=bob"])
        self.must(bob.create_permission(pip), "bob permission")

        bad = self.client("alice", "not-the-password")
        if error_code(bad.allocate()[3]) != 401:
            raise AssertionError("a wrong password allocated")
        log.step(["auth failure: "])
        third = self.client("alice", "alicepw")
        if error_code(third.allocate()[3]) != 508:
            raise AssertionError("max-allocations 2 let a third allocation in")
        log.step(["allocate refused: "])

        listing = json.loads(http_call(d.admin_port, "GET", "/api/allocations")[2])
        ids = {a["user"]: a["id"] for a in listing["allocations"]}
        self.ids = ids
        self.api_reads(ids)
        self.api_errors(ids)
        log.step()
        self.credentials()
        self.drain()
        self.sighup()

    def api_reads(self, ids):
        rec = self.rec
        self.metrics = rec.call("/metrics", "GET", "/metrics", want=200).decode()
        for path in ("/api/stats", "/api/stats?scope=node", "/api/stats?scope=cluster",
                     "/api/allocations", "/api/allocations?scope=cluster",
                     "/api/allocations?user=alice&offset=0&limit=1",
                     "/api/allocations?peer=127.0.0.1&realm=" + REALM,
                     "/api/allocations?user=nobody", "/api/nodes",
                     "/api/users", "/api/secrets", "/api/history?since=99999999999"):
            rec.call(path, "GET", path, want=200)
        rec.call("/api/stats", "HEAD", "/api/stats", want=200)
        rec.call("/api/allocations/{alice}", "GET", "/api/allocations/" + ids["alice"],
                 want=200)
        rec.call("/api/allocations/{bob}", "GET", "/api/allocations/" + ids["bob"], want=200)

    def api_errors(self, ids):
        rec = self.rec
        rec.call("/api/stats (no token)", "GET", "/api/stats", token=None, want=401)
        rec.call("/api/stats (wrong token)", "GET", "/api/stats",
                 token="wrong-token-wrong-token-00", want=401)
        rec.call("/api/stats?token=TOKEN", "GET", "/api/stats?token=" + TOKEN, token=None,
                 want=401)
        rec.call("/api/stats?access_token=TOKEN", "GET", "/api/stats?access_token=" + TOKEN,
                 want=401)
        rec.call("/metrics (no token)", "GET", "/metrics", token=None, want=401)
        rec.call("/no/such/path", "GET", "/no/such/path", want=404)
        rec.call("/api/allocations/{node}-0-999", "GET",
                 "/api/allocations/%s-0-999" % NODE, want=404)
        rec.call("/api/allocations/other-0-1", "GET", "/api/allocations/other-0-1", want=404)
        rec.call("/api/allocations/{node}-0-999", "DELETE",
                 "/api/allocations/%s-0-999" % NODE, want=404)
        rec.call("/api/allocations/{bob}", "POST", "/api/allocations/" + ids["bob"], want=405)
        rec.call("/api/drain", "GET", "/api/drain", want=405)
        rec.call("/metrics", "POST", "/metrics", want=405)
        rec.call("/api/stats", "POST", "/api/stats", want=405)
        rec.call("/api/users", "PUT", "/api/users", want=None)
        for path in ("/api/stats?scope=galaxy", "/api/allocations?scope=galaxy",
                     "/api/allocations?limit=0", "/api/allocations?offset=x",
                     "/api/allocations?peer=nope", "/api/allocations?user=",
                     "/api/allocations?realm=", "/api/history?since=x"):
            rec.call(path, "GET", path, want=400)
        rec.call("/api/users/alice", "GET", "/api/users/alice", want=405)
        rec.call("/api/secrets", "PUT", "/api/secrets", want=None)

    def credentials(self):
        rec, log = self.rec, self.log
        rec.call("/api/users {name,password}", "POST", "/api/users",
                 body={"name": "carol", "password": "carols-pw-1"}, want=201)
        log.step(["credentials applied", "user carol set"], ordered=False)
        rec.call("/api/users {config user}", "POST", "/api/users",
                 body={"name": "alice", "password": "other-pw"}, want=409)
        rec.call("/api/users (not JSON)", "POST", "/api/users", body="not json", want=400)
        rec.call("/api/users {name}", "POST", "/api/users", body={"name": "dave"}, want=400)
        rec.call("/api/users {name:bad}", "POST", "/api/users",
                 body={"name": "a:b", "password": "pw"}, want=400)
        rec.call("/api/users {extra field}", "POST", "/api/users",
                 body={"name": "dave", "password": "pw", "x": "y"}, want=400)
        rec.call("/api/users (with carol)", "GET", "/api/users", want=200)
        rec.call("/api/users/carol", "DELETE", "/api/users/carol", want=204)
        log.step(["credentials applied", "user carol deleted"], ordered=False)
        rec.call("/api/users/carol (again)", "DELETE", "/api/users/carol", want=404)
        rec.call("/api/users/alice", "DELETE", "/api/users/alice", want=409)
        rec.call("/api/users/a%3Ab", "DELETE", "/api/users/a%3Ab", want=400)
        rec.call("/api/secrets {secret}", "POST", "/api/secrets",
                 body={"secret": "golden-secret-1"}, want=201)
        log.step(["credentials applied", "REST secret added"], ordered=False)
        rec.call("/api/secrets (with one)", "GET", "/api/secrets", want=200)
        rec.call("/api/secrets {secret}", "DELETE", "/api/secrets",
                 body={"secret": "golden-secret-1"}, want=204)
        log.step(["credentials applied", "REST secret deleted"], ordered=False)
        rec.call("/api/secrets {secret} (again)", "DELETE", "/api/secrets",
                 body={"secret": "golden-secret-1"}, want=404)
        rec.call("/api/secrets {secret:empty}", "POST", "/api/secrets",
                 body={"secret": ""}, want=400)
        log.step()

    def drain(self):
        d, rec, log = self.d, self.rec, self.log
        rec.call("/api/drain", "POST", "/api/drain", want=204)
        log.step(["admin API: drain: draining"])
        rec.call("/readyz (draining)", "GET", "/readyz", token=None, want=503)
        rec.call("/api/stats (draining)", "GET", "/api/stats", want=200)
        if error_code(self.client("bob", "bobpw").allocate()[3]) != 508:
            raise AssertionError("an allocation while draining")
        rec.call("/api/undrain", "POST", "/api/undrain", want=204)
        log.step(["admin API: undrain: drain ended"])
        rec.call("/api/undrain (again)", "POST", "/api/undrain", want=204)
        log.step(["admin API: undrain: already serving"])
        d.proc.send_signal(signal.SIGUSR1)
        log.step(["SIGUSR1: draining"])
        d.proc.send_signal(signal.SIGUSR2)
        log.step(["SIGUSR2: drain ended"])

    def write_config(self, text):
        with open(os.path.join(self.d.tmp, "avedge.conf"), "w") as f:
            f.write(text)

    def sighup(self):
        d, log = self.d, self.log
        self.write_config(CONFIG % 1000)
        d.proc.send_signal(signal.SIGHUP)
        log.step(["SIGHUP: log file reopened", "REST secrets loaded", "limits applied"])
        time.sleep(0.2)  # the workers take the new store
        self.write_config(CONFIG % "banana")
        d.proc.send_signal(signal.SIGHUP)
        log.step(["SIGHUP: log file reopened", "configuration rejected"])
        self.write_config(CONFIG % 0)

    def kick_and_end(self):
        rec, log = self.rec, self.log
        rec.call("/api/allocations/{bob}", "DELETE", "/api/allocations/" + self.ids["bob"],
                 want=204)
        log.step(["allocation deleted: user=bob", "kicked"])
        rec.call("/api/allocations/{bob} (kicked)", "GET",
                 "/api/allocations/" + self.ids["bob"], want=404)
        self.must(self.alice.transact(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 0))]),
                  "alice refresh 0")
        log.step(["allocation deleted: user=alice"])

    def history(self, deadline):
        """One sample (the first comes 10 s after the start)."""
        port = self.d.admin_port

        def samples():
            return json.loads(http_call(port, "GET", "/api/history")[2])["samples"]
        got = wait_for(samples, max(0.0, deadline - time.time()), 0.2)
        if not got:
            raise AssertionError("no /api/history sample by the deadline")
        for _ in range(3):
            since = got[-1]["t"] - 1
            raw = self.rec.call("/api/history?since={last-1}", "GET",
                                "/api/history?since=%d" % since, want=200)
            if len(json.loads(raw)["samples"]) == 1:
                return
            del self.rec.shapes["GET /api/history?since={last-1}"]
            self.rec.skeletons.pop()
            got = samples()
        raise AssertionError("/api/history: not one sample after since")

    def stop(self):
        self.d.stop()
        self.log.step(["signal 15: stopping", "stopped"])


def redis_run(clients):
    """A node with a real Redis: the cluster scope, Redis-backed
    credentials, the events published. (shapes, skeletons, metrics)."""
    from test_redis_cluster import Redis
    redis = Redis().start()
    try:
        events = RedisEvents(redis.port)
        admin_port = free_port()
        d = Daemon(["--relay-ip", "127.0.0.1", "--realm", REALM, "--allow-loopback-peers",
                    "--threads", "1", "--min-port", "61000", "--max-port", "62999",
                    "--node-id", REDIS_NODE, "--node-ttl", "3",
                    "--redis", "redis://127.0.0.1:%d/0" % redis.port,
                    "--admin-listen", "127.0.0.1:%d" % admin_port,
                    "--admin-token", TOKEN] + USERS)
        try:
            d.start()
            wait_admin(admin_port)
            if not wait_for(lambda: redis.cli("EXISTS", "avedge/node/" + REDIS_NODE) == "1"):
                raise RuntimeError("no registry entry:\n" + d.log())
            rec = Recorder(admin_port)
            peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            clients.append(peer)
            peer.bind(("127.0.0.1", 0))
            c = TurnClient(("127.0.0.1", d.port), "alice", "alicepw")
            clients.append(c)
            if c.allocate()[1] != 2 or c.create_permission(peer.getsockname()[0])[1] != 2:
                raise AssertionError("allocate on the Redis node failed")
            if c.transact(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 300))])[1] != 2:
                raise AssertionError("refresh on the Redis node failed")
            bad = TurnClient(("127.0.0.1", d.port), "alice", "wrong")
            clients.append(bad)
            bad.allocate()
            allocs = "avedge/node/%s/allocs" % REDIS_NODE
            if not (wait_for(lambda: redis.cli("SCARD", allocs) == "1") and
                    wait_for(lambda: redis.cli("HGET", "avedge/node/" + REDIS_NODE,
                                               "allocations") == "1")):
                raise RuntimeError("no allocation record in Redis:\n" + d.log())
            for path in ("/api/nodes", "/api/stats?scope=cluster", "/api/stats",
                         "/api/allocations?scope=cluster",
                         "/api/allocations?scope=cluster&user=alice&offset=0&limit=1",
                         "/api/users", "/api/secrets"):
                rec.call(path, "GET", path, want=200)
            metrics = rec.call("/metrics", "GET", "/metrics", want=200).decode()
            rec.call("/api/allocations?scope=cluster&peer=127.0.0.1", "GET",
                     "/api/allocations?scope=cluster&peer=127.0.0.1", want=400)
            rec.call("/api/allocations/other-0-1", "GET", "/api/allocations/other-0-1",
                     want=404)
            rec.call("/api/users {name,password}", "POST", "/api/users",
                     body={"name": "dave", "password": "daves-pw-1"}, want=201)
            rec.call("/api/users/dave", "DELETE", "/api/users/dave", want=204)
            rec.call("/api/secrets {secret}", "POST", "/api/secrets",
                     body={"secret": "golden-secret-2"}, want=201)
            rec.call("/api/secrets {secret}", "DELETE", "/api/secrets",
                     body={"secret": "golden-secret-2"}, want=204)
            if c.transact(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 0))])[1] != 2:
                raise AssertionError("refresh 0 on the Redis node failed")
            names = ["allocation.created", "allocation.refreshed", "auth.failure",
                     "allocation.deleted"]

            def seen():
                got = [json.loads(m)["event"] for m in events.messages]
                return all(n in got for n in names)
            wait_for(seen, 5)
            done = set()
            for m in list(events.messages):
                name = json.loads(m)["event"]
                if name not in done:
                    done.add(name)
                    rec.event("PUBLISH avedge/events %s" % name, m)
            return rec.shapes_text(), rec.skeletons_text(), metrics_golden(metrics)
        finally:
            d.cleanup()
            events.close()
    finally:
        redis.cleanup()


def readable_diff(expected, observed, name):
    """A unified diff, then for each changed line the first column that
    differs with some context (the JSON skeletons are long lines)."""
    a, b = expected.splitlines(True), observed.splitlines(True)
    out = ["".join(difflib.unified_diff(a, b, name, "observed", n=2))]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op != "replace":
            continue
        for k, (x, y) in enumerate(zip(a[i1:i2], b[j1:j2])):
            col = next((c for c, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            lo = max(0, col - 60)
            out.append("line %d, column %d:\n  expected ...%r\n  observed ...%r\n" % (
                i1 + k + 1, col + 1, x[lo:col + 60], y[lo:col + 60]))
    return "".join(out)


# --- the tests --------------------------------------------------------------------

class Golden(unittest.TestCase):
    """Runs everything once (setUpClass); each test compares one file."""
    observed = {}

    @classmethod
    def setUpClass(cls):
        cls.observed = {}
        clients = []

        def close_clients():
            for c in clients:
                c.close()
        cls.addClassCleanup(close_clients)

        text = turn_daemon("text", ["--admin-token", TOKEN])
        cls.addClassCleanup(text.cleanup)
        text.start()
        history_deadline = time.time() + 16
        rec = Recorder(text.admin_port)
        main = Script(text, rec, clients)
        main.run_until_kick()
        main.kick_and_end()

        # no admin token: 403
        bare_port = free_port()
        bare = Daemon(["--threads", "1", "--admin-listen", "127.0.0.1:%d" % bare_port])
        cls.addClassCleanup(bare.cleanup)
        bare.start()
        wait_admin(bare_port)
        rec.port = bare_port
        rec.call("/api/stats (no admin-token configured)", "GET", "/api/stats", want=403)
        rec.port = text.admin_port
        bare.cleanup()

        if have("redis-server") and have("redis-cli"):
            shapes, skels, metrics = redis_run(clients)
            cls.observed.update({"api_redis_shapes.json": shapes,
                                 "api_redis_skeletons.txt": skels,
                                 "metrics_redis.txt": metrics})

        # the same script with log-format json
        js = turn_daemon("json", ["--admin-token", TOKEN])
        cls.addClassCleanup(js.cleanup)
        js.start()
        other = Script(js, Recorder(js.admin_port, record=False), clients)
        other.run_until_kick()
        other.kick_and_end()
        other.stop()
        cls.observed["log_json.txt"] = other.log.text()

        main.history(history_deadline)
        main.stop()
        cls.observed["log_text.txt"] = main.log.text()
        cls.observed["api_shapes.json"] = rec.shapes_text()
        cls.observed["api_skeletons.txt"] = rec.skeletons_text()
        cls.observed["metrics.txt"] = metrics_golden(main.metrics)

    def check(self, name):
        observed = self.observed[name]
        path = os.path.join(GOLDEN, name)
        if UPDATE:
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w") as f:
                f.write(observed)
            sys.stderr.write("golden: wrote %s\n" % path)
            return
        if not os.path.exists(path):
            self.fail("%s is missing: run with GOLDEN_UPDATE=1 to write it" % path)
        with open(path) as f:
            expected = f.read()
        if expected != observed:
            self.fail("%s differs from what the daemon does (GOLDEN_UPDATE=1 rewrites "
                      "it if the change is intended):\n%s" % (name, readable_diff(
                          expected, observed, "golden/%s (expected)" % name)))

    def test_api_shapes(self):
        self.check("api_shapes.json")

    def test_api_skeletons(self):
        self.check("api_skeletons.txt")

    def test_metrics(self):
        self.check("metrics.txt")

    def test_log_text(self):
        self.check("log_text.txt")

    def test_log_json(self):
        self.check("log_json.txt")

    @unittest.skipUnless(have("redis-server") and have("redis-cli"), "needs redis-server")
    def test_api_redis_shapes(self):
        self.check("api_redis_shapes.json")

    @unittest.skipUnless(have("redis-server") and have("redis-cli"), "needs redis-server")
    def test_api_redis_skeletons(self):
        self.check("api_redis_skeletons.txt")

    @unittest.skipUnless(have("redis-server") and have("redis-cli"), "needs redis-server")
    def test_metrics_redis(self):
        self.check("metrics_redis.txt")


class Normalizers(unittest.TestCase):
    """The helpers themselves."""

    def test_skeleton_keeps_layout(self):
        text = '{"a": 1,"b":[1.5, "x"],"error":"fixed","c":{"d":null,"e":true}}\n'
        self.assertEqual(skeleton(text),
                         '{"a": <int>,"b":[<float>, "<str>"],"error":"fixed",'
                         '"c":{"d":null,"e":<bool>}}\n')
        self.assertEqual(skeleton('{"s":"q\\"uote","t":[]}'), '{"s":"<str>","t":[]}')
        with self.assertRaises(ValueError):
            skeleton('{"a":1} x')

    def test_shape(self):
        self.assertEqual(shape({"n": 1, "f": 0.5, "b": False, "s": "x", "transport": "udp",
                                "z": None, "l": [{"k": 1}]}),
                         {"n": "<int>", "f": "<float>", "b": "<bool>", "s": "<str>",
                          "transport": "udp", "z": None, "l": [{"k": "<int>"}]})

    def test_metrics_golden(self):
        text = ('# HELP avedge_x X.\n# TYPE avedge_x counter\n'
                'avedge_x{method="allocate",realm="r"} 3\navedge_x{method="refresh",realm="q"} 0\n'
                '# HELP avedge_y Y.\n# TYPE avedge_y gauge\navedge_y 0.25\n')
        self.assertEqual(metrics_golden(text),
                         "# HELP avedge_x X.\n# TYPE avedge_x counter\n"
                         "  label names: method, realm\n"
                         "  method: allocate, refresh\n  realm: <masked>\n"
                         '  sample: avedge_x{method="allocate",realm="<str>"} <int>\n'
                         '  sample: avedge_x{method="refresh",realm="<str>"} <int>\n'
                         "# HELP avedge_y Y.\n# TYPE avedge_y gauge\n"
                         "  label names: -\n  sample: avedge_y <float>\n")


if __name__ == "__main__":
    unittest.main()
