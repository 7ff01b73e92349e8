#!/usr/bin/env bash
# The tour: runs every sample of the tutorial in order, each under a heading.
# Usage (from the project root): bash samples/tour.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
order=(greet fetch-data gather taskgroup taskgroup-errors to-thread process-pool async-connection echo-server fetch-many countdown debug-mode named-tasks)
[ $# -gt 0 ] && order=("$@")
for name in "${order[@]}"; do
  [ -f "samples/$name.cs" ] || continue
  printf '\n=== %s ===\n' "$name"
  dotnet run "samples/$name.cs"
done
