/* exp, log, pow, and the sigmoid family (sigmoid, silu, gelu_tanh), all on
 * the shared exp kernel nf_exp_core. Coefficients are minimax fits made for
 * this file (Remez exchange, 200-bit arithmetic), then rounded. */
#include "codegen/mathlib_ir.h"

#include <math.h>

#define NCOEF(a) ((int)(sizeof(a) / sizeof(*(a))))

/* Below these e^x is under half the smallest subnormal; above, over the max. */
static double exp_lo(const nf_mb *mb) { return mb->f64 ? -746.0 : -104.0; }
static double exp_hi(const nf_mb *mb) { return mb->f64 ? 710.0 : 89.0; }

V nf_mathlib_exp(nf_mb *mb, V x)
{
    V ph, pl, k;
    nf_exp_core(mb, nf_clamp(mb, x, exp_lo(mb), exp_hi(mb)), NULL, &ph, &pl, &k);
    return nf_nan_through(mb, x, nf_scale2(mb, ph, k));
}

/* ---- log ----------------------------------------------------------------- */

/* x = m * 2^k with m in [sqrt(1/2), sqrt(2)) for finite x > 0, subnormals
 * included; k returned as a float. */
static void log_reduce(nf_mb *mb, V x, V *m, V *k)
{
    V tiny = nf_lt(mb, x, nf_kf(mb, mb->f64 ? 0x1p-1022 : 0x1p-126));
    V xs = nf_sel(mb, tiny, nf_mul(mb, x, nf_kf(mb, mb->f64 ? 0x1p54 : 0x1p25)), x);
    V adj = nf_sel(mb, tiny, nf_ki(mb, mb->f64 ? -54 : -25), nf_ki(mb, 0));
    V ix = nf_bits(mb, xs);
    int64_t sqrt_half = mb->f64 ? 0x3fe6a09e667f3bcdLL : 0x3f3504f3LL;
    V e = nf_ashr(mb, nf_isub(mb, ix, nf_ki(mb, sqrt_half)), mb->mant);
    *m = nf_from_bits(mb, nf_isub(mb, ix, nf_shl(mb, e, mb->mant)));
    *k = nf_to_float(mb, nf_iadd(mb, e, adj));
}

/* R(z) = (2 atanh(s) - 2s)/s, z = s^2 <= 0.0295, as z*(c0 + c1 z + ...):
 * abs error 2^-31 (f32), 2^-59 (f64). */
static const double log_r32[] = {0x1.555554p-1, 0x1.999a7cp-2, 0x1.2438a8p-2, 0x1.e2fddp-3};
static const double log_r64[] = {
    0x1.5555555555593p-1, 0x1.999999997fb33p-2, 0x1.2492494217908p-2, 0x1.c71c51e8033b4p-3,
    0x1.7466462a7c80bp-3, 0x1.39a0f52f21c07p-3, 0x1.2f0d8d1f48702p-3,
};

/* log(x) for finite x > 0. log(1+f) = f - f^2/2 + s*(f^2/2 + R), s = f/(2+f):
 * f is exact, the rounded parts are small against it. ln2_hi has 16 (42)
 * bits so k*ln2_hi is exact. */
static V log_parts(nf_mb *mb, V m, V k)
{
    V f = nf_sub(mb, m, nf_kf(mb, 1.0));
    V s = nf_div(mb, f, nf_add(mb, nf_kf(mb, 2.0), f));
    V z = nf_mul(mb, s, s);
    V r = mb->f64 ? nf_poly(mb, z, log_r64, NCOEF(log_r64)) : nf_poly(mb, z, log_r32, NCOEF(log_r32));
    r = nf_mul(mb, z, r);
    V hfsq = nf_mul(mb, nf_mul(mb, nf_kf(mb, 0.5), f), f);
    double ln2_hi = mb->f64 ? 0x1.62e42fefa38p-1 : 0x1.62e4p-1;
    double ln2_lo = mb->f64 ? 0x1.ef35793c7673p-45 : 0x1.7f7d1cp-20;
    V lo = nf_fma(mb, s, nf_add(mb, hfsq, r), nf_mul(mb, k, nf_kf(mb, ln2_lo)));
    V t = nf_sub(mb, nf_sub(mb, hfsq, lo), f);
    return nf_sub(mb, nf_mul(mb, k, nf_kf(mb, ln2_hi)), t);
}

static V log_core(nf_mb *mb, V x)
{
    V m, k;
    log_reduce(mb, x, &m, &k);
    return log_parts(mb, m, k);
}

V nf_mathlib_log(nf_mb *mb, V x)
{
    V r = log_core(mb, x);
    r = nf_sel(mb, nf_eq(mb, x, nf_kf(mb, INFINITY)), x, r);
    r = nf_sel(mb, nf_eq(mb, x, nf_kf(mb, 0.0)), nf_kf(mb, -INFINITY), r);
    r = nf_sel(mb, nf_lt(mb, x, nf_kf(mb, 0.0)), nf_kf(mb, NAN), r);
    return nf_nan_through(mb, x, r);
}

/* ---- pow ----------------------------------------------------------------- */

/* Q(z) = (2 atanh(s) - 2s - 2s^3/3 - 2s^5/5)/s^7: relative error of log 2^-69.9. */
static const double logdd_q64[] = {
    0x1.24924924924d0p-2, 0x1.c71c71c6f5f8ap-3, 0x1.745d1778d7966p-3, 0x1.3b13944c6db07p-3,
    0x1.111967859090ap-3, 0x1.df5182a644a39p-4, 0x1.e230854e773efp-4,
};

/* (ah + al) * c for a constant double-word c = ch + cl. */
static void dw_mul_const(nf_mb *mb, V ah, V al, double ch, double cl, V *hi, V *lo)
{
    nf_dw_mul(mb, ah, al, nf_kf(mb, ch), nf_kf(mb, cl), hi, lo);
}

/* log(x) = lh + ll to about 2^-67 relative, for finite x > 0 (f64):
 * log(1+f) = 2s + 2s^3/3 + 2s^5/5 + s^7 Q(s^2), s = f/(2+f), the first
 * three terms in double-double arithmetic. */
static void log_dd(nf_mb *mb, V x, V *lh, V *ll)
{
    V m, k;
    log_reduce(mb, x, &m, &k);
    V f = nf_sub(mb, m, nf_kf(mb, 1.0));
    V dh, dl; /* 2 + f exactly */
    nf_fast_two_sum(mb, nf_kf(mb, 2.0), f, &dh, &dl);
    V sh = nf_div(mb, f, dh);
    V rem = nf_sub(mb, nf_fma(mb, nf_neg(mb, sh), dh, f), nf_mul(mb, sh, dl));
    V sl = nf_div(mb, rem, dh);
    V s2h, s2l, s3h, s3l, s5h, s5l, c3h, c3l, c5h, c5l;
    nf_dw_mul(mb, sh, sl, sh, sl, &s2h, &s2l);
    nf_dw_mul(mb, s2h, s2l, sh, sl, &s3h, &s3l);
    nf_dw_mul(mb, s3h, s3l, s2h, s2l, &s5h, &s5l);
    dw_mul_const(mb, s3h, s3l, 0x1.5555555555555p-1, 0x1.5555555555555p-55, &c3h, &c3l); /* 2/3 */
    dw_mul_const(mb, s5h, s5l, 0x1.999999999999ap-2, -0x1.999999999999ap-56, &c5h, &c5l); /* 2/5 */
    V tail = nf_mul(mb, nf_mul(mb, s5h, s2h), nf_poly(mb, s2h, logdd_q64, NCOEF(logdd_q64)));
    V ah, al, a2;
    nf_fast_two_sum(mb, nf_add(mb, sh, sh), c3h, &ah, &al);
    nf_fast_two_sum(mb, ah, c5h, &ah, &a2);
    V small = nf_add(mb, nf_add(mb, sl, sl), nf_add(mb, nf_add(mb, c3l, c5l), tail));
    al = nf_add(mb, nf_add(mb, al, a2), small);
    /* k*ln2 + log(m); ln2_hi has 42 bits, so k*ln2_hi is exact */
    V kh = nf_mul(mb, k, nf_kf(mb, 0x1.62e42fefa38p-1));
    V kl = nf_mul(mb, k, nf_kf(mb, 0x1.ef35793c7673p-45));
    V th, tl;
    nf_two_sum(mb, kh, ah, &th, &tl);
    tl = nf_add(mb, tl, nf_add(mb, al, kl));
    nf_fast_two_sum(mb, th, tl, lh, ll);
}

/* |x|^y for finite ax > 0 and finite y, f64: exp(y * log(ax)) with the
 * product carried as a double-double into the exp kernel. */
static V pow_mag64(nf_mb *mb, V ax, V y)
{
    V lh, ll, wh, wl;
    log_dd(mb, ax, &lh, &ll);
    nf_two_prod(mb, y, lh, &wh, &wl);
    wl = nf_fma(mb, y, ll, wl);
    V in_range = nf_lt(mb, nf_fabs(mb, wh), nf_kf(mb, 1000.0));
    wl = nf_sel(mb, in_range, wl, nf_kf(mb, 0.0));
    V ph, pl, k;
    nf_exp_core(mb, nf_clamp(mb, wh, exp_lo(mb), exp_hi(mb)), wl, &ph, &pl, &k);
    return nf_scale2(mb, ph, k);
}

/* The same for f32, computed in f64 (errors ~2^-45) and rounded once, in
 * base 2 so that powers of two come out exact (pow(2, -150) is the tie 0). */
static V pow_mag32(nf_mb *mb, V ax, V y)
{
    nf_mb d;
    nf_mb_other(mb, true, &d);
    V m, k;
    log_reduce(&d, nf_fext(&d, ax), &m, &k);
    V log2x = nf_fma(&d, log_parts(&d, m, nf_kf(&d, 0.0)), nf_kf(&d, 0x1.71547652b82fep+0), k);
    V w = nf_clamp(&d, nf_mul(&d, nf_fext(&d, y), log2x), -1100.0, 1100.0);
    V j = nf_rint(&d, w);
    V rh, rl, ph, pl, k2;
    nf_two_prod(&d, nf_sub(&d, w, j), nf_kf(&d, 0x1.62e42fefa39efp-1), &rh, &rl); /* (w - j) ln2 */
    rl = nf_fma(&d, nf_sub(&d, w, j), nf_kf(&d, 0x1.abc9e3b39803fp-56), rl);
    nf_exp_core(&d, rh, rl, &ph, &pl, &k2);
    return nf_ftrunc(mb, nf_scale2(&d, ph, nf_iadd(&d, k2, nf_to_int(&d, j))));
}

/* C99 F.9.4.4 special cases around the magnitude computation. */
V nf_mathlib_pow(nf_mb *mb, V x, V y)
{
    V zero = nf_kf(mb, 0.0), one = nf_kf(mb, 1.0), inf = nf_kf(mb, INFINITY);
    V ax = nf_fabs(mb, x);
    V mag = mb->f64 ? pow_mag64(mb, ax, y) : pow_mag32(mb, ax, y);

    V y_int = nf_eq(mb, nf_floor(mb, y), y); /* true for +-inf too */
    V half = nf_mul(mb, y, nf_kf(mb, 0.5));
    V y_odd = nf_and(mb, y_int, nf_ne(mb, nf_floor(mb, half), half));
    V y_neg = nf_lt(mb, y, zero);

    mag = nf_sel(mb, nf_eq(mb, ax, zero), nf_sel(mb, y_neg, inf, zero), mag);
    mag = nf_sel(mb, nf_eq(mb, ax, inf), nf_sel(mb, y_neg, zero, inf), mag);
    /* y = +-inf: 1 for |x| = 1, else 0 or inf by whether |x| < 1 agrees with y > 0 */
    V shrinks = LLVMBuildICmp(mb->b, LLVMIntEQ, nf_lt(mb, ax, one), nf_gt(mb, y, zero), "");
    V mag_inf = nf_sel(mb, nf_eq(mb, ax, one), one, nf_sel(mb, shrinks, zero, inf));
    mag = nf_sel(mb, nf_eq(mb, nf_fabs(mb, y), inf), mag_inf, mag);

    V x_signed = nf_ilt(mb, nf_bits(mb, x), nf_ki(mb, 0));
    V r = nf_sel(mb, nf_and(mb, x_signed, y_odd), nf_neg(mb, mag), mag);

    V x_neg_finite = nf_and(mb, nf_lt(mb, x, zero), nf_gt(mb, x, nf_neg(mb, inf)));
    V nan = nf_or(mb, nf_and(mb, x_neg_finite, nf_not(mb, y_int)),
                  nf_or(mb, nf_isnan(mb, x), nf_isnan(mb, y)));
    r = nf_sel(mb, nan, nf_kf(mb, NAN), r);
    return nf_sel(mb, nf_or(mb, nf_eq(mb, y, zero), nf_eq(mb, x, one)), one, r);
}

/* ---- sigmoid, silu, gelu_tanh ---------------------------------------------- */

/* m * sigmoid(t) for t = th + tl of the sign of x: m/(1 + e) for x >= 0
 * and m e/(1 + e) below, e = e^-|t| <= 1 kept as a double-word, so the
 * result rounds once (twice into the subnormals). For x < 0 the power of
 * two of e is applied last: m e stays precise where e alone underflows.
 * m is 1 (sigmoid) or x; below zero mc, m clamped where |mc| e^lo is 0. */
static V times_sigmoid(nf_mb *mb, V x, V m, V mc, V th, V tl)
{
    double lo = mb->f64 ? -760.0 : -120.0;
    V pos = nf_ge(mb, th, nf_kf(mb, 0.0));
    V nh = nf_sel(mb, pos, nf_neg(mb, th), th); /* -|t| */
    V nl = NULL;
    if (tl) {
        nl = nf_sel(mb, pos, nf_neg(mb, tl), tl);
        nl = nf_sel(mb, nf_ge(mb, nh, nf_kf(mb, lo)), nl, nf_kf(mb, 0.0));
    }
    V ph, pl, k;
    nf_exp_core(mb, nf_clamp(mb, nh, lo, 0.0), nl, &ph, &pl, &k);
    V dh, dl; /* 1 + e */
    nf_fast_two_sum(mb, nf_kf(mb, 1.0), nf_scale2(mb, ph, k), &dh, &dl);
    dl = nf_add(mb, dl, nf_scale2(mb, pl, k));
    V neg = nf_lt(mb, x, nf_kf(mb, 0.0));
    V eh, el;
    nf_two_prod(mb, mc, ph, &eh, &el);
    el = nf_fma(mb, mc, pl, el);
    V q = nf_dw_div(mb, nf_sel(mb, neg, eh, m), nf_sel(mb, neg, el, nf_kf(mb, 0.0)), dh, dl);
    V r = nf_scale2(mb, q, nf_sel(mb, neg, k, nf_ki(mb, 0)));
    /* m = +inf: inf/1, not the NaN of the correction step; m = -0: -0 */
    r = nf_sel(mb, nf_eq(mb, m, nf_kf(mb, INFINITY)), m, r);
    return nf_nan_through(mb, x, nf_copysign(mb, r, m));
}

V nf_mathlib_sigmoid(nf_mb *mb, V x)
{
    V one = nf_kf(mb, 1.0);
    return times_sigmoid(mb, x, one, one, x, NULL);
}

/* PyTorch's formulas give -inf * 0 = NaN at -inf. */
static V nan_at_minus_inf(nf_mb *mb, V x, V r)
{
    return nf_sel(mb, nf_eq(mb, x, nf_kf(mb, -INFINITY)), nf_kf(mb, NAN), r);
}

V nf_mathlib_silu(nf_mb *mb, V x)
{
    V xc = nf_clamp(mb, x, mb->f64 ? -760.0 : -120.0, INFINITY);
    return nan_at_minus_inf(mb, x, times_sigmoid(mb, x, x, xc, xc, NULL));
}

/* gelu_tanh(x) = x * sigmoid(v), v = 2 sqrt(2/pi) (x + 0.044715 x^3), the
 * same function without 1 + tanh's cancellation. v is computed as a
 * double-word, since e^v magnifies its relative error by |v|. */
V nf_mathlib_gelu_tanh(nf_mb *mb, V x)
{
    double xmax = mb->f64 ? 60.0 : 20.0;
    double ah = mb->f64 ? 0x1.9884533d43651p+0 : 0x1.988454p+0;
    double al = mb->f64 ? -0x1.cbc0d30ebfd15p-54 : -0x1.857936p-25;
    double bh = mb->f64 ? 0x1.2444f2a4d8b4bp-4 : 0x1.2444f2p-4;
    double bl = mb->f64 ? -0x1.6c843a29d1c70p-61 : 0x1.49b16ap-29;
    V xc = nf_clamp(mb, x, -xmax, xmax);
    V x2h, x2l, ph, pl, uh, ul, vh, vl;
    nf_two_prod(mb, xc, xc, &x2h, &x2l);
    nf_dw_mul(mb, nf_kf(mb, bh), nf_kf(mb, bl), x2h, x2l, &ph, &pl);
    nf_two_sum(mb, nf_kf(mb, ah), ph, &uh, &ul);
    ul = nf_add(mb, ul, nf_add(mb, pl, nf_kf(mb, al)));
    nf_two_prod(mb, xc, uh, &vh, &vl);
    vl = nf_fma(mb, xc, ul, vl);
    return nan_at_minus_inf(mb, x, times_sigmoid(mb, x, x, xc, vh, vl));
}
