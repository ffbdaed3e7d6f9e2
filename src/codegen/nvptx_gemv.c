/* The decode-size GEMM for NVIDIA: M <= NF_GEMV_MAX_M rows (tokens). A block
 * owns a tile of `cols` output columns x `rows` rows (nf_gemv_choose) over
 * all of K: its threads stream the tile's weights and rows of x with
 * 16-byte loads along K, every load of the block written out so that all
 * are in flight at once; the sums meet through warp shuffles and shared
 * memory in a fixed order (deterministic), and the first threads apply the
 * epilogue: one launch, no workspace, no grid-wide sync. x and W may be
 * bf16 or f16 (the same), W f32 with x widened from bf16 by a cast (the
 * fp32-weight form), or both f32: fp32 products, as an fp32 GEMM. */
#include "codegen/codegen.h"
#include "codegen/nvptx_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_LOADS = 320,   /* 16-byte loads a thread issues: the code is written out */
    BATCH_LOADS = 32, /* loads in flight together: 128 registers */
    ADDR_SHARED = 3,
};

typedef struct gemv {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i32, i64, f32;
    int64_t M, N, K;
    nf_dtype x_dtype, w_dtype; /* storage dtypes */
    nf_gemv_tile tile;
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

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Threads of a block: a multiple of 32 from 128 to 256 with the fewest
 * steps over K (8 elements a thread and step), and among those one whose
 * steps cover K exactly (no loads past K to mask). K = 7168: 224 threads,
 * 4 steps. */
static int gemv_threads(int64_t K)
{
    int64_t chunks = K / 8;
    int best = 256;
    for (int t = 224; t >= 128; t -= 32) {
        int64_t steps = ceil_div(chunks, t), best_steps = ceil_div(chunks, best);
        if (steps < best_steps || (steps == best_steps && chunks % t == 0 && chunks % best != 0))
            best = t;
    }
    return best;
}

static int64_t gemv_steps(int64_t K) { return ceil_div(K, 8 * (int64_t)gemv_threads(K)); }

/* 16-byte loads per thread and step: one per row of x and column of W, two where it is f32. */
static int loads_per_step(nf_gemv_tile t, size_t x_bytes, size_t w_bytes)
{
    return t.rows * (int)(x_bytes / 2) + t.cols * (int)(w_bytes / 2);
}

/* The tile with the least estimated time: the blocks an SM runs (the grid
 * over the SMs, rounded up) times each block's bytes at an SM's share of L2
 * bandwidth (~59 GB/s: H100, the GEMV at T = 1 and 8), plus its
 * multiply-adds and conversions from 16 bits at 128 lanes a clock. Tiles are
 * powers of two, at most 16 outputs (registers). Head gate (N 64, K 7168):
 * T = 1 one column x one row (64 blocks), 8: 2 x 2 (128), 16: 2 x 4. */
nf_gemv_tile nf_gemv_choose(int64_t M, int64_t N, int64_t K, size_t x_bytes, size_t w_bytes, int sms)
{
    nf_gemv_tile best = {1, 1};
    double best_us = -1;
    for (int cols = 1; cols <= NF_GEMV_MAX_SIDE; cols *= 2) {
        for (int rows = 1; rows <= NF_GEMV_MAX_SIDE; rows *= 2) {
            nf_gemv_tile t = {cols, rows};
            if (!nf_gemv_tile_valid(t) || N % cols || gemv_steps(K) * loads_per_step(t, x_bytes, w_bytes) > MAX_LOADS ||
                (rows > 1 && rows / 2 >= M))
                continue;
            int64_t blocks = N / cols * ceil_div(M, rows), per_sm = ceil_div(blocks, sms > 0 ? sms : 132);
            double bytes = (double)K * (double)(cols * w_bytes + rows * x_bytes);
            double ops = (double)K * (cols * rows + (x_bytes < 4 ? rows : 0) + (w_bytes < 4 ? cols : 0));
            double us = (double)per_sm * (bytes / 59e3 + ops / (128 * 1750.0));
            if (best_us < 0 || us < best_us) {
                best = t;
                best_us = us;
            }
        }
    }
    return best;
}

/* The tile for this kernel: NSAFUSE_GEMM_PLAN's gemv=CxR, or the chosen one. */
static nf_gemv_tile tile_for(const nf_fused_kernel *k, const nf_slots *s, int64_t M, int64_t N, int64_t K)
{
    nf_gemv_override o = nf_gemm_override_gemv();
    size_t xs = nf_dtype_size(x_source(k)->dtype), ws = nf_dtype_size(k->b.source->dtype);
    if (o.use == 1 && N % o.tile.cols == 0 && gemv_steps(K) * loads_per_step(o.tile, xs, ws) <= MAX_LOADS)
        return o.tile;
    return nf_gemv_choose(M, N, K, xs, ws, s->multiprocessors);
}

bool nf_nvptx_gemv_applies(const nf_fused_kernel *k, const nf_slots *s)
{
    if (k->kind != NF_KERNEL_GEMM || !s->aligned16 || k->gemm->op != NF_OP_LINEAR)
        return false;
    nf_gemv_override o = nf_gemm_override_gemv();
    if (o.use == 0)
        return false;
    const nf_value *x = x_source(k), *w = k->b.source;
    if (!x || w != k->gemm->args[1])
        return false;
    bool halves = (x->dtype == NF_BF16 || x->dtype == NF_F16) && w->dtype == x->dtype;
    bool f32w = x->dtype == NF_BF16 && w->dtype == NF_F32 && k->gemm->args[0] != x;
    bool f32 = x->dtype == NF_F32 && w->dtype == NF_F32; /* a plain fp32 GEMM */
    if (!halves && !f32w && !f32)
        return false;
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    if (M < 1 || M > (o.use == 1 ? NF_GEMV_FORCED_MAX_M : NF_GEMV_MAX_M) || K % 8 ||
        gemv_steps(K) * loads_per_step((nf_gemv_tile){1, 1}, nf_dtype_size(x->dtype), nf_dtype_size(w->dtype)) > MAX_LOADS)
        return false;
    /* past 8 rows, only where the grid is one wave: H100, head gate, us, GEMV
     * against the tensor cores' split-K: T = 17 2.83 / 3.42, 32 3.13 / 3.39
     * (fp32 weights 3.96 / 4.55), but 40 (160 blocks of 4 x 4) 4.54 / 3.63 */
    nf_gemv_tile tile = tile_for(k, s, M, N, K);
    if (M > 8 && o.use != 1 && N / tile.cols * ceil_div(M, tile.rows) > (s->multiprocessors ? s->multiprocessors : 132))
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
    nf_gemv_tile t = tile_for(k, s, M, N, K);
    memset(l, 0, sizeof *l);
    l->grid[0] = (unsigned)(N / t.cols);
    l->grid[1] = (unsigned)ceil_div(M, t.rows);
    l->grid[2] = 1;
    l->block[0] = (unsigned)gemv_threads(K);
    l->block[1] = l->block[2] = 1;
    l->n = 1;
}

static LLVMValueRef c32(gemv *g, int64_t x) { return LLVMConstInt(g->i32, (unsigned long long)x, 1); }
static LLVMValueRef c64(gemv *g, int64_t x) { return LLVMConstInt(g->i64, (unsigned long long)x, 1); }

static LLVMValueRef call(gemv *g, const char *name, LLVMValueRef *args, int n)
{
    return nf_emit_intrinsic(g->b, g->m, name, NULL, 0, args, n);
}

/* 8 consecutive elements at base + index (16-byte aligned): one 16-byte
 * load, two for f32. */
static void load8(gemv *g, LLVMValueRef base, nf_dtype dt, LLVMValueRef index, LLVMValueRef raw[2])
{
    LLVMTypeRef elem = dt == NF_F32 ? g->f32 : LLVMInt16TypeInContext(g->c);
    LLVMTypeRef vec = LLVMVectorType(elem, dt == NF_F32 ? 4 : 8);
    for (int h = 0; h < (dt == NF_F32 ? 2 : 1); h++) {
        LLVMValueRef at = LLVMBuildAdd(g->b, index, c64(g, 4 * h), "");
        raw[h] = LLVMBuildLoad2(g->b, vec, LLVMBuildGEP2(g->b, elem, base, &at, 1, ""), "");
        LLVMSetAlignment(raw[h], 16);
    }
}

/* load8's elements as f32 values; zeros where `valid` is false (a step
 * past K loaded index 0 instead). */
static void unpack8(gemv *g, LLVMValueRef raw[2], nf_dtype dt, LLVMValueRef valid, LLVMValueRef *out)
{
    for (int i = 0; i < 8; i++) {
        if (dt == NF_F32)
            out[i] = LLVMBuildExtractElement(g->b, raw[i / 4], c32(g, i % 4), "");
        else
            out[i] = nf_emit_from_storage(g->b, g->m, LLVMBuildExtractElement(g->b, raw[0], c32(g, i), ""), dt);
        if (valid) /* both factors zero: x * w adds +0, which leaves any sum as it is (never -0: it starts at +0) */
            out[i] = LLVMBuildSelect(g->b, valid, out[i], LLVMConstReal(g->f32, 0.0), "");
    }
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

static int log2i(int x)
{
    int l = 0;
    while ((1 << l) < x)
        l++;
    return l;
}

/* The warp's sums of its n (a power of two, <= 32) accumulators, by halving:
 * in the round of offset o, lanes with bit o set keep the upper half of
 * their values and send the lower, the others the reverse, and each adds
 * what its partner sent; once one value is left, plain butterflies. Then
 * lane l holds the warp's sum of accumulator l >> (5 - log2 n), n - 1 + 5
 * shuffles in all instead of 5 n. Returns that sum. */
static LLVMValueRef warp_reduce_scatter(gemv *g, LLVMValueRef *v, int n, LLVMValueRef lane)
{
    for (int off = 16; off >= 1; off /= 2) {
        if (n == 1) {
            LLVMValueRef args[4] = {c32(g, -1), v[0], c32(g, off), c32(g, 31)};
            v[0] = LLVMBuildFAdd(g->b, v[0], call(g, "llvm.nvvm.shfl.sync.bfly.f32", args, 4), "");
            continue;
        }
        int half = n / 2;
        LLVMValueRef upper = LLVMBuildICmp(g->b, LLVMIntNE, LLVMBuildAnd(g->b, lane, c32(g, off), ""), c32(g, 0), "");
        for (int i = 0; i < half; i++) {
            LLVMValueRef send = LLVMBuildSelect(g->b, upper, v[i], v[i + half], "");
            LLVMValueRef keep = LLVMBuildSelect(g->b, upper, v[i + half], v[i], "");
            LLVMValueRef args[4] = {c32(g, -1), send, c32(g, off), c32(g, 31)};
            v[i] = LLVMBuildFAdd(g->b, keep, call(g, "llvm.nvvm.shfl.sync.bfly.f32", args, 4), "");
        }
        n = half;
    }
    return v[0];
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
    g.tile = tile_for(k, s, g.M, g.N, g.K);
    int cols = g.tile.cols, rows = g.tile.rows, outs = cols * rows, threads = gemv_threads(g.K);
    int64_t steps = gemv_steps(g.K);
    char note[200]; /* the tiling, for readers of the PTX */
    snprintf(note, sizeof note, "// nf_k%d: gemv %lldx%lldx%lld, blocks %lld x %lld of %d columns x %d rows, %d threads x %lld steps\n",
             index, (long long)g.M, (long long)g.N, (long long)g.K, (long long)(g.N / cols), (long long)ceil_div(g.M, rows),
             cols, rows, threads, (long long)steps);
    LLVMAppendModuleInlineAsm(m, note, strlen(note));
    g.fn = nf_gpu_kernel_function(t, m, index, s, err);
    if (!g.fn)
        return err ? err->status : NF_ERR_NOMEM;
    /* one block an SM as far as ptxas knows: it may keep every load in
     * flight (it kept a step's at a time to spare registers) */
    nf_nvptx_launch_bounds(g.fn, threads, 1);
    nf_body *body = nf_gpu_kernel_begin(m, g.fn, pl, k, s, &g.b, err);
    if (!body)
        return NF_ERR_NOMEM;
    const nf_layout *lx = nf_slots_layout(s, x), *lw = nf_slots_layout(s, w);
    LLVMTypeRef xe = nf_storage_type(g.c, x->dtype), we = nf_storage_type(g.c, w->dtype);
    LLVMValueRef xb = nf_body_base(body, x, xe), wb = nf_body_base(body, w, we);
    int64_t x_row = lx->rank >= 2 ? lx->strides[lx->rank - 2] : 0;
    LLVMValueRef tid = LLVMBuildZExt(g.b, call(&g, "llvm.nvvm.read.ptx.sreg.tid.x", NULL, 0), g.i64, "");
    LLVMValueRef col0 = LLVMBuildMul(g.b, LLVMBuildZExt(g.b, call(&g, "llvm.nvvm.read.ptx.sreg.ctaid.x", NULL, 0), g.i64, ""), c64(&g, cols), "");
    LLVMValueRef row0 = LLVMBuildMul(g.b, LLVMBuildZExt(g.b, call(&g, "llvm.nvvm.read.ptx.sreg.ctaid.y", NULL, 0), g.i64, ""), c64(&g, rows), "");
    LLVMValueRef w_row[NF_GEMV_MAX_SIDE], x_row_at[NF_GEMV_MAX_SIDE];
    for (int j = 0; j < cols; j++) {
        LLVMValueRef at = LLVMBuildMul(g.b, LLVMBuildAdd(g.b, col0, c64(&g, j), ""), c64(&g, lw->strides[0]), "");
        w_row[j] = LLVMBuildGEP2(g.b, we, wb, &at, 1, "");
    }
    for (int q = 0; q < rows; q++) { /* rows past M read row M - 1 and are never stored */
        LLVMValueRef r = LLVMBuildAdd(g.b, row0, c64(&g, q), "");
        r = LLVMBuildSelect(g.b, LLVMBuildICmp(g.b, LLVMIntSLT, r, c64(&g, g.M), ""), r, c64(&g, g.M - 1), "");
        x_row_at[q] = LLVMBuildMul(g.b, r, c64(&g, x_row), "");
    }

    /* acc[q][j] = sum over k = 8 tid + 8 threads i of x[row0 + q, k..k+8] . w[col0 + j, k..k+8],
     * fused multiply-adds in k order (a bf16 x bf16 product is exact in f32, so
     * this is the sum of the products rounded once per add) */
    LLVMValueRef acc[NF_GEMV_MAX_OUTPUTS], zero = LLVMConstReal(g.f32, 0.0);
    for (int i = 0; i < outs; i++)
        acc[i] = zero;
    LLVMTypeRef fma_type[1] = {g.f32};
    LLVMValueRef k0 = LLVMBuildMul(g.b, tid, c64(&g, 8), "");
    /* every load of a batch of steps before its first multiply-add, so that
     * they are in flight together (emitted step by step, ptxas kept one
     * step's loads in flight: a round trip to L2 per step) */
    int per_step = loads_per_step(g.tile, nf_dtype_size(g.x_dtype), nf_dtype_size(g.w_dtype));
    int64_t batch = BATCH_LOADS / per_step > 0 ? BATCH_LOADS / per_step : 1;
    for (int64_t i0 = 0; i0 < steps; i0 += batch) {
        int64_t n = steps - i0 < batch ? steps - i0 : batch;
        LLVMValueRef raw[BATCH_LOADS][2], valid[BATCH_LOADS];
        for (int64_t i = 0; i < n; i++) {
            LLVMValueRef kk = LLVMBuildAdd(g.b, k0, c64(&g, (i0 + i) * 8 * threads), "");
            valid[i] = NULL;
            if ((i0 + i + 1) * 8 * threads > g.K) { /* the last step, where K is not whole steps */
                valid[i] = LLVMBuildICmp(g.b, LLVMIntSLT, kk, c64(&g, g.K), "");
                kk = LLVMBuildSelect(g.b, valid[i], kk, c64(&g, 0), "");
            }
            LLVMValueRef (*r)[2] = &raw[i * (cols + rows)];
            for (int j = 0; j < cols; j++)
                load8(&g, w_row[j], g.w_dtype, kk, r[j]);
            for (int q = 0; q < rows; q++)
                load8(&g, xb, g.x_dtype, LLVMBuildAdd(g.b, x_row_at[q], kk, ""), r[cols + q]);
        }
        for (int64_t i = 0; i < n; i++) {
            LLVMValueRef wv[NF_GEMV_MAX_SIDE][8], xv[NF_GEMV_MAX_SIDE][8];
            LLVMValueRef (*r)[2] = &raw[i * (cols + rows)];
            for (int j = 0; j < cols; j++)
                unpack8(&g, r[j], g.w_dtype, valid[i], wv[j]);
            for (int q = 0; q < rows; q++)
                unpack8(&g, r[cols + q], g.x_dtype, valid[i], xv[q]);
            for (int q = 0; q < rows; q++)
                for (int j = 0; j < cols; j++)
                    for (int e = 0; e < 8; e++) {
                        LLVMValueRef args[3] = {xv[q][e], wv[j][e], acc[q * cols + j]};
                        acc[q * cols + j] = nf_emit_intrinsic(g.b, g.m, "llvm.fma", fma_type, 1, args, 3);
                    }
        }
    }

    /* each warp's sums, then the warps' in order through shared memory */
    LLVMValueRef lane = LLVMBuildTrunc(g.b, LLVMBuildAnd(g.b, tid, c64(&g, 31), ""), g.i32, "");
    LLVMValueRef warp = LLVMBuildTrunc(g.b, LLVMBuildLShr(g.b, tid, c64(&g, 5), ""), g.i32, "");
    LLVMValueRef sm = shared_array(&g, "nf_gemv_partials", (unsigned)(threads / 32 * outs));
    int lg = log2i(outs);
    LLVMValueRef sum = warp_reduce_scatter(&g, acc, outs, lane);
    LLVMValueRef writer = LLVMBuildICmp(g.b, LLVMIntEQ, LLVMBuildAnd(g.b, lane, c32(&g, (32 >> lg) - 1), ""), c32(&g, 0), "");
    LLVMBasicBlockRef after = nf_emit_if_begin(g.b, g.fn, writer);
    LLVMValueRef at = LLVMBuildAdd(g.b, LLVMBuildMul(g.b, warp, c32(&g, outs), ""), LLVMBuildLShr(g.b, lane, c32(&g, 5 - lg), ""), "");
    LLVMBuildStore(g.b, sum, LLVMBuildGEP2(g.b, g.f32, sm, &at, 1, ""));
    nf_emit_if_end(g.b, after);
    call(&g, "llvm.nvvm.barrier.cta.sync.aligned.all", (LLVMValueRef[]){c32(&g, 0)}, 1);

    /* thread o < outs: output (row0 + o / cols, col0 + o % cols), its sum over the warps in order, then the epilogue */
    LLVMValueRef row = LLVMBuildAdd(g.b, row0, LLVMBuildUDiv(g.b, tid, c64(&g, cols), ""), "");
    LLVMValueRef col = LLVMBuildAdd(g.b, col0, LLVMBuildURem(g.b, tid, c64(&g, cols), ""), "");
    LLVMValueRef mine = LLVMBuildAnd(g.b, LLVMBuildICmp(g.b, LLVMIntULT, tid, c64(&g, outs), ""),
                                     LLVMBuildICmp(g.b, LLVMIntSLT, row, c64(&g, g.M), ""), "");
    after = nf_emit_if_begin(g.b, g.fn, mine);
    LLVMValueRef out = LLVMBuildTrunc(g.b, tid, g.i32, ""), total = NULL;
    for (int w8 = 0; w8 < threads / 32; w8++) {
        LLVMValueRef a = LLVMBuildAdd(g.b, c32(&g, w8 * outs), out, "");
        LLVMValueRef v = LLVMBuildLoad2(g.b, g.f32, LLVMBuildGEP2(g.b, g.f32, sm, &a, 1, ""), "");
        total = total ? LLVMBuildFAdd(g.b, total, v, "") : v;
    }
    nf_body_set_accumulator(body, k->gemm, total);
    nf_body_store_outputs_flat(body, LLVMBuildAdd(g.b, LLVMBuildMul(g.b, row, c64(&g, g.N), ""), col, ""));
    nf_emit_if_end(g.b, after);
    return nf_gpu_kernel_end(body, g.b, err);
}
