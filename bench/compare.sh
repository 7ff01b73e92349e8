#!/usr/bin/env bash
# Kettle and the peers of ../shared/bench side by side, in one run: every performance claim comes from this.
#   bench/compare.sh [WORKLOAD...]     default: spawn switch sleepers queue echo to_thread taskgroup lock process_pool
# Each (peer, workload) runs RUNS times (default 3), interleaved (run 1 of every peer, then run 2, ...) so that load
# drifting on a shared machine hits everyone alike; the table shows medians and Kettle's ratio to each peer.
# Environment:
#   RUNS=3                   runs per peer and workload
#   PEERS="kettle-r2r asyncio uvloop node go dotnet-nito dotnet-tpl"   peers besides kettle (also: trio); missing
#                            ones are skipped with a note. kettle-r2r is the same Kettle.Bench published ReadyToRun
#                            (compiled ahead of time; the JIT still tiers hot code up): the same code without tier-0
#                            warm-up, as an app is deployed with PublishReadyToRun=true; the table gives its own row.
#   ECHO_CLIENT=c            the echo load client every server gets: c (bench/echo-client, one thread with epoll;
#                            needs cc) or node (the shared Node client); see bench/echo_run.py
#   N_SPAWN=1000000 N_SWITCH=... N_SLEEPERS N_QUEUE N_ECHO N_TO_THREAD N_TASKGROUP N_LOCK N_PROCESS_POOL   sizes
#   ECHO_CONNS=50            echo connections (N_ECHO requests in all, as N_ECHO/ECHO_CONNS per connection)
#   RAW=path.jsonl           where the JSON lines go (default bench/results/compare-<UTC time>.jsonl); the table is
#                            written beside it (.md)
#   SHARED_BENCH=../shared/bench   PY=python3 with uvloop (default: python3, else pyenv's system python3)
#   RUN_TIMEOUT=300          seconds per single run
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=$(cd "${SHARED_BENCH:-$here/../../shared/bench}" && pwd) || { echo "no ../shared/bench" >&2; exit 1; }
export SHARED_BENCH=$shared
RUNS=${RUNS:-3}
PEERS=${PEERS:-"kettle-r2r asyncio uvloop node go dotnet-nito dotnet-tpl"}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
ECHO_CONNS=${ECHO_CONNS:-50}
export ECHO_CONNS
ECHO_CLIENT=${ECHO_CLIENT:-c}
case $ECHO_CLIENT in
  c) command -v "${CC:-cc}" >/dev/null || { echo "compare: no C compiler for the echo client (set ECHO_CLIENT=node or install gcc)" >&2; exit 1; };;
  node) ;;
  *) echo "compare: ECHO_CLIENT must be c or node, not '$ECHO_CLIENT'" >&2; exit 1;;
esac
export ECHO_CLIENT
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(spawn switch sleepers queue echo to_thread taskgroup lock process_pool)
mkdir -p "$here/results"
RAW=${RAW:-$here/results/compare-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
TABLE=${RAW%.jsonl}.md
build=$(mktemp -d /tmp/kettle-compare.XXXXXX)
trap 'rm -rf "$build"' EXIT

if [ -z "${PY:-}" ]; then
  if python3 -I -c 'import uvloop' 2>/dev/null; then PY="python3"
  elif env PYENV_VERSION=system python3 -I -c 'import uvloop' 2>/dev/null; then PY="env PYENV_VERSION=system python3"
  else PY="python3"; fi
fi
export PY

size() {  # workload -> N (env override N_<WORKLOAD>)
  local var="N_${1^^}" def
  case $1 in
    to_thread) def=100000;; process_pool) def=1000;; echo_loopback) def=20000;; *) def=1000000;;
  esac
  echo "${!var:-$def}"
}

notes=()
available=()
for p in $PEERS; do
  case $p in
    asyncio) $PY -c 'import asyncio' 2>/dev/null && available+=("$p") || notes+=("asyncio: no python3");;
    uvloop) $PY -I -c 'import uvloop' 2>/dev/null && available+=("$p") || notes+=("uvloop: not installed (apt-get install python3-uvloop)");;
    trio) $PY -I -c 'import trio' 2>/dev/null && available+=("$p") || notes+=("trio: not installed (apt-get install python3-trio)");;
    node) command -v node >/dev/null && available+=("$p") || notes+=("node: not installed");;
    go)
      if command -v go >/dev/null && (cd "$shared/go" && go build -o "$build/go-bench" bench.go) >&2; then available+=("$p")
      else notes+=("go: not installed or build failed (apt-get install golang-go)"); fi;;
    dotnet-nito|dotnet-tpl)
      if [ -z "${dotnet_built:-}" ]; then
        dotnet_built=no
        dotnet build "$shared/dotnet/Bench.csproj" -c Release -nologo -v q --artifacts-path "$build/dotnet" >&2 && dotnet_built=yes
      fi
      [ "$dotnet_built" = yes ] && available+=("$p") || notes+=("$p: build of $shared/dotnet failed");;
    kettle-r2r)
      if dotnet publish "$here/Kettle.Bench/Kettle.Bench.csproj" -c Release --use-current-runtime --self-contained false \
           -p:PublishReadyToRun=true --artifacts-path "$build/r2r-artifacts" -o "$build/kettle-r2r" -nologo -v q >&2; then
        available+=("$p")
      else notes+=("kettle-r2r: the ReadyToRun publish failed"); fi;;
    *) notes+=("$p: unknown peer");;
  esac
done
dotnet_dll=$build/dotnet/bin/Bench/release/Bench.dll

cmd_for() {  # peer -> command prefix taking WORKLOAD N (or echo_server)
  case $1 in
    kettle) echo "bash $here/kettle.sh";;
    kettle-r2r) echo "dotnet $build/kettle-r2r/Kettle.Bench.dll";;
    asyncio) echo "$PY $shared/py-asyncio/bench.py";;
    uvloop) echo "$PY $shared/py-uvloop/bench.py";;
    trio) echo "$PY $shared/py-trio/bench.py";;
    node) echo "node $shared/node/bench.mjs";;
    go) echo "$build/go-bench";;
    dotnet-tpl) echo "dotnet $dotnet_dll tpl";;
    dotnet-nito) echo "dotnet $dotnet_dll nito";;
  esac
}

supports() {  # peer workload -> 0 if the peer has this workload
  case $2 in
    to_thread) [[ $1 != node && $1 != go ]];;
    lock|process_pool|taskgroup) [[ $1 == kettle* || $1 == asyncio ]];;
    echo_loopback) [[ $1 == kettle* ]];;
    *) return 0;;
  esac
}

run_one() {  # peer workload n
  local p=$1 w=$2 n=$3 base
  base=$(cmd_for "$p")
  if [[ $p == kettle ]]; then
    timeout "$RUN_TIMEOUT" $base "$w" "$n"
  elif [[ $w == echo ]]; then
    timeout "$RUN_TIMEOUT" $PY "$here/echo_run.py" "$p" --client "$ECHO_CLIENT" --conns "$ECHO_CONNS" --msgs $((n / ECHO_CONNS)) -- $base echo_server
  elif [[ $p == kettle-r2r ]]; then   # the benchmark names itself "kettle"
    timeout "$RUN_TIMEOUT" $base "$w" "$n" | sed 's/^{"peer": "kettle"/{"peer": "kettle-r2r"/'
  elif [[ $p == asyncio && ( $w == lock || $w == process_pool || $w == taskgroup ) ]]; then
    timeout "$RUN_TIMEOUT" $PY "$here/peers/asyncio_$w.py" "$n"
  else
    timeout "$RUN_TIMEOUT" $base "$w" "$n"
  fi
}

bash "$here/kettle.sh" spawn 1 >/dev/null   # builds Kettle.Bench once, outside the timed runs
{
  echo "# compare: $(date -u +%FT%TZ), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
  echo "# kettle $(git -C "$here" rev-parse --short HEAD 2>/dev/null)$(git -C "$here" diff --quiet 2>/dev/null || echo '+dirty'), dotnet $(dotnet --version), node $(node --version 2>/dev/null || echo -), $(go version 2>/dev/null | awk '{print $3}' || echo 'go -'), python $($PY -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
  echo "# echo client: $ECHO_CLIENT ($([[ $ECHO_CLIENT == c ]] && echo 'bench/echo-client/echo_client.c, one thread with epoll' || echo 'the shared Node client'))"
  for note in "${notes[@]}"; do echo "# skipped: $note"; done
} | tee "$RAW" >&2

for r in $(seq "$RUNS"); do
  for w in "${workloads[@]}"; do
    n=$(size "$w")
    for p in kettle "${available[@]}"; do
      supports "$p" "$w" || continue
      echo ">> run $r/$RUNS: $p $w $n" >&2
      run_one "$p" "$w" "$n" | tee -a "$RAW" >&2 || echo "!! $p $w $n run $r failed" | tee -a "$RAW" >&2
    done
  done
done

python3 "$here/compare.py" "$RAW" | tee "$TABLE"
echo "(raw lines: $RAW; table: $TABLE)" >&2
