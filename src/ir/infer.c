/* Type and shape inference: nf_build checks an op's operands and attributes
 * and gives the result its dtype and shape, following PyTorch. */
#include "ir/ir.h"

#include <stdio.h>
#include <string.h>

bool nf_dim_equal(const nf_shape *a, int da, const nf_shape *b, int db)
{
    if (a->sym[da] >= 0 || b->sym[db] >= 0)
        return a->sym[da] == b->sym[db];
    return a->size[da] == b->size[db];
}

bool nf_shape_equal(const nf_shape *a, const nf_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (!nf_dim_equal(a, d, b, d))
            return false;
    return true;
}

static bool dim_is_one(const nf_shape *s, int d) { return s->sym[d] < 0 && s->size[d] == 1; }

static void fmt_dim(const nf_graph *g, const nf_shape *s, int d, char *buf, size_t n)
{
    if (s->sym[d] >= 0)
        snprintf(buf, n, "%s", g->syms[s->sym[d]]);
    else
        snprintf(buf, n, "%lld", (long long)s->size[d]);
}

int nf_format_type(const nf_graph *g, nf_dtype t, const nf_shape *s, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s[", nf_dtype_name(t));
    for (int d = 0; d < s->rank && used < n; d++) {
        char dim[128];
        fmt_dim(g, s, d, dim, sizeof dim);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", d ? ", " : "", dim);
    }
    if (used < n)
        used += (size_t)snprintf(buf + used, n - used, "]");
    return (int)used;
}

/* NumPy broadcasting. A symbolic size broadcasts only with itself or 1. */
static bool broadcast_shapes(nf_graph *g, const nf_shape *a, const nf_shape *b, nf_shape *out)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    out->rank = rank;
    for (int i = 0; i < rank; i++) {
        int da = a->rank - rank + i, db = b->rank - rank + i, d = i;
        if (da < 0) {
            out->size[d] = b->size[db];
            out->sym[d] = b->sym[db];
        } else if (db < 0 || dim_is_one(b, db)) {
            out->size[d] = a->size[da];
            out->sym[d] = a->sym[da];
        } else if (dim_is_one(a, da) || nf_dim_equal(a, da, b, db)) {
            out->size[d] = b->size[db];
            out->sym[d] = b->sym[db];
        } else {
            char sa[128], sb[128], ta[512], tb[512];
            fmt_dim(g, a, da, sa, sizeof sa);
            fmt_dim(g, b, db, sb, sizeof sb);
            nf_format_type(g, NF_F32, a, ta, sizeof ta);
            nf_format_type(g, NF_F32, b, tb, sizeof tb);
            nf_graph_fail(g, NF_ERR_TYPE, "shape mismatch: cannot broadcast %s with %s (dimension %d: %s vs %s)",
                          strchr(ta, '['), strchr(tb, '['), i, sa, sb);
            return false;
        }
    }
    return true;
}

static bool is_float_only(nf_op op)
{
    switch (op) {
    case NF_OP_EXP: case NF_OP_LOG: case NF_OP_SQRT: case NF_OP_RSQRT:
    case NF_OP_SIGMOID: case NF_OP_TANH: case NF_OP_SILU: case NF_OP_GELU:
        return true;
    default:
        return false;
    }
}

/* Ops with no kernels for bool and float8 in PyTorch; nsafuse only casts them. */
static bool arithmetic_dtype(nf_dtype t) { return t != NF_BOOL && t != NF_F8E4M3; }

static bool infer_unary(nf_graph *g, nf_value *v)
{
    const nf_value *a = v->args[0];
    if (!arithmetic_dtype(a->dtype)) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s does not take %s; cast to a numeric dtype first", nf_op_name(v->op),
                      nf_dtype_name(a->dtype));
        return false;
    }
    v->shape = a->shape;
    v->dtype = a->dtype;
    if (is_float_only(v->op) && !nf_dtype_is_float(a->dtype)) {
        if (v->op == NF_OP_SILU || v->op == NF_OP_GELU) {
            nf_graph_fail(g, NF_ERR_TYPE, "%s needs a floating dtype, got %s", nf_op_name(v->op),
                          nf_dtype_name(a->dtype));
            return false;
        }
        v->dtype = NF_F32; /* torch.exp(int tensor) is a default-dtype float */
    }
    return true;
}

static bool infer_binary(nf_graph *g, nf_value *v)
{
    const nf_value *a = v->args[0], *b = v->args[1];
    if (nf_value_is_scalar(a) && nf_value_is_scalar(b)) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s of two literals: at least one operand must be a tensor", nf_op_name(v->op));
        return false;
    }
    for (int i = 0; i < 2; i++) {
        if (!arithmetic_dtype(v->args[i]->dtype)) {
            nf_graph_fail(g, NF_ERR_TYPE, "%s does not take %s; cast to a numeric dtype first", nf_op_name(v->op),
                          nf_dtype_name(v->args[i]->dtype));
            return false;
        }
    }
    const nf_value *ops[2] = {a, b};
    nf_dtype t = nf_result_type(ops, 2);
    if (t == NF_DTYPE_NONE) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s: dtypes %s and %s do not promote", nf_op_name(v->op),
                      nf_dtype_name(a->dtype), nf_dtype_name(b->dtype));
        return false;
    }
    if (v->op == NF_OP_DIV && !nf_dtype_is_float(t))
        t = NF_F32; /* true division */
    v->dtype = t;
    return broadcast_shapes(g, &a->shape, &b->shape, &v->shape);
}

/* Normalizes a possibly negative dim against rank; false when out of range. */
static bool norm_dim(nf_graph *g, const char *op, int64_t *dim, int rank)
{
    int64_t d = *dim;
    if (d < -rank || d >= rank || rank == 0) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s: dimension %lld out of range for rank %d", op, (long long)d,
                      rank == 0 ? 0 : rank);
        return false;
    }
    *dim = d < 0 ? d + rank : d;
    return true;
}

static void shape_remove(nf_shape *s, int d)
{
    for (int i = d; i + 1 < s->rank; i++) {
        s->size[i] = s->size[i + 1];
        s->sym[i] = s->sym[i + 1];
    }
    s->rank--;
}

static void shape_insert(nf_shape *s, int d, int64_t size)
{
    for (int i = s->rank; i > d; i--) {
        s->size[i] = s->size[i - 1];
        s->sym[i] = s->sym[i - 1];
    }
    s->size[d] = size;
    s->sym[d] = -1;
    s->rank++;
}

static bool infer_slice(nf_graph *g, nf_value *v, const nf_value *a)
{
    nf_attrs *at = &v->attr;
    if (!norm_dim(g, "slice", &at->dim0, a->shape.rank))
        return false;
    if (at->step < 1) {
        nf_graph_fail(g, NF_ERR_TYPE, "slice: step must be >= 1, got %lld", (long long)at->step);
        return false;
    }
    int d = (int)at->dim0;
    if (a->shape.sym[d] >= 0) {
        if (at->start != 0 || at->end < INT64_MAX || at->step != 1) {
            nf_graph_fail(g, NF_ERR_UNSUPPORTED,
                          "slice: dimension %d has symbolic size %s; only the whole range can be sliced", d,
                          g->syms[a->shape.sym[d]]);
            return false;
        }
        at->full_slice = true;
        return true;
    }
    int64_t size = a->shape.size[d];
    int64_t start = at->start, end = at->end;
    /* Python slicing: negative counts from the end, then clamp to [0, size]. */
    if (start < 0)
        start = start < -size ? 0 : start + size;
    if (end < 0)
        end = end < -size ? 0 : end + size;
    if (start > size)
        start = size;
    if (end > size)
        end = size;
    if (end < start)
        end = start;
    at->start = start;
    at->end = end;
    v->shape.size[d] = (end - start + at->step - 1) / at->step;
    return true;
}

static bool infer_view(nf_graph *g, nf_value *v)
{
    const nf_value *a = v->args[0];
    v->dtype = a->dtype;
    v->shape = a->shape;
    switch (v->op) {
    case NF_OP_UNSQUEEZE:
        if (a->shape.rank >= NF_MAX_DIMS) {
            nf_graph_fail(g, NF_ERR_UNSUPPORTED, "unsqueeze: rank would exceed %d", NF_MAX_DIMS);
            return false;
        }
        if (!norm_dim(g, "unsqueeze", &v->attr.dim0, a->shape.rank + 1))
            return false;
        shape_insert(&v->shape, (int)v->attr.dim0, 1);
        return true;
    case NF_OP_SQUEEZE: {
        if (!norm_dim(g, "squeeze", &v->attr.dim0, a->shape.rank))
            return false;
        int d = (int)v->attr.dim0;
        if (a->shape.sym[d] >= 0) {
            nf_graph_fail(g, NF_ERR_TYPE, "squeeze: dimension %d has symbolic size %s, which may not be 1", d,
                          g->syms[a->shape.sym[d]]);
            return false;
        }
        if (a->shape.size[d] == 1) /* torch.squeeze(x, d) leaves other sizes alone */
            shape_remove(&v->shape, d);
        return true;
    }
    case NF_OP_TRANSPOSE: {
        if (!norm_dim(g, "transpose", &v->attr.dim0, a->shape.rank) ||
            !norm_dim(g, "transpose", &v->attr.dim1, a->shape.rank))
            return false;
        int d0 = (int)v->attr.dim0, d1 = (int)v->attr.dim1;
        v->shape.size[d0] = a->shape.size[d1];
        v->shape.sym[d0] = a->shape.sym[d1];
        v->shape.size[d1] = a->shape.size[d0];
        v->shape.sym[d1] = a->shape.sym[d0];
        return true;
    }
    case NF_OP_SLICE:
        return infer_slice(g, v, a);
    default:
        return false;
    }
}

static bool gemm_dtypes(nf_graph *g, nf_value *v, const nf_value *a, const nf_value *b)
{
    const char *op = nf_op_name(v->op);
    if (a->dtype != b->dtype) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s: operands must have one dtype, got %s and %s (cast one)", op,
                      nf_dtype_name(a->dtype), nf_dtype_name(b->dtype));
        return false;
    }
    nf_dtype in = a->dtype;
    if (in != NF_BF16 && in != NF_F16 && in != NF_F32 && in != NF_F64) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s: operands must be bf16, f16, f32 or f64, got %s", op, nf_dtype_name(in));
        return false;
    }
    nf_dtype out = v->attr.dtype == NF_DTYPE_NONE ? in : v->attr.dtype;
    bool ok = out == in || (out == NF_F32 && (in == NF_BF16 || in == NF_F16));
    if (!ok) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s: out_dtype=%s is not available for %s inputs (use %s%s)", op,
                      nf_dtype_name(out), nf_dtype_name(in), nf_dtype_name(in),
                      in == NF_BF16 || in == NF_F16 ? " or f32" : "");
        return false;
    }
    v->attr.dtype = out;
    v->dtype = out;
    return true;
}

static bool dims_match(nf_graph *g, const char *op, const nf_shape *a, int da, const nf_shape *b, int db)
{
    if (nf_dim_equal(a, da, b, db))
        return true;
    char sa[128], sb[128];
    fmt_dim(g, a, da, sa, sizeof sa);
    fmt_dim(g, b, db, sb, sizeof sb);
    nf_graph_fail(g, NF_ERR_TYPE, "shape mismatch: %s reduces over K = %s in one operand and %s in the other", op,
                  sa, sb);
    return false;
}

static bool infer_matmul(nf_graph *g, nf_value *v)
{
    const nf_value *a = v->args[0], *b = v->args[1];
    if (nf_value_is_scalar(a) || nf_value_is_scalar(b)) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s takes tensors, not literals", nf_op_name(v->op));
        return false;
    }
    if (!gemm_dtypes(g, v, a, b))
        return false;
    if (v->op == NF_OP_LINEAR) {
        if (a->shape.rank < 1 || b->shape.rank != 2) {
            nf_graph_fail(g, NF_ERR_TYPE, "linear: needs x[..., K] and w[N, K], got ranks %d and %d", a->shape.rank,
                          b->shape.rank);
            return false;
        }
        if (!dims_match(g, "linear", &a->shape, a->shape.rank - 1, &b->shape, 1))
            return false;
        v->shape = a->shape;
        v->shape.size[a->shape.rank - 1] = b->shape.size[0];
        v->shape.sym[a->shape.rank - 1] = b->shape.sym[0];
        return true;
    }
    if (a->shape.rank != 2 || b->shape.rank != 2) {
        nf_graph_fail(g, NF_ERR_TYPE, "matmul: needs 2-d operands, got ranks %d and %d", a->shape.rank,
                      b->shape.rank);
        return false;
    }
    int kb = v->attr.trans_b ? 1 : 0, nb = 1 - kb;
    if (!dims_match(g, "matmul", &a->shape, 1, &b->shape, kb))
        return false;
    v->shape.rank = 2;
    v->shape.size[0] = a->shape.size[0];
    v->shape.sym[0] = a->shape.sym[0];
    v->shape.size[1] = b->shape.size[nb];
    v->shape.sym[1] = b->shape.sym[nb];
    return true;
}

/* rope(x[N..., R], cache[P, R], positions[N...]): x's leading dims are the
 * positions' shape; R, the rotated size, is fixed and even. */
static bool infer_rope(nf_graph *g, nf_value *v)
{
    const nf_value *x = v->args[0], *cache = v->args[1], *pos = v->args[2];
    int r = x->shape.rank, p = pos->shape.rank;
    if (x->dtype != NF_BF16 && x->dtype != NF_F16 && x->dtype != NF_F32 && x->dtype != NF_F64) {
        nf_graph_fail(g, NF_ERR_TYPE, "rope: x must be bf16, f16, f32 or f64, got %s", nf_dtype_name(x->dtype));
        return false;
    }
    if (cache->dtype != NF_BF16 && cache->dtype != NF_F16 && cache->dtype != NF_F32 && cache->dtype != NF_F64) {
        nf_graph_fail(g, NF_ERR_TYPE, "rope: cos_sin_cache must be a float tensor, got %s",
                      nf_dtype_name(cache->dtype));
        return false;
    }
    if (pos->dtype != NF_I32 && pos->dtype != NF_I64) {
        nf_graph_fail(g, NF_ERR_TYPE, "rope: positions must be i32 or i64, got %s", nf_dtype_name(pos->dtype));
        return false;
    }
    if (cache->shape.rank != 2 || p < 1 || r < p + 1) {
        nf_graph_fail(g, NF_ERR_TYPE,
                      "rope: needs x[N..., R], cos_sin_cache[P, R] and positions[N...] (x ranks more than "
                      "positions), got ranks %d, %d and %d",
                      r, cache->shape.rank, p);
        return false;
    }
    if (x->shape.sym[r - 1] >= 0 || x->shape.size[r - 1] % 2 != 0 || x->shape.size[r - 1] == 0) {
        char dim[128];
        fmt_dim(g, &x->shape, r - 1, dim, sizeof dim);
        nf_graph_fail(g, NF_ERR_TYPE, "rope: the rotated size (x's last dimension) must be a fixed even size, got %s",
                      dim);
        return false;
    }
    if (!nf_dim_equal(&x->shape, r - 1, &cache->shape, 1)) {
        char a[128], b[128];
        fmt_dim(g, &x->shape, r - 1, a, sizeof a);
        fmt_dim(g, &cache->shape, 1, b, sizeof b);
        nf_graph_fail(g, NF_ERR_TYPE,
                      "shape mismatch: rope rotates %s elements of x but cos_sin_cache rows hold %s (cos, then sin)", a,
                      b);
        return false;
    }
    for (int d = 0; d < p; d++) {
        if (!nf_dim_equal(&x->shape, d, &pos->shape, d)) {
            char a[128], b[128];
            fmt_dim(g, &x->shape, d, a, sizeof a);
            fmt_dim(g, &pos->shape, d, b, sizeof b);
            nf_graph_fail(g, NF_ERR_TYPE,
                          "shape mismatch: rope positions must have x's leading dimensions (dimension %d: %s in x, %s "
                          "in positions)",
                          d, a, b);
            return false;
        }
    }
    v->dtype = x->dtype;
    v->shape = x->shape;
    return true;
}

static int expected_args(nf_op_kind k)
{
    return k == NF_KIND_ROPE ? 3 : k == NF_KIND_BINARY || k == NF_KIND_MATMUL ? 2 : 1;
}

nf_value *nf_build(nf_graph *g, nf_op op, int nargs, nf_value *const *args, const nf_attrs *attrs)
{
    if (!g || g->failed)
        return NULL;
    if (op < 0 || op >= NF_OP_COUNT || nf_op_kind_of(op) == NF_KIND_LEAF) {
        nf_graph_fail(g, NF_ERR_ARG, "op %d cannot be built this way", (int)op);
        return NULL;
    }
    nf_op_kind kind = nf_op_kind_of(op);
    if (nargs != expected_args(kind)) {
        nf_graph_fail(g, NF_ERR_TYPE, "%s takes %d operands, got %d", nf_op_name(op), expected_args(kind), nargs);
        return NULL;
    }
    for (int i = 0; i < nargs; i++) {
        if (!args[i]) {
            nf_graph_fail(g, NF_ERR_ARG, "%s: operand %d is NULL", nf_op_name(op), i + 1);
            return NULL;
        }
        if (kind != NF_KIND_BINARY && nf_value_is_scalar(args[i])) {
            nf_graph_fail(g, NF_ERR_TYPE, "%s: operand %d must be a tensor, not a literal", nf_op_name(op), i + 1);
            return NULL;
        }
    }
    nf_value *v = nf_graph_new_value(g, op);
    if (!v)
        return NULL;
    v->nargs = nargs;
    for (int i = 0; i < nargs; i++)
        v->args[i] = args[i];
    if (attrs)
        v->attr = *attrs;
    bool ok = false;
    switch (kind) {
    case NF_KIND_UNARY: ok = infer_unary(g, v); break;
    case NF_KIND_BINARY: ok = infer_binary(g, v); break;
    case NF_KIND_CAST:
        if (v->attr.dtype < 0 || v->attr.dtype >= NF_DTYPE_COUNT) {
            nf_graph_fail(g, NF_ERR_TYPE, "cast: invalid target dtype");
            break;
        }
        v->dtype = v->attr.dtype;
        v->shape = args[0]->shape;
        ok = true;
        break;
    case NF_KIND_VIEW: ok = infer_view(g, v); break;
    case NF_KIND_MATMUL: ok = infer_matmul(g, v); break;
    case NF_KIND_ROPE: ok = infer_rope(g, v); break;
    case NF_KIND_LEAF: break;
    }
    if (!ok) {
        g->n_values--; /* drop the half-built value; the arena keeps its bytes */
        return NULL;
    }
    return v;
}
