/* Op construction: the C builder functions and the text's argument lists,
 * both reaching nf_build. */
#include "ir/ir.h"

#include <stdio.h>
#include <string.h>

nf_value *nf_unary(nf_graph *g, nf_op op, nf_value *a)
{
    if (g && !g->failed && (op < 0 || op >= NF_OP_COUNT || nf_op_kind_of(op) != NF_KIND_UNARY)) {
        nf_graph_fail(g, NF_ERR_ARG, "nf_unary: %s is not a unary op", nf_op_name(op));
        return NULL;
    }
    return nf_build(g, op, 1, &a, NULL);
}

nf_value *nf_binary(nf_graph *g, nf_op op, nf_value *a, nf_value *b)
{
    if (g && !g->failed && (op < 0 || op >= NF_OP_COUNT || nf_op_kind_of(op) != NF_KIND_BINARY)) {
        nf_graph_fail(g, NF_ERR_ARG, "nf_binary: %s is not a binary op", nf_op_name(op));
        return NULL;
    }
    nf_value *args[2] = {a, b};
    return nf_build(g, op, 2, args, NULL);
}

nf_value *nf_gelu(nf_graph *g, nf_value *a, bool approximate_tanh)
{
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .approx_tanh = approximate_tanh};
    return nf_build(g, NF_OP_GELU, 1, &a, &at);
}

nf_value *nf_cast(nf_graph *g, nf_value *a, nf_dtype dtype)
{
    nf_attrs at = {.dtype = dtype};
    return nf_build(g, NF_OP_CAST, 1, &a, &at);
}

nf_value *nf_unsqueeze(nf_graph *g, nf_value *a, int64_t dim)
{
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .dim0 = dim};
    return nf_build(g, NF_OP_UNSQUEEZE, 1, &a, &at);
}

nf_value *nf_squeeze(nf_graph *g, nf_value *a, int64_t dim)
{
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .dim0 = dim};
    return nf_build(g, NF_OP_SQUEEZE, 1, &a, &at);
}

nf_value *nf_transpose(nf_graph *g, nf_value *a, int64_t d0, int64_t d1)
{
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .dim0 = d0, .dim1 = d1};
    return nf_build(g, NF_OP_TRANSPOSE, 1, &a, &at);
}

nf_value *nf_slice(nf_graph *g, nf_value *a, int64_t dim, int64_t start, int64_t end, int64_t step)
{
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .dim0 = dim, .start = start, .end = end, .step = step};
    return nf_build(g, NF_OP_SLICE, 1, &a, &at);
}

nf_value *nf_linear(nf_graph *g, nf_value *x, nf_value *w, nf_dtype out_dtype)
{
    nf_value *args[2] = {x, w};
    nf_attrs at = {.dtype = out_dtype};
    return nf_build(g, NF_OP_LINEAR, 2, args, &at);
}

nf_value *nf_matmul(nf_graph *g, nf_value *a, nf_value *b, bool trans_b, nf_dtype out_dtype)
{
    nf_value *args[2] = {a, b};
    nf_attrs at = {.dtype = out_dtype, .trans_b = trans_b};
    return nf_build(g, NF_OP_MATMUL, 2, args, &at);
}

nf_value *nf_rope(nf_graph *g, nf_value *x, nf_value *cos_sin_cache, nf_value *positions, bool interleaved)
{
    nf_value *args[3] = {x, cos_sin_cache, positions};
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .rope_interleaved = interleaved};
    return nf_build(g, NF_OP_ROPE, 3, args, &at);
}

/* ---- from text arguments ------------------------------------------------- */

static void fail_at(nf_graph *g, const nf_arg *a, nf_status s, const char *msg, const char *op)
{
    if (a) {
        g->cur_line = a->line;
        g->cur_col = a->col;
    }
    nf_graph_fail(g, s, "%s: %s", op, msg);
}

static bool kw_is(const nf_arg *a, const char *name)
{
    return strlen(name) == a->kw_len && memcmp(a->kw, name, a->kw_len) == 0;
}

static bool name_is(const nf_arg *a, const char *name)
{
    return strlen(name) == a->kw_name_len && memcmp(a->kw_name, name, a->kw_name_len) == 0;
}

/* Positional args come first; returns their count or -1 after an error. */
static int count_positional(nf_graph *g, const char *op, const nf_arg *args, int nargs)
{
    int n = 0;
    while (n < nargs && args[n].kind != NF_ARG_KEYWORD)
        n++;
    for (int i = n; i < nargs; i++) {
        if (args[i].kind != NF_ARG_KEYWORD) {
            fail_at(g, &args[i], NF_ERR_PARSE, "positional argument after a keyword argument", op);
            return -1;
        }
    }
    return n;
}

static nf_value *tensor_arg(nf_graph *g, const char *op, const nf_arg *a, int index)
{
    if (a->kind != NF_ARG_VALUE) {
        char msg[96];
        snprintf(msg, sizeof msg, "argument %d must be a value (%%name)", index + 1);
        fail_at(g, a, NF_ERR_TYPE, msg, op);
        return NULL;
    }
    return a->value;
}

static bool int_arg(nf_graph *g, const char *op, const nf_arg *a, int index, int64_t *out)
{
    if (a->kind != NF_ARG_NUMBER || !a->number_is_int) {
        char msg[96];
        snprintf(msg, sizeof msg, "argument %d must be an integer", index + 1);
        fail_at(g, a, NF_ERR_TYPE, msg, op);
        return false;
    }
    *out = a->number_int;
    return true;
}

static bool arity(nf_graph *g, const char *op, const nf_arg *args, int npos, int lo, int hi)
{
    if (npos >= lo && npos <= hi)
        return true;
    char msg[128];
    if (lo == hi)
        snprintf(msg, sizeof msg, "wrong number of arguments: takes %d, got %d", lo, npos);
    else
        snprintf(msg, sizeof msg, "wrong number of arguments: takes %d to %d, got %d", lo, hi, npos);
    fail_at(g, npos > hi ? &args[hi] : NULL, NF_ERR_TYPE, msg, op);
    return false;
}

static bool unknown_keyword(nf_graph *g, const char *op, const nf_arg *a)
{
    char msg[160];
    snprintf(msg, sizeof msg, "unknown keyword argument '%.*s'", (int)(a->kw_len > 64 ? 64 : a->kw_len), a->kw);
    fail_at(g, a, NF_ERR_TYPE, msg, op);
    return false;
}

/* Keywords: out_dtype=DTYPE, trans_b=BOOL, approximate=tanh|none, style=neox|interleaved. */
static bool keywords(nf_graph *g, nf_op op, const nf_arg *args, int from, int nargs, nf_attrs *at)
{
    const char *name = nf_op_name(op);
    for (int i = from; i < nargs; i++) {
        const nf_arg *a = &args[i];
        bool gemm = nf_op_kind_of(op) == NF_KIND_MATMUL;
        if (gemm && kw_is(a, "out_dtype")) {
            if (a->kw_kind != NF_KW_DTYPE) {
                fail_at(g, a, NF_ERR_TYPE, "out_dtype must be a dtype (f32, bf16, f16)", name);
                return false;
            }
            at->dtype = a->dtype;
        } else if (op == NF_OP_MATMUL && kw_is(a, "trans_b")) {
            if (a->kw_kind != NF_KW_BOOL) {
                fail_at(g, a, NF_ERR_TYPE, "trans_b must be true or false", name);
                return false;
            }
            at->trans_b = a->kw_bool;
        } else if (op == NF_OP_GELU && kw_is(a, "approximate")) {
            if (a->kw_kind != NF_KW_NAME || !(name_is(a, "tanh") || name_is(a, "none"))) {
                fail_at(g, a, NF_ERR_TYPE, "approximate must be tanh or none", name);
                return false;
            }
            at->approx_tanh = name_is(a, "tanh");
        } else if (op == NF_OP_ROPE && kw_is(a, "style")) {
            if (a->kw_kind != NF_KW_NAME || !(name_is(a, "neox") || name_is(a, "interleaved"))) {
                fail_at(g, a, NF_ERR_TYPE, "style must be neox or interleaved", name);
                return false;
            }
            at->rope_interleaved = name_is(a, "interleaved");
        } else {
            return unknown_keyword(g, name, a);
        }
    }
    return true;
}

/* A binary operand: a value, or a literal that becomes a scalar value. */
static nf_value *operand(nf_graph *g, const char *op, const nf_arg *a, int index)
{
    if (a->kind == NF_ARG_NUMBER)
        return a->number_is_int ? nf_scalar_int(g, a->number_int) : nf_scalar(g, a->number);
    if (a->kind == NF_ARG_VALUE)
        return a->value;
    char msg[96];
    snprintf(msg, sizeof msg, "argument %d must be a value or a number", index + 1);
    fail_at(g, a, NF_ERR_TYPE, msg, op);
    return NULL;
}

nf_value *nf_build_from_args(nf_graph *g, nf_op op, const nf_arg *args, int nargs)
{
    if (!g || g->failed)
        return NULL;
    const char *name = nf_op_name(op);
    int npos = count_positional(g, name, args, nargs);
    if (npos < 0)
        return NULL;
    nf_attrs at = {.dtype = NF_DTYPE_NONE, .end = INT64_MAX, .step = 1};
    if (!keywords(g, op, args, npos, nargs, &at))
        return NULL;
    int line = g->cur_line, col = g->cur_col;
    nf_value *x[3] = {NULL, NULL, NULL};
    switch (nf_op_kind_of(op)) {
    case NF_KIND_UNARY:
        if (!arity(g, name, args, npos, 1, 1) || !(x[0] = tensor_arg(g, name, &args[0], 0)))
            return NULL;
        break;
    case NF_KIND_BINARY:
        if (!arity(g, name, args, npos, 2, 2))
            return NULL;
        for (int i = 0; i < 2; i++)
            if (!(x[i] = operand(g, name, &args[i], i)))
                return NULL;
        break;
    case NF_KIND_CAST:
        if (!arity(g, name, args, npos, 2, 2) || !(x[0] = tensor_arg(g, name, &args[0], 0)))
            return NULL;
        if (args[1].kind != NF_ARG_DTYPE) {
            fail_at(g, &args[1], NF_ERR_TYPE, "argument 2 must be a dtype", name);
            return NULL;
        }
        at.dtype = args[1].dtype;
        break;
    case NF_KIND_VIEW: {
        static const int lo[] = {[NF_OP_UNSQUEEZE] = 2, [NF_OP_SQUEEZE] = 2, [NF_OP_TRANSPOSE] = 3, [NF_OP_SLICE] = 3};
        static const int hi[] = {[NF_OP_UNSQUEEZE] = 2, [NF_OP_SQUEEZE] = 2, [NF_OP_TRANSPOSE] = 3, [NF_OP_SLICE] = 5};
        if (!arity(g, name, args, npos, lo[op], hi[op]) || !(x[0] = tensor_arg(g, name, &args[0], 0)))
            return NULL;
        int64_t *slots[] = {&at.dim0, op == NF_OP_SLICE ? &at.start : &at.dim1, &at.end, &at.step};
        for (int i = 1; i < npos; i++)
            if (!int_arg(g, name, &args[i], i, slots[i - 1]))
                return NULL;
        break;
    }
    case NF_KIND_MATMUL:
        if (!arity(g, name, args, npos, 2, 2))
            return NULL;
        for (int i = 0; i < 2; i++)
            if (!(x[i] = tensor_arg(g, name, &args[i], i)))
                return NULL;
        break;
    case NF_KIND_ROPE:
        if (!arity(g, name, args, npos, 3, 3))
            return NULL;
        for (int i = 0; i < 3; i++)
            if (!(x[i] = tensor_arg(g, name, &args[i], i)))
                return NULL;
        break;
    case NF_KIND_LEAF:
        nf_graph_fail(g, NF_ERR_PARSE, "unknown op '%s'", name);
        return NULL;
    }
    g->cur_line = line;
    g->cur_col = col;
    nf_op_kind kind = nf_op_kind_of(op);
    int n = kind == NF_KIND_ROPE ? 3 : kind == NF_KIND_BINARY || kind == NF_KIND_MATMUL ? 2 : 1;
    return nf_build(g, op, n, x, &at);
}
