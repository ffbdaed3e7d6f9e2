/* The mathlib's front: one internal always-inline function per (fn, type)
 * and module, emitted on first use. */
#include "codegen/mathlib_ir.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static V body_sqrt(nf_mb *mb, V x, V y)
{
    (void)y;
    return nf_sqrt(mb, x);
}

/* y0 = 1/sqrt(x) in two rounded steps (up to 1.5 ulp), then one correction
 * from the exact residuals of both: with s = sqrt(x) rounded, x - s^2 and
 * 1 - s y0 are exact by FMA, and 1/sqrt(x) = y0 (1 + d - (x - s^2)/(2x)) to
 * second order. Tiny x is scaled up first so the residuals stay exact. */
static V body_rsqrt(nf_mb *mb, V x, V y)
{
    (void)y;
    V one = nf_kf(mb, 1.0), zero = nf_kf(mb, 0.0);
    V tiny = nf_lt(mb, x, nf_kf(mb, mb->f64 ? 0x1p-900 : 0x1p-100));
    V xs = nf_sel(mb, tiny, nf_mul(mb, x, nf_kf(mb, mb->f64 ? 0x1p200 : 0x1p50)), x);
    V s = nf_sqrt(mb, xs);
    V y0 = nf_div(mb, one, s);
    V d = nf_fma(mb, nf_neg(mb, s), y0, one);
    V e = nf_fma(mb, nf_neg(mb, s), s, xs);
    V corr = nf_fma(mb, nf_mul(mb, nf_mul(mb, e, nf_kf(mb, -0.5)), y0), y0, d);
    V r = nf_fma(mb, y0, corr, y0);
    r = nf_mul(mb, r, nf_sel(mb, tiny, nf_kf(mb, mb->f64 ? 0x1p100 : 0x1p25), one));
    /* 0, inf, negative, NaN: the plain quotient has the right special value */
    V plain = nf_div(mb, one, nf_sqrt(mb, x));
    V normal = nf_and(mb, nf_gt(mb, x, zero), nf_lt(mb, x, nf_kf(mb, INFINITY)));
    return nf_sel(mb, normal, r, plain);
}

static V body_pow(nf_mb *mb, V x, V y) { return nf_mathlib_pow(mb, x, y); }

#define UNARY(name)                                                                                \
    static V body_##name(nf_mb *mb, V x, V y)                                                      \
    {                                                                                              \
        (void)y;                                                                                   \
        return nf_mathlib_##name(mb, x);                                                           \
    }
UNARY(exp)
UNARY(log)
UNARY(tanh)
UNARY(erf)
UNARY(sigmoid)
UNARY(silu)
UNARY(gelu_erf)
UNARY(gelu_tanh)
#undef UNARY

static const struct {
    const char *name;
    int arity;
    V (*body)(nf_mb *mb, V x, V y);
} fns[NF_MATH_COUNT] = {
    [NF_MATH_EXP] = {"exp", 1, body_exp},
    [NF_MATH_LOG] = {"log", 1, body_log},
    [NF_MATH_TANH] = {"tanh", 1, body_tanh},
    [NF_MATH_ERF] = {"erf", 1, body_erf},
    [NF_MATH_SIGMOID] = {"sigmoid", 1, body_sigmoid},
    [NF_MATH_SILU] = {"silu", 1, body_silu},
    [NF_MATH_GELU_ERF] = {"gelu_erf", 1, body_gelu_erf},
    [NF_MATH_GELU_TANH] = {"gelu_tanh", 1, body_gelu_tanh},
    [NF_MATH_POW] = {"pow", 2, body_pow},
    [NF_MATH_SQRT] = {"sqrt", 1, body_sqrt},
    [NF_MATH_RSQRT] = {"rsqrt", 1, body_rsqrt},
};

const char *nf_math_name(nf_math_fn fn)
{
    return (unsigned)fn < NF_MATH_COUNT ? fns[fn].name : "?";
}

int nf_math_arity(nf_math_fn fn)
{
    return (unsigned)fn < NF_MATH_COUNT ? fns[fn].arity : 0;
}

bool nf_math_supports_type(LLVMTypeRef ty)
{
    if (!ty)
        return false;
    if (LLVMGetTypeKind(ty) == LLVMVectorTypeKind) {
        unsigned n = LLVMGetVectorSize(ty);
        if (n < 1 || n > 64)
            return false;
        ty = LLVMGetElementType(ty);
    }
    LLVMTypeKind k = LLVMGetTypeKind(ty);
    return k == LLVMFloatTypeKind || k == LLVMDoubleTypeKind;
}

/* One NaN for every target: hardware NaN encodings differ (x86 keeps
 * payloads and makes 0xffc00000, NVPTX f32 makes 0x7fffffff). Done on the
 * bits, since LLVM may treat all NaNs as interchangeable in FP selects. */
static V canonical_nan(nf_mb *mb, V r)
{
    V bits = nf_bits(mb, r);
    int64_t mag = mb->f64 ? 0x7fffffffffffffffLL : 0x7fffffffLL;
    int64_t inf = mb->f64 ? 0x7ff0000000000000LL : 0x7f800000LL;
    int64_t qnan = mb->f64 ? 0x7ff8000000000000LL : 0x7fc00000LL;
    V is_nan = LLVMBuildICmp(mb->b, LLVMIntUGT, nf_iand(mb, bits, nf_ki(mb, mag)), nf_ki(mb, inf), "");
    return nf_from_bits(mb, nf_sel(mb, is_nan, nf_ki(mb, qnan), bits));
}

static void add_fn_attr(LLVMContextRef ctx, V fn, const char *name, uint64_t val)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ctx, kind, val));
}

LLVMValueRef nf_math_function(LLVMModuleRef m, nf_math_fn fn, LLVMTypeRef ty)
{
    if ((unsigned)fn >= NF_MATH_COUNT || !nf_math_supports_type(ty))
        return NULL;
    bool vec = LLVMGetTypeKind(ty) == LLVMVectorTypeKind;
    LLVMTypeRef elem = vec ? LLVMGetElementType(ty) : ty;
    const char *ename = LLVMGetTypeKind(elem) == LLVMDoubleTypeKind ? "f64" : "f32";
    char name[64];
    if (vec)
        snprintf(name, sizeof name, "nf.math.%s.v%u%s", fns[fn].name, LLVMGetVectorSize(ty), ename);
    else
        snprintf(name, sizeof name, "nf.math.%s.%s", fns[fn].name, ename);
    V f = LLVMGetNamedFunction(m, name);
    if (f)
        return f;

    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMTypeRef params[2] = {ty, ty};
    LLVMTypeRef fty = LLVMFunctionType(ty, params, (unsigned)fns[fn].arity, 0);
    f = LLVMAddFunction(m, name, fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    add_fn_attr(ctx, f, "alwaysinline", 0);
    add_fn_attr(ctx, f, "nounwind", 0);
    add_fn_attr(ctx, f, "willreturn", 0);
    add_fn_attr(ctx, f, "nosync", 0);
    add_fn_attr(ctx, f, "nofree", 0);
    add_fn_attr(ctx, f, "memory", 0); /* memory(none) */

    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, f, "entry"));
    nf_mb mb;
    nf_mb_init(&mb, m, b, ty);
    V x = LLVMGetParam(f, 0);
    V y = fns[fn].arity > 1 ? LLVMGetParam(f, 1) : NULL;
    LLVMBuildRet(b, canonical_nan(&mb, fns[fn].body(&mb, x, y)));
    LLVMDisposeBuilder(b);
    return f;
}

LLVMValueRef nf_math_emit(LLVMModuleRef m, LLVMBuilderRef b, nf_math_fn fn, LLVMValueRef x,
                          LLVMValueRef y)
{
    if (!x)
        return NULL;
    LLVMTypeRef ty = LLVMTypeOf(x);
    V f = nf_math_function(m, fn, ty);
    if (!f)
        return NULL;
    if (nf_math_arity(fn) > 1 && (!y || LLVMTypeOf(y) != ty))
        return NULL;
    V args[2] = {x, y};
    return LLVMBuildCall2(b, LLVMGlobalGetValueType(f), f, args, (unsigned)nf_math_arity(fn), "");
}
