/* The fusion pass. Rules (docs/FUSION.md):
 * 1. A value lives in memory when it is a graph output, a GEMM result, the
 *    source a GEMM operand is loaded from, or (unfused) any non-view op.
 * 2. Each such value produced by an elementwise op or view is a root; a root
 *    joins the most recent kernel of the same iteration shape when everything
 *    it reads from memory is ready before that kernel, else starts a kernel.
 *    A kernel recomputes whatever its roots need that is not in memory.
 * 3. A GEMM whose result is read by exactly one elementwise kernel, element
 *    for element (only elementwise ops and size-1 views in between), takes
 *    that kernel as its epilogue: one kernel, and the GEMM result leaves
 *    memory unless the graph returns it.
 * 4. GEMM operands are loaded through views and at most one cast. */
#include "fuse/fuse.h"

#include <stdlib.h>
#include <string.h>

typedef struct list {
    const nf_value **items;
    int n, cap;
} list;

static bool list_push(list *l, const nf_value *v)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        const nf_value **p = realloc(l->items, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = v;
    return true;
}

static int by_id(const void *a, const void *b)
{
    const nf_value *x = *(const nf_value *const *)a, *y = *(const nf_value *const *)b;
    return (x->id > y->id) - (x->id < y->id);
}

typedef struct kernel_build {
    nf_kernel_kind kind;
    list inputs, outputs, ops;
    const nf_value *gemm;
    nf_gemm_operand a, b;
    bool dead; /* merged into a GEMM kernel */
} kernel_build;

typedef struct fuser {
    const nf_graph *g;
    nf_plan_options opt;
    bool *in_memory;   /* by value id */
    bool *is_output;
    int *kernel_of;    /* by value id: the kernel storing it, -1 */
    int *stamp;        /* traversal marks */
    int cur_stamp;
    kernel_build *kernels;
    int n_kernels, cap_kernels;
    list stack, t_ops, t_inputs;
} fuser;

static bool is_gemm(const nf_value *v) { return nf_op_kind_of(v->op) == NF_KIND_MATMUL; }
static bool is_view(const nf_value *v) { return nf_op_kind_of(v->op) == NF_KIND_VIEW; }

/* The value a GEMM operand is loaded from: through views, one cast, views. */
static const nf_value *operand_source(const fuser *f, const nf_value *v)
{
    while (is_view(v))
        v = v->args[0];
    if (v->op == NF_OP_CAST && !f->opt.unfused) {
        v = v->args[0];
        while (is_view(v))
            v = v->args[0];
    }
    return v;
}

static void mark_memory(fuser *f)
{
    const nf_graph *g = f->g;
    for (int i = 0; i < g->n_outputs; i++) {
        f->in_memory[g->outputs[i]->id] = true;
        f->is_output[g->outputs[i]->id] = true;
    }
    for (int i = 0; i < g->n_values; i++) {
        const nf_value *v = g->values[i];
        if (v->op == NF_OP_PARAM)
            f->in_memory[v->id] = true;
        if (is_gemm(v)) {
            f->in_memory[v->id] = true;
            f->in_memory[operand_source(f, v->args[0])->id] = true;
            f->in_memory[operand_source(f, v->args[1])->id] = true;
        }
        if (f->opt.unfused && nf_op_is_elementwise(v->op))
            f->in_memory[v->id] = true;
    }
}

static kernel_build *new_kernel(fuser *f, nf_kernel_kind kind)
{
    if (f->n_kernels == f->cap_kernels) {
        int cap = f->cap_kernels ? f->cap_kernels * 2 : 8;
        kernel_build *p = realloc(f->kernels, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        f->kernels = p;
        f->cap_kernels = cap;
    }
    kernel_build *k = &f->kernels[f->n_kernels++];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    return k;
}

/* Is v read from memory by kernel kk (rather than computed there)? */
static bool read_from_memory(const fuser *f, const nf_value *v, const nf_value *root, int kk)
{
    if (v == root)
        return false;
    if (v->op == NF_OP_PARAM || is_gemm(v))
        return true;
    return f->in_memory[v->id] && f->kernel_of[v->id] != kk;
}

/* Collects what computing root in kernel kk takes: ops and memory inputs. */
static bool traverse(fuser *f, const nf_value *root, int kk)
{
    f->cur_stamp++;
    f->t_ops.n = f->t_inputs.n = f->stack.n = 0;
    if (!list_push(&f->stack, root))
        return false;
    while (f->stack.n) {
        const nf_value *v = f->stack.items[--f->stack.n];
        if (v->op == NF_OP_SCALAR || f->stamp[v->id] == f->cur_stamp)
            continue;
        f->stamp[v->id] = f->cur_stamp;
        if (read_from_memory(f, v, root, kk) || (v == root && v->op == NF_OP_PARAM)) {
            if (!list_push(&f->t_inputs, v))
                return false;
            continue;
        }
        if (!list_push(&f->t_ops, v))
            return false;
        for (int i = 0; i < v->nargs; i++)
            if (!list_push(&f->stack, v->args[i]))
                return false;
    }
    return true;
}

static bool list_has(const list *l, const nf_value *v)
{
    for (int i = 0; i < l->n; i++)
        if (l->items[i] == v)
            return true;
    return false;
}

/* Every memory input is a param or stored by a kernel before kk. */
static bool inputs_ready_before(const fuser *f, int kk)
{
    for (int i = 0; i < f->t_inputs.n; i++) {
        const nf_value *v = f->t_inputs.items[i];
        if (v->op != NF_OP_PARAM && f->kernel_of[v->id] >= kk)
            return false;
    }
    return true;
}

static bool commit(fuser *f, kernel_build *k, const nf_value *root)
{
    for (int i = 0; i < f->t_ops.n; i++)
        if (!list_has(&k->ops, f->t_ops.items[i]) && !list_push(&k->ops, f->t_ops.items[i]))
            return false;
    for (int i = 0; i < f->t_inputs.n; i++)
        if (!list_has(&k->inputs, f->t_inputs.items[i]) && !list_push(&k->inputs, f->t_inputs.items[i]))
            return false;
    return list_push(&k->outputs, root);
}

/* The most recent live elementwise kernel whose outputs have v's shape. */
static int candidate_kernel(const fuser *f, const nf_value *v)
{
    if (f->opt.unfused)
        return -1;
    for (int kk = f->n_kernels - 1; kk >= 0; kk--) {
        const kernel_build *k = &f->kernels[kk];
        if (k->kind == NF_KERNEL_ELEMENTWISE && nf_shape_equal(&k->outputs.items[0]->shape, &v->shape))
            return kk;
    }
    return -1;
}

static bool place_root(fuser *f, const nf_value *root)
{
    int kk = candidate_kernel(f, root);
    if (kk >= 0) {
        if (!traverse(f, root, kk))
            return false;
        if (inputs_ready_before(f, kk)) {
            f->kernel_of[root->id] = kk;
            return commit(f, &f->kernels[kk], root);
        }
    }
    kk = f->n_kernels;
    f->kernel_of[root->id] = kk; /* before traversing, so the root counts as computed here */
    if (!traverse(f, root, kk))
        return false;
    kernel_build *k = new_kernel(f, NF_KERNEL_ELEMENTWISE);
    return k && commit(f, k, root);
}

static bool place_gemm(fuser *f, const nf_value *v)
{
    kernel_build *k = new_kernel(f, NF_KERNEL_GEMM);
    if (!k)
        return false;
    f->kernel_of[v->id] = f->n_kernels - 1;
    k->gemm = v;
    k->a = (nf_gemm_operand){operand_source(f, v->args[0]), v->args[0]};
    k->b = (nf_gemm_operand){operand_source(f, v->args[1]), v->args[1]};
    /* the operand chains (views, cast) are computed in the loads */
    for (int i = 0; i < 2; i++) {
        const nf_value *src = i ? k->b.source : k->a.source;
        for (const nf_value *u = v->args[i]; u != src; u = u->args[0])
            if (!list_has(&k->ops, u) && !list_push(&k->ops, u))
                return false;
        if (!list_has(&k->inputs, src) && !list_push(&k->inputs, src))
            return false;
    }
    return list_push(&k->ops, v) && list_push(&k->outputs, v);
}

/* Shape with size-1 dims dropped equals? (flat indices then coincide) */
static bool same_without_ones(const nf_shape *a, const nf_shape *b)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < a->rank && a->sym[i] < 0 && a->size[i] == 1)
            i++;
        while (j < b->rank && b->sym[j] < 0 && b->size[j] == 1)
            j++;
        if (i == a->rank || j == b->rank)
            return i == a->rank && j == b->rank;
        if (!nf_dim_equal(a, i, b, j))
            return false;
        i++, j++;
    }
}

/* Does kernel e read the GEMM result element for element? */
static bool epilogue_fits(const fuser *f, const kernel_build *e, const nf_value *gemm)
{
    for (int i = 0; i < e->outputs.n; i++)
        if (!same_without_ones(&e->outputs.items[i]->shape, &gemm->shape))
            return false;
    for (int i = 0; i < e->ops.n; i++) {
        const nf_value *v = e->ops.items[i];
        /* rope reads x at a partner element too, which a GEMM epilogue does not have */
        if (v->op == NF_OP_TRANSPOSE || v->op == NF_OP_SLICE || v->op == NF_OP_ROPE ||
            !same_without_ones(&v->shape, &gemm->shape)) {
            /* allowed only when nothing of the GEMM flows through it */
            for (int a = 0; a < v->nargs; a++)
                if (v->args[a] == gemm || list_has(&e->ops, v->args[a]))
                    return false;
        }
    }
    (void)f;
    return true;
}

static void merge_epilogues(fuser *f)
{
    for (int kg = 0; kg < f->n_kernels; kg++) {
        kernel_build *k = &f->kernels[kg];
        if (k->kind != NF_KERNEL_GEMM || k->outputs.n != 1)
            continue;
        int reader = -1, readers = 0;
        for (int ke = 0; ke < f->n_kernels; ke++) {
            if (ke != kg && !f->kernels[ke].dead && list_has(&f->kernels[ke].inputs, k->gemm)) {
                reader = ke;
                readers++;
            }
        }
        if (readers != 1)
            continue;
        kernel_build *e = &f->kernels[reader];
        if (e->kind != NF_KERNEL_ELEMENTWISE || !epilogue_fits(f, e, k->gemm))
            continue;
        bool ready = true; /* e's other inputs must exist before the GEMM kernel runs */
        for (int i = 0; i < e->inputs.n; i++) {
            const nf_value *in = e->inputs.items[i];
            if (in != k->gemm && in->op != NF_OP_PARAM && f->kernel_of[in->id] >= kg)
                ready = false;
        }
        if (!ready)
            continue;
        if (!f->is_output[k->gemm->id]) {
            k->outputs.n = 0;
            f->in_memory[k->gemm->id] = false;
        }
        for (int i = 0; i < e->ops.n; i++)
            if (!list_has(&k->ops, e->ops.items[i]))
                list_push(&k->ops, e->ops.items[i]);
        for (int i = 0; i < e->inputs.n; i++)
            if (e->inputs.items[i] != k->gemm && !list_has(&k->inputs, e->inputs.items[i]))
                list_push(&k->inputs, e->inputs.items[i]);
        for (int i = 0; i < e->outputs.n; i++) {
            list_push(&k->outputs, e->outputs.items[i]);
            f->kernel_of[e->outputs.items[i]->id] = kg;
        }
        e->dead = true;
    }
}

static void free_fuser(fuser *f)
{
    for (int i = 0; i < f->n_kernels; i++) {
        free(f->kernels[i].inputs.items);
        free(f->kernels[i].outputs.items);
        free(f->kernels[i].ops.items);
    }
    free(f->kernels);
    free(f->in_memory);
    free(f->is_output);
    free(f->kernel_of);
    free(f->stamp);
    free(f->stack.items);
    free(f->t_ops.items);
    free(f->t_inputs.items);
}

static const nf_value **copy_sorted(const list *l)
{
    const nf_value **p = malloc((size_t)(l->n ? l->n : 1) * sizeof *p);
    if (p && l->n) {
        memcpy(p, l->items, (size_t)l->n * sizeof *p);
        qsort(p, (size_t)l->n, sizeof *p, by_id);
    }
    return p;
}

static nf_status finish(fuser *f, nf_plan *p)
{
    int live = 0;
    for (int i = 0; i < f->n_kernels; i++)
        live += !f->kernels[i].dead;
    p->kernels = calloc((size_t)(live ? live : 1), sizeof *p->kernels);
    p->temporaries = malloc((size_t)(f->g->n_values ? f->g->n_values : 1) * sizeof *p->temporaries);
    if (!p->kernels || !p->temporaries)
        return NF_ERR_NOMEM;
    for (int i = 0; i < f->n_kernels; i++) {
        kernel_build *k = &f->kernels[i];
        if (k->dead)
            continue;
        nf_fused_kernel *out = &p->kernels[p->n_kernels++];
        out->kind = k->kind;
        out->gemm = k->gemm;
        out->a = k->a;
        out->b = k->b;
        out->inputs = copy_sorted(&k->inputs);
        out->outputs = copy_sorted(&k->outputs);
        out->ops = copy_sorted(&k->ops);
        out->n_inputs = k->inputs.n;
        out->n_outputs = k->outputs.n;
        out->n_ops = k->ops.n;
        if (!out->inputs || !out->outputs || !out->ops)
            return NF_ERR_NOMEM;
        for (int j = 0; j < out->n_outputs; j++)
            if (!f->is_output[out->outputs[j]->id])
                p->temporaries[p->n_temporaries++] = out->outputs[j];
    }
    return NF_OK;
}

nf_status nf_plan_build(const nf_graph *g, const nf_plan_options *o, nf_plan **out, nf_error *err)
{
    *out = NULL;
    if (!g || g->failed || g->n_outputs == 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "cannot plan an incomplete graph (it has no return)");
    fuser f = {.g = g};
    if (o)
        f.opt = *o;
    size_t n = (size_t)g->n_values;
    f.in_memory = calloc(n, sizeof *f.in_memory);
    f.is_output = calloc(n, sizeof *f.is_output);
    f.kernel_of = malloc(n * sizeof *f.kernel_of);
    f.stamp = calloc(n, sizeof *f.stamp);
    nf_plan *p = calloc(1, sizeof *p);
    nf_status st = NF_ERR_NOMEM;
    if (!f.in_memory || !f.is_output || !f.kernel_of || !f.stamp || !p)
        goto done;
    for (size_t i = 0; i < n; i++)
        f.kernel_of[i] = -1;
    mark_memory(&f);
    for (int i = 0; i < g->n_values; i++) {
        const nf_value *v = g->values[i];
        bool ok = true;
        if (is_gemm(v))
            ok = place_gemm(&f, v);
        else if (f.in_memory[v->id] && (v->op != NF_OP_PARAM || f.is_output[v->id]))
            ok = place_root(&f, v);
        if (!ok)
            goto done;
    }
    if (!f.opt.unfused)
        merge_epilogues(&f);
    p->graph = g;
    p->keep_fp32 = f.opt.keep_fp32;
    p->unfused = f.opt.unfused;
    st = finish(&f, p);
done:
    free_fuser(&f);
    if (st) {
        nf_plan_free(p);
        return nf_set_error(err, st, 0, 0, "out of memory while planning kernels");
    }
    *out = p;
    return NF_OK;
}

void nf_plan_free(nf_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_kernels; i++) {
        free(p->kernels[i].inputs);
        free(p->kernels[i].outputs);
        free(p->kernels[i].ops);
    }
    free(p->kernels);
    free(p->temporaries);
    free(p);
}

bool nf_plan_rounds(const nf_plan *p, const nf_fused_kernel *k, const nf_value *v)
{
    for (int i = 0; i < k->n_outputs; i++)
        if (k->outputs[i] == v)
            return true;
    return !p->keep_fp32;
}
