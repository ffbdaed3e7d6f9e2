/* A deep copy of a graph, so a compiled kernel does not depend on the
 * caller keeping its graph alive. */
#include "ir/ir.h"

#include <stdlib.h>

nf_graph *nf_graph_clone(const nf_graph *src, nf_error *err)
{
    if (!src || src->failed || src->n_outputs == 0) {
        nf_set_error(err, NF_ERR_ARG, 0, 0, "graph is incomplete: it failed to build or has no return");
        return NULL;
    }
    nf_graph *g = nf_graph_new(src->name);
    nf_value **map = calloc((size_t)src->n_values, sizeof *map);
    nf_value **outs = calloc((size_t)src->n_outputs, sizeof *outs);
    if (!g || !map || !outs)
        goto oom;
    for (int i = 0; i < src->n_values && !g->failed; i++) {
        const nf_value *v = src->values[i];
        g->cur_line = v->line;
        g->cur_col = v->col;
        nf_value *args[3] = {NULL, NULL, NULL};
        for (int a = 0; a < v->nargs; a++)
            args[a] = map[v->args[a]->id];
        if (v->op == NF_OP_PARAM) {
            nf_dim dims[NF_MAX_DIMS];
            for (int d = 0; d < v->shape.rank; d++)
                dims[d] = (nf_dim){v->shape.size[d], v->shape.sym[d] >= 0 ? src->syms[v->shape.sym[d]] : NULL};
            map[i] = nf_param(g, v->name, v->dtype, v->shape.rank, dims);
        } else if (v->op == NF_OP_SCALAR) {
            map[i] = v->dtype == NF_I64 ? nf_scalar_int(g, v->attr.scalar_int) : nf_scalar(g, v->attr.scalar);
        } else {
            map[i] = nf_build(g, v->op, v->nargs, args, &v->attr);
        }
        if (map[i] && v->name && v->op != NF_OP_PARAM)
            nf_name(g, map[i], v->name);
    }
    for (int i = 0; i < src->n_outputs && !g->failed; i++)
        outs[i] = map[src->outputs[i]->id];
    if (!g->failed)
        nf_graph_return(g, src->n_outputs, outs);
    if (g->failed) {
        if (err)
            *err = g->err;
        free(map);
        free(outs);
        nf_graph_free(g);
        return NULL;
    }
    free(map);
    free(outs);
    return g;
oom:
    free(map);
    free(outs);
    nf_graph_free(g);
    nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory copying a graph");
    return NULL;
}
