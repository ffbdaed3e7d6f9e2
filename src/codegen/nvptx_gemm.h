/* The tensor-core GEMM for NVIDIA: its plan (nvptx_gemm_plan.c, host-side
 * arithmetic only) and its code generator (nvptx_gemm.c). Internal header of
 * src/codegen/. */
#ifndef NF_NVPTX_GEMM_H
#define NF_NVPTX_GEMM_H

#include "codegen/codegen.h"

enum {
    NF_GEMM_MAX_WARPS = 16, /* a block is 8 or 16 warps */
    NF_GEMM_BN = 64,        /* columns of a block tile, at most */
    NF_GEMM_TMA_COLS = 64,  /* K columns of a TMA box: 128 bytes, the 128-byte swizzle's row */
    NF_GEMM_SHARED_TAIL_SPLITS = 64, /* the most splits a shared tail cuts a tile among */
};

/* One GEMM's tiling. A block owns BM = 16 * rt * wm rows and up to 64 columns
 * of the result, and a range of K that it streams through shared memory in
 * stages of bk columns (cp.async, `stages` deep). Its 8 or 16 warps form a wm x wk
 * grid: warp (i, j) owns rows 16 rt i .. 16 rt (i + 1) and the k16 steps j, j + wk, ... of each
 * stage. K is split over `splits` blocks (grid z) when M alone cannot fill
 * the GPU. */
typedef struct nf_gemm_plan {
    int64_t M, N, K;
    int warps;      /* of a block: 8, or 16 to hide more latency */
    int wm, wk;     /* warps = wm * wk */
    int rt;         /* m16 row tiles per warp: 1, or 2 to reuse each W fragment twice */
    int bk;         /* K columns per stage: 64, or 128 when wk = 8 (every warp a k16 step) */
    int stages;     /* stages in flight */
    int bn_rows;    /* weight rows per stage, the block tile's columns: 16, 32, or N rounded up to 16 up to 64 */
    int64_t mblocks, nblocks, splits;
    int64_t kstages;      /* ceil(K / bk): stages over the whole K */
    bool split_b;         /* f32 weights split into three bf16 terms */
    bool presplit_b;      /* split_b with TMA: the terms arrive made ([3N, K] bf16), no block splits */
    bool tma;             /* sm_90: A and W tiles copied by TMA (whole boxes), completion on mbarriers */
    bool a_evict_first;   /* TMA: A would fill 2/3 of L2, its tiles are marked evict-first there */
    bool arch_specific;   /* the target is sm_90a (an exact CC 9.0 device): wgmma is available */
    bool wgmma;           /* warpgroup MMA from shared memory (8 warps, wm = 8) instead of mma.sync */
    int64_t a_bytes;      /* bytes of one stage's A tile */
    int64_t stage_bytes;  /* A + B of one stage */
    int64_t conv_bytes;   /* split_b: the three bf16 terms of one stage's B */
    int64_t smem_bytes;   /* dynamic shared memory of a block */
    /* split-K: every block of a tile sums one piece of it once all have
     * arrived (the grid fits on the GPU at once), not the last block all of
     * it (nvptx_gemm_tail.c); a block waits for the others at most
     * tail_wait_us before it leaves its piece to the last block */
    bool shared_tail;
    int tail_wait_us;
} nf_gemm_plan;

/* The plan for this signature on a GPU with `sms` multiprocessors for
 * target t (sm_80, sm_90, sm_90a). The environment variable
 * NSAFUSE_GEMM_PLAN="warps=8,wm=W,rt=R,splits=S,bn=C,stages=N,tma=B,evict_first=B,wgmma=B,
 * tail=B,tail_wait=US,gemv=0|CxR" (any subset)
 * overrides the choice, for tuning; kernel.c adds it to the disk cache key. */
nf_gemm_plan nf_gemm_choose(const nf_fused_kernel *k, const nf_slots *s, int sms, const nf_target *t);

/* The compute capability of an NVIDIA target: 80 for sm_80, 90 for sm_90 and sm_90a. */
int nf_nvptx_sm(const nf_target *t);
/* Whether the target has its architecture's own instructions (sm_90a): code
 * for it loads only on that exact architecture. */
bool nf_nvptx_arch_specific(const nf_target *t);

/* PTX's .maxntid and .minnctapersm for a kernel: ptxas budgets registers by them. */
void nf_nvptx_launch_bounds(LLVMValueRef fn, int threads, int min_blocks);

/* Rows of A a warp, and a block, computes. */
static inline int nf_gemm_warp_rows(const nf_gemm_plan *p) { return 16 * p->rt; }
static inline int64_t nf_gemm_block_rows(const nf_gemm_plan *p) { return 16 * (int64_t)p->rt * p->wm; }

static inline int nf_gemm_threads(const nf_gemm_plan *p) { return 32 * p->warps; }

/* fp32 weights on wgmma with one 64-row tile per warpgroup: stage it + 1's
 * weights are split, into a second buffer, while stage it's group runs.
 * (With two tiles the second buffer costs a stage in flight, which lost:
 * H100, T = 8192 59.3 us against 57.5, 16384 110.5 / 105.2.) */
static inline bool nf_gemm_split_ahead(const nf_gemm_plan *p) { return p->wgmma && p->split_b && !p->presplit_b && p->rt == 1; }

/* Bytes of one weight in a stage buffer: bf16, f32 to split, or three bf16 terms. */
static inline int nf_gemm_b_bytes(const nf_gemm_plan *p) { return !p->split_b ? 2 : p->presplit_b ? 6 : 4; }

/* Whether a block has its SM to itself (the plan gives it up to 200 KB of
 * shared memory, the kernel asks for one block per SM): 512 threads, or fp32
 * weights with two row tiles a warp (the flush's second set of
 * accumulators) or on wgmma (T = 2048, 4096: 4 stages 22.1 / 34.5 us, the 2
 * of 100 KB 23.8 / 37.6). */
static inline bool nf_gemm_alone(const nf_gemm_plan *p) { return p->warps == 16 || (p->split_b && (p->rt == 2 || p->wgmma)); }

/* The decode-size GEMM (nvptx_gemv.c): a block owns `cols` output columns x
 * `rows` rows over all of K. It takes M <= 8, and M <= NF_GEMV_MAX_M where
 * its grid is one wave on the GPU; up to NF_GEMV_FORCED_MAX_M where
 * NSAFUSE_GEMM_PLAN names its tile. */
enum { NF_GEMV_MAX_M = 32, NF_GEMV_FORCED_MAX_M = 64 };
/* A tile: cols and rows powers of two up to NF_GEMV_MAX_SIDE, at most
 * NF_GEMV_MAX_OUTPUTS outputs (a thread's accumulators). */
enum { NF_GEMV_MAX_SIDE = 8, NF_GEMV_MAX_OUTPUTS = 16 };
typedef struct nf_gemv_tile {
    int cols, rows;
} nf_gemv_tile;
static inline bool nf_gemv_tile_valid(nf_gemv_tile t)
{
    return t.cols >= 1 && t.cols <= NF_GEMV_MAX_SIDE && !(t.cols & (t.cols - 1)) && t.rows >= 1 &&
           t.rows <= NF_GEMV_MAX_SIDE && !(t.rows & (t.rows - 1)) && t.cols * t.rows <= NF_GEMV_MAX_OUTPUTS;
}
/* The tile for an M x N x K GEMV on `sms` multiprocessors, x and w of these element sizes. */
nf_gemv_tile nf_gemv_choose(int64_t M, int64_t N, int64_t K, size_t x_bytes, size_t w_bytes, int sms);

/* What NSAFUSE_GEMM_PLAN says of the GEMV: gemv=0 (use = 0: never, small M
 * goes to the tensor cores), gemv=CxR (use = 1: this tile, for M up to
 * NF_GEMV_FORCED_MAX_M), or nothing (use = -1). */
typedef struct nf_gemv_override {
    int use;
    nf_gemv_tile tile;
} nf_gemv_override;
nf_gemv_override nf_gemm_override_gemv(void);

/* Whether the grid needs the workspace and the in-block reduction. */
static inline bool nf_gemm_direct(const nf_gemm_plan *p) { return p->wk == 1 && p->splits == 1; }

/* Elements of one block's tile. */
static inline int64_t nf_gemm_tile_elems(const nf_gemm_plan *p) { return nf_gemm_block_rows(p) * p->bn_rows; }

/* The split-K workspace: the partial tiles, [split][tile][element] floats,
 * then one counter per tile (u32; u64 with a shared tail, followed by
 * one u64 claim per piece of each tile). Zeroed once by the runtime. */
static inline size_t nf_gemm_scratch_bytes(const nf_gemm_plan *p)
{
    if (p->splits == 1)
        return 0;
    int64_t tiles = p->mblocks * p->nblocks;
    size_t partials = (size_t)(p->splits * tiles * nf_gemm_tile_elems(p)) * 4;
    return partials + (p->shared_tail ? (size_t)(tiles * (1 + p->splits)) * 8 : (size_t)tiles * 4);
}

#endif
