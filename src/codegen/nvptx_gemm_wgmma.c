/* A stage of the tensor-core GEMM on sm_90's warpgroup MMA: wgmma.mma_async
 * m64nNk16 with both operands read from shared memory through matrix
 * descriptors, in place of ldmatrix + mma.sync (nvptx_gemm.c). The stage's
 * tiles are already laid out as wgmma wants them: rows of 64 bf16 (128
 * bytes) with the 128-byte swizzle, on 1024-byte aligned tiles (TMA boxes,
 * and the fp32-weight split, which writes the same XOR pattern).
 *
 * The block's two warpgroups own 64 rt rows each; warp w of a group holds
 * rows 16 w .. 16 w + 15 of each 64-row tile, in the mma.sync fragment
 * layout repeated over the N / 8 column tiles (acc[r][j][0..3]). docs/GEMM.md. */
#include "codegen/nvptx_gemm_gen.h"

#include <stdio.h>
#include <string.h>

enum { GROUP_ROWS = 64, SWIZZLE_ATOM = 1024, MAX_REGS = 96 };

/* The shared-memory matrix descriptor of a K-major tile at `tile` (128-byte
 * rows, 128-byte swizzle): start address / 16, the 8-row stride (1024
 * bytes) / 16, swizzle mode 1. The leading byte offset is unused for this
 * layout (1, as CUTLASS writes it). */
static LLVMValueRef descriptor(gen *g, LLVMValueRef tile)
{
    LLVMValueRef addr = LLVMBuildZExt(g->b, LLVMBuildPtrToInt(g->b, tile, g->i32, ""), g->i64, "");
    LLVMValueRef start = LLVMBuildLShr(g->b, LLVMBuildAnd(g->b, addr, c64(g, 0x3FFFF), ""), c64(g, 4), "");
    int64_t fixed = (1LL << 16) | ((int64_t)(SWIZZLE_ATOM >> 4) << 32) | (1LL << 62);
    return LLVMBuildOr(g->b, start, c64(g, fixed), "");
}

/* d = a * b + (accumulate ? d : 0) over one k16 step, d the n / 2 floats of
 * one 64-row tile. */
static void wgmma(gen *g, LLVMValueRef *d, int n, LLVMValueRef a_desc, LLVMValueRef b_desc, bool accumulate)
{
    int regs = n / 2;
    const char *types = g->k->a.source->dtype == NF_F16 ? "f16.f16" : "bf16.bf16";
    char text[2048], constraints[2048];
    /* scale-d as an immediate: a register operand could share one with a
     * zero accumulator, a non-wgmma read that makes ptxas serialize */
    int at = snprintf(text, sizeof text,
                      "{\n.reg .pred p;\nsetp.ne.b32 p, %d, 0;\nwgmma.mma_async.sync.aligned.m64n%dk16.f32.%s {",
                      accumulate ? 1 : 0, n, types);
    for (int i = 0; i < regs; i++)
        at += snprintf(text + at, sizeof text - (size_t)at, "%s$%d", i ? ", " : "", i);
    snprintf(text + at, sizeof text - (size_t)at, "}, $%d, $%d, p, 1, 1, 0, 0;\n}", regs, regs + 1);
    at = 0;
    for (int i = 0; i < regs; i++)
        at += snprintf(constraints + at, sizeof constraints - (size_t)at, "=f,");
    at += snprintf(constraints + at, sizeof constraints - (size_t)at, "l,l");
    for (int i = 0; i < regs; i++)
        at += snprintf(constraints + at, sizeof constraints - (size_t)at, ",%d", i);
    snprintf(constraints + at, sizeof constraints - (size_t)at, ",~{memory}");

    LLVMTypeRef fields[MAX_REGS], params[2 + MAX_REGS];
    LLVMValueRef args[2 + MAX_REGS];
    for (int i = 0; i < regs; i++)
        fields[i] = g->f32;
    params[0] = params[1] = g->i64;
    args[0] = a_desc;
    args[1] = b_desc;
    for (int i = 0; i < regs; i++) { /* ignored when not accumulating: undefined, no moves */
        params[2 + i] = g->f32;
        args[2 + i] = accumulate ? d[i] : LLVMGetUndef(g->f32);
    }
    LLVMTypeRef ret = LLVMStructTypeInContext(g->c, fields, (unsigned)regs, 0);
    LLVMTypeRef fty = LLVMFunctionType(ret, params, (unsigned)(2 + regs), 0);
    LLVMValueRef asm_fn = LLVMGetInlineAsm(fty, text, strlen(text), constraints, strlen(constraints), 1, 0,
                                           LLVMInlineAsmDialectATT, 0);
    LLVMValueRef out = LLVMBuildCall2(g->b, fty, asm_fn, args, (unsigned)(2 + regs), "");
    for (int i = 0; i < regs; i++)
        d[i] = LLVMBuildExtractValue(g->b, out, (unsigned)i, "");
}

/* A value the compiler may not move above the wait before it (wgmma
 * writes its registers asynchronously). */
static LLVMValueRef pinned(gen *g, LLVMValueRef v)
{
    LLVMTypeRef t = g->f32;
    LLVMTypeRef fty = LLVMFunctionType(t, &t, 1, 0);
    LLVMValueRef asm_fn = LLVMGetInlineAsm(fty, "", 0, "=f,0,~{memory}", 14, 1, 0, LLVMInlineAsmDialectATT, 0);
    return LLVMBuildCall2(g->b, fty, asm_fn, &v, 1, "");
}

/* fp32 weights with one 64-row tile per warpgroup: the three term tiles lie
 * one after the other, a single tile of 3 N rows, so one m64n(3N)k16 per
 * k16 step computes x times each term into its own columns (96 registers
 * for N = 64), reading A once instead of three times; the wait adds the
 * three sums, the small ones first. */
static bool wide(const gen *g) { return g->p.split_b && g->p.rt == 1 && g->flush && 3 * g->p.bn_rows <= 256; }

void nf_gemm_wgmma_issue(gen *g, frag *f, LLVMValueRef a_tile, LLVMValueRef b_tile, bool fresh)
{
    const nf_gemm_plan *p = &g->p;
    int n = p->bn_rows, terms = p->split_b ? 3 : 1, steps = p->bk / 16;
    int64_t term_bytes = (int64_t)p->bn_rows * p->bk * 2;
    LLVMValueRef group = LLVMBuildUDiv(g->b, LLVMBuildZExt(g->b, g->warp, g->i64, ""), c64(g, 4), "");
    LLVMValueRef rows0 = mul(g, group, c64(g, (int64_t)GROUP_ROWS * p->rt * p->bk * 2));
    call(g, "llvm.nvvm.wgmma.fence.sync.aligned", NULL, 0);
    if (wide(g)) {
        LLVMValueRef a_rows = shared_at(g, a_tile, rows0);
        for (int s = 0; s < steps; s++) {
            LLVMValueRef a_desc = descriptor(g, shared_at(g, a_rows, c64(g, s * 32)));
            LLVMValueRef b_desc = descriptor(g, shared_at(g, b_tile, c64(g, s * 32)));
            wgmma(g, g->wide, 3 * n, a_desc, b_desc, s > 0);
        }
        call(g, "llvm.nvvm.wgmma.commit_group.sync.aligned", NULL, 0);
        return;
    }
    for (int r = 0; r < p->rt; r++) {
        LLVMValueRef d[32];
        FOR_ACC_TILE(g, j, i)
            d[4 * j + i] = f->acc[r][j][i];
        LLVMValueRef a_rows = shared_at(g, a_tile, add(g, rows0, c64(g, (int64_t)r * GROUP_ROWS * p->bk * 2)));
        bool accumulate = !fresh;
        for (int s = 0; s < steps; s++)
            for (int t = terms - 1; t >= 0; t--) { /* the small terms first */
                LLVMValueRef a_desc = descriptor(g, shared_at(g, a_rows, c64(g, s * 32)));
                LLVMValueRef b_desc = descriptor(g, shared_at(g, b_tile, c64(g, t * term_bytes + s * 32)));
                wgmma(g, d, n, a_desc, b_desc, accumulate);
                accumulate = true;
            }
        FOR_ACC_TILE(g, j, i)
            f->acc[r][j][i] = d[4 * j + i];
    }
    call(g, "llvm.nvvm.wgmma.commit_group.sync.aligned", NULL, 0);
}

void nf_gemm_wgmma_wait(gen *g, frag *done, int pending)
{
    call(g, "llvm.nvvm.wgmma.wait_group.sync.aligned", (LLVMValueRef[]){c64(g, pending)}, 1);
    if (done && wide(g)) { /* term t, n8 tile j: registers 4 (t N / 8 + j) .. + 3 */
        int tiles = g->p.bn_rows / 8;
        FOR_ACC_TILE(g, j, i) {
            LLVMValueRef v[3];
            for (int t = 0; t < 3; t++)
                v[t] = pinned(g, g->wide[4 * (t * tiles + j) + i]);
            done->acc[0][j][i] = LLVMBuildFAdd(g->b, LLVMBuildFAdd(g->b, v[2], v[1], ""), v[0], "");
        }
        return;
    }
    for (int r = 0; done && r < g->p.rt; r++)
        FOR_ACC_TILE(g, j, i)
            done->acc[r][j][i] = pinned(g, done->acc[r][j][i]);
}
