/* The builder layer under the mathlib bodies, and the exp kernel they share. */
#include "codegen/mathlib_ir.h"

#include <string.h>

#define NF_MATH_MAX_LANES 64

void nf_mb_init(nf_mb *mb, LLVMModuleRef m, LLVMBuilderRef b, LLVMTypeRef ty)
{
    mb->mod = m;
    mb->b = b;
    mb->ctx = LLVMGetModuleContext(m);
    mb->ft = ty;
    LLVMTypeRef elem = ty;
    mb->lanes = 0;
    if (LLVMGetTypeKind(ty) == LLVMVectorTypeKind) {
        elem = LLVMGetElementType(ty);
        mb->lanes = LLVMGetVectorSize(ty);
    }
    mb->f64 = LLVMGetTypeKind(elem) == LLVMDoubleTypeKind;
    mb->mant = mb->f64 ? 52 : 23;
    mb->bias = mb->f64 ? 1023 : 127;
    LLVMTypeRef ielem = LLVMIntTypeInContext(mb->ctx, mb->f64 ? 64 : 32);
    mb->it = mb->lanes ? LLVMVectorType(ielem, mb->lanes) : ielem;
}

void nf_mb_other(const nf_mb *mb, bool f64, nf_mb *out)
{
    LLVMTypeRef elem = f64 ? LLVMDoubleTypeInContext(mb->ctx) : LLVMFloatTypeInContext(mb->ctx);
    nf_mb_init(out, mb->mod, mb->b, mb->lanes ? LLVMVectorType(elem, mb->lanes) : elem);
}

static V splat(nf_mb *mb, V c)
{
    if (!mb->lanes)
        return c;
    V elems[NF_MATH_MAX_LANES];
    for (unsigned i = 0; i < mb->lanes; i++)
        elems[i] = c;
    return LLVMConstVector(elems, mb->lanes);
}

V nf_kf(nf_mb *mb, double c)
{
    LLVMTypeRef elem = mb->f64 ? LLVMDoubleTypeInContext(mb->ctx) : LLVMFloatTypeInContext(mb->ctx);
    return splat(mb, LLVMConstReal(elem, c));
}

V nf_ki(nf_mb *mb, int64_t c)
{
    LLVMTypeRef elem = LLVMIntTypeInContext(mb->ctx, mb->f64 ? 64 : 32);
    return splat(mb, LLVMConstInt(elem, (unsigned long long)c, 1));
}

static V intrinsic(nf_mb *mb, const char *name, V *args, unsigned n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef ty = mb->ft;
    V fn = LLVMGetIntrinsicDeclaration(mb->mod, id, &ty, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(mb->ctx, id, &ty, 1);
    return LLVMBuildCall2(mb->b, fty, fn, args, n, "");
}

V nf_add(nf_mb *mb, V a, V b) { return LLVMBuildFAdd(mb->b, a, b, ""); }
V nf_sub(nf_mb *mb, V a, V b) { return LLVMBuildFSub(mb->b, a, b, ""); }
V nf_mul(nf_mb *mb, V a, V b) { return LLVMBuildFMul(mb->b, a, b, ""); }
V nf_div(nf_mb *mb, V a, V b) { return LLVMBuildFDiv(mb->b, a, b, ""); }
V nf_neg(nf_mb *mb, V a) { return LLVMBuildFNeg(mb->b, a, ""); }

V nf_fma(nf_mb *mb, V a, V b, V c)
{
    V args[3] = {a, b, c};
    return intrinsic(mb, "llvm.fma", args, 3);
}

V nf_fabs(nf_mb *mb, V a) { return intrinsic(mb, "llvm.fabs", &a, 1); }
V nf_sqrt(nf_mb *mb, V a) { return intrinsic(mb, "llvm.sqrt", &a, 1); }
V nf_rint(nf_mb *mb, V a) { return intrinsic(mb, "llvm.rint", &a, 1); }
V nf_floor(nf_mb *mb, V a) { return intrinsic(mb, "llvm.floor", &a, 1); }

V nf_copysign(nf_mb *mb, V mag, V sign)
{
    V args[2] = {mag, sign};
    return intrinsic(mb, "llvm.copysign", args, 2);
}

V nf_lt(nf_mb *mb, V a, V b) { return LLVMBuildFCmp(mb->b, LLVMRealOLT, a, b, ""); }
V nf_le(nf_mb *mb, V a, V b) { return LLVMBuildFCmp(mb->b, LLVMRealOLE, a, b, ""); }
V nf_gt(nf_mb *mb, V a, V b) { return LLVMBuildFCmp(mb->b, LLVMRealOGT, a, b, ""); }
V nf_ge(nf_mb *mb, V a, V b) { return LLVMBuildFCmp(mb->b, LLVMRealOGE, a, b, ""); }
V nf_eq(nf_mb *mb, V a, V b) { return LLVMBuildFCmp(mb->b, LLVMRealOEQ, a, b, ""); }
V nf_ne(nf_mb *mb, V a, V b) { return LLVMBuildFCmp(mb->b, LLVMRealONE, a, b, ""); }
V nf_isnan(nf_mb *mb, V a) { return LLVMBuildFCmp(mb->b, LLVMRealUNO, a, a, ""); }
V nf_and(nf_mb *mb, V a, V b) { return LLVMBuildAnd(mb->b, a, b, ""); }
V nf_or(nf_mb *mb, V a, V b) { return LLVMBuildOr(mb->b, a, b, ""); }
V nf_not(nf_mb *mb, V a) { return LLVMBuildNot(mb->b, a, ""); }
V nf_sel(nf_mb *mb, V c, V a, V b) { return LLVMBuildSelect(mb->b, c, a, b, ""); }

V nf_bits(nf_mb *mb, V f) { return LLVMBuildBitCast(mb->b, f, mb->it, ""); }
V nf_from_bits(nf_mb *mb, V i) { return LLVMBuildBitCast(mb->b, i, mb->ft, ""); }
V nf_iadd(nf_mb *mb, V a, V b) { return LLVMBuildAdd(mb->b, a, b, ""); }
V nf_isub(nf_mb *mb, V a, V b) { return LLVMBuildSub(mb->b, a, b, ""); }
V nf_iand(nf_mb *mb, V a, V b) { return LLVMBuildAnd(mb->b, a, b, ""); }
V nf_shl(nf_mb *mb, V a, int n) { return LLVMBuildShl(mb->b, a, nf_ki(mb, n), ""); }
V nf_ashr(nf_mb *mb, V a, int n) { return LLVMBuildAShr(mb->b, a, nf_ki(mb, n), ""); }
V nf_ilt(nf_mb *mb, V a, V b) { return LLVMBuildICmp(mb->b, LLVMIntSLT, a, b, ""); }
V nf_to_int(nf_mb *mb, V f) { return LLVMBuildFPToSI(mb->b, f, mb->it, ""); }
V nf_to_float(nf_mb *mb, V i) { return LLVMBuildSIToFP(mb->b, i, mb->ft, ""); }
V nf_fext(nf_mb *to, V f) { return LLVMBuildFPExt(to->b, f, to->ft, ""); }
V nf_ftrunc(nf_mb *to, V f) { return LLVMBuildFPTrunc(to->b, f, to->ft, ""); }

V nf_clamp(nf_mb *mb, V x, double lo, double hi)
{
    x = nf_sel(mb, nf_gt(mb, x, nf_kf(mb, hi)), nf_kf(mb, hi), x);
    return nf_sel(mb, nf_ge(mb, x, nf_kf(mb, lo)), x, nf_kf(mb, lo));
}

V nf_nan_through(nf_mb *mb, V x, V r)
{
    return nf_sel(mb, nf_isnan(mb, x), x, r);
}

V nf_poly(nf_mb *mb, V x, const double *c, int n)
{
    V p = nf_kf(mb, c[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        p = nf_fma(mb, p, x, nf_kf(mb, c[i]));
    return p;
}

V nf_poly2(nf_mb *mb, V x, V sel1, const double *c0, const double *c1, int n)
{
    V p = nf_sel(mb, sel1, nf_kf(mb, c1[n - 1]), nf_kf(mb, c0[n - 1]));
    for (int i = n - 2; i >= 0; i--)
        p = nf_fma(mb, p, x, nf_sel(mb, sel1, nf_kf(mb, c1[i]), nf_kf(mb, c0[i])));
    return p;
}

void nf_two_prod(nf_mb *mb, V a, V b, V *hi, V *lo)
{
    *hi = nf_mul(mb, a, b);
    *lo = nf_fma(mb, a, b, nf_neg(mb, *hi));
}

void nf_two_sum(nf_mb *mb, V a, V b, V *hi, V *lo)
{
    V s = nf_add(mb, a, b);
    V bb = nf_sub(mb, s, a);
    V aa = nf_sub(mb, s, bb);
    *lo = nf_add(mb, nf_sub(mb, a, aa), nf_sub(mb, b, bb));
    *hi = s;
}

void nf_fast_two_sum(nf_mb *mb, V a, V b, V *hi, V *lo)
{
    V s = nf_add(mb, a, b);
    *lo = nf_add(mb, nf_sub(mb, a, s), b);
    *hi = s;
}

V nf_dw_div(nf_mb *mb, V nh, V nl, V dh, V dl)
{
    V q = nf_div(mb, nh, dh);
    V r = nf_fma(mb, nf_neg(mb, q), dh, nh); /* exact */
    r = nf_sub(mb, nf_add(mb, r, nl), nf_mul(mb, q, dl));
    return nf_add(mb, q, nf_div(mb, r, dh));
}

void nf_dw_mul(nf_mb *mb, V ah, V al, V bh, V bl, V *hi, V *lo)
{
    V h, l;
    nf_two_prod(mb, ah, bh, &h, &l);
    l = nf_fma(mb, ah, bl, nf_fma(mb, al, bh, l));
    *hi = h;
    *lo = l;
}

V nf_scale2(nf_mb *mb, V p, V k)
{
    /* Two factors so that each is a normal power of two and the result
     * rounds only once, also into the subnormal range. */
    V k1 = nf_ashr(mb, k, 1);
    V k2 = nf_isub(mb, k, k1);
    V s1 = nf_from_bits(mb, nf_shl(mb, nf_iadd(mb, k1, nf_ki(mb, mb->bias)), mb->mant));
    V s2 = nf_from_bits(mb, nf_shl(mb, nf_iadd(mb, k2, nf_ki(mb, mb->bias)), mb->mant));
    return nf_mul(mb, nf_mul(mb, p, s1), s2);
}

/* (e^r - 1 - r) / r^2 on |r| <= ln2/2 (+0.05%), minimax for the relative
 * error of e^r: 2^-32.9 (f32), 2^-60 (f64). */
static const double exp_q32[] = {
    0x1p-1, 0x1.555552p-3, 0x1.5554e4p-5, 0x1.1115b8p-7, 0x1.6d5154p-10, 0x1.9a8fcep-13,
};
static const double exp_q64[] = {
    0x1.0000000000000p-1, 0x1.555555555555bp-3, 0x1.5555555555503p-5, 0x1.111111110ec3fp-7,
    0x1.6c16c16c305ddp-10, 0x1.a01a01b38a1ddp-13, 0x1.a01a01364d812p-16, 0x1.71ddf00270085p-19,
    0x1.27e5b494a55fdp-22, 0x1.af6c1dd8b1cecp-26, 0x1.1e3d04c5cbbf3p-29,
};

void nf_exp_core(nf_mb *mb, V xh, V xl, V *ph, V *pl, V *k)
{
    double log2e = mb->f64 ? 0x1.71547652b82fep+0 : 0x1.715476p+0;
    double ln2_hi = mb->f64 ? 0x1.62e42fefa39efp-1 : 0x1.62e43p-1;
    double ln2_lo = mb->f64 ? 0x1.abc9e3b39803fp-56 : -0x1.05c61p-29;
    V j = nf_rint(mb, nf_mul(mb, xh, nf_kf(mb, log2e)));
    V nj = nf_neg(mb, j);
    /* rh is exact: j*ln2_hi and xh are multiples of ulp(xh)/2 or finer
     * and |rh| < 0.5. rl carries the rest of the reduced argument. */
    V rh = nf_fma(mb, nj, nf_kf(mb, ln2_hi), xh);
    V rl = xl ? nf_fma(mb, nj, nf_kf(mb, ln2_lo), xl) : nf_mul(mb, nj, nf_kf(mb, ln2_lo));
    V r = nf_add(mb, rh, rl);
    V q = mb->f64 ? nf_poly(mb, r, exp_q64, (int)(sizeof exp_q64 / sizeof *exp_q64))
                  : nf_poly(mb, r, exp_q32, (int)(sizeof exp_q32 / sizeof *exp_q32));
    V r2h, r2l;
    nf_two_prod(mb, r, r, &r2h, &r2l);
    V t = nf_fma(mb, r2h, q, nf_fma(mb, r2l, q, rl));
    /* 1 + rh exactly as u + ue; the result u + (ue + t), normalized. */
    V one = nf_kf(mb, 1.0);
    V u = nf_add(mb, one, rh);
    V ue = nf_add(mb, nf_sub(mb, one, u), rh);
    nf_fast_two_sum(mb, u, nf_add(mb, ue, t), ph, pl);
    *k = nf_to_int(mb, j);
}
