/* The tensor-core GEMM's tiling plan (src/codegen/nvptx_gemm_plan.c) over
 * many shapes and the three head-gate forms, read back from the comment the
 * generator puts at the top of the PTX: the grid covers the result exactly,
 * split counts are powers of two within K, the warp grid is one the kernel
 * supports, shared memory fits the SM, and sm_90 copies the operands with
 * TMA (sm_80 with cp.async); and the GEMV's tiles at decode sizes. Needs
 * no GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nsafuse.h"

enum { MAX_SHARED = 227 * 1024 }; /* per block on sm_90, opted in */

static const char *const forms[] = {
    /* bf16-rounded */
    "graph g(%x: bf16[M, K], %w: bf16[N, K]) {\n  %y = linear(%x, %w)\n  %o = cast(%y, f32)\n  return %o\n}\n",
    /* f32-output */
    "graph g(%x: bf16[M, K], %w: bf16[N, K]) {\n  %o = linear(%x, %w, out_dtype=f32)\n  return %o\n}\n",
    /* fp32 weights */
    "graph g(%x: bf16[M, K], %w: f32[N, K]) {\n  %xf = cast(%x, f32)\n  %o = linear(%xf, %w)\n  return %o\n}\n",
};

typedef struct plan_line {
    long long m, n, k, mblocks, nblocks, splits, tile_rows;
    int tile_cols;
    int wm, wk, rows, bk, stages;
    long long smem;
    bool shared_tail; /* the line says "shared split-K tail" */
} plan_line;

static long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

/* The PTX of form f at M x N x K for target (malloc'd); with tensor_cores,
 * NSAFUSE_GEMM_PLAN gains gemv=0 for the compile (decode sizes too take the
 * tensor-core path). */
static void dump_ptx(int f, const char *target, int64_t m, int64_t n, int64_t k, bool tensor_cores, char **ptx)
{
    nf_error err;
    nf_graph *g = nf_graph_parse(forms[f], strlen(forms[f]), "plan.nf", NULL, &err);
    assert_non_null(g);
    const char *old = getenv("NSAFUSE_GEMM_PLAN");
    char *saved = old ? strdup(old) : NULL, plan[256];
    if (tensor_cores) {
        snprintf(plan, sizeof plan, "gemv=0%s%s", saved && *saved ? "," : "", saved ? saved : "");
        setenv("NSAFUSE_GEMM_PLAN", plan, 1);
    }
    nf_compile_options o = {.target = target};
    nf_kernel *kern = NULL;
    assert_int_equal(nf_compile(g, &o, &kern, &err), NF_OK);
    nf_bindings b = {.n = 3, .names = {"M", "N", "K"}, .sizes = {m, n, k}};
    size_t len = 0;
    nf_status st = nf_kernel_dump(kern, "ptx", &b, ptx, &len, &err);
    if (saved)
        setenv("NSAFUSE_GEMM_PLAN", saved, 1);
    else
        unsetenv("NSAFUSE_GEMM_PLAN");
    free(saved);
    if (st != NF_OK)
        fail_msg("form %d, %" PRId64 " x %" PRId64 " x %" PRId64 ": %s", f, m, n, k, err.message);
    nf_kernel_free(kern);
    nf_graph_free(g);
}

static void ptx_for(int f, const char *target, int64_t m, int64_t n, int64_t k, char **ptx)
{
    dump_ptx(f, target, m, n, k, true, ptx);
}

/* The plan line at the top of the PTX (every shape here takes the tensor-core path). */
static plan_line read_plan(const char *ptx)
{
    const char *at = strstr(ptx, "// nf_k0: gemm ");
    assert_non_null(at);
    plan_line p;
    int got = sscanf(at,
                     "// nf_k0: gemm %lldx%lldx%lld, blocks %lld x %lld x %lld (split-K) of %lld x %d, warps %d x %d of %d "
                     "rows each, %d-column stages x %d, %lld bytes of shared memory",
                     &p.m, &p.n, &p.k, &p.mblocks, &p.nblocks, &p.splits, &p.tile_rows, &p.tile_cols, &p.wm, &p.wk,
                     &p.rows, &p.bk, &p.stages, &p.smem);
    if (got != 14)
        fail_msg("unreadable plan line: %.200s", at);
    const char *shared = strstr(at, ", shared split-K tail"), *end = strchr(at, '\n');
    p.shared_tail = shared && (!end || shared < end);
    return p;
}

static void check_shape(int f, int64_t m, int64_t n, int64_t k)
{
    char *ptx = NULL;
    ptx_for(f, "sm_90", m, n, k, &ptx);
    plan_line p = read_plan(ptx);
    char what[128];
    snprintf(what, sizeof what, "form %d, %lld x %lld x %lld", f, p.m, p.n, p.k);
    assert_true(p.m == m && p.n == n && p.k == k);
    long long block_rows = (long long)p.wm * p.rows;
    if (p.tile_rows != block_rows || p.tile_cols % 16 || p.tile_cols > 64 ||
        (p.tile_cols < 64 && p.tile_cols < n && p.tile_cols != 16 && p.tile_cols != 32))
        fail_msg("%s: %lld x %d tiles of %d warp rows", what, p.tile_rows, p.tile_cols, p.wm);
    if (p.mblocks != ceil_div(m, block_rows) || p.nblocks != ceil_div(n, p.tile_cols))
        fail_msg("%s: grid %lld x %lld does not cover the result in blocks of %lld x %d", what, p.mblocks, p.nblocks,
                 block_rows, p.tile_cols);
    if (p.splits < 1 || p.splits > ceil_div(k, p.bk))
        fail_msg("%s: %lld splits of %lld stages", what, p.splits, ceil_div(k, p.bk));
    int warps = p.wm * p.wk;
    if ((warps != 8 && warps != 16) || p.wk > 8 || (p.rows != 16 && p.rows != 32))
        fail_msg("%s: warp grid %d x %d of %d rows", what, p.wm, p.wk, p.rows);
    if (p.bk != (p.wk == 8 ? 128 : 64) || p.stages < 2)
        fail_msg("%s: %d-column stages x %d", what, p.bk, p.stages);
    /* two 8-warp blocks share an SM, unless the grid leaves each its own */
    bool own_sm = p.mblocks * p.nblocks * p.splits <= 132;
    if (p.smem > MAX_SHARED || (warps == 8 && !own_sm && p.smem > 100 * 1024))
        fail_msg("%s: %lld bytes of shared memory (%d warps, %lld blocks)", what, p.smem, warps,
                 p.mblocks * p.nblocks * p.splits);
    char ntid[32];
    snprintf(ntid, sizeof ntid, ".maxntid %d", 32 * warps);
    if (!strstr(ptx, ntid))
        fail_msg("%s: the kernel does not say %s", what, ntid);
    assert_non_null(strstr(ptx, "mma.sync.aligned.m16n8k16"));
    assert_non_null(strstr(ptx, "ldmatrix.sync.aligned.m8n8.x4"));
    char map[64];
    snprintf(map, sizeof map, ".param .align 64 .b8 nf_k0_param_%d[128]", f == 2 ? 6 : 5); /* after the slots, n, scratch */
    bool tma = strstr(ptx, "cp.async.bulk.tensor.2d") && strstr(ptx, "mbarrier.try_wait.parity") && strstr(ptx, map);
    if (!tma || strstr(ptx, "cp.async.cg"))
        fail_msg("%s: sm_90 copies with %s", what, tma ? "TMA and cp.async" : "cp.async");
    free(ptx);
}

/* The tilings measured fastest on the H100 (docs/GEMM.md, "The plan") for
 * the bf16 head gate are the ones the planner picks for a GPU of 132 SMs: a
 * change to the cost model that moves them needs new measurements. */
static void the_measured_plans(void **state)
{
    (void)state;
    static const struct { int form; int64_t t; long long rows; int cols; long long splits; int warps; } best[] = {
        /* up to 8 row tiles: 16 x 16 tiles (16 x 32 past 4), K split into even shares of 2-4 stages */
        {0, 16, 16, 16, 28, 8},   {0, 32, 16, 16, 14, 8},  {0, 64, 16, 16, 14, 8}, {0, 128, 16, 32, 14, 8},
        {0, 512, 64, 64, 16, 8},  {0, 2048, 64, 64, 8, 8}, {0, 2600, 64, 64, 4, 8}, {0, 3500, 64, 64, 2, 8}, {0, 8192, 32, 64, 1, 8}, {0, 16384, 128, 64, 1, 8},
        {2, 32, 16, 16, 14, 8},   {2, 128, 16, 32, 14, 8},
        {2, 2048, 128, 64, 8, 8}, {2, 8192, 256, 64, 4, 8}, {2, 16384, 256, 64, 2, 8}, /* fp32 weights: two row tiles a warp */
    };
    for (size_t i = 0; i < sizeof best / sizeof best[0]; i++) {
        char *ptx = NULL;
        ptx_for(best[i].form, "sm_90", best[i].t, 64, 7168, &ptx);
        plan_line p = read_plan(ptx);
        if (p.tile_rows != best[i].rows || p.tile_cols != best[i].cols || p.splits != best[i].splits ||
            p.wm * p.wk != best[i].warps)
            fail_msg("T = %lld: %lld x %d tiles x %lld splits of %d warps; measured best: %lld x %d x %lld of %d", p.m,
                     p.tile_rows, p.tile_cols, p.splits, p.wm * p.wk, best[i].rows, best[i].cols, best[i].splits,
                     best[i].warps);
        free(ptx);
    }
}

/* A's tiles are marked evict-first in L2 only where A would fill 2/3 of it
 * (50 MB when the GPU is unknown): at T = 2048 (29 MB) consecutive calls
 * find A in L2, at 8192 (117 MB) it would push W out. */
static void a_evict_first_where_a_fills_l2(void **state)
{
    (void)state;
    static const struct { int64_t t; bool marked; } cases[] = {{2048, false}, {2600, true}, {8192, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *ptx = NULL;
        ptx_for(0, "sm_90", cases[i].t, 64, 7168, &ptx);
        bool hinted = strstr(ptx, "bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint");
        bool noted = strstr(ptx, "A evict-first in L2");
        if (hinted != cases[i].marked || noted != cases[i].marked)
            fail_msg("T = %lld: A's copies %s an L2 hint (plan line %s), want %s", (long long)cases[i].t,
                     hinted ? "carry" : "lack", noted ? "says so" : "silent", cases[i].marked ? "one" : "none");
        free(ptx);
    }
}

/* sm_90a (an exact CC 9.0 device): 128-row tiles and the fp32-weight
 * tiles run on wgmma, two warpgroups over the rows; sm_90 code never does. */
static void wgmma_only_for_sm90a(void **state)
{
    (void)state;
    static const struct { int form; int64_t t; long long rows, splits; bool wgmma; } cases[] = {
        {0, 16384, 128, 1, true}, {0, 32, 16, 14, false}, {0, 8192, 32, 1, false}, {0, 512, 64, 16, false},
        {0, 1024, 128, 16, true}, {0, 2048, 128, 8, true}, {0, 4096, 128, 4, true},
        {2, 512, 128, 16, true},  {2, 2048, 128, 8, true},  {2, 8192, 256, 4, true}, {2, 16384, 256, 2, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int arch = 0; arch < 2; arch++) {
            char *ptx = NULL;
            ptx_for(cases[i].form, arch ? "sm_90a" : "sm_90", cases[i].t, 64, 7168, &ptx);
            plan_line p = read_plan(ptx);
            bool noted = strstr(ptx, ", wgmma\n") || strstr(ptx, ", wgmma,"), issued = strstr(ptx, "wgmma.mma_async") != NULL;
            bool want = arch && cases[i].wgmma;
            if (noted != want || issued != want)
                fail_msg("T = %lld form %d on %s: wgmma %s (plan line %s), want %s", (long long)cases[i].t,
                         cases[i].form, arch ? "sm_90a" : "sm_90", issued ? "issued" : "absent", noted ? "says so" : "silent",
                         want ? "it" : "none");
            if (arch && (p.tile_rows != cases[i].rows || p.splits != cases[i].splits))
                fail_msg("T = %lld form %d on sm_90a: %lld rows x %lld splits, measured best %lld x %lld",
                         (long long)cases[i].t, cases[i].form, p.tile_rows, p.splits, cases[i].rows, cases[i].splits);
            free(ptx);
        }
}

/* The split-K tail is shared by a tile's blocks (nvptx_gemm_tail.c) where
 * the tile is 64 x 64 to 128 x 64 and split 4 ways or more, the grid all on
 * the GPU at once; elsewhere the last block sums it. tail=0|1 overrides. */
static void shared_tails_where_they_pay(void **state)
{
    (void)state;
    static const struct { int form; int64_t t; const char *plan; bool shared; } cases[] = {
        {0, 16, "", false},   {0, 128, "", false},  {0, 300, "", true},       {0, 512, "", true},
        {0, 2048, "", true},  {0, 4096, "", true},  {0, 8192, "", false},     {2, 300, "", true},
        {2, 2048, "", true},  {2, 8192, "", false}, {0, 2048, "tail=0", false}, {0, 16, "tail=1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("NSAFUSE_GEMM_PLAN", cases[i].plan, 1);
        char *ptx = NULL;
        ptx_for(cases[i].form, "sm_90a", cases[i].t, 64, 7168, &ptx);
        plan_line p = read_plan(ptx);
        bool waits = strstr(ptx, "%globaltimer") != NULL, claims = strstr(ptx, "atom.global.max.u64") != NULL;
        if (p.shared_tail != cases[i].shared || waits != cases[i].shared || claims != cases[i].shared)
            fail_msg("T = %lld form %d, plan '%s' (%lld x %d x %lld): tail %s (waits: %d, claims: %d), want %s",
                     (long long)cases[i].t, cases[i].form, cases[i].plan, p.tile_rows, p.tile_cols, p.splits,
                     p.shared_tail ? "shared" : "by the last block", waits, claims, cases[i].shared ? "shared" : "by the last block");
        free(ptx);
    }
    unsetenv("NSAFUSE_GEMM_PLAN");
}

/* The fp32-weight tiles at N = 32 (smaller models, K = 2560) too: the
 * block is as wide as the result. */
static void fp32_weight_tiles_at_n32(void **state)
{
    (void)state;
    static const struct { int64_t t; long long rows, splits; } cases[] = {{2048, 128, 8}, {8192, 256, 4}, {16384, 256, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int arch = 0; arch < 2; arch++) {
            char *ptx = NULL;
            ptx_for(2, arch ? "sm_90a" : "sm_90", cases[i].t, 32, 2560, &ptx);
            plan_line p = read_plan(ptx);
            if (p.tile_rows != cases[i].rows || p.tile_cols != 32 || p.splits != cases[i].splits)
                fail_msg("T = %lld, N = 32 on %s: %lld x %d tiles x %lld splits, want %lld x 32 x %lld", (long long)cases[i].t,
                         arch ? "sm_90a" : "sm_90", p.tile_rows, p.tile_cols, p.splits, cases[i].rows, cases[i].splits);
            free(ptx);
        }
}

/* sm_80 has no TMA: the same GEMM copies with cp.async there. */
static void sm80_copies_with_cp_async(void **state)
{
    (void)state;
    char *ptx = NULL;
    ptx_for(0, "sm_80", 300, 64, 7168, &ptx);
    assert_non_null(strstr(ptx, "cp.async.cg.shared.global"));
    assert_null(strstr(ptx, "cp.async.bulk"));
    assert_null(strstr(ptx, "mbarrier"));
    free(ptx);
}

static void the_head_gate_shapes(void **state)
{
    (void)state;
    static const int64_t tokens[] = {9, 32, 128, 512, 2048, 8192, 16384};
    for (int f = 0; f < 3; f++)
        for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
            check_shape(f, tokens[i], 64, 7168);
}

/* Random shapes: tails in M, N past 64 and not a multiple of 16, short and
 * long K (smaller models: K 2560-6144, N 32-64). */
static void random_shapes(void **state)
{
    (void)state;
    const char *s = getenv("NF_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 0x91a2;
    printf("seed %" PRIu64 " (NF_TEST_SEED to change)\n", seed);
    static const int64_t ns[] = {8, 24, 32, 40, 64, 72, 128, 200, 256};
    static const int64_t ks[] = {16, 48, 512, 2560, 4096, 6144, 7168, 8192};
    for (int i = 0; i < 36; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = seed >> 16;
        int64_t m = 9 + (int64_t)(r % 20000);
        int64_t n = ns[(r >> 20) % (sizeof ns / sizeof ns[0])];
        int64_t k = ks[(r >> 28) % (sizeof ks / sizeof ks[0])];
        check_shape((int)((r >> 36) % 3), m, n, k);
    }
}

/* Decode sizes take the GEMV (nvptx_gemv.c): up to 8 rows always, up to 32
 * where its grid is one wave on 132 SMs; each block's tile of columns x rows
 * covers the result, and the tiles are those measured on the H100 (head
 * gate, us in a graph of 50: T = 8 2 x 2 2.14 against 1 x 4 2.17 and 1 x 8
 * 2.75; 16 2 x 4 2.40 against 4 x 2 2.51; 24 4 x 4 2.93 against 2 x 4 3.34). */
static void gemv_tiles_at_decode_sizes(void **state)
{
    (void)state;
    static const struct { int form; int64_t t, n, k; int cols, rows; } cases[] = {
        {0, 1, 64, 7168, 1, 1},  {0, 2, 64, 7168, 1, 1},  {0, 8, 64, 7168, 2, 2},  {0, 16, 64, 7168, 2, 4},
        {0, 24, 64, 7168, 4, 4}, {0, 32, 64, 7168, 4, 4}, {2, 8, 64, 7168, 2, 2},  {1, 32, 64, 7168, 4, 4},
        {2, 5, 32, 2560, 1, 2},  {0, 8, 4096, 7168, 4, 4}, {0, 40, 64, 7168, 0, 0}, {0, 32, 256, 7168, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *ptx = NULL;
        dump_ptx(cases[i].form, "sm_90", cases[i].t, cases[i].n, cases[i].k, false, &ptx);
        const char *at = strstr(ptx, "// nf_k0: gemv ");
        long long m, n, k, bx, by;
        int cols = 0, rows = 0, threads = 0;
        if (at && sscanf(at, "// nf_k0: gemv %lldx%lldx%lld, blocks %lld x %lld of %d columns x %d rows, %d threads",
                         &m, &n, &k, &bx, &by, &cols, &rows, &threads) != 8)
            fail_msg("unreadable GEMV line: %.160s", at);
        if (!cases[i].cols) {
            if (at || !strstr(ptx, "// nf_k0: gemm "))
                fail_msg("T = %lld, N = %lld: a GEMV, want the tensor cores", (long long)cases[i].t, (long long)cases[i].n);
        } else {
            if (!at)
                fail_msg("T = %lld, N = %lld: no GEMV", (long long)cases[i].t, (long long)cases[i].n);
            if (cols != cases[i].cols || rows != cases[i].rows)
                fail_msg("T = %lld form %d: %d x %d tiles, want %d x %d", (long long)cases[i].t, cases[i].form, cols, rows,
                         cases[i].cols, cases[i].rows);
            if (bx * cols != n || by != ceil_div(m, rows) || (by - 1) * rows >= m || threads % 32 || threads > 256)
                fail_msg("T = %lld: blocks %lld x %lld of %d x %d (%d threads) for %lld x %lld", (long long)cases[i].t, bx, by,
                         cols, rows, threads, m, n);
            char ntid[32];
            snprintf(ntid, sizeof ntid, ".maxntid %d", threads);
            assert_non_null(strstr(ptx, ntid));
        }
        free(ptx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_head_gate_shapes),
        cmocka_unit_test(random_shapes),
        cmocka_unit_test(the_measured_plans),
        cmocka_unit_test(a_evict_first_where_a_fills_l2),
        cmocka_unit_test(sm80_copies_with_cp_async),
        cmocka_unit_test(wgmma_only_for_sm90a),
        cmocka_unit_test(fp32_weight_tiles_at_n32),
        cmocka_unit_test(shared_tails_where_they_pay),
        cmocka_unit_test(gemv_tiles_at_decode_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
