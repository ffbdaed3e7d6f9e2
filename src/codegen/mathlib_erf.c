/* tanh, erf and gelu (erf form). Polynomials are minimax fits made for this
 * file (Remez exchange in 160-bit arithmetic), rounded with the remaining
 * coefficients re-fitted to absorb each rounding. */
#include "codegen/mathlib_ir.h"

#include <math.h>

#define NCOEF(a) ((int)(sizeof(a) / sizeof(*(a))))

static V clamp(nf_mb *mb, V x, double lo, double hi)
{
    x = nf_sel(mb, nf_gt(mb, x, nf_kf(mb, hi)), nf_kf(mb, hi), x);
    return nf_sel(mb, nf_ge(mb, x, nf_kf(mb, lo)), x, nf_kf(mb, lo));
}

static V nan_through(nf_mb *mb, V x, V r)
{
    return nf_sel(mb, nf_isnan(mb, x), nf_add(mb, x, x), r);
}

/* ---- tanh ---------------------------------------------------------------- */

/* (tanh(x) - x)/x^3 in z = x^2 on |x| <= 0.98; relative error of tanh
 * 2^-31.5 (f32), 2^-60.4 (f64). */
static const double tanh_p32[] = {
    -0x1.555554p-2, 0x1.1110ap-3, -0x1.ba04a4p-5, 0x1.6535b6p-6,
    -0x1.1af698p-7, 0x1.9a306ap-9, -0x1.ca9242p-11, 0x1.1188d4p-13,
};
static const double tanh_p64[] = {
    -0x1.5555555555551p-2, 0x1.1111111110d12p-3, -0x1.ba1ba1b9f16e9p-5, 0x1.664f487b9b996p-6,
    -0x1.226e34a3ffc64p-7, 0x1.d6d3b7dfe5b72p-9, -0x1.7da2396d6e3f9p-10, 0x1.354e0f48cda68p-11,
    -0x1.f4fc7f3fb71fdp-13, 0x1.94115fc8bf576p-14, -0x1.409fa3880dfd0p-15, 0x1.e4a6052daac97p-17,
    -0x1.47599346e8d4ap-18, 0x1.64fb0c6d89a15p-20, -0x1.0c8f89c052717p-22, 0x1.94df2543d721fp-26,
};

/* Beyond 0.98, tanh = 1 - 2/(e^2|x| + 1): there 2/(e+1) < 1/4, so its
 * rounding errors shrink by 4 or more in the result. */
V nf_mathlib_tanh(nf_mb *mb, V x)
{
    V z = nf_mul(mb, x, x);
    V p = mb->f64 ? nf_poly(mb, z, tanh_p64, NCOEF(tanh_p64)) : nf_poly(mb, z, tanh_p32, NCOEF(tanh_p32));
    V small = nf_fma(mb, nf_mul(mb, x, z), p, x);

    V ax = nf_fabs(mb, x);
    V ep, ek;
    nf_exp_core(mb, clamp(mb, nf_add(mb, ax, ax), 0.0, mb->f64 ? 710.0 : 89.0), NULL, &ep, &ek);
    V e1 = nf_add(mb, nf_scale2(mb, ep, ek), nf_kf(mb, 1.0));
    V big = nf_sub(mb, nf_kf(mb, 1.0), nf_div(mb, nf_kf(mb, 2.0), e1));
    V r = nf_sel(mb, nf_lt(mb, ax, nf_kf(mb, 0.98)), small, nf_copysign(mb, big, x));
    return nan_through(mb, x, r);
}

/* ---- the Mills-ratio-like H(a) = a * erfcx(a/sqrt 2) ------------------------
 * erfc(a/sqrt 2) = e^(-a^2/2) H(a) / a. H rises from 0.27 (a = 0.35) to
 * sqrt(2/pi) (a -> inf). Two pieces: a polynomial in a - 1.175 on
 * [0.35, 2], and beyond a polynomial in u = K/(K + a) (centred), where H
 * is flat enough that u's rounding hardly matters. The constant terms are
 * double-words. Relative error 2^-28.8 / 2^-31.7 (f32), 2^-59.7 / 2^-61 (f64). */
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

static V mills(nf_mb *mb, V a)
{
    const double *ca = mb->f64 ? mills_a64 : mills_a32;
    const double *cb = mb->f64 ? mills_b64 : mills_b32;
    int n = mb->f64 ? NCOEF(mills_a64) : NCOEF(mills_a32);
    double a_lo = mb->f64 ? -0x1.561d682c93e5dp-55 : 0x1.4e64e6p-26;
    double b_lo = mb->f64 ? -0x1.44af66d4c1b7bp-56 : -0x1.339b1p-27;
    double k = mb->f64 ? 4.0 : 2.0;
    double u_mid = mb->f64 ? 0x1.84f613d84f614p-2 : 0x1.3e0f83e0f83e1p-2;
    double a_mid = 0x1.2cccccccccccdp+0;
    a = clamp(mb, a, 0.35, mb->f64 ? 39.0 : 14.5);
    V in_b = nf_ge(mb, a, nf_kf(mb, 2.0));
    V u = nf_div(mb, nf_kf(mb, k), nf_add(mb, nf_kf(mb, k), a));
    V v = nf_sel(mb, in_b, nf_sub(mb, u, nf_kf(mb, u_mid)), nf_sub(mb, a, nf_kf(mb, a_mid)));
    V q = nf_poly2(mb, v, in_b, ca + 1, cb + 1, n - 1);
    V c0 = nf_sel(mb, in_b, nf_kf(mb, cb[0]), nf_kf(mb, ca[0]));
    V c0l = nf_sel(mb, in_b, nf_kf(mb, b_lo), nf_kf(mb, a_lo));
    return nf_add(mb, c0, nf_fma(mb, v, q, c0l));
}

/* ---- erf ----------------------------------------------------------------- */

/* erf(x)/x - 1 in z = x^2 on |x| <= 1.25; relative error of erf 2^-29.4
 * (f32), 2^-56.3 (f64). */
static const double erf_p32[] = {
    0x1.06eba8p-3, -0x1.81274p-2, 0x1.ce2dcap-4, -0x1.b8125ep-6,
    0x1.55558cp-8, -0x1.b4ed78p-11, 0x1.b2e1a4p-14, -0x1.f93fb2p-18,
};
static const double erf_p64[] = {
    0x1.06eba8214db69p-3, -0x1.812746b0379f4p-2, 0x1.ce2f21a042f26p-4, -0x1.b82ce3128d112p-6,
    0x1.565bcd0e59d9fp-8, -0x1.c02db3ed3d4c2p-11, 0x1.f9a323da4bb40p-14, -0x1.f4d214df39883p-17,
    0x1.b9e2b64840ca5p-20, -0x1.5f4bdef6801b5p-23, 0x1.faa09e53969eap-27, -0x1.47db5011c32a9p-30,
    0x1.60b6a01cdde5cp-34, -0x1.d60c873137775p-39,
};

#define ERF_SPLIT 1.25

/* erf(x) by the polynomial (*small, for |x| < ERF_SPLIT) and erfc(|x|) by
 * e^(-x^2) H(a)/a with a = sqrt(2)|x| (*erfc, used beyond). erfc(1.25) =
 * 0.077, so its few-ulp error is a fraction of an ulp of 1 - erfc. */
static void erf_parts(nf_mb *mb, V x, V *small, V *erfc)
{
    V z = nf_mul(mb, x, x);
    V p = mb->f64 ? nf_poly(mb, z, erf_p64, NCOEF(erf_p64)) : nf_poly(mb, z, erf_p32, NCOEF(erf_p32));
    *small = nf_fma(mb, x, p, x);

    V ax = clamp(mb, nf_fabs(mb, x), ERF_SPLIT, mb->f64 ? 6.0 : 4.0);
    V x2h, x2l, ep, ek;
    nf_two_prod(mb, ax, ax, &x2h, &x2l);
    nf_exp_core(mb, nf_neg(mb, x2h), nf_neg(mb, x2l), &ep, &ek);
    V a = nf_mul(mb, ax, nf_kf(mb, mb->f64 ? 0x1.6a09e667f3bcdp+0 : 0x1.6a09e6p+0));
    *erfc = nf_scale2(mb, nf_div(mb, nf_mul(mb, ep, mills(mb, a)), a), ek);
}

V nf_mathlib_erf(nf_mb *mb, V x)
{
    V small, erfc;
    erf_parts(mb, x, &small, &erfc);
    V big = nf_copysign(mb, nf_sub(mb, nf_kf(mb, 1.0), erfc), x);
    V r = nf_sel(mb, nf_lt(mb, nf_fabs(mb, x), nf_kf(mb, ERF_SPLIT)), small, big);
    return nan_through(mb, x, r);
}

/* gelu(x) = x/2 (1 + erf(x/sqrt 2)). Below GELU_SPLIT that cancels, so
 * there gelu = -e^(-x^2/2) H(|x|) / 2, the exponent taken from the exact
 * x^2 and the power of two applied last (no early underflow). */
#define GELU_SPLIT -0.354

V nf_mathlib_gelu_erf(nf_mb *mb, V x)
{
    V t = nf_mul(mb, x, nf_kf(mb, mb->f64 ? 0x1.6a09e667f3bcdp-1 : 0x1.6a09e6p-1));
    V small, erfc;
    erf_parts(mb, t, &small, &erfc);
    V big_t = nf_ge(mb, nf_fabs(mb, t), nf_kf(mb, ERF_SPLIT));
    V one_plus = nf_sel(mb, big_t, nf_sub(mb, nf_kf(mb, 2.0), erfc), nf_add(mb, nf_kf(mb, 1.0), small));
    V upper = nf_mul(mb, nf_mul(mb, x, nf_kf(mb, 0.5)), one_plus);

    V ax = clamp(mb, nf_fabs(mb, x), 0.35, mb->f64 ? 39.0 : 14.5);
    V x2h, x2l, ep, ek;
    nf_two_prod(mb, ax, ax, &x2h, &x2l);
    V mhalf = nf_kf(mb, -0.5);
    nf_exp_core(mb, nf_mul(mb, x2h, mhalf), nf_mul(mb, x2l, mhalf), &ep, &ek);
    V lower = nf_scale2(mb, nf_mul(mb, nf_mul(mb, ep, mills(mb, ax)), mhalf), ek);

    V r = nf_sel(mb, nf_lt(mb, x, nf_kf(mb, GELU_SPLIT)), lower, upper);
    /* PyTorch's formula gives -inf * 0 = NaN at -inf. */
    r = nf_sel(mb, nf_eq(mb, x, nf_kf(mb, -INFINITY)), nf_kf(mb, NAN), r);
    return nan_through(mb, x, r);
}
