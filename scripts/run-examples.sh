#!/usr/bin/env bash
# Runs every graph of examples/nsa/*.nf through the nsafuse command: `check`,
# then `run --check` (compared with the reference interpreter) at each T.
#   usage: scripts/run-examples.sh NSAFUSE [T...]      (default T: 1 7 33)
# NSAFUSE_TARGET picks the target (default host). The reference GEMM does
# T * 64 * 7168 multiply-adds on one core, so keep T small.
set -euo pipefail

nsafuse=${1:?usage: scripts/run-examples.sh NSAFUSE [T...]}
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 7 33)
target=${NSAFUSE_TARGET:-host}
cd "$(dirname "$0")/.."

failed=0
for file in examples/nsa/*.nf; do
    graphs=$(sed -n 's/^graph \([A-Za-z0-9_]*\).*/\1/p' "$file")
    for graph in $graphs; do
        echo "== $file --graph $graph"
        "$nsafuse" check "$file" --graph "$graph" >/dev/null || failed=1
        for t in "${sizes[@]}"; do
            if ! "$nsafuse" run "$file" --graph "$graph" --target "$target" --dim "T=$t" --check; then
                echo "run-examples: FAILED: $nsafuse run $file --graph $graph --target $target --dim T=$t --check" >&2
                failed=1
            fi
        done
    done
done
exit $failed
