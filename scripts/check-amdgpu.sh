#!/usr/bin/env bash
# Dumps the AMDGPU code object of every example (fused and unfused, at
# T = 1 and 16384, for gfx942 and gfx950) through `nsafuse dump --emit hsaco`
# and validates it with LLVM's tools, since no AMD GPU is here to load it:
#   llvm-readelf -h      an AMDGPU HSA ELF (code object v5) for that gfx
#   llvm-readelf --notes the AMDHSA metadata: every kernel nf_kN with no
#                        scratch, no spills, no LDS, no dynamic stack, wave64,
#                        256-thread blocks, SGPRs <= 102, VGPRs <= 512
#   llvm-objdump -d      every kernel disassembles for that gfx; the GEMM
#                        kernels of bf16/f16 operands (from `--emit fused`)
#                        use MFMA instructions (v_mfma_*), no other kernel does
# Skips (exit 0, with a message) without llvm-readelf-22. docs/AMD.md says
# what this does and does not establish.
#   usage: scripts/check-amdgpu.sh NSAFUSE
set -euo pipefail
nsafuse=${1:?usage: scripts/check-amdgpu.sh NSAFUSE}
tool() { command -v "$1-22" || { [ -x "/usr/lib/llvm-22/bin/$1" ] && echo "/usr/lib/llvm-22/bin/$1"; } || true; }
readelf=${LLVM_READELF:-$(tool llvm-readelf)}
objdump=${LLVM_OBJDUMP:-$(tool llvm-objdump)}
if [ -z "$readelf" ]; then
    echo "check-amdgpu: SKIP: llvm-readelf-22 not found (install llvm-22, or set LLVM_READELF)"
    exit 0
fi
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check_notes GFX < notes: prints problems and "kernels sgpr_max vgpr_max".
check_notes() {
    awk -v gfx="$1" '
        function bad(msg) { print "  " msg; problems++ }
        {
            line = $0
            sub(/^ *(- )?/, "", line)
            if (line !~ /^[.a-z_]+:/) next
            key = line; sub(/:.*/, "", key)
            val = line; sub(/^[^:]*: */, "", val)
        }
        key == "amdhsa.target" && val != "amdgcn-amd-amdhsa--" gfx { bad("amdhsa.target " val) }
        key == ".symbol" { if (val ~ /^nf_k[0-9]+\.kd$/) kernels++; else bad(".symbol " val) }
        key in want {
            seen[key]++
            if (val != want[key]) bad(key " = " val ", want " want[key])
        }
        key == ".sgpr_count" { if (val + 0 > 102) bad(".sgpr_count " val " > 102"); if (val + 0 > sgpr) sgpr = val + 0 }
        key == ".vgpr_count" { if (val + 0 > 512) bad(".vgpr_count " val " > 512"); if (val + 0 > vgpr) vgpr = val + 0 }
        BEGIN {
            want[".private_segment_fixed_size"] = 0; want[".group_segment_fixed_size"] = 0
            want[".sgpr_spill_count"] = 0; want[".vgpr_spill_count"] = 0
            want[".wavefront_size"] = 64; want[".max_flat_workgroup_size"] = 256
            want[".uses_dynamic_stack"] = "false"
        }
        END {
            if (!kernels) bad("no kernels in the metadata")
            for (k in want) if (seen[k] != kernels) bad(k " given for " seen[k] + 0 " of " kernels " kernels")
            if (problems) exit 1
            print kernels, sgpr, vgpr
        }'
}

# check_mfma PLAN DISASSEMBLY: every GEMM kernel of the plan that reads a
# bf16 or f16 operand holds v_mfma instructions, no other kernel does;
# prints "N MFMA in K GEMM kernel(s)".
check_mfma() {
    awk '
        FNR == NR {
            if ($1 == "kernel") { k = $2; sub(/:$/, "", k); gemm[k] = ($3 == "gemm"); halves[k] = 0 }
            else if ($1 == "reads" && / (bf16|f16)\[/) halves[k] = 1
            next
        }
        /^[0-9a-f]+ <nf_k[0-9]+>:$/ { cur = $2; gsub(/[<>:]|nf_k/, "", cur); seen[cur] = 1 }
        /v_mfma_/ && cur != "" { mfma[cur]++; total++ }
        END {
            for (k in gemm) {
                want = gemm[k] && halves[k]
                if (want) gemms++
                if (!(k in seen)) continue
                if (want && !mfma[k]) { print "  nf_k" k ": a bf16/f16 GEMM without v_mfma"; bad++ }
                if (!want && mfma[k]) { print "  nf_k" k ": v_mfma in a kernel that is no bf16/f16 GEMM"; bad++ }
            }
            if (bad) exit 1
            printf "%d MFMA in %d GEMM kernel(s)\n", total, gemms
        }' "$1" "$2"
}

failed=0 count=0
for file in examples/nsa/*.nf; do
    for graph in $(sed -n 's/^graph \([A-Za-z0-9_]*\).*/\1/p' "$file"); do
        for gfx in gfx942 gfx950; do
            for t in 1 16384; do
                for mode in fused unfused; do
                    flags=()
                    [ $mode = unfused ] && flags=(--unfused)
                    what="$graph $gfx T=$t $mode"
                    count=$((count + 1))
                    if ! "$nsafuse" dump "$file" --graph "$graph" --emit hsaco --target $gfx --dim T=$t \
                        "${flags[@]}" -o "$tmp/k.hsaco" 2> "$tmp/log"; then
                        echo "check-amdgpu: dump failed: $what"; cat "$tmp/log"; failed=1; continue
                    fi
                    header=$("$readelf" -h "$tmp/k.hsaco")
                    if ! grep -q 'OS/ABI: *AMDGPU - HSA' <<< "$header" || ! grep -q 'ABI Version: *3$' <<< "$header" ||
                        ! grep -q 'Machine: *EM_AMDGPU' <<< "$header" || ! grep -q "Flags:.*, $gfx\\b" <<< "$header"; then
                        echo "check-amdgpu: not an AMDGPU HSA code object v5 for $gfx: $what"; echo "$header"; failed=1
                    fi
                    if ! summary=$("$readelf" --notes "$tmp/k.hsaco" | check_notes $gfx); then
                        echo "check-amdgpu: bad metadata: $what"; echo "$summary"; failed=1; continue
                    fi
                    read -r kernels sgpr vgpr <<< "$summary"
                    mfma=""
                    if [ -n "$objdump" ]; then
                        if ! "$objdump" -d --mcpu=$gfx "$tmp/k.hsaco" > "$tmp/dis" 2>&1 || grep -q '<unknown>' "$tmp/dis" ||
                            [ "$(grep -c '^[0-9a-f]* <nf_k[0-9]*>:$' "$tmp/dis")" != "$kernels" ]; then
                            echo "check-amdgpu: llvm-objdump failed on $what"; head -20 "$tmp/dis"; failed=1
                        fi
                        "$nsafuse" dump "$file" --graph "$graph" --emit fused --target $gfx --dim T=$t \
                            "${flags[@]}" > "$tmp/plan"
                        if ! mfma=$(check_mfma "$tmp/plan" "$tmp/dis"); then
                            echo "check-amdgpu: MFMA use wrong: $what"; echo "$mfma"; failed=1; mfma=""
                        fi
                    fi
                    echo "  $what: $kernels kernel(s), at most $sgpr SGPRs and $vgpr VGPRs${mfma:+, $mfma}"
                done
            done
        done
    done
done
[ -n "$objdump" ] || echo "check-amdgpu: llvm-objdump-22 not found: code not disassembled"
echo "check-amdgpu: $count code objects for gfx942 and gfx950, $([ $failed = 0 ] && echo 'all valid' || echo FAILED)"
exit $failed
