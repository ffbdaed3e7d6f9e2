/* Bit-level dtype conversions (PyTorch's c10 rules) and element access. */
#include "ir/numeric.h"

#include <string.h>

/* Keeps the top (32 - drop) bits of x, rounding the dropped bits to nearest,
 * ties to even. The result may carry into the next bit, which for a packed
 * exponent|mantissa word is exactly the step to the next binade (or inf). */
static uint32_t round_shift_rne(uint32_t x, int drop)
{
    if (drop <= 0)
        return x;
    if (drop >= 32)
        return 0; /* callers only pass values below 2^24, less than half */
    uint32_t kept = x >> drop;
    uint32_t rem = x & ((UINT32_C(1) << drop) - 1);
    uint32_t half = UINT32_C(1) << (drop - 1);
    if (rem > half || (rem == half && (kept & 1)))
        kept++;
    return kept;
}

/* ---- bf16 ---------------------------------------------------------------- */

uint16_t nf_f32_to_bf16(float f)
{
    uint32_t u = nf_f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return 0x7FC0;
    return (uint16_t)round_shift_rne(u & 0x7FFFFFFFu, 16) | (uint16_t)((u >> 16) & 0x8000u);
}

/* ---- f16 ----------------------------------------------------------------- */

uint16_t nf_f32_to_f16(float f)
{
    uint32_t u = nf_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return sign | 0x7E00;
    if (a >= 0x47800000u) /* >= 2^16: beyond every rounding of 65504, inf included */
        return sign | 0x7C00;
    int e = (int)(a >> 23);
    if (e >= 113) { /* f16 normal range, >= 2^-14: rebias the exponent, round 13 bits */
        uint32_t rebased = a - ((uint32_t)(127 - 15) << 23);
        return sign | (uint16_t)round_shift_rne(rebased, 13);
    }
    if (e == 0) /* f32 subnormals are far below half of f16's smallest subnormal */
        return sign;
    /* Subnormal f16: count units of 2^-24. a = m * 2^(e - 150). */
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    return sign | (uint16_t)round_shift_rne(m, 126 - e);
}

float nf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 31)
        return nf_f32_from_bits(sign | 0x7F800000u | (m << 13));
    if (e == 0) {
        if (m == 0)
            return nf_f32_from_bits(sign);
        /* m * 2^-24, exact in f32; normalize so bit 10 is the leading one. */
        int shift = 0;
        while (!(m & 0x400u)) {
            m <<= 1;
            shift++;
        }
        return nf_f32_from_bits(sign | ((uint32_t)(113 - shift) << 23) | ((m & 0x3FFu) << 13));
    }
    return nf_f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

/* ---- float8_e4m3fn -------------------------------------------------------- */

uint8_t nf_f32_to_f8e4m3(float f)
{
    uint32_t u = nf_f32_bits(f);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) /* inf and NaN */
        return sign | 0x7F;
    int e = (int)(a >> 23);
    uint32_t r;
    if (e >= 121) { /* >= 2^-6, f8 normal range */
        if (e > 127 + 8)
            return sign | 0x7F;
        r = round_shift_rne(a - ((uint32_t)(127 - 7) << 23), 20);
    } else if (e == 0) {
        r = 0;
    } else { /* subnormal f8: units of 2^-9; a = m * 2^(e - 150) */
        uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
        r = round_shift_rne(m, 141 - e);
    }
    if (r > 0x7E) /* rounded past 448: S.1111.111 is NaN, which is what c10 yields */
        r = 0x7F;
    return sign | (uint8_t)r;
}

float nf_f8e4m3_to_f32(uint8_t b)
{
    uint32_t sign = (uint32_t)(b & 0x80u) << 24;
    uint32_t e = (b >> 3) & 0xFu, m = b & 7u;
    if ((b & 0x7F) == 0x7F)
        return nf_f32_from_bits(sign | 0x7FC00000u);
    if (e == 0) /* m * 2^-9, exact */
        return nf_f32_from_bits(sign | nf_f32_bits((float)m * 0.001953125f));
    return nf_f32_from_bits(sign | ((e + 120) << 23) | (m << 20));
}

/* ---- value conversions --------------------------------------------------- */

int64_t nf_f64_to_i64_sat(double x)
{
    if (x != x)
        return 0;
    if (x >= 9223372036854775808.0)
        return INT64_MAX;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

int32_t nf_f64_to_i32_sat(double x)
{
    if (x != x)
        return 0;
    if (x >= 2147483648.0)
        return INT32_MAX;
    if (x < -2147483648.0)
        return INT32_MIN;
    return (int32_t)x;
}

double nf_round_f64(double x, nf_dtype t)
{
    switch (t) {
    case NF_F64: return x;
    case NF_F32: return (float)x;
    case NF_BF16: return nf_bf16_to_f32(nf_f32_to_bf16((float)x));
    case NF_F16: return nf_f16_to_f32(nf_f32_to_f16((float)x));
    case NF_F8E4M3: return nf_f8e4m3_to_f32(nf_f32_to_f8e4m3((float)x));
    case NF_I32: return nf_f64_to_i32_sat(x);
    case NF_I64: return (double)nf_f64_to_i64_sat(x);
    case NF_BOOL: return x != 0;
    default: return x;
    }
}

double nf_int_to_float(int64_t x, nf_dtype t)
{
    switch (t) {
    case NF_F64: return (double)x;
    case NF_F32: return (float)x;
    case NF_BF16: return nf_bf16_to_f32(nf_f32_to_bf16((float)x));
    case NF_F16: return nf_f16_to_f32(nf_f32_to_f16((float)x));
    case NF_F8E4M3: return nf_f8e4m3_to_f32(nf_f32_to_f8e4m3((float)x));
    default: return (double)nf_wrap_int(x, t);
    }
}

int64_t nf_wrap_int(int64_t x, nf_dtype t)
{
    switch (t) {
    case NF_I32: return (int32_t)(uint32_t)(uint64_t)x; /* gcc: modular, as documented */
    case NF_BOOL: return x != 0;
    default: return x;
    }
}

/* ---- element access ------------------------------------------------------ */

/* Loads and stores go through memcpy: caller memory need not be aligned. */
#define ACCESSORS(name, type)                                                  \
    static type load_##name(const void *base, int64_t i)                       \
    {                                                                          \
        type v;                                                                \
        memcpy(&v, (const char *)base + (size_t)i * sizeof v, sizeof v);       \
        return v;                                                              \
    }                                                                          \
    static void store_##name(void *base, int64_t i, type v)                    \
    {                                                                          \
        memcpy((char *)base + (size_t)i * sizeof v, &v, sizeof v);             \
    }
ACCESSORS(u8, uint8_t)
ACCESSORS(u16, uint16_t)
ACCESSORS(f32, float)
ACCESSORS(f64, double)
ACCESSORS(i32, int32_t)
ACCESSORS(i64, int64_t)
#undef ACCESSORS

double nf_load_f64(const void *base, nf_dtype t, int64_t i)
{
    switch (t) {
    case NF_BF16: return nf_bf16_to_f32(load_u16(base, i));
    case NF_F16: return nf_f16_to_f32(load_u16(base, i));
    case NF_F32: return load_f32(base, i);
    case NF_F64: return load_f64(base, i);
    case NF_I32: return load_i32(base, i);
    case NF_I64: return (double)load_i64(base, i);
    case NF_BOOL: return load_u8(base, i) != 0;
    case NF_F8E4M3: return nf_f8e4m3_to_f32(load_u8(base, i));
    default: return 0;
    }
}

int64_t nf_load_i64(const void *base, nf_dtype t, int64_t i)
{
    switch (t) {
    case NF_I32: return load_i32(base, i);
    case NF_I64: return load_i64(base, i);
    case NF_BOOL: return load_u8(base, i) != 0;
    default: return nf_f64_to_i64_sat(nf_load_f64(base, t, i));
    }
}

void nf_store_f64(void *base, nf_dtype t, int64_t i, double x)
{
    switch (t) {
    case NF_BF16: store_u16(base, i, nf_f32_to_bf16((float)x)); break;
    case NF_F16: store_u16(base, i, nf_f32_to_f16((float)x)); break;
    case NF_F32: store_f32(base, i, (float)x); break;
    case NF_F64: store_f64(base, i, x); break;
    case NF_I32: store_i32(base, i, nf_f64_to_i32_sat(x)); break;
    case NF_I64: store_i64(base, i, nf_f64_to_i64_sat(x)); break;
    case NF_BOOL: store_u8(base, i, x != 0); break;
    case NF_F8E4M3: store_u8(base, i, nf_f32_to_f8e4m3((float)x)); break;
    default: break;
    }
}

void nf_store_i64(void *base, nf_dtype t, int64_t i, int64_t x)
{
    switch (t) {
    case NF_BF16: store_u16(base, i, nf_f32_to_bf16((float)x)); break;
    case NF_F16: store_u16(base, i, nf_f32_to_f16((float)x)); break;
    case NF_F32: store_f32(base, i, (float)x); break;
    case NF_F64: store_f64(base, i, (double)x); break;
    case NF_I32: store_i32(base, i, (int32_t)nf_wrap_int(x, NF_I32)); break;
    case NF_I64: store_i64(base, i, x); break;
    case NF_BOOL: store_u8(base, i, x != 0); break;
    case NF_F8E4M3: store_u8(base, i, nf_f32_to_f8e4m3((float)x)); break;
    default: break;
    }
}
