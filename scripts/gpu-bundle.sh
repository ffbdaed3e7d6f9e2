#!/bin/bash
# Builds nsafuse for the GPU machine (LLVM linked statically into one
# libnsafuse.so that every program shares) and packs it into bundle/, the
# folder the device tool carries. Then: scripts/gpu-check.sh runs there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NF_GPU_BUILD:-$root/build-gpu}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" -Dllvm_static=true -Dbundle=true -Dbuildtype=release -Db_ndebug=if-release
fi
ninja -C "$build" -j2
out=$root/bundle
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/tests"
cp "$build/nsafuse" "$out/bin/"
# test_mathlib checks host code only (CI runs it) and links LLVM itself: left out
for t in "$build"/tests/test_*; do
    case "$t" in *test_mathlib*) continue ;; esac
    [ -f "$t" ] && [ -x "$t" ] && cp "$t" "$out/tests/"
done
[ -x "$build/bench/nsafuse-bench" ] && cp "$build/bench/nsafuse-bench" "$out/bin/"
for e in "$build"/examples/*; do [ -f "$e" ] && [ -x "$e" ] && cp "$e" "$out/bin/"; done # host programs of examples/
for f in "$build"/libnsafuse.so.*.*.*; do [ -f "$f" ] && cp "$f" "$out/lib/"; done
strip --strip-unneeded "$out"/bin/* "$out"/tests/* "$out"/lib/*
(cd "$out/lib" && for f in libnsafuse.so.*; do xz -T2 -6 "$f"; done)
cp /usr/lib/x86_64-linux-gnu/libcmocka.so.0 "$out/lib/"
du -sh "$out"
