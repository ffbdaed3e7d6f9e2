#!/usr/bin/env bash
# Assembles every example's PTX with ptxas for sm_80 and sm_90 and fails on
# any error or register spill. Skips (exit 0, with a message) without ptxas.
#   usage: scripts/check-ptx.sh NSAFUSE
set -euo pipefail
nsafuse=${1:?usage: scripts/check-ptx.sh NSAFUSE}
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
if [ ! -x "$ptxas" ]; then
    echo "check-ptx: SKIP: ptxas not found (set PTXAS, or install the CUDA toolkit)"
    exit 0
fi
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 count=0
# assemble LABEL NSAFUSE-DUMP-ARGS...: dump PTX and run ptxas on it for $sm
assemble() {
    local label=$1
    shift
    "$nsafuse" dump "$@" --emit ptx --target "$sm" -o "$tmp/k.ptx"
    if ! "$ptxas" --gpu-name "$sm" -v "$tmp/k.ptx" -o "$tmp/k.cubin" > "$tmp/log" 2>&1; then
        echo "check-ptx: ptxas failed: $label"; cat "$tmp/log"; failed=1
    elif grep -E '[1-9][0-9]* bytes spill' "$tmp/log" >/dev/null; then
        echo "check-ptx: register spills: $label"; cat "$tmp/log"; failed=1
    fi
    count=$((count + 1))
}
for file in examples/nsa/*.nf; do
    for graph in $(sed -n 's/^graph \([A-Za-z0-9_]*\).*/\1/p' "$file"); do
        for sm in sm_80 sm_90 sm_90a; do
            for t in 1 1024; do
                assemble "$graph $sm T=$t fused" "$file" --graph "$graph" --dim T=$t
                assemble "$graph $sm T=$t unfused" "$file" --graph "$graph" --dim T=$t --unfused
            done
        done
    done
done
# assemble_plans T:PLAN...: each head-gate form at T tokens under NSAFUSE_GEMM_PLAN=PLAN, for $sm
assemble_plans() {
    local entry graph
    for entry in "$@"; do
        for graph in logits_head_gate logits_head_gate_f32out logits_head_gate_f32w; do
            NSAFUSE_GEMM_PLAN=${entry#*:} assemble "$graph T=${entry%%:*} plan ${entry#*:}" \
                examples/nsa/logits_head_gate.nf --graph "$graph" --dim T="${entry%%:*}"
        done
    done
}
# the GEMM's other tilings (NSAFUSE_GEMM_PLAN, src/codegen/nvptx_gemm.h)
sm=sm_90
assemble_plans "1000:warps=16,wm=4,splits=2" "1000:warps=16,wm=4,splits=2,tma=0" "1000:rt=2,wm=4,splits=1" \
    "1000:rt=2,wm=2,splits=4" "1000:wm=1,splits=8" "1000:warps=16,wm=2,splits=8"
# wgmma on sm_90a: 128-row tiles (any form), the fp32-weight tiles, tails, odd splits
sm=sm_90a
assemble_plans "16384:" "2048:" "300:wgmma=1,wm=8" "700:wgmma=1,wm=8,rt=2,splits=3"
sm=sm_90
# small grids (16-row tiles, 16 or 32 columns, any split count), TMA and cp.async
assemble_plans "32:gemv=0" "100:" "32:gemv=0,tma=0" "128:splits=7,tma=0" "8:gemv=0"
# the GEMV's tiles (decode sizes), with row tails and loads in two batches
assemble_plans "8:" "24:" "13:gemv=8x2" "61:gemv=2x8"
# fp32 weights declared constant: their bf16 terms by TMA (sm_90a wgmma, sm_90 mma.sync, small grids)
for entry in sm_90a:128 sm_90a:512 sm_90a:2048 sm_90a:16384 sm_90:128 sm_90:2048; do
    sm=${entry%%:*}
    assemble "logits_head_gate_f32w $entry --constant w" examples/nsa/logits_head_gate.nf \
        --graph logits_head_gate_f32w --dim T="${entry#*:}" --constant w
done
echo "check-ptx: $count PTX modules assembled for sm_80, sm_90 and sm_90a, $([ $failed = 0 ] && echo 'no errors, no spills' || echo FAILED)"
exit $failed
