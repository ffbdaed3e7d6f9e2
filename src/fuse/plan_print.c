/* `nsafuse dump --emit fused`: the plan as text, one block per kernel. */
#include "fuse/fuse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *data;
    size_t len, cap;
    bool failed;
} sbuf;

static void put(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->data ? s->data + s->len : NULL, s->data ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->failed = true;
            return;
        }
        if (s->data && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = (s->cap ? s->cap * 2 : 1024) + (size_t)n;
        char *p = realloc(s->data, cap);
        if (!p) {
            s->failed = true;
            return;
        }
        s->data = p;
        s->cap = cap;
    }
}

static void put_name(sbuf *s, const nf_value *v)
{
    if (v->name)
        put(s, "%%%s", v->name);
    else
        put(s, "%%v%d", v->id);
}

static void put_typed(sbuf *s, const nf_graph *g, const nf_value *v)
{
    char type[512];
    nf_format_type(g, v->dtype, &v->shape, type, sizeof type);
    put_name(s, v);
    put(s, " %s", type);
}

static void put_list(sbuf *s, const nf_graph *g, const char *label, const nf_value *const *vals, int n)
{
    put(s, "  %-7s", label);
    for (int i = 0; i < n; i++) {
        put(s, "%s", i ? ", " : "");
        put_typed(s, g, vals[i]);
    }
    put(s, "\n");
}

char *nf_plan_print(const nf_plan *p)
{
    sbuf s = {0};
    const nf_graph *g = p->graph;
    put(&s, "# graph %s: %d kernel%s%s%s\n", g->name, p->n_kernels, p->n_kernels == 1 ? "" : "s",
        p->unfused ? ", unfused" : "", p->keep_fp32 ? ", keep_fp32" : "");
    for (int i = 0; i < p->n_kernels; i++) {
        const nf_fused_kernel *k = &p->kernels[i];
        if (k->kind == NF_KERNEL_GEMM)
            put(&s, "kernel %d: gemm (%s) + epilogue of %d op%s\n", i, nf_op_name(k->gemm->op),
                k->n_ops - 1, k->n_ops == 2 ? "" : "s");
        else
            put(&s, "kernel %d: elementwise, %d op%s\n", i, k->n_ops, k->n_ops == 1 ? "" : "s");
        put_list(&s, g, "reads", k->inputs, k->n_inputs);
        put(&s, "  ops    ");
        for (int j = 0; j < k->n_ops; j++) {
            const nf_value *v = k->ops[j];
            put(&s, "%s", j ? ", " : "");
            put_name(&s, v);
            put(&s, " = %s", nf_op_name(v->op));
            bool narrow = v->dtype == NF_BF16 || v->dtype == NF_F16 || v->dtype == NF_F8E4M3;
            if (narrow && nf_op_kind_of(v->op) != NF_KIND_VIEW && nf_plan_rounds(p, k, v))
                put(&s, " (rounded to %s)", nf_dtype_name(v->dtype));
        }
        put(&s, "\n");
        put_list(&s, g, "writes", k->outputs, k->n_outputs);
    }
    if (s.failed) {
        free(s.data);
        return NULL;
    }
    return s.data;
}
