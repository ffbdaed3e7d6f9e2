#!/bin/bash
# Runs on the GPU machine from the repository root, with bundle/ carried
# (scripts/gpu-bundle.sh made it): the test programs, the examples through
# the CLI on the GPU, and the benchmarks. Logs go to $OUT.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/nsafuse-out}
mkdir -p "$out"
b=$root/bundle
for f in "$b"/lib/*.xz; do [ -f "$f" ] && xz -d -f "$f"; done
(cd "$b/lib" && for f in libnsafuse.so.*.*.*; do ln -sf "$f" libnsafuse.so.0; ln -sf "$f" libnsafuse.so; done)
export LD_LIBRARY_PATH=$b/lib:${LD_LIBRARY_PATH:-}
export NF_SOURCE_ROOT=$root
export NSAFUSE_CACHE_DIR=${NSAFUSE_CACHE_DIR:-/tmp/nsafuse-cache}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
fail=0
for t in ${NF_TESTS:-"$b"/tests/test_*}; do
    name=$(basename "$t")
    if "$t" > "$out/$name.log" 2>&1; then echo "PASS $name"; else echo "FAIL $name"; tail -30 "$out/$name.log"; fail=1; fi
done
for f in "$root"/examples/nsa/*.nf; do
    for g in $(sed -n 's/^graph \([A-Za-z0-9_]*\).*/\1/p' "$f"); do
        for T in ${NF_SIZES:-1 7 33 1024}; do
            if "$b/bin/nsafuse" run "$f" --graph "$g" --target cuda --dim T=$T --check > "$out/run-$g-$T.log" 2>&1; then
                echo "PASS run $g T=$T"
            else
                echo "FAIL run $g T=$T"; tail -5 "$out/run-$g-$T.log"; fail=1
            fi
        done
    done
done
if [ -n "${NF_BENCH:-}" ] && [ -x "$b/bin/nsafuse-bench" ]; then
    "$b/bin/nsafuse-bench" $NF_BENCH | tee "$out/bench.txt"
fi
exit $fail
