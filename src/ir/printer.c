/* The .nf printer: a graph as text that parses back to the same graph, with
 * every statement's inferred type written as a `: type` assertion.
 *
 * Graphs from the C builder may hold unnamed values, repeated names, or
 * graph and symbol names the text cannot spell; the printer picks fresh,
 * distinct names for those so that its output always re-parses. */
#include "ir/ir.h"
#include "ir/lexer.h"
#include "ir/name_table.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct strbuf {
    char *data;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_append(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_append(b, s, strlen(s)); }

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) /* only short items are printed this way */
        b->oom = true;
    else
        sb_append(b, buf, (size_t)n);
}

/* ---- literals -------------------------------------------------------------- */

/* Rewrites the locale's decimal point (if not '.') to '.'. */
static void to_c_decimal_point(char *s)
{
    const char *point = localeconv()->decimal_point;
    if (!point || !point[0] || strcmp(point, ".") == 0)
        return;
    char *at = strstr(s, point);
    if (!at)
        return;
    size_t plen = strlen(point);
    *at = '.';
    memmove(at + 1, at + plen, strlen(at + plen) + 1);
}

/* The shortest of %.15g/%.16g/%.17g that reads back to the same bits, always
 * spelled as a float literal (2.0, not 2). */
static void format_float(double d, char *buf, size_t n)
{
    if (isnan(d)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, n, d > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        to_c_decimal_point(buf);
        double back;
        if (nf_parse_float(buf, strlen(buf), &back) && memcmp(&back, &d, sizeof d) == 0)
            break;
    }
    if (!strpbrk(buf, ".e")) {
        size_t len = strlen(buf);
        if (len + 3 <= n)
            memcpy(buf + len, ".0", 3);
    }
}

/* ---- names ----------------------------------------------------------------- */

typedef struct printer {
    const nf_graph *g;
    strbuf out;
    nf_arena arena;     /* names made here, freed at the end */
    nf_name_table used; /* value names taken */
    const char **value_names; /* by value id; NULL for literals */
    const char **sym_names;   /* by symbol id */
} printer;

static bool is_value_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* A NAME token ([A-Za-z_][A-Za-z0-9_]*) made from s: other characters become
 * '_', and a leading digit gets a '_' in front. */
static char *sanitize_name(printer *pr, const char *s)
{
    if (!s || !*s)
        s = "_";
    size_t len = strlen(s);
    bool lead = s[0] >= '0' && s[0] <= '9';
    char *out = nf_arena_alloc(&pr->arena, len + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    if (lead)
        out[o++] = '_';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out[o++] = ok ? (char)c : '_';
    }
    out[o] = '\0';
    return out;
}

/* base, or base_1, base_2, ... : the first not in table; inserted into it. */
static const char *fresh_name(printer *pr, nf_name_table *table, const char *base)
{
    size_t blen = strlen(base);
    if (!nf_name_table_get(table, base, blen)) {
        char *c = nf_arena_strndup(&pr->arena, base, blen);
        if (!c || !nf_name_table_put(table, c, blen, c))
            return NULL;
        return c;
    }
    char *c = nf_arena_alloc(&pr->arena, blen + 24);
    if (!c)
        return NULL;
    for (uint64_t k = 1;; k++) {
        int n = snprintf(c, blen + 24, "%s_%" PRIu64, base, k);
        if (!nf_name_table_get(table, c, (size_t)n))
            return nf_name_table_put(table, c, (size_t)n, c) ? c : NULL;
    }
}

static bool choose_value_names(printer *pr)
{
    const nf_graph *g = pr->g;
    pr->value_names = calloc((size_t)g->n_values + 1, sizeof *pr->value_names);
    if (!pr->value_names)
        return false;
    /* Names the graph already has keep them, first come first served. */
    for (int i = 0; i < g->n_values; i++) {
        const nf_value *v = g->values[i];
        if (nf_value_is_scalar(v) || !is_value_name(v->name))
            continue;
        size_t len = strlen(v->name);
        if (nf_name_table_get(&pr->used, v->name, len))
            continue;
        if (!nf_name_table_put(&pr->used, v->name, len, (void *)v->name))
            return false;
        pr->value_names[i] = v->name;
    }
    for (int i = 0; i < g->n_values; i++) {
        const nf_value *v = g->values[i];
        if (nf_value_is_scalar(v) || pr->value_names[i])
            continue;
        char base[32];
        if (is_value_name(v->name))
            pr->value_names[i] = fresh_name(pr, &pr->used, v->name);
        else {
            snprintf(base, sizeof base, "v%d", i);
            pr->value_names[i] = fresh_name(pr, &pr->used, base);
        }
        if (!pr->value_names[i])
            return false;
    }
    return true;
}

static bool choose_symbol_names(printer *pr)
{
    const nf_graph *g = pr->g;
    nf_name_table taken = {0};
    bool ok = true;
    pr->sym_names = calloc((size_t)g->n_syms + 1, sizeof *pr->sym_names);
    if (!pr->sym_names)
        return false;
    for (int i = 0; i < g->n_syms && ok; i++) {
        char *base = sanitize_name(pr, g->syms[i]);
        ok = base && (pr->sym_names[i] = fresh_name(pr, &taken, base)) != NULL;
    }
    nf_name_table_free(&taken);
    return ok;
}

/* ---- statements ------------------------------------------------------------ */

static void print_type(printer *pr, nf_dtype t, const nf_shape *s)
{
    sb_puts(&pr->out, nf_dtype_name(t));
    sb_puts(&pr->out, "[");
    for (int d = 0; d < s->rank; d++) {
        if (d)
            sb_puts(&pr->out, ", ");
        if (s->sym[d] >= 0 && s->sym[d] < pr->g->n_syms)
            sb_puts(&pr->out, pr->sym_names[s->sym[d]]);
        else
            sb_printf(&pr->out, "%" PRId64, s->size[d]);
    }
    sb_puts(&pr->out, "]");
}

static void print_operand(printer *pr, const nf_value *a)
{
    if (nf_value_is_scalar(a)) {
        if (a->dtype == NF_I64) {
            sb_printf(&pr->out, "%" PRId64, a->attr.scalar_int);
        } else {
            char buf[64];
            format_float(a->attr.scalar, buf, sizeof buf);
            sb_puts(&pr->out, buf);
        }
        return;
    }
    sb_puts(&pr->out, "%");
    sb_puts(&pr->out, pr->value_names[a->id]);
}

/* The arguments after the operands: dims, dtypes, keywords. */
static void print_attrs(printer *pr, const nf_value *v)
{
    const nf_attrs *at = &v->attr;
    strbuf *o = &pr->out;
    switch (v->op) {
    case NF_OP_GELU:
        if (at->approx_tanh)
            sb_puts(o, ", approximate=tanh");
        break;
    case NF_OP_CAST:
        sb_printf(o, ", %s", nf_dtype_name(at->dtype));
        break;
    case NF_OP_UNSQUEEZE:
    case NF_OP_SQUEEZE:
        sb_printf(o, ", %" PRId64, at->dim0);
        break;
    case NF_OP_TRANSPOSE:
        sb_printf(o, ", %" PRId64 ", %" PRId64, at->dim0, at->dim1);
        break;
    case NF_OP_SLICE:
        sb_printf(o, ", %" PRId64 ", %" PRId64 ", %" PRId64, at->dim0, at->start, at->end);
        if (at->step != 1)
            sb_printf(o, ", %" PRId64, at->step);
        break;
    case NF_OP_ROPE:
        sb_puts(o, at->rope_interleaved ? ", style=interleaved" : ", style=neox");
        break;
    case NF_OP_LINEAR:
    case NF_OP_MATMUL:
        if (at->trans_b)
            sb_puts(o, ", trans_b=true");
        if (v->nargs > 0 && at->dtype != NF_DTYPE_NONE && at->dtype != v->args[0]->dtype)
            sb_printf(o, ", out_dtype=%s", nf_dtype_name(at->dtype));
        break;
    default:
        break;
    }
}

static void print_statement(printer *pr, const nf_value *v)
{
    strbuf *o = &pr->out;
    sb_puts(o, "  %");
    sb_puts(o, pr->value_names[v->id]);
    sb_puts(o, " = ");
    sb_puts(o, nf_op_name(v->op));
    sb_puts(o, "(");
    for (int i = 0; i < v->nargs; i++) {
        if (i)
            sb_puts(o, ", ");
        print_operand(pr, v->args[i]);
    }
    print_attrs(pr, v);
    sb_puts(o, ") : ");
    print_type(pr, v->dtype, &v->shape);
    sb_puts(o, "\n");
}

static void print_graph(printer *pr)
{
    const nf_graph *g = pr->g;
    strbuf *o = &pr->out;
    char *gname = sanitize_name(pr, g->name);
    if (!gname) {
        o->oom = true;
        return;
    }
    sb_puts(o, "graph ");
    sb_puts(o, gname);
    sb_puts(o, "(");
    for (int i = 0; i < g->n_params; i++) {
        const nf_value *p = g->params[i];
        sb_puts(o, i ? ", %" : "%");
        sb_puts(o, pr->value_names[p->id]);
        sb_puts(o, ": ");
        print_type(pr, p->dtype, &p->shape);
    }
    sb_puts(o, ") {\n");
    for (int i = 0; i < g->n_values; i++) {
        const nf_value *v = g->values[i];
        if (v->op != NF_OP_PARAM && !nf_value_is_scalar(v))
            print_statement(pr, v);
    }
    sb_puts(o, "  return");
    for (int i = 0; i < g->n_outputs; i++) {
        sb_puts(o, i ? ", " : " ");
        print_operand(pr, g->outputs[i]);
    }
    sb_puts(o, "\n}\n");
}

char *nf_graph_print(const nf_graph *g)
{
    if (!g)
        return NULL;
    printer pr = {.g = g};
    bool ok = choose_value_names(&pr) && choose_symbol_names(&pr);
    if (ok)
        print_graph(&pr);
    ok = ok && !pr.out.oom;
    nf_name_table_free(&pr.used);
    nf_arena_free(&pr.arena);
    free(pr.value_names);
    free(pr.sym_names);
    if (!ok) {
        free(pr.out.data);
        return NULL;
    }
    return pr.out.data;
}
