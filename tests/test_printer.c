/* The printer: print(parse(t)) re-parses to the same graph and prints the
 * same text again; literals keep their spelling class; builder graphs with
 * unnamed or clashing names print as valid text; random graphs (seeded)
 * round-trip. */
#include "parser_test_util.h"

/* ---- sample files and literals ----------------------------------------------------- */

static void all_ops_round_trip(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(GRAPHS_DIR "/all_ops.nf", &len);
    char *printed = check_text_roundtrip(text, len, NULL);
    /* literals keep their spelling class; keywords are written as given */
    const char *want[] = {
        "%add = add(%a, 1) : f32[T, 16]\n",
        "%sub = sub(2.5, %a) : f32[T, 16]\n",
        "%mul = mul(%a, 0.001) : f32[T, 16]\n",
        "%div = div(%i, 3) : f32[T, 16]\n",
        "%max = max(%a, -0.0) : f32[T, 16]\n",
        "%min = min(%a, inf) : f32[T, 16]\n",
        "%pow = pow(%a, 2.0) : f32[T, 16]\n",
        "%gelu = gelu(%a) : f32[T, 16]\n",
        "%gelu_t = gelu(%a, approximate=tanh) : f32[T, 16]\n",
        "%gelu_n = gelu(%a) : f32[T, 16]\n",
        "%c8 = cast(%a, f8e4m3) : f8e4m3[T, 16]\n",
        "%u = unsqueeze(%a, 2) : f32[T, 16, 1]\n",
        "%sq = squeeze(%u, 2) : f32[T, 16]\n",
        "%tr = transpose(%a, 0, 1) : f32[16, T]\n",
        "%sl = slice(%a, 1, 2, 10) : f32[T, 8]\n",
        "%sl_neg = slice(%a, 1, 12, 16) : f32[T, 4]\n",
        "%sl_step = slice(%a, 1, 0, 16, 3) : f32[T, 6]\n",
        "%sl_sym = slice(%a, 0, 0, 9223372036854775807) : f32[T, 16]\n",
        "%lin = linear(%b, %w) : bf16[T, 32]\n",
        "%lin32 = linear(%b, %w, out_dtype=f32) : f32[T, 32]\n",
        "%mmt = matmul(%m, %m, trans_b=true, out_dtype=f32) : f32[8, 8]\n",
        "%mmf = matmul(%m, %n) : f16[8, 8]\n",
        "%zs = add(%z, nan) : f32[]\n",
        "%big = mul(%a, 1.7976931348623157e+308) : f32[T, 16]\n",
        "%tiny = mul(%a, 4.94065645841247e-324) : f32[T, 16]\n",
        "%ni = add(%i, -9223372036854775808) : i32[T, 16]\n",
        "%ninf = max(%a, -inf) : f32[T, 16]\n",
        "%z: f32[]) {\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(printed, want[i]))
            fail_msg("printed text lacks \"%s\":\n%s", want[i], printed);
    free(printed);
    free(text);
}

static void literal_spellings_parse_as_written(void **state)
{
    (void)state;
    static const struct {
        const char *lit;
        bool is_int;
        double value;
        const char *printed;
    } cases[] = {
        {"1e-3", false, 1e-3, "0.001"},     {"-0.0", false, -0.0, "-0.0"},   {"2.", false, 2.0, "2.0"},
        {".5", false, 0.5, "0.5"},          {"+3", true, 3, "3"},            {"-7", true, -7, "-7"},
        {"1E+2", false, 100, "100.0"},      {"0.1", false, 0.1, "0.1"},      {"1e22", false, 1e22, "1e+22"},
        {"+inf", false, INFINITY, "inf"},   {"-nan", false, NAN, "nan"},     {"007", true, 7, "7"},
        {"123456789.125", false, 123456789.125, "123456789.125"},
        {"1e-400", false, 0.0, "0.0"}, /* underflow is a zero, as in Python */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], want[128];
        snprintf(text, sizeof text, "graph g(%%x: f64[2]) { %%y = mul(%%x, %s) return %%y }", cases[i].lit);
        nf_graph *g = parse_ok(text);
        const nf_value *y = g->outputs[0], *lit = y->args[1];
        assert_true(nf_value_is_scalar(lit));
        if (cases[i].is_int != (lit->dtype == NF_I64))
            fail_msg("%s parsed as %s", cases[i].lit, lit->dtype == NF_I64 ? "int" : "float");
        if (isnan(cases[i].value))
            assert_true(isnan(lit->attr.scalar));
        else if (memcmp(&lit->attr.scalar, &cases[i].value, sizeof(double)) != 0)
            fail_msg("%s parsed as %.17g", cases[i].lit, lit->attr.scalar);
        char *p = check_print_roundtrip(g, true);
        snprintf(want, sizeof want, "mul(%%x, %s)", cases[i].printed);
        if (!strstr(p, want))
            fail_msg("%s printed as:\n%s", cases[i].lit, p);
        free(p);
        nf_graph_free(g);
    }
}

/* ---- the printer on builder graphs ----------------------------------------------- */

static void printer_names_unnamed_values_freshly(void **state)
{
    (void)state;
    nf_graph *g = nf_graph_new("built.by-C");
    nf_dim dims[2] = {{0, "seq.len"}, {64, NULL}};
    nf_value *x = nf_param(g, "v1", NF_BF16, 2, dims);   /* would clash with a made-up name */
    nf_value *a = nf_unary(g, NF_OP_NEG, x);              /* id 1: "v1" is taken */
    nf_value *b = nf_binary(g, NF_OP_MUL, a, nf_scalar(g, 2.0));
    nf_value *c = nf_binary(g, NF_OP_ADD, b, nf_scalar_int(g, 3));
    nf_value *d = nf_binary(g, NF_OP_MAX, c, nf_scalar(g, -0.0));
    nf_value *e = nf_binary(g, NF_OP_MIN, d, nf_scalar(g, INFINITY));
    nf_value *f = nf_binary(g, NF_OP_ADD, e, nf_scalar(g, NAN));
    nf_value *h = nf_binary(g, NF_OP_ADD, f, nf_scalar(g, 1e-3));
    nf_name(g, b, "dup");
    nf_name(g, c, "dup"); /* the builder lets two values share a name */
    nf_value *i = nf_gelu(g, h, true);
    nf_value *j = nf_cast(g, i, NF_F32);
    nf_value *outs[] = {j, a};
    assert_int_equal(nf_graph_return(g, 2, outs), NF_OK);
    assert_null(nf_graph_error(g));
    char *p = check_print_roundtrip(g, false);
    const char *want[] = {"graph built_by_C(%v1: bf16[seq_len, 64]) {\n", "%v1_1 = neg(%v1) : bf16[seq_len, 64]\n",
                          "%dup = mul(%v1_1, 2.0)", "%dup_1 = add(%dup, 3)", "max(%dup_1, -0.0)", ", inf)",
                          ", nan)", ", 0.001)", "gelu(%", ", approximate=tanh)", "cast(%", "  return %v"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        if (!strstr(p, want[k]))
            fail_msg("printed text lacks \"%s\":\n%s", want[k], p);
    free(p);
    nf_graph_free(g);
    assert_null(nf_graph_print(NULL));
}

static void printing_ignores_the_locale(void **state)
{
    (void)state;
    const char *locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; i < 4 && !set; i++)
        set = setlocale(LC_NUMERIC, locales[i]);
    if (!set) {
        print_message("no locale with a decimal comma installed; checking the C locale only\n");
    }
    nf_graph *g = parse_ok("graph g(%x: f32[4]) { %y = mul(%x, 0.125) %z = add(%y, 1.5e-7) return %z }");
    char *p = check_print_roundtrip(g, true);
    assert_non_null(strstr(p, "mul(%x, 0.125)"));
    assert_non_null(strstr(p, "add(%y, 1.5e-07)"));
    free(p);
    nf_graph_free(g);
    setlocale(LC_NUMERIC, "C");
}

/* ---- randomized round trip ------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int pick(int n) { return (int)(rng() % (uint64_t)n); }

static void random_literal(char *buf, size_t n)
{
    switch (pick(8)) {
    case 0: snprintf(buf, n, "%d", pick(2001) - 1000); break;
    case 1: snprintf(buf, n, "%" PRId64, (int64_t)rng()); break;
    case 2: snprintf(buf, n, "%.3f", (double)pick(100000) / 7.0 - 5000); break;
    case 3: snprintf(buf, n, "%de%d", pick(100) - 50, pick(80) - 40); break;
    case 4: snprintf(buf, n, "%s", (const char *[]){"inf", "-inf", "nan", "-0.0", "0.0", "1e-3"}[pick(6)]); break;
    default: {
        /* any finite double, by its bits, printed exactly */
        double d;
        do {
            uint64_t bits = rng();
            memcpy(&d, &bits, sizeof d);
        } while (!isfinite(d));
        snprintf(buf, n, "%.17g", d);
        if (!strpbrk(buf, ".e"))
            strcat(buf, ".0");
    }
    }
}

/* One random statement defining %s<k> from earlier values; may be ill-typed
 * (the generator then drops it). */
static void random_statement(char *buf, size_t n, int k, int nvals)
{
    static const char *unary[] = {"neg", "abs", "exp", "log", "sqrt", "rsqrt", "sigmoid", "tanh", "relu", "silu", "gelu"};
    static const char *binary[] = {"add", "sub", "mul", "div", "max", "min", "pow"};
    static const char *dtypes[] = {"bf16", "f16", "f32", "f64", "i32", "i64", "bool", "f8e4m3"};
    char a[32], b[64];
    int ia = pick(nvals), ib = pick(nvals);
    snprintf(a, sizeof a, "%%s%d", ia);
    switch (pick(9)) {
    case 0: snprintf(buf, n, "%%s%d = %s(%s)", k, unary[pick(11)], a); break;
    case 1: snprintf(buf, n, "%%s%d = gelu(%s, approximate=%s)", k, a, pick(2) ? "tanh" : "none"); break;
    case 2:
        if (pick(3) == 0)
            random_literal(b, sizeof b);
        else
            snprintf(b, sizeof b, "%%s%d", ib);
        if (pick(2))
            snprintf(buf, n, "%%s%d = %s(%s, %s)", k, binary[pick(7)], a, b);
        else
            snprintf(buf, n, "%%s%d = %s(%s, %s)", k, binary[pick(7)], b, a);
        break;
    case 3: snprintf(buf, n, "%%s%d = cast(%s, %s)", k, a, dtypes[pick(8)]); break;
    case 4: snprintf(buf, n, "%%s%d = unsqueeze(%s, %d)", k, a, pick(7) - 3); break;
    case 5: snprintf(buf, n, "%%s%d = squeeze(%s, %d)", k, a, pick(6) - 3); break;
    case 6: snprintf(buf, n, "%%s%d = transpose(%s, %d, %d)", k, a, pick(6) - 3, pick(6) - 3); break;
    case 7:
        if (pick(2))
            snprintf(buf, n, "%%s%d = slice(%s, %d, %d, %d)", k, a, pick(4) - 2, pick(10) - 3, pick(20) - 3);
        else
            snprintf(buf, n, "%%s%d = slice(%s, %d, %d, %d, %d)", k, a, pick(4) - 2, pick(4), pick(20), 1 + pick(3));
        break;
    default:
        snprintf(buf, n, "%%s%d = %s(%s, %%s%d%s%s)", k, pick(2) ? "linear" : "matmul", a, ib,
                 pick(2) ? ", trans_b=true" : "", pick(3) == 0 ? ", out_dtype=f32" : "");
        break;
    }
}

static void random_graphs_round_trip(void **state)
{
    (void)state;
    const char *env = getenv("NF_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    if (seed == 0)
        seed = 1;
    print_message("random_graphs_round_trip seed=%" PRIu64 " (rerun with NF_SEED=%" PRIu64 ")\n", seed, seed);
    rng_state = seed;
    const char *params = "graph r(%s0: f32[T, 8], %s1: bf16[8, 8], %s2: f16[4, 8], %s3: i32[8], %s4: f64[], "
                         "%s5: bf16[T, 8], %s6: f32[1, 8, 1]) {\n";
    int kept_total = 0;
    for (int round = 0; round < 40; round++) {
        text_buf body = {0};
        tb_add(&body, "%s", params);
        int nvals = 7;
        for (int attempt = 0; attempt < 60; attempt++) {
            char stmt[256];
            random_statement(stmt, sizeof stmt, nvals, nvals);
            /* keep the statement when the graph with it is well-typed */
            text_buf t = {0};
            tb_add(&t, "%s", body.p);
            tb_add(&t, "  %s\n", stmt);
            tb_add(&t, "  return %%s%d\n}\n", nvals);
            nf_error err;
            nf_graph *g = nf_graph_parse(t.p, t.len, "r.nf", NULL, &err);
            if (g) {
                tb_add(&body, "  %s\n", stmt);
                nvals++;
                kept_total++;
                nf_graph_free(g);
            } else if (err.status == NF_ERR_PARSE && !strstr(err.message, "positional")) {
                fail_msg("seed %" PRIu64 ": generated statement does not parse: %s\n%s", seed, err.message, stmt);
            }
            free(t.p);
        }
        tb_add(&body, "  return %%s%d, %%s0\n}\n", nvals - 1);
        nf_graph *g = parse_ok_named(body.p, body.len, NULL);
        char *p = check_print_roundtrip(g, true);
        free(p);
        nf_graph_free(g);
        free(body.p);
    }
    print_message("kept %d random statements\n", kept_total);
    assert_true(kept_total > 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_ops_round_trip),
        cmocka_unit_test(literal_spellings_parse_as_written),
        cmocka_unit_test(printer_names_unnamed_values_freshly),
        cmocka_unit_test(printing_ignores_the_locale),
        cmocka_unit_test(random_graphs_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
