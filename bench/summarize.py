#!/usr/bin/env python3
"""bench/summarize.py - turn the JSON lines of bench/run-bench.sh (one
avedge-load result per server, round and test) into a markdown table: per
server the median over rounds of each metric, its spread, and the ratios
avedge/coturn, avedge/bare and bare/coturn. Standard library only.

    python3 bench/summarize.py bench/results-DATE.jsonl
"""
import json
import statistics
import sys

SERVERS = ["avedge", "avedge-base", "coturn", "bare"]

# label, test, key, scale, decimals; "lower" marks metrics where less is better
ROWS = [
    ("Relayed pkts per server CPU-s, saturation, 100 B", "sat100", "relayed_per_server_cpu_s", 1, 0, ""),
    ("Relayed pkts per server CPU-s, saturation, 1200 B", "sat1200", "relayed_per_server_cpu_s", 1, 0, ""),
    ("Relayed pkts per server CPU-s at 40k pkts/s, 100 B", "rate40k100", "relayed_per_server_cpu_s", 1, 0, ""),
    ("Relayed pkts per server CPU-s at 40k pkts/s, 1200 B", "rate40k1200", "relayed_per_server_cpu_s", 1, 0, ""),
    ("Allocations per server CPU-s (64 outstanding)", "allocs", "allocs_per_server_cpu_s", 1, 0, ""),
    ("RSS per allocation, kB (allocations held)", "mem", "rss_per_alloc_bytes", 1e-3, 1, "lower"),
    ("RTT p50, idle (1k pkts/s), us", "idle", "rtt_p50_us", 1, 1, "lower"),
    ("RTT p99, idle (1k pkts/s), us", "idle", "rtt_p99_us", 1, 1, "lower"),
    ("RTT p50 at 40k pkts/s, us", "rate40k100", "rtt_p50_us", 1, 1, "lower"),
    ("RTT p99 at 40k pkts/s, us", "rate40k100", "rtt_p99_us", 1, 1, "lower"),
    ("Loss at 40k pkts/s, 100 B, %", "rate40k100", "loss_pct", 1, 3, "lower"),
    ("Loss at 40k pkts/s, 1200 B, %", "rate40k1200", "loss_pct", 1, 3, "lower"),
    ("Loss at saturation, 100 B, %", "sat100", "loss_pct", 1, 3, "lower"),
    ("Loss at saturation, 1200 B, %", "sat1200", "loss_pct", 1, 3, "lower"),
    ("Relayed pkts/s at saturation, 100 B", "sat100", "relayed_pps", 1, 0, ""),
    ("Relayed pkts/s at saturation, 1200 B", "sat1200", "relayed_pps", 1, 0, ""),
    ("Server CPU at saturation, % of one core", "sat100", "server_cpu_pct", 1, 1, "lower"),
    ("Server CPU at 40k pkts/s, % of one core", "rate40k100", "server_cpu_pct", 1, 1, "lower"),
    ("Allocations/s, wall clock", "allocs", "allocs_per_s", 1, 0, ""),
    ("Load generator CPU at saturation, % of one core", "sat100", "tool_cpu_pct", 1, 1, "lower"),
    ("Load generator CPU at 40k pkts/s, % of one core", "rate40k100", "tool_cpu_pct", 1, 1, "lower"),
    ("Load generator us per relayed pkt, saturation", "sat100", "tool_us_per_relayed_pkt", 1, 2, "lower"),
    ("Machine busy at saturation, % of all CPUs", "sat100", "system_busy_pct", 1, 1, "lower"),
]


def load(path):
    vals = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        d = json.loads(line)
        for _, test, key, scale, _, _ in ROWS:
            if d.get("test") == test and d.get(key) is not None:
                vals.setdefault((d["server"], test, key), []).append(d[key] * scale)
    return vals


def cell(xs, dec):
    if not xs:
        return "-"
    m = statistics.median(xs)
    s = f"{m:,.{dec}f}"
    if len(xs) > 1 and m:
        spread = (max(xs) - min(xs)) / 2 / abs(m) * 100
        s += f" (±{spread:.0f}%)"
    return s


def ratio(a, b):
    if not a or not b:
        return "-"
    ma, mb = statistics.median(a), statistics.median(b)
    return f"{ma / mb:.2f}x" if mb else "-"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    vals = load(sys.argv[1])
    present = [s for s in SERVERS if any(k[0] == s for k in vals)]
    base = "avedge-base" in present
    head = ["metric (median over rounds, ± half the range)"] + present + \
        ["avedge/coturn", "avedge/bare", "bare/coturn"] + \
        (["avedge/avedge-base"] if base else [])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, test, key, _, dec, better in ROWS:
        got = {s: vals.get((s, test, key), []) for s in SERVERS}
        if not any(got.values()):
            continue
        row = [label + (" (lower is better)" if better == "lower" else "")]
        row += [cell(got[s], dec) for s in present]
        row += [ratio(got["avedge"], got["coturn"]), ratio(got["avedge"], got["bare"]),
                ratio(got["bare"], got["coturn"])]
        if base:
            row.append(ratio(got["avedge"], got["avedge-base"]))
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
