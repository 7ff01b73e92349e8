#!/usr/bin/env python3
"""Drive one echo run as ../shared/bench/common/echo_run.py does (start a peer's echo server, run a load client
against it in a separate process, print one JSON line with requests/s and the server's peak RSS), with a choice of
client:
  --client c     bench/echo-client/echo_client.c: one thread, epoll; built here with cc on first use. The default
                 of bench/compare.sh: the Node client took a whole core at ~70k requests/s on two cores, so it,
                 not the servers, set requests/s (see docs/performance.md, "The echo client").
  --client node  the shared Node client (../shared/bench/node/echo_client.mjs), exactly as the shared driver.

Usage: python3 bench/echo_run.py PEER [--client c|node] [--conns 50] [--msgs 20000] -- SERVER_CMD...
The server command must print 'PORT <n>' on its first stdout line and serve on 127.0.0.1.
The line also carries the client's and the server's CPU seconds (user + system, all threads).
"""
import argparse
import json
import os
import signal
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("SHARED_BENCH", os.path.join(here, "..", "..", "shared", "bench"))


def c_client():
    src = os.path.join(here, "echo-client", "echo_client.c")
    exe = os.path.join(here, "echo-client", "bin", "echo_client")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        cc = os.environ.get("CC", "cc")
        tmp = f"{exe}.{os.getpid()}"
        r = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", tmp, src], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"building the C echo client with {cc} failed:\n{r.stderr}")
        os.replace(tmp, exe)  # atomic: a run started meanwhile sees the old binary or the new one, never half of one
    return [exe]


def server_cpu(pid):
    ticks = os.sysconf("SC_CLK_TCK")
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


ap = argparse.ArgumentParser()
ap.add_argument("peer")
ap.add_argument("--client", choices=["c", "node"], default="c")
ap.add_argument("--conns", type=int, default=50)
ap.add_argument("--msgs", type=int, default=20000)
ap.add_argument("--timeout", type=int, default=180)
argv = sys.argv[1:]
if "--" not in argv:
    sys.exit("usage: echo_run.py PEER [--client c|node] [opts] -- SERVER_CMD...")
split = argv.index("--")
a = ap.parse_args(argv[:split])
cmd = argv[split + 1:]
if a.conns <= 0 or a.msgs <= 0:
    sys.exit(f"--conns and --msgs must be positive (got {a.conns}, {a.msgs})")

client = c_client() if a.client == "c" else ["node", os.path.join(shared, "node", "echo_client.mjs")]
srv = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
try:
    line = srv.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        sys.exit(f"server did not announce a port: {line}")
    port = line[1]
    cpu0 = server_cpu(srv.pid)
    before = os.times()
    out = subprocess.run(client + [port, str(a.conns), str(a.msgs), "64", str(a.timeout)],
                         capture_output=True, text=True, timeout=a.timeout + 30)
    after = os.times()
    if out.returncode != 0:
        sys.exit(f"client failed: {out.stderr}")
    cpu1 = server_cpu(srv.pid)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    hwm_kb = 0
    with open(f"/proc/{srv.pid}/status") as f:
        for l in f:
            if l.startswith("VmHWM:"):
                hwm_kb = int(l.split()[1])
    client_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    print(json.dumps({"peer": a.peer, "workload": "echo", "n": res["requests"], "seconds": res["seconds"],
                      "ops_per_s": res["req_per_s"], "peak_rss_mb": round(hwm_kb / 1024, 1),
                      "conns": a.conns, "msgs_per_conn": a.msgs, "client": a.client,
                      "server_cpu_s": round(cpu1 - cpu0, 3), "client_cpu_s": round(client_cpu, 3)}), flush=True)
finally:
    srv.send_signal(signal.SIGKILL)
    srv.wait()
