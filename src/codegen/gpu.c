/* GPU kernels (NVPTX and AMDGPU alike): one thread per element of the
 * iteration space, or per (m, n) of a GEMM. The target rows in target.c and
 * the two small hook functions below are all that differ between vendors.
 *
 * Kernel parameters: one global pointer per slot, then the work count (i64).
 * Launch: NF_GPU_BLOCK threads per block, ceil(work / NF_GPU_BLOCK) blocks. */
#include "codegen/codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ADDRSPACE_GLOBAL = 1 };

static LLVMValueRef call0(LLVMBuilderRef b, LLVMModuleRef m, const char *name, LLVMTypeRef ret)
{
    LLVMValueRef fn = LLVMGetNamedFunction(m, name);
    LLVMTypeRef fty = LLVMFunctionType(ret, NULL, 0, 0);
    if (!fn)
        fn = LLVMAddFunction(m, name, fty);
    return LLVMBuildCall2(b, fty, fn, NULL, 0, "");
}

/* The global thread index, i64. */
static LLVMValueRef global_thread_index(const nf_target *t, LLVMBuilderRef b, LLVMModuleRef m)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(c), i64 = LLVMInt64TypeInContext(c);
    LLVMValueRef tid, bid;
    if (t->kind == NF_TARGET_NVPTX) {
        tid = call0(b, m, "llvm.nvvm.read.ptx.sreg.tid.x", i32);
        bid = call0(b, m, "llvm.nvvm.read.ptx.sreg.ctaid.x", i32);
    } else {
        tid = call0(b, m, "llvm.amdgcn.workitem.id.x", i32);
        bid = call0(b, m, "llvm.amdgcn.workgroup.id.x", i32);
    }
    LLVMValueRef base = LLVMBuildMul(b, LLVMBuildZExt(b, bid, i64, ""), LLVMConstInt(i64, NF_GPU_BLOCK, 0), "");
    return LLVMBuildAdd(b, base, LLVMBuildZExt(b, tid, i64, ""), "");
}

static void mark_kernel(const nf_target *t, LLVMValueRef fn)
{
    LLVMSetFunctionCallConv(fn, t->kind == NF_TARGET_NVPTX ? LLVMPTXKernelCallConv : LLVMAMDGPUKERNELCallConv);
    if (t->kind == NF_TARGET_AMDGPU) {
        char v[32];
        snprintf(v, sizeof v, "1,%d", NF_GPU_BLOCK);
        static const char key[] = "amdgpu-flat-work-group-size";
        LLVMContextRef c = LLVMGetTypeContext(LLVMTypeOf(fn));
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(c, key, sizeof key - 1, v, (unsigned)strlen(v)));
    }
}

static LLVMValueRef i64c(LLVMContextRef c, int64_t x) { return LLVMConstInt(LLVMInt64TypeInContext(c), (unsigned long long)x, 1); }

size_t nf_kernel_smallest_element(const nf_fused_kernel *k)
{
    size_t smallest = 8;
    for (int i = 0; i < k->n_inputs; i++)
        if (nf_dtype_size(k->inputs[i]->dtype) < smallest)
            smallest = nf_dtype_size(k->inputs[i]->dtype);
    for (int i = 0; i < k->n_outputs; i++)
        if (nf_dtype_size(k->outputs[i]->dtype) < smallest)
            smallest = nf_dtype_size(k->outputs[i]->dtype);
    return smallest;
}

int nf_gpu_vector_width(const nf_fused_kernel *k, const nf_slots *s)
{
    if (k->kind != NF_KERNEL_ELEMENTWISE || k->outputs[0]->shape.rank == 0)
        return 1;
    size_t smallest = nf_kernel_smallest_element(k);
    int64_t shape[NF_MAX_DIMS];
    nf_slots_shape(s, k->outputs[0], shape);
    int64_t inner = shape[k->outputs[0]->shape.rank - 1];
    int v = (int)(16 / smallest);
    if (v > 8)
        v = 8;
    while (v > 1 && inner % v != 0)
        v /= 2; /* the elements of one thread stay in one row */
    return v;
}

/* V consecutive elements of one row: the same row index, columns c..c+V-1,
 * so loads and stores of neighbouring elements can merge into vectors. */
static void emit_elementwise_thread(LLVMBuilderRef b, LLVMContextRef c, nf_body *body, const nf_fused_kernel *k,
                                    const nf_slots *s, LLVMValueRef thread)
{
    if (nf_slots_group(s, k) >= 0) { /* it stores over memory it reads */
        nf_group_store(body, k, s, thread, nf_group_width(k, s));
        return;
    }
    int v = nf_gpu_vector_width(k, s);
    if (v == 1) {
        nf_body_store_outputs_flat(body, thread);
        return;
    }
    int rank = k->outputs[0]->shape.rank;
    int64_t shape[NF_MAX_DIMS];
    nf_slots_shape(s, k->outputs[0], shape);
    LLVMValueRef flat = LLVMBuildMul(b, thread, i64c(c, v), "");
    LLVMValueRef idx[NF_MAX_DIMS];
    LLVMValueRef row = LLVMBuildUDiv(b, flat, i64c(c, shape[rank - 1]), "");
    LLVMValueRef col = LLVMBuildURem(b, flat, i64c(c, shape[rank - 1]), "");
    nf_body_unflatten(body, row, rank - 1, shape, idx);
    for (int j = 0; j < v; j++) {
        idx[rank - 1] = LLVMBuildAdd(b, col, i64c(c, j), "");
        nf_body_reset(body);
        for (int i = 0; i < k->n_outputs; i++)
            nf_body_store_output(body, k->outputs[i], idx);
    }
}

/* acc = sum over k of A[m, k] * B[n, k] in a loop, then the epilogue. */
static void emit_gemm_thread(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef fn, nf_body *body,
                             const nf_fused_kernel *k, const nf_slots *s, LLVMValueRef flat)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    const nf_value *g = k->gemm, *av = g->args[0], *bv = g->args[1];
    LLVMValueRef row = LLVMBuildUDiv(b, flat, i64c(c, N), ""), col = LLVMBuildURem(b, flat, i64c(c, N), "");
    LLVMTypeRef acc_t = nf_compute_type(c, g->dtype);
    nf_dtype acc_dt = g->dtype == NF_F64 ? NF_F64 : NF_F32;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(c, fn, "k"), loop = LLVMAppendBasicBlockInContext(c, fn, "kbody"),
                      done = LLVMAppendBasicBlockInContext(c, fn, "kdone");
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef kk = LLVMBuildPhi(b, LLVMInt64TypeInContext(c), "kk");
    LLVMValueRef acc = LLVMBuildPhi(b, acc_t, "acc");
    LLVMValueRef zero = i64c(c, 0), fzero = LLVMConstReal(acc_t, 0.0);
    LLVMAddIncoming(kk, &zero, &pre, 1);
    LLVMAddIncoming(acc, &fzero, &pre, 1);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, kk, i64c(c, K), ""), loop, done);
    LLVMPositionBuilderAtEnd(b, loop);
    nf_body_reset(body);
    int64_t ashape[NF_MAX_DIMS];
    nf_slots_shape(s, av, ashape);
    LLVMValueRef aidx[NF_MAX_DIMS], bidx[NF_MAX_DIMS];
    nf_body_unflatten(body, row, av->shape.rank - 1, ashape, aidx);
    aidx[av->shape.rank - 1] = kk;
    bool nk = g->op == NF_OP_LINEAR || g->attr.trans_b;
    bidx[0] = nk ? col : kk;
    bidx[1] = nk ? kk : col;
    LLVMValueRef x = nf_emit_convert(b, m, nf_body_value(body, av, aidx), av->dtype, acc_dt);
    LLVMValueRef y = nf_emit_convert(b, m, nf_body_value(body, bv, bidx), bv->dtype, acc_dt);
    LLVMValueRef sum = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, x, y, ""), "");
    LLVMValueRef next = LLVMBuildAdd(b, kk, i64c(c, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
    LLVMAddIncoming(kk, &next, &latch, 1);
    LLVMAddIncoming(acc, &sum, &latch, 1);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, done);
    nf_body_set_accumulator(body, g, acc);
    nf_body_store_outputs_flat(body, flat);
}

LLVMValueRef nf_gpu_kernel_function(const nf_target *t, LLVMModuleRef m, int index, const nf_slots *s,
                                    nf_error *err)
{
    return nf_gpu_kernel_function_maps(t, m, index, s, 0, err);
}

LLVMValueRef nf_gpu_kernel_function_maps(const nf_target *t, LLVMModuleRef m, int index, const nf_slots *s, int n_maps,
                                         nf_error *err)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMTypeRef gptr = LLVMPointerTypeInContext(c, ADDRSPACE_GLOBAL), i64 = LLVMInt64TypeInContext(c);
    LLVMTypeRef *params = malloc((size_t)(s->n + 2 + n_maps) * sizeof *params);
    if (!params) {
        nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory in codegen");
        return NULL;
    }
    for (int i = 0; i < s->n; i++)
        params[i] = gptr;
    params[s->n] = i64;
    params[s->n + 1] = gptr;
    for (int i = 0; i < n_maps; i++)
        params[s->n + 2 + i] = LLVMPointerTypeInContext(c, 0);
    char name[32];
    snprintf(name, sizeof name, "nf_k%d", index);
    LLVMValueRef fn =
        LLVMAddFunction(m, name, LLVMFunctionType(LLVMVoidTypeInContext(c), params, (unsigned)(s->n + 2 + n_maps), 0));
    free(params);
    mark_kernel(t, fn);
    /* TMA descriptors: 128 bytes by value, read in place from the parameter
     * space (a grid constant: never copied to local memory) */
    for (int i = 0; i < n_maps; i++) {
        unsigned at = (unsigned)(s->n + 3 + i);
        LLVMTypeRef map = LLVMArrayType2(LLVMInt8TypeInContext(c), 128);
        LLVMAddAttributeAtIndex(fn, at, LLVMCreateTypeAttribute(c, LLVMGetEnumAttributeKindForName("byval", 5), map));
        LLVMAddAttributeAtIndex(fn, at, LLVMCreateEnumAttribute(c, LLVMGetEnumAttributeKindForName("align", 5), 64));
        LLVMAddAttributeAtIndex(fn, at, LLVMCreateStringAttribute(c, "nvvm.grid_constant", 18, "", 0));
    }
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7), align = LLVMGetEnumAttributeKindForName("align", 5);
    for (int i = 0; i < s->n; i++) {
        if (!s->n_in_place) /* an in-place kernel's input and output share memory */
            LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, LLVMCreateEnumAttribute(c, noalias, 0));
        if (s->aligned16) /* lets LLVM merge neighbouring elements into 16-byte loads and stores */
            LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, LLVMCreateEnumAttribute(c, align, 16));
    }
    return fn;
}

static void launch_shape(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, nf_launch *l)
{
    if (t->kind == NF_TARGET_NVPTX && nf_nvptx_gemv_applies(k, s)) {
        nf_nvptx_gemv_launch(k, s, l);
        return;
    }
    if (t->kind == NF_TARGET_NVPTX && nf_nvptx_gemm_applies(k, s)) {
        nf_nvptx_gemm_launch(t, k, s, s->multiprocessors ? s->multiprocessors : 132, l);
        l->n = 1;
        return;
    }
    if (t->kind == NF_TARGET_AMDGPU && nf_amdgpu_gemm_applies(t, k, s)) {
        nf_amdgpu_gemm_launch(t, k, s, l);
        return;
    }
    l->n = nf_gpu_work_items(k, s);
    l->grid[0] = (unsigned)((l->n + NF_GPU_BLOCK - 1) / NF_GPU_BLOCK);
    l->grid[1] = l->grid[2] = 1;
    l->block[0] = NF_GPU_BLOCK;
    l->block[1] = l->block[2] = 1;
}

void nf_gpu_launch_shape(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, nf_launch *l)
{
    memset(l, 0, sizeof *l);
    launch_shape(t, k, s, l);
    l->programmatic = nf_nvptx_dependent_launch(t);
}

nf_body *nf_gpu_kernel_begin(LLVMModuleRef m, LLVMValueRef fn, const nf_plan *p, const nf_fused_kernel *k,
                             const nf_slots *s, LLVMBuilderRef *b, nf_error *err)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    *b = LLVMCreateBuilderInContext(c);
    LLVMPositionBuilderAtEnd(*b, LLVMAppendBasicBlockInContext(c, fn, "entry"));
    nf_body *body = nf_body_new_params(m, *b, p, k, s, fn);
    if (!body) {
        LLVMDisposeBuilder(*b);
        *b = NULL;
        nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory in codegen");
    }
    return body;
}

nf_status nf_gpu_kernel_end(nf_body *body, LLVMBuilderRef b, nf_error *err)
{
    LLVMBuildRetVoid(b);
    nf_status st = nf_body_failed(body, err) ? NF_ERR_COMPILE : NF_OK;
    nf_body_free(body);
    LLVMDisposeBuilder(b);
    return st;
}

nf_status nf_gpu_emit_kernel(const nf_target *t, LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s,
                             nf_error *err)
{
    const nf_fused_kernel *k = &p->kernels[index];
    if (t->kind == NF_TARGET_NVPTX && nf_nvptx_gemv_applies(k, s))
        return nf_nvptx_emit_gemv(t, m, p, index, s, err);
    if (t->kind == NF_TARGET_NVPTX && nf_nvptx_gemm_applies(k, s))
        return nf_nvptx_emit_gemm(t, m, p, index, s, s->multiprocessors ? s->multiprocessors : 132, err);
    if (t->kind == NF_TARGET_AMDGPU && nf_amdgpu_gemm_applies(t, k, s))
        return nf_amdgpu_emit_gemm(t, m, p, index, s, err);
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMValueRef fn = nf_gpu_kernel_function(t, m, index, s, err);
    if (!fn)
        return err ? err->status : NF_ERR_NOMEM;
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c, fn, "entry");
    LLVMBasicBlockRef work = LLVMAppendBasicBlockInContext(c, fn, "work");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(c, fn, "exit");
    LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef i = global_thread_index(t, b, m);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, i, LLVMGetParam(fn, (unsigned)s->n), ""), work, exit);
    LLVMPositionBuilderAtEnd(b, work);
    nf_body *body = nf_body_new_params(m, b, p, k, s, fn);
    nf_status st = NF_OK;
    if (!body) {
        st = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory in codegen");
    } else {
        if (k->kind == NF_KERNEL_GEMM)
            emit_gemm_thread(b, m, fn, body, k, s, i);
        else
            emit_elementwise_thread(b, c, body, k, s, i);
        LLVMBuildBr(b, exit);
        if (nf_body_failed(body, err))
            st = NF_ERR_COMPILE;
    }
    LLVMPositionBuilderAtEnd(b, exit);
    LLVMBuildRetVoid(b);
    nf_body_free(body);
    LLVMDisposeBuilder(b);
    return st;
}

int64_t nf_gpu_work_items(const nf_fused_kernel *k, const nf_slots *s)
{
    if (k->kind == NF_KERNEL_GEMM) {
        int64_t m, n, kk;
        nf_gemm_sizes(k, s, &m, &n, &kk);
        return m * n;
    }
    if (nf_slots_group(s, k) >= 0 && !nf_slots_kernel_idle(s, k))
        return nf_group_work_items(k, s, nf_group_width(k, s));
    return nf_kernel_rows(k, s) / nf_gpu_vector_width(k, s);
}
