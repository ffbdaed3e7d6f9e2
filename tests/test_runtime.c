/* The compile-and-run API: DLPack tensors in, one compiled kernel used from
 * several threads at once with changing shapes (the signature cache), and
 * sizes prepared ahead of their calls. */
#include "nsafuse.h"
#include "compiled_test_util.h"

#include <dlpack/dlpack.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void dlpack_tensors_map_to_nf_tensors(void **state)
{
    (void)state;
    float data[12];
    int64_t shape[2] = {3, 2}, strides[2] = {1, 4};
    DLTensor t = {.data = data, .device = {kDLCPU, 0}, .ndim = 2, .dtype = {kDLFloat, 32, 1},
                  .shape = shape, .strides = strides, .byte_offset = 8};
    nf_tensor out;
    nf_error err;
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_OK);
    assert_ptr_equal(out.data, (char *)data + 8);
    assert_int_equal(out.dtype, NF_F32);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.shape[0], 3);
    assert_int_equal(out.strides[1], 4);
    assert_int_equal(out.device, NF_DEVICE_HOST);

    t.strides = NULL; /* compact row-major */
    t.dtype = (DLDataType){kDLBfloat, 16, 1};
    t.byte_offset = 0;
    t.device = (DLDevice){kDLCUDA, 1};
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_OK);
    assert_int_equal(out.dtype, NF_BF16);
    assert_int_equal(out.strides[0], 2);
    assert_int_equal(out.strides[1], 1);
    assert_int_equal(out.device, NF_DEVICE_CUDA);
    assert_int_equal(out.device_id, 1);

    t.dtype = (DLDataType){kDLComplex, 64, 1};
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "dtype"));
    t.dtype = (DLDataType){kDLFloat, 32, 4};
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_ERR_UNSUPPORTED);
    t.dtype = (DLDataType){kDLFloat, 32, 1};
    t.byte_offset = 2;
    assert_int_equal(nf_tensor_from_dlpack(&t, &out, &err), NF_ERR_ARG);
    assert_int_equal(nf_tensor_from_dlpack(NULL, &out, &err), NF_ERR_ARG);
}

static const char *graph_text = "graph g(%x: bf16[T, 33], %s: f32[33]) {\n"
                                "  %a = mul(%x, %s)\n"
                                "  %e = exp(%a)\n"
                                "  %o = cast(%e, bf16)\n"
                                "  return %o\n"
                                "}\n";

typedef struct worker {
    nf_kernel *k;
    const nf_graph *g;
    int id;
    int failures;
    char why[1200];
} worker;

/* Runs the shared kernel on shapes that change every call and checks each
 * result against the interpreter bit for bit (exp rounds to bf16 here; the
 * math library is within 1 f32 ulp, and both paths round the same f32
 * result only if it is the same: use the graph's own tolerance). */
static void *work(void *arg)
{
    worker *w = arg;
    static const int64_t sizes[] = {1, 7, 33, 100, 250};
    for (int it = 0; it < 40 && !w->failures; it++) {
        int64_t T = sizes[(it + w->id) % 5];
        int64_t xs[2] = {T, 33}, ss[1] = {33};
        uint16_t *x = malloc((size_t)(T * 33) * 2), *got = malloc((size_t)(T * 33) * 2), *want = malloc((size_t)(T * 33) * 2);
        float s[33];
        nf_tensor in[2], out, ref;
        nf_tensor_init(&in[0], x, NF_BF16, 2, xs);
        nf_tensor_init(&in[1], s, NF_F32, 1, ss);
        nf_tensor_init(&out, got, NF_BF16, 2, xs);
        nf_tensor_init(&ref, want, NF_BF16, 2, xs);
        nf_error err;
        nf_tensor_fill_random(&in[0], (uint64_t)(w->id * 1000 + it), NULL);
        nf_tensor_fill_random(&in[1], (uint64_t)(w->id * 1000 + it + 1), NULL);
        nf_tensor_fill_poison(&out, NULL);
        nf_status st = nf_kernel_run(w->k, in, 2, &out, 1, NULL, &err);
        if (!st)
            st = nf_interpret(w->g, in, 2, &ref, 1, &err);
        nf_compare_result r;
        if (!st)
            st = nf_tensor_compare(&out, &ref, nf_graph_tolerance(w->g, 0, 3.0), &r, &err);
        if (st || r.n_mismatch) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "thread %d, T = %lld: %s", w->id, (long long)T,
                     st ? err.message : "results differ from the interpreter");
        }
        free(x);
        free(got);
        free(want);
    }
    return NULL;
}

static void one_kernel_serves_many_threads_and_shapes(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = nf_graph_parse(graph_text, strlen(graph_text), "threads.nf", NULL, &err);
    assert_non_null(g);
    nf_kernel *k;
    assert_int_equal(nf_compile(g, NULL, &k, &err), NF_OK);
    enum { THREADS = 6 };
    pthread_t tids[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.k = k, .g = g, .id = i};
        assert_int_equal(pthread_create(&tids[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures)
            fail_msg("%s", w[i].why);
    nf_kernel_stats st;
    nf_kernel_get_stats(k, &st);
    assert_int_equal(st.compiled_signatures, 5); /* one per shape, however many threads asked */
    nf_kernel_free(k);
    nf_graph_free(g);
}

/* Runs k once at size T on device (host or cuda) with fresh random inputs
 * and poisoned output, against the interpreter within the graph's tolerance. */
static void run_and_check(nf_kernel *k, const nf_graph *g, nf_device_kind device, int64_t T, uint64_t seed)
{
    int64_t xs[2] = {T, 33}, ss[1] = {33};
    host_tensor x, s, got, want;
    alloc_tensor(&x, NF_BF16, 2, xs);
    alloc_tensor(&s, NF_F32, 1, ss);
    alloc_tensor(&got, NF_BF16, 2, xs);
    alloc_tensor(&want, NF_BF16, 2, xs);
    nf_error err;
    nf_tensor_fill_random(&x.t, seed, NULL);
    nf_tensor_fill_random(&s.t, seed + 1, NULL);
    nf_tensor_fill_poison(&got.t, NULL);
    nf_tensor in[2] = {device_copy(&x, device), device_copy(&s, device)}, out = device_copy(&got, device);
    if (nf_kernel_run(k, in, 2, &out, 1, NULL, &err))
        fail_msg("T = %lld: %s", (long long)T, err.message);
    device_release(&in[0], NULL);
    device_release(&in[1], NULL);
    device_release(&out, &got);
    nf_tensor ref_in[2] = {x.t, s.t};
    assert_int_equal(nf_interpret(g, ref_in, 2, &want.t, 1, &err), NF_OK);
    nf_compare_result r;
    assert_int_equal(nf_tensor_compare(&got.t, &want.t, nf_graph_tolerance(g, 0, 3.0), &r, &err), NF_OK);
    if (r.n_mismatch)
        fail_msg("T = %lld: %lld elements differ from the interpreter", (long long)T, (long long)r.n_mismatch);
    free(x.mem);
    free(s.mem);
    free(got.mem);
    free(want.mem);
}

/* Sizes prepared on several threads are compiled once each, and their calls
 * (contiguous, aligned tensors) compile nothing more and compute right. */
static void prepare_on(const char *target, nf_device_kind device)
{
    uint64_t seed = test_seed(20261208);
    nf_error err;
    nf_graph *g = nf_graph_parse(graph_text, strlen(graph_text), "prepare.nf", NULL, &err);
    assert_non_null(g);
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    nf_kernel *k;
    assert_int_equal(nf_compile(g, &o, &k, &err), NF_OK);
    static const int64_t sizes[] = {1, 7, 33, 100, 250};
    enum { N = sizeof sizes / sizeof sizes[0] };
    nf_bindings b[N];
    for (int i = 0; i < N; i++)
        b[i] = (nf_bindings){.n = 1, .names = {"T"}, .sizes = {sizes[i]}};
    assert_int_equal(nf_kernel_prepare(k, b, N, 3, &err), NF_OK);
    nf_kernel_stats st;
    nf_kernel_get_stats(k, &st);
    assert_int_equal(st.compiled_signatures, N);
    assert_int_equal(nf_kernel_prepare(k, b, N, 0, &err), NF_OK); /* all there already */
    for (int i = 0; i < N; i++)
        run_and_check(k, g, device, sizes[i], seed + (uint64_t)i * 2);
    nf_kernel_get_stats(k, &st);
    assert_int_equal(st.compiled_signatures, N);
    nf_kernel_free(k);
    nf_graph_free(g);
}

static void prepared_sizes_run_without_compiling(void **state)
{
    (void)state;
    prepare_on("host", NF_DEVICE_HOST);
    if (find_cuda("prepared sizes run on the GPU without compiling"))
        prepare_on("cuda", NF_DEVICE_CUDA);
}

/* Bad arguments and bad sizes are errors that name what is wrong; the good
 * sizes of the list still compile. */
static void prepare_reports_the_first_bad_size(void **state)
{
    (void)state;
    nf_error err;
    nf_graph *g = nf_graph_parse(graph_text, strlen(graph_text), "prepare.nf", NULL, &err);
    assert_non_null(g);
    nf_kernel *k;
    assert_int_equal(nf_compile(g, NULL, &k, &err), NF_OK);
    nf_bindings b[4] = {
        {.n = 1, .names = {"T"}, .sizes = {4}},
        {.n = 1, .names = {"S"}, .sizes = {3}},
        {.n = 1, .names = {"T"}, .sizes = {-2}},
        {.n = 1, .names = {"T"}, .sizes = {9}},
    };
    assert_int_equal(nf_kernel_prepare(k, b, 4, 2, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "preparing S=3: "));
    nf_kernel_stats st;
    nf_kernel_get_stats(k, &st);
    assert_int_equal(st.compiled_signatures, 2);

    assert_int_equal(nf_kernel_prepare(NULL, b, 1, 0, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "kernel is NULL"));
    assert_int_equal(nf_kernel_prepare(k, NULL, 1, 0, &err), NF_ERR_ARG);
    assert_int_equal(nf_kernel_prepare(k, b, -1, 0, &err), NF_ERR_ARG);
    assert_int_equal(nf_kernel_prepare(k, b, 1, -3, &err), NF_ERR_ARG);
    assert_non_null(strstr(err.message, "threads"));
    assert_int_equal(nf_kernel_prepare(k, NULL, 0, 0, &err), NF_OK);
    nf_kernel_free(k);
    nf_graph_free(g);
}

/* The device each target's kernels run on, and no device for a non-target. */
static void targets_name_their_device(void **state)
{
    (void)state;
    static const struct { const char *target; nf_device_kind device; } known[] = {
        {"host", NF_DEVICE_HOST}, {"cuda", NF_DEVICE_CUDA}, {"sm_80", NF_DEVICE_CUDA}, {"sm_90", NF_DEVICE_CUDA},
        {"hip", NF_DEVICE_HIP},   {"gfx90a", NF_DEVICE_HIP}, {"gfx942", NF_DEVICE_HIP}, {"gfx950", NF_DEVICE_HIP},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        nf_device_kind d = (nf_device_kind)-1;
        assert_true(nf_target_device(known[i].target, &d));
        assert_int_equal(d, known[i].device);
    }
    nf_device_kind d = NF_DEVICE_HOST;
    assert_false(nf_target_device("x86", &d));
    assert_false(nf_target_device("", &d));
    assert_false(nf_target_device(NULL, &d));
    assert_false(nf_target_device("host", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dlpack_tensors_map_to_nf_tensors),
        cmocka_unit_test(one_kernel_serves_many_threads_and_shapes),
        cmocka_unit_test(prepared_sizes_run_without_compiling),
        cmocka_unit_test(prepare_reports_the_first_bad_size),
        cmocka_unit_test(targets_name_their_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
