/* Dtype conversions: hand-computed cases, exhaustive round trips and a
 * randomized comparison with a slow frexp/ldexp reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/numeric.h"

static float fb(uint32_t u) { return nf_f32_from_bits(u); }

/* Same value and, for zeros, same sign; NaN matches NaN. */
static bool same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

#define EXPECT_BITS(got, want, what)                                                                     \
    do {                                                                                                 \
        unsigned g_ = (unsigned)(got), w_ = (unsigned)(want);                                            \
        if (g_ != w_)                                                                                    \
            fail_msg("%s: got 0x%04X, want 0x%04X", what, g_, w_);                                       \
    } while (0)

/* ---- hand-computed cases ------------------------------------------------- */

static void test_bf16_cases(void **state)
{
    (void)state;
    EXPECT_BITS(nf_f32_to_bf16(1.0f), 0x3F80, "1.0");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x3F808000)), 0x3F80, "1+2^-8 ties down to even");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x3F818000)), 0x3F82, "1+3*2^-8 ties up to even");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x3F808001)), 0x3F81, "just above the tie");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x3F807FFF)), 0x3F80, "just below the tie");
    EXPECT_BITS(nf_f32_to_bf16(-1.0f), 0xBF80, "-1.0");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x7F7F7FFF)), 0x7F7F, "largest finite stays");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x7F7F8000)), 0x7F80, "tie above the largest finite -> inf");
    EXPECT_BITS(nf_f32_to_bf16(FLT_MAX), 0x7F80, "FLT_MAX -> inf");
    EXPECT_BITS(nf_f32_to_bf16(INFINITY), 0x7F80, "inf");
    EXPECT_BITS(nf_f32_to_bf16(-INFINITY), 0xFF80, "-inf");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x00010000)), 0x0001, "smallest subnormal");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x00008000)), 0x0000, "half the smallest subnormal ties to 0");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x00018000)), 0x0002, "1.5 subnormal units tie to 2");
    EXPECT_BITS(nf_f32_to_bf16(-0.0f), 0x8000, "-0.0");
    EXPECT_BITS(nf_f32_to_bf16(NAN), 0x7FC0, "NaN");
    EXPECT_BITS(nf_f32_to_bf16(-NAN), 0x7FC0, "-NaN (c10 drops the sign)");
    EXPECT_BITS(nf_f32_to_bf16(fb(0x7F800001)), 0x7FC0, "signaling NaN must not become inf");
    assert_true(nf_bf16_to_f32(0x7F7F) == 3.3895313892515355e38f);
    assert_true(nf_bf16_to_f32(0x0001) == ldexpf(1.0f, -133));
    assert_true(isnan(nf_bf16_to_f32(0x7FC0)));
}

static void test_f16_cases(void **state)
{
    (void)state;
    EXPECT_BITS(nf_f32_to_f16(1.0f), 0x3C00, "1.0");
    EXPECT_BITS(nf_f32_to_f16(1.0f + 0x1p-11f), 0x3C00, "1+2^-11 ties down to even");
    EXPECT_BITS(nf_f32_to_f16(1.0f + 0x3p-11f), 0x3C02, "1+3*2^-11 ties up to even");
    EXPECT_BITS(nf_f32_to_f16(65504.0f), 0x7BFF, "largest finite");
    EXPECT_BITS(nf_f32_to_f16(65519.996f), 0x7BFF, "just below the overflow tie");
    EXPECT_BITS(nf_f32_to_f16(65520.0f), 0x7C00, "65520 ties to inf");
    EXPECT_BITS(nf_f32_to_f16(1e10f), 0x7C00, "overflow");
    EXPECT_BITS(nf_f32_to_f16(-1e10f), 0xFC00, "negative overflow");
    EXPECT_BITS(nf_f32_to_f16(INFINITY), 0x7C00, "inf");
    EXPECT_BITS(nf_f32_to_f16(0x1p-24f), 0x0001, "smallest subnormal");
    EXPECT_BITS(nf_f32_to_f16(0x1p-25f), 0x0000, "half the smallest subnormal ties to 0");
    EXPECT_BITS(nf_f32_to_f16(fb(0x33000001)), 0x0001, "just above half the smallest subnormal");
    EXPECT_BITS(nf_f32_to_f16(0x3p-25f), 0x0002, "1.5 units tie to 2");
    EXPECT_BITS(nf_f32_to_f16(0x3FFp-24f), 0x03FF, "largest subnormal");
    EXPECT_BITS(nf_f32_to_f16(0x7FFp-25f), 0x0400, "largest subnormal + half unit ties to the smallest normal");
    EXPECT_BITS(nf_f32_to_f16(0x1p-14f), 0x0400, "smallest normal");
    EXPECT_BITS(nf_f32_to_f16(FLT_MIN), 0x0000, "f32 smallest normal underflows");
    EXPECT_BITS(nf_f32_to_f16(fb(1)), 0x0000, "f32 subnormal underflows");
    EXPECT_BITS(nf_f32_to_f16(-0.0f), 0x8000, "-0.0");
    EXPECT_BITS(nf_f32_to_f16(-0x1p-26f), 0x8000, "tiny negative keeps its sign");
    EXPECT_BITS(nf_f32_to_f16(NAN), 0x7E00, "NaN");
    EXPECT_BITS(nf_f32_to_f16(-NAN), 0xFE00, "-NaN keeps its sign");
    assert_true(nf_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(nf_f16_to_f32(0x03FF) == 0x3FFp-24f);
    assert_true(nf_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(nf_f16_to_f32(0xFC00) == -INFINITY);
    assert_true(isnan(nf_f16_to_f32(0x7C01)));
    assert_true(signbit(nf_f16_to_f32(0x8000)));
}

static void test_f8e4m3_cases(void **state)
{
    (void)state;
    EXPECT_BITS(nf_f32_to_f8e4m3(1.0f), 0x38, "1.0");
    EXPECT_BITS(nf_f32_to_f8e4m3(1.0625f), 0x38, "1+2^-4 ties down to even");
    EXPECT_BITS(nf_f32_to_f8e4m3(1.1875f), 0x3A, "1+3*2^-4 ties up to even");
    EXPECT_BITS(nf_f32_to_f8e4m3(448.0f), 0x7E, "448 is the largest finite");
    EXPECT_BITS(nf_f32_to_f8e4m3(-448.0f), 0xFE, "-448");
    EXPECT_BITS(nf_f32_to_f8e4m3(464.0f), 0x7E, "464 ties to even: 448");
    EXPECT_BITS(nf_f32_to_f8e4m3(nextafterf(464.0f, 1000.0f)), 0x7F, "above 464 rounds past 448: NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(480.0f), 0x7F, "480 is NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(1e6f), 0x7F, "overflow is NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(-1e30f), 0xFF, "negative overflow is -NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(INFINITY), 0x7F, "inf is NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(-INFINITY), 0xFF, "-inf is -NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(NAN), 0x7F, "NaN");
    EXPECT_BITS(nf_f32_to_f8e4m3(0x1p-9f), 0x01, "smallest subnormal");
    EXPECT_BITS(nf_f32_to_f8e4m3(0x1p-10f), 0x00, "half the smallest subnormal ties to 0");
    EXPECT_BITS(nf_f32_to_f8e4m3(0x3p-10f), 0x02, "1.5 units tie to 2");
    EXPECT_BITS(nf_f32_to_f8e4m3(0x7p-9f), 0x07, "largest subnormal");
    EXPECT_BITS(nf_f32_to_f8e4m3(0xFp-10f), 0x08, "7.5 units tie to the smallest normal");
    EXPECT_BITS(nf_f32_to_f8e4m3(0x1p-6f), 0x08, "smallest normal");
    EXPECT_BITS(nf_f32_to_f8e4m3(-0.0f), 0x80, "-0.0");
    EXPECT_BITS(nf_f32_to_f8e4m3(FLT_MIN), 0x00, "f32 smallest normal underflows");
    assert_true(nf_f8e4m3_to_f32(0x7E) == 448.0f);
    assert_true(nf_f8e4m3_to_f32(0x01) == 0x1p-9f);
    assert_true(nf_f8e4m3_to_f32(0x08) == 0x1p-6f);
    assert_true(nf_f8e4m3_to_f32(0x77) == 240.0f);
    assert_true(isnan(nf_f8e4m3_to_f32(0x7F)) && !signbit(nf_f8e4m3_to_f32(0x7F)));
    assert_true(isnan(nf_f8e4m3_to_f32(0xFF)) && signbit(nf_f8e4m3_to_f32(0xFF)));
}

/* f64 and integers reach narrow floats through f32, as c10 does. */
static void test_double_rounding_through_f32(void **state)
{
    (void)state;
    uint16_t h;
    uint8_t b;
    /* 1 + 2^-8 + 2^-30: directly it is above bf16's tie (-> 1+2^-7); f32
     * first rounds it onto the tie, which then goes to even (1.0). */
    nf_store_f64(&h, NF_BF16, 0, 1.0 + 0x1p-8 + 0x1p-30);
    EXPECT_BITS(h, 0x3F80, "f64 -> bf16 double rounding");
    nf_store_f64(&h, NF_BF16, 0, 1.0 + 0x1p-8 + 0x1p-22);
    EXPECT_BITS(h, 0x3F81, "f64 -> bf16 off the tie in f32 too");
    nf_store_f64(&h, NF_F16, 0, 1.0 + 0x1p-11 + 0x1p-40);
    EXPECT_BITS(h, 0x3C00, "f64 -> f16 double rounding");
    nf_store_f64(&b, NF_F8E4M3, 0, 1.0625 + 0x1p-30);
    EXPECT_BITS(b, 0x38, "f64 -> f8 double rounding");
    assert_true(nf_round_f64(1.0 + 0x1p-8 + 0x1p-30, NF_BF16) == 1.0);
    /* i64 -> f32 rounds once: 2^53 + 2^29 + 1 is above f32's tie. Through
     * double it would land on the tie and go to 2^53. */
    int64_t big = (INT64_C(1) << 53) + (INT64_C(1) << 29) + 1;
    float f;
    nf_store_i64(&f, NF_F32, 0, big);
    assert_true((double)f == 0x1p53 + 0x1p30);
    assert_true(nf_int_to_float(big, NF_F32) == 0x1p53 + 0x1p30);
    /* i64 -> bf16 goes through f32: 2^24 + 2^16 + 1 is above bf16's tie
     * directly, and f32 rounds it onto the tie (-> 2^24). */
    nf_store_i64(&h, NF_BF16, 0, (INT64_C(1) << 24) + (INT64_C(1) << 16) + 1);
    assert_true(nf_bf16_to_f32(h) == 0x1p24f);
    double d;
    nf_store_i64(&d, NF_F64, 0, INT64_MAX);
    assert_true(d == 0x1p63);
}

static void test_integer_conversions(void **state)
{
    (void)state;
    assert_int_equal(nf_f64_to_i32_sat(3.9), 3);
    assert_int_equal(nf_f64_to_i32_sat(-3.9), -3);
    assert_int_equal(nf_f64_to_i32_sat(-0.5), 0);
    assert_int_equal(nf_f64_to_i32_sat(NAN), 0);
    assert_int_equal(nf_f64_to_i32_sat(1e10), INT32_MAX);
    assert_int_equal(nf_f64_to_i32_sat(-1e10), INT32_MIN);
    assert_int_equal(nf_f64_to_i32_sat(2147483647.9), INT32_MAX);
    assert_int_equal(nf_f64_to_i32_sat(-2147483648.9), INT32_MIN);
    assert_int_equal(nf_f64_to_i32_sat(INFINITY), INT32_MAX);
    assert_true(nf_f64_to_i64_sat(0x1p63) == INT64_MAX);
    assert_true(nf_f64_to_i64_sat(-0x1p63) == INT64_MIN);
    assert_true(nf_f64_to_i64_sat(-1e300) == INT64_MIN);
    assert_true(nf_f64_to_i64_sat(0x1p62) == INT64_C(1) << 62);
    assert_true(nf_f64_to_i64_sat(-INFINITY) == INT64_MIN);
    assert_true(nf_f64_to_i64_sat(NAN) == 0);

    int32_t i32;
    nf_store_i64(&i32, NF_I32, 0, (INT64_C(1) << 32) + 5);
    assert_int_equal(i32, 5);
    nf_store_i64(&i32, NF_I32, 0, INT64_C(1) << 31);
    assert_int_equal(i32, INT32_MIN);
    nf_store_i64(&i32, NF_I32, 0, -1);
    assert_int_equal(i32, -1);
    nf_store_f64(&i32, NF_I32, 0, -7.99);
    assert_int_equal(i32, -7);

    uint8_t b;
    nf_store_f64(&b, NF_BOOL, 0, NAN);
    assert_int_equal(b, 1);
    nf_store_f64(&b, NF_BOOL, 0, -0.0);
    assert_int_equal(b, 0);
    nf_store_f64(&b, NF_BOOL, 0, 1e-300);
    assert_int_equal(b, 1);
    nf_store_i64(&b, NF_BOOL, 0, INT64_C(1) << 40);
    assert_int_equal(b, 1);
    b = 2; /* any nonzero byte reads as true */
    assert_true(nf_load_f64(&b, NF_BOOL, 0) == 1.0);
    assert_true(nf_load_i64(&b, NF_BOOL, 0) == 1);

    float f = -2.7f;
    assert_true(nf_load_i64(&f, NF_F32, 0) == -2);
    uint16_t h = 0x7FC0;
    assert_true(nf_load_i64(&h, NF_BF16, 0) == 0);
    int64_t i64 = -5;
    assert_true(nf_load_f64(&i64, NF_I64, 0) == -5.0);
    nf_store_i64(&h, NF_F16, 0, 70000);
    EXPECT_BITS(h, 0x7C00, "i64 70000 -> f16 inf");
    nf_store_i64(&b, NF_F8E4M3, 0, -500);
    EXPECT_BITS(b, 0xFF, "i64 -500 -> f8 -NaN");
}

/* Loads and stores at an index, at an unaligned address. */
static void test_element_access(void **state)
{
    (void)state;
    unsigned char buf[64] = {0};
    for (int t = 0; t < NF_DTYPE_COUNT; t++) {
        void *base = buf + 1;
        nf_store_f64(base, (nf_dtype)t, 3, 2.0);
        if (nf_load_f64(base, (nf_dtype)t, 3) != (t == NF_BOOL ? 1.0 : 2.0))
            fail_msg("dtype %s: store/load of 2.0 at index 3", nf_dtype_name((nf_dtype)t));
        nf_store_i64(base, (nf_dtype)t, 2, -3);
        if (nf_load_i64(base, (nf_dtype)t, 2) != (t == NF_BOOL ? 1 : -3))
            fail_msg("dtype %s: store/load of -3 at index 2", nf_dtype_name((nf_dtype)t));
        if (nf_load_i64(base, (nf_dtype)t, 3) != (t == NF_BOOL ? 1 : 2))
            fail_msg("dtype %s: the store at index 2 overwrote index 3", nf_dtype_name((nf_dtype)t));
    }
}

/* ---- exhaustive ---------------------------------------------------------- */

/* Independent decoders: sign, exponent, mantissa through ldexp. */
static double decode(uint32_t bits, int ebits, int mbits, bool has_inf)
{
    int bias = (1 << (ebits - 1)) - 1;
    uint32_t s = (bits >> (ebits + mbits)) & 1, e = (bits >> mbits) & ((1u << ebits) - 1),
             m = bits & ((1u << mbits) - 1);
    double sign = s ? -1.0 : 1.0;
    if (has_inf && e == (1u << ebits) - 1)
        return m ? NAN : sign * INFINITY;
    if (!has_inf && e == (1u << ebits) - 1 && m == (1u << mbits) - 1)
        return NAN;
    if (e == 0)
        return sign * ldexp((double)m, 1 - bias - mbits);
    return sign * ldexp((double)((1u << mbits) | m), (int)e - bias - mbits);
}

static void test_bf16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        float f = nf_bf16_to_f32((uint16_t)i);
        if (!same(f, decode(i, 8, 7, true)))
            fail_msg("bf16 0x%04X decodes to %a, want %a", i, (double)f, decode(i, 8, 7, true));
        uint16_t back = nf_f32_to_bf16(f);
        uint16_t want = isnan(f) ? 0x7FC0 : (uint16_t)i;
        if (back != want)
            fail_msg("bf16 0x%04X -> f32 -> 0x%04X, want 0x%04X", i, back, want);
    }
}

static void test_f16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        float f = nf_f16_to_f32((uint16_t)i);
        if (!same(f, decode(i, 5, 10, true)))
            fail_msg("f16 0x%04X decodes to %a, want %a", i, (double)f, decode(i, 5, 10, true));
        uint16_t back = nf_f32_to_f16(f);
        uint16_t want = isnan(f) ? (uint16_t)((i & 0x8000) | 0x7E00) : (uint16_t)i;
        if (back != want)
            fail_msg("f16 0x%04X -> f32 -> 0x%04X, want 0x%04X", i, back, want);
    }
}

static void test_f8e4m3_exhaustive(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 256; i++) {
        float f = nf_f8e4m3_to_f32((uint8_t)i);
        if (!same(f, decode(i, 4, 3, false)))
            fail_msg("f8 0x%02X decodes to %a, want %a", i, (double)f, decode(i, 4, 3, false));
        if (isnan(f) && (signbit(f) != 0) != ((i & 0x80) != 0))
            fail_msg("f8 0x%02X: NaN lost its sign", i);
        uint8_t back = nf_f32_to_f8e4m3(f);
        if (back != i)
            fail_msg("f8 0x%02X -> f32 -> 0x%02X", i, back);
    }
}

/* ---- randomized, against a slow reference -------------------------------- */

/* Rounds x to a format with p significand bits and smallest normal exponent
 * emin, ties to even, without overflow handling (callers do that). */
static double ref_round(double x, int p, int emin)
{
    if (x == 0 || isnan(x) || isinf(x))
        return x;
    int e;
    frexp(fabs(x), &e); /* |x| = m * 2^e, m in [0.5, 1) */
    int lead = e - 1 < emin ? emin : e - 1;
    double quantum = ldexp(1.0, lead - (p - 1));
    double n = fabs(x) / quantum, whole = floor(n), frac = n - whole;
    if (frac > 0.5 || (frac == 0.5 && fmod(whole, 2.0) == 1.0))
        whole += 1.0;
    return copysign(whole * quantum, x);
}

typedef struct format {
    nf_dtype dtype;
    int p, emin;
    double max;
    bool overflow_is_nan; /* f8e4m3fn: no inf */
} format;

static const format formats[] = {
    {NF_BF16, 8, -126, 0x1.FEp127, false},
    {NF_F16, 11, -14, 65504.0, false},
    {NF_F8E4M3, 4, -6, 448.0, true},
};

static double ref_narrow(double x, const format *fm)
{
    if (isnan(x))
        return NAN;
    double r = ref_round(x, fm->p, fm->emin);
    if (fabs(r) > fm->max)
        return fm->overflow_is_nan ? NAN : copysign(INFINITY, x);
    return r;
}

static double ref_f32(double x)
{
    double r = ref_round(x, 24, -126);
    return fabs(r) > FLT_MAX ? copysign(INFINITY, x) : r;
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t test_seed(void)
{
    const char *env = getenv("NF_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    printf("seed %" PRIu64 " (set NF_SEED to repeat)\n", seed);
    return seed;
}

/* A random f32: any bit pattern, or one near the narrow formats' interesting
 * ranges (ties, overflow and subnormal boundaries). */
static float random_f32(void)
{
    uint64_t r = rng_next();
    switch (r % 4) {
    case 0: return nf_f32_from_bits((uint32_t)(r >> 32));
    case 1: { /* exponents -30..20, mantissa with few low bits set (ties) */
        uint32_t e = (uint32_t)(127 - 30 + (r >> 8) % 51);
        uint32_t m = (uint32_t)(r >> 32) & 0x7FFFFF;
        m &= ~((1u << ((r >> 16) % 24)) - 1);
        return nf_f32_from_bits(((uint32_t)(r >> 2) & 1u) << 31 | e << 23 | m);
    }
    case 2: return (float)((double)(int32_t)(r >> 32) * ldexp(1.0, (int)((r >> 8) % 40) - 60));
    default: return nf_f32_from_bits((uint32_t)(r >> 32) & 0x807FFFFFu) ; /* f32 zero/subnormals */
    }
}

static void test_random_against_reference(void **state)
{
    (void)state;
    uint64_t seed = test_seed();
    rng_state = seed;
    for (int it = 0; it < 2000000; it++) {
        float f = random_f32();
        for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
            const format *fm = &formats[k];
            unsigned char buf[8];
            nf_store_f64(buf, fm->dtype, 0, f);
            double got = nf_load_f64(buf, fm->dtype, 0), want = ref_narrow(f, fm);
            if (!same(got, want))
                fail_msg("seed %" PRIu64 ": f32 %a (0x%08X) -> %s gives %a, reference %a", seed, (double)f,
                         nf_f32_bits(f), nf_dtype_name(fm->dtype), got, want);
        }
        /* f64 -> narrow: the reference rounds to f32 first, then narrow. */
        double d = (double)f + ldexp((double)(int64_t)(rng_next() >> 40), -70) * fabs((double)f);
        for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
            const format *fm = &formats[k];
            unsigned char buf[8];
            nf_store_f64(buf, fm->dtype, 0, d);
            double got = nf_load_f64(buf, fm->dtype, 0), want = ref_narrow(ref_f32(d), fm);
            if (!same(got, want))
                fail_msg("seed %" PRIu64 ": f64 %a -> %s gives %a, reference %a", seed, d, nf_dtype_name(fm->dtype),
                         got, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_cases),
        cmocka_unit_test(test_f16_cases),
        cmocka_unit_test(test_f8e4m3_cases),
        cmocka_unit_test(test_double_rounding_through_f32),
        cmocka_unit_test(test_integer_conversions),
        cmocka_unit_test(test_element_access),
        cmocka_unit_test(test_bf16_exhaustive),
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_f8e4m3_exhaustive),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
