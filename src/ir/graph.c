/* Graphs: creation, the value list, parameters, literals, outputs, symbols. */
#include "ir/ir.h"

#include <stdlib.h>
#include <string.h>

nf_graph *nf_graph_new(const char *name)
{
    nf_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (!name)
        name = "graph";
    g->name = nf_arena_strndup(&g->arena, name, strlen(name));
    if (!g->name) {
        free(g);
        return NULL;
    }
    return g;
}

void nf_graph_free(nf_graph *g)
{
    if (!g)
        return;
    free(g->values);
    free(g->params);
    free(g->syms);
    nf_name_table_free(&g->param_names);
    nf_name_table_free(&g->sym_names);
    nf_arena_free(&g->arena);
    free(g);
}

const nf_error *nf_graph_error(const nf_graph *g) { return g && g->failed ? &g->err : NULL; }
const char *nf_graph_name(const nf_graph *g) { return g->name; }

void nf_graph_fail(nf_graph *g, nf_status s, const char *fmt, ...)
{
    if (g->failed)
        return;
    g->failed = true;
    va_list ap;
    va_start(ap, fmt);
    nf_set_verror(&g->err, s, g->cur_line, g->cur_col, fmt, ap);
    va_end(ap);
}

/* Grows a pointer array by doubling. */
static bool grow(void ***items, int *cap, int need)
{
    if (need <= *cap)
        return true;
    int n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void **p = realloc(*items, (size_t)n * sizeof *p);
    if (!p)
        return false;
    *items = p;
    *cap = n;
    return true;
}

int nf_graph_intern_symbol(nf_graph *g, const char *name, size_t len)
{
    void *found = nf_name_table_get(&g->sym_names, name, len);
    if (found)
        return (int)((intptr_t)found - 1);
    if (!grow((void ***)&g->syms, &g->cap_syms, g->n_syms + 1))
        return -1;
    char *copy = nf_arena_strndup(&g->arena, name, len);
    if (!copy || !nf_name_table_put(&g->sym_names, copy, len, (void *)(intptr_t)(g->n_syms + 1)))
        return -1;
    g->syms[g->n_syms] = copy;
    return g->n_syms++;
}

/* A new value appended to the graph, or NULL (graph marked failed). */
nf_value *nf_graph_new_value(nf_graph *g, nf_op op)
{
    if (!grow((void ***)&g->values, &g->cap_values, g->n_values + 1)) {
        nf_graph_fail(g, NF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    nf_value *v = nf_arena_alloc(&g->arena, sizeof *v);
    if (!v) {
        nf_graph_fail(g, NF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->id = g->n_values;
    v->op = op;
    v->line = g->cur_line;
    v->col = g->cur_col;
    v->param_index = -1;
    v->attr.dtype = NF_DTYPE_NONE;
    g->values[g->n_values++] = v;
    return v;
}

static bool valid_name(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

nf_value *nf_param(nf_graph *g, const char *name, nf_dtype dtype, int rank, const nf_dim *dims)
{
    if (!g || g->failed)
        return NULL;
    if (g->n_outputs) {
        nf_graph_fail(g, NF_ERR_ARG, "parameter %%%s added after the graph returned", name ? name : "?");
        return NULL;
    }
    if (dtype < 0 || dtype >= NF_DTYPE_COUNT) {
        nf_graph_fail(g, NF_ERR_ARG, "parameter %%%s: invalid dtype %d", name ? name : "?", (int)dtype);
        return NULL;
    }
    if (rank < 0 || rank > NF_MAX_DIMS || (rank > 0 && !dims)) {
        nf_graph_fail(g, NF_ERR_ARG, "parameter %%%s: rank %d (0 to %d, with dims)", name ? name : "?", rank,
                      NF_MAX_DIMS);
        return NULL;
    }
    if (!valid_name(name)) {
        nf_graph_fail(g, NF_ERR_ARG, "parameter name '%s' must be [A-Za-z0-9_.]+", name ? name : "(null)");
        return NULL;
    }
    if (nf_name_table_get(&g->param_names, name, strlen(name))) {
        nf_graph_fail(g, NF_ERR_TYPE, "duplicate parameter %%%s", name);
        return NULL;
    }
    nf_value *v = nf_graph_new_value(g, NF_OP_PARAM);
    if (!v)
        return NULL;
    v->dtype = dtype;
    v->shape.rank = rank;
    for (int d = 0; d < rank; d++) {
        if (dims[d].sym) {
            if (!valid_name(dims[d].sym)) {
                nf_graph_fail(g, NF_ERR_ARG, "parameter %%%s: symbolic size '%s' must be [A-Za-z0-9_.]+", name,
                              dims[d].sym);
                return NULL;
            }
            int s = nf_graph_intern_symbol(g, dims[d].sym, strlen(dims[d].sym));
            if (s < 0) {
                nf_graph_fail(g, NF_ERR_NOMEM, "out of memory");
                return NULL;
            }
            v->shape.sym[d] = s;
        } else {
            if (dims[d].size < 0) {
                nf_graph_fail(g, NF_ERR_TYPE, "parameter %%%s: dimension %d has negative size %lld", name, d,
                              (long long)dims[d].size);
                return NULL;
            }
            v->shape.size[d] = dims[d].size;
            v->shape.sym[d] = -1;
        }
    }
    v->name = nf_arena_strndup(&g->arena, name, strlen(name));
    if (!v->name || !grow((void ***)&g->params, &g->cap_params, g->n_params + 1) ||
        !nf_name_table_put(&g->param_names, v->name, strlen(v->name), v)) {
        nf_graph_fail(g, NF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->param_index = g->n_params;
    g->params[g->n_params++] = v;
    return v;
}

nf_value *nf_scalar(nf_graph *g, double value)
{
    if (!g || g->failed)
        return NULL;
    nf_value *v = nf_graph_new_value(g, NF_OP_SCALAR);
    if (!v)
        return NULL;
    v->dtype = NF_F64;
    v->attr.scalar = value;
    return v;
}

nf_value *nf_scalar_int(nf_graph *g, int64_t value)
{
    if (!g || g->failed)
        return NULL;
    nf_value *v = nf_graph_new_value(g, NF_OP_SCALAR);
    if (!v)
        return NULL;
    v->dtype = NF_I64;
    v->attr.scalar_int = value;
    v->attr.scalar = (double)value;
    return v;
}

nf_value *nf_name(nf_graph *g, nf_value *v, const char *name)
{
    if (!g || g->failed || !v)
        return NULL;
    if (!name) {
        v->name = NULL;
        return v;
    }
    if (!valid_name(name)) {
        nf_graph_fail(g, NF_ERR_ARG, "value name '%s' must be [A-Za-z0-9_.]+", name);
        return NULL;
    }
    v->name = nf_arena_strndup(&g->arena, name, strlen(name));
    if (!v->name)
        nf_graph_fail(g, NF_ERR_NOMEM, "out of memory");
    return v->name ? v : NULL;
}

nf_status nf_graph_return(nf_graph *g, int n, nf_value *const *values)
{
    if (!g)
        return NF_ERR_ARG;
    if (g->failed)
        return g->err.status;
    if (g->n_outputs) {
        nf_graph_fail(g, NF_ERR_TYPE, "the graph already returned");
        return g->err.status;
    }
    if (n < 1 || !values) {
        nf_graph_fail(g, NF_ERR_TYPE, "a graph returns at least one value");
        return g->err.status;
    }
    for (int i = 0; i < n; i++) {
        if (!values[i]) {
            nf_graph_fail(g, NF_ERR_ARG, "returned value %d is NULL", i);
            return g->err.status;
        }
        if (nf_value_is_scalar(values[i])) {
            nf_graph_fail(g, NF_ERR_TYPE, "a graph cannot return a literal");
            return g->err.status;
        }
    }
    g->outputs = nf_arena_alloc(&g->arena, (size_t)n * sizeof *g->outputs);
    if (!g->outputs) {
        nf_graph_fail(g, NF_ERR_NOMEM, "out of memory");
        return g->err.status;
    }
    memcpy(g->outputs, values, (size_t)n * sizeof *g->outputs);
    g->n_outputs = n;
    return NF_OK;
}

int nf_graph_num_params(const nf_graph *g) { return g->n_params; }
int nf_graph_num_outputs(const nf_graph *g) { return g->n_outputs; }
const nf_value *nf_graph_param(const nf_graph *g, int i) { return i >= 0 && i < g->n_params ? g->params[i] : NULL; }
const nf_value *nf_graph_output(const nf_graph *g, int i)
{
    return i >= 0 && i < g->n_outputs ? g->outputs[i] : NULL;
}
nf_dtype nf_value_dtype(const nf_value *v) { return v->dtype; }
int nf_value_rank(const nf_value *v) { return v->shape.rank; }
const char *nf_value_name(const nf_value *v) { return v->name; }
int nf_graph_num_symbols(const nf_graph *g) { return g->n_syms; }
const char *nf_graph_symbol(const nf_graph *g, int i) { return i >= 0 && i < g->n_syms ? g->syms[i] : NULL; }
