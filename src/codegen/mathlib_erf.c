/* tanh, erf and gelu (erf form). Polynomials are minimax fits made for this
 * file (Remez exchange in 160-bit arithmetic), rounded with the remaining
 * coefficients re-fitted to absorb each rounding. */
#include "codegen/mathlib_ir.h"

#include <math.h>

#define NCOEF(a) ((int)(sizeof(a) / sizeof(*(a))))

/* ---- tanh ---------------------------------------------------------------- */

/* (tanh(x) - x)/x^3 in z = x^2 on |x| <= 0.625; relative error of tanh
 * 2^-32.4 (f32), 2^-61.2 (f64). */
static const double tanh_p32[] = {
    -0x1.555554p-2, 0x1.11107cp-3, -0x1.b9f218p-5, 0x1.63ac7p-6, -0x1.0c84eep-7, 0x1.1abac8p-9,
};
static const double tanh_p64[] = {
    -0x1.5555555555552p-2, 0x1.1111111110c55p-3, -0x1.ba1ba1b9d1c94p-5, 0x1.664f4870ce2dbp-6,
    -0x1.226e32d0e9002p-7, 0x1.d6d35a6961621p-9, -0x1.7d9c3561d29e4p-10, 0x1.350b9a10d2ce9p-11,
    -0x1.f11410550987ap-13, 0x1.801e11cbe3eecp-14, -0x1.facf44856903ap-16, 0x1.9615b23e78f3ap-18,
};

#define TANH_SPLIT 0.625

/* Below TANH_SPLIT, |x| + |x|^3 P(x^2); above, 1 - 2/(e^2|x| + 1) with e
 * and the quotient as double-words, so 1 - t rounds once. */
V nf_mathlib_tanh(nf_mb *mb, V x)
{
    V ax = nf_fabs(mb, x);
    V z = nf_mul(mb, ax, ax);
    V p = mb->f64 ? nf_poly(mb, z, tanh_p64, NCOEF(tanh_p64)) : nf_poly(mb, z, tanh_p32, NCOEF(tanh_p32));
    V small = nf_fma(mb, nf_mul(mb, ax, z), p, ax);

    V ph, pl, k;
    nf_exp_core(mb, nf_clamp(mb, nf_add(mb, ax, ax), 0.0, mb->f64 ? 90.0 : 40.0), NULL, &ph, &pl, &k);
    V dh, dl; /* e + 1, e >= 1 */
    nf_fast_two_sum(mb, nf_scale2(mb, ph, k), nf_kf(mb, 1.0), &dh, &dl);
    dl = nf_add(mb, dl, nf_scale2(mb, pl, k));
    V two = nf_kf(mb, 2.0);
    V th = nf_div(mb, two, dh);
    V tr = nf_sub(mb, nf_fma(mb, nf_neg(mb, th), dh, two), nf_mul(mb, th, dl));
    V tl = nf_div(mb, tr, dh);
    V sh, sl;
    nf_fast_two_sum(mb, nf_kf(mb, 1.0), nf_neg(mb, th), &sh, &sl);
    V big = nf_add(mb, sh, nf_sub(mb, sl, tl));

    V r = nf_sel(mb, nf_lt(mb, ax, nf_kf(mb, TANH_SPLIT)), small, big);
    return nf_nan_through(mb, x, nf_copysign(mb, r, x));
}

/* ---- the Mills-ratio-like H(a) = a * erfcx(a/sqrt 2) ------------------------
 * erfc(a/sqrt 2) = e^(-a^2/2) H(a) / a. H rises from 0.27 (a = 0.35) to
 * sqrt(2/pi) (a -> inf). Two pieces: a polynomial in a - 1.175 on
 * [0.35, 2], and beyond a polynomial in u = K/(K + a) (centred; u as a
 * double-word). The constant terms are double-words, and so is the result.
 * Relative error of the fits: 2^-28.8 and 2^-31.7 (f32), 2^-59.7 and 2^-61
 * (f64); callers use a >= 1. */
static const double mills_a32[] = {
    0x1.1ff1bap-1, 0x1.9d8b5cp-3, -0x1.deaaaap-4, 0x1.c42168p-5, -0x1.74963ap-6, 0x1.15194ap-7,
    -0x1.7b6bdp-9, 0x1.dfcd7cp-11, -0x1.1e85dp-12, 0x1.7c80ep-14, -0x1.b08f5ap-16,
};
static const double mills_b32[] = {
    0x1.865704p-1, -0x1.2c68ep-2, -0x1.a0e2fp-1, -0x1.9cda02p-1, 0x1.47ba9ap-4, 0x1.7b2344p-1,
    -0x1.906cfp-4, -0x1.c4989ap-1, 0x1.fddaap-2, 0x1.dd2e6ap-1, -0x1.506c34p+0,
};
static const double mills_a64[] = {
    0x1.1ff1baa2fb3cap-1, 0x1.9d8b5a3ed4332p-3, -0x1.deaaa12ed4ba9p-4, 0x1.c4221ca181c90p-5,
    -0x1.7497ffb09f622p-6, 0x1.1503a1e586ca8p-7, -0x1.7b27d1c0681cep-9, 0x1.e420ee7a2b16bp-11,
    -0x1.231b9b085b4a8p-12, 0x1.4c1b0c30a2e2cp-14, -0x1.696f75563679dp-16, 0x1.78f014257f2fbp-18,
    -0x1.7a170eac822f8p-20, 0x1.6de151d394671p-22, -0x1.5683beaa67266p-24, 0x1.3710c48b44bccp-26,
    -0x1.11ecb17e21509p-28, 0x1.cf46e68b27e53p-31, -0x1.8a0963c67f0b6p-33, 0x1.7ae8f4050e076p-35,
    -0x1.0ea8127d38405p-37,
};
static const double mills_b64[] = {
    0x1.8f8b39c522041p-1, -0x1.1e2e4de3361afp-3, -0x1.cf216204825ebp-2, -0x1.b51019f520f4ep-1,
    -0x1.29a41a3166f9dp+0, -0x1.2702e51dbfe83p+0, -0x1.7a06e73bf9bd7p-1, -0x1.0844514684128p-3,
    0x1.19766c8bdb1fap-2, 0x1.e70c28f5a9709p-3, -0x1.93385af916e7ap-5, -0x1.6a0c9f6317eb0p-3,
    -0x1.473c53a986b4ep-6, 0x1.0823c0e392404p-3, 0x1.20d2870d64a82p-5, -0x1.af6e6a8d4851dp-4,
    -0x1.0685ea70961f7p-5, 0x1.7dea5bb8184ddp-4, 0x1.4a6a61b34ab57p-6, -0x1.0cb0c69796d0dp-4,
    -0x1.65e12bc8f996fp-8,
};

static void mills(nf_mb *mb, V a, V *hh, V *hl)
{
    const double *ca = mb->f64 ? mills_a64 : mills_a32;
    const double *cb = mb->f64 ? mills_b64 : mills_b32;
    int n = mb->f64 ? NCOEF(mills_a64) : NCOEF(mills_a32);
    double a_lo = mb->f64 ? -0x1.561d682c93e5dp-55 : 0x1.4e64e6p-26;
    double b_lo = mb->f64 ? -0x1.44af66d4c1b7bp-56 : -0x1.339b1p-27;
    double k = mb->f64 ? 4.0 : 2.0;
    double u_mid = mb->f64 ? 0x1.84f613d84f614p-2 : 0x1.3e0f83e0f83e1p-2;
    double a_mid = 0x1.2cccccccccccdp+0;
    a = nf_clamp(mb, a, 0.35, mb->f64 ? 39.0 : 14.5);
    V in_b = nf_ge(mb, a, nf_kf(mb, 2.0));
    /* u = K/(K + a) as a double-word, so that its rounding does not count */
    V kk = nf_kf(mb, k), dh, dl;
    nf_two_sum(mb, kk, a, &dh, &dl);
    V uh = nf_div(mb, kk, dh);
    V ul = nf_div(mb, nf_sub(mb, nf_fma(mb, nf_neg(mb, uh), dh, kk), nf_mul(mb, uh, dl)), dh);
    /* v: a - a_mid is exact on piece A (Sterbenz) */
    V vh = nf_sel(mb, in_b, nf_sub(mb, uh, nf_kf(mb, u_mid)), nf_sub(mb, a, nf_kf(mb, a_mid)));
    V vl = nf_sel(mb, in_b, ul, nf_kf(mb, 0.0));
    V q = nf_poly2(mb, vh, in_b, ca + 1, cb + 1, n - 1);
    V c0 = nf_sel(mb, in_b, nf_kf(mb, cb[0]), nf_kf(mb, ca[0]));
    V c0l = nf_sel(mb, in_b, nf_kf(mb, b_lo), nf_kf(mb, a_lo));
    /* c0 + v q with v q as a double-word */
    V th, tl;
    nf_two_prod(mb, vh, q, &th, &tl);
    tl = nf_add(mb, nf_fma(mb, vl, q, tl), c0l);
    nf_two_sum(mb, c0, th, hh, hl);
    *hl = nf_add(mb, *hl, tl);
}

/* ---- erf ----------------------------------------------------------------- */

/* erf(x)/x = e0 + z E1(z), z = x^2 <= 1, e0 = 2/sqrt(pi) as a double-word;
 * relative error of erf 2^-32.5 (f32), 2^-62.1 (f64). */
static const double erf_e32[] = {
    -0x1.812746p-2, 0x1.ce2efp-4, -0x1.b827a2p-6, 0x1.5613b6p-8, -0x1.bbd728p-11, 0x1.d33436p-14, -0x1.38c804p-17,
};
static const double erf_e64[] = {
    -0x1.812746b0379e6p-2, 0x1.ce2f21a042b27p-4, -0x1.b82ce31284a2bp-6, 0x1.565bcd0db0300p-8,
    -0x1.c02db3d8d0689p-11, 0x1.f9a3219c278d4p-14, -0x1.f4d1dec8c04e8p-17, 0x1.b9deeb85e3b3dp-20,
    -0x1.5f1d01314d658p-23, 0x1.f7a1c9d83574dp-27, -0x1.3863b0c3ab0dap-30, 0x1.0566b1259737dp-34,
};

/* x * (c0h + c0l + z P(z)) rounded once, z = x^2: the small-argument form
 * of erf and of gelu's erf(x/sqrt 2). */
static V odd_series(nf_mb *mb, V x, double c0h, double c0l, const double *p, int n, V *wh, V *wl)
{
    V z = nf_mul(mb, x, x);
    V tail = nf_fma(mb, z, nf_poly(mb, z, p, n), nf_kf(mb, c0l));
    V gh, gl;
    nf_fast_two_sum(mb, nf_kf(mb, c0h), tail, &gh, &gl);
    nf_two_prod(mb, x, gh, wh, wl);
    *wl = nf_fma(mb, x, gl, *wl);
    return nf_add(mb, *wh, *wl);
}

/* e^(-s x^2) H(a) = (*mh + *ml) 2^*k, s a power of two: the exponent from
 * x's exact square (a rounded x^2 would be magnified by x^2 in e^(...)). */
static void gauss_mills(nf_mb *mb, V x, double s, V a, V *mh, V *ml, V *k)
{
    V x2h, x2l, ph, pl, hh, hl;
    nf_two_prod(mb, x, x, &x2h, &x2l);
    V ms = nf_kf(mb, -s);
    nf_exp_core(mb, nf_mul(mb, x2h, ms), nf_mul(mb, x2l, ms), &ph, &pl, k);
    mills(mb, a, &hh, &hl);
    nf_dw_mul(mb, ph, pl, hh, hl, mh, ml);
}

#define ERF_SPLIT 0.875

/* Below ERF_SPLIT the series; above, 1 - erfc(|x|) with erfc(x) =
 * e^(-x^2) H(a)/a, a = sqrt(2)|x| as a double-word. erfc(0.875) = 0.216,
 * so erfc's error shrinks by 3.5 or more in the result. */
V nf_mathlib_erf(nf_mb *mb, V x)
{
    /* tiny x scaled up, so the series' low parts do not underflow */
    V tiny = nf_lt(mb, nf_fabs(mb, x), nf_kf(mb, mb->f64 ? 0x1p-900 : 0x1p-100));
    V xs = nf_mul(mb, x, nf_sel(mb, tiny, nf_kf(mb, mb->f64 ? 0x1p200 : 0x1p50), nf_kf(mb, 1.0)));
    V wh, wl;
    V small = mb->f64 ? odd_series(mb, xs, 0x1.20dd750429b6dp+0, 0x1.1ae3a914fed80p-56, erf_e64,
                                   NCOEF(erf_e64), &wh, &wl)
                      : odd_series(mb, xs, 0x1.20dd76p+0, -0x1.f7ac92p-25, erf_e32, NCOEF(erf_e32), &wh, &wl);
    small = nf_mul(mb, small, nf_sel(mb, tiny, nf_kf(mb, mb->f64 ? 0x1p-200 : 0x1p-50), nf_kf(mb, 1.0)));

    V ax = nf_clamp(mb, nf_fabs(mb, x), ERF_SPLIT, mb->f64 ? 6.0 : 4.0);
    V ah, al;
    nf_two_prod(mb, ax, nf_kf(mb, mb->f64 ? 0x1.6a09e667f3bcdp+0 : 0x1.6a09e6p+0), &ah, &al);
    al = nf_fma(mb, ax, nf_kf(mb, mb->f64 ? -0x1.bdd3413b26456p-54 : 0x1.9fcef4p-26), al);
    V mh, ml, k;
    gauss_mills(mb, ax, 1.0, ah, &mh, &ml, &k);
    V erfc = nf_scale2(mb, nf_dw_div(mb, mh, ml, ah, al), k);
    V big = nf_copysign(mb, nf_sub(mb, nf_kf(mb, 1.0), erfc), x);
    V r = nf_sel(mb, nf_lt(mb, nf_fabs(mb, x), nf_kf(mb, ERF_SPLIT)), small, big);
    return nf_nan_through(mb, x, nf_copysign(mb, r, x)); /* erf(-0) = -0 */
}

/* erf(x/sqrt 2)/x = g0 + z G1(z), z = x^2 <= 1, g0 = sqrt(2/pi): relative
 * error 2^-32.7 (f32), 2^-63 (f64). */
static const double gelu_g32[] = {
    -0x1.105838p-3, 0x1.46d06cp-6, -0x1.37447ap-9, 0x1.e477aap-13, -0x1.3c6f2ep-16, 0x1.3b2724p-20,
};
static const double gelu_g64[] = {
    -0x1.1058377e2cee0p-3, 0x1.46d042976916cp-6, -0x1.37403f6b9e03dp-9, 0x1.e42b0d50adb01p-13,
    -0x1.3ce8fa8f72900p-16, 0x1.658a18aad9001p-20, -0x1.622164b74c978p-24, 0x1.38649208cb6d7p-28,
    -0x1.ef016a702b0ecp-33, 0x1.578db19197dcap-37, -0x1.4c512fafbc7a3p-42,
};

#define GELU_LO -1.0
#define GELU_HI 1.0

/* gelu(x) = x/2 (1 + erf(x/sqrt 2)) in three forms, each rounding once:
 *   x < GELU_LO:   -e^(-x^2/2) H(-x) / 2   (1 + erf cancels below)
 *   x <= GELU_HI:  x/2 (1 + x G(x^2)), x G as a double-word
 *   above:         x - e^(-x^2/2) H(x) / 2
 * since erfc(|x|/sqrt 2) = e^(-x^2/2) H(|x|)/|x|; the exponent comes from
 * the exact x^2 and the power of two is applied last (no early underflow). */
V nf_mathlib_gelu_erf(nf_mb *mb, V x)
{
    V wh, wl;
    if (mb->f64)
        odd_series(mb, x, 0x1.9884533d43651p-1, -0x1.cbc0d30ebfd15p-55, gelu_g64, NCOEF(gelu_g64), &wh, &wl);
    else
        odd_series(mb, x, 0x1.988454p-1, -0x1.857936p-26, gelu_g32, NCOEF(gelu_g32), &wh, &wl);
    V sh, sl, rh, rl; /* x/2 (1 + w) */
    nf_fast_two_sum(mb, nf_kf(mb, 1.0), wh, &sh, &sl);
    sl = nf_add(mb, sl, wl);
    nf_two_prod(mb, x, sh, &rh, &rl);
    rl = nf_fma(mb, x, sl, rl);
    V middle = nf_mul(mb, nf_add(mb, rh, rl), nf_kf(mb, 0.5));

    V ax = nf_clamp(mb, nf_fabs(mb, x), 0.35, mb->f64 ? 39.0 : 14.5);
    V mh, ml, k;
    gauss_mills(mb, ax, 0.5, ax, &mh, &ml, &k);
    V half = nf_kf(mb, 0.5);
    V lower = nf_scale2(mb, nf_mul(mb, nf_add(mb, mh, ml), nf_neg(mb, half)), k);
    V ch = nf_scale2(mb, nf_mul(mb, mh, half), k), cl = nf_scale2(mb, nf_mul(mb, ml, half), k);
    V dh, dl; /* x - c */
    nf_two_sum(mb, x, nf_neg(mb, ch), &dh, &dl);
    V upper = nf_add(mb, dh, nf_sub(mb, dl, cl));
    upper = nf_sel(mb, nf_eq(mb, x, nf_kf(mb, INFINITY)), x, upper);

    V r = nf_sel(mb, nf_lt(mb, x, nf_kf(mb, GELU_LO)), lower,
                 nf_sel(mb, nf_gt(mb, x, nf_kf(mb, GELU_HI)), upper, middle));
    r = nf_copysign(mb, r, x); /* gelu(-0) = -0 */
    r = nf_sel(mb, nf_eq(mb, x, nf_kf(mb, -INFINITY)), nf_kf(mb, NAN), r);
    return nf_nan_through(mb, x, r);
}
