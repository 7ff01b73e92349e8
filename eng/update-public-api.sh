#!/usr/bin/env bash
# Adds every public symbol the PublicApiAnalyzers report as undeclared (RS0016) to PublicAPI.Unshipped.txt
# of the given project (default: src/Kettle). Review the diff: it is the public API change.
set -euo pipefail
cd "$(dirname "$0")/.."
proj=${1:-src/Kettle}
api="$proj/PublicAPI.Unshipped.txt"
for _ in 1 2 3; do
  syms=$(dotnet build "$proj" -nologo 2>&1 | grep -o "error RS0016: Symbol '[^']*'" | sed "s/error RS0016: Symbol '//; s/'\$//" | sort -u || true)
  [ -z "$syms" ] && break
  { grep -v '^#nullable' "$api" || true; echo "$syms"; } | sort -u > "$api.tmp"
  { echo '#nullable enable'; cat "$api.tmp"; } > "$api"; rm "$api.tmp"
done
# Symbols that no longer exist (RS0017) are dropped.
gone=$(dotnet build "$proj" -nologo 2>&1 | grep -o "error RS0017: Symbol '[^']*'" | sed "s/error RS0017: Symbol '//; s/'\$//" | sort -u || true)
if [ -n "$gone" ]; then
  grep -vxF -f <(echo "$gone") "$api" > "$api.tmp" || true; mv "$api.tmp" "$api"
fi
echo "$(grep -vc '^#' "$api") symbols in $api"
