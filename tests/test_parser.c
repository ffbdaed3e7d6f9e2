/* The graph text format: parsing, errors at exact positions, and hostile
 * input (truncation, bad bytes, huge lines, big graphs). The printer's round
 * trip is tested in test_printer.c. */
#include "parser_test_util.h"

/* ---- well-formed files ------------------------------------------------------- */

static void contract_example_infers_types(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(GRAPHS_DIR "/contract_example.nf", &len);
    nf_graph *g = parse_ok_named(text, len, NULL);
    assert_string_equal(nf_graph_name(g), "logits_head_gate");
    assert_int_equal(nf_graph_num_params(g), 3);
    assert_int_equal(nf_graph_num_outputs(g), 1);
    type_is(g, g->outputs[0], "f32[T, 64, 1]");
    assert_string_equal(nf_value_name(g->outputs[0]), "o");
    char *printed = nf_graph_print(g);
    assert_non_null(printed);
    assert_non_null(strstr(printed, "%y = linear(%x, %w) : bf16[T, 64]\n"));
    assert_non_null(strstr(printed, "%s = mul(%yf, 0.125) : f32[T, 64]\n"));
    assert_non_null(strstr(printed, "%o = mul(%g, 0.08838834764831845) : f32[T, 64, 1]\n"));
    assert_non_null(strstr(printed, "graph logits_head_gate(%x: bf16[T, 7168], %w: bf16[64, 7168], "
                                    "%q_scale: f32[T, 64, 1]) {\n"));
    free(printed);
    free(check_text_roundtrip(text, len, NULL));
    nf_graph_free(g);
    free(text);
}

static void text_need_not_be_nul_terminated(void **state)
{
    (void)state;
    const char *src = "graph g(%x: f32[4]) { %y = neg(%x) return %y }";
    size_t len = strlen(src);
    char *copy = malloc(len); /* exactly len bytes: ASan catches any read past */
    assert_non_null(copy);
    memcpy(copy, src, len);
    nf_graph *g = parse_ok_named(copy, len, NULL);
    nf_graph_free(g);
    /* a number or a name running into the end of the buffer */
    const char *tails[] = {"graph g(%x: f32[4]) { %y = mul(%x, 1.5", "graph g(%x: f32[4", "graph g(%xy",
                           "graph gg", "graph g(%x: f32[4]) { %y = mul(%x, 1e"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t n = strlen(tails[i]);
        char *t = malloc(n);
        assert_non_null(t);
        memcpy(t, tails[i], n);
        nf_error err;
        assert_null(nf_graph_parse(t, n, "t.nf", NULL, &err));
        assert_true(err.status == NF_ERR_PARSE);
        free(t);
    }
    free(copy);
}

static void multi_graph_files_select_by_name(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(GRAPHS_DIR "/multi.nf", &len);
    nf_graph *g = parse_ok_named(text, len, NULL);
    assert_string_equal(nf_graph_name(g), "first");
    nf_graph_free(g);
    g = parse_ok_named(text, len, "second");
    assert_string_equal(nf_graph_name(g), "second");
    assert_int_equal(nf_graph_num_outputs(g), 2);
    type_is(g, g->outputs[0], "bf16[4, 8]");
    nf_graph_free(g);
    g = parse_ok_named(text, len, "third");
    type_is(g, g->outputs[0], "f16[K, 2]");
    assert_string_equal(nf_value_name(g->outputs[0]), "q.1");
    nf_graph_free(g);
    for (int i = 0; i < 3; i++)
        free(check_text_roundtrip(text, len, (const char *[]){"first", "second", "third"}[i]));

    nf_error err;
    char *names = nf_graph_list(text, len, &err);
    assert_non_null(names);
    assert_string_equal(names, "first\nsecond\nthird");
    free(names);

    assert_null(nf_graph_parse(text, len, "multi.nf", "fourth", &err));
    assert_int_equal(err.status, NF_ERR_ARG);
    assert_int_equal(err.line, 0);
    if (!strstr(err.message, "no graph named 'fourth' in multi.nf") || !strstr(err.message, "first, second, third"))
        fail_msg("message: %s", err.message);
    free(text);

    /* one bad graph makes the file bad, whichever graph is asked for */
    const char *dup = "graph a(%x: f32[1]) { return %x }\ngraph a(%x: f32[1]) { return %x }";
    expect_error(dup, NF_ERR_PARSE, 2, 7, "duplicate graph name 'a'");
    assert_null(nf_graph_list(dup, strlen(dup), &err));
    assert_int_equal(err.line, 2);

    /* err and filename may be NULL */
    assert_null(nf_graph_parse(dup, strlen(dup), NULL, NULL, NULL));
    assert_null(nf_graph_list(dup, strlen(dup), NULL));
    assert_null(nf_graph_parse(NULL, 0, NULL, NULL, NULL));
    nf_graph *first = nf_graph_parse(dup, 33, NULL, NULL, NULL); /* the first graph alone */
    assert_non_null(first);
    nf_graph_free(first);
}

static void comments_may_hold_unicode(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(GRAPHS_DIR "/unicode_comment.nf", &len);
    nf_graph_free(parse_ok_named(text, len, NULL));
    free(text);
    nf_graph_free(parse_ok("graph g(%x: f32[4]) { return %x } # end without newline: \xe2\x82\xac"));
    nf_graph_free(parse_ok("graph g(%x: f32[4]) {\r\n  return %x\r\n}\r\n"));
}

/* ---- errors ------------------------------------------------------------------- */

#define G "graph g(%x: f32[4], %w: f32[8, 4]) {\n"

static void errors_are_located_exactly(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        nf_status status;
        int line, col;
        const char *msg;
    } cases[] = {
        /* unknown op; PARAM and SCALAR are not callable */
        {G "  %y = lineer(%x, %w)\n  return %y\n}\n", NF_ERR_PARSE, 2, 8, "unknown op 'lineer'"},
        {G "  %y = param(%x)\n  return %y\n}\n", NF_ERR_PARSE, 2, 8, "unknown op 'param'"},
        {G "  %y = scalar(1.0)\n  return %y\n}\n", NF_ERR_PARSE, 2, 8, "unknown op 'scalar'"},
        /* arity: too few at the op, too many at the first extra argument */
        {G "  %y = add(%x)\n  return %y\n}\n", NF_ERR_TYPE, 2, 8, "wrong number of arguments"},
        {G "  %y = neg(%x, %x)\n  return %y\n}\n", NF_ERR_TYPE, 2, 16, "wrong number of arguments"},
        {G "  %y = neg()\n  return %y\n}\n", NF_ERR_TYPE, 2, 8, "wrong number of arguments"},
        {G "  %y = cast(%x, 1)\n  return %y\n}\n", NF_ERR_TYPE, 2, 17, "must be a dtype"},
        {G "  %y = unsqueeze(%x, 1.0)\n  return %y\n}\n", NF_ERR_TYPE, 2, 22, "must be an integer"},
        /* shapes */
        {G "  %y = transpose(%w, 0, 1)\n  %z = add(%y, %x)\n  return %z\n}\n", NF_ERR_TYPE, 3, 8,
         "shape mismatch"},
        {G "  %y = unsqueeze(%x, 3)\n  return %y\n}\n", NF_ERR_TYPE, 2, 8, "out of range"},
        /* names */
        {G "  %y = neg(%z)\n  return %y\n}\n", NF_ERR_TYPE, 2, 12, "undefined value %z"},
        {G "  %y = neg(%x)\n  return %q\n}\n", NF_ERR_TYPE, 3, 10, "undefined value %q"},
        {G "  %y = neg(%y)\n  return %y\n}\n", NF_ERR_TYPE, 2, 12, "undefined value %y"},
        {G "  %y = neg(%x)\n  %y = exp(%x)\n  return %y\n}\n", NF_ERR_TYPE, 3, 3, "duplicate name %y"},
        {G "  %w = neg(%x)\n  return %w\n}\n", NF_ERR_TYPE, 2, 3, "duplicate name %w: it is a parameter"},
        {"graph g(%x: f32[4], %x: f32[4]) {\n  return %x\n}\n", NF_ERR_TYPE, 1, 21, "duplicate name %x"},
        /* dtypes */
        {"graph g(%x: f31[4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 13, "unknown dtype 'f31'"},
        {G "  %y = cast(%x, f31)\n  return %y\n}\n", NF_ERR_PARSE, 2, 17, "unknown dtype or argument 'f31'"},
        {"graph g(%x: [4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 13, "expected a dtype"},
        {G "  %y = linear(%x, %w, out_dtype=i32)\n  return %y\n}\n", NF_ERR_TYPE, 2, 8, "out_dtype=i32"},
        {G "  %y = linear(%x, %w, out_dtype=tanh)\n  return %y\n}\n", NF_ERR_TYPE, 2, 23, "out_dtype must be"},
        {G "  %y = matmul(%w, %w, trans_b=maybe)\n  return %y\n}\n", NF_ERR_TYPE, 2, 23, "trans_b must be"},
        {G "  %y = gelu(%x, approximate=sigmoid)\n  return %y\n}\n", NF_ERR_TYPE, 2, 17, "approximate must be"},
        {G "  %y = gelu(%x, fast=true)\n  return %y\n}\n", NF_ERR_TYPE, 2, 17, "unknown keyword argument 'fast'"},
        {G "  %y = gelu(approximate=tanh, %x)\n  return %y\n}\n", NF_ERR_PARSE, 2, 31, "positional argument after"},
        /* numbers */
        {G "  %y = mul(%x, 1.2.3)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "bad number '1.2.3'"},
        {G "  %y = mul(%x, 1e)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "bad number '1e'"},
        {G "  %y = mul(%x, 1e+)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "bad number '1e+'"},
        {G "  %y = mul(%x, 12abc)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "bad number '12abc'"},
        {G "  %y = mul(%x, -infinity)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "bad number '-infinity'"},
        {G "  %y = mul(%x, .)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "bad number '.'"},
        {G "  %y = mul(%x, -)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "unexpected character '-'"},
        {G "  %y = mul(%x, 9223372036854775808)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "does not fit in 64 bits"},
        {G "  %y = mul(%x, -9223372036854775809)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "does not fit in 64 bits"},
        {G "  %y = mul(%x, 99999999999999999999999)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "does not fit"},
        {G "  %y = mul(%x, 1e999)\n  return %y\n}\n", NF_ERR_PARSE, 2, 16, "out of range of a double"},
        {"graph g(%x: f32[-4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 17, "negative dimension size -4"},
        {"graph g(%x: f32[4.0]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 17, "expected a dimension"},
        {"graph g(%x: f32[1,1,1,1,1,1,1,1,1]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 33, "too many dimensions"},
        /* structure */
        {G "  %y = neg(%x)\n}\n", NF_ERR_PARSE, 3, 1, "missing return statement"},
        {G "  return %x\n  %y = neg(%x)\n}\n", NF_ERR_PARSE, 3, 3, "expected '}' after the return statement"},
        {G "  return\n}\n", NF_ERR_PARSE, 3, 1, "expected a %value after 'return'"},
        {G "  return %x,\n}\n", NF_ERR_PARSE, 3, 1, "expected a %value after ','"},
        {G "  %y = neg(%x,)\n  return %y\n}\n", NF_ERR_PARSE, 2, 15, "expected an argument, found ')'"},
        {G "  %y neg(%x)\n  return %y\n}\n", NF_ERR_PARSE, 2, 6, "expected '=' after %y, found 'neg'"},
        {G "  %y = neg %x\n  return %y\n}\n", NF_ERR_PARSE, 2, 12, "expected '(' after 'neg'"},
        {G "  %y = neg(x)\n  return %y\n}\n", NF_ERR_PARSE, 2, 12, "unknown dtype or argument 'x'"},
        {G "  y = neg(%x)\n  return %y\n}\n", NF_ERR_PARSE, 2, 3, "expected a statement"},
        {G "  %y = neg(%x) : f32[4\n  return %y\n}\n", NF_ERR_PARSE, 3, 3, "expected ',' or ']' in the shape"},
        {"graph g(%x f32[4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 12, "expected ':' and a type"},
        {"graph g(%x: f32[4] %y: f32[4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 20, "expected ',' or ')'"},
        {"graph (%x: f32[4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 7, "expected a graph name"},
        {"graph g %x: f32[4] {\n  return %x\n}\n", NF_ERR_PARSE, 1, 9, "expected '(' after the graph name"},
        {"graph g(%x: f32[4])\n  return %x\n}\n", NF_ERR_PARSE, 2, 3, "expected '{'"},
        {"grap g(%x: f32[4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 1, "expected 'graph', found 'grap'"},
        {"graph g(%: f32[4]) {\n  return %x\n}\n", NF_ERR_PARSE, 1, 9, "expected a value name after '%'"},
        {"", NF_ERR_PARSE, 1, 1, "expected 'graph', found end of file"},
        {"# only a comment\n\n", NF_ERR_PARSE, 3, 1, "expected 'graph', found end of file"},
        {"graph g(%x: f32[4]) {\n  return %x\n}\n@", NF_ERR_PARSE, 4, 1, "unexpected character '@'"},
        {"graph g(%x: f32[4]) {\n\x01  return %x\n}\n", NF_ERR_PARSE, 2, 1, "unexpected control character 0x01"},
        /* type assertions */
        {"graph g(%x: bf16[T, 64]) {\n  %y = cast(%x, f32) : bf16[T, 64]\n  return %y\n}\n", NF_ERR_TYPE, 2, 24,
         "type assertion failed: inferred f32[T, 64], written bf16[T, 64]"},
        {"graph g(%x: f32[T, 64]) {\n  %y = neg(%x) : f32[S, 64]\n  return %y\n}\n", NF_ERR_TYPE, 2, 18,
         "type assertion failed: inferred f32[T, 64], written f32[S, 64]"},
        {"graph g(%x: f32[T, 64]) {\n  %y = neg(%x) : f32[64, T]\n  return %y\n}\n", NF_ERR_TYPE, 2, 18,
         "written f32[64, T]"},
        {"graph g(%x: f32[T, 64]) {\n  %y = neg(%x) : f32[T]\n  return %y\n}\n", NF_ERR_TYPE, 2, 18,
         "written f32[T]"},
        {"graph g(%x: f32[1]) {\n  %y = neg(%x) : f32[]\n  return %y\n}\n", NF_ERR_TYPE, 2, 18,
         "inferred f32[1], written f32[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].text, cases[i].status, cases[i].line, cases[i].col, cases[i].msg);
}

/* Each tests/graphs/bad_*.nf starts with "# expect LINE:COL parse|type MESSAGE". */
static void bad_sample_files_fail_as_annotated(void **state)
{
    (void)state;
    DIR *d = opendir(GRAPHS_DIR);
    assert_non_null(d);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "bad_", 4) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", GRAPHS_DIR, e->d_name);
        size_t len;
        char *text = read_file(path, &len);
        int line, col, used = 0;
        char kind[16];
        if (sscanf(text, "# expect %d:%d %15s %n", &line, &col, kind, &used) != 3 || used == 0)
            fail_msg("%s: no '# expect' header", path);
        char *msg = text + used, *nl = strchr(msg, '\n');
        char want[512];
        snprintf(want, sizeof want, "%.*s", nl ? (int)(nl - msg) : (int)strlen(msg), msg);
        print_message("%s\n", e->d_name);
        expect_error_len(text, len, strcmp(kind, "parse") == 0 ? NF_ERR_PARSE : NF_ERR_TYPE, line, col, want);
        free(text);
        seen++;
    }
    closedir(d);
    assert_true(seen >= 10);
}

static void bytes_outside_ascii_are_rejected(void **state)
{
    (void)state;
    /* invalid UTF-8 anywhere, comments included, names the byte */
    static const struct {
        const char *text;
        size_t len;
        int line, col;
        const char *msg;
    } cases[] = {
        {"graph g(%x: f32[4]) { # \xff\n return %x }", 0, 1, 25, "invalid UTF-8 byte 0xFF"},
        {"graph g(%x: f32[4]) { # \xc0\x80 overlong\n return %x }", 0, 1, 25, "invalid UTF-8 byte 0xC0"},
        {"graph g(%x: f32[4]) { # \xed\xa0\x80 surrogate\n return %x }", 0, 1, 25, "invalid UTF-8 byte 0xED"},
        {"graph g(%x: f32[4]) { # \xf4\x90\x80\x80 > U+10FFFF\n return %x }", 0, 1, 25, "invalid UTF-8 byte 0xF4"},
        {"graph g(%x: f32[4]) { return %x } # \xe2\x82", 0, 1, 37, "invalid UTF-8 byte 0xE2"},
        {"graph g(%x: f32[4]) { # ok \xc3\xa9 then \x80\n return %x }", 0, 1, 36, "invalid UTF-8 byte 0x80"},
        {"graph g\xff(%x: f32[4]) { return %x }", 0, 1, 8, "invalid UTF-8 byte 0xFF"},
        {"graph g(%x: f32[4]) {\n  %y = neg(%x\xfe)\n return %y }", 0, 2, 14, "invalid UTF-8 byte 0xFE"},
        /* valid UTF-8 outside a comment */
        {"graph g\xc3\xa9(%x: f32[4]) { return %x }", 0, 1, 8, "unexpected character U+00E9"},
        {"graph g(%x: f32[4]) {\n  %\xce\xb1 = neg(%x)\n return %x }", 0, 2, 3, "expected a value name after '%'"},
        /* NUL bytes, in code and in comments */
        {"graph g(%x: f32[4]) {\0 return %x }", 35, 1, 22, "unexpected NUL byte"},
        {"graph g(%x: f32[4]) { # \0\n return %x }", 37, 1, 25, "unexpected NUL byte"},
        {"\0", 1, 1, 1, "unexpected NUL byte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        expect_error_len(cases[i].text, len, NF_ERR_PARSE, cases[i].line, cases[i].col, cases[i].msg);
    }
}

static void every_truncation_fails_cleanly(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(GRAPHS_DIR "/all_ops.nf", &len);
    /* the file is valid once its final '}' is in */
    size_t complete = (size_t)(strrchr(text, '}') - text) + 1;
    for (size_t n = 0; n < len; n++) {
        char *t = malloc(n ? n : 1);
        assert_non_null(t);
        memcpy(t, text, n);
        nf_error err;
        nf_graph *g = nf_graph_parse(t, n, "t.nf", NULL, &err);
        if (n < complete) {
            if (g)
                fail_msg("prefix of %zu bytes parsed", n);
            assert_true(err.line >= 1 && err.col >= 1);
        } else {
            assert_non_null(g);
        }
        nf_graph_free(g);
        free(t);
    }
    expect_error("graph g(%x: f32[4]) {\n  %y = neg(%x", NF_ERR_PARSE, 2, 14, "found end of file");
    expect_error("graph g(%x: f32[4]) {\n  return %x", NF_ERR_PARSE, 2, 12, "expected '}' after the return "
                 "statement, found end of file");
    expect_error("graph g(%x: f32[4]) {\n  %y = neg(%x)\n", NF_ERR_PARSE, 3, 1, "expected a statement");
    free(text);
}

/* ---- big and hostile inputs ----------------------------------------------------- */

static void big_graphs_parse_in_linear_time(void **state)
{
    (void)state;
    const int n = 100000;
    text_buf b = {0};
    tb_add(&b, "graph big(%%x: f32[T, 64], %%s: f32[64]) {\n  %%v0 = neg(%%x)\n");
    for (int i = 1; i < n; i++)
        tb_add(&b, "  %%v%d = %s(%%v%d, %s)\n", i, i % 2 ? "add" : "mul", i - 1, i % 3 ? "%s" : "0.5");
    tb_add(&b, "  return %%v%d\n}\n", n - 1);
    double t0 = now_s();
    nf_graph *g = parse_ok_named(b.p, b.len, NULL);
    double t1 = now_s();
    char *printed = nf_graph_print(g);
    double t2 = now_s();
    assert_non_null(printed);
    print_message("%d statements (%zu bytes): parse %.3f s, print %.3f s\n", n, b.len, t1 - t0, t2 - t1);
    /* generous for sanitizer builds; an O(n^2) lookup takes far longer */
    assert_true(t1 - t0 < 2.0);
    assert_true(t2 - t1 < 2.0);
    nf_graph *g2 = parse_ok(printed);
    assert_same_graph(g, g2, true);
    nf_graph_free(g2);
    free(printed);
    nf_graph_free(g);
    free(b.p);
}

static void ten_megabyte_lines(void **state)
{
    (void)state;
    const size_t big = 10u << 20;
    char *t = xmalloc(big + 256);
    assert_non_null(t);

    /* a 10 MB comment line */
    size_t n = (size_t)sprintf(t, "# ");
    memset(t + n, 'c', big);
    n += big;
    n += (size_t)sprintf(t + n, "\ngraph g(%%x: f32[4]) { return %%x }\n");
    double t0 = now_s();
    nf_graph_free(parse_ok_named(t, n, NULL));

    /* a 10 MB value name, used twice; the printer keeps it */
    n = (size_t)sprintf(t, "graph g(%%x: f32[4]) { %%");
    size_t name_at = n;
    memset(t + n, 'v', big / 2);
    n += big / 2;
    n += (size_t)sprintf(t + n, " = neg(%%x) return %%");
    memcpy(t + n, t + name_at, big / 2);
    n += big / 2;
    n += (size_t)sprintf(t + n, " }");
    nf_graph *g = parse_ok_named(t, n, NULL);
    char *p = nf_graph_print(g);
    assert_non_null(p);
    assert_true(strlen(p) > big);
    free(p);
    nf_graph_free(g);

    /* a 10 MB op name: the error quotes a short piece of it */
    n = (size_t)sprintf(t, "graph g(%%x: f32[4]) {\n  %%y = ");
    memset(t + n, 'o', big);
    n += big;
    n += (size_t)sprintf(t + n, "(%%x)\n  return %%y\n}\n");
    expect_error_len(t, n, NF_ERR_PARSE, 2, 8, "unknown op 'oooooooooo");

    /* a 10 MB number, and a 10 MB line of statements */
    n = (size_t)sprintf(t, "graph g(%%x: f32[4]) { %%y = mul(%%x, 1.");
    memset(t + n, '1', big);
    n += big;
    n += (size_t)sprintf(t + n, ") return %%y }");
    expect_error_len(t, n, NF_ERR_PARSE, 1, 36, "number literal too long");
    n = (size_t)sprintf(t, "graph g(%%x: f32[4]) { %%y = mul(%%x, ");
    memset(t + n, '9', big);
    n += big;
    n += (size_t)sprintf(t + n, ") return %%y }");
    expect_error_len(t, n, NF_ERR_PARSE, 1, 36, "does not fit in 64 bits");
    free(t);

    text_buf b = {0};
    tb_add(&b, "graph g(%%x: f32[4]) { %%v0 = neg(%%x)");
    int i = 1;
    while (b.len < big)
        tb_add(&b, " %%v%d = add(%%v%d, 1.5)", i, i - 1), i++;
    tb_add(&b, " return %%v%d }", i - 1);
    nf_graph_free(parse_ok_named(b.p, b.len, NULL));
    free(b.p);
    double t1 = now_s();
    print_message("10 MB lines: %.3f s\n", t1 - t0);
}

static void nesting_and_repetition_do_not_blow_up(void **state)
{
    (void)state;
    const size_t n = 1u << 20;
    char *t = xmalloc(n * 8 + 256);
    assert_non_null(t);
    /* a million open parens or brackets: the grammar has no nesting */
    size_t k = (size_t)sprintf(t, "graph g(");
    memset(t + k, '(', n);
    expect_error_len(t, k + n, NF_ERR_PARSE, 1, 9, "expected a parameter");
    k = (size_t)sprintf(t, "graph g(%%x: f32");
    memset(t + k, '[', n);
    expect_error_len(t, k + n, NF_ERR_PARSE, 1, 17, "expected a dimension");
    /* a million arguments: one arity error */
    k = (size_t)sprintf(t, "graph g(%%x: f32[4]) { %%y = add(%%x");
    for (size_t i = 0; i < n; i++) {
        memcpy(t + k, ", %x", 4);
        k += 4;
    }
    k += (size_t)sprintf(t + k, ") return %%y }");
    expect_error_len(t, k, NF_ERR_TYPE, 1, 40, "wrong number of arguments");
    /* a million returned values */
    k = (size_t)sprintf(t, "graph g(%%x: f32[4]) { return %%x");
    for (size_t i = 0; i < n; i++) {
        memcpy(t + k, ", %x", 4);
        k += 4;
    }
    k += (size_t)sprintf(t + k, " }");
    nf_graph *g = parse_ok_named(t, k, NULL);
    assert_int_equal(nf_graph_num_outputs(g), (int)n + 1);
    nf_graph_free(g);
    /* many graphs in one file */
    text_buf b = {0};
    for (int i = 0; i < 20000; i++)
        tb_add(&b, "graph g%d(%%x: f32[4]) { return %%x }\n", i);
    g = parse_ok_named(b.p, b.len, "g19999");
    nf_graph_free(g);
    nf_error err;
    assert_null(nf_graph_parse(b.p, b.len, "many.nf", "nope", &err));
    assert_true(strlen(err.message) < sizeof err.message - 1);
    assert_non_null(strstr(err.message, "g0, g1, g2"));
    assert_non_null(strstr(err.message, " ..."));
    free(b.p);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contract_example_infers_types),
        cmocka_unit_test(text_need_not_be_nul_terminated),
        cmocka_unit_test(multi_graph_files_select_by_name),
        cmocka_unit_test(comments_may_hold_unicode),
        cmocka_unit_test(errors_are_located_exactly),
        cmocka_unit_test(bad_sample_files_fail_as_annotated),
        cmocka_unit_test(bytes_outside_ascii_are_rejected),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test(big_graphs_parse_in_linear_time),
        cmocka_unit_test(ten_megabyte_lines),
        cmocka_unit_test(nesting_and_repetition_do_not_blow_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
