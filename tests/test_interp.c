/* The reference interpreter: every elementwise op and dtype on
 * hand-computed values, rounding ties, subnormals, NaN/inf, broadcasting,
 * views, strides, and error reporting. linear/matmul: test_interp_gemm.c. */
#include "interp_test_util.h"

/* Under AddressSanitizer, let a failed giant malloc return NULL (the
 * interpreter reports it) instead of aborting. Unused without ASan; visible
 * despite -fvisibility=hidden so that the sanitizer runtime finds it. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- elementwise, f32 ---------------------------------------------------- */

static void test_binary_f32(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("binary_f32");
    nf_value *a = param(g, "a", NF_F32, 1, SHAPE(6), NULL), *b = param(g, "b", NF_F32, 1, SHAPE(6), NULL);
    const nf_op ops[] = {NF_OP_ADD, NF_OP_SUB, NF_OP_MUL, NF_OP_DIV, NF_OP_MAX, NF_OP_MIN, NF_OP_POW};
    nf_value *outs[NELEM(ops)];
    for (int i = 0; i < NELEM(ops); i++)
        outs[i] = nf_binary(g, ops[i], a, b);
    finish(g, NELEM(ops), outs);

    float av[6] = {1.5f, -2.0f, 1.0f, NAN, 0.0f, 2.0f};
    float bv[6] = {0.25f, 4.0f, 3.0f, 1.0f, INFINITY, -0.5f};
    float ov[NELEM(ops)][6];
    nf_tensor in[2] = {tens(av, NF_F32, 1, SHAPE(6)), tens(bv, NF_F32, 1, SHAPE(6))}, out[NELEM(ops)];
    for (int i = 0; i < NELEM(ops); i++) {
        out[i] = tens(ov[i], NF_F32, 1, SHAPE(6));
        poison(&out[i], 1234.5);
    }
    run_ok(g, in, 2, out, NELEM(ops));
    const double want[NELEM(ops)][6] = {
        {1.75, 2.0, 4.0, NAN, INFINITY, 1.5},
        {1.25, -6.0, -2.0, NAN, -INFINITY, 2.5},
        {0.375, -8.0, 3.0, NAN, NAN /* 0 * inf */, -1.0},
        {6.0, -0.5, f32r(1.0 / 3.0), NAN, 0.0, -4.0},
        {1.5, 4.0, 3.0, NAN, INFINITY, 2.0},
        {0.25, -2.0, 1.0, NAN, 0.0, -0.5},
        {f32r(pow(1.5, 0.25)), 16.0, 1.0, NAN, 0.0, f32r(M_SQRT1_2)},
    };
    for (int i = 0; i < NELEM(ops); i++)
        expect_values(nf_op_name(ops[i]), ov[i], NF_F32, want[i], 6);
    nf_graph_free(g);
}

/* f32 math is IEEE f32 math: one rounding per op. */
static void test_f32_rounding(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("f32_rounding");
    nf_value *a = param(g, "a", NF_F32, 1, SHAPE(3), NULL), *b = param(g, "b", NF_F32, 1, SHAPE(3), NULL);
    nf_value *outs[2] = {nf_binary(g, NF_OP_ADD, a, b), nf_binary(g, NF_OP_MUL, a, b)};
    finish(g, 2, outs);
    float av[3] = {1.0f, 1.0f + 0x1p-23f, 1.0f + 0x1p-23f};
    float bv[3] = {0x1p-24f, 0x1p-24f, 1.0f + 0x1p-23f};
    float sum[3], prod[3];
    nf_tensor in[2] = {tens(av, NF_F32, 1, SHAPE(3)), tens(bv, NF_F32, 1, SHAPE(3))};
    nf_tensor out[2] = {tens(sum, NF_F32, 1, SHAPE(3)), tens(prod, NF_F32, 1, SHAPE(3))};
    poison(&out[0], NAN);
    poison(&out[1], NAN);
    run_ok(g, in, 2, out, 2);
    /* 1 + 2^-24 ties to even (1.0); 1+2^-23 + 2^-24 ties to even (1+2^-22);
     * (1+2^-23)^2 = 1 + 2^-22 + 2^-46 rounds to 1 + 2^-22. */
    expect_values("add ties", sum, NF_F32, (const double[]){1.0, 1.0 + 0x1p-22, 2.0 + 0x1p-22}, 3);
    expect_values("mul rounding", prod, NF_F32, (const double[]){0x1p-24, 0x1p-24 + 0x1p-47, 1.0 + 0x1p-22}, 3);
    nf_graph_free(g);
}

/* Transcendentals: correctly rounded f32 values of the exact functions. */
static void test_unary_f32(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("unary_f32");
    nf_value *x = param(g, "x", NF_F32, 1, SHAPE(4), NULL);
    nf_value *ax = nf_unary(g, NF_OP_ABS, x);
    nf_value *outs[] = {
        nf_unary(g, NF_OP_SIGMOID, x), nf_unary(g, NF_OP_SILU, x), nf_gelu(g, x, false), nf_gelu(g, x, true),
        nf_unary(g, NF_OP_TANH, x),    nf_unary(g, NF_OP_EXP, x),  nf_unary(g, NF_OP_SQRT, ax),
        nf_unary(g, NF_OP_RSQRT, ax),  nf_unary(g, NF_OP_LOG, ax), nf_unary(g, NF_OP_NEG, x),
        ax,                            nf_unary(g, NF_OP_RELU, x),
    };
    finish(g, NELEM(outs), outs);
    float xv[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    float ov[NELEM(outs)][4];
    nf_tensor in = tens(xv, NF_F32, 1, SHAPE(4)), out[NELEM(outs)];
    for (int i = 0; i < NELEM(outs); i++) {
        out[i] = tens(ov[i], NF_F32, 1, SHAPE(4));
        poison(&out[i], NAN);
    }
    run_ok(g, &in, 1, out, NELEM(outs));
    /* Exact values (Python's double math), rounded to f32 here. */
    static const double want[][4] = {
        {0.7310585786300049, 0.11920292202211755, 0.6224593312018546, 0.9525741268224334},
        {0.7310585786300049, -0.2384058440442351, 0.3112296656009273, 2.8577223804673},
        {0.8413447460685429, -0.04550026389635842, 0.34573123063700656, 2.99595030590511},
        {0.8411919906082768, -0.04540230591222494, 0.34571400982514394, 2.996362607918227},
        {0.7615941559557649, -0.9640275800758169, 0.46211715726000974, 0.9950547536867305},
        {2.718281828459045, 0.1353352832366127, 1.6487212707001282, 20.085536923187668},
        {1.0, 1.4142135623730951, 0.7071067811865476, 1.7320508075688772},
        {1.0, 0.7071067811865475, 1.414213562373095, 0.5773502691896258},
        {0.0, 0.6931471805599453, -0.6931471805599453, 1.0986122886681098},
        {-1.0, 2.0, -0.5, -3.0},
        {1.0, 2.0, 0.5, 3.0},
        {1.0, 0.0, 0.5, 3.0},
    };
    for (int i = 0; i < NELEM(outs); i++) {
        double w[4];
        for (int j = 0; j < 4; j++)
            w[j] = f32r(want[i][j]);
        expect_values(nf_op_name(outs[i]->op), ov[i], NF_F32, w, 4);
    }
    nf_graph_free(g);
}

static void test_special_values(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("special");
    nf_value *x = param(g, "x", NF_F32, 1, SHAPE(5), NULL);
    nf_value *outs[] = {nf_unary(g, NF_OP_LOG, x), nf_unary(g, NF_OP_EXP, x), nf_unary(g, NF_OP_RELU, x),
                        nf_unary(g, NF_OP_RSQRT, x), nf_unary(g, NF_OP_SIGMOID, x)};
    finish(g, NELEM(outs), outs);
    float xv[5] = {-1.0f, 0.0f, 100.0f, NAN, -0.0f};
    float ov[NELEM(outs)][5];
    nf_tensor in = tens(xv, NF_F32, 1, SHAPE(5)), out[NELEM(outs)];
    for (int i = 0; i < NELEM(outs); i++) {
        out[i] = tens(ov[i], NF_F32, 1, SHAPE(5));
        poison(&out[i], 1234.5);
    }
    run_ok(g, &in, 1, out, NELEM(outs));
    expect_values("log", ov[0], NF_F32, (const double[]){NAN, -INFINITY, f32r(log(100.0)), NAN, -INFINITY}, 5);
    expect_values("exp (100 overflows f32)", ov[1], NF_F32, (const double[]){f32r(exp(-1.0)), 1, INFINITY, NAN, 1}, 5);
    /* relu keeps NaN and, like PyTorch's CPU kernels, -0.0 */
    expect_values("relu", ov[2], NF_F32, (const double[]){0.0, 0.0, 100.0, NAN, -0.0}, 5);
    expect_values("rsqrt", ov[3], NF_F32, (const double[]){NAN, INFINITY, f32r(0.1), NAN, -INFINITY}, 5);
    expect_values("sigmoid", ov[4], NF_F32, (const double[]){f32r(1 / (1 + M_E)), 0.5, 1.0, NAN, 0.5}, 5);
    nf_graph_free(g);
}

/* ---- elementwise, narrow floats ------------------------------------------ */

static void test_bf16_add_ties(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("bf16_add");
    nf_value *a = param(g, "a", NF_BF16, 1, SHAPE(4), NULL), *b = param(g, "b", NF_BF16, 1, SHAPE(4), NULL);
    nf_value *o = nf_binary(g, NF_OP_ADD, a, b);
    finish(g, 1, &o);
    uint16_t av[4] = {bf(1.0f), bf(1.0f), bf(1.0078125f), bf(1.0f)};
    uint16_t bv[4] = {bf(0x1p-8f), bf(0x3p-8f), bf(0x1p-8f), bf(0x1p-9f)}, ov[4];
    nf_tensor in[2] = {tens(av, NF_BF16, 1, SHAPE(4)), tens(bv, NF_BF16, 1, SHAPE(4))};
    nf_tensor out = tens(ov, NF_BF16, 1, SHAPE(4));
    poison(&out, NAN);
    run_ok(g, in, 2, &out, 1);
    /* The exact f32 sums 1+2^-8 and 1+3*2^-8 sit between two bf16 values and
     * go to the even one (checked with torch 1.13). */
    expect_bits16("bf16 add", ov, (const uint16_t[]){0x3F80, 0x3F82, 0x3F82, 0x3F80}, 4);
    nf_graph_free(g);
}

static void test_bf16_unary(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("bf16_unary");
    nf_value *x = param(g, "x", NF_BF16, 1, SHAPE(4), NULL);
    nf_value *outs[] = {nf_unary(g, NF_OP_EXP, x), nf_gelu(g, x, false), nf_unary(g, NF_OP_SIGMOID, x)};
    finish(g, NELEM(outs), outs);
    uint16_t xv[4] = {bf(1.0f), bf(-2.0f), bf(0.5f), bf(3.0f)}, ov[3][4];
    nf_tensor in = tens(xv, NF_BF16, 1, SHAPE(4)), out[3];
    for (int i = 0; i < 3; i++) {
        out[i] = tens(ov[i], NF_BF16, 1, SHAPE(4));
        poison(&out[i], NAN);
    }
    run_ok(g, &in, 1, out, 3);
    /* torch 1.13: torch.exp / gelu / sigmoid of these bf16 values */
    expect_bits16("exp", ov[0], (const uint16_t[]){0x402E, 0x3E0B, 0x3FD3, 0x41A1}, 4);
    expect_bits16("gelu", ov[1], (const uint16_t[]){0x3F57, 0xBD3A, 0x3EB1, 0x4040}, 4);
    expect_bits16("sigmoid", ov[2], (const uint16_t[]){0x3F3B, 0x3DF4, 0x3F1F, 0x3F74}, 4);
    nf_graph_free(g);
}

/* A float literal enters bf16 math as float(literal), PyTorch's
 * original_scalar_value<opmath_t>: 1.046875 * float(0.0883883...) rounds to
 * bf16 0x3DBE, while bf16(0.0883883...) would give 0x3DBD. (torch 1.13's CPU
 * kernel still rounds the literal to bf16 and prints 0x3DBD; current PyTorch
 * on CUDA and CPU uses float.) */
static void test_literal_in_opmath(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("literal");
    nf_value *x = param(g, "x", NF_BF16, 1, SHAPE(3), NULL), *y = param(g, "y", NF_F32, 1, SHAPE(2), NULL);
    nf_value *outs[] = {
        nf_binary(g, NF_OP_MUL, x, nf_scalar(g, 0.08838834764831845)),
        nf_binary(g, NF_OP_MUL, nf_scalar_int(g, 3), x),
        nf_binary(g, NF_OP_ADD, y, nf_scalar(g, 0x1.0000001p-24)),
        nf_binary(g, NF_OP_SUB, nf_scalar(g, 1.0), y),
    };
    finish(g, NELEM(outs), outs);
    assert_int_equal(outs[0]->dtype, NF_BF16);
    assert_int_equal(outs[1]->dtype, NF_BF16);
    uint16_t xv[3] = {0x3F86 /* 1.046875 */, 0x3FA3 /* 1.2734375 */, bf(1.5f)}, o0[3], o1[3];
    float yv[2] = {1.0f, 0x1p-30f}, o2[2], o3[2];
    nf_tensor in[2] = {tens(xv, NF_BF16, 1, SHAPE(3)), tens(yv, NF_F32, 1, SHAPE(2))};
    nf_tensor out[4] = {tens(o0, NF_BF16, 1, SHAPE(3)), tens(o1, NF_BF16, 1, SHAPE(3)), tens(o2, NF_F32, 1, SHAPE(2)),
                        tens(o3, NF_F32, 1, SHAPE(2))};
    for (int i = 0; i < 4; i++)
        poison(&out[i], NAN);
    run_ok(g, in, 2, out, 4);
    uint16_t third = bf(1.5f * (float)0.08838834764831845);
    expect_bits16("bf16 * float literal", o0, (const uint16_t[]){0x3DBE, 0x3DE7, third}, 3);
    /* 3 * 1.046875 = 3.140625 is a bf16 (0x4049); 3 * 1.2734375 = 3.8203125
     * is a tie between 3.8125 and 3.828125 and goes to the even 3.8125. */
    expect_bits16("int literal * bf16", o1, (const uint16_t[]){0x4049, 0x4074, bf(4.5f)}, 3);
    /* float(2^-24 + 2^-52) = 2^-24: 1 + 2^-24 ties to 1.0. With the double
     * literal the sum would round up to 1 + 2^-23. */
    expect_values("f32 + literal", o2, NF_F32, (const double[]){1.0, 0x1p-24 + 0x1p-30}, 2);
    expect_values("literal - f32", o3, NF_F32, (const double[]){0.0, f32r(1.0 - 0x1p-30)}, 2);
    nf_graph_free(g);
}

/* Tensor operands are first converted to the op's dtype, as TensorIterator
 * does: a 0-d f32 tensor in a bf16 op is rounded to bf16 (torch 1.13 CPU:
 * 0x3F82 + 1.0048828125 -> 0x4002, where the unrounded f32 would give
 * 0x4001), and an i64 tensor meets an f32 one as f32(i64), rounded once. */
static void test_operand_conversion(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("operand_conversion");
    nf_value *a = param(g, "a", NF_BF16, 1, SHAPE(1), NULL), *z = param(g, "z", NF_F32, 0, NULL, NULL);
    nf_value *i = param(g, "i", NF_I64, 1, SHAPE(2), NULL), *f = param(g, "f", NF_F32, 1, SHAPE(2), NULL);
    nf_value *outs[2] = {nf_binary(g, NF_OP_ADD, a, z), nf_binary(g, NF_OP_ADD, i, f)};
    finish(g, 2, outs);
    assert_int_equal(outs[0]->dtype, NF_BF16);
    assert_int_equal(outs[1]->dtype, NF_F32);
    uint16_t av[1] = {0x3F82}, o0[1];
    float zv = 1.0048828125f, fv[2] = {0.0f, 0.5f}, o1[2];
    int64_t iv[2] = {(INT64_C(1) << 53) + (INT64_C(1) << 29) + 1, 3};
    nf_tensor in[4] = {tens(av, NF_BF16, 1, SHAPE(1)), tens(&zv, NF_F32, 0, NULL), tens(iv, NF_I64, 1, SHAPE(2)),
                       tens(fv, NF_F32, 1, SHAPE(2))};
    nf_tensor out[2] = {tens(o0, NF_BF16, 1, SHAPE(1)), tens(o1, NF_F32, 1, SHAPE(2))};
    poison(&out[0], NAN);
    poison(&out[1], NAN);
    run_ok(g, in, 4, out, 2);
    expect_bits16("bf16 + 0-d f32", o0, (const uint16_t[]){0x4002}, 1);
    expect_values("i64 + f32", o1, NF_F32, (const double[]){0x1p53 + 0x1p30, 3.5}, 2);
    nf_graph_free(g);
}

/* ---- integers ----------------------------------------------------------- */

static void test_int_ops(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("ints");
    nf_value *a = param(g, "a", NF_I32, 1, SHAPE(6), NULL), *b = param(g, "b", NF_I32, 1, SHAPE(6), NULL);
    nf_value *z = param(g, "z", NF_I64, 0, NULL, NULL);
    nf_value *outs[] = {nf_binary(g, NF_OP_ADD, a, b), nf_binary(g, NF_OP_MUL, a, b),
                        nf_binary(g, NF_OP_POW, a, b), nf_binary(g, NF_OP_DIV, a, b),
                        nf_unary(g, NF_OP_NEG, a),     nf_unary(g, NF_OP_ABS, a),
                        nf_unary(g, NF_OP_RELU, a),    nf_binary(g, NF_OP_MAX, a, b),
                        nf_binary(g, NF_OP_ADD, a, z), nf_binary(g, NF_OP_SUB, a, nf_scalar_int(g, 1)),
                        nf_unary(g, NF_OP_EXP, b)};
    finish(g, NELEM(outs), outs);
    assert_int_equal(outs[3]->dtype, NF_F32); /* true division */
    assert_int_equal(outs[8]->dtype, NF_I32); /* a 0-d i64 does not promote */
    assert_int_equal(outs[10]->dtype, NF_F32);
    int32_t av[6] = {INT32_MAX, INT32_MIN, 2, 3, -1, 7};
    int32_t bv[6] = {1, -1, 10, -1, -3, 2};
    int64_t zv = (INT64_C(1) << 32) + 5;
    int32_t oi[9][6];
    float of[2][6];
    nf_tensor in[3] = {tens(av, NF_I32, 1, SHAPE(6)), tens(bv, NF_I32, 1, SHAPE(6)), tens(&zv, NF_I64, 0, NULL)};
    nf_tensor out[NELEM(outs)];
    for (int i = 0, ki = 0, kf = 0; i < NELEM(outs); i++) {
        out[i] = outs[i]->dtype == NF_I32 ? tens(oi[ki++], NF_I32, 1, SHAPE(6)) : tens(of[kf++], NF_F32, 1, SHAPE(6));
        poison(&out[i], outs[i]->dtype == NF_I32 ? 99 : NAN);
    }
    run_ok(g, in, 3, out, NELEM(outs));
    const int32_t want[9][6] = {
        {INT32_MIN, INT32_MAX, 12, 2, -4, 9},     /* add wraps */
        {INT32_MAX, INT32_MIN, 20, -3, 3, 14},    /* mul wraps: MIN * -1 = MIN */
        {INT32_MAX, 0, 1024, 0, -1, 49},          /* pow: x^-1 is 0 except for 1 and -1 */
        {-INT32_MAX, INT32_MIN, -2, -3, 1, -7},   /* neg wraps at MIN */
        {INT32_MAX, INT32_MIN, 2, 3, 1, 7},       /* abs(MIN) = MIN */
        {INT32_MAX, 0, 2, 3, 0, 7},
        {INT32_MAX, -1, 10, 3, -1, 7},
        {INT32_MIN + 4, INT32_MIN + 5, 7, 8, 4, 12}, /* + (2^32 + 5) wraps to + 5 */
        {INT32_MAX - 1, INT32_MAX, 1, 2, -2, 6},     /* MIN - 1 wraps */
    };
    const int map[9] = {0, 1, 2, 4, 5, 6, 7, 8, 9};
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 6; j++)
            if (oi[i][j] != want[i][j])
                fail_msg("%s (output %d): element %d is %d, want %d", nf_op_name(outs[map[i]]->op), map[i], j,
                         oi[i][j], want[i][j]);
    expect_values("i32 / i32", of[0], NF_F32,
                  (const double[]){2147483648.0, 2147483648.0, f32r(0.2), -3.0, f32r(1.0 / 3.0), 3.5}, 6);
    expect_values("exp(i32)", of[1], NF_F32,
                  (const double[]){f32r(M_E), f32r(exp(-1)), f32r(exp(10)), f32r(exp(-1)), f32r(exp(-3)),
                                   f32r(exp(2))},
                  6);
    nf_graph_free(g);
}

/* ---- cast ---------------------------------------------------------------- */

static void test_casts(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("casts");
    nf_value *f = param(g, "f", NF_F32, 1, SHAPE(6), NULL), *d = param(g, "d", NF_F64, 1, SHAPE(2), NULL);
    nf_value *i = param(g, "i", NF_I64, 1, SHAPE(3), NULL);
    nf_value *outs[] = {nf_cast(g, f, NF_BF16), nf_cast(g, f, NF_F16), nf_cast(g, f, NF_F8E4M3),
                        nf_cast(g, f, NF_I32),  nf_cast(g, f, NF_BOOL), nf_cast(g, d, NF_BF16),
                        nf_cast(g, i, NF_F32),  nf_cast(g, i, NF_I32),  nf_cast(g, nf_cast(g, f, NF_BOOL), NF_F32)};
    finish(g, NELEM(outs), outs);
    float fv[6] = {1.0f + 0x1p-8f, 65520.0f, 464.0f, NAN, -0.0f, -3.9e9f};
    double dv[2] = {1.0 + 0x1p-8 + 0x1p-30, 1.0 + 0x1p-8 + 0x1p-22};
    int64_t iv[3] = {(INT64_C(1) << 53) + (INT64_C(1) << 29) + 1, (INT64_C(1) << 32) + 7, -1};
    uint16_t o_bf[6], o_h[6], o_dbf[2];
    uint8_t o_f8[6], o_b[6];
    int32_t o_i[6], o_ii[3];
    float o_if[3], o_bf32[6];
    nf_tensor in[3] = {tens(fv, NF_F32, 1, SHAPE(6)), tens(dv, NF_F64, 1, SHAPE(2)), tens(iv, NF_I64, 1, SHAPE(3))};
    nf_tensor out[] = {tens(o_bf, NF_BF16, 1, SHAPE(6)), tens(o_h, NF_F16, 1, SHAPE(6)),
                       tens(o_f8, NF_F8E4M3, 1, SHAPE(6)), tens(o_i, NF_I32, 1, SHAPE(6)),
                       tens(o_b, NF_BOOL, 1, SHAPE(6)), tens(o_dbf, NF_BF16, 1, SHAPE(2)),
                       tens(o_if, NF_F32, 1, SHAPE(3)), tens(o_ii, NF_I32, 1, SHAPE(3)),
                       tens(o_bf32, NF_F32, 1, SHAPE(6))};
    for (int k = 0; k < NELEM(out); k++)
        poison(&out[k], 77);
    memset(o_b, 0xA5, sizeof o_b); /* neither 0 nor 1 */
    run_ok(g, in, 3, out, NELEM(out));
    expect_bits16("f32 -> bf16", o_bf, (const uint16_t[]){0x3F80, 0x4780, 0x43E8, 0x7FC0, 0x8000, 0xCF68}, 6);
    expect_bits16("f32 -> f16", o_h, (const uint16_t[]){0x3C04, 0x7C00, 0x5F40, 0x7E00, 0x8000, 0xFC00}, 6);
    const uint8_t want_f8[6] = {0x38, 0x7F, 0x7E, 0x7F, 0x80, 0xFF};
    for (int k = 0; k < 6; k++)
        if (o_f8[k] != want_f8[k])
            fail_msg("f32 -> f8e4m3: element %d is 0x%02X, want 0x%02X", k, o_f8[k], want_f8[k]);
    const int32_t want_i[6] = {1, 65520, 464, 0, 0, INT32_MIN}; /* truncate, NaN -> 0, saturate */
    const uint8_t want_b[6] = {1, 1, 1, 1, 0, 1};               /* NaN is true, -0.0 false */
    for (int k = 0; k < 6; k++) {
        if (o_i[k] != want_i[k])
            fail_msg("f32 -> i32: element %d is %d, want %d", k, o_i[k], want_i[k]);
        if (o_b[k] != want_b[k])
            fail_msg("f32 -> bool: element %d is %d, want %d", k, o_b[k], want_b[k]);
    }
    /* f64 -> bf16 rounds to f32 first: the first value lands on a bf16 tie. */
    expect_bits16("f64 -> bf16 through f32", o_dbf, (const uint16_t[]){0x3F80, 0x3F81}, 2);
    /* i64 -> f32 rounds once (through double it would tie down to 2^53). */
    expect_values("i64 -> f32", o_if, NF_F32, (const double[]){0x1p53 + 0x1p30, 4294967296.0, -1.0}, 3);
    const int32_t want_ii[3] = {(1 << 29) + 1, 7, -1}; /* wraps */
    for (int k = 0; k < 3; k++)
        if (o_ii[k] != want_ii[k])
            fail_msg("i64 -> i32: element %d is %d, want %d", k, o_ii[k], want_ii[k]);
    expect_values("bool -> f32", o_bf32, NF_F32, (const double[]){1, 1, 1, 1, 0, 1}, 6);
    nf_graph_free(g);
}

/* Narrow and bool inputs decode exactly: f8e4m3 -> f32, f16 -> bf16 (through
 * f32, with rounding), bool -> i32. */
static void test_casts_from_narrow(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("casts_from_narrow");
    nf_value *e = param(g, "e", NF_F8E4M3, 1, SHAPE(4), NULL), *h = param(g, "h", NF_F16, 1, SHAPE(4), NULL);
    nf_value *b = param(g, "b", NF_BOOL, 1, SHAPE(4), NULL);
    nf_value *outs[] = {nf_cast(g, e, NF_F32), nf_cast(g, h, NF_BF16), nf_cast(g, b, NF_I32)};
    finish(g, NELEM(outs), outs);
    uint8_t ev[4] = {0x7E, 0x01, 0xFF, 0xB8}, bv[4] = {0, 1, 2, 0};
    uint16_t hv[4] = {0x3C01 /* 1 + 2^-10 */, 0x3C03 /* 1 + 3*2^-10 */, 0x7BFF, 0x0001}, o_h[4];
    float o_e[4];
    int32_t o_b[4];
    nf_tensor in[3] = {tens(ev, NF_F8E4M3, 1, SHAPE(4)), tens(hv, NF_F16, 1, SHAPE(4)), tens(bv, NF_BOOL, 1, SHAPE(4))};
    nf_tensor out[3] = {tens(o_e, NF_F32, 1, SHAPE(4)), tens(o_h, NF_BF16, 1, SHAPE(4)),
                        tens(o_b, NF_I32, 1, SHAPE(4))};
    poison(&out[0], 3.0);
    poison(&out[1], NAN);
    poison(&out[2], 99);
    run_ok(g, in, 3, out, 3);
    expect_values("f8e4m3 -> f32", o_e, NF_F32, (const double[]){448, 0x1p-9, NAN, -1}, 4);
    /* 1 + 2^-10 is below bf16's half step (2^-8); 1 + 3*2^-10 too; 65504
     * rounds to 65536; 2^-24 is a bf16 normal. */
    expect_bits16("f16 -> bf16", o_h, (const uint16_t[]){0x3F80, 0x3F80, 0x4780, 0x3380}, 4);
    const int32_t want_b[4] = {0, 1, 1, 0};
    for (int k = 0; k < 4; k++)
        if (o_b[k] != want_b[k])
            fail_msg("bool -> i32: element %d is %d, want %d", k, o_b[k], want_b[k]);
    nf_graph_free(g);
}

/* Subnormals are neither flushed on input nor on output. */
static void test_subnormals(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("subnormals");
    nf_value *f = param(g, "f", NF_F32, 1, SHAPE(3), NULL), *h = param(g, "h", NF_F16, 1, SHAPE(3), NULL);
    nf_value *outs[] = {nf_binary(g, NF_OP_MUL, f, nf_scalar(g, 0.5)), nf_binary(g, NF_OP_ADD, h, h),
                        nf_cast(g, f, NF_BF16)};
    finish(g, NELEM(outs), outs);
    float fv[3] = {FLT_MIN, 0x1p-149f, 0x3p-149f}, of[3];
    uint16_t hv[3] = {0x0001, 0x0200, 0x03FF}, oh[3], ob[3];
    nf_tensor in[2] = {tens(fv, NF_F32, 1, SHAPE(3)), tens(hv, NF_F16, 1, SHAPE(3))};
    nf_tensor out[3] = {tens(of, NF_F32, 1, SHAPE(3)), tens(oh, NF_F16, 1, SHAPE(3)), tens(ob, NF_BF16, 1, SHAPE(3))};
    for (int k = 0; k < 3; k++)
        poison(&out[k], NAN);
    run_ok(g, in, 2, out, 3);
    /* 2^-149 * 0.5 ties to even (0); 3*2^-149 * 0.5 ties to 2*2^-149 */
    expect_values("f32 subnormal * 0.5", of, NF_F32, (const double[]){0x1p-127, 0.0, 0x1p-148}, 3);
    expect_bits16("f16 subnormal + itself", oh, (const uint16_t[]){0x0002, 0x0400, 0x07FE}, 3);
    expect_bits16("f32 subnormal -> bf16", ob, (const uint16_t[]){0x0080, 0x0000, 0x0000}, 3);
    nf_graph_free(g);
}

static void test_nan_propagation(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("nan");
    nf_value *a = param(g, "a", NF_BF16, 1, SHAPE(4), NULL), *b = param(g, "b", NF_BF16, 1, SHAPE(4), NULL);
    nf_value *outs[] = {nf_binary(g, NF_OP_MAX, a, b), nf_binary(g, NF_OP_MIN, a, b),
                        nf_cast(g, nf_binary(g, NF_OP_MUL, a, nf_scalar(g, 1e3)), NF_F8E4M3)};
    finish(g, NELEM(outs), outs);
    uint16_t av[4] = {0x7FC0, bf(1.0f), bf(-0.0f), bf(0.448f)}, bv[4] = {bf(1.0f), 0x7FC0, bf(0.0f), bf(2.0f)};
    uint16_t omax[4], omin[4];
    uint8_t o8[4];
    nf_tensor in[2] = {tens(av, NF_BF16, 1, SHAPE(4)), tens(bv, NF_BF16, 1, SHAPE(4))};
    nf_tensor out[3] = {tens(omax, NF_BF16, 1, SHAPE(4)), tens(omin, NF_BF16, 1, SHAPE(4)),
                        tens(o8, NF_F8E4M3, 1, SHAPE(4))};
    for (int k = 0; k < 3; k++)
        poison(&out[k], 5.0);
    run_ok(g, in, 2, out, 3);
    expect_values("max", omax, NF_BF16, (const double[]){NAN, NAN, -0.0, 2.0}, 4);
    expect_values("min", omin, NF_BF16, (const double[]){NAN, NAN, -0.0, nf_bf16_to_f32(bf(0.448f))}, 4);
    /* mul(bf16, 1e3): NaN, 1000 (f8 overflow -> NaN), -0, 448ish */
    double v3 = nf_round_f64(nf_round_f64((float)(nf_bf16_to_f32(bf(0.448f)) * 1000.0f), NF_BF16), NF_F8E4M3);
    expect_values("f8 overflow", o8, NF_F8E4M3, (const double[]){NAN, NAN, -0.0, v3}, 4);
    assert_true(v3 == 448.0);
    nf_graph_free(g);
}

/* ---- broadcasting and views ---------------------------------------------- */

static void test_broadcasting(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("broadcast");
    nf_value *col = param(g, "col", NF_F32, 2, SHAPE(3, 1), NULL), *row = param(g, "row", NF_F32, 1, SHAPE(4), NULL);
    nf_value *s = param(g, "s", NF_F32, 0, NULL, NULL), *c3 = param(g, "c3", NF_F32, 3, SHAPE(2, 1, 3), NULL);
    nf_value *c2 = param(g, "c2", NF_F32, 2, SHAPE(4, 1), NULL);
    nf_value *outs[] = {nf_binary(g, NF_OP_SUB, col, row), nf_binary(g, NF_OP_MUL, s, row),
                        nf_binary(g, NF_OP_ADD, c3, c2), nf_binary(g, NF_OP_ADD, s, s)};
    finish(g, NELEM(outs), outs);
    float colv[3] = {10, 20, 30}, rowv[4] = {1, 2, 3, 4}, sv = 0.5f, c3v[6] = {100, 200, 300, 400, 500, 600};
    float c2v[4] = {1, 2, 3, 4}, o0[12], o1[4], o2[24], o3;
    nf_tensor in[5] = {tens(colv, NF_F32, 2, SHAPE(3, 1)), tens(rowv, NF_F32, 1, SHAPE(4)), tens(&sv, NF_F32, 0, NULL),
                       tens(c3v, NF_F32, 3, SHAPE(2, 1, 3)), tens(c2v, NF_F32, 2, SHAPE(4, 1))};
    nf_tensor out[4] = {tens(o0, NF_F32, 2, SHAPE(3, 4)), tens(o1, NF_F32, 1, SHAPE(4)),
                        tens(o2, NF_F32, 3, SHAPE(2, 4, 3)), tens(&o3, NF_F32, 0, NULL)};
    for (int k = 0; k < 4; k++)
        poison(&out[k], NAN);
    run_ok(g, in, 5, out, 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            if (o0[i * 4 + j] != colv[i] - rowv[j])
                fail_msg("[3,1] - [4] at (%d, %d): %g, want %g", i, j, o0[i * 4 + j], colv[i] - rowv[j]);
    expect_values("0-d * [4]", o1, NF_F32, (const double[]){0.5, 1, 1.5, 2}, 4);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++)
                if (o2[(i * 4 + j) * 3 + k] != c3v[i * 3 + k] + c2v[j])
                    fail_msg("[2,1,3] + [4,1] at (%d, %d, %d): %g", i, j, k, o2[(i * 4 + j) * 3 + k]);
    assert_true(o3 == 1.0f);
    nf_graph_free(g);
}

/* [T, 64] scaled, unsqueezed to [T, 64, 1] and multiplied by [T, 64, 1]. */
static void test_unsqueeze_broadcast(void **state)
{
    (void)state;
    enum { T = 3, H = 64 };
    nf_graph *g = nf_graph_new("unsqueeze");
    nf_value *y = param(g, "y", NF_F32, 2, SHAPE(T, H), "T"), *q = param(g, "q", NF_F32, 3, SHAPE(T, H, 1), "T");
    nf_value *o = nf_binary(g, NF_OP_MUL, nf_unsqueeze(g, y, -1), q);
    nf_value *o2 = nf_binary(g, NF_OP_MUL, y, nf_squeeze(g, q, 2));
    nf_value *outs[2] = {o, o2};
    finish(g, 2, outs);
    float yv[T * H], qv[T * H], ov[T * H], o2v[T * H];
    for (int i = 0; i < T * H; i++) {
        yv[i] = (float)i;
        qv[i] = (float)(i % 7) - 3;
    }
    nf_tensor in[2] = {tens(yv, NF_F32, 2, SHAPE(T, H)), tens(qv, NF_F32, 3, SHAPE(T, H, 1))};
    nf_tensor out[2] = {tens(ov, NF_F32, 3, SHAPE(T, H, 1)), tens(o2v, NF_F32, 2, SHAPE(T, H))};
    poison(&out[0], NAN);
    poison(&out[1], NAN);
    run_ok(g, in, 2, out, 2);
    for (int i = 0; i < T * H; i++)
        if (ov[i] != yv[i] * qv[i] || o2v[i] != yv[i] * qv[i])
            fail_msg("element %d: %g and %g, want %g", i, ov[i], o2v[i], yv[i] * qv[i]);
    nf_graph_free(g);
}

static void test_views(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("views");
    nf_value *a = param(g, "a", NF_F32, 2, SHAPE(2, 3), NULL), *b = param(g, "b", NF_F32, 2, SHAPE(3, 2), NULL);
    nf_value *r = param(g, "r", NF_I32, 2, SHAPE(2, 8), NULL);
    nf_value *at = nf_transpose(g, a, 0, 1);                               /* [3, 2] */
    nf_value *sum = nf_binary(g, NF_OP_ADD, at, b);                        /* reads a transposed */
    nf_value *sl = nf_slice(g, r, 1, 1, 7, 2);                             /* cols 1, 3, 5 */
    nf_value *neg = nf_unary(g, NF_OP_NEG, nf_slice(g, sl, 0, -1, 100, 1)); /* last row */
    nf_value *sq = nf_squeeze(g, nf_slice(g, a, 0, 1, 2, 1), 0);           /* row 1 of a: [3] */
    nf_value *outs[] = {sum, sl, neg, sq, at, a};
    finish(g, NELEM(outs), outs);
    float av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {10, 20, 30, 40, 50, 60};
    int32_t rv[16];
    for (int i = 0; i < 16; i++)
        rv[i] = i;
    float o_sum[6], o_sq[3], o_a[6];
    int32_t o_sl[6], o_neg[3];
    /* The transposed output is written through column-major strides. */
    float o_at[6];
    nf_tensor at_out = tens(o_at, NF_F32, 2, SHAPE(3, 2));
    at_out.strides[0] = 1;
    at_out.strides[1] = 3;
    nf_tensor in[3] = {tens(av, NF_F32, 2, SHAPE(2, 3)), tens(bv, NF_F32, 2, SHAPE(3, 2)),
                       tens(rv, NF_I32, 2, SHAPE(2, 8))};
    nf_tensor out[] = {tens(o_sum, NF_F32, 2, SHAPE(3, 2)), tens(o_sl, NF_I32, 2, SHAPE(2, 3)),
                       tens(o_neg, NF_I32, 2, SHAPE(1, 3)), tens(o_sq, NF_F32, 1, SHAPE(3)), at_out,
                       tens(o_a, NF_F32, 2, SHAPE(2, 3))};
    for (int k = 0; k < NELEM(out); k++)
        poison(&out[k], k == 1 || k == 2 ? -99 : NAN);
    run_ok(g, in, 3, out, NELEM(out));
    expect_values("transpose(a) + b", o_sum, NF_F32, (const double[]){11, 24, 32, 45, 53, 66}, 6);
    const int32_t want_sl[6] = {1, 3, 5, 9, 11, 13}, want_neg[3] = {-9, -11, -13};
    for (int i = 0; i < 6; i++)
        if (o_sl[i] != want_sl[i])
            fail_msg("slice step 2: element %d is %d, want %d", i, o_sl[i], want_sl[i]);
    for (int i = 0; i < 3; i++)
        if (o_neg[i] != want_neg[i])
            fail_msg("neg(slice(slice)): element %d is %d, want %d", i, o_neg[i], want_neg[i]);
    expect_values("squeeze(slice)", o_sq, NF_F32, (const double[]){4, 5, 6}, 3);
    /* at[i][j] = a[j][i], stored at i + 3j: that is a's own row-major order */
    expect_values("transposed output, column-major", o_at, NF_F32, (const double[]){1, 2, 3, 4, 5, 6}, 6);
    expect_values("returned parameter", o_a, NF_F32, (const double[]){1, 2, 3, 4, 5, 6}, 6);
    nf_graph_free(g);
}

/* Inputs with gaps, stride 0 (expanded) and a strided output whose gaps
 * must stay untouched. */
static void test_strided_io(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("strided");
    nf_value *a = param(g, "a", NF_F32, 2, SHAPE(2, 3), NULL), *b = param(g, "b", NF_F32, 2, SHAPE(2, 3), NULL);
    nf_value *o = nf_binary(g, NF_OP_MUL, a, b);
    finish(g, 1, &o);
    float abuf[12] = {1, -1, 2, -1, 3, -1, 4, -1, 5, -1, 6, -1}; /* every other element */
    float bbuf[3] = {10, 20, 30};                                /* one row, expanded */
    float obuf[12];
    nf_tensor in[2] = {tens(abuf, NF_F32, 2, SHAPE(2, 3)), tens(bbuf, NF_F32, 2, SHAPE(2, 3))};
    in[0].strides[0] = 6;
    in[0].strides[1] = 2;
    in[1].strides[0] = 0;
    nf_tensor out = tens(obuf, NF_F32, 2, SHAPE(2, 3));
    out.strides[0] = 1; /* column-major with a gap between columns */
    out.strides[1] = 4;
    for (int i = 0; i < 12; i++)
        obuf[i] = -7.0f;
    poison(&out, NAN);
    run_ok(g, in, 2, &out, 1);
    const double want[12] = {10, 40, -7, -7, 40, 100, -7, -7, 90, 180, -7, -7};
    expect_values("strided output", obuf, NF_F32, want, 12);
    nf_graph_free(g);
}

/* ---- symbols, dead values, errors ----------------------------------------- */

/* One graph, two sizes of T; an op no output needs is never run (its
 * [T, T] broadcast would not fit in memory). */
static void test_symbols_and_dead_values(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("symbols");
    nf_value *a = param(g, "a", NF_F32, 2, SHAPE(0, 1), "T");
    nf_value *dead = nf_binary(g, NF_OP_MUL, a, nf_transpose(g, a, 0, 1));
    (void)dead;
    nf_value *o = nf_binary(g, NF_OP_ADD, a, nf_scalar(g, 1.0));
    finish(g, 1, &o);
    for (int64_t T = 1; T <= 3000000; T *= 3000000) {
        float *av = calloc((size_t)T, sizeof *av), *ov = malloc(sizeof *ov * (size_t)T);
        assert_non_null(av);
        assert_non_null(ov);
        nf_tensor in = tens(av, NF_F32, 2, SHAPE(T, 1)), out = tens(ov, NF_F32, 2, SHAPE(T, 1));
        poison(&out, NAN);
        run_ok(g, &in, 1, &out, 1);
        for (int64_t i = 0; i < T; i++)
            if (ov[i] != 1.0f)
                fail_msg("T = %lld: element %lld is %g", (long long)T, (long long)i, ov[i]);
        free(av);
        free(ov);
    }
    nf_graph_free(g);
}

static void test_errors(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("errors");
    nf_value *x = param(g, "x", NF_F32, 2, SHAPE(0, 64), "T"), *w = param(g, "w", NF_F32, 1, SHAPE(64), NULL);
    nf_value *q = param(g, "q_scale", NF_F32, 3, SHAPE(0, 64, 1), "T");
    nf_value *o = nf_binary(g, NF_OP_MUL, nf_unsqueeze(g, nf_binary(g, NF_OP_MUL, x, w), -1), q);
    finish(g, 1, &o);
    static float xv[4 * 64], wv[64], qv[4 * 64], ov[4 * 64];
    nf_tensor in[3] = {tens(xv, NF_F32, 2, SHAPE(4, 64)), tens(wv, NF_F32, 1, SHAPE(64)),
                       tens(qv, NF_F32, 3, SHAPE(4, 64, 1))};
    nf_tensor out = tens(ov, NF_F32, 3, SHAPE(4, 64, 1));
    run_ok(g, in, 3, &out, 1); /* the baseline works */

    expect_error(g, in, 2, &out, 1, NF_ERR_ARG, "takes 3 inputs, got 2");
    expect_error(g, NULL, 3, &out, 1, NF_ERR_ARG, "NULL");
    expect_error(g, in, 3, &out, 0, NF_ERR_ARG, "returns 1");
    expect_error(g, in, 3, NULL, 1, NF_ERR_ARG, "outputs is NULL");

    nf_tensor bad[3];
    memcpy(bad, in, sizeof bad);
    bad[2] = tens(qv, NF_F32, 2, SHAPE(4, 64));
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "input 2 (%q_scale)");
    bad[2] = tens(qv, NF_F32, 3, SHAPE(5, 64, 1));
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "q_scale");
    bad[2] = tens(qv, NF_BF16, 3, SHAPE(4, 64, 1));
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "input 2 (%q_scale): expected f32");
    bad[2] = tens(NULL, NF_F32, 3, SHAPE(4, 64, 1));
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "input 2 (%q_scale): data is NULL");
    bad[2] = in[2];
    bad[2].strides[0] = -64;
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "stride -64");
    bad[2] = in[2];
    bad[2].strides[0] = INT64_MAX / 2;
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "beyond");
    bad[2] = in[2];
    bad[2].device = NF_DEVICE_CUDA;
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "host memory");
    bad[2] = in[2];
    bad[1] = tens(wv, NF_F32, 1, SHAPE(32));
    expect_error(g, bad, 3, &out, 1, NF_ERR_ARG, "input 1 (%w)");

    nf_tensor bad_out = tens(ov, NF_F32, 3, SHAPE(4, 64, 2));
    expect_error(g, in, 3, &bad_out, 1, NF_ERR_ARG, "output 0: expected f32[4, 64, 1], got f32[4, 64, 2]");
    bad_out = tens(ov, NF_F16, 3, SHAPE(4, 64, 1));
    expect_error(g, in, 3, &bad_out, 1, NF_ERR_ARG, "output 0");
    bad_out = tens(NULL, NF_F32, 3, SHAPE(4, 64, 1));
    expect_error(g, in, 3, &bad_out, 1, NF_ERR_ARG, "data is NULL");
    expect_error(NULL, in, 3, &out, 1, NF_ERR_ARG, "NULL");
    nf_graph_free(g);

    nf_graph *empty = nf_graph_new("no_return");
    param(empty, "x", NF_F32, 1, SHAPE(1), NULL);
    expect_error(empty, in, 1, &out, 1, NF_ERR_ARG, "no return");
    nf_graph_free(empty);
}

/* Stride-0 tensors can claim shapes no memory holds: they get errors, not
 * overflows or giant allocations. */
static void test_absurd_shapes(void **state)
{
    (void)state;
    uint16_t one = bf(1.0f), ov;
    nf_graph *g = nf_graph_new("absurd");
    nf_dim d2[2] = {{0, "A"}, {0, "B"}};
    nf_value *x = nf_param(g, "x", NF_BF16, 2, d2);
    nf_value *o = nf_unary(g, NF_OP_NEG, x);
    finish(g, 1, &o);
    nf_tensor in = expanded(&one, NF_BF16, 2, SHAPE(INT64_C(1) << 40, INT64_C(1) << 40)), out;
    out = in;
    out.data = &ov;
    expect_error(g, &in, 1, &out, 1, NF_ERR_ARG, "more than 2^63 elements");
    in.shape[1] = out.shape[1] = INT64_C(1) << 20; /* 2^60 elements: fits int64, not memory */
    expect_error(g, &in, 1, &out, 1, NF_ERR_NOMEM, "out of memory");
    nf_graph_free(g);

    g = nf_graph_new("absurd_k");
    nf_dim dk[2] = {{1, NULL}, {0, "K"}};
    x = nf_param(g, "x", NF_BF16, 2, dk);
    nf_value *w = nf_param(g, "w", NF_BF16, 2, dk);
    o = nf_linear(g, x, w, NF_F32);
    finish(g, 1, &o);
    nf_tensor ins[2] = {expanded(&one, NF_BF16, 2, SHAPE(1, INT64_C(1) << 40)),
                        expanded(&one, NF_BF16, 2, SHAPE(1, INT64_C(1) << 40))};
    float of;
    out = tens(&of, NF_F32, 2, SHAPE(1, 1));
    expect_error(g, ins, 2, &out, 1, NF_ERR_NOMEM, "too large");
    nf_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_f32),
        cmocka_unit_test(test_f32_rounding),
        cmocka_unit_test(test_unary_f32),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_bf16_add_ties),
        cmocka_unit_test(test_bf16_unary),
        cmocka_unit_test(test_literal_in_opmath),
        cmocka_unit_test(test_operand_conversion),
        cmocka_unit_test(test_int_ops),
        cmocka_unit_test(test_casts),
        cmocka_unit_test(test_casts_from_narrow),
        cmocka_unit_test(test_subnormals),
        cmocka_unit_test(test_nan_propagation),
        cmocka_unit_test(test_broadcasting),
        cmocka_unit_test(test_unsqueeze_broadcast),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_strided_io),
        cmocka_unit_test(test_symbols_and_dead_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_absurd_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
