"""What an echo server spends per request, measured from outside (robust on a loaded machine, unlike requests/s).

Usage: python3 bench/echo_cpu.py NAME CONNS MSGS -- SERVER_CMD...
  e.g. python3 bench/echo_cpu.py kettle 50 4000 -- dotnet bench/Kettle.Bench/bin/Release/net10.0/Kettle.Bench.dll echo_server
       KETTLE_SELECTOR=portable python3 bench/echo_cpu.py kettle-portable 50 4000 -- dotnet ...   (the portable path)
       python3 bench/echo_cpu.py uvloop 50 4000 -- /usr/bin/python3 ../shared/bench/py-uvloop/bench.py echo_server
The server must print 'PORT <n>' first (as for ../shared/bench/common/echo_run.py); the shared Node client drives it.
Prints one JSON line: requests/s, the server's CPU (user + system, all threads) per request, its voluntary and
involuntary context switches per request (summed over its threads), and the client's CPU share of one core (near 1.0
means the client is the limit).
"""
import glob
import json
import os
import resource
import signal
import subprocess
import sys
import time

name, conns, msgs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cmd = sys.argv[sys.argv.index("--") + 1:]
shared = os.environ.get("SHARED_BENCH", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
ticks = os.sysconf("SC_CLK_TCK")


def sample(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    vol = invol = threads = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if line.startswith("voluntary_ctxt_switches"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    invol += int(line.split()[1])
            threads += 1
        except FileNotFoundError:
            pass  # a thread ended meanwhile
    return cpu, vol, invol, threads


server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
try:
    port = server.stdout.readline().split()[1]
    time.sleep(0.5)
    before = sample(server.pid)
    rusage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run(["node", os.path.join(shared, "node", "echo_client.mjs"), port, str(conns), str(msgs), "64", "180"],
                         capture_output=True, text=True, check=True)
    wall = time.time() - t0
    rusage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = sample(server.pid)
finally:
    server.send_signal(signal.SIGKILL)
    server.wait()
res = json.loads(out.stdout.strip().splitlines()[-1])
n = res["requests"]
client_cpu = (rusage1.ru_utime - rusage0.ru_utime) + (rusage1.ru_stime - rusage0.ru_stime)
print(json.dumps({
    "peer": name, "conns": conns, "req_per_s": round(res["req_per_s"]),
    "server_cpu_us_per_req": round((after[0] - before[0]) / n * 1e6, 2),
    "server_vol_cs_per_req": round((after[1] - before[1]) / n, 3),
    "server_invol_cs_per_req": round((after[2] - before[2]) / n, 3),
    "server_threads": after[3],
    "client_cpu_share": round(client_cpu / wall, 2),
}), flush=True)
