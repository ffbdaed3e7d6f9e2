#!/usr/bin/env bash
# The nsafuse command as CONTRACT.md section 2 pins it: exit statuses, the
# FILE:LINE:COL: error: format, --help for every verb, run --check PASS,
# dump, bench and cache.
#   usage: test_cli.sh NSAFUSE_EXECUTABLE SOURCE_ROOT
set -uo pipefail

nsafuse=${1:?usage: test_cli.sh NSAFUSE SOURCE_ROOT}
root=${2:?usage: test_cli.sh NSAFUSE SOURCE_ROOT}
examples=$root/examples/nsa
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NSAFUSE_CACHE_DIR=$work/cache

failures=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    echo "  stdout:" >&2
    sed 's/^/    /' "$work/out" >&2
    echo "  stderr:" >&2
    sed 's/^/    /' "$work/err" >&2
    failures=$((failures + 1))
}

# expect STATUS ARGS...: runs nsafuse ARGS, checks the exit status; output
# stays in $work/out and $work/err for the checks that follow.
expect() {
    local want=$1
    shift
    checks=$((checks + 1))
    "$nsafuse" "$@" >"$work/out" 2>"$work/err" </dev/null
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "nsafuse $* exited $got, expected $want"
        return 1
    fi
    return 0
}

# out_has / err_has REGEX: the last command's stdout / stderr matches.
out_has() { grep -Eq -- "$1" "$work/out" || fail "stdout of the last command lacks /$1/"; }
err_has() { grep -Eq -- "$1" "$work/err" || fail "stderr of the last command lacks /$1/"; }
err_lines() {
    local n
    n=$(wc -l <"$work/err")
    [ "$n" -eq "$1" ] || fail "stderr has $n lines, expected $1"
}

# ---- help, version, usage errors ---------------------------------------------
expect 0 --help && out_has '^usage: nsafuse'
expect 0 -h && out_has 'verbs:'
expect 0 --version && out_has '^nsafuse [0-9]+\.[0-9]+\.[0-9]+$'
for verb in check dump run bench cache; do
    expect 0 "$verb" --help && out_has "^usage: nsafuse $verb"
    expect 0 "$verb" -h && out_has "^usage: nsafuse $verb"
done
expect 1 && err_has '^usage: nsafuse'
expect 1 frobnicate && err_has "unknown verb 'frobnicate'"
expect 1 --frobnicate && err_has 'unknown option'
expect 1 check "$examples/logits_head_gate.nf" --bogus && err_has 'unknown flag --bogus' && err_lines 1
expect 1 check "$examples/logits_head_gate.nf" --dim T=3 && err_has 'unknown flag --dim'
expect 1 check && err_has 'missing FILE'
expect 1 run "$examples/logits_head_gate.nf" --dim T && err_has 'NAME=INT'
expect 1 run "$examples/logits_head_gate.nf" --dim T=-3 && err_has '>= 0'
expect 1 run "$examples/logits_head_gate.nf" --seed banana && err_has -- '--seed'
expect 1 run "$examples/logits_head_gate.nf" --target tpu --dim T=1 && err_has 'unknown --target'
expect 1 run "$examples/logits_head_gate.nf" --check=yes && err_has 'takes no value'
expect 1 dump "$examples/logits_head_gate.nf" && err_has -- '--emit is required'
expect 1 dump "$examples/logits_head_gate.nf" --emit wasm && err_has 'unknown --emit wasm'
expect 1 bench "$examples/logits_head_gate.nf" --dim T=1 && err_has -- '--target is required'
expect 1 cache && err_has 'missing action'
expect 1 cache shred && err_has "unknown action 'shred'"

# ---- check ---------------------------------------------------------------------
for f in "$examples"/*.nf; do
    expect 0 check "$f" && out_has '^graph [a-z_]+\(' && out_has '^  return %'
done
expect 0 check "$examples/logits_head_gate.nf" --graph logits_head_gate_f32w &&
    out_has '^graph logits_head_gate_f32w\(' && out_has 'linear\(%xf, %w\) : f32\[T, 64\]'
expect 0 check --graph logits_head_gate_f32out "$examples/logits_head_gate.nf" &&
    out_has 'out_dtype=f32'
expect 1 check "$examples/logits_head_gate.nf" --graph nope && err_has "no graph named 'nope'" && err_lines 1
checks=$((checks + 1))
"$nsafuse" check - <"$examples/logits_head_gate.nf" >"$work/out" 2>"$work/err" || fail "check - (stdin) failed"

printf 'graph g(%%x: f32[4]) {\n  %%y = exp(%%x)\n  %%z = mul(%%y, %%q)\n  return %%z\n}\n' >"$work/undefined.nf"
printf 'graph g(%%x: f32[4]) {\n  %%y = exp(%%x) : bf16[4]\n  return %%y\n}\n' >"$work/assert.nf"
printf 'graph g(%%x: f32[4]) {\n  %%y = exp(%%x\n  return %%y\n}\n' >"$work/syntax.nf"
printf 'graph g(%%x: f32[4], %%w: f32[3, 5]) {\n  %%y = linear(%%x, %%w)\n  return %%y\n}\n' >"$work/shape.nf"
for bad in undefined assert syntax shape; do
    expect 1 check "$work/$bad.nf" && err_has "^$work/$bad.nf:[0-9]+:[0-9]+: error: " && err_lines 1
done
expect 1 check "$work/undefined.nf" && err_has ':3:16: error: .*%q'
expect 1 check "$work/assert.nf" && err_has ':2:[0-9]+: error: .*bf16'
expect 1 check "$work/missing.nf" && err_has "^$work/missing.nf: error: .*No such file" && err_lines 1
expect 1 run "$work/syntax.nf" && err_has "^$work/syntax.nf:[0-9]+:[0-9]+: error: "

# ---- run -----------------------------------------------------------------------
cat >"$work/chain.nf" <<'EOF'
graph chain(%a: bf16[N, 5], %b: f32[5]) {
  %c = cast(%a, f32)
  %d = mul(%c, %b)
  %e = add(%d, 1.5)
  %f = sigmoid(%e)
  %g = cast(%f, bf16)
  return %g, %d
}
EOF
expect 1 run "$work/chain.nf" && err_has 'symbolic size N' && err_has -- '--dim N=' && err_lines 1
expect 1 run "$work/chain.nf" --dim N=3 --dim M=2 && err_has 'no symbol M'
expect 0 run "$work/chain.nf" --dim N=3 --check &&
    out_has '^PASS$' && out_has 'seed 0' && out_has '^input  %a: bf16\[3, 5\]' &&
    out_has '^output %g: bf16\[3, 5\] .*min .*max .*mean' && out_has '^output %d: f32\[3, 5\]' &&
    out_has 'check  %g: max abs err .* max rel err .* PASS' && out_has 'check  %d: max abs err .* PASS'
expect 0 run "$work/chain.nf" --dim N=3 --check --unfused && out_has '^PASS$' && out_has 'unfused'
expect 0 run "$work/chain.nf" --dim N=4 --seed 7 && cp "$work/out" "$work/seed7a"
expect 0 run "$work/chain.nf" --dim N=4 --seed 7 && cp "$work/out" "$work/seed7b"
expect 0 run "$work/chain.nf" --dim N=4 --seed 8 && cp "$work/out" "$work/seed8"
cmp -s "$work/seed7a" "$work/seed7b" || fail "run --seed 7 twice printed different outputs"
cmp -s "$work/seed7a" "$work/seed8" && fail "run --seed 7 and --seed 8 printed the same outputs"
checks=$((checks + 2))

# The NSA head gates, every form, at decode sizes (K = 7168 makes the
# reference GEMM slow at large T).
for g in logits_head_gate logits_head_gate_f32out logits_head_gate_f32w; do
    expect 0 run "$examples/logits_head_gate.nf" --graph "$g" --dim T=2 --check &&
        out_has '^PASS$' && out_has "^output %o: f32\[2, 64, 1\]"
done
for g in project_and_scale_head_gates project_and_scale_head_gates_f32out project_and_scale_head_gates_f32w; do
    expect 0 run "$examples/project_and_scale_head_gates.nf" --graph "$g" --dim T=1 --check &&
        out_has '^PASS$' && out_has "^output %o: f32\[1, 64\]"
done

# A GPU target on a machine without one is an environment error (2) with one
# line that says what to do; with a GPU it runs.
checks=$((checks + 1))
"$nsafuse" run "$work/chain.nf" --dim N=3 --target sm_90 --check >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -eq 2 ]; then
    err_lines 1
    err_has 'host'
elif [ "$status" -ne 0 ]; then
    fail "run --target sm_90 exited $status; expected 0 (a GPU) or 2 (none)"
fi

# ---- dump ----------------------------------------------------------------------
expect 0 dump "$examples/logits_head_gate.nf" --emit ir && out_has '^graph logits_head_gate\('
expect 0 dump "$examples/logits_head_gate.nf" --emit ir -o "$work/ir.txt" &&
    grep -q '^graph logits_head_gate(' "$work/ir.txt" || fail "dump --emit ir -o wrote no graph"
expect 1 dump "$examples/logits_head_gate.nf" --emit fused && err_has 'symbolic size T'
expect 0 dump "$examples/logits_head_gate.nf" --emit fused --dim T=3 && out_has '^kernel '
expect 0 dump "$work/chain.nf" --emit fused --dim N=3 --unfused && out_has '^kernel '
expect 0 dump "$work/chain.nf" --emit llvm --dim N=3 && out_has 'define '
expect 1 dump "$examples/logits_head_gate.nf" --emit ir -o "$work/no/such/dir/x" && err_has 'cannot open'
# --constant: an fp32 weight read as its bf16 terms on sm_90a; a name that is no input is an error
expect 0 dump "$examples/logits_head_gate.nf" --graph logits_head_gate_f32w --emit ptx --target sm_90a --dim T=2048 \
    --constant w && out_has "W's terms made once"
expect 0 dump "$examples/logits_head_gate.nf" --graph logits_head_gate_f32w --emit ptx --target sm_90a --dim T=2048 &&
    ! grep -q "terms made once" "$work/out" || fail "dump without --constant reads made terms"
expect 1 dump "$examples/logits_head_gate.nf" --graph logits_head_gate_f32w --emit ptx --dim T=8 --constant v &&
    err_has 'no input %v \(its inputs: %x, %w, %q_scale\)' && err_lines 1
expect 0 run "$examples/logits_head_gate.nf" --graph logits_head_gate_f32w --dim T=3 --constant %w --check &&
    out_has '^PASS$'

# ---- bench ---------------------------------------------------------------------
expect 0 bench "$work/chain.nf" --target host --dim N=64 &&
    out_has '^fused +[0-9]+ kernel' && out_has '^unfused +[0-9]+ kernel' && out_has 'median'

# ---- cache ---------------------------------------------------------------------
# A directory of its own: the runs above may have cached kernels in the other.
cache=$work/listed-cache
export NSAFUSE_CACHE_DIR=$cache
expect 0 cache list && out_has "^cache $cache: empty"
mkdir -p "$cache"
printf 'abc' >"$cache/one.nfk"
printf 'abcdef' >"$cache/two.nfk"
printf 'keep' >"$cache/notes.txt"
# not valid entries (no header, no checksum): never listed as code, removed by clear
expect 0 cache list && out_has "^cache $cache: empty"
grep -q notes.txt "$work/out" && fail "cache list shows a file that is not an entry"
expect 0 cache clear
checks=$((checks + 1))
if [ -e "$cache/one.nfk" ] || [ -e "$cache/two.nfk" ] || [ ! -e "$cache/notes.txt" ]; then
    fail "cache clear must remove the .nfk files and nothing else"
fi
expect 0 cache list && out_has "^cache $cache: empty"
NSAFUSE_CACHE_DIR='' XDG_CACHE_HOME="$work/xdg" expect 0 cache list && out_has "^cache $work/xdg/nsafuse: empty"

echo "test_cli: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
