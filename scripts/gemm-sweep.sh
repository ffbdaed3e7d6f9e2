#!/bin/bash
# Tunes the tensor-core GEMM's tiling on the GPU machine: times the head gate
# (nsafuse-bench headgate, fused, per call in a graph of 50) under several
# NSAFUSE_GEMM_PLAN overrides (src/codegen/nvptx_gemm.h) and under the
# default plan. Run from the repository root with bundle/ carried, like
# scripts/gpu-check.sh:
#   NF_SWEEP='128:wm=1,splits=8 128:wm=2,splits=4 ...' NF_FORMS=bf16 bash scripts/gemm-sweep.sh
# Each entry is T:PLAN (PLAN "default" = no override). Prints one line per entry.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
b=$root/bundle
for f in "$b"/lib/*.xz; do [ -f "$f" ] && xz -d -f "$f"; done
(cd "$b/lib" && for f in libnsafuse.so.*.*.*; do ln -sf "$f" libnsafuse.so.0; done)
export LD_LIBRARY_PATH=$b/lib:${LD_LIBRARY_PATH:-}
export NF_SOURCE_ROOT=$root
forms=${NF_FORMS:-bf16}
for entry in ${NF_SWEEP:?set NF_SWEEP to T:PLAN entries}; do
    t=${entry%%:*}
    plan=${entry#*:}
    [ "$plan" = default ] && plan=
    cache=$(mktemp -d)
    line=$(NSAFUSE_CACHE_DIR=$cache NSAFUSE_GEMM_PLAN=$plan "$b/bin/nsafuse-bench" headgate --sizes "$t" --forms "$forms" \
        --no-check 2>&1 | grep -E '^ +[0-9]+ .* fused ' | tr '\n' '|')
    rm -rf "$cache"
    printf '%-6s %-28s %s\n' "$t" "${plan:-default}" "$line"
done
