"""A small TURN client for integration tests (RFC 8489/8656 long-term
credentials with MD5). Only what the tests need: build requests, sign
them, read answers."""
import hashlib
import hmac
import os
import socket
import struct
import zlib

MAGIC = 0x2112A442
ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 3, 4, 6, 7, 8, 9
A_USERNAME, A_MI, A_ERROR, A_UNKNOWN = 0x0006, 0x0008, 0x0009, 0x000A
A_CHANNEL, A_LIFETIME, A_XOR_PEER, A_DATA = 0x000C, 0x000D, 0x0012, 0x0013
A_REALM, A_NONCE, A_XOR_RELAYED = 0x0014, 0x0015, 0x0016
A_REQ_TRANSPORT, A_XOR_MAPPED, A_SOFTWARE = 0x0019, 0x0020, 0x8022
A_FINGERPRINT, A_PW_ALGS = 0x8028, 0x8002


def msg_type(method, cls):
    return ((method & 0xF80) << 2) | ((method & 0x70) << 1) | (method & 0xF) | \
        ((cls & 2) << 7) | ((cls & 1) << 4)


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def xor_addr(ip, port, tid):
    if ":" in ip:
        raw = socket.inet_pton(socket.AF_INET6, ip)
        key = MAGIC.to_bytes(4, "big") + tid
        return struct.pack("!BBH", 0, 2, port ^ (MAGIC >> 16)) + \
            bytes(a ^ b for a, b in zip(raw, key))
    raw = struct.unpack("!I", socket.inet_aton(ip))[0]
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), raw ^ MAGIC)


def parse_xor_addr(v, tid):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    if fam == 1:
        ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
        return socket.inet_ntoa(struct.pack("!I", ip)), port
    key = MAGIC.to_bytes(4, "big") + tid
    return socket.inet_ntop(socket.AF_INET6, bytes(a ^ b for a, b in zip(v[4:20], key))), port


def build(method, cls, attrs, tid=None, key=None, fingerprint=False):
    tid = tid or os.urandom(12)
    body = b"".join(attrs)

    def header(extra):
        return struct.pack("!HHI", msg_type(method, cls), len(body) + extra, MAGIC) + tid
    if key is not None:
        mac = hmac.new(key, header(24) + body, hashlib.sha1).digest()
        body += attr(A_MI, mac)
    if fingerprint:
        crc = (zlib.crc32(header(8) + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(A_FINGERPRINT, struct.pack("!I", crc))
    return header(0) + body, tid


def parse(data):
    """(method, class, tid, {type: [values]}) or None."""
    if len(data) < 20 or data[0] > 3:
        return None
    t, n, cookie = struct.unpack("!HHI", data[:8])
    method = (t & 0xF) | ((t >> 1) & 0x70) | ((t >> 2) & 0xF80)
    cls = ((t >> 7) & 2) | ((t >> 4) & 1)
    attrs, i, body = {}, 0, data[20:20 + n]
    while i + 4 <= len(body):
        at, al = struct.unpack("!HH", body[i:i + 4])
        attrs.setdefault(at, []).append(body[i + 4:i + 4 + al])
        i += 4 + ((al + 3) & ~3)
    return method, cls, data[8:20], attrs


def error_code(attrs):
    v = attrs.get(A_ERROR, [None])[0]
    return v[2] * 100 + v[3] if v else None


class TurnClient:
    """One UDP 5-tuple to the server, long-term credentials."""

    def __init__(self, server, user, password, timeout=2.0):
        self.server, self.user, self.password = server, user, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)
        self.realm = self.nonce = self.key = None

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendto(data, self.server)

    def recv(self):
        return self.sock.recvfrom(65536)[0]

    def transact(self, method, attrs, auth=True, tid=None):
        """Send a request (signed once credentials are known); follow one
        401/438 challenge. Returns the parsed answer."""
        for _ in range(3):
            extra = []
            key = None
            if auth and self.nonce is not None:
                extra = [attr(A_USERNAME, self.user.encode()),
                         attr(A_REALM, self.realm), attr(A_NONCE, self.nonce)]
                key = self.key
            data, tid = build(method, 0, list(attrs) + extra, tid=tid, key=key)
            self.send_raw(data)
            resp = parse(self.recv())
            code = error_code(resp[3])
            if auth and code in (401, 438) and A_NONCE in resp[3]:
                first = self.nonce is None or code == 438
                self.nonce = resp[3][A_NONCE][0]
                self.realm = resp[3].get(A_REALM, [self.realm])[0]
                self.key = hashlib.md5(b"%s:%s:%s" % (
                    self.user.encode(), self.realm, self.password.encode())).digest()
                tid = None
                if first:
                    continue
            return resp
        return resp

    def allocate(self, lifetime=None):
        attrs = [attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))]
        if lifetime is not None:
            attrs.append(attr(A_LIFETIME, struct.pack("!I", lifetime)))
        return self.transact(ALLOCATE, attrs)

    def relayed(self, resp):
        return parse_xor_addr(resp[3][A_XOR_RELAYED][0], resp[2])

    def create_permission(self, ip, port=0):
        tid = os.urandom(12)
        return self.transact(CREATE_PERMISSION,
                             [attr(A_XOR_PEER, xor_addr(ip, port, tid))], tid=tid)

    def channel_bind(self, channel, ip, port):
        tid = os.urandom(12)
        return self.transact(CHANNEL_BIND, [attr(A_CHANNEL, struct.pack("!HH", channel, 0)),
                                            attr(A_XOR_PEER, xor_addr(ip, port, tid))], tid=tid)

    def send_indication(self, ip, port, payload):
        tid = os.urandom(12)
        data, _ = build(SEND, 1, [attr(A_XOR_PEER, xor_addr(ip, port, tid)),
                                  attr(A_DATA, payload)], tid=tid)
        self.send_raw(data)

    def channel_data(self, channel, payload):
        self.send_raw(struct.pack("!HH", channel, len(payload)) + payload)


# --- RFC 6062 TCP relay allocations ------------------------------------------

CONNECT, CONNECTION_BIND, CONNECTION_ATTEMPT = 0x00A, 0x00B, 0x00C
A_CONNECTION_ID = 0x002A


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


class StreamTurnClient(TurnClient):
    """TurnClient over one TCP connection (RFC 8656 s3.1 framing of STUN
    messages; no ChannelData). Indications that arrive while a request
    waits for its answer (ConnectionAttempt) are kept in self.indications."""

    def __init__(self, server, user, password, timeout=5.0, sock=None):
        self.server, self.user, self.password = server, user, password
        self.sock = sock or socket.create_connection(server, timeout=timeout)
        self.sock.settimeout(timeout)
        self.realm = self.nonce = self.key = None
        self.indications = []

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_msg(self):
        head = recv_exact(self.sock, 20)
        n = struct.unpack("!H", head[2:4])[0]
        return head + recv_exact(self.sock, n)

    def recv(self):
        while True:
            data = self.recv_msg()
            msg = parse(data)
            if msg and msg[1] == 1:  # an indication
                self.indications.append(msg)
                continue
            return data

    def next_indication(self):
        if self.indications:
            return self.indications.pop(0)
        return parse(self.recv_msg())

    def allocate_tcp(self, lifetime=None):
        attrs = [attr(A_REQ_TRANSPORT, bytes([6, 0, 0, 0]))]
        if lifetime is not None:
            attrs.append(attr(A_LIFETIME, struct.pack("!I", lifetime)))
        return self.transact(ALLOCATE, attrs)

    def connect_peer(self, ip, port):
        tid = os.urandom(12)
        return self.transact(CONNECT, [attr(A_XOR_PEER, xor_addr(ip, port, tid))],
                             tid=tid)

    def data_connection(self, connection_id):
        """A new TCP connection with the credentials of this one, bound to
        connection_id: (its socket, the parsed ConnectionBind answer). The
        socket carries raw bytes when the answer is a success."""
        data = type(self)(self.server, self.user, self.password)
        data.realm, data.nonce, data.key = self.realm, self.nonce, self.key
        resp = data.transact(CONNECTION_BIND,
                             [attr(A_CONNECTION_ID, struct.pack("!I", connection_id))])
        return data.sock, resp


def connection_id(resp):
    return struct.unpack("!I", resp[3][A_CONNECTION_ID][0])[0]


# --- 300 Try Alternate (RFC 8656 s7.2, RFC 8489 s14.15) ----------------------

A_ALTERNATE_SERVER, A_ALTERNATE_DOMAIN = 0x8023, 0x8003


def alternate_server(resp):
    """(ip, port) of the ALTERNATE-SERVER of a parsed answer (a plain,
    not XOR-ed, address), or None."""
    v = resp[3].get(A_ALTERNATE_SERVER, [None])[0]
    if not v or len(v) < 8:
        return None
    port = struct.unpack("!H", v[2:4])[0]
    if v[1] == 1:
        return socket.inet_ntoa(v[4:8]), port
    return socket.inet_ntop(socket.AF_INET6, v[4:20]), port
