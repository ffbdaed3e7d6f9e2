/* Inputs declared constant (nf_compile_options.constant_inputs): the f32
 * weight's three bf16 terms made once on the host, the GEMM code that reads
 * them on sm_90 (and only there), and calls that match the interpreter
 * before and after the weight changes (on the GPU when there is one). */
#include "compiled_test_util.h"
#include "ir/numeric.h"
#include "runtime/runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* For every f32 weight from 2^-103 up (docs/GEMM.md's bound), the three
 * terms are bf16 values of the weight's sign that sum to it exactly, each
 * the weight's leading bits left after the terms before it; rows are read
 * at their stride and written densely, term after term. */
static void terms_sum_to_the_weight_exactly(void **state)
{
    (void)state;
    uint64_t seed = test_seed(77);
    enum { ROWS = 3, COLS = 1000, STRIDE = 1003 };
    static float w[ROWS * STRIDE];
    static uint16_t terms[3 * ROWS * COLS];
    for (int i = 0; i < ROWS * STRIDE; i++) {
        uint32_t u = (uint32_t)next_random(&seed);
        uint32_t exponent = 24 + (u >> 8) % 230; /* 2^-103 .. 2^127 */
        w[i] = nf_f32_from_bits((u & 0x807fffffu) | exponent << 23);
    }
    w[0] = 1.0f, w[1] = -0x1.fffffep127f, w[2] = 0x1.000002p-103f, w[3] = 0.0f, w[4] = -0.0f, w[5] = 0x1.fffffep-1f;
    nf_split_f32_terms(w, ROWS, COLS, STRIDE, terms);
    for (int r = 0; r < ROWS; r++)
        for (int k = 0; k < COLS; k++) {
            float x = w[r * STRIDE + k], rest = x;
            double sum = 0;
            for (int t = 0; t < 3; t++) {
                float term = nf_f32_from_bits((uint32_t)terms[(t * ROWS + r) * COLS + k] << 16);
                float want = t < 2 ? nf_f32_from_bits(nf_f32_bits(rest) & 0xffff0000u) : rest;
                if (nf_f32_bits(term) != nf_f32_bits(want) || (term != 0 && signbit(term) != signbit(x)))
                    fail_msg("w[%d][%d] = %a: term %d is %a, expected %a", r, k, (double)x, t, (double)term,
                             (double)want);
                sum += term;
                rest -= term;
            }
            if (sum != (double)x)
                fail_msg("w[%d][%d] = %a: the terms sum to %a", r, k, (double)x, sum);
        }
}

static const char *f32w_text = "graph g(%x: bf16[T, 7168], %w: f32[64, 7168], %q: f32[T, 64, 1]) {\n"
                               "  %xf = cast(%x, f32)\n"
                               "  %y = linear(%xf, %w)\n"
                               "  %u = unsqueeze(%y, -1)\n"
                               "  %o = mul(%u, %q)\n"
                               "  return %o\n"
                               "}\n";

static char *ptx_of(const char *text, const char *target, uint32_t constants, int64_t T)
{
    nf_error err;
    nf_graph *g = nf_graph_parse(text, strlen(text), "constants.nf", NULL, &err);
    if (!g)
        fail_msg("%s", err.message);
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    o.constant_inputs = constants;
    nf_kernel *k;
    assert_int_equal(nf_compile(g, &o, &k, &err), NF_OK);
    nf_bindings b = {.n = 1, .names = {"T"}, .sizes = {T}};
    char *ptx = NULL;
    if (nf_kernel_dump(k, "ptx", &b, &ptx, NULL, &err))
        fail_msg("%s T = %lld: %s", target, (long long)T, err.message);
    nf_kernel_free(k);
    nf_graph_free(g);
    return ptx;
}

/* ptxas, where the CUDA toolkit is installed (as in scripts/check-ptx.sh). */
static const char *find_ptxas(void)
{
    static const char *const places[] = {"/usr/local/cuda/bin/ptxas", "/usr/bin/ptxas"};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
        if (access(places[i], X_OK) == 0)
            return places[i];
    return NULL;
}

static void assemble(const char *ptxas, const char *ptx, const char *what)
{
    char path[] = "/tmp/nsafuse-constants-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(ptx, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s --gpu-name sm_90a -o /dev/null %s", ptxas, path);
    int rc = system(cmd);
    unlink(path);
    if (rc != 0)
        fail_msg("ptxas refused the PTX of %s (exit %d)", what, rc);
}

/* The declaration changes the tensor-core GEMM's code on sm_90 only: TMA
 * brings the three terms (three boxes where one f32 box was), and no block
 * splits (no proxy fence after a split). The GEMV, sm_80 and bf16 weights
 * keep their code byte for byte. */
static void declared_weights_change_sm90_gemms_only(void **state)
{
    (void)state;
    static const int64_t sizes[] = {128, 512, 2048, 8192};
    const char *ptxas = find_ptxas();
    if (!ptxas)
        printf("SKIP assembling: no ptxas here\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *made = ptx_of(f32w_text, "sm_90a", 2, sizes[i]), *split = ptx_of(f32w_text, "sm_90a", 0, sizes[i]);
        assert_non_null(strstr(made, ", W's terms made once"));
        assert_null(strstr(split, ", W's terms made once"));
        assert_null(strstr(made, "fence.proxy.async"));
        assert_non_null(strstr(made, "cp.async.bulk.tensor.2d"));
        char what[64];
        snprintf(what, sizeof what, "the head gate's GEMM at T = %lld", (long long)sizes[i]);
        if (ptxas)
            assemble(ptxas, made, what);
        free(made);
        free(split);
    }
    /* N past one column tile, not a multiple of it: the last block's term boxes overlap the next term */
    const char *wide_text = "graph g(%x: bf16[T, 2560], %w: f32[200, 2560]) {\n  %xf = cast(%x, f32)\n"
                            "  %y = linear(%xf, %w)\n  return %y\n}\n";
    for (int64_t T = 64; T <= 5000; T *= 9) {
        char *made = ptx_of(wide_text, "sm_90a", 2, T);
        assert_non_null(strstr(made, ", W's terms made once"));
        if (ptxas)
            assemble(ptxas, made, "an N = 200 GEMM with made terms");
        free(made);
    }
    /* the tiles: no 256-row ones on sm_90a (they halved the in-kernel split) */
    static const struct { int64_t T; const char *tiles; } plans[] = {
        {16384, "blocks 128 x 1 x 1 (split-K) of 128 x 64"},
        {8192, "blocks 64 x 1 x 2 (split-K) of 128 x 64"},
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        char *made = ptx_of(f32w_text, "sm_90a", 2, plans[i].T);
        if (!strstr(made, plans[i].tiles) || !strstr(made, ", wgmma"))
            fail_msg("T = %lld: expected %s on wgmma, got:\n%.300s", (long long)plans[i].T, plans[i].tiles,
                     strstr(made, "// nf_k0: gemm") ? strstr(made, "// nf_k0: gemm") : made);
        free(made);
    }
    static const struct { const char *target; int64_t T; } same[] = {{"sm_90a", 8}, {"sm_80", 2048}, {"sm_90a", 1}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char *a = ptx_of(f32w_text, same[i].target, 2, same[i].T), *b = ptx_of(f32w_text, same[i].target, 0, same[i].T);
        if (strcmp(a, b) != 0)
            fail_msg("%s at T = %lld: the declaration changed code that reads no terms", same[i].target,
                     (long long)same[i].T);
        free(a);
        free(b);
    }
    const char *bf16w = "graph g(%x: bf16[T, 7168], %w: bf16[64, 7168]) {\n  %y = linear(%x, %w)\n  return %y\n}\n";
    char *a = ptx_of(bf16w, "sm_90a", 2, 2048), *b = ptx_of(bf16w, "sm_90a", 0, 2048);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* Runs the f32-weight graph at T against the interpreter; w is the weight,
 * w_on_device its tensor on the device (the same on the host). */
static void run_and_check(nf_kernel *k, const nf_graph *g, nf_device_kind device, int64_t T, const host_tensor *w,
                          nf_tensor w_on_device, uint64_t seed)
{
    int64_t xs[2] = {T, 7168}, qs[3] = {T, 64, 1};
    host_tensor x, q, got, want;
    alloc_tensor(&x, NF_BF16, 2, xs);
    alloc_tensor(&q, NF_F32, 3, qs);
    alloc_tensor(&got, NF_F32, 3, qs);
    alloc_tensor(&want, NF_F32, 3, qs);
    nf_error err;
    nf_tensor_fill_random(&x.t, seed, NULL);
    nf_tensor_fill_random(&q.t, seed + 1, NULL);
    nf_tensor_fill_poison(&got.t, NULL);
    nf_tensor in[3] = {device_copy(&x, device), w_on_device, device_copy(&q, device)}, out = device_copy(&got, device);
    if (nf_kernel_run(k, in, 3, &out, 1, NULL, &err))
        fail_msg("T = %lld: %s", (long long)T, err.message);
    device_release(&in[0], NULL);
    device_release(&in[2], NULL);
    device_release(&out, &got);
    nf_tensor ref_in[3] = {x.t, w->t, q.t};
    assert_int_equal(nf_interpret(g, ref_in, 3, &want.t, 1, &err), NF_OK);
    double max_abs = 0;
    for (int64_t i = 0; i < T * 64; i++)
        max_abs = fmax(max_abs, fabs((double)((float *)want.mem)[i]));
    nf_compare_result r;
    assert_int_equal(nf_tensor_compare(&got.t, &want.t, nf_graph_tolerance(g, 0, max_abs), &r, &err), NF_OK);
    if (r.n_mismatch)
        fail_msg("T = %lld: %lld elements differ from the interpreter", (long long)T, (long long)r.n_mismatch);
    free(x.mem);
    free(q.mem);
    free(got.mem);
    free(want.mem);
}

/* One kernel with %w declared: runs at several T, then after the weight's
 * contents change in place (announced), then with another weight tensor. */
static void declared_weights_on(const char *target, nf_device_kind device, const int64_t *sizes, int n_sizes)
{
    uint64_t seed = test_seed(4242);
    nf_error err;
    nf_graph *g = nf_graph_parse(f32w_text, strlen(f32w_text), "constants.nf", NULL, &err);
    assert_non_null(g);
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    o.constant_inputs = 1u << 1;
    nf_kernel *k;
    assert_int_equal(nf_compile(g, &o, &k, &err), NF_OK);
    int64_t ws[2] = {64, 7168};
    host_tensor w;
    alloc_tensor(&w, NF_F32, 2, ws);
    nf_tensor shared = {0}, other = {0}; /* rounds 0 and 1 pass one tensor, round 2 another */
    for (int round = 0; round < 3; round++) {
        nf_tensor_fill_random(&w.t, seed + 100 + (uint64_t)round, NULL);
        if (round == 0)
            shared = device_copy(&w, device);
        if (round == 1 && device != NF_DEVICE_HOST) /* new contents at the same address */
            assert_int_equal(nf_device_copy(shared.data, device, w.mem, NF_DEVICE_HOST, 64 * 7168 * 4, &err), NF_OK);
        if (round == 1)
            nf_kernel_constants_changed(k);
        if (round == 2)
            other = device_copy(&w, device);
        for (int i = 0; i < n_sizes; i++)
            run_and_check(k, g, device, sizes[i], &w, round < 2 ? shared : other,
                          seed + 10 * (uint64_t)round + (uint64_t)i);
    }
    device_release(&shared, NULL);
    device_release(&other, NULL);
    free(w.mem);
    nf_kernel_free(k);
    nf_graph_free(g);
}

static void declared_weights_compute_as_undeclared(void **state)
{
    (void)state;
    static const int64_t host_sizes[] = {3}, gpu_sizes[] = {40, 300, 1000}; /* tensor cores from T = 33 */
    declared_weights_on("host", NF_DEVICE_HOST, host_sizes, 1);
    nf_kernel_constants_changed(NULL);
    if (find_cuda("declared f32 weights: terms made once, changed in place, replaced"))
        declared_weights_on("cuda", NF_DEVICE_CUDA, gpu_sizes, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(terms_sum_to_the_weight_exactly),
        cmocka_unit_test(declared_weights_change_sm90_gemms_only),
        cmocka_unit_test(declared_weights_compute_as_undeclared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
