/* Helpers shared by the text-format tests (test_parser.c, test_printer.c):
 * reading sample files, parsing with located failures, comparing graphs and
 * the printer's round-trip check. */
#ifndef NF_PARSER_TEST_UTIL_H
#define NF_PARSER_TEST_UTIL_H

#include "ir/ir.h"

#include <dirent.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define GRAPHS_DIR NF_SOURCE_ROOT "/tests/graphs"

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static inline nf_graph *parse_ok_named(const char *text, size_t len, const char *name)
{
    nf_error err;
    nf_graph *g = nf_graph_parse(text, len, "test.nf", name, &err);
    if (!g)
        fail_msg("parse failed at %d:%d: %s\n--- text ---\n%.2000s", err.line, err.col, err.message, text);
    return g;
}

static inline nf_graph *parse_ok(const char *text) { return parse_ok_named(text, strlen(text), NULL); }

static inline void expect_error_len(const char *text, size_t len, nf_status status, int line, int col, const char *substr)
{
    nf_error err;
    nf_graph *g = nf_graph_parse(text, len, "test.nf", NULL, &err);
    if (g) {
        nf_graph_free(g);
        fail_msg("expected an error (%d:%d %s), but this parsed:\n%.500s", line, col, substr, text);
    }
    if (err.status != status || err.line != line || err.col != col || !strstr(err.message, substr))
        fail_msg("expected %s at %d:%d containing \"%s\"\n     got %s at %d:%d: \"%s\"\n--- text ---\n%.500s",
                 nf_status_name(status), line, col, substr, nf_status_name(err.status), err.line, err.col,
                 err.message, text);
    /* the CLI adds "FILE:LINE:COL: error:"; the message must not */
    assert_null(strstr(err.message, "test.nf:"));
    assert_true(strlen(err.message) < 400);
}

static inline void expect_error(const char *text, nf_status status, int line, int col, const char *substr)
{
    expect_error_len(text, strlen(text), status, line, col, substr);
}

static inline void type_is(const nf_graph *g, const nf_value *v, const char *want)
{
    char buf[256];
    nf_format_type(g, v->dtype, &v->shape, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("inferred %s, expected %s", buf, want);
}

/* Index of v among the graph's non-literal values (-1 for a literal). */
static inline int tensor_index(const nf_graph *g, const nf_value *v)
{
    if (nf_value_is_scalar(v))
        return -1;
    int k = 0;
    for (int i = 0; i < v->id; i++)
        k += !nf_value_is_scalar(g->values[i]);
    return k;
}

static inline const char *sym_name(const nf_graph *g, int s) { return s >= 0 ? g->syms[s] : NULL; }

/* Symbols are compared by name when names, else by index. */
static inline bool same_shape(const nf_graph *ga, const nf_shape *a, const nf_graph *gb, const nf_shape *b, bool names)
{
    if (a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++) {
        if ((a->sym[d] >= 0) != (b->sym[d] >= 0))
            return false;
        if (a->sym[d] >= 0 ? (names ? strcmp(sym_name(ga, a->sym[d]), sym_name(gb, b->sym[d])) != 0
                                    : a->sym[d] != b->sym[d])
                           : a->size[d] != b->size[d])
            return false;
    }
    return true;
}

static inline bool same_literal(const nf_value *a, const nf_value *b)
{
    if (a->dtype != b->dtype)
        return false;
    if (a->dtype == NF_I64)
        return a->attr.scalar_int == b->attr.scalar_int;
    if (isnan(a->attr.scalar))
        return isnan(b->attr.scalar);
    return memcmp(&a->attr.scalar, &b->attr.scalar, sizeof(double)) == 0;
}

/* The attributes that mean something for op. */
static inline bool attrs_equal(nf_op op, const nf_attrs *p, const nf_attrs *q)
{
    switch (nf_op_kind_of(op)) {
    case NF_KIND_UNARY: return p->approx_tanh == q->approx_tanh;
    case NF_KIND_CAST: return p->dtype == q->dtype;
    case NF_KIND_MATMUL: return p->dtype == q->dtype && p->trans_b == q->trans_b;
    case NF_KIND_ROPE: return p->rope_interleaved == q->rope_interleaved;
    case NF_KIND_VIEW:
        if (op == NF_OP_SLICE)
            return p->dim0 == q->dim0 && p->start == q->start && p->end == q->end && p->step == q->step &&
                   p->full_slice == q->full_slice;
        return p->dim0 == q->dim0 && (op != NF_OP_TRANSPOSE || p->dim1 == q->dim1);
    default: return true;
    }
}

/* Structural equality of two graphs, literals compared bit for bit; fails
 * with the first difference. Names are compared only when check_names. */
static inline void assert_same_graph(const nf_graph *a, const nf_graph *b, bool check_names)
{
    const nf_value *ta[4096], *tb[4096];
    int na = 0, nb = 0;
    for (int i = 0; i < a->n_values && na < 4096; i++)
        if (!nf_value_is_scalar(a->values[i]))
            ta[na++] = a->values[i];
    for (int i = 0; i < b->n_values && nb < 4096; i++)
        if (!nf_value_is_scalar(b->values[i]))
            tb[nb++] = b->values[i];
    if (na != nb)
        fail_msg("graphs differ: %d vs %d values", na, nb);
    assert_int_equal(a->n_params, b->n_params);
    assert_int_equal(a->n_outputs, b->n_outputs);
    for (int i = 0; i < na; i++) {
        const nf_value *x = ta[i], *y = tb[i];
        const nf_attrs *p = &x->attr, *q = &y->attr;
        bool same = x->op == y->op && x->dtype == y->dtype && same_shape(a, &x->shape, b, &y->shape, check_names) &&
                    x->nargs == y->nargs && attrs_equal(x->op, p, q);
        for (int k = 0; same && k < x->nargs; k++) {
            const nf_value *xa = x->args[k], *ya = y->args[k];
            same = nf_value_is_scalar(xa) == nf_value_is_scalar(ya) &&
                   (nf_value_is_scalar(xa) ? same_literal(xa, ya) : tensor_index(a, xa) == tensor_index(b, ya));
        }
        if (same && check_names)
            same = (x->name && y->name) ? strcmp(x->name, y->name) == 0 : x->name == y->name;
        if (!same)
            fail_msg("graphs differ at value %d (%s %s vs %s %s)", i, nf_op_name(x->op), x->name ? x->name : "?",
                     nf_op_name(y->op), y->name ? y->name : "?");
    }
    for (int i = 0; i < a->n_outputs; i++)
        assert_int_equal(tensor_index(a, a->outputs[i]), tensor_index(b, b->outputs[i]));
}

/* print(g) re-parses to the same graph, and printing that gives the same text. */
static inline char *check_print_roundtrip(const nf_graph *g, bool check_names)
{
    char *s1 = nf_graph_print(g);
    assert_non_null(s1);
    nf_graph *g2 = parse_ok(s1);
    assert_same_graph(g, g2, check_names);
    char *s2 = nf_graph_print(g2);
    assert_non_null(s2);
    if (strcmp(s1, s2) != 0)
        fail_msg("printing is not stable:\n--- first ---\n%s--- second ---\n%s", s1, s2);
    free(s2);
    nf_graph_free(g2);
    return s1;
}

static inline char *check_text_roundtrip(const char *text, size_t len, const char *name)
{
    nf_graph *g = parse_ok_named(text, len, name);
    char *s = check_print_roundtrip(g, true);
    nf_graph_free(g);
    return s;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static inline void tb_add(text_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

#endif
