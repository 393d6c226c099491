#!/usr/bin/env python3
"""tests/fuzz/make-turn-corpus.py - write the seed corpus of fuzz_turn
into tests/fuzz/corpus/turn: operation lists (op, arg, len, bytes; see
tests/fuzz/fuzz_turn.c) that allocate over UDP and TCP, install
permissions and channels, relay both ways, refresh, open an RFC 6062
connection, and let time pass. Deterministic; rerun after changing it."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "turn")
COOKIE = 0x2112A442


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def msg(method_type, attrs, tid=b"fuzzfuzzfuzz"):
    body = b"".join(attrs)
    return struct.pack("!HHI", method_type, len(body), COOKIE) + tid + body


def xor_peer(i, port):
    ip = 0xC0000200 + i + 1
    return attr(0x0012, struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), ip ^ COOKIE))


def op(kind, client, transport, arg, data=b""):
    """kind: 0 client input, 3 peer data, 5 tcp peer, 6 close, 7 time."""
    return bytes([(kind << 5) | (transport << 3) | client, arg, len(data)]) + data


ALLOC_UDP = msg(0x0003, [attr(0x0019, bytes([17, 0, 0, 0]))])
ALLOC_TCP = msg(0x0003, [attr(0x0019, bytes([6, 0, 0, 0]))])
PERM = msg(0x0008, [xor_peer(1, 3000)])
BIND = msg(0x0009, [attr(0x000C, struct.pack("!HH", 0x4001, 0)), xor_peer(1, 3000)])
SEND = msg(0x0016, [xor_peer(1, 3000), attr(0x0013, b"\x80\x00\x00\x01" + b"x" * 20)])
CHAN = struct.pack("!HH", 0x4001, 8) + b"\x80\x00\x00\x02abcd"
REFRESH0 = msg(0x0004, [attr(0x000D, struct.pack("!I", 0))])
CONNECT = msg(0x000A, [xor_peer(1, 3000)])
RTP = b"\x80\x00\x00\x05" + b"\0" * 8 + b"media"

SEEDS = {
    "udp_flow": op(0, 0, 0, 0, ALLOC_UDP) + op(0, 0, 0, 0, PERM) + op(0, 0, 0, 0, BIND)
    + op(0, 0, 0, 0, CHAN) + op(0, 0, 0, 0, SEND) + op(3, 0, 0, 8, RTP) + op(7, 0, 0, 30)
    + op(0, 0, 0, 0, REFRESH0),
    "tcp_relay": op(0, 1, 1, 0, ALLOC_TCP) + op(0, 1, 1, 0, PERM) + op(0, 1, 1, 0, CONNECT)
    + op(5, 0, 0, 8) + op(6, 1, 1, 0) + op(7, 0, 0, 40),
    "expire": op(0, 2, 0, 0, ALLOC_UDP) + op(0, 2, 0, 0, PERM) + op(7, 0, 0, 255, b"xx"),
    "dtls_tls": op(0, 3, 3, 0, ALLOC_UDP) + op(0, 4, 2, 0, ALLOC_UDP) + op(6, 4, 2, 1),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
