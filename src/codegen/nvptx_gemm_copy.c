/* How a stage's A and W tiles reach shared memory in the tensor-core GEMM:
 * 16-byte cp.async from every thread (sm_80), or TMA boxes issued by one
 * thread with mbarrier completion (sm_90); and, for fp32 weights, their
 * split into three bf16 terms. docs/GEMM.md. */
#include "codegen/nvptx_gemm_gen.h"

#include <string.h>

/* ---- loading a stage: global -> shared, 16-byte cp.async chunks --------- */

/* Byte offset of 16-byte chunk ch of row `row` in a tile of bf16 rows of bk
 * elements. Chunks are XOR-swizzled by the row's low three bits, so the
 * eight rows an ldmatrix phase reads at one logical chunk hit eight
 * different bank groups. */
static LLVMValueRef swizzled(gen *g, LLVMValueRef row, LLVMValueRef ch)
{
    LLVMValueRef phys = LLVMBuildXor(g->b, ch, LLVMBuildAnd(g->b, row, c64(g, 7), ""), "");
    return add(g, mul(g, row, c64(g, g->p.bk * 2)), LLVMBuildShl(g->b, phys, c64(g, 4), ""));
}

/* Byte offset of 16-byte chunk ch of row `row` in a stage's bf16 tile of
 * tile_rows rows. TMA writes a box of 64 columns (128-byte rows) with its
 * 128-byte swizzle, which is the XOR above on a 1024-byte aligned tile; a
 * 128-column stage is two such boxes one after the other. */
LLVMValueRef nf_gemm_tile_at(gen *g, LLVMValueRef row, LLVMValueRef ch, int64_t tile_rows)
{
    if (!g->p.tma || g->p.bk == NF_GEMM_TMA_COLS)
        return swizzled(g, row, ch);
    LLVMValueRef box = LLVMBuildLShr(g->b, ch, c64(g, 3), ""), in_box = LLVMBuildAnd(g->b, ch, c64(g, 7), "");
    LLVMValueRef phys = LLVMBuildXor(g->b, in_box, LLVMBuildAnd(g->b, row, c64(g, 7), ""), "");
    return add(g, mul(g, box, c64(g, tile_rows * 128)),
               add(g, mul(g, row, c64(g, 128)), LLVMBuildShl(g->b, phys, c64(g, 4), "")));
}

/* Item tid + c * threads of `total` (rows of per_row items) spread over
 * the block's threads: its row and place in the row, and (only in the last
 * round, where some threads have none) the guard that item_end closes. */
static LLVMBasicBlockRef item_begin(gen *g, int64_t c, int64_t total, int64_t per_row, LLVMValueRef *row,
                                    LLVMValueRef *in_row)
{
    LLVMValueRef id = add(g, g->tid, c64(g, c * nf_gemm_threads(&g->p)));
    LLVMBasicBlockRef join = (c + 1) * nf_gemm_threads(&g->p) > total ? if_begin(g, lt(g, id, c64(g, total))) : NULL;
    *row = LLVMBuildUDiv(g->b, id, c64(g, per_row), "");
    *in_row = LLVMBuildURem(g->b, id, c64(g, per_row), "");
    return join;
}

static void item_end(gen *g, LLVMBasicBlockRef join)
{
    if (join)
        if_end(g, join);
}

/* valid == NULL: an unconditional copy. The zero-filling form (a run-time
 * source size) is not coalesced across the warp on the H100: every thread's
 * 16 bytes became a sector request of their own, twice the L2 traffic of
 * the plain form (ncu: 48% excessive sectors). */
static void cp_async(gen *g, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef valid)
{
    if (!valid) {
        call(g, "llvm.nvvm.cp.async.cg.shared.global.16", (LLVMValueRef[]){dst, src}, 2);
        return;
    }
    LLVMValueRef size = LLVMBuildSelect(g->b, valid, c32(g, 16), c32(g, 0), ""); /* 0: zero-fill */
    call(g, "llvm.nvvm.cp.async.cg.shared.global.16.s", (LLVMValueRef[]){dst, src, size}, 3);
}

/* Copies rows [row0, row0 + rows) of a row-major operand, columns
 * [col0, col0 + bk), into the tile at dst. When K is a multiple of bk, rows
 * at or past `limit` copy row limit - 1 instead (they only feed results
 * that are never stored) and every copy is unconditional; otherwise rows
 * past the limit and columns at or past K are zero-filled (their source
 * clamped to the base), since a column past K must add nothing. */
static void load_tile(gen *g, LLVMValueRef dst, LLVMValueRef base, LLVMTypeRef elem, int64_t elem_bytes,
                      int64_t row_stride, LLVMValueRef row0, int64_t rows, int64_t limit, LLVMValueRef col0, bool swizzle)
{
    bool zero_fill = g->p.K % g->p.bk != 0;
    int64_t per_chunk = 16 / elem_bytes, chunks_per_row = g->p.bk / per_chunk, total = rows * chunks_per_row;
    int64_t threads = nf_gemm_threads(&g->p);
    for (int64_t c = 0; c * threads < total; c++) {
        LLVMValueRef row, ch;
        LLVMBasicBlockRef join = item_begin(g, c, total, chunks_per_row, &row, &ch);
        LLVMValueRef grow = add(g, row0, row), col = add(g, col0, mul(g, ch, c64(g, per_chunk)));
        LLVMValueRef valid = NULL, off;
        if (zero_fill) {
            valid = LLVMBuildAnd(g->b, lt(g, grow, c64(g, limit)), lt(g, col, c64(g, g->p.K)), "");
            off = LLVMBuildSelect(g->b, valid, add(g, mul(g, grow, c64(g, row_stride)), col), c64(g, 0), "");
        } else {
            LLVMValueRef in = LLVMBuildSelect(g->b, lt(g, grow, c64(g, limit)), grow, c64(g, limit - 1), "");
            off = add(g, mul(g, in, c64(g, row_stride)), col);
        }
        LLVMValueRef src = LLVMBuildGEP2(g->b, elem, base, &off, 1, "");
        LLVMValueRef at = swizzle ? swizzled(g, row, ch) : add(g, mul(g, row, c64(g, g->p.bk * elem_bytes)),
                                                               LLVMBuildShl(g->b, ch, c64(g, 4), ""));
        cp_async(g, shared_at(g, dst, at), src, valid);
        item_end(g, join);
    }
}

/* cp.async: every thread copies its chunks of the stage. */
static void load_stage_cp_async(gen *g, LLVMValueRef stage, LLVMValueRef buf)
{
    const nf_gemm_plan *p = &g->p;
    LLVMValueRef dst = shared_at(g, g->smem, mul(g, buf, c64(g, p->stage_bytes)));
    LLVMValueRef col0 = mul(g, stage, c64(g, p->bk));
    load_tile(g, dst, g->a_base, g->i16, 2, g->a_row_stride, g->m_block0, nf_gemm_block_rows(p), p->M, col0, true);
    LLVMValueRef bdst = shared_at(g, dst, c64(g, p->a_bytes));
    if (p->split_b)
        load_tile(g, bdst, g->b_base, g->f32, 4, g->b_row_stride, g->n0, p->bn_rows, p->N, col0, false);
    else
        load_tile(g, bdst, g->b_base, g->i16, 2, g->b_row_stride, g->n0, p->bn_rows, p->N, col0, true);
}

void nf_gemm_commit(gen *g)
{
    if (!g->p.tma)
        call(g, "llvm.nvvm.cp.async.commit.group", NULL, 0);
}

/* ---- loading a stage on sm_90: TMA boxes, completion on mbarriers --------- */

static LLVMValueRef ptx(gen *g, LLVMTypeRef ret, const char *text, const char *constraints, LLVMValueRef *args, int n)
{
    return nf_emit_asm(g->b, ret, text, constraints, args, n);
}

/* The 32-bit shared-window address that PTX's shared:: operands take. */
static LLVMValueRef shared32(gen *g, LLVMValueRef p) { return LLVMBuildPtrToInt(g->b, p, g->i32, ""); }

/* The mbarrier of stage buffer `buf`: completes once per use, when all of
 * the buffer's bytes have landed. */
static LLVMValueRef full_barrier(gen *g, LLVMValueRef buf)
{
    LLVMValueRef gv = LLVMGetNamedGlobal(g->m, "nf_gemm_full");
    if (!gv) {
        gv = LLVMAddGlobalInAddressSpace(g->m, LLVMArrayType2(g->i64, 8), "nf_gemm_full", ADDR_SHARED);
        LLVMSetInitializer(gv, LLVMGetUndef(LLVMArrayType2(g->i64, 8)));
        LLVMSetLinkage(gv, LLVMInternalLinkage);
        LLVMSetAlignment(gv, 8);
    }
    return shared_at(g, gv, mul(g, buf, c64(g, 8)));
}

void nf_gemm_init_barriers(gen *g)
{
    LLVMTypeRef void_t = LLVMVoidTypeInContext(g->c);
    LLVMBasicBlockRef join = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, g->tid, c64(g, 0), ""));
    for (int i = 0; i < g->p.stages; i++)
        ptx(g, void_t, "mbarrier.init.shared::cta.b64 [$0], 1;", "r,~{memory}",
            (LLVMValueRef[]){shared32(g, full_barrier(g, c64(g, i)))}, 1);
    ptx(g, void_t, "fence.mbarrier_init.release.cluster;", "~{memory}", NULL, 0);
    if_end(g, join);
    barrier(g);
}

/* Thread 0 arms buffer buf's barrier with the stage's bytes and copies the
 * stage's A and W tiles, one TMA box (64 columns) after the other. Rows and
 * columns past the matrices arrive as zeros and count as bytes too. Made
 * terms of f32 weights are three W tiles, from rows t N + n0 of the terms'
 * matrix, one after the other where the split would have written them; a
 * term's rows past N read the next term's, which only feed columns past N,
 * never stored. */
static void load_stage_tma(gen *g, LLVMValueRef stage, LLVMValueRef buf)
{
    const nf_gemm_plan *p = &g->p;
    LLVMTypeRef void_t = LLVMVoidTypeInContext(g->c);
    int64_t rows = nf_gemm_block_rows(p);
    LLVMBasicBlockRef join = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, g->tid, c64(g, 0), ""));
    LLVMValueRef bar = shared32(g, full_barrier(g, buf));
    ptx(g, void_t, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "r,r,~{memory}",
        (LLVMValueRef[]){bar, c32(g, p->stage_bytes)}, 2);
    LLVMValueRef dst = shared_at(g, g->smem, mul(g, buf, c64(g, p->stage_bytes)));
    LLVMValueRef col0 = LLVMBuildTrunc(g->b, mul(g, stage, c64(g, p->bk)), g->i32, "");
    typedef struct { LLVMValueRef map, row0; int64_t rows, at, box_cols; } box_op;
    box_op ops[4] = {
        {g->a_map, g->m_block0, rows, 0, NF_GEMM_TMA_COLS},
        {g->b_map, g->n0, p->bn_rows, p->a_bytes, p->split_b && !p->presplit_b ? NF_GEMM_TMA_COLS / 2 : NF_GEMM_TMA_COLS},
    };
    int n_ops = 2;
    for (int t = 1; p->presplit_b && t < 3; t++, n_ops++)
        ops[n_ops] = (box_op){g->b_map, add(g, g->n0, c64(g, t * p->N)), p->bn_rows,
                              p->a_bytes + t * (int64_t)p->bn_rows * p->bk * 2, NF_GEMM_TMA_COLS};
    LLVMValueRef a_policy = p->a_evict_first
                                ? ptx(g, g->i64, "createpolicy.fractional.L2::evict_first.b64 $0, 1.0;", "=l", NULL, 0)
                                : NULL;
    for (int o = 0; o < n_ops; o++)
        for (int64_t j = 0; j < p->bk / ops[o].box_cols; j++) { /* 128-byte box rows */
            LLVMValueRef to = shared_at(g, dst, c64(g, ops[o].at + j * ops[o].rows * 128));
            LLVMValueRef col = LLVMBuildAdd(g->b, col0, c32(g, j * ops[o].box_cols), "");
            LLVMValueRef args[6] = {shared32(g, to), ops[o].map, col, LLVMBuildTrunc(g->b, ops[o].row0, g->i32, ""), bar, a_policy};
            if (o == 0 && a_policy)
                ptx(g, void_t,
                    "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint "
                    "[$0], [$1, {$2, $3}], [$4], $5;",
                    "r,l,r,r,r,l,~{memory}", args, 6);
            else
                ptx(g, void_t,
                    "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3}], [$4];",
                    "r,l,r,r,r,~{memory}", args, 5);
        }
    if_end(g, join);
}

/* Every thread waits until stage `it` (buffer it % stages, its use number
 * it / stages) has landed. */
static void wait_stage_tma(gen *g, LLVMValueRef it)
{
    int64_t ns = g->p.stages;
    LLVMValueRef bar = shared32(g, full_barrier(g, LLVMBuildURem(g->b, it, c64(g, ns), "")));
    LLVMValueRef parity = LLVMBuildTrunc(g->b, LLVMBuildAnd(g->b, LLVMBuildUDiv(g->b, it, c64(g, ns), ""), c64(g, 1), ""),
                                         g->i32, "");
    LLVMBasicBlockRef spin = LLVMAppendBasicBlockInContext(g->c, g->fn, "wait_stage");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->c, g->fn, "stage_landed");
    LLVMBuildBr(g->b, spin);
    LLVMPositionBuilderAtEnd(g->b, spin);
    LLVMValueRef ok = ptx(g, g->i32,
                          "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [$1], $2; selp.u32 $0, 1, 0, p; }",
                          "=r,r,r,~{memory}", (LLVMValueRef[]){bar, parity}, 2);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntNE, ok, c32(g, 0), ""), done, spin);
    LLVMPositionBuilderAtEnd(g->b, done);
}

/* ---- the fp32-weight form: a stage's f32 weights as three bf16 terms ----- */

/* Byte offset of 16-byte chunk q (four weights) of row `row` in a stage's
 * f32 weight tile: rows of bk floats from cp.async; with TMA, boxes of 32
 * columns (128-byte rows, 128-byte swizzle) one after the other. */
static LLVMValueRef f32_tile_at(gen *g, LLVMValueRef row, LLVMValueRef q)
{
    if (!g->p.tma)
        return add(g, mul(g, row, c64(g, g->p.bk * 4)), LLVMBuildShl(g->b, q, c64(g, 4), ""));
    LLVMValueRef box = LLVMBuildLShr(g->b, q, c64(g, 3), ""), in_box = LLVMBuildAnd(g->b, q, c64(g, 7), "");
    LLVMValueRef phys = LLVMBuildXor(g->b, in_box, LLVMBuildAnd(g->b, row, c64(g, 7), ""), "");
    return add(g, mul(g, box, c64(g, (int64_t)g->p.bn_rows * 128)),
               add(g, mul(g, row, c64(g, 128)), LLVMBuildShl(g->b, phys, c64(g, 4), "")));
}

/* Every thread splits 16-byte chunks (four weights) of the f32 tile at src
 * into the three swizzled bf16 tiles at conv (hi, mid, lo): w1 = w with its
 * low 16 bits cleared, w2 the same of w - w1, w3 = w - w1 - w2, which has
 * at most 8 significant bits, so w = w1 + w2 + w3 exactly (docs/GEMM.md).
 * Truncating costs an AND where rounding to nearest costs a dozen ops, and
 * every block splits the weights of its K range again. */
void nf_gemm_convert_stage(gen *g, LLVMValueRef src, LLVMValueRef conv)
{
    const nf_gemm_plan *p = &g->p;
    int64_t quads_per_row = p->bk / 4, total = p->bn_rows * quads_per_row, term_bytes = (int64_t)p->bn_rows * p->bk * 2;
    LLVMTypeRef v4 = LLVMVectorType(g->f32, 4), v2 = LLVMVectorType(g->i32, 2);
    LLVMValueRef high = c32(g, (int64_t)0xffff0000u);
    int64_t threads = nf_gemm_threads(&g->p);
    for (int64_t c = 0; c * threads < total; c++) {
        LLVMValueRef row, q;
        LLVMBasicBlockRef join = item_begin(g, c, total, quads_per_row, &row, &q);
        LLVMValueRef ld = LLVMBuildLoad2(g->b, v4, shared_at(g, src, f32_tile_at(g, row, q)), "");
        LLVMSetAlignment(ld, 16);
        LLVMValueRef bits[3][4]; /* the terms' f32 bits; their bf16 is the high half */
        for (int e = 0; e < 4; e++) {
            LLVMValueRef rest = LLVMBuildExtractElement(g->b, ld, c32(g, e), "");
            for (int t = 0; t < 3; t++) {
                LLVMValueRef rb = LLVMBuildBitCast(g->b, rest, g->i32, "");
                bits[t][e] = t < 2 ? LLVMBuildAnd(g->b, rb, high, "") : rb;
                if (t < 2) /* exact: the part is rest's leading bits */
                    rest = LLVMBuildFSub(g->b, rest, LLVMBuildBitCast(g->b, bits[t][e], g->f32, ""), "");
            }
        }
        /* four bf16 = half of a 16-byte chunk */
        LLVMValueRef at = add(g, nf_gemm_tile_at(g, row, LLVMBuildLShr(g->b, q, c64(g, 1), ""), p->bn_rows),
                              LLVMBuildShl(g->b, LLVMBuildAnd(g->b, q, c64(g, 1), ""), c64(g, 3), ""));
        for (int t = 0; t < 3; t++) {
            LLVMValueRef lo = LLVMBuildOr(g->b, LLVMBuildLShr(g->b, bits[t][0], c32(g, 16), ""), LLVMBuildAnd(g->b, bits[t][1], high, ""), "");
            LLVMValueRef hi = LLVMBuildOr(g->b, LLVMBuildLShr(g->b, bits[t][2], c32(g, 16), ""), LLVMBuildAnd(g->b, bits[t][3], high, ""), "");
            LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetUndef(v2), lo, c32(g, 0), "");
            v = LLVMBuildInsertElement(g->b, v, hi, c32(g, 1), "");
            LLVMValueRef st = LLVMBuildStore(g->b, v, shared_at(g, conv, add(g, at, c64(g, t * term_bytes))));
            LLVMSetAlignment(st, 8);
        }
        item_end(g, join);
    }
}

void nf_gemm_load_stage(gen *g, LLVMValueRef stage, LLVMValueRef buf)
{
    if (g->p.tma)
        load_stage_tma(g, stage, buf);
    else
        load_stage_cp_async(g, stage, buf);
}

void nf_gemm_wait_stage(gen *g, LLVMValueRef it, int pending)
{
    if (g->p.tma)
        wait_stage_tma(g, it);
    else
        call(g, "llvm.nvvm.cp.async.wait.group", (LLVMValueRef[]){c32(g, pending)}, 1);
}
