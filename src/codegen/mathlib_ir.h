/* Internal to the mathlib: a small layer over the LLVM-C builder that makes
 * the math bodies read like formulas. Every helper works on the builder's
 * current float type (f32 or f64, scalar or vector); constants are splatted.
 * No fast-math flags anywhere: every fadd/fmul rounds once, FMA only where
 * nf_fma is called. */
#ifndef NF_CODEGEN_MATHLIB_IR_H
#define NF_CODEGEN_MATHLIB_IR_H

#include "codegen/mathlib.h"

#include <stddef.h>
#include <stdint.h>

typedef LLVMValueRef V;

typedef struct nf_mb {
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMContextRef ctx;
    LLVMTypeRef ft;   /* float type of the values (scalar or vector) */
    LLVMTypeRef it;   /* integer type of the same width and shape */
    unsigned lanes;   /* 0: scalar */
    bool f64;
    int mant;         /* explicit mantissa bits: 23 or 52 */
    int bias;         /* exponent bias: 127 or 1023 */
} nf_mb;

/* Sets up mb for values of type ty (float/double or a vector of them). */
void nf_mb_init(nf_mb *mb, LLVMModuleRef m, LLVMBuilderRef b, LLVMTypeRef ty);
/* The same builder over the other precision (same lanes). */
void nf_mb_other(const nf_mb *mb, bool f64, nf_mb *out);

V nf_kf(nf_mb *mb, double c);
V nf_ki(nf_mb *mb, int64_t c);

V nf_add(nf_mb *mb, V a, V b);
V nf_sub(nf_mb *mb, V a, V b);
V nf_mul(nf_mb *mb, V a, V b);
V nf_div(nf_mb *mb, V a, V b);
V nf_neg(nf_mb *mb, V a);
V nf_fma(nf_mb *mb, V a, V b, V c);
V nf_fabs(nf_mb *mb, V a);
V nf_copysign(nf_mb *mb, V mag, V sign);
V nf_sqrt(nf_mb *mb, V a);
V nf_rint(nf_mb *mb, V a);
V nf_floor(nf_mb *mb, V a);

V nf_lt(nf_mb *mb, V a, V b);
V nf_le(nf_mb *mb, V a, V b);
V nf_gt(nf_mb *mb, V a, V b);
V nf_ge(nf_mb *mb, V a, V b);
V nf_eq(nf_mb *mb, V a, V b);
V nf_ne(nf_mb *mb, V a, V b);   /* ordered and unequal */
V nf_isnan(nf_mb *mb, V a);
V nf_and(nf_mb *mb, V a, V b);  /* i1 (or integer) and */
V nf_or(nf_mb *mb, V a, V b);
V nf_not(nf_mb *mb, V a);
V nf_sel(nf_mb *mb, V c, V a, V b);

V nf_bits(nf_mb *mb, V f);       /* float -> same-width integer */
V nf_from_bits(nf_mb *mb, V i);
V nf_iadd(nf_mb *mb, V a, V b);
V nf_isub(nf_mb *mb, V a, V b);
V nf_iand(nf_mb *mb, V a, V b);
V nf_shl(nf_mb *mb, V a, int n);
V nf_ashr(nf_mb *mb, V a, int n);
V nf_ilt(nf_mb *mb, V a, V b);   /* signed < */
V nf_to_int(nf_mb *mb, V f);     /* fptosi; f must be finite and in range */
V nf_to_float(nf_mb *mb, V i);   /* sitofp */
V nf_fext(nf_mb *to, V f);       /* to the wider type of `to` */
V nf_ftrunc(nf_mb *to, V f);     /* to the narrower type of `to` */

/* x clamped to [lo, hi]; NaN becomes lo, so no poison reaches fptosi. */
V nf_clamp(nf_mb *mb, V x, double lo, double hi);
/* r, or x itself where x is NaN. */
V nf_nan_through(nf_mb *mb, V x, V r);

/* c[0] + x*(c[1] + x*(...)): Horner with FMA. */
V nf_poly(nf_mb *mb, V x, const double *c, int n);
/* The polynomial with the coefficients chosen per lane: c1 where sel1, else c0. */
V nf_poly2(nf_mb *mb, V x, V sel1, const double *c0, const double *c1, int n);

/* Exact transformations (FMA based; valid without overflow). */
void nf_two_prod(nf_mb *mb, V a, V b, V *hi, V *lo);
void nf_two_sum(nf_mb *mb, V a, V b, V *hi, V *lo);
void nf_fast_two_sum(nf_mb *mb, V a, V b, V *hi, V *lo); /* needs |a| >= |b| or a == 0 */

/* (nh + nl) / (dh + dl), rounded once (error about 0.5 ulp plus the
 * inputs' own errors); dh + dl normalized or nearly so. */
V nf_dw_div(nf_mb *mb, V nh, V nl, V dh, V dl);
/* (ah + al) * (bh + bl) as a double-word. */
void nf_dw_mul(nf_mb *mb, V ah, V al, V bh, V bl, V *hi, V *lo);

/* p * 2^k for integer k in [-2*bias, 2*bias+1], rounding once. */
V nf_scale2(nf_mb *mb, V p, V k);

/* e^(xh + xl) = (*ph + *pl) * 2^*k. The normalized double-word is good to
 * about 0.14 ulp (f32); *ph alone is the rounded value (about 0.6 ulp).
 * xl is small against xh (NULL: zero); xh must be finite, callers clamp it
 * to [-2 bias ln2, 2 bias ln2]. *ph is in [0.70, 1.42], *k an integer. */
void nf_exp_core(nf_mb *mb, V xh, V xl, V *ph, V *pl, V *k);

/* The math bodies, one per function (x, y are function arguments). */
V nf_mathlib_exp(nf_mb *mb, V x);
V nf_mathlib_log(nf_mb *mb, V x);
V nf_mathlib_pow(nf_mb *mb, V x, V y);
V nf_mathlib_sigmoid(nf_mb *mb, V x);
V nf_mathlib_silu(nf_mb *mb, V x);
V nf_mathlib_tanh(nf_mb *mb, V x);
V nf_mathlib_gelu_tanh(nf_mb *mb, V x);
V nf_mathlib_erf(nf_mb *mb, V x);
V nf_mathlib_gelu_erf(nf_mb *mb, V x);

#endif
