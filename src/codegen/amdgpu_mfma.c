/* MFMA instructions, their fragment layouts and the AMDGPU GEMM's tiling
 * (amdgpu_mfma.h), each written once for the host and for LLVM IR.
 *
 * Where the layouts come from. The gfx9 (CDNA) rule for an MFMA with one
 * block, as AMD's Matrix Instruction Calculator computes it
 * (github.com/ROCm/amd_matrix_instruction_calculator, matrix_calculator.py,
 * InstCalcGfx9.__get_input_reg_lanes / __get_output_reg_lanes; its tables
 * for v_mfma_f32_16x16x16bf16_1k and v_mfma_f32_16x16x16f16 on cdna2/cdna3):
 *   input, M = 16 rows (A) or columns (B), K deep: a lane holds E = K / (64 / 16)
 *     consecutive k of one row: element (i, k) is in lane i + 16 * (k / E),
 *     item k % E; item t of 16-bit data is bits 16 (t % 2) .. of VGPR t / 2
 *     (the calculator's register names), i.e. element t of LLVM's operand vector;
 *   output, 16 x 16 f32: element (i, j) is in lane j + 16 * (i / 4), item i % 4.
 * The CDNA3 ISA guide (AMD Instinct MI300 ISA, "Matrix Arithmetic
 * Instructions") points to that calculator for these layouts. gfx950's
 * v_mfma_f32_16x16x32_{bf16,f16} (CDNA4 ISA guide) follow the same rule with
 * K = 32: eight consecutive k per lane in four VGPRs. The calculator release
 * read here lists no CDNA4 instructions, so that one is taken from the CDNA4
 * guide's description, not checked against the calculator. */
#include "codegen/amdgpu_mfma.h"

#include <string.h>

/* ---- the index algebra ------------------------------------------------------ */

nf_ix nf_ix_const(const nf_ix_env *e, int64_t c)
{
    nf_ix r = {c, NULL};
    if (e->b)
        r.v = LLVMConstInt(e->i64, (unsigned long long)c, 1);
    return r;
}

nf_ix nf_ix_add(const nf_ix_env *e, nf_ix a, nf_ix b)
{
    nf_ix r = {a.c + b.c, NULL};
    if (e->b)
        r.v = LLVMBuildAdd(e->b, a.v, b.v, "");
    return r;
}

nf_ix nf_ix_mul(const nf_ix_env *e, nf_ix a, int64_t c)
{
    nf_ix r = {a.c * c, NULL};
    if (e->b)
        r.v = LLVMBuildMul(e->b, a.v, LLVMConstInt(e->i64, (unsigned long long)c, 1), "");
    return r;
}

nf_ix nf_ix_div(const nf_ix_env *e, nf_ix a, int64_t c)
{
    nf_ix r = {c ? a.c / c : 0, NULL};
    if (e->b)
        r.v = LLVMBuildUDiv(e->b, a.v, LLVMConstInt(e->i64, (unsigned long long)c, 1), "");
    return r;
}

nf_ix nf_ix_rem(const nf_ix_env *e, nf_ix a, int64_t c)
{
    nf_ix r = {c ? a.c % c : 0, NULL};
    if (e->b)
        r.v = LLVMBuildURem(e->b, a.v, LLVMConstInt(e->i64, (unsigned long long)c, 1), "");
    return r;
}

/* ---- the instructions -------------------------------------------------------- */

static const nf_mfma mfmas[] = {
    {"llvm.amdgcn.mfma.f32.16x16x16bf16.1k", NF_BF16, 16, 16, 16, 4, 4, false},
    {"llvm.amdgcn.mfma.f32.16x16x16f16", NF_F16, 16, 16, 16, 4, 4, false},
    {"llvm.amdgcn.mfma.f32.16x16x32.bf16", NF_BF16, 16, 16, 32, 8, 4, true},
    {"llvm.amdgcn.mfma.f32.16x16x32.f16", NF_F16, 16, 16, 32, 8, 4, true},
};

const nf_mfma *nf_mfma_list(int *count)
{
    *count = (int)(sizeof mfmas / sizeof mfmas[0]);
    return mfmas;
}

const nf_mfma *nf_mfma_pick(const nf_target *t, nf_dtype in, int64_t K)
{
    if (t->kind != NF_TARGET_AMDGPU || t->warp_size != NF_MFMA_WAVE || K % 16)
        return NULL;
    /* gfx90a, gfx942 and gfx950 all have the K = 16 forms (the rows of target.c) */
    bool gfx950 = t->cpu && strcmp(t->cpu, "gfx950") == 0;
    const nf_mfma *best = NULL;
    for (size_t i = 0; i < sizeof mfmas / sizeof mfmas[0]; i++) {
        const nf_mfma *f = &mfmas[i];
        if (f->in != in || (f->gfx950_only && !gfx950) || K % f->k)
            continue;
        if (!best || f->k > best->k)
            best = f;
    }
    return best;
}

void nf_mfma_ab_element(const nf_mfma *f, const nf_ix_env *e, nf_ix lane, int item, nf_ix *mn, nf_ix *k)
{
    *mn = nf_ix_rem(e, lane, NF_MFMA_LANE_GROUP);
    nf_ix group = nf_ix_div(e, lane, NF_MFMA_LANE_GROUP);
    *k = nf_ix_add(e, nf_ix_mul(e, group, f->ab_items), nf_ix_const(e, item));
}

void nf_mfma_d_element(const nf_mfma *f, const nf_ix_env *e, nf_ix lane, int item, nf_ix *row, nf_ix *col)
{
    nf_ix group = nf_ix_div(e, lane, NF_MFMA_LANE_GROUP);
    *row = nf_ix_add(e, nf_ix_mul(e, group, f->d_items), nf_ix_const(e, item));
    *col = nf_ix_rem(e, lane, NF_MFMA_LANE_GROUP);
}

/* ---- the tiling --------------------------------------------------------------- */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

nf_mfma_tiling nf_mfma_tile(const nf_mfma *op, int64_t M, int64_t N, int64_t K, int cus)
{
    nf_mfma_tiling t = {.M = M, .N = N, .K = K, .op = op};
    int64_t row_tiles = ceil_div(M, op->m), col_tiles = ceil_div(N, op->n);
    /* waves along M while there are rows for them, the others along N */
    t.wm = row_tiles >= 4 ? 4 : row_tiles >= 2 ? 2 : 1;
    t.wn = NF_MFMA_WAVES / t.wm;
    t.tiles = 4; /* one A fragment feeds four MFMAs */
    while (t.tiles > 1 && (int64_t)(t.tiles / 2) * t.wn >= col_tiles)
        t.tiles /= 2; /* no tile past N in every workgroup */
    t.mblocks = ceil_div(M, (int64_t)op->m * t.wm);
    while (t.tiles > 1 && t.mblocks * ceil_div(N, (int64_t)op->n * t.tiles * t.wn) < cus)
        t.tiles /= 2; /* more, smaller workgroups until every compute unit has one */
    t.nblocks = ceil_div(N, (int64_t)op->n * t.tiles * t.wn);
    return t;
}

void nf_mfma_wave_origin(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix bx, nf_ix by, nf_ix wave, nf_ix *m0,
                         nf_ix *n0)
{
    nf_ix wave_m = nf_ix_rem(e, wave, t->wm), wave_n = nf_ix_div(e, wave, t->wm);
    *m0 = nf_ix_add(e, nf_ix_mul(e, bx, (int64_t)t->op->m * t->wm), nf_ix_mul(e, wave_m, t->op->m));
    int64_t wave_cols = (int64_t)t->op->n * t->tiles;
    *n0 = nf_ix_add(e, nf_ix_mul(e, by, wave_cols * t->wn), nf_ix_mul(e, wave_n, wave_cols));
}

void nf_mfma_a_source(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix m0, nf_ix k0, nf_ix lane, int item,
                      nf_ix *row, nf_ix *col)
{
    nf_ix i, k;
    nf_mfma_ab_element(t->op, e, lane, item, &i, &k);
    *row = nf_ix_add(e, m0, i);
    *col = nf_ix_add(e, k0, k);
}

void nf_mfma_b_source(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix n0, int tile, nf_ix k0, nf_ix lane, int item,
                      nf_ix *n, nf_ix *col)
{
    nf_ix j, k;
    nf_mfma_ab_element(t->op, e, lane, item, &j, &k);
    *n = nf_ix_add(e, nf_ix_add(e, n0, nf_ix_const(e, (int64_t)tile * t->op->n)), j);
    *col = nf_ix_add(e, k0, k);
}

void nf_mfma_d_target(const nf_mfma_tiling *t, const nf_ix_env *e, nf_ix m0, nf_ix n0, int tile, nf_ix lane, int item,
                      nf_ix *m, nf_ix *n)
{
    nf_ix i, j;
    nf_mfma_d_element(t->op, e, lane, item, &i, &j);
    *m = nf_ix_add(e, m0, i);
    *n = nf_ix_add(e, nf_ix_add(e, n0, nf_ix_const(e, (int64_t)tile * t->op->n)), j);
}
