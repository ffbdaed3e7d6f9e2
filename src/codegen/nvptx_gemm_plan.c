/* Which GEMMs the tensor-core kernel takes, and how it tiles them. */
#include "codegen/nvptx_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared memory a block may take: two blocks of 8 warps still fit on an SM
 * (228 KB); a block alone on its SM (nf_gemm_alone) takes up to 200 KB. */
enum { MAX_STAGES = 6 };
static int64_t smem_budget(const nf_gemm_plan *p) { return nf_gemm_alone(p) ? 200 * 1024 : 100 * 1024; }
/* The most the last block of a tile reads back from the workspace. */
enum { REDUCE_BYTES = 256 * 1024 };

/* A GEMM the tensor-core path takes: the operands of gemm_common.c, N % 8 ==
 * 0, and every row of A and W starting on 16 bytes (cp.async copies
 * 16-byte chunks). */
bool nf_nvptx_gemm_applies(const nf_fused_kernel *k, const nf_slots *s)
{
    if (!nf_gemm_matrix_operands(k, s))
        return false;
    int64_t M, N, K;
    nf_gemm_sizes(k, s, &M, &N, &K);
    const nf_layout *la = nf_slots_layout(s, k->a.source), *lb = nf_slots_layout(s, k->b.source);
    int64_t b_chunk = nf_gemm_splits_b(k) ? 4 : 8; /* elements in 16 bytes */
    return N % 8 == 0 && la->offset % 8 == 0 && (la->rank < 2 || la->strides[la->rank - 2] % 8 == 0) &&
           lb->offset % b_chunk == 0 && lb->strides[0] % b_chunk == 0;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Fills in everything that follows from wm, splits and stages. */
static void derive(nf_gemm_plan *p)
{
    p->presplit_b &= p->tma; /* the terms arrive by TMA only (an override may turn it off) */
    p->wk = p->warps / p->wm;
    p->bk = p->wk == 8 ? 128 : 64;
    p->mblocks = ceil_div(p->M, nf_gemm_block_rows(p));
    p->nblocks = ceil_div(p->N, p->bn_rows);
    p->kstages = ceil_div(p->K, p->bk);
    if (p->splits > p->kstages)
        p->splits = p->kstages;
    if (p->splits < 1)
        p->splits = 1;
    p->a_bytes = nf_gemm_block_rows(p) * p->bk * 2;
    p->stage_bytes = p->a_bytes + (int64_t)p->bn_rows * p->bk * nf_gemm_b_bytes(p);
    p->conv_bytes = p->split_b && !p->presplit_b ? 3 * (int64_t)p->bn_rows * p->bk * 2 : 0;
    int64_t convs = nf_gemm_split_ahead(p) ? 2 : 1;
    int64_t per_block = ceil_div(p->kstages, p->splits);
    if (p->stages < 2) {
        p->stages = (int)((smem_budget(p) - convs * p->conv_bytes - (p->tma ? 1024 : 0)) / p->stage_bytes);
        if (p->stages > MAX_STAGES)
            p->stages = MAX_STAGES;
        if (p->stages > per_block + 1)
            p->stages = (int)per_block + 1;
        if (p->stages < 2)
            p->stages = 2;
    }
    p->smem_bytes = p->stages * p->stage_bytes + convs * p->conv_bytes + (p->tma ? 1024 : 0); /* TMA: room to align */
    int64_t partials = (int64_t)p->warps * nf_gemm_warp_rows(p) * p->bn_rows * 4; /* the in-block reduction reuses the stages */
    if (!nf_gemm_direct(p) && p->smem_bytes < partials + (p->tma ? 1024 : 0))
        p->smem_bytes = partials + (p->tma ? 1024 : 0);
}

/* base as 8 warps, wm of them over the rows (one m16 tile each), K not split. */
static nf_gemm_plan unsplit(nf_gemm_plan base, int wm)
{
    base.warps = 8;
    base.wm = wm;
    base.rt = 1;
    base.splits = 1;
    derive(&base);
    return base;
}

/* p with K split `splits` ways, its stages chosen again for that K range. */
static void set_splits(nf_gemm_plan *p, int64_t splits)
{
    p->splits = splits;
    p->stages = 0;
    derive(p);
}

/* Microseconds the plan should take, from a rough model of the H100: DRAM
 * at 3 TB/s, L2 to the SMs at 8 TB/s, one SM streaming at most ~36 GB/s
 * (measured: a block of this kernel streams 25-36 GB/s whatever the grid;
 * two blocks with TMA ~60),
 * its shared memory and tensor cores, and a split-K tail where the last
 * block reads the partials back, 64 loads in flight per thread. */
static double cost_us(const nf_gemm_plan *p, int sms)
{
    double bsz = nf_gemm_b_bytes(p);
    double dram = (double)p->M * p->K * 2 + (double)p->N * p->K * bsz + (double)p->M * p->N * 4;
    double blocks = (double)(p->mblocks * p->nblocks * p->splits);
    double kcols = (double)ceil_div(p->kstages, p->splits) * p->bk;
    double block_bytes = ((double)nf_gemm_block_rows(p) * 2 + p->bn_rows * bsz) * kcols;
    double slots = (p->warps == 8 ? 2.0 : 1.0) * sms, waves = blocks > slots ? (double)ceil_div((int64_t)blocks, (int64_t)slots) : 1;
    double per_sm = blocks >= sms && p->warps == 8 ? 2 : 1;
    /* two blocks of 8 warps on an SM hide each other's waits: with TMA they
     * streamed ~60 GB/s together (T = 512, 2048, 8192 on the H100) */
    double t_sm = waves * block_bytes * per_sm / (per_sm == 2 && p->tma ? 60e3 : 36e3);
    /* inside the SM: shared memory moves 128 B a clock (~225 KB/us): the
     * copies in, and per k16 step each of the wm row warps' ldmatrix of its
     * A tiles and of all W tiles; the tensor cores take ~2 clocks an mma */
    int terms = p->split_b ? 3 : 1;
    double ksteps = kcols / 16;
    double reads = ksteps * p->wm * (p->rt + p->bn_rows / 16.0 * terms) * 512;
    double t_smem = waves * per_sm * (reads + block_bytes) / 225e3;
    double mmas = ksteps * p->wm * p->rt * (p->bn_rows / 8.0) * terms;
    double t_mma = waves * per_sm * mmas * 2 / 1.755e3;
    t_sm = t_sm > t_smem ? t_sm : t_smem;
    t_sm = t_sm > t_mma ? t_sm : t_mma;
    double t_l2 = blocks * block_bytes / 8e6;
    double t_dram = dram / 3e6;
    double t = t_dram > t_l2 ? t_dram : t_l2;
    t = t > t_sm ? t : t_sm;
    if (p->splits > 1) { /* partials out, the counter (its increments queue at one
                            * address), then the last block's rounds of reads */
        int64_t rounds = ceil_div(p->splits * nf_gemm_tile_elems(p), (int64_t)nf_gemm_threads(p) * 64);
        t += 1.0 + 0.5 * (double)rounds + 0.04 * (double)p->splits;
    }
    if (p->split_b && !p->presplit_b) /* every block splits its weights: ~8 ops each over 128 lanes */
        t += waves * (double)p->bn_rows * kcols * 8 / (128 * 1.75e3);
    return t;
}

/* The split-K tail's overrides, -1 where the text says nothing. */
typedef struct tail_override {
    int shared;  /* tail=0|1 */
    int wait_us; /* tail_wait=US */
} tail_override;

static void parse_override(nf_gemm_plan *p, const char *text, tail_override *tail)
{
    *tail = (tail_override){-1, -1};
    while (text && *text) {
        int v = 0, used = 0;
        if (sscanf(text, "wm=%d%n", &v, &used) == 1 && (v == 1 || v == 2 || v == 4 || v == 8 || v == 16))
            p->wm = v;
        else if (sscanf(text, "warps=%d%n", &v, &used) == 1 && (v == 8 || v == 16))
            p->warps = v;
        else if (sscanf(text, "splits=%d%n", &v, &used) == 1 && v >= 1)
            p->splits = v;
        else if (sscanf(text, "bn=%d%n", &v, &used) == 1 && (v == 16 || v == 32 || v == 64))
            p->bn_rows = v;
        else if (sscanf(text, "rt=%d%n", &v, &used) == 1 && (v == 1 || v == 2))
            p->rt = v;
        else if (sscanf(text, "stages=%d%n", &v, &used) == 1 && v >= 2 && v <= 8)
            p->stages = v;
        else if (sscanf(text, "tma=%d%n", &v, &used) == 1 && (v == 0 || v == 1))
            p->tma = v && p->tma; /* only where the target has it */
        else if (sscanf(text, "evict_first=%d%n", &v, &used) == 1 && (v == 0 || v == 1))
            p->a_evict_first = v && p->tma;
        else if (sscanf(text, "wgmma=%d%n", &v, &used) == 1 && (v == 0 || v == 1))
            p->wgmma = v;
        else if (sscanf(text, "tail=%d%n", &v, &used) == 1 && (v == 0 || v == 1))
            tail->shared = v;
        else if (sscanf(text, "tail_wait=%d%n", &v, &used) == 1 && v >= 0)
            tail->wait_us = v;
        const char *comma = strchr(text, ',');
        text = comma ? comma + 1 : NULL;
    }
}

nf_gemv_override nf_gemm_override_gemv(void)
{
    nf_gemv_override r = {-1, {1, 1}};
    for (const char *o = getenv("NSAFUSE_GEMM_PLAN"); o && *o;) {
        int cols = 0, rows = 0, used = 0;
        if (strncmp(o, "gemv=0", 6) == 0 && (o[6] == ',' || o[6] == '\0'))
            r.use = 0;
        else if (sscanf(o, "gemv=%dx%d%n", &cols, &rows, &used) == 2 && (o[used] == ',' || o[used] == '\0') &&
                 nf_gemv_tile_valid((nf_gemv_tile){cols, rows}))
            r = (nf_gemv_override){1, {cols, rows}};
        const char *comma = strchr(o, ',');
        o = comma ? comma + 1 : NULL;
    }
    return r;
}

/* The split-K tail (nvptx_gemm_tail.c). Shared by the tile's blocks where
 * the whole grid is on the GPU at once, so that a block waiting for the
 * others never keeps one of them from starting (two blocks an SM at most,
 * one where a block may take more shared memory or registers than half the
 * SM's). A block waits 20 us at most: far more than the blocks of one wave
 * drift apart, and a bound where another grid holds some SMs. It pays for
 * tiles of 64 x 64 to 128 x 64 split 4 ways or more. H100, head gate, us,
 * shared / by the last block (scripts/gemm-sweep.sh): bf16 T = 2048 64 x 64
 * x 8 12.75 / 13.63, 128 x 64 x 8 (wgmma) 11.65 / 13.30, 2600 64 x 64 x 4
 * 20.87 / 22.98; fp32 weights T = 300 8.62 / 11.90, 512 8.61 / 10.07, 1024
 * 13.47 / 14.24, 1500 19.79 / 21.32, 2048 19.30 / 20.49, 3000 27.50 /
 * 32.76, 4096 32.75 / 32.25. Elsewhere the read-back is short and the wait
 * for the counter to move costs more: T = 16 (16 x 16 x 28) 4.89 / 3.15,
 * 128 (16 x 32 x 14) 5.95 / 4.61, 512 (32 x 64 x 16) 7.85 / 7.66, 1024
 * (32 x 64 x 8) 9.81 / 9.27, 4096 (64 x 64 x 2) 27.19 / 25.95, fp32
 * weights 8192 (256 x 64 x 4) 59.32 / 57.72. */
static void choose_tail(nf_gemm_plan *p, int sms, tail_override o)
{
    enum { WAIT_US = 20 };
    int per_sm = nf_gemm_alone(p) || p->rt == 2 ? 1 : 2;
    bool fits = p->mblocks * p->nblocks * p->splits <= (int64_t)sms * per_sm;
    bool worth = nf_gemm_tile_elems(p) >= 64 * 64 && nf_gemm_tile_elems(p) <= 128 * 64 && p->splits >= 4;
    p->shared_tail = p->splits > 1 && p->splits <= NF_GEMM_SHARED_TAIL_SPLITS && fits &&
                     (o.shared == 1 || (o.shared < 0 && worth));
    p->tail_wait_us = !p->shared_tail ? 0 : o.wait_us >= 0 ? o.wait_us : WAIT_US;
}

static const tail_override no_tail_override = {-1, -1};

/* The plan NSAFUSE_GEMM_PLAN asks for, from the chosen one: what it leaves
 * out is 8 warps, the chosen row tiles, wm and splits; or `chosen` itself. */
static nf_gemm_plan override_plan(nf_gemm_plan base, nf_gemm_plan chosen, int sms)
{
    const char *o = getenv("NSAFUSE_GEMM_PLAN");
    if (!o || !*o) {
        choose_tail(&chosen, sms, no_tail_override);
        return chosen;
    }
    nf_gemm_plan p = base;
    p.warps = 8;
    p.wm = chosen.wm;
    p.rt = chosen.rt;
    p.splits = chosen.splits;
    p.bn_rows = chosen.bn_rows;
    p.wgmma = chosen.wgmma;
    tail_override tail;
    parse_override(&p, o, &tail);
    if (p.bn_rows > base.bn_rows)
        p.bn_rows = base.bn_rows;
    if (p.warps == 16) /* 512 threads leave 128 registers: one row tile */
        p.rt = 1;
    if (p.wm > p.warps)
        p.wm = p.warps;
    if (p.warps / p.wm > 8)
        p.wm = p.warps / 8;
    /* wgmma: two warpgroups over the rows, no K split inside the block */
    p.wgmma = p.wgmma && p.arch_specific && p.tma && p.warps == 8 && p.wm == 8;
    derive(&p);
    choose_tail(&p, sms, tail);
    return p;
}

/* A result of at most eight 16-row tiles (T <= 128 tokens) is small: the
 * time goes to each block's stream of stages, one after the other, and to
 * the split-K tail. Tiles of 16 rows by 16 columns (32 past four row
 * tiles) keep W's share of a stage small, and K is split, into any number
 * of parts, where a fit to the H100 says (us, 128-column stages of 16 + 16
 * rows, head gate, T = 16..64): 0.42 per stage of the longest share, 0.05
 * per split (the tail reads them all), 0.34 more when two blocks share an
 * SM, 0.25 more when the shares are uneven (T = 16, 33, 96: 19 splits of
 * 56 stages lost 0.07-0.13 against 14 or 28). Measured (us, bf16; before:
 * 16 x 64 tiles x 16 splits): T = 16 3.18 (4.71), 32 3.38 (4.75), 64 3.80
 * (4.76), 128 4.67 with 16 x 32 tiles (4.95); fp32 weights T = 32 4.56
 * (6.81), 128 7.42 (8.52). The GEMV stays as fast at T <= 8 (3.25 against
 * 3.30). */
static bool small_grid(nf_gemm_plan base, int sms, nf_gemm_plan *out)
{
    enum { ROWS = 16, MAX_TILES = 8 };
    int64_t row_tiles = ceil_div(base.M, ROWS);
    if (row_tiles > MAX_TILES)
        return false;
    int cols = row_tiles <= 4 ? 16 : 32;
    if (base.bn_rows > cols)
        base.bn_rows = cols;
    nf_gemm_plan p = unsplit(base, 1);
    int64_t tiles = p.mblocks * p.nblocks, splits = 1;
    double best = 0;
    for (int64_t s = 1; s <= p.kstages && tiles * s <= 2 * (int64_t)sms; s++) {
        double cost = 0.42 * (double)ceil_div(p.kstages, s) + 0.05 * (double)s + (tiles * s > sms ? 0.34 : 0) +
                      (p.kstages % s ? 0.25 : 0);
        if (s == 1 || cost < best) {
            best = cost;
            splits = s;
        }
    }
    set_splits(&p, splits);
    if (p.smem_bytes > smem_budget(&p) && tiles * splits > sms)
        return false;
    *out = p;
    return true;
}

/* 16-bit weights with TMA, a grid of 5 to sms / 4 tiles: split K until the
 * grid has the most blocks up to one an SM, the tile's splits sharing the
 * tail (nvptx_gemm_tail.c), so that a taller tile no longer means one block
 * reading back more partials. Fewer than 8 tiles of 128 rows (T <= 896):
 * 64-row tiles and at most 16 splits; more (T = 897..4224), on sm_90a,
 * 128-row wgmma tiles. H100, head gate, bf16, us (the plans before: the
 * search, and mid_grid's): T = 300
 * 7.15 (8.85), 512 7.43 (7.71), 1024 8.73 (9.18), 1500 10.22 (12.26), 2048
 * 11.62 (13.4), 2600 18.80 (21.0), 3000 20.88 (21.9), 4096 26.1 (26.0).
 * Measured and not taken: 128-row tiles at T = 512 (x 32 splits 7.82, x 16
 * 8.08), 64-row ones at 1024 (x 8, 9.73). */
static bool shared_tail_grid(nf_gemm_plan base, int sms, nf_gemm_plan *out)
{
    enum { MIN_TILES = 5, MIN_WGMMA_TILES = 8, MAX_SPLITS = 16 };
    if (base.split_b || !base.tma)
        return false;
    nf_gemm_plan p = unsplit(base, 8);
    p.wgmma = base.arch_specific;
    if (p.mblocks * p.nblocks < MIN_WGMMA_TILES)
        p = unsplit(base, 4);
    else if (!p.wgmma)
        return false;
    int64_t tiles = p.mblocks * p.nblocks;
    if (tiles < MIN_TILES || 4 * tiles > sms)
        return false;
    int64_t splits = sms / tiles;
    set_splits(&p, !p.wgmma && splits > MAX_SPLITS ? MAX_SPLITS : splits);
    choose_tail(&p, sms, no_tail_override);
    if (!p.shared_tail || p.smem_bytes > smem_budget(&p))
        return false;
    *out = p;
    return true;
}

/* 16-bit weights, between a quarter and half of the SMs in 64-row tiles
 * (T = 2049..4224 on the H100): the cost model took 128-row tiles x 8
 * splits there, and measured slower than 64-row tiles split until the grid
 * covers the SMs 1.5 times (us, bf16, head gate: T = 2600 22.8 against
 * 27.9, 3000 23.8 / 30.8, 3500 26.5 / 34.3, 4096 25.9 / 26.9). */
static bool mid_grid(nf_gemm_plan base, int sms, nf_gemm_plan *out)
{
    if (base.split_b)
        return false;
    nf_gemm_plan p = unsplit(base, 4);
    int64_t tiles = p.mblocks * p.nblocks, splits = 1;
    if (4 * tiles <= sms || 2 * tiles > sms)
        return false;
    while (2 * tiles * splits * 2 <= 3 * (int64_t)sms && splits * 2 <= p.kstages)
        splits *= 2;
    set_splits(&p, splits);
    if (p.smem_bytes > smem_budget(&p))
        return false;
    *out = p;
    return true;
}

nf_gemm_plan nf_gemm_choose(const nf_fused_kernel *k, const nf_slots *s, int sms, const nf_target *t)
{
    nf_gemm_plan base = {0};
    base.tma = nf_nvptx_sm(t) >= 90;
    base.arch_specific = nf_nvptx_arch_specific(t);
    /* An A that (nearly) fills L2 streams from DRAM whatever happens, and
     * thrashes it: marked evict-first, it stops pushing W out. H100 (50 MB
     * of L2), bf16 head gate, us without -> with the mark: A = 29 MB (T =
     * 2048) 12.8 -> 17.8, consecutive calls had found A in L2; 37 MB (2600)
     * 36.0 -> 28.4; 43 MB 39.6 -> 30.7; 50 MB 43.4 -> 33.9; 58 MB 30.0 ->
     * 26.8; 117 MB 48.2 -> 45.1; 235 MB 85.5 -> 83.0. Hence: over 2/3 of L2. */
    nf_gemm_sizes(k, s, &base.M, &base.N, &base.K);
    int64_t l2 = s->l2_bytes > 0 ? s->l2_bytes : 50 * 1024 * 1024;
    base.a_evict_first = base.tma && 3 * base.M * base.K * 2 > 2 * l2;
    base.split_b = nf_gemm_splits_b(k);
    base.presplit_b = base.tma && nf_gemm_b_terms_given(k, s);
    base.bn_rows = base.N >= NF_GEMM_BN ? NF_GEMM_BN : (int)ceil_div(base.N, 16) * 16;
    nf_gemm_plan small;
    if (small_grid(base, sms, &small))
        return override_plan(base, small, sms);
    nf_gemm_plan shared;
    if (shared_tail_grid(base, sms, &shared))
        return override_plan(base, shared, sms);
    nf_gemm_plan mid;
    if (mid_grid(base, sms, &mid))
        return override_plan(base, mid, sms);
    nf_gemm_plan best = {0};
    double best_cost = 0;
    /* The search tries powers of two (any count works: test_fused). */
    for (int wm = 8; wm >= 1; wm /= 2)
        for (int64_t splits = 1; splits <= 64; splits *= 2) {
            nf_gemm_plan p = base;
            p.warps = 8;
            p.wm = wm;
            p.rt = 1;
            p.splits = splits;
            derive(&p);
            if (p.splits != splits || splits * nf_gemm_tile_elems(&p) * 4 > REDUCE_BYTES)
                break;
            /* Split K only to fill the GPU: splitting a grid that already
             * covers a quarter of the SMs or more lost on the H100 (T = 8192:
             * 64 blocks of 128 rows x 2 splits took 60 us, 128 blocks of 64
             * rows 50), while T = 2048's 16 blocks x 8 splits won. */
            if (splits > 1 && 4 * p.mblocks * p.nblocks > sms)
                break;
            /* over half an SM's shared memory (two stages of fp32 weights
             * and their split): fine where the grid leaves each block an SM
             * of its own (H100, fp32 weights, T = 32: 16-row tiles x 32
             * splits took 6.9 us, the 32-row tiles that fit 8.4) */
            bool own_sm = p.mblocks * p.nblocks * p.splits <= sms && p.smem_bytes <= 200 * 1024;
            if (p.smem_bytes > smem_budget(&p) && !own_sm)
                continue;
            double c = cost_us(&p, sms);
            if (best.wm == 0 || c < best_cost) {
                best = p;
                best_cost = c;
            }
        }
    /* fp32 weights: every block streams its W tile at 4 bytes a weight and
     * splits it into three terms again, as much work per block as its A
     * tile at 64 rows. Two row tiles a warp (one block per SM) halve that
     * per row: the tallest such tile of 128 or 256 rows whose grid, split
     * to fill the SMs, covers between half and all of them. Measured on the
     * H100 (us, against the plans below): T = 2048 128 rows x 8 splits 26.9
     * (29.8), 4096 128 x 4 44.5 (46.6), 8192 256 x 4 69.4 (123.9), 16384
     * 256 x 2 125.6 (172.7); with 64-row tiles T = 512 won (13.8 against
     * 14.3) but 300 and 1000 lost (15.7 / 15.0, 21.8 / 21.2).
     * On sm_90a the same tiles run on wgmma, the two warpgroups 64 rt rows
     * each: T = 2048 (128 rows, rt = 1) 23.2 us against 27.8 on mma.sync,
     * 8192 57.1 / 69.3, 16384 108.4 / 127.4; and where those grids are too
     * small, 128 x 32 tiles: T = 512 10.4 (13.9 before), 1024 15.2 (19.3). */
    static const struct { int rows, cols; bool wgmma_only; } tiles_f32w[] = {{256, 64, false}, {128, 64, false}, {128, 32, true}};
    nf_gemm_plan tall = {0}; /* the candidate with the most blocks, the first of equals */
    for (size_t c = 0; base.split_b && c < sizeof tiles_f32w / sizeof tiles_f32w[0]; c++) {
        int rows = tiles_f32w[c].rows;
        if (tiles_f32w[c].wgmma_only && !base.arch_specific)
            continue;
        /* Made terms leave no split to halve, and one row tile a warpgroup
         * takes the three term tiles as one m64n192 that reads A once (not
         * yet measured against 256 rows: NSAFUSE_GEMM_PLAN=rt=2 gives them) */
        if (rows == 256 && base.presplit_b && base.arch_specific)
            continue;
        nf_gemm_plan p = base;
        p.warps = 8;
        if (tiles_f32w[c].cols < p.bn_rows) /* N of 32 or less: its own width */
            p.bn_rows = tiles_f32w[c].cols;
        p.wgmma = base.arch_specific;
        p.wm = p.wgmma ? 8 : rows / 32;
        p.rt = p.wgmma ? rows / 128 : 2;
        p.splits = 1;
        derive(&p);
        int64_t splits = 1, tiles = p.mblocks * p.nblocks;
        while (tiles * (splits + 1) <= sms && (splits + 1) * nf_gemm_tile_elems(&p) * 4 <= REDUCE_BYTES)
            splits++;
        set_splits(&p, splits);
        bool fits = p.splits == splits && tiles * splits <= sms && 2 * tiles * splits >= sms && p.smem_bytes <= smem_budget(&p);
        if (fits && (tall.wm == 0 || tiles * splits > tall.mblocks * tall.nblocks * tall.splits))
            tall = p;
    }
    /* Any split count, the most blocks: T = 1500 128 x 64 tiles x 8 splits
     * (96 blocks) 25.2 us, 128 x 32 x 5 (120) 21.2; 3000 128 x 64 x 4 35.7,
     * x 5 32.1 */
    if (tall.wm)
        return override_plan(base, tall, sms);
    /* Measured on the H100 (scripts/gemm-sweep.sh, head gate): when the grid
     * is one block per SM and the block's warps already split K, twice the
     * warps (splitting K twice as finely) hide more latency: T = 512, 2048,
     * 8192 took 12.6, 25.0, 51.6 us instead of 12.9, 27.9, 53.3. Two row
     * tiles per warp (rt = 2) never won with 16-bit weights. */
    /* 128-row tiles, one warp each per 16 rows: wgmma where the target has
     * it (T = 16384, bf16: 81.3 us against 83.0; 4096 and 8192 tied) */
    if (best.arch_specific && best.tma && best.warps == 8 && best.wm == 8) {
        best.wgmma = true;
        best.stages = 0; /* fp32 weights split ahead take a second buffer */
        derive(&best);
    }
    if (best.wm >= 2 && best.wk >= 2 && best.wk <= 4 && best.mblocks * best.nblocks * best.splits <= sms) {
        nf_gemm_plan p = best;
        p.warps = 16;
        p.stages = 0;
        derive(&p);
        if (p.smem_bytes <= smem_budget(&p))
            best = p;
    }
    return override_plan(base, best, sms);
}

int nf_nvptx_sm(const nf_target *t) { return t->cpu && strncmp(t->cpu, "sm_", 3) == 0 ? atoi(t->cpu + 3) : 0; }

bool nf_target_reads_split_terms(const nf_target *t) { return t->kind == NF_TARGET_NVPTX && nf_nvptx_sm(t) >= 90; }

bool nf_nvptx_arch_specific(const nf_target *t)
{
    return nf_nvptx_sm(t) && t->cpu[strlen(t->cpu) - 1] == 'a';
}

void nf_nvptx_gemm_launch(const nf_target *t, const nf_fused_kernel *k, const nf_slots *s, int sms, nf_launch *l)
{
    nf_gemm_plan p = nf_gemm_choose(k, s, sms, t);
    memset(l, 0, sizeof *l);
    l->grid[0] = (unsigned)p.mblocks;
    l->grid[1] = (unsigned)p.nblocks;
    l->grid[2] = (unsigned)p.splits;
    l->block[0] = (unsigned)nf_gemm_threads(&p);
    l->block[1] = l->block[2] = 1;
    l->shared_bytes = (unsigned)p.smem_bytes;
    l->scratch_bytes = nf_gemm_scratch_bytes(&p);
    if (p.tma) {
        const nf_value *a = k->a.source, *b = k->b.source;
        const nf_layout *la = nf_slots_layout(s, a), *lb = nf_slots_layout(s, b);
        l->n_tma = 2;
        l->tma[0] = (nf_tma_operand){s->first_slot[a->id], a->dtype, la->offset, p.M, p.K,
                                     la->rank >= 2 ? la->strides[la->rank - 2] : p.K, (unsigned)nf_gemm_block_rows(&p),
                                     NF_GEMM_TMA_COLS, false};
        if (p.presplit_b) /* the terms: rows t N .. t N + N - 1 hold term t of every weight */
            l->tma[1] = (nf_tma_operand){s->first_slot[b->id], NF_BF16, 0, 3 * p.N, p.K, p.K,
                                         (unsigned)p.bn_rows, NF_GEMM_TMA_COLS, true};
        else
            l->tma[1] = (nf_tma_operand){s->first_slot[b->id], b->dtype, lb->offset, p.N, p.K, lb->strides[0],
                                         (unsigned)p.bn_rows, p.split_b ? NF_GEMM_TMA_COLS / 2 : NF_GEMM_TMA_COLS, false};
    }
}
