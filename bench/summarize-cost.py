#!/usr/bin/env python3
"""bench/summarize-cost.py - turn the JSON lines of bench/run-cost.sh (one
object per server process: callgrind or strace, rep, target packet count)
into a markdown table: per server the median over reps of

    (X(N2) - X(N1)) / (relayed(N2) - relayed(N1))

for X = callgrind's total Ir, strace's total system calls and each system
call, its spread, and the ratio avedge/avedge-base. Invalid runs (loss, a
failure) are never used; they are counted. Standard library only.

    python3 bench/summarize-cost.py bench/cost-results-DATE.jsonl
"""
import json
import statistics
import sys

SERVERS = ["avedge", "avedge-base"]
# system calls always listed one by one (the data path's), then any other
# that costs at least MIN_PER_PKT per relayed packet in some server
ALWAYS = ["recvmmsg", "sendmmsg", "sendto", "sendmsg", "recvfrom", "epoll_wait", "epoll_ctl"]
MIN_PER_PKT = 0.001


def load(path):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    return runs


def pairs(runs, kind):
    """{server: [(rep, run_n1, run_n2)]} from the last valid attempts."""
    by = {}
    for d in runs:
        if d["kind"] != kind or not d["valid"]:
            continue
        by[(d["server"], d["rep"], d["target"])] = d  # later attempts win
    out = {}
    for (s, rep, n), d in sorted(by.items()):
        targets = sorted(t for (s2, r2, t) in by if s2 == s and r2 == rep)
        if len(targets) != 2 or n != targets[0]:
            continue
        out.setdefault(s, []).append((rep, d, by[(s, rep, targets[1])]))
    return out


def slope(a, b, get):
    da = get(a)
    db = get(b)
    dn = b["relayed"] - a["relayed"]
    if da is None or db is None or dn <= 0:
        return None
    return (db - da) / dn


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    m = statistics.median(xs)
    half = (max(xs) - min(xs)) / 2
    return m, (100 * half / m if m else 0.0), min(xs), max(xs), len(xs)


def fmt(v, dec):
    return f"{v:,.{dec}f}"


def cell(st, dec, reps):
    if not st:
        return "-"
    m, pct, lo, hi, n = st
    few = f" [{n} of {reps} reps]" if n < reps else ""
    if lo == hi == 0:
        return "0" + few
    if n == 1:
        return fmt(m, dec) + few
    return f"{fmt(m, dec)} ± {pct:.2f} %{few}"


def ratio_cell(est, get, dec=3):
    """Ratio of the medians, and the range of the per-rep ratios."""
    a = {rep: get(x, y) for rep, x, y in est.get("avedge", [])}
    b = {rep: get(x, y) for rep, x, y in est.get("avedge-base", [])}
    ma = stats(list(a.values()))
    mb = stats(list(b.values()))
    if not ma or not mb or not mb[0]:
        return "-"
    r = ma[0] / mb[0]
    per = [a[k] / b[k] for k in a if k in b and a[k] is not None and b.get(k)]
    s = f"**{r:.{dec}f}**"
    if len(per) > 1:
        s += f" ({min(per):.{dec}f}-{max(per):.{dec}f})"
    return s


def main(path):
    runs = load(path)
    servers = [s for s in SERVERS if any(d["server"] == s for d in runs)]
    both = servers == SERVERS
    reps = max((d["rep"] for d in runs), default=0)
    cg = pairs(runs, "callgrind")
    st = pairs(runs, "strace")

    def rate(kind):
        rs = sorted({d["rate"] for d in runs if d["kind"] == kind})
        return "/".join(f"{r:,.0f}" for r in rs) or "-"

    def targets(kind):
        ts = sorted({d["target"] for d in runs if d["kind"] == kind})
        return " vs ".join(f"{t:,}" for t in ts) or "-"

    rows = []  # (label, getter, decimals, table)
    ir = lambda a, b: slope(a, b, lambda d: d.get("ir"))
    rows.append((f"Instructions (Ir) per relayed packet, callgrind, {rate('callgrind')} pkts/s, N = {targets('callgrind')}", ir, 0, cg))
    fixed = lambda a, b: (a["ir"] - ir(a, b) * a["relayed"]) if ir(a, b) is not None else None
    rows.append(("Fixed Ir per server run (start-up, allocations, frees, shutdown; intercept)", fixed, 0, cg))
    sc = lambda a, b: slope(a, b, lambda d: d.get("syscalls_total"))
    rows.append((f"System calls per relayed packet, strace -c -f, {rate('strace')} pkts/s, N = {targets('strace')}", sc, 3, st))
    # the syscalls that matter most per packet, over all servers
    names = {}
    for s, lst in st.items():
        for rep, a, b in lst:
            for k in set(a.get("syscalls", {})) | set(b.get("syscalls", {})):
                v = slope(a, b, lambda d: d.get("syscalls", {}).get(k, 0))
                names[k] = max(names.get(k, 0), abs(v or 0))
    shown = [k for k in ALWAYS if k in names or k in ("sendto", "epoll_ctl")]
    shown += sorted((k for k in names if k not in ALWAYS and names[k] >= MIN_PER_PKT),
                    key=lambda k: -names[k])
    for k in (shown if st else []):
        get = (lambda k: lambda a, b: slope(a, b, lambda d: d.get("syscalls", {}).get(k, 0)))(k)
        rows.append((f"&nbsp;&nbsp;`{k}` per relayed packet", get, 4, st))

    for s in servers:
        ids = []
        for d in runs:
            if d["server"] == s and d.get("binary") not in ids:
                ids.append(d.get("binary"))
        if len(ids) > 1:
            print(f"**Warning: the {s} binary changed during the run** (sha256 prefixes "
                  f"{', '.join(ids)} in run order): its numbers mix builds.")
            print()
    head = "| metric | " + " | ".join(servers) + " |"
    sep = "|---|" + "---|" * len(servers)
    if both:
        head += " avedge/avedge-base (per-rep range) |"
        sep += "---|"
    print(head)
    print(sep)
    for label, get, dec, table in rows:
        if not any(d["kind"] == ("callgrind" if table is cg else "strace") for d in runs):
            continue
        cells = []
        for s in servers:
            cells.append(cell(stats([get(a, b) for rep, a, b in table.get(s, [])]), dec, reps))
        line = f"| {label} | " + " | ".join(cells) + " |"
        if both:
            line += " " + ratio_cell(table, get) + " |"
        print(line)
    inv = []
    for s in servers:
        n = [d for d in runs if d["server"] == s]
        bad = [d for d in n if not d["valid"]]
        inv.append(f"{len(bad)} of {len(n)}")
    line = "| Invalid runs (loss, disturbed, failure: retried, never used) | " + " | ".join(inv) + " |"
    print(line + (" |" if both else ""))
    print()
    print("Per server: median over reps of (X(N2) - X(N1)) / (relayed(N2) - relayed(N1)),")
    print("each rep a fresh server process per N; ± is half the range over reps, in % of")
    print("the median. The ratio column divides the medians; in brackets the range of")
    print("the ratios of the same rep. Relayed = packets the peers received plus packets")
    print("the clients received back (avedge-load's `peer_rx + rx`).")
    for d in runs:
        if not d["valid"]:
            print(f"- invalid: {d['server']} {d['kind']} rep {d['rep']} N={d['target']:,} attempt {d['attempt']}: {d['invalid']}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
