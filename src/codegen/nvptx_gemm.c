/* The tensor-core GEMM for NVIDIA (sm_80+): mma.sync m16n8k16 on bf16 or f16
 * with f32 accumulation, A and W streamed through shared memory `stages`
 * deep (XOR-swizzled rows; cp.async or TMA: nvptx_gemm_copy.c), fragments
 * read with ldmatrix, the epilogue applied to the accumulator fragments.
 *
 * The plan (nvptx_gemm_plan.c) gives a block 16 * rt * wm rows and up to 64
 * columns; its 8 warps split the rows (wm, 16 * rt each: with rt = 2 every W
 * fragment feeds two mma) and each stage's k16 steps (wk).
 *  - direct (wk = 1, one block over K): the epilogue runs on the registers;
 *  - reduce: warp partials meet in shared memory; with split-K, block
 *    partials go to a workspace, summed in split order (deterministic) by
 *    the tile's blocks (nvptx_gemm_tail.c), the epilogue applied exactly once. */
#include "codegen/nvptx_gemm_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- computing a stage: ldmatrix + mma ---------------------------------- */

static void ldmatrix4(gen *g, LLVMValueRef addr, LLVMValueRef *r)
{
    LLVMTypeRef ptr = LLVMTypeOf(addr); /* overloaded on the address space */
    LLVMValueRef v = nf_emit_intrinsic(g->b, g->m, "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16", &ptr, 1, &addr, 1);
    for (int i = 0; i < 4; i++)
        r[i] = LLVMBuildExtractValue(g->b, v, (unsigned)i, "");
}

static void mma(gen *g, LLVMValueRef *acc, LLVMValueRef *a, LLVMValueRef b0, LLVMValueRef b1)
{
    const char *name = g->k->a.source->dtype == NF_F16 ? "llvm.nvvm.mma.m16n8k16.row.col.f32.f32"
                                                         : "llvm.nvvm.mma.m16n8k16.row.col.bf16";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef pt[10];
    LLVMGetParamTypes(LLVMIntrinsicGetType(g->c, id, NULL, 0), pt);
    LLVMValueRef args[10];
    for (int i = 0; i < 4; i++)
        args[i] = LLVMBuildBitCast(g->b, a[i], pt[i], "");
    args[4] = LLVMBuildBitCast(g->b, b0, pt[4], "");
    args[5] = LLVMBuildBitCast(g->b, b1, pt[5], "");
    for (int i = 0; i < 4; i++)
        args[6 + i] = acc[i];
    LLVMValueRef d = call(g, name, args, 10);
    for (int i = 0; i < 4; i++)
        acc[i] = LLVMBuildExtractValue(g->b, d, (unsigned)i, "");
}

/* acc += this warp's k16 steps of the stage whose A tile is at a_tile and
 * whose bf16 B tiles (one, or three terms) start at b_tile. */
static void compute_stage(gen *g, frag *f, LLVMValueRef a_tile, LLVMValueRef b_tile)
{
    const nf_gemm_plan *p = &g->p;
    int terms = p->split_b ? 3 : 1, steps = p->bk / 16 / p->wk;
    int64_t term_bytes = (int64_t)p->bn_rows * p->bk * 2;
    LLVMValueRef lane = LLVMBuildZExt(g->b, g->lane, g->i64, "");
    LLVMValueRef lo16 = LLVMBuildAnd(g->b, lane, c64(g, 15), ""), hi1 = LLVMBuildLShr(g->b, lane, c64(g, 4), "");
    LLVMValueRef lo8 = LLVMBuildAnd(g->b, lane, c64(g, 7), "");
    LLVMValueRef bit3 = LLVMBuildAnd(g->b, LLVMBuildLShr(g->b, lane, c64(g, 3), ""), c64(g, 1), "");
    for (int j = 0; j < steps; j++) {
        LLVMValueRef kstep = add(g, g->wki, c64(g, (int64_t)j * p->wk));
        /* A: lanes 0-15 address rows 0-15 at k 0-7, lanes 16-31 the same rows at k 8-15:
         * the four matrices are the fragment's a0..a3 */
        LLVMValueRef a[2][4];
        for (int r = 0; r < p->rt; r++) {
            LLVMValueRef arow = add(g, mul(g, g->wmi, c64(g, nf_gemm_warp_rows(p))), add(g, lo16, c64(g, 16 * r)));
            ldmatrix4(g, shared_at(g, a_tile, nf_gemm_tile_at(g, arow, add(g, mul(g, kstep, c64(g, 2)), hi1), nf_gemm_block_rows(p))), a[r]);
        }
        for (int pair = 0; pair < g->ntiles / 2; pair++) {
            /* B (W rows = n): lanes 0-7 tile 2p at k 0-7, 8-15 tile 2p at k 8-15,
             * 16-23 and 24-31 the same for tile 2p + 1 */
            LLVMValueRef n = add(g, c64(g, 16 * pair), add(g, LLVMBuildShl(g->b, hi1, c64(g, 3), ""), lo8));
            LLVMValueRef at = nf_gemm_tile_at(g, n, add(g, mul(g, kstep, c64(g, 2)), bit3), p->bn_rows);
            for (int t = terms - 1; t >= 0; t--) { /* the small terms first */
                LLVMValueRef bfr[4];
                ldmatrix4(g, shared_at(g, b_tile, add(g, at, c64(g, t * term_bytes))), bfr);
                for (int r = 0; r < p->rt; r++) {
                    mma(g, f->acc[r][2 * pair], a[r], bfr[0], bfr[1]);
                    mma(g, f->acc[r][2 * pair + 1], a[r], bfr[2], bfr[3]);
                }
            }
        }
    }
}

/* ---- the pipeline over the block's stages -------------------------------- */

static void set_zero(gen *g, frag *f)
{
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 4; i++)
                f->acc[r][j][i] = LLVMConstReal(g->f32, 0.0);
}

/* NS - 1 stages in flight before the first compute. */
static void prologue(gen *g, LLVMValueRef first, LLVMValueRef count)
{
    int ns = g->p.stages;
    if (g->p.tma)
        nf_gemm_init_barriers(g);
    for (int s = 0; s < ns - 1; s++) {
        LLVMBasicBlockRef join = if_begin(g, lt(g, c64(g, s), count));
        nf_gemm_load_stage(g, add(g, first, c64(g, s)), c64(g, s));
        if_end(g, join);
        nf_gemm_commit(g);
    }
}

/* The stage loop's head: it from 0 while it < count, with phis for the
 * accumulators f (their values on entry); the builder is left in the body. */
typedef struct stage_loop {
    LLVMValueRef it;
    LLVMBasicBlockRef head, done;
    LLVMValueRef phis[2][8][4];
} stage_loop;

static stage_loop stage_loop_open(gen *g, LLVMValueRef count, frag *f)
{
    stage_loop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l.head = LLVMAppendBasicBlockInContext(g->c, g->fn, "stage");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "stage_body");
    l.done = LLVMAppendBasicBlockInContext(g->c, g->fn, "stages_done");
    LLVMBuildBr(g->b, l.head);
    LLVMPositionBuilderAtEnd(g->b, l.head);
    l.it = LLVMBuildPhi(g->b, g->i64, "it");
    LLVMValueRef zero = c64(g, 0);
    LLVMAddIncoming(l.it, &zero, &pre, 1);
    FOR_ACC(g, r, j, i) {
        l.phis[r][j][i] = LLVMBuildPhi(g->b, g->f32, "");
        LLVMAddIncoming(l.phis[r][j][i], &f->acc[r][j][i], &pre, 1);
        f->acc[r][j][i] = l.phis[r][j][i];
    }
    LLVMBuildCondBr(g->b, lt(g, l.it, count), body, l.done);
    LLVMPositionBuilderAtEnd(g->b, body);
    return l;
}

/* Closes the loop with f's values at the end of the body; f is the phis
 * again after it. */
static void stage_loop_close(gen *g, stage_loop *l, frag *f)
{
    LLVMValueRef it_next = add(g, l->it, c64(g, 1));
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMAddIncoming(l->it, &it_next, &latch, 1);
    FOR_ACC(g, r, j, i)
        LLVMAddIncoming(l->phis[r][j][i], &f->acc[r][j][i], &latch, 1);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->done);
    FOR_ACC(g, r, j, i)
        f->acc[r][j][i] = l->phis[r][j][i];
}

/* Refills the buffer that step it - 1 read with stage it + NS - 1 (every
 * warp must be past step it - 1). */
static void refill(gen *g, LLVMValueRef first, LLVMValueRef count, LLVMValueRef it)
{
    int ns = g->p.stages;
    LLVMValueRef next = add(g, it, c64(g, ns - 1));
    LLVMBasicBlockRef join = if_begin(g, lt(g, next, count));
    nf_gemm_load_stage(g, add(g, first, next), LLVMBuildURem(g->b, next, c64(g, ns), ""));
    if_end(g, join);
    nf_gemm_commit(g);
}

/* fp32 weights: the stage's W tile split into three bf16 term tiles at conv. */
static void split_weights(gen *g, LLVMValueRef b_tile, LLVMValueRef conv)
{
    nf_gemm_convert_stage(g, b_tile, conv);
    if (g->p.wgmma) /* written by the threads, read by the async proxy */
        nf_emit_asm(g->b, LLVMVoidTypeInContext(g->c), "fence.proxy.async.shared::cta;", "~{memory}", NULL, 0);
}

/* Stage it's A tile and the W tile(s) the tensor cores read: fp32 weights
 * split into a conversion buffer (it % 2 when split ahead). */
static void stage_tiles(gen *g, LLVMValueRef it, LLVMValueRef *a_tile, LLVMValueRef *b_tile)
{
    const nf_gemm_plan *p = &g->p;
    *a_tile = shared_at(g, g->smem, mul(g, LLVMBuildURem(g->b, it, c64(g, p->stages), ""), c64(g, p->stage_bytes)));
    *b_tile = shared_at(g, *a_tile, c64(g, p->a_bytes));
    if (!p->split_b || p->presplit_b) /* made terms land in the stage buffer */
        return;
    LLVMValueRef conv = c64(g, p->stages * p->stage_bytes);
    if (nf_gemm_split_ahead(p))
        conv = add(g, conv, mul(g, LLVMBuildAnd(g->b, it, c64(g, 1), ""), c64(g, p->conv_bytes)));
    *b_tile = shared_at(g, g->smem, conv);
}

/* Stages first .. first + count - 1 of K on mma.sync: at step it, wait for
 * stage it, refill the buffer that step it - 1 read (every warp is past it:
 * the barrier) with stage it + NS - 1, and compute. */
static void pipeline(gen *g, frag *f, LLVMValueRef first, LLVMValueRef count)
{
    const nf_gemm_plan *p = &g->p;
    int ns = p->stages;
    prologue(g, first, count);
    stage_loop l = stage_loop_open(g, count, f);
    nf_gemm_wait_stage(g, l.it, ns - 2);
    barrier(g);
    refill(g, first, count, l.it);
    LLVMValueRef a_tile, b_tile;
    stage_tiles(g, l.it, &a_tile, &b_tile);
    if (p->split_b && !p->presplit_b) {
        split_weights(g, shared_at(g, a_tile, c64(g, p->a_bytes)), b_tile);
        barrier(g);
    }
    /* For an f32 result, a fresh tensor-core accumulator per stage, added
     * into the running sum with IEEE adds: the mma's own f32 accumulation
     * may not round to nearest, and its error would grow with K. A result
     * rounded to bf16 or f16 does not need it. */
    frag group = *f;
    if (g->flush)
        set_zero(g, &group);
    compute_stage(g, &group, a_tile, b_tile);
    FOR_ACC(g, r, j, i)
        f->acc[r][j][i] = g->flush ? LLVMBuildFAdd(g->b, f->acc[r][j][i], group.acc[r][j][i], "") : group.acc[r][j][i];
    stage_loop_close(g, &l, f);
    if (!p->tma) /* with TMA every stage issued has been waited for */
        call(g, "llvm.nvvm.cp.async.wait.all", NULL, 0);
    barrier(g); /* the stages' memory may now be reused */
}

/* fp32 weights: waits for stage it and splits its weights (when it < count). */
static void split_stage(gen *g, LLVMValueRef it, LLVMValueRef count)
{
    LLVMBasicBlockRef join = if_begin(g, lt(g, it, count));
    LLVMValueRef a_tile, conv;
    stage_tiles(g, it, &a_tile, &conv);
    nf_gemm_wait_stage(g, it, g->p.stages - 2);
    split_weights(g, shared_at(g, a_tile, c64(g, g->p.a_bytes)), conv);
    if_end(g, join);
}

/* The same on wgmma, whose groups run while the warps go on. Step it: wait
 * for stage it and split its weights (or, split ahead, that was done in
 * step it - 1); every thread past the barrier, issue stage it's group;
 * split ahead, meanwhile wait for stage it + 1 and split its weights into
 * the other buffer; wait for the group, add it to the total (with the
 * flush, an f32 result: each group a fresh sum, as on mma.sync; without,
 * the groups chain on the running sum), and, once every warpgroup is past
 * that (the barrier), refill the stage's buffer. No register of a group in
 * flight is read: ptxas serializes wgmma where one is. */
static void pipeline_wgmma(gen *g, frag *f, LLVMValueRef first, LLVMValueRef count)
{
    const nf_gemm_plan *p = &g->p;
    bool ahead = nf_gemm_split_ahead(p);
    prologue(g, first, count);
    refill(g, first, count, c64(g, 0)); /* the last buffer too: the loop refills after use */
    if (ahead)
        split_stage(g, c64(g, 0), count);
    stage_loop l = stage_loop_open(g, count, f);
    if (!ahead && p->split_b && !p->presplit_b)
        split_stage(g, l.it, count);
    else if (!ahead)
        nf_gemm_wait_stage(g, l.it, p->stages - 2);
    barrier(g);
    LLVMValueRef a_tile, b_tile;
    stage_tiles(g, l.it, &a_tile, &b_tile);
    frag cur = *f;
    nf_gemm_wgmma_issue(g, &cur, a_tile, b_tile, g->flush);
    LLVMValueRef next = add(g, l.it, c64(g, 1));
    if (ahead)
        split_stage(g, next, count);
    nf_gemm_wgmma_wait(g, &cur, 0);
    FOR_ACC(g, r, j, i)
        f->acc[r][j][i] = g->flush ? LLVMBuildFAdd(g->b, f->acc[r][j][i], cur.acc[r][j][i], "") : cur.acc[r][j][i];
    barrier(g); /* stage it's buffers are read in both warpgroups */
    refill(g, first, count, next);
    stage_loop_close(g, &l, f);
    barrier(g); /* the stages' memory may now be reused */
}

/* ---- epilogues ------------------------------------------------------------ */

void nf_gemm_epilogue_at(gen *g, LLVMValueRef m, LLVMValueRef n, LLVMValueRef acc)
{
    LLVMValueRef ok = LLVMBuildAnd(g->b, lt(g, m, c64(g, g->p.M)), lt(g, n, c64(g, g->p.N)), "");
    LLVMBasicBlockRef join = if_begin(g, ok);
    nf_body_set_accumulator(g->body, g->k->gemm, acc);
    nf_body_store_outputs_flat(g->body, add(g, mul(g, m, c64(g, g->p.N)), n));
    if_end(g, join);
}

/* The block row where this warp's row tile r starts. mma.sync: warp (wmi,
 * wki) owns rows 16 rt wmi .. 16 rt (wmi + 1); wgmma: warpgroup q owns 64 rt
 * rows, warp w of it rows 16 w .. 16 w + 15 of each 64-row tile. */
static LLVMValueRef warp_row0(gen *g, int r)
{
    const nf_gemm_plan *p = &g->p;
    if (!p->wgmma)
        return add(g, mul(g, g->wmi, c64(g, nf_gemm_warp_rows(p))), c64(g, 16 * r));
    LLVMValueRef warp = LLVMBuildZExt(g->b, g->warp, g->i64, "");
    LLVMValueRef group = LLVMBuildUDiv(g->b, warp, c64(g, 4), ""), in_group = LLVMBuildURem(g->b, warp, c64(g, 4), "");
    return add(g, mul(g, group, c64(g, 64 * (int64_t)p->rt)), add(g, c64(g, 64 * r), mul(g, in_group, c64(g, 16))));
}

/* Accumulator element i of n8 tile j of row tile r: block row grp (+8 for
 * i >= 2) of the tile, column 2 tig + (i & 1) + 8 j. */
static void fragment_coords(gen *g, int r, int j, int i, LLVMValueRef *row, LLVMValueRef *col)
{
    LLVMValueRef grp = LLVMBuildZExt(g->b, LLVMBuildLShr(g->b, g->lane, c32(g, 2), ""), g->i64, "");
    LLVMValueRef tig2 = LLVMBuildZExt(g->b, LLVMBuildShl(g->b, LLVMBuildAnd(g->b, g->lane, c32(g, 3), ""), c32(g, 1), ""),
                                      g->i64, "");
    *row = add(g, warp_row0(g, r), add(g, grp, c64(g, i >= 2 ? 8 : 0)));
    *col = add(g, tig2, c64(g, 8 * j + (i & 1)));
}

static void emit_direct(gen *g, frag *f)
{
    FOR_ACC(g, r, j, i) {
        LLVMValueRef row, col;
        fragment_coords(g, r, j, i, &row, &col);
        nf_gemm_epilogue_at(g, add(g, g->m_block0, row), add(g, g->n0, col), f->acc[r][j][i]);
    }
}

/* for (e = tid; e < n; e += threads) { ... }; loop_close after the body. */
typedef struct simple_loop {
    LLVMValueRef e;
    LLVMBasicBlockRef head, done;
} simple_loop;

static simple_loop loop_open(gen *g, int64_t n)
{
    simple_loop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l.head = LLVMAppendBasicBlockInContext(g->c, g->fn, "e");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "ebody");
    l.done = LLVMAppendBasicBlockInContext(g->c, g->fn, "edone");
    LLVMBuildBr(g->b, l.head);
    LLVMPositionBuilderAtEnd(g->b, l.head);
    l.e = LLVMBuildPhi(g->b, g->i64, "e");
    LLVMAddIncoming(l.e, &g->tid, &pre, 1);
    LLVMBuildCondBr(g->b, lt(g, l.e, c64(g, n)), body, l.done);
    LLVMPositionBuilderAtEnd(g->b, body);
    return l;
}

static void loop_close(gen *g, simple_loop *l)
{
    LLVMValueRef next = add(g, l->e, c64(g, nf_gemm_threads(&g->p)));
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMAddIncoming(l->e, &next, &latch, 1);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->done);
}

/* The block's tile summed over its wk warps (shared memory, fixed order),
 * then, without split-K, the epilogue; with it, the partial to the
 * workspace, and the tile's splits are summed (nf_gemm_split_tail). */
static void emit_reduce(gen *g, frag *f, LLVMValueRef mblock, LLVMValueRef nblock, LLVMValueRef split,
                        LLVMValueRef scratch)
{
    const nf_gemm_plan *p = &g->p;
    int64_t bn = p->bn_rows, tile = nf_gemm_tile_elems(p);
    LLVMValueRef tile_id = add(g, mul(g, mblock, c64(g, p->nblocks)), nblock);
    /* workspace: [split][tile][block rows * bn] floats (then the tail's words) */
    LLVMValueRef ws_tile = mul(g, add(g, mul(g, split, c64(g, p->mblocks * p->nblocks)), tile_id), c64(g, tile));
    if (p->wk == 1) { /* one warp a row tile: its fragments are the partial, two columns a store */
        LLVMTypeRef v2 = LLVMVectorType(g->f32, 2);
        FOR_ACC(g, r, j, i) {
            if (i % 2)
                continue;
            LLVMValueRef row, col;
            fragment_coords(g, r, j, i, &row, &col);
            LLVMValueRef pair = LLVMBuildInsertElement(g->b, LLVMGetUndef(v2), f->acc[r][j][i], c32(g, 0), "");
            pair = LLVMBuildInsertElement(g->b, pair, f->acc[r][j][i + 1], c32(g, 1), "");
            LLVMValueRef at = f32_at(g, scratch, add(g, ws_tile, add(g, mul(g, row, c64(g, bn)), col)));
            LLVMSetAlignment(LLVMBuildStore(g->b, pair, at), 8);
        }
        nf_gemm_split_tail(g, tile_id, split, scratch);
        return;
    }
    /* the wk partials of the block's tile, sm[k group][block row][n 0..bn),
     * in the stages' memory */
    LLVMValueRef sm = g->smem;
    LLVMValueRef kbase = mul(g, g->wki, c64(g, tile));
    FOR_ACC(g, r, j, i) {
        LLVMValueRef row, col;
        fragment_coords(g, r, j, i, &row, &col);
        LLVMBuildStore(g->b, f->acc[r][j][i], f32_at(g, sm, add(g, kbase, add(g, mul(g, row, c64(g, bn)), col))));
    }
    barrier(g);

    simple_loop l = loop_open(g, tile);
    {
        LLVMValueRef r = LLVMBuildUDiv(g->b, l.e, c64(g, bn), ""), n = LLVMBuildURem(g->b, l.e, c64(g, bn), "");
        LLVMValueRef sum = NULL;
        for (int w = 0; w < p->wk; w++) { /* fixed order: deterministic */
            LLVMValueRef v = LLVMBuildLoad2(g->b, g->f32, f32_at(g, sm, add(g, c64(g, w * tile), l.e)), "");
            sum = sum ? LLVMBuildFAdd(g->b, sum, v, "") : v;
        }
        if (p->splits == 1)
            nf_gemm_epilogue_at(g, add(g, g->m_block0, r), add(g, g->n0, n), sum);
        else
            LLVMBuildStore(g->b, sum, f32_at(g, scratch, add(g, ws_tile, l.e)));
    }
    loop_close(g, &l);
    if (p->splits == 1)
        return;

    nf_gemm_split_tail(g, tile_id, split, scratch);
}

/* The block's dynamic shared memory (one symbol for every kernel of the module). */
static LLVMValueRef dynamic_shared(gen *g)
{
    LLVMValueRef gv = LLVMGetNamedGlobal(g->m, "nf_smem");
    if (!gv) {
        gv = LLVMAddGlobalInAddressSpace(g->m, LLVMArrayType2(g->i8, 0), "nf_smem", ADDR_SHARED);
        LLVMSetLinkage(gv, LLVMExternalLinkage);
        LLVMSetAlignment(gv, 16); /* all the driver promises; TMA aligns by hand (and LLVM must not assume more) */
    }
    return gv;
}

void nf_nvptx_launch_bounds(LLVMValueRef fn, int threads, int min_blocks)
{
    LLVMContextRef c = LLVMGetTypeContext(LLVMTypeOf(fn));
    char text[2][12];
    snprintf(text[0], sizeof text[0], "%d", threads);
    snprintf(text[1], sizeof text[1], "%d", min_blocks);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(c, "nvvm.maxntid", 12, text[0], (unsigned)strlen(text[0])));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(c, "nvvm.minctasm", 13, text[1], (unsigned)strlen(text[1])));
}

nf_status nf_nvptx_emit_gemm(const nf_target *t, LLVMModuleRef m, const nf_plan *pl, int index, const nf_slots *s,
                             int sms, nf_error *err)
{
    const nf_fused_kernel *k = &pl->kernels[index];
    gen g = {.c = LLVMGetModuleContext(m), .m = m, .k = k};
    g.i8 = LLVMInt8TypeInContext(g.c);
    g.i16 = LLVMInt16TypeInContext(g.c);
    g.i32 = LLVMInt32TypeInContext(g.c);
    g.i64 = LLVMInt64TypeInContext(g.c);
    g.f32 = LLVMFloatTypeInContext(g.c);
    g.p = nf_gemm_choose(k, s, sms, t);
    g.ntiles = g.p.bn_rows / 8;
    char note[384]; /* the tiling, for readers of the PTX */
    snprintf(note, sizeof note,
             "// nf_k%d: gemm %lldx%lldx%lld, blocks %lld x %lld x %lld (split-K) of %lld x %d, warps %d x %d of %d rows each, "
             "%d-column stages x %d, %lld bytes of shared memory%s%s%s%s\n",
             index, (long long)g.p.M, (long long)g.p.N, (long long)g.p.K, (long long)g.p.mblocks, (long long)g.p.nblocks,
             (long long)g.p.splits, (long long)nf_gemm_block_rows(&g.p), g.p.bn_rows, g.p.wm, g.p.wk, nf_gemm_warp_rows(&g.p), g.p.bk, g.p.stages, (long long)g.p.smem_bytes,
             g.p.a_evict_first ? ", A evict-first in L2" : "", g.p.wgmma ? ", wgmma" : "",
             g.p.shared_tail ? ", shared split-K tail" : "", g.p.presplit_b ? ", W's terms made once" : "");
    LLVMAppendModuleInlineAsm(m, note, strlen(note));
    LLVMValueRef fn = nf_gpu_kernel_function_maps(t, m, index, s, g.p.tma ? 2 : 0, err);
    if (!fn)
        return err ? err->status : NF_ERR_NOMEM;
    g.fn = fn;
    g.flush = k->gemm->dtype == NF_F32 || pl->keep_fp32;
    /* 256 threads, two blocks per SM: ptxas keeps registers at 128 or fewer;
     * but two row tiles with the flush's second accumulator set need more,
     * and a block of 512 threads is alone on its SM anyway */
    bool one_block = nf_gemm_alone(&g.p) || (g.p.rt == 2 && g.flush);
    nf_nvptx_launch_bounds(fn, nf_gemm_threads(&g.p), one_block ? 1 : 2);
    g.body = nf_gpu_kernel_begin(m, fn, pl, k, s, &g.b, err);
    if (!g.body)
        return NF_ERR_NOMEM;
    const nf_value *a = k->a.source, *b = k->b.source;
    const nf_layout *la = nf_slots_layout(s, a), *lb = nf_slots_layout(s, b);
    g.a_base = nf_body_base(g.body, a, g.i16);
    g.b_base = nf_body_base(g.body, b, g.p.split_b ? g.f32 : g.i16);
    g.a_row_stride = la->rank >= 2 ? la->strides[la->rank - 2] : 0;
    g.b_row_stride = lb->strides[0];
    g.smem = dynamic_shared(&g);
    if (g.p.tma) {
        /* the dynamic window starts where the static variables end: round up
         * to 1024 bytes (the plan counted them) */
        LLVMValueRef at = LLVMBuildPtrToInt(g.b, g.smem, g.i32, "");
        LLVMValueRef pad = LLVMBuildAnd(g.b, LLVMBuildSub(g.b, c32(&g, 0), at, ""), c32(&g, 1023), "");
        g.smem = shared_at(&g, g.smem, LLVMBuildZExt(g.b, pad, g.i64, ""));
        g.a_map = LLVMBuildPtrToInt(g.b, LLVMGetParam(fn, (unsigned)s->n + 2), g.i64, "");
        g.b_map = LLVMBuildPtrToInt(g.b, LLVMGetParam(fn, (unsigned)s->n + 3), g.i64, "");
    }
    LLVMValueRef tid = sreg(&g, "llvm.nvvm.read.ptx.sreg.tid.x");
    g.tid = LLVMBuildZExt(g.b, tid, g.i64, "");
    g.lane = LLVMBuildAnd(g.b, tid, c32(&g, 31), "");
    g.warp = LLVMBuildLShr(g.b, tid, c32(&g, 5), "");
    g.wmi = LLVMBuildZExt(g.b, LLVMBuildURem(g.b, g.warp, c32(&g, g.p.wm), ""), g.i64, "");
    g.wki = LLVMBuildZExt(g.b, LLVMBuildUDiv(g.b, g.warp, c32(&g, g.p.wm), ""), g.i64, "");
    LLVMValueRef mblock = LLVMBuildZExt(g.b, sreg(&g, "llvm.nvvm.read.ptx.sreg.ctaid.x"), g.i64, "");
    LLVMValueRef nblock = LLVMBuildZExt(g.b, sreg(&g, "llvm.nvvm.read.ptx.sreg.ctaid.y"), g.i64, "");
    LLVMValueRef split = LLVMBuildZExt(g.b, sreg(&g, "llvm.nvvm.read.ptx.sreg.ctaid.z"), g.i64, "");
    g.m_block0 = mul(&g, mblock, c64(&g, nf_gemm_block_rows(&g.p)));
    g.n0 = mul(&g, nblock, c64(&g, g.p.bn_rows));
    /* This block's stages, an even share of K's: the first kstages % splits
     * blocks take one more. No division and no difference of two products:
     * from (z + 1) k / s - z k / s, with s not a power of two, ptxas (CUDA
     * 13.0, sm_90) fused the 64-bit subtraction into a wide multiply-add that
     * drops the borrow when z k / s is 0, so the block at z = 0 saw a
     * negative count and added nothing (docs/GEMM.md). */
    int64_t share = g.p.kstages / g.p.splits, extra = g.p.kstages % g.p.splits;
    LLVMValueRef longer = LLVMBuildICmp(g.b, LLVMIntULT, split, c64(&g, extra), "");
    LLVMValueRef first = add(&g, mul(&g, split, c64(&g, share)), LLVMBuildSelect(g.b, longer, split, c64(&g, extra), ""));
    LLVMValueRef count = add(&g, c64(&g, share), LLVMBuildZExt(g.b, longer, g.i64, ""));
    frag f;
    set_zero(&g, &f);
    if (g.p.wgmma)
        pipeline_wgmma(&g, &f, first, count);
    else
        pipeline(&g, &f, first, count);
    if (nf_gemm_direct(&g.p))
        emit_direct(&g, &f);
    else
        emit_reduce(&g, &f, mblock, nblock, split, LLVMGetParam(fn, (unsigned)s->n + 1));
    return nf_gpu_kernel_end(g.body, g.b, err);
}
