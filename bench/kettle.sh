#!/usr/bin/env bash
# Kettle's side of ../shared/bench: `bench/kettle.sh WORKLOAD N` prints one JSON line (peer "kettle").
# Builds bench/Kettle.Bench in Release first if needed (quietly, to stderr).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/Kettle.Bench/bin/Release/net10.0/Kettle.Bench.dll"
newest_src=$(find "$here/../src/Kettle" "$here/Kettle.Bench" -name '*.cs' -newer "$out" -print -quit 2>/dev/null || true)
if [ ! -f "$out" ] || [ -n "$newest_src" ]; then
  dotnet build "$here/Kettle.Bench/Kettle.Bench.csproj" -c Release -nologo -v q >&2
fi
exec dotnet "$out" "$@"
