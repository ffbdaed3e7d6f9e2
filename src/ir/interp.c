/* The reference interpreter: runs a graph op by op on the CPU, every value
 * stored in its dtype as PyTorch eager stores it. It is the "unfused truth"
 * that fused kernels are checked against.
 *
 * Memory: parameters are the caller's tensors (their strides included); every
 * computed value gets its own contiguous buffer in its dtype; views (unsqueeze,
 * squeeze, transpose, slice) are layouts over their base's memory and copy
 * nothing. A buffer is freed after its last reader. Outputs are written at the
 * very end, in order, with the caller's strides. They may be views of the
 * inputs' memory (an in-place update) and may overlap each other: every
 * output is computed from the inputs as they were at the call, and where two
 * outputs overlap the later one's elements are what stays (docs/ROPE.md). */
#include "ir/interp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    nf_strided t;
    void *owned;   /* buffer this value allocated, freed after last_use */
    int root;      /* id of the value whose memory this one reads (itself unless a view) */
    int last_use;  /* for a root: id of the last value reading its memory */
    bool needed;
} slot;

static void format_concrete(nf_dtype t, int rank, const int64_t *shape, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s[", nf_dtype_name(t));
    for (int d = 0; d < rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* " (%name)" for a named value, "" otherwise: for messages. */
static const char *value_label(const nf_value *v, char *buf, size_t n)
{
    if (!v->name)
        return "";
    snprintf(buf, n, " (%%%s)", v->name);
    return buf;
}

/* Strides must be >= 0 and every element's offset must fit in int64. */
static nf_status check_strides(const nf_tensor *t, const char *what, int i, const nf_value *v, nf_error *err)
{
    char lb[160];
    int64_t max_off = 0;
    for (int d = 0; d < t->rank; d++) {
        if (t->strides[d] < 0)
            return nf_set_error(err, NF_ERR_ARG, 0, 0,
                                "%s %d%s: stride %lld in dimension %d; only strides >= 0 are supported", what, i,
                                value_label(v, lb, sizeof lb), (long long)t->strides[d], d);
        int64_t term;
        if (t->shape[d] > 0 && (__builtin_mul_overflow(t->shape[d] - 1, t->strides[d], &term) ||
                                __builtin_add_overflow(max_off, term, &max_off)))
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d%s: strides reach beyond 2^63 elements", what, i,
                                value_label(v, lb, sizeof lb));
    }
    return NF_OK;
}

static nf_status check_host(const nf_tensor *t, const char *what, int i, const nf_value *v, nf_error *err)
{
    char lb[160];
    if (t->device != NF_DEVICE_HOST)
        return nf_set_error(err, NF_ERR_ARG, 0, 0,
                            "%s %d%s: the interpreter reads host memory; this tensor is on device kind %d", what, i,
                            value_label(v, lb, sizeof lb), (int)t->device);
    if (t->rank < 0 || t->rank > NF_MAX_DIMS)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d%s: rank %d (0 to %d)", what, i, value_label(v, lb, sizeof lb),
                            t->rank, NF_MAX_DIMS);
    return NF_OK;
}

/* Data may be NULL only for an empty tensor; the element count must fit in
 * int64 (a stride-0 tensor can claim any shape). */
static nf_status check_data(const nf_tensor *t, const char *what, int i, const nf_value *v, nf_error *err)
{
    char lb[160];
    int64_t n = 1;
    bool overflow = false;
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] == 0)
            return NF_OK;
        overflow |= __builtin_mul_overflow(n, t->shape[d], &n);
    }
    if (overflow)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d%s: more than 2^63 elements", what, i,
                            value_label(v, lb, sizeof lb));
    if (!t->data)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "%s %d%s: data is NULL", what, i, value_label(v, lb, sizeof lb));
    return NF_OK;
}

static nf_status check_inputs(const nf_graph *g, const nf_tensor *inputs, int n_inputs, int64_t *sym_sizes,
                              nf_error *err)
{
    if (n_inputs != g->n_params)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph %s takes %d inputs, got %d", g->name, g->n_params,
                            n_inputs);
    if (n_inputs > 0 && !inputs)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "inputs is NULL but graph %s takes %d", g->name, n_inputs);
    nf_status s;
    for (int i = 0; i < n_inputs; i++)
        if ((s = check_host(&inputs[i], "input", i, g->params[i], err)))
            return s;
    nf_bindings b = {0};
    if ((s = nf_bind_from_inputs(g, inputs, n_inputs, &b, err)) || (s = nf_resolve_symbols(g, &b, sym_sizes, err)))
        return s;
    for (int i = 0; i < n_inputs; i++) {
        const nf_value *p = g->params[i];
        int64_t want[NF_MAX_DIMS];
        nf_concrete_shape(&p->shape, sym_sizes, want);
        if (inputs[i].dtype != p->dtype || inputs[i].rank != p->shape.rank ||
            memcmp(want, inputs[i].shape, (size_t)p->shape.rank * sizeof *want) != 0) {
            char ws[512], gs[512];
            format_concrete(p->dtype, p->shape.rank, want, ws, sizeof ws);
            format_concrete(inputs[i].dtype, inputs[i].rank, inputs[i].shape, gs, sizeof gs);
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "input %d (%%%s): expected %s, got %s", i, p->name, ws, gs);
        }
        if ((s = check_strides(&inputs[i], "input", i, p, err)) || (s = check_data(&inputs[i], "input", i, p, err)))
            return s;
    }
    return NF_OK;
}

static nf_status check_outputs(const nf_graph *g, const nf_tensor *outputs, int n_outputs, const int64_t *sym_sizes,
                               nf_error *err)
{
    if (n_outputs != g->n_outputs)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph %s returns %d values, got %d output tensors", g->name,
                            g->n_outputs, n_outputs);
    if (!outputs)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "outputs is NULL");
    nf_status s;
    for (int i = 0; i < n_outputs; i++) {
        const nf_value *v = g->outputs[i];
        const nf_tensor *t = &outputs[i];
        char lb[160];
        if ((s = check_host(t, "output", i, v, err)))
            return s;
        int64_t want[NF_MAX_DIMS];
        nf_concrete_shape(&v->shape, sym_sizes, want);
        if (t->dtype != v->dtype || t->rank != v->shape.rank ||
            memcmp(want, t->shape, (size_t)t->rank * sizeof *want) != 0) {
            char ws[512], gs[512];
            format_concrete(v->dtype, v->shape.rank, want, ws, sizeof ws);
            format_concrete(t->dtype, t->rank, t->shape, gs, sizeof gs);
            return nf_set_error(err, NF_ERR_ARG, 0, 0, "output %d%s: expected %s, got %s", i,
                                value_label(v, lb, sizeof lb), ws, gs);
        }
        if ((s = check_strides(t, "output", i, v, err)) || (s = check_data(t, "output", i, v, err)))
            return s;
    }
    return NF_OK;
}

/* Which values the outputs depend on, whose memory each reads, and the last
 * value to read each buffer. Values come in creation order, which is a
 * topological order: an op's operands are always older than the op. */
static void plan(const nf_graph *g, slot *slots)
{
    for (int i = 0; i < g->n_outputs; i++)
        slots[g->outputs[i]->id].needed = true;
    for (int id = g->n_values - 1; id >= 0; id--) {
        const nf_value *v = g->values[id];
        if (slots[id].needed)
            for (int j = 0; j < v->nargs; j++)
                slots[v->args[j]->id].needed = true;
    }
    for (int id = 0; id < g->n_values; id++) {
        const nf_value *v = g->values[id];
        slots[id].root = nf_op_kind_of(v->op) == NF_KIND_VIEW ? slots[v->args[0]->id].root : id;
        slots[id].last_use = id;
    }
    for (int id = 0; id < g->n_values; id++) {
        const nf_value *v = g->values[id];
        if (!slots[id].needed)
            continue;
        for (int j = 0; j < v->nargs; j++) {
            int r = slots[v->args[j]->id].root;
            if (slots[r].last_use < id)
                slots[r].last_use = id;
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        slots[slots[g->outputs[i]->id].root].last_use = INT_MAX;
}

/* A contiguous buffer for value v of the given shape. */
static nf_status alloc_value(const nf_value *v, slot *s, const int64_t *shape, nf_error *err)
{
    char lb[160];
    int64_t n = 1;
    for (int d = 0; d < v->shape.rank; d++)
        if (__builtin_mul_overflow(n, shape[d], &n))
            n = INT64_MAX;
    size_t size = nf_dtype_size(v->dtype), bytes;
    if (n == INT64_MAX || __builtin_mul_overflow((size_t)n, size, &bytes))
        bytes = SIZE_MAX;
    s->owned = bytes == SIZE_MAX ? NULL : malloc(bytes ? bytes : 1);
    if (!s->owned) {
        char ts[512];
        format_concrete(v->dtype, v->shape.rank, shape, ts, sizeof ts);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory for a value%s of type %s (%s)",
                            value_label(v, lb, sizeof lb), ts, nf_op_name(v->op));
    }
    s->t.data = s->owned;
    s->t.dtype = v->dtype;
    nf_layout_contiguous(&s->t.lay, v->shape.rank, shape);
    return NF_OK;
}

static nf_status run_value(const nf_graph *g, const nf_value *v, slot *slots, const nf_tensor *inputs,
                           const int64_t *sym_sizes, nf_error *err)
{
    char lb[160];
    slot *s = &slots[v->id];
    int64_t shape[NF_MAX_DIMS];
    nf_concrete_shape(&v->shape, sym_sizes, shape);
    nf_status st;
    switch (nf_op_kind_of(v->op)) {
    case NF_KIND_LEAF:
        if (v->op == NF_OP_PARAM) {
            const nf_tensor *t = &inputs[v->param_index];
            s->t.data = t->data;
            s->t.dtype = t->dtype;
            s->t.lay.rank = t->rank;
            memcpy(s->t.lay.shape, t->shape, sizeof t->shape);
            memcpy(s->t.lay.strides, t->strides, sizeof t->strides);
            s->t.lay.offset = 0;
        }
        return NF_OK; /* a literal has no memory; its users read attr */
    case NF_KIND_VIEW: {
        const slot *base = &slots[v->args[0]->id];
        s->t.data = base->t.data;
        s->t.dtype = base->t.dtype;
        nf_view_layout(v, &base->t.lay, &s->t.lay);
        break;
    }
    case NF_KIND_UNARY:
    case NF_KIND_BINARY:
    case NF_KIND_CAST: {
        if ((st = alloc_value(v, s, shape, err)))
            return st;
        nf_operand args[2];
        for (int j = 0; j < v->nargs; j++) {
            args[j].value = v->args[j];
            args[j].t = slots[v->args[j]->id].t;
        }
        nf_interp_elementwise(v, args, &s->t);
        break;
    }
    case NF_KIND_ROPE:
        if ((st = alloc_value(v, s, shape, err)))
            return st;
        if ((st = nf_interp_rope(v, &slots[v->args[0]->id].t, &slots[v->args[1]->id].t, &slots[v->args[2]->id].t,
                                 &s->t, err)))
            return st;
        break;
    case NF_KIND_MATMUL:
        if ((st = alloc_value(v, s, shape, err)))
            return st;
        if ((st = nf_interp_gemm(v, &slots[v->args[0]->id].t, &slots[v->args[1]->id].t, &s->t, err)))
            return st;
        break;
    }
    /* The layout must agree with inference; anything else is a bug here. */
    if (s->t.lay.rank != v->shape.rank || memcmp(s->t.lay.shape, shape, (size_t)v->shape.rank * sizeof *shape))
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0,
                            "interpreter: the layout of a %s value%s disagrees with its inferred shape (graph %s)",
                            nf_op_name(v->op), value_label(v, lb, sizeof lb), g->name);
    return NF_OK;
}

/* Frees the buffers whose last reader is v. */
static void release_after(const nf_value *v, slot *slots)
{
    for (int j = 0; j < v->nargs; j++) {
        slot *r = &slots[slots[v->args[j]->id].root];
        if (r->owned && r->last_use == v->id) {
            free(r->owned);
            r->owned = NULL;
        }
    }
}

nf_status nf_interpret(const nf_graph *g, const nf_tensor *inputs, int n_inputs, const nf_tensor *outputs,
                       int n_outputs, nf_error *err)
{
    if (!g)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph is NULL");
    if (g->failed)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph %s failed to build: %s", g->name, g->err.message);
    if (g->n_outputs == 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "graph %s has no return", g->name);
    int64_t *sym_sizes = calloc((size_t)g->n_syms + 1, sizeof *sym_sizes);
    slot *slots = calloc((size_t)g->n_values, sizeof *slots);
    nf_status st = NF_OK;
    if (!sym_sizes || !slots) {
        st = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
        goto done;
    }
    if ((st = check_inputs(g, inputs, n_inputs, sym_sizes, err)) ||
        (st = check_outputs(g, outputs, n_outputs, sym_sizes, err)))
        goto done;
    plan(g, slots);
    for (int id = 0; id < g->n_values; id++) {
        const nf_value *v = g->values[id];
        if (!slots[id].needed)
            continue;
        if ((st = run_value(g, v, slots, inputs, sym_sizes, err)))
            goto done;
        release_after(v, slots);
    }
    /* Outputs that read the caller's memory (views of inputs) are copied out
     * first: writing an earlier output may change that memory. */
    for (int i = 0; i < n_outputs; i++) {
        slot *s = &slots[g->outputs[i]->id];
        if (g->values[s->root]->op != NF_OP_PARAM || s->owned)
            continue;
        int64_t shape[NF_MAX_DIMS];
        nf_concrete_shape(&g->outputs[i]->shape, sym_sizes, shape);
        nf_strided from = s->t;
        if ((st = alloc_value(g->outputs[i], s, shape, err)))
            goto done;
        nf_interp_copy(&from, &s->t);
    }
    for (int i = 0; i < n_outputs; i++) {
        const nf_tensor *t = &outputs[i];
        nf_strided dst = {.data = t->data, .dtype = t->dtype, .lay = {.rank = t->rank}};
        memcpy(dst.lay.shape, t->shape, sizeof t->shape);
        memcpy(dst.lay.strides, t->strides, sizeof t->strides);
        nf_interp_copy(&slots[g->outputs[i]->id].t, &dst);
    }
done:
    if (slots)
        for (int id = 0; id < g->n_values; id++)
            free(slots[id].owned);
    free(slots);
    free(sym_sizes);
    return st;
}
