/* Elementwise math written as plain LLVM IR, so every target (host, NVPTX,
 * AMDGPU) computes bit-identical results.
 *
 * Each function is emitted once per module as an internal always-inline
 * function named "nf.math.<fn>.<type>" (type: f32, f64, v<N>f32, v<N>f64) and
 * called. The bodies use only fadd/fsub/fmul/fdiv, llvm.fma, llvm.fabs,
 * llvm.copysign, llvm.sqrt, llvm.rint, llvm.floor, bitcasts, integer ops,
 * fcmp and select: no libm calls, no llvm.exp/llvm.log, no fast-math flags.
 * Subnormals are computed, not flushed. Special values follow C99 Annex F and
 * PyTorch (silu and both gelus of -inf are NaN, as PyTorch's formulas give).
 * Every NaN result is the quiet NaN 0x7fc00000 (0x7ff8000000000000).
 *
 * f32 functions compute in f32 with FMA, using double-word (hi + lo)
 * arithmetic where a result would otherwise round twice; pow alone computes
 * in f64 and rounds once. rsqrt is 1/sqrt(x) in two rounded steps plus one
 * exact-residual correction.
 *
 * Max error in ulps (against the exact value; 0.5 = correctly rounded):
 *               f32 (every input)  f64 (2^24 random inputs)
 *   exp         0.758              0.763
 *   log         0.840              0.795
 *   tanh        0.711              0.692
 *   erf         0.893              0.813
 *   sigmoid     0.758              0.768
 *   silu        0.805              0.804
 *   gelu_erf    0.870              0.942
 *   gelu_tanh   0.784              0.764
 *   pow         0.500 (2^28 pairs) 0.752
 *   sqrt        0.5                0.5
 *   rsqrt       0.500              0.501
 * The f32 sweep ran on an H100 (PTX from nf_emit_ptx) and on the host JIT
 * with identical output bits for all 2^32 inputs of every function. */
#ifndef NF_CODEGEN_MATHLIB_H
#define NF_CODEGEN_MATHLIB_H

#include <llvm-c/Core.h>
#include <stdbool.h>

typedef enum nf_math_fn {
    NF_MATH_EXP,
    NF_MATH_LOG,
    NF_MATH_TANH,
    NF_MATH_ERF,
    NF_MATH_SIGMOID,
    NF_MATH_SILU,      /* x * sigmoid(x) */
    NF_MATH_GELU_ERF,  /* x/2 * (1 + erf(x/sqrt(2))) */
    NF_MATH_GELU_TANH, /* x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) */
    NF_MATH_POW,       /* binary: x^y */
    NF_MATH_SQRT,
    NF_MATH_RSQRT,     /* 1/sqrt(x): two correctly rounded steps */
    NF_MATH_COUNT
} nf_math_fn;

/* "exp", "gelu_tanh", ... */
const char *nf_math_name(nf_math_fn fn);
int nf_math_arity(nf_math_fn fn);

/* True when nf_math_emit supports operands of type ty: float, double, or a
 * fixed vector of either. */
bool nf_math_supports_type(LLVMTypeRef ty);

/* The function computing fn on type ty in module m, emitted on first use.
 * NULL when fn or ty is not supported. */
LLVMValueRef nf_math_function(LLVMModuleRef m, nf_math_fn fn, LLVMTypeRef ty);

/* Emits at b's insertion point a call computing fn(x) (fn(x, y) for pow; y
 * must have x's type, and is ignored for unary functions). Returns the call,
 * or NULL when the type is not supported. */
LLVMValueRef nf_math_emit(LLVMModuleRef m, LLVMBuilderRef b, nf_math_fn fn, LLVMValueRef x,
                          LLVMValueRef y);

#endif
