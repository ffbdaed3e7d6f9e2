/* Code generation: a fused kernel's LLVM IR. The per-element body (body.c,
 * convert.c) is shared by every target; a target file (host.c, nvptx.c,
 * amdgpu.c) supplies the loops or thread indexing and the function shape.
 * Internal header of src/codegen/. */
#ifndef NF_CODEGEN_H
#define NF_CODEGEN_H

#include "fuse/fuse.h"

#include <llvm-c/Core.h>

/* ---- targets: one table row each ---------------------------------------- */

typedef enum nf_target_kind { NF_TARGET_HOST, NF_TARGET_NVPTX, NF_TARGET_AMDGPU } nf_target_kind;

typedef struct nf_target {
    const char *name;   /* "host", "sm_90", "gfx942", ... */
    nf_target_kind kind;
    const char *triple; /* NULL: the host's */
    const char *cpu;    /* sm_90, gfx942; NULL: the host's */
    const char *features;
    int warp_size;
    int shared_bytes;   /* per block, usable without opting in */
} nf_target;

const nf_target *nf_target_find(const char *name); /* NULL: unknown */
/* "host, sm_80, sm_90, ..." for messages. */
const char *nf_target_names(void);

/* ---- buffers: the memory a plan reads and writes, for one signature ----- */

/* Slots, in order: the graph's params, its outputs, then temporaries. A
 * value is read from its first slot and written to every slot holding it. */
typedef struct nf_slots {
    int n, n_params, n_outputs;
    const nf_value **value; /* by slot */
    nf_layout *layout;      /* by slot: concrete shape, strides, offset (elements) */
    int *first_slot;        /* by value id: -1 when the value is not in memory */
    const int64_t *sym_sizes; /* by symbol id */
    bool aligned16;           /* every buffer starts at a multiple of 16 bytes */
    int multiprocessors;      /* of the GPU the code is for (0: unknown) */
    int64_t l2_bytes;         /* its L2 cache (0: unknown) */
    /* By parameter slot: the runtime passes, besides the f32 weight itself,
     * its three bf16 terms as a [3N, K] matrix (the caller declared it
     * constant: nf_compile_options.constant_inputs), which a GEMM on TMA
     * reads instead of splitting the weight in every block. */
    unsigned split_terms;
    /* In-place writes (docs/ROPE.md; all NULL/0 when the call has none): by
     * slot, whether an output slot already holds its value, so nothing is
     * stored there; the kernels that store over memory they read (no
     * noalias then) and their nf_group_kind. */
    const bool *skip;
    const nf_fused_kernel *const *in_place;
    const signed char *in_place_group;
    int n_in_place;
} nf_slots;

/* The layout of the slot a value is read from (it must be in memory). */
static inline const nf_layout *nf_slots_layout(const nf_slots *s, const nf_value *v)
{
    return &s->layout[s->first_slot[v->id]];
}

/* A value's concrete shape under the signature's symbol sizes. */
static inline void nf_slots_shape(const nf_slots *s, const nf_value *v, int64_t *shape)
{
    nf_concrete_shape(&v->shape, s->sym_sizes, shape);
}

/* ---- the shared per-element body ---------------------------------------- */

typedef struct nf_body nf_body;

/* The register type a dtype computes in (PyTorch's opmath): float for the
 * f32 family, double for f64, i64 for integers and bool. */
LLVMTypeRef nf_compute_type(LLVMContextRef c, nf_dtype t);
/* The type a dtype is stored as. */
LLVMTypeRef nf_storage_type(LLVMContextRef c, nf_dtype t);

/* Converts a value held in from's compute type into to's compute type,
 * rounded to `to` exactly as a PyTorch cast stores it. */
LLVMValueRef nf_emit_convert(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype from, nf_dtype to);
/* A call of an overloaded LLVM intrinsic such as "llvm.fabs". */
LLVMValueRef nf_emit_intrinsic(LLVMBuilderRef b, LLVMModuleRef m, const char *name, LLVMTypeRef *types, int ntypes,
                               LLVMValueRef *args, int nargs);
/* Inline assembly with side effects (at most 8 operands), for instructions
 * LLVM has no intrinsic for in every version (TMA, mbarriers, clusters);
 * constraints in LLVM's syntax, "~{memory}" to order it with memory. */
LLVMValueRef nf_emit_asm(LLVMBuilderRef b, LLVMTypeRef ret, const char *text, const char *constraints, LLVMValueRef *args,
                         int nargs);
/* Rounds a compute-type value to its dtype (bf16/f16/f8 precision, int wrap). */
LLVMValueRef nf_emit_round(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype t);
/* Storage <-> compute type (stored bits are already rounded). */
LLVMValueRef nf_emit_from_storage(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef bits, nf_dtype t);
LLVMValueRef nf_emit_to_storage(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype t);

/* if (cond) { ... }: opens the then-block of fn and leaves the builder in
 * it; returns the join block, which nf_emit_if_end closes and enters. */
LLVMBasicBlockRef nf_emit_if_begin(LLVMBuilderRef b, LLVMValueRef fn, LLVMValueRef cond);
void nf_emit_if_end(LLVMBuilderRef b, LLVMBasicBlockRef join); /* control_flow.c */

/* pointers: one per slot, LLVM values of the kernel (NULL: unused slot) */
nf_body *nf_body_new(LLVMModuleRef m, LLVMBuilderRef b, const nf_plan *p, const nf_fused_kernel *k,
                     const nf_slots *s, LLVMValueRef *slot_ptrs);
/* The same for a kernel function whose first parameters are the slots'
 * pointers (nf_gpu_kernel_function); the body keeps the array. */
nf_body *nf_body_new_params(LLVMModuleRef m, LLVMBuilderRef b, const nf_plan *p, const nf_fused_kernel *k,
                            const nf_slots *s, LLVMValueRef fn);
void nf_body_free(nf_body *body);
/* Pointer to v's first element in its slot (elements of type elem). */
LLVMValueRef nf_body_base(nf_body *body, const nf_value *v, LLVMTypeRef elem);
/* The GEMM accumulator stands for `gemm` at the current element. */
void nf_body_set_accumulator(nf_body *body, const nf_value *gemm, LLVMValueRef acc);
/* Forgets values computed at earlier indices (call when the index changes). */
void nf_body_reset(nf_body *body);
/* v at multi-index idx (v's rank, i64 values), in v's compute type. */
LLVMValueRef nf_body_value(nf_body *body, const nf_value *v, LLVMValueRef *idx);
/* Computes output v at idx (v's rank) and stores it to every slot holding it. */
void nf_body_store_output(nf_body *body, const nf_value *v, LLVMValueRef *idx);
/* Stores x, output v's value at idx, to every slot holding v. */
void nf_body_store_value(nf_body *body, const nf_value *v, LLVMValueRef *idx, LLVMValueRef x);
/* idx[0..rank) of a row-major flat index (non-negative) over shape. */
void nf_body_unflatten(nf_body *body, LLVMValueRef flat, int rank, const int64_t *shape, LLVMValueRef *idx);
/* Stores every output of the kernel at flat element `flat` of its
 * iteration space (outputs have its element count, up to size-1 dims). */
void nf_body_store_outputs_flat(nf_body *body, LLVMValueRef flat);
/* Element address in slot s at idx (rank of the slot's layout). */
LLVMValueRef nf_body_address(nf_body *body, int slot, LLVMValueRef *idx);
bool nf_body_failed(const nf_body *body, nf_error *err);
/* Records why code generation failed (the first reason wins). */
void nf_body_fail(nf_body *body, const char *why);
LLVMBuilderRef nf_body_builder(const nf_body *body);

/* ---- in-place kernels (group.c) ----------------------------------------- */

/* The nf_group_kind of a kernel that stores over memory it reads; -1 for others. */
int nf_slots_group(const nf_slots *s, const nf_fused_kernel *k);
/* An elementwise kernel all of whose outputs are already in place: no launch. */
bool nf_slots_kernel_idle(const nf_slots *s, const nf_fused_kernel *k);
/* Groups one thread of an in-place kernel handles (consecutive along the
 * last dimension, one for the host), and the work items at that width. */
int nf_group_width(const nf_fused_kernel *k, const nf_slots *s);
int64_t nf_group_work_items(const nf_fused_kernel *k, const nf_slots *s, int width);
/* Work item `item` of an in-place kernel: every output at each element of
 * `width` groups computed (all loads), then all of them stored. */
void nf_group_store(nf_body *body, const nf_fused_kernel *k, const nf_slots *s, LLVMValueRef item, int width);

/* ---- modules ------------------------------------------------------------ */

/* One LLVM module holding kernel functions nf_k0, nf_k1, ... for the plan's
 * kernels with this signature. Kernels without work are still emitted. */
nf_status nf_codegen_module(const nf_target *t, const nf_plan *p, const nf_slots *s, LLVMContextRef ctx,
                            LLVMModuleRef *out, nf_error *err);

/* Target hooks: host.c (loops over a range), gpu.c (a thread per element). */
nf_status nf_host_emit_kernel(LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s, nf_error *err);
enum { NF_GPU_BLOCK = 256 };
nf_status nf_gpu_emit_kernel(const nf_target *t, LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s,
                             nf_error *err);
/* How a GPU kernel is launched. Its parameters: one global pointer per
 * slot, the work count n (i64), then a scratch pointer (scratch_bytes,
 * zeroed once when allocated; NULL when 0). */
/* An operand a kernel copies with TMA (the sm_90 GEMM): slot `slot` seen as
 * a row-major matrix from element `offset` on. Its descriptor holds the
 * address, so the runtime encodes it at every call and passes it by value
 * after the scratch pointer. */
typedef struct nf_tma_operand {
    int slot;
    nf_dtype dtype;                         /* bf16, f16 or f32 */
    int64_t offset, rows, cols, row_stride; /* elements */
    unsigned box_rows, box_cols;
    bool terms;                             /* the slot's bf16 terms (nf_slots.split_terms), not its memory */
} nf_tma_operand;

typedef struct nf_launch {
    unsigned grid[3], block[3];
    int64_t n;
    size_t scratch_bytes;
    unsigned shared_bytes; /* dynamic shared memory of a block */
    int n_tma;             /* 0, or 2: A and W of a GEMM */
    nf_tma_operand tma[2];
    bool programmatic;     /* the code waits for the previous grid: may launch before it ends */
} nf_launch;
void nf_gpu_launch_shape(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, nf_launch *l);
/* The kernel function nf_k<index> with that parameter list, no body yet. */
LLVMValueRef nf_gpu_kernel_function(const nf_target *t, LLVMModuleRef m, int index, const nf_slots *s,
                                    nf_error *err);
/* For the matrix kernels' generators: a builder at a new entry block of fn
 * and the fused body over fn's slot parameters (NULL, err set, nothing to
 * free when out of memory); nf_gpu_kernel_end returns from the kernel and
 * frees both, with the body's status. */
nf_body *nf_gpu_kernel_begin(LLVMModuleRef m, LLVMValueRef fn, const nf_plan *p, const nf_fused_kernel *k,
                             const nf_slots *s, LLVMBuilderRef *b, nf_error *err);
nf_status nf_gpu_kernel_end(nf_body *body, LLVMBuilderRef b, nf_error *err);
/* The same with n_maps TMA descriptors (nf_launch.tma) after the scratch pointer. */
LLVMValueRef nf_gpu_kernel_function_maps(const nf_target *t, LLVMModuleRef m, int index, const nf_slots *s, int n_maps,
                                         nf_error *err);
/* Programmatic dependent launch (nvptx_dependent_launch.c): whether the
 * target's kernels use it, and the wait at the entry of every kernel of m. */
bool nf_nvptx_dependent_launch(const nf_target *t);
void nf_nvptx_wait_for_prior_grid(LLVMModuleRef m);
/* Whether the target's GEMMs read f32 weights' terms when given them
 * (nf_slots.split_terms): NVIDIA with TMA, sm_90 and later. */
bool nf_target_reads_split_terms(const nf_target *t);
/* The tensor-core GEMM (nvptx_gemm.c). */
bool nf_nvptx_gemm_applies(const nf_fused_kernel *k, const nf_slots *s);
void nf_nvptx_gemm_launch(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, int sms, nf_launch *l);
nf_status nf_nvptx_emit_gemm(const nf_target *t, LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s,
                             int sms, nf_error *err);
/* The decode-size GEMM, M <= 8 to 32 (nvptx_gemv.c). */
bool nf_nvptx_gemv_applies(const nf_fused_kernel *k, const nf_slots *s);
void nf_nvptx_gemv_launch(const nf_fused_kernel *k, const nf_slots *s, nf_launch *l);
nf_status nf_nvptx_emit_gemv(const nf_target *t, LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s,
                             nf_error *err);
/* What the matrix-core GEMMs share (gemm_common.c). The fp32-weight form:
 * A is bf16 widened to f32 by a cast, B is f32, split into three bf16 terms
 * whose products with A are exact in f32 (docs/GEMM.md has the proof). */
bool nf_gemm_splits_b(const nf_fused_kernel *k);
/* ... and the runtime passes that weight's terms (nf_slots.split_terms). */
bool nf_gemm_b_terms_given(const nf_fused_kernel *k, const nf_slots *s);
/* A GEMM kernel whose operands a matrix core takes: bf16 x bf16 or f16 x f16
 * with no views or casts, or the fp32-weight form; B as [N, K] (linear, or
 * matmul with trans_b). Needs no signature. */
bool nf_gemm_matrix_form(const nf_fused_kernel *k);
/* ... and read straight from memory under this signature (16-byte aligned
 * buffers): K contiguous, K % 16 == 0, M and N >= 1; offsets and row
 * strides multiples of 4 elements; A's leading dims flattening to one row
 * stride. */
bool nf_gemm_matrix_operands(const nf_fused_kernel *k, const nf_slots *s);
/* The MFMA GEMM for AMD (amdgpu_gemm.c; its index maps in amdgpu_mfma.h). */
bool nf_amdgpu_gemm_applies(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s);
void nf_amdgpu_gemm_launch(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, nf_launch *l);
nf_status nf_amdgpu_emit_gemm(const nf_target *t, LLVMModuleRef m, const nf_plan *p, int index, const nf_slots *s,
                              nf_error *err);
/* Threads a GPU kernel needs: elements / vector width, or M * N for a GEMM. */
int64_t nf_gpu_work_items(const nf_fused_kernel *k, const nf_slots *s);
/* Bytes of the narrowest dtype a kernel reads or writes (at most 8). */
size_t nf_kernel_smallest_element(const nf_fused_kernel *k);
/* Consecutive elements one thread of an elementwise kernel handles. */
int nf_gpu_vector_width(const nf_fused_kernel *k, const nf_slots *s);

/* The work a kernel splits over threads or blocks: elements (elementwise)
 * or rows of M (GEMM). */
int64_t nf_kernel_rows(const nf_fused_kernel *k, const nf_slots *s);
/* GEMM sizes: M (all leading dims of the result), N, K. */
void nf_gemm_sizes(const nf_fused_kernel *k, const nf_slots *s, int64_t *m, int64_t *n, int64_t *kk);

#endif
