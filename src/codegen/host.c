/* The host CPU target: kernel functions
 *     void nf_kN(void **slots, int64_t begin, int64_t end)
 * that the runtime calls from several threads on disjoint ranges: element
 * ranges for elementwise kernels, row ranges (of M) for GEMM kernels. */
#include "codegen/codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loop {
    LLVMValueRef i;           /* the induction variable, i64 */
    LLVMBasicBlockRef header, body, exit;
    LLVMValueRef next_phi_in; /* set by loop_end */
} loop;

typedef struct emitter {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i64;
} emitter;

static LLVMValueRef i64c(emitter *e, int64_t x) { return LLVMConstInt(e->i64, (unsigned long long)x, 1); }

/* for (i = lo; i < hi; i++) { ...body... } with the builder left in the body. */
static loop loop_begin(emitter *e, LLVMValueRef lo, LLVMValueRef hi, const char *name)
{
    loop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
    l.header = LLVMAppendBasicBlockInContext(e->c, e->fn, name);
    l.body = LLVMAppendBasicBlockInContext(e->c, e->fn, "body");
    l.exit = LLVMAppendBasicBlockInContext(e->c, e->fn, "exit");
    LLVMBuildBr(e->b, l.header);
    LLVMPositionBuilderAtEnd(e->b, l.header);
    l.i = LLVMBuildPhi(e->b, e->i64, name);
    LLVMAddIncoming(l.i, &lo, &pre, 1);
    LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, l.i, hi, ""), l.body, l.exit);
    LLVMPositionBuilderAtEnd(e->b, l.body);
    return l;
}

static void loop_end(emitter *e, loop *l)
{
    LLVMValueRef next = LLVMBuildAdd(e->b, l->i, i64c(e, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(e->b);
    LLVMAddIncoming(l->i, &next, &latch, 1);
    LLVMBuildBr(e->b, l->header);
    LLVMPositionBuilderAtEnd(e->b, l->exit);
}

void nf_gemm_sizes(const nf_fused_kernel *k, const nf_slots *s, int64_t *m, int64_t *n, int64_t *kk)
{
    int64_t shape[NF_MAX_DIMS], a_shape[NF_MAX_DIMS];
    nf_slots_shape(s, k->gemm, shape);
    nf_slots_shape(s, k->gemm->args[0], a_shape);
    int r = k->gemm->shape.rank;
    *n = shape[r - 1];
    *m = nf_shape_numel(r - 1, shape);
    *kk = a_shape[k->gemm->args[0]->shape.rank - 1];
}

int64_t nf_kernel_rows(const nf_fused_kernel *k, const nf_slots *s)
{
    int64_t shape[NF_MAX_DIMS];
    if (k->kind == NF_KERNEL_GEMM) {
        int64_t m, n, kk;
        nf_gemm_sizes(k, s, &m, &n, &kk);
        return m;
    }
    if (nf_slots_kernel_idle(s, k))
        return 0;
    if (nf_slots_group(s, k) >= 0)
        return nf_group_work_items(k, s, 1);
    nf_slots_shape(s, k->outputs[0], shape);
    return nf_shape_numel(k->outputs[0]->shape.rank, shape);
}

/* Elements [begin, end), as rows of the innermost dim so that the inner loop
 * walks memory with constant strides (and vectorizes). */
static void emit_elementwise(emitter *e, nf_body *body, const nf_fused_kernel *k, const nf_slots *s,
                             LLVMValueRef begin, LLVMValueRef end)
{
    int64_t shape[NF_MAX_DIMS];
    nf_slots_shape(s, k->outputs[0], shape);
    int rank = k->outputs[0]->shape.rank;
    int64_t inner = rank ? shape[rank - 1] : 1;
    if (inner < 1)
        inner = 1;
    LLVMValueRef row_lo = LLVMBuildSDiv(e->b, begin, i64c(e, inner), "");
    LLVMValueRef last = LLVMBuildSub(e->b, end, i64c(e, 1), "");
    LLVMValueRef row_hi = LLVMBuildAdd(e->b, LLVMBuildSDiv(e->b, last, i64c(e, inner), ""), i64c(e, 1), "");
    loop rows = loop_begin(e, row_lo, row_hi, "row");
    LLVMValueRef row_start = LLVMBuildMul(e->b, rows.i, i64c(e, inner), "");
    LLVMValueRef row_end = LLVMBuildAdd(e->b, row_start, i64c(e, inner), "");
    LLVMValueRef lo = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, begin, row_start, ""), begin, row_start, "");
    LLVMValueRef hi = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, end, row_end, ""), end, row_end, "");
    loop cols = loop_begin(e, LLVMBuildSub(e->b, lo, row_start, ""), LLVMBuildSub(e->b, hi, row_start, ""), "col");
    nf_body_reset(body);
    LLVMValueRef idx[NF_MAX_DIMS];
    if (rank > 1)
        nf_body_unflatten(body, rows.i, rank - 1, shape, idx);
    if (rank > 0)
        idx[rank - 1] = cols.i;
    for (int i = 0; i < k->n_outputs; i++) {
        const nf_value *v = k->outputs[i];
        if (v->shape.rank == rank) {
            nf_body_store_output(body, v, idx);
        } else { /* same element count, other rank: index by flat position */
            int64_t vshape[NF_MAX_DIMS];
            LLVMValueRef vidx[NF_MAX_DIMS];
            nf_slots_shape(s, v, vshape);
            nf_body_unflatten(body, LLVMBuildAdd(e->b, row_start, cols.i, ""), v->shape.rank, vshape, vidx);
            nf_body_store_output(body, v, vidx);
        }
    }
    loop_end(e, &cols);
    loop_end(e, &rows);
}

/* Work items [begin, end) of an in-place kernel, one group each (group.c). */
static void emit_in_place(emitter *e, nf_body *body, const nf_fused_kernel *k, const nf_slots *s, LLVMValueRef begin,
                          LLVMValueRef end)
{
    loop items = loop_begin(e, begin, end, "group");
    nf_group_store(body, k, s, items.i, 1);
    loop_end(e, &items);
}

/* The index of a GEMM operand element: A at (m, kk), B at (n, kk). */
static void operand_index(nf_body *body, const nf_fused_kernel *k, const nf_slots *s, int which, LLVMValueRef row,
                          LLVMValueRef col, LLVMValueRef kk, LLVMValueRef *idx)
{
    const nf_value *g = k->gemm, *x = g->args[which];
    if (which == 0) {
        int64_t shape[NF_MAX_DIMS];
        nf_slots_shape(s, x, shape);
        nf_body_unflatten(body, row, x->shape.rank - 1, shape, idx);
        idx[x->shape.rank - 1] = kk;
        return;
    }
    bool nk = g->op == NF_OP_LINEAR || g->attr.trans_b; /* B stored [N, K] */
    idx[0] = nk ? col : kk;
    idx[1] = nk ? kk : col;
}

/* Rows [begin, end) of M: every (m, n) dot product in the compute type of the
 * result (f32, or f64 for f64 inputs), then the epilogue at m * N + n. */
static void emit_gemm(emitter *e, nf_body *body, const nf_fused_kernel *k, const nf_slots *s, LLVMValueRef begin,
                      LLVMValueRef end)
{
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    const nf_value *g = k->gemm;
    LLVMTypeRef acc_t = nf_compute_type(e->c, g->dtype);
    loop rows = loop_begin(e, begin, end, "m");
    loop cols = loop_begin(e, i64c(e, 0), i64c(e, N), "n");
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
    loop ks = loop_begin(e, i64c(e, 0), i64c(e, K), "k");
    /* the accumulator phi lives in the k loop's header */
    LLVMPositionBuilderBefore(e->b, LLVMGetFirstInstruction(ks.header));
    LLVMValueRef acc = LLVMBuildPhi(e->b, acc_t, "acc");
    LLVMValueRef zero = LLVMConstReal(acc_t, 0.0);
    LLVMAddIncoming(acc, &zero, &pre, 1);
    LLVMPositionBuilderAtEnd(e->b, ks.body);
    nf_body_reset(body);
    LLVMValueRef aidx[NF_MAX_DIMS], bidx[NF_MAX_DIMS];
    operand_index(body, k, s, 0, rows.i, cols.i, ks.i, aidx);
    operand_index(body, k, s, 1, rows.i, cols.i, ks.i, bidx);
    const nf_value *av = g->args[0], *bv = g->args[1];
    LLVMValueRef a = nf_emit_convert(e->b, e->m, nf_body_value(body, av, aidx), av->dtype,
                                     g->dtype == NF_F64 ? NF_F64 : NF_F32);
    LLVMValueRef bb = nf_emit_convert(e->b, e->m, nf_body_value(body, bv, bidx), bv->dtype,
                                      g->dtype == NF_F64 ? NF_F64 : NF_F32);
    LLVMValueRef sum = LLVMBuildFAdd(e->b, acc, LLVMBuildFMul(e->b, a, bb, ""), "");
    LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc); /* any summation order is fp32 accumulation */
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(e->b);
    LLVMAddIncoming(acc, &sum, &latch, 1);
    loop_end(e, &ks);
    nf_body_set_accumulator(body, g, acc);
    LLVMValueRef flat = LLVMBuildAdd(e->b, LLVMBuildMul(e->b, rows.i, i64c(e, N), ""), cols.i, "");
    nf_body_store_outputs_flat(body, flat);
    loop_end(e, &cols);
    loop_end(e, &rows);
}

nf_status nf_host_emit_kernel(LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s, nf_error *err)
{
    const nf_fused_kernel *k = &p->kernels[index];
    emitter e = {.c = LLVMGetModuleContext(m), .m = m};
    e.i64 = LLVMInt64TypeInContext(e.c);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(e.c, 0);
    LLVMTypeRef params[3] = {ptr, e.i64, e.i64};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(e.c), params, 3, 0);
    char name[32];
    snprintf(name, sizeof name, "nf_k%d", index);
    e.fn = LLVMAddFunction(m, name, fty);
    e.b = LLVMCreateBuilderInContext(e.c);
    LLVMPositionBuilderAtEnd(e.b, LLVMAppendBasicBlockInContext(e.c, e.fn, "entry"));

    LLVMValueRef *ptrs = calloc((size_t)s->n, sizeof *ptrs);
    nf_body *body = ptrs ? nf_body_new(m, e.b, p, k, s, ptrs) : NULL;
    if (!body) {
        free(ptrs);
        LLVMDisposeBuilder(e.b);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory in codegen");
    }
    LLVMValueRef slots = LLVMGetParam(e.fn, 0);
    for (int i = 0; i < s->n; i++) {
        LLVMValueRef at = LLVMBuildGEP2(e.b, ptr, slots, (LLVMValueRef[]){i64c(&e, i)}, 1, "");
        ptrs[i] = LLVMBuildLoad2(e.b, ptr, at, "");
    }
    if (k->kind == NF_KERNEL_GEMM)
        emit_gemm(&e, body, k, s, LLVMGetParam(e.fn, 1), LLVMGetParam(e.fn, 2));
    else if (nf_slots_group(s, k) >= 0)
        emit_in_place(&e, body, k, s, LLVMGetParam(e.fn, 1), LLVMGetParam(e.fn, 2));
    else
        emit_elementwise(&e, body, k, s, LLVMGetParam(e.fn, 1), LLVMGetParam(e.fn, 2));
    LLVMBuildRetVoid(e.b);
    nf_status st = nf_body_failed(body, err) ? NF_ERR_COMPILE : NF_OK;
    nf_body_free(body);
    free(ptrs);
    LLVMDisposeBuilder(e.b);
    return st;
}
