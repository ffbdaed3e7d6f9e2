/* When a kernel may store an output over memory it reads (docs/ROPE.md).
 *
 * The runtime has found that a graph output's tensor is exactly the memory
 * that `through` (a parameter, or a chain of views of one) reads. Writing the
 * output there during the kernel is safe when every read of that parameter
 * in the kernel is an element of `through` at the index being written, or
 * its rope partner, and no later kernel reads the parameter: the kernel then
 * computes a whole group (one element, or a rope pair) before storing any of
 * it, and no thread reads what another thread writes. Anything else (a
 * broadcast read, another view of the parameter, a later reader) is left to
 * the caller, which stages the output through a temporary. */
#include "fuse/fuse.h"

#include <stdlib.h>

enum { INDEPENDENT = 0, LOCAL = 1, BAD = 2 }; /* how a value reads the parameter */

typedef struct walk {
    const nf_fused_kernel *k;
    const nf_value *param, *through;
    signed char *state;  /* by value id: -1 unknown, else the result */
    signed char *group;  /* by value id: the grouping a LOCAL value needs */
    bool *in_kernel;     /* by value id: computed in this kernel */
} walk;

/* Two groupings at once: one element fits any pairing; two pairings do not mix. */
static bool combine(signed char *g, signed char other)
{
    if (other == NF_GROUP_ONE || *g == other)
        return true;
    if (*g == NF_GROUP_ONE) {
        *g = other;
        return true;
    }
    return false;
}

static int classify(walk *w, const nf_value *u, signed char *group);

/* An operand read at its consumer's own index (same shape), or not reading the parameter at all. */
static int operand_at_own_index(walk *w, const nf_value *consumer, const nf_value *a, signed char *group)
{
    signed char g = NF_GROUP_ONE;
    int r = classify(w, a, &g);
    if (r == LOCAL && (!nf_shape_equal(&a->shape, &consumer->shape) || !combine(group, g)))
        return BAD;
    return r;
}

static int classify_uncached(walk *w, const nf_value *u, signed char *group)
{
    if (u == w->through)
        return LOCAL;
    if (u == w->param)
        return BAD; /* read some other way than through `through` */
    if (nf_value_is_scalar(u) || !w->in_kernel[u->id])
        return INDEPENDENT; /* a literal, or another buffer */
    int worst = INDEPENDENT;
    switch (nf_op_kind_of(u->op)) {
    case NF_KIND_VIEW: /* other indices of its base: fine only if the base does not read the parameter */
        return classify(w, u->args[0], group) == INDEPENDENT ? INDEPENDENT : BAD;
    case NF_KIND_UNARY:
    case NF_KIND_BINARY:
    case NF_KIND_CAST:
        for (int i = 0; i < u->nargs; i++) {
            int r = operand_at_own_index(w, u, u->args[i], group);
            if (r > worst)
                worst = r;
        }
        return worst;
    case NF_KIND_ROPE: {
        signed char g = NF_GROUP_ONE;
        for (int i = 1; i < 3; i++) /* the cache row and the position must not be what is written */
            if (classify(w, u->args[i], &g) != INDEPENDENT)
                return BAD;
        int r = operand_at_own_index(w, u, u->args[0], group);
        if (r == LOCAL && !combine(group, u->attr.rope_interleaved ? NF_GROUP_INTERLEAVED : NF_GROUP_NEOX))
            return BAD;
        return r;
    }
    default:
        return BAD;
    }
}

static int classify(walk *w, const nf_value *u, signed char *group)
{
    if (w->state[u->id] < 0) {
        signed char g = NF_GROUP_ONE;
        w->state[u->id] = BAD; /* graphs are acyclic; this only guards the memo */
        w->state[u->id] = (signed char)classify_uncached(w, u, &g);
        w->group[u->id] = g;
    }
    if (w->state[u->id] == LOCAL && !combine(group, w->group[u->id]))
        return BAD;
    return w->state[u->id];
}

static bool kernel_reads(const nf_fused_kernel *k, const nf_value *v)
{
    for (int i = 0; i < k->n_inputs; i++)
        if (k->inputs[i] == v)
            return true;
    if (k->kind == NF_KERNEL_GEMM)
        return k->a.source == v || k->b.source == v;
    return false;
}

const nf_value *nf_view_root(const nf_value *v)
{
    while (nf_op_kind_of(v->op) == NF_KIND_VIEW)
        v = v->args[0];
    return v;
}

bool nf_plan_in_place(const nf_plan *p, int index, const nf_value *through, nf_group_kind *group)
{
    const nf_fused_kernel *k = &p->kernels[index];
    const nf_value *param = nf_view_root(through);
    if (k->kind != NF_KERNEL_ELEMENTWISE || param->op != NF_OP_PARAM || k->n_outputs == 0 ||
        k->outputs[0]->shape.rank == 0 || !nf_shape_equal(&through->shape, &k->outputs[0]->shape))
        return false;
    for (int i = index + 1; i < p->n_kernels; i++)
        if (kernel_reads(&p->kernels[i], param))
            return false; /* it would read what this kernel wrote */
    int n = p->graph->n_values;
    walk w = {.k = k, .param = param, .through = through};
    w.state = malloc((size_t)n);
    w.group = malloc((size_t)n);
    w.in_kernel = calloc((size_t)n, sizeof *w.in_kernel);
    bool ok = w.state && w.group && w.in_kernel;
    if (ok) {
        for (int i = 0; i < n; i++)
            w.state[i] = -1;
        for (int i = 0; i < k->n_ops; i++)
            w.in_kernel[k->ops[i]->id] = true;
        if (through != param && !w.in_kernel[through->id])
            ok = false; /* the kernel does not read `through` */
    }
    signed char g = NF_GROUP_ONE;
    for (int i = 0; ok && i < k->n_outputs; i++) {
        const nf_value *o = k->outputs[i];
        int r = classify(&w, o, &g);
        ok = r != BAD && (r == INDEPENDENT || nf_shape_equal(&o->shape, &through->shape));
    }
    if (ok && g != NF_GROUP_ONE) {
        /* pairs lie along the last dimension, which must be the rope's: even */
        const nf_shape *s = &k->outputs[0]->shape;
        ok = s->sym[s->rank - 1] < 0 && s->size[s->rank - 1] % 2 == 0;
    }
    free(w.state);
    free(w.group);
    free(w.in_kernel);
    if (ok)
        *group = (nf_group_kind)g;
    return ok;
}
