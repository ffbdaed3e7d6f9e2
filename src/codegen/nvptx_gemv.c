/* The decode-size GEMM for NVIDIA: M <= 8 rows (tokens), one block per
 * output column n. The block's 256 threads stream the column's weights and
 * the rows of x with 16-byte loads along K, reduce through warp shuffles and
 * shared memory in a fixed order (deterministic), and the first threads
 * apply the epilogue: one launch, no workspace, no grid-wide sync. Weights
 * may be bf16/f16 (as x) or f32 with x widened from bf16 by a cast (the
 * fp32-weight form: plain f32 products, as an fp32 GEMM). */
#include "codegen/codegen.h"
#include "codegen/nvptx_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 256, MAX_ROWS = 8, ADDR_SHARED = 3 };

typedef struct gemv {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i32, i64, f32;
    int64_t M, N, K;
    nf_dtype x_dtype, w_dtype; /* storage dtypes */
} gemv;

/* x: the A operand in memory, directly or through one cast from bf16. */
static const nf_value *x_source(const nf_fused_kernel *k)
{
    const nf_value *a = k->gemm->args[0];
    if (a == k->a.source)
        return a;
    if (a->op == NF_OP_CAST && a->args[0] == k->a.source && k->a.source->dtype == NF_BF16 && a->dtype == NF_F32)
        return k->a.source;
    return NULL;
}

bool nf_nvptx_gemv_applies(const nf_fused_kernel *k, const nf_slots *s)
{
    if (k->kind != NF_KERNEL_GEMM || !s->aligned16 || k->gemm->op != NF_OP_LINEAR)
        return false;
    if (nf_gemm_override_skips_gemv())
        return false;
    const nf_value *x = x_source(k), *w = k->b.source;
    if (!x || w != k->gemm->args[1])
        return false;
    bool halves = (x->dtype == NF_BF16 || x->dtype == NF_F16) && w->dtype == x->dtype;
    bool f32w = x->dtype == NF_BF16 && w->dtype == NF_F32 && k->gemm->args[0] != x;
    if (!halves && !f32w)
        return false;
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    if (M < 1 || M > MAX_ROWS || K % 8 || K > 32 * 8 * THREADS) /* the k loop is written out: keep it short */
        return false;
    const nf_layout *lx = nf_slots_layout(s, x), *lw = nf_slots_layout(s, w);
    /* 16-byte loads of 8 x elements, 8 (or 2 x 4 f32) weights along K */
    size_t xs = nf_dtype_size(x->dtype), ws = nf_dtype_size(w->dtype);
    if (lx->strides[lx->rank - 1] != 1 || lw->strides[1] != 1 || (lx->offset * xs) % 16 || (lw->offset * ws) % 16 ||
        (lw->strides[0] * ws) % 16)
        return false;
    for (int d = 0; d + 2 < lx->rank; d++)
        if (lx->shape[d] > 1 && lx->strides[d] != lx->strides[d + 1] * lx->shape[d + 1])
            return false;
    return lx->rank < 2 || (lx->strides[lx->rank - 2] * xs) % 16 == 0;
}

void nf_nvptx_gemv_launch(const nf_fused_kernel *k, const nf_slots *s, nf_launch *l)
{
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    memset(l, 0, sizeof *l);
    l->grid[0] = (unsigned)N;
    l->grid[1] = l->grid[2] = 1;
    l->block[0] = THREADS;
    l->block[1] = l->block[2] = 1;
    l->n = 1;
}

static LLVMValueRef c32(gemv *g, int64_t x) { return LLVMConstInt(g->i32, (unsigned long long)x, 1); }
static LLVMValueRef c64(gemv *g, int64_t x) { return LLVMConstInt(g->i64, (unsigned long long)x, 1); }

static LLVMValueRef call(gemv *g, const char *name, LLVMValueRef *args, int n)
{
    return nf_emit_intrinsic(g->b, g->m, name, NULL, 0, args, n);
}

/* 8 consecutive elements at ptr (16-byte aligned) as f32 values. */
static void load8(gemv *g, LLVMValueRef base, nf_dtype dt, LLVMValueRef index, LLVMValueRef *out)
{
    if (dt == NF_F32) {
        LLVMTypeRef v4 = LLVMVectorType(g->f32, 4);
        for (int h = 0; h < 2; h++) {
            LLVMValueRef at = LLVMBuildAdd(g->b, index, c64(g, 4 * h), "");
            LLVMValueRef v = LLVMBuildLoad2(g->b, v4, LLVMBuildGEP2(g->b, g->f32, base, &at, 1, ""), "");
            LLVMSetAlignment(v, 16);
            for (int i = 0; i < 4; i++)
                out[4 * h + i] = LLVMBuildExtractElement(g->b, v, c32(g, i), "");
        }
        return;
    }
    LLVMTypeRef i16 = LLVMInt16TypeInContext(g->c), v8 = LLVMVectorType(i16, 8);
    LLVMValueRef v = LLVMBuildLoad2(g->b, v8, LLVMBuildGEP2(g->b, i16, base, &index, 1, ""), "");
    LLVMSetAlignment(v, 16);
    for (int i = 0; i < 8; i++)
        out[i] = nf_emit_from_storage(g->b, g->m, LLVMBuildExtractElement(g->b, v, c32(g, i), ""), dt);
}

static LLVMValueRef shared_array(gemv *g, const char *name, unsigned n)
{
    LLVMTypeRef at = LLVMArrayType2(g->f32, n);
    LLVMValueRef gv = LLVMAddGlobalInAddressSpace(g->m, at, name, ADDR_SHARED);
    LLVMSetInitializer(gv, LLVMGetUndef(at));
    LLVMSetLinkage(gv, LLVMInternalLinkage);
    LLVMSetAlignment(gv, 16);
    return gv;
}

nf_status nf_nvptx_emit_gemv(const nf_target *t, LLVMModuleRef m, const nf_plan *pl, int index, const nf_slots *s,
                             nf_error *err)
{
    const nf_fused_kernel *k = &pl->kernels[index];
    gemv g = {.c = LLVMGetModuleContext(m), .m = m};
    g.i32 = LLVMInt32TypeInContext(g.c);
    g.i64 = LLVMInt64TypeInContext(g.c);
    g.f32 = LLVMFloatTypeInContext(g.c);
    nf_gemm_sizes(k, s, &g.M, &g.N, &g.K);
    const nf_value *x = x_source(k), *w = k->b.source;
    g.x_dtype = x->dtype;
    g.w_dtype = w->dtype;
    g.fn = nf_gpu_kernel_function(t, m, index, s, err);
    if (!g.fn)
        return err ? err->status : NF_ERR_NOMEM;
    nf_body *body = nf_gpu_kernel_begin(m, g.fn, pl, k, s, &g.b, err);
    if (!body)
        return NF_ERR_NOMEM;
    const nf_layout *lx = nf_slots_layout(s, x), *lw = nf_slots_layout(s, w);
    LLVMTypeRef xe = nf_storage_type(g.c, x->dtype), we = nf_storage_type(g.c, w->dtype);
    LLVMValueRef xb = nf_body_base(body, x, xe), wb = nf_body_base(body, w, we);
    int64_t x_row = lx->rank >= 2 ? lx->strides[lx->rank - 2] : 0;
    LLVMValueRef tid = LLVMBuildZExt(g.b, call(&g, "llvm.nvvm.read.ptx.sreg.tid.x", NULL, 0), g.i64, "");
    LLVMValueRef n = LLVMBuildZExt(g.b, call(&g, "llvm.nvvm.read.ptx.sreg.ctaid.x", NULL, 0), g.i64, "");
    LLVMValueRef w_row = LLVMBuildGEP2(g.b, we, wb, (LLVMValueRef[]){LLVMBuildMul(g.b, n, c64(&g, lw->strides[0]), "")}, 1, "");

    /* acc[m] = sum over k = 8 tid + 8 THREADS i of x[m, k..k+8] . w[n, k..k+8],
     * written out for every i so that all the loads are in flight at once
     * (K is a constant; a k past the end loads index 0 and adds nothing). */
    LLVMValueRef acc[MAX_ROWS], zero = LLVMConstReal(g.f32, 0.0);
    for (int r = 0; r < g.M; r++)
        acc[r] = zero;
    LLVMValueRef k0 = LLVMBuildMul(g.b, tid, c64(&g, 8), "");
    int64_t steps = (g.K + 8 * THREADS - 1) / (8 * THREADS);
    for (int64_t i = 0; i < steps; i++) {
        LLVMValueRef kk = LLVMBuildAdd(g.b, k0, c64(&g, i * 8 * THREADS), "");
        LLVMValueRef valid = LLVMBuildICmp(g.b, LLVMIntSLT, kk, c64(&g, g.K), "");
        LLVMValueRef safe = LLVMBuildSelect(g.b, valid, kk, c64(&g, 0), "");
        LLVMValueRef wv[8], xv[8];
        load8(&g, w_row, g.w_dtype, safe, wv);
        for (int r = 0; r < g.M; r++) {
            load8(&g, xb, g.x_dtype, LLVMBuildAdd(g.b, c64(&g, r * x_row), safe, ""), xv);
            LLVMValueRef sum = zero;
            for (int e = 0; e < 8; e++) /* any summation order is fp32 accumulation */
                sum = LLVMBuildFAdd(g.b, sum, LLVMBuildFMul(g.b, xv[e], wv[e], ""), "");
            acc[r] = LLVMBuildFAdd(g.b, acc[r], LLVMBuildSelect(g.b, valid, sum, zero, ""), "");
        }
    }

    /* warp sums (butterfly), then the 8 warps' sums through shared memory */
    LLVMValueRef lane = LLVMBuildTrunc(g.b, LLVMBuildAnd(g.b, tid, c64(&g, 31), ""), g.i32, "");
    LLVMValueRef warp = LLVMBuildTrunc(g.b, LLVMBuildLShr(g.b, tid, c64(&g, 5), ""), g.i32, "");
    LLVMValueRef sm = shared_array(&g, "nf_gemv_partials", (THREADS / 32) * MAX_ROWS);
    for (int r = 0; r < g.M; r++) {
        LLVMValueRef v = acc[r];
        for (int off = 16; off >= 1; off /= 2) {
            LLVMValueRef args[4] = {c32(&g, -1), v, c32(&g, off), c32(&g, 31)};
            v = LLVMBuildFAdd(g.b, v, call(&g, "llvm.nvvm.shfl.sync.bfly.f32", args, 4), "");
        }
        LLVMValueRef at = LLVMBuildAdd(g.b, LLVMBuildMul(g.b, warp, c32(&g, MAX_ROWS), ""), c32(&g, r), "");
        LLVMBasicBlockRef store = LLVMAppendBasicBlockInContext(g.c, g.fn, "lane0"), after = LLVMAppendBasicBlockInContext(g.c, g.fn, "after");
        LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntEQ, lane, c32(&g, 0), ""), store, after);
        LLVMPositionBuilderAtEnd(g.b, store);
        LLVMBuildStore(g.b, v, LLVMBuildGEP2(g.b, g.f32, sm, &at, 1, ""));
        LLVMBuildBr(g.b, after);
        LLVMPositionBuilderAtEnd(g.b, after);
    }
    call(&g, "llvm.nvvm.barrier.cta.sync.aligned.all", (LLVMValueRef[]){c32(&g, 0)}, 1);
    /* thread r < M: the row's sum over warps in order, then the epilogue at (r, n) */
    LLVMBasicBlockRef epi = LLVMAppendBasicBlockInContext(g.c, g.fn, "epilogue"), end = LLVMAppendBasicBlockInContext(g.c, g.fn, "end");
    LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntULT, tid, c64(&g, g.M), ""), epi, end);
    LLVMPositionBuilderAtEnd(g.b, epi);
    LLVMValueRef row = LLVMBuildTrunc(g.b, tid, g.i32, ""), total = NULL;
    for (int w8 = 0; w8 < THREADS / 32; w8++) {
        LLVMValueRef at = LLVMBuildAdd(g.b, c32(&g, w8 * MAX_ROWS), row, "");
        LLVMValueRef v = LLVMBuildLoad2(g.b, g.f32, LLVMBuildGEP2(g.b, g.f32, sm, &at, 1, ""), "");
        total = total ? LLVMBuildFAdd(g.b, total, v, "") : v;
    }
    nf_body_set_accumulator(body, k->gemm, total);
    nf_body_store_outputs_flat(body, LLVMBuildAdd(g.b, LLVMBuildMul(g.b, tid, c64(&g, g.N), ""), n, ""));
    LLVMBuildBr(g.b, end);
    LLVMPositionBuilderAtEnd(g.b, end);
    return nf_gpu_kernel_end(body, g.b, err);
}
