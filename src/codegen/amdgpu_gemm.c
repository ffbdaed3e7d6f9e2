/* The matrix-core GEMM for AMD (gfx90a, gfx942, gfx950): MFMA 16x16x16
 * (16x16x32 on gfx950 when K allows) on bf16 or f16 with f32 accumulators,
 * wave64. Fragments are loaded straight from global memory: a lane's items
 * are consecutive along K, one 8-byte (16-byte) load each. No LDS, no
 * scratch, one pass over K per wave, then the shared epilogue (body.c) on
 * every accumulator element in registers.
 *
 * A workgroup is 4 waves; a wave owns 16 rows and 16 * tiles columns
 * (amdgpu_mfma.h has the tiling and every index map, shared with
 * tests/test_mfma_layout.c). Rows past M and columns past N are loaded as
 * zeros (addresses clamped) and never stored.
 *
 * Rounding. Every product of two bf16 (f16) values is exact in f32; one MFMA
 * adds its products and C in f32, in an order and with an internal rounding
 * the ISA guide does not specify (as for NVIDIA's mma). For an f32 result
 * (or keep_fp32) each group of GROUP_K columns of K is summed by fresh MFMA
 * accumulators and added to the running sum with IEEE f32 adds, so the
 * unspecified part never spans more than GROUP_K products. As on NVIDIA, a
 * result rounded to bf16 or f16 keeps one MFMA accumulator over all of K.
 * The kernel runs with f32 denormals kept and round to nearest even (the
 * descriptor's float mode); whether MFMA honours that is not documented. */
#include "codegen/amdgpu_mfma.h"

#include <stdlib.h>
#include <string.h>

enum { UNROLL_K = 64, GROUP_K = 32, MAX_TILES = 4 };
/* The grid: column blocks along x, so the workgroups that read the same rows
 * of A run next to each other and share them through the L2; row blocks
 * along y (at most 65535 there, as HIP allows). */
enum { GRID_X_MAX = 0x7fffffff, GRID_Y_MAX = 65535 };

typedef struct gen {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i16, i32, i64, f32, acc_t;
    nf_body *body;
    const nf_fused_kernel *k;
    nf_mfma_tiling t;
    nf_ix_env e;
    nf_ix lane;
    LLVMValueRef a_base, b_base;
    int64_t a_row_stride, b_row_stride; /* elements */
    bool split_b;                       /* B is f32, split into three bf16 terms */
    bool flush;                         /* sum groups of MFMA steps with IEEE adds */
    LLVMValueRef mfma;                  /* the intrinsic's declaration */
    LLVMTypeRef mfma_t, operand_t;      /* its function type, its A/B operand type */
} gen;

static int cus(const nf_slots *s) { return s->multiprocessors ? s->multiprocessors : 304; /* MI300X */ }

/* The instruction and tiling for k, or false when the MFMA path does not take it. */
static bool plan(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, nf_mfma_tiling *out)
{
    if (t->kind != NF_TARGET_AMDGPU || !nf_gemm_matrix_operands(k, s))
        return false;
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    const nf_mfma *op = nf_mfma_pick(t, k->a.source->dtype, K);
    if (!op)
        return false;
    *out = nf_mfma_tile(op, M, N, K, cus(s));
    return out->mblocks <= GRID_Y_MAX && out->nblocks <= GRID_X_MAX;
}

bool nf_amdgpu_gemm_applies(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s)
{
    nf_mfma_tiling tl;
    return plan(t, k, s, &tl);
}

void nf_amdgpu_gemm_launch(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, nf_launch *l)
{
    nf_mfma_tiling tl = {0};
    memset(l, 0, sizeof *l);
    if (!plan(t, k, s, &tl))
        return;
    l->grid[0] = (unsigned)tl.nblocks;
    l->grid[1] = (unsigned)tl.mblocks;
    l->grid[2] = 1;
    l->block[0] = NF_MFMA_WAVES * NF_MFMA_WAVE;
    l->block[1] = l->block[2] = 1;
    l->n = 1;
}

static LLVMValueRef c32(gen *g, int64_t x) { return LLVMConstInt(g->i32, (unsigned long long)x, 1); }
static LLVMValueRef c64(gen *g, int64_t x) { return LLVMConstInt(g->i64, (unsigned long long)x, 1); }

static LLVMValueRef call(gen *g, const char *name, LLVMValueRef *args, int n)
{
    return nf_emit_intrinsic(g->b, g->m, name, NULL, 0, args, n);
}

static LLVMBasicBlockRef if_begin(gen *g, LLVMValueRef cond) { return nf_emit_if_begin(g->b, g->fn, cond); }
static void if_end(gen *g, LLVMBasicBlockRef join) { nf_emit_if_end(g->b, join); }

/* `items` consecutive elements of row `row` from column `col` as one vector
 * load; zeros when row >= rows (the address clamped to row 0). */
static LLVMValueRef load_row(gen *g, LLVMValueRef base, LLVMTypeRef elem, int64_t row_stride, nf_ix row, nf_ix col,
                             int64_t rows)
{
    int items = g->t.op->ab_items;
    LLVMValueRef valid = LLVMBuildICmp(g->b, LLVMIntSLT, row.v, c64(g, rows), "");
    LLVMValueRef safe = LLVMBuildSelect(g->b, valid, row.v, c64(g, 0), "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, safe, c64(g, row_stride), ""), col.v, "");
    LLVMTypeRef vt = LLVMVectorType(elem, (unsigned)items);
    LLVMValueRef v = LLVMBuildLoad2(g->b, vt, LLVMBuildGEP2(g->b, elem, base, &off, 1, ""), "");
    /* offsets and row strides are multiples of 4 elements (nf_gemm_matrix_operands) */
    LLVMSetAlignment(v, elem == g->f32 ? 16 : 8);
    return LLVMBuildSelect(g->b, valid, v, LLVMConstNull(vt), "");
}

/* f32 weights as three bf16 terms (hi, mid, lo), each an operand vector. */
static void split_terms(gen *g, LLVMValueRef w, LLVMValueRef *terms)
{
    int items = g->t.op->ab_items;
    LLVMTypeRef vt = LLVMVectorType(g->i16, (unsigned)items);
    for (int t = 0; t < 3; t++)
        terms[t] = LLVMGetUndef(vt);
    for (int e = 0; e < items; e++) {
        LLVMValueRef rest = LLVMBuildExtractElement(g->b, w, c32(g, e), "");
        for (int t = 0; t < 3; t++) {
            LLVMValueRef part = nf_emit_round(g->b, g->m, rest, NF_BF16);
            LLVMValueRef bits = LLVMBuildLShr(g->b, LLVMBuildBitCast(g->b, part, g->i32, ""), c32(g, 16), "");
            terms[t] = LLVMBuildInsertElement(g->b, terms[t], LLVMBuildTrunc(g->b, bits, g->i16, ""), c32(g, e), "");
            rest = LLVMBuildFSub(g->b, rest, part, ""); /* exact: part is rest rounded */
        }
    }
}

static LLVMValueRef mfma(gen *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc)
{
    LLVMValueRef args[6] = {LLVMBuildBitCast(g->b, a, g->operand_t, ""), LLVMBuildBitCast(g->b, b, g->operand_t, ""),
                            acc, c32(g, 0), c32(g, 0), c32(g, 0)}; /* cbsz, abid, blgp: no broadcast */
    return LLVMBuildCall2(g->b, g->mfma_t, g->mfma, args, 6, "");
}

/* acc[j] += A[m0.., k0..] B[n0 + 16 j.., k0..] for one MFMA step at column k0. */
static void mfma_step(gen *g, LLVMValueRef *acc, nf_ix m0, nf_ix n0, nf_ix k0)
{
    nf_ix row, col;
    /* item 0's element; the others follow it along K (checked in emit) */
    nf_mfma_a_source(&g->t, &g->e, m0, k0, g->lane, 0, &row, &col);
    LLVMValueRef a = load_row(g, g->a_base, g->i16, g->a_row_stride, row, col, g->t.M);
    for (int j = 0; j < g->t.tiles; j++) {
        nf_ix n, bcol;
        nf_mfma_b_source(&g->t, &g->e, n0, j, k0, g->lane, 0, &n, &bcol);
        if (g->split_b) {
            LLVMValueRef terms[3];
            split_terms(g, load_row(g, g->b_base, g->f32, g->b_row_stride, n, bcol, g->t.N), terms);
            for (int t = 2; t >= 0; t--) /* the small terms first */
                acc[j] = mfma(g, a, terms[t], acc[j]);
        } else {
            acc[j] = mfma(g, a, load_row(g, g->b_base, g->i16, g->b_row_stride, n, bcol, g->t.N), acc[j]);
        }
    }
}

/* The k loop over all of K: `per` steps an iteration (loads of several steps
 * in flight), then the remainder one step at a time. */
static void k_loop(gen *g, LLVMValueRef *acc, nf_ix m0, nf_ix n0)
{
    int64_t step_k = g->t.op->k, steps = g->t.K / step_k;
    LLVMValueRef first = c64(g, 0);
    for (int pass = 0; pass < 2; pass++) {
        int64_t per = pass == 0 ? UNROLL_K / step_k : 1;
        int64_t group = step_k >= GROUP_K ? 1 : GROUP_K / step_k; /* steps per flush */
        LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
        LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->c, g->fn, "ks");
        LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "kbody");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->c, g->fn, "kdone");
        LLVMBuildBr(g->b, head);
        LLVMPositionBuilderAtEnd(g->b, head);
        LLVMValueRef step = LLVMBuildPhi(g->b, g->i64, "step");
        LLVMAddIncoming(step, &first, &pre, 1);
        LLVMValueRef phis[MAX_TILES];
        for (int j = 0; j < g->t.tiles; j++) {
            phis[j] = LLVMBuildPhi(g->b, g->acc_t, "");
            LLVMAddIncoming(phis[j], &acc[j], &pre, 1);
            acc[j] = phis[j];
        }
        LLVMValueRef end = LLVMBuildAdd(g->b, step, c64(g, per), "");
        LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLE, end, c64(g, steps), ""), body, done);
        LLVMPositionBuilderAtEnd(g->b, body);
        for (int64_t u = 0; u < per; u += group) {
            LLVMValueRef part[MAX_TILES];
            for (int j = 0; j < g->t.tiles; j++)
                part[j] = g->flush ? LLVMConstNull(g->acc_t) : acc[j];
            for (int64_t v = u; v < u + group && v < per; v++) {
                LLVMValueRef st = LLVMBuildAdd(g->b, step, c64(g, v), "");
                mfma_step(g, part, m0, n0, (nf_ix){0, LLVMBuildMul(g->b, st, c64(g, step_k), "")});
            }
            for (int j = 0; j < g->t.tiles; j++)
                acc[j] = g->flush ? LLVMBuildFAdd(g->b, acc[j], part[j], "") : part[j];
        }
        LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
        LLVMAddIncoming(step, &end, &latch, 1);
        for (int j = 0; j < g->t.tiles; j++)
            LLVMAddIncoming(phis[j], &acc[j], &latch, 1);
        LLVMBuildBr(g->b, head);
        LLVMPositionBuilderAtEnd(g->b, done);
        for (int j = 0; j < g->t.tiles; j++)
            acc[j] = phis[j];
        first = step;
    }
}

/* Stores every output at element (m, n) of the GEMM, the accumulator given:
 * the same shared body as the host, NVIDIA and the thread-per-output path. */
static void epilogue_at(gen *g, LLVMValueRef m, LLVMValueRef n, LLVMValueRef acc)
{
    nf_body_set_accumulator(g->body, g->k->gemm, acc);
    nf_body_store_outputs_flat(g->body, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, m, c64(g, g->t.N), ""), n, ""));
}

static void emit_wave(gen *g, nf_ix m0, nf_ix n0)
{
    LLVMValueRef acc[MAX_TILES];
    for (int j = 0; j < g->t.tiles; j++)
        acc[j] = LLVMConstNull(g->acc_t);
    k_loop(g, acc, m0, n0);
    for (int j = 0; j < g->t.tiles; j++)
        for (int item = 0; item < g->t.op->d_items; item++) {
            nf_ix m, n;
            nf_mfma_d_target(&g->t, &g->e, m0, n0, j, g->lane, item, &m, &n);
            LLVMValueRef ok = LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, m.v, c64(g, g->t.M), ""),
                                           LLVMBuildICmp(g->b, LLVMIntSLT, n.v, c64(g, g->t.N), ""), "");
            LLVMBasicBlockRef join = if_begin(g, ok);
            epilogue_at(g, m.v, n.v, LLVMBuildExtractElement(g->b, acc[j], c32(g, item), ""));
            if_end(g, join);
        }
}

/* Whether a lane's items are consecutive along K, as one vector load needs. */
static bool items_consecutive(const nf_mfma *op)
{
    nf_ix_env host = {0};
    for (int lane = 0; lane < NF_MFMA_WAVE; lane++) {
        nf_ix mn0, k0;
        nf_mfma_ab_element(op, &host, (nf_ix){lane, NULL}, 0, &mn0, &k0);
        for (int item = 1; item < op->ab_items; item++) {
            nf_ix mn, k;
            nf_mfma_ab_element(op, &host, (nf_ix){lane, NULL}, item, &mn, &k);
            if (mn.c != mn0.c || k.c != k0.c + item)
                return false;
        }
    }
    return true;
}

/* The intrinsic, its type and its A/B operand type; false if LLVM lacks it. */
static bool declare_mfma(gen *g)
{
    const char *name = g->t.op->intrinsic;
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    if (!id)
        return false;
    g->mfma = LLVMGetIntrinsicDeclaration(g->m, id, NULL, 0);
    g->mfma_t = LLVMIntrinsicGetType(g->c, id, NULL, 0);
    if (LLVMCountParamTypes(g->mfma_t) != 6)
        return false;
    LLVMTypeRef params[6];
    LLVMGetParamTypes(g->mfma_t, params);
    g->operand_t = params[0];
    return LLVMGetTypeKind(g->operand_t) == LLVMVectorTypeKind &&
           (int)LLVMGetVectorSize(g->operand_t) == g->t.op->ab_items && params[2] == g->acc_t;
}

nf_status nf_amdgpu_emit_gemm(const nf_target *t, LLVMModuleRef m, const nf_plan *pl, int index, const nf_slots *s,
                              nf_error *err)
{
    const nf_fused_kernel *k = &pl->kernels[index];
    gen g = {.c = LLVMGetModuleContext(m), .m = m, .k = k};
    if (!plan(t, k, s, &g.t))
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0, "codegen: the MFMA GEMM does not take kernel %d", index);
    g.i16 = LLVMInt16TypeInContext(g.c);
    g.i32 = LLVMInt32TypeInContext(g.c);
    g.i64 = LLVMInt64TypeInContext(g.c);
    g.f32 = LLVMFloatTypeInContext(g.c);
    g.acc_t = LLVMVectorType(g.f32, (unsigned)g.t.op->d_items);
    if (!items_consecutive(g.t.op))
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0, "codegen: %s: a lane's items are not consecutive along K",
                            g.t.op->intrinsic);
    if (!declare_mfma(&g))
        return nf_set_error(err, NF_ERR_COMPILE, 0, 0, "codegen: LLVM has no usable %s", g.t.op->intrinsic);
    LLVMValueRef fn = nf_gpu_kernel_function(t, m, index, s, err);
    if (!fn)
        return err ? err->status : NF_ERR_NOMEM;
    g.fn = fn;
    g.body = nf_gpu_kernel_begin(m, fn, pl, k, s, &g.b, err);
    if (!g.body)
        return NF_ERR_NOMEM;
    g.e = (nf_ix_env){g.b, g.i64};
    const nf_value *a = k->a.source, *b = k->b.source;
    const nf_layout *la = nf_slots_layout(s, a), *lb = nf_slots_layout(s, b);
    g.split_b = nf_gemm_splits_b(k);
    g.flush = k->gemm->dtype == NF_F32 || pl->keep_fp32;
    g.a_base = nf_body_base(g.body, a, g.i16);
    g.b_base = nf_body_base(g.body, b, g.split_b ? g.f32 : g.i16);
    g.a_row_stride = la->rank >= 2 ? la->strides[la->rank - 2] : 0;
    g.b_row_stride = lb->strides[0];

    LLVMValueRef tid = call(&g, "llvm.amdgcn.workitem.id.x", NULL, 0);
    g.lane = (nf_ix){0, LLVMBuildZExt(g.b, LLVMBuildAnd(g.b, tid, c32(&g, NF_MFMA_WAVE - 1), ""), g.i64, "")};
    /* the same in every lane of a wave (64 consecutive work-items): a scalar */
    LLVMValueRef wave = LLVMBuildLShr(g.b, tid, c32(&g, 6), "");
    wave = nf_emit_intrinsic(g.b, m, "llvm.amdgcn.readfirstlane", &g.i32, 1, &wave, 1);
    nf_ix by = {0, LLVMBuildZExt(g.b, call(&g, "llvm.amdgcn.workgroup.id.x", NULL, 0), g.i64, "")};
    nf_ix bx = {0, LLVMBuildZExt(g.b, call(&g, "llvm.amdgcn.workgroup.id.y", NULL, 0), g.i64, "")};
    nf_ix m0, n0;
    nf_mfma_wave_origin(&g.t, &g.e, bx, by, (nf_ix){0, LLVMBuildZExt(g.b, wave, g.i64, "")}, &m0, &n0);
    /* waves wholly past M or N (small shapes) have nothing to do */
    LLVMValueRef busy = LLVMBuildAnd(g.b, LLVMBuildICmp(g.b, LLVMIntSLT, m0.v, c64(&g, g.t.M), ""),
                                     LLVMBuildICmp(g.b, LLVMIntSLT, n0.v, c64(&g, g.t.N), ""), "");
    LLVMBasicBlockRef join = if_begin(&g, busy);
    emit_wave(&g, m0, n0);
    if_end(&g, join);
    return nf_gpu_kernel_end(g.body, g.b, err);
}
