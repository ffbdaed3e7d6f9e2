/* The tensor-core GEMM for NVIDIA (sm_80+): mma.sync m16n8k16 on bf16 or f16
 * with f32 accumulation, fragments loaded straight from global memory (32-bit
 * pairs; every 32-byte sector a warp touches is used whole), the epilogue
 * applied to the accumulator fragments in registers.
 *
 * A block is 4 warps; a warp owns 16 rows and up to 64 columns (8 n-tiles).
 * Two shapes of work:
 *  - direct (large M): warps along M, one pass over K, epilogue from registers;
 *  - reduce (small M): warps along M and K, and the K range split over blocks
 *    (split-K). Warp partials meet in shared memory; block partials go to a
 *    workspace, and the last block of a row tile (an atomic counter, reset by
 *    that block for the next launch) sums them in split order — deterministic
 *    — and applies the epilogue exactly once. */
#include "codegen/codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WARPS = 8, BN = 64, UNROLL = 4, ADDR_GLOBAL = 1, ADDR_SHARED = 3 };
/* What the last block of a tile may read back from the workspace (bytes). */
enum { REDUCE_BYTES = 64 * 1024 };

typedef struct plan_tc {
    int64_t M, N, K;
    int wm, wk;     /* warps along M and along K in a block */
    int64_t mblocks, nblocks, splits;
    bool direct;
} plan_tc;

typedef struct gen {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i32, i64, f32, gptr;
    nf_body *body;
    const nf_fused_kernel *k;
    const nf_slots *s;
    plan_tc p;
    LLVMValueRef lane, warp, a_base, b_base;
    int64_t a_row_stride, b_row_stride; /* elements */
    bool split_b;                       /* B is f32, split into three bf16 terms */
    bool flush;                         /* sum groups of mma steps with IEEE adds */
} gen;

/* The fp32-weight form: A is bf16 widened to f32 by a cast, B is f32. Then
 * x * w = x * (w1 + w2 + w3) + x * r with wi = bf16 terms of w (hi, mid, lo:
 * each the RNE bf16 of what the earlier ones leave, so w - w1 - w2 - w3 is
 * below 2^-24 |w| for normal w), and every x * wi is exact in f32: three bf16
 * tensor-core products reach fp32 accuracy (docs/GEMM.md has the bound). */
static bool splits_b(const nf_fused_kernel *k)
{
    const nf_value *g = k->gemm, *a = g->args[0], *b = g->args[1];
    return g->dtype == NF_F32 && a->op == NF_OP_CAST && a->args[0] == k->a.source && k->a.source->dtype == NF_BF16 &&
           b == k->b.source && b->dtype == NF_F32;
}

/* A GEMM the tensor-core path takes: bf16 x bf16 (or f16 x f16) read
 * directly (no views, no casts), K contiguous, K % 16 == 0, N % 8 == 0 and
 * N <= 64 or a multiple of 64, rows at even strides and 16-byte aligned
 * buffers (for the 32-bit pair loads). */
bool nf_nvptx_gemm_applies(const nf_fused_kernel *k, const nf_slots *s)
{
    if (k->kind != NF_KERNEL_GEMM || !s->aligned16)
        return false;
    const nf_value *g = k->gemm, *a = k->a.source, *b = k->b.source;
    bool split = splits_b(k);
    if (!split && (a != g->args[0] || b != g->args[1] || a->dtype != b->dtype ||
                   (a->dtype != NF_BF16 && a->dtype != NF_F16)))
        return false;
    if (g->op == NF_OP_MATMUL && !g->attr.trans_b)
        return false;
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    if (K % 16 || N % 8 || (N > BN && N % BN) || M < 1)
        return false;
    const nf_layout *la = nf_slots_layout(s, a), *lb = nf_slots_layout(s, b);
    /* 8-byte loads of four 16-bit columns (16-byte of four f32 weights) */
    if (la->strides[la->rank - 1] != 1 || lb->strides[1] != 1 || la->offset % 4 || lb->offset % 4 || lb->strides[0] % 4)
        return false;
    /* A's leading dims must flatten to one row stride */
    for (int d = 0; d + 2 < la->rank; d++)
        if (la->shape[d] > 1 && la->strides[d] != la->strides[d + 1] * la->shape[d + 1])
            return false;
    if (la->rank >= 2 && la->strides[la->rank - 2] % 4)
        return false;
    return true;
}

/* Rows per block: the fewest warps along M that keep the grid within two
 * waves; the other warps of the block split K. Then split K over blocks until
 * the GPU is full, as long as every warp keeps a k16 step and the last block
 * of a tile reads back at most REDUCE_BYTES of partials. */
static plan_tc choose(const nf_fused_kernel *k, const nf_slots *s, int sms)
{
    plan_tc p = {0};
    nf_gemm_sizes(k, s, &p.M, &p.N, &p.K);
    p.nblocks = (p.N + BN - 1) / BN;
    int64_t k16 = p.K / 16, waves = 2 * (int64_t)sms;
    p.wm = 1;
    while (p.wm < WARPS && (p.M + 16 * p.wm - 1) / (16 * p.wm) * p.nblocks > waves)
        p.wm *= 2;
    p.wk = WARPS / p.wm;
    p.mblocks = (p.M + 16 * p.wm - 1) / (16 * p.wm);
    /* so many rows that even full blocks fill the GPU twice: no K split at all */
    p.direct = p.wm == WARPS && p.mblocks * p.nblocks > waves;
    if (p.direct) {
        p.wk = 1;
        p.splits = 1;
        return p;
    }
    int64_t rows = p.M < 16 * p.wm ? p.M : 16 * p.wm;
    int64_t want = waves / (p.mblocks * p.nblocks);
    int64_t most = k16 / p.wk;
    int64_t cap = REDUCE_BYTES / (rows * BN * 4);
    p.splits = want;
    if (p.splits > most)
        p.splits = most;
    if (p.splits > cap)
        p.splits = cap;
    if (p.splits < 1)
        p.splits = 1;
    return p;
}

static LLVMValueRef c32(gen *g, int64_t x) { return LLVMConstInt(g->i32, (unsigned long long)x, 1); }
static LLVMValueRef c64(gen *g, int64_t x) { return LLVMConstInt(g->i64, (unsigned long long)x, 1); }

static LLVMValueRef call(gen *g, const char *name, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->m, id, NULL, 0);
    LLVMTypeRef ty = LLVMIntrinsicGetType(g->c, id, NULL, 0);
    return LLVMBuildCall2(g->b, ty, fn, args, (unsigned)n, "");
}

static LLVMValueRef sreg(gen *g, const char *name) { return call(g, name, NULL, 0); }
static void barrier(gen *g) { call(g, "llvm.nvvm.barrier.cta.sync.aligned.all", (LLVMValueRef[]){c32(g, 0)}, 1); }
static void fence(gen *g) { call(g, "llvm.nvvm.membar.gl", NULL, 0); }

/* Which k of memory an mma operand slot holds. The products of one k16 step
 * are summed whatever their order, so the step's 16 columns may be permuted,
 * the same way for A and B. Lane t's slots k = 2t, 2t+1 and 2t+8, 2t+9 take
 * memory columns 4t .. 4t+3: one contiguous 8-byte load (16 for f32 weights)
 * fills both of a lane's registers of a row instead of two 4-byte loads. */

/* Row `row` (clamped; zeros when >= rows), columns col .. col+3 of 16-bit
 * elements: lo = the pair for slots 2t, 2t+1; hi = for 2t+8, 2t+9. */
static void load_quad(gen *g, LLVMValueRef base, int64_t row_stride, LLVMValueRef row, LLVMValueRef col,
                      LLVMValueRef rows, LLVMValueRef *lo, LLVMValueRef *hi)
{
    LLVMValueRef valid = LLVMBuildICmp(g->b, LLVMIntSLT, row, rows, "");
    LLVMValueRef safe = LLVMBuildSelect(g->b, valid, row, c64(g, 0), "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, safe, c64(g, row_stride), ""), col, "");
    LLVMValueRef ptr = LLVMBuildGEP2(g->b, LLVMInt16TypeInContext(g->c), base, &off, 1, "");
    LLVMTypeRef v2 = LLVMVectorType(g->i32, 2);
    LLVMValueRef v = LLVMBuildLoad2(g->b, v2, ptr, "");
    LLVMSetAlignment(v, 8);
    v = LLVMBuildSelect(g->b, valid, v, LLVMConstNull(v2), "");
    *lo = LLVMBuildExtractElement(g->b, v, c32(g, 0), "");
    *hi = LLVMBuildExtractElement(g->b, v, c32(g, 1), "");
}

/* Four f32 weights of row `row` at col .. col+3 as three packed bf16 terms
 * for each of the two slot pairs: lo[t], hi[t] with t = 0 the high parts,
 * 1 the middle, 2 the low. */
static void split_quad(gen *g, LLVMValueRef row, LLVMValueRef col, LLVMValueRef rows, LLVMValueRef *lo,
                       LLVMValueRef *hi)
{
    LLVMValueRef valid = LLVMBuildICmp(g->b, LLVMIntSLT, row, rows, "");
    LLVMValueRef safe = LLVMBuildSelect(g->b, valid, row, c64(g, 0), "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, safe, c64(g, g->b_row_stride), ""), col, "");
    LLVMTypeRef v4 = LLVMVectorType(g->f32, 4);
    LLVMValueRef ld = LLVMBuildLoad2(g->b, v4, LLVMBuildGEP2(g->b, g->f32, g->b_base, &off, 1, ""), "");
    LLVMSetAlignment(ld, 16);
    ld = LLVMBuildSelect(g->b, valid, ld, LLVMConstNull(v4), "");
    LLVMValueRef bits[3][4];
    for (int e = 0; e < 4; e++) {
        LLVMValueRef rest = LLVMBuildExtractElement(g->b, ld, c32(g, e), "");
        for (int t = 0; t < 3; t++) {
            LLVMValueRef part = nf_emit_round(g->b, g->m, rest, NF_BF16);
            bits[t][e] = LLVMBuildLShr(g->b, LLVMBuildBitCast(g->b, part, g->i32, ""), c32(g, 16), "");
            rest = LLVMBuildFSub(g->b, rest, part, ""); /* exact: part is rest rounded */
        }
    }
    for (int t = 0; t < 3; t++) {
        lo[t] = LLVMBuildOr(g->b, bits[t][0], LLVMBuildShl(g->b, bits[t][1], c32(g, 16), ""), "");
        hi[t] = LLVMBuildOr(g->b, bits[t][2], LLVMBuildShl(g->b, bits[t][3], c32(g, 16), ""), "");
    }
}

typedef struct frag {
    LLVMValueRef acc[8][4];
} frag;


/* acc += A[rows m0.., k] B[n0.., k] for one k16 step at column k0 (i64). */
static void mma_step(gen *g, frag *f, LLVMValueRef m0, LLVMValueRef n0, LLVMValueRef k0, int ntiles)
{
    LLVMValueRef grp = LLVMBuildZExt(g->b, LLVMBuildLShr(g->b, g->lane, c32(g, 2), ""), g->i64, "");
    LLVMValueRef tig4 = LLVMBuildZExt(g->b, LLVMBuildMul(g->b, LLVMBuildAnd(g->b, g->lane, c32(g, 3), ""), c32(g, 4), ""),
                                      g->i64, "");
    LLVMValueRef r0 = LLVMBuildAdd(g->b, m0, grp, ""), r1 = LLVMBuildAdd(g->b, r0, c64(g, 8), "");
    LLVMValueRef col = LLVMBuildAdd(g->b, k0, tig4, "");
    LLVMValueRef M = c64(g, g->p.M), N = c64(g, g->p.N);
    LLVMValueRef a[4]; /* a0: row g, slots 2t..; a1: row g+8; a2: row g, slots 2t+8..; a3: row g+8 */
    load_quad(g, g->a_base, g->a_row_stride, r0, col, M, &a[0], &a[2]);
    load_quad(g, g->a_base, g->a_row_stride, r1, col, M, &a[1], &a[3]);
    const char *mma = g->k->a.source->dtype == NF_BF16 ? "llvm.nvvm.mma.m16n8k16.row.col.bf16"
                                                            : "llvm.nvvm.mma.m16n8k16.row.col.f32.f32"; /* f16 inputs: D and C f32 */
    for (int j = 0; j < ntiles; j++) {
        LLVMValueRef n = LLVMBuildAdd(g->b, LLVMBuildAdd(g->b, n0, c64(g, 8 * j), ""), grp, "");
        LLVMValueRef b0[3], b1[3];
        int terms = 1;
        if (g->split_b) {
            split_quad(g, n, col, N, b0, b1);
            terms = 3;
        } else {
            load_quad(g, g->b_base, g->b_row_stride, n, col, N, &b0[0], &b1[0]);
        }
        unsigned id = LLVMLookupIntrinsicID(mma, strlen(mma));
        LLVMTypeRef fty = LLVMIntrinsicGetType(g->c, id, NULL, 0);
        LLVMTypeRef pt[10];
        LLVMGetParamTypes(fty, pt);
        for (int t = terms - 1; t >= 0; t--) { /* the small terms first */
            LLVMValueRef args[10];
            for (int i = 0; i < 4; i++)
                args[i] = LLVMBuildBitCast(g->b, a[i], pt[i], "");
            args[4] = LLVMBuildBitCast(g->b, b0[t], pt[4], "");
            args[5] = LLVMBuildBitCast(g->b, b1[t], pt[5], "");
            for (int i = 0; i < 4; i++)
                args[6 + i] = f->acc[j][i];
            LLVMValueRef d = call(g, mma, args, 10);
            for (int i = 0; i < 4; i++)
                f->acc[j][i] = LLVMBuildExtractValue(g->b, d, (unsigned)i, "");
        }
    }
}

/* Stores every output at element (m, n) of the GEMM, the accumulator given. */
static void epilogue_at(gen *g, LLVMValueRef m, LLVMValueRef n, LLVMValueRef acc)
{
    nf_body_set_accumulator(g->body, g->k->gemm, acc);
    nf_body_store_outputs_flat(g->body, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, m, c64(g, g->p.N), ""), n, ""));
}

/* if (cond) { ...then... }: returns the join block; the builder is left in then. */
static LLVMBasicBlockRef if_begin(gen *g, LLVMValueRef cond)
{
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(g->c, g->fn, "then");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(g->c, g->fn, "join");
    LLVMBuildCondBr(g->b, cond, then, join);
    LLVMPositionBuilderAtEnd(g->b, then);
    return join;
}

static void if_end(gen *g, LLVMBasicBlockRef join)
{
    LLVMBuildBr(g->b, join);
    LLVMPositionBuilderAtEnd(g->b, join);
}

/* The k loop: steps first, first + stride, ... < last, UNROLL at a time
 * (loads of several steps in flight), then the remainder one by one. */
static void k_loop(gen *g, frag *f, LLVMValueRef m0, LLVMValueRef n0, LLVMValueRef first, LLVMValueRef last,
                   int64_t stride, int ntiles)
{
    for (int pass = 0; pass < 2; pass++) {
        /* the flush's second accumulator set leaves registers for fewer loads in flight */
        int64_t per = pass == 0 ? (g->flush ? UNROLL / 2 : UNROLL) : 1;
        LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
        LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->c, g->fn, "ks");
        LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "kbody");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->c, g->fn, "kdone");
        LLVMBuildBr(g->b, head);
        LLVMPositionBuilderAtEnd(g->b, head);
        LLVMValueRef step = LLVMBuildPhi(g->b, g->i64, "step");
        LLVMAddIncoming(step, &first, &pre, 1);
        LLVMValueRef phis[8][4];
        for (int j = 0; j < ntiles; j++)
            for (int i = 0; i < 4; i++) {
                phis[j][i] = LLVMBuildPhi(g->b, g->f32, "");
                LLVMAddIncoming(phis[j][i], &f->acc[j][i], &pre, 1);
                f->acc[j][i] = phis[j][i];
            }
        /* all `per` steps fit: step + (per - 1) * stride < last */
        LLVMValueRef end = LLVMBuildAdd(g->b, step, c64(g, (per - 1) * stride), "");
        LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, end, last, ""), body, done);
        LLVMPositionBuilderAtEnd(g->b, body);
        /* For an f32 result, a fresh tensor-core accumulator per group of
         * steps, added into the running sum with IEEE adds: the mma's own f32
         * accumulation may not round to nearest, and its error would grow
         * with K. A result rounded to bf16 or f16 does not need it. */
        frag group = *f;
        if (g->flush)
            for (int j = 0; j < ntiles; j++)
                for (int i = 0; i < 4; i++)
                    group.acc[j][i] = LLVMConstReal(g->f32, 0.0);
        for (int u = 0; u < per; u++) {
            LLVMValueRef st = LLVMBuildAdd(g->b, step, c64(g, u * stride), "");
            mma_step(g, &group, m0, n0, LLVMBuildMul(g->b, st, c64(g, 16), ""), ntiles);
        }
        for (int j = 0; j < ntiles; j++)
            for (int i = 0; i < 4; i++)
                f->acc[j][i] = g->flush ? LLVMBuildFAdd(g->b, f->acc[j][i], group.acc[j][i], "") : group.acc[j][i];
        LLVMValueRef next = LLVMBuildAdd(g->b, step, c64(g, per * stride), "");
        LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
        LLVMAddIncoming(step, &next, &latch, 1);
        for (int j = 0; j < ntiles; j++)
            for (int i = 0; i < 4; i++)
                LLVMAddIncoming(phis[j][i], &f->acc[j][i], &latch, 1);
        LLVMBuildBr(g->b, head);
        LLVMPositionBuilderAtEnd(g->b, done);
        for (int j = 0; j < ntiles; j++)
            for (int i = 0; i < 4; i++)
                f->acc[j][i] = phis[j][i];
        first = step;
    }
}

static LLVMValueRef shared_array(gen *g, const char *name, LLVMTypeRef elem, unsigned n)
{
    LLVMTypeRef at = LLVMArrayType2(elem, n);
    LLVMValueRef gv = LLVMAddGlobalInAddressSpace(g->m, at, name, ADDR_SHARED);
    LLVMSetInitializer(gv, LLVMGetUndef(at));
    LLVMSetLinkage(gv, LLVMInternalLinkage);
    LLVMSetAlignment(gv, 16);
    return gv;
}

static LLVMValueRef gep(gen *g, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildGEP2(g->b, t, base, &index, 1, "");
}

/* for (e = tid; e < n; e += 128) { body(e) }: returns e; call loop_close after. */
typedef struct simple_loop {
    LLVMValueRef e;
    LLVMBasicBlockRef head, done;
} simple_loop;

static simple_loop loop_open(gen *g, LLVMValueRef start, int64_t n, int64_t step)
{
    simple_loop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l.head = LLVMAppendBasicBlockInContext(g->c, g->fn, "e");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "ebody");
    l.done = LLVMAppendBasicBlockInContext(g->c, g->fn, "edone");
    LLVMBuildBr(g->b, l.head);
    LLVMPositionBuilderAtEnd(g->b, l.head);
    l.e = LLVMBuildPhi(g->b, g->i64, "e");
    LLVMAddIncoming(l.e, &start, &pre, 1);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, l.e, c64(g, n), ""), body, l.done);
    LLVMPositionBuilderAtEnd(g->b, body);
    (void)step;
    return l;
}

static void loop_close(gen *g, simple_loop *l, int64_t step)
{
    LLVMValueRef next = LLVMBuildAdd(g->b, l->e, c64(g, step), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMAddIncoming(l->e, &next, &latch, 1);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->done);
}

static void emit_direct(gen *g, frag *f, LLVMValueRef m0, LLVMValueRef n0, int ntiles)
{
    k_loop(g, f, m0, n0, c64(g, 0), c64(g, g->p.K / 16), 1, ntiles);
    LLVMValueRef grp = LLVMBuildZExt(g->b, LLVMBuildLShr(g->b, g->lane, c32(g, 2), ""), g->i64, "");
    LLVMValueRef tig2 = LLVMBuildZExt(g->b, LLVMBuildMul(g->b, LLVMBuildAnd(g->b, g->lane, c32(g, 3), ""), c32(g, 2), ""),
                                      g->i64, "");
    for (int j = 0; j < ntiles; j++)
        for (int i = 0; i < 4; i++) {
            LLVMValueRef m = LLVMBuildAdd(g->b, LLVMBuildAdd(g->b, m0, grp, ""), c64(g, i >= 2 ? 8 : 0), "");
            LLVMValueRef n = LLVMBuildAdd(g->b, LLVMBuildAdd(g->b, n0, c64(g, 8 * j + (i & 1)), ""), tig2, "");
            LLVMBasicBlockRef join = if_begin(g, LLVMBuildICmp(g->b, LLVMIntSLT, m, c64(g, g->p.M), ""));
            epilogue_at(g, m, n, f->acc[j][i]);
            if_end(g, join);
        }
}

static void emit_reduce(gen *g, frag *f, LLVMValueRef mblock, LLVMValueRef n0, LLVMValueRef split, int ntiles,
                        LLVMValueRef scratch)
{
    plan_tc *p = &g->p;
    LLVMValueRef wm = LLVMBuildURem(g->b, g->warp, c32(g, p->wm), "");
    LLVMValueRef wk = LLVMBuildUDiv(g->b, g->warp, c32(g, p->wm), "");
    LLVMValueRef rows0 = LLVMBuildMul(g->b, mblock, c64(g, 16 * p->wm), "");
    LLVMValueRef m0 = LLVMBuildAdd(g->b, rows0, LLVMBuildMul(g->b, LLVMBuildZExt(g->b, wm, g->i64, ""), c64(g, 16), ""), "");
    int64_t k16 = p->K / 16;
    LLVMValueRef kb = LLVMBuildSDiv(g->b, LLVMBuildMul(g->b, split, c64(g, k16), ""), c64(g, p->splits), "");
    LLVMValueRef ke = LLVMBuildSDiv(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, split, c64(g, 1), ""), c64(g, k16), ""),
                                    c64(g, p->splits), "");
    k_loop(g, f, m0, n0, LLVMBuildAdd(g->b, kb, LLVMBuildZExt(g->b, wk, g->i64, ""), ""), ke, p->wk, ntiles);

    /* warp partials to shared memory: sm[warp][row 0..15][n 0..BN) */
    LLVMValueRef sm = shared_array(g, "nf_partials", g->f32, WARPS * 16 * BN);
    LLVMValueRef flag = shared_array(g, "nf_last", g->i32, 1);
    LLVMValueRef grp = LLVMBuildZExt(g->b, LLVMBuildLShr(g->b, g->lane, c32(g, 2), ""), g->i64, "");
    LLVMValueRef tig2 = LLVMBuildZExt(g->b, LLVMBuildMul(g->b, LLVMBuildAnd(g->b, g->lane, c32(g, 3), ""), c32(g, 2), ""),
                                      g->i64, "");
    LLVMValueRef wbase = LLVMBuildMul(g->b, LLVMBuildZExt(g->b, g->warp, g->i64, ""), c64(g, 16 * BN), "");
    for (int j = 0; j < ntiles; j++)
        for (int i = 0; i < 4; i++) {
            LLVMValueRef r = LLVMBuildAdd(g->b, grp, c64(g, i >= 2 ? 8 : 0), "");
            LLVMValueRef n = LLVMBuildAdd(g->b, tig2, c64(g, 8 * j + (i & 1)), "");
            LLVMValueRef at = LLVMBuildAdd(g->b, wbase, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, r, c64(g, BN), ""), n, ""), "");
            LLVMBuildStore(g->b, f->acc[j][i], gep(g, g->f32, sm, at));
        }
    barrier(g);

    int64_t tile = 16 * p->wm * BN, width = 8 * ntiles;
    LLVMValueRef tid = LLVMBuildZExt(g->b, sreg(g, "llvm.nvvm.read.ptx.sreg.tid.x"), g->i64, "");
    LLVMValueRef nblock = LLVMBuildUDiv(g->b, n0, c64(g, BN), "");
    LLVMValueRef tile_id = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, mblock, c64(g, p->nblocks), ""), nblock, "");
    /* workspace: [split][tile][16 * wm * BN] floats, then one counter per tile */
    LLVMValueRef ws_tile = LLVMBuildMul(g->b, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, split, c64(g, p->mblocks * p->nblocks), ""), tile_id, ""),
                                        c64(g, tile), "");
    simple_loop l = loop_open(g, tid, tile, WARPS * 32);
    {
        LLVMValueRef r = LLVMBuildUDiv(g->b, l.e, c64(g, BN), ""), n = LLVMBuildURem(g->b, l.e, c64(g, BN), "");
        LLVMValueRef rw = LLVMBuildUDiv(g->b, r, c64(g, 16), ""), rr = LLVMBuildURem(g->b, r, c64(g, 16), "");
        LLVMValueRef sum = NULL;
        for (int w = 0; w < p->wk; w++) { /* fixed order: deterministic */
            LLVMValueRef warp = LLVMBuildAdd(g->b, rw, c64(g, w * p->wm), "");
            LLVMValueRef at = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, warp, c64(g, 16 * BN), ""),
                                           LLVMBuildAdd(g->b, LLVMBuildMul(g->b, rr, c64(g, BN), ""), n, ""), "");
            LLVMValueRef v = LLVMBuildLoad2(g->b, g->f32, gep(g, g->f32, sm, at), "");
            sum = sum ? LLVMBuildFAdd(g->b, sum, v, "") : v;
        }
        LLVMValueRef m = LLVMBuildAdd(g->b, rows0, r, "");
        LLVMValueRef ok = LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, m, c64(g, p->M), ""),
                                       LLVMBuildICmp(g->b, LLVMIntSLT, n, c64(g, width), ""), "");
        LLVMBasicBlockRef join = if_begin(g, ok);
        if (p->splits == 1) {
            epilogue_at(g, m, LLVMBuildAdd(g->b, n0, n, ""), sum);
        } else {
            LLVMBuildStore(g->b, sum, gep(g, g->f32, scratch, LLVMBuildAdd(g->b, ws_tile, l.e, "")));
        }
        if_end(g, join);
    }
    loop_close(g, &l, WARPS * 32);
    if (p->splits == 1)
        return;

    /* the last block of this tile to finish sums the splits */
    fence(g);
    barrier(g);
    LLVMValueRef counters = gep(g, g->f32, scratch, c64(g, p->splits * p->mblocks * p->nblocks * tile));
    LLVMValueRef counter = gep(g, g->i32, counters, tile_id);
    LLVMBasicBlockRef join0 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, tid, c64(g, 0), ""));
    LLVMValueRef old = LLVMBuildAtomicRMW(g->b, LLVMAtomicRMWBinOpAdd, counter, c32(g, 1),
                                          LLVMAtomicOrderingAcquireRelease, 0);
    LLVMBuildStore(g->b, LLVMBuildZExt(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, old, c32(g, (int)p->splits - 1), ""), g->i32, ""),
                   LLVMBuildGEP2(g->b, g->i32, flag, (LLVMValueRef[]){c64(g, 0)}, 1, ""));
    if_end(g, join0);
    barrier(g);
    LLVMValueRef last = LLVMBuildLoad2(g->b, g->i32, LLVMBuildGEP2(g->b, g->i32, flag, (LLVMValueRef[]){c64(g, 0)}, 1, ""), "");
    LLVMBasicBlockRef join1 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntNE, last, c32(g, 0), ""));
    fence(g);
    simple_loop l2 = loop_open(g, tid, tile, WARPS * 32);
    {
        LLVMValueRef r = LLVMBuildUDiv(g->b, l2.e, c64(g, BN), ""), n = LLVMBuildURem(g->b, l2.e, c64(g, BN), "");
        LLVMValueRef m = LLVMBuildAdd(g->b, rows0, r, "");
        LLVMValueRef ok = LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, m, c64(g, p->M), ""),
                                       LLVMBuildICmp(g->b, LLVMIntSLT, n, c64(g, width), ""), "");
        LLVMBasicBlockRef join = if_begin(g, ok);
        LLVMValueRef sum = NULL;
        for (int64_t sp = 0; sp < p->splits; sp++) {
            LLVMValueRef at = LLVMBuildAdd(
                g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, c64(g, sp * p->mblocks * p->nblocks), tile_id, ""), c64(g, tile), ""),
                l2.e, "");
            /* written by other blocks before their fence and the counter; this SM
             * has never cached these lines in this launch, so a plain load sees them */
            LLVMValueRef v = LLVMBuildLoad2(g->b, g->f32, gep(g, g->f32, scratch, at), "");
            sum = sum ? LLVMBuildFAdd(g->b, sum, v, "") : v;
        }
        epilogue_at(g, m, LLVMBuildAdd(g->b, n0, n, ""), sum);
        if_end(g, join);
    }
    loop_close(g, &l2, WARPS * 32);
    LLVMBasicBlockRef join2 = if_begin(g, LLVMBuildICmp(g->b, LLVMIntEQ, tid, c64(g, 0), ""));
    LLVMValueRef reset = LLVMBuildStore(g->b, c32(g, 0), counter); /* ready for the next launch */
    LLVMSetVolatile(reset, 1);
    if_end(g, join2);
    if_end(g, join1);
}

void nf_nvptx_gemm_launch(const nf_fused_kernel *k, const nf_slots *s, int sms, nf_launch *l)
{
    plan_tc p = choose(k, s, sms);
    memset(l, 0, sizeof *l);
    l->grid[0] = (unsigned)p.mblocks;
    l->grid[1] = (unsigned)p.nblocks;
    l->grid[2] = (unsigned)p.splits;
    l->block[0] = WARPS * 32;
    l->block[1] = l->block[2] = 1;
    if (p.splits > 1) {
        int64_t tile = 16 * p.wm * BN;
        l->scratch_bytes = (size_t)(p.splits * p.mblocks * p.nblocks * tile) * 4 + (size_t)(p.mblocks * p.nblocks) * 4;
    }
}

nf_status nf_nvptx_emit_gemm(const nf_target *t, LLVMModuleRef m, const nf_plan *pl, int index, const nf_slots *s,
                             int sms, nf_error *err)
{
    (void)t;
    const nf_fused_kernel *k = &pl->kernels[index];
    gen g = {.c = LLVMGetModuleContext(m), .m = m, .k = k, .s = s};
    g.i32 = LLVMInt32TypeInContext(g.c);
    g.i64 = LLVMInt64TypeInContext(g.c);
    g.f32 = LLVMFloatTypeInContext(g.c);
    g.gptr = LLVMPointerTypeInContext(g.c, ADDR_GLOBAL);
    g.p = choose(k, s, sms);
    LLVMValueRef fn = nf_gpu_kernel_function(t, m, index, s, err);
    if (!fn)
        return err ? err->status : NF_ERR_NOMEM;
    g.fn = fn;
    /* 256 threads, two blocks per SM: ptxas keeps registers at 128 or fewer */
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateStringAttribute(g.c, "nvvm.maxntid", 12, "256", 3));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateStringAttribute(g.c, "nvvm.minctasm", 13, "2", 1));
    g.b = LLVMCreateBuilderInContext(g.c);
    LLVMPositionBuilderAtEnd(g.b, LLVMAppendBasicBlockInContext(g.c, fn, "entry"));
    LLVMValueRef *ptrs = calloc((size_t)s->n + 1, sizeof *ptrs);
    for (int i = 0; ptrs && i < s->n; i++)
        ptrs[i] = LLVMGetParam(fn, (unsigned)i);
    g.body = ptrs ? nf_body_new(m, g.b, pl, k, s, ptrs) : NULL;
    if (!g.body) {
        free(ptrs);
        LLVMDisposeBuilder(g.b);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory in codegen");
    }
    const nf_value *a = k->a.source, *b = k->b.source;
    const nf_layout *la = nf_slots_layout(s, a), *lb = nf_slots_layout(s, b);
    g.split_b = splits_b(k);
    g.flush = k->gemm->dtype == NF_F32 || pl->keep_fp32;
    LLVMTypeRef b_elem = g.split_b ? g.f32 : LLVMInt16TypeInContext(g.c);
    g.a_base = LLVMBuildGEP2(g.b, LLVMInt16TypeInContext(g.c), ptrs[s->first_slot[a->id]], (LLVMValueRef[]){c64(&g, la->offset)}, 1, "");
    g.b_base = LLVMBuildGEP2(g.b, b_elem, ptrs[s->first_slot[b->id]], (LLVMValueRef[]){c64(&g, lb->offset)}, 1, "");
    g.a_row_stride = la->rank >= 2 ? la->strides[la->rank - 2] : 0;
    g.b_row_stride = lb->strides[0];
    LLVMValueRef tid = sreg(&g, "llvm.nvvm.read.ptx.sreg.tid.x");
    g.lane = LLVMBuildAnd(g.b, tid, c32(&g, 31), "");
    g.warp = LLVMBuildLShr(g.b, tid, c32(&g, 5), "");
    LLVMValueRef mblock = LLVMBuildZExt(g.b, sreg(&g, "llvm.nvvm.read.ptx.sreg.ctaid.x"), g.i64, "");
    LLVMValueRef nblock = LLVMBuildZExt(g.b, sreg(&g, "llvm.nvvm.read.ptx.sreg.ctaid.y"), g.i64, "");
    LLVMValueRef split = LLVMBuildZExt(g.b, sreg(&g, "llvm.nvvm.read.ptx.sreg.ctaid.z"), g.i64, "");
    LLVMValueRef n0 = LLVMBuildMul(g.b, nblock, c64(&g, BN), "");
    int ntiles = (int)((g.p.N < BN ? g.p.N : BN) / 8);
    frag f;
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 4; i++)
            f.acc[j][i] = LLVMConstReal(g.f32, 0.0);
    if (g.p.direct) {
        LLVMValueRef m0 = LLVMBuildAdd(g.b, LLVMBuildMul(g.b, mblock, c64(&g, 16 * WARPS), ""),
                                       LLVMBuildMul(g.b, LLVMBuildZExt(g.b, g.warp, g.i64, ""), c64(&g, 16), ""), "");
        emit_direct(&g, &f, m0, n0, ntiles);
    } else {
        emit_reduce(&g, &f, mblock, n0, split, ntiles, LLVMGetParam(fn, (unsigned)s->n + 1));
    }
    LLVMBuildRetVoid(g.b);
    nf_status st = nf_body_failed(g.body, err) ? NF_ERR_COMPILE : NF_OK;
    nf_body_free(g.body);
    free(ptrs);
    LLVMDisposeBuilder(g.b);
    return st;
}
