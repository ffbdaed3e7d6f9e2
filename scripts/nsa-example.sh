#!/usr/bin/env bash
# The main job: installs the dependencies, builds nsafuse, then checks and runs
# the NSA indexer head gates (examples/nsa/*.nf: logits_head_gate and
# project_and_scale_head_gates, each in its bf16-rounded, f32-output and
# fp32-weight forms) at a few token counts, each compared with the reference
# interpreter.
#   NSAFUSE_TARGET=sm_90 scripts/nsa-example.sh   runs them on a GPU instead
#   NSA_T="1 8 128" scripts/nsa-example.sh        other token counts
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build"
read -r -a sizes <<<"${NSA_T:-1 7 33}"
scripts/run-examples.sh "$build/nsafuse" "${sizes[@]}"
echo "nsa-example: all head-gate examples PASS"
