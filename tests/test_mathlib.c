/* The mathlib on the host JIT against high-precision references: special
 * values, dense sweeps and random bit patterns, f32 and f64, scalar and
 * vector. Checks the max ulp error of every function against the bound the
 * mathlib claims (the table below) and that vector lanes equal scalars.
 *
 * References: f32 from double (long double where cancellation would hurt),
 * f64 from long double, or __float128 where long double is not enough
 * (the gelus: e^v and erfc(t) magnify the argument's error by |v|, 2t^2).
 * Errors are measured against the unrounded reference: a correctly
 * rounded result has error <= 0.5 ulp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef NF_HAVE_QUADMATH
#include <quadmath.h>
#endif

#include "codegen/jit.h"
#include "codegen/mathlib.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>

static uint64_t test_seed;

/* Max ulp errors this mathlib promises (f32, f64). Measured maxima (this
 * test's samples; exhaustive over all f32 inputs where noted in mathlib.h)
 * are printed by the test and lie well below. */
static const struct {
    nf_math_fn fn;
    double bound32, bound64;
} bounds[] = {
    {NF_MATH_EXP, 1.0, 1.0},      {NF_MATH_LOG, 1.0, 1.0},     {NF_MATH_TANH, 1.0, 1.0},
    {NF_MATH_ERF, 1.0, 1.0},      {NF_MATH_SIGMOID, 1.0, 1.0}, {NF_MATH_SILU, 1.0, 1.0},
    {NF_MATH_GELU_ERF, 1.0, 1.0}, {NF_MATH_GELU_TANH, 1.0, 1.0}, {NF_MATH_POW, 1.0, 1.0},
    {NF_MATH_SQRT, 0.5, 0.5},     {NF_MATH_RSQRT, 1.0, 1.0},
};

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng_next(s) >> 11) * 0x1p-53);
}

static float f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double f64_bits(uint64_t u)
{
    double f;
    memcpy(&f, &u, 8);
    return f;
}

/* ---- JIT'd loops: out[i] = fn(x[i], y[i]) --------------------------------------- */

typedef void (*loop_fn)(const void *x, const void *y, void *out, int64_t n);

/* void name(ptr x, ptr y, ptr out, i64 n): n must be a multiple of lanes. */
static void build_loop(LLVMModuleRef m, const char *name, nf_math_fn fn, bool f64, unsigned lanes)
{
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(c, 0), i64 = LLVMInt64TypeInContext(c);
    LLVMTypeRef elem = f64 ? LLVMDoubleTypeInContext(c) : LLVMFloatTypeInContext(c);
    LLVMTypeRef ty = lanes ? LLVMVectorType(elem, lanes) : elem;
    LLVMTypeRef params[4] = {ptr, ptr, ptr, i64};
    LLVMValueRef f = LLVMAddFunction(m, name, LLVMFunctionType(LLVMVoidTypeInContext(c), params, 4, 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c, f, "entry");
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(c, f, "head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c, f, "body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c, f, "done");
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    LLVMPositionBuilderAtEnd(b, entry);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef i = LLVMBuildPhi(b, i64, "i");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, i, LLVMGetParam(f, 3), ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef px = LLVMBuildGEP2(b, elem, LLVMGetParam(f, 0), &i, 1, "");
    LLVMValueRef py = LLVMBuildGEP2(b, elem, LLVMGetParam(f, 1), &i, 1, "");
    LLVMValueRef po = LLVMBuildGEP2(b, elem, LLVMGetParam(f, 2), &i, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(b, ty, px, "");
    LLVMValueRef y = LLVMBuildLoad2(b, ty, py, "");
    LLVMSetAlignment(x, f64 ? 8 : 4);
    LLVMSetAlignment(y, f64 ? 8 : 4);
    LLVMValueRef r = nf_math_emit(m, b, fn, x, y);
    assert_non_null(r);
    LLVMSetAlignment(LLVMBuildStore(b, r, po), f64 ? 8 : 4);
    LLVMValueRef next = LLVMBuildAdd(b, i, LLVMConstInt(i64, lanes ? lanes : 1, 0), "");
    LLVMBuildBr(b, head);
    LLVMValueRef in_vals[2] = {LLVMConstInt(i64, 0, 0), next};
    LLVMBasicBlockRef in_blocks[2] = {entry, body};
    LLVMAddIncoming(i, in_vals, in_blocks, 2);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
}

enum { VEC32 = 8, VEC64 = 4 };

typedef struct loops {
    loop_fn f32[NF_MATH_COUNT], v32[NF_MATH_COUNT], f64[NF_MATH_COUNT], v64[NF_MATH_COUNT];
} loops;

static nf_jit *jit;
static loops L;

static int setup(void **state)
{
    (void)state;
    nf_error err = {0};
    if (nf_jit_create(&jit, &err) != NF_OK) {
        fprintf(stderr, "nf_jit_create: %s\n", err.message);
        return -1;
    }
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("mathlib_test", c);
    char name[64];
    for (int fn = 0; fn < NF_MATH_COUNT; fn++) {
        static const char *const kinds[4] = {"f32", "v32", "f64", "v64"};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "t_%s_%s", nf_math_name((nf_math_fn)fn), kinds[k]);
            build_loop(m, name, (nf_math_fn)fn, k >= 2, k == 1 ? VEC32 : k == 3 ? VEC64 : 0);
        }
    }
    if (nf_jit_add_module(jit, c, m, &err) != NF_OK) {
        fprintf(stderr, "nf_jit_add_module: %s\n", err.message);
        return -1;
    }
    for (int fn = 0; fn < NF_MATH_COUNT; fn++) {
        loop_fn *dst[4] = {&L.f32[fn], &L.v32[fn], &L.f64[fn], &L.v64[fn]};
        static const char *const kinds[4] = {"f32", "v32", "f64", "v64"};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "t_%s_%s", nf_math_name((nf_math_fn)fn), kinds[k]);
            void *p;
            if (nf_jit_lookup(jit, name, &p, &err) != NF_OK) {
                fprintf(stderr, "lookup %s: %s\n", name, err.message);
                return -1;
            }
            memcpy(dst[k], &p, sizeof p);
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nf_jit_destroy(jit);
    return 0;
}

/* ---- references -------------------------------------------------------------------- */

typedef long double ld;

static ld sigmoid_l(ld x)
{
    return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x));
}

/* f32 references: double or long double arithmetic on exact inputs. */
static ld ref32(nf_math_fn fn, float xf, float yf)
{
    ld x = xf;
    switch (fn) {
    case NF_MATH_EXP: return exp((double)xf);
    case NF_MATH_LOG: return log((double)xf);
    case NF_MATH_TANH: return tanh((double)xf);
    case NF_MATH_ERF: return erf((double)xf);
    case NF_MATH_SIGMOID: return sigmoid_l(x);
    case NF_MATH_SILU: return isinf(xf) && xf < 0 ? NAN : x * sigmoid_l(x);
    case NF_MATH_GELU_ERF: return isinf(xf) && xf < 0 ? NAN : x / 2 * erfcl(-x * 0.70710678118654752440084436L);
    case NF_MATH_GELU_TANH: {
        if (isinf(xf) && xf < 0)
            return NAN;
        ld v = 1.59576912160573071175884L * (x + 0.044715L * x * x * x);
        return x * sigmoid_l(v);
    }
    case NF_MATH_POW: return pow((double)xf, (double)yf);
    case NF_MATH_SQRT: return sqrt((double)xf);
    case NF_MATH_RSQRT: return 1 / sqrtl(x);
    default: return NAN;
    }
}

#ifdef NF_HAVE_QUADMATH
typedef __float128 qd;
static qd sigmoid_q(qd x)
{
    return x >= 0 ? 1 / (1 + expq(-x)) : expq(x) / (1 + expq(x));
}
#endif

static ld ref64(nf_math_fn fn, double xd, double yd)
{
    ld x = xd, y = yd;
    switch (fn) {
    case NF_MATH_EXP: return expl(x);
    case NF_MATH_LOG: return logl(x);
    case NF_MATH_TANH: return tanhl(x);
    case NF_MATH_ERF: return erfl(x);
    case NF_MATH_SIGMOID: return sigmoid_l(x);
    case NF_MATH_SILU: return isinf(xd) && xd < 0 ? NAN : x * sigmoid_l(x);
#ifdef NF_HAVE_QUADMATH
    case NF_MATH_GELU_ERF: {
        if (isinf(xd))
            return xd < 0 ? NAN : xd;
        qd q = xd;
        return (ld)(q / 2 * erfcq(-q * M_SQRT1_2q));
    }
    case NF_MATH_GELU_TANH: {
        if (isinf(xd))
            return xd < 0 ? NAN : xd;
        qd q = xd;
        qd v = 2 * sqrtq(2 / M_PIq) * (q + 0.044715Q * q * q * q);
        return (ld)(q * sigmoid_q(v));
    }
#else
    case NF_MATH_GELU_ERF: return isinf(xd) && xd < 0 ? NAN : x / 2 * erfcl(-x * 0.70710678118654752440084436L);
    case NF_MATH_GELU_TANH: {
        if (isinf(xd) && xd < 0)
            return NAN;
        ld v = 1.59576912160573071175884L * (x + 0.044715L * x * x * x);
        return x * sigmoid_l(v);
    }
#endif
    case NF_MATH_POW: return powl(x, y);
    case NF_MATH_SQRT: return sqrtl(x);
    case NF_MATH_RSQRT: return 1 / sqrtl(x);
    default: return NAN;
    }
}

/* Error of got in ulps of the reference's precision; 0 when both are the
 * same special value, INFINITY when the kinds differ (NaN vs number,
 * overflow vs finite, signed zeros). */
static double ulp_error(ld got, ld ref, bool f64)
{
    ld rounded = f64 ? (ld)(double)ref : (ld)(float)ref;
    if (isnan(ref) || isnan(got))
        return isnan(ref) && isnan(got) ? 0 : INFINITY;
    if (isinf(rounded) || isinf(got))
        return got == rounded ? 0 : INFINITY;
    if (ref == 0 && got == 0)
        return signbit(ref) == signbit(got) ? 0 : INFINITY;
    int min_exp = f64 ? -1022 : -126, mant = f64 ? 52 : 23;
    int e = ref == 0 ? min_exp : ilogbl(ref);
    if (e < min_exp)
        e = min_exp;
    return (double)(fabsl(got - ref) / ldexpl(1, e - mant));
}

/* ---- the checks ------------------------------------------------------------------------- */

typedef struct stats {
    double max_err;
    double worst_x, worst_y;
    double worst_got;
    long double worst_ref;
    long n;
} stats;

/* Runs fn on n inputs (scalar and vector loops), checks the vector lanes
 * against the scalars bit for bit, and accumulates the errors. */
static void run_batch(nf_math_fn fn, bool f64, const void *x, const void *y, size_t n, stats *st)
{
    size_t es = f64 ? 8 : 4, lanes = f64 ? VEC64 : VEC32;
    size_t npad = (n + lanes - 1) / lanes * lanes;
    unsigned char *xs = calloc(npad, es), *ys = calloc(npad, es);
    unsigned char *out = malloc(npad * es), *vout = malloc(npad * es);
    assert_non_null(xs);
    assert_non_null(ys);
    assert_non_null(out);
    assert_non_null(vout);
    memcpy(xs, x, n * es);
    memcpy(ys, y ? y : x, n * es);
    memset(out, 0xff, npad * es); /* NaN-poisoned */
    memset(vout, 0xff, npad * es);
    (f64 ? L.f64 : L.f32)[fn](xs, ys, out, (int64_t)npad);
    (f64 ? L.v64 : L.v32)[fn](xs, ys, vout, (int64_t)npad);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(out + i * es, vout + i * es, es) != 0)
            fail_msg("%s %s: vector lane differs from scalar at x=%a (seed %llu)", nf_math_name(fn),
                     f64 ? "f64" : "f32",
                     f64 ? ((double *)xs)[i] : (double)((float *)xs)[i], (unsigned long long)test_seed);
        double xv, yv, got;
        ld ref;
        if (f64) {
            xv = ((double *)xs)[i];
            yv = ((double *)ys)[i];
            got = ((double *)out)[i];
            ref = ref64(fn, xv, yv);
        } else {
            xv = ((float *)xs)[i];
            yv = ((float *)ys)[i];
            got = ((float *)out)[i];
            ref = ref32(fn, (float)xv, (float)yv);
        }
        double e = ulp_error(got, ref, f64);
        st->n++;
        if (e > st->max_err || (isnan(e) && !isnan(st->max_err))) {
            st->max_err = e;
            st->worst_x = xv;
            st->worst_y = yv;
            st->worst_got = got;
            st->worst_ref = ref;
        }
    }
    free(xs);
    free(ys);
    free(out);
    free(vout);
}

static void report(nf_math_fn fn, bool f64, const stats *st, double bound)
{
    printf("  %-9s %s: max %.3f ulp over %ld inputs (x=%a", nf_math_name(fn), f64 ? "f64" : "f32",
           st->max_err, st->n, st->worst_x);
    if (nf_math_arity(fn) > 1)
        printf(", y=%a", st->worst_y);
    printf(")\n");
    if (!(st->max_err <= bound))
        fail_msg("%s %s: error %g ulp > bound %g at x=%a y=%a: got %a, want %La (seed %llu)",
                 nf_math_name(fn), f64 ? "f64" : "f32", st->max_err, bound, st->worst_x, st->worst_y,
                 st->worst_got, st->worst_ref, (unsigned long long)test_seed);
}

static double bound_of(nf_math_fn fn, bool f64)
{
    for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++)
        if (bounds[i].fn == fn)
            return f64 ? bounds[i].bound64 : bounds[i].bound32;
    return 0;
}

/* Ranges where each function does its interesting work. */
static void sweep_range(nf_math_fn fn, bool f64, double *lo, double *hi)
{
    switch (fn) {
    case NF_MATH_EXP: *lo = f64 ? -746 : -104; *hi = f64 ? 710 : 89; break;
    case NF_MATH_LOG: *lo = 0; *hi = 4; break;
    case NF_MATH_TANH: *lo = -10; *hi = 10; break;
    case NF_MATH_ERF: *lo = -6; *hi = 6; break;
    case NF_MATH_SIGMOID: *lo = f64 ? -750 : -110; *hi = 40; break;
    case NF_MATH_SILU: *lo = f64 ? -760 : -120; *hi = 40; break;
    case NF_MATH_GELU_ERF: *lo = f64 ? -40 : -15; *hi = 10; break;
    case NF_MATH_GELU_TANH: *lo = f64 ? -25 : -12; *hi = 10; break;
    default: *lo = 0; *hi = 10; break;
    }
}

/* Values near where the implementations switch method or saturate. */
static const double edges[] = {
    0, 0.5, 1, 2, 0.98, 1.25, 0.354, 0.35, 0.70710678, 1.41421356, 0.34657359, 88.7228394,
    -87.3365479, -103.972077, 709.782712893384, -708.396418532264, -745.133219101941, 4, 6,
    14.5, 39, 20, 60, 9.01, 19.1, 710, 89, 104, 120, 760, 1e-30, 1e-300, 3.92, 5.93, 27.3,
};

static size_t special_inputs(bool f64, double *out, size_t cap)
{
    size_t n = 0;
#define PUT(v)                                                                                   \
    do {                                                                                         \
        if (n < cap)                                                                             \
            out[n++] = (v);                                                                      \
    } while (0)
    double fixed[] = {INFINITY, NAN, f64 ? DBL_MAX : FLT_MAX, f64 ? DBL_MIN : FLT_MIN,
                      f64 ? 0x1p-1074 : 0x1p-149, f64 ? DBL_MIN - 0x1p-1074 : FLT_MIN - 0x1p-149};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        PUT(fixed[i]);
        PUT(-fixed[i]);
    }
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        for (int s = -1; s <= 1; s += 2) {
            double v = f64 ? s * edges[i] : (double)(float)(s * edges[i]);
            double up = v, dn = v;
            for (int k = 0; k < 4; k++) {
                PUT(up);
                PUT(dn);
                up = f64 ? nextafter(up, INFINITY) : nextafterf((float)up, INFINITY);
                dn = f64 ? nextafter(dn, -INFINITY) : nextafterf((float)dn, -INFINITY);
            }
        }
#undef PUT
    return n;
}

static void check_unary(nf_math_fn fn, bool f64)
{
    enum { N_SPECIAL = 1024, N_SWEEP = 1 << 18, N_RAND32 = 1 << 20, N_SWEEP64 = 1 << 16, N_RAND64 = 1 << 16 };
    size_t cap = N_SPECIAL + N_SWEEP + N_RAND32;
    double *xd = malloc(cap * sizeof *xd);
    float *xf = malloc(cap * sizeof *xf);
    assert_non_null(xd);
    assert_non_null(xf);
    uint64_t rng = test_seed ^ ((uint64_t)fn << 32) ^ (f64 ? 0x5555 : 0);
    size_t n = special_inputs(f64, xd, N_SPECIAL);
    double lo, hi;
    sweep_range(fn, f64, &lo, &hi);
    size_t nsweep = f64 ? N_SWEEP64 : N_SWEEP, nrand = f64 ? N_RAND64 : N_RAND32;
    for (size_t i = 0; i < nsweep; i++) /* evenly spaced, jittered */
        xd[n++] = lo + (hi - lo) * ((double)i + rng_uniform(&rng, 0, 1)) / (double)nsweep;
    for (size_t i = 0; i < nrand; i++)
        xd[n++] = f64 ? f64_bits(rng_next(&rng)) : (double)f32_bits((uint32_t)rng_next(&rng));
    if (f64)
        for (size_t i = 0; i < nsweep && n < cap; i++) /* uniform in the range, full precision */
            xd[n++] = rng_uniform(&rng, lo, hi);
    stats st = {0};
    if (f64) {
        run_batch(fn, true, xd, NULL, n, &st);
    } else {
        for (size_t i = 0; i < n; i++)
            xf[i] = (float)xd[i];
        run_batch(fn, false, xf, NULL, n, &st);
    }
    report(fn, f64, &st, bound_of(fn, f64));
    free(xd);
    free(xf);
}

/* pow: the C99 special cases crossed, bases around 1 with large exponents,
 * negative bases with integer exponents, ranges that reach overflow and
 * underflow, and random bit patterns. */
static void check_pow(bool f64)
{
    enum { N32 = 1 << 20, N64 = 1 << 17 };
    size_t cap = (f64 ? N64 : N32) + 8192;
    double *xd = malloc(cap * sizeof *xd), *yd = malloc(cap * sizeof *yd);
    float *xf = malloc(cap * sizeof *xf), *yf = malloc(cap * sizeof *yf);
    assert_true(xd && yd && xf && yf);
    uint64_t rng = test_seed ^ 0x706f77 ^ (f64 ? 0x5555 : 0);
    static const double sp[] = {0, 1, -1, 0.5, 2, 3, -3, 0.25, 1.5, -0.5, -2.5, 4, INFINITY, NAN, 1e-40,
                                1e30, 1.0000001, 0.9999999, 1e-310, 1e300, 7};
    const size_t nsp = sizeof sp / sizeof *sp;
    size_t n = 0;
    for (size_t i = 0; i < nsp; i++)
        for (size_t j = 0; j < nsp; j++)
            for (int si = -1; si <= 1; si += 2)
                for (int sj = -1; sj <= 1; sj += 2) {
                    xd[n] = si * sp[i];
                    yd[n++] = sj * sp[j];
                }
    size_t total = f64 ? N64 : N32;
    while (n < cap - 8 && n < total) {
        uint64_t r = rng_next(&rng);
        double x, y;
        switch (r % 6) {
        case 0: x = rng_uniform(&rng, 0, 4); y = rng_uniform(&rng, -40, 40); break;
        case 1: x = rng_uniform(&rng, 0.5, 2); y = rng_uniform(&rng, f64 ? -2000 : -300, f64 ? 2000 : 300); break;
        case 2: /* near 1, huge exponents: needs log to extra precision */
            x = 1 + rng_uniform(&rng, -1, 1) * (f64 ? 0x1p-30 : 0x1p-12);
            y = rng_uniform(&rng, -1, 1) * (f64 ? 0x1p39 : 0x1p18);
            break;
        case 3: x = -rng_uniform(&rng, 0, 10); y = (double)((int64_t)(rng_next(&rng) % 81) - 40); break;
        case 4: x = exp(rng_uniform(&rng, f64 ? -740 : -100, f64 ? 700 : 85)); y = rng_uniform(&rng, -1.5, 1.5); break;
        default:
            x = f64 ? f64_bits(rng_next(&rng)) : f32_bits((uint32_t)rng_next(&rng));
            y = f64 ? f64_bits(rng_next(&rng)) : f32_bits((uint32_t)rng_next(&rng));
            break;
        }
        xd[n] = x;
        yd[n++] = y;
    }
    stats st = {0};
    if (f64) {
        run_batch(NF_MATH_POW, true, xd, yd, n, &st);
    } else {
        for (size_t i = 0; i < n; i++) {
            xf[i] = (float)xd[i];
            yf[i] = (float)yd[i];
        }
        run_batch(NF_MATH_POW, false, xf, yf, n, &st);
    }
    report(NF_MATH_POW, f64, &st, bound_of(NF_MATH_POW, f64));
    free(xd);
    free(yd);
    free(xf);
    free(yf);
}

/* Exact special values that the ulp measure would not single out. */
static void test_special_values(void **state)
{
    (void)state;
    struct {
        nf_math_fn fn;
        float x, y, want;
    } cases[] = {
        {NF_MATH_EXP, -INFINITY, 0, 0.0f},   {NF_MATH_EXP, INFINITY, 0, INFINITY},
        {NF_MATH_EXP, 89.0f, 0, INFINITY},   {NF_MATH_EXP, -104.0f, 0, 0.0f},
        {NF_MATH_EXP, 0.0f, 0, 1.0f},        {NF_MATH_LOG, 0.0f, 0, -INFINITY},
        {NF_MATH_LOG, -0.0f, 0, -INFINITY},  {NF_MATH_LOG, -1.0f, 0, NAN},
        {NF_MATH_LOG, INFINITY, 0, INFINITY}, {NF_MATH_LOG, 1.0f, 0, 0.0f},
        {NF_MATH_TANH, INFINITY, 0, 1.0f},   {NF_MATH_TANH, -INFINITY, 0, -1.0f},
        {NF_MATH_TANH, -0.0f, 0, -0.0f},     {NF_MATH_ERF, INFINITY, 0, 1.0f},
        {NF_MATH_ERF, -INFINITY, 0, -1.0f},  {NF_MATH_ERF, -0.0f, 0, -0.0f},
        {NF_MATH_SIGMOID, -INFINITY, 0, 0.0f}, {NF_MATH_SIGMOID, INFINITY, 0, 1.0f},
        {NF_MATH_SILU, INFINITY, 0, INFINITY}, {NF_MATH_SILU, -INFINITY, 0, NAN},
        {NF_MATH_GELU_ERF, INFINITY, 0, INFINITY}, {NF_MATH_GELU_ERF, -INFINITY, 0, NAN},
        {NF_MATH_GELU_TANH, INFINITY, 0, INFINITY}, {NF_MATH_GELU_TANH, -INFINITY, 0, NAN},
        {NF_MATH_SQRT, -1.0f, 0, NAN},       {NF_MATH_SQRT, -0.0f, 0, -0.0f},
        {NF_MATH_RSQRT, 0.0f, 0, INFINITY},  {NF_MATH_RSQRT, -0.0f, 0, -INFINITY},
        {NF_MATH_RSQRT, INFINITY, 0, 0.0f},  {NF_MATH_POW, NAN, 0.0f, 1.0f},
        {NF_MATH_POW, 1.0f, NAN, 1.0f},      {NF_MATH_POW, -1.0f, INFINITY, 1.0f},
        {NF_MATH_POW, -0.0f, -3.0f, -INFINITY}, {NF_MATH_POW, -0.0f, 3.0f, -0.0f},
        {NF_MATH_POW, 0.0f, -2.0f, INFINITY}, {NF_MATH_POW, -0.0f, 0.5f, 0.0f},
        {NF_MATH_POW, -INFINITY, -3.0f, -0.0f}, {NF_MATH_POW, -INFINITY, 3.0f, -INFINITY},
        {NF_MATH_POW, -INFINITY, 0.5f, INFINITY}, {NF_MATH_POW, -2.0f, 0.5f, NAN},
        {NF_MATH_POW, -2.0f, 3.0f, -8.0f},   {NF_MATH_POW, 0.5f, INFINITY, 0.0f},
        {NF_MATH_POW, 0.5f, -INFINITY, INFINITY}, {NF_MATH_POW, 2.0f, INFINITY, INFINITY},
        {NF_MATH_POW, 2.0f, -INFINITY, 0.0f}, {NF_MATH_POW, INFINITY, -1.0f, 0.0f},
        {NF_MATH_POW, -8.0f, 1.0f / 3.0f, NAN}, {NF_MATH_POW, 2.0f, 128.0f, INFINITY},
        {NF_MATH_POW, 2.0f, -149.0f, 0x1p-149f}, {NF_MATH_POW, 2.0f, -150.0f, 0.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int w = 0; w < 2; w++) {
            bool f64 = w == 1;
            double got;
            if (f64) {
                double x[VEC64] = {cases[i].x}, y[VEC64] = {cases[i].y}, out[VEC64];
                L.f64[cases[i].fn](x, y, out, 1);
                got = out[0];
            } else {
                float x[VEC32] = {cases[i].x}, y[VEC32] = {cases[i].y}, out[VEC32];
                L.f32[cases[i].fn](x, y, out, 1);
                got = out[0];
            }
            double want = cases[i].want;
            if (f64 && cases[i].fn == NF_MATH_EXP && fabs(cases[i].x) == 89.0f)
                continue; /* f32 thresholds */
            if (f64 && cases[i].fn == NF_MATH_EXP && cases[i].x == -104.0f)
                continue;
            if (f64 && cases[i].fn == NF_MATH_POW && cases[i].x == 2.0f && fabs(cases[i].y) >= 128)
                continue;
            bool ok = isnan(want) ? isnan(got) : got == want && signbit(got) == signbit(want);
            if (!ok)
                fail_msg("%s %s(%a, %a) = %a, want %a", f64 ? "f64" : "f32", nf_math_name(cases[i].fn),
                         (double)cases[i].x, (double)cases[i].y, got, want);
        }
}

/* Every NaN result is the one quiet NaN, so all targets agree bit for bit. */
static void test_nan_is_canonical(void **state)
{
    (void)state;
    uint32_t payload32 = 0xffc12345u; /* negative, with payload */
    uint64_t payload64 = 0xfff1234567890abcull;
    float nan32 = f32_bits(payload32);
    double nan64 = f64_bits(payload64);
    for (int fn = 0; fn < NF_MATH_COUNT; fn++) {
        float x32[VEC32] = {nan32, -1.0f, -INFINITY}, y32[VEC32] = {1.5f, 0.5f, 0.5f}, o32[VEC32];
        double x64[VEC64] = {nan64, -1.0, -INFINITY}, y64[VEC64] = {1.5, 0.5, 0.5}, o64[VEC64];
        L.f32[fn](x32, y32, o32, 3);
        L.f64[fn](x64, y64, o64, 3);
        for (int i = 0; i < 3; i++) {
            uint32_t b32;
            uint64_t b64;
            memcpy(&b32, &o32[i], 4);
            memcpy(&b64, &o64[i], 8);
            if (isnan(o32[i]) && b32 != 0x7fc00000u)
                fail_msg("%s f32(%a) = NaN 0x%08x, want 0x7fc00000", nf_math_name((nf_math_fn)fn),
                         (double)x32[i], (unsigned)b32);
            if (isnan(o64[i]) && b64 != 0x7ff8000000000000ull)
                fail_msg("%s f64(%a) = NaN 0x%016llx, want 0x7ff8000000000000", nf_math_name((nf_math_fn)fn),
                         x64[i], (unsigned long long)b64);
        }
        assert_true(isnan(o32[0]) && isnan(o64[0]));
    }
}

#define UNARY_TEST(fn, name)                                                                     \
    static void test_##name(void **state)                                                        \
    {                                                                                            \
        (void)state;                                                                             \
        check_unary(fn, false);                                                                  \
        check_unary(fn, true);                                                                   \
    }
UNARY_TEST(NF_MATH_EXP, exp)
UNARY_TEST(NF_MATH_LOG, log)
UNARY_TEST(NF_MATH_TANH, tanh)
UNARY_TEST(NF_MATH_ERF, erf)
UNARY_TEST(NF_MATH_SIGMOID, sigmoid)
UNARY_TEST(NF_MATH_SILU, silu)
UNARY_TEST(NF_MATH_GELU_ERF, gelu_erf)
UNARY_TEST(NF_MATH_GELU_TANH, gelu_tanh)
UNARY_TEST(NF_MATH_SQRT, sqrt)
UNARY_TEST(NF_MATH_RSQRT, rsqrt)

static void test_pow(void **state)
{
    (void)state;
    check_pow(false);
    check_pow(true);
}

/* The emitted functions are declared once per (fn, type) and refuse other types. */
static void test_function_reuse_and_types(void **state)
{
    (void)state;
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("types", c);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(c);
    LLVMValueRef a = nf_math_function(m, NF_MATH_EXP, f32);
    assert_non_null(a);
    assert_ptr_equal(a, nf_math_function(m, NF_MATH_EXP, f32));
    assert_string_equal(LLVMGetValueName(a), "nf.math.exp.f32");
    LLVMValueRef v = nf_math_function(m, NF_MATH_GELU_TANH, LLVMVectorType(LLVMDoubleTypeInContext(c), 2));
    assert_non_null(v);
    assert_string_equal(LLVMGetValueName(v), "nf.math.gelu_tanh.v2f64");
    assert_null(nf_math_function(m, NF_MATH_EXP, LLVMInt32TypeInContext(c)));
    assert_null(nf_math_function(m, NF_MATH_EXP, LLVMHalfTypeInContext(c)));
    assert_false(nf_math_supports_type(LLVMBFloatTypeInContext(c)));
    char *msg = NULL;
    assert_false(LLVMVerifyModule(m, LLVMReturnStatusAction, &msg));
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
}

int main(void)
{
    const char *env = getenv("NF_TEST_SEED");
    test_seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    printf("test_mathlib: seed %llu (set NF_TEST_SEED to repeat)\n", (unsigned long long)test_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_function_reuse_and_types),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_nan_is_canonical),
        cmocka_unit_test(test_exp),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_erf),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_silu),
        cmocka_unit_test(test_gelu_erf),
        cmocka_unit_test(test_gelu_tanh),
        cmocka_unit_test(test_pow),
        cmocka_unit_test(test_sqrt),
        cmocka_unit_test(test_rsqrt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
