#!/usr/bin/env python3
"""bench/sockdrops.py - kernel receive-queue drops of one process's UDP
sockets, by kind, read from /proc (so it works for any server: avedge,
coturn). Runs until SIGTERM/SIGINT, sampling every --interval seconds, and
then prints one JSON object:

  {"listener": N, "relay": N, "other": N, "sockets": N, "samples": N}

A socket's drop counter (the last column of /proc/net/udp) counts from the
socket's creation; relay sockets close when their allocation ends, so the
script keeps the highest value seen per socket (inode) while it runs, and
subtracts what listening sockets had already dropped at the first sample.
Kind: "listener" when the local port is one of --listen ports, "relay" when
it is inside --relay-range, "other" otherwise.

  sockdrops.py --pid PID --listen 3478[,5349] --relay-range 10000-29999
"""
import argparse
import json
import os
import signal
import sys
import time


def inodes_of(pid):
    out = set()
    base = "/proc/%d/fd" % pid
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for n in names:
        try:
            t = os.readlink(os.path.join(base, n))
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(int(t[8:-1]))
    return out


def udp_table(pid):
    """{inode: (local port, drops)} of the process's network namespace."""
    rows = {}
    for name in ("udp", "udp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    p = line.split()
                    port = int(p[1].rsplit(":", 1)[1], 16)
                    rows[int(p[9])] = (port, int(p[-1]))
        except (OSError, StopIteration):
            continue
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--relay-range", required=True)
    ap.add_argument("--interval", type=float, default=0.5)
    a = ap.parse_args()
    listen = {int(p) for p in a.listen.split(",")}
    lo, hi = (int(x) for x in a.relay_range.split("-"))
    best = {}  # inode -> (kind, max drops)
    start = {}  # listener inode -> drops at the first sample
    samples = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    def sample():
        mine = inodes_of(a.pid)
        for ino, (port, drops) in udp_table(a.pid).items():
            if ino not in mine:
                continue
            kind = ("listener" if port in listen else
                    "relay" if lo <= port <= hi else "other")
            if kind != "relay" and ino not in start:
                start[ino] = drops if samples == 0 else 0
            prev = best.get(ino, (kind, 0))[1]
            best[ino] = (kind, max(prev, drops))

    while not stop:
        sample()
        samples += 1
        time.sleep(a.interval)
    sample()
    out = {"listener": 0, "relay": 0, "other": 0}
    for ino, (kind, drops) in best.items():
        out[kind] += drops - start.get(ino, 0)
    out["sockets"] = len(best)
    out["samples"] = samples + 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
