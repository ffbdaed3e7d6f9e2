/* Dtype conversions in LLVM IR, written with integer and plain float ops so
 * that every target rounds exactly as PyTorch's c10 types do (RNE; bf16 NaN
 * becomes 0x7fc0; float8_e4m3fn overflow becomes NaN) without libcalls. */
#include "codegen/codegen.h"

#include <string.h>

static LLVMContextRef ctx_of(LLVMValueRef v) { return LLVMGetTypeContext(LLVMTypeOf(v)); }
static LLVMValueRef i32c(LLVMContextRef c, uint32_t x) { return LLVMConstInt(LLVMInt32TypeInContext(c), x, 0); }
static LLVMValueRef f32c(LLVMContextRef c, double x) { return LLVMConstReal(LLVMFloatTypeInContext(c), x); }

LLVMTypeRef nf_compute_type(LLVMContextRef c, nf_dtype t)
{
    switch (t) {
    case NF_F64: return LLVMDoubleTypeInContext(c);
    case NF_BF16: case NF_F16: case NF_F32: case NF_F8E4M3: return LLVMFloatTypeInContext(c);
    default: return LLVMInt64TypeInContext(c);
    }
}

LLVMTypeRef nf_storage_type(LLVMContextRef c, nf_dtype t)
{
    switch (t) {
    case NF_BF16: case NF_F16: return LLVMInt16TypeInContext(c);
    case NF_F32: return LLVMFloatTypeInContext(c);
    case NF_F64: return LLVMDoubleTypeInContext(c);
    case NF_I32: return LLVMInt32TypeInContext(c);
    case NF_I64: return LLVMInt64TypeInContext(c);
    default: return LLVMInt8TypeInContext(c); /* bool, f8 */
    }
}

LLVMValueRef nf_emit_intrinsic(LLVMBuilderRef b, LLVMModuleRef m, const char *name, LLVMTypeRef *types,
                                   int ntypes, LLVMValueRef *args, int nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m, id, types, (size_t)ntypes);
    LLVMTypeRef fty = LLVMIntrinsicGetType(LLVMGetModuleContext(m), id, types, (size_t)ntypes);
    return LLVMBuildCall2(b, fty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef nf_emit_asm(LLVMBuilderRef b, LLVMTypeRef ret, const char *text, const char *constraints, LLVMValueRef *args,
                         int nargs)
{
    LLVMTypeRef types[8];
    for (int i = 0; i < nargs && i < 8; i++)
        types[i] = LLVMTypeOf(args[i]);
    LLVMTypeRef fty = LLVMFunctionType(ret, types, (unsigned)nargs, 0);
    LLVMValueRef f = LLVMGetInlineAsm(fty, text, strlen(text), constraints, strlen(constraints), 1, 0,
                                      LLVMInlineAsmDialectATT, 0);
    return LLVMBuildCall2(b, fty, f, args, (unsigned)nargs, "");
}

static LLVMValueRef fabs_f(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    return nf_emit_intrinsic(b, m, "llvm.fabs", &t, 1, &x, 1);
}

static LLVMValueRef copysign_f(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef mag, LLVMValueRef sign)
{
    LLVMTypeRef t = LLVMTypeOf(mag);
    LLVMValueRef args[2] = {mag, sign};
    return nf_emit_intrinsic(b, m, "llvm.copysign", &t, 1, args, 2);
}

/* Keeps the top bits of a float's significand, rounding the dropped `drop`
 * bits to nearest even. Exact for values whose result is a normal number of
 * the narrow format; carries into the exponent (and to inf) correctly. */
static LLVMValueRef round_mantissa(LLVMBuilderRef b, LLVMValueRef x, unsigned drop)
{
    LLVMContextRef c = ctx_of(x);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(c);
    LLVMValueRef bits = LLVMBuildBitCast(b, x, i32, "");
    LLVMValueRef odd = LLVMBuildAnd(b, LLVMBuildLShr(b, bits, i32c(c, drop), ""), i32c(c, 1), "");
    LLVMValueRef bias = LLVMBuildAdd(b, i32c(c, (1u << (drop - 1)) - 1), odd, "");
    LLVMValueRef r = LLVMBuildAnd(b, LLVMBuildAdd(b, bits, bias, ""), i32c(c, ~((1u << drop) - 1)), "");
    return LLVMBuildBitCast(b, r, LLVMFloatTypeInContext(c), "");
}

/* Rounds |x| < 2^emin to a multiple of quantum = 2^qexp: adding a constant
 * whose ulp is the quantum makes the addition itself round to nearest even. */
static LLVMValueRef round_subnormal(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef x, int qexp)
{
    LLVMContextRef c = ctx_of(x);
    LLVMValueRef big = f32c(c, __builtin_ldexp(1.0, qexp + 23));
    LLVMValueRef a = fabs_f(b, m, x);
    LLVMValueRef r = LLVMBuildFSub(b, LLVMBuildFAdd(b, a, big, ""), big, "");
    return copysign_f(b, m, r, x);
}

static LLVMValueRef round_bf16(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef x)
{
    (void)m;
    LLVMContextRef c = ctx_of(x);
    LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
    LLVMValueRef r = round_mantissa(b, x, 16);
    LLVMValueRef qnan = LLVMBuildBitCast(b, i32c(c, 0x7fc00000u), LLVMFloatTypeInContext(c), "");
    return LLVMBuildSelect(b, nan, qnan, r, "");
}

static LLVMValueRef round_f16(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef x)
{
    LLVMContextRef c = ctx_of(x);
    LLVMValueRef a = fabs_f(b, m, x);
    LLVMValueRef normal = round_mantissa(b, x, 13);
    LLVMValueRef sub = round_subnormal(b, m, x, -24);
    LLVMValueRef is_sub = LLVMBuildFCmp(b, LLVMRealOLT, a, f32c(c, 0x1p-14), "");
    LLVMValueRef r = LLVMBuildSelect(b, is_sub, sub, normal, "");
    /* beyond the largest half (65504) rounding gives 65536: overflow to inf */
    LLVMValueRef over = LLVMBuildFCmp(b, LLVMRealOGE, a, f32c(c, 65520.0), "");
    LLVMValueRef inf = copysign_f(b, m, f32c(c, __builtin_inf()), x);
    r = LLVMBuildSelect(b, over, inf, r, "");
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""), x, r, "");
}

static LLVMValueRef round_f8e4m3(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef x)
{
    LLVMContextRef c = ctx_of(x);
    LLVMValueRef a = fabs_f(b, m, x);
    LLVMValueRef normal = round_mantissa(b, x, 20);
    LLVMValueRef sub = round_subnormal(b, m, x, -9);
    LLVMValueRef is_sub = LLVMBuildFCmp(b, LLVMRealOLT, a, f32c(c, 0x1p-6), "");
    LLVMValueRef r = LLVMBuildSelect(b, is_sub, sub, normal, "");
    /* no infinities: anything rounding past 448 (and NaN) is NaN */
    LLVMValueRef bad = LLVMBuildFCmp(b, LLVMRealUGT, fabs_f(b, m, r), f32c(c, 448.0), "");
    LLVMValueRef nan = copysign_f(b, m, f32c(c, __builtin_nan("")), x);
    return LLVMBuildSelect(b, bad, nan, r, "");
}

LLVMValueRef nf_emit_round(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype t)
{
    LLVMContextRef c = ctx_of(v);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(c);
    switch (t) {
    case NF_BF16: return round_bf16(b, m, v);
    case NF_F16: return round_f16(b, m, v);
    case NF_F8E4M3: return round_f8e4m3(b, m, v);
    case NF_I32: return LLVMBuildSExt(b, LLVMBuildTrunc(b, v, LLVMInt32TypeInContext(c), ""), i64, "");
    case NF_BOOL: return LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstInt(i64, 0, 0), ""), i64, "");
    default: return v;
    }
}

/* float compute value -> integer of dtype t, saturating, NaN -> 0 (LLVM's
 * fptosi.sat; PyTorch leaves out-of-range undefined). */
static LLVMValueRef float_to_int(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype t)
{
    LLVMContextRef c = ctx_of(v);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(c);
    if (t == NF_BOOL) {
        LLVMValueRef zero = LLVMConstReal(LLVMTypeOf(v), 0.0);
        return LLVMBuildZExt(b, LLVMBuildFCmp(b, LLVMRealUNE, v, zero, ""), i64, "");
    }
    LLVMTypeRef it = t == NF_I32 ? LLVMInt32TypeInContext(c) : i64;
    LLVMTypeRef types[2] = {it, LLVMTypeOf(v)};
    LLVMValueRef r = nf_emit_intrinsic(b, m, "llvm.fptosi.sat", types, 2, &v, 1);
    return it == i64 ? r : LLVMBuildSExt(b, r, i64, "");
}

LLVMValueRef nf_emit_convert(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype from, nf_dtype to)
{
    LLVMContextRef c = ctx_of(v);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(c), f64 = LLVMDoubleTypeInContext(c);
    bool ffrom = nf_dtype_is_float(from), fto = nf_dtype_is_float(to);
    if (from == to)
        return v;
    if (!ffrom && !fto) /* integer registers are i64 already */
        return nf_emit_round(b, m, v, to);
    if (ffrom && !fto)
        return float_to_int(b, m, v, to);
    if (!ffrom) { /* integer -> float: one rounding to float (or double), as static_cast */
        LLVMTypeRef ft = to == NF_F64 ? f64 : f32;
        LLVMValueRef r = from == NF_BOOL ? LLVMBuildUIToFP(b, v, ft, "") : LLVMBuildSIToFP(b, v, ft, "");
        return nf_emit_round(b, m, r, to);
    }
    /* float -> float: narrow types go through float, as c10's types do */
    if (to == NF_F64)
        return from == NF_F64 ? v : LLVMBuildFPExt(b, v, f64, "");
    if (from == NF_F64)
        v = LLVMBuildFPTrunc(b, v, f32, "");
    return nf_emit_round(b, m, v, to);
}

LLVMValueRef nf_emit_from_storage(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef bits, nf_dtype t)
{
    LLVMContextRef c = ctx_of(bits);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(c), i64 = LLVMInt64TypeInContext(c), f32 = LLVMFloatTypeInContext(c);
    switch (t) {
    case NF_F32: case NF_F64: case NF_I64: return bits;
    case NF_I32: return LLVMBuildSExt(b, bits, i64, "");
    case NF_BOOL:
        return LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntNE, bits, LLVMConstInt(LLVMTypeOf(bits), 0, 0), ""), i64, "");
    case NF_BF16:
        return LLVMBuildBitCast(b, LLVMBuildShl(b, LLVMBuildZExt(b, bits, i32, ""), i32c(c, 16), ""), f32, "");
    case NF_F16: {
        LLVMValueRef h = LLVMBuildZExt(b, bits, i32, "");
        LLVMValueRef sign = LLVMBuildShl(b, LLVMBuildAnd(b, h, i32c(c, 0x8000), ""), i32c(c, 16), "");
        LLVMValueRef exp = LLVMBuildAnd(b, LLVMBuildLShr(b, h, i32c(c, 10), ""), i32c(c, 0x1f), "");
        LLVMValueRef man = LLVMBuildAnd(b, h, i32c(c, 0x3ff), "");
        LLVMValueRef normal = LLVMBuildOr(
            b, LLVMBuildShl(b, LLVMBuildAdd(b, exp, i32c(c, 112), ""), i32c(c, 23), ""),
            LLVMBuildShl(b, man, i32c(c, 13), ""), "");
        LLVMValueRef special = LLVMBuildOr(b, i32c(c, 0x7f800000u), LLVMBuildShl(b, man, i32c(c, 13), ""), "");
        LLVMValueRef r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, exp, i32c(c, 31), ""), special, normal, "");
        r = LLVMBuildBitCast(b, LLVMBuildOr(b, r, sign, ""), f32, "");
        LLVMValueRef sub = LLVMBuildFMul(b, LLVMBuildUIToFP(b, man, f32, ""), f32c(c, 0x1p-24), "");
        sub = copysign_f(b, m, sub, LLVMBuildBitCast(b, sign, f32, ""));
        return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, exp, i32c(c, 0), ""), sub, r, "");
    }
    case NF_F8E4M3: {
        LLVMValueRef q = LLVMBuildZExt(b, bits, i32, "");
        LLVMValueRef sign = LLVMBuildShl(b, LLVMBuildAnd(b, q, i32c(c, 0x80), ""), i32c(c, 24), "");
        LLVMValueRef exp = LLVMBuildAnd(b, LLVMBuildLShr(b, q, i32c(c, 3), ""), i32c(c, 0xf), "");
        LLVMValueRef man = LLVMBuildAnd(b, q, i32c(c, 7), "");
        LLVMValueRef normal = LLVMBuildOr(
            b, LLVMBuildShl(b, LLVMBuildAdd(b, exp, i32c(c, 120), ""), i32c(c, 23), ""),
            LLVMBuildShl(b, man, i32c(c, 20), ""), "");
        LLVMValueRef r = LLVMBuildBitCast(b, LLVMBuildOr(b, normal, sign, ""), f32, "");
        LLVMValueRef sub = LLVMBuildFMul(b, LLVMBuildUIToFP(b, man, f32, ""), f32c(c, 0x1p-9), "");
        sub = copysign_f(b, m, sub, LLVMBuildBitCast(b, sign, f32, ""));
        r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, exp, i32c(c, 0), ""), sub, r, "");
        LLVMValueRef is_nan = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, q, i32c(c, 0x7f), ""), i32c(c, 0x7f), "");
        return LLVMBuildSelect(b, is_nan, f32c(c, __builtin_nan("")), r, "");
    }
    default: return bits;
    }
}

LLVMValueRef nf_emit_to_storage(LLVMBuilderRef b, LLVMModuleRef m, LLVMValueRef v, nf_dtype t)
{
    LLVMContextRef c = ctx_of(v);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(c), st = nf_storage_type(c, t);
    switch (t) {
    case NF_F32: case NF_F64: case NF_I64: return v;
    case NF_I32: case NF_BOOL: return LLVMBuildTrunc(b, v, st, "");
    case NF_BF16: {
        LLVMValueRef bits = LLVMBuildBitCast(b, v, i32, "");
        return LLVMBuildTrunc(b, LLVMBuildLShr(b, bits, i32c(c, 16), ""), st, "");
    }
    case NF_F16: case NF_F8E4M3: {
        /* v is exactly representable; rebuild the narrow format's fields */
        bool half = t == NF_F16;
        unsigned man_bits = half ? 10 : 3, bias_shift = half ? 112 : 120;
        LLVMValueRef bits = LLVMBuildBitCast(b, v, i32, "");
        LLVMValueRef sign = LLVMBuildLShr(b, LLVMBuildAnd(b, bits, i32c(c, 0x80000000u), ""),
                                          i32c(c, half ? 16 : 24), "");
        LLVMValueRef a = fabs_f(b, m, v);
        LLVMValueRef abits = LLVMBuildBitCast(b, a, i32, "");
        LLVMValueRef normal = LLVMBuildLShr(b, LLVMBuildSub(b, abits, i32c(c, bias_shift << 23), ""),
                                            i32c(c, 23 - man_bits), "");
        LLVMValueRef sub = LLVMBuildFPToUI(b, LLVMBuildFMul(b, a, f32c(c, half ? 0x1p24 : 0x1p9), ""), i32, "");
        LLVMValueRef is_sub = LLVMBuildFCmp(b, LLVMRealOLT, a, f32c(c, half ? 0x1p-14 : 0x1p-6), "");
        LLVMValueRef r = LLVMBuildSelect(b, is_sub, sub, normal, "");
        LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, v, v, "");
        r = LLVMBuildSelect(b, nan, i32c(c, half ? 0x7e00 : 0x7f), r, "");
        if (half) {
            LLVMValueRef inf = LLVMBuildFCmp(b, LLVMRealOEQ, a, f32c(c, __builtin_inf()), "");
            r = LLVMBuildSelect(b, inf, i32c(c, 0x7c00), r, "");
        }
        return LLVMBuildTrunc(b, LLVMBuildOr(b, r, sign, ""), st, "");
    }
    default: return v;
    }
}
