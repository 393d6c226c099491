#!/usr/bin/env python3
"""bench/summarize-media.py - the markdown tables of run-media-bench.sh
from its JSON lines: per server and rate the median of the valid runs with
the spread (min-max), the avedge/coturn ratio of relayed packets per server
CPU-second, and every run on its own (so a bad run is never hidden)."""
import json
import statistics
import sys


def med(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def fmt(t, digits=2):
    m, lo, hi = t
    if m is None:
        return "-"
    f = "%%.%df" % digits
    if lo == hi:
        return f % m
    return (f + " (" + f + "-" + f + ")") % (m, lo, hi)


def drops(d, kind):
    dr = d.get("server_drops") or {}
    return dr.get(kind)


def main(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    groups = {}
    for d in runs:
        groups.setdefault((d["rate"], d["server"]), []).append(d)
    cols = [("payload Mbit/s per viewer", lambda d: (d.get("recv_payload_bps") or 0) / 1e6, 2),
            ("loss %", lambda d: d.get("loss_pct"), 3),
            ("SRTP auth fail", lambda d: d.get("srtp_auth_fail"), 0),
            ("delay p50 ms", lambda d: _ms(d, "delay_p50_us"), 2),
            ("p99 ms", lambda d: _ms(d, "delay_p99_us"), 2),
            ("p99.9 ms", lambda d: _ms(d, "delay_p999_us"), 2),
            ("jitter ms", lambda d: d.get("jitter_ms"), 2),
            ("server CPU s", lambda d: d.get("server_cpu_s"), 2),
            ("softirq s", lambda d: d.get("softirq_cpu_s"), 2),
            ("relayed pkts / server CPU-s", lambda d: d.get("relayed_per_server_cpu_s"), 0),
            ("RSS MiB", lambda d: (d.get("server_rss_kb") or 0) / 1024, 1),
            ("drops listener", lambda d: drops(d, "listener"), 0),
            ("drops relay", lambda d: drops(d, "relay"), 0),
            ("sim CPU %", lambda d: d.get("sim_cpu_pct"), 0),
            ("sim slip p99 / max ms", None, 1)]
    print("| rate/viewer | server | valid runs | " +
          " | ".join(c[0] for c in cols) + " |")
    print("|" + "---|" * (3 + len(cols)))
    for (rate, server), ds in sorted(groups.items(), key=lambda k: (_bps(k[0][0]), k[0][1])):
        ok = [d for d in ds if d.get("valid")]
        row = ["%s" % rate, server, "%d/%d" % (len(ok), len(ds))]
        for _, fn, dg in cols:
            if fn is None:  # slip: of every run, valid or not
                row.append("%s / %s" % (fmt(med([d.get("sim_schedule_slip_p99_ms") for d in ds]), 1),
                                        fmt(med([d.get("sim_schedule_slip_ms") for d in ds]), 1)))
                continue
            row.append(fmt(med([fn(d) for d in ok]), dg))
        print("| " + " | ".join(row) + " |")
    print()
    rates = sorted({r for r, _ in groups}, key=_bps)
    for rate in rates:
        a = [d.get("relayed_per_server_cpu_s") for d in groups.get((rate, "avedge"), []) if d.get("valid")]
        c = [d.get("relayed_per_server_cpu_s") for d in groups.get((rate, "coturn"), []) if d.get("valid")]
        a = [x for x in a if x]
        c = [x for x in c if x]
        if a and c:
            print("- %s per viewer: avedge relays %.2fx coturn's packets per server CPU-second (medians %d vs %d)."
                  % (rate, statistics.median(a) / statistics.median(c), statistics.median(a), statistics.median(c)))
    print()
    print("Every run:")
    print()
    print("| server | round | rate | valid | viewers ok | pkts recv | lost | loss % | auth fail | p99 ms | drops listener/relay | control loss % | slip p99/max ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in runs:
        v = d.get("viewers") or 0
        print("| %s | %s | %s | %s | %s/%s | %s | %s | %s | %s | %s | %s/%s | %s | %s/%s |" % (
            d["server"], d["round"], d["rate"], "yes" if d.get("valid") else "**no**",
            v - (d.get("viewers_failed") or 0), v, d.get("pkts_recv"), d.get("lost"),
            d.get("loss_pct"), d.get("srtp_auth_fail"), _ms(d, "delay_p99_us"),
            drops(d, "listener"), drops(d, "relay"), d.get("control_loss_pct"),
            d.get("sim_schedule_slip_p99_ms"), d.get("sim_schedule_slip_ms")))


def _ms(d, k):
    v = d.get(k)
    return None if v is None else v / 1000.0


def _bps(s):
    s = str(s)
    mul = {"k": 1e3, "K": 1e3, "M": 1e6, "m": 1e6, "G": 1e9}.get(s[-1:], 1)
    try:
        return float(s.rstrip("kKmMG")) * mul
    except ValueError:
        return 0


if __name__ == "__main__":
    main(sys.argv[1])
