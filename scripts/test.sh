#!/usr/bin/env bash
# The full test suite (what CI runs): a -Werror build and its tests, the same
# tests under AddressSanitizer + UndefinedBehaviorSanitizer, then every
# example through the nsafuse command. Needs scripts/install-deps.sh first.
#   Build directories: build/ and build-asan/ (override with BUILD_DIR,
#   ASAN_BUILD_DIR); NSAFUSE_JOBS sets the parallelism (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build}
asan_build=${ASAN_BUILD_DIR:-build-asan}
jobs=${NSAFUSE_JOBS:-$(nproc)}

section() { printf '\n== %s ==\n' "$*"; }

# configure DIR OPTIONS...: a fresh setup, or a reconfigure that applies OPTIONS.
configure() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@"
    else
        meson setup "$dir" "$@"
    fi
}

# suite DIR: builds and runs meson's tests; on failure prints the whole log.
suite() {
    local dir=$1
    ninja -C "$dir" -j "$jobs"
    if ! meson test -C "$dir" --num-processes "$jobs" --print-errorlogs; then
        echo "test.sh: tests failed in $dir; the full log ($dir/meson-logs/testlog.txt):" >&2
        cat "$dir/meson-logs/testlog.txt" >&2
        return 1
    fi
}

section "build with -Werror ($build)"
configure "$build" -Dwerror=true
suite "$build"

section "AddressSanitizer + UndefinedBehaviorSanitizer ($asan_build)"
configure "$asan_build" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
# Fewer random graphs here: LLVM's optimizer (uninstrumented, but allocating
# through the sanitizer's malloc) is what takes the time; the -Werror run
# above covers the full count.
NF_TEST_GRAPHS=${NF_TEST_GRAPHS:-48} ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    suite "$asan_build"

section "examples through the nsafuse command"
scripts/run-examples.sh "$build/nsafuse" 1 7 33

section "PTX of every example through ptxas (sm_80, sm_90)"
scripts/check-ptx.sh "$build/nsafuse"

section "AMDGPU code objects of every example through llvm-readelf/llvm-objdump (gfx942, gfx950)"
scripts/check-amdgpu.sh "$build/nsafuse"

section "all tests passed"
