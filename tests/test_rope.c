/* The rope op (docs/ROPE.md): its text form and type rules, the
 * interpreter against an independent f32 computation and known rotations,
 * positions (negative ones count from the end; outside the cache is an
 * error in the interpreter, clamped in kernels), and compiled kernels
 * against the interpreter bit for bit over dtypes, styles, ranks and fused
 * chains: on the host, and on a CUDA GPU when one answers. */
#include "nsafuse.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compiled_test_util.h"

static const char *gpu_target;
static uint64_t seed = 0x20be;

static nf_graph *parse(const char *text, nf_error *err) { return nf_graph_parse(text, strlen(text), "t.nf", NULL, err); }

static void prints_and_parses_back(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = parse("graph r(%x: bf16[T, 4, 8], %c: f32[P, 8], %p: i64[T]) {\n"
                        "  %a = rope(%x, %c, %p)\n"
                        "  %b = rope(%a, %c, %p, style=interleaved)\n"
                        "  return %b\n}\n",
                        &err);
    if (!g)
        fail_msg("%s", err.message);
    char *text = nf_graph_print(g);
    assert_non_null(text);
    assert_non_null(strstr(text, "%a = rope(%x, %c, %p, style=neox) : bf16[T, 4, 8]"));
    assert_non_null(strstr(text, "style=interleaved) : bf16[T, 4, 8]"));
    nf_graph *back = parse(text, &err);
    if (!back)
        fail_msg("%s\n%s", err.message, text);
    char *again = nf_graph_print(back);
    assert_string_equal(text, again);
    free(text);
    free(again);
    nf_graph_free(back);
    nf_graph_free(g);
}

static void type_errors_say_what_is_wrong(void **state)
{
    (void)state;
    static const struct {
        const char *params, *call, *message;
    } cases[] = {
        {"%x: bf16[T, 7], %c: f32[9, 7], %p: i64[T]", "rope(%x, %c, %p)", "fixed even size"},
        {"%x: bf16[T, R], %c: f32[9, R], %p: i64[T]", "rope(%x, %c, %p)", "fixed even size"},
        {"%x: bf16[T, 8], %c: f32[9, 6], %p: i64[T]", "rope(%x, %c, %p)", "cos_sin_cache rows hold 6"},
        {"%x: bf16[T, 8], %c: f32[9, 8], %p: f32[T]", "rope(%x, %c, %p)", "positions must be i32 or i64"},
        {"%x: bf16[T, 8], %c: f32[9, 8], %p: i64[S]", "rope(%x, %c, %p)", "leading dimensions"},
        {"%x: i32[T, 8], %c: f32[9, 8], %p: i64[T]", "rope(%x, %c, %p)", "x must be bf16"},
        {"%x: bf16[T, 8], %c: i64[9, 8], %p: i64[T]", "rope(%x, %c, %p)", "float tensor"},
        {"%x: bf16[T, 8], %c: f32[9, 8], %p: i64[T]", "rope(%x, %c, %p, style=gptj)", "neox or interleaved"},
        {"%x: bf16[T, 8], %c: f32[9, 8], %p: i64[T]", "rope(%x, %c)", "takes 3"},
        {"%x: bf16[T, 8], %c: f32[9, 8], %p: i64[T]", "rope(%x, %c, 3)", "must be a value"},
        {"%x: bf16[8], %c: f32[9, 8], %p: i64[8]", "rope(%x, %c, %p)", "x ranks more than positions"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "graph e(%s) {\n  %%y = %s\n  return %%y\n}\n", cases[i].params, cases[i].call);
        nf_error err;
        nf_graph *g = parse(text, &err);
        if (g)
            fail_msg("case %zu parsed: %s", i, text);
        if (!strstr(err.message, cases[i].message))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.message, cases[i].message);
        assert_int_equal(err.line, 2);
    }
}

/* f32 x and cache: the rotation done here in plain float arithmetic. */
static void interpreter_matches_plain_f32(void **state)
{
    (void)state;
    enum { N = 5, R = 8, P = 11 };
    for (int interleaved = 0; interleaved < 2; interleaved++) {
        nf_graph *g = nf_graph_new("r");
        nf_value *x = nf_param(g, "x", NF_F32, 2, (nf_dim[]){{N, NULL}, {R, NULL}});
        nf_value *c = nf_param(g, "c", NF_F32, 2, (nf_dim[]){{P, NULL}, {R, NULL}});
        nf_value *p = nf_param(g, "p", NF_I64, 1, (nf_dim[]){{N, NULL}});
        nf_value *y = nf_rope(g, x, c, p, interleaved);
        assert_int_equal(nf_graph_return(g, 1, &y), NF_OK);
        float xs[N * R], cs[P * R], out[N * R];
        int64_t ps[N] = {0, 3, -1, 10, -11}; /* -1 is row 10, -11 row 0 */
        nf_tensor ins[3], o;
        nf_tensor_init(&ins[0], xs, NF_F32, 2, (int64_t[]){N, R});
        nf_tensor_init(&ins[1], cs, NF_F32, 2, (int64_t[]){P, R});
        nf_tensor_init(&ins[2], ps, NF_I64, 1, (int64_t[]){N});
        nf_tensor_init(&o, out, NF_F32, 2, (int64_t[]){N, R});
        nf_error err;
        assert_int_equal(nf_tensor_fill_random(&ins[0], seed, &err), NF_OK);
        assert_int_equal(nf_tensor_fill_random(&ins[1], seed + 1, &err), NF_OK);
        assert_int_equal(nf_interpret(g, ins, 3, &o, 1, &err), NF_OK);
        for (int t = 0; t < N; t++) {
            int64_t row = ps[t] < 0 ? ps[t] + P : ps[t];
            for (int i = 0; i < R; i++) {
                int j = interleaved ? i / 2 : i % (R / 2);
                bool second = interleaved ? i % 2 : i >= R / 2;
                int partner = interleaved ? i ^ 1 : second ? i - R / 2 : i + R / 2;
                float cv = cs[row * R + j], sv = cs[row * R + R / 2 + j];
                float a = xs[t * R + i] * cv, b = xs[t * R + partner] * sv;
                float want = second ? a + b : a - b;
                if (memcmp(&want, &out[t * R + i], sizeof want) != 0)
                    fail_msg("seed %" PRIu64 " %s [%d, %d]: got %a, want %a", seed, interleaved ? "interleaved" : "neox",
                             t, i, out[t * R + i], want);
            }
        }
        nf_graph_free(g);
    }
}

/* cos 0, sin 1 turns (x1, x2) into (-x2, x1): a quarter turn of each pair. */
static void quarter_turn(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = parse("graph q(%x: bf16[1, 4], %c: f32[1, 4], %p: i32[1]) {\n"
                        "  %y = rope(%x, %c, %p)\n  %z = rope(%x, %c, %p, style=interleaved)\n  return %y, %z\n}\n",
                        &err);
    assert_non_null(g);
    float cache[4] = {0, 0, 1, 1};
    int32_t pos[1] = {0};
    double xv[4] = {1.5, -2.25, 3.0, 0.125};
    uint16_t xb[4], yb[4], zb[4];
    nf_tensor ins[3], outs[2];
    nf_tensor_init(&ins[0], xb, NF_BF16, 2, (int64_t[]){1, 4});
    for (int i = 0; i < 4; i++) { /* these are exact in bf16 */
        float f = (float)xv[i];
        uint32_t u;
        memcpy(&u, &f, 4);
        xb[i] = (uint16_t)(u >> 16);
    }
    nf_tensor_init(&ins[1], cache, NF_F32, 2, (int64_t[]){1, 4});
    nf_tensor_init(&ins[2], pos, NF_I32, 1, (int64_t[]){1});
    nf_tensor_init(&outs[0], yb, NF_BF16, 2, (int64_t[]){1, 4});
    nf_tensor_init(&outs[1], zb, NF_BF16, 2, (int64_t[]){1, 4});
    assert_int_equal(nf_interpret(g, ins, 3, outs, 2, &err), NF_OK);
    double y[4], z[4];
    nf_tensor_to_f64(&outs[0], y, &err);
    nf_tensor_to_f64(&outs[1], z, &err);
    double want_y[4] = {-3.0, -0.125, 1.5, -2.25}, want_z[4] = {2.25, 1.5, -0.125, 3.0};
    for (int i = 0; i < 4; i++) {
        if (y[i] != want_y[i] || z[i] != want_z[i])
            fail_msg("element %d: neox %g (want %g), interleaved %g (want %g)", i, y[i], want_y[i], z[i], want_z[i]);
    }
    nf_graph_free(g);
}

static void position_outside_the_cache_is_an_error(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = parse("graph q(%x: f32[2, 4], %c: f32[3, 4], %p: i64[2]) {\n  %y = rope(%x, %c, %p)\n  return %y\n}\n",
                        &err);
    assert_non_null(g);
    float x[8] = {0}, c[12] = {0}, y[8];
    int64_t p[2] = {1, 3};
    nf_tensor ins[3], o;
    nf_tensor_init(&ins[0], x, NF_F32, 2, (int64_t[]){2, 4});
    nf_tensor_init(&ins[1], c, NF_F32, 2, (int64_t[]){3, 4});
    nf_tensor_init(&ins[2], p, NF_I64, 1, (int64_t[]){2});
    nf_tensor_init(&o, y, NF_F32, 2, (int64_t[]){2, 4});
    assert_int_equal(nf_interpret(g, ins, 3, &o, 1, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "position 3 is outside cos_sin_cache's 3 rows"));
    p[1] = -4;
    assert_int_equal(nf_interpret(g, ins, 3, &o, 1, &err), NF_ERR_ARG);
    nf_graph_free(g);
}

/* ---- compiled against the interpreter ---------------------------------------- */


static size_t tensor_bytes(const nf_tensor *t) { return (size_t)nf_tensor_numel(t) * nf_dtype_size(t->dtype); }

static void run_target(nf_graph *g, const char *target, const nf_compile_options *base, host_tensor *in, int np,
                       host_tensor *out, int no)
{
    nf_compile_options o = *base;
    o.target = target;
    nf_kernel *k = NULL;
    nf_error err;
    if (nf_compile(g, &o, &k, &err))
        fail_msg("compile for %s: %s", target, err.message);
    nf_tensor din[8], dout[8];
    bool gpu = strcmp(target, "host") != 0;
    for (int i = 0; i < np + no; i++) {
        nf_tensor *d = i < np ? &din[i] : &dout[i - np];
        const nf_tensor *h = i < np ? &in[i].t : &out[i - np].t;
        *d = *h;
        if (gpu) {
            d->device = NF_DEVICE_CUDA;
            assert_int_equal(nf_device_alloc(NF_DEVICE_CUDA, tensor_bytes(h) + 1, &d->data, &err), NF_OK);
            assert_int_equal(nf_device_copy(d->data, NF_DEVICE_CUDA, h->data, NF_DEVICE_HOST, tensor_bytes(h), &err),
                             NF_OK);
        }
    }
    if (nf_kernel_run(k, din, np, dout, no, NULL, &err))
        fail_msg("run on %s: %s", target, err.message);
    for (int i = 0; gpu && i < np + no; i++) {
        nf_tensor *d = i < np ? &din[i] : &dout[i - np];
        if (i >= np)
            assert_int_equal(nf_device_copy(out[i - np].t.data, NF_DEVICE_HOST, d->data, NF_DEVICE_CUDA,
                                            tensor_bytes(d), &err),
                             NF_OK);
        nf_device_free(NF_DEVICE_CUDA, d->data);
    }
    nf_kernel_free(k);
}

static double max_abs(const nf_tensor *t)
{
    int64_t n = nf_tensor_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v), m = 0;
    assert_non_null(v);
    nf_tensor_to_f64(t, v, NULL);
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i]) && fabs(v[i]) > m)
            m = fabs(v[i]);
    free(v);
    return m;
}

/* Compiled (fused, unfused, keep_fp32; host and GPU) == interpreter: bit for
 * bit where nf_graph_tolerance says so (rope alone, casts, + - *). */
static void check_compiled(const char *text, const int64_t *sizes, int n_syms, const char *what)
{
    nf_error err;
    nf_graph *g = parse(text, &err);
    if (!g)
        fail_msg("%s: %s", what, err.message);
    nf_bindings b = {.n = n_syms};
    for (int i = 0; i < n_syms; i++) {
        b.names[i] = nf_graph_symbol(g, i);
        b.sizes[i] = sizes[i];
    }
    int np = nf_graph_num_params(g), no = nf_graph_num_outputs(g);
    host_tensor in[8], want[8], got[8];
    for (int i = 0; i < np; i++) {
        int rank;
        int64_t shape[NF_MAX_DIMS];
        assert_int_equal(nf_param_shape(g, i, &b, &rank, shape, &err), NF_OK);
        alloc_tensor(&in[i], nf_value_dtype(nf_graph_param(g, i)), rank, shape);
        assert_int_equal(nf_tensor_fill_random(&in[i].t, seed + (uint64_t)i, &err), NF_OK);
    }
    for (int i = 0; i < no; i++) {
        int rank;
        int64_t shape[NF_MAX_DIMS];
        assert_int_equal(nf_output_shape(g, i, &b, &rank, shape, &err), NF_OK);
        alloc_tensor(&want[i], nf_value_dtype(nf_graph_output(g, i)), rank, shape);
        alloc_tensor(&got[i], nf_value_dtype(nf_graph_output(g, i)), rank, shape);
    }
    nf_tensor ins[8], outs[8];
    for (int i = 0; i < np; i++)
        ins[i] = in[i].t;
    for (int i = 0; i < no; i++)
        outs[i] = want[i].t;
    if (nf_interpret(g, ins, np, outs, no, &err))
        fail_msg("%s: interpreter: %s", what, err.message);
    const char *targets[2] = {"host", gpu_target};
    for (int t = 0; t < 2 && targets[t]; t++) {
        for (int mode = 0; mode < 3; mode++) {
            nf_compile_options o;
            nf_compile_options_init(&o);
            o.unfused = mode == 1;
            o.keep_fp32 = mode == 2;
            for (int i = 0; i < no; i++)
                assert_int_equal(nf_tensor_fill_poison(&got[i].t, &err), NF_OK);
            run_target(g, targets[t], &o, in, np, got, no);
            for (int i = 0; i < no; i++) {
                nf_compare_result r;
                double m = max_abs(&want[i].t);
                nf_tolerance tol = nf_graph_tolerance(g, i, m); /* zero for rope alone */
                if (mode == 2) /* keep_fp32 skips the rounding of the chain's intermediates */
                    tol = (nf_tolerance){0.02 * (m > 1 ? m : 1), 0.02};
                assert_int_equal(nf_tensor_compare(&got[i].t, &want[i].t, tol, &r, &err), NF_OK);
                if (r.n_mismatch)
                    fail_msg("%s on %s (%s), seed %" PRIu64 ": output %d, %" PRId64 " mismatches, first at %" PRId64
                             ": got %g, want %g",
                             what, targets[t], mode == 0 ? "fused" : mode == 1 ? "unfused" : "keep_fp32", seed, i,
                             r.n_mismatch, r.first_mismatch, r.first_got, r.first_want);
            }
        }
    }
    for (int i = 0; i < np; i++)
        free(in[i].mem);
    for (int i = 0; i < no; i++) {
        free(want[i].mem);
        free(got[i].mem);
    }
    nf_graph_free(g);
}

static void compiled_matches_interpreter(void **state)
{
    (void)state;
    static const char *graphs[] = {
        /* DeepSeek-V3.2 indexer shapes, query and key */
        "graph ds(%query: bf16[T, 64, 128], %key: bf16[T, 128], %cache: f32[64, 64], %pos: i64[T]) {\n"
        "  %q = slice(%query, -1, 0, 64)\n  %k = slice(%key, -1, 0, 64)\n"
        "  %qr = rope(%q, %cache, %pos, style=neox)\n  %kr = rope(%k, %cache, %pos, style=neox)\n"
        "  return %qr, %kr\n}\n",
        /* every float dtype of x with other caches and i32 positions */
        "graph dt(%a: f16[T, 3, 6], %b: f32[T, 6], %c: f64[T, 2, 6], %cb: bf16[9, 6], %cd: f64[9, 6], %p: i32[T]) {\n"
        "  %ra = rope(%a, %cb, %p, style=interleaved)\n  %rb = rope(%b, %cd, %p)\n  %rc = rope(%c, %cb, %p)\n"
        "  return %ra, %rb, %rc\n}\n",
        /* fused into a chain, rank 4 with 2-d positions, through a transpose */
        "graph chain(%x: bf16[2, T, 4, 8], %cache: f32[12, 8], %p: i64[2, T], %s: bf16[8]) {\n"
        "  %y = mul(%x, %s)\n  %r = rope(%y, %cache, %p, style=interleaved)\n  %z = silu(%r)\n"
        "  %t = transpose(%z, 2, 3)\n  return %t\n}\n",
    };
    int64_t sizes[] = {1, 7, 33};
    for (size_t i = 0; i < sizeof graphs / sizeof graphs[0]; i++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            char what[64];
            snprintf(what, sizeof what, "graph %zu, T=%" PRId64, i, sizes[s]);
            check_compiled(graphs[i], &sizes[s], 1, what);
        }
}

/* A rope is one elementwise kernel with its chain; a GEMM does not take a
 * rope that reads its result as its epilogue (it needs a partner element). */
static void fusion_plans(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = parse("graph f(%x: bf16[T, 64], %w: bf16[64, 64], %c: f32[16, 64], %p: i64[T]) {\n"
                        "  %y = linear(%x, %w)\n  %r = rope(%y, %c, %p)\n  %o = mul(%r, 2.0)\n  return %o\n}\n",
                        &err);
    assert_non_null(g);
    nf_kernel *k;
    assert_int_equal(nf_compile(g, NULL, &k, &err), NF_OK);
    char *plan = NULL;
    assert_int_equal(nf_kernel_dump(k, "fused", NULL, &plan, NULL, &err), NF_OK);
    assert_non_null(strstr(plan, "2 kernels"));
    assert_non_null(strstr(plan, "%r = rope (rounded to bf16), %o = mul"));
    free(plan);
    nf_kernel_free(k);
    nf_graph_free(g);
    int64_t t = 5;
    check_compiled("graph f(%x: bf16[T, 64], %w: bf16[64, 64], %c: f32[16, 64], %p: i64[T]) {\n"
                   "  %y = linear(%x, %w)\n  %r = rope(%y, %c, %p)\n  %o = mul(%r, 2.0)\n  return %o\n}\n",
                   &t, 1, "linear then rope");
}

/* Kernels clamp a position outside the cache to its first or last row. */
static void kernels_clamp_positions(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = parse("graph q(%x: f32[3, 4], %c: f32[2, 4], %p: i64[3]) {\n  %y = rope(%x, %c, %p)\n  return %y\n}\n",
                        &err);
    assert_non_null(g);
    float x[12], c[8], y[12], want[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i + 0.5f;
    for (int i = 0; i < 8; i++)
        c[i] = (float)(i + 1) * 0.25f;
    int64_t p[3] = {7, -9, 1}, clamped[3] = {1, 0, 1};
    nf_tensor ins[3], o, w;
    nf_tensor_init(&ins[0], x, NF_F32, 2, (int64_t[]){3, 4});
    nf_tensor_init(&ins[1], c, NF_F32, 2, (int64_t[]){2, 4});
    nf_tensor_init(&ins[2], clamped, NF_I64, 1, (int64_t[]){3});
    nf_tensor_init(&w, want, NF_F32, 2, (int64_t[]){3, 4});
    assert_int_equal(nf_interpret(g, ins, 3, &w, 1, &err), NF_OK);
    ins[2].data = p;
    nf_tensor_init(&o, y, NF_F32, 2, (int64_t[]){3, 4});
    nf_kernel *k;
    assert_int_equal(nf_compile(g, NULL, &k, &err), NF_OK);
    assert_int_equal(nf_kernel_run(k, ins, 3, &o, 1, NULL, &err), NF_OK);
    assert_memory_equal(y, want, sizeof y);
    nf_kernel_free(k);
    nf_graph_free(g);
}

static int setup(void **state)
{
    (void)state;
    seed = test_seed(seed);
    gpu_target = find_cuda("compiled checks run on the GPU too");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_and_parses_back),
        cmocka_unit_test(type_errors_say_what_is_wrong),
        cmocka_unit_test(interpreter_matches_plain_f32),
        cmocka_unit_test(quarter_turn),
        cmocka_unit_test(position_outside_the_cache_is_an_error),
        cmocka_unit_test(compiled_matches_interpreter),
        cmocka_unit_test(fusion_plans),
        cmocka_unit_test(kernels_clamp_positions),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
