/* Element conversions between nsafuse's dtypes, bit for bit as PyTorch does
 * them, plus element loads and stores for the reference interpreter.
 *
 * Narrow floats (bf16, f16, float8_e4m3fn) are made only from f32, as c10's
 * types are: a double or an integer is rounded to f32 first, then to the
 * narrow type (PyTorch's double rounding, reproduced on purpose). Every
 * rounding is round-to-nearest-even. */
#ifndef NF_IR_NUMERIC_H
#define NF_IR_NUMERIC_H

#include "nsafuse.h"

#include <string.h>

/* ---- bit-level float conversions ----------------------------------------- */

/* Inline: the interpreter's GEMM decodes every operand element. */
static inline uint32_t nf_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float nf_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bf16: any NaN becomes 0x7FC0 (c10::BFloat16's round_to_nearest_even). */
uint16_t nf_f32_to_bf16(float f);
static inline float nf_bf16_to_f32(uint16_t h) { return nf_f32_from_bits((uint32_t)h << 16); }

/* IEEE binary16: overflow to inf, exact subnormals, NaN -> sign | 0x7E00. */
uint16_t nf_f32_to_f16(float f);
float nf_f16_to_f32(uint16_t h);

/* float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN, max 448.
 * Magnitudes that round beyond 448 (from 464 exclusive up), inf and NaN all
 * become NaN (0x7F with the input's sign), as in c10::Float8_e4m3fn. */
uint8_t nf_f32_to_f8e4m3(float f);
float nf_f8e4m3_to_f32(uint8_t b);

/* ---- value conversions --------------------------------------------------- */

/* Float to integer: truncate toward zero, NaN -> 0, saturate at the type's
 * limits. PyTorch leaves out-of-range casts undefined (each target does its
 * own thing); we pick LLVM's fptosi.sat so that every nsafuse target and the
 * interpreter agree. */
int64_t nf_f64_to_i64_sat(double x);
int32_t nf_f64_to_i32_sat(double x);

/* x stored to dtype t and loaded back, as a double: rounded for a float t,
 * truncated and saturated for an integer t, 0 or 1 for bool. */
double nf_round_f64(double x, nf_dtype t);
/* An integer converted to float dtype t, returned as a double: i64 -> f32 and
 * i64 -> f64 round once from the integer (never through double first), i64
 * -> bf16/f16/f8 go through f32 as c10 does. */
double nf_int_to_float(int64_t x, nf_dtype t);
/* An integer converted to integer dtype t: two's-complement wrap; bool is
 * x != 0. Any other t returns x. */
int64_t nf_wrap_int(int64_t x, nf_dtype t);

/* ---- element access ------------------------------------------------------ */

/* Element `index` (in elements) of an array of dtype t. Loads are exact for
 * every float dtype; an integer loaded as double is rounded to double; a
 * float loaded as int64 converts with nf_f64_to_i64_sat; bool is 0 or 1. */
double nf_load_f64(const void *base, nf_dtype t, int64_t index);
int64_t nf_load_i64(const void *base, nf_dtype t, int64_t index);

/* Stores with the rules above: to a narrow float through f32; to an integer
 * saturating (from double) or wrapping (from int64); to bool as x != 0 (NaN
 * is true). */
void nf_store_f64(void *base, nf_dtype t, int64_t index, double x);
void nf_store_i64(void *base, nf_dtype t, int64_t index, int64_t x);

#endif
