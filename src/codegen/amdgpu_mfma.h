/* The MFMA instructions of the AMDGPU GEMM (amdgpu_gemm.c) and every index
 * map of that kernel: which element of A, B and the result a lane's
 * register item holds, where a wave's tile lies. The maps are written once
 * over a small index algebra that evaluates either on the host (numbers) or
 * as LLVM IR (i64 values): the generator builds its addresses from these
 * functions, and tests/test_mfma_layout.c runs the same functions on the
 * host against a model of the ISA's fragment layouts and a plain GEMM.
 * Internal header of src/codegen/. */
#ifndef NF_AMDGPU_MFMA_H
#define NF_AMDGPU_MFMA_H

#include "codegen/codegen.h"

/* ---- the index algebra ---------------------------------------------------- */

/* b == NULL: host numbers; otherwise IR built at b's position. */
typedef struct nf_ix_env {
    LLVMBuilderRef b;
    LLVMTypeRef i64;
} nf_ix_env;

/* An index: .c on the host, .v (i64) in IR. Always non-negative. */
typedef struct nf_ix {
    int64_t c;
    LLVMValueRef v;
} nf_ix;

nf_ix nf_ix_const(const nf_ix_env *e, int64_t c);
nf_ix nf_ix_add(const nf_ix_env *e, nf_ix a, nf_ix b);
nf_ix nf_ix_mul(const nf_ix_env *e, nf_ix a, int64_t c);
nf_ix nf_ix_div(const nf_ix_env *e, nf_ix a, int64_t c);
nf_ix nf_ix_rem(const nf_ix_env *e, nf_ix a, int64_t c);

/* ---- the instructions ------------------------------------------------------ */

enum { NF_MFMA_WAVE = 64, NF_MFMA_LANE_GROUP = 16 };

typedef struct nf_mfma {
    const char *intrinsic; /* e.g. llvm.amdgcn.mfma.f32.16x16x16bf16.1k */
    nf_dtype in;           /* A and B: bf16 or f16; D: f32 */
    int m, n, k;           /* 16 x 16 x (16 or 32) */
    int ab_items;          /* A (and B) elements a lane holds: k / 4 */
    int d_items;           /* result floats a lane holds: 4 */
    bool gfx950_only;
} nf_mfma;

/* The instruction for inputs `in` on t with K columns (K % 16 == 0):
 * 16x16x32 on gfx950 when K % 32 == 0, else 16x16x16; NULL when t has none. */
const nf_mfma *nf_mfma_pick(const nf_target *t, nf_dtype in, int64_t K);
/* Every instruction above, for the tests. */
const nf_mfma *nf_mfma_list(int *count);

/* Fragment layouts (one wave of 64 lanes; L = lane % 16, G = lane / 16):
 *   A (16 x k): item t of lane holds A[L][G * ab_items + t]
 *   B (k x 16): item t of lane holds B[G * ab_items + t][L]
 *   D (16 x 16): item t of lane holds D[4 G + t][L]
 * mn is A's row or B's column. */
void nf_mfma_ab_element(const nf_mfma *f, const nf_ix_env *e, nf_ix lane, int item, nf_ix *mn, nf_ix *k);
void nf_mfma_d_element(const nf_mfma *f, const nf_ix_env *e, nf_ix lane, int item, nf_ix *row, nf_ix *col);

/* ---- the kernel's tiling ----------------------------------------------------- */

enum { NF_MFMA_WAVES = 4 }; /* a workgroup of 256 threads (NF_GPU_BLOCK) */

typedef struct nf_mfma_tiling {
    int64_t M, N, K;
    const nf_mfma *op;
    int wm, wn;               /* waves of a workgroup along M and along N */
    int tiles;                /* 16-column accumulator tiles per wave */
    int64_t mblocks, nblocks; /* workgroups along M and along N */
} nf_mfma_tiling;

/* A wave owns 16 rows and 16 * tiles columns; the workgroup's waves cover
 * 16 wm rows, 16 tiles wn columns. Fewer tiles per wave while the grid has
 * fewer workgroups than compute units (cus). */
nf_mfma_tiling nf_mfma_tile(const nf_mfma *op, int64_t M, int64_t N, int64_t K, int cus);
/* The first row and column of wave `wave` of workgroup (bx, by): bx < mblocks
 * along M, by < nblocks along N. */
void nf_mfma_wave_origin(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix bx, nf_ix by, nf_ix wave, nf_ix *m0,
                         nf_ix *n0);
/* The A element (row, column along K) that a lane's item takes in the k
 * step starting at column k0 (k0 a multiple of op->k). */
void nf_mfma_a_source(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix m0, nf_ix k0, nf_ix lane, int item,
                      nf_ix *row, nf_ix *col);
/* The B element (n, column along K) for accumulator tile `tile`. */
void nf_mfma_b_source(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix n0, int tile, nf_ix k0, nf_ix lane, int item,
                      nf_ix *n, nf_ix *col);
/* The result element (m, n) that item `item` of accumulator tile `tile` holds. */
void nf_mfma_d_target(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix m0, nf_ix n0, int tile, nf_ix lane, int item,
                      nf_ix *m, nf_ix *n);

#endif
