/* The reference interpreter's linear and matmul: hand-computed products,
 * the single rounding of an exact sum, K = 0, and the NSA head gate on random
 * data against an independent re-computation. */
#include "interp_test_util.h"

/* ---- linear and matmul ---------------------------------------------------- */

static void test_matmul_small(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("matmul");
    nf_value *a = param(g, "a", NF_F32, 2, SHAPE(2, 3), NULL), *b = param(g, "b", NF_F32, 2, SHAPE(3, 2), NULL);
    nf_value *bt = param(g, "bt", NF_F32, 2, SHAPE(2, 3), NULL), *x = param(g, "x", NF_F32, 3, SHAPE(2, 1, 3), NULL);
    nf_value *d = param(g, "d", NF_F64, 2, SHAPE(1, 2), NULL);
    nf_value *outs[] = {nf_matmul(g, a, b, false, NF_DTYPE_NONE), nf_matmul(g, a, bt, true, NF_DTYPE_NONE),
                        nf_linear(g, x, bt, NF_DTYPE_NONE), nf_linear(g, d, d, NF_DTYPE_NONE),
                        nf_matmul(g, nf_transpose(g, b, 0, 1), nf_transpose(g, a, 0, 1), false, NF_DTYPE_NONE)};
    finish(g, NELEM(outs), outs);
    float av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {1, 2, 3, 4, 5, 6}, btv[6] = {1, 3, 5, 2, 4, 6};
    float xv[6] = {1, 0, -1, 0.5f, 0.25f, 0.125f};
    double dv[2] = {0.1, 0.2};
    float o0[4], o1[4], o2[4], o4[4];
    double o3;
    nf_tensor in[5] = {tens(av, NF_F32, 2, SHAPE(2, 3)), tens(bv, NF_F32, 2, SHAPE(3, 2)),
                       tens(btv, NF_F32, 2, SHAPE(2, 3)), tens(xv, NF_F32, 3, SHAPE(2, 1, 3)),
                       tens(dv, NF_F64, 2, SHAPE(1, 2))};
    nf_tensor out[5] = {tens(o0, NF_F32, 2, SHAPE(2, 2)), tens(o1, NF_F32, 2, SHAPE(2, 2)),
                        tens(o2, NF_F32, 3, SHAPE(2, 1, 2)), tens(&o3, NF_F64, 2, SHAPE(1, 1)),
                        tens(o4, NF_F32, 2, SHAPE(2, 2))};
    for (int k = 0; k < 5; k++)
        poison(&out[k], NAN);
    run_ok(g, in, 5, out, 5);
    expect_values("a @ b", o0, NF_F32, (const double[]){22, 28, 49, 64}, 4);
    expect_values("a @ bt^T", o1, NF_F32, (const double[]){22, 28, 49, 64}, 4);
    expect_values("linear rank 3", o2, NF_F32, (const double[]){-4, -4, 1.875, 2.75}, 4);
    expect_values("f64 linear keeps double", &o3, NF_F64, (const double[]){0.1 * 0.1 + 0.2 * 0.2}, 1);
    expect_values("b^T @ a^T (strided operands)", o4, NF_F32, (const double[]){22, 49, 28, 64}, 4);
    nf_graph_free(g);
}

/* The sum is rounded once: to f32, then to the output dtype. */
static void test_linear_rounding(void **state)
{
    (void)state;
    enum { K = 5 };
    nf_graph *g = nf_graph_new("linear_rounding");
    nf_value *x = param(g, "x", NF_BF16, 2, SHAPE(2, K), NULL), *w = param(g, "w", NF_BF16, 2, SHAPE(1, K), NULL);
    nf_value *outs[2] = {nf_linear(g, x, w, NF_DTYPE_NONE), nf_linear(g, x, w, NF_F32)};
    finish(g, 2, outs);
    /* Row 0: 1 + 2^-9 + 2^-9 = 1 + 2^-8, a bf16 tie -> 1.0; as f32 exact.
     * Row 1: 1 + 2^-24 + 2^-24 + 2^-30 in f32 steps would lose the small
     * terms; summed exactly it is 1 + 2^-23 + 2^-30, f32 1 + 2^-23. */
    uint16_t xv[2 * K] = {bf(1), bf(0x1p-9f), bf(0x1p-9f), 0, 0, bf(1), bf(0x1p-24f), bf(0x1p-24f), bf(0x1p-30f), 0};
    uint16_t wv[K] = {bf(1), bf(1), bf(1), bf(1), bf(1)}, ob[2];
    float of[2];
    nf_tensor in[2] = {tens(xv, NF_BF16, 2, SHAPE(2, K)), tens(wv, NF_BF16, 2, SHAPE(1, K))};
    nf_tensor out[2] = {tens(ob, NF_BF16, 2, SHAPE(2, 1)), tens(of, NF_F32, 2, SHAPE(2, 1))};
    poison(&out[0], NAN);
    poison(&out[1], NAN);
    run_ok(g, in, 2, out, 2);
    expect_bits16("bf16 linear", ob, (const uint16_t[]){0x3F80, 0x3F80}, 2);
    expect_values("f32-output linear", of, NF_F32, (const double[]){1.0 + 0x1p-8, 1.0 + 0x1p-23}, 2);
    nf_graph_free(g);
}

static void test_linear_empty_k(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("empty_k");
    nf_value *x = param(g, "x", NF_F16, 2, SHAPE(3, 0), NULL), *w = param(g, "w", NF_F16, 2, SHAPE(5, 0), NULL);
    nf_value *o = nf_linear(g, x, w, NF_F32);
    finish(g, 1, &o);
    float ov[15];
    nf_tensor in[2] = {tens(NULL, NF_F16, 2, SHAPE(3, 0)), tens(NULL, NF_F16, 2, SHAPE(5, 0))};
    nf_tensor out = tens(ov, NF_F32, 2, SHAPE(3, 5));
    poison(&out, NAN);
    run_ok(g, in, 2, &out, 1);
    for (int i = 0; i < 15; i++)
        if (!same(ov[i], 0.0))
            fail_msg("K = 0: element %d is %g, want 0", i, ov[i]);
    nf_graph_free(g);
}

/* The NSA indexer head gate (CONTRACT.md) on random data, against a direct
 * re-computation in f32 arithmetic. */
static void check_head_gate(bool f32_output)
{
    enum { K = 7168, H = 64 };
    uint64_t seed = test_seed(), rng = seed;
    int64_t T = 1 + (int64_t)(rng_next(&rng) % 40);
    nf_graph *g = nf_graph_new("logits_head_gate");
    nf_value *x = param(g, "x", NF_BF16, 2, SHAPE(T, K), "T"), *w = param(g, "w", NF_BF16, 2, SHAPE(H, K), NULL);
    nf_value *q = param(g, "q_scale", NF_F32, 3, SHAPE(T, H, 1), "T");
    nf_value *yf = f32_output ? nf_linear(g, x, w, NF_F32) : nf_cast(g, nf_linear(g, x, w, NF_DTYPE_NONE), NF_F32);
    nf_value *s = nf_binary(g, NF_OP_MUL, yf, nf_scalar(g, 0.125));
    nf_value *gg = nf_binary(g, NF_OP_MUL, nf_unsqueeze(g, s, -1), q);
    nf_value *o = nf_binary(g, NF_OP_MUL, gg, nf_scalar(g, 0.08838834764831845));
    finish(g, 1, &o);

    uint16_t *xv = malloc(sizeof *xv * (size_t)(T * K)), *wv = malloc(sizeof *wv * H * K);
    float *qv = malloc(sizeof *qv * (size_t)(T * H)), *ov = malloc(sizeof *ov * (size_t)(T * H));
    assert_non_null(xv);
    assert_non_null(wv);
    assert_non_null(qv);
    assert_non_null(ov);
    for (int64_t i = 0; i < T * K; i++)
        xv[i] = bf((float)rng_uniform(&rng));
    for (int64_t i = 0; i < H * K; i++)
        wv[i] = bf((float)(rng_uniform(&rng) * 0.05));
    for (int64_t i = 0; i < T * H; i++)
        qv[i] = (float)rng_uniform(&rng);
    nf_tensor in[3] = {tens(xv, NF_BF16, 2, SHAPE(T, K)), tens(wv, NF_BF16, 2, SHAPE(H, K)),
                       tens(qv, NF_F32, 3, SHAPE(T, H, 1))};
    nf_tensor out = tens(ov, NF_F32, 3, SHAPE(T, H, 1));
    poison(&out, NAN);
    run_ok(g, in, 3, &out, 1);
    const float scale = (float)0.08838834764831845;
    for (int64_t t = 0; t < T; t++) {
        for (int n = 0; n < H; n++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)nf_bf16_to_f32(xv[t * K + k]) * (double)nf_bf16_to_f32(wv[n * K + k]);
            float y = f32_output ? (float)acc : nf_bf16_to_f32(bf((float)acc));
            float want = y * 0.125f * qv[t * H + n] * scale;
            if (!same(ov[t * H + n], want))
                fail_msg("seed %" PRIu64 ", T = %lld, %s: element [%lld, %d] is %a, want %a", seed, (long long)T,
                         f32_output ? "f32 output" : "bf16 output", (long long)t, n, ov[t * H + n], want);
        }
    }
    free(xv);
    free(wv);
    free(qv);
    free(ov);
    nf_graph_free(g);
}

static void test_head_gate_bf16(void **state)
{
    (void)state;
    check_head_gate(false);
}

static void test_head_gate_f32_output(void **state)
{
    (void)state;
    check_head_gate(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_small),
        cmocka_unit_test(test_linear_rounding),
        cmocka_unit_test(test_linear_empty_k),
        cmocka_unit_test(test_head_gate_bf16),
        cmocka_unit_test(test_head_gate_f32_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
