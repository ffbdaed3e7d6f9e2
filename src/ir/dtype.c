/* The dtype table and PyTorch's promotion rules. */
#include "ir/ir.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
    bool is_float;
} dtype_info[NF_DTYPE_COUNT] = {
    [NF_BF16] = {"bf16", 2, true},   [NF_F16] = {"f16", 2, true},  [NF_F32] = {"f32", 4, true},
    [NF_F64] = {"f64", 8, true},     [NF_I32] = {"i32", 4, false}, [NF_I64] = {"i64", 8, false},
    [NF_BOOL] = {"bool", 1, false},  [NF_F8E4M3] = {"f8e4m3", 1, true},
};

static bool dtype_valid(nf_dtype t) { return t >= 0 && t < NF_DTYPE_COUNT; }

const char *nf_dtype_name(nf_dtype t) { return dtype_valid(t) ? dtype_info[t].name : "?"; }
size_t nf_dtype_size(nf_dtype t) { return dtype_valid(t) ? dtype_info[t].size : 0; }
bool nf_dtype_is_float(nf_dtype t) { return dtype_valid(t) && dtype_info[t].is_float; }

bool nf_dtype_from_name(const char *name, size_t len, nf_dtype *out)
{
    for (int t = 0; t < NF_DTYPE_COUNT; t++) {
        if (strlen(dtype_info[t].name) == len && memcmp(dtype_info[t].name, name, len) == 0) {
            *out = (nf_dtype)t;
            return true;
        }
    }
    return false;
}

/* torch.promote_types. float8 promotes with nothing but itself, as in PyTorch. */
nf_dtype nf_promote_types(nf_dtype a, nf_dtype b)
{
    if (a == b)
        return a;
    if (a == NF_F8E4M3 || b == NF_F8E4M3)
        return NF_DTYPE_NONE;
    if (a == NF_BOOL)
        return b;
    if (b == NF_BOOL)
        return a;
    bool fa = nf_dtype_is_float(a), fb = nf_dtype_is_float(b);
    if (fa && !fb)
        return a;
    if (fb && !fa)
        return b;
    if (!fa) /* i32 with i64 */
        return NF_I64;
    if (a == NF_F64 || b == NF_F64)
        return NF_F64;
    return NF_F32; /* f32 with a half type, or bf16 with f16 */
}

nf_dtype nf_opmath_dtype(nf_dtype t)
{
    switch (t) {
    case NF_BF16: case NF_F16: case NF_F32: case NF_F8E4M3: return NF_F32;
    case NF_F64: return NF_F64;
    default: return NF_I64;
    }
}

typedef enum { CAT_NONE, CAT_BOOL, CAT_INT, CAT_FLOAT } category;

static category category_of(nf_dtype t)
{
    if (t == NF_DTYPE_NONE)
        return CAT_NONE;
    if (t == NF_BOOL)
        return CAT_BOOL;
    return nf_dtype_is_float(t) ? CAT_FLOAT : CAT_INT;
}

static nf_dtype promote_skip_none(nf_dtype a, nf_dtype b)
{
    if (a == NF_DTYPE_NONE)
        return b;
    if (b == NF_DTYPE_NONE)
        return a;
    return nf_promote_types(a, b);
}

/* c10's combine_categories: a lower-priority group only matters when it is of
 * a higher category than everything above it. */
static nf_dtype combine_categories(nf_dtype higher, nf_dtype lower)
{
    if (category_of(higher) == CAT_FLOAT)
        return higher;
    if (higher == NF_BOOL || category_of(lower) == CAT_FLOAT)
        return promote_skip_none(higher, lower);
    if (higher != NF_DTYPE_NONE)
        return higher;
    return lower;
}

/* torch.result_type: tensors with dims outrank 0-d tensors, which outrank
 * Python scalars. A Python float counts as the default dtype (f32), a Python
 * int as i64. Returns NF_DTYPE_NONE when the dtypes do not promote. */
nf_dtype nf_result_type(const nf_value *const *operands, int n)
{
    nf_dtype dim_result = NF_DTYPE_NONE, zero_result = NF_DTYPE_NONE, wrapped_result = NF_DTYPE_NONE;
    for (int i = 0; i < n; i++) {
        const nf_value *v = operands[i];
        nf_dtype *slot;
        nf_dtype t = v->dtype;
        if (nf_value_is_scalar(v)) {
            slot = &wrapped_result;
            t = v->dtype == NF_F64 ? NF_F32 : NF_I64;
        } else if (v->shape.rank == 0) {
            slot = &zero_result;
        } else {
            slot = &dim_result;
        }
        if (*slot != NF_DTYPE_NONE && nf_promote_types(*slot, t) == NF_DTYPE_NONE)
            return NF_DTYPE_NONE;
        *slot = promote_skip_none(*slot, t);
    }
    return combine_categories(dim_result, combine_categories(zero_result, wrapped_result));
}
