#!/usr/bin/env python3
"""The table of bench/compare.sh: medians per (workload, N, peer) from one run's JSON lines, and Kettle's ratio
to each peer. Usage: python3 bench/compare.py RAW.jsonl

Ratios are always "how many times better Kettle is": throughput ratio kettle/peer (ops/s), and for sleepers
the peer's overhead beyond the longest sleep over Kettle's (> 1: Kettle finishes sooner after the last wake-up).
Lines starting with '#' (run metadata, skipped peers) are repeated above the table. When the run has the peer
kettle-r2r (the same benchmark published ReadyToRun), a second table gives its ratios, against Kettle's default JIT
build as well."""
import json
import statistics
import sys
from collections import defaultdict

PEER_ORDER = ["kettle", "kettle-r2r", "asyncio", "uvloop", "trio", "node", "go", "dotnet-nito", "dotnet-tpl"]
WL_ORDER = ["spawn", "switch", "sleepers", "queue", "echo", "to_thread", "taskgroup", "lock", "process_pool",
            "echo_loopback"]

groups = defaultdict(list)
header, failures = [], []
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if line.startswith("#"):
            header.append(line[1:].strip())
        elif line.startswith("!!"):
            failures.append(line[2:].strip())
        elif line.startswith("{"):
            r = json.loads(line)
            groups[(r["workload"], r["n"], r["peer"])].append(r)


def med(rs, field):
    vals = [r[field] for r in rs if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def order(seq, item):
    return seq.index(item) if item in seq else len(seq)


def cell(w, n, rs):
    if w == "sleepers":
        return f"+{med(rs, 'overhead_s'):.2f} s / {med(rs, 'bytes_per_task'):.0f} B"
    return f"{n / med(rs, 'seconds'):,.0f}"


def ratio(w, n, mine, theirs):
    if w == "sleepers":
        a, b = med(theirs, "overhead_s"), med(mine, "overhead_s")
        return f"{a / b:.2f}x" if b and b > 0 else "–"
    return f"{med(theirs, 'seconds') / med(mine, 'seconds'):.2f}x"


for h in header:
    print(f"> {h}  ")
print()
peers = sorted({k[2] for k in groups}, key=lambda p: order(PEER_ORDER, p))
rows = sorted({(k[0], k[1]) for k in groups}, key=lambda r: (order(WL_ORDER, r[0]), r[1]))


def table(me, others, what):
    print(f"Median of runs: ops/s (echo: requests/s; sleepers: seconds beyond the longest sleep / RSS bytes per "
          f"pending task). In brackets: {what}'s ratio to that peer (> 1: {what} is faster).")
    print()
    print(f"| workload | N | runs | {me} | " + " | ".join(others) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(others))
    for w, n in rows:
        mine = groups.get((w, n, me))
        cells = []
        for p in others:
            rs = groups.get((w, n, p))
            if not rs:
                cells.append("–")
            elif mine:
                cells.append(f"{cell(w, n, rs)} ({ratio(w, n, mine, rs)})")
            else:
                cells.append(cell(w, n, rs))
        runs = len(mine) if mine else 0
        print(f"| {w} | {n:,} | {runs} | {cell(w, n, mine) if mine else '–'} | " + " | ".join(cells) + " |")


others = [p for p in peers if p not in ("kettle", "kettle-r2r")]
table("kettle", others, "Kettle")
if "kettle-r2r" in peers:
    print()
    print("Kettle.Bench published ReadyToRun (the same code compiled ahead of time; no tier-0 warm-up):")
    print()
    table("kettle-r2r", ["kettle"] + others, "kettle-r2r")

others = [p for p in peers if p != "kettle"]
extras = [(k, rs) for k, rs in groups.items() if k[2] == "kettle" and k[0] in ("process_pool",)]
for (w, n, p), rs in extras:
    print()
    print(f"process_pool: Kettle round-trip latency of one call at a time {med(rs, 'round_trip_latency_us'):.0f} µs"
          + "".join(f"; {q} {med(groups[(w, n, q)], 'round_trip_latency_us'):.0f} µs"
                    for q in others if (w, n, q) in groups))
if failures:
    print()
    for f in failures:
        print(f"- failed: {f}")
