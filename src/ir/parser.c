/* The .nf parser: tokens to graphs through the builder (CONTRACT.md §1).
 *
 * The grammar is flat (no nesting), so the parser is a loop with one token
 * of lookahead; nothing the input controls sets a recursion depth. Names are
 * looked up in hash tables, so big graphs parse in linear time. Every graph
 * of a file is parsed and built, so an error anywhere in the file is
 * reported whichever graph is selected. */
#include "ir/ir.h"
#include "ir/lexer.h"
#include "ir/name_table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DTYPE_LIST "bf16, f16, f32, f64, i32, i64, bool, f8e4m3"

typedef struct written_dim {
    bool is_sym;
    int64_t size;
    const char *text; /* the symbol's name in the source */
    size_t len;
} written_dim;

typedef struct written_type {
    nf_dtype dtype;
    int rank;
    written_dim dims[NF_MAX_DIMS];
    int line, col;
} written_type;

typedef struct graph_name {
    const char *text;
    size_t len;
} graph_name;

typedef struct parser {
    nf_lexer lx;
    nf_token tok;  /* the current token */
    nf_token next; /* lookahead, valid when has_next */
    bool has_next;
    nf_error *err;
    bool failed;
    nf_graph *g;           /* the graph being built */
    nf_name_table values;  /* %name -> nf_value*, for g */
    nf_name_table syms;    /* symbol name -> index + 1, synced from g->syms */
    int synced_syms;
    nf_arg *args;
    int cap_args;
    nf_value **rets;
    int cap_rets;
    graph_name *names;     /* every graph of the file, in order */
    int n_names, cap_names;
    nf_name_table graph_names;
} parser;

static bool fail_at(parser *p, nf_status s, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static bool fail_at(parser *p, nf_status s, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    nf_set_verror(p->err, s, line, col, fmt, ap);
    va_end(ap);
    return false;
}

static bool out_of_memory(parser *p) { return fail_at(p, NF_ERR_NOMEM, 0, 0, "out of memory"); }

/* Copies the builder's first error (it carries its own position). */
static bool graph_failed(parser *p)
{
    if (!p->g->failed)
        return false;
    if (!p->failed) {
        p->failed = true;
        *p->err = p->g->err;
    }
    return true;
}

static bool advance(parser *p)
{
    if (p->has_next) {
        p->tok = p->next;
        p->has_next = false;
        return true;
    }
    if (!nf_lex(&p->lx, &p->tok, p->err)) {
        p->failed = true;
        return false;
    }
    return true;
}

static const nf_token *peek(parser *p)
{
    if (!p->has_next) {
        if (!nf_lex(&p->lx, &p->next, p->err)) {
            p->failed = true;
            return NULL;
        }
        p->has_next = true;
    }
    return &p->next;
}

static bool tok_is_word(const nf_token *t, const char *w)
{
    return t->kind == NF_TOK_NAME && t->len == strlen(w) && memcmp(t->text, w, t->len) == 0;
}

/* Fails with "expected WHAT, found <current token>" at the current token. */
static bool expected(parser *p, const char *what)
{
    char found[64];
    nf_tok_describe(&p->tok, found, sizeof found);
    return fail_at(p, NF_ERR_PARSE, p->tok.line, p->tok.col, "expected %s, found %s", what, found);
}

/* Consumes a token of kind k or fails with "expected WHAT". */
static bool expect(parser *p, nf_tok_kind k, const char *what)
{
    if (p->tok.kind != k)
        return expected(p, what);
    return advance(p);
}

/* Short quoted excerpt of source text for messages. */
static int shown_len(size_t len) { return len > 40 ? 40 : (int)len; }
static const char *ellipsis(size_t len) { return len > 40 ? "..." : ""; }

/* ---- types ----------------------------------------------------------------- */

static bool parse_dtype(parser *p, nf_dtype *out)
{
    if (p->tok.kind != NF_TOK_NAME)
        return expected(p, "a dtype (" DTYPE_LIST ")");
    if (!nf_dtype_from_name(p->tok.text, p->tok.len, out))
        return fail_at(p, NF_ERR_PARSE, p->tok.line, p->tok.col, "unknown dtype '%.*s%s' (expected " DTYPE_LIST ")",
                       shown_len(p->tok.len), p->tok.text, ellipsis(p->tok.len));
    return advance(p);
}

/* type := DTYPE '[' [dim {',' dim}] ']' */
static bool parse_type(parser *p, written_type *t)
{
    t->line = p->tok.line;
    t->col = p->tok.col;
    t->rank = 0;
    if (!parse_dtype(p, &t->dtype) || !expect(p, NF_TOK_LBRACKET, "'[' after the dtype"))
        return false;
    if (p->tok.kind == NF_TOK_RBRACKET)
        return advance(p);
    for (;;) {
        if (t->rank == NF_MAX_DIMS)
            return fail_at(p, NF_ERR_PARSE, p->tok.line, p->tok.col, "too many dimensions (at most %d)",
                           NF_MAX_DIMS);
        written_dim *d = &t->dims[t->rank];
        if (p->tok.kind == NF_TOK_NAME) {
            d->is_sym = true;
            d->text = p->tok.text;
            d->len = p->tok.len;
        } else if (p->tok.kind == NF_TOK_NUMBER && p->tok.is_int) {
            if (p->tok.int_value < 0)
                return fail_at(p, NF_ERR_PARSE, p->tok.line, p->tok.col, "negative dimension size %lld",
                               (long long)p->tok.int_value);
            d->is_sym = false;
            d->size = p->tok.int_value;
        } else {
            return expected(p, "a dimension (an integer size or a symbolic name)");
        }
        t->rank++;
        if (!advance(p))
            return false;
        if (p->tok.kind == NF_TOK_RBRACKET)
            return advance(p);
        if (!expect(p, NF_TOK_COMMA, "',' or ']' in the shape"))
            return false;
    }
}

static void format_written(const written_type *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s[", nf_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && used < n; i++) {
        const written_dim *d = &t->dims[i];
        const char *sep = i ? ", " : "";
        if (d->is_sym)
            used += (size_t)snprintf(buf + used, n - used, "%s%.*s%s", sep, shown_len(d->len), d->text,
                                     ellipsis(d->len));
        else
            used += (size_t)snprintf(buf + used, n - used, "%s%lld", sep, (long long)d->size);
    }
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* Index of a graph symbol by name, or -1. */
static int symbol_index(parser *p, const char *name, size_t len)
{
    for (; p->synced_syms < p->g->n_syms; p->synced_syms++) {
        const char *s = p->g->syms[p->synced_syms];
        if (!nf_name_table_put(&p->syms, s, strlen(s), (void *)(intptr_t)(p->synced_syms + 1))) {
            out_of_memory(p);
            return -1;
        }
    }
    return (int)(intptr_t)nf_name_table_get(&p->syms, name, len) - 1;
}

static bool type_matches(parser *p, const nf_value *v, const written_type *t)
{
    if (v->dtype != t->dtype || v->shape.rank != t->rank)
        return false;
    for (int i = 0; i < t->rank; i++) {
        const written_dim *d = &t->dims[i];
        if (d->is_sym) {
            int s = symbol_index(p, d->text, d->len);
            if (s < 0 || v->shape.sym[i] != s)
                return false;
        } else if (v->shape.sym[i] >= 0 || v->shape.size[i] != d->size) {
            return false;
        }
    }
    return true;
}

static bool check_assertion(parser *p, const nf_value *v, const written_type *t)
{
    if (type_matches(p, v, t))
        return true;
    if (p->failed)
        return false;
    char inferred[256], written[256];
    nf_format_type(p->g, v->dtype, &v->shape, inferred, sizeof inferred);
    format_written(t, written, sizeof written);
    return fail_at(p, NF_ERR_TYPE, t->line, t->col, "type assertion failed: inferred %s, written %s", inferred,
                   written);
}

/* ---- values and names ------------------------------------------------------ */

static bool check_new_name(parser *p, const nf_token *name)
{
    nf_value *old = nf_name_table_get(&p->values, name->text, name->len);
    if (!old)
        return true;
    if (old->op == NF_OP_PARAM)
        return fail_at(p, NF_ERR_TYPE, name->line, name->col, "duplicate name %%%.*s%s: it is a parameter",
                       shown_len(name->len), name->text, ellipsis(name->len));
    return fail_at(p, NF_ERR_TYPE, name->line, name->col, "duplicate name %%%.*s%s (first defined on line %d)",
                   shown_len(name->len), name->text, ellipsis(name->len), old->line);
}

static nf_value *lookup_value(parser *p, const nf_token *name)
{
    nf_value *v = nf_name_table_get(&p->values, name->text, name->len);
    if (!v)
        fail_at(p, NF_ERR_TYPE, name->line, name->col, "undefined value %%%.*s%s", shown_len(name->len), name->text,
                ellipsis(name->len));
    return v;
}

static char *copy_name(parser *p, const char *s, size_t len)
{
    char *c = nf_arena_strndup(&p->g->arena, s, len);
    if (!c)
        out_of_memory(p);
    return c;
}

/* ---- parameters ------------------------------------------------------------ */

/* param := VALUE ':' type */
static bool parse_param(parser *p)
{
    nf_token name = p->tok;
    if (name.kind != NF_TOK_VALUE)
        return expected(p, "a parameter (%name: type) or ')'");
    if (!check_new_name(p, &name) || !advance(p) || !expect(p, NF_TOK_COLON, "':' and a type after the parameter"))
        return false;
    written_type t;
    if (!parse_type(p, &t))
        return false;
    nf_dim dims[NF_MAX_DIMS];
    for (int i = 0; i < t.rank; i++) {
        dims[i].size = t.dims[i].size;
        dims[i].sym = NULL;
        if (t.dims[i].is_sym && !(dims[i].sym = copy_name(p, t.dims[i].text, t.dims[i].len)))
            return false;
    }
    char *cname = copy_name(p, name.text, name.len);
    if (!cname)
        return false;
    p->g->cur_line = name.line;
    p->g->cur_col = name.col;
    nf_value *v = nf_param(p->g, cname, t.dtype, t.rank, dims);
    if (graph_failed(p))
        return false;
    if (!v)
        return fail_at(p, NF_ERR_TYPE, name.line, name.col, "invalid parameter");
    if (!nf_name_table_put(&p->values, name.text, name.len, v))
        return out_of_memory(p);
    return true;
}

static bool parse_params(parser *p)
{
    if (!expect(p, NF_TOK_LPAREN, "'(' after the graph name"))
        return false;
    if (p->tok.kind == NF_TOK_RPAREN)
        return advance(p);
    for (;;) {
        if (!parse_param(p))
            return false;
        if (p->tok.kind == NF_TOK_RPAREN)
            return advance(p);
        if (!expect(p, NF_TOK_COMMA, "',' or ')' after a parameter"))
            return false;
    }
}

/* ---- statements ------------------------------------------------------------ */

static nf_arg *new_arg(parser *p, int n)
{
    if (n == p->cap_args) {
        int cap = p->cap_args ? p->cap_args * 2 : 8;
        nf_arg *a = cap > 0 ? realloc(p->args, (size_t)cap * sizeof *a) : NULL;
        if (!a) {
            out_of_memory(p);
            return NULL;
        }
        p->args = a;
        p->cap_args = cap;
    }
    nf_arg *a = &p->args[n];
    memset(a, 0, sizeof *a);
    a->line = p->tok.line;
    a->col = p->tok.col;
    a->dtype = NF_DTYPE_NONE;
    return a;
}

static void set_number(nf_arg *a, const nf_token *t)
{
    a->number_is_int = t->is_int;
    a->number_int = t->int_value;
    a->number = t->float_value;
}

/* The value after NAME '='. */
static bool parse_keyword_value(parser *p, nf_arg *a)
{
    double num;
    const nf_token *t = &p->tok;
    if (t->kind == NF_TOK_NUMBER) {
        a->kw_kind = NF_KW_NUMBER;
        set_number(a, t);
    } else if (t->kind == NF_TOK_NAME) {
        if (tok_is_word(t, "true") || tok_is_word(t, "false")) {
            a->kw_kind = NF_KW_BOOL;
            a->kw_bool = tok_is_word(t, "true");
        } else if (nf_dtype_from_name(t->text, t->len, &a->dtype)) {
            a->kw_kind = NF_KW_DTYPE;
        } else if (nf_name_is_number(t->text, t->len, &num)) {
            a->kw_kind = NF_KW_NUMBER;
            a->number = num;
        } else {
            a->kw_kind = NF_KW_NAME;
            a->kw_name = t->text;
            a->kw_name_len = t->len;
        }
    } else {
        return expected(p, "a keyword value (a number, a name, a dtype, true or false)");
    }
    return advance(p);
}

/* arg := VALUE | NUMBER | DTYPE | NAME '=' (NUMBER | NAME | DTYPE | 'true' | 'false') */
static bool parse_arg(parser *p, nf_arg *a)
{
    const nf_token *t = &p->tok;
    double num;
    switch (t->kind) {
    case NF_TOK_VALUE:
        a->kind = NF_ARG_VALUE;
        if (!(a->value = lookup_value(p, t)))
            return false;
        return advance(p);
    case NF_TOK_NUMBER:
        a->kind = NF_ARG_NUMBER;
        set_number(a, t);
        return advance(p);
    case NF_TOK_NAME: {
        const nf_token *n = peek(p);
        if (!n)
            return false;
        if (n->kind == NF_TOK_EQUALS) {
            a->kind = NF_ARG_KEYWORD;
            a->kw = t->text;
            a->kw_len = t->len;
            return advance(p) && advance(p) && parse_keyword_value(p, a);
        }
        if (nf_dtype_from_name(t->text, t->len, &a->dtype)) {
            a->kind = NF_ARG_DTYPE;
        } else if (nf_name_is_number(t->text, t->len, &num)) {
            a->kind = NF_ARG_NUMBER;
            a->number = num;
        } else {
            return fail_at(p, NF_ERR_PARSE, t->line, t->col,
                           "unknown dtype or argument '%.*s%s' (an argument is a %%value, a number, a dtype "
                           "(" DTYPE_LIST ") or name=value)",
                           shown_len(t->len), t->text, ellipsis(t->len));
        }
        return advance(p);
    }
    default:
        return expected(p, "an argument");
    }
}

/* "add, sub, ..." : the ops the text can call. */
static void list_ops(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int op = 0; op < NF_OP_COUNT && used < n; op++) {
        if (nf_op_kind_of((nf_op)op) == NF_KIND_LEAF)
            continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", nf_op_name((nf_op)op));
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

/* stmt := VALUE '=' NAME '(' [arg {',' arg}] ')' [':' type] */
static bool parse_stmt(parser *p)
{
    nf_token name = p->tok;
    if (!check_new_name(p, &name) || !advance(p))
        return false;
    char what[128];
    snprintf(what, sizeof what, "'=' after %%%.*s%s", shown_len(name.len), name.text, ellipsis(name.len));
    if (!expect(p, NF_TOK_EQUALS, what))
        return false;
    nf_token opname = p->tok;
    if (opname.kind != NF_TOK_NAME)
        return expected(p, "an op name after '='");
    nf_op op;
    if (!nf_op_from_name(opname.text, opname.len, &op)) {
        char ops[512];
        list_ops(ops, sizeof ops);
        return fail_at(p, NF_ERR_PARSE, opname.line, opname.col, "unknown op '%.*s%s' (ops: %s)",
                       shown_len(opname.len), opname.text, ellipsis(opname.len), ops);
    }
    if (!advance(p))
        return false;
    snprintf(what, sizeof what, "'(' after '%s'", nf_op_name(op));
    if (!expect(p, NF_TOK_LPAREN, what))
        return false;
    int nargs = 0;
    if (p->tok.kind != NF_TOK_RPAREN) {
        snprintf(what, sizeof what, "',' or ')' in the arguments of '%s'", nf_op_name(op));
        for (;;) {
            nf_arg *a = new_arg(p, nargs);
            if (!a || !parse_arg(p, a))
                return false;
            nargs++;
            if (p->tok.kind == NF_TOK_RPAREN)
                break;
            if (!expect(p, NF_TOK_COMMA, what))
                return false;
        }
    }
    if (!advance(p))
        return false;

    p->g->cur_line = opname.line;
    p->g->cur_col = opname.col;
    nf_value *v = nf_build_from_args(p->g, op, p->args, nargs);
    if (graph_failed(p))
        return false;
    if (!v)
        return fail_at(p, NF_ERR_TYPE, opname.line, opname.col, "%s: invalid arguments", nf_op_name(op));

    if (p->tok.kind == NF_TOK_COLON) {
        written_type t;
        if (!advance(p) || !parse_type(p, &t) || !check_assertion(p, v, &t))
            return false;
    }
    char *cname = copy_name(p, name.text, name.len);
    if (!cname)
        return false;
    nf_name(p->g, v, cname);
    if (graph_failed(p))
        return false;
    if (!nf_name_table_put(&p->values, name.text, name.len, v))
        return out_of_memory(p);
    return true;
}

/* ret := 'return' VALUE {',' VALUE} */
static bool parse_return(parser *p)
{
    int line = p->tok.line, col = p->tok.col, n = 0;
    if (!advance(p))
        return false;
    for (;;) {
        if (p->tok.kind != NF_TOK_VALUE)
            return expected(p, n ? "a %value after ','" : "a %value after 'return'");
        nf_value *v = lookup_value(p, &p->tok);
        if (!v)
            return false;
        if (n == p->cap_rets) {
            int cap = p->cap_rets ? p->cap_rets * 2 : 4;
            nf_value **r = cap > 0 ? realloc(p->rets, (size_t)cap * sizeof *r) : NULL;
            if (!r)
                return out_of_memory(p);
            p->rets = r;
            p->cap_rets = cap;
        }
        p->rets[n++] = v;
        if (!advance(p))
            return false;
        if (p->tok.kind != NF_TOK_COMMA)
            break;
        if (!advance(p))
            return false;
    }
    p->g->cur_line = line;
    p->g->cur_col = col;
    nf_graph_return(p->g, n, p->rets);
    if (graph_failed(p))
        return false;
    return expect(p, NF_TOK_RBRACE, "'}' after the return statement");
}

static bool parse_body(parser *p)
{
    if (!expect(p, NF_TOK_LBRACE, "'{' after the parameter list"))
        return false;
    for (;;) {
        if (p->tok.kind == NF_TOK_VALUE) {
            if (!parse_stmt(p))
                return false;
        } else if (tok_is_word(&p->tok, "return")) {
            return parse_return(p);
        } else if (p->tok.kind == NF_TOK_RBRACE) {
            return fail_at(p, NF_ERR_PARSE, p->tok.line, p->tok.col,
                           "missing return statement (a graph ends with 'return %%value')");
        } else {
            return expected(p, "a statement (%name = op(...)) or 'return'");
        }
    }
}

/* ---- graphs and files ------------------------------------------------------ */

static void reset_graph_state(parser *p)
{
    nf_name_table_free(&p->values);
    nf_name_table_free(&p->syms);
    p->synced_syms = 0;
    p->g = NULL;
}

/* graph := 'graph' NAME '(' params ')' '{' {stmt} ret '}'. Returns the graph
 * (owned by the caller) or NULL on error. */
static nf_graph *parse_graph(parser *p)
{
    if (!tok_is_word(&p->tok, "graph")) {
        expected(p, "'graph'");
        return NULL;
    }
    if (!advance(p))
        return NULL;
    nf_token name = p->tok;
    if (name.kind != NF_TOK_NAME) {
        expected(p, "a graph name after 'graph'");
        return NULL;
    }
    if (nf_name_table_get(&p->graph_names, name.text, name.len)) {
        fail_at(p, NF_ERR_PARSE, name.line, name.col, "duplicate graph name '%.*s%s'", shown_len(name.len),
                name.text, ellipsis(name.len));
        return NULL;
    }
    if (p->n_names == p->cap_names) {
        int cap = p->cap_names ? p->cap_names * 2 : 8;
        graph_name *g = cap > 0 ? realloc(p->names, (size_t)cap * sizeof *g) : NULL;
        if (!g) {
            out_of_memory(p);
            return NULL;
        }
        p->names = g;
        p->cap_names = cap;
    }
    p->names[p->n_names++] = (graph_name){name.text, name.len};
    /* The key only needs to be non-NULL: a pointer to the name itself. */
    if (!nf_name_table_put(&p->graph_names, name.text, name.len, (void *)name.text)) {
        out_of_memory(p);
        return NULL;
    }
    char *cname = malloc(name.len + 1);
    if (!cname) {
        out_of_memory(p);
        return NULL;
    }
    memcpy(cname, name.text, name.len);
    cname[name.len] = '\0';
    reset_graph_state(p);
    p->g = nf_graph_new(cname);
    free(cname);
    if (!p->g) {
        out_of_memory(p);
        return NULL;
    }
    if (!advance(p) || !parse_params(p) || !parse_body(p)) {
        nf_graph_free(p->g);
        reset_graph_state(p);
        return NULL;
    }
    nf_graph *g = p->g;
    reset_graph_state(p);
    return g;
}

static void parser_init(parser *p, const char *text, size_t len, nf_error *err)
{
    memset(p, 0, sizeof *p);
    p->err = err;
    nf_lexer_init(&p->lx, text ? text : "", text ? len : 0);
}

static void parser_free(parser *p)
{
    reset_graph_state(p);
    nf_name_table_free(&p->graph_names);
    free(p->args);
    free(p->rets);
    free(p->names);
}

/* Parses every graph of the file; keeps the one named want (NULL: the first)
 * in *kept when kept is non-NULL. */
static bool parse_file(parser *p, const char *want, nf_graph **kept)
{
    if (!advance(p))
        return false;
    do {
        nf_graph *g = parse_graph(p);
        if (!g)
            return false;
        bool keep = kept && !*kept && (!want || strcmp(want, nf_graph_name(g)) == 0);
        if (keep)
            *kept = g;
        else
            nf_graph_free(g);
    } while (p->tok.kind != NF_TOK_EOF);
    return true;
}

/* "a, b, c" into buf, cut with " ..." when it does not fit. */
static void join_names(const parser *p, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->n_names; i++) {
        size_t need = p->names[i].len + (i ? 2 : 0);
        if (used + need + sizeof " ..." > n) {
            memcpy(buf + used, " ...", sizeof " ...");
            return;
        }
        if (i) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, p->names[i].text, p->names[i].len);
        used += p->names[i].len;
        buf[used] = '\0';
    }
}

nf_graph *nf_graph_parse(const char *text, size_t len, const char *filename, const char *graph_name, nf_error *err)
{
    nf_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    parser p;
    parser_init(&p, text, len, err);
    nf_graph *kept = NULL;
    bool ok = parse_file(&p, graph_name, &kept);
    if (ok && !kept) {
        char names[768];
        join_names(&p, names, sizeof names);
        nf_set_error(err, NF_ERR_ARG, 0, 0, "no graph named '%s' in %s (graphs: %s)", graph_name,
                     filename ? filename : "the input", names);
    }
    if (!ok || !kept) {
        nf_graph_free(kept);
        kept = NULL;
    }
    parser_free(&p);
    return kept;
}

char *nf_graph_list(const char *text, size_t len, nf_error *err)
{
    nf_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    parser p;
    parser_init(&p, text, len, err);
    char *out = NULL;
    if (parse_file(&p, NULL, NULL)) {
        size_t total = 1;
        for (int i = 0; i < p.n_names; i++)
            total += p.names[i].len + 1;
        out = malloc(total);
        if (out) {
            size_t o = 0;
            for (int i = 0; i < p.n_names; i++) {
                if (i)
                    out[o++] = '\n';
                memcpy(out + o, p.names[i].text, p.names[i].len);
                o += p.names[i].len;
            }
            out[o] = '\0';
        } else {
            nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
        }
    }
    parser_free(&p);
    return out;
}
