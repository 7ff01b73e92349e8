#!/usr/bin/env bash
# CI smoke test of the benchmark harness: every Kettle workload at a tiny size must print one valid JSON line
# (peer "kettle", the right workload, positive seconds and ops/s). Times are not checked. Needs only the .NET SDK;
# echo also runs when python3 and a C compiler (or node and ../shared/bench) are there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runs=("spawn 1000" "switch 1000" "sleepers 200" "queue 2000" "to_thread 200" "taskgroup 3000" "lock 1000"
      "process_pool 20" "echo_loopback 500")
# echo runs through bench/echo_run.py with the C client when there is a C compiler, else with the shared Node client.
if command -v python3 >/dev/null && command -v "${CC:-cc}" >/dev/null; then
  runs+=("echo 500")
  export ECHO_CLIENT=c
elif command -v python3 >/dev/null && command -v node >/dev/null && [ -f "${SHARED_BENCH:-$here/../../shared/bench}/node/echo_client.mjs" ]; then
  runs+=("echo 500")
  export ECHO_CLIENT=node
else
  echo "smoke: echo through a load client skipped (python3 and cc or node missing); echo_loopback covers the server"
fi

bash "$here/kettle.sh" spawn 1 >/dev/null   # build once, outside the timed part
failed=0
start=$SECONDS
for r in "${runs[@]}"; do
  set -- $r
  line=$(timeout 60 bash "$here/kettle.sh" "$1" "$2" | tail -n 1) || { echo "FAIL $r: exit code $?"; failed=1; continue; }
  # A JSON object with the fields every line of ../shared/bench has, checked without needing python.
  pattern="^\{\"peer\": \"kettle\", \"workload\": \"$1\", \"n\": [0-9]+, \"seconds\": [0-9.]+, \"ops_per_s\": [0-9.]+, \"peak_rss_mb\": [0-9.]+.*\}$"
  if [[ $line =~ $pattern ]] && { ! command -v python3 >/dev/null || python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["seconds"] > 0 and r["ops_per_s"] > 0' "$line"; }; then
    echo "ok   $r: $line"
  else
    echo "FAIL $r: not a valid JSON line: $line"
    failed=1
  fi
done
echo "smoke: $((SECONDS - start)) s"
exit $failed
