#!/usr/bin/env bash
# Kettle's side of ../shared/bench: `bench/kettle.sh WORKLOAD N` prints one JSON line (peer "kettle").
#   WORKLOAD: spawn switch sleepers queue to_thread (as ../shared/bench), echo, lock, process_pool, taskgroup,
#             echo_loopback (see bench/Kettle.Bench/Program.cs). `bench/kettle.sh echo_server` serves echo until killed.
#   echo N: N requests in all over ECHO_CONNS connections (default 50), driven by bench/echo_run.py with the client
#           ECHO_CLIENT (c: bench/echo-client, the default; node: the shared Node client), as every peer's echo
#           server is in bench/compare.sh.
# Builds bench/Kettle.Bench in Release first if a source is newer than the build (quietly, to stderr).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/Kettle.Bench/bin/Release/net10.0/Kettle.Bench.dll"
newest_src=$(find "$here/../src/Kettle" "$here/Kettle.Bench" \( -name '*.cs' -o -name '*.csproj' \) -newer "$out" -print -quit 2>/dev/null || true)
if [ ! -f "$out" ] || [ -n "$newest_src" ]; then
  dotnet build "$here/Kettle.Bench/Kettle.Bench.csproj" -c Release -nologo -v q >&2
fi
if [ "${1:-}" = echo ]; then
  n=${2:?usage: kettle.sh echo N}
  conns=${ECHO_CONNS:-50}
  exec ${PY:-python3} "$here/echo_run.py" kettle --client "${ECHO_CLIENT:-c}" --conns "$conns" --msgs $((n / conns)) -- dotnet "$out" echo_server
fi
exec dotnet "$out" "$@"
