/* The AMDGPU MFMA GEMM's index maps, modeled on the host (no AMD GPU here).
 *
 * The model of the hardware: the ISA's fragment layouts, written here from
 * the documentation, independently of src/codegen/amdgpu_mfma.c. Source: AMD
 * Matrix Instruction Calculator (github.com/ROCm/amd_matrix_instruction_calculator,
 * matrix_calculator.py, InstCalcGfx9.__get_input_reg_lanes and
 * __get_output_reg_lanes, the rule behind its tables for
 * v_mfma_f32_16x16x16bf16_1k / v_mfma_f32_16x16x16f16 on cdna2 and cdna3),
 * to which the CDNA3 ISA guide refers for these layouts; for one block of
 * M = 16 rows and depth K:
 *   input element (i, k)  -> lane i + 16 * (k / E), item k % E,  E = K / (64 / 16)
 *   output element (i, j) -> lane j + 16 * (i / 4), item i % 4   (16 x 16 f32)
 * gfx950's 16x16x32 forms (CDNA4 ISA guide) are the same rule with K = 32.
 *
 * What is checked:
 *  - the generator's lane maps (nf_mfma_ab_element, nf_mfma_d_element) are
 *    the exact inverse of the ISA rule, for every instruction it uses;
 *  - a lane's items lie consecutively along K (one vector load each);
 *  - the generator's choice of instruction per target and K;
 *  - a host simulation of the whole kernel built from the very functions the
 *    generator emits its addresses from (nf_mfma_tile, nf_mfma_wave_origin,
 *    nf_mfma_a_source, nf_mfma_b_source, nf_mfma_d_target), with the MFMA
 *    itself computed through the ISA model above, equals a plain GEMM on
 *    random integer matrices (exact), writes every output exactly once and
 *    reads nothing out of bounds, for random shapes with tails in M and N. */
#include "codegen/amdgpu_mfma.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

/* ---- the ISA model ------------------------------------------------------- */

static void isa_input_location(int K, int i, int k, int *lane, int *item)
{
    int per_lane = K / (64 / 16);
    *lane = i + 16 * (k / per_lane);
    *item = k % per_lane;
}

static void isa_output_location(int i, int j, int *lane, int *item)
{
    *lane = j + 16 * (i / 4);
    *item = i % 4;
}

enum { MAX_ITEMS = 8 };

/* D = A B + C for one 16 x 16 x K instruction, every operand as registers
 * (reg[lane][item]), placed by the ISA model. */
static void isa_mfma(int K, const double a[64][MAX_ITEMS], const double b[64][MAX_ITEMS], double c[64][4])
{
    double d[64][4];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            int lane, item;
            isa_output_location(i, j, &lane, &item);
            double sum = c[lane][item];
            for (int k = 0; k < K; k++) {
                int la, ia, lb, ib;
                isa_input_location(K, i, k, &la, &ia);
                isa_input_location(K, j, k, &lb, &ib);
                sum += a[la][ia] * b[lb][ib];
            }
            d[lane][item] = sum;
        }
    memcpy(c, d, sizeof d);
}

/* ---- the lane maps against the ISA ---------------------------------------- */

static const nf_ix_env host = {0};
static nf_ix num(int64_t c) { return (nf_ix){c, NULL}; }

static void lane_maps_invert_the_isa_layout(void **state)
{
    (void)state;
    int count;
    const nf_mfma *ops = nf_mfma_list(&count);
    assert_true(count >= 4);
    for (int o = 0; o < count; o++) {
        const nf_mfma *op = &ops[o];
        assert_int_equal(op->m, 16);
        assert_int_equal(op->n, 16);
        assert_int_equal(op->ab_items, op->k / 4);
        assert_int_equal(op->d_items, 4);
        assert_true(op->ab_items <= MAX_ITEMS);
        int seen_ab[16][32] = {{0}}, seen_d[16][16] = {{0}};
        for (int lane = 0; lane < 64; lane++) {
            nf_ix mn0, k0;
            nf_mfma_ab_element(op, &host, num(lane), 0, &mn0, &k0);
            for (int item = 0; item < op->ab_items; item++) {
                nf_ix mn, k;
                nf_mfma_ab_element(op, &host, num(lane), item, &mn, &k);
                if (mn.c < 0 || mn.c >= 16 || k.c < 0 || k.c >= op->k)
                    fail_msg("%s: lane %d item %d -> (%lld, %lld), outside 16 x %d", op->intrinsic, lane, item,
                             (long long)mn.c, (long long)k.c, op->k);
                int isa_lane, isa_item;
                isa_input_location(op->k, (int)mn.c, (int)k.c, &isa_lane, &isa_item);
                if (isa_lane != lane || isa_item != item)
                    fail_msg("%s: the generator puts A[%lld][%lld] in lane %d item %d, the ISA in lane %d item %d",
                             op->intrinsic, (long long)mn.c, (long long)k.c, lane, item, isa_lane, isa_item);
                /* one vector load per lane: items consecutive along K in one row */
                if (mn.c != mn0.c || k.c != k0.c + item)
                    fail_msg("%s: lane %d's items are not consecutive along K", op->intrinsic, lane);
                seen_ab[mn.c][k.c]++;
            }
            for (int item = 0; item < op->d_items; item++) {
                nf_ix i, j;
                nf_mfma_d_element(op, &host, num(lane), item, &i, &j);
                assert_true(i.c >= 0 && i.c < 16 && j.c >= 0 && j.c < 16);
                int isa_lane, isa_item;
                isa_output_location((int)i.c, (int)j.c, &isa_lane, &isa_item);
                if (isa_lane != lane || isa_item != item)
                    fail_msg("%s: the generator reads D[%lld][%lld] from lane %d item %d, the ISA has it in lane %d "
                             "item %d",
                             op->intrinsic, (long long)i.c, (long long)j.c, lane, item, isa_lane, isa_item);
                seen_d[i.c][j.c]++;
            }
        }
        for (int i = 0; i < 16; i++) {
            for (int k = 0; k < op->k; k++)
                assert_int_equal(seen_ab[i][k], 1);
            for (int j = 0; j < 16; j++)
                assert_int_equal(seen_d[i][j], 1);
        }
    }
    printf("lane maps of %d MFMA instructions: the inverse of the ISA layout\n", count);
}

/* ---- which instruction ------------------------------------------------------ */

static void instruction_choice(void **state)
{
    (void)state;
    static const struct {
        const char *target;
        nf_dtype in;
        int64_t K;
        const char *want; /* NULL: none */
    } cases[] = {
        {"gfx90a", NF_BF16, 7168, "llvm.amdgcn.mfma.f32.16x16x16bf16.1k"},
        {"gfx942", NF_BF16, 7168, "llvm.amdgcn.mfma.f32.16x16x16bf16.1k"},
        {"gfx942", NF_F16, 48, "llvm.amdgcn.mfma.f32.16x16x16f16"},
        {"gfx950", NF_BF16, 7168, "llvm.amdgcn.mfma.f32.16x16x32.bf16"},
        {"gfx950", NF_F16, 64, "llvm.amdgcn.mfma.f32.16x16x32.f16"},
        {"gfx950", NF_BF16, 48, "llvm.amdgcn.mfma.f32.16x16x16bf16.1k"},
        {"gfx950", NF_F16, 16, "llvm.amdgcn.mfma.f32.16x16x16f16"},
        {"gfx942", NF_BF16, 24, NULL},
        {"gfx942", NF_F32, 64, NULL},
        {"sm_90", NF_BF16, 64, NULL},
        {"host", NF_BF16, 64, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nf_target *t = nf_target_find(cases[i].target);
        assert_non_null(t);
        const nf_mfma *op = nf_mfma_pick(t, cases[i].in, cases[i].K);
        const char *got = op ? op->intrinsic : NULL;
        if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want)))
            fail_msg("%s, K = %lld: got %s, want %s", cases[i].target, (long long)cases[i].K, got ? got : "none",
                     cases[i].want ? cases[i].want : "none");
    }
}

/* ---- the whole kernel, simulated ------------------------------------------------ */

static uint64_t rng_state;
static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t random_in(int64_t lo, int64_t hi) { return lo + (int64_t)(next_random() % (uint64_t)(hi - lo + 1)); }

typedef struct problem {
    int64_t M, N, K;
    double *a, *b; /* A[M][K], B[N][K] (linear's weight layout) */
    double *out;   /* [M][N], NaN-poisoned */
    int *writes;   /* [M][N] */
} problem;

/* One wave's k loop and stores, every address from the generator's maps.
 * Returns false (after fail_msg) never; problems are reported through cmocka. */
static void simulate_wave(const nf_mfma_tiling *t, const problem *p, nf_ix m0, nf_ix n0, const char *what)
{
    const nf_mfma *op = t->op;
    static double acc[4][64][4];
    memset(acc, 0, sizeof acc);
    for (int64_t k0 = 0; k0 < p->K; k0 += op->k) {
        static double a[64][MAX_ITEMS], b[64][MAX_ITEMS];
        for (int lane = 0; lane < 64; lane++)
            for (int item = 0; item < op->ab_items; item++) {
                nf_ix row, col;
                nf_mfma_a_source(t, &host, m0, num(k0), num(lane), item, &row, &col);
                if (row.c < 0 || col.c < 0 || col.c >= p->K)
                    fail_msg("%s: lane %d reads A[%lld][%lld] out of bounds", what, lane, (long long)row.c,
                             (long long)col.c);
                /* rows past M: loaded as zeros (the kernel clamps the address) */
                a[lane][item] = row.c < p->M ? p->a[row.c * p->K + col.c] : 0.0;
            }
        for (int j = 0; j < t->tiles; j++) {
            for (int lane = 0; lane < 64; lane++)
                for (int item = 0; item < op->ab_items; item++) {
                    nf_ix n, col;
                    nf_mfma_b_source(t, &host, n0, j, num(k0), num(lane), item, &n, &col);
                    if (n.c < 0 || col.c < 0 || col.c >= p->K)
                        fail_msg("%s: lane %d reads B[%lld][%lld] out of bounds", what, lane, (long long)n.c,
                                 (long long)col.c);
                    b[lane][item] = n.c < p->N ? p->b[n.c * p->K + col.c] : 0.0;
                }
            isa_mfma(op->k, (const double(*)[MAX_ITEMS])a, (const double(*)[MAX_ITEMS])b, acc[j]);
        }
    }
    for (int j = 0; j < t->tiles; j++)
        for (int lane = 0; lane < 64; lane++)
            for (int item = 0; item < op->d_items; item++) {
                nf_ix m, n;
                nf_mfma_d_target(t, &host, m0, n0, j, num(lane), item, &m, &n);
                if (m.c < 0 || n.c < 0)
                    fail_msg("%s: negative output index", what);
                if (m.c < p->M && n.c < p->N) {
                    p->out[m.c * p->N + n.c] = acc[j][lane][item];
                    p->writes[m.c * p->N + n.c]++;
                }
            }
}

static void simulate_kernel(const nf_mfma_tiling *t, const problem *p, const char *what)
{
    for (int64_t bx = 0; bx < t->mblocks; bx++)
        for (int64_t by = 0; by < t->nblocks; by++)
            for (int w = 0; w < NF_MFMA_WAVES; w++) {
                nf_ix m0, n0;
                nf_mfma_wave_origin(t, &host, num(bx), num(by), num(w), &m0, &n0);
                if (m0.c < p->M && n0.c < p->N) /* the kernel's idle-wave test */
                    simulate_wave(t, p, m0, n0, what);
            }
}

static void check_one(const nf_mfma *op, int64_t M, int64_t N, int64_t K, int cus, uint64_t seed)
{
    problem p = {M, N, K, NULL, NULL, NULL, NULL};
    p.a = malloc((size_t)(M * K) * sizeof *p.a);
    p.b = malloc((size_t)(N * K) * sizeof *p.b);
    p.out = malloc((size_t)(M * N) * sizeof *p.out);
    p.writes = calloc((size_t)(M * N), sizeof *p.writes);
    assert_true(p.a && p.b && p.out && p.writes);
    for (int64_t i = 0; i < M * K; i++)
        p.a[i] = (double)random_in(-8, 8);
    for (int64_t i = 0; i < N * K; i++)
        p.b[i] = (double)random_in(-8, 8);
    for (int64_t i = 0; i < M * N; i++)
        p.out[i] = NAN;
    nf_mfma_tiling t = nf_mfma_tile(op, M, N, K, cus);
    char what[256];
    snprintf(what, sizeof what, "%s, M = %lld, N = %lld, K = %lld, %d CUs (tiling %dx%d waves, %d tiles, grid %lldx%lld; "
             "seed %llu)", op->intrinsic, (long long)M, (long long)N, (long long)K, cus, t.wm, t.wn, t.tiles,
             (long long)t.mblocks, (long long)t.nblocks, (unsigned long long)seed);
    assert_true(t.wm * t.wn == NF_MFMA_WAVES && t.tiles >= 1 && t.tiles <= 4);
    simulate_kernel(&t, &p, what);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double want = 0;
            for (int64_t k = 0; k < K; k++)
                want += p.a[m * K + k] * p.b[n * K + k];
            int writes = p.writes[m * N + n];
            double got = p.out[m * N + n];
            if (writes != 1 || !(got == want))
                fail_msg("%s: out[%lld][%lld] = %g (written %d times), want %g", what, (long long)m, (long long)n, got,
                         writes, want);
        }
    free(p.a);
    free(p.b);
    free(p.out);
    free(p.writes);
}

static void simulated_kernel_equals_plain_gemm(void **state)
{
    (void)state;
    uint64_t seed = getenv("NF_TEST_SEED") ? strtoull(getenv("NF_TEST_SEED"), NULL, 0) : (uint64_t)time(NULL);
    int rounds = getenv("NF_TEST_GRAPHS") ? atoi(getenv("NF_TEST_GRAPHS")) : 24;
    printf("simulated MFMA GEMM: seed %llu (rerun with NF_TEST_SEED=%llu), %d random shapes per instruction\n",
           (unsigned long long)seed, (unsigned long long)seed, rounds);
    rng_state = seed * 2654435761u + 1;
    int count;
    const nf_mfma *ops = nf_mfma_list(&count);
    /* the head gate's decode and a small prefill, then random shapes */
    static const int cus_choices[] = {1, 8, 304};
    for (int o = 0; o < count; o++) {
        check_one(&ops[o], 1, 64, 7168, 304, seed);
        check_one(&ops[o], 100, 64, 128, 304, seed);
        for (int r = 0; r < rounds; r++) {
            int64_t M = random_in(1, 90), N = random_in(1, 150), K = ops[o].k * random_in(1, 6);
            check_one(&ops[o], M, N, K, cus_choices[random_in(0, 2)], seed);
        }
    }
    printf("simulated MFMA GEMM: %d instructions x %d shapes equal the plain GEMM exactly\n", count, rounds + 2);
}

/* Tilings are sane for the sizes the examples use (decode .. prefill). */
static void tilings_cover_the_grid(void **state)
{
    (void)state;
    int count;
    const nf_mfma *ops = nf_mfma_list(&count);
    static const int64_t Ms[] = {1, 2, 7, 16, 17, 33, 64, 1000, 16384};
    static const int64_t Ns[] = {1, 8, 16, 64, 100, 7168};
    for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++)
        for (size_t j = 0; j < sizeof Ns / sizeof Ns[0]; j++) {
            nf_mfma_tiling t = nf_mfma_tile(&ops[0], Ms[i], Ns[j], 7168, 304);
            int64_t rows = t.mblocks * 16 * t.wm, cols = t.nblocks * 16 * t.tiles * t.wn;
            /* covers M x N, and not a whole workgroup row or column more */
            if (rows < Ms[i] || cols < Ns[j] || rows - Ms[i] >= 16 * t.wm || cols - Ns[j] >= 16 * t.tiles * t.wn)
                fail_msg("M = %lld, N = %lld: grid %lldx%lld of %dx%d waves, %d tiles covers %lld x %lld",
                         (long long)Ms[i], (long long)Ns[j], (long long)t.mblocks, (long long)t.nblocks, t.wm, t.wn,
                         t.tiles, (long long)rows, (long long)cols);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lane_maps_invert_the_isa_layout),
        cmocka_unit_test(instruction_choice),
        cmocka_unit_test(tilings_cover_the_grid),
        cmocka_unit_test(simulated_kernel_equals_plain_gemm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
