/* The tensor-core GEMM generator's state and small IR helpers, shared by
 * nvptx_gemm.c (the pipeline, the mma, the epilogues) and nvptx_gemm_copy.c
 * (how a stage's tiles reach shared memory). Internal header of src/codegen/. */
#ifndef NF_NVPTX_GEMM_GEN_H
#define NF_NVPTX_GEMM_GEN_H

#include "codegen/nvptx_gemm.h"

enum { ADDR_GLOBAL = 1, ADDR_SHARED = 3 };

typedef struct gen {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i8, i16, i32, i64, f32;
    nf_body *body;
    const nf_fused_kernel *k;
    nf_gemm_plan p;
    bool flush; /* sum each stage's mma steps into the total with IEEE adds */
    int ntiles; /* n8 tiles a warp computes */
    LLVMValueRef smem, tid, lane, warp, wmi, wki;
    LLVMValueRef a_base, b_base, m_block0, n0;
    LLVMValueRef a_map, b_map; /* TMA descriptors (generic addresses of kernel parameters) */
    int64_t a_row_stride, b_row_stride; /* elements */
    LLVMValueRef wide[96]; /* wgmma, fp32 weights: a group's three term sums (nvptx_gemm_wgmma.c) */
} gen;

typedef struct frag {
    LLVMValueRef acc[2][8][4]; /* [row tile][n8 tile][element] */
} frag;

/* for each accumulator register of one row tile */
#define FOR_ACC_TILE(g, j, i)                   \
    for (int j = 0; j < (g)->ntiles; j++)       \
        for (int i = 0; i < 4; i++)

/* for each accumulator register of the warp */
#define FOR_ACC(g, r, j, i)                     \
    for (int r = 0; r < (g)->p.rt; r++)         \
        FOR_ACC_TILE(g, j, i)

static inline LLVMValueRef c32(gen *g, int64_t x) { return LLVMConstInt(g->i32, (unsigned long long)x, 1); }
static inline LLVMValueRef c64(gen *g, int64_t x) { return LLVMConstInt(g->i64, (unsigned long long)x, 1); }
static inline LLVMValueRef add(gen *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(g->b, a, b, ""); }
static inline LLVMValueRef mul(gen *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(g->b, a, b, ""); }
static inline LLVMValueRef lt(gen *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(g->b, LLVMIntSLT, a, b, ""); }

static inline LLVMValueRef call(gen *g, const char *name, LLVMValueRef *args, int n)
{
    return nf_emit_intrinsic(g->b, g->m, name, NULL, 0, args, n);
}

static inline LLVMValueRef sreg(gen *g, const char *name) { return call(g, name, NULL, 0); }
static inline void barrier(gen *g) { call(g, "llvm.nvvm.barrier.cta.sync.aligned.all", (LLVMValueRef[]){c32(g, 0)}, 1); }

/* shared byte address: base + offset (i64) */
static inline LLVMValueRef shared_at(gen *g, LLVMValueRef base, LLVMValueRef offset)
{
    return LLVMBuildGEP2(g->b, g->i8, base, &offset, 1, "");
}

static inline LLVMValueRef f32_at(gen *g, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildGEP2(g->b, g->f32, base, &index, 1, "");
}

static inline unsigned gpu_scope(gen *g) { return LLVMGetSyncScopeID(g->c, "device", 6); }

static inline LLVMBasicBlockRef if_begin(gen *g, LLVMValueRef cond) { return nf_emit_if_begin(g->b, g->fn, cond); }
static inline void if_end(gen *g, LLVMBasicBlockRef join) { nf_emit_if_end(g->b, join); }

/* ---- a stage's tiles into shared memory (nvptx_gemm_copy.c) -------------- */

/* Byte offset of 16-byte chunk ch of row `row` in a stage's bf16 tile of
 * tile_rows rows, as the copies lay it out and ldmatrix reads it. */
LLVMValueRef nf_gemm_tile_at(gen *g, LLVMValueRef row, LLVMValueRef ch, int64_t tile_rows);
/* Issues the copies of stage `stage` (of the whole K) into buffer `buf`:
 * cp.async from every thread (then nf_gemm_commit), or TMA from thread 0. */
void nf_gemm_load_stage(gen *g, LLVMValueRef stage, LLVMValueRef buf);
void nf_gemm_commit(gen *g);
/* Waits until stage `it` has landed in this thread's view (cp.async: with
 * `pending` newer groups still in flight; TMA: the buffer's mbarrier). */
void nf_gemm_wait_stage(gen *g, LLVMValueRef it, int pending);
/* TMA: the stage buffers' mbarriers, initialized by thread 0 (then a barrier). */
void nf_gemm_init_barriers(gen *g);
/* fp32 weights: the stage's f32 tile at src as three bf16 term tiles at conv. */
void nf_gemm_convert_stage(gen *g, LLVMValueRef src, LLVMValueRef conv);

/* ---- the epilogue and the split-K tail ------------------------------------ */

/* Stores every output at element (m, n) of the GEMM when both are in range. */
void nf_gemm_epilogue_at(gen *g, LLVMValueRef m, LLVMValueRef n, LLVMValueRef acc);
/* After this block's partial tile reached the workspace (every thread's
 * stores issued): the tile's sum over its splits and the epilogue, exactly
 * once per element (nvptx_gemm_tail.c). */
void nf_gemm_split_tail(gen *g, LLVMValueRef tile_id, LLVMValueRef split, LLVMValueRef scratch);

/* ---- computing a stage on sm_90's warpgroup MMA (nvptx_gemm_wgmma.c) ---- */

/* Issues acc (+)= the stage's A tile times its W tile(s) at b_tile for this
 * warp's rows of the block, as one wgmma group; fresh: the stage's sum
 * alone (acc's values are ignored). acc may be read only after a wait. */
void nf_gemm_wgmma_issue(gen *g, frag *acc, LLVMValueRef a_tile, LLVMValueRef b_tile, bool fresh);
/* Waits until at most `pending` of this warpgroup's groups are in flight;
 * done (may be NULL) is a group's result that is complete then. */
void nf_gemm_wgmma_wait(gen *g, frag *done, int pending);

#endif
