#!/bin/bash
# Runs on the GPU machine from the repository root, with bundle/ carried
# (scripts/gpu-bundle.sh made it): the test programs, the examples through
# the CLI on the GPU, and the benchmarks. Logs go to $OUT.
#   NF_TESTS='bundle/tests/test_x ...'  only these test programs
#   NF_SKIP_CHECKS=1                     no test programs, no example runs (benchmarks only)
#   NF_BENCH='all'                       nsafuse-bench with these arguments (elementwise rows
#                                        go to $OUT/nsafuse.csv); NF_BENCH='headgate': the NSA
#                                        head gate (its rows go there instead)
#   NF_TORCH_BENCH='--sizes 1M'          bench/torch_bench.py with these arguments (may be
#                                        empty: set is enough), after nsafuse-bench; it prints
#                                        both side by side; NF_TORCH_BENCH='headgate' for the
#                                        head gate (with NF_BENCH='headgate')
#   NF_SKIP_PYTHON=1                     no Python suite (tests/python, after the examples)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/nsafuse-out}
mkdir -p "$out"
b=$root/bundle
for f in "$b"/lib/*.xz; do [ -f "$f" ] && xz -d -f "$f"; done
(cd "$b/lib" && for f in libnsafuse.so.*.*.*; do ln -sf "$f" libnsafuse.so.0; ln -sf "$f" libnsafuse.so; done)
ln -sf ../bin/nsafuse "$b/lib/nsafuse" # the Python suite's CLI tests look beside the library
export LD_LIBRARY_PATH=$b/lib:${LD_LIBRARY_PATH:-}
export NF_SOURCE_ROOT=$root
export NSAFUSE_CACHE_DIR=${NSAFUSE_CACHE_DIR:-/tmp/nsafuse-cache}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
fail=0
checks=yes
[ "${NF_SKIP_CHECKS:-0}" = 1 ] && checks=no
for t in ${NF_TESTS:-"$b"/tests/test_*}; do
    [ $checks = yes ] || break
    name=$(basename "$t")
    if "$t" > "$out/$name.log" 2>&1; then echo "PASS $name"; else echo "FAIL $name"; tail -30 "$out/$name.log"; fail=1; fi
done
for f in "$root"/examples/nsa/*.nf; do
    [ $checks = yes ] || break
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
# fp32 weights declared constant (their bf16 terms made once, read by TMA)
for T in ${NF_SIZES:-1 7 33 1024}; do
    [ $checks = yes ] || break
    if "$b/bin/nsafuse" run "$root/examples/nsa/logits_head_gate.nf" --graph logits_head_gate_f32w --constant w \
        --target cuda --dim T=$T --check > "$out/run-f32w-const-$T.log" 2>&1; then
        echo "PASS run logits_head_gate_f32w --constant w T=$T"
    else
        echo "FAIL run logits_head_gate_f32w --constant w T=$T"; tail -5 "$out/run-f32w-const-$T.log"; fail=1
    fi
done
# the example host programs (examples/nsa/*.c) on the GPU; NF_EXAMPLE_SIZES for head_gate
for e in head_gate rope_writeback; do
    [ $checks = yes ] || break
    [ -x "$b/bin/$e" ] || continue
    args=(--target cuda)
    [ $e = head_gate ] && args+=(--sizes "${NF_EXAMPLE_SIZES:-1,8,32,128,512,2048,8192,16384}")
    if "$b/bin/$e" "${args[@]}" > "$out/example-$e.log" 2>&1; then echo "PASS example $e"; else echo "FAIL example $e"; tail -20 "$out/example-$e.log"; fail=1; fi
done
# the Python suite on the GPU (pytest through tests/python/run_pytest.py, as meson test runs it)
if [ $checks = yes ] && [ "${NF_SKIP_PYTHON:-0}" != 1 ]; then
    if NSAFUSE_LIBRARY=$b/lib/libnsafuse.so.0 python3 "$root/tests/python/run_pytest.py" > "$out/pytest.log" 2>&1; then
        echo "PASS pytest ($(grep -E '[0-9]+ passed' "$out/pytest.log" | tail -1))"
    else
        echo "FAIL pytest"; tail -30 "$out/pytest.log"; fail=1
    fi
fi
if [ -n "${NF_BENCH:-}" ]; then
    if [ -x "$b/bin/nsafuse-bench" ]; then
        "$b/bin/nsafuse-bench" $NF_BENCH --csv "$out/nsafuse.csv" 2>&1 | tee "$out/bench.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || { echo "FAIL nsafuse-bench $NF_BENCH"; fail=1; }
    else
        echo "FAIL nsafuse-bench: not in the bundle (build it, then scripts/gpu-bundle.sh)"; fail=1
    fi
fi
if [ -n "${NF_TORCH_BENCH+set}" ]; then
    nf_csv=()
    [ -f "$out/nsafuse.csv" ] && nf_csv=(--nsafuse-csv "$out/nsafuse.csv")
    python3 "$root/bench/torch_bench.py" $NF_TORCH_BENCH --csv "$out/torch.csv" "${nf_csv[@]}" 2>&1 \
        | tee "$out/torch_bench.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "FAIL torch_bench.py"; fail=1; }
fi
exit $fail
