/* Concrete sizes and strided layouts: symbols bound per call, views as
 * shape + strides + offset over their base's memory. */
#include "ir/ir.h"

#include <stdio.h>
#include <string.h>

void nf_tensor_init(nf_tensor *t, void *data, nf_dtype dtype, int rank, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    t->data = data;
    t->dtype = dtype;
    t->rank = rank;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        t->shape[d] = shape[d];
        t->strides[d] = stride;
        stride *= shape[d] > 0 ? shape[d] : 1;
    }
}

int64_t nf_shape_numel(int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= shape[d];
    return n;
}

int64_t nf_tensor_numel(const nf_tensor *t) { return nf_shape_numel(t->rank, t->shape); }

void nf_concrete_shape(const nf_shape *s, const int64_t *sym_sizes, int64_t *out)
{
    for (int d = 0; d < s->rank; d++)
        out[d] = s->sym[d] >= 0 ? sym_sizes[s->sym[d]] : s->size[d];
}

static int find_binding(const nf_bindings *b, const char *name)
{
    for (int i = 0; b && i < b->n; i++)
        if (b->names[i] && strcmp(b->names[i], name) == 0)
            return i;
    return -1;
}

nf_status nf_resolve_symbols(const nf_graph *g, const nf_bindings *b, int64_t *sym_sizes, nf_error *err)
{
    for (int s = 0; s < g->n_syms; s++) {
        int i = find_binding(b, g->syms[s]);
        if (i < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "symbolic size %s is not bound", g->syms[s]);
        if (b->sizes[i] < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "symbolic size %s bound to %lld; sizes are >= 0", g->syms[s],
                                (long long)b->sizes[i]);
        sym_sizes[s] = b->sizes[i];
    }
    return NF_OK;
}

static void format_shape(int rank, const int64_t *shape, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* "input 2 (%q): expected f32[T, 64, 1], got f32[4, 64]": formatted only on error. */
static nf_status input_mismatch(const nf_graph *g, int i, const nf_tensor *t, const char *detail, nf_error *err)
{
    const nf_value *p = g->params[i];
    char want[512], got[256];
    nf_format_type(g, p->dtype, &p->shape, want, sizeof want);
    format_shape(t->rank >= 0 && t->rank <= NF_MAX_DIMS ? t->rank : 0, t->shape, got, sizeof got);
    return nf_set_error(err, NF_ERR_ARG, 0, 0, "input %d (%%%s): %sexpected %s, got %s%s", i, p->name, detail, want,
                        nf_dtype_name(t->dtype), got);
}

nf_status nf_bind_from_inputs(const nf_graph *g, const nf_tensor *inputs, int n_inputs, nf_bindings *b,
                              nf_error *err)
{
    if (n_inputs != g->n_params)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph %s takes %d inputs, got %d", g->name, g->n_params,
                            n_inputs);
    if (n_inputs > 0 && !inputs)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "inputs is NULL");
    for (int i = 0; i < n_inputs; i++) {
        const nf_value *p = g->params[i];
        const nf_tensor *t = &inputs[i];
        if (t->dtype != p->dtype || t->rank != p->shape.rank)
            return input_mismatch(g, i, t, "", err);
        for (int d = 0; d < t->rank; d++) {
            int64_t have = t->shape[d];
            if (p->shape.sym[d] < 0) {
                if (have != p->shape.size[d])
                    return input_mismatch(g, i, t, "", err);
                continue;
            }
            const char *sym = g->syms[p->shape.sym[d]];
            int k = find_binding(b, sym);
            if (k >= 0 && b->sizes[k] != have) {
                char detail[256];
                snprintf(detail, sizeof detail, "dimension %d is %s = %lld here but %lld elsewhere; ", d, sym,
                         (long long)have, (long long)b->sizes[k]);
                return input_mismatch(g, i, t, detail, err);
            }
            if (k < 0) {
                if (b->n >= (int)(sizeof b->sizes / sizeof b->sizes[0]))
                    return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than 16 symbolic sizes");
                if (have < 0)
                    return nf_set_error(err, NF_ERR_ARG, 0, 0, "input %d (%%%s): negative size", i, p->name);
                b->names[b->n] = sym;
                b->sizes[b->n++] = have;
            }
        }
    }
    return NF_OK;
}

static nf_status value_shape(const nf_graph *g, const nf_value *v, const nf_bindings *b, int *rank,
                             int64_t *shape, nf_error *err)
{
    int64_t sym_sizes[64];
    if (g->n_syms > 64)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "more than 64 symbolic sizes");
    nf_status st = nf_resolve_symbols(g, b, sym_sizes, err);
    if (st)
        return st;
    *rank = v->shape.rank;
    nf_concrete_shape(&v->shape, sym_sizes, shape);
    return NF_OK;
}

nf_status nf_param_shape(const nf_graph *g, int i, const nf_bindings *b, int *rank, int64_t *shape, nf_error *err)
{
    if (i < 0 || i >= g->n_params)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "no parameter %d", i);
    return value_shape(g, g->params[i], b, rank, shape, err);
}

nf_status nf_output_shape(const nf_graph *g, int i, const nf_bindings *b, int *rank, int64_t *shape, nf_error *err)
{
    if (i < 0 || i >= g->n_outputs)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "no output %d", i);
    return value_shape(g, g->outputs[i], b, rank, shape, err);
}

void nf_layout_contiguous(nf_layout *l, int rank, const int64_t *shape)
{
    memset(l, 0, sizeof *l);
    l->rank = rank;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        l->shape[d] = shape[d];
        l->strides[d] = stride;
        stride *= shape[d] > 0 ? shape[d] : 1;
    }
}

void nf_view_layout(const nf_value *view, const nf_layout *base, nf_layout *out)
{
    *out = *base;
    int d = (int)view->attr.dim0;
    switch (view->op) {
    case NF_OP_UNSQUEEZE:
        for (int i = base->rank; i > d; i--) {
            out->shape[i] = base->shape[i - 1];
            out->strides[i] = base->strides[i - 1];
        }
        out->shape[d] = 1;
        out->strides[d] = d < base->rank ? base->strides[d] * base->shape[d] : 1;
        out->rank = base->rank + 1;
        break;
    case NF_OP_SQUEEZE:
        if (base->shape[d] != 1)
            break;
        for (int i = d; i + 1 < base->rank; i++) {
            out->shape[i] = base->shape[i + 1];
            out->strides[i] = base->strides[i + 1];
        }
        out->rank = base->rank - 1;
        break;
    case NF_OP_TRANSPOSE: {
        int e = (int)view->attr.dim1;
        out->shape[d] = base->shape[e];
        out->strides[d] = base->strides[e];
        out->shape[e] = base->shape[d];
        out->strides[e] = base->strides[d];
        break;
    }
    case NF_OP_SLICE:
        if (view->attr.full_slice)
            break;
        out->offset = base->offset + view->attr.start * base->strides[d];
        out->strides[d] = base->strides[d] * view->attr.step;
        out->shape[d] = (view->attr.end - view->attr.start + view->attr.step - 1) / view->attr.step;
        break;
    default:
        break;
    }
}

void nf_broadcast_layout(const nf_layout *from, int rank, const int64_t *to, nf_layout *out)
{
    memset(out, 0, sizeof *out);
    out->rank = rank;
    out->offset = from->offset;
    int lead = rank - from->rank;
    for (int d = 0; d < rank; d++) {
        out->shape[d] = to[d];
        int s = d - lead;
        if (s < 0 || (from->shape[s] == 1 && to[d] != 1))
            out->strides[d] = 0;
        else
            out->strides[d] = from->strides[s];
    }
}
